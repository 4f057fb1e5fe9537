#![no_main]
// See fusionrec::fuzzing::audio.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrec::fuzzing::audio(data));
