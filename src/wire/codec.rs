//! The one place that calls bincode. Decoding is always length-checked, memory-limited and
//! must consume every byte; encoding reports its size so callers can respect the MTU.

use bincode::config::{self, Configuration, Limit};
use bincode::{Decode, Encode};

use super::limits::DECODE_LIMIT;

type Limited = Configuration<config::LittleEndian, config::Varint, Limit<DECODE_LIMIT>>;

fn limited() -> Limited {
    config::standard().with_limit::<DECODE_LIMIT>()
}

/// A well-formed field whose value no honest node sends: each kind has its own counter, so
/// an operator can tell a forger's aim (freeze an origin, loop rumors, bloat tables) at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absurd {
    /// A rumor TTL above [`super::limits::MAX_TTL`]: it would circulate forever.
    Ttl,
    /// A version above [`super::limits::MAX_VERSION`]: nothing newer could ever replace it.
    Version,
    /// An incarnation above [`super::limits::MAX_VERSION`]: the member could never refute again.
    Incarnation,
    /// More peers than [`super::limits::MAX_PEER_LIST`] in one list.
    PeerList,
}

/// Why a datagram was refused; each variant is counted separately by the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    Empty,
    TooShort(usize),
    TooLong(usize),
    BadMagic,
    BadVersion(u8),
    WrongCluster,
    Truncated(usize),
    Malformed(String),
    TrailingBytes(usize),
    Invalid(&'static str),
    Absurd(Absurd),
    Unsealed,
    SealedWithoutKey,
    AuthFailed,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty datagram"),
            DecodeError::TooShort(n) => write!(f, "datagram of {n} bytes is too short for a header"),
            DecodeError::TooLong(n) => {
                write!(f, "datagram of {n} bytes is larger than any valid datagram")
            }
            DecodeError::BadMagic => f.write_str("bad magic"),
            DecodeError::BadVersion(v) => write!(f, "protocol version {v} is not ours"),
            DecodeError::WrongCluster => f.write_str("datagram from another cluster"),
            DecodeError::Truncated(n) => write!(f, "truncated body: {n} more bytes needed"),
            DecodeError::Malformed(why) => write!(f, "malformed body: {why}"),
            DecodeError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the message"),
            DecodeError::Invalid(field) => write!(f, "invalid field: {field}"),
            DecodeError::Absurd(what) => write!(f, "absurd value: {what:?}"),
            DecodeError::Unsealed => f.write_str("unencrypted datagram in a keyed cluster"),
            DecodeError::SealedWithoutKey => {
                f.write_str("encrypted datagram, and we have no cluster key")
            }
            DecodeError::AuthFailed => {
                f.write_str("authentication failed (wrong cluster key, or tampered)")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    /// Stable counter name so operators can tell junk from misconfigured peers.
    pub fn counter(&self) -> &'static str {
        match self {
            DecodeError::Empty => "decode_empty",
            DecodeError::TooShort(_) => "decode_too_short",
            DecodeError::TooLong(_) => "decode_too_long",
            DecodeError::BadMagic => "decode_bad_magic",
            DecodeError::BadVersion(_) => "decode_bad_version",
            DecodeError::WrongCluster => "decode_wrong_cluster",
            DecodeError::Truncated(_) => "decode_truncated",
            DecodeError::Malformed(_) => "decode_malformed",
            DecodeError::TrailingBytes(_) => "decode_trailing_bytes",
            DecodeError::Invalid(_) => "decode_invalid_field",
            DecodeError::Absurd(Absurd::Ttl) => "absurd_ttl",
            DecodeError::Absurd(Absurd::Version) => "absurd_version",
            DecodeError::Absurd(Absurd::Incarnation) => "absurd_incarnation",
            DecodeError::Absurd(Absurd::PeerList) => "absurd_peer_list",
            DecodeError::Unsealed => "auth_unsealed",
            DecodeError::SealedWithoutKey => "auth_sealed_without_key",
            DecodeError::AuthFailed => "auth_failed",
        }
    }
}

fn from_bincode(e: bincode::error::DecodeError) -> DecodeError {
    match e {
        bincode::error::DecodeError::UnexpectedEnd { additional } => {
            DecodeError::Truncated(additional)
        }
        other => DecodeError::Malformed(other.to_string()),
    }
}

/// Encoding failures: only size matters, since our own types always encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    TooLarge { size: usize, limit: usize },
    Codec(String),
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::TooLarge { size, limit } => {
                write!(f, "encoded size {size} exceeds the limit {limit}")
            }
            EncodeError::Codec(why) => write!(f, "encoding failed: {why}"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Exact encoded size of a value, without allocating; the packer budgets datagrams with it.
pub fn encoded_len<T: Encode>(value: &T) -> usize {
    let mut writer = bincode::enc::write::SizeWriter::default();
    // SizeWriter never fails and our types have no fallible encoders.
    let _ = bincode::encode_into_writer(value, &mut writer, config::standard());
    writer.bytes_written
}

/// Appends the encoding of `value` to `out`.
pub(crate) fn encode_into<T: Encode>(value: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    bincode::encode_into_std_write(value, out, config::standard())
        .map(|_| ())
        .map_err(|e| EncodeError::Codec(e.to_string()))
}

/// Decodes one value from the front of `bytes`, returning how many bytes it used.
pub(crate) fn decode_prefix<T: Decode<()>>(bytes: &[u8]) -> Result<(T, usize), DecodeError> {
    bincode::decode_from_slice::<T, _>(bytes, limited()).map_err(from_bincode)
}

/// Memory budget for a reassembled status report (much larger than one datagram).
const STATUS_LIMIT: usize = 64 << 20;

/// Encodes a status report for paging over several datagrams.
pub fn encode_status(report: &super::status::StatusReport) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_into(report, &mut out)?;
    Ok(out)
}

/// Decodes a reassembled status report under its own memory limit, refusing trailing bytes.
pub fn decode_status(bytes: &[u8]) -> Result<super::status::StatusReport, DecodeError> {
    let cfg = config::standard().with_limit::<STATUS_LIMIT>();
    let (report, used) =
        bincode::decode_from_slice::<super::status::StatusReport, _>(bytes, cfg).map_err(from_bincode)?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes(bytes.len() - used));
    }
    Ok(report)
}

/// Memory budget for a node's saved keys (its whole state: `max_state_bytes` is at most
/// this; the encoding adds a few bytes per key).
const SAVED_LIMIT: usize = (1 << 30) + (16 << 20);

/// A node's own keys as `--data-dir` keeps them on disk.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct SavedKeys {
    /// The node version these keys are current at.
    pub version: u64,
    pub keys: Vec<SavedKey>,
}

/// One saved key.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct SavedKey {
    pub key: String,
    pub value: Vec<u8>,
    pub expires_ms: Option<u64>,
}

/// Encodes saved keys for the data dir.
pub fn encode_saved(saved: &SavedKeys) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_into(saved, &mut out)?;
    Ok(out)
}

/// Decodes saved keys under a memory limit, refusing trailing bytes.
pub fn decode_saved(bytes: &[u8]) -> Result<SavedKeys, DecodeError> {
    let cfg = config::standard().with_limit::<SAVED_LIMIT>();
    let (saved, used) =
        bincode::decode_from_slice::<SavedKeys, _>(bytes, cfg).map_err(from_bincode)?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes(bytes.len() - used));
    }
    Ok(saved)
}
