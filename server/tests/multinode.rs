//! Two `credkit-server` nodes of one deployment behind a load balancer (a TCP pass-through
//! on loopback that the test points at one node or the other), sharing one PostgreSQL
//! database (a new one per run) and, for the issuer, Redis: an offer made on one node is
//! redeemed on the other, which the first then lists and revokes from, the second's status
//! list showing it; a presentation created on one node is resolved there, answered on the
//! other and read back on the first. Nothing is kept in the nodes: what one wrote, the other
//! reads. PostgreSQL and Redis are the machine's, or started here when they are not running;
//! only when neither is possible do the tests skip, saying why.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

use std::sync::Arc;

use credkit::crypto::Signer;
use credkit::oauth::Secret;
use credkit::openid4vci::wallet::{Env, Issuance, IssuanceOptions, run};
use credkit::rand::OsRandom;
use credkit::sd_jwt::KeyBindingPolicy;
use credkit::sd_jwt_vc::{TrustPolicy, VcVerifier, X5cTrust};
use credkit::status_list::{CredentialStatus, Status, StatusChecker};
use credkit::time::SystemClock;
use credkit::wallet::{KeyManager, SoftwareKeyManager};
use credkit::x509::TrustAnchors;
use serde_json::{Value, json};

mod common;
use common::{Balancer, Pki, Server, Services, holder, skip};

const PID: &str = "eu.europa.ec.eudi.pid_vc_sd_jwt";

fn services() -> Option<Services> {
    match Services::start() {
        Ok(s) => Some(s),
        Err(why) => {
            skip(&format!("multi-node test: {why}"));
            None
        }
    }
}

fn trust(server: &Server) -> Arc<TrustPolicy> {
    let mut anchors = TrustAnchors::new();
    for c in server.ca() {
        anchors.add_der(&c).unwrap();
    }
    Arc::new(TrustPolicy::new().otherwise(Arc::new(X5cTrust::new(anchors))))
}

/// Nothing secret in a node's logs.
fn assert_logs_clean(node: &Server, secrets: &[&str]) {
    let logs = node.logs();
    assert!(
        logs.contains("listening") || logs.contains("state"),
        "{logs}"
    );
    for s in secrets {
        assert!(!logs.contains(s), "a secret in the logs: {logs}");
    }
}

fn issuer_scenario(with_cache: bool) {
    let Some(services) = services() else { return };
    let db = services.database();
    let pki = Pki::generate();
    let lb = Balancer::start();
    let mut args = vec!["--store", db.url.as_str()];
    if with_cache {
        args.extend(["--cache", services.redis_url.as_str()]);
    }
    let a = Server::start_node("issuer", &pki, &lb.url(), &[], &args);
    let b = Server::start_node("issuer", &pki, &lb.url(), &[], &args);

    // The offer is made on A.
    let body = json!({"credential_configuration_ids": [PID], "grant": "pre-authorized_code",
        "tx_code": true, "claims": {"given_name": "Erika", "family_name": "Mustermann",
        "birthdate": "1964-08-12", "age_equal_or_over": {"18": true}, "nationalities": ["DE"]}});
    let (status, created) = a.call("POST", "/v1/offers", Some(&a.token), Some(&body));
    assert_eq!(status, 201, "{created}");
    let uri = created["credential_offer_uri"].as_str().unwrap();
    assert!(uri.contains(&format!("localhost%3A{}", lb.port)), "{uri}");
    let tx = created["tx_code"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap();

    // The wallet redeems it on B: offer by reference, metadata, token (DPoP nonce retry),
    // nonce, two credentials, notification.
    lb.route_to(&b);
    let keys: Arc<dyn KeyManager> = Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom)));
    let check = VcVerifier::builder(trust(&a))
        .key_binding(KeyBindingPolicy::Forbidden)
        .accept_vcts(&["urn:eudi:pid:1"])
        .build()
        .unwrap();
    let mut options = IssuanceOptions::default();
    options.tx_code = Some(Secret::new(&tx));
    options.count = 2;
    let mut flow = Issuance::from_offer_uri(uri, options).unwrap();
    let fetcher = b.fetcher();
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
    assert_eq!(issued.credential_issuer, lb.url());
    for n in flow.notification("credential_accepted", &env).unwrap() {
        assert_eq!(fetcher.send(&n).unwrap().status, 204);
    }

    // Single use across nodes: A refuses the same offer again.
    lb.route_to(&a);
    let mut again = IssuanceOptions::default();
    again.tx_code = Some(Secret::new(&tx));
    let mut replay = Issuance::from_offer_uri(uri, again).unwrap();
    let e = run(
        &mut replay,
        &a.fetcher(),
        &env,
        &mut |_| panic!(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(e.code(), "invalid_grant" | "http_status"), "{e}");

    // A lists what B issued, and revokes one of them.
    let (status, produced) = a.call("GET", &format!("/v1/offers/{id}"), Some(&a.token), None);
    assert_eq!(status, 200);
    let list = produced["credentials"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{produced}");
    assert!(list.iter().all(|c| c["status"] == "VALID"));
    let first = list[0]["id"].as_str().unwrap();
    let (status, _) = a.call(
        "POST",
        &format!("/v1/credentials/{first}/revoke"),
        Some(&a.token),
        Some(&json!({})),
    );
    assert_eq!(status, 204);
    let (_, on_b) = b.call("GET", &format!("/v1/offers/{id}"), Some(&b.token), None);
    assert_eq!(on_b["credentials"].as_array().unwrap().len(), 2);

    // B's status list (fetched through the balancer, as the credentials name it) shows the
    // revocation made on A.
    lb.route_to(&b);
    let checker = StatusChecker::new(b.fetcher(), trust(&b));
    let mut seen = Vec::new();
    for c in &issued.credentials {
        let verified = check.receive(c).unwrap();
        match checker.check(&verified.verified).unwrap() {
            CredentialStatus::Listed(s) => seen.push(s),
            other => panic!("every credential has a status entry: {other:?}"),
        }
    }
    seen.sort_by_key(|s| s.value());
    assert_eq!(seen, vec![Status::Valid, Status::Invalid]);

    // Where the state went: status entries in PostgreSQL; the short-lived state in Redis
    // with --cache, else in PostgreSQL too.
    let mut pg = db.connect();
    let entries: i64 = pg
        .query_one("SELECT count(*) FROM status_entries", &[])
        .unwrap()
        .get(0);
    assert_eq!(entries, 2);
    let state: i64 = pg
        .query_one("SELECT count(*) FROM oid4vci_state", &[])
        .unwrap()
        .get(0);
    let versions: i64 = pg
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(versions, 2);
    if with_cache {
        assert_eq!(state, 0, "with --cache, OpenID4VCI state is in Redis only");
        let client = redis::Client::open(services.redis_url.as_str()).unwrap();
        let mut r = client.get_connection().unwrap();
        let (_, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(0)
            .arg("MATCH")
            .arg("credkit:vci_*")
            .arg("COUNT")
            .arg(10_000)
            .query(&mut r)
            .unwrap();
        assert!(!keys.is_empty(), "the nodes' state is in Redis");
    } else {
        assert!(
            state > 0,
            "without --cache, OpenID4VCI state is in PostgreSQL"
        );
    }

    for node in [&a, &b] {
        let (status, _) = node.call("GET", "/readyz", None, None);
        assert_eq!(status, 200);
        assert_logs_clean(node, &[&pki.token, &tx, db.url.as_str()]);
    }
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

#[test]
fn issuer_nodes_share_postgres_and_redis() {
    issuer_scenario(true);
}

#[test]
fn issuer_nodes_share_postgres() {
    issuer_scenario(false);
}

#[test]
fn verifier_nodes_share_postgres() {
    let Some(services) = services() else { return };
    let db = services.database();
    let pki = Pki::generate();
    let lb = Balancer::start();
    let h = holder(3);
    let issuer_key = Value::Object(h.issuer.public_jwk().to_json()).to_string();
    let files = [("issuer.pub.jwk", issuer_key.as_str())];
    let args = [
        "--store",
        db.url.as_str(),
        // Accepted (one configuration for both roles); the verifier's state is all in
        // --store.
        "--cache",
        services.redis_url.as_str(),
        "--issuer-key",
        "{dir}/issuer.pub.jwk",
    ];
    let a = Server::start_node("verifier", &pki, &lb.url(), &files, &args);
    let b = Server::start_node("verifier", &pki, &lb.url(), &files, &args);
    for (prefix, mode) in [
        ("x509_hash", "direct_post.jwt"),
        ("x509_san_dns", "direct_post"),
    ] {
        // Created on A.
        let query = json!({
            "dcql_query": {"credentials": [{"id": "pid", "format": "dc+sd-jwt",
                "meta": {"vct_values": ["urn:eudi:pid:1"]},
                "claims": [{"path": ["age_equal_or_over", "18"]}]}]},
            "response_mode": mode,
            "client_id_prefix": prefix,
        });
        let (status, created) = a.call("POST", "/v1/presentations", Some(&a.token), Some(&query));
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap();
        let uri = created["authorization_request_uri"].as_str().unwrap();
        let (_, pending) = b.call(
            "GET",
            &format!("/v1/presentations/{id}"),
            Some(&b.token),
            None,
        );
        assert_eq!(pending["status"], "pending", "B sees A's presentation");

        // The wallet resolves the request on A (POST with wallet_nonce) and answers on B:
        // direct_post.jwt is decrypted on B with the key A made.
        lb.route_to(&a);
        let request = a
            .wallet_policy()
            .resolve(uri, &a.fetcher(), &OsRandom)
            .unwrap();
        assert!(request.verifier().authenticated);
        let choices = request.least_disclosure(&h.wallet).unwrap();
        let post = request.respond(&h.wallet, &choices, &OsRandom).unwrap();
        assert_eq!(post.url, format!("{}/oid4vp/response", lb.url()));
        lb.route_to(&b);
        let outcome = post.send(&b.fetcher()).unwrap();
        assert_eq!(outcome.status, 200);

        // Read on A.
        let (status, done) = a.call(
            "GET",
            &format!("/v1/presentations/{id}"),
            Some(&a.token),
            None,
        );
        assert_eq!(status, 200);
        assert_eq!(done["status"], "verified", "{done}");
        let pid = &done["credentials"]["pid"][0];
        assert_eq!(pid["claims"], json!({"age_equal_or_over": {"18": true}}));
        assert_eq!(pid["issuer"], "https://pid-provider.example");

        // The same response again, now on A: the transaction ended on B.
        lb.route_to(&a);
        let again = a
            .fetcher()
            .post(
                &post.url,
                "application/x-www-form-urlencoded",
                None,
                post.body.as_bytes(),
            )
            .unwrap();
        assert_eq!(again.status, 400);
        let (_, still) = a.call(
            "GET",
            &format!("/v1/presentations/{id}"),
            Some(&a.token),
            None,
        );
        assert_eq!(still["status"], "verified");
    }
    let mut pg = db.connect();
    let n: i64 = pg
        .query_one(
            "SELECT count(*) FROM oid4vp_transactions WHERE status = 'verified'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 2);

    // PostgreSQL closes the nodes' connections (a restart, a failover): requests fail as
    // storage_failed (503) or already go through on a new connection, and the nodes
    // recover without a restart of their own.
    pg.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
        &[],
    )
    .unwrap();
    for node in [&a, &b] {
        let mut failed = 0;
        loop {
            let (status, body) =
                node.call("GET", "/v1/presentations/none", Some(&node.token), None);
            match status {
                404 => break,
                503 => {
                    assert_eq!(body["error"], "storage_failed");
                    failed += 1;
                }
                other => panic!("{other}: {body}"),
            }
            assert!(
                failed <= 1,
                "one request per node fails, then all connections are new"
            );
        }
        let (status, _) = node.call("GET", "/readyz", None, None);
        assert_eq!(status, 200);
    }
    for node in [&a, &b] {
        let (status, _) = node.call("GET", "/readyz", None, None);
        assert_eq!(status, 200);
        assert_logs_clean(node, &[&pki.token, db.url.as_str()]);
    }
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

#[test]
fn a_postgres_store_that_cannot_be_reached_stops_the_start() {
    let dir = std::env::temp_dir().join(format!(
        "credkit-server-unreachable-{}",
        credkit::rand::id(&OsRandom).unwrap()
    ));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_credkit-server"))
        .args(["verifier", "--dev", "--listen", "127.0.0.1:0", "--dev-dir"])
        .arg(&dir)
        .args([
            "--store",
            "postgres://nobody@127.0.0.1:1/none?connect_timeout=2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_credkit-server"))
        .args(["issuer", "--dev", "--listen", "127.0.0.1:0", "--dev-dir"])
        .arg(&dir)
        .args(["--store", "mysql://secret@db/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("secret"));
    let _ = std::fs::remove_dir_all(&dir);
}
