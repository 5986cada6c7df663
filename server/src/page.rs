//! The verifier's demo page: `GET /` starts an "over 18?" check, shows the request as a QR
//! code (and as a link for a wallet on the same device), polls the outcome and shows it.
//!
//! It talks to two public endpoints that reveal nothing but the one answer asked for:
//! `POST /demo/over-18` (a new presentation asking only for `age_equal_or_over/18`, rate
//! limited per node) → `{"id", "authorization_request_uri", "qr_svg"}`, and
//! `GET /demo/over-18/{id}` → `{"status", "over_18", "error"}`. No claims leave the
//! service. The page loads no third-party resources and runs under a strict CSP
//! (`script-src 'self'`, `/page.js`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use credkit::dcql::DcqlQuery;
use credkit::openid4vp::ResponseMode;
use credkit::openid4vp::verifier::{PresentationRequest, TransactionStatus, Verifier};
use serde_json::{Value, json};

use crate::verifier::{blocking, error, json_response};

/// Checks per second per node, and the burst.
const RATE: f64 = 2.0;
const BURST: f64 = 20.0;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Page {
    verifier: Verifier,
    bucket: Mutex<(f64, Instant)>,
}

/// The page's routes, over `verifier` (the service's `x509_hash` verifier).
pub(crate) fn routes(verifier: Verifier) -> Router {
    let page = Arc::new(Page {
        verifier,
        bucket: Mutex::new((BURST, Instant::now())),
    });
    Router::new()
        .route("/", get(index))
        .route("/page.js", get(script))
        .route("/page.css", get(style))
        .route("/demo/over-18", post(start))
        .route("/demo/over-18/{id}", get(outcome))
        .with_state(page)
}

fn with_headers(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    with_headers("text/html; charset=utf-8", INDEX)
}

async fn script() -> Response {
    with_headers("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    with_headers("text/css; charset=utf-8", STYLE)
}

impl Page {
    fn allow(&self) -> bool {
        let Ok(mut b) = self.bucket.lock() else {
            return false;
        };
        let now = Instant::now();
        b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * RATE).min(BURST);
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

fn over_18_query() -> credkit::Result<DcqlQuery> {
    DcqlQuery::parse(&json!({"credentials": [{
        "id": "pid",
        "format": "dc+sd-jwt",
        "meta": {"vct_values": ["urn:eudi:pid:1"]},
        "claims": [{"path": ["age_equal_or_over", "18"]}],
    }]}))
}

async fn start(State(page): State<Arc<Page>>) -> Response {
    if !page.allow() {
        let mut r = error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return r;
    }
    let verifier = page.verifier.clone();
    let created = blocking(move || {
        let request =
            PresentationRequest::new(over_18_query()?).response_mode(ResponseMode::DirectPostJwt);
        verifier.create(&request)
    })
    .await;
    match created {
        Ok(c) => {
            let uri = c.authorization_request_uri;
            let qr = match qrcode::QrCode::new(uri.as_bytes()) {
                Ok(code) => code
                    .render::<qrcode::render::svg::Color<'_>>()
                    .min_dimensions(240, 240)
                    .build(),
                Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "qr_failed"),
            };
            json_response(
                StatusCode::CREATED,
                &json!({"id": c.transaction.id, "authorization_request_uri": uri, "qr_svg": qr}),
            )
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.code()),
    }
}

async fn outcome(State(page): State<Arc<Page>>, Path(id): Path<String>) -> Response {
    let verifier = page.verifier.clone();
    match blocking(move || verifier.transaction(&id)).await {
        Ok(tx) => {
            let over_18 = tx.credentials.as_ref().and_then(|c| {
                c.get("pid")?
                    .as_array()?
                    .first()?
                    .get("claims")?
                    .get("age_equal_or_over")?
                    .get("18")?
                    .as_bool()
            });
            let status = match tx.status {
                TransactionStatus::Verified => "verified",
                TransactionStatus::Failed => "failed",
                _ => "pending",
            };
            json_response(
                StatusCode::OK,
                &json!({"status": status, "over_18": over_18, "error": tx.error.map(Value::from)}),
            )
        }
        Err(e) if e.code() == "transaction_unknown" => error(StatusCode::NOT_FOUND, e.code()),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.code()),
    }
}

const INDEX: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Over 18? — credkit verifier</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/page.css">
<script src="/page.js" defer></script>
</head>
<body>
<main>
<h1>Are you over 18?</h1>
<p>Prove it with your wallet: only “over 18” is asked for, nothing else about you.</p>
<button id="start" type="button">Check with my wallet</button>
<section id="request" hidden>
<p>Scan with your wallet, or <a id="same-device" href="#">open it on this device</a>.</p>
<div id="qr" aria-label="QR code of the request"></div>
</section>
<p id="outcome" role="status" aria-live="polite"></p>
</main>
</body>
</html>
"##;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:32rem;padding:0 1rem}\
button{font-size:1.1rem;padding:.6rem 1.2rem}#qr svg{width:240px;height:240px}\
#outcome{font-size:1.3rem;font-weight:600}";

const SCRIPT: &str = r#""use strict";
const start = document.getElementById("start");
const request = document.getElementById("request");
const link = document.getElementById("same-device");
const qr = document.getElementById("qr");
const outcome = document.getElementById("outcome");

async function poll(id) {
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const r = await fetch("/demo/over-18/" + encodeURIComponent(id), { cache: "no-store" });
    if (!r.ok) { outcome.textContent = "The check could not be read."; return; }
    const s = await r.json();
    if (s.status === "verified") {
      outcome.textContent = s.over_18 === true ? "Over 18: yes" : "Over 18: no";
      outcome.dataset.result = s.over_18 === true ? "yes" : "no";
      request.hidden = true;
      return;
    }
    if (s.status === "failed") {
      outcome.textContent = "The check failed (" + String(s.error || "unknown") + ").";
      outcome.dataset.result = "failed";
      request.hidden = true;
      return;
    }
  }
}

start.addEventListener("click", async () => {
  start.disabled = true;
  outcome.textContent = "";
  delete outcome.dataset.result;
  const r = await fetch("/demo/over-18", { method: "POST" });
  if (!r.ok) { outcome.textContent = "No check could be started."; start.disabled = false; return; }
  const c = await r.json();
  // The SVG is made by the server from the request URI; parsed, not injected as HTML.
  const svg = new DOMParser().parseFromString(c.qr_svg, "image/svg+xml").documentElement;
  qr.replaceChildren(document.importNode(svg, true));
  link.href = c.authorization_request_uri;
  request.dataset.uri = c.authorization_request_uri;
  request.hidden = false;
  outcome.textContent = "Waiting for your wallet…";
  await poll(c.id);
  start.disabled = false;
});
"#;
