//! Strict JSON (RFC 8259) for everything that arrives from outside.
//!
//! `serde_json` keeps the last of two members with the same name; JOSE forbids them (RFC 7515
//! §4, RFC 7519 §4) and parser differentials on duplicates are a known attack. This module
//! parses in a single pass into [`serde_json::Value`] while rejecting duplicate member names at
//! every depth, bounding the nesting depth, and (through `serde_json`) rejecting invalid UTF-8,
//! lone surrogates and trailing bytes. Escaped member names are compared after unescaping.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{EncodingError, Error, LimitError, Result};

/// Parses `bytes` as one strict JSON value nested at most `max_depth` deep.
///
/// # Errors
/// `json_invalid`, `json_duplicate_key` or `json_depth_exceeded`.
pub fn parse(bytes: &[u8], max_depth: usize, what: &'static str) -> Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut failure = None;
    let seed = Strict {
        depth: 0,
        max_depth,
        failure: &mut failure,
    };
    let value = seed.deserialize(&mut de);
    if let Some(f) = failure {
        return Err(match f {
            Failure::Duplicate(name) => EncodingError::DuplicateKey { what, name }.into(),
            Failure::Depth => LimitError::JsonDepth { limit: max_depth }.into(),
        });
    }
    let value = value.map_err(|e| json_error(what, &e))?;
    de.end().map_err(|e| json_error(what, &e))?;
    Ok(value)
}

/// Parses `bytes` as a strict JSON object.
///
/// # Errors
/// As [`parse`], plus `json_unexpected_type` when the value is not an object.
pub fn parse_object(
    bytes: &[u8],
    max_depth: usize,
    what: &'static str,
) -> Result<Map<String, Value>> {
    match parse(bytes, max_depth, what)? {
        Value::Object(map) => Ok(map),
        _ => Err(EncodingError::UnexpectedType {
            what,
            expected: "a JSON object",
        }
        .into()),
    }
}

fn json_error(what: &'static str, e: &serde_json::Error) -> Error {
    // serde_json's messages carry line/column only, never input content.
    EncodingError::Json {
        what,
        reason: e.to_string(),
    }
    .into()
}

/// The map key under which serde_json passes numbers with `arbitrary_precision`.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Whether serde_json was built with `arbitrary_precision` (a feature unification effect that
/// cannot be seen at compile time from here): only then does a number keep all its digits.
fn arbitrary_precision() -> bool {
    static AP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AP.get_or_init(|| {
        const DIGITS: &str = "100000000000000000000000000001";
        serde_json::from_str::<Value>(DIGITS)
            .is_ok_and(|v| v.as_u64().is_none() && v.as_f64().is_some() && format!("{v}") == DIGITS)
    })
}

enum Failure {
    Duplicate(String),
    Depth,
}

struct Strict<'a> {
    depth: usize,
    max_depth: usize,
    failure: &'a mut Option<Failure>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.depth.saturating_add(1);
        if depth > self.max_depth {
            *self.failure = Some(Failure::Depth);
            return Err(serde::de::Error::custom("depth"));
        }
        let mut out = Vec::new();
        loop {
            let seed = Strict {
                depth,
                max_depth: self.max_depth,
                failure: &mut *self.failure,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let first = map.next_key::<String>()?;
        // With serde_json's `arbitrary_precision` (which other crates in a build may turn on,
        // e.g. `ssi` under the `did` feature) numbers arrive as a one-entry map under a
        // private token. Only then is that map a number.
        if first.as_deref() == Some(NUMBER_TOKEN) && arbitrary_precision() {
            let text = map.next_value::<String>()?;
            // Same range as without the feature: what does not fit an f64 is invalid JSON.
            if !text.parse::<f64>().is_ok_and(f64::is_finite) {
                return Err(serde::de::Error::custom("number out of range"));
            }
            return text
                .parse::<serde_json::Number>()
                .map(Value::Number)
                .map_err(serde::de::Error::custom);
        }
        let depth = self.depth.saturating_add(1);
        if depth > self.max_depth {
            *self.failure = Some(Failure::Depth);
            return Err(serde::de::Error::custom("depth"));
        }
        let mut out = Map::new();
        let mut next = first;
        while let Some(key) = next.take() {
            let seed = Strict {
                depth,
                max_depth: self.max_depth,
                failure: &mut *self.failure,
            };
            let value = map.next_value_seed(seed)?;
            // One hash per member: look up and insert through the entry.
            match out.entry(key) {
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                serde_json::map::Entry::Occupied(taken) => {
                    *self.failure = Some(Failure::Duplicate(taken.key().clone()));
                    return Err(serde::de::Error::custom("duplicate"));
                }
            }
            next = map.next_key::<String>()?;
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(input: &str) -> &'static str {
        parse(input.as_bytes(), 8, "t").unwrap_err().code()
    }

    #[test]
    fn numbers_are_numbers_with_and_without_arbitrary_precision() {
        // `cargo test --features did` runs this with serde_json's arbitrary_precision on.
        let v = parse(
            br#"{"iat":1683000000,"f":1.5,"n":-7,"a":[2,{"b":3}]}"#,
            8,
            "t",
        )
        .unwrap();
        assert_eq!(v["iat"].as_i64(), Some(1_683_000_000));
        assert_eq!(v["f"].as_f64(), Some(1.5));
        assert_eq!(v["n"].as_i64(), Some(-7));
        assert_eq!(v["a"][1]["b"].as_u64(), Some(3));
        // Depth counts objects and arrays, never numbers.
        assert!(parse(b"[[1]]", 2, "t").is_ok());
        // A real object under the private token name stays an object without the feature.
        let o = parse(br#"{"$serde_json::private::Number":"5"}"#, 8, "t");
        if !arbitrary_precision() {
            assert!(o.unwrap().is_object());
        }
    }

    #[test]
    fn accepts_plain_json() {
        let v = parse(br#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}]}"#, 8, "t").unwrap();
        assert_eq!(v["a"][1], -2);
        assert_eq!(v["a"][3], "x");
    }

    #[test]
    fn rejects_duplicates_at_every_depth() {
        assert_eq!(
            code(r#"{"alg":"ES256","alg":"none"}"#),
            "json_duplicate_key"
        );
        assert_eq!(
            code(r#"{"cnf":{"jwk":{"x":"a","x":"b"}}}"#),
            "json_duplicate_key"
        );
        assert_eq!(code(r#"[1,{"a":1,"a":1}]"#), "json_duplicate_key");
        // escaped names are the same name (ENC-15)
        assert_eq!(
            code(r#"{"alg":"ES256","\u0061lg":"none"}"#),
            "json_duplicate_key"
        );
    }

    #[test]
    fn bounds_depth() {
        assert!(parse(b"[[[[[[[[1]]]]]]]]", 8, "t").is_ok());
        assert_eq!(code("[[[[[[[[[1]]]]]]]]]"), "json_depth_exceeded");
        let deep = "[".repeat(100_000);
        assert_eq!(code(&deep), "json_depth_exceeded");
    }

    #[test]
    fn rejects_bad_encodings() {
        assert_eq!(code(r#"{"a":1} x"#), "json_invalid"); // trailing bytes (ENC-13)
        assert_eq!(code(r#""\ud800""#), "json_invalid"); // lone surrogate (ENC-09)
        assert_eq!(
            parse(b"\"\xc0\xaf\"", 8, "t").unwrap_err().code(),
            "json_invalid"
        ); // overlong
        assert_eq!(
            parse(b"\xef\xbb\xbf{}", 8, "t").unwrap_err().code(),
            "json_invalid"
        ); // BOM
        assert_eq!(
            parse_object(b"[]", 8, "t").unwrap_err().code(),
            "json_unexpected_type"
        );
    }
}
