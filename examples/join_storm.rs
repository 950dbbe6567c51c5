//! A join storm in the simulator: N nodes start at once, all given node 0 as bootstrap.
//! Prints when every node knows every node (virtual time), the traffic it took by message
//! type, then how fast one update reaches everyone.
//!
//!   cargo run --release --example join_storm -- 1000

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gossip::core::Time;
use gossip::sim::{self, sim_addr, NetConfig};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let topology: Vec<Vec<usize>> = vec![Vec::new(); n];
    let books: Vec<String> = (0..200)
        .map(|i| format!("Some Book Title Number {i}"))
        .collect();
    let wall = Instant::now();
    // JOIN_DELAY_MS=M: one-way delays of 0.2 ms plus an exponential tail of mean M, the
    // queueing of a machine whose CPU the join saturates.
    let mut config = NetConfig::default();
    if let Some(mean) = std::env::var("JOIN_DELAY_MS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        config.delay = sim::Delay::Exponential {
            min: Duration::from_micros(200),
            mean: Duration::from_secs_f64(mean / 1000.0),
        };
    }
    let mut net = sim::build(&topology, 1, config, &books, |i, c| {
        if i > 0 {
            c.bootstrap = vec![sim_addr(0)];
        }
    });
    let at = net.run_until_true(Time::from_millis(60_000), Duration::from_millis(10), |s| {
        s.nodes().flatten().all(|node| node.store().len() == n)
    });
    let stats = net.stats();
    match at {
        Some(t) => println!(
            "N={n}: every node knows every node after {:?} of virtual time",
            t - Time::ZERO
        ),
        None => println!("N={n}: not converged after 60 s of virtual time"),
    }
    println!(
        "traffic: {} datagrams ({} per node), {:.1} MB; simulated in {:.1} s of wall time",
        stats.sent,
        stats.sent / n as u64,
        stats.bytes as f64 / 1e6,
        wall.elapsed().as_secs_f64()
    );
    let mut by_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let (mut applied, mut redundant, mut exchanges) = (0, 0, 0);
    for node in net.nodes().flatten() {
        let c = node.counters();
        applied += c.deltas_applied;
        redundant += c.deltas_redundant;
        exchanges += c.anti_entropy_exchanges;
        for (kind, count) in &c.messages_out {
            by_kind.entry(kind.name()).or_default().0 += count;
        }
        for (kind, bytes) in &c.message_bytes_out {
            by_kind.entry(kind.name()).or_default().1 += bytes;
        }
    }
    println!(
        "anti-entropy: {exchanges} exchanges, {applied} origin deltas applied, {redundant} redundant"
    );
    for (kind, (count, bytes)) in by_kind {
        println!(
            "  {kind:<13} {count:>8} messages {:>8.2} MB",
            bytes as f64 / 1e6
        );
    }
    let start = at.unwrap_or(net.now()) + Duration::from_secs(2);
    net.run_until(start);
    let before = net.stats().sent;
    let target = n / 2;
    let version = net.set(target, "book", "Dune").unwrap_or(0);
    let id = sim::sim_id(target);
    let reached = net.run_until_true(
        start + Duration::from_secs(10),
        Duration::from_micros(500),
        |s| s.holders(&id, version) == n,
    );
    println!(
        "one update reached all {n} after {:?}, {} datagrams sent meanwhile",
        reached.map(|t| t - start),
        net.stats().sent - before
    );
}
