//! Known-answer tests against the did:key specification's published test vectors
//! (w3c-ccg/did-method-key, test-vectors/ed25519-x25519.json): seed -> DID, Ed25519 public key,
//! derived X25519 key agreement key (public and private).
#![allow(clippy::unwrap_used)]

use vivim_identity::{Did, Keypair};

struct Vector {
    seed_last_byte: u8,
    did: &'static str,
    ed_pub_b58: &'static str,
    x_id: &'static str,
    x_pub_b58: &'static str,
    x_priv_b58: &'static str,
}

const VECTORS: &[Vector] = &[
    Vector {
        seed_last_byte: 0,
        did: "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
        ed_pub_b58: "4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS",
        x_id: "z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW",
        x_pub_b58: "7By6kV2t2d188odEM4ExAve1UithKT6dLva4dwsDT3ak",
        x_priv_b58: "6QN8DfuN9hjgHgPvLXqgzqYE3jRRGRrmJQZkd5tL8paR",
    },
    Vector {
        seed_last_byte: 1,
        did: "did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG",
        ed_pub_b58: "6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt",
        x_id: "z6LSrHyXiPBhUbvPUtyUCdf32sniiMGPTAesgHrtEa4FePtr",
        x_pub_b58: "FcoNC5NqP9CePWbhfz95iHaEsCjGkZUioK9Ck7Qiw286",
        x_priv_b58: "HBTcN2MrXNRj9xF9oi8QqYyuEPv3JLLjQKuEgW9oxVKP",
    },
    Vector {
        seed_last_byte: 2,
        did: "did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf",
        ed_pub_b58: "8pM1DN3RiT8vbom5u1sNryaNT1nyL8CTTW3b5PwWXRBH",
        x_id: "z6LSkkqoZRC34AEpbkhZCqLDcHQVAxuLpQ7kC8XCXMVUfvjE",
        x_pub_b58: "A5fe37PAxhX5WNKngBpGHhC1KpNE7nwbK9oX2tqwxYxU",
        x_priv_b58: "ACa4PPJ1LnPNq1iwS33V3Akh7WtnC71WkKFZ9ccM6sX2",
    },
    Vector {
        seed_last_byte: 3,
        did: "did:key:z6MkvqoYXQfDDJRv8L4wKzxYeuKyVZBfi9Qo6Ro8MiLH3kDQ",
        ed_pub_b58: "HPYVwAQmskwT1qEEeRzhoomyfyupJGASQQtCXSNG8XS2",
        x_id: "z6LSiUo6AEDat8Ze4nQzDo67SGuHLLwsUGkxndHGUjsywHow",
        x_pub_b58: "7ocvdvQinfqtyQ3Dh9aA7ggoVCQkmfaoueZazHETDv3B",
        x_priv_b58: "FZrzd1osCnbK6y6MJzMBW1RcVfL524sNKhSbqRwMuwHT",
    },
    Vector {
        seed_last_byte: 4,
        did: "did:key:z6MkwW6aqMnjgrhJXFUko3NnZPGzVpkNzhYK7yEhnsibmLwL",
        ed_pub_b58: "J3qYF7YJMKCqQke47UQwiHizgFUXapHxRxKmxbkar89x",
        x_id: "z6LSrGb3qm4xMCEBjvwkLb2WEcXfTM94Tu1RyGCbT5wbg8i9",
        x_pub_b58: "FbQtKTG6FjWSeYZyowWYv2KBcCbwmHqH6HUuxdJ4xkwP",
        x_priv_b58: "8Zybi2bqQ8YB4uPm3iy2rkDCmbB4wkG2Y2ig5YAkgNdg",
    },
];

// A tiny base58btc codec so that this test does not reuse the code under test.
fn b58(input: &[u8]) -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = vec![0];
    for &byte in input {
        let mut carry = byte as u32;
        for d in digits.iter_mut() {
            carry += (*d as u32) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = input.iter().take_while(|&&b| b == 0).count();
    let mut out = String::new();
    for _ in 0..zeros {
        out.push('1');
    }
    for &d in digits.iter().rev().skip_while(|&&d| d == 0) {
        out.push(ALPHABET[d as usize] as char);
    }
    out
}

#[test]
fn spec_vectors() {
    for v in VECTORS {
        let mut seed = [0u8; 32];
        seed[31] = v.seed_last_byte;
        let kp = Keypair::from_seed(&seed);
        let did = kp.did();
        assert_eq!(did.to_string(), v.did, "DID for seed {}", v.seed_last_byte);
        assert_eq!(b58(kp.public().as_bytes()), v.ed_pub_b58);
        assert_eq!(b58(&kp.public().x25519().to_bytes()), v.x_pub_b58);
        // The spec lists the X25519 private key as the unclamped low half of SHA-512(seed);
        // compare after clamping, which is what X25519 uses.
        let mut ours = kp.x25519_secret().to_bytes();
        let mut theirs: [u8; 32] = decode_b58(v.x_priv_b58).try_into().unwrap();
        for k in [&mut ours, &mut theirs] {
            k[0] &= 248;
            k[31] &= 127;
            k[31] |= 64;
        }
        assert_eq!(
            ours, theirs,
            "X25519 private key for seed {}",
            v.seed_last_byte
        );

        // Parsing the published DID gives the same key back.
        let parsed: Did = v.did.parse().unwrap();
        assert_eq!(parsed, did);

        // The DID document names the Ed25519 key and the X25519 key agreement key.
        let doc = did.document();
        let json = serde_json::to_value(&doc).unwrap();
        let ed_ref = format!("{}#{}", v.did, &v.did["did:key:".len()..]);
        let x_ref = format!("{}#{}", v.did, v.x_id);
        assert_eq!(json["id"], v.did);
        assert_eq!(json["authentication"][0], ed_ref.as_str());
        assert_eq!(json["assertionMethod"][0], ed_ref.as_str());
        assert_eq!(json["keyAgreement"][0], x_ref.as_str());
        assert_eq!(json["verificationMethod"][1]["publicKeyMultibase"], v.x_id);
        assert_eq!(json["verificationMethod"][0]["controller"], v.did);
    }
}

fn decode_b58(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut bytes: Vec<u8> = vec![0];
    for c in s.bytes() {
        let mut carry = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        for b in bytes.iter_mut() {
            carry += (*b as u32) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = s.bytes().take_while(|&c| c == b'1').count();
    let mut out = vec![0u8; zeros];
    out.extend(bytes.iter().rev().skip_while(|&&b| b == 0));
    out
}
