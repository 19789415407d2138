#![no_main]
//! Keystore parsing and opening (plain keys only: no Argon2 cost) never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = vivim_identity::SealedKey::from_bytes(data)
        && !k.is_encrypted()
    {
        let _ = k.open(None);
    }
});
