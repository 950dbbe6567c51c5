//! Per-origin versioned key/value state and its merge rule: a higher version always wins, and
//! nothing (duplicates, reordering, stale anti-entropy) can move an entry backwards.
//!
//! Each origin has a *watermark*: the highest version `v` such that this node holds every
//! change the origin made up to `v`. Anti-entropy compares watermarks, so a rumor that arrives
//! ahead of a missing one is applied key by key but does not advance the watermark, and the gap
//! is still repaired later.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use crate::wire::{
    origin_hash,
    Announce, Entry, NodeId, Origin, OriginDelta, Payload, PublicKey, Signature, VersionClaim,
    SYNC_BUCKETS,
};

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

/// Values longer than this carry their BLAKE3 hash (announced values are checked against it).
const HASHED_ABOVE: usize = 64;

/// A value and the origin version that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// The bytes, or `None` for a deleted key (a tombstone: it must outrank older values).
    pub value: Option<Bytes>,
    pub version: u64,
    /// Wall-clock deadline (ms since the UNIX epoch) after which the key is gone.
    pub expires_ms: Option<u64>,
    /// BLAKE3 of a value longer than [`HASHED_ABOVE`] bytes. Boxed: most values are small,
    /// and a node holds one `Versioned` per key per origin.
    pub hash: Option<Box<[u8; 32]>>,
    /// The origin's signature over this change, kept to pass it on. Boxed: absent in clusters
    /// without identities.
    pub sig: Option<Box<Signature>>,
}

impl Versioned {
    /// A value (or tombstone) at `version`, hashing it if it may be announced.
    pub fn new(value: Option<Bytes>, version: u64, expires_ms: Option<u64>) -> Self {
        let hash = value
            .as_ref()
            .filter(|v| v.len() > HASHED_ABOVE)
            .map(|v| Box::new(*blake3::hash(v).as_bytes()));
        Versioned {
            value,
            version,
            expires_ms,
            hash,
            sig: None,
        }
    }

    /// The same change, carrying the origin's signature.
    pub fn signed(mut self, sig: Option<Signature>) -> Self {
        self.sig = sig.map(Box::new);
        self
    }

    /// A value whose hash is already known (checked against its announcement).
    pub fn hashed(value: Bytes, version: u64, expires_ms: Option<u64>, hash: [u8; 32]) -> Self {
        Versioned {
            value: Some(value),
            version,
            expires_ms,
            hash: Some(Box::new(hash)),
            sig: None,
        }
    }

    /// The bytes, if the key is set and has not expired at wall-clock `wall_ms`.
    pub fn live(&self, wall_ms: u64) -> Option<&Bytes> {
        match self.expires_ms {
            Some(at) if wall_ms >= at => None,
            _ => self.value.as_ref(),
        }
    }

    /// Deleted, or expired at `wall_ms`.
    pub fn is_dead(&self, wall_ms: u64) -> bool {
        self.live(wall_ms).is_none()
    }

    /// Bytes held: the value's length (0 for a tombstone).
    pub fn size(&self) -> u64 {
        self.value.as_ref().map_or(0, |v| v.len() as u64)
    }

    /// How this value travels from a node that sends values up to `form.inline_max` inline.
    pub fn payload(&self, form: Form) -> Payload {
        match (&self.value, &self.hash) {
            (None, _) => Payload::Deleted,
            (Some(v), Some(hash)) if v.len() > form.inline_max && form.piece > 0 => {
                Payload::Announced(Announce {
                    size: v.len() as u32,
                    hash: **hash,
                    piece: form.piece,
                })
            }
            (Some(v), _) => Payload::Inline(v.to_vec()),
        }
    }
}

/// How this node puts values on the wire: values up to `inline_max` bytes whole, larger ones
/// announced with pieces of `piece` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Form {
    pub inline_max: usize,
    pub piece: u32,
}

impl Form {
    /// Every value inline (tests and tools that never announce).
    pub const INLINE: Form = Form {
        inline_max: usize::MAX,
        piece: 0,
    };
}

/// One origin's keys, sorted by key, and the bytes they hold. A node typically holds a
/// handful of keys per origin and thousands of origins, so a small vector beats a map in both
/// memory and speed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Values {
    list: Vec<(String, Versioned)>,
    bytes: u64,
}

impl Values {
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.list.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value of `key`, if held.
    pub fn get(&self, key: &str) -> Option<&Versioned> {
        self.find(key).ok().map(|i| &self.list[i].1)
    }

    /// Sets `key`, replacing any older value.
    pub fn insert(&mut self, key: String, value: Versioned) {
        self.bytes += value.size();
        match self.find(&key) {
            Ok(i) => {
                self.bytes -= self.list[i].1.size();
                self.list[i].1 = value;
            }
            Err(i) => {
                self.bytes += key.len() as u64;
                // Most origins hold one or two keys: grow one slot at a time, not by the
                // default first allocation of four.
                self.list.reserve_exact(1);
                self.list.insert(i, (key, value));
            }
        }
    }

    /// Forgets `key` (a collected tombstone or expired key).
    fn remove(&mut self, key: &str) -> Option<Versioned> {
        let i = self.find(key).ok()?;
        let (key, value) = self.list.remove(i);
        self.bytes -= key.len() as u64 + value.size();
        Some(value)
    }

    /// Keys and values in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Versioned)> {
        self.list.iter().map(|(k, v)| (k, v))
    }

    /// Number of keys (tombstones included).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Bytes held: every key and value.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Bytes these values would hold with `key` set to a value of `len` bytes (replacing
    /// its current one, or adding the key): what the state limits are checked against.
    pub fn bytes_with(&self, key: &str, len: usize) -> u64 {
        let len = len as u64;
        match self.get(key) {
            Some(held) => self.bytes - held.size() + len,
            None => self.bytes + key.len() as u64 + len,
        }
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
    /// Highest version of a tombstone or expired key this node has collected: a peer behind
    /// it gets the origin's whole state (a reset) instead of a delta that would omit them.
    pub collected_upto: u64,
    /// The key the origin signs with, as last delivered with news of it (passed on to peers;
    /// which key is *trusted* is the trust table's business).
    pub signer: Option<PublicKey>,
    /// The origin's signed statement that its state reached a version no held entry carries.
    pub head: Option<Box<(u64, Signature)>>,
    bucket: u8,
    contribution: u64,
}

impl OriginState {
    /// Entries changed after `since`, oldest first.
    fn entries_after(&self, since: u64, form: Form) -> Vec<Entry> {
        let mut entries: Vec<Entry> = self
            .values
            .iter()
            .filter(|(_, v)| v.version > since)
            .map(|(k, v)| Entry {
                key: k.clone(),
                value: v.payload(form),
                version: v.version,
                expires_ms: v.expires_ms,
                sig: v.sig.as_deref().copied(),
            })
            .collect();
        entries.sort_by_key(|e| e.version);
        entries
    }

    /// The signed head for `version`, if we hold one.
    fn head_for(&self, version: u64) -> Option<Signature> {
        self.head
            .as_deref()
            .filter(|(v, _)| *v == version)
            .map(|(_, sig)| *sig)
    }
}

/// A change applied to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    /// The new value, `None` for a deletion.
    pub value: Option<Bytes>,
    pub version: u64,
    pub expires_ms: Option<u64>,
}

/// An announced value this node does not hold yet: its bytes must be fetched. Until they
/// arrive the key keeps its previous value and the origin's watermark stays below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withheld {
    pub key: String,
    pub version: u64,
    pub announce: Announce,
    pub expires_ms: Option<u64>,
    pub sig: Option<Signature>,
}

/// How a piece of received state changed ours.
#[derive(Debug, Default)]
pub struct Applied {
    /// Entries that were newer than what we held.
    pub changed: Vec<Stored>,
    /// Announced values newer than what we hold, to fetch.
    pub withheld: Vec<Withheld>,
    /// True when we had never heard of the origin.
    pub new_origin: bool,
    /// True when the watermark moved forward.
    pub advanced: bool,
}

impl Applied {
    /// Whether anything at all was learned (a withheld value counts once fetched).
    pub fn learned(&self) -> bool {
        self.new_origin || self.advanced || !self.changed.is_empty()
    }
}

/// What vouches for received state: the origin's key as the sender names it, and the origin's
/// signed head when the range's last version has no entry.
#[derive(Clone, Copy, Debug, Default)]
pub struct Signed {
    pub signer: Option<PublicKey>,
    pub head: Option<Signature>,
}

/// Where the newest information came from, for the status table and log lines.
#[derive(Clone, Copy, Debug)]
pub struct Provenance {
    pub now: Time,
    pub route: Route,
    pub via: Option<SocketAddr>,
    /// What vouches for it.
    pub signed: Signed,
}

/// A key that is dead (deleted or expired) since `since`, waiting out the grace period.
#[derive(Debug)]
struct Grave {
    since: Time,
    slot: u32,
    key: String,
    version: u64,
}

/// All origins' state, including our own: a slab of states with an id index, and per
/// anti-entropy bucket the slots of its origins, so digests walk vectors instead of hashing.
#[derive(Debug)]
pub struct Store {
    own: NodeId,
    states: Vec<(NodeId, OriginState)>,
    index: HashMap<NodeId, u32, Seeded>,
    buckets: [u64; SYNC_BUCKETS],
    /// Per bucket: the slot and [`origin_hash`] of each origin in it.
    bucket_slots: Vec<Vec<(u32, u64)>>,
    /// Keys with a TTL, soonest deadline first: (deadline ms, slot, version, key). Entries
    /// overwritten since are skipped when they come up.
    expiries: BinaryHeap<Reverse<(u64, u32, u64, String)>>,
    /// Dead keys in the order they died, collected a grace period later.
    graves: VecDeque<Grave>,
}

/// A key that expired: who, which, at what version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expired {
    pub origin: NodeId,
    pub key: String,
    pub version: u64,
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
            expiries: BinaryHeap::new(),
            graves: VecDeque::new(),
        };
        store.insert_origin(own, addr, now);
        store
    }

    fn insert_origin(&mut self, id: NodeId, addr: SocketAddr, now: Time) -> usize {
        let hash = origin_hash(&id);
        let bucket = bucket_of(hash);
        let contrib = contribution(&id, 0);
        let slot = self.states.len();
        self.buckets[bucket as usize] ^= contrib;
        self.bucket_slots[bucket as usize].push((slot as u32, hash));
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
                collected_upto: 0,
                signer: None,
                head: None,
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
    /// entry to spread, in `form`.
    pub fn set_own(
        &mut self,
        key: &str,
        value: Option<Bytes>,
        expires_ms: Option<u64>,
        now: Time,
        form: Form,
    ) -> Entry {
        let version = self.own().watermark + 1;
        let stored = Versioned::new(value, version, expires_ms);
        let entry = Entry {
            key: key.to_string(),
            value: stored.payload(form),
            version,
            expires_ms,
            sig: None,
        };
        self.put(0, key.to_string(), stored, now);
        self.states[0].1.changed_at = now;
        self.set_watermark(0, version);
        entry
    }

    /// Stores `value` under `key` of the origin in `slot`, noting a tombstone's or a TTL's
    /// deadline.
    fn put(&mut self, slot: usize, key: String, value: Versioned, now: Time) {
        if let Some(at) = value.expires_ms {
            self.expiries
                .push(Reverse((at, slot as u32, value.version, key.clone())));
        }
        if value.value.is_none() {
            self.graves.push_back(Grave {
                since: now,
                slot: slot as u32,
                key: key.clone(),
                version: value.version,
            });
        }
        self.states[slot].1.values.insert(key, value);
    }

    /// Attaches our signature to our own change of `key` at `version` (made just before).
    pub fn sign_own(&mut self, key: &str, version: u64, sig: Signature) {
        if let Ok(i) = self.states[0].1.values.find(key) {
            let held = &mut self.states[0].1.values.list[i].1;
            if held.version == version {
                held.sig = Some(Box::new(sig));
            }
        }
    }

    /// Our public key, sent with our state; and our signed head for our current version.
    pub fn set_own_signer(&mut self, key: PublicKey) {
        self.states[0].1.signer = Some(key);
    }

    /// Our signed statement that our state reached `version` (our current one).
    pub fn set_own_head(&mut self, version: u64, sig: Signature) {
        self.states[0].1.head = Some(Box::new((version, sig)));
    }

    /// Raises our own version counter to at least `floor` without changing any value, so a
    /// restarted node never reissues a version the cluster already saw.
    pub fn raise_own_version(&mut self, floor: u64) {
        if floor > self.own().watermark {
            self.set_watermark(0, floor);
        }
    }

    /// Merges entries covering `(since, upto]` of `origin`. Entries apply key by key when newer;
    /// the watermark only advances when the range joins up with what we already hold, and
    /// never past an announced value we still have to fetch. A `reset` range is the origin's
    /// whole state up to `upto`: keys held at or below it but not listed are gone.
    pub fn apply(
        &mut self,
        origin: &Origin,
        since: u64,
        upto: u64,
        entries: Vec<Entry>,
        reset: bool,
        provenance: Provenance,
    ) -> Applied {
        let signed = provenance.signed;
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
        let listed: Vec<String> = if reset {
            entries.iter().map(|e| e.key.clone()).collect()
        } else {
            Vec::new()
        };
        for entry in entries {
            if !self.is_newer(slot, &entry.key, entry.version) {
                continue;
            }
            let (version, expires_ms) = (entry.version, entry.expires_ms);
            let stored = match entry.value {
                Payload::Deleted => Versioned::new(None, version, expires_ms),
                Payload::Inline(bytes) => Versioned::new(Some(Bytes::from(bytes)), version, expires_ms),
                Payload::Announced(announce) => {
                    match self.held_with_hash(slot, &entry.key, &announce) {
                        // The same bytes under an older version (a republish): no fetch.
                        Some(bytes) => Versioned::hashed(bytes, version, expires_ms, announce.hash),
                        None => {
                            applied.withheld.push(Withheld {
                                key: entry.key,
                                version: entry.version,
                                announce,
                                expires_ms: entry.expires_ms,
                                sig: entry.sig,
                            });
                            continue;
                        }
                    }
                }
            }
            .signed(entry.sig);
            self.store_change(slot, &mut applied, entry.key, stored, provenance.now);
        }
        let upto = applied
            .withheld
            .iter()
            .map(|w| w.version - 1)
            .fold(upto, u64::min);
        if reset {
            self.drop_unlisted(slot, &listed, upto);
        }
        self.advance(slot, since, upto, &mut applied, origin.addr, provenance);
        let state = &mut self.states[slot].1;
        if applied.learned() && signed.signer.is_some() {
            state.signer = signed.signer;
        }
        if let Some(sig) = signed.head.filter(|_| state.watermark == upto) {
            state.head = Some(Box::new((upto, sig)));
        }
        applied
    }

    /// A fetched value arrived whole: stores it if still newer, and advances the watermark
    /// over `(since, upto]` (the range its announcement came with, up to the next value still
    /// being fetched).
    pub fn complete(
        &mut self,
        origin: &Origin,
        since: u64,
        upto: u64,
        withheld: Withheld,
        bytes: Bytes,
        provenance: Provenance,
    ) -> Applied {
        let mut applied = Applied::default();
        let Some(slot) = self.slot(&origin.id).filter(|_| origin.id != self.own) else {
            return applied;
        };
        if self.is_newer(slot, &withheld.key, withheld.version) {
            let hash = withheld.announce.hash;
            let stored = Versioned::hashed(bytes, withheld.version, withheld.expires_ms, hash)
                .signed(withheld.sig);
            self.store_change(slot, &mut applied, withheld.key, stored, provenance.now);
        }
        self.advance(slot, since, upto, &mut applied, origin.addr, provenance);
        applied
    }

    /// Whether a change of `id`'s `key` at `version` would change what we hold: newer than our
    /// value (or, for our own state, than our counter). Everything is news about an origin we
    /// never heard of.
    pub fn would_change(&self, id: &NodeId, key: &str, version: u64) -> bool {
        match self.slot(id) {
            Some(0) => version > self.own().watermark,
            Some(slot) => self.is_newer(slot, key, version),
            None => true,
        }
    }

    /// Whether `version` of `key` would replace what the origin in `slot` holds. A key we do
    /// not hold at a version we hold everything up to was deleted and collected since.
    fn is_newer(&self, slot: usize, key: &str, version: u64) -> bool {
        let state = &self.states[slot].1;
        match state.values.get(key) {
            Some(held) => version > held.version,
            None => version > state.watermark,
        }
    }

    /// The bytes held under `key` if they hash to the announced value.
    fn held_with_hash(&self, slot: usize, key: &str, announce: &Announce) -> Option<Bytes> {
        let held = self.states[slot].1.values.get(key)?;
        let bytes = held.value.as_ref()?;
        (held.hash.as_deref() == Some(&announce.hash) && bytes.len() == announce.size as usize)
            .then(|| bytes.clone())
    }

    fn store_change(
        &mut self,
        slot: usize,
        applied: &mut Applied,
        key: String,
        stored: Versioned,
        now: Time,
    ) {
        applied.changed.push(Stored {
            key: key.clone(),
            value: stored.value.clone(),
            version: stored.version,
            expires_ms: stored.expires_ms,
        });
        self.put(slot, key, stored, now);
    }

    /// Forgets keys of a reset origin held at or below `upto` but not `listed`.
    fn drop_unlisted(&mut self, slot: usize, listed: &[String], upto: u64) {
        let gone: Vec<String> = self.states[slot]
            .1
            .values
            .iter()
            .filter(|(k, v)| v.version <= upto && !listed.contains(k))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            self.states[slot].1.values.remove(&key);
        }
    }

    fn advance(
        &mut self,
        slot: usize,
        since: u64,
        upto: u64,
        applied: &mut Applied,
        addr: SocketAddr,
        provenance: Provenance,
    ) {
        let state = &mut self.states[slot].1;
        applied.advanced = since <= state.watermark && upto > state.watermark;
        if applied.learned() {
            state.changed_at = provenance.now;
            state.route = provenance.route;
            state.via = provenance.via;
            // A newer version arriving means the origin's current address is the one it used.
            state.addr = addr;
        }
        if applied.advanced {
            self.set_watermark(slot, upto);
        }
    }

    /// The soonest TTL deadline (wall-clock ms) still pending, if any.
    pub fn next_expiry(&self) -> Option<u64> {
        self.expiries.peek().map(|Reverse((at, ..))| *at)
    }

    /// Keys whose TTL passed by `wall_ms`: each is now dead (hidden from readers) and will be
    /// collected a grace period after `now`.
    pub fn expire_due(&mut self, wall_ms: u64, now: Time) -> Vec<Expired> {
        let mut expired = Vec::new();
        while let Some(Reverse((at, ..))) = self.expiries.peek() {
            if *at > wall_ms {
                break;
            }
            let Some(Reverse((_, slot, version, key))) = self.expiries.pop() else {
                break;
            };
            let (id, state) = &self.states[slot as usize];
            let current = state
                .values
                .get(&key)
                .is_some_and(|v| v.version == version && v.value.is_some());
            if current {
                expired.push(Expired {
                    origin: id.clone(),
                    key: key.clone(),
                    version,
                });
                self.graves.push_back(Grave {
                    since: now,
                    slot,
                    key,
                    version,
                });
            }
        }
        expired
    }

    /// When the oldest dead key is due for collection, given `grace`.
    pub fn next_collection(&self, grace: Duration) -> Option<Time> {
        self.graves.front().map(|g| g.since + grace)
    }

    /// Forgets keys dead for at least `grace` (deleted, or expired by `wall_ms`); how many.
    /// A key is only collected once the watermark covers it, so a peer can be told it is
    /// gone (see [`OriginState::collected_upto`]).
    pub fn collect(&mut self, now: Time, wall_ms: u64, grace: Duration) -> usize {
        let mut collected = 0;
        let mut later = Vec::new();
        while self.graves.front().is_some_and(|g| g.since + grace <= now) {
            let Some(grave) = self.graves.pop_front() else {
                break;
            };
            let state = &mut self.states[grave.slot as usize].1;
            let dead = state
                .values
                .get(&grave.key)
                .is_some_and(|v| v.version == grave.version && v.is_dead(wall_ms));
            if !dead {
                continue;
            }
            // Not yet covered by the watermark; or the signed change that vouches for the
            // watermark itself, which a peer checking signatures needs to catch up to it.
            let proof = grave.version == state.watermark
                && state.head_for(grave.version).is_none()
                && state.values.get(&grave.key).is_some_and(|v| v.sig.is_some());
            if grave.version > state.watermark || proof {
                later.push(Grave { since: now, ..grave });
                continue;
            }
            state.values.remove(&grave.key);
            state.collected_upto = state.collected_upto.max(grave.version);
            collected += 1;
        }
        self.graves.extend(later);
        collected
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
            match (&v.value, &v.hash) {
                (Some(value), Some(hash)) => {
                    bytes.push(2);
                    bytes.extend_from_slice(&(value.len() as u64).to_le_bytes());
                    bytes.extend_from_slice(&hash[..]);
                }
                (Some(value), None) => {
                    bytes.push(1);
                    bytes.extend_from_slice(&(value.len() as u64).to_le_bytes());
                    bytes.extend_from_slice(value);
                }
                (None, _) => bytes.push(0),
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

    /// Number of origins in `bucket`.
    pub fn bucket_len(&self, bucket: u8) -> usize {
        self.bucket_slots[bucket as usize % SYNC_BUCKETS].len()
    }

    /// Origins in `bucket` with our watermarks, in the order we learned them.
    pub fn bucket(&self, bucket: u8) -> impl Iterator<Item = (&NodeId, u64)> {
        self.bucket_slots[bucket as usize % SYNC_BUCKETS]
            .iter()
            .map(|&(slot, _)| {
                let (id, state) = &self.states[slot as usize];
                (id, state.watermark)
            })
    }

    /// The [`origin_hash`] of each origin in `bucket`, with the order we learned it in (0:
    /// ourselves), which [`Store::delta_at`] takes.
    pub fn bucket_hashes(&self, bucket: u8) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.bucket_slots[bucket as usize % SYNC_BUCKETS]
            .iter()
            .map(|&(slot, hash)| (hash, slot))
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
    /// `max_entries`, values put in `form`. `upto` is the last version covered, so a cut delta
    /// is still gap-free. A peer behind a collected tombstone gets the whole state (a reset).
    pub fn delta_since(
        &self,
        id: &NodeId,
        since: u64,
        max_entries: usize,
        form: Form,
    ) -> Option<OriginDelta> {
        let slot = u32::try_from(self.slot(id)?).ok()?;
        self.delta_at(slot, since, max_entries, form)
    }

    /// [`Store::delta_since`] for the origin learned `learned`-th (as
    /// [`Store::bucket_hashes`] numbers them), without looking its id up.
    pub fn delta_at(
        &self,
        learned: u32,
        since: u64,
        max_entries: usize,
        form: Form,
    ) -> Option<OriginDelta> {
        let (id, state) = self.states.get(learned as usize)?;
        if state.watermark <= since {
            return None;
        }
        let reset = since < state.collected_upto;
        let since = if reset { 0 } else { since };
        let mut entries = state.entries_after(since, form);
        let upto = if entries.len() > max_entries {
            entries.truncate(max_entries);
            entries.last().map_or(since, |e| e.version)
        } else {
            state.watermark
        };
        if upto <= since {
            return None;
        }
        let head = if entries.last().is_some_and(|e| e.version == upto) {
            None
        } else {
            state.head_for(upto)
        };
        Some(OriginDelta {
            origin: Origin {
                id: id.clone(),
                addr: state.addr,
            },
            since,
            upto,
            entries,
            reset,
            signer: state.signer,
            head,
        })
    }

    /// Bytes held across every origin.
    pub fn bytes(&self) -> u64 {
        self.states.iter().map(|(_, s)| s.values.bytes()).sum()
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
            value: Payload::Inline(value.as_bytes().to_vec()),
            version,
            expires_ms: None,
            sig: None,
        }
    }

    fn at(ms: u64) -> Provenance {
        Provenance {
            now: Time::from_millis(ms),
            route: Route::Rumor { hops: 1 },
            via: None,
            signed: Signed::default(),
        }
    }

    #[test]
    fn newer_versions_win_and_old_ones_never_move_state_back() {
        let mut store = Store::new("me".into(), addr(1), Time::ZERO, Seeded::default());
        let o = origin("a", 2);
        store.apply(&o, 0, 2, vec![entry("book", "Dune", 2)], false, at(1));
        let stale = store.apply(&o, 0, 1, vec![entry("book", "Emma", 1)], false, at(2));
        assert!(!stale.learned());
        assert_eq!(
            store.get(&o.id).unwrap().values.get("book").unwrap().value.as_deref(),
            Some(&b"Dune"[..])
        );
        let dup = store.apply(&o, 0, 2, vec![entry("book", "Dune", 2)], false, at(3));
        assert!(!dup.learned());
        assert_eq!(store.get(&o.id).unwrap().watermark, 2);
    }

    #[test]
    fn out_of_order_rumor_applies_but_leaves_the_gap_visible() {
        let mut store = Store::new("me".into(), addr(1), Time::ZERO, Seeded::default());
        let o = origin("a", 2);
        store.apply(&o, 0, 1, vec![entry("book", "Dune", 1)], false, at(1));
        // Version 3 arrives before version 2 (which changed another key).
        let r = store.apply(&o, 2, 3, vec![entry("book", "Emma", 3)], false, at(2));
        assert_eq!(r.changed.len(), 1);
        assert!(!r.advanced);
        assert_eq!(store.get(&o.id).unwrap().watermark, 1);
        // Anti-entropy later sends (1, 3]; the missing key arrives and the watermark catches up.
        let r = store.apply(&o,
            1,
            3,
            vec![entry("color", "blue", 2), entry("book", "Emma", 3)],
            false,
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
        a.set_own("book", Some(Bytes::from_static(b"Dune")), None, Time::ZERO, Form::INLINE);
        b.set_own("book", Some(Bytes::from_static(b"Emma")), None, Time::ZERO, Form::INLINE);
        assert_ne!(a.summary(), b.summary());
        let da = a.delta_since(&"a".into(), 0, 100, Form::INLINE).unwrap();
        let db = b.delta_since(&"b".into(), 0, 100, Form::INLINE).unwrap();
        b.apply(&da.origin, da.since, da.upto, da.entries.clone(), false, at(1));
        a.apply(&db.origin, db.since, db.upto, db.entries.clone(), false, at(1));
        assert_eq!(a.summary(), b.summary());
        a.set_own("book", Some(Bytes::from_static(b"Ulysses")), None, Time::ZERO, Form::INLINE);
        assert_ne!(a.summary(), b.summary());
    }

    #[test]
    fn a_cut_delta_is_a_valid_prefix() {
        let mut a = Store::new("a".into(), addr(1), Time::ZERO, Seeded::default());
        for i in 0..5 {
            a.set_own(&format!("k{i}"), Some(Bytes::from_static(b"v")), None, Time::ZERO, Form::INLINE);
        }
        let mut b = Store::new("b".into(), addr(2), Time::ZERO, Seeded::default());
        let first = a.delta_since(&"a".into(), 0, 2, Form::INLINE).unwrap();
        assert_eq!((first.since, first.upto, first.entries.len()), (0, 2, 2));
        b.apply(
            &first.origin,
            first.since,
            first.upto,
            first.entries.clone(),
            false,
            at(1),
        );
        let held = b.get(&"a".into()).unwrap().watermark;
        let rest = a.delta_since(&"a".into(), held, 100, Form::INLINE).unwrap();
        b.apply(
            &rest.origin,
            rest.since,
            rest.upto,
            rest.entries.clone(),
            false,
            at(2),
        );
        assert_eq!(b.get(&"a".into()).unwrap().values.len(), 5);
        assert_eq!(b.get(&"a".into()).unwrap().watermark, 5);
    }

    #[test]
    fn state_size_counts_keys_and_values_and_a_replaced_value_once() {
        let mut store = Store::new("me".into(), addr(1), Time::ZERO, Seeded::default());
        let form = Form::INLINE;
        store.set_own("ab", Some(Bytes::from_static(b"12345")), None, Time::ZERO, form);
        let own = &store.own().values;
        assert_eq!(own.bytes(), 7);
        assert_eq!(own.bytes_with("ab", 2), 4, "replaces the 5-byte value");
        assert_eq!(own.bytes_with("xyz", 2), 12, "adds a key and its value");
    }

}
