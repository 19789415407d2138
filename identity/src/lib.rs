//! VIVIM identity: one ed25519 key per node, shown as a `did:key`.
//!
//! This crate is the leaf of the workspace and does no IO: it turns keys into DIDs and back,
//! signs and verifies with domain separation, derives the X25519 key that `did:key` specifies for
//! key agreement, seals a secret for storage on disk (the node writes the file), and exports the
//! secret as a 24-word mnemonic.
//!
//! ```
//! use vivim_identity::{Keypair, Did, Purpose};
//!
//! let me = Keypair::from_seed(&[7u8; 32]);
//! let did: Did = me.did();
//! assert!(did.to_string().starts_with("did:key:z6Mk"));
//!
//! let sig = me.sign(Purpose::ACU, b"hello");
//! did.public_key().verify(Purpose::ACU, b"hello", &sig).unwrap();
//! // The same bytes under another purpose do not verify.
//! assert!(did.public_key().verify(Purpose::ENVELOPE, b"hello", &sig).is_err());
//!
//! // A DID string round-trips.
//! let parsed: Did = did.to_string().parse().unwrap();
//! assert_eq!(parsed, did);
//! ```

mod did;
mod keys;
mod keystore;
mod mnemonic;

pub use did::{Did, DidDocument, DidError, VerificationMethod};
pub use keys::{
    Keypair, PublicKey, Purpose, SharedSecret, Signature, SignatureError, X25519PublicKey,
};
pub use keystore::{KdfParams, KeystoreError, MAX_KEYSTORE_BYTES, SealedKey};

/// Largest keystore file a node should read, as a `u64` for file-size checks.
pub fn keystore_limit() -> u64 {
    MAX_KEYSTORE_BYTES as u64
}
pub use mnemonic::MnemonicError;
