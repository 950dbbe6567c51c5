//! The fixed 14-byte plaintext prefix of every datagram (magic, protocol version, flags,
//! cluster id): what framing and sealing both build on.

use bincode::{Decode, Encode};

use super::limits::{MAGIC, PROTOCOL_VERSION};

/// Names a cluster on the wire so two clusters sharing a network ignore each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct ClusterId(pub [u8; 8]);

impl ClusterId {
    /// Derived from the human-readable cluster name, so configs only ever hold the name.
    pub fn from_name(name: &str) -> Self {
        let hash = blake3::hash(name.as_bytes());
        let mut id = [0u8; 8];
        id.copy_from_slice(&hash.as_bytes()[..8]);
        ClusterId(id)
    }
}

/// The plaintext prefix of every datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Header {
    pub magic: [u8; 4],
    pub version: u8,
    pub flags: u8,
    pub cluster: ClusterId,
}

impl Header {
    /// Encoded size: every field is fixed-width, so this never varies.
    pub const LEN: usize = 14;

    /// The header our node stamps on everything it sends.
    pub fn ours(cluster: ClusterId) -> Self {
        Header {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            flags: 0,
            cluster,
        }
    }
}
