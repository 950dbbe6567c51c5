//! Membership facts: applying them by SWIM's precedence, refuting accusations about
//! ourselves, and spreading new facts. The node that observed a change pushes it at once to
//! `fanout` live peers; each of those pushes it once more (a two-hop push reaching about
//! fanout² nodes in a couple of milliseconds); everyone who learns it piggybacks it on later
//! datagrams a bounded number of times, which carries it the rest of the way without extra
//! datagrams. Dead and left members are forgotten after a while, behind a tombstone.

use std::net::SocketAddr;
use std::time::Duration;

use crate::core::event::Event;
use crate::core::membership::supersedes;
use crate::core::peers::{PeerSource, Suspicion};
use crate::core::time::Time;
use crate::wire::{MemberState, MemberUpdate, Members, Message, NodeId, Origin};

mod partition;
mod probe;
mod state;

pub(super) use state::Membership;
pub use state::Partitioned;
use state::{Source, Tombstone};

use super::shared::Shared;

/// Tombstones (ids of forgotten members) remembered at once.
const MAX_TOMBSTONES: usize = 10_000;
/// A member believed down is told so at most this often.
const TELL_EVERY: Duration = Duration::from_secs(1);
/// Stale accusations of us are answered with our incarnation at most this often.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(1);

impl Membership {
    pub(super) fn on_members(
        &mut self,
        cx: &mut Shared,
        now: Time,
        from: SocketAddr,
        sender: Option<&NodeId>,
        members: Members,
    ) {
        for update in members.updates {
            let first_hand = sender.is_some() && update.by.as_ref() == sender;
            let suspected = (update.state == MemberState::Suspect).then_some(update.member.addr);
            self.apply_member_update(cx, now, Source::Peer { from, first_hand }, update);
            if let Some(addr) = suspected {
                self.confirm_if_witnessed(cx, now, from, addr);
            }
        }
    }

    /// A suspicion of `addr` reached us, and our own ping to it for an indirect probe went
    /// unanswered: that is an independent confirmation. It goes straight to the member that
    /// asked us to ping (the accuser) and to whoever told us, so the accuser's timeout shrinks
    /// to the minimum at once instead of when piggybacked confirmations trickle in.
    fn confirm_if_witnessed(
        &mut self,
        cx: &mut Shared,
        now: Time,
        from: SocketAddr,
        addr: SocketAddr,
    ) {
        let Some(requester) = self.failed_to_reach(&addr, now, cx.config.probe_timeout) else {
            return;
        };
        let Some((update, MemberState::Suspect)) = accusation(cx, &addr) else {
            return;
        };
        let own = cx.config.id.clone();
        if self.confirm_suspicion(cx, &addr, Some(&own)) {
            let mut targets = vec![requester];
            if from != requester {
                targets.push(from);
            }
            self.tell_and_queue(cx, targets, update);
        }
    }

    /// Applies one membership fact. New information is logged, queued for piggybacking, and
    /// pushed on when the source says so (see [`Source`]).
    fn apply_member_update(
        &mut self,
        cx: &mut Shared, now: Time, source: Source, update: MemberUpdate) {
        let (from, push) = match source {
            Source::Here { push } => (None, push),
            Source::Peer { from, first_hand } => (Some(from), first_hand),
        };
        let first_hand = matches!(source, Source::Peer { first_hand: true, .. });
        if update.member.id == cx.config.id {
            self.hear_about_myself(cx, now, &update, from);
            return;
        }
        let mut revived = false;
        if let Some(t) = self.tombstones.get(&update.member.id) {
            if !(update.state == MemberState::Alive && update.incarnation > t.incarnation) {
                return;
            }
            self.tombstones.remove(&update.member.id);
            revived = true;
        }
        let addr = update.member.addr;
        let known = cx
            .peers
            .get(&addr)
            .map(|p| (p.state, p.incarnation, p.id.clone()));
        // A member we never knew (not one we forgot and now hear refute).
        let first_heard = known.is_none() && !revived;
        let news = match known {
            None => {
                if matches!(update.state, MemberState::Dead | MemberState::Left) {
                    // Never known here: not one we lost, just one not to bring back.
                    self.bury(&update, addr, false, now);
                    return;
                }
                if !cx.config.learn_peers
                    || !cx.peers.add(
                        addr,
                        Some(update.member.id.clone()),
                        PeerSource::Learned,
                        now,
                    )
                {
                    return;
                }
                true
            }
            Some((state, inc, id)) => {
                let same_member = id.as_ref().is_none_or(|i| *i == update.member.id);
                if !same_member {
                    // A different node now answers at this address: start afresh.
                    true
                } else if supersedes(update.state, update.incarnation, state, inc) {
                    true
                } else {
                    if update.state == MemberState::Suspect
                        && state == MemberState::Suspect
                        && update.incarnation == inc
                    {
                        if let Some(from) = from {
                            self.helper_confirmed(from, addr);
                        }
                        if self.confirm_suspicion(cx, &addr, update.by.as_ref()) {
                            // A new independent confirmation: pass it on by piggyback so others'
                            // suspicion timeouts shrink too.
                            self.broadcasts.push(update.clone());
                        }
                    } else if supersedes(state, inc, update.state, update.incarnation) {
                        // The sender is behind (it may be about to declare a refuted member
                        // dead): answer with what we know.
                        if let Some(from) = from {
                            self.correct(cx, from, addr);
                        }
                    }
                    false
                }
            }
        };
        if !news {
            return;
        }
        let Some(peer) = cx.peers.get_mut(&addr) else {
            return;
        };
        // The node that raised a suspicion announces the death to every live peer, once,
        // whether its own timer ran out or it heard the verdict first: everyone needs it, and
        // this keeps it to one broadcast per death (piggybacking covers what is lost).
        let own = &cx.config.id;
        let announce_to_all = update.state == MemberState::Dead
            && peer
                .suspicion
                .as_ref()
                .and_then(|s| s.confirmers.first())
                .is_some_and(|first| first == own);
        let previous = peer.state;
        let refuted_accuser = peer
            .suspicion
            .as_ref()
            .and_then(|s| s.confirmers.first().cloned());
        peer.id = Some(update.member.id.clone());
        peer.incarnation = update.incarnation;
        peer.state = update.state;
        peer.state_since = now;
        peer.suspicion = match update.state {
            MemberState::Suspect => Some(Suspicion {
                since: now,
                confirmers: update.by.iter().cloned().collect(),
            }),
            _ => None,
        };
        if update.state == MemberState::Suspect {
            if !self.suspects.contains(&addr) {
                self.suspects.push(addr);
            }
        } else {
            self.suspects.retain(|a| *a != addr);
        }
        if let (MemberState::Alive, Some(accuser)) = (update.state, refuted_accuser) {
            self.pass_refutation_on(cx, now, from, first_hand, addr, &accuser, &update);
        }
        if previous != update.state {
            self.state_changes += 1;
            cx.emit(Event::MemberChanged {
                id: update.member.id.clone(),
                addr,
                state: update.state,
                incarnation: update.incarnation,
                by: update.by.clone(),
            });
        }
        if announce_to_all {
            let everyone = cx.peers.all_except(&[addr]);
            self.tell_and_queue(cx, everyone, update);
            return;
        }
        if first_heard && update.state == MemberState::Alive {
            // A member new to us, alive: anti-entropy spreads who is in the cluster. Passing
            // every such fact on by piggyback made a 1000-node join fill every datagram with
            // them for minutes.
            return;
        }
        self.spread_member_update(cx, from, push, update);
    }

    /// A suspicion we held was refuted. The accuser is the one node on a short timer, so it
    /// must hear the refutation in time or it declares a live member dead to everyone. The
    /// suspect sends it there directly; besides, each node that got the refutation first-hand
    /// (from the suspect's own push) and each helper that confirmed the suspicion to the
    /// accuser passes it on: a lost datagram or two cannot keep it from the accuser.
    #[allow(clippy::too_many_arguments)]
    fn pass_refutation_on(
        &mut self,
        cx: &mut Shared,
        now: Time,
        from: Option<SocketAddr>,
        first_hand: bool,
        addr: SocketAddr,
        accuser: &NodeId,
        update: &MemberUpdate,
    ) {
        if *accuser == cx.config.id {
            return;
        }
        let mut to: Vec<SocketAddr> = Vec::new();
        if let Some(requester) = self.failed_to_reach(&addr, now, cx.config.probe_timeout) {
            to.push(requester);
        }
        if first_hand {
            to.extend(cx.peers.addr_of(accuser));
        }
        to.dedup();
        for a in to.into_iter().filter(|a| Some(*a) != from && *a != addr) {
            self.tell(cx, a, update.clone());
        }
    }

    fn correct(
        &mut self,
        cx: &mut Shared, to: SocketAddr, addr: SocketAddr) {
        let Some(update) = cx.peers.get(&addr).and_then(believed) else {
            return;
        };
        cx.counters.member_corrections += 1;
        self.tell(cx, to, update);
    }

    /// Records `by` as confirming the suspicion of `addr`; true if it was a new confirmer
    /// among the first few that still shorten the timeout.
    fn confirm_suspicion(
        &mut self,
        cx: &mut Shared, addr: &SocketAddr, by: Option<&NodeId>) -> bool {
        let Some(by) = by else { return false };
        let wanted = cx.config.indirect_checks + 1;
        if let Some(s) = cx.peers.get_mut(addr).and_then(|p| p.suspicion.as_mut()) {
            if !s.confirmers.contains(by) && s.confirmers.len() < wanted {
                s.confirmers.push(by.clone());
                return true;
            }
        }
        false
    }

    /// Queues a new fact for piggybacking and, if `push`, sends it at once to `fanout` live
    /// peers. An accusation always goes straight to its subject, so a live member can refute.
    fn spread_member_update(
        &mut self,
        cx: &mut Shared,
        from: Option<SocketAddr>,
        push: bool,
        update: MemberUpdate,
    ) {
        let subject = update.member.addr;
        let mut targets = if push {
            let mut exclude = vec![subject];
            exclude.extend(from);
            cx.fanout_targets(&exclude)
        } else {
            Vec::new()
        };
        if update.state == MemberState::Suspect && Some(subject) != from {
            targets.push(subject);
        }
        self.tell_and_queue(cx, targets, update);
    }

    /// Sends `update` to each of `targets` now and queues it for piggybacking on later traffic.
    fn tell_and_queue(
        &mut self,
        cx: &mut Shared, targets: Vec<SocketAddr>, update: MemberUpdate) {
        for to in targets {
            self.tell(cx, to, update.clone());
        }
        self.broadcasts.push(update);
    }

    /// Sends one membership fact on its own, without waiting for traffic to piggyback on.
    fn tell(
        &mut self,
        cx: &mut Shared, to: SocketAddr, update: MemberUpdate) {
        cx.send(
            to,
            Message::Members(Members {
                updates: vec![update],
            }),
        );
    }

    /// Someone holds a fact about us. Accusations at our incarnation or above are refuted by
    /// raising our incarnation past them; each one is also a sign our links are poor.
    /// A sender we do not count as a live member (we forgot it, or believe it down) is also
    /// answered directly: our gossip would not reach it.
    fn hear_about_myself(
        &mut self,
        cx: &mut Shared,
        now: Time,
        update: &MemberUpdate,
        from: Option<SocketAddr>,
    ) {
        if self.leaving
            || update.state == MemberState::Alive && update.incarnation <= self.incarnation
        {
            return;
        }
        let unreached = from.filter(|f| cx.peers.get(f).is_none_or(|p| !p.is_live()));
        if update.incarnation < self.incarnation {
            // An accusation older than our incarnation (we restarted with a saved, higher
            // one, or refuted already): the accuser has not heard. Announce again, at most
            // once a second.
            if self
                .announced_at
                .is_none_or(|t| now.since(t) >= ANNOUNCE_EVERY)
            {
                self.announce_alive(cx, now);
            }
        } else {
            if update.state != MemberState::Alive {
                self.health.worse();
                cx.counters.refutations += 1;
            }
            self.incarnation = update.incarnation + 1;
            cx.emit(Event::Refuted {
                accused: update.state,
                incarnation: self.incarnation,
            });
            self.announce_alive(cx, now);
            // The accuser's timer is the short one: the refutation goes to it directly, and
            // to whoever told us, besides the push to the cluster.
            let accuser = update.by.as_ref().and_then(|by| cx.peers.addr_of(by));
            let me = self.alive(cx);
            let mut direct: Vec<SocketAddr> = accuser.into_iter().chain(from).collect();
            direct.dedup();
            for to in direct.into_iter().filter(|to| Some(*to) != unreached) {
                self.tell(cx, to, me.clone());
            }
        }
        if let Some(accuser) = unreached {
            let me = self.alive(cx);
            self.tell(cx, accuser, me);
        }
    }

    /// "We are alive at our incarnation", as a fact to send.
    fn alive(&self, cx: &Shared) -> MemberUpdate {
        MemberUpdate {
            member: cx.config.origin(),
            incarnation: self.incarnation,
            state: MemberState::Alive,
            by: Some(cx.config.id.clone()),
        }
    }

    /// Pushes "alive at our incarnation" (a refutation) to the cluster.
    fn announce_alive(
        &mut self,
        cx: &mut Shared, now: Time) {
        self.announced_at = Some(now);
        let me = self.alive(cx);
        self.spread_member_update(cx, None, true, me);
    }

    /// Tells a member we believe down what we believe, so that if it is alive (back from a
    /// partition, or restarted) it can refute. Rate-limited per member.
    pub(super) fn tell_if_down(
        &mut self,
        cx: &mut Shared, now: Time, addr: SocketAddr) {
        let Some(peer) = cx.peers.get_mut(&addr) else {
            return;
        };
        if peer.is_live() || peer.told_at.is_some_and(|t| now.since(t) < TELL_EVERY) {
            return;
        }
        peer.told_at = Some(now);
        let Some(update) = believed(peer) else {
            return;
        };
        self.tell(cx, addr, update);
    }

    /// Dead and left members are dropped after `forget_after`; a tombstone keeps stale gossip
    /// from bringing them back. Static and bootstrap peers stay (they may return).
    fn forget_the_long_gone(
        &mut self,
        cx: &mut Shared, now: Time) {
        let forget: Vec<(SocketAddr, Option<MemberUpdate>)> = cx
            .peers
            .iter()
            .filter(|p| !p.is_live() && p.source == PeerSource::Learned)
            .filter(|p| now.since(p.state_since) >= cx.config.forget_after)
            .map(|p| (p.addr, believed(p)))
            .collect();
        for (addr, fact) in forget {
            cx.peers.remove(&addr);
            if let Some(fact) = fact {
                let lost = fact.state == MemberState::Dead;
                self.bury(&fact, addr, lost, now);
            }
        }
        let keep = (cx.config.forget_after * 10).max(cx.config.rejoin_window);
        self.tombstones.retain(|_, t| now.since(t.at) < keep);
    }

    /// Remembers `fact`'s member (dead or left) as forgotten; `lost` for one we knew.
    fn bury(&mut self, fact: &MemberUpdate, addr: SocketAddr, lost: bool, now: Time) {
        if let Some(t) = self.tombstones.get_mut(&fact.member.id) {
            t.incarnation = t.incarnation.max(fact.incarnation);
            return;
        }
        if self.tombstones.len() >= MAX_TOMBSTONES {
            return;
        }
        self.tombstones.insert(
            fact.member.id.clone(),
            Tombstone {
                incarnation: fact.incarnation,
                state: fact.state,
                addr,
                lost,
                at: now,
                told_at: None,
            },
        );
    }

    /// A member we forgot is talking to us (back from a partition, or restarted without its
    /// state): tell it what we believe, so it refutes and we take it back. Rate-limited.
    pub(super) fn tell_if_buried(&mut self, cx: &mut Shared, now: Time, sender: &Origin) {
        let Some(t) = self.tombstones.get_mut(&sender.id) else {
            return;
        };
        if t.told_at.is_some_and(|at| now.since(at) < TELL_EVERY) {
            return;
        }
        t.told_at = Some(now);
        let fact = MemberUpdate {
            member: sender.clone(),
            incarnation: t.incarnation,
            state: t.state,
            by: None,
        };
        self.tell(cx, sender.addr, fact);
    }

    /// A member we did not know wrote to us. If another member we know comes just before it
    /// on the probe ring, that one is told of it directly: it is the one to probe it, and
    /// without the introduction a member killed right after joining through us would be
    /// probed by no one until anti-entropy had spread its name. One datagram per member met,
    /// and none when we are its predecessor ourselves.
    pub(in crate::core::node) fn met(&mut self, cx: &mut Shared, member: crate::wire::Origin) {
        let Some(predecessor) = Self::ring_predecessor(cx, &member.addr) else {
            return;
        };
        self.tell(
            cx,
            predecessor,
            MemberUpdate {
                by: Some(member.id.clone()),
                member,
                incarnation: 0,
                state: MemberState::Alive,
            },
        );
    }

    /// Whether gossip about `id` must not re-add it (it was declared dead or left and
    /// forgotten, and has not refuted since).
    pub(super) fn is_buried(&self, id: &NodeId) -> bool {
        self.tombstones.contains_key(id)
    }

    /// Up to `room` bytes of membership facts for the datagrams about to go to `to`, leaving
    /// out facts those datagrams already carry (a pushed fact must not also spend a piggyback
    /// transmission).
    pub(super) fn piggyback_for(
        &mut self,
        cx: &mut Shared,
        to: SocketAddr,
        outgoing: &[Message],
        room: usize,
    ) -> Option<Message> {
        if self.broadcasts.is_empty() || room == 0 {
            return None;
        }
        let carried: Vec<&MemberUpdate> = outgoing
            .iter()
            .filter_map(|m| match m {
                Message::Members(m) => Some(m.updates.iter()),
                _ => None,
            })
            .flatten()
            .collect();
        let about = cx.peers.get(&to).and_then(|p| p.id.clone());
        let n = cx.cluster_size() as f64;
        let limit = cx.config.retransmit_mult * ((n + 1.0).log10().ceil().max(1.0) as u32);
        let updates = self.broadcasts.take(room, limit, |u| {
            about.as_ref() == Some(&u.member.id) || carried.contains(&u)
        });
        (!updates.is_empty()).then_some(Message::Members(Members { updates }))
    }

    /// Graceful leave: tell every live peer we are leaving, so they drop us at once instead of
    /// suspecting us. The driver flushes the result and stops.
    pub(super) fn leave(&mut self, cx: &mut Shared) {
        if self.leaving {
            return;
        }
        self.leaving = true;
        self.incarnation += 1;
        let me = MemberUpdate {
            member: cx.config.origin(),
            incarnation: self.incarnation,
            state: MemberState::Left,
            by: Some(cx.config.id.clone()),
        };
        for to in cx.peers.all_except(&[]) {
            self.tell(cx, to, me.clone());
        }
        self.probe.pending = None;
    }
}

/// Our accusation of the member at `addr` ("suspect, by us", at the incarnation we know), and
/// the state we hold it in.
pub(super) fn accusation(cx: &Shared, addr: &SocketAddr) -> Option<(MemberUpdate, MemberState)> {
    let peer = cx.peers.get(addr)?;
    let update = MemberUpdate {
        member: peer.origin()?,
        incarnation: peer.incarnation,
        state: MemberState::Suspect,
        by: Some(cx.config.id.clone()),
    };
    Some((update, peer.state))
}

/// What we believe of `peer`, as a fact we can send (once we know its id).
fn believed(peer: &crate::core::peers::Peer) -> Option<MemberUpdate> {
    Some(MemberUpdate {
        member: peer.origin()?,
        incarnation: peer.incarnation,
        state: peer.state,
        by: None,
    })
}
