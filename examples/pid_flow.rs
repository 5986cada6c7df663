//! The PID flow: a national PID provider issues an EU Person Identification Data credential
//! (SD-JWT VC, `urn:eudi:pid:1`) over OpenID4VCI 1.0 (a pre-authorized offer with a
//! transaction code, DPoP-bound tokens, a key proof per copy), the wallet verifies it against
//! the provider's key and the type's metadata and keeps it, a bar's verifier asks for "over 18" and nationality — the
//! wallet shows the user exactly what would be revealed — and the bar learns exactly that.
//! Then the provider revokes the PID through its Token Status List, and the next check sees
//! it, without the provider learning who checked which credential.
//!
//! Run with `cargo run --example pid_flow`.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use credkit::crypto::default_provider;
use credkit::http::{FetchPolicy, Fetcher, HttpClient, HttpRequest, HttpResponse, HttpsUrl};
use credkit::jose::Algorithm;
use credkit::oauth::store::MemoryStateStore;
use credkit::openid4vci::issuer::{
    CredentialFactory, Issuer, IssuerConfig, IssuerRequest, OfferGrant, OfferRequest,
    SdJwtVcConfiguration,
};
use credkit::openid4vci::wallet::{Env, Issuance, IssuanceOptions, run};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{KeyBindingPolicy, StaticIssuerKeys};
use credkit::sd_jwt_vc::pid::{Address, DisclosedPid, Pid, PlaceOfBirth};
use credkit::sd_jwt_vc::type_metadata::{
    LocalTypeMetadata, ResolvedTypeMetadata, TypeMetadataResolver,
};
use credkit::sd_jwt_vc::{TrustPolicy, TypeMetadataPolicy, VcBuilder, VcVerifier, Vct};
use credkit::status_list::{Bits, IssuerStatusList, Status, StatusChecker};
use credkit::time::{Clock, SystemClock};
use credkit::wallet::{KeyManager, ManagedKey, MemoryStore, SoftwareKeyManager, Wallet};
use serde_json::{Map, Value};

/// The PID type's metadata (labels, `sd` and `mandatory` rules), bundled with the app.
const PID_TYPE_METADATA: &str = include_str!("data/pid-type-metadata.json");
const PID_ISSUER: &str = "https://pid-provider.example.eu";
const STATUS_URI: &str = "https://pid-provider.example.eu/status/7";

/// The provider's web server, in memory: the documents it publishes (its status list) and
/// its OpenID4VCI endpoints. (Apps plug their own network stack in the same way; the `http`
/// feature brings a ureq-based client, and `credkit-server` serves the issuer over HTTPS.)
#[derive(Debug, Default)]
struct Web {
    documents: Mutex<HashMap<String, String>>,
    issuer: OnceLock<Issuer>,
}

impl Web {
    fn publish(&self, uri: &str, body: String) {
        if let Ok(mut w) = self.documents.lock() {
            w.insert(uri.to_owned(), body);
        }
    }
}

impl HttpClient for Web {
    fn get(&self, url: &HttpsUrl, policy: &FetchPolicy) -> Result<HttpResponse, credkit::Error> {
        let body = self
            .documents
            .lock()
            .ok()
            .and_then(|w| w.get(url.as_str()).cloned());
        match body {
            Some(b) => Ok(HttpResponse::new(200, b.into_bytes())),
            None => self.send(&HttpRequest::get(url.as_str()), url, policy),
        }
    }

    fn send(
        &self,
        request: &HttpRequest,
        url: &HttpsUrl,
        _policy: &FetchPolicy,
    ) -> Result<HttpResponse, credkit::Error> {
        let Some(issuer) = self.issuer.get() else {
            return Ok(HttpResponse::new(404, Vec::new()));
        };
        let target = url.path_and_query();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let answer = issuer.handle(&IssuerRequest::new(
            request.method,
            path,
            query,
            &request.headers,
            &request.body,
        ));
        let mut response = HttpResponse::new(answer.status, answer.body.clone());
        for (name, value) in &answer.headers {
            response = match name.to_ascii_lowercase().as_str() {
                "content-type" => response.with_content_type(value.clone()),
                "location" => response.with_location(value.clone()),
                "cache-control" => response.with_cache_control(value.clone()),
                other => response.with_header(other, value.clone()),
            };
        }
        Ok(response)
    }
}

/// How the provider builds a PID from the data of an offer: the typed PID builder (every
/// claim disclosable), the type's metadata rules, two decoy digests, two weeks of validity.
#[derive(Debug)]
struct PidFactory {
    pid_type: ResolvedTypeMetadata,
}

impl CredentialFactory for PidFactory {
    fn builder(
        &self,
        _configuration: &SdJwtVcConfiguration,
        claims: &Map<String, Value>,
        now: i64,
    ) -> Result<VcBuilder, credkit::Error> {
        let pid: Pid = serde_json::from_value(Value::Object(claims.clone()))
            .map_err(|e| credkit::error::IssuanceError::InvalidClaims(format!("not a PID: {e}")))?;
        Ok(pid
            .builder()?
            .issued_at(now)
            .expires_at(now + 14 * 24 * 3600)
            .type_metadata(self.pid_type.clone())
            .decoys(2))
    }
}

fn main() -> Result<(), credkit::Error> {
    let provider = default_provider();
    let now = SystemClock.now();

    // --- Issuer: a national PID provider ---------------------------------------------------
    let issuer_key = provider.generate(Algorithm::Es256, &OsRandom)?;
    let issuer = provider.signer(&issuer_key)?;

    // The PID rulebook's attributes, validated by the typed helper.
    let mut pid = Pid {
        family_name: "Mustermann".into(),
        given_name: "Erika".into(),
        birthdate: "1984-01-26".into(),
        place_of_birth: PlaceOfBirth::new(Some("Berlin"), None, Some("DE")),
        nationalities: vec!["DE".into()],
        address: Some(Address {
            street_address: Some("Heidestraße 17".into()),
            locality: Some("Köln".into()),
            postal_code: Some("51147".into()),
            country: Some("DE".into()),
            ..Address::default()
        }),
        date_of_expiry: "2036-01-25".into(),
        issuing_authority: "DE".into(),
        issuing_country: "DE".into(),
        ..Pid::default()
    };
    for (age, over) in [("16", true), ("18", true), ("21", true), ("65", false)] {
        pid.age_equal_or_over.insert(age.into(), over);
    }

    let mut types = LocalTypeMetadata::new();
    types.add(PID_TYPE_METADATA)?;
    let types = Arc::new(TypeMetadataResolver::new().with_source(Arc::new(types)));
    let pid_type = types.resolve("urn:eudi:pid:1", None)?;

    // The provider's status list: a random, never reused index per credential.
    let web = Arc::new(Web::default());
    let status_list = Arc::new(Mutex::new(IssuerStatusList::new(
        STATUS_URI,
        Bits::new(2)?,
        100_000,
    )?));
    let publish_status = |web: &Web| -> Result<(), credkit::Error> {
        let list = status_list
            .lock()
            .map_err(|_| credkit::error::WalletError::Storage("status list".into()))?;
        web.publish(STATUS_URI, list.sign_jwt(now, 300, 86_400, &*issuer)?);
        Ok(())
    };
    publish_status(&web)?;

    // The provider's OpenID4VCI issuer (its own authorization server): every credential gets
    // a fresh status index, DPoP-bound tokens, one key proof per copy.
    let vct = Vct::new("urn:eudi:pid:1")?;
    let mut config = IssuerConfig::new(
        PID_ISSUER,
        issuer.clone(),
        vec![SdJwtVcConfiguration::new(
            "eu.europa.ec.eudi.pid_vc_sd_jwt",
            vct,
            "eu.europa.ec.eudi.pid_vc_sd_jwt",
        )],
    )?;
    config.factory = Arc::new(PidFactory { pid_type });
    config.status = Some(status_list.clone());
    let pid_issuer = Issuer::new(
        config,
        Arc::new(MemoryStateStore::new()),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
    );
    let _ = web.issuer.set(pid_issuer.clone());

    // The provider checked the citizen's identity (eID card, in person) and makes an offer;
    // the transaction code goes out by another channel (SMS, letter).
    let Value::Object(pid_claims) = serde_json::to_value(&pid)
        .map_err(|e| credkit::error::IssuanceError::InvalidClaims(e.to_string()))?
    else {
        return Err(credkit::error::IssuanceError::InvalidClaims("PID".into()).into());
    };
    let offer = pid_issuer.create_offer(&OfferRequest::new(
        vec!["eu.europa.ec.eudi.pid_vc_sd_jwt".into()],
        pid_claims,
        OfferGrant::PreAuthorized {
            tx_code_digits: Some(6),
            tx_code_description: Some("the code in the letter from your PID provider".into()),
        },
    ))?;
    println!(
        "issuer: made an offer ({} bytes) and sent its 6-digit transaction code by letter",
        offer.uri.len()
    );

    // --- Wallet: keys live in the secure element (a software key manager stands in here) ---
    // The provider's key is pinned here; production wallets use x5c with the PID providers'
    // trust list (X5cTrust) or the provider's JWT VC Issuer Metadata.
    let trust = Arc::new(TrustPolicy::new().issuer(
        PID_ISSUER,
        Arc::new(StaticIssuerKeys::single(issuer_key.public(), provider)?),
    ));
    let wallet_check = VcVerifier::builder_with_clock(trust.clone(), Arc::new(SystemClock))
        .key_binding(KeyBindingPolicy::Forbidden)
        .accept_vcts(&["urn:eudi:pid:1"])
        .type_metadata(types.clone(), TypeMetadataPolicy::Required)
        .build()?;
    let keys: Arc<dyn KeyManager> = Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom)));
    let wallet = Wallet::new(
        Arc::new(MemoryStore::new()),
        keys.clone(),
        wallet_check.clone(),
    );

    // The user scans the offer and types the code; the wallet runs OpenID4VCI to the end.
    let mut options = IssuanceOptions::default();
    options.tx_code = offer.tx_code.clone();
    let mut flow = Issuance::from_offer_uri(&offer.uri, options)?;
    let fetcher = Fetcher::new(web.clone());
    let env = Env::new(&keys, None, &SystemClock, &OsRandom);
    let received = run(
        &mut flow,
        &fetcher,
        &env,
        &mut |_| {
            Err(credkit::error::Oid4vciError::FlowState(
                "a pre-authorized offer needs no browser".into(),
            )
            .into())
        },
        &mut std::thread::sleep,
    )?;
    // Verify before accepting (RFC 9901 §7.2, SD-JWT VC §2.4), then keep, as one batch.
    let batch = wallet.add_issued(&received)?;
    for notification in flow.notification("credential_accepted", &env)? {
        fetcher.send(&notification)?;
    }
    let issued = received.credentials.first().cloned().unwrap_or_default();
    println!(
        "issuer: issued a PID (dc+sd-jwt) of {} bytes over OpenID4VCI",
        issued.len()
    );
    let stored = wallet_check.receive(&issued)?;
    println!(
        "wallet: verified and stored (batch {batch}); {} claims can be disclosed one by one",
        stored.credential.disclosable_claims().len()
    );
    let holder = ManagedKey::new(
        keys.clone(),
        received.key_ids.first().map_or("", String::as_str),
    )?;
    let idx = stored
        .verified
        .claims()
        .get("status")
        .and_then(|s| s.get("status_list"))
        .and_then(|l| l.get("idx"))
        .and_then(Value::as_u64)
        .unwrap_or_default();

    // --- Verifier asks: over 18? nationality? -----------------------------------------------
    let nonce = "b4b2b0b3-8f2c-4b0e-9d3b";
    let audience = "https://bar.example";
    let request = ["/age_equal_or_over/18", "/nationalities/0"];

    // --- Wallet: the consent screen shows exactly what would be revealed --------------------
    let preview = stored.credential.present(&request)?;
    println!("wallet asks the user: {audience} wants to see");
    for claim in stored.credential.disclosable_claims() {
        if !request.contains(&claim.pointer.as_str()) {
            continue;
        }
        let label = stored
            .verified
            .type_metadata
            .as_ref()
            .and_then(|tm| tm.claim_for(stored.credential.claims(), &claim.pointer))
            .and_then(|c| c.label(&["en"]))
            .map_or(claim.pointer.clone(), |d| d.label.clone());
        println!("  - {label}: {}", claim.value);
    }

    // --- Wallet: the user consents; present exactly that, bound to the verifier's nonce -----
    let presentation = preview.with_key_binding(&holder, audience, nonce, SystemClock.now())?;

    // --- Verifier: check everything, learn only what was disclosed --------------------------
    let verifier = VcVerifier::builder_with_clock(trust.clone(), Arc::new(SystemClock))
        .key_binding(KeyBindingPolicy::Required {
            audience: audience.into(),
            nonce: nonce.into(),
        })
        .accept_vcts(&["urn:eudi:pid:1"])
        .build()?;
    let verified = verifier.verify(&presentation)?;
    let learned = DisclosedPid::from_claims(verified.claims())?;
    println!(
        "verifier learned: over 18 = {:?}, nationalities = {:?}, issued by {:?}",
        learned.age_equal_or_over.get("18"),
        learned.nationalities.unwrap_or_default(),
        verified.issuer.as_deref().unwrap_or("-"),
    );
    println!(
        "verifier did not learn: name {:?}, birthdate {:?}, address {:?}",
        learned.family_name, learned.birthdate, learned.address
    );
    let hidden = stored
        .credential
        .disclosable_claims()
        .into_iter()
        .filter(|c| !verified.sd_jwt.disclosed.contains(&c.pointer))
        .count();
    println!("{hidden} disclosable claims stayed in the wallet");

    // --- Revocation: the verifier checks the status list (fetched once, cached) -------------
    let checker = StatusChecker::new(Fetcher::new(web.clone()), trust.clone());
    println!("status at the bar: {}", checker.check(&verified)?);
    status_list
        .lock()
        .map_err(|_| credkit::error::WalletError::Storage("status list".into()))?
        .set(idx, Status::Invalid)?;
    publish_status(&web)?;
    // A checker whose cached copy has expired (here: a new one) sees the revocation.
    let later = StatusChecker::new(Fetcher::new(web), trust);
    let status = later.check(&verified)?;
    let capacity = status_list
        .lock()
        .map(|l| l.list().capacity())
        .unwrap_or_default();
    println!(
        "after the provider revoked entry {idx} of {capacity} entries: {status} -> {}",
        status
            .require_valid()
            .err()
            .map_or_else(|| "accepted".to_owned(), |e| e.code().to_owned())
    );
    Ok(())
}
