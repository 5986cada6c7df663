//! `credkit-server issuer`: the OpenID4VCI 1.0 / HAIP Credential Issuer, its own
//! authorization server, and its Token Status List, as a service.
//!
//! Management API (`Authorization: Bearer <token>`, compared in constant time):
//! - `POST /v1/offers` `{"credential_configuration_ids", "claims", "grant":
//!   "pre-authorized_code" | "authorization_code", "tx_code": bool}` → `201
//!   {"credential_offer_uri": "openid-credential-offer://?credential_offer_uri=...",
//!   "tx_code", "id", "expires_at"}` (the offer by reference; `id` names it below);
//! - `GET /v1/offers/{id}` → `{"credentials": [{"id", "status"}]}`: what the offer produced;
//! - `POST /v1/credentials/{id}/revoke` and `/suspend` → `204`: the credential's status list
//!   entry becomes INVALID / SUSPENDED.
//!
//! Wallet-facing (no token; every check is the protocol's, in core): the well-known metadata
//! documents, `/offers/{id}`, `/par`, `/authorize`, `/token` (rate limited), `/nonce`,
//! `/credential`, `/deferred`, `/notification`, and the status list at `/status/1`
//! (`Cache-Control` from its `ttl`, an `ETag` over the list). Operations: `/healthz`,
//! `/readyz`, `/metrics`.
//!
//! State: `--store sqlite:PATH` (one node) or `--store postgres://...` (any number of nodes
//! behind a load balancer: an offer made on one is redeemed on another); `--cache
//! redis://...` moves the short-lived OpenID4VCI state (offers, codes, tokens, nonces, DPoP
//! `jti`s) to Redis. The token endpoint's rate limit is per node.
//!
//! Offers made here are authorised by their `issuer_state` (the built-in authorizer: the
//! operator authenticated the subject before making the offer). The built-in configuration is
//! `eu.europa.ec.eudi.pid_vc_sd_jwt` (`dc+sd-jwt`, vct `urn:eudi:pid:1`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use credkit::crypto::default_provider;
use credkit::jose::{PrivateJwk, PublicJwk};
use credkit::oauth::client_attestation::AttestationPolicy;
use credkit::oauth::store::StateStore;
use credkit::openid4vci::issuer::{
    Issuer, IssuerConfig, IssuerRequest, OfferGrant, OfferRequest, SdJwtVcConfiguration,
    StatusAllocator,
};
use credkit::openid4vp::verifier::same_secret;
use credkit::rand::OsRandom;
use credkit::sd_jwt::StaticIssuerKeys;
use credkit::sd_jwt_vc::Vct;
use credkit::status_list::{Bits, Status, StatusList, StatusListTokenBuilder};
use credkit::time::{Clock, SystemClock};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::pg::{PgState, PgStatus};
use crate::redis_cache::RedisState;
use crate::store::{Backend, SqliteState, SqliteStatus, StatusEntries};
use crate::verifier::{blocking, error, json_response};
use crate::{Failure, IssuerArgs, read};

/// The PID configuration (OpenID4VCI A.3, the EUDI PID rulebook's identifier).
pub(crate) const PID_CONFIGURATION: &str = "eu.europa.ec.eudi.pid_vc_sd_jwt";
const PID_VCT: &str = "urn:eudi:pid:1";
/// Entries of the status list: large, so that a random index tells nothing (TSL §13.2).
const STATUS_LIST_SIZE: u64 = 1 << 17;
/// Seconds a relying party may cache the status list (`ttl`), and its validity.
const STATUS_TTL: u64 = 300;
const STATUS_VALIDITY: u64 = 86_400;
const MAX_BODY: usize = 256 * 1024;
/// Token endpoint requests per second per node (and the burst).
const TOKEN_RATE: f64 = 20.0;
const TOKEN_BURST: f64 = 40.0;

#[derive(Default)]
struct Metrics {
    requests: AtomicU64,
    offers: AtomicU64,
    rate_limited: AtomicU64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct App {
    issuer: Issuer,
    status: Arc<dyn StatusEntries>,
    state: Arc<dyn StateStore>,
    signer: Arc<dyn credkit::crypto::Signer>,
    x5c: Option<Vec<Vec<u8>>>,
    admin_token: Option<Zeroizing<String>>,
    metrics: Metrics,
    bucket: Mutex<Bucket>,
}

impl App {
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.admin_token else {
            return false;
        };
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| same_secret(given.trim(), token))
    }

    /// A token-bucket limit on the token endpoint (ATTACKS VCI-32: besides the per-code
    /// attempt limit, guesses across codes are slowed down).
    fn allow_token_request(&self) -> bool {
        let Ok(mut b) = self.bucket.lock() else {
            return false;
        };
        let now = Instant::now();
        let refill = now.duration_since(b.at).as_secs_f64() * TOKEN_RATE;
        b.tokens = (b.tokens + refill).min(TOKEN_BURST);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Starts the issuer service.
pub(crate) async fn run(args: IssuerArgs) -> Result<(), Failure> {
    let c = &args.common;
    if args.mdoc_signing_key.is_some() || args.mdoc_x5c.is_some() {
        return Err(Failure::Usage("mdoc is not in this build".into()));
    }
    if args.require_wallet_attestation && args.wallet_provider_key.is_empty() {
        return Err(Failure::Usage(
            "--require-wallet-attestation needs --wallet-provider-key".into(),
        ));
    }
    let crate::Setup {
        listener,
        local,
        public,
        dev,
        tls,
        admin_token,
    } = crate::Setup::new(c, "issuer").await?;
    let (signing_jwk, x5c_pem) = match (&args.signing_key, &dev) {
        (Some(k), _) => (
            Zeroizing::new(read(k)?),
            args.x5c.as_deref().map(read).transpose()?,
        ),
        (None, Some(d)) => (
            Zeroizing::new(d.signing_jwk.clone()),
            Some(d.x5c_pem.clone()),
        ),
        (None, None) => return Err(Failure::Usage("give --signing-key, or --dev".into())),
    };
    let backend = Backend::open(c.store.as_deref(), "credkit-issuer.sqlite")?;
    let cache = c.cache.as_deref().map(RedisState::open).transpose()?;
    let key = PrivateJwk::parse(&signing_jwk)?;
    let signer = default_provider().signer(&key)?;
    let x5c = x5c_pem
        .as_deref()
        .map(credkit::x509::certificates_from_pem)
        .transpose()?;
    let status_uri = format!("{public}/status/1");
    let (status, state): (Arc<dyn StatusEntries>, Arc<dyn StateStore>) = match &backend {
        Backend::Sqlite(path) => (
            Arc::new(SqliteStatus::open(path, status_uri, STATUS_LIST_SIZE)?),
            Arc::new(SqliteState::open(path)?),
        ),
        Backend::Postgres(pg) => (
            Arc::new(PgStatus::new(pg.clone(), status_uri, STATUS_LIST_SIZE)),
            Arc::new(PgState::new(pg.clone())),
        ),
    };
    // With --cache, the short-lived state (every OpenID4VCI kind) lives in Redis; status
    // entries stay in --store.
    let state: Arc<dyn StateStore> = match cache {
        Some(redis) => Arc::new(redis),
        None => state,
    };
    tracing::info!(
        store = backend.name(),
        cache = if c.cache.is_some() { "redis" } else { "none" },
        "state"
    );
    let configs = vec![SdJwtVcConfiguration::new(
        PID_CONFIGURATION,
        Vct::new(PID_VCT)?,
        PID_CONFIGURATION,
    )];
    let mut config = IssuerConfig::new(&public, signer.clone(), configs)?;
    config.x5c = x5c.clone();
    let allocator: Arc<dyn StatusAllocator> = status.clone();
    config.status = Some(allocator);
    config.dpop_nonces = true;
    if args.require_wallet_attestation {
        let mut keys = StaticIssuerKeys::new();
        for p in &args.wallet_provider_key {
            keys.add(&PublicJwk::parse(&read(p)?)?, default_provider())?;
        }
        config.client_attestation = Some(AttestationPolicy::new(Arc::new(keys)));
        config.pre_authorized_anonymous = false;
    }
    let issuer = Issuer::new(
        config,
        state.clone(),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
    );
    let app = Arc::new(App {
        issuer,
        status,
        state,
        signer,
        x5c,
        admin_token,
        metrics: Metrics::default(),
        bucket: Mutex::new(Bucket {
            tokens: TOKEN_BURST,
            at: Instant::now(),
        }),
    });
    let router = Router::new()
        .route("/v1/offers", post(create_offer))
        .route("/v1/offers/{id}", get(offer_status))
        .route("/v1/credentials/{id}/revoke", post(revoke))
        .route("/v1/credentials/{id}/suspend", post(suspend))
        .route("/status/1", get(status_list))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .fallback(protocol)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(app);
    crate::serve::serve(listener, local, tls, router).await
}

/// Every wallet-facing OpenID4VCI endpoint: handed to core's issuer as it arrived.
async fn protocol(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let method = match method {
        Method::GET => credkit::http::Method::Get,
        Method::POST => credkit::http::Method::Post,
        _ => return error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
    };
    if uri.path().ends_with("/token") && !app.allow_token_request() {
        app.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut r = error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return r;
    }
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(n, v)| {
            v.to_str()
                .ok()
                .map(|v| (n.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    let issuer = app.issuer.clone();
    let answer = blocking(move || {
        Ok(issuer.handle(&IssuerRequest::new(method, &path, &query, &headers, &body)))
    })
    .await;
    let Ok(answer) = answer else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "server_error");
    };
    let mut builder = Response::builder().status(answer.status);
    for (n, v) in &answer.headers {
        builder = builder.header(n.as_str(), v.as_str());
    }
    builder
        .body(Body::from(answer.body))
        .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "server_error"))
}

async fn create_offer(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if !app.authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let Ok(req) = credkit::json::parse_object(&body, 32, "offer request") else {
        return error(StatusCode::BAD_REQUEST, "invalid_json");
    };
    let ids: Vec<String> = match req.get("credential_configuration_ids") {
        None => vec![PID_CONFIGURATION.to_owned()],
        Some(Value::Array(a)) => {
            let ids: Option<Vec<String>> =
                a.iter().map(|v| v.as_str().map(str::to_owned)).collect();
            match ids {
                Some(ids) if !ids.is_empty() => ids,
                _ => return error(StatusCode::BAD_REQUEST, "invalid_configuration_ids"),
            }
        }
        Some(_) => return error(StatusCode::BAD_REQUEST, "invalid_configuration_ids"),
    };
    let Some(Value::Object(claims)) = req.get("claims").cloned() else {
        return error(StatusCode::BAD_REQUEST, "invalid_claims");
    };
    let tx_code = req.get("tx_code").and_then(Value::as_bool).unwrap_or(false);
    let grant = match req.get("grant").and_then(Value::as_str) {
        None | Some("pre-authorized_code") => OfferGrant::PreAuthorized {
            tx_code_digits: tx_code.then_some(6),
            tx_code_description: None,
        },
        Some("authorization_code") => {
            if tx_code {
                return error(StatusCode::BAD_REQUEST, "tx_code_needs_pre_authorized_code");
            }
            OfferGrant::AuthorizationCode
        }
        Some(_) => return error(StatusCode::BAD_REQUEST, "invalid_grant_type"),
    };
    let issuer = app.issuer.clone();
    let outcome = blocking(move || {
        let id = credkit::rand::id(&OsRandom)?;
        let offer = issuer.create_offer(
            &OfferRequest::new(ids, claims, grant)
                .by_reference()
                .reference(id.clone()),
        )?;
        Ok((id, offer))
    })
    .await;
    match outcome {
        Ok((id, offer)) => {
            app.metrics.offers.fetch_add(1, Ordering::Relaxed);
            json_response(
                StatusCode::CREATED,
                &json!({
                    "id": id,
                    "credential_offer_uri": offer.uri,
                    "tx_code": offer.tx_code.as_ref().map(|t| t.expose().to_owned()),
                    "expires_at": offer.expires_at,
                }),
            )
        }
        Err(e) if e.code() == "invalid_offer" => error(StatusCode::BAD_REQUEST, e.code()),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.code()),
    }
}

fn status_name(v: u8) -> &'static str {
    match Status::from_value(v) {
        Status::Valid => "VALID",
        Status::Invalid => "INVALID",
        Status::Suspended => "SUSPENDED",
        _ => "OTHER",
    }
}

async fn offer_status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !app.authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let status = app.status.clone();
    match blocking(move || status.by_reference(&id)).await {
        Ok(list) => json_response(
            StatusCode::OK,
            &json!({"credentials": list.iter().map(|(id, s)| json!({"id": id, "status": status_name(*s)})).collect::<Vec<_>>()}),
        ),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.code()),
    }
}

async fn set_status(app: Arc<App>, headers: HeaderMap, id: String, status: Status) -> Response {
    if !app.authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let store = app.status.clone();
    match blocking(move || store.set(&id, status.value())).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, "unknown_credential"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.code()),
    }
}

async fn revoke(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    set_status(app, headers, id, Status::Invalid).await
}

async fn suspend(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    set_status(app, headers, id, Status::Suspended).await
}

/// The Status List Token (TSL §5.1, §8.1), built from the entries in the store and signed
/// now; cacheable for `ttl` seconds, with an `ETag` over the list itself.
async fn status_list(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let status = app.status.clone();
    let signer = app.signer.clone();
    let x5c = app.x5c.clone();
    let built = blocking(move || {
        let mut list = StatusList::new(
            Bits::new(2)?,
            usize::try_from(status.size()).unwrap_or(usize::MAX),
        )?;
        for (idx, s) in status.changed()? {
            list.set(idx, Status::from_value(s))?;
        }
        let etag = format!(
            "\"{}\"",
            credkit::crypto::HashAlg::Sha256.digest_b64(list.as_bytes())
        );
        let now = SystemClock.now();
        let mut b = StatusListTokenBuilder::new(status.uri().to_owned(), now)
            .ttl(STATUS_TTL)
            .expires_at(now + i64::try_from(STATUS_VALIDITY).unwrap_or(i64::MAX));
        if let Some(chain) = x5c {
            b = b.x5c(chain);
        }
        Ok((etag, b.sign_jwt(&list, &*signer)?))
    })
    .await;
    let Ok((etag, jwt)) = built else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "status_list_unavailable");
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "application/statuslist+jwt".to_owned(),
            ),
            (header::CACHE_CONTROL, format!("max-age={STATUS_TTL}")),
            (header::ETAG, etag),
        ],
        jwt,
    )
        .into_response()
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    let (status, state) = (app.status.clone(), app.state.clone());
    let probe = blocking(move || {
        status.by_reference("readiness-probe")?;
        state.get("readiness", "probe", SystemClock.now())
    });
    match probe.await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let m = &app.metrics;
    let text = format!(
        "# TYPE credkit_http_requests_total counter\ncredkit_http_requests_total {}\n\
         # TYPE credkit_offers_created_total counter\ncredkit_offers_created_total {}\n\
         # TYPE credkit_token_rate_limited_total counter\ncredkit_token_rate_limited_total {}\n",
        m.requests.load(Ordering::Relaxed),
        m.offers.load(Ordering::Relaxed),
        m.rate_limited.load(Ordering::Relaxed),
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}
