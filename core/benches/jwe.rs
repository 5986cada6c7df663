//! JWE with ECDH-ES (P-256) and A256GCM, the OpenID4VP `direct_post.jwt` response (OpenID4VP
//! 1.0 §8.3): decrypting a 4 KiB response (about one SD-JWT VC presentation) and encrypting
//! one, with each credkit provider, side by side with josekit (OpenSSL) in the same run.
//! The floor is one ECDH agreement on P-256, what decryption cannot avoid.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::hint::black_box;
use std::time::Duration;

use credkit::b64;
use credkit::crypto::all_providers;
use credkit::jose::Algorithm;
use credkit::jose::jwe::{ContentEncryption, Decrypter, EncryptOptions, encrypt};
use credkit::rand::OsRandom;
use criterion::{Criterion, criterion_group, criterion_main};
use josekit::jwe::{ECDH_ES, JweHeader};

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("jwe");
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    let payload = vec![b'a'; 4096];
    let base = credkit::crypto::default_provider();
    let key = base
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap()
        .with_kid("k");
    let options = EncryptOptions::default().kid("k");
    let jwe = encrypt(
        key.public(),
        ContentEncryption::A256Gcm,
        &options,
        &payload,
        base,
        &OsRandom,
    )
    .unwrap();
    for provider in all_providers() {
        let d = Decrypter::new(vec![key.clone()]).provider(provider);
        g.bench_function(format!("decrypt/{}", provider.name()), |b| {
            b.iter(|| black_box(d.decrypt_compact(black_box(&jwe)).unwrap()));
        });
        g.bench_function(format!("encrypt/{}", provider.name()), |b| {
            b.iter(|| {
                black_box(
                    encrypt(
                        key.public(),
                        ContentEncryption::A256Gcm,
                        &options,
                        &payload,
                        provider,
                        &OsRandom,
                    )
                    .unwrap(),
                )
            });
        });
        let eph = provider.generate(Algorithm::Es256, &OsRandom).unwrap();
        g.bench_function(format!("floor_ecdh/{}", provider.name()), |b| {
            b.iter(|| black_box(provider.ecdh(&key, black_box(eph.public())).unwrap()));
        });
    }
    // josekit (OpenSSL), the peer.
    let mut private = key.public().to_json();
    private.insert("d".into(), b64::encode(key.d()).into());
    let jk_private =
        josekit::jwk::Jwk::from_bytes(serde_json::Value::Object(private).to_string()).unwrap();
    let jk_public = josekit::jwk::Jwk::from_bytes(
        serde_json::Value::Object(key.public().to_json()).to_string(),
    )
    .unwrap();
    let decrypter = ECDH_ES.decrypter_from_jwk(&jk_private).unwrap();
    g.bench_function("decrypt/josekit", |b| {
        b.iter(|| {
            black_box(josekit::jwe::deserialize_compact(black_box(&jwe), &decrypter).unwrap())
        });
    });
    let encrypter = ECDH_ES.encrypter_from_jwk(&jk_public).unwrap();
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    header.set_key_id("k");
    g.bench_function("encrypt/josekit", |b| {
        b.iter(|| {
            black_box(josekit::jwe::serialize_compact(&payload, &header, &encrypter).unwrap())
        });
    });
    g.finish();
}

criterion_group!(jwe, benches);
criterion_main!(jwe);
