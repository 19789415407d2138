//! VIVIM wire types and their canonical encoding.
//!
//! Every top-level type is CBOR (ciborium) with a fixed field order, carries a format version
//! `v` as its first field, and, where it has an author, an ed25519 signature over its own
//! encoding without the signature, domain-separated by purpose. A record's id is the BLAKE3 hash
//! of its encoded signed bytes — the same hash iroh-blobs gives the blob — so any peer can fetch
//! it by hash and verify both integrity and authorship. This crate does no IO.
//!
//! ```
//! use vivim_identity::Keypair;
//! use vivim_protocol::{Acu, Body, ConvId, Kind, Role, Signed};
//!
//! let me = Keypair::from_seed(&[1; 32]);
//! let conv = ConvId::for_import(&me.public(), "chatgpt", "abc-123");
//! let acu = Acu::new(conv, None, me.public(), Role::User, Kind::Text, Body::text("hi"), 1_700_000_000_000);
//! let signed = Signed::sign(acu, &me).unwrap();
//!
//! // Anyone holding the bytes can check them.
//! let back = Signed::<Acu>::decode(signed.bytes()).unwrap();
//! assert_eq!(back.id(), signed.id());
//! assert_eq!(back.id().as_bytes(), blake3::hash(signed.bytes()).as_bytes());
//! assert_eq!(back.value().body.as_text(), Some("hi"));
//! ```

mod acu;
mod codec;
mod conversation;
mod doc;
mod envelope;
mod hash;
pub mod limits;
mod link;
mod memory;
mod peer;
mod seal;
mod sharing;

pub use acu::{Acu, Body, Kind, Role};
pub use codec::{DecodeError, EncodeError, Record, Signed, decode_unsigned, encode_unsigned};
pub use conversation::{ConvId, ForkOf, Manifest, hash_seq_bytes, parse_hash_seq};
pub use doc::{DocUpdate, DocUpdateKind, MAX_DOC_UPDATE_BYTES};
pub use envelope::{Envelope, FreshnessError};
pub use hash::{Hash, ParseHashError};
pub use link::{LINK_PREFIX, LinkError, MAX_LINK_CHARS, ShareLink};
pub use memory::{Consolidation, Memory, MemoryType};
pub use peer::{Announce, MAX_ADDRS, MAX_DHT_RECORD_BYTES, PeerRecord};
pub use seal::{
    BUNDLE_BYTES, ContentKey, MAX_SEALED_BYTES, SealError, SealedBody, open_grant, pack_records,
    seal_for, unpack_records, wrap_key,
};
pub use sharing::{AccessGrant, Audience, ContentType, IntentKind, IntentStatus, SharingIntent};
