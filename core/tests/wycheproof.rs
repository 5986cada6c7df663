//! Project Wycheproof vectors (`test-vectors/wycheproof/`, byte-for-byte upstream, see its
//! `PROVENANCE.md`), run against every crypto provider compiled into this build.
//!
//! * `ecdsa_secp256r1_sha256_p1363_test.json`: raw ES256 verification, all 262 cases.
//! * `json_web_signature_test.json`: the JWS pipeline (`Jws::parse_compact` + `Jws::verify`).
//! * `json_web_key_test.json`: key-set import (`PublicJwk::from_json`, provider load,
//!   `StaticIssuerKeys::add`).
//!
//! credkit verifies only ES256/ES384/ES512/EdDSA with EC/OKP keys. Wycheproof's RSA, HMAC and
//! `none` cases therefore can never verify here, including the ones Wycheproof labels
//! `valid`: for a verifier that does not allow those algorithms, rejecting them is the correct
//! behaviour, and the tests assert exactly that (and count them, so nothing is skipped).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use credkit::crypto::{CryptoProvider, VerifyingKey, all_providers};
use credkit::jose::{Algorithm, Curve, Jws, PublicJwk};
use credkit::sd_jwt::StaticIssuerKeys;
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// helpers

fn vectors(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../test-vectors/wycheproof")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn groups(file: &Value) -> &[Value] {
    file["testGroups"].as_array().expect("testGroups")
}

fn cases(group: &Value) -> &[Value] {
    group["tests"].as_array().expect("tests")
}

fn tc_id(case: &Value) -> u64 {
    case["tcId"].as_u64().expect("tcId")
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Wycheproof's `wx`/`wy` are big-endian integers as hex: a leading `00` byte (sign) or fewer
/// than `len` bytes are both possible. Returns exactly `len` bytes, or `None` when the value
/// does not fit.
fn normalize(mut bytes: Vec<u8>, len: usize) -> Option<Vec<u8>> {
    while bytes.len() > len && bytes.first() == Some(&0) {
        bytes.remove(0);
    }
    if bytes.len() > len {
        return None;
    }
    let mut out = vec![0; len - bytes.len()];
    out.extend(bytes);
    Some(out)
}

fn obj(v: &Value) -> &Map<String, Value> {
    v.as_object().expect("JSON object")
}

/// A P-256 key that is unrelated to every Wycheproof key (the RFC 9901 example issuer key).
/// Used as the trusted key for groups whose own key credkit cannot (and must not) import.
const UNRELATED_P256: &str = r#"{"kty":"EC","crv":"P-256","x":"b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ","y":"Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}"#;

fn unrelated_key(p: &dyn CryptoProvider) -> Arc<dyn VerifyingKey> {
    let jwk = PublicJwk::parse(UNRELATED_P256).expect("unrelated key parses");
    p.verifying_key(&jwk, Algorithm::Es256)
        .expect("unrelated key loads")
}

/// Imports a JWK the way a relying party configures a trusted key: parse, then load for the
/// key's algorithm. The error is `(stage, code)`.
fn import(
    p: &dyn CryptoProvider,
    jwk: &Map<String, Value>,
) -> Result<Arc<dyn VerifyingKey>, (&'static str, &'static str)> {
    let parsed = PublicJwk::from_json(jwk).map_err(|e| ("jwk_parse", e.code()))?;
    p.verifying_key(&parsed, parsed.algorithm())
        .map_err(|e| ("provider_load", e.code()))
}

/// Parses a compact JWS and verifies it with `key`; the error is `(stage, code)`.
fn run_jws(
    jws: &str,
    key: &dyn VerifyingKey,
    allowed: &[Algorithm],
) -> Result<(), (&'static str, &'static str)> {
    let parsed = Jws::parse_compact(jws).map_err(|e| ("parse", e.code()))?;
    parsed
        .verify(key, allowed)
        .map_err(|e| ("verify", e.code()))
}

fn jws_text(case: &Value) -> String {
    match &case["jws"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// 1a. ECDSA P-256 / SHA-256, IEEE P1363 signatures

/// n/2 for P-256 (floor): a signature with s > n/2 is "high-S".
const P256_HALF_N: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

#[derive(Debug, Default)]
struct P1363Tally {
    valid_verified: usize,
    valid_high_s_verified: usize,
    invalid_rejected_at_key: usize,
    invalid_rejected_at_verify: usize,
    acceptable_verified: usize,
    acceptable_rejected: usize,
    keys_loaded: usize,
    keys_rejected: usize,
}

#[test]
fn ecdsa_secp256r1_sha256_p1363() {
    let file = vectors("ecdsa_secp256r1_sha256_p1363_test.json");
    assert_eq!(file["numberOfTests"].as_u64(), Some(262));
    let providers = all_providers();
    assert!(!providers.is_empty(), "no crypto provider compiled in");
    for p in providers {
        let mut t = P1363Tally::default();
        let mut total = 0;
        let mut jwk_cross_checked = 0;
        let mut failures = Vec::new();
        for group in groups(&file) {
            let pk = &group["publicKey"];
            let x = normalize(hex(pk["wx"].as_str().expect("wx")), 32);
            let y = normalize(hex(pk["wy"].as_str().expect("wy")), 32);
            let key = match (x, y) {
                (Some(x), Some(y)) => {
                    // Where the group also gives the key as a JWK, it has the same coordinates.
                    if let Some(jwk) = group.get("publicKeyJwk") {
                        let from_jwk = PublicJwk::from_json(obj(jwk)).expect("publicKeyJwk parses");
                        assert_eq!((from_jwk.x(), from_jwk.y()), (&x[..], Some(&y[..])));
                        jwk_cross_checked += 1;
                    }
                    PublicJwk::from_coordinates(Curve::P256, x, Some(y))
                        .and_then(|jwk| p.verifying_key(&jwk, Algorithm::Es256))
                        .map_err(|e| e.code())
                }
                // A coordinate that does not fit 32 bytes: the group's expectations decide.
                _ => Err("coordinate_too_long"),
            };
            if key.is_ok() {
                t.keys_loaded += 1;
            } else {
                t.keys_rejected += 1;
            }
            for case in cases(group) {
                total += 1;
                let id = tc_id(case);
                let msg = hex(case["msg"].as_str().expect("msg"));
                let sig = hex(case["sig"].as_str().expect("sig"));
                let outcome = match &key {
                    Err(code) => Err(("key", *code)),
                    Ok(k) => k.verify(&msg, &sig).map_err(|e| ("verify", e.code())),
                };
                match (case["result"].as_str().expect("result"), outcome) {
                    ("valid", Ok(())) => {
                        t.valid_verified += 1;
                        if sig.len() == 64 && sig[32..] > P256_HALF_N[..] {
                            t.valid_high_s_verified += 1;
                        }
                    }
                    ("invalid", Err(("key", _))) => t.invalid_rejected_at_key += 1,
                    ("invalid", Err(_)) => t.invalid_rejected_at_verify += 1,
                    ("acceptable", Ok(())) => t.acceptable_verified += 1,
                    ("acceptable", Err(_)) => t.acceptable_rejected += 1,
                    (result, outcome) => failures.push(format!(
                        "tcId {id} ({:?}, flags {}): expected {result}, got {outcome:?}",
                        case["comment"].as_str().unwrap_or_default(),
                        case["flags"]
                    )),
                }
            }
        }
        println!(
            "[p1363] provider {}: {total} cases, {t:?}, {jwk_cross_checked} group JWKs cross-checked",
            p.name()
        );
        assert!(
            failures.is_empty(),
            "provider {}:\n{}",
            p.name(),
            failures.join("\n")
        );
        assert_eq!(total, 262, "provider {}", p.name());
        // Counts from PROVENANCE.md: 173 valid (70 of them high-S, which a JWS verifier must
        // accept: RFC 7518 does not require low-S), 89 invalid.
        assert_eq!(t.valid_verified, 173);
        assert_eq!(t.valid_high_s_verified, 70);
        assert_eq!(t.invalid_rejected_at_key + t.invalid_rejected_at_verify, 89);
        assert_eq!(t.acceptable_verified + t.acceptable_rejected, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// 1b. JSON Web Signature

/// Wycheproof's verdict with the four documented mislabels corrected (test-vectors/README.md,
/// "Known caveats"): 367 and 370 are byte-identical to the valid tcId 357 (correct MAC), 372
/// and 373 contain a literal `?`, which is not base64url.
fn jws_expected_valid(id: u64, label: &str) -> bool {
    match id {
        367 | 370 => true,
        372 | 373 => false,
        _ => label == "valid",
    }
}

/// Per group: (comment, tcId range, cases, cases that must verify under credkit).
const JWS_GROUPS: [(&str, u64, u64, usize, usize); 23] = [
    ("hs256", 1, 17, 17, 0),
    ("es256", 18, 32, 15, 1),
    ("rs256", 33, 258, 226, 0),
    ("rs256", 259, 263, 5, 0),
    ("rs384", 264, 267, 4, 0),
    ("rs512", 268, 271, 4, 0),
    ("ps256", 272, 319, 48, 0),
    ("ps384", 320, 324, 5, 0),
    ("ps512", 325, 344, 20, 0),
    ("rfc7520", 345, 345, 1, 0),
    ("rfc7520", 346, 346, 1, 0),
    ("rfc7520", 347, 347, 1, 1),
    ("rfc7520", 348, 348, 1, 0),
    ("rfc7520WithKeyOps", 349, 349, 1, 0),
    ("rfc7520WithKeyOps", 350, 350, 1, 0),
    ("rfc7520WithKeyOps", 351, 351, 1, 1),
    ("rfc7520", 352, 352, 1, 0),
    ("rsa_encryption", 353, 353, 1, 0),
    ("ec_key_for_encryption", 354, 354, 1, 0),
    ("rsa_encryption", 355, 355, 1, 0),
    ("ec_key_for_encryption", 356, 356, 1, 0),
    ("base64", 357, 377, 21, 0),
    ("SpecialCaseEs256", 378, 401, 24, 1),
];

#[derive(Debug, Default)]
struct JwsTally {
    verified: usize,
    /// Wycheproof-valid RSA/HMAC cases: rejected because credkit does not allow those algs.
    valid_but_unsupported_rejected: usize,
    invalid_rejected: usize,
    /// Rejection reasons, `stage:code` -> count.
    reasons: BTreeMap<String, usize>,
}

#[test]
#[allow(clippy::too_many_lines)]
fn json_web_signature() {
    let file = vectors("json_web_signature_test.json");
    assert_eq!(file["numberOfTests"].as_u64(), Some(401));
    let gs = groups(&file);
    assert_eq!(gs.len(), JWS_GROUPS.len());
    for p in all_providers() {
        let unrelated = unrelated_key(p);
        let mut t = JwsTally::default();
        let mut failures = Vec::new();
        let mut total = 0;
        for (group, &(comment, first, last, n, n_verified)) in gs.iter().zip(&JWS_GROUPS) {
            let ids: Vec<u64> = cases(group).iter().map(tc_id).collect();
            assert_eq!(group["comment"].as_str(), Some(comment));
            assert_eq!(
                (ids.len(), ids.first(), ids.last()),
                (n, Some(&first), Some(&last)),
                "group {comment}"
            );

            // The group's verification key, as a relying party would configure it.
            let (key, supported): (Arc<dyn VerifyingKey>, bool) = match group.get("public") {
                Some(public) => {
                    let public = obj(public);
                    let kty = public["kty"].as_str().unwrap_or_default();
                    if first == 347 || first == 351 {
                        // RFC 7520 §4.3 ES512 figures. Wycheproof's copy of the RFC 7520 §3.1
                        // key adds `"alg":"ES521"`, which is no JWS algorithm (RFC 7518 §3.4:
                        // ES512). credkit refuses a key whose `alg` does not fit its curve;
                        // Wycheproof itself expects that (json_web_key_test tcId 19,
                        // "wrong_algorithm", alg ES521). The key exactly as printed in RFC 7520
                        // (no `alg`) must import and verify the figure.
                        assert_eq!(public["alg"], "ES521");
                        assert_eq!(
                            import(p, public).err(),
                            Some(("jwk_parse", "key_alg_mismatch"))
                        );
                        let mut rfc = public.clone();
                        rfc.remove("alg");
                        let key = import(p, &rfc).expect("RFC 7520 P-521 key imports");
                        assert_eq!(key.algorithm(), Algorithm::Es512);
                        // Wrong allow-list: must not verify.
                        let jws = jws_text(&cases(group)[0]);
                        assert_eq!(
                            run_jws(&jws, &*key, &[Algorithm::Es256]),
                            Err(("verify", "alg_not_allowed"))
                        );
                        (key, true)
                    } else if (353..=356).contains(&first) {
                        // `use: enc` / `key_ops: [encrypt]`: refused at key import.
                        let err = import(p, public).err();
                        let expected = match first {
                            353 | 355 => ("jwk_parse", "unsupported_key"), // RSA
                            354 => ("jwk_parse", "invalid_key"),           // EC, use enc
                            _ => ("provider_load", "invalid_key"),         // EC, key_ops [encrypt]
                        };
                        assert_eq!(err, Some(expected), "tcId {first}");
                        if kty == "EC" {
                            // The same key without use/key_ops verifies the token, so key
                            // policy alone is what rejects it.
                            let mut sig_key = public.clone();
                            sig_key.remove("use");
                            sig_key.remove("key_ops");
                            let key =
                                import(p, &sig_key).expect("EC key imports without use/key_ops");
                            assert_eq!(
                                run_jws(&jws_text(&cases(group)[0]), &*key, &[Algorithm::Es256]),
                                Ok(())
                            );
                        }
                        (unrelated.clone(), false)
                    } else {
                        match import(p, public) {
                            Ok(key) => {
                                assert_eq!(
                                    (kty, key.algorithm()),
                                    ("EC", Algorithm::Es256),
                                    "group {comment}"
                                );
                                (key, true)
                            }
                            Err(err) => {
                                // RSA: credkit has no RSA support and refuses the key.
                                assert_eq!(
                                    (kty, err),
                                    ("RSA", ("jwk_parse", "unsupported_key")),
                                    "group {comment}"
                                );
                                (unrelated.clone(), false)
                            }
                        }
                    }
                }
                None => {
                    // HMAC / `none` groups: only a symmetric `private` key, which is not a
                    // public key and is refused.
                    let private = obj(&group["private"]);
                    assert_eq!(private["kty"], "oct", "group {comment}");
                    assert_eq!(
                        import(p, private).err(),
                        Some(("jwk_parse", "key_private_material"))
                    );
                    (unrelated.clone(), false)
                }
            };
            let allowed = [key.algorithm()];

            let mut group_verified = 0;
            for case in cases(group) {
                total += 1;
                let id = tc_id(case);
                let jws = jws_text(case);
                let label = case["result"].as_str().expect("result");
                let expect_ok = jws_expected_valid(id, label) && supported;
                let outcome = run_jws(&jws, &*key, &allowed);
                match (&outcome, expect_ok) {
                    (Ok(()), true) => {
                        t.verified += 1;
                        group_verified += 1;
                    }
                    (Err((stage, code)), false) => {
                        *t.reasons.entry(format!("{stage}:{code}")).or_default() += 1;
                        if jws_expected_valid(id, label) {
                            t.valid_but_unsupported_rejected += 1;
                        } else {
                            t.invalid_rejected += 1;
                        }
                    }
                    _ => failures.push(format!(
                        "tcId {id} ({comment}, {:?}): label {label}, expected {}, got {outcome:?}",
                        case["comment"].as_str().unwrap_or_default(),
                        if expect_ok { "Ok" } else { "Err" },
                    )),
                }

                // Specific cases whose rejection reason matters.
                let parsed = Jws::parse_compact(&jws).map(|_| ()).map_err(|e| e.code());
                match id {
                    // JSON serialization handed to the compact parser.
                    17 => assert_eq!(parsed, Err("malformed_compact"), "tcId 17"),
                    // HS256 header against an EC key (algorithm confusion).
                    31 => assert_eq!(outcome, Err(("verify", "alg_not_allowed")), "tcId 31"),
                    // Attacker-embedded `jwk` is ignored: the configured key decides.
                    32 => assert_eq!(outcome, Err(("verify", "invalid_signature")), "tcId 32"),
                    // The overrides: a strict base64url decoder accepts 367/370 (identical to
                    // the valid 357) and rejects the `?` in 372/373. They are HS256, so they
                    // still fail verification here, as every HMAC token must.
                    367 | 370 => assert_eq!(parsed, Ok(()), "tcId {id}"),
                    372 | 373 => assert_eq!(parsed, Err("b64_invalid"), "tcId {id}"),
                    _ => {}
                }
                // Every case the (corrected) verdict calls valid is well-formed JWS: credkit's
                // parser must accept it even when the algorithm is unsupported.
                if jws_expected_valid(id, label) {
                    assert_eq!(parsed, Ok(()), "tcId {id} is well-formed");
                }
            }
            if failures.is_empty() {
                assert_eq!(
                    group_verified,
                    n_verified,
                    "provider {}, group {comment} ({first}..={last})",
                    p.name()
                );
            }
        }
        println!("[jws] provider {}: {total} cases, {t:?}", p.name());
        assert!(
            failures.is_empty(),
            "provider {}:\n{}",
            p.name(),
            failures.join("\n")
        );
        assert_eq!(total, 401);
        // 46 valid after the overrides (as before them: two flips each way). Four are
        // ES256/ES512 and verify; the other 42 are RSA (32) or HMAC (10).
        assert_eq!(t.verified, 4);
        assert_eq!(t.valid_but_unsupported_rejected, 42);
        assert_eq!(t.invalid_rejected, 355);
    }
}

// ---------------------------------------------------------------------------------------------
// 1c. JSON Web Key sets

/// Loads a key set as an issuer-key configuration. The error is `(stage, code)`.
fn load_keyset(
    p: &dyn CryptoProvider,
    keys: &[Value],
) -> Result<Vec<Arc<dyn VerifyingKey>>, (&'static str, &'static str)> {
    let mut set = StaticIssuerKeys::new();
    let mut loaded = Vec::new();
    for k in keys {
        let jwk = PublicJwk::from_json(obj(k)).map_err(|e| ("jwk_parse", e.code()))?;
        // `add` loads the key for its algorithm and refuses a repeated `kid`.
        set.add(&jwk, p).map_err(|e| ("keyset_add", e.code()))?;
        loaded.push(
            p.verifying_key(&jwk, jwk.algorithm())
                .map_err(|e| ("provider_load", e.code()))?,
        );
    }
    Ok(loaded)
}

#[test]
fn json_web_key() {
    let file = vectors("json_web_key_test.json");
    assert_eq!(file["numberOfTests"].as_u64(), Some(26));
    for p in all_providers() {
        let mut total = 0;
        let mut valid_but_unsupported_rejected = 0;
        let mut invalid_rejected = 0;
        let mut verified = 0;
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut failures = Vec::new();
        for group in groups(&file) {
            // Symmetric groups carry only a `private` key set: that is what a verifier would
            // have to configure.
            let keyset = group.get("public").unwrap_or(&group["private"]);
            let keys = keyset["keys"].as_array().expect("keys");
            let loaded = load_keyset(p, keys);
            let unsupported = keys
                .iter()
                .any(|k| matches!(k["kty"].as_str(), Some("RSA" | "oct")));
            for case in cases(group) {
                total += 1;
                let id = tc_id(case);
                let label = case["result"].as_str().expect("result");
                let jws = jws_text(case);
                let outcome = match &loaded {
                    Err(e) => Err(*e),
                    Ok(keys) => {
                        let tries: Vec<_> = keys
                            .iter()
                            .map(|k| run_jws(&jws, &**k, &[k.algorithm()]))
                            .collect();
                        if tries.iter().any(Result::is_ok) {
                            Ok(())
                        } else {
                            tries
                                .into_iter()
                                .next()
                                .unwrap_or(Err(("verify", "no_key")))
                        }
                    }
                };
                match (label, &outcome) {
                    ("valid", Ok(())) => verified += 1,
                    ("valid", Err(e)) if unsupported => {
                        // RS256 / HS256 / HS384 / HS512: no RSA or HMAC support, the key
                        // set is refused, so the token is rejected. Correct for credkit.
                        valid_but_unsupported_rejected += 1;
                        *reasons.entry(format!("{}:{}", e.0, e.1)).or_default() += 1;
                    }
                    ("invalid", Err(e)) => {
                        invalid_rejected += 1;
                        *reasons.entry(format!("{}:{}", e.0, e.1)).or_default() += 1;
                    }
                    _ => failures.push(format!(
                        "tcId {id} ({:?}): expected {label}, got {outcome:?}",
                        group["comment"].as_str().unwrap_or_default()
                    )),
                }
                // The EC key sets are refused for the reason the case is about.
                let expected_reason = match id {
                    19 | 20 => Some(("jwk_parse", "key_alg_mismatch")), // alg ES521 / ES224 on P-256
                    21 => Some(("jwk_parse", "invalid_key")),           // use enc
                    22 => Some(("keyset_add", "invalid_key")),          // point not on the curve
                    23 => Some(("jwk_parse", "invalid_key")), // P-256 coordinates, crv P-384
                    24 => Some(("jwk_parse", "unsupported_key")), // kty RSA with EC members
                    1 => Some(("jwk_parse", "key_private_material")), // mixed set: oct member
                    _ => None,
                };
                if let Some(reason) = expected_reason {
                    assert_eq!(outcome, Err(reason), "provider {}, tcId {id}", p.name());
                }
            }
        }
        println!(
            "[jwk] provider {}: {total} cases, verified {verified}, valid-but-unsupported rejected \
             {valid_but_unsupported_rejected}, invalid rejected {invalid_rejected}, reasons {reasons:?}",
            p.name()
        );
        assert!(
            failures.is_empty(),
            "provider {}:\n{}",
            p.name(),
            failures.join("\n")
        );
        assert_eq!(total, 26);
        // Valid: tcId 2 (HS256 set), 5 (RS256), 13-15 (long HMAC keys). All unsupported.
        assert_eq!(
            (verified, valid_but_unsupported_rejected, invalid_rejected),
            (0, 5, 21)
        );
    }
}

/// The Wycheproof duplicate-kid and mixed sets are symmetric, so they fail before `kid` is even
/// looked at. The same situations with EC keys, which credkit can load.
#[test]
fn json_web_key_ec_keysets() {
    let file = vectors("json_web_key_test.json");
    let jws_file = vectors("json_web_signature_test.json");
    let gs = groups(&file);
    // The EC member of the mixed key set (tcId 1) and the ES256 key of the JWS tests.
    let mixed_ec = gs[0]["private"]["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kty"] == "EC")
        .expect("EC member");
    let es256 = &groups(&jws_file)[1]["public"];
    for p in all_providers() {
        // Alone, the EC member of the mixed set loads: the oct member is what is refused.
        assert!(load_keyset(p, std::slice::from_ref(mixed_ec)).is_ok());
        // Two different EC keys with the same kid: refused by StaticIssuerKeys::add.
        let mut other = obj(es256).clone();
        let unrelated: Map<String, Value> = serde_json::from_str(UNRELATED_P256).expect("json");
        other.insert("x".into(), unrelated["x"].clone());
        other.insert("y".into(), unrelated["y"].clone());
        assert_eq!(other["kid"], "kid-ec-sign");
        let dup = load_keyset(p, &[es256.clone(), Value::Object(other.clone())]);
        assert_eq!(
            dup.err(),
            Some(("keyset_add", "invalid_key")),
            "provider {}",
            p.name()
        );
        // With distinct kids the set loads and the valid ES256 token verifies with it.
        other.insert("kid".into(), "kid-ec-sign-2".into());
        let keys =
            load_keyset(p, &[Value::Object(other), es256.clone()]).expect("distinct kids load");
        let jws = jws_text(&cases(&groups(&jws_file)[1])[0]);
        assert!(
            keys.iter()
                .any(|k| run_jws(&jws, &**k, &[Algorithm::Es256]).is_ok())
        );
    }
}
