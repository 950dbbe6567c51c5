//! Large state over real UDP: N nodes in one process on 127.0.0.1, all bootstrapped from
//! node 0, default settings, as `cargo bench --bench cluster`.
//!
//!   cargo bench --bench state                        # N = 100: 1 MiB value, 100 KB per node join
//!   GOSSIP_BENCH_NODES=100 GOSSIP_BENCH_VALUE_BYTES=1048576 GOSSIP_BENCH_LOSS=0.1 \
//!     GOSSIP_BENCH_STATE_BYTES=100000 GOSSIP_BENCH_RUNS=3 cargo bench --bench state
//!
//! Reports, per run:
//! 1. a value of VALUE_BYTES set on one node: time until every node holds it whole, and the
//!    bytes all nodes sent meanwhile against the floor (N−1) × size;
//! 2. every node holding STATE_BYTES of its own: time for a new node, bootstrapped from node
//!    0, to hold all N × STATE_BYTES.
//!
//! GOSSIP_BENCH_LOSS drops that fraction of every node's outgoing datagrams (the fault layer).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gossip::core::{Event, Node, NodeConfig, Time};
use gossip::runtime::local::{start_local_node_with_sink, Shards};
use gossip::runtime::NodeHandle;
use gossip::wire::samples::blob;

mod common;
use common::{env, gather};

/// What the sinks report: nodes that know every node, holders of the large value, and the
/// time (µs since the epoch) of the last of each.
#[derive(Default)]
struct Probe {
    know_all: AtomicUsize,
    holders: AtomicUsize,
    holders_last_us: AtomicU64,
    /// Nodes holding every node's `state` whole, and when the last one got there.
    full: AtomicUsize,
    full_last_us: AtomicU64,
}

/// How many origins `node` holds a whole `key` of `len` bytes for.
fn whole(node: &Node, key: &str, len: usize) -> usize {
    node.store()
        .origins()
        .filter(|(_, s)| {
            s.values
                .get(key)
                .and_then(|v| v.value.as_ref())
                .is_some_and(|v| v.len() == len)
        })
        .count()
}

struct Setup {
    n: usize,
    value_bytes: usize,
    state_bytes: usize,
    loss: f64,
}

fn start_node(
    i: usize,
    epoch: Instant,
    bootstrap: Option<std::net::SocketAddr>,
    setup: &Setup,
    probe: Arc<Probe>,
) -> NodeHandle {
    let (n, value_bytes, state_bytes, loss) =
        (setup.n, setup.value_bytes, setup.state_bytes, setup.loss);
    let mut knows_all = false;
    let mut holds = false;
    let mut full = false;
    let tune = move |c: &mut NodeConfig| {
        c.bootstrap = bootstrap.into_iter().collect();
        c.fault.drop_rate = loss;
        c.max_value_bytes = value_bytes.max(state_bytes).max(1 << 20);
    };
    let sink = move |node: &Node, now: Time, event: Event| {
        if !knows_all && node.store().len() >= n {
            knows_all = true;
            probe.know_all.fetch_add(1, Ordering::SeqCst);
        }
        if let Event::Learned { key, value, .. } = &event {
            if !holds && key == "blob" && value.as_ref().is_some_and(|v| v.len() == value_bytes) {
                holds = true;
                probe.holders.fetch_add(1, Ordering::SeqCst);
                probe
                    .holders_last_us
                    .fetch_max(now.as_micros(), Ordering::SeqCst);
            }
            if !full && key == "state" && whole(node, "state", state_bytes) >= n {
                full = true;
                probe.full.fetch_add(1, Ordering::SeqCst);
                probe
                    .full_last_us
                    .fetch_max(now.as_micros(), Ordering::SeqCst);
            }
        }
    };
    start_local_node_with_sink(epoch, vec!["Dune".into()], i as u64, tune, sink).expect("bind")
}

/// Milliseconds from `start_us` to the time a sink last stamped into `last_us`.
fn ms_after(last_us: &AtomicU64, start_us: u64) -> f64 {
    last_us.load(Ordering::SeqCst).saturating_sub(start_us) as f64 / 1000.0
}

async fn bytes_out(nodes: &[NodeHandle]) -> u64 {
    gather(nodes, |node| node.counters().bytes_out)
        .await
        .into_iter()
        .sum()
}

async fn wait(limit: Duration, done: impl Fn() -> bool) -> bool {
    let until = Instant::now() + limit;
    while !done() {
        if Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
}

async fn run(setup: &Setup, run: usize) {
    let n = setup.n;
    let shards = Shards::per_core().expect("shard threads");
    let probe = Arc::new(Probe::default());
    let epoch = Instant::now();
    let mut nodes: Vec<NodeHandle> = Vec::with_capacity(n + 1);
    for i in 0..n {
        let _shard = shards.enter(i);
        let bootstrap = nodes.first().map(|n| n.addr);
        nodes.push(start_node(i, epoch, bootstrap, setup, probe.clone()));
    }
    if !wait(Duration::from_secs(60), || {
        probe.know_all.load(Ordering::SeqCst) >= n
    })
    .await
    {
        println!("run {run}: membership incomplete after 60 s");
        return;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 1. One large value.
    let value = Bytes::from(blob(setup.value_bytes, run as u64));
    let before = bytes_out(&nodes).await;
    let t_set = epoch.elapsed().as_micros() as u64;
    nodes[1]
        .write("blob", Some(value), None)
        .await
        .expect("alive")
        .expect("set");
    probe.holders.fetch_add(1, Ordering::SeqCst);
    let reached = wait(Duration::from_secs(30), || {
        probe.holders.load(Ordering::SeqCst) >= n
    })
    .await;
    let ms = ms_after(&probe.holders_last_us, t_set);
    let sent = bytes_out(&nodes).await - before;
    let floor = (n as u64 - 1) * setup.value_bytes as u64;
    println!(
        "run {run}: N={n} loss={:.0}%: {} B value -> all {n} nodes: {}; sent {sent} B = {:.2}x the floor (N-1)*size = {floor} B",
        setup.loss * 100.0,
        setup.value_bytes,
        if reached { format!("{ms:.1} ms") } else { format!("NOT REACHED ({} of {n})", probe.holders.load(Ordering::SeqCst)) },
        sent as f64 / floor as f64
    );

    // 2. Every node holds STATE_BYTES; a new node joins.
    if setup.state_bytes > 0 {
        let t_state = Instant::now();
        for (i, node) in nodes.iter().enumerate() {
            node.write(
                "state",
                Some(blob(setup.state_bytes, 1000 + i as u64).into()),
                None,
            )
            .await
            .expect("alive")
            .expect("set");
        }
        let everyone = wait(Duration::from_secs(60), || {
            probe.full.load(Ordering::SeqCst) >= n
        })
        .await;
        if !everyone {
            println!(
                "run {run}: state did not reach everyone ({} of {n})",
                probe.full.load(Ordering::SeqCst)
            );
            return;
        }
        if std::env::var_os("GOSSIP_BENCH_VERBOSE").is_some() {
            let sums = gather(&nodes, |node| {
                let c = node.counters();
                [
                    c.fetches_completed,
                    c.fetches_refused,
                    c.fetches_abandoned,
                    c.fetches_corrupt,
                    c.pieces_served,
                    c.datagrams_out,
                    c.fault_dropped,
                ]
            })
            .await
            .into_iter()
            .fold([0u64; 7], |mut a, c| {
                a.iter_mut().zip(c).for_each(|(x, y)| *x += y);
                a
            });
            eprintln!("  fetches completed/refused/abandoned/corrupt, pieces served, datagrams out, dropped: {sums:?}");
        }
        println!(
            "run {run}: N={n} loss={:.0}%: every node sets {} B; all {n} hold all of it ({:.1} MB each) after {:.1} ms",
            setup.loss * 100.0,
            setup.state_bytes,
            (n * setup.state_bytes) as f64 / 1e6,
            t_state.elapsed().as_secs_f64() * 1000.0
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let already = probe.full.load(Ordering::SeqCst);
        let t_join = epoch.elapsed().as_micros() as u64;
        let joiner = {
            let _shard = shards.enter(n);
            start_node(n, epoch, Some(nodes[0].addr), setup, probe.clone())
        };
        let joined = wait(Duration::from_secs(30), || {
            probe.full.load(Ordering::SeqCst) > already
        })
        .await;
        let ms = ms_after(&probe.full_last_us, t_join);
        let held: usize = joiner
            .inspect(|node, _| node.store().bytes() as usize)
            .await
            .unwrap_or(0);
        println!(
            "run {run}: N={n} loss={:.0}%: a node joining {n} nodes of {} B each ({:.1} MB) holds all of it: {}",
            setup.loss * 100.0,
            setup.state_bytes,
            (n * setup.state_bytes) as f64 / 1e6,
            if joined { format!("{ms:.1} ms") } else { format!("NOT REACHED ({held} B held)") }
        );
        nodes.push(joiner);
    }
    for node in nodes {
        node.shutdown().await;
    }
}

/// The same two workloads in the simulator: the real protocol core on a virtual clock, every
/// node with a 1 Gbit/s uplink and 0.2–0.8 ms latency, so the figures are the protocol's own
/// (not this machine's two cores).
fn simulated(setup: &Setup, seed: u64) {
    use gossip::sim::{self, topology, NetConfig};
    let n = setup.n;
    let cfg = NetConfig {
        loss: setup.loss,
        uplink: Some(125_000_000),
        ..NetConfig::default()
    };
    let graph = topology::random_k_out(n + 1, 3, seed);
    let mut net = sim::build(&graph[..n], seed, cfg, &[], |_, c| {
        c.max_value_bytes = setup.value_bytes.max(setup.state_bytes).max(1 << 20);
    });
    net.run_until(Time::from_millis(3_000));
    let origin = sim::sim_id(1);
    let value = Bytes::from(blob(setup.value_bytes, seed));
    let before = net.stats().bytes;
    let t0 = net.now();
    net.set_bytes(1, "blob", value.clone(), None).expect("set");
    let holds = |s: &gossip::sim::SimNet| {
        s.nodes()
            .flatten()
            .filter(|node| {
                node.store()
                    .get(&origin)
                    .and_then(|o| o.values.get("blob"))
                    .and_then(|v| v.value.as_deref())
                    == Some(&value[..])
            })
            .count()
    };
    let at = net.run_until_true(
        t0 + Duration::from_secs(30),
        Duration::from_millis(1),
        |s| holds(s) == n,
    );
    let sent = net.stats().bytes - before;
    let floor = (n as u64 - 1) * setup.value_bytes as u64;
    println!(
        "sim seed {seed}: N={n} loss={:.0}% uplink 1 Gbit/s: {} B value -> all {n} nodes: {}; sent {sent} B = {:.2}x the floor",
        setup.loss * 100.0,
        setup.value_bytes,
        at.map_or("NOT REACHED".into(), |t| format!("{:.1} ms", (t - t0).as_secs_f64() * 1000.0)),
        sent as f64 / floor as f64
    );
}

fn main() {
    if std::env::var_os("GOSSIP_BENCH_SIM").is_some() {
        let setup = Setup {
            n: env("GOSSIP_BENCH_NODES", 100),
            value_bytes: env("GOSSIP_BENCH_VALUE_BYTES", 1 << 20),
            state_bytes: 0,
            loss: env("GOSSIP_BENCH_LOSS", 0.0),
        };
        for seed in 1..=env("GOSSIP_BENCH_RUNS", 3) as u64 {
            simulated(&setup, seed);
        }
        return;
    }
    let setup = Setup {
        n: env("GOSSIP_BENCH_NODES", 100),
        value_bytes: env("GOSSIP_BENCH_VALUE_BYTES", 1 << 20),
        state_bytes: env("GOSSIP_BENCH_STATE_BYTES", 100_000),
        loss: env("GOSSIP_BENCH_LOSS", 0.0),
    };
    let runs: usize = env("GOSSIP_BENCH_RUNS", 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for r in 1..=runs {
        runtime.block_on(run(&setup, r));
    }
}
