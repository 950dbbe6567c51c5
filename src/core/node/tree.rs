//! The eager half of an epidemic broadcast tree (Plumtree, Leitão et al. 2007): rumors go
//! along *eager* links instead of to random peers.
//!
//! Each node keeps a small view of `fanout` random live members (HyParView's active view,
//! drawn here from SWIM's full membership), made symmetric with a `Graft` as each link is
//! drawn. Every link starts eager, so the first broadcasts flood a sparse connected random
//! graph; a duplicate moves the link it came over to *lazy* at both ends (`Prune`), which
//! leaves a spanning tree of eager links: about one datagram per node per update, from any
//! origin. Pruned links stay in the view, so the view is not refilled after pruning.
//!
//! The lazy half is anti-entropy, which runs anyway: a node that learns by anti-entropy what
//! the tree should have brought (a lost datagram, a dead relay) grafts the link to the peer
//! that told it, and a link to a member that died is replaced by a random live one. So the
//! tree repairs itself, and every live node still gets every update, at worst one
//! anti-entropy interval late.

use std::net::SocketAddr;
use std::time::Duration;

use crate::core::time::Time;
use crate::wire::{Graft, Message, Prune};

use super::shared::Shared;

/// Bound on the view (eager and lazy links together); grafts beyond it are answered with a
/// prune, so the link is lazy at both ends.
const MAX_VIEW: usize = 16;
/// How often the view is checked for dead links and refilled.
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// A node's links in the broadcast tree.
#[derive(Debug, Default)]
pub(super) struct EagerTree {
    /// Links rumors are pushed along.
    eager: Vec<SocketAddr>,
    /// Pruned links: still in the view, not pushed along.
    lazy: Vec<SocketAddr>,
    /// When the view is next checked.
    check_at: Option<Time>,
}

impl EagerTree {
    /// Drops links to members no longer live and draws random live members (grafting each)
    /// until the view holds `fanout` links. Runs on the node's other timers (probes tick
    /// five times a second), at most every [`CHECK_EVERY`], and before every push.
    pub(super) fn maintain(&mut self, cx: &mut Shared, now: Time) {
        if self.check_at.is_some_and(|at| now < at) {
            return;
        }
        self.check_at = Some(now + CHECK_EVERY);
        // A link to a peer we do not track (it pushed to us) stays in a fixed topology; a
        // node that learns its peers tracks every member, and drops links to the gone.
        let keep_unknown = !cx.config.learn_peers;
        let live = |cx: &Shared, a: &SocketAddr| cx.peers.get(a).map_or(keep_unknown, |p| p.is_live());
        self.eager.retain(|a| live(cx, a));
        self.lazy.retain(|a| live(cx, a));
        let want = cx.config.fanout.resolve(cx.cluster_size()).min(MAX_VIEW);
        let have = self.eager.len() + self.lazy.len();
        if have >= want {
            return;
        }
        let mut skip = self.eager.clone();
        skip.extend_from_slice(&self.lazy);
        for to in cx.peers.sample(cx.rng, want - have, &skip) {
            self.eager.push(to);
            cx.counters.tree_grafts += 1;
            cx.send(to, Message::Graft(Graft {}));
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

    /// Anti-entropy from `from` brought news the tree should have: ask it for the tree's
    /// pushes from now on (nothing to do if it already pushes to us: a datagram was lost).
    pub(super) fn repaired_by(&mut self, cx: &mut Shared, from: SocketAddr) {
        if self.eager.contains(&from) || !self.room_for(from) {
            return;
        }
        let keep_unknown = !cx.config.learn_peers;
        if !cx.peers.get(&from).map_or(keep_unknown, |p| p.is_live()) {
            return;
        }
        self.make_eager(from);
        cx.counters.tree_grafts += 1;
        cx.send(from, Message::Graft(Graft {}));
    }

    /// `from` asked for our pushes: granted while the view has room, else the link is lazy.
    pub(super) fn on_graft(&mut self, cx: &mut Shared, from: SocketAddr) {
        if self.room_for(from) {
            self.make_eager(from);
        } else {
            cx.send(from, Message::Prune(Prune {}));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_pruned_link_stays_in_the_view_and_a_graft_makes_it_eager_again() {
        let mut t = EagerTree::default();
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
        let mut t = EagerTree::default();
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
}
