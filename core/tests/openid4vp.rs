//! OpenID4VP 1.0 + HAIP 1.0 end to end, sans I/O: credkit's verifier creates a request, the
//! wallet resolves it (by reference, POST with wallet_nonce), validates the verifier, answers
//! with the least disclosure over direct_post(.jwt), and the verifier checks the response.
//! Plus the derived signed-request-object vectors and the protocol attacks of
//! ATTACKS_OID4VP that apply, each with its expected error code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::type_complexity,
    clippy::useless_vec,
    missing_docs
)]

use std::sync::Arc;

use credkit::crypto::{Signer, default_provider};
use credkit::dcql::{CredentialQueryBuilder, DcqlQuery, DcqlQueryBuilder};
use credkit::http::HttpResponse;
use credkit::jose::{Algorithm, PrivateJwk, PublicJwk};
use credkit::openid4vp::verifier::{
    MemoryTransactionStore, PresentationRequest, TransactionStatus, Verifier,
};
use credkit::openid4vp::wallet::{AuthorizationRequest, RegisteredClient, Start, WalletPolicy};
use credkit::openid4vp::{ClientIdPrefix, Profile, ResponseMode};
use credkit::rand::OsRandom;
use credkit::sd_jwt::StaticIssuerKeys;
use credkit::sd_jwt_vc::{TrustPolicy, VcBuilder, VcVerifier, Vct};
use credkit::time::FixedClock;
use credkit::wallet::{MemoryStore, SoftwareKeyManager, Wallet};
use credkit::x509::TrustAnchors;
use serde_json::{Map, Value, json};

const VECTORS: &str = include_str!("../../test-vectors/openid4vp/x509-signed-request-objects.json");
/// The vectors' clock: 2027-01-01T00:01:40Z.
const NOW: i64 = 1_798_761_700;
const RESPONSE_URI: &str = "https://verifier.example.org/oid4vp/response";
const REQUEST_URI_BASE: &str = "https://verifier.example.org/oid4vp/request";

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

fn der(v: &Value) -> Vec<u8> {
    credkit::b64::decode_std(v["certificate_der_b64"].as_str().unwrap(), "der").unwrap()
}

fn anchors() -> TrustAnchors {
    let mut a = TrustAnchors::new();
    a.add_der(&der(&vectors()["trust_anchor"])).unwrap();
    a
}

fn leaf_signer() -> Arc<dyn Signer> {
    let v = vectors();
    let key =
        PrivateJwk::from_json(v["verifier_leaf"]["private_jwk"].as_object().unwrap()).unwrap();
    default_provider().signer(&key).unwrap()
}

struct Pid {
    issuer: Arc<dyn Signer>,
}

impl Pid {
    fn new() -> Self {
        let p = default_provider();
        Self {
            issuer: p
                .signer(&p.generate(Algorithm::Es256, &OsRandom).unwrap())
                .unwrap(),
        }
    }

    fn trust(&self) -> Arc<TrustPolicy> {
        let keys = StaticIssuerKeys::single(self.issuer.public_jwk(), default_provider()).unwrap();
        Arc::new(TrustPolicy::new().otherwise(Arc::new(keys)))
    }

    fn issue(&self, holder: &PublicJwk) -> String {
        let claims = json!({
            "given_name": "Erika", "family_name": "Mustermann", "birthdate": "1964-08-12",
            "age_equal_or_over": {"18": true}
        });
        VcBuilder::new(
            Vct::new("urn:eudi:pid:1").unwrap(),
            claims.as_object().cloned().unwrap(),
        )
        .issuer("https://pid-provider.example")
        .issued_at(NOW - 100)
        .holder_key(holder.clone())
        .disclose("/given_name")
        .unwrap()
        .disclose("/family_name")
        .unwrap()
        .disclose("/birthdate")
        .unwrap()
        .disclose("/age_equal_or_over/18")
        .unwrap()
        .issue(&*self.issuer, &OsRandom)
        .unwrap()
        .to_string()
    }

    fn wallet(&self, copies: usize) -> Wallet {
        let vc = VcVerifier::builder_with_clock(self.trust(), Arc::new(FixedClock(NOW)))
            .key_binding(credkit::sd_jwt::KeyBindingPolicy::Forbidden)
            .build()
            .unwrap();
        let wallet = Wallet::new(
            Arc::new(MemoryStore::new()),
            Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom))),
            vc,
        )
        .clock(Arc::new(FixedClock(NOW)));
        let keys = wallet.create_holder_keys(copies, Algorithm::Es256).unwrap();
        let issued: Vec<String> = keys.iter().map(|(_, k)| self.issue(k)).collect();
        let refs: Vec<&str> = issued.iter().map(String::as_str).collect();
        let ids: Vec<String> = keys.into_iter().map(|(id, _)| id).collect();
        wallet.add(&refs, &ids).unwrap();
        wallet
    }
}

fn verifier(pid: &Pid, prefix: ClientIdPrefix) -> Verifier {
    let v = vectors();
    Verifier::new(
        prefix,
        leaf_signer(),
        vec![der(&v["verifier_leaf"])],
        None,
        RESPONSE_URI,
        REQUEST_URI_BASE,
        pid.trust(),
        Arc::new(MemoryTransactionStore::new()),
        Arc::new(OsRandom),
    )
    .unwrap()
    .clock(Arc::new(FixedClock(NOW)))
}

fn over_18() -> DcqlQuery {
    DcqlQueryBuilder::new()
        .credential(
            CredentialQueryBuilder::sd_jwt_vc("pid", &["urn:eudi:pid:1"])
                .claim(&["age_equal_or_over", "18"]),
        )
        .build()
        .unwrap()
}

fn policy() -> WalletPolicy {
    WalletPolicy::new(anchors()).clock(Arc::new(FixedClock(NOW)))
}

/// The wallet resolves `uri` against `verifier`, as the blocking driver would over HTTP.
fn resolve(
    policy: &WalletPolicy,
    verifier: &Verifier,
    uri: &str,
) -> credkit::Result<AuthorizationRequest> {
    match policy.start(uri)? {
        Start::Ready(r) => Ok(r),
        Start::Fetch(fetch) => {
            let id = fetch.request_uri.rsplit('/').next().unwrap();
            let jwt = verifier.request_object(id, Some("wallet-nonce-1")).unwrap();
            let response = HttpResponse::new(200, jwt.into_bytes())
                .with_content_type("application/oauth-authz-req+jwt");
            policy.finish(&fetch, &response, Some("wallet-nonce-1"))
        }
    }
}

fn post(
    verifier: &Verifier,
    body: &str,
) -> credkit::Result<credkit::openid4vp::verifier::ResponseHandled> {
    verifier.handle_response(Some("application/x-www-form-urlencoded"), body.as_bytes())
}

#[test]
fn haip_presentation_x509_hash_direct_post_jwt() {
    let pid = Pid::new();
    let wallet = pid.wallet(2);
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash).profile(Profile::Haip);
    let created = verifier
        .create(&PresentationRequest::new(over_18()))
        .unwrap();
    assert!(
        created
            .authorization_request_uri
            .starts_with("openid4vp://?client_id=x509_hash%3A")
    );
    let request = resolve(
        &policy().profile(Profile::Haip),
        &verifier,
        &created.authorization_request_uri,
    )
    .unwrap();
    let who = request.verifier();
    assert!(who.authenticated);
    assert_eq!(who.client_id, verifier.client_id());
    assert_eq!(who.dns_names, ["verifier.example.org"]);
    let choices = request.least_disclosure(&wallet).unwrap();
    assert_eq!(choices.len(), 1);
    assert_eq!(choices[0].disclose, ["/age_equal_or_over/18"]);
    let post_body = request.respond(&wallet, &choices, &OsRandom).unwrap();
    assert_eq!(post_body.url, RESPONSE_URI);
    assert!(
        post_body.body.starts_with("response="),
        "only the JWE is posted"
    );
    assert!(!post_body.body.contains("state="));
    let handled = post(&verifier, &post_body.body).unwrap();
    assert_eq!(
        handled.status,
        TransactionStatus::Verified,
        "{:?}",
        handled.error
    );
    let tx = verifier.transaction(&created.transaction.id).unwrap();
    let creds = tx.credentials.unwrap();
    let pid_claims = &creds["pid"][0]["claims"];
    assert_eq!(pid_claims, &json!({"age_equal_or_over": {"18": true}}));
    assert_eq!(creds["pid"][0]["vct"], "urn:eudi:pid:1");
    assert_eq!(creds["pid"][0]["issuer"], "https://pid-provider.example");
    assert!(tx.encryption_key.is_none(), "the key is dropped once used");
    // Replay of the same response: the transaction takes one response only.
    assert_eq!(
        post(&verifier, &post_body.body).unwrap_err().code(),
        "transaction_used"
    );
}

#[test]
fn presentation_x509_san_dns_direct_post() {
    let pid = Pid::new();
    let wallet = pid.wallet(1);
    let verifier = verifier(&pid, ClientIdPrefix::X509SanDns);
    assert_eq!(verifier.client_id(), "x509_san_dns:verifier.example.org");
    let created = verifier
        .create(&PresentationRequest::new(over_18()).response_mode(ResponseMode::DirectPost))
        .unwrap();
    let request = resolve(&policy(), &verifier, &created.authorization_request_uri).unwrap();
    let choices = request.least_disclosure(&wallet).unwrap();
    let post_body = request.respond(&wallet, &choices, &OsRandom).unwrap();
    assert!(post_body.body.contains("vp_token="));
    assert!(post_body.body.contains("state="));
    let handled = post(&verifier, &post_body.body).unwrap();
    assert_eq!(
        handled.status,
        TransactionStatus::Verified,
        "{:?}",
        handled.error
    );
    // One copy only, one-time use: nothing left to answer a second request.
    let again = verifier
        .create(&PresentationRequest::new(over_18()).response_mode(ResponseMode::DirectPost))
        .unwrap();
    let request = resolve(&policy(), &verifier, &again.authorization_request_uri).unwrap();
    assert!(request.least_disclosure(&wallet).is_err());
}

#[test]
fn transaction_data_is_hashed_as_sent_and_checked() {
    let pid = Pid::new();
    let wallet = pid.wallet(6);
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let mut td = Map::new();
    td.insert("type".into(), "payment".into());
    td.insert("credential_ids".into(), json!(["pid"]));
    td.insert("amount".into(), "42.00 EUR".into());
    let created = verifier
        .create(&PresentationRequest::new(over_18()).transaction_data(vec![td]))
        .unwrap();
    // A wallet that does not know the type refuses (§5.1).
    let err = resolve(&policy(), &verifier, &created.authorization_request_uri).unwrap_err();
    assert_eq!(err.code(), "invalid_transaction_data");
    let policy = policy().transaction_data_types(&["payment"]);
    let request = resolve(&policy, &verifier, &created.authorization_request_uri).unwrap();
    assert_eq!(request.transaction_data()[0].data["amount"], "42.00 EUR");
    let choices = request.least_disclosure(&wallet).unwrap();
    let post_body = request.respond(&wallet, &choices, &OsRandom).unwrap();
    let handled = post(&verifier, &post_body.body).unwrap();
    assert_eq!(
        handled.status,
        TransactionStatus::Verified,
        "{:?}",
        handled.error
    );
    // KB-JWT hashes over anything but the exact string sent fail (VP-52, VP-53): over the
    // decoded JSON, hex, no hashes at all, an extra hash.
    let batch = wallet.list().unwrap()[0].batch.clone();
    let ptrs = ["/age_equal_or_over/18"];
    let sent = |tx: &credkit::openid4vp::verifier::Transaction| tx.transaction_data[0].clone();
    let decoded_hash = |t: &str| {
        credkit::openid4vp::transaction_data_hash(
            std::str::from_utf8(&credkit::b64::decode(t, "td").unwrap()).unwrap(),
        )
    };
    let cases: Vec<(&str, Box<dyn Fn(&str) -> Option<Value>>)> = vec![
        (
            "decoded",
            Box::new(move |t: &str| Some(json!([decoded_hash(t)]))),
        ),
        ("none", Box::new(|_: &str| None)),
        (
            "extra",
            Box::new(|t: &str| {
                let h = credkit::openid4vp::transaction_data_hash(t);
                Some(json!([h.clone(), h]))
            }),
        ),
    ];
    for (name, hashes) in cases {
        let created = verifier
            .create(
                &PresentationRequest::new(over_18())
                    .response_mode(ResponseMode::DirectPost)
                    .transaction_data(vec![td_object()]),
            )
            .unwrap();
        let tx = &created.transaction;
        let mut extra = Map::new();
        if let Some(h) = hashes(&sent(tx)) {
            extra.insert("transaction_data_hashes".into(), h);
        }
        let p = wallet
            .present_all_with(&[(&batch, &ptrs, &extra)], verifier.client_id(), &tx.nonce)
            .unwrap()
            .remove(0);
        let body = credkit_form(&[
            ("vp_token", &json!({"pid": [p]}).to_string()),
            ("state", &tx.state),
        ]);
        let handled = post(&verifier, &body).unwrap();
        assert_eq!(
            handled.error.as_deref(),
            Some("transaction_data_hash_mismatch"),
            "{name}"
        );
    }
}

fn td_object() -> Map<String, Value> {
    let mut td = Map::new();
    td.insert("type".into(), "payment".into());
    td.insert("credential_ids".into(), json!(["pid"]));
    td.insert("amount".into(), "42.00 EUR".into());
    td
}

#[test]
fn a_presentation_for_another_verifier_or_nonce_fails_the_transaction() {
    let pid = Pid::new();
    let wallet = pid.wallet(3);
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let created = verifier
        .create(&PresentationRequest::new(over_18()).response_mode(ResponseMode::DirectPost))
        .unwrap();
    let tx = &created.transaction;
    let choices = vec![credkit::openid4vp::wallet::Choice::new(
        "pid",
        &wallet.list().unwrap()[0].batch,
        vec!["/age_equal_or_over/18".into()],
    )];
    let batch = &choices[0].batch;
    let ptrs = ["/age_equal_or_over/18"];
    // KB-JWT for the unprefixed identifier (VP-01 / VP-38).
    let wrong_aud = wallet
        .present(
            batch,
            &ptrs,
            verifier.client_id().trim_start_matches("x509_hash:"),
            &tx.nonce,
        )
        .unwrap();
    let body = credkit_form(&[
        ("vp_token", &json!({"pid": [wrong_aud]}).to_string()),
        ("state", &tx.state),
    ]);
    let handled = post(&verifier, &body).unwrap();
    assert_eq!(handled.status, TransactionStatus::Failed);
    assert_eq!(handled.error.as_deref(), Some("aud_mismatch"));
    // Another transaction's nonce (VP-36, VP-39).
    let created = verifier
        .create(&PresentationRequest::new(over_18()).response_mode(ResponseMode::DirectPost))
        .unwrap();
    let stale = wallet
        .present(batch, &ptrs, verifier.client_id(), &tx.nonce)
        .unwrap();
    let body = credkit_form(&[
        ("vp_token", &json!({"pid": [stale]}).to_string()),
        ("state", &created.transaction.state),
    ]);
    let handled = post(&verifier, &body).unwrap();
    assert_eq!(handled.error.as_deref(), Some("nonce_mismatch"));
}

#[test]
fn response_shape_and_encryption_are_enforced() {
    let pid = Pid::new();
    let wallet = pid.wallet(4);
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let batch = wallet.list().unwrap()[0].batch.clone();
    let ptrs = ["/age_equal_or_over/18"];
    let start = |mode| {
        verifier
            .create(&PresentationRequest::new(over_18()).response_mode(mode))
            .unwrap()
    };
    // Encryption downgrade (VP-28).
    let enc = start(ResponseMode::DirectPostJwt);
    let p = wallet
        .present(&batch, &ptrs, verifier.client_id(), &enc.transaction.nonce)
        .unwrap();
    let body = credkit_form(&[
        ("vp_token", &json!({"pid": [p]}).to_string()),
        ("state", &enc.transaction.state),
    ]);
    assert_eq!(
        post(&verifier, &body).unwrap().error.as_deref(),
        Some("encryption_required")
    );
    // vp_token shapes (VP-50).
    for (name, token) in [
        ("bare string", json!("x")),
        ("no array", json!({"pid": "x"})),
        ("empty array", json!({"pid": []})),
        ("unknown id", json!({"other": ["x"]})),
    ] {
        let tx = start(ResponseMode::DirectPost);
        let body = credkit_form(&[
            ("vp_token", &token.to_string()),
            ("state", &tx.transaction.state),
        ]);
        assert_eq!(
            post(&verifier, &body).unwrap().error.as_deref(),
            Some("vp_token_shape"),
            "{name}"
        );
    }
    // Two presentations where multiple is false.
    let tx = start(ResponseMode::DirectPost);
    let a = wallet
        .present(&batch, &ptrs, verifier.client_id(), &tx.transaction.nonce)
        .unwrap();
    let b = wallet
        .present(&batch, &ptrs, verifier.client_id(), &tx.transaction.nonce)
        .unwrap();
    let body = credkit_form(&[
        ("vp_token", &json!({"pid": [a, b]}).to_string()),
        ("state", &tx.transaction.state),
    ]);
    assert_eq!(
        post(&verifier, &body).unwrap().error.as_deref(),
        Some("vp_token_shape")
    );
    // Over-disclosure: family_name was not asked for.
    let tx = start(ResponseMode::DirectPost);
    let more = wallet
        .present(
            &batch,
            &["/age_equal_or_over/18", "/family_name"],
            verifier.client_id(),
            &tx.transaction.nonce,
        )
        .unwrap();
    let body = credkit_form(&[
        ("vp_token", &json!({"pid": [more]}).to_string()),
        ("state", &tx.transaction.state),
    ]);
    assert_eq!(
        post(&verifier, &body).unwrap().error.as_deref(),
        Some("dcql_response_mismatch")
    );
    // Unknown state: nothing to tie it to (VP-36, VP-37).
    let body = credkit_form(&[("vp_token", "{}"), ("state", "nope")]);
    assert_eq!(
        post(&verifier, &body).unwrap_err().code(),
        "transaction_unknown"
    );
    // A wallet error ends the transaction as failed.
    let tx = start(ResponseMode::DirectPost);
    let body = credkit_form(&[("error", "access_denied"), ("state", &tx.transaction.state)]);
    assert_eq!(
        post(&verifier, &body).unwrap().error.as_deref(),
        Some("access_denied")
    );
    // An expired transaction.
    let late = verifier.clone().clock(Arc::new(FixedClock(NOW + 3600)));
    let tx = start(ResponseMode::DirectPost);
    let body = credkit_form(&[("vp_token", "{}"), ("state", &tx.transaction.state)]);
    assert_eq!(
        post(&late, &body).unwrap_err().code(),
        "transaction_expired"
    );
}

#[test]
fn encrypted_responses_are_decrypted_only_with_their_transaction_key() {
    let pid = Pid::new();
    let wallet = pid.wallet(2);
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let a = verifier
        .create(&PresentationRequest::new(over_18()))
        .unwrap();
    let b = verifier
        .create(&PresentationRequest::new(over_18()))
        .unwrap();
    let key_a = a.transaction.encryption_key.clone().unwrap();
    // Encrypted to A's key but labelled with B's kid (VP-26).
    let p = wallet
        .present(
            &wallet.list().unwrap()[0].batch,
            &["/age_equal_or_over/18"],
            verifier.client_id(),
            &b.transaction.nonce,
        )
        .unwrap();
    let plaintext = json!({"vp_token": {"pid": [p]}, "state": b.transaction.state}).to_string();
    let options = credkit::jose::jwe::EncryptOptions::default().kid(b.transaction.id.clone());
    let jwe = credkit::jose::jwe::encrypt(
        key_a.public(),
        credkit::jose::jwe::ContentEncryption::A128Gcm,
        &options,
        plaintext.as_bytes(),
        default_provider(),
        &OsRandom,
    )
    .unwrap();
    // Extra outer parameters next to the JWE: not tied to any transaction.
    let err = post(
        &verifier,
        &credkit_form(&[("response", &jwe), ("state", "x")]),
    )
    .unwrap_err();
    assert_eq!(err.code(), "request_invalid");
    // B's key cannot decrypt it: refused, and neither transaction is ended by it (VP-37).
    let err = post(&verifier, &credkit_form(&[("response", &jwe)])).unwrap_err();
    assert_eq!(err.code(), "jwe_decrypt_failed");
    for tx in [&a.transaction, &b.transaction] {
        assert_eq!(
            verifier.transaction(&tx.id).unwrap().status,
            TransactionStatus::Pending
        );
    }
    // Encrypted to B's own (public) key with another state: refused, B stays pending.
    let forged = json!({"error": "access_denied", "state": "not-b"}).to_string();
    let options = credkit::jose::jwe::EncryptOptions::default().kid(b.transaction.id.clone());
    let key_b = b.transaction.encryption_key.clone().unwrap();
    let jwe_b = credkit::jose::jwe::encrypt(
        key_b.public(),
        credkit::jose::jwe::ContentEncryption::A128Gcm,
        &options,
        forged.as_bytes(),
        default_provider(),
        &OsRandom,
    )
    .unwrap();
    let err = post(&verifier, &credkit_form(&[("response", &jwe_b)])).unwrap_err();
    assert_eq!(err.code(), "state_mismatch");
    assert_eq!(
        verifier.transaction(&b.transaction.id).unwrap().status,
        TransactionStatus::Pending
    );
    // An unknown kid ties the JWE to nothing.
    let options = credkit::jose::jwe::EncryptOptions::default().kid("unknown");
    let stray = credkit::jose::jwe::encrypt(
        key_a.public(),
        credkit::jose::jwe::ContentEncryption::A128Gcm,
        &options,
        b"{}",
        default_provider(),
        &OsRandom,
    )
    .unwrap();
    let err = post(&verifier, &credkit_form(&[("response", &stray)])).unwrap_err();
    assert_eq!(err.code(), "transaction_unknown");
    // A takes its genuine response.
    let request = resolve(&policy(), &verifier, &a.authorization_request_uri).unwrap();
    let choices = request.least_disclosure(&wallet).unwrap();
    let genuine = request.respond(&wallet, &choices, &OsRandom).unwrap();
    assert_eq!(
        post(&verifier, &genuine.body).unwrap().status,
        TransactionStatus::Verified
    );
}

fn credkit_form(pairs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (k, v) in pairs {
        if !s.is_empty() {
            s.push('&');
        }
        s.push_str(k);
        s.push('=');
        for b in v.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                s.push(b as char);
            } else {
                s.push_str(&format!("%{b:02X}"));
            }
        }
    }
    s
}

/// The derived signed request objects (test-vectors/openid4vp), each with its outcome.
#[test]
fn derived_signed_request_objects() {
    let v = vectors();
    let expected = [
        ("valid_x509_hash", None, None),
        ("valid_x509_san_dns", None, None),
        ("bad_typ_JWT", Some("typ_mismatch"), None),
        ("missing_typ", Some("typ_mismatch"), None),
        (
            "x509_hash_of_root_not_leaf",
            Some("x509_hash_mismatch"),
            None,
        ),
        ("x509_hash_hex_encoded", Some("x509_hash_mismatch"), None),
        (
            "x5c_includes_trust_anchor",
            None,
            Some("untrusted_verifier"),
        ),
        ("san_dns_mismatch", Some("x509_san_mismatch"), None),
        (
            "san_dns_response_uri_other_host",
            Some("response_uri_not_allowed"),
            None,
        ),
        ("signed_by_other_key", Some("invalid_signature"), None),
        (
            "redirect_uri_prefix_but_signed",
            Some("signed_redirect_uri_client"),
            None,
        ),
        (
            "client_metadata_key_used_to_sign",
            Some("untrusted_verifier"),
            None,
        ),
        ("expired_request_object", Some("request_expired"), None),
    ];
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), expected.len());
    for (name, plain, haip) in expected {
        let case = cases.iter().find(|c| c["name"] == name).unwrap();
        let jws = case["request_object_jws"].as_str().unwrap();
        let client_id = case["decoded"]["payload"]["client_id"].as_str().unwrap();
        let uri = format!(
            "openid4vp://?{}",
            credkit_form(&[("client_id", client_id), ("request", jws)])
        );
        let got = policy().start(&uri).map(|_| ()).map_err(|e| e.code());
        assert_eq!(got.err(), plain, "{name} (OpenID4VP)");
        // HAIP: by reference only; the same object fetched from a request_uri.
        let by_reference = format!(
            "haip-vp://?{}",
            credkit_form(&[
                ("client_id", client_id),
                ("request_uri", "https://verifier.example.org/r/1")
            ])
        );
        let haip_policy = policy().profile(Profile::Haip);
        let got = match haip_policy.start(&by_reference) {
            // A redirect_uri client is refused before anything is fetched.
            Err(e) => Err(e.code()),
            Ok(Start::Ready(_)) => unreachable!(),
            Ok(Start::Fetch(fetch)) => {
                let response = HttpResponse::new(200, jws.as_bytes().to_vec())
                    .with_content_type("application/oauth-authz-req+jwt");
                haip_policy
                    .finish(&fetch, &response, None)
                    .map(|_| ())
                    .map_err(|e| e.code())
            }
        };
        assert_eq!(got.err(), haip.or(plain), "{name} (HAIP)");
    }
}

#[test]
fn request_transport_attacks() {
    let pid = Pid::new();
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let created = verifier
        .create(&PresentationRequest::new(over_18()))
        .unwrap();
    let uri = &created.authorization_request_uri;
    let fetch = match policy().start(uri).unwrap() {
        Start::Fetch(f) => f,
        Start::Ready(_) => unreachable!(),
    };
    let id = &created.transaction.id;
    let object = |nonce: Option<&str>| {
        HttpResponse::new(
            200,
            verifier.request_object(id, nonce).unwrap().into_bytes(),
        )
        .with_content_type("application/oauth-authz-req+jwt")
    };
    // §5.10.1: the answer must say it is a request object.
    let untyped = HttpResponse::new(200, verifier.request_object(id, None).unwrap().into_bytes());
    assert_eq!(
        policy().finish(&fetch, &untyped, None).unwrap_err().code(),
        "request_invalid"
    );
    // wallet_nonce missing or different (VP-19).
    let err = policy()
        .finish(&fetch, &object(None), Some("n1"))
        .unwrap_err();
    assert_eq!(err.code(), "wallet_nonce_mismatch");
    let err = policy()
        .finish(&fetch, &object(Some("n2")), Some("n1"))
        .unwrap_err();
    assert_eq!(err.code(), "wallet_nonce_mismatch");
    assert!(
        policy()
            .finish(&fetch, &object(Some("n1")), Some("n1"))
            .is_ok()
    );
    // Outer and inner client_id differ (VP-14).
    let mut other = fetch.clone();
    other.client_id = "x509_san_dns:verifier.example.org".into();
    assert_eq!(
        policy()
            .finish(&other, &object(None), None)
            .unwrap_err()
            .code(),
        "client_id_mismatch"
    );
    // Wrong content type, HTTP errors (VP-20).
    let wrong = object(None).with_content_type("application/json");
    assert_eq!(
        policy().finish(&fetch, &wrong, None).unwrap_err().code(),
        "request_invalid"
    );
    assert_eq!(
        policy()
            .finish(&fetch, &HttpResponse::new(500, vec![]), None)
            .unwrap_err()
            .code(),
        "http_status"
    );
    // An untrusted anchor (VP-07).
    let strange = WalletPolicy::new({
        let mut a = TrustAnchors::new();
        a.add_der(&der(&vectors()["verifier_leaf"])).unwrap();
        a
    })
    .clock(Arc::new(FixedClock(NOW)));
    assert_eq!(
        strange
            .finish(&fetch, &object(None), None)
            .unwrap_err()
            .code(),
        "untrusted_verifier"
    );
    // request_uri_method, request + request_uri, http request_uri (VP-20, VP-21, VP-22).
    for (uri, code) in [
        (
            "openid4vp://?client_id=x509_hash%3Aa&request_uri=https%3A%2F%2Fv.example%2Fr&request_uri_method=POST",
            "invalid_request_uri_method",
        ),
        (
            "openid4vp://?client_id=x509_hash%3Aa&request_uri=https%3A%2F%2Fv.example%2Fr&request=e30",
            "request_invalid",
        ),
        (
            "openid4vp://?client_id=x509_hash%3Aa&request_uri=http%3A%2F%2Fv.example%2Fr",
            "url_invalid",
        ),
        (
            "openid4vp://?client_id=x509_hash%3Aa&request_uri=https%3A%2F%2F127.0.0.1%2Fr",
            "url_forbidden",
        ),
        (
            "openid4vp://?client_id=evil%3Abank.example&request_uri=https%3A%2F%2Fv.example%2Fr",
            "unsupported_client_id_prefix",
        ),
        (
            "openid4vp://?client_id=origin%3Ahttps%3A%2F%2Fbank.example&request_uri=https%3A%2F%2Fv.example%2Fr",
            "reserved_client_id_prefix",
        ),
        (
            "openid4vp://?client_id=a&client_id=b&request_uri=https%3A%2F%2Fv.example%2Fr",
            "request_invalid",
        ),
        ("openid4vp://no-query", "request_invalid"),
    ] {
        assert_eq!(
            policy().start(uri).map(|_| ()).unwrap_err().code(),
            code,
            "{uri}"
        );
    }
}

fn unsigned_uri(params: &[(&str, &str)]) -> String {
    format!("openid4vp://?{}", credkit_form(params))
}

#[test]
fn unsigned_requests_follow_the_redirect_uri_rules() {
    let dcql = over_18().to_json().to_string();
    let base = |client_id: &str, response_uri: &str| {
        vec![
            ("client_id".to_owned(), client_id.to_owned()),
            ("response_type".to_owned(), "vp_token".to_owned()),
            ("response_mode".to_owned(), "direct_post".to_owned()),
            ("response_uri".to_owned(), response_uri.to_owned()),
            ("nonce".to_owned(), "n-0S6_WzA2Mj".to_owned()),
            ("dcql_query".to_owned(), dcql.clone()),
        ]
    };
    let uri = |pairs: &[(String, String)]| {
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        unsigned_uri(&refs)
    };
    let ok = base(
        "redirect_uri:https://shop.example/cb",
        "https://shop.example/cb",
    );
    let request = match policy().start(&uri(&ok)).unwrap() {
        Start::Ready(r) => r,
        Start::Fetch(_) => unreachable!(),
    };
    assert!(!request.verifier().authenticated);
    // response_uri elsewhere (VP-10).
    let elsewhere = base(
        "redirect_uri:https://shop.example/cb",
        "https://evil.example/cb",
    );
    assert_eq!(
        policy()
            .start(&uri(&elsewhere))
            .map(|_| ())
            .unwrap_err()
            .code(),
        "response_uri_not_allowed"
    );
    // x509 prefixes need a signature (VP-16); unregistered plain ids (VP-01).
    for id in ["x509_san_dns:shop.example", "x509_hash:abc", "shop.example"] {
        let p = base(id, "https://shop.example/cb");
        assert_eq!(
            policy().start(&uri(&p)).map(|_| ()).unwrap_err().code(),
            "unsigned_request_not_allowed",
            "{id}"
        );
    }
    // HAIP refuses every unsigned request.
    assert_eq!(
        policy()
            .profile(Profile::Haip)
            .start(&uri(&ok))
            .map(|_| ())
            .unwrap_err()
            .code(),
        "unsigned_request_not_allowed"
    );
    // Missing nonce, bad alphabet, missing response_mode, redirect_uri with direct_post,
    // both dcql_query and scope (VP-31, VP-39, VP-58).
    let mutate = |f: &dyn Fn(&mut Vec<(String, String)>)| {
        let mut p = ok.clone();
        f(&mut p);
        policy().start(&uri(&p)).map(|_| ()).unwrap_err().code()
    };
    assert_eq!(
        mutate(&|p| p.retain(|(k, _)| k != "nonce")),
        "request_invalid"
    );
    assert_eq!(
        mutate(&|p| p.iter_mut().for_each(|(k, v)| if k == "nonce" {
            *v = "a$b".into()
        })),
        "request_invalid"
    );
    assert_eq!(
        mutate(&|p| p.retain(|(k, _)| k != "response_mode")),
        "request_invalid"
    );
    assert_eq!(
        mutate(&|p| p.push(("redirect_uri".into(), "https://shop.example/cb".into()))),
        "request_invalid"
    );
    assert_eq!(
        mutate(&|p| p.push(("scope".into(), "pid".into()))),
        "request_invalid"
    );
    assert_eq!(
        mutate(&|p| p.push(("client_id_scheme".into(), "redirect_uri".into()))),
        "request_invalid"
    );
    assert_eq!(
        mutate(&|p| p.iter_mut().for_each(|(k, v)| if k == "response_uri" {
            *v = "http://shop.example/cb".into()
        })),
        "response_uri_not_allowed"
    );
    // transaction data only in signed requests (VP-52).
    assert_eq!(
        mutate(&|p| p.push((
            "transaction_data".into(),
            "[\"eyJ0eXBlIjoicCIsImNyZWRlbnRpYWxfaWRzIjpbInBpZCJdfQ\"]".into()
        ))),
        "invalid_transaction_data"
    );
}

#[test]
fn pre_registered_clients() {
    let signer = leaf_signer();
    let registered = RegisteredClient::new(
        "bank-app",
        vec![signer.public_jwk().clone()],
        vec!["https://bank.example/response".into()],
    );
    let policy = policy().register(registered);
    let payload = |client_metadata: bool, response_uri: &str| {
        let mut p = json!({
            "client_id": "bank-app", "response_type": "vp_token", "response_mode": "direct_post",
            "response_uri": response_uri, "nonce": "abcdefghijklmnop", "state": "s1",
            "dcql_query": over_18().to_json(), "iat": NOW,
        });
        if client_metadata {
            p["client_metadata"] = json!({"client_name": "Evil"});
        }
        let header = credkit::jose::jws::header_for(&*signer, Some("oauth-authz-req+jwt"));
        let jws =
            credkit::jose::UnsignedJws::new(signer.algorithm(), header, p.to_string().as_bytes())
                .sign(&*signer)
                .unwrap();
        unsigned_uri(&[("client_id", "bank-app"), ("request", jws.as_compact())])
    };
    let ok = policy
        .start(&payload(false, "https://bank.example/response"))
        .unwrap();
    let Start::Ready(r) = ok else { unreachable!() };
    assert!(r.verifier().authenticated);
    // client_metadata from a registered client (VP-15).
    assert_eq!(
        policy
            .start(&payload(true, "https://bank.example/response"))
            .map(|_| ())
            .unwrap_err()
            .code(),
        "unexpected_client_metadata"
    );
    // A response_uri it did not register.
    assert_eq!(
        policy
            .start(&payload(false, "https://bank.example/other"))
            .map(|_| ())
            .unwrap_err()
            .code(),
        "response_uri_not_allowed"
    );
    // An unknown plain client id (VP-01).
    assert_eq!(
        WalletPolicy::new(anchors())
            .clock(Arc::new(FixedClock(NOW)))
            .start(&payload(false, "https://bank.example/response"))
            .map(|_| ())
            .unwrap_err()
            .code(),
        "unknown_client"
    );
}

#[test]
fn declining_answers_access_denied_with_state() {
    let pid = Pid::new();
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let created = verifier
        .create(&PresentationRequest::new(over_18()))
        .unwrap();
    let request = resolve(&policy(), &verifier, &created.authorization_request_uri).unwrap();
    let declined = request.decline(&OsRandom).unwrap();
    let handled = post(&verifier, &declined.body).unwrap();
    assert_eq!(handled.status, TransactionStatus::Failed);
    assert_eq!(handled.error.as_deref(), Some("access_denied"));
}

const SHOP: &str = "https://shop.example";

/// The verifier's DC API request answered through the wallet, as the platform would carry it.
fn dc_api_round_trip(
    verifier: &Verifier,
    wallet: &Wallet,
    request: &PresentationRequest,
    origin: &str,
) -> credkit::Result<credkit::openid4vp::verifier::ResponseHandled> {
    let created = verifier.create_dc_api(request).unwrap();
    let protocol = created.dc_api_request["protocol"]
        .as_str()
        .unwrap()
        .to_owned();
    let data = &created.dc_api_request["data"];
    let authorization = policy().dc_api_request(&protocol, data, origin)?;
    let choices = authorization.least_disclosure(wallet)?;
    let answer = authorization.respond_dc_api(wallet, &choices, &OsRandom)?;
    verifier.handle_dc_api_response(&created.transaction.id, &answer)
}

#[test]
fn dc_api_signed_and_unsigned_requests() {
    let pid = Pid::new();
    let wallet = pid.wallet(4);
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash).profile(Profile::Haip);
    // Signed, dc_api.jwt (HAIP §5.2).
    let signed = PresentationRequest::dc_api(over_18(), &[SHOP]);
    let handled = dc_api_round_trip(&verifier, &wallet, &signed, SHOP).unwrap();
    assert_eq!(
        handled.status,
        TransactionStatus::Verified,
        "{:?}",
        handled.error
    );
    let tx = verifier.transaction(&handled.transaction_id).unwrap();
    assert_eq!(
        tx.credentials.unwrap()["pid"][0]["claims"],
        json!({"age_equal_or_over": {"18": true}})
    );
    // Unsigned (allowed without HAIP): the verifier is known by its origin.
    let plain_verifier = verifier.clone().profile(Profile::OpenId4Vp);
    let unsigned = PresentationRequest::dc_api(over_18(), &[SHOP])
        .signed(false)
        .response_mode(ResponseMode::DcApi);
    let created = plain_verifier.create_dc_api(&unsigned).unwrap();
    assert_eq!(created.dc_api_request["protocol"], "openid4vp-v1-unsigned");
    assert!(created.dc_api_request["data"].get("client_id").is_none());
    let request = policy()
        .dc_api_request(
            "openid4vp-v1-unsigned",
            &created.dc_api_request["data"],
            SHOP,
        )
        .unwrap();
    assert_eq!(request.verifier().client_id, "origin:https://shop.example");
    assert!(!request.verifier().authenticated);
    assert_eq!(request.audience(), "origin:https://shop.example");
    let handled = dc_api_round_trip(&plain_verifier, &wallet, &unsigned, SHOP).unwrap();
    assert_eq!(
        handled.status,
        TransactionStatus::Verified,
        "{:?}",
        handled.error
    );
    // An unsigned request's client_id and expected_origins are ignored (VP-45).
    let mut borrowed = created.dc_api_request["data"].clone();
    borrowed["client_id"] = json!("x509_san_dns:bank.example");
    borrowed["expected_origins"] = json!(["https://bank.example"]);
    let request = policy()
        .dc_api_request("openid4vp-v1-unsigned", &borrowed, SHOP)
        .unwrap();
    assert_eq!(request.verifier().client_id, "origin:https://shop.example");
}

#[test]
fn dc_api_origins_and_protocol_shapes() {
    let pid = Pid::new();
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let created = verifier
        .create_dc_api(&PresentationRequest::dc_api(over_18(), &[SHOP]))
        .unwrap();
    let data = &created.dc_api_request["data"];
    // VP-43: exact string comparison, no normalisation.
    for origin in [
        "https://evil.example",
        "https://shop.example/",
        "https://SHOP.example",
        "https://shop.example:443",
    ] {
        let err = policy()
            .dc_api_request("openid4vp-v1-signed", data, origin)
            .unwrap_err();
        assert_eq!(err.code(), "origin_mismatch", "{origin}");
    }
    assert!(
        policy()
            .dc_api_request("openid4vp-v1-signed", data, SHOP)
            .is_ok()
    );
    // VP-46: the protocol must match the data's shape; no plain params next to a signed
    // request.
    let mut sibling = data.clone();
    sibling["dcql_query"] = json!({});
    for (protocol, d) in [
        ("openid4vp-v1-unsigned", data.clone()),
        ("openid4vp-v1-signed", sibling),
        ("openid4vp-v1-multisigned", data.clone()),
        ("openid4vp-v2-signed", data.clone()),
    ] {
        let err = policy().dc_api_request(protocol, &d, SHOP).unwrap_err();
        assert_eq!(err.code(), "request_invalid", "{protocol}");
    }
    // A redirect mode over the DC API, and a DC API mode in a redirect request.
    let signer = leaf_signer();
    let x5c = vec![credkit::b64::encode_std(&der(&vectors()["verifier_leaf"]))];
    let sign = |payload: &Value| {
        let mut header = Map::new();
        header.insert("typ".into(), "oauth-authz-req+jwt".into());
        header.insert("x5c".into(), json!(x5c));
        credkit::jose::UnsignedJws::new(signer.algorithm(), header, payload.to_string().as_bytes())
            .sign(&*signer)
            .unwrap()
            .as_compact()
            .to_owned()
    };
    let base = json!({
        "client_id": verifier.client_id(), "response_type": "vp_token",
        "response_mode": "dc_api", "nonce": "abcdefghijklmnop",
        "dcql_query": over_18().to_json(), "expected_origins": [SHOP], "iat": NOW,
    });
    assert!(
        policy()
            .dc_api_request(
                "openid4vp-v1-signed",
                &json!({"request": sign(&base)}),
                SHOP
            )
            .is_ok()
    );
    let mut redirect_mode = base.clone();
    redirect_mode["response_mode"] = json!("direct_post");
    redirect_mode["response_uri"] = json!("https://verifier.example.org/r");
    let err = policy()
        .dc_api_request(
            "openid4vp-v1-signed",
            &json!({"request": sign(&redirect_mode)}),
            SHOP,
        )
        .unwrap_err();
    assert_eq!(err.code(), "request_invalid");
    // VP-44: signed without expected_origins; forbidden schemes.
    let mut none = base.clone();
    none.as_object_mut().unwrap().remove("expected_origins");
    let err = policy()
        .dc_api_request(
            "openid4vp-v1-signed",
            &json!({"request": sign(&none)}),
            SHOP,
        )
        .unwrap_err();
    assert_eq!(err.code(), "request_invalid");
    let mut js = base.clone();
    js["expected_origins"] = json!([SHOP, "javascript:alert(1)"]);
    let err = policy()
        .dc_api_request("openid4vp-v1-signed", &json!({"request": sign(&js)}), SHOP)
        .unwrap_err();
    assert_eq!(err.code(), "request_invalid");
    // The platform origin must look like one.
    let err = policy()
        .dc_api_request("openid4vp-v1-signed", data, "")
        .unwrap_err();
    assert_eq!(err.code(), "request_invalid");
}

#[test]
fn dc_api_multisigned_requests() {
    let pid = Pid::new();
    let wallet = pid.wallet(2);
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let signer = leaf_signer();
    let x5c = vec![credkit::b64::encode_std(&der(&vectors()["verifier_leaf"]))];
    let payload = json!({
        "response_type": "vp_token", "response_mode": "dc_api", "nonce": "abcdefghijklmnop",
        "dcql_query": over_18().to_json(), "expected_origins": [SHOP], "iat": NOW,
    });
    let payload_b64 = credkit::b64::encode(payload.to_string().as_bytes());
    let signature = |client_id: &str, valid: bool| {
        let protected = json!({"alg": "ES256", "typ": "oauth-authz-req+jwt", "x5c": x5c, "client_id": client_id});
        let protected_b64 = credkit::b64::encode(protected.to_string().as_bytes());
        let input = format!("{protected_b64}.{payload_b64}");
        let mut sig = signer.sign(input.as_bytes()).unwrap();
        if !valid {
            sig[5] ^= 1;
        }
        json!({"protected": protected_b64, "signature": credkit::b64::encode(&sig)})
    };
    let request =
        |sigs: Vec<Value>| json!({"request": {"payload": payload_b64, "signatures": sigs}});
    // One bad and one good signature: the good one decides (CS MultiSignedOneInvalidSignature).
    let ok = policy()
        .dc_api_request(
            "openid4vp-v1-multisigned",
            &request(vec![
                signature("x509_hash:forged", false),
                signature(verifier.client_id(), true),
            ]),
            SHOP,
        )
        .unwrap();
    assert_eq!(ok.verifier().client_id, verifier.client_id());
    assert!(ok.verifier().authenticated);
    assert_eq!(ok.audience(), "origin:https://shop.example");
    let choices = ok.least_disclosure(&wallet).unwrap();
    assert!(ok.respond_dc_api(&wallet, &choices, &OsRandom).is_ok());
    // Every signature invalid (VP-47).
    let err = policy()
        .dc_api_request(
            "openid4vp-v1-multisigned",
            &request(vec![signature(verifier.client_id(), false)]),
            SHOP,
        )
        .unwrap_err();
    assert_eq!(err.code(), "invalid_signature");
    // client_id in the payload.
    let mut with_id = payload.clone();
    with_id["client_id"] = json!(verifier.client_id());
    let bad = json!({"request": {"payload": credkit::b64::encode(with_id.to_string().as_bytes()), "signatures": [signature(verifier.client_id(), true)]}});
    let err = policy()
        .dc_api_request("openid4vp-v1-multisigned", &bad, SHOP)
        .unwrap_err();
    assert_eq!(err.code(), "request_invalid");
}

#[test]
fn dc_api_responses_are_bound_to_the_origin() {
    let pid = Pid::new();
    let wallet = pid.wallet(3);
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let created = verifier
        .create_dc_api(
            &PresentationRequest::dc_api(over_18(), &[SHOP]).response_mode(ResponseMode::DcApi),
        )
        .unwrap();
    let batch = wallet.list().unwrap()[0].batch.clone();
    // KB-JWT for the client id instead of origin:... (VP-38, CS CheckAudInBindingJwtDcApi).
    let p = wallet
        .present(
            &batch,
            &["/age_equal_or_over/18"],
            verifier.client_id(),
            &created.transaction.nonce,
        )
        .unwrap();
    let handled = verifier
        .handle_dc_api_response(&created.transaction.id, &json!({"vp_token": {"pid": [p]}}))
        .unwrap();
    assert_eq!(handled.error.as_deref(), Some("aud_mismatch"));
    // The origin of another site.
    let created = verifier
        .create_dc_api(
            &PresentationRequest::dc_api(over_18(), &[SHOP]).response_mode(ResponseMode::DcApi),
        )
        .unwrap();
    let p = wallet
        .present(
            &batch,
            &["/age_equal_or_over/18"],
            "origin:https://evil.example",
            &created.transaction.nonce,
        )
        .unwrap();
    let handled = verifier
        .handle_dc_api_response(&created.transaction.id, &json!({"vp_token": {"pid": [p]}}))
        .unwrap();
    assert_eq!(handled.error.as_deref(), Some("aud_mismatch"));
    // A redirect transaction does not take a DC API response, nor the reverse.
    let redirect = verifier
        .create(&PresentationRequest::new(over_18()))
        .unwrap();
    let err = verifier
        .handle_dc_api_response(&redirect.transaction.id, &json!({"vp_token": {}}))
        .unwrap_err();
    assert_eq!(err.code(), "transaction_unknown");
    // dc_api.jwt answered in the clear (VP-28).
    let created = verifier
        .create_dc_api(&PresentationRequest::dc_api(over_18(), &[SHOP]))
        .unwrap();
    let p = wallet
        .present(
            &batch,
            &["/age_equal_or_over/18"],
            "origin:https://shop.example",
            &created.transaction.nonce,
        )
        .unwrap();
    let handled = verifier
        .handle_dc_api_response(&created.transaction.id, &json!({"vp_token": {"pid": [p]}}))
        .unwrap();
    assert_eq!(handled.error.as_deref(), Some("encryption_required"));
}

#[test]
fn same_device_results_are_released_once_by_response_code() {
    let pid = Pid::new();
    let wallet = pid.wallet(2);
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let run = || {
        let created = verifier
            .create(&PresentationRequest::new(over_18()).redirect_uri("https://shop.example/done"))
            .unwrap();
        let request = resolve(&policy(), &verifier, &created.authorization_request_uri).unwrap();
        let choices = request.least_disclosure(&wallet).unwrap();
        let body = request.respond(&wallet, &choices, &OsRandom).unwrap();
        (created.transaction.id, post(&verifier, &body.body).unwrap())
    };
    let (id, handled) = run();
    let redirect = handled.redirect_uri.unwrap();
    let code = redirect
        .strip_prefix("https://shop.example/done#response_code=")
        .unwrap()
        .to_owned();
    assert!(code.len() >= 32, "at least 128 bits");
    // Not released without the code, with another code, or to another transaction (VP-34).
    assert_eq!(
        verifier
            .redeem_response_code(&id, "0000")
            .unwrap_err()
            .code(),
        "response_code_invalid"
    );
    let (other_id, other) = run();
    assert!(other.redirect_uri.is_some());
    assert_eq!(
        verifier
            .redeem_response_code(&other_id, &code)
            .unwrap_err()
            .code(),
        "response_code_invalid"
    );
    let tx = verifier.redeem_response_code(&id, &code).unwrap();
    assert_eq!(tx.status, TransactionStatus::Verified);
    // Single use.
    assert_eq!(
        verifier
            .redeem_response_code(&id, &code)
            .unwrap_err()
            .code(),
        "response_code_invalid"
    );
}

#[test]
fn verifier_attestation_clients() {
    let provider = default_provider();
    let attester = provider
        .signer(&provider.generate(Algorithm::Es256, &OsRandom).unwrap())
        .unwrap();
    let verifier_key = provider
        .signer(&provider.generate(Algorithm::Es256, &OsRandom).unwrap())
        .unwrap();
    let other = provider
        .signer(&provider.generate(Algorithm::Es256, &OsRandom).unwrap())
        .unwrap();
    let attestation = |claims: Value, typ: &str, by: &dyn Signer| {
        let header = credkit::jose::jws::header_for(by, Some(typ));
        credkit::jose::UnsignedJws::new(by.algorithm(), header, claims.to_string().as_bytes())
            .sign(by)
            .unwrap()
            .as_compact()
            .to_owned()
    };
    let good_claims = json!({
        "iss": "https://attester.example", "sub": "shop.example", "exp": NOW + 3600,
        "cnf": {"jwk": Value::Object(verifier_key.public_jwk().minimal_json())},
        "redirect_uris": ["https://shop.example/response"],
    });
    let request = |att: &str, by: &dyn Signer, response_uri: &str| {
        let mut header = credkit::jose::jws::header_for(by, Some("oauth-authz-req+jwt"));
        header.insert("jwt".into(), att.into());
        let payload = json!({
            "client_id": "verifier_attestation:shop.example", "response_type": "vp_token",
            "response_mode": "direct_post", "response_uri": response_uri,
            "nonce": "abcdefghijklmnop", "state": "s1", "dcql_query": over_18().to_json(), "iat": NOW,
        });
        let jws =
            credkit::jose::UnsignedJws::new(by.algorithm(), header, payload.to_string().as_bytes())
                .sign(by)
                .unwrap();
        unsigned_uri(&[
            ("client_id", "verifier_attestation:shop.example"),
            ("request", jws.as_compact()),
        ])
    };
    let trusting =
        policy().trust_attester("https://attester.example", attester.public_jwk().clone());
    let good = attestation(good_claims.clone(), "verifier-attestation+jwt", &*attester);
    let Start::Ready(r) = trusting
        .start(&request(
            &good,
            &*verifier_key,
            "https://shop.example/response",
        ))
        .unwrap()
    else {
        unreachable!()
    };
    assert!(r.verifier().authenticated);
    let code = |p: &WalletPolicy, uri: String| p.start(&uri).map(|_| ()).unwrap_err().code();
    // VP-12: untrusted attester, wrong typ, sub, expired, request not signed by cnf,
    // response_uri outside redirect_uris.
    assert_eq!(
        code(
            &policy(),
            request(&good, &*verifier_key, "https://shop.example/response")
        ),
        "untrusted_verifier"
    );
    let by_other = attestation(good_claims.clone(), "verifier-attestation+jwt", &*other);
    assert_eq!(
        code(
            &trusting,
            request(&by_other, &*verifier_key, "https://shop.example/response")
        ),
        "untrusted_verifier"
    );
    let wrong_typ = attestation(good_claims.clone(), "JWT", &*attester);
    assert_eq!(
        code(
            &trusting,
            request(&wrong_typ, &*verifier_key, "https://shop.example/response")
        ),
        "untrusted_verifier"
    );
    let mut c = good_claims.clone();
    c["sub"] = json!("bank.example");
    assert_eq!(
        code(
            &trusting,
            request(
                &attestation(c, "verifier-attestation+jwt", &*attester),
                &*verifier_key,
                "https://shop.example/response"
            )
        ),
        "untrusted_verifier"
    );
    let mut c = good_claims.clone();
    c["exp"] = json!(NOW - 1);
    assert_eq!(
        code(
            &trusting,
            request(
                &attestation(c, "verifier-attestation+jwt", &*attester),
                &*verifier_key,
                "https://shop.example/response"
            )
        ),
        "untrusted_verifier"
    );
    assert_eq!(
        code(
            &trusting,
            request(&good, &*other, "https://shop.example/response")
        ),
        "invalid_signature"
    );
    assert_eq!(
        code(
            &trusting,
            request(&good, &*verifier_key, "https://shop.example/other")
        ),
        "response_uri_not_allowed"
    );
}

#[cfg(feature = "did")]
#[test]
fn decentralized_identifier_clients() {
    let signer = leaf_signer();
    let jwk = Value::Object(signer.public_jwk().minimal_json()).to_string();
    let did = format!("did:jwk:{}", credkit::b64::encode(jwk.as_bytes()));
    let request = |kid: &str| {
        let mut header = Map::new();
        header.insert("typ".into(), "oauth-authz-req+jwt".into());
        header.insert("kid".into(), kid.into());
        let payload = json!({
            "client_id": format!("decentralized_identifier:{did}"), "response_type": "vp_token",
            "response_mode": "direct_post", "response_uri": "https://shop.example/response",
            "nonce": "abcdefghijklmnop", "state": "s1", "dcql_query": over_18().to_json(), "iat": NOW,
        });
        let jws = credkit::jose::UnsignedJws::new(
            signer.algorithm(),
            header,
            payload.to_string().as_bytes(),
        )
        .sign(&*signer)
        .unwrap();
        unsigned_uri(&[
            ("client_id", &format!("decentralized_identifier:{did}")),
            ("request", jws.as_compact()),
        ])
    };
    let resolving = policy().did_resolver(Arc::new(credkit::sd_jwt_vc::DidTrust::new()));
    let Start::Ready(r) = resolving.start(&request(&format!("{did}#0"))).unwrap() else {
        unreachable!()
    };
    assert!(r.verifier().authenticated);
    assert_eq!(
        r.verifier().client_id,
        format!("decentralized_identifier:{did}")
    );
    // VP-11: a kid of another DID; no resolver configured.
    let err = resolving
        .start(&request("did:jwk:eyJvdGhlciI6MX0#0"))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.code(), "untrusted_verifier");
    let err = policy()
        .start(&request(&format!("{did}#0")))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.code(), "unsupported_client_id_prefix");
}

/// A network with one Status List Token.
#[derive(Debug)]
struct OneList {
    url: String,
    token: String,
}

impl credkit::http::HttpClient for OneList {
    fn get(
        &self,
        url: &credkit::http::HttpsUrl,
        _policy: &credkit::http::FetchPolicy,
    ) -> credkit::Result<HttpResponse> {
        Ok(if url.as_str() == self.url {
            HttpResponse::new(200, self.token.clone().into_bytes())
                .with_content_type("application/statuslist+jwt")
        } else {
            HttpResponse::new(404, Vec::new())
        })
    }
}

#[test]
fn revoked_credentials_fail_the_response_when_status_is_checked() {
    use credkit::status_list::{
        Bits, Status, StatusChecker, StatusList, StatusListTokenBuilder, status_claim,
    };
    const LIST: &str = "https://pid-provider.example/status/1";
    let pid = Pid::new();
    // Two credentials in the wallet: index 3 revoked, index 4 valid.
    let vc = VcVerifier::builder_with_clock(pid.trust(), Arc::new(FixedClock(NOW)))
        .key_binding(credkit::sd_jwt::KeyBindingPolicy::Forbidden)
        .build()
        .unwrap();
    let wallet = Wallet::new(
        Arc::new(MemoryStore::new()),
        Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom))),
        vc,
    )
    .clock(Arc::new(FixedClock(NOW)));
    let mut batches = Vec::new();
    for idx in [3u64, 4] {
        let (id, key) = wallet
            .create_holder_keys(1, Algorithm::Es256)
            .unwrap()
            .remove(0);
        let claims = json!({"age_equal_or_over": {"18": true}});
        let issued = VcBuilder::new(
            Vct::new("urn:eudi:pid:1").unwrap(),
            claims.as_object().cloned().unwrap(),
        )
        .issuer("https://pid-provider.example")
        .issued_at(NOW - 100)
        .holder_key(key)
        .status(status_claim(idx, LIST))
        .disclose("/age_equal_or_over/18")
        .unwrap()
        .issue(&*pid.issuer, &OsRandom)
        .unwrap()
        .to_string();
        batches.push(wallet.add(&[&issued], &[id]).unwrap());
    }
    let mut list = StatusList::new(Bits::new(1).unwrap(), 16).unwrap();
    list.set(3, Status::Invalid).unwrap();
    let token = StatusListTokenBuilder::new(LIST, NOW - 10)
        .issuer("https://pid-provider.example")
        .expires_at(NOW + 3600)
        .sign_jwt(&list, &*pid.issuer)
        .unwrap();
    let net = Arc::new(OneList {
        url: LIST.into(),
        token,
    });
    let checker = StatusChecker::new(credkit::http::Fetcher::new(net), pid.trust())
        .clock(Arc::new(FixedClock(NOW)));
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash).status_checker(Arc::new(checker));
    let answer = |batch: &str| {
        let created = verifier
            .create(&PresentationRequest::new(over_18()).response_mode(ResponseMode::DirectPost))
            .unwrap();
        let request = resolve(&policy(), &verifier, &created.authorization_request_uri).unwrap();
        let choice = credkit::openid4vp::wallet::Choice::new(
            "pid",
            batch,
            vec!["/age_equal_or_over/18".into()],
        );
        let body = request.respond(&wallet, &[choice], &OsRandom).unwrap();
        post(&verifier, &body.body).unwrap()
    };
    let revoked = answer(&batches[0]);
    assert_eq!(revoked.error.as_deref(), Some("credential_revoked"));
    let valid = answer(&batches[1]);
    assert_eq!(
        valid.status,
        TransactionStatus::Verified,
        "{:?}",
        valid.error
    );
}

/// The OpenID4VP 1.0 examples that are complete enough to run (test-vectors/openid4vp).
#[test]
fn spec_examples() {
    let load = |name: &str| -> Value {
        let path = format!(
            "{}/../test-vectors/openid4vp/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    // §8.2: the response URI's answer with a redirect_uri carrying a response_code.
    let v = load("8.2-response-uri-200-redirect.json");
    let body = v["parsed"]["body"].to_string();
    let reply = HttpResponse::new(200, body.into_bytes()).with_content_type("application/json");
    let outcome = credkit::openid4vp::wallet::ResponsePost::handle_reply(&reply).unwrap();
    assert_eq!(
        outcome.redirect_uri.as_deref(),
        v["parsed"]["body"]["redirect_uri"].as_str()
    );
    // An error status, and a body that is not an object, are refusals.
    let refused = HttpResponse::new(400, br#"{"error":"invalid_request"}"#.to_vec());
    let err = credkit::openid4vp::wallet::ResponsePost::handle_reply(&refused).unwrap_err();
    assert_eq!(err.code(), "response_rejected");
    assert!(err.to_string().contains("invalid_request"));
    let not_object = HttpResponse::new(200, b"[1]".to_vec());
    assert!(credkit::openid4vp::wallet::ResponsePost::handle_reply(&not_object).is_err());
    // §8.2's request by reference names the client `https://client.example.org/cb`: `https`
    // is a pre-1.0 prefix, not one of 1.0 (SOURCE.md lists the inconsistency).
    let v = load("8.2-authz-request-request-uri.json");
    let url = v["parsed"]["url"].as_str().unwrap();
    let err = policy().start(url).map(|_| ()).unwrap_err();
    assert_eq!(err.code(), "unsupported_client_id_prefix");
    // B.3.3.1: the hash of a transaction data string as sent.
    let v = load("transaction-data-hash.json");
    let sent = v["input"]["transaction_data_string"].as_str().unwrap();
    assert_eq!(
        credkit::openid4vp::transaction_data_hash(sent),
        v["expected"]["transaction_data_hashes"][0]
            .as_str()
            .unwrap()
    );
    for wrong in v["negative"].as_array().unwrap() {
        assert_ne!(
            credkit::openid4vp::transaction_data_hash(sent),
            wrong["value"].as_str().unwrap()
        );
    }
}

#[test]
fn an_expired_transaction_reads_as_failed() {
    let pid = Pid::new();
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let created = verifier
        .create(&PresentationRequest::new(over_18()))
        .unwrap();
    let id = &created.transaction.id;
    assert_eq!(
        verifier.transaction(id).unwrap().status,
        TransactionStatus::Pending
    );
    let later = verifier.clone().clock(Arc::new(FixedClock(NOW + 301)));
    let tx = later.transaction(id).unwrap();
    assert_eq!(tx.status, TransactionStatus::Failed);
    assert_eq!(tx.error.as_deref(), Some("transaction_expired"));
    assert!(tx.encryption_key.is_none());
    assert_eq!(
        later.request_object(id, None).unwrap_err().code(),
        "transaction_expired"
    );
}

/// `payload` signed by the vectors' leaf key as a request object (`typ`
/// `oauth-authz-req+jwt`), with the leaf as `x5c` when `x5c` is set.
fn leaf_signed(payload: &Value, x5c: bool) -> String {
    let signer = leaf_signer();
    let mut header = Map::new();
    header.insert("typ".into(), "oauth-authz-req+jwt".into());
    if x5c {
        header.insert(
            "x5c".into(),
            json!([credkit::b64::encode_std(&der(&vectors()["verifier_leaf"]))]),
        );
    }
    credkit::jose::UnsignedJws::new(signer.algorithm(), header, payload.to_string().as_bytes())
        .sign(&*signer)
        .unwrap()
        .as_compact()
        .to_owned()
}

/// The request by value in `uri`, which must not be by reference.
fn by_value(policy: &WalletPolicy, uri: &str) -> credkit::Result<AuthorizationRequest> {
    policy.start(uri).map(|s| match s {
        Start::Ready(r) => r,
        Start::Fetch(_) => panic!("a request by value was expected"),
    })
}

/// An unsigned `redirect_uri:https://shop.example/cb` request for [`over_18`] in `mode`, with
/// `extra` parameters.
fn shop_request(mode: &str, extra: &[(&str, &str)]) -> String {
    let dcql = over_18().to_json().to_string();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("client_id", "redirect_uri:https://shop.example/cb"),
        ("response_type", "vp_token"),
        ("response_mode", mode),
        ("nonce", "n-0S6_WzA2Mj"),
        ("state", "s1"),
        ("dcql_query", &dcql),
    ];
    pairs.extend_from_slice(extra);
    unsigned_uri(&pairs)
}

/// The compact JWE of a `direct_post.jwt` body.
fn posted_jwe(body: &str) -> &str {
    let jwe = body.strip_prefix("response=").expect("response=<JWE>");
    assert!(!jwe.contains('&'), "the JWE only");
    jwe
}

#[test]
fn registered_client_responses_are_encrypted_to_its_registered_key() {
    let pid = Pid::new();
    let wallet = pid.wallet(1);
    let enc = default_provider()
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap()
        .with_kid("bank-enc-1");
    let registered = RegisteredClient::new(
        "bank-app",
        vec![leaf_signer().public_jwk().clone()],
        vec!["https://bank.example/response".into()],
    )
    .encryption_keys(vec![enc.public().clone()]);
    let policy = policy().register(registered);
    let payload = json!({
        "client_id": "bank-app", "response_type": "vp_token",
        "response_mode": "direct_post.jwt", "response_uri": "https://bank.example/response",
        "nonce": "abcdefghijklmnop", "state": "s1", "dcql_query": over_18().to_json(),
        "iat": NOW,
    });
    let uri = unsigned_uri(&[
        ("client_id", "bank-app"),
        ("request", &leaf_signed(&payload, false)),
    ]);
    let request = by_value(&policy, &uri).unwrap();
    let choices = request.least_disclosure(&wallet).unwrap();
    let post_body = request.respond(&wallet, &choices, &OsRandom).unwrap();
    assert_eq!(post_body.url, "https://bank.example/response");
    let jwe = posted_jwe(&post_body.body);
    let parsed = credkit::jose::jwe::Jwe::parse_compact(jwe).unwrap();
    assert_eq!(parsed.kid(), Some("bank-enc-1"));
    let decrypted = credkit::jose::jwe::Decrypter::new(vec![enc])
        .decrypt_compact(jwe)
        .unwrap();
    let members: Value = serde_json::from_slice(&decrypted.plaintext).unwrap();
    assert_eq!(members["state"], "s1");
    assert!(members["vp_token"]["pid"][0].is_string(), "{members}");
}

#[test]
fn redirect_uri_client_without_response_uri_posts_to_its_client_id() {
    let request = by_value(&policy(), &shop_request("direct_post", &[])).unwrap();
    assert_eq!(
        request.params().response_uri.as_deref(),
        Some("https://shop.example/cb")
    );
}

#[test]
fn haip_verifier_requires_kb_jwt_for_holder_bound_credentials() {
    let pid = Pid::new();
    let wallet = pid.wallet(2);
    let batch = wallet.list().unwrap()[0].batch.clone();
    let unbound = DcqlQueryBuilder::new()
        .credential(
            CredentialQueryBuilder::sd_jwt_vc("pid", &["urn:eudi:pid:1"])
                .claim(&["age_equal_or_over", "18"])
                .require_holder_binding(false),
        )
        .build()
        .unwrap();
    // The presentation without its KB-JWT: everything up to and with the last `~`.
    let without_kb = |verifier: &Verifier, nonce: &str| {
        let p = wallet
            .present(
                &batch,
                &["/age_equal_or_over/18"],
                verifier.client_id(),
                nonce,
            )
            .unwrap();
        let cut = p.rfind('~').unwrap();
        let bare = p[..=cut].to_owned();
        assert!(bare.ends_with('~') && bare.len() < p.len());
        bare
    };
    let haip = verifier(&pid, ClientIdPrefix::X509Hash).profile(Profile::Haip);
    let created = haip
        .create(&PresentationRequest::new(unbound.clone()))
        .unwrap();
    let tx = &created.transaction;
    let plaintext = json!({
        "vp_token": {"pid": [without_kb(&haip, &tx.nonce)]}, "state": tx.state,
    })
    .to_string();
    let key = tx.encryption_key.clone().unwrap();
    let jwe = credkit::jose::jwe::encrypt(
        key.public(),
        credkit::jose::jwe::ContentEncryption::A128Gcm,
        &credkit::jose::jwe::EncryptOptions::default().kid(tx.id.clone()),
        plaintext.as_bytes(),
        default_provider(),
        &OsRandom,
    )
    .unwrap();
    let handled = post(&haip, &credkit_form(&[("response", &jwe)])).unwrap();
    assert_eq!(handled.status, TransactionStatus::Failed);
    assert_eq!(handled.error.as_deref(), Some("kb_required"));
    assert_eq!(
        haip.transaction(&tx.id).unwrap().error.as_deref(),
        Some("kb_required")
    );
    // Without HAIP the query's require_cryptographic_holder_binding false decides.
    let plain = verifier(&pid, ClientIdPrefix::X509Hash);
    let created = plain
        .create(&PresentationRequest::new(unbound).response_mode(ResponseMode::DirectPost))
        .unwrap();
    let tx = &created.transaction;
    let body = credkit_form(&[
        (
            "vp_token",
            &json!({"pid": [without_kb(&plain, &tx.nonce)]}).to_string(),
        ),
        ("state", &tx.state),
    ]);
    let handled = post(&plain, &body).unwrap();
    assert_eq!(
        handled.status,
        TransactionStatus::Verified,
        "{:?}",
        handled.error
    );
}

#[test]
fn haip_verifier_refuses_a_trust_anchor_in_its_x5c() {
    let pid = Pid::new();
    let v = vectors();
    let with_anchor = |profile: Profile| {
        Verifier::new(
            ClientIdPrefix::X509Hash,
            leaf_signer(),
            vec![der(&v["verifier_leaf"]), der(&v["trust_anchor"])],
            None,
            RESPONSE_URI,
            REQUEST_URI_BASE,
            pid.trust(),
            Arc::new(MemoryTransactionStore::new()),
            Arc::new(OsRandom),
        )
        .unwrap()
        .clock(Arc::new(FixedClock(NOW)))
        .profile(profile)
    };
    let err = with_anchor(Profile::Haip)
        .create(&PresentationRequest::new(over_18()))
        .unwrap_err();
    assert_eq!(err.code(), "api_misuse");
    // The leaf alone is fine under HAIP; the chain with its anchor is fine without HAIP.
    assert!(
        verifier(&pid, ClientIdPrefix::X509Hash)
            .profile(Profile::Haip)
            .create(&PresentationRequest::new(over_18()))
            .is_ok()
    );
    assert!(
        with_anchor(Profile::OpenId4Vp)
            .create(&PresentationRequest::new(over_18()))
            .is_ok()
    );
}

#[test]
fn transaction_data_must_be_confirmed_by_a_presentation_it_is_aimed_at() {
    let pid = Pid::new();
    let wallet = pid.wallet(3);
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let batch = wallet.list().unwrap()[0].batch.clone();
    let ptrs = ["/age_equal_or_over/18"];
    let either = DcqlQueryBuilder::new()
        .credential(
            CredentialQueryBuilder::sd_jwt_vc("pid", &["urn:eudi:pid:1"])
                .claim(&["age_equal_or_over", "18"]),
        )
        .credential(
            CredentialQueryBuilder::sd_jwt_vc("pid2", &["urn:eudi:pid:1"])
                .claim(&["age_equal_or_over", "18"]),
        )
        .credential_set(&[&["pid"], &["pid2"]], true)
        .build()
        .unwrap();
    let start = || {
        verifier
            .create(
                &PresentationRequest::new(either.clone())
                    .response_mode(ResponseMode::DirectPost)
                    .transaction_data(vec![td_object()]),
            )
            .unwrap()
            .transaction
    };
    // Answered by pid, with the hash: verified.
    let tx = start();
    let mut extra = Map::new();
    extra.insert(
        "transaction_data_hashes".into(),
        json!([credkit::openid4vp::transaction_data_hash(
            &tx.transaction_data[0]
        )]),
    );
    let p = wallet
        .present_all_with(&[(&batch, &ptrs, &extra)], verifier.client_id(), &tx.nonce)
        .unwrap()
        .remove(0);
    let body = credkit_form(&[
        ("vp_token", &json!({"pid": [p]}).to_string()),
        ("state", &tx.state),
    ]);
    let handled = post(&verifier, &body).unwrap();
    assert_eq!(
        handled.status,
        TransactionStatus::Verified,
        "{:?}",
        handled.error
    );
    // Answered by pid2 only: the set is satisfied, but the data for pid is confirmed by no
    // presentation.
    let tx = start();
    let p = wallet
        .present(&batch, &ptrs, verifier.client_id(), &tx.nonce)
        .unwrap();
    let body = credkit_form(&[
        ("vp_token", &json!({"pid2": [p]}).to_string()),
        ("state", &tx.state),
    ]);
    let handled = post(&verifier, &body).unwrap();
    assert_eq!(handled.status, TransactionStatus::Failed);
    assert_eq!(
        handled.error.as_deref(),
        Some("transaction_data_hash_mismatch")
    );
    // Transaction data for a query the request does not have.
    let mut unknown = td_object();
    unknown.insert("credential_ids".into(), json!(["nope"]));
    let err = verifier
        .create(&PresentationRequest::new(either).transaction_data(vec![unknown]))
        .unwrap_err();
    assert_eq!(err.code(), "api_misuse");
}

#[test]
fn a_choice_disclosing_more_than_its_candidate_is_refused_before_spending() {
    let pid = Pid::new();
    let wallet = pid.wallet(2);
    let verifier = verifier(&pid, ClientIdPrefix::X509Hash);
    let created = verifier
        .create(&PresentationRequest::new(over_18()).response_mode(ResponseMode::DirectPost))
        .unwrap();
    let request = resolve(&policy(), &verifier, &created.authorization_request_uri).unwrap();
    let held = &wallet.list().unwrap()[0];
    let unused = held.unused;
    let more = credkit::openid4vp::wallet::Choice::new(
        "pid",
        &held.batch,
        vec!["/age_equal_or_over/18".into(), "/given_name".into()],
    );
    let err = request.respond(&wallet, &[more], &OsRandom).unwrap_err();
    assert_eq!(err.code(), "access_denied");
    assert_eq!(wallet.list().unwrap()[0].unused, unused, "no copy spent");
    // The candidate itself goes through and spends a copy.
    let choices = request.least_disclosure(&wallet).unwrap();
    assert!(request.respond(&wallet, &choices, &OsRandom).is_ok());
    assert_eq!(wallet.list().unwrap()[0].unused, unused - 1);
}

#[test]
fn client_name_is_shown_without_bidi_and_control_characters() {
    let metadata = json!({"client_name": "Shop\u{202E}gro.knab\u{0007}"}).to_string();
    let request = by_value(
        &policy(),
        &shop_request(
            "direct_post",
            &[
                ("response_uri", "https://shop.example/cb"),
                ("client_metadata", &metadata),
            ],
        ),
    )
    .unwrap();
    assert_eq!(request.verifier().name.as_deref(), Some("Shopgro.knab"));
}

#[test]
fn the_response_is_encrypted_to_the_first_usable_key_with_the_best_enc() {
    let pid = Pid::new();
    let wallet = pid.wallet(2);
    let p = default_provider();
    let member = |k: &PrivateJwk, extra: Value| {
        let mut m = k.public().minimal_json();
        m.extend(extra.as_object().unwrap().clone());
        Value::Object(m)
    };
    let sig = p.generate(Algorithm::Es256, &OsRandom).unwrap();
    let no_alg = p.generate(Algorithm::Es256, &OsRandom).unwrap();
    let p384 = p.generate(Algorithm::Es384, &OsRandom).unwrap();
    let good = p
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap()
        .with_kid("good");
    let keys = vec![
        member(&sig, json!({"kid": "sig", "use": "sig", "alg": "ECDH-ES"})),
        member(&no_alg, json!({"kid": "no-alg"})),
        member(&p384, json!({"kid": "p384", "alg": "ECDH-ES"})),
        member(
            &good,
            json!({"kid": "good", "alg": "ECDH-ES", "use": "enc"}),
        ),
    ];
    let answer = |metadata: Value| {
        let metadata = metadata.to_string();
        let uri = shop_request(
            "direct_post.jwt",
            &[
                ("response_uri", "https://shop.example/cb"),
                ("client_metadata", &metadata),
            ],
        );
        let request = by_value(&policy(), &uri)?;
        let choices = request.least_disclosure(&wallet)?;
        let post_body = request.respond(&wallet, &choices, &OsRandom)?;
        let jwe = posted_jwe(&post_body.body).to_owned();
        let parsed = credkit::jose::jwe::Jwe::parse_compact(&jwe)?;
        let decrypted = credkit::jose::jwe::Decrypter::new(vec![good.clone()]).decrypt(&parsed)?;
        let members: Value = serde_json::from_slice(&decrypted.plaintext).unwrap();
        assert_eq!(members["state"], "s1");
        Ok::<_, credkit::Error>((parsed.kid().map(str::to_owned), parsed.enc()))
    };
    let (kid, enc) = answer(json!({
        "jwks": {"keys": keys},
        "encrypted_response_enc_values_supported": ["A128GCM", "A256GCM"],
    }))
    .unwrap();
    assert_eq!(kid.as_deref(), Some("good"));
    assert_eq!(enc, credkit::jose::jwe::ContentEncryption::A256Gcm);
    let (kid, enc) = answer(json!({"jwks": {"keys": keys}})).unwrap();
    assert_eq!(kid.as_deref(), Some("good"));
    assert_eq!(enc, credkit::jose::jwe::ContentEncryption::A128Gcm);
    // Two keys under one kid.
    let twice = vec![
        member(
            &good,
            json!({"kid": "good", "alg": "ECDH-ES", "use": "enc"}),
        ),
        member(
            &no_alg,
            json!({"kid": "good", "alg": "ECDH-ES", "use": "enc"}),
        ),
    ];
    let err = answer(json!({"jwks": {"keys": twice}})).unwrap_err();
    assert_eq!(err.code(), "request_invalid");
}

#[test]
fn request_object_time_claims_are_checked() {
    let registered = RegisteredClient::new(
        "bank-app",
        vec![leaf_signer().public_jwk().clone()],
        vec!["https://bank.example/response".into()],
    );
    let policy = policy().register(registered);
    let start = |change: &dyn Fn(&mut Value)| {
        let mut payload = json!({
            "client_id": "bank-app", "response_type": "vp_token", "response_mode": "direct_post",
            "response_uri": "https://bank.example/response", "nonce": "abcdefghijklmnop",
            "state": "s1", "dcql_query": over_18().to_json(), "iat": NOW,
        });
        change(&mut payload);
        let uri = unsigned_uri(&[
            ("client_id", "bank-app"),
            ("request", &leaf_signed(&payload, false)),
        ]);
        by_value(&policy, &uri).map(|_| ()).map_err(|e| e.code())
    };
    assert_eq!(start(&|_| {}), Ok(()));
    let cases: [(&str, &dyn Fn(&mut Value)); 4] = [
        ("iat 601 s old", &|p| p["iat"] = json!(NOW - 601)),
        ("iat 120 s ahead", &|p| p["iat"] = json!(NOW + 120)),
        ("nbf 120 s ahead", &|p| p["nbf"] = json!(NOW + 120)),
        ("exp a string", &|p| {
            p["exp"] = json!((NOW + 300).to_string())
        }),
    ];
    for (name, change) in cases {
        assert_eq!(start(change), Err("request_expired"), "{name}");
    }
}

#[test]
fn x509_san_dns_names_compare_case_insensitively_and_never_as_wildcards() {
    let v = vectors();
    let case = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "valid_x509_san_dns")
        .unwrap()
        .clone();
    let start = |client_id: &str| {
        let mut payload = case["decoded"]["payload"].clone();
        payload["client_id"] = json!(client_id);
        payload["response_uri"] = json!(RESPONSE_URI);
        let uri = unsigned_uri(&[
            ("client_id", client_id),
            ("request", &leaf_signed(&payload, true)),
        ]);
        by_value(&policy(), &uri)
    };
    let request = start("x509_san_dns:VERIFIER.example.org").unwrap();
    assert!(request.verifier().authenticated);
    assert_eq!(
        request.verifier().client_id,
        "x509_san_dns:VERIFIER.example.org"
    );
    assert_eq!(
        start("x509_san_dns:*.example.org").unwrap_err().code(),
        "x509_san_mismatch"
    );
}

#[test]
fn haip_wallet_refuses_a_signed_request_with_direct_post() {
    let v = vectors();
    let case = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "valid_x509_hash")
        .unwrap()
        .clone();
    let client_id = case["decoded"]["payload"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let haip = policy().profile(Profile::Haip);
    let fetch_and_finish = |mode: &str| {
        let mut payload = case["decoded"]["payload"].clone();
        payload["response_mode"] = json!(mode);
        let jws = leaf_signed(&payload, true);
        let uri = format!(
            "haip-vp://?{}",
            credkit_form(&[
                ("client_id", &client_id),
                ("request_uri", "https://verifier.example.org/r/1"),
            ])
        );
        let Start::Fetch(fetch) = haip.start(&uri).unwrap() else {
            panic!("a request by reference was expected")
        };
        let response = HttpResponse::new(200, jws.into_bytes())
            .with_content_type("application/oauth-authz-req+jwt");
        haip.finish(&fetch, &response, None)
            .map(|_| ())
            .map_err(|e| e.code())
    };
    assert_eq!(fetch_and_finish("direct_post.jwt"), Ok(()));
    assert_eq!(fetch_and_finish("direct_post"), Err("request_invalid"));
}

#[test]
fn expired_transactions_are_purged_from_the_store() {
    use credkit::openid4vp::verifier::{PresentationRequest, TransactionStore};
    let store = Arc::new(MemoryTransactionStore::new());
    let pid = Pid::new();
    let v = vectors();
    let verifier = Verifier::new(
        ClientIdPrefix::X509Hash,
        leaf_signer(),
        vec![der(&v["verifier_leaf"])],
        None,
        RESPONSE_URI,
        REQUEST_URI_BASE,
        pid.trust(),
        store.clone(),
        Arc::new(OsRandom),
    )
    .unwrap()
    .clock(Arc::new(FixedClock(NOW)));
    let created = verifier
        .create(&PresentationRequest::new(over_18()))
        .unwrap();
    let expires = created.transaction.expires_at;
    // Not yet expired at the cut-off: kept; expired before it: deleted.
    assert_eq!(store.purge_expired(expires).unwrap(), 0);
    assert!(store.get(&created.transaction.id).unwrap().is_some());
    assert_eq!(store.purge_expired(expires + 1).unwrap(), 1);
    assert!(store.get(&created.transaction.id).unwrap().is_none());
}
