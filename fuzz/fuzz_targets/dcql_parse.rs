//! DCQL query parsing and resolution against a fixed candidate.
#![no_main]
use credkit::dcql::{CandidateCredential, DcqlQuery};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = credkit::json::parse(data, 16, "fuzz") else { return };
    let Ok(q) = DcqlQuery::parse(&v) else { return };
    let claims = serde_json::json!({"given_name": "E", "address": {"locality": "B"}, "n": ["DE", "FR"]});
    let claims = claims.as_object().cloned().unwrap_or_default();
    let disclosable = vec!["/given_name".to_owned(), "/address/locality".to_owned(), "/n/1".to_owned()];
    let c = CandidateCredential {
        id: "c",
        format: "dc+sd-jwt",
        vct: "urn:x:1",
        claims: &claims,
        disclosable: &disclosable,
        holder_binding: true,
        authority_ids: &[],
    };
    let _ = q.resolve(&[c]);
    let _ = q.to_json();
});
