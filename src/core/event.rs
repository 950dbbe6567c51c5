//! Events the core reports to its driver: the runtime logs them and feeds the UI; the simulator
//! counts them.

use std::net::SocketAddr;

use bytes::Bytes;

use crate::wire::{DecodeError, MemberState, NodeId};

use super::peers::PeerSource;

pub use super::store::Route;

/// Something a user watching a node cares about.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// We learned a newer value of another node's key (`None`: the key was deleted).
    Learned {
        origin: NodeId,
        key: String,
        value: Option<Bytes>,
        version: u64,
        via: SocketAddr,
        route: Route,
    },
    /// A key's TTL ran out: it is gone on this node (every node expires it at the same
    /// wall-clock deadline).
    Expired {
        origin: NodeId,
        key: String,
        version: u64,
    },
    /// We changed our own state and started a rumor.
    Originated {
        key: String,
        value: Option<Bytes>,
        version: u64,
        pushed_to: usize,
    },
    /// We passed a rumor on.
    Relayed {
        origin: NodeId,
        version: u64,
        to: usize,
        ttl: u8,
    },
    /// A rumor we had already seen arrived again.
    Duplicate {
        origin: NodeId,
        version: u64,
        from: SocketAddr,
    },
    /// A new peer joined our peer set.
    PeerAdded {
        addr: SocketAddr,
        id: Option<NodeId>,
        source: PeerSource,
    },
    /// A member's state changed in our view (`by` names the suspecter of a suspicion).
    MemberChanged {
        id: NodeId,
        addr: SocketAddr,
        state: MemberState,
        incarnation: u64,
        by: Option<NodeId>,
    },
    /// Someone accused us (suspect, dead or left); we refuted with a higher incarnation.
    Refuted {
        accused: MemberState,
        incarnation: u64,
    },
    /// We can no longer reach more than half of the members we knew (a partition, or most of
    /// the cluster failed).
    Partitioned { unreachable: usize, known: usize },
    /// Contact is back with at least half of the members we know, `after` the partition began.
    Reconnected {
        after: std::time::Duration,
        reachable: usize,
        known: usize,
    },
    /// A source sent so many bad datagrams that it is ignored for `ban`.
    SourceBanned {
        from: SocketAddr,
        ban: std::time::Duration,
    },
    /// A datagram was refused.
    BadDatagram {
        from: SocketAddr,
        error: DecodeError,
    },
    /// The peer `id` (proven by its datagram tags) delivered forged state again and again: its
    /// datagrams are ignored for `ban` (longer each time).
    PeerIgnored {
        id: NodeId,
        addr: SocketAddr,
        ban: std::time::Duration,
    },
    /// `origin` changes faster than this node relays (`origin_rate`): this change was
    /// applied but is left to anti-entropy.
    Throttled { origin: NodeId },
    /// State about `origin` relayed by `from` was refused: its signatures do not check out
    /// under the key this node trusts for that origin.
    Refused {
        origin: NodeId,
        from: SocketAddr,
        reason: super::trust::Refusal,
    },
}
