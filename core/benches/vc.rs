//! SD-JWT VC verification on the shared workload (benches/workload: a 20-claim PID, 3 claims
//! presented with a KB-JWT): the SD-JWT VC layer with a pinned key, and with an `x5c` chain
//! (root → intermediate → leaf, P-256) validated cold and from the validated-chain cache.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::sync::Arc;

use credkit::crypto::{CryptoProvider, Signer, all_providers};
use credkit::jose::{Curve, PrivateJwk, PublicJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{KeyBindingPolicy, StaticIssuerKeys};
use credkit::sd_jwt_vc::{IssuerTrust, TrustPolicy, VcBuilder, VcVerifier, Vct, X5cTrust};
use credkit::time::FixedClock;
use credkit::x509::TrustAnchors;
use criterion::{Criterion, criterion_group, criterion_main};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, SanType,
};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

const CLAIMS: &str = include_str!("workload/claims.json");
const NOW: i64 = 1_800_000_000;
const ISS: &str = "https://pid-provider.example.eu";

struct Pki {
    root: Vec<u8>,
    chain: Vec<Vec<u8>>,
    leaf: KeyPair,
}

fn pki() -> Pki {
    let ca = |cn: &str| {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        p.not_before = rcgen::date_time_ymd(2024, 1, 1);
        p.not_after = rcgen::date_time_ymd(2040, 1, 1);
        p
    };
    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let root_params = ca("Bench Root");
    let root = root_params.self_signed(&root_key).unwrap().der().to_vec();
    let root = (root, Issuer::new(root_params, root_key));
    let int_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let int_params = ca("Bench Intermediate");
    let int = int_params
        .signed_by(&int_key, &root.1)
        .unwrap()
        .der()
        .to_vec();
    let int_issuer = Issuer::new(int_params, int_key);
    let leaf = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::default();
    p.distinguished_name
        .push(DnType::CommonName, "PID provider");
    p.subject_alt_names = vec![SanType::DnsName(
        "pid-provider.example.eu".try_into().unwrap(),
    )];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2040, 1, 1);
    let leaf_der = p.signed_by(&leaf, &int_issuer).unwrap().der().to_vec();
    Pki {
        root: root.0,
        chain: vec![leaf_der, int],
        leaf,
    }
}

/// The rcgen leaf key as a credkit signer (PKCS#8 P-256: the scalar follows `04 20`).
fn leaf_signer(key: &KeyPair, provider: &dyn CryptoProvider) -> Arc<dyn Signer> {
    let point = key.public_key_raw();
    let public = PublicJwk::from_coordinates(
        Curve::P256,
        point[1..33].to_vec(),
        Some(point[33..].to_vec()),
    )
    .unwrap();
    let pkcs8 = key.serialize_der();
    let at = pkcs8.windows(2).position(|w| w == [0x04, 0x20]).unwrap() + 2;
    let d = Zeroizing::new(pkcs8[at..at + 32].to_vec());
    provider
        .signer(&PrivateJwk::from_parts(public, d).unwrap())
        .unwrap()
}

fn workload() -> (Map<String, Value>, Vec<String>, Vec<String>) {
    let w: Value = serde_json::from_str(CLAIMS).unwrap();
    let mut claims = Map::new();
    let mut sd = Vec::new();
    for (k, v) in w["always_visible"].as_object().unwrap() {
        if !["iss", "vct", "iat", "exp", "cnf"].contains(&k.as_str()) {
            claims.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in w["sd_claims"].as_object().unwrap() {
        claims.insert(k.clone(), v.clone());
        sd.push(format!("/{k}"));
    }
    let present = w["present"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("/{}", p.as_str().unwrap()))
        .collect();
    (claims, sd, present)
}

fn bench_provider(c: &mut Criterion, provider: &'static dyn CryptoProvider) {
    let pki = pki();
    let issuer = leaf_signer(&pki.leaf, provider);
    let holder = provider
        .signer(
            &provider
                .generate(credkit::jose::Algorithm::Es256, &OsRandom)
                .unwrap(),
        )
        .unwrap();
    let (claims, sd, present) = workload();
    let issue = |x5c: bool| {
        let mut b = VcBuilder::new(Vct::new("urn:eudi:pid:1").unwrap(), claims.clone())
            .issuer(ISS)
            .issued_at(NOW - 60)
            .expires_at(NOW + 86_400)
            .holder_key(holder.public_jwk().clone());
        if x5c {
            b = b.x5c(pki.chain.clone());
        }
        for p in &sd {
            b = b.disclose(p).unwrap();
        }
        b.issue(&*issuer, &OsRandom).unwrap().to_string()
    };
    let clock = Arc::new(FixedClock(NOW));
    let policy = KeyBindingPolicy::Required {
        audience: "https://verifier.example".into(),
        nonce: "n".into(),
    };
    let verifier = |trust: Arc<dyn IssuerTrust>| {
        VcVerifier::builder_with_clock(trust, clock.clone())
            .key_binding(policy.clone())
            .sd_jwt(|b| b.provider(provider))
            .build()
            .unwrap()
    };
    let mut anchors = TrustAnchors::new();
    anchors.add_der(&pki.root).unwrap();
    let x5c = || {
        X5cTrust::new(anchors.clone())
            .clock(clock.clone())
            .provider(provider)
    };
    let pinned_trust = || -> Arc<dyn IssuerTrust> {
        Arc::new(StaticIssuerKeys::single(issuer.public_jwk(), provider).unwrap())
    };
    let pointers: Vec<&str> = present.iter().map(String::as_str).collect();
    let present_with = |issued: &str, trust: Arc<dyn IssuerTrust>| {
        verifier(Arc::new(TrustPolicy::new().otherwise(trust)))
            .receive(issued)
            .unwrap()
            .credential
            .present(&pointers)
            .unwrap()
            .with_key_binding(&*holder, "https://verifier.example", "n", NOW)
            .unwrap()
    };
    let presentation = present_with(&issue(true), Arc::new(x5c()));
    let plain = present_with(&issue(false), pinned_trust());

    let pinned = verifier(Arc::new(TrustPolicy::new().otherwise(pinned_trust())));
    let cached = verifier(Arc::new(TrustPolicy::new().otherwise(Arc::new(x5c()))));
    cached.verify(&presentation).unwrap();

    let mut g = c.benchmark_group(format!("vc/{}", provider.name()));
    g.bench_function("verify_pinned_key", |b| {
        b.iter(|| pinned.verify(black_box(&plain)).unwrap());
    });
    g.bench_function("verify_x5c_cold", |b| {
        b.iter(|| {
            let v = verifier(Arc::new(TrustPolicy::new().otherwise(Arc::new(x5c()))));
            v.verify(black_box(&presentation)).unwrap()
        });
    });
    g.bench_function("verify_x5c_cached", |b| {
        b.iter(|| cached.verify(black_box(&presentation)).unwrap());
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    for provider in all_providers() {
        bench_provider(c, provider);
    }
}

criterion_group!(vc, benches);
criterion_main!(vc);
