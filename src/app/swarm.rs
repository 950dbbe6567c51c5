//! `gossip swarm`: N real node processes on loopback, one update, measured from the outside
//! with `gossip status` the way a user would, then every process cleaned up (also on Ctrl-C).

use std::net::{SocketAddr, UdpSocket};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use comfy_table::{presets, Table};
use rand::seq::SliceRandom;
use serde::Serialize;
use tokio::process::{Child, Command};
use tokio::task::JoinSet;

use crate::runtime::client::ClusterAccess;
use crate::wire::{ClusterId, MemberState, StatusReport};

use super::shutdown::Shutdown;

/// Options of `gossip swarm`.
#[derive(clap::Args, Debug)]
pub struct SwarmArgs {
    /// Node processes to start.
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    /// First UDP port (the rest follow); default: free ports picked by the OS.
    #[arg(long)]
    pub base_port: Option<u16>,
    /// Share of nodes (0..1) to SIGKILL once membership has settled, before the update.
    #[arg(long, default_value_t = 0.0)]
    pub kill: f64,
    /// Fanout the nodes use (default: auto).
    #[arg(long)]
    pub fanout: Option<String>,
    /// Give up waiting for membership or propagation after this many seconds.
    #[arg(long, default_value_t = 90)]
    pub timeout_secs: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What the swarm measured. JSON field names are a public contract.
#[derive(Serialize, Debug)]
struct Summary {
    nodes: usize,
    killed: usize,
    /// Seconds from the first process start until every node listed every other as alive.
    membership_secs: f64,
    /// Milliseconds from the update until the last live node held it (from each node's own
    /// `age_ms`, so polling delay does not count).
    propagation_ms: f64,
    propagation_median_ms: f64,
    /// Datagrams all live nodes sent from the update until the last one held it, including
    /// background probes and anti-entropy.
    datagrams: u64,
    datagrams_per_node: f64,
    /// Where the nodes listened (all stopped by the time this prints).
    addrs: Vec<SocketAddr>,
}

/// Runs `gossip swarm`; every child is killed on every exit path (`kill_on_drop`).
pub async fn run(args: &SwarmArgs) -> ExitCode {
    let mut shutdown = Shutdown::install();
    if args.nodes < 2 || !(0.0..1.0).contains(&args.kill) {
        eprintln!("error: need --nodes ≥ 2 and --kill in [0, 1)");
        return ExitCode::from(2);
    }
    let mut swarm = match Swarm::start(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = tokio::select! {
        r = swarm.measure(args) => r,
        _ = shutdown.wait() => Err("interrupted".to_string()),
    };
    swarm.stop().await;
    match outcome {
        Ok(summary) => {
            print_summary(&summary, args.json);
            ExitCode::SUCCESS
        }
        Err(e) if e == "interrupted" => {
            eprintln!("interrupted: stopped all {} node processes", args.nodes);
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Swarm {
    addrs: Vec<SocketAddr>,
    children: Vec<Option<Child>>,
    started: Instant,
    access: ClusterAccess,
}

impl Swarm {
    fn start(args: &SwarmArgs) -> Result<Swarm, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find own binary: {e}"))?;
        let ports = match args.base_port {
            Some(p) => (0..args.nodes)
                .map(|i| {
                    u16::try_from(usize::from(p) + i)
                        .map_err(|_| "--base-port + --nodes passes 65535".to_string())
                })
                .collect::<Result<Vec<u16>, String>>()?,
            None => free_ports(args.nodes)?,
        };
        let addrs: Vec<SocketAddr> = ports
            .iter()
            .map(|&p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect();
        let started = Instant::now();
        let mut children = Vec::with_capacity(addrs.len());
        for (i, addr) in addrs.iter().enumerate() {
            let mut cmd = Command::new(&exe);
            cmd.args(["node", "--id", &format!("swarm-{i}")])
                .args(["--port", &addr.port().to_string()])
                .args(["--resample-secs", "0", "--ui", "plain"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true);
            if i > 0 {
                cmd.args(["--bootstrap", &addrs[0].to_string()]);
            }
            if let Some(f) = &args.fanout {
                cmd.args(["--fanout", f]);
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

    async fn measure(&mut self, args: &SwarmArgs) -> Result<Summary, String> {
        let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
        let n = self.addrs.len();
        eprintln!("started {n} node processes; waiting for membership…");
        self.wait(deadline, "membership", |r| {
            r.members_in(MemberState::Alive) + 1 >= n
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

        let before = self.datagrams_out().await?;
        let origin = self.addrs[0];
        let client = self
            .access
            .client(origin)
            .await
            .map_err(|e| e.to_string())?;
        let set_at = Instant::now();
        let version = client
            .write(
                "swarm",
                Some(format!("update at {:?}", self.started.elapsed()).into()),
                None,
            )
            .await
            .map_err(|e| format!("set on {origin}: {e}"))?;
        let origin_id = "swarm-0".to_string();
        let reports = self
            .wait(deadline, "propagation", |r| {
                r.id == origin_id
                    || r.known
                        .iter()
                        .any(|k| k.origin == origin_id && k.version >= version)
            })
            .await?;
        let after = self.datagrams_out().await?;
        // When each node learned it, by its own clock: poll time minus age.
        let mut times: Vec<f64> = reports
            .iter()
            .filter(|(_, r)| r.id != origin_id)
            .filter_map(|(polled, r)| {
                let k = r.known.iter().find(|k| k.origin == origin_id)?;
                let learned = polled.checked_sub(Duration::from_millis(k.age_ms))?;
                Some(learned.saturating_duration_since(set_at).as_secs_f64() * 1000.0)
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let live = self.live().len();
        let datagrams = after.saturating_sub(before);
        Ok(Summary {
            nodes: n,
            killed,
            membership_secs,
            propagation_ms: times.last().copied().unwrap_or(0.0),
            propagation_median_ms: times.get(times.len() / 2).copied().unwrap_or(0.0),
            datagrams,
            datagrams_per_node: datagrams as f64 / live.max(1) as f64,
            addrs: self.addrs.clone(),
        })
    }

    /// Polls every live node until `done` holds for all of them; returns each node's report
    /// and when it was taken.
    async fn wait(
        &self,
        deadline: Instant,
        what: &str,
        done: impl Fn(&StatusReport) -> bool,
    ) -> Result<Vec<(Instant, StatusReport)>, String> {
        loop {
            let reports = self.poll().await;
            let ready = reports.iter().flatten().filter(|(_, r)| done(r)).count();
            if ready == reports.len() {
                return Ok(reports.into_iter().flatten().collect());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{what} incomplete at the deadline: {ready} of {} nodes ready",
                    reports.len()
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

    async fn datagrams_out(&self) -> Result<u64, String> {
        let reports = self.poll().await;
        Ok(reports
            .iter()
            .flatten()
            .map(|(_, r)| r.counters.get("datagrams_out").copied().unwrap_or(0))
            .sum())
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

fn print_summary(s: &Summary, json: bool) {
    if json {
        if let Ok(t) = serde_json::to_string_pretty(s) {
            println!("{t}");
        }
        return;
    }
    let mut t = Table::new();
    t.load_style(presets::UTF8_HORIZONTAL_ONLY);
    t.set_header(["swarm", "value"]);
    t.add_row(["node processes".to_string(), s.nodes.to_string()]);
    t.add_row(["killed before the update".to_string(), s.killed.to_string()]);
    t.add_row([
        "membership complete after".to_string(),
        format!("{:.1} s", s.membership_secs),
    ]);
    t.add_row([
        "update held by every live node after".to_string(),
        format!(
            "{:.1} ms (median node {:.1} ms)",
            s.propagation_ms, s.propagation_median_ms
        ),
    ]);
    t.add_row([
        "datagrams sent meanwhile".to_string(),
        format!("{} ({:.1} per node)", s.datagrams, s.datagrams_per_node),
    ]);
    println!("{t}");
}
