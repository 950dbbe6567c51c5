//! The protocol node: a deterministic state machine. Drivers feed it datagrams and timer ticks
//! with the current [`Time`], then drain [`Node::poll_transmit`] and [`Node::poll_event`] and
//! sleep until [`Node::next_timeout`]. It owns a seeded RNG and never touches a socket or clock.

/// Lends the node's shared tables to one part (`shared!(self)`): the fields are borrowed
/// one by one, so the part's own state (another field) stays free to borrow alongside.
macro_rules! shared {
    ($node:ident) => {
        $crate::core::node::shared::Shared {
            config: &$node.config,
            rng: &mut $node.rng,
            store: &mut $node.store,
            peers: &mut $node.peers,
            transport: &mut $node.transport,
            events: &mut $node.events,
            counters: &mut $node.counters,
            recent: &mut $node.recent,
            hasher: &$node.hasher,
            trust: &mut $node.trust,
        }
    };
}

mod admin;
mod admit;
mod discovery;
mod fetch;
mod members;
mod own;
mod paging;
mod reconfigure;
mod rumor;
mod shared;
mod sync;
mod transport;
mod tree;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::wire::{self, Message, NodeId};

use super::config::{NodeConfig, RumorMode, SyncMode};
use super::counters::Counters;
use super::event::{Event, Route};
use super::fault::Transmit;
use super::guard::FloodGuard;
use super::hash;
use super::peers::{PeerSet, PeerSource};
use super::recent::Recent;
use super::replay::ReplayGuard;
use super::seen::SeenCache;
use super::store::Store;
use super::time::Time;
use super::trust::Trust;

pub use admin::{abbreviate, size_text};
pub use members::Partitioned;
pub use own::SetError;
pub use reconfigure::Reconfigured;

/// One gossip node's complete protocol state: the shared tables (store, peers), then one part
/// per concern, each owning its state: rumors, anti-entropy, discovery, membership (SWIM
/// probing, suspicion, refutation), the admin endpoint, and the datagram transport.
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
    rng: SmallRng,
    started: Time,
    store: Store,
    peers: PeerSet,
    events: VecDeque<Event>,
    /// Events at the front of `events` already sent to watchers.
    events_watched: usize,
    counters: Counters,
    /// The last messages received that carried state.
    recent: Recent,
    /// Seeded hasher for the node's short-lived maps.
    hasher: hash::Seeded,
    rumors: rumor::Rumors,
    sync: sync::AntiEntropy,
    discovery: discovery::Discovery,
    membership: members::Membership,
    admin: admin::Admin,
    fetches: fetch::Fetches,
    transport: transport::Transport,
    /// Which keys we accept for which origin.
    trust: Trust,
}

impl Node {
    /// A node that starts at `now` and draws randomness from `seed`. It holds no keys until
    /// [`Node::set`] or [`Node::preload`].
    pub fn new(config: NodeConfig, now: Time, seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        // Hashers are drawn in a fixed order, so a seed always gives the same node.
        let store = Store::new(config.id.clone(), config.addr, now, hash::seeded(&mut rng));
        let peers = PeerSet::new(config.addr, config.max_peers, hash::seeded(&mut rng));
        let seen = SeenCache::new(
            config.seen_ttl,
            config.seen_capacity,
            hash::seeded(&mut rng),
        );
        let hasher = hash::seeded(&mut rng);
        let tombstones = hash::seeded(&mut rng);
        let guard = FloodGuard::new(config.guard, hash::seeded(&mut rng));
        let replay = ReplayGuard::new(
            config.replay_window,
            config.replay_capacity,
            hash::seeded(&mut rng),
        );
        let own = config.identity.as_deref().map(|i| (&config.id, i));
        let trust = Trust::new(config.trust.clone(), own, hash::seeded(&mut rng));
        let throttle = super::throttle::Throttle::new(hasher.clone());
        let lockstep = config.dissemination.lockstep;
        // The first probe waits one interval, spread so a cluster started at once is not in step.
        let spread = rng.random_range(0..=config.probe_interval.as_micros() as u64);
        let first_probe = now + config.probe_interval + Duration::from_micros(spread);
        // First exchange soon after start, spread so a cluster started at once does not sync in
        // lock-step. A joining node syncs as soon as its bootstrap answers instead (and at the
        // normal interval if none ever does). A node with only static peers asks them once
        // too, to learn back what the cluster remembers of it.
        let first = rng.random_range(0..=config.anti_entropy.as_micros() as u64 / 10);
        let first_sync = if lockstep || !config.bootstrap.is_empty() {
            now + config.anti_entropy
        } else {
            now + Duration::from_micros(first)
        };
        let asks = !config.bootstrap.is_empty()
            || (!config.static_peers.is_empty() && config.dissemination.announce);
        let push_at = matches!(config.dissemination.rumors, RumorMode::Rounds(_))
            .then(|| now + config.dissemination.push_interval);
        let mut node = Node {
            started: now,
            store,
            peers,
            events: VecDeque::new(),
            events_watched: 0,
            counters: Counters::default(),
            recent: Recent::default(),
            hasher: hasher.clone(),
            rumors: rumor::Rumors::new(seen, push_at, throttle),
            sync: sync::AntiEntropy::new(first_sync, !lockstep, hasher),
            discovery: discovery::Discovery::new(asks.then_some(now)),
            membership: members::Membership::new(config.initial_incarnation, first_probe, tombstones),
            admin: admin::Admin::default(),
            fetches: fetch::Fetches::default(),
            transport: transport::Transport::new(&config, guard, replay),
            trust,
            rng,
            config,
        };
        if let Some(identity) = &node.config.identity {
            node.store.set_own_signer(identity.public());
        }
        node.store.raise_own_version(node.config.initial_version);
        for addr in node.config.static_peers.clone() {
            node.peers.add(addr, None, PeerSource::Static, now);
        }
        for addr in node.config.bootstrap.clone() {
            node.peers.add(addr, None, PeerSource::Bootstrap, now);
        }
        // Our first version announces us even with nothing set: anti-entropy spreads origins
        // (and with them membership) only above version 0.
        if node.config.dissemination.announce {
            node.store.raise_own_version(1);
        }
        node.sign_head();
        node
    }

    /// Handles one received datagram from `from`.
    pub fn handle_datagram(&mut self, now: Time, from: SocketAddr, bytes: &[u8]) {
        self.counters.datagrams_in += 1;
        self.counters.bytes_in += bytes.len() as u64;
        // A source banned for bad datagrams is still heard when its tag proves who it is: a
        // forged source address cannot get an honest peer ignored.
        let held_back = match self.transport.admit(from, now) {
            Ok(()) => None,
            Err(banned @ "flood_banned") if transport::tags(&self.config) => Some(banned),
            Err(refused) => return self.counters.decode_error(refused),
        };
        let keyring = self.config.keyring.as_deref();
        let opened = match wire::open_datagram(self.config.cluster, keyring, bytes) {
            Ok(o) => o,
            Err(_) if held_back.is_some() => return self.counters.decode_error("flood_banned"),
            Err(error) => {
                self.counters.decode_error(error.counter());
                self.emit(Event::BadDatagram { from, error });
                self.strike(now, from);
                return;
            }
        };
        if let Some(stamp) = &opened.stamp {
            if let Err(replay) = self.transport.check_replay(stamp, self.wall_us(now)) {
                self.counters.decode_error(replay);
                self.strike(now, from);
                return;
            }
        }
        let (authenticated, untagged) = match self.authenticate(&opened) {
            Ok(Sender::Proven(id)) => (Some(id), false),
            Ok(Sender::Unproven) => (None, false),
            Ok(Sender::Untagged) => (None, true),
            Err(reason) => {
                self.counters.decode_error(reason);
                self.strike(now, from);
                return;
            }
        };
        if let Some(reason) = held_back.filter(|_| authenticated.is_none()) {
            return self.counters.decode_error(reason);
        }
        if authenticated
            .as_ref()
            .is_some_and(|id| self.trust.ignored(id, now))
        {
            return self.counters.decode_error("peer_ignored");
        }
        self.transport.good(from);
        // Blame needs a proven sender: only then are the refusals before and after compared.
        let blamable = authenticated
            .is_some()
            .then(|| self.counters.blamable_refusals());
        let (datagram, sizes) = (opened.datagram, opened.sizes);
        // A peer that tags sent this untagged: it may have restarted and not know our key
        // yet, or someone uses its name. Its requests are answered; state from it waits for
        // its tag (it learns our key from our answers), so an impostor, or a relay dodging
        // its ban, gets no state in.
        let carries_state = |m: &Message| matches!(m, Message::Rumor(_) | Message::Delta(_));
        let skip_state = untagged && datagram.messages.iter().any(carries_state);
        if skip_state {
            self.counters.decode_error("sender_untagged");
        }
        if let Some(sender) = &datagram.sender {
            if sender.id == self.config.id {
                // Someone else claims to be us: never let it touch our state or peers.
                self.counters.decode_error("stranger_claims_our_id");
                return;
            }
            if self.trust.admits_member(&sender.id)
                && self.learn_peer(sender.addr, Some(sender.id.clone()), now)
            {
                self.membership.met(
                    &mut shared!(self),
                    wire::Origin {
                        id: sender.id.clone(),
                        addr: sender.addr,
                    },
                );
            }
            self.peers.heard_from(&sender.addr, now);
            // A member we believe down is talking to us: tell it, so it can refute.
            self.membership
                .tell_if_down(&mut shared!(self), now, sender.addr);
        }
        let sender = datagram.sender;
        for (message, size) in datagram.messages.into_iter().zip(sizes) {
            if skip_state && carries_state(&message) {
                continue;
            }
            *self.counters.messages_in.entry(message.kind()).or_default() += 1;
            *self
                .counters
                .message_bytes_in
                .entry(message.kind())
                .or_default() += size as u64;
            match message {
                Message::Rumor(r) => self.on_rumor(now, from, r),
                Message::SyncSummary(s) => self.sync.on_summary(&mut shared!(self), from, s),
                Message::SyncDigest(d) => self.sync.on_digest(&mut shared!(self), now, from, d),
                Message::SyncPull(p) => self.sync.on_pull(&mut shared!(self), from, p),
                Message::SyncFilter(f) => self.sync.on_filter(&mut shared!(self), from, f),
                Message::Delta(d) => self.on_delta(now, from, d),
                Message::JoinRequest(j) => {
                    self.discovery
                        .on_join_request(&mut shared!(self), from, sender.as_ref(), j)
                }
                Message::PeerList(p) => self.on_peer_list(now, from, p),
                Message::StatusRequest(s) => self.on_status_request(now, from, s),
                Message::SetRequest(s) => self.on_set_request(now, from, s),
                Message::GetRequest(g) => self.on_get_request(now, from, g),
                Message::WatchRequest(w) => self.on_watch_request(now, from, w),
                Message::Fetch(f) => fetch::serve(&mut shared!(self), from, f),
                Message::Piece(p) => self.on_piece(now, from, p),
                Message::FetchMiss(m) => self.fetches.on_miss(&mut shared!(self), now, from, m),
                Message::Ping(p) => self.membership.on_ping(&mut shared!(self), from, p),
                Message::Ack(a) => self.membership.on_ack(&mut shared!(self), now, from, a),
                Message::PingReq(r) => {
                    self.membership
                        .on_ping_req(&mut shared!(self), now, from, r)
                }
                Message::Members(m) => {
                    let by = sender.as_ref().map(|s| &s.id);
                    self.membership
                        .on_members(&mut shared!(self), now, from, by, m)
                }
                // Replies meant for admin clients; a node has nothing to do with them.
                Message::StatusPage(_)
                | Message::SetReply(_)
                | Message::GetReply(_)
                | Message::WatchEvents(_)
                | Message::Refused(_) => {}
                Message::Graft(g) => self.rumors.on_graft(&mut shared!(self), from, g.want),
                Message::IHave(h) => {
                    let rtt = self.membership.round_trip();
                    self.rumors.on_ihave(&mut shared!(self), now, from, h, rtt)
                }
                Message::Prune(_) => self.rumors.on_prune(from),
            }
        }
        if let Some(sender) = &sender {
            // A member we forgot is talking to us; unless what it sent lifted that, tell it.
            self.membership
                .tell_if_buried(&mut shared!(self), now, sender);
        }
        // A peer proven to have sent us forged state loses standing.
        let forged = blamable.map_or(0, |before| self.counters.blamable_refusals() - before);
        if let (Some(id), true) = (authenticated, forged > 0) {
            if let Some(ban) = self.trust.blame(&id, forged as u32, now) {
                self.counters.peers_ignored += 1;
                self.emit(Event::PeerIgnored { id, addr: from, ban });
            }
        }
    }

    /// Who sent `opened`, when its tag proves it: the sender it names, if that sender's key is
    /// pinned and the tag was made with the key we share. A wrong tag is refused (someone
    /// else is using its name or address); a missing one from a peer that tags is noted.
    fn authenticate(&mut self, opened: &wire::Opened) -> Result<Sender, &'static str> {
        let (Some(sender), Some(identity)) = (&opened.datagram.sender, &self.config.identity)
        else {
            return Ok(Sender::Unproven);
        };
        if !transport::tags(&self.config) {
            return Ok(Sender::Unproven);
        }
        match &opened.tag {
            Some(tag) => match self.trust.pair_key(identity, &sender.id) {
                Some(key) if tag.matches(&key) => {
                    self.trust.tagged_by(&sender.id);
                    Ok(Sender::Proven(sender.id.clone()))
                }
                Some(_) => Err("sender_tag_mismatch"),
                // We do not know its key yet: nothing to check against.
                None => Ok(Sender::Unproven),
            },
            None if self.trust.expects_tag(&sender.id) => Ok(Sender::Untagged),
            None => Ok(Sender::Unproven),
        }
    }

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.membership.leaving() {
            return;
        }
        if self.config.dissemination.membership {
            let catching_up = self.sync.catching_up();
            self.membership.tick(&mut shared!(self), now, catching_up);
        }
        if self.sync.due(now, self.config.anti_entropy) {
            if self.config.dissemination.sync != SyncMode::Off {
                self.sync.start(&mut shared!(self), now);
            }
            let mut interval = self.config.anti_entropy;
            let d = &self.config.dissemination;
            if !d.lockstep && d.rumors != RumorMode::Off && d.sync == SyncMode::PushPull {
                interval *= self.sync.spacing();
            }
            let jittered = (!self.config.dissemination.lockstep).then(|| self.jitter(interval));
            self.sync.ran(now, interval, jittered);
        }
        if let Some(at) = self.rumors.push_due(now) {
            self.rumors.push_round(&mut shared!(self));
            let every = self.config.dissemination.push_interval;
            self.rumors.pushed(at, now, every);
        }
        if self.discovery.join_due(now) {
            self.discovery.ask(&mut shared!(self), now);
        }
        self.rumors.release_due(&mut shared!(self), now);
        let rtt = self.membership.round_trip();
        self.rumors.maintain_tree(&mut shared!(self), now, rtt);
        self.fetches.tick(&mut shared!(self), now);
        self.expire(now);
    }

    /// Keys whose TTL ran out are hidden and reported; keys dead for the grace period are
    /// forgotten.
    fn expire(&mut self, now: Time) {
        let wall = self.wall_ms(now);
        for gone in self.store.expire_due(wall, now) {
            self.counters.keys_expired += 1;
            self.emit(Event::Expired {
                origin: gone.origin,
                key: gone.key,
                version: gone.version,
            });
        }
        let grace = self.config.tombstone_grace;
        self.counters.tombstones_collected += self.store.collect(now, wall, grace) as u64;
    }

    /// The next TTL deadline or tombstone collection, on our clock.
    fn next_expiry(&self) -> Option<Time> {
        let zero_ms = self.config.wall_clock_at_zero_us / 1000;
        let expiry = self
            .store
            .next_expiry()
            .map(|at| Time::from_millis(at.saturating_sub(zero_ms)));
        let collection = self.store.next_collection(self.config.tombstone_grace);
        expiry.into_iter().chain(collection).min()
    }

    /// The next datagram to send, if any. Batches everything queued per destination first, so
    /// messages for one peer produced by one input ride in as few datagrams as the MTU allows.
    pub fn poll_transmit(&mut self, now: Time) -> Option<Transmit> {
        self.flush(now);
        let t = self.transport.next_datagram(now)?;
        self.counters.datagrams_out += 1;
        self.counters.bytes_out += t.bytes.len() as u64;
        Some(t)
    }

    /// The next event for the driver to log or display.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events_watched = self.events_watched.saturating_sub(1);
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn next_timeout(&self) -> Option<Time> {
        if self.membership.leaving() {
            return self.transport.next_release();
        }
        let dissemination = &self.config.dissemination;
        [
            (dissemination.sync != SyncMode::Off).then_some(self.sync.next(self.config.anti_entropy)),
            self.rumors.next_push(),
            self.rumors.next_graft(),
            self.rumors.next_release(),
            self.discovery.next_join(),
            self.transport.next_release(),
            self.fetches.next_deadline(),
            self.next_expiry(),
            self.membership
                .deadline(&self.config, &self.peers, self.cluster_size())
                .filter(|_| dissemination.membership),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A snapshot of everything `gossip status` shows.
    pub fn status(&self, now: Time) -> wire::StatusReport {
        let facts = admin::Facts {
            config: &self.config,
            store: &self.store,
            peers: &self.peers,
            counters: &self.counters,
            recent: &self.recent,
            started: self.started,
            incarnation: self.incarnation(),
            health: self.health(),
            wall_ms: self.wall_ms(now),
            wall_us: self.wall_us(now),
            fetching: self.fetches.progress(),
            partition: self.partition(),
            trust: &self.trust,
        };
        admin::report(&facts, now)
    }

    /// `gossip status`: one page of a snapshot, rendered once per request.
    fn on_status_request(&mut self, now: Time, from: SocketAddr, req: wire::StatusRequest) {
        if !self.admin.allowed(&mut shared!(self), from, req.request) {
            return;
        }
        let fresh = (!self.admin.has(now, from, req.request)).then(|| self.status(now));
        self.admin.serve(&mut shared!(self), now, from, req, fresh);
    }

    /// `gossip set` / `gossip del`: one of our keys, written as any write is, and the outcome
    /// as the reply. A large value is fetched from the client first. A repeated request (its
    /// reply was lost) gets the same reply and is not applied twice.
    fn on_set_request(&mut self, now: Time, from: SocketAddr, req: wire::SetRequest) {
        if !self.admin.allowed(&mut shared!(self), from, req.request) {
            return;
        }
        if self.admin.replay_set(&mut shared!(self), now, from, req.request)
            || self.fetches.uploading(from, req.request)
        {
            return;
        }
        let expires_ms = match req.ttl_ms {
            Some(t) if t == 0 || t > wire::MAX_TTL_MS => {
                let refused = Err(SetError::Ttl);
                return self.admin.reply_set(&mut shared!(self), now, from, req.request, refused);
            }
            Some(t) => Some(self.wall_ms(now) + t),
            None => None,
        };
        let value = match req.value {
            wire::Payload::Deleted => None,
            wire::Payload::Inline(bytes) => Some(bytes::Bytes::from(bytes)),
            wire::Payload::Announced(announce) => {
                let size = announce.size as usize;
                let refused = if size > self.config.max_value_bytes {
                    Some(SetError::Value {
                        len: size,
                        max: self.config.max_value_bytes,
                    })
                } else if req.key.is_empty() || req.key.len() > wire::MAX_KEY_LEN {
                    Some(SetError::Key)
                } else {
                    None
                };
                if let Some(e) = refused {
                    return self.admin.reply_set(&mut shared!(self), now, from, req.request, Err(e));
                }
                let want = crate::core::store::Withheld {
                    key: req.key.clone(),
                    version: req.request,
                    announce,
                    expires_ms,
                    sig: None,
                };
                let upload = fetch::Upload {
                    client: from,
                    request: req.request,
                    expires_ms,
                };
                if !self
                    .fetches
                    .upload(&mut shared!(self), now, req.key, want, upload)
                {
                    let busy = Err(SetError::Busy);
                    self.admin
                        .reply_set(&mut shared!(self), now, from, req.request, busy);
                }
                return;
            }
        };
        let outcome = self.write(now, &req.key, value, expires_ms);
        self.admin
            .reply_set(&mut shared!(self), now, from, req.request, outcome);
    }

    /// `gossip get`: what we hold under an origin's key.
    fn on_get_request(&mut self, now: Time, from: SocketAddr, req: wire::GetRequest) {
        if !self.admin.allowed(&mut shared!(self), from, req.request) {
            return;
        }
        let wall = self.wall_ms(now);
        let form = shared::form(&self.transport);
        let found = admin::find(&self.store, &req.origin, &req.key, wall, form);
        shared!(self).send(
            from,
            Message::GetReply(wire::GetReply {
                request: req.request,
                found,
            }),
        );
    }

    /// `gossip watch`: stream the changes we apply to the client for a while.
    fn on_watch_request(&mut self, now: Time, from: SocketAddr, req: wire::WatchRequest) {
        if !self.admin.allowed(&mut shared!(self), from, req.request) {
            return;
        }
        self.admin.watch(now, from, req);
    }

    /// A piece of a value being fetched; a finished value is stored (or, for an upload,
    /// written and acknowledged).
    fn on_piece(&mut self, now: Time, from: SocketAddr, piece: wire::Piece) {
        let Some(done) = self.fetches.on_piece(&mut shared!(self), now, from, piece) else {
            return;
        };
        match done {
            fetch::Done::Upload { key, bytes, upload } => {
                let outcome = self.write(now, &key, Some(bytes), upload.expires_ms);
                self.admin
                    .reply_set(&mut shared!(self), now, upload.client, upload.request, outcome);
            }
            fetch::Done::Value(fetched) => {
                let fetch::Fetched {
                    origin,
                    since,
                    upto,
                    want,
                    bytes,
                    route,
                    via,
                    relay,
                } = *fetched;
                let upto = self.fetches.cap(&origin.id, want.version, upto);
                let provenance = crate::core::store::Provenance {
                    now,
                    route,
                    via: (via != origin.addr).then_some(via),
                    // Checked when the value was announced.
                    signed: crate::core::store::Signed::default(),
                };
                let applied = self
                    .store
                    .complete(&origin, since, upto, want, bytes, provenance);
                shared!(self).emit_learned(&origin.id, applied.changed, via, route);
                if let Some((from, rumor)) = relay {
                    self.rumors.forward(&mut shared!(self), now, from, rumor);
                }
            }
        }
    }

    /// Announced values from `source` are fetched (the first one passes `relay` on when it
    /// is held).
    fn fetch_withheld(
        &mut self,
        now: Time,
        source: fetch::Source,
        withheld: Vec<crate::core::store::Withheld>,
        mut relay: Option<(SocketAddr, wire::Rumor)>,
    ) {
        for want in withheld {
            self.fetches
                .want(&mut shared!(self), now, &source, want, relay.take());
        }
    }

    /// Our SWIM incarnation.
    pub fn incarnation(&self) -> u64 {
        self.membership.incarnation()
    }

    /// Whether we have lost contact with more than half of the members we knew (and since
    /// when); None while at least half are reachable.
    pub fn partition(&self) -> Option<Partitioned> {
        self.membership.partition()
    }

    /// Lifeguard's local health score (0 = healthy).
    pub fn health(&self) -> u8 {
        self.membership.health()
    }

    /// Graceful leave: tell every live peer we are leaving, so they drop us at once instead of
    /// suspecting us. The driver flushes the result and stops.
    pub fn leave(&mut self, _now: Time) {
        self.membership.leave(&mut shared!(self));
    }

    /// Our id.
    pub fn id(&self) -> &NodeId {
        &self.config.id
    }

    /// Rumors still being pushed in rounds mode: zero means this node will send no more news
    /// unprompted (the simulator's quiet check).
    pub fn pushing(&self) -> usize {
        self.rumors.pushing()
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
        shared::cluster_size(&self.store, &self.peers)
    }

    /// The TTL new rumors get.
    pub fn ttl(&self) -> u8 {
        shared::ttl(&self.config, self.cluster_size())
    }

    /// The number of peers a rumor is pushed to (the tree's view with the tree).
    pub fn fanout(&self) -> usize {
        self.config.rumor_fanout(self.cluster_size())
    }

    fn emit(&mut self, event: Event) {
        shared::emit(&mut self.events, &mut self.counters, event);
    }

    fn flush(&mut self, now: Time) {
        if self.admin.watched() {
            let new = self.events.len().saturating_sub(self.events_watched);
            let skip = self.events.len() - new;
            let events = std::mem::take(&mut self.events);
            self.admin
                .notify(&mut shared!(self), now, events.iter().skip(skip));
            self.events = events;
        }
        self.events_watched = self.events.len();
        let c = &self.counters;
        let changes = (
            c.rumors_received + c.deltas_applied + c.rumors_originated,
            self.peers.len(),
            self.membership.state_changes(),
        );
        self.sync.note_changes(now, changes, self.config.anti_entropy);
        // Rumors leave first: the news is what everyone waits for, and a burst of other
        // datagrams (lazy announcements, probes, anti-entropy) must not hold it up.
        let mut queued: Vec<(SocketAddr, Vec<Message>)> =
            self.transport.take_queued().into_iter().collect();
        queued.sort_by_key(|(_, m)| !m.iter().any(|x| matches!(x, Message::Rumor(_))));
        for (to, mut messages) in queued {
            let Some((mut datagrams, mut sizes)) = pack(self.transport.packer(), &messages) else {
                self.counters.encode_errors += 1;
                continue;
            };
            // Membership facts ride in the room the last datagram has left, never in a new one.
            let room = datagrams
                .last()
                .map_or(0, |d| self.transport.packer().piggyback_room(d.len()));
            let facts = self
                .membership
                .piggyback_for(&mut shared!(self), to, &messages, room);
            if let Some(facts) = facts {
                messages.push(facts);
                if let Some((with, resized)) = pack(self.transport.packer(), &messages) {
                    datagrams = with;
                    sizes = resized;
                }
            }
            // Then, in a broadcast tree, announcements of recent rumors in what room is left:
            // a spare chance, never worth a datagram more.
            let left = datagrams
                .last()
                .map_or(0, |d| self.transport.packer().piggyback_room(d.len()));
            let announcements = self.rumors.piggyback(&self.config, now, &messages, left);
            if let Some(announcements) = announcements {
                messages.push(announcements);
                match pack(self.transport.packer(), &messages) {
                    Some((with, resized)) if with.len() == datagrams.len() => {
                        datagrams = with;
                        sizes = resized;
                    }
                    _ => {
                        messages.pop();
                    }
                }
            }
            // What was actually encoded, piggybacks included, counted once here.
            for (kind, len) in sizes {
                *self.counters.messages_out.entry(kind).or_default() += 1;
                *self.counters.message_bytes_out.entry(kind).or_default() += len as u64;
            }
            // Tagged for a peer whose key we know, so it can tell the datagram is ours.
            let pair = match (&self.config.identity, transport::tags(&self.config)) {
                (Some(identity), true) => self
                    .peers
                    .get(&to)
                    .and_then(|p| p.id.clone())
                    .and_then(|id| self.trust.pair_key(identity, &id)),
                _ => None,
            };
            for mut bytes in datagrams {
                if let Some(pair) = &pair {
                    wire::tag_datagram(&mut bytes, pair);
                }
                if let Some(keys) = &self.config.keyring {
                    let wall = self.wall_us(now);
                    bytes = self.transport.seal(&bytes, keys, self.config.entropy, wall);
                }
                if !self.transport.send(&mut self.rng, now, Transmit { to, bytes }) {
                    self.counters.fault_dropped += 1;
                }
            }
        }
    }

    /// A rumor: news about us moves our counter past it; news about another origin makes it
    /// a peer of ours before the rumor is passed on (so the relay may pick it).
    fn on_rumor(&mut self, now: Time, from: SocketAddr, rumor: wire::Rumor) {
        if self.trust.checks() && self.is_replay(now, from, &rumor) {
            let replayed = crate::core::Refusal::Replayed;
            return shared!(self).refuse(rumor.origin.id, from, replayed);
        }
        match self.rumors.receive(&mut shared!(self), now, from, &rumor) {
            rumor::Received::Duplicate | rumor::Received::Refused => {}
            rumor::Received::AboutUs => self.on_news_about_self(now, rumor.version),
            rumor::Received::News(applied) => {
                self.learn_peer(rumor.origin.addr, Some(rumor.origin.id.clone()), now);
                if applied.withheld.is_empty() {
                    self.rumors
                        .pass_on(&mut shared!(self), now, from, rumor, applied.changed);
                    return;
                }
                // Relayed only once its value is held, so whoever hears it can fetch from us.
                self.rumors
                    .settle(&mut shared!(self), from, &rumor, applied.changed);
                let source = fetch::Source {
                    origin: rumor.origin.clone(),
                    since: rumor.since,
                    upto: rumor.version,
                    route: rumor::route(&rumor),
                    from,
                };
                let relay = Some((from, rumor));
                self.fetch_withheld(now, source, applied.withheld, relay);
            }
        }
    }

    /// Whether `from` pushes, as news, a change older than the newest one of the same key that
    /// `from` itself gave us at least [`REPLAY_AGE`] ago. A relay forwards only what is fresh
    /// to it, and it has held that newer change since: it is replaying an old one. (Rounds of
    /// pushes, reordering and gaps all stay well inside the age.)
    fn is_replay(&self, now: Time, from: SocketAddr, rumor: &wire::Rumor) -> bool {
        let Some(state) = self.store.get(&rumor.origin.id) else {
            return false;
        };
        if state.via != Some(from) || now.since(state.changed_at) < REPLAY_AGE {
            return false;
        }
        rumor.entries.iter().any(|e| {
            state
                .values
                .get(&e.key)
                .is_some_and(|held| held.version == state.watermark && held.version > e.version)
        })
    }

    /// A delta: news about us moves our counter past it; every other origin's part is merged
    /// by anti-entropy, and what was new is learned (the origin joins our peers) and reported.
    fn on_delta(&mut self, now: Time, from: SocketAddr, delta: wire::Delta) {
        let budget = self.transport.packer().list_budget();
        self.sync.answered(from, now, &delta, budget);
        // One verdict per origin, all checked as one batch; none to build in open mode, which
        // checks nothing (an origin without a verdict is admitted).
        let verdicts = if self.trust.checks() {
            let offers: Vec<admit::Offer> = delta.origins.iter().map(admit::Offer::delta).collect();
            admit::admit_all(&mut shared!(self), from, &offers)
        } else {
            Vec::new()
        };
        for (i, od) in delta.origins.into_iter().enumerate() {
            let admitted = verdicts.get(i).copied().unwrap_or(true);
            self.recent.push(crate::core::recent::Received {
                kind: crate::core::recent::Kind::Delta,
                id: None,
                origin: od.origin.id.clone(),
                version: od.upto,
                from,
                hops: 0,
                at: now,
            });
            if od.origin.id == self.config.id {
                if admitted {
                    self.on_news_about_self(now, od.upto);
                }
                continue;
            }
            let source = fetch::Source {
                origin: od.origin.clone(),
                since: od.since,
                upto: od.upto,
                route: Route::Sync,
                from,
            };
            if let Some(applied) = self.sync.apply(&mut shared!(self), now, from, od, admitted) {
                let origin = &source.origin;
                self.learn_peer(origin.addr, Some(origin.id.clone()), now);
                shared!(self).emit_learned(&origin.id, applied.changed, from, Route::Sync);
                self.fetch_withheld(now, source, applied.withheld, None);
            }
        }
    }

    /// An answer to our join: continue above what the cluster remembers of us, learn the
    /// members it lists, and sync at once if we asked.
    fn on_peer_list(&mut self, now: Time, from: SocketAddr, list: wire::PeerList) {
        let answered = self.discovery.on_peer_list(&shared!(self), from, list);
        if let Some(version) = answered.republish_above {
            self.republish_above(now, version);
        }
        if let Some(incarnation) = answered.incarnation {
            self.membership.continue_above(incarnation);
        }
        for peer in answered.peers {
            self.learn_peer(peer.addr, Some(peer.id), now);
        }
        if answered.sync_now {
            self.sync.start_now(now);
        }
    }

    /// Adds a member we heard of (or from) to our peers; true if it is new to us.
    fn learn_peer(&mut self, addr: SocketAddr, id: Option<NodeId>, now: Time) -> bool {
        if !self.config.learn_peers && !self.peers.contains(&addr) {
            return false;
        }
        // Gossip about a forgotten member must not bring it back; only its refutation can.
        if id.as_ref().is_some_and(|i| self.membership.is_buried(i)) {
            return false;
        }
        let added = self.peers.add(addr, id.clone(), PeerSource::Learned, now);
        if added {
            self.emit(Event::PeerAdded {
                addr,
                id,
                source: PeerSource::Learned,
            });
        }
        added
    }

    /// `d` scaled by a random factor in [0.75, 1.25], so timers across a cluster drift apart.
    /// A bad datagram from `from`: one strike towards ignoring it.
    fn strike(&mut self, now: Time, from: SocketAddr) {
        if self.transport.strike(from, now) {
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

    /// Our wall clock at `now`, ms since the UNIX epoch (TTL deadlines are in these).
    pub fn wall_ms(&self, now: Time) -> u64 {
        self.wall_us(now) / 1000
    }

    /// The keys pinned to node ids (trust tofu and allowlist; ours included), to keep them
    /// across a restart.
    pub fn pinned_keys(&self) -> Vec<(NodeId, wire::PublicKey)> {
        self.trust.pins().map(|(id, key)| (id.clone(), key)).collect()
    }

    /// How many node ids have a pinned key.
    pub fn pinned_count(&self) -> usize {
        self.trust.pinned_count()
    }

    /// Pins keys kept from an earlier run (a key already pinned for an id stays).
    pub fn restore_pins(&mut self, pins: impl IntoIterator<Item = (NodeId, wire::PublicKey)>) {
        for (id, key) in pins {
            self.trust.pin(id, key);
        }
    }

    /// Announced values being fetched, and the bytes held of them so far.
    pub fn fetching(&self) -> (usize, u64) {
        self.fetches.progress()
    }

    fn jitter(&mut self, d: Duration) -> Duration {
        if self.config.dissemination.lockstep {
            return d;
        }
        d.mul_f64(self.rng.random_range(0.75..1.25))
    }
}

/// How long a relay must have held a newer change before pushing an older one of the same
/// key counts as a replay.
const REPLAY_AGE: Duration = Duration::from_secs(60);

/// What a datagram's tag says about who sent it.
enum Sender {
    /// The sender it names, proven by its tag.
    Proven(NodeId),
    /// Nothing to check: no identity, a sender we know no key for, or one that never tagged.
    Unproven,
    /// A sender that tags sent this without a tag.
    Untagged,
}

/// Datagrams, and each message's type and encoded size.
type Packed = (Vec<Vec<u8>>, Vec<(wire::MessageKind, usize)>);

/// `messages` packed into datagrams for one destination (None if one cannot be encoded).
fn pack(packer: &wire::Packer, messages: &[Message]) -> Option<Packed> {
    let mut sizes = Vec::with_capacity(messages.len());
    let datagrams = packer
        .pack_counted(messages, |m, len| sizes.push((m.kind(), len)))
        .ok()?;
    Some((datagrams, sizes))
}

#[cfg(test)]
mod tests;
