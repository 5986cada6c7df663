//! `credkit-server verifier`: the OpenID4VP 1.0 / HAIP verifier as a service.
//!
//! Management API (`Authorization: Bearer <token>`, compared in constant time):
//! - `POST /v1/presentations` `{"dcql_query", "response_mode", "client_id_prefix",
//!   "expected_origins", "transaction_data"}` → `201 {"id", "authorization_request_uri",
//!   "expires_at"}`, or `{"id", "dc_api_request", "expires_at"}` for the DC API modes;
//! - `GET /v1/presentations/{id}` → `{"status", "error", "credentials"}`.
//!
//! Wallet-facing (no token; every check is the protocol's): `GET` / `POST
//! /oid4vp/request/{id}` (the signed request object, `wallet_nonce` echoed), `POST
//! /oid4vp/response` (`direct_post` / `direct_post.jwt`), `POST
//! /v1/presentations/{id}/dc-api-response` (what the browser returned). Operations:
//! `/healthz`, `/readyz`, `/metrics` (Prometheus text).
//!
//! Handlers run core's checks on a blocking thread (the stores are synchronous: SQLite, or
//! PostgreSQL through src/pg.rs's connection threads) and map each credkit error code to
//! one status; a response that fails any check ends its presentation as `failed` with the
//! code. With `--store postgres://...` every node of a deployment serves every
//! presentation: a request made on one is answered on another.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use credkit::crypto::default_provider;
use credkit::dcql::DcqlQuery;
use credkit::jose::PrivateJwk;
use credkit::openid4vp::verifier::{
    PresentationRequest, TransactionStatus, TransactionStore, Verifier, same_secret,
};
use credkit::openid4vp::{ClientIdPrefix, ResponseMode};
use credkit::rand::OsRandom;
use credkit::sd_jwt::StaticIssuerKeys;
use credkit::sd_jwt_vc::{IssuerTrust, TrustPolicy, TrustedIssuerKeys, X5cTrust};
use credkit::status_list::StatusChecker;
use credkit::x509::TrustAnchors;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::pg::PgTransactions;
use crate::store::{Backend, SqliteTransactions};
use crate::{Failure, VerifierArgs, read};

/// The largest request body accepted (a response with several presentations fits easily).
const MAX_BODY: usize = 1 << 20;

#[derive(Default)]
struct Metrics {
    requests: AtomicU64,
    created: AtomicU64,
    verified: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
}

struct App {
    by_prefix: Vec<(&'static str, Verifier)>,
    store: Arc<dyn TransactionStore>,
    admin_token: Option<Zeroizing<String>>,
    metrics: Metrics,
}

impl App {
    fn verifier(&self, prefix: &str) -> Option<&Verifier> {
        self.by_prefix
            .iter()
            .find(|(p, _)| *p == prefix)
            .map(|(_, v)| v)
    }

    /// Any verifier: they share the store and differ only in the client id they sign as.
    fn any(&self) -> Option<&Verifier> {
        self.by_prefix.first().map(|(_, v)| v)
    }
}

/// Issuer keys from an `x5c` chain when the credential has one, else the pinned keys.
#[derive(Debug)]
struct IssuerKeys {
    x5c: Option<X5cTrust>,
    pinned: Option<StaticIssuerKeys>,
}

impl IssuerTrust for IssuerKeys {
    fn issuer_keys(
        &self,
        jws: &credkit::jose::Jws,
        claims: &Map<String, Value>,
    ) -> credkit::Result<TrustedIssuerKeys> {
        match (&self.x5c, &self.pinned, jws.header().contains_key("x5c")) {
            (Some(x), _, true) => x.issuer_keys(jws, claims),
            (_, Some(p), _) => p.issuer_keys(jws, claims),
            (Some(x), None, false) => x.issuer_keys(jws, claims),
            (None, None, _) => Err(credkit::error::TrustError::UntrustedIssuer(
                "no issuer is trusted (give --trust-anchor or --issuer-key)".into(),
            )
            .into()),
        }
    }
}

pub(crate) fn public_url(given: Option<&str>, port: u16) -> Result<String, Failure> {
    let url = given.map_or_else(|| format!("https://127.0.0.1:{port}"), str::to_owned);
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| Failure::Usage("--public-url must be an https URL".into()))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let authority = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:{port}")
    };
    let path = path.trim_end_matches('/');
    Ok(if path.is_empty() {
        format!("https://{authority}")
    } else {
        format!("https://{authority}/{path}")
    })
}

/// Starts the verifier service.
pub(crate) async fn run(args: VerifierArgs) -> Result<(), Failure> {
    // Flags are checked before anything is bound or written.
    let dc_api_route = cors(&args.cors_origin)?;
    let c = &args.common;
    if !args.mdoc_trust_anchor.is_empty() {
        return Err(Failure::Usage("mdoc is not in this build".into()));
    }
    let crate::Setup {
        listener,
        local,
        public,
        dev,
        tls,
        admin_token,
    } = crate::Setup::new(c, "verifier").await?;
    let (signing_jwk, x5c_pem) = match (&args.signing_key, &args.x5c, &dev) {
        (Some(k), Some(x), _) => (Zeroizing::new(read(k)?), read(x)?),
        (None, None, Some(d)) => (Zeroizing::new(d.signing_jwk.clone()), d.x5c_pem.clone()),
        _ => {
            return Err(Failure::Usage(
                "give --signing-key and --x5c, or --dev".into(),
            ));
        }
    };
    let backend = Backend::open(c.store.as_deref(), "credkit-verifier.sqlite")?;
    let store: Arc<dyn TransactionStore> = match &backend {
        Backend::Sqlite(path) => Arc::new(SqliteTransactions::open(path)?),
        Backend::Postgres(pg) => Arc::new(PgTransactions::new(pg.clone())),
    };
    if c.cache.is_some() {
        // Accepted so that both roles take one configuration: the verifier's only state is
        // its transactions, which stay in --store.
        tracing::info!("--cache: the verifier keeps all its state in --store");
    }
    tracing::info!(store = backend.name(), "state");
    let mut anchors = TrustAnchors::new();
    for p in &args.trust_anchor {
        anchors.add_pem(&read(p)?)?;
    }
    let mut pinned = StaticIssuerKeys::new();
    for p in &args.issuer_key {
        pinned.add(
            &credkit::jose::PublicJwk::parse(&read(p)?)?,
            default_provider(),
        )?;
    }
    let trust = Arc::new(TrustPolicy::new().otherwise(Arc::new(IssuerKeys {
        x5c: (!anchors.is_empty()).then(|| X5cTrust::new(anchors)),
        pinned: (!args.issuer_key.is_empty()).then_some(pinned),
    })));
    let key = PrivateJwk::parse(&signing_jwk)?;
    let signer = default_provider().signer(&key)?;
    let chain = credkit::x509::certificates_from_pem(&x5c_pem)?;
    let host = public
        .trim_start_matches("https://")
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_owned();
    // Status lists: checked for every presentation, from a cache that a background task
    // refreshes before it expires (no fetch at presentation time, TSL §12.6).
    let mut roots = Vec::new();
    for p in &args.http_root {
        roots.extend(credkit::x509::certificates_from_pem(&read(p)?)?);
    }
    let client: Arc<dyn credkit::http::HttpClient> = if roots.is_empty() {
        Arc::new(credkit::http::UreqClient::new())
    } else {
        Arc::new(credkit::http::UreqClient::with_root_certificates(&roots))
    };
    let policy = if args.allow_internal_addresses {
        credkit::http::danger::allow_internal_addresses(credkit::http::FetchPolicy::default())
    } else {
        credkit::http::FetchPolicy::default()
    };
    let checker = Arc::new(
        StatusChecker::new(
            credkit::http::Fetcher::with_policy(client, policy),
            trust.clone(),
        )
        .background_refresh(true),
    );
    // Expired transactions go an hour after their expiry (results stay readable that long),
    // so that the store does not grow with the number of presentations ever made.
    let purged_store = store.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_EVERY);
        loop {
            tick.tick().await;
            let s = purged_store.clone();
            let before = credkit::time::Clock::now(&credkit::time::SystemClock) - PURGE_GRACE;
            if let Ok(Ok(n)) = tokio::task::spawn_blocking(move || s.purge_expired(before)).await
                && n > 0
            {
                tracing::info!(purged = n, "expired transactions deleted");
            }
        }
    });
    let refresher = checker.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(STATUS_REFRESH_EVERY);
        loop {
            tick.tick().await;
            let c = refresher.clone();
            let refreshed =
                tokio::task::spawn_blocking(move || c.refresh_due(STATUS_REFRESH_AHEAD))
                    .await
                    .unwrap_or(0);
            if refreshed > 0 {
                tracing::info!(refreshed, "status lists refreshed");
            }
        }
    });
    let make = |prefix: ClientIdPrefix, dns: Option<&str>| {
        Verifier::new(
            prefix,
            signer.clone(),
            chain.clone(),
            dns,
            &format!("{public}/oid4vp/response"),
            &format!("{public}/oid4vp/request"),
            trust.clone(),
            store.clone(),
            Arc::new(OsRandom),
        )
        .map(|v| v.status_checker(checker.clone()))
    };
    let mut by_prefix = vec![("x509_hash", make(ClientIdPrefix::X509Hash, None)?)];
    // x509_san_dns only when the leaf names the public host (§5.9.3: the response URI's
    // host is the client id).
    if let Ok(v) = make(ClientIdPrefix::X509SanDns, Some(&host)) {
        by_prefix.push(("x509_san_dns", v));
    }
    let page = by_prefix
        .first()
        .map(|(_, v)| crate::page::routes(v.clone()));
    let app = Arc::new(App {
        by_prefix,
        store,
        admin_token,
        metrics: Metrics::default(),
    });
    let router = Router::new()
        .route("/v1/presentations", post(create))
        .route("/v1/presentations/{id}", get(status))
        .route("/v1/presentations/{id}/dc-api-response", dc_api_route)
        .route(
            "/oid4vp/request/{id}",
            get(request_object_get).post(request_object_post),
        )
        .route("/oid4vp/response", post(response))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(app);
    let router = match page {
        Some(p) => router.merge(p),
        None => router,
    };
    crate::serve::serve(listener, local, tls, router).await
}

/// How often the background task looks for status lists to refresh, and how far ahead of
/// their refresh time it fetches them.
const STATUS_REFRESH_EVERY: Duration = Duration::from_secs(30);
const STATUS_REFRESH_AHEAD: u64 = 90;
/// How often expired transactions are deleted, and how long after their expiry.
const PURGE_EVERY: Duration = Duration::from_secs(300);
const PURGE_GRACE: i64 = 3600;

/// The DC API response endpoint, answering cross-origin requests (preflight included) from
/// `origins` only; without origins, same-origin only.
fn cors(origins: &[String]) -> Result<axum::routing::MethodRouter<Arc<App>>, Failure> {
    let route = post(dc_api_response);
    if origins.is_empty() {
        return Ok(route);
    }
    let mut allowed = Vec::with_capacity(origins.len());
    for o in origins {
        let rest = o
            .strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://localhost"));
        if rest.is_none_or(|r| {
            r.contains(['/', '?', '#']) || (o.starts_with("https://") && r.is_empty())
        }) {
            return Err(Failure::Usage(format!(
                "--cors-origin {o:?}: an origin is scheme://host[:port] without a path"
            )));
        }
        allowed.push(
            axum::http::HeaderValue::from_str(o).map_err(|_| {
                Failure::Usage(format!("--cors-origin {o:?} is not a valid origin"))
            })?,
        );
    }
    let layer = tower_http::cors::CorsLayer::new()
        .allow_origin(allowed)
        .allow_methods([axum::http::Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600));
    Ok(route.layer(layer))
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn error(status: StatusCode, code: &str) -> Response {
    json_response(status, &json!({ "error": code }))
}

fn credkit_error(e: &credkit::Error) -> Response {
    let status = match e.code() {
        "transaction_unknown" => StatusCode::NOT_FOUND,
        "storage_failed" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, e.code())
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let Some(token) = &app.admin_token else {
        return false;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same_secret(given.trim(), token))
}

/// Runs `f` on a blocking thread (core and the store are synchronous).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> credkit::Result<T> + Send + 'static,
) -> credkit::Result<T> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|_| {
        Err(credkit::error::WalletError::Storage("a worker thread failed".into()).into())
    })
}

async fn create(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if !authorized(&app, &headers) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let Ok(req) = credkit::json::parse_object(&body, 32, "request") else {
        return error(StatusCode::BAD_REQUEST, "invalid_json");
    };
    let prefix = req
        .get("client_id_prefix")
        .and_then(Value::as_str)
        .unwrap_or("x509_hash");
    let Some(verifier) = app.verifier(prefix).cloned() else {
        return error(StatusCode::BAD_REQUEST, "client_id_prefix_unavailable");
    };
    let mode = match req.get("response_mode").and_then(Value::as_str) {
        None => ResponseMode::DirectPostJwt,
        Some(m) => match ResponseMode::from_name(m) {
            Some(m) => m,
            None => return error(StatusCode::BAD_REQUEST, "response_mode_invalid"),
        },
    };
    let query = match req.get("dcql_query").map(DcqlQuery::parse) {
        Some(Ok(q)) => q,
        Some(Err(e)) => return credkit_error(&e),
        None => return error(StatusCode::BAD_REQUEST, "dcql_invalid"),
    };
    let origins: Vec<String> = req
        .get("expected_origins")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let transaction_data: Vec<Map<String, Value>> = req
        .get("transaction_data")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).cloned().collect())
        .unwrap_or_default();
    let outcome = blocking(move || {
        let refs: Vec<&str> = origins.iter().map(String::as_str).collect();
        if mode.is_direct_post() {
            let request = PresentationRequest::new(query)
                .response_mode(mode)
                .transaction_data(transaction_data);
            let created = verifier.create(&request)?;
            Ok(json!({
                "id": created.transaction.id,
                "authorization_request_uri": created.authorization_request_uri,
                "expires_at": created.transaction.expires_at,
            }))
        } else {
            let request = PresentationRequest::dc_api(query, &refs)
                .response_mode(mode)
                .transaction_data(transaction_data);
            let created = verifier.create_dc_api(&request)?;
            Ok(json!({
                "id": created.transaction.id,
                "dc_api_request": created.dc_api_request,
                "expires_at": created.transaction.expires_at,
            }))
        }
    })
    .await;
    match outcome {
        Ok(body) => {
            app.metrics.created.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                id = body
                    .get("id")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default(),
                "presentation created"
            );
            json_response(StatusCode::CREATED, &body)
        }
        Err(e) if e.code() == "api_misuse" => error(StatusCode::BAD_REQUEST, "request_invalid"),
        Err(e) => credkit_error(&e),
    }
}

async fn status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if !authorized(&app, &headers) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let Some(verifier) = app.any().cloned() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    };
    match blocking(move || verifier.transaction(&id)).await {
        Ok(tx) => {
            let mut body = Map::new();
            body.insert("status".into(), tx.status.name().into());
            if let Some(e) = tx.error {
                body.insert("error".into(), e.into());
            }
            if let Some(c) = tx.credentials {
                body.insert("credentials".into(), c);
            }
            json_response(StatusCode::OK, &Value::Object(body))
        }
        Err(e) => credkit_error(&e),
    }
}

async fn request_object(app: Arc<App>, id: String, wallet_nonce: Option<String>) -> Response {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    // Each verifier signs as its own client id; the transaction names the one it was made
    // as.
    let verifiers: Vec<Verifier> = app.by_prefix.iter().map(|(_, v)| v.clone()).collect();
    let outcome = blocking(move || {
        let first = verifiers
            .first()
            .ok_or(credkit::error::Oid4vpError::TransactionUnknown)?;
        let tx = first.transaction(&id)?;
        let v = verifiers
            .iter()
            .find(|v| v.client_id() == tx.client_id)
            .ok_or(credkit::error::Oid4vpError::TransactionUnknown)?;
        v.request_object(&id, wallet_nonce.as_deref())
    })
    .await;
    match outcome {
        Ok(jwt) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/oauth-authz-req+jwt"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            jwt,
        )
            .into_response(),
        Err(e) => credkit_error(&e),
    }
}

async fn request_object_get(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    request_object(app, id, None).await
}

async fn request_object_post(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    // §5.10: wallet_metadata and wallet_nonce; unknown parameters are ignored.
    let form = std::str::from_utf8(&body)
        .map_err(|_| ())
        .and_then(|text| credkit::openid4vp::parse_form(text).map_err(|_| ()));
    let Ok(form) = form else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let nonce = form
        .get("wallet_nonce")
        .and_then(Value::as_str)
        .map(str::to_owned);
    request_object(app, id, nonce).await
}

async fn response(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let Some(verifier) = app.any().cloned() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let outcome = blocking(move || verifier.handle_response(content_type.as_deref(), &body)).await;
    concluded(&app, outcome)
}

async fn dc_api_response(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let Some(verifier) = app.any().cloned() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    };
    let outcome = blocking(move || {
        let data = credkit::json::parse(&body, 32, "DC API response")?;
        // The browser may pass the whole DigitalCredential or only its data.
        let data = data.get("data").cloned().unwrap_or(data);
        verifier.handle_dc_api_response(&id, &data)
    })
    .await;
    concluded(&app, outcome)
}

/// §8.2: 200 with a JSON object once a response was processed (also when it failed its
/// checks: the presentation then reads `failed`); 400 when nothing could be tied to it.
fn concluded(
    app: &App,
    outcome: credkit::Result<credkit::openid4vp::verifier::ResponseHandled>,
) -> Response {
    match outcome {
        Ok(handled) => {
            let counter = if handled.status == TransactionStatus::Verified {
                &app.metrics.verified
            } else {
                &app.metrics.failed
            };
            counter.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                id = handled.transaction_id.as_str(),
                status = handled.status.name(),
                error = handled.error.as_deref().unwrap_or(""),
                "response processed"
            );
            let mut body = Map::new();
            if let Some(uri) = handled.redirect_uri {
                body.insert("redirect_uri".into(), uri.into());
            }
            json_response(StatusCode::OK, &Value::Object(body))
        }
        Err(e) => {
            app.metrics.rejected.fetch_add(1, Ordering::Relaxed);
            tracing::info!(error = e.code(), "response rejected");
            let status = if e.code() == "transaction_unknown" {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::BAD_REQUEST
            };
            error(status, "invalid_request")
        }
    }
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    let store = app.store.clone();
    match blocking(move || store.get("readiness-probe")).await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let m = &app.metrics;
    let text = format!(
        "# TYPE credkit_http_requests_total counter\ncredkit_http_requests_total {}\n\
         # TYPE credkit_presentations_created_total counter\ncredkit_presentations_created_total {}\n\
         # TYPE credkit_presentations_verified_total counter\ncredkit_presentations_verified_total {}\n\
         # TYPE credkit_presentations_failed_total counter\ncredkit_presentations_failed_total {}\n\
         # TYPE credkit_responses_rejected_total counter\ncredkit_responses_rejected_total {}\n",
        m.requests.load(Ordering::Relaxed),
        m.created.load(Ordering::Relaxed),
        m.verified.load(Ordering::Relaxed),
        m.failed.load(Ordering::Relaxed),
        m.rejected.load(Ordering::Relaxed),
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}
