//! Token Status List (draft-ietf-oauth-status-list-20): the upstream vectors in
//! `test-vectors/status-list/` (decoded statuses compared, never compressed bytes, except the two
//! tiny §4.1 examples), every row SL-01 … SL-15 of /work/shared/ATTACKS.md with the exact stable
//! error code, an issuer → verifier / wallet round trip with revocation and suspension through an
//! in-memory `HttpClient` and (feature `http`) the shared HTTPS test server, and CWT Status List
//! Tokens signed and verified.
//!
//! SL-11 (bit order) is covered by the Appendix C vectors: every list is also rebuilt entry by
//! entry with `StatusList::set` and must give the upstream bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]
#![allow(missing_docs)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ciborium::Value as Cbor;
use coset::{
    CoseMac0Builder, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana,
};
use credkit::b64;
use credkit::crypto::{HashAlg, Signer, VerifyingKey, default_provider};
use credkit::http::{FetchPolicy, Fetcher, HttpClient, HttpResponse, HttpsUrl};
use credkit::jose::{Algorithm, Curve, Jws, PrivateJwk, PublicJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{StaticIssuerKeys, danger};
use credkit::sd_jwt_vc::{TrustPolicy, VcBuilder, VcVerifier, Vct, VerifiedVc, X5cTrust};
use credkit::status_list::{
    Bits, CredentialStatus, DEFAULT_MAX_LIST_BYTES, IndexAllocator, STATUS_LIST_CWT_TYP,
    STATUS_LIST_JWT_TYP, Status, StatusChecker, StatusList, StatusListTokenBuilder,
    StatusReference, TokenCheck, status_claim, verify_cwt, verify_jwt,
};
use credkit::time::{Clock, FixedClock};
use credkit::x509::TrustAnchors;
use serde_json::{Map, Value, json};

// The HTTPS test server (`Reply`, `Server`), shared with https.rs, did.rs and the CLI.
#[cfg(feature = "http")]
#[path = "common/tls.rs"]
mod tls;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn code<T: std::fmt::Debug>(r: credkit::Result<T>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e.code(),
    }
}

fn unhex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    assert_eq!(s.len() % 2, 0, "odd number of hex digits");
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256_hex(b: &[u8]) -> String {
    hex(&HashAlg::Sha256.digest(b))
}

fn bits(n: u64) -> Bits {
    Bits::new(n).unwrap()
}

fn u64_of(n: usize) -> u64 {
    u64::try_from(n).unwrap()
}

fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap()
}

fn obj(v: &Value) -> &Map<String, Value> {
    v.as_object().unwrap()
}

fn zlib(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A list-like byte array: mostly zeros, some entries set.
fn list_bytes(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| match i % 23 {
            0 => 0x01,
            5 => 0x90,
            11 => 0xFF,
            _ => 0,
        })
        .collect()
}

fn decode1(compressed: &[u8]) -> credkit::Result<StatusList> {
    StatusList::decompress(bits(1), compressed, DEFAULT_MAX_LIST_BYTES)
}

/// The FLG byte for `cmf` with the given FLEVEL and FDICT, FCHECK made valid (RFC 1950).
fn flg(cmf: u8, flevel: u8, fdict: bool) -> u8 {
    let base = (flevel << 6) | if fdict { 0x20 } else { 0 };
    let r = ((u16::from(cmf) << 8) | u16::from(base)) % 31;
    base + if r == 0 {
        0
    } else {
        u8::try_from(31 - r).unwrap()
    }
}

/// A ZLIB stream inflating to `mib` MiB of zeros, without compressing them all: one MiB is
/// compressed and sync-flushed three times; the second and third segments (steady state, a
/// window full of zeros behind them) are identical and are repeated; the Adler-32 of `n` zeros
/// is `(n mod 65521) << 16 | 1`.
fn zero_bomb(mib: usize) -> Vec<u8> {
    assert!(mib >= 3);
    let chunk = vec![0u8; 1 << 20];
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let mut marks = Vec::new();
    for _ in 0..3 {
        e.write_all(&chunk).unwrap();
        e.flush().unwrap();
        marks.push(e.get_ref().len());
    }
    let sample = e.finish().unwrap();
    let first = &sample[..marks[0]];
    let steady = &sample[marks[0]..marks[1]];
    assert_eq!(steady, &sample[marks[1]..marks[2]], "no steady state");
    let end = &sample[marks[2]..];
    let mut out = first.to_vec();
    for _ in 1..mib {
        out.extend_from_slice(steady);
    }
    out.extend_from_slice(&end[..end.len() - 4]);
    let n = u64_of(mib) << 20;
    let adler = u32::try_from(((n % 65_521) << 16) | 1).unwrap();
    out.extend_from_slice(&adler.to_be_bytes());
    out
}

/// Peak resident set size of this process (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

// ---------------------------------------------------------------------------------------------
// Vectors (test-vectors/status-list only)
// ---------------------------------------------------------------------------------------------

const EX_ISS: &str = "https://example.com";
const EX_URI: &str = "https://example.com/statuslists/1";
const EX_IAT: i64 = 1_686_920_170;
const EX_EXP: i64 = 2_291_720_170;
/// Between the upstream tokens' `iat` and `exp`.
const EX_NOW: i64 = 1_760_000_000;

fn vector_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/status-list")
}

fn vectors() -> Vec<Map<String, Value>> {
    let text =
        std::fs::read_to_string(vector_dir().join("derived/status-list-vectors.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| obj(x).clone())
        .collect()
}

fn vector(id: &str) -> Map<String, Value> {
    vectors()
        .into_iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no vector {id}"))
}

fn statuses(v: &Map<String, Value>) -> BTreeMap<u64, u8> {
    obj(&v["statuses"])
        .iter()
        .map(|(k, s)| {
            (
                k.parse().unwrap(),
                u8::try_from(s.as_u64().unwrap()).unwrap(),
            )
        })
        .collect()
}

fn example_key(v: &Map<String, Value>) -> PrivateJwk {
    PrivateJwk::from_json(obj(&v["example_key_jwk"])).unwrap()
}

fn example_verifying_key(v: &Map<String, Value>) -> Arc<dyn VerifyingKey> {
    default_provider()
        .verifying_key(example_key(v).public(), Algorithm::Es256)
        .unwrap()
}

fn tc<'a>(uri: &'a str, credential_issuer: Option<&'a str>, now: i64) -> TokenCheck<'a> {
    TokenCheck {
        uri,
        credential_issuer,
        credential_binding: None,
        now,
        leeway: 0,
        max_list_bytes: DEFAULT_MAX_LIST_BYTES,
    }
}

const SMALL: [&str; 2] = ["sec4.1-1bit-16", "sec4.1-2bit-12"];
const APPENDIX_C: [&str; 4] = [
    "appendixC-1-bit",
    "appendixC-2-bit",
    "appendixC-4-bit",
    "appendixC-8-bit",
];
const JWT_TOKEN: &str = "sec8.2-status-list-token-jwt";
const JWT_CASES: [&str; 5] = [
    "sec8.2-token-neg-idx-out-of-bounds",
    "sec8.2-token-neg-sub-uri-mismatch",
    "sec8.2-token-pos-idx-0",
    "sec8.2-token-pos-idx-1",
    "sec8.2-token-neg-expired-list",
];
const CWT_TOKEN: &str = "sec5.2-status-list-token-cwt";
const REFERENCED_CWT: &str = "sec6.3-referenced-token-cwt";

#[test]
fn every_vector_is_tested() {
    let ids: BTreeSet<String> = vectors()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    let mut tested: BTreeSet<String> = BTreeSet::new();
    for id in SMALL.iter().chain(&APPENDIX_C).chain(&JWT_CASES).chain(&[
        JWT_TOKEN,
        CWT_TOKEN,
        REFERENCED_CWT,
    ]) {
        tested.insert((*id).to_owned());
    }
    assert_eq!(ids, tested);
}

/// Every entry 0..size is the listed status or 0 (a full scan, not a sample).
fn assert_entries(list: &StatusList, expected: &BTreeMap<u64, u8>, size: u64, id: &str) {
    assert!(u64_of(list.capacity()) >= size, "{id}");
    let mut nonzero = 0usize;
    for i in 0..size {
        let want = expected.get(&i).copied().unwrap_or(0);
        let got = list.get(i).unwrap();
        assert_eq!(got, want, "{id}: entry {i}");
        assert_eq!(
            list.status(i).unwrap(),
            Status::from_value(want),
            "{id}: {i}"
        );
        if got != 0 {
            nonzero += 1;
        }
    }
    assert_eq!(
        nonzero,
        expected.values().filter(|s| **s != 0).count(),
        "{id}"
    );
}

#[test]
fn section_4_1_small_lists_byte_for_byte() {
    for id in SMALL {
        let v = vector(id);
        let size = v["size"].as_u64().unwrap();
        let b = bits(v["bits"].as_u64().unwrap());
        let expected = statuses(&v);
        let mut list = StatusList::new(b, usize_of(size)).unwrap();
        assert_eq!(u64_of(list.capacity()), size, "{id}");
        for (i, s) in &expected {
            list.set(*i, Status::from_value(*s)).unwrap();
        }
        assert_eq!(
            hex(list.as_bytes()),
            v["expected_uncompressed_hex"].as_str().unwrap(),
            "{id}"
        );
        // flate2 reproduces these two compressed streams exactly (SOURCE.md).
        assert_eq!(
            hex(&list.compressed()),
            v["expected_compressed_hex"].as_str().unwrap(),
            "{id}"
        );
        assert_eq!(
            Value::Object(list.to_json()),
            v["expected_status_list_json"],
            "{id}"
        );
        let decoded =
            StatusList::from_json(obj(&v["expected_status_list_json"]), DEFAULT_MAX_LIST_BYTES)
                .unwrap();
        assert_eq!(decoded, list, "{id}");
        assert_entries(&decoded, &expected, size, id);
        assert_eq!(code(decoded.get(size)), "status_index_out_of_range", "{id}");
        let direct = StatusList::decompress(
            b,
            &unhex(v["expected_compressed_hex"].as_str().unwrap()),
            DEFAULT_MAX_LIST_BYTES,
        )
        .unwrap();
        assert_eq!(direct, list, "{id}");
        let cbor = StatusList::from_cbor(&list.to_cbor(), DEFAULT_MAX_LIST_BYTES).unwrap();
        assert_eq!(cbor, list, "{id}");
    }
}

#[test]
fn appendix_c_lists_decode_from_json_and_cbor() {
    for id in APPENDIX_C {
        let v = vector(id);
        let size = v["size"].as_u64().unwrap();
        let nbits = v["bits"].as_u64().unwrap();
        let expected = statuses(&v);
        let json = obj(&v["expected_status_list_json"]);
        let from_json = StatusList::from_json(json, DEFAULT_MAX_LIST_BYTES).unwrap();
        let cbor_bytes = unhex(v["expected_status_list_cbor_hex"].as_str().unwrap());
        let from_cbor = StatusList::from_cbor(&cbor_bytes, DEFAULT_MAX_LIST_BYTES).unwrap();
        assert_eq!(from_json.as_bytes(), from_cbor.as_bytes(), "{id}");
        assert_eq!(u64::from(from_json.bits().get()), nbits, "{id}");
        assert_eq!(from_cbor.bits(), from_json.bits(), "{id}");
        assert_eq!(u64_of(from_json.as_bytes().len()), size * nbits / 8, "{id}");
        assert_eq!(u64_of(from_json.capacity()), size, "{id}");
        assert_eq!(
            sha256_hex(from_json.as_bytes()),
            v["expected_uncompressed_sha256"].as_str().unwrap(),
            "{id}"
        );
        assert_entries(&from_json, &expected, size, id);
        assert_eq!(
            code(from_json.get(size)),
            "status_index_out_of_range",
            "{id}"
        );

        // SL-11: building the list entry by entry (LSB first) gives the same bytes.
        let mut built = StatusList::new(bits(nbits), usize_of(size)).unwrap();
        for (i, s) in &expected {
            built.set(*i, Status::from_value(*s)).unwrap();
        }
        assert_eq!(built.as_bytes(), from_json.as_bytes(), "{id}");

        // Re-encoded by credkit (other compressed bytes than CPython's) and decoded again.
        let again = StatusList::from_json(&from_json.to_json(), DEFAULT_MAX_LIST_BYTES).unwrap();
        assert_eq!(again.as_bytes(), from_json.as_bytes(), "{id}");
        let again = StatusList::from_cbor(&from_json.to_cbor(), DEFAULT_MAX_LIST_BYTES).unwrap();
        assert_eq!(again.as_bytes(), from_json.as_bytes(), "{id}");
        let again = StatusList::decompress(
            from_json.bits(),
            &from_json.compressed(),
            DEFAULT_MAX_LIST_BYTES,
        )
        .unwrap();
        assert_eq!(again, from_json, "{id}");
    }
}

#[test]
fn section_8_2_status_list_token_verifies_with_the_example_key() {
    let v = vector(JWT_TOKEN);
    let token = v["status_list_token_jwt"].as_str().unwrap();
    let key = example_key(&v);
    let trust = StaticIssuerKeys::single(key.public(), default_provider()).unwrap();

    let jws = Jws::parse_compact(token).unwrap();
    assert_eq!(Value::Object(jws.header().clone()), v["header"]);
    assert_eq!(Value::Object(jws.payload_json(16).unwrap()), v["payload"]);

    for credential_issuer in [Some(EX_ISS), None] {
        for now in [EX_NOW, EX_IAT, EX_EXP] {
            let t = verify_jwt(token, &trust, &tc(EX_URI, credential_issuer, now)).unwrap();
            assert_eq!(t.uri, EX_URI);
            assert_eq!(t.issuer.as_deref(), Some(EX_ISS));
            assert_eq!(t.issued_at, EX_IAT);
            assert_eq!(t.expires_at, Some(EX_EXP));
            assert_eq!(t.ttl, Some(43_200));
            assert_eq!(t.list.bits().get(), 1);
            assert_eq!(t.list.capacity(), 16);
            for (i, s) in obj(&v["expected_status_at_idx"]) {
                assert_eq!(
                    u64::from(t.list.get(i.parse().unwrap()).unwrap()),
                    s.as_u64().unwrap(),
                    "idx {i}"
                );
            }
        }
    }

    // The example referenced token points at entry 0 of this list: INVALID.
    let r = StatusReference::from_claims(obj(&v["referenced_token_status_claim_example"]))
        .unwrap()
        .unwrap();
    assert_eq!((r.idx, r.uri.as_str()), (0, EX_URI));
    let t = verify_jwt(token, &trust, &tc(&r.uri, Some(EX_ISS), EX_NOW)).unwrap();
    assert_eq!(t.list.status(r.idx).unwrap(), Status::Invalid);

    // Around the validity window (leeway 0, then 60).
    assert_eq!(
        code(verify_jwt(token, &trust, &tc(EX_URI, None, EX_IAT - 1))),
        "status_list_token_invalid"
    );
    assert_eq!(
        code(verify_jwt(token, &trust, &tc(EX_URI, None, EX_EXP + 1))),
        "status_list_expired"
    );
    let lenient = TokenCheck {
        leeway: 60,
        ..tc(EX_URI, None, EX_EXP + 60)
    };
    verify_jwt(token, &trust, &lenient).unwrap();
    let lenient = TokenCheck {
        leeway: 60,
        ..tc(EX_URI, None, EX_EXP + 61)
    };
    assert_eq!(
        code(verify_jwt(token, &trust, &lenient)),
        "status_list_expired"
    );

    // Another credential issuer, another key under the same kid, a key with another kid.
    assert_eq!(
        code(verify_jwt(
            token,
            &trust,
            &tc(EX_URI, Some("https://other.example.com"), EX_NOW)
        )),
        "issuer_mismatch"
    );
    let other = key_for(Algorithm::Es256, Some("12"));
    let other_trust = StaticIssuerKeys::single(&other.public, default_provider()).unwrap();
    assert_eq!(
        code(verify_jwt(token, &other_trust, &tc(EX_URI, None, EX_NOW))),
        "invalid_signature"
    );
    let other = key_for(Algorithm::Es256, Some("13"));
    let other_trust = StaticIssuerKeys::single(&other.public, default_provider()).unwrap();
    assert_eq!(
        code(verify_jwt(token, &other_trust, &tc(EX_URI, None, EX_NOW))),
        "unknown_key"
    );
}

/// What each §8.2 case must give.
fn jwt_case_outcome(id: &str) -> Result<Status, &'static str> {
    match id {
        "sec8.2-token-neg-idx-out-of-bounds" => Err("status_index_out_of_range"),
        "sec8.2-token-neg-sub-uri-mismatch" => Err("status_list_sub_mismatch"),
        "sec8.2-token-pos-idx-0" => Ok(Status::Invalid),
        "sec8.2-token-pos-idx-1" => Ok(Status::Valid),
        "sec8.2-token-neg-expired-list" => Err("status_list_expired"),
        other => panic!("unknown case {other}"),
    }
}

#[test]
fn section_8_2_positive_and_negative_cases() {
    let base = vector(JWT_TOKEN);
    let trust = StaticIssuerKeys::single(example_key(&base).public(), default_provider()).unwrap();
    for id in JWT_CASES {
        let v = vector(id);
        let token = v["status_list_token_jwt"].as_str().unwrap();
        assert_eq!(token, base["status_list_token_jwt"].as_str().unwrap());
        let r = obj(&v["referenced_status_list"]);
        let idx = r["idx"].as_u64().unwrap();
        let uri = r["uri"].as_str().unwrap();
        let now = r
            .get("verifier_now")
            .map_or(EX_NOW, |n| n.as_i64().unwrap());
        let outcome = verify_jwt(token, &trust, &tc(uri, Some(EX_ISS), now))
            .and_then(|t| t.list.status(idx))
            .map_err(|e| e.code());
        let want = jwt_case_outcome(id);
        assert_eq!(outcome, want, "{id}");
        // The vector's own wording agrees.
        let expected = v["expected"].as_str().unwrap();
        match want {
            Ok(s) => assert_eq!(expected, format!("status {} ({s})", s.value()), "{id}"),
            Err(_) => assert_eq!(expected, "reject", "{id}"),
        }
    }
}

#[test]
fn section_8_2_cases_through_the_status_checker() {
    // The example key's private part is public: a credential of https://example.com that
    // references the upstream list, checked with the upstream token served in memory.
    let base = vector(JWT_TOKEN);
    let token = base["status_list_token_jwt"].as_str().unwrap();
    let private = example_key(&base);
    let signer = default_provider().signer(&private).unwrap();
    let trust = Arc::new(TrustPolicy::new().issuer(
        EX_ISS,
        Arc::new(StaticIssuerKeys::single(private.public(), default_provider()).unwrap()),
    ));
    let net = Arc::new(Net::default());
    net.serve(EX_URI, token.as_bytes());
    net.serve("https://example.com/statuslists/2", token.as_bytes());
    for id in JWT_CASES {
        let v = vector(id);
        let r = obj(&v["referenced_status_list"]);
        let idx = r["idx"].as_u64().unwrap();
        let uri = r["uri"].as_str().unwrap();
        // The checker allows 60 s of clock skew.
        let now = r
            .get("verifier_now")
            .map_or(EX_NOW, |n| n.as_i64().unwrap() + 60);
        let clock: Arc<dyn Clock> = Arc::new(FixedClock(now));
        let verifier = VcVerifier::builder_with_clock(trust.clone(), clock.clone())
            .key_binding(danger::key_binding_optional())
            .build()
            .unwrap();
        let credential = VcBuilder::new(Vct::new(VCT).unwrap(), subject())
            .issuer(EX_ISS)
            .issued_at(EX_IAT)
            .status(status_claim(idx, uri))
            .issue(&*signer, &OsRandom)
            .unwrap()
            .to_string();
        let verified = verifier.verify(&credential).unwrap();
        let checker = StatusChecker::new(Fetcher::new(net.clone()), trust.clone()).clock(clock);
        let outcome = checker.check(&verified).map_err(|e| e.code());
        assert_eq!(
            outcome,
            jwt_case_outcome(id).map(CredentialStatus::Listed),
            "{id}"
        );
    }
}

#[test]
fn section_5_2_status_list_cwt_verifies_with_the_example_key() {
    let v = vector(CWT_TOKEN);
    let token = unhex(v["cose_sign1_hex"].as_str().unwrap());
    let key = example_verifying_key(&v);
    let t = verify_cwt(
        &token,
        std::slice::from_ref(&key),
        &tc(EX_URI, Some(EX_ISS), EX_NOW),
    )
    .unwrap();
    assert_eq!(t.uri, EX_URI);
    assert_eq!(t.issuer, None);
    assert_eq!(t.issued_at, EX_IAT);
    assert_eq!(t.expires_at, Some(EX_EXP));
    assert_eq!(t.ttl, Some(43_200));
    assert_eq!(t.list.bits().get(), 1);
    assert_eq!(t.list.as_bytes(), [0xB9, 0xA3]);
    // The same list as the JWT form's.
    let jwt = vector(JWT_TOKEN);
    let trust = StaticIssuerKeys::single(example_key(&jwt).public(), default_provider()).unwrap();
    let from_jwt = verify_jwt(
        jwt["status_list_token_jwt"].as_str().unwrap(),
        &trust,
        &tc(EX_URI, None, EX_NOW),
    )
    .unwrap();
    assert_eq!(t.list, from_jwt.list);

    let other = key_for(Algorithm::Es256, None);
    let other = default_provider()
        .verifying_key(&other.public, Algorithm::Es256)
        .unwrap();
    assert_eq!(
        code(verify_cwt(
            &token,
            std::slice::from_ref(&other),
            &tc(EX_URI, None, EX_NOW)
        )),
        "invalid_signature"
    );
    // Any of several keys may have signed.
    verify_cwt(&token, &[other, key.clone()], &tc(EX_URI, None, EX_NOW)).unwrap();
    assert_eq!(
        code(verify_cwt(&token, &[], &tc(EX_URI, None, EX_NOW))),
        "invalid_signature"
    );
    assert_eq!(
        code(verify_cwt(
            &token,
            std::slice::from_ref(&key),
            &tc("https://example.com/statuslists/2", None, EX_NOW)
        )),
        "status_list_sub_mismatch"
    );
    assert_eq!(
        code(verify_cwt(&token, &[key], &tc(EX_URI, None, EX_EXP + 1))),
        "status_list_expired"
    );
}

#[test]
fn section_6_3_referenced_token_cwt() {
    // credkit has no CWT referenced-token API: the COSE_Sign1 is checked with coset and the
    // example key, and its claim 65535 read as a status reference.
    let v = vector(REFERENCED_CWT);
    let bytes = unhex(v["cose_sign1_hex"].as_str().unwrap());
    let key = example_verifying_key(&v);
    let sign1 = CoseSign1::from_tagged_slice(&bytes).unwrap();
    assert_eq!(
        sign1.protected.header.alg,
        Some(coset::RegisteredLabelWithPrivate::Assigned(
            iana::Algorithm::ES256
        ))
    );
    sign1
        .verify_signature(b"", |sig, tbs| key.verify(tbs, sig))
        .unwrap();
    let claims: Cbor = ciborium::from_reader(sign1.payload.as_deref().unwrap()).unwrap();
    let Cbor::Map(claims) = claims else {
        panic!("claims are a map")
    };
    let status = claims
        .iter()
        .find(|(k, _)| *k == Cbor::Integer(65_535.into()))
        .map(|(_, v)| v)
        .unwrap();
    let status = serde_json::to_value(status).unwrap();
    let mut referenced = Map::new();
    referenced.insert("status".into(), status);
    let r = StatusReference::from_claims(&referenced).unwrap().unwrap();
    assert_eq!((r.idx, r.uri.as_str()), (0, EX_URI));
    // Entry 0 of the upstream CWT list is INVALID.
    let list_token = unhex(vector(CWT_TOKEN)["cose_sign1_hex"].as_str().unwrap());
    let t = verify_cwt(&list_token, &[key], &tc(&r.uri, None, EX_NOW)).unwrap();
    assert_eq!(t.list.status(r.idx).unwrap(), Status::Invalid);
}

/// `byte_array = [...]` (when present) and the text after `encoded:`.
fn split_example(text: &str) -> (Option<Vec<u8>>, &str) {
    let Some(rest) = text.strip_prefix("byte_array = [") else {
        return (None, text);
    };
    let (array, rest) = rest.split_once(']').unwrap();
    let bytes = array
        .split(',')
        .map(|b| u8::from_str_radix(b.trim().trim_start_matches("0x"), 16).unwrap())
        .collect();
    let (_, body) = rest.split_once("encoded:").unwrap();
    (Some(bytes), body)
}

/// Annotated CBOR hex: the column before `#`.
fn diag_hex(text: &str) -> Vec<u8> {
    let h: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .collect();
    unhex(&h)
}

fn no_ws(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn upstream_example_files_decode() {
    let dir = vector_dir().join("examples");
    let long = |name: &str| match name {
        "status_list_encoding1_long" => "appendixC-1-bit",
        "status_list_encoding2_long" => "appendixC-2-bit",
        "status_list_encoding4" => "appendixC-4-bit",
        "status_list_encoding8" => "appendixC-8-bit",
        "status_list_encoding" => "sec4.1-1bit-16",
        "status_list_encoding2" => "sec4.1-2bit-12",
        other => panic!("unexpected example {other}"),
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 20);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let mut lists = 0;
    for name in &names {
        let text = read(name);
        if let Some(stem) = name
            .strip_suffix("_json.md")
            .or_else(|| name.strip_suffix("_cbor.md"))
        {
            let (byte_array, body) = split_example(&text);
            let compact = no_ws(body);
            let v = vector(long(stem));
            let list = if name.ends_with("_json.md") {
                let json: Map<String, Value> = serde_json::from_str(&compact).unwrap();
                let list = StatusList::from_json(&json, DEFAULT_MAX_LIST_BYTES).unwrap();
                assert_eq!(Value::Object(json.clone()), v["expected_status_list_json"]);
                if byte_array.is_some() {
                    assert_eq!(list.to_json(), json, "{name}: exact re-encoding");
                }
                list
            } else {
                let cbor = unhex(&compact);
                let list = StatusList::from_cbor(&cbor, DEFAULT_MAX_LIST_BYTES).unwrap();
                if byte_array.is_some() {
                    assert_eq!(list.to_cbor(), cbor, "{name}: exact re-encoding");
                } else {
                    assert_eq!(compact, v["expected_status_list_cbor_hex"], "{name}");
                }
                list
            };
            match byte_array {
                Some(bytes) => {
                    assert_eq!(list.as_bytes(), bytes, "{name}");
                    assert_eq!(hex(&bytes), v["expected_uncompressed_hex"], "{name}");
                }
                None => assert_eq!(
                    sha256_hex(list.as_bytes()),
                    v["expected_uncompressed_sha256"],
                    "{name}"
                ),
            }
            let size = v["size"].as_u64().unwrap();
            assert_entries(&list, &statuses(&v), size, name);
            lists += 1;
        } else if let Some(stem) = name.strip_suffix("_diag.md") {
            let plain = read(&format!("{stem}.md"));
            let (_, body) = split_example(&plain);
            assert_eq!(diag_hex(&text), unhex(body), "{name}");
        } else {
            match name.as_str() {
                "status_list_cwt.md" => {
                    let v = vector(CWT_TOKEN);
                    assert_eq!(no_ws(&text), v["cose_sign1_hex"].as_str().unwrap());
                    verify_cwt(
                        &unhex(&text),
                        &[example_verifying_key(&v)],
                        &tc(EX_URI, None, EX_NOW),
                    )
                    .unwrap();
                }
                "referenced_token_cwt.md" => {
                    let v = vector(REFERENCED_CWT);
                    assert_eq!(no_ws(&text), v["cose_sign1_hex"].as_str().unwrap());
                }
                "status_list_jwt_raw.md" => {
                    let v = vector(JWT_TOKEN);
                    let token = no_ws(&text);
                    assert_eq!(token, v["status_list_token_jwt"].as_str().unwrap());
                    let trust =
                        StaticIssuerKeys::single(example_key(&v).public(), default_provider())
                            .unwrap();
                    verify_jwt(&token, &trust, &tc(EX_URI, None, EX_NOW)).unwrap();
                }
                "status_list_jwt.md" => {
                    let v = vector(JWT_TOKEN);
                    let (header, payload) = text.split_once("\n.\n").unwrap();
                    let header: Value = serde_json::from_str(header).unwrap();
                    let payload: Value = serde_json::from_str(payload).unwrap();
                    assert_eq!(header, v["header"]);
                    // The decoded rendering omits the raw token's `iss`.
                    let mut raw = obj(&v["payload"]).clone();
                    raw.remove("iss");
                    assert_eq!(payload, Value::Object(raw));
                    StatusList::from_json(obj(&payload["status_list"]), DEFAULT_MAX_LIST_BYTES)
                        .unwrap();
                }
                other => panic!("unexpected example file {other}"),
            }
        }
    }
    assert_eq!(lists, 12);
}

// ---------------------------------------------------------------------------------------------
// Issuer, verifier and network fixtures
// ---------------------------------------------------------------------------------------------

const ISS: &str = "https://issuer.example.com";
const LIST_URI: &str = "https://issuer.example.com/statuslists/1";
const VCT: &str = "https://credentials.example.com/identity_credential";
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;

struct Key {
    signer: Arc<dyn Signer>,
    public: PublicJwk,
}

fn key_for(alg: Algorithm, kid: Option<&str>) -> Key {
    let p = default_provider();
    let mut k = p.generate(alg, &OsRandom).unwrap();
    if let Some(kid) = kid {
        k = k.with_kid(kid);
    }
    Key {
        signer: p.signer(&k).unwrap(),
        public: k.public().clone(),
    }
}

fn key(kid: Option<&str>) -> Key {
    key_for(Algorithm::Es256, kid)
}

fn static_keys(key: &Key) -> StaticIssuerKeys {
    StaticIssuerKeys::single(&key.public, default_provider()).unwrap()
}

fn subject() -> Map<String, Value> {
    obj(&json!({"given_name": "Erika", "family_name": "Mustermann"})).clone()
}

#[derive(Debug)]
struct MovingClock(AtomicI64);

impl MovingClock {
    fn at(t: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(t)))
    }
    fn set(&self, t: i64) {
        self.0.store(t, Ordering::SeqCst);
    }
}

impl Clock for MovingClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Fixed responses per URL (404 otherwise); counts requests.
#[derive(Debug, Default)]
struct Net {
    routes: Mutex<HashMap<String, HttpResponse>>,
    hits: AtomicUsize,
}

impl Net {
    fn respond(&self, url: &str, r: HttpResponse) {
        self.routes.lock().unwrap().insert(url.to_owned(), r);
    }
    fn serve(&self, url: &str, body: &[u8]) {
        self.respond(
            url,
            HttpResponse::new(200, body.to_vec()).with_content_type("application/statuslist+jwt"),
        );
    }
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl HttpClient for Net {
    fn get(&self, url: &HttpsUrl, _policy: &FetchPolicy) -> credkit::Result<HttpResponse> {
        self.hits.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .routes
            .lock()
            .unwrap()
            .get(url.as_str())
            .cloned()
            .unwrap_or_else(|| HttpResponse::new(404, Vec::new())))
    }
}

/// A compact JWT with exactly this header and these claims, signed by `signer`.
fn craft_jwt(header: &Value, claims: &Map<String, Value>, signer: &dyn Signer) -> String {
    let h = b64::encode(header.to_string().as_bytes());
    let p = b64::encode(Value::Object(claims.clone()).to_string().as_bytes());
    let sig = signer.sign(format!("{h}.{p}").as_bytes()).unwrap();
    format!("{h}.{p}.{}", b64::encode(&sig))
}

/// The header credkit's builder would write for `signer`.
fn list_header(signer: &dyn Signer) -> Value {
    let mut h = json!({"alg": signer.algorithm().name(), "typ": STATUS_LIST_JWT_TYP});
    if let Some(kid) = signer.public_jwk().kid() {
        h["kid"] = kid.into();
    }
    h
}

/// Claims of a token for `list` at `sub`, by `ISS`, issued at `iat`, valid for a day.
fn list_claims(list: &StatusList, sub: &str, iat: i64) -> Map<String, Value> {
    StatusListTokenBuilder::new(sub, iat)
        .issuer(ISS)
        .expires_at(iat + 86_400)
        .claims(list)
}

/// A 2-bit list: 0 VALID, 1 INVALID, 2 SUSPENDED, 3 = 0x03, the rest VALID.
fn sample_list() -> StatusList {
    let mut l = StatusList::new(bits(2), 16).unwrap();
    l.set(1, Status::Invalid).unwrap();
    l.set(2, Status::Suspended).unwrap();
    l.set(3, Status::Other(3)).unwrap();
    l
}

/// An issuer (`ISS`, keys found by `StaticIssuerKeys`), a verifier and a status checker on a
/// moving clock, and the in-memory network between them.
struct World {
    issuer: Key,
    clock: Arc<MovingClock>,
    net: Arc<Net>,
    verifier: VcVerifier,
    checker: StatusChecker,
}

impl World {
    fn new() -> Self {
        Self::with(|c| c)
    }

    fn with(configure: impl FnOnce(StatusChecker) -> StatusChecker) -> Self {
        let issuer = key(Some("issuer-key-1"));
        let clock = MovingClock::at(T0);
        let net = Arc::new(Net::default());
        let trust = Arc::new(TrustPolicy::new().issuer(ISS, Arc::new(static_keys(&issuer))));
        let verifier = VcVerifier::builder_with_clock(trust.clone(), clock.clone())
            .key_binding(danger::key_binding_optional())
            .build()
            .unwrap();
        let checker = configure(
            StatusChecker::new(Fetcher::new(net.clone()), trust.clone()).clock(clock.clone()),
        );
        Self {
            issuer,
            clock,
            net,
            verifier,
            checker,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    /// An SD-JWT VC by `ISS` with this `status` claim.
    fn credential(&self, status: Map<String, Value>) -> String {
        VcBuilder::new(Vct::new(VCT).unwrap(), subject())
            .issuer(ISS)
            .issued_at(T0 - 60)
            .status(status)
            .disclose("/given_name")
            .unwrap()
            .issue(&*self.issuer.signer, &OsRandom)
            .unwrap()
            .to_string()
    }

    fn verified(&self, status: Map<String, Value>) -> VerifiedVc {
        self.verifier.verify(&self.credential(status)).unwrap()
    }

    fn check(&self, idx: u64) -> credkit::Result<CredentialStatus> {
        self.checker
            .check(&self.verified(status_claim(idx, LIST_URI)))
    }

    /// Publishes `list` at `LIST_URI`, issued now.
    fn publish(&self, list: &StatusList, ttl: Option<u64>, exp: Option<i64>) {
        let mut b = StatusListTokenBuilder::new(LIST_URI, self.now()).issuer(ISS);
        if let Some(t) = ttl {
            b = b.ttl(t);
        }
        if let Some(e) = exp {
            b = b.expires_at(e);
        }
        let token = b.sign_jwt(list, &*self.issuer.signer).unwrap();
        self.net.serve(LIST_URI, token.as_bytes());
    }

    fn serve(&self, token: &str) {
        self.net.serve(LIST_URI, token.as_bytes());
    }

    fn hits(&self) -> usize {
        self.net.hits()
    }
}

// ---------------------------------------------------------------------------------------------
// ATTACKS SL-01 … SL-15
// ---------------------------------------------------------------------------------------------

#[test]
fn sl01_index_at_or_beyond_the_list_is_rejected() {
    for n in [1u64, 2, 4, 8] {
        let mut l = StatusList::new(bits(n), 10).unwrap();
        let per = usize_of(8 / n);
        let cap = u64_of(l.capacity());
        assert_eq!(usize_of(cap), 10usize.div_ceil(per) * per);
        assert_eq!(l.get(cap - 1).unwrap(), 0);
        for idx in [cap, cap + 1, (1 << 53) - 1] {
            assert_eq!(
                code(l.get(idx)),
                "status_index_out_of_range",
                "{n} bits, {idx}"
            );
            assert_eq!(
                code(l.set(idx, Status::Invalid)),
                "status_index_out_of_range"
            );
        }
    }
    // An empty list holds no index at all.
    let empty = StatusList::decompress(bits(1), &zlib(&[], 9), DEFAULT_MAX_LIST_BYTES).unwrap();
    assert_eq!(empty.capacity(), 0);
    assert_eq!(code(empty.get(0)), "status_index_out_of_range");

    // Through the checker (§8.3 step 6): the credential must be rejected.
    let w = World::new();
    w.publish(&sample_list(), Some(300), None);
    assert_eq!(
        w.check(15).unwrap(),
        CredentialStatus::Listed(Status::Valid)
    );
    assert_eq!(code(w.check(16)), "status_index_out_of_range");
    assert_eq!(code(w.check((1 << 53) - 1)), "status_index_out_of_range");
    assert_eq!(w.hits(), 1);
    // Beyond 2^53 - 1 the reference itself is malformed (SL-02): the credential does not
    // verify, so nothing is fetched.
    for idx in [1u64 << 53, u64::MAX] {
        let err = w
            .verifier
            .verify(&w.credential(status_claim(idx, LIST_URI)))
            .unwrap_err();
        assert_eq!(err.code(), "vc_claim_invalid");
    }
    assert_eq!(w.hits(), 1);
}

#[test]
fn sl02_malformed_status_reference_is_rejected() {
    let huge: Value = serde_json::from_str("18446744073709551616").unwrap();
    let bad_idx = [
        json!(-1),
        json!(1.5),
        json!(1.0),
        json!("3"),
        json!(1e300),
        huge,
        json!(null),
        json!(true),
        json!([1]),
        json!({"v": 1}),
    ];
    let w = World::new();
    w.publish(&sample_list(), Some(300), None);
    for idx in bad_idx {
        let status = obj(&json!({"status_list": {"idx": idx, "uri": LIST_URI}})).clone();
        let claims = obj(&json!({"status": status})).clone();
        assert_eq!(
            code(StatusReference::from_claims(&claims)),
            "status_reference_invalid",
            "{idx}"
        );
        // Through the verifier and the checker: the credential never verifies, so it is never
        // checked (StatusChecker::check takes a VerifiedVc) and nothing is fetched.
        let credential = w.credential(status);
        assert_eq!(
            code(w.verifier.verify(&credential)),
            "vc_claim_invalid",
            "{idx}"
        );
    }
    let other_shapes = [
        json!({"status": "revoked"}),
        json!({"status": []}),
        json!({"status": {"status_list": "https://issuer.example.com/statuslists/1"}}),
        json!({"status": {"status_list": {"uri": LIST_URI}}}),
        json!({"status": {"status_list": {"idx": 1}}}),
        json!({"status": {"status_list": {"idx": 1, "uri": 7}}}),
    ];
    for claims in other_shapes {
        assert_eq!(
            code(StatusReference::from_claims(obj(&claims))),
            "status_reference_invalid",
            "{claims}"
        );
    }
    assert_eq!(w.hits(), 0);

    // Well-formed references, and credentials without one.
    let r = StatusReference::from_claims(obj(
        &json!({"status": {"status_list": {"idx": 0, "uri": LIST_URI}}}),
    ))
    .unwrap()
    .unwrap();
    assert_eq!((r.idx, r.uri.as_str()), (0, LIST_URI));
    // Up to 2^53 - 1 (the integers every JSON implementation keeps exact), not beyond (SL-02).
    let big = StatusReference::from_claims(obj(
        &json!({"status": {"status_list": {"idx": (1u64 << 53) - 1, "uri": LIST_URI}}}),
    ))
    .unwrap()
    .unwrap();
    assert_eq!(big.idx, (1 << 53) - 1);
    for idx in [1u64 << 53, u64::MAX] {
        let err = StatusReference::from_claims(obj(
            &json!({"status": {"status_list": {"idx": idx, "uri": LIST_URI}}}),
        ))
        .unwrap_err();
        assert_eq!(err.code(), "status_reference_invalid");
    }
    assert_eq!(StatusReference::from_claims(&Map::new()).unwrap(), None);
    assert_eq!(
        StatusReference::from_claims(obj(&json!({"status": {"other_mechanism": {}}}))).unwrap(),
        None
    );
    let plain = VcBuilder::new(Vct::new(VCT).unwrap(), subject())
        .issuer(ISS)
        .issue(&*w.issuer.signer, &OsRandom)
        .unwrap()
        .to_string();
    let v = w.verifier.verify(&plain).unwrap();
    assert_eq!(
        w.checker.check(&v).unwrap(),
        CredentialStatus::NotReferenced
    );
    CredentialStatus::NotReferenced.require_valid().unwrap();
    assert_eq!(w.hits(), 0);
}

#[test]
fn sl03_bits_other_than_1_2_4_8_are_rejected() {
    for n in [1u64, 2, 4, 8] {
        assert_eq!(u64::from(Bits::new(n).unwrap().get()), n);
    }
    for n in [0u64, 3, 5, 6, 7, 16, 32, 255, 256, u64::MAX] {
        assert_eq!(code(Bits::new(n)), "status_list_invalid", "{n}");
    }
    let lst = b64::encode(&zlib(&[0xB9, 0xA3], 9));
    for b in [
        json!(0),
        json!(3),
        json!(16),
        json!("1"),
        json!(-1),
        json!(null),
        json!(1.5),
    ] {
        let json = obj(&json!({"bits": b, "lst": lst})).clone();
        assert_eq!(
            code(StatusList::from_json(&json, DEFAULT_MAX_LIST_BYTES)),
            "status_list_invalid",
            "{b}"
        );
    }
    for json in [
        json!({"lst": lst}),
        json!({"bits": 1}),
        json!({"bits": 1, "lst": 5}),
    ] {
        assert_eq!(
            code(StatusList::from_json(obj(&json), DEFAULT_MAX_LIST_BYTES)),
            "status_list_invalid",
            "{json}"
        );
    }
    let compressed = zlib(&[0xB9, 0xA3], 9);
    let cbor = |b: Cbor, lst: Cbor| {
        let mut out = Vec::new();
        ciborium::into_writer(
            &Cbor::Map(vec![
                (Cbor::Text("bits".into()), b),
                (Cbor::Text("lst".into()), lst),
            ]),
            &mut out,
        )
        .unwrap();
        out
    };
    let good = cbor(Cbor::Integer(1.into()), Cbor::Bytes(compressed.clone()));
    StatusList::from_cbor(&good, DEFAULT_MAX_LIST_BYTES).unwrap();
    for b in [
        Cbor::Integer(0.into()),
        Cbor::Integer(3.into()),
        Cbor::Integer(16.into()),
        Cbor::Integer((-1).into()),
        Cbor::Text("1".into()),
        Cbor::Float(1.0),
    ] {
        assert_eq!(
            code(StatusList::from_cbor(
                &cbor(b.clone(), Cbor::Bytes(compressed.clone())),
                DEFAULT_MAX_LIST_BYTES
            )),
            "status_list_invalid",
            "{b:?}"
        );
    }
    // lst as text (the JSON form's base64url) is not the CBOR form.
    assert_eq!(
        code(StatusList::from_cbor(
            &cbor(Cbor::Integer(1.into()), Cbor::Text(lst.clone())),
            DEFAULT_MAX_LIST_BYTES
        )),
        "status_list_invalid"
    );
    assert_eq!(
        code(StatusList::from_cbor(&[0xFF, 0x00], DEFAULT_MAX_LIST_BYTES)),
        "status_list_invalid"
    );
    // In a signed token.
    let k = key(None);
    let mut claims = list_claims(&sample_list(), LIST_URI, T0);
    claims.insert("status_list".into(), json!({"bits": 3, "lst": lst}));
    let token = craft_jwt(&list_header(&*k.signer), &claims, &*k.signer);
    assert_eq!(
        code(verify_jwt(
            &token,
            &static_keys(&k),
            &tc(LIST_URI, Some(ISS), T0)
        )),
        "status_list_invalid"
    );
    // A status value must fit its bits.
    let mut one = StatusList::new(bits(1), 8).unwrap();
    assert_eq!(code(one.set(0, Status::Suspended)), "status_list_invalid");
    let mut four = StatusList::new(bits(4), 8).unwrap();
    assert_eq!(code(four.set(0, Status::Other(16))), "status_list_invalid");
    four.set(0, Status::Other(15)).unwrap();
}

#[test]
fn sl04_zlib_bomb_is_bounded() {
    // 64 MiB of zeros in about 64 KiB.
    let bomb = zero_bomb(64);
    assert!(bomb.len() < 128 << 10, "{} bytes", bomb.len());
    // The construction is a valid stream: a small one inflates completely.
    let small = zero_bomb(4);
    let mut inflated = Vec::new();
    flate2::read::ZlibDecoder::new(&small[..])
        .read_to_end(&mut inflated)
        .unwrap();
    assert_eq!(inflated.len(), 4 << 20);
    assert!(inflated.iter().all(|b| *b == 0));
    let l = StatusList::decompress(bits(1), &small, 4 << 20).unwrap();
    assert_eq!(l.as_bytes().len(), 4 << 20);
    assert_eq!(
        code(StatusList::decompress(bits(1), &small, (4 << 20) - 1)),
        "status_list_too_large"
    );

    let started = Instant::now();
    assert_eq!(code(decode1(&bomb)), "status_list_too_large");
    let json = obj(&json!({"bits": 1, "lst": b64::encode(&bomb)})).clone();
    assert_eq!(
        code(StatusList::from_json(&json, DEFAULT_MAX_LIST_BYTES)),
        "status_list_too_large"
    );
    // 1 GiB in about 1 MiB: refused after 16 MiB, never inflated.
    let gib = zero_bomb(1024);
    assert!(gib.len() < 2 << 20, "{} bytes", gib.len());
    assert_eq!(code(decode1(&gib)), "status_list_too_large");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    if let Some(peak) = peak_rss() {
        assert!(peak < 512 << 20, "peak RSS {} MiB", peak >> 20);
    }

    // At the limit accepted, one byte over refused.
    let data = list_bytes(1000);
    let stream = zlib(&data, 9);
    let at = StatusList::decompress(bits(2), &stream, 1000).unwrap();
    assert_eq!(at.as_bytes(), &data[..]);
    assert_eq!(
        code(StatusList::decompress(bits(2), &stream, 999)),
        "status_list_too_large"
    );
    let over = zlib(&list_bytes(1001), 9);
    assert_eq!(
        code(StatusList::decompress(bits(2), &over, 1000)),
        "status_list_too_large"
    );

    // In a signed token, and in one limited by the verifier.
    let k = key(None);
    let trust = static_keys(&k);
    let mut claims = list_claims(&sample_list(), LIST_URI, T0);
    claims.insert("status_list".into(), Value::Object(json.clone()));
    let token = craft_jwt(&list_header(&*k.signer), &claims, &*k.signer);
    assert_eq!(
        code(verify_jwt(&token, &trust, &tc(LIST_URI, None, T0))),
        "status_list_too_large"
    );
    let list = StatusList::from_bytes(bits(1), list_bytes(1001));
    let token = StatusListTokenBuilder::new(LIST_URI, T0)
        .sign_jwt(&list, &*k.signer)
        .unwrap();
    let limited = |max| TokenCheck {
        max_list_bytes: max,
        ..tc(LIST_URI, None, T0)
    };
    assert_eq!(
        code(verify_jwt(&token, &trust, &limited(1000))),
        "status_list_too_large"
    );
    verify_jwt(&token, &trust, &limited(1001)).unwrap();
    let cwt = StatusListTokenBuilder::new(LIST_URI, T0)
        .sign_cwt(&list, &*k.signer)
        .unwrap();
    let vk = default_provider()
        .verifying_key(&k.public, Algorithm::Es256)
        .unwrap();
    assert_eq!(
        code(verify_cwt(&cwt, std::slice::from_ref(&vk), &limited(1000))),
        "status_list_too_large"
    );
    verify_cwt(&cwt, &[vk], &limited(1001)).unwrap();

    // Through the checker: the default limit, and a smaller configured one.
    let w = World::new();
    let mut claims = list_claims(&sample_list(), LIST_URI, T0);
    claims.insert("status_list".into(), Value::Object(json));
    w.serve(&craft_jwt(
        &list_header(&*w.issuer.signer),
        &claims,
        &*w.issuer.signer,
    ));
    assert_eq!(code(w.check(0)), "status_list_too_large");
    let w = World::with(|c| c.max_list_bytes(1000));
    w.publish(&list, Some(300), None);
    assert_eq!(code(w.check(0)), "status_list_too_large");
    let w = World::with(|c| c.max_list_bytes(1001));
    w.publish(&list, Some(300), None);
    assert_eq!(
        w.check(0).unwrap(),
        CredentialStatus::Listed(Status::Invalid)
    );
}

#[test]
fn sl05_malformed_zlib_is_rejected() {
    let data = list_bytes(300);
    let good = zlib(&data, 9);
    assert_eq!(decode1(&good).unwrap().as_bytes(), &data[..]);
    let n = good.len();
    let with = |prefix: &[u8], rest: &[u8]| [prefix, rest].concat();

    let mut bad_checksum = good.clone();
    bad_checksum[n - 1] ^= 0x01;
    let mut bad_adler_high = good.clone();
    bad_adler_high[n - 4] ^= 0x80;
    let mut reserved_btype = vec![0x78, 0xDA];
    reserved_btype.extend_from_slice(&[0x07, 0, 0, 0, 0, 0, 0, 1]);
    // A stored block whose NLEN is not the complement of LEN.
    let bad_stored = vec![
        0x78, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0xB9, 0xA3, 0, 0, 0, 0,
    ];
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    raw.write_all(&data).unwrap();
    let raw = raw.finish().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&data).unwrap();
    let gz = gz.finish().unwrap();

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("one byte", vec![0x78]),
        ("header only", vec![0x78, 0xDA]),
        (
            "FDICT (level 2)",
            with(&[0x78, flg(0x78, 2, true), 0, 0, 0, 1], &good[2..]),
        ),
        (
            "FDICT (level 3)",
            with(&[0x78, flg(0x78, 3, true), 0, 0, 0, 1], &good[2..]),
        ),
        (
            "FDICT without DICTID",
            with(&[0x78, flg(0x78, 3, true)], &good[2..]),
        ),
        ("bad FCHECK", with(&[0x78, 0xDB], &good[2..])),
        ("CM 9", with(&[0x79, flg(0x79, 3, false)], &good[2..])),
        ("CM 15", with(&[0x7F, flg(0x7F, 3, false)], &good[2..])),
        ("CINFO 8", with(&[0x88, flg(0x88, 3, false)], &good[2..])),
        ("Adler-32 missing", good[..n - 4].to_vec()),
        ("Adler-32 truncated to 3 bytes", good[..n - 1].to_vec()),
        ("Adler-32 truncated to 2 bytes", good[..n - 2].to_vec()),
        ("Adler-32 truncated to 1 byte", good[..n - 3].to_vec()),
        ("truncated deflate data", good[..n / 2].to_vec()),
        ("trailing zero byte", with(&good, &[0x00])),
        ("trailing garbage", with(&good, b"garbage")),
        ("two streams", with(&good, &good)),
        ("bad checksum (low byte)", bad_checksum),
        ("bad checksum (high byte)", bad_adler_high),
        ("reserved block type", reserved_btype),
        ("stored block LEN/NLEN", bad_stored),
        ("raw deflate", raw),
        ("gzip", gz),
    ];
    for (what, bytes) in &cases {
        let started = Instant::now();
        assert_eq!(code(decode1(bytes)), "status_list_invalid", "{what}");
        assert!(started.elapsed() < Duration::from_secs(5), "{what}");
        // Same through the JSON and CBOR forms.
        let json = obj(&json!({"bits": 1, "lst": b64::encode(bytes)})).clone();
        assert_eq!(
            code(StatusList::from_json(&json, DEFAULT_MAX_LIST_BYTES)),
            "status_list_invalid",
            "{what}"
        );
    }
    // A malformed list inside a validly signed token.
    let k = key(None);
    let mut claims = list_claims(&sample_list(), LIST_URI, T0);
    claims.insert(
        "status_list".into(),
        json!({"bits": 1, "lst": b64::encode(&good[..n - 4])}),
    );
    let token = craft_jwt(&list_header(&*k.signer), &claims, &*k.signer);
    assert_eq!(
        code(verify_jwt(
            &token,
            &static_keys(&k),
            &tc(LIST_URI, None, T0)
        )),
        "status_list_invalid"
    );
}

#[test]
fn sl05_every_valid_zlib_header_is_accepted() {
    assert_eq!(
        [0u8, 1, 2, 3].map(|l| flg(0x78, l, false)),
        [0x01, 0x5E, 0x9C, 0xDA]
    );
    let data = list_bytes(5000);
    let mut headers = BTreeSet::new();
    for level in 0..=9 {
        let stream = zlib(&data, level);
        headers.insert((stream[0], stream[1]));
        assert_eq!(
            decode1(&stream).unwrap().as_bytes(),
            &data[..],
            "level {level}"
        );
    }
    for h in &headers {
        assert!(
            [(0x78, 0x01), (0x78, 0x5E), (0x78, 0x9C), (0x78, 0xDA)].contains(h),
            "{h:02x?}"
        );
    }
    // FLEVEL is informative only: every header on every stream.
    for level in [0, 1, 6, 9] {
        let stream = zlib(&data, level);
        for f in [0x01, 0x5E, 0x9C, 0xDA] {
            let mut s = stream.clone();
            s[1] = f;
            assert_eq!(
                decode1(&s).unwrap().as_bytes(),
                &data[..],
                "level {level}, {f:02x}"
            );
        }
    }
    // A smaller window (CINFO 0, 256 bytes) on a stream without back references.
    let mut stored = zlib(&data, 0);
    stored[0] = 0x08;
    stored[1] = flg(0x08, 0, false);
    assert_eq!(decode1(&stored).unwrap().as_bytes(), &data[..]);
    // Several blocks (sync flushes) in one stream.
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    for part in data.chunks(700) {
        e.write_all(part).unwrap();
        e.flush().unwrap();
    }
    let blocks = e.finish().unwrap();
    assert_eq!(decode1(&blocks).unwrap().as_bytes(), &data[..]);
}

#[test]
fn sl06_token_typ_must_be_statuslist_jwt() {
    let k = key(Some("k1"));
    let trust = static_keys(&k);
    let claims = list_claims(&sample_list(), LIST_URI, T0);
    let with_typ = |typ: Option<&str>| {
        let mut h = json!({"alg": "ES256", "kid": "k1"});
        if let Some(t) = typ {
            h["typ"] = t.into();
        }
        craft_jwt(&h, &claims, &*k.signer)
    };
    for typ in [
        None,
        Some("jwt"),
        Some("JWT"),
        Some("dc+sd-jwt"),
        Some("vc+sd-jwt"),
        Some("statuslist+cwt"),
        Some("application/statuslist+cwt"),
        Some("statuslist"),
        Some(""),
    ] {
        assert_eq!(
            code(verify_jwt(
                &with_typ(typ),
                &trust,
                &tc(LIST_URI, Some(ISS), T0)
            )),
            "typ_mismatch",
            "{typ:?}"
        );
    }
    // A non-string typ.
    let mut h = json!({"alg": "ES256", "kid": "k1", "typ": 1});
    let token = craft_jwt(&h, &claims, &*k.signer);
    assert_eq!(
        code(verify_jwt(&token, &trust, &tc(LIST_URI, Some(ISS), T0))),
        "typ_mismatch"
    );
    // Media type forms of the right type (RFC 7515 §4.1.9: case-insensitive, optional
    // application/ prefix).
    for typ in [
        "statuslist+jwt",
        "application/statuslist+jwt",
        "StatusList+JWT",
    ] {
        verify_jwt(&with_typ(Some(typ)), &trust, &tc(LIST_URI, Some(ISS), T0)).unwrap();
    }
    h["typ"] = STATUS_LIST_JWT_TYP.into();
    verify_jwt(
        &craft_jwt(&h, &claims, &*k.signer),
        &trust,
        &tc(LIST_URI, Some(ISS), T0),
    )
    .unwrap();

    // A credential (dc+sd-jwt) served as a status list, through the checker.
    let w = World::new();
    let mut h = list_header(&*w.issuer.signer);
    h["typ"] = "dc+sd-jwt".into();
    w.serve(&craft_jwt(
        &h,
        &list_claims(&sample_list(), LIST_URI, T0),
        &*w.issuer.signer,
    ));
    assert_eq!(code(w.check(0)), "typ_mismatch");
}

#[test]
fn sl07_token_sub_must_be_the_referenced_uri() {
    let k = key(None);
    let trust = static_keys(&k);
    let list = sample_list();
    for sub in [
        "https://issuer.example.com/statuslists/2",
        "https://issuer.example.com/statuslists/1/",
        "https://ISSUER.example.com/statuslists/1",
        "https://issuer.example.com/statuslists/1?x=1",
    ] {
        let token = StatusListTokenBuilder::new(sub, T0)
            .sign_jwt(&list, &*k.signer)
            .unwrap();
        assert_eq!(
            code(verify_jwt(&token, &trust, &tc(LIST_URI, None, T0))),
            "status_list_sub_mismatch",
            "{sub}"
        );
    }
    for sub in [json!(null), json!(7)] {
        let mut claims = list_claims(&list, LIST_URI, T0);
        claims.insert("sub".into(), sub.clone());
        let token = craft_jwt(&list_header(&*k.signer), &claims, &*k.signer);
        assert_eq!(
            code(verify_jwt(&token, &trust, &tc(LIST_URI, None, T0))),
            "status_list_token_invalid",
            "{sub}"
        );
    }
    let mut claims = list_claims(&list, LIST_URI, T0);
    claims.remove("sub");
    let token = craft_jwt(&list_header(&*k.signer), &claims, &*k.signer);
    assert_eq!(
        code(verify_jwt(&token, &trust, &tc(LIST_URI, None, T0))),
        "status_list_token_invalid"
    );

    // Through the checker: list 2's token served at list 1's URI.
    let w = World::new();
    let token = StatusListTokenBuilder::new("https://issuer.example.com/statuslists/2", T0)
        .issuer(ISS)
        .sign_jwt(&list, &*w.issuer.signer)
        .unwrap();
    w.serve(&token);
    assert_eq!(code(w.check(1)), "status_list_sub_mismatch");
}

#[test]
fn sl08_expired_or_future_token_is_rejected() {
    let k = key(None);
    let trust = static_keys(&k);
    let list = sample_list();
    let token = |iat: i64, exp: Option<i64>| {
        let mut b = StatusListTokenBuilder::new(LIST_URI, iat);
        if let Some(e) = exp {
            b = b.expires_at(e);
        }
        b.sign_jwt(&list, &*k.signer).unwrap()
    };
    let at = |now: i64, leeway: u64| TokenCheck {
        leeway,
        ..tc(LIST_URI, None, now)
    };
    let t = token(T0, Some(T0 + 100));
    verify_jwt(&t, &trust, &at(T0 + 100, 0)).unwrap();
    assert_eq!(
        code(verify_jwt(&t, &trust, &at(T0 + 101, 0))),
        "status_list_expired"
    );
    verify_jwt(&t, &trust, &at(T0 + 160, 60)).unwrap();
    assert_eq!(
        code(verify_jwt(&t, &trust, &at(T0 + 161, 60))),
        "status_list_expired"
    );
    // exp before iat: expired all the same.
    let t = token(T0, Some(T0 - 10));
    assert_eq!(
        code(verify_jwt(&t, &trust, &at(T0, 0))),
        "status_list_expired"
    );
    // No exp: valid (exp is only RECOMMENDED).
    verify_jwt(&token(T0, None), &trust, &at(T0 + 10_000_000, 0)).unwrap();
    // iat in the future, missing or malformed.
    let t = token(T0 + 61, None);
    assert_eq!(
        code(verify_jwt(&t, &trust, &at(T0, 60))),
        "status_list_token_invalid"
    );
    verify_jwt(&token(T0 + 60, None), &trust, &at(T0, 60)).unwrap();
    let mut claims = list_claims(&list, LIST_URI, T0);
    claims.remove("iat");
    let t = craft_jwt(&list_header(&*k.signer), &claims, &*k.signer);
    assert_eq!(
        code(verify_jwt(&t, &trust, &at(T0, 0))),
        "status_list_token_invalid"
    );
    for (name, v) in [("iat", json!("1767225600")), ("exp", json!("never"))] {
        let mut claims = list_claims(&list, LIST_URI, T0);
        claims.insert(name.into(), v);
        let t = craft_jwt(&list_header(&*k.signer), &claims, &*k.signer);
        assert_eq!(
            code(verify_jwt(&t, &trust, &at(T0, 0))),
            "claim_invalid",
            "{name}"
        );
    }

    // Through the checker (60 s leeway): cached only until exp, then refused.
    let w = World::new();
    w.publish(&list, Some(3600), Some(T0 + 100));
    assert_eq!(
        w.check(1).unwrap(),
        CredentialStatus::Listed(Status::Invalid)
    );
    w.clock.set(T0 + 99);
    let _: CredentialStatus = w.check(1).unwrap();
    assert_eq!(w.hits(), 1);
    w.clock.set(T0 + 160);
    let _: CredentialStatus = w.check(1).unwrap();
    assert_eq!(w.hits(), 2);
    w.clock.set(T0 + 161);
    assert_eq!(code(w.check(1)), "status_list_expired");
    assert_eq!(w.hits(), 3);
}

#[test]
fn sl09_ttl_must_be_positive() {
    let k = key(None);
    let trust = static_keys(&k);
    for ttl in [
        json!(0),
        json!(-1),
        json!(-86_400),
        json!("60"),
        json!(1.5),
        json!(null),
    ] {
        let mut claims = list_claims(&sample_list(), LIST_URI, T0);
        claims.insert("ttl".into(), ttl.clone());
        let t = craft_jwt(&list_header(&*k.signer), &claims, &*k.signer);
        assert_eq!(
            code(verify_jwt(&t, &trust, &tc(LIST_URI, None, T0))),
            "status_list_token_invalid",
            "{ttl}"
        );
    }
    for ttl in [1u64, 1_000_000_000_000, u64::MAX] {
        let t = StatusListTokenBuilder::new(LIST_URI, T0)
            .ttl(ttl)
            .sign_jwt(&sample_list(), &*k.signer)
            .unwrap();
        assert_eq!(
            verify_jwt(&t, &trust, &tc(LIST_URI, None, T0)).unwrap().ttl,
            Some(ttl)
        );
    }
    // The issuer refuses ttl 0 in both forms.
    let zero = StatusListTokenBuilder::new(LIST_URI, T0).ttl(0);
    assert_eq!(
        code(zero.sign_jwt(&sample_list(), &*k.signer)),
        "status_list_token_invalid"
    );
    assert_eq!(
        code(zero.sign_cwt(&sample_list(), &*k.signer)),
        "status_list_token_invalid"
    );
}

#[test]
fn sl09_checker_clamps_ttl_to_its_cache_window() {
    // (ttl, exp offset, first refetch) with a window of [60, 3600] s and 300 s by default.
    let cases: [(Option<u64>, Option<i64>, i64); 7] = [
        (Some(1_000_000_000_000), None, 3600),
        (Some(u64::MAX), None, 3600),
        (Some(1), None, 60),
        (Some(59), None, 60),
        (Some(600), None, 600),
        (None, None, 300),
        (Some(1_000_000_000_000), Some(100), 100),
    ];
    for (ttl, exp, refetch) in cases {
        let w = World::with(|c| c.cache_window(60, 300, 3600));
        w.publish(&sample_list(), ttl, exp.map(|e| T0 + e));
        let v = w.verified(status_claim(2, LIST_URI));
        assert_eq!(
            w.checker.check(&v).unwrap(),
            CredentialStatus::Listed(Status::Suspended)
        );
        w.clock.set(T0 + refetch - 1);
        let _: CredentialStatus = w.checker.check(&v).unwrap();
        assert_eq!(w.hits(), 1, "{ttl:?} {exp:?}: cached until {refetch}");
        w.clock.set(T0 + refetch);
        let _: CredentialStatus = w.checker.check(&v).unwrap();
        assert_eq!(w.hits(), 2, "{ttl:?} {exp:?}: refetched at {refetch}");
    }
    // The default window: at most a day.
    let w = World::new();
    w.publish(&sample_list(), Some(1_000_000_000_000), None);
    let v = w.verified(status_claim(0, LIST_URI));
    let _: CredentialStatus = w.checker.check(&v).unwrap();
    w.clock.set(T0 + 86_399);
    let _: CredentialStatus = w.checker.check(&v).unwrap();
    assert_eq!(w.hits(), 1);
    w.clock.set(T0 + 86_400);
    let _: CredentialStatus = w.checker.check(&v).unwrap();
    assert_eq!(w.hits(), 2);
    // A window given upside down is not a panic: max is raised to min.
    let w = World::with(|c| c.cache_window(600, 10, 60));
    w.publish(&sample_list(), Some(1), None);
    let v = w.verified(status_claim(0, LIST_URI));
    let _: CredentialStatus = w.checker.check(&v).unwrap();
    w.clock.set(T0 + 599);
    let _: CredentialStatus = w.checker.check(&v).unwrap();
    assert_eq!(w.hits(), 1);
    w.clock.set(T0 + 600);
    let _: CredentialStatus = w.checker.check(&v).unwrap();
    assert_eq!(w.hits(), 2);
}

#[test]
fn sl10_list_must_be_signed_by_the_credential_issuer() {
    const OTHER: &str = "https://other-issuer.example.com";
    let a = key(Some("a-1"));
    let b = key(Some("b-1"));
    let trust = TrustPolicy::new()
        .issuer(ISS, Arc::new(static_keys(&a)))
        .issuer(OTHER, Arc::new(static_keys(&b)));
    let list = sample_list();
    let check = tc(LIST_URI, Some(ISS), T0);
    let signed = |iss: Option<&str>, signer: &dyn Signer| {
        let mut builder = StatusListTokenBuilder::new(LIST_URI, T0);
        if let Some(i) = iss {
            builder = builder.issuer(i);
        }
        builder.sign_jwt(&list, signer).unwrap()
    };
    verify_jwt(&signed(Some(ISS), &*a.signer), &trust, &check).unwrap();
    verify_jwt(&signed(None, &*a.signer), &trust, &check).unwrap();
    // The other (trusted) issuer's key, with or without claiming to be that issuer.
    assert_eq!(
        code(verify_jwt(&signed(None, &*b.signer), &trust, &check)),
        "unknown_key"
    );
    assert_eq!(
        code(verify_jwt(&signed(Some(ISS), &*b.signer), &trust, &check)),
        "unknown_key"
    );
    assert_eq!(
        code(verify_jwt(&signed(Some(OTHER), &*b.signer), &trust, &check)),
        "issuer_mismatch"
    );
    // An attacker's key under the issuer's kid, or without kid against kid-less keys.
    let evil = key(Some("a-1"));
    assert_eq!(
        code(verify_jwt(
            &signed(Some(ISS), &*evil.signer),
            &trust,
            &check
        )),
        "invalid_signature"
    );
    let plain = key(None);
    let evil = key(None);
    let plain_trust = TrustPolicy::new().issuer(ISS, Arc::new(static_keys(&plain)));
    assert_eq!(
        code(verify_jwt(
            &signed(Some(ISS), &*evil.signer),
            &plain_trust,
            &check
        )),
        "invalid_signature"
    );
    // A key carried in the header is never used.
    let mut h = list_header(&*evil.signer);
    h["jwk"] = Value::Object(evil.public.to_json());
    let t = craft_jwt(&h, &list_claims(&list, LIST_URI, T0), &*evil.signer);
    assert_eq!(
        code(verify_jwt(&t, &plain_trust, &check)),
        "key_mechanism_mismatch"
    );
    // An issuer no rule covers.
    let stranger = key(None);
    assert_eq!(
        code(verify_jwt(
            &signed(Some("https://stranger.example.com"), &*stranger.signer),
            &trust,
            &tc(LIST_URI, None, T0)
        )),
        "untrusted_issuer"
    );

    // Through the checker: a credential of ISS pointing at OTHER's list.
    let w = World::new();
    let other_list = StatusListTokenBuilder::new(LIST_URI, T0)
        .issuer(OTHER)
        .sign_jwt(&list, &*b.signer)
        .unwrap();
    w.serve(&other_list);
    assert_eq!(code(w.check(0)), "issuer_mismatch");
    let unsigned_iss = StatusListTokenBuilder::new(LIST_URI, T0)
        .sign_jwt(&list, &*b.signer)
        .unwrap();
    w.serve(&unsigned_iss);
    assert_eq!(code(w.check(0)), "unknown_key");
}

#[test]
fn sl12_suspended_and_other_values_are_not_valid() {
    let w = World::new();
    w.publish(&sample_list(), Some(300), None);
    let expected = [
        (0, Status::Valid, "VALID", None),
        (1, Status::Invalid, "INVALID", Some("credential_revoked")),
        (
            2,
            Status::Suspended,
            "SUSPENDED",
            Some("credential_suspended"),
        ),
        (
            3,
            Status::Other(3),
            "0x03",
            Some("credential_status_unknown"),
        ),
    ];
    for (idx, status, shown, err) in expected {
        let got = w.check(idx).unwrap();
        assert_eq!(got, CredentialStatus::Listed(status), "{idx}");
        assert_eq!(got.to_string(), shown);
        match err {
            None => got.require_valid().unwrap(),
            Some(c) => assert_eq!(code(got.require_valid()), c, "{idx}"),
        }
    }
    assert_eq!(
        CredentialStatus::NotReferenced.to_string(),
        "NOT_REFERENCED"
    );
    assert_eq!(w.hits(), 1);
    // 4 and 8 bits: application-specific and reserved values stay distinct.
    let mut four = StatusList::new(bits(4), 16).unwrap();
    for v in [0x0Cu8, 0x0D, 0x0E, 0x0F] {
        four.set(u64::from(v), Status::from_value(v)).unwrap();
    }
    let four = StatusList::from_json(&four.to_json(), DEFAULT_MAX_LIST_BYTES).unwrap();
    for v in [0x0Cu8, 0x0D, 0x0E, 0x0F] {
        let s = four.status(u64::from(v)).unwrap();
        assert_eq!(s, Status::Other(v));
        assert_eq!(s.to_string(), format!("0x{v:02X}"));
        assert_eq!(
            code(CredentialStatus::Listed(s).require_valid()),
            "credential_status_unknown"
        );
    }
    for v in 0..=255u8 {
        assert_eq!(Status::from_value(v).value(), v);
    }
    assert_eq!(Status::parse("valid"), Some(Status::Valid));
    assert_eq!(Status::parse("REVOKED"), Some(Status::Invalid));
    assert_eq!(Status::parse("Suspended"), Some(Status::Suspended));
    assert_eq!(Status::parse("3"), Some(Status::Other(3)));
    assert_eq!(Status::parse("0x0C"), Some(Status::Other(12)));
    assert_eq!(Status::parse("2"), Some(Status::Suspended));
    assert_eq!(Status::parse("256"), None);
    assert_eq!(Status::parse("unknown"), None);
}

#[test]
fn sl13_an_invalid_credential_is_never_checked() {
    let w = World::new();
    w.publish(&sample_list(), Some(300), None);
    let status = status_claim(1, LIST_URI);
    let expired = VcBuilder::new(Vct::new(VCT).unwrap(), subject())
        .issuer(ISS)
        .issued_at(T0 - 7200)
        .expires_at(T0 - 3600)
        .status(status.clone())
        .issue(&*w.issuer.signer, &OsRandom)
        .unwrap()
        .to_string();
    assert_eq!(code(w.verifier.verify(&expired)), "expired");
    let forger = key(Some("issuer-key-1"));
    let forged = VcBuilder::new(Vct::new(VCT).unwrap(), subject())
        .issuer(ISS)
        .status(status.clone())
        .issue(&*forger.signer, &OsRandom)
        .unwrap()
        .to_string();
    assert_eq!(code(w.verifier.verify(&forged)), "invalid_signature");
    let stranger = VcBuilder::new(Vct::new(VCT).unwrap(), subject())
        .issuer("https://stranger.example.com")
        .status(status.clone())
        .issue(&*forger.signer, &OsRandom)
        .unwrap()
        .to_string();
    assert_eq!(code(w.verifier.verify(&stranger)), "untrusted_issuer");
    assert_eq!(code(w.verifier.receive(&forged)), "invalid_signature");
    // StatusChecker::check only takes a VerifiedVc: none of these reached the network.
    assert_eq!(w.hits(), 0);
    // The same credential, valid, is checked.
    let ok = w.credential(status);
    let v = w.verifier.verify(&ok).unwrap();
    assert_eq!(
        w.checker.check(&v).unwrap(),
        CredentialStatus::Listed(Status::Invalid)
    );
    assert_eq!(w.hits(), 1);
}

#[test]
fn sl14_status_uri_is_fetched_under_the_ssrf_rules() {
    let w = World::new();
    w.publish(&sample_list(), Some(300), None);
    for (uri, want) in [
        ("http://issuer.example.com/statuslists/1", "url_invalid"),
        ("ftp://issuer.example.com/statuslists/1", "url_invalid"),
        ("file:///etc/passwd", "url_invalid"),
        ("statuslists/1", "url_invalid"),
        (
            "https://user@issuer.example.com/statuslists/1",
            "url_invalid",
        ),
        (
            "https://issuer.example.com/statuslists/1#frag",
            "url_invalid",
        ),
        ("https://127.0.0.1/statuslists/1", "url_forbidden"),
        ("https://127.0.0.1:8443/statuslists/1", "url_forbidden"),
        ("https://[::1]/statuslists/1", "url_forbidden"),
        ("https://[::ffff:127.0.0.1]/statuslists/1", "url_forbidden"),
        ("https://10.0.0.7/statuslists/1", "url_forbidden"),
        ("https://192.168.1.1/statuslists/1", "url_forbidden"),
        ("https://169.254.169.254/latest/meta-data", "url_forbidden"),
        ("https://localhost/statuslists/1", "url_forbidden"),
        ("https://metadata.google.internal/", "url_forbidden"),
        ("https://intranet/statuslists/1", "url_forbidden"),
    ] {
        let v = w.verified(status_claim(1, uri));
        assert_eq!(code(w.checker.check(&v)), want, "{uri}");
    }
    assert_eq!(w.hits(), 0, "nothing was requested");

    // Redirects: followed to a public https URL, never inside the network or to http, not in
    // a loop.
    const CDN: &str = "https://cdn.example.com/lists/1";
    let token = StatusListTokenBuilder::new(LIST_URI, T0)
        .issuer(ISS)
        .ttl(300)
        .sign_jwt(&sample_list(), &*w.issuer.signer)
        .unwrap();
    w.net.respond(
        LIST_URI,
        HttpResponse::new(302, Vec::new()).with_location(CDN),
    );
    w.net.serve(CDN, token.as_bytes());
    assert_eq!(
        w.check(1).unwrap(),
        CredentialStatus::Listed(Status::Invalid)
    );
    assert_eq!(w.hits(), 2);
    for (location, want, hits) in [
        ("https://10.0.0.1/lists/1", "url_forbidden", 1),
        ("https://localhost/lists/1", "url_forbidden", 1),
        ("http://cdn.example.com/lists/1", "url_invalid", 1),
        (LIST_URI, "too_many_redirects", 4),
    ] {
        let w = World::new();
        w.net.respond(
            LIST_URI,
            HttpResponse::new(307, Vec::new()).with_location(location),
        );
        assert_eq!(code(w.check(1)), want, "{location}");
        assert_eq!(w.hits(), hits, "{location}");
    }
    // Error pages and oversized bodies are not lists.
    let w = World::new();
    assert_eq!(code(w.check(1)), "http_status");
    w.net
        .respond(LIST_URI, HttpResponse::new(500, token.as_bytes().to_vec()));
    assert_eq!(code(w.check(1)), "http_status");
    w.net.serve(LIST_URI, "a".repeat((1 << 20) + 1).as_bytes());
    assert_eq!(code(w.check(1)), "response_too_large");
    w.net.serve(LIST_URI, b"\xff\xfe not utf-8");
    assert_eq!(code(w.check(1)), "status_list_token_invalid");
    w.net.serve(LIST_URI, b"not a token");
    assert_eq!(code(w.check(1)), "malformed_compact");
}

#[test]
fn sl15_mac_and_unknown_algorithms_are_refused() {
    let k = key(None);
    let trust = static_keys(&k);
    let claims = list_claims(&sample_list(), LIST_URI, T0);
    for alg in [
        "HS256", "HS512", "none", "RS256", "PS256", "ES256K", "es256", "",
    ] {
        let h = json!({"alg": alg, "typ": STATUS_LIST_JWT_TYP});
        let t = craft_jwt(&h, &claims, &*k.signer);
        assert_eq!(
            code(verify_jwt(&t, &trust, &tc(LIST_URI, None, T0))),
            "alg_not_allowed",
            "{alg}"
        );
    }
    // An HS256 token MAC'd with the issuer's public key as the secret (key confusion).
    let h = b64::encode(
        json!({"alg": "HS256", "typ": STATUS_LIST_JWT_TYP})
            .to_string()
            .as_bytes(),
    );
    let p = b64::encode(Value::Object(claims.clone()).to_string().as_bytes());
    let secret = Value::Object(k.public.to_json()).to_string();
    let mac = HashAlg::Sha256.digest(format!("{secret}{h}.{p}").as_bytes());
    let t = format!("{h}.{p}.{}", b64::encode(&mac));
    assert_eq!(
        code(verify_jwt(&t, &trust, &tc(LIST_URI, None, T0))),
        "alg_not_allowed"
    );
    // Through the checker.
    let w = World::new();
    w.serve(&t);
    assert_eq!(code(w.check(0)), "alg_not_allowed");

    // CWT: an HMAC algorithm in a COSE_Sign1, no algorithm, and a COSE_Mac0.
    let vk = default_provider()
        .verifying_key(&k.public, Algorithm::Es256)
        .unwrap();
    let cwt = StatusListTokenBuilder::new(LIST_URI, T0)
        .sign_cwt(&sample_list(), &*k.signer)
        .unwrap();
    let typ = || Cbor::Text(STATUS_LIST_CWT_TYP.into());
    let hmac = HeaderBuilder::new()
        .algorithm(iana::Algorithm::HMAC_256_256)
        .value(16, typ())
        .build();
    assert_eq!(
        code(verify_cwt(
            &resign_cwt(&cwt, hmac, &*k.signer),
            std::slice::from_ref(&vk),
            &tc(LIST_URI, None, T0)
        )),
        "alg_not_allowed"
    );
    let no_alg = HeaderBuilder::new().value(16, typ()).build();
    assert_eq!(
        code(verify_cwt(
            &resign_cwt(&cwt, no_alg, &*k.signer),
            std::slice::from_ref(&vk),
            &tc(LIST_URI, None, T0)
        )),
        "alg_not_allowed"
    );
    let payload = CoseSign1::from_tagged_slice(&cwt).unwrap().payload.unwrap();
    let mac0 = CoseMac0Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::HMAC_256_256)
                .value(16, typ())
                .build(),
        )
        .payload(payload)
        .create_tag(b"", |_| vec![0u8; 32])
        .build()
        .to_tagged_vec()
        .unwrap();
    assert_eq!(
        code(verify_cwt(&mac0, &[vk], &tc(LIST_URI, None, T0))),
        "status_list_token_invalid"
    );
}

// ---------------------------------------------------------------------------------------------
// End to end: issuer, verifier, wallet
// ---------------------------------------------------------------------------------------------

/// An issuer with one 2-bit list, handing out random indices.
struct StatusIssuer {
    key: Key,
    list: StatusList,
    alloc: IndexAllocator,
    uri: String,
}

impl StatusIssuer {
    fn new(uri: &str) -> Self {
        let list = StatusList::new(bits(2), 1 << 16).unwrap();
        let alloc = IndexAllocator::new(u64_of(list.capacity())).unwrap();
        Self {
            key: key(Some("issuer-key-1")),
            list,
            alloc,
            uri: uri.to_owned(),
        }
    }

    fn issue(&mut self, iat: i64) -> (u64, String) {
        let idx = self.alloc.allocate(&OsRandom).unwrap();
        let vc = VcBuilder::new(Vct::new(VCT).unwrap(), subject())
            .issuer(ISS)
            .issued_at(iat)
            .status(status_claim(idx, &self.uri))
            .disclose("/given_name")
            .unwrap()
            .issue(&*self.key.signer, &OsRandom)
            .unwrap()
            .to_string();
        (idx, vc)
    }

    fn publish(&self, iat: i64) -> String {
        StatusListTokenBuilder::new(self.uri.clone(), iat)
            .issuer(ISS)
            .expires_at(iat + 86_400)
            .ttl(600)
            .sign_jwt(&self.list, &*self.key.signer)
            .unwrap()
    }

    fn trust(&self) -> Arc<TrustPolicy> {
        Arc::new(TrustPolicy::new().issuer(ISS, Arc::new(static_keys(&self.key))))
    }
}

/// Issues three credentials, verifies them, revokes one and suspends another; `publish` puts
/// a token where `checker` fetches it and `hits` counts the fetches.
fn revocation_scenario(
    issuer: &mut StatusIssuer,
    clock: &MovingClock,
    checker: &StatusChecker,
    verifier: &VcVerifier,
    publish: &dyn Fn(String),
    hits: &dyn Fn() -> usize,
    rounds: usize,
) {
    let issued: Vec<(u64, String)> = (0..3).map(|_| issuer.issue(clock.now() - 60)).collect();
    let idx: Vec<u64> = issued.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        idx.iter().collect::<BTreeSet<_>>().len(),
        3,
        "fresh indices"
    );
    assert!(idx.iter().all(|i| *i < u64_of(issuer.list.capacity())));
    assert_eq!(issuer.alloc.allocated_count(), 3);
    assert_eq!(
        issuer.alloc.allocated().collect::<BTreeSet<_>>(),
        idx.iter().copied().collect()
    );
    publish(issuer.publish(clock.now()));

    let verified: Vec<VerifiedVc> = issued
        .iter()
        .map(|(_, vc)| verifier.verify(vc).unwrap())
        .collect();
    for (v, i) in verified.iter().zip(&idx) {
        assert_eq!(v.status(), Some(&status_claim(*i, &issuer.uri)));
        assert_eq!(
            checker.check(v).unwrap(),
            CredentialStatus::Listed(Status::Valid)
        );
    }
    assert_eq!(hits(), 1);
    for _ in 0..rounds {
        for v in &verified {
            checker.check(v).unwrap().require_valid().unwrap();
        }
    }
    assert_eq!(hits(), 1, "{} checks, one fetch", rounds * 3 + 3);
    // The wallet checks its own credential with the same checker.
    let wallet = verifier.receive(&issued[2].1).unwrap();
    assert_eq!(
        checker.check(&wallet.verified).unwrap(),
        CredentialStatus::Listed(Status::Valid)
    );

    // Revoke the first, suspend the second, republish.
    let t0 = clock.now();
    clock.set(t0 + 100);
    issuer.list.set(idx[0], Status::Invalid).unwrap();
    issuer.list.set(idx[1], Status::Suspended).unwrap();
    publish(issuer.publish(clock.now()));
    // Until the cached token's ttl (600 s) runs out, the cached answer stands.
    clock.set(t0 + 599);
    for v in &verified {
        assert_eq!(
            checker.check(v).unwrap(),
            CredentialStatus::Listed(Status::Valid)
        );
    }
    assert_eq!(hits(), 1);
    clock.set(t0 + 600);
    let now: Vec<CredentialStatus> = verified.iter().map(|v| checker.check(v).unwrap()).collect();
    assert_eq!(
        now,
        [
            CredentialStatus::Listed(Status::Invalid),
            CredentialStatus::Listed(Status::Suspended),
            CredentialStatus::Listed(Status::Valid),
        ]
    );
    assert_eq!(hits(), 2);
    assert_eq!(code(now[0].require_valid()), "credential_revoked");
    assert_eq!(code(now[1].require_valid()), "credential_suspended");
    now[2].require_valid().unwrap();
    for _ in 0..rounds {
        for (v, want) in verified.iter().zip(&now) {
            assert_eq!(checker.check(v).unwrap(), *want);
        }
    }
    assert_eq!(checker.check(&wallet.verified).unwrap(), now[2]);
    let first = verifier.receive(&issued[0].1).unwrap();
    assert_eq!(
        code(checker.check(&first.verified).unwrap().require_valid()),
        "credential_revoked"
    );
    assert_eq!(hits(), 2);
    // The suspension is lifted.
    issuer.list.set(idx[1], Status::Valid).unwrap();
    publish(issuer.publish(clock.now()));
    clock.set(t0 + 1200);
    assert_eq!(
        checker.check(&verified[1]).unwrap(),
        CredentialStatus::Listed(Status::Valid)
    );
    assert_eq!(checker.check(&verified[0]).unwrap(), now[0]);
    assert_eq!(hits(), 3);
    let token = checker.token(&issuer.uri, Some(ISS)).unwrap();
    assert_eq!(token.issuer.as_deref(), Some(ISS));
    assert_eq!(token.ttl, Some(600));
    assert_eq!(token.list, issuer.list);
}

#[test]
fn end_to_end_revocation_and_suspension_in_memory() {
    let mut issuer = StatusIssuer::new(LIST_URI);
    let clock = MovingClock::at(T0);
    let net = Arc::new(Net::default());
    let trust = issuer.trust();
    let verifier = VcVerifier::builder_with_clock(trust.clone(), clock.clone())
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap();
    let checker = StatusChecker::new(Fetcher::new(net.clone()), trust).clock(clock.clone());
    let publish = |token: String| net.serve(LIST_URI, token.as_bytes());
    let hits = || net.hits();
    revocation_scenario(
        &mut issuer,
        &clock,
        &checker,
        &verifier,
        &publish,
        &hits,
        1000,
    );
}

#[cfg(feature = "http")]
#[test]
fn end_to_end_revocation_and_suspension_over_https() {
    const PATH: &str = "/statuslists/1";
    let published = Arc::new(Mutex::new(String::new()));
    let server = {
        let published = published.clone();
        tls::Server::start(move |path, _port| {
            if path == PATH {
                let mut r = tls::Reply::bytes(published.lock().unwrap().clone());
                r.headers = vec![("Content-Type".into(), "application/statuslist+jwt".into())];
                r
            } else {
                tls::Reply::status(404)
            }
        })
    };
    let uri = server.url(PATH);
    let mut issuer = StatusIssuer::new(&uri);
    let clock = MovingClock::at(T0);
    let trust = issuer.trust();
    let verifier = VcVerifier::builder_with_clock(trust.clone(), clock.clone())
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap();
    let checker = StatusChecker::new(server.fetcher(), trust.clone()).clock(clock.clone());
    let publish = |token: String| *published.lock().unwrap() = token;
    let hits = || server.hits(PATH);
    revocation_scenario(
        &mut issuer,
        &clock,
        &checker,
        &verifier,
        &publish,
        &hits,
        100,
    );
    let served = server.hits(PATH);

    // The default policy refuses the loopback address before any request.
    let (_, vc) = issuer.issue(clock.now());
    let v = verifier.verify(&vc).unwrap();
    let strict = StatusChecker::new(Fetcher::new(Arc::new(server.client())), trust.clone())
        .clock(clock.clone());
    assert_eq!(code(strict.check(&v)), "url_forbidden");
    // A client that does not trust the server's CA gets no list.
    let untrusting = StatusChecker::new(
        Fetcher::with_policy(
            Arc::new(credkit::http::UreqClient::new()),
            credkit::http::danger::allow_internal_addresses(FetchPolicy::default()),
        ),
        trust,
    )
    .clock(clock.clone());
    assert_eq!(code(untrusting.check(&v)), "fetch_failed");
    assert_eq!(server.hits(PATH), served);
}

// ---------------------------------------------------------------------------------------------
// CWT Status List Tokens
// ---------------------------------------------------------------------------------------------

/// The payload of `token` under another protected header, signed by `signer`.
fn resign_cwt(token: &[u8], protected: coset::Header, signer: &dyn Signer) -> Vec<u8> {
    let payload = CoseSign1::from_tagged_slice(token)
        .unwrap()
        .payload
        .unwrap();
    CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", |tbs| signer.sign(tbs).unwrap())
        .build()
        .to_tagged_vec()
        .unwrap()
}

#[test]
fn cwt_round_trip() {
    let mut list = StatusList::new(bits(2), 1000).unwrap();
    list.set(7, Status::Invalid).unwrap();
    list.set(999, Status::Suspended).unwrap();
    for alg in [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Es512,
        Algorithm::EdDsa,
    ] {
        let k = key_for(alg, Some("cwt-key"));
        let vk = default_provider().verifying_key(&k.public, alg).unwrap();
        let token = StatusListTokenBuilder::new(LIST_URI, T0)
            .issuer(ISS)
            .expires_at(T0 + 3600)
            .ttl(300)
            .sign_cwt(&list, &*k.signer)
            .unwrap();
        assert_eq!(token[0], 0xD2, "COSE_Sign1_Tagged (18)");
        let t = verify_cwt(
            &token,
            std::slice::from_ref(&vk),
            &tc(LIST_URI, Some(ISS), T0 + 10),
        )
        .unwrap();
        assert_eq!(t.uri, LIST_URI);
        assert_eq!(t.issuer.as_deref(), Some(ISS));
        assert_eq!(t.issued_at, T0);
        assert_eq!(t.expires_at, Some(T0 + 3600));
        assert_eq!(t.ttl, Some(300));
        assert_eq!(t.list, list);
        assert_eq!(t.list.status(7).unwrap(), Status::Invalid);
        assert_eq!(t.list.status(999).unwrap(), Status::Suspended);

        // Another key of the same algorithm, of another algorithm, none.
        let other = key_for(alg, Some("cwt-key"));
        let other = default_provider()
            .verifying_key(&other.public, alg)
            .unwrap();
        let check = tc(LIST_URI, Some(ISS), T0);
        assert_eq!(
            code(verify_cwt(&token, &[other], &check)),
            "invalid_signature"
        );
        let other_alg = if alg == Algorithm::Es256 {
            Algorithm::EdDsa
        } else {
            Algorithm::Es256
        };
        let other = key_for(other_alg, None);
        let other = default_provider()
            .verifying_key(&other.public, other_alg)
            .unwrap();
        assert_eq!(
            code(verify_cwt(&token, &[other], &check)),
            "invalid_signature"
        );

        // A changed payload.
        let mut sign1 = CoseSign1::from_tagged_slice(&token).unwrap();
        let payload = sign1.payload.as_mut().unwrap();
        let last = payload.len() - 1;
        payload[last] ^= 0x01;
        let tampered = sign1.to_tagged_vec().unwrap();
        assert_eq!(
            code(verify_cwt(&tampered, std::slice::from_ref(&vk), &check)),
            "invalid_signature"
        );

        // typ missing, other, or not text.
        let alg_header = |b: HeaderBuilder| match alg {
            Algorithm::Es256 => b.algorithm(iana::Algorithm::ES256),
            Algorithm::Es384 => b.algorithm(iana::Algorithm::ES384),
            Algorithm::Es512 => b.algorithm(iana::Algorithm::ES512),
            Algorithm::EdDsa => b.algorithm(iana::Algorithm::EdDSA),
            other => panic!("no COSE algorithm for {other:?}"),
        };
        for typ in [
            None,
            Some(Cbor::Text("application/cwt".into())),
            Some(Cbor::Text("application/statuslist+jwt".into())),
            Some(Cbor::Integer(61.into())),
            Some(Cbor::Bytes(STATUS_LIST_CWT_TYP.as_bytes().to_vec())),
        ] {
            let mut b = alg_header(HeaderBuilder::new());
            if let Some(t) = &typ {
                b = b.value(16, t.clone());
            }
            let crafted = resign_cwt(&token, b.build(), &*k.signer);
            assert_eq!(
                code(verify_cwt(&crafted, std::slice::from_ref(&vk), &check)),
                "typ_mismatch",
                "{typ:?}"
            );
        }
        // The right typ in a header credkit did not write still verifies.
        let same = resign_cwt(
            &token,
            alg_header(HeaderBuilder::new())
                .value(16, Cbor::Text(STATUS_LIST_CWT_TYP.into()))
                .build(),
            &*k.signer,
        );
        verify_cwt(&same, std::slice::from_ref(&vk), &check).unwrap();

        assert_eq!(
            code(verify_cwt(
                &token,
                std::slice::from_ref(&vk),
                &tc("https://issuer.example.com/statuslists/2", None, T0)
            )),
            "status_list_sub_mismatch"
        );
        assert_eq!(
            code(verify_cwt(
                &token,
                std::slice::from_ref(&vk),
                &tc(LIST_URI, None, T0 + 3601)
            )),
            "status_list_expired"
        );
        assert_eq!(
            code(verify_cwt(
                &token,
                std::slice::from_ref(&vk),
                &tc(LIST_URI, None, T0 - 1)
            )),
            "status_list_token_invalid"
        );
        // Not a COSE_Sign1: garbage, a CWT tag (61) around it.
        assert_eq!(
            code(verify_cwt(
                b"\x01\x02\x03",
                std::slice::from_ref(&vk),
                &check
            )),
            "status_list_token_invalid"
        );
        let cwt_tagged = [&[0xD8, 0x3D][..], &token].concat();
        assert_eq!(
            code(verify_cwt(&cwt_tagged, &[vk], &check)),
            "status_list_token_invalid"
        );
    }
}

#[test]
fn cwt_with_another_issuer_is_rejected() {
    let k = key(None);
    let vk = default_provider()
        .verifying_key(&k.public, Algorithm::Es256)
        .unwrap();
    let token = StatusListTokenBuilder::new(LIST_URI, T0)
        .issuer("https://other-issuer.example.com")
        .sign_cwt(&sample_list(), &*k.signer)
        .unwrap();
    assert_eq!(
        code(verify_cwt(&token, &[vk], &tc(LIST_URI, Some(ISS), T0))),
        "issuer_mismatch"
    );
}

// ---------------------------------------------------------------------------------------------
// SL-10 with x5c: the status list signed under the credential issuer's certificate
// ---------------------------------------------------------------------------------------------

struct Cert {
    der: Vec<u8>,
    signer: Arc<dyn Signer>,
}

/// The rcgen key as a credkit signer (as in x5c.rs).
fn signer_for(key: &rcgen::KeyPair) -> Arc<dyn Signer> {
    let raw = key.public_key_raw();
    assert_eq!(raw.len(), 65);
    let public =
        PublicJwk::from_coordinates(Curve::P256, raw[1..33].to_vec(), Some(raw[33..].to_vec()))
            .unwrap();
    let pkcs8 = key.serialize_der();
    let at = pkcs8.windows(2).position(|w| w == [0x04, 32]).unwrap() + 2;
    let d = zeroize::Zeroizing::new(pkcs8[at..at + 32].to_vec());
    default_provider()
        .signer(&PrivateJwk::from_parts(public, d).unwrap())
        .unwrap()
}

/// A root CA and leaf certificates for the given DNS names, valid 2024–2030.
fn x5c_pki(names: &[&str]) -> (Vec<u8>, Vec<Cert>) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        PKCS_ECDSA_P256_SHA256, SanType,
    };
    let params = |cn: &str| {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.not_before = rcgen::date_time_ymd(2024, 1, 1);
        p.not_after = rcgen::date_time_ymd(2030, 1, 1);
        p
    };
    let mut ca = params("Status Test Root");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let root = ca.self_signed(&ca_key).unwrap().der().to_vec();
    let issuer = Issuer::new(ca, ca_key);
    let leaves = names
        .iter()
        .map(|name| {
            let mut p = params(name);
            p.is_ca = IsCa::ExplicitNoCa;
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.subject_alt_names = vec![SanType::DnsName((*name).try_into().unwrap())];
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
            let der = p.signed_by(&key, &issuer).unwrap().der().to_vec();
            Cert {
                der,
                signer: signer_for(&key),
            }
        })
        .collect();
    (root, leaves)
}

#[test]
fn sl10_x5c_signed_list_must_name_the_credential_issuer() {
    let (root, leaves) = x5c_pki(&["issuer.example.com", "other-issuer.example.com"]);
    let (ours, theirs) = (&leaves[0], &leaves[1]);
    let mut anchors = TrustAnchors::new();
    anchors.add_der(&root).unwrap();
    let x5c = X5cTrust::new(anchors).clock(Arc::new(FixedClock(T0)));
    let trust = TrustPolicy::new().issuer(ISS, Arc::new(x5c));
    let list = sample_list();
    let check = tc(LIST_URI, Some(ISS), T0);
    let token = |iss: Option<&str>, chain: Option<&Cert>, signer: &dyn Signer| {
        let mut b = StatusListTokenBuilder::new(LIST_URI, T0);
        if let Some(i) = iss {
            b = b.issuer(i);
        }
        if let Some(c) = chain {
            b = b.x5c(vec![c.der.clone()]);
        }
        b.sign_jwt(&list, signer).unwrap()
    };
    let t = verify_jwt(&token(Some(ISS), Some(ours), &*ours.signer), &trust, &check).unwrap();
    assert_eq!(t.list, list);
    verify_jwt(&token(None, Some(ours), &*ours.signer), &trust, &check).unwrap();
    // Another issuer's certificate from the same CA.
    assert_eq!(
        code(verify_jwt(
            &token(Some(ISS), Some(theirs), &*theirs.signer),
            &trust,
            &check
        )),
        "issuer_mismatch"
    );
    assert_eq!(
        code(verify_jwt(
            &token(None, Some(theirs), &*theirs.signer),
            &trust,
            &check
        )),
        "issuer_mismatch"
    );
    // Our certificate, another key.
    assert_eq!(
        code(verify_jwt(
            &token(Some(ISS), Some(ours), &*theirs.signer),
            &trust,
            &check
        )),
        "invalid_signature"
    );
    // No certificate at all.
    assert_eq!(
        code(verify_jwt(
            &token(Some(ISS), None, &*ours.signer),
            &trust,
            &check
        )),
        "key_mechanism_mismatch"
    );
}

/// A verifier service's checker: lists it met are answered from the cache after their `ttl`
/// (until `exp`) and refreshed on a timer, so that a presentation never triggers a fetch the
/// issuer could time (TSL §12.6).
#[test]
fn background_refresh_keeps_fetches_away_from_presentations() {
    let w = World::with(|c| c.background_refresh(true));
    w.publish(&sample_list(), Some(300), Some(T0 + 3600));
    assert_eq!(
        w.check(1).unwrap(),
        CredentialStatus::Listed(Status::Invalid)
    );
    assert_eq!(w.hits(), 1, "the first meeting fetches");
    // Past the ttl: still answered from the cache, no request.
    w.clock.set(T0 + 400);
    assert_eq!(w.check(0).unwrap(), CredentialStatus::Listed(Status::Valid));
    assert_eq!(w.hits(), 1);
    // The issuer revokes entry 0; the timer's refresh picks it up.
    let mut l = sample_list();
    l.set(0, Status::Invalid).unwrap();
    w.publish(&l, Some(300), Some(T0 + 7200));
    assert_eq!(w.checker.refresh_due(60), 1);
    assert_eq!(w.hits(), 2);
    assert_eq!(
        w.check(0).unwrap(),
        CredentialStatus::Listed(Status::Invalid)
    );
    assert_eq!(w.hits(), 2);
    // Nothing is due right after a refresh.
    assert_eq!(w.checker.refresh_due(60), 0);
    assert_eq!(w.hits(), 2);
    // Past the token's exp the cached copy is unusable and a check fetches again.
    w.clock.set(T0 + 7300);
    w.publish(&l, Some(300), Some(T0 + 9000));
    assert_eq!(
        w.check(0).unwrap(),
        CredentialStatus::Listed(Status::Invalid)
    );
    assert_eq!(w.hits(), 3);

    // Without background refresh, a check after the ttl fetches at that moment.
    let plain = World::new();
    plain.publish(&sample_list(), Some(300), Some(T0 + 3600));
    assert_eq!(
        plain.check(1).unwrap(),
        CredentialStatus::Listed(Status::Invalid)
    );
    plain.clock.set(T0 + 400);
    assert_eq!(
        plain.check(1).unwrap(),
        CredentialStatus::Listed(Status::Invalid)
    );
    assert_eq!(plain.hits(), 2);
}
