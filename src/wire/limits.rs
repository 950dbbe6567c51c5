//! Every size limit and protocol constant of the wire, in one place.

/// First bytes of every datagram: lets a node drop foreign traffic before decoding anything.
pub const MAGIC: [u8; 4] = *b"GSP\x01";
/// Bumped whenever the encoding of any message changes; mismatches are dropped and counted.
pub const PROTOCOL_VERSION: u8 = 5;
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
/// Largest value that rides inline in rumors and deltas. Anything larger is announced by
/// size and content hash, and receivers fetch its pieces (see [`Announce`](super::Announce)).
pub const MAX_INLINE_VALUE: usize = 512;
/// Largest value any node accepts (a node's `max_value_bytes` may be set up to this).
pub const MAX_VALUE_LEN: usize = 16 << 20;
/// Default `max_value_bytes`: the largest value a node sets or fetches.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1 << 20;
/// Default `max_state_bytes`: the most one origin's keys and values may hold.
pub const DEFAULT_MAX_STATE_BYTES: usize = 64 << 20;
/// Largest `max_state_bytes` a node may be configured with (what `--data-dir` can restore).
pub const MAX_STATE_LEN: usize = 1 << 30;
/// Largest piece of an announced value (one piece per datagram at the default MTU).
pub const MAX_PIECE: usize = 1024;
/// Smallest piece an announcement may ask for (a tiny MTU still carries this much).
pub const MIN_PIECE: usize = 64;
/// Most pieces one fetch request names (bounds what one small request can make a node send).
pub const MAX_FETCH_PIECES: usize = 64;
/// Longest key prefix a watch may filter on.
pub const MAX_PREFIX_LEN: usize = MAX_KEY_LEN;
/// Most changes one watch datagram carries.
pub const MAX_WATCH_CHANGES: usize = 64;
/// Longest TTL a key may be given (ten years, in milliseconds).
pub const MAX_TTL_MS: u64 = 10 * 365 * 24 * 3600 * 1000;
/// Largest rumor TTL accepted: far above any useful hop count (log2 of a million nodes is
/// 20), so a larger one is a forgery meant to make rumors circulate forever.
pub const MAX_TTL: u8 = 64;
/// Largest version or incarnation accepted (2^48: a million changes a second for nine
/// years). A forged u64::MAX would freeze an origin (nothing newer exists) or make a member
/// unable to refute.
pub const MAX_VERSION: u64 = 1 << 48;
/// Most peers one peer list may carry (a join answer fills one datagram: about 60).
pub const MAX_PEER_LIST: usize = 256;
/// Most rumors one `IHave` announces.
pub const MAX_ANNOUNCED: usize = 64;
