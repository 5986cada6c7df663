//! End-to-end smoke test of the public API.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]
use std::sync::Arc;

use credkit::crypto::default_provider;
use credkit::jose::Algorithm;
use credkit::rand::OsRandom;
use credkit::sd_jwt::{Credential, SdJwtBuilder, Serialization, StaticIssuerKeys, Verifier};
use credkit::time::FixedClock;
use serde_json::json;

#[test]
fn issue_present_verify() {
    let p = default_provider();
    let issuer = p.generate(Algorithm::Es256, &OsRandom).unwrap();
    let holder = p.generate(Algorithm::Es256, &OsRandom).unwrap();
    let issuer_signer = p.signer(&issuer).unwrap();
    let holder_signer = p.signer(&holder).unwrap();
    let claims = json!({
        "iss": "https://issuer.example", "iat": 1000, "exp": 100_000,
        "given_name": "Erika", "family_name": "Mustermann",
        "address": {"locality": "Berlin", "country": "DE"},
        "nationalities": ["DE", "FR"]
    });
    for ser in [
        Serialization::Compact,
        Serialization::Flattened,
        Serialization::General,
    ] {
        let sd = SdJwtBuilder::new(claims.as_object().unwrap().clone())
            .disclose("/given_name")
            .unwrap()
            .disclose("/family_name")
            .unwrap()
            .disclose("/address")
            .unwrap()
            .disclose("/address/locality")
            .unwrap()
            .disclose("/nationalities/1")
            .unwrap()
            .decoys(2)
            .holder_key(holder.public().clone())
            .serialization(ser)
            .issue(&*issuer_signer, &OsRandom)
            .unwrap();
        let issued = sd.to_string();
        let keys = Arc::new(StaticIssuerKeys::single(issuer.public(), p).unwrap());
        let clock = Arc::new(FixedClock(2000));
        let holder_verifier = Verifier::builder_with_clock(keys.clone(), clock.clone())
            .key_binding(credkit::sd_jwt::danger::key_binding_optional())
            .build()
            .unwrap();
        let cred = Credential::receive(&issued, &holder_verifier).unwrap();
        let pointers: Vec<_> = cred
            .disclosable_claims()
            .into_iter()
            .map(|c| c.pointer)
            .collect();
        assert_eq!(pointers.len(), 5, "{pointers:?}");
        let pres = cred
            .present(&["/address/locality", "/nationalities/1"])
            .unwrap();
        let text = pres
            .with_key_binding(&*holder_signer, "https://verifier.example", "n-0S6", 2000)
            .unwrap();
        let verifier = Verifier::builder_with_clock(keys, clock)
            .require_key_binding("https://verifier.example", "n-0S6")
            .build()
            .unwrap();
        let v = verifier.verify(&text).unwrap();
        assert_eq!(
            v.claims["address"],
            json!({"locality": "Berlin", "country": "DE"})
        );
        assert_eq!(v.claims["nationalities"], json!(["DE", "FR"]));
        assert!(v.claims.get("given_name").is_none());
        assert_eq!(v.disclosed.len(), 3, "{:?}", v.disclosed);
        assert!(v.key_binding.is_some());
    }
}
