#![no_main]
//! A key grant from a peer's intent (recipient, key id, ephemeral key, wrapped key): opening it
//! is an error or a key, never a panic, whatever the bytes.
use libfuzzer_sys::fuzz_target;
use vivim_identity::Keypair;
use vivim_protocol::{AccessGrant, Hash, open_grant};

fuzz_target!(|data: &[u8]| {
    let me = Keypair::from_seed(&[5; 32]);
    if data.len() < 64 {
        return;
    }
    let mut key_id = [0u8; 32];
    key_id.copy_from_slice(&data[..32]);
    let mut ephemeral = [0u8; 32];
    ephemeral.copy_from_slice(&data[32..64]);
    let grant = AccessGrant {
        recipient: me.public(),
        key_id: Hash(key_id),
        ephemeral,
        wrapped: data[64..].to_vec(),
    };
    let _ = open_grant(&grant, &me);
    // And as CBOR, the way it travels inside an intent.
    if let Ok(g) = ciborium::from_reader::<AccessGrant, _>(data) {
        let _ = open_grant(&g, &me);
    }
});
