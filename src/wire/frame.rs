//! Datagram layout: a fixed 14-byte header (magic, protocol version, flags, cluster id)
//! followed by the body (sender and messages). The header is checked before the body is decoded.

use bincode::{Decode, Encode};

use super::codec::{decode_prefix, encode_into, DecodeError, EncodeError};
use super::header::{ClusterId, Header};
use super::message::{Message, Origin};
use super::seal::{Keyring, Stamp, SEALED};
use super::limits::{MAGIC, MAX_DATAGRAM, PROTOCOL_VERSION};

/// A decoded datagram: who sent it (nodes say; admin clients don't) and what it carries.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Datagram {
    pub sender: Option<Origin>,
    pub messages: Vec<Message>,
}

/// Encodes a whole datagram, refusing to exceed `mtu`.
pub fn encode_datagram(
    cluster: ClusterId,
    datagram: &Datagram,
    mtu: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(mtu.min(MAX_DATAGRAM));
    encode_into(&Header::ours(cluster), &mut out)?;
    encode_into(datagram, &mut out)?;
    if out.len() > mtu {
        return Err(EncodeError::TooLarge {
            size: out.len(),
            limit: mtu,
        });
    }
    Ok(out)
}

/// Checks length, then the header, then decodes the body under the memory limit and validates
/// every message. Any failure is a typed error the node counts; nothing here can panic.
pub fn decode_datagram(cluster: ClusterId, bytes: &[u8]) -> Result<Datagram, DecodeError> {
    decode_datagram_sized(cluster, bytes).map(|(d, _)| d)
}

/// As [`decode_datagram`], also returning each message's encoded size (per-type byte
/// counters). Messages are decoded one by one from the slice, so the sizes cost nothing.
pub fn decode_datagram_sized(
    cluster: ClusterId,
    bytes: &[u8],
) -> Result<(Datagram, Vec<usize>), DecodeError> {
    open_datagram(cluster, None, bytes).map(|o| (o.datagram, o.sizes))
}

/// A received datagram that passed every check.
#[derive(Debug)]
pub struct Opened {
    pub datagram: Datagram,
    /// Encoded size of each message.
    pub sizes: Vec<usize>,
    /// Send time and nonce of a sealed datagram, for the replay check.
    pub stamp: Option<Stamp>,
    /// The sender's tag, if it tagged the datagram (see [`tag_datagram`]).
    pub tag: Option<SenderTag>,
}

/// Header flag: the datagram ends with a sender tag.
pub const TAGGED: u8 = 0x02;
/// Bytes of a sender tag.
pub const TAG_LEN: usize = 16;

/// A sender's tag as received: the tag, and the BLAKE3 hash of the bytes it covers. Whoever
/// shares the sender's pair key can check it ([`SenderTag::matches`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderTag {
    tag: [u8; TAG_LEN],
    covered: [u8; 32],
}

impl SenderTag {
    /// Whether the tag was made with `pair_key`.
    pub fn matches(&self, pair_key: &[u8; 32]) -> bool {
        let expected = tag_of(pair_key, &self.covered);
        // Not secret-dependent timing: both are public once the datagram is received.
        expected == self.tag
    }
}

fn tag_of(pair_key: &[u8; 32], covered: &[u8; 32]) -> [u8; TAG_LEN] {
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&blake3::keyed_hash(pair_key, covered).as_bytes()[..TAG_LEN]);
    tag
}

/// Tags an encoded (not yet sealed) datagram as ours for the one peer we share `pair_key`
/// with: sets the flag, then appends a keyed BLAKE3 tag over everything before it. The
/// packer must have left [`TAG_LEN`] bytes of room.
pub fn tag_datagram(bytes: &mut Vec<u8>, pair_key: &[u8; 32]) {
    if bytes.len() < Header::LEN {
        return;
    }
    bytes[5] |= TAGGED;
    let covered = *blake3::hash(bytes).as_bytes();
    let tag = tag_of(pair_key, &covered);
    bytes.extend_from_slice(&tag);
}

/// The receive path in its fixed order: length, header, then (in a keyed cluster)
/// authentication and decryption, then the limited decode and field validation. Nothing is
/// decoded before it is authenticated, and nothing here can panic.
pub fn open_datagram(
    cluster: ClusterId,
    keyring: Option<&Keyring>,
    bytes: &[u8],
) -> Result<Opened, DecodeError> {
    let header = check_header(cluster, bytes)?;
    let sealed = header.flags & SEALED != 0;
    let (plain, stamp) = match (sealed, keyring) {
        (true, None) => return Err(DecodeError::SealedWithoutKey),
        (false, Some(_)) => return Err(DecodeError::Unsealed),
        (false, None) => (std::borrow::Cow::Borrowed(bytes), None),
        (true, Some(keys)) => {
            let (plain, stamp) = super::seal::open(bytes, keys)?;
            (std::borrow::Cow::Owned(plain), Some(stamp))
        }
    };
    let (covered, tag) = if header.flags & TAGGED != 0 {
        if plain.len() < Header::LEN + TAG_LEN + 1 {
            return Err(DecodeError::TooShort(plain.len()));
        }
        let (covered, tag) = plain.split_at(plain.len() - TAG_LEN);
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(tag);
        let tag = SenderTag {
            tag: t,
            covered: *blake3::hash(covered).as_bytes(),
        };
        (covered, Some(tag))
    } else {
        (&plain[..], None)
    };
    let (datagram, sizes) = decode_body(&covered[Header::LEN..])?;
    Ok(Opened {
        datagram,
        sizes,
        stamp,
        tag,
    })
}

fn check_header(cluster: ClusterId, bytes: &[u8]) -> Result<Header, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() <= Header::LEN {
        return Err(DecodeError::TooShort(bytes.len()));
    }
    if bytes.len() > MAX_DATAGRAM {
        return Err(DecodeError::TooLong(bytes.len()));
    }
    if bytes[..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let (header, used) = decode_prefix::<Header>(&bytes[..Header::LEN])?;
    debug_assert_eq!(used, Header::LEN);
    if header.version != PROTOCOL_VERSION {
        return Err(DecodeError::BadVersion(header.version));
    }
    if header.cluster != cluster {
        return Err(DecodeError::WrongCluster);
    }
    if header.flags & !(SEALED | TAGGED) != 0 {
        return Err(DecodeError::Invalid("unknown header flags"));
    }
    Ok(header)
}

fn decode_body(body: &[u8]) -> Result<(Datagram, Vec<usize>), DecodeError> {
    // The body is what `Datagram` encodes to: the sender, a message count, the messages.
    let (sender, mut at) = decode_prefix::<Option<Origin>>(body)?;
    if let Some(sender) = &sender {
        if !sender.id.is_valid() {
            return Err(DecodeError::Invalid("sender id length"));
        }
    }
    let (count, used) = decode_prefix::<u64>(&body[at..])?;
    at += used;
    // Every message takes at least one byte: a count beyond what is left is a lie.
    if count > (body.len() - at) as u64 {
        return Err(DecodeError::Malformed(format!("{count} messages claimed")));
    }
    let mut messages = Vec::with_capacity(count as usize);
    let mut sizes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (message, used) = decode_prefix::<Message>(&body[at..])?;
        message.validate()?;
        at += used;
        messages.push(message);
        sizes.push(used);
    }
    if at != body.len() {
        return Err(DecodeError::TrailingBytes(body.len() - at));
    }
    Ok((Datagram { sender, messages }, sizes))
}
