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
use crate::wire::{
    encode_status, KnownOrigin, Message, PeerStatus, SetReply, StatusPage, StatusReport,
    StatusRequest,
};

use super::own::SetError;
use super::shared::{self, Shared};

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

/// What the admin endpoint owns: recently rendered status snapshots, so every page a client
/// asks for comes from one snapshot.
#[derive(Debug, Default)]
pub(super) struct Admin {
    snapshots: VecDeque<Snapshot>,
}

impl Admin {
    /// Admin requests need the cluster key in a keyed cluster (the datagram opened, so it had
    /// it) and otherwise come from loopback unless `admin_from = "any"`; none are served
    /// when the endpoint is off. A refusal is counted.
    pub(super) fn allowed(&self, cx: &mut Shared, from: SocketAddr) -> bool {
        let ok = match cx.config.admin_from {
            AdminAccess::Off => false,
            AdminAccess::Any => true,
            AdminAccess::Loopback => {
                cx.config.keyring.is_some() || from.ip().to_canonical().is_loopback()
            }
        };
        if !ok {
            cx.counters.decode_error("admin_refused");
        }
        ok
    }

    /// Answers set request `request` from `from` with what the write did.
    pub(super) fn reply_set(
        &self,
        cx: &mut Shared,
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
        cx.send(from, Message::SetReply(reply));
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
    pub(super) started: Time,
    pub(super) incarnation: u64,
    pub(super) health: u8,
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
            f.config.fanout.resolve(size).min(f.peers.len())
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
                hops: s.route.hops(),
                route: s.route.name().to_string(),
                via: s.via,
                values: s
                    .values
                    .iter()
                    .filter_map(|(k, v)| {
                        let value = v.value.as_deref()?;
                        Some((k.clone(), String::from_utf8_lossy(value).into_owned()))
                    })
                    .collect(),
            })
            .collect(),
        counters: f.counters.to_map(),
    }
}
