//! The PID flow: a national PID provider issues an EU Person Identification Data credential
//! (SD-JWT VC, `urn:eudi:pid:1`), the wallet verifies it against the provider's key and the
//! type's metadata and keeps it, a bar's verifier asks for "over 18" and nationality — the
//! wallet shows the user exactly what would be revealed — and the bar learns exactly that.
//! Then the provider revokes the PID through its Token Status List, and the next check sees
//! it, without the provider learning who checked which credential.
//!
//! Run with `cargo run --example pid_flow`.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use credkit::crypto::default_provider;
use credkit::http::{FetchPolicy, Fetcher, HttpClient, HttpResponse, HttpsUrl};
use credkit::jose::Algorithm;
use credkit::rand::OsRandom;
use credkit::sd_jwt::{KeyBindingPolicy, StaticIssuerKeys};
use credkit::sd_jwt_vc::pid::{Address, DisclosedPid, Pid, PlaceOfBirth};
use credkit::sd_jwt_vc::type_metadata::{LocalTypeMetadata, TypeMetadataResolver};
use credkit::sd_jwt_vc::{TrustPolicy, TypeMetadataPolicy, VcVerifier};
use credkit::status_list::{Bits, IssuerStatusList, Status, StatusChecker};
use credkit::time::{Clock, SystemClock};

/// The PID type's metadata (labels, `sd` and `mandatory` rules), bundled with the app.
const PID_TYPE_METADATA: &str = include_str!("data/pid-type-metadata.json");
const PID_ISSUER: &str = "https://pid-provider.example.eu";
const STATUS_URI: &str = "https://pid-provider.example.eu/status/7";

/// The provider's web server, in memory: what it publishes, relying parties fetch. (Apps plug
/// their own network stack in the same way; the `http` feature brings a ureq-based client.)
#[derive(Debug, Default)]
struct Web(Mutex<HashMap<String, String>>);

impl Web {
    fn publish(&self, uri: &str, body: String) {
        if let Ok(mut w) = self.0.lock() {
            w.insert(uri.to_owned(), body);
        }
    }
}

impl HttpClient for Web {
    fn get(&self, url: &HttpsUrl, _policy: &FetchPolicy) -> Result<HttpResponse, credkit::Error> {
        let body = self
            .0
            .lock()
            .ok()
            .and_then(|w| w.get(url.as_str()).cloned());
        Ok(match body {
            Some(b) => HttpResponse::new(200, b.into_bytes()),
            None => HttpResponse::new(404, Vec::new()),
        })
    }
}

fn main() -> Result<(), credkit::Error> {
    let provider = default_provider();
    let now = SystemClock.now();

    // --- Issuer: a national PID provider ---------------------------------------------------
    let issuer_key = provider.generate(Algorithm::Es256, &OsRandom)?;
    let issuer = provider.signer(&issuer_key)?;

    // --- Wallet: its key lives in the secure element; a software key stands in here --------
    let holder_key = provider.generate(Algorithm::Es256, &OsRandom)?;
    let holder = provider.signer(&holder_key)?;

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
    let mut status_list = IssuerStatusList::new(STATUS_URI, Bits::new(2)?, 100_000)?;
    let (idx, status_claim) = status_list.allocate(&OsRandom)?;
    web.publish(
        STATUS_URI,
        status_list.sign_jwt(now, 300, 86_400, &*issuer)?,
    );

    // Every claim individually disclosable (PID_21), the type's sd/mandatory rules applied,
    // technical validity of two weeks, bound to the wallet's key, with its status entry.
    let issued = pid
        .builder()?
        .issuer(PID_ISSUER)
        .status(status_claim)
        .issued_at(now)
        .expires_at(now + 14 * 24 * 3600)
        .holder_key(holder_key.public().clone())
        .type_metadata(pid_type)
        .decoys(2)
        .issue(&*issuer, &OsRandom)?
        .to_string();
    println!("issuer: issued a PID (dc+sd-jwt) of {} bytes", issued.len());

    // --- Wallet: verify before accepting (RFC 9901 §7.2, SD-JWT VC §2.4), then keep ---------
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
    let stored = wallet_check.receive(&issued)?;
    println!(
        "wallet: verified and stored; {} claims can be disclosed one by one",
        stored.credential.disclosable_claims().len()
    );

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
    let presentation = preview.with_key_binding(&*holder, audience, nonce, SystemClock.now())?;

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
    status_list.set(idx, Status::Invalid)?;
    web.publish(
        STATUS_URI,
        status_list.sign_jwt(now, 300, 86_400, &*issuer)?,
    );
    // A checker whose cached copy has expired (here: a new one) sees the revocation.
    let later = StatusChecker::new(Fetcher::new(web), trust);
    let status = later.check(&verified)?;
    println!(
        "after the provider revoked entry {idx} of {} entries: {status} -> {}",
        status_list.list().capacity(),
        status
            .require_valid()
            .err()
            .map_or_else(|| "accepted".to_owned(), |e| e.code().to_owned())
    );
    Ok(())
}
