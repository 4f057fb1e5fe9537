#![no_main]
// See fusionrec::fuzzing::bundle.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrec::fuzzing::bundle(data));
