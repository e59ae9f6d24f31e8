#![no_main]
// Invariants: task_api_fuzz::jwks (fuzz/src/lib.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| task_api_fuzz::jwks(data));
