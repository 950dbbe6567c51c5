//! The wire: every message type, the frame header, the bincode codec, size limits and MTU
//! packing. Nothing outside this module knows how a datagram is laid out, so the codec can be
//! swapped (bincode 2 is unmaintained) by editing this folder alone.

mod codec;
mod frame;
mod header;
mod message;
mod pack;
#[cfg(any(test, feature = "testing"))]
pub mod samples;
mod seal;
mod status;

pub use codec::{decode_status, encode_status, encoded_len, Absurd, DecodeError, EncodeError};
pub use frame::{
    decode_datagram, decode_datagram_sized, encode_datagram, open_datagram, Datagram, Opened,
};
pub use header::{ClusterId, Header};
pub use message::{
    Ack, Delta, Entry, JoinRequest, MemberState, MemberUpdate, Members, Message, MessageKind,
    NodeId, Origin, OriginDelta, PeerList, Ping, PingReq, Rumor, SetReply, SetRequest, StatusPage,
    StatusRequest, SyncDigest, SyncPull, SyncSummary, VersionClaim,
};
pub use pack::Packer;
pub use seal::{seal, ClusterKey, Keyring, Stamp, MAX_KEYS, SEAL_OVERHEAD};
pub use status::{KnownOrigin, PeerStatus, StatusReport};

/// First bytes of every datagram: lets a node drop foreign traffic before decoding anything.
pub const MAGIC: [u8; 4] = *b"GSP\x01";
/// Bumped whenever the encoding of any message changes; mismatches are dropped and counted.
pub const PROTOCOL_VERSION: u8 = 2;
/// Default largest datagram we send: fits a 1500-byte Ethernet MTU with IP/UDP headers to spare.
pub const DEFAULT_MTU: usize = 1400;
/// Smallest MTU we accept in config: below this a full status page or rumor cannot fit.
pub const MIN_MTU: usize = 512;
/// Largest UDP payload over IPv4; anything longer cannot be a datagram of ours.
pub const MAX_DATAGRAM: usize = 65_507;
/// Memory budget for one decode: bincode counts claimed lengths against it, so a forged length
/// prefix fails fast instead of allocating gigabytes.
pub const DECODE_LIMIT: usize = 1 << 20;
/// Number of hash buckets anti-entropy summarises the origin table into (one summary fits an MTU).
pub const SYNC_BUCKETS: usize = 64;
/// Longest node id accepted; ids are printed in tables and logs, so keep them short.
pub const MAX_ID_LEN: usize = 64;
/// Longest key accepted in a `set`.
pub const MAX_KEY_LEN: usize = 128;
/// Longest value accepted in a `set`; larger values could not ride in one datagram.
pub const MAX_VALUE_LEN: usize = 512;
/// Largest rumor TTL accepted: far above any useful hop count (log2 of a million nodes is
/// 20), so a larger one is a forgery meant to make rumors circulate forever.
pub const MAX_TTL: u8 = 64;
/// Largest version or incarnation accepted (2^48: a million changes a second for nine
/// years). A forged u64::MAX would freeze an origin (nothing newer exists) or make a member
/// unable to refute.
pub const MAX_VERSION: u64 = 1 << 48;
/// Most peers one peer list may carry (a join answer fills one datagram: about 60).
pub const MAX_PEER_LIST: usize = 256;
