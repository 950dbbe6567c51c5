//! The datagram layer under every concern: messages queued per destination, packed into
//! MTU-sized datagrams, sealed in a keyed cluster, passed through the fault layer; and, on the
//! way in, the per-source flood guard and the replay window.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use rand::rngs::StdRng;

use crate::core::config::NodeConfig;
use crate::core::fault::{FaultLayer, Transmit};
use crate::core::guard::FloodGuard;
use crate::core::replay::ReplayGuard;
use crate::wire::{self, Message, Origin, Packer};

/// What the transport owns.
#[derive(Debug)]
pub(super) struct Transport {
    pub(super) packer: Packer,
    /// Messages queued per destination until the next flush.
    pub(super) outbox: BTreeMap<SocketAddr, Vec<Message>>,
    /// Datagrams ready for the driver.
    pub(super) ready: VecDeque<Transmit>,
    pub(super) fault: FaultLayer,
    pub(super) guard: FloodGuard,
    pub(super) replay: ReplayGuard,
    /// CSPRNG for nonces, seeded from `config.entropy` when the first datagram is sealed (an
    /// unkeyed node never needs one).
    pub(super) nonces: Option<Box<StdRng>>,
}

impl Transport {
    pub(super) fn new(config: &NodeConfig, guard: FloodGuard, replay: ReplayGuard) -> Self {
        Transport {
            packer: packer_for(config),
            outbox: BTreeMap::new(),
            ready: VecDeque::new(),
            fault: FaultLayer::new(config.fault),
            guard,
            replay,
            nonces: None,
        }
    }
}

/// The packer for `config`: sealing adds bytes, so a keyed node packs less per datagram.
pub(super) fn packer_for(config: &NodeConfig) -> Packer {
    let own = Origin {
        id: config.id.clone(),
        addr: config.addr,
    };
    let overhead = if config.keyring.is_some() {
        wire::SEAL_OVERHEAD
    } else {
        0
    };
    Packer::new(config.cluster, Some(own), config.mtu - overhead)
}
