//! Token Status List (draft-ietf-oauth-status-list-20): revocation and suspension without
//! asking the issuer about each credential.
//!
//! - [`StatusList`] (§4): 1, 2, 4 or 8 bits per entry, LSB-first, ZLIB, JSON and CBOR forms;
//!   decompression bounded against zlib bombs.
//! - [`StatusListTokenBuilder`] (§5): the issuer signs a list as a JWT (`statuslist+jwt`) or a
//!   CWT (COSE_Sign1); [`verify_jwt`] / [`verify_cwt`] validate one (§8.3).
//! - [`IndexAllocator`] (§13.2–13.3): random indices, never reused; [`IssuerStatusList`]
//!   keeps a list, its allocator and its URI together for an issuer.
//! - [`StatusChecker`] (§8): a verifier's or wallet's check of a verified credential, with a
//!   per-list cache honouring `exp` and `ttl`.
//!
//! An SD-JWT VC references its entry with `status.status_list {idx, uri}` (§6.2), set with
//! [`VcBuilder::status`](crate::sd_jwt_vc::VcBuilder::status) or [`status_claim`].

mod allocator;
mod checker;
mod issuer;
mod list;
mod token;

pub use allocator::{IndexAllocator, MAX_ENTRIES};
pub use checker::{CredentialStatus, StatusChecker, StatusReference};
pub use issuer::IssuerStatusList;
pub use list::{Bits, DEFAULT_MAX_LIST_BYTES, Status, StatusList};
pub use token::{
    STATUS_LIST_CWT_TYP, STATUS_LIST_JWT_TYP, StatusListToken, StatusListTokenBuilder, TokenCheck,
    verify_cwt, verify_jwt,
};

/// The `status` claim referencing entry `idx` of the list at `uri` (§6.2).
#[must_use]
pub fn status_claim(idx: u64, uri: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut list = serde_json::Map::new();
    list.insert("idx".into(), idx.into());
    list.insert("uri".into(), uri.into());
    let mut status = serde_json::Map::new();
    status.insert("status_list".into(), serde_json::Value::Object(list));
    status
}
