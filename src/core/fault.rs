//! Fault injection on outgoing datagrams (`--drop-rate`, `--delay-ms`), inside the core so the
//! real runtime and the simulator lose and delay packets the same, reproducible way.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::RngExt;

use super::time::Time;

/// A datagram ready for the socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

/// Loss and delay settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultConfig {
    /// Probability in [0, 1] that an outgoing datagram is silently dropped.
    pub drop_rate: f64,
    /// Each datagram is held for a uniform random time in this range.
    pub delay: (Duration, Duration),
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            drop_rate: 0.0,
            delay: (Duration::ZERO, Duration::ZERO),
        }
    }
}

/// Drops or holds datagrams according to [`FaultConfig`].
#[derive(Debug)]
pub struct FaultLayer {
    pub config: FaultConfig,
    held: BinaryHeap<Reverse<(Time, u64, Held)>>,
    seq: u64,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// What the layer did with one datagram.
pub enum Verdict {
    Send(Transmit),
    Dropped,
    Held,
}

impl FaultLayer {
    /// A layer applying `config`.
    pub fn new(config: FaultConfig) -> Self {
        FaultLayer {
            config,
            held: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Passes one datagram through the layer.
    pub fn admit(&mut self, rng: &mut SmallRng, now: Time, t: Transmit) -> Verdict {
        if self.config.drop_rate > 0.0 && rng.random_bool(self.config.drop_rate.clamp(0.0, 1.0)) {
            return Verdict::Dropped;
        }
        let (lo, hi) = self.config.delay;
        if hi.is_zero() {
            return Verdict::Send(t);
        }
        let delay = if hi > lo {
            Duration::from_micros(rng.random_range(lo.as_micros() as u64..=hi.as_micros() as u64))
        } else {
            lo
        };
        self.seq += 1;
        self.held.push(Reverse((
            now + delay,
            self.seq,
            Held {
                to: t.to,
                bytes: t.bytes,
            },
        )));
        Verdict::Held
    }

    /// A held datagram whose delay has passed.
    pub fn release(&mut self, now: Time) -> Option<Transmit> {
        match self.held.peek() {
            Some(Reverse((at, _, _))) if *at <= now => {
                let Reverse((_, _, held)) = self.held.pop()?;
                Some(Transmit {
                    to: held.to,
                    bytes: held.bytes,
                })
            }
            _ => None,
        }
    }

    /// When the next held datagram is due.
    pub fn next_release(&self) -> Option<Time> {
        self.held.peek().map(|Reverse((at, _, _))| *at)
    }
}
