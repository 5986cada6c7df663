//! OpenID4VCI 1.0: credkit's wallet against credkit's issuer, in process (an `HttpClient`
//! that hands each request to `Issuer::handle`), and the issuer's checks one by one with
//! requests the tests forge (ATTACKS_OID4VCI).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::type_complexity,
    clippy::too_many_lines,
    missing_docs
)]

use std::sync::{Arc, Mutex};

use credkit::crypto::{Signer, default_provider};
use credkit::http::{
    FetchPolicy, Fetcher, HttpClient, HttpRequest, HttpResponse, HttpsUrl, Method,
};
use credkit::jose::Algorithm;
use credkit::oauth::Secret;
use credkit::oauth::dpop::DpopProver;
use credkit::oauth::store::MemoryStateStore;
use credkit::openid4vci::issuer::{
    Issuer, IssuerConfig, IssuerRequest, IssuerResponse, OfferGrant, OfferRequest,
    SdJwtVcConfiguration,
};
use credkit::openid4vci::wallet::{Env, Issuance, IssuanceOptions, Issued, run};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{KeyBindingPolicy, StaticIssuerKeys};
use credkit::sd_jwt_vc::{TrustPolicy, VcVerifier, Vct};
use credkit::time::FixedClock;
use credkit::wallet::{KeyManager, MemoryStore, SoftwareKeyManager, Wallet};
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://issuer.example";
const NOW: i64 = 1_750_000_000;

type Rewrite = Box<dyn Fn(&HttpRequest, HttpResponse) -> HttpResponse + Send + Sync>;

/// Hands requests to the issuer; `rewrite` plays a malicious network or issuer.
struct Loopback {
    issuer: Issuer,
    rewrite: Option<Rewrite>,
    log: Mutex<Vec<(String, u16)>>,
}

impl std::fmt::Debug for Loopback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Loopback")
    }
}

fn to_http(r: IssuerResponse) -> HttpResponse {
    let mut out = HttpResponse::new(r.status, r.body.clone());
    for (n, v) in &r.headers {
        match n.to_ascii_lowercase().as_str() {
            "content-type" => out = out.with_content_type(v.clone()),
            "location" => out = out.with_location(v.clone()),
            "cache-control" => out = out.with_cache_control(v.clone()),
            other => out = out.with_header(other, v.clone()),
        }
    }
    out
}

impl Loopback {
    fn dispatch(&self, req: &HttpRequest) -> HttpResponse {
        let rest = req
            .url
            .strip_prefix(ISSUER)
            .expect("only the issuer is reachable");
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let r = self.issuer.handle(&IssuerRequest::new(
            req.method,
            path,
            query,
            &req.headers,
            &req.body,
        ));
        self.log.lock().unwrap().push((path.to_owned(), r.status));
        let resp = to_http(r);
        match &self.rewrite {
            Some(f) => f(req, resp),
            None => resp,
        }
    }
}

impl HttpClient for Loopback {
    fn get(&self, url: &HttpsUrl, policy: &FetchPolicy) -> credkit::Result<HttpResponse> {
        let _ = policy;
        Ok(self.dispatch(&HttpRequest::get(url.as_str())))
    }

    fn send(
        &self,
        request: &HttpRequest,
        _url: &HttpsUrl,
        _policy: &FetchPolicy,
    ) -> credkit::Result<HttpResponse> {
        Ok(self.dispatch(request))
    }
}

/// A malicious network or issuer: the JSON body of the 200 answers to URLs containing
/// `target` is changed by `f`.
fn patch(target: &'static str, f: fn(&mut Value)) -> Rewrite {
    Box::new(move |req: &HttpRequest, resp: HttpResponse| {
        if req.url.contains(target) && resp.status == 200 {
            let mut v: Value = serde_json::from_slice(&resp.body).unwrap();
            f(&mut v);
            HttpResponse::new(200, v.to_string().into_bytes()).with_content_type("application/json")
        } else {
            resp
        }
    })
}

struct Rig {
    issuer: Issuer,
    signer: Arc<dyn Signer>,
    store: Arc<MemoryStateStore>,
}

fn pid_claims() -> Map<String, Value> {
    let Value::Object(m) = json!({
        "given_name": "Erika",
        "family_name": "Mustermann",
        "birthdate": "1964-08-12",
        "age_equal_or_over": {"18": true},
    }) else {
        unreachable!()
    };
    m
}

fn rig_with(f: impl FnOnce(&mut IssuerConfig)) -> Rig {
    let key = default_provider()
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap();
    let signer = default_provider().signer(&key).unwrap();
    let configs = vec![SdJwtVcConfiguration::new(
        "pid",
        Vct::new("urn:eudi:pid:1").unwrap(),
        "pid",
    )];
    let mut config = IssuerConfig::new(ISSUER, signer.clone(), configs).unwrap();
    config.batch_size = 3;
    config.dpop_nonces = true;
    f(&mut config);
    let store = Arc::new(MemoryStateStore::new());
    let issuer = Issuer::new(
        config,
        store.clone(),
        Arc::new(FixedClock(NOW)),
        Arc::new(OsRandom),
    );
    Rig {
        issuer,
        signer,
        store,
    }
}

fn rig() -> Rig {
    rig_with(|_| {})
}

fn offer(rig: &Rig, grant: OfferGrant) -> (String, Option<Secret>) {
    let o = rig
        .issuer
        .create_offer(&OfferRequest::new(vec!["pid".into()], pid_claims(), grant))
        .unwrap();
    (o.uri, o.tx_code)
}

fn pre_auth(tx: bool) -> OfferGrant {
    OfferGrant::PreAuthorized {
        tx_code_digits: tx.then_some(6),
        tx_code_description: Some("sent by e-mail".into()),
    }
}

struct Holder {
    keys: Arc<dyn KeyManager>,
    wallet: Wallet,
}

fn holder(rig: &Rig) -> Holder {
    let keys: Arc<dyn KeyManager> = Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom)));
    let trust = StaticIssuerKeys::single(rig.signer.public_jwk(), default_provider()).unwrap();
    let verifier = VcVerifier::builder_with_clock(
        Arc::new(TrustPolicy::new().otherwise(Arc::new(trust))),
        Arc::new(FixedClock(NOW)),
    )
    .key_binding(KeyBindingPolicy::Forbidden)
    .build()
    .unwrap();
    let wallet = Wallet::new(Arc::new(MemoryStore::new()), keys.clone(), verifier)
        .clock(Arc::new(FixedClock(NOW)));
    Holder { keys, wallet }
}

fn fetcher(rig: &Rig, rewrite: Option<Rewrite>) -> (Fetcher, Arc<Loopback>) {
    let lb = Arc::new(Loopback {
        issuer: rig.issuer.clone(),
        rewrite,
        log: Mutex::new(Vec::new()),
    });
    (Fetcher::new(lb.clone()), lb)
}

/// Follows the issuer's /authorize redirect the way a browser would.
fn browser(lb: Arc<Loopback>) -> impl FnMut(&str) -> credkit::Result<String> {
    move |url: &str| {
        let resp = lb.dispatch(&HttpRequest::get(url));
        assert_eq!(
            resp.status,
            302,
            "{:?}",
            String::from_utf8_lossy(&resp.body)
        );
        Ok(resp.location.unwrap())
    }
}

fn issue(
    rig: &Rig,
    h: &Holder,
    uri: &str,
    options: IssuanceOptions,
    rewrite: Option<Rewrite>,
) -> credkit::Result<Issued> {
    let (f, lb) = fetcher(rig, rewrite);
    let mut flow = Issuance::from_offer_uri(uri, options)?;
    let clock = FixedClock(NOW);
    let env = Env::new(&h.keys, None, &clock, &OsRandom);
    run(&mut flow, &f, &env, &mut browser(lb), &mut |_| {})
}

fn options(tx: Option<&Secret>, count: usize) -> IssuanceOptions {
    let mut o = IssuanceOptions::default();
    o.tx_code = tx.cloned();
    o.count = count;
    o
}

#[test]
fn pre_authorized_with_tx_code_batch_and_nonces() {
    let rig = rig();
    let h = holder(&rig);
    let (uri, tx) = offer(&rig, pre_auth(true));
    let tx = tx.unwrap();
    assert_eq!(tx.expose().len(), 6);
    let (f, lb) = fetcher(&rig, None);
    let mut flow = Issuance::from_offer_uri(&uri, options(Some(&tx), 3)).unwrap();
    let clock = FixedClock(NOW);
    let env = Env::new(&h.keys, None, &clock, &OsRandom);
    let issued = run(&mut flow, &f, &env, &mut browser(lb.clone()), &mut |_| {}).unwrap();
    assert_eq!(issued.credentials.len(), 3);
    assert_eq!(issued.vct.as_deref(), Some("urn:eudi:pid:1"));
    // DPoP nonces: the first token request is answered use_dpop_nonce, the retry passes.
    let log = lb.log.lock().unwrap().clone();
    assert_eq!(log[2], ("/token".to_owned(), 400), "{log:?}");
    assert_eq!(log[3], ("/token".to_owned(), 200), "{log:?}");
    let batch = h.wallet.add_issued(&issued).unwrap();
    assert_eq!(h.wallet.remaining(&batch).unwrap(), 3);
    // Each copy is bound to its own key and has its own salts (ATTACKS VCI-89).
    let mut disclosures = std::collections::BTreeSet::new();
    for c in &issued.credentials {
        for d in c.split('~').skip(1).filter(|d| !d.is_empty()) {
            assert!(
                disclosures.insert(d.to_owned()),
                "a disclosure repeats across the batch"
            );
        }
    }
    // The notification is accepted for this token's id.
    for req in flow.notification("credential_accepted", &env).unwrap() {
        assert_eq!(f.send(&req).unwrap().status, 204);
    }
}

#[test]
fn more_copies_than_batch_size_take_several_requests() {
    let rig = rig();
    let h = holder(&rig);
    let (uri, _) = offer(&rig, pre_auth(false));
    let (f, lb) = fetcher(&rig, None);
    let mut flow = Issuance::from_offer_uri(&uri, options(None, 5)).unwrap();
    let clock = FixedClock(NOW);
    let env = Env::new(&h.keys, None, &clock, &OsRandom);
    let issued = run(&mut flow, &f, &env, &mut browser(lb.clone()), &mut |_| {}).unwrap();
    assert_eq!(issued.credentials.len(), 5);
    let creds = lb
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, s)| p == "/credential" && *s == 200)
        .count();
    assert_eq!(creds, 2);
    h.wallet.add_issued(&issued).unwrap();
}

#[test]
fn authorization_code_with_par_pkce_and_iss() {
    let rig = rig();
    let h = holder(&rig);
    let (uri, _) = offer(&rig, OfferGrant::AuthorizationCode);
    let issued = issue(&rig, &h, &uri, options(None, 2), None).unwrap();
    assert_eq!(issued.credentials.len(), 2);
    h.wallet.add_issued(&issued).unwrap();
}

#[test]
fn a_flow_survives_serialisation_while_the_browser_is_open() {
    let rig = rig();
    let h = holder(&rig);
    let (uri, _) = offer(&rig, OfferGrant::AuthorizationCode);
    let (f, lb) = fetcher(&rig, None);
    let clock = FixedClock(NOW);
    let env = Env::new(&h.keys, None, &clock, &OsRandom);
    let mut flow = Issuance::from_offer_uri(&uri, options(None, 1)).unwrap();
    let url = loop {
        match flow.next(&env).unwrap() {
            credkit::openid4vci::wallet::Action::Send(req) => {
                let resp = f.send(&req).unwrap();
                flow.receive(&req, resp, &env).unwrap();
            }
            credkit::openid4vci::wallet::Action::Authorize(url) => break url,
            other => panic!("{other:?}"),
        }
    };
    let saved = serde_json::to_string(&flow).unwrap();
    // The PKCE verifier is persisted (the token request needs it) but never shown in Debug.
    let v: Value = serde_json::from_str(&saved).unwrap();
    let verifier = v["pkce"].as_str().unwrap();
    assert_eq!(verifier.len(), 43);
    assert!(!format!("{flow:?}").contains(verifier));
    let mut restored: Issuance = serde_json::from_str(&saved).unwrap();
    let redirect = browser(lb.clone())(&url).unwrap();
    restored.redirected(&redirect).unwrap();
    let issued = run(&mut restored, &f, &env, &mut browser(lb), &mut |_| {}).unwrap();
    h.wallet.add_issued(&issued).unwrap();
}

#[test]
fn wrong_and_missing_tx_codes() {
    let rig = rig();
    let h = holder(&rig);
    let (uri, tx) = offer(&rig, pre_auth(true));
    // VCI-10: the offer requires a code; the wallet does not start without it.
    assert_eq!(
        Issuance::from_offer_uri(&uri, options(None, 1))
            .unwrap_err()
            .code(),
        "invalid_offer"
    );
    // VCI-32: five wrong guesses lock the code, then the right one fails too.
    for _ in 0..5 {
        let e = issue(
            &rig,
            &h,
            &uri,
            options(Some(&Secret::new("000000")), 1),
            None,
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_grant", "{e}");
    }
    let e = issue(&rig, &h, &uri, options(tx.as_ref(), 1), None).unwrap_err();
    assert_eq!(e.code(), "invalid_grant");
}

#[test]
fn pre_authorized_code_is_single_use() {
    // VCI-31, VCI-02.
    let rig = rig();
    let h = holder(&rig);
    let (uri, _) = offer(&rig, pre_auth(false));
    issue(&rig, &h, &uri, options(None, 1), None).unwrap();
    let e = issue(&rig, &h, &uri, options(None, 1), None).unwrap_err();
    assert_eq!(e.code(), "invalid_grant");
}

#[test]
fn nothing_is_kept_when_a_step_fails() {
    let rig = rig();
    let h = holder(&rig);
    let (uri, _) = offer(&rig, pre_auth(false));
    // The issuer's credential answer is broken: keys made for the flow are deleted.
    let rewrite: Rewrite = Box::new(|req, resp| {
        if req.url.ends_with("/credential") && resp.status == 200 {
            HttpResponse::new(
                200,
                br#"{"credentials":[{"credential":"not-an-sd-jwt~"}]}"#.to_vec(),
            )
            .with_content_type("application/json")
        } else {
            resp
        }
    });
    let issued = issue(&rig, &h, &uri, options(None, 1), Some(rewrite)).unwrap();
    // The flow itself only checks shapes; verification happens when storing, and fails.
    assert!(h.wallet.add_issued(&issued).is_err());
    assert!(h.wallet.list().unwrap().is_empty());
}

#[test]
fn wallet_side_attacks() {
    let cases: Vec<(&str, Rewrite, &str)> = vec![
        // VCI-11: metadata for another issuer.
        (
            "metadata issuer",
            patch("openid-credential-issuer", |v| {
                v["credential_issuer"] = "https://evil.example".into();
            }),
            "metadata_issuer_mismatch",
        ),
        // VCI-12: AS metadata whose issuer is not the one asked for.
        (
            "as issuer",
            patch("oauth-authorization-server", |v| {
                v["issuer"] = "https://issuer.example/other".into();
            }),
            "metadata_issuer_mismatch",
        ),
        // VCI-15: an http endpoint.
        (
            "http endpoint",
            patch("openid-credential-issuer", |v| {
                v["credential_endpoint"] = "http://issuer.example/credential".into();
            }),
            "invalid_metadata",
        ),
        // VCI-36: a Bearer token for a DPoP request.
        (
            "bearer",
            patch("/token", |v| {
                v["token_type"] = "Bearer".into();
            }),
            "token_not_sender_constrained",
        ),
        // VCI-49: use_dpop_nonce forever.
        (
            "nonce loop",
            Box::new(|req: &HttpRequest, resp: HttpResponse| {
                if req.url.ends_with("/token") {
                    HttpResponse::new(400, br#"{"error":"use_dpop_nonce"}"#.to_vec())
                        .with_content_type("application/json")
                        .with_header("DPoP-Nonce", "n")
                } else {
                    resp
                }
            }),
            "dpop_nonce_loop",
        ),
        // VCI-80: more credentials than proofs.
        (
            "too many",
            patch("/credential", |v| {
                let c = v["credentials"][0].clone();
                v["credentials"] = json!([c.clone(), c]);
            }),
            "credential_binding_mismatch",
        ),
        // VCI-83: credentials together with transaction_id.
        (
            "both",
            patch("/credential", |v| {
                v["transaction_id"] = "t".into();
            }),
            "invalid_response",
        ),
    ];
    for (name, rewrite, code) in cases {
        let rig = rig();
        let h = holder(&rig);
        let (uri, _) = offer(&rig, pre_auth(false));
        let e = issue(&rig, &h, &uri, options(None, 1), Some(rewrite)).unwrap_err();
        assert_eq!(e.code(), code, "{name}: {e}");
        // Nothing stored, and the keys made for the flow are gone.
        assert!(h.wallet.list().unwrap().is_empty());
    }
}

#[test]
fn authorization_response_mixups_are_refused() {
    // VCI-27 (iss of another AS), VCI-28 (no iss), VCI-30 (foreign state).
    for (tamper, code) in [
        ("iss", "iss_mismatch"),
        ("no-iss", "iss_missing"),
        ("state", "state_mismatch"),
    ] {
        let rig = rig();
        let h = holder(&rig);
        let (uri, _) = offer(&rig, OfferGrant::AuthorizationCode);
        let (f, lb) = fetcher(&rig, None);
        let mut flow = Issuance::from_offer_uri(&uri, options(None, 1)).unwrap();
        let clock = FixedClock(NOW);
        let env = Env::new(&h.keys, None, &clock, &OsRandom);
        let mut b = browser(lb);
        let mut auth = |url: &str| -> credkit::Result<String> {
            let loc = b(url)?;
            Ok(match tamper {
                "iss" => loc.replace(
                    "iss=https%3A%2F%2Fissuer.example",
                    "iss=https%3A%2F%2Fevil.example",
                ),
                "no-iss" => loc.split("&iss=").next().unwrap().to_owned(),
                _ => loc.replace("state=", "state=x"),
            })
        };
        let e = run(&mut flow, &f, &env, &mut auth, &mut |_| {}).unwrap_err();
        assert_eq!(e.code(), code);
    }
}

// ---------------------------------------------------------------------------------------
// The issuer's checks, with forged requests
// ---------------------------------------------------------------------------------------

fn post_form(rig: &Rig, path: &str, form: &str, headers: Vec<(String, String)>) -> IssuerResponse {
    let mut h = vec![(
        "Content-Type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    h.extend(headers);
    rig.issuer.handle(&IssuerRequest::new(
        Method::Post,
        path,
        "",
        &h,
        form.as_bytes(),
    ))
}

fn prover() -> DpopProver {
    let key = default_provider()
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap();
    DpopProver::new(default_provider().signer(&key).unwrap())
}

fn code_of(uri: &str) -> String {
    let q = uri.split_once('?').unwrap().1;
    let (_, v) = form_urlencoded_parse(q)
        .into_iter()
        .find(|(k, _)| k == "credential_offer")
        .unwrap();
    let o: Value = serde_json::from_str(&v).unwrap();
    o["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn form_urlencoded_parse(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// A token for `rig` (no DPoP nonces) bound to `p`.
fn token(rig: &Rig, p: &DpopProver) -> String {
    let (uri, _) = offer(rig, pre_auth(false));
    let code = code_of(&uri);
    let proof = p
        .proof(
            Method::Post,
            &format!("{ISSUER}/token"),
            None,
            None,
            NOW,
            &OsRandom,
        )
        .unwrap();
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={code}"
    );
    let r = post_form(rig, "/token", &form, vec![("DPoP".into(), proof)]);
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

fn c_nonce(rig: &Rig) -> String {
    let r = rig
        .issuer
        .handle(&IssuerRequest::new(Method::Post, "/nonce", "", &[], b""));
    assert_eq!(r.header_value("Cache-Control"), Some("no-store"));
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["c_nonce"].as_str().unwrap().to_owned()
}

fn holder_signer() -> Arc<dyn Signer> {
    let key = default_provider()
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap();
    default_provider().signer(&key).unwrap()
}

fn proof_jwt(signer: &dyn Signer, header: Value, claims: Value) -> String {
    let h = credkit::b64::encode(header.to_string().as_bytes());
    let c = credkit::b64::encode(claims.to_string().as_bytes());
    let input = format!("{h}.{c}");
    let sig = signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", credkit::b64::encode(&sig))
}

fn good_header(signer: &dyn Signer) -> Value {
    json!({"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": Value::Object(signer.public_jwk().minimal_json())})
}

fn credential(rig: &Rig, p: &DpopProver, token: &str, body: Value) -> IssuerResponse {
    let proof = p
        .proof(
            Method::Post,
            &format!("{ISSUER}/credential"),
            Some(token),
            None,
            NOW,
            &OsRandom,
        )
        .unwrap();
    let headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("Authorization".to_owned(), format!("DPoP {token}")),
        ("DPoP".to_owned(), proof),
    ];
    rig.issuer.handle(&IssuerRequest::new(
        Method::Post,
        "/credential",
        "",
        &headers,
        body.to_string().as_bytes(),
    ))
}

#[test]
fn issuer_refuses_bad_proofs() {
    let rig = rig_with(|c| c.dpop_nonces = false);
    let p = prover();
    let s = holder_signer();
    let s2 = holder_signer();
    let claims = |nonce: &str| json!({"aud": ISSUER, "iat": NOW, "nonce": nonce});
    type Case = (&'static str, Box<dyn Fn(&str) -> Value>, &'static str);
    let cases: Vec<Case> = vec![
        (
            "typ JWT (VCI-59)",
            Box::new({
                let s = s.clone();
                move |n| {
                    json!([proof_jwt(
                        &*s,
                        json!({"typ": "JWT", "alg": "ES256", "jwk": Value::Object(s.public_jwk().minimal_json())}),
                        claims(n)
                    )])
                }
            }),
            "invalid_proof",
        ),
        (
            "aud of the AS (VCI-60)",
            Box::new({
                let s = s.clone();
                move |n| {
                    json!([proof_jwt(
                        &*s,
                        good_header(&*s),
                        json!({"aud": "https://other.example", "iat": NOW, "nonce": n})
                    )])
                }
            }),
            "invalid_proof",
        ),
        (
            "aud array (VCI-60)",
            Box::new({
                let s = s.clone();
                move |n| {
                    json!([proof_jwt(
                        &*s,
                        good_header(&*s),
                        json!({"aud": [ISSUER, "x"], "iat": NOW, "nonce": n})
                    )])
                }
            }),
            "invalid_proof",
        ),
        (
            "old iat (VCI-61)",
            Box::new({
                let s = s.clone();
                move |n| {
                    json!([proof_jwt(
                        &*s,
                        good_header(&*s),
                        json!({"aud": ISSUER, "iat": NOW - 3600, "nonce": n})
                    )])
                }
            }),
            "invalid_proof",
        ),
        (
            "string iat (VCI-61)",
            Box::new({
                let s = s.clone();
                move |n| {
                    json!([proof_jwt(
                        &*s,
                        good_header(&*s),
                        json!({"aud": ISSUER, "iat": NOW.to_string(), "nonce": n})
                    )])
                }
            }),
            "invalid_proof",
        ),
        (
            "no nonce (VCI-62)",
            Box::new({
                let s = s.clone();
                move |_| {
                    json!([proof_jwt(
                        &*s,
                        good_header(&*s),
                        json!({"aud": ISSUER, "iat": NOW})
                    )])
                }
            }),
            "invalid_proof",
        ),
        (
            "unknown nonce (VCI-63)",
            Box::new({
                let s = s.clone();
                move |_| json!([proof_jwt(&*s, good_header(&*s), claims("guessed"))])
            }),
            "invalid_nonce",
        ),
        (
            "jwk and kid (VCI-65)",
            Box::new({
                let s = s.clone();
                move |n| {
                    json!([proof_jwt(
                        &*s,
                        json!({"typ": "openid4vci-proof+jwt", "alg": "ES256", "kid": "k", "jwk": Value::Object(s.public_jwk().minimal_json())}),
                        claims(n)
                    )])
                }
            }),
            "invalid_proof",
        ),
        (
            "same key twice (VCI-67)",
            Box::new({
                let s = s.clone();
                move |n| {
                    json!([
                        proof_jwt(&*s, good_header(&*s), claims(n)),
                        proof_jwt(&*s, good_header(&*s), claims(n))
                    ])
                }
            }),
            "invalid_proof",
        ),
        (
            "two nonces (VCI-90)",
            Box::new({
                let s = s.clone();
                let s2 = s2.clone();
                move |n| {
                    json!([
                        proof_jwt(&*s, good_header(&*s), claims(n)),
                        proof_jwt(&*s2, good_header(&*s2), claims("other"))
                    ])
                }
            }),
            "invalid_nonce",
        ),
        (
            "signed by another key",
            Box::new({
                let s = s.clone();
                let s2 = s2.clone();
                move |n| json!([proof_jwt(&*s2, good_header(&*s), claims(n))])
            }),
            "invalid_proof",
        ),
        (
            "alg none (VCI-58)",
            Box::new({
                let s = s.clone();
                move |n| {
                    json!([proof_jwt(
                        &*s,
                        json!({"typ": "openid4vci-proof+jwt", "alg": "none", "jwk": Value::Object(s.public_jwk().minimal_json())}),
                        claims(n)
                    )])
                }
            }),
            "invalid_proof",
        ),
    ];
    for (name, make, code) in cases {
        let t = token(&rig, &p);
        let n = c_nonce(&rig);
        let r = credential(
            &rig,
            &p,
            &t,
            json!({"credential_configuration_id": "pid", "proofs": {"jwt": make(&n)}}),
        );
        assert_eq!(
            r.error_code().as_deref(),
            Some(code),
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.status, 400, "{name}");
    }
    // The same request, well formed, passes, and its nonce cannot be used again (VCI-63/64).
    let t = token(&rig, &p);
    let n = c_nonce(&rig);
    let body = json!({"credential_configuration_id": "pid", "proofs": {"jwt": [proof_jwt(&*s, good_header(&*s), claims(&n))]}});
    assert_eq!(credential(&rig, &p, &t, body.clone()).status, 200);
    assert_eq!(
        credential(&rig, &p, &t, body).error_code().as_deref(),
        Some("invalid_nonce")
    );
}

#[test]
fn issuer_refuses_bad_credential_requests() {
    let rig = rig_with(|c| c.dpop_nonces = false);
    let p = prover();
    let s = holder_signer();
    let t = token(&rig, &p);
    let n = c_nonce(&rig);
    let one = json!([proof_jwt(
        &*s,
        good_header(&*s),
        json!({"aud": ISSUER, "iat": NOW, "nonce": n})
    )]);
    let four: Vec<Value> = (0..4)
        .map(|_| {
            let k = holder_signer();
            Value::from(proof_jwt(
                &*k,
                good_header(&*k),
                json!({"aud": ISSUER, "iat": NOW, "nonce": n}),
            ))
        })
        .collect();
    for (name, body, code) in [
        (
            "no proofs (VCI-70)",
            json!({"credential_configuration_id": "pid"}),
            "invalid_proof",
        ),
        (
            "singular proof (VCI-69)",
            json!({"credential_configuration_id": "pid", "proof": {"proof_type": "jwt", "jwt": "x"}}),
            "invalid_credential_request",
        ),
        (
            "two proof types (VCI-69)",
            json!({"credential_configuration_id": "pid", "proofs": {"jwt": one, "attestation": ["x"]}}),
            "invalid_credential_request",
        ),
        (
            "empty proofs (VCI-69)",
            json!({"credential_configuration_id": "pid", "proofs": {"jwt": []}}),
            "invalid_credential_request",
        ),
        (
            "over batch_size (VCI-68)",
            json!({"credential_configuration_id": "pid", "proofs": {"jwt": four}}),
            "invalid_credential_request",
        ),
        (
            "legacy format (HAIP legacy)",
            json!({"format": "vc+sd-jwt", "vct": "urn:eudi:pid:1", "proofs": {"jwt": one}}),
            "invalid_credential_request",
        ),
        (
            "unknown configuration (VCI-75)",
            json!({"credential_configuration_id": "mdl", "proofs": {"jwt": one}}),
            "unknown_credential_configuration",
        ),
        (
            "identifier not issued (VCI-75)",
            json!({"credential_identifier": "pid", "proofs": {"jwt": one}}),
            "unknown_credential_identifier",
        ),
        (
            "both identifiers (VCI-75)",
            json!({"credential_identifier": "pid", "credential_configuration_id": "pid", "proofs": {"jwt": one}}),
            "invalid_credential_request",
        ),
        (
            "plaintext response encryption (VCI-76)",
            json!({"credential_configuration_id": "pid", "proofs": {"jwt": one}, "credential_response_encryption": {"jwk": {}, "enc": "A128GCM"}}),
            "invalid_credential_request",
        ),
    ] {
        let r = credential(&rig, &p, &t, body);
        assert_eq!(
            r.error_code().as_deref(),
            Some(code),
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}

#[test]
fn issuer_refuses_bad_tokens_and_dpop() {
    let rig = rig_with(|c| c.dpop_nonces = false);
    let p = prover();
    let t = token(&rig, &p);
    let url = format!("{ISSUER}/credential");
    let body = json!({"credential_configuration_id": "pid"}).to_string();
    let send = |headers: Vec<(String, String)>, query: &str| {
        let mut h = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        h.extend(headers);
        rig.issuer.handle(&IssuerRequest::new(
            Method::Post,
            "/credential",
            query,
            &h,
            body.as_bytes(),
        ))
    };
    let good_proof = || {
        p.proof(Method::Post, &url, Some(&t), None, NOW, &OsRandom)
            .unwrap()
    };
    // VCI-43: Bearer, and no proof.
    let r = send(
        vec![
            ("Authorization".into(), format!("Bearer {t}")),
            ("DPoP".into(), good_proof()),
        ],
        "",
    );
    assert_eq!(
        (r.status, r.error_code().as_deref()),
        (401, Some("invalid_token"))
    );
    assert!(
        r.header_value("WWW-Authenticate")
            .unwrap()
            .starts_with("DPoP ")
    );
    let r = send(vec![("Authorization".into(), format!("DPoP {t}"))], "");
    assert_eq!(
        (r.status, r.error_code().as_deref()),
        (401, Some("invalid_dpop_proof"))
    );
    // VCI-44: a proof by another key (not the token's), and one for another token.
    let other = prover()
        .proof(Method::Post, &url, Some(&t), None, NOW, &OsRandom)
        .unwrap();
    let r = send(
        vec![
            ("Authorization".into(), format!("DPoP {t}")),
            ("DPoP".into(), other),
        ],
        "",
    );
    assert_eq!(r.error_code().as_deref(), Some("invalid_dpop_proof"));
    let wrong_ath = p
        .proof(Method::Post, &url, Some("another"), None, NOW, &OsRandom)
        .unwrap();
    let r = send(
        vec![
            ("Authorization".into(), format!("DPoP {t}")),
            ("DPoP".into(), wrong_ath),
        ],
        "",
    );
    assert_eq!(r.error_code().as_deref(), Some("invalid_dpop_proof"));
    // VCI-42: the token endpoint's proof at the credential endpoint.
    let token_proof = p
        .proof(
            Method::Post,
            &format!("{ISSUER}/token"),
            Some(&t),
            None,
            NOW,
            &OsRandom,
        )
        .unwrap();
    let r = send(
        vec![
            ("Authorization".into(), format!("DPoP {t}")),
            ("DPoP".into(), token_proof),
        ],
        "",
    );
    assert_eq!(r.error_code().as_deref(), Some("invalid_dpop_proof"));
    // VCI-40: the token in the query.
    let r = send(
        vec![("DPoP".into(), good_proof())],
        &format!("access_token={t}"),
    );
    assert_eq!(r.error_code().as_deref(), Some("invalid_request"));
    // An unknown token.
    let r = send(
        vec![
            ("Authorization".into(), "DPoP nope".into()),
            ("DPoP".into(), good_proof()),
        ],
        "",
    );
    assert_eq!(
        (r.status, r.error_code().as_deref()),
        (401, Some("invalid_token"))
    );
    // VCI-41: a replayed proof.
    let proof = good_proof();
    let _ = send(
        vec![
            ("Authorization".into(), format!("DPoP {t}")),
            ("DPoP".into(), proof.clone()),
        ],
        "",
    );
    let r = send(
        vec![
            ("Authorization".into(), format!("DPoP {t}")),
            ("DPoP".into(), proof),
        ],
        "",
    );
    assert_eq!(r.error_code().as_deref(), Some("invalid_dpop_proof"));
    // VCI-35: a token request without DPoP.
    let (uri, _) = offer(&rig, pre_auth(false));
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={}",
        code_of(&uri)
    );
    let r = post_form(&rig, "/token", &form, vec![]);
    assert_eq!(r.error_code().as_deref(), Some("invalid_dpop_proof"));
    // VCI-33: tx_code for an offer without one; tx_code with another grant.
    let tp = p
        .proof(
            Method::Post,
            &format!("{ISSUER}/token"),
            None,
            None,
            NOW,
            &OsRandom,
        )
        .unwrap();
    let r = post_form(
        &rig,
        "/token",
        &format!("{form}&tx_code=1234"),
        vec![("DPoP".into(), tp)],
    );
    assert_eq!(r.error_code().as_deref(), Some("invalid_request"));
    let tp = p
        .proof(
            Method::Post,
            &format!("{ISSUER}/token"),
            None,
            None,
            NOW,
            &OsRandom,
        )
        .unwrap();
    let r = post_form(
        &rig,
        "/token",
        "grant_type=authorization_code&code=x&tx_code=1",
        vec![("DPoP".into(), tp)],
    );
    assert_eq!(r.error_code().as_deref(), Some("invalid_request"));
    // VCI-34: anonymous access where it is not supported.
    let closed = rig_with(|c| {
        c.dpop_nonces = false;
        c.pre_authorized_anonymous = false;
    });
    let (uri, _) = offer(&closed, pre_auth(false));
    let tp = p
        .proof(
            Method::Post,
            &format!("{ISSUER}/token"),
            None,
            None,
            NOW,
            &OsRandom,
        )
        .unwrap();
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={}",
        code_of(&uri)
    );
    let r = post_form(&closed, "/token", &form, vec![("DPoP".into(), tp)]);
    assert_eq!(
        (r.status, r.error_code().as_deref()),
        (401, Some("invalid_client"))
    );
    let _ = &rig.store;
}

#[test]
fn issuer_refuses_bad_authorization_requests() {
    let rig = rig_with(|c| c.dpop_nonces = false);
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let base = format!(
        "response_type=code&client_id=w&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&scope=pid&code_challenge={challenge}"
    );
    for (name, form, code) in [
        (
            "plain (VCI-19)",
            format!("{base}&code_challenge_method=plain"),
            "invalid_request",
        ),
        ("no method (VCI-19)", base.clone(), "invalid_request"),
        (
            "request_uri inside PAR (VCI-25)",
            format!("{base}&code_challenge_method=S256&request_uri=urn:x"),
            "invalid_request",
        ),
        (
            "http redirect (VCI-26)",
            format!(
                "response_type=code&client_id=w&redirect_uri=http%3A%2F%2Fevil.example%2Fcb&scope=pid&code_challenge={challenge}&code_challenge_method=S256"
            ),
            "invalid_request",
        ),
        (
            "unknown scope",
            format!(
                "response_type=code&client_id=w&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&scope=mdl&code_challenge={challenge}&code_challenge_method=S256"
            ),
            "invalid_scope",
        ),
    ] {
        let r = post_form(&rig, "/par", &form, vec![]);
        assert_eq!(
            r.error_code().as_deref(),
            Some(code),
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    // A good PAR; its request_uri is single use and bound to the client (VCI-23, VCI-24).
    let r = post_form(
        &rig,
        "/par",
        &format!("{base}&code_challenge_method=S256"),
        vec![],
    );
    assert_eq!(r.status, 201);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let uri = v["request_uri"].as_str().unwrap().to_owned();
    let get = |q: String| {
        rig.issuer
            .handle(&IssuerRequest::new(Method::Get, "/authorize", &q, &[], b""))
    };
    let enc = |s: &str| s.replace(':', "%3A");
    let r = get(format!("client_id=other&request_uri={}", enc(&uri)));
    assert_eq!(r.error_code().as_deref(), Some("invalid_request"));
    let r = get(format!("client_id=w&request_uri={}", enc(&uri)));
    assert_eq!(
        r.error_code().as_deref(),
        Some("invalid_request"),
        "consumed by the failed attempt"
    );
    // Without PAR (VCI-23 policy), and without issuer_state the built-in authorizer denies.
    let r = get("client_id=w&response_type=code".into());
    assert_eq!(r.error_code().as_deref(), Some("invalid_request"));
    let r = post_form(
        &rig,
        "/par",
        &format!("{base}&code_challenge_method=S256&state=s1"),
        vec![],
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let r = get(format!(
        "client_id=w&request_uri={}",
        enc(v["request_uri"].as_str().unwrap())
    ));
    assert_eq!(r.status, 302);
    let loc = r.header_value("Location").unwrap();
    assert!(
        loc.contains("error=access_denied") && loc.contains("state=s1") && loc.contains("iss="),
        "{loc}"
    );
}

#[test]
fn metadata_documents() {
    let rig = rig();
    let get = |p: &str| {
        rig.issuer
            .handle(&IssuerRequest::new(Method::Get, p, "", &[], b""))
    };
    let md = get("/.well-known/openid-credential-issuer");
    assert_eq!(md.status, 200);
    let parsed = credkit::openid4vci::IssuerMetadata::from_json(&md.body, ISSUER).unwrap();
    assert_eq!(parsed.batch_size, Some(3));
    assert!(parsed.configuration("pid").unwrap().is_key_bound());
    let v: Value = serde_json::from_slice(&md.body).unwrap();
    // Requests never use pre-1.0 names.
    assert!(v.get("credential_configurations_supported").is_some());
    let as_md = get("/.well-known/oauth-authorization-server");
    let parsed = credkit::openid4vci::AuthServerMetadata::from_json(&as_md.body, ISSUER).unwrap();
    assert!(parsed.iss_parameter_supported && parsed.require_par);
    assert_eq!(get("/nope").status, 404);
}

/// Defers the first `n` readiness checks, then issues like the default factory.
#[derive(Debug)]
struct Slow {
    left: std::sync::atomic::AtomicUsize,
}

impl credkit::openid4vci::issuer::CredentialFactory for Slow {
    fn builder(
        &self,
        configuration: &SdJwtVcConfiguration,
        claims: &Map<String, Value>,
        now: i64,
    ) -> credkit::Result<credkit::sd_jwt_vc::VcBuilder> {
        credkit::openid4vci::issuer::DiscloseAll { lifetime: 3600 }.builder(
            configuration,
            claims,
            now,
        )
    }

    fn ready(
        &self,
        _c: &SdJwtVcConfiguration,
        _claims: &Map<String, Value>,
    ) -> credkit::Result<bool> {
        use std::sync::atomic::Ordering;
        Ok(self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_err())
    }
}

#[test]
fn deferred_issuance_is_polled_and_bound_to_its_token() {
    let rig = rig_with(|c| {
        c.factory = Arc::new(Slow {
            left: std::sync::atomic::AtomicUsize::new(2),
        });
    });
    let h = holder(&rig);
    let (uri, _) = offer(&rig, pre_auth(false));
    let (f, lb) = fetcher(&rig, None);
    let mut flow = Issuance::from_offer_uri(&uri, options(None, 2)).unwrap();
    let clock = FixedClock(NOW);
    let env = Env::new(&h.keys, None, &clock, &OsRandom);
    let mut waits = Vec::new();
    let issued = run(&mut flow, &f, &env, &mut browser(lb.clone()), &mut |d| {
        waits.push(d)
    })
    .unwrap();
    assert_eq!(issued.credentials.len(), 2);
    // 202 at the credential endpoint, 202 once more at the deferred endpoint, then 200.
    assert_eq!(waits.len(), 2);
    assert_eq!(waits[0], std::time::Duration::from_secs(5));
    let log = lb.log.lock().unwrap().clone();
    assert!(log.contains(&("/credential".to_owned(), 202)), "{log:?}");
    assert!(log.contains(&("/deferred".to_owned(), 202)), "{log:?}");
    assert!(log.contains(&("/deferred".to_owned(), 200)), "{log:?}");
    h.wallet.add_issued(&issued).unwrap();

    // VCI-84 / VCI-86 / VCI-85: another token cannot redeem it, and it is delivered once.
    let rig = rig_with(|c| {
        c.dpop_nonces = false;
        c.factory = Arc::new(Slow {
            left: std::sync::atomic::AtomicUsize::new(1),
        });
    });
    let p = prover();
    let s = holder_signer();
    let t = token(&rig, &p);
    let n = c_nonce(&rig);
    let body = json!({"credential_configuration_id": "pid", "proofs": {"jwt": [proof_jwt(&*s, good_header(&*s), json!({"aud": ISSUER, "iat": NOW, "nonce": n}))]}});
    let r = credential(&rig, &p, &t, body);
    assert_eq!(r.status, 202);
    let tx = serde_json::from_slice::<Value>(&r.body).unwrap()["transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deferred = |token: &str, prover: &DpopProver| {
        let proof = prover
            .proof(
                Method::Post,
                &format!("{ISSUER}/deferred"),
                Some(token),
                None,
                NOW,
                &OsRandom,
            )
            .unwrap();
        let headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Authorization".to_owned(), format!("DPoP {token}")),
            ("DPoP".to_owned(), proof),
        ];
        rig.issuer.handle(&IssuerRequest::new(
            Method::Post,
            "/deferred",
            "",
            &headers,
            json!({"transaction_id": tx}).to_string().as_bytes(),
        ))
    };
    let p2 = prover();
    let other = token(&rig, &p2);
    assert_eq!(
        deferred(&other, &p2).error_code().as_deref(),
        Some("invalid_transaction_id")
    );
    let r = deferred(&t, &p);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        deferred(&t, &p).error_code().as_deref(),
        Some("invalid_transaction_id")
    );
}

fn encrypting_rig(required: bool, dpop_nonces: bool) -> Rig {
    rig_with(|c| {
        c.dpop_nonces = dpop_nonces;
        let key = default_provider()
            .generate(Algorithm::Es256, &OsRandom)
            .unwrap()
            .with_kid("issuer-enc-1");
        c.encryption_key = Some(key);
        c.encryption_required = required;
    })
}

#[test]
fn encrypted_credential_requests_and_responses() {
    let rig = encrypting_rig(true, true);
    let h = holder(&rig);
    let (uri, _) = offer(&rig, pre_auth(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let rewrite: Rewrite = Box::new(move |req, resp| {
        if req.url.ends_with("/credential") {
            log.lock().unwrap().push((
                req.header_value("Content-Type").unwrap_or("").to_owned(),
                resp.content_type.clone().unwrap_or_default(),
                resp.status,
            ));
        }
        resp
    });
    let issued = issue(&rig, &h, &uri, options(None, 2), Some(rewrite)).unwrap();
    h.wallet.add_issued(&issued).unwrap();
    let seen = seen.lock().unwrap().clone();
    // Both directions are JWEs (§10): the request to the issuer's key, the answer to the
    // wallet's ephemeral key.
    assert!(
        seen.iter().any(|(req, resp, s)| req == "application/jwt"
            && resp == "application/jwt"
            && *s == 200),
        "{seen:?}"
    );
    // The metadata advertises both, with a JWK Set whose keys have a kid and alg.
    let md = rig.issuer.metadata();
    assert_eq!(
        md["credential_request_encryption"]["jwks"]["keys"][0]["kid"],
        "issuer-enc-1"
    );
    assert_eq!(
        md["credential_request_encryption"]["jwks"]["keys"][0]["alg"],
        "ECDH-ES"
    );
    assert_eq!(
        md["credential_response_encryption"]["encryption_required"],
        true
    );
}

#[test]
fn encryption_attacks() {
    // VCI-77: the issuer answers in plaintext although the wallet asked for encryption.
    let lax = encrypting_rig(false, true);
    let h = holder(&lax);
    let (uri, _) = offer(&lax, pre_auth(false));
    let rewrite: Rewrite = Box::new(|req, resp| {
        if req.url.ends_with("/credential") && resp.status == 200 {
            HttpResponse::new(200, br#"{"credentials":[{"credential":"x~"}]}"#.to_vec())
                .with_content_type("application/json")
        } else {
            resp
        }
    });
    let e = issue(&lax, &h, &uri, options(None, 1), Some(rewrite)).unwrap_err();
    assert_eq!(e.code(), "unencrypted_response");
    // The issuer requires encryption: a plaintext request is refused (§10, our policy).
    let strict = encrypting_rig(true, false);
    let p = prover();
    let s = holder_signer();
    let t = token(&strict, &p);
    let n = c_nonce(&strict);
    let body = json!({"credential_configuration_id": "pid", "proofs": {"jwt": [proof_jwt(&*s, good_header(&*s), json!({"aud": ISSUER, "iat": NOW, "nonce": n}))]}});
    assert_eq!(
        credential(&strict, &p, &t, body).error_code().as_deref(),
        Some("invalid_encryption_parameters")
    );
    // A wallet facing an issuer that requires response encryption but offers no request
    // encryption cannot comply and says so before sending anything (OpenID4VCI #743).
    let plain = rig();
    let h = holder(&plain);
    let (uri, _) = offer(&plain, pre_auth(false));
    let rewrite: Rewrite = Box::new(|req, resp| {
        if req.url.contains("openid-credential-issuer") {
            let mut v: Value = serde_json::from_slice(&resp.body).unwrap();
            v["credential_response_encryption"] = json!({"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A128GCM"], "encryption_required": true});
            HttpResponse::new(200, v.to_string().into_bytes()).with_content_type("application/json")
        } else {
            resp
        }
    });
    let e = issue(&plain, &h, &uri, options(None, 1), Some(rewrite)).unwrap_err();
    assert_eq!(e.code(), "invalid_metadata");
}

/// A platform key attestation service for the tests, with the defects of ATTACKS VCI-71…74
/// on demand.
struct Attestor {
    signer: Arc<dyn Signer>,
    defect: &'static str,
}

impl credkit::openid4vci::wallet::KeyAttestor for Attestor {
    fn attest(
        &self,
        keys: &[credkit::jose::PublicJwk],
        nonce: Option<&str>,
    ) -> credkit::Result<Option<String>> {
        let mut attested: Vec<Value> = keys
            .iter()
            .map(|k| Value::Object(k.minimal_json()))
            .collect();
        if self.defect == "other key" {
            attested = vec![Value::Object(holder_signer().public_jwk().minimal_json())];
        }
        let mut claims = json!({
            "iat": NOW,
            "exp": NOW + 600,
            "attested_keys": attested,
            "key_storage": [if self.defect == "weak" { "iso_18045_basic" } else { "iso_18045_high" }],
            "user_authentication": ["iso_18045_high"],
        });
        if let Some(n) = nonce {
            claims["nonce"] = if self.defect == "nonce" {
                "stale".into()
            } else {
                n.into()
            };
        }
        if self.defect == "no exp" {
            claims.as_object_mut().unwrap().remove("exp");
        }
        let signer = if self.defect == "untrusted" {
            holder_signer()
        } else {
            self.signer.clone()
        };
        let header = json!({"typ": "key-attestation+jwt", "alg": "ES256"});
        Ok(Some(proof_jwt(&*signer, header, claims)))
    }
}

#[test]
fn key_attestations_are_sent_and_checked() {
    let attester = holder_signer();
    let mut trust = StaticIssuerKeys::new();
    trust
        .add(attester.public_jwk(), default_provider())
        .unwrap();
    let trust = Arc::new(trust);
    let make = || {
        let t = trust.clone();
        rig_with(move |c| {
            let mut policy = credkit::openid4vci::issuer::KeyAttestationPolicy::new(t);
            policy.key_storage = vec!["iso_18045_high".into()];
            c.key_attestation = Some(policy);
        })
    };
    let run_with = |rig: &Rig, attestor: Option<&Attestor>| {
        let h = holder(rig);
        let (uri, _) = offer(rig, pre_auth(false));
        let (f, lb) = fetcher(rig, None);
        let mut flow = Issuance::from_offer_uri(&uri, options(None, 2)).unwrap();
        let clock = FixedClock(NOW);
        let mut env = Env::new(&h.keys, None, &clock, &OsRandom);
        if let Some(a) = attestor {
            env = env.key_attestation(a);
        }
        run(&mut flow, &f, &env, &mut browser(lb), &mut |_| {}).map(|i| (h, i))
    };
    let rig = make();
    let md = rig.issuer.metadata();
    assert!(
        md["credential_configurations_supported"]["pid"]["proof_types_supported"]["jwt"]
            .get("key_attestations_required")
            .is_some()
    );
    let good = Attestor {
        signer: attester.clone(),
        defect: "",
    };
    let (h, issued) = run_with(&rig, Some(&good)).unwrap();
    assert_eq!(issued.credentials.len(), 2);
    h.wallet.add_issued(&issued).unwrap();
    // Without an attestation the wallet does not even ask.
    assert_eq!(
        run_with(&make(), None).err().unwrap().code(),
        "invalid_metadata"
    );
    for (defect, code) in [
        ("untrusted", "invalid_proof"), // VCI-71
        ("other key", "invalid_proof"), // VCI-72
        ("weak", "invalid_proof"),      // VCI-73
        ("no exp", "invalid_proof"),    // VCI-73
        ("nonce", "invalid_nonce"),     // VCI-74
    ] {
        let a = Attestor {
            signer: attester.clone(),
            defect,
        };
        let e = run_with(&make(), Some(&a)).err().unwrap();
        assert_eq!(e.code(), code, "{defect}: {e}");
    }
}

#[test]
fn signed_metadata_is_verified_and_can_be_required() {
    let run_with = |rig: &Rig, trust: &StaticIssuerKeys, required: bool| {
        let h = holder(rig);
        let (uri, _) = offer(rig, pre_auth(false));
        let (f, lb) = fetcher(rig, None);
        let mut flow = Issuance::from_offer_uri(&uri, options(None, 1)).unwrap();
        let clock = FixedClock(NOW);
        let env = Env::new(&h.keys, None, &clock, &OsRandom).signed_metadata(trust, required);
        run(&mut flow, &f, &env, &mut browser(lb), &mut |_| {})
    };
    let signed = rig_with(|c| c.signed_metadata = true);
    let trust = StaticIssuerKeys::single(signed.signer.public_jwk(), default_provider()).unwrap();
    run_with(&signed, &trust, true).unwrap();
    // The issuer serves plain JSON to wallets that do not ask for a JWT.
    let r = signed.issuer.handle(&IssuerRequest::new(
        Method::Get,
        "/.well-known/openid-credential-issuer",
        "",
        &[],
        b"",
    ));
    assert_eq!(r.header_value("Content-Type"), Some("application/json"));
    // VCI-14: unsigned metadata where the wallet requires signed metadata.
    let plain = rig();
    let trust_plain =
        StaticIssuerKeys::single(plain.signer.public_jwk(), default_provider()).unwrap();
    assert_eq!(
        run_with(&plain, &trust_plain, true).unwrap_err().code(),
        "invalid_metadata"
    );
    run_with(&plain, &trust_plain, false).unwrap();
    // VCI-13: signed by a key the wallet does not trust for metadata.
    let other = StaticIssuerKeys::single(holder_signer().public_jwk(), default_provider()).unwrap();
    assert_eq!(
        run_with(&signed, &other, true).unwrap_err().code(),
        "invalid_signature"
    );
}

/// A code from PAR and /authorize for `offer_uri`'s issuer_state, with PKCE `verifier`.
fn authorization_code(rig: &Rig, verifier: &str, dpop_header: Option<String>) -> String {
    let (uri, _) = offer(rig, OfferGrant::AuthorizationCode);
    let q = uri.split_once('?').unwrap().1;
    let (_, v) = form_urlencoded_parse(q)
        .into_iter()
        .find(|(k, _)| k == "credential_offer")
        .unwrap();
    let o: Value = serde_json::from_str(&v).unwrap();
    let state = o["grants"]["authorization_code"]["issuer_state"]
        .as_str()
        .unwrap();
    let challenge = credkit::oauth::pkce::CodeVerifier::parse(verifier)
        .unwrap()
        .challenge();
    let form = credkit::oauth::form_encode(&[
        ("response_type", "code"),
        ("client_id", "w"),
        ("redirect_uri", "http://127.0.0.1/cb"),
        ("scope", "pid"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("issuer_state", state),
    ]);
    let headers = dpop_header
        .map(|h| vec![("DPoP".to_owned(), h)])
        .unwrap_or_default();
    let r = post_form(rig, "/par", &form, headers);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let query = credkit::oauth::form_encode(&[
        ("client_id", "w"),
        ("request_uri", v["request_uri"].as_str().unwrap()),
    ]);
    let r = rig.issuer.handle(&IssuerRequest::new(
        Method::Get,
        "/authorize",
        &query,
        &[],
        b"",
    ));
    let loc = r.header_value("Location").unwrap().to_owned();
    let q = loc.split_once('?').unwrap().1;
    form_urlencoded_parse(q)
        .into_iter()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
}

#[test]
fn authorization_codes_survive_a_dpop_nonce_challenge_and_nothing_else() {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let token_form = |code: &str, v: &str| {
        credkit::oauth::form_encode(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("code_verifier", v),
            ("client_id", "w"),
        ])
    };
    // DPoP nonces on: the first token request gets use_dpop_nonce, the retry with the nonce
    // redeems the same code.
    let rig = rig();
    let p = prover();
    let par_nonce = rig
        .issuer
        .handle(&IssuerRequest::new(Method::Post, "/nonce", "", &[], b""))
        .header_value("DPoP-Nonce")
        .map(str::to_owned);
    assert!(par_nonce.is_some());
    let proof = p
        .proof(
            Method::Post,
            &format!("{ISSUER}/par"),
            None,
            par_nonce.as_deref(),
            NOW,
            &OsRandom,
        )
        .unwrap();
    let code = authorization_code(&rig, verifier, Some(proof));
    let first = p
        .proof(
            Method::Post,
            &format!("{ISSUER}/token"),
            None,
            None,
            NOW,
            &OsRandom,
        )
        .unwrap();
    let r = post_form(
        &rig,
        "/token",
        &token_form(&code, verifier),
        vec![("DPoP".into(), first)],
    );
    assert_eq!(r.error_code().as_deref(), Some("use_dpop_nonce"));
    let nonce = r.header_value("DPoP-Nonce").unwrap().to_owned();
    let retry = p
        .proof(
            Method::Post,
            &format!("{ISSUER}/token"),
            None,
            Some(&nonce),
            NOW,
            &OsRandom,
        )
        .unwrap();
    let r = post_form(
        &rig,
        "/token",
        &token_form(&code, verifier),
        vec![("DPoP".into(), retry)],
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // A wrong verifier uses the code up (VCI-21): the right one afterwards is refused.
    let rig = rig_with(|c| c.dpop_nonces = false);
    let code = authorization_code(&rig, verifier, None);
    let wrong = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let proof = || {
        p.proof(
            Method::Post,
            &format!("{ISSUER}/token"),
            None,
            None,
            NOW,
            &OsRandom,
        )
        .unwrap()
    };
    let r = post_form(
        &rig,
        "/token",
        &token_form(&code, wrong),
        vec![("DPoP".into(), proof())],
    );
    assert_eq!(r.error_code().as_deref(), Some("invalid_grant"));
    let r = post_form(
        &rig,
        "/token",
        &token_form(&code, verifier),
        vec![("DPoP".into(), proof())],
    );
    assert_eq!(r.error_code().as_deref(), Some("invalid_grant"));
}
