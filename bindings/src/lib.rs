//! credkit for Kotlin (Android), Swift (iOS) and Python, through UniFFI.
//!
//! Thin wrappers over the `credkit` crate:
//! - [`Issuer`] signs SD-JWT VCs with a key of the host ([`HostSigner`]: HSM, KMS) and keeps
//!   [`StatusList`]s;
//! - [`Wallet`] receives, verifies and keeps credentials bound to keys of the host's keystore
//!   ([`HostKeyManager`]: Secure Enclave, StrongBox), answers DCQL queries with a consent
//!   summary ([`QueryAnswer`]) and presents the user's [`Choice`]s;
//! - [`Verifier`] checks presentations and DCQL responses, and revocation.
//!
//! The host may also supply its credential storage ([`HostCredentialStore`]) and its HTTP
//! stack ([`HostHttpClient`]). Claims cross the boundary as JSON text, the form they have on
//! the wire. Every failure is a [`CredkitError`] whose variant is the kind the app switches
//! on; no panic crosses the boundary (each entry point runs under a guard that catches panics).

use std::panic::{AssertUnwindSafe, catch_unwind};

uniffi::setup_scaffolding!("credkit");

mod config;
mod error;
mod host;
mod issuer;
mod openid4vci;
mod openid4vp;
mod verifier;
mod wallet;

pub use config::{PinnedIssuer, TrustConfig};
pub use error::{CredkitError, Result};
pub use host::{
    CredentialRecord, HostCredentialStore, HostHttpClient, HostKey, HostKeyManager, HostSigner,
    HttpReply, HttpRequest, KeyAlgorithm, is_public_address,
};
pub use issuer::{
    CredentialStatus, IssueRequest, Issuer, StatusList, StatusListState, generate_private_jwk,
};
pub use openid4vp::{
    CreatedPresentation, HostAsyncHttpClient, HttpExchange, PresentationOutcome,
    PresentationRequest, PresentationResult, PresentationVerifier, PresentationVerifierConfig,
    VerifierInfo, VerifierTrustConfig,
};
pub use verifier::{ResponseCredential, VerifiedCredential, Verifier, VerifierConfig, new_nonce};
pub use wallet::{
    Choice, ClaimView, ConsentCandidate, HeldCredential, HolderKey, QueryAnswer, UsePolicy, Wallet,
    WalletConfig,
};

/// The crypto provider of this build: aws-lc-rs with the `aws-lc` feature (verifier
/// servers), else RustCrypto (pure Rust; what mobile apps ship).
pub(crate) fn provider() -> &'static dyn credkit::crypto::CryptoProvider {
    #[cfg(feature = "aws-lc")]
    {
        &credkit::crypto::aws_lc::AwsLc
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        credkit::crypto::default_provider()
    }
}

/// Runs an entry point, turning a panic into [`CredkitError::Internal`] (code `panic`). UniFFI
/// would also catch it, but as an untyped internal error; here the app gets its error type
/// and the library stays usable (state behind a poisoned lock reports an error).
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            Err(CredkitError::panic(msg))
        }
    }
}

/// Panics inside the FFI guard. It exists so that apps and the binding tests can check, on
/// their platform, that a panic arrives as `CredkitError.Internal` (code `panic`) and that
/// the library keeps working after it.
///
/// # Errors
/// Always `Internal`.
#[uniffi::export]
pub fn self_test_panic(message: String) -> Result<()> {
    guard(|| {
        #[allow(clippy::panic)]
        {
            panic!("{message}")
        }
    })
}

/// The credkit version of this library.
#[uniffi::export]
pub fn credkit_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Parses JSON text from the app or the network strictly (no duplicate member names,
/// bounded depth), as everything credkit receives.
pub(crate) fn parse_json(text: &str, what: &'static str) -> Result<serde_json::Value> {
    Ok(credkit::json::parse(text.as_bytes(), 64, what)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_error_and_the_next_call_works() {
        let e = self_test_panic("boom".into());
        assert_eq!(
            e,
            Err(CredkitError::Internal {
                code: "panic".into(),
                detail: "boom".into()
            })
        );
        assert!(new_nonce().is_ok_and(|n| n.len() >= 32));
    }
}
