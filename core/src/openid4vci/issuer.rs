//! The Credential Issuer of OpenID4VCI 1.0 with its own Authorization Server, as
//! HTTP-shaped handlers: [`Issuer::handle`] takes an [`IssuerRequest`] (method, path,
//! query, headers, body) and returns an [`IssuerResponse`], with no HTTP framework, so
//! that `credkit-server`, a test server or an app's own stack forwards requests to it.
//!
//! Endpoints, relative to the Credential Issuer Identifier's path:
//! `/.well-known/openid-credential-issuer` and `/.well-known/oauth-authorization-server`
//! (inserted after the host, §12.2.2, RFC 8414 §3), `/offers/{id}` (`credential_offer_uri`,
//! §4.1.3), `/par` (RFC 9126), `/authorize`, `/token` (§6), `/nonce` (§7), `/credential`
//! (§8), `/deferred` (§9) and `/notification` (§11).
//!
//! What is enforced (SPEC_NOTES_OID4VCI, ATTACKS_OID4VCI): single-use short-lived
//! pre-authorized codes with a transaction code that locks after five wrong guesses
//! (VCI-31, VCI-32, VCI-33); DPoP on token and every resource request, with `jti` replay,
//! `ath`, the bound key and optional server nonces (VCI-35, VCI-41 to VCI-47); PAR only,
//! PKCE S256 only, `request_uri` single-use and bound to the client, authorization codes
//! single-use and bound to client, redirect URI, PKCE and DPoP key (VCI-19 to VCI-26); the
//! RFC 9207 `iss` in every authorization response; client attestation at PAR and token
//! when configured (VCI-50 to VCI-55); `jwt` proofs with `typ`, `alg`, public `jwk`, exact
//! `aud`, `iat` window, a live single-use `c_nonce` equal across the batch, `iss` = the
//! client, distinct keys and at most `batch_size` proofs (VCI-58 to VCI-70); credential
//! identification rules (VCI-75); notifications bound to the token that received them
//! (VCI-88). Every credential copy gets its own salts, holder key and (when a status list
//! is configured) a random status index (VCI-89).
//!
//! State lives in a [`StateStore`]: offers (with the subject's claims, which the store must
//! protect as personal data), codes, tokens, nonces and replay caches, each under the
//! SHA-256 of its secret.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::offer::{AuthorizationCodeGrant, CredentialOffer, PreAuthorizedGrant, TxCodeSpec};
use super::{
    AUTHORIZATION_DETAILS_TYPE, FORMAT_SD_JWT_VC, GRANT_AUTHORIZATION_CODE, GRANT_PRE_AUTHORIZED,
    PROOF_TYP, check_issuer_id,
};
use crate::crypto::{CryptoProvider, HashAlg, Signer, default_provider};
use crate::error::{Oid4vciError, Result};
use crate::http::Method;
use crate::jose::jwe::{self, EncryptOptions};
use crate::jose::jws::{Jws, check_crit};
use crate::jose::{Algorithm, PrivateJwk, PublicJwk};
use crate::oauth::client_attestation::{self, AttestationPolicy};
use crate::oauth::dpop::{self, DpopPolicy, DpopRequest, NonceRule};
use crate::oauth::pkce::{self, CodeVerifier};
use crate::oauth::store::{StateStore, secret_key};
use crate::oauth::{Secret, sanitize_description};
use crate::rand::RandomSource;
use crate::sd_jwt_vc::{VcBuilder, Vct};
use crate::status_list::IssuerStatusList;
use crate::time::Clock;

const KIND_OFFER: &str = "vci_offer";
const KIND_OFFER_URI: &str = "vci_offer_uri";
const KIND_ISSUER_STATE: &str = "vci_issuer_state";
const KIND_PAR: &str = "vci_par";
const KIND_CODE: &str = "vci_code";
const KIND_TOKEN: &str = "vci_token";
const KIND_C_NONCE: &str = "vci_c_nonce";
const KIND_DPOP_NONCE: &str = "vci_dpop_nonce";
const KIND_NOTIFICATION: &str = "vci_notification";
const KIND_DEFERRED: &str = "vci_deferred";

/// Seconds a deferred transaction stays redeemable.
const DEFERRED_LIFETIME: i64 = 24 * 3600;
/// The polling interval the issuer asks for (§8.3).
const DEFERRED_INTERVAL: u64 = 5;

/// Wrong transaction codes allowed before the pre-authorized code is invalidated.
pub const MAX_TX_CODE_ATTEMPTS: u32 = 5;

/// The `request_uri` prefix of PAR (RFC 9126 §2.2).
const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Largest request body handled.
const MAX_BODY: usize = 256 * 1024;

/// One credential configuration the issuer offers (an SD-JWT VC of one type).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SdJwtVcConfiguration {
    /// Its id in `credential_configurations_supported`.
    pub id: String,
    /// Its `vct`.
    pub vct: Vct,
    /// Its OAuth scope (HAIP §4.2: every configuration has one).
    pub scope: String,
    /// Display name.
    pub display_name: Option<String>,
}

impl SdJwtVcConfiguration {
    /// A configuration `id` issuing `vct`, requested with `scope`.
    #[must_use]
    pub fn new(id: impl Into<String>, vct: Vct, scope: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            vct,
            scope: scope.into(),
            display_name: None,
        }
    }
}

/// Status list references for new credentials: one fresh random index per copy.
pub trait StatusAllocator: Send + Sync + fmt::Debug {
    /// The `status` claim for one new credential issued for the offer the caller labelled
    /// `reference` ([`OfferRequest::reference`]), so that the issuer can later revoke what
    /// that offer produced.
    ///
    /// # Errors
    /// When the list is full or cannot be persisted.
    fn allocate(
        &self,
        reference: Option<&str>,
        rng: &dyn RandomSource,
    ) -> Result<Map<String, Value>>;
}

impl StatusAllocator for Mutex<IssuerStatusList> {
    fn allocate(
        &self,
        _reference: Option<&str>,
        rng: &dyn RandomSource,
    ) -> Result<Map<String, Value>> {
        let mut list = self
            .lock()
            .map_err(|_| crate::error::WalletError::Storage("status list poisoned".into()))?;
        Ok(list.allocate(rng)?.1)
    }
}

/// Builds the credential for one holder key from the claims an offer (or authorization)
/// carried. credkit's issuer adds what the protocol fixes afterwards: `iss`, the holder key
/// (`cnf`), `x5c`, a fresh status reference; the factory decides the rest (which claims are
/// selectively disclosable, Type Metadata, decoys, validity).
pub trait CredentialFactory: Send + Sync + fmt::Debug {
    /// The builder for `configuration` with `claims`, issued at `now`.
    ///
    /// # Errors
    /// Claims that do not fit the credential type.
    fn builder(
        &self,
        configuration: &SdJwtVcConfiguration,
        claims: &Map<String, Value>,
        now: i64,
    ) -> Result<VcBuilder>;

    /// Whether the credential can be issued now; `false` defers it (§9: the wallet gets a
    /// `transaction_id` and polls the deferred endpoint, which asks again).
    ///
    /// # Errors
    /// When the issuer can no longer issue (`credential_request_denied`).
    fn ready(
        &self,
        configuration: &SdJwtVcConfiguration,
        claims: &Map<String, Value>,
    ) -> Result<bool> {
        let _ = (configuration, claims);
        Ok(true)
    }
}

/// The default [`CredentialFactory`]: every claim (recursively) selectively disclosable,
/// `iat` rounded down to the hour (so that copies issued together do not differ by their
/// time, ATTACKS VCI-89), valid for `lifetime` seconds.
#[derive(Debug, Clone, Copy)]
pub struct DiscloseAll {
    /// Seconds of validity.
    pub lifetime: i64,
}

impl CredentialFactory for DiscloseAll {
    fn builder(
        &self,
        configuration: &SdJwtVcConfiguration,
        claims: &Map<String, Value>,
        now: i64,
    ) -> Result<VcBuilder> {
        let issued_at = now - now.rem_euclid(3600);
        Ok(VcBuilder::new(configuration.vct.clone(), claims.clone())
            .issued_at(issued_at)
            .expires_at(issued_at + self.lifetime)
            .disclose_all_claims())
    }
}

/// Decides an authorization request that arrived at `/authorize` (the user-facing step).
pub trait Authorizer: Send + Sync + fmt::Debug {
    /// The claims to issue for `request`, or `None` to deny (`access_denied`).
    ///
    /// # Errors
    /// Store failures.
    fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<Option<Map<String, Value>>>;
}

/// What the [`Authorizer`] decides on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizationRequest<'a> {
    /// The client.
    pub client_id: &'a str,
    /// The configurations asked for.
    pub configuration_ids: &'a [String],
    /// The offer's `issuer_state`, untrusted (§5.1.3): it may have been injected.
    pub issuer_state: Option<&'a str>,
    /// The claims an offer with this `issuer_state` was made for, when it is live (the
    /// state is then consumed).
    pub offer_claims: Option<Map<String, Value>>,
    /// The configurations that offer covered.
    pub offer_configurations: Vec<String>,
}

/// The built-in [`Authorizer`]: grants exactly what an offer's `issuer_state` covers (the
/// user was authenticated when the offer was made), and denies everything else.
#[derive(Debug, Clone, Copy, Default)]
pub struct IssuerStateAuthorizer;

impl Authorizer for IssuerStateAuthorizer {
    fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<Option<Map<String, Value>>> {
        let Some(claims) = &request.offer_claims else {
            return Ok(None);
        };
        let covered = request
            .configuration_ids
            .iter()
            .all(|c| request.offer_configurations.contains(c));
        Ok(covered.then(|| claims.clone()))
    }
}

/// How the issuer behaves.
#[derive(Clone)]
#[non_exhaustive]
pub struct IssuerConfig {
    /// The Credential Issuer Identifier (also the AS issuer).
    pub issuer_id: String,
    /// Signs credentials.
    pub signer: Arc<dyn Signer>,
    /// The signer's certificate chain (leaf first), sent as `x5c`.
    pub x5c: Option<Vec<Vec<u8>>>,
    /// What is offered.
    pub configurations: Vec<SdJwtVcConfiguration>,
    /// Most proofs (credentials) per request; 1 turns batch issuance off.
    pub batch_size: usize,
    /// Whether a pre-authorized code may be redeemed without client authentication (§12.3).
    pub pre_authorized_anonymous: bool,
    /// Client attestation required at PAR and token endpoints (HAIP §4.4.1).
    pub client_attestation: Option<AttestationPolicy>,
    /// Whether DPoP proofs must carry a server nonce (RFC 9449 §8, §9).
    pub dpop_nonces: bool,
    /// DPoP proof policy.
    pub dpop: DpopPolicy,
    /// Proof `alg`s accepted (`proof_signing_alg_values_supported`).
    pub proof_algorithms: Vec<Algorithm>,
    /// Seconds an offer (its pre-authorized code or `issuer_state`) stays redeemable.
    pub offer_lifetime: i64,
    /// Seconds an access token lives (≤ 300 unless sender-constrained; DPoP always is).
    pub token_lifetime: i64,
    /// Seconds a `c_nonce` or DPoP nonce lives.
    pub nonce_lifetime: i64,
    /// Builds each credential (default: [`DiscloseAll`] for one year).
    pub factory: Arc<dyn CredentialFactory>,
    /// Status list references, one per copy.
    pub status: Option<Arc<dyn StatusAllocator>>,
    /// Decides `/authorize`.
    pub authorizer: Arc<dyn Authorizer>,
    /// The P-256 key (with a `kid`) wallets encrypt credential requests to (§10,
    /// `credential_request_encryption`); with it the issuer also encrypts responses to the
    /// wallet's key (`credential_response_encryption`).
    pub encryption_key: Option<PrivateJwk>,
    /// Whether credential requests and responses must be encrypted.
    pub encryption_required: bool,
    /// Key attestations in `jwt` proofs (Appendix D), checked when present and required
    /// with `required`.
    pub key_attestation: Option<KeyAttestationPolicy>,
    /// Serve signed metadata (§12.2.3, signed with `signer` and `x5c`) to wallets that
    /// accept `application/jwt`.
    pub signed_metadata: bool,
}

/// What the issuer accepts as key attestations (OpenID4VCI Appendix D, HAIP §4.5.1).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeyAttestationPolicy {
    /// Who may sign key attestations (HAIP: an `x5c` chain to the wallet providers' or
    /// platforms' anchors).
    pub trust: Arc<dyn crate::sd_jwt_vc::IssuerTrust>,
    /// Whether every proof must carry one (`key_attestations_required`).
    pub required: bool,
    /// Accepted `key_storage` levels (empty: any).
    pub key_storage: Vec<String>,
    /// Accepted `user_authentication` levels (empty: any).
    pub user_authentication: Vec<String>,
}

impl KeyAttestationPolicy {
    /// Attestations signed under `trust`, required, any level.
    #[must_use]
    pub fn new(trust: Arc<dyn crate::sd_jwt_vc::IssuerTrust>) -> Self {
        Self {
            trust,
            required: true,
            key_storage: Vec::new(),
            user_authentication: Vec::new(),
        }
    }
}

/// The `typ` of a key attestation (Appendix D.1).
pub const KEY_ATTESTATION_TYP: &str = "key-attestation+jwt";

impl fmt::Debug for IssuerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerConfig")
            .field("issuer_id", &self.issuer_id)
            .field("configurations", &self.configurations)
            .field("batch_size", &self.batch_size)
            .field("client_attestation", &self.client_attestation.is_some())
            .field("dpop_nonces", &self.dpop_nonces)
            .finish_non_exhaustive()
    }
}

impl IssuerConfig {
    /// An issuer `issuer_id` signing with `signer`, offering `configurations`, batches of up
    /// to 10, anonymous pre-authorized access, DPoP (without nonces), ES256 proofs, offers
    /// valid 10 minutes, tokens and nonces 5 minutes, credentials one year.
    ///
    /// # Errors
    /// `invalid_metadata` for an identifier that is not a valid Credential Issuer Identifier.
    pub fn new(
        issuer_id: &str,
        signer: Arc<dyn Signer>,
        configurations: Vec<SdJwtVcConfiguration>,
    ) -> Result<Self> {
        check_issuer_id(issuer_id)?;
        Ok(Self {
            issuer_id: issuer_id.to_owned(),
            signer,
            x5c: None,
            configurations,
            batch_size: 10,
            pre_authorized_anonymous: true,
            client_attestation: None,
            dpop_nonces: false,
            dpop: DpopPolicy::default(),
            proof_algorithms: vec![Algorithm::Es256],
            offer_lifetime: 600,
            token_lifetime: 300,
            nonce_lifetime: 300,
            factory: Arc::new(DiscloseAll {
                lifetime: 365 * 24 * 3600,
            }),
            status: None,
            authorizer: Arc::new(IssuerStateAuthorizer),
            encryption_key: None,
            encryption_required: false,
            key_attestation: None,
            signed_metadata: false,
        })
    }
}

/// A request as the HTTP layer received it.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct IssuerRequest<'a> {
    /// The method.
    pub method: Method,
    /// The path (no query), e.g. `/token`.
    pub path: &'a str,
    /// The raw query, without `?`.
    pub query: &'a str,
    /// The headers.
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

impl fmt::Debug for IssuerRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl<'a> IssuerRequest<'a> {
    /// A request.
    #[must_use]
    pub fn new(
        method: Method,
        path: &'a str,
        query: &'a str,
        headers: &'a [(String, String)],
        body: &'a [u8],
    ) -> Self {
        Self {
            method,
            path,
            query,
            headers,
            body,
        }
    }

    fn header_values(&self, name: &str) -> Vec<&'a str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The answer to send.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuerResponse {
    /// The status.
    pub status: u16,
    /// Headers (`Content-Type`, `Cache-Control`, `DPoP-Nonce`, `WWW-Authenticate`,
    /// `Location`).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for IssuerResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl IssuerResponse {
    fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Cache-Control".into(), "no-store".into()),
            ],
            body: body.to_string().into_bytes(),
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The value of header `name`.
    #[must_use]
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The OAuth `error` code of an error answer.
    #[must_use]
    pub fn error_code(&self) -> Option<String> {
        serde_json::from_slice::<Value>(&self.body)
            .ok()?
            .get("error")?
            .as_str()
            .map(str::to_owned)
    }
}

/// An OAuth error answer (RFC 6749 §5.2, RFC 6750 §3).
#[derive(Debug)]
struct Reject {
    status: u16,
    error: &'static str,
    description: String,
    www_authenticate: bool,
    dpop_nonce: bool,
}

impl Reject {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            www_authenticate: false,
            dpop_nonce: false,
        }
    }

    fn bad(error: &'static str, description: impl Into<String>) -> Self {
        Self::new(400, error, description)
    }

    /// A resource-server error (401 with `WWW-Authenticate: DPoP`, RFC 9449 §7.1).
    fn unauthorized(error: &'static str, description: impl Into<String>) -> Self {
        let mut r = Self::new(401, error, description);
        r.www_authenticate = true;
        r
    }
}

impl From<crate::Error> for Reject {
    fn from(e: crate::Error) -> Self {
        match e.code() {
            "invalid_dpop_proof" => Self::bad("invalid_dpop_proof", e.to_string()),
            "use_dpop_nonce" => {
                let mut r = Self::bad("use_dpop_nonce", "a DPoP nonce is required");
                r.dpop_nonce = true;
                r
            }
            "invalid_client_attestation" => Self::new(401, "invalid_client", e.to_string()),
            "use_attestation_challenge" => Self::bad("use_attestation_challenge", e.to_string()),
            // The store is down or busy: another node or a retry may succeed.
            "storage_failed" => Self::new(503, "server_error", "temporarily unavailable"),
            _ => Self::new(500, "server_error", "internal error"),
        }
    }
}

type Handled = std::result::Result<IssuerResponse, Reject>;

/// The offer record behind a pre-authorized code or an `issuer_state`.
#[derive(serde::Serialize, serde::Deserialize)]
struct OfferRecord {
    configurations: Vec<String>,
    claims: Map<String, Value>,
    #[serde(default)]
    reference: Option<String>,
    tx_code: Option<String>,
    attempts: u32,
    expires_at: i64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ParRecord {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    state: Option<String>,
    configurations: Vec<String>,
    details_used: bool,
    issuer_state: Option<String>,
    dpop_jkt: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CodeRecord {
    #[serde(default)]
    reference: Option<String>,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    configurations: Vec<String>,
    details_used: bool,
    dpop_jkt: Option<String>,
    claims: Map<String, Value>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct DeferredRecord {
    #[serde(default)]
    reference: Option<String>,
    token_key: String,
    configuration: String,
    keys: Vec<Map<String, Value>>,
    claims: Map<String, Value>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct TokenRecord {
    #[serde(default)]
    reference: Option<String>,
    jkt: String,
    client_id: Option<String>,
    configurations: Vec<String>,
    details_used: bool,
    claims: Map<String, Value>,
}

/// What to offer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OfferRequest {
    /// The configurations offered.
    pub configuration_ids: Vec<String>,
    /// The subject's claims (personal data: the store holds them until redemption).
    pub claims: Map<String, Value>,
    /// Pre-authorized code (with or without a transaction code) or authorization code.
    pub grant: OfferGrant,
    /// Serve the offer at `credential_offer_uri` instead of by value.
    pub by_reference: bool,
    /// The caller's label for this offer (its own id), handed to the
    /// [`StatusAllocator`] with every credential the offer produces.
    pub reference: Option<String>,
}

impl OfferRequest {
    /// An offer of `configuration_ids` for the subject with `claims`, by value.
    #[must_use]
    pub fn new(
        configuration_ids: Vec<String>,
        claims: Map<String, Value>,
        grant: OfferGrant,
    ) -> Self {
        Self {
            configuration_ids,
            claims,
            grant,
            by_reference: false,
            reference: None,
        }
    }

    /// Labelled `reference` (see [`OfferRequest::reference`]).
    #[must_use]
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }

    /// Served by reference (`credential_offer_uri`).
    #[must_use]
    pub fn by_reference(mut self) -> Self {
        self.by_reference = true;
        self
    }
}

/// The grant of a new offer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OfferGrant {
    /// Pre-authorized code; with `tx_code`, a numeric Transaction Code of that many digits
    /// is made and returned.
    PreAuthorized {
        /// Digits of the Transaction Code, if one is required.
        tx_code_digits: Option<u32>,
        /// Shown to the user with the code prompt.
        tx_code_description: Option<String>,
    },
    /// Authorization code, with an `issuer_state` that the built-in authorizer redeems.
    AuthorizationCode,
}

/// A new offer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CreatedOffer {
    /// The link to hand to the wallet (`openid-credential-offer://…`).
    pub uri: String,
    /// The offer.
    pub offer: CredentialOffer,
    /// The Transaction Code, to send the user by another channel.
    pub tx_code: Option<Secret>,
    /// When the offer stops being redeemable.
    pub expires_at: i64,
}

/// The issuer.
#[derive(Clone)]
pub struct Issuer {
    config: IssuerConfig,
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn RandomSource>,
    provider: &'static dyn CryptoProvider,
    path: String,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn random(rng: &dyn RandomSource) -> Result<Secret> {
    Secret::generate(rng)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| {
        crate::error::EncodingError::Json {
            what: "issuer state",
            reason: e.to_string(),
        }
        .into()
    })
}

fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        crate::error::EncodingError::Json {
            what: "issuer state",
            reason: e.to_string(),
        }
        .into()
    })
}

impl Issuer {
    /// An issuer with `config`, state in `store`.
    #[must_use]
    pub fn new(
        config: IssuerConfig,
        store: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn RandomSource>,
    ) -> Self {
        let path = config
            .issuer_id
            .strip_prefix("https://")
            .and_then(|r| r.find('/').map(|i| r[i..].to_owned()))
            .unwrap_or_default();
        Self {
            config,
            store,
            clock,
            rng,
            provider: default_provider(),
            path,
        }
    }

    /// Uses `provider` for signature checks.
    #[must_use]
    pub fn provider(mut self, provider: &'static dyn CryptoProvider) -> Self {
        self.provider = provider;
        self
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &IssuerConfig {
        &self.config
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}{endpoint}", self.config.issuer_id)
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The Credential Issuer Metadata (§12.2.4).
    #[must_use]
    pub fn metadata(&self) -> Value {
        let mut configs = Map::new();
        for c in &self.config.configurations {
            let algs: Vec<&str> = self
                .config
                .proof_algorithms
                .iter()
                .map(|a| a.name())
                .collect();
            let mut jwt = json!({"proof_signing_alg_values_supported": algs});
            if let (Some(ka), Some(o)) = (&self.config.key_attestation, jwt.as_object_mut())
                && ka.required
            {
                let mut req = Map::new();
                if !ka.key_storage.is_empty() {
                    req.insert("key_storage".into(), json!(ka.key_storage));
                }
                if !ka.user_authentication.is_empty() {
                    req.insert("user_authentication".into(), json!(ka.user_authentication));
                }
                o.insert("key_attestations_required".into(), Value::Object(req));
            }
            let mut entry = json!({
                "format": FORMAT_SD_JWT_VC,
                "vct": c.vct.as_str(),
                "scope": c.scope,
                "cryptographic_binding_methods_supported": ["jwk"],
                "credential_signing_alg_values_supported": [self.config.signer.algorithm().name()],
                "proof_types_supported": {"jwt": jwt},
            });
            if let (Some(name), Some(o)) = (&c.display_name, entry.as_object_mut()) {
                o.insert(
                    "credential_metadata".into(),
                    json!({"display": [{"name": name}]}),
                );
            }
            configs.insert(c.id.clone(), entry);
        }
        let mut m = json!({
            "credential_issuer": self.config.issuer_id,
            "credential_endpoint": self.url("/credential"),
            "nonce_endpoint": self.url("/nonce"),
            "deferred_credential_endpoint": self.url("/deferred"),
            "notification_endpoint": self.url("/notification"),
            "credential_configurations_supported": configs,
        });
        if let (Some(key), Some(o)) = (&self.config.encryption_key, m.as_object_mut()) {
            let mut jwk = key.public().minimal_json();
            if let Some(kid) = key.public().kid() {
                jwk.insert("kid".into(), kid.into());
            }
            jwk.insert("alg".into(), jwe::ECDH_ES.into());
            jwk.insert("use".into(), "enc".into());
            let encs: Vec<&str> = jwe::ContentEncryption::ALL
                .iter()
                .map(|e| e.name())
                .collect();
            o.insert(
                "credential_request_encryption".into(),
                json!({"jwks": {"keys": [jwk]}, "enc_values_supported": encs, "encryption_required": self.config.encryption_required}),
            );
            o.insert(
                "credential_response_encryption".into(),
                json!({"alg_values_supported": [jwe::ECDH_ES], "enc_values_supported": encs, "encryption_required": self.config.encryption_required}),
            );
        }
        if self.config.batch_size >= 2
            && let Some(o) = m.as_object_mut()
        {
            o.insert(
                "batch_credential_issuance".into(),
                json!({"batch_size": self.config.batch_size}),
            );
        }
        m
    }

    /// The metadata as a signed JWT (§12.2.3): every parameter a top-level claim, `sub` the
    /// Credential Issuer Identifier, `iat`, and `x5c` in the header when configured.
    fn signed_metadata(&self) -> Handled {
        let Value::Object(mut claims) = self.metadata() else {
            return Err(Reject::new(500, "server_error", "metadata"));
        };
        claims.insert("sub".into(), self.config.issuer_id.clone().into());
        claims.insert("iat".into(), self.now().into());
        let header = self.config.x5c.as_ref().map(|chain| {
            let mut h = Map::new();
            h.insert(
                "x5c".into(),
                chain
                    .iter()
                    .map(|c| Value::from(crate::b64::encode_std(c)))
                    .collect(),
            );
            h
        });
        let jwt = crate::oauth::sign_jwt(
            &*self.config.signer,
            super::wallet::SIGNED_METADATA_TYP,
            false,
            header,
            &claims,
        )?;
        Ok(IssuerResponse {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/jwt".into()),
                ("Cache-Control".into(), "no-store".into()),
            ],
            body: jwt.into_bytes(),
        })
    }

    /// The Authorization Server Metadata (RFC 8414 §2; RFC 9126 §5, RFC 9449 §5.1, RFC 9207
    /// §3, OpenID4VCI §12.3, ABCA-07 §10.1).
    #[must_use]
    pub fn as_metadata(&self) -> Value {
        let dpop_algs: Vec<&str> = self
            .config
            .dpop
            .algorithms
            .iter()
            .map(|a| a.name())
            .collect();
        let mut m = json!({
            "issuer": self.config.issuer_id,
            "authorization_endpoint": self.url("/authorize"),
            "token_endpoint": self.url("/token"),
            "pushed_authorization_request_endpoint": self.url("/par"),
            "require_pushed_authorization_requests": true,
            "response_types_supported": ["code"],
            "grant_types_supported": [GRANT_AUTHORIZATION_CODE, GRANT_PRE_AUTHORIZED],
            "code_challenge_methods_supported": [pkce::S256],
            "dpop_signing_alg_values_supported": dpop_algs,
            "authorization_response_iss_parameter_supported": true,
            "pre-authorized_grant_anonymous_access_supported": self.config.pre_authorized_anonymous,
            "scopes_supported": self.config.configurations.iter().map(|c| c.scope.clone()).collect::<Vec<_>>(),
            "authorization_details_types_supported": [AUTHORIZATION_DETAILS_TYPE],
        });
        if let (Some(p), Some(o)) = (&self.config.client_attestation, m.as_object_mut()) {
            let algs: Vec<&str> = p.algorithms.iter().map(|a| a.name()).collect();
            o.insert(
                "token_endpoint_auth_methods_supported".into(),
                json!([client_attestation::AUTH_METHOD]),
            );
            o.insert(
                "client_attestation_signing_alg_values_supported".into(),
                json!(algs),
            );
            o.insert(
                "client_attestation_pop_signing_alg_values_supported".into(),
                json!(algs),
            );
        } else if let Some(o) = m.as_object_mut() {
            o.insert(
                "token_endpoint_auth_methods_supported".into(),
                json!(["none"]),
            );
        }
        m
    }

    /// Makes an offer (the issuer's own management step: the subject was authenticated by
    /// the caller).
    ///
    /// # Errors
    /// `invalid_offer` for unknown or no configurations; store and RNG errors.
    pub fn create_offer(&self, request: &OfferRequest) -> Result<CreatedOffer> {
        if request.configuration_ids.is_empty() {
            return Err(Oid4vciError::InvalidOffer("no configuration offered".into()).into());
        }
        for id in &request.configuration_ids {
            if !self.config.configurations.iter().any(|c| &c.id == id) {
                return Err(
                    Oid4vciError::InvalidOffer(format!("unknown configuration {id:?}")).into(),
                );
            }
        }
        let now = self.now();
        let expires_at = now + self.config.offer_lifetime;
        let (pre_authorized, authorization_code, tx_code) = match &request.grant {
            OfferGrant::PreAuthorized {
                tx_code_digits,
                tx_code_description,
            } => {
                let code = random(&*self.rng)?;
                let tx = match tx_code_digits {
                    Some(d) => Some(numeric_code(*d, &*self.rng)?),
                    None => None,
                };
                self.store_offer(KIND_OFFER, &code, request, tx.as_ref(), expires_at, now)?;
                let grant = PreAuthorizedGrant {
                    code,
                    tx_code: tx_code_digits
                        .map(|d| TxCodeSpec::numeric(d, tx_code_description.clone())),
                    authorization_server: None,
                };
                (Some(grant), None, tx)
            }
            OfferGrant::AuthorizationCode => {
                let state = random(&*self.rng)?;
                self.store_offer(KIND_ISSUER_STATE, &state, request, None, expires_at, now)?;
                let grant = AuthorizationCodeGrant {
                    issuer_state: Some(state.expose().to_owned()),
                    authorization_server: None,
                };
                (None, Some(grant), None)
            }
        };
        let offer = CredentialOffer {
            credential_issuer: self.config.issuer_id.clone(),
            credential_configuration_ids: request.configuration_ids.clone(),
            pre_authorized,
            authorization_code,
        };
        let uri = if request.by_reference {
            let id = crate::rand::id(&*self.rng)?;
            let body = offer.to_json().to_string();
            self.store
                .insert(KIND_OFFER_URI, &id, body.as_bytes(), expires_at, now)?;
            super::offer::offer_reference_uri(
                super::offer::OFFER_SCHEME,
                &self.url(&format!("/offers/{id}")),
            )
        } else {
            offer.to_uri(super::offer::OFFER_SCHEME)
        };
        Ok(CreatedOffer {
            uri,
            offer,
            tx_code,
            expires_at,
        })
    }

    /// Stores what an offer's `secret` (pre-authorized code or `issuer_state`) redeems.
    fn store_offer(
        &self,
        kind: &str,
        secret: &Secret,
        request: &OfferRequest,
        tx_code: Option<&Secret>,
        expires_at: i64,
        now: i64,
    ) -> Result<()> {
        let record = OfferRecord {
            configurations: request.configuration_ids.clone(),
            claims: request.claims.clone(),
            reference: request.reference.clone(),
            tx_code: tx_code.map(|t| secret_key(t.expose())),
            attempts: 0,
            expires_at,
        };
        self.store.insert(
            kind,
            &secret_key(secret.expose()),
            &to_json(&record)?,
            expires_at,
            now,
        )?;
        Ok(())
    }

    /// Handles one request. Never panics; failures are OAuth error answers.
    #[must_use]
    pub fn handle(&self, request: &IssuerRequest<'_>) -> IssuerResponse {
        let result = if request.body.len() > MAX_BODY {
            Err(Reject::new(
                413,
                "invalid_request",
                "the request body is too large",
            ))
        } else {
            self.route(request)
        };
        match result {
            Ok(r) => r,
            Err(r) => self.reject(&r),
        }
    }

    fn reject(&self, r: &Reject) -> IssuerResponse {
        let mut body = json!({"error": r.error});
        let description = sanitize_description(&r.description);
        if !description.is_empty()
            && let Some(o) = body.as_object_mut()
        {
            o.insert("error_description".into(), description.into());
        }
        let mut resp = IssuerResponse::json(r.status, &body);
        if r.www_authenticate {
            let algs: Vec<&str> = self
                .config
                .dpop
                .algorithms
                .iter()
                .map(|a| a.name())
                .collect();
            resp = resp.header(
                "WWW-Authenticate",
                format!("DPoP error=\"{}\", algs=\"{}\"", r.error, algs.join(" ")),
            );
        }
        if r.dpop_nonce {
            match self.new_dpop_nonce() {
                Ok(n) => resp = resp.header("DPoP-Nonce", n),
                Err(_) => return IssuerResponse::json(500, &json!({"error": "server_error"})),
            }
        }
        resp
    }

    fn route(&self, req: &IssuerRequest<'_>) -> Handled {
        let well_known_issuer = format!("{}{}", super::metadata::ISSUER_WELL_KNOWN, self.path);
        let well_known_as = format!("{}{}", super::metadata::AS_WELL_KNOWN, self.path);
        let local = req.path.strip_prefix(self.path.as_str()).unwrap_or("");
        if req.path == well_known_issuer {
            only(req, Method::Get)?;
            let wants_jwt = req.header_values("Accept").iter().any(|a| {
                a.split(',')
                    .any(|m| m.trim().starts_with("application/jwt"))
            });
            if self.config.signed_metadata && wants_jwt {
                return self.signed_metadata();
            }
            return Ok(IssuerResponse::json(200, &self.metadata()));
        }
        if req.path == well_known_as {
            return only(req, Method::Get).map(|()| IssuerResponse::json(200, &self.as_metadata()));
        }
        if query_has(req.query, "access_token") {
            // RFC 6750 §2.3 is not supported: tokens never travel in URLs (ATTACKS VCI-40).
            return Err(Reject::bad(
                "invalid_request",
                "access tokens are not accepted in the query",
            ));
        }
        match local {
            "/token" => only(req, Method::Post).and_then(|()| self.token(req)),
            "/nonce" => only(req, Method::Post).and_then(|()| self.nonce()),
            "/credential" => only(req, Method::Post)
                .and_then(|()| self.with_encryption(req, |body| self.credential(req, body))),
            "/deferred" => only(req, Method::Post)
                .and_then(|()| self.with_encryption(req, |body| self.deferred(req, body))),
            "/notification" => only(req, Method::Post).and_then(|()| self.notification(req)),
            "/par" => only(req, Method::Post).and_then(|()| self.par(req)),
            "/authorize" => only(req, Method::Get).and_then(|()| self.authorize(req)),
            p if p.starts_with("/offers/") => only(req, Method::Get)
                .and_then(|()| self.offer_by_reference(&p["/offers/".len()..])),
            _ => Err(Reject::new(404, "not_found", "no such endpoint")),
        }
    }

    fn offer_by_reference(&self, id: &str) -> Handled {
        let body = self
            .store
            .get(KIND_OFFER_URI, id, self.now())?
            .ok_or_else(|| Reject::new(404, "not_found", "no such offer"))?;
        Ok(IssuerResponse {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Cache-Control".into(), "no-store".into()),
            ],
            body,
        })
    }

    fn new_dpop_nonce(&self) -> Result<String> {
        let n = crate::b64::encode(&crate::rand::bytes(&*self.rng, 16)?);
        let now = self.now();
        self.store.insert(
            KIND_DPOP_NONCE,
            &n,
            b"",
            now + self.config.nonce_lifetime,
            now,
        )?;
        Ok(n)
    }

    fn dpop_nonce_ok(&self, n: &str) -> bool {
        n.len() <= 64 && matches!(self.store.get(KIND_DPOP_NONCE, n, self.now()), Ok(Some(_)))
    }

    /// Verifies the request's DPoP proof.
    fn check_dpop(
        &self,
        req: &IssuerRequest<'_>,
        endpoint: &str,
        access_token: Option<&str>,
        bound: Option<&str>,
    ) -> Result<dpop::VerifiedDpop> {
        let url = self.url(endpoint);
        let ok = |n: &str| self.dpop_nonce_ok(n);
        let rule = if self.config.dpop_nonces {
            NonceRule::Required(&ok)
        } else {
            NonceRule::NotRequired
        };
        let request = DpopRequest {
            method: req.method,
            url: &url,
            access_token,
            bound_jkt: bound,
            nonce: rule,
        };
        dpop::verify(
            &req.header_values("DPoP"),
            &request,
            &self.config.dpop,
            self.now(),
            self.provider,
            &*self.store,
        )
    }

    /// Authenticates the client by attestation when configured.
    fn check_client(
        &self,
        req: &IssuerRequest<'_>,
        form: &Map<String, Value>,
    ) -> std::result::Result<Option<String>, Reject> {
        let Some(policy) = &self.config.client_attestation else {
            return Ok(None);
        };
        let client = client_attestation::verify(
            &req.header_values(client_attestation::ATTESTATION_HEADER),
            &req.header_values(client_attestation::POP_HEADER),
            &self.config.issuer_id,
            None,
            policy,
            self.now(),
            self.provider,
            &*self.store,
        )
        .map_err(|e| match e.code() {
            "invalid_client_attestation" => Reject::new(401, "invalid_client", e.to_string()),
            _ => Reject::from(e),
        })?;
        if let Some(id) = form.get("client_id").and_then(Value::as_str)
            && id != client.client_id
        {
            return Err(Reject::new(
                401,
                "invalid_client",
                "client_id is not the attestation's sub",
            ));
        }
        Ok(Some(client.client_id))
    }

    fn token(&self, req: &IssuerRequest<'_>) -> Handled {
        let form = parse_form(req)?;
        let field = |n: &str| form.get(n).and_then(Value::as_str);
        let client = self.check_client(req, &form)?;
        let grant = field("grant_type")
            .ok_or_else(|| Reject::bad("invalid_request", "grant_type is required"))?;
        if grant != GRANT_PRE_AUTHORIZED && form.contains_key("tx_code") {
            return Err(Reject::bad(
                "invalid_request",
                "tx_code is only for the pre-authorized code grant",
            ));
        }
        let now = self.now();
        let (record, proof) = match grant {
            GRANT_PRE_AUTHORIZED => {
                let code = field("pre-authorized_code").ok_or_else(|| {
                    Reject::bad("invalid_request", "pre-authorized_code is required")
                })?;
                if client.is_none() && !self.config.pre_authorized_anonymous {
                    return Err(Reject::new(
                        401,
                        "invalid_client",
                        "client authentication is required",
                    ));
                }
                let proof = self.check_dpop(req, "/token", None, None)?;
                let key = secret_key(code);
                let raw = self.store.get(KIND_OFFER, &key, now)?.ok_or_else(|| {
                    Reject::bad(
                        "invalid_grant",
                        "the pre-authorized code is unknown, used or expired",
                    )
                })?;
                let offer: OfferRecord = from_json(&raw)?;
                match (&offer.tx_code, field("tx_code")) {
                    (None, Some(_)) => {
                        return Err(Reject::bad(
                            "invalid_request",
                            "this offer has no transaction code",
                        ));
                    }
                    (Some(_), None) => {
                        return Err(Reject::bad("invalid_request", "tx_code is required"));
                    }
                    (Some(expected), Some(given)) => {
                        if !crate::openid4vp::verifier::same_secret(expected, &secret_key(given)) {
                            self.count_failed_attempt(&key, &raw, offer, now)?;
                            return Err(Reject::bad(
                                "invalid_grant",
                                "the transaction code is wrong",
                            ));
                        }
                    }
                    (None, None) => {}
                }
                let raw = self.store.take(KIND_OFFER, &key, now)?.ok_or_else(|| {
                    Reject::bad("invalid_grant", "the pre-authorized code was used")
                })?;
                let offer: OfferRecord = from_json(&raw)?;
                let (configurations, details_used) =
                    self.token_details(&form, &offer.configurations)?;
                (
                    TokenRecord {
                        reference: offer.reference,
                        jkt: proof.jkt.clone(),
                        client_id: client,
                        configurations,
                        details_used,
                        claims: offer.claims,
                    },
                    proof,
                )
            }
            GRANT_AUTHORIZATION_CODE => {
                let code = field("code")
                    .ok_or_else(|| Reject::bad("invalid_request", "code is required"))?;
                let key = secret_key(code);
                let unknown = || {
                    Reject::bad(
                        "invalid_grant",
                        "the authorization code is unknown, used or expired",
                    )
                };
                let raw = self.store.get(KIND_CODE, &key, now)?.ok_or_else(unknown)?;
                let c: CodeRecord = from_json(&raw)?;
                let client_id = client
                    .clone()
                    .or_else(|| field("client_id").map(str::to_owned));
                // Every failed redemption uses the code up (RFC 9700 §4.5: a code presented
                // with the wrong client, redirect URI or verifier may be an injected one),
                // except a request for a fresh DPoP nonce, which the client answers at once.
                let burn = |r: Reject| -> Reject {
                    let _ = self.store.take(KIND_CODE, &key, now);
                    r
                };
                if client_id.as_deref() != Some(c.client_id.as_str()) {
                    return Err(burn(Reject::bad(
                        "invalid_grant",
                        "the code was issued to another client",
                    )));
                }
                if field("redirect_uri") != Some(c.redirect_uri.as_str()) {
                    return Err(burn(Reject::bad(
                        "invalid_grant",
                        "redirect_uri does not match",
                    )));
                }
                let verifier = field("code_verifier")
                    .ok_or_else(|| Reject::bad("invalid_grant", "code_verifier is required"))
                    .and_then(|v| {
                        CodeVerifier::parse(v)
                            .map_err(|e| Reject::bad("invalid_grant", e.to_string()))
                    })
                    .map_err(burn)?;
                verifier
                    .verify(&c.code_challenge)
                    .map_err(|e| burn(Reject::bad("invalid_grant", e.to_string())))?;
                let proof = match self.check_dpop(req, "/token", None, c.dpop_jkt.as_deref()) {
                    Ok(p) => p,
                    Err(e) if e.code() == "use_dpop_nonce" => return Err(e.into()),
                    Err(e) => return Err(burn(e.into())),
                };
                self.store.take(KIND_CODE, &key, now)?.ok_or_else(unknown)?;
                (
                    TokenRecord {
                        reference: c.reference,
                        jkt: proof.jkt.clone(),
                        client_id,
                        configurations: c.configurations,
                        details_used: c.details_used,
                        claims: c.claims,
                    },
                    proof,
                )
            }
            _ => {
                return Err(Reject::bad(
                    "unsupported_grant_type",
                    "unsupported grant_type",
                ));
            }
        };
        let _ = proof;
        let token = random(&*self.rng)?;
        let expires = now + self.config.token_lifetime;
        self.store.insert(
            KIND_TOKEN,
            &secret_key(token.expose()),
            &to_json(&record)?,
            expires,
            now,
        )?;
        let mut body = json!({
            "access_token": token.expose(),
            "token_type": "DPoP",
            "expires_in": self.config.token_lifetime,
        });
        if record.details_used
            && let Some(o) = body.as_object_mut()
        {
            let details: Vec<Value> = record
                .configurations
                .iter()
                .map(|c| json!({"type": AUTHORIZATION_DETAILS_TYPE, "credential_configuration_id": c, "credential_identifiers": [c]}))
                .collect();
            o.insert("authorization_details".into(), Value::Array(details));
        }
        let mut resp = IssuerResponse::json(200, &body);
        if self.config.dpop_nonces {
            resp = resp.header("DPoP-Nonce", self.new_dpop_nonce()?);
        }
        Ok(resp)
    }

    fn count_failed_attempt(
        &self,
        key: &str,
        raw: &[u8],
        mut offer: OfferRecord,
        now: i64,
    ) -> Result<()> {
        offer.attempts += 1;
        if offer.attempts >= MAX_TX_CODE_ATTEMPTS {
            // Locked (errata §13.6.3; ATTACKS VCI-32): the code is gone.
            self.store.take(KIND_OFFER, key, now)?;
        } else {
            // A concurrent guess may have updated it first; that one counted.
            let new = to_json(&offer)?;
            self.store
                .replace(KIND_OFFER, key, raw, &new, offer.expires_at, now)?;
        }
        Ok(())
    }

    /// The configurations a token covers: the `authorization_details` of the token request
    /// (a subset of what was offered; VCI-38), else all offered.
    fn token_details(
        &self,
        form: &Map<String, Value>,
        offered: &[String],
    ) -> std::result::Result<(Vec<String>, bool), Reject> {
        let Some(details) = form.get("authorization_details").and_then(Value::as_str) else {
            return Ok((offered.to_vec(), false));
        };
        let ids = self.parse_details(details)?;
        if ids.iter().any(|i| !offered.contains(i)) {
            return Err(Reject::bad(
                "invalid_authorization_details",
                "a configuration that was not offered",
            ));
        }
        Ok((ids, true))
    }

    fn parse_details(&self, text: &str) -> std::result::Result<Vec<String>, Reject> {
        let bad = |m: &str| Reject::bad("invalid_authorization_details", m.to_owned());
        let v: Value = crate::json::parse(text.as_bytes(), 8, "authorization_details")
            .map_err(|e| bad(&e.to_string()))?;
        let arr = v
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| bad("authorization_details must be a non-empty array"))?;
        let mut ids = Vec::new();
        for d in arr {
            if d.get("type").and_then(Value::as_str) != Some(AUTHORIZATION_DETAILS_TYPE) {
                continue;
            }
            let id = d
                .get("credential_configuration_id")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("credential_configuration_id is required"))?;
            if !self.config.configurations.iter().any(|c| c.id == id) {
                return Err(bad("unknown credential_configuration_id"));
            }
            if let Some(locations) = d.get("locations") {
                let ok = locations.as_array().is_some_and(|l| {
                    l.iter()
                        .any(|x| x.as_str() == Some(self.config.issuer_id.as_str()))
                });
                if !ok {
                    return Err(bad("locations does not name this issuer"));
                }
            }
            if !ids.iter().any(|i: &String| i == id) {
                ids.push(id.to_owned());
            }
        }
        if ids.is_empty() {
            return Err(bad("no openid_credential authorization details"));
        }
        Ok(ids)
    }

    fn nonce(&self) -> Handled {
        let n = crate::b64::encode(&crate::rand::bytes(&*self.rng, 32)?);
        let now = self.now();
        self.store
            .insert(KIND_C_NONCE, &n, b"", now + self.config.nonce_lifetime, now)?;
        let mut resp = IssuerResponse::json(200, &json!({"c_nonce": n}));
        if self.config.dpop_nonces {
            resp = resp.header("DPoP-Nonce", self.new_dpop_nonce()?);
        }
        Ok(resp)
    }

    /// Authenticates a resource request (RFC 9449 §7): `Authorization: DPoP <token>` and a
    /// proof with `ath`, bound to the token's key.
    fn resource_token(
        &self,
        req: &IssuerRequest<'_>,
        endpoint: &str,
    ) -> std::result::Result<(String, TokenRecord), Reject> {
        let auth = req.header_values("Authorization");
        let [auth] = auth.as_slice() else {
            return Err(Reject::unauthorized(
                "invalid_token",
                "one Authorization header is required",
            ));
        };
        let token = match auth.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("DPoP") => t.trim(),
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("Bearer") => {
                // RFC 9449 §7.2: a DPoP-bound token sent as Bearer (ATTACKS VCI-43).
                return Err(Reject::unauthorized(
                    "invalid_token",
                    "the access token is DPoP-bound",
                ));
            }
            _ => {
                return Err(Reject::unauthorized(
                    "invalid_token",
                    "the DPoP authorization scheme is required",
                ));
            }
        };
        let raw = self
            .store
            .get(KIND_TOKEN, &secret_key(token), self.now())?
            .ok_or_else(|| {
                Reject::unauthorized("invalid_token", "the access token is unknown or expired")
            })?;
        let record: TokenRecord = from_json(&raw)?;
        match self.check_dpop(req, endpoint, Some(token), Some(&record.jkt)) {
            Ok(_) => {}
            Err(e) if e.code() == "use_dpop_nonce" => {
                let mut r = Reject::unauthorized("use_dpop_nonce", "a DPoP nonce is required");
                r.dpop_nonce = true;
                return Err(r);
            }
            Err(e) if e.code() == "invalid_dpop_proof" => {
                return Err(Reject::unauthorized("invalid_dpop_proof", e.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
        Ok((secret_key(token), record))
    }

    /// The body of a credential or deferred request, decrypted when it came as a JWE (§10),
    /// and the answer, encrypted to the wallet's `credential_response_encryption` key when
    /// it asked for one (§8.3). Error answers are never encrypted.
    fn with_encryption(
        &self,
        req: &IssuerRequest<'_>,
        f: impl FnOnce(Map<String, Value>) -> Handled,
    ) -> Handled {
        let (body, encrypted) = self.request_body(req)?;
        let response_key = self.response_key(&body, encrypted)?;
        let answer = f(body)?;
        match response_key {
            Some((jwk, enc)) if matches!(answer.status, 200 | 202) => {
                let options = match jwk.kid() {
                    Some(kid) => EncryptOptions::default().kid(kid),
                    None => EncryptOptions::default(),
                };
                let jwe =
                    jwe::encrypt(&jwk, enc, &options, &answer.body, self.provider, &*self.rng)?;
                Ok(IssuerResponse {
                    status: answer.status,
                    headers: vec![
                        ("Content-Type".into(), "application/jwt".into()),
                        ("Cache-Control".into(), "no-store".into()),
                    ],
                    body: jwe.into_bytes(),
                })
            }
            _ => Ok(answer),
        }
    }

    fn request_body(
        &self,
        req: &IssuerRequest<'_>,
    ) -> std::result::Result<(Map<String, Value>, bool), Reject> {
        let bad = |m: &str| Reject::bad("invalid_encryption_parameters", m.to_owned());
        if content_type(req) != Some("application/jwt") {
            if self.config.encryption_required {
                // §10: a plaintext request where encryption is required (our policy: MUST).
                return Err(bad("this issuer requires encrypted credential requests"));
            }
            return Ok((parse_json_body(req)?, false));
        }
        let key = self
            .config
            .encryption_key
            .as_ref()
            .ok_or_else(|| bad("this issuer does not accept encrypted requests"))?;
        let text = std::str::from_utf8(req.body).map_err(|_| bad("the JWE is not UTF-8"))?;
        let decrypted = jwe::Decrypter::new(vec![key.clone()])
            .provider(self.provider)
            .decrypt_compact(text.trim())
            .map_err(|e| bad(&e.to_string()))?;
        let body = crate::json::parse_object(&decrypted.plaintext, 16, "credential request")
            .map_err(|e| Reject::bad("invalid_credential_request", e.to_string()))?;
        Ok((body, true))
    }

    /// The wallet's response encryption key and `enc` (§8.2), checked against what this
    /// issuer supports (`invalid_encryption_parameters`, ATTACKS VCI-78).
    fn response_key(
        &self,
        body: &Map<String, Value>,
        encrypted: bool,
    ) -> std::result::Result<Option<(PublicJwk, jwe::ContentEncryption)>, Reject> {
        let bad = |m: &str| Reject::bad("invalid_encryption_parameters", m.to_owned());
        let Some(spec) = body.get("credential_response_encryption") else {
            if self.config.encryption_required {
                return Err(bad("credential_response_encryption is required"));
            }
            return Ok(None);
        };
        if !encrypted {
            // Only valid inside an encrypted request (§8.2): in plaintext it may have been
            // put there or swapped by someone on the way (ATTACKS VCI-76).
            return Err(Reject::bad(
                "invalid_credential_request",
                "credential_response_encryption in a plaintext request",
            ));
        }
        let spec = spec
            .as_object()
            .ok_or_else(|| bad("credential_response_encryption must be an object"))?;
        if spec.contains_key("zip") {
            return Err(bad("compression is not supported"));
        }
        let jwk = spec
            .get("jwk")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("credential_response_encryption.jwk is required"))?;
        if jwk.get("alg").and_then(Value::as_str) != Some(jwe::ECDH_ES) {
            return Err(bad("the jwk must name alg ECDH-ES"));
        }
        let key = PublicJwk::from_json_for_encryption(jwk).map_err(|e| bad(&e.to_string()))?;
        let enc = spec
            .get("enc")
            .and_then(Value::as_str)
            .and_then(jwe::ContentEncryption::from_name)
            .ok_or_else(|| bad("enc must be A128GCM or A256GCM"))?;
        Ok(Some((key, enc)))
    }

    fn credential(&self, req: &IssuerRequest<'_>, body: Map<String, Value>) -> Handled {
        let (token_key, token) = self.resource_token(req, "/credential")?;
        let bad = |m: &str| Reject::bad("invalid_credential_request", m.to_owned());
        if body.contains_key("format") || body.contains_key("proof") {
            return Err(bad("pre-1.0 parameters (format, proof) are not accepted"));
        }
        let config_id = match (
            body.get("credential_identifier").map(Value::as_str),
            body.get("credential_configuration_id").map(Value::as_str),
        ) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "credential_identifier and credential_configuration_id are exclusive",
                ));
            }
            (Some(Some(id)), None) => {
                if !token.details_used || !token.configurations.iter().any(|c| c == id) {
                    return Err(Reject::bad(
                        "unknown_credential_identifier",
                        "not a credential identifier of this token",
                    ));
                }
                id.to_owned()
            }
            (None, Some(Some(id))) => {
                if token.details_used {
                    return Err(bad(
                        "this token has credential identifiers: send credential_identifier",
                    ));
                }
                if !self.config.configurations.iter().any(|c| c.id == id) {
                    return Err(Reject::bad(
                        "unknown_credential_configuration",
                        "unknown credential_configuration_id",
                    ));
                }
                if !token.configurations.iter().any(|c| c == id) {
                    return Err(Reject::new(
                        403,
                        "insufficient_scope",
                        "the token does not cover this configuration",
                    ));
                }
                id.to_owned()
            }
            _ => {
                return Err(bad(
                    "credential_identifier or credential_configuration_id is required",
                ));
            }
        };
        let config = self
            .config
            .configurations
            .iter()
            .find(|c| c.id == config_id)
            .ok_or_else(|| {
                Reject::bad("unknown_credential_configuration", "unknown configuration")
            })?;
        let keys = self.check_proofs(&body, &token)?;
        if !self
            .config
            .factory
            .ready(config, &token.claims)
            .map_err(|e| Reject::bad("credential_request_denied", e.to_string()))?
        {
            // Deferred (§9): the keys are fixed now and bound, with the token, to the
            // transaction id (ATTACKS VCI-86: no key substitution at redemption).
            let tx = random(&*self.rng)?;
            let record = DeferredRecord {
                reference: token.reference.clone(),
                token_key: token_key.clone(),
                configuration: config.id.clone(),
                keys: keys.iter().map(PublicJwk::minimal_json).collect(),
                claims: token.claims.clone(),
            };
            let now = self.now();
            self.store.insert(
                KIND_DEFERRED,
                &secret_key(tx.expose()),
                &to_json(&record)?,
                now + DEFERRED_LIFETIME,
                now,
            )?;
            return Ok(IssuerResponse::json(
                202,
                &json!({"transaction_id": tx.expose(), "interval": DEFERRED_INTERVAL}),
            ));
        }
        self.issue_for(
            config,
            &token.claims,
            keys,
            &token_key,
            token.reference.as_deref(),
        )
    }

    /// Issues one credential per key and records the notification id for the token.
    fn issue_for(
        &self,
        config: &SdJwtVcConfiguration,
        claims: &Map<String, Value>,
        keys: Vec<PublicJwk>,
        token_key: &str,
        reference: Option<&str>,
    ) -> Handled {
        let now = self.now();
        let mut credentials = Vec::with_capacity(keys.len());
        for key in keys {
            let mut b = self
                .config
                .factory
                .builder(config, claims, now)
                .map_err(|e| Reject::bad("credential_request_denied", e.to_string()))?
                .issuer(self.config.issuer_id.clone())
                .holder_key(key);
            if let Some(chain) = &self.config.x5c {
                b = b.x5c(chain.clone());
            }
            if let Some(status) = &self.config.status {
                b = b.status(status.allocate(reference, &*self.rng)?);
            }
            let sd_jwt = b.issue(&*self.config.signer, &*self.rng)?;
            credentials.push(json!({"credential": sd_jwt.to_string()}));
        }
        let notification_id = crate::rand::id(&*self.rng)?;
        self.store.insert(
            KIND_NOTIFICATION,
            &notification_id,
            token_key.as_bytes(),
            now + self.config.token_lifetime.max(3600),
            now,
        )?;
        Ok(IssuerResponse::json(
            200,
            &json!({"credentials": credentials, "notification_id": notification_id}),
        ))
    }

    /// Checks the `proofs` of a credential request (§8.2, F.1, F.4) and consumes their
    /// `c_nonce`; returns the holder keys.
    fn check_proofs(
        &self,
        body: &Map<String, Value>,
        token: &TokenRecord,
    ) -> std::result::Result<Vec<PublicJwk>, Reject> {
        let structure = |m: &str| Reject::bad("invalid_credential_request", m.to_owned());
        let invalid = |m: &str| Reject::bad("invalid_proof", m.to_owned());
        let proofs = body
            .get("proofs")
            .ok_or_else(|| invalid("proofs are required"))?;
        let proofs = proofs
            .as_object()
            .ok_or_else(|| structure("proofs must be an object"))?;
        if proofs.len() != 1 {
            return Err(structure("proofs must have exactly one proof type"));
        }
        let jwts = proofs
            .get("jwt")
            .ok_or_else(|| structure("only the jwt proof type is supported"))?
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| structure("proofs.jwt must be a non-empty array"))?;
        if jwts.len() > self.config.batch_size.max(1) {
            return Err(structure("more proofs than batch_size"));
        }
        let now = self.now();
        let mut nonce: Option<String> = None;
        let mut keys: Vec<PublicJwk> = Vec::with_capacity(jwts.len());
        let mut thumbprints = BTreeSet::new();
        for p in jwts {
            let text = p
                .as_str()
                .ok_or_else(|| invalid("a proof is not a string"))?;
            let (key, n) = self.check_proof(text, token, now)?;
            match &nonce {
                None => nonce = Some(n),
                Some(first) if *first != n => {
                    return Err(Reject::bad(
                        "invalid_nonce",
                        "the proofs of one request must carry one c_nonce",
                    ));
                }
                Some(_) => {}
            }
            if !thumbprints.insert(key.thumbprint(HashAlg::Sha256)) {
                return Err(invalid("two proofs use the same key"));
            }
            keys.push(key);
        }
        let nonce = nonce.ok_or_else(|| invalid("no proof"))?;
        if self.store.take(KIND_C_NONCE, &nonce, now)?.is_none() {
            return Err(Reject::bad("invalid_nonce", "the c_nonce was already used"));
        }
        Ok(keys)
    }

    fn check_proof(
        &self,
        text: &str,
        token: &TokenRecord,
        now: i64,
    ) -> std::result::Result<(PublicJwk, String), Reject> {
        let invalid = |m: &str| Reject::bad("invalid_proof", m.to_owned());
        if text.len() > 8192 {
            return Err(invalid("the proof is too large"));
        }
        let jws = Jws::parse_compact(text).map_err(|e| invalid(&format!("not a JWS: {e}")))?;
        if jws.typ() != Some(PROOF_TYP) {
            return Err(invalid("typ must be openid4vci-proof+jwt"));
        }
        let alg = jws
            .require_alg(&self.config.proof_algorithms)
            .map_err(|e| invalid(&format!("alg: {e}")))?;
        check_crit(jws.header(), &[]).map_err(|e| invalid(&e.to_string()))?;
        let h = jws.header();
        let hints = ["jwk", "kid", "x5c"]
            .iter()
            .filter(|k| h.contains_key(**k))
            .count();
        if hints != 1 {
            return Err(invalid("exactly one of jwk, kid and x5c is required"));
        }
        if h.contains_key("trust_chain") && !h.contains_key("kid") {
            return Err(invalid("trust_chain needs kid"));
        }
        let jwk = h
            .get("jwk")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("this issuer binds to jwk keys only"))?;
        if jwk.contains_key("d") {
            return Err(invalid("the header jwk holds a private key"));
        }
        let key = PublicJwk::from_json(jwk).map_err(|e| invalid(&format!("jwk: {e}")))?;
        let verifying = self
            .provider
            .verifying_key(&key, alg)
            .map_err(|e| invalid(&format!("jwk: {e}")))?;
        jws.verify(&*verifying, &self.config.proof_algorithms)
            .map_err(|_| invalid("the signature does not verify"))?;
        let claims = jws.payload_json(8).map_err(|e| invalid(&e.to_string()))?;
        if claims.get("aud").and_then(Value::as_str) != Some(self.config.issuer_id.as_str()) {
            return Err(invalid("aud must be the Credential Issuer Identifier"));
        }
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or_else(|| invalid("iat must be a NumericDate"))?;
        if iat > now + 60 || iat < now - 300 {
            return Err(invalid("iat is outside the accepted window"));
        }
        if let Some(exp) = claims.get("exp")
            && exp.as_i64().is_none_or(|e| e <= now)
        {
            return Err(invalid("the proof has expired"));
        }
        match (claims.get("iss"), &token.client_id) {
            (Some(iss), Some(client)) if iss.as_str() != Some(client.as_str()) => {
                return Err(invalid("iss is not the client_id"));
            }
            // After anonymous pre-authorized access `iss` must be omitted (F.1); wallets
            // that send it anyway are tolerated, the value is ignored.
            _ => {}
        }
        let nonce = claims
            .get("nonce")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("nonce is required: this issuer has a Nonce Endpoint"))?;
        self.check_key_attestation(jws.header(), &key, nonce, now)?;
        if nonce.len() > 128 || self.store.get(KIND_C_NONCE, nonce, now)?.is_none() {
            return Err(Reject::bad(
                "invalid_nonce",
                "the c_nonce is unknown, used or expired",
            ));
        }
        Ok((key, nonce.to_owned()))
    }

    /// The `key_attestation` of a proof header (Appendix D.1, F.1; ATTACKS VCI-71…74):
    /// `typ`, an allowed `alg`, a trusted signer, `iat`, an unexpired `exp` (required with
    /// `jwt` proofs), distinct `attested_keys` that include the proof's key, the proof's
    /// nonce when it carries one, and the accepted levels.
    fn check_key_attestation(
        &self,
        header: &Map<String, Value>,
        proof_key: &PublicJwk,
        nonce: &str,
        now: i64,
    ) -> std::result::Result<(), Reject> {
        let invalid = |m: &str| Reject::bad("invalid_proof", m.to_owned());
        let Some(policy) = &self.config.key_attestation else {
            return Ok(());
        };
        let Some(text) = header.get("key_attestation") else {
            if policy.required {
                return Err(invalid("a key attestation is required"));
            }
            return Ok(());
        };
        let text = text
            .as_str()
            .filter(|t| t.len() <= 16 * 1024)
            .ok_or_else(|| invalid("key_attestation must be a JWT"))?;
        let jws =
            Jws::parse_compact(text).map_err(|e| invalid(&format!("key attestation: {e}")))?;
        if jws.typ() != Some(KEY_ATTESTATION_TYP) {
            return Err(invalid(
                "the key attestation's typ is not key-attestation+jwt",
            ));
        }
        jws.require_alg(&self.config.proof_algorithms)
            .map_err(|e| invalid(&format!("key attestation alg: {e}")))?;
        check_crit(jws.header(), &[]).map_err(|e| invalid(&e.to_string()))?;
        let claims = jws
            .payload_json(16)
            .map_err(|e| invalid(&format!("key attestation: {e}")))?;
        let found = policy
            .trust
            .issuer_keys(&jws, &claims)
            .map_err(|e| invalid(&format!("key attestation signer: {e}")))?;
        if !found
            .keys
            .iter()
            .any(|k| jws.verify(&**k, &self.config.proof_algorithms).is_ok())
        {
            return Err(invalid("the key attestation's signature does not verify"));
        }
        if claims.get("iat").and_then(Value::as_i64).is_none() {
            return Err(invalid("the key attestation needs iat"));
        }
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp > now => {}
            Some(_) => return Err(invalid("the key attestation has expired")),
            None => return Err(invalid("a key attestation in a jwt proof needs exp")),
        }
        if let Some(n) = claims.get("nonce")
            && n.as_str() != Some(nonce)
        {
            return Err(Reject::bad(
                "invalid_nonce",
                "the key attestation's nonce is not the proof's c_nonce",
            ));
        }
        let attested = claims
            .get("attested_keys")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| invalid("attested_keys must be a non-empty array"))?;
        let mut thumbprints = BTreeSet::new();
        let mut covered = false;
        for k in attested {
            let k = k
                .as_object()
                .filter(|k| !k.contains_key("d"))
                .ok_or_else(|| invalid("an attested key is not a public JWK"))?;
            let k = PublicJwk::from_json(k).map_err(|e| invalid(&format!("attested key: {e}")))?;
            if !thumbprints.insert(k.thumbprint(HashAlg::Sha256)) {
                return Err(invalid("attested_keys lists a key twice"));
            }
            covered |= k.same_key(proof_key);
        }
        if !covered {
            return Err(invalid("the proof's key is not among the attested keys"));
        }
        let level_ok = |name: &str, accepted: &[String]| {
            accepted.is_empty()
                || claims.get(name).and_then(Value::as_array).is_some_and(|v| {
                    v.iter()
                        .any(|l| l.as_str().is_some_and(|l| accepted.iter().any(|a| a == l)))
                })
        };
        if !level_ok("key_storage", &policy.key_storage)
            || !level_ok("user_authentication", &policy.user_authentication)
        {
            return Err(invalid("the key attestation's levels are not accepted"));
        }
        Ok(())
    }

    fn deferred(&self, req: &IssuerRequest<'_>, body: Map<String, Value>) -> Handled {
        let (token_key, _) = self.resource_token(req, "/deferred")?;
        let unknown = || Reject::bad("invalid_transaction_id", "unknown transaction_id");
        let tx = body
            .get("transaction_id")
            .and_then(Value::as_str)
            .filter(|t| t.len() <= 256)
            .ok_or_else(unknown)?;
        let key = secret_key(tx);
        let now = self.now();
        let raw = self
            .store
            .get(KIND_DEFERRED, &key, now)?
            .ok_or_else(unknown)?;
        let record: DeferredRecord = from_json(&raw)?;
        // Bound to the token that started it (ATTACKS VCI-84, VCI-86).
        if !crate::openid4vp::verifier::same_secret(&record.token_key, &token_key) {
            return Err(unknown());
        }
        let config = self
            .config
            .configurations
            .iter()
            .find(|c| c.id == record.configuration)
            .ok_or_else(unknown)?;
        if !self
            .config
            .factory
            .ready(config, &record.claims)
            .map_err(|e| Reject::bad("credential_request_denied", e.to_string()))?
        {
            return Ok(IssuerResponse::json(
                202,
                &json!({"transaction_id": tx, "interval": DEFERRED_INTERVAL}),
            ));
        }
        // Delivered once (§8.3, VCI-85): a concurrent redemption loses here.
        self.store
            .take(KIND_DEFERRED, &key, now)?
            .ok_or_else(unknown)?;
        let keys = record
            .keys
            .iter()
            .map(PublicJwk::from_json)
            .collect::<Result<Vec<_>>>()?;
        self.issue_for(
            config,
            &record.claims,
            keys,
            &token_key,
            record.reference.as_deref(),
        )
    }

    fn notification(&self, req: &IssuerRequest<'_>) -> Handled {
        let (token_key, _) = self.resource_token(req, "/notification")?;
        let body = parse_json_body(req)
            .map_err(|_| Reject::bad("invalid_notification_request", "malformed"))?;
        let id = body
            .get("notification_id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Reject::bad(
                    "invalid_notification_request",
                    "notification_id is required",
                )
            })?;
        let event = body.get("event").and_then(Value::as_str);
        if !matches!(
            event,
            Some("credential_accepted" | "credential_failure" | "credential_deleted")
        ) {
            return Err(Reject::bad("invalid_notification_request", "unknown event"));
        }
        let bound = self
            .store
            .get(KIND_NOTIFICATION, id, self.now())?
            .ok_or_else(|| Reject::bad("invalid_notification_id", "unknown notification_id"))?;
        if bound != token_key.as_bytes() {
            return Err(Reject::bad(
                "invalid_notification_id",
                "the notification_id belongs to another token",
            ));
        }
        Ok(IssuerResponse {
            status: 204,
            headers: vec![("Cache-Control".into(), "no-store".into())],
            body: Vec::new(),
        })
    }

    fn par(&self, req: &IssuerRequest<'_>) -> Handled {
        let form = parse_form(req)?;
        let field = |n: &str| form.get(n).and_then(Value::as_str);
        let bad = |m: &str| Reject::bad("invalid_request", m.to_owned());
        let attested = self.check_client(req, &form)?;
        let attested_client = attested.is_some();
        if form.contains_key("request_uri") {
            return Err(bad(
                "request_uri is not allowed in a pushed request (RFC 9126 §2.1)",
            ));
        }
        if form.contains_key("request") {
            return Err(bad("request objects are not supported"));
        }
        let client_id = attested
            .or_else(|| field("client_id").map(str::to_owned))
            .ok_or_else(|| bad("client_id is required"))?;
        if field("response_type") != Some("code") {
            return Err(Reject::bad(
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        let redirect_uri = field("redirect_uri").ok_or_else(|| bad("redirect_uri is required"))?;
        // RFC 9126 §7.2: only an authenticated client may bring a new web redirect URI
        // (ATTACKS VCI-26); public clients use the native-app forms of RFC 8252.
        if !acceptable_redirect(redirect_uri, attested_client) {
            return Err(bad(
                "redirect_uri must be a loopback http URL or a private-use scheme (https needs client attestation)",
            ));
        }
        let challenge =
            pkce::check_challenge(field("code_challenge"), field("code_challenge_method"))
                .map_err(|e| bad(&e.to_string()))?;
        let (configurations, details_used) = match (field("authorization_details"), field("scope"))
        {
            (Some(d), _) => (self.parse_details(d)?, true),
            (None, Some(scope)) => {
                let ids: Vec<String> = scope
                    .split(' ')
                    .filter_map(|s| self.config.configurations.iter().find(|c| c.scope == s))
                    .map(|c| c.id.clone())
                    .collect();
                if ids.is_empty() {
                    return Err(Reject::bad("invalid_scope", "no known scope"));
                }
                (ids, false)
            }
            (None, None) => return Err(bad("scope or authorization_details is required")),
        };
        let header_jkt = if req.header_values("DPoP").is_empty() {
            None
        } else {
            Some(self.check_dpop(req, "/par", None, None)?.jkt)
        };
        let dpop_jkt = match (header_jkt, field("dpop_jkt")) {
            (Some(h), Some(p)) if h != p => {
                return Err(bad("dpop_jkt is not the DPoP proof's key"));
            }
            (Some(h), _) => Some(h),
            (None, p) => p.map(str::to_owned),
        };
        let record = ParRecord {
            client_id,
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: challenge,
            state: field("state").map(str::to_owned),
            configurations,
            details_used,
            issuer_state: field("issuer_state").map(str::to_owned),
            dpop_jkt,
        };
        let now = self.now();
        let uri = format!("{REQUEST_URI_PREFIX}{}", random(&*self.rng)?.expose());
        self.store.insert(
            KIND_PAR,
            &secret_key(&uri),
            &to_json(&record)?,
            now + 60,
            now,
        )?;
        Ok(IssuerResponse::json(
            201,
            &json!({"request_uri": uri, "expires_in": 60}),
        ))
    }

    fn authorize(&self, req: &IssuerRequest<'_>) -> Handled {
        let mut q = Map::new();
        for (k, v) in form_urlencoded::parse(req.query.as_bytes()) {
            if q.insert(k.into_owned(), Value::String(v.into_owned()))
                .is_some()
            {
                return Err(Reject::bad("invalid_request", "a parameter appears twice"));
            }
        }
        let field = |n: &str| q.get(n).and_then(Value::as_str);
        let uri = field("request_uri").ok_or_else(|| {
            Reject::bad(
                "invalid_request",
                "this server requires pushed authorization requests",
            )
        })?;
        let now = self.now();
        let raw = self
            .store
            .take(KIND_PAR, &secret_key(uri), now)?
            .ok_or_else(|| {
                Reject::bad(
                    "invalid_request",
                    "the request_uri is unknown, used or expired",
                )
            })?;
        let par: ParRecord = from_json(&raw)?;
        if field("client_id") != Some(par.client_id.as_str()) {
            return Err(Reject::bad(
                "invalid_request",
                "the request_uri belongs to another client",
            ));
        }
        let offer = match &par.issuer_state {
            Some(s) => self
                .store
                .take(KIND_ISSUER_STATE, &secret_key(s), now)?
                .map(|raw| from_json::<OfferRecord>(&raw))
                .transpose()?,
            None => None,
        };
        let request = AuthorizationRequest {
            client_id: &par.client_id,
            configuration_ids: &par.configurations,
            issuer_state: par.issuer_state.as_deref(),
            offer_configurations: offer
                .as_ref()
                .map(|o| o.configurations.clone())
                .unwrap_or_default(),
            offer_claims: offer.as_ref().map(|o| o.claims.clone()),
        };
        let reference = offer.and_then(|o| o.reference);
        let decision = self.config.authorizer.authorize(&request)?;
        let mut params: Vec<(&str, String)> = Vec::new();
        match decision {
            Some(claims) => {
                let code = random(&*self.rng)?;
                let record = CodeRecord {
                    reference,
                    client_id: par.client_id.clone(),
                    redirect_uri: par.redirect_uri.clone(),
                    code_challenge: par.code_challenge.clone(),
                    configurations: par.configurations.clone(),
                    details_used: par.details_used,
                    dpop_jkt: par.dpop_jkt.clone(),
                    claims,
                };
                self.store.insert(
                    KIND_CODE,
                    &secret_key(code.expose()),
                    &to_json(&record)?,
                    now + 60,
                    now,
                )?;
                params.push(("code", code.expose().to_owned()));
            }
            None => {
                params.push(("error", "access_denied".to_owned()));
            }
        }
        if let Some(s) = &par.state {
            params.push(("state", s.clone()));
        }
        params.push(("iss", self.config.issuer_id.clone()));
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let sep = if par.redirect_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        let location = format!(
            "{}{sep}{}",
            par.redirect_uri,
            crate::oauth::form_encode(&pairs)
        );
        Ok(IssuerResponse {
            status: 302,
            headers: vec![
                ("Location".into(), location),
                ("Cache-Control".into(), "no-store".into()),
            ],
            body: Vec::new(),
        })
    }
}

fn only(req: &IssuerRequest<'_>, method: Method) -> std::result::Result<(), Reject> {
    if req.method == method {
        Ok(())
    } else {
        Err(Reject::new(405, "invalid_request", "method not allowed"))
    }
}

fn query_has(query: &str, name: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == name)
}

fn content_type<'a>(req: &IssuerRequest<'a>) -> Option<&'a str> {
    req.header_values("Content-Type")
        .first()
        .map(|c| c.split(';').next().unwrap_or("").trim())
}

fn parse_form(req: &IssuerRequest<'_>) -> std::result::Result<Map<String, Value>, Reject> {
    if content_type(req) != Some(crate::openid4vp::FORM_MEDIA_TYPE) {
        return Err(Reject::bad(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let text = std::str::from_utf8(req.body)
        .map_err(|_| Reject::bad("invalid_request", "the body is not UTF-8"))?;
    crate::openid4vp::parse_form(text).map_err(|e| Reject::bad("invalid_request", e.to_string()))
}

fn parse_json_body(req: &IssuerRequest<'_>) -> std::result::Result<Map<String, Value>, Reject> {
    if content_type(req) != Some("application/json") {
        return Err(Reject::bad(
            "invalid_credential_request",
            "the body must be application/json",
        ));
    }
    crate::json::parse_object(req.body, 16, "request body")
        .map_err(|e| Reject::bad("invalid_credential_request", e.to_string()))
}

/// Redirect URIs a client may bring through PAR: loopback `http` (RFC 8252 §7.3) and
/// private-use schemes with a dot (RFC 8252 §7.1); `https` only from an authenticated
/// client (RFC 9126 §7.2).
fn acceptable_redirect(uri: &str, authenticated: bool) -> bool {
    if uri.contains('#') || uri.len() > 2048 {
        return false;
    }
    if let Some(rest) = uri.strip_prefix("https://") {
        return authenticated
            && !rest.is_empty()
            && !rest.split('/').next().unwrap_or("").contains('@');
    }
    if let Some(rest) = uri.strip_prefix("http://") {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split_once(']').map_or("", |(h, _)| h),
            None => authority.split(':').next().unwrap_or(""),
        };
        return matches!(host, "127.0.0.1" | "::1" | "localhost");
    }
    match uri.split_once(':') {
        Some((scheme, _)) => {
            scheme.contains('.')
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
        }
        None => false,
    }
}

/// A numeric code of `digits` digits (uniform, by rejection sampling).
fn numeric_code(digits: u32, rng: &dyn RandomSource) -> Result<Secret> {
    let digits = digits.clamp(4, 12);
    let mut out = String::with_capacity(digits as usize);
    while out.len() < digits as usize {
        let mut b = [0u8; 1];
        rng.fill(&mut b)?;
        if b[0] < 250 {
            out.push(char::from(b'0' + b[0] % 10));
        }
    }
    Ok(Secret::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris() {
        for ok in [
            "http://127.0.0.1:4711/cb",
            "http://[::1]/cb",
            "com.example.wallet:/cb",
        ] {
            assert!(acceptable_redirect(ok, false), "{ok}");
        }
        // A web redirect only from an authenticated client (RFC 9126 §7.2, VCI-26).
        assert!(!acceptable_redirect("https://wallet.example/cb", false));
        assert!(acceptable_redirect("https://wallet.example/cb", true));
        for bad in [
            "http://wallet.example/cb",
            "https://a@b/cb",
            "javascript:alert(1)",
            "https://w/cb#x",
            "wallet:/cb",
        ] {
            assert!(!acceptable_redirect(bad, true), "{bad}");
        }
    }
}
