#![no_main]
//! Decoding arbitrary bytes as a signed Acu returns an error or a verified value, never panics.
use libfuzzer_sys::fuzz_target;
use vivim_protocol::{Acu, Signed};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = Signed::<Acu>::decode(data) {
        // Whatever decodes re-decodes to the same id from its own bytes.
        let again = Signed::<Acu>::decode(v.bytes()).expect("re-decode");
        assert_eq!(again.id(), v.id());
    }
});
