//! The protocol node: a deterministic state machine. Drivers feed it datagrams and timer ticks
//! with the current [`Time`], then drain [`Node::poll_transmit`] and [`Node::poll_event`] and
//! sleep until [`Node::next_timeout`]. It owns a seeded RNG and never touches a socket or clock.

mod admin;
mod discovery;
mod members;
mod paging;
mod probe;
mod reconfigure;
mod rumor;
mod sync;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::{SmallRng, StdRng};
use rand::{Rng, RngExt, SeedableRng};
use uuid::Uuid;

use crate::wire::{self, Entry, Message, NodeId, Origin, Packer};

use super::config::{auto_ttl, NodeConfig, RumorMode, SyncMode};
use super::counters::Counters;
use super::event::{Event, Route};
use super::fault::{FaultLayer, Transmit, Verdict};
use super::guard::{Admission, FloodGuard};
use super::hash;
use super::membership::{Broadcasts, LocalHealth};
use super::peers::{PeerSet, PeerSource};
use super::replay::ReplayGuard;
use super::seen::SeenCache;
use super::store::Store;
use super::time::Time;

pub use admin::SetError;
pub use reconfigure::Reconfigured;

/// Bytes a piggybacked `Members` message needs around its facts (tag, list length).
const PIGGYBACK_FRAMING: usize = 8;

/// Bound on undrained events, so a driver that ignores them cannot grow memory without limit.
const MAX_EVENTS: usize = 10_000;

#[derive(Debug)]
struct Timers {
    anti_entropy: Time,
    resample: Option<Time>,
    join: Option<Time>,
    join_backoff: Duration,
    /// Exchanges left to run at the fast catch-up pace.
    catch_up_rounds: u8,
    probe: Time,
    /// Next push round (`RumorMode::Rounds` only).
    push: Option<Time>,
}

/// The packer for `config`: sealing adds bytes, so a keyed node packs less per datagram.
fn packer_for(config: &NodeConfig) -> Packer {
    let own = Origin {
        id: config.id.clone(),
        addr: config.addr,
    };
    let overhead = if config.keyring.is_some() {
        wire::SEAL_OVERHEAD
    } else {
        0
    };
    Packer::new(config.cluster, Some(own), config.mtu - overhead)
}

/// One gossip node's complete protocol state.
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
    rng: SmallRng,
    started: Time,
    store: Store,
    peers: PeerSet,
    seen: SeenCache,
    packer: Packer,
    outbox: BTreeMap<SocketAddr, Vec<Message>>,
    ready: VecDeque<Transmit>,
    fault: FaultLayer,
    events: VecDeque<Event>,
    counters: Counters,
    books: Vec<String>,
    timers: Timers,
    status_cache: admin::StatusCache,
    /// Seeded hasher for the node's short-lived maps.
    hasher: hash::Seeded,
    incarnation: u64,
    health: LocalHealth,
    broadcasts: Broadcasts,
    probe: probe::ProbeState,
    suspects: Vec<SocketAddr>,
    tombstones: HashMap<NodeId, (u64, Time), hash::Seeded>,
    leaving: bool,
    /// When we last announced our incarnation (refutations are rate-limited).
    announced_at: Option<Time>,
    /// True until a peer has told us what it holds of us (a start without saved state must
    /// learn back its old version and incarnation before they are reused).
    fresh_start: bool,
    /// Rumors still being pushed in `RumorMode::Rounds`, with the rounds each has left.
    hot: VecDeque<(wire::Rumor, u8)>,
    guard: FloodGuard,
    replay: ReplayGuard,
    /// CSPRNG for nonces, seeded from `config.entropy` when the first datagram is sealed (an
    /// unkeyed node never needs one).
    nonces: Option<Box<StdRng>>,
}

impl Node {
    /// A node that starts at `now`, draws randomness from `seed`, and picks its favorite book
    /// from `books` (an empty list means no book: the node only carries keys set explicitly).
    pub fn new(config: NodeConfig, books: Vec<String>, now: Time, seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut node = Node {
            started: now,
            store: Store::new(config.id.clone(), config.addr, now, hash::seeded(&mut rng)),
            peers: PeerSet::new(config.addr, config.max_peers, hash::seeded(&mut rng)),
            seen: SeenCache::new(
                config.seen_ttl,
                config.seen_capacity,
                hash::seeded(&mut rng),
            ),
            packer: packer_for(&config),
            outbox: BTreeMap::new(),
            ready: VecDeque::new(),
            fault: FaultLayer::new(config.fault),
            events: VecDeque::new(),
            counters: Counters::default(),
            books,
            timers: Timers {
                anti_entropy: now,
                resample: None,
                join: None,
                join_backoff: Duration::from_millis(500),
                catch_up_rounds: 0,
                probe: now,
                push: None,
            },
            status_cache: admin::StatusCache::default(),
            hasher: hash::seeded(&mut rng),
            incarnation: config.initial_incarnation,
            health: LocalHealth::new(8),
            broadcasts: Broadcasts::default(),
            probe: probe::ProbeState::default(),
            suspects: Vec::new(),
            tombstones: HashMap::with_hasher(hash::seeded(&mut rng)),
            leaving: false,
            announced_at: None,
            fresh_start: true,
            hot: VecDeque::new(),
            guard: FloodGuard::new(config.guard, hash::seeded(&mut rng)),
            replay: ReplayGuard::new(
                config.replay_window,
                config.replay_capacity,
                hash::seeded(&mut rng),
            ),
            nonces: None,
            rng,
            config,
        };
        node.store.raise_own_version(node.config.initial_version);
        node.incarnation = node.config.initial_incarnation;
        for addr in node.config.static_peers.clone() {
            node.peers.add(addr, None, PeerSource::Static, now);
        }
        for addr in node.config.bootstrap.clone() {
            node.peers.add(addr, None, PeerSource::Bootstrap, now);
        }
        let lockstep = node.config.dissemination.lockstep;
        // The first probe waits one interval, spread so a cluster started at once is not in step.
        let spread = node
            .rng
            .random_range(0..=node.config.probe_interval.as_micros() as u64);
        node.timers.probe = now + node.config.probe_interval + Duration::from_micros(spread);
        // First exchange soon after start, spread so a cluster started at once does not sync in
        // lock-step. A joining node syncs as soon as its bootstrap answers instead (and at the
        // normal interval if none ever does). A node with only static peers asks them once
        // too, to learn back what the cluster remembers of it.
        let first = node
            .rng
            .random_range(0..=node.config.anti_entropy.as_micros() as u64 / 10);
        node.timers.anti_entropy = if lockstep {
            now + node.config.anti_entropy
        } else {
            now + Duration::from_micros(first)
        };
        if let RumorMode::Rounds(_) = node.config.dissemination.rumors {
            node.timers.push = Some(now + node.config.dissemination.push_interval);
        }
        if !node.config.bootstrap.is_empty() {
            node.timers.join = Some(now);
            if !lockstep {
                node.timers.anti_entropy = now + node.config.anti_entropy;
            }
        } else if !node.config.static_peers.is_empty() && node.config.dissemination.announce {
            node.timers.join = Some(now);
        }
        if let Some(book) = node.pick_book() {
            node.store.set_own("book", &book, now);
        }
        // Our first version announces us even with nothing set: anti-entropy spreads origins
        // (and with them membership) only above version 0.
        if node.config.dissemination.announce {
            node.store.raise_own_version(1);
        }
        if let Some(every) = node.config.resample {
            if !node.books.is_empty() && !every.is_zero() {
                node.timers.resample = Some(now + node.jitter(every));
            }
        }
        node
    }

    /// Handles one received datagram from `from`.
    pub fn handle_datagram(&mut self, now: Time, from: SocketAddr, bytes: &[u8]) {
        self.counters.datagrams_in += 1;
        self.counters.bytes_in += bytes.len() as u64;
        match self.guard.admit(from, now) {
            Admission::Admit => {}
            Admission::Throttled => return self.counters.decode_error("flood_throttled"),
            Admission::Banned => return self.counters.decode_error("flood_banned"),
        }
        let keyring = self.config.keyring.as_deref();
        let opened = match wire::open_datagram(self.config.cluster, keyring, bytes) {
            Ok(o) => o,
            Err(error) => {
                self.counters.decode_error(error.counter());
                self.emit(Event::BadDatagram { from, error });
                self.strike(now, from);
                return;
            }
        };
        if let Some(stamp) = &opened.stamp {
            if let Err(replay) = self.replay.check(stamp, self.wall_us(now)) {
                self.counters.decode_error(replay.counter());
                self.strike(now, from);
                return;
            }
        }
        self.guard.good(from);
        let (datagram, sizes) = (opened.datagram, opened.sizes);
        if let Some(sender) = &datagram.sender {
            if sender.id == self.config.id {
                // Someone else claims to be us: never let it touch our state or peers.
                self.counters.decode_error("stranger_claims_our_id");
                return;
            }
            self.learn_peer(sender.addr, Some(sender.id.clone()), now);
            self.peers.heard_from(&sender.addr, now);
            // A member we believe down is talking to us: tell it, so it can refute.
            self.tell_if_down(now, sender.addr);
        }
        let sender = datagram.sender;
        for (message, size) in datagram.messages.into_iter().zip(sizes) {
            *self.counters.messages_in.entry(message.kind()).or_default() += 1;
            *self
                .counters
                .message_bytes_in
                .entry(message.kind())
                .or_default() += size as u64;
            match message {
                Message::Rumor(r) => self.on_rumor(now, from, r),
                Message::SyncSummary(s) => self.on_sync_summary(from, s),
                Message::SyncDigest(d) => self.on_sync_digest(now, from, d),
                Message::SyncPull(p) => self.on_sync_pull(from, p),
                Message::Delta(d) => self.on_delta(now, from, d),
                Message::JoinRequest(j) => self.on_join_request(from, sender.as_ref(), j),
                Message::PeerList(p) => self.on_peer_list(now, from, p),
                Message::StatusRequest(s) => self.on_status_request(now, from, s),
                Message::SetRequest(s) => self.on_set_request(now, from, s),
                Message::Ping(p) => self.on_ping(from, p),
                Message::Ack(a) => self.on_ack(now, from, a),
                Message::PingReq(r) => self.on_ping_req(now, from, r),
                Message::Members(m) => {
                    self.on_members(now, from, sender.as_ref().map(|s| &s.id), m)
                }
                // Replies meant for admin clients; a node has nothing to do with them.
                Message::StatusPage(_) | Message::SetReply(_) => {}
            }
        }
    }

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.leaving {
            return;
        }
        if self.config.dissemination.membership {
            self.membership_tick(now);
        }
        if self.timers.anti_entropy <= now {
            if self.config.dissemination.sync != SyncMode::Off {
                self.start_sync(now);
            }
            if self.config.dissemination.lockstep {
                while self.timers.anti_entropy <= now {
                    self.timers.anti_entropy += self.config.anti_entropy;
                }
            } else {
                let mut next = self.jitter(self.config.anti_entropy);
                if self.timers.catch_up_rounds > 0 {
                    self.timers.catch_up_rounds -= 1;
                    next /= 10;
                }
                self.timers.anti_entropy = now + next;
            }
        }
        if let Some(at) = self.timers.push.filter(|&t| t <= now) {
            self.push_round(now);
            let every = self
                .config
                .dissemination
                .push_interval
                .max(Duration::from_micros(1));
            let mut next = at + every;
            while next <= now {
                next += every;
            }
            self.timers.push = Some(next);
        }
        if self.timers.resample.is_some_and(|t| t <= now) {
            if let Some(book) = self.pick_book() {
                // Values are bounded by books.txt loading; a refused set only skips one draw.
                let _ = self.set(now, "book", &book);
            }
            self.timers.resample = self.config.resample.map(|every| now + self.jitter(every));
        }
        if self.timers.join.is_some_and(|t| t <= now) {
            self.send_joins();
            let backoff = self.timers.join_backoff;
            self.timers.join = Some(now + backoff);
            self.timers.join_backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    /// The next datagram to send, if any. Batches everything queued per destination first, so
    /// messages for one peer produced by one input ride in as few datagrams as the MTU allows.
    pub fn poll_transmit(&mut self, now: Time) -> Option<Transmit> {
        self.flush(now);
        let t = self.fault.release(now).or_else(|| self.ready.pop_front())?;
        self.counters.datagrams_out += 1;
        self.counters.bytes_out += t.bytes.len() as u64;
        Some(t)
    }

    /// The next event for the driver to log or display.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn next_timeout(&self) -> Option<Time> {
        if self.leaving {
            return self.fault.next_release();
        }
        let dissemination = &self.config.dissemination;
        [
            (dissemination.sync != SyncMode::Off).then_some(self.timers.anti_entropy),
            self.timers.push.filter(|_| !self.hot.is_empty()),
            self.timers.resample,
            self.timers.join,
            self.fault.next_release(),
            self.membership_deadline()
                .filter(|_| dissemination.membership),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Our id.
    pub fn id(&self) -> &NodeId {
        &self.config.id
    }

    /// Rumors still being pushed in rounds mode: zero means this node will send no more news
    /// unprompted (the simulator's quiet check).
    pub fn pushing(&self) -> usize {
        self.hot.len()
    }

    /// Our advertised address.
    pub fn addr(&self) -> SocketAddr {
        self.config.addr
    }

    /// Read access to the state table (for tests, the simulator and the UI).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Read access to the peer set.
    pub fn peers(&self) -> &PeerSet {
        &self.peers
    }

    /// Running totals.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The settings in force.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The time this node started.
    pub fn started(&self) -> Time {
        self.started
    }

    /// Estimated cluster size: the larger of what we hold and whom we know.
    pub fn cluster_size(&self) -> usize {
        self.store.len().max(self.peers.len() + 1)
    }

    /// The TTL new rumors get.
    pub fn ttl(&self) -> u8 {
        self.config
            .ttl
            .unwrap_or_else(|| auto_ttl(self.cluster_size()))
            .min(wire::MAX_TTL)
    }

    /// The number of peers a rumor is pushed to.
    pub fn fanout(&self) -> usize {
        self.config.fanout.resolve(self.cluster_size())
    }

    fn emit(&mut self, event: Event) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
            self.counters.events_dropped += 1;
        }
        self.events.push_back(event);
    }

    /// Queues a message for `to`; it is packed (and counted) when the outbox is flushed.
    fn send(&mut self, to: SocketAddr, message: Message) {
        self.outbox.entry(to).or_default().push(message);
    }

    fn flush(&mut self, now: Time) {
        if self.outbox.is_empty() {
            return;
        }
        let outbox = std::mem::take(&mut self.outbox);
        for (to, mut messages) in outbox {
            let mut sizes = Vec::with_capacity(messages.len() + 1);
            let packed = self
                .packer
                .pack_counted(&messages, |m, len| sizes.push((m.kind(), len)));
            let mut datagrams = match packed {
                Ok(d) => d,
                Err(_) => {
                    self.counters.encode_errors += 1;
                    continue;
                }
            };
            // Membership facts ride in the room the last datagram has left, never in a new one.
            let room = datagrams.last().map_or(0, |d| {
                self.packer
                    .mtu()
                    .saturating_sub(d.len() + PIGGYBACK_FRAMING)
            });
            if let Some(piggyback) = self.piggyback_for(to, &messages, room) {
                messages.push(piggyback);
                let mut resized = Vec::with_capacity(messages.len());
                let repacked = self
                    .packer
                    .pack_counted(&messages, |m, len| resized.push((m.kind(), len)));
                if let Ok(with) = repacked {
                    datagrams = with;
                    sizes = resized;
                }
            }
            // What was actually encoded, piggybacks included, counted once here.
            for (kind, len) in sizes {
                *self.counters.messages_out.entry(kind).or_default() += 1;
                *self.counters.message_bytes_out.entry(kind).or_default() += len as u64;
            }
            for mut bytes in datagrams {
                if let Some(keys) = &self.config.keyring {
                    let entropy = self.config.entropy;
                    let rng = self
                        .nonces
                        .get_or_insert_with(|| Box::new(StdRng::from_seed(entropy)));
                    let mut nonce = [0u8; 24];
                    rng.fill_bytes(&mut nonce);
                    bytes = wire::seal(&bytes, keys, nonce, self.wall_us(now));
                }
                match self.fault.admit(&mut self.rng, now, Transmit { to, bytes }) {
                    Verdict::Send(t) => self.ready.push_back(t),
                    Verdict::Dropped => self.counters.fault_dropped += 1,
                    Verdict::Held => {}
                }
            }
        }
    }

    /// One `Learned` event per entry that was news to us.
    fn emit_learned(
        &mut self,
        origin: &NodeId,
        changed: Vec<Entry>,
        via: SocketAddr,
        route: Route,
    ) {
        for entry in changed {
            self.emit(Event::Learned {
                origin: origin.clone(),
                key: entry.key,
                value: entry.value,
                version: entry.version,
                via,
                route,
            });
        }
    }

    fn learn_peer(&mut self, addr: SocketAddr, id: Option<NodeId>, now: Time) {
        if !self.config.learn_peers && !self.peers.contains(&addr) {
            return;
        }
        // Gossip about a forgotten member must not bring it back; only its refutation can.
        if id.as_ref().is_some_and(|i| self.is_buried(i)) {
            return;
        }
        if self.peers.add(addr, id.clone(), PeerSource::Learned, now) {
            self.emit(Event::PeerAdded {
                addr,
                id,
                source: PeerSource::Learned,
            });
        }
    }

    fn new_uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    /// `d` scaled by a random factor in [0.75, 1.25], so timers across a cluster drift apart.
    /// A bad datagram from `from`: one strike towards ignoring it.
    fn strike(&mut self, now: Time, from: SocketAddr) {
        if self.guard.strike(from, now) {
            self.counters.sources_banned += 1;
            self.emit(Event::SourceBanned {
                from,
                ban: self.config.guard.ban,
            });
        }
    }

    /// Our wall clock at `now`, µs since the UNIX epoch.
    fn wall_us(&self, now: Time) -> u64 {
        self.config
            .wall_clock_at_zero_us
            .saturating_add(now.since(Time::ZERO).as_micros() as u64)
    }

    fn jitter(&mut self, d: Duration) -> Duration {
        if self.config.dissemination.lockstep {
            return d;
        }
        d.mul_f64(self.rng.random_range(0.75..1.25))
    }

    fn pick_book(&mut self) -> Option<String> {
        if self.books.is_empty() {
            return None;
        }
        let current = self.store.own().values.get("book").map(|v| v.value.clone());
        for _ in 0..4 {
            let i = self.rng.random_range(0..self.books.len());
            if Some(&self.books[i]) != current.as_ref() || self.books.len() == 1 {
                return Some(self.books[i].clone());
            }
        }
        self.books.first().cloned()
    }
}

#[cfg(test)]
mod tests;
