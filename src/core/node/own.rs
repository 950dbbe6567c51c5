//! The node's own state: writes (set, delete, preload) go into the store and out as rumors,
//! and a node that hears of a newer version of itself (it restarted and forgot) continues
//! above it. These touch the store and the rumor part together, so they live with the node.

use bytes::Bytes;

use crate::wire::{entry_statement, head_statement, Entry, Rumor, MAX_KEY_LEN, MAX_TTL_MS};

use super::Node;
use crate::core::event::Event;
use crate::core::time::Time;

/// Why a `set` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetError {
    Key,
    Value { len: usize, max: usize },
    State { len: usize, max: usize },
    Ttl,
    TooLarge,
    Busy,
}

impl std::fmt::Display for SetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetError::Key => write!(f, "key must be 1..={MAX_KEY_LEN} bytes"),
            SetError::Value { len, max } => write!(
                f,
                "value is {len} bytes; this node accepts at most {max} (max_value_bytes)"
            ),
            SetError::State { len, max } => write!(
                f,
                "this node's keys would hold {len} bytes; at most {max} are allowed \
                 (max_state_bytes)"
            ),
            SetError::Ttl => f.write_str("a TTL must be between 1 ms and 10 years"),
            SetError::TooLarge => {
                f.write_str("key and value are too large to fit one datagram at this MTU")
            }
            SetError::Busy => f.write_str(
                "the node is fetching as many values as it may at once; try again shortly",
            ),
        }
    }
}

impl std::error::Error for SetError {}

impl Node {
    /// Sets one of our own keys and spreads it as a rumor; returns the new version.
    pub fn set(&mut self, now: Time, key: &str, value: &[u8]) -> Result<u64, SetError> {
        self.write(now, key, Some(Bytes::copy_from_slice(value)), None)
    }

    /// Sets one of our own keys to `value` (shared, not copied), expiring it on every node
    /// `ttl_ms` milliseconds from now if given; returns the new version.
    pub fn set_bytes(
        &mut self,
        now: Time,
        key: &str,
        value: Bytes,
        ttl_ms: Option<u64>,
    ) -> Result<u64, SetError> {
        let expires_ms = match ttl_ms {
            Some(t) if t == 0 || t > MAX_TTL_MS => return Err(SetError::Ttl),
            Some(t) => Some(self.wall_ms(now) + t),
            None => None,
        };
        self.write(now, key, Some(value), expires_ms)
    }

    /// Deletes one of our own keys: a tombstone that spreads like any change, so every node
    /// stops showing the key. Returns the new version.
    pub fn delete(&mut self, now: Time, key: &str) -> Result<u64, SetError> {
        self.write(now, key, None, None)
    }

    /// Sets one of our own keys *without* spreading it: for state a node holds before it first
    /// talks (peers learn it in the join and anti-entropy exchanges). After that, use
    /// [`Node::set`].
    pub fn preload(
        &mut self,
        now: Time,
        key: &str,
        value: Bytes,
        expires_ms: Option<u64>,
    ) -> Result<u64, SetError> {
        self.check_write(key, Some(&value))?;
        let form = super::shared::form(&self.transport);
        let entry = self.store.set_own(key, Some(value), expires_ms, now, form);
        Ok(self.sign_own(entry).version)
    }

    /// Signs a change of our own state just made (when we have an identity): the store keeps
    /// the signature to send with the entry, and the entry comes back signed.
    fn sign_own(&mut self, mut entry: Entry) -> Entry {
        if let Some(identity) = &self.config.identity {
            let sig = identity.sign(&entry_statement(&self.config.id, &entry));
            self.store.sign_own(&entry.key, entry.version, sig);
            entry.sig = Some(sig);
        }
        entry
    }

    /// Signs a statement that our state reached our current version, for a version no entry
    /// of ours carries (a fresh node announcing itself, a counter raised after a restart).
    pub(super) fn sign_head(&mut self) {
        if let Some(identity) = &self.config.identity {
            let version = self.store.own().watermark;
            let sig = identity.sign(&head_statement(&self.config.id, version));
            self.store.set_own_head(version, sig);
        }
    }

    /// Refuses a key, value or state size the node's limits do not allow.
    pub(super) fn check_write(&self, key: &str, value: Option<&Bytes>) -> Result<(), SetError> {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(SetError::Key);
        }
        let len = value.map_or(0, Bytes::len);
        let max = self.config.max_value_bytes;
        if len > max {
            return Err(SetError::Value { len, max });
        }
        let packer = self.transport.packer();
        if len > packer.inline_max() && packer.piece_len() == 0 {
            return Err(SetError::TooLarge);
        }
        let state = self.store.own().values.bytes_with(key, len) as usize;
        let max = self.config.max_state_bytes;
        if value.is_some() && state > max {
            return Err(SetError::State { len: state, max });
        }
        Ok(())
    }

    /// Sets (`Some`) or deletes (`None`) one of our own keys and spreads the change.
    pub(super) fn write(
        &mut self,
        now: Time,
        key: &str,
        value: Option<Bytes>,
        expires_ms: Option<u64>,
    ) -> Result<u64, SetError> {
        self.check_write(key, value.as_ref())?;
        let form = super::shared::form(&self.transport);
        let entry = self.store.set_own(key, value.clone(), expires_ms, now, form);
        let entry = self.sign_own(entry);
        let version = entry.version;
        let rumor = Rumor {
            id: shared!(self).new_uuid(),
            origin: self.config.origin(),
            since: version - 1,
            version,
            ttl: self.ttl(),
            hops: 0,
            entries: vec![entry],
            signer: self.store.own().signer,
        };
        let pushed_to = self.rumors.originate(&mut shared!(self), now, rumor);
        self.emit(Event::Originated {
            key: key.to_string(),
            value,
            version,
            pushed_to,
        });
        Ok(version)
    }

    /// Someone holds a version of *our* state: if it is newer than ours (we restarted and lost
    /// our counter), jump past it so our next change is not ignored as stale.
    pub(super) fn on_news_about_self(&mut self, now: Time, version: u64) {
        if version > self.store.own().watermark {
            self.republish_above(now, version);
        }
    }

    /// Moves our version counter past `version` and re-issues our current values above it,
    /// so everyone replaces whatever older state of ours they hold.
    pub(super) fn republish_above(&mut self, now: Time, version: u64) {
        self.store.raise_own_version(version);
        self.sign_head();
        type Held = (String, Option<Bytes>, Option<u64>);
        let values: Vec<Held> = self
            .store
            .own()
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone(), v.expires_ms))
            .collect();
        for (key, value, expires_ms) in values {
            let _ = self.write(now, &key, value, expires_ms);
        }
    }
}
