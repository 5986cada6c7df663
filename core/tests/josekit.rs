//! Differential tests against josekit (OpenSSL-backed): JWS made by credkit verify under
//! josekit and JWS made by josekit verify under every credkit provider, for ES256, ES384,
//! ES512 and EdDSA. Tampered tokens are rejected by both. An SD-JWT issuer-signed JWT made by
//! credkit verifies under josekit as a plain JWT.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::sync::Arc;

use credkit::b64;
use credkit::crypto::{CryptoProvider, all_providers};
use credkit::jose::jws::header_for;
use credkit::jose::{Algorithm, Jws, PrivateJwk, PublicJwk, UnsignedJws};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{SdJwtBuilder, Serialization};
use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, JwsSigner, JwsVerifier};
use serde_json::{Map, Value, json};

const ALGS: [Algorithm; 4] = [
    Algorithm::Es256,
    Algorithm::Es384,
    Algorithm::Es512,
    Algorithm::EdDsa,
];

fn jk_jwk(map: &Map<String, Value>) -> Jwk {
    Jwk::from_bytes(Value::Object(map.clone()).to_string()).expect("josekit imports the JWK")
}

fn jk_verifier(alg: Algorithm, public: &PublicJwk) -> Box<dyn JwsVerifier> {
    let jwk = jk_jwk(&public.to_json());
    match alg {
        Algorithm::Es256 => Box::new(
            josekit::jws::ES256
                .verifier_from_jwk(&jwk)
                .expect("ES256 verifier"),
        ),
        Algorithm::Es384 => Box::new(
            josekit::jws::ES384
                .verifier_from_jwk(&jwk)
                .expect("ES384 verifier"),
        ),
        Algorithm::Es512 => Box::new(
            josekit::jws::ES512
                .verifier_from_jwk(&jwk)
                .expect("ES512 verifier"),
        ),
        Algorithm::EdDsa => Box::new(
            josekit::jws::EdDSA
                .verifier_from_jwk(&jwk)
                .expect("EdDSA verifier"),
        ),
        other => panic!("no josekit mapping for {other}"),
    }
}

fn jk_signer(alg: Algorithm, private: &PrivateJwk) -> Box<dyn JwsSigner> {
    let jwk = Jwk::from_bytes(private.to_json_string().as_bytes())
        .expect("josekit imports the private JWK");
    match alg {
        Algorithm::Es256 => Box::new(
            josekit::jws::ES256
                .signer_from_jwk(&jwk)
                .expect("ES256 signer"),
        ),
        Algorithm::Es384 => Box::new(
            josekit::jws::ES384
                .signer_from_jwk(&jwk)
                .expect("ES384 signer"),
        ),
        Algorithm::Es512 => Box::new(
            josekit::jws::ES512
                .signer_from_jwk(&jwk)
                .expect("ES512 signer"),
        ),
        Algorithm::EdDsa => Box::new(
            josekit::jws::EdDSA
                .signer_from_jwk(&jwk)
                .expect("EdDSA signer"),
        ),
        other => panic!("no josekit mapping for {other}"),
    }
}

fn jk_generate(alg: Algorithm) -> Jwk {
    match alg {
        Algorithm::Es256 => Jwk::generate_ec_key(josekit::jwk::P_256),
        Algorithm::Es384 => Jwk::generate_ec_key(josekit::jwk::P_384),
        Algorithm::Es512 => Jwk::generate_ec_key(josekit::jwk::P_521),
        Algorithm::EdDsa => Jwk::generate_ed_key(josekit::jwk::Ed25519),
        other => panic!("no josekit mapping for {other}"),
    }
    .expect("josekit generates a key")
}

fn credkit_verify(
    p: &dyn CryptoProvider,
    token: &str,
    public: &PublicJwk,
    alg: Algorithm,
) -> credkit::Result<Vec<u8>> {
    let jws = Jws::parse_compact(token)?;
    let key = p.verifying_key(public, alg)?;
    jws.verify(&*key, &[alg])?;
    Ok(jws.payload().to_vec())
}

/// The token with its payload replaced (header and signature kept).
fn tamper_payload(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    format!(
        "{}.{}.{}",
        parts[0],
        b64::encode(br#"{"sub":"mallory"}"#),
        parts[2]
    )
}

/// The token with one bit of the signature flipped.
fn tamper_signature(token: &str) -> String {
    let (rest, sig) = token.rsplit_once('.').expect("three parts");
    let mut sig = b64::decode(sig, "sig").expect("signature decodes");
    let mid = sig.len() / 2;
    sig[mid] ^= 0x01;
    format!("{rest}.{}", b64::encode(&sig))
}

/// Tampered versions of a valid `token` must fail under josekit and under every provider.
fn assert_tamper_rejected(
    token: &str,
    public: &PublicJwk,
    alg: Algorithm,
    verifier: &dyn JwsVerifier,
) {
    for bad in [tamper_payload(token), tamper_signature(token)] {
        assert!(
            josekit::jws::deserialize_compact(&bad, verifier).is_err(),
            "josekit accepted tampered {alg}"
        );
        for p in all_providers() {
            let err = credkit_verify(p, &bad, public, alg)
                .expect_err("credkit accepted a tampered token");
            assert_eq!(err.code(), "invalid_signature", "{alg} / {}", p.name());
        }
    }
}

const PAYLOAD: &[u8] =
    br#"{"iss":"https://issuer.example","sub":"user_42","iat":1683000000,"msg":"gr\u00fc\u00dfe"}"#;

#[test]
fn credkit_signs_josekit_verifies() {
    let mut checked = 0;
    for p in all_providers() {
        for alg in ALGS {
            let key = p
                .generate(alg, &OsRandom)
                .expect("generate")
                .with_kid(format!("{}-{alg}", p.name()));
            let signer = p.signer(&key).expect("signer");
            let jws = UnsignedJws::new(alg, header_for(&*signer, Some("JWT")), PAYLOAD)
                .sign(&*signer)
                .expect("sign");
            let token = jws.as_compact();
            // josekit's verifier carries the JWK's kid and requires the header's kid to match.
            let verifier = jk_verifier(alg, key.public());
            let (payload, header) = josekit::jws::deserialize_compact(token, &*verifier)
                .unwrap_or_else(|e| panic!("josekit rejects credkit {alg} ({}): {e}", p.name()));
            assert_eq!(payload, PAYLOAD);
            assert_eq!(header.algorithm(), Some(alg.name()));
            assert_eq!(header.key_id(), key.public().kid());
            // And credkit agrees with itself across providers.
            for q in all_providers() {
                assert_eq!(
                    credkit_verify(q, token, key.public(), alg).expect("credkit verifies"),
                    PAYLOAD
                );
            }
            assert_tamper_rejected(token, key.public(), alg, &*verifier);
            checked += 1;
        }
    }
    println!("[josekit] credkit -> josekit: {checked} (provider, alg) combinations verified");
    assert_eq!(checked, 4 * all_providers().len());
}

#[test]
fn josekit_signs_credkit_verifies() {
    let mut checked = 0;
    for alg in ALGS {
        // A credkit-generated key handed to josekit as a private JWK, and a josekit-generated
        // key handed to credkit.
        let credkit_key = credkit::crypto::default_provider()
            .generate(alg, &OsRandom)
            .expect("generate");
        let jk_key = jk_generate(alg);
        let imported =
            PrivateJwk::parse(&jk_key.to_string()).expect("credkit imports josekit's private JWK");
        for key in [credkit_key, imported] {
            let signer = jk_signer(alg, &key);
            let mut header = JwsHeader::new();
            header.set_token_type("JWT");
            let token =
                josekit::jws::serialize_compact(PAYLOAD, &header, &*signer).expect("josekit signs");
            for p in all_providers() {
                let payload = credkit_verify(p, &token, key.public(), alg)
                    .unwrap_or_else(|e| panic!("{} rejects josekit {alg}: {e}", p.name()));
                assert_eq!(payload, PAYLOAD);
                // The wrong algorithm on the allow-list is refused, whatever the signature.
                let other = if alg == Algorithm::Es256 {
                    Algorithm::EdDsa
                } else {
                    Algorithm::Es256
                };
                let jws = Jws::parse_compact(&token).expect("parses");
                let k = p.verifying_key(key.public(), alg).expect("loads");
                assert_eq!(
                    jws.verify(&*k, &[other])
                        .expect_err("alg not allowed")
                        .code(),
                    "alg_not_allowed"
                );
                checked += 1;
            }
            // credkit signing with a josekit-made key verifies under josekit too.
            let ck_signer = credkit::crypto::default_provider()
                .signer(&key)
                .expect("signer");
            let ck_token = UnsignedJws::new(alg, Map::new(), PAYLOAD)
                .sign(&*ck_signer)
                .expect("sign");
            let verifier = jk_verifier(alg, key.public());
            assert!(josekit::jws::deserialize_compact(ck_token.as_compact(), &*verifier).is_ok());
            assert_tamper_rejected(&token, key.public(), alg, &*verifier);
        }
    }
    println!("[josekit] josekit -> credkit: {checked} (key, alg, provider) combinations verified");
    assert_eq!(checked, 2 * 4 * all_providers().len());
}

#[test]
fn sd_jwt_issuer_jwt_verifies_under_josekit() {
    let claims = json!({
        "iss": "https://issuer.example", "iat": 1_683_000_000, "exp": 1_883_000_000,
        "vct": "https://credentials.example/identity_credential",
        "given_name": "Erika", "family_name": "Mustermann",
        "address": {"locality": "Berlin", "country": "DE"},
        "nationalities": ["DE", "FR"]
    });
    let mut checked = 0;
    for p in all_providers() {
        for alg in ALGS {
            let issuer = p
                .generate(alg, &OsRandom)
                .expect("generate")
                .with_kid("issuer-key-1");
            let holder = p.generate(Algorithm::Es256, &OsRandom).expect("generate");
            let signer: Arc<_> = p.signer(&issuer).expect("signer");
            for ser in [Serialization::Compact, Serialization::Flattened] {
                let sd = SdJwtBuilder::new(claims.as_object().expect("object").clone())
                    .disclose("/given_name")
                    .expect("pointer")
                    .disclose("/address/locality")
                    .expect("pointer")
                    .disclose("/nationalities/1")
                    .expect("pointer")
                    .decoys(2)
                    .holder_key(holder.public().clone())
                    .serialization(ser)
                    .issue(&*signer, &OsRandom)
                    .expect("issue");
                let issuer_jwt = sd.issuer_jwt().as_compact();
                let verifier = jk_verifier(alg, issuer.public());
                let (payload, header) = josekit::jwt::decode_with_verifier(issuer_jwt, &*verifier)
                    .unwrap_or_else(|e| {
                        panic!("josekit rejects the {alg} issuer JWT ({}): {e}", p.name())
                    });
                assert_eq!(header.token_type(), Some("sd-jwt"));
                assert_eq!(header.key_id(), Some("issuer-key-1"));
                let c = payload.claims_set();
                assert_eq!(c["iss"], "https://issuer.example");
                assert_eq!(c["_sd_alg"], "sha-256");
                assert_eq!(c["family_name"], "Mustermann");
                assert!(c.get("given_name").is_none());
                assert_eq!(
                    c["_sd"].as_array().map(Vec::len),
                    Some(1 + 2),
                    "given_name + 2 decoys"
                );
                assert_eq!(
                    c["cnf"]["jwk"],
                    Value::Object(holder.public().minimal_json())
                );
                if ser == Serialization::Compact {
                    // The whole SD-JWT starts with exactly the issuer JWT josekit checked.
                    assert!(sd.to_string().starts_with(&format!("{issuer_jwt}~")));
                }
                assert!(
                    josekit::jwt::decode_with_verifier(tamper_payload(issuer_jwt), &*verifier)
                        .is_err()
                );
                checked += 1;
            }
        }
    }
    println!(
        "[josekit] SD-JWT issuer JWT -> josekit: {checked} (provider, alg, serialization) combinations verified"
    );
    assert_eq!(checked, 2 * 4 * all_providers().len());
}

/// JWE (RFC 7516) with ECDH-ES and AES-GCM, both directions, every provider and both
/// content encryptions: josekit decrypts what credkit encrypts and the reverse.
#[test]
fn jwe_ecdh_es_interoperates_with_josekit() {
    use credkit::jose::jwe::{ContentEncryption, Decrypter, EncryptOptions, encrypt};
    use josekit::jwe::{ECDH_ES, JweHeader};
    for provider in all_providers() {
        for enc in ContentEncryption::ALL {
            let key = provider
                .generate(Algorithm::Es256, &OsRandom)
                .unwrap()
                .with_kid("enc-1");
            let mut private = key.public().to_json();
            private.insert("d".into(), b64::encode(key.d()).into());
            let jk_private = jk_jwk(&private);
            let jk_public = jk_jwk(&key.public().to_json());

            // credkit -> josekit
            let options = EncryptOptions::default().kid("enc-1");
            let ours = encrypt(
                key.public(),
                enc,
                &options,
                b"{\"vp_token\":{}}",
                provider,
                &OsRandom,
            )
            .unwrap();
            let decrypter = ECDH_ES.decrypter_from_jwk(&jk_private).unwrap();
            let (plaintext, header) = josekit::jwe::deserialize_compact(&ours, &decrypter).unwrap();
            assert_eq!(plaintext, b"{\"vp_token\":{}}");
            assert_eq!(header.content_encryption(), Some(enc.name()));

            // josekit -> credkit
            let mut header = JweHeader::new();
            header.set_content_encryption(enc.name());
            header.set_key_id("enc-1");
            let encrypter = ECDH_ES.encrypter_from_jwk(&jk_public).unwrap();
            let theirs =
                josekit::jwe::serialize_compact(b"from josekit", &header, &encrypter).unwrap();
            let out = Decrypter::new(vec![key.clone()])
                .provider(provider)
                .decrypt_compact(&theirs)
                .unwrap();
            assert_eq!(out.plaintext.as_slice(), b"from josekit");

            // A tampered josekit JWE fails in credkit.
            let mut parts: Vec<String> = theirs.split('.').map(str::to_owned).collect();
            let mut ct = b64::decode(&parts[3], "ct").unwrap();
            ct[0] ^= 0x80;
            parts[3] = b64::encode(&ct);
            let err = Decrypter::new(vec![key])
                .provider(provider)
                .decrypt_compact(&parts.join("."))
                .unwrap_err();
            assert_eq!(err.code(), "jwe_decrypt_failed");
        }
    }
}
