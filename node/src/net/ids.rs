//! The node key as a libp2p `PeerId` and an iroh `EndpointId`, and back to a DID.
//!
//! One 32-byte ed25519 seed gives all three identities: the DID (`did:key:z6Mk…`), the libp2p
//! peer id (`12D3KooW…`, an identity multihash of the public key) and the iroh endpoint id (the
//! public key itself). The conversions are lossless in every direction.

use libp2p::identity as p2p;
use vivim_identity::{Did, Keypair, PublicKey};

/// Why a peer id or endpoint id does not name an ed25519 DID.
#[derive(Debug, thiserror::Error)]
pub enum IdError {
    /// The peer id does not embed its public key (it is a SHA-256 multihash of an RSA key).
    #[error("peer id {0} does not embed an ed25519 public key")]
    NotEd25519(String),
    /// The embedded key bytes are invalid.
    #[error("peer id {0} holds an invalid key")]
    BadKey(String),
}

/// The libp2p keypair for this node's key (same secret).
pub fn libp2p_keypair(key: &Keypair) -> p2p::Keypair {
    let mut seed = *key.seed();
    // 32 bytes is always a valid ed25519 secret; the function zeroes `seed`.
    p2p::Keypair::ed25519_from_bytes(&mut seed).expect("32-byte ed25519 secret")
}

/// The libp2p peer id of a public key.
pub fn peer_id(key: &PublicKey) -> libp2p::PeerId {
    let pk = p2p::ed25519::PublicKey::try_from_bytes(key.as_bytes())
        .expect("a valid ed25519 key is a valid libp2p ed25519 key");
    libp2p::PeerId::from_public_key(&p2p::PublicKey::from(pk))
}

/// The DID of a libp2p peer id (only ed25519 peer ids, which embed their key).
pub fn did_of_peer(peer: &libp2p::PeerId) -> Result<Did, IdError> {
    let mh = peer.as_ref();
    if mh.code() != 0x00 {
        return Err(IdError::NotEd25519(peer.to_string()));
    }
    let pk = p2p::PublicKey::try_decode_protobuf(mh.digest())
        .map_err(|_| IdError::BadKey(peer.to_string()))?;
    let ed = pk
        .try_into_ed25519()
        .map_err(|_| IdError::NotEd25519(peer.to_string()))?;
    PublicKey::from_bytes(&ed.to_bytes())
        .map(|k| k.did())
        .map_err(|_| IdError::BadKey(peer.to_string()))
}

/// The iroh secret key for this node's key (same secret).
pub fn iroh_secret(key: &Keypair) -> iroh::SecretKey {
    iroh::SecretKey::from_bytes(&key.seed())
}

/// The iroh endpoint id of a public key.
pub fn endpoint_id(key: &PublicKey) -> iroh::EndpointId {
    iroh::PublicKey::from_bytes(key.as_bytes()).expect("a valid ed25519 key is a valid iroh key")
}

/// The DID of an iroh endpoint id.
pub fn did_of_endpoint(id: &iroh::EndpointId) -> Result<Did, IdError> {
    PublicKey::from_bytes(id.as_bytes())
        .map(|k| k.did())
        .map_err(|_| IdError::BadKey(id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_agree_and_round_trip() {
        for i in 0..16u8 {
            let kp = Keypair::from_seed(&[i; 32]);
            let pid = peer_id(&kp.public());
            assert_eq!(pid, libp2p_keypair(&kp).public().to_peer_id());
            assert!(pid.to_string().starts_with("12D3KooW"));
            assert_eq!(did_of_peer(&pid).unwrap(), kp.did());

            let eid = endpoint_id(&kp.public());
            assert_eq!(eid, iroh_secret(&kp).public());
            assert_eq!(did_of_endpoint(&eid).unwrap(), kp.did());
        }
    }

    #[test]
    fn rsa_style_peer_ids_are_refused() {
        // A SHA-256 multihash peer id (as RSA keys get) does not embed a key.
        let sha = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
            .parse::<libp2p::PeerId>()
            .unwrap();
        assert!(matches!(did_of_peer(&sha), Err(IdError::NotEd25519(_))));
    }
}
