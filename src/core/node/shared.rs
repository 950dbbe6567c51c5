//! The tables every part of the node reads and writes (settings, randomness, the state store,
//! the peer set, the outgoing datagrams, events and counters), lent to one part at a time. A
//! part gets these and its own state; it never sees another part's.

use std::collections::VecDeque;
use std::net::SocketAddr;

use rand::rngs::SmallRng;
use rand::RngExt;
use uuid::Uuid;

use crate::core::config::{auto_ttl, NodeConfig, RumorMode};
use crate::core::counters::Counters;
use crate::core::event::{Event, Route};
use crate::core::hash::Seeded;
use crate::core::peers::PeerSet;
use crate::core::store::{Form, Store, Stored};
use crate::wire::{self, Message, NodeId};

use super::transport::Transport;

/// Bound on undrained events, so a driver that ignores them cannot grow memory without limit.
const MAX_EVENTS: usize = 10_000;

/// The node's shared tables, borrowed for one call into a part.
pub(super) struct Shared<'a> {
    pub(super) config: &'a NodeConfig,
    pub(super) rng: &'a mut SmallRng,
    pub(super) store: &'a mut Store,
    pub(super) peers: &'a mut PeerSet,
    pub(super) transport: &'a mut Transport,
    pub(super) events: &'a mut VecDeque<Event>,
    pub(super) counters: &'a mut Counters,
    /// The last messages received that carried state.
    pub(super) recent: &'a mut crate::core::recent::Recent,
    /// Seeded hasher for short-lived maps.
    pub(super) hasher: &'a Seeded,
    /// Which keys we accept for which origin.
    pub(super) trust: &'a mut crate::core::trust::Trust,
}

impl Shared<'_> {
    /// Queues a message for `to`.
    pub(super) fn send(&mut self, to: SocketAddr, message: Message) {
        self.transport.queue(to, message);
    }

    /// Reports an event to the driver.
    pub(super) fn emit(&mut self, event: Event) {
        emit(self.events, self.counters, event);
    }

    /// One `Learned` event per entry that was news to us, from `origin` via `via`.
    pub(super) fn emit_learned(
        &mut self,
        origin: &NodeId,
        changed: Vec<Stored>,
        via: SocketAddr,
        route: Route,
    ) {
        for entry in changed {
            self.emit(Event::Learned {
                origin: origin.clone(),
                key: entry.key,
                value: entry.value,
                version: entry.version,
                via,
                route,
            });
        }
    }

    /// State about `origin` from `from` refused by the trust checks: counted and reported.
    pub(super) fn refuse(
        &mut self,
        origin: NodeId,
        from: SocketAddr,
        reason: crate::core::trust::Refusal,
    ) {
        self.counters.refuse(reason);
        self.emit(Event::Refused {
            origin,
            from,
            reason,
        });
    }

    /// How this node puts values on the wire (inline up to what a rumor fits, else announced).
    pub(super) fn form(&self) -> Form {
        form(self.transport)
    }

    /// Estimated cluster size: the larger of what we hold and whom we know.
    pub(super) fn cluster_size(&self) -> usize {
        cluster_size(self.store, self.peers)
    }

    /// `fanout` random peers (all of them when flooding), minus `exclude`: where rumors and
    /// pushed membership facts go.
    pub(super) fn fanout_targets(&mut self, exclude: &[SocketAddr]) -> Vec<SocketAddr> {
        let fanout = self.config.fanout.resolve(self.cluster_size());
        if fanout >= self.peers.len() {
            return self.peers.all_except(exclude);
        }
        self.peers.sample(self.rng, fanout, exclude)
    }

    /// A fresh random message id.
    pub(super) fn new_uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }
}

/// Queues `event`, dropping the oldest (and counting it) when the driver has not drained them.
pub(super) fn emit(events: &mut VecDeque<Event>, counters: &mut Counters, event: Event) {
    if events.len() >= MAX_EVENTS {
        events.pop_front();
        counters.events_dropped += 1;
    }
    events.push_back(event);
}

/// How a node with `transport` puts values on the wire.
pub(super) fn form(transport: &Transport) -> Form {
    let packer = transport.packer();
    Form {
        inline_max: packer.inline_max(),
        piece: packer.piece_len() as u32,
    }
}

/// The larger of the origins held and the members known (ourselves included).
pub(super) fn cluster_size(store: &Store, peers: &PeerSet) -> usize {
    store.len().max(peers.len() + 1)
}

/// The TTL new rumors get in a cluster of `size`. A tree's depth is not bounded by log2 N,
/// so there `auto` allows the most hops the wire does.
pub(super) fn ttl(config: &NodeConfig, size: usize) -> u8 {
    config
        .ttl
        .unwrap_or_else(|| match config.dissemination.rumors {
            RumorMode::Tree => wire::MAX_TTL,
            _ => auto_ttl(size),
        })
        .min(wire::MAX_TTL)
}
