//! One test per row of /work/shared/ATTACKS.md groups ENV, ENC, HDR, SIG, KEY, CLM, SD and KB
//! that applies to a plain SD-JWT issuer / holder / verifier. Each malicious input is signed
//! with a real (trusted) key where possible, so that only the rule under test can fail, and
//! the exact stable error code is asserted. Most tests also carry a positive control showing
//! that the unmodified input verifies.
//!
//! Not applicable to the plain SD-JWT layer (covered where the feature lives):
//! - HDR-16 (x5c / x5t#S256 part), KEY-07 (x5c chain validation): the SD-JWT layer ignores
//!   embedded certificates and key hints (tested here); chain validation and conflicting
//!   hints are the SD-JWT VC layer's (`tests/x5c.rs`, `tests/did.rs`, `tests/https.rs`).
//! - HDR-10: jku / x5u are never fetched (no fetching code exists); tested as "ignored".
//! - CLM-06 (vct / status part), CLM-07, CLM-08: SD-JWT VC rules, tested in `tests/vc.rs`
//!   and `tests/x5c.rs`; CLM-09 (credential audience) has no policy yet.
//! - KB-17 (transaction_data): OID4VP is not implemented.
//! - KB-09 "replayed" (single-use nonces) is the application's job; the exact nonce match is
//!   tested.
//! - ENV-06 "10^5 claims" is bounded by `max_input_bytes` long before `max_digests`; the
//!   digest limit itself is tested with a small limit.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]
#![allow(missing_docs)]

mod common;
use common::{join, split};

// Keys and token-crafting helpers, shared with the fixture generator in attack_fixtures.rs.
#[path = "common/attack_kit.rs"]
mod attack_kit;
use attack_kit::{
    AUD, ISS, KB_HEADER, NONCE, NOW, P256_N, SD_HEADER, STD_SD, builder, builder_with, credential,
    der, dg, disc, disc_text, flip_in_seg, flip_s, fx, hex, hmac_sha256, is_high_s, issue_with,
    issuer_jwt, issuer_jwt_raw, kb_claims, kb_jwt, nest, noncanonical, payload, plain_verifier,
    provider, replace_seg, sd, seg, signed, simple, std_bare, std_claims, std_issued, std_kb,
    sub_be, with_kb, with_kb_edit, with_kb_header,
};

use std::collections::HashSet;
use std::sync::Arc;

use credkit::b64;
use credkit::crypto::{HashAlg, Signer, all_providers};
use credkit::jose::{Algorithm, Curve, PublicJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{
    Credential, KeyBindingPolicy, Limits, SdJwtBuilder, Serialization, StaticIssuerKeys,
    VerifiedSdJwt, Verifier, danger,
};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Verifier and assertion helpers (keys and token crafting are in common/attack_kit.rs)
// ---------------------------------------------------------------------------------------------

fn kb_verifier() -> Verifier {
    builder().require_key_binding(AUD, NONCE).build().unwrap()
}

fn verify_plain(s: &str) -> credkit::Result<VerifiedSdJwt> {
    plain_verifier().verify(s)
}

fn verify_kb(s: &str) -> credkit::Result<VerifiedSdJwt> {
    kb_verifier().verify(s)
}

#[track_caller]
fn code<T: std::fmt::Debug>(r: credkit::Result<T>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e.code(),
    }
}

/// The field prime p of P-256.
const P256_P: &str = "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF";

fn jwk_text(base: &PublicJwk, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut m = base.minimal_json();
    edit(&mut m);
    Value::Object(m).to_string()
}

// ---------------------------------------------------------------------------------------------
// A. Envelope, size, DoS (ENV)
// ---------------------------------------------------------------------------------------------

#[test]
fn env_01_input_too_large() {
    let pres = std_kb(&["/given_name", "/address/locality"]);
    let mut limits = Limits::default();
    limits.max_input_bytes = pres.len();
    let at = builder()
        .require_key_binding(AUD, NONCE)
        .limits(limits)
        .build()
        .unwrap();
    assert!(at.verify(&pres).is_ok(), "at the limit");
    limits.max_input_bytes = pres.len() - 1;
    let over = builder()
        .require_key_binding(AUD, NONCE)
        .limits(limits)
        .build()
        .unwrap();
    assert_eq!(code(over.verify(&pres)), "input_too_large");
    // Checked before splitting or decoding: garbage of limit+1 bytes is "too large", not
    // malformed.
    let garbage = "~.".repeat(Limits::default().max_input_bytes / 2) + "~";
    assert_eq!(code(verify_kb(&garbage)), "input_too_large");
    let json_garbage = format!("{{{}", " ".repeat(Limits::default().max_input_bytes));
    assert_eq!(code(verify_kb(&json_garbage)), "input_too_large");
    // The holder applies the same limit.
    let issued = std_issued();
    let mut l = Limits::default();
    l.max_input_bytes = issued.len() - 1;
    let hv = builder()
        .key_binding(danger::key_binding_optional())
        .limits(l)
        .build()
        .unwrap();
    assert_eq!(code(Credential::receive(&issued, &hv)), "input_too_large");
}

#[test]
fn env_02_many_separators() {
    // Thousands of dots: bounded splitn, one malformed JWT.
    let dots = ".".repeat(100_000) + "~";
    assert_eq!(code(verify_plain(&dots)), "malformed_compact");
    // Many '~' under the disclosure limit: the empty JWT is malformed.
    assert_eq!(code(verify_plain(&"~".repeat(1000))), "malformed_compact");
    // Thousands of '~': counted before splitting.
    assert_eq!(
        code(verify_plain(&"~".repeat(5000))),
        "too_many_disclosures"
    );
    // A KB-JWT made of dots.
    let (jwt, d) = simple();
    let p = sd(&jwt, &[&d]) + &".".repeat(50_000);
    assert_eq!(code(verify_kb(&p)), "malformed_compact");
}

#[test]
fn env_03_too_many_disclosures() {
    let claims = json!({"iss": ISS, "a": 1, "b": 2, "c": 3, "d": 4})
        .as_object()
        .unwrap()
        .clone();
    let mut limits = Limits::default();
    limits.max_disclosures = 3;
    let v = builder()
        .key_binding(danger::key_binding_optional())
        .limits(limits)
        .build()
        .unwrap();
    for ser in [Serialization::Compact, Serialization::Flattened] {
        let at = issue_with(
            &OsRandom,
            claims.clone(),
            &["/a", "/b", "/c"],
            ser,
            HashAlg::Sha256,
        );
        assert!(v.verify(&at).is_ok(), "{ser:?} at the limit");
        let over = issue_with(
            &OsRandom,
            claims.clone(),
            &["/a", "/b", "/c", "/d"],
            ser,
            HashAlg::Sha256,
        );
        assert!(verify_plain(&over).is_ok());
        assert_eq!(code(v.verify(&over)), "too_many_disclosures", "{ser:?}");
    }
    // With KB the count is the same (the KB-JWT is not a Disclosure).
    let kbv = builder()
        .require_key_binding(AUD, NONCE)
        .limits(limits)
        .build()
        .unwrap();
    let issued = issue_with(
        &OsRandom,
        claims.clone(),
        &["/a", "/b", "/c"],
        Serialization::Compact,
        HashAlg::Sha256,
    );
    let pres = credential(&issued)
        .present(&["/a", "/b", "/c"])
        .unwrap()
        .with_key_binding(&*fx().holder_signer, AUD, NONCE, NOW)
        .unwrap();
    assert!(kbv.verify(&pres).is_ok());
}

#[test]
fn env_04_json_depth() {
    let mut limits = Limits::default();
    limits.max_json_depth = 6;
    let v = builder()
        .key_binding(danger::key_binding_optional())
        .limits(limits)
        .build()
        .unwrap();
    // Payload: the top object is level 1.
    let ok = issuer_jwt(&payload(json!({ "deep": nest(5) })));
    assert!(v.verify(&sd(&ok, &[])).is_ok());
    let deep = issuer_jwt(&payload(json!({ "deep": nest(6) })));
    assert_eq!(code(v.verify(&sd(&deep, &[]))), "json_depth_exceeded");
    // Disclosure: the array is level 1.
    let d_ok = disc(json!(["s", "deep", nest(5)]));
    let d_deep = disc(json!(["s", "deep", nest(6)]));
    let jwt_ok = issuer_jwt(&payload(json!({ "_sd": [dg(&d_ok)] })));
    let jwt_deep = issuer_jwt(&payload(json!({ "_sd": [dg(&d_deep)] })));
    assert!(v.verify(&sd(&jwt_ok, &[&d_ok])).is_ok());
    assert_eq!(
        code(v.verify(&sd(&jwt_deep, &[&d_deep]))),
        "json_depth_exceeded"
    );
    // KB-JWT payload.
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let kbv = builder()
        .require_key_binding(AUD, NONCE)
        .limits(limits)
        .build()
        .unwrap();
    assert!(kbv.verify(&with_kb(&s)).is_ok());
    let deep_kb = with_kb_edit(&s, |c| {
        c.insert("x".into(), nest(6));
    });
    assert_eq!(code(kbv.verify(&deep_kb)), "json_depth_exceeded");
    // Header: fixed limit 8 (object + 7 arrays is fine, + 8 is not).
    let arrays = |k: usize| format!("{}0{}", "[".repeat(k), "]".repeat(k));
    let p = payload(json!({})).to_string();
    let h_ok = format!(r#"{{"alg":"ES256","typ":"sd-jwt","x":{}}}"#, arrays(7));
    let h_deep = format!(r#"{{"alg":"ES256","typ":"sd-jwt","x":{}}}"#, arrays(8));
    assert!(verify_plain(&sd(&signed(&*fx().issuer_signer, &h_ok, p.as_bytes()), &[])).is_ok());
    assert_eq!(
        code(verify_plain(&sd(
            &signed(&*fx().issuer_signer, &h_deep, p.as_bytes()),
            &[]
        ))),
        "json_depth_exceeded"
    );
    // Pathological nesting never overflows the stack.
    let bomb = arrays(50_000);
    assert_eq!(
        code(verify_plain(&sd(&issuer_jwt_raw(bomb.as_bytes()), &[]))),
        "json_depth_exceeded"
    );
    let bomb_d = disc_text(&format!(r#"["s","n",{bomb}]"#));
    assert_eq!(
        code(verify_plain(&sd(&ok, &[&bomb_d]))),
        "json_depth_exceeded"
    );
}

#[test]
fn env_05_sd_recursion_depth() {
    // {"a":{"a":{"a":{"a":{"a":{"a":"x"}}}}}} with a chain of k recursive Disclosures.
    let claims = json!({"iss": ISS, "a": {"a": {"a": {"a": {"a": {"a": "x"}}}}}})
        .as_object()
        .unwrap()
        .clone();
    let chain = |k: usize| -> Vec<String> { (1..=k).map(|i| "/a".repeat(i)).collect() };
    let issue_chain = |k: usize| {
        let c = chain(k);
        let ptrs: Vec<&str> = c.iter().map(String::as_str).collect();
        issue_with(
            &OsRandom,
            claims.clone(),
            &ptrs,
            Serialization::Compact,
            HashAlg::Sha256,
        )
    };
    let mut limits = Limits::default();
    limits.max_sd_depth = 4;
    let v = builder()
        .key_binding(danger::key_binding_optional())
        .limits(limits)
        .build()
        .unwrap();
    let at = v.verify(&issue_chain(4)).unwrap();
    assert_eq!(at.disclosed.len(), 4);
    let over = issue_chain(5);
    assert!(verify_plain(&over).is_ok());
    assert_eq!(code(v.verify(&over)), "sd_recursion_depth");
    // Array-element chains count the same way.
    let arr = json!({"iss": ISS, "l": [[[[["x"]]]]]})
        .as_object()
        .unwrap()
        .clone();
    let ptrs = ["/l/0", "/l/0/0", "/l/0/0/0", "/l/0/0/0/0", "/l/0/0/0/0/0"];
    assert!(
        v.verify(&issue_with(
            &OsRandom,
            arr.clone(),
            &ptrs[..4],
            Serialization::Compact,
            HashAlg::Sha256
        ))
        .is_ok()
    );
    assert_eq!(
        code(v.verify(&issue_with(
            &OsRandom,
            arr,
            &ptrs,
            Serialization::Compact,
            HashAlg::Sha256
        ))),
        "sd_recursion_depth"
    );
}

#[test]
fn env_06_too_many_digests() {
    let decoys = |n: usize| -> Vec<String> { (0..n).map(|i| dg(&format!("decoy-{i}"))).collect() };
    let mut limits = Limits::default();
    limits.max_digests = 8;
    let v = builder()
        .key_binding(danger::key_binding_optional())
        .limits(limits)
        .build()
        .unwrap();
    let at = issuer_jwt(&payload(json!({ "_sd": decoys(8) })));
    assert!(v.verify(&sd(&at, &[])).is_ok());
    let over = issuer_jwt(&payload(json!({ "_sd": decoys(9) })));
    assert!(verify_plain(&sd(&over, &[])).is_ok());
    assert_eq!(code(v.verify(&sd(&over, &[]))), "too_many_digests");
    // Array placeholders count too.
    let ph: Vec<Value> = decoys(9).into_iter().map(|d| json!({ "...": d })).collect();
    let arr = issuer_jwt(&payload(json!({ "list": ph })));
    assert_eq!(code(v.verify(&sd(&arr, &[]))), "too_many_digests");
}

#[test]
fn env_07_huge_values() {
    // Megabyte strings are stopped by the input limit.
    let big = disc(json!(["s", "blob", "x".repeat(1 << 20)]));
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&big)] })));
    assert_eq!(code(verify_plain(&sd(&jwt, &[&big]))), "input_too_large");
    // Out-of-range numbers are invalid JSON, not infinities.
    let p = payload(json!({})).to_string();
    let with_exp = |exp: &str| {
        p.replacen(
            &format!("\"exp\":{}", NOW + 3600),
            &format!("\"exp\":{exp}"),
            1,
        )
    };
    assert_ne!(with_exp("1"), p);
    assert_eq!(
        code(verify_plain(&sd(
            &issuer_jwt_raw(with_exp("1e400").as_bytes()),
            &[]
        ))),
        "json_invalid"
    );
    let digits = "9".repeat(10_000);
    assert_eq!(
        code(verify_plain(&sd(
            &issuer_jwt_raw(with_exp(&digits).as_bytes()),
            &[]
        ))),
        "json_invalid"
    );
    // Extreme but representable values: checked arithmetic, defined results.
    let max = issuer_jwt(&payload(json!({ "exp": i64::MAX, "nbf": i64::MIN })));
    assert!(verify_plain(&sd(&max, &[])).is_ok());
    let huge_leeway = builder()
        .key_binding(danger::key_binding_optional())
        .leeway(u64::MAX)
        .kb_max_age(u64::MAX)
        .build()
        .unwrap();
    let lenient = issuer_jwt(&payload(
        json!({ "exp": NOW - 1_000_000, "nbf": i64::MAX, "iat": i64::MAX }),
    ));
    assert!(huge_leeway.verify(&sd(&lenient, &[])).is_ok());
    let expired = issuer_jwt(&payload(json!({ "exp": i64::MIN })));
    assert_eq!(code(huge_leeway.verify(&sd(&expired, &[]))), "expired");
    let u64max = issuer_jwt(&payload(json!({ "exp": u64::MAX })));
    assert_eq!(code(verify_plain(&sd(&u64max, &[]))), "claim_invalid");
    // KB-JWT iat at the extremes.
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    assert_eq!(
        code(verify_kb(&with_kb_edit(&s, |c| {
            c.insert("iat".into(), i64::MIN.into());
        }))),
        "kb_too_old"
    );
    assert_eq!(
        code(verify_kb(&with_kb_edit(&s, |c| {
            c.insert("iat".into(), i64::MAX.into());
        }))),
        "issued_in_future"
    );
}

#[test]
fn env_08_worst_case_at_default_limits() {
    // 1024 Disclosures (the default limit) plus decoys, with Key Binding.
    let mut claims = Map::new();
    claims.insert("iss".into(), ISS.into());
    let ptrs: Vec<String> = (0..1024).map(|i| format!("/c{i:04}")).collect();
    for i in 0..1024 {
        claims.insert(format!("c{i:04}"), json!(i));
    }
    let refs: Vec<&str> = ptrs.iter().map(String::as_str).collect();
    let issued = issue_with(
        &OsRandom,
        claims,
        &refs,
        Serialization::Compact,
        HashAlg::Sha256,
    );
    assert!(issued.len() <= Limits::default().max_input_bytes);
    let cred = credential(&issued);
    let pres = cred
        .present(&refs)
        .unwrap()
        .with_key_binding(&*fx().holder_signer, AUD, NONCE, NOW)
        .unwrap();
    let start = std::time::Instant::now();
    let v = verify_kb(&pres).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(v.disclosed.len(), 1024);
    // Generous bound for unoptimised debug builds on a shared machine; G7 is measured elsewhere.
    assert!(elapsed < std::time::Duration::from_secs(10), "{elapsed:?}");
    // One more Disclosure is refused by the default limit.
    let (jwt, ds, kb) = split(&pres);
    let mut more = ds.clone();
    more.push(disc(json!(["s", "extra", 1])));
    assert_eq!(
        code(verify_kb(&join(&jwt, &more, &kb))),
        "too_many_disclosures"
    );
}

// ---------------------------------------------------------------------------------------------
// B. Encoding: base64url and JSON (ENC)
// ---------------------------------------------------------------------------------------------

#[test]
fn enc_01_base64_padding() {
    let pres = std_kb(&["/given_name"]);
    assert!(verify_kb(&pres).is_ok());
    let (jwt, ds, kb) = split(&pres);
    // JWT header segment.
    let h = seg(&jwt, 0) + "=";
    assert_eq!(
        code(verify_kb(&join(&replace_seg(&jwt, 0, &h), &ds, &kb))),
        "b64_invalid"
    );
    // Issuer signature.
    let s = seg(&jwt, 2) + "==";
    assert_eq!(
        code(verify_kb(&join(&replace_seg(&jwt, 2, &s), &ds, &kb))),
        "b64_invalid"
    );
    // Disclosure.
    let mut padded = ds.clone();
    padded[0].push('=');
    assert_eq!(code(verify_kb(&join(&jwt, &padded, &kb))), "b64_invalid");
    // KB-JWT.
    let kbs = seg(&kb, 2) + "==";
    assert_eq!(
        code(verify_kb(&join(&jwt, &ds, &replace_seg(&kb, 2, &kbs)))),
        "b64_invalid"
    );
}

/// Finds a variant (indexed by i) whose text contains a URL-safe-only character.
fn with_url_chars(make: impl Fn(usize) -> String) -> String {
    (0..256)
        .map(make)
        .find(|s| s.contains('-') || s.contains('_'))
        .expect("no variant with - or _")
}

fn to_std_alphabet(s: &str) -> String {
    s.replace('-', "+").replace('_', "/")
}

#[test]
fn enc_02_standard_alphabet() {
    let d = with_url_chars(|i| disc(json!([format!("salt{i}"), "q", "???>>>~~~"])));
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
    assert!(verify_plain(&sd(&jwt, &[&d])).is_ok());
    assert_eq!(
        code(verify_plain(&sd(&jwt, &[&to_std_alphabet(&d)]))),
        "b64_invalid"
    );
    // In the issuer JWT's header.
    let jwt = with_url_chars(|i| {
        signed(
            &*fx().issuer_signer,
            &format!(
                r#"{{"alg":"ES256","typ":"sd-jwt","x":"{}???>>>"}}"#,
                "p".repeat(i)
            ),
            payload(json!({})).to_string().as_bytes(),
        )
        .split('.')
        .next()
        .unwrap()
        .to_owned()
    });
    let full = signed(
        &*fx().issuer_signer,
        &String::from_utf8(b64::decode(&jwt, "t").unwrap()).unwrap(),
        payload(json!({})).to_string().as_bytes(),
    );
    assert!(verify_plain(&sd(&full, &[])).is_ok());
    let bad = replace_seg(&full, 0, &to_std_alphabet(&jwt));
    assert_eq!(code(verify_plain(&sd(&bad, &[]))), "b64_invalid");
}

#[test]
fn enc_03_whitespace() {
    let pres = std_kb(&["/given_name"]);
    assert_eq!(code(verify_kb(&format!(" {pres}"))), "b64_invalid");
    assert_eq!(code(verify_kb(&format!("{pres}\n"))), "b64_invalid");
    assert_eq!(code(verify_kb(&format!("{pres}\r\n"))), "b64_invalid");
    let (jwt, ds, kb) = split(&pres);
    let mut spaced = ds.clone();
    spaced[0].insert(4, '\t');
    assert_eq!(code(verify_kb(&join(&jwt, &spaced, &kb))), "b64_invalid");
    spaced = ds.clone();
    spaced[0].insert(8, ' ');
    assert_eq!(code(verify_kb(&join(&jwt, &spaced, &kb))), "b64_invalid");
    let p = seg(&jwt, 1);
    let wrapped = format!("{}\n{}", &p[..10], &p[10..]);
    assert_eq!(
        code(verify_kb(&join(&replace_seg(&jwt, 1, &wrapped), &ds, &kb))),
        "b64_invalid"
    );
}

#[test]
fn enc_04_non_alphabet() {
    let pres = std_kb(&["/given_name"]);
    let (jwt, ds, kb) = split(&pres);
    for c in ['?', '#', '*', '%', '!', '$'] {
        let mut bad = ds.clone();
        bad[0].replace_range(3..4, &c.to_string());
        assert_eq!(
            code(verify_kb(&join(&jwt, &bad, &kb))),
            "b64_invalid",
            "{c}"
        );
        let mut s = seg(&jwt, 2);
        s.replace_range(5..6, &c.to_string());
        assert_eq!(
            code(verify_kb(&join(&replace_seg(&jwt, 2, &s), &ds, &kb))),
            "b64_invalid",
            "{c}"
        );
    }
}

#[test]
fn enc_05_non_canonical_trailing_bits() {
    let pres = std_kb(&["/given_name"]);
    let (jwt, ds, kb) = split(&pres);
    // 64-byte signatures leave 4 unused bits.
    let sig = noncanonical(&seg(&jwt, 2)).unwrap();
    assert_eq!(
        code(verify_kb(&join(&replace_seg(&jwt, 2, &sig), &ds, &kb))),
        "b64_invalid"
    );
    let kbsig = noncanonical(&seg(&kb, 2)).unwrap();
    assert_eq!(
        code(verify_kb(&join(&jwt, &ds, &replace_seg(&kb, 2, &kbsig)))),
        "b64_invalid"
    );
    // A Disclosure whose length leaves unused bits.
    let d = (0..8)
        .map(|i| {
            disc(json!([
                format!("s{}", "x".repeat(i)),
                "given_name",
                "Erika"
            ]))
        })
        .find(|d| d.len() % 4 != 0)
        .unwrap();
    let jwt2 = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
    assert!(verify_plain(&sd(&jwt2, &[&d])).is_ok());
    assert_eq!(
        code(verify_plain(&sd(&jwt2, &[&noncanonical(&d).unwrap()]))),
        "b64_invalid"
    );
}

#[test]
fn enc_06_length_1_mod_4() {
    let pres = std_kb(&["/given_name"]);
    let (jwt, ds, kb) = split(&pres);
    let s = seg(&jwt, 2);
    assert_eq!(s.len() % 4, 2);
    let short = &s[..s.len() - 1];
    assert_eq!(
        code(verify_kb(&join(&replace_seg(&jwt, 2, short), &ds, &kb))),
        "b64_invalid"
    );
    let mut bad = ds.clone();
    while bad[0].len() % 4 != 1 {
        bad[0].push('A');
    }
    assert_eq!(code(verify_kb(&join(&jwt, &bad, &kb))), "b64_invalid");
}

#[test]
fn enc_07_empty_parts() {
    let (jwt, d) = simple();
    assert!(verify_plain(&sd(&jwt, &[&d])).is_ok());
    // Empty header, empty signature, ".." .
    assert_eq!(
        code(verify_plain(&sd(&replace_seg(&jwt, 0, ""), &[&d]))),
        "malformed_compact"
    );
    assert_eq!(
        code(verify_plain(&sd(&replace_seg(&jwt, 2, ""), &[&d]))),
        "malformed_compact"
    );
    assert_eq!(code(verify_plain("..~")), "malformed_compact");
    // Empty payload, properly signed: not a JSON object.
    let empty_payload = issuer_jwt_raw(b"");
    assert_eq!(code(verify_plain(&sd(&empty_payload, &[]))), "json_invalid");
    // Empty Disclosure "~~".
    assert_eq!(code(verify_plain(&format!("{jwt}~~"))), "malformed_sd_jwt");
    assert_eq!(
        code(verify_plain(&format!("{jwt}~{d}~~"))),
        "malformed_sd_jwt"
    );
    assert_eq!(
        code(verify_plain(&format!("{jwt}~~{d}~"))),
        "malformed_sd_jwt"
    );
    // Empty KB-JWT segments.
    assert_eq!(
        code(verify_kb(&format!("{jwt}~{d}~.."))),
        "malformed_compact"
    );
    // JSON serialization: an empty Disclosure string.
    let flat = issue_with(
        &OsRandom,
        std_claims(),
        &["/given_name"],
        Serialization::Flattened,
        HashAlg::Sha256,
    );
    let mut v: Value = serde_json::from_str(&flat).unwrap();
    v["header"]["disclosures"]
        .as_array_mut()
        .unwrap()
        .push(json!(""));
    assert_eq!(code(verify_plain(&v.to_string())), "disclosure_invalid");
}

#[test]
fn enc_08_not_utf8() {
    let bad_payloads: [&[u8]; 4] = [
        b"{\"iss\":\"\xc0\xaf\"}",                          // overlong '/'
        b"{\"iss\":\"\xed\xa0\x80\"}",                      // CESU-8 surrogate
        b"\xef\xbb\xbf{\"iss\":\"x\"}",                     // BOM
        b"{\x00\"\x00i\x00s\x00s\x00\"\x00:\x001\x00}\x00", // UTF-16LE
    ];
    for p in bad_payloads {
        assert_eq!(
            code(verify_plain(&sd(&issuer_jwt_raw(p), &[]))),
            "json_invalid",
            "{p:?}"
        );
    }
    let d = b64::encode(b"[\"s\",\"n\",\"\xc0\xaf\"]");
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), "json_invalid");
    // Header.
    let h = b"{\"alg\":\"ES256\",\"typ\":\"\xff\"}";
    let input = format!(
        "{}.{}",
        b64::encode(h),
        b64::encode(payload(json!({})).to_string().as_bytes())
    );
    let sig = fx().issuer_signer.sign(input.as_bytes()).unwrap();
    assert_eq!(
        code(verify_plain(&sd(
            &format!("{input}.{}", b64::encode(&sig)),
            &[]
        ))),
        "json_invalid"
    );
}

#[test]
fn enc_09_lone_surrogate() {
    let p = br#"{"iss":"https://issuer.example","name":"\ud800"}"#;
    assert_eq!(
        code(verify_plain(&sd(&issuer_jwt_raw(p), &[]))),
        "json_invalid"
    );
    let d = disc_text(r#"["s","name","\udc00x"]"#);
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), "json_invalid");
    // A proper pair is fine.
    let d = disc_text(r#"["s","name","\ud83d\ude00"]"#);
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
    assert_eq!(
        verify_plain(&sd(&jwt, &[&d])).unwrap().claims["name"],
        "\u{1F600}"
    );
}

#[test]
fn enc_10_duplicate_header_names() {
    let p = payload(json!({})).to_string();
    for h in [
        r#"{"alg":"ES256","typ":"sd-jwt","alg":"ES256"}"#,
        r#"{"alg":"ES256","typ":"sd-jwt","typ":"kb+jwt"}"#,
        r#"{"alg":"ES256","typ":"sd-jwt","kid":"a","kid":"b"}"#,
    ] {
        let jwt = signed(&*fx().issuer_signer, h, p.as_bytes());
        assert_eq!(
            code(verify_plain(&sd(&jwt, &[]))),
            "json_duplicate_key",
            "{h}"
        );
    }
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let kb = with_kb_header(&s, r#"{"alg":"ES256","typ":"kb+jwt","typ":"kb+jwt"}"#);
    assert_eq!(code(verify_kb(&kb)), "json_duplicate_key");
}

#[test]
fn enc_11_duplicate_claim_names() {
    let base = payload(json!({})).to_string();
    let body = &base[1..];
    for dup in [
        r#"{"iss":"https://evil.example","#,
        r#"{"_sd":[],"_sd":[],"#,
        r#"{"cnf":{"jwk":{}},"#,
        r#"{"_sd_alg":"sha-512","#,
    ] {
        let text = format!("{dup}{body}");
        assert_eq!(
            code(verify_plain(&sd(&issuer_jwt_raw(text.as_bytes()), &[]))),
            "json_duplicate_key",
            "{dup}"
        );
    }
    // KB-JWT claims.
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let c = Value::Object(kb_claims(&s)).to_string();
    let dup = format!(r#"{{"nonce":"other",{}"#, &c[1..]);
    let kb = signed(&*fx().holder_signer, KB_HEADER, dup.as_bytes());
    assert_eq!(code(verify_kb(&format!("{s}{kb}"))), "json_duplicate_key");
}

#[test]
fn enc_12_nested_duplicate_keys() {
    let jwk = fx().holder.public().minimal_json();
    let x = jwk["x"].as_str().unwrap();
    let jwk_text = Value::Object(jwk.clone()).to_string();
    let dup_jwk = format!(r#"{{"x":"{x}",{}"#, &jwk_text[1..]);
    let text = format!(r#"{{"iss":"{ISS}","cnf":{{"jwk":{dup_jwk}}}}}"#);
    assert_eq!(
        code(verify_plain(&sd(&issuer_jwt_raw(text.as_bytes()), &[]))),
        "json_duplicate_key"
    );
    // In a Disclosure value.
    let d = disc_text(r#"["s","address",{"country":"DE","country":"FR"}]"#);
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), "json_duplicate_key");
    // Deep inside an array in the payload.
    let text = format!(r#"{{"iss":"{ISS}","l":[1,[{{"a":1,"b":{{"c":1,"c":2}}}}]]}}"#);
    assert_eq!(
        code(verify_plain(&sd(&issuer_jwt_raw(text.as_bytes()), &[]))),
        "json_duplicate_key"
    );
}

#[test]
fn enc_13_trailing_bytes() {
    let p = payload(json!({})).to_string();
    for t in [format!("{p} x"), format!("{p}{{}}"), format!("{p}\u{0}")] {
        assert_eq!(
            code(verify_plain(&sd(&issuer_jwt_raw(t.as_bytes()), &[]))),
            "json_invalid"
        );
    }
    // Trailing white space is allowed by RFC 8259 and harmless.
    assert!(verify_plain(&sd(&issuer_jwt_raw(format!("{p} \n").as_bytes()), &[])).is_ok());
    let h = format!("{SD_HEADER}x");
    assert_eq!(
        code(verify_plain(&sd(
            &signed(&*fx().issuer_signer, &h, p.as_bytes()),
            &[]
        ))),
        "json_invalid"
    );
    let d = disc_text(r#"["s","n","v"]]"#);
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), "json_invalid");
}

#[test]
fn enc_14_not_an_object() {
    for p in [&b"[1]"[..], b"\"str\"", b"42", b"null"] {
        assert_eq!(
            code(verify_plain(&sd(&issuer_jwt_raw(p), &[]))),
            "json_unexpected_type"
        );
    }
    let jwt = signed(
        &*fx().issuer_signer,
        r#"["ES256"]"#,
        payload(json!({})).to_string().as_bytes(),
    );
    assert_eq!(code(verify_plain(&sd(&jwt, &[]))), "json_unexpected_type");
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let kb = signed(&*fx().holder_signer, KB_HEADER, b"[]");
    assert_eq!(code(verify_kb(&format!("{s}{kb}"))), "json_unexpected_type");
}

#[test]
fn enc_15_escaped_names() {
    let p = payload(json!({})).to_string();
    // An escaped "alg" is "alg".
    let jwt = signed(
        &*fx().issuer_signer,
        r#"{"\u0061lg":"ES256","typ":"sd-jwt"}"#,
        p.as_bytes(),
    );
    assert!(verify_plain(&sd(&jwt, &[])).is_ok());
    let jwt = signed(
        &*fx().issuer_signer,
        r#"{"alg":"ES256","\u0061lg":"none"}"#,
        p.as_bytes(),
    );
    assert_eq!(code(verify_plain(&sd(&jwt, &[]))), "json_duplicate_key");
    // An escaped "_sd" is "_sd": digests are processed, malformed ones rejected.
    let d = disc(json!(["s", "given_name", "Erika"]));
    let text = format!(r#"{{"iss":"{ISS}","\u005fsd":["{}"]}}"#, dg(&d));
    let v = verify_plain(&sd(&issuer_jwt_raw(text.as_bytes()), &[&d])).unwrap();
    assert_eq!(v.claims["given_name"], "Erika");
    assert!(!v.claims.contains_key("_sd"));
    let text = format!(r#"{{"iss":"{ISS}","\u005fsd":"x"}}"#);
    assert_eq!(
        code(verify_plain(&sd(&issuer_jwt_raw(text.as_bytes()), &[]))),
        "sd_invalid"
    );
    // An escaped "..." placeholder.
    let e = disc(json!(["s", "FR"]));
    let text = format!(r#"{{"iss":"{ISS}","l":[{{"\u002e..":"{}"}}]}}"#, dg(&e));
    let v = verify_plain(&sd(&issuer_jwt_raw(text.as_bytes()), &[&e])).unwrap();
    assert_eq!(v.claims["l"], json!(["FR"]));
    // An escaped "_sd_alg".
    let text = format!(r#"{{"iss":"{ISS}","\u005fsd_alg":"SHA-256"}}"#);
    assert_eq!(
        code(verify_plain(&sd(&issuer_jwt_raw(text.as_bytes()), &[]))),
        "sd_alg_unsupported"
    );
}

#[test]
fn enc_16_look_alike_identifiers() {
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    // Zero-width space in aud.
    let kb = with_kb_edit(&s, |c| {
        c.insert("aud".into(), format!("{AUD}\u{200b}").into());
    });
    assert_eq!(code(verify_kb(&kb)), "aud_mismatch");
    // NFC vs NFD nonce.
    let nfc = builder()
        .require_key_binding(AUD, "caf\u{e9}")
        .build()
        .unwrap();
    let nfd = with_kb_edit(&s, |c| {
        c.insert("nonce".into(), "cafe\u{301}".into());
    });
    assert_eq!(code(nfc.verify(&nfd)), "nonce_mismatch");
    let ok = with_kb_edit(&s, |c| {
        c.insert("nonce".into(), "caf\u{e9}".into());
    });
    assert!(nfc.verify(&ok).is_ok());
    // typ with a zero-width joiner / look-alike hyphen.
    assert_eq!(
        code(verify_kb(&with_kb_header(
            &s,
            "{\"alg\":\"ES256\",\"typ\":\"kb+jwt\u{200d}\"}"
        ))),
        "typ_mismatch"
    );
    let typed = builder()
        .key_binding(danger::key_binding_optional())
        .expect_typ(&["sd-jwt"])
        .build()
        .unwrap();
    let p = payload(json!({})).to_string();
    let jwt2 = signed(
        &*fx().issuer_signer,
        "{\"alg\":\"ES256\",\"typ\":\"sd\u{2010}jwt\"}",
        p.as_bytes(),
    );
    assert_eq!(code(typed.verify(&sd(&jwt2, &[]))), "typ_mismatch");
    // Claim names are not normalised: no collision, both stay.
    let d2 = disc(json!(["s", "given_name", "Erika"]));
    let jwt3 = issuer_jwt(&payload(
        json!({ "given\u{200b}name": "Mallory", "_sd": [dg(&d2)] }),
    ));
    let v = verify_plain(&sd(&jwt3, &[&d2])).unwrap();
    assert_eq!(v.claims["given_name"], "Erika");
    assert_eq!(v.claims["given\u{200b}name"], "Mallory");
}

#[test]
fn enc_17_json_serialization_where_compact_expected() {
    let pres = std_kb(&["/given_name"]);
    let (jwt, ds, kb) = split(&pres);
    // The KB-JWT as a flattened JWS JSON object.
    let kb_json = json!({
        "protected": seg(&kb, 0), "payload": seg(&kb, 1), "signature": seg(&kb, 2)
    })
    .to_string();
    assert_eq!(
        code(verify_kb(&join(&jwt, &ds, &kb_json))),
        "malformed_compact"
    );
    // In the JSON serialization, kb_jwt must be a compact string.
    let flat = issue_with(
        &OsRandom,
        std_claims(),
        &["/given_name"],
        Serialization::Flattened,
        HashAlg::Sha256,
    );
    let mut v: Value = serde_json::from_str(&flat).unwrap();
    v["header"]["kb_jwt"] = json!({ "protected": seg(&kb, 0) });
    assert_eq!(
        code(verify_kb(&v.to_string())),
        "malformed_json_serialization"
    );
    // An issuer JWT in JSON form inside a compact SD-JWT.
    let jwt_json =
        json!({"protected": seg(&jwt, 0), "payload": seg(&jwt, 1), "signature": seg(&jwt, 2)})
            .to_string();
    assert_eq!(
        code(verify_kb(&join(&format!("x{jwt_json}"), &ds, &kb))),
        "malformed_compact"
    );
}

#[test]
fn enc_18_jwe_or_extra_segments() {
    let pres = std_kb(&["/given_name"]);
    let (jwt, ds, kb) = split(&pres);
    assert_eq!(
        code(verify_kb(&join(&format!("{jwt}.AAAA.AAAA"), &ds, &kb))),
        "malformed_compact"
    );
    assert_eq!(
        code(verify_kb(&join(&format!("{jwt}.AAAA"), &ds, &kb))),
        "malformed_compact"
    );
    assert_eq!(
        code(verify_kb(&join(&jwt, &ds, &format!("{kb}.AAAA.AAAA")))),
        "malformed_compact"
    );
    // A JWE-style header.
    let p = payload(json!({})).to_string();
    let jwe = signed(
        &*fx().issuer_signer,
        r#"{"alg":"ES256","enc":"A256GCM"}"#,
        p.as_bytes(),
    );
    assert_eq!(code(verify_plain(&sd(&jwe, &[]))), "header_invalid");
}

// ---------------------------------------------------------------------------------------------
// C. JOSE header (HDR)
// ---------------------------------------------------------------------------------------------

#[test]
fn hdr_01_alg_none() {
    let p = payload(json!({})).to_string();
    let real = signed(&*fx().issuer_signer, SD_HEADER, p.as_bytes());
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let h = format!(r#"{{"alg":"{alg}","typ":"sd-jwt"}}"#);
        let forged = replace_seg(&real, 0, &b64::encode(h.as_bytes()));
        assert_eq!(
            code(verify_plain(&sd(&forged, &[]))),
            "alg_not_allowed",
            "{alg}"
        );
        // With an empty signature the envelope is already malformed.
        let unsigned = replace_seg(&forged, 2, "");
        assert_eq!(
            code(verify_plain(&sd(&unsigned, &[]))),
            "malformed_compact",
            "{alg}"
        );
    }
    // KB-JWT with alg none.
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let kb = with_kb(&s);
    let (_, _, k) = split(&kb);
    let none = replace_seg(&k, 0, &b64::encode(br#"{"alg":"none","typ":"kb+jwt"}"#));
    assert_eq!(code(verify_kb(&format!("{s}{none}"))), "alg_not_allowed");
}

#[test]
fn hdr_02_hs256_with_public_key_as_secret() {
    let p = payload(json!({})).to_string();
    let header = r#"{"alg":"HS256","typ":"sd-jwt"}"#;
    let input = format!(
        "{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(p.as_bytes())
    );
    let pk = fx().issuer.public();
    let mut sec1 = vec![4u8];
    sec1.extend(pk.x());
    sec1.extend(pk.y().unwrap());
    let jwk_text = Value::Object(pk.minimal_json()).to_string();
    for secret in [sec1.as_slice(), jwk_text.as_bytes(), pk.x()] {
        let mac = hmac_sha256(secret, input.as_bytes());
        let token = format!("{input}.{}", b64::encode(&mac));
        assert_eq!(code(verify_plain(&sd(&token, &[]))), "alg_not_allowed");
    }
}

#[test]
fn hdr_03_alg_outside_allow_list() {
    let p = payload(json!({})).to_string();
    // Keys of other algorithms are trusted, but this verifier allows ES256 only.
    let mut ks = StaticIssuerKeys::single(fx().issuer.public(), provider()).unwrap();
    ks.add(fx().p384.public(), provider()).unwrap();
    ks.add(fx().ed.public(), provider()).unwrap();
    let ks = Arc::new(ks);
    let es256_only = builder_with(ks.clone())
        .key_binding(danger::key_binding_optional())
        .algorithms(&[Algorithm::Es256])
        .build()
        .unwrap();
    let all = builder_with(ks)
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap();
    let es384 = signed(
        &*fx().p384_signer,
        r#"{"alg":"ES384","typ":"sd-jwt"}"#,
        p.as_bytes(),
    );
    let eddsa = signed(
        &*fx().ed_signer,
        r#"{"alg":"EdDSA","typ":"sd-jwt"}"#,
        p.as_bytes(),
    );
    for t in [&es384, &eddsa] {
        assert!(all.verify(&sd(t, &[])).is_ok());
        assert_eq!(code(es256_only.verify(&sd(t, &[]))), "alg_not_allowed");
    }
    // Algorithms credkit does not implement at all.
    let real = signed(&*fx().issuer_signer, SD_HEADER, p.as_bytes());
    for alg in ["RS256", "PS256", "ES256K", "es256", "HS512"] {
        let h = format!(r#"{{"alg":"{alg}","typ":"sd-jwt"}}"#);
        let forged = replace_seg(&real, 0, &b64::encode(h.as_bytes()));
        assert_eq!(
            code(all.verify(&sd(&forged, &[]))),
            "alg_not_allowed",
            "{alg}"
        );
    }
}

#[test]
fn hdr_04_header_alg_vs_key() {
    let p = payload(json!({})).to_string();
    // The trusted key (kid k1) is P-384; the token claims ES256 with that kid.
    let p384_kid = fx().p384.public().clone().with_kid("k1");
    let ks = Arc::new(StaticIssuerKeys::single(&p384_kid, provider()).unwrap());
    let v = builder_with(ks.clone())
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap();
    let t = signed(
        &*fx().issuer_signer,
        r#"{"alg":"ES256","kid":"k1"}"#,
        p.as_bytes(),
    );
    assert_eq!(code(v.verify(&sd(&t, &[]))), "alg_not_allowed");
    let good = signed(
        &*fx().p384_signer,
        r#"{"alg":"ES384","kid":"k1"}"#,
        p.as_bytes(),
    );
    assert!(v.verify(&sd(&good, &[])).is_ok());
    // Without kid no key of that algorithm is trusted.
    let ks = Arc::new(StaticIssuerKeys::single(fx().p384.public(), provider()).unwrap());
    let v = builder_with(ks)
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap();
    let t = signed(&*fx().issuer_signer, r#"{"alg":"ES256"}"#, p.as_bytes());
    assert_eq!(code(v.verify(&sd(&t, &[]))), "unknown_key");
    // A JWK whose alg disagrees with its curve, and a key loaded for the wrong algorithm.
    let text = jwk_text(fx().p384.public(), |m| {
        m.insert("alg".into(), "ES256".into());
    });
    assert_eq!(code(PublicJwk::parse(&text)), "key_alg_mismatch");
    for p in all_providers() {
        assert_eq!(
            code(p.verifying_key(fx().issuer.public(), Algorithm::Es384)),
            "key_alg_mismatch"
        );
    }
}

#[test]
fn hdr_05_alg_missing_or_not_string() {
    let p = payload(json!({})).to_string();
    for h in [
        r#"{"typ":"sd-jwt"}"#,
        r#"{"alg":256,"typ":"sd-jwt"}"#,
        r#"{"alg":["ES256"],"typ":"sd-jwt"}"#,
        r#"{"alg":null,"typ":"sd-jwt"}"#,
        r#"{"alg":{"name":"ES256"}}"#,
    ] {
        let t = signed(&*fx().issuer_signer, h, p.as_bytes());
        assert_eq!(code(verify_plain(&sd(&t, &[]))), "header_invalid", "{h}");
    }
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    assert_eq!(
        code(verify_kb(&with_kb_header(&s, r#"{"typ":"kb+jwt"}"#))),
        "header_invalid"
    );
}

#[test]
fn hdr_06_crit_unsupported() {
    let p = payload(json!({})).to_string();
    let t = signed(
        &*fx().issuer_signer,
        r#"{"alg":"ES256","crit":["exp"],"exp":1}"#,
        p.as_bytes(),
    );
    assert_eq!(code(verify_plain(&sd(&t, &[]))), "crit_unsupported");
    let t = signed(
        &*fx().issuer_signer,
        r#"{"alg":"ES256","crit":["x-ext"],"x-ext":true}"#,
        p.as_bytes(),
    );
    assert_eq!(code(verify_plain(&sd(&t, &[]))), "crit_unsupported");
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let kb = with_kb_header(&s, r#"{"alg":"ES256","typ":"kb+jwt","crit":["x"],"x":1}"#);
    assert_eq!(code(verify_kb(&kb)), "crit_unsupported");
}

#[test]
fn hdr_07_crit_malformed() {
    let p = payload(json!({})).to_string();
    for h in [
        r#"{"alg":"ES256","crit":[]}"#,
        r#"{"alg":"ES256","crit":"x","x":1}"#,
        r#"{"alg":"ES256","crit":["alg"]}"#,
        r#"{"alg":"ES256","crit":["typ"],"typ":"sd-jwt"}"#,
        r#"{"alg":"ES256","crit":["x","x"],"x":1}"#,
        r#"{"alg":"ES256","crit":["x"]}"#,
        r#"{"alg":"ES256","crit":[1]}"#,
        r#"{"alg":"ES256","crit":null}"#,
    ] {
        let t = signed(&*fx().issuer_signer, h, p.as_bytes());
        assert_eq!(code(verify_plain(&sd(&t, &[]))), "header_invalid", "{h}");
    }
}

#[test]
fn hdr_08_b64_false() {
    let p = payload(json!({})).to_string();
    for h in [
        r#"{"alg":"ES256","b64":false,"crit":["b64"]}"#,
        r#"{"alg":"ES256","b64":false}"#,
        r#"{"alg":"ES256","b64":true}"#,
    ] {
        let t = signed(&*fx().issuer_signer, h, p.as_bytes());
        assert_eq!(code(verify_plain(&sd(&t, &[]))), "header_invalid", "{h}");
    }
}

#[test]
fn hdr_09_kid_unknown_or_injection() {
    let p = payload(json!({})).to_string();
    let kid_key = fx().issuer.public().clone().with_kid("issuer-1");
    let ks = Arc::new(StaticIssuerKeys::single(&kid_key, provider()).unwrap());
    let v = builder_with(ks)
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap();
    let ok = signed(
        &*fx().issuer_signer,
        r#"{"alg":"ES256","kid":"issuer-1"}"#,
        p.as_bytes(),
    );
    assert!(v.verify(&sd(&ok, &[])).is_ok());
    for kid in [
        "issuer-2",
        "../../dev/null",
        "' OR 1=1 --",
        "issuer-1 ",
        "ISSUER-1",
        "issuer-",
        "",
    ] {
        let h = json!({"alg": "ES256", "kid": kid}).to_string();
        let t = signed(&*fx().issuer_signer, &h, p.as_bytes());
        assert_eq!(code(v.verify(&sd(&t, &[]))), "unknown_key", "{kid:?}");
    }
}

#[test]
fn hdr_10_jku_x5u_never_dereferenced() {
    let p = payload(json!({})).to_string();
    let h = json!({
        "alg": "ES256", "typ": "sd-jwt",
        "jku": "https://attacker.example/jwks.json",
        "x5u": "http://169.254.169.254/latest/meta-data/"
    })
    .to_string();
    // Signed by the attacker whose key sits behind jku: rejected, the URL is never used.
    let t = signed(&*fx().attacker_signer, &h, p.as_bytes());
    assert_eq!(code(verify_plain(&sd(&t, &[]))), "invalid_signature");
    // Signed by the trusted key: the hints are inert.
    let t = signed(&*fx().issuer_signer, &h, p.as_bytes());
    assert!(verify_plain(&sd(&t, &[])).is_ok());
}

#[test]
fn hdr_11_embedded_jwk_self_verify() {
    let p = payload(json!({})).to_string();
    let h = json!({
        "alg": "ES256", "typ": "sd-jwt",
        "jwk": Value::Object(fx().attacker.public().minimal_json())
    })
    .to_string();
    let t = signed(&*fx().attacker_signer, &h, p.as_bytes());
    assert_eq!(code(verify_plain(&sd(&t, &[]))), "invalid_signature");
}

#[test]
fn hdr_12_private_or_symmetric_jwk() {
    // cnf.jwk with the private scalar, or a symmetric key.
    let holder_d = b64::encode(fx().holder.d());
    let mut with_d = fx().holder.public().minimal_json();
    with_d.insert("d".into(), holder_d.into());
    for jwk in [
        Value::Object(with_d),
        json!({"kty": "oct", "k": b64::encode(b"secret-secret-secret")}),
    ] {
        let jwt = issuer_jwt(&payload(json!({ "cnf": { "jwk": jwk } })));
        assert_eq!(code(verify_kb(&with_kb(&sd(&jwt, &[])))), "cnf_invalid");
    }
    // A protected-header jwk that leaks private material is refused even though unused.
    let p = payload(json!({})).to_string();
    let mut leak = fx().issuer.public().minimal_json();
    leak.insert("d".into(), b64::encode(fx().issuer.d()).into());
    let h = json!({"alg": "ES256", "typ": "sd-jwt", "jwk": Value::Object(leak)}).to_string();
    let t = signed(&*fx().issuer_signer, &h, p.as_bytes());
    assert_eq!(code(verify_plain(&sd(&t, &[]))), "key_private_material");
    let h = json!({"alg": "ES256", "typ": "sd-jwt", "jwk": {"kty": "oct", "k": "c2VjcmV0"}})
        .to_string();
    let t = signed(&*fx().issuer_signer, &h, p.as_bytes());
    assert_eq!(code(verify_plain(&sd(&t, &[]))), "key_private_material");
    // A public header jwk is inert.
    let h = json!({"alg": "ES256", "typ": "sd-jwt", "jwk": Value::Object(fx().issuer.public().minimal_json())})
        .to_string();
    assert!(verify_plain(&sd(&signed(&*fx().issuer_signer, &h, p.as_bytes()), &[])).is_ok());
}

#[test]
fn hdr_13_typ_explicit_typing() {
    let p = payload(json!({})).to_string();
    let v = builder()
        .key_binding(danger::key_binding_optional())
        .expect_typ(&["example+sd-jwt"])
        .build()
        .unwrap();
    for (h, ok) in [
        (r#"{"alg":"ES256","typ":"example+sd-jwt"}"#, true),
        (
            r#"{"alg":"ES256","typ":"application/example+sd-jwt"}"#,
            true,
        ),
        (r#"{"alg":"ES256","typ":"EXAMPLE+SD-JWT"}"#, true),
        (r#"{"alg":"ES256"}"#, false),
        (r#"{"alg":"ES256","typ":"JWT"}"#, false),
        (r#"{"alg":"ES256","typ":"sd-jwt"}"#, false),
        (r#"{"alg":"ES256","typ":"example+sd-jwt+x"}"#, false),
        (r#"{"alg":"ES256","typ":["example+sd-jwt"]}"#, false),
    ] {
        let t = signed(&*fx().issuer_signer, h, p.as_bytes());
        let r = v.verify(&sd(&t, &[]));
        if ok {
            assert!(r.is_ok(), "{h}: {r:?}");
        } else {
            assert_eq!(code(r), "typ_mismatch", "{h}");
        }
    }
}

#[test]
fn hdr_14_cross_jwt_confusion() {
    let pres = std_kb(&["/given_name"]);
    let (jwt, ds, kb) = split(&pres);
    let typed = builder()
        .require_key_binding(AUD, NONCE)
        .expect_typ(&["sd-jwt"])
        .build()
        .unwrap();
    assert!(typed.verify(&pres).is_ok());
    // The KB-JWT presented as the credential.
    let typed_plain = builder()
        .key_binding(danger::key_binding_optional())
        .expect_typ(&["sd-jwt"])
        .build()
        .unwrap();
    assert_eq!(code(typed_plain.verify(&format!("{kb}~"))), "typ_mismatch");
    // The issuer JWT presented as the KB-JWT.
    assert_eq!(code(verify_kb(&join(&jwt, &ds, &jwt))), "typ_mismatch");
    // A kb+jwt-typed token signed by the issuer key is never an SD-JWT, even without a typ
    // policy (mutually exclusive validation rules, RFC 8725 §3.12).
    let t = signed(
        &*fx().issuer_signer,
        KB_HEADER,
        payload(json!({})).to_string().as_bytes(),
    );
    assert_eq!(code(verify_plain(&sd(&t, &[]))), "typ_mismatch");
    let t = signed(
        &*fx().issuer_signer,
        r#"{"alg":"ES256","typ":"application/KB+JWT"}"#,
        payload(json!({})).to_string().as_bytes(),
    );
    assert_eq!(code(verify_plain(&sd(&t, &[]))), "typ_mismatch");
}

#[test]
fn hdr_15_zip() {
    let p = payload(json!({})).to_string();
    let t = signed(
        &*fx().issuer_signer,
        r#"{"alg":"ES256","zip":"DEF"}"#,
        p.as_bytes(),
    );
    assert_eq!(code(verify_plain(&sd(&t, &[]))), "header_invalid");
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    assert_eq!(
        code(verify_kb(&with_kb_header(
            &s,
            r#"{"alg":"ES256","typ":"kb+jwt","zip":"DEF"}"#
        ))),
        "header_invalid"
    );
}

#[test]
fn hdr_16_conflicting_key_hints() {
    // x5c / x5t#S256 validation is not implemented (not applicable); what exists: the kid
    // picks the trusted key and the other hints can never redirect verification.
    let p = payload(json!({})).to_string();
    let kid_key = fx().issuer.public().clone().with_kid("issuer-1");
    let ks = Arc::new(StaticIssuerKeys::single(&kid_key, provider()).unwrap());
    let v = builder_with(ks)
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap();
    let h = json!({
        "alg": "ES256", "kid": "issuer-1",
        "jwk": Value::Object(fx().attacker.public().minimal_json()),
        "x5t#S256": "AAAA", "x5c": ["MIIB"]
    })
    .to_string();
    assert_eq!(
        code(v.verify(&sd(&signed(&*fx().attacker_signer, &h, p.as_bytes()), &[]))),
        "invalid_signature"
    );
    assert!(
        v.verify(&sd(&signed(&*fx().issuer_signer, &h, p.as_bytes()), &[]))
            .is_ok()
    );
}

#[test]
fn hdr_17_security_params_in_unprotected_header() {
    let flat = issue_with(
        &OsRandom,
        std_claims(),
        &["/given_name"],
        Serialization::Flattened,
        HashAlg::Sha256,
    );
    assert!(verify_plain(&flat).is_ok());
    let base: Value = serde_json::from_str(&flat).unwrap();
    for (name, val) in [
        ("alg", json!("ES256")),
        ("crit", json!(["x"])),
        ("typ", json!("sd-jwt")),
        ("b64", json!(false)),
        ("zip", json!("DEF")),
        ("cty", json!("json")),
    ] {
        let mut v = base.clone();
        v["header"][name] = val;
        assert_eq!(
            code(verify_plain(&v.to_string())),
            "header_invalid",
            "{name}"
        );
    }
    // A parameter in both headers.
    let mut v = base.clone();
    let prot: Value =
        serde_json::from_slice(&b64::decode(base["protected"].as_str().unwrap(), "t").unwrap())
            .unwrap();
    assert!(prot.get("typ").is_some());
    v["header"]["kid"] = json!("a");
    assert!(
        verify_plain(&v.to_string()).is_ok(),
        "kid may be unprotected"
    );
    let mut prot2 = prot.clone();
    prot2["kid"] = json!("a");
    let protected = b64::encode(prot2.to_string().as_bytes());
    let input = format!("{protected}.{}", base["payload"].as_str().unwrap());
    v["protected"] = json!(protected);
    v["signature"] = json!(b64::encode(
        &fx().issuer_signer.sign(input.as_bytes()).unwrap()
    ));
    assert_eq!(code(verify_plain(&v.to_string())), "header_invalid");
}

#[test]
fn hdr_18_general_serialization_signatures() {
    let general = issue_with(
        &OsRandom,
        std_claims(),
        &["/given_name"],
        Serialization::General,
        HashAlg::Sha256,
    );
    let mut ks = StaticIssuerKeys::single(fx().issuer.public(), provider()).unwrap();
    ks.add(fx().issuer2.public(), provider()).unwrap();
    let v = builder_with(Arc::new(ks))
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap();
    let base: Value = serde_json::from_str(&general).unwrap();
    let payload_b64 = base["payload"].as_str().unwrap().to_owned();
    let second = |signer: &dyn Signer, header: Value| {
        let protected = b64::encode(br#"{"alg":"ES256","typ":"sd-jwt"}"#);
        let sig = signer
            .sign(format!("{protected}.{payload_b64}").as_bytes())
            .unwrap();
        json!({"protected": protected, "signature": b64::encode(&sig), "header": header})
    };
    // Two valid signatures.
    let mut two = base.clone();
    two["signatures"]
        .as_array_mut()
        .unwrap()
        .push(second(&*fx().issuer2_signer, json!({})));
    assert!(v.verify(&two.to_string()).is_ok());
    // One of them invalid (signed by an untrusted key).
    let mut bad = base.clone();
    bad["signatures"]
        .as_array_mut()
        .unwrap()
        .push(second(&*fx().attacker_signer, json!({})));
    assert_eq!(code(v.verify(&bad.to_string())), "invalid_signature");
    // disclosures / kb_jwt outside the first signature's header.
    for member in ["disclosures", "kb_jwt"] {
        let mut m = base.clone();
        let extra = if member == "disclosures" {
            json!([])
        } else {
            json!("a.b.c")
        };
        m["signatures"]
            .as_array_mut()
            .unwrap()
            .push(second(&*fx().issuer2_signer, json!({ member: extra })));
        assert_eq!(
            code(v.verify(&m.to_string())),
            "malformed_json_serialization",
            "{member}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// D. Signatures and keys (SIG, KEY)
// ---------------------------------------------------------------------------------------------

#[test]
fn sig_01_wrong_signature_length() {
    let pres = std_kb(&["/given_name"]);
    let (jwt, ds, kb) = split(&pres);
    let sig = b64::decode(&seg(&jwt, 2), "t").unwrap();
    let variants: Vec<Vec<u8>> = vec![
        sig[..63].to_vec(),
        [sig.as_slice(), &[0]].concat(),
        [&[0], sig.as_slice()].concat(),
        der(&sig),
        [sig.as_slice(), &[0u8; 32]].concat(),
        sig[..32].to_vec(),
    ];
    for s in &variants {
        let t = replace_seg(&jwt, 2, &b64::encode(s));
        assert_eq!(
            code(verify_kb(&join(&t, &ds, &kb))),
            "sig_malformed",
            "len {}",
            s.len()
        );
    }
    let kbsig = b64::decode(&seg(&kb, 2), "t").unwrap();
    let t = replace_seg(&kb, 2, &b64::encode(&der(&kbsig)));
    assert_eq!(code(verify_kb(&join(&jwt, &ds, &t))), "sig_malformed");
}

#[test]
fn sig_02_out_of_range_r_s() {
    let pres = std_kb(&["/given_name"]);
    let (jwt, ds, kb) = split(&pres);
    let sig = b64::decode(&seg(&jwt, 2), "t").unwrap();
    let (r, s) = (sig[..32].to_vec(), sig[32..].to_vec());
    let zero = vec![0u8; 32];
    let n = hex(P256_N);
    let n1 = sub_be(&n, &{
        let mut one = vec![0u8; 32];
        one[31] = 1;
        one
    });
    let ff = vec![0xffu8; 32];
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("0,0", zero.clone(), zero.clone()),
        ("0,s", zero.clone(), s.clone()),
        ("r,0", r.clone(), zero.clone()),
        ("n,s", n.clone(), s.clone()),
        ("r,n", r.clone(), n.clone()),
        ("n,n", n.clone(), n.clone()),
        ("n-1,n-1", n1.clone(), n1.clone()),
        ("r,ff", r.clone(), ff.clone()),
        ("ff,s", ff.clone(), s.clone()),
    ];
    for (name, r2, s2) in cases {
        let t = replace_seg(&jwt, 2, &b64::encode(&[r2.as_slice(), &s2].concat()));
        assert_eq!(
            code(verify_kb(&join(&t, &ds, &kb))),
            "invalid_signature",
            "issuer {name}"
        );
        let k = replace_seg(&kb, 2, &b64::encode(&[r2.as_slice(), &s2].concat()));
        assert_eq!(
            code(verify_kb(&join(&jwt, &ds, &k))),
            "invalid_signature",
            "kb {name}"
        );
    }
}

#[test]
fn sig_03_high_s_accepted() {
    let pres = std_kb(&["/given_name"]);
    let (jwt, ds, kb) = split(&pres);
    let high = |sig: &[u8]| {
        if is_high_s(sig) {
            sig.to_vec()
        } else {
            flip_s(sig)
        }
    };
    let low = |sig: &[u8]| {
        if is_high_s(sig) {
            flip_s(sig)
        } else {
            sig.to_vec()
        }
    };
    let sig = b64::decode(&seg(&jwt, 2), "t").unwrap();
    let kbsig = b64::decode(&seg(&kb, 2), "t").unwrap();
    assert!(is_high_s(&high(&sig)) && !is_high_s(&low(&sig)));
    // The issuer signature is covered by sd_hash: re-bind after changing it.
    for p in [
        with_kb(&join(
            &replace_seg(&jwt, 2, &b64::encode(&high(&sig))),
            &ds,
            "",
        )),
        with_kb(&join(
            &replace_seg(&jwt, 2, &b64::encode(&low(&sig))),
            &ds,
            "",
        )),
        join(&jwt, &ds, &replace_seg(&kb, 2, &b64::encode(&high(&kbsig)))),
        join(&jwt, &ds, &replace_seg(&kb, 2, &b64::encode(&low(&kbsig)))),
    ] {
        verify_kb(&p).unwrap();
    }
    // Malleable: two different presentations, same result. Never dedup on signature bytes.
    let a = join(&jwt, &ds, &replace_seg(&kb, 2, &b64::encode(&high(&kbsig))));
    let b = join(&jwt, &ds, &replace_seg(&kb, 2, &b64::encode(&low(&kbsig))));
    assert_ne!(a, b);
    assert_eq!(verify_kb(&a).unwrap().claims, verify_kb(&b).unwrap().claims);
    // The high-S form also works through the holder (receive).
    let issued = std_issued();
    let (ij, ids, ilast) = split(&issued);
    let isig = b64::decode(&seg(&ij, 2), "t").unwrap();
    let hi = join(
        &replace_seg(&ij, 2, &b64::encode(&high(&isig))),
        &ids,
        &ilast,
    );
    Credential::receive(&hi, &plain_verifier()).unwrap();
}

#[test]
fn sig_04_single_bit_changes() {
    let pres = std_kb(&["/given_name"]);
    assert!(verify_kb(&pres).is_ok());
    let (jwt, ds, kb) = split(&pres);
    // Issuer JWT header, payload, signature.
    let h = flip_in_seg(&jwt, 0, "sd-jwt");
    assert_eq!(code(verify_kb(&join(&h, &ds, &kb))), "invalid_signature");
    let p = flip_in_seg(&jwt, 1, "issuer.example");
    assert_eq!(code(verify_kb(&join(&p, &ds, &kb))), "invalid_signature");
    let mut sig = b64::decode(&seg(&jwt, 2), "t").unwrap();
    sig[63] ^= 1;
    let s = replace_seg(&jwt, 2, &b64::encode(&sig));
    assert_eq!(code(verify_kb(&join(&s, &ds, &kb))), "invalid_signature");
    // KB-JWT: the typ is checked before the signature; payload and signature changes.
    let kh = flip_in_seg(&kb, 0, "kb+jwt");
    assert_eq!(code(verify_kb(&join(&jwt, &ds, &kh))), "typ_mismatch");
    let kp = flip_in_seg(&kb, 1, NONCE);
    assert_eq!(code(verify_kb(&join(&jwt, &ds, &kp))), "invalid_signature");
    let mut ksig = b64::decode(&seg(&kb, 2), "t").unwrap();
    ksig[10] ^= 0x80;
    let ks = replace_seg(&kb, 2, &b64::encode(&ksig));
    assert_eq!(code(verify_kb(&join(&jwt, &ds, &ks))), "invalid_signature");
}

#[test]
fn sig_05_wycheproof_p1363() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-vectors/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for p in all_providers() {
        let (mut total, mut valid_high_s) = (0, 0);
        for g in doc["testGroups"].as_array().unwrap() {
            let coord = |name: &str| {
                let mut v: Vec<u8> = hex(g["publicKey"][name].as_str().unwrap())
                    .into_iter()
                    .skip_while(|b| *b == 0)
                    .collect();
                while v.len() < 32 {
                    v.insert(0, 0);
                }
                v
            };
            let jwk =
                PublicJwk::from_coordinates(Curve::P256, coord("wx"), Some(coord("wy"))).unwrap();
            // Every group key, edge cases included, is a valid key and must import (KEY-01).
            let key = p.verifying_key(&jwk, Algorithm::Es256).unwrap();
            for t in g["tests"].as_array().unwrap() {
                total += 1;
                let msg = hex(t["msg"].as_str().unwrap());
                let sig = hex(t["sig"].as_str().unwrap());
                let r = key.verify(&msg, &sig);
                match t["result"].as_str().unwrap() {
                    "valid" => {
                        assert!(r.is_ok(), "{} tcId {} {r:?}", p.name(), t["tcId"]);
                        if is_high_s(&sig) {
                            valid_high_s += 1;
                        }
                    }
                    "invalid" => assert!(r.is_err(), "{} tcId {}", p.name(), t["tcId"]),
                    other => panic!("unexpected result {other}"),
                }
            }
        }
        assert_eq!(total, 262);
        assert_eq!(valid_high_s, 70);
    }
}

#[test]
fn key_01_point_not_on_curve() {
    let pk = fx().holder.public();
    let mut y = pk.y().unwrap().to_vec();
    y[31] ^= 1;
    let off = PublicJwk::from_coordinates(Curve::P256, pk.x().to_vec(), Some(y.clone())).unwrap();
    let zero = PublicJwk::from_coordinates(Curve::P256, vec![0; 32], Some(vec![0; 32])).unwrap();
    let big = PublicJwk::from_coordinates(Curve::P256, hex(P256_P), Some(pk.y().unwrap().to_vec()))
        .unwrap();
    for p in all_providers() {
        for k in [&off, &zero, &big] {
            assert_eq!(
                code(StaticIssuerKeys::single(k, p)),
                "invalid_key",
                "{}",
                p.name()
            );
        }
    }
    // As a holder key in cnf.
    let cnf = json!({"jwk": {"kty": "EC", "crv": "P-256", "x": b64::encode(pk.x()), "y": b64::encode(&y)}});
    let jwt = issuer_jwt(&payload(json!({ "cnf": cnf })));
    assert_eq!(code(verify_kb(&with_kb(&sd(&jwt, &[])))), "cnf_invalid");
}

#[test]
fn key_02_coordinate_length() {
    let pk = fx().holder.public();
    let x = pk.x();
    for bad in [
        b64::encode(&x[1..]),
        b64::encode(&[&[0u8], x].concat()),
        String::new(),
    ] {
        let text = jwk_text(pk, |m| {
            m.insert("x".into(), bad.clone().into());
        });
        assert_eq!(code(PublicJwk::parse(&text)), "invalid_key");
        let cnf: Value = serde_json::from_str(&format!(r#"{{"jwk":{text}}}"#)).unwrap();
        let jwt = issuer_jwt(&payload(json!({ "cnf": cnf })));
        assert_eq!(code(verify_kb(&with_kb(&sd(&jwt, &[])))), "cnf_invalid");
    }
    assert_eq!(
        code(PublicJwk::from_coordinates(
            Curve::P256,
            x[1..].to_vec(),
            Some(x.to_vec())
        )),
        "invalid_key"
    );
}

#[test]
fn key_03_wrong_kty_crv() {
    let pk = fx().holder.public();
    let x = b64::encode(pk.x());
    let y = b64::encode(pk.y().unwrap());
    for (text, want) in [
        (
            json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
            "unsupported_key",
        ),
        (
            json!({"kty": "OKP", "crv": "P-256", "x": x}),
            "unsupported_key",
        ),
        (
            json!({"kty": "EC", "crv": "Ed25519", "x": x, "y": y}),
            "unsupported_key",
        ),
        (
            json!({"kty": "EC", "crv": "secp256k1", "x": x, "y": y}),
            "unsupported_key",
        ),
        (json!({"kty": "EC", "x": x, "y": y}), "invalid_key"),
        (json!({"crv": "P-256", "x": x, "y": y}), "invalid_key"),
        (
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            "key_private_material",
        ),
        (json!({"kty": "oct"}), "unsupported_key"),
    ] {
        assert_eq!(code(PublicJwk::parse(&text.to_string())), want, "{text}");
    }
    // A P-384 key cannot be loaded for ES256.
    for p in all_providers() {
        assert_eq!(
            code(p.verifying_key(fx().p384.public(), Algorithm::Es256)),
            "key_alg_mismatch"
        );
    }
}

#[test]
fn key_04_use_and_key_ops() {
    let pk = fx().issuer.public();
    let enc = jwk_text(pk, |m| {
        m.insert("use".into(), "enc".into());
    });
    assert_eq!(code(PublicJwk::parse(&enc)), "invalid_key");
    let ops = jwk_text(pk, |m| {
        m.insert("key_ops".into(), json!(["encrypt", "sign"]));
    });
    let k = PublicJwk::parse(&ops).unwrap();
    assert_eq!(
        code(StaticIssuerKeys::single(&k, provider())),
        "invalid_key"
    );
    let ok = jwk_text(pk, |m| {
        m.insert("key_ops".into(), json!(["verify"]));
        m.insert("use".into(), "sig".into());
    });
    StaticIssuerKeys::single(&PublicJwk::parse(&ok).unwrap(), provider()).unwrap();
}

#[test]
fn key_05_private_members_in_public_jwk() {
    let pk = fx().issuer.public();
    for member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        let text = jwk_text(pk, |m| {
            m.insert(member.into(), "AAAA".into());
        });
        assert_eq!(
            code(PublicJwk::parse(&text)),
            "key_private_material",
            "{member}"
        );
    }
}

#[test]
fn key_06_duplicate_kid() {
    let mut ks = StaticIssuerKeys::new();
    ks.add(&fx().issuer.public().clone().with_kid("k"), provider())
        .unwrap();
    assert_eq!(
        code(ks.add(&fx().issuer2.public().clone().with_kid("k"), provider())),
        "invalid_key"
    );
    ks.add(&fx().issuer2.public().clone().with_kid("k2"), provider())
        .unwrap();
}

#[test]
fn key_07_embedded_x5c_ignored() {
    // x5c chain validation is not implemented (not applicable); a bogus embedded x5c is
    // ignored and never trusted.
    let text = jwk_text(fx().issuer.public(), |m| {
        m.insert("x5c".into(), json!(["MIIBbogus"]));
    });
    let k = PublicJwk::parse(&text).unwrap();
    assert_eq!(k.minimal_json(), fx().issuer.public().minimal_json());
    let v = builder_with(Arc::new(StaticIssuerKeys::single(&k, provider()).unwrap()))
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap();
    let (jwt, d) = simple();
    assert!(v.verify(&sd(&jwt, &[&d])).is_ok());
}

// ---------------------------------------------------------------------------------------------
// E. JWT claims (CLM)
// ---------------------------------------------------------------------------------------------

fn leeway_verifier(leeway: u64) -> Verifier {
    builder()
        .key_binding(danger::key_binding_optional())
        .leeway(leeway)
        .build()
        .unwrap()
}

fn verify_claims(v: &Verifier, extra: Value) -> credkit::Result<VerifiedSdJwt> {
    v.verify(&sd(&issuer_jwt(&payload(extra)), &[]))
}

#[test]
fn clm_01_expired() {
    let v0 = leeway_verifier(0);
    assert_eq!(code(verify_claims(&v0, json!({"exp": NOW}))), "expired");
    assert_eq!(code(verify_claims(&v0, json!({"exp": NOW - 1}))), "expired");
    assert!(verify_claims(&v0, json!({"exp": NOW + 1})).is_ok());
    let v60 = leeway_verifier(60);
    assert_eq!(
        code(verify_claims(&v60, json!({"exp": NOW - 60}))),
        "expired"
    );
    assert!(verify_claims(&v60, json!({"exp": NOW - 59})).is_ok());
    // exp delivered through a Disclosure is still checked (RFC 9901 §7.1 step 6).
    let d = disc(json!(["s", "exp", NOW - 3600]));
    let mut p = payload(json!({ "_sd": [dg(&d)] }));
    p.as_object_mut().unwrap().remove("exp");
    let jwt = issuer_jwt(&p);
    assert!(verify_plain(&sd(&jwt, &[])).is_ok());
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), "expired");
}

#[test]
fn clm_02_not_yet_valid() {
    let v0 = leeway_verifier(0);
    assert_eq!(
        code(verify_claims(&v0, json!({"nbf": NOW + 1}))),
        "not_yet_valid"
    );
    assert!(verify_claims(&v0, json!({"nbf": NOW})).is_ok());
    let v60 = leeway_verifier(60);
    assert_eq!(
        code(verify_claims(&v60, json!({"nbf": NOW + 61}))),
        "not_yet_valid"
    );
    assert!(verify_claims(&v60, json!({"nbf": NOW + 60})).is_ok());
    // Issuer iat in the future.
    assert_eq!(
        code(verify_claims(&v60, json!({"iat": NOW + 61}))),
        "issued_in_future"
    );
    assert!(verify_claims(&v60, json!({"iat": NOW + 60})).is_ok());
    // nbf via a Disclosure.
    let d = disc(json!(["s", "nbf", NOW + 3600]));
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), "not_yet_valid");
}

#[test]
fn clm_03_time_claims_wrong_type() {
    let v = plain_verifier();
    for claim in ["exp", "nbf", "iat"] {
        for bad in [
            json!("1700000000"),
            json!(true),
            Value::Null,
            json!({}),
            json!([NOW]),
        ] {
            assert_eq!(
                code(verify_claims(&v, json!({ claim: bad }))),
                "claim_invalid",
                "{claim} {bad}"
            );
        }
    }
}

#[test]
fn clm_04_numeric_date_edges() {
    let v0 = leeway_verifier(0);
    assert_eq!(code(verify_claims(&v0, json!({"exp": -1}))), "expired");
    // Fractions are truncated toward minus infinity.
    assert_eq!(
        code(verify_claims(&v0, json!({"exp": NOW as f64 + 0.5}))),
        "expired"
    );
    assert!(verify_claims(&v0, json!({"exp": NOW as f64 + 1.5})).is_ok());
    assert!(verify_claims(&v0, json!({"nbf": NOW as f64 + 0.5})).is_ok());
    assert_eq!(
        code(verify_claims(&v0, json!({"nbf": NOW as f64 + 1.5}))),
        "not_yet_valid"
    );
    assert!(verify_claims(&v0, json!({"nbf": -1e18})).is_ok());
    assert_eq!(
        code(verify_claims(&v0, json!({"exp": 1e300}))),
        "claim_invalid"
    );
    assert_eq!(
        code(verify_claims(&v0, json!({"nbf": -1e300}))),
        "claim_invalid"
    );
    assert_eq!(
        code(verify_claims(&v0, json!({"exp": u64::MAX}))),
        "claim_invalid"
    );
}

#[test]
fn clm_05_required_claim_missing() {
    let v = builder()
        .key_binding(danger::key_binding_optional())
        .require_claims(&["exp", "iss"])
        .build()
        .unwrap();
    let mut p = payload(json!({}));
    p.as_object_mut().unwrap().remove("exp");
    assert_eq!(code(v.verify(&sd(&issuer_jwt(&p), &[]))), "claim_missing");
    let mut p = payload(json!({}));
    p.as_object_mut().unwrap().remove("iss");
    assert_eq!(code(v.verify(&sd(&issuer_jwt(&p), &[]))), "claim_missing");
    // Checked on the processed payload: disclosed exp counts, an undisclosed one does not.
    let d = disc(json!(["s", "exp", NOW + 3600]));
    let mut p = payload(json!({ "_sd": [dg(&d)] }));
    p.as_object_mut().unwrap().remove("exp");
    let jwt = issuer_jwt(&p);
    assert!(v.verify(&sd(&jwt, &[&d])).is_ok());
    assert_eq!(code(v.verify(&sd(&jwt, &[]))), "claim_missing");
    // cnf is required whenever KB is required (KB-06).
    let mut p = payload(json!({}));
    p.as_object_mut().unwrap().remove("cnf");
    assert_eq!(
        code(verify_kb(&with_kb(&sd(&issuer_jwt(&p), &[])))),
        "cnf_invalid"
    );
}

#[test]
fn clm_06_validity_claims_not_disclosable() {
    // Issuer side: iss/aud/exp/nbf/cnf can never be made selectively disclosable. (vct and
    // status are SD-JWT VC rows: not applicable to the plain layer.)
    let claims =
        json!({"iss": ISS, "aud": ["a", "b"], "exp": NOW + 10, "nbf": NOW, "cnf": {"jwk": {}}})
            .as_object()
            .unwrap()
            .clone();
    for p in ["/iss", "/aud", "/exp", "/nbf", "/cnf", "/cnf/jwk"] {
        assert_eq!(
            code(SdJwtBuilder::new(claims.clone()).disclose(p)),
            "not_selectively_disclosable",
            "{p}"
        );
    }
    // Individual aud entries may be.
    let _ = SdJwtBuilder::new(claims).disclose("/aud/0").unwrap();
    // Verifier side: validity claims that do arrive via a Disclosure are validated (CLM-01/02).
}

// ---------------------------------------------------------------------------------------------
// F. SD-JWT structure and Disclosures (SD)
// ---------------------------------------------------------------------------------------------

#[test]
fn sd_01_bare_jwt() {
    let (jwt, _) = simple();
    assert_eq!(code(verify_plain(&jwt)), "malformed_sd_jwt");
    assert_eq!(code(verify_kb(&jwt)), "malformed_sd_jwt");
    assert_eq!(
        code(Credential::receive(&jwt, &plain_verifier())),
        "malformed_sd_jwt"
    );
    assert!(verify_plain(&format!("{jwt}~")).is_ok());
}

#[test]
fn sd_02_last_component() {
    let pres = std_kb(&["/given_name"]);
    let bare = std_bare(&["/given_name"]);
    // Expecting SD-JWT+KB, got SD-JWT.
    assert_eq!(code(verify_kb(&bare)), "kb_required");
    // Expecting SD-JWT (holder receiving), got SD-JWT+KB.
    assert_eq!(
        code(Credential::receive(&pres, &plain_verifier())),
        "kb_unexpected"
    );
    // The final "~" omitted: the last Disclosure is taken as a KB-JWT and is not one.
    let chopped = bare.strip_suffix('~').unwrap();
    assert_eq!(code(verify_plain(chopped)), "malformed_compact");
    assert_eq!(
        code(Credential::receive(chopped, &plain_verifier())),
        "malformed_compact"
    );
}

#[test]
fn sd_03_bad_issuer_signature() {
    let p = payload(json!({})).to_string();
    let forged = signed(&*fx().attacker_signer, SD_HEADER, p.as_bytes());
    assert_eq!(code(verify_plain(&sd(&forged, &[]))), "invalid_signature");
    assert_eq!(
        code(Credential::receive(&sd(&forged, &[]), &plain_verifier())),
        "invalid_signature"
    );
    // Payload of one JWT with the signature of another.
    let other = issuer_jwt(&payload(json!({"given_name": "Mallory"})));
    let spliced = replace_seg(&issuer_jwt(&payload(json!({}))), 1, &seg(&other, 1));
    assert_eq!(code(verify_plain(&sd(&spliced, &[]))), "invalid_signature");
}

#[test]
fn sd_04_unreferenced_disclosure() {
    let (jwt, d) = simple();
    let evil = disc(json!(["s2", "is_admin", true]));
    assert!(verify_plain(&sd(&jwt, &[&d])).is_ok());
    assert_eq!(
        code(verify_plain(&sd(&jwt, &[&d, &evil]))),
        "disclosure_unreferenced"
    );
    // Even when the holder binds the injected Disclosure with a valid KB-JWT.
    assert_eq!(
        code(verify_kb(&with_kb(&sd(&jwt, &[&evil, &d])))),
        "disclosure_unreferenced"
    );
    // An array-element Disclosure injected.
    let evil2 = disc(json!(["s3", "FR"]));
    assert_eq!(
        code(verify_plain(&sd(&jwt, &[&d, &evil2]))),
        "disclosure_unreferenced"
    );
    // A Disclosure only referenced from inside an undisclosed parent.
    let inner = disc(json!(["s4", "locality", "Berlin"]));
    let outer = disc(json!(["s5", "address", {"_sd": [dg(&inner)]}]));
    let jwt2 = issuer_jwt(&payload(json!({ "_sd": [dg(&outer)] })));
    assert!(verify_plain(&sd(&jwt2, &[&outer, &inner])).is_ok());
    assert_eq!(
        code(verify_plain(&sd(&jwt2, &[&inner]))),
        "disclosure_unreferenced"
    );
}

#[test]
fn sd_05_disclosure_value_edited() {
    let (jwt, d) = simple();
    let edited = disc(json!(["salt-given", "given_name", "Mallory"]));
    assert_eq!(
        code(verify_plain(&sd(&jwt, &[&edited]))),
        "disclosure_unreferenced"
    );
    let pres = std_kb(&["/given_name"]);
    let (j, ds, kb) = split(&pres);
    let text = String::from_utf8(b64::decode(&ds[0], "t").unwrap()).unwrap();
    let tampered = b64::encode(text.replace("Erika", "Mallo").as_bytes());
    assert_eq!(
        code(verify_kb(&join(&j, &[tampered], &kb))),
        "disclosure_unreferenced"
    );
    let _ = d;
}

#[test]
fn sd_06_same_disclosure_twice() {
    let (jwt, d) = simple();
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d, &d]))), "digest_duplicate");
    let pres = std_kb(&["/given_name"]);
    let (j, ds, _) = split(&pres);
    let twice = join(&j, &[ds[0].clone(), ds[0].clone()], "");
    assert_eq!(code(verify_kb(&with_kb(&twice))), "digest_duplicate");
}

#[test]
fn sd_07_duplicate_digest_in_payload() {
    let d = disc(json!(["s", "given_name", "Erika"]));
    let e = disc(json!(["t", "FR"]));
    let decoy = dg("decoy");
    for p in [
        json!({ "_sd": [dg(&d), dg(&d)] }),
        json!({ "_sd": [dg(&d)], "address": {"_sd": [dg(&d)]} }),
        json!({ "l": [{"...": dg(&e)}, {"...": dg(&e)}] }),
        json!({ "_sd": [dg(&e)], "l": [{"...": dg(&e)}] }),
        json!({ "_sd": [decoy.clone(), decoy.clone()] }),
        json!({ "l": [{"...": decoy.clone()}], "m": [{"...": decoy.clone()}] }),
    ] {
        let jwt = issuer_jwt(&payload(p.clone()));
        // Whether or not the Disclosure is presented, the duplicate is found.
        assert_eq!(
            code(verify_plain(&sd(&jwt, &[]))),
            "digest_duplicate",
            "{p}"
        );
    }
    let jwt = issuer_jwt(&payload(
        json!({ "_sd": [dg(&d)], "address": {"_sd": [dg(&d)]} }),
    ));
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), "digest_duplicate");
}

#[test]
fn sd_08_reserved_claim_name_in_disclosure() {
    for name in ["_sd", "..."] {
        let d = disc(json!(["s", name, ["x"]]));
        let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
        assert_eq!(
            code(verify_plain(&sd(&jwt, &[&d]))),
            "reserved_claim_name",
            "{name}"
        );
    }
}

#[test]
fn sd_09_disclosure_overwrites_plaintext() {
    for (name, value) in [
        ("given_name", json!("Mallory")),
        ("iss", json!("https://evil.example")),
        ("cnf", json!({"jwk": fx().attacker.public().minimal_json()})),
        ("exp", json!(NOW + 10_000_000)),
    ] {
        let d = disc(json!(["s", name, value]));
        let jwt = issuer_jwt(&payload(json!({ "given_name": "Erika", "_sd": [dg(&d)] })));
        assert_eq!(
            code(verify_plain(&sd(&jwt, &[&d]))),
            "claim_collision",
            "{name}"
        );
        // Undisclosed, the digest is just ignored.
        assert!(verify_plain(&sd(&jwt, &[])).is_ok());
    }
    // Nested level.
    let d = disc(json!(["s", "country", "FR"]));
    let jwt = issuer_jwt(&payload(
        json!({ "address": {"country": "DE", "_sd": [dg(&d)]} }),
    ));
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), "claim_collision");
}

#[test]
fn sd_10_two_disclosures_same_name() {
    let a = disc(json!(["s1", "given_name", "Erika"]));
    let b = disc(json!(["s2", "given_name", "Mallory"]));
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&a), dg(&b)] })));
    assert!(verify_plain(&sd(&jwt, &[&a])).is_ok());
    assert!(verify_plain(&sd(&jwt, &[&b])).is_ok());
    assert_eq!(code(verify_plain(&sd(&jwt, &[&a, &b]))), "claim_collision");
    // Different levels are fine.
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&a)], "o": {"_sd": [dg(&b)]} })));
    assert!(verify_plain(&sd(&jwt, &[&a, &b])).is_ok());
}

#[test]
fn sd_11_wrong_shape_for_position() {
    let three = disc(json!(["s1", "given_name", "Erika"]));
    let two = disc(json!(["s2", "FR"]));
    let jwt = issuer_jwt(&payload(json!({ "l": [{"...": dg(&three)}] })));
    assert_eq!(
        code(verify_plain(&sd(&jwt, &[&three]))),
        "disclosure_wrong_shape"
    );
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&two)] })));
    assert_eq!(
        code(verify_plain(&sd(&jwt, &[&two]))),
        "disclosure_wrong_shape"
    );
}

#[test]
fn sd_12_disclosure_not_array_or_bad_length() {
    for t in [
        r#"{"salt":"s","name":"n","value":"v"}"#,
        r#""s""#,
        "[]",
        r#"["s"]"#,
        r#"["s","n","v","x"]"#,
        "null",
    ] {
        let d = disc_text(t);
        let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
        assert_eq!(
            code(verify_plain(&sd(&jwt, &[&d]))),
            "disclosure_invalid",
            "{t}"
        );
    }
}

#[test]
fn sd_13_salt_or_name_not_string() {
    for t in [
        r#"[1,"n","v"]"#,
        r#"[null,"v"]"#,
        r#"["s",1,"v"]"#,
        r#"["s",null,"v"]"#,
        r#"[["s"],"n","v"]"#,
    ] {
        let d = disc_text(t);
        let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
        assert_eq!(
            code(verify_plain(&sd(&jwt, &[&d]))),
            "disclosure_invalid",
            "{t}"
        );
    }
}

#[test]
fn sd_14_disclosure_bad_json() {
    for (bytes, want) in [
        (&br#"["s","n","v""#[..], "json_invalid"),
        (b"[\"s\",\"n\",\"\xff\"]", "json_invalid"),
        (br#"["s","n",{"a":1,"a":2}]"#, "json_duplicate_key"),
        (br#"["s","n","v"] []"#, "json_invalid"),
        (br#"["s","n",'v']"#, "json_invalid"),
    ] {
        let d = b64::encode(bytes);
        let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
        assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), want, "{bytes:?}");
    }
}

#[test]
fn sd_15_digest_over_received_string() {
    // Odd but valid JSON text: the digest covers exactly these bytes.
    let odd = disc_text("[ \"s\" ,\n\"given_name\",\t\"\\u0045rika\" ]");
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&odd)] })));
    let v = verify_plain(&sd(&jwt, &[&odd])).unwrap();
    assert_eq!(v.claims["given_name"], "Erika");
    // A re-encoded (normalised) equivalent is a different Disclosure.
    let normalised = disc(json!(["s", "given_name", "Erika"]));
    assert_eq!(
        code(verify_plain(&sd(&jwt, &[&normalised]))),
        "disclosure_unreferenced"
    );
    // Non-canonical base64url of the same bytes is refused at decoding (ENC-05).
    if let Some(nc) = noncanonical(&odd) {
        assert_eq!(code(verify_plain(&sd(&jwt, &[&nc]))), "b64_invalid");
    }
}

#[test]
fn sd_16_sd_not_array_of_strings() {
    for p in [
        json!({ "_sd": "abc" }),
        json!({ "_sd": {} }),
        json!({ "_sd": null }),
        json!({ "_sd": [1] }),
        json!({ "_sd": [dg("x"), ["y"]] }),
        json!({ "o": {"_sd": 5} }),
        json!({ "l": [{"_sd": [null]}] }),
    ] {
        let jwt = issuer_jwt(&payload(p.clone()));
        assert_eq!(code(verify_plain(&sd(&jwt, &[]))), "sd_invalid", "{p}");
    }
    // An empty _sd is fine.
    assert!(verify_plain(&sd(&issuer_jwt(&payload(json!({ "_sd": [] }))), &[])).is_ok());
}

#[test]
fn sd_17_bad_array_placeholder() {
    let e = disc(json!(["s", "FR"]));
    for p in [
        json!({ "l": [{"...": dg(&e), "x": 1}] }),
        json!({ "l": [{"...": dg(&e), "_sd": []}] }),
        json!({ "l": [{"...": 1}] }),
        json!({ "l": [{"...": [dg(&e)]}] }),
        json!({ "l": [{"...": null}] }),
    ] {
        let jwt = issuer_jwt(&payload(p.clone()));
        assert_eq!(code(verify_plain(&sd(&jwt, &[]))), "sd_invalid", "{p}");
    }
}

#[test]
fn sd_18_sd_alg_unsupported() {
    for alg in [
        json!("md5"),
        json!("SHA-256"),
        json!("sha-1"),
        json!("sha-256-32"),
        json!("sha256"),
        json!(256),
        Value::Null,
    ] {
        let jwt = issuer_jwt(&payload(json!({ "_sd_alg": alg.clone() })));
        assert_eq!(
            code(verify_plain(&sd(&jwt, &[]))),
            "sd_alg_unsupported",
            "{alg}"
        );
    }
    // Known, but not allowed by this verifier.
    let issued = issue_with(
        &OsRandom,
        std_claims(),
        &["/given_name"],
        Serialization::Compact,
        HashAlg::Sha384,
    );
    assert!(verify_plain(&issued).is_ok());
    let only256 = builder()
        .key_binding(danger::key_binding_optional())
        .sd_algs(&[HashAlg::Sha256])
        .build()
        .unwrap();
    assert_eq!(code(only256.verify(&issued)), "sd_alg_unsupported");
}

#[test]
fn sd_19_sd_alg_misplaced() {
    let jwt = issuer_jwt(&payload(
        json!({ "address": {"_sd_alg": "sha-256", "country": "DE"} }),
    ));
    assert_eq!(code(verify_plain(&sd(&jwt, &[]))), "sd_alg_misplaced");
    let jwt = issuer_jwt(&payload(json!({ "l": [{"_sd_alg": "sha-256"}] })));
    assert_eq!(code(verify_plain(&sd(&jwt, &[]))), "sd_alg_misplaced");
    // Inside a Disclosure value.
    let d = disc(json!(["s", "address", {"_sd_alg": "sha-512"}]));
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), "sd_alg_misplaced");
    // As the claim name of a Disclosure (top level or nested).
    let d = disc(json!(["s", "_sd_alg", "sha-512"]));
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), "sd_alg_misplaced");
    let jwt = issuer_jwt(&payload(json!({ "o": {"_sd": [dg(&d)]} })));
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), "sd_alg_misplaced");
}

#[test]
fn sd_20_reserved_names_as_claims() {
    let jwt = issuer_jwt(&payload(json!({ "_sd": "x" })));
    assert_eq!(code(verify_plain(&sd(&jwt, &[]))), "sd_invalid");
    for p in [
        json!({ "...": "x" }),
        json!({ "o": {"...": "x"} }),
        json!({ "o": {"...": dg("x"), "y": 1} }),
    ] {
        let jwt = issuer_jwt(&payload(p.clone()));
        assert_eq!(
            code(verify_plain(&sd(&jwt, &[]))),
            "reserved_claim_name",
            "{p}"
        );
    }
    // Issuer side: reserved names in the claims are refused.
    for name in ["_sd", "...", "_sd_alg"] {
        let claims = json!({ "iss": ISS, name: "x" })
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            code(SdJwtBuilder::new(claims).issue(&*fx().issuer_signer, &OsRandom)),
            "invalid_claims",
            "{name}"
        );
    }
}

#[test]
fn sd_21_decoys_ignored() {
    let d = disc(json!(["s1", "given_name", "Erika"]));
    let e = disc(json!(["s2", "FR"]));
    let p = payload(json!({
        "_sd": [dg("decoy-1"), dg(&d), dg("decoy-2")],
        "nationalities": ["DE", {"...": dg(&e)}, {"...": dg("decoy-3")}],
        "o": {"_sd": [dg("decoy-4")], "k": 1}
    }));
    let jwt = issuer_jwt(&p);
    let v = verify_plain(&sd(&jwt, &[&d, &e])).unwrap();
    assert_eq!(v.claims["given_name"], "Erika");
    assert_eq!(v.claims["nationalities"], json!(["DE", "FR"]));
    assert_eq!(v.claims["o"], json!({"k": 1}));
    let v = verify_plain(&sd(&jwt, &[])).unwrap();
    assert!(!v.claims.contains_key("given_name"));
    assert_eq!(v.claims["nationalities"], json!(["DE"]));
    assert!(v.disclosed.is_empty());
    // Issued decoys change nothing either.
    let issued = std_issued();
    let full = verify_plain(&issued).unwrap();
    assert_eq!(full.claims["address"]["country"], "DE");
}

fn assert_no_sd_artifacts(v: &Value) {
    match v {
        Value::Object(m) => {
            assert!(
                !m.contains_key("_sd") && !m.contains_key("_sd_alg") && !m.contains_key("..."),
                "{m:?}"
            );
            m.values().for_each(assert_no_sd_artifacts);
        }
        Value::Array(a) => a.iter().for_each(assert_no_sd_artifacts),
        _ => {}
    }
}

#[test]
fn sd_23_processed_payload_clean() {
    let pres = std_kb(&["/address/locality", "/nationalities/2"]);
    let v = verify_kb(&pres).unwrap();
    assert_no_sd_artifacts(&Value::Object(v.claims.clone()));
    assert_eq!(v.claims["nationalities"], json!(["DE", "US"]));
    assert_eq!(
        v.claims["address"],
        json!({"locality": "Koeln", "country": "DE"})
    );
    // A Disclosure that would re-introduce _sd_alg is refused (see SD-19).
    let d = disc(json!(["s", "_sd_alg", "sha-256"]));
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
    assert_eq!(code(verify_plain(&sd(&jwt, &[&d]))), "sd_alg_misplaced");
}

#[test]
fn sd_22_recursive_digest_also_top_level() {
    let inner = disc(json!(["s1", "locality", "Berlin"]));
    let outer = disc(json!(["s2", "address", {"_sd": [dg(&inner)]}]));
    for order in [[dg(&outer), dg(&inner)], [dg(&inner), dg(&outer)]] {
        let jwt = issuer_jwt(&payload(json!({ "_sd": order })));
        assert_eq!(
            code(verify_plain(&sd(&jwt, &[&outer, &inner]))),
            "digest_duplicate"
        );
    }
    // Array variant.
    let el = disc(json!(["s3", "FR"]));
    let outer2 = disc(json!(["s4", "l", [{"...": dg(&el)}]]));
    let jwt = issuer_jwt(&payload(
        json!({ "_sd": [dg(&outer2)], "m": [{"...": dg(&el)}] }),
    ));
    assert_eq!(
        code(verify_plain(&sd(&jwt, &[&outer2, &el]))),
        "digest_duplicate"
    );
}

#[test]
fn sd_24_holder_receives_sd_jwt_kb() {
    let pres = std_kb(&["/given_name"]);
    assert_eq!(
        code(Credential::receive(&pres, &plain_verifier())),
        "kb_unexpected"
    );
    assert_eq!(
        code(Credential::receive(&pres, &kb_verifier())),
        "kb_unexpected"
    );
}

#[test]
fn sd_25_issuer_sorts_sd() {
    // Issuer-side: `_sd` arrays never reveal the original claim order.
    fn check(v: &Value, found: &mut usize) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(sd)) = m.get("_sd") {
                    let s: Vec<&str> = sd.iter().map(|x| x.as_str().unwrap()).collect();
                    let mut sorted = s.clone();
                    sorted.sort_unstable();
                    assert_eq!(s, sorted);
                    *found += 1;
                }
                m.values().for_each(|x| check(x, found));
            }
            Value::Array(a) => a.iter().for_each(|x| check(x, found)),
            _ => {}
        }
    }
    let (jwt, ds, _) = split(&std_issued());
    let payload: Value = serde_json::from_slice(&b64::decode(&seg(&jwt, 1), "t").unwrap()).unwrap();
    let mut found = 0;
    check(&payload, &mut found);
    // `address` is itself disclosable: its `_sd` is inside its Disclosure.
    for d in ds {
        check(
            &serde_json::from_slice(&b64::decode(&d, "t").unwrap()).unwrap(),
            &mut found,
        );
    }
    assert_eq!(found, 2);
}

#[test]
fn sd_26_issuer_salts() {
    let mut salts = HashSet::new();
    for _ in 0..3 {
        // The standard credential, with fresh randomness each time (`std_issued` is fixed).
        let issued = issue_with(
            &OsRandom,
            std_claims(),
            &STD_SD,
            Serialization::Compact,
            HashAlg::Sha256,
        );
        let (_, ds, _) = split(&issued);
        for d in ds {
            let arr: Value = serde_json::from_slice(&b64::decode(&d, "t").unwrap()).unwrap();
            let salt = arr[0].as_str().unwrap().to_owned();
            assert_eq!(
                b64::decode(&salt, "salt").unwrap().len(),
                credkit::sd_jwt::SALT_BYTES
            );
            assert!(salts.insert(salt), "salt reused");
        }
    }
    assert_eq!(salts.len(), 21);
}

// ---------------------------------------------------------------------------------------------
// G. Key Binding JWT (KB)
// ---------------------------------------------------------------------------------------------

#[test]
fn kb_01_required_but_stripped() {
    let pres = std_kb(&["/given_name"]);
    assert!(verify_kb(&pres).is_ok());
    let (jwt, ds, _) = split(&pres);
    assert_eq!(code(verify_kb(&join(&jwt, &ds, ""))), "kb_required");
    // JSON serialization without kb_jwt.
    let flat = issue_with(
        &OsRandom,
        std_claims(),
        &["/given_name"],
        Serialization::Flattened,
        HashAlg::Sha256,
    );
    assert_eq!(code(verify_kb(&flat)), "kb_required");
}

#[test]
fn kb_02_present_though_optional() {
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let optional = plain_verifier();
    let v = optional.verify(&with_kb(&s)).unwrap();
    assert!(v.key_binding.is_some());
    // A bad KB-JWT fails even though none was required.
    let bad_hash = with_kb_edit(&s, |c| {
        c.insert("sd_hash".into(), dg("other").into());
    });
    assert_eq!(code(optional.verify(&bad_hash)), "sd_hash_mismatch");
    let forged = format!(
        "{s}{}",
        kb_jwt(&*fx().attacker_signer, KB_HEADER, &kb_claims(&s))
    );
    assert_eq!(code(optional.verify(&forged)), "invalid_signature");
    assert_eq!(
        code(optional.verify(&with_kb_header(&s, r#"{"alg":"ES256"}"#))),
        "typ_mismatch"
    );
    let old = with_kb_edit(&s, |c| {
        c.insert("iat".into(), (NOW - 10_000).into());
    });
    assert_eq!(code(optional.verify(&old)), "kb_too_old");
    // With expectations given, they are enforced.
    let with_exp = builder()
        .key_binding(KeyBindingPolicy::Optional {
            audience: Some(AUD.into()),
            nonce: Some("other".into()),
        })
        .build()
        .unwrap();
    assert_eq!(code(with_exp.verify(&with_kb(&s))), "nonce_mismatch");
}

#[test]
fn kb_03_typ() {
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    assert!(
        verify_kb(&with_kb_header(
            &s,
            r#"{"alg":"ES256","typ":"application/kb+jwt"}"#
        ))
        .is_ok()
    );
    for h in [
        r#"{"alg":"ES256"}"#,
        r#"{"alg":"ES256","typ":"JWT"}"#,
        r#"{"alg":"ES256","typ":"sd-jwt"}"#,
        r#"{"alg":"ES256","typ":"kb+jwt+x"}"#,
        r#"{"alg":"ES256","typ":1}"#,
    ] {
        assert_eq!(
            code(verify_kb(&with_kb_header(&s, h))),
            "typ_mismatch",
            "{h}"
        );
    }
}

#[test]
fn kb_04_alg_none_or_not_allowed() {
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    for alg in ["none", "NONE", "HS256", "RS256"] {
        let h = format!(r#"{{"alg":"{alg}","typ":"kb+jwt"}}"#);
        assert_eq!(
            code(verify_kb(&with_kb_header(&s, &h))),
            "alg_not_allowed",
            "{alg}"
        );
    }
    // HS256 MAC'd with the holder's public key.
    let h = r#"{"alg":"HS256","typ":"kb+jwt"}"#;
    let input = format!(
        "{}.{}",
        b64::encode(h.as_bytes()),
        b64::encode(Value::Object(kb_claims(&s)).to_string().as_bytes())
    );
    let mac = hmac_sha256(fx().holder.public().x(), input.as_bytes());
    assert_eq!(
        code(verify_kb(&format!("{s}{input}.{}", b64::encode(&mac)))),
        "alg_not_allowed"
    );
    // ES256 not on the verifier's allow-list (issuer ES256 accepted by a P-384 issuer key).
    let ks = Arc::new(StaticIssuerKeys::single(fx().p384.public(), provider()).unwrap());
    let v = builder_with(ks)
        .require_key_binding(AUD, NONCE)
        .algorithms(&[Algorithm::Es384])
        .build()
        .unwrap();
    let p = payload(json!({})).to_string();
    let jwt384 = signed(
        &*fx().p384_signer,
        r#"{"alg":"ES384","typ":"sd-jwt"}"#,
        p.as_bytes(),
    );
    assert_eq!(
        code(v.verify(&with_kb(&sd(&jwt384, &[])))),
        "alg_not_allowed"
    );
}

#[test]
fn kb_05_signed_by_other_key() {
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let h = json!({"alg": "ES256", "typ": "kb+jwt", "jwk": Value::Object(fx().attacker.public().minimal_json())})
        .to_string();
    let forged = format!("{s}{}", kb_jwt(&*fx().attacker_signer, &h, &kb_claims(&s)));
    assert_eq!(code(verify_kb(&forged)), "invalid_signature");
    // Signed by the issuer key.
    let forged = format!(
        "{s}{}",
        kb_jwt(&*fx().issuer_signer, KB_HEADER, &kb_claims(&s))
    );
    assert_eq!(code(verify_kb(&forged)), "invalid_signature");
    // The holder API refuses a signer that is not the cnf key.
    let pres = credential(&std_issued()).present(&["/given_name"]).unwrap();
    assert_eq!(
        code(pres.with_key_binding(&*fx().attacker_signer, AUD, NONCE, NOW)),
        "key_alg_mismatch"
    );
    // Two-phase signing with the wrong key: produced, but rejected by the verifier.
    let unsigned = pres
        .prepare_key_binding(Algorithm::Es256, AUD, NONCE, NOW)
        .unwrap();
    let sig = fx().attacker_signer.sign(unsigned.signing_input()).unwrap();
    assert_eq!(
        code(verify_kb(&unsigned.finish(&sig).unwrap())),
        "invalid_signature"
    );
    let unsigned = pres
        .prepare_key_binding(Algorithm::Es256, AUD, NONCE, NOW)
        .unwrap();
    let sig = fx().holder_signer.sign(unsigned.signing_input()).unwrap();
    assert!(verify_kb(&unsigned.finish(&sig).unwrap()).is_ok());
}

#[test]
fn kb_06_cnf_missing_or_malformed() {
    let pk = fx().holder.public();
    let mut with_d = pk.minimal_json();
    with_d.insert("d".into(), b64::encode(fx().holder.d()).into());
    let cases: Vec<Option<Value>> = vec![
        None,
        Some(json!({})),
        Some(json!("jwk")),
        Some(json!({"jwk": "x"})),
        Some(json!({"kid": "holder-key-1"})),
        Some(json!({"jwk": Value::Object(with_d)})),
        Some(json!({"jwk": {"kty": "oct", "k": "c2VjcmV0"}})),
        Some(json!({"jwk": Value::Object(fx().p384.public().minimal_json())})),
        Some(json!({"jwk": {"kty": "EC", "crv": "P-256", "x": b64::encode(pk.x())}})),
    ];
    for cnf in cases {
        let mut p = payload(json!({}));
        match &cnf {
            None => {
                p.as_object_mut().unwrap().remove("cnf");
            }
            Some(c) => p["cnf"] = c.clone(),
        }
        let jwt = issuer_jwt(&p);
        assert_eq!(
            code(verify_kb(&with_kb(&sd(&jwt, &[])))),
            "cnf_invalid",
            "{cnf:?}"
        );
    }
    // The holder cannot bind a presentation to a credential without cnf.
    let claims = std_claims();
    let issued = SdJwtBuilder::new(claims)
        .issue(&*fx().issuer_signer, &OsRandom)
        .unwrap()
        .to_string();
    let pres = credential(&issued).present(&[]).unwrap();
    assert_eq!(
        code(pres.with_key_binding(&*fx().holder_signer, AUD, NONCE, NOW)),
        "cnf_invalid"
    );
}

#[test]
fn kb_07_sd_hash() {
    let pres = std_kb(&["/given_name", "/nationalities/1"]);
    let (jwt, ds, _) = split(&pres);
    let s = join(&jwt, &ds, "");
    assert!(verify_kb(&with_kb(&s)).is_ok());
    let right = HashAlg::Sha256.digest_b64(s.as_bytes());
    let subset = HashAlg::Sha256.digest_b64(join(&jwt, &ds[..1], "").as_bytes());
    let no_tilde = HashAlg::Sha256.digest_b64(s.trim_end_matches('~').as_bytes());
    let sha384 = HashAlg::Sha384.digest_b64(s.as_bytes());
    let hexed: String = HashAlg::Sha256
        .digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for bad in [
        None,
        Some(json!(subset)),
        Some(json!(no_tilde)),
        Some(json!(sha384)),
        Some(json!(format!("{right}="))),
        Some(json!(hexed)),
        Some(json!(right.to_uppercase())),
        Some(json!([right.clone()])),
        Some(json!(1)),
        Some(Value::Null),
    ] {
        let p = with_kb_edit(&s, |c| match &bad {
            None => {
                c.remove("sd_hash");
            }
            Some(v) => {
                c.insert("sd_hash".into(), v.clone());
            }
        });
        assert_eq!(code(verify_kb(&p)), "sd_hash_mismatch", "{bad:?}");
    }
    // With _sd_alg sha-384 the sd_hash must be sha-384 too.
    let issued = issue_with(
        &OsRandom,
        std_claims(),
        &STD_SD,
        Serialization::Compact,
        HashAlg::Sha384,
    );
    let pres = credential(&issued).present(&["/given_name"]).unwrap();
    let good = pres
        .with_key_binding(&*fx().holder_signer, AUD, NONCE, NOW)
        .unwrap();
    assert_eq!(verify_kb(&good).unwrap().sd_alg, HashAlg::Sha384);
    let s = pres.without_key_binding();
    assert_eq!(code(verify_kb(&with_kb(&s))), "sd_hash_mismatch");
    let s384 = with_kb_edit(&s, |c| {
        c.insert(
            "sd_hash".into(),
            HashAlg::Sha384.digest_b64(s.as_bytes()).into(),
        );
    });
    assert!(verify_kb(&s384).is_ok());
}

#[test]
fn kb_08_disclosures_changed_after_signing() {
    let cred = credential(&std_issued());
    let all = cred
        .present(&["/given_name", "/family_name", "/nationalities/1"])
        .unwrap()
        .without_key_binding();
    let (_, all_ds, _) = split(&all);
    let pres = cred
        .present(&["/given_name", "/family_name"])
        .unwrap()
        .with_key_binding(&*fx().holder_signer, AUD, NONCE, NOW)
        .unwrap();
    assert!(verify_kb(&pres).is_ok());
    let (jwt, ds, kb) = split(&pres);
    assert_eq!(ds.len(), 2);
    // Added (a genuine, referenced Disclosure).
    let extra = all_ds.iter().find(|d| !ds.contains(d)).unwrap().clone();
    let mut added = ds.clone();
    added.push(extra);
    assert_eq!(
        code(verify_kb(&join(&jwt, &added, &kb))),
        "sd_hash_mismatch"
    );
    // Removed.
    assert_eq!(
        code(verify_kb(&join(&jwt, &ds[..1], &kb))),
        "sd_hash_mismatch"
    );
    // Reordered.
    let rev: Vec<String> = ds.iter().rev().cloned().collect();
    assert_eq!(code(verify_kb(&join(&jwt, &rev, &kb))), "sd_hash_mismatch");
    // Without KB, the same changes go through (RFC 9901 §9.10).
    assert!(verify_plain(&join(&jwt, &rev, "")).is_ok());
}

#[test]
fn kb_09_nonce() {
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let set = |v: Option<Value>| {
        with_kb_edit(&s, |c| match v {
            None => {
                c.remove("nonce");
            }
            Some(v) => {
                c.insert("nonce".into(), v);
            }
        })
    };
    for bad in [
        None,
        Some(json!("other")),
        Some(json!(format!("{NONCE} "))),
        Some(json!(1)),
        Some(json!([NONCE])),
        Some(Value::Null),
    ] {
        assert_eq!(
            code(verify_kb(&set(bad.clone()))),
            "nonce_mismatch",
            "{bad:?}"
        );
    }
    // Replay to a transaction with another nonce.
    let pres = with_kb(&s);
    let next = builder()
        .require_key_binding(AUD, "fresh-nonce")
        .build()
        .unwrap();
    assert_eq!(code(next.verify(&pres)), "nonce_mismatch");
}

#[test]
fn kb_10_aud() {
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    for bad in [
        None,
        Some(json!("https://other.example")),
        Some(json!([AUD])),
        Some(json!([AUD, "https://other.example"])),
        Some(json!("")),
        Some(json!(1)),
        Some(json!(format!("{AUD}/"))),
    ] {
        let p = with_kb_edit(&s, |c| match &bad {
            None => {
                c.remove("aud");
            }
            Some(v) => {
                c.insert("aud".into(), v.clone());
            }
        });
        assert_eq!(code(verify_kb(&p)), "aud_mismatch", "{bad:?}");
    }
}

#[test]
fn kb_11_iat_missing() {
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let p = with_kb_edit(&s, |c| {
        c.remove("iat");
    });
    assert_eq!(code(verify_kb(&p)), "claim_missing");
}

#[test]
fn kb_12_iat_too_old() {
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let at = |iat: i64| {
        with_kb_edit(&s, |c| {
            c.insert("iat".into(), iat.into());
        })
    };
    // Default: 300 s max age plus 60 s leeway.
    assert!(verify_kb(&at(NOW - 360)).is_ok());
    assert_eq!(code(verify_kb(&at(NOW - 361))), "kb_too_old");
    assert_eq!(code(verify_kb(&at(NOW - 365 * 24 * 3600))), "kb_too_old");
    let strict = builder()
        .require_key_binding(AUD, NONCE)
        .leeway(0)
        .kb_max_age(10)
        .build()
        .unwrap();
    assert!(strict.verify(&at(NOW - 10)).is_ok());
    assert_eq!(code(strict.verify(&at(NOW - 11))), "kb_too_old");
}

#[test]
fn kb_13_iat_in_future() {
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let at = |iat: i64| {
        with_kb_edit(&s, |c| {
            c.insert("iat".into(), iat.into());
        })
    };
    assert!(verify_kb(&at(NOW + 60)).is_ok());
    assert_eq!(code(verify_kb(&at(NOW + 61))), "issued_in_future");
    assert_eq!(
        code(verify_kb(&at(NOW + 365 * 24 * 3600))),
        "issued_in_future"
    );
}

#[test]
fn kb_14_wrong_claim_types() {
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    for (claim, val, want) in [
        ("iat", json!(NOW.to_string()), "claim_invalid"),
        ("iat", json!(true), "claim_invalid"),
        ("iat", Value::Null, "claim_invalid"),
        ("iat", json!({}), "claim_invalid"),
        ("nonce", json!({"v": NONCE}), "nonce_mismatch"),
        ("aud", json!({"v": AUD}), "aud_mismatch"),
        ("sd_hash", json!(true), "sd_hash_mismatch"),
    ] {
        let p = with_kb_edit(&s, |c| {
            c.insert(claim.into(), val.clone());
        });
        assert_eq!(code(verify_kb(&p)), want, "{claim} {val}");
    }
}

#[test]
fn kb_15_kb_own_exp_nbf() {
    let (jwt, d) = simple();
    let s = sd(&jwt, &[&d]);
    let p = with_kb_edit(&s, |c| {
        c.insert("exp".into(), (NOW - 120).into());
    });
    assert_eq!(code(verify_kb(&p)), "expired");
    let p = with_kb_edit(&s, |c| {
        c.insert("nbf".into(), (NOW + 120).into());
    });
    assert_eq!(code(verify_kb(&p)), "not_yet_valid");
    let p = with_kb_edit(&s, |c| {
        c.insert("exp".into(), "soon".into());
    });
    assert_eq!(code(verify_kb(&p)), "claim_invalid");
    let p = with_kb_edit(&s, |c| {
        c.insert("exp".into(), (NOW + 120).into());
    });
    assert!(verify_kb(&p).is_ok());
}

#[test]
fn kb_16_expectations_apply_to_kb_jwt_only() {
    // The issuer JWT carries aud/nonce equal to the verifier's expectations; the KB-JWT
    // does not: rejected.
    let d = disc(json!(["s", "given_name", "Erika"]));
    let jwt = issuer_jwt(&payload(
        json!({ "aud": AUD, "nonce": NONCE, "_sd": [dg(&d)] }),
    ));
    let s = sd(&jwt, &[&d]);
    let p = with_kb_edit(&s, |c| {
        c.insert("aud".into(), "https://other.example".into());
    });
    assert_eq!(code(verify_kb(&p)), "aud_mismatch");
    let p = with_kb_edit(&s, |c| {
        c.insert("nonce".into(), "other".into());
    });
    assert_eq!(code(verify_kb(&p)), "nonce_mismatch");
    // And the issuer JWT's own aud/nonce are not compared with the KB expectations.
    let jwt = issuer_jwt(&payload(
        json!({ "aud": "https://someone-else.example", "nonce": "x", "_sd": [dg(&d)] }),
    ));
    let v = verify_kb(&with_kb(&sd(&jwt, &[&d]))).unwrap();
    let kb = v.key_binding.unwrap();
    assert_eq!(
        (kb.audience.as_str(), kb.nonce.as_str(), kb.issued_at),
        (AUD, NONCE, NOW)
    );
}

// KB-17 (transaction_data): not applicable — OID4VP is not implemented.
