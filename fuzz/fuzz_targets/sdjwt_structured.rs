//! Structure-aware SD-JWT processing with a reference model. The input drives an `arbitrary`
//! generator of JSON trees: a payload and up to six Disclosures whose values hold `_sd`
//! arrays and `{"...": digest}` elements naming real Disclosures (a Disclosure names only
//! later ones, so every digest can be computed), decoys and repeated digests, reserved
//! names, and which Disclosures are presented, in which order. The payload is signed with a
//! fixed key, so every input reaches Disclosure processing.
//!
//! Oracle: a small, independent implementation of RFC 9901 §7.1 steps 3–5. Whenever credkit
//! accepts, the model must not have found a reason the RFC gives to reject, and the
//! processed claims must be exactly the model's; whenever the model accepts, credkit must
//! too. Where the RFC leaves a case open, the model says "unknown" and nothing is asserted.
#![no_main]
use std::collections::HashMap;

use credkit::b64;
use credkit::crypto::HashAlg;
use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

#[path = "signed_issuer.rs"]
mod signed_issuer;
use signed_issuer::setup;

const KEYS: [&str; 5] = ["a", "b", "c", "iss", "n"];
/// Reserved names, picked rarely: credkit refuses most places they can appear.
const RESERVED: [&str; 3] = ["_sd", "...", "_sd_alg"];

/// A generator of JSON trees naming Disclosures by digest. Each digest is usually named
/// once (taken from `pool`), sometimes again (from `named`), to reach deep valid trees as
/// well as repetitions.
struct Gen<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    /// Digests of Disclosures not named yet.
    pool: &'a mut Vec<String>,
    /// Digests named so far.
    named: &'a mut Vec<String>,
    /// Decoys made so far (each is new unless the input asks for a repeat).
    decoys: u32,
}

impl Gen<'_, '_> {
    fn key(&mut self) -> ArbResult<String> {
        Ok(if self.u.ratio(1, 16)? {
            (*self.u.choose(&RESERVED)?).to_owned()
        } else if self.u.ratio(3, 4)? {
            (*self.u.choose(&KEYS)?).to_owned()
        } else {
            let n = self.u.int_in_range(0..=3)?;
            (0..n).map(|_| self.u.int_in_range(b'a'..=b'e').map(char::from)).collect::<ArbResult<String>>()?
        })
    }

    /// A digest string: a Disclosure's (usually one not named yet), a decoy, or (rarely)
    /// not a string at all.
    fn digest(&mut self) -> ArbResult<Value> {
        Ok(match self.u.int_in_range(0..=15)? {
            0..=9 if !self.pool.is_empty() => {
                let d = self.pool.swap_remove(self.u.choose_index(self.pool.len())?);
                self.named.push(d.clone());
                Value::String(d)
            }
            10 if !self.named.is_empty() => Value::String(self.u.choose(self.named)?.clone()),
            14 => Value::String("decoy".into()),
            15 => json!(self.u.int_in_range(0..=3)?),
            _ => {
                self.decoys += 1;
                Value::String(format!("decoy-{}", self.decoys))
            }
        })
    }

    fn leaf(&mut self) -> ArbResult<Value> {
        Ok(match self.u.int_in_range(0..=4)? {
            0 => Value::Null,
            1 => Value::Bool(self.u.arbitrary()?),
            2 => json!(self.u.int_in_range(-3i64..=3)?),
            3 => serde_json::Number::from_f64(f64::from(self.u.int_in_range(-8i32..=8)?) / 4.0)
                .map_or(Value::Null, Value::Number),
            _ => {
                // Sometimes a digest as a plain string, which must stay a plain string.
                if self.u.ratio(1, 4)? && !self.named.is_empty() {
                    Value::String(self.u.choose(self.named)?.clone())
                } else {
                    Value::String(self.key()?)
                }
            }
        })
    }

    fn value(&mut self, depth: u32) -> ArbResult<Value> {
        if depth == 0 {
            return self.leaf();
        }
        Ok(match self.u.int_in_range(0..=3)? {
            0 => self.leaf()?,
            1 => Value::Object(self.object(depth - 1)?),
            _ => {
                let n = self.u.int_in_range(0..=4)?;
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(if self.u.ratio(1, 2)? {
                        let mut m = Map::new();
                        if self.u.ratio(1, 8)? {
                            // Not a placeholder: its digest is a decoy, so that no Disclosure
                            // is lost to it.
                            self.decoys += 1;
                            m.insert("...".into(), Value::String(format!("decoy-{}", self.decoys)));
                            m.insert(self.key()?, self.leaf()?);
                        } else {
                            m.insert("...".into(), self.digest()?);
                        }
                        Value::Object(m)
                    } else {
                        self.value(depth - 1)?
                    });
                }
                Value::Array(items)
            }
        })
    }

    fn object(&mut self, depth: u32) -> ArbResult<Map<String, Value>> {
        let mut m = Map::new();
        for _ in 0..self.u.int_in_range(0..=3)? {
            let k = self.key()?;
            if k == "_sd" || m.contains_key(&k) {
                // Would overwrite, or be overwritten by, a value naming Disclosures.
                continue;
            }
            let v = self.value(depth)?;
            m.insert(k, v);
        }
        if self.u.ratio(3, 4)? {
            let n = self.u.int_in_range(0..=4)?;
            let sd = (0..n).map(|_| self.digest()).collect::<ArbResult<Vec<_>>>()?;
            m.insert("_sd".into(), Value::Array(sd));
        }
        Ok(m)
    }
}

/// What RFC 9901 §7.1 says of an input.
enum Model {
    Accept(Map<String, Value>),
    /// The RFC requires rejecting it.
    Reject(&'static str),
    /// The RFC leaves the case open (or the model does not follow it).
    Unknown,
}

struct Disc {
    name: Option<String>,
    value: Value,
}

struct Ref<'a> {
    by_digest: &'a HashMap<String, Disc>,
    seen: HashMap<String, u32>,
    used: usize,
    unknown: bool,
}

impl Ref<'_> {
    fn see(&mut self, d: &str) -> Result<(), &'static str> {
        let n = self.seen.entry(d.to_owned()).or_default();
        *n += 1;
        if *n > 1 {
            return Err("a digest appears more than once");
        }
        Ok(())
    }

    fn value(&mut self, v: &Value, depth: u32) -> Result<Value, &'static str> {
        if depth > 64 {
            self.unknown = true;
            return Ok(Value::Null);
        }
        Ok(match v {
            Value::Object(m) => Value::Object(self.object(m, depth)?),
            Value::Array(a) => {
                let mut out = Vec::new();
                for item in a {
                    match item {
                        Value::Object(m) if m.len() == 1 && m.contains_key("...") => {
                            let Some(Value::String(d)) = m.get("...") else {
                                self.unknown = true;
                                continue;
                            };
                            self.see(d)?;
                            if let Some(disc) = self.by_digest.get(d) {
                                if disc.name.is_some() {
                                    return Err("an object-property Disclosure in an array");
                                }
                                self.used += 1;
                                out.push(self.value(&disc.value, depth + 1)?);
                            }
                        }
                        Value::Object(m) if m.contains_key("...") => {
                            self.unknown = true;
                            out.push(self.value(item, depth + 1)?);
                        }
                        other => out.push(self.value(other, depth + 1)?),
                    }
                }
                Value::Array(out)
            }
            other => other.clone(),
        })
    }

    fn object(&mut self, m: &Map<String, Value>, depth: u32) -> Result<Map<String, Value>, &'static str> {
        let mut out = Map::new();
        for (k, v) in m {
            if k == "_sd" {
                continue;
            }
            if k == "..." || k == "_sd_alg" {
                // A claim with a reserved name outside its place: not specified.
                self.unknown = true;
            }
            out.insert(k.clone(), self.value(v, depth + 1)?);
        }
        if let Some(sd) = m.get("_sd") {
            let Value::Array(sd) = sd else {
                self.unknown = true;
                return Ok(out);
            };
            for d in sd {
                let Value::String(d) = d else {
                    // §7.1 3b counts strings only; what else is in `_sd` is not specified.
                    self.unknown = true;
                    continue;
                };
                self.see(d)?;
                if let Some(disc) = self.by_digest.get(d) {
                    let Some(name) = &disc.name else {
                        return Err("an array-element Disclosure in an object");
                    };
                    if name == "_sd" || name == "..." {
                        return Err("a Disclosure with a reserved name");
                    }
                    if name == "_sd_alg" {
                        self.unknown = true;
                    }
                    if out.contains_key(name) {
                        return Err("a disclosed claim name that already exists");
                    }
                    self.used += 1;
                    let v = self.value(&disc.value, depth + 1)?;
                    out.insert(name.clone(), v);
                }
            }
        }
        Ok(out)
    }
}

fn model(payload: &Map<String, Value>, presented: &[(String, Disc)]) -> Model {
    let mut by_digest = HashMap::new();
    for (d, disc) in presented {
        if by_digest.insert(d.clone(), Disc { name: disc.name.clone(), value: disc.value.clone() }).is_some() {
            // The same Disclosure presented twice: the RFC does not say.
            return Model::Unknown;
        }
    }
    match payload.get("_sd_alg") {
        None => {}
        Some(Value::String(a)) if a == "sha-256" => {}
        // Another algorithm: the digests here are SHA-256, so nothing would match.
        Some(_) => return Model::Unknown,
    }
    let mut r = Ref { by_digest: &by_digest, seen: HashMap::new(), used: 0, unknown: false };
    let mut top = payload.clone();
    top.remove("_sd_alg");
    let out = match r.object(&top, 0) {
        Ok(out) => out,
        Err(why) => return if r.unknown { Model::Unknown } else { Model::Reject(why) },
    };
    if r.unknown {
        return Model::Unknown;
    }
    if r.used != presented.len() {
        return Model::Reject("a presented Disclosure is not referenced");
    }
    Model::Accept(out)
}

fn run(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let n = u.int_in_range(0..=6usize)?;
    let mut encoded = vec![String::new(); n];
    let mut digests = vec![String::new(); n];
    let mut pool = Vec::new();
    let mut named = Vec::new();
    let mut decoys = 0;
    let mut discs: Vec<Option<Disc>> = (0..n).map(|_| None).collect();
    // From the last, so that a Disclosure can name the ones after it.
    for i in (0..n).rev() {
        let mut g = Gen { u: &mut *u, pool: &mut pool, named: &mut named, decoys };
        let salt = if g.u.ratio(1, 8)? { "s".to_owned() } else { format!("salt{i}") };
        let name = if g.u.ratio(2, 3)? { Some(g.key()?) } else { None };
        let value = g.value(2)?;
        decoys = g.decoys;
        let array = match &name {
            Some(k) => json!([salt, k, value]),
            None => json!([salt, value]),
        };
        encoded[i] = b64::encode(serde_json::to_string(&array).unwrap_or_default().as_bytes());
        digests[i] = HashAlg::Sha256.digest_b64(encoded[i].as_bytes());
        discs[i] = Some(Disc { name, value });
        // Named from here on: by this Disclosure's parents or by the payload.
        pool.push(digests[i].clone());
    }
    let mut g = Gen { u: &mut *u, pool: &mut pool, named: &mut named, decoys };
    let mut payload = g.object(3)?;
    if g.u.ratio(1, 2)? {
        let alg = if g.u.ratio(7, 8)? { "sha-256" } else { "sha-384" };
        payload.insert("_sd_alg".into(), alg.into());
    }
    // Which Disclosures are presented, in which order, and perhaps one twice.
    let mut order: Vec<usize> = (0..n).filter(|_| u.ratio(7, 8).unwrap_or(true)).collect();
    for i in (1..order.len()).rev() {
        let j = u.int_in_range(0..=i)?;
        order.swap(i, j);
    }
    if !order.is_empty() && u.ratio(1, 16)? {
        order.push(order[0]);
    }

    let (signer, verifier) = setup();
    let payload_text = serde_json::to_string(&payload).unwrap_or_default();
    let input = format!(
        "{}.{}",
        b64::encode(br#"{"alg":"ES256","typ":"sd-jwt"}"#),
        b64::encode(payload_text.as_bytes())
    );
    let Ok(sig) = signer.sign(input.as_bytes()) else {
        return Ok(());
    };
    let mut sd_jwt = format!("{input}.{}~", b64::encode(&sig));
    for &i in &order {
        sd_jwt.push_str(&encoded[i]);
        sd_jwt.push('~');
    }
    let result = verifier.verify(&sd_jwt);
    let presented: Vec<(String, Disc)> = order
        .iter()
        .filter_map(|&i| {
            discs[i].as_ref().map(|d| (digests[i].clone(), Disc { name: d.name.clone(), value: d.value.clone() }))
        })
        .collect();
    match (model(&payload, &presented), result) {
        (Model::Reject(why), Ok(_)) => {
            panic!("accepted, but RFC 9901 §7.1 rejects: {why}\n{sd_jwt}")
        }
        (Model::Accept(claims), Ok(v)) => {
            assert_eq!(v.claims, claims, "processed claims differ from the model\n{sd_jwt}");
            assert_eq!(v.disclosed.len(), presented.len());
        }
        (Model::Accept(_), Err(e)) => {
            panic!("rejected ({}), but RFC 9901 §7.1 accepts\n{sd_jwt}", e.code())
        }
        _ => {}
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
