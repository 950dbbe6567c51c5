//! Protocol settings the core needs. The runtime builds this from TOML, flags and environment;
//! the simulator builds it directly.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use std::sync::Arc;

use crate::wire::{
    ClusterId, Keyring, NodeId, Origin, DEFAULT_MAX_STATE_BYTES, DEFAULT_MAX_VALUE_BYTES,
    DEFAULT_MTU,
};

/// How long deleted and expired keys are kept before they are forgotten: long enough for
/// every node, even one that was briefly partitioned, to hear of the deletion.
pub const DEFAULT_TOMBSTONE_GRACE: Duration = Duration::from_secs(600);

use super::fault::FaultConfig;
use super::guard::GuardConfig;

/// How many peers a rumor is pushed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Fanout {
    /// Sized for the cluster: ⌈ln N⌉ + 3, enough that a single push round reaches every node
    /// with high probability (the expected number of missed nodes is about N·e^-fanout).
    #[default]
    Auto,
    /// A fixed number of random peers.
    Count(usize),
    /// Every peer (the classic tutorials' flooding).
    All,
}

impl Fanout {
    /// The number of peers to push to in a cluster of `cluster_size` nodes.
    pub fn resolve(self, cluster_size: usize) -> usize {
        match self {
            Fanout::Auto => ((cluster_size.max(1) as f64).ln().ceil() as usize) + 3,
            Fanout::Count(n) => n,
            Fanout::All => usize::MAX,
        }
    }
}

impl fmt::Display for Fanout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fanout::Auto => f.write_str("auto"),
            Fanout::Count(n) => write!(f, "{n}"),
            Fanout::All => f.write_str("all"),
        }
    }
}

impl FromStr for Fanout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(Fanout::Auto),
            "all" => Ok(Fanout::All),
            n => match n.parse::<usize>() {
                Ok(0) => Err("fanout must be at least 1".into()),
                Ok(n) => Ok(Fanout::Count(n)),
                Err(_) => Err(format!(
                    "fanout must be a number, `auto` or `all`, not `{n}`"
                )),
            },
        }
    }
}

/// Links each node keeps in the broadcast tree's view with `fanout = auto`: three random
/// members make a connected graph (one eager link to the parent, about two lazy ones to be
/// told of each rumor by), at one rumor and about three announcements per node per update.
pub const TREE_VIEW: usize = 3;

/// Rumor TTL: how many times a rumor may be relayed.
pub fn auto_ttl(cluster_size: usize) -> u8 {
    let log2 = (cluster_size.max(2) as f64).log2().ceil() as u8;
    (log2 + 2).clamp(3, 32)
}

/// Who may ask a node for its status or set its keys over UDP (`gossip status`, `gossip set`).
/// In a keyed cluster the key decides, unless the endpoint is off: an admin request that
/// authenticates is accepted from anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AdminAccess {
    /// No admin endpoint at all (what a library node gets unless it asks for one).
    Off,
    /// Only from 127.0.0.0/8 and ::1 (the default: an open UDP port is not an open door).
    #[default]
    Loopback,
    /// From any address.
    Any,
}

impl FromStr for AdminAccess {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "loopback" => Ok(AdminAccess::Loopback),
            "any" => Ok(AdminAccess::Any),
            "off" => Ok(AdminAccess::Off),
            other => Err(format!("admin access `{other}`: use loopback, any or off")),
        }
    }
}

impl fmt::Display for AdminAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AdminAccess::Loopback => "loopback",
            AdminAccess::Any => "any",
            AdminAccess::Off => "off",
        })
    }
}

/// How a node passes a rumor on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RumorMode {
    /// No rumors: news spreads only by anti-entropy (the pull and push-pull models).
    Off,
    /// Relay at once to `fanout` peers on first receipt, TTL counting hops (news crosses the
    /// cluster in network latency, not in rounds, at ⌈ln N⌉ + 3 datagrams per node).
    Relay,
    /// Push each hot rumor to `fanout` fresh random peers at each of the next `n` rounds of
    /// `push_interval` (Demers' blind-counter rumor mongering; Pittel's push model when `n` is
    /// large).
    Rounds(u8),
    /// Push along the eager links of a self-pruning broadcast tree, announce to the lazy
    /// ones and graft on a missed announcement (Plumtree), anti-entropy repairing the rest:
    /// about one rumor per node. The node's default.
    Tree,
}

/// Which way data flows in an anti-entropy exchange, seen from the node that starts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// No anti-entropy: nothing repairs a lost rumor.
    Off,
    /// Send what the peer lacks; take nothing.
    Push,
    /// Take what we lack; send nothing unasked.
    Pull,
    /// Both (the node's way).
    PushPull,
}

/// The dissemination knobs the simulation lab turns; a node runs with the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dissemination {
    pub rumors: RumorMode,
    pub sync: SyncMode,
    /// Peers each anti-entropy round contacts (the fanout of the pull and push-pull models).
    pub sync_peers: usize,
    /// Round length of `RumorMode::Rounds`.
    pub push_interval: Duration,
    /// Timers fire at exact multiples of their interval and anti-entropy never hurries: the
    /// synchronous rounds the textbook models assume. Off in a real node, whose timers are
    /// jittered so a cluster never falls into lock-step.
    pub lockstep: bool,
    /// SWIM failure detection (probes, suspicion). The classic models have none.
    pub membership: bool,
    /// Whether a node announces itself (version 1) before anything is set. A simulation of one
    /// update turns this off so only the update spreads, not N² start-up announcements.
    pub announce: bool,
}

impl Default for Dissemination {
    fn default() -> Self {
        Dissemination {
            rumors: RumorMode::Tree,
            sync: SyncMode::PushPull,
            sync_peers: 1,
            push_interval: Duration::from_millis(200),
            lockstep: false,
            membership: true,
            announce: true,
        }
    }
}

/// Everything the protocol core is configured with.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub id: NodeId,
    /// The address peers use to reach us (advertised in every datagram).
    pub addr: SocketAddr,
    pub cluster: ClusterId,
    pub mtu: usize,
    pub fanout: Fanout,
    /// Fixed TTL, or None to size it for the cluster.
    pub ttl: Option<u8>,
    pub anti_entropy: Duration,
    pub static_peers: Vec<SocketAddr>,
    pub bootstrap: Vec<SocketAddr>,
    /// Bound on peers learned through gossip (static and bootstrap peers always fit).
    pub max_peers: usize,
    /// Whether origins and senders we hear about join the peer set (off in fixed-topology sims).
    pub learn_peers: bool,
    pub seen_ttl: Duration,
    pub seen_capacity: usize,
    pub fault: FaultConfig,
    /// Cap on datagrams one anti-entropy reply may take; a larger backlog takes more exchanges.
    pub max_sync_datagrams: usize,
    /// Our version counter starts above this (restarts must never reissue an old version).
    pub initial_version: u64,
    /// Our SWIM incarnation starts here (restored from the data dir, or learned back).
    pub initial_incarnation: u64,
    /// SWIM: one member, the next on the probe ring, is probed per interval (stretched by
    /// local health).
    pub probe_interval: Duration,
    /// SWIM: how long a direct ping waits for its ack before indirect probes start.
    pub probe_timeout: Duration,
    /// SWIM: members asked to probe on our behalf when a direct ping goes unanswered.
    pub indirect_checks: usize,
    /// Lifeguard: minimum suspicion timeout = mult × log10(N) × probe timeout.
    pub suspicion_mult: f64,
    /// Lifeguard: an unconfirmed suspicion waits this many times the minimum.
    pub suspicion_max_mult: f64,
    /// Each membership fact is piggybacked about mult × log10(N + 1) times.
    pub retransmit_mult: u32,
    /// Dead and left members are forgotten after this long.
    pub forget_after: Duration,
    /// Members declared dead are pinged now and then for this long (also after they are
    /// forgotten), so a partition that outlasts `forget_after` still heals; they count as
    /// unreachable in the partition report until then.
    pub rejoin_window: Duration,
    /// Rumor, anti-entropy and membership switches (the simulation lab's strategies).
    pub dissemination: Dissemination,
    /// A keyed cluster: everything we send is sealed with the primary key, and only what
    /// opens with one of the keys is accepted.
    pub keyring: Option<Arc<Keyring>>,
    /// Who may send admin requests to an unkeyed node.
    pub admin_from: AdminAccess,
    /// Our wall clock at `Time::ZERO`, in microseconds since the UNIX epoch: sealed datagrams
    /// carry wall-clock send times, which hosts can compare and `Time` values cannot.
    pub wall_clock_at_zero_us: u64,
    /// Sealed datagrams sent longer ago than this (or this far in the future) are refused as
    /// replays; hosts' clocks must agree to within it.
    pub replay_window: Duration,
    /// Nonces remembered for the replay check.
    pub replay_capacity: usize,
    /// Per-source rate limits and reputation.
    pub guard: GuardConfig,
    /// 32 bytes of OS randomness for nonces (the simulator derives them from its seed).
    pub entropy: [u8; 32],
    /// Largest value this node sets or fetches (at most [`MAX_VALUE_LEN`]).
    pub max_value_bytes: usize,
    /// Most bytes (keys and values) one origin's state may hold, ours included.
    pub max_state_bytes: usize,
    /// Deleted and expired keys are forgotten this long after they died. A node that was
    /// away longer than this gets the origin's whole state instead of a delta.
    pub tombstone_grace: Duration,
    /// Our signing identity: every change of our own state is signed with it. `None`: our
    /// changes travel unsigned (refused by nodes that check signatures).
    pub identity: Option<Arc<super::trust::Identity>>,
    /// Whose signatures we accept for which origin.
    pub trust: super::trust::TrustPolicy,
    /// How many changes of one origin a second we relay by rumor (the rest travel by
    /// anti-entropy, coalesced).
    pub origin_rate: super::throttle::OriginRate,
    /// Diffusion: every rumor and announcement we send waits an independent, exponentially
    /// distributed delay of this mean (None: sent at once).
    pub diffusion: Option<Duration>,
}

impl NodeConfig {
    /// This node's identity as it appears in datagrams, rumors, deltas and membership facts.
    pub fn origin(&self) -> Origin {
        Origin {
            id: self.id.clone(),
            addr: self.addr,
        }
    }

    /// Checks the state limits: the value and state caps within what the wire and the data
    /// dir can hold, a grace period above zero. The error names the setting.
    pub fn check_state_limits(&self) -> Result<(), String> {
        use crate::wire::{MAX_STATE_LEN, MAX_VALUE_LEN};
        if self.max_value_bytes == 0 || self.max_value_bytes > MAX_VALUE_LEN {
            return Err(format!(
                "max_value_bytes {} must be 1..={MAX_VALUE_LEN}",
                self.max_value_bytes
            ));
        }
        if self.max_state_bytes == 0 || self.max_state_bytes > MAX_STATE_LEN {
            return Err(format!(
                "max_state_bytes {} must be 1..={MAX_STATE_LEN}",
                self.max_state_bytes
            ));
        }
        if self.tombstone_grace.is_zero() {
            return Err("tombstone grace must be above 0".into());
        }
        Ok(())
    }

    /// How many peers rumors go to in a cluster of `size`: the relay's fanout, or the
    /// broadcast tree's view, where `auto` is [`TREE_VIEW`] links (a sparse connected graph
    /// to prune a tree from; pushed membership facts still use ⌈ln N⌉ + 3).
    pub fn rumor_fanout(&self, size: usize) -> usize {
        match (self.dissemination.rumors, self.fanout) {
            (RumorMode::Tree, Fanout::Auto) => TREE_VIEW,
            (_, fanout) => fanout.resolve(size),
        }
    }

    /// Defaults for a node called `id` at `addr`.
    pub fn new(id: NodeId, addr: SocketAddr) -> Self {
        NodeConfig {
            id,
            addr,
            cluster: ClusterId::from_name("gossip"),
            mtu: DEFAULT_MTU,
            fanout: Fanout::Auto,
            ttl: None,
            anti_entropy: Duration::from_millis(1000),
            static_peers: Vec::new(),
            bootstrap: Vec::new(),
            max_peers: 4096,
            learn_peers: true,
            seen_ttl: Duration::from_secs(60),
            seen_capacity: 100_000,
            fault: FaultConfig::default(),
            max_sync_datagrams: 16,
            initial_version: 0,
            initial_incarnation: 0,
            probe_interval: Duration::from_millis(1000),
            probe_timeout: Duration::from_millis(100),
            indirect_checks: 3,
            suspicion_mult: 2.0,
            suspicion_max_mult: 6.0,
            retransmit_mult: 4,
            forget_after: Duration::from_secs(60),
            rejoin_window: Duration::from_secs(3600),
            dissemination: Dissemination::default(),
            keyring: None,
            admin_from: AdminAccess::Loopback,
            wall_clock_at_zero_us: 0,
            replay_window: Duration::from_secs(30),
            replay_capacity: 200_000,
            guard: GuardConfig::default(),
            entropy: [0; 32],
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            max_state_bytes: DEFAULT_MAX_STATE_BYTES,
            tombstone_grace: DEFAULT_TOMBSTONE_GRACE,
            identity: None,
            trust: super::trust::TrustPolicy::default(),
            origin_rate: super::throttle::OriginRate::default(),
            diffusion: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanout_parses_and_sizes_for_the_cluster() {
        assert_eq!("all".parse::<Fanout>(), Ok(Fanout::All));
        assert_eq!("3".parse::<Fanout>(), Ok(Fanout::Count(3)));
        assert!("0".parse::<Fanout>().is_err());
        assert!("many".parse::<Fanout>().is_err());
        assert_eq!(Fanout::Auto.resolve(5), 5);
        assert_eq!(Fanout::Auto.resolve(1000), 10);
        assert_eq!(auto_ttl(1000), 12);
        assert_eq!(auto_ttl(3), 4);
    }
}
