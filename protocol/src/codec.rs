//! Canonical CBOR encoding, signing and verified decoding of records.
//!
//! A signed record is a CBOR map whose last entry is `"sig": bytes(64)`. The signature covers the
//! encoding of the same map without that entry. Decoding checks, in this order: the size limit
//! (before parsing), the format version (before parsing the rest), the structure, that the bytes
//! are exactly the canonical encoding of the value (so one value has one id), the signature, and
//! the type's own rules. A [`Signed`] value exists only if all of them passed.

use serde::{Serialize, de::DeserializeOwned};
use vivim_identity::{Keypair, PublicKey, Purpose, Signature};

use crate::Hash;

/// Why bytes could not be decoded into a record. Each variant says what a person can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is larger than the type's limit; it was not parsed.
    #[error("{kind} of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The record type.
        kind: &'static str,
        /// The input size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The input is empty or does not start like a VIVIM record.
    #[error("not a VIVIM {kind}: the bytes do not start with a version field")]
    NotARecord {
        /// The record type.
        kind: &'static str,
    },
    /// A version this build does not understand.
    #[error(
        "{kind} has format version {found}; this VIVIM understands version {supported}; upgrade to read it"
    )]
    UnsupportedVersion {
        /// The record type.
        kind: &'static str,
        /// The version found.
        found: u8,
        /// The version supported.
        supported: u8,
    },
    /// The CBOR is truncated or does not have the record's shape.
    #[error("malformed {kind}: {detail}")]
    Malformed {
        /// The record type.
        kind: &'static str,
        /// What the parser said.
        detail: String,
    },
    /// The record has no signature.
    #[error("{kind} is not signed")]
    Unsigned {
        /// The record type.
        kind: &'static str,
    },
    /// The bytes decode, but are not the canonical encoding of the value (extra bytes, other
    /// field order, non-minimal integers).
    #[error("{kind} is not in canonical encoding (trailing bytes, field order or integer form)")]
    NonCanonical {
        /// The record type.
        kind: &'static str,
    },
    /// The signature does not verify against the record's author.
    #[error("{kind} signature does not verify for its author {author}")]
    BadSignature {
        /// The record type.
        kind: &'static str,
        /// The claimed author.
        author: String,
    },
    /// A field violates the type's rules (a count or a range).
    #[error("invalid {kind}: {detail}")]
    Invalid {
        /// The record type.
        kind: &'static str,
        /// Which rule.
        detail: String,
    },
}

/// Why a record could not be encoded or signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The signer is not the record's author.
    #[error("{kind} names author {author} but the signing key is {signer}")]
    WrongSigner {
        /// The record type.
        kind: &'static str,
        /// The author in the record.
        author: String,
        /// The key that tried to sign.
        signer: String,
    },
    /// The encoded record would exceed its limit.
    #[error("{kind} would be {size} bytes, over the limit of {max}")]
    TooLarge {
        /// The record type.
        kind: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The value breaks the type's rules.
    #[error("invalid {kind}: {detail}")]
    Invalid {
        /// The record type.
        kind: &'static str,
        /// Which rule.
        detail: String,
    },
    /// The serializer failed.
    #[error("could not encode {kind}: {detail}")]
    Cbor {
        /// The record type.
        kind: &'static str,
        /// What failed.
        detail: String,
    },
}

/// A top-level wire type: versioned, size-limited, optionally signed by one author.
pub trait Record: Serialize + DeserializeOwned + Sized {
    /// Name used in errors ("ACU", "manifest", …).
    const KIND: &'static str;
    /// The format version this build writes and reads.
    const VERSION: u8;
    /// Largest encoding accepted.
    const MAX_BYTES: usize;
    /// Signature domain.
    const PURPOSE: Purpose;

    /// The key that must sign this record.
    fn signer(&self) -> PublicKey;
    /// The signature slot (the last field, absent while unsigned).
    fn sig_slot(&mut self) -> &mut Option<Signature>;
    /// The type's own rules (counts, ranges). Checked on sign and on decode.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The CBOR encoding of a map entry `"sig": bytes(64)`.
const SIG_ENTRY_LEN: usize = 4 + 2 + 64;

fn sig_entry(sig: &Signature) -> [u8; SIG_ENTRY_LEN] {
    let mut out = [0u8; SIG_ENTRY_LEN];
    out[..6].copy_from_slice(&[0x63, b's', b'i', b'g', 0x58, 0x40]);
    out[6..].copy_from_slice(&sig.0);
    out
}

fn to_cbor<T: Serialize>(value: &T, kind: &'static str) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(256);
    ciborium::into_writer(value, &mut out).map_err(|e| EncodeError::Cbor {
        kind,
        detail: e.to_string(),
    })?;
    Ok(out)
}

/// Checks the leading `{"v": n, …` of a record without parsing the rest.
fn peek_version(bytes: &[u8], kind: &'static str, supported: u8) -> Result<(), DecodeError> {
    // A map with fewer than 24 entries, whose first key is the text "v" and value a small uint.
    match bytes {
        [0xa1..=0xb7, 0x61, b'v', ver, ..] if *ver < 24 => {
            if *ver != supported {
                Err(DecodeError::UnsupportedVersion {
                    kind,
                    found: *ver,
                    supported,
                })
            } else {
                Ok(())
            }
        }
        [0xa1..=0xb7, 0x61, b'v', 0x18, ver, ..] => Err(DecodeError::UnsupportedVersion {
            kind,
            found: *ver,
            supported,
        }),
        _ => Err(DecodeError::NotARecord { kind }),
    }
}

/// A record whose signature, encoding and rules have been checked, with its bytes and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed<T> {
    value: T,
    bytes: Vec<u8>,
    id: Hash,
}

impl<T: Record> Signed<T> {
    /// Signs `value` with `key`, which must be the record's author.
    pub fn sign(mut value: T, key: &Keypair) -> Result<Self, EncodeError> {
        let signer = value.signer();
        if signer != key.public() {
            return Err(EncodeError::WrongSigner {
                kind: T::KIND,
                author: signer.to_string(),
                signer: key.did().to_string(),
            });
        }
        value.validate().map_err(|detail| EncodeError::Invalid {
            kind: T::KIND,
            detail,
        })?;
        *value.sig_slot() = None;
        let mut bytes = to_cbor(&value, T::KIND)?;
        if !(0xa0..0xb7).contains(&bytes[0]) {
            return Err(EncodeError::Cbor {
                kind: T::KIND,
                detail: "a record must be a map of fewer than 23 fields".into(),
            });
        }
        peek_version(&bytes, T::KIND, T::VERSION).map_err(|e| EncodeError::Invalid {
            kind: T::KIND,
            detail: e.to_string(),
        })?;
        let sig = key.sign(T::PURPOSE, &bytes);
        // The signed encoding is the unsigned one with one more map entry at the end.
        bytes[0] += 1;
        bytes.extend_from_slice(&sig_entry(&sig));
        if bytes.len() > T::MAX_BYTES {
            return Err(EncodeError::TooLarge {
                kind: T::KIND,
                size: bytes.len(),
                max: T::MAX_BYTES,
            });
        }
        *value.sig_slot() = Some(sig);
        let id = Hash::of(&bytes);
        Ok(Signed { value, bytes, id })
    }

    /// Decodes and verifies `bytes` (see the module docs for the order of checks).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let value = Self::check(bytes)?;
        Ok(Signed {
            value,
            bytes: bytes.to_vec(),
            id: Hash::of(bytes),
        })
    }

    /// [`Signed::decode`] for bytes the caller owns: they become the record's bytes without a
    /// copy (a received blob, a row read from the store).
    pub fn decode_vec(bytes: Vec<u8>) -> Result<Self, DecodeError> {
        let value = Self::check(&bytes)?;
        let id = Hash::of(&bytes);
        Ok(Signed { value, bytes, id })
    }

    /// [`Signed::decode_vec`] for a blob whose BLAKE3 hash the caller has already checked to
    /// be `id` — as iroh-blobs checks every chunk of a download against the hash it asked for —
    /// so the record is not hashed a second time. Debug builds check it anyway.
    pub fn decode_blob(bytes: Vec<u8>, id: Hash) -> Result<Self, DecodeError> {
        let value = Self::check(&bytes)?;
        debug_assert_eq!(Hash::of(&bytes), id, "decode_blob given a wrong id");
        Ok(Signed { value, bytes, id })
    }

    /// Decodes bytes that this node verified with [`Signed::decode`] before it stored them, read
    /// back from its own database: size, version and structure are checked, the canonical form and the
    /// signature are not checked again (an ed25519 verification per record made opening a long
    /// conversation cost milliseconds per message). Never use it for bytes from a peer, a file
    /// or a client.
    pub fn decode_stored(bytes: Vec<u8>) -> Result<Self, DecodeError> {
        let mut value = Self::parse(&bytes)?;
        if value.sig_slot().is_none() {
            return Err(DecodeError::Unsigned { kind: T::KIND });
        }
        let id = Hash::of(&bytes);
        Ok(Signed { value, bytes, id })
    }

    /// The first checks of every decode, before anything is verified: size limit (before
    /// parsing), version peek (before parsing), structure.
    fn parse(bytes: &[u8]) -> Result<T, DecodeError> {
        let kind = T::KIND;
        if bytes.len() > T::MAX_BYTES {
            return Err(DecodeError::TooLarge {
                kind,
                size: bytes.len(),
                max: T::MAX_BYTES,
            });
        }
        peek_version(bytes, kind, T::VERSION)?;
        ciborium::de::from_reader_with_recursion_limit(bytes, 64).map_err(|e| {
            DecodeError::Malformed {
                kind,
                detail: e.to_string(),
            }
        })
    }

    /// Every check of [`Signed::decode`]; the value with its signature.
    ///
    /// The canonical-encoding check re-encodes the value into a writer that compares as it
    /// goes instead of into a buffer, and the signature is checked over the input's own bytes:
    /// nothing the size of the record is allocated or copied.
    fn check(bytes: &[u8]) -> Result<T, DecodeError> {
        let kind = T::KIND;
        let mut value = Self::parse(bytes)?;
        let sig = value
            .sig_slot()
            .take()
            .ok_or(DecodeError::Unsigned { kind })?;
        // The unsigned encoding is `bytes[..n]` with one map entry fewer in its header.
        let n = bytes
            .len()
            .checked_sub(SIG_ENTRY_LEN)
            .ok_or(DecodeError::NonCanonical { kind })?;
        let header = bytes[0].wrapping_sub(1);
        if !(0xa0..0xb7).contains(&header) || bytes[n..] != sig_entry(&sig) {
            return Err(DecodeError::NonCanonical { kind });
        }
        let mut same = SameAs {
            header,
            rest: &bytes[1..n],
            pos: 0,
            differs: false,
        };
        match ciborium::into_writer(&value, &mut same) {
            Ok(()) if same.pos == n => {}
            Ok(()) => return Err(DecodeError::NonCanonical { kind }),
            Err(_) if same.differs => return Err(DecodeError::NonCanonical { kind }),
            Err(e) => {
                return Err(DecodeError::Malformed {
                    kind,
                    detail: e.to_string(),
                });
            }
        }
        let signer = value.signer();
        signer
            .verify_parts(T::PURPOSE, &[&[header], &bytes[1..n]], &sig)
            .map_err(|_| DecodeError::BadSignature {
                kind,
                author: signer.to_string(),
            })?;
        value
            .validate()
            .map_err(|detail| DecodeError::Invalid { kind, detail })?;
        *value.sig_slot() = Some(sig);
        Ok(value)
    }
}

/// A writer that checks that what is written is `header ‖ rest`, failing at the first byte that
/// differs or overflows.
struct SameAs<'a> {
    header: u8,
    rest: &'a [u8],
    /// Bytes written (and matched) so far.
    pos: usize,
    differs: bool,
}

impl std::io::Write for SameAs<'_> {
    fn write(&mut self, mut buf: &[u8]) -> std::io::Result<usize> {
        let len = buf.len();
        if len == 0 {
            return Ok(0);
        }
        if self.pos == 0
            && let Some((&first, tail)) = buf.split_first()
        {
            if first != self.header {
                self.differs = true;
                return Err(std::io::Error::other("not the canonical encoding"));
            }
            self.pos = 1;
            buf = tail;
        }
        let at = self.pos - 1;
        let matches = self
            .rest
            .get(at..at + buf.len())
            .is_some_and(|expected| expected == buf);
        if !matches {
            self.differs = true;
            return Err(std::io::Error::other("not the canonical encoding"));
        }
        self.pos += buf.len();
        Ok(len)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<T> Signed<T> {
    /// The record's id: BLAKE3 of its bytes.
    pub fn id(&self) -> Hash {
        self.id
    }

    /// The canonical signed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The verified value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Value and bytes.
    pub fn into_parts(self) -> (T, Vec<u8>) {
        (self.value, self.bytes)
    }
}

/// Encodes an unsigned value (types with no author, such as hash sequences' metadata).
pub fn encode_unsigned<T: Serialize>(value: &T) -> Result<Vec<u8>, EncodeError> {
    to_cbor(value, "value")
}

/// Decodes an unsigned value with a size limit.
pub fn decode_unsigned<T: DeserializeOwned>(
    bytes: &[u8],
    kind: &'static str,
    max: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > max {
        return Err(DecodeError::TooLarge {
            kind,
            size: bytes.len(),
            max,
        });
    }
    ciborium::de::from_reader_with_recursion_limit(bytes, 64).map_err(|e| DecodeError::Malformed {
        kind,
        detail: e.to_string(),
    })
}

/// Checks a short string field.
pub(crate) fn check_len(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.len() > max {
        Err(format!("{field} is {} bytes, over {max}", value.len()))
    } else {
        Ok(())
    }
}
