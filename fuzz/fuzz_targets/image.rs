#![no_main]
// See fusionrec::fuzzing::image.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrec::fuzzing::image(data));
