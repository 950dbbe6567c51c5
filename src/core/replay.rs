//! Replay protection for keyed clusters. A sealed datagram carries its sender's wall-clock send
//! time and a random nonce, both authenticated. It is accepted once, and only while its send
//! time is within `window` of our clock: older ones are refused outright, and within the
//! window every nonce is remembered, so a captured datagram replayed later is always dropped.
//!
//! Memory is bounded: when the cache is full the oldest nonce is forgotten and the acceptance
//! floor rises to its send time, so a forgotten nonce can still never be replayed (the price
//! is that, under that much traffic, a datagram delayed past the floor is dropped too).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use crate::wire::Stamp;

use super::hash::Seeded;

/// Why a sealed datagram was refused as a replay; the names are counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Its nonce was seen before.
    Duplicate,
    /// Sent too long ago (or below the floor), or too far in the future (clock skew).
    OutsideWindow,
}

impl Replay {
    /// Counter name.
    pub fn counter(self) -> &'static str {
        match self {
            Replay::Duplicate => "replay_duplicate",
            Replay::OutsideWindow => "replay_outside_window",
        }
    }
}

/// Nonces of sealed datagrams accepted within the window.
#[derive(Debug)]
pub struct ReplayGuard {
    window_us: u64,
    capacity: usize,
    seen: HashSet<[u8; 24], Seeded>,
    /// (when we accepted it, its send time, nonce), oldest first.
    order: VecDeque<(u64, u64, [u8; 24])>,
    floor_us: u64,
}

impl ReplayGuard {
    /// Accepts send times within `window` of our clock; remembers at most `capacity` nonces.
    pub fn new(window: Duration, capacity: usize, hasher: Seeded) -> Self {
        ReplayGuard {
            window_us: u64::try_from(window.as_micros()).unwrap_or(u64::MAX),
            capacity: capacity.max(1),
            seen: HashSet::with_hasher(hasher),
            order: VecDeque::new(),
            floor_us: 0,
        }
    }

    /// Checks and records `stamp` at our wall-clock time `now_us`.
    pub fn check(&mut self, stamp: &Stamp, now_us: u64) -> Result<(), Replay> {
        self.expire(now_us);
        let sent = stamp.sent_us;
        if sent.saturating_add(self.window_us) < now_us
            || sent > now_us.saturating_add(self.window_us)
            || sent <= self.floor_us
        {
            return Err(Replay::OutsideWindow);
        }
        if !self.seen.insert(stamp.nonce) {
            return Err(Replay::Duplicate);
        }
        if self.order.len() >= self.capacity {
            if let Some((_, sent, nonce)) = self.order.pop_front() {
                self.seen.remove(&nonce);
                self.floor_us = self.floor_us.max(sent);
            }
        }
        self.order.push_back((now_us, sent, stamp.nonce));
        Ok(())
    }

    /// Nonces held (bounded by the capacity).
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// A nonce accepted at time t had a send time of at most t + window, so after t + 2·window
    /// the window check alone refuses it: it can be forgotten.
    fn expire(&mut self, now_us: u64) {
        let horizon = self.window_us.saturating_mul(2);
        while let Some(&(at, _, nonce)) = self.order.front() {
            if at.saturating_add(horizon) >= now_us {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&nonce);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    fn guard(cap: usize) -> ReplayGuard {
        ReplayGuard::new(Duration::from_secs(30), cap, Seeded::default())
    }

    fn stamp(sent_us: u64, n: u8) -> Stamp {
        Stamp {
            sent_us,
            nonce: [n; 24],
        }
    }

    #[test]
    fn a_nonce_is_accepted_once_and_only_inside_the_window() {
        let mut g = guard(100);
        let now = 1000 * S;
        assert_eq!(g.check(&stamp(now, 1), now), Ok(()));
        assert_eq!(g.check(&stamp(now, 1), now + S), Err(Replay::Duplicate));
        assert_eq!(
            g.check(&stamp(now - 31 * S, 2), now),
            Err(Replay::OutsideWindow)
        );
        assert_eq!(
            g.check(&stamp(now + 31 * S, 3), now),
            Err(Replay::OutsideWindow)
        );
        // Long after, the nonce is forgotten but the window refuses the replay anyway.
        assert_eq!(
            g.check(&stamp(now, 1), now + 120 * S),
            Err(Replay::OutsideWindow)
        );
        assert!(g.len() <= 1);
    }

    #[test]
    fn a_full_cache_raises_the_floor_so_forgotten_nonces_stay_refused() {
        let mut g = guard(3);
        let now = 1000 * S;
        for n in 0..5u8 {
            assert_eq!(g.check(&stamp(now + u64::from(n), n), now), Ok(()));
        }
        assert_eq!(g.len(), 3);
        assert_eq!(g.check(&stamp(now, 0), now), Err(Replay::OutsideWindow));
        assert_eq!(g.check(&stamp(now + 1, 1), now), Err(Replay::OutsideWindow));
    }
}
