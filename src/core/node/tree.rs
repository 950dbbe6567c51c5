//! An epidemic broadcast tree (Plumtree, Leitão et al. 2007): rumors go along *eager* links
//! instead of to random peers, and the other links get lazy announcements.
//!
//! Each node keeps a small view of `fanout` random live members (HyParView's active view,
//! drawn here from SWIM's full membership), made symmetric with a `Graft` as each link is
//! drawn. Every link starts eager, so the first broadcasts flood a sparse connected random
//! graph; a duplicate moves the link it came over to *lazy* at both ends (`Prune`), which
//! leaves a spanning tree of eager links: about one datagram per node per update, from any
//! origin. Pruned links stay in the view, so the view is not refilled after pruning.
//!
//! Lazy push: a node that delivers a rumor announces its id (`IHave`) to its lazy links,
//! skipping those that announced it first. A node told of a rumor that does not reach it by
//! the tree within a few round trips ([`graft_timers`]) grafts the link to the announcer and asks for the rumor;
//! the announcer sends it and pushes along that link from then on. So a lost datagram or a
//! dead relay costs milliseconds, not an anti-entropy round, and the tree repairs itself
//! where it broke. Anti-entropy still runs and repairs what every announcement missed. A link
//! to a member that died is replaced by a random live one.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use uuid::Uuid;

use crate::core::time::Time;
use crate::wire::{Announced, Graft, IHave, Message, Prune, Rumor, MAX_ANNOUNCED};

use super::shared::Shared;

/// Bound on the view (eager and lazy links together); grafts beyond it are answered with a
/// prune, so the link is lazy at both ends.
const MAX_VIEW: usize = 16;
/// How often the view is checked for dead links and refilled.
const CHECK_EVERY: Duration = Duration::from_millis(100);
/// How long an announced rumor may take to arrive by the tree before the node grafts, until
/// a ping has measured the network: above the spread of a tree's path latencies, far below
/// an anti-entropy interval.
pub(super) const GRAFT_AFTER: Duration = Duration::from_millis(80);
/// How long a graft's answer may take before the next announcer is asked, likewise.
const GRAFT_AGAIN: Duration = Duration::from_millis(40);
/// Once round trips are measured: the graft waits [`AFTER_RTTS`] smoothed round trips (the
/// announcement and the push travel paths of different depths), the next one [`AGAIN_RTTS`]
/// (a graft and its answer), within these bounds. On loopback or a LAN that is milliseconds,
/// so a lost push costs milliseconds; across a WAN the timers stretch instead of grafting
/// links whose push was merely slower.
const AFTER_RTTS: u32 = 4;
const AGAIN_RTTS: u32 = 2;
const GRAFT_AFTER_BOUNDS: (Duration, Duration) =
    (Duration::from_millis(8), Duration::from_secs(1));
const GRAFT_AGAIN_BOUNDS: (Duration, Duration) =
    (Duration::from_millis(5), Duration::from_millis(500));

/// When to graft for a rumor announced now, and when to ask the next announcer, given the
/// smoothed round trip (`None` until a ping was answered).
pub(super) fn graft_timers(rtt: Option<Duration>) -> (Duration, Duration) {
    match rtt {
        None => (GRAFT_AFTER, GRAFT_AGAIN),
        Some(rtt) => (
            (rtt * AFTER_RTTS).clamp(GRAFT_AFTER_BOUNDS.0, GRAFT_AFTER_BOUNDS.1),
            (rtt * AGAIN_RTTS).clamp(GRAFT_AGAIN_BOUNDS.0, GRAFT_AGAIN_BOUNDS.1),
        ),
    }
}
/// Announced rumors awaited at once; announcers remembered per rumor.
const MAX_MISSING: usize = 1024;
const MAX_ANNOUNCERS: usize = 4;
/// Grafts sent for one rumor before it is left to anti-entropy.
const MAX_GRAFTS: usize = 6;
/// Recent rumors ride, as announcements, in the room other datagrams leave (probes, acks,
/// exchanges) for this long, a few at a time: a second chance, costing no datagram, for a
/// node whose push and lazy announcements were all lost.
const PIGGYBACK_FOR: Duration = Duration::from_millis(500);
const PIGGYBACK_MAX: usize = 8;
/// Room one piggybacked announcement takes at most (id, origin id, version, framing).
const ANNOUNCED_ROOM: usize = 96;
/// Rumors kept to answer grafts, and for how long.
const CACHE: usize = 1024;
const CACHE_FOR: Duration = Duration::from_secs(30);

/// A rumor announced to us and not received yet.
#[derive(Debug)]
struct Missing {
    announced: Announced,
    /// Who announced it, in order (the first is asked first).
    announcers: Vec<SocketAddr>,
    /// When to graft the next announcer.
    at: Time,
    /// Grafts sent for it so far.
    grafts: usize,
}

/// A node's place in the broadcast tree.
#[derive(Debug, Default)]
pub(super) struct BroadcastTree {
    /// Links rumors are pushed along.
    eager: Vec<SocketAddr>,
    /// Pruned links: still in the view, told of rumors lazily.
    lazy: Vec<SocketAddr>,
    /// When the view is next checked.
    check_at: Option<Time>,
    /// Announced rumors not received yet, by id (ordered, so runs are deterministic).
    missing: BTreeMap<Uuid, Missing>,
    /// Recent rumors as this node pushed them on, to answer grafts.
    cache: VecDeque<(Time, Rumor)>,
    /// Recent rumors to announce in other datagrams' spare room.
    recent: VecDeque<(Time, Announced)>,
}

impl BroadcastTree {
    /// Drops links to members no longer live and draws random live members (grafting each)
    /// until the view holds `fanout` links. Runs on the node's other timers (probes tick
    /// five times a second), at most every [`CHECK_EVERY`], and before every push.
    pub(super) fn maintain(&mut self, cx: &mut Shared, now: Time) {
        if self.check_at.is_some_and(|at| now < at) {
            return;
        }
        self.check_at = Some(now + CHECK_EVERY);
        self.cache
            .retain(|(at, _)| now.since(*at) < CACHE_FOR);
        self.eager.retain(|a| member(cx, a));
        self.lazy.retain(|a| member(cx, a));
        let want = cx.config.rumor_fanout(cx.cluster_size()).min(MAX_VIEW);
        let have = self.eager.len() + self.lazy.len();
        if have >= want {
            return;
        }
        let mut skip = self.eager.clone();
        skip.extend_from_slice(&self.lazy);
        for to in cx.peers.sample(cx.rng, want - have, &skip) {
            self.eager.push(to);
            cx.counters.tree_grafts += 1;
            cx.send(to, Message::Graft(Graft { want: None }));
        }
    }

    /// Where to push a rumor: the eager links except `exclude`.
    pub(super) fn targets(&mut self, cx: &mut Shared, now: Time, exclude: &[SocketAddr]) -> Vec<SocketAddr> {
        self.check_at = None;
        self.maintain(cx, now);
        self.eager
            .iter()
            .filter(|a| !exclude.contains(a))
            .copied()
            .collect()
    }

    /// `rumor` was pushed on (or made) here: keep it for grafts; the announcement to send the
    /// lazy links except `exclude` and those that announced it to us, and to whom.
    pub(super) fn delivered(
        &mut self,
        now: Time,
        rumor: &Rumor,
        exclude: &[SocketAddr],
    ) -> (Message, Vec<SocketAddr>) {
        let told_us = self
            .missing
            .remove(&rumor.id)
            .map(|m| m.announcers)
            .unwrap_or_default();
        if self.cache.len() >= CACHE {
            self.cache.pop_front();
        }
        self.cache.push_back((now, rumor.clone()));
        let announced = Announced {
            id: rumor.id,
            origin: rumor.origin.id.clone(),
            version: rumor.version,
        };
        if self.recent.len() >= PIGGYBACK_MAX {
            self.recent.pop_front();
        }
        self.recent.push_back((now, announced.clone()));
        let to = self
            .lazy
            .iter()
            .filter(|to| !exclude.contains(to) && !told_us.contains(to))
            .copied()
            .collect();
        let ihave = Message::IHave(IHave {
            rumors: vec![announced],
        });
        (ihave, to)
    }

    /// Announcements of recent rumors for a datagram to `outgoing` with `room` bytes to spare,
    /// unless it carries rumors or announcements already.
    pub(super) fn piggyback(&mut self, now: Time, outgoing: &[Message], room: usize) -> Option<Message> {
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| now.since(*at) >= PIGGYBACK_FOR)
        {
            self.recent.pop_front();
        }
        let busy = outgoing
            .iter()
            .any(|m| matches!(m, Message::Rumor(_) | Message::IHave(_)));
        let fit = (room / ANNOUNCED_ROOM).min(self.recent.len());
        if busy || fit == 0 {
            return None;
        }
        let rumors = self
            .recent
            .iter()
            .rev()
            .take(fit)
            .map(|(_, a)| a.clone())
            .collect();
        Some(Message::IHave(IHave { rumors }))
    }

    /// `from` announced rumors we lack (the caller left out those seen or held): wait for
    /// each `after`, then graft.
    pub(super) fn announced(
        &mut self,
        now: Time,
        from: SocketAddr,
        rumors: Vec<Announced>,
        after: Duration,
    ) {
        for a in rumors.into_iter().take(MAX_ANNOUNCED) {
            if let Some(m) = self.missing.get_mut(&a.id) {
                if m.announcers.len() < MAX_ANNOUNCERS && !m.announcers.contains(&from) {
                    m.announcers.push(from);
                }
                continue;
            }
            if self.missing.len() >= MAX_MISSING {
                continue;
            }
            self.missing.insert(
                a.id,
                Missing {
                    announced: a,
                    announcers: vec![from],
                    at: now + after,
                    grafts: 0,
                },
            );
        }
    }

    /// The announced rumors whose graft is due at `now`.
    pub(super) fn due(&self, now: Time) -> impl Iterator<Item = &Announced> {
        self.missing
            .values()
            .filter(move |m| m.at <= now)
            .map(|m| &m.announced)
    }

    /// Grafts for every announced rumor that is overdue: the next announcer is asked for it
    /// and becomes an eager link, and is given `again` to answer. Those in `held` (arrived
    /// meanwhile by anti-entropy) need no graft.
    pub(super) fn graft_due(&mut self, cx: &mut Shared, now: Time, held: &[Uuid], again: Duration) {
        let due: Vec<Uuid> = self
            .missing
            .iter()
            .filter(|(_, m)| m.at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(m) = self.missing.get_mut(&id) else {
                continue;
            };
            if held.contains(&id) || m.announcers.is_empty() {
                self.missing.remove(&id);
                continue;
            }
            // Announcers in turn, again from the first after the last (the graft or its
            // answer may have been lost), a bounded number of times.
            let to = m.announcers[m.grafts % m.announcers.len()];
            m.grafts += 1;
            m.at = now + again;
            if m.grafts >= MAX_GRAFTS {
                // Anti-entropy covers the rest.
                self.missing.remove(&id);
            }
            self.make_eager(to);
            cx.counters.tree_grafts += 1;
            cx.send(to, Message::Graft(Graft { want: Some(id) }));
        }
    }

    /// When the next graft is due, if any rumor is awaited.
    pub(super) fn next_graft(&self) -> Option<Time> {
        self.missing.values().map(|m| m.at).min()
    }

    /// The first copy of a rumor came from `from`: the link is eager both ways.
    pub(super) fn first_from(&mut self, from: SocketAddr) {
        self.make_eager(from);
    }

    /// A copy we already had came from `from`: it reaches us another way, so the link turns
    /// lazy at both ends.
    pub(super) fn duplicate_from(&mut self, cx: &mut Shared, from: SocketAddr) {
        self.make_lazy(from);
        cx.counters.tree_prunes += 1;
        cx.send(from, Message::Prune(Prune {}));
    }

    /// `from` asked for our pushes (and perhaps for one rumor): granted while the view has
    /// room, else the link is lazy at both ends.
    pub(super) fn on_graft(&mut self, cx: &mut Shared, from: SocketAddr, want: Option<Uuid>) {
        if !member(cx, &from) {
            // Only members get pushes: never a stream of rumors toward any address.
            return;
        }
        // The rumor asked for is sent either way: with no room for the link, it is all the
        // grafting node gets (and a prune, so the link is lazy at both ends).
        let cached = want.and_then(|id| self.cache.iter().find(|(_, r)| r.id == id));
        if let Some((_, rumor)) = cached {
            cx.send(from, Message::Rumor(rumor.clone()));
        }
        if !self.room_for(from) {
            cx.send(from, Message::Prune(Prune {}));
            return;
        }
        self.make_eager(from);
    }

    /// `from` gets our rumors another way.
    pub(super) fn on_prune(&mut self, from: SocketAddr) {
        self.make_lazy(from);
    }

    fn room_for(&self, a: SocketAddr) -> bool {
        self.eager.contains(&a)
            || self.lazy.contains(&a)
            || self.eager.len() + self.lazy.len() < MAX_VIEW
    }

    fn make_eager(&mut self, a: SocketAddr) {
        self.lazy.retain(|x| *x != a);
        if !self.eager.contains(&a) && self.room_for(a) {
            self.eager.push(a);
        }
    }

    fn make_lazy(&mut self, a: SocketAddr) {
        let was = self.eager.len();
        self.eager.retain(|x| *x != a);
        if self.eager.len() < was && !self.lazy.contains(&a) {
            self.lazy.push(a);
        }
    }
}

/// Whether `a` is a live member a link may lead to. A node that learns its peers tracks
/// every member (senders included), so an address it does not track is not one; in a fixed
/// topology (the simulator's) a peer that pushed to us stays a link though we do not list it.
pub(super) fn member(cx: &Shared, a: &SocketAddr) -> bool {
    cx.peers
        .get(a)
        .map_or(!cx.config.learn_peers, |p| p.is_live())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn announced(n: u128) -> Announced {
        Announced {
            id: Uuid::from_u128(n),
            origin: "n1".into(),
            version: 3,
        }
    }

    #[test]
    fn a_pruned_link_stays_in_the_view_and_a_graft_makes_it_eager_again() {
        let mut t = BroadcastTree::default();
        t.first_from(addr(1));
        t.first_from(addr(2));
        t.on_prune(addr(1));
        assert_eq!(t.eager, [addr(2)]);
        assert_eq!(t.lazy, [addr(1)]);
        t.first_from(addr(1));
        assert_eq!(t.eager, [addr(2), addr(1)]);
        assert!(t.lazy.is_empty());
    }

    #[test]
    fn the_view_is_bounded() {
        let mut t = BroadcastTree::default();
        for p in 0..40 {
            t.first_from(addr(p));
        }
        assert_eq!(t.eager.len(), MAX_VIEW);
        t.on_prune(addr(0));
        // Room is taken by lazy links too.
        t.first_from(addr(100));
        assert_eq!(t.eager.len() + t.lazy.len(), MAX_VIEW);
        assert!(!t.eager.contains(&addr(100)));
    }

    #[test]
    fn an_announced_rumor_is_awaited_from_each_announcer_in_turn_and_bounded() {
        let mut t = BroadcastTree::default();
        let now = Time::ZERO;
        t.announced(now, addr(1), vec![announced(1)], GRAFT_AFTER);
        t.announced(now, addr(2), vec![announced(1)], GRAFT_AFTER);
        t.announced(now, addr(1), vec![announced(1)], GRAFT_AFTER);
        assert_eq!(t.missing[&Uuid::from_u128(1)].announcers, [addr(1), addr(2)]);
        assert_eq!(t.next_graft(), Some(now + GRAFT_AFTER));
        for n in 0..(MAX_MISSING as u128 + 10) {
            t.announced(now, addr(3), vec![announced(n)], GRAFT_AFTER);
        }
        assert_eq!(t.missing.len(), MAX_MISSING);
    }
}
