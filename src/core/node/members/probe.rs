//! SWIM failure detection with Lifeguard's refinements, wired to the node:
//! - every probe interval one live member (round-robin over a shuffled list) gets a `Ping`;
//! - no `Ack` within the probe timeout → `PingReq` through k random members;
//! - still nothing by the end of the interval → the member is *suspect*;
//! - a suspicion not refuted within its (confirmation-shortened) timeout → *dead*.
//!
//! Membership facts (applying, refuting, spreading) live in `members.rs`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use rand::seq::{IndexedRandom, SliceRandom};

use crate::core::membership::suspicion_timeout;
use crate::core::time::Time;
use crate::core::peers::Peer;
use crate::wire::{Ack, MemberState, MemberUpdate, Message, Ping, PingReq};

use super::super::Node;
use super::Source;

/// Indirect-probe forwards remembered at once.
const MAX_FORWARDS: usize = 256;
/// Every this many probe ticks, one dead member is pinged in case it came back.
const DEAD_PROBE_EVERY: u64 = 5;

/// The probe in flight.
#[derive(Debug, Clone)]
pub(super) struct Probe {
    target: SocketAddr,
    seq: u64,
    sent: Time,
    deadline: Time,
    indirect: bool,
    /// Members asked to probe for us (indirect phase).
    helpers: Vec<SocketAddr>,
}

/// A ping we send for someone else's indirect probe.
#[derive(Debug, Clone)]
struct Forward {
    seq: u64,
    requester: SocketAddr,
    their_seq: u64,
    expires: Time,
}

/// Probe scheduling and in-flight state.
#[derive(Debug, Default)]
pub(super) struct ProbeState {
    order: Vec<SocketAddr>,
    cursor: usize,
    pub(super) pending: Option<Probe>,
    seq: u64,
    forwards: VecDeque<Forward>,
    ticks: u64,
}

impl Node {
    /// Our SWIM incarnation.
    pub fn incarnation(&self) -> u64 {
        self.membership.incarnation
    }

    /// Lifeguard's local health score (0 = healthy).
    pub fn health(&self) -> u8 {
        self.membership.health.score()
    }

    fn scaled(&self, d: Duration) -> Duration {
        self.membership.health.scale(d)
    }

    fn next_seq(&mut self) -> u64 {
        self.membership.probe.seq += 1;
        self.membership.probe.seq
    }

    /// When the membership machinery next needs `handle_timeout`.
    pub(in crate::core::node) fn membership_deadline(&self) -> Option<Time> {
        let pending = self.membership.probe.pending.as_ref().map(|p| p.deadline);
        let suspicion = self
            .membership.suspects
            .iter()
            .filter_map(|a| self.suspicion_deadline(a))
            .min();
        [Some(self.membership.next_probe), pending, suspicion]
            .into_iter()
            .flatten()
            .min()
    }

    fn suspicion_deadline(&self, addr: &SocketAddr) -> Option<Time> {
        let peer = self.peers.get(addr)?;
        let s = peer.suspicion.as_ref()?;
        let confirmations = s.confirmers.len().saturating_sub(1);
        let timeout = suspicion_timeout(
            self.cluster_size(),
            confirmations,
            self.config.indirect_checks,
            self.config.probe_interval,
            self.config.suspicion_mult,
            self.config.suspicion_max_mult,
        );
        Some(s.since + self.scaled(timeout))
    }

    /// Runs probe, indirect-probe, suspicion and forgetting timers due at `now`.
    pub(in crate::core::node) fn membership_tick(&mut self, now: Time) {
        if self.membership.leaving {
            return;
        }
        if let Some(p) = self.membership.probe.pending.clone() {
            if p.deadline <= now {
                self.probe_deadline(now, p);
            }
        }
        let expired: Vec<SocketAddr> = self
            .membership.suspects
            .iter()
            .filter(|a| self.suspicion_deadline(a).is_some_and(|d| d <= now))
            .copied()
            .collect();
        for addr in expired {
            self.declare_dead(now, addr);
        }
        if self.membership.next_probe <= now {
            // A tick far behind schedule means we were starved: trust our verdicts less.
            if now.since(self.membership.next_probe) > self.config.probe_interval / 2 {
                self.membership.health.worse();
            }
            // While catching up a backlog (joining, back from a partition) we are busy and
            // behind: judge no one until caught up.
            if !self.sync.catching_up() {
                self.probe_tick(now);
            }
            self.membership.next_probe = now + self.scaled(self.config.probe_interval);
        }
    }

    fn probe_tick(&mut self, now: Time) {
        self.membership.probe.ticks += 1;
        self.forget_the_long_gone(now);
        if self.membership.probe.ticks.is_multiple_of(DEAD_PROBE_EVERY) {
            self.ping_one_dead(now);
        }
        if self.membership.probe.pending.is_some() {
            return;
        }
        let Some(target) = self.next_probe_target() else {
            return;
        };
        let seq = self.next_seq();
        self.send(target, Message::Ping(Ping { seq }));
        self.membership.probe.pending = Some(Probe {
            target,
            seq,
            sent: now,
            deadline: now + self.scaled(self.config.probe_timeout),
            indirect: false,
            helpers: Vec::new(),
        });
    }

    /// Round-robin over a shuffled list of live members, reshuffled after each full pass.
    fn next_probe_target(&mut self) -> Option<SocketAddr> {
        for _ in 0..2 {
            while self.membership.probe.cursor < self.membership.probe.order.len() {
                let addr = self.membership.probe.order[self.membership.probe.cursor];
                self.membership.probe.cursor += 1;
                if self.peers.get(&addr).is_some_and(|p| p.is_live()) {
                    return Some(addr);
                }
            }
            let mut order: Vec<SocketAddr> = self.peers.all_except(&[]);
            order.shuffle(&mut self.rng);
            self.membership.probe.order = order;
            self.membership.probe.cursor = 0;
        }
        None
    }

    fn probe_deadline(&mut self, now: Time, probe: Probe) {
        if !probe.indirect {
            let helpers =
                self.peers
                    .sample(&mut self.rng, self.config.indirect_checks, &[probe.target]);
            if let Some(target) = self.peers.get(&probe.target).and_then(Peer::origin) {
                for helper in &helpers {
                    self.send(
                        *helper,
                        Message::PingReq(PingReq {
                            seq: probe.seq,
                            target: target.clone(),
                        }),
                    );
                }
            }
            if !helpers.is_empty() {
                let end = probe.sent + self.scaled(self.config.probe_interval);
                self.membership.probe.pending = Some(Probe {
                    indirect: true,
                    deadline: end.max(now + self.scaled(self.config.probe_timeout)),
                    helpers,
                    ..probe
                });
                return;
            }
        }
        self.membership.probe.pending = None;
        self.counters.probes_failed += 1;
        // Lifeguard: if none of the helpers was heard from during the probe either, the
        // likelier culprit is us (overloaded, or our links are down): trust our verdicts less.
        let heard_helper = probe.helpers.iter().any(|h| {
            self.peers
                .get(h)
                .and_then(|p| p.last_heard)
                .is_some_and(|t| t >= probe.sent)
        });
        if !probe.helpers.is_empty() && !heard_helper {
            self.membership.health.worse();
        }
        self.suspect(now, probe.target);
    }

    /// Our own probe failed: open a suspicion and tell the cluster (and the suspect itself,
    /// which can refute if it is alive behind a lossy path). If the member is already suspect,
    /// our failure is an independent confirmation: count it and announce it, so every node's
    /// suspicion timeout shrinks (Lifeguard).
    fn suspect(&mut self, now: Time, addr: SocketAddr) {
        let own = self.config.id.clone();
        let Some(peer) = self.peers.get(&addr) else {
            return;
        };
        let Some(member) = peer.origin() else {
            return;
        };
        let update = MemberUpdate {
            member,
            incarnation: peer.incarnation,
            state: MemberState::Suspect,
            by: Some(own.clone()),
        };
        match peer.state {
            MemberState::Alive => {
                self.apply_member_update(now, Source::Here { push: true }, update)
            }
            MemberState::Suspect => {
                // Only the first few confirmations shorten the timeout; more would be traffic.
                let wanted = self.config.indirect_checks + 1;
                let (already, known) = peer.suspicion.as_ref().map_or((false, 0), |s| {
                    (s.confirmers.contains(&own), s.confirmers.len())
                });
                if !already && known < wanted && self.confirm_suspicion(&addr, Some(&own)) {
                    self.spread_member_update(None, true, update);
                }
            }
            MemberState::Dead | MemberState::Left => {}
        }
    }

    /// A suspicion ran out: the member is dead. Only the node that raised the suspicion pushes
    /// the news; every other node whose timer also ran out lets it ride the piggyback, or a
    /// crowd of identical announcements would flood the cluster.
    fn declare_dead(&mut self, now: Time, addr: SocketAddr) {
        self.membership.suspects.retain(|a| *a != addr);
        let Some(peer) = self.peers.get(&addr) else {
            return;
        };
        let Some(member) = peer.origin() else {
            return;
        };
        let raised_here = peer
            .suspicion
            .as_ref()
            .and_then(|s| s.confirmers.first())
            .is_some_and(|first| *first == self.config.id);
        let update = MemberUpdate {
            member,
            incarnation: peer.incarnation,
            state: MemberState::Dead,
            by: Some(self.config.id.clone()),
        };
        self.apply_member_update(now, Source::Here { push: raised_here }, update);
    }

    pub(in crate::core::node) fn on_ping(&mut self, from: SocketAddr, ping: Ping) {
        self.send(from, Message::Ack(Ack { seq: ping.seq }));
    }

    pub(in crate::core::node) fn on_ack(&mut self, now: Time, from: SocketAddr, ack: Ack) {
        if let Some(p) = &self.membership.probe.pending {
            if p.seq == ack.seq {
                self.membership.probe.pending = None;
                self.membership.health.better();
                self.peers.heard_from(&from, now);
                return;
            }
        }
        while self.membership.probe.forwards.front().is_some_and(|f| f.expires < now) {
            self.membership.probe.forwards.pop_front();
        }
        if let Some(i) = self.membership.probe.forwards.iter().position(|f| f.seq == ack.seq) {
            if let Some(f) = self.membership.probe.forwards.remove(i) {
                self.send(f.requester, Message::Ack(Ack { seq: f.their_seq }));
            }
        }
    }

    pub(in crate::core::node) fn on_ping_req(&mut self, now: Time, from: SocketAddr, req: PingReq) {
        if req.target.id == self.config.id {
            self.send(from, Message::Ack(Ack { seq: req.seq }));
            return;
        }
        let seq = self.next_seq();
        if self.membership.probe.forwards.len() >= MAX_FORWARDS {
            self.membership.probe.forwards.pop_front();
        }
        self.membership.probe.forwards.push_back(Forward {
            seq,
            requester: from,
            their_seq: req.seq,
            expires: now + self.config.probe_interval * 4,
        });
        self.send(req.target.addr, Message::Ping(Ping { seq }));
    }

    fn ping_one_dead(&mut self, now: Time) {
        let dead: Vec<SocketAddr> = self
            .peers
            .iter()
            .filter(|p| p.state == MemberState::Dead)
            .map(|p| p.addr)
            .collect();
        if let Some(&addr) = dead.choose(&mut self.rng) {
            let seq = self.next_seq();
            self.send(addr, Message::Ping(Ping { seq }));
            self.tell_if_down(now, addr);
        }
    }
}
