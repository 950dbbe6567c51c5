//! `gossip top`: a live cluster monitor. Polls every node's status, shows one row per node,
//! how many live nodes hold each origin's newest version, and logs each commit
//! (`committed n7003 v12 in 43 ms`). `--json` prints one snapshot per line for tools.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use comfy_table::{presets, Table};
use tokio::task::JoinSet;

use crate::runtime::client::ClusterAccess;
use crate::ui::format::{age, bytes};
use crate::ui::monitor::{Monitor, Polled, Snapshot};

use super::shutdown::Shutdown;

/// The nodes to watch: the addresses given, or every `bind` in `dir/*.toml`.
pub fn targets(addrs: &[SocketAddr], dir: Option<&Path>) -> Result<Vec<SocketAddr>, String> {
    if !addrs.is_empty() {
        return Ok(addrs.to_vec());
    }
    let dir = dir.unwrap_or_else(|| Path::new("config"));
    let mut out = Vec::new();
    for (path, file) in crate::config::node_files(dir)? {
        match file.bind {
            Some(a) => out.push(a.0),
            None => return Err(format!("{}: no `bind` address", path.display())),
        }
    }
    Ok(out)
}

async fn poll(addrs: &[SocketAddr], access: &ClusterAccess, clock: Instant) -> Vec<Polled> {
    let mut set = JoinSet::new();
    for (i, &addr) in addrs.iter().enumerate() {
        let access = access.clone();
        set.spawn(async move {
            let report = match access.client(addr).await {
                Ok(c) => c.with_tries(2).status().await.ok(),
                Err(_) => None,
            };
            let at_ms = clock.elapsed().as_millis() as u64;
            (
                i,
                Polled {
                    addr,
                    at_ms,
                    report,
                },
            )
        });
    }
    let mut out: Vec<(usize, Polled)> = Vec::new();
    while let Some(Ok(r)) = set.join_next().await {
        out.push(r);
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, p)| p).collect()
}

fn draw(s: &Snapshot, log: &[String]) -> String {
    let mut nodes = Table::new();
    nodes.load_style(presets::UTF8_HORIZONTAL_ONLY);
    nodes.set_header([
        "node", "addr", "book", "ver", "alive", "susp", "dead", "left", "origins", "behind",
        "state",
    ]);
    for n in &s.nodes {
        if !n.reachable {
            nodes.add_row([
                "-".to_string(),
                n.addr.to_string(),
                "(no answer)".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        nodes.add_row([
            n.id.clone().unwrap_or_default(),
            n.addr.to_string(),
            n.book.clone().unwrap_or_default(),
            format!("v{}", n.version),
            n.alive.to_string(),
            n.suspect.to_string(),
            n.dead.to_string(),
            n.left.to_string(),
            n.origins.to_string(),
            n.behind.to_string(),
            if n.fetching > 0 {
                format!("{} (+{} fetching)", bytes(n.state_bytes), n.fetching)
            } else {
                bytes(n.state_bytes)
            },
        ]);
    }
    let mut origins = Table::new();
    origins.load_style(presets::UTF8_HORIZONTAL_ONLY);
    origins.set_header([
        "origin",
        "newest",
        "book",
        "held by",
        "committed",
        "last commit took",
    ]);
    for o in &s.origins {
        origins.add_row([
            o.origin.clone(),
            format!("v{}", o.version),
            o.book.clone().unwrap_or_default(),
            format!("{}/{}", o.holders, o.live),
            if o.committed {
                "yes".to_string()
            } else {
                format!(
                    "no ({})",
                    o.unconverged_ms.map(age).unwrap_or_else(|| "?".into())
                )
            },
            o.commit_ms.map(latency).unwrap_or_default(),
        ]);
    }
    let reachable = s.nodes.iter().filter(|n| n.reachable).count();
    format!(
        "gossip top — {reachable}/{} nodes answering (Ctrl-C quits)\n\nNODES\n{nodes}\n\nORIGINS\n{origins}\n\nRECENT COMMITS\n{}\n",
        s.nodes.len(),
        log.join("\n")
    )
}

/// Help text (and units) for the monitor's metrics.
fn describe() {
    use metrics::{describe_gauge, describe_histogram, Unit};
    describe_gauge!(
        "gossip_cluster_nodes",
        Unit::Count,
        "Watched nodes, by whether they answered the last poll."
    );
    describe_gauge!(
        "gossip_cluster_origins",
        Unit::Count,
        "Origins seen anywhere in the cluster."
    );
    describe_gauge!(
        "gossip_cluster_unconverged_origins",
        Unit::Count,
        "Origins whose newest version is not yet held by every live node."
    );
    describe_gauge!(
        "gossip_oldest_unconverged_age_seconds",
        Unit::Seconds,
        "How long the oldest version not yet held by every live node has existed."
    );
    describe_histogram!(
        "gossip_commit_latency_seconds",
        Unit::Seconds,
        "Time from a version's birth until every live node held it."
    );
}

/// Cluster-wide figures only a monitor can know, for `top --metrics`.
fn publish(s: &Snapshot) {
    use metrics::gauge;
    let live = s.nodes.iter().filter(|n| n.reachable).count();
    gauge!("gossip_cluster_nodes", "answering" => "yes").set(live as f64);
    gauge!("gossip_cluster_nodes", "answering" => "no").set((s.nodes.len() - live) as f64);
    gauge!("gossip_cluster_origins").set(s.origins.len() as f64);
    let unconverged: Vec<u64> = s.origins.iter().filter_map(|o| o.unconverged_ms).collect();
    gauge!("gossip_cluster_unconverged_origins")
        .set(s.origins.iter().filter(|o| !o.committed).count() as f64);
    gauge!("gossip_oldest_unconverged_age_seconds")
        .set(unconverged.iter().max().copied().unwrap_or(0) as f64 / 1000.0);
    for c in &s.commits {
        if let Some(ms) = c.latency_ms {
            metrics::histogram!("gossip_commit_latency_seconds").record(ms as f64 / 1000.0);
        }
    }
}

/// Runs the monitor: `count` rounds (forever if None), one every `interval`; with `metrics`,
/// also serves cluster-wide Prometheus metrics there.
pub async fn run(
    addrs: Vec<SocketAddr>,
    access: ClusterAccess,
    interval: Duration,
    json: bool,
    count: Option<usize>,
    metrics: Option<SocketAddr>,
) -> ExitCode {
    let mut shutdown = Shutdown::install();
    if let Some(addr) = metrics {
        let installed = metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install();
        if let Err(e) = installed {
            eprintln!("error: cannot serve metrics on {addr}: {e}");
            return ExitCode::FAILURE;
        }
        describe();
    }
    let clock = Instant::now();
    let mut monitor = Monitor::default();
    let mut log: Vec<String> = Vec::new();
    let screen = !json && std::io::stdout().is_terminal();
    let mut tick = tokio::time::interval(interval);
    let mut rounds = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait() => return ExitCode::SUCCESS,
        }
        let polled = poll(&addrs, &access, clock).await;
        let snapshot = monitor.observe(clock.elapsed().as_millis() as u64, &polled);
        if metrics.is_some() {
            publish(&snapshot);
        }
        for c in &snapshot.commits {
            let took = c
                .latency_ms
                .map(|ms| format!(" in {}", latency(ms)))
                .unwrap_or_default();
            let line = format!("committed {} v{}{took}", c.origin, c.version);
            if !screen && !json {
                println!("{line}");
            }
            log.push(line);
        }
        if log.len() > 10 {
            log.drain(..log.len() - 10);
        }
        if json {
            match serde_json::to_string(&snapshot) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: {e}"),
            }
        } else if screen {
            print!("\x1b[2J\x1b[H{}", draw(&snapshot, &log));
        }
        rounds += 1;
        if count.is_some_and(|c| rounds >= c) {
            // Piped or redirected, the live screen was never drawn: show the last one once.
            if !screen && !json {
                print!("{}", draw(&snapshot, &log));
            }
            return ExitCode::SUCCESS;
        }
    }
}

/// Commit latency; loopback commits are often under the millisecond the reports resolve.
fn latency(ms: u64) -> String {
    if ms == 0 {
        "<1 ms".into()
    } else {
        format!("{ms} ms")
    }
}
