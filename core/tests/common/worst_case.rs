//! The worst valid-shaped presentations the default limits let through (ATTACKS.md ENV-08),
//! shared by `tests/budget.rs` (heap) and `benches/scaling.rs` (time). Two shapes: the most
//! Disclosures, nested as deep as allowed; and the most JSON values per input byte.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;

use credkit::crypto::default_provider;
use credkit::jose::Algorithm;
use credkit::rand::OsRandom;
use credkit::sd_jwt::{
    Credential, KeyBindingPolicy, Limits, SdJwtBuilder, StaticIssuerKeys, Verifier,
};
use credkit::time::FixedClock;
use serde_json::{Map, Value, json};

pub(crate) const NOW: i64 = 1_800_000_000;
pub(crate) const AUD: &str = "https://verifier.example";
pub(crate) const NONCE: &str = "n-0S6_WzA2Mj";

/// A presentation of 1024 Disclosures (the default limit): a chain nested as deep as allowed
/// (16), the rest flat, with values and decoys that bring it above 90 % of the input limit
/// (256 KiB).
pub(crate) fn many_disclosures() -> (Verifier, String) {
    let limits = Limits::default();
    let depth = limits.max_sd_depth;
    let flat = limits.max_disclosures - depth;
    let mut claims = Map::new();
    claims.insert("iss".into(), json!("https://issuer.example"));
    let mut pointers = Vec::new();
    let filler = "x".repeat(92);
    for i in 0..flat {
        claims.insert(format!("c{i:04}"), json!(format!("{i} {filler}")));
        pointers.push(format!("/c{i:04}"));
    }
    let mut chain = json!("bottom");
    for _ in 0..depth {
        chain = json!({ "n": chain });
    }
    claims.insert("n".into(), chain.get("n").cloned().unwrap_or(Value::Null));
    let mut at = String::new();
    for _ in 0..depth {
        at.push_str("/n");
        pointers.push(at.clone());
    }
    present_all(claims, &pointers, 2)
}

/// A presentation whose every byte is spent on small JSON values (arrays of zeros, 2 input
/// characters per value in the payload, 3 in a Disclosure), above 90 % of the input limit:
/// the most parsed values per byte.
pub(crate) fn dense_values() -> (Verifier, String) {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!("https://issuer.example"));
    claims.insert("plain".into(), Value::Array(vec![json!(0); 60_000]));
    claims.insert("disclosed".into(), Value::Array(vec![json!(0); 21_000]));
    present_all(claims, &["/disclosed".to_owned()], 0)
}

/// Issues `claims` with `pointers` disclosable and `decoys` decoys per `_sd` array, receives
/// it, and presents every Disclosure with Key Binding. Checks the presentation is within 10 %
/// under the input limit, and returns it with a verifier that requires Key Binding.
fn present_all(
    claims: Map<String, Value>,
    pointers: &[String],
    decoys: usize,
) -> (Verifier, String) {
    let limits = Limits::default();
    let p = default_provider();
    let issuer = p.generate(Algorithm::Es256, &OsRandom).unwrap();
    let holder = p.generate(Algorithm::Es256, &OsRandom).unwrap();
    let mut builder = SdJwtBuilder::new(claims)
        .holder_key(holder.public().clone())
        .decoys(decoys);
    for ptr in pointers {
        builder = builder.disclose(ptr).unwrap();
    }
    let signer = p.signer(&issuer).unwrap();
    let issued = builder.issue(&*signer, &OsRandom).unwrap();
    assert_eq!(
        issued.disclosures().len().min(limits.max_disclosures),
        issued.disclosures().len()
    );

    let keys = Arc::new(StaticIssuerKeys::single(issuer.public(), p).unwrap());
    let clock = Arc::new(FixedClock(NOW));
    let receive = Verifier::builder_with_clock(keys.clone(), clock.clone())
        .key_binding(KeyBindingPolicy::Forbidden)
        .build()
        .unwrap();
    let credential = Credential::receive(&issued.to_string(), &receive).unwrap();
    let all: Vec<&str> = pointers.iter().map(String::as_str).collect();
    let presentation = credential
        .present(&all)
        .unwrap()
        .with_key_binding(&*p.signer(&holder).unwrap(), AUD, NONCE, NOW)
        .unwrap()
        .to_string();
    // Valid-shaped at the limits: near the input size limit, not over it.
    assert!(
        presentation.len() <= limits.max_input_bytes
            && presentation.len() > limits.max_input_bytes * 9 / 10,
        "presentation of {} bytes",
        presentation.len()
    );
    let verifier = Verifier::builder_with_clock(keys, clock)
        .require_key_binding(AUD, NONCE)
        .build()
        .unwrap();
    (verifier, presentation)
}
