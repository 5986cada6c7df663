//! Shared by the targets that sign their input with a fixed issuer key (`#[path]` module, not
//! a target of its own): the key, a signer, and a verifier that trusts it.
use std::sync::{Arc, OnceLock};

use credkit::crypto::{Signer, default_provider};
use credkit::jose::PrivateJwk;
use credkit::sd_jwt::{KeyBindingPolicy, StaticIssuerKeys, Verifier};
use credkit::time::FixedClock;

/// The workload's issuer key (P-256).
pub const ISSUER: &str = r#"{"crv":"P-256","d":"z7P0p-1MMIi_PcV3_bH699XJcrZIAh_UnLzQuNE3oUo","kty":"EC","x":"Y7oLmGm66J8kZWpPhXl5cAod6h8z1HrKRNWvXP7WMA0","y":"YFaa_IzYCZXiSlTV-vrOpLl9is2OD24tfCX8Hr8f0FQ"}"#;

/// A signer for [`ISSUER`] and a verifier trusting it, Key Binding forbidden, at a fixed time.
pub fn setup() -> &'static (Arc<dyn Signer>, Verifier) {
    static S: OnceLock<(Arc<dyn Signer>, Verifier)> = OnceLock::new();
    S.get_or_init(|| {
        let key = PrivateJwk::parse(ISSUER).expect("key");
        let signer = default_provider().signer(&key).expect("signer");
        let keys = StaticIssuerKeys::single(key.public(), default_provider()).expect("keys");
        let verifier = Verifier::builder_with_clock(Arc::new(keys), Arc::new(FixedClock(1_700_000_000)))
            .key_binding(KeyBindingPolicy::Forbidden)
            .build()
            .expect("verifier");
        (signer, verifier)
    })
}
