//! JSON Web Keys (RFC 7517) for EC P-256 / P-384 / P-521 (RFC 7518 §6.2) and OKP Ed25519
//! (RFC 8037), public and private, with RFC 7638 thumbprints.
//!
//! Parsing is strict: coordinates must have exactly the curve's length (RFC 7518 §6.2.1.2),
//! `use` must be `sig` when present, `alg` must agree with the curve, symmetric (`oct`) keys
//! are refused, and a public key must not carry private members. Whether a point lies on its
//! curve is checked by the crypto provider when the key is loaded.

use std::fmt;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::b64;
use crate::crypto::HashAlg;
use crate::error::{KeyError, Result};
use crate::jose::alg::{Algorithm, Curve};

/// Whether a JWK object carries private or symmetric key members (RFC 7518 §6.2.2, §6.3.2,
/// §6.4.1).
pub(crate) fn has_private_members(obj: &Map<String, Value>) -> bool {
    ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
        .iter()
        .any(|m| obj.contains_key(*m))
}

/// `obj` without `use` and `alg` after checking that they are `"enc"` and `"ECDH-ES"`.
fn encryption_members(obj: &Map<String, Value>) -> Result<Map<String, Value>> {
    if let Some(u) = member(obj, "use")?
        && u != "enc"
    {
        return Err(KeyError::Invalid(format!("use {u:?} is not \"enc\"")).into());
    }
    if let Some(a) = member(obj, "alg")?
        && a != crate::jose::jwe::ECDH_ES
    {
        return Err(KeyError::AlgMismatch(format!("alg {a:?} is not ECDH-ES")).into());
    }
    let mut m = obj.clone();
    m.remove("use");
    m.remove("alg");
    Ok(m)
}

/// A validated public JWK.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicJwk {
    curve: Curve,
    x: Vec<u8>,
    y: Option<Vec<u8>>,
    kid: Option<String>,
    alg: Option<Algorithm>,
    key_ops: Option<Vec<String>>,
}

impl fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicJwk")
            .field("crv", &self.curve.name())
            .field("kid", &self.kid)
            .field("x", &b64::encode(&self.x))
            .finish_non_exhaustive()
    }
}

fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KeyError::Invalid(format!("member {name:?} must be a string")).into()),
    }
}

fn coordinate(obj: &Map<String, Value>, name: &str, len: usize) -> Result<Vec<u8>> {
    let text = member(obj, name)?
        .ok_or_else(|| KeyError::Invalid(format!("member {name:?} is missing")))?;
    let bytes = b64::decode(text, "jwk member")
        .map_err(|_| KeyError::Invalid(format!("{name:?} is not base64url")))?;
    check_len(name, bytes.len(), len)?;
    Ok(bytes)
}

/// The private member `d`: decoded in constant time, zeroized whatever happens.
fn private_scalar(obj: &Map<String, Value>, len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let text =
        member(obj, "d")?.ok_or_else(|| KeyError::Invalid("member \"d\" is missing".into()))?;
    let bytes = b64::decode_secret(text, "jwk member")
        .map_err(|_| KeyError::Invalid("\"d\" is not base64url".into()))?;
    check_len("d", bytes.len(), len)?;
    Ok(bytes)
}

/// An `io::Write` that only counts the bytes written to it.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn check_len(name: &str, found: usize, len: usize) -> Result<()> {
    if found != len {
        return Err(KeyError::Invalid(format!(
            "{name:?} must be exactly {len} bytes, found {found}"
        ))
        .into());
    }
    Ok(())
}

impl PublicJwk {
    /// Parses a public JWK from JSON text (strict JSON, duplicate members rejected).
    ///
    /// # Errors
    /// `json_*` for bad JSON, `invalid_key` / `unsupported_key` / `key_alg_mismatch` /
    /// `key_private_material` for unusable keys.
    pub fn parse(text: &str) -> Result<Self> {
        let mut obj = crate::json::parse_object(text.as_bytes(), 8, "jwk")?;
        let key = Self::from_json(&obj);
        // The parsed copy of `d`'s text is as secret as `d`.
        if let Some(Value::String(mut d)) = obj.remove("d") {
            zeroize::Zeroize::zeroize(&mut d);
        }
        key
    }

    /// Builds a public JWK from a parsed JSON object; refuses private members.
    ///
    /// # Errors
    /// As [`PublicJwk::parse`].
    pub fn from_json(obj: &Map<String, Value>) -> Result<Self> {
        if has_private_members(obj) {
            return Err(KeyError::PrivateMaterial("a public JWK carries private members").into());
        }
        Self::from_json_lenient(obj)
    }

    /// Builds a public key for ECDH-ES key agreement (RFC 7518 §4.6) from a parsed JSON
    /// object: as [`PublicJwk::from_json`], except that `use`, when present, must be `"enc"`
    /// and `alg`, when present, must be `"ECDH-ES"` (the key's [`PublicJwk::algorithm`] is
    /// then its curve's signature algorithm, unused for encryption).
    ///
    /// # Errors
    /// As [`PublicJwk::parse`]; `key_alg_mismatch` for another `alg`, `invalid_key` for
    /// another `use`.
    pub fn from_json_for_encryption(obj: &Map<String, Value>) -> Result<Self> {
        if has_private_members(obj) {
            return Err(KeyError::PrivateMaterial("a public JWK carries private members").into());
        }
        Self::from_json_lenient(&encryption_members(obj)?)
    }

    fn from_json_lenient(obj: &Map<String, Value>) -> Result<Self> {
        let kty =
            member(obj, "kty")?.ok_or_else(|| KeyError::Invalid("\"kty\" is missing".into()))?;
        if kty != "EC" && kty != "OKP" {
            return Err(KeyError::Unsupported(format!("kty {kty:?}")).into());
        }
        let crv =
            member(obj, "crv")?.ok_or_else(|| KeyError::Invalid("\"crv\" is missing".into()))?;
        let curve = Curve::from_names(kty, crv)
            .ok_or_else(|| KeyError::Unsupported(format!("kty {kty:?} with crv {crv:?}")))?;
        let len = curve.coordinate_len();
        let x = coordinate(obj, "x", len)?;
        let y = if curve == Curve::Ed25519 {
            if obj.contains_key("y") {
                return Err(KeyError::Invalid("an OKP key has no \"y\"".into()).into());
            }
            None
        } else {
            Some(coordinate(obj, "y", len)?)
        };
        let alg = match member(obj, "alg")? {
            None => None,
            Some(name) => match Algorithm::from_name(name) {
                Some(a) if a.curve() == curve => Some(a),
                _ => {
                    return Err(KeyError::AlgMismatch(format!(
                        "alg {name:?} cannot be used with crv {crv:?}"
                    ))
                    .into());
                }
            },
        };
        if let Some(u) = member(obj, "use")?
            && u != "sig"
        {
            return Err(KeyError::Invalid(format!("use {u:?} is not \"sig\"")).into());
        }
        let key_ops = match obj.get("key_ops") {
            None => None,
            Some(Value::Array(ops)) => Some(
                ops.iter()
                    .map(|o| {
                        o.as_str().map(str::to_owned).ok_or_else(|| {
                            KeyError::Invalid("key_ops must be strings".into()).into()
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(_) => return Err(KeyError::Invalid("key_ops must be an array".into()).into()),
        };
        Ok(Self {
            curve,
            x,
            y,
            kid: member(obj, "kid")?.map(str::to_owned),
            alg,
            key_ops,
        })
    }

    /// Builds a public JWK from raw coordinates (`y` is `None` for Ed25519).
    ///
    /// # Errors
    /// `invalid_key` when lengths do not fit the curve.
    pub fn from_coordinates(curve: Curve, x: Vec<u8>, y: Option<Vec<u8>>) -> Result<Self> {
        let len = curve.coordinate_len();
        let ok = x.len() == len
            && match (&y, curve) {
                (None, Curve::Ed25519) => true,
                (Some(y), c) if c != Curve::Ed25519 => y.len() == len,
                _ => false,
            };
        if !ok {
            return Err(KeyError::Invalid("coordinates do not fit the curve".into()).into());
        }
        Ok(Self {
            curve,
            x,
            y,
            kid: None,
            alg: None,
            key_ops: None,
        })
    }

    /// The same key with a key id.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The curve.
    #[must_use]
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The algorithm this key signs with: its `alg` member, or the curve's algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.alg.unwrap_or_else(|| self.curve.algorithm())
    }

    /// The `x` coordinate (the public key for Ed25519).
    #[must_use]
    pub fn x(&self) -> &[u8] {
        &self.x
    }

    /// The `y` coordinate (`None` for Ed25519).
    #[must_use]
    pub fn y(&self) -> Option<&[u8]> {
        self.y.as_deref()
    }

    /// The key id, if any.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether `key_ops` (when present) allows `op` (RFC 7517 §4.3).
    #[must_use]
    pub fn allows_op(&self, op: &str) -> bool {
        self.key_ops
            .as_ref()
            .is_none_or(|ops| ops.iter().any(|o| o == op))
    }

    /// The JWK as a JSON object with `kty`, `crv`, `x`, `y` and, when set, `kid` and `alg`.
    #[must_use]
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = self.minimal_json();
        if let Some(kid) = &self.kid {
            m.insert("kid".into(), kid.clone().into());
        }
        if let Some(alg) = self.alg {
            m.insert("alg".into(), alg.name().into());
        }
        m
    }

    /// Whether both are the same key (curve and coordinates), whatever their `kid`, `alg` or
    /// `key_ops`.
    #[must_use]
    pub fn same_key(&self, other: &Self) -> bool {
        self.curve == other.curve && self.x == other.x && self.y == other.y
    }

    /// Only the members that define the key (`kty`, `crv`, `x`, `y`): what goes into `cnf`.
    #[must_use]
    pub fn minimal_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("kty".into(), self.curve.kty().into());
        m.insert("crv".into(), self.curve.name().into());
        m.insert("x".into(), b64::encode(&self.x).into());
        if let Some(y) = &self.y {
            m.insert("y".into(), b64::encode(y).into());
        }
        m
    }

    /// Appends [`PublicJwk::minimal_json`] as compact JSON text, the bytes `serde_json` writes
    /// for it, without building the map (an issuer writes it into every credential's `cnf`).
    pub(crate) fn write_minimal_json(&self, out: &mut Vec<u8>) {
        // The names and the curve's `kty` and `crv` are ASCII without characters JSON
        // escapes; the coordinates are base64url.
        let coordinate = self.curve.coordinate_len().saturating_mul(4).div_ceil(3);
        out.reserve(48 + 2 * coordinate);
        out.extend_from_slice(br#"{"kty":""#);
        out.extend_from_slice(self.curve.kty().as_bytes());
        out.extend_from_slice(br#"","crv":""#);
        out.extend_from_slice(self.curve.name().as_bytes());
        out.extend_from_slice(br#"","x":""#);
        b64::encode_vec(&self.x, out);
        if let Some(y) = &self.y {
            out.extend_from_slice(br#"","y":""#);
            b64::encode_vec(y, out);
        }
        out.extend_from_slice(br#""}"#);
    }

    /// The RFC 7638 thumbprint: the hash of the required members in lexicographic order,
    /// without white space, base64url-encoded.
    #[must_use]
    pub fn thumbprint(&self, hash: HashAlg) -> String {
        let x = b64::encode(&self.x);
        let canonical = match &self.y {
            Some(y) => format!(
                r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
                self.curve.name(),
                self.curve.kty(),
                x,
                b64::encode(y)
            ),
            None => format!(
                r#"{{"crv":"{}","kty":"{}","x":"{}"}}"#,
                self.curve.name(),
                self.curve.kty(),
                x
            ),
        };
        b64::encode(&hash.digest(canonical.as_bytes()))
    }
}

/// A private JWK. The private scalar is zeroized on drop and never printed.
#[derive(Clone)]
pub struct PrivateJwk {
    public: PublicJwk,
    d: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateJwk")
            .field("public", &self.public)
            .field("d", &crate::error::Redacted)
            .finish()
    }
}

impl PrivateJwk {
    /// Parses a private JWK (the public members plus `d`).
    ///
    /// # Errors
    /// As [`PublicJwk::parse`], and `invalid_key` when `d` is missing or of the wrong length.
    pub fn parse(text: &str) -> Result<Self> {
        let mut obj = crate::json::parse_object(text.as_bytes(), 8, "jwk")?;
        let key = Self::from_json(&obj);
        // The parsed copy of `d`'s text is as secret as `d`.
        if let Some(Value::String(mut d)) = obj.remove("d") {
            zeroize::Zeroize::zeroize(&mut d);
        }
        key
    }

    /// Builds a private JWK from a parsed JSON object.
    ///
    /// # Errors
    /// As [`PrivateJwk::parse`].
    pub fn from_json(obj: &Map<String, Value>) -> Result<Self> {
        let public = PublicJwk::from_json_lenient(obj)?;
        let d = private_scalar(obj, public.curve.coordinate_len())?;
        Ok(Self { public, d })
    }

    /// Builds a private key for ECDH-ES key agreement from a parsed JSON object (see
    /// [`PublicJwk::from_json_for_encryption`]).
    ///
    /// # Errors
    /// As [`PrivateJwk::parse`] and [`PublicJwk::from_json_for_encryption`].
    pub fn from_json_for_encryption(obj: &Map<String, Value>) -> Result<Self> {
        let public = PublicJwk::from_json_lenient(&encryption_members(obj)?)?;
        let d = private_scalar(obj, public.curve.coordinate_len())?;
        Ok(Self { public, d })
    }

    /// Assembles a private JWK from a public key and its private scalar / seed. The provider
    /// checks that they belong together when the key is loaded.
    ///
    /// # Errors
    /// `invalid_key` when `d` has the wrong length.
    pub fn from_parts(public: PublicJwk, d: Zeroizing<Vec<u8>>) -> Result<Self> {
        if d.len() != public.curve.coordinate_len() {
            return Err(KeyError::Invalid("\"d\" has the wrong length".into()).into());
        }
        Ok(Self { public, d })
    }

    /// The public half.
    #[must_use]
    pub fn public(&self) -> &PublicJwk {
        &self.public
    }

    /// The private scalar (EC) or seed (Ed25519). Handle with care.
    #[must_use]
    pub fn d(&self) -> &[u8] {
        &self.d
    }

    /// The same key with a key id.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.public.kid = Some(kid.into());
        self
    }

    /// The JWK including `d`, as JSON text. The result is secret: do not log it.
    #[must_use]
    pub fn to_json_string(&self) -> Zeroizing<String> {
        let mut m = self.public.to_json();
        m.insert("d".into(), Value::String(b64::encode_secret(&self.d)));
        // Measured first, then written into a buffer of exactly that size, so that no
        // reallocation leaves a copy of `d` behind. Serialising a map of strings cannot fail.
        let mut counter = Counter(0);
        let _ = serde_json::to_writer(&mut counter, &m);
        let mut out = Zeroizing::new(Vec::with_capacity(counter.0));
        let _ = serde_json::to_writer(&mut *out, &m);
        if let Some(Value::String(mut copy)) = m.remove("d") {
            zeroize::Zeroize::zeroize(&mut copy);
        }
        // The bytes are JSON text written by serde_json, so UTF-8: the conversion moves the
        // buffer without copying it.
        let bytes = std::mem::take(&mut *out);
        Zeroizing::new(String::from_utf8(bytes).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256: &str = r#"{"kty":"EC","crv":"P-256","x":"TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc","y":"ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"}"#;

    #[test]
    fn minimal_json_text_is_what_serde_json_writes_for_the_map() {
        let ed =
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        let mut keys: Vec<PublicJwk> = [P256, ed]
            .into_iter()
            .map(|t| PublicJwk::parse(t).unwrap())
            .collect();
        for alg in [Algorithm::Es384, Algorithm::Es512] {
            let key = crate::crypto::default_provider()
                .generate(alg, &crate::rand::OsRandom)
                .unwrap();
            keys.push(key.public().clone());
        }
        for k in &keys {
            let mut out = b"prefix".to_vec();
            k.write_minimal_json(&mut out);
            let want = serde_json::to_vec(&k.minimal_json()).unwrap();
            assert_eq!(out.get(6..), Some(want.as_slice()), "{:?}", k.curve());
        }
        let mut out = Vec::new();
        keys[0].write_minimal_json(&mut out);
        assert_eq!(out, P256.as_bytes());
    }

    #[test]
    fn parses_and_thumbprints() {
        let k = PublicJwk::parse(P256).unwrap();
        assert_eq!(k.curve(), Curve::P256);
        assert_eq!(k.algorithm(), Algorithm::Es256);
        // RFC 7638 §3.1 style: the thumbprint covers exactly crv, kty, x, y.
        let again = PublicJwk::parse(&P256.replace('}', r#","kid":"k1","use":"sig"}"#)).unwrap();
        assert_eq!(
            k.thumbprint(HashAlg::Sha256),
            again.thumbprint(HashAlg::Sha256)
        );
    }

    #[test]
    fn rfc8037_ed25519_thumbprint() {
        // RFC 8037 Appendix A.3
        let k = PublicJwk::parse(
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
        )
        .unwrap();
        assert_eq!(
            k.thumbprint(HashAlg::Sha256),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn rejects_bad_keys() {
        let code = |s: &str| PublicJwk::parse(s).unwrap_err().code();
        // private material in a public key (KEY-05, HDR-12)
        assert_eq!(
            code(&P256.replace(
                '}',
                r#","d":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#
            )),
            "key_private_material"
        );
        // symmetric key (HDR-12)
        assert_eq!(code(r#"{"kty":"oct","k":"AAAA"}"#), "key_private_material");
        assert_eq!(
            code(r#"{"kty":"RSA","n":"AAAA","e":"AQAB"}"#),
            "unsupported_key"
        );
        // wrong curve name (KEY-03)
        assert_eq!(code(&P256.replace("P-256", "secp256k1")), "unsupported_key");
        assert_eq!(code(&P256.replace(r#""crv":"P-256","#, "")), "invalid_key");
        // short coordinate (KEY-02): drop one byte
        assert_eq!(
            code(&P256.replace(
                "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
                "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGew"
            )),
            "invalid_key"
        );
        // alg that does not fit the curve (HDR-04)
        assert_eq!(
            code(&P256.replace('}', r#","alg":"ES384"}"#)),
            "key_alg_mismatch"
        );
        assert_eq!(
            code(&P256.replace('}', r#","alg":"HS256"}"#)),
            "key_alg_mismatch"
        );
        // use enc (KEY-04)
        assert_eq!(code(&P256.replace('}', r#","use":"enc"}"#)), "invalid_key");
        // duplicate members (ENC-12)
        assert_eq!(
            code(&P256.replace('}', r#","x":"AA"}"#)),
            "json_duplicate_key"
        );
    }

    #[test]
    fn private_key_debug_is_redacted() {
        let d = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
        let k = PrivateJwk::parse(&P256.replace('}', &format!(r#","d":"{d}"}}"#))).unwrap();
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(d), "{dbg}");
        assert!(dbg.contains("***"));
    }
}
