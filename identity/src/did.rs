//! The `did:key` codec (Ed25519, multicodec `0xed01`, base58btc) and the DID document.
//!
//! Written from the W3C CCG did:key specification and checked against its published test
//! vectors (`tests/did_key_vectors.rs`).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::keys::{PublicKey, X25519PublicKey};

/// Multicodec varint prefix of an Ed25519 public key (`0xed`).
const ED25519_PUB: [u8; 2] = [0xed, 0x01];
/// Multicodec varint prefix of an X25519 public key (`0xec`).
const X25519_PUB: [u8; 2] = [0xec, 0x01];
/// Longest DID string we will even look at (an Ed25519 did:key is 56 characters).
const MAX_DID_LEN: usize = 256;

/// Why a string is not a DID we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidError {
    /// The string does not start with `did:`.
    #[error("not a DID: expected something like did:key:z6Mk…, got {0:?}")]
    NotADid(String),
    /// A DID of another method (did:web, did:plc, …).
    #[error("DID method {0:?} is not supported: VIVIM identities are did:key")]
    UnsupportedMethod(String),
    /// The string is longer than any did:key.
    #[error("DID is {0} characters long; a did:key is at most {MAX_DID_LEN}")]
    TooLong(usize),
    /// A DID URL with a path, query or fragment where a bare DID was expected.
    #[error("expected a bare DID, found a DID URL part {0:?} (drop everything from it on)")]
    NotBare(String),
    /// The method-specific id does not start with the base58btc multibase prefix `z`.
    #[error("did:key id must be multibase base58btc (start with 'z'), found {0:?}")]
    UnsupportedMultibase(char),
    /// The method-specific id is empty.
    #[error("did:key has an empty key part")]
    Empty,
    /// The key part is not valid base58.
    #[error("did:key key part is not valid base58btc")]
    BadBase58,
    /// A key type other than Ed25519.
    #[error(
        "did:key holds a {name} key (multicodec 0x{codec:x}); VIVIM identities are Ed25519 (z6Mk…)"
    )]
    UnsupportedKeyType {
        /// The multicodec code found.
        codec: u64,
        /// A human name for it.
        name: &'static str,
    },
    /// The key bytes have the wrong length.
    #[error("Ed25519 key in did:key has {0} bytes; expected 32")]
    BadKeyLength(usize),
    /// The bytes are not a point on the Ed25519 curve.
    #[error("did:key holds 32 bytes that are not a valid Ed25519 public key")]
    InvalidKey,
}

/// A `did:key` naming an Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Did(PublicKey);

impl Did {
    /// The DID of a public key.
    pub fn from_public_key(key: PublicKey) -> Self {
        Did(key)
    }

    /// The public key this DID names.
    pub fn public_key(&self) -> PublicKey {
        self.0
    }

    /// The method-specific id (`z6Mk…`), which is also the fragment of the key's verification
    /// method.
    pub fn key_id(&self) -> String {
        multibase(ED25519_PUB, self.0.as_bytes())
    }

    /// The multibase form of the derived X25519 key agreement key (`z6LS…`).
    pub fn key_agreement_id(&self) -> String {
        x25519_multibase(&self.0.x25519())
    }

    /// The DID document as the did:key method defines it.
    pub fn document(&self) -> DidDocument {
        let did = self.to_string();
        let ed_id = format!("{did}#{}", self.key_id());
        let x = self.0.x25519();
        let x_mb = x25519_multibase(&x);
        let x_id = format!("{did}#{x_mb}");
        DidDocument {
            context: vec![
                "https://www.w3.org/ns/did/v1".into(),
                "https://w3id.org/security/multikey/v1".into(),
            ],
            id: did.clone(),
            verification_method: vec![
                VerificationMethod {
                    id: ed_id.clone(),
                    kind: "Multikey".into(),
                    controller: did.clone(),
                    public_key_multibase: self.key_id(),
                },
                VerificationMethod {
                    id: x_id.clone(),
                    kind: "Multikey".into(),
                    controller: did,
                    public_key_multibase: x_mb,
                },
            ],
            authentication: vec![ed_id.clone()],
            assertion_method: vec![ed_id.clone()],
            capability_invocation: vec![ed_id.clone()],
            capability_delegation: vec![ed_id],
            key_agreement: vec![x_id],
        }
    }
}

/// The multibase (base58btc) multicodec form of an X25519 key: `z6LS…`.
pub(crate) fn x25519_multibase(key: &X25519PublicKey) -> String {
    multibase(X25519_PUB, &key.0)
}

fn multibase(codec: [u8; 2], key: &[u8; 32]) -> String {
    let mut raw = [0u8; 34];
    raw[..2].copy_from_slice(&codec);
    raw[2..].copy_from_slice(key);
    let mut s = String::with_capacity(48);
    s.push('z');
    s.push_str(&bs58::encode(raw).into_string());
    s
}

/// Reads an unsigned LEB128 varint (the multicodec prefix); at most 9 bytes.
fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(9) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn codec_name(codec: u64) -> &'static str {
    match codec {
        0xec => "X25519 (key agreement only)",
        0xe7 => "secp256k1",
        0x1200 => "P-256",
        0x1201 => "P-384",
        0x1202 => "P-521",
        0x1205 => "RSA",
        0xeb => "BLS12-381 G2",
        _ => "unknown",
    }
}

impl FromStr for Did {
    type Err = DidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_DID_LEN {
            return Err(DidError::TooLong(s.len()));
        }
        let rest = s
            .strip_prefix("did:")
            .ok_or_else(|| DidError::NotADid(s.chars().take(64).collect()))?;
        let (method, id) = rest
            .split_once(':')
            .ok_or_else(|| DidError::NotADid(s.to_string()))?;
        if method != "key" {
            return Err(DidError::UnsupportedMethod(method.to_string()));
        }
        if let Some(pos) = id.find(['#', '?', '/']) {
            return Err(DidError::NotBare(id[pos..].to_string()));
        }
        let mut chars = id.chars();
        let prefix = chars.next().ok_or(DidError::Empty)?;
        if prefix != 'z' {
            return Err(DidError::UnsupportedMultibase(prefix));
        }
        let raw = bs58::decode(chars.as_str())
            .into_vec()
            .map_err(|_| DidError::BadBase58)?;
        let (codec, used) = read_varint(&raw).ok_or(DidError::BadBase58)?;
        if codec != 0xed {
            return Err(DidError::UnsupportedKeyType {
                codec,
                name: codec_name(codec),
            });
        }
        let key = &raw[used..];
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| DidError::BadKeyLength(key.len()))?;
        let pk = PublicKey::from_bytes(&key).map_err(|_| DidError::InvalidKey)?;
        Ok(Did(pk))
    }
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("did:key:")?;
        f.write_str(&self.key_id())
    }
}

impl fmt::Debug for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Did({self})")
    }
}

impl Serialize for Did {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Did {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PublicKey::deserialize(d).map(Did)
    }
}

/// A verification method in a DID document (`Multikey` form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationMethod {
    /// `did:key:…#z…`
    pub id: String,
    /// Always `Multikey`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The DID that controls the key.
    pub controller: String,
    /// The key, multicodec-prefixed and multibase (base58btc) encoded.
    #[serde(rename = "publicKeyMultibase")]
    pub public_key_multibase: String,
}

/// A W3C DID Core document for a did:key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DidDocument {
    /// JSON-LD contexts.
    #[serde(rename = "@context")]
    pub context: Vec<String>,
    /// The DID.
    pub id: String,
    /// The Ed25519 key and the derived X25519 key.
    pub verification_method: Vec<VerificationMethod>,
    /// Keys that authenticate as the DID.
    pub authentication: Vec<String>,
    /// Keys that make assertions (signatures on content).
    pub assertion_method: Vec<String>,
    /// Keys that invoke capabilities.
    pub capability_invocation: Vec<String>,
    /// Keys that delegate capabilities.
    pub capability_delegation: Vec<String>,
    /// Keys for key agreement (the X25519 key).
    pub key_agreement: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Keypair;

    fn err(s: &str) -> DidError {
        s.parse::<Did>().unwrap_err()
    }

    #[test]
    fn rejects_malformed_dids_with_distinct_errors() {
        assert!(matches!(err("hello"), DidError::NotADid(_)));
        assert!(matches!(err("did:"), DidError::NotADid(_)));
        assert!(matches!(err("did:web:example.com"), DidError::UnsupportedMethod(m) if m == "web"));
        assert_eq!(err("did:key:"), DidError::Empty);
        assert_eq!(err("did:key:f00"), DidError::UnsupportedMultibase('f'));
        assert_eq!(err("did:key:z0OIl"), DidError::BadBase58);
        assert!(matches!(
            err(&"did:key:z".repeat(100)),
            DidError::TooLong(_)
        ));
        let good = Keypair::from_seed(&[0; 32]).did().to_string();
        assert!(matches!(err(&format!("{good}#frag")), DidError::NotBare(_)));
        // X25519 did:key (z6LS…): a key agreement key, not an identity.
        assert!(matches!(
            err("did:key:z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW"),
            DidError::UnsupportedKeyType { codec: 0xec, .. }
        ));
        // secp256k1 did:key from the spec.
        assert!(matches!(
            err("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"),
            DidError::UnsupportedKeyType { codec: 0xe7, .. }
        ));
        // Truncated Ed25519 key.
        let mut raw = vec![0xed, 0x01];
        raw.extend_from_slice(&[7u8; 31]);
        let truncated = format!("did:key:z{}", bs58::encode(raw).into_string());
        assert_eq!(err(&truncated), DidError::BadKeyLength(31));
    }

    #[test]
    fn round_trip_many() {
        for i in 0..=255u8 {
            let did = Keypair::from_seed(&[i; 32]).did();
            assert_eq!(did.to_string().parse::<Did>().unwrap(), did);
        }
    }
}
