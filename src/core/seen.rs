//! The rumor de-duplication cache: bounded in size and age, so memory stays flat however long
//! a node runs and however many rumors pass through it.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use uuid::Uuid;

use super::hash::Seeded;
use super::time::Time;

/// Remembers recently seen rumor ids.
#[derive(Debug)]
pub struct SeenCache {
    ttl: Duration,
    capacity: usize,
    ids: HashMap<Uuid, Time, Seeded>,
    order: VecDeque<(Time, Uuid)>,
}

impl SeenCache {
    /// `ttl` must outlive a rumor's whole journey (TTL hops of delivery); `capacity` caps memory.
    pub fn new(ttl: Duration, capacity: usize, hasher: Seeded) -> Self {
        SeenCache {
            ttl,
            capacity: capacity.max(1),
            ids: HashMap::with_hasher(hasher),
            order: VecDeque::new(),
        }
    }

    /// Records `id`; returns false if it was already seen (a duplicate).
    pub fn insert(&mut self, id: Uuid, now: Time) -> bool {
        self.expire(now);
        if self.ids.contains_key(&id) {
            return false;
        }
        if self.ids.len() >= self.capacity {
            if let Some((_, oldest)) = self.order.pop_front() {
                self.ids.remove(&oldest);
            }
        }
        self.ids.insert(id, now);
        self.order.push_back((now, id));
        true
    }

    /// Whether `id` was seen (and is still remembered).
    pub fn contains(&self, id: &Uuid) -> bool {
        self.ids.contains_key(id)
    }

    /// Number of ids held: exposed so tests and status can show memory stays bounded.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn expire(&mut self, now: Time) {
        while let Some(&(at, id)) = self.order.front() {
            if now.since(at) < self.ttl {
                break;
            }
            self.order.pop_front();
            self.ids.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn duplicates_are_recognised_until_they_expire() {
        let mut seen = SeenCache::new(Duration::from_secs(60), 100, Seeded::default());
        assert!(seen.insert(id(1), Time::ZERO));
        assert!(!seen.insert(id(1), Time::from_millis(59_000)));
        assert!(seen.insert(id(1), Time::from_millis(61_000)));
    }

    #[test]
    fn a_day_of_traffic_keeps_memory_flat() {
        let mut seen = SeenCache::new(Duration::from_secs(60), 1_000, Seeded::default());
        // 24 hours of rumors arriving in bursts of 300 every 10 s.
        let mut n = 0u128;
        for step in 0..(24 * 360) {
            let now = Time::from_millis(step * 10_000);
            for _ in 0..300 {
                n += 1;
                seen.insert(id(n), now);
            }
            assert!(seen.len() <= 1_000);
        }
        assert!(seen.order.len() <= 1_000);
    }
}
