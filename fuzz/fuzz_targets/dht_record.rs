#![no_main]
//! A DHT put from a peer: any key and value (and whatever is stored under the key) is refused
//! with a reason or accepted; accepted values decode as the key's signed record. Never a panic.
use libfuzzer_sys::fuzz_target;
use vivim_node::net::records::{check_provider, check_put};
use vivim_protocol::{Announce, PeerRecord, Signed};

fuzz_target!(|data: &[u8]| {
    // [key len][key][value len / 2 split][value][stored]
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (key, rest) = rest.split_at((n as usize).min(rest.len()));
    let (value, stored) = rest.split_at(rest.len() / 2);
    let key_s = std::str::from_utf8(key).unwrap_or("");
    // Prefix some inputs with the real key shapes so the decoders behind them are reached.
    for k in [key.to_vec(), format!("/vivim/did/{key_s}").into_bytes(), format!("/vivim/conv/{key_s}").into_bytes()] {
        let stored = (!stored.is_empty()).then_some(stored);
        if check_put(&k, value, stored, 1_700_000_000_000).is_ok() {
            let ok = Signed::<PeerRecord>::decode(value).is_ok() || Signed::<Announce>::decode(value).is_ok();
            assert!(ok, "an accepted value that is no signed record");
        }
        let _ = check_provider(&k);
    }
    let _ = Signed::<PeerRecord>::decode(data);
    let _ = Signed::<Announce>::decode(data);
});
