//! How verification cost grows: with the number of selectively disclosable claims
//! (10 / 100 / 1000, all disclosed), and with the number disclosed out of 100 (1 / 10 / 100),
//! for every provider; each presentation carries a KB-JWT. Last, the two worst valid-shaped
//! presentations the default limits allow (ATTACKS.md ENV-08, G7), with the default provider.
//! Heap allocations per verification, and per issuance of the all-disclosable credentials,
//! are printed once per case (they do not depend on timing): `cargo bench --bench scaling --
//! --list` shows them without timing.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

#[path = "../tests/common/worst_case.rs"]
mod worst_case;

use std::alloc::System;
use std::hint::black_box;
use std::sync::Arc;

use credkit::crypto::{CryptoProvider, Signer, all_providers};
use credkit::jose::PrivateJwk;
use credkit::rand::OsRandom;
use credkit::sd_jwt::{Credential, KeyBindingPolicy, SdJwtBuilder, StaticIssuerKeys, Verifier};
use credkit::time::FixedClock;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const KEYS: &str = include_str!("workload/keys.json");
const NOW: i64 = 1_800_000_000;
const AUD: &str = "https://verifier.example";
const NONCE: &str = "n-0S6_WzA2Mj";

struct Case {
    verifier: Verifier,
    presentation: String,
    /// What issuance starts from: the claims, the pointers to disclose, the signer and the
    /// holder key.
    payload: Map<String, Value>,
    pointers: Vec<String>,
    signer: Arc<dyn Signer>,
    holder: PrivateJwk,
}

fn build(payload: Map<String, Value>, pointers: &[String], holder: &PrivateJwk) -> SdJwtBuilder {
    let mut b = SdJwtBuilder::new(payload)
        .typ(Some("dc+sd-jwt"))
        .holder_key(holder.public().clone());
    for p in pointers {
        b = b.disclose(p).unwrap();
    }
    b
}

/// A credential with `claims` disclosable string claims, `disclosed` of them presented.
fn case(provider: &'static dyn CryptoProvider, claims: usize, disclosed: usize) -> Case {
    let keys: Value = serde_json::from_str(KEYS).unwrap();
    let issuer = PrivateJwk::parse(&keys["issuer"].to_string()).unwrap();
    let holder = PrivateJwk::parse(&keys["holder"].to_string()).unwrap();
    let mut payload = Map::new();
    payload.insert("iss".into(), json!("https://issuer.example"));
    payload.insert("vct".into(), json!("urn:example:scaling:1"));
    let mut pointers = Vec::new();
    for i in 0..claims {
        payload.insert(format!("claim_{i:04}"), json!(format!("value number {i}")));
        pointers.push(format!("/claim_{i:04}"));
    }
    let signer = provider.signer(&issuer).unwrap();
    let issued = build(payload.clone(), &pointers, &holder)
        .issue(&*signer, &OsRandom)
        .unwrap()
        .to_string();
    let keys = Arc::new(StaticIssuerKeys::single(issuer.public(), provider).unwrap());
    let clock = Arc::new(FixedClock(NOW));
    let receive = Verifier::builder_with_clock(keys.clone(), clock.clone())
        .provider(provider)
        .key_binding(KeyBindingPolicy::Forbidden)
        .build()
        .unwrap();
    let credential = Credential::receive(&issued, &receive).unwrap();
    let chosen: Vec<&str> = pointers
        .iter()
        .take(disclosed)
        .map(String::as_str)
        .collect();
    let holder_signer = provider.signer(&holder).unwrap();
    let presentation = credential
        .present(&chosen)
        .unwrap()
        .with_key_binding(&*holder_signer, AUD, NONCE, NOW)
        .unwrap();
    let verifier = Verifier::builder_with_clock(keys, clock)
        .provider(provider)
        .require_key_binding(AUD.to_owned(), NONCE.to_owned())
        .build()
        .unwrap();
    assert_eq!(
        verifier.verify(&presentation).unwrap().disclosed.len(),
        disclosed
    );
    Case {
        verifier,
        presentation,
        payload,
        pointers,
        signer,
        holder,
    }
}

fn benches(c: &mut Criterion) {
    let cases = [(10, 10), (100, 100), (1000, 1000), (100, 1), (100, 10)];
    for provider in all_providers() {
        let mut g = c.benchmark_group(format!("scaling/{}", provider.name()));
        for (claims, disclosed) in cases {
            let case = case(provider, claims, disclosed);
            if disclosed == claims {
                // Issuance from claims already in memory: the builder, its `disclose`
                // calls and the signed SD-JWT (the claims' copy is made before counting).
                let payload = case.payload.clone();
                let region = Region::new(GLOBAL);
                let issued = build(payload, &case.pointers, &case.holder)
                    .issue(&*case.signer, &OsRandom)
                    .unwrap();
                drop(black_box(issued));
                let stats = region.change();
                eprintln!(
                    "allocations/{}/issue {claims} claims, all disclosable: {} allocations, \
                     {} bytes allocated",
                    provider.name(),
                    stats.allocations + stats.reallocations,
                    stats.bytes_allocated,
                );
            }
            let region = Region::new(GLOBAL);
            black_box(case.verifier.verify(&case.presentation).unwrap());
            let stats = region.change();
            eprintln!(
                "allocations/{}/verify {claims} claims, {disclosed} disclosed: {} allocations, \
                 {} bytes allocated, presentation {} bytes",
                provider.name(),
                stats.allocations + stats.reallocations,
                stats.bytes_allocated,
                case.presentation.len()
            );
            g.bench_function(
                format!("verify/{claims}_claims/{disclosed}_disclosed"),
                |b| b.iter(|| case.verifier.verify(black_box(&case.presentation)).unwrap()),
            );
        }
        g.finish();
    }
    // ENV-08 / G7: the worst valid-shaped presentations the default limits allow (1024
    // Disclosures, 16 nested; 81,000 small values), ~245 KB each, with the default provider.
    for (name, (verifier, presentation)) in [
        ("many_disclosures", worst_case::many_disclosures()),
        ("dense_values", worst_case::dense_values()),
    ] {
        let region = Region::new(GLOBAL);
        black_box(verifier.verify(&presentation).unwrap());
        let stats = region.change();
        eprintln!(
            "allocations/default/verify at the default limits, {name}: {} allocations, {} bytes \
             allocated, presentation {} bytes",
            stats.allocations + stats.reallocations,
            stats.bytes_allocated,
            presentation.len()
        );
        c.bench_function(&format!("scaling/default/verify/at_limits/{name}"), |b| {
            b.iter(|| verifier.verify(black_box(&presentation)).unwrap())
        });
    }
}

criterion_group!(scaling, benches);
criterion_main!(scaling);
