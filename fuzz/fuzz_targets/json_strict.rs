//! The strict JSON parser (duplicate members, depth bound), differentially against
//! `serde_json`: whatever credkit accepts, serde_json accepts with the same value; whatever
//! serde_json refuses, credkit refuses; credkit refuses more only for a repeated member name
//! or the depth bound.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ours = credkit::json::parse(data, 32, "fuzz");
    let theirs = serde_json::from_slice::<serde_json::Value>(data);
    match (ours, theirs) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "credkit and serde_json read different values"),
        (Ok(_), Err(e)) => panic!("credkit accepted what serde_json refuses: {e}"),
        (Err(e), Ok(_)) => assert!(
            matches!(e.code(), "json_duplicate_key" | "json_depth_exceeded"),
            "credkit refused valid JSON with {}",
            e.code()
        ),
        (Err(_), Err(_)) => {}
    }
});
