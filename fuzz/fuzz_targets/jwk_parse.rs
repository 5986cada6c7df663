//! JWK parsing (public and private) and key loading in the default provider.
#![no_main]
use credkit::crypto::default_provider;
use credkit::jose::{PrivateJwk, PublicJwk};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(k) = PublicJwk::parse(text) {
            let _ = default_provider().verifying_key(&k, k.algorithm());
            let _ = k.thumbprint(credkit::crypto::HashAlg::Sha256);
        }
        if let Ok(k) = PrivateJwk::parse(text) {
            let _ = default_provider().signer(&k);
        }
    }
});
