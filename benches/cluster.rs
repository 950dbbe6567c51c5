//! Real-UDP cluster benchmark: N nodes in one process on 127.0.0.1 (spread over one
//! single-threaded runtime per core), all bootstrapped from node 0, default settings (books are not re-drawn during the run, so each update is one
//! clean measurement).
//!
//!   cargo bench --bench cluster                          # N = 100 and N = 1000
//!   GOSSIP_BENCH_NODES=100 GOSSIP_BENCH_UPDATES=20 cargo bench --bench cluster
//!   GOSSIP_BENCH_NODES=1000 GOSSIP_BENCH_RUNS=10 cargo bench --bench cluster   # 10 runs in a row
//!   GOSSIP_BENCH_STRATEGY=default cargo bench --bench cluster     # another dissemination strategy
//!   GOSSIP_BENCH_PREFAULT=0 cargo bench --bench cluster           # skip faulting in the heap first
//!   GOSSIP_BENCH_TRUST=tofu cargo bench --bench cluster           # every node signs, and checks
//!                                                                  # (tofu or allowlist)
//!
//! Reports: time until every node knows every node, time for one update to reach every node
//! (median and worst of several), coverage, datagrams and bytes per node per update, and the
//! relative message redundancy of the rumors (RMR = rumor messages / (N − 1) − 1 per update).

/// Same allocator as the `gossip` binary, so the figures match what users run.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gossip::core::{Event, NodeConfig, Time};
use gossip::runtime::local::{start_local_node_with_sink, Shards};
use gossip::runtime::NodeHandle;

mod common;
use common::{env, gather};
use gossip::wire::{MessageKind, NodeId};

#[derive(Default)]
struct Probe {
    know_all: AtomicUsize,
    know_all_last_us: AtomicU64,
    /// Sum over nodes of origins held (progress display only).
    known_total: AtomicUsize,
    /// Bumped for every update; sinks re-read `target` only when it changes.
    target_seq: AtomicU64,
    target: Mutex<Option<(NodeId, u64, u64)>>,
    holders: AtomicUsize,
    holders_last_us: AtomicU64,
}

struct Totals {
    datagrams: u64,
    bytes: u64,
    rumor_msgs: u64,
    rumor_bytes: u64,
    /// Broadcast tree upkeep: announcements, grafts and prunes.
    tree_msgs: u64,
}

async fn totals(nodes: &[NodeHandle]) -> Totals {
    let rumor = |m: &std::collections::BTreeMap<MessageKind, u64>| {
        m.get(&MessageKind::Rumor).copied().unwrap_or(0)
    };
    let tree = |m: &std::collections::BTreeMap<MessageKind, u64>| {
        [MessageKind::IHave, MessageKind::Graft, MessageKind::Prune]
            .iter()
            .map(|k| m.get(k).copied().unwrap_or(0))
            .sum::<u64>()
    };
    let all = gather(nodes, move |node| {
        let c = node.counters();
        (
            c.datagrams_out,
            c.bytes_out,
            rumor(&c.messages_out),
            rumor(&c.message_bytes_out),
            tree(&c.messages_out),
        )
    })
    .await;
    Totals {
        datagrams: all.iter().map(|a| a.0).sum(),
        bytes: all.iter().map(|a| a.1).sum(),
        rumor_msgs: all.iter().map(|a| a.2).sum(),
        rumor_bytes: all.iter().map(|a| a.3).sum(),
        tree_msgs: all.iter().map(|a| a.4).sum(),
    }
}

/// Failed probes, refutations and the local-health sum across the cluster.
async fn membership_summary(nodes: &[NodeHandle]) -> String {
    let all = gather(nodes, |x| {
        (
            x.counters().probes_failed,
            x.counters().refutations,
            u64::from(x.health()),
        )
    })
    .await;
    let sum = |f: fn(&(u64, u64, u64)) -> u64| all.iter().map(f).sum::<u64>();
    format!(
        "{} probes failed, {} refutations, local health sum {}",
        sum(|a| a.0),
        sum(|a| a.1),
        sum(|a| a.2)
    )
}

/// Messages sent per type across the cluster.
async fn messages_by_kind(nodes: &[NodeHandle]) -> std::collections::BTreeMap<&'static str, u64> {
    let mut sum = std::collections::BTreeMap::new();
    for counts in gather(nodes, |x| x.counters().messages_out.clone()).await {
        for (kind, n) in counts {
            *sum.entry(kind.name()).or_insert(0) += n;
        }
    }
    sum
}

/// When a join has not finished after a while: what traffic is flowing, who lacks what.
async fn diagnose_stuck(nodes: &[NodeHandle], n: usize) {
    let before = messages_by_kind(nodes).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = messages_by_kind(nodes).await;
    let rate: Vec<String> = after
        .iter()
        .map(|(k, v)| format!("{k}={}", v - before.get(k).copied().unwrap_or(0)))
        .collect();
    let missing: Vec<NodeId> = gather(nodes, |x| (x.store().len(), x.id().clone()))
        .await
        .into_iter()
        .filter(|(len, _)| *len < n)
        .map(|(_, id)| id)
        .collect();
    eprintln!("  stuck: {}", membership_summary(nodes).await);
    eprintln!(
        "  messages/s while stuck: {}; nodes missing something: {missing:?}",
        rate.join(" ")
    );
}

/// Node `i`'s identity when the run signs (`GOSSIP_BENCH_TRUST`).
fn identity(i: usize) -> gossip::core::Identity {
    gossip::core::Identity::from_secret(*blake3::hash(&(i as u64).to_le_bytes()).as_bytes())
}

/// The trust mode every node runs (`GOSSIP_BENCH_TRUST=tofu|allowlist`), with every node's
/// key listed for an allowlist; None: open, unsigned, as by default.
fn trust(n: usize) -> Option<gossip::core::TrustPolicy> {
    let mode: gossip::core::TrustMode = std::env::var("GOSSIP_BENCH_TRUST")
        .ok()?
        .parse()
        .expect("GOSSIP_BENCH_TRUST");
    let allowed = (0..n).map(|i| (identity(i).public(), None)).collect();
    Some(gossip::core::TrustPolicy {
        mode,
        allowed: Arc::new(allowed),
    })
}

fn start(shards: &Shards, n: usize, epoch: Instant, probe: Arc<Probe>) -> Vec<NodeHandle> {
    let mut nodes: Vec<NodeHandle> = Vec::with_capacity(n);
    let policy = trust(n);
    for i in 0..n {
        let _shard = shards.enter(i);
        let bootstrap = nodes.first().map(|n| n.addr);
        let probe = probe.clone();
        let mut knows_all = false;
        let mut known = 0usize;
        let mut counted_seq = 0u64;
        let mut seen_seq = 0u64;
        let mut target: Option<(NodeId, u64, u64)> = None;
        let policy = policy.clone();
        let tune = move |c: &mut NodeConfig| {
            c.bootstrap = bootstrap.into_iter().collect();
            if let Some(policy) = policy {
                c.identity = Some(Arc::new(identity(i)));
                c.trust = policy;
            }
            if let Ok(s) = std::env::var("GOSSIP_BENCH_STRATEGY") {
                let strategy: gossip::core::Strategy = s.parse().expect("GOSSIP_BENCH_STRATEGY");
                strategy.configure(c, None, None, None);
            }
            if let Some(ms) = std::env::var("GOSSIP_BENCH_PROBE_MS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                c.probe_interval = Duration::from_millis(ms);
            }
            if std::env::var_os("GOSSIP_BENCH_NO_PROBES").is_some() {
                c.probe_interval = Duration::from_secs(3600);
                c.probe_timeout = Duration::from_secs(1800);
            }
        };
        let sink = move |node: &gossip::core::Node, now: Time, event: Event| {
            let len = node.store().len();
            if len != known {
                probe
                    .known_total
                    .fetch_add(len - known.min(len), Ordering::Relaxed);
                known = len;
            }
            if !knows_all && node.store().len() >= n {
                knows_all = true;
                probe.know_all.fetch_add(1, Ordering::SeqCst);
                probe
                    .know_all_last_us
                    .fetch_max(now.as_micros(), Ordering::SeqCst);
            }
            if let Event::Learned {
                origin, version, ..
            } = &event
            {
                let seq_now = probe.target_seq.load(Ordering::Acquire);
                if seq_now != seen_seq {
                    seen_seq = seq_now;
                    target = probe.target.lock().ok().and_then(|t| t.clone());
                }
                if let Some((id, v, seq)) = &target {
                    if origin == id && version >= v && counted_seq != *seq {
                        counted_seq = *seq;
                        probe.holders.fetch_add(1, Ordering::SeqCst);
                        probe
                            .holders_last_us
                            .fetch_max(now.as_micros(), Ordering::SeqCst);
                    }
                }
            }
        };
        let books = vec!["Dune".to_string()];
        nodes.push(start_local_node_with_sink(epoch, books, i as u64, tune, sink).expect("bind"));
    }
    nodes
}

/// CPU time (user + system) this process has used, from /proc (0 where there is none).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn run(n: usize, updates: usize) {
    let shards = Shards::per_core().expect("shard threads");
    let probe = Arc::new(Probe::default());
    let epoch = Instant::now();
    let nodes = start(&shards, n, epoch, probe.clone());
    let started = epoch.elapsed();
    let cpu_before = cpu_seconds();
    let limit = Instant::now() + Duration::from_secs(60);
    let verbose = std::env::var_os("GOSSIP_BENCH_VERBOSE").is_some();
    let mut last_print = Instant::now();
    let mut diagnosed = false;
    while probe.know_all.load(Ordering::SeqCst) < n && Instant::now() < limit {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if verbose && !diagnosed && epoch.elapsed() > Duration::from_secs(12) {
            diagnosed = true;
            diagnose_stuck(&nodes, n).await;
        }
        if verbose && last_print.elapsed() >= Duration::from_millis(250) {
            last_print = Instant::now();
            eprintln!(
                "  {:>5} ms: {} of {n} nodes know all; on average a node knows {}",
                epoch.elapsed().as_millis(),
                probe.know_all.load(Ordering::SeqCst),
                probe.known_total.load(Ordering::Relaxed) / n
            );
        }
    }
    let knew = probe.know_all.load(Ordering::SeqCst);
    let all_ms = probe.know_all_last_us.load(Ordering::SeqCst) as f64 / 1000.0;
    println!(
        "N={n}: started {n} nodes in {:.0} ms; all know all: {knew}/{n} nodes, last at {all_ms:.0} ms after the first node started",
        started.as_secs_f64() * 1000.0
    );
    if std::env::var_os("GOSSIP_BENCH_TRUST").is_some() {
        let checks = gather(&nodes, |x| {
            let c = x.counters();
            (c.signatures_verified, c.refused.values().sum::<u64>())
        })
        .await;
        println!(
            "  signed: {} signatures checked during the join ({} per node), {} refusals; process CPU {:.2} s",
            checks.iter().map(|c| c.0).sum::<u64>(),
            checks.iter().map(|c| c.0).sum::<u64>() / n as u64,
            checks.iter().map(|c| c.1).sum::<u64>(),
            cpu_seconds() - cpu_before
        );
    }
    if verbose {
        eprintln!(
            "  after the join: {}; process CPU {:.2} s",
            membership_summary(&nodes).await,
            cpu_seconds() - cpu_before
        );
        let sent = messages_by_kind(&nodes).await;
        let total: u64 = gather(&nodes, |x| x.counters().datagrams_out)
            .await
            .iter()
            .sum();
        let listed: Vec<String> = sent.iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!(
            "  sent during the join: {total} datagrams; messages {}",
            listed.join(" ")
        );
        let mut bytes = std::collections::BTreeMap::new();
        for counts in gather(&nodes, |x| x.counters().message_bytes_out.clone()).await {
            for (kind, n) in counts {
                *bytes.entry(kind.name()).or_insert(0u64) += n;
            }
        }
        let listed: Vec<String> = bytes
            .iter()
            .map(|(k, v)| format!("{k}={}K", v / 1000))
            .collect();
        eprintln!("  bytes by message: {}", listed.join(" "));
        let sums = gather(&nodes, |x| {
            let c = x.counters();
            [
                c.anti_entropy_exchanges,
                c.deltas_applied,
                c.deltas_redundant,
            ]
        })
        .await
        .into_iter()
        .fold([0u64; 3], |a, b| [a[0] + b[0], a[1] + b[1], a[2] + b[2]]);
        eprintln!(
            "  anti-entropy: {} exchanges, {} origin deltas applied, {} redundant",
            sums[0], sums[1], sums[2]
        );
        let mut load: Vec<(u64, u64, usize)> = gather(&nodes, |x| {
            (x.counters().datagrams_in, x.counters().datagrams_out)
        })
        .await
        .into_iter()
        .enumerate()
        .map(|(i, (a, b))| (a, b, i))
        .collect();
        load.sort_unstable_by(|a, b| b.cmp(a));
        eprintln!("  busiest nodes (in, out, index): {:?}", &load[..8]);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut times = Vec::new();
    let mut coverage = Vec::new();
    let (mut dg, mut by, mut rm, mut rb, mut tm) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for u in 0..updates {
        let target = &nodes[(u * 37 + 1) % n];
        let (id, next) = target
            .inspect(|node, _| (node.id().clone(), node.store().own().watermark + 1))
            .await
            .expect("node alive");
        probe.holders.store(1, Ordering::SeqCst);
        probe.holders_last_us.store(0, Ordering::SeqCst);
        *probe.target.lock().expect("lock") = Some((id, next, u as u64 + 1));
        probe.target_seq.store(u as u64 + 1, Ordering::Release);
        let before = totals(&nodes).await;
        let t_set = epoch.elapsed().as_micros() as u64;
        target
            .set("book", &format!("Update {u}"))
            .await
            .expect("alive")
            .expect("set");
        let limit = Instant::now() + Duration::from_secs(5);
        while probe.holders.load(Ordering::SeqCst) < n && Instant::now() < limit {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let held = probe.holders.load(Ordering::SeqCst);
        let ms = probe
            .holders_last_us
            .load(Ordering::SeqCst)
            .saturating_sub(t_set) as f64
            / 1000.0;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after = totals(&nodes).await;
        dg += after.datagrams - before.datagrams;
        by += after.bytes - before.bytes;
        rm += after.rumor_msgs - before.rumor_msgs;
        rb += after.rumor_bytes - before.rumor_bytes;
        tm += after.tree_msgs - before.tree_msgs;
        times.push(ms);
        coverage.push(held as f64 * 100.0 / n as f64);
    }
    let per = (updates * n) as f64;
    let worst = times.iter().cloned().fold(0.0, f64::max);
    let min_cov = coverage.iter().cloned().fold(100.0, f64::min);
    println!(
        "N={n}: update -> all: median {:.1} ms, worst {:.1} ms over {updates} updates; coverage min {:.1}%",
        median(&mut times.clone()),
        worst,
        min_cov
    );
    println!(
        "N={n}: per node per update: {:.2} rumor messages ({:.0} B of rumors), RMR {:.2}, {:.2} tree upkeep messages; all traffic in the 300 ms window incl. background anti-entropy: {:.2} datagrams, {:.0} B",
        rm as f64 / per,
        rb as f64 / per,
        rm as f64 / (updates * (n - 1)) as f64 - 1.0,
        tm as f64 / per,
        dg as f64 / per,
        by as f64 / per
    );
    for node in nodes {
        node.shutdown().await;
    }
}

/// Faults in the heap the nodes will use (about 1.2 MB per node) and frees it again; with
/// `MIMALLOC_PURGE_DELAY=-1` the allocator keeps the pages for the nodes. This VM (Firecracker,
/// free page reporting) hands memory freed for a few seconds back to its host, and faulting
/// it in again costs host page faults: a 1000-node run right after an idle spell took twice
/// the CPU time for the same datagrams (3.6–4.1 s instead of 1.7–2.0 s to join), while runs
/// back to back, reusing what the previous one freed, did not. A node per process on a real
/// host faults in ~1 MB, not a gigabyte at once. `GOSSIP_BENCH_PREFAULT=0` skips it.
fn prefault_heap(nodes: usize) {
    if env("GOSSIP_BENCH_PREFAULT", 1) == 0 {
        return;
    }
    const BLOCK: usize = 64 * 1024;
    let blocks = nodes * 1200 * 1024 / BLOCK;
    let held: Vec<Box<[u8]>> = (0..blocks)
        .map(|_| {
            let mut b = vec![0u8; BLOCK].into_boxed_slice();
            for page in b.chunks_mut(4096) {
                page[0] = 1;
            }
            std::hint::black_box(b)
        })
        .collect();
    drop(held);
}

fn main() {
    let sizes: Vec<usize> = std::env::var("GOSSIP_BENCH_NODES")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let updates: usize = env("GOSSIP_BENCH_UPDATES", 10);
    if std::env::var_os("GOSSIP_BENCH_CHILD").is_none() {
        // Each size in a fresh process, so one run's heap and sockets cannot slow the next.
        // Hosting a thousand nodes in one process frees and refills memory constantly; tell
        // mimalloc to keep freed pages instead of returning them to the OS only to fault them
        // back in (that page zeroing was a third of the CPU time).
        let exe = std::env::current_exe().expect("bench executable");
        let runs: usize = env("GOSSIP_BENCH_RUNS", 1);
        for n in sizes.iter().flat_map(|&n| std::iter::repeat_n(n, runs)) {
            let status = std::process::Command::new(&exe)
                .env("GOSSIP_BENCH_CHILD", "1")
                .env("GOSSIP_BENCH_NODES", n.to_string())
                .env("GOSSIP_BENCH_UPDATES", updates.to_string())
                .env("MIMALLOC_PURGE_DELAY", "-1")
                .status()
                .expect("run the benchmark for one size");
            assert!(status.success(), "benchmark for N={n} failed");
        }
        return;
    }
    for n in sizes {
        prefault_heap(n);
        // The orchestrating runtime only sleeps and asks questions; the nodes run on shards.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(run(n, updates));
    }
}
