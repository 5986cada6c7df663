//! OpenID4VP 1.0 interop in both roles against an independent implementation: the
//! OpenWallet Foundation's TypeScript library `@openid4vc/openid4vp` (with `jose`,
//! `@sd-jwt/sd-jwt-vc` and `dcql`), installed from npm by this test with `npm ci` from the
//! pinned `interop/openid4vp/package-lock.json`.
//!
//! - A (credkit wallet → library verifier): `interop/openid4vp/verifier.mjs` serves a signed
//!   request by reference over HTTPS on 127.0.0.1 with the test's certificates; the credkit
//!   CLI (`wallet respond --yes`) answers it; the library side verifies the response and
//!   prints the disclosed claims, which must be exactly the one asked for.
//! - B (library wallet → credkit verifier): credkit's core verifier behind the HTTPS test
//!   server of `common/oid4vp_server.rs` (shared with `respond.rs`);
//!   `interop/openid4vp/wallet.mjs` resolves the request, presents and posts; the credkit
//!   transaction must end `Verified` with exactly that claim.
//!
//! The tests skip (with a message) only when `node` or `npm` is not installed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]

#[path = "common/oid4vp_server.rs"]
mod oid4vp_server;

#[path = "common/node.rs"]
mod node;
use node::Running;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use credkit::openid4vp::ResponseMode;
use credkit::openid4vp::verifier::{PresentationRequest, TransactionStatus};
use credkit::x509::certificates_to_pem;
use oid4vp_server::{
    Dir, HttpsVerifier, ISS, REDIRECT, VCT, credkit_wallet, form_value, https_verifier, issue_pid,
    issuer, ok, over_18, root_ca, run, tls_server, verifier_leaf,
};
use serde_json::{Value, json};

/// The DNS names in the verifier's request-signing certificate (`localhost` for
/// `x509_san_dns`, whose response URI host must be the DNS name).
const VERIFIER_DNS: [&str; 2] = ["verifier.example", "localhost"];

/// The installed `interop/openid4vp` directory, or `None` (skip).
fn interop() -> Option<PathBuf> {
    node::npm_install("openid4vp", "@openid4vc/openid4vp")
}

// ---------------------------------------------------------------------------------------
// A: credkit wallet (CLI) -> @openid4vc/openid4vp verifier (verifier.mjs)
// ---------------------------------------------------------------------------------------

struct WalletSide {
    d: Dir,
    db: String,
    issuer_pub: String,
}

/// A credkit wallet set up through the CLI exactly as in respond.rs
/// ([`oid4vp_server::credkit_wallet`]): one holder key, one PID bound to it, verified with
/// the issuer's key.
fn credkit_wallet_side(name: &str) -> WalletSide {
    let d = Dir::new("interop-oid4vp", name);
    let (db, issuer_pub, _) = credkit_wallet(&d);
    WalletSide { d, db, issuer_pub }
}

/// Runs verifier.mjs with `extra` flags, answers its request with `credkit wallet respond
/// --yes [respond_flags]`, and returns (the request URL, credkit's output, the verifier's
/// result line).
fn credkit_to_library(
    name: &str,
    respond_flags: &[&str],
    extra: &[&str],
) -> Option<(String, Value, Value)> {
    let dir = interop()?;
    let started = Instant::now();
    let w = credkit_wallet_side(name);
    let ca = root_ca("credkit interop test verifier CA");
    let (leaf_der, leaf_key) = verifier_leaf(&ca, &VERIFIER_DNS);
    let anchor = w.d.write(
        "verifier-ca.pem",
        &certificates_to_pem(std::slice::from_ref(&ca.der)),
    );
    let signer_cert = w.d.write(
        "signer.pem",
        &certificates_to_pem(std::slice::from_ref(&leaf_der)),
    );
    let signer_key = w.d.write("signer.key", &leaf_key.serialize_pem());
    let (tls_ca, tls_der, tls_key) = tls_server("credkit interop test TLS CA");
    let http_root = w.d.write("tls-ca.pem", &tls_ca);
    let tls_cert = w.d.write(
        "tls.pem",
        &certificates_to_pem(std::slice::from_ref(&tls_der)),
    );
    let tls_key = w.d.write("tls.key", &tls_key.serialize_pem());

    let mut node = Running::spawn(
        "verifier.mjs",
        Command::new("node")
            .arg(dir.join("verifier.mjs"))
            .args(["--tls-cert", &tls_cert, "--tls-key", &tls_key])
            .args(["--signer-cert", &signer_cert, "--signer-key", &signer_key])
            .args(["--issuer-jwk", &w.issuer_pub, "--timeout", "40"])
            .args(extra),
    );
    let url = node.line();
    assert!(url.starts_with("openid4vp://?"), "{url}");

    let mut args = vec!["wallet", "--db", w.db.as_str(), "respond", "--yes"];
    args.extend_from_slice(respond_flags);
    args.extend_from_slice(&[
        "--http-root",
        &http_root,
        "--allow-internal-addresses",
        "--verifier-trust-anchor",
        &anchor,
        &url,
    ]);
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "credkit wallet respond failed: {}\nverifier.mjs stderr:\n{}",
        String::from_utf8_lossy(&out.stderr),
        node.stderr()
    );
    let sent: Value = serde_json::from_slice(&out.stdout).unwrap();
    let line = node.line();
    let status = node.wait();
    assert!(
        status.success(),
        "verifier.mjs: {status}\n{}",
        node.stderr()
    );
    let result: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    println!(
        "{name}: {:.1} s; credkit: {sent}; verifier.mjs: {result}",
        started.elapsed().as_secs_f64()
    );
    Some((url, sent, result))
}

fn assert_library_verified(url: &str, sent: &Value, result: &Value, prefix: &str, mode: &str) {
    assert_eq!(sent["sent"], true, "{sent}");
    assert_eq!(sent["status"], 200, "{sent}");
    assert!(
        sent["redirect_uri"]
            .as_str()
            .is_some_and(|u| u.contains("/done?response_code=")),
        "the verifier's redirect_uri is printed: {sent}"
    );
    assert_eq!(result["verified"], true, "{result}");
    assert_eq!(result["response_mode"], mode, "{result}");
    let client_id = result["client_id"].as_str().unwrap();
    assert!(client_id.starts_with(&format!("{prefix}:")), "{result}");
    assert!(
        url.contains(&format!("client_id={}", client_id.replace(':', "%3A"))),
        "{url}"
    );
    assert_eq!(
        result["kb_aud"], client_id,
        "KB-JWT aud is the full client id: {result}"
    );
    assert_eq!(result["vct"], VCT, "{result}");
    assert_eq!(result["iss"], ISS, "{result}");
    assert_eq!(
        result["claims"],
        json!({"age_equal_or_over": {"18": true}}),
        "exactly the requested claim is disclosed: {result}"
    );
}

/// HAIP: x509_hash, signed request by reference (GET, as the library offers it),
/// direct_post.jwt with the library's ECDH-ES JWE; credkit in `--haip` mode.
#[test]
fn a_credkit_wallet_answers_the_library_verifier_direct_post_jwt_haip() {
    let Some((url, sent, result)) = credkit_to_library("a-jwt", &["--haip"], &[]) else {
        return;
    };
    assert!(!url.contains("request_uri_method"), "{url}");
    assert_library_verified(&url, &sent, &result, "x509_hash", "direct_post.jwt");
    assert_eq!(
        result["request_fetches"],
        json!([{"method": "GET", "wallet_nonce": false, "wallet_metadata": false}]),
        "without request_uri_method credkit fetches once by GET: {result}"
    );
    assert_eq!(result["encrypted"], true, "{result}");
    assert_eq!(
        result["jwe_enc"], "A256GCM",
        "HAIP: A256GCM when both are offered: {result}"
    );
}

/// x509_san_dns (response URI host = the DNS name), request_uri_method=post with
/// wallet_metadata and wallet_nonce, plain direct_post.
#[test]
fn a_credkit_wallet_answers_the_library_verifier_direct_post_san_dns_post() {
    let Some((url, sent, result)) = credkit_to_library(
        "a-plain",
        &[],
        &[
            "--response-mode",
            "direct_post",
            "--client-id-prefix",
            "x509_san_dns",
            "--public-host",
            "localhost",
            "--request-uri-method",
            "post",
        ],
    ) else {
        return;
    };
    assert!(url.contains("request_uri_method=post"), "{url}");
    assert_library_verified(&url, &sent, &result, "x509_san_dns", "direct_post");
    assert_eq!(
        result["request_fetches"],
        json!([{"method": "POST", "wallet_nonce": true, "wallet_metadata": true}]),
        "credkit POSTs wallet_metadata and wallet_nonce (§5.10): {result}"
    );
    assert_eq!(result["client_id"], "x509_san_dns:localhost", "{result}");
    assert_eq!(result["encrypted"], false, "{result}");
}

// ---------------------------------------------------------------------------------------
// B: @openid4vc/openid4vp wallet (wallet.mjs) -> credkit core Verifier over HTTPS
// (the server of common/oid4vp_server.rs)
// ---------------------------------------------------------------------------------------

/// credkit's verifier (x509_hash) behind the HTTPS server, a PID for wallet.mjs, and one
/// run of wallet.mjs against a fresh `mode` transaction.
fn library_to_credkit(name: &str, mode: ResponseMode) {
    let Some(dir) = interop() else {
        return;
    };
    let started = Instant::now();
    let d = Dir::new("interop-oid4vp", name);
    let (issuer_key, _, issuer_jwk) = issuer(&d);
    let holder = d.write("holder.jwk", &ok(&["key", "generate"]));
    let cred = issue_pid(&d, &issuer_key, &holder);

    let posts = Arc::new(Mutex::new(Vec::new()));
    let HttpsVerifier {
        anchor,
        http_root,
        verifier,
        server,
    } = https_verifier(
        &d,
        "interop",
        &VERIFIER_DNS,
        &issuer_jwk,
        Some(REDIRECT),
        Some(posts.clone()),
    );

    let created = verifier
        .create(&PresentationRequest::new(over_18()).response_mode(mode))
        .unwrap();
    let mut node = Running::spawn(
        "wallet.mjs",
        Command::new("node")
            .arg(dir.join("wallet.mjs"))
            .args(["--trust-anchor", &anchor, "--http-root", &http_root])
            .args(["--credential", &cred, "--holder-key", &holder])
            .arg(&created.authorization_request_uri),
    );
    let line = node.line();
    let status = node.wait();
    let tx = verifier.transaction(&created.transaction.id).unwrap();
    assert!(
        status.success(),
        "wallet.mjs: {status}: {line}\n{}\ntransaction: {tx:?}\nrequests: {:?}",
        node.stderr(),
        server.requests()
    );
    let out: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    println!(
        "{name}: {:.1} s; wallet.mjs: {out}",
        started.elapsed().as_secs_f64()
    );

    // The library answered the offered request_uri_method=post, once, with wallet_nonce
    // (credkit signs it into the request object and the library checks it there).
    let path = format!("/request/{}", created.transaction.id);
    assert_eq!(server.hits("POST", &path), 1, "{:?}", server.requests());
    assert_eq!(server.hits("GET", &path), 0, "{:?}", server.requests());
    let posted = posts.lock().unwrap().clone();
    let (_, body) = posted.iter().find(|(p, _)| *p == path).unwrap();
    assert!(
        form_value(body.as_bytes(), "wallet_nonce").is_some(),
        "{body}"
    );
    let metadata: Value =
        serde_json::from_str(&form_value(body.as_bytes(), "wallet_metadata").unwrap()).unwrap();
    assert!(
        metadata["vp_formats_supported"]["dc+sd-jwt"].is_object(),
        "{metadata}"
    );
    assert_eq!(
        server.hits("POST", "/response"),
        1,
        "{:?}",
        server.requests()
    );
    let (_, response) = posted.iter().find(|(p, _)| p == "/response").unwrap();
    match mode {
        ResponseMode::DirectPostJwt => {
            assert!(
                response.starts_with("response=") && !response.contains('&'),
                "direct_post.jwt posts response=<JWE> only: {response}"
            );
            assert_eq!(out["jwe"]["alg"], "ECDH-ES", "{out}");
            assert_eq!(out["jwe"]["kid"], created.transaction.id.as_str(), "{out}");
        }
        _ => assert!(
            form_value(response.as_bytes(), "vp_token").is_some(),
            "{response}"
        ),
    }

    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["body"], json!({"redirect_uri": REDIRECT}), "{out}");
    assert_eq!(out["response_mode"], mode.name(), "{out}");
    assert_eq!(out["client_id"], verifier.client_id(), "{out}");
    assert_eq!(
        out["disclosed"],
        json!({"pid": [["age_equal_or_over", "18"]]}),
        "{out}"
    );

    assert_eq!(tx.status, TransactionStatus::Verified, "{:?}", tx.error);
    let creds = tx.credentials.unwrap();
    assert_eq!(creds.as_object().unwrap().len(), 1, "{creds}");
    assert_eq!(creds["pid"].as_array().unwrap().len(), 1, "{creds}");
    assert_eq!(creds["pid"][0]["vct"], VCT, "{creds}");
    assert_eq!(creds["pid"][0]["issuer"], ISS, "{creds}");
    assert_eq!(
        creds["pid"][0]["claims"],
        json!({"age_equal_or_over": {"18": true}}),
        "exactly the requested claim is disclosed: {creds}"
    );
}

#[test]
fn b_library_wallet_answers_the_credkit_verifier_direct_post_jwt() {
    library_to_credkit("b-jwt", ResponseMode::DirectPostJwt);
}

#[test]
fn b_library_wallet_answers_the_credkit_verifier_direct_post() {
    library_to_credkit("b-plain", ResponseMode::DirectPost);
}
