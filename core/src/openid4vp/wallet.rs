//! The Wallet's side of OpenID4VP 1.0: from a request URL to a validated
//! [`AuthorizationRequest`] (§5, §5.10, RFC 9101), the consent data, and the response
//! (§8.1, §8.2, §8.3.1).
//!
//! Sans I/O: [`WalletPolicy::start`] says whether the request is complete or must be fetched
//! from its `request_uri` ([`RequestFetch`]); [`WalletPolicy::finish`] takes the fetched
//! object. [`AuthorizationRequest::respond`] gives the POST to send ([`ResponsePost`]) and
//! [`ResponsePost::handle_reply`] reads the verifier's answer. [`WalletPolicy::resolve`] and
//! [`ResponsePost::send`] drive both over a [`Fetcher`].
//!
//! Who the verifier is comes from the wallet's configuration only: X.509 trust anchors for
//! `x509_san_dns` and `x509_hash`, and registered clients. `client_metadata` names and logos
//! are shown as unauthenticated data.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::{
    ClientId, ClientIdPrefix, FORM_MEDIA_TYPE, MAX_MESSAGE_LEN, Profile, REQUEST_OBJECT_MEDIA_TYPE,
    REQUEST_OBJECT_TYP, RequestParams, TransactionData, form, parse_form, transaction_data_hash,
};
use crate::crypto::{CryptoProvider, default_provider};
use crate::error::{Oid4vpError, Result};
use crate::http::{FetchPolicy, Fetcher, HttpResponse, HttpsUrl};
use crate::jose::jwe::{ContentEncryption, EncryptOptions};
use crate::jose::{Algorithm, Jws, PublicJwk};
use crate::rand::RandomSource;
use crate::sd_jwt_vc::IssuerTrust;
use crate::time::{Clock, SystemClock};
use crate::wallet::{QueryAnswer, Wallet};
use crate::x509::{ChainPolicy, TrustAnchors};

/// The oldest request object accepted by its `iat` (when it has one): ten minutes.
pub const DEFAULT_MAX_REQUEST_AGE: i64 = 600;

/// A verifier the wallet knows beforehand (§5.9.2): its identifier (no prefix), the keys
/// that sign its requests and the response URIs it may use.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RegisteredClient {
    /// The client identifier.
    pub client_id: String,
    /// Its display name (authenticated: it comes from the registration).
    pub name: Option<String>,
    /// Keys that sign its request objects.
    pub signing_keys: Vec<PublicJwk>,
    /// Exact `response_uri` values it may use.
    pub response_uris: Vec<String>,
    /// Response encryption keys from the registration.
    pub encryption_keys: Vec<PublicJwk>,
    /// Content encryption algorithms from the registration (default A128GCM, §8.3).
    pub encryption_encs: Vec<ContentEncryption>,
}

impl RegisteredClient {
    /// A registration.
    #[must_use]
    pub fn new(client_id: &str, signing_keys: Vec<PublicJwk>, response_uris: Vec<String>) -> Self {
        Self {
            client_id: client_id.to_owned(),
            name: None,
            signing_keys,
            response_uris,
            encryption_keys: Vec::new(),
            encryption_encs: vec![ContentEncryption::A128Gcm],
        }
    }

    /// With response encryption keys (P-256, for `direct_post.jwt`).
    #[must_use]
    pub fn encryption_keys(mut self, keys: Vec<PublicJwk>) -> Self {
        self.encryption_keys = keys;
        self
    }
}

/// The wallet's verifier trust and protocol policy.
#[derive(Clone)]
pub struct WalletPolicy {
    anchors: TrustAnchors,
    registered: Vec<RegisteredClient>,
    profile: Profile,
    fetch_policy: FetchPolicy,
    clock: Arc<dyn Clock>,
    provider: &'static dyn CryptoProvider,
    transaction_data_types: Vec<String>,
    max_request_age: i64,
    did: Option<Arc<dyn IssuerTrust>>,
    attesters: Vec<(String, PublicJwk)>,
}

impl fmt::Debug for WalletPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WalletPolicy")
            .field("anchors", &self.anchors.len())
            .field("registered", &self.registered.len())
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl WalletPolicy {
    /// A policy trusting verifiers whose request-signing certificates chain to `anchors`.
    #[must_use]
    pub fn new(anchors: TrustAnchors) -> Self {
        Self {
            anchors,
            registered: Vec::new(),
            profile: Profile::default(),
            fetch_policy: FetchPolicy::default(),
            clock: Arc::new(SystemClock),
            provider: default_provider(),
            transaction_data_types: Vec::new(),
            max_request_age: DEFAULT_MAX_REQUEST_AGE,
            did: None,
            attesters: Vec::new(),
        }
    }

    /// Resolves `decentralized_identifier:` clients with `resolver` (e.g.
    /// [`DidTrust`](crate::sd_jwt_vc::DidTrust), feature `did`): the request must be signed
    /// by a key of the DID document (§5.9.3).
    #[must_use]
    pub fn did_resolver(mut self, resolver: Arc<dyn IssuerTrust>) -> Self {
        self.did = Some(resolver);
        self
    }

    /// Trusts Verifier Attestations (§12) issued by `iss` with `key` (repeatable).
    #[must_use]
    pub fn trust_attester(mut self, iss: &str, key: PublicJwk) -> Self {
        self.attesters.push((iss.to_owned(), key));
        self
    }

    /// Validates a request received through the W3C Digital Credentials API (Appendix A):
    /// `protocol` and `data` as the page passed them, `origin` as the platform reports the
    /// calling page's origin (never from the request).
    ///
    /// - `openid4vp-v1-unsigned`: the parameters are `data` itself; `client_id` and
    ///   `expected_origins` are ignored (A.2); the verifier is known by its origin only.
    /// - `openid4vp-v1-signed`: `data` is `{"request": <compact JWS>}` and nothing else.
    /// - `openid4vp-v1-multisigned`: `data.request` is a JWS JSON serialization whose
    ///   signatures carry `client_id` in their protected headers; the first signature this
    ///   wallet can validate decides the client (A.3.2.2).
    ///
    /// Signed requests must list `origin` in `expected_origins` (plain string comparison).
    ///
    /// # Errors
    /// `request_invalid` for a protocol and data shape that do not match (ATTACKS VP-46),
    /// `origin_mismatch`, and every check of [`WalletPolicy::start`] and signed request
    /// objects.
    pub fn dc_api_request(
        &self,
        protocol: &str,
        data: &Value,
        origin: &str,
    ) -> Result<AuthorizationRequest> {
        if origin.is_empty() || origin.len() > super::MAX_PARAM_LEN || !origin.contains("://") {
            return Err(Oid4vpError::Invalid("the platform origin is not an origin".into()).into());
        }
        if data.to_string().len() > MAX_MESSAGE_LEN {
            return Err(Oid4vpError::Invalid("the request is too large".into()).into());
        }
        let data = data
            .as_object()
            .ok_or_else(|| Oid4vpError::Invalid("the request data must be an object".into()))?;
        let mismatch = |why: &str| -> crate::Error {
            Oid4vpError::Invalid(format!("{protocol}: {why} (A.1, A.3)")).into()
        };
        match protocol {
            DC_API_UNSIGNED => {
                if data.contains_key("request") {
                    return Err(mismatch("an unsigned request carries no request object"));
                }
                let mut params = data.clone();
                // A.2: client_id and expected_origins MUST be ignored in unsigned requests.
                params.remove("client_id");
                params.remove("expected_origins");
                let p = RequestParams::parse(&params, false)?;
                if !p.transaction_data.is_empty() {
                    return Err(Oid4vpError::TransactionData(
                        "transaction data is accepted in signed requests only".into(),
                    )
                    .into());
                }
                let identity = VerifierIdentity::origin(origin, &p);
                self.complete(p, identity, Some(origin))
            }
            DC_API_SIGNED => {
                let (Some(Value::String(jwt)), 1) = (data.get("request"), data.len()) else {
                    return Err(mismatch("data must be {\"request\": <compact JWS>} only"));
                };
                let jws = Jws::parse_compact(jwt)?;
                let payload = jws.payload_json(16)?;
                let (p, identity) = self.verify_signed(&jws, &payload, None, Some(origin))?;
                self.complete(p, identity, Some(origin))
            }
            DC_API_MULTISIGNED => {
                let (Some(Value::Object(general)), 1) = (data.get("request"), data.len()) else {
                    return Err(mismatch("data must be {\"request\": <JWS JSON>} only"));
                };
                self.multisigned(general, origin)
            }
            other => Err(Oid4vpError::Invalid(format!("unknown protocol {other:?}")).into()),
        }
    }

    /// A.3.2.2: `client_id` and `verifier_info` only in each signature's protected header;
    /// the first signature that validates decides the client (ATTACKS VP-47).
    fn multisigned(
        &self,
        general: &Map<String, Value>,
        origin: &str,
    ) -> Result<AuthorizationRequest> {
        let bad = |why: &str| -> crate::Error {
            Oid4vpError::Invalid(format!("multi-signed request: {why}")).into()
        };
        let payload_b64 = general
            .get("payload")
            .ok_or_else(|| bad("payload is missing"))?;
        let signatures = general
            .get("signatures")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty() && a.len() <= 8)
            .ok_or_else(|| bad("signatures must be a non-empty array of at most 8"))?;
        let mut last = bad("no signature validates");
        for entry in signatures {
            // A malformed entry is skipped: one signature this wallet validates suffices.
            let Some(entry) = entry.as_object() else {
                last = bad("signatures are objects");
                continue;
            };
            let (Some(protected), Some(signature)) =
                (entry.get("protected"), entry.get("signature"))
            else {
                last = bad("a signature lacks protected or signature");
                continue;
            };
            let jws = match Jws::from_json_parts(
                protected,
                payload_b64,
                signature,
                entry.get("header"),
            ) {
                Ok(jws) => jws,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            if jws
                .unprotected_header()
                .is_some_and(|h| h.contains_key("client_id") || h.contains_key("verifier_info"))
            {
                return Err(bad(
                    "client_id and verifier_info belong in the protected header",
                ));
            }
            let mut payload = jws.payload_json(16)?;
            if payload.contains_key("client_id") || payload.contains_key("verifier_info") {
                return Err(bad(
                    "client_id and verifier_info must not be in the payload",
                ));
            }
            let Some(client_id) = jws.header().get("client_id").cloned() else {
                last = bad("a protected header has no client_id");
                continue;
            };
            payload.insert("client_id".into(), client_id);
            match self.verify_signed(&jws, &payload, None, Some(origin)) {
                Ok((p, identity)) => return self.complete(p, identity, Some(origin)),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Registers a client (§5.9.2).
    #[must_use]
    pub fn register(mut self, client: RegisteredClient) -> Self {
        self.registered.push(client);
        self
    }

    /// Applies `profile` (HAIP: signed requests by reference only, no anchor or self-signed
    /// certificate in `x5c`, encrypted responses only).
    #[must_use]
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// The URL rules for `request_uri` and `response_uri` (https only; internal addresses
    /// refused unless the policy allows them).
    #[must_use]
    pub fn fetch_policy(mut self, policy: FetchPolicy) -> Self {
        self.fetch_policy = policy;
        self
    }

    /// The clock for request object and certificate validity.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The crypto provider.
    #[must_use]
    pub fn provider(mut self, provider: &'static dyn CryptoProvider) -> Self {
        self.provider = provider;
        self
    }

    /// Transaction data types the wallet can show and sign (§5.1); any other type is
    /// `invalid_transaction_data`. None by default.
    #[must_use]
    pub fn transaction_data_types(mut self, types: &[&str]) -> Self {
        self.transaction_data_types = types.iter().map(|t| (*t).to_owned()).collect();
        self
    }

    /// Parses a request URL (`openid4vp://`, `haip-vp://`, or any scheme with the
    /// parameters in its query).
    ///
    /// # Errors
    /// `request_invalid`, `invalid_request_uri_method`, and everything
    /// [`WalletPolicy::finish`] checks for a request by value.
    pub fn start(&self, uri: &str) -> Result<Start> {
        if uri.len() > MAX_MESSAGE_LEN {
            return Err(Oid4vpError::Invalid("the request URL is too long".into()).into());
        }
        let query = match uri.split_once('?') {
            Some((_, q)) => q.split('#').next().unwrap_or_default(),
            None => return Err(Oid4vpError::Invalid("the request URL has no query".into()).into()),
        };
        let params = parse_form(query)?;
        let get = |n: &str| params.get(n).and_then(Value::as_str);
        let method = get("request_uri_method");
        match (get("request"), get("request_uri")) {
            (Some(_), Some(_)) => {
                Err(Oid4vpError::Invalid("request and request_uri are both present".into()).into())
            }
            (None, Some(request_uri)) => {
                let method = match method {
                    None | Some("get") => RequestUriMethod::Get,
                    Some("post") => RequestUriMethod::Post,
                    Some(other) => {
                        return Err(Oid4vpError::RequestUriMethod(other.to_owned()).into());
                    }
                };
                let client_id = get("client_id")
                    .ok_or_else(|| Oid4vpError::Invalid("client_id is missing".into()))?;
                // §5.9.3: a redirect_uri client cannot sign, so it cannot pass a request
                // object by reference (§5.10.1): refused before anything is fetched.
                if ClientId::parse(client_id)?.prefix() == ClientIdPrefix::RedirectUri {
                    return Err(Oid4vpError::SignedRedirectUri.into());
                }
                HttpsUrl::parse(request_uri, &self.fetch_policy)?;
                Ok(Start::Fetch(RequestFetch {
                    client_id: client_id.to_owned(),
                    request_uri: request_uri.to_owned(),
                    method,
                }))
            }
            (Some(jwt), None) => {
                if method.is_some() {
                    return Err(Oid4vpError::Invalid(
                        "request_uri_method without request_uri".into(),
                    )
                    .into());
                }
                if self.profile == Profile::Haip {
                    return Err(Oid4vpError::UnsignedNotAllowed(
                        "HAIP requires the request object by reference (request_uri)".into(),
                    )
                    .into());
                }
                let outer = get("client_id").map(str::to_owned);
                self.verify_request_object(jwt, outer.as_deref(), None)
                    .map(Start::Ready)
            }
            (None, None) => {
                if method.is_some() {
                    return Err(Oid4vpError::Invalid(
                        "request_uri_method without request_uri".into(),
                    )
                    .into());
                }
                self.unsigned(&params).map(Start::Ready)
            }
        }
    }

    /// Validates the request object fetched for `fetch` (`response` is what the
    /// `request_uri` answered) against the outer `client_id` and the `wallet_nonce` sent.
    ///
    /// # Errors
    /// `http_status` for any status but 200, `request_invalid` for a wrong content type, and
    /// every check of a signed request object.
    pub fn finish(
        &self,
        fetch: &RequestFetch,
        response: &HttpResponse,
        wallet_nonce: Option<&str>,
    ) -> Result<AuthorizationRequest> {
        if response.status != 200 {
            return Err(crate::error::FetchError::Status(response.status).into());
        }
        let base = response
            .content_type
            .as_deref()
            .map(|ct| ct.split(';').next().unwrap_or_default().trim())
            .unwrap_or_default();
        if !base.eq_ignore_ascii_case(REQUEST_OBJECT_MEDIA_TYPE) {
            return Err(Oid4vpError::Invalid(format!(
                "the request_uri answered {base:?}, not {REQUEST_OBJECT_MEDIA_TYPE} (§5.10.1)"
            ))
            .into());
        }
        let text = std::str::from_utf8(&response.body)
            .map_err(|_| Oid4vpError::Invalid("the request object is not UTF-8".into()))?;
        self.verify_request_object(text.trim(), Some(&fetch.client_id), wallet_nonce)
    }

    /// Parses `uri`, fetches the request object when it is passed by reference (posting a
    /// fresh `wallet_nonce` when the verifier offers `post`), and validates it.
    ///
    /// # Errors
    /// As [`WalletPolicy::start`] and [`WalletPolicy::finish`], and fetch errors.
    pub fn resolve(
        &self,
        uri: &str,
        fetcher: &Fetcher,
        rng: &dyn RandomSource,
    ) -> Result<AuthorizationRequest> {
        match self.start(uri)? {
            Start::Ready(request) => Ok(request),
            Start::Fetch(fetch) => {
                let (response, nonce) = match fetch.method {
                    RequestUriMethod::Get => {
                        let fetched = fetcher
                            .get_no_redirects(&fetch.request_uri, REQUEST_OBJECT_MEDIA_TYPE)?;
                        let mut r = HttpResponse::new(200, fetched.body);
                        r.content_type = fetched.content_type;
                        (r, None)
                    }
                    RequestUriMethod::Post => {
                        let nonce = crate::rand::id(rng)?;
                        let body = fetch.post_body(&nonce, &self.wallet_metadata());
                        let r = fetcher.post(
                            &fetch.request_uri,
                            FORM_MEDIA_TYPE,
                            Some(REQUEST_OBJECT_MEDIA_TYPE),
                            body.as_bytes(),
                        )?;
                        (r, Some(nonce))
                    }
                };
                self.finish(&fetch, &response, nonce.as_deref())
            }
        }
    }

    /// The wallet metadata posted to a `request_uri` (§5.10, §10.1).
    #[must_use]
    pub fn wallet_metadata(&self) -> Value {
        serde_json::json!({
            "vp_formats_supported": {
                "dc+sd-jwt": {
                    "sd-jwt_alg_values": ["ES256", "ES384", "ES512", "EdDSA"],
                    "kb-jwt_alg_values": ["ES256", "ES384", "ES512", "EdDSA"],
                }
            },
            "client_id_prefixes_supported": ["pre-registered", "redirect_uri", "x509_san_dns", "x509_hash"],
            "request_object_signing_alg_values_supported": ["ES256", "ES384", "ES512", "EdDSA"],
            "authorization_encryption_alg_values_supported": ["ECDH-ES"],
            "authorization_encryption_enc_values_supported": ["A128GCM", "A256GCM"],
            "response_modes_supported": ["direct_post", "direct_post.jwt"],
        })
    }

    fn unsigned(&self, params: &Map<String, Value>) -> Result<AuthorizationRequest> {
        let p = RequestParams::parse(params, true)?;
        let client_id = p
            .client_id
            .clone()
            .ok_or_else(|| Oid4vpError::Invalid("client_id is missing".into()))?;
        if self.profile == Profile::Haip {
            return Err(Oid4vpError::UnsignedNotAllowed(
                "HAIP requires a signed request object by reference".into(),
            )
            .into());
        }
        match client_id.prefix() {
            ClientIdPrefix::RedirectUri => {}
            ClientIdPrefix::PreRegistered => {
                return Err(Oid4vpError::UnsignedNotAllowed(
                    "registered clients sign their requests".into(),
                )
                .into());
            }
            other => {
                return Err(Oid4vpError::UnsignedNotAllowed(format!(
                    "the {} prefix requires a signed request",
                    other.name()
                ))
                .into());
            }
        }
        if !p.transaction_data.is_empty() {
            return Err(Oid4vpError::TransactionData(
                "transaction data is accepted in signed requests only".into(),
            )
            .into());
        }
        // §5.9.3: the rest of a redirect_uri: client id is the response / redirect URI.
        let uri = p.response_uri.as_ref().or(p.redirect_uri.as_ref());
        if uri.is_some_and(|u| u != client_id.value()) {
            return Err(Oid4vpError::ResponseUriNotAllowed(
                "a redirect_uri client posts to its own URI only".into(),
            )
            .into());
        }
        let identity = VerifierIdentity::unauthenticated(&client_id, &p);
        self.complete(p, identity, None)
    }

    fn verify_request_object(
        &self,
        jwt: &str,
        outer_client_id: Option<&str>,
        wallet_nonce: Option<&str>,
    ) -> Result<AuthorizationRequest> {
        if jwt.len() > MAX_MESSAGE_LEN {
            return Err(Oid4vpError::Invalid("the request object is too large".into()).into());
        }
        let jws = Jws::parse_compact(jwt)?;
        let payload = jws.payload_json(16)?;
        let (p, identity) = self.verify_signed(&jws, &payload, outer_client_id, None)?;
        if let Some(expected) = wallet_nonce
            && payload.get("wallet_nonce").and_then(Value::as_str) != Some(expected)
        {
            return Err(Oid4vpError::WalletNonceMismatch.into());
        }
        self.complete(p, identity, None)
    }

    /// The checks of a signed request object (§5, §5.9.3, §5.10.1) whose payload the caller
    /// parsed: typed, no nested request, the client identified by its prefix mechanism,
    /// within its validity, and for the DC API the origin among `expected_origins` (A.2).
    fn verify_signed(
        &self,
        jws: &Jws,
        payload: &Map<String, Value>,
        outer_client_id: Option<&str>,
        origin: Option<&str>,
    ) -> Result<(RequestParams, VerifierIdentity)> {
        // §5: explicit typing; a KB-JWT, issuer JWT or attestation is never a request.
        match jws.typ() {
            Some(t) if t == REQUEST_OBJECT_TYP || t == "application/oauth-authz-req+jwt" => {}
            found => {
                return Err(crate::error::HeaderError::TypMismatch {
                    expected: REQUEST_OBJECT_TYP.into(),
                    found: found.map(str::to_owned),
                }
                .into());
            }
        }
        if payload.contains_key("request") || payload.contains_key("request_uri") {
            return Err(Oid4vpError::Invalid(
                "a request object cannot contain request or request_uri".into(),
            )
            .into());
        }
        let inner = payload
            .get("client_id")
            .and_then(Value::as_str)
            .ok_or_else(|| Oid4vpError::Invalid("the request object has no client_id".into()))?;
        if outer_client_id.is_some_and(|o| o != inner) {
            return Err(Oid4vpError::ClientIdMismatch.into());
        }
        let client_id = ClientId::parse(inner)?;
        let now = self.clock.now();
        let p = RequestParams::parse(payload, false)?;
        let identity = match client_id.prefix() {
            ClientIdPrefix::RedirectUri => return Err(Oid4vpError::SignedRedirectUri.into()),
            ClientIdPrefix::X509SanDns | ClientIdPrefix::X509Hash => {
                self.x509(jws, &client_id, &p, now)?
            }
            ClientIdPrefix::PreRegistered => self.registered_client(jws, &client_id, &p)?,
            ClientIdPrefix::DecentralizedIdentifier => self.did_client(jws, &client_id, &p)?,
            ClientIdPrefix::VerifierAttestation => {
                self.attested_client(jws, &client_id, &p, now)?
            }
            other => {
                return Err(Oid4vpError::UnsupportedPrefix(other.name().to_owned()).into());
            }
        };
        check_validity(payload, now, self.max_request_age)?;
        if let Some(origin) = origin {
            check_expected_origins(p.expected_origins.as_deref(), origin)?;
        }
        Ok((p, identity))
    }

    /// `decentralized_identifier:` (§5.9.3): the key is the DID document's, selected by the
    /// JOSE `kid`, which must be a method of this very DID (ATTACKS VP-11).
    fn did_client(
        &self,
        jws: &Jws,
        client_id: &ClientId,
        p: &RequestParams,
    ) -> Result<VerifierIdentity> {
        let resolver = self.did.as_ref().ok_or_else(|| {
            Oid4vpError::UnsupportedPrefix("decentralized_identifier (no DID resolver)".into())
        })?;
        let did = client_id.value();
        if let Some(kid) = jws.kid()
            && !kid.starts_with('#')
            && kid.split('#').next() != Some(did)
        {
            return Err(Oid4vpError::UntrustedVerifier(
                "the kid names a key of another DID".into(),
            )
            .into());
        }
        let mut claims = Map::new();
        claims.insert("iss".into(), did.into());
        let keys = resolver
            .issuer_keys(jws, &claims)
            .map_err(|e| Oid4vpError::UntrustedVerifier(e.to_string()))?;
        let verified = keys
            .keys
            .iter()
            .any(|k| jws.verify(&**k, &SIGNING_ALGS).is_ok());
        if !verified {
            return Err(crate::Error::InvalidSignature);
        }
        Ok(VerifierIdentity {
            authenticated: true,
            ..VerifierIdentity::unauthenticated(client_id, p)
        })
    }

    /// `verifier_attestation:` (§5.9.3, §12): the `jwt` header carries a Verifier
    /// Attestation JWT (`typ` `verifier-attestation+jwt`) signed by a trusted attester, whose
    /// `sub` is the client identifier and whose `cnf.jwk` signed the request (VP-12).
    fn attested_client(
        &self,
        jws: &Jws,
        client_id: &ClientId,
        p: &RequestParams,
        now: i64,
    ) -> Result<VerifierIdentity> {
        let bad =
            |why: &str| Oid4vpError::UntrustedVerifier(format!("verifier attestation: {why}"));
        let text = jws
            .header()
            .get("jwt")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("the jwt header is missing"))?;
        let attestation = Jws::parse_compact(text)?;
        attestation
            .check_typ(&["verifier-attestation+jwt"])
            .map_err(|_| bad("typ is not verifier-attestation+jwt"))?;
        let claims = attestation.payload_json(8)?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("iss is missing"))?;
        let alg = attestation.require_alg(&SIGNING_ALGS)?;
        let trusted = self
            .attesters
            .iter()
            .filter(|(name, _)| name == iss)
            .any(|(_, key)| {
                self.provider
                    .verifying_key(key, alg)
                    .is_ok_and(|k| attestation.verify(&*k, &SIGNING_ALGS).is_ok())
            });
        if !trusted {
            return Err(bad("not signed by a trusted attester").into());
        }
        if claims.get("sub").and_then(Value::as_str) != Some(client_id.value()) {
            return Err(bad("sub is not the client identifier").into());
        }
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp > now => {}
            _ => return Err(bad("exp is missing or has passed").into()),
        }
        if claims
            .get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|nbf| nbf > now.saturating_add(60))
        {
            return Err(bad("nbf is in the future").into());
        }
        if let Some(uris) = claims.get("redirect_uris") {
            let target = p.response_uri.as_ref().or(p.redirect_uri.as_ref());
            let listed = uris.as_array().is_some_and(|a| {
                target.is_some_and(|t| a.iter().any(|u| u.as_str() == Some(t.as_str())))
            });
            if !listed {
                return Err(Oid4vpError::ResponseUriNotAllowed(
                    "the response_uri is not among the attestation's redirect_uris".into(),
                )
                .into());
            }
        }
        let cnf = claims
            .get("cnf")
            .and_then(|c| c.get("jwk"))
            .and_then(Value::as_object)
            .ok_or_else(|| bad("cnf.jwk is missing"))?;
        let key = PublicJwk::from_json(cnf)?;
        let alg = jws.require_alg(&SIGNING_ALGS)?;
        let key = self.provider.verifying_key(&key, alg)?;
        jws.verify(&*key, &SIGNING_ALGS)?;
        Ok(VerifierIdentity {
            authenticated: true,
            ..VerifierIdentity::unauthenticated(client_id, p)
        })
    }

    fn x509(
        &self,
        jws: &Jws,
        client_id: &ClientId,
        p: &RequestParams,
        now: i64,
    ) -> Result<VerifierIdentity> {
        let x5c = jws.header().get("x5c").ok_or_else(|| {
            Oid4vpError::UntrustedVerifier("an x509 client identifier needs an x5c header".into())
        })?;
        let chain = crate::x509::parse_x5c(x5c)?;
        if self.profile == Profile::Haip && chain.iter().any(|c| crate::x509::is_self_issued(c)) {
            return Err(Oid4vpError::UntrustedVerifier(
                "HAIP: x5c must not contain a trust anchor or a self-signed certificate".into(),
            )
            .into());
        }
        let validated = crate::x509::validate_chain(
            &chain,
            &self.anchors,
            now,
            &ChainPolicy::default(),
            self.provider,
        )
        .map_err(|e| Oid4vpError::UntrustedVerifier(e.to_string()))?;
        let leaf = chain.first().map(Vec::as_slice).unwrap_or_default();
        match client_id.prefix() {
            ClientIdPrefix::X509Hash => {
                let hash = crate::b64::encode(&crate::crypto::HashAlg::Sha256.digest(leaf));
                if hash != client_id.value() {
                    return Err(Oid4vpError::HashMismatch.into());
                }
            }
            _ => {
                let want = normalise_dns(client_id.value());
                if want.contains('*')
                    || !validated.dns_names.iter().any(|n| normalise_dns(n) == want)
                {
                    return Err(Oid4vpError::SanMismatch(client_id.value().to_owned()).into());
                }
                // §5.9.3: outside the DC API the response URI's host is the client id.
                if p.response_mode.is_direct_post() {
                    let host = p
                        .response_uri
                        .as_deref()
                        .and_then(|u| HttpsUrl::parse(u, &self.fetch_policy).ok())
                        .map(|u| normalise_dns(u.host()));
                    if host.as_deref() != Some(want.as_str()) {
                        return Err(Oid4vpError::ResponseUriNotAllowed(
                            "the response_uri host is not the x509_san_dns name".into(),
                        )
                        .into());
                    }
                }
            }
        }
        let alg = jws.require_alg(&SIGNING_ALGS)?;
        let key = self.provider.verifying_key(&validated.leaf_key, alg)?;
        jws.verify(&*key, &SIGNING_ALGS)?;
        Ok(VerifierIdentity {
            client_id: client_id.as_str().to_owned(),
            prefix: client_id.prefix(),
            authenticated: true,
            certificate_subject: Some(validated.subject.clone()),
            dns_names: validated.dns_names.clone(),
            registered_name: None,
            name: p
                .client_metadata
                .as_ref()
                .and_then(|m| m.client_name.clone()),
            logo_uri: p.client_metadata.as_ref().and_then(|m| m.logo_uri.clone()),
            origin: None,
        })
    }

    fn registered_client(
        &self,
        jws: &Jws,
        client_id: &ClientId,
        p: &RequestParams,
    ) -> Result<VerifierIdentity> {
        let client = self
            .registered
            .iter()
            .find(|c| c.client_id == client_id.as_str())
            .ok_or_else(|| Oid4vpError::UnknownClient(client_id.as_str().to_owned()))?;
        if p.has_client_metadata {
            return Err(Oid4vpError::UnexpectedClientMetadata.into());
        }
        let alg = jws.require_alg(&SIGNING_ALGS)?;
        let verified = client.signing_keys.iter().any(|k| {
            self.provider
                .verifying_key(k, alg)
                .is_ok_and(|key| jws.verify(&*key, &SIGNING_ALGS).is_ok())
        });
        if !verified {
            return Err(crate::Error::InvalidSignature);
        }
        if let Some(uri) = &p.response_uri
            && !client.response_uris.iter().any(|u| u == uri)
        {
            return Err(Oid4vpError::ResponseUriNotAllowed(
                "the response_uri is not registered for this client".into(),
            )
            .into());
        }
        Ok(VerifierIdentity {
            client_id: client_id.as_str().to_owned(),
            prefix: ClientIdPrefix::PreRegistered,
            authenticated: true,
            certificate_subject: None,
            dns_names: Vec::new(),
            registered_name: client.name.clone(),
            name: None,
            logo_uri: None,
            origin: None,
        })
    }

    /// The checks every request gets once its client is known.
    fn complete(
        &self,
        mut p: RequestParams,
        verifier: VerifierIdentity,
        origin: Option<&str>,
    ) -> Result<AuthorizationRequest> {
        if p.response_mode.is_direct_post() == origin.is_some() {
            return Err(Oid4vpError::Invalid(format!(
                "response_mode {} is not one of this channel (§8.2, A.2)",
                p.response_mode
            ))
            .into());
        }
        if self.profile == Profile::Haip && !p.response_mode.is_encrypted() {
            return Err(Oid4vpError::Invalid(
                "HAIP requires direct_post.jwt or dc_api.jwt (H§5.1, H§5.2)".into(),
            )
            .into());
        }
        if let Some(uri) = &p.response_uri {
            HttpsUrl::parse(uri, &self.fetch_policy)
                .map_err(|e| Oid4vpError::ResponseUriNotAllowed(e.to_string()))?;
        }
        for td in &p.transaction_data {
            if !self.transaction_data_types.contains(&td.r#type) {
                return Err(Oid4vpError::TransactionData(format!(
                    "type {:?} is not supported",
                    td.r#type
                ))
                .into());
            }
        }
        if let Some(formats) = p
            .client_metadata
            .as_ref()
            .and_then(|m| m.vp_formats_supported.as_ref())
            && !formats.contains_key(crate::dcql::FORMAT_DC_SD_JWT)
        {
            return Err(Oid4vpError::FormatsNotSupported(
                "the verifier supports no format this wallet presents".into(),
            )
            .into());
        }
        if p.response_mode.is_encrypted() {
            let registered = self
                .registered
                .iter()
                .find(|c| c.client_id == verifier.client_id);
            if let Some(c) = registered {
                let metadata = p.client_metadata.get_or_insert_with(Default::default);
                metadata.encryption_keys = c.encryption_keys.clone();
                metadata.encryption_encs = c.encryption_encs.clone();
            }
        }
        Ok(AuthorizationRequest {
            verifier,
            params: p,
            origin: origin.map(str::to_owned),
        })
    }
}

/// The response members and, for encrypted modes, the key and algorithm to encrypt them to.
type Members = (Map<String, Value>, Option<(PublicJwk, ContentEncryption)>);

/// The End-User's `choices` must be consent candidates (§6.4, ATTACKS VP-49): each names a
/// query of the request, a credential that answers it and exactly the pointers the consent
/// screen showed; one per query unless `multiple`; every required query answered.
fn check_choices(answers: &[QueryAnswer], choices: &[Choice]) -> Result<()> {
    let refuse = |why: String| -> crate::Error { Oid4vpError::AccessDenied(why).into() };
    for a in answers {
        let n = choices.iter().filter(|c| c.query_id == a.query_id).count();
        if a.required && n == 0 {
            return Err(refuse(format!(
                "the required query {:?} has no choice",
                a.query_id
            )));
        }
        if !a.multiple && n > 1 {
            return Err(refuse(format!(
                "query {:?} takes one credential",
                a.query_id
            )));
        }
    }
    for c in choices {
        let mut chosen = c.disclose.clone();
        chosen.sort();
        let listed = answers
            .iter()
            .filter(|a| a.query_id == c.query_id)
            .flat_map(|a| &a.candidates)
            .any(|k| {
                let mut d = k.disclose.clone();
                d.sort();
                k.batch == c.batch && d == chosen
            });
        if !listed {
            return Err(refuse(format!(
                "the choice for {:?} is not one of its consent candidates",
                c.query_id
            )));
        }
    }
    Ok(())
}

/// The DC API protocol identifier of unsigned requests (A.1).
pub const DC_API_UNSIGNED: &str = "openid4vp-v1-unsigned";
/// The DC API protocol identifier of signed requests, compact JWS (A.1, A.3.2.1).
pub const DC_API_SIGNED: &str = "openid4vp-v1-signed";
/// The DC API protocol identifier of multi-signed requests, JWS JSON (A.1, A.3.2.2).
pub const DC_API_MULTISIGNED: &str = "openid4vp-v1-multisigned";

/// A.2 (and errata): the platform origin must be one of `expected_origins` by plain string
/// comparison; entries with schemes that are never web origins make the request invalid.
fn check_expected_origins(expected: Option<&[String]>, origin: &str) -> Result<()> {
    let expected = expected.filter(|e| !e.is_empty()).ok_or_else(|| {
        Oid4vpError::Invalid("a signed DC API request needs expected_origins (A.2)".into())
    })?;
    for e in expected {
        let scheme = e.split(':').next().unwrap_or_default().to_ascii_lowercase();
        if matches!(
            scheme.as_str(),
            "ftp" | "javascript" | "data" | "ws" | "wss" | "file"
        ) {
            return Err(
                Oid4vpError::Invalid(format!("expected_origins lists a {scheme}: entry")).into(),
            );
        }
    }
    if expected.iter().any(|e| e == origin) {
        Ok(())
    } else {
        Err(Oid4vpError::OriginMismatch.into())
    }
}

/// Signature algorithms accepted on request objects.
const SIGNING_ALGS: [Algorithm; 4] = [
    Algorithm::Es256,
    Algorithm::Es384,
    Algorithm::Es512,
    Algorithm::EdDsa,
];

fn normalise_dns(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// RFC 7519 `exp` / `nbf`, and a maximum age on `iat` (our policy, ATTACKS VP-18).
fn check_validity(payload: &Map<String, Value>, now: i64, max_age: i64) -> Result<()> {
    let num = |n: &str| payload.get(n).and_then(Value::as_i64);
    for name in ["exp", "nbf", "iat"] {
        if payload.contains_key(name) && num(name).is_none() {
            return Err(Oid4vpError::RequestExpired(format!("{name} is not a NumericDate")).into());
        }
    }
    if num("exp").is_some_and(|exp| exp <= now) {
        return Err(Oid4vpError::RequestExpired("exp has passed".into()).into());
    }
    if num("nbf").is_some_and(|nbf| nbf > now.saturating_add(60)) {
        return Err(Oid4vpError::RequestExpired("nbf is in the future".into()).into());
    }
    if let Some(iat) = num("iat") {
        if iat > now.saturating_add(60) {
            return Err(Oid4vpError::RequestExpired("iat is in the future".into()).into());
        }
        if now.saturating_sub(iat) > max_age {
            return Err(Oid4vpError::RequestExpired("the request object is too old".into()).into());
        }
    }
    Ok(())
}

/// What [`WalletPolicy::start`] found.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Start {
    /// A request by value, validated.
    Ready(AuthorizationRequest),
    /// A request by reference: fetch the request object, then call [`WalletPolicy::finish`].
    Fetch(RequestFetch),
}

/// `request_uri_method` (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestUriMethod {
    /// `get` (the default).
    Get,
    /// `post`, with `wallet_metadata` and `wallet_nonce` (§5.10).
    Post,
}

/// A request object to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestFetch {
    /// The outer `client_id`, to compare with the object's.
    pub client_id: String,
    /// The `request_uri` (an https URL).
    pub request_uri: String,
    /// How to fetch it.
    pub method: RequestUriMethod,
}

impl RequestFetch {
    /// The form body of a `post` fetch (§5.10).
    #[must_use]
    pub fn post_body(&self, wallet_nonce: &str, wallet_metadata: &Value) -> String {
        form(&[
            ("wallet_metadata", &wallet_metadata.to_string()),
            ("wallet_nonce", wallet_nonce),
        ])
    }
}

/// Who asks: what the consent screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifierIdentity {
    /// The full client identifier, prefix included.
    pub client_id: String,
    /// Its prefix.
    pub prefix: ClientIdPrefix,
    /// Whether the identity was authenticated under the wallet's trust configuration.
    pub authenticated: bool,
    /// The signing certificate's subject, for `x509_*` clients.
    pub certificate_subject: Option<String>,
    /// The signing certificate's DNS names.
    pub dns_names: Vec<String>,
    /// The name from the wallet's registration (authenticated).
    pub registered_name: Option<String>,
    /// `client_metadata.client_name`: **not authenticated**, display as such.
    pub name: Option<String>,
    /// `client_metadata.logo_uri`: **not authenticated**.
    pub logo_uri: Option<String>,
    /// The calling web origin reported by the platform (DC API requests).
    pub origin: Option<String>,
}

impl VerifierIdentity {
    fn unauthenticated(client_id: &ClientId, p: &RequestParams) -> Self {
        Self {
            client_id: client_id.as_str().to_owned(),
            prefix: client_id.prefix(),
            ..Self::unauthenticated_parts(p)
        }
    }

    /// An unsigned DC API request: known by the origin the platform reports (A.2, A.4).
    fn origin(origin: &str, p: &RequestParams) -> Self {
        Self {
            client_id: format!("origin:{origin}"),
            prefix: ClientIdPrefix::Origin,
            origin: Some(origin.to_owned()),
            ..Self::unauthenticated_parts(p)
        }
    }

    fn unauthenticated_parts(p: &RequestParams) -> Self {
        Self {
            client_id: String::new(),
            prefix: ClientIdPrefix::PreRegistered,
            authenticated: false,
            certificate_subject: None,
            dns_names: Vec::new(),
            registered_name: None,
            name: p
                .client_metadata
                .as_ref()
                .and_then(|m| m.client_name.clone()),
            logo_uri: p.client_metadata.as_ref().and_then(|m| m.logo_uri.clone()),
            origin: None,
        }
    }

    /// As JSON, for apps and the CLI.
    #[must_use]
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "client_id": self.client_id,
            "client_id_prefix": self.prefix.name(),
            "authenticated": self.authenticated,
            "certificate_subject": self.certificate_subject,
            "dns_names": self.dns_names,
            "registered_name": self.registered_name,
            "client_name_unverified": self.name,
            "logo_uri_unverified": self.logo_uri,
            "origin": self.origin,
        })
    }
}

/// A validated Authorization Request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    verifier: VerifierIdentity,
    params: RequestParams,
    /// The platform origin for DC API requests.
    origin: Option<String>,
}

/// The End-User's choice for one Credential Query: which held credential, disclosing what.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Choice {
    /// The Credential Query's id.
    pub query_id: String,
    /// The credential batch.
    pub batch: String,
    /// The pointers to disclose (a [`crate::wallet::ConsentCandidate`]'s `disclose`).
    pub disclose: Vec<String>,
}

impl Choice {
    /// A choice.
    #[must_use]
    pub fn new(query_id: &str, batch: &str, disclose: Vec<String>) -> Self {
        Self {
            query_id: query_id.to_owned(),
            batch: batch.to_owned(),
            disclose,
        }
    }
}

impl AuthorizationRequest {
    /// Who asks.
    #[must_use]
    pub fn verifier(&self) -> &VerifierIdentity {
        &self.verifier
    }

    /// The validated parameters.
    #[must_use]
    pub fn params(&self) -> &RequestParams {
        &self.params
    }

    /// The transaction data to show before consent.
    #[must_use]
    pub fn transaction_data(&self) -> &[TransactionData] {
        &self.params.transaction_data
    }

    /// The consent candidates: for each Credential Query, the held credentials that answer
    /// it and exactly what each reveals.
    ///
    /// # Errors
    /// `dcql_unsatisfiable` when a required query cannot be answered; store errors.
    pub fn consent(&self, wallet: &Wallet) -> Result<Vec<QueryAnswer>> {
        wallet.query(&self.params.dcql_query)
    }

    /// The least-disclosing answer: for every required query, its first (least-disclosing)
    /// candidate; optional queries are left out.
    ///
    /// # Errors
    /// As [`AuthorizationRequest::consent`]; `access_denied` when a required query has no
    /// candidate.
    pub fn least_disclosure(&self, wallet: &Wallet) -> Result<Vec<Choice>> {
        self.consent(wallet)?
            .into_iter()
            .filter(|a| a.required)
            .map(|a| {
                let c = a.candidates.first().ok_or_else(|| {
                    Oid4vpError::AccessDenied(format!("nothing answers {:?}", a.query_id))
                })?;
                Ok(Choice::new(&a.query_id, &c.batch, c.disclose.clone()))
            })
            .collect()
    }

    /// The `aud` of every KB-JWT: the full client identifier, or `origin:` and the platform
    /// origin over the DC API, even for signed requests (B.3.6, A.4).
    #[must_use]
    pub fn audience(&self) -> String {
        match &self.origin {
            Some(origin) => format!("origin:{origin}"),
            None => self.verifier.client_id.clone(),
        }
    }

    /// Whether the request came through the DC API.
    #[must_use]
    pub fn is_dc_api(&self) -> bool {
        self.origin.is_some()
    }

    /// Builds the response for `choices` and the POST that delivers it to the
    /// `response_uri`: one presentation per choice, each KB-JWT bound to
    /// [`AuthorizationRequest::audience`] and the nonce, with `transaction_data_hashes` for
    /// the data aimed at its query; encrypted for `direct_post.jwt`. Copies are spent only
    /// when all presentations were signed.
    ///
    /// # Errors
    /// `access_denied` for an empty choice; `request_invalid` when no usable encryption key
    /// is offered or the request came through the DC API; wallet and key errors.
    pub fn respond(
        &self,
        wallet: &Wallet,
        choices: &[Choice],
        rng: &dyn RandomSource,
    ) -> Result<ResponsePost> {
        if self.is_dc_api() {
            return Err(Oid4vpError::Invalid(
                "a DC API request is answered with respond_dc_api".into(),
            )
            .into());
        }
        let (members, recipient) = self.members(wallet, choices)?;
        self.post(members, recipient, rng)
    }

    /// Builds the response for `choices` as the `data` the platform returns to the page
    /// (A.4): `{"vp_token": ...}` for `dc_api`, `{"response": <JWE>}` for `dc_api.jwt`.
    ///
    /// # Errors
    /// As [`AuthorizationRequest::respond`]; `request_invalid` for a redirect request.
    pub fn respond_dc_api(
        &self,
        wallet: &Wallet,
        choices: &[Choice],
        rng: &dyn RandomSource,
    ) -> Result<Value> {
        if !self.is_dc_api() {
            return Err(
                Oid4vpError::Invalid("a redirect request is answered with respond".into()).into(),
            );
        }
        let (members, recipient) = self.members(wallet, choices)?;
        self.dc_api_data(members, recipient, rng)
    }

    /// The response members (`vp_token`, `state`) and the encryption target, if any.
    fn members(&self, wallet: &Wallet, choices: &[Choice]) -> Result<Members> {
        if choices.is_empty() {
            return Err(Oid4vpError::AccessDenied("nothing was chosen".into()).into());
        }
        check_choices(&self.consent(wallet)?, choices)?;
        let p = &self.params;
        let alg = p
            .transaction_data_hashes_alg
            .as_ref()
            .map(|algs| {
                if algs.iter().any(|a| a == "sha-256") {
                    Ok("sha-256")
                } else {
                    Err(Oid4vpError::TransactionData(
                        "no supported transaction_data_hashes_alg".into(),
                    ))
                }
            })
            .transpose()?;
        let extras: Vec<Map<String, Value>> = choices
            .iter()
            .map(|c| {
                let hashes: Vec<Value> = p
                    .transaction_data
                    .iter()
                    .filter(|td| td.credential_ids.contains(&c.query_id))
                    .map(|td| transaction_data_hash(&td.encoded).into())
                    .collect();
                let mut m = Map::new();
                if !hashes.is_empty() {
                    m.insert("transaction_data_hashes".into(), Value::Array(hashes));
                    if let Some(a) = alg {
                        m.insert("transaction_data_hashes_alg".into(), a.into());
                    }
                }
                m
            })
            .collect();
        for td in &p.transaction_data {
            if !choices
                .iter()
                .any(|c| td.credential_ids.contains(&c.query_id))
            {
                return Err(Oid4vpError::TransactionData(
                    "transaction data is aimed at a credential that is not presented".into(),
                )
                .into());
            }
        }
        let pointers: Vec<Vec<&str>> = choices
            .iter()
            .map(|c| c.disclose.iter().map(String::as_str).collect())
            .collect();
        let requests: Vec<(&str, &[&str], &Map<String, Value>)> = choices
            .iter()
            .zip(&pointers)
            .zip(&extras)
            .map(|((c, ptrs), extra)| (c.batch.as_str(), ptrs.as_slice(), extra))
            .collect();
        // Encryption is prepared before any copy is spent.
        let recipient = if p.response_mode.is_encrypted() {
            Some(self.encryption_target()?)
        } else {
            None
        };
        let presented = wallet.present_all_with(&requests, &self.audience(), &p.nonce)?;
        let mut vp_token = Map::new();
        for (c, presentation) in choices.iter().zip(presented) {
            if let Value::Array(list) = vp_token
                .entry(c.query_id.clone())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                list.push(presentation.into());
            }
        }
        let mut members = Map::new();
        members.insert("vp_token".into(), Value::Object(vp_token));
        if let Some(state) = &p.state
            && !self.is_dc_api()
        {
            members.insert("state".into(), state.clone().into());
        }
        Ok((members, recipient))
    }

    /// The response to a declined request: `error=access_denied` with the `state` (§8.5),
    /// encrypted when the request asked for encryption and a key is offered.
    ///
    /// # Errors
    /// Encryption errors; `request_invalid` for a DC API request (see
    /// [`AuthorizationRequest::decline_dc_api`]).
    pub fn decline(&self, rng: &dyn RandomSource) -> Result<ResponsePost> {
        if self.is_dc_api() {
            return Err(Oid4vpError::Invalid(
                "a DC API request is declined with decline_dc_api".into(),
            )
            .into());
        }
        let (members, recipient) = self.decline_members();
        self.post(members, recipient, rng)
    }

    /// The DC API `data` of a declined request: `{"error": "access_denied"}` (A.4), encrypted
    /// when possible. Cancelling without an answer is preferred before consent (§15.9.2).
    ///
    /// # Errors
    /// Encryption errors.
    pub fn decline_dc_api(&self, rng: &dyn RandomSource) -> Result<Value> {
        let (members, recipient) = self.decline_members();
        self.dc_api_data(members, recipient, rng)
    }

    fn decline_members(&self) -> Members {
        let mut members = Map::new();
        members.insert("error".into(), "access_denied".into());
        if let Some(state) = &self.params.state
            && !self.is_dc_api()
        {
            members.insert("state".into(), state.clone().into());
        }
        // §8.3.1: an error MAY go unencrypted when encryption is impossible.
        let recipient = if self.params.response_mode.is_encrypted() {
            self.encryption_target().ok()
        } else {
            None
        };
        (members, recipient)
    }

    fn encryption_target(&self) -> Result<(PublicJwk, ContentEncryption)> {
        let metadata = self.params.client_metadata.as_ref().ok_or_else(|| {
            Oid4vpError::Invalid("an encrypted response mode without client_metadata keys".into())
        })?;
        let key = metadata.encryption_keys.first().cloned().ok_or_else(|| {
            Oid4vpError::Invalid("no usable P-256 ECDH-ES encryption key is offered".into())
        })?;
        // HAIP §5: A256GCM when both are offered.
        let enc = if metadata
            .encryption_encs
            .contains(&ContentEncryption::A256Gcm)
        {
            ContentEncryption::A256Gcm
        } else if metadata
            .encryption_encs
            .contains(&ContentEncryption::A128Gcm)
        {
            ContentEncryption::A128Gcm
        } else {
            return Err(Oid4vpError::Invalid("no supported content encryption".into()).into());
        };
        Ok((key, enc))
    }

    /// The members encrypted to `key` (§8.3): a compact JWE with the key's `kid`.
    fn encrypt(
        members: &Map<String, Value>,
        key: &PublicJwk,
        enc: ContentEncryption,
        rng: &dyn RandomSource,
    ) -> Result<String> {
        let options = EncryptOptions {
            kid: key.kid().map(str::to_owned),
            ..EncryptOptions::default()
        };
        let plaintext = Zeroizing::new(serde_json::to_vec(members).unwrap_or_default());
        crate::jose::jwe::encrypt(key, enc, &options, &plaintext, default_provider(), rng)
    }

    fn dc_api_data(
        &self,
        members: Map<String, Value>,
        recipient: Option<(PublicJwk, ContentEncryption)>,
        rng: &dyn RandomSource,
    ) -> Result<Value> {
        Ok(match recipient {
            Some((key, enc)) => json!({ "response": Self::encrypt(&members, &key, enc, rng)? }),
            None => Value::Object(members),
        })
    }

    fn post(
        &self,
        members: Map<String, Value>,
        recipient: Option<(PublicJwk, ContentEncryption)>,
        rng: &dyn RandomSource,
    ) -> Result<ResponsePost> {
        let url = self
            .params
            .response_uri
            .clone()
            .ok_or_else(|| Oid4vpError::Invalid("no response_uri".into()))?;
        let body = match recipient {
            Some((key, enc)) => form(&[("response", &Self::encrypt(&members, &key, enc, rng)?)]),
            None => {
                let pairs: Vec<(String, String)> = members
                    .iter()
                    .map(|(k, v)| {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), text)
                    })
                    .collect();
                let refs: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                form(&refs)
            }
        };
        Ok(ResponsePost { url, body })
    }
}

/// The POST that delivers a response to the `response_uri` (§8.2).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponsePost {
    /// The `response_uri`.
    pub url: String,
    /// The `application/x-www-form-urlencoded` body.
    pub body: String,
}

impl fmt::Debug for ResponsePost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponsePost")
            .field("url", &self.url)
            .field("body", &crate::error::Redacted)
            .finish()
    }
}

/// What the verifier answered to a response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseOutcome {
    /// The HTTP status (200).
    pub status: u16,
    /// The `redirect_uri` to send the user agent to, when the verifier gave one (§8.2).
    pub redirect_uri: Option<String>,
}

impl ResponsePost {
    /// Posts the response and reads the answer; redirects are never followed.
    ///
    /// # Errors
    /// Fetch errors; as [`ResponsePost::handle_reply`].
    pub fn send(&self, fetcher: &Fetcher) -> Result<ResponseOutcome> {
        let reply = fetcher.post(
            &self.url,
            FORM_MEDIA_TYPE,
            Some("application/json"),
            self.body.as_bytes(),
        )?;
        Self::handle_reply(&reply)
    }

    /// Reads the verifier's answer (§8.2): 200 with a JSON object, optionally with
    /// `redirect_uri`; unknown members are ignored.
    ///
    /// # Errors
    /// `response_rejected` for another status or a body that is not a JSON object.
    pub fn handle_reply(reply: &HttpResponse) -> Result<ResponseOutcome> {
        if reply.status != 200 {
            let error = crate::json::parse_object(&reply.body, 4, "response_uri answer")
                .ok()
                .and_then(|m| m.get("error").and_then(Value::as_str).map(str::to_owned))
                .filter(|e| e.len() < 64 && e.bytes().all(|b| b.is_ascii_graphic()));
            return Err(Oid4vpError::ResponseRejected(format!(
                "the verifier answered {}{}",
                reply.status,
                error.map(|e| format!(" ({e})")).unwrap_or_default()
            ))
            .into());
        }
        let body = if reply.body.is_empty() {
            Map::new()
        } else {
            crate::json::parse_object(&reply.body, 8, "response_uri answer").map_err(|_| {
                Oid4vpError::ResponseRejected("the answer is not a JSON object".into())
            })?
        };
        let redirect_uri = match body.get("redirect_uri") {
            None => None,
            Some(Value::String(u)) if u.len() <= super::MAX_PARAM_LEN => Some(u.clone()),
            Some(_) => {
                return Err(
                    Oid4vpError::ResponseRejected("redirect_uri must be a string".into()).into(),
                );
            }
        };
        Ok(ResponseOutcome {
            status: reply.status,
            redirect_uri,
        })
    }
}
