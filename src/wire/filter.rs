//! The origin filter: a Bloom filter of the origin ids a node holds, in a range of
//! anti-entropy buckets, that a node catching up sends instead of its digest. The peer
//! answers with every origin of those buckets the filter does not contain. One datagram
//! stands for about a thousand origins (a digest needs seven), and the answer needs no
//! pull step. A false positive only hides an origin from one exchange: each filter has
//! its own seed, so the next one hides a different few.
//!
//! The filter is *blocked*: an origin's probes all fall in one 64-bit word, so adding or
//! looking up an origin touches one word (a few nanoseconds; a node checks a thousand origins
//! per filter), for a slightly higher false-positive rate than probes spread over all bits.
//! Both ends must hash alike: the probe positions are part of the wire format (the origin's
//! XXH3 hash mixed with the filter's seed), pinned by a test.

use bincode::{Decode, Encode};

use super::limits::SYNC_BUCKETS;
use super::message::NodeId;

/// Bits a filter spends per origin it holds: about a 1.5% false-positive rate with
/// [`FILTER_HASHES`] probes in one 64-bit word.
pub const FILTER_BITS_PER_ORIGIN: usize = 10;
/// Probes per origin (optimal for ten bits each: 10 · ln 2 ≈ 7).
pub const FILTER_HASHES: u8 = 7;
/// Most probes a filter may ask for (each takes six bits of one 64-bit mix).
pub const MAX_FILTER_HASHES: u8 = 10;

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
    /// origins but so that the whole message fits `room` bytes (at least one word).
    pub fn new(seed: u64, first_bucket: u8, buckets: u8, origins: usize, room: usize) -> Self {
        let words = (origins * FILTER_BITS_PER_ORIGIN)
            .div_ceil(64)
            .clamp(1, (bits_room(room) / 8).max(1));
        SyncFilter {
            reply: false,
            seed,
            first_bucket,
            buckets,
            hashes: FILTER_HASHES,
            bits: vec![0; words * 8],
        }
    }

    /// Origins a filter message of at most `room` bytes holds at the designed
    /// false-positive rate.
    pub fn capacity(room: usize) -> usize {
        bits_room(room) * 8 / FILTER_BITS_PER_ORIGIN
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
        let (word, mask) = self.probe(hash);
        let at = word * 8;
        if let Some(bytes) = self.bits.get_mut(at..at + 8) {
            let merged = u64::from_le_bytes(bytes.try_into().unwrap_or_default()) | mask;
            bytes.copy_from_slice(&merged.to_le_bytes());
        }
    }

    /// Whether the origin whose [`origin_hash`] is `hash` may be in the filter (false:
    /// certainly not).
    pub fn contains(&self, hash: u64) -> bool {
        let (word, mask) = self.probe(hash);
        let at = word * 8;
        self.bits
            .get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .is_some_and(|b| u64::from_le_bytes(b) & mask == mask)
    }

    /// The word an origin falls in and its probe bits there: the origin hash and the seed
    /// mixed by the SplitMix64 finalizer; the low 32 bits pick the word (multiply-shift), a
    /// second multiply gives six bits per probe.
    fn probe(&self, hash: u64) -> (usize, u64) {
        let words = (self.bits.len() / 8) as u64;
        let mut z = hash ^ self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let word = ((z & 0xffff_ffff) * words) >> 32;
        let mut bits = z.rotate_left(32).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut mask = 0u64;
        for _ in 0..self.hashes.min(MAX_FILTER_HASHES) {
            mask |= 1 << (bits >> 58);
            bits <<= 6;
        }
        (word as usize, mask)
    }

    /// Field checks for a received filter.
    pub(super) fn check(&self) -> Result<(), &'static str> {
        if self.bits.is_empty() || !self.bits.len().is_multiple_of(8) {
            return Err("filter length");
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

/// Bytes of a filter message besides its bits: the message tag, `reply`, the seed, the
/// bucket range, the probe count and the bits' length prefix, at their largest.
const FILTER_OVERHEAD: usize = 24;

/// Room for a filter's bits in a message of at most `room` bytes.
fn bits_room(room: usize) -> usize {
    room.saturating_sub(FILTER_OVERHEAD)
}

/// An origin id's 64-bit hash: XXH3 of its bytes. Filters probe with it, and it picks the
/// origin's anti-entropy bucket; nodes compute it once per origin.
pub fn origin_hash(id: &NodeId) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_str().as_bytes())
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
        println!("{false_positives} false positives in 10000");
        // Designed for about 1.5%.
        assert!(false_positives < 250, "{false_positives} of 10000");
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
        assert_eq!(f.bits, [160, 0, 0, 0, 192, 64, 12, 0]);
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
                bits: vec![0; 12],
                ..good.clone()
            },
            SyncFilter {
                hashes: 0,
                ..good.clone()
            },
            SyncFilter {
                hashes: 11,
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
