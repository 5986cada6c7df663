//! Disclosure decoding.
#![no_main]
use credkit::sd_jwt::Disclosure;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(d) = Disclosure::parse(text, 32) {
            let _ = d.digest(credkit::crypto::HashAlg::Sha256);
        }
    }
});
