//! `gossip swarm`: N real node processes on loopback, K updates, measured from the outside
//! with `gossip status` the way a user would, then every process cleaned up (also on Ctrl-C).
//! `--sweep` runs a fresh swarm per setting, like `gossip sim --sweep` runs a fresh simulation.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use comfy_table::{presets, Table};
use rand::seq::SliceRandom;
use serde::Serialize;
use tokio::process::{Child, Command};
use tokio::task::JoinSet;

use crate::config::{parse_delay, resolve, FileConfig, NodeArgs};
use crate::core::{Fanout, Strategy};
use crate::runtime::client::ClusterAccess;
use crate::sim::lab::{self, Axis, CoveragePoint, Scenario, Setting, Sweep};
use crate::wire::{ClusterId, MemberState, StatusReport};

use super::shutdown::Shutdown;

/// Options of `gossip swarm`. Flag and JSON names are a public contract.
#[derive(clap::Args, Debug)]
pub struct SwarmArgs {
    /// Node processes to start.
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    /// First UDP port (the rest follow); default: free ports picked by the OS.
    #[arg(long)]
    pub base_port: Option<u16>,
    /// Share of nodes (0..1) to SIGKILL once membership has settled, before the updates.
    #[arg(long, default_value_t = 0.0)]
    pub kill: f64,
    /// flood, push, pull, push-pull, relay, tree, or default (what `gossip node` runs: the tree).
    #[arg(long, default_value = "default")]
    pub strategy: Strategy,
    /// Peers per push (or per round for pull and push-pull); default depends on the strategy.
    #[arg(long)]
    pub fanout: Option<Fanout>,
    /// Relay hops (flood, relay, tree) or rounds each node keeps pushing (push); default: sized
    /// from the members each node knows.
    #[arg(long)]
    pub ttl: Option<u8>,
    /// Round length in milliseconds: the nodes' anti-entropy interval and push round
    /// (default: the node's, 1000).
    #[arg(long)]
    pub interval_ms: Option<u64>,
    /// Probability each node drops each datagram it sends (the nodes' --drop-rate).
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Delay each datagram the nodes send: MS or MIN..MAX milliseconds (the nodes' --delay-ms).
    #[arg(long, value_parser = validated_delay)]
    pub delay_ms: Option<String>,
    /// Updates node 0 makes, one after another (each once the last is everywhere).
    #[arg(long, default_value_t = 1)]
    pub updates: usize,
    /// Vary a parameter: `fanout=1..6`, `ttl=2..6`, `loss=0..0.3:0.1`, `strategy=push,flood`,
    /// `nodes=50,100` (repeat for a grid). Each setting gets a fresh swarm.
    #[arg(long = "sweep")]
    pub sweeps: Vec<Sweep>,
    /// Draw coverage-vs-time curves (every update's arrivals together) into FILE.svg or .png.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Give up waiting for membership or an update after this many seconds.
    #[arg(long, default_value_t = 90)]
    pub timeout_secs: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Checks a delay the way `gossip node --delay-ms` will, so a typo fails before 100 starts.
fn validated_delay(s: &str) -> Result<String, String> {
    parse_delay(s).map(|_| s.to_string())
}

/// What one swarm is started with: the flags, with one grid cell's values applied.
#[derive(Clone, Debug)]
struct Knobs {
    nodes: usize,
    strategy: Strategy,
    fanout: Option<Fanout>,
    ttl: Option<u8>,
    loss: f64,
}

impl Knobs {
    /// The flags with `setting` applied by the lab's own sweep rules, then checked by the
    /// node's own config checks: settings a node would refuse are refused here, before any
    /// process starts (not found out as a membership timeout).
    fn of(args: &SwarmArgs, setting: &Setting) -> Result<Knobs, String> {
        let mut s = Scenario {
            nodes: args.nodes,
            strategy: args.strategy,
            fanout: args.fanout,
            ttl: args.ttl,
            loss: args.loss,
            ..Scenario::default()
        };
        for (axis, value) in &setting.0 {
            if matches!(axis, Axis::Peers | Axis::Seed) {
                return Err(format!(
                    "cannot sweep {axis} in a swarm: its processes join through one \
                     bootstrap node and draw their own randomness (sweep fanout, ttl, loss, \
                     strategy or nodes)"
                ));
            }
            axis.apply(value, &mut s)?;
        }
        if s.nodes < 2 {
            return Err("need at least 2 nodes".into());
        }
        if !(0.0..1.0).contains(&s.loss) {
            return Err(format!("loss {} must be in [0, 1)", s.loss));
        }
        let node = NodeArgs {
            port: Some(0),
            strategy: Some(s.strategy),
            fanout: s.fanout,
            ttl: s.ttl,
            anti_entropy_ms: args.interval_ms,
            drop_rate: Some(s.loss),
            delay_ms: args.delay_ms.as_deref().map(parse_delay).transpose()?,
            ..NodeArgs::default()
        };
        if let Err(e) = resolve(&node, &FileConfig::default()) {
            return Err(format!("the nodes would refuse these settings: {e}"));
        }
        Ok(Knobs {
            nodes: s.nodes,
            strategy: s.strategy,
            fanout: s.fanout,
            ttl: s.ttl,
            loss: s.loss,
        })
    }

    /// The `gossip node` flags these settings become.
    fn node_flags(&self, args: &SwarmArgs) -> Vec<String> {
        let mut flags = vec!["--strategy".to_string(), self.strategy.to_string()];
        if let Some(f) = self.fanout {
            flags.extend(["--fanout".into(), f.to_string()]);
        }
        if let Some(t) = self.ttl {
            flags.extend(["--ttl".into(), t.to_string()]);
        }
        if let Some(ms) = args.interval_ms {
            flags.extend(["--anti-entropy-ms".into(), ms.to_string()]);
        }
        if self.loss > 0.0 {
            flags.extend(["--drop-rate".into(), self.loss.to_string()]);
        }
        if let Some(d) = &args.delay_ms {
            flags.extend(["--delay-ms".into(), d.clone()]);
        }
        flags
    }
}

/// One update: how long until every live node held it, and the median node.
#[derive(Serialize, Debug, Clone)]
struct UpdateTiming {
    version: u64,
    /// Milliseconds from the update until the last live node held it.
    all_ms: f64,
    /// Milliseconds until the median node held it.
    median_node_ms: f64,
}

/// What one swarm measured. JSON field names are a public contract.
#[derive(Serialize, Debug)]
struct Summary {
    nodes: usize,
    killed: usize,
    strategy: String,
    /// The fanout and TTL flags the nodes ran with (`auto`: each node's own default).
    fanout: String,
    ttl: String,
    loss: f64,
    delay_ms: Option<String>,
    /// Seconds from the first process start until every node listed every other as live.
    membership_secs: f64,
    updates: usize,
    /// Milliseconds from an update until the last live node held it (from the time each node
    /// reports it learned it, so polling delay does not count): the worst update.
    propagation_ms: f64,
    /// The median over updates of the same.
    update_median_ms: f64,
    /// The median node's time, every update's arrivals together.
    propagation_median_ms: f64,
    per_update: Vec<UpdateTiming>,
    /// Datagrams all live nodes sent from the first update until the last one was held
    /// everywhere, including background probes and anti-entropy.
    datagrams: u64,
    datagrams_per_node: f64,
    /// Rumor messages among them (several can share a datagram).
    rumor_messages: u64,
    /// Datagrams the nodes' `--loss` dropped meanwhile (not counted in `datagrams`).
    dropped: u64,
    /// Percent of the (node, update) arrivals in by each time: the curve `--plot` draws.
    coverage: Vec<CoveragePoint>,
    /// Where the nodes listened (all stopped by the time this prints).
    addrs: Vec<SocketAddr>,
}

/// Runs `gossip swarm`; every child is killed on every exit path (`kill_on_drop`).
pub async fn run(args: &SwarmArgs) -> ExitCode {
    let mut shutdown = Shutdown::install();
    if !(0.0..1.0).contains(&args.kill) || args.updates == 0 {
        eprintln!("error: need --kill in [0, 1) and --updates ≥ 1");
        return ExitCode::from(2);
    }
    let cells = lab::grid(&args.sweeps);
    let knobs = match cells
        .iter()
        .map(|c| Knobs::of(args, c))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = tokio::select! {
        r = run_all(args, &cells, &knobs) => r,
        _ = shutdown.wait() => Err("interrupted".to_string()),
    };
    match outcome {
        Ok(results) => {
            if let Some(path) = &args.plot {
                if let Err(e) = plot(path, args, &results) {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
                eprintln!("plot written to {}", path.display());
            }
            print_results(&results, args.json, !args.sweeps.is_empty());
            ExitCode::SUCCESS
        }
        Err(e) if e == "interrupted" => {
            eprintln!("interrupted: stopped every node process");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One fresh swarm per setting, one after another (they would share the CPU otherwise).
async fn run_all(
    args: &SwarmArgs,
    cells: &[Setting],
    knobs: &[Knobs],
) -> Result<Vec<(Setting, Summary)>, String> {
    let mut results = Vec::with_capacity(cells.len());
    for (cell, k) in cells.iter().zip(knobs) {
        if !cell.0.is_empty() {
            eprintln!("— {cell} —");
        }
        let mut swarm = Swarm::start(args, k)?;
        let summary = swarm.measure(args, k).await;
        swarm.stop().await;
        results.push((cell.clone(), summary?));
    }
    Ok(results)
}

struct Swarm {
    addrs: Vec<SocketAddr>,
    children: Vec<Option<Child>>,
    started: Instant,
    access: ClusterAccess,
}

impl Swarm {
    fn start(args: &SwarmArgs, knobs: &Knobs) -> Result<Swarm, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find own binary: {e}"))?;
        let ports = match args.base_port {
            Some(p) => (0..knobs.nodes)
                .map(|i| {
                    u16::try_from(usize::from(p) + i)
                        .map_err(|_| "--base-port + --nodes passes 65535".to_string())
                })
                .collect::<Result<Vec<u16>, String>>()?,
            None => free_ports(knobs.nodes)?,
        };
        let addrs: Vec<SocketAddr> = ports
            .iter()
            .map(|&p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect();
        let flags = knobs.node_flags(args);
        let started = Instant::now();
        let mut children = Vec::with_capacity(addrs.len());
        for (i, addr) in addrs.iter().enumerate() {
            let mut cmd = Command::new(&exe);
            cmd.args(["node", "--id", &format!("swarm-{i}")])
                .args(["--port", &addr.port().to_string()])
                .args(["--resample-secs", "0", "--ui", "plain"])
                .args(&flags)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true);
            if i > 0 {
                cmd.args(["--bootstrap", &addrs[0].to_string()]);
            }
            let child = cmd
                .spawn()
                .map_err(|e| format!("cannot start node {i}: {e}"))?;
            children.push(Some(child));
        }
        Ok(Swarm {
            addrs,
            children,
            started,
            access: ClusterAccess {
                cluster: ClusterId::from_name("gossip"),
                keyring: None,
                per_try: Duration::from_millis(300),
            },
        })
    }

    fn live(&self) -> Vec<SocketAddr> {
        self.addrs
            .iter()
            .zip(&self.children)
            .filter(|(_, c)| c.is_some())
            .map(|(a, _)| *a)
            .collect()
    }

    async fn measure(&mut self, args: &SwarmArgs, knobs: &Knobs) -> Result<Summary, String> {
        let timeout = Duration::from_secs(args.timeout_secs);
        let n = self.addrs.len();
        eprintln!("started {n} node processes; waiting for membership…");
        self.wait(Instant::now() + timeout, "membership", |r| {
            r.members_in(MemberState::Alive) + r.members_in(MemberState::Suspect) + 1 >= n
        })
        .await?;
        let membership_secs = self.started.elapsed().as_secs_f64();
        eprintln!("membership complete after {membership_secs:.1} s");

        let killed = (args.kill * n as f64).round() as usize;
        if killed > 0 {
            let mut victims: Vec<usize> = (1..n).collect();
            victims.shuffle(&mut rand::rng());
            for &i in victims.iter().take(killed) {
                if let Some(mut c) = self.children[i].take() {
                    let _ = c.start_kill();
                    let _ = c.wait().await;
                }
            }
            eprintln!("killed {killed} nodes (SIGKILL)");
        }

        let before = self.sent(Instant::now() + timeout).await?;
        let origin = self.addrs[0];
        let client = self
            .access
            .client(origin)
            .await
            .map_err(|e| e.to_string())?;
        let origin_id = "swarm-0".to_string();
        let mut per_update = Vec::with_capacity(args.updates);
        let mut arrivals: Vec<f64> = Vec::new();
        for u in 0..args.updates {
            let set_at = Instant::now();
            let set_unix_us = crate::runtime::os::wall_clock_us();
            let value = format!("update {u} at {:?}", self.started.elapsed());
            let version = client
                .write("swarm", Some(value.clone().into()), None)
                .await
                .map_err(|e| format!("set on {origin}: {e}"))?;
            // Held = the node shows this value. (Not its version watermark: push and flood
            // run no anti-entropy, so what the origin did before a node joined never arrives
            // and the watermark stays below.)
            let reports = self
                .wait(set_at + timeout, "propagation", |r| {
                    r.id == origin_id
                        || r.known.iter().any(|k| {
                            k.origin == origin_id && k.values.get("swarm") == Some(&value)
                        })
                })
                .await?;
            // When each node learned it, by the host's wall clock, which every node reports
            // to the microsecond: polling delay does not count.
            let mut times: Vec<f64> = reports
                .iter()
                .filter(|(_, r)| r.id != origin_id)
                .filter_map(|(_, r)| {
                    let k = r.known.iter().find(|k| k.origin == origin_id)?;
                    Some(k.learned_unix_us.saturating_sub(set_unix_us) as f64 / 1000.0)
                })
                .collect();
            times.sort_by(f64::total_cmp);
            per_update.push(UpdateTiming {
                version,
                all_ms: times.last().copied().unwrap_or(0.0),
                median_node_ms: median(&times),
            });
            arrivals.extend(times);
        }
        let after = self.sent(Instant::now() + timeout).await?;
        arrivals.sort_by(f64::total_cmp);
        let mut all: Vec<f64> = per_update.iter().map(|u| u.all_ms).collect();
        all.sort_by(f64::total_cmp);
        let live = self.live().len();
        let datagrams = after.0.saturating_sub(before.0);
        Ok(Summary {
            nodes: n,
            killed,
            strategy: knobs.strategy.to_string(),
            fanout: knobs.fanout.map_or("auto".into(), |f| f.to_string()),
            ttl: knobs.ttl.map_or("auto".into(), |t| t.to_string()),
            loss: knobs.loss,
            delay_ms: args.delay_ms.clone(),
            membership_secs,
            updates: args.updates,
            propagation_ms: all.last().copied().unwrap_or(0.0),
            update_median_ms: median(&all),
            propagation_median_ms: median(&arrivals),
            per_update,
            datagrams,
            datagrams_per_node: datagrams as f64 / live.max(1) as f64,
            rumor_messages: after.1.saturating_sub(before.1),
            dropped: after.2.saturating_sub(before.2),
            coverage: coverage(&arrivals),
            addrs: self.addrs.clone(),
        })
    }

    /// Polls every live node until `done` holds for all of them; returns each node's report
    /// and when it was taken. A node that does not answer one poll (its replies go through
    /// its own --loss) keeps its last answer.
    async fn wait(
        &self,
        deadline: Instant,
        what: &str,
        done: impl Fn(&StatusReport) -> bool,
    ) -> Result<Vec<(Instant, StatusReport)>, String> {
        let mut latest: Vec<Option<(Instant, StatusReport)>> = vec![None; self.live().len()];
        loop {
            for (slot, fresh) in latest.iter_mut().zip(self.poll().await) {
                if fresh.is_some() && !slot.as_ref().is_some_and(|(_, r)| done(r)) {
                    *slot = fresh;
                }
            }
            let ready = latest.iter().flatten().filter(|(_, r)| done(r)).count();
            if ready == latest.len() {
                return Ok(latest.into_iter().flatten().collect());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{what} incomplete at the deadline: {ready} of {} nodes ready",
                    latest.len()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One status report per live node (None where it did not answer), with when it was asked.
    async fn poll(&self) -> Vec<Option<(Instant, StatusReport)>> {
        let live = self.live();
        let mut out = vec![None; live.len()];
        let mut set = JoinSet::new();
        for (i, addr) in live.into_iter().enumerate() {
            let access = self.access.clone();
            set.spawn(async move {
                // The report is made after this instant: `asked - age_ms` is never later than
                // the real learning time by more than one loopback hop.
                let asked = Instant::now();
                let client = access.client(addr).await.ok()?.with_tries(2);
                let report = client.status().await.ok()?;
                Some((i, asked, report))
            });
        }
        while let Some(r) = set.join_next().await {
            if let Ok(Some((i, at, report))) = r {
                out[i] = Some((at, report));
            }
        }
        out
    }

    /// Datagrams sent, rumor messages sent and datagrams dropped by the fault layer, all
    /// live nodes together, so far.
    async fn sent(&self, deadline: Instant) -> Result<(u64, u64, u64), String> {
        let reports = self.wait(deadline, "counting datagrams", |_| true).await?;
        let count = |r: &StatusReport, name: &str| r.counters.get(name).copied().unwrap_or(0);
        Ok(reports.iter().fold((0, 0, 0), |(d, m, x), (_, r)| {
            (
                d + count(r, "datagrams_out"),
                m + count(r, "msgs_out_rumor"),
                x + count(r, "fault_dropped"),
            )
        }))
    }

    async fn stop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.start_kill();
        }
        for child in self.children.iter_mut().flatten() {
            let _ = child.wait().await;
        }
    }
}

/// The middle of sorted `values` (0 when empty).
fn median(sorted: &[f64]) -> f64 {
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// Sorted arrival times as a coverage curve: percent of arrivals in by each time.
fn coverage(sorted: &[f64]) -> Vec<CoveragePoint> {
    let total = sorted.len().max(1) as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &ms)| CoveragePoint {
            ms,
            pct: 100.0 * (i + 1) as f64 / total,
        })
        .collect()
}

/// `count` distinct free loopback UDP ports (held together while picking, so none repeats).
fn free_ports(count: usize) -> Result<Vec<u16>, String> {
    let sockets: Vec<UdpSocket> = (0..count)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot find free ports: {e}"))?;
    sockets
        .iter()
        .map(|s| s.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot find free ports: {e}"))
}

fn plot(path: &std::path::Path, args: &SwarmArgs, results: &[(Setting, Summary)]) -> Result<(), String> {
    let curves: Vec<lab::Curve> = results
        .iter()
        .map(|(s, o)| (s.label_or(&o.strategy), o.coverage.as_slice()))
        .collect();
    let title = format!(
        "{} node processes on loopback, {} update(s) each",
        args.nodes, args.updates
    );
    lab::plot_coverage(path, &title, &curves)
}

fn print_results(results: &[(Setting, Summary)], json: bool, sweep: bool) {
    let text = if json {
        let encoded = if sweep {
            serde_json::to_string_pretty(&lab::sweep_rows(results))
        } else {
            serde_json::to_string_pretty(&results[0].1)
        };
        match encoded {
            Ok(t) => t + "\n",
            Err(e) => {
                eprintln!("error: cannot encode JSON: {e}");
                return;
            }
        }
    } else if sweep {
        render_sweep(results)
    } else {
        render_one(&results[0].1)
    };
    // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
}

fn render_one(s: &Summary) -> String {
    let mut t = Table::new();
    t.load_style(presets::UTF8_HORIZONTAL_ONLY);
    t.set_header(["swarm", "value"]);
    t.add_row(["node processes".to_string(), s.nodes.to_string()]);
    t.add_row([
        "strategy / fanout / ttl".to_string(),
        format!("{} / {} / {}", s.strategy, s.fanout, s.ttl),
    ]);
    if s.loss > 0.0 || s.delay_ms.is_some() {
        t.add_row([
            "loss / delay".to_string(),
            format!(
                "{} / {} ms",
                s.loss,
                s.delay_ms.as_deref().unwrap_or("0")
            ),
        ]);
    }
    t.add_row(["killed before the updates".to_string(), s.killed.to_string()]);
    t.add_row([
        "membership complete after".to_string(),
        format!("{:.1} s", s.membership_secs),
    ]);
    let all = if s.updates == 1 {
        "update held by every live node after".to_string()
    } else {
        format!("each of {} updates held by every live node after", s.updates)
    };
    let value = if s.updates == 1 {
        format!(
            "{:.1} ms (median node {:.1} ms)",
            s.propagation_ms, s.propagation_median_ms
        )
    } else {
        format!(
            "median {:.1} ms, worst {:.1} ms (median node {:.1} ms)",
            s.update_median_ms, s.propagation_ms, s.propagation_median_ms
        )
    };
    t.add_row([all, value]);
    t.add_row([
        "datagrams sent meanwhile".to_string(),
        format!(
            "{} ({:.1} per node; {} rumor messages)",
            s.datagrams, s.datagrams_per_node, s.rumor_messages
        ),
    ]);
    if s.dropped > 0 {
        t.add_row([
            "dropped by --loss meanwhile".to_string(),
            s.dropped.to_string(),
        ]);
    }
    format!("{t}\n")
}

fn render_sweep(results: &[(Setting, Summary)]) -> String {
    let mut t = Table::new();
    t.load_style(presets::UTF8_HORIZONTAL_ONLY);
    let mut header: Vec<String> = results
        .first()
        .map(|(s, _)| s.0.iter().map(|(a, _)| a.to_string()).collect())
        .unwrap_or_default();
    header.extend(
        [
            "membership s",
            "update→all median ms",
            "worst ms",
            "median node ms",
            "datagrams",
            "per node",
            "rumor msgs",
        ]
        .map(String::from),
    );
    t.set_header(header);
    for (setting, s) in results {
        let mut row: Vec<String> = setting.0.iter().map(|(_, v)| v.clone()).collect();
        row.extend([
            format!("{:.1}", s.membership_secs),
            format!("{:.1}", s.update_median_ms),
            format!("{:.1}", s.propagation_ms),
            format!("{:.1}", s.propagation_median_ms),
            s.datagrams.to_string(),
            format!("{:.1}", s.datagrams_per_node),
            s.rumor_messages.to_string(),
        ]);
        t.add_row(row);
    }
    format!("{t}\n")
}
