//! Key Binding JWT verification (RFC 9901 §7.3 step 5) behind *valid* signatures: a fixed,
//! validly issued SD-JWT with a holder key in `cnf`, presented with a KB-JWT whose header
//! and payload JSON texts come from the fuzzer (`header\npayload`), signed here. In either
//! text, `#h` becomes the correct `sd_hash` of what is presented. The first byte picks how
//! many of the three Disclosures are presented (bits 0–1) and whether the KB-JWT is signed
//! with a key other than the holder's (bit 2).
//!
//! Checked on success, independently of credkit's parser: the right key signed, `typ` is
//! `kb+jwt` (as media types compare), `alg` is `ES256`, `aud`, `nonce` and `sd_hash` are exactly the expected
//! strings, `iat` is within the verifier's window, and the verified result reports them.
#![no_main]
use std::sync::{Arc, OnceLock};

use credkit::b64;
use credkit::crypto::{HashAlg, Signer, default_provider};
use credkit::jose::PrivateJwk;
use credkit::rand::RandomSource;
use credkit::sd_jwt::{KeyBindingPolicy, SdJwtBuilder, StaticIssuerKeys, Verifier};
use credkit::time::FixedClock;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

// Only its issuer key is used here.
#[allow(dead_code)]
#[path = "signed_issuer.rs"]
mod signed_issuer;
use signed_issuer::ISSUER;

const HOLDER: &str = r#"{"crv":"P-256","d":"X6SsQYySnYle3vfQw5SQA6SsSbO5YuWt7DYeej3YUh0","kty":"EC","x":"Hopq1beiyAeel1yOhOJJ7mORTRXNkU8iXlVrSL3d_Cw","y":"cip1XZ8274TIfgfphESGWHcBslbxYo2rcBWbgHmW8vw"}"#;
const NOW: i64 = 1_700_000_000;
const AUD: &str = "https://v.example";
const NONCE: &str = "n-0S6_WzA2Mj";
/// The verifier's defaults: 60 s of leeway, KB-JWTs at most 300 s old.
const LEEWAY: i64 = 60;
const MAX_AGE: i64 = 300;

/// Deterministic salts, so that a crash reproduces byte for byte.
#[derive(Debug)]
struct Counter(std::sync::atomic::AtomicU8);

impl RandomSource for Counter {
    fn fill(&self, buf: &mut [u8]) -> credkit::Result<()> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        buf.fill(n);
        Ok(())
    }
}

struct Setup {
    /// `issuer-jwt~` and the three Disclosures.
    jwt: String,
    disclosures: Vec<String>,
    holder: Arc<dyn Signer>,
    other: Arc<dyn Signer>,
    verifier: Verifier,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let issuer = PrivateJwk::parse(ISSUER).expect("issuer key");
        let holder = PrivateJwk::parse(HOLDER).expect("holder key");
        let p = default_provider();
        let issuer_signer = p.signer(&issuer).expect("issuer signer");
        let claims = json!({
            "iss": "https://issuer.example",
            "given_name": "Erika",
            "family_name": "Mustermann",
            "address": {"locality": "Berlin", "country": "DE"}
        });
        let sd_jwt = SdJwtBuilder::new(claims.as_object().cloned().expect("object"))
            .holder_key(holder.public().clone())
            .disclose("/given_name")
            .and_then(|b| b.disclose("/family_name"))
            .and_then(|b| b.disclose("/address/locality"))
            .expect("pointers")
            .issue(&*issuer_signer, &Counter(0.into()))
            .expect("issue");
        let keys = StaticIssuerKeys::single(issuer.public(), p).expect("keys");
        let verifier = Verifier::builder_with_clock(Arc::new(keys), Arc::new(FixedClock(NOW)))
            .key_binding(KeyBindingPolicy::Required { audience: AUD.into(), nonce: NONCE.into() })
            .build()
            .expect("verifier");
        Setup {
            jwt: format!("{}~", sd_jwt.issuer_jwt().as_compact()),
            disclosures: sd_jwt.disclosures().iter().map(|d| d.as_str().to_owned()).collect(),
            holder: p.signer(&holder).expect("holder signer"),
            // A valid P-256 key that is not the holder's.
            other: issuer_signer,
            verifier,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Some((header, payload)) = text.split_once('\n') else {
        return;
    };
    let s = setup();
    let presented = usize::from(flags & 3).min(s.disclosures.len());
    let wrong_key = flags & 4 != 0;
    let mut prefix = s.jwt.clone();
    for d in s.disclosures.iter().take(presented) {
        prefix.push_str(d);
        prefix.push('~');
    }
    let sd_hash = HashAlg::Sha256.digest_b64(prefix.as_bytes());
    let header = header.replace("#h", &sd_hash);
    let payload = payload.replace("#h", &sd_hash);
    let input = format!(
        "{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload.as_bytes())
    );
    let signer = if wrong_key { &s.other } else { &s.holder };
    let Ok(sig) = signer.sign(input.as_bytes()) else {
        return;
    };
    let presentation = format!("{prefix}{input}.{}", b64::encode(&sig));
    let Ok(v) = s.verifier.verify(&presentation) else {
        return;
    };
    assert!(!wrong_key, "a KB-JWT signed by another key was accepted");
    assert_eq!(v.disclosed.len(), presented);
    let h: Value = serde_json::from_str(&header).expect("accepted header is JSON");
    let p: Value = serde_json::from_str(&payload).expect("accepted payload is JSON");
    // Media types compare case-insensitively, with or without `application/` (RFC 7515
    // §4.1.9).
    let typ = h["typ"].as_str().expect("typ is a string").to_ascii_lowercase();
    assert!(typ == "kb+jwt" || typ == "application/kb+jwt", "typ {typ}");
    assert_eq!(h["alg"], "ES256", "alg");
    assert_eq!(p["aud"], AUD, "aud");
    assert_eq!(p["nonce"], NONCE, "nonce");
    assert_eq!(p["sd_hash"], sd_hash.as_str(), "sd_hash");
    // NumericDates may have fractions; the window applies to whole seconds.
    let iat = p["iat"].as_f64().expect("iat is a number").floor();
    assert!(iat <= (NOW + LEEWAY) as f64 && iat >= (NOW - MAX_AGE - LEEWAY) as f64, "iat {iat}");
    let kb = v.key_binding.expect("key binding reported");
    assert_eq!((kb.audience.as_str(), kb.nonce.as_str()), (AUD, NONCE));
    assert_eq!(kb.issued_at as f64, iat, "reported iat");
});
