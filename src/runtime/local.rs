//! Real-UDP nodes inside one process on 127.0.0.1 with kernel-chosen ports: what the
//! integration tests and the benchmark run.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::core::{Node, NodeConfig, Time};
use crate::wire::NodeId;

use super::driver::{spawn, NodeHandle};
use super::socket::{bind_udp, BindError};

/// Binds 127.0.0.1:0, then builds a node (id `n<port>`) configured by `tune` and starts it.
/// Events are dropped; use `NodeHandle::inspect` to look at state.
pub fn start_local_node(
    epoch: Instant,
    books: Vec<String>,
    seed: u64,
    tune: impl FnOnce(&mut NodeConfig),
) -> Result<NodeHandle, BindError> {
    let any: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    let socket = bind_udp(any)?;
    let addr = socket
        .local_addr()
        .map_err(|source| BindError::Other { addr: any, source })?;
    let mut config = NodeConfig::new(NodeId::from(format!("n{}", addr.port())), addr);
    tune(&mut config);
    let node = Node::new(config, books, Time::from(epoch.elapsed()), seed);
    Ok(spawn(node, socket, epoch, |_, _, _| {}))
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
