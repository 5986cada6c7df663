//! Token-crafting kit shared by the malicious-input tests: `core/tests/attacks.rs` (one test per
//! ATTACKS.md row) and the fixture generator in `core/tests/attack_fixtures.rs` (one file per
//! row in `test-vectors/attacks/`), so that both build their tokens the same way. Include it
//! with `#[path = "common/attack_kit.rs"] mod attack_kit;`.
//!
//! Keys are fixed: issuer and holder keys are the RFC 9901 example keys from
//! `test-vectors/generator-settings/rfc9901.json`; the other keys are derived from [`DetRng`].
//! ES256 signing is RFC 6979 deterministic, so every helper here returns the same token on every
//! run, except [`issue_with`] given a random source such as `OsRandom`.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use credkit::b64;
use credkit::crypto::{CryptoProvider, HashAlg, Signer, default_provider};
use credkit::jose::{Algorithm, PrivateJwk};
use credkit::rand::RandomSource;
use credkit::sd_jwt::{
    Credential, SdJwtBuilder, Serialization, StaticIssuerKeys, Verifier, VerifierBuilder, danger,
};
use credkit::time::FixedClock;
use serde_json::{Map, Value, json};

pub(crate) const NOW: i64 = 1_700_000_000;
pub(crate) const ISS: &str = "https://issuer.example";
pub(crate) const AUD: &str = "https://verifier.example";
pub(crate) const NONCE: &str = "n-0S6_WzA2Mj";
pub(crate) const KB_HEADER: &str = r#"{"alg":"ES256","typ":"kb+jwt"}"#;
pub(crate) const SD_HEADER: &str = r#"{"alg":"ES256","typ":"sd-jwt"}"#;

/// Deterministic "randomness": SHA-256(label ‖ counter) blocks. Test use only.
#[derive(Debug)]
pub(crate) struct DetRng {
    label: String,
    counter: AtomicU64,
}

impl DetRng {
    pub(crate) fn new(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            counter: AtomicU64::new(0),
        }
    }
}

impl RandomSource for DetRng {
    fn fill(&self, buf: &mut [u8]) -> credkit::Result<()> {
        for chunk in buf.chunks_mut(32) {
            let n = self.counter.fetch_add(1, Ordering::SeqCst);
            let block = HashAlg::Sha256.digest(format!("{}/{n}", self.label).as_bytes());
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

/// The test keys (see the module documentation) and their signers.
pub(crate) struct Fx {
    pub(crate) issuer: PrivateJwk,
    pub(crate) issuer_signer: Arc<dyn Signer>,
    pub(crate) issuer2: PrivateJwk,
    pub(crate) issuer2_signer: Arc<dyn Signer>,
    pub(crate) holder: PrivateJwk,
    pub(crate) holder_signer: Arc<dyn Signer>,
    pub(crate) attacker: PrivateJwk,
    pub(crate) attacker_signer: Arc<dyn Signer>,
    pub(crate) p384: PrivateJwk,
    pub(crate) p384_signer: Arc<dyn Signer>,
    pub(crate) ed: PrivateJwk,
    pub(crate) ed_signer: Arc<dyn Signer>,
}

pub(crate) fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../test-vectors/generator-settings/rfc9901.json"
        );
        let s: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let ks = &s["key_settings"];
        let p = provider();
        let key = |k: PrivateJwk| {
            let s = p.signer(&k).unwrap();
            (k, s)
        };
        let derived = |alg, label| key(p.generate(alg, &DetRng::new(label)).unwrap());
        let (issuer, issuer_signer) =
            key(PrivateJwk::from_json(ks["issuer_keys"][0].as_object().unwrap()).unwrap());
        let (holder, holder_signer) =
            key(PrivateJwk::from_json(ks["holder_key"].as_object().unwrap()).unwrap());
        let (issuer2, issuer2_signer) = derived(Algorithm::Es256, "issuer2-key");
        let (attacker, attacker_signer) = derived(Algorithm::Es256, "attacker-key");
        let (p384, p384_signer) = derived(Algorithm::Es384, "p384-key");
        let (ed, ed_signer) = derived(Algorithm::EdDsa, "ed-key");
        Fx {
            issuer,
            issuer_signer,
            issuer2,
            issuer2_signer,
            holder,
            holder_signer,
            attacker,
            attacker_signer,
            p384,
            p384_signer,
            ed,
            ed_signer,
        }
    })
}

pub(crate) fn provider() -> &'static dyn CryptoProvider {
    default_provider()
}

pub(crate) fn keys() -> Arc<StaticIssuerKeys> {
    Arc::new(StaticIssuerKeys::single(fx().issuer.public(), provider()).unwrap())
}

pub(crate) fn builder_with(keys: Arc<StaticIssuerKeys>) -> VerifierBuilder {
    Verifier::builder_with_clock(keys, Arc::new(FixedClock(NOW)))
}

pub(crate) fn builder() -> VerifierBuilder {
    builder_with(keys())
}

pub(crate) fn plain_verifier() -> Verifier {
    builder()
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap()
}

/// A compact JWS over `payload` with the literal protected header text `header`.
pub(crate) fn signed(signer: &dyn Signer, header: &str, payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload)
    );
    let sig = signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64::encode(&sig))
}

/// An issuer-signed JWT (header [`SD_HEADER`]) over the JSON value `payload`.
pub(crate) fn issuer_jwt(payload: &Value) -> String {
    issuer_jwt_raw(payload.to_string().as_bytes())
}

/// An issuer-signed JWT over raw payload bytes.
pub(crate) fn issuer_jwt_raw(payload: &[u8]) -> String {
    signed(&*fx().issuer_signer, SD_HEADER, payload)
}

pub(crate) fn holder_cnf() -> Value {
    json!({ "jwk": Value::Object(fx().holder.public().minimal_json()) })
}

/// The always-present claims merged with `extra` (extra wins).
pub(crate) fn payload(extra: Value) -> Value {
    let mut p = json!({
        "iss": ISS,
        "iat": NOW - 100,
        "exp": NOW + 3600,
        "cnf": holder_cnf(),
        "_sd_alg": "sha-256",
    });
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

/// A Disclosure of the compact JSON text of `v`.
pub(crate) fn disc(v: Value) -> String {
    b64::encode(v.to_string().as_bytes())
}

/// A Disclosure of literal JSON text.
pub(crate) fn disc_text(t: &str) -> String {
    b64::encode(t.as_bytes())
}

pub(crate) fn dg(d: &str) -> String {
    HashAlg::Sha256.digest_b64(d.as_bytes())
}

/// `<jwt>~<d1>~...~<dn>~`.
pub(crate) fn sd(jwt: &str, ds: &[&str]) -> String {
    let mut s = format!("{jwt}~");
    for d in ds {
        s.push_str(d);
        s.push('~');
    }
    s
}

pub(crate) fn kb_claims(sd_jwt: &str) -> Map<String, Value> {
    json!({
        "iat": NOW,
        "aud": AUD,
        "nonce": NONCE,
        "sd_hash": HashAlg::Sha256.digest_b64(sd_jwt.as_bytes()),
    })
    .as_object()
    .unwrap()
    .clone()
}

pub(crate) fn kb_jwt(signer: &dyn Signer, header: &str, claims: &Map<String, Value>) -> String {
    signed(
        signer,
        header,
        Value::Object(claims.clone()).to_string().as_bytes(),
    )
}

/// `sd_jwt` followed by a KB-JWT signed by the holder with the standard claims.
pub(crate) fn with_kb(sd_jwt: &str) -> String {
    with_kb_header(sd_jwt, KB_HEADER)
}

/// As [`with_kb`], after `edit` changed the KB-JWT claims.
pub(crate) fn with_kb_edit(sd_jwt: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut c = kb_claims(sd_jwt);
    edit(&mut c);
    format!("{sd_jwt}{}", kb_jwt(&*fx().holder_signer, KB_HEADER, &c))
}

/// As [`with_kb`] with another protected header text.
pub(crate) fn with_kb_header(sd_jwt: &str, header: &str) -> String {
    format!(
        "{sd_jwt}{}",
        kb_jwt(&*fx().holder_signer, header, &kb_claims(sd_jwt))
    )
}

pub(crate) fn std_claims() -> Map<String, Value> {
    json!({
        "iss": ISS, "iat": NOW - 100, "exp": NOW + 3600,
        "given_name": "Erika", "family_name": "Mustermann",
        "address": {"street_address": "Heidestrasse 17", "locality": "Koeln", "country": "DE"},
        "nationalities": ["DE", "FR", "US"]
    })
    .as_object()
    .unwrap()
    .clone()
}

pub(crate) use crate::common::STD_SD;

/// Issues `claims` with `pointers` selectively disclosable, two decoys and the holder key as
/// `cnf`; salts and decoys come from `rng`.
pub(crate) fn issue_with(
    rng: &dyn RandomSource,
    claims: Map<String, Value>,
    pointers: &[&str],
    ser: Serialization,
    hash: HashAlg,
) -> String {
    let mut b = SdJwtBuilder::new(claims);
    for p in pointers {
        b = b.disclose(p).unwrap();
    }
    b.decoys(2)
        .hash(hash)
        .holder_key(fx().holder.public().clone())
        .serialization(ser)
        .issue(&*fx().issuer_signer, rng)
        .unwrap()
        .to_string()
}

/// The standard credential ([`std_claims`], all of [`STD_SD`] disclosable), the same on every
/// call.
pub(crate) fn std_issued() -> String {
    issue_with(
        &DetRng::new("std"),
        std_claims(),
        &STD_SD,
        Serialization::Compact,
        HashAlg::Sha256,
    )
}

pub(crate) fn credential(issued: &str) -> Credential {
    Credential::receive(issued, &plain_verifier()).unwrap()
}

pub(crate) fn std_kb(pointers: &[&str]) -> String {
    credential(&std_issued())
        .present(pointers)
        .unwrap()
        .with_key_binding(&*fx().holder_signer, AUD, NONCE, NOW)
        .unwrap()
}

pub(crate) fn std_bare(pointers: &[&str]) -> String {
    credential(&std_issued())
        .present(pointers)
        .unwrap()
        .without_key_binding()
}

/// A simple crafted SD-JWT: one disclosed `given_name`.
pub(crate) fn simple() -> (String, String) {
    let d = disc(json!(["salt-given", "given_name", "Erika"]));
    let jwt = issuer_jwt(&payload(json!({ "_sd": [dg(&d)] })));
    (jwt, d)
}

/// Replaces dot-separated segment `i` of a compact JWS.
pub(crate) fn replace_seg(jws: &str, i: usize, new: &str) -> String {
    let mut parts: Vec<&str> = jws.split('.').collect();
    parts[i] = new;
    parts.join(".")
}

pub(crate) fn seg(jws: &str, i: usize) -> String {
    jws.split('.').nth(i).unwrap().to_owned()
}

/// Decodes segment `i`, flips bit 0 of the first byte of `needle` in it, re-encodes canonically.
pub(crate) fn flip_in_seg(jws: &str, i: usize, needle: &str) -> String {
    let mut bytes = b64::decode(&seg(jws, i), "t").unwrap();
    let pos = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("{needle} not in segment {i}"));
    bytes[pos] ^= 1;
    replace_seg(jws, i, &b64::encode(&bytes))
}

const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Sets an unused trailing bit (same decoded bytes under a lenient decoder).
pub(crate) fn noncanonical(s: &str) -> Option<String> {
    if s.len().is_multiple_of(4) {
        return None;
    }
    let last = s.chars().last()?;
    let idx = B64URL.find(last)?;
    let new = B64URL.as_bytes()[idx | 1] as char;
    assert_ne!(new, last, "canonical encodings have zero unused bits");
    Some(format!("{}{new}", &s[..s.len() - 1]))
}

pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The order n of P-256.
pub(crate) const P256_N: &str = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";
/// (n - 1) / 2: s above this is "high".
pub(crate) const P256_HALF_N: &str =
    "7FFFFFFF800000007FFFFFFFFFFFFFFFDE737D56D38BCF4279DCE5617E3192A8";

/// a - b for 32-byte big-endian integers with a >= b.
pub(crate) fn sub_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = u8::try_from(d).unwrap();
    }
    assert_eq!(borrow, 0);
    out
}

pub(crate) fn is_high_s(sig: &[u8]) -> bool {
    sig[32..] > hex(P256_HALF_N)[..]
}

/// The other one of (r, s) / (r, n - s): both verify.
pub(crate) fn flip_s(sig: &[u8]) -> Vec<u8> {
    let mut out = sig[..32].to_vec();
    out.extend(sub_be(&hex(P256_N), &sig[32..]));
    out
}

/// DER encoding of an ECDSA signature given as r‖s.
pub(crate) fn der(sig: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let mut x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
        if x.first().is_none_or(|b| *b & 0x80 != 0) {
            x.insert(0, 0);
        }
        let mut v = vec![0x02, u8::try_from(x.len()).unwrap()];
        v.extend(x);
        v
    };
    let mut body = int(&sig[..32]);
    body.extend(int(&sig[32..]));
    let mut v = vec![0x30, u8::try_from(body.len()).unwrap()];
    v.extend(body);
    v
}

pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut k = if key.len() > 64 {
        sha2::Sha256::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = sha2::Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    sha2::Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// `k` nested objects `{"n":{"n":...}}` around a string.
pub(crate) fn nest(k: usize) -> Value {
    (0..k).fold(json!("leaf"), |v, _| json!({ "n": v }))
}
