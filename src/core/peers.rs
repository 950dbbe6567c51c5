//! The peer set, which is also the SWIM member table: who this node may talk to and what state
//! each member is in. Static peers (from the node's TOML) and bootstrap peers are kept for
//! good; peers learned through gossip fill the rest up to a bound. Only live members (alive or
//! suspect) are ever chosen for rumors, anti-entropy or indirect probes.

use std::collections::HashMap;
use std::net::SocketAddr;

use rand::seq::index;
use rand::Rng;

use crate::wire::{MemberState, NodeId, Origin};

use super::hash::Seeded;
use super::time::Time;

/// Why a peer is in the set; static and bootstrap peers are never evicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PeerSource {
    Static,
    Bootstrap,
    Learned,
}

impl PeerSource {
    /// Name shown in `gossip status`.
    pub fn name(self) -> &'static str {
        match self {
            PeerSource::Static => "static",
            PeerSource::Bootstrap => "bootstrap",
            PeerSource::Learned => "learned",
        }
    }
}

/// An open suspicion: when it started and who independently agrees.
#[derive(Clone, Debug)]
pub struct Suspicion {
    pub since: Time,
    pub confirmers: Vec<NodeId>,
}

/// One peer and its membership state.
#[derive(Clone, Debug)]
pub struct Peer {
    pub addr: SocketAddr,
    pub id: Option<NodeId>,
    pub source: PeerSource,
    pub last_heard: Option<Time>,
    pub state: MemberState,
    pub incarnation: u64,
    pub state_since: Time,
    pub suspicion: Option<Suspicion>,
    /// Last time we told this member (believed down) what we think of it, so it can refute.
    pub told_at: Option<Time>,
}

impl Peer {
    /// Alive or suspect: may be gossiped with.
    pub fn is_live(&self) -> bool {
        matches!(self.state, MemberState::Alive | MemberState::Suspect)
    }

    /// Its identity for membership messages, once we know its id.
    pub fn origin(&self) -> Option<Origin> {
        self.id.as_ref().map(|id| Origin {
            id: id.clone(),
            addr: self.addr,
        })
    }
}

/// Peers in a vector (uniform random choice) with an address index (O(1) lookup).
#[derive(Debug)]
pub struct PeerSet {
    own: SocketAddr,
    max_learned: usize,
    learned: usize,
    list: Vec<Peer>,
    index: HashMap<SocketAddr, usize, Seeded>,
}

impl PeerSet {
    /// An empty set for the node at `own`, holding at most `max_learned` gossip-learned peers.
    pub fn new(own: SocketAddr, max_learned: usize, hasher: Seeded) -> Self {
        PeerSet {
            own,
            max_learned,
            learned: 0,
            list: Vec::new(),
            index: HashMap::with_hasher(hasher),
        }
    }

    /// Adds a peer (alive, incarnation 0, as of `now`) or upgrades its source/id. Returns
    /// true if the peer is new.
    pub fn add(
        &mut self,
        addr: SocketAddr,
        id: Option<NodeId>,
        source: PeerSource,
        now: Time,
    ) -> bool {
        if addr == self.own {
            return false;
        }
        if let Some(&i) = self.index.get(&addr) {
            let peer = &mut self.list[i];
            if id.is_some() && peer.id != id {
                peer.id = id;
            }
            if source < peer.source {
                if peer.source == PeerSource::Learned {
                    self.learned -= 1;
                }
                peer.source = source;
            }
            return false;
        }
        if source == PeerSource::Learned {
            if self.learned >= self.max_learned {
                return false;
            }
            self.learned += 1;
        }
        self.index.insert(addr, self.list.len());
        self.list.push(Peer {
            addr,
            id,
            source,
            last_heard: None,
            state: MemberState::Alive,
            incarnation: 0,
            state_since: now,
            suspicion: None,
            told_at: None,
        });
        true
    }

    /// Makes room for `more` peers at once.
    pub fn reserve(&mut self, more: usize) {
        let room = more.min(self.max_learned.saturating_sub(self.learned));
        self.list.reserve(room);
        self.index.reserve(room);
    }

    /// Changes the bound on learned peers (config reload). Peers already learned stay.
    pub fn set_max_learned(&mut self, max: usize) {
        self.max_learned = max;
    }

    /// Turns a static or bootstrap peer into an ordinary learned member, if the learned bound
    /// has room; false if it has not (the caller then removes it).
    pub fn demote(&mut self, addr: &SocketAddr) -> bool {
        let room = self.learned < self.max_learned;
        match self.index.get(addr).map(|&i| &mut self.list[i]) {
            Some(peer) if peer.source == PeerSource::Learned => true,
            Some(peer) if room => {
                peer.source = PeerSource::Learned;
                self.learned += 1;
                true
            }
            _ => false,
        }
    }

    /// Drops a peer (used when a static peer is removed from the config).
    pub fn remove(&mut self, addr: &SocketAddr) -> Option<Peer> {
        let i = self.index.remove(addr)?;
        let peer = self.list.swap_remove(i);
        if let Some(moved) = self.list.get(i) {
            self.index.insert(moved.addr, i);
        }
        if peer.source == PeerSource::Learned {
            self.learned -= 1;
        }
        Some(peer)
    }

    /// Notes that a datagram arrived from `addr`.
    pub fn heard_from(&mut self, addr: &SocketAddr, now: Time) {
        if let Some(&i) = self.index.get(addr) {
            self.list[i].last_heard = Some(now);
        }
    }

    /// Whether `addr` is a peer.
    pub fn contains(&self, addr: &SocketAddr) -> bool {
        self.index.contains_key(addr)
    }

    /// One peer by address.
    pub fn get(&self, addr: &SocketAddr) -> Option<&Peer> {
        self.index.get(addr).map(|&i| &self.list[i])
    }

    /// The address of the peer known by `id`, if any (a walk over all peers: for rare paths).
    pub fn addr_of(&self, id: &NodeId) -> Option<SocketAddr> {
        self.list
            .iter()
            .find(|p| p.id.as_ref() == Some(id))
            .map(|p| p.addr)
    }

    /// One peer by address, for changing its membership state.
    pub fn get_mut(&mut self, addr: &SocketAddr) -> Option<&mut Peer> {
        self.index.get(addr).map(|&i| &mut self.list[i])
    }

    /// Number of live (alive or suspect) members.
    pub fn live_count(&self) -> usize {
        self.list.iter().filter(|p| p.is_live()).count()
    }

    /// Counts of members by state: alive, suspect, dead, left.
    pub fn counts(&self) -> [usize; 4] {
        let mut c = [0; 4];
        for p in &self.list {
            c[p.state as usize] += 1;
        }
        c
    }

    /// All peers, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Peer> {
        self.list.iter()
    }

    /// Number of peers.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when the node knows nobody.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Up to `k` distinct random live peers, skipping those in `exclude`. Draws a few more
    /// than needed and filters; falls back to a full scan when too many are down.
    pub fn sample<R: Rng>(&self, rng: &mut R, k: usize, exclude: &[SocketAddr]) -> Vec<SocketAddr> {
        let n = self.list.len();
        let want = (2 * k + exclude.len()).min(n);
        if want == 0 || k == 0 {
            return Vec::new();
        }
        let pick = |p: &Peer| p.is_live() && !exclude.contains(&p.addr);
        let mut out: Vec<SocketAddr> = index::sample(rng, n, want)
            .into_iter()
            .map(|i| &self.list[i])
            .filter(|p| pick(p))
            .map(|p| p.addr)
            .collect();
        if out.len() < k && want < n {
            let mut all: Vec<SocketAddr> = self
                .list
                .iter()
                .filter(|p| pick(p))
                .map(|p| p.addr)
                .collect();
            rand::seq::SliceRandom::shuffle(all.as_mut_slice(), rng);
            out = all;
        }
        out.truncate(k);
        out
    }

    /// Every live peer except those in `exclude` (flooding).
    pub fn all_except(&self, exclude: &[SocketAddr]) -> Vec<SocketAddr> {
        self.list
            .iter()
            .filter(|p| p.is_live() && !exclude.contains(&p.addr))
            .map(|p| p.addr)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn learned_peers_are_bounded_but_static_ones_always_fit() {
        let mut peers = PeerSet::new(addr(1), 2, Seeded::default());
        assert!(peers.add(addr(2), None, PeerSource::Learned, Time::ZERO));
        assert!(peers.add(addr(3), None, PeerSource::Learned, Time::ZERO));
        assert!(!peers.add(addr(4), None, PeerSource::Learned, Time::ZERO));
        assert!(peers.add(addr(5), None, PeerSource::Static, Time::ZERO));
        assert!(
            !peers.add(addr(1), None, PeerSource::Static, Time::ZERO),
            "never our own address"
        );
        assert_eq!(peers.len(), 3);
        // Upgrading a learned peer to static frees a learned slot.
        peers.add(addr(2), None, PeerSource::Static, Time::ZERO);
        assert!(peers.add(addr(4), None, PeerSource::Learned, Time::ZERO));
    }

    #[test]
    fn sampling_is_distinct_and_honours_exclusions() {
        let mut peers = PeerSet::new(addr(1), 100, Seeded::default());
        for p in 2..20 {
            peers.add(addr(p), None, PeerSource::Learned, Time::ZERO);
        }
        let mut rng = SmallRng::seed_from_u64(7);
        for _ in 0..100 {
            let got = peers.sample(&mut rng, 5, &[addr(3), addr(4)]);
            assert_eq!(got.len(), 5);
            assert!(!got.contains(&addr(3)) && !got.contains(&addr(4)));
            let mut dedup = got.clone();
            dedup.sort();
            dedup.dedup();
            assert_eq!(dedup.len(), 5);
        }
    }

    #[test]
    fn removing_keeps_the_index_consistent() {
        let mut peers = PeerSet::new(addr(1), 100, Seeded::default());
        for p in 2..6 {
            peers.add(addr(p), None, PeerSource::Static, Time::ZERO);
        }
        peers.remove(&addr(2));
        assert!(!peers.contains(&addr(2)));
        for p in 3..6 {
            assert_eq!(peers.get(&addr(p)).map(|x| x.addr), Some(addr(p)));
        }
    }
}
