//! The last messages a node received that carried state (rumors, duplicates among them, and
//! anti-entropy deltas), bounded, for `gossip status` and the node view.

use std::collections::VecDeque;
use std::net::SocketAddr;

use uuid::Uuid;

use crate::wire::NodeId;

use super::time::Time;

/// Messages remembered.
pub const RECENT: usize = 32;

/// How a remembered message arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A rumor seen for the first time.
    Rumor,
    /// A rumor seen before (dropped).
    Duplicate,
    /// An anti-entropy delta.
    Delta,
}

impl Kind {
    /// Name shown in status.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Rumor => "rumor",
            Kind::Duplicate => "duplicate",
            Kind::Delta => "delta",
        }
    }
}

/// One received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub kind: Kind,
    /// The rumor's id (deltas have none).
    pub id: Option<Uuid>,
    pub origin: NodeId,
    pub version: u64,
    pub from: SocketAddr,
    /// Hops the rumor travelled before it reached us (0 for a delta).
    pub hops: u8,
    pub at: Time,
}

/// The last [`RECENT`] messages, newest last.
#[derive(Debug, Default)]
pub struct Recent(VecDeque<Received>);

impl Recent {
    /// Remembers `message`, forgetting the oldest beyond [`RECENT`].
    pub fn push(&mut self, message: Received) {
        if self.0.len() >= RECENT {
            self.0.pop_front();
        }
        self.0.push_back(message);
    }

    /// Oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Received> {
        self.0.iter()
    }
}
