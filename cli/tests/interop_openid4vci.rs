//! OpenID4VCI 1.0 interop in both roles against an independent implementation: the
//! OpenWallet Foundation's TypeScript library `@openid4vc/openid4vci` (with
//! `@openid4vc/oauth2`, `jose` and `@sd-jwt/sd-jwt-vc`), installed from npm by this test with
//! `npm ci` from the pinned `interop/openid4vci/package-lock.json`.
//!
//! - credkit wallet ← library issuer: `interop/openid4vci/issuer.mjs` serves one offer over
//!   HTTPS on 127.0.0.1 with the test's certificates; the credkit CLI (`wallet
//!   accept-offer`) redeems it (pre-authorized code with a Transaction Code, or the
//!   authorization code flow), verifies the batch with the issuer's key and stores it.
//! - library wallet → credkit issuer: credkit's core `Issuer` behind the HTTPS test server
//!   of `common/vci_server.rs`; `interop/openid4vci/wallet.mjs` redeems a pre-authorized
//!   offer for a batch of two; each credential must verify with credkit against the
//!   issuer's key and be bound to the key the library proved.
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

#[path = "common/vci_server.rs"]
mod vci_server;

#[path = "common/node.rs"]
mod node;
use node::Running;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Instant;

use credkit::crypto::default_provider;
use credkit::jose::{Algorithm, PublicJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{KeyBindingPolicy, StaticIssuerKeys};
use credkit::sd_jwt_vc::{TrustPolicy, VcVerifier};
use credkit::x509::certificates_to_pem;
use serde_json::Value;
use vci_server::{KEY, VCT, temp_dir, tls_server};

const TX_CODE: &str = "493536";

/// The installed `interop/openid4vci` directory, or `None` (skip).
fn interop() -> Option<PathBuf> {
    node::npm_install("openid4vci", "@openid4vc/openid4vci")
}

// ---------------------------------------------------------------------------------------
// The credkit CLI, with the store key in CREDKIT_WALLET_KEY
// ---------------------------------------------------------------------------------------

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credkit"))
        .args(args)
        .env("CREDKIT_WALLET_KEY", KEY)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok_json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---------------------------------------------------------------------------------------
// credkit wallet (CLI) <- @openid4vc/openid4vci issuer (issuer.mjs)
// ---------------------------------------------------------------------------------------

/// A temporary directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn file(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        path_str(&p).to_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs issuer.mjs (`--batch-size 3` and `extra`) with a fresh TLS certificate for
/// 127.0.0.1 and a fresh P-256 issuer key, has `credkit wallet accept-offer [cli_flags]`
/// redeem its offer for `count` copies, and checks what credkit printed and stored and
/// that the library issued them.
fn credkit_from_library(name: &str, extra: &[&str], cli_flags: &[&str], count: u64) {
    let Some(dir) = interop() else {
        return;
    };
    let started = Instant::now();
    let d = Dir(temp_dir(&format!("interop-oid4vci-{name}")));
    let (ca_pem, leaf_der, leaf_key) = tls_server("credkit interop OpenID4VCI TLS CA");
    let ca = d.file("ca.pem", &ca_pem);
    let cert = d.file(
        "leaf.pem",
        &certificates_to_pem(std::slice::from_ref(&leaf_der)),
    );
    let key = d.file("leaf.key", &leaf_key.serialize_pem());
    let issuer_key = default_provider()
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap();
    let issuer_private = d.file("issuer.jwk", &issuer_key.to_json_string());
    let issuer_public = d.file(
        "issuer.pub.jwk",
        &Value::Object(issuer_key.public().to_json()).to_string(),
    );

    let mut node = Running::spawn(
        "issuer.mjs",
        Command::new("node")
            .arg(dir.join("issuer.mjs"))
            .args(["--cert", &cert, "--key", &key, "--port", "0"])
            .args(["--issuer-key", &issuer_private, "--batch-size", "3"])
            .args(extra),
    );
    let start = node.json_line();
    let url = start["listening"].as_str().unwrap().to_owned();
    let offer = start["offer"].as_str().unwrap().to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{start}");
    assert!(
        offer.starts_with("openid-credential-offer://?credential_offer"),
        "{start}"
    );

    // accept-offer creates the wallet file.
    let db = path_str(&d.0.join("wallet.db")).to_owned();

    let count_text = count.to_string();
    let mut args = vec!["wallet", "--db", db.as_str(), "accept-offer"];
    args.extend_from_slice(cli_flags);
    args.extend_from_slice(&[
        "--count",
        &count_text,
        "--http-root",
        &ca,
        "--allow-internal-addresses",
        "--issuer-key",
        &issuer_public,
        &offer,
    ]);
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "credkit wallet accept-offer failed: {}\nissuer.mjs stderr:\n{}",
        String::from_utf8_lossy(&out.stderr),
        node.stderr()
    );
    let accepted: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "accept-offer: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(accepted["count"], count, "{accepted}");
    assert_eq!(accepted["format"], "dc+sd-jwt", "{accepted}");
    assert_eq!(accepted["vct"], VCT, "{accepted}");
    let batch = accepted["batch"].as_str().unwrap();
    assert!(!batch.is_empty(), "{accepted}");

    // The batch is stored: every copy unused, verified claims as the library issued them.
    let list = ok_json(&["wallet", "--db", &db, "list"]);
    let held: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["batch"] == batch)
        .collect();
    assert_eq!(held.len(), 1, "{list}");
    let held = held[0];
    assert_eq!(held["copies"], count, "{held}");
    assert_eq!(held["unused"], count, "{held}");
    assert_eq!(held["vct"], VCT, "{held}");
    assert_eq!(held["issuer"], url.as_str(), "{held}");
    assert_eq!(held["claims"]["given_name"], "Erika", "{held}");
    assert_eq!(held["claims"]["family_name"], "Mustermann", "{held}");
    assert_eq!(held["claims"]["age_equal_or_over"]["18"], true, "{held}");

    let log = node.stderr();
    assert!(
        log.contains("POST /credential -> 200"),
        "issuer.mjs log:\n{log}"
    );
    assert!(
        !log.contains("-> 5"),
        "the library issuer hit a server error:\n{log}"
    );
    println!(
        "{name}: {:.1} s; credkit: {accepted}; issuer.mjs log:\n{log}",
        started.elapsed().as_secs_f64()
    );
    drop(node);
}

/// Pre-authorized code with a Transaction Code, DPoP with the AS nonce retry, a batch of 3.
#[test]
fn node_issuer_to_credkit_wallet_pre_authorized() {
    credkit_from_library(
        "pre-auth",
        &["--tx-code", TX_CODE],
        &["--tx-code", TX_CODE],
        3,
    );
}

/// Authorization code: PAR with PKCE S256 and `issuer_state`, the authorization redirect
/// followed by credkit (`--follow-authorization`), the code redeemed, a batch of 2.
#[test]
fn node_issuer_authorization_code_follow() {
    credkit_from_library(
        "auth-code",
        &["--authorization-code"],
        &["--follow-authorization"],
        2,
    );
}

// ---------------------------------------------------------------------------------------
// @openid4vc/openid4vci wallet (wallet.mjs) -> credkit core Issuer over HTTPS
// (the server of common/vci_server.rs)
// ---------------------------------------------------------------------------------------

#[test]
fn node_wallet_against_credkit_issuer() {
    let Some(dir) = interop() else {
        return;
    };
    let started = Instant::now();
    let server = vci_server::start(|_| {});
    let (uri, tx_code) = server.offer(true, false, false);
    let tx_code = tx_code.unwrap();
    let mut node = Running::spawn(
        "wallet.mjs",
        Command::new("node")
            .arg(dir.join("wallet.mjs"))
            .args(["--ca", path_str(&server.ca_pem_path)])
            .args(["--offer", &uri, "--tx-code", &tx_code, "--count", "2"]),
    );
    let line = node.line();
    let status = node.wait();
    assert!(
        status.success(),
        "wallet.mjs: {status}: {line}\n{}\nrequests: {:?}",
        node.stderr(),
        server.requests()
    );
    let out: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    println!(
        "node_wallet_against_credkit_issuer: {:.1} s; requests: {:?}",
        started.elapsed().as_secs_f64(),
        server.requests()
    );
    assert_eq!(out["token_type"], "DPoP", "{out}");
    let credentials = out["credentials"].as_array().unwrap();
    let holder_keys = out["holder_keys"].as_array().unwrap();
    assert_eq!(credentials.len(), 2, "{out}");
    assert_eq!(holder_keys.len(), 2, "{out}");

    // Each credential verifies against the issuer's key (real clock), with every
    // Disclosure, and is bound to the key the library proved for it.
    let keys = StaticIssuerKeys::single(&server.issuer_jwk(), default_provider()).unwrap();
    let verifier = VcVerifier::builder(Arc::new(TrustPolicy::new().otherwise(Arc::new(keys))))
        .key_binding(KeyBindingPolicy::Forbidden)
        .build()
        .unwrap();
    let mut bound = Vec::new();
    for (cred, holder) in credentials.iter().zip(holder_keys) {
        let received = verifier
            .receive(cred.as_str().unwrap())
            .unwrap_or_else(|e| panic!("credkit rejects the credential: {e}"));
        let v = &received.verified;
        assert_eq!(v.vct.as_str(), VCT);
        assert_eq!(v.issuer.as_deref(), Some(server.url.as_str()));
        let claims = v.claims();
        assert_eq!(claims["given_name"], "Erika", "{claims:?}");
        assert_eq!(claims["family_name"], "Mustermann", "{claims:?}");
        assert_eq!(claims["birthdate"], "1964-08-12", "{claims:?}");
        assert_eq!(claims["age_equal_or_over"]["18"], true, "{claims:?}");
        let cnf = PublicJwk::from_json(claims["cnf"]["jwk"].as_object().unwrap()).unwrap();
        let holder = PublicJwk::from_json(holder.as_object().unwrap()).unwrap();
        assert!(
            cnf.same_key(&holder),
            "cnf.jwk {:?} is not the holder key {:?}",
            cnf.to_json(),
            holder.to_json()
        );
        bound.push(cnf);
    }
    assert!(!bound[0].same_key(&bound[1]), "each copy has its own key");

    for path in ["/token", "/nonce", "/credential"] {
        assert_eq!(
            server.hits(path, 200),
            1,
            "{path} 200 once: {:?}",
            server.requests()
        );
    }
    assert!(
        server.requests().iter().all(|(_, s)| *s < 500),
        "{:?}",
        server.requests()
    );
}
