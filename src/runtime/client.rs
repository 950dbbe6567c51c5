//! The admin client behind `gossip status` and `gossip set`: request/response datagrams with
//! retries, since UDP may lose either half.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use tokio::net::UdpSocket;
use tokio::time::timeout;

use crate::wire::{
    decode_status, open_datagram, seal, ClusterId, DecodeError, Keyring, Message, Packer,
    SetRequest, StatusReport, StatusRequest, MAX_DATAGRAM,
};

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no answer from {0} (is a node running there, in the same cluster? A keyed node \
         answers only requests made with --cluster-key-file; an open one answers other hosts \
         only with admin_from = \"any\")"
    )]
    NoAnswer(SocketAddr),
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad reply: {0}")]
    BadReply(#[from] DecodeError),
    #[error("{0}")]
    Refused(String),
}

/// Tries per request (each waits `per_try`).
const TRIES: usize = 5;

/// Talks to one node.
pub struct AdminClient {
    target: SocketAddr,
    socket: UdpSocket,
    packer: Packer,
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
            cluster,
            per_try,
            tries: TRIES,
            keyring: None,
        })
    }

    /// Seals requests and opens replies with the cluster key (a keyed cluster answers nothing
    /// else).
    pub fn with_keyring(mut self, keyring: Option<Arc<Keyring>>) -> Self {
        self.keyring = keyring;
        self
    }

    /// How many times each request is tried (a monitor polling many nodes wants one).
    pub fn with_tries(mut self, tries: usize) -> Self {
        self.tries = tries.max(1);
        self
    }

    async fn send(&self, message: &Message) -> Result<(), ClientError> {
        let mut bytes = self
            .packer
            .single(message)
            .map_err(|e| ClientError::Refused(e.to_string()))?;
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
    async fn receive(
        &self,
        mut on_message: impl FnMut(Message) -> bool,
    ) -> Result<bool, ClientError> {
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        let deadline = tokio::time::Instant::now() + self.per_try;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Ok(received) = timeout(left, self.socket.recv_from(&mut buf)).await else {
                return Ok(false);
            };
            // Any source: a node bound to 0.0.0.0 answers from whichever local address routes
            // back to us, not necessarily the one we asked. Replies are matched by our random
            // request id (and, in a keyed cluster, authenticated), not by address.
            let (len, _from) = received?;
            let Ok(opened) = open_datagram(self.cluster, self.keyring.as_deref(), &buf[..len])
            else {
                continue;
            };
            for message in opened.datagram.messages {
                if on_message(message) {
                    return Ok(true);
                }
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
            self.receive(|m| {
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
            if !pages.is_empty() && pages.iter().all(Option::is_some) {
                let bytes: Vec<u8> = pages.into_iter().flatten().flatten().collect();
                return Ok(decode_status(&bytes)?);
            }
        }
        Err(ClientError::NoAnswer(self.target))
    }

    /// Sets `key` to `value` on the node; returns the version it produced.
    pub async fn set(&self, key: &str, value: &str) -> Result<u64, ClientError> {
        let request: u64 = rand::rng().random();
        let message = Message::SetRequest(SetRequest {
            request,
            key: key.into(),
            value: value.into(),
        });
        for _ in 0..self.tries {
            self.send(&message).await?;
            let mut result = None;
            self.receive(|m| match m {
                Message::SetReply(r) if r.request == request => {
                    result = Some(r);
                    true
                }
                _ => false,
            })
            .await?;
            if let Some(reply) = result {
                return match reply.error {
                    None => Ok(reply.version),
                    Some(e) => Err(ClientError::Refused(e)),
                };
            }
        }
        Err(ClientError::NoAnswer(self.target))
    }
}
