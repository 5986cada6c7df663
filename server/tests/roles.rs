//! Both services together: a PID obtained from `credkit-server issuer` over OpenID4VCI is
//! presented to `credkit-server verifier` over OpenID4VP; the verifier checks its Token
//! Status List (trusting the issuer's `x5c` CA), answers later presentations from its cache
//! (no fetch at presentation time), and a verifier that never met the list sees a revocation;
//! CORS on the DC API response endpoint for the configured origin only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

use std::sync::Arc;

use credkit::http::{FetchPolicy, Fetcher, UreqClient};
use credkit::oauth::Secret;
use credkit::openid4vci::wallet::{Env, Issuance, IssuanceOptions, run};
use credkit::openid4vp::wallet::WalletPolicy;
use credkit::rand::OsRandom;
use credkit::sd_jwt::KeyBindingPolicy;
use credkit::sd_jwt_vc::{TrustPolicy, VcVerifier, X5cTrust};
use credkit::time::SystemClock;
use credkit::wallet::{KeyManager, MemoryStore, SoftwareKeyManager, Wallet};
use credkit::x509::TrustAnchors;
use serde_json::{Value, json};

mod common;
use common::Server;

fn anchors(servers: &[&Server]) -> TrustAnchors {
    let mut a = TrustAnchors::new();
    for s in servers {
        for c in s.ca() {
            a.add_der(&c).unwrap();
        }
    }
    a
}

fn fetcher(servers: &[&Server]) -> Fetcher {
    let roots: Vec<Vec<u8>> = servers.iter().flat_map(|s| s.ca()).collect();
    Fetcher::with_policy(
        Arc::new(UreqClient::with_root_certificates(&roots)),
        credkit::http::danger::allow_internal_addresses(FetchPolicy::default()),
    )
}

fn over_18() -> Value {
    json!({
        "dcql_query": {"credentials": [{"id": "pid", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["urn:eudi:pid:1"]},
            "claims": [{"path": ["age_equal_or_over", "18"]}]}]},
        "response_mode": "direct_post.jwt",
        "client_id_prefix": "x509_hash",
    })
}

/// Starts a presentation on `verifier`, answers it with one copy from `wallet`, and returns
/// the result document.
fn present(verifier: &Server, issuer: &Server, wallet: &Wallet) -> Value {
    let (status, created) = verifier.call(
        "POST",
        "/v1/presentations",
        Some(&verifier.token),
        Some(&over_18()),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let uri = created["authorization_request_uri"].as_str().unwrap();
    let f = fetcher(&[verifier, issuer]);
    let policy = WalletPolicy::new(anchors(&[verifier])).fetch_policy(
        credkit::http::danger::allow_internal_addresses(FetchPolicy::default()),
    );
    let request = policy.resolve(uri, &f, &OsRandom).unwrap();
    let choices = request.least_disclosure(wallet).unwrap();
    let outcome = request
        .respond(wallet, &choices, &OsRandom)
        .unwrap()
        .send(&f)
        .unwrap();
    assert_eq!(outcome.status, 200);
    let (_, done) = verifier.call(
        "GET",
        &format!("/v1/presentations/{id}"),
        Some(&verifier.token),
        None,
    );
    done
}

#[test]
fn issued_presented_revoked() {
    let issuer = Server::start("issuer", &[], &[]);
    let issuer_ca = issuer.dir.join("dev/ca.pem").display().to_string();
    let verifier_args = [
        "--trust-anchor",
        issuer_ca.as_str(),
        "--http-root",
        issuer_ca.as_str(),
        "--allow-internal-addresses",
        "--cors-origin",
        "https://shop.example",
    ];
    let verifier = Server::start("verifier", &[], &verifier_args);

    // The wallet obtains three copies of a PID from the issuer service.
    let body = json!({"claims": {"given_name": "Erika", "age_equal_or_over": {"18": true}}, "tx_code": true});
    let (status, created) = issuer.call("POST", "/v1/offers", Some(&issuer.token), Some(&body));
    assert_eq!(status, 201, "{created}");
    let keys: Arc<dyn KeyManager> = Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom)));
    let trust =
        Arc::new(TrustPolicy::new().otherwise(Arc::new(X5cTrust::new(anchors(&[&issuer])))));
    let wallet = Wallet::new(
        Arc::new(MemoryStore::new()),
        keys.clone(),
        VcVerifier::builder(trust)
            .key_binding(KeyBindingPolicy::Forbidden)
            .build()
            .unwrap(),
    );
    let mut options = IssuanceOptions::default();
    options.tx_code = Some(Secret::new(created["tx_code"].as_str().unwrap()));
    options.count = 3;
    let mut flow =
        Issuance::from_offer_uri(created["credential_offer_uri"].as_str().unwrap(), options)
            .unwrap();
    let env = Env::new(&keys, None, &SystemClock, &OsRandom);
    let issued = run(
        &mut flow,
        &fetcher(&[&issuer]),
        &env,
        &mut |_| panic!(),
        &mut |_| {},
    )
    .unwrap();
    wallet.add_issued(&issued).unwrap();

    // Presented: verified, only the requested claim, the status list met and checked.
    let done = present(&verifier, &issuer, &wallet);
    assert_eq!(done["status"], "verified", "{done}");
    assert_eq!(
        done["credentials"]["pid"][0]["claims"],
        json!({"age_equal_or_over": {"18": true}})
    );

    // The issuer revokes every copy.
    let (_, produced) = issuer.call(
        "GET",
        &format!("/v1/offers/{}", created["id"].as_str().unwrap()),
        Some(&issuer.token),
        None,
    );
    for c in produced["credentials"].as_array().unwrap() {
        let (status, _) = issuer.call(
            "POST",
            &format!("/v1/credentials/{}/revoke", c["id"].as_str().unwrap()),
            Some(&issuer.token),
            Some(&json!({})),
        );
        assert_eq!(status, 204);
    }
    // This verifier answers from its cache (refreshed in the background, never at
    // presentation time): the presentation still passes within the list's ttl.
    let done = present(&verifier, &issuer, &wallet);
    assert_eq!(done["status"], "verified", "{done}");
    // A verifier that never met the list fetches it and sees the revocation.
    let fresh = Server::start("verifier", &[], &verifier_args);
    let done = present(&fresh, &issuer, &wallet);
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"], "credential_revoked", "{done}");
}

#[test]
fn cors_only_for_the_dc_api_response_and_configured_origins() {
    let verifier = Server::start("verifier", &[], &["--cors-origin", "https://shop.example"]);
    let agent = verifier.agent();
    let preflight = |path: &str, origin: &str| {
        let req = ureq::http::Request::builder()
            .method("OPTIONS")
            .uri(format!("{}{path}", verifier.url))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .body(())
            .unwrap();
        let resp = agent.run(req).unwrap();
        resp.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let dc = "/v1/presentations/x/dc-api-response";
    assert_eq!(
        preflight(dc, "https://shop.example").as_deref(),
        Some("https://shop.example")
    );
    assert_eq!(preflight(dc, "https://evil.example"), None);
    assert_eq!(preflight("/v1/presentations", "https://shop.example"), None);
    assert_eq!(preflight("/oid4vp/response", "https://shop.example"), None);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_credkit-server"))
        .args([
            "verifier",
            "--dev",
            "--cors-origin",
            "https://shop.example/page",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
