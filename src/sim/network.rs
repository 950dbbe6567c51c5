//! A discrete-event network: a priority queue of deliveries and node wake-ups, processed in
//! (time, sequence) order so runs are reproducible.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::core::{Event, Node, Time};
use crate::wire::MessageKind;

/// One-way latency of a simulated datagram; unequal latencies reorder datagrams.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Delay {
    /// Always the same.
    Fixed(Duration),
    /// Uniform between the two bounds.
    Uniform(Duration, Duration),
    /// A floor plus an exponential tail with the given mean (queueing, a congested path).
    Exponential { min: Duration, mean: Duration },
}

impl Delay {
    fn sample(&self, rng: &mut SmallRng) -> Duration {
        match *self {
            Delay::Fixed(d) => d,
            Delay::Uniform(lo, hi) if hi > lo => Duration::from_micros(
                rng.random_range(lo.as_micros() as u64..=hi.as_micros() as u64),
            ),
            Delay::Uniform(lo, _) => lo,
            Delay::Exponential { min, mean } => {
                // Inverse-CDF sampling; 1 - u lies in (0, 1], so the log is finite.
                let u: f64 = rng.random();
                min + mean.mul_f64(-(1.0 - u).ln())
            }
        }
    }
}

impl std::str::FromStr for Delay {
    type Err = String;
    /// `MS` (fixed), `MIN..MAX` (uniform) or `exp:MEAN` / `exp:MIN+MEAN` (exponential), in
    /// milliseconds (fractions allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ms = |t: &str| -> Result<Duration, String> {
            let v: f64 = t
                .trim()
                .parse()
                .map_err(|_| format!("`{t}` is not a number of milliseconds"))?;
            if !(0.0..=3_600_000.0).contains(&v) {
                return Err(format!("`{t}` ms is out of range"));
            }
            Ok(Duration::from_secs_f64(v / 1000.0))
        };
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("exp:") {
            return match rest.split_once('+') {
                Some((min, mean)) => Ok(Delay::Exponential {
                    min: ms(min)?,
                    mean: ms(mean)?,
                }),
                None => Ok(Delay::Exponential {
                    min: Duration::ZERO,
                    mean: ms(rest)?,
                }),
            };
        }
        match s.split_once("..") {
            Some((lo, hi)) => {
                let (lo, hi) = (ms(lo)?, ms(hi)?);
                if hi < lo {
                    return Err(format!("delay `{s}`: the maximum is below the minimum"));
                }
                Ok(Delay::Uniform(lo, hi))
            }
            None => Ok(Delay::Fixed(ms(s)?)),
        }
    }
}

impl std::fmt::Display for Delay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        match *self {
            Delay::Fixed(d) => write!(f, "{}", ms(d)),
            Delay::Uniform(lo, hi) => write!(f, "{}..{}", ms(lo), ms(hi)),
            Delay::Exponential { min, mean } => write!(f, "exp:{}+{}", ms(min), ms(mean)),
        }
    }
}

/// Loss and latency of the simulated network (on top of any per-node fault settings).
#[derive(Clone, Copy, Debug)]
pub struct NetConfig {
    /// Probability a datagram is lost in flight.
    pub loss: f64,
    /// One-way latency of each datagram.
    pub delay: Delay,
    /// Each node's uplink in bytes per second: a datagram leaves only once the ones before it
    /// are on the wire. `None`: unlimited (the default; only latency counts).
    pub uplink: Option<u64>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            loss: 0.0,
            delay: Delay::Uniform(Duration::from_micros(200), Duration::from_micros(800)),
            uplink: None,
        }
    }
}

/// Traffic totals for a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub bytes: u64,
}

/// The address of simulated node `i`: unique loopback addresses, so ids and addresses look
/// like a real cluster's and no real packet could ever leave the machine.
pub fn sim_addr(i: usize) -> SocketAddr {
    let n = i as u32 + 1;
    let ip = Ipv4Addr::new(127, (n >> 16) as u8, (n >> 8) as u8, n as u8);
    SocketAddr::from((ip, 7000))
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    Deliver {
        to: usize,
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    Wake {
        node: usize,
    },
}

type EventHook = Box<dyn FnMut(usize, Time, &Event)>;

/// Keeps what `node` sent, by message type, once it leaves the network.
fn retire(retired: &mut HashMap<MessageKind, u64>, node: &Node) {
    for (kind, n) in &node.counters().messages_out {
        *retired.entry(*kind).or_default() += n;
    }
}

/// The simulated cluster.
pub struct SimNet {
    now: Time,
    config: NetConfig,
    rng: SmallRng,
    nodes: Vec<Option<Node>>,
    index: HashMap<SocketAddr, usize>,
    queue: BinaryHeap<Reverse<(Time, u64, Pending)>>,
    wake_at: Vec<Option<Time>>,
    seq: u64,
    stats: NetStats,
    partition: Option<Vec<u8>>,
    hook: Option<EventHook>,
    in_flight: usize,
    /// When each node's uplink is next free (with `NetConfig::uplink`).
    link_free: Vec<Time>,
    /// Messages sent by nodes since killed or replaced, by type.
    retired: HashMap<MessageKind, u64>,
}

impl SimNet {
    /// An empty network whose loss and delay draw from `seed`.
    pub fn new(seed: u64, config: NetConfig) -> Self {
        SimNet {
            now: Time::ZERO,
            config,
            rng: SmallRng::seed_from_u64(seed ^ 0x0005_eed0_f9e7),
            nodes: Vec::new(),
            index: HashMap::new(),
            queue: BinaryHeap::new(),
            wake_at: Vec::new(),
            seq: 0,
            stats: NetStats::default(),
            partition: None,
            hook: None,
            in_flight: 0,
            link_free: Vec::new(),
            retired: HashMap::new(),
        }
    }

    /// Calls `hook(node, time, event)` for every event any node emits.
    pub fn on_event(&mut self, hook: impl FnMut(usize, Time, &Event) + 'static) {
        self.hook = Some(Box::new(hook));
    }

    /// Adds a node (built with `sim_addr(i)` as its address) and returns its index.
    pub fn add(&mut self, node: Node) -> usize {
        let i = self.nodes.len();
        self.index.insert(node.addr(), i);
        self.nodes.push(Some(node));
        self.wake_at.push(None);
        self.link_free.push(Time::ZERO);
        self.drain(i);
        i
    }

    /// Stops node `i` dead: it neither sends nor receives from now on.
    pub fn kill(&mut self, i: usize) {
        if let Some(slot) = self.nodes.get_mut(i) {
            if let Some(node) = slot.take() {
                retire(&mut self.retired, &node);
            }
            self.wake_at[i] = None;
        }
    }

    /// Puts a fresh node in slot `i` (a restart).
    pub fn restart(&mut self, i: usize, node: Node) {
        if i < self.nodes.len() {
            if let Some(old) = self.nodes[i].take() {
                retire(&mut self.retired, &old);
            }
            self.index.insert(node.addr(), i);
            self.nodes[i] = Some(node);
            self.wake_at[i] = None;
            self.drain(i);
        }
    }

    /// Messages of `kind` every node ever added has sent, killed ones included.
    pub fn messages_sent(&self, kind: MessageKind) -> u64 {
        let sent = |n: &Node| n.counters().messages_out.get(&kind).copied().unwrap_or(0);
        self.retired.get(&kind).copied().unwrap_or(0) + self.nodes.iter().flatten().map(sent).sum::<u64>()
    }

    /// Applies a config edit to live node `i`, as a reload of its file does.
    pub fn reconfigure(&mut self, i: usize, edit: impl FnOnce(&mut crate::core::NodeConfig)) {
        let now = self.now;
        if let Some(node) = self.nodes.get_mut(i).and_then(Option::as_mut) {
            let mut config = node.config().clone();
            edit(&mut config);
            node.reconfigure(now, config);
            self.drain(i);
        }
    }

    /// Splits the network: datagrams only flow between nodes with equal group numbers.
    pub fn partition(&mut self, groups: Vec<u8>) {
        self.partition = Some(groups);
    }

    /// Removes any partition.
    pub fn heal(&mut self) {
        self.partition = None;
    }

    /// The virtual clock.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Node `i`, if alive.
    pub fn node(&self, i: usize) -> Option<&Node> {
        self.nodes.get(i).and_then(Option::as_ref)
    }

    /// All slots (None where killed).
    pub fn nodes(&self) -> impl Iterator<Item = Option<&Node>> {
        self.nodes.iter().map(Option::as_ref)
    }

    /// Number of slots, dead or alive.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when no node was ever added.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Datagrams sent and not yet delivered or lost: zero means the network has gone quiet.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Traffic so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Has node `i` set `key` to `value`; returns the new version.
    pub fn set(&mut self, i: usize, key: &str, value: &str) -> Option<u64> {
        self.set_bytes(i, key, bytes::Bytes::copy_from_slice(value.as_bytes()), None)
    }

    /// Has node `i` set `key` to `value` (expiring after `ttl_ms` if given); returns the new
    /// version.
    pub fn set_bytes(
        &mut self,
        i: usize,
        key: &str,
        value: bytes::Bytes,
        ttl_ms: Option<u64>,
    ) -> Option<u64> {
        let now = self.now;
        let node = self.nodes.get_mut(i)?.as_mut()?;
        let version = node.set_bytes(now, key, value, ttl_ms).ok();
        self.drain(i);
        version
    }

    /// Has node `i` delete `key`; returns the new version.
    pub fn delete(&mut self, i: usize, key: &str) -> Option<u64> {
        let now = self.now;
        let version = self.nodes.get_mut(i)?.as_mut()?.delete(now, key).ok();
        self.drain(i);
        version
    }

    /// Delivers `bytes` to node `to` as if sent from `from` (tests use it to play a peer).
    pub fn inject(&mut self, to: usize, from: SocketAddr, bytes: Vec<u8>) {
        let now = self.now;
        self.in_flight += 1;
        self.push(now, Pending::Deliver { to, from, bytes });
    }

    /// Processes everything scheduled up to and including `until`.
    pub fn run_until(&mut self, until: Time) {
        while let Some(Reverse((at, _, _))) = self.queue.peek() {
            if *at > until {
                break;
            }
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Runs until `done` holds (checked every `every` of virtual time) or `deadline` passes.
    /// Returns the virtual time at which `done` first held.
    pub fn run_until_true(
        &mut self,
        deadline: Time,
        every: Duration,
        mut done: impl FnMut(&SimNet) -> bool,
    ) -> Option<Time> {
        loop {
            if done(self) {
                return Some(self.now);
            }
            if self.now >= deadline {
                return None;
            }
            let next = (self.now + every).min(deadline);
            self.run_until(next);
        }
    }

    fn step(&mut self) {
        let Some(Reverse((at, _, pending))) = self.queue.pop() else {
            return;
        };
        self.now = self.now.max(at);
        match pending {
            Pending::Deliver { to, from, bytes } => {
                self.in_flight -= 1;
                let now = self.now;
                let Some(node) = self.nodes.get_mut(to).and_then(Option::as_mut) else {
                    self.stats.lost += 1;
                    return;
                };
                self.stats.delivered += 1;
                node.handle_datagram(now, from, &bytes);
                self.drain(to);
            }
            Pending::Wake { node } => {
                if self.wake_at[node] != Some(at) {
                    return;
                }
                self.wake_at[node] = None;
                let now = self.now;
                if let Some(n) = self.nodes[node].as_mut() {
                    n.handle_timeout(now);
                    self.drain(node);
                }
            }
        }
    }

    fn push(&mut self, at: Time, pending: Pending) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, pending)));
    }

    /// Moves node `i`'s output onto the network and schedules its next wake-up.
    fn drain(&mut self, i: usize) {
        let now = self.now;
        let Some(node) = self.nodes[i].as_mut() else {
            return;
        };
        let from = node.addr();
        let mut out = Vec::new();
        while let Some(t) = node.poll_transmit(now) {
            out.push(t);
        }
        let mut events = Vec::new();
        while let Some(e) = node.poll_event() {
            events.push(e);
        }
        let wake = node.next_timeout();
        for t in out {
            self.stats.sent += 1;
            self.stats.bytes += t.bytes.len() as u64;
            let Some(&to) = self.index.get(&t.to) else {
                self.stats.lost += 1;
                continue;
            };
            let cut = self
                .partition
                .as_ref()
                .is_some_and(|g| g.get(i) != g.get(to));
            if cut || (self.config.loss > 0.0 && self.rng.random_bool(self.config.loss)) {
                self.stats.lost += 1;
                continue;
            }
            let mut departs = now;
            if let Some(rate) = self.config.uplink.filter(|r| *r > 0) {
                let free = self.link_free[i].max(now);
                let wire = Duration::from_nanos(t.bytes.len() as u64 * 1_000_000_000 / rate);
                self.link_free[i] = free + wire;
                departs = free + wire;
            }
            let delay = self.config.delay.sample(&mut self.rng);
            self.in_flight += 1;
            self.push(
                departs + delay,
                Pending::Deliver {
                    to,
                    from,
                    bytes: t.bytes,
                },
            );
        }
        if let Some(hook) = self.hook.as_mut() {
            for e in &events {
                hook(i, now, e);
            }
        }
        if let Some(at) = wake {
            let at = at.max(now);
            if self.wake_at[i] != Some(at) {
                self.wake_at[i] = Some(at);
                self.push(at, Pending::Wake { node: i });
            }
        }
    }
}
