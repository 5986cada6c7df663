//! The CLI's SD-JWT VC contract: `issue --vct`, `verify` with static keys, `x5c` chains, JWT
//! VC Issuer Metadata over HTTPS (the shared 127.0.0.1 test server), Type Metadata display,
//! DID issuers and the legacy `typ`; exit 0 on success, 1 with one stderr line beginning with
//! the error code when the input is rejected, 2 for usage errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use credkit::jose::{Curve, PrivateJwk, PublicJwk};
use credkit::x509::certificates_to_pem;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};
use serde_json::{Value, json};

// The HTTPS test server of the core crate's tests.
#[path = "../../core/tests/common/tls.rs"]
mod tls;

use tls::{Reply, Server};

// The CLI harness shared with status.rs.
mod common;

use common::{Dir, keypair, ok, ok_json, read, rejected, usage};

/// 2026-01-01T00:00:00Z: inside the validity of the test certificates.
const NOW: &str = "1767225600";
const NOW_I: i64 = 1_767_225_600;
const VCT: &str = "urn:example:t:1";

fn claims_file(d: &Dir) -> String {
    d.write(
        "claims.json",
        r#"{"given_name":"Erika","family_name":"Mustermann"}"#,
    )
}

// ---------------------------------------------------------------------------------------
// issue --vct, decode, verify with a static key
// ---------------------------------------------------------------------------------------

#[test]
fn issue_decode_and_verify_a_vc() {
    let d = Dir::new("issue");
    let (key, key_pub) = keypair(&d, "issuer");
    let (_, holder_pub) = keypair(&d, "holder");
    let claims = claims_file(&d);
    let vc = ok(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--vct",
            VCT,
            "--iss",
            "https://issuer.example",
            "--exp",
            "3600",
            "--sd",
            "/given_name",
            "--holder-key",
            &holder_pub,
            "--now",
            NOW,
        ],
        "",
    );
    let decoded = ok_json(&["decode"], &vc);
    assert_eq!(decoded["header"]["typ"], "dc+sd-jwt");
    let payload = &decoded["payload"];
    assert_eq!(payload["vct"], VCT);
    assert_eq!(payload["iss"], "https://issuer.example");
    assert_eq!(payload["iat"].as_i64(), Some(NOW_I));
    assert_eq!(payload["exp"].as_i64(), Some(NOW_I + 3600));
    assert_eq!(payload["family_name"], "Mustermann");
    assert!(payload.get("given_name").is_none());
    let holder: Value = serde_json::from_str(&read(&holder_pub)).unwrap();
    assert_eq!(payload["cnf"]["jwk"]["x"], holder["x"]);
    let disclosures = decoded["disclosures"].as_array().unwrap();
    assert_eq!(disclosures.len(), 1);
    assert_eq!(disclosures[0]["name"], "given_name");
    assert_eq!(disclosures[0]["value"], "Erika");

    let verify = |vct: &str| {
        vec![
            "verify".to_owned(),
            "--issuer-key".to_owned(),
            key_pub.clone(),
            "--expect-vct".to_owned(),
            vct.to_owned(),
            "--now".to_owned(),
            (NOW_I + 60).to_string(),
        ]
    };
    let args = verify(VCT);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = ok_json(&args, &vc);
    assert_eq!(v["given_name"], "Erika");
    assert_eq!(v["family_name"], "Mustermann");
    assert_eq!(v["vct"], VCT);
    assert_eq!(v["iss"], "https://issuer.example");
    assert!(v.get("_sd").is_none() && v.get("_sd_alg").is_none());

    let other = verify("urn:other:1");
    let other: Vec<&str> = other.iter().map(String::as_str).collect();
    rejected(&other, &vc, "vct_not_accepted");

    // After exp.
    rejected(
        &[
            "verify",
            "--issuer-key",
            &key_pub,
            "--expect-vct",
            VCT,
            "--now",
            &(NOW_I + 7200).to_string(),
        ],
        &vc,
        "expired",
    );
    // Another issuer key.
    let (_, other_pub) = keypair(&d, "other");
    rejected(
        &[
            "verify",
            "--issuer-key",
            &other_pub,
            "--expect-vct",
            VCT,
            "--now",
            NOW,
        ],
        &vc,
        "unknown_key",
    );
}

#[test]
fn issue_vc_without_now_uses_the_clock() {
    let d = Dir::new("clock");
    let (key, key_pub) = keypair(&d, "issuer");
    let claims = claims_file(&d);
    let vc = ok(
        &[
            "issue", "--key", &key, "--claims", &claims, "--vct", VCT, "--exp", "600",
        ],
        "",
    );
    let payload = &ok_json(&["decode"], &vc)["payload"];
    let iat = payload["iat"].as_i64().unwrap();
    assert!(iat > NOW_I, "{iat}");
    assert_eq!(payload["exp"].as_i64(), Some(iat + 600));
    assert!(payload.get("iss").is_none());
    // Verified against the system clock.
    let v = ok_json(
        &["verify", "--issuer-key", &key_pub, "--expect-vct", VCT],
        &vc,
    );
    assert_eq!(v["given_name"], "Erika");
}

#[test]
fn issue_vc_refusals_and_usage_errors() {
    let d = Dir::new("refuse");
    let (key, _) = keypair(&d, "issuer");
    let claims = claims_file(&d);
    // Registered claims are never selectively disclosable.
    for pointer in ["/vct", "/iss", "/exp"] {
        rejected(
            &[
                "issue",
                "--key",
                &key,
                "--claims",
                &claims,
                "--vct",
                VCT,
                "--iss",
                "https://issuer.example",
                "--exp",
                "60",
                "--sd",
                pointer,
            ],
            "",
            "not_selectively_disclosable",
        );
    }
    // vct belongs to the builder, not to the claims.
    let with_vct = d.write("vct.json", r#"{"vct":"urn:x:1","a":1}"#);
    rejected(
        &["issue", "--key", &key, "--claims", &with_vct, "--vct", VCT],
        "",
        "invalid_claims",
    );
    // A vct that is not a collision-resistant name.
    rejected(
        &["issue", "--key", &key, "--claims", &claims, "--vct", ""],
        "",
        "vct_invalid",
    );
    // VC-only options without --vct, and --typ with --vct.
    usage(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--iss",
            "https://issuer.example",
        ],
        "",
    );
    usage(
        &["issue", "--key", &key, "--claims", &claims, "--exp", "60"],
        "",
    );
    usage(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--x5c",
            "chain.pem",
        ],
        "",
    );
    usage(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--vct",
            VCT,
            "--typ",
            "vc+sd-jwt",
        ],
        "",
    );
}

// ---------------------------------------------------------------------------------------
// x5c
// ---------------------------------------------------------------------------------------

struct Ca {
    der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

fn root_ca(cn: &str) -> Ca {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2030, 1, 1);
    let der = p.self_signed(&key).unwrap().der().to_vec();
    Ca {
        der,
        issuer: Issuer::new(p, key),
    }
}

/// A P-256 leaf for dNSName `issuer.example.com`, digitalSignature, signed by `ca`.
fn leaf(ca: &Ca) -> (Vec<u8>, KeyPair) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::new(vec!["issuer.example.com".to_owned()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "Test Issuer");
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2030, 1, 1);
    let der = p.signed_by(&key, &ca.issuer).unwrap().der().to_vec();
    (der, key)
}

/// The rcgen P-256 key as credkit private JWK text: the point from `public_key_raw`, the
/// scalar from ring's PKCS#8 (the OCTET STRING at bytes 34..68).
fn private_jwk(key: &KeyPair) -> String {
    let raw = key.public_key_raw();
    assert_eq!((raw.len(), raw[0]), (65, 4));
    let public =
        PublicJwk::from_coordinates(Curve::P256, raw[1..33].to_vec(), Some(raw[33..].to_vec()))
            .unwrap();
    let pkcs8 = key.serialize_der();
    assert_eq!(pkcs8[34..36], [0x04, 0x20]);
    let jwk = PrivateJwk::from_parts(public, pkcs8[36..68].to_vec().into()).unwrap();
    jwk.to_json_string().to_string()
}

#[test]
fn x5c_issue_and_verify_with_trust_anchors() {
    let d = Dir::new("x5c");
    let root = root_ca("Test Root CA");
    let (leaf_der, leaf_key) = leaf(&root);
    let root_pem = d.write(
        "root.pem",
        &certificates_to_pem(std::slice::from_ref(&root.der)),
    );
    let other_pem = d.write(
        "other.pem",
        &certificates_to_pem(&[root_ca("Other Root CA").der]),
    );
    let chain = d.write(
        "chain.pem",
        &certificates_to_pem(std::slice::from_ref(&leaf_der)),
    );
    let leaf_jwk = d.write("leaf.jwk", &private_jwk(&leaf_key));
    let claims = claims_file(&d);
    let issue = |iss: &str, key: &str| {
        vec![
            "issue".to_owned(),
            "--key".to_owned(),
            key.to_owned(),
            "--claims".to_owned(),
            claims.clone(),
            "--vct".to_owned(),
            VCT.to_owned(),
            "--iss".to_owned(),
            iss.to_owned(),
            "--x5c".to_owned(),
            chain.clone(),
            "--sd".to_owned(),
            "/given_name".to_owned(),
            "--now".to_owned(),
            NOW.to_owned(),
        ]
    };
    let args = issue("https://issuer.example.com", &leaf_jwk);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let vc = ok(&args, "");
    let header = &ok_json(&["decode"], &vc)["header"];
    assert_eq!(header["typ"], "dc+sd-jwt");
    assert_eq!(header["x5c"], json!([credkit::b64::encode_std(&leaf_der)]));

    let v = ok_json(
        &[
            "verify",
            "--trust-anchor",
            &root_pem,
            "--expect-vct",
            VCT,
            "--now",
            NOW,
        ],
        &vc,
    );
    assert_eq!(v["given_name"], "Erika");
    assert_eq!(v["iss"], "https://issuer.example.com");
    // One of several anchors.
    ok(
        &[
            "verify",
            "--trust-anchor",
            &other_pem,
            "--trust-anchor",
            &root_pem,
            "--now",
            NOW,
        ],
        &vc,
    );
    // Another root only.
    rejected(
        &["verify", "--trust-anchor", &other_pem, "--now", NOW],
        &vc,
        "untrusted_chain",
    );
    // After the certificates' notAfter (2030-01-01).
    rejected(
        &["verify", "--trust-anchor", &root_pem, "--now", "2000000000"],
        &vc,
        "certificate_expired",
    );
    // A token with x5c is not accepted under a pinned key, even the leaf's (in VC mode:
    // plain SD-JWT mode, without VC options, does not look at x5c).
    let leaf_pub = d.write("leaf.pub.jwk", &ok(&["key", "public"], &read(&leaf_jwk)));
    rejected(
        &[
            "verify",
            "--issuer-key",
            &leaf_pub,
            "--expect-vct",
            VCT,
            "--now",
            NOW,
        ],
        &vc,
        "key_mechanism_mismatch",
    );
    // A token without x5c under a trust anchor policy.
    let plain = ok(
        &[
            "issue", "--key", &leaf_jwk, "--claims", &claims, "--vct", VCT, "--now", NOW,
        ],
        "",
    );
    rejected(
        &["verify", "--trust-anchor", &root_pem, "--now", NOW],
        &plain,
        "key_mechanism_mismatch",
    );

    // Issuance refuses a key that is not the leaf's and an iss that is not in its SAN.
    let (other_key, _) = keypair(&d, "other");
    let args = issue("https://issuer.example.com", &other_key);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    rejected(&args, "", "key_alg_mismatch");
    let args = issue("https://other.example.com", &leaf_jwk);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    rejected(&args, "", "issuer_mismatch");
    // A chain file without certificates.
    let empty = d.write("empty.pem", "no certificates here\n");
    rejected(
        &[
            "issue", "--key", &leaf_jwk, "--claims", &claims, "--vct", VCT, "--x5c", &empty,
        ],
        "",
        "certificate_invalid",
    );
}

// ---------------------------------------------------------------------------------------
// JWT VC Issuer Metadata over HTTPS
// ---------------------------------------------------------------------------------------

/// Serves the issuer metadata of `https://127.0.0.1:PORT/tenant` (with `jwks`) and, at
/// `/other`, metadata that names the `tenant` issuer instead.
fn metadata_server(jwk: Value) -> Server {
    Server::start(move |path, port| {
        let tenant = format!("https://127.0.0.1:{port}/tenant");
        match path {
            "/.well-known/jwt-vc-issuer/tenant" | "/.well-known/jwt-vc-issuer/other" => {
                Reply::json(&json!({"issuer": tenant, "jwks": {"keys": [jwk]}}))
            }
            _ => Reply::status(404),
        }
    })
}

#[test]
fn issuer_metadata_over_https() {
    let d = Dir::new("metadata");
    let (key, key_pub) = keypair(&d, "issuer");
    let jwk: Value = serde_json::from_str(&read(&key_pub)).unwrap();
    let server = metadata_server(jwk);
    let ca = d.write(
        "ca.pem",
        &certificates_to_pem(std::slice::from_ref(&server.ca_der)),
    );
    let claims = claims_file(&d);
    let issue = |iss: &str| {
        ok(
            &[
                "issue", "--key", &key, "--claims", &claims, "--vct", VCT, "--iss", iss, "--now",
                NOW,
            ],
            "",
        )
    };
    let vc = issue(&server.url("/tenant"));
    let verify = [
        "verify",
        "--issuer-metadata",
        "--http-root",
        &ca,
        "--allow-internal-addresses",
        "--now",
        NOW,
    ];
    let v = ok_json(&verify, &vc);
    assert_eq!(v["given_name"], "Erika");
    assert_eq!(v["iss"], server.url("/tenant"));
    assert_eq!(server.hits("/.well-known/jwt-vc-issuer/tenant"), 1);

    // Without --allow-internal-addresses: refused before any request.
    let before = server.requests();
    rejected(
        &[
            "verify",
            "--issuer-metadata",
            "--http-root",
            &ca,
            "--now",
            NOW,
        ],
        &vc,
        "url_forbidden",
    );
    assert_eq!(server.requests(), before);
    // Without --http-root the test CA is not trusted.
    rejected(
        &[
            "verify",
            "--issuer-metadata",
            "--allow-internal-addresses",
            "--now",
            NOW,
        ],
        &vc,
        "fetch_failed",
    );
    // The metadata's issuer must be iss.
    let mismatch = issue(&server.url("/other"));
    rejected(&verify, &mismatch, "issuer_mismatch");
    // No metadata at all.
    let missing = issue(&server.url("/missing"));
    rejected(&verify, &missing, "http_status");
    // Signed by a key the metadata does not publish.
    let (other_key, _) = keypair(&d, "other");
    let forged = ok(
        &[
            "issue",
            "--key",
            &other_key,
            "--claims",
            &claims,
            "--vct",
            VCT,
            "--iss",
            &server.url("/tenant"),
            "--now",
            NOW,
        ],
        "",
    );
    rejected(&verify, &forged, "unknown_key");
    // One mechanism only.
    usage(
        &[
            "verify",
            "--issuer-metadata",
            "--issuer-key",
            &key_pub,
            "--now",
            NOW,
        ],
        &vc,
    );
}

// ---------------------------------------------------------------------------------------
// Type Metadata display
// ---------------------------------------------------------------------------------------

fn type_metadata(vct: &str) -> String {
    serde_json::to_string_pretty(&json!({
        "vct": vct,
        "name": "Test type",
        "display": [
            {"locale": "en-US", "name": "Test Credential", "description": "A test credential"},
            {"locale": "de-DE", "name": "Testnachweis", "description": "Ein Testnachweis"},
        ],
        "claims": [
            {"path": ["given_name"], "display": [
                {"locale": "en-US", "label": "Given name"},
                {"locale": "de-DE", "label": "Vorname"},
            ]},
            {"path": ["family_name"], "display": [
                {"locale": "en-US", "label": "Family name"},
                {"locale": "de-DE", "label": "Nachname"},
            ]},
        ],
    }))
    .unwrap()
}

#[test]
fn display_with_type_metadata() {
    let d = Dir::new("display");
    let (key, key_pub) = keypair(&d, "issuer");
    let claims = claims_file(&d);
    let tm = d.write("tm.json", &type_metadata(VCT));
    let issue = |vct: &str| {
        ok(
            &[
                "issue",
                "--key",
                &key,
                "--claims",
                &claims,
                "--vct",
                vct,
                "--iss",
                "https://issuer.example",
                "--sd",
                "/given_name",
                "--now",
                NOW,
            ],
            "",
        )
    };
    let vc = issue(VCT);
    let base = [
        "verify",
        "--issuer-key",
        &key_pub,
        "--display",
        "--type-metadata",
        &tm,
        "--now",
        NOW,
    ];
    let out = ok_json(&base, &vc);
    assert_eq!(out["vct"], VCT);
    assert_eq!(out["issuer"], "https://issuer.example");
    assert_eq!(out["display"]["name"], "Test Credential");
    assert_eq!(out["display"]["locale"], "en-US");
    assert_eq!(out["display"]["description"], "A test credential");
    assert_eq!(
        out["labels"],
        json!([
            {"claim": "/given_name", "label": "Given name", "value": "Erika"},
            {"claim": "/family_name", "label": "Family name", "value": "Mustermann"},
        ])
    );
    assert_eq!(out["claims"]["given_name"], "Erika");

    let mut de = base.to_vec();
    de.extend(["--locale", "de"]);
    let out = ok_json(&de, &vc);
    assert_eq!(out["display"]["name"], "Testnachweis");
    assert_eq!(out["display"]["locale"], "de-DE");
    assert_eq!(out["labels"][0]["label"], "Vorname");
    assert_eq!(out["labels"][1]["label"], "Nachname");
    // A locale without display data: the first entry.
    let mut fr = base.to_vec();
    fr.extend(["--locale", "fr-FR"]);
    assert_eq!(ok_json(&fr, &vc)["display"]["name"], "Test Credential");

    // Undisclosed claims have no label.
    let cred = d.write("cred", &vc);
    let pres = ok(&["present", "--credential", &cred], "");
    let out = ok_json(&base, &pres);
    assert_eq!(
        out["labels"],
        json!([{"claim": "/family_name", "label": "Family name", "value": "Mustermann"}])
    );

    // A type without metadata: --display requires it, --type-metadata alone does not.
    let unknown = issue("urn:example:nometa:1");
    rejected(&base, &unknown, "type_metadata_unavailable");
    rejected(
        &[
            "verify",
            "--issuer-key",
            &key_pub,
            "--display",
            "--now",
            NOW,
        ],
        &unknown,
        "type_metadata_unavailable",
    );
    let v = ok_json(
        &[
            "verify",
            "--issuer-key",
            &key_pub,
            "--type-metadata",
            &tm,
            "--now",
            NOW,
        ],
        &unknown,
    );
    assert_eq!(v["vct"], "urn:example:nometa:1");
    assert!(v.get("display").is_none());

    // Metadata whose sd rules the credential breaks.
    let strict = d.write(
        "strict.json",
        &json!({"vct": VCT, "claims": [{"path": ["given_name"], "sd": "never"}]}).to_string(),
    );
    rejected(
        &[
            "verify",
            "--issuer-key",
            &key_pub,
            "--type-metadata",
            &strict,
            "--now",
            NOW,
        ],
        &vc,
        "claim_metadata_violation",
    );
    // A broken metadata file.
    let broken = d.write("broken.json", r#"{"name": "no vct"}"#);
    rejected(
        &[
            "verify",
            "--issuer-key",
            &key_pub,
            "--type-metadata",
            &broken,
            "--now",
            NOW,
        ],
        &vc,
        "type_metadata_invalid",
    );

    // --issuer-key and --trust-anchor together: a usage error.
    let root = d.write("root.pem", &certificates_to_pem(&[root_ca("Root").der]));
    usage(
        &[
            "verify",
            "--issuer-key",
            &key_pub,
            "--trust-anchor",
            &root,
            "--display",
            "--type-metadata",
            &tm,
        ],
        &vc,
    );
}

// ---------------------------------------------------------------------------------------
// DID issuers
// ---------------------------------------------------------------------------------------

#[cfg(not(feature = "did"))]
#[test]
fn resolve_did_needs_the_did_feature() {
    let d = Dir::new("nodid");
    let (key, _) = keypair(&d, "issuer");
    let claims = claims_file(&d);
    let vc = ok(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--vct",
            VCT,
            "--iss",
            "did:example:123",
        ],
        "",
    );
    let err = usage(&["verify", "--resolve-did"], &vc);
    assert!(err.contains("did"), "{err}");
}

/// DID issuers through the CLI (run with `cargo test -p credkit-cli --features did`).
#[cfg(feature = "did")]
mod did {
    use super::*;

    /// A private JWK file whose `kid` is `kid` (the issuer JWT's `kid` names the DID's
    /// verification method).
    fn key_with_kid(d: &Dir, name: &str, private: &str, kid: &str) -> String {
        let mut jwk: Value = serde_json::from_str(&read(private)).unwrap();
        jwk["kid"] = kid.into();
        d.write(name, &jwk.to_string())
    }

    fn issue(key: &str, claims: &str, iss: &str) -> String {
        ok(
            &[
                "issue", "--key", key, "--claims", claims, "--vct", VCT, "--iss", iss, "--now", NOW,
            ],
            "",
        )
    }

    #[test]
    fn did_jwk_issuer() {
        let d = Dir::new("didjwk");
        let (key, key_pub) = keypair(&d, "issuer");
        let public = PublicJwk::parse(&read(&key_pub)).unwrap();
        let did = format!(
            "did:jwk:{}",
            credkit::b64::encode(Value::Object(public.minimal_json()).to_string().as_bytes())
        );
        let key = key_with_kid(&d, "did.jwk", &key, &format!("{did}#0"));
        let claims = claims_file(&d);
        let vc = issue(&key, &claims, &did);
        let v = ok_json(&["verify", "--resolve-did", "--now", NOW], &vc);
        assert_eq!(v["iss"], did);
        assert_eq!(v["given_name"], "Erika");
        // A DID issuer next to another mechanism for other issuers.
        ok(
            &[
                "verify",
                "--resolve-did",
                "--issuer-key",
                &key_pub,
                "--now",
                NOW,
            ],
            &vc,
        );
        // Another key claiming the DID.
        let (other, _) = keypair(&d, "other");
        let other = key_with_kid(&d, "other-did.jwk", &other, &format!("{did}#0"));
        rejected(
            &["verify", "--resolve-did", "--now", NOW],
            &issue(&other, &claims, &did),
            "invalid_signature",
        );
    }

    #[test]
    fn did_web_issuer() {
        let d = Dir::new("didweb");
        let (key, key_pub) = keypair(&d, "issuer");
        let public = PublicJwk::parse(&read(&key_pub)).unwrap();
        let jwk = Value::Object(public.minimal_json());
        let server = Server::start(move |path, port| {
            let did = format!("did:web:127.0.0.1%3A{port}");
            match path {
                "/.well-known/did.json" => Reply::json(&json!({
                    "id": did,
                    "verificationMethod": [{
                        "id": format!("{did}#k1"),
                        "type": "JsonWebKey2020",
                        "controller": did,
                        "publicKeyJwk": jwk,
                    }],
                    "assertionMethod": [format!("{did}#k1")],
                })),
                _ => Reply::status(404),
            }
        });
        let did = format!("did:web:127.0.0.1%3A{}", server.port);
        let ca = d.write(
            "ca.pem",
            &certificates_to_pem(std::slice::from_ref(&server.ca_der)),
        );
        let key = key_with_kid(&d, "did.jwk", &key, &format!("{did}#k1"));
        let claims = claims_file(&d);
        let vc = issue(&key, &claims, &did);
        let v = ok_json(
            &[
                "verify",
                "--resolve-did",
                "--http-root",
                &ca,
                "--allow-internal-addresses",
                "--now",
                NOW,
            ],
            &vc,
        );
        assert_eq!(v["iss"], did);
        assert_eq!(server.hits("/.well-known/did.json"), 1);
        rejected(
            &["verify", "--resolve-did", "--http-root", &ca, "--now", NOW],
            &vc,
            "url_forbidden",
        );
    }
}

// ---------------------------------------------------------------------------------------
// Legacy typ vc+sd-jwt
// ---------------------------------------------------------------------------------------

#[test]
fn legacy_typ_is_accepted_only_on_request() {
    let d = Dir::new("legacy");
    let (key, key_pub) = keypair(&d, "issuer");
    let claims = d.write(
        "claims.json",
        r#"{"iss":"https://issuer.example","vct":"urn:example:legacy:1","given_name":"Erika"}"#,
    );
    let legacy = ok(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--typ",
            "vc+sd-jwt",
            "--sd",
            "/given_name",
        ],
        "",
    );
    assert_eq!(ok_json(&["decode"], &legacy)["header"]["typ"], "vc+sd-jwt");
    let verify = [
        "verify",
        "--issuer-key",
        &key_pub,
        "--expect-vct",
        "urn:example:legacy:1",
    ];
    rejected(&verify, &legacy, "typ_mismatch");
    let mut with_legacy = verify.to_vec();
    with_legacy.push("--legacy-typ");
    let v = ok_json(&with_legacy, &legacy);
    assert_eq!(v["given_name"], "Erika");
    assert_eq!(v["vct"], "urn:example:legacy:1");
    // --legacy-typ alone (no other VC option) also selects the VC verifier.
    ok(
        &["verify", "--issuer-key", &key_pub, "--legacy-typ"],
        &legacy,
    );
    // A plain SD-JWT typ is neither.
    let plain = ok(&["issue", "--key", &key, "--claims", &claims], "");
    rejected(&with_legacy, &plain, "typ_mismatch");
    // In plain SD-JWT mode (no VC option) the token is an SD-JWT like any other.
    let v = ok_json(&["verify", "--issuer-key", &key_pub], &plain);
    assert_eq!(v["vct"], "urn:example:legacy:1");
}

#[test]
fn a_token_that_says_dc_sd_jwt_gets_the_vc_rules_without_flags() {
    let d = Dir::new("autovc");
    let (key, key_pub) = keypair(&d, "issuer");
    let claims = d.write(
        "claims.json",
        r#"{"iss":"https://issuer.example","vct":"urn:example:auto:1","given_name":"Erika"}"#,
    );
    // The plain SD-JWT path lets vct become disclosable; the verifier still says no.
    let bad = ok(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--typ",
            "dc+sd-jwt",
            "--sd",
            "/vct",
        ],
        "",
    );
    rejected(
        &["verify", "--issuer-key", &key_pub],
        &bad,
        "claim_selectively_disclosed",
    );
    // A legacy typ is refused unless asked for, also without other flags.
    let legacy = ok(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--typ",
            "vc+sd-jwt",
        ],
        "",
    );
    rejected(
        &["verify", "--issuer-key", &key_pub],
        &legacy,
        "typ_mismatch",
    );
    // A well-formed one verifies.
    let good = ok(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--typ",
            "dc+sd-jwt",
            "--sd",
            "/given_name",
        ],
        "",
    );
    let v = ok_json(&["verify", "--issuer-key", &key_pub], &good);
    assert_eq!(v["vct"], "urn:example:auto:1");
}

#[test]
fn expect_iss_is_an_issuer_allowlist() {
    let d = Dir::new("expectiss");
    let (key, key_pub) = keypair(&d, "issuer");
    let claims = d.write("claims.json", r#"{"given_name":"Erika"}"#);
    let vc = ok(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--vct",
            "urn:example:t:1",
            "--iss",
            "https://issuer.example",
        ],
        "",
    );
    ok(
        &[
            "verify",
            "--issuer-key",
            &key_pub,
            "--expect-iss",
            "https://issuer.example",
        ],
        &vc,
    );
    rejected(
        &[
            "verify",
            "--issuer-key",
            &key_pub,
            "--expect-iss",
            "https://other.example",
        ],
        &vc,
        "untrusted_issuer",
    );
}
