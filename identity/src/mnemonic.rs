//! Export and restore of the node secret as a 24-word BIP-39 mnemonic (English list). The 32-byte
//! seed is the mnemonic's entropy, so the words are the key itself: no derivation path.

use zeroize::Zeroizing;

use crate::Keypair;

/// Why a mnemonic could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MnemonicError {
    /// Not 24 words.
    #[error("a VIVIM recovery phrase has 24 words; got {0}")]
    WordCount(usize),
    /// A word that is not in the BIP-39 English list.
    #[error("{0:?} is not a BIP-39 English word")]
    UnknownWord(String),
    /// The checksum word does not match: a word was mistyped or the order is wrong.
    #[error("the recovery phrase's checksum does not match: check each word and their order")]
    Checksum,
}

impl Keypair {
    /// The 24-word recovery phrase of this key.
    pub fn to_mnemonic(&self) -> Zeroizing<String> {
        let seed = self.seed();
        // 32 bytes is a valid BIP-39 entropy length, so this cannot fail.
        let m = bip39::Mnemonic::from_entropy(seed.as_ref()).expect("32 bytes is valid entropy");
        Zeroizing::new(m.to_string())
    }

    /// Restores a key from its 24-word recovery phrase (whitespace and case are forgiven).
    pub fn from_mnemonic(phrase: &str) -> Result<Keypair, MnemonicError> {
        let normalized = Zeroizing::new(
            phrase
                .split_whitespace()
                .map(|w| w.to_lowercase())
                .collect::<Vec<_>>()
                .join(" "),
        );
        let count = normalized.split(' ').filter(|w| !w.is_empty()).count();
        if count != 24 {
            return Err(MnemonicError::WordCount(count));
        }
        let m = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &normalized)
            .map_err(|e| match e {
                bip39::Error::UnknownWord(i) => MnemonicError::UnknownWord(
                    normalized.split(' ').nth(i).unwrap_or_default().to_string(),
                ),
                bip39::Error::InvalidChecksum => MnemonicError::Checksum,
                _ => MnemonicError::WordCount(count),
            })?;
        let entropy = Zeroizing::new(m.to_entropy());
        let seed: [u8; 32] = entropy
            .as_slice()
            .try_into()
            .map_err(|_| MnemonicError::WordCount(count))?;
        Ok(Keypair::from_seed(&seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let kp = Keypair::generate();
        let words = kp.to_mnemonic();
        assert_eq!(words.split(' ').count(), 24);
        let back = Keypair::from_mnemonic(&words.to_uppercase()).unwrap();
        assert_eq!(back.did(), kp.did());
    }

    #[test]
    fn known_answer() {
        // BIP-39 reference vector: entropy 0x00 * 32.
        let kp = Keypair::from_seed(&[0u8; 32]);
        let words = kp.to_mnemonic();
        assert!(words.starts_with("abandon abandon"));
        assert!(words.ends_with("abandon art"));
    }

    #[test]
    fn errors() {
        let kp = Keypair::from_seed(&[0u8; 32]);
        let words = kp.to_mnemonic();
        assert_eq!(
            Keypair::from_mnemonic("abandon abandon").unwrap_err(),
            MnemonicError::WordCount(2)
        );
        let bad = words.replacen("art", "zzzz", 1);
        assert_eq!(
            Keypair::from_mnemonic(&bad).unwrap_err(),
            MnemonicError::UnknownWord("zzzz".into())
        );
        let swapped = words.replacen("art", "zoo", 1);
        assert_eq!(
            Keypair::from_mnemonic(&swapped).unwrap_err(),
            MnemonicError::Checksum
        );
    }
}
