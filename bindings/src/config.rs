//! Configuration shared by the wallet and the verifier: which issuers are trusted and how
//! (draft-ietf-oauth-sd-jwt-vc-18 §2.5 / §4), and the Type Metadata the app bundles (§5).

use std::sync::Arc;

use crate::provider;
use credkit::http::Fetcher;
use credkit::jose::PublicJwk;
use credkit::sd_jwt::StaticIssuerKeys;
use credkit::sd_jwt_vc::type_metadata::{LocalTypeMetadata, TypeMetadataResolver};
use credkit::sd_jwt_vc::{IssuerMetadataTrust, TrustPolicy, X5cTrust};
use credkit::x509::TrustAnchors;
use serde_json::Value;

use crate::error::{CredkitError, Result};
use crate::host::{HostHttp, HostHttpClient};

/// An issuer whose keys the app knows (pinned keys).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PinnedIssuer {
    /// The issuer identifier (`iss`).
    pub issuer: String,
    /// Its public key as a JWK, or its keys as a JWK Set (`{"keys": [...]}`), JSON text.
    pub jwks: String,
}

/// Which issuers are trusted, and how their keys are found. Each issuer gets exactly one
/// mechanism: a pinned key, its JWT VC Issuer Metadata, or — for every other issuer — an
/// `x5c` chain to one of the trust anchors.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct TrustConfig {
    /// Issuers with pinned keys.
    #[uniffi(default)]
    pub pinned: Vec<PinnedIssuer>,
    /// Issuers (`https` identifiers) whose keys come from their JWT VC Issuer Metadata
    /// (`/.well-known/jwt-vc-issuer`); needs a [`HostHttpClient`].
    #[uniffi(default)]
    pub issuer_metadata: Vec<String>,
    /// PEM trust anchors (for example a national PID providers' trust list): any other
    /// issuer must present an `x5c` chain to one of them, with `iss` in the leaf's SAN.
    #[uniffi(default)]
    pub trust_anchors_pem: Vec<String>,
}

/// Builds the fetcher for a host HTTP client.
pub(crate) fn fetcher(http: Option<&Arc<dyn HostHttpClient>>) -> Option<Fetcher> {
    http.map(|h| Fetcher::new(Arc::new(HostHttp(h.clone()))))
}

/// Builds the trust policy of a configuration.
pub(crate) fn trust_policy(config: &TrustConfig, fetcher: Option<&Fetcher>) -> Result<TrustPolicy> {
    let provider = provider();
    let mut policy = TrustPolicy::new();
    for p in &config.pinned {
        let json = crate::parse_json(&p.jwks, "pinned issuer key").map_err(|e| {
            CredkitError::invalid_input(format!("pinned key of {}: {}", p.issuer, e.detail()))
        })?;
        let jwks: Vec<&Value> = match json.get("keys") {
            Some(Value::Array(keys)) => keys.iter().collect(),
            Some(_) => {
                return Err(CredkitError::invalid_input("\"keys\" must be an array"));
            }
            None => vec![&json],
        };
        let mut keys = StaticIssuerKeys::new();
        for k in jwks {
            let obj = k
                .as_object()
                .ok_or_else(|| CredkitError::invalid_input("a JWK must be an object"))?;
            keys.add(&PublicJwk::from_json(obj)?, provider)?;
        }
        policy = policy.issuer(p.issuer.clone(), Arc::new(keys));
    }
    if !config.issuer_metadata.is_empty() {
        let fetcher = fetcher.ok_or_else(|| {
            CredkitError::invalid_input("issuer metadata trust needs a host HTTP client")
        })?;
        let mechanism = Arc::new(IssuerMetadataTrust::new(fetcher.clone()).provider(provider));
        for iss in &config.issuer_metadata {
            policy = policy.issuer(iss.clone(), mechanism.clone());
        }
    }
    if !config.trust_anchors_pem.is_empty() {
        let mut anchors = TrustAnchors::new();
        for pem in &config.trust_anchors_pem {
            anchors.add_pem(pem)?;
        }
        policy = policy.otherwise(Arc::new(X5cTrust::new(anchors).provider(provider)));
    }
    Ok(policy)
}

/// A type metadata resolver over the documents the app bundles (JSON texts).
pub(crate) fn type_metadata(documents: &[String]) -> Result<Option<Arc<TypeMetadataResolver>>> {
    if documents.is_empty() {
        return Ok(None);
    }
    let mut local = LocalTypeMetadata::new();
    for d in documents {
        local.add(d.as_bytes().to_vec())?;
    }
    Ok(Some(Arc::new(
        TypeMetadataResolver::new().with_source(Arc::new(local)),
    )))
}
