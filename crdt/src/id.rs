//! Document ids: `<kind>.<writer>.<name>`.

use std::{fmt, str::FromStr};

use vivim_identity::Did;

/// What a document holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocKind {
    /// A user's graph doc: profile, follows, friends, blocks, join requests.
    Graph,
    /// A circle (people the owner shares with).
    Circle,
    /// A group.
    Group,
    /// A team.
    Team,
}

impl DocKind {
    /// The kind's name in ids.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Graph => "graph",
            DocKind::Circle => "circle",
            DocKind::Group => "group",
            DocKind::Team => "team",
        }
    }
}

/// A document's id. The writer is part of the id, so anyone can tell whose signature an
/// update needs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId {
    kind: DocKind,
    writer: Did,
    name: String,
}

/// Longest document name.
pub const MAX_NAME: usize = 64;

/// Why a string is not a document id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseDocIdError {
    /// Not three dot-separated parts.
    #[error("a document id is <kind>.<writer>.<name>, e.g. circle.z6Mk….team-a")]
    Shape,
    /// Unknown kind.
    #[error("unknown document kind {0:?} (graph, circle, group or team)")]
    Kind(String),
    /// The writer is not a did:key.
    #[error("the writer of a document id is a did:key without its prefix: {0}")]
    Writer(String),
    /// Bad name.
    #[error("a document name is 1-64 characters of a-z, 0-9 and '-'")]
    Name,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl DocId {
    /// The graph doc of `writer`.
    pub fn graph(writer: &Did) -> DocId {
        DocId {
            kind: DocKind::Graph,
            writer: *writer,
            name: "main".into(),
        }
    }

    /// A document of `kind` owned by `writer`, called `name`.
    pub fn new(kind: DocKind, writer: &Did, name: &str) -> Result<DocId, ParseDocIdError> {
        if !valid_name(name) {
            return Err(ParseDocIdError::Name);
        }
        Ok(DocId {
            kind,
            writer: *writer,
            name: name.into(),
        })
    }

    /// A new document of `kind` owned by `writer` with a random 16-hex-digit name taken from
    /// `random` (the caller supplies the randomness: this crate does no IO).
    pub fn random(kind: DocKind, writer: &Did, random: u64) -> DocId {
        DocId {
            kind,
            writer: *writer,
            name: format!("{random:016x}"),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> DocKind {
        self.kind
    }

    /// The only identity whose updates count.
    pub fn writer(&self) -> &Did {
        &self.writer
    }

    /// Its name (unique per writer and kind).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let did = self.writer.to_string();
        let z = did.strip_prefix("did:key:").unwrap_or(&did);
        write!(f, "{}.{}.{}", self.kind.as_str(), z, self.name)
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({self})")
    }
}

impl FromStr for DocId {
    type Err = ParseDocIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > 200 {
            return Err(ParseDocIdError::Shape);
        }
        let mut parts = s.split('.');
        let (Some(kind), Some(writer), Some(name), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ParseDocIdError::Shape);
        };
        let kind = match kind {
            "graph" => DocKind::Graph,
            "circle" => DocKind::Circle,
            "group" => DocKind::Group,
            "team" => DocKind::Team,
            other => return Err(ParseDocIdError::Kind(other.into())),
        };
        let writer: Did = format!("did:key:{writer}")
            .parse()
            .map_err(|e| ParseDocIdError::Writer(format!("{e}")))?;
        if !valid_name(name) {
            return Err(ParseDocIdError::Name);
        }
        Ok(DocId {
            kind,
            writer,
            name: name.into(),
        })
    }
}

impl serde::Serialize for DocId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DocId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
