//! Criterion benchmarks on the shared workload (benches/workload): issue, present and verify
//! a 20-claim PID with 3 claims disclosed and a KB-JWT, plus the floors measured in the same
//! run (one ES256 sign and one ES256 verify, of a short message and of the issuer JWT's real
//! signing input; SHA-256 of a disclosure), for every provider; a straight-line issuer
//! (`floor/issue_straight_line`: the least work issuance does beyond that floor); and
//! the same three operations with the peer implementation `sd-jwt-rs` (on ring, through
//! `jsonwebtoken`), in the same run, on the same workload and keys.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::sync::Arc;

use credkit::crypto::{CryptoProvider, HashAlg, Signer, all_providers};
use credkit::jose::{Algorithm, PrivateJwk, PublicJwk};
use credkit::rand::{OsRandom, RandomSource};
use credkit::sd_jwt::{Credential, KeyBindingPolicy, SdJwtBuilder, StaticIssuerKeys, Verifier};
use credkit::time::FixedClock;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
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

/// The issuer's builder, from claims already in memory (the claims are the input, made
/// before the measured part in the `issue` benches, for every library alike).
fn builder(w: &Workload, claims: Map<String, Value>) -> SdJwtBuilder {
    let mut b = SdJwtBuilder::new(claims)
        .typ(Some("dc+sd-jwt"))
        .holder_key(w.holder.public().clone());
    for p in &w.sd {
        b = b.disclose(p).unwrap();
    }
    b
}

/// Issuance written straight, as a measuring stick below any correct issuer: the same salts
/// (one draw from the OS, zeroized), the same Disclosures (`["salt", "name", value]` in the
/// RFC's spacing), digests, the payload with `_sd`, `_sd_alg` and `cnf`, the same protected
/// header, base64url, one signature and the compact text. It checks nothing (reserved and
/// never-disclosable names, salt uniqueness, `cnf`), has no builder, takes its disclosable
/// names sorted, handles only top-level claims with at least one left in clear, SHA-256 and
/// ES256, and panics on anything else. The setup checks that credkit's verifier accepts what
/// it writes.
fn issue_straight_line(
    claims: Map<String, Value>,
    sd: &[String],
    header: &[u8],
    holder: &PublicJwk,
    signer: &dyn Signer,
) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let b64 = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut salts = zeroize::Zeroizing::new([0u8; 16 * 20]);
    OsRandom.fill(&mut *salts).unwrap();
    let mut salts = salts.chunks_exact(16);
    let mut payload = Vec::with_capacity(2048);
    let mut json = zeroize::Zeroizing::new(Vec::with_capacity(256));
    let mut disclosures: Vec<String> = Vec::with_capacity(sd.len());
    let mut digests: Vec<[u8; 32]> = Vec::with_capacity(sd.len());
    payload.push(b'{');
    for (name, value) in claims {
        // `sd` holds the disclosable names, sorted.
        if sd.binary_search(&name).is_ok() {
            json.clear();
            json.extend_from_slice(b"[\"");
            let mut salt = zeroize::Zeroizing::new([0u8; 22]);
            b64.encode_slice(salts.next().unwrap(), &mut *salt).unwrap();
            json.extend_from_slice(&*salt);
            json.extend_from_slice(b"\", ");
            serde_json::to_writer(&mut *json, &name).unwrap();
            json.extend_from_slice(b", ");
            serde_json::to_writer(&mut *json, &value).unwrap();
            json.push(b']');
            let mut d = String::with_capacity(json.len().div_ceil(3) * 4);
            b64.encode_string(&json, &mut d);
            digests.push(sha2::Sha256::digest(d.as_bytes()).into());
            disclosures.push(d);
        } else {
            if payload.len() > 1 {
                payload.push(b',');
            }
            serde_json::to_writer(&mut payload, &name).unwrap();
            payload.push(b':');
            serde_json::to_writer(&mut payload, &value).unwrap();
        }
    }
    digests.sort_unstable();
    payload.extend_from_slice(b",\"_sd\":[");
    let mut text = [0u8; 43];
    for (i, d) in digests.iter().enumerate() {
        if i > 0 {
            payload.push(b',');
        }
        b64.encode_slice(d, &mut text).unwrap();
        payload.push(b'"');
        payload.extend_from_slice(&text);
        payload.push(b'"');
    }
    payload.extend_from_slice(
        br#"],"_sd_alg":"sha-256","cnf":{"jwk":{"kty":"EC","crv":"P-256","x":""#,
    );
    b64.encode_slice(holder.x(), &mut text).unwrap();
    payload.extend_from_slice(&text);
    payload.extend_from_slice(br#"","y":""#);
    b64.encode_slice(holder.y().unwrap(), &mut text).unwrap();
    payload.extend_from_slice(&text);
    payload.extend_from_slice(br#""}}}"#);
    let mut out = String::with_capacity(4096);
    b64.encode_string(header, &mut out);
    out.push('.');
    b64.encode_string(&payload, &mut out);
    let sig = signer.sign(out.as_bytes()).unwrap();
    out.push('.');
    b64.encode_string(&sig, &mut out);
    for d in &disclosures {
        out.push('~');
        out.push_str(d);
    }
    out.push('~');
    out
}

fn bench_provider(c: &mut Criterion, provider: &'static dyn CryptoProvider) {
    let w = workload();
    let name = provider.name();
    let issuer = provider.signer(&w.issuer).unwrap();
    let holder = provider.signer(&w.holder).unwrap();
    let keys = Arc::new(StaticIssuerKeys::single(w.issuer.public(), provider).unwrap());
    let clock = Arc::new(FixedClock(NOW));
    let issued = builder(&w, w.claims.clone())
        .issue(&*issuer, &OsRandom)
        .unwrap()
        .to_string();
    let receive = Verifier::builder_with_clock(keys.clone(), clock.clone())
        .provider(provider)
        .key_binding(KeyBindingPolicy::Forbidden)
        .build()
        .unwrap();
    let credential = Credential::receive(&issued, &receive).unwrap();
    let mut sd_names: Vec<String> = w.sd.iter().map(|p| p[1..].to_owned()).collect();
    sd_names.sort_unstable();
    // The protected header credkit writes (`typ`, the issuer's `kid`, `alg`).
    let jwt = credential.sd_jwt().issuer_jwt().as_compact();
    let header = credkit::b64::decode(jwt.split('.').next().unwrap(), "header").unwrap();
    let straight = issue_straight_line(
        w.claims.clone(),
        &sd_names,
        &header,
        w.holder.public(),
        &*issuer,
    );
    let straight = Credential::receive(&straight, &receive).unwrap();
    assert_eq!(straight.sd_jwt().disclosures().len(), 20);
    assert_eq!(straight.claims(), credential.claims());
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
    // The claims are copied outside the measurement; the builder, its `disclose` calls,
    // issuance, the compact text and dropping it all are measured.
    g.bench_function("issue", |b| {
        b.iter_batched(
            || w.claims.clone(),
            |claims| {
                let issued = builder(&w, claims).issue(&*issuer, &OsRandom).unwrap();
                // The text an issuer sends, as sd-jwt-rs returns it.
                drop(black_box(issued.to_string()));
            },
            BatchSize::SmallInput,
        );
    });
    g.bench_function("present", |b| {
        b.iter(|| {
            credential
                .present(black_box(&present))
                .unwrap()
                .with_key_binding(&*holder, &w.aud, &w.nonce, NOW)
                .unwrap()
                // The text sent to the verifier, as sd-jwt-rs returns it.
                .to_string()
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
    // The same two operations over the issuer JWT's real signing input (`header.payload`,
    // ~1.6 KB): ES256 hashes what it signs, and that hashing is part of issuance and of
    // verification whatever the implementation.
    let jwt = credential.sd_jwt().issuer_jwt().as_compact();
    let signing_input = &jwt.as_bytes()[..jwt.rfind('.').unwrap()];
    let jwt_sig = issuer.sign(signing_input).unwrap();
    g.bench_function("floor/es256_sign_issuer_jwt", |b| {
        b.iter(|| issuer.sign(black_box(signing_input)).unwrap())
    });
    g.bench_function("floor/es256_verify_issuer_jwt", |b| {
        b.iter(|| vk.verify(black_box(signing_input), &jwt_sig).unwrap())
    });
    g.bench_function("floor/issue_straight_line", |b| {
        b.iter_batched(
            || w.claims.clone(),
            |claims| {
                drop(black_box(issue_straight_line(
                    claims,
                    &sd_names,
                    &header,
                    w.holder.public(),
                    &*issuer,
                )));
            },
            BatchSize::SmallInput,
        );
    });
    let disclosure = credential.sd_jwt().disclosures()[0].as_str().to_owned();
    g.bench_function("floor/sha256_disclosure", |b| {
        b.iter(|| HashAlg::Sha256.digest_b64(black_box(disclosure.as_bytes())));
    });
    g.finish();
}

/// `sd-jwt-rs` 0.7 on the same workload: the 20 claims selectively disclosable by JSONPath,
/// the holder key in `cnf`, 3 claims presented with a KB-JWT, verified with `aud` and
/// `nonce`. Keys are parsed once, outside the measured loops, as for credkit.
fn bench_sd_jwt_rs(c: &mut Criterion) {
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{DecodingKey, EncodingKey};
    use sd_jwt_rs::issuer::ClaimsForSelectiveDisclosureStrategy;
    use sd_jwt_rs::{SDJWTHolder, SDJWTIssuer, SDJWTSerializationFormat, SDJWTVerifier};

    let w = workload();
    let keys: Value = serde_json::from_str(KEYS).unwrap();
    let issuer_key =
        EncodingKey::from_ec_pem(include_bytes!("workload/issuer_priv_pkcs8.pem")).unwrap();
    let holder_key =
        EncodingKey::from_ec_pem(include_bytes!("workload/holder_priv_pkcs8.pem")).unwrap();
    let issuer_pub = DecodingKey::from_ec_pem(include_bytes!("workload/issuer_pub.pem")).unwrap();
    let mut holder_jwk = keys["holder"].clone();
    holder_jwk.as_object_mut().unwrap().remove("d");
    let holder_jwk: Jwk = serde_json::from_value(holder_jwk).unwrap();
    let paths: Vec<String> = w.sd.iter().map(|p| format!("$.{}", &p[1..])).collect();
    let claims = Value::Object(w.claims.clone());
    let issue = |issuer: &mut SDJWTIssuer, claims: Value| {
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        issuer
            .issue_sd_jwt(
                claims,
                ClaimsForSelectiveDisclosureStrategy::Custom(paths),
                Some(holder_jwk.clone()),
                false,
                SDJWTSerializationFormat::Compact,
            )
            .unwrap()
    };
    let mut issuer = SDJWTIssuer::new(issuer_key, Some("ES256".into()));
    let issued = issue(&mut issuer, claims.clone());
    let disclose: Map<String, Value> = w
        .present
        .iter()
        .map(|p| (p[1..].to_owned(), Value::Bool(true)))
        .collect();
    let mut holder = SDJWTHolder::new(issued, SDJWTSerializationFormat::Compact).unwrap();
    let mut present = || {
        holder
            .create_presentation(
                disclose.clone(),
                Some(w.nonce.clone()),
                Some(w.aud.clone()),
                Some(holder_key.clone()),
                Some("ES256".into()),
            )
            .unwrap()
    };
    let presentation = present();
    let verify = |p: &str| {
        let key = issuer_pub.clone();
        SDJWTVerifier::new(
            p.to_owned(),
            Box::new(move |_, _| key.clone()),
            Some(w.aud.clone()),
            Some(w.nonce.clone()),
            SDJWTSerializationFormat::Compact,
        )
        .unwrap()
    };
    let checked = verify(&presentation);
    assert_eq!(
        checked.verified_claims["given_name"], w.claims["given_name"],
        "sd-jwt-rs must verify the disclosed claims"
    );

    let mut g = c.benchmark_group("pid/sd-jwt-rs");
    g.bench_function("issue", |b| {
        b.iter_batched(
            || claims.clone(),
            |claims| drop(issue(&mut issuer, claims)),
            BatchSize::SmallInput,
        );
    });
    g.bench_function("present", |b| b.iter(&mut present));
    g.bench_function("verify", |b| b.iter(|| verify(black_box(&presentation))));
    g.finish();

    // sd-jwt-rs's own floor: ring's ES256, which jsonwebtoken uses (the key parsed once).
    use ring::signature::{self as rsig, KeyPair as _};
    let pkcs8 = pem_body(include_str!("workload/issuer_priv_pkcs8.pem"));
    let rng = ring::rand::SystemRandom::new();
    let pair = rsig::EcdsaKeyPair::from_pkcs8(&rsig::ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
        .unwrap();
    // ring has no parsed-key type: it parses the point on every verification, as
    // jsonwebtoken does.
    let public = rsig::UnparsedPublicKey::new(
        &rsig::ECDSA_P256_SHA256_FIXED,
        pair.public_key().as_ref().to_vec(),
    );
    let msg = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0";
    let sig = pair.sign(&rng, msg).unwrap();
    public.verify(msg, sig.as_ref()).unwrap();
    let mut g = c.benchmark_group("pid/ring");
    g.bench_function("floor/es256_sign", |b| {
        b.iter(|| pair.sign(&rng, black_box(msg)).unwrap())
    });
    g.bench_function("floor/es256_verify", |b| {
        b.iter(|| public.verify(black_box(msg), sig.as_ref()).unwrap())
    });
    // Over sd-jwt-rs's own issuer JWT signing input, as for credkit.
    let issued_jwt = issue(&mut issuer, claims.clone());
    let issued_jwt = issued_jwt.split('~').next().unwrap();
    let signing_input = &issued_jwt.as_bytes()[..issued_jwt.rfind('.').unwrap()];
    let jwt_sig = pair.sign(&rng, signing_input).unwrap();
    g.bench_function("floor/es256_sign_issuer_jwt", |b| {
        b.iter(|| pair.sign(&rng, black_box(signing_input)).unwrap())
    });
    g.bench_function("floor/es256_verify_issuer_jwt", |b| {
        b.iter(|| {
            public
                .verify(black_box(signing_input), jwt_sig.as_ref())
                .unwrap()
        })
    });
    g.finish();
}

/// The DER body of a PEM document.
fn pem_body(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64ct::Encoding as _;
    base64ct::Base64::decode_vec(&b64).unwrap()
}

fn benches(c: &mut Criterion) {
    for p in all_providers() {
        bench_provider(c, p);
    }
    bench_sd_jwt_rs(c);
}

criterion_group!(pid, benches);
criterion_main!(pid);
