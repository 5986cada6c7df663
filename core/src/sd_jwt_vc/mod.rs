//! SD-JWT-based Verifiable Credentials (draft-ietf-oauth-sd-jwt-vc-18, checked against the
//! editor's copy after it), the format of the EU Digital Identity Wallet's PID.
//!
//! - [`VcBuilder`] issues (§2.2): `typ` `dc+sd-jwt`, [`Vct`], `aka_vcts`, registered claims
//!   (`iss`, `nbf`, `exp`, `cnf`, `vct`, `vct#integrity`, `aka_vcts`, `status`) that are never
//!   selectively disclosable, `x5c`, and the `sd` / `mandatory` rules of Type Metadata.
//! - [`VcVerifier`] verifies (§2.4): RFC 9901 §7 in full, then the VC rules, with the
//!   issuer's key found by the one mechanism a [`TrustPolicy`] permits for the issuer (§2.5):
//!   [`X5cTrust`], [`IssuerMetadataTrust`], [`StaticIssuerKeys`](crate::sd_jwt::StaticIssuerKeys)
//!   or DIDs (feature `did`). [`VcVerifier::receive`] is the wallet's side of issuance.
//! - [`type_metadata`] retrieves and processes Type Metadata (§5, §6): integrity, `extends`,
//!   merged claim metadata and display data for wallet screens.
//! - [`pid`] is the EU PID (ARF PID Rulebook, SD-JWT VC encoding) as a typed value.
//!
//! This layer sits on [`crate::sd_jwt`], which knows nothing of credential types.

pub mod claim_path;
#[cfg(feature = "did")]
mod did;
mod issuer;
pub mod pid;
pub mod trust;
pub mod type_metadata;
mod vct;
mod verifier;

#[cfg(feature = "did")]
pub use did::DidTrust;
pub use issuer::VcBuilder;
pub use trust::{
    IssuerBinding, IssuerMetadataTrust, IssuerTrust, TrustPolicy, TrustedIssuerKeys, X5cTrust,
};
pub use vct::Vct;
pub use verifier::{TypeMetadataPolicy, VcCredential, VcVerifier, VcVerifierBuilder, VerifiedVc};

/// The `typ` of an SD-JWT VC (§2.2.1) and the suffix of its media type
/// `application/dc+sd-jwt`.
pub const DC_SD_JWT_TYP: &str = "dc+sd-jwt";

/// The `typ` of drafts before -06, accepted only when a verifier opts in
/// ([`VcVerifierBuilder::accept_legacy_typ`]).
pub const LEGACY_VC_SD_JWT_TYP: &str = "vc+sd-jwt";

/// Claims that must never be selectively disclosable, nor anything below them (§2.2.2.3).
pub const NEVER_DISCLOSABLE: [&str; 8] = [
    "iss",
    "nbf",
    "exp",
    "cnf",
    "vct",
    "vct#integrity",
    "aka_vcts",
    "status",
];
