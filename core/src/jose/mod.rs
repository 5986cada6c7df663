//! JOSE: algorithms (RFC 7518), JSON Web Keys (RFC 7517, RFC 7638), JSON Web Signatures
//! (RFC 7515) in compact and JSON serialization, and JSON Web Encryption (RFC 7516) with
//! ECDH-ES and AES-GCM, with the RFC 8725 rules applied on every path.

pub mod alg;
pub mod jwe;
pub mod jwk;
pub mod jws;

pub use alg::{Algorithm, Curve};
pub use jwk::{PrivateJwk, PublicJwk};
pub use jws::{Jws, UnsignedJws};
