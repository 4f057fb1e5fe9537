#![no_main]
// See fusionrec::fuzzing::minilm_weights.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrec::fuzzing::minilm_weights(data));
