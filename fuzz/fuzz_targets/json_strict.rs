//! The strict JSON parser (duplicate members, depth bound).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = credkit::json::parse(data, 32, "fuzz");
});
