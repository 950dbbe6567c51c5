//! Operator requests arriving as datagrams: `gossip status` (a snapshot paged over as many
//! datagrams as it needs) and `gossip set`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use crate::wire::{
    encode_status, KnownOrigin, Message, PeerStatus, SetReply, SetRequest, StatusPage,
    StatusReport, StatusRequest,
};

use super::Node;
use crate::core::config::AdminAccess;
use crate::core::time::Time;

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

impl Node {
    /// Admin requests need the cluster key in a keyed cluster (the datagram opened, so it had
    /// it) and otherwise come from loopback unless `admin_from = "any"`.
    fn admin_allowed(&mut self, from: SocketAddr) -> bool {
        let ok = match self.config.admin_from {
            AdminAccess::Off => false,
            AdminAccess::Any => true,
            AdminAccess::Loopback => {
                self.config.keyring.is_some() || from.ip().to_canonical().is_loopback()
            }
        };
        if !ok {
            self.counters.decode_error("admin_refused");
        }
        ok
    }

    pub(super) fn on_set_request(&mut self, now: Time, from: SocketAddr, request: SetRequest) {
        if !self.admin_allowed(from) {
            return;
        }
        let reply = match self.set(now, &request.key, request.value.as_bytes()) {
            Ok(version) => SetReply {
                request: request.request,
                version,
                error: None,
            },
            Err(e) => SetReply {
                request: request.request,
                version: 0,
                error: Some(e.to_string()),
            },
        };
        self.send(from, Message::SetReply(reply));
    }

    pub(super) fn on_status_request(&mut self, now: Time, from: SocketAddr, req: StatusRequest) {
        if !self.admin_allowed(from) {
            return;
        }
        let cache = &mut self.admin.snapshots;
        while cache
            .front()
            .is_some_and(|s| now.since(s.at) > SNAPSHOT_TTL)
        {
            cache.pop_front();
        }
        let found = cache
            .iter()
            .position(|s| s.client == from && s.request == req.request);
        let index = match found {
            Some(i) => i,
            None => {
                let Ok(bytes) = encode_status(&self.status(now)) else {
                    self.counters.encode_errors += 1;
                    return;
                };
                let chunk = self.transport.packer().page_budget();
                let chunks = bytes.chunks(chunk).map(<[u8]>::to_vec).collect();
                let cache = &mut self.admin.snapshots;
                if cache.len() >= SNAPSHOTS {
                    cache.pop_front();
                }
                cache.push_back(Snapshot {
                    client: from,
                    request: req.request,
                    at: now,
                    chunks,
                });
                cache.len() - 1
            }
        };
        let snapshot = &self.admin.snapshots[index];
        let pages = snapshot.chunks.len() as u32;
        let Some(chunk) = snapshot.chunks.get(req.page as usize).cloned() else {
            return;
        };
        self.send(
            from,
            Message::StatusPage(StatusPage {
                request: req.request,
                page: req.page,
                pages,
                chunk,
            }),
        );
    }

    /// A snapshot of everything `gossip status` shows.
    pub fn status(&self, now: Time) -> StatusReport {
        let own = self.store.own();
        let ms = |d: Duration| d.as_millis() as u64;
        StatusReport {
            id: self.config.id.to_string(),
            addr: self.config.addr,
            version: own.watermark,
            uptime_ms: ms(now.since(self.started)),
            incarnation: self.incarnation(),
            health: self.health(),
            fanout: format!(
                "{} ({})",
                self.config.fanout,
                self.fanout().min(self.peers.len())
            ),
            ttl: self.ttl(),
            peers: self
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
            known: self
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
            counters: self.counters.to_map(),
        }
    }
}
