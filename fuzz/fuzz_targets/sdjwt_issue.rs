//! Issuance round trip. The input drives an `arbitrary` generator of claim trees (names
//! with characters JSON escapes, non-ASCII text, numbers, nested objects and arrays, reserved
//! and never-disclosable names now and then), a choice of pointers to make disclosable (or
//! `disclose_all`), decoys, the hash and a holder key. The SD-JWT is issued with a fixed key
//! and received by credkit's verifier.
//!
//! Oracle, from the claims alone:
//! - issuance fails exactly when a reserved name (`_sd`, `...`, `_sd_alg`) is anywhere in the
//!   claims, or `cnf` is among them while a holder key is given; `disclose` refuses exactly
//!   the never-disclosable names of RFC 9901 §9.7 (`aud` itself, not its entries);
//! - otherwise the verifier accepts it, and the claims it gives are the issuer's claims
//!   (with `cnf` when a holder key was given);
//! - the holder sees exactly the chosen claims as disclosable, so no chosen claim stays in
//!   clear in the payload;
//! - the payload's text is what `serde_json` writes for its members.
#![no_main]
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use credkit::crypto::HashAlg;
use credkit::jose::PrivateJwk;
use credkit::rand::OsRandom;
use credkit::sd_jwt::{
    Credential, KeyBindingPolicy, NEVER_DISCLOSABLE, SdJwtBuilder, StaticIssuerKeys, Verifier,
    pointer,
};
use credkit::time::FixedClock;
use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

#[path = "signed_issuer.rs"]
mod signed_issuer;
use signed_issuer::{ISSUER, setup};

/// Names, escapes and non-ASCII included. The time claims are left out: the verifier checks
/// them against its clock, which is not what this target is about.
const NAMES: [&str; 16] = [
    "a", "b", "c", "", "a/b", "m~n", "~1", "q\"t", "b\\s", "\u{1}", "\u{fc}", "\u{1f600}",
    "\u{2028}", "iss", "aud", "cnf",
];
const RESERVED: [&str; 3] = ["_sd", "...", "_sd_alg"];

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let key = PrivateJwk::parse(ISSUER).expect("key");
        let provider = credkit::crypto::default_provider();
        let keys = StaticIssuerKeys::single(key.public(), provider).expect("keys");
        Verifier::builder_with_clock(Arc::new(keys), Arc::new(FixedClock(1_700_000_000)))
            .key_binding(KeyBindingPolicy::Forbidden)
            .sd_algs(&HashAlg::ALL)
            .build()
            .expect("verifier")
    })
}

fn name(u: &mut Unstructured<'_>) -> ArbResult<String> {
    Ok(if u.ratio(1, 24)? {
        (*u.choose(&RESERVED)?).to_owned()
    } else if u.ratio(3, 4)? {
        (*u.choose(&NAMES)?).to_owned()
    } else {
        let n = u.int_in_range(0..=4)?;
        (0..n).map(|_| u.arbitrary::<char>()).collect::<ArbResult<String>>()?
    })
}

fn leaf(u: &mut Unstructured<'_>) -> ArbResult<Value> {
    Ok(match u.int_in_range(0..=5)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.arbitrary::<i64>()?),
        3 => json!(u.arbitrary::<u64>()?),
        4 => serde_json::Number::from_f64(f64::from(u.int_in_range(-64i32..=64)?) / 8.0)
            .map_or(Value::Null, Value::Number),
        _ => {
            let n = u.int_in_range(0..=6)?;
            Value::String((0..n).map(|_| u.arbitrary::<char>()).collect::<ArbResult<_>>()?)
        }
    })
}

fn value(u: &mut Unstructured<'_>, depth: u32) -> ArbResult<Value> {
    if depth == 0 || u.ratio(1, 2)? {
        return leaf(u);
    }
    Ok(if u.ratio(1, 2)? {
        Value::Object(object(u, depth - 1)?)
    } else {
        let n = u.int_in_range(0..=3)?;
        Value::Array((0..n).map(|_| value(u, depth - 1)).collect::<ArbResult<_>>()?)
    })
}

fn object(u: &mut Unstructured<'_>, depth: u32) -> ArbResult<Map<String, Value>> {
    let mut m = Map::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let k = name(u)?;
        let v = value(u, depth)?;
        m.insert(k, v);
    }
    Ok(m)
}

fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = pointer::push(at, k);
                out.push(p.clone());
                pointers(v, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, &p, out);
            }
        }
        _ => {}
    }
}

fn has_reserved(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            m.keys().any(|k| RESERVED.contains(&k.as_str())) || m.values().any(has_reserved)
        }
        Value::Array(a) => a.iter().any(has_reserved),
        _ => false,
    }
}

/// The first token of a pointer, unescaped (RFC 6901: `~1` before `~0`). Written here
/// rather than taken from `credkit::sd_jwt::pointer::tokens`, which `disclose` uses: the
/// oracle must not share the code it checks.
fn first(p: &str) -> String {
    let t = p.get(1..).unwrap_or_default();
    let t = t.split('/').next().unwrap_or_default();
    t.replace("~1", "/").replace("~0", "~")
}

fn run(data: &[u8]) -> ArbResult<()> {
    let mut u = Unstructured::new(data);
    let (signer, _) = setup();
    let holder = signer.public_jwk().clone();
    // Never-disclosable claims (`iss`, `cnf`) get any value, reserved names inside included:
    // the issuer keeps them whole, and must still refuse what a verifier would misread.
    let claims = object(&mut u, 3)?;
    let tree = Value::Object(claims.clone());
    let mut all = Vec::new();
    pointers(&tree, "", &mut all);
    let disclose_all = u.ratio(1, 8)?;
    let bound = u.arbitrary::<bool>()?;
    let decoys = u.int_in_range(0..=3)?;
    let hash = *u.choose(&HashAlg::ALL)?;

    let mut b = SdJwtBuilder::new(claims.clone()).decoys(decoys).hash(hash);
    if bound {
        b = b.holder_key(holder.clone());
    }
    let mut chosen = BTreeSet::new();
    for p in &all {
        if !u.ratio(1, 2)? {
            continue;
        }
        let top = first(p);
        let refused = NEVER_DISCLOSABLE.contains(&top.as_str()) && (top != "aud" || p == "/aud");
        match b.clone().disclose(p) {
            Ok(next) => {
                assert!(!refused, "{p} was accepted");
                b = next;
                chosen.insert(p.clone());
            }
            Err(e) => {
                assert!(refused, "{p}: {e}");
                assert_eq!(e.code(), "not_selectively_disclosable", "{p}");
            }
        }
    }
    if disclose_all {
        b = b.disclose_all();
        chosen = all
            .iter()
            .filter(|p| {
                let top = first(p);
                let frozen = NEVER_DISCLOSABLE.contains(&top.as_str()) && top != "aud";
                !frozen && p.as_str() != "/aud"
            })
            .cloned()
            .collect();
    }
    let refused = has_reserved(&tree) || (bound && claims.contains_key("cnf"));
    let issued = match b.issue(&**signer, &OsRandom) {
        Ok(issued) => {
            assert!(!refused, "issued despite reserved names: {tree}");
            issued
        }
        Err(e) => {
            assert!(refused, "refused: {e} for {tree}");
            assert_eq!(e.code(), "invalid_claims", "{tree}");
            return Ok(());
        }
    };
    let text = issued.to_string();
    let cred = match Credential::receive(&text, verifier()) {
        Ok(c) => c,
        Err(e) => panic!("credkit's verifier refused what credkit issued: {e} for {tree}"),
    };
    let mut expected = claims;
    if bound {
        expected.insert("cnf".into(), json!({ "jwk": holder.minimal_json() }));
    }
    assert_eq!(cred.claims(), &expected);
    let seen: BTreeSet<String> = cred.disclosable_claims().into_iter().map(|c| c.pointer).collect();
    assert_eq!(seen, chosen, "{tree}");
    let jwt = issued.issuer_jwt();
    let payload = jwt.payload();
    let reparsed: Map<String, Value> = serde_json::from_slice(payload).expect("payload JSON");
    assert_eq!(serde_json::to_vec(&reparsed).expect("serialise"), payload);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
