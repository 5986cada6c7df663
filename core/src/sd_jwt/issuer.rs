//! Issuance of SD-JWTs (RFC 9901 §4, §5, §8).

use std::fmt::Write as _;

use serde_json::{Map, Value};
use zeroize::{Zeroize as _, Zeroizing};

use crate::b64;
use crate::crypto::hash::DigestText;
use crate::crypto::{HashAlg, Signer};
use crate::error::{CryptoError, IssuanceError, Result};
use crate::jose::{Algorithm, Jws, PublicJwk, UnsignedJws};
use crate::rand::RandomSource;
use crate::sd_jwt::{Disclosure, NEVER_DISCLOSABLE, SdJwt, Serialization, pointer};

/// Bytes of randomness in each salt (RFC 9901 §9.3 recommends at least 128 bits).
pub const SALT_BYTES: usize = 16;

/// Builds and signs an SD-JWT.
///
/// ```
/// # fn main() -> credkit::Result<()> {
/// use credkit::crypto::default_provider;
/// use credkit::jose::Algorithm;
/// use credkit::rand::OsRandom;
/// use credkit::sd_jwt::SdJwtBuilder;
///
/// let issuer_key = default_provider().generate(Algorithm::Es256, &OsRandom)?;
/// let signer = default_provider().signer(&issuer_key)?;
/// let claims = serde_json::json!({
///     "iss": "https://issuer.example",
///     "given_name": "Erika",
///     "address": { "locality": "Berlin", "country": "DE" }
/// });
/// let sd_jwt = SdJwtBuilder::new(claims.as_object().cloned().unwrap_or_default())
///     .disclose("/given_name")?
///     .disclose("/address/locality")?
///     .issue(&*signer, &OsRandom)?;
/// assert_eq!(sd_jwt.disclosures().len(), 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SdJwtBuilder {
    claims: Map<String, Value>,
    /// The pointers made disclosable, in the order given; sorted and deduplicated by
    /// `prepare`.
    sd: Vec<String>,
    sd_all: bool,
    decoys: usize,
    hash: HashAlg,
    typ: Option<String>,
    holder_key: Option<PublicJwk>,
    serialization: Serialization,
    header: Map<String, Value>,
    /// Never-disclosable names beyond [`NEVER_DISCLOSABLE`], which always apply.
    never: Vec<String>,
}

/// An SD-JWT waiting for the issuer's signature (two-phase signing for asynchronous keys).
#[derive(Debug, Clone)]
#[must_use]
pub struct UnsignedSdJwt {
    jws: UnsignedJws,
    disclosures: Vec<Disclosure>,
    serialization: Serialization,
}

impl UnsignedSdJwt {
    /// The bytes the issuer key must sign.
    #[must_use]
    pub fn signing_input(&self) -> &[u8] {
        self.jws.signing_input()
    }

    /// The algorithm the signature must be made with.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.jws.algorithm()
    }

    /// Completes the SD-JWT with the issuer's JWS-form signature.
    ///
    /// # Errors
    /// `sig_malformed` when the signature has the wrong length.
    pub fn finish(self, signature: &[u8]) -> Result<SdJwt> {
        let jws: Jws = self.jws.finish(signature)?;
        Ok(SdJwt::from_parts(
            self.serialization,
            jws,
            self.disclosures,
            None,
        ))
    }
}

impl SdJwtBuilder {
    /// Starts from the complete claim set; nothing is selectively disclosable yet.
    pub fn new(claims: Map<String, Value>) -> Self {
        Self {
            claims,
            sd: Vec::new(),
            sd_all: false,
            decoys: 0,
            hash: HashAlg::Sha256,
            typ: Some("sd-jwt".into()),
            holder_key: None,
            serialization: Serialization::Compact,
            header: Map::new(),
            never: Vec::new(),
        }
    }

    /// Makes the claim at `pointer` (RFC 6901) selectively disclosable: `/address/locality`
    /// for an object member, `/nationalities/1` for an array element. Making both `/address`
    /// and `/address/locality` disclosable gives recursive disclosures.
    ///
    /// # Errors
    /// `invalid_pointer` when the pointer is malformed or names nothing;
    /// `not_selectively_disclosable` for claims that must stay visible (RFC 9901 §9.7).
    pub fn disclose(mut self, pointer: &str) -> Result<Self> {
        // A top-level name without escapes (the common case) needs no token list.
        let simple = pointer
            .strip_prefix('/')
            .filter(|name| !name.contains(['/', '~']));
        let tokens;
        let (first, nested, found) = if let Some(name) = simple {
            (name, false, self.claims.contains_key(name))
        } else {
            tokens = pointer::tokens(pointer)?;
            let Some(first) = tokens.first() else {
                return Err(IssuanceError::InvalidPointer {
                    pointer: pointer.into(),
                    reason: "the whole payload cannot be a disclosure",
                }
                .into());
            };
            let found = pointer::lookup(&self.claims, &tokens).is_some();
            (first.as_ref(), tokens.len() > 1, found)
        };
        // `aud` entries may be disclosable, `aud` itself may not (§9.7).
        if is_never(&self.never, first) && !(first == "aud" && nested) {
            return Err(IssuanceError::NotSelectivelyDisclosable(first.to_owned()).into());
        }
        if !found {
            return Err(IssuanceError::InvalidPointer {
                pointer: pointer.into(),
                reason: "no such claim",
            }
            .into());
        }
        // RFC 6901 escaping is unique (only `~0` and `~1` are valid escapes, and an array
        // index has one spelling): a pointer that names a claim is already in the normal
        // form the walk builds.
        self.sd.push(pointer.to_owned());
        Ok(self)
    }

    /// Makes every claim at every depth selectively disclosable, except the ones that must
    /// stay visible.
    pub fn disclose_all(mut self) -> Self {
        self.sd_all = true;
        self
    }

    /// Adds `n` decoy digests to every `_sd` array (RFC 9901 §4.2.5), and to the top level.
    pub fn decoys(mut self, n: usize) -> Self {
        self.decoys = n;
        self
    }

    /// The hash for digests, written as `_sd_alg` (default sha-256).
    pub fn hash(mut self, hash: HashAlg) -> Self {
        self.hash = hash;
        self
    }

    /// The `typ` header (default `sd-jwt`); `None` omits it (not recommended, §9.11).
    pub fn typ(mut self, typ: Option<&str>) -> Self {
        self.typ = typ.map(str::to_owned);
        self
    }

    /// Binds the SD-JWT to the holder's key: `cnf.jwk` (RFC 9901 §4.1.2, RFC 7800).
    pub fn holder_key(mut self, jwk: PublicJwk) -> Self {
        self.holder_key = Some(jwk);
        self
    }

    /// Compact (default) or JSON serialization (§8).
    pub fn serialization(mut self, serialization: Serialization) -> Self {
        self.serialization = serialization;
        self
    }

    /// Adds a protected header parameter (e.g. `x5c`). `alg` and `typ` are set by the builder.
    pub fn header(mut self, name: &str, value: Value) -> Self {
        self.header.insert(name.into(), value);
        self
    }

    /// Claims that must never be selectively disclosable, in addition to
    /// [`NEVER_DISCLOSABLE`] (a profile, such as SD-JWT VC, extends the list; the RFC's names
    /// always apply).
    pub fn never_disclosable(mut self, names: &[&str]) -> Self {
        for n in names {
            if !is_never(&self.never, n) {
                self.never.push((*n).to_owned());
            }
        }
        self
    }

    /// Prepares the SD-JWT: creates Disclosures with fresh salts from `rng` and the payload.
    ///
    /// # Errors
    /// `invalid_claims` for reserved names in the claims, `random_failed`, and the pointer
    /// errors of [`SdJwtBuilder::disclose`].
    pub fn prepare(
        mut self,
        alg: Algorithm,
        kid: Option<&str>,
        rng: &dyn RandomSource,
    ) -> Result<UnsignedSdJwt> {
        self.sd.sort_unstable_by(|a, b| by_len_then_bytes(a, b));
        self.sd.dedup();
        // Salts for every disclosable claim and every top-level decoy; more are drawn if
        // `disclose_all` or nested decoys need them.
        let expected = if self.sd_all {
            0
        } else {
            self.sd.len().saturating_add(self.decoys)
        };
        let mut b = Build {
            sd: &self.sd,
            sd_all: self.sd_all,
            never: &self.never,
            decoys: self.decoys,
            hash: self.hash,
            rng,
            expected,
            matched: vec![false; self.sd.len()],
            disclosures: Vec::with_capacity(self.sd.len()),
            salts: Zeroizing::new(Vec::with_capacity(expected.min(1 << 12))),
            pool: Zeroizing::new(Vec::new()),
            scratch: Zeroizing::new(Vec::with_capacity(256)),
        };
        let claims = std::mem::take(&mut self.claims);
        for name in claims.keys() {
            if name == "_sd_alg" {
                return Err(IssuanceError::InvalidClaims(
                    "\"_sd_alg\" is set by the issuer".into(),
                )
                .into());
            }
        }
        if claims.contains_key("cnf") && self.holder_key.is_some() {
            return Err(IssuanceError::InvalidClaims("\"cnf\" is given twice".into()).into());
        }
        // The payload is written as JSON text while the walk goes: no map is built for it.
        // Room for the digests (a SHA-256 digest is 43 characters, quoted, with a comma) and
        // what is typically around them, so that the text is rarely copied as it grows.
        let digest_len = self.hash.output_len().saturating_mul(4).div_ceil(3) + 3;
        let mut payload = PayloadText::with_capacity(
            512 + digest_len * self.sd.len().saturating_add(self.decoys),
        );
        let digests = b.members(claims, &mut String::with_capacity(64), true, &mut payload)?;
        // Every pointer given to `disclose` names a claim the walk made disclosable: one it
        // did not meet (inside a claim made never-disclosable after `disclose`) would
        // otherwise stay in clear without a word.
        let missed = b
            .matched
            .iter()
            .position(|m| !m)
            .and_then(|i| self.sd.get(i));
        if let Some(missed) = missed.filter(|_| !self.sd_all) {
            let first = pointer::tokens(missed)?.first().map(|t| t.to_string());
            return Err(match first {
                Some(name) if is_never(&self.never, &name) => {
                    IssuanceError::NotSelectivelyDisclosable(name).into()
                }
                _ => IssuanceError::InvalidPointer {
                    pointer: missed.clone(),
                    reason: "the claim it names is not reached",
                }
                .into(),
            });
        }
        // Salts MUST be unique (§4.2.1); a source that repeats itself is broken. Sorting
        // finds a repeat without hashing every salt.
        b.salts.sort_unstable();
        if b.salts.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(CryptoError::Random.into());
        }
        // The members the walk did not write, in the order a map of them would have: `_sd`,
        // `_sd_alg`, `cnf`. The text is written, not a map: none of them may already be
        // there. The walk refuses `_sd` among the claims, and the checks before it `_sd_alg`,
        // and `cnf` when a holder key is given (`reserved_members_are_refused`).
        if !digests.is_empty() {
            payload.digests("_sd", &digests);
        }
        // Without any digest there is nothing for `_sd_alg` to describe (SD-JWT VC §2.2.2.5
        // forbids SD structures in a credential without selectively disclosable claims).
        if !b.disclosures.is_empty() || self.decoys > 0 {
            payload.string_member("_sd_alg", self.hash.name());
        }
        if let Some(jwk) = &self.holder_key {
            payload.cnf_jwk(jwk);
        }
        let mut header = std::mem::take(&mut self.header);
        if let Some(t) = &self.typ {
            header.insert("typ".into(), t.clone().into());
        }
        if let Some(k) = kid {
            header.insert("kid".into(), k.into());
        }
        let payload = payload.finish();
        let mut jws = UnsignedJws::from_payload(alg, header, payload);
        if self.serialization != Serialization::Compact {
            jws = jws.with_unprotected(Map::new());
        }
        Ok(UnsignedSdJwt {
            jws,
            disclosures: b.disclosures,
            serialization: self.serialization,
        })
    }

    /// Prepares and signs with a synchronous signer.
    ///
    /// # Errors
    /// As [`SdJwtBuilder::prepare`], plus the signer's errors.
    pub fn issue(self, signer: &dyn Signer, rng: &dyn RandomSource) -> Result<SdJwt> {
        let kid = signer.public_jwk().kid();
        let unsigned = self.prepare(signer.algorithm(), kid, rng)?;
        let sig = signer.sign(unsigned.signing_input())?;
        unsigned.finish(&sig)
    }
}

/// Whether `name` is in [`NEVER_DISCLOSABLE`] or in a profile's `extra` names.
fn is_never(extra: &[String], name: &str) -> bool {
    NEVER_DISCLOSABLE.contains(&name) || extra.iter().any(|n| n == name)
}

/// A total order on strings that settles most comparisons by length, without comparing
/// bytes: the pointers only need *an* order for binary search.
fn by_len_then_bytes(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Names the issuer writes itself (RFC 9901 §4.1, §4.2.4.2): never among the claims.
const RESERVED: [&str; 3] = ["_sd", "...", "_sd_alg"];

/// Refuses the reserved names anywhere in a value kept whole.
fn refuse_reserved(v: &Value) -> Result<()> {
    match v {
        Value::Object(m) => {
            if let Some(k) = m.keys().find(|k| RESERVED.contains(&k.as_str())) {
                return Err(IssuanceError::InvalidClaims(format!("{k:?} is reserved")).into());
            }
            m.values().try_for_each(refuse_reserved)
        }
        Value::Array(a) => a.iter().try_for_each(refuse_reserved),
        _ => Ok(()),
    }
}

/// Where the members of an object go as the walk keeps them.
trait Members {
    fn member(&mut self, name: String, value: Value);
}

impl Members for Map<String, Value> {
    fn member(&mut self, name: String, value: Value) {
        self.insert(name, value);
    }
}

/// The payload's JSON text, written member by member: the bytes `serde_json` writes for a
/// map of the same members in the same order.
struct PayloadText {
    json: Vec<u8>,
}

impl PayloadText {
    /// Starts the object, with room for `n` bytes.
    fn with_capacity(n: usize) -> Self {
        let mut json = Vec::with_capacity(n);
        json.push(b'{');
        Self { json }
    }

    /// Starts a member: the separator, if one is due, and the name.
    fn begin_member(&mut self, name: &str) {
        if self.json.len() > 1 {
            self.json.push(b',');
        }
        // Serialising JSON strings and values into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.json, name);
        self.json.push(b':');
    }

    /// An array of digests: base64url text, which JSON strings hold without escapes.
    fn digests(&mut self, name: &str, digests: &[DigestText]) {
        self.begin_member(name);
        self.json.push(b'[');
        for (i, d) in digests.iter().enumerate() {
            if i > 0 {
                self.json.push(b',');
            }
            self.json.push(b'"');
            self.json.extend_from_slice(d.as_bytes());
            self.json.push(b'"');
        }
        self.json.push(b']');
    }

    /// `"cnf": {"jwk": …}` (RFC 7800 §3.2) with the key's required members.
    fn cnf_jwk(&mut self, jwk: &PublicJwk) {
        self.begin_member("cnf");
        self.json.extend_from_slice(br#"{"jwk":"#);
        jwk.write_minimal_json(&mut self.json);
        self.json.push(b'}');
    }

    /// A member whose value is a string.
    fn string_member(&mut self, name: &str, value: &str) {
        self.begin_member(name);
        let _ = serde_json::to_writer(&mut self.json, value);
    }

    /// Closes the object and returns its text.
    fn finish(mut self) -> Vec<u8> {
        self.json.push(b'}');
        self.json
    }
}

impl Members for PayloadText {
    fn member(&mut self, name: String, value: Value) {
        self.begin_member(&name);
        let _ = serde_json::to_writer(&mut self.json, &value);
    }
}

struct Build<'a> {
    /// Sorted.
    sd: &'a [String],
    sd_all: bool,
    never: &'a [String],
    decoys: usize,
    hash: HashAlg,
    rng: &'a dyn RandomSource,
    /// Salts still expected to be needed (0: unknown), so that a batch is no larger than
    /// the credential needs.
    expected: usize,
    /// Which of `sd` the walk has met.
    matched: Vec<bool>,
    disclosures: Vec<Disclosure>,
    /// Every salt drawn (raw bytes), to catch a repeating source once the walk is done.
    salts: Zeroizing<Vec<u128>>,
    /// Salts drawn ahead in one call when the source prefers batches; used from the end.
    pool: Zeroizing<Vec<u8>>,
    /// The JSON text of the Disclosure being built (it holds a salt: zeroized on drop).
    scratch: Zeroizing<Vec<u8>>,
}

impl Build<'_> {
    fn is_sd(&mut self, at: &str) -> bool {
        if self.sd_all {
            return true;
        }
        match self.sd.binary_search_by(|p| by_len_then_bytes(p, at)) {
            Ok(i) => {
                if let Some(m) = self.matched.get_mut(i) {
                    *m = true;
                }
                true
            }
            Err(_) => false,
        }
    }

    fn salt(&mut self) -> Result<String> {
        if self.pool.len() < SALT_BYTES {
            let batch = self.rng.batch_draws().clamp(1, 64);
            let n = match self.expected {
                0 => batch,
                e => e.min(batch),
            };
            self.pool.resize(n * SALT_BYTES, 0);
            self.rng.fill(&mut self.pool)?;
        }
        let at = self.pool.len() - SALT_BYTES;
        let mut raw = Zeroizing::new([0u8; SALT_BYTES]);
        raw.copy_from_slice(self.pool.get(at..).ok_or(CryptoError::Random)?);
        if let Some(used) = self.pool.get_mut(at..) {
            used.zeroize();
        }
        self.pool.truncate(at);
        self.expected = self.expected.saturating_sub(1);
        self.salts.push(u128::from_ne_bytes(*raw));
        // The table-driven codec: the salt's text is then JSON-escaped and base64url-encoded
        // again as part of its Disclosure, neither in constant time (see `b64`).
        Ok(b64::encode(&*raw))
    }

    fn decoy(&mut self) -> Result<DigestText> {
        let salt = self.salt()?;
        Ok(self.hash.digest_text(salt.as_bytes()))
    }

    /// `at` is the pointer of `v`; the walk appends to it and restores it, so the whole walk
    /// shares one buffer.
    fn value(&mut self, v: Value, at: &mut String) -> Result<Value> {
        Ok(match v {
            Value::Object(m) => Value::Object(self.object(m, at)?),
            Value::Array(a) => Value::Array(self.array(a, at)?),
            other => other,
        })
    }

    /// A nested object, `_sd` included.
    fn object(&mut self, obj: Map<String, Value>, at: &mut String) -> Result<Map<String, Value>> {
        let mut out = Map::new();
        let digests = self.members(obj, at, false, &mut out)?;
        if !digests.is_empty() {
            out.insert(
                "_sd".into(),
                digests
                    .into_iter()
                    .map(|d| Value::String(d.into_string()))
                    .collect(),
            );
        }
        Ok(out)
    }

    /// Walks an object's members: the ones that stay go to `out`, the disclosable ones become
    /// Disclosures. Returns the object's `_sd` digests, decoys included and sorted; empty
    /// when the object gets no `_sd`.
    fn members(
        &mut self,
        obj: Map<String, Value>,
        at: &mut String,
        top: bool,
        out: &mut impl Members,
    ) -> Result<Vec<DigestText>> {
        // Allocated at the first disclosable member, for all the members that may follow.
        let mut digests = Vec::new();
        let members = obj.len();
        let len = at.len();
        for (i, (k, v)) in obj.into_iter().enumerate() {
            // (A top-level `_sd_alg` was refused before the walk, with its own message.)
            if RESERVED.contains(&k.as_str()) {
                return Err(IssuanceError::InvalidClaims(format!("{k:?} is reserved")).into());
            }
            pointer::push_onto(at, &k);
            // A never-disclosable claim is not disclosable and is kept whole, nothing in it
            // disclosable (but `aud`, whose entries may be). Never-disclosable names are
            // top-level names.
            let never = top && is_never(self.never, &k);
            let frozen = never && k != "aud";
            let v = if frozen {
                // Kept whole, but a verifier still reads `_sd` and `...` in it (§7.1 step 3):
                // a reserved name there would be taken as digests and dropped, or make the
                // credential unverifiable.
                refuse_reserved(&v)?;
                v
            } else {
                self.value(v, at)?
            };
            let sd = !never && self.is_sd(at);
            at.truncate(len);
            if sd {
                if digests.is_empty() {
                    digests.reserve(members - i + self.decoys.min(64));
                }
                let d = Disclosure::new_in(self.salt()?, Some(k), v, &mut self.scratch)?;
                digests.push(d.digest_text(self.hash));
                self.disclosures.push(d);
            } else {
                out.member(k, v);
            }
        }
        if !digests.is_empty() || (top && self.decoys > 0) {
            for _ in 0..self.decoys {
                digests.push(self.decoy()?);
            }
            // Sorting hides the original order (§4.2.4.1).
            digests.sort_unstable_by(DigestText::cmp_text);
        }
        Ok(digests)
    }

    fn array(&mut self, items: Vec<Value>, at: &mut String) -> Result<Vec<Value>> {
        let mut out = Vec::with_capacity(items.len());
        let len = at.len();
        for (i, item) in items.into_iter().enumerate() {
            // An index needs no escaping; writing into a String cannot fail.
            let _ = write!(at, "/{i}");
            let v = self.value(item, at)?;
            let sd = self.is_sd(at);
            at.truncate(len);
            if sd {
                let d = Disclosure::new_in(self.salt()?, None, v, &mut self.scratch)?;
                let mut placeholder = Map::new();
                placeholder.insert("...".into(), d.digest(self.hash).into());
                self.disclosures.push(d);
                out.push(Value::Object(placeholder));
            } else {
                out.push(v);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::default_provider;
    use crate::error::Error;

    /// A source that always returns the same bytes, served one draw per call or in batches.
    #[derive(Debug)]
    struct Stuck {
        batch: usize,
    }

    impl RandomSource for Stuck {
        fn fill(&self, buf: &mut [u8]) -> Result<()> {
            buf.fill(7);
            Ok(())
        }
        fn batch_draws(&self) -> usize {
            self.batch
        }
    }

    /// Counts the calls and the bytes drawn, with fresh bytes on each call.
    #[derive(Debug, Default)]
    struct Counting {
        calls: std::sync::atomic::AtomicUsize,
        bytes: std::sync::atomic::AtomicUsize,
    }

    impl RandomSource for Counting {
        fn fill(&self, buf: &mut [u8]) -> Result<()> {
            self.bytes
                .fetch_add(buf.len(), std::sync::atomic::Ordering::Relaxed);
            let n = self
                .calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            for (i, b) in buf.iter_mut().enumerate() {
                *b = u8::try_from((n * 31 + i) % 251).unwrap_or(0);
            }
            Ok(())
        }
        fn batch_draws(&self) -> usize {
            8
        }
    }

    /// The payload text an unsigned SD-JWT will sign.
    fn payload_text(unsigned: &UnsignedSdJwt) -> Vec<u8> {
        let input = std::str::from_utf8(unsigned.signing_input()).unwrap();
        b64::decode(input.split('.').nth(1).unwrap(), "t").unwrap()
    }

    fn builder(n: usize) -> SdJwtBuilder {
        let mut claims = Map::new();
        for i in 0..n {
            claims.insert(format!("c{i}"), i.into());
        }
        let mut b = SdJwtBuilder::new(claims);
        for i in 0..n {
            b = b.disclose(&format!("/c{i}")).unwrap();
        }
        b
    }

    #[test]
    fn disclose_all_keeps_never_disclosable_claims_whole() {
        // RFC 9901 §9.7: iss, exp, nbf, cnf stay visible with everything in them; aud stays
        // visible, its entries may be disclosable.
        let holder = default_provider()
            .generate(Algorithm::Es256, &crate::rand::OsRandom)
            .unwrap();
        // `cnf` given as a claim (not through `holder_key`), so that the walk meets it.
        let claims = serde_json::json!({
            "iss": "https://issuer.example",
            "aud": ["https://a.example", "https://b.example"],
            "exp": 1_900_000_000,
            "cnf": { "jwk": holder.public().minimal_json() },
            "address": { "locality": "Berlin", "country": "DE" },
        });
        let unsigned = SdJwtBuilder::new(claims.as_object().cloned().unwrap())
            .disclose_all()
            .prepare(Algorithm::Es256, None, &crate::rand::OsRandom)
            .unwrap();
        let payload: Map<String, Value> = serde_json::from_slice(&payload_text(&unsigned)).unwrap();
        assert_eq!(payload["iss"], "https://issuer.example");
        assert_eq!(payload["exp"], 1_900_000_000);
        assert_eq!(
            Value::Object(payload["cnf"]["jwk"].as_object().unwrap().clone()),
            Value::Object(holder.public().minimal_json())
        );
        let aud = payload["aud"].as_array().unwrap();
        assert!(aud.iter().all(|e| e.get("...").is_some()), "{aud:?}");
        assert!(payload.get("address").is_none());
        // address, its two members, the two aud entries.
        assert_eq!(unsigned.disclosures.len(), 5);
    }

    #[test]
    fn repeated_salts_are_refused() {
        // RFC 9901 §4.2.1: every salt unique. Two claims from a stuck source share one.
        for batch in [1, 4] {
            let err: Error = builder(2)
                .prepare(Algorithm::Es256, None, &Stuck { batch })
                .unwrap_err();
            assert_eq!(err.code(), "random_failed", "batch {batch}");
        }
        // One claim cannot repeat.
        assert!(
            builder(1)
                .prepare(Algorithm::Es256, None, &Stuck { batch: 1 })
                .is_ok()
        );
    }

    #[test]
    fn salts_come_in_batches_when_the_source_asks() {
        let rng = Counting::default();
        let unsigned = builder(20)
            .decoys(3)
            .prepare(Algorithm::Es256, None, &rng)
            .unwrap();
        assert_eq!(unsigned.disclosures.len(), 20);
        // 20 salts and 3 decoys, 8 per call (8 + 8 + 7): no more than the credential needs.
        assert_eq!(rng.calls.load(std::sync::atomic::Ordering::Relaxed), 3);
        assert_eq!(
            rng.bytes.load(std::sync::atomic::Ordering::Relaxed),
            23 * SALT_BYTES
        );
        // A credential needing fewer salts than a batch draws only what it needs.
        let rng = Counting::default();
        let small = builder(3).prepare(Algorithm::Es256, None, &rng).unwrap();
        assert_eq!(small.disclosures.len(), 3);
        assert_eq!(rng.calls.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(
            rng.bytes.load(std::sync::atomic::Ordering::Relaxed),
            3 * SALT_BYTES
        );
        let salts: std::collections::HashSet<&str> =
            unsigned.disclosures.iter().map(Disclosure::salt).collect();
        assert_eq!(salts.len(), 20);
        // The OS source and the provider still issue.
        let key = default_provider()
            .generate(Algorithm::Es256, &crate::rand::OsRandom)
            .unwrap();
        let signer = default_provider().signer(&key).unwrap();
        assert_eq!(
            builder(40)
                .issue(&*signer, &crate::rand::OsRandom)
                .unwrap()
                .disclosures()
                .len(),
            40
        );
    }

    #[test]
    fn a_pointer_given_twice_is_disclosed_once() {
        let unsigned = builder(2)
            .disclose("/c1")
            .unwrap()
            .disclose("/c0")
            .unwrap()
            .prepare(Algorithm::Es256, None, &crate::rand::OsRandom)
            .unwrap();
        assert_eq!(unsigned.disclosures.len(), 2);
    }

    #[test]
    fn pointers_with_escapes_and_of_every_length_are_found() {
        // The walk finds disclosable pointers by binary search in the order the builder
        // sorts them in; names of every length, with escapes, must all be found.
        let mut claims = Map::new();
        let names = ["a", "a/b", "m~n", "bb", "ab", "ba", "", "zzz", "a~1b"];
        for n in names {
            claims.insert(n.into(), n.into());
        }
        let mut b = SdJwtBuilder::new(claims);
        for n in names {
            b = b.disclose(&pointer::push("", n)).unwrap();
        }
        let unsigned = b
            .prepare(Algorithm::Es256, None, &crate::rand::OsRandom)
            .unwrap();
        let mut disclosed: Vec<&str> = unsigned
            .disclosures
            .iter()
            .filter_map(Disclosure::name)
            .collect();
        disclosed.sort_unstable();
        let mut want = names.to_vec();
        want.sort_unstable();
        assert_eq!(disclosed, want);
    }

    #[test]
    fn the_payload_text_is_what_serde_json_writes_for_its_members() {
        // The payload is written member by member; its text must be the one serde_json
        // writes for a map of the same members (escapes, non-ASCII, numbers, nesting), in
        // the claims' order followed by `_sd`, `_sd_alg` and `cnf`.
        let holder = default_provider()
            .generate(Algorithm::Es256, &crate::rand::OsRandom)
            .unwrap();
        let claims = serde_json::json!({
            "iss": "https://issuer.example",
            "na\"me\u{7}/~": "Mö\\bius\n\u{2028}😀",
            "n": -1.5e300,
            "big": u64::MAX,
            "arr": [1, {"a": []}, null, "x"],
            "nested": {"x": {"y": "z"}, "e": {}},
            "t": true,
        });
        let claims = claims.as_object().cloned().unwrap();
        let cases: [(&[&str], usize, bool); 5] = [
            (&[], 0, false),
            (&[], 2, false),
            (&["/t", "/arr/3", "/nested/x/y"], 0, true),
            (&["/n", "/na\"me\u{7}~1~0"], 1, true),
            (&["/nested/x"], 0, false),
        ];
        for (sd, decoys, bound) in cases {
            let mut b = SdJwtBuilder::new(claims.clone())
                .decoys(decoys)
                .hash(if decoys == 1 {
                    HashAlg::Sha384
                } else {
                    HashAlg::Sha256
                });
            for p in sd {
                b = b.disclose(p).unwrap();
            }
            if bound {
                b = b.holder_key(holder.public().clone());
            }
            let unsigned = b
                .prepare(Algorithm::Es256, None, &crate::rand::OsRandom)
                .unwrap();
            let text = payload_text(&unsigned);
            let map: Map<String, Value> = serde_json::from_slice(&text).unwrap();
            assert_eq!(serde_json::to_vec(&map).unwrap(), text, "{sd:?}");
            let mut want: Vec<&str> = claims
                .keys()
                .map(String::as_str)
                .filter(|k| !sd.contains(&pointer::push("", k).as_str()))
                .collect();
            if !sd.iter().all(|p| p.matches('/').count() > 1) || decoys > 0 {
                want.push("_sd");
            }
            if !sd.is_empty() || decoys > 0 {
                want.push("_sd_alg");
            }
            if bound {
                want.push("cnf");
            }
            let got: Vec<&str> = map.keys().map(String::as_str).collect();
            assert_eq!(got, want, "{sd:?}");
        }
        // Everything disclosable, nested `_sd` arrays included.
        let unsigned = SdJwtBuilder::new(claims)
            .disclose_all()
            .holder_key(holder.public().clone())
            .prepare(Algorithm::Es256, None, &crate::rand::OsRandom)
            .unwrap();
        let text = payload_text(&unsigned);
        let map: Map<String, Value> = serde_json::from_slice(&text).unwrap();
        assert_eq!(serde_json::to_vec(&map).unwrap(), text);
        let got: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(got, ["iss", "_sd", "_sd_alg", "cnf"]);
    }

    #[test]
    fn reserved_members_are_refused() {
        // The payload is written as text: `_sd`, `_sd_alg` and `cnf` must not come twice.
        let holder = default_provider()
            .generate(Algorithm::Es256, &crate::rand::OsRandom)
            .unwrap();
        let prepare = |claims: Value, bound: bool| {
            let mut b = SdJwtBuilder::new(claims.as_object().cloned().unwrap());
            if bound {
                b = b.holder_key(holder.public().clone());
            }
            b.disclose_all()
                .prepare(Algorithm::Es256, None, &crate::rand::OsRandom)
        };
        for (claims, bound) in [
            (serde_json::json!({"a": 1, "_sd": []}), false),
            (serde_json::json!({"a": 1, "_sd_alg": "sha-256"}), false),
            (serde_json::json!({"a": 1, "cnf": {"jwk": {}}}), true),
            (serde_json::json!({"a": {"_sd": []}}), false),
            // Inside claims kept whole (never disclosable), too: a verifier reads them.
            (
                serde_json::json!({"a": 1, "cnf": {"jwk": {}, "_sd": ["x"]}}),
                false,
            ),
            (serde_json::json!({"a": 1, "iss": [{"...": "x"}]}), false),
            (
                serde_json::json!({"a": 1, "exp": {"b": {"_sd_alg": "sha-256"}}}),
                false,
            ),
        ] {
            let err = prepare(claims.clone(), bound).unwrap_err();
            assert_eq!(err.code(), "invalid_claims", "{claims}");
        }
        // `cnf` among the claims without a holder key is the issuer's own: kept once.
        let cnf = serde_json::json!({"jwk": holder.public().minimal_json()});
        let unsigned = prepare(serde_json::json!({"a": 1, "cnf": cnf}), false).unwrap();
        let text = payload_text(&unsigned);
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text.matches("\"cnf\"").count(), 1, "{text}");
        assert_eq!(text.matches("\"_sd_alg\"").count(), 1, "{text}");
    }

    #[test]
    fn every_pointer_given_is_disclosed_or_refused() {
        let claims = serde_json::json!({
            "nationalities": ["DE", "FR"],
            "address": { "locality": "Berlin" },
        });
        let claims = claims.as_object().cloned().unwrap();
        // An index has one spelling: `+1` would be read as 1 by `usize::from_str`, and the
        // element would then stay in clear.
        for p in ["/nationalities/+1", "/nationalities/01", "/nationalities/2"] {
            let err = SdJwtBuilder::new(claims.clone()).disclose(p).unwrap_err();
            assert_eq!(err.code(), "invalid_pointer", "{p}");
        }
        // A claim made never-disclosable after one of its members was made disclosable.
        let err = SdJwtBuilder::new(claims.clone())
            .disclose("/address/locality")
            .unwrap()
            .never_disclosable(&["address"])
            .prepare(Algorithm::Es256, None, &crate::rand::OsRandom)
            .unwrap_err();
        assert_eq!(err.code(), "not_selectively_disclosable");
        // With `disclose_all`, a pointer given as well changes nothing.
        let unsigned = SdJwtBuilder::new(claims)
            .disclose("/nationalities/1")
            .unwrap()
            .disclose_all()
            .prepare(Algorithm::Es256, None, &crate::rand::OsRandom)
            .unwrap();
        // nationalities, its two elements, address, locality.
        assert_eq!(unsigned.disclosures.len(), 5);
    }
}
