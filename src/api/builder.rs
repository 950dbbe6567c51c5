//! [`Gossip::builder`]: every setting a node has, with safe defaults, then `spawn`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngExt;

use super::error::Error;
use super::handle::{launch, GossipHandle};
use crate::core::{AdminAccess, Fanout, Strategy, TrustMode};
use crate::core::{Node, NodeConfig, Time};
use crate::runtime::persist::StateFile;
use crate::runtime::{bind_udp, identity, os};
use crate::wire::{ClusterId, Keyring, NodeId, MAX_ID_LEN, MAX_TTL, MIN_MTU};

/// Entry point of the library: `Gossip::builder(addr)…spawn().await` starts a node.
#[derive(Debug)]
pub struct Gossip;

impl Gossip {
    /// A builder for a node that binds `bind_addr` (port 0 lets the OS pick one). Every other
    /// setting has a default suited to a real cluster; see [`GossipBuilder`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gossip::Error> {
    /// let seed = gossip::Gossip::builder("127.0.0.1:0".parse().unwrap())
    ///     .cluster("inventory")
    ///     .spawn()
    ///     .await?;
    /// let joiner = gossip::Gossip::builder("127.0.0.1:0".parse().unwrap())
    ///     .cluster("inventory")
    ///     .bootstrap([seed.addr()])
    ///     .spawn()
    ///     .await?;
    /// joiner.set("shelf", "3").await?;
    /// # joiner.shutdown().await;
    /// # seed.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn builder(bind_addr: SocketAddr) -> GossipBuilder {
        GossipBuilder {
            bind: bind_addr,
            id: None,
            advertise: None,
            cluster: "gossip".into(),
            bootstrap: Vec::new(),
            peers: Vec::new(),
            key_file: None,
            data_dir: None,
            identity_file: None,
            trusted_keys_file: None,
            seed: None,
            event_backlog: 1024,
            tune: NodeConfig {
                // Safe by default: a library node answers no admin requests unless asked to.
                admin_from: AdminAccess::Off,
                ..NodeConfig::new(NodeId::from(""), bind_addr)
            },
        }
    }
}

/// Settings for one node, from [`Gossip::builder`]. Defaults: cluster `gossip`, id
/// `n<port>`, no cluster key, no admin endpoint, rumors along a broadcast tree (a view of 3
/// links; [`GossipBuilder::strategy`] picks another way), anti-entropy every
/// second (up to every 4 s while nothing changes), a probe every second, MTU 1400.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until spawn().await"]
pub struct GossipBuilder {
    bind: SocketAddr,
    id: Option<String>,
    advertise: Option<SocketAddr>,
    cluster: String,
    bootstrap: Vec<SocketAddr>,
    peers: Vec<SocketAddr>,
    key_file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    identity_file: Option<PathBuf>,
    trusted_keys_file: Option<PathBuf>,
    seed: Option<u64>,
    event_backlog: usize,
    /// The protocol settings (id, address, cluster, peers and keys are filled in at spawn).
    tune: NodeConfig,
}

impl GossipBuilder {
    /// The cluster's name: nodes of other clusters are ignored (default `gossip`).
    pub fn cluster(mut self, name: impl Into<String>) -> Self {
        self.cluster = name.into();
        self
    }

    /// Nodes to join through: this node asks them for their members at start (retrying with
    /// backoff until one answers) and syncs with them.
    pub fn bootstrap(mut self, addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.bootstrap = addrs.into_iter().collect();
        self
    }

    /// Static peers: always kept in the peer set, even while they are down.
    pub fn peers(mut self, addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.peers = addrs.into_iter().collect();
        self
    }

    /// A keyed cluster: every datagram is sealed (XChaCha20-Poly1305) with the primary key in
    /// this file and only datagrams that open with one of its keys are accepted. The file is
    /// what `gossip keygen` writes.
    pub fn cluster_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.key_file = Some(path.into());
        self
    }

    /// This node's id, unique in the cluster (default `n<port>`; at most 64 bytes).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The address peers should use to reach this node, when it differs from the bound one
    /// (a wildcard bind, NAT). Required with a wildcard bind address.
    pub fn advertise(mut self, addr: SocketAddr) -> Self {
        self.advertise = Some(addr);
        self
    }

    /// A directory for a small state file, so a restarted node never reissues a version or
    /// incarnation the cluster already saw, even when no peer remembers it.
    pub fn data_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(path.into());
        self
    }

    /// The node's signing identity, an ed25519 secret key file as `gossip keygen --identity
    /// FILE` writes it; it must exist. Without one, a node with a [`data_dir`](Self::data_dir)
    /// keeps its identity there (made on first start); a node with neither signs nothing in
    /// [`TrustMode::Open`] and makes a key for this run only in [`TrustMode::Tofu`].
    pub fn identity_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.identity_file = Some(path.into());
        self
    }

    /// Whose signatures this node accepts (default [`TrustMode::Open`]: every member may speak
    /// for every origin, nothing is checked). [`TrustMode::Tofu`] pins the first key that signs
    /// valid state for a node id; [`TrustMode::Allowlist`] accepts only the keys in
    /// [`trusted_keys_file`](Self::trusted_keys_file).
    pub fn trust(mut self, mode: TrustMode) -> Self {
        self.tune.trust.mode = mode;
        self
    }

    /// The keys an allowlist node accepts: one public key (hex, as `gossip keygen --identity`
    /// prints it) per line, optionally followed by the one node id it may speak for. Implies
    /// [`TrustMode::Allowlist`].
    pub fn trusted_keys_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.trusted_keys_file = Some(path.into());
        self.tune.trust.mode = TrustMode::Allowlist;
        self
    }

    /// Seeds the protocol's random choices (peer sampling, jitter) for repeatable runs.
    /// Nonces for sealing always come from the OS, whatever the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Serve `gossip status` and `gossip set` requests over UDP (default
    /// [`AdminAccess::Off`]). `Loopback` answers only this host; a keyed cluster answers any
    /// request sealed with its key.
    pub fn admin(mut self, access: AdminAccess) -> Self {
        self.tune.admin_from = access;
        self
    }

    /// Links in the broadcast tree's view (default [`Fanout::Auto`]: 3), or with
    /// [`Strategy::Relay`] the peers each new version is pushed to (`Auto`: ⌈ln N⌉ + 3).
    pub fn fanout(mut self, fanout: Fanout) -> Self {
        self.tune.fanout = fanout;
        self
    }

    /// How news spreads (default [`Strategy::Default`], the broadcast tree: about one
    /// datagram per node per update). [`Strategy::Relay`] pushes each update to ⌈ln N⌉ + 3
    /// random peers at once: 8–10 datagrams per node, and the fastest under heavy loss.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        let (fanout, ttl) = (self.tune.fanout, self.tune.ttl);
        strategy.configure(&mut self.tune, None, Some(fanout), ttl);
        self
    }

    /// Times a rumor is relayed (default: any depth in the tree; when relaying, sized for the
    /// cluster, log2 N + 2).
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.tune.ttl = Some(ttl);
        self
    }

    /// Largest datagram sent, in bytes (default 1400; at least 512).
    pub fn mtu(mut self, bytes: usize) -> Self {
        self.tune.mtu = bytes;
        self
    }

    /// Time between anti-entropy exchanges, which repair whatever rumors missed (default 1 s).
    pub fn anti_entropy_interval(mut self, every: Duration) -> Self {
        self.tune.anti_entropy = every;
        self
    }

    /// SWIM: the next member on the probe ring is probed once per interval (default 1 s).
    pub fn probe_interval(mut self, every: Duration) -> Self {
        self.tune.probe_interval = every;
        self
    }

    /// SWIM: how long a direct probe waits before asking others to probe (default 100 ms).
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.tune.probe_timeout = timeout;
        self
    }

    /// SWIM: members asked to probe on our behalf when a direct probe fails (default 3).
    pub fn indirect_checks(mut self, count: usize) -> Self {
        self.tune.indirect_checks = count;
        self
    }

    /// Lifeguard: the suspicion timeout is `mult` × log10(N) × probe timeout at its shortest
    /// (default 2); larger means fewer false deaths and slower detection.
    pub fn suspicion_mult(mut self, mult: f64) -> Self {
        self.tune.suspicion_mult = mult;
        self
    }

    /// Lifeguard: an unconfirmed suspicion waits this many times the shortest timeout
    /// (default 6).
    pub fn suspicion_max_mult(mut self, mult: f64) -> Self {
        self.tune.suspicion_max_mult = mult;
        self
    }

    /// Each membership fact is piggybacked about `mult` × log10(N + 1) times (default 4).
    pub fn retransmit_mult(mut self, mult: u32) -> Self {
        self.tune.retransmit_mult = mult;
        self
    }

    /// How long dead and departed members stay listed before they are forgotten (default 60 s).
    pub fn forget_after(mut self, after: Duration) -> Self {
        self.tune.forget_after = after;
        self
    }

    /// How long members declared dead are still pinged now and then, also after they are
    /// forgotten, so that a partition longer than [`forget_after`](Self::forget_after) heals
    /// once the network does (default 1 hour). Until then they count as unreachable for
    /// [`Event::Partitioned`](crate::Event::Partitioned).
    pub fn rejoin_window(mut self, window: Duration) -> Self {
        self.tune.rejoin_window = window;
        self
    }

    /// Largest value this node sets or fetches (default 1 MiB, at most 16 MiB). Values over
    /// 512 bytes are announced and fetched in pieces.
    pub fn max_value_bytes(mut self, bytes: usize) -> Self {
        self.tune.max_value_bytes = bytes;
        self
    }

    /// Most bytes (keys and values) one origin's state may hold, this node's own included
    /// (default 64 MiB).
    pub fn max_state_bytes(mut self, bytes: usize) -> Self {
        self.tune.max_state_bytes = bytes;
        self
    }

    /// How long deleted and expired keys are remembered before they are forgotten (default
    /// 10 minutes). A node away longer than this catches up with the origin's whole state.
    pub fn tombstone_grace(mut self, grace: Duration) -> Self {
        self.tune.tombstone_grace = grace;
        self
    }

    /// Diffusion (default off): every rumor and announcement this node sends waits an
    /// independent, exponentially distributed delay of mean `mean`, so a node that hears news
    /// first from us learns little about who started it. Privacy for the origin, paid in
    /// latency (see BENCHMARKS.md). `Duration::ZERO` turns it off.
    pub fn diffusion(mut self, mean: Duration) -> Self {
        self.tune.diffusion = (!mean.is_zero()).then_some(mean);
        self
    }

    /// Changes per second of any one origin this node relays by rumor, bursts of twice that
    /// (default 20; 0: no limit). Faster changes are applied here but left to anti-entropy,
    /// which carries only each key's newest version: a node writing in a flood still converges,
    /// coalesced, and costs its neighbours a bounded number of relays.
    pub fn max_origin_rate(mut self, changes_per_second: f64) -> Self {
        self.tune.origin_rate = crate::core::throttle::OriginRate::per_second(changes_per_second);
        self
    }

    /// Most peers learned through gossip kept at once (default 4096; static and bootstrap
    /// peers always fit).
    pub fn max_peers(mut self, count: usize) -> Self {
        self.tune.max_peers = count;
        self
    }

    /// Most datagrams one anti-entropy reply may take (default 16); a larger backlog takes
    /// more exchanges.
    pub fn max_sync_datagrams(mut self, count: usize) -> Self {
        self.tune.max_sync_datagrams = count;
        self
    }

    /// How long a rumor id is remembered to drop duplicates (default 60 s), and how many at
    /// most (default 100,000).
    pub fn seen_cache(mut self, ttl: Duration, capacity: usize) -> Self {
        self.tune.seen_ttl = ttl;
        self.tune.seen_capacity = capacity;
        self
    }

    /// Keyed clusters: datagrams sent longer ago than this (or this far ahead) are refused as
    /// replays, so hosts' clocks must agree to within it (default 30 s).
    pub fn replay_window(mut self, window: Duration) -> Self {
        self.tune.replay_window = window;
        self
    }

    /// Per-source limits: `rate` datagrams a second sustained with bursts of `burst`
    /// (defaults 2000 and 4000); a source that sends `strikes` bad datagrams is ignored for
    /// `ban` (defaults 32 and 30 s).
    pub fn source_limits(mut self, rate: f64, burst: f64, strikes: u32, ban: Duration) -> Self {
        self.tune.guard.rate = rate;
        self.tune.guard.burst = burst;
        self.tune.guard.strikes = strikes;
        self.tune.guard.ban = ban;
        self
    }

    /// Fault injection for experiments: drop this fraction of outgoing datagrams (0..=1).
    pub fn drop_rate(mut self, rate: f64) -> Self {
        self.tune.fault.drop_rate = rate;
        self
    }

    /// Fault injection for experiments: delay each outgoing datagram by a uniform random
    /// time in `min..=max`.
    pub fn delay(mut self, min: Duration, max: Duration) -> Self {
        self.tune.fault.delay = (min, max);
        self
    }

    /// Events buffered per subscriber before the slowest gets [`crate::Event::Lagged`]
    /// (default 1024).
    pub fn event_backlog(mut self, events: usize) -> Self {
        self.event_backlog = events;
        self
    }

    /// Checks the settings, binds the socket, and starts the node on the current tokio
    /// runtime. The node's clock, its random seed and its nonce entropy come from the OS.
    ///
    /// A setting out of range is refused before anything starts, with a message naming it:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let refused = gossip::Gossip::builder("127.0.0.1:0".parse().unwrap())
    ///     .mtu(100)
    ///     .spawn()
    ///     .await;
    /// assert!(matches!(refused, Err(gossip::Error::Config(m)) if m.contains("mtu")));
    /// # }
    /// ```
    pub async fn spawn(self) -> Result<GossipHandle, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        let mut config = self.config()?;
        let bind = self.bind;
        if let Some(path) = &self.key_file {
            config.keyring = Some(Arc::new(load_keyring(path)?));
        }
        let socket = bind_udp(bind)?;
        let local = socket
            .local_addr()
            .map_err(|source| Error::Bind { addr: bind, source })?;
        if config.addr.port() == 0 {
            config.addr.set_port(local.port());
        }
        if config.id.as_str().is_empty() {
            config.id = NodeId::from(format!("n{}", local.port()));
        }
        if let Some(path) = &self.trusted_keys_file {
            let allowed = identity::read_trusted_keys(path).map_err(Error::Config)?;
            config.trust.allowed = Arc::new(allowed);
        } else if config.trust.mode == TrustMode::Allowlist {
            return Err(Error::Config(
                "trust allowlist needs trusted_keys_file (the keys it accepts)".into(),
            ));
        }
        let settled = identity::settle(
            self.identity_file.as_deref(),
            self.data_dir.as_deref(),
            config.id.as_str(),
            config.trust.mode,
        )
        .map_err(Error::Config)?;
        config.identity = settled.identity.map(Arc::new);
        let opened = match &self.data_dir {
            None => None,
            Some(dir) => {
                let opened = StateFile::open(dir, config.id.as_str()).map_err(Error::DataDir)?;
                config.initial_version = opened.version;
                config.initial_incarnation = opened.incarnation;
                Some(opened)
            }
        };
        let epoch = Instant::now();
        os::ground(&mut config, epoch);
        let seed = self.seed.unwrap_or_else(|| rand::rng().random());
        let mut node = Node::new(config, Time::ZERO, seed);
        let state = match opened {
            None => None,
            Some(opened) => {
                let mut file = opened.file;
                let refused = file.restore(&mut node, opened.keys);
                if let Some(first) = refused.first() {
                    return Err(Error::DataDir(first.clone()));
                }
                Some(file)
            }
        };
        Ok(launch(
            node,
            socket,
            epoch,
            state,
            self.event_backlog,
            |_, _, _| {},
        ))
    }

    /// Validates every setting; returns the protocol config (id left empty for `n<port>`).
    fn config(&self) -> Result<NodeConfig, Error> {
        let bad = |what: String| Err(Error::Config(what));
        let addr = self.advertise.unwrap_or(self.bind);
        if addr.ip().is_unspecified() {
            return bad(format!(
                "bound to {} with nothing to advertise: give .advertise(addr) with an address peers can reach",
                self.bind
            ));
        }
        if let Some(id) = &self.id {
            if id.is_empty() || id.len() > MAX_ID_LEN {
                return bad(format!("id must be 1..={MAX_ID_LEN} bytes"));
            }
        }
        if self.cluster.is_empty() {
            return bad("cluster name must not be empty".into());
        }
        let t = &self.tune;
        if t.mtu < MIN_MTU || t.mtu > crate::wire::MAX_DATAGRAM {
            return bad(format!(
                "mtu {} must be {MIN_MTU}..={}",
                t.mtu,
                crate::wire::MAX_DATAGRAM
            ));
        }
        if t.ttl.is_some_and(|ttl| ttl > MAX_TTL) {
            return bad(format!("ttl must be at most {MAX_TTL}"));
        }
        if matches!(t.fanout, Fanout::Count(0)) {
            return bad("fanout must be at least 1".into());
        }
        if t.anti_entropy < Duration::from_millis(10) {
            return bad("anti-entropy interval must be at least 10 ms".into());
        }
        if t.probe_interval < Duration::from_millis(10) || t.probe_timeout.is_zero() {
            return bad("probe interval must be at least 10 ms and the timeout above 0".into());
        }
        if t.probe_timeout >= t.probe_interval {
            return bad("probe timeout must be shorter than the probe interval".into());
        }
        if !(t.suspicion_mult.is_finite() && t.suspicion_mult > 0.0) {
            return bad("suspicion mult must be positive".into());
        }
        if !(t.suspicion_max_mult.is_finite() && t.suspicion_max_mult >= 1.0) {
            return bad("suspicion max mult must be at least 1".into());
        }
        if t.max_sync_datagrams == 0 || t.seen_capacity == 0 {
            return bad("max sync datagrams and the seen-cache capacity must be at least 1".into());
        }
        let g = &t.guard;
        if !(g.rate > 0.0 && g.burst >= 1.0 && g.strikes > 0) {
            return bad(
                "source limits: rate must be positive, burst at least 1, strikes at least 1".into(),
            );
        }
        if !(0.0..=1.0).contains(&t.fault.drop_rate) {
            return bad("drop rate must be within 0..=1".into());
        }
        if t.fault.delay.0 > t.fault.delay.1 {
            return bad("delay min must not exceed max".into());
        }
        if !(t.origin_rate.rate.is_finite() && t.origin_rate.rate >= 0.0) {
            return bad("max origin rate must be 0 (no limit) or positive".into());
        }
        t.check_state_limits().map_err(Error::Config)?;
        let id = NodeId::from(self.id.clone().unwrap_or_default());
        Ok(NodeConfig {
            id,
            addr,
            cluster: ClusterId::from_name(&self.cluster),
            static_peers: self.peers.clone(),
            bootstrap: self.bootstrap.clone(),
            ..self.tune.clone()
        })
    }
}

/// Reads a cluster key file (as `gossip keygen` writes it).
pub(crate) fn load_keyring(path: &std::path::Path) -> Result<Keyring, Error> {
    let fail = |reason: String| Error::ClusterKey {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    Keyring::parse(&text).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::RumorMode;

    #[test]
    fn a_library_node_runs_the_tree_unless_told_to_relay_keeping_its_fanout() {
        let addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let default = Gossip::builder(addr);
        assert_eq!(default.tune.dissemination.rumors, RumorMode::Tree);
        assert_eq!(default.tune.rumor_fanout(1000), 3);
        let relay = Gossip::builder(addr)
            .fanout(Fanout::Count(5))
            .strategy(Strategy::Relay);
        assert_eq!(relay.tune.dissemination.rumors, RumorMode::Relay);
        assert_eq!(relay.tune.rumor_fanout(1000), 5);
        let auto = Gossip::builder(addr).strategy(Strategy::Relay);
        assert_eq!(auto.tune.rumor_fanout(1000), 10);
    }
}
