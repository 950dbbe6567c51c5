//! Hashing inside the core.
//!
//! Maps keyed by network input (origin ids, addresses, rumor ids) use foldhash seeded from the
//! node's own RNG: fast, unpredictable to an outsider in a real node (the seed comes from the
//! OS), and reproducible in the simulator. Anti-entropy bucket hashes must agree between
//! nodes built at different times, so they use XXH3, a fixed, specified algorithm.

use rand::rngs::SmallRng;
use rand::RngExt;

use crate::wire::{NodeId, SYNC_BUCKETS};

/// `BuildHasher` for the core's maps.
pub type Seeded = foldhash::fast::FixedState;

/// A hasher builder seeded from the node's RNG.
pub fn seeded(rng: &mut SmallRng) -> Seeded {
    foldhash::fast::FixedState::with_seed(rng.random())
}

/// The anti-entropy bucket of the origin whose [`origin_hash`](crate::wire::origin_hash) is
/// `hash`; every node computes the same one.
pub fn bucket_of(hash: u64) -> u8 {
    (hash % SYNC_BUCKETS as u64) as u8
}

/// Hash of (origin, watermark), XOR-folded per bucket so a change updates one bucket in O(1).
pub fn contribution(id: &NodeId, watermark: u64) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(id.as_str().as_bytes(), watermark)
}

/// A member's place on the probe ring: every node orders the members it knows the same way,
/// so each one probes the next and every member is probed once per interval.
pub fn ring_position(addr: &std::net::SocketAddr) -> u64 {
    let mut bytes = [0u8; 18];
    let ip: &[u8] = match addr.ip() {
        std::net::IpAddr::V4(ip) => &ip.octets()[..],
        std::net::IpAddr::V6(ip) => &ip.octets()[..],
    };
    bytes[..ip.len()].copy_from_slice(ip);
    bytes[ip.len()..ip.len() + 2].copy_from_slice(&addr.port().to_be_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes[..ip.len() + 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::origin_hash;

    #[test]
    fn bucket_hashes_are_pinned_across_builds() {
        // Nodes built from different versions must agree on these or anti-entropy degrades to
        // full digests every round. A change here is a wire-protocol change.
        assert_eq!(
            bucket_of(origin_hash(&NodeId::from("n7000"))),
            (xxhash_rust::xxh3::xxh3_64(b"n7000") % 64) as u8
        );
        assert_eq!(
            contribution(&NodeId::from("n7000"), 3),
            xxhash_rust::xxh3::xxh3_64_with_seed(b"n7000", 3)
        );
        let spread: std::collections::HashSet<u8> = (0..1000)
            .map(|i| bucket_of(origin_hash(&NodeId::from(format!("n{i}")))))
            .collect();
        assert_eq!(spread.len(), SYNC_BUCKETS);
    }
}
