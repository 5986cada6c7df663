//! SD-JWT parsing, compact and JSON serializations: never a panic.
#![no_main]
use credkit::sd_jwt::{Limits, SdJwt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(sd) = SdJwt::parse(text, &Limits::default()) {
            let _ = sd.sd_hash_input();
            let _ = sd.issuer_jwt().payload_json(32);
        }
    }
});
