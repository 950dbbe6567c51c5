//! SWIM failure detection with Lifeguard's refinements, wired to the node:
//! - every probe interval one live member, the next on the probe ring, gets a `Ping`;
//! - no `Ack` within the probe timeout → `PingReq` through k random members;
//! - still nothing two probe timeouts later → the member is *suspect*, and the helpers whose
//!   own ping failed confirm it to us;
//! - a suspicion we raised, not refuted within its (confirmation-shortened) timeout → *dead*,
//!   told to everyone; a suspicion raised elsewhere waits the unconfirmed timeout.
//!
//! Membership facts (applying, refuting, spreading) live in `mod.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use rand::seq::IndexedRandom;

use crate::core::hash::ring_position;
use crate::core::membership::suspicion_timeout;
use super::accusation;
use crate::core::time::Time;
use crate::core::peers::Peer;
use crate::wire::{Ack, MemberState, MemberUpdate, Message, Ping, PingReq};

use super::state::{Forward, Membership, Probe, Source};
use crate::core::config::NodeConfig;
use crate::core::node::shared::Shared;
use crate::core::peers::PeerSet;

/// Indirect-probe forwards remembered at once.
const MAX_FORWARDS: usize = 256;
/// Every this many probe ticks, one dead member is pinged in case it came back.
const DEAD_PROBE_EVERY: u64 = 5;

impl Membership {
    /// Our SWIM incarnation.
    pub(in crate::core::node) fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Lifeguard's local health score (0 = healthy).
    pub(in crate::core::node) fn health(&self) -> u8 {
        self.health.score()
    }

    fn scaled(&self, d: Duration) -> Duration {
        self.health.scale(d)
    }

    fn next_seq(&mut self) -> u64 {
        self.probe.seq += 1;
        self.probe.seq
    }

    /// When the membership machinery next needs `handle_timeout`.
    pub(in crate::core::node) fn deadline(
        &self,
        config: &NodeConfig,
        peers: &PeerSet,
        cluster_size: usize,
    ) -> Option<Time> {
        let pending = self.probe.pending.as_ref().map(|p| p.deadline);
        let suspicion = self
            .suspects
            .iter()
            .filter_map(|a| self.suspicion_deadline(config, peers, cluster_size, a))
            .min();
        [Some(self.next_probe), pending, suspicion]
            .into_iter()
            .flatten()
            .min()
    }

    fn suspicion_deadline(
        &self,
        config: &NodeConfig,
        peers: &PeerSet,
        cluster_size: usize,
        addr: &SocketAddr,
    ) -> Option<Time> {
        let peer = peers.get(addr)?;
        let s = peer.suspicion.as_ref()?;
        // Only the accuser, which hears its helpers' confirmations first-hand and announces
        // the death to everyone, runs on the shortened timeout. Everyone else waits the full
        // unconfirmed timeout as a backstop: a refutation reaches some nodes later than the
        // suspicion did, and a node that ran out first would declare a live member dead.
        let accuser = s.confirmers.first() == Some(&config.id);
        let confirmations = if accuser {
            s.confirmers.len().saturating_sub(1)
        } else {
            0
        };
        let timeout = suspicion_timeout(
            cluster_size,
            confirmations,
            config.indirect_checks,
            config.probe_timeout,
            config.suspicion_mult,
            config.suspicion_max_mult,
        );
        Some(s.since + self.scaled(timeout))
    }

    /// Runs probe, indirect-probe, suspicion and forgetting timers due at `now`.
    /// `catching_up`: anti-entropy is still catching up a backlog, and no one is probed.
    pub(in crate::core::node) fn tick(&mut self, cx: &mut Shared, now: Time, catching_up: bool) {
        if self.leaving {
            return;
        }
        if let Some(p) = self.probe.pending.clone() {
            if p.deadline <= now {
                self.probe_deadline(cx, now, p);
            }
        }
        let size = cx.cluster_size();
        let expired: Vec<SocketAddr> = self
            .suspects
            .iter()
            .filter(|a| {
                self.suspicion_deadline(cx.config, cx.peers, size, a)
                    .is_some_and(|d| d <= now)
            })
            .copied()
            .collect();
        for addr in expired {
            self.declare_dead(cx, now, addr);
        }
        if self.next_probe <= now {
            // A tick far behind schedule means we were starved: trust our verdicts less.
            if now.since(self.next_probe) > cx.config.probe_interval / 2 {
                self.health.worse();
            }
            // While catching up a backlog (joining, back from a partition) we are busy and
            // behind: judge no one until caught up.
            if !catching_up {
                self.probe_tick(cx, now);
            }
            self.next_probe = now + self.scaled(cx.config.probe_interval);
        }
    }

    fn probe_tick(
        &mut self,
        cx: &mut Shared, now: Time) {
        self.probe.ticks += 1;
        self.forget_the_long_gone(cx, now);
        self.watch_partition(cx, now);
        if self.probe.ticks.is_multiple_of(DEAD_PROBE_EVERY) {
            self.ping_one_dead(cx, now);
        }
        if self.probe.pending.is_some() {
            return;
        }
        let Some(target) = self.next_probe_target(cx) else {
            return;
        };
        let seq = self.next_seq();
        cx.send(target, Message::Ping(Ping { seq }));
        self.probe.pending = Some(Probe {
            target,
            seq,
            sent: now,
            deadline: now + self.scaled(cx.config.probe_timeout),
            indirect: false,
            helpers: Vec::new(),
        });
    }

    /// The smoothed round trip of our pings, once one was answered: the scale of this
    /// network's delays, for timers that must outlast a round trip or two but no more.
    pub(in crate::core::node) fn round_trip(&self) -> Option<Duration> {
        self.probe.srtt
    }

    fn note_round_trip(&mut self, sample: Duration) {
        self.probe.srtt = Some(match self.probe.srtt {
            None => sample,
            Some(s) => (s * 7 + sample) / 8,
        });
    }

    /// The next live member after us on the probe ring. Every node orders the members by
    /// the same hash of their address, so while views agree each member is probed by exactly
    /// one other every interval: a failure is noticed within one interval, at one probe per
    /// node (random targets leave a member unprobed for several intervals now and then).
    fn next_probe_target(&self, cx: &Shared) -> Option<SocketAddr> {
        let own = ring_position(&cx.config.addr);
        cx.peers
            .iter()
            .filter(|p| p.is_live())
            .min_by_key(|p| ring_position(&p.addr).wrapping_sub(own).wrapping_sub(1))
            .map(|p| p.addr)
    }

    /// The live member just before `addr` on the probe ring (the one that probes it), or
    /// `None` when that is us.
    pub(super) fn ring_predecessor(cx: &Shared, addr: &SocketAddr) -> Option<SocketAddr> {
        let at = ring_position(addr);
        let before = |a: &SocketAddr| at.wrapping_sub(ring_position(a)).wrapping_sub(1);
        let best = cx
            .peers
            .iter()
            .filter(|p| p.is_live() && p.addr != *addr)
            .min_by_key(|p| before(&p.addr))?;
        (before(&best.addr) < before(&cx.config.addr)).then_some(best.addr)
    }

    fn probe_deadline(
        &mut self,
        cx: &mut Shared, now: Time, probe: Probe) {
        if !probe.indirect {
            let helpers =
                cx.peers
                    .sample(&mut *cx.rng, cx.config.indirect_checks, &[probe.target]);
            if let Some(target) = cx.peers.get(&probe.target).and_then(Peer::origin) {
                for helper in &helpers {
                    cx.send(
                        *helper,
                        Message::PingReq(PingReq {
                            seq: probe.seq,
                            target: target.clone(),
                        }),
                    );
                }
            }
            if !helpers.is_empty() {
                // Request, ping, ack and relayed ack: two round trips.
                self.probe.pending = Some(Probe {
                    indirect: true,
                    deadline: now + self.scaled(cx.config.probe_timeout * 2),
                    helpers,
                    ..probe
                });
                return;
            }
        }
        self.probe.pending = None;
        cx.counters.probes_failed += 1;
        // Lifeguard: if none of the helpers was heard from during the probe either, the
        // likelier culprit is us (overloaded, or our links are down): trust our verdicts less.
        let heard_helper = probe.helpers.iter().any(|h| {
            cx.peers
                .get(h)
                .and_then(|p| p.last_heard)
                .is_some_and(|t| t >= probe.sent)
        });
        if !probe.helpers.is_empty() && !heard_helper {
            self.health.worse();
            // Until a helper confirms: its word shows our links work (Lifeguard's nack).
            self.probe.doubted = Some((probe.target, probe.helpers.clone()));
        }
        self.suspect(cx, now, probe.target, &probe.helpers);
    }

    /// Our own probe failed: open a suspicion and tell the cluster (and the suspect itself,
    /// which can refute if it is alive behind a lossy path). If the member is already suspect,
    /// our failure is an independent confirmation: count it and announce it, so every node's
    /// suspicion timeout shrinks (Lifeguard). The helpers of our indirect probe hear of a new
    /// suspicion straight away: those that could not reach the member either confirm it.
    fn suspect(&mut self, cx: &mut Shared, now: Time, addr: SocketAddr, helpers: &[SocketAddr]) {
        let own = cx.config.id.clone();
        let Some((update, state)) = accusation(cx, &addr) else {
            return;
        };
        match state {
            MemberState::Alive => {
                self.apply_member_update(cx, now, Source::Here { push: true }, update.clone());
                for helper in helpers {
                    self.tell(cx, *helper, update.clone());
                }
            }
            MemberState::Suspect => {
                // Only the first few confirmations shorten the timeout (confirm_suspicion
                // counts them); more would be traffic.
                if self.confirm_suspicion(cx, &addr, Some(&own)) {
                    self.spread_member_update(cx, None, true, update);
                }
            }
            MemberState::Dead | MemberState::Left => {}
        }
    }

    /// A suspicion ran out: the member is dead. Only the node that raised the suspicion pushes
    /// the news; every other node whose timer also ran out lets it ride the piggyback, or a
    /// crowd of identical announcements would flood the cluster.
    fn declare_dead(
        &mut self,
        cx: &mut Shared, now: Time, addr: SocketAddr) {
        self.suspects.retain(|a| *a != addr);
        let Some(peer) = cx.peers.get(&addr) else {
            return;
        };
        let Some(member) = peer.origin() else {
            return;
        };
        let raised_here = peer
            .suspicion
            .as_ref()
            .and_then(|s| s.confirmers.first())
            .is_some_and(|first| *first == cx.config.id);
        let update = MemberUpdate {
            member,
            incarnation: peer.incarnation,
            state: MemberState::Dead,
            by: Some(cx.config.id.clone()),
        };
        self.apply_member_update(cx, now, Source::Here { push: raised_here }, update);
    }

    pub(in crate::core::node) fn on_ping(
        &mut self,
        cx: &mut Shared, from: SocketAddr, ping: Ping) {
        cx.send(from, Message::Ack(Ack { seq: ping.seq }));
    }

    pub(in crate::core::node) fn on_ack(
        &mut self,
        cx: &mut Shared, now: Time, from: SocketAddr, ack: Ack) {
        if let Some(p) = &self.probe.pending {
            if p.seq == ack.seq {
                if !p.indirect {
                    self.note_round_trip(now.since(p.sent));
                }
                self.probe.pending = None;
                self.health.better();
                cx.peers.heard_from(&from, now);
                return;
            }
        }
        while self.probe.forwards.front().is_some_and(|f| f.expires < now) {
            self.probe.forwards.pop_front();
        }
        if let Some(i) = self.probe.forwards.iter().position(|f| f.seq == ack.seq) {
            if let Some(f) = self.probe.forwards.remove(i) {
                self.note_round_trip(now.since(f.sent));
                cx.send(f.requester, Message::Ack(Ack { seq: f.their_seq }));
            }
        }
    }

    pub(in crate::core::node) fn on_ping_req(
        &mut self,
        cx: &mut Shared, now: Time, from: SocketAddr, req: PingReq) {
        if req.target.id == cx.config.id {
            cx.send(from, Message::Ack(Ack { seq: req.seq }));
            return;
        }
        let seq = self.next_seq();
        if self.probe.forwards.len() >= MAX_FORWARDS {
            self.probe.forwards.pop_front();
        }
        self.probe.forwards.push_back(Forward {
            target: req.target.addr,
            sent: now,
            seq,
            requester: from,
            their_seq: req.seq,
            expires: now + cx.config.probe_interval * 4,
        });
        cx.send(req.target.addr, Message::Ping(Ping { seq }));
    }

    /// Whether we pinged `addr` for someone's indirect probe at least a probe timeout ago and
    /// have not heard back (our own evidence that it is down); if so, who asked us.
    pub(super) fn failed_to_reach(
        &self,
        addr: &SocketAddr,
        now: Time,
        timeout: Duration,
    ) -> Option<SocketAddr> {
        self.probe
            .forwards
            .iter()
            .find(|f| f.target == *addr && f.expires > now && now.since(f.sent) >= timeout)
            .map(|f| f.requester)
    }

    /// A helper of our last failed probe confirmed the suspicion of `target`: it was reachable
    /// all along, so the failure was not ours to blame, and the health penalty is taken back.
    pub(super) fn helper_confirmed(&mut self, helper: SocketAddr, target: SocketAddr) {
        if self
            .probe
            .doubted
            .as_ref()
            .is_some_and(|(t, helpers)| *t == target && helpers.contains(&helper))
        {
            self.probe.doubted = None;
            self.health.better();
        }
    }

    /// Pings one member we lost, in case it is back: a dead one still listed, or one forgotten
    /// within the rejoin window (so a partition longer than the forget time heals too). Its
    /// answer, or its silence, is all it takes: a member that hears it is believed gone
    /// refutes, and whoever forgot the other tells it so.
    fn ping_one_dead(
        &mut self,
        cx: &mut Shared, now: Time) {
        let dead: Vec<SocketAddr> = cx
            .peers
            .iter()
            .filter(|p| p.state == MemberState::Dead)
            .map(|p| p.addr)
            .chain(self.tombstones.values().filter(|t| t.lost).map(|t| t.addr))
            .collect();
        if let Some(&addr) = dead.choose(&mut *cx.rng) {
            let seq = self.next_seq();
            cx.send(addr, Message::Ping(Ping { seq }));
            self.tell_if_down(cx, now, addr);
        }
    }
}
