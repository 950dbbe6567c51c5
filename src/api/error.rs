//! The one error type of the public API.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::core::SetError;
use crate::runtime::BindError;

/// Why a node could not start, or refused a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The UDP socket could not be opened.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The address is taken (another node, or another program, holds it).
    AddrInUse(SocketAddr),
    /// The cluster key file is missing or malformed.
    ClusterKey {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The data directory's state file cannot be read or written.
    DataDir(String),
    /// A builder setting is out of range or inconsistent; the message names it.
    Config(String),
    /// A key that is empty or longer than [`GossipHandle::MAX_KEY_LEN`](crate::GossipHandle::MAX_KEY_LEN).
    InvalidKey {
        /// The key's length in bytes.
        len: usize,
        /// The largest allowed.
        max: usize,
    },
    /// A value longer than the node's `max_value_bytes` (see
    /// [`GossipBuilder::max_value_bytes`](crate::GossipBuilder::max_value_bytes)).
    ValueTooLarge {
        /// The value's length in bytes.
        len: usize,
        /// The largest allowed.
        max: usize,
    },
    /// The value is too large to send inline and the configured MTU is too small to carry
    /// even the smallest piece of a larger one.
    TooLargeForDatagram,
    /// The node's own keys and values would exceed its `max_state_bytes`.
    StateTooLarge {
        /// What the state would hold.
        len: usize,
        /// The node's limit.
        max: usize,
    },
    /// The node is fetching as many values as it may at once; try again shortly.
    Busy,
    /// A TTL of zero or longer than ten years.
    InvalidTtl,
    /// `spawn` was awaited outside a tokio runtime (the node runs as a tokio task).
    NoRuntime,
    /// The node has shut down (or its task ended): it takes no more requests.
    Stopped,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Bind { addr, source } => write!(f, "cannot bind {addr}: {source}"),
            Error::AddrInUse(addr) => write!(
                f,
                "address {addr} is already in use: is another node running on that port?"
            ),
            Error::ClusterKey { path, reason } => {
                write!(f, "cluster key file {}: {reason}", path.display())
            }
            Error::DataDir(why) => f.write_str(why),
            Error::Config(why) => write!(f, "invalid setting: {why}"),
            Error::InvalidKey { len, max } => write!(f, "key must be 1..={max} bytes, not {len}"),
            Error::ValueTooLarge { len, max } => write!(
                f,
                "value is {len} bytes; this node accepts at most {max} (max_value_bytes)"
            ),
            Error::TooLargeForDatagram => {
                f.write_str("key and value are too large to fit one datagram at this MTU")
            }
            Error::StateTooLarge { len, max } => write!(
                f,
                "this node's keys would hold {len} bytes; at most {max} are allowed \
                 (max_state_bytes)"
            ),
            Error::Busy => f.write_str(
                "the node is fetching as many values as it may at once; try again shortly",
            ),
            Error::InvalidTtl => f.write_str("a TTL must be between 1 ms and 10 years"),
            Error::NoRuntime => f.write_str(
                "no tokio runtime: spawn the node from within one (e.g. #[tokio::main])",
            ),
            Error::Stopped => f.write_str("the node has shut down"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Error {
    /// The API error for a refused write of `key`.
    pub(crate) fn from_set(e: SetError, key: &str) -> Self {
        match e {
            SetError::Key => Error::InvalidKey {
                len: key.len(),
                max: crate::wire::MAX_KEY_LEN,
            },
            SetError::Value { len, max } => Error::ValueTooLarge { len, max },
            SetError::State { len, max } => Error::StateTooLarge { len, max },
            SetError::Ttl => Error::InvalidTtl,
            SetError::Busy => Error::Busy,
            SetError::TooLarge => Error::TooLargeForDatagram,
        }
    }
}

impl From<BindError> for Error {
    fn from(e: BindError) -> Self {
        match e {
            BindError::InUse(addr) => Error::AddrInUse(addr),
            BindError::Other { addr, source } => Error::Bind { addr, source },
        }
    }
}
