//! The relying party: verifies presentations (RFC 9901 §7.3, draft-ietf-oauth-sd-jwt-vc-18
//! §2.4) and OpenID4VP 1.0 DCQL responses (§6, §8.1), optionally checking revocation
//! (draft-ietf-oauth-status-list-20 §8).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use credkit::dcql::{DcqlQuery, PresentedCredential};
use credkit::sd_jwt::KeyBindingPolicy;
use credkit::sd_jwt_vc::type_metadata::TypeMetadataResolver;
use credkit::sd_jwt_vc::{TrustPolicy, TypeMetadataPolicy, VcVerifier, VerifiedVc};
use credkit::status_list::StatusChecker;
use credkit::time::SystemClock;
use serde_json::Value;

use crate::config::{TrustConfig, fetcher, trust_policy, type_metadata};
use crate::error::{CredkitError, Result};
use crate::guard;
use crate::host::HostHttpClient;
use crate::issuer::CredentialStatus;

/// How the verifier decides.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct VerifierConfig {
    /// Trusted issuers.
    pub trust: TrustConfig,
    /// Credential types accepted (`vct`); empty accepts any type of a trusted issuer.
    #[uniffi(default)]
    pub accepted_vcts: Vec<String>,
    /// Type Metadata documents (JSON) to enforce; types without one are accepted.
    #[uniffi(default)]
    pub type_metadata: Vec<String>,
    /// Checks each credential's Token Status List entry (needs a host HTTP client) and
    /// rejects revoked and suspended credentials.
    #[uniffi(default)]
    pub check_status: bool,
    /// Also accepts the legacy `typ` `vc+sd-jwt` (only for a transition period).
    #[uniffi(default)]
    pub accept_legacy_typ: bool,
}

/// What a verified presentation showed.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct VerifiedCredential {
    /// The credential type.
    pub vct: String,
    /// The issuer, when the credential names one.
    pub issuer: Option<String>,
    /// The verified claims (always-visible plus disclosed), a JSON object.
    pub claims_json: String,
    /// JSON Pointers of the claims that were selectively disclosed.
    pub disclosed: Vec<String>,
    /// Whether the presentation was bound to the holder's key (a KB-JWT verified).
    pub holder_bound: bool,
    /// The status, when checked and the credential references a status list.
    pub status: Option<CredentialStatus>,
}

impl fmt::Debug for VerifiedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedCredential")
            .field("vct", &self.vct)
            .field("disclosed", &self.disclosed)
            .finish_non_exhaustive()
    }
}

/// One presentation of a DCQL response, verified.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ResponseCredential {
    /// The Credential Query it answers.
    pub query_id: String,
    /// What it showed.
    pub credential: VerifiedCredential,
}

/// A relying party's verifier.
#[derive(uniffi::Object)]
pub struct Verifier {
    trust: Arc<TrustPolicy>,
    config: VerifierConfig,
    types: Option<Arc<TypeMetadataResolver>>,
    status: Option<StatusChecker>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    fn vc_verifier(&self, audience: &str, nonce: &str) -> Result<VcVerifier> {
        let vcts: Vec<&str> = self
            .config
            .accepted_vcts
            .iter()
            .map(String::as_str)
            .collect();
        let mut b = VcVerifier::builder_with_clock(self.trust.clone(), Arc::new(SystemClock))
            .key_binding(KeyBindingPolicy::Required {
                audience: audience.to_owned(),
                nonce: nonce.to_owned(),
            })
            .accept_legacy_typ(self.config.accept_legacy_typ)
            .sd_jwt(|b| b.provider(crate::provider()));
        if !vcts.is_empty() {
            b = b.accept_vcts(&vcts);
        }
        if let Some(types) = &self.types {
            b = b.type_metadata(types.clone(), TypeMetadataPolicy::IfAvailable);
        }
        Ok(b.build()?)
    }

    fn finish(&self, v: &VerifiedVc) -> Result<VerifiedCredential> {
        let status = match &self.status {
            Some(checker) if v.status().is_some() => {
                checker.check_valid(v)?;
                Some(CredentialStatus::Valid)
            }
            _ => None,
        };
        Ok(VerifiedCredential {
            vct: v.vct.as_str().to_owned(),
            issuer: v.issuer.clone(),
            claims_json: Value::Object(v.claims().clone()).to_string(),
            disclosed: v.sd_jwt.disclosed.clone(),
            holder_bound: v.sd_jwt.key_binding.is_some(),
            status,
        })
    }
}

#[uniffi::export]
impl Verifier {
    /// A verifier; `http` is the app's HTTP stack, needed for issuer metadata and status
    /// checks.
    ///
    /// # Errors
    /// `InvalidInput` / `Malformed` for an unusable configuration.
    #[uniffi::constructor(default(http = None))]
    pub fn new(config: VerifierConfig, http: Option<Arc<dyn HostHttpClient>>) -> Result<Arc<Self>> {
        guard(|| {
            let fetcher = fetcher(http.as_ref());
            let trust = Arc::new(trust_policy(&config.trust, fetcher.as_ref())?);
            let status = if config.check_status {
                let f = fetcher.clone().ok_or_else(|| {
                    CredkitError::invalid_input("status checks need a host HTTP client")
                })?;
                Some(StatusChecker::new(f, trust.clone()))
            } else {
                None
            };
            Ok(Arc::new(Self {
                types: type_metadata(&config.type_metadata)?,
                trust,
                config,
                status,
            }))
        })
    }

    /// Verifies one presentation (SD-JWT+KB) made for `audience` with `nonce`.
    ///
    /// # Errors
    /// The kind of the first failed check.
    pub fn verify(
        &self,
        presentation: String,
        audience: String,
        nonce: String,
    ) -> Result<VerifiedCredential> {
        guard(|| {
            let v = self.vc_verifier(&audience, &nonce)?.verify(&presentation)?;
            self.finish(&v)
        })
    }

    /// Verifies an OpenID4VP `vp_token` (JSON: query id → presentations) against the DCQL
    /// query the verifier sent: every presentation verifies, the required queries are
    /// answered, and no claim was disclosed that the query did not ask for.
    ///
    /// # Errors
    /// The kind of the first failed check; `Unsatisfiable` when the response does not
    /// answer the query.
    pub fn verify_response(
        &self,
        query_json: String,
        vp_token_json: String,
        audience: String,
        nonce: String,
    ) -> Result<Vec<ResponseCredential>> {
        guard(|| {
            let query = DcqlQuery::parse(&crate::parse_json(&query_json, "DCQL query")?)?;
            let token = vp_token(&vp_token_json)?;
            // Only what the query asked for is verified, and only so much of it.
            let asked: Vec<&str> = query.credentials().iter().map(|q| q.id.as_str()).collect();
            if let Some(id) = token.keys().find(|id| !asked.contains(&id.as_str())) {
                return Err(CredkitError::Unsatisfiable {
                    code: "dcql_response_mismatch".into(),
                    detail: format!("the vp_token answers {id:?}, which the query did not ask"),
                });
            }
            let verifier = self.vc_verifier(&audience, &nonce)?;
            let mut verified: BTreeMap<String, Vec<VerifiedVc>> = BTreeMap::new();
            for (id, presentations) in &token {
                for p in presentations {
                    verified
                        .entry(id.clone())
                        .or_default()
                        .push(verifier.verify(p)?);
                }
            }
            let presented: BTreeMap<String, Vec<PresentedCredential<'_>>> = verified
                .iter()
                .map(|(id, list)| {
                    let list = list
                        .iter()
                        .map(|v| PresentedCredential {
                            vct: v.vct.as_str(),
                            claims: v.claims(),
                            disclosed: &v.sd_jwt.disclosed,
                            holder_binding: v.sd_jwt.key_binding.is_some(),
                        })
                        .collect();
                    (id.clone(), list)
                })
                .collect();
            query.check_response(&presented)?.deny_over_disclosure()?;
            let mut out = Vec::new();
            for (id, list) in &verified {
                for v in list {
                    out.push(ResponseCredential {
                        query_id: id.clone(),
                        credential: self.finish(v)?,
                    });
                }
            }
            Ok(out)
        })
    }
}

/// Most presentations one `vp_token` may carry.
const MAX_PRESENTATIONS: usize = 64;

/// Parses a `vp_token` (OpenID4VP 1.0 §8.1): an object of query ids to non-empty arrays of
/// presentations (strings).
fn vp_token(text: &str) -> Result<BTreeMap<String, Vec<String>>> {
    let malformed = |detail: &str| CredkitError::Malformed {
        code: "vp_token_invalid".into(),
        detail: detail.to_owned(),
    };
    let Value::Object(map) = crate::parse_json(text, "vp_token")? else {
        return Err(malformed("a vp_token is a JSON object"));
    };
    let mut out = BTreeMap::new();
    let mut n = 0usize;
    for (id, list) in map {
        let Value::Array(list) = list else {
            return Err(malformed(
                "each vp_token member is an array of presentations",
            ));
        };
        if list.is_empty() {
            return Err(malformed("an empty array of presentations"));
        }
        let mut presentations = Vec::with_capacity(list.len());
        for p in list {
            let Value::String(p) = p else {
                return Err(malformed(
                    "a presentation of a dc+sd-jwt credential is a string",
                ));
            };
            n += 1;
            if n > MAX_PRESENTATIONS {
                return Err(malformed("too many presentations in one vp_token"));
            }
            presentations.push(p);
        }
        out.insert(id, presentations);
    }
    Ok(out)
}

/// A fresh random nonce for a presentation request (128 bits, hex).
///
/// # Errors
/// `KeyUnavailable` (code `random_failed`) when the OS has no randomness.
#[uniffi::export]
pub fn new_nonce() -> Result<String> {
    guard(|| Ok(credkit::rand::id(&credkit::rand::OsRandom)?))
}
