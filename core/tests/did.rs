//! DID issuers (feature `did`): did:jwk and did:key resolved through `ssi`, key selection by
//! `kid` among the document's assertion methods, and the mechanism rules of the trust policy.
//! This file runs with serde_json's `arbitrary_precision` on (ssi turns it on for the build).
#![cfg(feature = "did")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

use credkit::b64;
use credkit::crypto::{Signer, default_provider};
use credkit::jose::{Algorithm, PrivateJwk, UnsignedJws};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{KeyBindingPolicy, danger};
use credkit::sd_jwt_vc::{DidTrust, IssuerBinding, TrustPolicy, VcBuilder, VcVerifier, Vct};
use credkit::time::FixedClock;
use serde_json::{Map, Value, json};

const NOW: i64 = 1_760_000_000;

fn key(alg: Algorithm) -> (PrivateJwk, Arc<dyn Signer>) {
    let k = default_provider().generate(alg, &OsRandom).unwrap();
    let s = default_provider().signer(&k).unwrap();
    (k, s)
}

fn did_jwk(signer: &dyn Signer) -> String {
    let jwk = Value::Object(signer.public_jwk().minimal_json()).to_string();
    format!("did:jwk:{}", b64::encode(jwk.as_bytes()))
}

/// base58btc (the multibase `z` alphabet).
fn base58(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new();
    for &b in bytes {
        let mut carry = u32::from(b);
        for d in &mut digits {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    let mut out: String = std::iter::repeat_n('1', zeros).collect();
    out.extend(digits.iter().rev().map(|d| ALPHABET[*d as usize] as char));
    out
}

/// did:key for a P-256 key: multicodec p256-pub (0x1200) + compressed point, base58btc.
fn did_key_p256(signer: &dyn Signer) -> String {
    let jwk = signer.public_jwk();
    let y = jwk.y().unwrap();
    let mut bytes = vec![0x80, 0x24, if y[y.len() - 1] & 1 == 1 { 3 } else { 2 }];
    bytes.extend_from_slice(jwk.x());
    format!("did:key:z{}", base58(&bytes))
}

fn verifier() -> VcVerifier {
    VcVerifier::builder_with_clock(
        Arc::new(TrustPolicy::new().issuer_prefix("did:", Arc::new(DidTrust::new()))),
        Arc::new(FixedClock(NOW)),
    )
    .key_binding(danger::key_binding_optional())
    .build()
    .unwrap()
}

fn claims() -> Map<String, Value> {
    json!({"given_name": "Erika", "family_name": "Mustermann"})
        .as_object()
        .cloned()
        .unwrap()
}

fn issue(signer: &dyn Signer, iss: &str, kid: Option<&str>) -> String {
    let b = VcBuilder::new(Vct::new("urn:example:did:1").unwrap(), claims())
        .issuer(iss)
        .issued_at(NOW)
        .disclose("/given_name")
        .unwrap();
    let unsigned = b.prepare(signer.algorithm(), kid, &OsRandom).unwrap();
    let sig = signer.sign(unsigned.signing_input()).unwrap();
    unsigned.finish(&sig).unwrap().to_string()
}

#[test]
fn did_jwk_issuer() {
    for alg in [Algorithm::Es256, Algorithm::Es384, Algorithm::EdDsa] {
        let (_, signer) = key(alg);
        let did = did_jwk(&*signer);
        for kid in [Some(format!("{did}#0")), Some("#0".to_owned()), None] {
            let vc = issue(&*signer, &did, kid.as_deref());
            let verified = verifier()
                .verify(&vc)
                .unwrap_or_else(|e| panic!("{alg:?} {kid:?}: {e}"));
            assert_eq!(
                verified.binding,
                IssuerBinding::Did {
                    verification_method: format!("{did}#0")
                }
            );
            assert_eq!(verified.claims()["iat"].as_i64(), Some(NOW));
        }
    }
}

#[test]
fn did_key_issuer() {
    let (_, signer) = key(Algorithm::Es256);
    let did = did_key_p256(&*signer);
    let id = did.strip_prefix("did:key:").unwrap();
    let vc = issue(&*signer, &did, Some(&format!("{did}#{id}")));
    let verified = verifier().verify(&vc).unwrap();
    assert!(matches!(verified.binding, IssuerBinding::Did { .. }));
    // Another key's signature under the same DID fails.
    let (_, other) = key(Algorithm::Es256);
    let forged = issue(&*other, &did, Some(&format!("{did}#{id}")));
    assert_eq!(
        verifier().verify(&forged).unwrap_err().code(),
        "invalid_signature"
    );
}

#[test]
fn kid_must_name_an_assertion_method_of_the_issuer() {
    let (_, signer) = key(Algorithm::Es256);
    let did = did_jwk(&*signer);
    let vc = issue(&*signer, &did, Some(&format!("{did}#1")));
    assert_eq!(verifier().verify(&vc).unwrap_err().code(), "unknown_key");
    let (_, other) = key(Algorithm::Es256);
    let other_did = did_jwk(&*other);
    let vc = issue(&*other, &did, Some(&format!("{other_did}#0")));
    assert_eq!(
        verifier().verify(&vc).unwrap_err().code(),
        "issuer_mismatch"
    );
}

#[test]
fn did_failures_are_typed() {
    let (private, signer) = key(Algorithm::Es256);
    // A did:jwk carrying private key material.
    let secret = private.to_json_string();
    let did = format!("did:jwk:{}", b64::encode(secret.as_bytes()));
    let vc = issue(&*signer, &did, None);
    let err = verifier().verify(&vc).unwrap_err();
    assert!(
        ["key_private_material", "did_resolution_failed"].contains(&err.code()),
        "{err}"
    );
    // Garbage and unsupported methods.
    for did in [
        "did:jwk:not-base64!",
        "did:key:zzzz",
        "did:example:123",
        "did:web:issuer.example",
    ] {
        let vc = issue(&*signer, did, None);
        assert_eq!(
            verifier().verify(&vc).unwrap_err().code(),
            "did_resolution_failed",
            "{did}"
        );
    }
    // An issuer that is not a DID under a DID rule.
    let policy = TrustPolicy::new().otherwise(Arc::new(DidTrust::new()));
    let v = VcVerifier::builder(Arc::new(policy))
        .key_binding(KeyBindingPolicy::Forbidden)
        .build()
        .unwrap();
    let vc = issue(&*signer, "https://issuer.example", None);
    assert_eq!(v.verify(&vc).unwrap_err().code(), "untrusted_issuer");
}

#[test]
fn key_hints_of_other_mechanisms_are_rejected() {
    let (_, signer) = key(Algorithm::Es256);
    let did = did_jwk(&*signer);
    for (name, value) in [
        ("x5c", json!(["MIIB"])),
        ("jwk", Value::Object(signer.public_jwk().minimal_json())),
        ("jku", json!("https://attacker.example/jwks")),
    ] {
        let mut header = Map::new();
        header.insert("typ".into(), "dc+sd-jwt".into());
        header.insert(name.into(), value);
        let payload = json!({"iss": did, "vct": "urn:example:did:1"}).to_string();
        let jws = UnsignedJws::new(signer.algorithm(), header, payload.as_bytes())
            .sign(&*signer)
            .unwrap();
        let token = format!("{}~", jws.as_compact());
        assert_eq!(
            verifier().verify(&token).unwrap_err().code(),
            "key_mechanism_mismatch",
            "{name}"
        );
    }
}
