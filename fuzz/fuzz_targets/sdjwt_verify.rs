//! Full SD-JWT VC verification (issuer signature with a fixed key, disclosures, KB-JWT) of
//! arbitrary input: every step must fail with a typed error, never panic.
#![no_main]
use std::sync::{Arc, OnceLock};

use credkit::jose::PublicJwk;
use credkit::sd_jwt::{KeyBindingPolicy, StaticIssuerKeys};
use credkit::sd_jwt_vc::{TrustPolicy, VcVerifier};
use credkit::time::FixedClock;
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = r#"{"kty":"EC","crv":"P-256","x":"b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ","y":"Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}"#;

fn verifier() -> &'static VcVerifier {
    static V: OnceLock<VcVerifier> = OnceLock::new();
    V.get_or_init(|| {
        let jwk = PublicJwk::parse(ISSUER).expect("key");
        let keys = StaticIssuerKeys::single(&jwk, credkit::crypto::default_provider()).expect("keys");
        VcVerifier::builder_with_clock(
            Arc::new(TrustPolicy::new().otherwise(Arc::new(keys))),
            Arc::new(FixedClock(1_700_000_000)),
        )
        .key_binding(KeyBindingPolicy::Required { audience: "https://v.example".into(), nonce: "n".into() })
        .build()
        .expect("verifier")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = verifier().verify(text);
    }
});
