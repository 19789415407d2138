//! The on-disk form of a node's secret: sealed with a passphrase (Argon2id +
//! XChaCha20-Poly1305), or plain when no passphrase is set (the node then writes the file with
//! mode 0600). This module only converts to and from bytes; writing the file is the node's job.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{Did, Keypair};

/// Largest keystore file we will parse.
pub const MAX_KEYSTORE_BYTES: usize = 16 * 1024;

/// Why a keystore could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The passphrase does not open the key.
    #[error("wrong passphrase for this key")]
    WrongPassphrase,
    /// The key is sealed and no passphrase was given.
    #[error("this key is protected by a passphrase; provide it (e.g. --passphrase-env VAR)")]
    PassphraseRequired,
    /// The file is not a keystore we understand.
    #[error("keystore file is malformed: {0}")]
    Malformed(String),
    /// A keystore written by a newer VIVIM.
    #[error("keystore version {0} is newer than this VIVIM understands (1); upgrade VIVIM")]
    UnsupportedVersion(u8),
    /// The secret does not belong to the DID recorded next to it.
    #[error("keystore is corrupt: its secret does not match its DID {0}")]
    Mismatch(String),
    /// Argon2 rejected the parameters.
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: about a third of a second on a laptop core.
    fn default() -> Self {
        KdfParams {
            m_kib: 64 * 1024,
            t: 3,
            p: 1,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests only.
    pub fn insecure_for_tests() -> Self {
        KdfParams {
            m_kib: 64,
            t: 1,
            p: 1,
        }
    }

    fn check(&self) -> Result<(), KeystoreError> {
        // Refuse absurd costs from a tampered file (e.g. 4 TiB of memory).
        if self.m_kib > 4 * 1024 * 1024 || self.t > 64 || self.p > 16 || self.p == 0 {
            return Err(KeystoreError::Malformed(format!(
                "argon2 parameters out of range: {self:?}"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Kdf {
    alg: String,
    #[serde(flatten)]
    params: KdfParams,
    salt: String,
}

/// A node secret as stored on disk (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedKey {
    v: u8,
    did: String,
    /// Present when the secret is sealed with a passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kdf: Option<Kdf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    /// The seed, or its ciphertext, base58.
    secret: String,
}

fn derive_key(
    passphrase: &[u8],
    salt: &[u8],
    p: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    p.check()?;
    let params =
        Params::new(p.m_kib, p.t, p.p, Some(32)).map_err(|e| KeystoreError::Kdf(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase, salt, key.as_mut())
        .map_err(|e| KeystoreError::Kdf(e.to_string()))?;
    Ok(key)
}

fn b58(bytes: &[u8]) -> String {
    bs58::encode(bytes).into_string()
}

fn un_b58(s: &str, what: &str) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
    bs58::decode(s)
        .into_vec()
        .map(Zeroizing::new)
        .map_err(|_| KeystoreError::Malformed(format!("{what} is not base58")))
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).expect("the OS random source is unavailable");
    b
}

impl SealedKey {
    /// Seals `key`. With a passphrase the seed is encrypted (Argon2id-derived key,
    /// XChaCha20-Poly1305, the DID as associated data); without, it is stored in the clear and
    /// the file's permissions are its only protection.
    pub fn seal(
        key: &Keypair,
        passphrase: Option<&[u8]>,
        params: KdfParams,
    ) -> Result<Self, KeystoreError> {
        let did = key.did().to_string();
        let seed = key.seed();
        match passphrase {
            None => Ok(SealedKey {
                v: 1,
                did,
                kdf: None,
                nonce: None,
                secret: b58(seed.as_ref()),
            }),
            Some(pass) => {
                let salt: [u8; 16] = random();
                let nonce: [u8; 24] = random();
                let k = derive_key(pass, &salt, params)?;
                let cipher = XChaCha20Poly1305::new(k.as_ref().into());
                let ct = cipher
                    .encrypt(
                        XNonce::from_slice(&nonce),
                        Payload {
                            msg: seed.as_ref(),
                            aad: did.as_bytes(),
                        },
                    )
                    .map_err(|_| KeystoreError::Kdf("encryption failed".into()))?;
                Ok(SealedKey {
                    v: 1,
                    did,
                    kdf: Some(Kdf {
                        alg: "argon2id".into(),
                        params,
                        salt: b58(&salt),
                    }),
                    nonce: Some(b58(&nonce)),
                    secret: b58(&ct),
                })
            }
        }
    }

    /// Whether a passphrase is needed to open this key.
    pub fn is_encrypted(&self) -> bool {
        self.kdf.is_some()
    }

    /// The DID recorded in the file (readable without the passphrase).
    pub fn did(&self) -> Result<Did, KeystoreError> {
        self.did
            .parse()
            .map_err(|e| KeystoreError::Malformed(format!("bad DID: {e}")))
    }

    /// Opens the key. A sealed key needs the passphrase; a plain key ignores it.
    pub fn open(&self, passphrase: Option<&[u8]>) -> Result<Keypair, KeystoreError> {
        if self.v != 1 {
            return Err(KeystoreError::UnsupportedVersion(self.v));
        }
        let did = self.did()?;
        let seed: Zeroizing<Vec<u8>> = match (&self.kdf, &self.nonce) {
            (None, _) => un_b58(&self.secret, "secret")?,
            (Some(kdf), Some(nonce)) => {
                if kdf.alg != "argon2id" {
                    return Err(KeystoreError::Malformed(format!(
                        "unknown key derivation {:?}",
                        kdf.alg
                    )));
                }
                let pass = passphrase.ok_or(KeystoreError::PassphraseRequired)?;
                let salt = un_b58(&kdf.salt, "salt")?;
                let nonce = un_b58(nonce, "nonce")?;
                if nonce.len() != 24 {
                    return Err(KeystoreError::Malformed("nonce must be 24 bytes".into()));
                }
                let ct = un_b58(&self.secret, "secret")?;
                let k = derive_key(pass, &salt, kdf.params)?;
                let cipher = XChaCha20Poly1305::new(k.as_ref().into());
                let pt = cipher
                    .decrypt(
                        XNonce::from_slice(&nonce),
                        Payload {
                            msg: &ct,
                            aad: self.did.as_bytes(),
                        },
                    )
                    .map_err(|_| KeystoreError::WrongPassphrase)?;
                Zeroizing::new(pt)
            }
            (Some(_), None) => return Err(KeystoreError::Malformed("missing nonce".into())),
        };
        let seed: &[u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| KeystoreError::Malformed("secret must be 32 bytes".into()))?;
        let kp = Keypair::from_seed(seed);
        if kp.did() != did {
            return Err(KeystoreError::Mismatch(self.did.clone()));
        }
        Ok(kp)
    }

    /// Serializes to the file's JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing a struct of strings and integers to JSON cannot fail.
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Parses the file's bytes (at most [`MAX_KEYSTORE_BYTES`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeystoreError> {
        if bytes.len() > MAX_KEYSTORE_BYTES {
            return Err(KeystoreError::Malformed(format!(
                "{} bytes is too large for a keystore",
                bytes.len()
            )));
        }
        #[derive(Deserialize)]
        struct Version {
            v: u8,
        }
        let ver: Version =
            serde_json::from_slice(bytes).map_err(|e| KeystoreError::Malformed(e.to_string()))?;
        if ver.v != 1 {
            return Err(KeystoreError::UnsupportedVersion(ver.v));
        }
        serde_json::from_slice(bytes).map_err(|e| KeystoreError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_round_trip() {
        let kp = Keypair::generate();
        let sealed = SealedKey::seal(&kp, None, KdfParams::default()).unwrap();
        assert!(!sealed.is_encrypted());
        let back = SealedKey::from_bytes(&sealed.to_bytes()).unwrap();
        assert_eq!(back.open(None).unwrap().did(), kp.did());
    }

    #[test]
    fn passphrase_round_trip_and_wrong_passphrase() {
        let kp = Keypair::generate();
        let sealed =
            SealedKey::seal(&kp, Some(b"correct horse"), KdfParams::insecure_for_tests()).unwrap();
        let bytes = sealed.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains(&bs58::encode(kp.seed().as_ref()).into_string()));
        let back = SealedKey::from_bytes(&bytes).unwrap();
        assert!(back.is_encrypted());
        assert_eq!(back.did().unwrap(), kp.did());
        assert_eq!(back.open(Some(b"correct horse")).unwrap().did(), kp.did());
        assert!(matches!(
            back.open(Some(b"wrong")),
            Err(KeystoreError::WrongPassphrase)
        ));
        assert!(matches!(
            back.open(None),
            Err(KeystoreError::PassphraseRequired)
        ));
    }

    #[test]
    fn rejects_bad_files() {
        assert!(matches!(
            SealedKey::from_bytes(b"not json"),
            Err(KeystoreError::Malformed(_))
        ));
        assert!(matches!(
            SealedKey::from_bytes(br#"{"v":9,"did":"x","secret":"y"}"#),
            Err(KeystoreError::UnsupportedVersion(9))
        ));
        assert!(matches!(
            SealedKey::from_bytes(&vec![b' '; MAX_KEYSTORE_BYTES + 1]),
            Err(KeystoreError::Malformed(_))
        ));
        // A plain key whose DID was edited to another identity.
        let kp = Keypair::generate();
        let mut sealed = SealedKey::seal(&kp, None, KdfParams::default()).unwrap();
        sealed.did = Keypair::generate().did().to_string();
        assert!(matches!(sealed.open(None), Err(KeystoreError::Mismatch(_))));
        // Swapping the DID of an encrypted key breaks the associated data.
        let mut sealed =
            SealedKey::seal(&kp, Some(b"pw"), KdfParams::insecure_for_tests()).unwrap();
        sealed.did = Keypair::generate().did().to_string();
        assert!(matches!(
            sealed.open(Some(b"pw")),
            Err(KeystoreError::WrongPassphrase)
        ));
        // Absurd argon2 cost from a tampered file is refused before any allocation.
        let mut sealed =
            SealedKey::seal(&kp, Some(b"pw"), KdfParams::insecure_for_tests()).unwrap();
        if let Some(k) = sealed.kdf.as_mut() {
            k.params.m_kib = u32::MAX;
        }
        assert!(matches!(
            sealed.open(Some(b"pw")),
            Err(KeystoreError::Malformed(_))
        ));
    }
}
