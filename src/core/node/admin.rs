//! Operator requests arriving as datagrams: `gossip status` (a snapshot paged over as many
//! datagrams as it needs) and `gossip set`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use crate::core::config::{AdminAccess, NodeConfig};
use crate::core::counters::Counters;
use crate::core::peers::PeerSet;
use crate::core::store::Store;
use crate::core::time::Time;
use crate::core::event::Event;
use crate::core::store::Form;
use crate::wire::{
    encode_status, encoded_len, Change, ChangeKind, Found, KnownOrigin, Message, NodeId,
    PeerStatus, Refused, SetReply, StatusPage, StatusReport, StatusRequest, WatchEvents,
    WatchRequest,
};

use super::own::SetError;
use super::paging::paginate;
use super::shared::{self, Shared};

/// How long a set reply is kept to answer a retry of the same request.
const REPLY_TTL: Duration = Duration::from_secs(60);
/// Set replies kept at once.
const REPLIES: usize = 1024;
/// How long a watch lasts unless the client renews it.
const WATCH_LEASE: Duration = Duration::from_secs(30);
/// Watches served at once.
const WATCHERS: usize = 32;
/// Values shown whole in status up to this many bytes of text.
const SHOWN_WHOLE: usize = 120;

/// How long a rendered snapshot is kept so every page a client asks for comes from one snapshot.
const SNAPSHOT_TTL: Duration = Duration::from_secs(10);
/// Snapshots kept at once (one per concurrent status client).
const SNAPSHOTS: usize = 8;

#[derive(Debug)]
struct Snapshot {
    client: SocketAddr,
    request: u64,
    at: Time,
    chunks: Vec<Vec<u8>>,
}

/// A client streaming our changes.
#[derive(Debug)]
struct Watcher {
    client: SocketAddr,
    request: u64,
    prefix: String,
    until: Time,
    seq: u64,
}

/// What the admin endpoint owns: recently rendered status snapshots (every page a client
/// asks for comes from one snapshot), recent set replies (a retried set is answered, not
/// applied again), and the clients watching our changes.
#[derive(Debug, Default)]
pub(super) struct Admin {
    snapshots: VecDeque<Snapshot>,
    replies: VecDeque<(SocketAddr, Time, SetReply)>,
    watchers: Vec<Watcher>,
}

impl Admin {
    /// Admin requests need the cluster key in a keyed cluster (the datagram opened, so it had
    /// it) and otherwise come from loopback unless `admin_from = "any"`; none are served
    /// when the endpoint is off. A refusal is counted and answered with the reason.
    pub(super) fn allowed(&self, cx: &mut Shared, from: SocketAddr, request: u64) -> bool {
        let refusal = match cx.config.admin_from {
            AdminAccess::Off => Some("this node's admin endpoint is off (admin_from = \"off\")"),
            AdminAccess::Any => None,
            AdminAccess::Loopback => {
                let ok = cx.config.keyring.is_some() || from.ip().to_canonical().is_loopback();
                (!ok).then_some(
                    "this node takes admin requests only from loopback \
                     (admin_from = \"loopback\"; set \"any\" to allow other hosts)",
                )
            }
        };
        let Some(reason) = refusal else {
            return true;
        };
        cx.counters.decode_error("admin_refused");
        cx.send(
            from,
            Message::Refused(Refused {
                request,
                reason: reason.to_string(),
            }),
        );
        false
    }

    /// If `from`'s set `request` was already answered, answers it again (the reply was
    /// lost); true if so.
    pub(super) fn replay_set(&mut self, cx: &mut Shared, now: Time, from: SocketAddr, request: u64) -> bool {
        while self
            .replies
            .front()
            .is_some_and(|(_, at, _)| now.since(*at) > REPLY_TTL)
        {
            self.replies.pop_front();
        }
        let Some((_, _, reply)) = self
            .replies
            .iter()
            .find(|(client, _, r)| *client == from && r.request == request)
        else {
            return false;
        };
        cx.send(from, Message::SetReply(reply.clone()));
        true
    }

    /// Answers set request `request` from `from` with what the write did, and keeps the
    /// answer for a retry.
    pub(super) fn reply_set(
        &mut self,
        cx: &mut Shared,
        now: Time,
        from: SocketAddr,
        request: u64,
        outcome: Result<u64, SetError>,
    ) {
        let reply = match outcome {
            Ok(version) => SetReply {
                request,
                version,
                error: None,
            },
            Err(e) => SetReply {
                request,
                version: 0,
                error: Some(e.to_string()),
            },
        };
        if self.replies.len() >= REPLIES {
            self.replies.pop_front();
        }
        self.replies.push_back((from, now, reply.clone()));
        cx.send(from, Message::SetReply(reply));
    }

    /// Starts (or renews) a watch.
    pub(super) fn watch(&mut self, now: Time, from: SocketAddr, req: WatchRequest) {
        let until = now + WATCH_LEASE;
        if let Some(w) = self
            .watchers
            .iter_mut()
            .find(|w| w.client == from && w.request == req.request)
        {
            w.until = until;
            return;
        }
        self.watchers.retain(|w| w.until > now);
        if self.watchers.len() >= WATCHERS {
            self.watchers.remove(0);
        }
        self.watchers.push(Watcher {
            client: from,
            request: req.request,
            prefix: req.prefix,
            until,
            seq: 0,
        });
    }

    /// Whether anyone is watching.
    pub(super) fn watched(&self) -> bool {
        !self.watchers.is_empty()
    }

    /// Sends each watcher the changes among `events` under its prefix.
    pub(super) fn notify<'e>(
        &mut self,
        cx: &mut Shared,
        now: Time,
        events: impl Iterator<Item = &'e Event>,
    ) {
        self.watchers.retain(|w| w.until > now);
        let own = &cx.config.id;
        let changes: Vec<Change> = events.filter_map(|e| change_of(own, e)).collect();
        if changes.is_empty() {
            return;
        }
        let budget = cx.transport.packer().list_budget().saturating_sub(16);
        for w in &mut self.watchers {
            let mine = changes
                .iter()
                .filter(|c| c.key.starts_with(&w.prefix))
                .cloned();
            let (pages, _) = paginate(mine, budget, usize::MAX, encoded_len);
            for page in pages {
                for changes in page.chunks(crate::wire::MAX_WATCH_CHANGES) {
                    let seq = w.seq;
                    w.seq += changes.len() as u64;
                    cx.send(
                        w.client,
                        Message::WatchEvents(WatchEvents {
                            request: w.request,
                            seq,
                            changes: changes.to_vec(),
                        }),
                    );
                }
            }
        }
    }

    /// Whether a snapshot for `from`'s request `request` is still kept (older ones are
    /// dropped first); if not, the caller renders one for [`Admin::serve`].
    pub(super) fn has(&mut self, now: Time, from: SocketAddr, request: u64) -> bool {
        while self
            .snapshots
            .front()
            .is_some_and(|s| now.since(s.at) > SNAPSHOT_TTL)
        {
            self.snapshots.pop_front();
        }
        self.snapshots
            .iter()
            .any(|s| s.client == from && s.request == request)
    }

    /// Sends the page `req` asks for, from the kept snapshot or from `fresh` (which is kept
    /// for the pages that follow).
    pub(super) fn serve(
        &mut self,
        cx: &mut Shared,
        now: Time,
        from: SocketAddr,
        req: StatusRequest,
        fresh: Option<StatusReport>,
    ) {
        if let Some(report) = fresh {
            let Ok(bytes) = encode_status(&report) else {
                cx.counters.encode_errors += 1;
                return;
            };
            let chunk = cx.transport.packer().page_budget();
            let chunks = bytes.chunks(chunk).map(<[u8]>::to_vec).collect();
            if self.snapshots.len() >= SNAPSHOTS {
                self.snapshots.pop_front();
            }
            self.snapshots.push_back(Snapshot {
                client: from,
                request: req.request,
                at: now,
                chunks,
            });
        }
        let Some(snapshot) = self
            .snapshots
            .iter()
            .find(|s| s.client == from && s.request == req.request)
        else {
            return;
        };
        let pages = snapshot.chunks.len() as u32;
        let Some(chunk) = snapshot.chunks.get(req.page as usize).cloned() else {
            return;
        };
        cx.send(
            from,
            Message::StatusPage(StatusPage {
                request: req.request,
                page: req.page,
                pages,
                chunk,
            }),
        );
    }
}

/// What a status report is made of.
pub(super) struct Facts<'a> {
    pub(super) config: &'a NodeConfig,
    pub(super) store: &'a Store,
    pub(super) peers: &'a PeerSet,
    pub(super) counters: &'a Counters,
    pub(super) recent: &'a crate::core::recent::Recent,
    pub(super) started: Time,
    pub(super) incarnation: u64,
    pub(super) health: u8,
    pub(super) wall_ms: u64,
    /// Our wall clock now, µs since the UNIX epoch.
    pub(super) wall_us: u64,
    /// Fetches under way and the bytes held of them.
    pub(super) fetching: (usize, u64),
    pub(super) partition: Option<crate::core::Partitioned>,
    pub(super) trust: &'a crate::core::trust::Trust,
}

/// A snapshot of everything `gossip status` shows.
pub(super) fn report(f: &Facts, now: Time) -> StatusReport {
    let own = f.store.own();
    let ms = |d: Duration| d.as_millis() as u64;
    let size = shared::cluster_size(f.store, f.peers);
    StatusReport {
        id: f.config.id.to_string(),
        addr: f.config.addr,
        version: own.watermark,
        uptime_ms: ms(now.since(f.started)),
        incarnation: f.incarnation,
        health: f.health,
        fanout: format!(
            "{} ({})",
            f.config.fanout,
            f.config.rumor_fanout(size).min(f.peers.len())
        ),
        ttl: shared::ttl(f.config, size),
        peers: f
            .peers
            .iter()
            .map(|p| PeerStatus {
                addr: p.addr,
                id: p.id.as_ref().map(|i| i.to_string()),
                source: p.source.name().to_string(),
                last_heard_ms: p.last_heard.map(|t| ms(now.since(t))),
                state: p.state,
                incarnation: p.incarnation,
            })
            .collect(),
        known: f
            .store
            .origins_sorted()
            .into_iter()
            .map(|(id, s)| KnownOrigin {
                origin: id.to_string(),
                addr: s.addr,
                version: s.watermark,
                age_ms: ms(now.since(s.changed_at)),
                learned_unix_us: f
                    .wall_us
                    .saturating_sub(now.since(s.changed_at).as_micros() as u64),
                hops: s.route.hops(),
                route: s.route.name().to_string(),
                via: s.via,
                values: s
                    .values
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), abbreviate(v.live(f.wall_ms)?))))
                    .collect(),
                state_bytes: s.values.bytes(),
            })
            .collect(),
        counters: f.counters.to_map(),
        state_bytes: f.store.bytes(),
        fetching: f.fetching.0 as u64,
        fetching_bytes: f.fetching.1,
        recent: f
            .recent
            .iter()
            .map(|m| crate::wire::RecentMessage {
                kind: m.kind.name().to_string(),
                id: m.id.map(|id| id.to_string()),
                origin: m.origin.to_string(),
                version: m.version,
                from: m.from,
                hops: m.hops,
                age_ms: ms(now.since(m.at)),
            })
            .collect(),
        partition: f.partition.map(|p| crate::wire::PartitionStatus {
            for_ms: ms(now.since(p.since)),
            unreachable: p.unreachable as u64,
            known: p.known as u64,
        }),
        identity: f.config.identity.as_ref().map(|i| i.public().to_string()),
        trust: f.trust.mode().name().to_string(),
        pinned_keys: f.trust.pinned_count() as u64,
    }
}

/// A value as status shows it: short text whole; long text cut, with its size; binary as its
/// size and first bytes in hex.
pub fn abbreviate(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) if value.len() <= SHOWN_WHOLE && !text.chars().any(char::is_control) => {
            text.to_string()
        }
        Ok(text) if !text.chars().take(40).any(char::is_control) => {
            let head: String = text.chars().take(40).collect();
            format!("{head}… ({})", size_text(value.len() as u64))
        }
        _ => {
            let head = hex::encode(&value[..value.len().min(8)]);
            format!("<{} binary: {head}…>", size_text(value.len() as u64))
        }
    }
}

/// `512 B`, `1.5 KiB`, `1.0 MiB`.
pub fn size_text(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.1} GiB", b / (KIB * KIB * KIB))
    }
}

/// What the node holds under `origin`'s `key`, as a get reply carries it.
pub(super) fn find(store: &Store, origin: &NodeId, key: &str, wall_ms: u64, form: Form) -> Found {
    let Some(state) = store.get(origin) else {
        return Found::NoOrigin;
    };
    match state.values.get(key) {
        Some(v) if v.live(wall_ms).is_some() => Found::Value {
            version: v.version,
            value: v.payload(form),
        },
        _ => Found::NoKey,
    }
}

/// The watch change an event is, if it is one.
fn change_of(own: &NodeId, event: &Event) -> Option<Change> {
    let (origin, key, version, value, kind) = match event {
        Event::Learned {
            origin,
            key,
            value,
            version,
            ..
        } => (origin, key, *version, value, None),
        Event::Originated {
            key,
            value,
            version,
            ..
        } => (own, key, *version, value, None),
        Event::Expired {
            origin,
            key,
            version,
        } => (origin, key, *version, &None, Some(ChangeKind::Expired)),
        _ => return None,
    };
    let kind = kind.unwrap_or(if value.is_some() {
        ChangeKind::Set
    } else {
        ChangeKind::Deleted
    });
    Some(Change {
        origin: origin.clone(),
        key: key.clone(),
        version,
        size: value.as_ref().map_or(0, |v| v.len() as u64),
        kind,
    })
}
