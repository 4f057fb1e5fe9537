#![no_main]
// See fusionrec::fuzzing::csv.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrec::fuzzing::csv(data));
