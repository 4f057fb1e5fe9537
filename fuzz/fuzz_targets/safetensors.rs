#![no_main]
// See fusionrec::fuzzing::safetensors.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrec::fuzzing::safetensors(data));
