//! `credkit wallet accept-offer` (the CLI contract of the OpenID4VCI issue) against credkit's
//! own issuer served over HTTPS on 127.0.0.1 in the test process: success prints
//! {"batch", "count", "format", "vct"} and stores one batch; refusals exit 1 with one
//! stderr line `code: message` and store nothing; usage errors exit 2.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "common/vci_server.rs"]
mod vci_server;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use vci_server::{KEY, VCT, start, temp_dir};

fn credkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credkit"))
        .args(args)
        .env("CREDKIT_WALLET_KEY", KEY)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn accept(db: &Path, server: &vci_server::VciServer, extra: &[&str], offer: &str) -> Output {
    let db = db.to_str().unwrap();
    let ca = server.ca_pem_path.to_str().unwrap();
    let key = server.issuer_key_path.to_str().unwrap();
    let mut args = vec![
        "wallet",
        "--db",
        db,
        "accept-offer",
        "--http-root",
        ca,
        "--allow-internal-addresses",
        "--issuer-key",
        key,
    ];
    args.extend_from_slice(extra);
    args.push(offer);
    credkit(&args)
}

fn list(db: &Path) -> Vec<Value> {
    let out = credkit(&["wallet", "--db", db.to_str().unwrap(), "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn refused(out: &Output, code: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or("");
    assert!(last.starts_with(&format!("{code}: ")), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn pre_authorized_with_tx_code_stores_one_batch() {
    let server = start(|_| {});
    let dir = temp_dir("accept-pre");
    let db = dir.join("w.db");
    let (offer, tx) = server.offer(true, false, false);
    let out = accept(
        &db,
        &server,
        &["--tx-code", tx.as_deref().unwrap(), "--count", "3"],
        &offer,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["count"], 3);
    assert_eq!(v["format"], "dc+sd-jwt");
    assert_eq!(v["vct"], VCT);
    let held = list(&db);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["batch"], v["batch"]);
    assert_eq!(held[0]["copies"], 3);
    assert_eq!(held[0]["claims"]["given_name"], "Erika");
    // The issuer was told the credentials were accepted.
    assert_eq!(server.hits("/notification", 204), 1);
}

#[test]
fn authorization_code_by_reference_with_follow() {
    let server = start(|_| {});
    let dir = temp_dir("accept-code");
    let db = dir.join("w.db");
    let (offer, _) = server.offer(false, true, true);
    let out = accept(
        &db,
        &server,
        &["--follow-authorization", "--count", "2"],
        &offer,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/authorize?"),
        "the authorization URL is printed: {stderr}"
    );
    assert_eq!(list(&db)[0]["copies"], 2);
    assert_eq!(server.hits("/par", 201), 1);
}

#[test]
fn refusals_store_nothing() {
    let server = start(|_| {});
    let dir = temp_dir("accept-refused");
    let db = dir.join("w.db");
    // A wrong transaction code.
    let (offer, _) = server.offer(true, false, false);
    refused(
        &accept(&db, &server, &["--tx-code", "000000"], &offer),
        "invalid_grant",
    );
    // No transaction code where the offer needs one: nothing is sent.
    let before = server.requests().len();
    refused(&accept(&db, &server, &[], &offer), "invalid_offer");
    assert_eq!(server.requests().len(), before);
    // An issuer the wallet does not trust: the credentials arrive and are not stored.
    let (offer, _) = server.offer(false, false, false);
    let other = dir.join("other.jwk");
    let k = credkit::crypto::default_provider()
        .generate(credkit::jose::Algorithm::Es256, &credkit::rand::OsRandom)
        .unwrap();
    std::fs::write(&other, Value::Object(k.public().to_json()).to_string()).unwrap();
    let out = credkit(&[
        "wallet",
        "--db",
        db.to_str().unwrap(),
        "accept-offer",
        "--http-root",
        server.ca_pem_path.to_str().unwrap(),
        "--allow-internal-addresses",
        "--issuer-key",
        other.to_str().unwrap(),
        &offer,
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        server.hits("/notification", 204),
        1,
        "credential_failure is reported"
    );
    // The same offer's code is spent; a malformed offer link.
    refused(&accept(&db, &server, &[], &offer), "invalid_grant");
    refused(
        &accept(&db, &server, &[], "openid-credential-offer://?x=1"),
        "invalid_offer",
    );
    assert!(list(&db).is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let dir = temp_dir("accept-usage");
    let db = dir.join("w.db");
    // No issuer trust at all; --count out of range.
    let out = credkit(&[
        "wallet",
        "--db",
        db.to_str().unwrap(),
        "accept-offer",
        "openid-credential-offer://?x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = credkit(&[
        "wallet",
        "--db",
        db.to_str().unwrap(),
        "accept-offer",
        "--issuer-key",
        "k.jwk",
        "--count",
        "0",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// A Wallet Attestation (ABCA-07) from a test wallet provider, for `--wallet-attestation`:
/// the attestation JWT and the private JWK of its `cnf` key.
fn wallet_attestation(provider: &credkit::jose::PrivateJwk) -> (String, credkit::jose::PrivateJwk) {
    use credkit::crypto::default_provider;
    let p = default_provider();
    let instance = p
        .generate(credkit::jose::Algorithm::Es256, &credkit::rand::OsRandom)
        .unwrap();
    let claims = serde_json::json!({
        "iss": "https://wallet-provider.example",
        "sub": "credkit-test-wallet",
        "exp": 4_000_000_000_i64,
        "cnf": {"jwk": Value::Object(instance.public().minimal_json())},
    });
    let header = serde_json::json!({"typ": "oauth-client-attestation+jwt", "alg": "ES256"});
    let input = format!(
        "{}.{}",
        credkit::b64::encode(header.to_string().as_bytes()),
        credkit::b64::encode(claims.to_string().as_bytes())
    );
    let signer = p.signer(provider).unwrap();
    let sig = signer.sign(input.as_bytes()).unwrap();
    (format!("{input}.{}", credkit::b64::encode(&sig)), instance)
}

#[test]
fn issuers_that_require_wallet_attestation() {
    use credkit::crypto::default_provider;
    let provider = default_provider()
        .generate(credkit::jose::Algorithm::Es256, &credkit::rand::OsRandom)
        .unwrap();
    let mut trusted = credkit::sd_jwt::StaticIssuerKeys::new();
    trusted.add(provider.public(), default_provider()).unwrap();
    let trusted = std::sync::Arc::new(trusted);
    let server = start(move |c| {
        c.client_attestation = Some(credkit::oauth::client_attestation::AttestationPolicy::new(
            trusted,
        ));
        c.pre_authorized_anonymous = false;
    });
    let dir = temp_dir("accept-attested");
    let db = dir.join("w.db");
    // Without an attestation the token endpoint refuses the anonymous client.
    let (offer, _) = server.offer(false, false, false);
    refused(&accept(&db, &server, &[], &offer), "invalid_client");
    // With one, in the JSON form and in the two-part text form.
    let (jwt, key) = wallet_attestation(&provider);
    let json_file = dir.join("wa.json");
    std::fs::write(
        &json_file,
        serde_json::json!({"attestation": jwt, "key": serde_json::from_str::<Value>(key.to_json_string().as_str()).unwrap()}).to_string(),
    )
    .unwrap();
    let text_file = dir.join("wa.txt");
    std::fs::write(
        &text_file,
        format!("{jwt}\n{}\n", key.to_json_string().as_str()),
    )
    .unwrap();
    for file in [&json_file, &text_file] {
        let (offer, _) = server.offer(false, false, false);
        let out = accept(
            &db,
            &server,
            &["--wallet-attestation", file.to_str().unwrap()],
            &offer,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The authorization code flow authenticates at PAR too.
    let (offer, _) = server.offer(false, true, false);
    let out = accept(
        &db,
        &server,
        &[
            "--wallet-attestation",
            json_file.to_str().unwrap(),
            "--follow-authorization",
        ],
        &offer,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(list(&db).len(), 3);
    // A file that is neither form is a usage error.
    let junk = dir.join("junk.txt");
    std::fs::write(&junk, "hello").unwrap();
    let (offer, _) = server.offer(false, false, false);
    let out = accept(
        &db,
        &server,
        &["--wallet-attestation", junk.to_str().unwrap()],
        &offer,
    );
    assert_eq!(out.status.code(), Some(2));
}
