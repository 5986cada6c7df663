use super::*;
use crate::crypto::default_provider;
use crate::oauth::store::MemoryStateStore;
use crate::rand::OsRandom;

const V01: &str =
    include_str!("../../../../test-vectors/openid4vci/dpop_01_dpop-proof_token-request.json");
const V07: &str =
    include_str!("../../../../test-vectors/openid4vci/dpop_07_resource-request_dpop-ath.json");
const V11: &str =
    include_str!("../../../../test-vectors/openid4vci/dpop_11_htu-comparison_derived.json");

fn vector(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn request<'a>(method: Method, url: &'a str) -> DpopRequest<'a> {
    DpopRequest {
        method,
        url,
        access_token: None,
        bound_jkt: None,
        nonce: NonceRule::NotRequired,
    }
}

fn check(
    proof: &str,
    req: &DpopRequest<'_>,
    now: i64,
    store: &MemoryStateStore,
) -> Result<VerifiedDpop> {
    verify(
        &[proof],
        req,
        &DpopPolicy::default(),
        now,
        default_provider(),
        store,
    )
}

#[test]
fn rfc9449_token_request_proof_verifies_once() {
    let v = vector(V01);
    let proof = v["compact"].as_str().unwrap();
    let store = MemoryStateStore::new();
    let req = request(Method::Post, "https://server.example.com/token");
    let ok = check(proof, &req, 1_562_262_616, &store).unwrap();
    assert_eq!(ok.jkt, ok.jwk.thumbprint(HashAlg::Sha256));
    // §11.1: the same jti at the same URI is a replay.
    assert_eq!(
        check(proof, &req, 1_562_262_617, &store)
            .unwrap_err()
            .code(),
        "invalid_dpop_proof"
    );
    // The wrong method, and the proof for /token at /credential (ATTACKS VCI-42).
    let fresh = MemoryStateStore::new();
    for (m, url) in [
        (Method::Get, "https://server.example.com/token"),
        (Method::Post, "https://server.example.com/credential"),
    ] {
        let e = check(proof, &request(m, url), 1_562_262_616, &fresh).unwrap_err();
        assert_eq!(e.code(), "invalid_dpop_proof", "{url}");
    }
    // Too old, and too far in the future (§11.1, §11.2).
    for now in [1_562_262_616 + 301, 1_562_262_616 - 61] {
        let e = check(proof, &req, now, &MemoryStateStore::new()).unwrap_err();
        assert_eq!(e.code(), "invalid_dpop_proof");
    }
}

#[test]
fn rfc9449_resource_request_ath_and_binding() {
    let v = vector(V07);
    let headers = &v["http_request"]["headers"];
    let proof = headers["DPoP"].as_str().unwrap();
    let token = headers["Authorization"]
        .as_str()
        .unwrap()
        .strip_prefix("DPoP ")
        .unwrap();
    let jkt = v["checks"]["jwk_thumbprint_sha256"].as_str().unwrap();
    let url = "https://resource.example.org/protectedresource";
    let now = 1_562_262_618;
    let mut req = request(Method::Get, url);
    req.access_token = Some(token);
    req.bound_jkt = Some(jkt);
    check(proof, &req, now, &MemoryStateStore::new()).unwrap();
    // Another token (ath mismatch), another bound key, and no ath expected but a token
    // presented with a proof that lacks it.
    let mut other = req;
    other.access_token = Some("another-token");
    assert_eq!(
        check(proof, &other, now, &MemoryStateStore::new())
            .unwrap_err()
            .code(),
        "invalid_dpop_proof"
    );
    let mut other = req;
    other.bound_jkt = Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4J");
    assert_eq!(
        check(proof, &other, now, &MemoryStateStore::new())
            .unwrap_err()
            .code(),
        "invalid_dpop_proof"
    );
    let v1 = vector(V01);
    let no_ath = v1["compact"].as_str().unwrap();
    let mut tok = request(Method::Post, "https://server.example.com/token");
    tok.access_token = Some(token);
    assert_eq!(
        check(no_ath, &tok, 1_562_262_616, &MemoryStateStore::new())
            .unwrap_err()
            .code(),
        "invalid_dpop_proof"
    );
}

#[test]
fn htu_comparison_table() {
    let v = vector(V11);
    let target = normalize_htu(v["request_uri"].as_str().unwrap()).unwrap();
    for case in v["cases"].as_array().unwrap() {
        let htu = case["htu"].as_str().unwrap();
        let expect = case["expect"].as_str().unwrap().starts_with("match");
        let got = normalize_htu(htu).map(|n| n == target).unwrap_or(false);
        assert_eq!(got, expect, "{htu}: {}", case["expect"]);
    }
    for bad in [
        "ftp://a/b",
        "https://",
        "https://user@host/x",
        "https://h:x/",
    ] {
        assert!(normalize_htu(bad).is_err(), "{bad}");
    }
    assert_eq!(
        normalize_htu("https://[::1]:443/a").unwrap(),
        "https://[::1]/a"
    );
    assert_eq!(
        normalize_htu("https://[::1]:8443").unwrap(),
        "https://[::1]:8443/"
    );
}

fn prover() -> DpopProver {
    let key = default_provider()
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap();
    DpopProver::new(default_provider().signer(&key).unwrap())
}

#[test]
fn our_proofs_verify_and_nonce_rules_hold() {
    let p = prover();
    let url = "https://issuer.example/credential?x=1";
    let now = 1_700_000_000;
    let proof = p
        .proof(Method::Post, url, Some("tok"), Some("n-1"), now, &OsRandom)
        .unwrap();
    let current = |n: &str| n == "n-1";
    let mut req = request(Method::Post, "https://issuer.example/credential");
    req.access_token = Some("tok");
    req.nonce = NonceRule::Required(&current);
    let ok = check(&proof, &req, now, &MemoryStateStore::new()).unwrap();
    assert_eq!(ok.jkt, p.thumbprint());
    // A stale nonce and a missing one ask for a fresh nonce (§8, §9), not invalid_dpop_proof.
    let stale = |n: &str| n == "n-2";
    req.nonce = NonceRule::Required(&stale);
    assert_eq!(
        check(&proof, &req, now, &MemoryStateStore::new())
            .unwrap_err()
            .code(),
        "use_dpop_nonce"
    );
    let without = p
        .proof(Method::Post, url, Some("tok"), None, now, &OsRandom)
        .unwrap();
    req.nonce = NonceRule::Required(&current);
    assert_eq!(
        check(&without, &req, now, &MemoryStateStore::new())
            .unwrap_err()
            .code(),
        "use_dpop_nonce"
    );
    // Two DPoP headers (§4.3 item 1).
    let e = verify(
        &[&proof, &proof],
        &req,
        &DpopPolicy::default(),
        now,
        default_provider(),
        &MemoryStateStore::new(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_dpop_proof");
    let e = verify(
        &[],
        &req,
        &DpopPolicy::default(),
        now,
        default_provider(),
        &MemoryStateStore::new(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_dpop_proof");
}

fn forge(header: Value, claims: Value, signer: &dyn Signer) -> String {
    let h = crate::b64::encode(header.to_string().as_bytes());
    let c = crate::b64::encode(claims.to_string().as_bytes());
    let input = format!("{h}.{c}");
    let sig = signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", crate::b64::encode(&sig))
}

#[test]
fn forged_headers_are_refused() {
    // ATTACKS VCI-45: typ, alg none / HS256, private jwk; also a jwk that did not sign.
    let key = default_provider()
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap();
    let signer = default_provider().signer(&key).unwrap();
    let other = default_provider()
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap();
    let now = 1_700_000_000;
    let claims = serde_json::json!({"jti": "j1", "htm": "POST", "htu": "https://as.example/token", "iat": now});
    let public = Value::Object(key.public().minimal_json());
    let mut private = key.public().minimal_json();
    private.insert("d".into(), crate::b64::encode(key.d()).into());
    let cases = [
        serde_json::json!({"typ": "JWT", "alg": "ES256", "jwk": public}),
        serde_json::json!({"alg": "ES256", "jwk": public}),
        serde_json::json!({"typ": "dpop+jwt", "alg": "none", "jwk": public}),
        serde_json::json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": public}),
        serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": Value::Object(private)}),
        serde_json::json!({"typ": "dpop+jwt", "alg": "ES256"}),
        serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": Value::Object(other.public().minimal_json())}),
        serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public, "crit": ["x"], "x": 1}),
    ];
    let req = request(Method::Post, "https://as.example/token");
    for header in cases {
        let proof = forge(header.clone(), claims.clone(), &*signer);
        let e = check(&proof, &req, now, &MemoryStateStore::new()).unwrap_err();
        assert_eq!(e.code(), "invalid_dpop_proof", "{header}");
    }
    // The same header, well formed, passes: the cases above fail for their one defect.
    let good = forge(
        serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public}),
        claims.clone(),
        &*signer,
    );
    check(&good, &req, now, &MemoryStateStore::new()).unwrap();
    // Claims: missing jti, a string iat, a jti that is too long.
    for c in [
        serde_json::json!({"htm": "POST", "htu": "https://as.example/token", "iat": now}),
        serde_json::json!({"jti": "j", "htm": "POST", "htu": "https://as.example/token", "iat": now.to_string()}),
        serde_json::json!({"jti": "j".repeat(300), "htm": "POST", "htu": "https://as.example/token", "iat": now}),
        serde_json::json!({"jti": "j", "htm": "POST", "iat": now}),
    ] {
        let proof = forge(
            serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public}),
            c.clone(),
            &*signer,
        );
        assert_eq!(
            check(&proof, &req, now, &MemoryStateStore::new())
                .unwrap_err()
                .code(),
            "invalid_dpop_proof",
            "{c}"
        );
    }
}
