//! JWS compact parsing and header checks.
#![no_main]
use credkit::jose::{Algorithm, Jws};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(jws) = Jws::parse_compact(text) {
            let _ = jws.require_alg(&Algorithm::ALL);
            let _ = jws.check_typ(&["dc+sd-jwt"]);
            let _ = jws.payload_json(32);
        }
    }
});
