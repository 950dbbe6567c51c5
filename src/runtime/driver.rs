//! The event loop around one node: receive (draining every datagram already queued, so replies
//! batch), fire timers, send, and hand events to a sink. Commands from the process (set,
//! inspect, shutdown) arrive on a channel.

use std::net::SocketAddr;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::core::{Event, Node, NodeConfig, Reconfigured, SetError, Time};

use super::persist::StateFile;
use crate::wire::MAX_DATAGRAM;

/// Datagrams handled per wake-up before sending, so a flood cannot starve timers or sends.
const RECV_BATCH: usize = 64;

type Inspect = Box<dyn FnOnce(&Node, Time) + Send>;

/// What the process can ask of a running node.
pub enum Command {
    /// Set (`Some`, expiring after `ttl_ms` if given) or delete (`None`) one of the node's
    /// own keys. The reply comes once the write is on disk (with a data dir).
    Write {
        key: String,
        value: Option<Bytes>,
        ttl_ms: Option<u64>,
        reply: oneshot::Sender<Result<u64, SetError>>,
    },
    /// Run a closure against the node's state (status, UI, tests, benchmarks).
    Inspect(Inspect),
    /// Apply a new configuration (a reloaded TOML file); the reply says what changed.
    Reconfigure {
        config: Box<NodeConfig>,
        reply: oneshot::Sender<Reconfigured>,
    },
    /// Leave the cluster gracefully (peers mark us *left* at once) and stop the loop.
    Shutdown,
}

/// A running node: its address, a command channel and the task.
#[derive(Debug)]
pub struct NodeHandle {
    pub addr: SocketAddr,
    commands: mpsc::UnboundedSender<Command>,
    /// `None` once waited for.
    task: Option<JoinHandle<()>>,
}

impl NodeHandle {
    /// Sets a key on the node; None if the node has stopped.
    pub async fn set(&self, key: &str, value: impl AsRef<[u8]>) -> Option<Result<u64, SetError>> {
        self.write(key, Some(Bytes::copy_from_slice(value.as_ref())), None)
            .await
    }

    /// Sets (`Some`, expiring after `ttl_ms` if given) or deletes (`None`) a key; None if the
    /// node has stopped.
    pub async fn write(
        &self,
        key: &str,
        value: Option<Bytes>,
        ttl_ms: Option<u64>,
    ) -> Option<Result<u64, SetError>> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Write {
                key: key.into(),
                value,
                ttl_ms,
                reply,
            })
            .ok()?;
        rx.await.ok()
    }

    /// Computes something from the node's state; None if the node has stopped.
    pub async fn inspect<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Node, Time) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Inspect(Box::new(move |node, now| {
                let _ = tx.send(f(node, now));
            })))
            .ok()?;
        rx.await.ok()
    }

    /// Applies a new configuration; None if the node has stopped.
    pub async fn reconfigure(&self, config: NodeConfig) -> Option<Reconfigured> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Reconfigure {
                config: Box::new(config),
                reply,
            })
            .ok()?;
        rx.await.ok()
    }

    /// Asks the node to leave the cluster and waits for it to stop.
    pub async fn shutdown(mut self) {
        self.leave().await;
    }

    /// Asks the node to leave the cluster and waits for it to stop; later commands find it
    /// stopped.
    pub async fn leave(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Kills the task at once, as SIGKILL would a process: nothing is sent on the way out.
    pub fn abort(self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }

    /// The sender for commands (for the CLI's signal handling).
    pub fn commands(&self) -> mpsc::UnboundedSender<Command> {
        self.commands.clone()
    }

    /// Waits for the node's loop to end.
    pub async fn join(self) {
        if let Some(task) = self.task {
            let _ = task.await;
        }
    }
}

/// Starts `node` on `socket` as a tokio task. `epoch` is the instant the node's `Time::ZERO`
/// refers to; `state` (from `--data-dir`) is checkpointed before anything is sent; `sink`
/// receives every event.
pub fn spawn(
    node: Node,
    socket: UdpSocket,
    epoch: Instant,
    state: Option<StateFile>,
    sink: impl FnMut(&Node, Time, Event) + Send + 'static,
) -> NodeHandle {
    let addr = socket.local_addr().unwrap_or_else(|_| node.addr());
    let (commands, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(node, Arc::new(socket), epoch, state, rx, sink));
    NodeHandle {
        addr,
        commands,
        task: Some(task),
    }
}

/// What woke the driver.
enum Wake {
    Datagram(usize, SocketAddr),
    Timer,
    Command(Option<Command>),
    Nothing,
}

fn now(epoch: Instant) -> Time {
    Time::from(epoch.elapsed())
}

async fn run(
    mut node: Node,
    socket: Arc<UdpSocket>,
    epoch: Instant,
    mut state: Option<StateFile>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut sink: impl FnMut(&Node, Time, Event),
) {
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let deadline_of = |node: &Node| {
        let at = node
            .next_timeout()
            .map(|t| epoch + Duration::from_micros(t.as_micros()))
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::time::Instant::from_std(at)
    };
    // One timer, re-armed only when the deadline moves: creating a timer per loop turn costs a
    // timer-wheel insert and cancel for every datagram batch.
    let mut armed = deadline_of(&node);
    let mut sleep = std::pin::pin!(tokio::time::sleep_until(armed));
    let mut timer_first = false;
    loop {
        let deadline = deadline_of(&node);
        if deadline != armed {
            armed = deadline;
            sleep.as_mut().reset(deadline);
        }
        // Commands first (rare, and a shutdown must not wait); then the timer and the socket
        // take turns going first, so neither a flood of datagrams nor a timer that keeps
        // falling due can starve the other.
        timer_first = !timer_first;
        let wake = std::future::poll_fn(|cx| {
            if let Poll::Ready(command) = commands.poll_recv(cx) {
                return Poll::Ready(Wake::Command(command));
            }
            if timer_first && sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Wake::Timer);
            }
            let mut read = ReadBuf::new(&mut buf);
            match socket.poll_recv_from(cx, &mut read) {
                Poll::Ready(Ok(from)) => {
                    return Poll::Ready(Wake::Datagram(read.filled().len(), from))
                }
                // Receive errors on UDP (e.g. ICMP echoes of an earlier send) are transient.
                Poll::Ready(Err(_)) => return Poll::Ready(Wake::Nothing),
                Poll::Pending => {}
            }
            if !timer_first && sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Wake::Timer);
            }
            Poll::Pending
        })
        .await;
        match wake {
            Wake::Datagram(len, from) => {
                node.handle_datagram(now(epoch), from, &buf[..len]);
                for _ in 1..RECV_BATCH {
                    match socket.try_recv_from(&mut buf) {
                        Ok((len, from)) => node.handle_datagram(now(epoch), from, &buf[..len]),
                        Err(_) => break,
                    }
                }
            }
            Wake::Nothing => {}
            Wake::Timer => {
                node.handle_timeout(now(epoch));
                // The timer fired; force a re-arm even if the next deadline equals the old one.
                armed = tokio::time::Instant::from_std(epoch);
            }
            Wake::Command(command) => match command {
                Some(Command::Write { key, value, ttl_ms, reply }) => {
                    let t = now(epoch);
                    let outcome = match value {
                        Some(value) => node.set_bytes(t, &key, value, ttl_ms),
                        None => node.delete(t, &key),
                    };
                    // Acknowledged only once the data dir holds it.
                    if let Some(file) = state.as_mut() {
                        if let Err(e) = file.checkpoint(&node) {
                            tracing::error!("{e}");
                        }
                    }
                    let _ = reply.send(outcome);
                }
                Some(Command::Inspect(f)) => f(&node, now(epoch)),
                Some(Command::Reconfigure { config, reply }) => {
                    let _ = reply.send(node.reconfigure(now(epoch), *config));
                }
                // Every handle is gone (dropped or aborted): stop where we are, as a crash
                // would. Only an explicit shutdown says goodbye.
                None => return,
                Some(Command::Shutdown) => {
                    node.leave(now(epoch));
                    flush(&mut node, &socket, epoch, &mut state).await;
                    while let Some(event) = node.poll_event() {
                        sink(&node, now(epoch), event);
                    }
                    return;
                }
            },
        }
        flush(&mut node, &socket, epoch, &mut state).await;
        while let Some(event) = node.poll_event() {
            sink(&node, now(epoch), event);
        }
    }
}

async fn flush(node: &mut Node, socket: &UdpSocket, epoch: Instant, state: &mut Option<StateFile>) {
    if let Some(file) = state {
        // Nothing leaves before the state file covers the versions it may carry. A failing
        // disk is reported but does not silence the node.
        if let Err(e) = file.checkpoint(node) {
            tracing::error!("{e}");
        }
    }
    let t = now(epoch);
    while let Some(transmit) = node.poll_transmit(t) {
        // A send can fail (unreachable address family, full buffer): UDP is lossy anyway and
        // anti-entropy repairs it, so the loop carries on.
        let _ = socket.send_to(&transmit.bytes, transmit.to).await;
    }
}
