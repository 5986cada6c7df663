//! DID issuers (feature `did`): did:jwk and did:key resolved through `ssi`, did:web over
//! HTTPS (with feature `http`, against the shared 127.0.0.1 test server), key selection by
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

// ---------------------------------------------------------------------------------------
// did:web over HTTPS (the shared 127.0.0.1 test server)
// ---------------------------------------------------------------------------------------

#[cfg(feature = "http")]
#[path = "common/tls.rs"]
mod tls;

#[cfg(feature = "http")]
mod web {
    use super::*;
    use credkit::http::{FetchPolicy, Fetcher, UreqClient};
    use credkit::sd_jwt_vc::VcVerifier;

    use crate::tls::{Reply, Server};

    /// `did:web:127.0.0.1%3A<port>` plus `:`-separated path segments.
    fn did_web(port: u16, path: &[&str]) -> String {
        let mut did = format!("did:web:127.0.0.1%3A{port}");
        for p in path {
            did.push(':');
            did.push_str(p);
        }
        did
    }

    /// A DID document with one JsonWebKey2020 method `#k1`, the only assertion method.
    fn did_document(id: &str, controller: &str, jwk: &Map<String, Value>) -> Value {
        json!({
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": id,
            "verificationMethod": [{
                "id": format!("{controller}#k1"),
                "type": "JsonWebKey2020",
                "controller": controller,
                "publicKeyJwk": jwk,
            }],
            "assertionMethod": [format!("{controller}#k1")],
        })
    }

    /// Serves `/.well-known/did.json` (the document of `did:web:127.0.0.1%3A<port>`) and
    /// `/wrong/did.json`, whose document claims to be the root DID instead of
    /// `did:web:127.0.0.1%3A<port>:wrong`.
    fn did_server(jwk: Map<String, Value>) -> Server {
        Server::start(move |path, port| {
            let did = did_web(port, &[]);
            match path {
                "/.well-known/did.json" => Reply::json(&did_document(&did, &did, &jwk)),
                "/wrong/did.json" => Reply::json(&did_document(&did, &did, &jwk)),
                _ => Reply::status(404),
            }
        })
    }

    fn web_verifier(fetcher: Fetcher) -> VcVerifier {
        VcVerifier::builder_with_clock(
            Arc::new(
                TrustPolicy::new()
                    .issuer_prefix("did:", Arc::new(DidTrust::new().web_fetcher(fetcher))),
            ),
            Arc::new(FixedClock(NOW)),
        )
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap()
    }

    fn open_fetcher(server: &Server) -> Fetcher {
        Fetcher::with_policy(
            Arc::new(UreqClient::with_root_certificates(std::slice::from_ref(
                &server.ca_der,
            ))),
            credkit::http::danger::allow_internal_addresses(FetchPolicy::default()),
        )
    }

    #[test]
    fn did_web_issuer() {
        let (_, signer) = key(Algorithm::Es256);
        let server = did_server(signer.public_jwk().minimal_json());
        let did = did_web(server.port, &[]);
        assert_eq!(
            DidTrust::web_url(&did).unwrap(),
            server.url("/.well-known/did.json")
        );
        let v = web_verifier(open_fetcher(&server));
        // kid as an absolute DID URL, as a fragment, and absent (one assertion method).
        for kid in [Some(format!("{did}#k1")), Some("#k1".to_owned()), None] {
            let vc = issue(&*signer, &did, kid.as_deref());
            let verified = v.verify(&vc).unwrap_or_else(|e| panic!("{kid:?}: {e}"));
            assert_eq!(
                verified.binding,
                IssuerBinding::Did {
                    verification_method: format!("{did}#k1")
                }
            );
            assert_eq!(verified.issuer.as_deref(), Some(did.as_str()));
            assert_eq!(verified.claims()["family_name"], "Mustermann");
        }
        assert_eq!(server.hits("/.well-known/did.json"), 3);
        // A kid that is not an assertion method of the document.
        let vc = issue(&*signer, &did, Some(&format!("{did}#k2")));
        assert_eq!(v.verify(&vc).unwrap_err().code(), "unknown_key");
        // Another key's signature under the same DID.
        let (_, other) = key(Algorithm::Es256);
        let forged = issue(&*other, &did, Some(&format!("{did}#k1")));
        assert_eq!(v.verify(&forged).unwrap_err().code(), "invalid_signature");
    }

    #[test]
    fn did_web_document_for_another_did_is_rejected() {
        let (_, signer) = key(Algorithm::Es256);
        let server = did_server(signer.public_jwk().minimal_json());
        let did = did_web(server.port, &["wrong"]);
        assert_eq!(
            DidTrust::web_url(&did).unwrap(),
            server.url("/wrong/did.json")
        );
        let v = web_verifier(open_fetcher(&server));
        for kid in [Some(format!("{did}#k1")), None] {
            let vc = issue(&*signer, &did, kid.as_deref());
            assert_eq!(
                v.verify(&vc).unwrap_err().code(),
                "did_resolution_failed",
                "{kid:?}"
            );
        }
        assert_eq!(server.hits("/wrong/did.json"), 2);
        // A DID whose document is not there.
        let vc = issue(&*signer, &did_web(server.port, &["missing"]), None);
        assert_eq!(v.verify(&vc).unwrap_err().code(), "http_status");
    }

    #[test]
    fn did_web_goes_through_the_fetch_policy() {
        let (_, signer) = key(Algorithm::Es256);
        let server = did_server(signer.public_jwk().minimal_json());
        let did = did_web(server.port, &[]);
        let vc = issue(&*signer, &did, None);
        // The default policy forbids loopback addresses: nothing is requested.
        let strict = Fetcher::new(Arc::new(UreqClient::with_root_certificates(
            std::slice::from_ref(&server.ca_der),
        )));
        assert_eq!(
            web_verifier(strict).verify(&vc).unwrap_err().code(),
            "url_forbidden"
        );
        // A client that does not trust the server's CA.
        let webpki = Fetcher::with_policy(
            Arc::new(UreqClient::new()),
            credkit::http::danger::allow_internal_addresses(FetchPolicy::default()),
        );
        assert_eq!(
            web_verifier(webpki).verify(&vc).unwrap_err().code(),
            "fetch_failed"
        );
        assert_eq!(server.requests(), 0);
        web_verifier(open_fetcher(&server)).verify(&vc).unwrap();
        assert_eq!(server.requests(), 1);
    }
}
