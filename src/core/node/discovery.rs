//! Discovery: a node given bootstrap addresses asks them for their peer lists (and syncs with
//! them at once), retrying with backoff until one answers.

use std::net::SocketAddr;

use rand::seq::SliceRandom;

use crate::wire::{encoded_len, JoinRequest, Message, Origin, PeerList};

use super::paging::paginate;
use super::Node;
use crate::core::time::Time;

impl Node {
    /// Asks every bootstrap peer for its peer list. No sync yet: the first exchange waits for
    /// the list and then goes to a random peer from it, so a crowd of joiners does not queue
    /// up behind the one node they were all given.
    pub(super) fn send_joins(&mut self) {
        for addr in self.config.bootstrap.clone() {
            self.counters.joins_sent += 1;
            self.send(addr, Message::JoinRequest(JoinRequest { want_peers: true }));
        }
    }

    /// Answers with one datagram of peers: a random sample when they do not all fit, so a
    /// crowd of joiners spreads across the cluster instead of all syncing with the bootstrap.
    pub(super) fn on_join_request(
        &mut self,
        from: SocketAddr,
        _sender: Option<&Origin>,
        request: JoinRequest,
    ) {
        self.counters.joins_served += 1;
        if !request.want_peers {
            return;
        }
        let mut peers: Vec<Origin> = self
            .peers
            .iter()
            .filter(|p| p.addr != from)
            .filter_map(|p| {
                p.id.as_ref().map(|id| Origin {
                    id: id.clone(),
                    addr: p.addr,
                })
            })
            .collect();
        peers.shuffle(&mut self.rng);
        let budget = self.packer.budget().saturating_sub(8);
        let (mut pages, _) = paginate(peers, budget, 1, encoded_len);
        let peers = pages.pop().unwrap_or_default();
        self.send(from, Message::PeerList(PeerList { peers }));
    }

    pub(super) fn on_peer_list(&mut self, now: Time, from: SocketAddr, list: PeerList) {
        for peer in list.peers {
            if peer.id != self.config.id {
                self.learn_peer(peer.addr, Some(peer.id), now);
            }
        }
        if self.config.bootstrap.contains(&from) && self.timers.join.is_some() {
            // A bootstrap answered: stop retrying, and sync at once with a random peer.
            self.timers.join = None;
            self.timers.anti_entropy = now;
            self.timers.catch_up_rounds = super::sync::CATCH_UP_ROUNDS;
        }
    }
}
