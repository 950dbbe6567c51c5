//! Batching: packs many messages bound for one peer into as few datagrams as the MTU allows.

use super::codec::{encode_into, encoded_len, EncodeError};
use super::seal::SEAL_OVERHEAD;

/// A list message's tag plus up to two 3-byte length prefixes.
const LIST_OVERHEAD: usize = 8;
/// A status page's fields besides its chunk: tag, request id, page numbers, length prefix.
const PAGE_OVERHEAD: usize = 32;
/// A piggybacked `Members` message's tag and list length.
const PIGGYBACK_FRAMING: usize = 8;
/// Below this, not even one membership fact fits: do not try.
const MIN_PIGGYBACK: usize = 32;
/// A `Piece` message's fields besides its bytes, with the longest id and key allowed.
const PIECE_OVERHEAD: usize = 1 + (1 + MAX_ID_LEN) + (1 + MAX_KEY_LEN) + 9 + 5 + 3;
/// A one-entry rumor's fields besides its value, with the longest id and key allowed.
const INLINE_OVERHEAD: usize = 320;
use super::limits::{MAX_ID_LEN, MAX_INLINE_VALUE, MAX_KEY_LEN, MAX_PIECE, MIN_PIECE};
use super::header::{ClusterId, Header};
use super::message::{Message, Origin};

/// At most this many messages per datagram, so the count prefix is always one varint byte.
const MAX_MESSAGES: usize = 250;

/// Builds datagrams for one sender. The header and sender prefix are encoded once.
#[derive(Clone, Debug)]
pub struct Packer {
    mtu: usize,
    prefix: Vec<u8>,
}

impl Packer {
    /// A packer stamping `sender` (None for admin clients) on every datagram.
    pub fn new(cluster: ClusterId, sender: Option<Origin>, mtu: usize) -> Self {
        let mut prefix = Vec::with_capacity(64);
        // Our own header and origin always encode; an error here would be a bug in bincode.
        let _ = encode_into(&Header::ours(cluster), &mut prefix);
        let _ = encode_into(&sender, &mut prefix);
        Packer { mtu, prefix }
    }

    /// A packer for datagrams that will be sealed before they are sent (a keyed cluster):
    /// it leaves room for the seal, so the sealed datagram still fits `mtu`.
    pub fn sealed(cluster: ClusterId, sender: Option<Origin>, mtu: usize) -> Self {
        Packer::new(cluster, sender, mtu.saturating_sub(SEAL_OVERHEAD))
    }

    /// The same packer leaving `room` bytes more at the end of every datagram (a sender tag).
    pub fn leaving(mut self, room: usize) -> Self {
        self.mtu = self.mtu.saturating_sub(room);
        self
    }

    /// The datagram size limit this packer respects.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Largest single message that still fits in one datagram; producers size their
    /// digests, deltas and pages with it.
    pub fn budget(&self) -> usize {
        self.mtu.saturating_sub(self.prefix.len() + 1)
    }

    /// Room for the *items* of a list message (digest, delta, pull, peer list) in one
    /// datagram: the budget less the message's tag and length prefixes.
    pub fn list_budget(&self) -> usize {
        self.budget().saturating_sub(LIST_OVERHEAD)
    }

    /// Room for the chunk of one status page: the budget less the page's other fields.
    pub fn page_budget(&self) -> usize {
        self.budget().saturating_sub(PAGE_OVERHEAD).max(1)
    }

    /// Piece length this node announces and serves: the largest power of two up to
    /// [`MAX_PIECE`] whose `Piece` message fits one datagram (0 if not even [`MIN_PIECE`] does).
    pub fn piece_len(&self) -> usize {
        let room = self.budget().saturating_sub(PIECE_OVERHEAD);
        let mut piece = MAX_PIECE;
        while piece > room && piece >= MIN_PIECE {
            piece /= 2;
        }
        if piece < MIN_PIECE {
            0
        } else {
            piece
        }
    }

    /// Largest value this node sends inline: [`MAX_INLINE_VALUE`], or less when a rumor
    /// carrying it would not fit a small MTU. Larger values are announced.
    pub fn inline_max(&self) -> usize {
        MAX_INLINE_VALUE.min(self.budget().saturating_sub(INLINE_OVERHEAD))
    }

    /// Whether a piece of `len` bytes fits one datagram with these id and key lengths.
    pub fn fits_piece(&self, len: usize) -> bool {
        len + PIECE_OVERHEAD <= self.budget()
    }

    /// Bytes of piggybacked membership facts that still fit after a datagram of `len` bytes
    /// (0 when too few for even one fact).
    pub fn piggyback_room(&self, len: usize) -> usize {
        let room = self.mtu.saturating_sub(len + PIGGYBACK_FRAMING);
        if room < MIN_PIGGYBACK {
            0
        } else {
            room
        }
    }

    /// Encodes a single-message datagram (admin clients and tests).
    pub fn single(&self, message: &Message) -> Result<Vec<u8>, EncodeError> {
        let mut out = self.pack(std::slice::from_ref(message))?;
        match out.len() {
            1 => Ok(out.remove(0)),
            _ => Err(EncodeError::TooLarge {
                size: encoded_len(message),
                limit: self.budget(),
            }),
        }
    }

    /// Packs `messages` in order into datagrams no larger than the MTU. A message that alone
    /// exceeds the budget is an error (producers must bound what they build); the datagrams
    /// packed so far are discarded with it, because sending a partial batch would hide the bug.
    pub fn pack(&self, messages: &[Message]) -> Result<Vec<Vec<u8>>, EncodeError> {
        self.pack_counted(messages, |_, _| {})
    }

    /// As [`Packer::pack`], telling `sized` each message's encoded length as it is written
    /// (per-type byte counters come for free instead of costing a second encoding pass).
    pub fn pack_counted(
        &self,
        messages: &[Message],
        mut sized: impl FnMut(&Message, usize),
    ) -> Result<Vec<Vec<u8>>, EncodeError> {
        let mut datagrams = Vec::new();
        let mut body: Vec<u8> = Vec::with_capacity(self.mtu);
        let mut count = 0usize;
        let budget = self.budget();
        for message in messages {
            // Encode straight into the body (one pass over the message); if it overflows, roll
            // back, close the datagram and encode it again at the start of the next one.
            let start = body.len();
            encode_into(message, &mut body)?;
            let len = body.len() - start;
            if count < MAX_MESSAGES && body.len() <= budget {
                count += 1;
                sized(message, len);
                continue;
            }
            body.truncate(start);
            if len > budget {
                return Err(EncodeError::TooLarge {
                    size: len,
                    limit: budget,
                });
            }
            datagrams.push(self.finish(&body, count)?);
            body.clear();
            encode_into(message, &mut body)?;
            count = 1;
            sized(message, len);
        }
        if count > 0 {
            datagrams.push(self.finish(&body, count)?);
        }
        Ok(datagrams)
    }

    /// Header + sender + message count + messages: the same bytes `encode_datagram` would give
    /// for a [`super::frame::Datagram`], built without re-encoding every message.
    fn finish(&self, body: &[u8], count: usize) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.prefix.len() + 1 + body.len());
        out.extend_from_slice(&self.prefix);
        encode_into(&(count as u64), &mut out)?;
        out.extend_from_slice(body);
        debug_assert!(out.len() <= self.mtu);
        Ok(out)
    }
}
