#![no_main]
//! A gossip message on any of the node's topics (and the large-update hint on a document topic)
//! gets a verdict, never a panic; an accepted document update names the topic's document and
//! its writer.
use libfuzzer_sys::fuzz_target;
use vivim_node::net::gossip::{
    ANNOUNCE_TOPIC, DOC_TOPIC_PREFIX, PIN_TOPIC, USER_TOPIC_PREFIX, Verdict, validate,
};

const WRITER: &str = "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";

fuzz_target!(|data: &[u8]| {
    let user = format!("{USER_TOPIC_PREFIX}did:key:{WRITER}");
    let doc = format!("{DOC_TOPIC_PREFIX}circle.{WRITER}.c1");
    for topic in [ANNOUNCE_TOPIC, PIN_TOPIC, user.as_str(), doc.as_str(), "vivim/doc/1/garbage"] {
        let v = validate(topic, data);
        if topic == "vivim/doc/1/garbage" {
            assert_eq!(v, Verdict::Ignore);
        }
    }
    // The topic itself from the input.
    if let Ok(t) = std::str::from_utf8(data) {
        let _ = validate(t, data);
    }
});
