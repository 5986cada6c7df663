//! DCQL (OpenID for Verifiable Presentations 1.0 §6, §7): every DCQL example of the
//! specification parses; each validation rule of §6 rejects with `dcql_invalid`; the Wallet's
//! matching and resolution (claims, `values`, `claim_sets`, `credential_sets`, `multiple`,
//! least disclosure); the Verifier's response check; an issue → match → present → verify →
//! check round trip; and a property: the Wallet never discloses a claim the query did not
//! select.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use credkit::crypto::{Signer, default_provider};
use credkit::dcql::{
    CandidateCredential, DcqlQuery, FORMAT_DC_SD_JWT, Match, PresentedCredential, Selection,
};
use credkit::jose::{Algorithm, PrivateJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{Credential, SdJwtBuilder, StaticIssuerKeys, Verifier, danger};
use credkit::sd_jwt_vc::claim_path::ClaimPath;
use credkit::time::FixedClock;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const PID_VCT: &str = "https://credentials.example.com/identity_credential";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn parse(v: &Value) -> DcqlQuery {
    DcqlQuery::parse(v).unwrap_or_else(|e| panic!("{e}: {v}"))
}

/// Asserts that `v` is rejected with `dcql_invalid` and a message containing `needle`.
fn rejects(v: &Value, needle: &str) {
    let e = DcqlQuery::parse(v).expect_err(&format!("accepted: {v}"));
    assert_eq!(e.code(), "dcql_invalid", "{e}");
    assert!(
        e.to_string().contains(needle),
        "message {:?} lacks {needle:?}",
        e.to_string()
    );
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// A credential in the Wallet, owning what a [`CandidateCredential`] borrows.
#[derive(Clone)]
struct Held {
    id: String,
    format: String,
    vct: String,
    claims: Map<String, Value>,
    disclosable: Vec<String>,
    holder_binding: bool,
    authority_ids: Vec<String>,
}

impl Held {
    /// Every node of `claims` below the top level is selectively disclosable.
    fn new(id: &str, vct: &str, claims: Value) -> Self {
        let claims = obj(claims);
        let mut disclosable = Vec::new();
        for (k, v) in &claims {
            pointers(v, &format!("/{k}"), &mut disclosable);
        }
        Self {
            id: id.into(),
            format: FORMAT_DC_SD_JWT.into(),
            vct: vct.into(),
            claims,
            disclosable,
            holder_binding: true,
            authority_ids: Vec::new(),
        }
    }

    fn candidate(&self) -> CandidateCredential<'_> {
        CandidateCredential {
            id: &self.id,
            format: &self.format,
            vct: &self.vct,
            claims: &self.claims,
            disclosable: &self.disclosable,
            holder_binding: self.holder_binding,
            authority_ids: &self.authority_ids,
        }
    }

    fn presented<'a>(&'a self, disclosed: &'a [String]) -> PresentedCredential<'a> {
        PresentedCredential {
            vct: &self.vct,
            claims: &self.claims,
            disclosed,
            holder_binding: self.holder_binding,
        }
    }
}

/// `at` and every node beneath it.
fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    out.push(at.to_owned());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(c, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn pid_claims() -> Value {
    json!({
        "given_name": "Erika",
        "family_name": "Mustermann",
        "birthdate": "1964-08-12",
        "age_over_18": true,
        "age_in_years": 59,
        "address": {
            "street_address": "Heidestraße 17",
            "locality": "Köln",
            "postal_code": "51147",
            "country": "DE"
        },
        "nationalities": ["DE", "FR"]
    })
}

fn pid(id: &str) -> Held {
    Held::new(id, PID_VCT, pid_claims())
}

fn candidates(held: &[Held]) -> Vec<CandidateCredential<'_>> {
    held.iter().map(Held::candidate).collect()
}

fn one_match(query: &Value, held: &Held) -> Option<Match> {
    let q = parse(query);
    q.credentials()[0].match_candidate(&held.candidate())
}

fn sd_query(claims: Value) -> Value {
    json!({"credentials": [{
        "id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [PID_VCT]}, "claims": claims
    }]})
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn ids(selections: &[Selection]) -> Vec<(&str, &str, bool)> {
    selections
        .iter()
        .map(|s| {
            (
                s.query_id.as_str(),
                s.default.credential_id.as_str(),
                s.required,
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The examples of OpenID4VP 1.0
// ---------------------------------------------------------------------------------------

/// §7.4 "DCQL Examples" (examples/query_lang/simple.json).
fn example_simple() -> Value {
    json!({
      "credentials": [
        {
          "id": "my_credential",
          "format": "dc+sd-jwt",
          "meta": {
            "vct_values": [ "https://credentials.example.com/identity_credential" ]
          },
          "claims": [
              {"path": ["family_name"]},
              {"path": ["given_name"]},
              {"path": ["address", "street_address"]}
          ]
        }
      ]
    })
}

/// §8.3 "Encrypted Responses": the `dcql_query` of the example request.
fn example_encrypted_response_request() -> Value {
    json!({
      "credentials": [
       {
        "id": "my_credential",
        "format": "dc+sd-jwt",
        "meta": {
          "vct_values": ["https://credentials.example.com/identity_credential"]
        },
        "claims": [
          {"path": ["last_name"]},
          {"path": ["first_name"]},
          {"path": ["address", "postal_code"]}
         ]
        }
       ]
    })
}

/// Appendix "Examples for DCQL Queries": an mdoc with `vehicle_holder` and `first_name`
/// (examples/query_lang/simple_mdoc.json).
fn example_simple_mdoc() -> Value {
    json!({
      "credentials": [
        {
          "id": "my_credential",
          "format": "mso_mdoc",
          "meta": {
            "doctype_value": "org.iso.7367.1.mVRC"
          },
          "claims": [
            {"path": ["org.iso.7367.1", "vehicle_holder"]},
            {"path": ["org.iso.18013.5.1", "given_name"]}
          ]
        }
      ]
    })
}

/// Appendix "Examples for DCQL Queries": multiple credentials, all of them to be returned
/// (examples/query_lang/multi_credentials.json).
fn example_multi_credentials() -> Value {
    json!({
      "credentials": [
        {
          "id": "pid",
          "format": "dc+sd-jwt",
          "meta": {
            "vct_values": ["https://credentials.example.com/identity_credential"]
          },
          "claims": [
            {"path": ["given_name"]},
            {"path": ["family_name"]},
            {"path": ["address", "street_address"]}
          ]
        },
        {
          "id": "mdl",
          "format": "mso_mdoc",
          "meta": {
            "doctype_value": "org.iso.7367.1.mVRC"
          },
          "claims": [
            {"path": ["org.iso.7367.1", "vehicle_holder"]},
            {"path": ["org.iso.18013.5.1", "given_name"]}
          ]
        }
      ]
    })
}

/// Appendix "Examples for DCQL Queries": `pid`, or `other_pid`, or both reduced credentials;
/// optionally `nice_to_have` (examples/query_lang/credentials_alternatives.json).
fn example_credentials_alternatives() -> Value {
    json!({
      "credentials": [
        {
          "id": "pid",
          "format": "dc+sd-jwt",
          "meta": {
            "vct_values": ["https://credentials.example.com/identity_credential"]
          },
          "claims": [
            {"path": ["given_name"]},
            {"path": ["family_name"]},
            {"path": ["address", "street_address"]}
          ]
        },
        {
          "id": "other_pid",
          "format": "dc+sd-jwt",
          "meta": {
            "vct_values": ["https://othercredentials.example/pid"]
          },
          "claims": [
            {"path": ["given_name"]},
            {"path": ["family_name"]},
            {"path": ["address", "street_address"]}
          ]
        },
        {
          "id": "pid_reduced_cred_1",
          "format": "dc+sd-jwt",
          "meta": {
            "vct_values": ["https://credentials.example.com/reduced_identity_credential"]
          },
          "claims": [
            {"path": ["family_name"]},
            {"path": ["given_name"]}
          ]
        },
        {
          "id": "pid_reduced_cred_2",
          "format": "dc+sd-jwt",
          "meta": {
            "vct_values": ["https://cred.example/residence_credential"]
          },
          "claims": [
            {"path": ["postal_code"]},
            {"path": ["locality"]},
            {"path": ["region"]}
          ]
        },
        {
          "id": "nice_to_have",
          "format": "dc+sd-jwt",
          "meta": {
            "vct_values": ["https://company.example/company_rewards"]
          },
          "claims": [
            {"path": ["rewards_number"]}
          ]
        }
      ],
      "credential_sets": [
        {
          "options": [
            [ "pid" ],
            [ "other_pid" ],
            [ "pid_reduced_cred_1", "pid_reduced_cred_2" ]
          ]
        },
        {
          "required": false,
          "options": [
            [ "nice_to_have" ]
          ]
        }
      ]
    })
}

/// Appendix "Examples for DCQL Queries": an ID and an optional address, each from an mDL or
/// a photoid (examples/query_lang/complex_mdoc.json).
fn example_complex_mdoc() -> Value {
    json!({
      "credentials": [
        {
          "id": "mdl-id",
          "format": "mso_mdoc",
          "meta": {
            "doctype_value": "org.iso.18013.5.1.mDL"
          },
          "claims": [
            {
              "id": "given_name",
              "path": ["org.iso.18013.5.1", "given_name"]
            },
            {
              "id": "family_name",
              "path": ["org.iso.18013.5.1", "family_name"]
            },
            {
              "id": "portrait",
              "path": ["org.iso.18013.5.1", "portrait"]
            }
          ]
        },
        {
          "id": "mdl-address",
          "format": "mso_mdoc",
          "meta": {
            "doctype_value": "org.iso.18013.5.1.mDL"
          },
          "claims": [
            {
              "id": "resident_address",
              "path": ["org.iso.18013.5.1", "resident_address"]
            },
            {
              "id": "resident_country",
              "path": ["org.iso.18013.5.1", "resident_country"]
            }
          ]
        },
        {
          "id": "photo_card-id",
          "format": "mso_mdoc",
          "meta": {
            "doctype_value": "org.iso.23220.photoid.1"
          },
          "claims": [
            {
              "id": "given_name",
              "path": ["org.iso.18013.5.1", "given_name"]
            },
            {
              "id": "family_name",
              "path": ["org.iso.18013.5.1", "family_name"]
            },
            {
              "id": "portrait",
              "path": ["org.iso.18013.5.1", "portrait"]
            }
          ]
        },
        {
          "id": "photo_card-address",
          "format": "mso_mdoc",
          "meta": {
            "doctype_value": "org.iso.23220.photoid.1"
          },
          "claims": [
            {
              "id": "resident_address",
              "path": ["org.iso.18013.5.1", "resident_address"]
            },
            {
              "id": "resident_country",
              "path": ["org.iso.18013.5.1", "resident_country"]
            }
          ]
        }
      ],
      "credential_sets": [
        {
          "options": [
            [ "mdl-id" ],
            [ "photo_card-id" ]
          ]
        },
        {
          "required": false,
          "options": [
            [ "mdl-address" ],
            [ "photo_card-address" ]
          ]
        }
      ]
    })
}

/// Appendix "Examples for DCQL Queries": `last_name` and `date_of_birth`, and `postal_code`
/// or else `locality` and `region` (examples/query_lang/claims_alternatives.json).
fn example_claims_alternatives() -> Value {
    json!({
      "credentials": [
        {
          "id": "pid",
          "format": "dc+sd-jwt",
          "meta": {
            "vct_values": [ "https://credentials.example.com/identity_credential" ]
          },
          "claims": [
            {"id": "a", "path": ["last_name"]},
            {"id": "b", "path": ["postal_code"]},
            {"id": "c", "path": ["locality"]},
            {"id": "d", "path": ["region"]},
            {"id": "e", "path": ["date_of_birth"]}
          ],
          "claim_sets": [
            ["a", "c", "d", "e"],
            ["a", "b", "e"]
          ]
        }
      ]
    })
}

/// Appendix "Examples for DCQL Queries": `values` constraints on `last_name` and
/// `postal_code` (examples/query_lang/value_matching_simple.json).
fn example_value_matching() -> Value {
    json!({
      "credentials": [
        {
          "id": "my_credential",
          "format": "dc+sd-jwt",
          "meta": {
            "vct_values": [ "https://credentials.example.com/identity_credential" ]
          },
          "claims": [
              {
                "path": ["family_name"],
                "values": ["Doe"]
              },
              {"path": ["given_name"]},
              {"path": ["address", "street_address"]},
              {
                "path": ["postal_code"],
                "values": ["90210", "90211"]
              }
          ]
        }
      ]
    })
}

/// Appendix B "VC signed as a JWT, not using JSON-LD", Presentation Request
/// (examples/request/dcql_jwt_vc.json).
fn example_jwt_vc() -> Value {
    json!({
      "credentials": [
        {
          "id": "example_jwt_vc",
          "format": "jwt_vc_json",
          "meta": {
            "type_values": [["IDCredential"]]
          },
          "claims": [
            {"path": ["credentialSubject", "family_name"]},
            {"path": ["credentialSubject", "given_name"]}
          ]
        }
      ]
    })
}

/// Appendix B "LDP VCs", Presentation Request (examples/request/dcql_ldp_vc.json).
fn example_ldp_vc() -> Value {
    json!({
      "credentials": [
        {
          "id": "example_ldp_vc",
          "format": "ldp_vc",
          "meta": {
            "type_values": [["IDCredential"]]
          },
          "claims": [
            {"path": ["credentialSubject", "family_name"]},
            {"path": ["credentialSubject", "given_name"]},
            {"path": ["credentialSubject", "birthdate"]},
            {"path": ["credentialSubject", "address", "street_address"]},
            {"path": ["credentialSubject", "address", "locality"]},
            {"path": ["credentialSubject", "address", "postal_code"]},
            {"path": ["credentialSubject", "address", "country"]}
          ]
        }
      ]
    })
}

/// §6.1.1 "Trusted Authorities Query": the `aki`, `etsi_tl` and `openid_federation` entries.
fn example_trusted_authorities() -> Value {
    json!([
        {
          "type": "aki",
          "values": ["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]
        },
        {
          "type": "etsi_tl",
          "values": ["https://lotl.example.com"]
        },
        {
          "type": "openid_federation",
          "values": ["https://trustanchor.example.com"]
        }
    ])
}

/// §7.3 "Claims Path Pointer Example": the example credential.
fn example_claims_path_credential() -> Value {
    json!({
      "name": "Arthur Dent",
      "address": {
        "street_address": "42 Market Street",
        "locality": "Milliways",
        "postal_code": "12345"
      },
      "degrees": [
        {
          "type": "Bachelor of Science",
          "university": "University of Betelgeuse"
        },
        {
          "type": "Master of Science",
          "university": "University of Betelgeuse"
        }
      ],
      "nationalities": ["British", "Betelgeusian"]
    })
}

#[test]
fn every_example_of_the_specification_parses() {
    for example in [
        example_simple(),
        example_encrypted_response_request(),
        example_simple_mdoc(),
        example_multi_credentials(),
        example_credentials_alternatives(),
        example_complex_mdoc(),
        example_claims_alternatives(),
        example_value_matching(),
        example_jwt_vc(),
        example_ldp_vc(),
    ] {
        parse(&example);
    }
}

#[test]
fn simple_example_is_read_faithfully() {
    let q = parse(&example_simple());
    assert!(q.credential_sets().is_none());
    let [c] = q.credentials() else {
        panic!("one credential query")
    };
    assert_eq!(c.id, "my_credential");
    assert_eq!(c.format, FORMAT_DC_SD_JWT);
    assert_eq!(c.vct_values, [PID_VCT]);
    assert!(!c.multiple, "multiple defaults to false");
    assert!(
        c.require_cryptographic_holder_binding,
        "holder binding defaults to true"
    );
    assert!(c.trusted_authorities.is_none() && c.claim_sets.is_none());
    let paths: Vec<Value> = c
        .claims
        .as_ref()
        .unwrap()
        .iter()
        .map(|cq| cq.path.to_json())
        .collect();
    assert_eq!(
        paths,
        [
            json!(["family_name"]),
            json!(["given_name"]),
            json!(["address", "street_address"])
        ]
    );
    assert!(q.credential("my_credential").is_some() && q.credential("other").is_none());
}

#[test]
fn alternatives_examples_are_read_faithfully() {
    let q = parse(&example_credentials_alternatives());
    let sets = q.credential_sets().unwrap();
    assert_eq!(sets.len(), 2);
    assert!(sets[0].required, "required defaults to true");
    assert!(!sets[1].required);
    assert_eq!(
        sets[0].options,
        [
            strings(&["pid"]),
            strings(&["other_pid"]),
            strings(&["pid_reduced_cred_1", "pid_reduced_cred_2"])
        ]
    );

    let q = parse(&example_claims_alternatives());
    let c = &q.credentials()[0];
    assert_eq!(
        c.claim_sets.as_ref().unwrap(),
        &[strings(&["a", "c", "d", "e"]), strings(&["a", "b", "e"])]
    );
    assert_eq!(c.claims.as_ref().unwrap()[4].id.as_deref(), Some("e"));

    let q = parse(&example_value_matching());
    let claims = q.credentials()[0].claims.as_ref().unwrap();
    assert_eq!(claims[0].values, Some(vec![json!("Doe")]));
    assert_eq!(claims[3].values, Some(vec![json!("90210"), json!("90211")]));
    assert_eq!(claims[1].values, None);

    let q = parse(&example_simple_mdoc());
    let c = &q.credentials()[0];
    assert_eq!(c.meta["doctype_value"], "org.iso.7367.1.mVRC");
    assert!(c.vct_values.is_empty());
}

#[test]
fn trusted_authorities_examples_parse() {
    let mut query = example_simple();
    query["credentials"][0]["trusted_authorities"] = example_trusted_authorities();
    let q = parse(&query);
    let ta = q.credentials()[0].trusted_authorities.as_ref().unwrap();
    let kinds: Vec<&str> = ta.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["aki", "etsi_tl", "openid_federation"]);
    assert_eq!(ta[0].values, ["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]);
}

#[test]
fn claims_path_pointer_example_selects_as_section_7_3_says() {
    let arthur = Held::new("arthur", PID_VCT, example_claims_path_credential());
    let cases = [
        (json!(["name"]), vec!["/name"]),
        (json!(["address"]), vec!["/address"]),
        (
            json!(["address", "street_address"]),
            vec!["/address/street_address"],
        ),
        (
            json!(["degrees", null, "type"]),
            vec!["/degrees/0/type", "/degrees/1/type"],
        ),
        (json!(["nationalities", 1]), vec!["/nationalities/1"]),
    ];
    for (path, expected) in cases {
        let m = one_match(&sd_query(json!([{ "path": path }])), &arthur)
            .unwrap_or_else(|| panic!("{path} selects nothing"));
        assert_eq!(m.disclose, expected, "{path}");
    }
    // Selecting the whole address reveals it with everything beneath.
    let m = one_match(&sd_query(json!([{"path": ["address"]}])), &arthur).unwrap();
    assert_eq!(
        m.revealed,
        [
            "/address",
            "/address/street_address",
            "/address/locality",
            "/address/postal_code"
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Validation (§6): each rule
// ---------------------------------------------------------------------------------------

/// A valid dc+sd-jwt Credential Query to break one member at a time.
fn base() -> Value {
    json!({
        "id": "pid",
        "format": "dc+sd-jwt",
        "meta": {"vct_values": [PID_VCT]},
        "claims": [{"id": "g", "path": ["given_name"]}, {"id": "f", "path": ["family_name"]}]
    })
}

fn with(key: &str, value: Value) -> Value {
    let mut c = base();
    c[key] = value;
    json!({ "credentials": [c] })
}

fn without(key: &str) -> Value {
    let mut c = base();
    c.as_object_mut().unwrap().remove(key);
    json!({ "credentials": [c] })
}

fn with_claim(claim: Value) -> Value {
    with("claims", json!([claim]))
}

#[test]
fn the_query_and_credentials_are_validated() {
    rejects(&json!([]), "must be a JSON object");
    rejects(&json!({}), "credentials is required");
    rejects(&json!({"credentials": {}}), "credentials must be an array");
    rejects(&json!({"credentials": []}), "credentials must not be empty");
    rejects(
        &json!({"credentials": ["pid"]}),
        "credentials[0] must be an object",
    );
    rejects(
        &json!({"credentials": [base(), base()]}),
        "credentials[1].id \"pid\" is used by more than one Credential Query",
    );
}

#[test]
fn credential_query_ids_are_validated() {
    rejects(&without("id"), "credentials[0].id is required");
    rejects(
        &with("id", json!("")),
        "credentials[0].id must not be empty",
    );
    rejects(&with("id", json!(7)), "credentials[0].id must be a string");
    for bad in ["my credential", "a.b", "pid:1", "pïd", "a/b"] {
        rejects(&with("id", json!(bad)), "may contain only letters, digits");
    }
    for good in ["A-z_09", "-", "_", "x"] {
        parse(&with("id", json!(good)));
    }
}

#[test]
fn format_multiple_and_holder_binding_are_validated() {
    rejects(&without("format"), "credentials[0].format is required");
    rejects(
        &with("format", json!(1)),
        "credentials[0].format must be a string",
    );
    rejects(
        &with("format", json!("")),
        "credentials[0].format must not be empty",
    );
    rejects(
        &with("multiple", json!("true")),
        "credentials[0].multiple must be a boolean",
    );
    rejects(
        &with("multiple", Value::Null),
        "credentials[0].multiple must be a boolean",
    );
    rejects(
        &with("require_cryptographic_holder_binding", json!(0)),
        "credentials[0].require_cryptographic_holder_binding must be a boolean",
    );
    let q = parse(&with("multiple", json!(true)));
    assert!(q.credentials()[0].multiple);
    let q = parse(&with("require_cryptographic_holder_binding", json!(false)));
    assert!(!q.credentials()[0].require_cryptographic_holder_binding);
}

#[test]
fn meta_is_validated_per_format() {
    rejects(&without("meta"), "credentials[0].meta is required");
    rejects(
        &with("meta", json!([])),
        "credentials[0].meta must be an object",
    );
    rejects(
        &with("meta", json!({})),
        "credentials[0].meta.vct_values is required for dc+sd-jwt",
    );
    rejects(
        &with("meta", json!({"vct_values": []})),
        "credentials[0].meta.vct_values must not be empty",
    );
    rejects(
        &with("meta", json!({"vct_values": PID_VCT})),
        "credentials[0].meta.vct_values must be an array",
    );
    rejects(
        &with("meta", json!({"vct_values": [PID_VCT, 1]})),
        "credentials[0].meta.vct_values[1] must be a non-empty string",
    );
    rejects(
        &with("meta", json!({"vct_values": [""]})),
        "credentials[0].meta.vct_values[0] must be a non-empty string",
    );
    // mso_mdoc: doctype_value, and paths of a namespace and an element identifier.
    let mdoc = |meta: Value, claims: Value| json!({"credentials": [{"id": "m", "format": "mso_mdoc", "meta": meta, "claims": claims}]});
    let ok_claims =
        json!([{"path": ["org.iso.18013.5.1", "given_name"], "intent_to_retain": true}]);
    let q = parse(&mdoc(
        json!({"doctype_value": "org.iso.18013.5.1.mDL"}),
        ok_claims.clone(),
    ));
    assert_eq!(
        q.credentials()[0].claims.as_ref().unwrap()[0].intent_to_retain,
        Some(true)
    );
    rejects(
        &mdoc(json!({}), ok_claims.clone()),
        "doctype_value is required for mso_mdoc",
    );
    rejects(
        &mdoc(json!({"doctype_value": 1}), ok_claims),
        "doctype_value must be a non-empty string",
    );
    rejects(
        &mdoc(
            json!({"doctype_value": "org.iso.18013.5.1.mDL"}),
            json!([{"path": ["org.iso.18013.5.1", "given_name", 0]}]),
        ),
        "credentials[0].claims[0].path must be a namespace and a data element identifier",
    );
    rejects(
        &mdoc(
            json!({"doctype_value": "org.iso.18013.5.1.mDL"}),
            json!([{"path": ["org.iso.18013.5.1", "x"], "intent_to_retain": "yes"}]),
        ),
        "credentials[0].claims[0].intent_to_retain must be a boolean",
    );
    // W3C formats: type_values.
    for format in ["jwt_vc_json", "ldp_vc"] {
        let w3c =
            |meta: Value| json!({"credentials": [{"id": "w", "format": format, "meta": meta}]});
        rejects(&w3c(json!({})), "type_values is required");
        rejects(
            &w3c(json!({"type_values": []})),
            "type_values must not be empty",
        );
        rejects(
            &w3c(json!({"type_values": [[]]})),
            "type_values[0] must be a non-empty array of non-empty strings",
        );
        rejects(
            &w3c(json!({"type_values": ["IDCredential"]})),
            "type_values[0] must be a non-empty array of non-empty strings",
        );
    }
    // Unknown formats: any object.
    parse(&json!({"credentials": [{"id": "x", "format": "example_format", "meta": {}}]}));
}

#[test]
fn trusted_authorities_are_validated() {
    let ta = |v: Value| with("trusted_authorities", v);
    rejects(
        &ta(json!([])),
        "credentials[0].trusted_authorities must not be empty",
    );
    rejects(
        &ta(json!({})),
        "credentials[0].trusted_authorities must be an array",
    );
    rejects(
        &ta(json!(["aki"])),
        "credentials[0].trusted_authorities[0] must be an object",
    );
    rejects(
        &ta(json!([{"values": ["x"]}])),
        "credentials[0].trusted_authorities[0].type is required",
    );
    rejects(
        &ta(json!([{"type": 1, "values": ["x"]}])),
        "credentials[0].trusted_authorities[0].type must be a non-empty string",
    );
    rejects(
        &ta(json!([{"type": "aki"}])),
        "credentials[0].trusted_authorities[0].values is required",
    );
    rejects(
        &ta(json!([{"type": "aki", "values": []}])),
        "credentials[0].trusted_authorities[0].values must not be empty",
    );
    rejects(
        &ta(json!([{"type": "aki", "values": ["x", ""]}])),
        "credentials[0].trusted_authorities[0].values[1] must be a non-empty string",
    );
    rejects(
        &ta(json!([{"type": "aki", "values": [1]}])),
        "credentials[0].trusted_authorities[0].values[0] must be a non-empty string",
    );
}

#[test]
fn claims_queries_are_validated() {
    rejects(
        &with("claims", json!([])),
        "credentials[0].claims must not be empty",
    );
    rejects(
        &with("claims", json!({})),
        "credentials[0].claims must be an array",
    );
    rejects(
        &with("claims", json!([["given_name"]])),
        "credentials[0].claims[0] must be an object",
    );
    rejects(
        &with_claim(json!({"id": "g"})),
        "credentials[0].claims[0].path is required",
    );
    rejects(
        &with_claim(json!({"path": []})),
        "credentials[0].claims[0].path: a claim path must not be empty",
    );
    rejects(
        &with_claim(json!({"path": "given_name"})),
        "credentials[0].claims[0].path: a claim path must be an array",
    );
    rejects(
        &with_claim(json!({"path": ["nationalities", -1]})),
        "credentials[0].claims[0].path: a claim path index must be a non-negative integer",
    );
    rejects(
        &with_claim(json!({"path": ["nationalities", 1.5]})),
        "credentials[0].claims[0].path: a claim path index must be a non-negative integer",
    );
    rejects(
        &with_claim(json!({"path": ["address", {"k": 1}]})),
        "credentials[0].claims[0].path: a claim path holds only strings",
    );
    rejects(
        &with_claim(json!({"path": ["x"], "values": []})),
        "credentials[0].claims[0].values must not be empty",
    );
    rejects(
        &with_claim(json!({"path": ["x"], "values": "Doe"})),
        "credentials[0].claims[0].values must be an array",
    );
    for bad in [json!(1.5), Value::Null, json!({"a": 1}), json!(["Doe"])] {
        rejects(
            &with_claim(json!({"path": ["x"], "values": ["ok", bad]})),
            "credentials[0].claims[0].values[1] must be a string, an integer or a boolean",
        );
    }
    parse(&with_claim(
        json!({"path": ["x"], "values": ["Doe", 42, -7, true, false]}),
    ));
    rejects(
        &with_claim(json!({"id": "", "path": ["x"]})),
        "credentials[0].claims[0].id must not be empty",
    );
    rejects(
        &with_claim(json!({"id": "a b", "path": ["x"]})),
        "credentials[0].claims[0].id \"a b\" may contain only letters, digits",
    );
    rejects(
        &with_claim(json!({"id": 1, "path": ["x"]})),
        "credentials[0].claims[0].id must be a string",
    );
    rejects(
        &with(
            "claims",
            json!([{"id": "a", "path": ["x"]}, {"id": "a", "path": ["y"]}]),
        ),
        "credentials[0].claims[1].id \"a\" is used by more than one Claims Query of credentials[0]",
    );
    // The same id in two Credential Queries is fine: ids are unique per `claims` array.
    let mut second = base();
    second["id"] = json!("pid2");
    parse(&json!({"credentials": [base(), second]}));
}

#[test]
fn claim_sets_are_validated() {
    let mut no_claims = base();
    no_claims.as_object_mut().unwrap().remove("claims");
    no_claims["claim_sets"] = json!([["g"]]);
    rejects(
        &json!({"credentials": [no_claims]}),
        "credentials[0].claim_sets must not be present without claims",
    );
    rejects(
        &with("claim_sets", json!([])),
        "credentials[0].claim_sets must not be empty",
    );
    rejects(
        &with("claim_sets", json!(["g"])),
        "credentials[0].claim_sets[0] must be an array of claim ids",
    );
    rejects(
        &with("claim_sets", json!([["g"], []])),
        "credentials[0].claim_sets[1] must not be empty",
    );
    rejects(
        &with("claim_sets", json!([["g", "zz"]])),
        "credentials[0].claim_sets[0][1] \"zz\" is the id of no Claims Query in credentials[0].claims",
    );
    rejects(
        &with("claim_sets", json!([["g", 1]])),
        "credentials[0].claim_sets[0][1] must be a string",
    );
    let mut missing_id = base();
    missing_id["claims"] = json!([{"id": "g", "path": ["given_name"]}, {"path": ["family_name"]}]);
    missing_id["claim_sets"] = json!([["g"]]);
    rejects(
        &json!({"credentials": [missing_id]}),
        "credentials[0].claims[1].id is required because the Credential Query has claim_sets",
    );
    parse(&with("claim_sets", json!([["g", "f"], ["f"]])));
}

#[test]
fn credential_sets_are_validated() {
    let sets = |v: Value| json!({"credentials": [base()], "credential_sets": v});
    rejects(&sets(json!([])), "credential_sets must not be empty");
    rejects(&sets(json!({})), "credential_sets must be an array");
    rejects(
        &sets(json!([["pid"]])),
        "credential_sets[0] must be an object",
    );
    rejects(
        &sets(json!([{"required": true}])),
        "credential_sets[0].options is required",
    );
    rejects(
        &sets(json!([{"options": []}])),
        "credential_sets[0].options must not be empty",
    );
    rejects(
        &sets(json!([{"options": ["pid"]}])),
        "credential_sets[0].options[0] must be an array of Credential Query ids",
    );
    rejects(
        &sets(json!([{"options": [["pid"], []]}])),
        "credential_sets[0].options[1] must not be empty",
    );
    rejects(
        &sets(json!([{"options": [["pid", "mdl"]]}])),
        "credential_sets[0].options[0][1] \"mdl\" is the id of no Credential Query",
    );
    rejects(
        &sets(json!([{"options": [[7]]}])),
        "credential_sets[0].options[0][0] must be a string",
    );
    rejects(
        &sets(json!([{"options": [["pid"]], "required": "no"}])),
        "credential_sets[0].required must be a boolean",
    );
}

#[test]
fn unknown_properties_are_ignored() {
    let q = parse(&json!({
        "future_top_level": {"x": 1},
        "credentials": [{
            "id": "pid", "format": "dc+sd-jwt", "future": [1, 2],
            "meta": {"vct_values": [PID_VCT], "future_meta": true},
            "trusted_authorities": [{"type": "aki", "values": ["x"], "future": 1}],
            "claims": [{"path": ["given_name"], "future_claim": "x"}]
        }],
        "credential_sets": [{"options": [["pid"]], "purpose": "future"}]
    }));
    assert_eq!(q.credentials()[0].id, "pid");
}

#[test]
fn errors_have_the_stable_code() {
    let e = DcqlQuery::parse(&json!({})).unwrap_err();
    assert_eq!(e.code(), "dcql_invalid");
    assert!(e.to_string().starts_with("dcql_invalid: "));
}

// ---------------------------------------------------------------------------------------
// Matching one Credential Query (§6.4.1)
// ---------------------------------------------------------------------------------------

#[test]
fn simple_query_discloses_exactly_the_selected_claims() {
    let m = one_match(
        &sd_query(json!([
            {"path": ["family_name"]},
            {"path": ["given_name"]},
            {"path": ["address", "street_address"]}
        ])),
        &pid("w1"),
    )
    .unwrap();
    assert_eq!(m.query_id, "pid");
    assert_eq!(m.credential_id, "w1");
    assert_eq!(
        m.disclose,
        ["/family_name", "/given_name", "/address/street_address"]
    );
    assert_eq!(m.claim_set_index, None);
    // `/address` must be disclosed to reach its street; its other members stay hidden.
    assert_eq!(
        m.revealed,
        [
            "/given_name",
            "/family_name",
            "/address",
            "/address/street_address"
        ]
    );
}

#[test]
fn a_query_without_claims_discloses_nothing_selectively_disclosable() {
    let q = json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [PID_VCT]}}]});
    let m = one_match(&q, &pid("w1")).unwrap();
    assert!(m.disclose.is_empty() && m.revealed.is_empty(), "{m:?}");
}

#[test]
fn type_format_binding_and_authorities_must_match() {
    let q = sd_query(json!([{"path": ["given_name"]}]));
    assert!(one_match(&q, &pid("w")).is_some());

    let mut other_type = pid("w");
    other_type.vct = "https://credentials.example.com/other".into();
    assert!(
        one_match(&q, &other_type).is_none(),
        "vct not in vct_values"
    );

    let mut other_format = pid("w");
    other_format.format = "vc+sd-jwt".into();
    assert!(one_match(&q, &other_format).is_none(), "format differs");

    // Queries for other formats never match, not even a credential claiming that format.
    let mut mdoc = pid("w");
    mdoc.format = "mso_mdoc".into();
    let mq = parse(&example_simple_mdoc());
    assert!(
        mq.credentials()[0]
            .match_candidate(&mdoc.candidate())
            .is_none()
    );

    let mut unbound = pid("w");
    unbound.holder_binding = false;
    assert!(
        one_match(&q, &unbound).is_none(),
        "holder binding required by default"
    );
    let mut relaxed = q.clone();
    relaxed["credentials"][0]["require_cryptographic_holder_binding"] = json!(false);
    assert!(one_match(&relaxed, &unbound).is_some());
    assert!(
        one_match(&relaxed, &pid("w")).is_some(),
        "bound credentials still match"
    );

    let mut ta = q.clone();
    ta["credentials"][0]["trusted_authorities"] = example_trusted_authorities();
    assert!(one_match(&ta, &pid("w")).is_none(), "no authority known");
    let mut certified = pid("w");
    certified.authority_ids = strings(&["other", "https://trustanchor.example.com"]);
    assert!(one_match(&ta, &certified).is_some());
}

#[test]
fn every_claim_must_be_delivered() {
    let held = pid("w");
    assert!(
        one_match(
            &sd_query(json!([{"path": ["given_name"]}, {"path": ["region"]}])),
            &held
        )
        .is_none()
    );
    // §7.1: a key applied to a non-object or an index to a non-array is an error: no match.
    assert!(one_match(&sd_query(json!([{"path": ["given_name", "x"]}])), &held).is_none());
    assert!(one_match(&sd_query(json!([{"path": ["address", 0]}])), &held).is_none());
    assert!(one_match(&sd_query(json!([{"path": ["nationalities", 5]}])), &held).is_none());
    let m = one_match(&sd_query(json!([{"path": ["nationalities", null]}])), &held).unwrap();
    assert_eq!(m.disclose, ["/nationalities/0", "/nationalities/1"]);
}

#[test]
fn values_restrict_what_matches_and_what_is_disclosed() {
    let held = pid("w");
    let m = |claims: Value| one_match(&sd_query(claims), &held);
    assert!(m(json!([{"path": ["family_name"], "values": ["Mustermann", "Doe"]}])).is_some());
    assert!(m(json!([{"path": ["family_name"], "values": ["Doe"]}])).is_none());
    // Type and value must both match.
    assert!(m(json!([{"path": ["age_in_years"], "values": [59]}])).is_some());
    assert!(m(json!([{"path": ["age_in_years"], "values": ["59"]}])).is_none());
    assert!(m(json!([{"path": ["age_over_18"], "values": [true]}])).is_some());
    assert!(m(json!([{"path": ["age_over_18"], "values": ["true", 1]}])).is_none());
    // With `null`, only the matching elements are selected and disclosed.
    let fr = m(json!([{"path": ["nationalities", null], "values": ["FR"]}])).unwrap();
    assert_eq!(fr.disclose, ["/nationalities/1"]);
    assert_eq!(fr.revealed, ["/nationalities", "/nationalities/1"]);
    // The value-matching example of the specification against a PID that is not Doe's.
    let q = parse(&example_value_matching());
    assert!(
        q.credentials()[0]
            .match_candidate(&held.candidate())
            .is_none()
    );
    let doe = Held::new(
        "doe",
        PID_VCT,
        json!({"family_name": "Doe", "given_name": "John", "postal_code": "90211",
               "address": {"street_address": "123 Main St"}}),
    );
    let m = q.credentials()[0]
        .match_candidate(&doe.candidate())
        .unwrap();
    assert_eq!(
        m.disclose,
        [
            "/family_name",
            "/given_name",
            "/address/street_address",
            "/postal_code"
        ]
    );
}

#[test]
fn claim_sets_take_the_first_option_that_can_be_satisfied() {
    let q = parse(&example_claims_alternatives());
    let query = &q.credentials()[0];
    let full = Held::new(
        "full",
        PID_VCT,
        json!({"last_name": "Doe", "date_of_birth": "1990-01-01", "postal_code": "90210",
               "locality": "Beverly Hills", "region": "CA", "email": "x@example.com"}),
    );
    let m = query.match_candidate(&full.candidate()).unwrap();
    assert_eq!(m.claim_set_index, Some(0));
    assert_eq!(
        m.disclose,
        ["/last_name", "/locality", "/region", "/date_of_birth"]
    );

    let no_region = Held::new(
        "no_region",
        PID_VCT,
        json!({"last_name": "Doe", "date_of_birth": "1990-01-01", "postal_code": "90210",
               "locality": "Beverly Hills"}),
    );
    let m = query.match_candidate(&no_region.candidate()).unwrap();
    assert_eq!(m.claim_set_index, Some(1));
    assert_eq!(m.disclose, ["/last_name", "/postal_code", "/date_of_birth"]);
    assert!(
        !m.disclose.contains(&"/locality".to_owned()),
        "claims outside the set stay hidden"
    );

    let neither = Held::new(
        "neither",
        PID_VCT,
        json!({"last_name": "Doe", "date_of_birth": "1990-01-01", "locality": "Beverly Hills"}),
    );
    assert!(query.match_candidate(&neither.candidate()).is_none());

    // Across credentials the Verifier's preferred claim set wins.
    let held = [no_region, full];
    let found = query.matches(&candidates(&held));
    let order: Vec<&str> = found.iter().map(|m| m.credential_id.as_str()).collect();
    assert_eq!(order, ["full", "no_region"]);
}

#[test]
fn the_least_disclosing_candidate_comes_first() {
    let q = parse(&sd_query(json!([{"path": ["address"]}])));
    let query = &q.credentials()[0];
    let big = pid("big");
    let small = Held::new(
        "small",
        PID_VCT,
        json!({"given_name": "Erika", "address": {"locality": "Köln"}}),
    );
    let also_small = Held::new("also_small", PID_VCT, json!({"address": {"country": "DE"}}));
    let held = [big, small, also_small];
    let found = query.matches(&candidates(&held));
    let order: Vec<(&str, usize)> = found
        .iter()
        .map(|m| (m.credential_id.as_str(), m.revealed.len()))
        .collect();
    // Ties keep the Wallet's order.
    assert_eq!(order, [("small", 2), ("also_small", 2), ("big", 5)]);

    // Claims that are not selectively disclosable cost nothing.
    let mut plain = pid("plain");
    plain.disclosable.retain(|p| !p.starts_with("/address"));
    let held = [pid("sd"), plain];
    let found = query.matches(&candidates(&held));
    assert_eq!(found[0].credential_id, "plain");
    assert!(found[0].revealed.is_empty());
    assert_eq!(found[0].disclose, ["/address"]);
}

// ---------------------------------------------------------------------------------------
// Resolution (§6.4.2)
// ---------------------------------------------------------------------------------------

fn typed(id: &str, vct: &str, claims: Value) -> Held {
    Held::new(id, vct, claims)
}

fn other_pid(id: &str) -> Held {
    typed(id, "https://othercredentials.example/pid", pid_claims())
}

fn reduced_1(id: &str) -> Held {
    typed(
        id,
        "https://credentials.example.com/reduced_identity_credential",
        json!({"given_name": "Erika", "family_name": "Mustermann"}),
    )
}

fn reduced_2(id: &str) -> Held {
    typed(
        id,
        "https://cred.example/residence_credential",
        json!({"postal_code": "51147", "locality": "Köln", "region": "NRW"}),
    )
}

fn rewards(id: &str) -> Held {
    typed(
        id,
        "https://company.example/company_rewards",
        json!({"rewards_number": 1234}),
    )
}

#[test]
fn without_credential_sets_every_query_is_required() {
    let q = parse(&json!({"credentials": [
        {"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [PID_VCT]},
         "claims": [{"path": ["given_name"]}]},
        {"id": "rewards", "format": "dc+sd-jwt",
         "meta": {"vct_values": ["https://company.example/company_rewards"]},
         "claims": [{"path": ["rewards_number"]}]}
    ]}));
    let held = [rewards("r"), pid("p")];
    let s = q.resolve(&candidates(&held)).unwrap();
    assert_eq!(ids(&s), [("pid", "p", true), ("rewards", "r", true)]);

    let e = q.resolve(&candidates(&[pid("p")])).unwrap_err();
    assert_eq!(e.code(), "dcql_unsatisfiable");
    assert!(e.to_string().contains("\"rewards\""), "{e}");

    // The mdoc of the multi-credential example can never be matched here.
    let q = parse(&example_multi_credentials());
    let e = q.resolve(&candidates(&[pid("p")])).unwrap_err();
    assert_eq!(e.code(), "dcql_unsatisfiable");
    assert!(e.to_string().contains("\"mdl\""), "{e}");
}

#[test]
fn credential_sets_choose_the_first_satisfiable_option() {
    let q = parse(&example_credentials_alternatives());

    // pid and other_pid held: the first option wins; the optional set is left out.
    let held = [other_pid("o"), pid("p")];
    let s = q.resolve(&candidates(&held)).unwrap();
    assert_eq!(ids(&s), [("pid", "p", true)]);

    // Only other_pid, plus the nice-to-have credential.
    let held = [rewards("r"), other_pid("o")];
    let s = q.resolve(&candidates(&held)).unwrap();
    assert_eq!(
        ids(&s),
        [("other_pid", "o", true), ("nice_to_have", "r", false)]
    );

    // The two reduced credentials together.
    let held = [reduced_2("r2"), reduced_1("r1")];
    let s = q.resolve(&candidates(&held)).unwrap();
    assert_eq!(
        ids(&s),
        [
            ("pid_reduced_cred_1", "r1", true),
            ("pid_reduced_cred_2", "r2", true)
        ]
    );

    // Half of the third option and the optional credential: the required set fails.
    let held = [reduced_1("r1"), rewards("r")];
    let e = q.resolve(&candidates(&held)).unwrap_err();
    assert_eq!(e.code(), "dcql_unsatisfiable");
    let msg = e.to_string();
    assert!(msg.contains("credential_sets[0]"), "{msg}");
    assert!(
        msg.contains("\"pid\"") && msg.contains("\"pid_reduced_cred_2\""),
        "{msg}"
    );
    assert!(!msg.contains("\"pid_reduced_cred_1\""), "{msg}");

    // A credential whose claims do not satisfy its query does not count.
    let mut no_street = pid("p");
    no_street.claims.remove("address");
    let e = q.resolve(&candidates(&[no_street])).unwrap_err();
    assert_eq!(e.code(), "dcql_unsatisfiable");
}

#[test]
fn mdoc_only_queries_are_unsatisfiable_for_an_sd_jwt_wallet() {
    let q = parse(&example_complex_mdoc());
    let e = q.resolve(&candidates(&[pid("p")])).unwrap_err();
    assert_eq!(e.code(), "dcql_unsatisfiable");
}

#[test]
fn selections_offer_every_matching_credential() {
    let mut query = sd_query(json!([{"path": ["nationalities", null], "values": ["DE"]}]));
    query["credentials"][0]["multiple"] = json!(true);
    let q = parse(&query);
    let held = [
        pid("first"),
        Held::new("french", PID_VCT, json!({"nationalities": ["FR"]})),
        Held::new("german", PID_VCT, json!({"nationalities": ["DE"]})),
    ];
    let selections = q.resolve(&candidates(&held)).unwrap();
    let [s] = &selections[..] else {
        panic!("one selection")
    };
    assert!(s.multiple && s.required);
    let offered: Vec<&str> = s
        .candidates
        .iter()
        .map(|m| m.credential_id.as_str())
        .collect();
    // Both reveal the array and one element; the tie keeps the Wallet's order.
    assert_eq!(offered, ["first", "german"]);
    assert_eq!(s.default, s.candidates[0]);
    assert!(
        s.candidates
            .iter()
            .all(|m| m.disclose == ["/nationalities/0"])
    );
}

// ---------------------------------------------------------------------------------------
// The Verifier's check of a response
// ---------------------------------------------------------------------------------------

fn response<'a>(
    entries: Vec<(&str, Vec<PresentedCredential<'a>>)>,
) -> BTreeMap<String, Vec<PresentedCredential<'a>>> {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

fn mismatch(q: &DcqlQuery, r: &BTreeMap<String, Vec<PresentedCredential<'_>>>, needle: &str) {
    let e = q.check_response(r).expect_err("accepted");
    assert_eq!(e.code(), "dcql_response_mismatch", "{e}");
    assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
}

#[test]
fn a_minimal_response_passes_without_over_disclosure() {
    let q = parse(&sd_query(json!([
        {"path": ["family_name"]}, {"path": ["given_name"]}, {"path": ["address", "street_address"]}
    ])));
    let held = pid("p");
    let disclosed = strings(&[
        "/given_name",
        "/family_name",
        "/address",
        "/address/street_address",
    ]);
    let check = q
        .check_response(&response(vec![("pid", vec![held.presented(&disclosed)])]))
        .unwrap();
    assert!(check.over_disclosure.is_empty(), "{check:?}");
    assert_eq!(check.answered.len(), 1);
    assert_eq!(check.answered[0].query_id, "pid");
    assert_eq!(check.answered[0].claim_set_index, [None]);
    check.deny_over_disclosure().unwrap();
}

#[test]
fn over_disclosure_is_reported() {
    let q = parse(&sd_query(json!([{"path": ["address", "street_address"]}])));
    let held = pid("p");
    let disclosed = strings(&[
        "/address",
        "/address/street_address",
        "/address/locality",
        "/birthdate",
    ]);
    let check = q
        .check_response(&response(vec![("pid", vec![held.presented(&disclosed)])]))
        .unwrap();
    assert_eq!(
        check.over_disclosure,
        [
            ("pid".to_owned(), "/address/locality".to_owned()),
            ("pid".to_owned(), "/birthdate".to_owned())
        ]
    );
    let e = check.deny_over_disclosure().unwrap_err();
    assert_eq!(e.code(), "dcql_response_mismatch");
    assert!(e.to_string().contains("pid:/birthdate"), "{e}");

    // Without `claims`, every selectively disclosed claim is over-disclosure.
    let bare = parse(&json!({"credentials": [
        {"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [PID_VCT]}}
    ]}));
    let disclosed = strings(&["/given_name"]);
    let check = bare
        .check_response(&response(vec![("pid", vec![held.presented(&disclosed)])]))
        .unwrap();
    assert_eq!(
        check.over_disclosure,
        [("pid".to_owned(), "/given_name".to_owned())]
    );
}

#[test]
fn responses_that_do_not_answer_the_query_are_refused() {
    let q = parse(&sd_query(
        json!([{"path": ["family_name"], "values": ["Mustermann"]}]),
    ));
    let held = pid("p");
    let none: Vec<String> = Vec::new();
    let ok = held.presented(&none);

    mismatch(
        &q,
        &response(vec![]),
        "does not answer the required Credential Query \"pid\"",
    );
    mismatch(
        &q,
        &response(vec![("pid", vec![ok]), ("extra", vec![ok])]),
        "\"extra\", which is no Credential Query",
    );
    mismatch(
        &q,
        &response(vec![("pid", vec![])]),
        "answered by no presentation",
    );
    mismatch(
        &q,
        &response(vec![("pid", vec![ok, ok])]),
        "does not allow multiple",
    );

    let mut other = pid("o");
    other.vct = "https://credentials.example.com/other".into();
    mismatch(
        &q,
        &response(vec![("pid", vec![other.presented(&none)])]),
        "not one of the requested vct_values",
    );

    let mut unbound = pid("u");
    unbound.holder_binding = false;
    mismatch(
        &q,
        &response(vec![("pid", vec![unbound.presented(&none)])]),
        "lacks the required cryptographic holder binding",
    );

    let doe = Held::new("d", PID_VCT, json!({"family_name": "Doe"}));
    mismatch(
        &q,
        &response(vec![("pid", vec![doe.presented(&none)])]),
        "unmet: claims[0] [\"family_name\"]",
    );
    let nobody = Held::new("n", PID_VCT, json!({}));
    mismatch(
        &q,
        &response(vec![("pid", vec![nobody.presented(&none)])]),
        "does not deliver the requested claims",
    );

    // `multiple` allows several presentations, each checked.
    let mut many = sd_query(json!([{"path": ["family_name"]}]));
    many["credentials"][0]["multiple"] = json!(true);
    let many = parse(&many);
    let check = many
        .check_response(&response(vec![("pid", vec![ok, ok])]))
        .unwrap();
    assert_eq!(check.answered[0].claim_set_index, [None, None]);
    mismatch(
        &many,
        &response(vec![("pid", vec![ok, nobody.presented(&none)])]),
        "\"pid\"[1]",
    );

    // Queries for other formats cannot be answered by an SD-JWT VC.
    let mdoc = parse(&example_simple_mdoc());
    mismatch(
        &mdoc,
        &response(vec![("my_credential", vec![ok])]),
        "only dc+sd-jwt presentations",
    );
}

#[test]
fn responses_respect_claim_sets() {
    let q = parse(&example_claims_alternatives());
    let held = Held::new(
        "h",
        PID_VCT,
        json!({"last_name": "Doe", "date_of_birth": "1990-01-01", "postal_code": "90210"}),
    );
    let disclosed = strings(&["/last_name", "/date_of_birth", "/postal_code"]);
    let check = q
        .check_response(&response(vec![("pid", vec![held.presented(&disclosed)])]))
        .unwrap();
    assert_eq!(check.answered[0].claim_set_index, [Some(1)]);
    assert!(check.over_disclosure.is_empty());

    // Disclosing both options: the first is satisfied, the extra postal code is over-disclosure.
    let both = Held::new(
        "b",
        PID_VCT,
        json!({"last_name": "Doe", "date_of_birth": "1990-01-01", "postal_code": "90210",
               "locality": "Beverly Hills", "region": "CA"}),
    );
    let disclosed = strings(&[
        "/last_name",
        "/date_of_birth",
        "/postal_code",
        "/locality",
        "/region",
    ]);
    let check = q
        .check_response(&response(vec![("pid", vec![both.presented(&disclosed)])]))
        .unwrap();
    assert_eq!(check.answered[0].claim_set_index, [Some(0)]);
    assert_eq!(
        check.over_disclosure,
        [("pid".to_owned(), "/postal_code".to_owned())]
    );

    let partial = Held::new("p", PID_VCT, json!({"last_name": "Doe", "locality": "X"}));
    let none: Vec<String> = Vec::new();
    mismatch(
        &q,
        &response(vec![("pid", vec![partial.presented(&none)])]),
        "no claim set is satisfied; unmet: claims[1] (b) [\"postal_code\"]",
    );
}

#[test]
fn responses_respect_credential_sets() {
    let q = parse(&example_credentials_alternatives());
    let none: Vec<String> = Vec::new();
    let (p, o, r1, r2, r) = (
        pid("p"),
        other_pid("o"),
        reduced_1("r1"),
        reduced_2("r2"),
        rewards("r"),
    );

    let check = q
        .check_response(&response(vec![("other_pid", vec![o.presented(&none)])]))
        .unwrap();
    assert_eq!(check.answered[0].query_id, "other_pid");
    q.check_response(&response(vec![
        ("pid_reduced_cred_2", vec![r2.presented(&none)]),
        ("nice_to_have", vec![r.presented(&none)]),
        ("pid_reduced_cred_1", vec![r1.presented(&none)]),
    ]))
    .map(|c| {
        let order: Vec<&str> = c.answered.iter().map(|a| a.query_id.as_str()).collect();
        assert_eq!(
            order,
            ["pid_reduced_cred_1", "pid_reduced_cred_2", "nice_to_have"]
        );
    })
    .unwrap();
    mismatch(
        &q,
        &response(vec![
            ("pid_reduced_cred_1", vec![r1.presented(&none)]),
            ("nice_to_have", vec![r.presented(&none)]),
        ]),
        "satisfies no option of the required credential_sets[0]",
    );
    mismatch(
        &q,
        &response(vec![("nice_to_have", vec![r.presented(&none)])]),
        "credential_sets[0]",
    );
    q.check_response(&response(vec![("pid", vec![p.presented(&none)])]))
        .unwrap();

    // A query that no credential set references was not requested.
    let mut unreferenced = example_credentials_alternatives();
    unreferenced["credential_sets"] = json!([{"options": [["pid"]]}]);
    let unreferenced = parse(&unreferenced);
    mismatch(
        &unreferenced,
        &response(vec![
            ("pid", vec![p.presented(&none)]),
            ("other_pid", vec![o.presented(&none)]),
        ]),
        "\"other_pid\", which no credential set requests",
    );
}

// ---------------------------------------------------------------------------------------
// Round trip: issue, match, present, verify, check
// ---------------------------------------------------------------------------------------

const NOW: i64 = 1_700_000_000;
const AUD: &str = "x509_san_dns:client.example.org";
const NONCE: &str = "n-0S6_WzA2Mj";

struct Fx {
    issuer_signer: Arc<dyn Signer>,
    holder: PrivateJwk,
    holder_signer: Arc<dyn Signer>,
    kb_verifier: Verifier,
    plain_verifier: Verifier,
}

fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| {
        let p = default_provider();
        let issuer = p.generate(Algorithm::Es256, &OsRandom).unwrap();
        let holder = p.generate(Algorithm::Es256, &OsRandom).unwrap();
        let keys = Arc::new(StaticIssuerKeys::single(issuer.public(), p).unwrap());
        let clock = Arc::new(FixedClock(NOW));
        Fx {
            issuer_signer: p.signer(&issuer).unwrap(),
            holder_signer: p.signer(&holder).unwrap(),
            holder,
            kb_verifier: Verifier::builder_with_clock(keys.clone(), clock.clone())
                .require_key_binding(AUD, NONCE)
                .build()
                .unwrap(),
            plain_verifier: Verifier::builder_with_clock(keys, clock)
                .key_binding(danger::key_binding_optional())
                .build()
                .unwrap(),
        }
    })
}

#[test]
fn issue_match_present_verify_and_check() {
    let mut claims = obj(pid_claims());
    claims.insert("iss".into(), json!("https://issuer.example"));
    claims.insert("iat".into(), json!(NOW - 100));
    claims.insert("exp".into(), json!(NOW + 3600));
    claims.insert("vct".into(), json!(PID_VCT));
    let mut builder = SdJwtBuilder::new(claims);
    for p in [
        "/given_name",
        "/family_name",
        "/birthdate",
        "/age_over_18",
        "/address",
        "/address/street_address",
        "/address/locality",
        "/nationalities/0",
        "/nationalities/1",
    ] {
        builder = builder.disclose(p).unwrap();
    }
    let issued = builder
        .holder_key(fx().holder.public().clone())
        .issue(&*fx().issuer_signer, &OsRandom)
        .unwrap()
        .to_string();
    let credential = Credential::receive(&issued, &fx().plain_verifier).unwrap();

    // The Wallet: match the request.
    let query = parse(&json!({
        "credentials": [{
            "id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [PID_VCT]},
            "claims": [
                {"id": "over18", "path": ["age_over_18"], "values": [true]},
                {"id": "dob", "path": ["birthdate"]},
                {"id": "street", "path": ["address", "street_address"]},
                {"id": "fr", "path": ["nationalities", null], "values": ["FR"]}
            ],
            "claim_sets": [["over18", "street", "fr"], ["dob", "street", "fr"]]
        }]
    }));
    let disclosable: Vec<String> = credential
        .disclosable_claims()
        .into_iter()
        .map(|c| c.pointer)
        .collect();
    let authority_ids: Vec<String> = Vec::new();
    let candidate = CandidateCredential {
        id: "stored-1",
        format: FORMAT_DC_SD_JWT,
        vct: PID_VCT,
        claims: credential.claims(),
        disclosable: &disclosable,
        holder_binding: true,
        authority_ids: &authority_ids,
    };
    let selections = query.resolve(&[candidate]).unwrap();
    let m = &selections[0].default;
    assert_eq!(m.claim_set_index, Some(0));
    assert_eq!(
        m.disclose,
        [
            "/age_over_18",
            "/address/street_address",
            "/nationalities/1"
        ]
    );

    // Present exactly that, with key binding.
    let refs: Vec<&str> = m.disclose.iter().map(String::as_str).collect();
    let text = credential
        .present(&refs)
        .unwrap()
        .with_key_binding(&*fx().holder_signer, AUD, NONCE, NOW)
        .unwrap();

    // The Verifier: verify, then check the response against the query.
    let verified = fx().kb_verifier.verify(&text).unwrap();
    // The Wallet's estimate of what it reveals is exact, up to array positions: the Verifier
    // sees undisclosed array elements removed, so `/nationalities/1` becomes `/nationalities/0`.
    let mut revealed = verified.disclosed.clone();
    revealed.sort();
    assert_eq!(
        revealed,
        [
            "/address",
            "/address/street_address",
            "/age_over_18",
            "/nationalities/0"
        ]
    );
    let mut expected = m.revealed.clone();
    expected.sort();
    assert_eq!(
        expected,
        [
            "/address",
            "/address/street_address",
            "/age_over_18",
            "/nationalities/1"
        ]
    );
    assert_eq!(verified.claims["nationalities"], json!(["FR"]));
    assert!(verified.claims.get("birthdate").is_none());
    let vct = verified.claims["vct"].as_str().unwrap();
    let presented = PresentedCredential {
        vct,
        claims: &verified.claims,
        disclosed: &verified.disclosed,
        holder_binding: verified.key_binding.is_some(),
    };
    let check = query
        .check_response(&response(vec![("pid", vec![presented])]))
        .unwrap();
    assert_eq!(check.answered[0].claim_set_index, [Some(0)]);
    assert!(check.over_disclosure.is_empty(), "{check:?}");
    check.deny_over_disclosure().unwrap();
}

// ---------------------------------------------------------------------------------------
// Property: the Wallet never discloses a claim the query did not select
// ---------------------------------------------------------------------------------------

/// Paths over a small vocabulary, some of which do not fit every generated credential.
const PATHS: [&str; 9] = [
    r#"["a"]"#,
    r#"["b"]"#,
    r#"["c"]"#,
    r#"["o"]"#,
    r#"["o","x"]"#,
    r#"["o","y"]"#,
    r#"["arr"]"#,
    r#"["arr",null]"#,
    r#"["arr",1]"#,
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("x")),
        Just(json!("y")),
        (0i64..3).prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ]
}

fn claims_strategy() -> impl Strategy<Value = Map<String, Value>> {
    (
        proptest::option::of(scalar()),
        proptest::option::of(scalar()),
        proptest::option::of(scalar()),
        proptest::option::of(prop_oneof![
            (
                proptest::option::of(scalar()),
                proptest::option::of(scalar())
            )
                .prop_map(|(x, y)| {
                    let mut m = Map::new();
                    if let Some(x) = x {
                        m.insert("x".into(), x);
                    }
                    if let Some(y) = y {
                        m.insert("y".into(), y);
                    }
                    Value::Object(m)
                }),
            scalar(),
        ]),
        proptest::option::of(proptest::collection::vec(scalar(), 0..4).prop_map(Value::Array)),
    )
        .prop_map(|(a, b, c, o, arr)| {
            let mut m = Map::new();
            for (k, v) in [("a", a), ("b", b), ("c", c), ("o", o), ("arr", arr)] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            m
        })
}

/// A dc+sd-jwt query of 1 to 4 claims over [`PATHS`], some with `values`, possibly with
/// `claim_sets`.
fn query_strategy() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec(
            (
                0..PATHS.len(),
                proptest::option::of(proptest::collection::vec(scalar(), 1..3)),
            ),
            1..5,
        ),
        proptest::option::of(proptest::collection::vec(
            proptest::collection::vec(any::<prop::sample::Index>(), 1..4),
            1..4,
        )),
    )
        .prop_map(|(claims, sets)| {
            let n = claims.len();
            let claims: Vec<Value> = claims
                .into_iter()
                .enumerate()
                .map(|(i, (p, values))| {
                    let path: Value = serde_json::from_str(PATHS[p]).unwrap();
                    let mut c = json!({"id": format!("c{i}"), "path": path});
                    if let Some(values) = values {
                        c["values"] = Value::Array(values);
                    }
                    c
                })
                .collect();
            let mut q = json!({"id": "q", "format": "dc+sd-jwt",
                               "meta": {"vct_values": [PID_VCT]}, "claims": claims});
            if let Some(sets) = sets {
                q["claim_sets"] = sets
                    .into_iter()
                    .map(|set| {
                        set.into_iter()
                            .map(|ix| Value::from(format!("c{}", ix.index(n))))
                            .collect::<Value>()
                    })
                    .collect();
            }
            json!({ "credentials": [q] })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every pointer a Match discloses is selected by some claims path of the query (with
    /// its `values`), and what the Wallet reveals passes the Verifier's over-disclosure check.
    #[test]
    fn the_wallet_never_discloses_an_unrequested_claim(
        query in query_strategy(),
        held in proptest::collection::vec(claims_strategy(), 1..4),
    ) {
        let q = DcqlQuery::parse(&query).unwrap();
        let cq = &q.credentials()[0];
        let claim_queries = cq.claims.as_ref().unwrap();
        let held: Vec<Held> = held
            .into_iter()
            .enumerate()
            .map(|(i, c)| Held::new(&format!("w{i}"), PID_VCT, Value::Object(c)))
            .collect();
        for h in &held {
            let Some(m) = cq.match_candidate(&h.candidate()) else { continue };
            prop_assert!(!m.disclose.is_empty());
            for p in &m.disclose {
                let requested = claim_queries.iter().any(|c| {
                    let path: &ClaimPath = &c.path;
                    path.select(&h.claims).is_ok_and(|sel| {
                        sel.iter().any(|(sp, v)| {
                            sp == p && c.values.as_ref().is_none_or(|vals| vals.contains(*v))
                        })
                    })
                });
                prop_assert!(requested, "{} disclosed for {}", p, query);
            }
            if let Some(k) = m.claim_set_index {
                // Only claims of the chosen set are disclosed.
                let set = &cq.claim_sets.as_ref().unwrap()[k];
                for p in &m.disclose {
                    let in_set = claim_queries.iter().filter(|c| set.contains(c.id.as_ref().unwrap())).any(|c| {
                        c.path.select(&h.claims).is_ok_and(|sel| sel.iter().any(|(sp, _)| sp == p))
                    });
                    prop_assert!(in_set, "{} outside claim set {}", p, k);
                }
            }
            let check = q
                .check_response(&response(vec![("q", vec![h.presented(&m.revealed)])]))
                .unwrap();
            prop_assert!(check.over_disclosure.is_empty(), "{:?}", check.over_disclosure);
        }
        // The best match is never beaten by a later one.
        let found = cq.matches(&candidates(&held));
        for pair in found.windows(2) {
            prop_assert!(
                (pair[0].claim_set_index, pair[0].revealed.len())
                    <= (pair[1].claim_set_index, pair[1].revealed.len())
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Building queries
// ---------------------------------------------------------------------------------------

use credkit::dcql::{ClaimsQueryBuilder, CredentialQueryBuilder, DcqlQueryBuilder};
use credkit::sd_jwt_vc::claim_path::PathElement;

/// Asserts that `built` is the query of `example`, both parsed and as JSON.
fn builds(built: credkit::Result<DcqlQuery>, example: &Value) {
    let built = built.unwrap_or_else(|e| panic!("{e}: {example}"));
    assert_eq!(built, parse(example), "{example}");
    assert_eq!(built.to_json(), *example);
}

/// Asserts that the builder is refused with `dcql_invalid` and a message containing `needle`.
fn build_rejects(builder: DcqlQueryBuilder, needle: &str) {
    let e = builder
        .build()
        .expect_err(&format!("built a query with {needle:?}"));
    assert_eq!(e.code(), "dcql_invalid", "{e}");
    assert!(
        e.to_string().contains(needle),
        "message {:?} lacks {needle:?}",
        e.to_string()
    );
}

fn one(credential: CredentialQueryBuilder) -> DcqlQueryBuilder {
    DcqlQueryBuilder::new().credential(credential)
}

fn pid_builder(id: &str, vct: &str) -> CredentialQueryBuilder {
    CredentialQueryBuilder::sd_jwt_vc(id, &[vct])
        .claim(&["given_name"])
        .claim(&["family_name"])
        .claim(&["address", "street_address"])
}

fn mdoc_id_builder(id: &str, doctype: &str) -> CredentialQueryBuilder {
    CredentialQueryBuilder::mso_mdoc(id, doctype)
        .claim_with_id("given_name", &["org.iso.18013.5.1", "given_name"])
        .claim_with_id("family_name", &["org.iso.18013.5.1", "family_name"])
        .claim_with_id("portrait", &["org.iso.18013.5.1", "portrait"])
}

fn mdoc_address_builder(id: &str, doctype: &str) -> CredentialQueryBuilder {
    CredentialQueryBuilder::mso_mdoc(id, doctype)
        .claim_with_id(
            "resident_address",
            &["org.iso.18013.5.1", "resident_address"],
        )
        .claim_with_id(
            "resident_country",
            &["org.iso.18013.5.1", "resident_country"],
        )
}

fn vehicle_builder() -> CredentialQueryBuilder {
    CredentialQueryBuilder::mso_mdoc("my_credential", "org.iso.7367.1.mVRC")
        .claim(&["org.iso.7367.1", "vehicle_holder"])
        .claim(&["org.iso.18013.5.1", "given_name"])
}

#[test]
fn the_builder_reproduces_the_examples_of_the_specification() {
    builds(
        one(
            CredentialQueryBuilder::sd_jwt_vc("my_credential", &[PID_VCT])
                .claim(&["family_name"])
                .claim(&["given_name"])
                .claim(&["address", "street_address"]),
        )
        .build(),
        &example_simple(),
    );
    builds(
        one(
            CredentialQueryBuilder::sd_jwt_vc("my_credential", &[PID_VCT])
                .claim(&["last_name"])
                .claim(&["first_name"])
                .claim(&["address", "postal_code"]),
        )
        .build(),
        &example_encrypted_response_request(),
    );
    builds(one(vehicle_builder()).build(), &example_simple_mdoc());
    builds(
        DcqlQueryBuilder::new()
            .credential(pid_builder("pid", PID_VCT))
            .credential(
                CredentialQueryBuilder::mso_mdoc("mdl", "org.iso.7367.1.mVRC")
                    .claim(&["org.iso.7367.1", "vehicle_holder"])
                    .claim(&["org.iso.18013.5.1", "given_name"]),
            )
            .build(),
        &example_multi_credentials(),
    );
    builds(
        DcqlQueryBuilder::new()
            .credential(pid_builder("pid", PID_VCT))
            .credential(pid_builder(
                "other_pid",
                "https://othercredentials.example/pid",
            ))
            .credential(
                CredentialQueryBuilder::sd_jwt_vc(
                    "pid_reduced_cred_1",
                    &["https://credentials.example.com/reduced_identity_credential"],
                )
                .claim(&["family_name"])
                .claim(&["given_name"]),
            )
            .credential(
                CredentialQueryBuilder::sd_jwt_vc(
                    "pid_reduced_cred_2",
                    &["https://cred.example/residence_credential"],
                )
                .claim(&["postal_code"])
                .claim(&["locality"])
                .claim(&["region"]),
            )
            .credential(
                CredentialQueryBuilder::sd_jwt_vc(
                    "nice_to_have",
                    &["https://company.example/company_rewards"],
                )
                .claim(&["rewards_number"]),
            )
            .credential_set(
                &[
                    &["pid"],
                    &["other_pid"],
                    &["pid_reduced_cred_1", "pid_reduced_cred_2"],
                ],
                true,
            )
            .credential_set(&[&["nice_to_have"]], false)
            .build(),
        &example_credentials_alternatives(),
    );
    builds(
        DcqlQueryBuilder::new()
            .credential(mdoc_id_builder("mdl-id", "org.iso.18013.5.1.mDL"))
            .credential(mdoc_address_builder("mdl-address", "org.iso.18013.5.1.mDL"))
            .credential(mdoc_id_builder("photo_card-id", "org.iso.23220.photoid.1"))
            .credential(mdoc_address_builder(
                "photo_card-address",
                "org.iso.23220.photoid.1",
            ))
            .credential_set(&[&["mdl-id"], &["photo_card-id"]], true)
            .credential_set(&[&["mdl-address"], &["photo_card-address"]], false)
            .build(),
        &example_complex_mdoc(),
    );
    builds(
        one(CredentialQueryBuilder::sd_jwt_vc("pid", &[PID_VCT])
            .claim_with_id("a", &["last_name"])
            .claim_with_id("b", &["postal_code"])
            .claim_with_id("c", &["locality"])
            .claim_with_id("d", &["region"])
            .claim_with_id("e", &["date_of_birth"])
            .claim_sets(&[&["a", "c", "d", "e"], &["a", "b", "e"]]))
        .build(),
        &example_claims_alternatives(),
    );
    // One option at a time gives the same claim_sets.
    builds(
        one(CredentialQueryBuilder::sd_jwt_vc("pid", &[PID_VCT])
            .claim_with_id("a", &["last_name"])
            .claim_with_id("b", &["postal_code"])
            .claim_with_id("c", &["locality"])
            .claim_with_id("d", &["region"])
            .claim_with_id("e", &["date_of_birth"])
            .claim_set(&["a", "c", "d", "e"])
            .claim_set(&["a", "b", "e"]))
        .build(),
        &example_claims_alternatives(),
    );
    builds(
        one(
            CredentialQueryBuilder::sd_jwt_vc("my_credential", &[PID_VCT])
                .claim_with_values(&["family_name"], ["Doe"])
                .claim(&["given_name"])
                .claim(&["address", "street_address"])
                .claim_with_values(&["postal_code"], vec![json!("90210"), json!("90211")]),
        )
        .build(),
        &example_value_matching(),
    );
    builds(
        one(
            CredentialQueryBuilder::jwt_vc_json("example_jwt_vc", &[&["IDCredential"]])
                .claim(&["credentialSubject", "family_name"])
                .claim(&["credentialSubject", "given_name"]),
        )
        .build(),
        &example_jwt_vc(),
    );
    let mut ldp = CredentialQueryBuilder::ldp_vc("example_ldp_vc", &[&["IDCredential"]]);
    for path in [
        &["credentialSubject", "family_name"][..],
        &["credentialSubject", "given_name"],
        &["credentialSubject", "birthdate"],
        &["credentialSubject", "address", "street_address"],
        &["credentialSubject", "address", "locality"],
        &["credentialSubject", "address", "postal_code"],
        &["credentialSubject", "address", "country"],
    ] {
        ldp = ldp.claim(path);
    }
    builds(one(ldp).build(), &example_ldp_vc());

    let mut with_authorities = example_simple();
    with_authorities["credentials"][0]["trusted_authorities"] = example_trusted_authorities();
    builds(
        one(
            CredentialQueryBuilder::sd_jwt_vc("my_credential", &[PID_VCT])
                .claim(&["family_name"])
                .claim(&["given_name"])
                .claim(&["address", "street_address"])
                .trusted_authority("aki", &["s9tIpPmhxdiuNkHMEWNpYim8S8Y"])
                .trusted_authority("etsi_tl", &["https://lotl.example.com"])
                .trusted_authority("openid_federation", &["https://trustanchor.example.com"]),
        )
        .build(),
        &with_authorities,
    );
}

#[test]
fn the_builder_writes_paths_with_null_and_indices() {
    let q = one(CredentialQueryBuilder::sd_jwt_vc("arthur", &[PID_VCT])
        .claim_path(&[
            PathElement::Key("degrees".into()),
            PathElement::AllElements,
            PathElement::Key("type".into()),
        ])
        .claim_path(&[
            PathElement::Key("nationalities".into()),
            PathElement::Index(1),
        ])
        .claim_path(ClaimPath::keys(&["address", "locality"]).elements()))
    .build()
    .unwrap();
    assert_eq!(
        q.to_json()["credentials"][0]["claims"],
        json!([
            {"path": ["degrees", null, "type"]},
            {"path": ["nationalities", 1]},
            {"path": ["address", "locality"]}
        ])
    );
    // §7.3: the Wallet selects what the paths say.
    let arthur = Held::new("arthur", PID_VCT, example_claims_path_credential());
    let m = q.credentials()[0]
        .match_candidate(&arthur.candidate())
        .unwrap();
    assert_eq!(
        m.disclose,
        [
            "/degrees/0/type",
            "/degrees/1/type",
            "/nationalities/1",
            "/address/locality"
        ]
    );
}

#[test]
fn the_builder_sets_every_member() {
    let q = DcqlQueryBuilder::new()
        .credential(
            CredentialQueryBuilder::sd_jwt_vc("pid", &["urn:eudi:pid:1", PID_VCT])
                .multiple(true)
                .require_holder_binding(false)
                .trusted_authority("aki", &["s9tIpPmhxdiuNkHMEWNpYim8S8Y", "other-aki"])
                .claim(&["given_name"])
                .claim_with_values(&["age_equal_or_over", "18"], vec![json!(true)])
                .claim_with_values(&["age_in_years"], [59, 60])
                .claims_query(
                    ClaimsQueryBuilder::path(&[
                        PathElement::Key("nationalities".into()),
                        PathElement::AllElements,
                    ])
                    .id("nat")
                    .values(["DE", "FR"]),
                ),
        )
        .credential(
            CredentialQueryBuilder::mso_mdoc("mdl", "org.iso.18013.5.1.mDL")
                .meta("extra", json!({"kept": true}))
                .claims_query(
                    ClaimsQueryBuilder::keys(&["org.iso.18013.5.1", "portrait"])
                        .intent_to_retain(true),
                ),
        )
        .credential(
            CredentialQueryBuilder::new("other", "vendor_format").meta("anything", json!(1)),
        )
        .credential_set(&[&["pid"], &["mdl"]], true)
        .credential_set(&[&["other"]], false)
        .build()
        .unwrap();
    let expected = json!({
        "credentials": [
            {
                "id": "pid",
                "format": "dc+sd-jwt",
                "multiple": true,
                "meta": {"vct_values": ["urn:eudi:pid:1", PID_VCT]},
                "trusted_authorities": [
                    {"type": "aki", "values": ["s9tIpPmhxdiuNkHMEWNpYim8S8Y", "other-aki"]}
                ],
                "require_cryptographic_holder_binding": false,
                "claims": [
                    {"path": ["given_name"]},
                    {"path": ["age_equal_or_over", "18"], "values": [true]},
                    {"path": ["age_in_years"], "values": [59, 60]},
                    {"id": "nat", "path": ["nationalities", null], "values": ["DE", "FR"]}
                ]
            },
            {
                "id": "mdl",
                "format": "mso_mdoc",
                "meta": {"doctype_value": "org.iso.18013.5.1.mDL", "extra": {"kept": true}},
                "claims": [
                    {"path": ["org.iso.18013.5.1", "portrait"], "intent_to_retain": true}
                ]
            },
            {"id": "other", "format": "vendor_format", "meta": {"anything": 1}}
        ],
        "credential_sets": [
            {"options": [["pid"], ["mdl"]]},
            {"options": [["other"]], "required": false}
        ]
    });
    builds(Ok(q.clone()), &expected);
    let pid = q.credential("pid").unwrap();
    assert!(pid.multiple && !pid.require_cryptographic_holder_binding);
    assert_eq!(pid.vct_values, ["urn:eudi:pid:1", PID_VCT]);
    let mdl = &q.credential("mdl").unwrap().claims.as_ref().unwrap()[0];
    assert_eq!(mdl.intent_to_retain, Some(true));

    // Defaults set explicitly give the same query, written without them.
    builds(
        one(
            CredentialQueryBuilder::sd_jwt_vc("my_credential", &[PID_VCT])
                .multiple(false)
                .require_holder_binding(true)
                .claim(&["family_name"])
                .claim(&["given_name"])
                .claim(&["address", "street_address"]),
        )
        .build(),
        &example_simple(),
    );
    let mut with_set = example_simple();
    with_set["credential_sets"] = json!([{"options": [["my_credential"]]}]);
    builds(
        one(
            CredentialQueryBuilder::sd_jwt_vc("my_credential", &[PID_VCT])
                .claim(&["family_name"])
                .claim(&["given_name"])
                .claim(&["address", "street_address"]),
        )
        .credential_set(&[&["my_credential"]], true)
        .build(),
        &with_set,
    );

    // No claims: nothing selectively disclosable is requested.
    let bare = one(CredentialQueryBuilder::sd_jwt_vc("pid", &[PID_VCT]))
        .build()
        .unwrap();
    assert!(bare.credentials()[0].claims.is_none());
    assert_eq!(
        bare.to_json(),
        json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt",
                                "meta": {"vct_values": [PID_VCT]}}]})
    );
}

#[test]
fn invalid_builds_are_refused_with_dcql_invalid() {
    let sd = |id: &str| CredentialQueryBuilder::sd_jwt_vc(id, &[PID_VCT]);
    let cases: Vec<(DcqlQueryBuilder, &str)> = vec![
        (DcqlQueryBuilder::new(), "credentials must not be empty"),
        (DcqlQueryBuilder::default(), "credentials must not be empty"),
        (one(sd("")), "credentials[0].id must not be empty"),
        (
            one(sd("my id")),
            "credentials[0].id \"my id\" may contain only",
        ),
        (
            DcqlQueryBuilder::new()
                .credential(sd("pid"))
                .credential(sd("pid")),
            "credentials[1].id \"pid\" is used by more than one",
        ),
        (
            one(CredentialQueryBuilder::new("pid", "")),
            "credentials[0].format must not be empty",
        ),
        (
            one(CredentialQueryBuilder::sd_jwt_vc("pid", &[])),
            "credentials[0].meta.vct_values must not be empty",
        ),
        (
            one(CredentialQueryBuilder::sd_jwt_vc("pid", &[""])),
            "credentials[0].meta.vct_values[0] must be a non-empty string",
        ),
        (
            one(CredentialQueryBuilder::new("pid", FORMAT_DC_SD_JWT)),
            "credentials[0].meta.vct_values is required",
        ),
        (
            one(sd("pid").meta("vct_values", json!(PID_VCT))),
            "credentials[0].meta.vct_values must be an array",
        ),
        (
            one(CredentialQueryBuilder::mso_mdoc("mdl", "")),
            "credentials[0].meta.doctype_value must be a non-empty string",
        ),
        (
            one(CredentialQueryBuilder::jwt_vc_json("vc", &[])),
            "credentials[0].meta.type_values must not be empty",
        ),
        (
            one(CredentialQueryBuilder::ldp_vc("vc", &[&[]])),
            "credentials[0].meta.type_values[0] must be a non-empty array",
        ),
        (
            one(
                CredentialQueryBuilder::mso_mdoc("mdl", "org.iso.18013.5.1.mDL")
                    .claim(&["given_name"]),
            ),
            "credentials[0].claims[0].path must be a namespace and a data element identifier",
        ),
        (
            one(
                CredentialQueryBuilder::mso_mdoc("mdl", "org.iso.18013.5.1.mDL").claim_path(&[
                    PathElement::Key("org.iso.18013.5.1".into()),
                    PathElement::AllElements,
                ]),
            ),
            "credentials[0].claims[0].path must be a namespace and a data element identifier",
        ),
        (
            one(sd("pid").claim(&[])),
            "credentials[0].claims[0].path: a claim path must not be empty",
        ),
        (
            one(sd("pid").claim_with_values(&["age"], Vec::<Value>::new())),
            "credentials[0].claims[0].values must not be empty",
        ),
        (
            one(sd("pid").claim_with_values(&["age"], [json!(18), json!(1.5)])),
            "credentials[0].claims[0].values[1] must be a string, an integer or a boolean",
        ),
        (
            one(sd("pid").claim_with_values(&["age"], [Value::Null])),
            "credentials[0].claims[0].values[0] must be a string, an integer or a boolean",
        ),
        (
            one(sd("pid").claim_with_id("a.b", &["x"])),
            "credentials[0].claims[0].id \"a.b\" may contain only",
        ),
        (
            one(sd("pid")
                .claim_with_id("a", &["x"])
                .claim_with_id("a", &["y"])),
            "credentials[0].claims[1].id \"a\" is used by more than one Claims Query",
        ),
        (
            one(sd("pid")
                .claim_with_id("a", &["x"])
                .claim(&["y"])
                .claim_sets(&[&["a"]])),
            "credentials[0].claims[1].id is required because the Credential Query has claim_sets",
        ),
        (
            one(sd("pid")
                .claim_with_id("a", &["x"])
                .claim_sets(&[&["a", "z"]])),
            "credentials[0].claim_sets[0][1] \"z\" is the id of no Claims Query",
        ),
        (
            one(sd("pid").claim_with_id("a", &["x"]).claim_sets(&[])),
            "credentials[0].claim_sets must not be empty",
        ),
        (
            one(sd("pid").claim_with_id("a", &["x"]).claim_set(&[])),
            "credentials[0].claim_sets[0] must not be empty",
        ),
        (
            one(sd("pid").claim_set(&["a"])),
            "credentials[0].claim_sets must not be present without claims",
        ),
        (
            one(sd("pid").trusted_authority("aki", &[])),
            "credentials[0].trusted_authorities[0].values must not be empty",
        ),
        (
            one(sd("pid").trusted_authority("", &["x"])),
            "credentials[0].trusted_authorities[0].type must be a non-empty string",
        ),
        (
            one(sd("pid").trusted_authority("aki", &["x", ""])),
            "credentials[0].trusted_authorities[0].values[1] must be a non-empty string",
        ),
        (
            one(sd("pid")).credential_set(&[], true),
            "credential_sets[0].options must not be empty",
        ),
        (
            one(sd("pid")).credential_set(&[&[]], false),
            "credential_sets[0].options[0] must not be empty",
        ),
        (
            one(sd("pid"))
                .credential_set(&[&["pid"]], true)
                .credential_set(&[&["pid"], &["nope"]], false),
            "credential_sets[1].options[1][0] \"nope\" is the id of no Credential Query",
        ),
    ];
    for (builder, needle) in cases {
        build_rejects(builder, needle);
    }
}

#[test]
fn built_queries_round_trip_through_to_json() {
    let q = DcqlQueryBuilder::new()
        .credential(
            CredentialQueryBuilder::sd_jwt_vc("pid", &["urn:eudi:pid:1"])
                .multiple(true)
                .require_holder_binding(false)
                .trusted_authority("etsi_tl", &["https://lotl.example.com"])
                .claim_with_id("g", &["given_name"])
                .claim_with_id("f", &["family_name"])
                .claims_query(
                    ClaimsQueryBuilder::keys(&["age_equal_or_over", "18"])
                        .id("age")
                        .values([true]),
                )
                .claims_query(
                    ClaimsQueryBuilder::path(&[
                        PathElement::Key("nationalities".into()),
                        PathElement::Index(0),
                    ])
                    .id("n"),
                )
                .claim_sets(&[&["g", "f", "age"], &["age"]])
                .claim_set(&["n"]),
        )
        .credential(mdoc_id_builder("mdl", "org.iso.18013.5.1.mDL"))
        .credential(
            CredentialQueryBuilder::jwt_vc_json("vc", &[&["VerifiableCredential", "IDCredential"]])
                .claim(&["credentialSubject", "given_name"]),
        )
        .credential_set(&[&["pid"], &["mdl", "vc"]], true)
        .credential_set(&[&["vc"]], false)
        .build()
        .unwrap();
    let json = q.to_json();
    let again = parse(&json);
    assert_eq!(again, q);
    assert_eq!(again.to_json(), json);
    // Through text, as sent in an Authorization Request.
    let text = serde_json::to_string(&json).unwrap();
    assert_eq!(parse(&serde_json::from_str(&text).unwrap()), q);
}

#[test]
fn to_json_writes_back_every_example_and_drops_unknown_properties() {
    for example in [
        example_simple(),
        example_encrypted_response_request(),
        example_simple_mdoc(),
        example_multi_credentials(),
        example_credentials_alternatives(),
        example_complex_mdoc(),
        example_claims_alternatives(),
        example_value_matching(),
        example_jwt_vc(),
        example_ldp_vc(),
    ] {
        assert_eq!(parse(&example).to_json(), example);
    }
    let mut extended = example_simple();
    extended["future"] = json!(1);
    extended["credentials"][0]["future"] = json!(2);
    extended["credentials"][0]["claims"][0]["future"] = json!(3);
    extended["credentials"][0]["meta"]["future"] = json!(4);
    let mut expected = example_simple();
    expected["credentials"][0]["meta"]["future"] = json!(4);
    assert_eq!(parse(&extended).to_json(), expected);
}

/// The example of the builder's documentation.
#[test]
fn the_documented_builder_example_works() {
    let query = DcqlQueryBuilder::new()
        .credential(
            CredentialQueryBuilder::sd_jwt_vc("pid", &["urn:eudi:pid:1"])
                .claim(&["given_name"])
                .claim(&["family_name"])
                .claim_with_values(&["age_equal_or_over", "18"], [true]),
        )
        .credential(
            CredentialQueryBuilder::mso_mdoc("mdl", "org.iso.18013.5.1.mDL")
                .claim(&["org.iso.18013.5.1", "given_name"]),
        )
        .credential_set(&[&["pid"], &["mdl"]], true)
        .build()
        .unwrap();
    let json = query.to_json();
    assert_eq!(
        json["credentials"][0]["meta"],
        json!({"vct_values": ["urn:eudi:pid:1"]})
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// `to_json` gives back the query it was parsed from (the generated queries hold no
    /// defaults), and parsing it gives back an equal query.
    #[test]
    fn to_json_round_trips_generated_queries(query in query_strategy()) {
        let q = DcqlQuery::parse(&query).unwrap();
        let json = q.to_json();
        prop_assert_eq!(&json, &query);
        prop_assert_eq!(DcqlQuery::parse(&json).unwrap(), q);
    }
}
