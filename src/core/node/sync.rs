//! Push-pull anti-entropy in three steps, each MTU-bounded:
//! 1. initiator → peer: `SyncSummary` (one hash per bucket of the origin table);
//! 2. peer → initiator: `SyncDigest` with its version claims for the buckets that differ;
//! 3. initiator → peer: `Delta` with what the peer lacks, and `SyncPull` for what it lacks
//!    itself, which the peer answers with `Delta`.
//!
//! A node learning origins new to it (joining, or during a join storm) skips the first two
//! steps: it opens with a `SyncFilter` (a Bloom filter of the origins it holds, one datagram
//! for about a thousand) and the peer answers at once with every origin the filter lacks.
//!
//! A converged pair exchanges one datagram. A big backlog is cut into version-ordered prefixes;
//! when an exchange shows we are far behind (new origins, or a capped reply), the next one is
//! brought forward so a joining node catches up in a few fast rounds instead of many slow ones.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::core::hash::Seeded;
use std::net::SocketAddr;

use crate::wire::{
    encoded_len, Delta, Message, NodeId, OriginDelta, SyncDigest, SyncFilter, SyncPull,
    SyncSummary, VersionClaim, SYNC_BUCKETS,
};

use super::paging::paginate;
use super::shared::Shared;
use crate::core::config::{NodeConfig, SyncMode};
use crate::core::event::Route;
use crate::core::store::{Applied, Form, Provenance, Signed, Store};
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

/// What anti-entropy owns: when the next exchange starts, how many more run at the
/// catch-up pace, and the exchanges and pulls still waiting for an answer.
#[derive(Debug)]
pub(super) struct AntiEntropy {
    next: Time,
    /// Exchanges left to run at the fast catch-up pace.
    catch_up_rounds: u8,
    /// Exchanges in a row with no change applied here in between, and the running count of
    /// changes last noted.
    quiet: u32,
    changes_seen: Activity,
    /// Exchanges we opened whose end we have not seen (see [`Open`]). While one is
    /// waiting, the next does not start: a node catching up runs one exchange at a time, at
    /// the pace its peers answer. On a loaded machine, overlapping exchanges would each pull
    /// (and be pushed) the same backlog, and the duplicates would load it further.
    open: Vec<Open>,
    /// Origins we pulled and have not received since, with when we asked: a later exchange
    /// does not ask for them again until the answer is overdue.
    asked: HashMap<NodeId, Time, Seeded>,
    /// Peers we sent a summary to within the last interval: their digests (all pages of them,
    /// however late) answer us, and are pushed at most one datagram each.
    summarized: Vec<(SocketAddr, Time)>,
    /// Smoothed time from opening an exchange to the peer's digest.
    round_trip: Option<Duration>,
    /// Rounds in lockstep (the simulator's theory runs) start on the clock, answered or not.
    self_clocked: bool,
    /// Origins new to us arrived since the last exchange opened (or a join was answered):
    /// the next exchange opens with a filter of the origins we hold.
    growing: bool,
}

/// An exchange we opened: with whom, and since when we wait for its next step (the digest,
/// then, if we pulled or opened with our whole digest, the deltas that answer). An answer
/// comes in up to `pages` datagrams; the exchange stays open until one arrives that is not
/// full (the sender cut no more after it), the last possible one has come, or the peer falls
/// silent for longer than the answer timeout.
#[derive(Debug)]
struct Open {
    peer: SocketAddr,
    since: Time,
    awaits_delta: bool,
    pages: usize,
    /// Whether a page of the answer came (the round trip is measured on the first).
    heard: bool,
}

/// What counts as change for the anti-entropy pace: state changes applied here (a running
/// count), the members known, and member state changes (a running count). Cheap to read:
/// it is taken after every input.
pub(super) type Activity = (u64, usize, u64);

impl AntiEntropy {
    /// The first exchange starts at `first`; `self_clocked` unless rounds run in lockstep.
    pub(super) fn new(first: Time, self_clocked: bool, hasher: Seeded) -> Self {
        AntiEntropy {
            next: first,
            catch_up_rounds: 0,
            quiet: 0,
            changes_seen: (0, 0, 0),
            open: Vec::new(),
            asked: HashMap::with_hasher(hasher),
            summarized: Vec::new(),
            round_trip: None,
            self_clocked,
            growing: false,
        }
    }

    /// When the next exchange starts: as scheduled, or once the open ones have ended or are
    /// overdue.
    pub(super) fn next(&self, interval: Duration) -> Time {
        let overdue = self.answer_timeout(interval);
        self.open
            .iter()
            .map(|o| o.since + overdue)
            .fold(self.next, Time::max)
    }

    /// Whether an exchange is due at `now`.
    pub(super) fn due(&self, now: Time, interval: Duration) -> bool {
        self.next(interval) <= now
    }

    /// How long an exchange step may take before we stop waiting for it: four smoothed
    /// round trips, within a twentieth and half of the interval (a quarter until measured).
    fn answer_timeout(&self, interval: Duration) -> Duration {
        self.round_trip
            .map_or(interval / 4, |rtt| rtt * 4)
            .clamp(interval / 20, interval / 2)
    }

    /// `delta` arrived from `from` at `now`, where a full one holds `budget` encoded bytes: an
    /// exchange waiting for deltas from it has its answer, or part of it. Pages are filled
    /// until the next origin does not fit, so one with more than a quarter of its room free is
    /// the last (big values may end a page early: the cost is a duplicate at worst). Starting
    /// the next exchange while pages are still on their way made peers push the same backlog
    /// twice, the more so the more loaded the machine. Only a delta that answers an open
    /// exchange is measured.
    pub(super) fn answered(&mut self, from: SocketAddr, now: Time, delta: &Delta, budget: usize) {
        let Some(i) = self
            .open
            .iter()
            .position(|o| o.awaits_delta && o.peer == from)
        else {
            return;
        };
        let open = &mut self.open[i];
        let first = (!open.heard).then(|| now.since(open.since));
        open.heard = true;
        open.since = now;
        open.pages = open.pages.saturating_sub(1);
        if open.pages == 0 || encoded_len(delta) + budget / 4 < budget {
            self.open.swap_remove(i);
        }
        if let Some(sample) = first {
            self.note_round_trip(sample);
        }
    }

    fn note_round_trip(&mut self, sample: Duration) {
        self.round_trip = Some(match self.round_trip {
            None => sample,
            Some(r) => (r * 7 + sample) / 8,
        });
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
        self.growing = true;
    }

    /// The interval changed from `old` to `new`: the next exchange comes within half the
    /// shorter one.
    pub(super) fn interval_changed(&mut self, now: Time, old: Duration, new: Duration) {
        self.next = now + old.min(new) / 2;
    }
}

/// Candidates a one-datagram push picks from (a datagram holds about 30 small origin states).
const PUSH_CANDIDATES: usize = 128;

/// Pull requests one exchange may send (each answered with at most `max_sync_datagrams`).
const PULL_PAGES: usize = 4;

impl AntiEntropy {
    /// Opens an exchange with `sync_peers` random peers.
    pub(super) fn start(&mut self, cx: &mut Shared, now: Time) {
        let interval = cx.config.anti_entropy;
        let overdue = self.answer_timeout(interval);
        self.open.clear();
        self.asked.retain(|_, at| now < *at + overdue);
        self.summarized.retain(|&(_, at)| now < at + interval);
        let count = cx.config.dissemination.sync_peers.max(1);
        // Filters only where exchanges are self-clocked: the lockstep rounds of the theory runs
        // model the textbook exchange.
        let filter = std::mem::take(&mut self.growing)
            && self.self_clocked
            && cx.config.dissemination.sync == SyncMode::PushPull;
        for peer in cx.peers.sample(cx.rng, count, &[]) {
            cx.counters.anti_entropy_exchanges += 1;
            let digest_pages = if filter {
                send_filter(cx, peer, false);
                1
            } else {
                send_summary(cx, peer, self.catching_up())
            };
            let awaits_delta = digest_pages > 0;
            if self.self_clocked {
                if !awaits_delta {
                    self.summarized.push((peer, now));
                }
                self.open.push(Open {
                    peer,
                    since: now,
                    awaits_delta,
                    pages: digest_pages * cx.config.max_sync_datagrams,
                    heard: false,
                });
            }
        }
    }

    /// Step 2: answers a summary with our claims for the buckets that differ.
    pub(super) fn on_summary(&mut self, cx: &mut Shared, from: SocketAddr, summary: SyncSummary) {
        cx.counters.anti_entropy_served += 1;
        let ours = cx.store.summary();
        let differing = (0..SYNC_BUCKETS)
            .filter(|&i| ours[i] != summary.buckets[i])
            .map(|i| i as u8);
        let (pages, _) = digest_pages(cx, differing, cx.config.max_sync_datagrams);
        for digest in pages {
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
        let opened = self.open.iter().position(|o| o.peer == from);
        if let Some(o) = opened.map(|i| &self.open[i]).filter(|o| !o.awaits_delta) {
            self.note_round_trip(now.since(o.since));
        }
        let answers_ours = self.summarized.iter().any(|&(p, _)| p == from);
        let overdue = self.answer_timeout(cx.config.anti_entropy);
        let mut theirs: HashMap<&NodeId, u64, Seeded> =
            HashMap::with_capacity_and_hasher(digest.versions.len(), cx.hasher.clone());
        theirs.extend(digest.versions.iter().map(|c| (&c.origin, c.version)));
        // A digest that answers our summary comes from a peer that may be catching up on a
        // backlog, pulling it from others at the same time: push it one datagram at most, and
        // let it pull the rest (its pulls never overlap; pushes from several peers would). A
        // digest that opens an exchange asks for everything we have.
        let mode = cx.config.dissemination.sync;
        let push_pages = match mode {
            SyncMode::Pull => 0,
            _ if answers_ours => 1,
            _ => cx.config.max_sync_datagrams,
        };
        // Pull: every origin the peer holds newer than we do, unless an earlier pull for it
        // is still on its way.
        let asked = &self.asked;
        let wants: Vec<VersionClaim> = digest
            .versions
            .iter()
            .filter(|c| asked.get(&c.origin).is_none_or(|&at| now >= at + overdue))
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
        if push_pages > 0 {
            // Push: the origins we hold in a listed bucket that the peer lacks or holds older,
            // from a random bucket on, so peers pushing to one node push different ones. A
            // one-datagram push stops looking once it has far more than fit.
            let enough = if push_pages == 1 {
                PUSH_CANDIDATES
            } else {
                usize::MAX
            };
            let listed = &digest.buckets;
            let start = if listed.is_empty() {
                0
            } else {
                rand::RngExt::random_range(&mut *cx.rng, 0..listed.len())
            };
            let mut pushes: Vec<(NodeId, u64)> = Vec::new();
            'buckets: for &bucket in listed[start..].iter().chain(&listed[..start]) {
                for (id, ours) in cx.store.bucket(bucket) {
                    let their = theirs.get(id).copied().unwrap_or(0);
                    if ours > their {
                        pushes.push((id.clone(), their));
                        if pushes.len() >= enough {
                            break 'buckets;
                        }
                    }
                }
            }
            let rotate = if pushes.is_empty() {
                0
            } else {
                rand::RngExt::random_range(&mut *cx.rng, 0..pushes.len())
            };
            pushes.rotate_left(rotate);
            send_deltas(cx, from, pushes, push_pages);
        }
        let mut capped = false;
        let mut pulls = 0;
        if !wants.is_empty() && mode != SyncMode::Push {
            let sent;
            (sent, pulls, capped) = send_pulls(cx, from, wants);
            for origin in sent {
                self.asked.insert(origin, now);
            }
        }
        if let Some(i) = opened {
            let open = &mut self.open[i];
            if pulls > 0 {
                open.awaits_delta = true;
                open.since = now;
                open.pages += pulls * cx.config.max_sync_datagrams;
            } else if !open.awaits_delta {
                self.open.swap_remove(i);
            }
        }
        if capped {
            self.behind(cx.config, now);
        }
    }

    /// Answers a filter with every origin of its buckets it does not contain, whole, in up to
    /// `max_sync_datagrams` datagrams; with an empty delta if there is none, so the peer's
    /// exchange ends at once instead of timing out. A filter that opens an exchange is
    /// answered, while we are catching up ourselves, with our own filter too, and the peer
    /// pushes what we lack.
    pub(super) fn on_filter(&mut self, cx: &mut Shared, from: SocketAddr, filter: SyncFilter) {
        cx.counters.anti_entropy_served += 1;
        // Our own filter counts against the answer's datagrams: a request gets at most
        // `max_sync_datagrams` back.
        let mut room = cx.config.max_sync_datagrams;
        if !filter.reply && self.catching_up() && room > 1 {
            send_filter(cx, from, true);
            room -= 1;
        }
        let budget = cx.transport.packer().list_budget();
        let form = cx.form();
        let store = &*cx.store;
        let mut missing: Vec<u32> = Vec::new();
        for bucket in filter.covered() {
            missing.extend(
                store
                    .bucket_hashes(bucket)
                    .filter(|&(hash, _)| !filter.contains(hash))
                    .map(|(_, learned)| learned),
            );
        }
        let pages = if filter.reply {
            // A reply comes from a peer catching up from others at the same time. While it
            // lacks half of what we hold or more (early in a join storm), push it one datagram
            // of what it is least likely to get elsewhere: our own state, then what reached us
            // last. Past that, only our own state: its own exchanges bring the rest, and pushes
            // from several peers at once carried the same origins (most of a 1000-node join's
            // duplicate deltas).
            if missing.len() * 2 < store.len() {
                missing.retain(|&l| l == 0);
            } else {
                missing.sort_unstable_by_key(|&learned| (learned != 0, std::cmp::Reverse(learned)));
            }
            1
        } else {
            room
        };
        let deltas = missing
            .into_iter()
            .filter_map(|learned| store.delta_at(learned, 0, usize::MAX, form));
        let deltas = pack_deltas(deltas, budget, pages);
        if deltas.is_empty() && !filter.reply {
            cx.send(from, Message::Delta(Delta { origins: Vec::new() }));
        }
        for delta in deltas {
            cx.send(from, Message::Delta(delta));
        }
    }

    /// Answers a pull with the deltas it asks for.
    pub(super) fn on_pull(&mut self, cx: &mut Shared, from: SocketAddr, pull: SyncPull) {
        let wants = pull
            .wants
            .into_iter()
            .map(|c| (c.origin, c.version))
            .collect();
        send_deltas(cx, from, wants, cx.config.max_sync_datagrams);
    }

    /// Merges one origin's delta from `from` into the store (unless the trust checks refused
    /// it); what it changed and what it announced, if anything. An unknown origin means we are behind: the next exchange
    /// comes soon.
    pub(super) fn apply(
        &mut self,
        cx: &mut Shared,
        now: Time,
        from: SocketAddr,
        od: OriginDelta,
        admitted: bool,
    ) -> Option<Applied> {
        self.asked.remove(&od.origin.id);
        if !admitted {
            return None;
        }
        let signed = Signed {
            signer: od.signer,
            head: od.head,
        };
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
                signed,
            },
        );
        if !applied.learned() && applied.withheld.is_empty() {
            cx.counters.deltas_redundant += 1;
            return None;
        }
        cx.counters.deltas_applied += 1;
        if applied.new_origin {
            self.growing = true;
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

/// Digest pages a node catching up may open an exchange with.
const FULL_DIGEST_PAGES: usize = 4;

/// Opens an exchange. A node holding little (a new joiner), or catching up on a backlog, sends
/// its whole digest at once if it fits one datagram (or, catching up, [`FULL_DIGEST_PAGES`]),
/// and the peer pushes everything missing straight away: one step instead of three, and no
/// digest or pull pages for the peer's side. Otherwise it sends the fixed-size bucket summary.
/// Returns the digest pages sent (0: the summary, answered by a digest, not deltas).
fn send_summary(cx: &mut Shared, to: SocketAddr, catching_up: bool) -> usize {
    // The one-way modes need to know which side they are on: a digest always answers our
    // summary, so they never open with a digest.
    if cx.config.dissemination.sync == SyncMode::PushPull {
        let max = if catching_up { FULL_DIGEST_PAGES } else { 1 };
        let (pages, cut) = digest_pages(cx, 0..SYNC_BUCKETS as u8, max);
        if !cut && !pages.is_empty() {
            let sent = pages.len();
            for digest in pages {
                cx.send(to, Message::SyncDigest(digest));
            }
            return sent;
        }
    }
    let buckets = cx.store.summary();
    cx.send(to, Message::SyncSummary(SyncSummary { buckets }));
    0
}

/// Opens an exchange with a filter of the origins we hold: all of them if they fit one
/// datagram at the designed false-positive rate, else the buckets from a random one on that
/// do (at least one). `reply`: it answers the peer's filter.
fn send_filter(cx: &mut Shared, to: SocketAddr, reply: bool) {
    let budget = cx.transport.packer().list_budget();
    let room = SyncFilter::capacity(budget);
    let first = rand::RngExt::random_range(&mut *cx.rng, 0..SYNC_BUCKETS) as u8;
    let (mut buckets, mut held) = (0usize, 0usize);
    while buckets < SYNC_BUCKETS {
        let len = cx
            .store
            .bucket_len(((usize::from(first) + buckets) % SYNC_BUCKETS) as u8);
        if buckets > 0 && held + len > room {
            break;
        }
        held += len;
        buckets += 1;
    }
    let seed = rand::RngExt::random(&mut *cx.rng);
    let mut filter = SyncFilter::new(seed, first, buckets as u8, held, budget);
    filter.reply = reply;
    for bucket in filter.covered().collect::<Vec<_>>() {
        for (hash, _) in cx.store.bucket_hashes(bucket) {
            filter.insert(hash);
        }
    }
    cx.send(to, Message::SyncFilter(filter));
}

/// Our claims for `buckets`, packed into at most `max_pages` digests, each listing the buckets
/// it covers whole; true if some claims were left out. A bucket too big for one datagram
/// alone goes as the claims that fit, without the bucket listed, so the peer does not take
/// absence from it as "never heard of" (the rest count as left out).
fn digest_pages(
    cx: &Shared,
    buckets: impl Iterator<Item = u8>,
    max_pages: usize,
) -> (Vec<SyncDigest>, bool) {
    let budget = cx.transport.packer().list_budget();
    let mut pages = Vec::new();
    let mut digest = SyncDigest::default();
    let mut size = 0;
    let mut cut = false;
    for bucket in buckets {
        let claims = cx.store.claims_in_bucket(bucket);
        let len = 1 + claims.iter().map(encoded_len).sum::<usize>();
        if size + len > budget && size > 0 {
            pages.push(std::mem::take(&mut digest));
            size = 0;
            if pages.len() >= max_pages {
                return (pages, true);
            }
        }
        if len > budget {
            for claim in claims {
                let l = encoded_len(&claim);
                if size + l > budget {
                    cut = true;
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
    if size > 0 && pages.len() < max_pages {
        pages.push(digest);
    }
    (pages, cut)
}

/// Sends at most [`PULL_PAGES`] pull requests: the origins asked for, the requests sent, and
/// true if some wants were left out (they are pulled in the next, hurried, exchange, likely
/// from another peer, so no single peer serves a whole backlog).
fn send_pulls(
    cx: &mut Shared,
    to: SocketAddr,
    wants: Vec<VersionClaim>,
) -> (Vec<NodeId>, usize, bool) {
    let budget = cx.transport.packer().list_budget();
    let (pages, cut) = paginate(wants, budget, PULL_PAGES, encoded_len);
    let sent = pages.len();
    let mut asked = Vec::new();
    for wants in pages {
        asked.extend(wants.iter().map(|w| w.origin.clone()));
        cx.send(to, Message::SyncPull(SyncPull { wants }));
    }
    (asked, sent, cut)
}

/// Sends what a peer lacks of each `(origin, held-since)`, packed into MTU-sized `Delta`s, at
/// most `pages` of them (an origin listed twice goes once).
fn send_deltas(cx: &mut Shared, to: SocketAddr, items: Vec<(NodeId, u64)>, pages: usize) {
    let budget = cx.transport.packer().list_budget();
    let form = cx.form();
    let mut seen = HashSet::with_hasher(cx.hasher.clone());
    let items = items
        .iter()
        .filter(|(id, _)| seen.insert(id))
        .map(|(id, since)| (id, *since));
    for delta in delta_pages(cx.store, form, budget, items, pages) {
        cx.send(to, Message::Delta(delta));
    }
}

/// What a peer lacks of each `(origin, held-since)`, packed into at most `pages` deltas of
/// `budget` bytes; items past the last page are not looked at.
fn delta_pages<'a>(
    store: &Store,
    form: Form,
    budget: usize,
    items: impl Iterator<Item = (&'a NodeId, u64)>,
    pages: usize,
) -> Vec<Delta> {
    let deltas = items.filter_map(|(id, since)| store.delta_since(id, since, usize::MAX, form));
    pack_deltas(deltas, budget, pages)
}

/// Origin deltas packed into at most `pages` deltas of `budget` bytes (each cut to fit one
/// alone if need be); deltas past the last page are not built.
fn pack_deltas(
    deltas: impl Iterator<Item = OriginDelta>,
    budget: usize,
    pages: usize,
) -> Vec<Delta> {
    let deltas = deltas.filter_map(|delta| fit_delta(delta, budget));
    let (pages, _) = paginate(deltas, budget, pages, |(_, len)| *len);
    pages
        .into_iter()
        .map(|page| Delta {
            origins: page.into_iter().map(|(delta, _)| delta).collect(),
        })
        .collect()
}

/// Cuts a delta's entries (newest first) until it fits `budget`; the kept prefix stays valid
/// because `upto` moves back to the last kept version. The delta and its encoded size; None
/// if not even one entry fits.
fn fit_delta(mut delta: OriginDelta, budget: usize) -> Option<(OriginDelta, usize)> {
    loop {
        let len = encoded_len(&delta);
        if len <= budget {
            return Some((delta, len));
        }
        delta.entries.pop()?;
        delta.upto = delta.entries.last()?.version;
    }
}
