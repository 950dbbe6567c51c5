//! [`GossipHandle`]: a running node's state, read and written from async code.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::broadcast;

use super::error::Error;
use super::types::{event_of, origin_state, Event, Member, MemberState, Snapshot};
use crate::core::{self, Node, Time};
use crate::runtime::persist::StateFile;
use crate::runtime::{self, NodeHandle};

/// A running node. Every method talks to the node's task, so they are cheap to call from any
/// task; share the handle behind an `Arc` to use it from several.
///
/// [`shutdown`](GossipHandle::shutdown) leaves the cluster gracefully (peers mark the node
/// *left* at once instead of suspecting it) and waits for the task to end. Dropping the handle
/// leaves gracefully too, without waiting.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), gossip::Error> {
/// let node = gossip::Gossip::builder("127.0.0.1:0".parse().unwrap())
///     .id("a")
///     .spawn()
///     .await?;
/// let version = node.set("role", "cache").await?;
/// assert_eq!(node.get("a", "role").await?.as_deref(), Some(&b"cache"[..]));
/// node.delete("role").await?;
/// assert_eq!(node.get("a", "role").await?, None);
/// assert!(node.snapshot().await?.origins["a"].version > version);
/// node.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct GossipHandle {
    id: String,
    addr: SocketAddr,
    node: NodeHandle,
    events: broadcast::WeakSender<Event>,
}

impl GossipHandle {
    /// Longest key accepted, in bytes.
    pub const MAX_KEY_LEN: usize = crate::wire::MAX_KEY_LEN;
    /// Largest value any node accepts, in bytes (16 MiB); each node's own limit is its
    /// `max_value_bytes` (1 MiB unless the builder says otherwise).
    pub const MAX_VALUE_LEN: usize = crate::wire::MAX_VALUE_LEN;

    /// This node's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The address peers reach this node at (the bound address, or the advertised one).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets one of this node's keys; the change spreads to every live node. Returns the
    /// node's new version.
    ///
    /// A value up to 512 bytes rides inline in the rumor; a larger one (up to the builder's
    /// `max_value_bytes`, 1 MiB by default) is announced by size and hash, and every node
    /// fetches its pieces. Readers elsewhere keep the previous value until the new one has
    /// arrived whole.
    pub async fn set(&self, key: impl AsRef<str>, value: impl AsRef<[u8]>) -> Result<u64, Error> {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.write(key, Some(Bytes::copy_from_slice(value)), None)
            .await
    }

    /// As [`set`](GossipHandle::set), and the key expires on every node `ttl` from now (by
    /// each node's wall clock, so clocks should agree to well within `ttl`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gossip::Error> {
    /// use std::time::Duration;
    /// let node = gossip::Gossip::builder("127.0.0.1:0".parse().unwrap()).id("a").spawn().await?;
    /// node.set_with_ttl("lease", "held", Duration::from_millis(50)).await?;
    /// assert!(node.get("a", "lease").await?.is_some());
    /// tokio::time::sleep(Duration::from_millis(80)).await;
    /// assert_eq!(node.get("a", "lease").await?, None);
    /// # node.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn set_with_ttl(
        &self,
        key: impl AsRef<str>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<u64, Error> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.write(key, Some(Bytes::copy_from_slice(value)), Some(ttl_ms))
            .await
    }

    async fn write(
        &self,
        key: &str,
        value: Option<Bytes>,
        ttl_ms: Option<u64>,
    ) -> Result<u64, Error> {
        self.node
            .write(key, value, ttl_ms)
            .await
            .ok_or(Error::Stopped)?
            .map_err(|e| Error::from_set(e, key))
    }

    /// Deletes one of this node's keys everywhere (the deletion spreads like any change).
    /// Returns the node's new version.
    pub async fn delete(&self, key: impl AsRef<str>) -> Result<u64, Error> {
        self.write(key.as_ref(), None, None).await
    }

    /// The value `origin` (a node id, this node's own included) holds under `key`, as far
    /// as this node knows; `None` if it holds none.
    pub async fn get(
        &self,
        origin: impl AsRef<str>,
        key: impl AsRef<str>,
    ) -> Result<Option<Bytes>, Error> {
        let origin = crate::wire::NodeId::from(origin.as_ref());
        let key = key.as_ref().to_string();
        self.node
            .inspect(move |node, now| {
                let held = node.store().get(&origin)?.values.get(&key)?;
                held.live(node.wall_ms(now)).cloned()
            })
            .await
            .ok_or(Error::Stopped)
    }

    /// Everything this node holds: every origin's live keys and versions.
    pub async fn snapshot(&self) -> Result<Snapshot, Error> {
        self.node
            .inspect(|node, now| {
                let wall = node.wall_ms(now);
                Snapshot {
                    origins: node
                        .store()
                        .origins()
                        .map(|(id, state)| (id.to_string(), origin_state(state, wall)))
                        .collect(),
                }
            })
            .await
            .ok_or(Error::Stopped)
    }

    /// Every member this node knows, itself first (always alive), then by id. Members
    /// declared dead or left stay listed until they are forgotten.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gossip::Error> {
    /// use gossip::{Gossip, MemberState};
    /// let a = Gossip::builder("127.0.0.1:0".parse().unwrap()).id("a").spawn().await?;
    /// let me = &a.members().await?[0];
    /// assert_eq!((me.id.as_str(), me.state), ("a", MemberState::Alive));
    /// # a.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn members(&self) -> Result<Vec<Member>, Error> {
        self.node
            .inspect(|node, _| {
                let me = Member {
                    id: node.id().to_string(),
                    addr: node.addr(),
                    state: MemberState::Alive,
                    incarnation: node.incarnation(),
                };
                let mut others: Vec<Member> = node
                    .peers()
                    .iter()
                    .filter_map(|p| {
                        Some(Member {
                            id: p.id.as_ref()?.to_string(),
                            addr: p.addr,
                            state: p.state.into(),
                            incarnation: p.incarnation,
                        })
                    })
                    .collect();
                others.sort_by(|a, b| a.id.cmp(&b.id).then(a.addr.cmp(&b.addr)));
                std::iter::once(me).chain(others).collect()
            })
            .await
            .ok_or(Error::Stopped)
    }

    /// A stream of every change of state and membership this node applies from now on. Each
    /// subscriber gets its own copy; one that falls too far behind gets [`Event::Lagged`].
    /// The stream ends when the node stops.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gossip::Error> {
    /// use gossip::{Event, Gossip};
    /// let a = Gossip::builder("127.0.0.1:0".parse().unwrap()).id("a").spawn().await?;
    /// let b = Gossip::builder("127.0.0.1:0".parse().unwrap())
    ///     .id("b")
    ///     .bootstrap([a.addr()])
    ///     .spawn()
    ///     .await?;
    /// let mut at_a = a.subscribe();
    /// b.set("color", "blue").await?;
    /// loop {
    ///     if let Some(Event::Changed { origin, key, value, .. }) = at_a.recv().await {
    ///         if origin == "b" && key == "color" {
    ///             assert_eq!(value.as_deref(), Some(&b"blue"[..]));
    ///             break;
    ///         }
    ///     }
    /// }
    /// # b.shutdown().await;
    /// # a.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn subscribe(&self) -> Subscription {
        let receiver = match self.events.upgrade() {
            Some(sender) => sender.subscribe(),
            // Stopped: a receiver whose sender is already gone ends at once.
            None => broadcast::channel(1).1,
        };
        Subscription::new(receiver)
    }

    /// Leaves the cluster gracefully and waits until the node's task has stopped.
    pub async fn shutdown(mut self) {
        self.node.leave().await;
    }

    /// The runtime handle under this one (for the binary's status view, metrics and reload).
    #[cfg(feature = "cli")]
    pub(crate) fn runtime(&self) -> &NodeHandle {
        &self.node
    }
}

impl Drop for GossipHandle {
    fn drop(&mut self) {
        // Leave gracefully; the task finishes on its own (if the runtime still runs). After
        // `shutdown` the task is gone and this finds no one to tell.
        let _ = self.node.commands().send(runtime::Command::Shutdown);
    }
}

/// The receive in flight: it owns the receiver and hands it back with the result.
type Receiving =
    Pin<Box<dyn Future<Output = (RecvResult, broadcast::Receiver<Event>)> + Send + Sync>>;
type RecvResult = Result<Event, broadcast::error::RecvError>;

fn receive(mut receiver: broadcast::Receiver<Event>) -> Receiving {
    Box::pin(async move { (receiver.recv().await, receiver) })
}

/// A subscriber's stream of [`Event`]s, from [`GossipHandle::subscribe`]. Read it with
/// [`recv`](Subscription::recv), or as a [`Stream`](futures_core::Stream) (with
/// `StreamExt` from `futures` or `tokio-stream`).
pub struct Subscription {
    /// `None` once the stream has ended.
    next: Option<Receiving>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("ended", &self.next.is_none())
            .finish()
    }
}

impl Subscription {
    fn new(receiver: broadcast::Receiver<Event>) -> Self {
        Subscription {
            next: Some(receive(receiver)),
        }
    }

    /// The next event; `None` once the node has stopped and every event was delivered.
    /// Cancel-safe: dropping the future loses no event.
    pub async fn recv(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        match self.poll_event(&mut Context::from_waker(std::task::Waker::noop())) {
            Poll::Ready(event) => event,
            Poll::Pending => None,
        }
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let Some(next) = self.next.as_mut() else {
            return Poll::Ready(None);
        };
        let (result, receiver) = std::task::ready!(next.as_mut().poll(cx));
        let event = match result {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => Event::Lagged { missed },
            Err(broadcast::error::RecvError::Closed) => {
                self.next = None;
                return Poll::Ready(None);
            }
        };
        self.next = Some(receive(receiver));
        Poll::Ready(Some(event))
    }
}

impl futures_core::Stream for Subscription {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.get_mut().poll_event(cx)
    }
}

/// Starts `node` on `socket` and wraps it in a [`GossipHandle`]: user-visible events go to
/// subscribers (at most `backlog` waiting per subscriber), then every event to `sink`.
pub(crate) fn launch(
    node: Node,
    socket: UdpSocket,
    epoch: Instant,
    state: Option<StateFile>,
    backlog: usize,
    mut sink: impl FnMut(&Node, Time, core::Event) + Send + 'static,
) -> GossipHandle {
    let (events, _) = broadcast::channel(backlog.max(1));
    let weak = events.downgrade();
    let id = node.id().to_string();
    let addr = node.addr();
    let handle = runtime::spawn(node, socket, epoch, state, move |node, now, event| {
        if events.receiver_count() > 0 {
            if let Some(e) = event_of(node, &event) {
                let _ = events.send(e);
            }
        }
        sink(node, now, event);
    });
    GossipHandle {
        id,
        addr,
        node: handle,
        events: weak,
    }
}
