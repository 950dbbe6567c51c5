//! The tables every part of the node reads and writes (settings, randomness, the state store,
//! the peer set, the outgoing datagrams, the counters), lent to one part at a time. A part
//! gets these and its own state; it never sees another part's.

use rand::rngs::SmallRng;

use std::net::SocketAddr;

use crate::core::config::NodeConfig;
use crate::core::counters::Counters;
use crate::core::hash::Seeded;
use crate::core::peers::PeerSet;
use crate::core::store::Store;
use crate::wire::Message;

use super::transport::Transport;

/// The node's shared tables, borrowed for one call into a part.
pub(super) struct Shared<'a> {
    pub(super) config: &'a NodeConfig,
    pub(super) rng: &'a mut SmallRng,
    pub(super) store: &'a mut Store,
    pub(super) peers: &'a mut PeerSet,
    pub(super) transport: &'a mut Transport,
    pub(super) counters: &'a mut Counters,
    /// Seeded hasher for short-lived maps.
    pub(super) hasher: &'a Seeded,
}

impl Shared<'_> {
    /// Queues a message for `to`.
    pub(super) fn send(&mut self, to: SocketAddr, message: Message) {
        self.transport.queue(to, message);
    }
}
