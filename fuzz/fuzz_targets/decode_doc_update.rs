#![no_main]
//! Decoding arbitrary bytes as a signed DocUpdate returns an error or a verified value, never panics.
use libfuzzer_sys::fuzz_target;
use vivim_protocol::{DocUpdate, Signed};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = Signed::<DocUpdate>::decode(data) {
        let again = Signed::<DocUpdate>::decode(v.bytes()).expect("re-decode");
        assert_eq!(again.id(), v.id());
    }
});
