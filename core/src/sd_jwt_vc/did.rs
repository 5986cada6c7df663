//! Issuers identified by DIDs (feature `did`): `did:jwk`, `did:key` (resolved by `ssi`'s
//! method crates, no I/O) and `did:web` (retrieved through credkit's own [`Fetcher`], so the
//! SSRF guard, HTTPS-only rule and size and time bounds of draft-ietf-oauth-sd-jwt-vc
//! "Retrieving Documents via HTTP" apply to it as to every other retrieval).
//!
//! The issuer JWT's `kid` names the verification method (`did:...#frag` or `#frag`); it must
//! be one of the DID document's `assertionMethod`s (DID Core §5.3.2). Without a `kid`, a
//! document with exactly one assertion method is accepted.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use serde_json::{Map, Value};
use ssi_dids_core::resolution::{DIDMethodResolver, Options};

use crate::crypto::{CryptoProvider, default_provider};
use crate::error::{KeyError, Result, TrustError};
use crate::http::Fetcher;
use crate::jose::{Jws, PublicJwk};
use crate::sd_jwt_vc::trust::{IssuerBinding, IssuerTrust, TrustedIssuerKeys, only_hints};

/// Largest DID document accepted, in bytes.
const MAX_DOCUMENT: usize = 64 * 1024;

/// Key discovery for DID issuers.
#[derive(Debug, Clone)]
pub struct DidTrust {
    web: Option<Fetcher>,
    provider: &'static dyn CryptoProvider,
}

impl Default for DidTrust {
    fn default() -> Self {
        Self::new()
    }
}

fn err(why: impl Into<String>) -> crate::Error {
    TrustError::DidResolution(why.into()).into()
}

/// Polls a future that completes without I/O (`ssi`'s `did:jwk` and `did:key` resolvers).
fn ready<F: Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Asks `ssi` for `JsonWebKey2020` verification methods (`publicKeyJwk`).
fn jwk_format() -> Options {
    let mut options = Options::default();
    options.parameters.public_key_format = Some("JsonWebKey2020".into());
    options
}

impl DidTrust {
    /// Resolves `did:jwk` and `did:key`.
    #[must_use]
    pub fn new() -> Self {
        Self {
            web: None,
            provider: default_provider(),
        }
    }

    /// Also resolves `did:web`, retrieving `did.json` with `fetcher`.
    #[must_use]
    pub fn web_fetcher(mut self, fetcher: Fetcher) -> Self {
        self.web = Some(fetcher);
        self
    }

    /// Uses `provider` for the keys.
    #[must_use]
    pub fn provider(mut self, provider: &'static dyn CryptoProvider) -> Self {
        self.provider = provider;
        self
    }

    /// The URL of a `did:web` document (did:web method specification §3.2).
    ///
    /// # Errors
    /// `did_resolution_failed` for a malformed identifier.
    pub fn web_url(did: &str) -> Result<String> {
        let id = did
            .strip_prefix("did:web:")
            .ok_or_else(|| err("not a did:web"))?;
        let mut parts = id.split(':');
        let host = parts
            .next()
            .unwrap_or_default()
            .replace("%3A", ":")
            .replace("%3a", ":");
        let path: Vec<&str> = parts.collect();
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%'))
        };
        if !valid(&host) || !path.iter().all(|p| valid(p)) || path.iter().any(|p| p.contains('%')) {
            return Err(err(format!("{did:?} is not a valid did:web")));
        }
        Ok(if path.is_empty() {
            format!("https://{host}/.well-known/did.json")
        } else {
            format!("https://{host}/{}/did.json", path.join("/"))
        })
    }

    /// Resolves `did` to its DID document.
    ///
    /// # Errors
    /// `did_resolution_failed` and fetch errors.
    pub fn resolve(&self, did: &str) -> Result<Map<String, Value>> {
        let bytes = if let Some(id) = did.strip_prefix("did:jwk:") {
            let out = ready(did_jwk::DIDJWK.resolve_method_representation(id, jwk_format()))
                .ok_or_else(|| err("did:jwk resolution did not complete"))?
                .map_err(|e| err(format!("{did}: {e}")))?;
            out.document
        } else if let Some(id) = did.strip_prefix("did:key:") {
            let out = ready(did_method_key::DIDKey.resolve_method_representation(id, jwk_format()))
                .ok_or_else(|| err("did:key resolution did not complete"))?
                .map_err(|e| err(format!("{did}: {e}")))?;
            out.document
        } else if did.starts_with("did:web:") {
            let fetcher = self
                .web
                .as_ref()
                .ok_or_else(|| err("did:web is not enabled (no fetcher configured)"))?;
            fetcher.get(&Self::web_url(did)?)?.body
        } else {
            return Err(err(format!("unsupported DID method in {did:?}")));
        };
        if bytes.len() > MAX_DOCUMENT {
            return Err(err("DID document too large"));
        }
        let doc = crate::json::parse_object(&bytes, 16, "DID document")?;
        if doc.get("id").and_then(Value::as_str) != Some(did) {
            return Err(err(format!("the DID document's id is not {did:?}")));
        }
        Ok(doc)
    }

    /// The verification method `kid` (or the only assertion method) of `did`'s document.
    fn method<'a>(
        did: &str,
        doc: &'a Map<String, Value>,
        kid: Option<&str>,
    ) -> Result<(String, &'a Map<String, Value>)> {
        let absolute = |r: &str| {
            if r.starts_with('#') {
                format!("{did}{r}")
            } else {
                r.to_owned()
            }
        };
        let declared: Vec<&Map<String, Value>> = doc
            .get("verificationMethod")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default();
        // assertionMethod entries: references to declared methods, or embedded methods.
        let mut assertion: Vec<(String, &Map<String, Value>)> = Vec::new();
        for entry in doc
            .get("assertionMethod")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            match entry {
                Value::String(r) => {
                    let id = absolute(r);
                    if let Some(vm) = declared.iter().find(|vm| {
                        vm.get("id").and_then(Value::as_str).map(absolute) == Some(id.clone())
                    }) {
                        assertion.push((id, vm));
                    }
                }
                Value::Object(vm) => {
                    if let Some(id) = vm.get("id").and_then(Value::as_str) {
                        assertion.push((absolute(id), vm));
                    }
                }
                _ => {}
            }
        }
        let chosen = match kid {
            Some(kid) => {
                let want = absolute(kid);
                if !want.starts_with(&format!("{did}#")) {
                    return Err(TrustError::IssuerMismatch(format!(
                        "kid {kid:?} is not a verification method of {did:?}"
                    ))
                    .into());
                }
                assertion.into_iter().find(|(id, _)| *id == want)
            }
            None if assertion.len() == 1 => assertion.into_iter().next(),
            None => {
                return Err(err(
                    "the DID document has several assertion methods: the JWT needs a kid",
                ));
            }
        };
        chosen.ok_or_else(|| {
            KeyError::Unknown("no assertionMethod of the DID document matches the JWT".into())
                .into()
        })
    }
}

impl IssuerTrust for DidTrust {
    fn issuer_keys(&self, jws: &Jws, claims: &Map<String, Value>) -> Result<TrustedIssuerKeys> {
        only_hints(jws, &[], "a DID document")?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .filter(|i| i.starts_with("did:"))
            .ok_or_else(|| TrustError::UntrustedIssuer("iss is not a DID".into()))?;
        let doc = self.resolve(iss)?;
        let (id, vm) = Self::method(iss, &doc, jws.kid())?;
        let jwk = vm
            .get("publicKeyJwk")
            .and_then(Value::as_object)
            .ok_or_else(|| err(format!("{id} has no publicKeyJwk")))?;
        let jwk = PublicJwk::from_json(jwk)?;
        let alg = jws
            .algorithm()
            .ok_or_else(|| KeyError::Unknown("no algorithm".into()))?;
        let key = self.provider.verifying_key(&jwk, alg)?;
        Ok(TrustedIssuerKeys {
            keys: vec![key],
            binding: IssuerBinding::Did {
                verification_method: id,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_web_urls() {
        assert_eq!(
            DidTrust::web_url("did:web:w3c-ccg.github.io").unwrap(),
            "https://w3c-ccg.github.io/.well-known/did.json"
        );
        assert_eq!(
            DidTrust::web_url("did:web:w3c-ccg.github.io:user:alice").unwrap(),
            "https://w3c-ccg.github.io/user/alice/did.json"
        );
        assert_eq!(
            DidTrust::web_url("did:web:example.com%3A3000:user").unwrap(),
            "https://example.com:3000/user/did.json"
        );
        assert!(DidTrust::web_url("did:web:").is_err());
        assert!(DidTrust::web_url("did:web:exa/mple.com").is_err());
        assert!(DidTrust::web_url("did:web:example.com:..%2F").is_err());
    }
}
