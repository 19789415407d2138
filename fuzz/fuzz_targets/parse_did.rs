#![no_main]
//! DID parsing never panics and round-trips what it accepts.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(did) = s.parse::<vivim_identity::Did>()
    {
        assert_eq!(did.to_string(), s);
    }
});
