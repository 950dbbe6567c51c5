//! Push-pull anti-entropy in three steps, each MTU-bounded:
//! 1. initiator → peer: `SyncSummary` (one hash per bucket of the origin table);
//! 2. peer → initiator: `SyncDigest` with its version claims for the buckets that differ;
//! 3. initiator → peer: `Delta` with what the peer lacks, and `SyncPull` for what it lacks
//!    itself, which the peer answers with `Delta`.
//!
//! A converged pair exchanges one datagram. A big backlog is cut into version-ordered prefixes;
//! when an exchange shows we are far behind (new origins, or a capped reply), the next one is
//! brought forward so a joining node catches up in a few fast rounds instead of many slow ones.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::core::hash::Seeded;
use std::net::SocketAddr;

use crate::wire::{
    encoded_len, Delta, Message, NodeId, OriginDelta, SyncDigest, SyncPull, SyncSummary,
    VersionClaim, SYNC_BUCKETS,
};

use super::paging::paginate;
use super::shared::Shared;
use crate::core::config::{NodeConfig, SyncMode};
use crate::core::event::Route;
use crate::core::store::{Applied, Provenance};
use crate::core::time::Time;

/// Fast exchanges (a tenth of the interval apart) that follow the last sign of a backlog.
const CATCH_UP_ROUNDS: u8 = 3;
/// Where anti-entropy only repairs what rumors missed, exchanges after this many quiet ones
/// (no change applied here since the exchange before) start to space out, doubling the gap
/// up to `IDLE_SPACING` intervals. Any change brings the configured pace back at once, and
/// every node the change reached runs a few exchanges at that pace: a node the rumor missed
/// is still found within an interval or two.
const QUIET_BEFORE_SPACING: u32 = 10;
const IDLE_SPACING: u32 = 4;

/// What anti-entropy owns: when the next exchange starts, and how many more run at the
/// catch-up pace.
#[derive(Debug)]
pub(super) struct AntiEntropy {
    next: Time,
    /// Exchanges left to run at the fast catch-up pace.
    catch_up_rounds: u8,
    /// Exchanges in a row with no change applied here in between, and the running count of
    /// changes last noted.
    quiet: u32,
    changes_seen: Activity,
}

/// What counts as change for the anti-entropy pace: state changes applied here (a running
/// count), the members known, and member state changes (a running count). Cheap to read:
/// it is taken after every input.
pub(super) type Activity = (u64, usize, u64);

impl AntiEntropy {
    /// The first exchange starts at `first`.
    pub(super) fn new(first: Time) -> Self {
        AntiEntropy {
            next: first,
            catch_up_rounds: 0,
            quiet: 0,
            changes_seen: (0, 0, 0),
        }
    }

    /// When the next exchange starts.
    pub(super) fn next(&self) -> Time {
        self.next
    }

    /// Whether an exchange is due at `now`.
    pub(super) fn due(&self, now: Time) -> bool {
        self.next <= now
    }

    /// Whether a backlog is still being caught up (no one is judged dead meanwhile).
    pub(super) fn catching_up(&self) -> bool {
        self.catch_up_rounds > 0
    }

    /// Schedules the exchange after the one due at `now`: `jittered` later (a tenth of it
    /// while catching up), or, in lockstep (`None`), at the next multiple of `interval`.
    pub(super) fn ran(&mut self, now: Time, interval: Duration, jittered: Option<Duration>) {
        match jittered {
            None => {
                while self.next <= now {
                    self.next += interval;
                }
            }
            Some(mut next) => {
                if self.catch_up_rounds > 0 {
                    self.catch_up_rounds -= 1;
                    next /= 10;
                }
                self.next = now + next;
            }
        }
    }

    /// Something changed here when `changes` moved (state applied, or membership: members
    /// learned, lost or back): the configured pace is back, and if exchanges were spaced out,
    /// the next one comes within one `interval`. A cluster that is forming or losing members
    /// keeps repairing at full pace; only a settled, quiet one spaces out.
    pub(super) fn note_changes(&mut self, now: Time, changes: Activity, interval: Duration) {
        if changes == self.changes_seen {
            return;
        }
        self.changes_seen = changes;
        if self.quiet > QUIET_BEFORE_SPACING {
            self.next = self.next.min(now + interval);
        }
        self.quiet = 0;
    }

    /// How many intervals to wait after this exchange, where anti-entropy is only the repair
    /// path: one while anything is changing, then doubling after a few quiet exchanges (no
    /// change noted since the one before), up to `IDLE_SPACING`.
    pub(super) fn spacing(&mut self) -> u32 {
        if self.catch_up_rounds > 0 {
            self.quiet = 0;
        } else {
            self.quiet = self.quiet.saturating_add(1);
        }
        let doublings = self.quiet.saturating_sub(QUIET_BEFORE_SPACING);
        1u32.checked_shl(doublings).unwrap_or(u32::MAX).min(IDLE_SPACING)
    }

    /// Brings the next exchange forward (to a tenth of `interval` from now) and keeps the
    /// fast pace for a few more.
    pub(super) fn hurry(&mut self, now: Time, interval: Duration) {
        self.catch_up_rounds = CATCH_UP_ROUNDS;
        let soon = now + interval / 10;
        if soon < self.next {
            self.next = soon;
        }
    }

    /// Starts an exchange at once and catches up at the fast pace (a join was answered).
    pub(super) fn start_now(&mut self, now: Time) {
        self.next = now;
        self.catch_up_rounds = CATCH_UP_ROUNDS;
    }

    /// The interval changed from `old` to `new`: the next exchange comes within half the
    /// shorter one.
    pub(super) fn interval_changed(&mut self, now: Time, old: Duration, new: Duration) {
        self.next = now + old.min(new) / 2;
    }
}

/// Pull requests one exchange may send (each answered with at most `max_sync_datagrams`).
const PULL_PAGES: usize = 4;

impl AntiEntropy {
    /// Opens an exchange with `sync_peers` random peers.
    pub(super) fn start(&mut self, cx: &mut Shared) {
        let count = cx.config.dissemination.sync_peers.max(1);
        for peer in cx.peers.sample(cx.rng, count, &[]) {
            cx.counters.anti_entropy_exchanges += 1;
            send_summary(cx, peer);
        }
    }

    /// Step 2: answers a summary with our claims for the buckets that differ.
    pub(super) fn on_summary(&mut self, cx: &mut Shared, from: SocketAddr, summary: SyncSummary) {
        cx.counters.anti_entropy_served += 1;
        let ours = cx.store.summary();
        let differing: Vec<u8> = (0..SYNC_BUCKETS)
            .filter(|&i| ours[i] != summary.buckets[i])
            .map(|i| i as u8)
            .collect();
        let budget = cx.transport.packer().list_budget();
        let mut sent = 0;
        let mut digest = SyncDigest {
            buckets: Vec::new(),
            versions: Vec::new(),
        };
        let mut size = 0;
        for bucket in differing {
            let claims = cx.store.claims_in_bucket(bucket);
            let len = 1 + claims.iter().map(encoded_len).sum::<usize>();
            if size + len > budget && size > 0 {
                cx.send(from, Message::SyncDigest(std::mem::take(&mut digest)));
                size = 0;
                sent += 1;
                if sent >= cx.config.max_sync_datagrams {
                    return;
                }
            }
            if len > budget {
                // One bucket alone is too big: send what fits as claims only. The bucket is not
                // listed, so the peer will not take absence from it as "never heard of".
                for claim in claims {
                    let l = encoded_len(&claim);
                    if size + l > budget {
                        break;
                    }
                    size += l;
                    digest.versions.push(claim);
                }
                continue;
            }
            size += len;
            digest.buckets.push(bucket);
            digest.versions.extend(claims);
        }
        if size > 0 {
            cx.send(from, Message::SyncDigest(digest));
        }
    }

    /// Step 3: pushes what the peer lacks and pulls what we lack.
    pub(super) fn on_digest(
        &mut self,
        cx: &mut Shared,
        now: Time,
        from: SocketAddr,
        digest: SyncDigest,
    ) {
        let mut theirs: HashMap<&NodeId, u64, Seeded> =
            HashMap::with_capacity_and_hasher(digest.versions.len(), cx.hasher.clone());
        theirs.extend(digest.versions.iter().map(|c| (&c.origin, c.version)));
        // Push: every origin we hold in a listed bucket that the peer lacks or holds older.
        let mut pushes: Vec<(NodeId, u64)> = Vec::new();
        for &bucket in &digest.buckets {
            for (id, ours) in cx.store.bucket(bucket) {
                let their = theirs.get(id).copied().unwrap_or(0);
                if ours > their {
                    pushes.push((id.clone(), their));
                }
            }
        }
        // Pull: every origin the peer holds newer than we do.
        let wants: Vec<VersionClaim> = digest
            .versions
            .iter()
            .filter_map(|c| {
                let ours = cx.store.watermark(&c.origin);
                (c.version > ours).then(|| VersionClaim {
                    origin: c.origin.clone(),
                    version: ours,
                })
            })
            .collect();
        let unknown = wants.iter().filter(|w| w.version == 0).count();
        if unknown > 0 {
            cx.store.reserve(unknown);
            if cx.config.learn_peers {
                cx.peers.reserve(unknown);
            }
        }
        let rotate = if pushes.is_empty() {
            0
        } else {
            rand::RngExt::random_range(&mut *cx.rng, 0..pushes.len())
        };
        pushes.rotate_left(rotate);
        let mode = cx.config.dissemination.sync;
        if mode != SyncMode::Pull {
            send_deltas(cx, from, pushes);
        }
        let mut capped = false;
        if !wants.is_empty() && mode != SyncMode::Push {
            capped = send_pulls(cx, from, wants);
        }
        if capped {
            self.behind(cx.config, now);
        }
    }

    /// Answers a pull with the deltas it asks for.
    pub(super) fn on_pull(&mut self, cx: &mut Shared, from: SocketAddr, pull: SyncPull) {
        let wants = pull
            .wants
            .into_iter()
            .map(|c| (c.origin, c.version))
            .collect();
        send_deltas(cx, from, wants);
    }

    /// Merges one origin's delta from `from` into the store; what it changed and what it
    /// announced, if anything. An unknown origin means we are behind: the next exchange
    /// comes soon.
    pub(super) fn apply(
        &mut self,
        cx: &mut Shared,
        now: Time,
        from: SocketAddr,
        od: OriginDelta,
    ) -> Option<Applied> {
        let applied = cx.store.apply(
            &od.origin,
            od.since,
            od.upto,
            od.entries,
            od.reset,
            Provenance {
                now,
                route: Route::Sync,
                via: (from != od.origin.addr).then_some(from),
            },
        );
        if !applied.learned() && applied.withheld.is_empty() {
            return None;
        }
        cx.counters.deltas_applied += 1;
        if applied.new_origin {
            self.behind(cx.config, now);
        }
        Some(applied)
    }

    /// We are behind: bring the next exchange forward and keep the fast pace for a few more
    /// (the last stragglers of a backlog often sit with peers other than the next one).
    fn behind(&mut self, config: &NodeConfig, now: Time) {
        if !config.dissemination.lockstep {
            self.hurry(now, config.anti_entropy);
        }
    }
}

/// Opens an exchange. A node holding little (a new joiner) sends its whole digest at once,
/// which fits one datagram and lets the peer push everything missing straight away; a node
/// holding a lot sends the fixed-size bucket summary.
fn send_summary(cx: &mut Shared, to: SocketAddr) {
    // The one-way modes need to know which side they are on: a digest always answers our
    // summary, so they never open with a digest.
    let two_way = cx.config.dissemination.sync == SyncMode::PushPull;
    if let Some(digest) = full_digest_if_small(cx).filter(|_| two_way) {
        cx.send(to, Message::SyncDigest(digest));
        return;
    }
    let buckets = cx.store.summary();
    cx.send(to, Message::SyncSummary(SyncSummary { buckets }));
}

/// Our claims for every bucket, if they fit in one datagram.
fn full_digest_if_small(cx: &Shared) -> Option<SyncDigest> {
    let budget = cx
        .transport
        .packer()
        .list_budget()
        .saturating_sub(encoded_len(&all_buckets()));
    let mut size = 0;
    let mut versions = Vec::with_capacity(cx.store.len());
    for (id, state) in cx.store.origins() {
        let claim = VersionClaim {
            origin: id.clone(),
            version: state.watermark,
        };
        size += encoded_len(&claim);
        if size > budget {
            return None;
        }
        versions.push(claim);
    }
    Some(SyncDigest {
        versions,
        ..all_buckets()
    })
}

/// Sends at most [`PULL_PAGES`] pull requests; true if some wants were left out (they are
/// pulled in the next, hurried, exchange, likely from another peer, so no single peer serves
/// a whole backlog).
fn send_pulls(cx: &mut Shared, to: SocketAddr, wants: Vec<VersionClaim>) -> bool {
    let budget = cx.transport.packer().list_budget();
    let (pages, cut) = paginate(wants, budget, PULL_PAGES, encoded_len);
    for wants in pages {
        cx.send(to, Message::SyncPull(SyncPull { wants }));
    }
    cut
}

/// Sends what a peer lacks of each `(origin, held-since)`, packed into MTU-sized `Delta`s, at
/// most `max_sync_datagrams` of them.
fn send_deltas(cx: &mut Shared, to: SocketAddr, items: Vec<(NodeId, u64)>) {
    let budget = cx.transport.packer().list_budget();
    let form = cx.form();
    let mut seen = HashSet::with_hasher(cx.hasher.clone());
    let store = &*cx.store;
    let deltas = items
        .into_iter()
        .filter(|(id, _)| seen.insert(id.clone()))
        .filter_map(|(id, since)| store.delta_since(&id, since, usize::MAX, form))
        .filter_map(|delta| fit_delta(delta, budget));
    let (pages, _) = paginate(deltas, budget, cx.config.max_sync_datagrams, encoded_len);
    for origins in pages {
        cx.send(to, Message::Delta(Delta { origins }));
    }
}

/// Cuts a delta's entries (newest first) until it fits `budget`; the kept prefix stays valid
/// because `upto` moves back to the last kept version. None if not even one entry fits.
fn fit_delta(mut delta: OriginDelta, budget: usize) -> Option<OriginDelta> {
    while encoded_len(&delta) > budget {
        delta.entries.pop()?;
        delta.upto = delta.entries.last()?.version;
    }
    Some(delta)
}

/// A digest listing every bucket and no claims (what a small node's full digest wraps).
fn all_buckets() -> SyncDigest {
    SyncDigest {
        buckets: (0..SYNC_BUCKETS as u8).collect(),
        versions: Vec::new(),
    }
}
