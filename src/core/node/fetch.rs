//! Large values, announce-then-fetch: a value too large to ride inline is announced by size
//! and hash, and each receiver fetches its pieces from a node that holds it (whoever sent the
//! announcement, else the origin), a window at a time, asking again for what was lost and
//! moving to the next holder when one stalls. Only a whole value whose hash checks is stored,
//! so a reader never sees half of one; until then the origin's watermark stays below it and
//! anti-entropy keeps offering it. The same machinery takes in an admin client's upload.
//!
//! The serving side answers a `Fetch` with the pieces it names, from the store.

use std::net::SocketAddr;

use bytes::Bytes;

use crate::core::assembly::{Accepted, Assembly};
use crate::core::event::Route;
use crate::core::store::Withheld;
use crate::core::time::Time;
use crate::wire::{Fetch, FetchMiss, Message, NodeId, Origin, Piece, Rumor};

use super::shared::Shared;

/// Values fetched at once; more wait for anti-entropy to offer them again.
const MAX_ACTIVE: usize = 32;
/// Most pieces outstanding per fetch.
const WINDOW: u32 = 128;
/// Most pieces outstanding across all of a node's fetches (about 140 KB): they share it, so a
/// node catching up on many values at once cannot flood its own socket buffer.
const IN_FLIGHT: u32 = 128;
/// Stalls (three timeouts without progress) a fetch survives per holder before it gives up
/// (and what it has is thrown away; anti-entropy offers the value again).
const STALLS_PER_HOLDER: u32 = 4;

/// A write an admin client asked for, waiting for its value's pieces.
#[derive(Debug)]
pub(super) struct Upload {
    pub(super) client: SocketAddr,
    pub(super) request: u64,
    pub(super) expires_ms: Option<u64>,
}

/// One value being fetched.
#[derive(Debug)]
struct Transfer {
    origin: Origin,
    want: Withheld,
    /// The version range its announcement came with.
    since: u64,
    upto: u64,
    route: Route,
    holders: Vec<SocketAddr>,
    at: usize,
    assembly: Assembly,
    /// A rumor to pass on once the value is held (so whoever we tell can fetch from us).
    relay: Option<(SocketAddr, Rumor)>,
    upload: Option<Upload>,
    stalls: u32,
}

impl Transfer {
    fn holder(&self) -> Option<SocketAddr> {
        self.holders.get(self.at).copied()
    }

    fn is(&self, origin: &NodeId, key: &str, version: u64) -> bool {
        self.origin.id == *origin && self.want.key == key && self.want.version == version
    }
}

/// Another origin's value, fetched whole: store it over `(since, upto]`, then pass `relay` on.
#[derive(Debug)]
pub(super) struct Fetched {
    pub(super) origin: Origin,
    pub(super) since: u64,
    pub(super) upto: u64,
    pub(super) want: Withheld,
    pub(super) bytes: Bytes,
    pub(super) route: Route,
    pub(super) via: SocketAddr,
    pub(super) relay: Option<(SocketAddr, Rumor)>,
}

/// A finished fetch.
#[derive(Debug)]
pub(super) enum Done {
    /// Another origin's value.
    Value(Box<Fetched>),
    /// An admin client's upload: write it, then acknowledge.
    Upload {
        key: String,
        bytes: Bytes,
        upload: Upload,
    },
}

/// Where announcements came from: the origin and version range of the rumor or delta that
/// carried them, how it arrived, and the peer that sent it (which holds the values).
#[derive(Debug)]
pub(super) struct Source {
    pub(super) origin: Origin,
    pub(super) since: u64,
    pub(super) upto: u64,
    pub(super) route: Route,
    pub(super) from: SocketAddr,
}

/// What the fetch part owns: the values being fetched.
#[derive(Debug, Default)]
pub(super) struct Fetches {
    active: Vec<Transfer>,
}

impl Fetches {
    /// Starts fetching an announced value (or notes one more holder of a value already being
    /// fetched). `relay` is passed on when the value is held.
    pub(super) fn want(
        &mut self,
        cx: &mut Shared,
        now: Time,
        source: &Source,
        want: Withheld,
        relay: Option<(SocketAddr, Rumor)>,
    ) {
        let (origin, from) = (&source.origin, source.from);
        if let Some(i) = self
            .active
            .iter()
            .position(|t| t.origin.id == origin.id && t.want.key == want.key)
        {
            let t = &mut self.active[i];
            if t.want.version > want.version || t.upload.is_some() {
                return;
            }
            if t.want.version == want.version && t.want.announce == want.announce {
                if !t.holders.contains(&from) {
                    t.holders.push(from);
                }
                if t.relay.is_none() {
                    t.relay = relay;
                }
                return;
            }
            // A newer version replaces the one being fetched.
            self.active.swap_remove(i);
        }
        let size = want.announce.size as usize;
        // What the origin's state would hold once this value is stored.
        let state = cx.store.get(&origin.id).map_or(want.key.len() + size, |s| {
            s.values.bytes_with(&want.key, size) as usize
        });
        if size > cx.config.max_value_bytes
            || state > cx.config.max_state_bytes
            || self.active.len() >= MAX_ACTIVE
        {
            cx.counters.fetches_refused += 1;
            return;
        }
        let mut holders = vec![from];
        if origin.addr != from && origin.addr != cx.config.addr {
            holders.push(origin.addr);
        }
        let assembly = Assembly::new(want.announce, now);
        self.active.push(Transfer {
            origin: origin.clone(),
            want,
            since: source.since,
            upto: source.upto,
            route: source.route,
            holders,
            at: 0,
            assembly,
            relay,
            upload: None,
            stalls: 0,
        });
        let last = self.active.len() - 1;
        let window = self.window();
        ask(cx, &mut self.active[last], now, window);
    }

    /// Each fetch's share of the node's pieces in flight.
    fn window(&self) -> u32 {
        (IN_FLIGHT / self.active.len().max(1) as u32).clamp(2, WINDOW)
    }

    /// Starts taking in an admin client's value: it is fetched from the client under our own
    /// id with the request id as its version. False if the node is already fetching as many
    /// values as it may (the client is told to try again).
    pub(super) fn upload(
        &mut self,
        cx: &mut Shared,
        now: Time,
        key: String,
        want: Withheld,
        upload: Upload,
    ) -> bool {
        if self.uploading(upload.client, upload.request) {
            return true;
        }
        if self.active.len() >= MAX_ACTIVE {
            cx.counters.fetches_refused += 1;
            return false;
        }
        let client = upload.client;
        self.active.push(Transfer {
            origin: cx.config.origin(),
            want: Withheld { key, ..want },
            since: 0,
            upto: 0,
            route: Route::Own,
            holders: vec![client],
            at: 0,
            assembly: Assembly::new(want.announce, now),
            relay: None,
            upload: Some(upload),
            stalls: 0,
        });
        let last = self.active.len() - 1;
        let window = self.window();
        ask(cx, &mut self.active[last], now, window);
        true
    }

    /// Whether an upload for `client`'s `request` is under way.
    pub(super) fn uploading(&self, client: SocketAddr, request: u64) -> bool {
        self.active.iter().any(|t| {
            t.upload
                .as_ref()
                .is_some_and(|u| u.client == client && u.request == request)
        })
    }

    /// Takes in a piece; the finished fetch, if this completed one.
    pub(super) fn on_piece(&mut self, cx: &mut Shared, now: Time, from: SocketAddr, piece: Piece) -> Option<Done> {
        let i = self
            .active
            .iter()
            .position(|t| t.is(&piece.origin, &piece.key, piece.version))?;
        let window = self.window();
        let t = &mut self.active[i];
        match t.assembly.receive(piece.index, &piece.bytes, now) {
            Accepted::Invalid => {
                cx.counters.decode_error("bad_piece");
                return None;
            }
            Accepted::Duplicate => return None,
            Accepted::Fresh => {}
        }
        if !t.assembly.is_complete() {
            ask(cx, t, now, window);
            return None;
        }
        let t = self.active.swap_remove(i);
        let Transfer {
            origin,
            want,
            since,
            upto,
            route,
            relay,
            upload,
            assembly,
            ..
        } = t;
        let bytes = match assembly.finish() {
            Ok(bytes) => bytes,
            Err(_) => {
                // Whoever served this is broken or lying; anti-entropy offers the value again.
                cx.counters.fetches_corrupt += 1;
                return None;
            }
        };
        cx.counters.fetches_completed += 1;
        Some(match upload {
            Some(upload) => Done::Upload {
                key: want.key,
                bytes,
                upload,
            },
            None => Done::Value(Box::new(Fetched {
                origin,
                since,
                upto,
                want,
                bytes,
                route,
                via: from,
                relay,
            })),
        })
    }

    /// A holder cannot serve the value: try the next one.
    pub(super) fn on_miss(&mut self, cx: &mut Shared, now: Time, from: SocketAddr, miss: FetchMiss) {
        let Some(i) = self
            .active
            .iter()
            .position(|t| t.is(&miss.origin, &miss.key, miss.version))
        else {
            return;
        };
        let t = &mut self.active[i];
        t.holders.retain(|h| *h != from);
        if t.holders.is_empty() {
            cx.counters.fetches_abandoned += 1;
            self.active.swap_remove(i);
            return;
        }
        t.at %= t.holders.len();
        t.assembly.forget_asked(now);
        let window = self.window();
        ask(cx, &mut self.active[i], now, window);
    }

    /// Asks again for what was lost, and moves stalled fetches to their next holder.
    pub(super) fn tick(&mut self, cx: &mut Shared, now: Time) {
        let window = self.window();
        let mut i = 0;
        while i < self.active.len() {
            let t = &mut self.active[i];
            if t.assembly.stalled(now) {
                t.stalls += 1;
                if t.stalls > STALLS_PER_HOLDER * t.holders.len() as u32 {
                    cx.counters.fetches_abandoned += 1;
                    self.active.swap_remove(i);
                    continue;
                }
                t.at = (t.at + 1) % t.holders.len().max(1);
                t.assembly.forget_asked(now);
            }
            ask(cx, t, now, window);
            i += 1;
        }
    }

    /// When a fetch next needs attention.
    pub(super) fn next_deadline(&self) -> Option<Time> {
        self.active
            .iter()
            .filter_map(|t| t.assembly.next_deadline())
            .min()
    }

    /// `upto` lowered to below the oldest other value of `origin` still being fetched above
    /// `version`, so a finished fetch never moves the watermark past one still missing.
    pub(super) fn cap(&self, origin: &NodeId, version: u64, upto: u64) -> u64 {
        self.active
            .iter()
            .filter(|t| t.origin.id == *origin && t.upload.is_none() && t.want.version > version)
            .map(|t| t.want.version - 1)
            .fold(upto, u64::min)
    }

    /// Values being fetched and the bytes held of them so far.
    pub(super) fn progress(&self) -> (usize, u64) {
        let held = self.active.iter().map(|t| t.assembly.held_bytes()).sum();
        (self.active.len(), held)
    }
}

/// Sends the next requests of `t` (at most `window` pieces outstanding) to its current holder.
fn ask(cx: &mut Shared, t: &mut Transfer, now: Time, window: u32) {
    let Some(holder) = t.holder() else {
        return;
    };
    let piece = t.assembly.announce().piece;
    for pieces in t.assembly.requests(now, window) {
        cx.send(
            holder,
            Message::Fetch(Fetch {
                origin: t.origin.id.clone(),
                key: t.want.key.clone(),
                version: t.want.version,
                piece,
                pieces,
            }),
        );
    }
}

/// Answers a fetch with the pieces it names, if we hold that version and its pieces fit our
/// datagrams; otherwise says so, so the fetcher moves on at once.
pub(super) fn serve(cx: &mut Shared, from: SocketAddr, fetch: Fetch) {
    let piece = fetch.piece as usize;
    let held = cx
        .store
        .get(&fetch.origin)
        .and_then(|s| s.values.get(&fetch.key))
        .filter(|v| v.version == fetch.version)
        .and_then(|v| v.value.clone())
        .filter(|_| cx.transport.packer().fits_piece(piece));
    let Some(value) = held else {
        cx.send(
            from,
            Message::FetchMiss(FetchMiss {
                origin: fetch.origin,
                key: fetch.key,
                version: fetch.version,
            }),
        );
        return;
    };
    for piece in crate::core::assembly::pieces(&fetch, &value) {
        cx.counters.pieces_served += 1;
        cx.send(from, Message::Piece(piece));
    }
}
