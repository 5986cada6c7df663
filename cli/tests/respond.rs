//! The CLI's OpenID4VP contract (`credkit wallet respond`) against a real verifier: credkit's
//! core verifier served over HTTPS on 127.0.0.1 inside the test process (request objects at
//! `/request/<id>` by GET or POST, responses at `/response`). Without `--yes` the command
//! prints the authenticated verifier identity and the consent candidates and sends nothing;
//! with `--yes` it sends the least-disclosure answer (`direct_post.jwt` by default, also
//! `direct_post`) and prints the verifier's answer; a refused request (untrusted verifier,
//! mismatching client id, internal address) exits 1 with one stderr line beginning with the
//! error code and sends nothing; usage errors exit 2.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

#[path = "common/oid4vp_server.rs"]
mod oid4vp_server;

use std::process::Output;
use std::sync::Arc;

use credkit::openid4vp::ResponseMode;
use credkit::openid4vp::verifier::{
    CreatedPresentation, PresentationRequest, TransactionStatus, Verifier,
};
use credkit::x509::certificates_to_pem;
use oid4vp_server::{
    Dir, HttpsVerifier, ISS, REDIRECT, Server, VCT, credkit_wallet, https_verifier, ok_json,
    over_18, root_ca, run,
};
use serde_json::{Value, json};

/// The DNS name in the verifier's request-signing certificate.
const VERIFIER_DNS: &str = "verifier.example";

/// Asserts a rejection: exit 1, nothing on stdout and exactly one stderr line that begins
/// with `code: `.
fn assert_rejected(out: &Output, code: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "expected {code}, got: {err}");
    assert!(
        err.starts_with(&format!("{code}: ")),
        "expected {code}, got {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        out.stdout.is_empty(),
        "output on a rejection: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

// ---------------------------------------------------------------------------------------
// The rig: a verifier behind the HTTPS server and a wallet holding one PID
// ---------------------------------------------------------------------------------------

/// What the response URI answers to a processed response.
#[derive(Clone, Copy)]
enum Redirect {
    /// `{}`.
    No,
    /// `{"redirect_uri": REDIRECT}`.
    Yes,
}

struct Rig {
    d: Dir,
    db: String,
    /// The TLS CA (PEM file) for `--http-root`.
    http_root: String,
    /// The verifier's request-signing CA (PEM file) for `--verifier-trust-anchor`.
    anchor: String,
    verifier: Arc<Verifier>,
    server: Server,
}

impl Rig {
    fn new(name: &str, redirect: Redirect) -> Self {
        let d = Dir::new("respond", name);
        // The wallet: one holder key, one PID bound to it (given_name and
        // age_equal_or_over/18 selectively disclosable), verified with the issuer's key.
        let (db, _, issuer_jwk) = credkit_wallet(&d);
        // The verifier: x509_hash, signing with a leaf under its own CA, trusting the issuer.
        let redirect_uri = match redirect {
            Redirect::No => None,
            Redirect::Yes => Some(REDIRECT),
        };
        let HttpsVerifier {
            anchor,
            http_root,
            verifier,
            server,
        } = https_verifier(
            &d,
            "respond",
            &[VERIFIER_DNS],
            &issuer_jwk,
            redirect_uri,
            None,
        );
        Self {
            d,
            db,
            http_root,
            anchor,
            verifier,
            server,
        }
    }

    fn create(&self, mode: ResponseMode) -> CreatedPresentation {
        self.verifier
            .create(&PresentationRequest::new(over_18()).response_mode(mode))
            .unwrap()
    }

    /// `credkit wallet --db DB respond [extra...] --http-root CA --allow-internal-addresses
    /// --verifier-trust-anchor ANCHOR URI`.
    fn respond(&self, extra: &[&str], uri: &str) -> Output {
        self.respond_with(extra, &self.anchor, true, uri)
    }

    fn respond_with(&self, extra: &[&str], anchor: &str, internal: bool, uri: &str) -> Output {
        let mut args = vec!["wallet", "--db", self.db.as_str(), "respond"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--http-root", self.http_root.as_str()]);
        if internal {
            args.push("--allow-internal-addresses");
        }
        args.extend_from_slice(&["--verifier-trust-anchor", anchor, uri]);
        run(&args)
    }

    fn status(&self, created: &CreatedPresentation) -> TransactionStatus {
        self.verifier
            .transaction(&created.transaction.id)
            .unwrap()
            .status
    }

    fn posts_to_response(&self) -> usize {
        self.server.hits("POST", "/response")
    }
}

fn stdout_json(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "respond failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The request object was fetched once, by POST (the verifier offers
/// `request_uri_method=post`).
fn fetched_by_post(rig: &Rig, created: &CreatedPresentation) {
    let path = format!("/request/{}", created.transaction.id);
    assert_eq!(
        rig.server.hits("POST", &path),
        1,
        "{:?}",
        rig.server.requests()
    );
    assert_eq!(
        rig.server.hits("GET", &path),
        0,
        "{:?}",
        rig.server.requests()
    );
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn without_yes_prints_the_consent_summary_and_sends_nothing() {
    let rig = Rig::new("consent", Redirect::No);
    let created = rig.create(ResponseMode::DirectPostJwt);
    let v = stdout_json(&rig.respond(&[], &created.authorization_request_uri));
    let who = &v["verifier"];
    assert_eq!(who["authenticated"], true, "{v}");
    assert_eq!(who["client_id"], rig.verifier.client_id(), "{v}");
    assert_eq!(who["client_id_prefix"], "x509_hash", "{v}");
    assert_eq!(who["dns_names"], json!([VERIFIER_DNS]), "{v}");
    assert!(
        who["certificate_subject"]
            .as_str()
            .is_some_and(|s| s.contains("Test Verifier")),
        "{v}"
    );
    let candidates = v["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{v}");
    let pid = &candidates[0];
    assert_eq!(pid["query_id"], "pid", "{v}");
    assert_eq!(pid["required"], true, "{v}");
    assert_eq!(pid["multiple"], false, "{v}");
    let held = pid["candidates"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{v}");
    assert_eq!(held[0]["vct"], VCT, "{v}");
    assert_eq!(held[0]["issuer"], ISS, "{v}");
    assert_eq!(held[0]["remaining"], 1, "{v}");
    assert_eq!(held[0]["disclose"], json!(["/age_equal_or_over/18"]), "{v}");
    assert_eq!(
        held[0]["revealed"],
        json!({"/age_equal_or_over/18": true}),
        "exactly the one claim: {v}"
    );
    // Nothing was sent: no POST to the response URI, the transaction still waits.
    fetched_by_post(&rig, &created);
    assert_eq!(rig.posts_to_response(), 0, "{:?}", rig.server.requests());
    assert_eq!(rig.status(&created), TransactionStatus::Pending);
    // And nothing was spent: the consent summary can be shown again.
    let again = stdout_json(&rig.respond(&[], &created.authorization_request_uri));
    assert_eq!(again["candidates"][0]["candidates"][0]["remaining"], 1);
    assert_eq!(rig.posts_to_response(), 0);
}

#[test]
fn yes_sends_the_least_disclosure_answer_direct_post_jwt() {
    let rig = Rig::new("yes-jwt", Redirect::Yes);
    let created = rig.create(ResponseMode::DirectPostJwt);
    let v = stdout_json(&rig.respond(&["--yes"], &created.authorization_request_uri));
    assert_eq!(
        v,
        json!({"sent": true, "status": 200, "redirect_uri": REDIRECT}),
        "{v}"
    );
    fetched_by_post(&rig, &created);
    assert_eq!(rig.posts_to_response(), 1, "{:?}", rig.server.requests());
    let tx = rig.verifier.transaction(&created.transaction.id).unwrap();
    assert_eq!(tx.status, TransactionStatus::Verified, "{:?}", tx.error);
    let creds = tx.credentials.unwrap();
    assert_eq!(creds.as_object().unwrap().len(), 1, "{creds}");
    assert_eq!(creds["pid"].as_array().unwrap().len(), 1, "{creds}");
    assert_eq!(creds["pid"][0]["vct"], VCT, "{creds}");
    assert_eq!(creds["pid"][0]["issuer"], ISS, "{creds}");
    assert_eq!(
        creds["pid"][0]["claims"],
        json!({"age_equal_or_over": {"18": true}}),
        "only the requested claim is disclosed: {creds}"
    );
}

#[test]
fn yes_sends_direct_post_and_prints_a_null_redirect_uri() {
    let rig = Rig::new("yes-plain", Redirect::No);
    let created = rig.create(ResponseMode::DirectPost);
    let v = stdout_json(&rig.respond(&["--yes"], &created.authorization_request_uri));
    assert_eq!(
        v,
        json!({"sent": true, "status": 200, "redirect_uri": null}),
        "{v}"
    );
    assert_eq!(rig.posts_to_response(), 1, "{:?}", rig.server.requests());
    let tx = rig.verifier.transaction(&created.transaction.id).unwrap();
    assert_eq!(tx.status, TransactionStatus::Verified, "{:?}", tx.error);
    assert_eq!(
        tx.credentials.unwrap()["pid"][0]["claims"],
        json!({"age_equal_or_over": {"18": true}})
    );
}

#[test]
fn an_untrusted_verifier_is_refused_and_nothing_is_sent() {
    let rig = Rig::new("untrusted", Redirect::No);
    let created = rig.create(ResponseMode::DirectPostJwt);
    let other = rig.d.write(
        "other-ca.pem",
        &certificates_to_pem(&[root_ca("Unrelated CA").der]),
    );
    for extra in [&[][..], &["--yes"][..]] {
        let out = rig.respond_with(extra, &other, true, &created.authorization_request_uri);
        assert_rejected(&out, "untrusted_verifier");
    }
    assert_eq!(rig.posts_to_response(), 0, "{:?}", rig.server.requests());
    assert_eq!(rig.status(&created), TransactionStatus::Pending);
    // The wallet still holds its copy: a trusted run afterwards works.
    let v = stdout_json(&rig.respond(&["--yes"], &created.authorization_request_uri));
    assert_eq!(v["sent"], true, "{v}");
    assert_eq!(rig.status(&created), TransactionStatus::Verified);
}

#[test]
fn an_invalid_request_is_refused_and_nothing_is_sent() {
    let rig = Rig::new("invalid", Redirect::No);
    let created = rig.create(ResponseMode::DirectPostJwt);
    // The outer client_id is not the request object's.
    let client_id = rig.verifier.client_id().replace(':', "%3A");
    let uri = &created.authorization_request_uri;
    assert!(uri.contains(&client_id), "{uri}");
    let forged = uri.replace(
        &client_id,
        "x509_hash%3AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    assert_rejected(&rig.respond(&["--yes"], &forged), "client_id_mismatch");
    assert_eq!(rig.posts_to_response(), 0, "{:?}", rig.server.requests());
    assert_eq!(rig.status(&created), TransactionStatus::Pending);
}

#[test]
fn internal_addresses_are_refused_without_the_flag() {
    let rig = Rig::new("ssrf", Redirect::No);
    let created = rig.create(ResponseMode::DirectPostJwt);
    let out = rig.respond_with(
        &["--yes"],
        &rig.anchor,
        false,
        &created.authorization_request_uri,
    );
    assert_rejected(&out, "url_forbidden");
    assert!(
        rig.server.requests().is_empty(),
        "{:?}",
        rig.server.requests()
    );
    assert_eq!(rig.status(&created), TransactionStatus::Pending);
}

#[test]
fn usage_errors_exit_2() {
    let d = Dir::new("respond", "usage");
    let db = d.path("wallet.db");
    ok_json(&["wallet", "--db", &db, "keys", "--count", "1"]);
    for args in [
        vec!["wallet", "--db", db.as_str(), "respond"],
        vec!["wallet", "--db", db.as_str(), "respond", "--yes"],
        vec![
            "wallet",
            "--db",
            db.as_str(),
            "respond",
            "--no-such-flag",
            "openid4vp://?client_id=x",
        ],
    ] {
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
