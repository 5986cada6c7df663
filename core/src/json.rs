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
        let depth = self.depth.saturating_add(1);
        if depth > self.max_depth {
            *self.failure = Some(Failure::Depth);
            return Err(serde::de::Error::custom("depth"));
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let seed = Strict {
                depth,
                max_depth: self.max_depth,
                failure: &mut *self.failure,
            };
            let value = map.next_value_seed(seed)?;
            if out.contains_key(&key) {
                *self.failure = Some(Failure::Duplicate(key));
                return Err(serde::de::Error::custom("duplicate"));
            }
            out.insert(key, value);
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
