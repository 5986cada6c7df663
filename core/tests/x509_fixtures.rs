//! ATTACKS X5C-08: certificates signed with RSA or SHA-1 are refused; the same leaf signed
//! with ECDSA / SHA-256 by the same root validates (fixtures in test-vectors/x509).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;

use credkit::crypto::all_providers;
use credkit::x509::{ChainPolicy, TrustAnchors, certificates_from_pem, validate_chain};

/// 2027-01-01: inside every fixture's validity.
const AT: i64 = 1_798_761_600;

fn pem(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../test-vectors/x509")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

fn check(root: &str, leaf: &str) -> Result<(), String> {
    let mut anchors = TrustAnchors::new();
    anchors
        .add_pem(&pem(root))
        .map_err(|e| e.code().to_owned())?;
    let chain = certificates_from_pem(&pem(leaf)).unwrap();
    let mut last = Ok(());
    for provider in all_providers() {
        let r = validate_chain(&chain, &anchors, AT, &ChainPolicy::default(), provider);
        last = r
            .map(|v| assert_eq!(v.dns_names, ["issuer.example.com"]))
            .map_err(|e| e.code().to_owned());
    }
    last
}

#[test]
fn ecdsa_sha256_control_validates() {
    check("sha1-root.pem", "sha256-signed-leaf.pem").unwrap();
}

#[test]
fn sha1_signature_is_refused() {
    assert_eq!(
        check("sha1-root.pem", "sha1-signed-leaf.pem").unwrap_err(),
        "certificate_usage"
    );
}

#[test]
fn rsa_signature_is_refused() {
    assert_eq!(
        check("rsa-root.pem", "rsa-signed-leaf.pem").unwrap_err(),
        "certificate_usage"
    );
}

#[test]
fn every_fixture_is_exercised() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/x509");
    let mut pems: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pem"))
        .collect();
    pems.sort();
    assert_eq!(
        pems,
        [
            "rsa-root.pem",
            "rsa-signed-leaf.pem",
            "sha1-root.pem",
            "sha1-signed-leaf.pem",
            "sha256-signed-leaf.pem"
        ]
    );
}
