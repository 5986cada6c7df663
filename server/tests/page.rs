//! The verifier's "over 18?" page in a real browser: Debian's headless Chromium, driven by
//! `playwright-core` from npm (installed by this test with `npm ci`), opens `GET /`, clicks
//! the button and reads the request the page shows (with its QR code); credkit's wallet
//! answers it; the page must then show "Over 18: yes". Skips, saying so, only when Chromium,
//! node or npm is missing (`scripts/test-all` installs Chromium).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use credkit::crypto::Signer;
use credkit::rand::OsRandom;
use serde_json::Value;

mod common;
use common::{Server, holder};

fn chromium() -> Option<PathBuf> {
    let p = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    p.exists().then_some(p)
}

fn has(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The driver directory with its npm packages installed, or `None` (skip) when a tool is
/// missing.
fn driver() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/page");
    let missing: Vec<&str> = ["node", "npm"].into_iter().filter(|t| !has(t)).collect();
    if chromium().is_none() || !missing.is_empty() {
        eprintln!(
            "SKIP: the page test needs /usr/bin/chromium (or $CHROMIUM), node and npm; missing: chromium={} {missing:?}",
            chromium().is_none()
        );
        return None;
    }
    if !dir.join("node_modules/playwright-core").exists() {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "npm ci failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Some(dir)
}

#[test]
fn the_over_18_page_in_headless_chromium() {
    let Some(dir) = driver() else { return };
    let h = holder(1);
    let issuer_key = Value::Object(h.issuer.public_jwk().to_json()).to_string();
    let server = Server::start(
        "verifier",
        &[("issuer.pub.jwk", &issuer_key)],
        &["--issuer-key", "{dir}/issuer.pub.jwk"],
    );
    // The page itself: a strict CSP, no inline script.
    let mut r = server
        .agent()
        .get(&format!("{}/", server.url))
        .call()
        .unwrap();
    let csp = r
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = r.body_mut().read_to_string().unwrap();
    assert!(html.contains("id=\"start\"") && !html.contains("<script>"));

    let mut child = Command::new("node")
        .arg(dir.join("over18.mjs"))
        .arg(&server.url)
        .env("CHROMIUM", chromium().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_else(|| {
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
        panic!("the browser driver printed nothing: {err}");
    });
    let shown: Value = serde_json::from_str(&first).unwrap();
    let uri = shown["request_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("openid4vp://?client_id=x509_hash%3A"),
        "{uri}"
    );
    // The wallet scans it and answers with the least disclosure.
    let fetcher = server.fetcher();
    let request = server
        .wallet_policy()
        .resolve(uri, &fetcher, &OsRandom)
        .unwrap();
    let choices = request.least_disclosure(&h.wallet).unwrap();
    let sent = request
        .respond(&h.wallet, &choices, &OsRandom)
        .unwrap()
        .send(&fetcher)
        .unwrap();
    assert_eq!(sent.status, 200);
    let second = lines
        .next()
        .and_then(Result::ok)
        .expect("the page's outcome");
    let done: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(done["outcome"], "Over 18: yes", "{done}");
    assert_eq!(done["result"], "yes");
    assert_eq!(done["qr"], true, "the page shows the request as a QR code");
    assert_eq!(
        done["errors"],
        serde_json::json!([]),
        "no script errors or CSP violations"
    );
    assert!(child.wait().unwrap().success());
    // The page's endpoints reveal only the answer.
    let (status, _) = server.call("GET", "/demo/over-18/unknown", None, None);
    assert_eq!(status, 404);
}
