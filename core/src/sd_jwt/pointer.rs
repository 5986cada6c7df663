//! JSON Pointers (RFC 6901) naming claims in a processed payload.

use std::borrow::Cow;

use crate::error::{IssuanceError, Result};

/// Splits a JSON Pointer into unescaped reference tokens. `""` is the whole document.
///
/// # Errors
/// `invalid_pointer` when the pointer does not start with `/` or has a bad `~` escape.
pub fn parse(pointer: &str) -> Result<Vec<String>> {
    Ok(tokens(pointer)?.into_iter().map(Cow::into_owned).collect())
}

/// As [`parse`], borrowing every token that has no escape in it.
///
/// # Errors
/// As [`parse`].
pub fn tokens(pointer: &str) -> Result<Vec<Cow<'_, str>>> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(bad(pointer, "a JSON Pointer starts with \"/\""));
    };
    rest.split('/')
        .map(|t| {
            if !t.contains('~') {
                return Ok(Cow::Borrowed(t));
            }
            let mut out = String::with_capacity(t.len());
            let mut chars = t.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err(bad(pointer, "\"~\" must be followed by 0 or 1")),
                    }
                } else {
                    out.push(c);
                }
            }
            Ok(Cow::Owned(out))
        })
        .collect()
}

/// Appends one escaped reference token to a pointer.
#[must_use]
pub fn push(pointer: &str, token: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + token.len() + 1);
    out.push_str(pointer);
    push_onto(&mut out, token);
    out
}

/// The pointer of `tokens`, escaped: the normal form of a parsed pointer.
#[must_use]
pub fn join<T: AsRef<str>>(tokens: &[T]) -> String {
    let mut out = String::with_capacity(tokens.iter().map(|t| t.as_ref().len() + 1).sum());
    for t in tokens {
        push_onto(&mut out, t.as_ref());
    }
    out
}

/// Appends one escaped reference token to `pointer` in place.
pub fn push_onto(pointer: &mut String, token: &str) {
    pointer.push('/');
    if !token.contains(['~', '/']) {
        pointer.push_str(token);
        return;
    }
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Whether `ancestor` is `pointer` itself or a proper prefix of it on a token boundary.
#[must_use]
pub fn is_within(pointer: &str, ancestor: &str) -> bool {
    pointer == ancestor
        || (pointer.starts_with(ancestor) && pointer.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

/// Resolves parsed reference tokens in a claim set. Array indices are decimal without
/// leading zeros (RFC 6901 §4).
#[must_use]
pub fn lookup<'a, T: AsRef<str>>(
    claims: &'a serde_json::Map<String, serde_json::Value>,
    tokens: &[T],
) -> Option<&'a serde_json::Value> {
    use serde_json::Value;
    let (first, rest) = tokens.split_first()?;
    let mut v = claims.get(first.as_ref())?;
    for t in rest {
        let t = t.as_ref();
        v = match v {
            Value::Object(m) => m.get(t)?,
            Value::Array(a) => a.get(index(t)?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// An array index token: decimal digits only, no leading zero (RFC 6901 §4), so that each
/// index has exactly one spelling (`usize::from_str` would also take `+1`).
fn index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.starts_with('0') && token.len() > 1) {
        return None;
    }
    token.parse().ok()
}

fn bad(pointer: &str, reason: &'static str) -> crate::Error {
    IssuanceError::InvalidPointer {
        pointer: pointer.to_owned(),
        reason,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6901() {
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(parse("/a~1b/m~0n/0").unwrap(), ["a/b", "m~n", "0"]);
        assert_eq!(push(&push("", "a/b"), "m~n"), "/a~1b/m~0n");
        assert_eq!(join(&parse("/a~1b/m~0n/0").unwrap()), "/a~1b/m~0n/0");
        assert_eq!(join::<&str>(&[]), "");
        assert_eq!(parse("a").unwrap_err().code(), "invalid_pointer");
        assert_eq!(parse("/a~2").unwrap_err().code(), "invalid_pointer");
        assert!(is_within("/address/locality", "/address"));
        assert!(is_within("/address", "/address"));
        assert!(!is_within("/addresses", "/address"));
        assert!(is_within("/x", ""));
    }

    #[test]
    fn array_indices_have_one_spelling() {
        let claims = serde_json::json!({ "a": ["x", "y"] });
        let claims = claims.as_object().unwrap();
        let at = |p: &str| lookup(claims, &parse(p).unwrap());
        assert_eq!(at("/a/1"), Some(&serde_json::json!("y")));
        for p in [
            "/a/+1", "/a/01", "/a/-0", "/a/", "/a/1 ", "/a/ 1", "/a/1e0", "/a/2",
        ] {
            assert_eq!(at(p), None, "{p}");
        }
    }
}
