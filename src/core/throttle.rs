//! Spam of valid changes: a node relays at most `rate` changes per second of any one origin
//! (with a burst of `burst`). A change above that is still applied here, but not relayed: it
//! reaches the rest of the cluster by anti-entropy, which carries only each key's newest
//! version. So an origin that writes faster than its neighbours allow still converges, coalesced
//! to its newest state, and costs each neighbour at most `rate` relays a second however fast
//! it writes. The origin itself is never slowed down: its neighbours are.
//!
//! Memory is bounded: at most `MAX_TRACKED` origins have a bucket; full (idle) buckets are
//! dropped first, and when every tracked origin is busy a new one is not limited (fails open,
//! as the flood guard does).

use std::collections::HashMap;

use crate::wire::NodeId;

use super::hash::Seeded;
use super::time::Time;

/// Origins tracked at once.
const MAX_TRACKED: usize = 4096;

/// How fast one origin's changes are relayed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OriginRate {
    /// Sustained changes per second relayed by rumor; 0 relays every change (no limit).
    pub rate: f64,
    /// Changes relayed at once above the rate.
    pub burst: f64,
}

impl OriginRate {
    /// No limit.
    pub const UNLIMITED: OriginRate = OriginRate {
        rate: 0.0,
        burst: 0.0,
    };

    /// `rate` changes a second, bursts of twice that.
    pub fn per_second(rate: f64) -> Self {
        OriginRate {
            rate,
            burst: (rate * 2.0).max(1.0),
        }
    }

    fn limits(&self) -> bool {
        self.rate > 0.0
    }
}

impl Default for OriginRate {
    /// 20 changes a second, bursts of 40: far above a node's ordinary writes (a favorite book
    /// every 10 s, a few keys set by hand or by a service), far below a flood.
    fn default() -> Self {
        OriginRate::per_second(20.0)
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Time,
}

/// The relay budget of every origin.
#[derive(Debug)]
pub struct Throttle {
    buckets: HashMap<NodeId, Bucket, Seeded>,
}

impl Throttle {
    /// No origin limited yet.
    pub fn new(hasher: Seeded) -> Self {
        Throttle {
            buckets: HashMap::with_hasher(hasher),
        }
    }

    /// Whether a change of `origin` may be relayed at `now`; takes one from its budget.
    pub fn allow(&mut self, limits: OriginRate, origin: &NodeId, now: Time) -> bool {
        if !limits.limits() {
            return true;
        }
        let refill = |b: &mut Bucket| {
            let elapsed = now.since(b.refilled).as_secs_f64();
            b.tokens = (b.tokens + elapsed * limits.rate).min(limits.burst);
            b.refilled = now;
        };
        if !self.buckets.contains_key(origin) && self.buckets.len() >= MAX_TRACKED {
            self.buckets.retain(|_, b| {
                refill(b);
                b.tokens < limits.burst
            });
            if self.buckets.len() >= MAX_TRACKED {
                return true;
            }
        }
        let bucket = self.buckets.entry(origin.clone()).or_insert(Bucket {
            tokens: limits.burst,
            refilled: now,
        });
        refill(bucket);
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_origin_gets_its_burst_then_its_rate() {
        let mut t = Throttle::new(Seeded::with_seed(1));
        let limits = OriginRate::per_second(10.0);
        let (spammer, quiet) = (NodeId::from("spam"), NodeId::from("quiet"));
        let now = Time::ZERO;
        let relayed = (0..100).filter(|_| t.allow(limits, &spammer, now)).count();
        assert_eq!(relayed, 20, "the burst");
        assert!(t.allow(limits, &quiet, now), "another origin has its own budget");
        let later = now + Duration::from_secs(1);
        let relayed = (0..100).filter(|_| t.allow(limits, &spammer, later)).count();
        assert_eq!(relayed, 10, "then the rate");
        assert!((0..100).all(|_| t.allow(OriginRate::UNLIMITED, &spammer, later)));
    }
}
