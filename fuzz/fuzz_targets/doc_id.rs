#![no_main]
//! Any string as a document id: an error or an id that prints back to itself.
use libfuzzer_sys::fuzz_target;
use vivim_crdt::DocId;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = s.parse::<DocId>() {
        let printed = id.to_string();
        assert_eq!(printed.parse::<DocId>().unwrap(), id);
    }
});
