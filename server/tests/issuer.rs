//! `credkit-server issuer` as a process: started with `--dev`, asked for a PID offer through
//! the management API, redeemed over HTTPS on loopback by credkit's wallet (the blocking
//! OpenID4VCI driver over `UreqClient`, trusting the dev CA for the issuer's `x5c`), the
//! credentials listed for the offer and one revoked through the status list; the token,
//! the status codes and SIGTERM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

use std::sync::Arc;

use credkit::oauth::Secret;
use credkit::openid4vci::wallet::{Env, Issuance, IssuanceOptions, run};
use credkit::rand::OsRandom;
use credkit::sd_jwt::KeyBindingPolicy;
use credkit::sd_jwt_vc::{TrustPolicy, VcVerifier, X5cTrust};
use credkit::status_list::{Status, StatusChecker};
use credkit::time::SystemClock;
use credkit::wallet::{KeyManager, MemoryStore, SoftwareKeyManager, Wallet};
use credkit::x509::TrustAnchors;
use serde_json::{Value, json};

mod common;
use common::Server;

const PID: &str = "eu.europa.ec.eudi.pid_vc_sd_jwt";

fn trust(server: &Server) -> Arc<TrustPolicy> {
    let mut anchors = TrustAnchors::new();
    for c in server.ca() {
        anchors.add_der(&c).unwrap();
    }
    Arc::new(TrustPolicy::new().otherwise(Arc::new(X5cTrust::new(anchors))))
}

fn claims() -> Value {
    json!({
        "given_name": "Erika",
        "family_name": "Mustermann",
        "birthdate": "1964-08-12",
        "age_equal_or_over": {"18": true},
        "nationalities": ["DE"],
    })
}

#[test]
fn offer_redeem_list_revoke() {
    let server = Server::start("issuer", &[], &[]);
    // The management API needs the token.
    let body = json!({"credential_configuration_ids": [PID], "claims": claims(), "grant": "pre-authorized_code", "tx_code": true});
    let (status, _) = server.call("POST", "/v1/offers", None, Some(&body));
    assert_eq!(status, 401);
    let (status, _) = server.call("POST", "/v1/offers", Some("wrong"), Some(&body));
    assert_eq!(status, 401);
    let (status, created) = server.call("POST", "/v1/offers", Some(&server.token), Some(&body));
    assert_eq!(status, 201, "{created}");
    let uri = created["credential_offer_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("openid-credential-offer://?credential_offer_uri="),
        "{uri}"
    );
    let tx = created["tx_code"].as_str().unwrap();
    assert_eq!(tx.len(), 6);
    let id = created["id"].as_str().unwrap();

    // The wallet redeems it: metadata, token (DPoP, nonce retry), nonce, two credentials.
    let keys: Arc<dyn KeyManager> = Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom)));
    let check = VcVerifier::builder(trust(&server))
        .key_binding(KeyBindingPolicy::Forbidden)
        .accept_vcts(&["urn:eudi:pid:1"])
        .build()
        .unwrap();
    let wallet = Wallet::new(Arc::new(MemoryStore::new()), keys.clone(), check.clone());
    let mut options = IssuanceOptions::default();
    options.tx_code = Some(Secret::new(tx));
    options.count = 2;
    let mut flow = Issuance::from_offer_uri(uri, options).unwrap();
    let fetcher = server.fetcher();
    let env = Env::new(&keys, None, &SystemClock, &OsRandom);
    let issued = run(
        &mut flow,
        &fetcher,
        &env,
        &mut |_| panic!("no browser for a pre-authorized offer"),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(issued.credentials.len(), 2);
    assert_eq!(issued.credential_issuer, server.url);
    wallet.add_issued(&issued).unwrap();
    for n in flow.notification("credential_accepted", &env).unwrap() {
        assert_eq!(fetcher.send(&n).unwrap().status, 204);
    }
    // The offer is single use.
    let mut again = IssuanceOptions::default();
    again.tx_code = Some(Secret::new(tx));
    let mut replay = Issuance::from_offer_uri(uri, again).unwrap();
    let e = run(&mut replay, &fetcher, &env, &mut |_| panic!(), &mut |_| {}).unwrap_err();
    assert!(matches!(e.code(), "invalid_grant" | "http_status"), "{e}");

    // What the offer produced, and a revocation through the status list.
    let (status, produced) = server.call(
        "GET",
        &format!("/v1/offers/{id}"),
        Some(&server.token),
        None,
    );
    assert_eq!(status, 200);
    let list = produced["credentials"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{produced}");
    assert!(list.iter().all(|c| c["status"] == "VALID"));
    let first = list[0]["id"].as_str().unwrap();
    let (status, _) = server.call(
        "POST",
        &format!("/v1/credentials/{first}/revoke"),
        Some(&server.token),
        Some(&json!({})),
    );
    assert_eq!(status, 204);
    let (status, _) = server.call(
        "POST",
        "/v1/credentials/nope/revoke",
        Some(&server.token),
        Some(&json!({})),
    );
    assert_eq!(status, 404);
    let checker = StatusChecker::new(server.fetcher(), trust(&server));
    let mut seen = Vec::new();
    for c in &issued.credentials {
        let verified = check.receive(c).unwrap();
        match checker.check(&verified.verified).unwrap() {
            credkit::status_list::CredentialStatus::Listed(s) => seen.push(s),
            other => panic!("every credential has a status entry: {other:?}"),
        }
    }
    seen.sort_by_key(|s| s.value());
    assert_eq!(seen, vec![Status::Valid, Status::Invalid]);
    let (_, produced) = server.call(
        "GET",
        &format!("/v1/offers/{id}"),
        Some(&server.token),
        None,
    );
    assert!(
        produced["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["status"] == "INVALID")
    );

    let (status, _) = server.call("GET", "/healthz", None, None);
    assert_eq!(status, 200);
    let (status, _) = server.call("GET", "/readyz", None, None);
    assert_eq!(status, 200);
    assert!(server.terminate().success(), "SIGTERM drains and exits 0");
}

#[test]
fn authorization_code_offers_and_bad_requests() {
    let server = Server::start("issuer", &[], &[]);
    for bad in [
        json!({"claims": "x"}),
        json!({"claims": {}, "grant": "implicit"}),
        json!({"claims": {}, "grant": "authorization_code", "tx_code": true}),
        json!({"claims": {}, "credential_configuration_ids": ["mdl"]}),
    ] {
        let (status, body) = server.call("POST", "/v1/offers", Some(&server.token), Some(&bad));
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let body = json!({"claims": claims(), "grant": "authorization_code"});
    let (status, created) = server.call("POST", "/v1/offers", Some(&server.token), Some(&body));
    assert_eq!(status, 201);
    assert!(created["tx_code"].is_null());
    let keys: Arc<dyn KeyManager> = Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom)));
    let mut flow = Issuance::from_offer_uri(
        created["credential_offer_uri"].as_str().unwrap(),
        IssuanceOptions::default(),
    )
    .unwrap();
    let fetcher = server.fetcher();
    let env = Env::new(&keys, None, &SystemClock, &OsRandom);
    // The built-in authorizer grants the offer's issuer_state at once: follow the redirect.
    let issued = run(
        &mut flow,
        &fetcher,
        &env,
        &mut |url| {
            let resp = fetcher.send(&credkit::http::HttpRequest::get(url))?;
            assert_eq!(resp.status, 302);
            Ok(resp.location.unwrap())
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(issued.credentials.len(), 1);
}
