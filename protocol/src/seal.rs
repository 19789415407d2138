//! Sealing content for an audience.
//!
//! Content is encrypted once with a random 32-byte content key (XChaCha20-Poly1305, random
//! 24-byte nonce, the key's id as associated data). The content key is then wrapped for each
//! recipient: one ephemeral X25519 key per wrapping, ECDH with the recipient's X25519 key
//! (derived from their DID), HKDF-SHA256 to a key-encryption key bound to both public keys, and
//! XChaCha20-Poly1305 over the content key. Sealing for N recipients therefore costs one
//! symmetric pass over the content plus N small key wraps. Hashes cover the ciphertext, so relays
//! can store and forward what they cannot read.

use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};
use serde::{Deserialize, Serialize};
use vivim_identity::{Keypair, PublicKey};
use zeroize::Zeroizing;

use crate::{AccessGrant, Hash, limits::MAX_GRANTS};

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The content does not decrypt with this key (wrong key, or tampered ciphertext).
    #[error("sealed content does not decrypt with this key (wrong key or tampered)")]
    Decrypt,
    /// The sealed body names another content key.
    #[error("sealed content was sealed with key {expected}, not {found}")]
    WrongKey {
        /// The key id in the body.
        expected: String,
        /// The key id offered.
        found: String,
    },
    /// The grant is for someone else.
    #[error("this grant is for {0}, not for this identity")]
    NotRecipient(String),
    /// The grant does not open with our key.
    #[error("the key grant does not open with this identity's key (tampered or not for us)")]
    Unwrap,
    /// A recipient key is degenerate (low order): no shared secret.
    #[error("recipient key {0} cannot be used for key agreement")]
    BadRecipient(String),
    /// More recipients than allowed.
    #[error("{0} recipients, over the limit of {MAX_GRANTS}")]
    TooManyRecipients(usize),
    /// A sealed blob is larger than any sealed record can be.
    #[error("a sealed blob of {0} bytes is over the limit of {MAX_SEALED_BYTES}")]
    TooLarge(usize),
    /// A sealed blob is not a sealed body.
    #[error("not a sealed body: {0}")]
    Malformed(String),
}

/// Largest sealed blob: the largest record (an ACU) plus the sealing's own fields.
pub const MAX_SEALED_BYTES: usize = crate::limits::MAX_ACU_BYTES + 256;

/// Most plaintext in one bundle of records (a record larger than this goes alone).
pub const BUNDLE_BYTES: usize = crate::limits::MAX_ACU_BYTES;

/// Packs signed records, in order, into bundles — each the CBOR array of the records' bytes,
/// at most [`BUNDLE_BYTES`] encoded unless one record alone is larger. A sealed share is one
/// sealed blob per bundle: a 1,000-message conversation of small messages is a couple of blobs,
/// not a thousand (sealed content never dedups, so per-record blobs buy nothing).
pub fn pack_records(records: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < records.len() {
        let mut end = start;
        // The array's header and each byte string's header take up to 9 bytes.
        let mut size = 9;
        while end < records.len() && (end == start || size + records[end].len() + 9 <= BUNDLE_BYTES)
        {
            size += records[end].len() + 9;
            end += 1;
        }
        let bundle: Vec<&serde_bytes::Bytes> = records[start..end]
            .iter()
            .map(|r| serde_bytes::Bytes::new(r))
            .collect();
        let mut buf = Vec::with_capacity(size);
        ciborium::into_writer(&bundle, &mut buf).expect("writing CBOR to a Vec does not fail");
        out.push(buf);
        start = end;
    }
    out
}

/// Reads a bundle made by [`pack_records`] (the plaintext of one sealed blob).
pub fn unpack_records(bundle: &[u8]) -> Result<Vec<Vec<u8>>, SealError> {
    if bundle.len() > MAX_SEALED_BYTES {
        return Err(SealError::TooLarge(bundle.len()));
    }
    let records: Vec<serde_bytes::ByteBuf> =
        ciborium::from_reader(bundle).map_err(|e| SealError::Malformed(e.to_string()))?;
    Ok(records.into_iter().map(|r| r.into_vec()).collect())
}

/// A symmetric content key. Zeroed on drop.
#[derive(Clone)]
pub struct ContentKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContentKey(id {})", self.id().short())
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).expect("the OS random source is unavailable");
    b
}

impl ContentKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        ContentKey(Zeroizing::new(random()))
    }

    /// A key from its bytes (e.g. from a link's URL fragment).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ContentKey(Zeroizing::new(bytes))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key's public id: BLAKE3 in derive-key mode; reveals nothing about the key.
    pub fn id(&self) -> Hash {
        Hash(blake3::derive_key(
            "vivim/v1/content-key-id",
            self.0.as_ref(),
        ))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }

    /// Encrypts `plaintext` under this key.
    pub fn seal(&self, plaintext: &[u8]) -> SealedBody {
        let key_id = self.id();
        let nonce: [u8; 24] = random();
        let ciphertext = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: key_id.as_bytes(),
                },
            )
            // XChaCha20-Poly1305 encryption fails only beyond 256 GiB of plaintext.
            .expect("plaintext within the AEAD's length limit");
        SealedBody {
            key_id,
            nonce,
            ciphertext,
        }
    }

    /// Seals a record's bytes into a blob: the canonical CBOR of a [`SealedBody`]. This is what
    /// a sealed share's hash sequence holds, one blob per manifest or ACU.
    pub fn seal_blob(&self, plaintext: &[u8]) -> Vec<u8> {
        let body = self.seal(plaintext);
        let mut out = Vec::with_capacity(body.ciphertext.len() + 96);
        ciborium::into_writer(&body, &mut out).expect("writing CBOR to a Vec does not fail");
        out
    }

    /// Opens a blob made by [`ContentKey::seal_blob`], checking its size before parsing.
    pub fn open_blob(&self, blob: &[u8]) -> Result<Vec<u8>, SealError> {
        if blob.len() > MAX_SEALED_BYTES {
            return Err(SealError::TooLarge(blob.len()));
        }
        let body: SealedBody =
            ciborium::from_reader(blob).map_err(|e| SealError::Malformed(e.to_string()))?;
        self.open(&body)
    }

    /// Decrypts a body sealed under this key.
    pub fn open(&self, body: &SealedBody) -> Result<Vec<u8>, SealError> {
        let id = self.id();
        if body.key_id != id {
            return Err(SealError::WrongKey {
                expected: body.key_id.short(),
                found: id.short(),
            });
        }
        self.cipher()
            .decrypt(
                XNonce::from_slice(&body.nonce),
                Payload {
                    msg: &body.ciphertext,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Decrypt)
    }
}

/// Content encrypted under a content key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedBody {
    /// Id of the content key.
    pub key_id: Hash,
    /// Random nonce.
    #[serde(with = "serde_bytes")]
    pub nonce: [u8; 24],
    /// Ciphertext with its 16-byte tag.
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

fn key_encryption_key(
    shared: &[u8; 32],
    ephemeral: &[u8; 32],
    recipient_x: &[u8; 32],
) -> Zeroizing<[u8; 32]> {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, shared);
    let mut info = [0u8; 17 + 64];
    info[..17].copy_from_slice(b"vivim/v1/key-wrap");
    info[17..49].copy_from_slice(ephemeral);
    info[49..].copy_from_slice(recipient_x);
    let mut okm = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's output limit.
    hk.expand(&info, okm.as_mut())
        .expect("32 bytes is a valid HKDF length");
    okm
}

/// Each key-encryption key is used exactly once, so a fixed nonce is safe.
const WRAP_NONCE: [u8; 24] = [0u8; 24];

/// Wraps `key` for each recipient (one ephemeral X25519 key for the whole call).
pub fn wrap_key(key: &ContentKey, recipients: &[PublicKey]) -> Result<Vec<AccessGrant>, SealError> {
    if recipients.len() > MAX_GRANTS {
        return Err(SealError::TooManyRecipients(recipients.len()));
    }
    let eph = x25519_dalek::StaticSecret::from(random::<32>());
    let eph_pub = x25519_dalek::PublicKey::from(&eph).to_bytes();
    let key_id = key.id();
    recipients
        .iter()
        .map(|r| {
            let rx = r.x25519().to_bytes();
            let shared = eph.diffie_hellman(&x25519_dalek::PublicKey::from(rx));
            if !shared.was_contributory() {
                return Err(SealError::BadRecipient(r.to_string()));
            }
            let kek = key_encryption_key(shared.as_bytes(), &eph_pub, &rx);
            let wrapped = XChaCha20Poly1305::new(kek.as_ref().into())
                .encrypt(
                    XNonce::from_slice(&WRAP_NONCE),
                    Payload {
                        msg: key.as_bytes(),
                        aad: key_id.as_bytes(),
                    },
                )
                .expect("32 bytes within the AEAD's length limit");
            Ok(AccessGrant {
                recipient: *r,
                key_id,
                ephemeral: eph_pub,
                wrapped,
            })
        })
        .collect()
}

/// Opens a grant addressed to `me`, giving the content key.
pub fn open_grant(grant: &AccessGrant, me: &Keypair) -> Result<ContentKey, SealError> {
    if grant.recipient != me.public() {
        return Err(SealError::NotRecipient(grant.recipient.to_string()));
    }
    let my_x = me.public().x25519().to_bytes();
    let shared = me.agree(&vivim_identity::X25519PublicKey(grant.ephemeral));
    let kek = key_encryption_key(shared.as_bytes(), &grant.ephemeral, &my_x);
    let bytes = XChaCha20Poly1305::new(kek.as_ref().into())
        .decrypt(
            XNonce::from_slice(&WRAP_NONCE),
            Payload {
                msg: &grant.wrapped,
                aad: grant.key_id.as_bytes(),
            },
        )
        .map_err(|_| SealError::Unwrap)?;
    let bytes = Zeroizing::new(bytes);
    let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| SealError::Unwrap)?;
    let key = ContentKey::from_bytes(arr);
    if key.id() != grant.key_id {
        return Err(SealError::Unwrap);
    }
    Ok(key)
}

/// Seals `plaintext` for `recipients`: a fresh content key, the sealed body, one grant each.
pub fn seal_for(
    plaintext: &[u8],
    recipients: &[PublicKey],
) -> Result<(SealedBody, Vec<AccessGrant>), SealError> {
    let key = ContentKey::generate();
    let grants = wrap_key(&key, recipients)?;
    Ok((key.seal(plaintext), grants))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_for_each_recipient_only() {
        let a = Keypair::from_seed(&[1; 32]);
        let b = Keypair::from_seed(&[2; 32]);
        let c = Keypair::from_seed(&[3; 32]);
        let (body, grants) = seal_for(b"secret plan", &[a.public(), b.public()]).unwrap();
        assert!(!body.ciphertext.windows(6).any(|w| w == b"secret"));
        for (g, who) in grants.iter().zip([&a, &b]) {
            let k = open_grant(g, who).unwrap();
            assert_eq!(k.open(&body).unwrap(), b"secret plan");
        }
        // C is not a recipient: no grant opens for C.
        assert!(matches!(
            open_grant(&grants[0], &c),
            Err(SealError::NotRecipient(_))
        ));
        // Relabelling a grant for C does not help: the wrap is bound to A's key.
        let mut stolen = grants[0].clone();
        stolen.recipient = c.public();
        assert_eq!(open_grant(&stolen, &c).unwrap_err(), SealError::Unwrap);
    }

    #[test]
    fn blobs_round_trip_and_refuse_garbage() {
        let k = ContentKey::generate();
        let blob = k.seal_blob(b"a signed record");
        assert_eq!(k.open_blob(&blob).unwrap(), b"a signed record");
        assert!(matches!(
            k.open_blob(&[0xff; 40]),
            Err(SealError::Malformed(_))
        ));
        assert!(matches!(
            k.open_blob(&vec![0; MAX_SEALED_BYTES + 1]),
            Err(SealError::TooLarge(_))
        ));
        assert!(matches!(
            ContentKey::generate().open_blob(&blob),
            Err(SealError::WrongKey { .. })
        ));
    }

    #[test]
    fn bundles_keep_order_and_bounds() {
        let records: Vec<Vec<u8>> = (0..50)
            .map(|i| vec![i as u8; if i == 7 { BUNDLE_BYTES } else { 40_000 }])
            .chain((0..3000).map(|i| vec![i as u8; 300]))
            .collect();
        let bundles = pack_records(&records);
        assert!(bundles.len() < 10, "{} bundles", bundles.len());
        assert!(bundles.iter().all(|b| b.len() <= BUNDLE_BYTES + 16));
        let mut back = Vec::new();
        for b in &bundles {
            let k = ContentKey::generate();
            let sealed = k.seal_blob(b);
            assert!(sealed.len() <= MAX_SEALED_BYTES, "{}", sealed.len());
            back.extend(unpack_records(&k.open_blob(&sealed).unwrap()).unwrap());
        }
        assert_eq!(back, records);
        assert!(pack_records(&[]).is_empty());
        assert!(unpack_records(&[0xa0]).is_err());
    }

    #[test]
    fn tampering_is_detected() {
        let a = Keypair::from_seed(&[1; 32]);
        let (mut body, grants) = seal_for(b"hello", &[a.public()]).unwrap();
        let key = open_grant(&grants[0], &a).unwrap();
        body.ciphertext[0] ^= 1;
        assert_eq!(key.open(&body).unwrap_err(), SealError::Decrypt);
        let other = ContentKey::generate();
        assert!(matches!(other.open(&body), Err(SealError::WrongKey { .. })));
        let mut g = grants[0].clone();
        g.wrapped[3] ^= 0x80;
        assert_eq!(open_grant(&g, &a).unwrap_err(), SealError::Unwrap);
    }
}
