//! The SD-JWT envelope: compact serialization (RFC 9901 §4) and JWS JSON serialization,
//! flattened and general (§8).

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::crypto::HashAlg;
use crate::error::{FormatError, LimitError, Result};
use crate::jose::Jws;
use crate::sd_jwt::{Disclosure, Limits};

/// How an SD-JWT is serialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Serialization {
    /// `<JWT>~<D1>~...~<DN>~[<KB-JWT>]` (RFC 9901 §4).
    #[default]
    Compact,
    /// Flattened JWS JSON serialization (RFC 9901 §8.2).
    Flattened,
    /// General JWS JSON serialization (RFC 9901 §8.3).
    General,
}

impl Serialization {
    /// Parses `compact`, `flattened` or `general`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "compact" => Some(Self::Compact),
            "flattened" => Some(Self::Flattened),
            "general" => Some(Self::General),
            _ => None,
        }
    }
}

/// A parsed, not yet verified SD-JWT or SD-JWT+KB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdJwt {
    serialization: Serialization,
    /// The issuer-signed JWT; more than one only in the general JSON serialization. Shared:
    /// every presentation of a credential carries the same issuer JWT, so copies are cheap.
    issuer: Arc<[Jws]>,
    disclosures: Vec<Disclosure>,
    kb: Option<Jws>,
}

impl SdJwt {
    /// Parses an SD-JWT in compact or JSON serialization, applying `limits` first.
    ///
    /// # Errors
    /// `input_too_large`, `too_many_disclosures`, `malformed_*`, and every parse error of
    /// the JWS and Disclosure layers.
    pub fn parse(text: &str, limits: &Limits) -> Result<Self> {
        if text.len() > limits.max_input_bytes {
            return Err(LimitError::InputTooLarge {
                limit: limits.max_input_bytes,
                actual: text.len(),
            }
            .into());
        }
        if text.starts_with('{') {
            Self::parse_json(text, limits)
        } else {
            Self::parse_compact(text, limits)
        }
    }

    fn parse_compact(text: &str, limits: &Limits) -> Result<Self> {
        // Count before splitting: no allocation storm on "~~~~..." (ENV-02, ENV-03). Searched
        // with `memchr` (`str::matches` on a char): a byte-by-byte count of the ~2 KB text cost
        // a verifier ~1 µs.
        let tildes = text.matches('~').count();
        if tildes == 0 {
            return Err(FormatError::SdJwt(
                "a bare JWT is not an SD-JWT: the final \"~\" is missing",
            )
            .into());
        }
        if tildes - 1 > limits.max_disclosures {
            return Err(LimitError::TooManyDisclosures {
                limit: limits.max_disclosures,
            }
            .into());
        }
        let mut parts = text.split('~');
        let jwt = parts.next().unwrap_or_default();
        let mut rest: Vec<&str> = parts.collect();
        let last = rest.pop().unwrap_or_default();
        let issuer = Jws::parse_compact(jwt)?;
        let disclosures = rest
            .into_iter()
            .map(|d| {
                if d.is_empty() {
                    Err(FormatError::SdJwt("empty disclosure (\"~~\")").into())
                } else {
                    Disclosure::parse(d, limits.max_json_depth)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let kb = if last.is_empty() {
            None
        } else {
            Some(Jws::parse_compact(last)?)
        };
        Ok(Self {
            serialization: Serialization::Compact,
            issuer: Arc::new([issuer]),
            disclosures,
            kb,
        })
    }

    fn parse_json(text: &str, limits: &Limits) -> Result<Self> {
        let bad = |m| FormatError::JsonSerialization(m);
        let obj = crate::json::parse_object(
            text.as_bytes(),
            limits.max_json_depth,
            "JWS JSON serialization",
        )?;
        let payload = obj
            .get("payload")
            .ok_or_else(|| bad("\"payload\" is missing"))?;
        let (serialization, sigs): (_, Vec<&Map<String, Value>>) = match obj.get("signatures") {
            Some(Value::Array(sigs)) => {
                if obj.contains_key("signature")
                    || obj.contains_key("protected")
                    || obj.contains_key("header")
                {
                    return Err(bad("general serialization with flattened members").into());
                }
                let sigs = sigs
                    .iter()
                    .map(|s| {
                        s.as_object()
                            .ok_or_else(|| bad("each signature must be an object"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if sigs.is_empty() {
                    return Err(bad("\"signatures\" is empty").into());
                }
                (Serialization::General, sigs)
            }
            Some(_) => return Err(bad("\"signatures\" must be an array").into()),
            None => (Serialization::Flattened, vec![&obj]),
        };
        if sigs.len() > 16 {
            return Err(bad("too many signatures").into());
        }
        let mut issuer = Vec::with_capacity(sigs.len());
        let mut disclosures = Vec::new();
        let mut kb = None;
        for (i, s) in sigs.iter().enumerate() {
            let protected = s
                .get("protected")
                .ok_or_else(|| bad("\"protected\" is missing"))?;
            let signature = s
                .get("signature")
                .ok_or_else(|| bad("\"signature\" is missing"))?;
            let header = s.get("header");
            let jws = Jws::from_json_parts(protected, payload, signature, header)?;
            let unprotected = jws.unprotected_header();
            let has_sd = unprotected
                .is_some_and(|u| u.contains_key("disclosures") || u.contains_key("kb_jwt"));
            if i > 0 {
                if has_sd {
                    // RFC 9901 §8.3: only in the first signature's header.
                    return Err(
                        bad("\"disclosures\" / \"kb_jwt\" outside the first signature").into(),
                    );
                }
            } else if let Some(u) = unprotected {
                match u.get("disclosures") {
                    None => {}
                    Some(Value::Array(ds)) => {
                        if ds.len() > limits.max_disclosures {
                            return Err(LimitError::TooManyDisclosures {
                                limit: limits.max_disclosures,
                            }
                            .into());
                        }
                        for d in ds {
                            let d = d
                                .as_str()
                                .ok_or_else(|| bad("disclosures must be strings"))?;
                            disclosures.push(Disclosure::parse(d, limits.max_json_depth)?);
                        }
                    }
                    Some(_) => return Err(bad("\"disclosures\" must be an array").into()),
                }
                kb = match u.get("kb_jwt") {
                    None => None,
                    Some(Value::String(k)) => Some(Jws::parse_compact(k)?),
                    Some(_) => return Err(bad("\"kb_jwt\" must be a string").into()),
                };
            }
            issuer.push(jws);
        }
        Ok(Self {
            serialization,
            issuer: issuer.into(),
            disclosures,
            kb,
        })
    }

    /// Assembles an SD-JWT from its parts.
    pub(crate) fn from_parts(
        serialization: Serialization,
        issuer: Jws,
        disclosures: Vec<Disclosure>,
        kb: Option<Jws>,
    ) -> Self {
        Self {
            serialization,
            issuer: Arc::new([issuer]),
            disclosures,
            kb,
        }
    }

    /// The serialization it was parsed from or will be written in.
    #[must_use]
    pub fn serialization(&self) -> Serialization {
        self.serialization
    }

    /// The issuer-signed JWT (the first signature in the general JSON serialization).
    #[must_use]
    pub fn issuer_jwt(&self) -> &Jws {
        // Invariant: parsing and building always produce at least one issuer signature.
        #[allow(clippy::indexing_slicing)]
        &self.issuer[0]
    }

    /// Every issuer signature (more than one only in the general JSON serialization).
    #[must_use]
    pub fn issuer_signatures(&self) -> &[Jws] {
        &self.issuer
    }

    /// The Disclosures, in order.
    #[must_use]
    pub fn disclosures(&self) -> &[Disclosure] {
        &self.disclosures
    }

    /// The Key Binding JWT, if any.
    #[must_use]
    pub fn key_binding_jwt(&self) -> Option<&Jws> {
        self.kb.as_ref()
    }

    /// The input of `sd_hash` (RFC 9901 §4.3.1, §8.1): `<JWT>~<D1>~...~<DN>~`, with the
    /// first signature's compact form for the JSON serialization.
    #[must_use]
    pub fn sd_hash_input(&self) -> String {
        self.sd_hash_input_with_room(0)
    }

    /// The `sd_hash` value (RFC 9901 §4.3.1): the digest of [`SdJwt::sd_hash_input`] under
    /// `alg`, hashed piece by piece without assembling the input.
    #[must_use]
    pub fn sd_hash(&self, alg: HashAlg) -> String {
        alg.digest_chunks_b64(self.sd_hash_chunks().map(str::as_bytes))
    }

    /// [`SdJwt::sd_hash_input`] with `room` more bytes of capacity (for the KB-JWT).
    pub(crate) fn sd_hash_input_with_room(&self, room: usize) -> String {
        let len: usize = self.sd_hash_chunks().map(str::len).sum();
        let mut out = String::with_capacity(len + room);
        out.extend(self.sd_hash_chunks());
        out
    }

    /// The pieces of the `sd_hash` input, in order: `<JWT>`, `~`, then each Disclosure and a
    /// `~` (for the JSON serialization, the first signature's compact form).
    fn sd_hash_chunks(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.issuer_jwt().as_compact())
            .chain(std::iter::once("~"))
            .chain(self.disclosures.iter().flat_map(|d| [d.as_str(), "~"]))
    }

    /// A copy with other Disclosures and Key Binding JWT (the issuer JWT is shared).
    pub(crate) fn with(&self, disclosures: Vec<Disclosure>, kb: Option<Jws>) -> Self {
        Self {
            serialization: self.serialization,
            issuer: Arc::clone(&self.issuer),
            disclosures,
            kb,
        }
    }

    /// The same SD-JWT with `kb` as its Key Binding JWT.
    pub(crate) fn with_key_binding(mut self, kb: Jws) -> Self {
        self.kb = Some(kb);
        self
    }

    fn to_json(&self) -> Value {
        let mut sigs = Vec::with_capacity(self.issuer.len());
        for (i, jws) in self.issuer.iter().enumerate() {
            let mut header = jws.unprotected_header().cloned().unwrap_or_default();
            header.remove("disclosures");
            header.remove("kb_jwt");
            if i == 0 {
                header.insert(
                    "disclosures".into(),
                    self.disclosures
                        .iter()
                        .map(|d| Value::from(d.as_str()))
                        .collect(),
                );
                if let Some(kb) = &self.kb {
                    header.insert("kb_jwt".into(), kb.as_compact().into());
                }
            }
            let mut s = Map::new();
            s.insert("header".into(), header.into());
            s.insert("protected".into(), jws.protected_b64().into());
            s.insert("signature".into(), jws.signature_b64().into());
            sigs.push(s);
        }
        let payload = Value::from(self.issuer_jwt().payload_b64());
        match self.serialization {
            Serialization::General => {
                let mut o = Map::new();
                o.insert("payload".into(), payload);
                o.insert(
                    "signatures".into(),
                    sigs.into_iter().map(Value::Object).collect(),
                );
                o.into()
            }
            _ => {
                let mut o = sigs.into_iter().next().unwrap_or_default();
                o.insert("payload".into(), payload);
                o.into()
            }
        }
    }
}

impl fmt::Display for SdJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.serialization {
            Serialization::Compact => {
                // Piece by piece: no intermediate copy of the whole text.
                for piece in self.sd_hash_chunks() {
                    f.write_str(piece)?;
                }
                if let Some(kb) = &self.kb {
                    f.write_str(kb.as_compact())?;
                }
                Ok(())
            }
            _ => write!(f, "{}", self.to_json()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64;

    #[test]
    fn sd_hash_streams_the_same_input() {
        let jwt = format!(
            "{}.{}.{}",
            b64::encode(br#"{"alg":"ES256"}"#),
            b64::encode(b"{}"),
            b64::encode(&[7u8; 64])
        );
        let d1 = Disclosure::new("salt-1".into(), Some("a".into()), 1.into()).unwrap();
        let d2 = Disclosure::new("salt-2".into(), None, "x".into()).unwrap();
        for disclosures in [vec![], vec![d1.clone()], vec![d1, d2]] {
            let mut text = format!("{jwt}~");
            for d in &disclosures {
                text.push_str(d.as_str());
                text.push('~');
            }
            let sd_jwt = SdJwt::parse(&text, &Limits::default()).unwrap();
            assert_eq!(sd_jwt.sd_hash_input(), text);
            for alg in HashAlg::ALL {
                assert_eq!(sd_jwt.sd_hash(alg), alg.digest_b64(text.as_bytes()));
            }
        }
    }
}
