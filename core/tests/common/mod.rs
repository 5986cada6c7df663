//! Helpers shared by the integration tests (each test crate uses what it needs).
#![allow(dead_code, clippy::unwrap_used)]

/// Splits a compact SD-JWT(+KB) into JWT, Disclosures and the last component.
pub(crate) fn split(p: &str) -> (String, Vec<String>, String) {
    let mut v: Vec<String> = p.split('~').map(str::to_owned).collect();
    let last = v.pop().unwrap();
    let jwt = v.remove(0);
    (jwt, v, last)
}

/// Joins JWT, Disclosures and the last component back into a compact SD-JWT(+KB).
pub(crate) fn join(jwt: &str, ds: &[String], last: &str) -> String {
    let mut s = format!("{jwt}~");
    for d in ds {
        s.push_str(d);
        s.push('~');
    }
    s.push_str(last);
    s
}

/// The selectively disclosable claims of the RFC 9901 example credential the tests issue.
pub(crate) const STD_SD: [&str; 7] = [
    "/given_name",
    "/family_name",
    "/address",
    "/address/street_address",
    "/address/locality",
    "/nationalities/1",
    "/nationalities/2",
];
