//! SD-JWT: Selective Disclosure for JSON Web Tokens (RFC 9901), for issuers, holders and
//! verifiers.
//!
//! - [`SdJwtBuilder`] issues (§4, §5): object-property and array-element Disclosures at any
//!   depth, decoys (§4.2.5), `_sd_alg` (§4.1.1), `cnf` (§4.1.2), explicit `typ` (§9.11), compact
//!   and JSON serialization (§8).
//! - [`Credential`] is what a holder keeps after checking an issued SD-JWT (§7.2); it lists the
//!   disclosable claims by JSON Pointer and builds [`Presentation`]s with a Key Binding JWT
//!   (§4.3).
//! - [`Verifier`] runs every step of §7.1 and §7.3 and returns a [`VerifiedSdJwt`].
//!
//! This layer knows nothing of credential types: SD-JWT VC builds on it.

mod disclosure;
mod format;
mod holder;
mod issuer;
mod limits;
pub mod pointer;
mod process;
pub(crate) mod verifier;

pub use disclosure::Disclosure;
pub use format::{SdJwt, Serialization};
pub use holder::{Credential, DisclosableClaim, Presentation, UnsignedKeyBinding};
pub use issuer::{SALT_BYTES, SdJwtBuilder, UnsignedSdJwt};
pub use limits::Limits;
pub use verifier::{
    IssuerKeyResolver, KeyBindingPolicy, StaticIssuerKeys, VerifiedKeyBinding, VerifiedSdJwt,
    Verifier, VerifierBuilder, danger,
};

/// The `typ` of a Key Binding JWT (RFC 9901 §4.3).
pub const KB_JWT_TYP: &str = "kb+jwt";

/// Claims an issuer must never make selectively disclosable (RFC 9901 §9.7): the validity-
/// and authenticity-critical ones. Individual `aud` entries may be disclosable, `aud` itself
/// may not.
pub const NEVER_DISCLOSABLE: [&str; 5] = ["iss", "aud", "exp", "nbf", "cnf"];
