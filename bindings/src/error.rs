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
    /// Every copy of a one-time-use credential has been presented; every index of a status
    /// list is allocated.
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
    Internal,
}

/// Classifies a stable credkit code; `None` for a code this list does not know (a test
/// checks that every code of the core crate is listed, so that a new code is classified on
/// purpose). Unknown codes are treated as `Malformed`.
fn kind(code: &str) -> Option<Kind> {
    Some(match code {
        "invalid_signature" | "sig_malformed" => Kind::InvalidSignature,
        "kb_required" | "kb_unexpected" | "cnf_invalid" | "sd_hash_mismatch" | "nonce_mismatch"
        | "aud_mismatch" | "kb_too_old" | "holder_key_unknown" => Kind::KeyBinding,
        "expired"
        | "not_yet_valid"
        | "issued_in_future"
        | "certificate_expired"
        | "certificate_not_yet_valid" => Kind::Expired,
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
        | "did_resolution_failed"
        | "issuer_metadata_invalid" => Kind::UntrustedIssuer,
        "key_unavailable" | "signer_failed" => Kind::KeyUnavailable,
        "storage_failed" | "storage_decrypt_failed" => Kind::Storage,
        "not_found" => Kind::NotFound,
        "credential_exhausted" | "status_list_full" => Kind::Exhausted,
        "dcql_unsatisfiable" | "dcql_response_mismatch" => Kind::Unsatisfiable,
        // The status list could not be obtained fresh: the credential's status is unknown
        // for now, which a retry may fix.
        "url_invalid"
        | "url_forbidden"
        | "too_many_redirects"
        | "response_too_large"
        | "http_status"
        | "fetch_timeout"
        | "fetch_failed"
        | "type_metadata_unavailable"
        | "status_list_expired" => Kind::Network,
        "alg_unsupported" | "unsupported_key" | "crit_unsupported" | "sd_alg_unsupported" => {
            Kind::Unsupported
        }
        "api_misuse"
        | "invalid_claims"
        | "invalid_pointer"
        | "dcql_invalid"
        | "not_selectively_disclosable"
        | "disclosure_unknown" => Kind::InvalidInput,
        "random_failed" => Kind::Internal,
        // What a received credential, presentation, key or document can be wrong with.
        "input_too_large"
        | "too_many_disclosures"
        | "json_depth_exceeded"
        | "sd_recursion_depth"
        | "too_many_digests"
        | "b64_invalid"
        | "json_invalid"
        | "json_duplicate_key"
        | "json_unexpected_type"
        | "malformed_compact"
        | "malformed_json_serialization"
        | "malformed_sd_jwt"
        | "alg_not_allowed"
        | "header_invalid"
        | "typ_mismatch"
        | "invalid_key"
        | "key_alg_mismatch"
        | "key_private_material"
        | "claim_missing"
        | "claim_invalid"
        | "claim_mismatch"
        | "disclosure_invalid"
        | "disclosure_unreferenced"
        | "digest_duplicate"
        | "disclosure_wrong_shape"
        | "claim_collision"
        | "reserved_claim_name"
        | "sd_alg_misplaced"
        | "sd_invalid"
        | "vct_invalid"
        | "aka_vcts_invalid"
        | "claim_selectively_disclosed"
        | "vc_claim_invalid"
        | "vc_structure_invalid"
        | "type_metadata_invalid"
        | "integrity_mismatch"
        | "integrity_invalid"
        | "type_metadata_vct_mismatch"
        | "extends_cycle"
        | "extends_too_deep"
        | "claim_metadata_relaxed"
        | "claim_metadata_violation"
        | "status_list_invalid"
        | "status_list_too_large"
        | "status_index_out_of_range"
        | "status_reference_invalid"
        | "status_list_token_invalid"
        | "status_list_sub_mismatch" => Kind::Malformed,
        // JWE (RFC 7516): what a received encrypted message can be wrong with.
        "jwe_alg_not_allowed"
        | "jwe_enc_not_allowed"
        | "jwe_zip_unsupported"
        | "invalid_epk"
        | "jwe_key_unknown"
        | "jwe_decrypt_failed" => Kind::Malformed,
        // OpenID4VP: a verifier that could not be authenticated under the wallet's trust
        // (the app shows "unverified party", as for issuers).
        "untrusted_verifier"
        | "x509_san_mismatch"
        | "x509_hash_mismatch"
        | "unknown_client"
        | "signed_redirect_uri_client"
        | "unsigned_request_not_allowed"
        | "client_id_mismatch"
        | "response_uri_not_allowed" => Kind::UntrustedIssuer,
        "request_expired" | "transaction_expired" => Kind::Expired,
        "vp_formats_not_supported" | "unsupported_client_id_prefix" => Kind::Unsupported,
        "access_denied" => Kind::Unsatisfiable,
        "response_rejected" => Kind::Network,
        "transaction_unknown" => Kind::NotFound,
        // A request or response that violates the protocol; the OAuth codes of §8.5.
        "request_invalid"
        | "reserved_client_id_prefix"
        | "unexpected_client_metadata"
        | "wallet_nonce_mismatch"
        | "invalid_request_uri_method"
        | "invalid_transaction_data"
        | "transaction_used"
        | "encryption_required"
        | "state_mismatch"
        | "vp_token_shape"
        | "transaction_data_hash_mismatch"
        | "origin_mismatch"
        | "response_code_invalid"
        | "invalid_request"
        | "invalid_client" => Kind::Malformed,
        // OpenID4VCI: offers, metadata and answers that violate the protocol.
        "invalid_offer"
        | "invalid_metadata"
        | "invalid_response"
        | "unencrypted_response"
        | "credential_binding_mismatch"
        | "token_not_sender_constrained"
        | "iss_missing"
        | "invalid_dpop_proof"
        | "invalid_pkce"
        | "invalid_client_attestation"
        | "invalid_proof" => Kind::Malformed,
        // An issuer or authorization server that is not the one the offer named (mix-up).
        "metadata_issuer_mismatch" | "iss_mismatch" => Kind::UntrustedIssuer,
        "flow_state" => Kind::InvalidInput,
        // The issuer refused (its OAuth error is the code): a wrong transaction code, a used
        // or expired offer, a request it does not grant.
        "invalid_grant"
        | "invalid_tx_code"
        | "invalid_token"
        | "insufficient_scope"
        | "invalid_scope"
        | "unauthorized_client"
        | "unsupported_grant_type"
        | "invalid_authorization_details"
        | "invalid_credential_request"
        | "unknown_credential_configuration"
        | "unknown_credential_identifier"
        | "invalid_nonce"
        | "invalid_encryption_parameters"
        | "invalid_transaction_id"
        | "invalid_notification_id"
        | "invalid_notification_request"
        | "use_attestation_challenge"
        | "use_fresh_attestation"
        | "issuer_rejected" => Kind::InvalidInput,
        "credential_request_denied" => Kind::Unsatisfiable,
        "dpop_nonce_loop" | "use_dpop_nonce" | "server_error" | "temporarily_unavailable" => {
            Kind::Network
        }
        _ => return None,
    })
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
            Kind::Internal => Self::Internal { code, detail },
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
        Self::of(
            kind(code).unwrap_or(Kind::Malformed),
            code.to_owned(),
            detail,
        )
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
        ("status_list_expired", Kind::Network),
        ("typ_mismatch", Kind::Malformed),
        ("key_private_material", Kind::Malformed),
        ("random_failed", Kind::Internal),
        ("alg_unsupported", Kind::Unsupported),
        ("dcql_invalid", Kind::InvalidInput),
        ("disclosure_unreferenced", Kind::Malformed),
        ("json_invalid", Kind::Malformed),
    ];

    #[test]
    fn codes_map_to_their_kinds() {
        for (code, want) in CLASSIFIED {
            assert_eq!(kind(code), Some(*want), "{code}");
        }
    }

    /// Every code the core crate defines (its `codes!` tables) has a kind chosen on purpose.
    #[test]
    fn every_core_code_is_classified() {
        let source = include_str!("../../core/src/error.rs");
        let mut codes = Vec::new();
        for line in source.lines() {
            let line = line.trim();
            if let Some(rest) = line.split("=> \"").nth(1)
                && let Some(code) = rest.split('"').next()
            {
                codes.push(code.to_owned());
            }
        }
        assert!(codes.len() > 80, "found only {} codes", codes.len());
        let unclassified: Vec<&String> = codes.iter().filter(|c| kind(c).is_none()).collect();
        assert!(
            unclassified.is_empty(),
            "unclassified codes: {unclassified:?}"
        );
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
