//! Rumor-mongering: a new version is pushed at once to `fanout` random peers and relayed with
//! TTL−1 by every node that had not seen it; duplicates are recognised by message id.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use crate::wire::{Announced, IHave, Message, Rumor, SyncPull, VersionClaim};

use super::admit::{admit, Offer};
use super::shared::Shared;
use super::tree::BroadcastTree;
use crate::core::config::{NodeConfig, RumorMode, SyncMode};
use crate::core::event::{Event, Route};
use crate::core::recent::{self, Kind};
use crate::core::seen::SeenCache;
use crate::core::throttle::Throttle;
use crate::core::store::{Applied, Provenance, Signed, Stored};
use crate::core::time::Time;

/// Bound on rumors a node keeps pushing in rounds mode (oldest dropped first).
const MAX_HOT: usize = 1024;

/// What rumor-mongering owns.
#[derive(Debug)]
pub(super) struct Rumors {
    /// Rumor ids already handled (duplicates are dropped).
    seen: SeenCache,
    /// Rumors still being pushed in `RumorMode::Rounds`, with the rounds each has left.
    hot: VecDeque<(Rumor, u8)>,
    /// Next push round (`RumorMode::Rounds` only).
    push_at: Option<Time>,
    /// The broadcast tree (`RumorMode::Tree` only).
    tree: BroadcastTree,
    /// Each origin's relay budget.
    throttle: Throttle,
    /// Diffusion: rumors and announcements waiting out their delays, soonest first.
    held: BinaryHeap<Reverse<Held>>,
    seq: u64,
}

/// A message diffusion holds back until `at`.
#[derive(Debug)]
struct Held {
    at: Time,
    seq: u64,
    to: SocketAddr,
    message: Message,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Bound on messages diffusion holds back at once (beyond it, messages go at once).
const MAX_HELD: usize = 65_536;

impl Rumors {
    /// `push_at`: the first push round, in `RumorMode::Rounds`.
    pub(super) fn new(seen: SeenCache, push_at: Option<Time>, throttle: Throttle) -> Self {
        Rumors {
            seen,
            hot: VecDeque::new(),
            push_at,
            tree: BroadcastTree::default(),
            throttle,
            held: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Relays `rumor` (already one hop on) to `targets` (random peers, or the tree's eager
    /// links; never the sender or the origin), each after its own delay under diffusion.
    fn relay(&mut self, cx: &mut Shared, now: Time, rumor: &Rumor, targets: Vec<SocketAddr>) {
        if targets.is_empty() {
            return;
        }
        cx.counters.rumors_relayed += 1;
        cx.emit(Event::Relayed {
            origin: rumor.origin.id.clone(),
            version: rumor.version,
            to: targets.len(),
            ttl: rumor.ttl,
        });
        for &to in &targets {
            self.post(cx, now, to, Message::Rumor(rumor.clone()));
        }
    }

    /// The tree keeps `rumor` for grafts and announces it to its lazy links except `skip`:
    /// after the pushes, so it never delays them, and not under diffusion (a graft answering
    /// an announcement would name who announced first).
    fn announce(&mut self, cx: &mut Shared, now: Time, rumor: &Rumor, skip: &[SocketAddr]) {
        let (ihave, to) = self.tree.delivered(now, rumor, skip);
        if cx.config.diffusion.is_some() {
            return;
        }
        for to in to {
            self.post(cx, now, to, ihave.clone());
        }
    }

    /// Sends a rumor or an announcement of one: at once, or under diffusion after an
    /// exponentially distributed delay of its own, so the first node to hear news from us is
    /// no more likely to be a neighbour of the origin than of anyone else who had it early.
    fn post(&mut self, cx: &mut Shared, now: Time, to: SocketAddr, message: Message) {
        let Some(mean) = cx.config.diffusion else {
            return cx.send(to, message);
        };
        if self.held.len() >= MAX_HELD {
            return cx.send(to, message);
        }
        // Inverse transform sampling; the tail is cut at 20 means (one in 485 million).
        let u: f64 = rand::RngExt::random_range(cx.rng, 0.0..1.0);
        let delay = mean.mul_f64((-(1.0 - u).ln()).min(20.0));
        self.seq += 1;
        self.held.push(Reverse(Held {
            at: now + delay,
            seq: self.seq,
            to,
            message,
        }));
    }

    /// Sends what diffusion held back and is due by `now`.
    pub(super) fn release_due(&mut self, cx: &mut Shared, now: Time) {
        while self.held.peek().is_some_and(|Reverse(h)| h.at <= now) {
            if let Some(Reverse(h)) = self.held.pop() {
                cx.send(h.to, h.message);
            }
        }
    }

    /// When diffusion next releases a message.
    pub(super) fn next_release(&self) -> Option<Time> {
        self.held.peek().map(|Reverse(h)| h.at)
    }

    /// Rumors still being pushed in rounds mode.
    pub(super) fn pushing(&self) -> usize {
        self.hot.len()
    }

    /// The push round due at `now`, if one is.
    pub(super) fn push_due(&self, now: Time) -> Option<Time> {
        self.push_at.filter(|&t| t <= now)
    }

    /// When the next push round needs the node, if any rumor is still hot.
    pub(super) fn next_push(&self) -> Option<Time> {
        self.push_at.filter(|_| !self.hot.is_empty())
    }

    /// The round due `at` ran at `now`: the next stays on the grid of `every` from the start.
    pub(super) fn pushed(&mut self, at: Time, now: Time, every: Duration) {
        let every = every.max(Duration::from_micros(1));
        let mut next = at + every;
        while next <= now {
            next += every;
        }
        self.push_at = Some(next);
    }
}

/// What a received rumor is, for the node.
#[derive(Debug)]
pub(super) enum Received {
    /// Seen before: dropped.
    Duplicate,
    /// Refused by the trust checks (counted and reported): dropped, and not marked seen.
    Refused,
    /// News about our own state (someone holds a version of us).
    AboutUs,
    /// Applied: what was new, and announced values to fetch. The node learns its origin,
    /// then [`Rumors::pass_on`] (or, if values must be fetched first, [`Rumors::settle`] now
    /// and [`Rumors::forward`] once they are held).
    News(Applied),
}

impl Rumors {
    /// Pushes a freshly made rumor (already applied locally) to `fanout` peers; how many.
    pub(super) fn originate(&mut self, cx: &mut Shared, now: Time, rumor: Rumor) -> usize {
        self.seen.insert(rumor.id, now);
        cx.counters.rumors_originated += 1;
        if let RumorMode::Rounds(rounds) = cx.config.dissemination.rumors {
            // The first round is now; the rest follow at the push ticks.
            self.make_hot(cx.config, now, rumor.clone(), rounds.saturating_sub(1));
        } else if cx.config.dissemination.rumors == RumorMode::Off {
            return 0;
        }
        let tree = cx.config.dissemination.rumors == RumorMode::Tree;
        let targets = if tree {
            self.tree.targets(cx, now, &[])
        } else {
            cx.fanout_targets(&[])
        };
        for &to in &targets {
            self.post(cx, now, to, Message::Rumor(rumor.clone()));
        }
        if tree {
            self.announce(cx, now, &rumor, &[]);
        }
        targets.len()
    }

    /// Takes in a rumor from `from`: drops duplicates, applies news about others.
    pub(super) fn receive(
        &mut self,
        cx: &mut Shared,
        now: Time,
        from: SocketAddr,
        rumor: &Rumor,
    ) -> Received {
        // Checked before the rumor counts as seen, so a forged copy cannot make us drop the
        // genuine one; a duplicate changes nothing and costs no verification.
        if !admit(cx, from, &Offer::rumor(rumor)) {
            return Received::Refused;
        }
        let fresh = self.seen.insert(rumor.id, now);
        cx.recent.push(recent::Received {
            kind: if fresh { Kind::Rumor } else { Kind::Duplicate },
            id: Some(rumor.id),
            origin: rumor.origin.id.clone(),
            version: rumor.version,
            from,
            hops: rumor.hops.saturating_add(1),
            at: now,
        });
        let tree = cx.config.dissemination.rumors == RumorMode::Tree;
        if tree {
            if fresh {
                // (Whoever announced it is forgotten once it is pushed on: `delivered`
                // skips them, as they have it.)
                self.tree.first_from(from);
            } else {
                self.tree.duplicate_from(cx, from);
            }
        }
        if !fresh {
            cx.counters.duplicates += 1;
            cx.emit(Event::Duplicate {
                origin: rumor.origin.id.clone(),
                version: rumor.version,
                from,
            });
            return Received::Duplicate;
        }
        cx.counters.rumors_received += 1;
        if rumor.origin.id == cx.config.id {
            return Received::AboutUs;
        }
        let applied = cx.store.apply(
            &rumor.origin,
            rumor.since,
            rumor.version,
            rumor.entries.clone(),
            false,
            Provenance {
                now,
                route: route(rumor),
                via: (from != rumor.origin.addr).then_some(from),
                signed: Signed {
                    signer: rumor.signer,
                    head: None,
                },
            },
        );
        Received::News(applied)
    }

    /// After news from a rumor: pulls a gap it revealed, reports what changed, and passes
    /// the rumor on (relayed at once, or kept hot for the push rounds) while its TTL lasts.
    pub(super) fn pass_on(
        &mut self,
        cx: &mut Shared,
        now: Time,
        from: SocketAddr,
        rumor: Rumor,
        changed: Vec<Stored>,
    ) {
        self.settle(cx, from, &rumor, changed);
        self.forward(cx, now, from, rumor);
    }

    /// Pulls a gap the rumor revealed and reports what it changed.
    pub(super) fn settle(&mut self, cx: &mut Shared, from: SocketAddr, rumor: &Rumor, changed: Vec<Stored>) {
        pull_gap(cx, from, rumor);
        cx.emit_learned(&rumor.origin.id, changed, from, route(rumor));
    }

    /// Passes a rumor from `from` on (relayed at once, or kept hot for the push rounds)
    /// while its TTL lasts.
    pub(super) fn forward(&mut self, cx: &mut Shared, now: Time, from: SocketAddr, rumor: Rumor) {
        if rumor.ttl == 0 {
            return;
        }
        // An origin changing faster than we relay: applied here, left to anti-entropy.
        if !self
            .throttle
            .allow(cx.config.origin_rate, &rumor.origin.id, now)
        {
            cx.counters.rumors_throttled += 1;
            cx.emit(Event::Throttled {
                origin: rumor.origin.id,
            });
            return;
        }
        // What goes on: one hop further, one hop less to live (the caller checked it has one).
        let skip = [from, rumor.origin.addr];
        let mut onward = rumor;
        onward.ttl -= 1;
        onward.hops = onward.hops.saturating_add(1);
        match cx.config.dissemination.rumors {
            RumorMode::Relay => {
                let targets = cx.fanout_targets(&skip);
                self.relay(cx, now, &onward, targets);
            }
            RumorMode::Tree => {
                let targets = self.tree.targets(cx, now, &skip);
                self.relay(cx, now, &onward, targets);
                self.announce(cx, now, &onward, &skip);
            }
            RumorMode::Rounds(rounds) => self.make_hot(cx.config, now, onward, rounds),
            RumorMode::Off => {}
        }
    }

    /// Keeps `rumor` to push at each of the next `rounds` push ticks (which stay aligned to
    /// the node's start, so simulated rounds are synchronous).
    fn make_hot(&mut self, config: &NodeConfig, now: Time, rumor: Rumor, rounds: u8) {
        if rounds == 0 {
            return;
        }
        if self.hot.len() >= MAX_HOT {
            self.hot.pop_front();
        }
        self.hot.push_back((rumor, rounds));
        let every = config
            .dissemination
            .push_interval
            .max(Duration::from_micros(1));
        if let Some(at) = self.push_at.as_mut() {
            while *at <= now {
                *at += every;
            }
        }
    }

    /// One round of `RumorMode::Rounds`: every hot rumor goes to `fanout` fresh random peers.
    pub(super) fn push_round(&mut self, cx: &mut Shared) {
        let hot = std::mem::take(&mut self.hot);
        for (rumor, rounds) in hot {
            let targets = cx.fanout_targets(&[]);
            if !targets.is_empty() {
                cx.counters.rumors_relayed += 1;
            }
            for &to in &targets {
                cx.send(to, Message::Rumor(rumor.clone()));
            }
            if rounds > 1 {
                self.hot.push_back((rumor, rounds - 1));
            }
        }
    }
}

impl Rumors {
    /// `from` asked for the tree's pushes (and perhaps for one rumor).
    pub(super) fn on_graft(&mut self, cx: &mut Shared, from: SocketAddr, want: Option<uuid::Uuid>) {
        if cx.config.dissemination.rumors == RumorMode::Tree {
            self.tree.on_graft(cx, from, want);
        }
    }

    /// `from` has rumors we may lack: await those not seen nor held, then graft.
    /// `rtt` is the membership's smoothed round trip, which times the graft.
    pub(super) fn on_ihave(
        &mut self,
        cx: &mut Shared,
        now: Time,
        from: SocketAddr,
        ihave: IHave,
        rtt: Option<Duration>,
    ) {
        // Only a live member's announcement can lead to a graft (and a link).
        if cx.config.dissemination.rumors != RumorMode::Tree || !super::tree::member(cx, &from) {
            return;
        }
        let lacking: Vec<Announced> = ihave
            .rumors
            .into_iter()
            .filter(|a| !self.seen.contains(&a.id) && cx.store.watermark(&a.origin) < a.version)
            .filter(|a| a.origin != cx.config.id)
            .collect();
        if !lacking.is_empty() {
            self.tree.announced(now, from, lacking, super::tree::graft_timers(rtt).0);
        }
    }

    /// Announcements of recent rumors for the spare room of a datagram (`RumorMode::Tree`;
    /// never under diffusion, where an announcement must wait its own delay).
    pub(super) fn piggyback(
        &mut self,
        config: &NodeConfig,
        now: Time,
        outgoing: &[Message],
        room: usize,
    ) -> Option<Message> {
        (config.dissemination.rumors == RumorMode::Tree && config.diffusion.is_none())
            .then(|| self.tree.piggyback(now, outgoing, room))
            .flatten()
    }

    /// When an announced rumor is next due for a graft (`RumorMode::Tree` only).
    pub(super) fn next_graft(&self) -> Option<Time> {
        self.tree.next_graft()
    }

    /// `from` gets our rumors another way.
    pub(super) fn on_prune(&mut self, from: SocketAddr) {
        self.tree.on_prune(from);
    }

    /// Keeps the tree's view full of live members (`RumorMode::Tree` only).
    pub(super) fn maintain_tree(&mut self, cx: &mut Shared, now: Time, rtt: Option<Duration>) {
        if cx.config.dissemination.rumors == RumorMode::Tree {
            self.tree.maintain(cx, now);
            let held: Vec<uuid::Uuid> = self
                .tree
                .due(now)
                .filter(|a| self.seen.contains(&a.id) || cx.store.watermark(&a.origin) >= a.version)
                .map(|a| a.id)
                .collect();
            self.tree.graft_due(cx, now, &held, super::tree::graft_timers(rtt).1);
        }
    }
}

/// How a rumor reached us: one hop more than it says it travelled.
pub(super) fn route(rumor: &Rumor) -> Route {
    Route::Rumor {
        hops: rumor.hops.saturating_add(1),
    }
}

/// A rumor that arrives ahead of changes we lack (we missed one, or never heard of its origin)
/// leaves that origin half-known until the next anti-entropy round; asking the sender at
/// once, which just applied the same rumor and most likely holds the rest, closes the gap in
/// one round trip. The sender answers with what it has; anti-entropy still repairs whatever
/// it lacked too.
fn pull_gap(cx: &mut Shared, from: SocketAddr, rumor: &Rumor) {
    let held = cx.store.watermark(&rumor.origin.id);
    let pulls = matches!(
        cx.config.dissemination.sync,
        SyncMode::Pull | SyncMode::PushPull
    );
    if held >= rumor.since || !pulls {
        return;
    }
    cx.counters.gap_pulls += 1;
    let wants = vec![VersionClaim {
        origin: rumor.origin.id.clone(),
        version: held,
    }];
    cx.send(from, Message::SyncPull(SyncPull { wants }));
}


