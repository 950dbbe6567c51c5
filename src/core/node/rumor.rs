//! Rumor-mongering: a new version is pushed at once to `fanout` random peers and relayed with
//! TTL−1 by every node that had not seen it; duplicates are recognised by message id.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use crate::wire::{Message, Origin, Rumor, SyncPull, VersionClaim};

use super::Node;
use crate::core::config::{RumorMode, SyncMode};
use crate::core::event::{Event, Route};
use crate::core::seen::SeenCache;
use crate::core::store::Provenance;
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
}

impl Rumors {
    /// `push_at`: the first push round, in `RumorMode::Rounds`.
    pub(super) fn new(seen: SeenCache, push_at: Option<Time>) -> Self {
        Rumors {
            seen,
            hot: VecDeque::new(),
            push_at,
        }
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

impl Node {
    /// Pushes a freshly made rumor (already applied locally) to `fanout` peers.
    pub(super) fn originate(&mut self, now: Time, rumor: Rumor) -> usize {
        self.rumors.seen.insert(rumor.id, now);
        self.counters.rumors_originated += 1;
        if let RumorMode::Rounds(rounds) = self.config.dissemination.rumors {
            // The first round is now; the rest follow at the push ticks.
            self.make_hot(now, rumor.clone(), rounds.saturating_sub(1));
        } else if self.config.dissemination.rumors == RumorMode::Off {
            return 0;
        }
        let targets = self.fanout_targets(&[]);
        for &to in &targets {
            self.send(to, Message::Rumor(rumor.clone()));
        }
        targets.len()
    }

    pub(super) fn on_rumor(&mut self, now: Time, from: SocketAddr, rumor: Rumor) {
        if !self.rumors.seen.insert(rumor.id, now) {
            self.counters.duplicates += 1;
            self.emit(Event::Duplicate {
                origin: rumor.origin.id,
                version: rumor.version,
                from,
            });
            return;
        }
        self.counters.rumors_received += 1;
        if rumor.origin.id == self.config.id {
            self.on_news_about_self(now, rumor.version);
            return;
        }
        let hops = rumor.hops.saturating_add(1);
        let applied = self.store.apply(
            &rumor.origin,
            rumor.since,
            rumor.version,
            rumor.entries.clone(),
            Provenance {
                now,
                route: Route::Rumor { hops },
                via: (from != rumor.origin.addr).then_some(from),
            },
        );
        self.learn_peer(rumor.origin.addr, Some(rumor.origin.id.clone()), now);
        self.pull_gap(from, &rumor);
        self.emit_learned(
            &rumor.origin.id,
            applied.changed,
            from,
            Route::Rumor { hops },
        );
        if rumor.ttl == 0 {
            return;
        }
        match self.config.dissemination.rumors {
            RumorMode::Relay => self.relay(from, rumor),
            RumorMode::Rounds(rounds) => {
                let mut rumor = rumor;
                rumor.ttl -= 1;
                rumor.hops = rumor.hops.saturating_add(1);
                self.make_hot(now, rumor, rounds);
            }
            RumorMode::Off => {}
        }
    }

    /// A rumor that arrives ahead of changes we lack (we missed one, or never heard of its
    /// origin) leaves that origin half-known until the next anti-entropy round; asking the
    /// sender at once, which just applied the same rumor and most likely holds the rest,
    /// closes the gap in one round trip. The sender answers with what it has; anti-entropy
    /// still repairs whatever it lacked too.
    fn pull_gap(&mut self, from: SocketAddr, rumor: &Rumor) {
        let held = self.store.watermark(&rumor.origin.id);
        let pulls = matches!(
            self.config.dissemination.sync,
            SyncMode::Pull | SyncMode::PushPull
        );
        if held >= rumor.since || !pulls {
            return;
        }
        self.counters.gap_pulls += 1;
        let wants = vec![VersionClaim {
            origin: rumor.origin.id.clone(),
            version: held,
        }];
        self.send(from, Message::SyncPull(SyncPull { wants }));
    }

    /// Keeps `rumor` to push at each of the next `rounds` push ticks (which stay aligned to
    /// the node's start, so simulated rounds are synchronous).
    fn make_hot(&mut self, now: Time, rumor: Rumor, rounds: u8) {
        if rounds == 0 {
            return;
        }
        if self.rumors.hot.len() >= MAX_HOT {
            self.rumors.hot.pop_front();
        }
        self.rumors.hot.push_back((rumor, rounds));
        let every = self
            .config
            .dissemination
            .push_interval
            .max(Duration::from_micros(1));
        if let Some(at) = self.rumors.push_at.as_mut() {
            while *at <= now {
                *at += every;
            }
        }
    }

    /// One round of `RumorMode::Rounds`: every hot rumor goes to `fanout` fresh random peers.
    pub(super) fn push_round(&mut self, _now: Time) {
        let hot = std::mem::take(&mut self.rumors.hot);
        for (rumor, rounds) in hot {
            let targets = self.fanout_targets(&[]);
            if !targets.is_empty() {
                self.counters.rumors_relayed += 1;
            }
            for &to in &targets {
                self.send(to, Message::Rumor(rumor.clone()));
            }
            if rounds > 1 {
                self.rumors.hot.push_back((rumor, rounds - 1));
            }
        }
    }

    fn relay(&mut self, from: SocketAddr, mut rumor: Rumor) {
        rumor.ttl -= 1;
        rumor.hops = rumor.hops.saturating_add(1);
        let targets = self.fanout_targets(&[from, rumor.origin.addr]);
        if targets.is_empty() {
            return;
        }
        self.counters.rumors_relayed += 1;
        self.emit(Event::Relayed {
            origin: rumor.origin.id.clone(),
            version: rumor.version,
            to: targets.len(),
            ttl: rumor.ttl,
        });
        for &to in &targets {
            self.send(to, Message::Rumor(rumor.clone()));
        }
    }

    /// `fanout` random peers (all of them when flooding), minus `exclude`: where rumors and
    /// pushed membership facts go.
    pub(super) fn fanout_targets(&mut self, exclude: &[SocketAddr]) -> Vec<SocketAddr> {
        let fanout = self.fanout();
        if fanout >= self.peers.len() {
            return self.peers.all_except(exclude);
        }
        self.peers.sample(&mut self.rng, fanout, exclude)
    }

    /// Someone holds a version of *our* state: if it is newer than ours (we restarted and lost
    /// our counter), jump past it so our next change is not ignored as stale.
    pub(super) fn on_news_about_self(&mut self, now: Time, version: u64) {
        if version > self.store.own().watermark {
            self.republish_above(now, version);
        }
    }

    /// Moves our version counter past `version` and re-issues our current values above it,
    /// so everyone replaces whatever older state of ours they hold.
    pub(super) fn republish_above(&mut self, now: Time, version: u64) {
        self.store.raise_own_version(version);
        let values: Vec<(String, Option<Vec<u8>>)> = self
            .store
            .own()
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        for (key, value) in values {
            let _ = self.write(now, &key, value.as_deref());
        }
    }

    /// Our own identity as it appears in rumors and deltas.
    pub(super) fn own_origin(&self) -> Origin {
        Origin {
            id: self.config.id.clone(),
            addr: self.config.addr,
        }
    }
}
