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

/// Replays data fixtures (`test-vectors/attacks/<ROW>.json`): each file must parse, name its
/// own row, and pass `check`. Returns one line per problem.
pub(crate) fn replay_fixtures(
    paths: &[std::path::PathBuf],
    check: impl Fn(&serde_json::Value) -> Result<(), String>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for p in paths {
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        let f: serde_json::Value = match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{name}: unreadable: {e}"));
                continue;
            }
        };
        if f["row"].as_str() != Some(name.as_str()) {
            failures.push(format!("{name}: row {} does not match file name", f["row"]));
        }
        if let Err(e) = check(&f) {
            failures.push(format!("{name}: {e}"));
        }
    }
    failures
}
