//! `credkit-server verifier` as a process: started with `--dev`, asked for an "over 18?"
//! presentation through the management API, answered over HTTPS on loopback by credkit's
//! wallet (the blocking driver over `UreqClient`), read back as `verified` with only the
//! requested claim; the token, the status codes, replay, and SIGTERM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

use std::process::Command;

use credkit::crypto::Signer;
use credkit::rand::OsRandom;
use serde_json::{Value, json};

mod common;
use common::{Server, holder};

fn over_18(prefix: &str, mode: &str) -> Value {
    json!({
        "dcql_query": {"credentials": [{"id": "pid", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["urn:eudi:pid:1"]},
            "claims": [{"path": ["age_equal_or_over", "18"]}]}]},
        "response_mode": mode,
        "client_id_prefix": prefix,
    })
}

#[test]
fn an_over_18_check_end_to_end() {
    let h = holder(3);
    let issuer_key = Value::Object(h.issuer.public_jwk().to_json()).to_string();
    let server = Server::start(
        "verifier",
        &[("issuer.pub.jwk", &issuer_key)],
        &["--issuer-key", "{dir}/issuer.pub.jwk"],
    );
    for (prefix, mode) in [
        ("x509_hash", "direct_post.jwt"),
        ("x509_san_dns", "direct_post"),
    ] {
        let (status, created) = server.call(
            "POST",
            "/v1/presentations",
            Some(&server.token),
            Some(&over_18(prefix, mode)),
        );
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap();
        let uri = created["authorization_request_uri"].as_str().unwrap();
        assert!(
            uri.starts_with(&format!("openid4vp://?client_id={prefix}%3A")),
            "{uri}"
        );
        assert!(created["expires_at"].as_i64().unwrap() > 0);
        assert!(!uri.contains("client_id_scheme"));
        let (_, pending) = server.call(
            "GET",
            &format!("/v1/presentations/{id}"),
            Some(&server.token),
            None,
        );
        assert_eq!(pending["status"], "pending");
        // The wallet resolves the request (POST with wallet_nonce), sees who asks, answers.
        let fetcher = server.fetcher();
        let request = server
            .wallet_policy()
            .resolve(uri, &fetcher, &OsRandom)
            .unwrap();
        assert!(request.verifier().authenticated);
        let choices = request.least_disclosure(&h.wallet).unwrap();
        let outcome = request
            .respond(&h.wallet, &choices, &OsRandom)
            .unwrap()
            .send(&fetcher)
            .unwrap();
        assert_eq!(outcome.status, 200);
        let (status, done) = server.call(
            "GET",
            &format!("/v1/presentations/{id}"),
            Some(&server.token),
            None,
        );
        assert_eq!(status, 200);
        assert_eq!(done["status"], "verified", "{done}");
        let pid = &done["credentials"]["pid"][0];
        assert_eq!(pid["claims"], json!({"age_equal_or_over": {"18": true}}));
        assert_eq!(pid["vct"], "urn:eudi:pid:1");
        assert_eq!(pid["format"], "dc+sd-jwt");
        assert_eq!(pid["issuer"], "https://pid-provider.example");
    }
    // The management API needs the token; unknown ids are 404.
    let (status, _) = server.call(
        "POST",
        "/v1/presentations",
        None,
        Some(&over_18("x509_hash", "direct_post.jwt")),
    );
    assert_eq!(status, 401);
    let (status, _) = server.call(
        "POST",
        "/v1/presentations",
        Some("wrong"),
        Some(&over_18("x509_hash", "direct_post.jwt")),
    );
    assert_eq!(status, 401);
    let (status, _) = server.call("GET", "/v1/presentations/nope", Some(&server.token), None);
    assert_eq!(status, 404);
    let (status, body) = server.call(
        "POST",
        "/v1/presentations",
        Some(&server.token),
        Some(&json!({"dcql_query": {}})),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("dcql_invalid"))
    );
    let (status, _) = server.call("GET", "/healthz", None, None);
    assert_eq!(status, 200);
    let (status, _) = server.call("GET", "/readyz", None, None);
    assert_eq!(status, 200);
    assert!(server.terminate().success(), "SIGTERM drains and exits 0");
}

#[test]
fn a_failing_response_ends_the_presentation_as_failed() {
    let h = holder(2);
    let issuer_key = Value::Object(h.issuer.public_jwk().to_json()).to_string();
    let server = Server::start(
        "verifier",
        &[("issuer.pub.jwk", &issuer_key)],
        &["--issuer-key", "{dir}/issuer.pub.jwk"],
    );
    let (_, created) = server.call(
        "POST",
        "/v1/presentations",
        Some(&server.token),
        Some(&over_18("x509_hash", "direct_post")),
    );
    let id = created["id"].as_str().unwrap();
    let fetcher = server.fetcher();
    let request = server
        .wallet_policy()
        .resolve(
            created["authorization_request_uri"].as_str().unwrap(),
            &fetcher,
            &OsRandom,
        )
        .unwrap();
    // Presented for another audience: the response is processed and the check fails.
    let batch = h.wallet.list().unwrap()[0].batch.clone();
    let wrong = h
        .wallet
        .present(
            &batch,
            &["/age_equal_or_over/18"],
            "x509_hash:someone-else",
            &request.params().nonce,
        )
        .unwrap();
    let body = format!(
        "vp_token={}&state={}",
        percent(&json!({"pid": [wrong]}).to_string()),
        request.params().state.clone().unwrap()
    );
    let post = credkit::openid4vp::wallet::ResponsePost::handle_reply(
        &fetcher
            .post(
                &format!("{}/oid4vp/response", server.url),
                "application/x-www-form-urlencoded",
                None,
                body.as_bytes(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(post.status, 200);
    let (_, done) = server.call(
        "GET",
        &format!("/v1/presentations/{id}"),
        Some(&server.token),
        None,
    );
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"], "aud_mismatch");
    assert!(done.get("credentials").is_none());
    // A second response to the same presentation is refused.
    let again = fetcher
        .post(
            &format!("{}/oid4vp/response", server.url),
            "application/x-www-form-urlencoded",
            None,
            body.as_bytes(),
        )
        .unwrap();
    assert_eq!(again.status, 400);
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_credkit-server"))
        .args(["verifier", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
