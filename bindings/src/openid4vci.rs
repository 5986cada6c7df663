//! OpenID4VCI 1.0 for apps: the wallet accepts a Credential Offer, the user goes through the
//! issuer's authorization page when the offer needs it, and the credentials are verified and
//! stored as one batch; an issuer app or test serves credkit's Credential Issuer.
//!
//! `Wallet.accept_offer` runs the flow until it needs the browser (authorization code
//! offers: `PendingIssuance::authorization_url`) or until the credentials arrived
//! (pre-authorized offers); `PendingIssuance::complete` takes the redirect URL (or
//! nothing), finishes, verifies with the wallet's issuer trust and stores. The pending value
//! can be saved (`PendingIssuance::save`, it holds the PKCE verifier and tokens: keep it in
//! encrypted storage) and restored with `Wallet.restore_issuance` after the app was killed.
//! Network calls go through the host's `HostAsyncHttpClient` (`suspend` in Kotlin, `async`
//! in Swift and Python), with credkit's URL rules.

use std::fmt;
use std::sync::{Arc, Mutex};

use credkit::crypto::Signer;
use credkit::http::{FetchPolicy, HttpRequest, HttpResponse, HttpsUrl};
use credkit::oauth::Secret;
use credkit::oauth::client_attestation::ClientAttestation;
use credkit::oauth::store::MemoryStateStore;
use credkit::openid4vci::issuer::{
    Issuer as CoreIssuer, IssuerConfig, IssuerRequest, OfferGrant, OfferRequest,
    SdJwtVcConfiguration,
};
use credkit::openid4vci::wallet::{Action, Env, Issuance, IssuanceOptions, Issued};
use credkit::rand::OsRandom;
use credkit::sd_jwt_vc::Vct;
use credkit::time::SystemClock;
use credkit::wallet::ManagedKey;
use serde_json::Value;

use crate::error::{CredkitError, Result};
use crate::guard;
use crate::openid4vp::{HostAsyncHttpClient, HttpExchange, HttpHeader, fetch_policy};
use crate::wallet::Wallet;

/// A Wallet Attestation from the app's wallet provider (HAIP 1.0 §4.4.1), for issuers that
/// require client attestation.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct WalletAttestation {
    /// The attestation JWT (`typ` `oauth-client-attestation+jwt`).
    pub jwt: String,
    /// The id, in the wallet's key manager, of the key its `cnf` names.
    pub key_id: String,
}

impl fmt::Debug for WalletAttestation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WalletAttestation")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The app's source of Wallet Attestations (its wallet provider's backend).
#[uniffi::export(with_foreign)]
pub trait HostWalletAttestation: Send + Sync {
    /// A fresh attestation for the authorization server `authorization_server` (a new one
    /// per issuer: HAIP forbids reuse across issuers).
    ///
    /// # Errors
    /// `Network` or `KeyUnavailable` when none can be had.
    fn attestation(&self, authorization_server: String) -> Result<WalletAttestation, CredkitError>;
}

/// The platform's key attestations (Android Key Attestation, iOS App Attest, or the wallet
/// provider's service), for issuers that require them (OpenID4VCI Appendix D, HAIP §4.5.1).
#[uniffi::export(with_foreign)]
pub trait HostKeyAttestation: Send + Sync {
    /// A `key-attestation+jwt` whose `attested_keys` are `public_keys_jwk` (the holder keys
    /// of one request, JWK JSON), with `nonce` (the issuer's `c_nonce`) when given; `None`
    /// when the platform cannot attest these keys.
    ///
    /// # Errors
    /// `Network` or `KeyUnavailable` when the attestation service fails.
    fn attest(
        &self,
        public_keys_jwk: Vec<String>,
        nonce: Option<String>,
    ) -> Result<Option<String>, CredkitError>;
}

/// [`HostKeyAttestation`] as core's `KeyAttestor`.
struct HostAttestor(Arc<dyn HostKeyAttestation>);

impl credkit::openid4vci::wallet::KeyAttestor for HostAttestor {
    fn attest(
        &self,
        keys: &[credkit::jose::PublicJwk],
        nonce: Option<&str>,
    ) -> credkit::Result<Option<String>> {
        let jwks = keys
            .iter()
            .map(|k| Value::Object(k.minimal_json()).to_string())
            .collect();
        self.0
            .attest(jwks, nonce.map(str::to_owned))
            .map_err(|e| credkit::error::WalletError::KeyUnavailable(e.to_string()).into())
    }
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssuedBatch {
    /// The batch id in the wallet.
    pub batch: String,
    /// How many copies.
    pub count: u32,
    /// `dc+sd-jwt`.
    pub format: String,
    /// The credential type.
    pub vct: Option<String>,
    /// The Credential Issuer Identifier.
    pub credential_issuer: String,
}

struct Saved {
    flow: Issuance,
    issued: Option<Issued>,
}

impl Saved {
    fn to_json(&self) -> std::result::Result<String, serde_json::Error> {
        Ok(serde_json::json!({
            "flow": serde_json::to_value(&self.flow)?,
            "issued": serde_json::to_value(&self.issued)?,
        })
        .to_string())
    }

    fn from_json(text: &str) -> std::result::Result<Self, serde_json::Error> {
        let mut v: serde_json::Map<String, Value> = serde_json::from_str(text)?;
        Ok(Self {
            flow: serde_json::from_value(v.remove("flow").unwrap_or_default())?,
            issued: serde_json::from_value(v.remove("issued").unwrap_or_default())?,
        })
    }
}

/// An issuance in progress, between `Wallet.accept_offer` and `PendingIssuance::complete`.
#[derive(uniffi::Object)]
pub struct PendingIssuance {
    wallet: Arc<Wallet>,
    http: Arc<dyn HostAsyncHttpClient>,
    attestation: Option<ClientAttestation>,
    key_attestation: Option<HostAttestor>,
    policy: FetchPolicy,
    state: Mutex<Option<Saved>>,
    credential_issuer: String,
    authorization_url: Option<String>,
}

impl fmt::Debug for PendingIssuance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingIssuance")
            .field("credential_issuer", &self.credential_issuer)
            .finish_non_exhaustive()
    }
}

fn misuse(m: &str) -> CredkitError {
    CredkitError::from(credkit::Error::from(
        credkit::error::Oid4vciError::FlowState(m.to_owned()),
    ))
}

/// Sends `request` through the host with credkit's URL rules; redirects come back as
/// responses (never followed), with the headers OpenID4VCI reads.
pub(crate) async fn send(
    http: &Arc<dyn HostAsyncHttpClient>,
    policy: &FetchPolicy,
    request: &HttpRequest,
) -> Result<HttpResponse> {
    let checked = HttpsUrl::parse(&request.url, policy)?;
    let mut content_type = None;
    let mut accept = None;
    let mut headers = Vec::new();
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.clone());
        } else if name.eq_ignore_ascii_case("accept") {
            accept = Some(value.clone());
        } else {
            headers.push(HttpHeader {
                name: name.clone(),
                value: value.clone(),
            });
        }
    }
    let reply = http
        .send(HttpExchange {
            method: request.method.as_str().to_owned(),
            url: checked.as_str().to_owned(),
            content_type,
            accept,
            body: request.body.clone(),
            max_bytes: u64::try_from(policy.max_bytes).unwrap_or(u64::MAX),
            timeout_ms: u64::try_from(policy.timeout.as_millis()).unwrap_or(u64::MAX),
            headers,
        })
        .await?;
    if reply
        .final_url
        .as_deref()
        .is_some_and(|u| u != checked.as_str())
    {
        return Err(CredkitError::from(credkit::Error::from(
            credkit::error::FetchError::Status(reply.status),
        )));
    }
    if reply.body.len() > policy.max_bytes {
        return Err(CredkitError::from(credkit::Error::from(
            credkit::error::FetchError::TooLarge(policy.max_bytes),
        )));
    }
    let mut response = HttpResponse::new(reply.status, reply.body);
    if let Some(c) = reply.content_type {
        response = response.with_content_type(c);
    }
    if let Some(l) = reply.location {
        response = response.with_location(l);
    }
    if let Some(c) = reply.cache_control {
        response = response.with_cache_control(c);
    }
    for h in reply.headers {
        response = response.with_header(&h.name, h.value);
    }
    Ok(response)
}

impl PendingIssuance {
    fn env<'a>(&'a self, keys: &'a Arc<dyn credkit::wallet::KeyManager>) -> Env<'a> {
        let env = Env::new(keys, self.attestation.as_ref(), &SystemClock, &OsRandom);
        match &self.key_attestation {
            Some(a) => env.key_attestation(a),
            None => env,
        }
    }

    /// Drives the flow until it needs the browser, the issuer deferred issuance
    /// (`Ok(Some(seconds))`), or the credentials are in.
    async fn drive(&self, saved: &mut Saved) -> Result<Option<u64>> {
        let keys = self.wallet.core().keys().clone();
        loop {
            let action = {
                let env = self.env(&keys);
                guard(|| Ok(saved.flow.next(&env)?))?
            };
            match action {
                Action::Send(req) => {
                    let resp = send(&self.http, &self.policy, &req).await?;
                    let env = self.env(&keys);
                    guard(|| Ok(saved.flow.receive(&req, resp, &env)?))?;
                }
                Action::Authorize(_) => return Ok(None),
                // Deferred issuance (§9): the app calls `complete` again after the interval
                // (never a sleep on the host's executor).
                Action::Wait(d) => return Ok(Some(d.as_secs())),
                Action::Done(issued) => {
                    saved.issued = Some(issued);
                    return Ok(None);
                }
                _ => return Err(misuse("unexpected step")),
            }
        }
    }

    fn abandon(&self, saved: &mut Saved) {
        let keys = self.wallet.core().keys().clone();
        let env = self.env(&keys);
        saved.flow.abandon(&env, &[]);
    }
}

#[uniffi::export]
impl PendingIssuance {
    /// The URL to open in the browser (authorization code offers); `None` when the offer
    /// was pre-authorized and `PendingIssuance::complete` needs no redirect.
    pub fn authorization_url(&self) -> Option<String> {
        self.authorization_url.clone()
    }

    /// The Credential Issuer Identifier (show it with the trust status, not only the
    /// issuer's display name: ATTACKS VCI-01).
    pub fn credential_issuer(&self) -> String {
        self.credential_issuer.clone()
    }

    /// The flow as JSON, to restore with `Wallet.restore_issuance`. It holds bearer secrets
    /// (PKCE verifier, tokens, codes): keep it in encrypted storage only.
    ///
    /// # Errors
    /// `InvalidInput` when the issuance already completed.
    pub fn save(&self) -> Result<String> {
        let state = self.state.lock().map_err(|_| misuse("poisoned"))?;
        let saved = state
            .as_ref()
            .ok_or_else(|| misuse("the issuance is finished"))?;
        saved.to_json().map_err(|e| misuse(&e.to_string()))
    }

    /// Finishes the issuance with the browser's `redirect_url` (authorization code offers;
    /// `None` for pre-authorized ones): the credentials are verified with the wallet's issuer
    /// trust and stored as one batch, and the issuer is notified. On any failure nothing is
    /// stored and the keys made for the flow are deleted.
    ///
    /// # Errors
    /// `UntrustedIssuer` (credentials or authorization server not trusted, `iss`
    /// mix-up), `InvalidInput` (the issuer refused, e.g. `invalid_grant`), `Malformed`,
    /// `Network`.
    pub async fn complete(&self, redirect_url: Option<String>) -> Result<IssuedBatch> {
        let mut saved = self
            .state
            .lock()
            .map_err(|_| misuse("poisoned"))?
            .take()
            .ok_or_else(|| misuse("the issuance is finished"))?;
        match self.finish(&mut saved, redirect_url).await {
            Err(Deferred(seconds)) => {
                // Kept as it is: call `complete` again after `seconds`.
                if let Ok(mut state) = self.state.lock() {
                    *state = Some(saved);
                }
                Err(misuse(&format!(
                    "issuance_deferred: the issuer asks to try again in {seconds} s"
                )))
            }
            Err(Failed(e)) => {
                self.abandon(&mut saved);
                Err(e)
            }
            Ok(batch) => Ok(batch),
        }
    }
}

/// Why `finish` stopped.
enum Stop {
    Deferred(u64),
    Failed(CredkitError),
}
use Stop::{Deferred, Failed};

impl From<CredkitError> for Stop {
    fn from(e: CredkitError) -> Self {
        Failed(e)
    }
}

impl PendingIssuance {
    async fn finish(
        &self,
        saved: &mut Saved,
        redirect_url: Option<String>,
    ) -> std::result::Result<IssuedBatch, Stop> {
        if saved.issued.is_none() {
            if saved.flow.authorization_url().is_some() {
                let url =
                    redirect_url.ok_or_else(|| misuse("this issuance needs the redirect URL"))?;
                guard(|| Ok(saved.flow.redirected(&url)?))?;
            }
            if let Some(seconds) = self.drive(saved).await? {
                return Err(Deferred(seconds));
            }
        }
        let issued = saved
            .issued
            .clone()
            .ok_or_else(|| misuse("no credentials"))?;
        let keys = self.wallet.core().keys().clone();
        let stored = guard(|| Ok(self.wallet.core().add_issued(&issued)?));
        let event = if stored.is_ok() {
            "credential_accepted"
        } else {
            "credential_failure"
        };
        let notifications = {
            let env = self.env(&keys);
            saved.flow.notification(event, &env).unwrap_or_default()
        };
        for n in notifications {
            // §11: the issuer must not depend on notifications; a failure changes nothing.
            let _ = send(&self.http, &self.policy, &n).await;
        }
        let batch = stored.map_err(Failed)?;
        let env = self.env(&keys);
        saved.flow.abandon(&env, &issued.key_ids);
        Ok(IssuedBatch {
            batch,
            count: u32::try_from(issued.credentials.len()).unwrap_or(u32::MAX),
            format: issued.format.clone(),
            vct: issued.vct.clone(),
            credential_issuer: issued.credential_issuer.clone(),
        })
    }
}

#[uniffi::export]
impl Wallet {
    /// Accepts a Credential Offer link (`openid-credential-offer://`, `haip-vci://`,
    /// `https:`): retrieves the offer and the issuer's metadata, and runs the grant up to
    /// the browser (authorization code: see `PendingIssuance::authorization_url`, with
    /// `redirect_uri` the app's registered redirect) or up to the credentials
    /// (pre-authorized, with the user's `tx_code`). `count` copies (holder keys) are asked
    /// for. Nothing is stored before `PendingIssuance::complete`.
    ///
    /// # Errors
    /// `Malformed` for an invalid offer or metadata, `UntrustedIssuer` for metadata of
    /// another issuer, `InvalidInput` when the issuer refuses (`invalid_grant` for a wrong
    /// transaction code), `Network`.
    #[uniffi::method(default(
        tx_code = None,
        count = 1,
        redirect_uri = None,
        attestation = None,
        key_attestation = None
    ))]
    pub async fn accept_offer(
        self: Arc<Self>,
        offer: String,
        tx_code: Option<String>,
        count: u32,
        redirect_uri: Option<String>,
        attestation: Option<Arc<dyn HostWalletAttestation>>,
        key_attestation: Option<Arc<dyn HostKeyAttestation>>,
    ) -> Result<Arc<PendingIssuance>> {
        let flow = guard(|| {
            let mut options = IssuanceOptions::default();
            options.tx_code = tx_code.map(Secret::new);
            options.count = usize::try_from(count).unwrap_or(usize::MAX);
            if let Some(r) = redirect_uri {
                options.redirect_uri = r;
            }
            Ok(Issuance::from_offer_uri(&offer, options)?)
        })?;
        self.pending(Saved { flow, issued: None }, attestation, key_attestation)
            .await
    }

    /// Restores an issuance saved with `PendingIssuance::save` (after the app was killed
    /// while the browser was open).
    ///
    /// # Errors
    /// `Malformed` for text that is not a saved issuance.
    #[uniffi::method(default(attestation = None, key_attestation = None))]
    pub async fn restore_issuance(
        self: Arc<Self>,
        saved: String,
        attestation: Option<Arc<dyn HostWalletAttestation>>,
        key_attestation: Option<Arc<dyn HostKeyAttestation>>,
    ) -> Result<Arc<PendingIssuance>> {
        let saved = Saved::from_json(&saved).map_err(|e| {
            CredkitError::from(credkit::Error::from(credkit::error::EncodingError::Json {
                what: "saved issuance",
                reason: e.to_string(),
            }))
        })?;
        self.pending(saved, attestation, key_attestation).await
    }
}

impl Wallet {
    async fn pending(
        self: Arc<Self>,
        mut saved: Saved,
        attestation: Option<Arc<dyn HostWalletAttestation>>,
        key_attestation: Option<Arc<dyn HostKeyAttestation>>,
    ) -> Result<Arc<PendingIssuance>> {
        let http = self.presentation_http()?;
        let policy = fetch_policy(self.verifier_trust());
        let attestation = match (attestation, saved.flow.offer()) {
            (Some(host), Some(offer)) => {
                let a = host.attestation(offer.credential_issuer.clone())?;
                let key = ManagedKey::new(self.core().keys().clone(), &a.key_id)?;
                let signer: Arc<dyn Signer> = Arc::new(key);
                Some(guard(|| Ok(ClientAttestation::new(&a.jwt, signer)?))?)
            }
            _ => None,
        };
        let mut pending = PendingIssuance {
            wallet: self,
            http,
            attestation,
            key_attestation: key_attestation.map(HostAttestor),
            policy,
            state: Mutex::new(None),
            credential_issuer: String::new(),
            authorization_url: None,
        };
        if saved.issued.is_none() && saved.flow.authorization_url().is_none() {
            // Run up to the browser or the credentials; a deferral is finished by `complete`.
            if let Err(e) = pending.drive(&mut saved).await {
                pending.abandon(&mut saved);
                return Err(e);
            }
        }
        pending.credential_issuer = saved
            .flow
            .offer()
            .map(|o| o.credential_issuer.clone())
            .unwrap_or_default();
        pending.authorization_url = saved.flow.authorization_url().map(str::to_owned);
        pending.state = Mutex::new(Some(saved));
        Ok(Arc::new(pending))
    }
}

// ---------------------------------------------------------------------------------------
// The issuer side
// ---------------------------------------------------------------------------------------

/// An HTTP request for `CredentialIssuerService::handle`.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssuerHttpRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The path, without query (`/token`).
    pub path: String,
    /// The raw query, without `?`.
    pub query: String,
    /// Every header.
    pub headers: Vec<HttpHeader>,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for IssuerHttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerHttpRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The answer to send back.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssuerHttpResponse {
    /// The status.
    pub status: u16,
    /// Headers to send.
    pub headers: Vec<HttpHeader>,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for IssuerHttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerHttpResponse")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A new offer.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssuerOffer {
    /// The link for the wallet (QR code, deep link).
    pub uri: String,
    /// The transaction code, to send by another channel.
    pub tx_code: Option<String>,
}

impl fmt::Debug for IssuerOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerOffer").finish_non_exhaustive()
    }
}

/// credkit's OpenID4VCI Credential Issuer with its own authorization server, state in
/// memory (one process): serve `CredentialIssuerService::handle` at the issuer's URL.
#[derive(uniffi::Object)]
pub struct CredentialIssuerService {
    inner: CoreIssuer,
}

impl fmt::Debug for CredentialIssuerService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialIssuerService")
            .finish_non_exhaustive()
    }
}

impl CredentialIssuerService {
    pub(crate) fn build(
        issuer_id: &str,
        signer: Arc<dyn Signer>,
        configuration_id: &str,
        vct: &str,
        batch_size: u32,
    ) -> Result<Arc<Self>> {
        let config = SdJwtVcConfiguration::new(configuration_id, Vct::new(vct)?, configuration_id);
        let mut c = IssuerConfig::new(issuer_id, signer, vec![config])?;
        c.batch_size = usize::try_from(batch_size.clamp(1, 100)).unwrap_or(1);
        c.dpop_nonces = true;
        Ok(Arc::new(Self {
            inner: CoreIssuer::new(
                c,
                Arc::new(MemoryStateStore::new()),
                Arc::new(SystemClock),
                Arc::new(OsRandom),
            ),
        }))
    }
}

#[uniffi::export]
impl CredentialIssuerService {
    /// Makes an offer for the subject with `claims_json` (a JSON object), pre-authorized
    /// (with a 6-digit transaction code when `tx_code`) or, with `authorization_code`,
    /// redeemed through the authorization endpoint by its `issuer_state`.
    ///
    /// # Errors
    /// `Malformed` for claims that are not a JSON object.
    pub fn create_offer(
        &self,
        claims_json: String,
        tx_code: bool,
        authorization_code: bool,
    ) -> Result<IssuerOffer> {
        guard(|| {
            let Value::Object(claims) = credkit::json::parse(claims_json.as_bytes(), 16, "claims")?
            else {
                return Err(CredkitError::invalid_input("claims must be a JSON object"));
            };
            let grant = if authorization_code {
                OfferGrant::AuthorizationCode
            } else {
                OfferGrant::PreAuthorized {
                    tx_code_digits: tx_code.then_some(6),
                    tx_code_description: None,
                }
            };
            let ids = self
                .inner
                .config()
                .configurations
                .iter()
                .map(|c| c.id.clone())
                .collect();
            let offer = self
                .inner
                .create_offer(&OfferRequest::new(ids, claims, grant))?;
            Ok(IssuerOffer {
                uri: offer.uri,
                tx_code: offer.tx_code.map(|t| t.expose().to_owned()),
            })
        })
    }

    /// Answers one HTTP request to the issuer.
    pub fn handle(&self, request: IssuerHttpRequest) -> IssuerHttpResponse {
        let method = if request.method.eq_ignore_ascii_case("POST") {
            credkit::http::Method::Post
        } else {
            credkit::http::Method::Get
        };
        let headers: Vec<(String, String)> = request
            .headers
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect();
        let r = guard(|| {
            Ok(self.inner.handle(&IssuerRequest::new(
                method,
                &request.path,
                &request.query,
                &headers,
                &request.body,
            )))
        });
        match r {
            Ok(r) => IssuerHttpResponse {
                status: r.status,
                headers: r
                    .headers
                    .into_iter()
                    .map(|(name, value)| HttpHeader { name, value })
                    .collect(),
                body: r.body,
            },
            Err(_) => IssuerHttpResponse {
                status: 500,
                headers: Vec::new(),
                body: br#"{"error":"server_error"}"#.to_vec(),
            },
        }
    }
}
