//! JWS algorithms credkit signs and verifies with (RFC 7518 §3.4, RFC 8037 §3.1).
//!
//! Only asymmetric signature algorithms exist here: `none` and the HMAC family cannot be
//! named, so they cannot be allowed by accident (RFC 8725 §3.1, §3.2).

use std::fmt;

/// A JWS signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDSA with P-256 and SHA-256 (the default).
    Es256,
    /// ECDSA with P-384 and SHA-384.
    Es384,
    /// ECDSA with P-521 and SHA-512.
    Es512,
    /// EdDSA with Ed25519 (RFC 8037).
    EdDsa,
}

impl Algorithm {
    /// All algorithms credkit knows.
    pub const ALL: [Self; 4] = [Self::Es256, Self::Es384, Self::Es512, Self::EdDsa];

    /// The `alg` header value.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Looks up an `alg` header value; exact, case-sensitive match (RFC 7515 §4.1.1).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The curve of the key this algorithm needs.
    #[must_use]
    pub fn curve(self) -> Curve {
        match self {
            Self::Es256 => Curve::P256,
            Self::Es384 => Curve::P384,
            Self::Es512 => Curve::P521,
            Self::EdDsa => Curve::Ed25519,
        }
    }

    /// The exact length of a JWS signature for this algorithm (RFC 7518 §3.4).
    #[must_use]
    pub fn signature_len(self) -> usize {
        match self {
            Self::Es256 | Self::EdDsa => 64,
            Self::Es384 => 96,
            Self::Es512 => 132,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Curve {
    /// NIST P-256 (`kty` EC).
    P256,
    /// NIST P-384 (`kty` EC).
    P384,
    /// NIST P-521 (`kty` EC).
    P521,
    /// Ed25519 (`kty` OKP, RFC 8037).
    Ed25519,
}

impl Curve {
    /// The `crv` value.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
            Self::Ed25519 => "Ed25519",
        }
    }

    /// The `kty` value.
    #[must_use]
    pub fn kty(self) -> &'static str {
        match self {
            Self::Ed25519 => "OKP",
            _ => "EC",
        }
    }

    /// Length in bytes of a coordinate / private scalar (RFC 7518 §6.2.1.2, RFC 8037 §2).
    #[must_use]
    pub fn coordinate_len(self) -> usize {
        match self {
            Self::P256 | Self::Ed25519 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    /// The signature algorithm for keys on this curve.
    #[must_use]
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::P256 => Algorithm::Es256,
            Self::P384 => Algorithm::Es384,
            Self::P521 => Algorithm::Es512,
            Self::Ed25519 => Algorithm::EdDsa,
        }
    }

    pub(crate) fn from_names(kty: &str, crv: &str) -> Option<Self> {
        [Self::P256, Self::P384, Self::P521, Self::Ed25519]
            .into_iter()
            .find(|c| c.kty() == kty && c.name() == crv)
    }
}
