//! OpenID4VP 1.0 for apps: the wallet resolves an Authorization Request (an `openid4vp://`
//! / `haip-vp://` URL, or a W3C Digital Credentials API request with the calling origin),
//! shows who asks and what each candidate reveals, and responds with the user's choices;
//! the relying party creates requests and verifies the responses.
//!
//! The calls that wait on the network are `async` (Kotlin `suspend`, Swift `async`, Python
//! `async def`) and use the host's asynchronous HTTP stack, [`HostAsyncHttpClient`]. They
//! drive credkit's sans-I/O protocol values: every URL is checked (https only, no internal
//! address literal) before the host is asked, redirects are never followed, bodies are
//! bounded.

use std::fmt;
use std::sync::Arc;

use credkit::http::{FetchPolicy, HttpResponse};
use credkit::openid4vp::verifier::{
    MemoryTransactionStore, PresentationRequest as CorePresentationRequest,
    TransactionStatus as CoreStatus, Verifier as CoreVerifier,
};
use credkit::openid4vp::wallet::{
    AuthorizationRequest, Choice as CoreChoice, ResponsePost, Start, WalletPolicy,
};
use credkit::openid4vp::{
    ClientIdPrefix, FORM_MEDIA_TYPE, Profile, REQUEST_OBJECT_MEDIA_TYPE, ResponseMode,
};
use credkit::rand::OsRandom;
use credkit::x509::TrustAnchors;
use serde_json::Value;

use crate::config::{TrustConfig, trust_policy};
use crate::error::{CredkitError, Result};
use crate::guard;
use crate::wallet::{Choice, QueryAnswer, Wallet, answer_view};

/// One HTTP exchange credkit asks the host to perform for OpenID4VP: a `GET` of a request
/// object or a form `POST` (request object with `wallet_nonce`, or the response).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpExchange {
    /// `GET` or `POST`.
    pub method: String,
    /// The `https:` URL (already checked).
    pub url: String,
    /// The `Content-Type` of the body (POST).
    pub content_type: Option<String>,
    /// The `Accept` header to send.
    pub accept: Option<String>,
    /// The body (POST): it may carry presentations, never log it.
    pub body: Vec<u8>,
    /// Read at most this many body bytes plus one.
    pub max_bytes: u64,
    /// Give up after this many milliseconds.
    pub timeout_ms: u64,
    /// Further request headers (OpenID4VCI: `DPoP`, `Authorization`, client attestation):
    /// they carry tokens and proofs, never log them.
    #[uniffi(default)]
    pub headers: Vec<HttpHeader>,
}

/// One HTTP header.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpHeader {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

impl fmt::Debug for HttpHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpHeader")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for HttpExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpExchange")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The app's asynchronous HTTP stack for OpenID4VP. As for [`crate::HostHttpClient`], the
/// implementation must not follow redirects, must filter resolved addresses with
/// [`crate::is_public_address`] (unless the wallet is configured for local tests), and must
/// bound time and size; it returns 3xx / 4xx / 5xx answers as replies.
#[uniffi::export(with_foreign)]
#[async_trait::async_trait]
pub trait HostAsyncHttpClient: Send + Sync {
    /// Performs the exchange.
    ///
    /// # Errors
    /// `Network` when no answer arrived.
    async fn send(&self, exchange: HttpExchange) -> Result<crate::HttpReply, CredkitError>;
}

/// How the wallet decides whom to answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct VerifierTrustConfig {
    /// PEM trust anchors for verifiers' request-signing certificates (`x509_san_dns`,
    /// `x509_hash`).
    #[uniffi(default)]
    pub trust_anchors_pem: Vec<String>,
    /// Apply HAIP 1.0 (signed requests by reference, encrypted responses only).
    #[uniffi(default)]
    pub haip: bool,
    /// Transaction data types the app can show (any other is refused).
    #[uniffi(default)]
    pub transaction_data_types: Vec<String>,
    /// DANGER, local tests only: allow loopback and private addresses.
    #[uniffi(default)]
    pub allow_internal_addresses: bool,
}

/// Who asks, as the consent screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VerifierInfo {
    /// The full client identifier (prefix included), or `origin:<origin>` for unsigned DC API
    /// requests.
    pub client_id: String,
    /// Whether the identity was authenticated under the wallet's trust configuration.
    pub authenticated: bool,
    /// The signing certificate's subject, for `x509_*` clients.
    pub certificate_subject: Option<String>,
    /// The signing certificate's DNS names.
    pub dns_names: Vec<String>,
    /// The calling web origin (DC API).
    pub origin: Option<String>,
    /// `client_metadata.client_name`: **not authenticated**.
    pub client_name_unverified: Option<String>,
    /// `client_metadata.logo_uri`: **not authenticated**.
    pub logo_uri_unverified: Option<String>,
}

/// A validated Authorization Request, waiting for the user's decision.
#[derive(uniffi::Object)]
pub struct PresentationRequest {
    inner: AuthorizationRequest,
    candidates: Vec<QueryAnswer>,
    policy: FetchPolicy,
}

impl fmt::Debug for PresentationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentationRequest")
            .field("verifier", &self.inner.verifier().client_id)
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl PresentationRequest {
    /// Who asks.
    pub fn verifier(&self) -> VerifierInfo {
        let v = self.inner.verifier();
        VerifierInfo {
            client_id: v.client_id.clone(),
            authenticated: v.authenticated,
            certificate_subject: v.certificate_subject.clone(),
            dns_names: v.dns_names.clone(),
            origin: v.origin.clone(),
            client_name_unverified: v.name.clone(),
            logo_uri_unverified: v.logo_uri.clone(),
        }
    }

    /// For each Credential Query, the held credentials that answer it (least-disclosing
    /// first) and exactly what each reveals.
    pub fn candidates(&self) -> Vec<QueryAnswer> {
        self.candidates.clone()
    }

    /// The transaction data to show before consent, each a JSON object.
    pub fn transaction_data_json(&self) -> Vec<String> {
        self.inner
            .transaction_data()
            .iter()
            .map(|t| Value::Object(t.data.clone()).to_string())
            .collect()
    }

    /// Whether the request came through the Digital Credentials API.
    pub fn is_dc_api(&self) -> bool {
        self.inner.is_dc_api()
    }
}

/// What responding did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PresentationOutcome {
    /// Whether a response was posted to the verifier (redirect flows).
    pub sent: bool,
    /// The verifier's HTTP status (redirect flows).
    pub status: Option<u16>,
    /// Where to send the user agent next, when the verifier said (§8.2).
    pub redirect_uri: Option<String>,
    /// DC API: the `data` object to hand back to the platform, JSON.
    pub dc_api_response_json: Option<String>,
}

pub(crate) fn fetch_policy(config: &VerifierTrustConfig) -> FetchPolicy {
    if config.allow_internal_addresses {
        credkit::http::danger::allow_internal_addresses(FetchPolicy::default())
    } else {
        FetchPolicy::default()
    }
}

fn wallet_policy(config: &VerifierTrustConfig) -> Result<WalletPolicy> {
    let mut anchors = TrustAnchors::new();
    for pem in &config.trust_anchors_pem {
        anchors.add_pem(pem)?;
    }
    let types: Vec<&str> = config
        .transaction_data_types
        .iter()
        .map(String::as_str)
        .collect();
    Ok(WalletPolicy::new(anchors)
        .profile(if config.haip {
            Profile::Haip
        } else {
            Profile::OpenId4Vp
        })
        .fetch_policy(fetch_policy(config))
        .transaction_data_types(&types)
        .provider(crate::provider()))
}

/// Sends one exchange through the host, with credkit's URL and redirect rules (a 3xx is
/// an error: OpenID4VP never follows redirects).
pub(crate) async fn exchange(
    http: &Arc<dyn HostAsyncHttpClient>,
    policy: &FetchPolicy,
    method: &str,
    url: &str,
    content_type: Option<&str>,
    accept: &str,
    body: Vec<u8>,
) -> Result<HttpResponse> {
    let mut request = if method == "POST" {
        credkit::http::HttpRequest::post(url, content_type.unwrap_or(FORM_MEDIA_TYPE), body)
    } else {
        credkit::http::HttpRequest::get(url)
    };
    request = request.header("Accept", accept);
    let response = crate::openid4vci::send(http, policy, &request).await?;
    if (300..400).contains(&response.status) {
        return Err(CredkitError::from(credkit::Error::from(
            credkit::error::FetchError::Status(response.status),
        )));
    }
    Ok(response)
}

#[uniffi::export]
impl Wallet {
    /// Resolves and validates an Authorization Request: an `openid4vp://` / `haip-vp://`
    /// URL (fetching the request object from its `request_uri`, with a `wallet_nonce` when
    /// the verifier offers `post`), or a DC API request `{"protocol": ..., "data": {...}}`
    /// with the calling `origin` the platform reports. Nothing is sent to the verifier
    /// beyond the request object fetch; nothing is spent.
    ///
    /// # Errors
    /// `UntrustedIssuer` for a verifier that cannot be authenticated, `Malformed` for an
    /// invalid request, `Network`, `Unsatisfiable` when a required query has no candidate.
    pub async fn resolve_request(
        &self,
        request: String,
        origin: Option<String>,
    ) -> Result<Arc<PresentationRequest>> {
        let trust = self.verifier_trust().clone();
        let policy = guard(|| wallet_policy(&trust))?;
        let fetch = fetch_policy(&trust);
        let inner = if request.trim_start().starts_with('{') {
            let origin = origin.ok_or_else(|| {
                CredkitError::invalid_input("a DC API request needs the calling origin")
            })?;
            guard(|| {
                let json = crate::parse_json(&request, "DC API request")?;
                let protocol = json
                    .get("protocol")
                    .and_then(Value::as_str)
                    .ok_or_else(|| CredkitError::invalid_input("the request has no protocol"))?;
                let data = json
                    .get("data")
                    .ok_or_else(|| CredkitError::invalid_input("the request has no data"))?;
                Ok(policy.dc_api_request(protocol, data, &origin)?)
            })?
        } else {
            match guard(|| Ok(policy.start(&request)?))? {
                Start::Ready(r) => r,
                Start::Fetch(f) => {
                    let http = self.presentation_http()?;
                    let nonce = guard(|| Ok(credkit::rand::id(&OsRandom)?))?;
                    let response = match f.method {
                        credkit::openid4vp::wallet::RequestUriMethod::Post => {
                            let body = f.post_body(&nonce, &policy.wallet_metadata());
                            exchange(
                                &http,
                                &fetch,
                                "POST",
                                &f.request_uri,
                                Some(FORM_MEDIA_TYPE),
                                REQUEST_OBJECT_MEDIA_TYPE,
                                body.into_bytes(),
                            )
                            .await?
                        }
                        _ => {
                            exchange(
                                &http,
                                &fetch,
                                "GET",
                                &f.request_uri,
                                None,
                                REQUEST_OBJECT_MEDIA_TYPE,
                                Vec::new(),
                            )
                            .await?
                        }
                    };
                    let posted =
                        matches!(f.method, credkit::openid4vp::wallet::RequestUriMethod::Post);
                    guard(|| Ok(policy.finish(&f, &response, posted.then_some(nonce.as_str()))?))?
                }
            }
        };
        let candidates = guard(|| {
            Ok(inner
                .consent(self.core())?
                .iter()
                .map(|a| answer_view(self, a))
                .collect())
        })?;
        Ok(Arc::new(PresentationRequest {
            inner,
            candidates,
            policy: fetch,
        }))
    }

    /// Answers `request` with the user's `choices` (each one of the request's candidates):
    /// posts the response to the verifier (redirect flows) or returns the DC API response
    /// for the platform. Every KB-JWT is signed before any copy is marked used.
    ///
    /// # Errors
    /// `InvalidInput` for a choice that is not a candidate; `Unsatisfiable`; `KeyUnavailable`;
    /// `Network`; the verifier's refusal.
    pub async fn respond(
        &self,
        request: Arc<PresentationRequest>,
        choices: Vec<Choice>,
    ) -> Result<PresentationOutcome> {
        let core: Vec<CoreChoice> = guard(|| {
            crate::wallet::check_choices(&request.candidates, &choices)?;
            Ok(choices
                .iter()
                .map(|c| CoreChoice::new(&c.query_id, &c.batch, c.disclose.clone()))
                .collect())
        })?;
        if request.inner.is_dc_api() {
            let data = guard(|| {
                Ok(request
                    .inner
                    .respond_dc_api(self.core(), &core, &OsRandom)?)
            })?;
            return Ok(PresentationOutcome {
                sent: false,
                status: None,
                redirect_uri: None,
                dc_api_response_json: Some(data.to_string()),
            });
        }
        let post = guard(|| Ok(request.inner.respond(self.core(), &core, &OsRandom)?))?;
        deliver(&self.presentation_http()?, &request.policy, post).await
    }

    /// Declines `request`: `access_denied` to the verifier (redirect flows) or the DC API
    /// error data for the platform.
    ///
    /// # Errors
    /// `Network`; encryption errors.
    pub async fn decline(&self, request: Arc<PresentationRequest>) -> Result<PresentationOutcome> {
        if request.inner.is_dc_api() {
            let data = guard(|| Ok(request.inner.decline_dc_api(&OsRandom)?))?;
            return Ok(PresentationOutcome {
                sent: false,
                status: None,
                redirect_uri: None,
                dc_api_response_json: Some(data.to_string()),
            });
        }
        let post = guard(|| Ok(request.inner.decline(&OsRandom)?))?;
        deliver(&self.presentation_http()?, &request.policy, post).await
    }
}

async fn deliver(
    http: &Arc<dyn HostAsyncHttpClient>,
    policy: &FetchPolicy,
    post: ResponsePost,
) -> Result<PresentationOutcome> {
    let reply = exchange(
        http,
        policy,
        "POST",
        &post.url,
        Some(FORM_MEDIA_TYPE),
        "application/json",
        post.body.into_bytes(),
    )
    .await?;
    let outcome = guard(|| Ok(ResponsePost::handle_reply(&reply)?))?;
    Ok(PresentationOutcome {
        sent: true,
        status: Some(outcome.status),
        redirect_uri: outcome.redirect_uri,
        dc_api_response_json: None,
    })
}

/// How a relying party asks for presentations.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct PresentationVerifierConfig {
    /// The request-signing key, a private JWK (JSON); its public key is the leaf's.
    pub signing_key_jwk: String,
    /// The signing certificate chain, PEM, leaf first, without the trust anchor.
    pub x5c_pem: String,
    /// `x509_hash` (HAIP's) or `x509_san_dns`.
    pub client_id_prefix: String,
    /// Where wallets post responses (`https`).
    pub response_uri: String,
    /// Request objects are served at `request_uri_base/<id>`.
    pub request_uri_base: String,
    /// Trusted issuers.
    pub trust: TrustConfig,
    /// Apply HAIP 1.0 (encrypted responses only).
    #[uniffi(default)]
    pub haip: bool,
}

impl fmt::Debug for PresentationVerifierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentationVerifierConfig")
            .field("client_id_prefix", &self.client_id_prefix)
            .field("response_uri", &self.response_uri)
            .finish_non_exhaustive()
    }
}

/// A started presentation.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CreatedPresentation {
    /// The transaction id.
    pub id: String,
    /// `openid4vp://?client_id=...&request_uri=...` (redirect flows; empty for the DC API).
    pub authorization_request_uri: String,
    /// The DC API request `{"protocol", "data"}` (DC API flows), JSON.
    pub dc_api_request_json: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Where a presentation stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PresentationResult {
    /// `pending`, `verified` or `failed`.
    pub status: String,
    /// The credkit error code when failed.
    pub error: Option<String>,
    /// What was verified, JSON `{"<query id>": [{"format", "issuer", "vct", "claims"}]}`.
    pub credentials_json: Option<String>,
    /// Same-device flows: where the verifier's response URI sends the wallet.
    pub redirect_uri: Option<String>,
}

/// A relying party's OpenID4VP verifier: signed requests, transactions (in memory), response
/// verification. The app serves [`PresentationVerifier::request_object`] at the request URI
/// and passes what arrives at the response URI to
/// [`PresentationVerifier::handle_response`].
#[derive(uniffi::Object)]
pub struct PresentationVerifier {
    inner: CoreVerifier,
}

impl fmt::Debug for PresentationVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentationVerifier")
            .field("client_id", &self.inner.client_id())
            .finish_non_exhaustive()
    }
}

fn result(
    tx: &credkit::openid4vp::verifier::Transaction,
    redirect: Option<String>,
) -> PresentationResult {
    PresentationResult {
        status: match tx.status {
            CoreStatus::Pending => "pending",
            CoreStatus::Verified => "verified",
            _ => "failed",
        }
        .to_owned(),
        error: tx.error.clone(),
        credentials_json: tx.credentials.as_ref().map(Value::to_string),
        redirect_uri: redirect,
    }
}

#[uniffi::export]
impl PresentationVerifier {
    /// A verifier.
    ///
    /// # Errors
    /// `InvalidInput` for a key, chain or prefix that does not fit.
    #[uniffi::constructor]
    pub fn new(config: PresentationVerifierConfig) -> Result<Arc<Self>> {
        guard(|| {
            let key = credkit::jose::PrivateJwk::parse(&config.signing_key_jwk)?;
            let signer = crate::provider().signer(&key)?;
            let chain = credkit::x509::certificates_from_pem(&config.x5c_pem)?;
            let prefix = match config.client_id_prefix.as_str() {
                "x509_hash" => ClientIdPrefix::X509Hash,
                "x509_san_dns" => ClientIdPrefix::X509SanDns,
                other => {
                    return Err(CredkitError::invalid_input(format!(
                        "client id prefix {other:?}: x509_hash or x509_san_dns"
                    )));
                }
            };
            let trust = Arc::new(trust_policy(&config.trust, None)?);
            let inner = CoreVerifier::new(
                prefix,
                signer,
                chain,
                None,
                &config.response_uri,
                &config.request_uri_base,
                trust,
                Arc::new(MemoryTransactionStore::new()),
                Arc::new(OsRandom),
            )?
            .provider(crate::provider())
            .profile(if config.haip {
                Profile::Haip
            } else {
                Profile::OpenId4Vp
            });
            Ok(Arc::new(Self { inner }))
        })
    }

    /// The full client identifier.
    pub fn client_id(&self) -> String {
        self.inner.client_id().to_owned()
    }

    /// Starts a presentation for `dcql_json` answered with `response_mode`
    /// (`direct_post.jwt`, `direct_post`, `dc_api.jwt`, `dc_api`); the DC API modes need
    /// `expected_origins`.
    ///
    /// # Errors
    /// `InvalidInput` for a bad query or mode.
    pub fn create(
        &self,
        dcql_json: String,
        response_mode: String,
        expected_origins: Vec<String>,
    ) -> Result<CreatedPresentation> {
        guard(|| {
            let query = crate::wallet::parse_query(&dcql_json)?;
            let mode = ResponseMode::from_name(&response_mode).ok_or_else(|| {
                CredkitError::invalid_input(format!("response mode {response_mode:?}"))
            })?;
            let origins: Vec<&str> = expected_origins.iter().map(String::as_str).collect();
            if mode.is_direct_post() {
                let created = self
                    .inner
                    .create(&CorePresentationRequest::new(query).response_mode(mode))?;
                Ok(CreatedPresentation {
                    id: created.transaction.id.clone(),
                    authorization_request_uri: created.authorization_request_uri,
                    dc_api_request_json: None,
                    expires_at: created.transaction.expires_at,
                })
            } else {
                let created = self.inner.create_dc_api(
                    &CorePresentationRequest::dc_api(query, &origins).response_mode(mode),
                )?;
                Ok(CreatedPresentation {
                    id: created.transaction.id.clone(),
                    authorization_request_uri: String::new(),
                    dc_api_request_json: Some(created.dc_api_request.to_string()),
                    expires_at: created.transaction.expires_at,
                })
            }
        })
    }

    /// The signed request object for transaction `id` (serve it as
    /// `application/oauth-authz-req+jwt`), with the `wallet_nonce` the wallet posted.
    ///
    /// # Errors
    /// `NotFound`, `Expired`, `Malformed` (used).
    pub fn request_object(&self, id: String, wallet_nonce: Option<String>) -> Result<String> {
        guard(|| Ok(self.inner.request_object(&id, wallet_nonce.as_deref())?))
    }

    /// Processes what arrived at the response URI (its `Content-Type` and body). Answer the
    /// wallet 200 with `{"redirect_uri": ...}` or `{}` when this returns, 400 on an error.
    ///
    /// # Errors
    /// When no pending transaction could be tied to the body.
    pub fn handle_response(
        &self,
        content_type: Option<String>,
        body: Vec<u8>,
    ) -> Result<PresentationResult> {
        guard(|| {
            let handled = self.inner.handle_response(content_type.as_deref(), &body)?;
            let tx = self.inner.transaction(&handled.transaction_id)?;
            Ok(result(&tx, handled.redirect_uri))
        })
    }

    /// Processes the DC API response `data` (JSON) the browser returned for transaction `id`.
    ///
    /// # Errors
    /// As [`PresentationVerifier::handle_response`].
    pub fn handle_dc_api_response(
        &self,
        id: String,
        data_json: String,
    ) -> Result<PresentationResult> {
        guard(|| {
            let data = crate::parse_json(&data_json, "DC API response")?;
            let handled = self.inner.handle_dc_api_response(&id, &data)?;
            let tx = self.inner.transaction(&handled.transaction_id)?;
            Ok(result(&tx, handled.redirect_uri))
        })
    }

    /// Where transaction `id` stands.
    ///
    /// # Errors
    /// `NotFound`.
    pub fn result(&self, id: String) -> Result<PresentationResult> {
        guard(|| Ok(result(&self.inner.transaction(&id)?, None)))
    }
}
