//! Putting an announced value back together from its pieces: which pieces are held, which
//! were asked for and when, when to ask again, and the hash check at the end. The node's
//! fetches and the admin client (`gossip get`) both drive one of these; neither does I/O here.

use std::time::Duration;

use bytes::Bytes;

use crate::wire::{Announce, Fetch, Piece, MAX_FETCH_PIECES};

use super::time::Time;

/// Retransmit timeout before any round trip was measured.
const INITIAL_RTO: Duration = Duration::from_millis(100);
/// Floor and ceiling of the retransmit timeout.
const MIN_RTO: Duration = Duration::from_millis(15);
const MAX_RTO: Duration = Duration::from_secs(1);
/// A piece this far behind the newest one received from the same request burst is taken as
/// lost without waiting for the timeout (pieces of one request are sent in order).
const REORDER_SLACK: u32 = 8;
/// Congestion window (pieces outstanding) at the start, and its floor: it grows by about one
/// piece per round trip while pieces arrive and halves when they time out, so many fetches
/// at once do not overflow the receiver's socket buffer.
const INITIAL_CWND: f64 = 32.0;
const MIN_CWND: f64 = 2.0;

/// What became of a received piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// New bytes.
    Fresh,
    /// Already held (a retransmission crossed the original).
    Duplicate,
    /// Out of range or the wrong length: the sender is not serving this value.
    Invalid,
}

/// The complete bytes did not hash to the announced value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt;

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the value's bytes do not match its announced hash")
    }
}

impl std::error::Error for Corrupt {}

/// One value being reassembled.
#[derive(Debug)]
pub struct Assembly {
    announce: Announce,
    buf: Vec<u8>,
    have: Vec<bool>,
    held: u32,
    /// When each piece was last asked for (`None`: not outstanding), and whether it was
    /// asked more than once (its round trip then cannot be measured).
    asked: Vec<Option<(Time, bool)>>,
    outstanding: u32,
    /// First piece never asked for.
    next: u32,
    /// First piece not held: everything below is done, so scans start here.
    low: u32,
    srtt: Option<Duration>,
    last_progress: Time,
    /// Newest piece index received (fast loss detection).
    newest: u32,
    /// Congestion window, in pieces, and the slow-start threshold below which it doubles
    /// every round trip instead of growing by one.
    cwnd: f64,
    ssthresh: f64,
    /// No second halving before this (one per round trip of losses).
    backed_off_until: Time,
}

impl Assembly {
    /// An empty assembly for `announce`, started at `now`.
    pub fn new(announce: Announce, now: Time) -> Self {
        let pieces = announce.pieces() as usize;
        Assembly {
            announce,
            buf: vec![0; announce.size as usize],
            have: vec![false; pieces],
            held: 0,
            asked: vec![None; pieces],
            outstanding: 0,
            next: 0,
            low: 0,
            srtt: None,
            last_progress: now,
            newest: 0,
            cwnd: INITIAL_CWND,
            ssthresh: 128.0,
            backed_off_until: now,
        }
    }

    /// What is being assembled.
    pub fn announce(&self) -> &Announce {
        &self.announce
    }

    /// Bytes held so far.
    pub fn held_bytes(&self) -> u64 {
        (u64::from(self.held) * u64::from(self.announce.piece)).min(u64::from(self.announce.size))
    }

    /// Whether every piece is held.
    pub fn is_complete(&self) -> bool {
        self.held as usize == self.have.len()
    }

    /// The current retransmit timeout: four smoothed round trips, within bounds.
    pub fn rto(&self) -> Duration {
        let rto = self
            .srtt
            .map_or(INITIAL_RTO, |s| (s * 4).clamp(MIN_RTO, MAX_RTO));
        // Whole microseconds, the resolution of `Time`.
        Duration::from_micros(rto.as_micros() as u64)
    }

    /// The pieces to ask for at `now`, in request-sized lists: those asked longer than a
    /// timeout ago (or skipped over by newer pieces), then new ones, keeping at most
    /// `window` (and the congestion window) outstanding. New pieces are asked for in batches,
    /// once half the window is free.
    pub fn requests(&mut self, now: Time, window: u32) -> Vec<Vec<u32>> {
        let rto = self.rto();
        let window = window.min(self.cwnd as u32).max(1);
        let mut wanted = Vec::new();
        let mut lost = false;
        for i in self.low..self.next {
            if let Some((at, _)) = self.asked[i as usize] {
                // Compared as deadlines, exactly as `next_deadline` computes them (a timer that
                // fires and finds nothing due would fire again at once, forever).
                let skipped = i + REORDER_SLACK < self.newest;
                if at + rto <= now || (skipped && at + rto / 4 <= now) {
                    self.asked[i as usize] = Some((now, true));
                    wanted.push(i);
                    lost = true;
                }
            }
        }
        if lost && now >= self.backed_off_until {
            self.ssthresh = (self.cwnd / 2.0).max(MIN_CWND);
            self.cwnd = self.ssthresh;
            self.backed_off_until = now + rto;
        }
        let pieces = self.have.len() as u32;
        if self.outstanding <= window / 2 {
            while self.outstanding < window && self.next < pieces {
                let i = self.next;
                self.next += 1;
                if !self.have[i as usize] {
                    self.asked[i as usize] = Some((now, false));
                    self.outstanding += 1;
                    wanted.push(i);
                }
            }
        }
        wanted
            .chunks(MAX_FETCH_PIECES)
            .map(<[u32]>::to_vec)
            .collect()
    }

    /// Whether half the window is free and pieces remain to ask for.
    pub fn wants_more(&self, window: u32) -> bool {
        let window = window.min(self.cwnd as u32).max(1);
        self.outstanding <= window / 2 && (self.next as usize) < self.have.len()
    }

    /// When a request next needs repeating, if any piece is outstanding.
    pub fn next_deadline(&self) -> Option<Time> {
        let rto = self.rto();
        self.asked[self.low as usize..self.next as usize]
            .iter()
            .flatten()
            .map(|(at, _)| *at + rto)
            .min()
    }

    /// Nothing new arrived for three timeouts while pieces were outstanding: the holder is
    /// gone or lost the value.
    pub fn stalled(&self, now: Time) -> bool {
        self.outstanding > 0 && now.since(self.last_progress) >= self.rto() * 3
    }

    /// Forgets what was asked (a new holder will be asked from scratch).
    pub fn forget_asked(&mut self, now: Time) {
        for slot in &mut self.asked {
            *slot = None;
        }
        self.outstanding = 0;
        self.next = self.low;
        self.newest = 0;
        self.last_progress = now;
    }

    /// Takes in piece `index`.
    pub fn receive(&mut self, index: u32, bytes: &[u8], now: Time) -> Accepted {
        let i = index as usize;
        let piece = self.announce.piece as usize;
        let start = i.saturating_mul(piece);
        let expected = (self.announce.size as usize).saturating_sub(start).min(piece);
        if i >= self.have.len() || bytes.len() != expected {
            return Accepted::Invalid;
        }
        if self.have[i] {
            return Accepted::Duplicate;
        }
        self.buf[start..start + expected].copy_from_slice(bytes);
        self.have[i] = true;
        self.held += 1;
        while (self.low as usize) < self.have.len() && self.have[self.low as usize] {
            self.low += 1;
        }
        self.last_progress = now;
        self.newest = self.newest.max(index);
        if let Some((at, again)) = self.asked[i].take() {
            self.outstanding = self.outstanding.saturating_sub(1);
            // Slow start, then additive increase: one more piece per window that arrives.
            self.cwnd += if self.cwnd < self.ssthresh {
                1.0
            } else {
                1.0 / self.cwnd
            };
            if !again {
                let sample = now.since(at);
                self.srtt = Some(match self.srtt {
                    None => sample,
                    Some(s) => (s * 7 + sample) / 8,
                });
            }
        }
        Accepted::Fresh
    }

    /// The whole value, if its bytes hash to the announcement (its hash is then the
    /// announced one).
    pub fn finish(self) -> Result<Bytes, Corrupt> {
        if blake3::hash(&self.buf).as_bytes() == &self.announce.hash {
            Ok(Bytes::from(self.buf))
        } else {
            Err(Corrupt)
        }
    }
}

/// The pieces of `value` a fetch names, cut as it asks (indexes past the end are skipped):
/// what a node serving a fetch sends, and what the admin client sends a node taking its upload.
pub fn pieces<'a>(fetch: &'a Fetch, value: &'a [u8]) -> impl Iterator<Item = Piece> + 'a {
    let piece = fetch.piece as usize;
    fetch.pieces.iter().filter_map(move |&index| {
        let start = (index as usize).saturating_mul(piece);
        let bytes = value.get(start..(start.saturating_add(piece)).min(value.len()))?;
        (!bytes.is_empty()).then(|| Piece {
            origin: fetch.origin.clone(),
            key: fetch.key.clone(),
            version: fetch.version,
            index,
            bytes: bytes.to_vec(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announce(value: &[u8], piece: u32) -> Announce {
        Announce {
            size: value.len() as u32,
            hash: *blake3::hash(value).as_bytes(),
            piece,
        }
    }

    fn at(ms: u64) -> Time {
        Time::from_millis(ms)
    }

    #[test]
    fn pieces_in_any_order_make_the_value_and_a_wrong_byte_is_caught() {
        let value: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let mut a = Assembly::new(announce(&value, 1024), at(0));
        let asked: Vec<u32> = a.requests(at(0), 64).concat();
        assert_eq!(asked, vec![0, 1, 2, 3, 4]);
        for i in [4u32, 2, 0, 3, 1] {
            let s = i as usize * 1024;
            let piece = &value[s..(s + 1024).min(value.len())];
            assert_eq!(a.receive(i, piece, at(1)), Accepted::Fresh);
            assert_eq!(a.receive(i, piece, at(1)), Accepted::Duplicate);
        }
        assert_eq!(a.receive(9, &[1], at(1)), Accepted::Invalid);
        assert!(a.is_complete());
        assert_eq!(a.finish().unwrap(), value);

        let mut bad = Assembly::new(announce(&value, 1024), at(0));
        for i in 0..5u32 {
            let s = i as usize * 1024;
            let mut piece = value[s..(s + 1024).min(value.len())].to_vec();
            if i == 2 {
                piece[10] ^= 1;
            }
            bad.receive(i, &piece, at(1));
        }
        assert_eq!(bad.finish(), Err(Corrupt));
    }

    #[test]
    fn lost_pieces_are_asked_again_after_the_timeout_and_the_window_holds() {
        let value = vec![7u8; 100 * 128];
        let mut a = Assembly::new(announce(&value, 128), at(0));
        let first: Vec<u32> = a.requests(at(0), 16).concat();
        assert_eq!(first, (0..16).collect::<Vec<_>>());
        // Nothing more until half the window is back.
        assert!(a.requests(at(1), 16).is_empty());
        for i in 1..16 {
            a.receive(i, &value[..128], at(2));
        }
        // Piece 0 was lost: asked again once its timeout passes, with new pieces.
        let rto = a.rto();
        let later = at(0) + rto;
        let again: Vec<u32> = a.requests(later, 16).concat();
        assert_eq!(again[0], 0);
        assert!(again.len() > 1 && again[1..].iter().all(|&i| i >= 16));
    }
}
