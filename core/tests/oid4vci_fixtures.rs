//! Data-driven replay of the OpenID4VCI catalogue (ATTACKS_OID4VCI.md): every row that can be
//! expressed as static data is a file `test-vectors/attacks/VCI-<nn>.json`, and
//! [`oid4vci_fixtures`] runs them all through credkit's public API.
//!
//! The files are written by hand (there is nothing to derive: what must be fresh, such as
//! tokens, nonces, codes and signatures, is described in the file and made at replay time).
//! Every fixture has `row`, `threat`, `source`, `role` (`wallet` | `issuer`), `kind`,
//! `expected`, and where meaningful a `control` that must succeed under the same setup.
//! A `known_bug` member (`{"actual": ..., "note": ...}`) marks a row where credkit's outcome
//! differs from the catalogue: `expected` keeps the catalogue's outcome, the replay accepts
//! `actual` and fails once the outcome becomes `expected` (then drop `known_bug`).
//!
//! # Wallet kinds (`expected` = the stable error code of `Error::code()`)
//! - `offer_uri`: `input` (a link) and `options` (`tx_code`, `count`) for
//!   [`Issuance::from_offer_uri`]. `control`: another `input` / `options`.
//! - `offer_json`: `input` (a JSON value, serialised) for [`CredentialOffer::from_json`].
//! - `issuer_metadata`: `document` fetched for `fetched_for`
//!   ([`IssuerMetadata::from_json`]), then, when given, `configuration` (must be usable)
//!   and `authorization_server_hint` ([`IssuerMetadata::authorization_server`]).
//! - `as_metadata`: `document` fetched for `fetched_for` ([`AuthServerMetadata::from_json`]).
//! - `flow`: a whole issuance ([`run`]) against credkit's issuer in process (an `HttpClient`
//!   handing requests to [`Issuer::handle`], as in `openid4vci.rs`), `grant`
//!   (`pre_authorized` | `authorization_code`), `by_reference` (offer by
//!   `credential_offer_uri`); `replace` swaps the answer at one `step` (`offer`,
//!   `issuer_metadata`, `as_metadata`, `par`, `token`, `nonce`, `credential`), optionally only
//!   answers with status `when_status`, by a `response` (`status`, `content_type`, `headers`,
//!   `body`; a string `"{{real:<JSON pointer>}}"` in the body is the value at that pointer in
//!   the real answer) or by `merge` (members set on the real JSON answer); `redirect` edits
//!   the authorization response (`set` / `remove` query parameters). `message_excludes`:
//!   substrings the error text must not hold. `control`: members that replace the fixture's
//!   (`"replace": null` = the honest issuer).
//!
//! # Issuer kind `requests` (`expected` = `{"status", "error"}` of the last answer)
//! `setup` configures credkit's issuer (`dpop_nonces`, `pre_authorized_anonymous`,
//! `client_attestation`: trust the `attester` key, `tx_code`: pre-authorized codes need a
//! transaction code). `requests` are sent in order (`method`, `path`, `query`, `headers` as
//! `[name, value]` pairs, `form` | `json` | `body`, `clock` = seconds after the fixture
//! clock, `expect_status` for all but the last). For a 302 the `error` is the one of the
//! `Location` query (none for a code). A `control` is `{"setup"?, "jwts"?, "request"?}`:
//! `request` members replace the last request's (`form` members are merged, `null` removes);
//! it must succeed (2xx, or 302 with a code) on a fresh issuer.
//!
//! Placeholders, substituted in every string (a string that is exactly one placeholder takes
//! its JSON value, so `"{{now}}"` is a number and `"{{jwk:holder}}"` an object):
//! `{{issuer}}`, `{{now}}`, `{{now+N}}`, `{{now-N}}` (the request's clock), `{{jti}}` (fresh),
//! `{{jwk:K}}` / `{{jkt:K}}` (key `K`, derived from its name by a SHA-256 counter RNG),
//! `{{sha256:TEXT}}`, `{{ath}}` (of the request's access token), `{{code_verifier}}`,
//! `{{code_challenge}}` (its S256), and fresh values made through the issuer's own endpoints,
//! once per name (a `:suffix` makes another one): `{{access_token}}` (pre-authorized, bound to
//! key `dpop`), `{{access_token_code}}` (authorization code flow of client `w`),
//! `{{pre_authorized_code}}`, `{{tx_code}}`, `{{c_nonce}}`, `{{request_uri}}` (PAR of client
//! `w`; `{{request_uri_offer}}` with a real `issuer_state`, `{{request_uri_guessed}}` with a guessed one), `{{authorization_code}}` (client `w`, redirect `http://127.0.0.1/cb`, PKCE with
//! `{{code_verifier}}`), `{{issuer_state}}`, `{{dpop_nonce}}`, `{{notification_id}}` (issued to
//! `{{access_token:notified}}`); `{{dpop}}` / `{{dpop@K}}`: a fresh valid DPoP proof for this
//! request (method, URL, the `Authorization` header's token, the current server nonce when
//! `dpop_nonces`) by key `dpop` / `K`; `{{jwt:NAME}}`: the fixture's template
//! `jwts.NAME` = `{key, header, claims}`, substituted and signed (ES256 with key `key`,
//! whatever `alg` says) once per fixture, so using it twice replays it.
//!
//! # Rows
//! Fixtures (66, one variant per row; `openid4vci.rs` keeps other variants of many rows):
//! - wallet (18): VCI-05 to VCI-12, VCI-15, VCI-16, VCI-27, VCI-28, VCI-30, VCI-36, VCI-49,
//!   VCI-80, VCI-82, VCI-83. VCI-07's fixture is the `application/jwt` offer; its "both" and
//!   "neither" offer-parameter variants have no test yet.
//! - issuer (48): VCI-02, VCI-19 to VCI-26, VCI-29, VCI-31 to VCI-35, VCI-38, VCI-40 to
//!   VCI-48, VCI-50 to VCI-54, VCI-58 to VCI-70, VCI-75, VCI-76, VCI-84, VCI-88, VCI-90.
//! - `known_bug`: none open (VCI-49 and VCI-76 were fixed in core).
//!
//! Rows with no fixture:
//! - VCI-01, VCI-03, VCI-04, VCI-56: what the wallet shows and asks (issuer host, trust, consent;
//!   attestation per AS), host UI and policy, no outcome credkit decides.
//! - VCI-13, VCI-14, VCI-17, VCI-77, VCI-78, VCI-79: signed issuer metadata and
//!   application-layer encryption are not implemented (the wallet accepts only
//!   `application/json` metadata; the issuer refuses every `credential_response_encryption`,
//!   which is VCI-76's fixture), so there is no check whose one defect a fixture could hit.
//! - VCI-18: the wallet does not process `claims` descriptions (only `display` names), so
//!   nothing aborts on contradictory ones (reported).
//! - VCI-37: credkit's AS issues no refresh tokens.
//! - VCI-39: needs two issuers behind one AS; credkit's issuer is its own AS.
//! - VCI-55: credkit's issuer never issues attestation challenges (`verify` gets none).
//! - VCI-57: ABCA-10 DPoP combined mode is not implemented.
//! - VCI-71 to VCI-74: key attestations are not implemented (proofs bind `jwk` keys only).
//! - VCI-81: the caps are 1 MiB (wallet) and the issuer's body limit, too large for a data
//!   file; VCI-16 covers the depth cap.
//! - VCI-85 to VCI-87: credkit's issuer never defers, so no `transaction_id` exists to reuse,
//!   substitute or poll; VCI-84 covers an unknown one.
//! - VCI-06 (private / link-local hosts, redirects): fetch policy, not offer data; the
//!   fixture covers `http:` only. VCI-26's `https` variant (an unauthenticated client's web
//!   redirect URI) is the unit test `issuer::tests::redirect_uris`.
//! - VCI-89: a property of issued batches (distinct salts), checked in `openid4vci.rs`
//!   (`pre_authorized_with_tx_code_batch_and_nonces`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::print_stdout,
    clippy::print_stderr
)]
#![allow(missing_docs)]

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use credkit::crypto::{HashAlg, Signer, default_provider};
use credkit::http::{
    FetchPolicy, Fetcher, HttpClient, HttpRequest, HttpResponse, HttpsUrl, Method,
};
use credkit::jose::Algorithm;
use credkit::oauth::Secret;
use credkit::oauth::client_attestation::AttestationPolicy;
use credkit::oauth::dpop::DpopProver;
use credkit::oauth::store::MemoryStateStore;
use credkit::openid4vci::issuer::{
    Issuer, IssuerConfig, IssuerRequest, IssuerResponse, OfferGrant, OfferRequest,
    SdJwtVcConfiguration,
};
use credkit::openid4vci::wallet::{Env, Issuance, IssuanceOptions, run};
use credkit::openid4vci::{AuthServerMetadata, CredentialOffer, IssuerMetadata};
use credkit::rand::{OsRandom, RandomSource};
use credkit::sd_jwt::StaticIssuerKeys;
use credkit::sd_jwt_vc::Vct;
use credkit::time::FixedClock;
use credkit::wallet::{KeyManager, SoftwareKeyManager};
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://issuer.example";
const NOW: i64 = 1_750_000_000;
/// The PKCE verifier of `{{code_verifier}}` (43 characters).
const VERIFIER: &str = "credkit-fixture-verifier-0123456789abcdefgh";
const CLIENT: &str = "w";
const REDIRECT: &str = "http://127.0.0.1/cb";

/// The table must never silently shrink.
const EXPECTED_FIXTURES: usize = 66;
const PREFIX: &str = "VCI-";

fn fixture_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-vectors/attacks"
    ))
}

// =============================================================================================
// Keys
// =============================================================================================

/// Deterministic "randomness": SHA-256(label ‖ counter) blocks (as `common/attack_kit.rs`).
#[derive(Debug)]
struct DetRng {
    label: String,
    counter: AtomicU64,
}

impl RandomSource for DetRng {
    fn fill(&self, buf: &mut [u8]) -> credkit::Result<()> {
        for chunk in buf.chunks_mut(32) {
            let n = self.counter.fetch_add(1, Ordering::SeqCst);
            let block = HashAlg::Sha256.digest(format!("{}/{n}", self.label).as_bytes());
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

/// A P-256 signer whose key derives from `label`.
fn derived_signer(label: &str) -> Arc<dyn Signer> {
    let p = default_provider();
    let rng = DetRng {
        label: format!("oid4vci-fixtures/{label}"),
        counter: AtomicU64::new(0),
    };
    p.signer(&p.generate(Algorithm::Es256, &rng).unwrap())
        .unwrap()
}

fn sign_jwt(signer: &dyn Signer, header: &Value, claims: &Value) -> String {
    let h = credkit::b64::encode(header.to_string().as_bytes());
    let c = credkit::b64::encode(claims.to_string().as_bytes());
    let input = format!("{h}.{c}");
    let sig = signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", credkit::b64::encode(&sig))
}

// =============================================================================================
// The issuer under test
// =============================================================================================

#[derive(Clone)]
struct Rig {
    config: IssuerConfig,
    store: Arc<MemoryStateStore>,
}

impl Rig {
    fn new(setup: &Value, dpop_nonces_default: bool) -> Result<Self, String> {
        let flag = |n: &str, d: bool| setup.get(n).and_then(Value::as_bool).unwrap_or(d);
        if let Some(o) = setup.as_object() {
            for k in o.keys() {
                if ![
                    "dpop_nonces",
                    "pre_authorized_anonymous",
                    "client_attestation",
                    "tx_code",
                ]
                .contains(&k.as_str())
                {
                    return Err(format!("unknown setup member {k:?}"));
                }
            }
        }
        let configs = vec![SdJwtVcConfiguration::new(
            "pid",
            Vct::new("urn:eudi:pid:1").unwrap(),
            "pid",
        )];
        let mut config = IssuerConfig::new(ISSUER, derived_signer("issuer"), configs)
            .map_err(|e| e.to_string())?;
        config.batch_size = 3;
        config.dpop_nonces = flag("dpop_nonces", dpop_nonces_default);
        config.pre_authorized_anonymous = flag("pre_authorized_anonymous", true);
        if flag("client_attestation", false) {
            let trust = StaticIssuerKeys::single(
                derived_signer("attester").public_jwk(),
                default_provider(),
            )
            .unwrap();
            config.client_attestation = Some(AttestationPolicy::new(Arc::new(trust)));
        }
        Ok(Self {
            config,
            store: Arc::new(MemoryStateStore::new()),
        })
    }

    /// The issuer at `NOW + offset`, on the shared store.
    fn at(&self, offset: i64) -> Issuer {
        Issuer::new(
            self.config.clone(),
            self.store.clone(),
            Arc::new(FixedClock(NOW + offset)),
            Arc::new(OsRandom),
        )
    }
}

fn pid_claims() -> Map<String, Value> {
    let Value::Object(m) = json!({"given_name": "Erika", "family_name": "Mustermann"}) else {
        unreachable!()
    };
    m
}

fn to_http(r: IssuerResponse) -> HttpResponse {
    let mut out = HttpResponse::new(r.status, r.body.clone());
    for (n, v) in &r.headers {
        match n.to_ascii_lowercase().as_str() {
            "content-type" => out = out.with_content_type(v.clone()),
            "location" => out = out.with_location(v.clone()),
            "cache-control" => out = out.with_cache_control(v.clone()),
            other => out = out.with_header(other, v.clone()),
        }
    }
    out
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn form_body(form: &Map<String, Value>) -> Result<String, String> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        s.append_pair(k, v.as_str().ok_or(format!("form.{k} must be a string"))?);
    }
    Ok(s.finish())
}

// =============================================================================================
// Issuer fixtures: requests with placeholders
// =============================================================================================

/// The state of one replay: the issuer, values made once per name, the request in progress.
struct Ctx<'a> {
    rig: Rig,
    setup: &'a Value,
    jwts: Map<String, Value>,
    cache: RefCell<BTreeMap<String, Value>>,
    /// Clock offset, method, URL and access token of the request being built.
    clock: i64,
    method: Method,
    url: String,
    token: Option<String>,
}

impl Ctx<'_> {
    fn handle(
        &self,
        offset: i64,
        method: Method,
        path: &str,
        query: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> IssuerResponse {
        self.rig
            .at(offset)
            .handle(&IssuerRequest::new(method, path, query, headers, body))
    }

    fn post_form(&self, path: &str, form: &str, headers: Vec<(String, String)>) -> IssuerResponse {
        let mut h = vec![(
            "Content-Type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )];
        h.extend(headers);
        self.handle(0, Method::Post, path, "", &h, form.as_bytes())
    }

    fn dpop_nonce(&self) -> Result<Option<String>, String> {
        if !self.rig.config.dpop_nonces {
            return Ok(None);
        }
        let r = self.handle(0, Method::Post, "/nonce", "", &[], b"");
        r.header_value("DPoP-Nonce")
            .map(|n| Some(n.to_owned()))
            .ok_or("the nonce endpoint gave no DPoP-Nonce".into())
    }

    /// A valid DPoP proof by key `key` for `method` `url` (with `token`), at `clock`.
    fn proof(
        &self,
        key: &str,
        method: Method,
        url: &str,
        token: Option<&str>,
        clock: i64,
    ) -> Result<String, String> {
        let nonce = self.dpop_nonce()?;
        DpopProver::new(derived_signer(key))
            .proof(method, url, token, nonce.as_deref(), NOW + clock, &OsRandom)
            .map_err(|e| e.to_string())
    }

    fn new_offer(
        &self,
        grant: OfferGrant,
    ) -> Result<credkit::openid4vci::issuer::CreatedOffer, String> {
        self.rig
            .at(0)
            .create_offer(&OfferRequest::new(vec!["pid".into()], pid_claims(), grant))
            .map_err(|e| e.to_string())
    }

    fn pre_authorized_code(&self, tx: bool) -> Result<(String, Option<Secret>), String> {
        let o = self.new_offer(OfferGrant::PreAuthorized {
            tx_code_digits: tx.then_some(6),
            tx_code_description: None,
        })?;
        let code = o
            .offer
            .pre_authorized
            .as_ref()
            .ok_or("no pre-authorized grant")?
            .code
            .expose()
            .to_owned();
        Ok((code, o.tx_code))
    }

    fn token_from(&self, form: &str, client: Vec<(String, String)>) -> Result<String, String> {
        let proof = self.proof("dpop", Method::Post, &format!("{ISSUER}/token"), None, 0)?;
        let mut headers = vec![("DPoP".to_owned(), proof)];
        headers.extend(client);
        let r = self.post_form("/token", form, headers);
        if r.status != 200 {
            return Err(format!(
                "making a token: {}",
                String::from_utf8_lossy(&r.body)
            ));
        }
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        Ok(v["access_token"].as_str().unwrap().to_owned())
    }

    fn request_uri(&self, issuer_state: Option<&str>) -> Result<String, String> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("response_type", "code")
            .append_pair("client_id", CLIENT)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", "pid")
            .append_pair(
                "code_challenge",
                &HashAlg::Sha256.digest_b64(VERIFIER.as_bytes()),
            )
            .append_pair("code_challenge_method", "S256");
        if let Some(s) = issuer_state {
            form.append_pair("issuer_state", s);
        }
        let r = self.post_form("/par", &form.finish(), vec![]);
        if r.status != 201 {
            return Err(format!("PAR: {}", String::from_utf8_lossy(&r.body)));
        }
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        Ok(v["request_uri"].as_str().unwrap().to_owned())
    }

    fn issuer_state(&self) -> Result<String, String> {
        let o = self.new_offer(OfferGrant::AuthorizationCode)?;
        o.offer
            .authorization_code
            .and_then(|g| g.issuer_state)
            .ok_or("no issuer_state".into())
    }

    fn authorization_code(&self) -> Result<String, String> {
        let state = self.issuer_state()?;
        let uri = self.request_uri(Some(&state))?;
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", CLIENT)
            .append_pair("request_uri", &uri)
            .finish();
        let r = self.handle(0, Method::Get, "/authorize", &q, &[], b"");
        let loc = r.header_value("Location").ok_or("no redirect")?;
        query_param(loc, "code").ok_or(format!("no code in {loc}"))
    }

    fn cached(
        &self,
        name: &str,
        make: impl FnOnce() -> Result<Value, String>,
    ) -> Result<Value, String> {
        if let Some(v) = self.cache.borrow().get(name) {
            return Ok(v.clone());
        }
        let v = make()?;
        self.cache.borrow_mut().insert(name.to_owned(), v.clone());
        Ok(v)
    }

    /// The value of placeholder `name`.
    fn value(&self, name: &str) -> Result<Value, String> {
        let now = NOW + self.clock;
        if name == "issuer" {
            return Ok(ISSUER.into());
        }
        if name == "now" {
            return Ok(now.into());
        }
        if let Some(n) = name.strip_prefix("now+") {
            return Ok((now + n.parse::<i64>().map_err(|e| e.to_string())?).into());
        }
        if let Some(n) = name.strip_prefix("now-") {
            return Ok((now - n.parse::<i64>().map_err(|e| e.to_string())?).into());
        }
        if name == "jti" {
            let mut b = [0u8; 16];
            OsRandom.fill(&mut b).map_err(|e| e.to_string())?;
            return Ok(credkit::b64::encode(&b).into());
        }
        if let Some(k) = name.strip_prefix("jwk:") {
            return Ok(Value::Object(derived_signer(k).public_jwk().minimal_json()));
        }
        if let Some(k) = name.strip_prefix("jkt:") {
            return Ok(derived_signer(k)
                .public_jwk()
                .thumbprint(HashAlg::Sha256)
                .into());
        }
        if let Some(t) = name.strip_prefix("sha256:") {
            return Ok(HashAlg::Sha256.digest_b64(t.as_bytes()).into());
        }
        if name == "ath" {
            let t = self
                .token
                .as_deref()
                .ok_or("{{ath}} without an access token")?;
            return Ok(HashAlg::Sha256.digest_b64(t.as_bytes()).into());
        }
        if name == "code_verifier" {
            return Ok(VERIFIER.into());
        }
        if name == "code_challenge" {
            return Ok(HashAlg::Sha256.digest_b64(VERIFIER.as_bytes()).into());
        }
        if name == "dpop" || name.starts_with("dpop@") {
            let key = name.strip_prefix("dpop@").unwrap_or("dpop");
            return self
                .proof(
                    key,
                    self.method,
                    &self.url,
                    self.token.as_deref(),
                    self.clock,
                )
                .map(Value::from);
        }
        if let Some(t) = name.strip_prefix("jwt:") {
            let template = self.jwts.get(t).cloned().ok_or(format!("no jwts.{t}"))?;
            return self.cached(name, || {
                let key = template["key"].as_str().ok_or("jwts: key")?;
                let header = self.subst(&template["header"])?;
                let claims = self.subst(&template["claims"])?;
                Ok(sign_jwt(&*derived_signer(key), &header, &claims).into())
            });
        }
        let base = name.split(':').next().unwrap_or(name);
        self.cached(name, || match base {
            "access_token" => {
                let (code, _) = self.pre_authorized_code(false)?;
                let form = form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", credkit::openid4vci::GRANT_PRE_AUTHORIZED)
                    .append_pair("pre-authorized_code", &code)
                    .finish();
                self.token_from(&form, vec![]).map(Value::from)
            }
            "access_token_code" => {
                let code = self.authorization_code()?;
                let form = form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "authorization_code")
                    .append_pair("code", &code)
                    .append_pair("client_id", CLIENT)
                    .append_pair("redirect_uri", REDIRECT)
                    .append_pair("code_verifier", VERIFIER)
                    .finish();
                self.token_from(&form, vec![]).map(Value::from)
            }
            "pre_authorized_code" => {
                let tx = self.setup.get("tx_code").and_then(Value::as_bool).unwrap_or(false);
                let (code, tx_code) = self.pre_authorized_code(tx)?;
                if let Some(t) = tx_code {
                    self.cache
                        .borrow_mut()
                        .insert(name.replacen("pre_authorized_code", "tx_code", 1), t.expose().into());
                }
                Ok(code.into())
            }
            "tx_code" => Err("{{tx_code}} comes after its {{pre_authorized_code}}".into()),
            "c_nonce" => {
                let r = self.handle(0, Method::Post, "/nonce", "", &[], b"");
                let v: Value = serde_json::from_slice(&r.body).unwrap();
                Ok(v["c_nonce"].clone())
            }
            "dpop_nonce" => self.dpop_nonce()?.map(Value::from).ok_or("no DPoP nonces".into()),
            "request_uri" => self.request_uri(None).map(Value::from),
            "request_uri_offer" => {
                let state = self.issuer_state()?;
                self.request_uri(Some(&state)).map(Value::from)
            }
            "request_uri_guessed" => self.request_uri(Some("guessed-issuer-state")).map(Value::from),
            "issuer_state" => self.issuer_state().map(Value::from),
            "authorization_code" => self.authorization_code().map(Value::from),
            "notification_id" => {
                let token = self.value("access_token:notified")?;
                let token = token.as_str().unwrap();
                let n = self.value("c_nonce:notified")?;
                let holder = derived_signer("notified-holder");
                let pj = sign_jwt(
                    &*holder,
                    &json!({"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": Value::Object(holder.public_jwk().minimal_json())}),
                    &json!({"aud": ISSUER, "iat": NOW, "nonce": n}),
                );
                let url = format!("{ISSUER}/credential");
                let headers = vec![
                    ("Content-Type".to_owned(), "application/json".to_owned()),
                    ("Authorization".to_owned(), format!("DPoP {token}")),
                    ("DPoP".to_owned(), self.proof("dpop", Method::Post, &url, Some(token), 0)?),
                ];
                let body = json!({"credential_configuration_id": "pid", "proofs": {"jwt": [pj]}});
                let r = self.handle(0, Method::Post, "/credential", "", &headers, body.to_string().as_bytes());
                let v: Value = serde_json::from_slice(&r.body).unwrap();
                v.get("notification_id")
                    .cloned()
                    .ok_or(format!("no notification_id: {v}"))
            }
            _ => Err(format!("unknown placeholder {{{{{name}}}}}")),
        })
    }

    /// Substitutes the placeholders of `v`.
    fn subst(&self, v: &Value) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => {
                if let Some(name) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}"))
                    && !name.contains("{{")
                    && !name.contains("}}")
                {
                    return self.value(name);
                }
                let mut out = String::new();
                let mut rest = s.as_str();
                while let Some(i) = rest.find("{{") {
                    out.push_str(&rest[..i]);
                    let j = rest[i..]
                        .find("}}")
                        .ok_or(format!("unclosed placeholder in {s}"))?;
                    let val = self.value(&rest[i + 2..i + j])?;
                    match val {
                        Value::String(t) => out.push_str(&t),
                        other => out.push_str(&other.to_string()),
                    }
                    rest = &rest[i + j + 2..];
                }
                out.push_str(rest);
                Value::String(out)
            }
            Value::Array(a) => {
                Value::Array(a.iter().map(|x| self.subst(x)).collect::<Result<_, _>>()?)
            }
            Value::Object(o) => {
                let mut m = Map::new();
                for (k, x) in o {
                    m.insert(k.clone(), self.subst(x)?);
                }
                Value::Object(m)
            }
            other => other.clone(),
        })
    }

    /// Builds and sends one request.
    fn send(&mut self, r: &Value) -> Result<IssuerResponse, String> {
        check_members(
            r,
            &[
                "method",
                "path",
                "query",
                "headers",
                "form",
                "json",
                "body",
                "clock",
                "expect_status",
            ],
            "request",
        )?;
        self.method = match r["method"].as_str() {
            Some("GET") => Method::Get,
            Some("POST") => Method::Post,
            other => return Err(format!("method {other:?}")),
        };
        let path = r["path"].as_str().ok_or("request.path")?.to_owned();
        self.url = format!("{ISSUER}{path}");
        self.clock = r.get("clock").and_then(Value::as_i64).unwrap_or(0);
        self.token = None;
        let raw_headers = r.get("headers").cloned().unwrap_or(json!([]));
        let raw_headers = raw_headers.as_array().ok_or("request.headers")?;
        let mut pairs = Vec::new();
        for h in raw_headers {
            let (Some(n), Some(v)) = (h[0].as_str(), h.get(1)) else {
                return Err("headers are [name, value] pairs".into());
            };
            pairs.push((n.to_owned(), v.clone()));
        }
        // The Authorization header first: DPoP proofs need its token.
        let mut resolved: Vec<Option<String>> = vec![None; pairs.len()];
        for (i, (n, v)) in pairs.iter().enumerate() {
            if n.eq_ignore_ascii_case("Authorization") {
                let s = self.subst(v)?.as_str().ok_or("header value")?.to_owned();
                self.token = s.split_once(' ').map(|(_, t)| t.to_owned());
                resolved[i] = Some(s);
            }
        }
        let mut headers = Vec::new();
        for (i, (n, v)) in pairs.iter().enumerate() {
            let s = match resolved[i].take() {
                Some(s) => s,
                None => self.subst(v)?.as_str().ok_or("header value")?.to_owned(),
            };
            headers.push((n.clone(), s));
        }
        let has_ct = headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("Content-Type"));
        let body = match (r.get("form"), r.get("json"), r.get("body")) {
            (Some(f), None, None) => {
                if !has_ct {
                    headers.push((
                        "Content-Type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ));
                }
                let f = self.subst(f)?;
                form_body(f.as_object().ok_or("form must be an object")?)?.into_bytes()
            }
            (None, Some(j), None) => {
                if !has_ct {
                    headers.push(("Content-Type".into(), "application/json".into()));
                }
                self.subst(j)?.to_string().into_bytes()
            }
            (None, None, Some(b)) => self
                .subst(b)?
                .as_str()
                .ok_or("body must be a string")?
                .as_bytes()
                .to_vec(),
            (None, None, None) => Vec::new(),
            _ => return Err("one of form, json, body".into()),
        };
        let query = match r.get("query") {
            None => String::new(),
            Some(q) => self.subst(q)?.as_str().ok_or("query")?.to_owned(),
        };
        Ok(self.handle(self.clock, self.method, &path, &query, &headers, &body))
    }
}

/// `(status, error)` of an answer: the JSON `error`, or for a redirect the `error` query
/// parameter.
fn outcome(r: &IssuerResponse) -> (u16, Option<String>) {
    if r.status == 302 {
        let loc = r.header_value("Location").unwrap_or("");
        return (302, query_param(loc, "error"));
    }
    (r.status, r.error_code())
}

fn run_requests(setup: &Value, jwts: &Value, requests: &[Value]) -> Result<IssuerResponse, String> {
    let rig = Rig::new(setup, false)?;
    let mut ctx = Ctx {
        rig,
        setup,
        jwts: jwts.as_object().cloned().unwrap_or_default(),
        cache: RefCell::new(BTreeMap::new()),
        clock: 0,
        method: Method::Get,
        url: String::new(),
        token: None,
    };
    let (last, before) = requests.split_last().ok_or("requests is empty")?;
    for (i, r) in before.iter().enumerate() {
        let resp = ctx.send(r)?;
        if let Some(want) = r.get("expect_status").and_then(Value::as_u64)
            && u64::from(resp.status) != want
        {
            return Err(format!(
                "request {i}: status {}, expected {want}: {}",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            ));
        }
    }
    ctx.send(last)
}

fn describe(r: &IssuerResponse) -> String {
    let (s, e) = outcome(r);
    format!("{s} {}", e.unwrap_or_else(|| "(no error)".into()))
}

fn check_issuer(f: &Value) -> Result<Option<String>, String> {
    check_members(
        f,
        &[
            "row",
            "threat",
            "source",
            "role",
            "kind",
            "setup",
            "jwts",
            "requests",
            "expected",
            "expected_headers",
            "control",
            "known_bug",
        ],
        "the fixture",
    )?;
    let setup = f.get("setup").cloned().unwrap_or(json!({}));
    let jwts = f.get("jwts").cloned().unwrap_or(json!({}));
    let requests = f["requests"].as_array().ok_or("requests")?;
    let resp = run_requests(&setup, &jwts, requests)?;
    let want_status = f["expected"]["status"].as_u64().ok_or("expected.status")?;
    let want_error = f["expected"]["error"].as_str().ok_or("expected.error")?;
    let (status, error) = outcome(&resp);
    let got = describe(&resp);
    let want = format!("{want_status} {want_error}");
    let mut note = None;
    match known_bug(f, &got, &want)? {
        Some(n) => note = Some(n),
        None => {
            if u64::from(status) != want_status || error.as_deref() != Some(want_error) {
                return Err(format!(
                    "expected {want}, got {got}: {}",
                    String::from_utf8_lossy(&resp.body)
                ));
            }
        }
    }
    if let Some(hs) = f.get("expected_headers") {
        for h in hs.as_array().ok_or("expected_headers")? {
            let h = h.as_str().ok_or("expected_headers")?;
            if resp.header_value(h).is_none() {
                return Err(format!("no {h} header in the answer"));
            }
        }
    }
    if let Some(c) = f.get("control") {
        check_members(c, &["setup", "jwts", "request"], "control")?;
        let setup = c.get("setup").cloned().unwrap_or(setup);
        let mut jwts = jwts.as_object().cloned().unwrap_or_default();
        if let Some(o) = c.get("jwts").and_then(Value::as_object) {
            for (k, v) in o {
                jwts.insert(k.clone(), v.clone());
            }
        }
        let mut requests = requests.clone();
        if let Some(over) = c.get("request").and_then(Value::as_object) {
            let last = requests.last_mut().unwrap().as_object_mut().unwrap();
            for (k, v) in over {
                if k == "form"
                    && let (Some(Value::Object(base)), Some(o)) =
                        (last.get_mut("form"), v.as_object())
                {
                    for (fk, fv) in o {
                        if fv.is_null() {
                            base.remove(fk);
                        } else {
                            base.insert(fk.clone(), fv.clone());
                        }
                    }
                    continue;
                }
                if v.is_null() {
                    last.remove(k);
                } else {
                    last.insert(k.clone(), v.clone());
                }
            }
        }
        let resp = run_requests(&setup, &Value::Object(jwts), &requests)?;
        let ok =
            (200..300).contains(&resp.status) || (resp.status == 302 && outcome(&resp).1.is_none());
        if !ok {
            return Err(format!(
                "control must succeed, got {}: {}",
                describe(&resp),
                String::from_utf8_lossy(&resp.body)
            ));
        }
    }
    Ok(note)
}

/// With `known_bug`: `Ok(Some(note))` when the outcome is still the known wrong one, an
/// error when it is now the expected one (drop `known_bug`) or a third one.
fn known_bug(f: &Value, got: &str, want: &str) -> Result<Option<String>, String> {
    let Some(k) = f.get("known_bug") else {
        return Ok(None);
    };
    check_members(k, &["actual", "note"], "known_bug")?;
    let actual = match &k["actual"] {
        Value::String(s) => s.clone(),
        Value::Object(o) => format!(
            "{} {}",
            o.get("status")
                .and_then(Value::as_u64)
                .ok_or("known_bug.actual.status")?,
            o.get("error")
                .and_then(Value::as_str)
                .ok_or("known_bug.actual.error")?
        ),
        _ => return Err("known_bug.actual".into()),
    };
    if got == want {
        return Err(format!("known_bug is fixed (got {want}): drop known_bug"));
    }
    if got != actual {
        return Err(format!("expected {want} (known bug: {actual}), got {got}"));
    }
    Ok(Some(format!(
        "{}: known bug, {got} instead of {want}: {}",
        f["row"].as_str().unwrap_or("?"),
        k["note"].as_str().unwrap_or("")
    )))
}

// =============================================================================================
// Wallet fixtures
// =============================================================================================

type Rewrite =
    Box<dyn Fn(&HttpRequest, HttpResponse) -> Result<HttpResponse, String> + Send + Sync>;

struct Loopback {
    issuer: Issuer,
    rewrite: Rewrite,
    failure: Mutex<Option<String>>,
}

impl std::fmt::Debug for Loopback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Loopback")
    }
}

impl Loopback {
    fn dispatch(&self, req: &HttpRequest) -> HttpResponse {
        let rest = req
            .url
            .strip_prefix(ISSUER)
            .expect("only the issuer is reachable");
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let r = self.issuer.handle(&IssuerRequest::new(
            req.method,
            path,
            query,
            &req.headers,
            &req.body,
        ));
        match (self.rewrite)(req, to_http(r)) {
            Ok(r) => r,
            Err(e) => {
                *self.failure.lock().unwrap() = Some(e);
                HttpResponse::new(599, Vec::new())
            }
        }
    }
}

impl HttpClient for Loopback {
    fn get(&self, url: &HttpsUrl, _policy: &FetchPolicy) -> credkit::Result<HttpResponse> {
        Ok(self.dispatch(&HttpRequest::get(url.as_str())))
    }

    fn send(
        &self,
        request: &HttpRequest,
        _url: &HttpsUrl,
        _policy: &FetchPolicy,
    ) -> credkit::Result<HttpResponse> {
        Ok(self.dispatch(request))
    }
}

fn step_of(url: &str) -> &'static str {
    let path = url.split('?').next().unwrap_or(url);
    if path.contains("/.well-known/openid-credential-issuer") {
        "issuer_metadata"
    } else if path.contains("/.well-known/oauth-authorization-server") {
        "as_metadata"
    } else if path.contains("/offers/") {
        "offer"
    } else {
        match path.rsplit('/').next().unwrap_or("") {
            "par" => "par",
            "token" => "token",
            "nonce" => "nonce",
            "credential" => "credential",
            "notification" => "notification",
            "deferred" => "deferred",
            _ => "other",
        }
    }
}

/// `"{{real:<pointer>}}"` strings replaced by the real answer's values.
fn from_real(v: &Value, real: &Value) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => match s.strip_prefix("{{real:").and_then(|r| r.strip_suffix("}}")) {
            Some(p) => real
                .pointer(p)
                .cloned()
                .ok_or(format!("no {p} in the real answer"))?,
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| from_real(x, real))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, x) in o {
                m.insert(k.clone(), from_real(x, real)?);
            }
            Value::Object(m)
        }
        other => other.clone(),
    })
}

fn make_rewrite(replace: &Value) -> Result<Rewrite, String> {
    if replace.is_null() {
        return Ok(Box::new(|_, r| Ok(r)));
    }
    check_members(
        replace,
        &["step", "when_status", "response", "merge"],
        "replace",
    )?;
    let step = replace["step"].as_str().ok_or("replace.step")?.to_owned();
    let when = replace.get("when_status").and_then(Value::as_u64);
    let response = replace.get("response").cloned();
    let merge = replace.get("merge").cloned();
    if response.is_some() == merge.is_some() {
        return Err("replace needs one of response, merge".into());
    }
    Ok(Box::new(move |req, real| {
        if step_of(&req.url) != step || when.is_some_and(|w| u64::from(real.status) != w) {
            return Ok(real);
        }
        let real_json: Value = serde_json::from_slice(&real.body).unwrap_or(Value::Null);
        if let Some(m) = &merge {
            let mut v = real_json.clone();
            let o = v.as_object_mut().ok_or("merge into a non-object answer")?;
            for (k, x) in m.as_object().ok_or("merge must be an object")? {
                o.insert(k.clone(), x.clone());
            }
            let mut out = HttpResponse::new(real.status, v.to_string().into_bytes())
                .with_content_type("application/json");
            for (n, x) in &real.headers {
                out = out.with_header(n, x.clone());
            }
            return Ok(out);
        }
        let r = response.as_ref().unwrap();
        check_members(
            r,
            &["status", "content_type", "headers", "body"],
            "replace.response",
        )?;
        let status = r["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .ok_or("response.status")?;
        let body = match &r["body"] {
            Value::String(s) => s.clone().into_bytes(),
            Value::Null => Vec::new(),
            other => from_real(other, &real_json)?.to_string().into_bytes(),
        };
        let mut out = HttpResponse::new(status, body);
        if let Some(ct) = r.get("content_type").and_then(Value::as_str) {
            out = out.with_content_type(ct);
        }
        if let Some(hs) = r.get("headers").and_then(Value::as_object) {
            for (n, x) in hs {
                out = out.with_header(n, x.as_str().ok_or("response.headers values")?);
            }
        }
        Ok(out)
    }))
}

fn edit_redirect(loc: &str, edit: &Value) -> Result<String, String> {
    check_members(edit, &["set", "remove"], "redirect")?;
    let (base, q) = loc.split_once('?').ok_or("the redirect has no query")?;
    let mut params: Vec<(String, String)> =
        form_urlencoded::parse(q.as_bytes()).into_owned().collect();
    if let Some(r) = edit.get("remove").and_then(Value::as_array) {
        params.retain(|(k, _)| !r.iter().any(|x| x.as_str() == Some(k)));
    }
    if let Some(s) = edit.get("set").and_then(Value::as_object) {
        for (k, v) in s {
            let v = v.as_str().ok_or("redirect.set values")?.to_owned();
            match params.iter_mut().find(|(pk, _)| pk == k) {
                Some(p) => p.1 = v,
                None => params.push((k.clone(), v)),
            }
        }
    }
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        s.append_pair(k, v);
    }
    Ok(format!("{base}?{}", s.finish()))
}

/// Runs a `flow` fixture (or its control): `Ok(())` or the error code and message.
fn run_flow(f: &Value) -> Result<Result<(), (String, String)>, String> {
    let rig = Rig::new(&json!({}), true)?;
    let issuer = rig.at(0);
    let grant = match f["grant"].as_str() {
        Some("pre_authorized") => OfferGrant::PreAuthorized {
            tx_code_digits: None,
            tx_code_description: None,
        },
        Some("authorization_code") => OfferGrant::AuthorizationCode,
        other => return Err(format!("grant {other:?}")),
    };
    let mut req = OfferRequest::new(vec!["pid".into()], pid_claims(), grant);
    if f.get("by_reference")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        req = req.by_reference();
    }
    let offer = issuer.create_offer(&req).map_err(|e| e.to_string())?;
    let lb = Arc::new(Loopback {
        issuer,
        rewrite: make_rewrite(f.get("replace").unwrap_or(&Value::Null))?,
        failure: Mutex::new(None),
    });
    let fetcher = Fetcher::new(lb.clone());
    let keys: Arc<dyn KeyManager> = Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom)));
    let clock = FixedClock(NOW);
    let env = Env::new(&keys, None, &clock, &OsRandom);
    let mut options = IssuanceOptions::default();
    options.count = usize::try_from(f.get("count").and_then(Value::as_u64).unwrap_or(1)).unwrap();
    let redirect = f.get("redirect").cloned().unwrap_or(Value::Null);
    let browser_lb = lb.clone();
    let mut browser = move |url: &str| -> credkit::Result<String> {
        let resp = browser_lb.dispatch(&HttpRequest::get(url));
        let loc = resp.location.clone().unwrap_or_default();
        if redirect.is_null() {
            return Ok(loc);
        }
        Ok(edit_redirect(&loc, &redirect).unwrap_or_else(|e| panic!("{e}")))
    };
    let result = Issuance::from_offer_uri(&offer.uri, options)
        .and_then(|mut flow| run(&mut flow, &fetcher, &env, &mut browser, &mut |_| {}));
    if let Some(e) = lb.failure.lock().unwrap().take() {
        return Err(e);
    }
    Ok(match result {
        Ok(issued) => {
            if issued.credentials.is_empty() {
                return Err("a flow without credentials".into());
            }
            Ok(())
        }
        Err(e) => Err((e.code().to_owned(), e.to_string())),
    })
}

/// Runs one wallet input: `Ok(Ok(()))` when accepted, `Ok(Err((code, message)))` when
/// refused, `Err` for a malformed fixture.
fn run_wallet(f: &Value) -> Result<Result<(), (String, String)>, String> {
    let err = |e: credkit::Error| (e.code().to_owned(), e.to_string());
    Ok(match f["kind"].as_str() {
        Some("offer_uri") => {
            let uri = f["input"].as_str().ok_or("input must be a string")?;
            let mut options = IssuanceOptions::default();
            if let Some(o) = f.get("options") {
                check_members(o, &["tx_code", "count"], "options")?;
                options.tx_code = o.get("tx_code").and_then(Value::as_str).map(Secret::new);
                if let Some(c) = o.get("count").and_then(Value::as_u64) {
                    options.count = usize::try_from(c).unwrap();
                }
            }
            Issuance::from_offer_uri(uri, options)
                .map(|_| ())
                .map_err(err)
        }
        Some("offer_json") => CredentialOffer::from_json(f["input"].to_string().as_bytes())
            .map(|_| ())
            .map_err(err),
        Some("issuer_metadata") => {
            let id = f["fetched_for"].as_str().ok_or("fetched_for")?;
            IssuerMetadata::from_json(f["document"].to_string().as_bytes(), id)
                .and_then(|md| {
                    if let Some(c) = f.get("configuration").and_then(Value::as_str) {
                        md.configuration(c)?;
                    }
                    if let Some(h) = f.get("authorization_server_hint") {
                        md.authorization_server(h.as_str())?;
                    }
                    Ok(())
                })
                .map_err(err)
        }
        Some("as_metadata") => {
            let id = f["fetched_for"].as_str().ok_or("fetched_for")?;
            AuthServerMetadata::from_json(f["document"].to_string().as_bytes(), id)
                .map(|_| ())
                .map_err(err)
        }
        Some("flow") => run_flow(f)?,
        other => return Err(format!("unknown wallet kind {other:?}")),
    })
}

const WALLET_MEMBERS: [&str; 20] = [
    "row",
    "threat",
    "source",
    "role",
    "kind",
    "input",
    "options",
    "fetched_for",
    "document",
    "configuration",
    "authorization_server_hint",
    "grant",
    "by_reference",
    "count",
    "replace",
    "redirect",
    "expected",
    "message_excludes",
    "control",
    "known_bug",
];

fn check_wallet(f: &Value) -> Result<Option<String>, String> {
    check_members(f, &WALLET_MEMBERS, "the fixture")?;
    let expected = f["expected"]
        .as_str()
        .ok_or("expected must be an error code")?;
    let (got, message) = match run_wallet(f)? {
        Ok(()) => ("ok".to_owned(), String::new()),
        Err((code, message)) => (code, message),
    };
    let mut note = None;
    match known_bug(f, &got, expected)? {
        Some(n) => note = Some(n),
        None if got != expected => {
            return Err(format!("expected {expected}, got {got}: {message}"));
        }
        None => {}
    }
    if let Some(ex) = f.get("message_excludes") {
        for s in ex.as_array().ok_or("message_excludes")? {
            let s = s.as_str().ok_or("message_excludes")?;
            if message.contains(s) {
                return Err(format!("the error text holds {s:?}: {message:?}"));
            }
        }
    }
    if let Some(c) = f.get("control") {
        let over = c.as_object().ok_or("control must be an object")?;
        let mut input = f.as_object().unwrap().clone();
        input.remove("control");
        for (k, v) in over {
            if !WALLET_MEMBERS.contains(&k.as_str())
                || ["row", "expected", "control"].contains(&k.as_str())
            {
                return Err(format!("control cannot set {k:?}"));
            }
            input.insert(k.clone(), v.clone());
        }
        if let Err((code, message)) = run_wallet(&Value::Object(input))? {
            return Err(format!("control must be accepted, got {code}: {message}"));
        }
    }
    Ok(note)
}

// =============================================================================================
// Runner
// =============================================================================================

fn check_members(v: &Value, allowed: &[&str], what: &str) -> Result<(), String> {
    let m = v.as_object().ok_or(format!("{what} must be an object"))?;
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown member {k:?} in {what}")),
        None => Ok(()),
    }
}

fn check_fixture(f: &Value, notes: &Mutex<Vec<String>>) -> Result<(), String> {
    for m in ["threat", "source"] {
        if f[m].as_str().is_none_or(str::is_empty) {
            return Err(format!("{m} is required"));
        }
    }
    let note = match (f["role"].as_str(), f["kind"].as_str()) {
        (Some("wallet"), _) => check_wallet(f)?,
        (Some("issuer"), Some("requests")) => check_issuer(f)?,
        (role, kind) => return Err(format!("role {role:?} with kind {kind:?}")),
    };
    if let Some(n) = note {
        notes.lock().unwrap().push(n);
    }
    Ok(())
}

fn fixture_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("test-vectors/attacks/ missing")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(PREFIX))
        })
        .collect();
    paths.sort();
    paths
}

#[test]
fn oid4vci_fixtures() {
    let paths = fixture_paths();
    let notes = Mutex::new(Vec::new());
    let mut failures = common::replay_fixtures(&paths, |f| check_fixture(f, &notes));
    if paths.len() < EXPECTED_FIXTURES {
        failures.push(format!(
            "only {} {PREFIX}* fixtures in {}, expected at least {EXPECTED_FIXTURES}",
            paths.len(),
            fixture_dir().display()
        ));
    }
    for n in notes.lock().unwrap().iter() {
        eprintln!("{n}");
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) with {} OpenID4VCI fixtures:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );
}
