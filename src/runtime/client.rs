//! The admin client behind `gossip status` and `gossip set`: request/response datagrams with
//! retries, since UDP may lose either half.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use tokio::net::UdpSocket;
use tokio::time::timeout;

use bytes::Bytes;

use crate::core::assembly::Assembly;
use crate::core::Time;
use crate::wire::{
    decode_status, open_datagram, seal, Announce, Change, ClusterId, DecodeError, Fetch, Found,
    GetRequest, Keyring, Message, NodeId, Packer, Payload, SetRequest, StatusReport,
    StatusRequest, WatchRequest, DEFAULT_MTU, MAX_DATAGRAM, MAX_INLINE_VALUE, MAX_VERSION,
};

/// Why an admin request failed.
#[derive(Debug)]
pub enum ClientError {
    NoAnswer(SocketAddr),
    Io(std::io::Error),
    BadReply(DecodeError),
    Refused(String),
    UnknownOrigin(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::NoAnswer(addr) => write!(
                f,
                "no answer from {addr} (is a node running there, in the same cluster? A keyed \
                 node answers only requests made with --cluster-key-file; an open one answers \
                 other hosts only with admin_from = \"any\")"
            ),
            ClientError::Io(e) => write!(f, "network error: {e}"),
            ClientError::BadReply(e) => write!(f, "bad reply: {e}"),
            ClientError::Refused(reason) => f.write_str(reason),
            ClientError::UnknownOrigin(id) => write!(f, "the node knows no origin named `{id}`"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Io(e) => Some(e),
            ClientError::BadReply(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Io(e)
    }
}

impl From<DecodeError> for ClientError {
    fn from(e: DecodeError) -> Self {
        ClientError::BadReply(e)
    }
}

/// Tries per request (each waits `per_try`).
const TRIES: usize = 5;
/// Pieces `gossip get` keeps outstanding.
const FETCH_WINDOW: u32 = 64;
/// How often `gossip watch` renews its watch.
const WATCH_RENEW: Duration = Duration::from_secs(10);

/// Talks to one node.
pub struct AdminClient {
    target: SocketAddr,
    socket: UdpSocket,
    packer: Packer,
    /// Packs the pieces of an upload into MTU-sized datagrams.
    pieces: Packer,
    cluster: ClusterId,
    per_try: Duration,
    tries: usize,
    keyring: Option<Arc<Keyring>>,
}

/// How to reach a cluster's nodes as an admin: its name and, if keyed, its keys. Cheap to
/// clone into every polling task.
#[derive(Clone, Debug)]
pub struct ClusterAccess {
    pub cluster: ClusterId,
    pub keyring: Option<Arc<Keyring>>,
    /// How long each try waits for an answer.
    pub per_try: Duration,
}

impl ClusterAccess {
    /// A client for the node at `addr`.
    pub async fn client(&self, addr: SocketAddr) -> Result<AdminClient, ClientError> {
        Ok(AdminClient::new(addr, self.cluster, self.per_try)
            .await?
            .with_keyring(self.keyring.clone()))
    }
}

impl AdminClient {
    /// A client for the node at `target` in `cluster`, waiting `per_try` for each answer.
    pub async fn new(
        target: SocketAddr,
        cluster: ClusterId,
        per_try: Duration,
    ) -> Result<Self, ClientError> {
        let local: SocketAddr = if target.is_ipv6() {
            "[::]:0"
                .parse()
                .map_err(|_| ClientError::NoAnswer(target))?
        } else {
            "0.0.0.0:0"
                .parse()
                .map_err(|_| ClientError::NoAnswer(target))?
        };
        let socket = UdpSocket::bind(local).await?;
        Ok(AdminClient {
            target,
            socket,
            packer: Packer::new(cluster, None, MAX_DATAGRAM),
            pieces: Packer::new(cluster, None, DEFAULT_MTU),
            cluster,
            per_try,
            tries: TRIES,
            keyring: None,
        })
    }

    /// Seals requests and opens replies with the cluster key (a keyed cluster answers nothing
    /// else).
    pub fn with_keyring(mut self, keyring: Option<Arc<Keyring>>) -> Self {
        if keyring.is_some() {
            self.pieces = Packer::sealed(self.cluster, None, DEFAULT_MTU);
        }
        self.keyring = keyring;
        self
    }

    /// How many times each request is tried (a monitor polling many nodes wants one).
    pub fn with_tries(mut self, tries: usize) -> Self {
        self.tries = tries.max(1);
        self
    }

    async fn send(&self, message: &Message) -> Result<(), ClientError> {
        let bytes = self
            .packer
            .single(message)
            .map_err(|e| ClientError::Refused(e.to_string()))?;
        self.send_bytes(bytes).await
    }

    async fn send_bytes(&self, mut bytes: Vec<u8>) -> Result<(), ClientError> {
        if let Some(keys) = &self.keyring {
            // A fresh random nonce per request, from the OS-seeded CSPRNG.
            let nonce: [u8; 24] = rand::rng().random();
            bytes = seal(&bytes, keys, nonce, super::os::wall_clock_us());
        }
        self.socket.send_to(&bytes, self.target).await?;
        Ok(())
    }

    /// Waits up to `per_try` for replies, giving each decoded message to `on_message`
    /// until it returns true.
    async fn receive(&self, on_message: impl FnMut(Message) -> bool) -> Result<bool, ClientError> {
        self.receive_for(self.per_try, on_message).await
    }

    /// As [`AdminClient::receive`], waiting up to `wait`.
    async fn receive_for(
        &self,
        wait: Duration,
        mut on_message: impl FnMut(Message) -> bool,
    ) -> Result<bool, ClientError> {
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Ok(received) = timeout(left, self.socket.recv_from(&mut buf)).await else {
                return Ok(false);
            };
            // Any source: a node bound to 0.0.0.0 answers from whichever local address routes
            // back to us, not necessarily the one we asked. Replies are matched by our random
            // request id (and, in a keyed cluster, authenticated), not by address.
            let (len, _from) = received?;
            let mut done = false;
            let Ok(opened) = open_datagram(self.cluster, self.keyring.as_deref(), &buf[..len])
            else {
                continue;
            };
            for message in opened.datagram.messages {
                done = on_message(message) || done;
            }
            if done {
                return Ok(true);
            }
        }
    }

    /// Fetches the node's full status, reassembling as many pages as it takes.
    pub async fn status(&self) -> Result<StatusReport, ClientError> {
        let request: u64 = rand::rng().random();
        let mut pages: Vec<Option<Vec<u8>>> = Vec::new();
        for _ in 0..self.tries {
            let missing: Vec<u32> = if pages.is_empty() {
                vec![0]
            } else {
                (0..pages.len() as u32)
                    .filter(|&i| pages[i as usize].is_none())
                    .collect()
            };
            for page in &missing {
                self.send(&Message::StatusRequest(StatusRequest {
                    request,
                    page: *page,
                }))
                .await?;
            }
            let mut refused = None;
            self.receive(|m| {
                if let Message::Refused(r) = &m {
                    if r.request == request {
                        refused = Some(r.reason.clone());
                        return true;
                    }
                }
                if let Message::StatusPage(p) = m {
                    if p.request != request || p.pages == 0 || p.page >= p.pages {
                        return false;
                    }
                    if pages.is_empty() {
                        pages = vec![None; p.pages as usize];
                    }
                    if let Some(slot) = pages.get_mut(p.page as usize) {
                        *slot = Some(p.chunk);
                    }
                    // Once page 0 told us the count, ask for the rest without waiting longer.
                    return pages.iter().all(Option::is_some) || missing == [0];
                }
                false
            })
            .await?;
            if let Some(reason) = refused {
                return Err(ClientError::Refused(reason));
            }
            if !pages.is_empty() && pages.iter().all(Option::is_some) {
                let bytes: Vec<u8> = pages.into_iter().flatten().flatten().collect();
                return Ok(decode_status(&bytes)?);
            }
        }
        Err(ClientError::NoAnswer(self.target))
    }

    /// Sets `key` to `value` on the node, expiring it `ttl` from now if given (`None` value:
    /// deletes the key); returns the version it produced. A value too large to send whole is
    /// announced, and the node fetches its pieces from this client before it answers. Every
    /// try repeats the same request id, so a write whose reply was lost is applied once.
    pub async fn write(
        &self,
        key: &str,
        value: Option<Bytes>,
        ttl: Option<Duration>,
    ) -> Result<u64, ClientError> {
        // Request ids double as the upload's version, which the wire caps.
        let request: u64 = rand::rng().random_range(1..MAX_VERSION);
        let payload = match &value {
            None => Payload::Deleted,
            Some(v) if v.len() <= MAX_INLINE_VALUE => Payload::Inline(v.to_vec()),
            Some(v) => Payload::Announced(Announce {
                size: v.len() as u32,
                hash: *blake3::hash(v).as_bytes(),
                piece: self.pieces.piece_len() as u32,
            }),
        };
        let message = Message::SetRequest(SetRequest {
            request,
            key: key.into(),
            value: payload,
            ttl_ms: ttl.map(|t| t.as_millis().max(1) as u64),
        });
        let mut idle_tries = 0;
        while idle_tries < self.tries {
            self.send(&message).await?;
            let mut result = None;
            let mut fetches = Vec::new();
            self.receive(|m| match m {
                Message::SetReply(r) if r.request == request => {
                    result = Some(Ok(r));
                    true
                }
                Message::Refused(r) if r.request == request => {
                    result = Some(Err(ClientError::Refused(r.reason)));
                    true
                }
                Message::Fetch(f) if f.version == request && f.key == key => {
                    fetches.push(f);
                    // Serve at once; the reply comes after the last piece.
                    true
                }
                _ => false,
            })
            .await?;
            if let Some(result) = result {
                let reply = result?;
                return match reply.error {
                    None => Ok(reply.version),
                    Some(e) => Err(ClientError::Refused(e)),
                };
            }
            if fetches.is_empty() {
                idle_tries += 1;
            } else {
                idle_tries = 0;
            }
            if let Some(value) = &value {
                for fetch in fetches {
                    self.serve(&fetch, value).await?;
                }
            }
        }
        Err(ClientError::NoAnswer(self.target))
    }

    /// Sends the pieces a node's fetch names.
    async fn serve(&self, fetch: &Fetch, value: &Bytes) -> Result<(), ClientError> {
        let pieces: Vec<Message> = crate::core::assembly::pieces(fetch, value)
            .map(Message::Piece)
            .collect();
        let datagrams = self
            .pieces
            .pack(&pieces)
            .map_err(|e| ClientError::Refused(e.to_string()))?;
        for bytes in datagrams {
            self.send_bytes(bytes).await?;
        }
        Ok(())
    }

    /// The value the node holds under `origin`'s `key` and its version; `None` if the origin
    /// holds no such key. A large value is fetched piece by piece and checked against its
    /// hash.
    pub async fn get(&self, origin: &str, key: &str) -> Result<Option<(u64, Bytes)>, ClientError> {
        let request: u64 = rand::rng().random();
        let message = Message::GetRequest(GetRequest {
            request,
            origin: NodeId::from(origin),
            key: key.into(),
        });
        for _ in 0..self.tries {
            self.send(&message).await?;
            let mut result = None;
            self.receive(|m| match m {
                Message::GetReply(r) if r.request == request => {
                    result = Some(Ok(r.found));
                    true
                }
                Message::Refused(r) if r.request == request => {
                    result = Some(Err(ClientError::Refused(r.reason)));
                    true
                }
                _ => false,
            })
            .await?;
            let Some(found) = result else {
                continue;
            };
            return match found? {
                Found::NoOrigin => Err(ClientError::UnknownOrigin(origin.to_string())),
                Found::NoKey => Ok(None),
                Found::Value {
                    version,
                    value: Payload::Inline(bytes),
                } => Ok(Some((version, Bytes::from(bytes)))),
                Found::Value {
                    version,
                    value: Payload::Announced(announce),
                } => {
                    let bytes = self.fetch(origin, key, version, announce).await?;
                    Ok(Some((version, bytes)))
                }
                Found::Value {
                    value: Payload::Deleted,
                    ..
                } => Ok(None),
            };
        }
        Err(ClientError::NoAnswer(self.target))
    }

    /// Fetches an announced value from the node, a window of pieces at a time.
    async fn fetch(
        &self,
        origin: &str,
        key: &str,
        version: u64,
        announce: Announce,
    ) -> Result<Bytes, ClientError> {
        let epoch = tokio::time::Instant::now();
        let now = || Time::from(epoch.elapsed());
        let mut assembly = Assembly::new(announce, now());
        let mut stalls = 0;
        while !assembly.is_complete() {
            if assembly.stalled(now()) {
                stalls += 1;
                if stalls > self.tries {
                    return Err(ClientError::NoAnswer(self.target));
                }
                assembly.forget_asked(now());
            }
            for pieces in assembly.requests(now(), FETCH_WINDOW) {
                self.send(&Message::Fetch(Fetch {
                    origin: NodeId::from(origin),
                    key: key.into(),
                    version,
                    piece: announce.piece,
                    pieces,
                }))
                .await?;
            }
            let wait = assembly
                .next_deadline()
                .map_or(Duration::from_millis(50), |at| at.since(now()))
                .max(Duration::from_millis(1));
            let mut missing = false;
            self.receive_for(wait, |m| match m {
                Message::Piece(p) if p.version == version && p.key == key => {
                    assembly.receive(p.index, &p.bytes, now());
                    assembly.is_complete() || assembly.wants_more(FETCH_WINDOW)
                }
                Message::FetchMiss(m) if m.version == version && m.key == key => {
                    missing = true;
                    true
                }
                _ => false,
            })
            .await?;
            if missing {
                return Err(ClientError::Refused(format!(
                    "{origin}'s {key} changed while it was being read; try again"
                )));
            }
        }
        assembly
            .finish()
            .map_err(|e| ClientError::Refused(e.to_string()))
    }

    /// Streams the changes the node applies to keys starting with `prefix`, calling
    /// `on_change` for each (with how many were lost in transit before it). Runs until
    /// `on_change` returns false or the node stops answering.
    pub async fn watch(
        &self,
        prefix: &str,
        mut on_change: impl FnMut(Change, u64) -> bool,
    ) -> Result<(), ClientError> {
        let request: u64 = rand::rng().random();
        let message = Message::WatchRequest(WatchRequest {
            request,
            prefix: prefix.into(),
        });
        let mut next_seq = 0u64;
        let mut silent = 0;
        loop {
            self.send(&message).await?;
            let mut heard = false;
            let mut stop = false;
            let mut refused = None;
            self.receive_for(WATCH_RENEW, |m| match m {
                Message::WatchEvents(w) if w.request == request => {
                    heard = true;
                    for (i, change) in w.changes.into_iter().enumerate() {
                        let seq = w.seq + i as u64;
                        if seq < next_seq {
                            continue;
                        }
                        let missed = seq - next_seq;
                        next_seq = seq + 1;
                        if !on_change(change, missed) {
                            stop = true;
                            return true;
                        }
                    }
                    false
                }
                Message::Refused(r) if r.request == request => {
                    refused = Some(r.reason);
                    true
                }
                _ => false,
            })
            .await?;
            if let Some(reason) = refused {
                return Err(ClientError::Refused(reason));
            }
            if stop {
                return Ok(());
            }
            // A quiet node is fine; one that stops answering status is gone.
            if !heard {
                silent += 1;
                if silent >= 2 {
                    silent = 0;
                    self.status().await?;
                }
            }
        }
    }
}
