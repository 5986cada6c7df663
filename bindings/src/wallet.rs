//! The holder's wallet: receives and verifies credentials (RFC 9901 §7.2), keeps them bound
//! to keys of the host's keystore, answers OpenID4VP 1.0 DCQL queries (§6) with a consent
//! summary of exactly what each choice reveals, and presents with a KB-JWT (RFC 9901 §4.3).

use std::fmt;
use std::sync::Arc;

use credkit::dcql::DcqlQuery;
use credkit::sd_jwt::KeyBindingPolicy;
use credkit::sd_jwt_vc::type_metadata::{ResolvedTypeMetadata, TypeMetadataResolver};
use credkit::sd_jwt_vc::{TypeMetadataPolicy, VcVerifier};
use credkit::time::SystemClock;
use credkit::wallet::{CredentialStore, MemoryStore, UsePolicy as CoreUsePolicy};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::config::{TrustConfig, fetcher, trust_policy, type_metadata};
use crate::error::{CredkitError, Result};
use crate::guard;
use crate::host::{
    HostCredentialStore, HostHttpClient, HostKeyManager, HostKeys, HostStore, KeyAlgorithm,
};
use crate::issuer::CredentialStatus;

/// How the copies of a credential batch are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, uniffi::Enum)]
pub enum UsePolicy {
    /// Each copy is presented once (presentations cannot be linked); a batch runs out.
    #[default]
    OneTimeUse,
    /// Copies are used in turn and never run out.
    RotateUse,
}

/// How the wallet decides what it accepts and how it shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct WalletConfig {
    /// Trusted issuers: credentials of other issuers are refused.
    pub trust: TrustConfig,
    /// Credential types accepted; empty accepts any type of a trusted issuer.
    #[uniffi(default)]
    pub accepted_vcts: Vec<String>,
    /// Type Metadata documents (JSON) the app bundles: enforced on receipt, and the source
    /// of credential names and claim labels.
    #[uniffi(default)]
    pub type_metadata: Vec<String>,
    /// Locales for names and labels, preferred first (e.g. `["de-DE", "en"]`).
    #[uniffi(default)]
    pub locales: Vec<String>,
    /// How batch copies are used.
    pub use_policy: UsePolicy,
    /// Which verifiers the wallet answers over OpenID4VP, and how strictly.
    #[uniffi(default)]
    pub verifier_trust: crate::openid4vp::VerifierTrustConfig,
}

/// A holder key created for an issuance request.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HolderKey {
    /// The key id (pass the ids back to [`Wallet::add`]).
    pub key_id: String,
    /// The public key as JWK JSON (for the issuer's `cnf`, in the OpenID4VCI proof).
    pub public_jwk: String,
}

/// One claim as the wallet shows it.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClaimView {
    /// Where the claim is (JSON Pointer, e.g. `/address/locality`).
    pub pointer: String,
    /// Its label from the type's metadata in the preferred locale, if any.
    pub label: Option<String>,
    /// Its value, JSON text.
    pub value_json: String,
}

impl fmt::Debug for ClaimView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimView")
            .field("pointer", &self.pointer)
            .finish_non_exhaustive()
    }
}

/// A credential the wallet holds (one batch of copies).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct HeldCredential {
    /// The handle for presenting and removing.
    pub batch: String,
    /// The credential type.
    pub vct: String,
    /// The type's name in the preferred locale, from its metadata.
    pub name: Option<String>,
    /// The type's description in the preferred locale, from its metadata.
    pub description: Option<String>,
    /// The type's rendering data in the preferred locale (`simple`: logo, colours;
    /// `svg_templates`), JSON as the metadata has it. Data to show, never to execute.
    pub rendering_json: Option<String>,
    /// The issuer.
    pub issuer: Option<String>,
    /// `iat`, when the credential has one (Unix seconds).
    pub issued_at: Option<i64>,
    /// `exp`, when the credential has one (Unix seconds).
    pub expires_at: Option<i64>,
    /// Copies in the batch.
    pub copies: u64,
    /// Copies that can still be presented.
    pub remaining: u64,
    /// Every claim, fully disclosed, a JSON object.
    pub claims_json: String,
    /// The claims that can be disclosed one by one.
    pub disclosable: Vec<ClaimView>,
}

impl fmt::Debug for HeldCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeldCredential")
            .field("batch", &self.batch)
            .field("vct", &self.vct)
            .finish_non_exhaustive()
    }
}

/// One credential that can answer a Credential Query, as the consent screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsentCandidate {
    /// The credential to present.
    pub batch: String,
    /// Its type.
    pub vct: String,
    /// The type's name in the preferred locale.
    pub name: Option<String>,
    /// Its issuer.
    pub issuer: Option<String>,
    /// Copies left.
    pub remaining: u64,
    /// The pointers to disclose (pass them in [`Choice::disclose`]).
    pub disclose: Vec<String>,
    /// Exactly what the verifier would see beyond the always-visible claims.
    pub revealed: Vec<ClaimView>,
}

/// The wallet's options for one Credential Query.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QueryAnswer {
    /// The Credential Query's id.
    pub query_id: String,
    /// Whether the verifier requires an answer.
    pub required: bool,
    /// Whether several credentials may answer it.
    pub multiple: bool,
    /// The credentials that can, the least-disclosing first.
    pub candidates: Vec<ConsentCandidate>,
}

/// The user's choice for one Credential Query.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Choice {
    /// The Credential Query answered.
    pub query_id: String,
    /// The credential presented.
    pub batch: String,
    /// The pointers disclosed (a candidate's `disclose`).
    pub disclose: Vec<String>,
}

/// A holder's wallet.
#[derive(uniffi::Object)]
pub struct Wallet {
    inner: credkit::wallet::Wallet,
    status: Option<credkit::status_list::StatusChecker>,
    types: Option<Arc<TypeMetadataResolver>>,
    locales: Vec<String>,
    policy: UsePolicy,
    verifier_trust: crate::openid4vp::VerifierTrustConfig,
    presentation_http: Option<Arc<dyn crate::openid4vp::HostAsyncHttpClient>>,
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wallet")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Wallet {
    fn build(
        store: Arc<dyn CredentialStore>,
        keys: Arc<dyn HostKeyManager>,
        config: WalletConfig,
        http: Option<Arc<dyn HostHttpClient>>,
        presentation_http: Option<Arc<dyn crate::openid4vp::HostAsyncHttpClient>>,
    ) -> Result<Arc<Self>> {
        let fetcher = fetcher(http.as_ref());
        let trust = Arc::new(trust_policy(&config.trust, fetcher.as_ref())?);
        let status = fetcher.map(|f| credkit::status_list::StatusChecker::new(f, trust.clone()));
        let types = type_metadata(&config.type_metadata)?;
        let vcts: Vec<&str> = config.accepted_vcts.iter().map(String::as_str).collect();
        // Issued credentials carry no KB-JWT (RFC 9901 §7.2).
        let mut b = VcVerifier::builder_with_clock(trust, Arc::new(SystemClock))
            .key_binding(KeyBindingPolicy::Forbidden)
            .sd_jwt(|b| b.provider(crate::provider()));
        if !vcts.is_empty() {
            b = b.accept_vcts(&vcts);
        }
        if let Some(t) = &types {
            b = b.type_metadata(t.clone(), TypeMetadataPolicy::IfAvailable);
        }
        let policy = match config.use_policy {
            UsePolicy::OneTimeUse => CoreUsePolicy::OneTimeUse,
            UsePolicy::RotateUse => CoreUsePolicy::RotateUse,
        };
        let inner = credkit::wallet::Wallet::new(store, Arc::new(HostKeys(keys)), b.build()?)
            .use_policy(policy);
        Ok(Arc::new(Self {
            inner,
            status,
            types,
            locales: config.locales,
            policy: config.use_policy,
            verifier_trust: config.verifier_trust,
            presentation_http,
        }))
    }

    fn metadata(&self, vct: &str) -> Option<ResolvedTypeMetadata> {
        self.types.as_ref()?.resolve(vct, None).ok()
    }

    fn locales(&self) -> Vec<&str> {
        self.locales.iter().map(String::as_str).collect()
    }

    fn name(&self, tm: Option<&ResolvedTypeMetadata>) -> Option<String> {
        let tm = tm?;
        tm.display_for(&self.locales())
            .map(|d| d.name.clone())
            .or_else(|| tm.name.clone())
    }

    fn view(
        &self,
        tm: Option<&ResolvedTypeMetadata>,
        claims: &Map<String, Value>,
        pointer: &str,
        value: &Value,
    ) -> ClaimView {
        let label = tm
            .and_then(|tm| tm.claim_for(claims, pointer))
            .and_then(|c| c.label(&self.locales()))
            .map(|d| d.label.clone());
        ClaimView {
            pointer: pointer.to_owned(),
            label,
            value_json: value.to_string(),
        }
    }

    /// The core wallet.
    pub(crate) fn core(&self) -> &credkit::wallet::Wallet {
        &self.inner
    }

    /// Which verifiers to answer.
    pub(crate) fn verifier_trust(&self) -> &crate::openid4vp::VerifierTrustConfig {
        &self.verifier_trust
    }

    /// The host's asynchronous HTTP stack for OpenID4VP.
    pub(crate) fn presentation_http(
        &self,
    ) -> Result<Arc<dyn crate::openid4vp::HostAsyncHttpClient>> {
        self.presentation_http.clone().ok_or_else(|| {
            CredkitError::invalid_input(
                "OpenID4VP needs the wallet's presentation_http (a HostAsyncHttpClient)",
            )
        })
    }

    fn present_one(
        &self,
        batch: &str,
        disclose: &[String],
        aud: &str,
        nonce: &str,
    ) -> Result<String> {
        let pointers: Vec<&str> = disclose.iter().map(String::as_str).collect();
        Ok(self.inner.present(batch, &pointers, aud, nonce)?)
    }
}

/// A core answer as the consent screen shows it: labels from Type Metadata, values as JSON.
pub(crate) fn answer_view(w: &Wallet, a: &credkit::wallet::QueryAnswer) -> QueryAnswer {
    QueryAnswer {
        candidates: a
            .candidates
            .iter()
            .map(|c| {
                let tm = w.metadata(&c.vct);
                ConsentCandidate {
                    name: w.name(tm.as_ref()),
                    revealed: c
                        .revealed
                        .iter()
                        .map(|(p, v)| w.view(tm.as_ref(), &c.claims, p, v))
                        .collect(),
                    remaining: count(c.remaining),
                    disclose: c.disclose.clone(),
                    batch: c.batch.clone(),
                    vct: c.vct.clone(),
                    issuer: c.issuer.clone(),
                }
            })
            .collect(),
        query_id: a.query_id.clone(),
        required: a.required,
        multiple: a.multiple,
    }
}

/// Checks the user's `choices` against the consent `answers`: every required query has a
/// choice, at most one unless `multiple`, and each choice is one of the candidates (the same
/// credential and pointers: nothing beyond what the consent screen showed is disclosed).
pub(crate) fn check_choices(answers: &[QueryAnswer], choices: &[Choice]) -> Result<()> {
    for a in answers {
        let mine = choices.iter().filter(|c| c.query_id == a.query_id).count();
        if a.required && mine == 0 {
            return Err(CredkitError::Unsatisfiable {
                code: "dcql_unsatisfiable".into(),
                detail: format!("the required query {:?} has no choice", a.query_id),
            });
        }
        if !a.multiple && mine > 1 {
            return Err(CredkitError::invalid_input(format!(
                "query {:?} takes one credential",
                a.query_id
            )));
        }
    }
    for c in choices {
        let mut disclose = c.disclose.clone();
        disclose.sort();
        let ok = answers
            .iter()
            .filter(|a| a.query_id == c.query_id)
            .flat_map(|a| &a.candidates)
            .any(|k| {
                let mut d = k.disclose.clone();
                d.sort();
                k.batch == c.batch && d == disclose
            });
        if !ok {
            return Err(CredkitError::invalid_input(format!(
                "the choice for {:?} is not one of the query's candidates",
                c.query_id
            )));
        }
    }
    Ok(())
}

pub(crate) fn parse_query(text: &str) -> Result<DcqlQuery> {
    let json = crate::parse_json(text, "DCQL query").map_err(|e| CredkitError::InvalidInput {
        code: "dcql_invalid".into(),
        detail: e.detail().to_owned(),
    })?;
    Ok(DcqlQuery::parse(&json)?)
}

/// Most holder keys (batch copies) created at once.
const MAX_BATCH: u32 = 256;

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[uniffi::export]
impl Wallet {
    /// A wallet keeping credentials in memory (tests, ephemeral sessions).
    ///
    /// # Errors
    /// `InvalidInput` / `Malformed` for an unusable configuration.
    #[uniffi::constructor(default(http = None, presentation_http = None))]
    pub fn in_memory(
        config: WalletConfig,
        keys: Arc<dyn HostKeyManager>,
        http: Option<Arc<dyn HostHttpClient>>,
        presentation_http: Option<Arc<dyn crate::openid4vp::HostAsyncHttpClient>>,
    ) -> Result<Arc<Self>> {
        guard(|| {
            Self::build(
                Arc::new(MemoryStore::new()),
                keys,
                config,
                http,
                presentation_http,
            )
        })
    }

    /// A wallet keeping credentials in the encrypted SQLite file at `path` (created when
    /// missing). `store_key` is 32 bytes from the platform keystore (Android Keystore
    /// wrapped, iOS Keychain); every record is encrypted and authenticated under it.
    ///
    /// # Errors
    /// `Storage` when the file cannot be opened or `store_key` is not its key;
    /// `InvalidInput` for a key that is not 32 bytes;
    /// `Unsupported` in a build without the `sqlite` feature.
    #[uniffi::constructor(default(http = None, presentation_http = None))]
    pub fn open(
        path: String,
        store_key: Vec<u8>,
        config: WalletConfig,
        keys: Arc<dyn HostKeyManager>,
        http: Option<Arc<dyn HostHttpClient>>,
        presentation_http: Option<Arc<dyn crate::openid4vp::HostAsyncHttpClient>>,
    ) -> Result<Arc<Self>> {
        guard(|| {
            let store_key = Zeroizing::new(store_key);
            if store_key.len() != 32 {
                return Err(CredkitError::invalid_input("a store key is 32 bytes"));
            }
            open_store(&path, &store_key)
                .and_then(|store| Self::build(store, keys, config, http, presentation_http))
        })
    }

    /// A wallet keeping credentials in the app's own store.
    ///
    /// # Errors
    /// `InvalidInput` / `Malformed` for an unusable configuration.
    #[uniffi::constructor(default(http = None, presentation_http = None))]
    pub fn with_store(
        store: Arc<dyn HostCredentialStore>,
        config: WalletConfig,
        keys: Arc<dyn HostKeyManager>,
        http: Option<Arc<dyn HostHttpClient>>,
        presentation_http: Option<Arc<dyn crate::openid4vp::HostAsyncHttpClient>>,
    ) -> Result<Arc<Self>> {
        guard(|| {
            Self::build(
                Arc::new(HostStore(store)),
                keys,
                config,
                http,
                presentation_http,
            )
        })
    }

    /// Creates `count` holder keys (at most 256) for an issuance request, one per copy of a
    /// batch.
    ///
    /// # Errors
    /// `KeyUnavailable`.
    pub fn create_holder_keys(
        &self,
        count: u32,
        algorithm: KeyAlgorithm,
    ) -> Result<Vec<HolderKey>> {
        guard(|| {
            if count > MAX_BATCH {
                return Err(CredkitError::invalid_input(format!(
                    "at most {MAX_BATCH} keys at once"
                )));
            }
            let n = usize::try_from(count).unwrap_or(usize::MAX);
            Ok(self
                .inner
                .create_holder_keys(n, algorithm.into())?
                .into_iter()
                .map(|(key_id, jwk)| HolderKey {
                    key_id,
                    public_jwk: Value::Object(jwk.minimal_json()).to_string(),
                })
                .collect())
        })
    }

    /// Verifies the copies of an issued credential and keeps them as one batch; each must be
    /// bound to one of `key_ids`. Nothing is kept unless every copy passes. Returns the
    /// batch id.
    ///
    /// # Errors
    /// The verification's kind; `KeyBinding` (`holder_key_unknown`) for a credential
    /// bound to another key; `Storage`.
    pub fn add(&self, credentials: Vec<String>, key_ids: Vec<String>) -> Result<String> {
        guard(|| {
            let texts: Vec<&str> = credentials.iter().map(String::as_str).collect();
            Ok(self.inner.add(&texts, &key_ids)?)
        })
    }

    /// The credentials held.
    ///
    /// # Errors
    /// `Storage`.
    pub fn list(&self) -> Result<Vec<HeldCredential>> {
        guard(|| {
            let mut out = Vec::new();
            for h in self.inner.list()? {
                let tm = self.metadata(&h.vct);
                let remaining = match self.policy {
                    UsePolicy::OneTimeUse => h.unused,
                    UsePolicy::RotateUse => h.copies,
                };
                let display = tm.as_ref().and_then(|t| t.display_for(&self.locales()));
                let time = |name: &str| h.claims.get(name).and_then(Value::as_i64);
                out.push(HeldCredential {
                    name: self.name(tm.as_ref()),
                    description: display
                        .and_then(|d| d.description.clone())
                        .or_else(|| tm.as_ref().and_then(|t| t.description.clone())),
                    rendering_json: display
                        .and_then(|d| d.rendering.as_ref())
                        .map(Value::to_string),
                    issued_at: time("iat"),
                    expires_at: time("exp"),
                    disclosable: h
                        .disclosable
                        .iter()
                        .map(|d| self.view(tm.as_ref(), &h.claims, &d.pointer, &d.value))
                        .collect(),
                    claims_json: Value::Object(h.claims.clone()).to_string(),
                    copies: count(h.copies),
                    remaining: count(remaining),
                    batch: h.batch,
                    vct: h.vct,
                    issuer: h.issuer,
                });
            }
            Ok(out)
        })
    }

    /// The issuer's current status of credential `batch` from its Token Status List (fetched
    /// with the app's HTTP stack, cached for the list's `ttl`); `None` when the credential
    /// references no status list. A status value other than valid, revoked and suspended is
    /// an error of kind `Revoked` (code `credential_status_unknown`).
    ///
    /// # Errors
    /// `InvalidInput` for a wallet made without an HTTP client; `Network`; `NotFound`;
    /// `Expired` for a credential that is no longer valid.
    pub fn status(&self, batch: String) -> Result<Option<CredentialStatus>> {
        guard(|| {
            let checker = self.status.as_ref().ok_or_else(|| {
                CredkitError::invalid_input("status checks need a host HTTP client")
            })?;
            Ok(match self.inner.status(&batch, checker)? {
                credkit::status_list::CredentialStatus::Listed(s) => Some(match s {
                    credkit::status_list::Status::Valid => CredentialStatus::Valid,
                    credkit::status_list::Status::Invalid => CredentialStatus::Revoked,
                    credkit::status_list::Status::Suspended => CredentialStatus::Suspended,
                    other => {
                        return Err(credkit::Error::from(credkit::error::StatusError::Unknown(
                            other.value(),
                        ))
                        .into());
                    }
                }),
                _ => None,
            })
        })
    }

    /// Removes a credential (every copy) and deletes its holder keys.
    ///
    /// # Errors
    /// `NotFound`, `Storage`, `KeyUnavailable`.
    pub fn remove(&self, batch: String) -> Result<()> {
        guard(|| Ok(self.inner.remove(&batch)?))
    }

    /// Answers a DCQL query (JSON): for each Credential Query, the credentials that can
    /// answer it and exactly what each would reveal — what the consent screen shows.
    ///
    /// # Errors
    /// `InvalidInput` for an invalid query; `Unsatisfiable` when a required part cannot be
    /// answered.
    pub fn query(&self, dcql_json: String) -> Result<Vec<QueryAnswer>> {
        guard(|| {
            let answers = self.inner.query(&parse_query(&dcql_json)?)?;
            Ok(answers.iter().map(|a| answer_view(self, a)).collect())
        })
    }

    /// Presents the claims at `disclose` of credential `batch` to `audience` (the verifier's
    /// client id) with its `nonce`, bound by a KB-JWT the host's key signs.
    ///
    /// # Errors
    /// `NotFound`, `Exhausted`, `InvalidInput` (`disclosure_unknown`), `KeyUnavailable`.
    pub fn present(
        &self,
        batch: String,
        disclose: Vec<String>,
        audience: String,
        nonce: String,
    ) -> Result<String> {
        guard(|| self.present_one(&batch, &disclose, &audience, &nonce))
    }

    /// Builds the OpenID4VP `vp_token` (JSON) answering `dcql_json` with the user's choices.
    /// Each choice must be one of the query's candidates (the same credential and pointers:
    /// nothing beyond what the consent screen showed is disclosed), at most one per query
    /// unless it allows `multiple`, and every required query answered. All KB-JWTs are
    /// signed before any copy is marked used, so a cancelled prompt spends nothing.
    ///
    /// # Errors
    /// `InvalidInput` for a choice that is not a candidate; `Unsatisfiable` for a required
    /// query without a choice; otherwise as [`Wallet::present`].
    pub fn build_vp_token(
        &self,
        dcql_json: String,
        choices: Vec<Choice>,
        audience: String,
        nonce: String,
    ) -> Result<String> {
        guard(|| {
            let answers = self.inner.query(&parse_query(&dcql_json)?)?;
            let views: Vec<QueryAnswer> = answers.iter().map(|a| answer_view(self, a)).collect();
            check_choices(&views, &choices)?;
            let pointers: Vec<Vec<&str>> = choices
                .iter()
                .map(|c| c.disclose.iter().map(String::as_str).collect())
                .collect();
            let requests: Vec<(&str, &[&str])> = choices
                .iter()
                .zip(&pointers)
                .map(|(c, p)| (c.batch.as_str(), p.as_slice()))
                .collect();
            let presentations = self.inner.present_all(&requests, &audience, &nonce)?;
            let mut token: Map<String, Value> = Map::new();
            for (c, p) in choices.iter().zip(presentations) {
                match token
                    .entry(c.query_id.clone())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(list) => list.push(Value::String(p)),
                    _ => return Err(CredkitError::panic("vp_token entry is not an array")),
                }
            }
            Ok(Value::Object(token).to_string())
        })
    }
}

#[cfg(feature = "sqlite")]
fn open_store(path: &str, key: &[u8]) -> Result<Arc<dyn CredentialStore>> {
    let key = credkit::wallet::StoreKey::from_slice(key)?;
    let store = credkit::wallet::SqliteStore::open(
        std::path::Path::new(path),
        key,
        Arc::new(credkit::rand::OsRandom),
    )?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "sqlite"))]
fn open_store(_path: &str, _key: &[u8]) -> Result<Arc<dyn CredentialStore>> {
    Err(CredkitError::Unsupported {
        code: "feature_disabled".into(),
        detail: "this build has no SQLite store (feature `sqlite`)".into(),
    })
}
