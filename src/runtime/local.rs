//! Real-UDP nodes inside one process on 127.0.0.1 with kernel-chosen ports: what the
//! integration tests and the benchmark run.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::core::{Node, NodeConfig, Time};
use crate::wire::NodeId;

use super::driver::{spawn, NodeHandle};
use super::socket::{bind_udp, BindError};

/// Binds 127.0.0.1:0, then builds a node (id `n<port>`) configured by `tune` and starts it,
/// holding one of `books` (drawn by `seed`) as its `book` key if any are given.
/// Events are dropped; use `NodeHandle::inspect` to look at state.
pub fn start_local_node(
    epoch: Instant,
    books: Vec<String>,
    seed: u64,
    tune: impl FnOnce(&mut NodeConfig),
) -> Result<NodeHandle, BindError> {
    start_local_node_with_sink(epoch, books, seed, tune, |_, _, _| {})
}

/// As [`start_local_node`], with every event handed to `sink` (benchmarks measure with it).
pub fn start_local_node_with_sink(
    epoch: Instant,
    books: Vec<String>,
    seed: u64,
    tune: impl FnOnce(&mut NodeConfig),
    sink: impl FnMut(&Node, Time, crate::core::Event) + Send + 'static,
) -> Result<NodeHandle, BindError> {
    let any: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    let socket = bind_udp(any)?;
    let addr = socket
        .local_addr()
        .map_err(|source| BindError::Other { addr: any, source })?;
    let mut config = NodeConfig::new(NodeId::from(format!("n{}", addr.port())), addr);
    tune(&mut config);
    super::os::ground(&mut config, epoch);
    let now = Time::from(epoch.elapsed());
    let mut node = Node::new(config, now, seed);
    if !books.is_empty() {
        let book = &books[(seed % books.len() as u64) as usize];
        let _ = node.preload(now, "book", bytes::Bytes::from(book.clone()), None);
    }
    Ok(spawn(node, socket, epoch, None, sink))
}

/// Polls `check` every `every` until it returns true or `limit` passes; returns the time taken.
pub async fn wait_until<F, Fut>(limit: Duration, every: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// Hosts many nodes in one process: one single-threaded tokio runtime per thread, each with
/// its own I/O reactor, nodes spread across them. A multi-threaded runtime keeps loopback
/// wake-ups on the worker that polls the reactor, so a thousand chatty nodes end up on one
/// core; shards use them all.
pub struct Shards {
    handles: Vec<tokio::runtime::Handle>,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Shards {
    /// `count` shards (at least one), each on its own thread.
    pub fn new(count: usize) -> std::io::Result<Self> {
        let mut shards = Shards {
            handles: Vec::new(),
            stops: Vec::new(),
            threads: Vec::new(),
        };
        for i in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            shards.handles.push(runtime.handle().clone());
            shards.stops.push(stop);
            shards.threads.push(
                std::thread::Builder::new()
                    .name(format!("gossip-shard-{i}"))
                    .spawn(move || {
                        let _ = runtime.block_on(stopped);
                    })?,
            );
        }
        Ok(shards)
    }

    /// One shard per available core.
    pub fn per_core() -> std::io::Result<Self> {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Enters shard `i % count`: sockets bound and tasks spawned while the guard lives belong
    /// to that shard.
    pub fn enter(&self, i: usize) -> tokio::runtime::EnterGuard<'_> {
        self.handles[i % self.handles.len()].enter()
    }

    /// Number of shards.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Never true; a set of shards has at least one.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }
}

impl Drop for Shards {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
