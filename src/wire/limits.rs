//! Every size limit and protocol constant of the wire, in one place.

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
