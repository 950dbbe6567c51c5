//! The datagram layer under every concern: messages queued per destination, packed into
//! MTU-sized datagrams, sealed in a keyed cluster, passed through the fault layer; and, on the
//! way in, the per-source flood guard and the replay window.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use rand::rngs::{SmallRng, StdRng};
use rand::{Rng, SeedableRng};

use crate::core::config::NodeConfig;
use crate::core::fault::{FaultLayer, Transmit, Verdict};
use crate::core::guard::{Admission, FloodGuard};
use crate::core::replay::ReplayGuard;
use crate::core::time::Time;
use crate::wire::{self, Keyring, Message, Packer, Stamp};

/// What the transport owns. The other parts queue messages and read the packer's budgets;
/// nothing else touches these fields.
#[derive(Debug)]
pub(super) struct Transport {
    packer: Packer,
    /// Messages queued per destination until the next flush.
    outbox: BTreeMap<SocketAddr, Vec<Message>>,
    /// Datagrams ready for the driver.
    ready: VecDeque<Transmit>,
    fault: FaultLayer,
    guard: FloodGuard,
    replay: ReplayGuard,
    /// CSPRNG for nonces, seeded from `config.entropy` when the first datagram is sealed (an
    /// unkeyed node never needs one).
    nonces: Option<Box<StdRng>>,
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

    /// The packer: its budgets size every list, page and piggyback.
    pub(super) fn packer(&self) -> &Packer {
        &self.packer
    }

    /// Whether a datagram from `from` may be looked at; the refusal's counter if not.
    pub(super) fn admit(&mut self, from: SocketAddr, now: Time) -> Result<(), &'static str> {
        match self.guard.admit(from, now) {
            Admission::Admit => Ok(()),
            Admission::Throttled => Err("flood_throttled"),
            Admission::Banned => Err("flood_banned"),
        }
    }

    /// Refuses a sealed datagram sent too long ago (or ahead) or seen before; the counter.
    pub(super) fn check_replay(&mut self, stamp: &Stamp, wall_us: u64) -> Result<(), &'static str> {
        self.replay.check(stamp, wall_us).map_err(|r| r.counter())
    }

    /// A good datagram from `from`: its record improves.
    pub(super) fn good(&mut self, from: SocketAddr) {
        self.guard.good(from);
    }

    /// A bad datagram from `from`; true if that got the source banned.
    pub(super) fn strike(&mut self, from: SocketAddr, now: Time) -> bool {
        self.guard.strike(from, now)
    }

    /// Queues a message for `to`; it is packed when the outbox is flushed.
    pub(super) fn queue(&mut self, to: SocketAddr, message: Message) {
        self.outbox.entry(to).or_default().push(message);
    }

    /// Everything queued, per destination, leaving the outbox empty.
    pub(super) fn take_queued(&mut self) -> BTreeMap<SocketAddr, Vec<Message>> {
        std::mem::take(&mut self.outbox)
    }

    /// Seals an encoded datagram with the primary key under a fresh nonce.
    pub(super) fn seal(
        &mut self,
        bytes: &[u8],
        keys: &Keyring,
        entropy: [u8; 32],
        wall_us: u64,
    ) -> Vec<u8> {
        let rng = self
            .nonces
            .get_or_insert_with(|| Box::new(StdRng::from_seed(entropy)));
        let mut nonce = [0u8; 24];
        rng.fill_bytes(&mut nonce);
        wire::seal(bytes, keys, nonce, wall_us)
    }

    /// Hands a datagram to the fault layer; false if it was dropped there.
    pub(super) fn send(&mut self, rng: &mut SmallRng, now: Time, transmit: Transmit) -> bool {
        match self.fault.admit(rng, now, transmit) {
            Verdict::Send(t) => self.ready.push_back(t),
            Verdict::Dropped => return false,
            Verdict::Held => {}
        }
        true
    }

    /// The next datagram for the driver: delayed ones whose time came first.
    pub(super) fn next_datagram(&mut self, now: Time) -> Option<Transmit> {
        self.fault.release(now).or_else(|| self.ready.pop_front())
    }

    /// When a delayed datagram is next due.
    pub(super) fn next_release(&self) -> Option<Time> {
        self.fault.next_release()
    }

    /// Applies a new config: the packer follows the MTU and keying, the fault layer its
    /// settings.
    pub(super) fn reconfigure(&mut self, new: &NodeConfig, old: &NodeConfig) {
        if new.mtu != old.mtu
            || new.keyring.is_some() != old.keyring.is_some()
            || tags(new) != tags(old)
        {
            self.packer = packer_for(new);
        }
        if new.fault != old.fault {
            self.fault = FaultLayer::new(new.fault);
        }
    }
}

/// The packer for `config`: sealing adds bytes, so a keyed node packs less per datagram.
fn packer_for(config: &NodeConfig) -> Packer {
    let own = config.origin();
    let packer = if config.keyring.is_some() {
        Packer::sealed(config.cluster, Some(own), config.mtu)
    } else {
        Packer::new(config.cluster, Some(own), config.mtu)
    };
    // A node that checks signatures tags what it sends to peers whose keys it knows.
    if tags(config) {
        packer.leaving(crate::wire::TAG_LEN)
    } else {
        packer
    }
}

/// Whether this node tags its datagrams: it has an identity and checks signatures.
pub(super) fn tags(config: &NodeConfig) -> bool {
    config.identity.is_some() && config.trust.mode != crate::core::TrustMode::Open
}
