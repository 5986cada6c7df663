//! Status list decoding: JSON and CBOR forms, bounded inflate, lookups.
#![no_main]
use credkit::status_list::{Bits, StatusList};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Some((&bits, rest)) = data.split_first() {
        if let Ok(b) = Bits::new(u64::from(bits % 9)) {
            if let Ok(l) = StatusList::decompress(b, rest, MAX) {
                let _ = l.get(u64::from(bits) * 7);
            }
        }
    }
    let _ = StatusList::from_cbor(data, MAX);
    if let Ok(v) = credkit::json::parse_object(data, 8, "fuzz") {
        let _ = StatusList::from_json(&v, MAX);
    }
});
