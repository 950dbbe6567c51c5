//! Failure-detection benchmark: N real-UDP nodes in one process on 127.0.0.1 (one
//! single-threaded runtime per core), all bootstrapped from node 0, default settings except
//! that books are not re-drawn.
//!
//!   cargo bench --bench membership                      # N = 100, 5 kills
//!   GOSSIP_BENCH_NODES=100 GOSSIP_BENCH_KILLS=10 cargo bench --bench membership
//!   GOSSIP_BENCH_SOAK_SECS=600 cargo bench --bench membership     # + 10 min at 10% drop
//!   GOSSIP_BENCH_PROBE_MS=1000 GOSSIP_BENCH_PROBE_TIMEOUT_MS=500 GOSSIP_BENCH_SUSPICION_MULT=4 …
//!
//! A kill aborts the node's task: like SIGKILL, nothing is sent on the way out. Reported: time
//! from the kill until the first survivor and until every survivor marks it dead.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gossip::core::{Event, Node, NodeConfig, Time};
use gossip::runtime::local::{start_local_node_with_sink, Shards};
use gossip::runtime::NodeHandle;

mod common;
use common::{env, gather};
use gossip::wire::{MemberState, NodeId};

#[derive(Default)]
struct Probe {
    /// The member being watched (set per kill).
    victim: Mutex<Option<NodeId>>,
    dead_marks: AtomicUsize,
    first_us: AtomicU64,
    last_us: AtomicU64,
    /// Dead/left verdicts about members that were never killed.
    false_deaths: AtomicUsize,
    suspicions: AtomicUsize,
}

fn tune(c: &mut NodeConfig, drop: f64) {
    c.fault.drop_rate = drop;
    // Books are not re-drawn: a thousand in-process nodes re-drawing every 10 s would be a
    // hundred cluster-wide changes a second, on two cores that a real deployment spreads
    // over a thousand machines. Membership traffic is what is measured here.
    if let Ok(ms) = std::env::var("GOSSIP_BENCH_PROBE_MS") {
        c.probe_interval = Duration::from_millis(ms.parse().expect("probe ms"));
    }
    if let Ok(ms) = std::env::var("GOSSIP_BENCH_PROBE_TIMEOUT_MS") {
        c.probe_timeout = Duration::from_millis(ms.parse().expect("probe timeout ms"));
    }
    if let Ok(m) = std::env::var("GOSSIP_BENCH_SUSPICION_MULT") {
        c.suspicion_mult = m.parse().expect("suspicion mult");
    }
    if let Ok(ms) = std::env::var("GOSSIP_BENCH_ANTI_ENTROPY_MS") {
        c.anti_entropy = Duration::from_millis(ms.parse().expect("anti-entropy ms"));
    }
}

fn start(
    shards: &Shards,
    n: usize,
    drop: f64,
    epoch: Instant,
    probe: &Arc<Probe>,
    killed: &Arc<Mutex<Vec<NodeId>>>,
) -> Vec<NodeHandle> {
    let books = gossip::config::load_books(None).expect("books");
    let mut nodes: Vec<NodeHandle> = Vec::with_capacity(n);
    for i in 0..n {
        let _shard = shards.enter(i);
        let bootstrap = nodes.first().map(|n| n.addr);
        let configure = move |c: &mut NodeConfig| {
            tune(c, drop);
            c.bootstrap = bootstrap.into_iter().collect();
        };
        let probe = probe.clone();
        let killed = killed.clone();
        let sink = move |_node: &Node, now: Time, event: Event| {
            let Event::MemberChanged { id, state, .. } = event else {
                return;
            };
            match state {
                MemberState::Dead | MemberState::Left => {
                    let watched = probe.victim.lock().ok().and_then(|v| v.clone());
                    if watched.as_ref() == Some(&id) {
                        probe.dead_marks.fetch_add(1, Ordering::SeqCst);
                        let t = now.as_micros();
                        let _ = probe.first_us.compare_exchange(
                            0,
                            t,
                            Ordering::SeqCst,
                            Ordering::SeqCst,
                        );
                        probe.last_us.fetch_max(t, Ordering::SeqCst);
                    } else if !killed.lock().map(|k| k.contains(&id)).unwrap_or(true) {
                        probe.false_deaths.fetch_add(1, Ordering::SeqCst);
                    }
                }
                MemberState::Suspect => {
                    probe.suspicions.fetch_add(1, Ordering::SeqCst);
                }
                MemberState::Alive => {}
            }
        };
        let node = start_local_node_with_sink(epoch, books.clone(), i as u64 + 1, configure, sink);
        nodes.push(node.expect("bind 127.0.0.1:0"));
    }
    nodes
}

/// Every node knows every other as a live member (alive, or suspect and about to refute).
async fn all_known(nodes: &[NodeHandle], n: usize) -> bool {
    let live = gather(nodes, |x| x.peers().live_count()).await;
    live.len() == nodes.len() && live.iter().all(|&c| c >= n - 1)
}

/// Everything the nodes send in a quiet 10 s, per node per second, and by message type.
async fn idle(nodes: &[NodeHandle], n: usize) {
    let sent = || {
        gather(nodes, |x| {
            let c = x.counters();
            (c.datagrams_out, c.bytes_out, c.messages_out.clone())
        })
    };
    let before = sent().await;
    let secs = 10.0;
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let after = sent().await;
    let per = |v: u64| v as f64 / n as f64 / secs;
    let dg: u64 = after.iter().zip(&before).map(|(a, b)| a.0 - b.0).sum();
    let bytes: u64 = after.iter().zip(&before).map(|(a, b)| a.1 - b.1).sum();
    let mut kinds: std::collections::BTreeMap<String, u64> = Default::default();
    for (a, b) in after.iter().zip(&before) {
        for (k, v) in &a.2 {
            *kinds.entry(format!("{k:?}")).or_default() += v - b.2.get(k).copied().unwrap_or(0);
        }
    }
    let kinds: Vec<String> = kinds
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k} {:.2}", per(*v)))
        .collect();
    println!(
        "N={n}: idle: {:.2} datagrams/s and {:.0} B/s sent per node (messages/s: {})",
        per(dg),
        per(bytes),
        kinds.join(", ")
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn run(n: usize, kills: usize, soak_secs: u64) {
    let shards = Shards::per_core().expect("shards");
    let probe = Arc::new(Probe::default());
    let killed = Arc::new(Mutex::new(Vec::new()));
    let epoch = Instant::now();
    let mut nodes = start(&shards, n, 0.0, epoch, &probe, &killed);
    let limit = Instant::now() + Duration::from_secs(60);
    while !all_known(&nodes, n).await {
        assert!(Instant::now() < limit, "membership never converged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "N={n}: membership converged from one bootstrap (every node knows all {n} as live) after {:.2} s",
        epoch.elapsed().as_secs_f64()
    );
    // Anti-entropy spaces out after ten quiet exchanges (about 10 s): measure after that.
    tokio::time::sleep(Duration::from_secs(12)).await;
    idle(&nodes, n).await;
    let (mut firsts, mut alls) = (Vec::new(), Vec::new());
    for k in 0..kills {
        let survivors = nodes.len() - 1;
        let index = (k * 7 + 1) % nodes.len();
        let victim = nodes.remove(index);
        let id = victim.inspect(|x, _| x.id().clone()).await.expect("alive");
        killed.lock().expect("lock").push(id.clone());
        *probe.victim.lock().expect("lock") = Some(id);
        probe.dead_marks.store(0, Ordering::SeqCst);
        probe.first_us.store(0, Ordering::SeqCst);
        probe.last_us.store(0, Ordering::SeqCst);
        let t_kill = epoch.elapsed().as_micros() as u64;
        if std::env::var_os("GOSSIP_BENCH_VERBOSE").is_some() {
            let view = nodes[0]
                .inspect({
                    let id = killed.lock().expect("lock").last().cloned();
                    move |x, _| {
                        x.peers()
                            .iter()
                            .find(|p| p.id == id)
                            .map(|p| (p.state, p.incarnation))
                    }
                })
                .await;
            println!(
                "  before kill {}: node 0 sees the victim as {view:?}",
                k + 1
            );
        }
        victim.abort();
        let limit = Instant::now() + Duration::from_secs(60);
        while probe.dead_marks.load(Ordering::SeqCst) < survivors && Instant::now() < limit {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let marks = probe.dead_marks.load(Ordering::SeqCst);
        let first = probe.first_us.load(Ordering::SeqCst).saturating_sub(t_kill) as f64 / 1e6;
        let all = probe.last_us.load(Ordering::SeqCst).saturating_sub(t_kill) as f64 / 1e6;
        println!("  kill {}: first survivor marked it dead after {first:.2} s, {marks}/{survivors} after {all:.2} s", k + 1);
        firsts.push(first);
        alls.push(all);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    if kills > 0 {
        println!(
            "N={n}: SIGKILL → first survivor knows: median {:.2} s; all survivors know: median {:.2} s (worst {:.2} s) over {kills} kills",
            median(firsts),
            median(alls.clone()),
            alls.iter().cloned().fold(0.0, f64::max)
        );
    }
    println!(
        "N={n}: false deaths so far: {}",
        probe.false_deaths.load(Ordering::SeqCst)
    );
    for node in nodes {
        node.shutdown().await;
    }
    drop(shards);
    if soak_secs > 0 {
        soak(n, soak_secs).await;
    }
}

async fn soak(n: usize, secs: u64) {
    let shards = Shards::per_core().expect("shards");
    let probe = Arc::new(Probe::default());
    let killed = Arc::new(Mutex::new(Vec::new()));
    let epoch = Instant::now();
    let nodes = start(&shards, n, 0.1, epoch, &probe, &killed);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let live_views: usize = gather(&nodes, |x| x.peers().live_count())
        .await
        .iter()
        .sum();
    println!(
        "N={n}: {secs} s at 10% drop on every node: {} false deaths, {} suspicions (refuted), {live_views}/{} live views at the end",
        probe.false_deaths.load(Ordering::SeqCst),
        probe.suspicions.load(Ordering::SeqCst),
        n * (n - 1)
    );
    for node in nodes {
        node.shutdown().await;
    }
}

fn main() {
    let n: usize = env("GOSSIP_BENCH_NODES", 100);
    let kills: usize = env("GOSSIP_BENCH_KILLS", 5);
    let soak_secs: u64 = env("GOSSIP_BENCH_SOAK_SECS", 0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(n, kills, soak_secs));
}
