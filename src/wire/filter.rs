//! The origin filter: a Bloom filter of the origin ids a node holds, in a range of
//! anti-entropy buckets, that a node catching up sends instead of its digest. The peer
//! answers with every origin of those buckets the filter does not contain. One datagram
//! stands for about a thousand origins (a digest needs seven), and the answer needs no
//! pull step. A false positive only hides an origin from one exchange: each filter has
//! its own seed, so the next one hides a different few.
//!
//! Both ends must hash alike: the probe positions are part of the wire format (XXH3 of the
//! id under the filter's seed, then double hashing), pinned by a test.

use bincode::{Decode, Encode};

use super::limits::SYNC_BUCKETS;
use super::message::NodeId;

/// Bits a filter spends per origin it holds: about a 1% false-positive rate with
/// [`FILTER_HASHES`] probes.
pub const FILTER_BITS_PER_ORIGIN: usize = 10;
/// Probes per origin (optimal for ten bits each: 10 · ln 2 ≈ 7).
pub const FILTER_HASHES: u8 = 7;
/// Most probes a filter may ask for (more only costs the receiver time).
pub const MAX_FILTER_HASHES: u8 = 16;
/// Smallest filter sent, in bytes.
const MIN_FILTER_BYTES: usize = 8;

/// "I hold the origins this filter contains, in buckets `first_bucket` onwards (`buckets`
/// of them, wrapping around); send me the others." A filter that opens an exchange may be
/// answered with the peer's own filter too, marked `reply` (which is never answered with
/// another).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SyncFilter {
    pub reply: bool,
    pub seed: u64,
    pub first_bucket: u8,
    pub buckets: u8,
    pub hashes: u8,
    pub bits: Vec<u8>,
}

impl SyncFilter {
    /// An empty filter over `buckets` buckets from `first_bucket`, sized for `origins`
    /// origins but at most `max_bytes` long.
    pub fn new(seed: u64, first_bucket: u8, buckets: u8, origins: usize, max_bytes: usize) -> Self {
        let bytes = (origins * FILTER_BITS_PER_ORIGIN)
            .div_ceil(8)
            .clamp(MIN_FILTER_BYTES, max_bytes.max(MIN_FILTER_BYTES));
        SyncFilter {
            reply: false,
            seed,
            first_bucket,
            buckets,
            hashes: FILTER_HASHES,
            bits: vec![0; bytes],
        }
    }

    /// Origins a filter of `max_bytes` holds at the designed false-positive rate.
    pub fn capacity(max_bytes: usize) -> usize {
        max_bytes * 8 / FILTER_BITS_PER_ORIGIN
    }

    /// Whether `bucket` is one of those this filter speaks for.
    pub fn covers(&self, bucket: u8) -> bool {
        let offset = (usize::from(bucket) + SYNC_BUCKETS - usize::from(self.first_bucket))
            % SYNC_BUCKETS;
        offset < usize::from(self.buckets)
    }

    /// The buckets this filter speaks for, from the first.
    pub fn covered(&self) -> impl Iterator<Item = u8> + '_ {
        (0..usize::from(self.buckets))
            .map(|i| ((usize::from(self.first_bucket) + i) % SYNC_BUCKETS) as u8)
    }

    /// Adds the origin whose [`origin_hash`] is `hash`.
    pub fn insert(&mut self, hash: u64) {
        let m = self.len_bits();
        for bit in probes(hash, self.seed, self.hashes, m) {
            self.bits[bit / 8] |= 1 << (bit % 8);
        }
    }

    /// Whether the origin whose [`origin_hash`] is `hash` may be in the filter (false:
    /// certainly not).
    pub fn contains(&self, hash: u64) -> bool {
        let m = self.len_bits();
        probes(hash, self.seed, self.hashes, m).all(|bit| self.bits[bit / 8] & (1 << (bit % 8)) != 0)
    }

    fn len_bits(&self) -> u32 {
        u32::try_from(self.bits.len() * 8).unwrap_or(u32::MAX)
    }

    /// Field checks for a received filter.
    pub(super) fn check(&self) -> Result<(), &'static str> {
        if self.bits.is_empty() {
            return Err("empty filter");
        }
        if self.hashes == 0 || self.hashes > MAX_FILTER_HASHES {
            return Err("filter probe count");
        }
        if usize::from(self.first_bucket) >= SYNC_BUCKETS
            || self.buckets == 0
            || usize::from(self.buckets) > SYNC_BUCKETS
        {
            return Err("filter buckets");
        }
        Ok(())
    }
}

/// An origin id's 64-bit hash: XXH3 of its bytes. Filters probe with it, and it picks the
/// origin's anti-entropy bucket; nodes compute it once per origin.
pub fn origin_hash(id: &NodeId) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_str().as_bytes())
}

/// The bit positions of an origin in a filter of `m` bits under `seed`: the origin hash and
/// the seed mixed by the SplitMix64 finalizer, then h1 + i·h2 (Kirsch–Mitzenmacher double
/// hashing, 32-bit, wrapping) mapped onto `0..m` by multiply-shift.
fn probes(hash: u64, seed: u64, hashes: u8, m: u32) -> impl Iterator<Item = usize> {
    let mut z = hash ^ seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let (h1, h2) = (z as u32, ((z >> 32) as u32) | 1);
    (0..u32::from(hashes)).map(move |i| {
        let x = h1.wrapping_add(i.wrapping_mul(h2));
        ((u64::from(x) * u64::from(m)) >> 32) as usize
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: usize) -> u64 {
        origin_hash(&NodeId::from(format!("n{i}")))
    }

    #[test]
    fn holds_what_was_inserted_and_few_others() {
        let mut f = SyncFilter::new(7, 0, 64, 1000, 1300);
        for i in 0..1000 {
            f.insert(id(i));
        }
        assert!((0..1000).all(|i| f.contains(id(i))));
        let false_positives = (1000..11_000).filter(|&i| f.contains(id(i))).count();
        // Designed for about 1%.
        assert!(false_positives < 200, "{false_positives} of 10000");
        assert!(false_positives > 0, "a filter of 1000 origins in 1250 bytes is not exact");
    }

    #[test]
    fn another_seed_hides_other_origins() {
        let fill = |seed| {
            let mut f = SyncFilter::new(seed, 0, 64, 1000, 1300);
            (0..1000).for_each(|i| f.insert(id(i)));
            (1000..11_000)
                .filter(|&i| f.contains(id(i)))
                .collect::<Vec<_>>()
        };
        let (a, b) = (fill(1), fill(2));
        let both = a.iter().filter(|i| b.contains(i)).count();
        assert!(both * 10 < a.len().max(1), "{both} of {} hidden by both", a.len());
    }

    #[test]
    fn probe_positions_are_pinned_across_builds() {
        // Nodes built from different versions must probe the same bits, or every origin
        // looks missing. A change here is a wire-protocol change.
        assert_eq!(
            origin_hash(&NodeId::from("n7000")),
            xxhash_rust::xxh3::xxh3_64(b"n7000")
        );
        let mut f = SyncFilter::new(42, 0, 64, 1, 8);
        f.insert(origin_hash(&NodeId::from("n7000")));
        assert_eq!(f.bits, [64, 16, 2, 32, 8, 0, 16, 4]);
    }

    #[test]
    fn buckets_wrap_around() {
        let f = SyncFilter::new(0, 62, 4, 0, 8);
        let covered: Vec<u8> = f.covered().collect();
        assert_eq!(covered, vec![62, 63, 0, 1]);
        assert!(f.covers(63) && f.covers(1) && !f.covers(2) && !f.covers(61));
        assert!(SyncFilter::new(0, 5, 64, 0, 8).covers(4));
    }

    #[test]
    fn malformed_filters_are_refused() {
        let good = SyncFilter::new(0, 0, 64, 10, 100);
        assert!(good.check().is_ok());
        for bad in [
            SyncFilter {
                bits: vec![],
                ..good.clone()
            },
            SyncFilter {
                hashes: 0,
                ..good.clone()
            },
            SyncFilter {
                hashes: 17,
                ..good.clone()
            },
            SyncFilter {
                first_bucket: 64,
                ..good.clone()
            },
            SyncFilter {
                buckets: 0,
                ..good.clone()
            },
            SyncFilter {
                buckets: 65,
                ..good.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
