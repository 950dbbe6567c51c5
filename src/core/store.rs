//! Per-origin versioned key/value state and its merge rule: a higher version always wins, and
//! nothing (duplicates, reordering, stale anti-entropy) can move an entry backwards.
//!
//! Each origin has a *watermark*: the highest version `v` such that this node holds every
//! change the origin made up to `v`. Anti-entropy compares watermarks, so a rumor that arrives
//! ahead of a missing one is applied key by key but does not advance the watermark, and the gap
//! is still repaired later.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::wire::{Entry, NodeId, Origin, OriginDelta, VersionClaim, SYNC_BUCKETS};

use super::hash::{bucket_of, contribution, Seeded};
use super::time::Time;

/// How a piece of news reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// It is our own state.
    Own,
    /// Pushed as a rumor after `hops` hops.
    Rumor { hops: u8 },
    /// Repaired by push-pull anti-entropy.
    Sync,
}

impl Route {
    /// Name shown in status output.
    pub fn name(self) -> &'static str {
        match self {
            Route::Own => "self",
            Route::Rumor { .. } => "rumor",
            Route::Sync => "sync",
        }
    }

    /// Hops travelled, 0 when unknown or our own.
    pub fn hops(self) -> u8 {
        match self {
            Route::Rumor { hops } => hops,
            _ => 0,
        }
    }
}

/// A value and the origin version that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// The bytes, or `None` for a deleted key (a tombstone: it must outrank older values).
    pub value: Option<Vec<u8>>,
    pub version: u64,
}

/// One origin's keys, sorted by key. A node typically holds a handful of keys per origin and
/// thousands of origins, so a small vector beats a map in both memory and speed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Values(Vec<(String, Versioned)>);

impl Values {
    /// The value of `key`, if held.
    pub fn get(&self, key: &str) -> Option<&Versioned> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// Sets `key`, replacing any older value.
    pub fn insert(&mut self, key: String, value: Versioned) {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&key)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    /// Keys and values in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Versioned)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Everything this node holds about one origin.
#[derive(Clone, Debug)]
pub struct OriginState {
    pub addr: SocketAddr,
    pub watermark: u64,
    pub values: Values,
    /// When this node last learned something new about the origin.
    pub changed_at: Time,
    /// How the newest change reached us.
    pub route: Route,
    /// The peer that delivered the newest change, when it was not the origin itself.
    pub via: Option<SocketAddr>,
    bucket: u8,
    contribution: u64,
}

impl OriginState {
    /// Entries changed after `since`, oldest first.
    fn entries_after(&self, since: u64) -> Vec<Entry> {
        let mut entries: Vec<Entry> = self
            .values
            .iter()
            .filter(|(_, v)| v.version > since)
            .map(|(k, v)| Entry {
                key: k.clone(),
                value: v.value.clone(),
                version: v.version,
            })
            .collect();
        entries.sort_by_key(|e| e.version);
        entries
    }
}

/// How a piece of received state changed ours.
#[derive(Debug, Default)]
pub struct Applied {
    /// Entries that were newer than what we held.
    pub changed: Vec<Entry>,
    /// True when we had never heard of the origin.
    pub new_origin: bool,
    /// True when the watermark moved forward.
    pub advanced: bool,
}

impl Applied {
    /// Whether anything at all was learned.
    pub fn learned(&self) -> bool {
        self.new_origin || self.advanced || !self.changed.is_empty()
    }
}

/// Where the newest information came from, for the status table and log lines.
#[derive(Clone, Copy, Debug)]
pub struct Provenance {
    pub now: Time,
    pub route: Route,
    pub via: Option<SocketAddr>,
}

/// All origins' state, including our own: a slab of states with an id index, and per
/// anti-entropy bucket the slots of its origins, so digests walk vectors instead of hashing.
#[derive(Debug)]
pub struct Store {
    own: NodeId,
    states: Vec<(NodeId, OriginState)>,
    index: HashMap<NodeId, u32, Seeded>,
    buckets: [u64; SYNC_BUCKETS],
    bucket_slots: Vec<Vec<u32>>,
}

impl Store {
    /// A store for node `own` reachable at `addr`, holding no state yet. `hasher` seeds the
    /// origin index (see [`super::hash`]).
    pub fn new(own: NodeId, addr: SocketAddr, now: Time, hasher: Seeded) -> Self {
        let mut store = Store {
            own: own.clone(),
            states: Vec::new(),
            index: HashMap::with_hasher(hasher),
            buckets: [0; SYNC_BUCKETS],
            bucket_slots: vec![Vec::new(); SYNC_BUCKETS],
        };
        store.insert_origin(own, addr, now);
        store
    }

    fn insert_origin(&mut self, id: NodeId, addr: SocketAddr, now: Time) -> usize {
        let bucket = bucket_of(&id);
        let contrib = contribution(&id, 0);
        let slot = self.states.len();
        self.buckets[bucket as usize] ^= contrib;
        self.bucket_slots[bucket as usize].push(slot as u32);
        self.index.insert(id.clone(), slot as u32);
        self.states.push((
            id,
            OriginState {
                addr,
                watermark: 0,
                values: Values::default(),
                changed_at: now,
                route: Route::Own,
                via: None,
                bucket,
                contribution: contrib,
            },
        ));
        slot
    }

    fn slot(&self, id: &NodeId) -> Option<usize> {
        self.index.get(id).map(|&s| s as usize)
    }

    fn set_watermark(&mut self, slot: usize, watermark: u64) {
        let (id, state) = &mut self.states[slot];
        let contrib = contribution(id, watermark);
        self.buckets[state.bucket as usize] ^= state.contribution ^ contrib;
        state.contribution = contrib;
        state.watermark = watermark;
    }

    /// Our own id.
    pub fn own_id(&self) -> &NodeId {
        &self.own
    }

    /// Our own state (always slot 0: inserted first, never removed).
    pub fn own(&self) -> &OriginState {
        &self.states[0].1
    }

    /// Sets (`Some`) or deletes (`None`) one of our own keys, bumping our version; returns the
    /// entry to spread.
    pub fn set_own(&mut self, key: &str, value: Option<&[u8]>, now: Time) -> Entry {
        let version = self.own().watermark + 1;
        let value = value.map(<[u8]>::to_vec);
        let state = &mut self.states[0].1;
        state.values.insert(
            key.to_string(),
            Versioned {
                value: value.clone(),
                version,
            },
        );
        state.changed_at = now;
        self.set_watermark(0, version);
        Entry {
            key: key.to_string(),
            value,
            version,
        }
    }

    /// Raises our own version counter to at least `floor` without changing any value, so a
    /// restarted node never reissues a version the cluster already saw.
    pub fn raise_own_version(&mut self, floor: u64) {
        if floor > self.own().watermark {
            self.set_watermark(0, floor);
        }
    }

    /// Merges entries covering `(since, upto]` of `origin`. Entries apply key by key when newer;
    /// the watermark only advances when the range joins up with what we already hold.
    pub fn apply(
        &mut self,
        origin: &Origin,
        since: u64,
        upto: u64,
        entries: Vec<Entry>,
        provenance: Provenance,
    ) -> Applied {
        let mut applied = Applied::default();
        if origin.id == self.own {
            return applied;
        }
        let slot = match self.slot(&origin.id) {
            Some(slot) => slot,
            None => {
                applied.new_origin = true;
                self.insert_origin(origin.id.clone(), origin.addr, provenance.now)
            }
        };
        let state = &mut self.states[slot].1;
        for entry in entries {
            let newer = state
                .values
                .get(&entry.key)
                .is_none_or(|held| entry.version > held.version);
            if newer {
                state.values.insert(
                    entry.key.clone(),
                    Versioned {
                        value: entry.value.clone(),
                        version: entry.version,
                    },
                );
                applied.changed.push(entry);
            }
        }
        applied.advanced = since <= state.watermark && upto > state.watermark;
        if applied.learned() {
            state.changed_at = provenance.now;
            state.route = provenance.route;
            state.via = provenance.via;
            // A newer version arriving means the origin's current address is the one it used.
            state.addr = origin.addr;
        }
        if applied.advanced {
            self.set_watermark(slot, upto);
        }
        applied
    }

    /// Makes room for `more` origins at once (a backlog is about to arrive), instead of
    /// growing the tables step by step.
    pub fn reserve(&mut self, more: usize) {
        self.states.reserve(more);
        self.index.reserve(more);
    }

    /// Every origin we hold, in the order we learned them (ourselves first).
    pub fn origins(&self) -> impl Iterator<Item = (&NodeId, &OriginState)> {
        self.states.iter().map(|(id, s)| (id, s))
    }

    /// Every origin we hold, sorted by id (for display).
    pub fn origins_sorted(&self) -> Vec<(&NodeId, &OriginState)> {
        let mut all: Vec<_> = self.origins().collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// One origin's state.
    pub fn get(&self, id: &NodeId) -> Option<&OriginState> {
        self.slot(id).map(|slot| &self.states[slot].1)
    }

    /// A fingerprint of what we hold of `id` (its entries and versions), 0 if nothing.
    pub fn fingerprint(&self, id: &NodeId) -> u64 {
        let Some(state) = self.get(id) else {
            return 0;
        };
        let mut bytes = Vec::new();
        for (key, v) in state.values.iter() {
            bytes.extend_from_slice(key.as_bytes());
            bytes.push(0);
            match &v.value {
                Some(value) => {
                    bytes.push(1);
                    bytes.extend_from_slice(&(value.len() as u64).to_le_bytes());
                    bytes.extend_from_slice(value);
                }
                None => bytes.push(0),
            }
            bytes.extend_from_slice(&v.version.to_le_bytes());
        }
        xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, state.watermark)
    }

    /// Our watermark for `id`, 0 if we never heard of it.
    pub fn watermark(&self, id: &NodeId) -> u64 {
        self.get(id).map_or(0, |s| s.watermark)
    }

    /// Number of origins held, ourselves included.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Never true: we always hold our own origin. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Per-bucket hashes of (origin, watermark): the first step of anti-entropy.
    pub fn summary(&self) -> Vec<u64> {
        self.buckets.to_vec()
    }

    /// Origins in `bucket` with our watermarks, in the order we learned them.
    pub fn bucket(&self, bucket: u8) -> impl Iterator<Item = (&NodeId, u64)> {
        self.bucket_slots[bucket as usize % SYNC_BUCKETS]
            .iter()
            .map(|&slot| {
                let (id, state) = &self.states[slot as usize];
                (id, state.watermark)
            })
    }

    /// Our watermark claims for the origins in `bucket`.
    pub fn claims_in_bucket(&self, bucket: u8) -> Vec<VersionClaim> {
        self.bucket(bucket)
            .map(|(id, version)| VersionClaim {
                origin: id.clone(),
                version,
            })
            .collect()
    }

    /// What a peer holding `origin` up to `since` lacks, oldest first, cut to at most
    /// `max_entries`. `upto` is the last version covered, so a cut delta is still gap-free.
    pub fn delta_since(&self, id: &NodeId, since: u64, max_entries: usize) -> Option<OriginDelta> {
        let state = self.get(id)?;
        if state.watermark <= since {
            return None;
        }
        let mut entries = state.entries_after(since);
        let upto = if entries.len() > max_entries {
            entries.truncate(max_entries);
            entries.last().map_or(since, |e| e.version)
        } else {
            state.watermark
        };
        if upto <= since {
            return None;
        }
        Some(OriginDelta {
            origin: Origin {
                id: id.clone(),
                addr: state.addr,
            },
            since,
            upto,
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn origin(name: &str, port: u16) -> Origin {
        Origin {
            id: NodeId::from(name),
            addr: addr(port),
        }
    }

    fn entry(key: &str, value: &str, version: u64) -> Entry {
        Entry {
            key: key.into(),
            value: Some(value.as_bytes().to_vec()),
            version,
        }
    }

    fn at(ms: u64) -> Provenance {
        Provenance {
            now: Time::from_millis(ms),
            route: Route::Rumor { hops: 1 },
            via: None,
        }
    }

    #[test]
    fn newer_versions_win_and_old_ones_never_move_state_back() {
        let mut store = Store::new("me".into(), addr(1), Time::ZERO, Seeded::default());
        let o = origin("a", 2);
        store.apply(&o, 0, 2, vec![entry("book", "Dune", 2)], at(1));
        let stale = store.apply(&o, 0, 1, vec![entry("book", "Emma", 1)], at(2));
        assert!(!stale.learned());
        assert_eq!(
            store.get(&o.id).unwrap().values.get("book").unwrap().value.as_deref(),
            Some(&b"Dune"[..])
        );
        let dup = store.apply(&o, 0, 2, vec![entry("book", "Dune", 2)], at(3));
        assert!(!dup.learned());
        assert_eq!(store.get(&o.id).unwrap().watermark, 2);
    }

    #[test]
    fn out_of_order_rumor_applies_but_leaves_the_gap_visible() {
        let mut store = Store::new("me".into(), addr(1), Time::ZERO, Seeded::default());
        let o = origin("a", 2);
        store.apply(&o, 0, 1, vec![entry("book", "Dune", 1)], at(1));
        // Version 3 arrives before version 2 (which changed another key).
        let r = store.apply(&o, 2, 3, vec![entry("book", "Emma", 3)], at(2));
        assert_eq!(r.changed.len(), 1);
        assert!(!r.advanced);
        assert_eq!(store.get(&o.id).unwrap().watermark, 1);
        // Anti-entropy later sends (1, 3]; the missing key arrives and the watermark catches up.
        let r = store.apply(
            &o,
            1,
            3,
            vec![entry("color", "blue", 2), entry("book", "Emma", 3)],
            at(3),
        );
        assert!(r.advanced);
        let state = store.get(&o.id).unwrap();
        assert_eq!(state.watermark, 3);
        assert_eq!(state.values.get("color").unwrap().value.as_deref(), Some(&b"blue"[..]));
        assert_eq!(state.values.get("book").unwrap().value.as_deref(), Some(&b"Emma"[..]));
    }

    #[test]
    fn summaries_match_exactly_when_watermarks_match() {
        let mut a = Store::new("a".into(), addr(1), Time::ZERO, Seeded::default());
        let mut b = Store::new("b".into(), addr(2), Time::ZERO, Seeded::default());
        a.set_own("book", Some(b"Dune"), Time::ZERO);
        b.set_own("book", Some(b"Emma"), Time::ZERO);
        assert_ne!(a.summary(), b.summary());
        let da = a.delta_since(&"a".into(), 0, 100).unwrap();
        let db = b.delta_since(&"b".into(), 0, 100).unwrap();
        b.apply(&da.origin, da.since, da.upto, da.entries.clone(), at(1));
        a.apply(&db.origin, db.since, db.upto, db.entries.clone(), at(1));
        assert_eq!(a.summary(), b.summary());
        a.set_own("book", Some(b"Ulysses"), Time::ZERO);
        assert_ne!(a.summary(), b.summary());
    }

    #[test]
    fn a_cut_delta_is_a_valid_prefix() {
        let mut a = Store::new("a".into(), addr(1), Time::ZERO, Seeded::default());
        for i in 0..5 {
            a.set_own(&format!("k{i}"), Some(b"v"), Time::ZERO);
        }
        let mut b = Store::new("b".into(), addr(2), Time::ZERO, Seeded::default());
        let first = a.delta_since(&"a".into(), 0, 2).unwrap();
        assert_eq!((first.since, first.upto, first.entries.len()), (0, 2, 2));
        b.apply(
            &first.origin,
            first.since,
            first.upto,
            first.entries.clone(),
            at(1),
        );
        let held = b.get(&"a".into()).unwrap().watermark;
        let rest = a.delta_since(&"a".into(), held, 100).unwrap();
        b.apply(
            &rest.origin,
            rest.since,
            rest.upto,
            rest.entries.clone(),
            at(2),
        );
        assert_eq!(b.get(&"a".into()).unwrap().values.len(), 5);
        assert_eq!(b.get(&"a".into()).unwrap().watermark, 5);
    }
}
