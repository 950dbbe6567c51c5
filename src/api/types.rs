//! The values the API hands out: events, members and state snapshots.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;

use crate::core;
use crate::wire;

/// What a [`Subscription`](crate::Subscription) delivers: a change of state or membership,
/// as this node applies it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A key changed: set, overwritten or deleted, by this node or another.
    Changed {
        /// The node whose key it is.
        origin: String,
        /// The key.
        key: String,
        /// The new value, or `None` if the key was deleted.
        value: Option<Bytes>,
        /// The origin's version counter at the change.
        version: u64,
    },
    /// A key's TTL ran out: it is gone (every node expires it at the same wall-clock time).
    Expired {
        /// The node whose key it was.
        origin: String,
        /// The key.
        key: String,
        /// The origin's version of the value that expired.
        version: u64,
    },
    /// A member joined, or its state changed (alive, suspect, dead, left).
    Member(Member),
    /// This node can no longer reach more than half of the members it knew: a network split
    /// cut it off, or most of the cluster failed. Members that left are not counted.
    Partitioned {
        /// Members it knew that it cannot reach.
        unreachable: usize,
        /// Members it knew, reachable or not.
        known: usize,
    },
    /// At least half of the members it knows are reachable again.
    Reconnected {
        /// How long the partition lasted.
        after: std::time::Duration,
        /// Members reachable now.
        reachable: usize,
        /// Members it knows, reachable or not.
        known: usize,
    },
    /// This subscriber fell behind and `missed` events were dropped for it: read
    /// [`GossipHandle::snapshot`](crate::GossipHandle::snapshot) and
    /// [`members`](crate::GossipHandle::members) again to catch up.
    Lagged {
        /// How many events were lost.
        missed: u64,
    },
}

/// A member's state, as this node believes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MemberState {
    /// Answering probes.
    Alive,
    /// A probe went unanswered; it is declared dead unless it refutes in time.
    Suspect,
    /// Did not refute a suspicion in time.
    Dead,
    /// Left the cluster gracefully (shut down).
    Left,
}

impl MemberState {
    /// `alive`, `suspect`, `dead` or `left`.
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Alive => "alive",
            MemberState::Suspect => "suspect",
            MemberState::Dead => "dead",
            MemberState::Left => "left",
        }
    }

    /// Alive or suspect: still taking part in the cluster.
    pub fn is_live(self) -> bool {
        matches!(self, MemberState::Alive | MemberState::Suspect)
    }
}

impl From<wire::MemberState> for MemberState {
    fn from(s: wire::MemberState) -> Self {
        match s {
            wire::MemberState::Alive => MemberState::Alive,
            wire::MemberState::Suspect => MemberState::Suspect,
            wire::MemberState::Dead => MemberState::Dead,
            wire::MemberState::Left => MemberState::Left,
        }
    }
}

/// One member of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its node id.
    pub id: String,
    /// The address it is reached at.
    pub addr: SocketAddr,
    /// What this node believes of it.
    pub state: MemberState,
    /// Its SWIM incarnation (raised each time it refutes a suspicion).
    pub incarnation: u64,
}

/// A value with the origin version that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    /// The bytes.
    pub bytes: Bytes,
    /// The origin's version counter when it was set.
    pub version: u64,
}

/// What this node holds of one origin's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginState {
    /// The origin's address.
    pub addr: SocketAddr,
    /// The origin's version that this node holds every change up to.
    pub version: u64,
    /// Its live keys (deleted keys are left out).
    pub values: BTreeMap<String, Value>,
}

/// Everything a node holds, its own state included, keyed by origin id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Every origin's state.
    pub origins: BTreeMap<String, OriginState>,
}

impl Snapshot {
    /// The value `origin` holds under `key`, if any.
    pub fn get(&self, origin: &str, key: &str) -> Option<&Bytes> {
        self.origins.get(origin)?.values.get(key).map(|v| &v.bytes)
    }
}

/// Copies an origin's live keys (at wall-clock `wall_ms`) out of the core's store.
pub(super) fn origin_state(state: &core::store::OriginState, wall_ms: u64) -> OriginState {
    OriginState {
        addr: state.addr,
        version: state.watermark,
        values: state
            .values
            .iter()
            .filter_map(|(k, v)| {
                let bytes = v.live(wall_ms)?.clone();
                Some((
                    k.clone(),
                    Value {
                        bytes,
                        version: v.version,
                    },
                ))
            })
            .collect(),
    }
}

/// The API event for a core event of `node`, if it is one a user sees.
pub(super) fn event_of(node: &core::Node, event: &core::Event) -> Option<Event> {
    let own = node.id();
    let changed =
        |origin: &wire::NodeId, key: &str, value: &Option<Bytes>, version| Event::Changed {
            origin: origin.to_string(),
            key: key.to_string(),
            value: value.clone(),
            version,
        };
    match event {
        core::Event::Learned {
            origin,
            key,
            value,
            version,
            ..
        } => Some(changed(origin, key, value, *version)),
        core::Event::Originated {
            key,
            value,
            version,
            ..
        } => Some(changed(own, key, value, *version)),
        core::Event::Expired {
            origin,
            key,
            version,
        } => Some(Event::Expired {
            origin: origin.to_string(),
            key: key.to_string(),
            version: *version,
        }),
        core::Event::MemberChanged {
            id,
            addr,
            state,
            incarnation,
            ..
        } => Some(Event::Member(Member {
            id: id.to_string(),
            addr: *addr,
            state: (*state).into(),
            incarnation: *incarnation,
        })),
        core::Event::Partitioned { unreachable, known } => Some(Event::Partitioned {
            unreachable: *unreachable,
            known: *known,
        }),
        core::Event::Reconnected {
            after,
            reachable,
            known,
        } => Some(Event::Reconnected {
            after: *after,
            reachable: *reachable,
            known: *known,
        }),
        core::Event::PeerAdded {
            addr, id: Some(id), ..
        } => {
            let peer = node.peers().get(addr);
            Some(Event::Member(Member {
                id: id.to_string(),
                addr: *addr,
                state: peer.map_or(MemberState::Alive, |p| p.state.into()),
                incarnation: peer.map_or(0, |p| p.incarnation),
            }))
        }
        _ => None,
    }
}
