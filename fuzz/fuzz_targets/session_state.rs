#![no_main]
// See fusionrec::fuzzing::session_state.
libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrec::fuzzing::session_state(data));
