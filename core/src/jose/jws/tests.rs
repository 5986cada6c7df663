use super::*;
use crate::crypto::default_provider;
use crate::rand::OsRandom;

fn key() -> (std::sync::Arc<dyn Signer>, std::sync::Arc<dyn VerifyingKey>) {
    let p = default_provider();
    let sk = p.generate(Algorithm::Es256, &OsRandom).unwrap();
    let signer = p.signer(&sk).unwrap();
    let vk = p.verifying_key(sk.public(), Algorithm::Es256).unwrap();
    (signer, vk)
}

fn raw(header: &str, payload: &str, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload.as_bytes()),
        b64::encode(sig)
    )
}

#[test]
fn sign_and_verify_round_trip() {
    let (signer, vk) = key();
    let jws = UnsignedJws::new(
        Algorithm::Es256,
        header_for(&*signer, Some("JWT")),
        b"{\"a\":1}",
    )
    .sign(&*signer)
    .unwrap();
    let parsed = Jws::parse_compact(jws.as_compact()).unwrap();
    parsed.verify(&*vk, &[Algorithm::Es256]).unwrap();
    assert_eq!(parsed.payload_json(8).unwrap()["a"], 1);
    parsed.check_typ(&["jwt"]).unwrap();
    parsed.check_typ(&["application/JWT"]).unwrap();
    assert_eq!(
        parsed.check_typ(&["kb+jwt"]).unwrap_err().code(),
        "typ_mismatch"
    );
    // not on the allow-list (HDR-03)
    assert_eq!(
        parsed.verify(&*vk, &[Algorithm::EdDsa]).unwrap_err().code(),
        "alg_not_allowed"
    );
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let (signer, vk) = key();
    let jws = UnsignedJws::new(
        Algorithm::Es256,
        header_for(&*signer, None),
        b"{\"sub\":\"x\"}",
    )
    .sign(&*signer)
    .unwrap();
    let text = jws.as_compact().as_bytes().to_vec();
    for i in 0..text.len() {
        for bit in [1u8, 2, 4, 8, 16, 32, 64] {
            let mut t = text.clone();
            t[i] ^= bit;
            let Ok(s) = String::from_utf8(t) else {
                continue;
            };
            let ok = Jws::parse_compact(&s).and_then(|j| j.verify(&*vk, &[Algorithm::Es256]));
            assert!(ok.is_err(), "flip at {i} bit {bit} accepted");
        }
    }
}

#[test]
fn header_rules() {
    let (signer, _) = key();
    let sig = signer.sign(b"x").unwrap();
    let code = |h: &str| Jws::parse_compact(&raw(h, "{}", &sig)).unwrap_err().code();
    assert_eq!(code(r#"{"typ":"JWT"}"#), "header_invalid"); // HDR-05
    assert_eq!(code(r#"{"alg":["ES256"]}"#), "header_invalid");
    assert_eq!(
        code(r#"{"alg":"ES256","b64":false,"crit":["b64"]}"#),
        "header_invalid"
    ); // HDR-08
    assert_eq!(code(r#"{"alg":"ES256","zip":"DEF"}"#), "header_invalid"); // HDR-15
    assert_eq!(
        code(r#"{"alg":"ES256","crit":["exp"],"exp":1}"#),
        "crit_unsupported"
    ); // HDR-06
    assert_eq!(code(r#"{"alg":"ES256","crit":[]}"#), "header_invalid"); // HDR-07
    assert_eq!(code(r#"{"alg":"ES256","crit":["alg"]}"#), "header_invalid");
    assert_eq!(code(r#"{"alg":"ES256","crit":["x"]}"#), "header_invalid");
    assert_eq!(
        code(r#"{"alg":"ES256","crit":"x","x":1}"#),
        "header_invalid"
    );
    assert_eq!(
        code(r#"{"alg":"ES256","alg":"none"}"#),
        "json_duplicate_key"
    ); // ENC-10
    assert_eq!(code(r#"["ES256"]"#), "json_unexpected_type"); // ENC-14
}

#[test]
fn none_and_hmac_are_never_allowed() {
    let (_, vk) = key();
    for alg in ["none", "None", "NONE", "HS256", "RS256", "es256"] {
        let token = raw(&format!(r#"{{"alg":"{alg}"}}"#), "{}", b"sig");
        let jws = Jws::parse_compact(&token).unwrap();
        assert_eq!(
            jws.verify(&*vk, &Algorithm::ALL).unwrap_err().code(),
            "alg_not_allowed",
            "{alg}"
        );
    }
}

#[test]
fn envelope_rules() {
    let code = |t: &str| Jws::parse_compact(t).unwrap_err().code();
    assert_eq!(code("a.b"), "malformed_compact");
    assert_eq!(code("a.b.c.d.e"), "malformed_compact"); // ENC-18 JWE
    assert_eq!(code(".e30.AA"), "malformed_compact"); // ENC-07
    assert_eq!(code("eyJhbGciOiJFUzI1NiJ9.e30."), "malformed_compact");
    assert_eq!(code("eyJhbGciOiJFUzI1NiJ9=.e30.AA"), "b64_invalid");
    let many_dots = ".".repeat(100_000);
    assert_eq!(code(&many_dots), "malformed_compact"); // ENV-02
}

#[test]
fn wrong_signature_length_is_malformed() {
    let (signer, vk) = key();
    let mut sig = signer.sign(b"x").unwrap();
    sig.push(0);
    let jws = Jws::parse_compact(&raw(r#"{"alg":"ES256"}"#, "{}", &sig)).unwrap();
    assert_eq!(
        jws.verify(&*vk, &[Algorithm::Es256]).unwrap_err().code(),
        "sig_malformed"
    );
}
