#![no_main]
// See fusionrec::fuzzing::atomic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrec::fuzzing::atomic(data));
