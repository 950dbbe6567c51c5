//! Discovery: a node given bootstrap addresses asks them for their peer lists (and syncs with
//! them at once), retrying with backoff until one answers.

use std::net::SocketAddr;
use std::time::Duration;

use rand::seq::SliceRandom;

use crate::core::peers::Peer;
use crate::core::Refusal;
use crate::wire::{
    encoded_len, join_statement, JoinProof, JoinRequest, Message, NodeId, Origin, PeerList,
};

use super::paging::paginate;
use super::shared::Shared;
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

/// What the first answer to our join says, for the parts it concerns: the node continues
/// above what the cluster remembers of it, learns the peers listed, and syncs at once.
#[derive(Debug, Default)]
pub(super) struct Answered {
    /// The cluster holds our state at this version (newer, or equal with other content):
    /// republish above it.
    pub(super) republish_above: Option<u64>,
    /// The incarnation the cluster remembers of us (first answer only).
    pub(super) incarnation: Option<u64>,
    /// Members to learn.
    pub(super) peers: Vec<Origin>,
    /// Someone we asked answered: sync with a random peer now.
    pub(super) sync_now: bool,
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
    fn asked(&mut self, now: Time) {
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

impl Discovery {
    /// Asks every bootstrap peer for its peer list, and schedules the retry. No sync yet: the
    /// first exchange waits for the list and then goes to a random peer from it, so a crowd
    /// of joiners does not queue up behind the one node they were all given.
    pub(super) fn ask(&mut self, cx: &mut Shared, now: Time) {
        self.asked(now);
        let mut to = cx.config.bootstrap.clone();
        if to.is_empty() {
            // No bootstrap: ask the static peers once, to learn back our own past state. A
            // node that does not announce itself is a simulated fresh start: it has no past.
            if !cx.config.dissemination.announce {
                return;
            }
            to = cx.config.static_peers.clone();
        }
        // Who we are, signed, for a cluster that answers only keys it trusts.
        let proof = cx.config.identity.as_ref().map(|identity| JoinProof {
            key: identity.public(),
            sig: identity.sign(&join_statement(&cx.config.id, &cx.config.addr)),
        });
        for addr in to {
            cx.counters.joins_sent += 1;
            let request = JoinRequest {
                want_peers: true,
                proof: proof.clone(),
            };
            cx.send(addr, Message::JoinRequest(request));
        }
    }

    /// Answers with one datagram of peers: a random sample when they do not all fit, so a
    /// crowd of joiners spreads across the cluster instead of all syncing with the bootstrap.
    pub(super) fn on_join_request(
        &mut self,
        cx: &mut Shared,
        from: SocketAddr,
        sender: Option<&Origin>,
        request: JoinRequest,
    ) {
        if cx.trust.checks() {
            // Only a joiner whose key we accept for its id, proven by its signature.
            let checked = match (sender, &request.proof) {
                (Some(joiner), Some(proof)) => cx.trust.admit_one(
                    &joiner.id,
                    proof.key,
                    join_statement(&joiner.id, &joiner.addr),
                    &proof.sig,
                ),
                _ => Err(Refusal::Unsigned),
            };
            if let Err(reason) = checked {
                let origin = sender.map_or_else(|| NodeId::from("?"), |s| s.id.clone());
                return cx.refuse(origin, from, reason);
            }
            cx.counters.signatures_verified += 1;
        }
        cx.counters.joins_served += 1;
        if !request.want_peers {
            return;
        }
        let mut peers: Vec<Origin> = cx
            .peers
            .iter()
            .filter(|p| p.addr != from && p.is_live())
            .filter_map(Peer::origin)
            .collect();
        peers.shuffle(cx.rng);
        let budget = cx.transport.packer().list_budget();
        let (mut pages, _) = paginate(peers, budget, 1, encoded_len);
        let peers = pages.pop().unwrap_or_default();
        let (your_version, your_fingerprint, your_incarnation) = match sender {
            Some(joiner) => (
                cx.store.watermark(&joiner.id),
                cx.store.fingerprint(&joiner.id),
                cx.peers.get(&joiner.addr).map_or(0, |p| p.incarnation),
            ),
            None => (0, 0, 0),
        };
        cx.send(
            from,
            Message::PeerList(PeerList {
                peers,
                your_version,
                your_fingerprint,
                your_incarnation,
            }),
        );
    }

    /// A peer list arrived: what it means for the rest of the node.
    pub(super) fn on_peer_list(&mut self, cx: &Shared, from: SocketAddr, list: PeerList) -> Answered {
        let mut answered = Answered::default();
        let own = &cx.config.id;
        if self.first_answer() {
            // The cluster remembers us from before a restart: continue above what it saw, so
            // our next change is not mistaken for an old one and our next refutation counts.
            let ours = cx.store.own().watermark;
            let reissued =
                list.your_version == ours && list.your_fingerprint != cx.store.fingerprint(own);
            if list.your_version > ours || (list.your_version > 0 && reissued) {
                answered.republish_above = Some(list.your_version);
            }
            answered.incarnation = Some(list.your_incarnation);
        }
        answered.peers = list.peers.into_iter().filter(|p| p.id != *own).collect();
        let asked = cx.config.bootstrap.contains(&from) || cx.config.static_peers.contains(&from);
        // Someone we asked answered: stop retrying, and sync at once with a random peer.
        answered.sync_now = asked && self.answered() && !cx.config.dissemination.lockstep;
        answered
    }
}
