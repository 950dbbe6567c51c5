//! Keyed clusters: every datagram is sealed with XChaCha20-Poly1305 under the keyring's
//! primary key. Layout of a sealed datagram:
//!
//! ```text
//! header (14 B, flags = SEALED; authenticated, not encrypted)
//! nonce  (24 B, random)
//! ciphertext of [sent_us: u64 LE | body]
//! tag    (16 B)
//! ```
//!
//! The send time inside the ciphertext and the nonce let the receiver drop replays (see
//! `core::replay`). A receiver tries the primary key, then the older accepted keys, so a key
//! can be rotated across a running cluster: add the new key everywhere, make it primary
//! everywhere, then retire the old one.

use std::fmt;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};

use super::codec::DecodeError;
use super::header::Header;

/// Flag bit of a sealed datagram.
pub const SEALED: u8 = 0x01;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const STAMP_LEN: usize = 8;
/// Bytes sealing adds to a datagram: nonce, send time, tag.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + STAMP_LEN + TAG_LEN;
/// Most keys a keyring holds (each failed key costs one tag check per datagram).
pub const MAX_KEYS: usize = 8;

/// One 256-bit cluster key. Its bytes never appear in Debug output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterKey([u8; 32]);

impl ClusterKey {
    /// A key from 32 random bytes (the caller supplies OS randomness: `gossip keygen`).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ClusterKey(bytes)
    }

    /// The key as 64 hex digits, the key-file form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A short public fingerprint (not the key) for logs and status: which key is in use.
    pub fn fingerprint(&self) -> String {
        hex::encode(&blake3::hash(&self.0).as_bytes()[..4])
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(self.0))
    }
}

impl fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClusterKey({})", self.fingerprint())
    }
}

/// The keys a node holds: the first seals what we send, all of them open what we receive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<ClusterKey>,
}

impl Keyring {
    /// A keyring of one key.
    pub fn new(primary: ClusterKey) -> Self {
        Keyring {
            keys: vec![primary],
        }
    }

    /// Parses a key file: one key per line as 64 hex digits, `#` starts a comment, blank lines
    /// are ignored. The first key is the primary.
    pub fn parse(text: &str) -> Result<Keyring, String> {
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(line, &mut bytes).map_err(|_| {
                format!(
                    "line {}: a key is 64 hex digits (make one with `gossip keygen`)",
                    n + 1
                )
            })?;
            keys.push(ClusterKey(bytes));
        }
        if keys.is_empty() {
            return Err("no key in the key file".into());
        }
        if keys.len() > MAX_KEYS {
            return Err(format!("at most {MAX_KEYS} keys, found {}", keys.len()));
        }
        Ok(Keyring { keys })
    }

    /// The key that seals what we send.
    pub fn primary(&self) -> &ClusterKey {
        &self.keys[0]
    }

    /// Every key, primary first.
    pub fn keys(&self) -> &[ClusterKey] {
        &self.keys
    }
}

/// What a sealed datagram says about itself once authenticated: replay checks use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Sender's wall clock, microseconds since the UNIX epoch.
    pub sent_us: u64,
    pub nonce: [u8; NONCE_LEN],
}

/// Seals a packed plaintext datagram (header + body) with the primary key. `nonce` must be
/// unique per key: 24 random bytes from a CSPRNG.
pub fn seal(plain: &[u8], keyring: &Keyring, nonce: [u8; NONCE_LEN], sent_us: u64) -> Vec<u8> {
    let (header, body) = plain.split_at(Header::LEN.min(plain.len()));
    let mut out = Vec::with_capacity(plain.len() + SEAL_OVERHEAD);
    out.extend_from_slice(header);
    if out.len() > 5 {
        out[5] |= SEALED;
    }
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(&sent_us.to_le_bytes());
    out.extend_from_slice(body);
    let (aad, rest) = out.split_at_mut(Header::LEN);
    let tag = keyring
        .primary()
        .cipher()
        .encrypt_inout_detached(&XNonce::from(nonce), aad, (&mut rest[NONCE_LEN..]).into())
        // Encryption fails only for inputs over 256 GiB; a datagram is at most 64 KiB.
        .unwrap_or_default();
    debug_assert_eq!(start, Header::LEN + NONCE_LEN);
    out.extend_from_slice(&tag);
    out
}

/// Authenticates and decrypts a sealed datagram (header already checked); returns the
/// plaintext datagram (header with the flag cleared, then the body) and its stamp.
pub fn open(bytes: &[u8], keyring: &Keyring) -> Result<(Vec<u8>, Stamp), DecodeError> {
    if bytes.len() < Header::LEN + SEAL_OVERHEAD {
        return Err(DecodeError::AuthFailed);
    }
    let (aad, rest) = bytes.split_at(Header::LEN);
    let (nonce, rest) = rest.split_at(NONCE_LEN);
    let (cipher_text, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| DecodeError::AuthFailed)?;
    let tag = Tag::try_from(tag).map_err(|_| DecodeError::AuthFailed)?;
    for key in keyring.keys() {
        let mut buf = cipher_text.to_vec();
        if key
            .cipher()
            .decrypt_inout_detached(&XNonce::from(nonce), aad, buf.as_mut_slice().into(), &tag)
            .is_ok()
        {
            let (stamp, body) = buf.split_at(STAMP_LEN);
            let mut sent = [0u8; STAMP_LEN];
            sent.copy_from_slice(stamp);
            let mut plain = Vec::with_capacity(Header::LEN + body.len());
            plain.extend_from_slice(aad);
            plain[5] &= !SEALED;
            plain.extend_from_slice(body);
            return Ok((
                plain,
                Stamp {
                    sent_us: u64::from_le_bytes(sent),
                    nonce,
                },
            ));
        }
    }
    Err(DecodeError::AuthFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(b: u8) -> Keyring {
        Keyring::new(ClusterKey::from_bytes([b; 32]))
    }

    #[test]
    fn sealed_bytes_open_with_any_key_of_the_ring_and_nothing_else() {
        let mut plain: Vec<u8> = (0..100u8).collect();
        plain[5] = 0; // the flags byte of an unsealed datagram
        let sealed = seal(&plain, &ring(1), [9; 24], 42);
        assert_eq!(sealed.len(), plain.len() + SEAL_OVERHEAD);
        assert_eq!(sealed[5] & SEALED, SEALED);
        let (back, stamp) = open(&sealed, &ring(1)).unwrap();
        assert_eq!(back, plain);
        assert_eq!(stamp.sent_us, 42);
        assert_eq!(open(&sealed, &ring(2)), Err(DecodeError::AuthFailed));
        let both = Keyring::parse(&format!(
            "# new key first\n{}\n{} # the old one, still accepted\n",
            ClusterKey::from_bytes([2; 32]).to_hex(),
            ClusterKey::from_bytes([1; 32]).to_hex()
        ))
        .unwrap();
        assert!(open(&sealed, &both).is_ok());
        let mut tampered = sealed.clone();
        tampered[3] ^= 1; // the header is authenticated too
        assert_eq!(open(&tampered, &ring(1)), Err(DecodeError::AuthFailed));
        let mut tampered = sealed;
        tampered[60] ^= 1;
        assert_eq!(open(&tampered, &ring(1)), Err(DecodeError::AuthFailed));
    }

    #[test]
    fn key_files_are_checked() {
        assert!(Keyring::parse("").is_err());
        assert!(Keyring::parse("abc").is_err());
        assert!(Keyring::parse(&"a".repeat(64)).is_ok());
        assert!(!format!("{:?}", ring(7)).contains("0707"));
    }
}
