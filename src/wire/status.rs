//! The status snapshot a node serves to `gossip status`. Its serde field names are part of the
//! public JSON contract (`id`, `addr`, `version`, `peers`, `known`, `counters`; the binary adds
//! `book`, the value of the `book` key): extend, never rename.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use super::message::MemberState;

/// Everything `gossip status` shows about one node.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct StatusReport {
    pub id: String,
    pub addr: SocketAddr,
    pub version: u64,
    pub uptime_ms: u64,
    /// Our own SWIM incarnation.
    pub incarnation: u64,
    /// Lifeguard local health score (0 = healthy; higher = probing more slowly).
    pub health: u8,
    pub fanout: String,
    pub ttl: u8,
    pub peers: Vec<PeerStatus>,
    pub known: Vec<KnownOrigin>,
    pub counters: BTreeMap<String, u64>,
    /// Bytes of keys and values held, every origin's together.
    pub state_bytes: u64,
    /// Large values being fetched right now, and the bytes held of them so far.
    pub fetching: u64,
    pub fetching_bytes: u64,
    /// The last messages received that carried state, oldest first (bounded).
    pub recent: Vec<RecentMessage>,
    /// Set while the node cannot reach more than half of the members it knew.
    pub partition: Option<PartitionStatus>,
    /// The public key this node signs its changes with (hex), if it has an identity.
    pub identity: Option<String>,
    /// Whose signatures it accepts: `open`, `tofu` or `allowlist`.
    pub trust: String,
    /// Node ids with a pinned key (trust tofu and allowlist; our own included).
    pub pinned_keys: u64,
}

/// A partition as one node sees it: contact lost with more than half of the members it knew
/// (members that left are not counted).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct PartitionStatus {
    /// Milliseconds since contact fell below half.
    pub for_ms: u64,
    /// Members it knew and cannot reach.
    pub unreachable: u64,
    /// Members it knew, reachable or not.
    pub known: u64,
}

/// One recently received message.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct RecentMessage {
    /// `rumor`, `duplicate` or `delta`.
    pub kind: String,
    /// The rumor's id (null for a delta).
    pub id: Option<String>,
    pub origin: String,
    pub version: u64,
    pub from: SocketAddr,
    /// Hops the rumor had travelled when it reached this node (0 for a delta).
    pub hops: u8,
    /// Milliseconds since it arrived.
    pub age_ms: u64,
}

impl StatusReport {
    /// How many peers are in `state`: the member counts every view of a status shows.
    pub fn members_in(&self, state: MemberState) -> usize {
        self.peers.iter().filter(|p| p.state == state).count()
    }
}

/// One entry of the node's peer set.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct PeerStatus {
    pub addr: SocketAddr,
    pub id: Option<String>,
    /// `static`, `bootstrap` or `learned`: why this peer is in the set.
    pub source: String,
    /// Milliseconds since a datagram from this peer arrived, if ever.
    pub last_heard_ms: Option<u64>,
    /// `alive`, `suspect`, `dead` or `left`.
    pub state: MemberState,
    /// The member's SWIM incarnation as we know it.
    pub incarnation: u64,
}

/// What this node holds of one origin's state.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct KnownOrigin {
    pub origin: String,
    pub addr: SocketAddr,
    pub version: u64,
    /// Milliseconds since this node last learned something new from that origin.
    pub age_ms: u64,
    /// When it learned it, by this host's wall clock (microseconds since the UNIX epoch):
    /// processes on one host can compare these exactly, whenever they are polled.
    pub learned_unix_us: u64,
    /// Hops the newest information travelled as a rumor (0 for our own state or a sync).
    pub hops: u8,
    /// How the newest information arrived: `self`, `rumor` or `sync`.
    pub route: String,
    /// The peer that told us, if it was not the origin itself.
    pub via: Option<SocketAddr>,
    /// Every live key (deleted and expired keys are left out). Short text is shown as is;
    /// long or binary values are abbreviated (their size and first characters).
    pub values: BTreeMap<String, String>,
    /// Bytes of keys and values held of this origin.
    pub state_bytes: u64,
}
