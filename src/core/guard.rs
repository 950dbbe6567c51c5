//! Flood defence, applied to every datagram before any decoding: a token bucket per source
//! address caps what one source can make us do, and a source that keeps sending bad datagrams
//! is ignored for a while (its reputation). Memory is bounded: at most `MAX_SOURCES` sources
//! are tracked; idle ones are forgotten first, and when the table is full of busy sources a
//! new one is admitted untracked (rate limiting fails open, never closed, for a stranger).
//!
//! A forged source address can get a real peer ignored for `ban` at worst; anti-entropy and
//! SWIM's indirect probes route around that, and the ban ends by itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::hash::Seeded;
use super::time::Time;

/// Sources tracked at once.
const MAX_SOURCES: usize = 4096;

/// Limits of the flood guard.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GuardConfig {
    /// Sustained datagrams per second one source may send.
    pub rate: f64,
    /// Burst above the rate.
    pub burst: f64,
    /// Bad datagrams (undecodable, unauthenticated, replayed) before a source is ignored.
    pub strikes: u32,
    /// How long an offending source is ignored.
    pub ban: Duration,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            // A node under anti-entropy catch-up sends a peer a few dozen datagrams a round;
            // admin clients page a status report. Thousands a second is far above both.
            rate: 2000.0,
            burst: 4000.0,
            strikes: 32,
            ban: Duration::from_secs(30),
        }
    }
}

/// What to do with a datagram from a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Admit,
    /// Over its rate: dropped unread.
    Throttled,
    /// Ignored for bad behaviour: dropped unread.
    Banned,
}

#[derive(Debug)]
struct Source {
    tokens: f64,
    refilled: Time,
    strikes: u32,
    banned_until: Option<Time>,
    seen: Time,
}

impl Source {
    /// Refills the bucket and takes one token, unless banned or empty.
    fn take(&mut self, config: GuardConfig, now: Time) -> Admission {
        self.seen = now;
        if let Some(until) = self.banned_until {
            if now < until {
                return Admission::Banned;
            }
            self.banned_until = None;
            self.strikes = 0;
        }
        let elapsed = now.since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * config.rate).min(config.burst);
        self.refilled = now;
        if self.tokens < 1.0 {
            return Admission::Throttled;
        }
        self.tokens -= 1.0;
        Admission::Admit
    }
}

/// Per-source buckets and reputations.
#[derive(Debug)]
pub struct FloodGuard {
    config: GuardConfig,
    sources: HashMap<SocketAddr, Source, Seeded>,
}

impl FloodGuard {
    /// A guard with the given limits.
    pub fn new(config: GuardConfig, hasher: Seeded) -> Self {
        FloodGuard {
            config,
            sources: HashMap::with_hasher(hasher),
        }
    }

    /// Takes a token for one datagram from `from`, unless it is banned or out of tokens.
    pub fn admit(&mut self, from: SocketAddr, now: Time) -> Admission {
        let config = self.config;
        // One lookup for a known source (the common case, on every datagram).
        if let Some(s) = self.sources.get_mut(&from) {
            return s.take(config, now);
        }
        if !self.make_room(now) {
            return Admission::Admit;
        }
        self.sources
            .entry(from)
            .or_insert(Source {
                tokens: config.burst,
                refilled: now,
                strikes: 0,
                banned_until: None,
                seen: now,
            })
            .take(config, now)
    }

    /// `from` sent a bad datagram; true if that got it banned just now.
    pub fn strike(&mut self, from: SocketAddr, now: Time) -> bool {
        let Some(s) = self.sources.get_mut(&from) else {
            return false;
        };
        s.strikes += 1;
        if s.strikes >= self.config.strikes && s.banned_until.is_none() {
            s.banned_until = Some(now + self.config.ban);
            return true;
        }
        false
    }

    /// `from` sent a good datagram: it slowly earns back its reputation.
    pub fn good(&mut self, from: SocketAddr) {
        if let Some(s) = self.sources.get_mut(&from) {
            s.strikes = s.strikes.saturating_sub(1);
        }
    }

    /// Sources currently ignored.
    pub fn banned(&self, now: Time) -> usize {
        self.sources
            .values()
            .filter(|s| s.banned_until.is_some_and(|u| now < u))
            .count()
    }

    /// Frees a slot if the table is full; false if every tracked source is busy.
    fn make_room(&mut self, now: Time) -> bool {
        if self.sources.len() < MAX_SOURCES {
            return true;
        }
        let idle = Duration::from_secs(10);
        self.sources
            .retain(|_, s| now.since(s.seen) < idle || s.banned_until.is_some_and(|u| now < u));
        self.sources.len() < MAX_SOURCES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Time {
        Time::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn a_source_over_its_rate_is_throttled_and_refills() {
        let config = GuardConfig {
            rate: 100.0,
            burst: 10.0,
            ..GuardConfig::default()
        };
        let mut g = FloodGuard::new(config, Seeded::default());
        let from: SocketAddr = "10.0.0.1:7000".parse().unwrap();
        let admitted = (0..50)
            .filter(|_| g.admit(from, at(0)) == Admission::Admit)
            .count();
        assert_eq!(admitted, 10);
        // 100 ms later, 10 more tokens.
        let later = (0..50)
            .filter(|_| g.admit(from, at(100)) == Admission::Admit)
            .count();
        assert_eq!(later, 10);
        let other: SocketAddr = "10.0.0.2:7000".parse().unwrap();
        assert_eq!(g.admit(other, at(100)), Admission::Admit);
    }

    #[test]
    fn repeated_bad_datagrams_ban_a_source_for_a_while() {
        let mut g = FloodGuard::new(GuardConfig::default(), Seeded::default());
        let from: SocketAddr = "10.0.0.1:7000".parse().unwrap();
        let mut banned_at = None;
        for i in 0..100 {
            assert_eq!(g.admit(from, at(i)), Admission::Admit);
            if g.strike(from, at(i)) {
                banned_at = Some(i);
                break;
            }
        }
        assert_eq!(banned_at, Some(31));
        assert_eq!(g.admit(from, at(1000)), Admission::Banned);
        assert_eq!(g.banned(at(1000)), 1);
        assert_eq!(g.admit(from, at(31 + 30_000)), Admission::Admit);
    }
}
