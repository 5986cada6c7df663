//! The EU Person Identification Data (PID) in its SD-JWT VC encoding, as the PID Rulebook
//! (eudi-doc-attestation-rulebooks-catalog, PID Rulebook v1.4, chapter 4; ARF Annex 2
//! PID_14–PID_21) defines it.
//!
//! - [`Pid`] is what a PID Provider issues: the mandatory attributes of CIR 2024/2977 Table 1
//!   and metadata of Table 5 are required fields, the optional ones are `Option`s.
//! - [`Pid::builder`] returns a [`VcBuilder`] with `vct` `urn:eudi:pid:1` and **every** claim
//!   individually selectively disclosable (PID_21): each top-level claim, each member of
//!   `address` and `place_of_birth`, each `nationalities` entry, each `age_equal_or_over`
//!   entry.
//! - [`DisclosedPid`] reads what a presentation disclosed: every field optional.
//!
//! The age claims (`age_equal_or_over`, `age_in_years`, `age_birth_year`) were removed from
//! the PID by Rulebook v1.1 (age proofs moved to a separate attestation) but are still issued
//! by national providers; they are kept here as optional fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{IssuanceError, Result, VcError};
use crate::sd_jwt_vc::{VcBuilder, Vct};

/// The base PID type (PID_14). National types extend it (e.g. `urn:eudi:pid:de:1`).
pub const PID_VCT: &str = "urn:eudi:pid:1";

/// Place of birth: at least one member is present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOfBirth {
    /// ISO 3166-1 alpha-2 country code.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub country: Option<String>,
    /// State, province, region.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub region: Option<String>,
    /// City or town.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub locality: Option<String>,
}

impl PlaceOfBirth {
    /// A place of birth by locality and country.
    #[must_use]
    pub fn new(locality: Option<&str>, region: Option<&str>, country: Option<&str>) -> Self {
        Self {
            country: country.map(str::to_owned),
            region: region.map(str::to_owned),
            locality: locality.map(str::to_owned),
        }
    }
}

/// Resident address (OpenID Connect `address` with the rulebook's `house_number`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub formatted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub street_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub house_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub locality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub country: Option<String>,
}

/// A PID as a provider issues it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pid {
    /// Current family name(s).
    pub family_name: String,
    /// Current given name(s).
    pub given_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub birthdate: String,
    /// Place of birth.
    pub place_of_birth: PlaceOfBirth,
    /// ISO 3166-1 alpha-2 codes.
    pub nationalities: Vec<String>,
    /// Resident address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<Address>,
    /// National personal administrative number.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub personal_administrative_number: Option<String>,
    /// Facial image as a `data:image/jpeg;base64,...` URL.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub picture: Option<String>,
    /// Family name(s) at birth.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub birth_family_name: Option<String>,
    /// Given name(s) at birth.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub birth_given_name: Option<String>,
    /// ISO/IEC 5218 code (0, 1, 2, 3, 4, 5, 6, 9).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sex: Option<u8>,
    /// E-mail address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    /// Mobile phone number, `+` and digits.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phone_number: Option<String>,
    /// Age statements, keyed by age (legacy, see the module docs).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub age_equal_or_over: BTreeMap<String, bool>,
    /// Age in years (legacy).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub age_in_years: Option<u32>,
    /// Year of birth (legacy).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub age_birth_year: Option<u32>,
    /// Administrative expiry of the PID, `YYYY-MM-DD`.
    pub date_of_expiry: String,
    /// Administrative issuance date, `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub date_of_issuance: Option<String>,
    /// Name of the issuing authority, or its ISO 3166-1 alpha-2 code.
    pub issuing_authority: String,
    /// ISO 3166-1 alpha-2 code of the issuing country.
    pub issuing_country: String,
    /// ISO 3166-2 code of the issuing jurisdiction.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub issuing_jurisdiction: Option<String>,
    /// Number of the PID's administrative document.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub document_number: Option<String>,
    /// URL of a trust anchor for verifying the PID.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trust_anchor: Option<String>,
}

/// Whether `s` is a `YYYY-MM-DD` date with a valid month and day.
fn is_full_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    if !s
        .chars()
        .enumerate()
        .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn is_alpha2(s: &str) -> bool {
    s.len() == 2 && s.chars().all(|c| c.is_ascii_uppercase())
}

impl Pid {
    /// Checks the rulebook's value rules.
    ///
    /// # Errors
    /// `invalid_claims` naming the first rule broken.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: &str| -> crate::Error {
            IssuanceError::InvalidClaims(format!("PID: {why}")).into()
        };
        if self.family_name.is_empty() || self.given_name.is_empty() {
            return Err(bad("family_name and given_name are required"));
        }
        if !is_full_date(&self.birthdate) {
            return Err(bad("birthdate must be YYYY-MM-DD"));
        }
        let p = &self.place_of_birth;
        if p.country.is_none() && p.region.is_none() && p.locality.is_none() {
            return Err(bad(
                "place_of_birth needs at least one of country, region, locality",
            ));
        }
        if p.country.as_deref().is_some_and(|c| !is_alpha2(c)) {
            return Err(bad("place_of_birth.country must be ISO 3166-1 alpha-2"));
        }
        if self.nationalities.is_empty() || !self.nationalities.iter().all(|n| is_alpha2(n)) {
            return Err(bad(
                "nationalities must be a non-empty list of ISO 3166-1 alpha-2 codes",
            ));
        }
        if !is_alpha2(&self.issuing_country) {
            return Err(bad("issuing_country must be ISO 3166-1 alpha-2"));
        }
        if self.issuing_authority.is_empty() {
            return Err(bad("issuing_authority is required"));
        }
        if !is_full_date(&self.date_of_expiry)
            || self
                .date_of_issuance
                .as_deref()
                .is_some_and(|d| !is_full_date(d))
        {
            return Err(bad(
                "date_of_expiry and date_of_issuance must be YYYY-MM-DD",
            ));
        }
        if self.sex.is_some_and(|s| !matches!(s, 0..=6 | 9)) {
            return Err(bad("sex must be an ISO/IEC 5218 code"));
        }
        if self.phone_number.as_deref().is_some_and(|n| {
            !(n.starts_with('+') && n.len() > 1 && n.chars().skip(1).all(|c| c.is_ascii_digit()))
        }) {
            return Err(bad("phone_number must be + followed by digits"));
        }
        if self
            .picture
            .as_deref()
            .is_some_and(|p| !p.starts_with("data:"))
        {
            return Err(bad("picture must be a data: URL"));
        }
        if self
            .age_equal_or_over
            .keys()
            .any(|k| k.parse::<u8>().is_err())
        {
            return Err(bad("age_equal_or_over keys must be ages"));
        }
        Ok(())
    }

    /// The claims of the credential.
    ///
    /// # Errors
    /// As [`Pid::validate`].
    pub fn to_claims(&self) -> Result<Map<String, Value>> {
        self.validate()?;
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(IssuanceError::InvalidClaims("PID: not serializable".into()).into()),
        }
    }

    /// A builder for this PID, `vct` [`PID_VCT`], every claim individually selectively
    /// disclosable (PID_21). Set `iss`, validity, `cnf` and `status` on the builder.
    ///
    /// # Errors
    /// As [`Pid::validate`].
    pub fn builder(&self) -> Result<VcBuilder> {
        self.builder_for(Vct::new(PID_VCT)?)
    }

    /// As [`Pid::builder`] for a national PID type extending `urn:eudi:pid:1`.
    ///
    /// # Errors
    /// As [`Pid::validate`]; `vct_invalid` for a type outside `urn:eudi:pid:`.
    pub fn builder_for(&self, vct: Vct) -> Result<VcBuilder> {
        if !vct.as_str().starts_with("urn:eudi:pid:") {
            return Err(
                VcError::VctInvalid("a PID type is in the urn:eudi:pid: namespace".into()).into(),
            );
        }
        Ok(VcBuilder::new(vct, self.to_claims()?).disclose_all_claims())
    }
}

/// What a PID presentation disclosed: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct DisclosedPid {
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub birthdate: Option<String>,
    pub place_of_birth: Option<PlaceOfBirth>,
    pub nationalities: Option<Vec<String>>,
    pub address: Option<Address>,
    pub personal_administrative_number: Option<String>,
    pub picture: Option<String>,
    pub birth_family_name: Option<String>,
    pub birth_given_name: Option<String>,
    pub sex: Option<u8>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    #[serde(default)]
    pub age_equal_or_over: BTreeMap<String, bool>,
    pub age_in_years: Option<u32>,
    pub age_birth_year: Option<u32>,
    pub date_of_expiry: Option<String>,
    pub date_of_issuance: Option<String>,
    pub issuing_authority: Option<String>,
    pub issuing_country: Option<String>,
    pub issuing_jurisdiction: Option<String>,
    pub document_number: Option<String>,
    pub trust_anchor: Option<String>,
}

impl DisclosedPid {
    /// Reads the disclosed PID claims of a verified credential; other claims are ignored.
    ///
    /// # Errors
    /// `vc_claim_invalid` when a PID claim has the wrong JSON type.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Self> {
        serde_json::from_value(Value::Object(claims.clone())).map_err(|_| {
            VcError::ClaimInvalid {
                name: "PID",
                reason: "a PID claim has the wrong type",
            }
            .into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(is_full_date("1964-08-12"));
        assert!(is_full_date("2000-02-29"));
        assert!(!is_full_date("1900-02-29"));
        assert!(!is_full_date("1964-13-01"));
        assert!(!is_full_date("1964-8-12"));
        assert!(!is_full_date("1964-08-1x"));
        assert!(!is_full_date("+964-08-12"));
    }
}
