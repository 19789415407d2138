//! What the DHT keeps for other peers (Kademlia runs with `StoreInserts::FilterBoth`, so every
//! inbound record passes here first).
//!
//! A record is stored only when its key names what its signed content says, its signature
//! verifies against the key it names, it is within size and time, and it is newer than the one
//! stored (as IPNS does with sequence numbers): a peer cannot overwrite `/vivim/did/<did>` with
//! a forgery or roll it back to an older signed record. Provider records are taken only for
//! conversation keys.

use vivim_identity::Did;
use vivim_protocol::{Announce, ConvId, MAX_DHT_RECORD_BYTES, PeerRecord, Signed};

/// The key prefix of a DID's peer record.
pub const DID_PREFIX: &str = "/vivim/did/";
/// The key prefix of a conversation's announcement (and its providers).
pub const CONV_PREFIX: &str = "/vivim/conv/";

/// How far in the future a record's time may be (clock skew): a record dated later would shut
/// out its writer's real next record until then.
pub const MAX_SKEW_MS: u64 = 10 * 60 * 1000;

/// The longest a peer record may say it is valid for.
pub const MAX_PEER_RECORD_TTL_MS: u64 = 24 * 3600 * 1000;

/// Why an inbound record was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The key is not one of VIVIM's.
    #[error("unknown key")]
    UnknownKey,
    /// Over [`MAX_DHT_RECORD_BYTES`].
    #[error("too large")]
    TooLarge,
    /// Not a signed record of the key's kind, or its signature fails.
    #[error("not a valid signed record: {0}")]
    Invalid(String),
    /// The content names another DID or conversation than the key.
    #[error("the content does not match the key")]
    WrongKey,
    /// Expired, or dated too far ahead.
    #[error("outside its time")]
    Time,
    /// Not newer than the record stored.
    #[error("not newer than the stored record")]
    Stale,
    /// The stored announcement of this id is another owner's.
    #[error("another owner's announcement is stored under this id")]
    OtherOwner,
}

/// Checks an inbound `key → value` against what is stored under `key` (if anything).
pub fn check_put(
    key: &[u8],
    value: &[u8],
    stored: Option<&[u8]>,
    now_ms: u64,
) -> Result<(), Refused> {
    if value.len() > MAX_DHT_RECORD_BYTES {
        return Err(Refused::TooLarge);
    }
    let key = std::str::from_utf8(key).map_err(|_| Refused::UnknownKey)?;
    if let Some(did) = key.strip_prefix(DID_PREFIX) {
        let did: Did = did.parse().map_err(|_| Refused::UnknownKey)?;
        let rec =
            Signed::<PeerRecord>::decode(value).map_err(|e| Refused::Invalid(e.to_string()))?;
        let r = rec.value();
        if r.key != did.public_key() {
            return Err(Refused::WrongKey);
        }
        if r.expires_at_ms <= now_ms
            || r.issued_at_ms > now_ms.saturating_add(MAX_SKEW_MS)
            || r.expires_at_ms.saturating_sub(r.issued_at_ms) > MAX_PEER_RECORD_TTL_MS
        {
            return Err(Refused::Time);
        }
        if let Some(old) = stored.and_then(|s| Signed::<PeerRecord>::decode(s).ok())
            && old.value().key == r.key
            && old.value().expires_at_ms > now_ms
            && (old.value().issued_at_ms > r.issued_at_ms
                || (old.value().issued_at_ms == r.issued_at_ms && old.bytes() != rec.bytes()))
        {
            return Err(Refused::Stale);
        }
        return Ok(());
    }
    if let Some(id) = key.strip_prefix(CONV_PREFIX) {
        let id: ConvId = id.parse().map_err(|_| Refused::UnknownKey)?;
        let ann = Signed::<Announce>::decode(value).map_err(|e| Refused::Invalid(e.to_string()))?;
        let a = ann.value();
        if a.conversation != id {
            return Err(Refused::WrongKey);
        }
        if a.published_at_ms > now_ms.saturating_add(MAX_SKEW_MS) {
            return Err(Refused::Time);
        }
        if let Some(old) = stored.and_then(|s| Signed::<Announce>::decode(s).ok()) {
            // Conversation ids are not bound to a key a peer can check, so the first owner a
            // server saw keeps the id there; lookups ask several servers and prefer the owner
            // the user named.
            if old.value().owner != a.owner {
                return Err(Refused::OtherOwner);
            }
            if old.value().published_at_ms > a.published_at_ms {
                return Err(Refused::Stale);
            }
        }
        return Ok(());
    }
    Err(Refused::UnknownKey)
}

/// Whether a peer may say it provides `key` (conversation keys only).
pub fn check_provider(key: &[u8]) -> Result<(), Refused> {
    let key = std::str::from_utf8(key).map_err(|_| Refused::UnknownKey)?;
    match key.strip_prefix(CONV_PREFIX).map(str::parse::<ConvId>) {
        Some(Ok(_)) => Ok(()),
        _ => Err(Refused::UnknownKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vivim_identity::Keypair;
    use vivim_protocol::Hash;

    fn peer_record(k: &Keypair, issued: u64, ttl: u64) -> Vec<u8> {
        Signed::sign(
            PeerRecord {
                v: 1,
                key: k.public(),
                libp2p_addrs: vec!["/ip4/127.0.0.1/tcp/1".into()],
                iroh_addrs: vec![],
                relay_url: None,
                issued_at_ms: issued,
                expires_at_ms: issued + ttl,
                sig: None,
            },
            k,
        )
        .unwrap()
        .bytes()
        .to_vec()
    }

    fn announce(k: &Keypair, conv: ConvId, at: u64) -> Vec<u8> {
        Signed::sign(
            Announce {
                v: 1,
                conversation: conv,
                seq: Hash([1; 32]),
                manifest: Hash([2; 32]),
                owner: k.public(),
                title: "t".into(),
                published_at_ms: at,
                sig: None,
            },
            k,
        )
        .unwrap()
        .bytes()
        .to_vec()
    }

    #[test]
    fn peer_records_are_bound_to_their_did_and_only_move_forward() {
        let now = 1_000_000_000;
        let a = Keypair::from_seed(&[1; 32]);
        let b = Keypair::from_seed(&[2; 32]);
        let key = format!("{DID_PREFIX}{}", a.did()).into_bytes();
        let hour = 3_600_000;
        let new = peer_record(&a, now, hour);
        let old = peer_record(&a, now - 1000, hour);
        assert_eq!(check_put(&key, &new, None, now), Ok(()));
        assert_eq!(
            check_put(&key, &new, Some(&new), now),
            Ok(()),
            "a republish"
        );
        assert_eq!(check_put(&key, &old, Some(&new), now), Err(Refused::Stale));
        assert_eq!(check_put(&key, &new, Some(&old), now), Ok(()));
        // B's own valid record under A's key; A's record with a broken signature.
        assert_eq!(
            check_put(&key, &peer_record(&b, now, hour), None, now),
            Err(Refused::WrongKey)
        );
        let mut forged = new.clone();
        let n = forged.len();
        forged[n - 1] ^= 1;
        assert!(matches!(
            check_put(&key, &forged, None, now),
            Err(Refused::Invalid(_))
        ));
        // Expired, from the future, valid for too long.
        assert_eq!(
            check_put(&key, &peer_record(&a, now - 2 * hour, hour), None, now),
            Err(Refused::Time)
        );
        assert_eq!(
            check_put(&key, &peer_record(&a, now + hour, hour), None, now),
            Err(Refused::Time)
        );
        assert_eq!(
            check_put(&key, &peer_record(&a, now, 30 * 24 * hour), None, now),
            Err(Refused::Time)
        );
        // An expired stored record does not hold back an older-dated but live one.
        let expired = peer_record(&a, now - 2 * hour + 10, hour);
        assert_eq!(check_put(&key, &old, Some(&expired), now), Ok(()));
        assert_eq!(
            check_put(b"/other/x", &new, None, now),
            Err(Refused::UnknownKey)
        );
        assert_eq!(
            check_put(format!("{DID_PREFIX}nope").as_bytes(), &new, None, now),
            Err(Refused::UnknownKey)
        );
        assert_eq!(
            check_put(&key, &vec![0; MAX_DHT_RECORD_BYTES + 1], None, now),
            Err(Refused::TooLarge)
        );
    }

    #[test]
    fn announcements_keep_their_first_owner_and_move_forward() {
        let now = 1_000_000_000;
        let a = Keypair::from_seed(&[1; 32]);
        let b = Keypair::from_seed(&[2; 32]);
        let conv = ConvId(Hash([7; 32]));
        let key = format!("{CONV_PREFIX}{conv}").into_bytes();
        let first = announce(&a, conv, 10);
        let later = announce(&a, conv, 20);
        assert_eq!(check_put(&key, &first, None, now), Ok(()));
        assert_eq!(check_put(&key, &later, Some(&first), now), Ok(()));
        assert_eq!(
            check_put(&key, &first, Some(&later), now),
            Err(Refused::Stale)
        );
        assert_eq!(
            check_put(&key, &announce(&b, conv, 30), Some(&first), now),
            Err(Refused::OtherOwner)
        );
        let other = ConvId(Hash([8; 32]));
        assert_eq!(
            check_put(&key, &announce(&a, other, 30), None, now),
            Err(Refused::WrongKey)
        );
        assert_eq!(check_provider(&key), Ok(()));
        assert_eq!(
            check_provider(format!("{DID_PREFIX}x").as_bytes()),
            Err(Refused::UnknownKey)
        );
    }
}
