//! What an origin signs, byte for byte. Every node must build the very same bytes for a change
//! to check its signature, so the layout lives here with the rest of the wire and is versioned
//! by its domain tag: changing it is a protocol change.
//!
//! A statement is the domain tag, then length-prefixed fields, so no two different changes can
//! produce the same bytes.

use std::fmt;
use std::str::FromStr;

use bincode::{Decode, Encode};

use super::message::{Entry, NodeId, Payload};

/// An ed25519 public key: who signed an origin's state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Signature(pub [u8; 64]);

impl fmt::Display for PublicKey {
    /// Lowercase hex, as `gossip keygen` prints it and `--trusted-keys` lists it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(&self.0[..8]))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.0[..8]))
    }
}

impl FromStr for PublicKey {
    type Err = String;

    /// 64 hex digits.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes)
            .map_err(|_| format!("`{}` is not a public key (64 hex digits)", text.trim()))?;
        Ok(PublicKey(bytes))
    }
}

/// Domain tag of a change statement.
const ENTRY_TAG: &[u8] = b"gossip/1 change\0";
/// Domain tag of a head statement.
const HEAD_TAG: &[u8] = b"gossip/1 head\0";
/// Domain tag of a join statement.
const JOIN_TAG: &[u8] = b"gossip/1 join\0";

/// What a signed change says about its value: deleted, or set to bytes of this size and
/// BLAKE3 hash (so an announced value's signature covers the pieces fetched later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commitment {
    Deleted,
    Value { size: u64, hash: [u8; 32] },
}

impl Commitment {
    /// The commitment to a payload as it travels: inline bytes are hashed here, an announced
    /// value brings its hash.
    pub fn of(payload: &Payload) -> Self {
        match payload {
            Payload::Deleted => Commitment::Deleted,
            Payload::Inline(bytes) => Commitment::Value {
                size: bytes.len() as u64,
                hash: *blake3::hash(bytes).as_bytes(),
            },
            Payload::Announced(a) => Commitment::Value {
                size: u64::from(a.size),
                hash: a.hash,
            },
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The bytes `origin` signs for one change: version `version` set `key` to `value` (or
/// deleted it), expiring at `expires_ms`.
pub fn change_statement(
    origin: &NodeId,
    version: u64,
    key: &str,
    value: Commitment,
    expires_ms: Option<u64>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENTRY_TAG.len() + origin.as_str().len() + key.len() + 64);
    out.extend_from_slice(ENTRY_TAG);
    put_str(&mut out, origin.as_str());
    out.extend_from_slice(&version.to_be_bytes());
    put_str(&mut out, key);
    match value {
        Commitment::Deleted => out.push(0),
        Commitment::Value { size, hash } => {
            out.push(1);
            out.extend_from_slice(&size.to_be_bytes());
            out.extend_from_slice(&hash);
        }
    }
    match expires_ms {
        None => out.push(0),
        Some(at) => {
            out.push(1);
            out.extend_from_slice(&at.to_be_bytes());
        }
    }
    out
}

/// The statement for an entry as it travels.
pub fn entry_statement(origin: &NodeId, entry: &Entry) -> Vec<u8> {
    change_statement(
        origin,
        entry.version,
        &entry.key,
        Commitment::of(&entry.value),
        entry.expires_ms,
    )
}

/// The bytes `origin` signs to say "my state has reached version `version`": what lets a
/// relay pass on a version no held entry carries (a node with no keys yet, a counter raised
/// after a restart, a deleted key already forgotten).
pub fn head_statement(origin: &NodeId, version: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD_TAG.len() + origin.as_str().len() + 12);
    out.extend_from_slice(HEAD_TAG);
    put_str(&mut out, origin.as_str());
    out.extend_from_slice(&version.to_be_bytes());
    out
}

/// The bytes a joining node signs: "I, `origin`, at `addr`, ask to join".
pub fn join_statement(origin: &NodeId, addr: &std::net::SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(JOIN_TAG.len() + origin.as_str().len() + 32);
    out.extend_from_slice(JOIN_TAG);
    put_str(&mut out, origin.as_str());
    put_str(&mut out, &addr.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_differ_whenever_a_signed_field_differs() {
        let id = NodeId::from("n1");
        let v = Commitment::Value {
            size: 3,
            hash: *blake3::hash(b"abc").as_bytes(),
        };
        let base = change_statement(&id, 5, "book", v, None);
        assert_ne!(base, change_statement(&NodeId::from("n2"), 5, "book", v, None));
        assert_ne!(base, change_statement(&id, 6, "book", v, None));
        assert_ne!(base, change_statement(&id, 5, "books", v, None));
        assert_ne!(base, change_statement(&id, 5, "book", Commitment::Deleted, None));
        assert_ne!(base, change_statement(&id, 5, "book", v, Some(1)));
        // Length prefixes: moving bytes between id and key is a different statement.
        assert_ne!(
            change_statement(&NodeId::from("ab"), 1, "c", v, None),
            change_statement(&NodeId::from("a"), 1, "bc", v, None)
        );
        assert_ne!(head_statement(&id, 5), head_statement(&id, 6));
        let key: PublicKey = "00".repeat(32).parse().expect("hex");
        assert_eq!(key.to_string(), "00".repeat(32));
        assert!("zz".parse::<PublicKey>().is_err());
    }
}
