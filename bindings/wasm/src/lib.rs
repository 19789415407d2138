//! VIVIM's IO-free crates (identity, protocol, crdt) for the browser and Node.js.
//!
//! Everything a page needs to trust what it shows without trusting the server that sent it:
//! check a `did:key`, decode and verify a signed ACU or manifest, read a share link, open a
//! sealed share package with the link's key (verifying every record), and read a circle's
//! yrs document. Built for `wasm32-unknown-unknown` with wasm-bindgen; the functions below
//! the exports are plain Rust, tested natively.

use serde::Serialize;
use vivim_identity::Did;
use vivim_protocol::{Acu, ConvId, Manifest, ShareLink, Signed};
use wasm_bindgen::prelude::*;

/// A verified message (ACU) as JavaScript sees it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AcuView {
    /// Its id: the BLAKE3 hash of its signed bytes (hex).
    pub id: String,
    /// Its conversation.
    pub conversation: String,
    /// The ACU it answers.
    pub parent: Option<String>,
    /// The DID whose signature verified.
    pub author: String,
    /// user, assistant, system, tool.
    pub role: String,
    /// text, code, …
    pub kind: String,
    /// Its text (None when the body is sealed or binary).
    pub text: Option<String>,
    /// Created (ms since the Unix epoch).
    pub created_at_ms: u64,
}

/// A verified conversation manifest.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManifestView {
    /// Conversation id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Where it came from.
    pub provider: String,
    /// The owner, whose signature verified.
    pub owner: String,
    /// Created (ms).
    pub created_at_ms: u64,
    /// Last changed (ms).
    pub updated_at_ms: u64,
    /// Messages on the head branch.
    pub message_count: u32,
    /// The head ACU.
    pub head: Option<String>,
}

/// A share link's public parts (the key stays inside).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    /// The sealed package's hash (a BLAKE3 hash sequence).
    pub payload: String,
    /// The DID of the node that serves it.
    pub from: String,
    /// The content key's id (not the key).
    pub key_id: String,
}

/// A conversation opened from a share package: every record verified.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OpenedView {
    /// Its manifest.
    pub conversation: ManifestView,
    /// Its messages, in the package's order.
    pub messages: Vec<AcuView>,
}

fn acu_view(s: &Signed<Acu>) -> AcuView {
    let a = s.value();
    AcuView {
        id: s.id().to_hex(),
        conversation: a.conversation.to_string(),
        parent: a.parent.map(|p| p.to_hex()),
        author: a.author.did().to_string(),
        role: a.role.as_str().to_string(),
        kind: a.kind.as_str().to_string(),
        text: a.body.as_text().map(str::to_string),
        created_at_ms: a.created_at_ms,
    }
}

fn manifest_view(s: &Signed<Manifest>) -> ManifestView {
    let m = s.value();
    ManifestView {
        id: m.id.to_string(),
        title: m.title.clone(),
        provider: m.provider.clone(),
        owner: m.owner.did().to_string(),
        created_at_ms: m.created_at_ms,
        updated_at_ms: m.updated_at_ms,
        message_count: m.message_count,
        head: m.head.map(|h| h.to_hex()),
    }
}

/// Checks a `did:key` (ed25519) and gives its public key as hex.
pub fn did_public_key(did: &str) -> Result<String, String> {
    let d: Did = did.parse().map_err(|e| format!("{e}"))?;
    Ok(hex(d.public_key().as_bytes()))
}

/// Decodes a signed ACU and verifies its signature against its author.
pub fn acu(bytes: &[u8]) -> Result<AcuView, String> {
    let s = Signed::<Acu>::decode(bytes).map_err(|e| format!("not a valid signed ACU: {e}"))?;
    Ok(acu_view(&s))
}

/// Decodes a signed manifest and verifies its signature against its owner.
pub fn manifest(bytes: &[u8]) -> Result<ManifestView, String> {
    let s = Signed::<Manifest>::decode(bytes)
        .map_err(|e| format!("not a valid signed manifest: {e}"))?;
    Ok(manifest_view(&s))
}

/// Reads a share link's public parts.
pub fn link(link: &str) -> Result<LinkView, String> {
    let l: ShareLink = link.parse().map_err(|e| format!("{e}"))?;
    Ok(LinkView {
        payload: l.payload.to_hex(),
        from: l.from.to_string(),
        key_id: l.key.id().to_hex(),
    })
}

/// Decrypts one sealed blob of a share package with the link's key.
pub fn open_blob(link: &str, blob: &[u8]) -> Result<Vec<u8>, String> {
    let l: ShareLink = link.parse().map_err(|e| format!("{e}"))?;
    l.key
        .open_blob(blob)
        .map_err(|e| format!("cannot open this blob with the link's key: {e}"))
}

/// Splits a decrypted bundle into its records.
pub fn records(bundle: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    vivim_protocol::unpack_records(bundle).map_err(|e| format!("{e}"))
}

/// Opens a whole share package (its sealed blobs in order) with the link's key: the first
/// record must be a signed manifest, every other a signed ACU of the same conversation.
pub fn open_package(link: &str, blobs: &[Vec<u8>]) -> Result<OpenedView, String> {
    let mut all = Vec::new();
    for b in blobs {
        all.extend(records(&open_blob(link, b)?)?);
        if all.len() > vivim_protocol::limits::MAX_SEQ_ITEMS {
            return Err("more records than a conversation may have".into());
        }
    }
    let (first, rest) = all.split_first().ok_or("an empty package")?;
    let m = Signed::<Manifest>::decode(first).map_err(|e| format!("manifest: {e}"))?;
    let id: ConvId = m.value().id;
    let mut messages = Vec::with_capacity(rest.len());
    for r in rest {
        let a = Signed::<Acu>::decode(r).map_err(|e| format!("ACU: {e}"))?;
        if a.value().conversation != id {
            return Err(format!("ACU {} belongs to another conversation", a.id()));
        }
        messages.push(acu_view(&a));
    }
    Ok(OpenedView {
        conversation: manifest_view(&m),
        messages,
    })
}

/// Reads a circle from its yrs document (a snapshot or a sequence of updates, applied in
/// order).
pub fn circle(doc_id: &str, updates: &[Vec<u8>]) -> Result<vivim_crdt::schema::CircleView, String> {
    let id: vivim_crdt::DocId = doc_id.parse().map_err(|e| format!("{e}"))?;
    let r = vivim_crdt::Replica::new(id);
    for u in updates {
        r.apply(u).map_err(|e| format!("{e}"))?;
    }
    vivim_crdt::schema::CircleView::read(&r).ok_or_else(|| "not a circle (no name yet)".to_string())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

fn bytes_list(list: &[JsValue]) -> Vec<Vec<u8>> {
    list.iter()
        .map(|v| js_sys::Uint8Array::new(v).to_vec())
        .collect()
}

/// `verifyDid(did)`: the ed25519 public key (hex) of a valid `did:key`; throws otherwise.
#[wasm_bindgen(js_name = verifyDid)]
pub fn verify_did(did: &str) -> Result<String, JsError> {
    did_public_key(did).map_err(|e| JsError::new(&e))
}

/// `decodeAcu(bytes)`: a signed ACU, verified (`{id, conversation, author, role, text, …}`);
/// throws when the signature does not verify or the bytes are not an ACU.
#[wasm_bindgen(js_name = decodeAcu)]
pub fn decode_acu(bytes: &[u8]) -> Result<JsValue, JsError> {
    to_js(&acu(bytes).map_err(|e| JsError::new(&e))?)
}

/// `decodeManifest(bytes)`: a signed conversation manifest, verified.
#[wasm_bindgen(js_name = decodeManifest)]
pub fn decode_manifest(bytes: &[u8]) -> Result<JsValue, JsError> {
    to_js(&manifest(bytes).map_err(|e| JsError::new(&e))?)
}

/// `parseShareLink(link)`: `{payload, from, keyId}` of a `vivim://share/…` link.
#[wasm_bindgen(js_name = parseShareLink)]
pub fn parse_share_link(l: &str) -> Result<JsValue, JsError> {
    to_js(&link(l).map_err(|e| JsError::new(&e))?)
}

/// `openSealedBlob(link, blob)`: one blob of a share package decrypted with the link's key.
#[wasm_bindgen(js_name = openSealedBlob)]
pub fn open_sealed_blob(link: &str, blob: &[u8]) -> Result<Vec<u8>, JsError> {
    open_blob(link, blob).map_err(|e| JsError::new(&e))
}

/// `unpackRecords(bundle)`: the records (`Uint8Array[]`) of a decrypted bundle.
#[wasm_bindgen(js_name = unpackRecords)]
pub fn unpack_records(bundle: &[u8]) -> Result<Box<[JsValue]>, JsError> {
    let list = records(bundle).map_err(|e| JsError::new(&e))?;
    Ok(list
        .iter()
        .map(|r| JsValue::from(js_sys::Uint8Array::from(r.as_slice())))
        .collect())
}

/// `openShare(link, blobs)`: a whole share package opened and every record verified:
/// `{conversation, messages}`.
#[wasm_bindgen(js_name = openShare)]
pub fn open_share(link: &str, blobs: Box<[JsValue]>) -> Result<JsValue, JsError> {
    to_js(&open_package(link, &bytes_list(&blobs)).map_err(|e| JsError::new(&e))?)
}

/// `circleView(docId, updates)`: a circle read from its yrs updates (`Uint8Array[]`):
/// `{id, name, visibility, members, …}`.
#[wasm_bindgen(js_name = circleView)]
pub fn circle_view(doc_id: &str, updates: Box<[JsValue]>) -> Result<JsValue, JsError> {
    to_js(&circle(doc_id, &bytes_list(&updates)).map_err(|e| JsError::new(&e))?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use vivim_identity::Keypair;
    use vivim_protocol::{Body, ContentKey, Hash, Kind, Role};

    fn conversation(key: &Keypair, n: usize) -> (ConvId, Vec<Vec<u8>>) {
        let id = ConvId::for_import(&key.public(), "chatgpt", "abc");
        let mut acus = Vec::new();
        let mut parent = None;
        for i in 0..n {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            let a = Acu::new(
                id,
                parent,
                key.public(),
                role,
                Kind::Text,
                Body::text(format!("message {i}")),
                1000 + i as u64,
            );
            let s = Signed::sign(a, key).unwrap();
            parent = Some(s.id());
            acus.push(s.bytes().to_vec());
        }
        let m = Manifest {
            v: 1,
            id,
            provider: "chatgpt".into(),
            source_id: Some("abc".into()),
            source_url: None,
            title: "A title".into(),
            created_at_ms: 1000,
            updated_at_ms: 2000,
            owner: key.public(),
            model: None,
            message_count: n as u32,
            total_tokens: 0,
            head: parent,
            forked_from: None,
            sig: None,
        };
        let mut records = vec![Signed::sign(m, key).unwrap().bytes().to_vec()];
        records.extend(acus);
        (id, records)
    }

    fn sealed(key: &Keypair, records: &[Vec<u8>]) -> (String, Vec<Vec<u8>>) {
        let ck = ContentKey::generate();
        let blobs: Vec<Vec<u8>> = vivim_protocol::pack_records(records)
            .iter()
            .map(|b| ck.seal_blob(b))
            .collect();
        let link = ShareLink {
            payload: Hash::of(b"the package"),
            from: key.public().did(),
            key: ck,
        };
        (link.to_string(), blobs)
    }

    #[test]
    fn a_package_opens_with_its_link_and_every_record_verifies() {
        let key = Keypair::generate();
        let (id, records) = conversation(&key, 5);
        let (link, blobs) = sealed(&key, &records);
        let opened = open_package(&link, &blobs).unwrap();
        assert_eq!(opened.conversation.id, id.to_string());
        assert_eq!(opened.conversation.owner, key.public().did().to_string());
        assert_eq!(opened.messages.len(), 5);
        assert_eq!(opened.messages[4].text.as_deref(), Some("message 4"));
        assert_eq!(
            opened.messages[1].parent,
            Some(opened.messages[0].id.clone())
        );
        let parts = self::link(&link).unwrap();
        assert_eq!(parts.from, key.public().did().to_string());
        assert!(!format!("{parts:?}").contains(&link[link.find('#').unwrap() + 1..]));
    }

    #[test]
    fn tampered_records_blobs_and_keys_are_refused() {
        let key = Keypair::generate();
        let (_, records) = conversation(&key, 3);
        // A changed letter in a signed ACU.
        let mut acu_bytes = records[1].clone();
        let at = acu_bytes.windows(7).position(|w| w == b"message").unwrap();
        acu_bytes[at] ^= 0x20;
        assert!(acu(&records[1]).is_ok());
        assert!(
            acu(&acu_bytes)
                .unwrap_err()
                .contains("not a valid signed ACU")
        );
        // The same tampered ACU inside a sealed package.
        let mut bad = records.clone();
        bad[1] = acu_bytes;
        let (link, blobs) = sealed(&key, &bad);
        assert!(open_package(&link, &blobs).unwrap_err().starts_with("ACU"));
        // A flipped byte in a sealed blob, and another key.
        let (link, mut blobs) = sealed(&key, &records);
        let other = link.replace(
            &link[link.find('#').unwrap()..],
            &format!("#{}", "11".repeat(32)),
        );
        assert!(open_package(&other, &blobs).is_err());
        blobs[0][40] ^= 1;
        assert!(open_package(&link, &blobs).is_err());
        // An ACU of another conversation.
        let (_, foreign) = {
            let k2 = Keypair::generate();
            conversation(&k2, 2)
        };
        let mut mixed = records.clone();
        mixed.push(foreign[1].clone());
        let (link, blobs) = sealed(&key, &mixed);
        assert!(
            open_package(&link, &blobs)
                .unwrap_err()
                .contains("another conversation")
        );
        assert!(open_package(&link, &[]).is_err());
    }

    #[test]
    fn dids_and_circles() {
        let key = Keypair::generate();
        let did = key.public().did().to_string();
        assert_eq!(did_public_key(&did).unwrap(), hex(key.public().as_bytes()));
        assert!(did_public_key("did:key:z6Mk0000").is_err());
        assert!(did_public_key("did:web:example.com").is_err());

        let id =
            vivim_crdt::DocId::new(vivim_crdt::DocKind::Circle, &key.public().did(), "c1").unwrap();
        let r = vivim_crdt::Replica::new(id.clone());
        let friend = Keypair::generate().public().did();
        let u1 = r.write(|w| w.set_meta("name", "Reading group")).unwrap();
        let u2 = r
            .write(|w| w.add_member(&friend, vivim_crdt::schema::Role::Member, 5))
            .unwrap();
        let view = circle(&id.to_string(), &[u1, u2]).unwrap();
        assert_eq!(view.name, "Reading group");
        assert!(view.members.contains_key(&friend));
        assert!(circle(&id.to_string(), &[]).is_err());
        assert!(circle(&id.to_string(), &[vec![0, 1, 2, 3]]).is_err());
        assert!(circle("not-a-doc-id", &[]).is_err());
    }
}
