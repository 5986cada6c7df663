//! The one error type of credkit.
//!
//! [`Error`] is a `#[non_exhaustive]` enum whose variants group the failures by the layer that
//! detects them; each leaf has a stable snake_case code ([`Error::code`]) that tests, the CLI
//! and the FFI layer switch on. The codes follow the names used in the project's attack
//! catalogue (`input_too_large`, `alg_not_allowed`, `disclosure_unreferenced`, ...).
//!
//! Messages never contain key material, salts or undisclosed claim values.

use std::fmt;

/// Everything that can go wrong in credkit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configured resource limit was exceeded (denial-of-service guard).
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// Bytes that are not valid base64url, UTF-8 or strict JSON.
    #[error(transparent)]
    Encoding(#[from] EncodingError),
    /// A token whose envelope (compact or JSON serialization) is malformed.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A JOSE header that is malformed or not allowed by policy.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A signature that does not verify. Deliberately carries no detail.
    #[error("invalid_signature: signature verification failed")]
    InvalidSignature,
    /// A key that is malformed, unsupported or unsuitable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A JWT claim that is missing, malformed or outside its validity window.
    #[error(transparent)]
    Claim(#[from] ClaimError),
    /// A selective-disclosure structure that violates RFC 9901.
    #[error(transparent)]
    Disclosure(#[from] DisclosureError),
    /// A Key Binding JWT that violates RFC 9901 §4.3 / §7.3.
    #[error(transparent)]
    KeyBinding(#[from] KeyBindingError),
    /// An issuance request that cannot be honoured.
    #[error(transparent)]
    Issuance(#[from] IssuanceError),
    /// A failure inside a crypto provider, a signer or the random source.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// An SD-JWT VC that violates draft-ietf-oauth-sd-jwt-vc.
    #[error(transparent)]
    Vc(#[from] VcError),
    /// The issuer's key could not be tied to the issuer by a permitted mechanism.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// An X.509 certificate chain that does not validate.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// A document could not be retrieved safely over HTTP.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// SD-JWT VC Type Metadata that is invalid, or a credential that violates it.
    #[error(transparent)]
    TypeMetadata(#[from] TypeMetadataError),
    /// A Token Status List problem, or a credential whose status is not VALID.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// A DCQL query that is invalid or cannot be answered.
    #[error(transparent)]
    Dcql(#[from] DcqlError),
    /// A wallet store or key manager failure.
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// A JWE that is malformed, not allowed by policy or does not decrypt (RFC 7516).
    #[error(transparent)]
    Jwe(#[from] JweError),
    /// An OpenID4VP request or response that violates OpenID4VP 1.0 / HAIP 1.0 or the
    /// configured trust.
    #[error(transparent)]
    Oid4vp(#[from] Oid4vpError),
    /// An OpenID4VCI (or OAuth: DPoP, PKCE, PAR, client attestation) message that violates
    /// OpenID4VCI 1.0 / HAIP 1.0, or an issuer's error answer.
    #[error(transparent)]
    Oid4vci(#[from] Oid4vciError),
}

impl Error {
    /// The stable, machine-readable code of this error (e.g. `"disclosure_unreferenced"`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Limit(e) => e.code(),
            Self::Encoding(e) => e.code(),
            Self::Format(e) => e.code(),
            Self::Header(e) => e.code(),
            Self::InvalidSignature => "invalid_signature",
            Self::Key(e) => e.code(),
            Self::Claim(e) => e.code(),
            Self::Disclosure(e) => e.code(),
            Self::KeyBinding(e) => e.code(),
            Self::Issuance(e) => e.code(),
            Self::Crypto(e) => e.code(),
            Self::Vc(e) => e.code(),
            Self::Trust(e) => e.code(),
            Self::Certificate(e) => e.code(),
            Self::Fetch(e) => e.code(),
            Self::TypeMetadata(e) => e.code(),
            Self::Status(e) => e.code(),
            Self::Dcql(e) => e.code(),
            Self::Wallet(e) => e.code(),
            Self::Jwe(e) => e.code(),
            Self::Oid4vp(e) => e.code(),
            Self::Oid4vci(e) => e.code(),
        }
    }
}

/// Shorthand for results in credkit.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! codes {
    ($ty:ident { $($variant:ident $( ( $($f:tt)* ) )? $( { $($g:tt)* } )? => $code:literal),* $(,)? }) => {
        impl $ty {
            /// The stable, machine-readable code of this error.
            #[must_use]
            pub fn code(&self) -> &'static str {
                match self {
                    $( Self::$variant $( ( $($f)* ) )? $( { $($g)* } )? => $code, )*
                }
            }
        }
    };
}

/// Which limit was exceeded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The whole input is larger than allowed.
    #[error("input_too_large: input of {actual} bytes exceeds the limit of {limit}")]
    InputTooLarge {
        /// The configured limit in bytes.
        limit: usize,
        /// The size received.
        actual: usize,
    },
    /// More Disclosures than allowed.
    #[error("too_many_disclosures: more than {limit} disclosures")]
    TooManyDisclosures {
        /// The configured limit.
        limit: usize,
    },
    /// JSON nested deeper than allowed.
    #[error("json_depth_exceeded: JSON nested deeper than {limit}")]
    JsonDepth {
        /// The configured limit.
        limit: usize,
    },
    /// Disclosures nested (recursively) deeper than allowed.
    #[error("sd_recursion_depth: disclosures nested deeper than {limit}")]
    SdRecursionDepth {
        /// The configured limit.
        limit: usize,
    },
    /// More digests (including decoys) than allowed.
    #[error("too_many_digests: more than {limit} digests")]
    TooManyDigests {
        /// The configured limit.
        limit: usize,
    },
}

codes!(LimitError {
    InputTooLarge { .. } => "input_too_large",
    TooManyDisclosures { .. } => "too_many_disclosures",
    JsonDepth { .. } => "json_depth_exceeded",
    SdRecursionDepth { .. } => "sd_recursion_depth",
    TooManyDigests { .. } => "too_many_digests",
});

/// Malformed bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodingError {
    /// Not unpadded, canonical base64url (RFC 7515 §2).
    #[error("b64_invalid: {what} is not canonical unpadded base64url")]
    Base64 {
        /// Which part of the input.
        what: &'static str,
    },
    /// Not valid UTF-8 or not valid JSON (RFC 8259).
    #[error("json_invalid: {what}: {reason}")]
    Json {
        /// Which part of the input.
        what: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// A JSON object with the same member name twice (RFC 7515 §4, RFC 7519 §4).
    #[error("json_duplicate_key: {what} has the member {name:?} more than once")]
    DuplicateKey {
        /// Which part of the input.
        what: &'static str,
        /// The repeated member name.
        name: String,
    },
    /// JSON of the wrong shape (e.g. a header that is not an object).
    #[error("json_unexpected_type: {what} must be {expected}")]
    UnexpectedType {
        /// Which part of the input.
        what: &'static str,
        /// What was expected.
        expected: &'static str,
    },
}

codes!(EncodingError {
    Base64 { .. } => "b64_invalid",
    Json { .. } => "json_invalid",
    DuplicateKey { .. } => "json_duplicate_key",
    UnexpectedType { .. } => "json_unexpected_type",
});

/// Malformed token envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Compact serialization with the wrong number or shape of parts.
    #[error("malformed_compact: {0}")]
    Compact(&'static str),
    /// A JWS JSON serialization that violates RFC 7515 §7.2 or RFC 9901 §8.
    #[error("malformed_json_serialization: {0}")]
    JsonSerialization(&'static str),
    /// An SD-JWT without the trailing `~`, or a bare JWT (RFC 9901 §4).
    #[error("malformed_sd_jwt: {0}")]
    SdJwt(&'static str),
}

codes!(FormatError {
    Compact(..) => "malformed_compact",
    JsonSerialization(..) => "malformed_json_serialization",
    SdJwt(..) => "malformed_sd_jwt",
});

/// JOSE header problems.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// `alg` is `none`, symmetric, unknown or not on the allow-list (RFC 8725 §3.1).
    #[error("alg_not_allowed: algorithm {0:?} is not allowed")]
    AlgNotAllowed(String),
    /// `alg` missing or not a string (RFC 7515 §4.1.1).
    #[error("header_invalid: {0}")]
    Invalid(&'static str),
    /// `crit` lists an extension this implementation does not understand (RFC 7515 §4.1.11).
    #[error("crit_unsupported: {0}")]
    CritUnsupported(String),
    /// `typ` is missing or not the one required for this role (RFC 8725 §3.11).
    #[error("typ_mismatch: expected typ {expected:?}, found {found:?}")]
    TypMismatch {
        /// What the role requires.
        expected: String,
        /// What the token carried (`None` when absent).
        found: Option<String>,
    },
}

codes!(HeaderError {
    AlgNotAllowed(..) => "alg_not_allowed",
    Invalid(..) => "header_invalid",
    CritUnsupported(..) => "crit_unsupported",
    TypMismatch { .. } => "typ_mismatch",
});

/// Key problems.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A JWK that is malformed or not a valid point / key (RFC 7517, RFC 7518 §6).
    #[error("invalid_key: {0}")]
    Invalid(String),
    /// A key of a type or curve that this operation or provider does not support.
    #[error("unsupported_key: {0}")]
    Unsupported(String),
    /// A key that does not match the algorithm it is used with.
    #[error("key_alg_mismatch: {0}")]
    AlgMismatch(String),
    /// No trusted key matched (e.g. unknown `kid`).
    #[error("unknown_key: {0}")]
    Unknown(String),
    /// A private key where a public one is expected (or the reverse).
    #[error("key_private_material: {0}")]
    PrivateMaterial(&'static str),
}

codes!(KeyError {
    Invalid(..) => "invalid_key",
    Unsupported(..) => "unsupported_key",
    AlgMismatch(..) => "key_alg_mismatch",
    Unknown(..) => "unknown_key",
    PrivateMaterial(..) => "key_private_material",
});

/// JWT claim problems (RFC 7519 §4, RFC 9901 §7.1 step 6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// `exp` is at or before now (minus leeway).
    #[error("expired: exp {exp} is not after now {now} (leeway {leeway}s)")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The verifier's clock.
        now: i64,
        /// The leeway applied.
        leeway: u64,
    },
    /// `nbf` is after now (plus leeway).
    #[error("not_yet_valid: nbf {nbf} is after now {now} (leeway {leeway}s)")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The verifier's clock.
        now: i64,
        /// The leeway applied.
        leeway: u64,
    },
    /// `iat` lies in the future beyond the leeway.
    #[error("issued_in_future: iat {iat} is after now {now} (leeway {leeway}s)")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The verifier's clock.
        now: i64,
        /// The leeway applied.
        leeway: u64,
    },
    /// A claim required by the spec or by policy is absent.
    #[error("claim_missing: {0:?} is required")]
    Missing(String),
    /// A claim of the wrong JSON type or value shape.
    #[error("claim_invalid: {name:?} {reason}")]
    Invalid {
        /// The claim name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A claim whose value does not match the verifier's expectation (e.g. `iss`).
    #[error("claim_mismatch: {0:?} does not have the expected value")]
    Mismatch(String),
}

codes!(ClaimError {
    Expired { .. } => "expired",
    NotYetValid { .. } => "not_yet_valid",
    IssuedInFuture { .. } => "issued_in_future",
    Missing(..) => "claim_missing",
    Invalid { .. } => "claim_invalid",
    Mismatch(..) => "claim_mismatch",
});

/// Selective-disclosure structure problems (RFC 9901 §4.2, §7.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DisclosureError {
    /// A Disclosure that is not a JSON array of 2 or 3 elements with string salt / name.
    #[error("disclosure_invalid: {0}")]
    Invalid(&'static str),
    /// A Disclosure whose digest is referenced nowhere (RFC 9901 §7.1 step 5).
    #[error("disclosure_unreferenced: a disclosure is not referenced by any digest")]
    Unreferenced,
    /// A digest that occurs more than once (RFC 9901 §7.1 step 4).
    #[error("digest_duplicate: a digest occurs more than once")]
    DuplicateDigest,
    /// A 3-element Disclosure referenced from an array, or a 2-element one from `_sd`.
    #[error("disclosure_wrong_shape: {0}")]
    WrongShape(&'static str),
    /// A disclosed claim name already exists at that level (RFC 9901 §7.1 step 3.c.ii.3).
    #[error("claim_collision: claim {0:?} already exists at this level")]
    ClaimCollision(String),
    /// `_sd` or `...` used as a claim name (RFC 9901 §4.1, §7.1 step 3.c.ii.2).
    #[error("reserved_claim_name: {0:?} cannot be used as a claim name")]
    ReservedName(String),
    /// `_sd_alg` unknown, insecure or malformed (RFC 9901 §4.1.1, §7.1 step 2.d).
    #[error("sd_alg_unsupported: {0:?}")]
    SdAlgUnsupported(String),
    /// `_sd_alg` somewhere other than the top level (RFC 9901 §4.1.1).
    #[error("sd_alg_misplaced: _sd_alg must only appear at the top level")]
    SdAlgMisplaced,
    /// `_sd` that is not an array of strings, or a `...` placeholder with other members.
    #[error("sd_invalid: {0}")]
    InvalidSd(&'static str),
    /// A presentation selected a Disclosure that is not part of the credential.
    #[error("disclosure_unknown: {0}")]
    Unknown(String),
}

codes!(DisclosureError {
    Invalid(..) => "disclosure_invalid",
    Unreferenced => "disclosure_unreferenced",
    DuplicateDigest => "digest_duplicate",
    WrongShape(..) => "disclosure_wrong_shape",
    ClaimCollision(..) => "claim_collision",
    ReservedName(..) => "reserved_claim_name",
    SdAlgUnsupported(..) => "sd_alg_unsupported",
    SdAlgMisplaced => "sd_alg_misplaced",
    InvalidSd(..) => "sd_invalid",
    Unknown(..) => "disclosure_unknown",
});

/// Key Binding JWT problems (RFC 9901 §4.3, §7.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyBindingError {
    /// Policy requires key binding and no KB-JWT was presented.
    #[error("kb_required: a key binding JWT is required")]
    Required,
    /// A KB-JWT where none may be (an issuer sent an SD-JWT+KB, RFC 9901 §7.2).
    #[error("kb_unexpected: {0}")]
    Unexpected(&'static str),
    /// The SD-JWT has no usable holder key in `cnf` (RFC 7800).
    #[error("cnf_invalid: {0}")]
    HolderKey(String),
    /// `sd_hash` missing or not matching the presentation (RFC 9901 §4.3.1).
    #[error("sd_hash_mismatch: sd_hash does not match the presented SD-JWT")]
    SdHashMismatch,
    /// `nonce` missing, of the wrong type or not the expected one.
    #[error("nonce_mismatch: the KB-JWT nonce is missing or not the expected one")]
    NonceMismatch,
    /// `aud` missing, not a single string or not the expected one.
    #[error(
        "aud_mismatch: the KB-JWT aud is missing, not a single string, or not the expected one"
    )]
    AudienceMismatch,
    /// `iat` older than the maximum age.
    #[error("kb_too_old: KB-JWT iat {iat} is older than {max_age}s at {now}")]
    TooOld {
        /// The KB-JWT `iat`.
        iat: i64,
        /// The verifier's clock.
        now: i64,
        /// The configured maximum age.
        max_age: u64,
    },
}

codes!(KeyBindingError {
    Required => "kb_required",
    Unexpected(..) => "kb_unexpected",
    HolderKey(..) => "cnf_invalid",
    SdHashMismatch => "sd_hash_mismatch",
    NonceMismatch => "nonce_mismatch",
    AudienceMismatch => "aud_mismatch",
    TooOld { .. } => "kb_too_old",
});

/// Issuance and presentation requests that cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssuanceError {
    /// The claim must never be selectively disclosable (RFC 9901 §9.7, profile rules).
    #[error("not_selectively_disclosable: {0:?} must always be disclosed")]
    NotSelectivelyDisclosable(String),
    /// A JSON Pointer that is malformed or points nowhere (RFC 6901).
    #[error("invalid_pointer: {pointer:?}: {reason}")]
    InvalidPointer {
        /// The pointer given.
        pointer: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Claims given to the issuer that use reserved names or are not an object.
    #[error("invalid_claims: {0}")]
    InvalidClaims(String),
    /// The API was used in a way that cannot work (e.g. KB requested without holder key).
    #[error("api_misuse: {0}")]
    ApiMisuse(&'static str),
}

codes!(IssuanceError {
    NotSelectivelyDisclosable(..) => "not_selectively_disclosable",
    InvalidPointer { .. } => "invalid_pointer",
    InvalidClaims(..) => "invalid_claims",
    ApiMisuse(..) => "api_misuse",
});

/// Failures of crypto providers, signers and the random source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A signature of the wrong length or encoding (RFC 7518 §3.4).
    #[error("sig_malformed: {0}")]
    SignatureMalformed(&'static str),
    /// The signer failed (hardware key unavailable, user cancelled, ...).
    #[error("signer_failed: {0}")]
    Signer(String),
    /// The random source failed.
    #[error("random_failed: the random source failed")]
    Random,
    /// The algorithm is not implemented by this provider.
    #[error("alg_unsupported: {0} is not supported by this crypto provider")]
    UnsupportedAlgorithm(&'static str),
}

codes!(CryptoError {
    SignatureMalformed(..) => "sig_malformed",
    Signer(..) => "signer_failed",
    Random => "random_failed",
    UnsupportedAlgorithm(..) => "alg_unsupported",
});

/// SD-JWT VC format problems (draft-ietf-oauth-sd-jwt-vc §2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VcError {
    /// `vct` missing, not a string, or not a Collision-Resistant Name.
    #[error("vct_invalid: {0}")]
    VctInvalid(String),
    /// `vct` is not one the verifier accepts.
    #[error("vct_not_accepted: credential type {0:?} is not accepted")]
    VctNotAccepted(String),
    /// `aka_vcts` is not a non-empty array of distinct names other than `vct`.
    #[error("aka_vcts_invalid: {0}")]
    AkaVctsInvalid(&'static str),
    /// A registered claim (`iss`, `vct`, `cnf`, `status`, ...) arrived through a Disclosure.
    #[error("claim_selectively_disclosed: {0:?} must not be selectively disclosable")]
    SelectivelyDisclosed(String),
    /// `cnf`, `status` or another registered claim of the wrong shape.
    #[error("vc_claim_invalid: {name:?} {reason}")]
    ClaimInvalid {
        /// The claim name.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `_sd` or Disclosures in a credential without selectively disclosable claims.
    #[error("vc_structure_invalid: {0}")]
    Structure(&'static str),
}

codes!(VcError {
    VctInvalid(..) => "vct_invalid",
    VctNotAccepted(..) => "vct_not_accepted",
    AkaVctsInvalid(..) => "aka_vcts_invalid",
    SelectivelyDisclosed(..) => "claim_selectively_disclosed",
    ClaimInvalid { .. } => "vc_claim_invalid",
    Structure(..) => "vc_structure_invalid",
});

/// Issuer-trust problems (draft-ietf-oauth-sd-jwt-vc §2.5, §4, §7.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// No key discovery mechanism is permitted for this issuer.
    #[error("untrusted_issuer: {0}")]
    UntrustedIssuer(String),
    /// The token carries key hints for a mechanism other than the one configured for its
    /// issuer (e.g. `x5c` on a metadata-keyed issuer), or lacks the configured one.
    #[error("key_mechanism_mismatch: {0}")]
    MechanismMismatch(String),
    /// `iss` is not the subject of the certificate, or metadata `issuer` is not `iss`.
    #[error("issuer_mismatch: {0}")]
    IssuerMismatch(String),
    /// JWT VC Issuer Metadata that is malformed (§4.2).
    #[error("issuer_metadata_invalid: {0}")]
    MetadataInvalid(String),
    /// A DID that cannot be resolved or has no usable verification method.
    #[error("did_resolution_failed: {0}")]
    DidResolution(String),
}

codes!(TrustError {
    UntrustedIssuer(..) => "untrusted_issuer",
    MechanismMismatch(..) => "key_mechanism_mismatch",
    IssuerMismatch(..) => "issuer_mismatch",
    MetadataInvalid(..) => "issuer_metadata_invalid",
    DidResolution(..) => "did_resolution_failed",
});

/// X.509 chain validation problems (RFC 5280 §6, RFC 7515 §4.1.6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The chain does not lead to a configured trust anchor (a root carried in the token is
    /// never one), or a certificate signature does not verify.
    #[error("untrusted_chain: {0}")]
    UntrustedChain(String),
    /// A certificate of the chain is past its `notAfter`.
    #[error("certificate_expired: {0}")]
    Expired(String),
    /// A certificate of the chain is before its `notBefore`.
    #[error("certificate_not_yet_valid: {0}")]
    NotYetValid(String),
    /// Malformed `x5c` (not standard base64, bad DER, too many or too large certificates).
    #[error("certificate_invalid: {0}")]
    Invalid(String),
    /// A certificate used beyond its constraints: basicConstraints, path length, key usage,
    /// extended key usage, unknown critical extension, weak algorithm.
    #[error("certificate_usage: {0}")]
    Usage(String),
}

codes!(CertificateError {
    UntrustedChain(..) => "untrusted_chain",
    Expired(..) => "certificate_expired",
    NotYetValid(..) => "certificate_not_yet_valid",
    Invalid(..) => "certificate_invalid",
    Usage(..) => "certificate_usage",
});

/// Retrieval problems (draft-ietf-oauth-sd-jwt-vc "Retrieving Documents and Resources via
/// HTTP", §7.1 SSRF).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL is malformed or not `https:` (or has userinfo / a fragment).
    #[error("url_invalid: {0}")]
    UrlInvalid(String),
    /// The URL's host is or resolves to a loopback, private, link-local or otherwise internal
    /// address.
    #[error("url_forbidden: {0}")]
    Forbidden(String),
    /// More redirects than allowed, or a redirect without a usable `Location`.
    #[error("too_many_redirects: more than {0} redirects")]
    TooManyRedirects(usize),
    /// The response body exceeds the size limit.
    #[error("response_too_large: more than {0} bytes")]
    TooLarge(usize),
    /// The server answered with a status other than 200.
    #[error("http_status: the server answered {0}")]
    Status(u16),
    /// The retrieval took longer than allowed.
    #[error("fetch_timeout: {0}")]
    Timeout(String),
    /// Connection, TLS or protocol failure.
    #[error("fetch_failed: {0}")]
    Transport(String),
}

codes!(FetchError {
    UrlInvalid(..) => "url_invalid",
    Forbidden(..) => "url_forbidden",
    TooManyRedirects(..) => "too_many_redirects",
    TooLarge(..) => "response_too_large",
    Status(..) => "http_status",
    Timeout(..) => "fetch_timeout",
    Transport(..) => "fetch_failed",
});

/// Type Metadata problems (draft-ietf-oauth-sd-jwt-vc §5, §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TypeMetadataError {
    /// A document that is not valid Type Metadata (§5.2).
    #[error("type_metadata_invalid: {0}")]
    Invalid(String),
    /// The retrieved octets do not match the `#integrity` value (§6).
    #[error("integrity_mismatch: {0}")]
    IntegrityMismatch(String),
    /// An `#integrity` value with no supported, well-formed hash (§6).
    #[error("integrity_invalid: {0}")]
    IntegrityInvalid(String),
    /// The metadata's `vct` is not the one that referenced it (§5.3).
    #[error("type_metadata_vct_mismatch: expected {expected:?}, found {found:?}")]
    VctMismatch {
        /// The referencing `vct` (credential or `extends`).
        expected: String,
        /// The document's `vct`.
        found: String,
    },
    /// `extends` leads back to a type already on the chain (§7.4).
    #[error("extends_cycle: {0:?} extends itself")]
    ExtendsCycle(String),
    /// `extends` chain longer than allowed.
    #[error("extends_too_deep: more than {0} levels")]
    ExtendsTooDeep(usize),
    /// No metadata is available for a type whose metadata policy requires it (§5.7).
    #[error("type_metadata_unavailable: {0}")]
    Unavailable(String),
    /// A child type relaxes `sd` or `mandatory` of its parent (§5.6.5.1).
    #[error("claim_metadata_relaxed: {0}")]
    Relaxed(String),
    /// The credential violates claim metadata: `sd` rule, mandatory claim, bad `path` (§5.6).
    #[error("claim_metadata_violation: {0}")]
    Violation(String),
}

codes!(TypeMetadataError {
    Invalid(..) => "type_metadata_invalid",
    IntegrityMismatch(..) => "integrity_mismatch",
    IntegrityInvalid(..) => "integrity_invalid",
    VctMismatch { .. } => "type_metadata_vct_mismatch",
    ExtendsCycle(..) => "extends_cycle",
    ExtendsTooDeep(..) => "extends_too_deep",
    Unavailable(..) => "type_metadata_unavailable",
    Relaxed(..) => "claim_metadata_relaxed",
    Violation(..) => "claim_metadata_violation",
});

/// Token Status List problems (draft-ietf-oauth-status-list-20).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// A malformed status list: `bits`, `lst`, ZLIB data, CBOR shape (§4).
    #[error("status_list_invalid: {0}")]
    Invalid(String),
    /// Every index of an issuer's list is allocated (start a new list).
    #[error("status_list_full: every index of the list is allocated; start a new list")]
    Full,
    /// The decompressed list exceeds the limit (a zlib bomb, ATTACKS SL-04).
    #[error("status_list_too_large: more than {0} bytes decompressed")]
    TooLarge(usize),
    /// The referenced index is not in the list (§8.3 step 6).
    #[error("status_index_out_of_range: index {idx} is not below the list's {capacity} entries")]
    IndexOutOfRange {
        /// The referenced index.
        idx: u64,
        /// How many entries the list holds.
        capacity: u64,
    },
    /// The `status` / `status_list` reference of a credential is malformed (§6.2).
    #[error("status_reference_invalid: {0}")]
    Reference(String),
    /// A Status List Token that is malformed or misses required claims (§5).
    #[error("status_list_token_invalid: {0}")]
    TokenInvalid(String),
    /// The Status List Token's `sub` is not the referenced `uri` (§8.3 step 4.a).
    #[error("status_list_sub_mismatch: the token's sub is not the referenced uri")]
    SubMismatch,
    /// The Status List Token has expired (§8.3 step 4.c) or is older than allowed.
    #[error("status_list_expired: {0}")]
    Expired(String),
    /// The credential's status is INVALID (revoked).
    #[error("credential_revoked: the credential's status is INVALID")]
    Revoked,
    /// The credential's status is SUSPENDED.
    #[error("credential_suspended: the credential's status is SUSPENDED")]
    Suspended,
    /// The credential's status is an application-specific or reserved value.
    #[error("credential_status_unknown: the credential's status is 0x{0:02X}")]
    Unknown(u8),
}

codes!(StatusError {
    Invalid(..) => "status_list_invalid",
    Full => "status_list_full",
    TooLarge(..) => "status_list_too_large",
    IndexOutOfRange { .. } => "status_index_out_of_range",
    Reference(..) => "status_reference_invalid",
    TokenInvalid(..) => "status_list_token_invalid",
    SubMismatch => "status_list_sub_mismatch",
    Expired(..) => "status_list_expired",
    Revoked => "credential_revoked",
    Suspended => "credential_suspended",
    Unknown(..) => "credential_status_unknown",
});

/// DCQL problems (OpenID4VP 1.0 §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DcqlError {
    /// A query that violates §6.
    #[error("dcql_invalid: {0}")]
    Invalid(String),
    /// No combination of held credentials answers the required parts of the query.
    #[error("dcql_unsatisfiable: {0}")]
    Unsatisfiable(String),
    /// A response that does not answer its query (missing credential, wrong values, ...).
    #[error("dcql_response_mismatch: {0}")]
    ResponseMismatch(String),
}

codes!(DcqlError {
    Invalid(..) => "dcql_invalid",
    Unsatisfiable(..) => "dcql_unsatisfiable",
    ResponseMismatch(..) => "dcql_response_mismatch",
});

/// Wallet storage and key management failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WalletError {
    /// The store failed (I/O, SQLite, corruption).
    #[error("storage_failed: {0}")]
    Storage(String),
    /// A stored record could not be decrypted or authenticated (wrong key or tampering).
    #[error("storage_decrypt_failed: a stored record does not decrypt under the store key")]
    Decrypt,
    /// No record or key with this id.
    #[error("not_found: {0}")]
    NotFound(String),
    /// The key manager cannot provide or use the key (hardware unavailable, user cancelled).
    #[error("key_unavailable: {0}")]
    KeyUnavailable(String),
    /// Every copy of a batch credential has been presented (one-time use).
    #[error("credential_exhausted: no unused copy of {0:?} is left")]
    Exhausted(String),
    /// An issued credential is bound to a key this wallet does not hold (ATTACKS HOL-02).
    #[error("holder_key_unknown: the credential's cnf key is not one of this wallet's keys")]
    HolderKeyUnknown,
}

codes!(WalletError {
    Storage(..) => "storage_failed",
    Decrypt => "storage_decrypt_failed",
    NotFound(..) => "not_found",
    KeyUnavailable(..) => "key_unavailable",
    Exhausted(..) => "credential_exhausted",
    HolderKeyUnknown => "holder_key_unknown",
});

/// A small helper for `Debug` output of secret-bearing types.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a JWE was refused (RFC 7516, RFC 7518 §4.6 and §5.3; ATTACKS JWE-01…04, VP-24…26).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JweError {
    /// The key management algorithm is not one the recipient offered.
    #[error("jwe_alg_not_allowed: key management algorithm {0:?} is not allowed")]
    AlgNotAllowed(String),
    /// The content encryption algorithm is not one the recipient offered.
    #[error("jwe_enc_not_allowed: content encryption {0:?} is not allowed")]
    EncNotAllowed(String),
    /// `zip` is present: compressed plaintexts are refused (decompression bombs, JWE-01).
    #[error("jwe_zip_unsupported: compressed JWE plaintexts are refused")]
    ZipUnsupported,
    /// The ephemeral public key is missing, malformed, on another curve or not on the curve.
    #[error("invalid_epk: {0}")]
    InvalidEpk(String),
    /// No configured decryption key matches the JWE (unknown `kid`, or several keys and no
    /// `kid`).
    #[error("jwe_key_unknown: {0}")]
    KeyUnknown(String),
    /// The authentication tag does not verify: wrong key, or tampered header or ciphertext.
    #[error("jwe_decrypt_failed: the JWE does not decrypt")]
    DecryptFailed,
}

codes!(JweError {
    AlgNotAllowed(..) => "jwe_alg_not_allowed",
    EncNotAllowed(..) => "jwe_enc_not_allowed",
    ZipUnsupported => "jwe_zip_unsupported",
    InvalidEpk(..) => "invalid_epk",
    KeyUnknown(..) => "jwe_key_unknown",
    DecryptFailed => "jwe_decrypt_failed",
});

/// Why an OpenID4VP request or response was refused (OpenID4VP 1.0 §5, §8; HAIP 1.0 §5;
/// ATTACKS_OID4VP). [`Oid4vpError::oauth_error`] gives the §8.5 error code a wallet answers
/// with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Oid4vpError {
    /// A parameter is missing, malformed or not allowed (§5, §8.5 `invalid_request`).
    #[error("request_invalid: {0}")]
    Invalid(String),
    /// The request object's `client_id` is not the outer one byte for byte (§5.10.1).
    #[error("client_id_mismatch: the request object's client_id is not the request's")]
    ClientIdMismatch,
    /// The Client Identifier Prefix is not one this wallet supports (§5.9.2).
    #[error("unsupported_client_id_prefix: {0:?}")]
    UnsupportedPrefix(String),
    /// `origin:` is reserved and never accepted in a request (§5.9.3).
    #[error("reserved_client_id_prefix: origin: client identifiers are not accepted")]
    ReservedPrefix,
    /// A client identifier without prefix that is not registered with the wallet (§5.9.2).
    #[error("unknown_client: {0:?} is not a registered client")]
    UnknownClient(String),
    /// `client_metadata` sent by a client whose metadata the wallet already has (§8.5
    /// `invalid_client`).
    #[error("unexpected_client_metadata: a pre-registered client sent client_metadata")]
    UnexpectedClientMetadata,
    /// The `x509_san_dns` identifier is not a dNSName of the leaf certificate (§5.9.3).
    #[error("x509_san_mismatch: {0:?} is not a DNS name of the signing certificate")]
    SanMismatch(String),
    /// The `x509_hash` identifier is not the hash of the leaf certificate (§5.9.3).
    #[error("x509_hash_mismatch: the client identifier is not the leaf certificate's hash")]
    HashMismatch,
    /// The verifier could not be authenticated under the wallet's trust configuration.
    #[error("untrusted_verifier: {0}")]
    UntrustedVerifier(String),
    /// The client identifier requires a signed request, or the profile requires one.
    #[error("unsigned_request_not_allowed: {0}")]
    UnsignedNotAllowed(String),
    /// A `redirect_uri:` client signed its request, which that prefix forbids (§5.9.3).
    #[error("signed_redirect_uri_client: a redirect_uri client cannot sign its request")]
    SignedRedirectUri,
    /// The request object's `exp`, `nbf` or `iat` puts it outside its validity.
    #[error("request_expired: {0}")]
    RequestExpired(String),
    /// The request object lacks the `wallet_nonce` the wallet posted, or has another (§5.10.1).
    #[error("wallet_nonce_mismatch: the request object does not carry this wallet_nonce")]
    WalletNonceMismatch,
    /// The `response_uri` (or `redirect_uri`) is not one the client may use (§8.2, §5.9.3).
    #[error("response_uri_not_allowed: {0}")]
    ResponseUriNotAllowed(String),
    /// `request_uri_method` other than `get` / `post` (§5.1, §8.5).
    #[error("invalid_request_uri_method: {0:?}")]
    RequestUriMethod(String),
    /// Transaction data the wallet does not support or that is malformed (§5.1, §8.5).
    #[error("invalid_transaction_data: {0}")]
    TransactionData(String),
    /// No common credential format (§8.5).
    #[error("vp_formats_not_supported: {0}")]
    FormatsNotSupported(String),
    /// The End-User declined, or no credential can answer (§8.5 `access_denied`).
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// The platform's calling origin is not among the signed request's `expected_origins`
    /// (A.2).
    #[error("origin_mismatch: the calling origin is not one of expected_origins")]
    OriginMismatch,
    /// A `response_code` that is unknown, already used or not this transaction's (§8.2).
    #[error("response_code_invalid: the response_code does not release this result")]
    ResponseCodeInvalid,
    /// The verifier answered the response with an error or an unexpected status.
    #[error("response_rejected: {0}")]
    ResponseRejected(String),
    /// No transaction has this `state` / key / id.
    #[error("transaction_unknown: no pending transaction matches")]
    TransactionUnknown,
    /// The transaction expired before the response arrived.
    #[error("transaction_expired: the transaction has expired")]
    TransactionExpired,
    /// The transaction already received its response (replay).
    #[error("transaction_used: the transaction already received a response")]
    TransactionUsed,
    /// An unencrypted success response to a transaction that asked for encryption (§8.3.1).
    #[error("encryption_required: the response must be encrypted")]
    EncryptionRequired,
    /// The `state` does not match the transaction (§5.3, §14.3.2).
    #[error("state_mismatch: the response's state is not the transaction's")]
    StateMismatch,
    /// The `vp_token` is not an object of non-empty arrays keyed by query id (§8.1).
    #[error("vp_token_shape: {0}")]
    VpTokenShape(String),
    /// The KB-JWT's `transaction_data_hashes` are not the hashes of the data sent (B.3.3.1).
    #[error("transaction_data_hash_mismatch: {0}")]
    TransactionDataHash(String),
}

codes!(Oid4vpError {
    Invalid(..) => "request_invalid",
    ClientIdMismatch => "client_id_mismatch",
    UnsupportedPrefix(..) => "unsupported_client_id_prefix",
    ReservedPrefix => "reserved_client_id_prefix",
    UnknownClient(..) => "unknown_client",
    UnexpectedClientMetadata => "unexpected_client_metadata",
    SanMismatch(..) => "x509_san_mismatch",
    HashMismatch => "x509_hash_mismatch",
    UntrustedVerifier(..) => "untrusted_verifier",
    UnsignedNotAllowed(..) => "unsigned_request_not_allowed",
    SignedRedirectUri => "signed_redirect_uri_client",
    RequestExpired(..) => "request_expired",
    WalletNonceMismatch => "wallet_nonce_mismatch",
    ResponseUriNotAllowed(..) => "response_uri_not_allowed",
    RequestUriMethod(..) => "invalid_request_uri_method",
    TransactionData(..) => "invalid_transaction_data",
    FormatsNotSupported(..) => "vp_formats_not_supported",
    AccessDenied(..) => "access_denied",
    OriginMismatch => "origin_mismatch",
    ResponseCodeInvalid => "response_code_invalid",
    ResponseRejected(..) => "response_rejected",
    TransactionUnknown => "transaction_unknown",
    TransactionExpired => "transaction_expired",
    TransactionUsed => "transaction_used",
    EncryptionRequired => "encryption_required",
    StateMismatch => "state_mismatch",
    VpTokenShape(..) => "vp_token_shape",
    TransactionDataHash(..) => "transaction_data_hash_mismatch",
});

impl Oid4vpError {
    /// The OAuth error code of OpenID4VP 1.0 §8.5 that answers this failure.
    #[must_use]
    pub fn oauth_error(&self) -> &'static str {
        match self {
            Self::UnknownClient(..) | Self::UnexpectedClientMetadata => "invalid_client",
            Self::RequestUriMethod(..) => "invalid_request_uri_method",
            Self::TransactionData(..) => "invalid_transaction_data",
            Self::FormatsNotSupported(..) => "vp_formats_not_supported",
            Self::AccessDenied(..) => "access_denied",
            _ => "invalid_request",
        }
    }
}

/// Why an OpenID4VCI step failed (OpenID4VCI 1.0, RFC 9449, 9126, 7636, 9207; HAIP 1.0 §4;
/// ATTACKS_OID4VCI), on the wallet side; and the OAuth error an issuer answered with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Oid4vciError {
    /// A Credential Offer that is malformed or inconsistent (§4.1).
    #[error("invalid_offer: {0}")]
    InvalidOffer(String),
    /// Issuer or Authorization Server metadata that is malformed or unusable (§12.2, RFC 8414).
    #[error("invalid_metadata: {0}")]
    InvalidMetadata(String),
    /// Metadata whose `credential_issuer` / `issuer` is not the identifier it was fetched
    /// for (§12.2.4, RFC 8414 §3.3).
    #[error("metadata_issuer_mismatch: {0}")]
    MetadataIssuerMismatch(String),
    /// A token, PAR, nonce or credential response that is malformed (§6.2, §7.2, §8.3).
    #[error("invalid_response: {0}")]
    InvalidResponse(String),
    /// The authorization response's `iss` is not the Authorization Server the request went
    /// to (RFC 9207 §2.4).
    #[error("iss_mismatch: the authorization response comes from another issuer")]
    IssMismatch,
    /// The Authorization Server advertises `iss` but its response has none (RFC 9207 §2.4).
    #[error("iss_missing: the authorization response has no iss")]
    IssMissing,
    /// The authorization response's `state` is not the one sent (RFC 9700 §4.7).
    #[error("state_mismatch: the authorization response's state is not this flow's")]
    StateMismatch,
    /// A DPoP request got a token that is not DPoP-bound (RFC 9449 §5).
    #[error("token_not_sender_constrained: the token_type is {0:?}, not DPoP")]
    TokenNotSenderConstrained(String),
    /// The server asked for a fresh DPoP nonce again after the retry (RFC 9449 §8).
    #[error("dpop_nonce_loop: the server keeps asking for a new DPoP nonce")]
    DpopNonceLoop,
    /// A response in plaintext where encryption was requested (§8.3, §10).
    #[error("unencrypted_response: the credential response is not encrypted")]
    UnencryptedResponse,
    /// A received credential that is not what was asked for: bound to a key that was not
    /// sent, more credentials than proofs, another type or format (§8.3; ATTACKS VCI-80).
    #[error("credential_binding_mismatch: {0}")]
    CredentialMismatch(String),
    /// The flow is not at a step where this call fits (API misuse, or a persisted flow
    /// restored at the wrong step).
    #[error("flow_state: {0}")]
    FlowState(String),
    /// The issuer or authorization server refused with an OAuth error (RFC 6749 §5.2,
    /// RFC 6750 §3, OpenID4VCI §8.3.1): `error` is its code, `description` its text (ASCII
    /// only, shown as data).
    #[error("{}: {description}", oauth_code(error))]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code as sent.
        error: String,
        /// The `error_description`, filtered to printable ASCII.
        description: String,
    },
    /// A DPoP proof that fails RFC 9449 §4.3 (issuer side).
    #[error("invalid_dpop_proof: {0}")]
    InvalidDpopProof(String),
    /// A DPoP proof without the server's current nonce (RFC 9449 §8, §9): the server answers
    /// `use_dpop_nonce` with a fresh `DPoP-Nonce`.
    #[error("use_dpop_nonce: {0}")]
    DpopNonceRequired(String),
    /// A PKCE verifier or challenge that is malformed or does not match (RFC 7636).
    #[error("invalid_pkce: {0}")]
    InvalidPkce(String),
    /// A client attestation or its proof of possession that fails (ABCA-07 §9).
    #[error("invalid_client_attestation: {0}")]
    InvalidClientAttestation(String),
    /// A key proof that fails (§8.2, F.1, F.4).
    #[error("invalid_proof: {0}")]
    InvalidProof(String),
}

/// The OAuth error codes a wallet can meet, as static codes; anything else is
/// `issuer_rejected`.
fn oauth_code(error: &str) -> &'static str {
    const KNOWN: [&str; 27] = [
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
        "server_error",
        "temporarily_unavailable",
        "invalid_token",
        "insufficient_scope",
        "invalid_dpop_proof",
        "use_dpop_nonce",
        "invalid_authorization_details",
        "invalid_tx_code",
        "invalid_credential_request",
        "unknown_credential_configuration",
        "unknown_credential_identifier",
        "invalid_proof",
        "invalid_nonce",
        "invalid_encryption_parameters",
        "credential_request_denied",
        "invalid_transaction_id",
        "invalid_notification_id",
        "invalid_notification_request",
        "use_attestation_challenge",
        "use_fresh_attestation",
    ];
    KNOWN
        .into_iter()
        .find(|k| *k == error)
        .unwrap_or("issuer_rejected")
}

impl Oid4vciError {
    /// The stable, machine-readable code of this error; for [`Oid4vciError::Rejected`] the
    /// issuer's OAuth code when it is a registered one, else `issuer_rejected`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidOffer(..) => "invalid_offer",
            Self::InvalidMetadata(..) => "invalid_metadata",
            Self::MetadataIssuerMismatch(..) => "metadata_issuer_mismatch",
            Self::InvalidResponse(..) => "invalid_response",
            Self::IssMismatch => "iss_mismatch",
            Self::IssMissing => "iss_missing",
            Self::StateMismatch => "state_mismatch",
            Self::TokenNotSenderConstrained(..) => "token_not_sender_constrained",
            Self::DpopNonceLoop => "dpop_nonce_loop",
            Self::UnencryptedResponse => "unencrypted_response",
            Self::CredentialMismatch(..) => "credential_binding_mismatch",
            Self::FlowState(..) => "flow_state",
            Self::Rejected { error, .. } => oauth_code(error),
            Self::InvalidDpopProof(..) => "invalid_dpop_proof",
            Self::DpopNonceRequired(..) => "use_dpop_nonce",
            Self::InvalidPkce(..) => "invalid_pkce",
            Self::InvalidClientAttestation(..) => "invalid_client_attestation",
            Self::InvalidProof(..) => "invalid_proof",
        }
    }
}
