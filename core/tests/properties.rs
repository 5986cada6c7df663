//! Property tests of the SD-JWT issue → receive → present → verify cycle (ATTACKS.md G4):
//! (a) random claim trees and random disclosable / presented subsets reveal exactly what was
//!     selected, checked against an independently computed expected payload;
//! (b) any single-byte change of a compact SD-JWT+KB is rejected;
//! (c) Disclosure order: with KB a permutation breaks `sd_hash`, without KB it changes nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]
#![allow(missing_docs)]

mod common;
use common::{STD_SD, join, split};

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use credkit::crypto::{Signer, default_provider};
use credkit::jose::{Algorithm, PrivateJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{Credential, SdJwtBuilder, StaticIssuerKeys, Verifier, danger};
use credkit::time::FixedClock;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NOW: i64 = 1_700_000_000;
const ISS: &str = "https://issuer.example";
const AUD: &str = "https://verifier.example";
const NONCE: &str = "n-0S6_WzA2Mj";

/// Names the generator never uses: reserved by RFC 9901 or never selectively disclosable /
/// validated by the verifier.
const EXCLUDED: [&str; 9] = [
    "iss", "aud", "exp", "nbf", "cnf", "iat", "_sd", "_sd_alg", "...",
];

struct Fx {
    issuer_signer: Arc<dyn Signer>,
    holder: PrivateJwk,
    holder_signer: Arc<dyn Signer>,
    kb_verifier: Verifier,
    plain_verifier: Verifier,
}

fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| {
        let p = default_provider();
        let issuer = p.generate(Algorithm::Es256, &OsRandom).unwrap();
        let holder = p.generate(Algorithm::Es256, &OsRandom).unwrap();
        let keys = Arc::new(StaticIssuerKeys::single(issuer.public(), p).unwrap());
        let clock = Arc::new(FixedClock(NOW));
        Fx {
            issuer_signer: p.signer(&issuer).unwrap(),
            holder_signer: p.signer(&holder).unwrap(),
            holder,
            kb_verifier: Verifier::builder_with_clock(keys.clone(), clock.clone())
                .require_key_binding(AUD, NONCE)
                .build()
                .unwrap(),
            plain_verifier: Verifier::builder_with_clock(keys, clock)
                .key_binding(danger::key_binding_optional())
                .build()
                .unwrap(),
        }
    })
}

fn fixed_claims() -> Map<String, Value> {
    json!({"iss": ISS, "iat": NOW - 100, "exp": NOW + 3600})
        .as_object()
        .unwrap()
        .clone()
}

fn cnf() -> Value {
    json!({ "jwk": Value::Object(fx().holder.public().minimal_json()) })
}

// --- independent JSON Pointer helpers (RFC 6901) ---------------------------------------------

fn esc(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn within(pointer: &str, ancestor: &str) -> bool {
    pointer == ancestor
        || pointer
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn all_pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{at}/{}", esc(k));
                out.push(p.clone());
                all_pointers(c, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                all_pointers(c, &p, out);
            }
        }
        _ => {}
    }
}

/// The payload a verifier must see: every disclosable node that is not revealed is removed
/// with its subtree (array elements shift left). `moved` collects, for each revealed node, its
/// pointer in the reduced payload.
fn reduce(
    v: &Value,
    at: &str,
    out_at: &str,
    disclosable: &BTreeSet<String>,
    revealed: &BTreeSet<String>,
    moved: &mut Vec<String>,
) -> Value {
    let hidden = |p: &str| disclosable.contains(p) && !revealed.contains(p);
    match v {
        Value::Object(m) => {
            let mut o = Map::new();
            for (k, c) in m {
                let p = format!("{at}/{}", esc(k));
                if hidden(&p) {
                    continue;
                }
                let q = format!("{out_at}/{}", esc(k));
                if revealed.contains(&p) {
                    moved.push(q.clone());
                }
                o.insert(k.clone(), reduce(c, &p, &q, disclosable, revealed, moved));
            }
            Value::Object(o)
        }
        Value::Array(a) => {
            let mut out = Vec::new();
            for (i, c) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                if hidden(&p) {
                    continue;
                }
                let q = format!("{out_at}/{}", out.len());
                if revealed.contains(&p) {
                    moved.push(q.clone());
                }
                out.push(reduce(c, &p, &q, disclosable, revealed, moved));
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

// --- generators ------------------------------------------------------------------------------

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-z]{1,3}".prop_filter("excluded name", |n| !EXCLUDED.contains(&n.as_str())),
        1 => Just("a/b".to_owned()),
        1 => Just("m~n".to_owned()),
        1 => Just(String::new()),
        1 => Just("\u{fc}".to_owned()),
        // Characters JSON escapes, in names the issuer writes as text.
        1 => Just("q\"\\\u{1}\u{2028}".to_owned()),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000i64..1000).prop_map(Value::from),
        "[a-zA-Z0-9 ]{0,6}".prop_map(Value::String),
        "[\"\\\\\u{0}-\u{1f}\u{fc}\u{2028}\u{1f600}]{0,4}".prop_map(Value::String),
    ]
}

/// Values nested at most 3 deep below a top-level claim (so the payload is at most 4 deep).
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(name(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A claim tree, its pointers, which are disclosable, which are presented, and a decoy count.
/// Claims, disclosable pointers, which are disclosable, which are presented, a seed.
type Case = (Map<String, Value>, Vec<String>, Vec<bool>, Vec<bool>, usize);

fn case() -> impl Strategy<Value = Case> {
    prop::collection::btree_map(name(), value(), 1..5)
        .prop_map(|m| m.into_iter().collect::<Map<String, Value>>())
        .prop_flat_map(|claims| {
            let mut ptrs = Vec::new();
            all_pointers(&Value::Object(claims.clone()), "", &mut ptrs);
            let n = ptrs.len();
            (
                Just(claims),
                Just(ptrs),
                prop::collection::vec(prop::bool::weighted(0.6), n),
                prop::collection::vec(prop::bool::weighted(0.3), n),
                0usize..3,
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// (a) The verifier sees exactly the selected claims, their ancestors and the always
    /// visible claims, and `disclosed` lists exactly the revealed Disclosures.
    #[test]
    fn round_trip_reveals_exactly_the_selection(
        (tree, ptrs, sd_mask, sel_mask, decoys) in case()
    ) {
        let disclosable: BTreeSet<String> =
            ptrs.iter().zip(&sd_mask).filter(|(_, m)| **m).map(|(p, _)| p.clone()).collect();
        let selected: Vec<String> =
            ptrs.iter().zip(&sel_mask).filter(|(_, m)| **m).map(|(p, _)| p.clone()).collect();
        let mut claims = fixed_claims();
        claims.extend(tree);

        // Issue.
        let mut b = SdJwtBuilder::new(claims.clone());
        for p in &disclosable {
            b = b.disclose(p).unwrap();
        }
        let issued = b
            .decoys(decoys)
            .holder_key(fx().holder.public().clone())
            .issue(&*fx().issuer_signer, &OsRandom)
            .unwrap()
            .to_string();

        // Receive: the holder sees everything and knows what is disclosable.
        let cred = Credential::receive(&issued, &fx().plain_verifier).unwrap();
        let mut everything = claims.clone();
        everything.insert("cnf".into(), cnf());
        prop_assert_eq!(cred.claims(), &everything);
        let holder_view: BTreeSet<String> = cred.disclosable_claims().into_iter().map(|c| c.pointer).collect();
        prop_assert_eq!(&holder_view, &disclosable);

        // Present with Key Binding.
        let refs: Vec<&str> = selected.iter().map(String::as_str).collect();
        let pres = cred.present(&refs).unwrap();
        let revealed: BTreeSet<String> = disclosable
            .iter()
            .filter(|d| selected.iter().any(|p| within(d, p) || within(p, d)))
            .cloned()
            .collect();
        prop_assert_eq!(pres.sd_jwt().disclosures().len(), revealed.len());
        let text = pres.with_key_binding(&*fx().holder_signer, AUD, NONCE, NOW).unwrap();

        // Verify.
        let v = fx().kb_verifier.verify(&text);
        prop_assert!(v.is_ok(), "{:?}", v);
        let v = v.unwrap();
        let mut moved = Vec::new();
        let Value::Object(mut expected) =
            reduce(&Value::Object(claims), "", "", &disclosable, &revealed, &mut moved)
        else {
            unreachable!()
        };
        expected.insert("cnf".into(), cnf());
        prop_assert_eq!(&v.claims, &expected);
        let mut got = v.disclosed.clone();
        got.sort();
        moved.sort();
        prop_assert_eq!(got, moved);
        prop_assert!(v.key_binding.is_some());
    }
}

/// A fixed SD-JWT+KB with object, nested and array-element Disclosures.
fn fixed_presentation() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| {
        let mut claims = fixed_claims();
        claims.extend(
            json!({
                "given_name": "Erika", "family_name": "Mustermann",
                "address": {"locality": "Berlin", "country": "DE"},
                "nationalities": ["DE", "FR"]
            })
            .as_object()
            .unwrap()
            .clone(),
        );
        let issued = SdJwtBuilder::new(claims)
            .disclose("/given_name")
            .unwrap()
            .disclose("/family_name")
            .unwrap()
            .disclose("/address")
            .unwrap()
            .disclose("/address/locality")
            .unwrap()
            .disclose("/nationalities/1")
            .unwrap()
            .decoys(1)
            .holder_key(fx().holder.public().clone())
            .issue(&*fx().issuer_signer, &OsRandom)
            .unwrap()
            .to_string();
        let text = Credential::receive(&issued, &fx().plain_verifier)
            .unwrap()
            .present(&["/given_name", "/address/locality", "/nationalities/1"])
            .unwrap()
            .with_key_binding(&*fx().holder_signer, AUD, NONCE, NOW)
            .unwrap();
        fx().kb_verifier.verify(&text).unwrap();
        text
    })
}

fn replacement_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()),
        2 => 0x20u8..0x7f,
        1 => any::<u8>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// (b) Any single-byte substitution anywhere in an SD-JWT+KB never verifies.
    #[test]
    fn single_byte_change_is_rejected(pos in any::<prop::sample::Index>(), byte in replacement_byte()) {
        let original = fixed_presentation();
        let mut bytes = original.as_bytes().to_vec();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        // Bytes that are not UTF-8 cannot even be handed to the verifier.
        if let Ok(text) = String::from_utf8(bytes) {
            let r = fx().kb_verifier.verify(&text);
            prop_assert!(r.is_err(), "byte {} -> {:?} accepted", i, byte as char);
            // Nor does a lenient policy accept it.
            prop_assert!(fx().plain_verifier.verify(&text).is_err(), "byte {} accepted without KB policy", i);
        }
    }
}

fn permutation_credential() -> &'static Credential {
    static C: OnceLock<Credential> = OnceLock::new();
    C.get_or_init(|| {
        let mut claims = fixed_claims();
        claims.extend(
            json!({
                "given_name": "Erika", "family_name": "Mustermann",
                "address": {"street_address": "Heidestrasse 17", "locality": "Koeln", "country": "DE"},
                "nationalities": ["DE", "FR", "US"]
            })
            .as_object()
            .unwrap()
            .clone(),
        );
        let mut b = SdJwtBuilder::new(claims);
        for p in STD_SD {
            b = b.disclose(p).unwrap();
        }
        let issued = b
            .decoys(2)
            .holder_key(fx().holder.public().clone())
            .issue(&*fx().issuer_signer, &OsRandom)
            .unwrap()
            .to_string();
        Credential::receive(&issued, &fx().plain_verifier).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// (c) Reordering the presented Disclosures: with KB `sd_hash_mismatch`, without KB the
    /// same processed claims and the same disclosed set.
    #[test]
    fn disclosure_permutation(
        selection in prop::sample::subsequence(STD_SD.to_vec(), 2..=STD_SD.len()),
        keys in prop::collection::vec(any::<u64>(), STD_SD.len()),
    ) {
        let pres = permutation_credential().present(&selection).unwrap();
        let with_kb = pres.with_key_binding(&*fx().holder_signer, AUD, NONCE, NOW).unwrap();
        let (jwt, ds, kb) = split(&with_kb);
        prop_assert!(ds.len() >= 2);
        let mut order: Vec<usize> = (0..ds.len()).collect();
        order.sort_by_key(|i| keys[*i]);
        let permuted: Vec<String> = order.iter().map(|i| ds[*i].clone()).collect();
        prop_assume!(permuted != ds);

        // With KB.
        prop_assert!(fx().kb_verifier.verify(&with_kb).is_ok());
        let r = fx().kb_verifier.verify(&join(&jwt, &permuted, &kb));
        prop_assert_eq!(r.map(|_| ()).unwrap_err().code(), "sd_hash_mismatch");

        // Without KB.
        let original = fx().plain_verifier.verify(&join(&jwt, &ds, "")).unwrap();
        let shuffled = fx().plain_verifier.verify(&join(&jwt, &permuted, "")).unwrap();
        prop_assert_eq!(&original.claims, &shuffled.claims);
        let (mut a, mut b) = (original.disclosed.clone(), shuffled.disclosed.clone());
        a.sort();
        b.sort();
        prop_assert_eq!(a, b);
    }
}
