//! The worst valid-shaped presentation the default limits let through (ATTACKS.md ENV-08),
//! shared by `tests/budget.rs` (heap) and `benches/scaling.rs` (time).
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

/// A verifier requiring Key Binding, and a presentation of 1024 Disclosures (the default
/// limit): a chain nested as deep as allowed (16), the rest flat, with values and decoys
/// that bring it above 90 % of the input limit (256 KiB). Checks that it is at the limits.
pub(crate) fn worst_case() -> (Verifier, String) {
    let limits = Limits::default();
    let p = default_provider();
    let issuer = p.generate(Algorithm::Es256, &OsRandom).unwrap();
    let holder = p.generate(Algorithm::Es256, &OsRandom).unwrap();

    // The most Disclosures allowed (1024): a chain nested as deep as allowed (16), the
    // rest flat, each value long enough, with decoys, to fill the input limit.
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
    let mut at = String::new();
    for _ in 0..depth {
        chain = json!({ "n": chain });
    }
    claims.insert("n".into(), chain.get("n").cloned().unwrap_or(Value::Null));
    for _ in 0..depth {
        at.push_str("/n");
        pointers.push(at.clone());
    }
    let mut builder = SdJwtBuilder::new(claims)
        .holder_key(holder.public().clone())
        .decoys(2);
    for ptr in &pointers {
        builder = builder.disclose(ptr).unwrap();
    }
    let signer = p.signer(&issuer).unwrap();
    let issued = builder.issue(&*signer, &OsRandom).unwrap();
    assert_eq!(issued.disclosures().len(), limits.max_disclosures);

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
