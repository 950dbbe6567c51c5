//! Building a simulated cluster from a topology, and asking it what a user would ask: does
//! everyone know everything yet?

use std::net::SocketAddr;

use crate::core::{Node, NodeConfig, Time};
use crate::wire::{MemberState, NodeId};

use super::network::{sim_addr, NetConfig, SimNet};

/// The id simulated node `i` gets: `n0`, `n1`, …
pub fn sim_id(i: usize) -> NodeId {
    NodeId::from(format!("n{i}"))
}

/// The default config for simulated node `i` with the given static peers.
pub fn sim_config(i: usize, peers: &[usize]) -> NodeConfig {
    let mut config = NodeConfig::new(sim_id(i), sim_addr(i));
    config.static_peers = peers.iter().map(|&p| sim_addr(p)).collect();
    config
}

/// A network with one node per topology entry; `tune` adjusts each node's config.
pub fn build(
    topology: &[Vec<usize>],
    seed: u64,
    net: NetConfig,
    books: &[String],
    mut tune: impl FnMut(usize, &mut NodeConfig),
) -> SimNet {
    let mut sim = SimNet::new(seed, net);
    for (i, peers) in topology.iter().enumerate() {
        let mut config = sim_config(i, peers);
        tune(i, &mut config);
        let node_seed = seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(i as u64);
        // Nonce entropy from the seed: a simulated keyed cluster stays reproducible.
        config.entropy = *blake3::hash(&node_seed.to_le_bytes()).as_bytes();
        let mut node = Node::new(config, Time::ZERO, node_seed);
        if !books.is_empty() {
            // Each node starts holding a favorite book, as `gossip node` does.
            let book = &books[(node_seed % books.len() as u64) as usize];
            let _ = node.preload(
                Time::ZERO,
                crate::config::BOOK_KEY,
                bytes::Bytes::copy_from_slice(book.as_bytes()),
                None,
            );
        }
        sim.add(node);
    }
    sim
}

impl SimNet {
    /// How many live nodes hold `origin` at `version` or newer.
    pub fn holders(&self, origin: &NodeId, version: u64) -> usize {
        self.nodes()
            .flatten()
            .filter(|n| {
                n.id() == origin
                    || n.store()
                        .get(origin)
                        .is_some_and(|s| s.watermark >= version)
            })
            .count()
    }

    /// Number of live nodes.
    pub fn live(&self) -> usize {
        self.nodes().flatten().count()
    }

    /// True when every live node holds every live node's current version.
    pub fn converged(&self) -> bool {
        let live: Vec<(&NodeId, u64)> = self
            .nodes()
            .flatten()
            .map(|n| (n.id(), n.store().own().watermark))
            .collect();
        self.nodes().flatten().all(|n| {
            live.iter().all(|(id, v)| {
                *id == n.id() || n.store().get(id).is_some_and(|s| s.watermark >= *v)
            })
        })
    }

    /// How live node `i` sees the member at `addr`: state and incarnation.
    pub fn view_of(&self, i: usize, addr: SocketAddr) -> Option<(MemberState, u64)> {
        let peer = self.node(i)?.peers().get(&addr)?;
        Some((peer.state, peer.incarnation))
    }

    /// The address of live node `i`.
    pub fn addr_of(&self, i: usize) -> Option<SocketAddr> {
        self.node(i).map(Node::addr)
    }
}
