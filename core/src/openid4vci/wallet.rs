//! The wallet side of OpenID4VCI 1.0 (+ HAIP 1.0 §4) as a state machine: an [`Issuance`]
//! says what to do next ([`Action`]: send this request, open this authorization URL, wait,
//! done) and takes what came back, as rustls does with bytes. It is serialisable, so that
//! an app stores it while the user is in the browser and resumes it with the redirect.
//! [`run`] drives it over a [`Fetcher`].
//!
//! The order of steps: the Credential Offer (by value, or fetched from
//! `credential_offer_uri`, §4.1.3), Credential Issuer Metadata (§12.2.2, exact
//! `credential_issuer`), Authorization Server Metadata (RFC 8414, exact `issuer`); then
//! either the pre-authorized code grant (§6.1, with the `tx_code` exactly when the offer
//! asks for one) or PAR (RFC 9126) with PKCE S256, `state`, `issuer_state` and `scope`,
//! the browser, and the redirect checked for `state` and the RFC 9207 `iss`; the token
//! request with DPoP (and client attestation when the host has one), `token_type` DPoP
//! required; a fresh `c_nonce` from the Nonce Endpoint; Credential Requests with one `jwt`
//! proof per holder key (created through the [`KeyManager`], at most `batch_size` per
//! request, more requests when more keys were asked for), `credential_identifier` when
//! the token named identifiers; `use_dpop_nonce` and `invalid_nonce` answered by one retry
//! each; deferred issuance polled at the issuer's `interval`.
//!
//! Received credentials are checked against what was asked for (format, no more than
//! proofs sent) here, and verified with the wallet's issuer trust and bound to the keys
//! when [`crate::wallet::Wallet::add_issued`] stores them as one batch. Keys created for a
//! flow that fails are deleted by [`Issuance::abandon`] (which [`run`] calls).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::metadata::{as_metadata_url, issuer_metadata_url};
use super::offer::{OfferSource, parse_offer_uri};
use super::{
    AUTHORIZATION_DETAILS_TYPE, AuthServerMetadata, CredentialOffer, FORMAT_SD_JWT_VC,
    GRANT_PRE_AUTHORIZED, IssuerMetadata, JSON_MEDIA_TYPE, PROOF_TYP, rejected,
};
use crate::error::{Oid4vciError, Result};
use crate::http::{Fetcher, HttpRequest, HttpResponse, Method};
use crate::jose::Algorithm;
use crate::jose::jwe::{ContentEncryption, EncryptOptions};
use crate::oauth::client_attestation::{CHALLENGE_HEADER, ClientAttestation};
use crate::oauth::dpop::DpopProver;
use crate::oauth::pkce::CodeVerifier;
use crate::oauth::{Secret, form_encode};
use crate::rand::RandomSource;
use crate::time::Clock;
use crate::wallet::{KeyManager, ManagedKey};

/// How many times one request is repeated after `use_dpop_nonce` / `invalid_nonce`.
const MAX_RETRIES: u8 = 1;
/// Longest `DPoP-Nonce` accepted (ATTACKS VCI-49).
const MAX_NONCE_LEN: usize = 512;
/// Longest deferred polling interval honoured, and most polls.
const MAX_INTERVAL: u64 = 3600;
const MAX_POLLS: u32 = 60;
/// Most holder keys (credentials) one flow asks for.
pub const MAX_COUNT: usize = 100;

/// What the app asks for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IssuanceOptions {
    /// The Transaction Code the user typed (required when the offer asks for one).
    pub tx_code: Option<Secret>,
    /// How many copies (holder keys) to ask for.
    pub count: usize,
    /// Which offered configuration to request (default: the first offered).
    pub configuration_id: Option<String>,
    /// The redirect URI of the authorization code flow (an app link, or a loopback URL).
    pub redirect_uri: String,
    /// The `client_id` of a wallet without client attestation (authorization code flow).
    pub client_id: String,
    /// Prefer the authorization code grant when the offer has both.
    pub prefer_authorization_code: bool,
}

impl Default for IssuanceOptions {
    fn default() -> Self {
        Self {
            tx_code: None,
            count: 1,
            configuration_id: None,
            redirect_uri: "http://127.0.0.1/callback".into(),
            client_id: "credkit-wallet".into(),
            prefer_authorization_code: false,
        }
    }
}

/// What the flow needs from its host, per step (not persisted).
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Env<'a> {
    /// Holder and DPoP keys.
    pub keys: &'a Arc<dyn KeyManager>,
    /// The Wallet Attestation, when the host has one (HAIP §4.4.1).
    pub attestation: Option<&'a ClientAttestation>,
    /// The clock.
    pub clock: &'a dyn Clock,
    /// Randomness (PKCE, state, `jti`).
    pub rng: &'a dyn RandomSource,
    /// The platform's key attestations (Android Key Attestation, App Attest, a wallet
    /// provider's service), when the host has them (HAIP §4.5.1).
    pub key_attestation: Option<&'a dyn KeyAttestor>,
    /// Who may sign Credential Issuer Metadata (§12.2.3; HAIP: `x5c` chains to the
    /// ecosystem's anchors). With it the wallet asks for signed metadata and verifies it.
    pub metadata_trust: Option<&'a dyn crate::sd_jwt_vc::IssuerTrust>,
    /// Refuse issuers that do not serve signed metadata (ATTACKS VCI-14).
    pub require_signed_metadata: bool,
}

/// Makes key attestations (OpenID4VCI Appendix D: a `key-attestation+jwt` whose
/// `attested_keys` lists the holder keys of one request, all from one key store).
pub trait KeyAttestor: Send + Sync {
    /// An attestation for `keys` (the public keys the proofs of one request are signed
    /// with), carrying `nonce` (the request's `c_nonce`) when given; `None` when none can be
    /// had for these keys.
    ///
    /// # Errors
    /// When the attestation service fails.
    fn attest(
        &self,
        keys: &[crate::jose::PublicJwk],
        nonce: Option<&str>,
    ) -> Result<Option<String>>;
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("attestation", &self.attestation)
            .finish_non_exhaustive()
    }
}

impl<'a> Env<'a> {
    /// An environment.
    #[must_use]
    pub fn new(
        keys: &'a Arc<dyn KeyManager>,
        attestation: Option<&'a ClientAttestation>,
        clock: &'a dyn Clock,
        rng: &'a dyn RandomSource,
    ) -> Self {
        Self {
            keys,
            attestation,
            clock,
            rng,
            key_attestation: None,
            metadata_trust: None,
            require_signed_metadata: false,
        }
    }

    /// With signed-metadata trust; `required` refuses unsigned metadata.
    #[must_use]
    pub fn signed_metadata(
        mut self,
        trust: &'a dyn crate::sd_jwt_vc::IssuerTrust,
        required: bool,
    ) -> Self {
        self.metadata_trust = Some(trust);
        self.require_signed_metadata = required;
        self
    }

    /// With the platform's key attestations.
    #[must_use]
    pub fn key_attestation(mut self, attestor: &'a dyn KeyAttestor) -> Self {
        self.key_attestation = Some(attestor);
        self
    }
}

/// What the host does next.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Action {
    /// Send this request and hand the response to [`Issuance::receive`].
    Send(HttpRequest),
    /// Open this URL in the browser and hand the redirect to [`Issuance::redirected`].
    Authorize(String),
    /// Wait this long (deferred issuance), then ask again.
    Wait(Duration),
    /// The credentials arrived: store them with
    /// [`crate::wallet::Wallet::add_issued`].
    Done(Issued),
}

/// Credentials received, not yet verified or stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Issued {
    /// The Credential Issuer Identifier.
    pub credential_issuer: String,
    /// The configuration requested.
    pub configuration_id: String,
    /// Its format (`dc+sd-jwt`).
    pub format: String,
    /// Its `vct`.
    pub vct: Option<String>,
    /// The credentials as received.
    pub credentials: Vec<String>,
    /// The holder keys proofs were sent for (each credential is bound to one of them).
    pub key_ids: Vec<String>,
    /// The `notification_id`s to report the outcome with.
    pub notification_ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Step {
    FetchOffer,
    IssuerMetadata,
    AsMetadata,
    Par,
    Authorize,
    Token,
    Nonce,
    Credential,
    Deferred,
    Wait,
    Done,
}

/// One issuance in progress. Serialise it to keep it across an app restart: it holds the
/// pre-authorized code, the PKCE verifier and the access token (redacted in `Debug`), so
/// store it encrypted.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Issuance {
    step: Step,
    offer_uri: Option<String>,
    offer: Option<CredentialOffer>,
    issuer_metadata: Option<String>,
    as_issuer: Option<String>,
    as_metadata: Option<String>,
    tx_code: Option<Secret>,
    count: usize,
    configuration_id: Option<String>,
    redirect_uri: String,
    client_id: String,
    use_authorization_code: bool,
    pkce: Option<CodeVerifier>,
    state: Option<String>,
    authorization_url: Option<String>,
    code: Option<Secret>,
    dpop_key: Option<String>,
    created_keys: Vec<String>,
    holder_keys: Vec<String>,
    pending_keys: Vec<String>,
    in_flight: Vec<String>,
    dpop_nonces: BTreeMap<String, String>,
    attestation_challenge: Option<String>,
    access_token: Option<Secret>,
    credential_identifier: Option<String>,
    c_nonce: Option<String>,
    retries: u8,
    nonce_retries: u8,
    transaction_id: Option<Secret>,
    interval: u64,
    polls: u32,
    credentials: Vec<String>,
    notification_ids: Vec<String>,
    /// The ephemeral key the issuer encrypts credential responses to (a private JWK as
    /// JSON), while a request that asked for encryption is pending.
    #[serde(default)]
    response_key: Option<Secret>,
}

/// The kid of the wallet's ephemeral response encryption key.
const RESPONSE_KEY_ID: &str = "credkit-response";

fn origin(url: &str) -> String {
    let rest = url.strip_prefix("https://").unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("https://{}", authority.to_ascii_lowercase())
}

fn flow(m: &str) -> crate::Error {
    Oid4vciError::FlowState(m.to_owned()).into()
}

fn bad_response(m: impl Into<String>) -> crate::Error {
    Oid4vciError::InvalidResponse(m.into()).into()
}

/// The OAuth `error` of an error answer's JSON body, if it has one.
fn oauth_error(resp: &HttpResponse) -> Option<String> {
    crate::json::parse_object(&resp.body, 8, "error")
        .ok()?
        .get("error")?
        .as_str()
        .map(str::to_owned)
}

/// The media type of a response, lower case, without parameters.
fn media_type(resp: &HttpResponse) -> String {
    resp.content_type
        .as_deref()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn json_body(resp: &HttpResponse, what: &'static str) -> Result<Map<String, Value>> {
    if resp.content_type.is_some() {
        let media = media_type(resp);
        if media != JSON_MEDIA_TYPE {
            return Err(bad_response(format!(
                "{what} is {media}, not application/json"
            )));
        }
    }
    crate::json::parse_object(&resp.body, 16, what)
}

/// The `typ` of signed Credential Issuer Metadata (§12.2.3).
pub const SIGNED_METADATA_TYP: &str = "openidvci-issuer-metadata+jwt";

/// The metadata document of a metadata response: the claims of a verified signed-metadata
/// JWT (§12.2.3: `typ`, an asymmetric `alg`, a signer trusted under `env.metadata_trust`,
/// `sub` = the Credential Issuer Identifier, `iat`, an unexpired `exp`; every parameter a
/// top-level claim; nothing unsigned merged in, ATTACKS VCI-13/14), or the JSON document
/// when signed metadata is not required.
fn signed_or_plain_metadata(
    resp: &HttpResponse,
    credential_issuer: &str,
    env: &Env<'_>,
) -> Result<Vec<u8>> {
    let bad = |m: &str| -> crate::Error { Oid4vciError::InvalidMetadata(m.to_owned()).into() };
    let media = media_type(resp);
    if media != "application/jwt" {
        if env.require_signed_metadata {
            return Err(bad("this wallet requires signed issuer metadata"));
        }
        json_body(resp, "issuer metadata")?;
        return Ok(resp.body.clone());
    }
    let trust = env
        .metadata_trust
        .ok_or_else(|| bad("signed metadata arrived, and no signer is trusted"))?;
    let text =
        std::str::from_utf8(&resp.body).map_err(|_| bad("the signed metadata is not UTF-8"))?;
    let jws = crate::jose::Jws::parse_compact(text.trim())?;
    if jws.typ() != Some(SIGNED_METADATA_TYP) {
        return Err(bad(
            "signed metadata needs typ openidvci-issuer-metadata+jwt",
        ));
    }
    let allowed = [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Es512,
        Algorithm::EdDsa,
    ];
    jws.require_alg(&allowed)?;
    crate::jose::jws::check_crit(jws.header(), &[])?;
    let mut claims = jws.payload_json(32)?;
    let found = trust.issuer_keys(&jws, &claims)?;
    if !found
        .keys
        .iter()
        .any(|k| jws.verify(&**k, &allowed).is_ok())
    {
        return Err(crate::Error::InvalidSignature);
    }
    if claims.get("sub").and_then(Value::as_str) != Some(credential_issuer) {
        return Err(Oid4vciError::MetadataIssuerMismatch(
            "the signed metadata's sub is not the Credential Issuer Identifier".into(),
        )
        .into());
    }
    let now = env.clock.now();
    match claims.get("iat").and_then(Value::as_i64) {
        Some(iat) if iat <= now + 60 => {}
        _ => {
            return Err(bad(
                "the signed metadata needs an iat that is not in the future",
            ));
        }
    }
    if let Some(exp) = claims.get("exp")
        && exp.as_i64().is_none_or(|e| e <= now)
    {
        return Err(bad("the signed metadata has expired"));
    }
    for c in ["sub", "iat", "exp", "iss"] {
        claims.remove(c);
    }
    serde_json::to_vec(&claims).map_err(|e| bad(&e.to_string()))
}

impl Issuance {
    /// Starts from an offer link (`openid-credential-offer://`, `haip-vci://` or `https:`).
    ///
    /// # Errors
    /// `invalid_offer`; `invalid_request` style misuse (`count` of 0 or over
    /// [`MAX_COUNT`]).
    pub fn from_offer_uri(uri: &str, options: IssuanceOptions) -> Result<Self> {
        if options.count == 0 || options.count > MAX_COUNT {
            return Err(flow("count must be between 1 and 100"));
        }
        let (offer_uri, offer, step) = match parse_offer_uri(uri)? {
            OfferSource::Value(o) => (None, Some(o), Step::IssuerMetadata),
            OfferSource::Reference(u) => (Some(u), None, Step::FetchOffer),
        };
        let mut s = Self {
            step,
            offer_uri,
            offer: None,
            issuer_metadata: None,
            as_issuer: None,
            as_metadata: None,
            tx_code: options.tx_code,
            count: options.count,
            configuration_id: options.configuration_id,
            redirect_uri: options.redirect_uri,
            client_id: options.client_id,
            use_authorization_code: options.prefer_authorization_code,
            pkce: None,
            state: None,
            authorization_url: None,
            code: None,
            dpop_key: None,
            created_keys: Vec::new(),
            holder_keys: Vec::new(),
            pending_keys: Vec::new(),
            in_flight: Vec::new(),
            dpop_nonces: BTreeMap::new(),
            attestation_challenge: None,
            access_token: None,
            credential_identifier: None,
            c_nonce: None,
            retries: 0,
            nonce_retries: 0,
            transaction_id: None,
            interval: 5,
            polls: 0,
            credentials: Vec::new(),
            notification_ids: Vec::new(),
            response_key: None,
        };
        if let Some(o) = offer {
            s.accept_offer(o)?;
        }
        Ok(s)
    }

    fn accept_offer(&mut self, offer: CredentialOffer) -> Result<()> {
        match &self.configuration_id {
            Some(id) if !offer.credential_configuration_ids.contains(id) => {
                return Err(Oid4vciError::InvalidOffer(format!("{id:?} is not offered")).into());
            }
            Some(_) => {}
            None => self.configuration_id = offer.credential_configuration_ids.first().cloned(),
        }
        let use_code = match (&offer.pre_authorized, &offer.authorization_code) {
            (Some(_), Some(_)) => self.use_authorization_code,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            // No grants: the wallet-initiated authorization code flow (§4.1.1).
            (None, None) => true,
        };
        self.use_authorization_code = use_code;
        if let Some(p) = &offer.pre_authorized
            && !use_code
        {
            match (&p.tx_code, &self.tx_code) {
                (Some(spec), Some(code)) if !spec.accepts(code.expose()) => {
                    return Err(Oid4vciError::InvalidOffer(
                        "the transaction code does not have the announced form".into(),
                    )
                    .into());
                }
                (Some(_), None) => {
                    return Err(Oid4vciError::InvalidOffer(
                        "this offer requires a transaction code (tx_code)".into(),
                    )
                    .into());
                }
                _ => {}
            }
        }
        self.offer = Some(offer);
        Ok(())
    }

    /// The offer, once known (for the consent screen: issuer, configurations, whether a
    /// transaction code is needed and its description).
    #[must_use]
    pub fn offer(&self) -> Option<&CredentialOffer> {
        self.offer.as_ref()
    }

    /// The issuer metadata, once fetched.
    ///
    /// # Errors
    /// As [`IssuerMetadata::from_json`] (it was valid when received).
    pub fn issuer_metadata(&self) -> Result<Option<IssuerMetadata>> {
        let (Some(raw), Some(offer)) = (&self.issuer_metadata, &self.offer) else {
            return Ok(None);
        };
        IssuerMetadata::from_json(raw.as_bytes(), &offer.credential_issuer).map(Some)
    }

    fn md(&self) -> Result<IssuerMetadata> {
        self.issuer_metadata()?
            .ok_or_else(|| flow("no issuer metadata yet"))
    }

    fn as_md(&self) -> Result<AuthServerMetadata> {
        let (Some(raw), Some(issuer)) = (&self.as_metadata, &self.as_issuer) else {
            return Err(flow("no authorization server metadata yet"));
        };
        AuthServerMetadata::from_json(raw.as_bytes(), issuer)
    }

    fn offer_ref(&self) -> Result<&CredentialOffer> {
        self.offer.as_ref().ok_or_else(|| flow("no offer yet"))
    }

    fn config_id(&self) -> Result<&str> {
        self.configuration_id
            .as_deref()
            .ok_or_else(|| flow("no configuration"))
    }

    /// The authorization URL while the flow waits for the browser.
    #[must_use]
    pub fn authorization_url(&self) -> Option<&str> {
        (self.step == Step::Authorize)
            .then_some(self.authorization_url.as_deref())
            .flatten()
    }

    /// Whether the flow is finished.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    fn dpop(&mut self, env: &Env<'_>) -> Result<DpopProver> {
        let id = match &self.dpop_key {
            Some(id) => id.clone(),
            None => {
                let (id, _) = env.keys.create_key(Algorithm::Es256)?;
                self.created_keys.push(id.clone());
                self.dpop_key = Some(id.clone());
                id
            }
        };
        Ok(DpopProver::new(Arc::new(ManagedKey::new(
            env.keys.clone(),
            &id,
        )?)))
    }

    fn dpop_header(
        &mut self,
        env: &Env<'_>,
        method: Method,
        url: &str,
        token: Option<&str>,
    ) -> Result<String> {
        let prover = self.dpop(env)?;
        let nonce = self.dpop_nonces.get(&origin(url)).cloned();
        prover.proof(
            method,
            url,
            token,
            nonce.as_deref(),
            env.clock.now(),
            env.rng,
        )
    }

    fn remember_headers(&mut self, url: &str, resp: &HttpResponse) {
        if let Some(n) = resp.header("dpop-nonce")
            && n.len() <= MAX_NONCE_LEN
            && n.bytes().all(|b| b.is_ascii_graphic())
        {
            self.dpop_nonces.insert(origin(url), n.to_owned());
        }
        if let Some(c) = resp.header(CHALLENGE_HEADER)
            && c.len() <= MAX_NONCE_LEN
        {
            self.attestation_challenge = Some(c.to_owned());
        }
    }

    /// What to do next.
    ///
    /// # Errors
    /// `flow_state` when called after a failure; signer and RNG errors.
    pub fn next(&mut self, env: &Env<'_>) -> Result<Action> {
        match self.step {
            Step::FetchOffer => {
                let uri = self.offer_uri.clone().ok_or_else(|| flow("no offer URI"))?;
                Ok(Action::Send(
                    HttpRequest::get(uri).header("Accept", JSON_MEDIA_TYPE),
                ))
            }
            Step::IssuerMetadata => {
                let url = issuer_metadata_url(&self.offer_ref()?.credential_issuer)?;
                // §12.2.2: Accept signals signed-metadata support.
                let accept = if env.metadata_trust.is_some() {
                    "application/jwt, application/json;q=0.5"
                } else {
                    JSON_MEDIA_TYPE
                };
                Ok(Action::Send(HttpRequest::get(url).header("Accept", accept)))
            }
            Step::AsMetadata => {
                let issuer = self.as_issuer.clone().ok_or_else(|| flow("no AS"))?;
                Ok(Action::Send(
                    HttpRequest::get(as_metadata_url(&issuer)?).header("Accept", JSON_MEDIA_TYPE),
                ))
            }
            Step::Par => match self.par_request(env)? {
                Some(r) => Ok(Action::Send(r)),
                None => Ok(Action::Authorize(
                    self.authorization_url
                        .clone()
                        .ok_or_else(|| flow("no URL"))?,
                )),
            },
            Step::Authorize => Ok(Action::Authorize(
                self.authorization_url
                    .clone()
                    .ok_or_else(|| flow("no URL"))?,
            )),
            Step::Token => self.token_request(env).map(Action::Send),
            Step::Nonce => {
                let url = self
                    .md()?
                    .nonce_endpoint
                    .ok_or_else(|| flow("no nonce endpoint"))?;
                Ok(Action::Send(
                    HttpRequest::post(url, JSON_MEDIA_TYPE, Vec::new())
                        .header("Accept", JSON_MEDIA_TYPE),
                ))
            }
            Step::Credential => self.credential_request(env).map(Action::Send),
            Step::Wait => {
                self.step = Step::Deferred;
                Ok(Action::Wait(Duration::from_secs(self.interval)))
            }
            Step::Deferred => self.deferred_request(env).map(Action::Send),
            Step::Done => Ok(Action::Done(self.issued()?)),
        }
    }

    fn issued(&self) -> Result<Issued> {
        let md = self.md()?;
        let config = md.configuration(self.config_id()?)?;
        Ok(Issued {
            credential_issuer: md.credential_issuer.clone(),
            configuration_id: config.id.clone(),
            format: config.format.clone(),
            vct: config.vct.clone(),
            credentials: self.credentials.clone(),
            key_ids: self.holder_keys.clone(),
            notification_ids: self.notification_ids.clone(),
        })
    }

    fn client_auth_headers(&self, env: &Env<'_>, as_issuer: &str) -> Result<Vec<(String, String)>> {
        match env.attestation {
            Some(a) => a.headers(
                as_issuer,
                self.attestation_challenge.as_deref(),
                env.clock.now(),
                env.rng,
            ),
            None => Ok(Vec::new()),
        }
    }

    fn client_id<'b>(&'b self, env: &'b Env<'_>) -> &'b str {
        env.attestation
            .map_or(self.client_id.as_str(), ClientAttestation::client_id)
    }

    fn par_request(&mut self, env: &Env<'_>) -> Result<Option<HttpRequest>> {
        let as_md = self.as_md()?;
        let md = self.md()?;
        let config = md.configuration(self.config_id()?)?.clone();
        let verifier = match &self.pkce {
            Some(v) => v.clone(),
            None => {
                let v = CodeVerifier::generate(env.rng)?;
                self.pkce = Some(v.clone());
                v
            }
        };
        let state = match &self.state {
            Some(s) => s.clone(),
            None => {
                let s = crate::b64::encode(&crate::rand::bytes(env.rng, 16)?);
                self.state = Some(s.clone());
                s
            }
        };
        if !as_md.code_challenge_methods.iter().any(|m| m == "S256") {
            return Err(Oid4vciError::InvalidMetadata(
                "the authorization server does not support PKCE S256".into(),
            )
            .into());
        }
        let challenge = verifier.challenge();
        let client_id = self.client_id(env).to_owned();
        let mut pairs: Vec<(&str, String)> = vec![
            ("response_type", "code".into()),
            ("client_id", client_id),
            ("redirect_uri", self.redirect_uri.clone()),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256".into()),
            ("state", state),
        ];
        // HAIP §4.2: the configuration's scope; authorization_details otherwise.
        match &config.scope {
            Some(scope) => pairs.push(("scope", scope.clone())),
            None => {
                let mut detail = json!({"type": AUTHORIZATION_DETAILS_TYPE, "credential_configuration_id": config.id});
                if md.authorization_servers.is_some()
                    && let Some(o) = detail.as_object_mut()
                {
                    o.insert("locations".into(), json!([md.credential_issuer]));
                }
                pairs.push(("authorization_details", json!([detail]).to_string()));
            }
        }
        if let Some(s) = self
            .offer_ref()?
            .authorization_code
            .as_ref()
            .and_then(|g| g.issuer_state.clone())
        {
            pairs.push(("issuer_state", s));
        }
        let Some(par) = as_md.par_endpoint.clone() else {
            if as_md.require_par {
                return Err(Oid4vciError::InvalidMetadata(
                    "PAR is required but has no endpoint".into(),
                )
                .into());
            }
            // No PAR: the parameters go in the authorization URL itself.
            let endpoint = as_md
                .authorization_endpoint
                .ok_or_else(|| Oid4vciError::InvalidMetadata("no authorization_endpoint".into()))?;
            let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let sep = if endpoint.contains('?') { '&' } else { '?' };
            self.authorization_url = Some(format!("{endpoint}{sep}{}", form_encode(&p)));
            self.step = Step::Authorize;
            return Ok(None);
        };
        let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut req = HttpRequest::post(
            par.clone(),
            crate::openid4vp::FORM_MEDIA_TYPE,
            form_encode(&p).into_bytes(),
        )
        .header("Accept", JSON_MEDIA_TYPE);
        if as_md.dpop_algs.is_some() {
            req = req.header("DPoP", self.dpop_header(env, Method::Post, &par, None)?);
        }
        for (n, v) in self.client_auth_headers(env, &as_md.issuer)? {
            req = req.header(&n, v);
        }
        Ok(Some(req))
    }

    fn token_request(&mut self, env: &Env<'_>) -> Result<HttpRequest> {
        let as_md = self.as_md()?;
        let offer = self.offer_ref()?.clone();
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if self.use_authorization_code {
            let code = self
                .code
                .clone()
                .ok_or_else(|| flow("no authorization code"))?;
            let verifier = self.pkce.clone().ok_or_else(|| flow("no PKCE verifier"))?;
            pairs.push(("grant_type", "authorization_code".into()));
            pairs.push(("code", code.expose().to_owned()));
            pairs.push(("redirect_uri", self.redirect_uri.clone()));
            pairs.push(("code_verifier", verifier.as_str().to_owned()));
            pairs.push(("client_id", self.client_id(env).to_owned()));
        } else {
            let grant = offer
                .pre_authorized
                .as_ref()
                .ok_or_else(|| flow("no pre-authorized grant"))?;
            if !as_md.grant_types.iter().any(|g| g == GRANT_PRE_AUTHORIZED) {
                return Err(Oid4vciError::InvalidMetadata(
                    "the authorization server does not list the pre-authorized code grant".into(),
                )
                .into());
            }
            pairs.push(("grant_type", GRANT_PRE_AUTHORIZED.into()));
            pairs.push(("pre-authorized_code", grant.code.expose().to_owned()));
            // §6.1: tx_code exactly when the offer had a tx_code object.
            if grant.tx_code.is_some() {
                let tx = self.tx_code.clone().ok_or_else(|| {
                    Oid4vciError::InvalidOffer("this offer requires a transaction code".into())
                })?;
                pairs.push(("tx_code", tx.expose().to_owned()));
            }
            if env.attestation.is_some() {
                pairs.push(("client_id", self.client_id(env).to_owned()));
            }
        }
        let token_endpoint = as_md.token_endpoint.clone();
        let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut req = HttpRequest::post(
            token_endpoint.clone(),
            crate::openid4vp::FORM_MEDIA_TYPE,
            form_encode(&p).into_bytes(),
        )
        .header("Accept", JSON_MEDIA_TYPE)
        .header(
            "DPoP",
            self.dpop_header(env, Method::Post, &token_endpoint, None)?,
        );
        for (n, v) in self.client_auth_headers(env, &as_md.issuer)? {
            req = req.header(&n, v);
        }
        Ok(req)
    }

    fn credential_request(&mut self, env: &Env<'_>) -> Result<HttpRequest> {
        let md = self.md()?;
        let config = md.configuration(self.config_id()?)?.clone();
        if config.format != FORMAT_SD_JWT_VC {
            return Err(Oid4vciError::InvalidMetadata(format!(
                "format {:?} is not supported",
                config.format
            ))
            .into());
        }
        let token = self
            .access_token
            .clone()
            .ok_or_else(|| flow("no access token"))?;
        let mut body = Map::new();
        match &self.credential_identifier {
            Some(id) => body.insert("credential_identifier".into(), id.clone().into()),
            None => body.insert(
                "credential_configuration_id".into(),
                config.id.clone().into(),
            ),
        };
        if config.is_key_bound() {
            let algs = config.jwt_proof_algs.clone().ok_or_else(|| {
                Oid4vciError::InvalidMetadata("no jwt proof type for a key-bound credential".into())
            })?;
            let alg = [
                Algorithm::Es256,
                Algorithm::Es384,
                Algorithm::EdDsa,
                Algorithm::Es512,
            ]
            .into_iter()
            .find(|a| algs.iter().any(|n| n == a.name()))
            .ok_or_else(|| Oid4vciError::InvalidMetadata("no supported proof alg".into()))?;
            if self.holder_keys.is_empty() {
                for _ in 0..self.count {
                    let (id, _) = env.keys.create_key(alg)?;
                    self.created_keys.push(id.clone());
                    self.holder_keys.push(id.clone());
                    self.pending_keys.push(id);
                }
            }
            let batch = md.batch_size.unwrap_or(1);
            if self.in_flight.is_empty() {
                let n = self.pending_keys.len().min(batch);
                self.in_flight = self.pending_keys.drain(..n).collect();
            }
            let mut claims = Map::new();
            claims.insert("aud".into(), md.credential_issuer.clone().into());
            claims.insert("iat".into(), env.clock.now().into());
            if let Some(n) = &self.c_nonce {
                claims.insert("nonce".into(), n.clone().into());
            }
            if env.attestation.is_some() || self.use_authorization_code {
                claims.insert("iss".into(), self.client_id(env).to_owned().into());
            }
            // One key attestation for all keys of the request (HAIP §4.5.1), in the header of
            // every proof (F.1 `key_attestation`).
            let mut header = None;
            if let Some(attestor) = env.key_attestation {
                let mut publics = Vec::with_capacity(self.in_flight.len());
                for id in &self.in_flight {
                    publics.push(env.keys.public_key(id)?);
                }
                if let Some(jwt) = attestor.attest(&publics, self.c_nonce.as_deref())? {
                    let mut h = Map::new();
                    h.insert("key_attestation".into(), jwt.into());
                    header = Some(h);
                }
            }
            if header.is_none() && config.key_attestations_required {
                return Err(Oid4vciError::InvalidMetadata(
                    "the issuer requires key attestations, and the host has none".into(),
                )
                .into());
            }
            let mut proofs = Vec::with_capacity(self.in_flight.len());
            for id in &self.in_flight {
                let key = ManagedKey::new(env.keys.clone(), id)?;
                proofs.push(Value::from(crate::oauth::sign_jwt(
                    &key,
                    PROOF_TYP,
                    true,
                    header.clone(),
                    &claims,
                )?));
            }
            body.insert("proofs".into(), json!({"jwt": proofs}));
        }
        let url = md.credential_endpoint.clone();
        let (content_type, bytes) = self.seal(&md, body, env)?;
        let dpop = self.dpop_header(env, Method::Post, &url, Some(token.expose()))?;
        Ok(HttpRequest::post(url, content_type, bytes)
            .header("Accept", JSON_MEDIA_TYPE)
            .header("Authorization", format!("DPoP {}", token.expose()))
            .header("DPoP", dpop))
    }

    /// How credential requests are encrypted (§10): `(issuer key, request enc, response
    /// enc)` when the issuer offers both request and response encryption (used whenever
    /// offered); `None` when it offers neither. An issuer that requires encryption in one
    /// direction without offering the other cannot be served (OpenID4VCI #743).
    fn encryption_plan(
        md: &IssuerMetadata,
    ) -> Result<Option<(crate::jose::PublicJwk, ContentEncryption, ContentEncryption)>> {
        let pick = |encs: &[String]| {
            [ContentEncryption::A256Gcm, ContentEncryption::A128Gcm]
                .into_iter()
                .find(|e| encs.iter().any(|n| n == e.name()))
        };
        let request = md
            .request_encryption
            .as_ref()
            .and_then(|r| Some((r.keys.first()?.clone(), pick(&r.encs)?)));
        let response = md.response_encryption.as_ref().and_then(|r| {
            r.algs
                .iter()
                .any(|a| a == crate::jose::jwe::ECDH_ES)
                .then(|| pick(&r.encs))
                .flatten()
        });
        let required = md.request_encryption.as_ref().is_some_and(|r| r.required)
            || md.response_encryption.as_ref().is_some_and(|r| r.required);
        match (request, response) {
            (Some((key, req)), Some(resp)) => Ok(Some((key, req, resp))),
            _ if required => Err(Oid4vciError::InvalidMetadata(
                "the issuer requires encryption but does not offer usable request and response \
                 encryption (ECDH-ES, P-256, A128GCM / A256GCM)"
                    .into(),
            )
            .into()),
            _ => Ok(None),
        }
    }

    /// The body as sent: encrypted to the issuer with a fresh response key (§8.2, §10), or
    /// JSON.
    fn seal(
        &mut self,
        md: &IssuerMetadata,
        mut body: Map<String, Value>,
        env: &Env<'_>,
    ) -> Result<(&'static str, Vec<u8>)> {
        let Some((issuer_key, req_enc, resp_enc)) = Self::encryption_plan(md)? else {
            self.response_key = None;
            return Ok((
                JSON_MEDIA_TYPE,
                Value::Object(body).to_string().into_bytes(),
            ));
        };
        let provider = crate::crypto::default_provider();
        let ephemeral = provider
            .generate(Algorithm::Es256, env.rng)?
            .with_kid(RESPONSE_KEY_ID);
        let mut jwk = ephemeral.public().minimal_json();
        jwk.insert("kid".into(), RESPONSE_KEY_ID.into());
        jwk.insert("alg".into(), crate::jose::jwe::ECDH_ES.into());
        jwk.insert("use".into(), "enc".into());
        body.insert(
            "credential_response_encryption".into(),
            json!({"jwk": Value::Object(jwk), "enc": resp_enc.name()}),
        );
        let mut options = EncryptOptions::default();
        if let Some(kid) = issuer_key.kid() {
            options = options.kid(kid);
        }
        let plaintext = zeroize::Zeroizing::new(Value::Object(body).to_string().into_bytes());
        let jwe = crate::jose::jwe::encrypt(
            &issuer_key,
            req_enc,
            &options,
            &plaintext,
            provider,
            env.rng,
        )?;
        self.response_key = Some(Secret::new(ephemeral.to_json_string().as_str()));
        Ok(("application/jwt", jwe.into_bytes()))
    }

    /// A 200 / 202 answer as JSON: decrypted with the response key when the request asked
    /// for encryption (a plaintext answer is then refused, ATTACKS VCI-77).
    fn open_answer(&self, mut resp: HttpResponse) -> Result<HttpResponse> {
        let media = media_type(&resp);
        match (&self.response_key, media.as_str()) {
            (Some(key), "application/jwt") => {
                let key = crate::jose::PrivateJwk::parse(key.expose())?;
                let text = std::str::from_utf8(&resp.body)
                    .map_err(|_| bad_response("the encrypted response is not UTF-8"))?;
                let opened =
                    crate::jose::jwe::Decrypter::new(vec![key]).decrypt_compact(text.trim())?;
                resp.body = opened.plaintext.to_vec();
                resp.content_type = Some(JSON_MEDIA_TYPE.into());
                Ok(resp)
            }
            (Some(_), _) => Err(Oid4vciError::UnencryptedResponse.into()),
            (None, "application/jwt") => {
                Err(bad_response("an encrypted response that was not asked for"))
            }
            (None, _) => Ok(resp),
        }
    }

    fn deferred_request(&mut self, env: &Env<'_>) -> Result<HttpRequest> {
        let md = self.md()?;
        let url = md.deferred_credential_endpoint.clone().ok_or_else(|| {
            bad_response("a deferred answer from an issuer without a deferred endpoint")
        })?;
        let token = self
            .access_token
            .clone()
            .ok_or_else(|| flow("no access token"))?;
        let tx = self
            .transaction_id
            .clone()
            .ok_or_else(|| flow("no transaction id"))?;
        let mut body = Map::new();
        body.insert("transaction_id".into(), tx.expose().into());
        let (content_type, bytes) = self.seal(&md, body, env)?;
        let dpop = self.dpop_header(env, Method::Post, &url, Some(token.expose()))?;
        Ok(HttpRequest::post(url, content_type, bytes)
            .header("Accept", JSON_MEDIA_TYPE)
            .header("Authorization", format!("DPoP {}", token.expose()))
            .header("DPoP", dpop))
    }

    /// Takes the response to the request of the last [`Action::Send`].
    ///
    /// # Errors
    /// Any OpenID4VCI error: metadata and offer validation, OAuth errors from the server
    /// (`invalid_grant`, ...), `token_not_sender_constrained`, `dpop_nonce_loop`,
    /// `credential_binding_mismatch`, JSON errors.
    pub fn receive(
        &mut self,
        request: &HttpRequest,
        resp: HttpResponse,
        env: &Env<'_>,
    ) -> Result<()> {
        self.remember_headers(&request.url, &resp);
        match self.step {
            Step::FetchOffer => {
                if resp.status != 200 {
                    return Err(rejected(resp.status, &resp.body));
                }
                let media = media_type(&resp);
                if media != JSON_MEDIA_TYPE {
                    // §4.1.3: application/json only, never a JWT (ATTACKS VCI-07).
                    return Err(Oid4vciError::InvalidOffer(format!(
                        "the offer is served as {media:?}"
                    ))
                    .into());
                }
                let offer = CredentialOffer::from_json(&resp.body)?;
                self.accept_offer(offer)?;
                self.step = Step::IssuerMetadata;
            }
            Step::IssuerMetadata => {
                if resp.status != 200 {
                    return Err(rejected(resp.status, &resp.body));
                }
                let offer = self.offer_ref()?.clone();
                let document = signed_or_plain_metadata(&resp, &offer.credential_issuer, env)?;
                let md = IssuerMetadata::from_json(&document, &offer.credential_issuer)?;
                for id in &offer.credential_configuration_ids {
                    if md.configuration_ids().all(|c| c != id) {
                        return Err(Oid4vciError::InvalidOffer(format!(
                            "{id:?} is not in the issuer's metadata"
                        ))
                        .into());
                    }
                }
                md.configuration(self.config_id()?)?;
                let hint = if self.use_authorization_code {
                    offer
                        .authorization_code
                        .as_ref()
                        .and_then(|g| g.authorization_server.clone())
                } else {
                    offer
                        .pre_authorized
                        .as_ref()
                        .and_then(|g| g.authorization_server.clone())
                };
                self.as_issuer = Some(md.authorization_server(hint.as_deref())?);
                self.issuer_metadata = Some(String::from_utf8_lossy(&document).into_owned());
                self.step = Step::AsMetadata;
            }
            Step::AsMetadata => {
                if resp.status != 200 {
                    return Err(rejected(resp.status, &resp.body));
                }
                json_body(&resp, "authorization server metadata")?;
                let issuer = self.as_issuer.clone().ok_or_else(|| flow("no AS"))?;
                let md = AuthServerMetadata::from_json(&resp.body, &issuer)?;
                if md
                    .dpop_algs
                    .as_ref()
                    .is_none_or(|a| !a.iter().any(|x| x == "ES256"))
                {
                    // HAIP §4: DPoP is mandatory, and credkit always sends it.
                    return Err(Oid4vciError::InvalidMetadata(
                        "the authorization server does not support DPoP with ES256".into(),
                    )
                    .into());
                }
                self.as_metadata = Some(String::from_utf8_lossy(&resp.body).into_owned());
                self.step = if self.use_authorization_code {
                    Step::Par
                } else {
                    Step::Token
                };
            }
            Step::Par => {
                if resp.status == 400 && self.should_retry(&resp, "use_dpop_nonce")? {
                    return Ok(());
                }
                if resp.status != 201 && resp.status != 200 {
                    return Err(rejected(resp.status, &resp.body));
                }
                self.retries = 0;
                let body = json_body(&resp, "PAR response")?;
                let uri = body
                    .get("request_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad_response("the PAR response has no request_uri"))?;
                let as_md = self.as_md()?;
                let endpoint = as_md.authorization_endpoint.ok_or_else(|| {
                    Oid4vciError::InvalidMetadata("no authorization_endpoint".into())
                })?;
                let client_id = self.client_id(env).to_owned();
                let sep = if endpoint.contains('?') { '&' } else { '?' };
                self.authorization_url = Some(format!(
                    "{endpoint}{sep}{}",
                    form_encode(&[("client_id", &client_id), ("request_uri", uri)])
                ));
                self.step = Step::Authorize;
            }
            Step::Token => {
                if resp.status == 400 && self.should_retry(&resp, "use_dpop_nonce")? {
                    return Ok(());
                }
                if resp.status != 200 {
                    return Err(rejected(resp.status, &resp.body));
                }
                self.retries = 0;
                let body = json_body(&resp, "token response")?;
                let token = body
                    .get("access_token")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| bad_response("the token response has no access_token"))?;
                let token_type = body.get("token_type").and_then(Value::as_str).unwrap_or("");
                if !token_type.eq_ignore_ascii_case("DPoP") {
                    return Err(
                        Oid4vciError::TokenNotSenderConstrained(token_type.to_owned()).into(),
                    );
                }
                self.access_token = Some(Secret::new(token));
                self.code = None;
                self.credential_identifier = self.identifier_from(&body)?;
                self.step = if self.md()?.nonce_endpoint.is_some() {
                    Step::Nonce
                } else {
                    Step::Credential
                };
            }
            Step::Nonce => {
                if resp.status != 200 {
                    return Err(rejected(resp.status, &resp.body));
                }
                let body = json_body(&resp, "nonce response")?;
                let n = body
                    .get("c_nonce")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty() && n.len() <= MAX_NONCE_LEN)
                    .ok_or_else(|| bad_response("the nonce response has no c_nonce"))?;
                self.c_nonce = Some(n.to_owned());
                self.step = Step::Credential;
            }
            Step::Credential | Step::Deferred => self.credential_response(resp)?,
            Step::Authorize | Step::Wait | Step::Done => {
                return Err(flow("no request was pending"));
            }
        }
        Ok(())
    }

    /// A `use_dpop_nonce` answer (or `invalid_nonce`) that may be retried once with the
    /// nonce the server gave.
    fn should_retry(&mut self, resp: &HttpResponse, code: &str) -> Result<bool> {
        let is = oauth_error(resp).as_deref() == Some(code)
            || resp
                .header("www-authenticate")
                .is_some_and(|w| w.contains(&format!("error=\"{code}\"")));
        if !is {
            return Ok(false);
        }
        if self.retries >= MAX_RETRIES {
            // ATTACKS VCI-49: a server that keeps asking is not followed further.
            return Err(Oid4vciError::DpopNonceLoop.into());
        }
        self.retries += 1;
        Ok(true)
    }

    fn identifier_from(&self, body: &Map<String, Value>) -> Result<Option<String>> {
        let Some(details) = body.get("authorization_details") else {
            return Ok(None);
        };
        let details = details
            .as_array()
            .ok_or_else(|| bad_response("authorization_details must be an array"))?;
        let config = self.config_id()?;
        for d in details {
            if d.get("type").and_then(Value::as_str) != Some(AUTHORIZATION_DETAILS_TYPE) {
                continue;
            }
            if d.get("credential_configuration_id").and_then(Value::as_str) != Some(config) {
                continue;
            }
            let ids = d
                .get("credential_identifiers")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| bad_response("credential_identifiers is required"))?;
            let first = ids
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| bad_response("credential_identifiers holds a non-string"))?;
            return Ok(Some(first.to_owned()));
        }
        Ok(None)
    }

    fn credential_response(&mut self, resp: HttpResponse) -> Result<()> {
        if (resp.status == 401 || resp.status == 400)
            && self.should_retry(&resp, "use_dpop_nonce")?
        {
            return Ok(());
        }
        if resp.status == 400
            && self.step == Step::Credential
            && self.nonce_retries < MAX_RETRIES
            && oauth_error(&resp).as_deref() == Some("invalid_nonce")
        {
            // §8.3.1.2: a fresh c_nonce and new proofs, once.
            self.nonce_retries += 1;
            self.step = Step::Nonce;
            return Ok(());
        }
        if resp.status != 200 && resp.status != 202 {
            return Err(rejected(resp.status, &resp.body));
        }
        self.retries = 0;
        let resp = self.open_answer(resp)?;
        let body = json_body(&resp, "credential response")?;
        match (body.get("credentials"), body.get("transaction_id")) {
            (Some(_), Some(_)) => {
                return Err(bad_response("credentials and transaction_id are exclusive"));
            }
            (None, Some(tx)) => {
                let tx = tx
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| bad_response("transaction_id must be a string"))?;
                let interval = body
                    .get("interval")
                    .and_then(Value::as_u64)
                    .filter(|i| *i > 0)
                    .ok_or_else(|| bad_response("a deferred answer needs a positive interval"))?;
                self.polls += 1;
                if self.polls > MAX_POLLS {
                    return Err(bad_response("the issuer kept deferring"));
                }
                self.transaction_id = Some(Secret::new(tx));
                self.interval = interval.min(MAX_INTERVAL);
                self.step = Step::Wait;
                return Ok(());
            }
            (Some(list), None) => {
                if body.contains_key("interval") {
                    return Err(bad_response("interval must not come with credentials"));
                }
                let list = list
                    .as_array()
                    .filter(|l| !l.is_empty())
                    .ok_or_else(|| bad_response("credentials must be a non-empty array"))?;
                let sent = self.in_flight.len().max(1);
                if list.len() > sent {
                    return Err(Oid4vciError::CredentialMismatch(format!(
                        "{} credentials for {sent} proofs",
                        list.len()
                    ))
                    .into());
                }
                for c in list {
                    let text = c.get("credential").and_then(Value::as_str).ok_or_else(|| {
                        Oid4vciError::CredentialMismatch(
                            "a dc+sd-jwt credential must be a string".into(),
                        )
                    })?;
                    self.credentials.push(text.to_owned());
                }
                if let Some(n) = body.get("notification_id").and_then(Value::as_str) {
                    self.notification_ids.push(n.to_owned());
                }
            }
            (None, None) => return Err(bad_response("neither credentials nor transaction_id")),
        }
        self.in_flight.clear();
        self.transaction_id = None;
        self.nonce_retries = 0;
        if self.pending_keys.is_empty() {
            self.step = Step::Done;
        } else {
            // More keys than batch_size: another request with a fresh c_nonce.
            self.step = if self.md()?.nonce_endpoint.is_some() {
                Step::Nonce
            } else {
                Step::Credential
            };
        }
        Ok(())
    }

    /// Takes the redirect the browser landed on after [`Action::Authorize`]; checks `state`
    /// and the RFC 9207 `iss` before anything is redeemed.
    ///
    /// # Errors
    /// `flow_state` when not waiting for it; `state_mismatch`, `iss_mismatch`,
    /// `iss_missing`; the authorization server's error (`access_denied`, ...).
    pub fn redirected(&mut self, redirect_url: &str) -> Result<()> {
        if self.step != Step::Authorize {
            return Err(flow("not waiting for an authorization response"));
        }
        if !redirect_url.starts_with(self.redirect_uri.split('?').next().unwrap_or("")) {
            return Err(bad_response(
                "the redirect is not to this flow's redirect_uri",
            ));
        }
        let query = redirect_url
            .split_once('?')
            .map(|(_, q)| q.split('#').next().unwrap_or(q))
            .unwrap_or("");
        let params = crate::openid4vp::parse_form(query)?;
        let get = |n: &str| params.get(n).and_then(Value::as_str);
        if get("state") != self.state.as_deref() {
            return Err(Oid4vciError::StateMismatch.into());
        }
        let as_md = self.as_md()?;
        match get("iss") {
            Some(iss) if iss != as_md.issuer => return Err(Oid4vciError::IssMismatch.into()),
            None if as_md.iss_parameter_supported => return Err(Oid4vciError::IssMissing.into()),
            _ => {}
        }
        if let Some(e) = get("error") {
            return Err(Oid4vciError::Rejected {
                status: 302,
                error: crate::oauth::sanitize_description(e),
                description: get("error_description")
                    .map(crate::oauth::sanitize_description)
                    .unwrap_or_default(),
            }
            .into());
        }
        let code = get("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| bad_response("the redirect has no code"))?;
        self.code = Some(Secret::new(code));
        self.step = Step::Token;
        Ok(())
    }

    /// The notification for `event` (`credential_accepted`, `credential_failure`,
    /// `credential_deleted`, §11.1), when the issuer has a notification endpoint.
    ///
    /// # Errors
    /// Signer errors.
    pub fn notification(&mut self, event: &str, env: &Env<'_>) -> Result<Vec<HttpRequest>> {
        let md = self.md()?;
        let (Some(url), Some(token)) =
            (md.notification_endpoint.clone(), self.access_token.clone())
        else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for id in self.notification_ids.clone() {
            let dpop = self.dpop_header(env, Method::Post, &url, Some(token.expose()))?;
            out.push(
                HttpRequest::post(
                    url.clone(),
                    JSON_MEDIA_TYPE,
                    json!({"notification_id": id, "event": event})
                        .to_string()
                        .into_bytes(),
                )
                .header("Authorization", format!("DPoP {}", token.expose()))
                .header("DPoP", dpop),
            );
        }
        Ok(out)
    }

    /// Deletes the keys this flow created (after a failure, or for copies the issuer did
    /// not issue). Keys that hold a stored credential are kept.
    pub fn abandon(&mut self, env: &Env<'_>, keep: &[String]) {
        for id in self.created_keys.drain(..) {
            if !keep.contains(&id) {
                let _ = env.keys.delete_key(&id);
            }
        }
    }
}

/// Drives `issuance` to the end over `fetcher`, asking `authorize` to take the user through
/// the authorization URL and return the redirect URL, and `wait` to sleep between deferred
/// polls. On failure the keys it created are deleted.
///
/// # Errors
/// As [`Issuance::next`], [`Issuance::receive`] and [`Issuance::redirected`]; fetch errors.
pub fn run(
    issuance: &mut Issuance,
    fetcher: &Fetcher,
    env: &Env<'_>,
    authorize: &mut dyn FnMut(&str) -> Result<String>,
    wait: &mut dyn FnMut(Duration),
) -> Result<Issued> {
    let result = (|| loop {
        match issuance.next(env) {
            Ok(Action::Send(req)) => {
                let resp = fetcher.send(&req)?;
                issuance.receive(&req, resp, env)?;
            }
            Ok(Action::Authorize(url)) => {
                let redirect = authorize(&url)?;
                issuance.redirected(&redirect)?;
            }
            Ok(Action::Wait(d)) => wait(d),
            Ok(Action::Done(issued)) => return Ok(issued),
            Err(e) => return Err(e),
        }
    })();
    if result.is_err() {
        issuance.abandon(env, &[]);
    }
    result
}
