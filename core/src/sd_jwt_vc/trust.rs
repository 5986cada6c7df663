//! Issuer key discovery and validation for SD-JWT VCs (draft-ietf-oauth-sd-jwt-vc §2.5
//! "Issuer Verification Key Discovery", §4 "JWT VC Issuer Metadata", §7.3 "Ecosystem-specific
//! Public Key Verification Methods").
//!
//! RFC 9901 §7.1 step 2.c needs the issuer's key; the SD-JWT VC draft requires that the key be
//! tied to the issuer by a mechanism the verifier's policy permits *for that issuer*, and that
//! an attacker cannot choose the mechanism. Here the mechanism is picked by [`TrustPolicy`]
//! from the issuer identifier (`iss`) and local configuration only, never from the token's
//! header; key hints in the header that belong to another mechanism (`x5c` on a
//! metadata-keyed issuer, `jwk`, `jku`, `x5u` anywhere) are rejected (ATTACKS VC-04, HDR-16).
//!
//! Mechanisms:
//! - [`X5cTrust`]: `x5c` in the protected header, chain validated to configured anchors,
//!   `iss` bound to the leaf's subjectAltName (dNSName for an `https` `iss`, URI otherwise);
//! - [`IssuerMetadataTrust`]: `/.well-known/jwt-vc-issuer` with `jwks` or `jwks_uri`, over
//!   a [`Fetcher`] with its SSRF rules, cached for a configurable time;
//! - [`StaticIssuerKeys`]: keys configured in advance;
//! - `DidTrust` (feature `did`): `did:jwk`, `did:key`, `did:web`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::crypto::{CryptoProvider, HashAlg, VerifyingKey, default_provider};
use crate::error::{KeyError, Result, TrustError};
use crate::http::{Fetcher, HttpsUrl};
use crate::jose::{Jws, PublicJwk};
use crate::sd_jwt::{IssuerKeyResolver, StaticIssuerKeys};
use crate::time::{Clock, SystemClock};
use crate::x509::{ChainPolicy, TrustAnchors, ValidatedChain, parse_x5c, validate_chain};

/// How the issuer's key was tied to the issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuerBinding {
    /// An `x5c` chain validated to a trust anchor.
    X509(ValidatedChain),
    /// JWT VC Issuer Metadata of `issuer`.
    Metadata {
        /// The metadata's `issuer` (equal to `iss`).
        issuer: String,
    },
    /// A DID's verification method.
    Did {
        /// The verification method's id (`did:...#...`).
        verification_method: String,
    },
    /// A key configured in advance.
    Static,
}

/// The keys that may have signed an issuer JWT, and how they are tied to the issuer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TrustedIssuerKeys {
    /// Candidate keys.
    pub keys: Vec<Arc<dyn VerifyingKey>>,
    /// How they were found.
    pub binding: IssuerBinding,
}

/// A key discovery and validation mechanism for SD-JWT VC issuers.
pub trait IssuerTrust: Send + Sync + fmt::Debug {
    /// Finds the keys for the issuer JWT `jws` with the (not yet verified) claims `claims`.
    ///
    /// # Errors
    /// Any trust, certificate, fetch or key error.
    fn issuer_keys(&self, jws: &Jws, claims: &Map<String, Value>) -> Result<TrustedIssuerKeys>;
}

/// Header parameters that name a key or a way to find one.
const KEY_HINTS: [&str; 5] = ["x5c", "x5u", "jku", "jwk", "x5t#S256"];

/// Rejects key hints in the protected or unprotected header other than `allowed`.
pub(crate) fn only_hints(jws: &Jws, allowed: &[&str], mechanism: &str) -> Result<()> {
    let headers = std::iter::once(jws.header()).chain(jws.unprotected_header());
    for h in headers {
        for hint in KEY_HINTS {
            if h.contains_key(hint) && !allowed.contains(&hint) {
                return Err(TrustError::MechanismMismatch(format!(
                    "the header carries {hint:?}, but this issuer's keys come from {mechanism}"
                ))
                .into());
            }
        }
    }
    Ok(())
}

fn iss(claims: &Map<String, Value>) -> Result<Option<&str>> {
    match claims.get("iss") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(crate::error::ClaimError::Invalid {
            name: "iss".into(),
            reason: "must be a string",
        }
        .into()),
    }
}

fn select_by_kid_or_alg(
    keys: &[Arc<dyn VerifyingKey>],
    jws: &Jws,
) -> Result<Vec<Arc<dyn VerifyingKey>>> {
    let out: Vec<_> = match jws.kid() {
        Some(kid) if keys.iter().any(|k| k.jwk().kid().is_some()) => keys
            .iter()
            .filter(|k| k.jwk().kid() == Some(kid))
            .cloned()
            .collect(),
        _ => keys
            .iter()
            .filter(|k| Some(k.algorithm()) == jws.algorithm())
            .cloned()
            .collect(),
    };
    if out.is_empty() {
        return Err(KeyError::Unknown("no key of the issuer matches the JWT".into()).into());
    }
    Ok(out)
}

impl IssuerTrust for StaticIssuerKeys {
    fn issuer_keys(&self, jws: &Jws, claims: &Map<String, Value>) -> Result<TrustedIssuerKeys> {
        only_hints(jws, &[], "configured keys")?;
        Ok(TrustedIssuerKeys {
            keys: self.resolve(jws, claims)?,
            binding: IssuerBinding::Static,
        })
    }
}

/// `x5c` validation to configured trust anchors (draft §2.5, RFC 7515 §4.1.6).
#[derive(Debug, Clone)]
pub struct X5cTrust {
    anchors: TrustAnchors,
    policy: ChainPolicy,
    clock: Arc<dyn Clock>,
    provider: &'static dyn CryptoProvider,
    /// Chains already validated, by SHA-256 of their certificates, reused while the clock is
    /// inside every certificate's validity (a busy verifier sees the same few issuer chains;
    /// each validation costs one signature check per certificate).
    validated: Arc<Mutex<HashMap<Vec<u8>, ValidatedChain>>>,
}

/// Most validated chains an [`X5cTrust`] keeps.
const CHAIN_CACHE_ENTRIES: usize = 256;

impl X5cTrust {
    /// Chains must lead to one of `anchors`; validity is checked against the system clock.
    #[must_use]
    pub fn new(anchors: TrustAnchors) -> Self {
        Self {
            anchors,
            policy: ChainPolicy::default(),
            clock: Arc::new(SystemClock),
            provider: default_provider(),
            validated: Arc::default(),
        }
    }

    /// Uses `clock` for certificate validity.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self.validated = Arc::default();
        self
    }

    /// Requires an extended key usage OID (dotted) wherever an EKU extension is present.
    #[must_use]
    pub fn required_eku(mut self, oid: impl Into<String>) -> Self {
        self.policy.required_eku = Some(oid.into());
        self.validated = Arc::default();
        self
    }

    /// Uses `provider` for certificate signatures and the leaf key.
    #[must_use]
    pub fn provider(mut self, provider: &'static dyn CryptoProvider) -> Self {
        self.provider = provider;
        self.validated = Arc::default();
        self
    }

    /// Validates `chain`, or reuses an earlier validation of the same certificates while
    /// `now` is inside all their validity periods.
    fn validate(&self, chain: &[Vec<u8>]) -> Result<ValidatedChain> {
        let now = self.clock.now();
        let mut key = Vec::with_capacity(chain.iter().map(|c| c.len() + 4).sum());
        for c in chain {
            key.extend_from_slice(&u32::try_from(c.len()).unwrap_or(u32::MAX).to_be_bytes());
            key.extend_from_slice(c);
        }
        let key = HashAlg::Sha256.digest(&key);
        if let Ok(cache) = self.validated.lock()
            && let Some(v) = cache.get(&key)
            && v.valid_from <= now
            && now <= v.valid_until
        {
            return Ok(v.clone());
        }
        let v = validate_chain(chain, &self.anchors, now, &self.policy, self.provider)?;
        if let Ok(mut cache) = self.validated.lock() {
            cache.retain(|_, c| now <= c.valid_until);
            if cache.len() < CHAIN_CACHE_ENTRIES {
                cache.insert(key, v.clone());
            }
        }
        Ok(v)
    }
}

/// Whether `iss` is bound to the leaf's subjectAltName. draft-ietf-oauth-sd-jwt-vc -18 names
/// the issuer "the subject of the end-entity certificate" without saying how `iss` relates to
/// it; earlier drafts and the deployed ecosystems (HAIP, the EUDI Wallet) bind it through the
/// SAN, which is what is checked here:
/// - an `https` `iss`: its host is a dNSName of the leaf, or `iss` equals a URI entry;
/// - a `dns:` `iss` (RFC 4501): its name is a dNSName of the leaf;
/// - any other `iss`: it equals a uniformResourceIdentifier entry.
pub(crate) fn iss_matches_leaf(iss: &str, chain: &ValidatedChain) -> bool {
    let dns = |host: &str| {
        !host.is_empty() && chain.dns_names.iter().any(|d| d.eq_ignore_ascii_case(host))
    };
    let uri = || chain.uris.iter().any(|u| u == iss);
    if let Some(rest) = iss.strip_prefix("https://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return false;
        }
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(authority, |(h, _)| h);
        dns(host) || uri()
    } else if let Some(name) = iss.strip_prefix("dns:") {
        dns(name)
    } else {
        uri()
    }
}

impl IssuerTrust for X5cTrust {
    fn issuer_keys(&self, jws: &Jws, claims: &Map<String, Value>) -> Result<TrustedIssuerKeys> {
        only_hints(jws, &["x5c", "x5t#S256"], "an x5c certificate chain")?;
        if jws
            .unprotected_header()
            .is_some_and(|h| h.contains_key("x5c") || h.contains_key("x5t#S256"))
        {
            return Err(TrustError::MechanismMismatch(
                "x5c and x5t#S256 must be in the protected header".into(),
            )
            .into());
        }
        let x5c = jws.header().get("x5c").ok_or_else(|| {
            TrustError::MechanismMismatch("this issuer must sign with an x5c chain".into())
        })?;
        let chain = parse_x5c(x5c)?;
        if let Some(t) = jws.header().get("x5t#S256") {
            let leaf = chain.first().map(|c| HashAlg::Sha256.digest_b64(c));
            if t.as_str() != leaf.as_deref() {
                return Err(TrustError::MechanismMismatch(
                    "x5t#S256 is not the thumbprint of the x5c leaf".into(),
                )
                .into());
            }
        }
        let validated = self.validate(&chain)?;
        if let Some(iss) = iss(claims)?
            && !iss_matches_leaf(iss, &validated)
        {
            return Err(TrustError::IssuerMismatch(format!(
                "iss {iss:?} is not a subjectAltName of the signing certificate"
            ))
            .into());
        }
        let alg = jws
            .algorithm()
            .ok_or_else(|| KeyError::Unknown("no algorithm".into()))?;
        let key = self.provider.verifying_key(&validated.leaf_key, alg)?;
        Ok(TrustedIssuerKeys {
            keys: vec![key],
            binding: IssuerBinding::X509(validated),
        })
    }
}

/// The URL of an issuer's JWT VC Issuer Metadata (draft §4.1): `/.well-known/jwt-vc-issuer`
/// inserted between the host and the path of `iss`, a trailing `/` of the path removed.
///
/// # Errors
/// `url_invalid` when `iss` is not an `https` URL without query and fragment.
pub fn issuer_metadata_url(iss: &str) -> Result<String> {
    let bad = |why: &str| crate::error::FetchError::UrlInvalid(format!("iss {iss:?}: {why}"));
    let rest = iss
        .strip_prefix("https://")
        .ok_or_else(|| bad("not an https URL"))?;
    if rest.contains(['?', '#']) {
        return Err(bad("query and fragment are not allowed").into());
    }
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    if authority.is_empty() {
        return Err(bad("no host").into());
    }
    let path = path.strip_suffix('/').unwrap_or(path);
    Ok(format!(
        "https://{authority}/.well-known/jwt-vc-issuer{path}"
    ))
}

#[derive(Debug)]
struct CachedKeys {
    fetched: i64,
    until: i64,
    keys: Vec<Arc<dyn VerifyingKey>>,
}

/// Least time between two retrievals of one issuer's metadata forced by an unknown `kid`
/// (key rotation), so that tokens with made-up `kid`s cannot make a verifier fetch at will.
const MIN_REFRESH: i64 = 60;

/// Keys from JWT VC Issuer Metadata (draft §4), for issuers whose `iss` is an `https` URL.
///
/// Retrievals go through a [`Fetcher`] (HTTPS only, SSRF guard, bounded size, time and
/// redirects); keys are cached per issuer for [`IssuerMetadataTrust::cache_ttl`] seconds.
#[derive(Debug)]
pub struct IssuerMetadataTrust {
    fetcher: Fetcher,
    clock: Arc<dyn Clock>,
    provider: &'static dyn CryptoProvider,
    ttl: i64,
    cache: Mutex<HashMap<String, CachedKeys>>,
}

impl IssuerMetadataTrust {
    /// Metadata retrieved with `fetcher`, cached for 5 minutes.
    #[must_use]
    pub fn new(fetcher: Fetcher) -> Self {
        Self {
            fetcher,
            clock: Arc::new(SystemClock),
            provider: default_provider(),
            ttl: 300,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Sets how long retrieved keys are reused (0 disables the cache).
    #[must_use]
    pub fn cache_ttl(mut self, seconds: u32) -> Self {
        self.ttl = i64::from(seconds);
        self
    }

    /// Uses `clock` for the cache.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `provider` for the keys.
    #[must_use]
    pub fn provider(mut self, provider: &'static dyn CryptoProvider) -> Self {
        self.provider = provider;
        self
    }

    /// Retrieves and validates the metadata of `iss` and returns its keys (no cache).
    ///
    /// # Errors
    /// Fetch errors, `issuer_metadata_invalid`, `issuer_mismatch`, key errors.
    pub fn fetch_keys(&self, iss: &str) -> Result<Vec<Arc<dyn VerifyingKey>>> {
        let url = issuer_metadata_url(iss)?;
        let doc = self.fetcher.get(&url)?;
        let meta = crate::json::parse_object(&doc.body, 16, "JWT VC Issuer Metadata")?;
        // §4.3: the issuer in the response must be identical to iss.
        match meta.get("issuer") {
            Some(Value::String(s)) if s == iss => {}
            Some(Value::String(s)) => {
                return Err(TrustError::IssuerMismatch(format!(
                    "metadata issuer {s:?} is not iss {iss:?}"
                ))
                .into());
            }
            _ => {
                return Err(TrustError::MetadataInvalid(
                    "\"issuer\" is missing or not a string".into(),
                )
                .into());
            }
        }
        let jwks = match (meta.get("jwks"), meta.get("jwks_uri")) {
            (Some(Value::Object(jwks)), None) => jwks.clone(),
            (None, Some(Value::String(uri))) => {
                HttpsUrl::parse(uri, self.fetcher.policy())?;
                let body = self.fetcher.get(uri)?.body;
                crate::json::parse_object(&body, 16, "JWK Set")?
            }
            (Some(_), Some(_)) => {
                return Err(TrustError::MetadataInvalid(
                    "\"jwks\" and \"jwks_uri\" must not both be present".into(),
                )
                .into());
            }
            _ => {
                return Err(TrustError::MetadataInvalid(
                    "exactly one of \"jwks\" (an object) or \"jwks_uri\" (a string) is required"
                        .into(),
                )
                .into());
            }
        };
        self.load_jwks(&jwks)
    }

    fn load_jwks(&self, jwks: &Map<String, Value>) -> Result<Vec<Arc<dyn VerifyingKey>>> {
        let Some(Value::Array(keys)) = jwks.get("keys") else {
            return Err(
                TrustError::MetadataInvalid("a JWK Set needs a \"keys\" array".into()).into(),
            );
        };
        let mut out = Vec::new();
        for k in keys {
            let obj = k
                .as_object()
                .ok_or_else(|| TrustError::MetadataInvalid("a JWK must be an object".into()))?;
            // Keys of types credkit does not use (RSA, ...) are skipped; a usable key type with
            // bad content, or private key material, spoils the whole set.
            let kty = obj.get("kty").and_then(Value::as_str);
            if !matches!(kty, Some("EC" | "OKP")) {
                continue;
            }
            // Encryption keys published next to the signing keys are not candidates.
            if obj.get("use").is_some_and(|u| u != "sig")
                || obj
                    .get("alg")
                    .and_then(Value::as_str)
                    .is_some_and(|a| crate::jose::Algorithm::from_name(a).is_none())
                || obj
                    .get("key_ops")
                    .and_then(Value::as_array)
                    .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
            {
                continue;
            }
            let jwk = match PublicJwk::from_json(obj) {
                Ok(j) => j,
                Err(e) if e.code() == "unsupported_key" => continue,
                Err(e) => return Err(e),
            };
            // A kid names one key (KEY-06): a set that repeats one is ambiguous.
            if let Some(kid) = jwk.kid()
                && out
                    .iter()
                    .any(|k: &Arc<dyn VerifyingKey>| k.jwk().kid() == Some(kid))
            {
                return Err(TrustError::MetadataInvalid(format!(
                    "the JWK Set repeats the kid {kid:?}"
                ))
                .into());
            }
            out.push(self.provider.verifying_key(&jwk, jwk.algorithm())?);
        }
        if out.is_empty() {
            return Err(TrustError::MetadataInvalid("the JWK Set has no usable key".into()).into());
        }
        Ok(out)
    }

    /// The issuer's keys, from the cache when fresh; `refresh` asks for a new retrieval when
    /// the cached keys are older than [`MIN_REFRESH`] seconds. Returns whether the keys came
    /// from the cache.
    fn keys_for(&self, iss: &str, refresh: bool) -> Result<(Vec<Arc<dyn VerifyingKey>>, bool)> {
        let now = self.clock.now();
        if self.ttl > 0
            && let Ok(cache) = self.cache.lock()
            && let Some(c) = cache.get(iss)
            && c.until > now
            && !(refresh && now.saturating_sub(c.fetched) >= MIN_REFRESH)
        {
            return Ok((c.keys.clone(), true));
        }
        let keys = self.fetch_keys(iss)?;
        if self.ttl > 0
            && let Ok(mut cache) = self.cache.lock()
        {
            // Bounded: a verifier sees few issuers; drop everything expired first.
            cache.retain(|_, c| c.until > now);
            if cache.len() < 1024 {
                cache.insert(
                    iss.to_owned(),
                    CachedKeys {
                        fetched: now,
                        until: now.saturating_add(self.ttl),
                        keys: keys.clone(),
                    },
                );
            }
        }
        Ok((keys, false))
    }
}

impl IssuerTrust for IssuerMetadataTrust {
    fn issuer_keys(&self, jws: &Jws, claims: &Map<String, Value>) -> Result<TrustedIssuerKeys> {
        only_hints(jws, &[], "JWT VC Issuer Metadata")?;
        let iss = iss(claims)?.ok_or_else(|| {
            TrustError::UntrustedIssuer("issuer metadata needs an iss claim".into())
        })?;
        let (keys, cached) = self.keys_for(iss, false)?;
        let selected = match select_by_kid_or_alg(&keys, jws) {
            // A kid the cached set does not know: the issuer may have rotated its keys.
            Err(_) if cached => select_by_kid_or_alg(&self.keys_for(iss, true)?.0, jws)?,
            other => other?,
        };
        Ok(TrustedIssuerKeys {
            keys: selected,
            binding: IssuerBinding::Metadata {
                issuer: iss.to_owned(),
            },
        })
    }
}

/// Which issuers a rule of a [`TrustPolicy`] applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IssuerPattern {
    Exact(String),
    Prefix(String),
}

/// Whether `iss` is `prefix` or continues it after a `/`, `:` or `#` boundary.
fn prefix_matches(prefix: &str, iss: &str) -> bool {
    iss.strip_prefix(prefix).is_some_and(|rest| {
        rest.is_empty() || prefix.ends_with(['/', ':', '#']) || rest.starts_with(['/', ':', '#'])
    })
}

/// Picks the one mechanism permitted for an issuer, from `iss` and configuration alone
/// (draft §7.3: an attacker must not influence which verification process is used).
///
/// Rules are tried in order: exact issuers, then prefixes (e.g. `did:jwk:` for DIDs), then
/// the fallback, which also serves credentials without `iss` (issuer named by the `x5c`
/// leaf). An issuer that no rule covers is untrusted.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    rules: Vec<(IssuerPattern, Arc<dyn IssuerTrust>)>,
    fallback: Option<Arc<dyn IssuerTrust>>,
}

impl TrustPolicy {
    /// No issuer is trusted yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// `iss` must use `mechanism`.
    #[must_use]
    pub fn issuer(mut self, iss: impl Into<String>, mechanism: Arc<dyn IssuerTrust>) -> Self {
        self.rules
            .push((IssuerPattern::Exact(iss.into()), mechanism));
        self
    }

    /// Every `iss` under `prefix` must use `mechanism`: `iss` equals it or continues it after
    /// a `/`, `:` or `#` (so `did:web:example.com` covers `did:web:example.com:users:1` but not
    /// `did:web:example.com.evil.org`). The longest matching prefix wins.
    #[must_use]
    pub fn issuer_prefix(
        mut self,
        prefix: impl Into<String>,
        mechanism: Arc<dyn IssuerTrust>,
    ) -> Self {
        self.rules
            .push((IssuerPattern::Prefix(prefix.into()), mechanism));
        self
    }

    /// Issuers no rule names (and credentials without `iss`) must use `mechanism`.
    #[must_use]
    pub fn otherwise(mut self, mechanism: Arc<dyn IssuerTrust>) -> Self {
        self.fallback = Some(mechanism);
        self
    }

    fn mechanism_for(&self, iss: Option<&str>) -> Result<&Arc<dyn IssuerTrust>> {
        if let Some(iss) = iss {
            let exact = self
                .rules
                .iter()
                .find(|(p, _)| *p == IssuerPattern::Exact(iss.into()));
            // The longest matching prefix wins, and a prefix only matches on a boundary:
            // "https://issuer.example" must not cover "https://issuer.example.evil.com".
            let prefix = || {
                self.rules
                    .iter()
                    .filter(|(p, _)| matches!(p, IssuerPattern::Prefix(pre) if prefix_matches(pre, iss)))
                    .max_by_key(|(p, _)| match p {
                        IssuerPattern::Prefix(pre) => pre.len(),
                        IssuerPattern::Exact(_) => 0,
                    })
            };
            if let Some((_, m)) = exact.or_else(prefix) {
                return Ok(m);
            }
        }
        self.fallback.as_ref().ok_or_else(|| {
            TrustError::UntrustedIssuer(match iss {
                Some(i) => format!("no key mechanism is configured for issuer {i:?}"),
                None => "no key mechanism is configured for credentials without iss".into(),
            })
            .into()
        })
    }
}

impl IssuerTrust for TrustPolicy {
    fn issuer_keys(&self, jws: &Jws, claims: &Map<String, Value>) -> Result<TrustedIssuerKeys> {
        self.mechanism_for(iss(claims)?)?.issuer_keys(jws, claims)
    }
}

/// Adapts an [`IssuerTrust`] to the SD-JWT layer, remembering how the issuer was bound.
#[derive(Debug)]
pub(crate) struct Recording<'a> {
    pub(crate) trust: &'a dyn IssuerTrust,
    pub(crate) binding: Mutex<Option<IssuerBinding>>,
}

impl IssuerKeyResolver for Recording<'_> {
    fn resolve(
        &self,
        jws: &Jws,
        claims: &Map<String, Value>,
    ) -> Result<Vec<Arc<dyn VerifyingKey>>> {
        let found = self.trust.issuer_keys(jws, claims)?;
        if let Ok(mut b) = self.binding.lock() {
            *b = Some(found.binding);
        }
        Ok(found.keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_on_boundaries() {
        assert!(prefix_matches("did:", "did:jwk:abc"));
        assert!(prefix_matches("did:web:example.com", "did:web:example.com"));
        assert!(prefix_matches(
            "did:web:example.com",
            "did:web:example.com:users:1"
        ));
        assert!(!prefix_matches(
            "did:web:example.com",
            "did:web:example.com.evil.org"
        ));
        assert!(prefix_matches(
            "https://issuer.example",
            "https://issuer.example/tenant"
        ));
        assert!(!prefix_matches(
            "https://issuer.example",
            "https://issuer.example.evil.com"
        ));
        assert!(prefix_matches(
            "https://issuer.example/",
            "https://issuer.example/t"
        ));
    }

    #[test]
    fn well_known_urls() {
        assert_eq!(
            issuer_metadata_url("https://example.com").unwrap(),
            "https://example.com/.well-known/jwt-vc-issuer"
        );
        assert_eq!(
            issuer_metadata_url("https://example.com/tenant/1234").unwrap(),
            "https://example.com/.well-known/jwt-vc-issuer/tenant/1234"
        );
        assert_eq!(
            issuer_metadata_url("https://example.com:8443/t/").unwrap(),
            "https://example.com:8443/.well-known/jwt-vc-issuer/t"
        );
        assert!(issuer_metadata_url("http://example.com").is_err());
        assert!(issuer_metadata_url("https://example.com/?q").is_err());
    }
}
