#![no_main]
// See fusionrec::fuzzing::pth.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrec::fuzzing::pth(data));
