//! SD-JWT VC issuers identified by an `x5c` certificate chain (draft-ietf-oauth-sd-jwt-vc-18
//! §2.5, RFC 7515 §4.1.6): ATTACKS.md section J (X5C-01 … X5C-07) and rows VC-03, VC-04,
//! HDR-16 and KEY-07.
//!
//! Every chain is made here with rcgen (root → intermediate → leaf, P-256 unless a test says
//! otherwise, valid 2024-01-01 … 2030-01-01, checked at a fixed time in 2026). The leaf's key
//! becomes a credkit signer, so each malicious token is signed by the real leaf key where
//! possible and only the rule under test can fail; the exact stable error code is asserted.
//! Tokens that `VcBuilder` would refuse to issue are crafted with `SdJwtBuilder`.
//!
//! X5C-08 (RSA / SHA-1 certificates, which rcgen on ring cannot make) is covered by committed
//! fixtures in `tests/x509_fixtures.rs`. Not covered: X5C-09 (revocation is not implemented).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]
#![allow(missing_docs)]

use std::sync::Arc;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use credkit::crypto::{Signer, all_providers, default_provider};
use credkit::http::{FetchPolicy, Fetcher, HttpClient, HttpResponse, HttpsUrl};
use credkit::jose::{Algorithm, Curve, PrivateJwk, PublicJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{SdJwtBuilder, Serialization, StaticIssuerKeys, danger};
use credkit::sd_jwt_vc::{
    IssuerBinding, IssuerMetadataTrust, IssuerTrust, TrustPolicy, VcBuilder, VcVerifier, Vct,
    VerifiedVc, X5cTrust,
};
use credkit::time::FixedClock;
use credkit::x509::TrustAnchors;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384, PKCS_ED25519, SanType, SignatureAlgorithm,
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600;
const ISS: &str = "https://issuer.example.com";
const DNS: &str = "issuer.example.com";
const VCT: &str = "https://credentials.example.com/identity_credential";
/// An ISO 18013-5 style document-signer EKU.
const DS_EKU: &str = "1.0.18013.5.1.2";

type Alg = &'static SignatureAlgorithm;

struct Ca {
    der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

struct Leaf {
    der: Vec<u8>,
    key: KeyPair,
}

/// A three-level PKI: `root` is the trust anchor, the token carries `[leaf, int]`.
struct Pki {
    root: Ca,
    int: Ca,
    leaf: Leaf,
}

impl Pki {
    fn chain(&self) -> Vec<Vec<u8>> {
        vec![self.leaf.der.clone(), self.int.der.clone()]
    }

    fn signer(&self) -> Arc<dyn Signer> {
        signer_for(&self.leaf.key)
    }

    fn trust(&self) -> X5cTrust {
        x5c_trust(&[&self.root.der])
    }
}

fn base_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2030, 1, 1);
    p
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = base_params(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn leaf_params() -> CertificateParams {
    let mut p = base_params("Test Issuer");
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.subject_alt_names = vec![SanType::DnsName(DNS.try_into().unwrap())];
    p
}

fn self_signed_ca(params: CertificateParams, alg: Alg) -> Ca {
    let key = KeyPair::generate_for(alg).unwrap();
    let der = params.self_signed(&key).unwrap().der().to_vec();
    Ca {
        der,
        issuer: Issuer::new(params, key),
    }
}

fn sub_ca(params: CertificateParams, alg: Alg, parent: &Ca) -> Ca {
    let key = KeyPair::generate_for(alg).unwrap();
    let der = params
        .signed_by(&key, &parent.issuer)
        .unwrap()
        .der()
        .to_vec();
    Ca {
        der,
        issuer: Issuer::new(params, key),
    }
}

fn leaf_cert(params: &CertificateParams, alg: Alg, parent: &Ca) -> Leaf {
    let key = KeyPair::generate_for(alg).unwrap();
    let der = params
        .signed_by(&key, &parent.issuer)
        .unwrap()
        .der()
        .to_vec();
    Leaf { der, key }
}

fn pki_custom(
    int_params: CertificateParams,
    leaf_params: &CertificateParams,
    ca_alg: Alg,
    leaf_alg: Alg,
) -> Pki {
    let root = self_signed_ca(ca_params("Test Root CA"), ca_alg);
    let int = sub_ca(int_params, ca_alg, &root);
    let leaf = leaf_cert(leaf_params, leaf_alg, &int);
    Pki { root, int, leaf }
}

fn pki_with_leaf(leaf_params: &CertificateParams) -> Pki {
    pki_custom(
        ca_params("Test Intermediate CA"),
        leaf_params,
        &PKCS_ECDSA_P256_SHA256,
        &PKCS_ECDSA_P256_SHA256,
    )
}

fn pki_with_int(int_params: CertificateParams) -> Pki {
    pki_custom(
        int_params,
        &leaf_params(),
        &PKCS_ECDSA_P256_SHA256,
        &PKCS_ECDSA_P256_SHA256,
    )
}

fn pki() -> Pki {
    pki_with_leaf(&leaf_params())
}

/// The rcgen key as a credkit signer: the public point from `public_key_raw`, the private
/// scalar / seed from ring's PKCS#8 (the first `OCTET STRING` of the coordinate length).
fn signer_for(key: &KeyPair) -> Arc<dyn Signer> {
    let raw = key.public_key_raw();
    let public = match raw.len() {
        32 => PublicJwk::from_coordinates(Curve::Ed25519, raw.to_vec(), None).unwrap(),
        n => {
            let (curve, len) = match n {
                65 => (Curve::P256, 32),
                97 => (Curve::P384, 48),
                _ => panic!("unexpected public key length {n}"),
            };
            assert_eq!(raw[0], 4);
            PublicJwk::from_coordinates(curve, raw[1..=len].to_vec(), Some(raw[1 + len..].to_vec()))
                .unwrap()
        }
    };
    let len = public.curve().coordinate_len();
    let pkcs8 = key.serialize_der();
    let tag = [0x04, u8::try_from(len).unwrap()];
    let at = pkcs8.windows(2).position(|w| w == tag).unwrap() + 2;
    let d = Zeroizing::new(pkcs8[at..at + len].to_vec());
    let jwk = PrivateJwk::from_parts(public, d).unwrap();
    // The provider checks that `d` belongs to the public key.
    default_provider().signer(&jwk).unwrap()
}

fn anchors(roots: &[&[u8]]) -> TrustAnchors {
    let mut a = TrustAnchors::new();
    for r in roots {
        a.add_der(r).unwrap();
    }
    a
}

fn x5c_trust(roots: &[&[u8]]) -> X5cTrust {
    X5cTrust::new(anchors(roots)).clock(Arc::new(FixedClock(NOW)))
}

fn verifier(trust: Arc<dyn IssuerTrust>) -> VcVerifier {
    VcVerifier::builder_with_clock(trust, Arc::new(FixedClock(NOW)))
        .key_binding(danger::key_binding_optional())
        .build()
        .unwrap()
}

fn verify(trust: X5cTrust, token: &str) -> credkit::Result<VerifiedVc> {
    verifier(Arc::new(trust)).verify(token)
}

fn subject_claims() -> Map<String, Value> {
    json!({"given_name": "Erika", "family_name": "Mustermann"})
        .as_object()
        .cloned()
        .unwrap()
}

fn vc(iss: Option<&str>) -> VcBuilder {
    let b = VcBuilder::new(Vct::new(VCT).unwrap(), subject_claims())
        .issued_at(NOW - 60)
        .disclose("/given_name")
        .unwrap();
    match iss {
        Some(i) => b.issuer(i),
        None => b,
    }
}

/// A credential issued by `VcBuilder` with `x5c = chain`, signed by `signer`.
fn issue_with(
    iss: Option<&str>,
    chain: Vec<Vec<u8>>,
    signer: &dyn Signer,
) -> credkit::Result<String> {
    Ok(vc(iss).x5c(chain).issue(signer, &OsRandom)?.to_string())
}

fn issue(pki: &Pki, iss: Option<&str>) -> String {
    issue_with(iss, pki.chain(), &*pki.signer()).unwrap()
}

fn b64(der: &[u8]) -> String {
    Base64::encode_string(der)
}

fn x5c_value(certs: &[&[u8]]) -> Value {
    certs.iter().map(|c| Value::from(b64(c))).collect()
}

fn vc_payload(iss: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(i) = iss {
        m.insert("iss".into(), i.into());
    }
    m.insert("vct".into(), VCT.into());
    m.insert("iat".into(), (NOW - 60).into());
    m.insert("given_name".into(), "Erika".into());
    m
}

/// An SD-JWT VC crafted without `VcBuilder`'s issuer-side checks: `typ` `dc+sd-jwt`, the
/// given protected header parameters, signed by `signer`.
fn craft(iss: Option<&str>, header: &[(&str, Value)], signer: &dyn Signer) -> String {
    let mut b = SdJwtBuilder::new(vc_payload(iss)).typ(Some("dc+sd-jwt"));
    for (name, value) in header {
        b = b.header(name, value.clone());
    }
    b.issue(signer, &OsRandom).unwrap().to_string()
}

/// `craft` with `x5c` = the given entries, signed by the PKI's leaf key.
fn craft_x5c(pki: &Pki, iss: Option<&str>, x5c: Value) -> String {
    craft(iss, &[("x5c", x5c)], &*pki.signer())
}

#[track_caller]
fn code<T: std::fmt::Debug>(r: credkit::Result<T>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e.code(),
    }
}

#[track_caller]
fn x509_binding(v: &VerifiedVc) -> &credkit::x509::ValidatedChain {
    match &v.binding {
        IssuerBinding::X509(c) => c,
        other => panic!("expected an X509 binding, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Valid chains
// ---------------------------------------------------------------------------------------------

#[test]
fn valid_chain_verifies_and_binds_the_leaf() {
    let pki = pki();
    let token = issue(&pki, Some(ISS));
    let v = verify(pki.trust(), &token).unwrap();
    assert_eq!(v.issuer.as_deref(), Some(ISS));
    assert_eq!(v.vct.as_str(), VCT);
    assert_eq!(v.claims()["given_name"], "Erika");
    assert_eq!(v.claims()["family_name"], "Mustermann");
    assert_eq!(v.claims()["iss"], ISS);
    let chain = x509_binding(&v);
    assert_eq!(chain.dns_names, vec![DNS.to_owned()]);
    assert!(chain.uris.is_empty());
    assert_eq!(chain.certificates, pki.chain());
    assert_eq!(&chain.leaf_key, pki.signer().public_jwk());
    assert!(chain.subject.contains("Test Issuer"), "{}", chain.subject);
    // The x5c is in the protected header, as issued.
    assert_eq!(
        v.sd_jwt.header["x5c"],
        x5c_value(&[&pki.leaf.der, &pki.int.der])
    );

    // The wallet's side of issuance sees the same binding.
    let received = verifier(Arc::new(pki.trust())).receive(&token).unwrap();
    assert_eq!(x509_binding(&received.verified).dns_names, vec![DNS]);
}

#[test]
fn valid_chain_on_every_provider() {
    let pki = pki();
    let token = issue(&pki, Some(ISS));
    for p in all_providers() {
        let trust = Arc::new(pki.trust().provider(p));
        let v = VcVerifier::builder_with_clock(trust, Arc::new(FixedClock(NOW)))
            .key_binding(danger::key_binding_optional())
            .sd_jwt(|b| b.provider(p))
            .build()
            .unwrap()
            .verify(&token)
            .unwrap_or_else(|e| panic!("{}: {e}", p.name()));
        assert_eq!(x509_binding(&v).dns_names, vec![DNS], "{}", p.name());
    }
}

#[test]
fn valid_chain_through_a_trust_policy() {
    let pki = pki();
    let token = issue(&pki, Some(ISS));
    let policy = TrustPolicy::new().issuer(ISS, Arc::new(pki.trust()));
    let v = verifier(Arc::new(policy)).verify(&token).unwrap();
    assert_eq!(x509_binding(&v).dns_names, vec![DNS]);
}

#[test]
fn valid_chain_in_json_serialization() {
    let pki = pki();
    let token = vc(Some(ISS))
        .x5c(pki.chain())
        .serialization(Serialization::Flattened)
        .issue(&*pki.signer(), &OsRandom)
        .unwrap()
        .to_string();
    assert!(token.starts_with('{'));
    let v = verify(pki.trust(), &token).unwrap();
    assert_eq!(x509_binding(&v).certificates, pki.chain());
}

#[test]
fn absent_iss_is_named_by_the_leaf() {
    let pki = pki();
    let token = issue(&pki, None);
    let v = verify(pki.trust(), &token).unwrap();
    assert_eq!(v.issuer, None);
    assert!(!v.claims().contains_key("iss"));
    assert_eq!(x509_binding(&v).dns_names, vec![DNS]);

    // Through a policy, a credential without iss goes to the fallback ...
    let policy = TrustPolicy::new().otherwise(Arc::new(pki.trust()));
    let v = verifier(Arc::new(policy)).verify(&token).unwrap();
    assert_eq!(x509_binding(&v).dns_names, vec![DNS]);
    // ... and without a fallback it is untrusted.
    let policy = TrustPolicy::new().issuer(ISS, Arc::new(pki.trust()));
    assert_eq!(
        code(verifier(Arc::new(policy)).verify(&token)),
        "untrusted_issuer"
    );
}

#[test]
fn https_iss_host_with_port_path_and_other_case_matches_the_dns_san() {
    let pki = pki();
    for iss in [
        "https://issuer.example.com/",
        "https://issuer.example.com/tenant/42",
        "https://issuer.example.com:8443/tenant",
        "https://ISSUER.Example.COM",
        "https://issuer.example.com?x=1",
    ] {
        let token = issue(&pki, Some(iss));
        let v = verify(pki.trust(), &token).unwrap_or_else(|e| panic!("{iss}: {e}"));
        assert_eq!(v.issuer.as_deref(), Some(iss));
    }
}

#[test]
fn root_in_x5c_is_ignored_when_it_is_also_an_anchor() {
    let pki = pki();
    let chain = vec![
        pki.leaf.der.clone(),
        pki.int.der.clone(),
        pki.root.der.clone(),
    ];
    let token = issue_with(Some(ISS), chain.clone(), &*pki.signer()).unwrap();
    let v = verify(pki.trust(), &token).unwrap();
    assert_eq!(x509_binding(&v).certificates, chain);
}

#[test]
fn leaf_signed_directly_by_the_anchor() {
    let root = self_signed_ca(ca_params("Test Root CA"), &PKCS_ECDSA_P256_SHA256);
    let leaf = leaf_cert(&leaf_params(), &PKCS_ECDSA_P256_SHA256, &root);
    let token = issue_with(Some(ISS), vec![leaf.der.clone()], &*signer_for(&leaf.key)).unwrap();
    let v = verify(x5c_trust(&[&root.der]), &token).unwrap();
    assert_eq!(x509_binding(&v).certificates, vec![leaf.der]);
}

#[test]
fn five_certificates_is_the_longest_chain() {
    // root → i1 → i2 → i3 → i4 → leaf: x5c = [leaf, i4, i3, i2, i1].
    let alg = &PKCS_ECDSA_P256_SHA256;
    let root = self_signed_ca(ca_params("Root"), alg);
    let i1 = sub_ca(ca_params("I1"), alg, &root);
    let i2 = sub_ca(ca_params("I2"), alg, &i1);
    let i3 = sub_ca(ca_params("I3"), alg, &i2);
    let i4 = sub_ca(ca_params("I4"), alg, &i3);
    let leaf = leaf_cert(&leaf_params(), alg, &i4);
    let chain = vec![
        leaf.der.clone(),
        i4.der.clone(),
        i3.der.clone(),
        i2.der.clone(),
        i1.der.clone(),
    ];
    let signer = signer_for(&leaf.key);
    let token = issue_with(Some(ISS), chain.clone(), &*signer).unwrap();
    let v = verify(x5c_trust(&[&root.der]), &token).unwrap();
    assert_eq!(x509_binding(&v).certificates.len(), 5);

    // One more certificate (the root) is over the limit.
    let mut six: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
    six.push(&root.der);
    let token = craft(Some(ISS), &[("x5c", x5c_value(&six))], &*signer);
    assert_eq!(
        code(verify(x5c_trust(&[&root.der]), &token)),
        "certificate_invalid"
    );
}

#[test]
fn leaf_without_key_usage_extension_is_unrestricted() {
    let mut p = leaf_params();
    p.key_usages = Vec::new();
    let pki = pki_with_leaf(&p);
    let token = issue(&pki, Some(ISS));
    verify(pki.trust(), &token).unwrap();
}

#[test]
fn matching_x5t_s256_is_accepted() {
    let pki = pki();
    let thumb = Base64UrlUnpadded::encode_string(&Sha256::digest(&pki.leaf.der));
    let token = craft(
        Some(ISS),
        &[
            ("x5c", x5c_value(&[&pki.leaf.der, &pki.int.der])),
            ("x5t#S256", thumb.into()),
        ],
        &*pki.signer(),
    );
    verify(pki.trust(), &token).unwrap();
}

#[test]
fn kid_does_not_select_another_key_under_x5c() {
    // HDR-16: with the x5c mechanism the key is the leaf's; a kid changes nothing.
    let pki = pki();
    let token = craft(
        Some(ISS),
        &[
            ("x5c", x5c_value(&[&pki.leaf.der, &pki.int.der])),
            ("kid", "some-other-key".into()),
        ],
        &*pki.signer(),
    );
    let v = verify(pki.trust(), &token).unwrap();
    assert_eq!(&x509_binding(&v).leaf_key, pki.signer().public_jwk());
}

// ---------------------------------------------------------------------------------------------
// iss ↔ subjectAltName (VC-03, X5C-05)
// ---------------------------------------------------------------------------------------------

fn uri_leaf_params(uri: &str) -> CertificateParams {
    let mut p = leaf_params();
    p.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap())];
    p
}

#[test]
fn non_https_iss_matches_a_uri_san() {
    let pki = pki_with_leaf(&uri_leaf_params("urn:example:issuer"));
    let token = issue(&pki, Some("urn:example:issuer"));
    let v = verify(pki.trust(), &token).unwrap();
    let chain = x509_binding(&v);
    assert_eq!(chain.uris, vec!["urn:example:issuer"]);
    assert!(chain.dns_names.is_empty());
}

#[test]
fn non_https_iss_not_in_the_uri_sans_is_refused() {
    let pki = pki_with_leaf(&uri_leaf_params("urn:example:issuer"));
    // The issuer refuses to sign it ...
    assert_eq!(
        code(issue_with(
            Some("urn:example:other"),
            pki.chain(),
            &*pki.signer()
        )),
        "issuer_mismatch"
    );
    // ... and the verifier refuses a crafted one, exact match only.
    for iss in [
        "urn:example:other",
        "urn:example:issuer2",
        "urn:example:ISSUER",
        "urn:example:issuer ",
    ] {
        let token = craft_x5c(&pki, Some(iss), x5c_value(&[&pki.leaf.der, &pki.int.der]));
        assert_eq!(
            code(verify(pki.trust(), &token)),
            "issuer_mismatch",
            "{iss}"
        );
    }
}

#[test]
fn only_https_and_dns_iss_match_a_dns_san() {
    let pki = pki();
    for iss in ["http://issuer.example.com", "issuer.example.com"] {
        let token = craft_x5c(&pki, Some(iss), x5c_value(&[&pki.leaf.der, &pki.int.der]));
        assert_eq!(
            code(verify(pki.trust(), &token)),
            "issuer_mismatch",
            "{iss}"
        );
    }
    // A DNS URI (RFC 4501) names the host itself: it matches the dNSName.
    let token = craft_x5c(
        &pki,
        Some("dns:issuer.example.com"),
        x5c_value(&[&pki.leaf.der, &pki.int.der]),
    );
    verify(pki.trust(), &token).unwrap();
    let token = craft_x5c(
        &pki,
        Some("dns:other.example.com"),
        x5c_value(&[&pki.leaf.der, &pki.int.der]),
    );
    assert_eq!(code(verify(pki.trust(), &token)), "issuer_mismatch");
}

#[test]
fn https_iss_not_in_the_dns_sans_is_refused() {
    let pki = pki();
    // Issuer side: VcBuilder refuses to sign.
    assert_eq!(
        code(issue_with(
            Some("https://evil.example.com"),
            pki.chain(),
            &*pki.signer()
        )),
        "issuer_mismatch"
    );
    // Positive control for the crafted path.
    let ok = craft_x5c(&pki, Some(ISS), x5c_value(&[&pki.leaf.der, &pki.int.der]));
    verify(pki.trust(), &ok).unwrap();
    // Verifier side.
    for iss in [
        "https://evil.example.com",
        "https://example.com",
        "https://sub.issuer.example.com",
        "https://issuer.example.com.evil.example",
        "https://issuer.example.com@evil.example",
        "https://evil.example/issuer.example.com",
        "https://evil.example#issuer.example.com",
        "https://evil.example?issuer.example.com",
        "https://",
        "https:///issuer.example.com",
    ] {
        let token = craft_x5c(&pki, Some(iss), x5c_value(&[&pki.leaf.der, &pki.int.der]));
        assert_eq!(
            code(verify(pki.trust(), &token)),
            "issuer_mismatch",
            "{iss}"
        );
    }
}

#[test]
fn https_iss_matches_a_dns_san_or_an_exact_uri_san() {
    // An https iss equal to a URI SAN entry is bound to the leaf too (earlier drafts, HAIP).
    let pki = pki_with_leaf(&uri_leaf_params(ISS));
    let token = craft_x5c(&pki, Some(ISS), x5c_value(&[&pki.leaf.der, &pki.int.der]));
    verify(pki.trust(), &token).unwrap();
    // ... but only exactly: another path on the same host is not.
    let other = format!("{ISS}/other");
    let token = craft_x5c(
        &pki,
        Some(&other),
        x5c_value(&[&pki.leaf.der, &pki.int.der]),
    );
    assert_eq!(code(verify(pki.trust(), &token)), "issuer_mismatch");
}

#[test]
fn non_string_iss_is_refused() {
    let pki = pki();
    let mut payload = vc_payload(None);
    payload.insert("iss".into(), json!(["https://issuer.example.com"]));
    let token = SdJwtBuilder::new(payload)
        .typ(Some("dc+sd-jwt"))
        .header("x5c", x5c_value(&[&pki.leaf.der, &pki.int.der]))
        .issue(&*pki.signer(), &OsRandom)
        .unwrap()
        .to_string();
    assert_eq!(code(verify(pki.trust(), &token)), "claim_invalid");
}

// ---------------------------------------------------------------------------------------------
// Validity (X5C-03)
// ---------------------------------------------------------------------------------------------

#[test]
fn expired_leaf() {
    let mut p = leaf_params();
    p.not_after = rcgen::date_time_ymd(2025, 6, 1);
    let pki = pki_with_leaf(&p);
    let token = issue(&pki, Some(ISS));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_expired");
}

#[test]
fn expired_intermediate() {
    let mut p = ca_params("Test Intermediate CA");
    p.not_after = rcgen::date_time_ymd(2025, 6, 1);
    let pki = pki_with_int(p);
    let token = issue(&pki, Some(ISS));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_expired");
}

#[test]
fn leaf_not_yet_valid() {
    let mut p = leaf_params();
    p.not_before = rcgen::date_time_ymd(2027, 1, 1);
    let pki = pki_with_leaf(&p);
    let token = issue(&pki, Some(ISS));
    assert_eq!(
        code(verify(pki.trust(), &token)),
        "certificate_not_yet_valid"
    );
}

#[test]
fn intermediate_not_yet_valid() {
    let mut p = ca_params("Test Intermediate CA");
    p.not_before = rcgen::date_time_ymd(2027, 1, 1);
    let pki = pki_with_int(p);
    let token = issue(&pki, Some(ISS));
    assert_eq!(
        code(verify(pki.trust(), &token)),
        "certificate_not_yet_valid"
    );
}

#[test]
fn validity_follows_the_configured_clock() {
    let pki = pki();
    let token = issue(&pki, Some(ISS));
    // 2031-01-01: everything expired.
    let later = pki.trust().clock(Arc::new(FixedClock(1_924_992_000)));
    assert_eq!(code(verify(later, &token)), "certificate_expired");
    // 2023-01-01: nothing valid yet.
    let earlier = pki.trust().clock(Arc::new(FixedClock(1_672_531_200)));
    assert_eq!(code(verify(earlier, &token)), "certificate_not_yet_valid");
}

// ---------------------------------------------------------------------------------------------
// Trust anchors (X5C-01, X5C-02)
// ---------------------------------------------------------------------------------------------

#[test]
fn chain_to_an_unknown_root() {
    let pki = pki();
    let other = self_signed_ca(ca_params("Other Root CA"), &PKCS_ECDSA_P256_SHA256);
    let token = issue(&pki, Some(ISS));
    assert_eq!(
        code(verify(x5c_trust(&[&other.der]), &token)),
        "untrusted_chain"
    );
}

#[test]
fn chain_to_a_root_that_impersonates_the_anchor_name() {
    // The attacker's root has the trusted root's subject name but its own key.
    let pki = pki();
    let fake = pki_custom(
        ca_params("Test Intermediate CA"),
        &leaf_params(),
        &PKCS_ECDSA_P256_SHA256,
        &PKCS_ECDSA_P256_SHA256,
    );
    let token = issue(&fake, Some(ISS));
    assert_eq!(code(verify(pki.trust(), &token)), "untrusted_chain");
    // With the fake root in the token too.
    let x5c = x5c_value(&[&fake.leaf.der, &fake.int.der, &fake.root.der]);
    let token = craft_x5c(&fake, Some(ISS), x5c);
    assert_eq!(code(verify(pki.trust(), &token)), "untrusted_chain");
}

#[test]
fn missing_intermediate() {
    let pki = pki();
    let token = issue_with(Some(ISS), vec![pki.leaf.der.clone()], &*pki.signer()).unwrap();
    assert_eq!(code(verify(pki.trust(), &token)), "untrusted_chain");
}

#[test]
fn root_carried_in_the_token_is_not_an_anchor() {
    let pki = pki();
    let other = self_signed_ca(ca_params("Other Root CA"), &PKCS_ECDSA_P256_SHA256);
    let chain = vec![
        pki.leaf.der.clone(),
        pki.int.der.clone(),
        pki.root.der.clone(),
    ];
    let token = issue_with(Some(ISS), chain, &*pki.signer()).unwrap();
    assert_eq!(
        code(verify(x5c_trust(&[&other.der]), &token)),
        "untrusted_chain"
    );
}

#[test]
fn self_signed_leaf() {
    let pki = pki();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let der = leaf_params().self_signed(&key).unwrap().der().to_vec();
    let token = issue_with(Some(ISS), vec![der.clone()], &*signer_for(&key)).unwrap();
    assert_eq!(code(verify(pki.trust(), &token)), "untrusted_chain");
    // Also when the trusted chain's intermediate is appended.
    let token = issue_with(
        Some(ISS),
        vec![der, pki.int.der.clone()],
        &*signer_for(&key),
    )
    .unwrap();
    assert_eq!(code(verify(pki.trust(), &token)), "untrusted_chain");
}

#[test]
fn no_anchor_configured() {
    let pki = pki();
    let token = issue(&pki, Some(ISS));
    let trust = X5cTrust::new(TrustAnchors::new()).clock(Arc::new(FixedClock(NOW)));
    assert_eq!(code(verify(trust, &token)), "untrusted_chain");
}

#[test]
fn leaf_presented_with_a_foreign_intermediate() {
    // The leaf is under the trusted root's intermediate, but the token carries an
    // intermediate of another CA with the same name.
    let pki = pki();
    let other = pki_with_leaf(&leaf_params());
    let token = issue_with(
        Some(ISS),
        vec![pki.leaf.der.clone(), other.int.der.clone()],
        &*pki.signer(),
    )
    .unwrap();
    assert_eq!(code(verify(pki.trust(), &token)), "untrusted_chain");
}

// ---------------------------------------------------------------------------------------------
// basicConstraints, keyUsage, EKU (X5C-06)
// ---------------------------------------------------------------------------------------------

#[test]
fn intermediate_without_basic_constraints() {
    let mut p = ca_params("Test Intermediate CA");
    p.is_ca = IsCa::NoCa;
    let pki = pki_with_int(p);
    let token = issue(&pki, Some(ISS));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_usage");
}

#[test]
fn intermediate_with_ca_false() {
    let mut p = ca_params("Test Intermediate CA");
    p.is_ca = IsCa::ExplicitNoCa;
    let pki = pki_with_int(p);
    let token = issue(&pki, Some(ISS));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_usage");
}

#[test]
fn path_length_exceeded() {
    // root → i1 (pathLen 0) → i2 → leaf.
    let alg = &PKCS_ECDSA_P256_SHA256;
    let root = self_signed_ca(ca_params("Root"), alg);
    let mut p1 = ca_params("I1");
    p1.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let i1 = sub_ca(p1, alg, &root);
    let i2 = sub_ca(ca_params("I2"), alg, &i1);
    let leaf = leaf_cert(&leaf_params(), alg, &i2);
    let chain = vec![leaf.der.clone(), i2.der.clone(), i1.der.clone()];
    let token = issue_with(Some(ISS), chain, &*signer_for(&leaf.key)).unwrap();
    assert_eq!(
        code(verify(x5c_trust(&[&root.der]), &token)),
        "certificate_usage"
    );

    // Control: pathLen 1 allows the second intermediate.
    let mut p1 = ca_params("I1");
    p1.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    let i1 = sub_ca(p1, alg, &root);
    let i2 = sub_ca(ca_params("I2"), alg, &i1);
    let leaf = leaf_cert(&leaf_params(), alg, &i2);
    let chain = vec![leaf.der.clone(), i2.der.clone(), i1.der.clone()];
    let token = issue_with(Some(ISS), chain, &*signer_for(&leaf.key)).unwrap();
    verify(x5c_trust(&[&root.der]), &token).unwrap();
}

#[test]
fn leaf_that_is_a_ca() {
    let mut p = leaf_params();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    let pki = pki_with_leaf(&p);
    let token = issue(&pki, Some(ISS));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_usage");
}

#[test]
fn leaf_without_digital_signature_key_usage() {
    let mut p = leaf_params();
    p.key_usages = vec![KeyUsagePurpose::KeyAgreement];
    let pki = pki_with_leaf(&p);
    let token = issue(&pki, Some(ISS));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_usage");
}

#[test]
fn intermediate_without_key_cert_sign() {
    let mut p = ca_params("Test Intermediate CA");
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    let pki = pki_with_int(p);
    let token = issue(&pki, Some(ISS));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_usage");
}

fn unknown_critical_extension() -> CustomExtension {
    // 1.3.6.1.4.1.55555.1 with a NULL value.
    let mut ext = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![5, 0]);
    ext.set_criticality(true);
    ext
}

#[test]
fn leaf_with_an_unknown_critical_extension() {
    let mut p = leaf_params();
    p.custom_extensions = vec![unknown_critical_extension()];
    let pki = pki_with_leaf(&p);
    // The issuer already refuses such a leaf (leaf_info parses it with webpki) ...
    assert_eq!(
        code(issue_with(Some(ISS), pki.chain(), &*pki.signer())),
        "certificate_usage"
    );
    // ... and so does the verifier.
    let token = craft_x5c(&pki, Some(ISS), x5c_value(&[&pki.leaf.der, &pki.int.der]));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_usage");
    // The same extension, not critical, is ignored.
    let mut ext = unknown_critical_extension();
    ext.set_criticality(false);
    p.custom_extensions = vec![ext];
    let pki = pki_with_leaf(&p);
    let token = issue(&pki, Some(ISS));
    verify(pki.trust(), &token).unwrap();
}

#[test]
fn intermediate_with_an_unknown_critical_extension() {
    let mut p = ca_params("Test Intermediate CA");
    p.custom_extensions = vec![unknown_critical_extension()];
    let pki = pki_with_int(p);
    let token = issue(&pki, Some(ISS));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_usage");
}

fn eku_leaf(ekus: Vec<ExtendedKeyUsagePurpose>) -> CertificateParams {
    let mut p = leaf_params();
    p.extended_key_usages = ekus;
    p
}

fn ds_eku() -> ExtendedKeyUsagePurpose {
    ExtendedKeyUsagePurpose::Other(vec![1, 0, 18013, 5, 1, 2])
}

#[test]
fn required_eku_missing_from_the_leaf() {
    let pki = pki_with_leaf(&eku_leaf(vec![ExtendedKeyUsagePurpose::ServerAuth]));
    let token = issue(&pki, Some(ISS));
    // Without an EKU policy any EKU is fine.
    verify(pki.trust(), &token).unwrap();
    assert_eq!(
        code(verify(pki.trust().required_eku(DS_EKU), &token)),
        "certificate_usage"
    );
}

#[test]
fn required_eku_present_on_the_leaf() {
    for ekus in [
        vec![ds_eku()],
        vec![ExtendedKeyUsagePurpose::ServerAuth, ds_eku()],
    ] {
        let pki = pki_with_leaf(&eku_leaf(ekus));
        let token = issue(&pki, Some(ISS));
        verify(pki.trust().required_eku(DS_EKU), &token).unwrap();
    }
}

#[test]
fn required_eku_and_a_leaf_without_eku_extension() {
    // Documented: the EKU is required "wherever an EKU extension is present".
    let pki = pki();
    let token = issue(&pki, Some(ISS));
    verify(pki.trust().required_eku(DS_EKU), &token).unwrap();
}

#[test]
fn required_eku_missing_from_an_intermediate_eku() {
    let mut p = ca_params("Test Intermediate CA");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let int_params = p;
    let pki = pki_custom(
        int_params,
        &eku_leaf(vec![ds_eku()]),
        &PKCS_ECDSA_P256_SHA256,
        &PKCS_ECDSA_P256_SHA256,
    );
    let token = issue(&pki, Some(ISS));
    assert_eq!(
        code(verify(pki.trust().required_eku(DS_EKU), &token)),
        "certificate_usage"
    );
}

#[test]
fn required_eku_that_is_not_an_oid() {
    let pki = pki();
    let token = issue(&pki, Some(ISS));
    assert_eq!(
        code(verify(pki.trust().required_eku("not an oid"), &token)),
        "certificate_invalid"
    );
}

// ---------------------------------------------------------------------------------------------
// Malformed x5c (X5C-07)
// ---------------------------------------------------------------------------------------------

#[test]
fn x5c_entry_in_base64url() {
    // Find a leaf whose base64 has '+' or '/', so that base64url differs.
    let pki = (0..32)
        .map(|_| pki())
        .find(|p| b64(&p.leaf.der).contains(['+', '/']))
        .unwrap();
    let url = b64(&pki.leaf.der).replace('+', "-").replace('/', "_");
    let token = craft_x5c(&pki, Some(ISS), json!([url, b64(&pki.int.der)]));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_invalid");
    // Unpadded base64url, as a JOSE library might produce it.
    let url = url.trim_end_matches('=').to_owned();
    let token = craft_x5c(&pki, Some(ISS), json!([url, b64(&pki.int.der)]));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_invalid");
}

#[test]
fn x5c_intermediate_in_base64url() {
    let pki = (0..32)
        .map(|_| pki())
        .find(|p| b64(&p.int.der).contains(['+', '/']))
        .unwrap();
    let url = b64(&pki.int.der).replace('+', "-").replace('/', "_");
    let token = craft_x5c(&pki, Some(ISS), json!([b64(&pki.leaf.der), url]));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_invalid");
}

#[test]
fn x5c_entry_with_white_space() {
    let pki = pki();
    let good = b64(&pki.leaf.der);
    for bad in [
        format!("{}\n{}", &good[..64], &good[64..]),
        format!("{}\r\n{}", &good[..64], &good[64..]),
        format!("{} {}", &good[..64], &good[64..]),
        format!(" {good}"),
        format!("{good}\n"),
        format!("{}\t{}", &good[..4], &good[4..]),
    ] {
        let token = craft_x5c(&pki, Some(ISS), json!([bad, b64(&pki.int.der)]));
        assert_eq!(
            code(verify(pki.trust(), &token)),
            "certificate_invalid",
            "{bad:?}"
        );
    }
}

#[test]
fn x5c_with_more_than_five_entries() {
    let pki = pki();
    let int = pki.int.der.as_slice();
    let token = craft_x5c(
        &pki,
        Some(ISS),
        x5c_value(&[&pki.leaf.der, int, int, int, int, int]),
    );
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_invalid");
}

#[test]
fn x5c_that_is_not_an_array_of_strings() {
    let pki = pki();
    for bad in [
        Value::from(b64(&pki.leaf.der)),
        json!({"0": b64(&pki.leaf.der)}),
        json!(null),
        json!(true),
        json!(42),
        json!([]),
        json!([42]),
        json!([null]),
        json!([[b64(&pki.leaf.der)]]),
        json!([b64(&pki.leaf.der), 42]),
    ] {
        let token = craft_x5c(&pki, Some(ISS), bad.clone());
        assert_eq!(
            code(verify(pki.trust(), &token)),
            "certificate_invalid",
            "{bad}"
        );
    }
}

#[test]
fn x5c_with_garbage_der() {
    let pki = pki();
    let mut truncated = pki.leaf.der.clone();
    truncated.truncate(truncated.len() - 10);
    let mut trailing = pki.leaf.der.clone();
    trailing.push(0);
    for bad in [
        b"not a certificate".to_vec(),
        Vec::new(),
        vec![0x30, 0x00],
        truncated,
        trailing,
    ] {
        let token = craft_x5c(&pki, Some(ISS), json!([b64(&bad), b64(&pki.int.der)]));
        assert_eq!(
            code(verify(pki.trust(), &token)),
            "certificate_invalid",
            "{bad:02x?}"
        );
    }
}

#[test]
fn x5c_entry_not_base64_at_all() {
    let pki = pki();
    for bad in ["!!!!", "MIIB*A==", "====", "A"] {
        let token = craft_x5c(&pki, Some(ISS), json!([bad, b64(&pki.int.der)]));
        assert_eq!(
            code(verify(pki.trust(), &token)),
            "certificate_invalid",
            "{bad}"
        );
    }
}

#[test]
fn x5c_certificate_over_16_kib() {
    let pki = pki();
    let big = vec![0x41u8; 16 * 1024 + 1];
    let token = craft_x5c(&pki, Some(ISS), json!([b64(&big), b64(&pki.int.der)]));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_invalid");
    // Also as an intermediate.
    let token = craft_x5c(&pki, Some(ISS), json!([b64(&pki.leaf.der), b64(&big)]));
    assert_eq!(code(verify(pki.trust(), &token)), "certificate_invalid");
}

// ---------------------------------------------------------------------------------------------
// Mechanism selection (VC-04, HDR-16, KEY-07)
// ---------------------------------------------------------------------------------------------

#[test]
fn x5c_only_in_the_unprotected_header() {
    let pki = pki();
    let sd = SdJwtBuilder::new(vc_payload(Some(ISS)))
        .typ(Some("dc+sd-jwt"))
        .serialization(Serialization::Flattened)
        .issue(&*pki.signer(), &OsRandom)
        .unwrap();
    let mut obj: Value = serde_json::from_str(&sd.to_string()).unwrap();
    obj["header"]["x5c"] = x5c_value(&[&pki.leaf.der, &pki.int.der]);
    let token = obj.to_string();
    assert_eq!(code(verify(pki.trust(), &token)), "key_mechanism_mismatch");
    // Also when the protected header carries it too (the JWS layer refuses the repeat).
    let sd = SdJwtBuilder::new(vc_payload(Some(ISS)))
        .typ(Some("dc+sd-jwt"))
        .header("x5c", x5c_value(&[&pki.leaf.der, &pki.int.der]))
        .serialization(Serialization::Flattened)
        .issue(&*pki.signer(), &OsRandom)
        .unwrap();
    let mut obj: Value = serde_json::from_str(&sd.to_string()).unwrap();
    verify(pki.trust(), &obj.to_string()).unwrap();
    obj["header"]["x5c"] = x5c_value(&[&pki.leaf.der, &pki.int.der]);
    assert_eq!(
        code(verify(pki.trust(), &obj.to_string())),
        "header_invalid"
    );
}

#[test]
fn wrong_x5t_s256_in_the_unprotected_header() {
    // HDR-16: a thumbprint that contradicts the (protected) x5c leaf, even where it is not
    // integrity-protected, is a conflicting key hint.
    let pki = pki();
    let sd = SdJwtBuilder::new(vc_payload(Some(ISS)))
        .typ(Some("dc+sd-jwt"))
        .header("x5c", x5c_value(&[&pki.leaf.der, &pki.int.der]))
        .serialization(Serialization::Flattened)
        .issue(&*pki.signer(), &OsRandom)
        .unwrap();
    let mut obj: Value = serde_json::from_str(&sd.to_string()).unwrap();
    let of_int = Base64UrlUnpadded::encode_string(&Sha256::digest(&pki.int.der));
    obj["header"]["x5t#S256"] = of_int.into();
    assert_eq!(
        code(verify(pki.trust(), &obj.to_string())),
        "key_mechanism_mismatch"
    );
}

#[test]
fn x5t_s256_that_is_not_the_leaf_thumbprint() {
    let pki = pki();
    let x5c = x5c_value(&[&pki.leaf.der, &pki.int.der]);
    let of_int = Base64UrlUnpadded::encode_string(&Sha256::digest(&pki.int.der));
    let std_b64 = Base64::encode_string(&Sha256::digest(&pki.leaf.der));
    for bad in [
        Value::from(of_int),
        Value::from("AAAA"),
        Value::from(std_b64),
        json!(42),
        json!(null),
    ] {
        let token = craft(
            Some(ISS),
            &[("x5c", x5c.clone()), ("x5t#S256", bad.clone())],
            &*pki.signer(),
        );
        assert_eq!(
            code(verify(pki.trust(), &token)),
            "key_mechanism_mismatch",
            "{bad}"
        );
    }
}

#[derive(Debug)]
struct MetadataServer(String);

impl HttpClient for MetadataServer {
    fn get(&self, _url: &HttpsUrl, _policy: &FetchPolicy) -> credkit::Result<HttpResponse> {
        Ok(HttpResponse::new(200, self.0.clone().into_bytes())
            .with_content_type("application/json"))
    }
}

#[test]
fn x5c_on_a_metadata_keyed_issuer() {
    // VC-04: the metadata even lists the leaf key; adding x5c is still a mechanism switch.
    let pki = pki();
    let signer = pki.signer();
    let meta = json!({
        "issuer": ISS,
        "jwks": {"keys": [Value::Object(signer.public_jwk().to_json())]},
    })
    .to_string();
    let fetcher = Fetcher::new(Arc::new(MetadataServer(meta)));
    let policy = Arc::new(TrustPolicy::new().issuer(
        ISS,
        Arc::new(IssuerMetadataTrust::new(fetcher).clock(Arc::new(FixedClock(NOW)))),
    ));
    let v = verifier(policy);
    // Control: without x5c the metadata key verifies.
    let plain = vc(Some(ISS))
        .issue(&*signer, &OsRandom)
        .unwrap()
        .to_string();
    let ok = v.verify(&plain).unwrap();
    assert_eq!(ok.binding, IssuerBinding::Metadata { issuer: ISS.into() });
    let token = issue(&pki, Some(ISS));
    assert_eq!(code(v.verify(&token)), "key_mechanism_mismatch");
}

#[test]
fn x5c_on_a_static_key_issuer() {
    let pki = pki();
    let signer = pki.signer();
    let keys = StaticIssuerKeys::single(signer.public_jwk(), default_provider()).unwrap();
    let v = verifier(Arc::new(TrustPolicy::new().issuer(ISS, Arc::new(keys))));
    let plain = vc(Some(ISS))
        .issue(&*signer, &OsRandom)
        .unwrap()
        .to_string();
    assert_eq!(v.verify(&plain).unwrap().binding, IssuerBinding::Static);
    let token = issue(&pki, Some(ISS));
    assert_eq!(code(v.verify(&token)), "key_mechanism_mismatch");
    // x5t#S256 alone is a key hint of another mechanism too.
    let thumb = Base64UrlUnpadded::encode_string(&Sha256::digest(&pki.leaf.der));
    let token = craft(Some(ISS), &[("x5t#S256", thumb.into())], &*signer);
    assert_eq!(code(v.verify(&token)), "key_mechanism_mismatch");
}

#[test]
fn no_x5c_for_an_x5c_issuer() {
    let pki = pki();
    let token = vc(Some(ISS))
        .issue(&*pki.signer(), &OsRandom)
        .unwrap()
        .to_string();
    assert_eq!(code(verify(pki.trust(), &token)), "key_mechanism_mismatch");
    let policy = TrustPolicy::new().issuer(ISS, Arc::new(pki.trust()));
    assert_eq!(
        code(verifier(Arc::new(policy)).verify(&token)),
        "key_mechanism_mismatch"
    );
}

#[test]
fn other_key_hints_next_to_x5c() {
    // HDR-16: jwk, jku and x5u beside a valid x5c are refused, whatever they say.
    let pki = pki();
    let x5c = x5c_value(&[&pki.leaf.der, &pki.int.der]);
    let leaf_jwk = Value::Object(pki.signer().public_jwk().to_json());
    for (name, value) in [
        ("jwk", leaf_jwk),
        ("jku", Value::from("https://issuer.example.com/jwks.json")),
        ("x5u", Value::from("https://issuer.example.com/chain.pem")),
    ] {
        let token = craft(
            Some(ISS),
            &[("x5c", x5c.clone()), (name, value)],
            &*pki.signer(),
        );
        assert_eq!(
            code(verify(pki.trust(), &token)),
            "key_mechanism_mismatch",
            "{name}"
        );
    }
}

#[test]
fn jwk_with_embedded_x5c_is_not_a_chain() {
    // KEY-07: an attacker's header jwk carrying the trusted chain as its x5c member.
    let pki = pki();
    let attacker = default_provider()
        .signer(
            &default_provider()
                .generate(Algorithm::Es256, &OsRandom)
                .unwrap(),
        )
        .unwrap();
    let mut jwk = attacker.public_jwk().to_json();
    jwk.insert("x5c".into(), x5c_value(&[&pki.leaf.der, &pki.int.der]));
    let token = craft(Some(ISS), &[("jwk", Value::Object(jwk))], &*attacker);
    assert_eq!(code(verify(pki.trust(), &token)), "key_mechanism_mismatch");
}

#[test]
fn iss_not_covered_by_the_policy() {
    let pki = pki();
    let token = issue(&pki, Some(ISS));
    let policy = TrustPolicy::new().issuer("https://other.example.com", Arc::new(pki.trust()));
    assert_eq!(
        code(verifier(Arc::new(policy)).verify(&token)),
        "untrusted_issuer"
    );
    // A prefix rule must really be a prefix.
    let policy =
        TrustPolicy::new().issuer_prefix("https://issuer.example.com/", Arc::new(pki.trust()));
    assert_eq!(
        code(verifier(Arc::new(policy)).verify(&token)),
        "untrusted_issuer"
    );
    // Prefixes match on a boundary only: "https://issuer.example." would also cover
    // "https://issuer.example.evil.com".
    let policy = TrustPolicy::new().issuer_prefix("https://issuer.example.", Arc::new(pki.trust()));
    assert_eq!(
        code(verifier(Arc::new(policy)).verify(&token)),
        "untrusted_issuer"
    );
    let policy =
        TrustPolicy::new().issuer_prefix("https://issuer.example.com", Arc::new(pki.trust()));
    verifier(Arc::new(policy)).verify(&token).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Signing key (X5C-04)
// ---------------------------------------------------------------------------------------------

#[test]
fn issuing_with_a_key_that_is_not_the_leafs() {
    let pki = pki();
    let other = pki_with_leaf(&leaf_params());
    assert_eq!(
        code(issue_with(Some(ISS), pki.chain(), &*other.signer())),
        "key_alg_mismatch"
    );
    // Also without iss, and with a key of another curve.
    assert_eq!(
        code(issue_with(None, pki.chain(), &*other.signer())),
        "key_alg_mismatch"
    );
    let p384 = default_provider()
        .signer(
            &default_provider()
                .generate(Algorithm::Es384, &OsRandom)
                .unwrap(),
        )
        .unwrap();
    assert_eq!(
        code(issue_with(Some(ISS), pki.chain(), &*p384)),
        "key_alg_mismatch"
    );
}

#[test]
fn issuing_with_iss_among_the_claims_is_checked_too() {
    let pki = pki();
    let mut claims = subject_claims();
    claims.insert("iss".into(), "https://evil.example.com".into());
    let r = VcBuilder::new(Vct::new(VCT).unwrap(), claims)
        .x5c(pki.chain())
        .issue(&*pki.signer(), &OsRandom);
    assert_eq!(code(r), "issuer_mismatch");
}

#[test]
fn issuing_with_a_leaf_that_does_not_parse() {
    let pki = pki();
    let r = issue_with(
        Some(ISS),
        vec![b"not a certificate".to_vec()],
        &*pki.signer(),
    );
    assert_eq!(code(r), "certificate_invalid");
}

#[test]
fn issuing_with_an_empty_x5c() {
    let pki = pki();
    let r = issue_with(Some(ISS), Vec::new(), &*pki.signer());
    assert_eq!(code(r), "certificate_invalid");
}

#[test]
fn jws_signed_by_another_key_than_the_leaf() {
    let pki = pki();
    let other = pki_with_leaf(&leaf_params());
    let x5c = x5c_value(&[&pki.leaf.der, &pki.int.der]);
    let token = craft(Some(ISS), &[("x5c", x5c.clone())], &*other.signer());
    assert_eq!(code(verify(pki.trust(), &token)), "invalid_signature");
    // Signed by the intermediate's key (a CA key is not the issuer's key).
    let int_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let token = craft(Some(ISS), &[("x5c", x5c)], &*signer_for(&int_key));
    assert_eq!(code(verify(pki.trust(), &token)), "invalid_signature");
}

#[test]
fn jws_alg_that_does_not_fit_the_leaf_key() {
    // A P-384 signature (ES384) under a chain whose leaf is P-256.
    let pki = pki();
    let p384 = default_provider()
        .signer(
            &default_provider()
                .generate(Algorithm::Es384, &OsRandom)
                .unwrap(),
        )
        .unwrap();
    let token = craft_x5c_signed(&pki, &*p384);
    assert_eq!(code(verify(pki.trust(), &token)), "key_alg_mismatch");
}

fn craft_x5c_signed(pki: &Pki, signer: &dyn Signer) -> String {
    craft(
        Some(ISS),
        &[("x5c", x5c_value(&[&pki.leaf.der, &pki.int.der]))],
        signer,
    )
}

// ---------------------------------------------------------------------------------------------
// Other algorithms
// ---------------------------------------------------------------------------------------------

#[test]
fn p384_chain() {
    let pki = pki_custom(
        ca_params("Test Intermediate CA"),
        &leaf_params(),
        &PKCS_ECDSA_P384_SHA384,
        &PKCS_ECDSA_P384_SHA384,
    );
    let signer = pki.signer();
    assert_eq!(signer.algorithm(), Algorithm::Es384);
    let token = issue(&pki, Some(ISS));
    let v = verify(pki.trust(), &token).unwrap();
    let chain = x509_binding(&v);
    assert_eq!(chain.leaf_key.curve(), Curve::P384);
    assert_eq!(&chain.leaf_key, signer.public_jwk());
    assert_eq!(v.sd_jwt.header["alg"], "ES384");
}

#[test]
fn p256_leaf_under_p384_cas() {
    let pki = pki_custom(
        ca_params("Test Intermediate CA"),
        &leaf_params(),
        &PKCS_ECDSA_P384_SHA384,
        &PKCS_ECDSA_P256_SHA256,
    );
    let token = issue(&pki, Some(ISS));
    let v = verify(pki.trust(), &token).unwrap();
    assert_eq!(x509_binding(&v).leaf_key.curve(), Curve::P256);
}

#[test]
fn ed25519_leaf_under_p256_cas() {
    let pki = pki_custom(
        ca_params("Test Intermediate CA"),
        &leaf_params(),
        &PKCS_ECDSA_P256_SHA256,
        &PKCS_ED25519,
    );
    let signer = pki.signer();
    assert_eq!(signer.algorithm(), Algorithm::EdDsa);
    let token = issue(&pki, Some(ISS));
    let v = verify(pki.trust(), &token).unwrap();
    let chain = x509_binding(&v);
    assert_eq!(chain.leaf_key.curve(), Curve::Ed25519);
    assert_eq!(&chain.leaf_key, signer.public_jwk());
}

#[test]
fn ed25519_chain() {
    let pki = pki_custom(
        ca_params("Test Intermediate CA"),
        &leaf_params(),
        &PKCS_ED25519,
        &PKCS_ED25519,
    );
    let token = issue(&pki, Some(ISS));
    let v = verify(pki.trust(), &token).unwrap();
    assert_eq!(x509_binding(&v).leaf_key.curve(), Curve::Ed25519);
    // And an Ed25519 key that is not the leaf's is still refused.
    let other = pki_custom(
        ca_params("Test Intermediate CA"),
        &leaf_params(),
        &PKCS_ED25519,
        &PKCS_ED25519,
    );
    let token = craft_x5c_signed(&pki, &*other.signer());
    assert_eq!(code(verify(pki.trust(), &token)), "invalid_signature");
}

// ---------------------------------------------------------------------------------------------
// The validated-chain cache never outlives a certificate.
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct MovingClock(std::sync::atomic::AtomicI64);

impl credkit::time::Clock for MovingClock {
    fn now(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn cached_chain_validation_respects_validity() {
    use std::sync::atomic::Ordering;
    let mut p = leaf_params();
    p.not_after = rcgen::date_time_ymd(2026, 6, 1);
    let pki = pki_with_leaf(&p);
    let token = issue(&pki, Some(ISS));
    let clock = Arc::new(MovingClock(std::sync::atomic::AtomicI64::new(NOW)));
    let trust = X5cTrust::new(anchors(&[&pki.root.der])).clock(clock.clone());
    let v = VcVerifier::builder_with_clock(Arc::new(trust), clock.clone())
        .key_binding(danger::key_binding_optional())
        .sd_jwt(|b| b.leeway(0))
        .build()
        .unwrap();
    // Validated, then served from the cache.
    v.verify(&token).unwrap();
    v.verify(&token).unwrap();
    // 2026-06-01T00:00:00Z is the leaf's notAfter: still valid at that second, not after.
    clock.0.store(1_780_272_000, Ordering::SeqCst);
    v.verify(&token).unwrap();
    clock.0.store(1_780_272_001, Ordering::SeqCst);
    assert_eq!(code(v.verify(&token)), "certificate_expired");
    // And before the chain's notBefore (2024-01-01 for the CAs) the cache does not answer.
    clock.0.store(1_600_000_000, Ordering::SeqCst);
    assert_eq!(code(v.verify(&token)), "certificate_not_yet_valid");
    // A different chain for the same key is validated on its own.
    clock.0.store(NOW, Ordering::SeqCst);
    let other_root = pki_with_leaf(&leaf_params());
    let forged = craft_x5c(
        &pki,
        Some(ISS),
        x5c_value(&[&pki.leaf.der, &other_root.int.der]),
    );
    assert_eq!(code(v.verify(&forged)), "untrusted_chain");
}

// ---------------------------------------------------------------------------------------------
// DCQL trusted_authorities of type "aki" match the issuer chain held in the wallet.
// ---------------------------------------------------------------------------------------------

#[test]
fn wallet_matches_trusted_authorities_by_aki() {
    use credkit::dcql::DcqlQuery;
    use credkit::wallet::{MemoryStore, SoftwareKeyManager, Wallet};
    let mut leaf = leaf_params();
    leaf.use_authority_key_identifier_extension = true;
    let mut int = ca_params("Test Intermediate CA");
    int.use_authority_key_identifier_extension = true;
    let pki = pki_custom(int, &leaf, &PKCS_ECDSA_P256_SHA256, &PKCS_ECDSA_P256_SHA256);
    let akis = credkit::x509::authority_key_ids(&pki.chain());
    assert_eq!(akis.len(), 2, "leaf and intermediate carry an AKI");

    let verifier = VcVerifier::builder_with_clock(Arc::new(pki.trust()), Arc::new(FixedClock(NOW)))
        .key_binding(credkit::sd_jwt::KeyBindingPolicy::Forbidden)
        .build()
        .unwrap();
    let w = Wallet::new(
        Arc::new(MemoryStore::new()),
        Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom))),
        verifier,
    )
    .clock(Arc::new(FixedClock(NOW)));
    let (key_id, holder) = w.create_holder_keys(1, Algorithm::Es256).unwrap().remove(0);
    let issued = vc(Some(ISS))
        .holder_key(holder)
        .x5c(pki.chain())
        .issue(&*pki.signer(), &OsRandom)
        .unwrap()
        .to_string();
    w.add(&[&issued], &[key_id]).unwrap();
    let query = |aki: &str| {
        DcqlQuery::parse(&json!({"credentials": [{
            "id": "c", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
            "trusted_authorities": [{"type": "aki", "values": [aki]}],
            "claims": [{"path": ["given_name"]}]
        }]}))
        .unwrap()
    };
    // The root's key id (the intermediate's AKI) is what a trust list names.
    let answers = w.query(&query(&akis[1])).unwrap();
    assert_eq!(answers[0].candidates.len(), 1);
    assert_eq!(
        w.query(&query("c29tZS1vdGhlci1hdXRob3JpdHk"))
            .unwrap_err()
            .code(),
        "dcql_unsatisfiable"
    );
}
