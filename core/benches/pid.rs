//! Criterion benchmarks on the shared workload (benches/workload): issue, present and verify
//! a 20-claim PID with 3 claims disclosed and a KB-JWT, plus the floors measured in the same
//! run (one ES256 sign, one ES256 verify, SHA-256 of a disclosure), for every provider.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::sync::Arc;

use credkit::crypto::{CryptoProvider, HashAlg, all_providers};
use credkit::jose::{Algorithm, PrivateJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{Credential, KeyBindingPolicy, SdJwtBuilder, StaticIssuerKeys, Verifier};
use credkit::time::FixedClock;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value};

const CLAIMS: &str = include_str!("workload/claims.json");
const KEYS: &str = include_str!("workload/keys.json");
const NOW: i64 = 1_800_000_000;

struct Workload {
    claims: Map<String, Value>,
    sd: Vec<String>,
    present: Vec<String>,
    aud: String,
    nonce: String,
    issuer: PrivateJwk,
    holder: PrivateJwk,
}

fn workload() -> Workload {
    let w: Value = serde_json::from_str(CLAIMS).unwrap();
    let keys: Value = serde_json::from_str(KEYS).unwrap();
    let mut claims = w["always_visible"].as_object().unwrap().clone();
    let mut sd = Vec::new();
    for (k, v) in w["sd_claims"].as_object().unwrap() {
        claims.insert(k.clone(), v.clone());
        sd.push(format!("/{k}"));
    }
    Workload {
        claims,
        sd,
        present: w["present"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| format!("/{}", p.as_str().unwrap()))
            .collect(),
        aud: w["kb"]["aud"].as_str().unwrap().into(),
        nonce: w["kb"]["nonce"].as_str().unwrap().into(),
        issuer: PrivateJwk::parse(&keys["issuer"].to_string()).unwrap(),
        holder: PrivateJwk::parse(&keys["holder"].to_string()).unwrap(),
    }
}

fn builder(w: &Workload) -> SdJwtBuilder {
    let mut b = SdJwtBuilder::new(w.claims.clone())
        .typ(Some("dc+sd-jwt"))
        .holder_key(w.holder.public().clone());
    for p in &w.sd {
        b = b.disclose(p).unwrap();
    }
    b
}

fn bench_provider(c: &mut Criterion, provider: &'static dyn CryptoProvider) {
    let w = workload();
    let name = provider.name();
    let issuer = provider.signer(&w.issuer).unwrap();
    let holder = provider.signer(&w.holder).unwrap();
    let keys = Arc::new(StaticIssuerKeys::single(w.issuer.public(), provider).unwrap());
    let clock = Arc::new(FixedClock(NOW));
    let issued = builder(&w).issue(&*issuer, &OsRandom).unwrap().to_string();
    let receive = Verifier::builder_with_clock(keys.clone(), clock.clone())
        .provider(provider)
        .key_binding(KeyBindingPolicy::Forbidden)
        .build()
        .unwrap();
    let credential = Credential::receive(&issued, &receive).unwrap();
    let present: Vec<&str> = w.present.iter().map(String::as_str).collect();
    let presentation = credential
        .present(&present)
        .unwrap()
        .with_key_binding(&*holder, &w.aud, &w.nonce, NOW)
        .unwrap();
    let verifier = Verifier::builder_with_clock(keys, clock)
        .provider(provider)
        .expect_typ(&["dc+sd-jwt"])
        .require_key_binding(w.aud.clone(), w.nonce.clone())
        .build()
        .unwrap();
    assert_eq!(verifier.verify(&presentation).unwrap().disclosed.len(), 3);

    let mut g = c.benchmark_group(format!("pid/{name}"));
    g.bench_function("issue", |b| {
        b.iter(|| builder(&w).issue(&*issuer, &OsRandom).unwrap());
    });
    g.bench_function("present", |b| {
        b.iter(|| {
            credential
                .present(black_box(&present))
                .unwrap()
                .with_key_binding(&*holder, &w.aud, &w.nonce, NOW)
                .unwrap()
        });
    });
    g.bench_function("verify", |b| {
        b.iter(|| verifier.verify(black_box(&presentation)).unwrap())
    });
    let vk = provider
        .verifying_key(w.issuer.public(), Algorithm::Es256)
        .unwrap();
    let msg = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0";
    let sig = issuer.sign(msg).unwrap();
    g.bench_function("floor/es256_sign", |b| {
        b.iter(|| issuer.sign(black_box(msg)).unwrap())
    });
    g.bench_function("floor/es256_verify", |b| {
        b.iter(|| vk.verify(black_box(msg), &sig).unwrap())
    });
    let disclosure = credential.sd_jwt().disclosures()[0].as_str().to_owned();
    g.bench_function("floor/sha256_disclosure", |b| {
        b.iter(|| HashAlg::Sha256.digest_b64(black_box(disclosure.as_bytes())));
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    for p in all_providers() {
        bench_provider(c, p);
    }
}

criterion_group!(pid, benches);
criterion_main!(pid);
