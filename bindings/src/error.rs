//! The one error type of the bindings: a kind the app switches on (the variant), the stable
//! credkit code (`code`, e.g. `nonce_mismatch`) and a human-readable `detail`.
//!
//! Kotlin sees a sealed `CredkitException` class, Swift an `enum CredkitError: Error`, Python
//! `CredkitError.*` exception classes. Host callbacks (key manager, store, HTTP client) throw
//! the same type; anything else they throw arrives as [`CredkitError::Internal`] with code
//! `host_callback_failed`.

use std::fmt;

/// Everything that can go wrong, grouped into the kinds an app reacts to differently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum CredkitError {
    /// The input is not a well-formed credential, presentation, key or document (bad encoding,
    /// structure, disclosures, limits exceeded).
    #[error("{code}: {detail}")]
    Malformed {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// A signature did not verify.
    #[error("{code}: {detail}")]
    InvalidSignature {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// The holder binding is missing or wrong: a KB-JWT's nonce, audience, age or `sd_hash`;
    /// or, for a wallet receiving a credential, a `cnf` key that is not one of its keys.
    #[error("{code}: {detail}")]
    KeyBinding {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// The credential (or a document it depends on) is expired or not yet valid.
    #[error("{code}: {detail}")]
    Expired {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// The issuer revoked or suspended the credential (Token Status List).
    #[error("{code}: {detail}")]
    Revoked {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// The issuer, its key or its certificate chain is not trusted, or the credential type
    /// is not accepted.
    #[error("{code}: {detail}")]
    UntrustedIssuer {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// The key manager cannot provide or use a key (user cancelled, hardware busy).
    #[error("{code}: {detail}")]
    KeyUnavailable {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// The credential store failed, or a record does not decrypt.
    #[error("{code}: {detail}")]
    Storage {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// No credential, record or key with this id.
    #[error("{code}: {detail}")]
    NotFound {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// Every copy of a one-time-use credential has been presented.
    #[error("{code}: {detail}")]
    Exhausted {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// The wallet holds nothing that answers the verifier's (required) query, or a response
    /// does not answer the query it claims to.
    #[error("{code}: {detail}")]
    Unsatisfiable {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// A document (issuer metadata, type metadata, status list) could not be retrieved.
    #[error("{code}: {detail}")]
    Network {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// An algorithm, key type or extension credkit does not support.
    #[error("{code}: {detail}")]
    Unsupported {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// The app passed something unusable: invalid claims, configuration or query.
    #[error("{code}: {detail}")]
    InvalidInput {
        /// The stable credkit code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// A bug: a panic inside credkit (caught at the boundary), or an unexpected exception
    /// thrown by a host callback. The library stays usable.
    #[error("{code}: {detail}")]
    Internal {
        /// The stable credkit code (`panic`, `host_callback_failed`).
        code: String,
        /// What was wrong.
        detail: String,
    },
}

/// The kind of a credkit code: which [`CredkitError`] variant it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Malformed,
    InvalidSignature,
    KeyBinding,
    Expired,
    Revoked,
    UntrustedIssuer,
    KeyUnavailable,
    Storage,
    NotFound,
    Exhausted,
    Unsatisfiable,
    Network,
    Unsupported,
    InvalidInput,
}

/// Classifies a stable credkit code. A code not listed here is `Malformed`: the failure of
/// a received input, which is what most codes describe.
fn kind(code: &str) -> Kind {
    match code {
        "invalid_signature" | "sig_malformed" => Kind::InvalidSignature,
        "kb_required" | "kb_unexpected" | "cnf_invalid" | "sd_hash_mismatch" | "nonce_mismatch"
        | "aud_mismatch" | "kb_too_old" | "holder_key_unknown" => Kind::KeyBinding,
        "expired"
        | "not_yet_valid"
        | "issued_in_future"
        | "certificate_expired"
        | "certificate_not_yet_valid"
        | "status_list_expired" => Kind::Expired,
        "credential_revoked" | "credential_suspended" | "credential_status_unknown" => {
            Kind::Revoked
        }
        "untrusted_issuer"
        | "key_mechanism_mismatch"
        | "issuer_mismatch"
        | "untrusted_chain"
        | "certificate_invalid"
        | "certificate_usage"
        | "vct_not_accepted"
        | "unknown_key"
        | "typ_mismatch"
        | "alg_not_allowed"
        | "did_resolution_failed" => Kind::UntrustedIssuer,
        "key_unavailable" | "signer_failed" | "random_failed" => Kind::KeyUnavailable,
        "storage_failed" | "storage_decrypt_failed" => Kind::Storage,
        "not_found" => Kind::NotFound,
        "credential_exhausted" => Kind::Exhausted,
        "dcql_unsatisfiable" | "dcql_response_mismatch" => Kind::Unsatisfiable,
        "url_invalid"
        | "url_forbidden"
        | "too_many_redirects"
        | "response_too_large"
        | "http_status"
        | "fetch_timeout"
        | "fetch_failed"
        | "type_metadata_unavailable" => Kind::Network,
        "alg_unsupported" | "unsupported_key" | "crit_unsupported" | "sd_alg_unsupported" => {
            Kind::Unsupported
        }
        "api_misuse"
        | "invalid_claims"
        | "invalid_pointer"
        | "dcql_invalid"
        | "not_selectively_disclosable"
        | "disclosure_unknown"
        | "key_private_material"
        | "status_index_out_of_range" => Kind::InvalidInput,
        _ => Kind::Malformed,
    }
}

impl CredkitError {
    /// An error of kind `kind` (crate-internal constructor).
    fn of(kind: Kind, code: String, detail: String) -> Self {
        match kind {
            Kind::Malformed => Self::Malformed { code, detail },
            Kind::InvalidSignature => Self::InvalidSignature { code, detail },
            Kind::KeyBinding => Self::KeyBinding { code, detail },
            Kind::Expired => Self::Expired { code, detail },
            Kind::Revoked => Self::Revoked { code, detail },
            Kind::UntrustedIssuer => Self::UntrustedIssuer { code, detail },
            Kind::KeyUnavailable => Self::KeyUnavailable { code, detail },
            Kind::Storage => Self::Storage { code, detail },
            Kind::NotFound => Self::NotFound { code, detail },
            Kind::Exhausted => Self::Exhausted { code, detail },
            Kind::Unsatisfiable => Self::Unsatisfiable { code, detail },
            Kind::Network => Self::Network { code, detail },
            Kind::Unsupported => Self::Unsupported { code, detail },
            Kind::InvalidInput => Self::InvalidInput { code, detail },
        }
    }

    /// The stable credkit code.
    #[must_use]
    pub fn code(&self) -> &str {
        self.parts().0
    }

    /// The detail, for logs: it may carry a host exception's stack trace, and is not meant
    /// for the user.
    #[must_use]
    pub fn detail(&self) -> &str {
        self.parts().1
    }

    fn parts(&self) -> (&str, &str) {
        match self {
            Self::Malformed { code, detail }
            | Self::InvalidSignature { code, detail }
            | Self::KeyBinding { code, detail }
            | Self::Expired { code, detail }
            | Self::Revoked { code, detail }
            | Self::UntrustedIssuer { code, detail }
            | Self::KeyUnavailable { code, detail }
            | Self::Storage { code, detail }
            | Self::NotFound { code, detail }
            | Self::Exhausted { code, detail }
            | Self::Unsatisfiable { code, detail }
            | Self::Network { code, detail }
            | Self::Unsupported { code, detail }
            | Self::InvalidInput { code, detail }
            | Self::Internal { code, detail } => (code, detail),
        }
    }

    /// The detail, prefixed with the code when the code is not `code` (for wrapping a host
    /// error into a core error of one kind without losing what the host said).
    pub(crate) fn detail_unless(&self, code: &str) -> String {
        if self.code() == code {
            self.detail().to_owned()
        } else {
            format!("{}: {}", self.code(), self.detail())
        }
    }

    /// An `invalid_input` error for a bad argument.
    pub(crate) fn invalid_input(detail: impl fmt::Display) -> Self {
        Self::InvalidInput {
            code: "invalid_input".into(),
            detail: detail.to_string(),
        }
    }

    /// The error of a caught panic.
    pub(crate) fn panic(detail: impl fmt::Display) -> Self {
        Self::Internal {
            code: "panic".into(),
            detail: detail.to_string(),
        }
    }
}

impl From<credkit::Error> for CredkitError {
    fn from(e: credkit::Error) -> Self {
        let code = e.code();
        let message = e.to_string();
        // Core messages start with their code; the code has its own field here.
        let detail = message
            .strip_prefix(code)
            .and_then(|m| m.strip_prefix(": "))
            .unwrap_or(&message)
            .to_owned();
        Self::of(kind(code), code.to_owned(), detail)
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CredkitError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Internal {
            code: "host_callback_failed".into(),
            detail: e.reason,
        }
    }
}

/// Shorthand for results of exported functions.
pub type Result<T, E = CredkitError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes of every kind, with the kind an app should see.
    const CLASSIFIED: &[(&str, Kind)] = &[
        ("invalid_signature", Kind::InvalidSignature),
        ("sig_malformed", Kind::InvalidSignature),
        ("nonce_mismatch", Kind::KeyBinding),
        ("aud_mismatch", Kind::KeyBinding),
        ("kb_required", Kind::KeyBinding),
        ("holder_key_unknown", Kind::KeyBinding),
        ("expired", Kind::Expired),
        ("not_yet_valid", Kind::Expired),
        ("credential_revoked", Kind::Revoked),
        ("credential_suspended", Kind::Revoked),
        ("untrusted_issuer", Kind::UntrustedIssuer),
        ("vct_not_accepted", Kind::UntrustedIssuer),
        ("untrusted_chain", Kind::UntrustedIssuer),
        ("key_unavailable", Kind::KeyUnavailable),
        ("signer_failed", Kind::KeyUnavailable),
        ("storage_failed", Kind::Storage),
        ("storage_decrypt_failed", Kind::Storage),
        ("not_found", Kind::NotFound),
        ("credential_exhausted", Kind::Exhausted),
        ("dcql_unsatisfiable", Kind::Unsatisfiable),
        ("fetch_failed", Kind::Network),
        ("alg_unsupported", Kind::Unsupported),
        ("dcql_invalid", Kind::InvalidInput),
        ("disclosure_unreferenced", Kind::Malformed),
        ("json_invalid", Kind::Malformed),
    ];

    #[test]
    fn codes_map_to_their_kinds() {
        for (code, want) in CLASSIFIED {
            assert_eq!(kind(code), *want, "{code}");
        }
    }

    #[test]
    fn core_errors_keep_their_code_and_message() {
        let e: CredkitError = credkit::Error::InvalidSignature.into();
        assert!(matches!(e, CredkitError::InvalidSignature { .. }));
        assert_eq!(e.code(), "invalid_signature");
        assert_eq!(e.detail(), "signature verification failed");
        let e: CredkitError =
            credkit::Error::from(credkit::error::WalletError::Exhausted("b".into())).into();
        assert!(matches!(e, CredkitError::Exhausted { .. }), "{e:?}");
    }

    #[test]
    fn unexpected_host_exceptions_are_internal() {
        let e: CredkitError = uniffi::UnexpectedUniFFICallbackError::new("boom").into();
        assert!(matches!(e, CredkitError::Internal { .. }));
        assert_eq!(e.code(), "host_callback_failed");
    }
}
