//! Disclosure processing (RFC 9901 §7.1 steps 3–5) behind a *valid* issuer signature: the
//! input is a payload and up to five Disclosures, one per line, which this target encodes,
//! links and signs, so the fuzzer reaches past the signature check that stops
//! `sdjwt_verify`. In any JSON text, `#j` becomes the digest of Disclosure `j` (a Disclosure
//! may name only the ones after it), so the fuzzer can build nested and repeated
//! references. The first byte picks how many Disclosures are presented.
//!
//! Checked on success: every Disclosure was placed once, and no `_sd`, `_sd_alg` or `...`
//! member is left anywhere in the processed claims.
#![no_main]
use credkit::b64;
use credkit::crypto::HashAlg;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[path = "signed_issuer.rs"]
mod signed_issuer;
use signed_issuer::setup;

fn link(text: &str, digests: &[String], from: usize) -> String {
    let mut out = text.to_owned();
    for j in (from..digests.len()).rev() {
        out = out.replace(&format!("#{j}"), &digests[j]);
    }
    out
}

fn no_reserved(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .all(|(k, v)| k != "_sd" && k != "_sd_alg" && k != "..." && no_reserved(v)),
        Value::Array(a) => a.iter().all(no_reserved),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut parts = text.splitn(7, '\n');
    let Some(payload) = parts.next() else {
        return;
    };
    let texts: Vec<&str> = parts.take(5).collect();
    // Encode from the last so that each Disclosure can name the ones after it.
    let mut digests = vec![String::new(); texts.len()];
    let mut encoded = vec![String::new(); texts.len()];
    for i in (0..texts.len()).rev() {
        let linked = link(texts[i], &digests, i + 1);
        encoded[i] = b64::encode(linked.as_bytes());
        digests[i] = HashAlg::Sha256.digest_b64(encoded[i].as_bytes());
    }
    let payload = link(payload, &digests, 0);
    let (signer, verifier) = setup();
    let input = format!(
        "{}.{}",
        b64::encode(br#"{"alg":"ES256","typ":"sd-jwt"}"#),
        b64::encode(payload.as_bytes())
    );
    let Ok(sig) = signer.sign(input.as_bytes()) else {
        return;
    };
    let presented = usize::from(first) % (encoded.len() + 1);
    let mut sd_jwt = format!("{input}.{}~", b64::encode(&sig));
    for e in encoded.iter().take(presented) {
        sd_jwt.push_str(e);
        sd_jwt.push('~');
    }
    if let Ok(v) = verifier.verify(&sd_jwt) {
        assert_eq!(v.disclosed.len(), presented, "a Disclosure was not placed exactly once");
        for c in v.claims.values() {
            assert!(no_reserved(c), "a reserved member survived processing");
        }
        assert!(
            !v.claims.contains_key("_sd") && !v.claims.contains_key("_sd_alg") && !v.claims.contains_key("..."),
            "a reserved member survived processing"
        );
    }
});
