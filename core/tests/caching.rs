//! Caches of retrieved documents: Type Metadata is reused indefinitely when pinned by
//! `#integrity`, for `Cache-Control: max-age` otherwise, never without either (draft-ietf-
//! oauth-sd-jwt-vc §5.3.4); issuer metadata keys are reused for the configured time and
//! retrieved again, at most once a minute, when a token names a `kid` the cached set lacks
//! (key rotation). An in-memory `HttpClient` stands in for the network.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use credkit::b64;
use credkit::crypto::{HashAlg, Signer, default_provider};
use credkit::http::{FetchPolicy, Fetcher, HttpClient, HttpResponse, HttpsUrl};
use credkit::jose::Algorithm;
use credkit::rand::OsRandom;
use credkit::sd_jwt::danger;
use credkit::sd_jwt_vc::type_metadata::{HttpTypeMetadata, TypeMetadataResolver};
use credkit::sd_jwt_vc::{IssuerMetadataTrust, TrustPolicy, VcBuilder, VcVerifier, Vct};
use credkit::time::Clock;
use serde_json::{Value, json};

#[derive(Debug, Default)]
struct MovingClock(AtomicI64);

impl Clock for MovingClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Body and `Cache-Control` per URL.
type Routes = HashMap<String, (Vec<u8>, Option<String>)>;

/// Serves fixed responses per URL and counts requests.
#[derive(Debug, Default)]
struct Canned {
    routes: Mutex<Routes>,
    hits: AtomicUsize,
}

impl Canned {
    fn set(&self, url: &str, body: &[u8], cache_control: Option<&str>) {
        self.routes.lock().unwrap().insert(
            url.to_owned(),
            (body.to_vec(), cache_control.map(str::to_owned)),
        );
    }
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl HttpClient for Canned {
    fn get(&self, url: &HttpsUrl, _policy: &FetchPolicy) -> credkit::Result<HttpResponse> {
        self.hits.fetch_add(1, Ordering::SeqCst);
        Ok(match self.routes.lock().unwrap().get(url.as_str()) {
            Some((body, cc)) => {
                let r = HttpResponse::new(200, body.clone());
                match cc {
                    Some(cc) => r.with_cache_control(cc.clone()),
                    None => r,
                }
            }
            None => HttpResponse::new(404, Vec::new()),
        })
    }
}

const TYPE: &str = "https://types.example.com/identity";

fn type_doc() -> Vec<u8> {
    json!({"vct": TYPE, "display": [{"locale": "en", "name": "Identity"}]})
        .to_string()
        .into_bytes()
}

fn sri(bytes: &[u8]) -> String {
    format!("sha256-{}", b64::encode_std(&HashAlg::Sha256.digest(bytes)))
}

fn resolver(net: &Arc<Canned>, clock: &Arc<MovingClock>) -> TypeMetadataResolver {
    TypeMetadataResolver::new()
        .with_source(Arc::new(HttpTypeMetadata::new(Fetcher::new(net.clone()))))
        .clock(clock.clone())
}

#[test]
fn type_metadata_pinned_by_integrity_is_reused() {
    let net = Arc::new(Canned::default());
    net.set(TYPE, &type_doc(), None);
    let clock = Arc::new(MovingClock(AtomicI64::new(1_000)));
    let r = resolver(&net, &clock);
    let integrity = sri(&type_doc());
    r.resolve(TYPE, Some(&integrity)).unwrap();
    clock.0.store(1_000_000, Ordering::SeqCst);
    r.resolve(TYPE, Some(&integrity)).unwrap();
    assert_eq!(net.hits(), 1);
    // Without the integrity value it is a different question, asked again.
    r.resolve(TYPE, None).unwrap();
    assert_eq!(net.hits(), 2);
}

#[test]
fn type_metadata_follows_cache_control() {
    let clock = Arc::new(MovingClock(AtomicI64::new(1_000)));
    // max-age=60: reused for 60 s, then retrieved again.
    let net = Arc::new(Canned::default());
    net.set(TYPE, &type_doc(), Some("public, max-age=60"));
    let r = resolver(&net, &clock);
    r.resolve(TYPE, None).unwrap();
    clock.0.store(1_059, Ordering::SeqCst);
    r.resolve(TYPE, None).unwrap();
    assert_eq!(net.hits(), 1);
    clock.0.store(1_060, Ordering::SeqCst);
    r.resolve(TYPE, None).unwrap();
    assert_eq!(net.hits(), 2);
    // No Cache-Control, or no-store: never reused.
    for cc in [None, Some("no-store"), Some("max-age=60, no-cache")] {
        let net = Arc::new(Canned::default());
        net.set(TYPE, &type_doc(), cc);
        let r = resolver(&net, &clock);
        r.resolve(TYPE, None).unwrap();
        r.resolve(TYPE, None).unwrap();
        assert_eq!(net.hits(), 2, "{cc:?}");
    }
}

#[test]
fn a_chain_is_reused_for_its_shortest_lifetime() {
    let clock = Arc::new(MovingClock(AtomicI64::new(0)));
    let parent = "https://types.example.com/base";
    let child = json!({"vct": TYPE, "extends": parent}).to_string();
    let parent_doc = json!({"vct": parent}).to_string();
    let net = Arc::new(Canned::default());
    net.set(TYPE, child.as_bytes(), Some("max-age=3600"));
    net.set(parent, parent_doc.as_bytes(), Some("max-age=10"));
    let r = resolver(&net, &clock);
    r.resolve(TYPE, None).unwrap();
    assert_eq!(net.hits(), 2);
    clock.0.store(9, Ordering::SeqCst);
    r.resolve(TYPE, None).unwrap();
    assert_eq!(net.hits(), 2);
    clock.0.store(10, Ordering::SeqCst);
    r.resolve(TYPE, None).unwrap();
    assert_eq!(net.hits(), 4);
}

// ---------------------------------------------------------------------------------------------
// Issuer metadata and key rotation.

const ISS: &str = "https://issuer.example.com";
const WELL_KNOWN: &str = "https://issuer.example.com/.well-known/jwt-vc-issuer";

fn signer_with_kid(kid: &str) -> Arc<dyn Signer> {
    let p = default_provider();
    let k = p
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap()
        .with_kid(kid);
    p.signer(&k).unwrap()
}

fn publish(net: &Canned, signers: &[&Arc<dyn Signer>]) {
    let keys: Vec<Value> = signers
        .iter()
        .map(|s| Value::Object(s.public_jwk().to_json()))
        .collect();
    let meta = json!({"issuer": ISS, "jwks": {"keys": keys}});
    net.set(WELL_KNOWN, meta.to_string().as_bytes(), None);
}

fn vc(signer: &dyn Signer) -> String {
    let claims = json!({"given_name": "Erika"}).as_object().cloned().unwrap();
    VcBuilder::new(Vct::new("urn:example:t:1").unwrap(), claims)
        .issuer(ISS)
        .issue(signer, &OsRandom)
        .unwrap()
        .to_string()
}

#[test]
fn issuer_keys_are_refreshed_on_rotation_at_most_once_a_minute() {
    let net = Arc::new(Canned::default());
    let clock = Arc::new(MovingClock(AtomicI64::new(10_000)));
    let old = signer_with_kid("2025");
    let new = signer_with_kid("2026");
    publish(&net, &[&old]);
    let trust = IssuerMetadataTrust::new(Fetcher::new(net.clone()))
        .cache_ttl(3600)
        .clock(clock.clone());
    let v = VcVerifier::builder_with_clock(
        Arc::new(TrustPolicy::new().issuer(ISS, Arc::new(trust))),
        clock.clone(),
    )
    .key_binding(danger::key_binding_optional())
    .build()
    .unwrap();
    v.verify(&vc(&*old)).unwrap();
    v.verify(&vc(&*old)).unwrap();
    assert_eq!(net.hits(), 1, "cached");

    // The issuer rotates. Within a minute of the last retrieval the cache is trusted.
    publish(&net, &[&old, &new]);
    clock.0.store(10_030, Ordering::SeqCst);
    assert_eq!(v.verify(&vc(&*new)).unwrap_err().code(), "unknown_key");
    assert_eq!(net.hits(), 1);
    // After a minute an unknown kid triggers one retrieval, which finds the new key.
    clock.0.store(10_061, Ordering::SeqCst);
    v.verify(&vc(&*new)).unwrap();
    assert_eq!(net.hits(), 2);
    v.verify(&vc(&*new)).unwrap();
    v.verify(&vc(&*old)).unwrap();
    assert_eq!(net.hits(), 2);
    // Made-up kids do not make the verifier fetch again within the minute.
    let bogus = signer_with_kid("made-up");
    for _ in 0..5 {
        assert_eq!(v.verify(&vc(&*bogus)).unwrap_err().code(), "unknown_key");
    }
    assert_eq!(net.hits(), 2);
}

#[test]
fn a_jwk_set_that_repeats_a_kid_is_refused() {
    // ATTACKS KEY-06: which of two keys named "k" is meant is for nobody to guess.
    let net = Arc::new(Canned::default());
    let a = signer_with_kid("k");
    let b = signer_with_kid("k");
    publish(&net, &[&a, &b]);
    let trust = IssuerMetadataTrust::new(Fetcher::new(net.clone()));
    let v = VcVerifier::builder(Arc::new(TrustPolicy::new().issuer(ISS, Arc::new(trust))))
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap();
    assert_eq!(
        v.verify(&vc(&*a)).unwrap_err().code(),
        "issuer_metadata_invalid"
    );
}
