//! Share links: `vivim://share/<payload>?from=<did>#<key>`.
//!
//! A link names the sealed hash sequence to fetch (`payload`), a node that serves it (`from`,
//! resolved through the DHT; relays that pinned it are found as providers) and the content key.
//! The key sits in the URL fragment, which browsers and HTTP clients never send to a server, so
//! whoever relays or logs the link's request sees only ciphertext addresses.

use std::{fmt, str::FromStr};

use vivim_identity::Did;

use crate::{ContentKey, Hash};

/// The scheme and path every share link starts with.
pub const LINK_PREFIX: &str = "vivim://share/";

/// Longest link accepted.
pub const MAX_LINK_CHARS: usize = 512;

/// Why a link could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a VIVIM share link ({0}); expected vivim://share/<hash>?from=<did>#<key>")]
pub struct LinkError(String);

/// A parsed share link.
#[derive(Clone)]
pub struct ShareLink {
    /// The sealed hash sequence.
    pub payload: Hash,
    /// Who serves it.
    pub from: Did,
    /// The content key.
    pub key: ContentKey,
}

impl fmt::Debug for ShareLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareLink")
            .field("payload", &self.payload)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ShareLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{LINK_PREFIX}{}?from={}#", self.payload, self.from)?;
        for b in self.key.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for ShareLink {
    type Err = LinkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() > MAX_LINK_CHARS {
            return Err(LinkError(format!("{} characters", s.len())));
        }
        let rest = s
            .strip_prefix(LINK_PREFIX)
            .ok_or_else(|| LinkError("wrong scheme".into()))?;
        let (rest, key) = rest
            .split_once('#')
            .ok_or_else(|| LinkError("no key after #".into()))?;
        let (payload, query) = rest
            .split_once('?')
            .ok_or_else(|| LinkError("no ?from=".into()))?;
        let from = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("from="))
            .ok_or_else(|| LinkError("no from=".into()))?;
        let payload: Hash = payload
            .parse()
            .map_err(|e| LinkError(format!("hash: {e}")))?;
        let from: Did = from.parse().map_err(|e| LinkError(format!("from: {e}")))?;
        if key.len() != 64 || !key.is_ascii() {
            return Err(LinkError("the key is not 64 hex digits".into()));
        }
        let mut k = zeroize::Zeroizing::new([0u8; 32]);
        for (i, b) in k.iter_mut().enumerate() {
            *b = u8::from_str_radix(&key[2 * i..2 * i + 2], 16)
                .map_err(|_| LinkError("the key is not 64 hex digits".into()))?;
        }
        Ok(ShareLink {
            payload,
            from,
            key: ContentKey::from_bytes(*k),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strict_parse() {
        let from = vivim_identity::Keypair::from_seed(&[4; 32]).did();
        let link = ShareLink {
            payload: Hash::of(b"seq"),
            from,
            key: ContentKey::generate(),
        };
        let s = link.to_string();
        assert!(s.starts_with("vivim://share/"));
        let back: ShareLink = s.parse().unwrap();
        assert_eq!(back.payload, link.payload);
        assert_eq!(back.from, from);
        assert_eq!(back.key.as_bytes(), link.key.as_bytes());
        // The key is only in the fragment.
        let hex: String = link
            .key
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let (before, after) = s.split_once('#').unwrap();
        assert!(!before.contains(&hex));
        assert_eq!(after, hex);
        for bad in [
            "",
            "https://example.com",
            &s.replace("vivim://share/", "vivim://shar/"),
            &s[..s.len() - 2],
            &s.replace("?from=", "?form="),
            &format!("{s}zz"),
            &"x".repeat(MAX_LINK_CHARS + 1),
        ] {
            assert!(bad.parse::<ShareLink>().is_err(), "{bad}");
        }
    }
}
