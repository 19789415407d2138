#![no_main]
//! Decoding arbitrary bytes as a signed Manifest returns an error or a verified value, never panics.
use libfuzzer_sys::fuzz_target;
use vivim_protocol::{Manifest, Signed};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = Signed::<Manifest>::decode(data) {
        // Whatever decodes re-decodes to the same id from its own bytes.
        let again = Signed::<Manifest>::decode(v.bytes()).expect("re-decode");
        assert_eq!(again.id(), v.id());
    }
});
