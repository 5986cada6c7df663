//! Verification of SD-JWTs and SD-JWT+KB presentations: RFC 9901 §7.1 (every recipient) and
//! §7.3 (verifiers), with RFC 8725 applied to both JWTs.
//!
//! The issuer's keys and the allowed algorithms come from the [`Verifier`]'s configuration,
//! never from the token (RFC 8725 §3.1); whether Key Binding is required is decided by
//! policy before the presentation is looked at (§7.3 step 1, §9.5).

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::crypto::{CryptoProvider, HashAlg, VerifyingKey, default_provider};
use crate::error::{
    ClaimError, Error, HeaderError, IssuanceError, KeyBindingError, KeyError, Result,
};
use crate::jose::{Algorithm, Jws, PublicJwk};
use crate::sd_jwt::process::{Placed, process};
use crate::sd_jwt::{KB_JWT_TYP, Limits, SdJwt};
use crate::time::Clock;

/// Finds the keys that may have signed an issuer JWT (RFC 9901 §7.1 step 2.c).
///
/// Implementations decide, from their own trust configuration, which keys belong to the
/// issuer; the header and the (not yet verified) claims only help to pick among them.
pub trait IssuerKeyResolver: Send + Sync + fmt::Debug {
    /// Returns the candidate keys for `jws` with claims `claims`.
    ///
    /// # Errors
    /// `unknown_key` when no trusted key fits.
    fn resolve(&self, jws: &Jws, claims: &Map<String, Value>)
    -> Result<Vec<Arc<dyn VerifyingKey>>>;
}

/// A fixed set of trusted issuer keys, each loaded once.
#[derive(Debug, Clone, Default)]
pub struct StaticIssuerKeys {
    keys: Vec<Arc<dyn VerifyingKey>>,
}

impl StaticIssuerKeys {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key, loaded and validated by `provider` for the key's algorithm.
    ///
    /// # Errors
    /// `invalid_key` (also for a repeated `kid`, KEY-06) or `key_alg_mismatch`.
    pub fn add(&mut self, jwk: &PublicJwk, provider: &dyn CryptoProvider) -> Result<()> {
        if let Some(kid) = jwk.kid()
            && self.keys.iter().any(|k| k.jwk().kid() == Some(kid))
        {
            return Err(KeyError::Invalid(format!("duplicate kid {kid:?} in the key set")).into());
        }
        self.keys
            .push(provider.verifying_key(jwk, jwk.algorithm())?);
        Ok(())
    }

    /// A set with one key.
    ///
    /// # Errors
    /// As [`StaticIssuerKeys::add`].
    pub fn single(jwk: &PublicJwk, provider: &dyn CryptoProvider) -> Result<Self> {
        let mut s = Self::new();
        s.add(jwk, provider)?;
        Ok(s)
    }
}

impl IssuerKeyResolver for StaticIssuerKeys {
    fn resolve(
        &self,
        jws: &Jws,
        _claims: &Map<String, Value>,
    ) -> Result<Vec<Arc<dyn VerifyingKey>>> {
        let alg = jws.algorithm();
        let candidates: Vec<_> = match jws.kid() {
            // kid is only ever an exact map key (HDR-09).
            Some(kid) if self.keys.iter().any(|k| k.jwk().kid().is_some()) => self
                .keys
                .iter()
                .filter(|k| k.jwk().kid() == Some(kid))
                .cloned()
                .collect(),
            _ => self
                .keys
                .iter()
                .filter(|k| Some(k.algorithm()) == alg)
                .cloned()
                .collect(),
        };
        if candidates.is_empty() {
            return Err(KeyError::Unknown("no trusted issuer key matches the JWT".into()).into());
        }
        Ok(candidates)
    }
}

/// Whether a presentation must carry a Key Binding JWT, and what it must be bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyBindingPolicy {
    /// A KB-JWT is required; its `aud` and `nonce` must be exactly these (RFC 9901 §7.3).
    Required {
        /// The verifier's identifier, compared with the KB-JWT's `aud`.
        audience: String,
        /// The transaction's nonce, compared with the KB-JWT's `nonce`.
        nonce: String,
    },
    /// A bare SD-JWT is accepted. A KB-JWT that is present is still verified completely
    /// (signature, `typ`, `iat`, `sd_hash`); `aud` and `nonce` are compared when given.
    /// Without Key Binding anyone holding the SD-JWT can present it (RFC 9901 §9.5).
    Optional {
        /// Expected `aud`, if known.
        audience: Option<String>,
        /// Expected `nonce`, if known.
        nonce: Option<String>,
    },
    /// No KB-JWT may be present: what a holder requires of an issued SD-JWT (§7.2).
    Forbidden,
}

/// A verifier of SD-JWTs and SD-JWT+KB presentations.
#[derive(Clone)]
pub struct Verifier {
    resolver: Arc<dyn IssuerKeyResolver>,
    provider: &'static dyn CryptoProvider,
    algorithms: Vec<Algorithm>,
    sd_algs: Vec<HashAlg>,
    typ: Option<Vec<String>>,
    key_binding: KeyBindingPolicy,
    clock: Arc<dyn Clock>,
    leeway: u64,
    kb_max_age: u64,
    required_claims: Vec<String>,
    limits: Limits,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("resolver", &self.resolver)
            .field("provider", &self.provider.name())
            .field("algorithms", &self.algorithms)
            .field("typ", &self.typ)
            .field("key_binding", &self.key_binding)
            .field("leeway", &self.leeway)
            .field("kb_max_age", &self.kb_max_age)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Verifier`].
#[derive(Clone)]
#[must_use]
pub struct VerifierBuilder {
    inner: Verifier,
    key_binding_set: bool,
}

impl fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Verifier {
    /// Starts a verifier that trusts the issuer keys found by `resolver`.
    ///
    /// Defaults: ES256, ES384, ES512 and EdDSA allowed; every `_sd_alg` credkit knows;
    /// no `typ` requirement; system clock; 60 s leeway; KB-JWT at most 300 s old; the default
    /// [`Limits`]. A Key Binding policy must be chosen explicitly.
    #[cfg(feature = "getrandom")]
    pub fn builder(resolver: Arc<dyn IssuerKeyResolver>) -> VerifierBuilder {
        Self::builder_with_clock(resolver, Arc::new(crate::time::SystemClock))
    }

    /// As [`Verifier::builder`], with a clock.
    pub fn builder_with_clock(
        resolver: Arc<dyn IssuerKeyResolver>,
        clock: Arc<dyn Clock>,
    ) -> VerifierBuilder {
        VerifierBuilder {
            inner: Self {
                resolver,
                provider: default_provider(),
                algorithms: Algorithm::ALL.to_vec(),
                sd_algs: HashAlg::ALL.to_vec(),
                typ: None,
                key_binding: KeyBindingPolicy::Forbidden,
                clock,
                leeway: 60,
                kb_max_age: 300,
                required_claims: Vec::new(),
                limits: Limits::default(),
            },
            key_binding_set: false,
        }
    }
}

impl VerifierBuilder {
    /// The Key Binding policy (required: RFC 9901 §7.3 step 1 is decided here, never from the
    /// presentation).
    pub fn key_binding(mut self, policy: KeyBindingPolicy) -> Self {
        self.inner.key_binding = policy;
        self.key_binding_set = true;
        self
    }

    /// Require a KB-JWT bound to `audience` and `nonce`.
    pub fn require_key_binding(
        self,
        audience: impl Into<String>,
        nonce: impl Into<String>,
    ) -> Self {
        self.key_binding(KeyBindingPolicy::Required {
            audience: audience.into(),
            nonce: nonce.into(),
        })
    }

    /// The signature algorithms accepted for issuer JWTs and KB-JWTs.
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.inner.algorithms = algorithms.to_vec();
        self
    }

    /// The `_sd_alg` values accepted (RFC 9901 §7.1 step 2.d).
    pub fn sd_algs(mut self, algs: &[HashAlg]) -> Self {
        self.inner.sd_algs = algs.to_vec();
        self
    }

    /// Require the issuer JWT's `typ` to be one of `typ` (RFC 9901 §9.11, RFC 8725 §3.11).
    pub fn expect_typ(mut self, typ: &[&str]) -> Self {
        self.inner.typ = Some(typ.iter().map(|t| (*t).to_owned()).collect());
        self
    }

    /// The crypto provider used for the holder keys found in `cnf`.
    pub fn provider(mut self, provider: &'static dyn CryptoProvider) -> Self {
        self.inner.provider = provider;
        self
    }

    /// The clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.inner.clock = clock;
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (default 60).
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.inner.leeway = seconds;
        self
    }

    /// Maximum age of a KB-JWT's `iat`, in seconds (default 300).
    pub fn kb_max_age(mut self, seconds: u64) -> Self {
        self.inner.kb_max_age = seconds;
        self
    }

    /// Claims that must be present in the processed payload (e.g. `exp`; §7.1 step 6).
    pub fn require_claims(mut self, claims: &[&str]) -> Self {
        self.inner.required_claims = claims.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// Resource limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.inner.limits = limits;
        self
    }

    /// Finishes the verifier.
    ///
    /// # Errors
    /// `api_misuse` when no Key Binding policy was chosen or no algorithm is allowed.
    pub fn build(self) -> Result<Verifier> {
        if !self.key_binding_set {
            return Err(IssuanceError::ApiMisuse("choose a key binding policy").into());
        }
        if self.inner.algorithms.is_empty() || self.inner.sd_algs.is_empty() {
            return Err(IssuanceError::ApiMisuse("no algorithm is allowed").into());
        }
        Ok(self.inner)
    }
}

/// What a verified Key Binding JWT said.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedKeyBinding {
    /// `aud`.
    pub audience: String,
    /// `nonce`.
    pub nonce: String,
    /// `iat`.
    pub issued_at: i64,
    /// The holder key that signed it (from `cnf`).
    pub holder_key: PublicJwk,
    /// The whole KB-JWT payload, for profile claims such as OpenID4VP's
    /// `transaction_data_hashes` (OpenID4VP 1.0 B.3.3.1).
    pub claims: Map<String, Value>,
}

/// A verified SD-JWT: the processed payload and exactly what was disclosed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifiedSdJwt {
    /// The issuer JWT's protected header.
    pub header: Map<String, Value>,
    /// The processed payload (RFC 9901 §7.1 step 3): disclosed claims in place, `_sd`,
    /// `_sd_alg` and undisclosed digests removed.
    pub claims: Map<String, Value>,
    /// JSON Pointers of the claims that were selectively disclosed, in processing order.
    pub disclosed: Vec<String>,
    /// The `_sd_alg` in force.
    pub sd_alg: HashAlg,
    /// The Key Binding JWT, when one was presented.
    pub key_binding: Option<VerifiedKeyBinding>,
    pub(crate) placed: Vec<Placed>,
}

impl VerifiedSdJwt {
    pub(crate) fn new(
        header: Map<String, Value>,
        processed: crate::sd_jwt::process::Processed,
        key_binding: Option<VerifiedKeyBinding>,
    ) -> Self {
        Self {
            header,
            disclosed: processed.placed.iter().map(|p| p.pointer.clone()).collect(),
            claims: processed.payload,
            sd_alg: processed.sd_alg,
            key_binding,
            placed: processed.placed,
        }
    }
}

impl Verifier {
    pub(crate) fn set_key_binding(&mut self, policy: KeyBindingPolicy) {
        self.key_binding = policy;
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Parses and verifies a presentation (compact or JSON serialization).
    ///
    /// # Errors
    /// Any [`Error`]; nothing of an invalid presentation is returned.
    pub fn verify(&self, presentation: &str) -> Result<VerifiedSdJwt> {
        let sd_jwt = SdJwt::parse(presentation, &self.limits)?;
        self.verify_parsed(&sd_jwt)
    }

    /// Verifies an already parsed SD-JWT.
    ///
    /// # Errors
    /// As [`Verifier::verify`].
    pub fn verify_parsed(&self, sd_jwt: &SdJwt) -> Result<VerifiedSdJwt> {
        self.verify_with(sd_jwt, &*self.resolver)
    }

    /// Verifies with issuer keys from `resolver` instead of the configured one (profiles
    /// such as SD-JWT VC bring their own key discovery).
    pub(crate) fn verify_with(
        &self,
        sd_jwt: &SdJwt,
        resolver: &dyn IssuerKeyResolver,
    ) -> Result<VerifiedSdJwt> {
        // §7.3 steps 1-2: the policy decides, the presentation does not.
        match (&self.key_binding, sd_jwt.key_binding_jwt()) {
            (KeyBindingPolicy::Required { .. }, None) => {
                return Err(KeyBindingError::Required.into());
            }
            (KeyBindingPolicy::Forbidden, Some(_)) => {
                return Err(KeyBindingError::Unexpected(
                    "an issued SD-JWT must not carry a KB-JWT",
                )
                .into());
            }
            _ => {}
        }
        let jwt = sd_jwt.issuer_jwt();
        if let Some(typ) = &self.typ {
            let expected: Vec<&str> = typ.iter().map(String::as_str).collect();
            jwt.check_typ(&expected)?;
        }
        // Reject a header alg off the allow-list before any key work (§7.1 step 2.a).
        for sig in sd_jwt.issuer_signatures() {
            sig.require_alg(&self.algorithms)?;
            // A KB-JWT is never an issuer-signed JWT, whatever the typ policy (RFC 8725 §3.12).
            if sig.check_typ(&[KB_JWT_TYP]).is_ok() {
                return Err(HeaderError::TypMismatch {
                    expected: "an SD-JWT typ, not kb+jwt".into(),
                    found: sig.typ().map(str::to_owned),
                }
                .into());
            }
        }
        let payload = jwt.payload_json(self.limits.max_json_depth)?;
        // §7.1 step 2.b/2.c: every issuer signature must verify under a trusted key.
        for sig in sd_jwt.issuer_signatures() {
            let keys = resolver.resolve(sig, &payload)?;
            let mut result: Result<()> = Err(Error::InvalidSignature);
            for key in keys {
                result = sig.verify(&*key, &self.algorithms);
                if result.is_ok() {
                    break;
                }
            }
            result?;
        }
        // §7.1 steps 2.d, 3-5.
        let processed = process(payload, sd_jwt.disclosures(), &self.sd_algs, &self.limits)?;
        // §7.1 step 6.
        let now = self.clock.now();
        check_time_claims(&processed.payload, now, self.leeway)?;
        for c in &self.required_claims {
            if !processed.payload.contains_key(c) {
                return Err(ClaimError::Missing(c.clone()).into());
            }
        }
        let key_binding = match sd_jwt.key_binding_jwt() {
            None => None,
            Some(kb) => {
                Some(self.verify_kb(kb, sd_jwt, &processed.payload, processed.sd_alg, now)?)
            }
        };
        Ok(VerifiedSdJwt::new(
            jwt.header().clone(),
            processed,
            key_binding,
        ))
    }

    /// §7.3 step 5.
    fn verify_kb(
        &self,
        kb: &Jws,
        sd_jwt: &SdJwt,
        claims: &Map<String, Value>,
        sd_alg: HashAlg,
        now: i64,
    ) -> Result<VerifiedKeyBinding> {
        // 5.a: the holder key comes from the signed, processed payload only.
        let holder_key = holder_key(claims)?;
        // 5.b: allowed algorithm, never none.
        let alg = kb.require_alg(&self.algorithms)?;
        // 5.d: explicit typing.
        kb.check_typ(&[KB_JWT_TYP])?;
        // 5.c: signature by the cnf key.
        let key = self
            .provider
            .verifying_key(&holder_key, alg)
            .map_err(|e| KeyBindingError::HolderKey(e.to_string()))?;
        kb.verify(&*key, &self.algorithms)?;
        let payload = kb.payload_json(self.limits.max_json_depth)?;
        // 5.e: iat within the window.
        let iat =
            numeric_date(&payload, "iat")?.ok_or_else(|| ClaimError::Missing("iat".into()))?;
        let leeway = i64::try_from(self.leeway).unwrap_or(i64::MAX);
        if iat > now.saturating_add(leeway) {
            return Err(ClaimError::IssuedInFuture {
                iat,
                now,
                leeway: self.leeway,
            }
            .into());
        }
        let max_age = i64::try_from(self.kb_max_age)
            .unwrap_or(i64::MAX)
            .saturating_add(leeway);
        if now.saturating_sub(iat) > max_age {
            return Err(KeyBindingError::TooOld {
                iat,
                now,
                max_age: self.kb_max_age,
            }
            .into());
        }
        // 5.f: nonce and aud.
        let Some(Value::String(nonce)) = payload.get("nonce") else {
            return Err(KeyBindingError::NonceMismatch.into());
        };
        let Some(Value::String(aud)) = payload.get("aud") else {
            return Err(KeyBindingError::AudienceMismatch.into());
        };
        let (want_aud, want_nonce) = match &self.key_binding {
            KeyBindingPolicy::Required { audience, nonce } => (Some(audience), Some(nonce)),
            KeyBindingPolicy::Optional { audience, nonce } => (audience.as_ref(), nonce.as_ref()),
            KeyBindingPolicy::Forbidden => (None, None),
        };
        if want_aud.is_some_and(|w| w != aud) {
            return Err(KeyBindingError::AudienceMismatch.into());
        }
        if want_nonce.is_some_and(|w| w != nonce) {
            return Err(KeyBindingError::NonceMismatch.into());
        }
        // 5.g: sd_hash over exactly what was presented.
        let expected = sd_jwt.sd_hash(sd_alg);
        match payload.get("sd_hash") {
            Some(Value::String(h)) if *h == expected => {}
            _ => return Err(KeyBindingError::SdHashMismatch.into()),
        }
        // 5.h: the KB-JWT's own validity claims, if any.
        check_time_claims(&payload, now, self.leeway)?;
        Ok(VerifiedKeyBinding {
            audience: aud.clone(),
            nonce: nonce.clone(),
            issued_at: iat,
            holder_key,
            claims: payload.clone(),
        })
    }
}

/// The holder's public key from `cnf.jwk` (RFC 7800 §3.2).
pub(crate) fn holder_key(claims: &Map<String, Value>) -> Result<PublicJwk> {
    let jwk = match claims.get("cnf") {
        Some(Value::Object(cnf)) => match cnf.get("jwk") {
            Some(Value::Object(jwk)) => jwk,
            _ => return Err(KeyBindingError::HolderKey("cnf has no jwk".into()).into()),
        },
        Some(_) => return Err(KeyBindingError::HolderKey("cnf must be an object".into()).into()),
        None => {
            return Err(KeyBindingError::HolderKey("the SD-JWT has no cnf claim".into()).into());
        }
    };
    PublicJwk::from_json(jwk).map_err(|e| KeyBindingError::HolderKey(e.to_string()).into())
}

/// Reads a NumericDate (RFC 7519 §2): a JSON number; fractions are truncated toward minus
/// infinity; anything else is an error, never "absent" (CLM-03).
pub(crate) fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>> {
    let invalid = |reason| ClaimError::Invalid {
        name: name.to_owned(),
        reason,
    };
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                // |f| < 2^62 fits i64 exactly after floor.
                #[allow(clippy::cast_possible_truncation)]
                Some(f) if f.is_finite() && f.abs() < 4.6e18 => Ok(Some(f.floor() as i64)),
                _ => Err(invalid("is not a representable NumericDate").into()),
            }
        }
        Some(_) => Err(invalid("must be a NumericDate (a JSON number)").into()),
    }
}

/// `exp`, `nbf` and `iat` against `now` with leeway, overflow-safe (RFC 7519 §4.1.4-4.1.6).
pub(crate) fn check_time_claims(claims: &Map<String, Value>, now: i64, leeway: u64) -> Result<()> {
    let lw = i64::try_from(leeway).unwrap_or(i64::MAX);
    if let Some(exp) = numeric_date(claims, "exp")?
        && now.saturating_sub(lw) >= exp
    {
        return Err(ClaimError::Expired { exp, now, leeway }.into());
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && nbf > now.saturating_add(lw)
    {
        return Err(ClaimError::NotYetValid { nbf, now, leeway }.into());
    }
    if let Some(iat) = numeric_date(claims, "iat")?
        && iat > now.saturating_add(lw)
    {
        return Err(ClaimError::IssuedInFuture { iat, now, leeway }.into());
    }
    Ok(())
}

/// Options that weaken verification. Each one removes a protection; use only when the
/// protection is provided elsewhere.
pub mod danger {
    use super::KeyBindingPolicy;

    /// Accept presentations without Key Binding and do not check the `aud` / `nonce` of a KB-JWT
    /// that is present.
    ///
    /// **Warning:** without Key Binding, anyone who obtained the SD-JWT (and any subset of
    /// its Disclosures) can present it, and a captured presentation can be replayed
    /// (RFC 9901 §9.5, §9.10).
    #[must_use]
    pub fn key_binding_optional() -> KeyBindingPolicy {
        KeyBindingPolicy::Optional {
            audience: None,
            nonce: None,
        }
    }
}
