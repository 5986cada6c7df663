//! The PID flow: an issuer issues an EU-style Person Identification Data credential, the
//! wallet verifies and keeps it, a bar's verifier asks for "over 18" and nationality, and
//! learns exactly that.
//!
//! Run with `cargo run --example pid_flow`.
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use credkit::crypto::default_provider;
use credkit::jose::Algorithm;
use credkit::rand::OsRandom;
use credkit::sd_jwt::{Credential, KeyBindingPolicy, SdJwtBuilder, StaticIssuerKeys, Verifier};
use credkit::time::{Clock, SystemClock};
use serde_json::json;

fn main() -> Result<(), credkit::Error> {
    let provider = default_provider();
    let now = SystemClock.now();

    // --- Issuer (e.g. a national PID provider) --------------------------------------------
    let issuer_key = provider.generate(Algorithm::Es256, &OsRandom)?;
    let issuer = provider.signer(&issuer_key)?;

    // --- Wallet: its key lives in the secure element; here a software key stands in -------
    let holder_key = provider.generate(Algorithm::Es256, &OsRandom)?;
    let holder = provider.signer(&holder_key)?;

    // PID claims after the ARF PID rulebook's SD-JWT VC encoding.
    let claims = json!({
        "iss": "https://pid-issuer.example.eu",
        "vct": "urn:eudi:pid:1",
        "iat": now - 60,
        "exp": now + 90 * 24 * 3600,
        "family_name": "Mustermann",
        "given_name": "Erika",
        "birthdate": "1984-01-26",
        "place_of_birth": { "locality": "Berlin", "country": "DE" },
        "nationalities": ["DE"],
        "address": {
            "street_address": "Heidestraße 17",
            "locality": "Köln",
            "postal_code": "51147",
            "country": "DE"
        },
        "age_equal_or_over": { "16": true, "18": true, "21": true, "65": false },
        "age_in_years": 42,
        "age_birth_year": 1984,
        "issuing_authority": "DE",
        "issuing_country": "DE"
    });
    let mut builder = SdJwtBuilder::new(claims.as_object().cloned().unwrap_or_default())
        .typ(Some("dc+sd-jwt"))
        .holder_key(holder_key.public().clone())
        .decoys(3);
    for pointer in [
        "/family_name",
        "/given_name",
        "/birthdate",
        "/place_of_birth",
        "/nationalities",
        "/address",
        "/address/street_address",
        "/address/locality",
        "/address/postal_code",
        "/address/country",
        "/age_equal_or_over/16",
        "/age_equal_or_over/18",
        "/age_equal_or_over/21",
        "/age_equal_or_over/65",
        "/age_in_years",
        "/age_birth_year",
    ] {
        builder = builder.disclose(pointer)?;
    }
    let issued = builder.issue(&*issuer, &OsRandom)?.to_string();
    println!("issuer: issued a PID of {} bytes", issued.len());

    // --- Wallet: verify before accepting (RFC 9901 §7.2), then keep -------------------------
    let trusted = Arc::new(StaticIssuerKeys::single(issuer_key.public(), provider)?);
    let wallet_check = Verifier::builder_with_clock(trusted.clone(), Arc::new(SystemClock))
        .expect_typ(&["dc+sd-jwt"])
        .key_binding(KeyBindingPolicy::Forbidden)
        .build()?;
    let credential = Credential::receive(&issued, &wallet_check)?;
    println!(
        "wallet: verified and stored; {} claims can be disclosed one by one",
        credential.disclosable_claims().len()
    );

    // --- Verifier asks: over 18? nationality? -----------------------------------------------
    let nonce = "b4b2b0b3-8f2c-4b0e-9d3b";
    let audience = "https://bar.example";
    let request = ["/age_equal_or_over/18", "/nationalities"];
    println!("verifier {audience} asks for {request:?}");

    // --- Wallet: the user consents; present exactly that, bound to the verifier's nonce -----
    let presentation = credential.present(&request)?.with_key_binding(
        &*holder,
        audience,
        nonce,
        SystemClock.now(),
    )?;

    // --- Verifier: check everything, learn only what was disclosed --------------------------
    let verifier = Verifier::builder_with_clock(trusted, Arc::new(SystemClock))
        .expect_typ(&["dc+sd-jwt"])
        .require_key_binding(audience, nonce)
        .require_claims(&["exp"])
        .build()?;
    let verified = verifier.verify(&presentation)?;
    let learned: Vec<String> = verified.disclosed.clone();
    println!("verifier learned (selectively disclosed): {learned:?}");
    println!(
        "  over 18: {}, nationalities: {}",
        verified
            .claims
            .get("age_equal_or_over")
            .and_then(|a| a.get("18"))
            .unwrap_or(&serde_json::Value::Null),
        verified
            .claims
            .get("nationalities")
            .unwrap_or(&serde_json::Value::Null)
    );
    let hidden: Vec<String> = credential
        .disclosable_claims()
        .into_iter()
        .map(|c| c.pointer)
        .filter(|p| !learned.contains(p))
        .collect();
    println!("stayed hidden in the wallet: {hidden:?}");
    println!(
        "always visible: iss, vct, iat, exp, cnf, issuing_authority, issuing_country; key binding: aud {} nonce {}",
        verified
            .key_binding
            .as_ref()
            .map_or("-", |k| k.audience.as_str()),
        verified
            .key_binding
            .as_ref()
            .map_or("-", |k| k.nonce.as_str()),
    );
    Ok(())
}
