//! The node's own state: writes (set, delete, preload) go into the store and out as rumors,
//! and a node that hears of a newer version of itself (it restarted and forgot) continues
//! above it. These touch the store and the rumor part together, so they live with the node.

use crate::wire::{self, Message, Rumor, MAX_KEY_LEN, MAX_VALUE_LEN};

use super::Node;
use crate::core::event::Event;
use crate::core::time::Time;

/// Why a `set` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    #[error("key must be 1..={MAX_KEY_LEN} bytes")]
    Key,
    #[error("value must be at most {MAX_VALUE_LEN} bytes")]
    Value,
    #[error("key and value are too large to fit one datagram at this MTU")]
    TooLarge,
}

impl Node {
    /// Sets one of our own keys and spreads it as a rumor; returns the new version.
    pub fn set(&mut self, now: Time, key: &str, value: &[u8]) -> Result<u64, SetError> {
        self.write(now, key, Some(value))
    }

    /// Deletes one of our own keys: a tombstone that spreads like any change, so every node
    /// stops showing the key. Returns the new version.
    pub fn delete(&mut self, now: Time, key: &str) -> Result<u64, SetError> {
        self.write(now, key, None)
    }

    /// Sets one of our own keys *without* spreading it: for state a node holds before it first
    /// talks (peers learn it in the join and anti-entropy exchanges). After that, use
    /// [`Node::set`].
    pub fn preload(&mut self, now: Time, key: &str, value: &[u8]) -> Result<u64, SetError> {
        self.check_write(key, Some(value))?;
        Ok(self.store.set_own(key, Some(value), now).version)
    }

    /// Refuses a key or value the wire could not carry.
    fn check_write(&self, key: &str, value: Option<&[u8]>) -> Result<(), SetError> {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(SetError::Key);
        }
        let len = value.map_or(0, <[u8]>::len);
        if len > MAX_VALUE_LEN {
            return Err(SetError::Value);
        }
        let probe = Rumor {
            id: uuid::Uuid::nil(),
            origin: self.config.origin(),
            since: u64::MAX - 1,
            version: u64::MAX,
            ttl: u8::MAX,
            hops: u8::MAX,
            entries: vec![wire::Entry {
                key: key.to_string(),
                value: value.map(<[u8]>::to_vec),
                version: u64::MAX,
            }],
        };
        if wire::encoded_len(&Message::Rumor(probe)) > self.transport.packer().budget() {
            return Err(SetError::TooLarge);
        }
        Ok(())
    }

    /// Sets (`Some`) or deletes (`None`) one of our own keys and spreads the change.
    pub(super) fn write(&mut self, now: Time, key: &str, value: Option<&[u8]>) -> Result<u64, SetError> {
        self.check_write(key, value)?;
        let entry = self.store.set_own(key, value, now);
        let version = entry.version;
        let rumor = Rumor {
            id: shared!(self).new_uuid(),
            origin: self.config.origin(),
            since: version - 1,
            version,
            ttl: self.ttl(),
            hops: 0,
            entries: vec![entry],
        };
        let pushed_to = self.rumors.originate(&mut shared!(self), now, rumor);
        self.emit(Event::Originated {
            key: key.to_string(),
            value: value.map(<[u8]>::to_vec),
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
        let values: Vec<(String, Option<Vec<u8>>)> = self
            .store
            .own()
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        for (key, value) in values {
            let _ = self.write(now, &key, value.as_deref());
        }
    }
}
