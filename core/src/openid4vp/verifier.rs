//! The Verifier's side of OpenID4VP 1.0 with HAIP 1.0: signed request objects, transactions,
//! and response handling in the order of §8.6.
//!
//! - [`Verifier::create`] starts a [`Transaction`]: fresh nonce and state (128 bits each,
//!   §5.2, §5.3), a fresh P-256 encryption key whose `kid` is the transaction id (HAIP §5;
//!   a response is decrypted only with its own transaction's key), the DCQL query and the
//!   transaction data, stored through a [`TransactionStore`]. It returns the
//!   `openid4vp://` URL with `client_id` and `request_uri`.
//! - [`Verifier::request_object`] signs the request object (`typ` `oauth-authz-req+jwt`,
//!   `x5c` chain without the anchor) for the `request_uri`, with the `wallet_nonce` when the
//!   wallet posted one (§5.10).
//! - [`Verifier::handle_response`] takes the `direct_post` / `direct_post.jwt` body: it
//!   finds the transaction (by the JWE `kid`, or by `state`), decrypts, checks `state`,
//!   requires encryption when it was asked for, checks the `vp_token` shape (§8.1), verifies
//!   every presentation (issuer trust, KB-JWT `aud` = the full client id and `nonce`,
//!   `transaction_data_hashes`), then the DCQL query with the over-disclosure check. Any
//!   failure fails the whole response (§14.1.2) and ends the transaction as `failed` with
//!   the error code; a transaction takes one response only (nonce and state single use).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::{
    ClientId, ClientIdPrefix, FORM_MEDIA_TYPE, Profile, REQUEST_OBJECT_TYP, ResponseMode,
    STATIC_AUDIENCE, form, parse_form, transaction_data_hash,
};
use crate::crypto::{CryptoProvider, Signer, default_provider};
use crate::dcql::{DcqlQuery, PresentedCredential};
use crate::error::{Error, IssuanceError, Oid4vpError, Result, WalletError};
use crate::jose::jwe::{ContentEncryption, Decrypter};
use crate::jose::{Algorithm, PrivateJwk, UnsignedJws};
use crate::rand::RandomSource;
use crate::sd_jwt::KeyBindingPolicy;
use crate::sd_jwt_vc::{IssuerTrust, VcVerifier};
use crate::status_list::StatusChecker;
use crate::time::{Clock, SystemClock};

/// How long a transaction waits for its response by default: five minutes.
pub const DEFAULT_LIFETIME: i64 = 300;

/// Claims left out of a presentation's reported `claims`: they describe the credential, not
/// the holder.
const CREDENTIAL_CLAIMS: [&str; 8] = [
    "iss",
    "iat",
    "nbf",
    "exp",
    "cnf",
    "vct",
    "vct#integrity",
    "status",
];

/// Where a transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionStatus {
    /// Waiting for the wallet's response.
    Pending,
    /// A response arrived and every check passed.
    Verified,
    /// A response arrived and failed a check, or the wallet answered with an error.
    Failed,
}

impl TransactionStatus {
    /// `pending`, `verified` or `failed`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Failed => "failed",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [Self::Pending, Self::Verified, Self::Failed]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// One presentation transaction: what the verifier must remember between the request and the
/// response. Serialisable ([`Transaction::to_json`]) so that any store can keep it; the
/// encryption key is secret.
#[derive(Clone)]
#[non_exhaustive]
pub struct Transaction {
    /// The transaction id (also the `request_uri` path and the encryption key's `kid`).
    pub id: String,
    /// The full client identifier the request was made as (what KB-JWTs must name).
    pub client_id: String,
    /// The nonce.
    pub nonce: String,
    /// The state.
    pub state: String,
    /// The response mode.
    pub response_mode: ResponseMode,
    /// The DCQL query, as sent.
    pub dcql_query: Value,
    /// The `transaction_data` strings, as sent.
    pub transaction_data: Vec<String>,
    /// The ephemeral response encryption key (encrypted modes).
    pub encryption_key: Option<PrivateJwk>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Where it stands.
    pub status: TransactionStatus,
    /// The error code when failed.
    pub error: Option<String>,
    /// What was verified, by Credential Query id (see [`Verifier::handle_response`]).
    pub credentials: Option<Value>,
    /// The web origins the DC API request may come from (A.2); the KB-JWT `aud` is
    /// `origin:` and one of them.
    pub expected_origins: Vec<String>,
    /// Same-device flows: where the response URI sends the user agent after the response,
    /// with a fresh `response_code` (§8.2, HAIP §5.1).
    pub redirect_uri: Option<String>,
    /// The `response_code` that releases the result to the frontend, until used.
    pub response_code: Option<String>,
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("id", &self.id)
            .field("response_mode", &self.response_mode)
            .field("status", &self.status)
            .field("error", &self.error)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Transaction {
    /// The transaction as JSON text for a store. It contains the private encryption key
    /// while the transaction is pending: store it as a secret.
    #[must_use]
    pub fn to_json(&self) -> Zeroizing<String> {
        let key = self.encryption_key.as_ref().map(|k| {
            let text = k.to_json_string();
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null)
        });
        let v = json!({
            "id": self.id,
            "client_id": self.client_id,
            "nonce": self.nonce,
            "state": self.state,
            "response_mode": self.response_mode.name(),
            "dcql_query": self.dcql_query,
            "transaction_data": self.transaction_data,
            "encryption_key": key,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "status": self.status.name(),
            "error": self.error,
            "credentials": self.credentials,
            "expected_origins": self.expected_origins,
            "redirect_uri": self.redirect_uri,
            "response_code": self.response_code,
        });
        Zeroizing::new(v.to_string())
    }

    /// Reads what [`Transaction::to_json`] wrote.
    ///
    /// # Errors
    /// `storage_failed` for text that is not such a transaction.
    pub fn from_json(text: &str) -> Result<Self> {
        let bad = || Error::from(WalletError::Storage("not a stored transaction".into()));
        let v: Value = serde_json::from_str(text).map_err(|_| bad())?;
        let s = |n: &str| {
            v.get(n)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(bad)
        };
        let encryption_key = match v.get("encryption_key") {
            Some(Value::Object(k)) => Some(PrivateJwk::from_json(k)?),
            _ => None,
        };
        Ok(Self {
            id: s("id")?,
            client_id: s("client_id")?,
            nonce: s("nonce")?,
            state: s("state")?,
            response_mode: ResponseMode::from_name(&s("response_mode")?).ok_or_else(bad)?,
            dcql_query: v.get("dcql_query").cloned().ok_or_else(bad)?,
            transaction_data: v
                .get("transaction_data")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            encryption_key,
            created_at: v
                .get("created_at")
                .and_then(Value::as_i64)
                .ok_or_else(bad)?,
            expires_at: v
                .get("expires_at")
                .and_then(Value::as_i64)
                .ok_or_else(bad)?,
            status: TransactionStatus::from_name(&s("status")?).ok_or_else(bad)?,
            error: v.get("error").and_then(Value::as_str).map(str::to_owned),
            credentials: v.get("credentials").filter(|c| !c.is_null()).cloned(),
            expected_origins: v
                .get("expected_origins")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            redirect_uri: v
                .get("redirect_uri")
                .and_then(Value::as_str)
                .map(str::to_owned),
            response_code: v
                .get("response_code")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

/// Where transactions live: memory for one process, SQL or Redis for many nodes. `finish`
/// must be atomic (compare-and-set on `pending`), so that of two responses racing for one
/// transaction exactly one is processed.
pub trait TransactionStore: Send + Sync + fmt::Debug {
    /// Stores a new transaction.
    ///
    /// # Errors
    /// `storage_failed`.
    fn insert(&self, tx: &Transaction) -> Result<()>;

    /// The transaction with `id`.
    ///
    /// # Errors
    /// `storage_failed`.
    fn get(&self, id: &str) -> Result<Option<Transaction>>;

    /// The transaction with `state`.
    ///
    /// # Errors
    /// `storage_failed`.
    fn find_by_state(&self, state: &str) -> Result<Option<Transaction>>;

    /// Replaces the pending transaction `tx.id` by `tx` (no longer pending); `false` when it
    /// was not pending any more.
    ///
    /// # Errors
    /// `storage_failed`.
    fn finish(&self, tx: &Transaction) -> Result<bool>;

    /// Atomically takes the `response_code` of transaction `id` when it equals `code`
    /// (compared in constant time) and returns the transaction; `None` when it does not
    /// match or was taken already (single use, §8.2).
    ///
    /// # Errors
    /// `storage_failed`.
    fn take_response_code(&self, id: &str, code: &str) -> Result<Option<Transaction>>;

    /// Deletes the transactions that expired before `before` (Unix seconds), whatever their
    /// status; returns how many. A service calls it now and then with a grace period after
    /// the expiry, so that results stay readable for a while and the store does not grow.
    /// The default keeps everything.
    ///
    /// # Errors
    /// `storage_failed`.
    fn purge_expired(&self, before: i64) -> Result<usize> {
        let _ = before;
        Ok(0)
    }
}

/// A [`TransactionStore`] in memory.
#[derive(Debug, Default)]
pub struct MemoryTransactionStore {
    inner: Mutex<BTreeMap<String, Transaction>>,
}

impl MemoryTransactionStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, Transaction>>> {
        self.inner.lock().map_err(|_| {
            WalletError::Storage("the transaction store lock is poisoned".into()).into()
        })
    }
}

impl TransactionStore for MemoryTransactionStore {
    fn purge_expired(&self, before: i64) -> Result<usize> {
        let mut inner = self.lock()?;
        let n = inner.len();
        inner.retain(|_, tx| tx.expires_at >= before);
        Ok(n - inner.len())
    }

    fn insert(&self, tx: &Transaction) -> Result<()> {
        self.lock()?.insert(tx.id.clone(), tx.clone());
        Ok(())
    }
    fn get(&self, id: &str) -> Result<Option<Transaction>> {
        Ok(self.lock()?.get(id).cloned())
    }
    fn find_by_state(&self, state: &str) -> Result<Option<Transaction>> {
        Ok(self.lock()?.values().find(|t| t.state == state).cloned())
    }
    fn finish(&self, tx: &Transaction) -> Result<bool> {
        let mut map = self.lock()?;
        match map.get_mut(&tx.id) {
            Some(current) if current.status == TransactionStatus::Pending => {
                *current = tx.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    fn take_response_code(&self, id: &str, code: &str) -> Result<Option<Transaction>> {
        let mut map = self.lock()?;
        let Some(tx) = map.get_mut(id) else {
            return Ok(None);
        };
        match &tx.response_code {
            Some(stored) if same_secret(stored, code) => {
                tx.response_code = None;
                Ok(Some(tx.clone()))
            }
            _ => Ok(None),
        }
    }
}

/// Constant-time equality of two secrets (their lengths are not secret).
#[must_use]
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What to ask for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PresentationRequest {
    /// The DCQL query.
    pub dcql_query: DcqlQuery,
    /// `direct_post.jwt` (the default and HAIP's) or `direct_post`.
    pub response_mode: ResponseMode,
    /// Transaction data objects (each is base64url-encoded into the request).
    pub transaction_data: Vec<Map<String, Value>>,
    /// Same-device flows: the frontend URL the wallet is sent to after the response, with a
    /// `response_code` in its fragment (§8.2; HAIP §5.1 requires it for same-device flows).
    pub redirect_uri: Option<String>,
    /// DC API: the web origins of the verifier's pages (A.2).
    pub expected_origins: Vec<String>,
    /// DC API: send a signed request (`openid4vp-v1-signed`) instead of an unsigned one.
    pub signed: bool,
}

impl PresentationRequest {
    /// A request for `dcql_query`, answered with `direct_post.jwt`.
    #[must_use]
    pub fn new(dcql_query: DcqlQuery) -> Self {
        Self {
            dcql_query,
            response_mode: ResponseMode::DirectPostJwt,
            transaction_data: Vec::new(),
            redirect_uri: None,
            expected_origins: Vec::new(),
            signed: true,
        }
    }

    /// A DC API request for `dcql_query` from pages at `expected_origins`, answered with
    /// `dc_api.jwt` in a signed request (HAIP §5.2).
    #[must_use]
    pub fn dc_api(dcql_query: DcqlQuery, expected_origins: &[&str]) -> Self {
        Self {
            response_mode: ResponseMode::DcApiJwt,
            expected_origins: expected_origins.iter().map(|o| (*o).to_owned()).collect(),
            ..Self::new(dcql_query)
        }
    }

    /// With a same-device `redirect_uri` (§8.2).
    #[must_use]
    pub fn redirect_uri(mut self, uri: &str) -> Self {
        self.redirect_uri = Some(uri.to_owned());
        self
    }

    /// DC API: signed (default) or unsigned.
    #[must_use]
    pub fn signed(mut self, signed: bool) -> Self {
        self.signed = signed;
        self
    }

    /// With `mode`.
    #[must_use]
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.response_mode = mode;
        self
    }

    /// With transaction data.
    #[must_use]
    pub fn transaction_data(mut self, data: Vec<Map<String, Value>>) -> Self {
        self.transaction_data = data;
        self
    }
}

/// A started presentation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CreatedPresentation {
    /// The transaction.
    pub transaction: Transaction,
    /// `openid4vp://?client_id=...&request_uri=...` (`request_uri_method=post` is offered).
    pub authorization_request_uri: String,
}

/// A started DC API presentation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CreatedDcApiPresentation {
    /// The transaction.
    pub transaction: Transaction,
    /// What the page passes to `navigator.credentials.get({digital: {requests: [..]}})`:
    /// `{"protocol": "openid4vp-v1-signed" | "openid4vp-v1-unsigned", "data": {...}}`.
    pub dc_api_request: Value,
}

/// One verified presentation, as the verifier's backend sees it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifiedPresentation {
    /// `dc+sd-jwt`.
    pub format: String,
    /// `iss`.
    pub issuer: Option<String>,
    /// `vct`.
    pub vct: String,
    /// What was disclosed, without the credential's own claims (`iss`, `iat`, `nbf`, `exp`,
    /// `cnf`, `vct`, `vct#integrity`, `status`).
    pub claims: Map<String, Value>,
}

impl VerifiedPresentation {
    /// As JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({"format": self.format, "issuer": self.issuer, "vct": self.vct, "claims": self.claims})
    }
}

/// What the response URI answers the wallet after a processed response (§8.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseHandled {
    /// The transaction that took the response.
    pub transaction_id: String,
    /// The final status.
    pub status: TransactionStatus,
    /// The error code when it failed.
    pub error: Option<String>,
    /// Same-device flows: where the wallet sends the user agent (`redirect_uri` of the
    /// response URI's answer, §8.2), with the `response_code` in its fragment.
    pub redirect_uri: Option<String>,
}

/// The verifier: its client identity, request signing key and chain, issuer trust and store.
#[derive(Clone)]
pub struct Verifier {
    client_id: ClientId,
    signer: Arc<dyn Signer>,
    x5c: Vec<Vec<u8>>,
    response_uri: String,
    request_uri_base: String,
    trust: Arc<dyn IssuerTrust>,
    store: Arc<dyn TransactionStore>,
    profile: Profile,
    lifetime: i64,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn RandomSource>,
    provider: &'static dyn CryptoProvider,
    status: Option<Arc<StatusChecker>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("client_id", &self.client_id)
            .field("response_uri", &self.response_uri)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier identified as `x509_hash:<hash of the leaf>` (HAIP's mandatory prefix) or
    /// `x509_san_dns:<dns_name>`, signing with `signer`, whose key is the leaf of `x5c`
    /// (leaf first, without the trust anchor). Wallets post to `response_uri`; request
    /// objects are served at `request_uri_base/<transaction id>`.
    ///
    /// # Errors
    /// `api_misuse` when `x5c` is empty, the signer's key is not the leaf's, or the DNS name
    /// is not a SAN of the leaf; `certificate_invalid`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        prefix: ClientIdPrefix,
        signer: Arc<dyn Signer>,
        x5c: Vec<Vec<u8>>,
        dns_name: Option<&str>,
        response_uri: &str,
        request_uri_base: &str,
        trust: Arc<dyn IssuerTrust>,
        store: Arc<dyn TransactionStore>,
        rng: Arc<dyn RandomSource>,
    ) -> Result<Self> {
        let misuse = |m: &'static str| Error::from(IssuanceError::ApiMisuse(m));
        let leaf = x5c.first().ok_or_else(|| misuse("x5c is empty"))?;
        let info = crate::x509::leaf_info(leaf)?;
        if !info.leaf_key.same_key(signer.public_jwk()) {
            return Err(misuse("the signer's key is not the leaf certificate's"));
        }
        let client_id = match prefix {
            ClientIdPrefix::X509Hash => format!(
                "x509_hash:{}",
                crate::b64::encode(&crate::crypto::HashAlg::Sha256.digest(leaf))
            ),
            ClientIdPrefix::X509SanDns => {
                let name = dns_name
                    .or_else(|| info.dns_names.first().map(String::as_str))
                    .ok_or_else(|| misuse("the leaf certificate has no DNS name"))?;
                if !info.dns_names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                    return Err(misuse("the DNS name is not a SAN of the leaf certificate"));
                }
                format!("x509_san_dns:{name}")
            }
            _ => return Err(misuse("the verifier signs as x509_hash or x509_san_dns")),
        };
        Ok(Self {
            client_id: ClientId::parse(&client_id)?,
            signer,
            x5c,
            response_uri: response_uri.to_owned(),
            request_uri_base: request_uri_base.trim_end_matches('/').to_owned(),
            trust,
            store,
            profile: Profile::default(),
            lifetime: DEFAULT_LIFETIME,
            clock: Arc::new(SystemClock),
            rng,
            provider: default_provider(),
            status: None,
        })
    }

    /// Checks the Token Status List of every presented credential that has a `status`
    /// reference, with `checker` (its cache, fetch policy and trust), after the credential
    /// verified; a credential that is not VALID fails the response.
    #[must_use]
    pub fn status_checker(mut self, checker: Arc<StatusChecker>) -> Self {
        self.status = Some(checker);
        self
    }

    /// Applies `profile` (HAIP: encrypted responses only).
    #[must_use]
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// The clock.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long transactions wait for their response.
    #[must_use]
    pub fn lifetime(mut self, seconds: i64) -> Self {
        self.lifetime = seconds;
        self
    }

    /// The crypto provider for encryption keys and presentation verification.
    #[must_use]
    pub fn provider(mut self, provider: &'static dyn CryptoProvider) -> Self {
        self.provider = provider;
        self
    }

    /// The full client identifier this verifier signs requests as (what KB-JWTs of its
    /// transactions must name as `aud`). Verifiers with different identities may share a
    /// store; each transaction records the identity it was created with.
    #[must_use]
    pub fn client_id(&self) -> &str {
        self.client_id.as_str()
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn TransactionStore> {
        &self.store
    }

    /// Starts a redirect-flow transaction for `request` (`direct_post` or
    /// `direct_post.jwt`).
    ///
    /// # Errors
    /// `api_misuse` for `direct_post` under HAIP or a DC API mode; random source and store
    /// errors.
    pub fn create(&self, request: &PresentationRequest) -> Result<CreatedPresentation> {
        if !request.response_mode.is_direct_post() {
            return Err(
                IssuanceError::ApiMisuse("DC API requests are made by create_dc_api").into(),
            );
        }
        let transaction = self.new_transaction(request)?;
        let request_uri = format!("{}/{}", self.request_uri_base, transaction.id);
        let authorization_request_uri = format!(
            "openid4vp://?{}",
            form(&[
                ("client_id", self.client_id.as_str()),
                ("request_uri", &request_uri),
                ("request_uri_method", "post"),
            ])
        );
        Ok(CreatedPresentation {
            transaction,
            authorization_request_uri,
        })
    }

    /// Starts a DC API transaction (Appendix A) for `request` (`dc_api` or `dc_api.jwt`,
    /// signed or unsigned, with its `expected_origins`).
    ///
    /// # Errors
    /// `api_misuse` for a redirect mode, no `expected_origins`, or `dc_api` under HAIP;
    /// random source, signer and store errors.
    pub fn create_dc_api(&self, request: &PresentationRequest) -> Result<CreatedDcApiPresentation> {
        if request.response_mode.is_direct_post() {
            return Err(IssuanceError::ApiMisuse("redirect requests are made by create").into());
        }
        if request.expected_origins.is_empty() {
            return Err(IssuanceError::ApiMisuse("a DC API request needs expected_origins").into());
        }
        let transaction = self.new_transaction(request)?;
        let mut payload = self.request_payload(&transaction, None);
        let dc_api_request = if request.signed {
            payload.insert(
                "expected_origins".into(),
                json!(transaction.expected_origins),
            );
            json!({
                "protocol": super::wallet::DC_API_SIGNED,
                "data": { "request": self.sign(&payload)? },
            })
        } else {
            // A.2: an unsigned request carries no client_id (nor expected_origins); the
            // wallet knows the verifier by the origin the platform reports.
            for name in ["client_id", "aud", "iat", "exp", "response_uri", "state"] {
                payload.remove(name);
            }
            json!({ "protocol": super::wallet::DC_API_UNSIGNED, "data": payload })
        };
        Ok(CreatedDcApiPresentation {
            transaction,
            dc_api_request,
        })
    }

    fn new_transaction(&self, request: &PresentationRequest) -> Result<Transaction> {
        let mode = request.response_mode;
        if self.profile == Profile::Haip {
            if !mode.is_encrypted() {
                return Err(IssuanceError::ApiMisuse(
                    "HAIP requires direct_post.jwt or dc_api.jwt",
                )
                .into());
            }
            // H§5: HAIP wallets refuse a trust anchor or self-signed certificate in x5c.
            if self.x5c.iter().any(|c| crate::x509::is_self_issued(c)) {
                return Err(IssuanceError::ApiMisuse(
                    "HAIP: the x5c chain must not hold a self-signed certificate",
                )
                .into());
            }
        }
        // §5.1, B.3.3: each entry names Credential Queries of this request that require
        // holder binding, or the wallet must refuse it.
        for d in &request.transaction_data {
            let ids = d
                .get("credential_ids")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or(IssuanceError::ApiMisuse(
                    "transaction data needs non-empty credential_ids",
                ))?;
            let ok = d.get("type").is_some_and(Value::is_string)
                && ids.iter().all(|id| {
                    id.as_str()
                        .and_then(|id| request.dcql_query.credential(id))
                        .is_some_and(|q| q.require_cryptographic_holder_binding)
                });
            if !ok {
                return Err(IssuanceError::ApiMisuse(
                    "transaction data: a type, and credential_ids naming holder-bound queries",
                )
                .into());
            }
        }
        let id = crate::rand::id(&*self.rng)?;
        let encryption_key = if mode.is_encrypted() {
            Some(
                self.provider
                    .generate(Algorithm::Es256, &*self.rng)?
                    .with_kid(id.clone()),
            )
        } else {
            None
        };
        let now = self.clock.now();
        let transaction = Transaction {
            client_id: self.client_id.as_str().to_owned(),
            nonce: crate::rand::id(&*self.rng)?,
            state: crate::rand::id(&*self.rng)?,
            response_mode: mode,
            dcql_query: request.dcql_query.to_json(),
            transaction_data: request
                .transaction_data
                .iter()
                .map(|d| crate::b64::encode(Value::Object(d.clone()).to_string().as_bytes()))
                .collect(),
            encryption_key,
            created_at: now,
            expires_at: now.saturating_add(self.lifetime),
            status: TransactionStatus::Pending,
            error: None,
            credentials: None,
            expected_origins: request.expected_origins.clone(),
            redirect_uri: request.redirect_uri.clone(),
            response_code: None,
            id,
        };
        self.store.insert(&transaction)?;
        Ok(transaction)
    }

    /// The signed request object of transaction `id`, for its `request_uri` (served as
    /// [`super::REQUEST_OBJECT_MEDIA_TYPE`]); `wallet_nonce` is what the wallet posted.
    ///
    /// # Errors
    /// `transaction_unknown`, `transaction_expired`, `transaction_used`; signer errors.
    pub fn request_object(&self, id: &str, wallet_nonce: Option<&str>) -> Result<String> {
        let tx = self.pending(id)?;
        if !tx.response_mode.is_direct_post() || tx.client_id != self.client_id.as_str() {
            return Err(Oid4vpError::TransactionUnknown.into());
        }
        if let Some(n) = wallet_nonce {
            super::check_nonce_alphabet("wallet_nonce", n)?;
        }
        self.sign(&self.request_payload(&tx, wallet_nonce))
    }

    /// The request parameters of `tx` (§5.1, §5.2) as request object claims.
    fn request_payload(&self, tx: &Transaction, wallet_nonce: Option<&str>) -> Map<String, Value> {
        let mut client_metadata = Map::new();
        if let Some(key) = &tx.encryption_key {
            let mut jwk = key.public().minimal_json();
            jwk.insert("kid".into(), tx.id.clone().into());
            jwk.insert("use".into(), "enc".into());
            jwk.insert("alg".into(), crate::jose::jwe::ECDH_ES.into());
            client_metadata.insert("jwks".into(), json!({ "keys": [jwk] }));
            client_metadata.insert(
                "encrypted_response_enc_values_supported".into(),
                json!(ContentEncryption::ALL.map(ContentEncryption::name)),
            );
        }
        client_metadata.insert(
            "vp_formats_supported".into(),
            json!({"dc+sd-jwt": {
                "sd-jwt_alg_values": ["ES256", "ES384", "ES512", "EdDSA"],
                "kb-jwt_alg_values": ["ES256", "ES384", "ES512", "EdDSA"],
            }}),
        );
        let mut payload = Map::new();
        payload.insert("client_id".into(), self.client_id.as_str().into());
        payload.insert("response_type".into(), "vp_token".into());
        payload.insert("response_mode".into(), tx.response_mode.name().into());
        if tx.response_mode.is_direct_post() {
            payload.insert("response_uri".into(), self.response_uri.clone().into());
            payload.insert("state".into(), tx.state.clone().into());
        }
        payload.insert("nonce".into(), tx.nonce.clone().into());
        payload.insert("dcql_query".into(), tx.dcql_query.clone());
        payload.insert("client_metadata".into(), Value::Object(client_metadata));
        if !tx.transaction_data.is_empty() {
            payload.insert("transaction_data".into(), json!(tx.transaction_data));
        }
        payload.insert("aud".into(), STATIC_AUDIENCE.into());
        payload.insert("iat".into(), self.clock.now().into());
        payload.insert("exp".into(), tx.expires_at.into());
        if let Some(n) = wallet_nonce {
            payload.insert("wallet_nonce".into(), n.into());
        }
        payload
    }

    /// Signs `payload` as a request object: `typ` `oauth-authz-req+jwt`, the `x5c` chain.
    fn sign(&self, payload: &Map<String, Value>) -> Result<String> {
        let mut header = Map::new();
        header.insert("typ".into(), REQUEST_OBJECT_TYP.into());
        header.insert(
            "x5c".into(),
            Value::Array(
                self.x5c
                    .iter()
                    .map(|c| crate::b64::encode_std(c).into())
                    .collect(),
            ),
        );
        let body = serde_json::to_vec(payload).unwrap_or_default();
        let jws = UnsignedJws::new(self.signer.algorithm(), header, &body).sign(&*self.signer)?;
        Ok(jws.as_compact().to_owned())
    }

    /// The transaction `id`, whatever its status; a pending transaction past its expiry is
    /// reported as `failed` with `transaction_expired` (a presentation never stays pending).
    ///
    /// # Errors
    /// `transaction_unknown`; store errors.
    pub fn transaction(&self, id: &str) -> Result<Transaction> {
        let mut tx = self.stored(id)?;
        if tx.status == TransactionStatus::Pending && tx.expires_at <= self.clock.now() {
            tx.status = TransactionStatus::Failed;
            tx.error = Some(Oid4vpError::TransactionExpired.code().to_owned());
            tx.encryption_key = None;
        }
        Ok(tx)
    }

    fn stored(&self, id: &str) -> Result<Transaction> {
        self.store
            .get(id)?
            .ok_or_else(|| Oid4vpError::TransactionUnknown.into())
    }

    fn pending(&self, id: &str) -> Result<Transaction> {
        let tx = self.stored(id)?;
        if tx.status != TransactionStatus::Pending {
            return Err(Oid4vpError::TransactionUsed.into());
        }
        if tx.expires_at <= self.clock.now() {
            return Err(Oid4vpError::TransactionExpired.into());
        }
        Ok(tx)
    }

    /// Processes a response posted to the `response_uri` (`content_type` and body as
    /// received). When the response belongs to a pending transaction, the transaction ends
    /// (`verified` or `failed` with the code) and the result says so; the response URI then
    /// answers 200 (§8.2) with the `redirect_uri` when there is one. An error result means
    /// no pending transaction could be tied to the body (answer 400).
    ///
    /// # Errors
    /// `transaction_unknown`, `transaction_expired`, `transaction_used`, `request_invalid`
    /// for a body without `response` or `state`, JWE errors for a response no transaction
    /// key decrypts.
    pub fn handle_response(
        &self,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<ResponseHandled> {
        if let Some(ct) = content_type {
            let base = ct.split(';').next().unwrap_or_default().trim();
            if !base.eq_ignore_ascii_case(FORM_MEDIA_TYPE) {
                return Err(
                    Oid4vpError::Invalid("the response must be form-encoded".into()).into(),
                );
            }
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| Oid4vpError::Invalid("the response is not UTF-8".into()))?;
        let outer = parse_form(text)?;
        let (tx, members, encrypted) = match outer.get("response").and_then(Value::as_str) {
            Some(jwe) => {
                if outer.len() != 1 {
                    return Err(Oid4vpError::Invalid(
                        "an encrypted response carries response and nothing else (§8.3.1)".into(),
                    )
                    .into());
                }
                let parsed = crate::jose::jwe::Jwe::parse_compact(jwe)?;
                let id = parsed.kid().ok_or_else(|| {
                    crate::error::JweError::KeyUnknown("the JWE has no kid".into())
                })?;
                let tx = self.pending(id)?;
                if !tx.response_mode.is_direct_post() {
                    return Err(Oid4vpError::TransactionUnknown.into());
                }
                // Anyone can post junk under a kid seen in a request URI: what does not
                // decrypt leaves the transaction as it was (ATTACKS VP-37).
                (tx.clone(), self.decrypt(&tx, &parsed)?, true)
            }
            None => {
                let state = outer.get("state").and_then(Value::as_str).ok_or_else(|| {
                    Error::from(Oid4vpError::Invalid("the response has no state".into()))
                })?;
                let tx = self
                    .store
                    .find_by_state(state)?
                    .ok_or(Oid4vpError::TransactionUnknown)?;
                let tx = self.pending(&tx.id)?;
                (tx, outer, false)
            }
        };
        if !tx.response_mode.is_direct_post() {
            return Err(Oid4vpError::TransactionUnknown.into());
        }
        // Only the transaction's own state may end it (§14.3.2, ATTACKS VP-37).
        if members.get("state").and_then(Value::as_str) != Some(tx.state.as_str()) {
            return Err(Oid4vpError::StateMismatch.into());
        }
        let outcome = self.check(&tx, &members, encrypted);
        self.conclude(tx, outcome)
    }

    /// Processes what the browser returned from the Digital Credentials API for
    /// transaction `id` (A.4): the `data` object, `{"response": <JWE>}` for `dc_api.jwt`.
    /// The KB-JWT `aud` must be `origin:` and one of the transaction's `expected_origins`.
    ///
    /// # Errors
    /// As [`Verifier::handle_response`].
    pub fn handle_dc_api_response(&self, id: &str, data: &Value) -> Result<ResponseHandled> {
        let tx = self.pending(id)?;
        if tx.response_mode.is_direct_post() {
            return Err(Oid4vpError::TransactionUnknown.into());
        }
        if data.to_string().len() > super::MAX_MESSAGE_LEN {
            return Err(Oid4vpError::Invalid("the response is too large".into()).into());
        }
        let data = data
            .as_object()
            .ok_or_else(|| Oid4vpError::Invalid("the response data must be an object".into()))?;
        let (members, encrypted) = match data.get("response") {
            Some(Value::String(jwe)) => {
                if data.len() != 1 {
                    return Err(Oid4vpError::Invalid(
                        "an encrypted response carries response and nothing else".into(),
                    )
                    .into());
                }
                let parsed = crate::jose::jwe::Jwe::parse_compact(jwe)?;
                if parsed.kid() != Some(tx.id.as_str()) {
                    return Err(crate::error::JweError::KeyUnknown(
                        "the JWE is not addressed to this transaction's key".into(),
                    )
                    .into());
                }
                (self.decrypt(&tx, &parsed)?, true)
            }
            Some(_) => return Err(Oid4vpError::Invalid("response must be a string".into()).into()),
            None => (data.clone(), false),
        };
        let outcome = self.check(&tx, &members, encrypted);
        self.conclude(tx, outcome)
    }

    /// Releases the result of a same-device flow to the frontend that presents the
    /// `response_code` from the redirect (§8.2, §13.3): once, and only for its transaction.
    ///
    /// # Errors
    /// `response_code_invalid`; store errors.
    pub fn redeem_response_code(&self, id: &str, code: &str) -> Result<Transaction> {
        self.store
            .take_response_code(id, code)?
            .ok_or_else(|| Oid4vpError::ResponseCodeInvalid.into())
    }

    fn decrypt(&self, tx: &Transaction, jwe: &crate::jose::jwe::Jwe) -> Result<Map<String, Value>> {
        let key = tx.encryption_key.clone().ok_or_else(|| {
            crate::error::JweError::KeyUnknown("the transaction has no key".into())
        })?;
        let decrypted = Decrypter::new(vec![key])
            .provider(self.provider)
            .decrypt(jwe)?;
        crate::json::parse_object(&decrypted.plaintext, 32, "response")
    }

    /// Ends the transaction with `outcome` (the verified credentials, or why not).
    fn conclude(&self, tx: Transaction, outcome: Result<Value>) -> Result<ResponseHandled> {
        let mut done = tx;
        match outcome {
            Ok(credentials) => {
                done.status = TransactionStatus::Verified;
                done.credentials = Some(credentials);
            }
            Err(e) => {
                done.status = TransactionStatus::Failed;
                done.error = Some(e.code().to_owned());
            }
        }
        // The key is not needed any more.
        done.encryption_key = None;
        let redirect_uri = match done.redirect_uri.clone() {
            Some(base) => {
                let code = crate::rand::id(&*self.rng)?;
                done.response_code = Some(code.clone());
                let sep = if base.contains('#') { '&' } else { '#' };
                Some(format!("{base}{sep}response_code={code}"))
            }
            None => None,
        };
        if !self.store.finish(&done)? {
            return Err(Oid4vpError::TransactionUsed.into());
        }
        Ok(ResponseHandled {
            transaction_id: done.id,
            status: done.status,
            error: done.error,
            redirect_uri,
        })
    }

    /// §8.6 on a decrypted (or plain) response: state, encryption, shape, each presentation,
    /// then the DCQL query. Returns the verified credentials as JSON by query id.
    fn check(
        &self,
        tx: &Transaction,
        members: &Map<String, Value>,
        encrypted: bool,
    ) -> Result<Value> {
        let dc_api = !tx.response_mode.is_direct_post();
        // A.2: DC API responses have no state; the transaction is known by its id.
        if !dc_api && members.get("state").and_then(Value::as_str) != Some(tx.state.as_str()) {
            return Err(Oid4vpError::StateMismatch.into());
        }
        if let Some(error) = members.get("error") {
            let code = error.as_str().unwrap_or("invalid_error");
            return Err(Oid4vpError::AccessDenied(format!("the wallet answered {code:?}")).into());
        }
        if tx.response_mode.is_encrypted() && !encrypted {
            return Err(Oid4vpError::EncryptionRequired.into());
        }
        let vp_token = match members.get("vp_token") {
            Some(Value::Object(m)) => m.clone(),
            Some(Value::String(s)) if !encrypted && !dc_api => {
                crate::json::parse_object(s.as_bytes(), 8, "vp_token").map_err(|_| {
                    Oid4vpError::VpTokenShape("vp_token is not a JSON object".into())
                })?
            }
            _ => {
                return Err(
                    Oid4vpError::VpTokenShape("vp_token must be a JSON object".into()).into(),
                );
            }
        };
        // The KB-JWT aud: the full client id, or origin: and an expected origin (A.4).
        let audiences: Vec<String> = if dc_api {
            tx.expected_origins
                .iter()
                .map(|o| format!("origin:{o}"))
                .collect()
        } else {
            // The identity the request was made as: verifiers of one store may differ.
            vec![tx.client_id.clone()]
        };
        let dcql = DcqlQuery::parse(&tx.dcql_query)?;
        let verifier = VcVerifier::builder_with_clock(self.trust.clone(), self.clock.clone())
            .key_binding(KeyBindingPolicy::Optional {
                audience: None,
                nonce: Some(tx.nonce.clone()),
            })
            .sd_jwt(|b| b.provider(self.provider))
            .build()?;
        let mut verified: BTreeMap<String, Vec<crate::sd_jwt_vc::VerifiedVc>> = BTreeMap::new();
        for (query_id, list) in &vp_token {
            let Value::Array(list) = list else {
                return Err(Oid4vpError::VpTokenShape(format!(
                    "{query_id:?} must map to an array"
                ))
                .into());
            };
            if list.is_empty() {
                return Err(
                    Oid4vpError::VpTokenShape(format!("{query_id:?} has no presentation")).into(),
                );
            }
            let query = dcql
                .credential(query_id)
                .ok_or_else(|| Oid4vpError::VpTokenShape(format!("{query_id:?} is not a query")))?;
            if list.len() > 1 && !query.multiple {
                return Err(Oid4vpError::VpTokenShape(format!(
                    "{query_id:?} allows one presentation"
                ))
                .into());
            }
            let expected: Vec<String> = tx
                .transaction_data
                .iter()
                .filter(|td| aimed_at(td, query_id))
                .map(|td| transaction_data_hash(td))
                .collect();
            let mut out = Vec::with_capacity(list.len());
            for p in list {
                let text = p
                    .as_str()
                    .ok_or_else(|| Oid4vpError::VpTokenShape("presentations are strings".into()))?;
                let vc = verifier.verify(text)?;
                match &vc.sd_jwt.key_binding {
                    // §14.1.2: bound to this verifier; exact string comparison.
                    Some(kb) if !audiences.contains(&kb.audience) => {
                        return Err(crate::error::KeyBindingError::AudienceMismatch.into());
                    }
                    // Holder binding is the default (§6.1); check_response enforces it per
                    // query, transaction data needs it always (B.3.3).
                    None if !expected.is_empty() => {
                        return Err(crate::error::KeyBindingError::Required.into());
                    }
                    _ => {}
                }
                check_transaction_data(&vc, &expected)?;
                // HAIP §6.1.1.1: a holder-bound credential comes with its KB-JWT.
                if self.profile == Profile::Haip
                    && vc.claims().contains_key("cnf")
                    && vc.sd_jwt.key_binding.is_none()
                {
                    return Err(crate::error::KeyBindingError::Required.into());
                }
                if let Some(checker) = &self.status {
                    checker.check_valid(&vc)?;
                }
                out.push(vc);
            }
            verified.insert(query_id.clone(), out);
        }
        let presented: BTreeMap<String, Vec<PresentedCredential<'_>>> = verified
            .iter()
            .map(|(id, list)| {
                (
                    id.clone(),
                    list.iter()
                        .map(|vc| PresentedCredential {
                            vct: vc.vct.as_str(),
                            claims: vc.claims(),
                            disclosed: &vc.sd_jwt.disclosed,
                            holder_binding: vc.sd_jwt.key_binding.is_some(),
                        })
                        .collect(),
                )
            })
            .collect();
        dcql.check_response(&presented)?.deny_over_disclosure()?;
        // §8.4: every transaction data entry must be confirmed by a presentation it is aimed
        // at (credential_sets may let the wallet answer with another credential).
        if tx
            .transaction_data
            .iter()
            .any(|td| !verified.keys().any(|q| aimed_at(td, q)))
        {
            return Err(Oid4vpError::TransactionDataHash(
                "a transaction data entry was confirmed by no presentation".into(),
            )
            .into());
        }
        let mut result = Map::new();
        for (id, list) in &verified {
            let items: Vec<Value> = list
                .iter()
                .map(|vc| {
                    let mut claims = vc.claims().clone();
                    for c in CREDENTIAL_CLAIMS {
                        claims.remove(c);
                    }
                    VerifiedPresentation {
                        format: crate::dcql::FORMAT_DC_SD_JWT.to_owned(),
                        issuer: vc.issuer.clone(),
                        vct: vc.vct.as_str().to_owned(),
                        claims,
                    }
                    .to_json()
                })
                .collect();
            result.insert(id.clone(), Value::Array(items));
        }
        Ok(Value::Object(result))
    }
}

/// Whether the transaction data string `td` (as sent) names `query_id`.
fn aimed_at(td: &str, query_id: &str) -> bool {
    crate::b64::decode(td, "transaction_data")
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.get("credential_ids").cloned())
        .and_then(|ids| ids.as_array().cloned())
        .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(query_id)))
}

/// B.3.3.1: exactly one hash per entry aimed at this credential, in request order (our
/// policy), and none when no entry is.
fn check_transaction_data(vc: &crate::sd_jwt_vc::VerifiedVc, expected: &[String]) -> Result<()> {
    let kb = vc.sd_jwt.key_binding.as_ref();
    let got = kb.and_then(|k| k.claims.get("transaction_data_hashes"));
    match (got, expected.is_empty()) {
        (None, true) => Ok(()),
        (None, false) => {
            Err(Oid4vpError::TransactionDataHash("the KB-JWT has no hashes".into()).into())
        }
        (Some(_), true) => Err(Oid4vpError::TransactionDataHash(
            "hashes for transaction data that was not sent".into(),
        )
        .into()),
        (Some(Value::Array(list)), false) => {
            let list: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            let all_strings = kb
                .and_then(|k| k.claims.get("transaction_data_hashes"))
                .and_then(Value::as_array)
                .is_some_and(|a| a.len() == list.len());
            if !all_strings {
                return Err(Oid4vpError::TransactionDataHash("hashes are strings".into()).into());
            }
            let alg = kb.and_then(|k| k.claims.get("transaction_data_hashes_alg"));
            if alg.is_some_and(|a| a.as_str() != Some("sha-256")) {
                return Err(
                    Oid4vpError::TransactionDataHash("the hash is not sha-256".into()).into(),
                );
            }
            if list.len() == expected.len() && list.iter().zip(expected).all(|(a, b)| *a == b) {
                Ok(())
            } else {
                Err(Oid4vpError::TransactionDataHash(
                    "the hashes are not those of the data sent".into(),
                )
                .into())
            }
        }
        (Some(_), false) => Err(Oid4vpError::TransactionDataHash(
            "transaction_data_hashes is not an array".into(),
        )
        .into()),
    }
}
