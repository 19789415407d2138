//! From parsed conversations to signed ACUs: the owner signs every unit of an import (the role
//! says who spoke), parents before children, so each ACU names its parent's id.

use std::collections::{HashMap, HashSet};

use vivim_identity::Keypair;
use vivim_protocol::{Acu, Body, ConvId, Hash, Manifest, Signed, limits::MAX_SHORT_STRING};

use crate::{import::ImportedConversation, search::IndexDoc, store::NewConversation};

/// Why a parsed conversation could not become ACUs.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A message could not be signed (too large, invalid field).
    #[error("message {id}: {detail}")]
    Message {
        /// The provider's message id.
        id: String,
        /// What failed.
        detail: String,
    },
    /// The manifest could not be signed.
    #[error("manifest: {0}")]
    Manifest(String),
}

/// A rough token estimate (4 bytes a token), used for manifests. Exact counts for a given model
/// come from the context engine's tokenizer.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

fn clip(s: &str, max: usize) -> String {
    crate::text::clip(s, max).to_string()
}

/// Signs a parsed conversation into a manifest and ACUs, and the search documents for them.
pub fn build(
    conv: &ImportedConversation,
    key: &Keypair,
) -> Result<(NewConversation, Vec<IndexDoc>), BuildError> {
    let owner = key.public();
    let id = ConvId::for_import(&owner, &conv.provider, &conv.source_id);
    let mut ids: HashMap<&str, Hash> = HashMap::with_capacity(conv.messages.len());
    let mut parents: HashMap<Hash, Option<Hash>> = HashMap::with_capacity(conv.messages.len());
    let mut visible: HashMap<Hash, bool> = HashMap::with_capacity(conv.messages.len());
    let mut message_of: HashMap<Hash, &str> = HashMap::new();
    let mut acus = Vec::with_capacity(conv.messages.len());
    let mut docs = Vec::with_capacity(conv.messages.len());
    let mut tokens = 0u64;
    for m in &conv.messages {
        let parent = m.parent.as_deref().and_then(|p| ids.get(p).copied());
        let mut acu = Acu::new(
            id,
            parent,
            owner,
            m.role,
            m.kind,
            Body::text(m.text.clone()),
            m.created_at_ms.unwrap_or(conv.created_at_ms),
        );
        acu.lang = m.lang.as_deref().map(|l| clip(l, MAX_SHORT_STRING));
        acu.provider_meta = m
            .meta
            .iter()
            .take(vivim_protocol::limits::MAX_META_ENTRIES - 1)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        acu.provider_meta.insert("id".into(), m.id.clone());
        let signed = Signed::sign(acu, key).map_err(|e| BuildError::Message {
            id: m.id.clone(),
            detail: e.to_string(),
        })?;
        let h = signed.id();
        ids.insert(m.id.as_str(), h);
        parents.insert(h, parent);
        visible.insert(h, m.visible);
        message_of.insert(
            h,
            m.meta
                .get(super::common::PART_OF)
                .map_or(m.id.as_str(), String::as_str),
        );
        tokens += estimate_tokens(&m.text);
        if !m.text.is_empty() {
            docs.push(IndexDoc {
                acu_id: h,
                conversation: id,
                provider: conv.provider.clone(),
                role: m.role,
                kind: m.kind,
                created_at_ms: signed.value().created_at_ms,
                title: conv.title.clone(),
                text: m.text.clone(),
            });
        }
        acus.push(signed);
    }
    let head = conv
        .head
        .as_deref()
        .and_then(|h| ids.get(h).copied())
        .or_else(|| acus.last().map(|a| a.id()));
    // Visible messages on the head branch; the parts of one message (text and an image, a
    // file, an audio pointer) count once.
    let mut counted: HashSet<&str> = HashSet::new();
    let mut cursor = head;
    let mut steps = 0usize;
    while let Some(h) = cursor {
        if visible.get(&h).copied().unwrap_or(false)
            && let Some(key) = message_of.get(&h)
        {
            counted.insert(key);
        }
        cursor = parents.get(&h).copied().flatten();
        steps += 1;
        if steps > acus.len() {
            break;
        }
    }
    let message_count = u32::try_from(counted.len()).unwrap_or(u32::MAX);
    let manifest = Manifest {
        v: 1,
        id,
        provider: clip(&conv.provider, MAX_SHORT_STRING),
        source_id: Some(conv.source_id.clone()),
        source_url: conv.source_url.clone(),
        title: conv.title.clone(),
        created_at_ms: conv.created_at_ms,
        updated_at_ms: conv.updated_at_ms.max(conv.created_at_ms),
        owner,
        model: conv.model.as_deref().map(|m| clip(m, MAX_SHORT_STRING)),
        message_count,
        total_tokens: tokens,
        head,
        forked_from: None,
        sig: None,
    };
    let manifest = Signed::sign(manifest, key).map_err(|e| BuildError::Manifest(e.to_string()))?;
    Ok((NewConversation { manifest, acus }, docs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::ImportedMessage;
    use vivim_protocol::{Kind, Role};

    fn msg(
        id: &str,
        parent: Option<&str>,
        role: Role,
        text: &str,
        visible: bool,
    ) -> ImportedMessage {
        ImportedMessage {
            id: id.into(),
            parent: parent.map(Into::into),
            role,
            kind: Kind::Text,
            lang: None,
            text: text.into(),
            created_at_ms: Some(1),
            visible,
            meta: Default::default(),
        }
    }

    fn conv() -> ImportedConversation {
        ImportedConversation {
            provider: "chatgpt".into(),
            source_id: "abc".into(),
            title: "T".into(),
            source_url: None,
            created_at_ms: 1,
            updated_at_ms: 2,
            model: None,
            messages: vec![
                msg("s", None, Role::System, "sys", false),
                msg("u1", Some("s"), Role::User, "hi", true),
                msg("a1", Some("u1"), Role::Assistant, "first answer", true),
                msg("a2", Some("u1"), Role::Assistant, "regenerated", true),
                msg("u2", Some("a2"), Role::User, "thanks", true),
            ],
            head: Some("u2".into()),
        }
    }

    #[test]
    fn branches_parents_and_head_count() {
        let key = Keypair::from_seed(&[1; 32]);
        let (new, docs) = build(&conv(), &key).unwrap();
        assert_eq!(new.acus.len(), 5);
        assert_eq!(docs.len(), 5);
        let a = &new.acus;
        assert_eq!(a[1].value().parent, Some(a[0].id()));
        assert_eq!(a[2].value().parent, Some(a[1].id()));
        assert_eq!(a[3].value().parent, Some(a[1].id()));
        let m = new.manifest.value();
        assert_eq!(m.head, Some(a[4].id()));
        // u1, a2, u2 on the head branch; the system message is not visible; a1 is off-branch.
        assert_eq!(m.message_count, 3);
    }

    #[test]
    fn rebuilding_is_deterministic() {
        let key = Keypair::from_seed(&[1; 32]);
        let (x, _) = build(&conv(), &key).unwrap();
        let (y, _) = build(&conv(), &key).unwrap();
        assert_eq!(x.manifest.id(), y.manifest.id());
        assert_eq!(
            x.acus.iter().map(|a| a.id()).collect::<Vec<_>>(),
            y.acus.iter().map(|a| a.id()).collect::<Vec<_>>()
        );
    }
}
