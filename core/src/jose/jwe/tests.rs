use serde_json::{Value, json};

use super::*;
use crate::crypto::all_providers;
use crate::jose::Algorithm;
use crate::rand::OsRandom;

const VECTOR: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../test-vectors/openid4vp/8.3-encrypted-response-jwe.json"
));

fn vector() -> Value {
    serde_json::from_str(VECTOR).unwrap()
}

fn recipient() -> PrivateJwk {
    let v = vector();
    PrivateJwk::from_json_for_encryption(v["inputs"]["recipient_private_jwk"].as_object().unwrap())
        .unwrap()
}

/// A JWE with exactly `header` as its protected header, correctly encrypted to `to` (so
/// that the only defect is the one the test put in the header).
fn seal_with_header(header: &Value, to: &PublicJwk, enc: ContentEncryption) -> String {
    let provider = crate::crypto::default_provider();
    let eph = provider.generate(Algorithm::Es256, &OsRandom).unwrap();
    let mut header = header.as_object().unwrap().clone();
    if !header.contains_key("epk") {
        header.insert("epk".into(), Value::Object(eph.public().minimal_json()));
    }
    let z = provider.ecdh(&eph, to).unwrap();
    let cek = concat_kdf(&z, enc, &[], &[]);
    let protected = b64::encode(&serde_json::to_vec(&header).unwrap());
    let iv = [7u8; 12];
    let sealed = provider
        .aead_seal(enc, &cek, &iv, protected.as_bytes(), b"{}")
        .unwrap();
    let (c, t) = sealed.split_at(sealed.len() - 16);
    format!(
        "{protected}..{}.{}.{}",
        b64::encode(&iv),
        b64::encode(c),
        b64::encode(t)
    )
}

fn code(r: Result<Decrypted>) -> &'static str {
    r.map(|_| ()).unwrap_err().code()
}

#[test]
fn the_openid4vp_example_decrypts_with_every_provider() {
    let v = vector();
    let jwe = v["jwe_compact"].as_str().unwrap();
    for provider in all_providers() {
        let out = Decrypter::new(vec![recipient()])
            .provider(provider)
            .decrypt_compact(jwe)
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&out.plaintext).unwrap(),
            v["expected"]["plaintext_as_shown"].as_str().unwrap(),
            "{}",
            provider.name()
        );
        assert_eq!(Value::Object(out.header), v["decoded_protected_header"]);
        assert_eq!(out.kid.as_deref(), Some("ac"));
    }
}

#[test]
fn round_trips_across_providers_and_encs() {
    for sender in all_providers() {
        for receiver in all_providers() {
            for enc in ContentEncryption::ALL {
                let key = receiver.generate(Algorithm::Es256, &OsRandom).unwrap();
                let key = key.with_kid("k1");
                let options = EncryptOptions {
                    kid: Some("k1".into()),
                    apu: Some(b"wallet".to_vec()),
                    apv: Some(b"nonce-123".to_vec()),
                    ..EncryptOptions::default()
                };
                let jwe =
                    encrypt(key.public(), enc, &options, b"secret", sender, &OsRandom).unwrap();
                let out = Decrypter::new(vec![key])
                    .provider(receiver)
                    .decrypt_compact(&jwe)
                    .unwrap();
                assert_eq!(out.plaintext.as_slice(), b"secret");
                assert_eq!(out.header["enc"], enc.name());
                assert_eq!(out.header["apv"], b64::encode(b"nonce-123"));
            }
        }
    }
}

#[test]
fn tampering_with_any_part_fails_the_tag() {
    let key = recipient();
    let jwe = encrypt(
        key.public(),
        ContentEncryption::A256Gcm,
        &EncryptOptions::default(),
        b"hello world",
        crate::crypto::default_provider(),
        &OsRandom,
    )
    .unwrap();
    let d = Decrypter::new(vec![key.clone()]);
    assert!(d.decrypt_compact(&jwe).is_ok());
    let parts: Vec<&str> = jwe.split('.').collect();
    for i in [2, 3, 4] {
        let mut bytes = b64::decode(parts[i], "t").unwrap();
        bytes[0] ^= 1;
        let mut p: Vec<String> = parts.iter().map(|s| (*s).to_owned()).collect();
        p[i] = b64::encode(&bytes);
        assert_eq!(
            code(d.decrypt_compact(&p.join("."))),
            "jwe_decrypt_failed",
            "part {i}"
        );
    }
    // The header is the AAD: an equivalent header written differently does not decrypt.
    let mut header: Value = serde_json::from_slice(&b64::decode(parts[0], "h").unwrap()).unwrap();
    header["extra"] = json!(1);
    let mut p: Vec<String> = parts.iter().map(|s| (*s).to_owned()).collect();
    p[0] = b64::encode(&serde_json::to_vec(&header).unwrap());
    assert_eq!(code(d.decrypt_compact(&p.join("."))), "jwe_decrypt_failed");
    // apu feeds the KDF.
    header["apu"] = json!(b64::encode(b"other"));
    p[0] = b64::encode(&serde_json::to_vec(&header).unwrap());
    assert_eq!(code(d.decrypt_compact(&p.join("."))), "jwe_decrypt_failed");
}

#[test]
fn only_ecdh_es_and_the_configured_encs_are_accepted() {
    let key = recipient();
    let d = Decrypter::new(vec![key.clone()]);
    for alg in [
        "dir",
        "RSA1_5",
        "RSA-OAEP",
        "A128KW",
        "ECDH-ES+A128KW",
        "PBES2-HS256+A128KW",
        "none",
        "ecdh-es",
    ] {
        let jwe = seal_with_header(
            &json!({"alg": alg, "enc": "A128GCM", "kid": "ac"}),
            key.public(),
            ContentEncryption::A128Gcm,
        );
        assert_eq!(
            code(d.decrypt_compact(&jwe)),
            "jwe_alg_not_allowed",
            "{alg}"
        );
    }
    for enc in ["A128CBC-HS256", "A192GCM", "a128gcm"] {
        let jwe = seal_with_header(
            &json!({"alg": "ECDH-ES", "enc": enc, "kid": "ac"}),
            key.public(),
            ContentEncryption::A128Gcm,
        );
        assert_eq!(
            code(d.decrypt_compact(&jwe)),
            "jwe_enc_not_allowed",
            "{enc}"
        );
    }
    let jwe = seal_with_header(
        &json!({"alg": "ECDH-ES", "enc": "A128GCM", "kid": "ac"}),
        key.public(),
        ContentEncryption::A128Gcm,
    );
    assert!(d.decrypt_compact(&jwe).is_ok());
    let only_256 = Decrypter::new(vec![key]).encs(&[ContentEncryption::A256Gcm]);
    assert_eq!(code(only_256.decrypt_compact(&jwe)), "jwe_enc_not_allowed");
}

#[test]
fn zip_crit_and_a_non_empty_encrypted_key_are_refused() {
    let key = recipient();
    let d = Decrypter::new(vec![key.clone()]);
    let zip = seal_with_header(
        &json!({"alg": "ECDH-ES", "enc": "A128GCM", "zip": "DEF"}),
        key.public(),
        ContentEncryption::A128Gcm,
    );
    assert_eq!(code(d.decrypt_compact(&zip)), "jwe_zip_unsupported");
    let crit = seal_with_header(
        &json!({"alg": "ECDH-ES", "enc": "A128GCM", "crit": ["exp"], "exp": 1}),
        key.public(),
        ContentEncryption::A128Gcm,
    );
    assert_eq!(code(d.decrypt_compact(&crit)), "crit_unsupported");
    let crit_registered = seal_with_header(
        &json!({"alg": "ECDH-ES", "enc": "A128GCM", "crit": ["epk"]}),
        key.public(),
        ContentEncryption::A128Gcm,
    );
    assert_eq!(code(d.decrypt_compact(&crit_registered)), "header_invalid");
    let good = seal_with_header(
        &json!({"alg": "ECDH-ES", "enc": "A128GCM"}),
        key.public(),
        ContentEncryption::A128Gcm,
    );
    let parts: Vec<&str> = good.split('.').collect();
    let with_key = format!("{}.AAAA.{}.{}.{}", parts[0], parts[2], parts[3], parts[4]);
    assert_eq!(code(d.decrypt_compact(&with_key)), "malformed_compact");
    assert_eq!(
        code(d.decrypt_compact(&parts[..4].join("."))),
        "malformed_compact"
    );
    assert_eq!(
        code(d.decrypt_compact(&format!("{good}.x"))),
        "malformed_compact"
    );
    assert!(d.decrypt_compact(&good).is_ok());
}

#[test]
fn invalid_ephemeral_keys_are_refused_before_any_agreement() {
    let key = recipient();
    let good_epk = crate::crypto::default_provider()
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap()
        .public()
        .minimal_json();
    let mut off_curve = good_epk.clone();
    let mut y = b64::decode(off_curve["y"].as_str().unwrap(), "y").unwrap();
    y[31] ^= 1;
    off_curve.insert("y".into(), b64::encode(&y).into());
    let zero = json!({"kty": "EC", "crv": "P-256", "x": b64::encode(&[0u8; 32]), "y": b64::encode(&[0u8; 32])});
    let p384 = crate::crypto::default_provider()
        .generate(Algorithm::Es384, &OsRandom)
        .unwrap()
        .public()
        .minimal_json();
    let mut with_d = good_epk.clone();
    with_d.insert("d".into(), b64::encode(&[1u8; 32]).into());
    let short = json!({"kty": "EC", "crv": "P-256", "x": b64::encode(&[1u8; 31]), "y": b64::encode(&[1u8; 32])});
    let ed = json!({"kty": "OKP", "crv": "Ed25519", "x": b64::encode(&[1u8; 32])});
    for provider in all_providers() {
        let d = Decrypter::new(vec![key.clone()]).provider(provider);
        for (name, epk) in [
            ("off curve", Value::Object(off_curve.clone())),
            ("zero point", zero.clone()),
            ("P-384", Value::Object(p384.clone())),
            ("private d", Value::Object(with_d.clone())),
            ("short x", short.clone()),
            ("Ed25519", ed.clone()),
            ("string", json!("x")),
        ] {
            let jwe = seal_with_header(
                &json!({"alg": "ECDH-ES", "enc": "A128GCM", "epk": epk}),
                key.public(),
                ContentEncryption::A128Gcm,
            );
            assert_eq!(
                code(d.decrypt_compact(&jwe)),
                "invalid_epk",
                "{name} ({})",
                provider.name()
            );
        }
        // The provider itself refuses an off-curve point handed to it directly.
        let off = PublicJwk::from_json(&off_curve).unwrap();
        assert_eq!(provider.ecdh(&key, &off).unwrap_err().code(), "invalid_epk");
    }
    // Without epk.
    let good = seal_with_header(
        &json!({"alg": "ECDH-ES", "enc": "A128GCM"}),
        key.public(),
        ContentEncryption::A128Gcm,
    );
    let parts: Vec<&str> = good.split('.').collect();
    let mut header: Value = serde_json::from_slice(&b64::decode(parts[0], "h").unwrap()).unwrap();
    header.as_object_mut().unwrap().remove("epk");
    let stripped = format!(
        "{}..{}.{}.{}",
        b64::encode(&serde_json::to_vec(&header).unwrap()),
        parts[2],
        parts[3],
        parts[4]
    );
    assert_eq!(
        code(Decrypter::new(vec![key]).decrypt_compact(&stripped)),
        "invalid_epk"
    );
}

#[test]
fn the_decryption_key_is_chosen_by_kid_from_configuration_only() {
    let provider = crate::crypto::default_provider();
    let a = provider
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap()
        .with_kid("a");
    let b = provider
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap()
        .with_kid("b");
    let to_b = |kid: Option<&str>| {
        let options = EncryptOptions {
            kid: kid.map(str::to_owned),
            ..EncryptOptions::default()
        };
        encrypt(
            b.public(),
            ContentEncryption::A128Gcm,
            &options,
            b"x",
            provider,
            &OsRandom,
        )
        .unwrap()
    };
    let both = Decrypter::new(vec![a.clone(), b.clone()]);
    assert!(both.decrypt_compact(&to_b(Some("b"))).is_ok());
    assert_eq!(
        code(both.decrypt_compact(&to_b(Some("c")))),
        "jwe_key_unknown"
    );
    assert_eq!(code(both.decrypt_compact(&to_b(None))), "jwe_key_unknown");
    // A kid naming the wrong key: the tag does not verify.
    let options = EncryptOptions {
        kid: Some("a".into()),
        ..EncryptOptions::default()
    };
    let lying = encrypt(
        b.public(),
        ContentEncryption::A128Gcm,
        &options,
        b"x",
        provider,
        &OsRandom,
    )
    .unwrap();
    assert_eq!(code(both.decrypt_compact(&lying)), "jwe_decrypt_failed");
    // One key and no kid: that key.
    assert!(
        Decrypter::new(vec![b.clone()])
            .decrypt_compact(&to_b(None))
            .is_ok()
    );
    // Another transaction's key (VP-26).
    assert_eq!(
        code(Decrypter::new(vec![a]).decrypt_compact(&to_b(Some("b")))),
        "jwe_key_unknown"
    );
}

#[test]
fn size_limit_applies_before_parsing() {
    let d = Decrypter::new(vec![recipient()]).max_len(100);
    let long = "a".repeat(101);
    assert_eq!(code(d.decrypt_compact(&long)), "input_too_large");
}

#[test]
fn concat_kdf_matches_rfc_7518_appendix_c() {
    // RFC 7518 Appendix C: ECDH-ES with A128GCM, apu "Alice", apv "Bob".
    let z = [
        158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49, 110,
        163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
    ];
    let cek = concat_kdf(&z, ContentEncryption::A128Gcm, b"Alice", b"Bob");
    assert_eq!(
        cek.as_slice(),
        &[
            86, 170, 141, 234, 248, 35, 109, 32, 92, 34, 40, 205, 113, 167, 16, 26
        ]
    );
}

#[test]
fn decrypted_plaintext_is_not_printed() {
    let key = recipient();
    let jwe = encrypt(
        key.public(),
        ContentEncryption::A128Gcm,
        &EncryptOptions::default(),
        b"very secret claims",
        crate::crypto::default_provider(),
        &OsRandom,
    )
    .unwrap();
    let out = Decrypter::new(vec![key]).decrypt_compact(&jwe).unwrap();
    let printed = format!("{out:?}");
    assert!(!printed.contains("very secret"), "{printed}");
}
