//! Claim paths: the non-empty arrays of strings, `null` and non-negative integers that Type
//! Metadata (draft-ietf-oauth-sd-jwt-vc §5.6.1.2) and DCQL (OpenID4VP 1.0 §7) use to select
//! claims in a processed payload.

use std::fmt;

use serde_json::{Map, Value};

use crate::sd_jwt::pointer;

/// One step of a [`ClaimPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathElement {
    /// An object member.
    Key(String),
    /// An array element by position.
    Index(usize),
    /// Every element of an array (`null`).
    AllElements,
}

/// A parsed claim path.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClaimPath(Vec<PathElement>);

/// Why a claim path could not be parsed or applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError(pub &'static str);

impl ClaimPath {
    /// Parses a JSON claim path.
    ///
    /// # Errors
    /// When `value` is not a non-empty array of strings, `null` and non-negative integers.
    pub fn from_json(value: &Value) -> Result<Self, PathError> {
        let Value::Array(items) = value else {
            return Err(PathError("a claim path must be an array"));
        };
        if items.is_empty() {
            return Err(PathError("a claim path must not be empty"));
        }
        items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(PathElement::Key(s.clone())),
                Value::Null => Ok(PathElement::AllElements),
                Value::Number(n) => n
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .map(PathElement::Index)
                    .ok_or(PathError(
                        "a claim path index must be a non-negative integer",
                    )),
                _ => Err(PathError(
                    "a claim path holds only strings, null and non-negative integers",
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// A path of object keys.
    #[must_use]
    pub fn keys(keys: &[&str]) -> Self {
        Self(
            keys.iter()
                .map(|k| PathElement::Key((*k).to_owned()))
                .collect(),
        )
    }

    /// The elements.
    #[must_use]
    pub fn elements(&self) -> &[PathElement] {
        &self.0
    }

    /// The path as JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|e| match e {
                    PathElement::Key(k) => Value::String(k.clone()),
                    PathElement::Index(i) => Value::from(*i),
                    PathElement::AllElements => Value::Null,
                })
                .collect(),
        )
    }

    /// Selects claims in `claims`, left to right: a key selects that member of every selected
    /// object, an index that element of every selected array, `null` every element. A
    /// selected element that lacks the key or index is dropped (the result may be empty).
    /// Returns each selected claim with its JSON Pointer.
    ///
    /// # Errors
    /// When a key is applied to a non-object or an index / `null` to a non-array.
    pub fn select<'a>(
        &self,
        claims: &'a Map<String, Value>,
    ) -> Result<Vec<(String, &'a Value)>, PathError> {
        let mut selected: Vec<(String, &'a Value)> = Vec::new();
        let mut elements = self.0.iter();
        match elements.next() {
            Some(PathElement::Key(k)) => {
                if let Some(v) = claims.get(k) {
                    selected.push((pointer::push("", k), v));
                }
            }
            Some(_) => return Err(PathError("the credential's top level is an object")),
            None => return Ok(selected),
        }
        for element in elements {
            let mut next = Vec::new();
            for (at, v) in selected {
                match (element, v) {
                    (PathElement::Key(k), Value::Object(m)) => {
                        if let Some(child) = m.get(k) {
                            next.push((pointer::push(&at, k), child));
                        }
                    }
                    (PathElement::Index(i), Value::Array(a)) => {
                        if let Some(child) = a.get(*i) {
                            next.push((pointer::push(&at, &i.to_string()), child));
                        }
                    }
                    (PathElement::AllElements, Value::Array(a)) => {
                        for (i, child) in a.iter().enumerate() {
                            next.push((pointer::push(&at, &i.to_string()), child));
                        }
                    }
                    (PathElement::Key(_), _) => {
                        return Err(PathError("a key selects in an object only"));
                    }
                    _ => return Err(PathError("an index or null selects in an array only")),
                }
            }
            selected = next;
        }
        Ok(selected)
    }
}

impl fmt::Debug for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims() -> Map<String, Value> {
        json!({
            "name": "Arthur Dent",
            "address": {"street_address": "42 Market Street", "locality": "Milliways"},
            "degrees": [{"type": "BSc", "name": "Physics"}, {"type": "MSc"}],
            "nationalities": ["British", "Betelgeusian"]
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn pointers(path: Value) -> Result<Vec<String>, PathError> {
        let c = claims();
        let p = ClaimPath::from_json(&path)?;
        Ok(p.select(&c)?.into_iter().map(|(p, _)| p).collect())
    }

    #[test]
    fn selection_follows_the_draft() {
        // The examples of draft-ietf-oauth-sd-jwt-vc §5.6.1.2 (Example Credential for Claim Path).
        assert_eq!(pointers(json!(["name"])).unwrap(), ["/name"]);
        assert_eq!(pointers(json!(["address"])).unwrap(), ["/address"]);
        assert_eq!(
            pointers(json!(["address", "street_address"])).unwrap(),
            ["/address/street_address"]
        );
        assert_eq!(
            pointers(json!(["degrees", null, "type"])).unwrap(),
            ["/degrees/0/type", "/degrees/1/type"]
        );
        assert_eq!(
            pointers(json!(["degrees", null, "name"])).unwrap(),
            ["/degrees/0/name"]
        );
        assert_eq!(
            pointers(json!(["nationalities", 1])).unwrap(),
            ["/nationalities/1"]
        );
        assert!(pointers(json!(["missing", "x"])).unwrap().is_empty());
        assert!(pointers(json!(["name", "x"])).is_err());
        assert!(pointers(json!(["address", 0])).is_err());
        assert!(pointers(json!([])).is_err());
        assert!(pointers(json!(["a", -1])).is_err());
        assert!(pointers(json!(["a", 1.5])).is_err());
        assert!(pointers(json!("name")).is_err());
    }
}
