//! Discovery: a node given bootstrap addresses asks them for their peer lists (and syncs with
//! them at once), retrying with backoff until one answers.

use std::net::SocketAddr;
use std::time::Duration;

use rand::seq::SliceRandom;

use crate::wire::{encoded_len, JoinRequest, Message, Origin, PeerList};

use super::paging::paginate;
use super::Node;
use crate::core::time::Time;

/// What discovery owns: the join retries, and whether the cluster has told us yet what it
/// remembers of us.
#[derive(Debug)]
pub(super) struct Discovery {
    /// When to ask the bootstrap peers again (None once one answered).
    pub(super) join: Option<Time>,
    pub(super) backoff: Duration,
    /// True until a peer has told us what it holds of us (a start without saved state must
    /// learn back its old version and incarnation before they are reused).
    pub(super) fresh_start: bool,
}

impl Default for Discovery {
    fn default() -> Self {
        Discovery {
            join: None,
            backoff: Duration::from_millis(500),
            fresh_start: true,
        }
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
            .filter_map(|p| {
                p.id.as_ref().map(|id| Origin {
                    id: id.clone(),
                    addr: p.addr,
                })
            })
            .collect();
        peers.shuffle(&mut self.rng);
        let budget = self.transport.packer.list_budget();
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
        if self.discovery.fresh_start {
            // The cluster remembers us from before a restart: continue above what it saw, so
            // our next change is not mistaken for an old one and our next refutation counts.
            self.discovery.fresh_start = false;
            let ours = self.store.own().watermark;
            let reissued = list.your_version == ours
                && list.your_fingerprint != self.store.fingerprint(self.id());
            if list.your_version > ours || (list.your_version > 0 && reissued) {
                self.republish_above(now, list.your_version);
            }
            if list.your_incarnation >= self.membership.incarnation && list.your_incarnation > 0 {
                self.membership.incarnation = list.your_incarnation + 1;
            }
        }
        for peer in list.peers {
            if peer.id != self.config.id {
                self.learn_peer(peer.addr, Some(peer.id), now);
            }
        }
        let asked =
            self.config.bootstrap.contains(&from) || self.config.static_peers.contains(&from);
        if asked && self.discovery.join.is_some() {
            // Someone we asked answered: stop retrying, and sync at once with a random peer.
            self.discovery.join = None;
            if !self.config.dissemination.lockstep {
                self.sync.next = now;
                self.sync.catch_up_rounds = super::sync::CATCH_UP_ROUNDS;
            }
        }
    }
}
