//! Discovery: a node given bootstrap addresses asks them for their peer lists (and syncs with
//! them at once), retrying with backoff until one answers.

use std::net::SocketAddr;
use std::time::Duration;

use rand::seq::SliceRandom;

use crate::core::peers::Peer;
use crate::wire::{encoded_len, JoinRequest, Message, Origin, PeerList};

use super::paging::paginate;
use super::Node;
use crate::core::time::Time;

/// What discovery owns: the join retries, and whether the cluster has told us yet what it
/// remembers of us.
#[derive(Debug)]
pub(super) struct Discovery {
    /// When to ask the bootstrap peers again (None once one answered).
    join: Option<Time>,
    backoff: Duration,
    /// True until a peer has told us what it holds of us (a start without saved state must
    /// learn back its old version and incarnation before they are reused).
    fresh_start: bool,
}

impl Discovery {
    /// Asks for peers at `first` (None: nobody to ask).
    pub(super) fn new(first: Option<Time>) -> Self {
        Discovery {
            join: first,
            backoff: Duration::from_millis(500),
            fresh_start: true,
        }
    }

    /// When to ask next, if still waiting for an answer.
    pub(super) fn next_join(&self) -> Option<Time> {
        self.join
    }

    /// Whether it is time to ask (again).
    pub(super) fn join_due(&self, now: Time) -> bool {
        self.join.is_some_and(|t| t <= now)
    }

    /// We just asked: ask again after the backoff, which doubles up to 30 s.
    pub(super) fn asked(&mut self, now: Time) {
        self.join = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(Duration::from_secs(30));
    }

    /// New bootstrap peers: ask at once.
    pub(super) fn ask_now(&mut self, now: Time) {
        self.join = Some(now);
    }

    /// Someone we asked answered; true if we were still waiting (retries stop).
    fn answered(&mut self) -> bool {
        self.join.take().is_some()
    }

    /// True the first time only: the first answer tells us what the cluster remembers of us.
    fn first_answer(&mut self) -> bool {
        std::mem::replace(&mut self.fresh_start, false)
    }
}

impl Node {
    /// Asks every bootstrap peer for its peer list. No sync yet: the first exchange waits for
    /// the list and then goes to a random peer from it, so a crowd of joiners does not queue
    /// up behind the one node they were all given.
    pub(super) fn send_joins(&mut self) {
        let mut to = self.config.bootstrap.clone();
        if to.is_empty() {
            // No bootstrap: ask the static peers once, to learn back our own past state. A
            // node that does not announce itself is a simulated fresh start: it has no past.
            if !self.config.dissemination.announce {
                return;
            }
            to = self.config.static_peers.clone();
        }
        for addr in to {
            self.counters.joins_sent += 1;
            self.send(addr, Message::JoinRequest(JoinRequest { want_peers: true }));
        }
    }

    /// Answers with one datagram of peers: a random sample when they do not all fit, so a
    /// crowd of joiners spreads across the cluster instead of all syncing with the bootstrap.
    pub(super) fn on_join_request(
        &mut self,
        from: SocketAddr,
        sender: Option<&Origin>,
        request: JoinRequest,
    ) {
        self.counters.joins_served += 1;
        if !request.want_peers {
            return;
        }
        let mut peers: Vec<Origin> = self
            .peers
            .iter()
            .filter(|p| p.addr != from && p.is_live())
            .filter_map(Peer::origin)
            .collect();
        peers.shuffle(&mut self.rng);
        let budget = self.transport.packer().list_budget();
        let (mut pages, _) = paginate(peers, budget, 1, encoded_len);
        let peers = pages.pop().unwrap_or_default();
        let (your_version, your_fingerprint, your_incarnation) = match sender {
            Some(joiner) => (
                self.store.watermark(&joiner.id),
                self.store.fingerprint(&joiner.id),
                self.peers.get(&joiner.addr).map_or(0, |p| p.incarnation),
            ),
            None => (0, 0, 0),
        };
        self.send(
            from,
            Message::PeerList(PeerList {
                peers,
                your_version,
                your_fingerprint,
                your_incarnation,
            }),
        );
    }

    pub(super) fn on_peer_list(&mut self, now: Time, from: SocketAddr, list: PeerList) {
        if self.discovery.first_answer() {
            // The cluster remembers us from before a restart: continue above what it saw, so
            // our next change is not mistaken for an old one and our next refutation counts.
            let ours = self.store.own().watermark;
            let reissued = list.your_version == ours
                && list.your_fingerprint != self.store.fingerprint(self.id());
            if list.your_version > ours || (list.your_version > 0 && reissued) {
                self.republish_above(now, list.your_version);
            }
            self.membership.continue_above(list.your_incarnation);
        }
        for peer in list.peers {
            if peer.id != self.config.id {
                self.learn_peer(peer.addr, Some(peer.id), now);
            }
        }
        let asked =
            self.config.bootstrap.contains(&from) || self.config.static_peers.contains(&from);
        // Someone we asked answered: stop retrying, and sync at once with a random peer.
        if asked && self.discovery.answered() && !self.config.dissemination.lockstep {
            self.sync.start_now(now);
        }
    }
}
