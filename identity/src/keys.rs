//! Keys, domain-separated signatures and X25519 agreement.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::did::Did;

/// The purpose a signature is made for. Every signature covers
/// `b"vivim/v1/" || purpose || b"\0" || message`, so that bytes signed for one purpose can never
/// be replayed as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Purpose(&'static str);

impl Purpose {
    /// An Atomic Chat Unit.
    pub const ACU: Purpose = Purpose("acu");
    /// A conversation manifest.
    pub const MANIFEST: Purpose = Purpose("manifest");
    /// A memory record.
    pub const MEMORY: Purpose = Purpose("memory");
    /// A sharing intent.
    pub const SHARING_INTENT: Purpose = Purpose("sharing-intent");
    /// A gossip envelope.
    pub const ENVELOPE: Purpose = Purpose("envelope");
    /// A DHT peer record.
    pub const PEER_RECORD: Purpose = Purpose("peer-record");
    /// A device delegation.
    pub const DELEGATION: Purpose = Purpose("delegation");
    /// A gateway login challenge.
    pub const LOGIN: Purpose = Purpose("login");

    /// A purpose for a record type defined elsewhere. The name must be ASCII and contain no NUL.
    pub const fn custom(name: &'static str) -> Purpose {
        Purpose(name)
    }

    /// The purpose's name (`"acu"`, `"envelope"`, …).
    pub fn name(&self) -> &'static str {
        self.0
    }

    /// The bytes actually signed for `msg` under this purpose.
    pub fn signing_bytes(&self, msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(10 + self.0.len() + msg.len());
        out.extend_from_slice(b"vivim/v1/");
        out.extend_from_slice(self.0.as_bytes());
        out.push(0);
        out.extend_from_slice(msg);
        out
    }
}

/// A signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature does not match the message and key.
    #[error("signature does not verify for this key and message")]
    Invalid,
    /// The public key bytes are not a valid ed25519 point.
    #[error("not a valid ed25519 public key")]
    BadPublicKey,
}

/// An ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// The raw bytes.
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", bs58::encode(&self.0[..8]).into_string())
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&bs58::encode(self.0).into_string())
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = de_bytes(d, "a 64-byte signature")?;
        let arr: [u8; 64] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("a signature has exactly 64 bytes"))?;
        Ok(Signature(arr))
    }
}

/// Deserializes raw bytes (binary formats) or a base58 string (human-readable formats).
fn de_bytes<'de, D: Deserializer<'de>>(d: D, what: &'static str) -> Result<Vec<u8>, D::Error> {
    struct V(&'static str);
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
            bs58::decode(v)
                .into_vec()
                .map_err(|_| E::custom("not base58"))
        }
    }
    if d.is_human_readable() {
        d.deserialize_str(V(what))
    } else {
        d.deserialize_bytes(V(what))
    }
}

/// An ed25519 public key: the key a `did:key` names.
///
/// Serializes as 32 raw bytes in binary formats (CBOR) and as the DID string in human-readable
/// ones (JSON).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses 32 bytes. Fails if they are not a point on the curve, or are a weak
    /// (small-order) point, for which signatures prove nothing.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, SignatureError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| SignatureError::BadPublicKey)?;
        if key.is_weak() {
            return Err(SignatureError::BadPublicKey);
        }
        Ok(PublicKey(key))
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The raw bytes, borrowed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The `did:key` for this key.
    pub fn did(&self) -> Did {
        Did::from_public_key(*self)
    }

    /// Verifies `sig` over `msg` under `purpose`: RFC 8032 verification with a canonical `S`
    /// (no malleable signatures), and weak keys are refused when the key is parsed.
    pub fn verify(
        &self,
        purpose: Purpose,
        msg: &[u8],
        sig: &Signature,
    ) -> Result<(), SignatureError> {
        use ed25519_dalek::Verifier;
        let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
        self.0
            .verify(&purpose.signing_bytes(msg), &sig)
            .map_err(|_| SignatureError::Invalid)
    }

    /// Verifies `sig` over the concatenation of `parts` under `purpose`, exactly as
    /// [`PublicKey::verify`] over the joined bytes, without joining them: a large record is
    /// hashed where it lies instead of being copied behind the purpose prefix first.
    pub fn verify_parts(
        &self,
        purpose: Purpose,
        parts: &[&[u8]],
        sig: &Signature,
    ) -> Result<(), SignatureError> {
        let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
        // The same checks as `verify` (canonical S, then R == [s]B - [k]A); only the message
        // arrives in pieces.
        let mut v = self
            .0
            .verify_stream(&sig)
            .map_err(|_| SignatureError::Invalid)?;
        v.update(b"vivim/v1/");
        v.update(purpose.0.as_bytes());
        v.update([0u8]);
        for p in parts {
            v.update(p);
        }
        v.finalize_and_verify().map_err(|_| SignatureError::Invalid)
    }

    /// The X25519 key derived from this key (birational map from Edwards to Montgomery form),
    /// as the did:key method specifies for `keyAgreement`.
    pub fn x25519(&self) -> X25519PublicKey {
        X25519PublicKey(self.0.to_montgomery().to_bytes())
    }
}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.did())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.did(), f)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.did().to_string())
        } else {
            s.serialize_bytes(self.as_bytes())
        }
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            let did: Did = s.parse().map_err(serde::de::Error::custom)?;
            Ok(did.public_key())
        } else {
            let bytes = de_bytes(d, "a 32-byte ed25519 public key")?;
            let arr: [u8; 32] = bytes
                .try_into()
                .map_err(|_| serde::de::Error::custom("a public key has exactly 32 bytes"))?;
            PublicKey::from_bytes(&arr).map_err(serde::de::Error::custom)
        }
    }
}

/// An X25519 public key used for key agreement.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct X25519PublicKey(pub [u8; 32]);

impl X25519PublicKey {
    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }
}

impl fmt::Debug for X25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X25519PublicKey({})", bs58::encode(self.0).into_string())
    }
}

/// The output of an X25519 agreement. Zeroed on drop. Feed it to a KDF; never use it as a key
/// directly.
pub struct SharedSecret(Zeroizing<[u8; 32]>);

impl SharedSecret {
    /// The raw shared secret.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A node's ed25519 keypair. The secret is zeroed on drop.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("did", &self.did().to_string())
            .finish_non_exhaustive()
    }
}

impl Keypair {
    /// A fresh keypair from the operating system's random source.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        // getrandom fails only when the OS has no entropy source at all; nothing sensible can
        // be done without one.
        getrandom::getrandom(seed.as_mut()).expect("the OS random source is unavailable");
        Self::from_seed(&seed)
    }

    /// The keypair for a 32-byte secret seed (the ed25519 "secret key" of RFC 8032).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Keypair {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte secret seed. The same seed gives the libp2p and iroh identities.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    /// The `did:key` of this keypair.
    pub fn did(&self) -> Did {
        self.public().did()
    }

    /// Signs `msg` for `purpose` (see [`Purpose`]).
    pub fn sign(&self, purpose: Purpose, msg: &[u8]) -> Signature {
        Signature(self.signing.sign(&purpose.signing_bytes(msg)).to_bytes())
    }

    /// The X25519 secret derived from the ed25519 secret (the low half of SHA-512(seed), as
    /// libsodium's `crypto_sign_ed25519_sk_to_curve25519`; clamped when used).
    pub fn x25519_secret(&self) -> x25519_dalek::StaticSecret {
        let scalar = Zeroizing::new(self.signing.to_scalar_bytes());
        x25519_dalek::StaticSecret::from(*scalar)
    }

    /// The X25519 public key (equal to `self.public().x25519()`).
    pub fn x25519_public(&self) -> X25519PublicKey {
        X25519PublicKey(x25519_dalek::PublicKey::from(&self.x25519_secret()).to_bytes())
    }

    /// X25519 agreement between this key and a peer's X25519 key.
    pub fn agree(&self, theirs: &X25519PublicKey) -> SharedSecret {
        let shared = self
            .x25519_secret()
            .diffie_hellman(&x25519_dalek::PublicKey::from(theirs.0));
        SharedSecret(Zeroizing::new(shared.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x25519_public_matches_birational_map() {
        for i in 0..8u8 {
            let kp = Keypair::from_seed(&[i; 32]);
            assert_eq!(kp.x25519_public(), kp.public().x25519());
        }
    }

    #[test]
    fn agreement_is_symmetric() {
        let a = Keypair::from_seed(&[1; 32]);
        let b = Keypair::from_seed(&[2; 32]);
        let ab = a.agree(&b.public().x25519());
        let ba = b.agree(&a.public().x25519());
        assert_eq!(ab.as_bytes(), ba.as_bytes());
        let c = Keypair::from_seed(&[3; 32]);
        assert_ne!(ab.as_bytes(), a.agree(&c.public().x25519()).as_bytes());
    }

    #[test]
    fn signatures_are_domain_separated() {
        let kp = Keypair::from_seed(&[9; 32]);
        let sig = kp.sign(Purpose::ACU, b"m");
        assert!(kp.public().verify(Purpose::ACU, b"m", &sig).is_ok());
        assert_eq!(
            kp.public().verify(Purpose::MANIFEST, b"m", &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            kp.public().verify(Purpose::ACU, b"n", &sig),
            Err(SignatureError::Invalid)
        );
        // A raw ed25519 signature over the message alone does not verify either.
        let raw = Signature(kp.signing.sign(b"m").to_bytes());
        assert!(kp.public().verify(Purpose::ACU, b"m", &raw).is_err());
    }

    #[test]
    fn verifying_in_parts_is_verifying_the_joined_message() {
        let kp = Keypair::from_seed(&[7; 32]);
        let msg: Vec<u8> = (0..3000u32).map(|i| (i * 31 % 251) as u8).collect();
        let sig = kp.sign(Purpose::ACU, &msg);
        let pk = kp.public();
        for cut in [0, 1, 128, 2999, 3000] {
            let (a, b) = msg.split_at(cut);
            assert!(pk.verify_parts(Purpose::ACU, &[a, b], &sig).is_ok());
            assert!(pk.verify_parts(Purpose::ACU, &[a, &[], b], &sig).is_ok());
        }
        let mut other = msg.clone();
        other[1500] ^= 1;
        assert_eq!(
            pk.verify_parts(Purpose::ACU, &[&other], &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            pk.verify_parts(Purpose::MANIFEST, &[&msg], &sig),
            Err(SignatureError::Invalid)
        );
        // A non-canonical S (S + L) is refused, as `verify` refuses it.
        let mut high = sig;
        high.0[63] |= 0xf0;
        assert_eq!(
            pk.verify_parts(Purpose::ACU, &[&msg], &high),
            pk.verify(Purpose::ACU, &msg, &high)
        );
        assert!(pk.verify_parts(Purpose::ACU, &[&msg], &high).is_err());
    }

    #[test]
    fn weak_keys_are_refused() {
        // The identity point (small order) as a public key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            PublicKey::from_bytes(&identity),
            Err(SignatureError::BadPublicKey)
        );
    }

    #[test]
    fn malleated_signature_is_refused() {
        // S + L (the group order) is the classic malleation; it must not verify.
        let kp = Keypair::from_seed(&[5; 32]);
        let sig = kp.sign(Purpose::ACU, b"m");
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut bytes = sig.0;
        let mut carry = 0u16;
        for i in 0..32 {
            let v = bytes[32 + i] as u16 + L[i] as u16 + carry;
            bytes[32 + i] = v as u8;
            carry = v >> 8;
        }
        assert!(
            kp.public()
                .verify(Purpose::ACU, b"m", &Signature(bytes))
                .is_err()
        );
    }

    #[test]
    fn public_key_serde_binary_and_json() {
        let kp = Keypair::from_seed(&[4; 32]);
        let json = serde_json::to_string(&kp.public()).unwrap();
        assert_eq!(json, format!("\"{}\"", kp.did()));
        let back: PublicKey = serde_json::from_str(&json).unwrap();
        assert_eq!(back, kp.public());
    }
}
