//! Checking a credential's status (draft-ietf-oauth-status-list-20 §8): the verifier's and the
//! wallet's side.
//!
//! Only a credential that already verified is checked ([`StatusChecker::check`] takes a
//! [`VerifiedVc`]), so an invalid credential never causes a fetch (§8.3, ATTACKS SL-13). The
//! Status List Token is retrieved with the [`Fetcher`] (HTTPS, SSRF guard, bounds), verified
//! with the same [`IssuerTrust`] as credentials, and cached per `uri` until its `exp` or
//! `ttl` (clamped to a configured window, SL-09), whichever comes first — a verifier checking
//! thousands of credentials fetches each list once, and the issuer does not learn which
//! credential was checked.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::error::{Result, StatusError};
use crate::http::Fetcher;
use crate::sd_jwt_vc::{IssuerBinding, IssuerTrust, VcCredential, VerifiedVc};
use crate::status_list::list::{DEFAULT_MAX_LIST_BYTES, Status};
use crate::status_list::token::{StatusListToken, TokenCheck, verify_jwt};
use crate::time::{Clock, SystemClock};

/// The largest integer every JSON implementation represents exactly (RFC 8259 §6).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A credential's `status.status_list` reference (§6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusReference {
    /// The index in the list.
    pub idx: u64,
    /// Where the Status List Token is published.
    pub uri: String,
}

impl StatusReference {
    /// Reads `status.status_list` from processed claims; `None` when the credential has no
    /// status list reference.
    ///
    /// # Errors
    /// `status_reference_invalid` for a malformed reference (ATTACKS SL-02).
    pub fn from_claims(claims: &serde_json::Map<String, Value>) -> Result<Option<Self>> {
        let bad = |why: &str| StatusError::Reference(why.into());
        let Some(status) = claims.get("status") else {
            return Ok(None);
        };
        let status = status
            .as_object()
            .ok_or_else(|| bad("status must be an object"))?;
        let Some(list) = status.get("status_list") else {
            return Ok(None);
        };
        let list = list
            .as_object()
            .ok_or_else(|| bad("status_list must be an object"))?;
        let idx = list
            .get("idx")
            .and_then(Value::as_u64)
            .filter(|i| *i <= MAX_SAFE_INTEGER)
            .ok_or_else(|| bad("idx must be a non-negative integer below 2^53"))?;
        let uri = list
            .get("uri")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("uri must be a string"))?;
        Ok(Some(Self {
            idx,
            uri: uri.to_owned(),
        }))
    }
}

/// The outcome of a status check. Ignoring it would accept a revoked credential: use it, or
/// call [`StatusChecker::check_valid`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[must_use = "a revoked or suspended credential is only rejected if the status is looked at"]
pub enum CredentialStatus {
    /// The credential has no status list reference.
    NotReferenced,
    /// The status at the credential's index.
    Listed(Status),
}

impl CredentialStatus {
    /// `Ok` only for VALID (or no reference); otherwise the matching error
    /// (`credential_revoked`, `credential_suspended`, `credential_status_unknown`).
    ///
    /// # Errors
    /// As described.
    pub fn require_valid(self) -> Result<()> {
        match self {
            Self::NotReferenced | Self::Listed(Status::Valid) => Ok(()),
            Self::Listed(Status::Invalid) => Err(StatusError::Revoked.into()),
            Self::Listed(Status::Suspended) => Err(StatusError::Suspended.into()),
            Self::Listed(Status::Other(v)) => Err(StatusError::Unknown(v).into()),
        }
    }
}

impl fmt::Display for CredentialStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotReferenced => f.write_str("NOT_REFERENCED"),
            Self::Listed(s) => s.fmt(f),
        }
    }
}

#[derive(Debug)]
struct Cached {
    /// When the token should be fetched again (its `ttl`, clamped).
    until: i64,
    /// When it stops being usable at all (its `exp`, or `until` without one).
    hard_until: i64,
    token: Arc<StatusListToken>,
    /// What it was verified for, to verify the refreshed token the same way.
    credential_issuer: Option<String>,
    binding: Option<IssuerBinding>,
}

/// Retrieves, verifies and caches Status List Tokens, and answers status questions.
#[derive(Debug)]
pub struct StatusChecker {
    fetcher: Fetcher,
    trust: Arc<dyn IssuerTrust>,
    clock: Arc<dyn Clock>,
    leeway: u64,
    max_list_bytes: usize,
    min_cache: u64,
    max_cache: u64,
    default_cache: u64,
    cache: Mutex<HashMap<(String, Option<String>), Cached>>,
    background: bool,
}

/// Most Status List Tokens kept at once.
const CACHE_ENTRIES: usize = 4096;

impl StatusChecker {
    /// A checker fetching with `fetcher` and verifying with `trust` (normally the verifier's
    /// own [`TrustPolicy`](crate::sd_jwt_vc::TrustPolicy)).
    #[must_use]
    pub fn new(fetcher: Fetcher, trust: Arc<dyn IssuerTrust>) -> Self {
        Self {
            fetcher,
            trust,
            clock: Arc::new(SystemClock),
            leeway: 60,
            max_list_bytes: DEFAULT_MAX_LIST_BYTES,
            min_cache: 60,
            max_cache: 86_400,
            default_cache: 300,
            cache: Mutex::new(HashMap::new()),
            background: false,
        }
    }

    /// Background refresh (a verifier service): a list met before is answered from the
    /// cache until its `exp` even after its `ttl` ran out, and [`StatusChecker::refresh_due`],
    /// called on a timer, fetches the lists whose `ttl` runs out within a margin. Checking a
    /// presentation then sends no request at that moment, so the issuer cannot time a fetch
    /// to a presentation (TSL §12.6 herd privacy) and nothing waits on the network. Only the
    /// first presentation of a list the verifier never met fetches it.
    #[must_use]
    pub fn background_refresh(mut self, on: bool) -> Self {
        self.background = on;
        self
    }

    /// Fetches again every cached list whose refresh time falls within `ahead` seconds,
    /// verified for the issuer it was first verified for. Returns how many were refreshed;
    /// a failed refresh keeps the old token until its `exp`.
    pub fn refresh_due(&self, ahead: u64) -> usize {
        let now = self.clock.now();
        let horizon = now.saturating_add(i64::try_from(ahead).unwrap_or(i64::MAX));
        let due: Vec<(String, Option<String>, Option<IssuerBinding>)> = match self.cache.lock() {
            Ok(mut cache) => {
                cache.retain(|_, c| c.hard_until > now);
                cache
                    .iter()
                    .filter(|(_, c)| c.until <= horizon)
                    .map(|((uri, _), c)| {
                        (uri.clone(), c.credential_issuer.clone(), c.binding.clone())
                    })
                    .collect()
            }
            Err(_) => return 0,
        };
        due.into_iter()
            .filter(|(uri, iss, binding)| self.fetch(uri, iss.as_deref(), binding.as_ref()).is_ok())
            .count()
    }

    /// Uses `clock`.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Clock skew tolerated for the token's `iat` and `exp` (default 60 s).
    #[must_use]
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Largest decompressed list accepted (default 16 MiB).
    #[must_use]
    pub fn max_list_bytes(mut self, bytes: usize) -> Self {
        self.max_list_bytes = bytes;
        self
    }

    /// Cache bounds: a token's `ttl` is clamped to `[min, max]` seconds (defaults 60 s and
    /// 1 day), and a token without `ttl` is kept for `default` seconds (default 5 min); never
    /// beyond its `exp`.
    #[must_use]
    pub fn cache_window(mut self, min: u64, default: u64, max: u64) -> Self {
        self.min_cache = min;
        self.default_cache = default;
        self.max_cache = max.max(min);
        self
    }

    /// The status of a verified credential.
    ///
    /// # Errors
    /// Fetch, trust and token errors; `status_index_out_of_range` (the credential must then
    /// be rejected, §8.3 step 6).
    pub fn check(&self, credential: &VerifiedVc) -> Result<CredentialStatus> {
        let Some(reference) = StatusReference::from_claims(credential.claims())? else {
            return Ok(CredentialStatus::NotReferenced);
        };
        let token = self.token_for(
            &reference.uri,
            credential.issuer.as_deref(),
            Some(&credential.binding),
        )?;
        Ok(CredentialStatus::Listed(token.list.status(reference.idx)?))
    }

    /// Checks the status and turns anything but VALID into an error
    /// (`credential_revoked`, `credential_suspended`, `credential_status_unknown`).
    ///
    /// # Errors
    /// As [`StatusChecker::check`] and [`CredentialStatus::require_valid`].
    pub fn check_valid(&self, credential: &VerifiedVc) -> Result<()> {
        self.check(credential)?.require_valid()
    }

    /// The status of a credential the wallet holds (checked when it was received).
    ///
    /// # Errors
    /// As [`StatusChecker::check`].
    pub fn check_held(&self, credential: &VcCredential) -> Result<CredentialStatus> {
        self.check(&credential.verified)
    }

    /// The verified Status List Token at `uri`, from the cache while it is fresh.
    ///
    /// # Errors
    /// As [`StatusChecker::check`].
    pub fn token(
        &self,
        uri: &str,
        credential_issuer: Option<&str>,
    ) -> Result<Arc<StatusListToken>> {
        self.token_for(uri, credential_issuer, None)
    }

    fn token_for(
        &self,
        uri: &str,
        credential_issuer: Option<&str>,
        binding: Option<&IssuerBinding>,
    ) -> Result<Arc<StatusListToken>> {
        let now = self.clock.now();
        // Keyed by issuer identity too: a token is verified for the credential's issuer.
        let key = (uri.to_owned(), Self::identity(credential_issuer, binding));
        if let Ok(cache) = self.cache.lock()
            && let Some(c) = cache.get(&key)
            && (c.until > now || (self.background && c.hard_until > now))
        {
            return Ok(c.token.clone());
        }
        self.fetch(uri, credential_issuer, binding)
    }

    /// Identity part of the cache key.
    fn identity(
        credential_issuer: Option<&str>,
        binding: Option<&IssuerBinding>,
    ) -> Option<String> {
        credential_issuer
            .map(str::to_owned)
            .or_else(|| match binding {
                Some(IssuerBinding::X509(c)) => {
                    Some(format!("x509:{}|{:?}|{:?}", c.subject, c.dns_names, c.uris))
                }
                Some(other) => Some(format!("{other:?}")),
                None => None,
            })
    }

    /// Fetches, verifies and caches the token at `uri`.
    fn fetch(
        &self,
        uri: &str,
        credential_issuer: Option<&str>,
        binding: Option<&IssuerBinding>,
    ) -> Result<Arc<StatusListToken>> {
        let now = self.clock.now();
        let key = (uri.to_owned(), Self::identity(credential_issuer, binding));
        // §8.1: ask for the JWT form.
        let fetched = self
            .fetcher
            .get_accepting(uri, "application/statuslist+jwt")?;
        let text = std::str::from_utf8(&fetched.body)
            .map_err(|_| StatusError::TokenInvalid("the token is not UTF-8".into()))?
            .trim();
        let check = TokenCheck {
            uri,
            credential_issuer,
            credential_binding: binding,
            now,
            leeway: self.leeway,
            max_list_bytes: self.max_list_bytes,
        };
        let token = Arc::new(verify_jwt(text, &*self.trust, &check)?);
        let keep = token
            .ttl
            .unwrap_or(self.default_cache)
            .clamp(self.min_cache, self.max_cache);
        let mut until = now.saturating_add(i64::try_from(keep).unwrap_or(i64::MAX));
        if let Some(exp) = token.expires_at {
            until = until.min(exp);
        }
        let hard_until = token.expires_at.unwrap_or(until);
        if until > now
            && let Ok(mut cache) = self.cache.lock()
        {
            cache.retain(|_, c| c.hard_until > now);
            if cache.len() < CACHE_ENTRIES || cache.contains_key(&key) {
                cache.insert(
                    key,
                    Cached {
                        until,
                        hard_until,
                        token: token.clone(),
                        credential_issuer: credential_issuer.map(str::to_owned),
                        binding: binding.cloned(),
                    },
                );
            }
        }
        Ok(token)
    }
}
