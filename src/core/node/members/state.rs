//! What the membership part owns, shared by its two halves: facts (`mod.rs`) and probing
//! (`probe.rs`). Nothing here knows about either.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use crate::core::hash::Seeded;
use crate::core::membership::{Broadcasts, LocalHealth};
use crate::core::time::Time;
use crate::wire::{MemberState, NodeId};

/// What membership owns: our incarnation and health, the facts to piggyback, probing,
/// suspicions, tombstones of forgotten members, and whether we are leaving.
#[derive(Debug)]
pub(in crate::core::node) struct Membership {
    pub(super) incarnation: u64,
    pub(super) health: LocalHealth,
    pub(super) broadcasts: Broadcasts,
    pub(super) probe: ProbeState,
    /// When the next probe tick runs.
    pub(super) next_probe: Time,
    pub(super) suspects: Vec<SocketAddr>,
    pub(super) tombstones: HashMap<NodeId, Tombstone, Seeded>,
    pub(super) leaving: bool,
    /// Whether we have lost contact with more than half of the members we knew, and since
    /// when (`partition.rs`).
    pub(super) cut_off: Option<Partitioned>,
    /// When we last announced our incarnation (refutations are rate-limited).
    pub(super) announced_at: Option<Time>,
    /// Members' state changes applied so far (a running count).
    pub(super) state_changes: u64,
}

impl Membership {
    /// Starts at `incarnation`, with the first probe tick at `first_probe`.
    pub(in crate::core::node) fn new(incarnation: u64, first_probe: Time, hasher: Seeded) -> Self {
        Membership {
            incarnation,
            health: LocalHealth::new(8),
            broadcasts: Broadcasts::default(),
            probe: ProbeState::default(),
            next_probe: first_probe,
            suspects: Vec::new(),
            tombstones: HashMap::with_hasher(hasher),
            leaving: false,
            cut_off: None,
            announced_at: None,
            state_changes: 0,
        }
    }
}

impl Membership {
    /// How many member state changes (alive, suspect, dead, left) were applied so far.
    pub(in crate::core::node) fn state_changes(&self) -> u64 {
        self.state_changes
    }

    /// Whether we are leaving (or have left) the cluster.
    pub(in crate::core::node) fn leaving(&self) -> bool {
        self.leaving
    }

    /// The cluster remembers us at `incarnation` from before a restart: continue above it,
    /// so our next refutation counts.
    pub(in crate::core::node) fn continue_above(&mut self, incarnation: u64) {
        if incarnation >= self.incarnation && incarnation > 0 {
            self.incarnation = incarnation + 1;
        }
    }
}

/// A forgotten member. Gossip about it is ignored unless it refutes (alive at a higher
/// incarnation); a member we lost (declared dead, not left) is pinged now and then until the
/// rejoin window ends, so a partition that outlasts the forget time still heals.
#[derive(Debug, Clone)]
pub(super) struct Tombstone {
    pub(super) incarnation: u64,
    /// `Dead` or `Left`.
    pub(super) state: MemberState,
    pub(super) addr: SocketAddr,
    /// True for a member we knew and lost contact with (it did not leave).
    pub(super) lost: bool,
    /// When it was forgotten.
    pub(super) at: Time,
    /// When we last told it that we believe it gone (rate limit).
    pub(super) told_at: Option<Time>,
}

/// Contact lost with more than half of the members this node knew: a partition, or most of
/// the cluster failed. Members that left are not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partitioned {
    /// When contact fell below half.
    pub since: Time,
    /// Members we knew and cannot reach now (declared dead, or forgotten after that).
    pub unreachable: usize,
    /// Members we knew: the reachable and the unreachable ones.
    pub known: usize,
}

/// Where a membership fact came from, which decides whether we push it on.
#[derive(Clone, Copy, Debug)]
pub(super) enum Source {
    /// Observed here; `push` for the observer that should announce it.
    Here { push: bool },
    /// Heard from `from`; `first_hand` when `from` is the fact's originator (we are the
    /// second hop of the push and push once more).
    Peer { from: SocketAddr, first_hand: bool },
}

/// The probe in flight.
#[derive(Debug, Clone)]
pub(super) struct Probe {
    pub(super) target: SocketAddr,
    pub(super) seq: u64,
    pub(super) sent: Time,
    pub(super) deadline: Time,
    pub(super) indirect: bool,
    /// Members asked to probe for us (indirect phase).
    pub(super) helpers: Vec<SocketAddr>,
}

/// A ping we send for someone else's indirect probe.
#[derive(Debug, Clone)]
pub(super) struct Forward {
    /// The member we pinged, and when: an unanswered forward is our own evidence against it.
    pub(super) target: SocketAddr,
    pub(super) sent: Time,
    pub(super) seq: u64,
    pub(super) requester: SocketAddr,
    pub(super) their_seq: u64,
    pub(super) expires: Time,
}

/// Probe scheduling and in-flight state.
#[derive(Debug, Default)]
pub(super) struct ProbeState {
    pub(super) pending: Option<Probe>,
    pub(super) seq: u64,
    pub(super) forwards: VecDeque<Forward>,
    /// Our last failed probe's target and helpers, while none of them has been heard from
    /// (the failure counted against our own health).
    pub(super) doubted: Option<(SocketAddr, Vec<SocketAddr>)>,
    pub(super) ticks: u64,
    /// Smoothed round trip of our direct pings (RFC 6298's 1/8 gain).
    pub(super) srtt: Option<std::time::Duration>,
}
