//! Retrieval over real HTTPS (feature `http`): a rustls server on 127.0.0.1 inside the test,
//! with a test CA made by rcgen, answers per-test routes. Covers JWT VC Issuer Metadata
//! (draft-ietf-oauth-sd-jwt-vc §4) through `IssuerMetadataTrust`, the retrieval rules of the
//! `Fetcher` (redirects, limits, SSRF guard, TLS trust), and Type Metadata retrieved from the
//! `https` URL in `vct` (§5.3.1) with integrity over the served octets (§6).
#![cfg(feature = "http")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]
#![allow(missing_docs)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use credkit::b64;
use credkit::crypto::{HashAlg, Signer, default_provider};
use credkit::http::{FetchPolicy, Fetcher, HttpClient, HttpsUrl, UreqClient, danger};
use credkit::jose::{Algorithm, PrivateJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt_vc::type_metadata::{HttpTypeMetadata, TypeMetadataResolver};
use credkit::sd_jwt_vc::{
    IssuerBinding, IssuerMetadataTrust, TrustPolicy, TypeMetadataPolicy, VcBuilder, VcVerifier, Vct,
};

// The HTTPS test server (`Reply`, `Pki`, `pki()`, `Server`), shared with did.rs and the CLI.
#[path = "common/tls.rs"]
mod tls;
use tls::{Reply, Server, pki};

fn code<T: std::fmt::Debug>(r: credkit::Result<T>) -> &'static str {
    r.unwrap_err().code()
}

fn sri256(data: &[u8]) -> String {
    format!("sha256-{}", b64::encode_std(&HashAlg::Sha256.digest(data)))
}

// ---------------------------------------------------------------------------------------
// Issuer keys
// ---------------------------------------------------------------------------------------

struct Key {
    private: PrivateJwk,
    signer: Arc<dyn Signer>,
}

fn key(kid: Option<&str>) -> Key {
    let p = default_provider();
    let mut private = p.generate(Algorithm::Es256, &OsRandom).unwrap();
    if let Some(kid) = kid {
        private = private.with_kid(kid);
    }
    let signer = p.signer(&private).unwrap();
    Key { private, signer }
}

/// The same private key under another `kid` (so that the header names a key that did not
/// sign).
fn relabel(k: &Key, kid: &str) -> Arc<dyn Signer> {
    default_provider()
        .signer(&k.private.clone().with_kid(kid))
        .unwrap()
}

fn jwk_json(k: &Key) -> Value {
    Value::Object(k.private.public().to_json())
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn issue(iss: &str, signer: &dyn Signer) -> String {
    let claims = json!({"given_name": "Erika", "family_name": "Mustermann"});
    VcBuilder::new(
        Vct::new("urn:example:https:1").unwrap(),
        claims.as_object().cloned().unwrap(),
    )
    .issuer(iss)
    .issued_at(now() - 10)
    .disclose("/given_name")
    .unwrap()
    .issue(signer, &OsRandom)
    .unwrap()
    .to_string()
}

fn metadata_verifier(trust: IssuerMetadataTrust) -> VcVerifier {
    VcVerifier::builder(Arc::new(TrustPolicy::new().otherwise(Arc::new(trust))))
        .key_binding(credkit::sd_jwt::danger::key_binding_optional())
        .build()
        .unwrap()
}

const META_PATH: &str = "/.well-known/jwt-vc-issuer/tenant";

fn iss_of(port: u16) -> String {
    format!("https://127.0.0.1:{port}/tenant")
}

/// A server answering the issuer metadata of `https://127.0.0.1:PORT/tenant` with
/// `metadata(iss, port)` and the JWK Set at `/jwks.json` with `jwks`.
fn metadata_server(
    metadata: impl Fn(&str, u16) -> Value + Send + Sync + 'static,
    jwks: Value,
) -> Server {
    Server::start(move |path, port| match path {
        META_PATH => Reply::json(&metadata(&iss_of(port), port)),
        "/jwks.json" => Reply::json(&jwks),
        _ => Reply::status(404),
    })
}

// ---------------------------------------------------------------------------------------
// IssuerMetadataTrust (draft §4)
// ---------------------------------------------------------------------------------------

#[test]
fn issuer_metadata_with_jwks() {
    let k = key(None);
    let jwks = json!({"keys": [jwk_json(&k)]});
    let server = metadata_server(
        move |iss, _| json!({"issuer": iss, "jwks": jwks}),
        json!({}),
    );
    let iss = iss_of(server.port);
    let v = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()));
    let verified = v.verify(&issue(&iss, &*k.signer)).unwrap();
    assert_eq!(
        verified.binding,
        IssuerBinding::Metadata {
            issuer: iss.clone()
        }
    );
    assert_eq!(verified.issuer.as_deref(), Some(iss.as_str()));
    assert_eq!(verified.claims()["given_name"], "Erika");
    assert_eq!(server.hits(META_PATH), 1);
    assert_eq!(server.hits("/jwks.json"), 0);

    // A key the metadata does not list does not verify.
    let other = key(None);
    assert_eq!(
        code(v.verify(&issue(&iss, &*other.signer))),
        "invalid_signature"
    );
}

#[test]
fn issuer_metadata_with_jwks_uri() {
    let k = key(None);
    let server = metadata_server(
        |iss, port| json!({"issuer": iss, "jwks_uri": format!("https://127.0.0.1:{port}/jwks.json")}),
        json!({"keys": [jwk_json(&k)]}),
    );
    let iss = iss_of(server.port);
    let v = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()));
    let verified = v.verify(&issue(&iss, &*k.signer)).unwrap();
    assert_eq!(verified.binding, IssuerBinding::Metadata { issuer: iss });
    assert_eq!(server.hits(META_PATH), 1);
    assert_eq!(server.hits("/jwks.json"), 1);
}

#[test]
fn issuer_metadata_fetch_keys_directly() {
    let k1 = key(Some("k1"));
    let k2 = key(Some("k2"));
    let jwks = json!({"keys": [jwk_json(&k1), jwk_json(&k2)]});
    let server = metadata_server(
        move |iss, _| json!({"issuer": iss, "jwks": jwks}),
        json!({}),
    );
    let trust = IssuerMetadataTrust::new(server.fetcher());
    let keys = trust.fetch_keys(&iss_of(server.port)).unwrap();
    let kids: Vec<_> = keys
        .iter()
        .map(|k| k.jwk().kid().unwrap().to_owned())
        .collect();
    assert_eq!(kids, ["k1", "k2"]);
    // A trailing slash on iss maps to the same metadata URL, but the issuer must then match
    // iss exactly (§4.3).
    assert_eq!(
        code(trust.fetch_keys(&format!("{}/", iss_of(server.port)))),
        "issuer_mismatch"
    );
}

#[test]
fn issuer_metadata_with_both_jwks_and_jwks_uri_is_invalid() {
    let k = key(None);
    let jwks = json!({"keys": [jwk_json(&k)]});
    let jwks2 = jwks.clone();
    let server = metadata_server(
        move |iss, port| {
            json!({
                "issuer": iss,
                "jwks": jwks2,
                "jwks_uri": format!("https://127.0.0.1:{port}/jwks.json"),
            })
        },
        jwks,
    );
    let v = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()));
    assert_eq!(
        code(v.verify(&issue(&iss_of(server.port), &*k.signer))),
        "issuer_metadata_invalid"
    );
    assert_eq!(server.hits("/jwks.json"), 0);
}

#[test]
fn issuer_metadata_shapes_that_are_invalid() {
    let k = key(None);
    let good_jwks = json!({"keys": [jwk_json(&k)]});
    let cases: Vec<(&str, Value)> = vec![
        ("neither jwks nor jwks_uri", json!({})),
        ("jwks not an object", json!({"jwks": [jwk_json(&k)]})),
        ("jwks_uri not a string", json!({"jwks_uri": 5})),
        ("jwks without keys", json!({"jwks": {}})),
        ("keys not an array", json!({"jwks": {"keys": jwk_json(&k)}})),
        ("empty keys", json!({"jwks": {"keys": []}})),
        (
            "only an RSA key",
            json!({"jwks": {"keys": [{
                "kty": "RSA",
                "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
                "e": "AQAB",
                "kid": "rsa-1"
            }]}}),
        ),
        (
            "issuer missing",
            json!({"no_issuer": true, "jwks": good_jwks}),
        ),
        (
            "issuer not a string",
            json!({"issuer": 1, "jwks": good_jwks}),
        ),
    ];
    for (what, body) in cases {
        let body2 = body.clone();
        let server = metadata_server(
            move |iss, _| {
                let mut m = body2.as_object().cloned().unwrap();
                if !m.contains_key("issuer") && !m.contains_key("no_issuer") {
                    m.insert("issuer".into(), iss.into());
                }
                m.remove("no_issuer");
                Value::Object(m)
            },
            json!({}),
        );
        let v = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()));
        assert_eq!(
            code(v.verify(&issue(&iss_of(server.port), &*k.signer))),
            "issuer_metadata_invalid",
            "{what}: {body}"
        );
    }
    // An RSA key next to a usable one is skipped, not fatal.
    let mixed = json!({"keys": [
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        jwk_json(&k)
    ]});
    let server = metadata_server(
        move |iss, _| json!({"issuer": iss, "jwks": mixed}),
        json!({}),
    );
    let v = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()));
    v.verify(&issue(&iss_of(server.port), &*k.signer)).unwrap();
    // Metadata that is not JSON.
    let server = Server::start(|_, _| Reply::bytes("<html>not json</html>"));
    let v = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()));
    assert_eq!(
        code(v.verify(&issue(&iss_of(server.port), &*k.signer))),
        "json_invalid"
    );
}

#[test]
fn issuer_metadata_skips_encryption_keys() {
    let k = key(None);
    let other = key(None);
    let enc = json!({
        "kty": "EC", "crv": "P-256", "use": "enc", "kid": "enc-1",
        "x": jwk_json(&other)["x"], "y": jwk_json(&other)["y"]
    });
    let ecdh = json!({
        "kty": "EC", "crv": "P-256", "alg": "ECDH-ES", "kid": "ecdh-1",
        "x": jwk_json(&other)["x"], "y": jwk_json(&other)["y"]
    });
    // An issuer that publishes an encryption key next to its signing key.
    for extra in [enc.clone(), ecdh] {
        let jwks = json!({"keys": [extra.clone(), jwk_json(&k)]});
        let server = metadata_server(
            move |iss, _| json!({"issuer": iss, "jwks": jwks}),
            json!({}),
        );
        let v = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()));
        v.verify(&issue(&iss_of(server.port), &*k.signer))
            .unwrap_or_else(|e| panic!("{extra}: {e}"));
    }
    // Only an encryption key: no usable key.
    let jwks = json!({"keys": [enc]});
    let server = metadata_server(
        move |iss, _| json!({"issuer": iss, "jwks": jwks}),
        json!({}),
    );
    let v = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()));
    assert_eq!(
        code(v.verify(&issue(&iss_of(server.port), &*k.signer))),
        "issuer_metadata_invalid"
    );
}

#[test]
fn issuer_metadata_issuer_must_be_iss() {
    let k = key(None);
    let jwks = json!({"keys": [jwk_json(&k)]});
    let server = metadata_server(
        move |_, port| json!({"issuer": format!("https://127.0.0.1:{port}/other"), "jwks": jwks}),
        json!({}),
    );
    let v = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()));
    assert_eq!(
        code(v.verify(&issue(&iss_of(server.port), &*k.signer))),
        "issuer_mismatch"
    );
}

#[test]
fn issuer_metadata_kid_selects_the_key() {
    let k1 = key(Some("k1"));
    let k2 = key(Some("k2"));
    let jwks = json!({"keys": [jwk_json(&k1), jwk_json(&k2)]});
    let server = metadata_server(
        move |iss, _| json!({"issuer": iss, "jwks": jwks}),
        json!({}),
    );
    let iss = iss_of(server.port);
    let v = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()));
    v.verify(&issue(&iss, &*k1.signer)).unwrap();
    v.verify(&issue(&iss, &*k2.signer)).unwrap();
    // Signed by k1 but naming k2: only k2 is tried.
    assert_eq!(
        code(v.verify(&issue(&iss, &*relabel(&k1, "k2")))),
        "invalid_signature"
    );
    // A kid the metadata does not have.
    assert_eq!(
        code(v.verify(&issue(&iss, &*relabel(&k1, "k3")))),
        "unknown_key"
    );
    // No kid at all: keys of the header's algorithm are tried.
    let no_kid = default_provider()
        .signer(
            &PrivateJwk::from_json(&{
                let mut m: Map<String, Value> =
                    serde_json::from_str(&k2.private.to_json_string()).unwrap();
                m.remove("kid");
                m
            })
            .unwrap(),
        )
        .unwrap();
    v.verify(&issue(&iss, &*no_kid)).unwrap();
    // All of these used the cached metadata.
    assert_eq!(server.hits(META_PATH), 1);
}

#[test]
fn issuer_metadata_is_cached() {
    let k = key(None);
    let jwks = json!({"keys": [jwk_json(&k)]});
    let server = metadata_server(
        move |iss, _| json!({"issuer": iss, "jwks": jwks}),
        json!({}),
    );
    let iss = iss_of(server.port);
    let vc = issue(&iss, &*k.signer);

    let cached = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()));
    cached.verify(&vc).unwrap();
    cached.verify(&vc).unwrap();
    assert_eq!(server.requests(), 1);

    let uncached = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()).cache_ttl(0));
    uncached.verify(&vc).unwrap();
    uncached.verify(&vc).unwrap();
    assert_eq!(server.requests(), 3);

    // A short TTL under a clock that moves on.
    let clock = Arc::new(Mutex::new(1_000_i64));
    #[derive(Debug)]
    struct Moving(Arc<Mutex<i64>>);
    impl credkit::time::Clock for Moving {
        fn now(&self) -> i64 {
            *self.0.lock().unwrap()
        }
    }
    let ttl = metadata_verifier(
        IssuerMetadataTrust::new(server.fetcher())
            .cache_ttl(60)
            .clock(Arc::new(Moving(clock.clone()))),
    );
    ttl.verify(&vc).unwrap();
    *clock.lock().unwrap() += 59;
    ttl.verify(&vc).unwrap();
    assert_eq!(server.requests(), 4);
    *clock.lock().unwrap() += 1;
    ttl.verify(&vc).unwrap();
    assert_eq!(server.requests(), 5);
}

#[test]
fn issuer_metadata_failures_are_not_cached() {
    let k = key(None);
    let jwks = json!({"keys": [jwk_json(&k)]});
    let fail = Arc::new(AtomicUsize::new(1));
    let fail2 = fail.clone();
    let server = Server::start(move |path, port| {
        if fail2.load(Ordering::SeqCst) > 0 {
            fail2.fetch_sub(1, Ordering::SeqCst);
            return Reply::status(503);
        }
        match path {
            META_PATH => Reply::json(&json!({"issuer": iss_of(port), "jwks": jwks})),
            _ => Reply::status(404),
        }
    });
    let v = metadata_verifier(IssuerMetadataTrust::new(server.fetcher()));
    let vc = issue(&iss_of(server.port), &*k.signer);
    assert_eq!(code(v.verify(&vc)), "http_status");
    v.verify(&vc).unwrap();
    assert_eq!(server.requests(), 2);
}

// ---------------------------------------------------------------------------------------
// Fetcher rules
// ---------------------------------------------------------------------------------------

fn doc_server() -> Server {
    Server::start(|path, port| match path {
        "/doc" => Reply::bytes("hello"),
        "/dir/doc" => Reply::bytes("in dir"),
        "/abs" => Reply::redirect(302, "/doc"),
        "/dir/rel" => Reply::redirect(302, "doc"),
        "/full" => Reply::redirect(301, &format!("https://127.0.0.1:{port}/doc")),
        "/307" => Reply::redirect(307, "/doc"),
        "/308" => Reply::redirect(308, "/dir/doc"),
        "/303" => Reply::redirect(303, "/doc"),
        "/loop" => Reply::redirect(302, "/loop"),
        "/hop1" => Reply::redirect(302, "/hop2"),
        "/hop2" => Reply::redirect(302, "/hop3"),
        "/hop3" => Reply::redirect(302, "/doc"),
        "/to-http" => Reply::redirect(302, &format!("http://127.0.0.1:{port}/doc")),
        "/no-location" => Reply::status(302),
        "/to-userinfo" => Reply::redirect(302, &format!("https://u@127.0.0.1:{port}/doc")),
        "/500" => Reply::status(500),
        "/204" => Reply::status(204),
        "/big" => Reply::bytes(vec![b'a'; 1000]),
        "/exact" => Reply::bytes(vec![b'a'; 64]),
        "/slow" => Reply::bytes("late").delayed(Duration::from_secs(3)),
        _ => Reply::status(404),
    })
}

#[test]
fn fetch_ok_and_content_type() {
    let server = doc_server();
    let got = server.fetcher().get(&server.url("/doc")).unwrap();
    assert_eq!(got.body, b"hello");
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(got.url.as_str(), server.url("/doc"));
}

#[test]
fn fetch_follows_redirects() {
    let server = doc_server();
    let f = server.fetcher();
    for (from, to, body) in [
        ("/abs", "/doc", &b"hello"[..]),
        ("/dir/rel", "/dir/doc", b"in dir"),
        ("/full", "/doc", b"hello"),
        ("/307", "/doc", b"hello"),
        ("/308", "/dir/doc", b"in dir"),
        ("/303", "/doc", b"hello"),
        ("/hop1", "/doc", b"hello"),
    ] {
        let got = f.get(&server.url(from)).unwrap();
        assert_eq!(got.body, body, "{from}");
        assert_eq!(got.url.as_str(), server.url(to), "{from}");
    }
    // Three hops are allowed by the default policy (3), not by a policy of 2.
    assert_eq!(
        code(
            server
                .fetcher_with(FetchPolicy::default().max_redirects(2))
                .get(&server.url("/hop1"))
        ),
        "too_many_redirects"
    );
    // No redirects at all.
    assert_eq!(
        code(
            server
                .fetcher_with(FetchPolicy::default().max_redirects(0))
                .get(&server.url("/abs"))
        ),
        "too_many_redirects"
    );
}

#[test]
fn fetch_stops_after_max_redirects() {
    let server = doc_server();
    let f = server.fetcher_with(FetchPolicy::default().max_redirects(2));
    assert_eq!(code(f.get(&server.url("/loop"))), "too_many_redirects");
    // The original request plus two followed redirects.
    assert_eq!(server.hits("/loop"), 3);
}

#[test]
fn fetch_refuses_bad_redirect_targets() {
    let server = doc_server();
    let f = server.fetcher();
    assert_eq!(code(f.get(&server.url("/to-http"))), "url_invalid");
    assert_eq!(code(f.get(&server.url("/to-userinfo"))), "url_invalid");
    assert_eq!(code(f.get(&server.url("/no-location"))), "fetch_failed");
    assert_eq!(server.hits("/doc"), 0);
}

#[test]
fn fetch_status_other_than_200_is_an_error() {
    let server = doc_server();
    let f = server.fetcher();
    for (path, status) in [("/missing", 404), ("/500", 500), ("/204", 204)] {
        let err = f.get(&server.url(path)).unwrap_err();
        assert_eq!(err.code(), "http_status", "{path}");
        assert!(err.to_string().contains(&status.to_string()), "{err}");
    }
}

#[test]
fn fetch_body_size_is_bounded() {
    let server = doc_server();
    let f = server.fetcher_with(FetchPolicy::default().max_bytes(64));
    assert_eq!(code(f.get(&server.url("/big"))), "response_too_large");
    assert_eq!(f.get(&server.url("/exact")).unwrap().body.len(), 64);
    let f = server.fetcher_with(FetchPolicy::default().max_bytes(63));
    assert_eq!(code(f.get(&server.url("/exact"))), "response_too_large");
}

#[test]
fn fetch_times_out() {
    let server = doc_server();
    let f = server.fetcher_with(FetchPolicy::default().timeout(Duration::from_secs(1)));
    let start = std::time::Instant::now();
    assert_eq!(code(f.get(&server.url("/slow"))), "fetch_timeout");
    assert!(
        start.elapsed() < Duration::from_millis(2900),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn default_policy_forbids_loopback() {
    let server = doc_server();
    let strict = Fetcher::new(Arc::new(server.client()));
    assert_eq!(code(strict.get(&server.url("/doc"))), "url_forbidden");
    assert_eq!(
        code(strict.get(&format!("https://localhost:{}/doc", server.port))),
        "url_forbidden"
    );
    assert_eq!(
        code(strict.get(&format!("https://[::1]:{}/doc", server.port))),
        "url_forbidden"
    );
    assert_eq!(server.requests(), 0);
    // Issuer metadata and type metadata go through the same guard.
    let trust = IssuerMetadataTrust::new(strict.clone());
    assert_eq!(
        code(trust.fetch_keys(&iss_of(server.port))),
        "url_forbidden"
    );
    let resolver = TypeMetadataResolver::new().with_source(Arc::new(HttpTypeMetadata::new(strict)));
    assert_eq!(
        code(resolver.resolve(&server.url("/types/pid"), None)),
        "url_forbidden"
    );
    assert_eq!(server.requests(), 0);
}

#[test]
fn client_checks_resolved_addresses_itself() {
    // A URL that passed validation under the open policy, handed to the client with a strict
    // policy: the client's resolver refuses the loopback address before connecting.
    let server = doc_server();
    let open = danger::allow_internal_addresses(FetchPolicy::default());
    let url = HttpsUrl::parse(&server.url("/doc"), &open).unwrap();
    let client = server.client();
    assert_eq!(
        code(client.get(&url, &FetchPolicy::default())),
        "url_forbidden"
    );
    assert_eq!(server.requests(), 0);
    // The same call with the open policy reaches the server.
    let r = client.get(&url, &open).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello");
    // The client returns redirects as responses, without following them.
    let url = HttpsUrl::parse(&server.url("/abs"), &open).unwrap();
    let r = client.get(&url, &open).unwrap();
    assert_eq!(r.status, 302);
    assert_eq!(r.location.as_deref(), Some("/doc"));
    assert!(r.body.is_empty());
    // ... and error statuses without their body.
    let url = HttpsUrl::parse(&server.url("/500"), &open).unwrap();
    let r = client.get(&url, &open).unwrap();
    assert_eq!(r.status, 500);
    assert!(r.body.is_empty());
    assert_eq!(server.hits("/doc"), 1);
}

#[test]
fn unknown_ca_is_a_fetch_failure() {
    let server = doc_server();
    let open = danger::allow_internal_addresses(FetchPolicy::default());
    // The Mozilla roots do not include the test CA.
    let webpki = Fetcher::with_policy(Arc::new(UreqClient::new()), open.clone());
    assert_eq!(code(webpki.get(&server.url("/doc"))), "fetch_failed");
    // Nor does another test CA.
    let other = pki();
    let wrong = Fetcher::with_policy(
        Arc::new(UreqClient::with_root_certificates(&[other.ca_der])),
        open.clone(),
    );
    assert_eq!(code(wrong.get(&server.url("/doc"))), "fetch_failed");
    // The right CA is.
    server.fetcher().get(&server.url("/doc")).unwrap();
    assert_eq!(server.hits("/doc"), 1);
    // Nothing listens on this port any more (or never did): a transport failure.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    assert_eq!(
        code(
            server
                .fetcher()
                .get(&format!("https://127.0.0.1:{closed}/doc"))
        ),
        "fetch_failed"
    );
}

// ---------------------------------------------------------------------------------------
// Type Metadata over HTTPS (§5.3.1, §6)
// ---------------------------------------------------------------------------------------

fn base_doc(port: u16) -> Vec<u8> {
    serde_json::to_vec_pretty(&json!({
        "vct": format!("https://127.0.0.1:{port}/types/base"),
        "name": "Base type",
        "display": [{"locale": "en", "name": "Base"}],
        "claims": [
            {"path": ["given_name"], "sd": "always",
             "display": [{"locale": "en", "label": "Given name"}]},
            {"path": ["family_name"], "mandatory": true}
        ]
    }))
    .unwrap()
}

fn pid_doc(port: u16, base_integrity: &str) -> Vec<u8> {
    // Extra white space on purpose: integrity covers the octets, not the JSON value.
    let doc = json!({
        "vct": format!("https://127.0.0.1:{port}/types/pid"),
        "name": "PID over HTTPS",
        "extends": format!("https://127.0.0.1:{port}/types/base"),
        "extends#integrity": base_integrity,
        "claims": [
            {"path": ["family_name"], "sd": "never"},
            {"path": ["birthdate"], "display": [{"locale": "en", "label": "Birth date"}]}
        ]
    });
    format!("  {}\n", serde_json::to_string_pretty(&doc).unwrap()).into_bytes()
}

fn types_server(tamper_base: bool) -> Server {
    Server::start(move |path, port| match path {
        "/types/base" => {
            let mut b = base_doc(port);
            if tamper_base {
                b.push(b'\n');
            }
            Reply::bytes(b)
        }
        "/types/pid" => Reply::bytes(pid_doc(port, &sri256(&base_doc(port)))),
        "/types/moved" => Reply::redirect(302, "/types/pid"),
        "/types/self" => {
            Reply::json(&json!({"vct": format!("https://127.0.0.1:{port}/types/other")}))
        }
        _ => Reply::status(404),
    })
}

fn http_resolver(server: &Server) -> TypeMetadataResolver {
    TypeMetadataResolver::new().with_source(Arc::new(HttpTypeMetadata::new(server.fetcher())))
}

#[test]
fn type_metadata_over_https_with_extends() {
    let server = types_server(false);
    let port = server.port;
    let pid = server.url("/types/pid");
    let base = server.url("/types/base");
    let resolver = http_resolver(&server);

    let integrity = sri256(&pid_doc(port, &sri256(&base_doc(port))));
    let resolved = resolver.resolve(&pid, Some(&integrity)).unwrap();
    assert_eq!(resolved.vct, pid);
    assert_eq!(resolved.chain, [pid.clone(), base.clone()]);
    assert_eq!(resolved.name.as_deref(), Some("PID over HTTPS"));
    assert_eq!(resolved.display_for(&["en"]).unwrap().name, "Base");
    let claims: Vec<(Value, Option<&str>)> = resolved
        .claims
        .iter()
        .map(|c| (c.path.to_json(), c.label(&["en"]).map(|l| l.label.as_str())))
        .collect();
    assert_eq!(
        claims,
        [
            (json!(["given_name"]), Some("Given name")),
            (json!(["family_name"]), None),
            (json!(["birthdate"]), Some("Birth date")),
        ]
    );
    assert!(resolved.claims[1].is_mandatory());
    assert_eq!(server.hits("/types/pid"), 1);
    assert_eq!(server.hits("/types/base"), 1);

    // Integrity of the re-serialised document does not match the served octets.
    let value: Value = serde_json::from_slice(&pid_doc(port, &sri256(&base_doc(port)))).unwrap();
    let reserialised = serde_json::to_vec(&value).unwrap();
    assert_eq!(
        code(resolver.resolve(&pid, Some(&sri256(&reserialised)))),
        "integrity_mismatch"
    );
    // Without integrity from the credential, the chain still resolves.
    resolver.resolve(&pid, None).unwrap();
}

#[test]
fn type_metadata_over_https_parent_tampered() {
    let server = types_server(true);
    let resolver = http_resolver(&server);
    assert_eq!(
        code(resolver.resolve(&server.url("/types/pid"), None)),
        "integrity_mismatch"
    );
}

#[test]
fn type_metadata_over_https_failures() {
    let server = types_server(false);
    let resolver = http_resolver(&server);
    // 404: the type publishes no metadata there (unavailable, which IfAvailable tolerates).
    assert_eq!(
        code(resolver.resolve(&server.url("/types/none"), None)),
        "type_metadata_unavailable"
    );
    // The document at the URL describes another type.
    assert_eq!(
        code(resolver.resolve(&server.url("/types/self"), None)),
        "type_metadata_vct_mismatch"
    );
    // After a redirect the document's vct is still compared with the URL in vct.
    assert_eq!(
        code(resolver.resolve(&server.url("/types/moved"), None)),
        "type_metadata_vct_mismatch"
    );
    // A vct that is not an https URL is not this source's concern.
    assert_eq!(
        code(resolver.resolve("urn:example:not-http", None)),
        "type_metadata_unavailable"
    );
}

#[test]
fn type_metadata_over_https_in_verification() {
    let server = types_server(false);
    let port = server.port;
    let pid = server.url("/types/pid");
    let k = key(None);
    let keys =
        credkit::sd_jwt::StaticIssuerKeys::single(k.private.public(), default_provider()).unwrap();
    let v = VcVerifier::builder(Arc::new(TrustPolicy::new().otherwise(Arc::new(keys))))
        .key_binding(credkit::sd_jwt::danger::key_binding_optional())
        .type_metadata(
            Arc::new(http_resolver(&server)),
            TypeMetadataPolicy::Required,
        )
        .build()
        .unwrap();
    let tm = http_resolver(&server).resolve(&pid, None).unwrap();
    let claims =
        json!({"given_name": "Erika", "family_name": "Mustermann", "birthdate": "1963-08-12"});
    let issued = |integrity: &str| {
        VcBuilder::new(
            Vct::new(pid.clone()).unwrap(),
            claims.as_object().cloned().unwrap(),
        )
        .issuer("https://issuer.example.com")
        .issued_at(now() - 10)
        .vct_integrity(integrity)
        .type_metadata(tm.clone())
        .issue(&*k.signer, &OsRandom)
        .unwrap()
        .to_string()
    };
    let good = issued(&sri256(&pid_doc(port, &sri256(&base_doc(port)))));
    let verified = v.receive(&good).unwrap();
    let resolved = verified.verified.type_metadata.unwrap();
    assert_eq!(resolved.chain.len(), 2);
    assert_eq!(
        verified.verified.sd_jwt.disclosed,
        ["/given_name".to_owned()]
    );
    let bad = issued(&sri256(b"something else"));
    assert_eq!(code(v.verify(&bad)), "integrity_mismatch");
}

#[test]
fn concurrent_requests_are_served() {
    // Sanity check of the test server itself: parallel retrievals each get their answer.
    let server = doc_server();
    let f = server.fetcher();
    let results: HashMap<usize, Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let f = f.clone();
                let url = server.url(if i % 2 == 0 { "/doc" } else { "/dir/doc" });
                s.spawn(move || (i, f.get(&url).unwrap().body))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, body) in results {
        let want: &[u8] = if i % 2 == 0 { b"hello" } else { b"in dir" };
        assert_eq!(body, want);
    }
}
