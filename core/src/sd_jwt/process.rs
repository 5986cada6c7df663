//! Processing of Disclosures into the payload: RFC 9901 §7.1 steps 3 to 5.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::crypto::HashAlg;
use crate::error::{DisclosureError, LimitError, Result};
use crate::sd_jwt::{Disclosure, Limits, pointer};

/// Where one Disclosure landed in the processed payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placed {
    /// JSON Pointer of the disclosed claim in the processed payload.
    pub pointer: String,
    /// Index of the Disclosure in the SD-JWT.
    pub disclosure: usize,
    /// Index of the Disclosure whose value contained this one's digest.
    pub parent: Option<usize>,
}

/// The result of §7.1 step 3 to 5.
#[derive(Debug)]
pub(crate) struct Processed {
    pub payload: Map<String, Value>,
    pub sd_alg: HashAlg,
    pub placed: Vec<Placed>,
}

/// Reads `_sd_alg` (§4.1.1; absent means sha-256) and checks it against the allow-list.
pub(crate) fn sd_alg(payload: &Map<String, Value>, allowed: &[HashAlg]) -> Result<HashAlg> {
    let alg = match payload.get("_sd_alg") {
        None => HashAlg::Sha256,
        Some(Value::String(name)) => HashAlg::from_name(name)
            .ok_or_else(|| DisclosureError::SdAlgUnsupported(name.clone()))?,
        Some(other) => return Err(DisclosureError::SdAlgUnsupported(other.to_string()).into()),
    };
    if !allowed.contains(&alg) {
        return Err(DisclosureError::SdAlgUnsupported(alg.name().into()).into());
    }
    Ok(alg)
}

/// Runs §7.1 steps 3–5 on a verified payload.
pub(crate) fn process(
    mut payload: Map<String, Value>,
    disclosures: &[Disclosure],
    allowed: &[HashAlg],
    limits: &Limits,
) -> Result<Processed> {
    let sd_alg = sd_alg(&payload, allowed)?;
    payload.remove("_sd_alg");
    // Digests are looked up by binary search in a sorted list: no hashing, and no input can
    // make a lookup slower than O(log n) string comparisons.
    let mut by_digest: Vec<(String, usize)> = disclosures
        .iter()
        .enumerate()
        .map(|(i, d)| (d.digest(sd_alg), i))
        .collect();
    by_digest.sort_unstable();
    if by_digest
        .windows(2)
        .any(|w| w.first().map(|a| &a.0) == w.get(1).map(|b| &b.0))
    {
        // The same Disclosure twice (§4, §7.1 step 4).
        return Err(DisclosureError::DuplicateDigest.into());
    }
    let mut p = Processor {
        disclosures,
        by_digest,
        used: vec![false; disclosures.len()],
        digests: 0,
        decoys: Vec::new(),
        limits,
        placed: Vec::with_capacity(disclosures.len()),
    };
    let payload = p.object(payload, &mut String::with_capacity(64), 0, None, true)?;
    // A digest that names a Disclosure is refused the second time it is met (`see`); the
    // others (decoys) cannot expand anything, so their repeats are found here, at once.
    p.decoys.sort_unstable();
    if p.decoys.windows(2).any(|w| w.first() == w.get(1)) {
        return Err(DisclosureError::DuplicateDigest.into());
    }
    if p.used.iter().any(|u| !u) {
        return Err(DisclosureError::Unreferenced.into());
    }
    Ok(Processed {
        payload,
        sd_alg,
        placed: p.placed,
    })
}

struct Processor<'a> {
    disclosures: &'a [Disclosure],
    /// The Disclosures' digests, sorted.
    by_digest: Vec<(String, usize)>,
    used: Vec<bool>,
    /// Digests met so far, decoys included.
    digests: usize,
    /// Digests that name no Disclosure.
    decoys: Vec<String>,
    limits: &'a Limits,
    placed: Vec<Placed>,
}

impl Processor<'_> {
    /// Records a digest; every digest, decoys included, may appear once (§7.1 step 4).
    fn see(&mut self, digest: String) -> Result<Option<usize>> {
        if self.digests >= self.limits.max_digests {
            return Err(LimitError::TooManyDigests {
                limit: self.limits.max_digests,
            }
            .into());
        }
        self.digests += 1;
        let found = self
            .by_digest
            .binary_search_by(|(d, _)| d.as_str().cmp(&digest))
            .ok()
            .and_then(|at| self.by_digest.get(at))
            .map(|(_, i)| *i);
        match found {
            Some(i) if self.used.get(i).copied().unwrap_or(false) => {
                Err(DisclosureError::DuplicateDigest.into())
            }
            Some(i) => Ok(Some(i)),
            None => {
                self.decoys.push(digest);
                Ok(None)
            }
        }
    }

    fn disclosed(&mut self, i: usize, sd_depth: usize) -> Result<&'_ Disclosure> {
        if sd_depth >= self.limits.max_sd_depth {
            return Err(LimitError::SdRecursionDepth {
                limit: self.limits.max_sd_depth,
            }
            .into());
        }
        if let Some(u) = self.used.get_mut(i) {
            *u = true;
        }
        self.disclosures
            .get(i)
            .ok_or(DisclosureError::Invalid("disclosure index out of range").into())
    }

    /// `at` is the pointer of `v`; the walk appends to it and restores it.
    fn value(
        &mut self,
        v: Value,
        at: &mut String,
        sd_depth: usize,
        parent: Option<usize>,
    ) -> Result<Value> {
        Ok(match v {
            Value::Object(m) => Value::Object(self.object(m, at, sd_depth, parent, false)?),
            Value::Array(a) => Value::Array(self.array(a, at, sd_depth, parent)?),
            other => other,
        })
    }

    fn object(
        &mut self,
        mut obj: Map<String, Value>,
        at: &mut String,
        sd_depth: usize,
        parent: Option<usize>,
        top: bool,
    ) -> Result<Map<String, Value>> {
        if !top && obj.contains_key("_sd_alg") {
            return Err(DisclosureError::SdAlgMisplaced.into());
        }
        if obj.contains_key("...") {
            // "..." is only valid as the sole key of an array element (§4.1 rule 7).
            return Err(DisclosureError::ReservedName("...".into()).into());
        }
        let digests = match obj.remove("_sd") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|d| match d {
                    Value::String(s) => Ok(s),
                    _ => {
                        Err(DisclosureError::InvalidSd("\"_sd\" must contain only strings").into())
                    }
                })
                .collect::<Result<Vec<_>>>()?,
            Some(_) => return Err(DisclosureError::InvalidSd("\"_sd\" must be an array").into()),
        };
        // Processed in place: the members stay where they are (no second map, no re-hashing)
        // and disclosed claims are appended.
        let len = at.len();
        for (k, v) in &mut obj {
            if matches!(v, Value::Object(_) | Value::Array(_)) {
                pointer::push_onto(at, k);
                let processed = self.value(std::mem::take(v), at, sd_depth, parent);
                at.truncate(len);
                *v = processed?;
            }
        }
        for digest in digests {
            let Some(i) = self.see(digest)? else {
                continue;
            };
            let d = self.disclosed(i, sd_depth)?;
            let Some(name) = d.name().map(str::to_owned) else {
                return Err(DisclosureError::WrongShape(
                    "an array-element disclosure is referenced from \"_sd\"",
                )
                .into());
            };
            if name == "_sd_alg" {
                // A disclosed `_sd_alg` would surface in the processed payload (§4.1.1, §7.1 3.f).
                return Err(DisclosureError::SdAlgMisplaced.into());
            }
            let value = d.value().clone();
            if obj.contains_key(&name) {
                return Err(DisclosureError::ClaimCollision(name).into());
            }
            pointer::push_onto(at, &name);
            let value = self.value(value, at, sd_depth + 1, Some(i));
            let child = at.clone();
            at.truncate(len);
            self.placed.push(Placed {
                pointer: child,
                disclosure: i,
                parent,
            });
            obj.insert(name, value?);
        }
        Ok(obj)
    }

    /// Processed in place: elements move down over the decoys removed, so an array costs no
    /// second allocation (a large array of small values would otherwise be copied whole).
    fn array(
        &mut self,
        mut items: Vec<Value>,
        at: &mut String,
        sd_depth: usize,
        parent: Option<usize>,
    ) -> Result<Vec<Value>> {
        let len = at.len();
        let mut kept = 0;
        for read in 0..items.len() {
            let Some(item) = items.get_mut(read).map(std::mem::take) else {
                break;
            };
            // Scalars need no processing and no pointer.
            let processed = if matches!(item, Value::Object(_) | Value::Array(_)) {
                let placeholder = match &item {
                    Value::Object(m) if m.contains_key("...") => {
                        if m.len() != 1 {
                            return Err(DisclosureError::InvalidSd(
                                "an array placeholder has only the member \"...\"",
                            )
                            .into());
                        }
                        match m.get("...") {
                            Some(Value::String(d)) => Some(d.clone()),
                            _ => {
                                return Err(
                                    DisclosureError::InvalidSd("\"...\" must be a string").into()
                                );
                            }
                        }
                    }
                    _ => None,
                };
                // An index needs no escaping; writing into a String cannot fail.
                let _ = write!(at, "/{kept}");
                let r = self.element(item, placeholder, at, sd_depth, parent);
                at.truncate(len);
                r?
            } else {
                Some(item)
            };
            if let Some(v) = processed {
                if let Some(slot) = items.get_mut(kept) {
                    *slot = v;
                }
                kept += 1;
            }
        }
        items.truncate(kept);
        Ok(items)
    }

    /// One array element at `at`: kept, or replaced by its Disclosure's value, or dropped
    /// (`None`) when its digest is a decoy.
    fn element(
        &mut self,
        item: Value,
        placeholder: Option<String>,
        at: &mut String,
        sd_depth: usize,
        parent: Option<usize>,
    ) -> Result<Option<Value>> {
        let Some(digest) = placeholder else {
            return Ok(Some(self.value(item, at, sd_depth, parent)?));
        };
        let Some(i) = self.see(digest)? else {
            return Ok(None);
        };
        let d = self.disclosed(i, sd_depth)?;
        if d.name().is_some() {
            return Err(DisclosureError::WrongShape(
                "an object-property disclosure is referenced from an array",
            )
            .into());
        }
        let value = d.value().clone();
        let value = self.value(value, at, sd_depth + 1, Some(i))?;
        self.placed.push(Placed {
            pointer: at.clone(),
            disclosure: i,
            parent,
        });
        Ok(Some(value))
    }
}
