//! `gossip sim`: the simulation lab on the command line (one run, or a sweep over a grid).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use comfy_table::{presets, Table};
use indicatif::{ProgressBar, ProgressStyle};

use crate::core::Fanout;
use crate::sim::lab::{self, Outcome, Partition, Scenario, Setting, Strategy, Sweep, Topology};
use crate::sim::Delay;

/// Graph shapes `gossip sim` can build.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum SimShape {
    /// Each node knows --peers random others (directed).
    Random,
    /// Everyone knows everyone.
    Mesh,
    /// Each node knows its two neighbours.
    Ring,
}

/// Options of `gossip sim`. Flag and JSON names are a public contract.
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 1000)]
    pub nodes: usize,
    /// Graph shape (ignored with --config-dir).
    #[arg(long, value_enum, default_value = "random")]
    pub topology: SimShape,
    /// Peers each node knows in the random topology: `K`, or `MIN..MAX` drawn per node.
    #[arg(long, default_value = "4", value_parser = parse_peers)]
    pub peers: (usize, usize),
    /// Take the graph from a directory of node TOML files (bind and peers) instead.
    #[arg(long)]
    pub config_dir: Option<PathBuf>,
    /// flood, push, pull, push-pull, relay, tree, or default (what `gossip node` runs: the tree).
    #[arg(long, default_value = "default")]
    pub strategy: Strategy,
    /// Peers per push (or per round for pull and push-pull); default depends on the strategy.
    #[arg(long)]
    pub fanout: Option<Fanout>,
    /// Relay hops (flood, relay, tree) or rounds each node keeps pushing (push); default: sized for N.
    #[arg(long)]
    pub ttl: Option<u8>,
    /// Round length in milliseconds: anti-entropy interval and push round.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Probability each datagram is lost.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// One-way delay in ms: `D` (fixed), `MIN..MAX` (uniform) or `exp:MEAN` / `exp:MIN+MEAN`.
    #[arg(long, default_value = "0.2..0.8")]
    pub delay_ms: Delay,
    /// Kill random nodes MS after the update: `MS:COUNT` or `MS:PERCENT%` (repeatable).
    #[arg(long = "kill")]
    pub kills: Vec<lab::Kill>,
    /// Split the network in two from SPLIT_MS to HEAL_MS after the update (`SPLIT..HEAL`).
    #[arg(long)]
    pub partition: Option<Partition>,
    /// Share of nodes on the origin's side of the partition.
    #[arg(long, default_value_t = 0.5)]
    pub partition_fraction: f64,
    /// Updates the origin makes.
    #[arg(long, default_value_t = 1)]
    pub updates: usize,
    /// Where each update starts: `0` (node 0) or `random` (a random live node per update).
    #[arg(long, default_value = "0", value_parser = ["0", "random"])]
    pub origin: String,
    /// Milliseconds between updates.
    #[arg(long, default_value_t = 1000)]
    pub update_every_ms: u64,
    /// Give up this many milliseconds (virtual) after the first update.
    #[arg(long, default_value_t = 120_000)]
    pub max_time_ms: u64,
    /// Seed: the same seed gives the same result.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Vary a parameter: `fanout=1..8`, `ttl=2..6`, `loss=0..0.3:0.1`, `strategy=push,pull`,
    /// also nodes, peers, seed (repeat for a grid).
    #[arg(long = "sweep")]
    pub sweeps: Vec<Sweep>,
    /// Draw coverage-vs-time curves into FILE.svg or FILE.png.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV instead of a table.
    #[arg(long)]
    pub csv: bool,
}

/// `K` or `MIN..MAX` peers per node, at least one.
fn parse_peers(s: &str) -> Result<(usize, usize), String> {
    let num = |t: &str| -> Result<usize, String> {
        t.trim()
            .parse()
            .map_err(|_| format!("`{t}` is not a number of peers"))
    };
    let (min, max) = match s.split_once("..") {
        Some((a, b)) => (num(a)?, num(b.trim_start_matches('='))?),
        None => {
            let k = num(s)?;
            (k, k)
        }
    };
    if min == 0 || max < min {
        return Err(format!("peers `{s}`: give K ≥ 1 or MIN..MAX with 1 ≤ MIN ≤ MAX"));
    }
    Ok((min, max))
}

impl SimArgs {
    fn scenario(&self) -> Result<Scenario, String> {
        if self.nodes < 2 && self.config_dir.is_none() {
            return Err("--nodes must be at least 2".into());
        }
        if !(0.0..1.0).contains(&self.loss) {
            return Err(format!("--loss {} must be in [0, 1)", self.loss));
        }
        if !(0.0..=1.0).contains(&self.partition_fraction) {
            return Err("--partition-fraction must be in [0, 1]".into());
        }
        if self.ttl.is_some_and(|t| t == 0 || t > crate::wire::MAX_TTL) {
            return Err(format!("--ttl must be 1-{}", crate::wire::MAX_TTL));
        }
        if self.interval_ms == 0 {
            return Err("--interval-ms must be at least 1".into());
        }
        let (nodes, topology) = match &self.config_dir {
            Some(dir) => {
                let graph = crate::sim::topology::from_config_dir(dir)?;
                (graph.len(), Topology::Given(graph))
            }
            None => (
                self.nodes,
                match self.topology {
                    SimShape::Random if self.peers.0 == self.peers.1 => {
                        Topology::RandomOut(self.peers.0)
                    }
                    SimShape::Random => Topology::RandomRange(self.peers.0, self.peers.1),
                    SimShape::Mesh => Topology::FullMesh,
                    SimShape::Ring => Topology::Ring,
                },
            ),
        };
        Ok(Scenario {
            nodes,
            topology,
            strategy: self.strategy,
            fanout: self.fanout,
            ttl: self.ttl,
            interval: Duration::from_millis(self.interval_ms),
            loss: self.loss,
            delay: self.delay_ms,
            kills: self.kills.clone(),
            partition: self.partition.map(|p| Partition {
                fraction: self.partition_fraction,
                ..p
            }),
            seed: self.seed,
            updates: self.updates.max(1),
            random_origin: self.origin == "random",
            update_every: Duration::from_millis(self.update_every_ms),
            max_time: Duration::from_millis(self.max_time_ms),
        })
    }
}

/// Runs `gossip sim`.
pub fn run(args: &SimArgs) -> ExitCode {
    let scenario = match args.scenario() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let results: Vec<(Setting, Outcome)> = if args.sweeps.is_empty() {
        let bar = ProgressBar::new(100)
            .with_style(style("{elapsed_precise} [{bar:40}] {pos}% of live nodes"));
        let outcome = lab::run(&scenario, &|f| bar.set_position((f * 100.0) as u64));
        bar.finish_and_clear();
        vec![(Setting(Vec::new()), outcome)]
    } else {
        let cells = lab::grid(&args.sweeps).len() as u64;
        let bar = ProgressBar::new(cells).with_style(style(
            "{elapsed_precise} [{bar:40}] {pos}/{len} runs, eta {eta}",
        ));
        let results = lab::run_grid(&scenario, &args.sweeps, &|| bar.inc(1));
        bar.finish_and_clear();
        match results {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    };
    if let Some(path) = &args.plot {
        let runs: Vec<lab::Curve> = results
            .iter()
            .map(|(s, o)| (s.label_or(&o.strategy), o.coverage.as_slice()))
            .collect();
        let title = format!(
            "{} nodes, {}, {}",
            scenario.nodes,
            scenario.topology.label(),
            if args.sweeps.is_empty() {
                format!("strategy {}", scenario.strategy)
            } else {
                "sweep".into()
            }
        );
        if let Err(e) = lab::plot_coverage(path, &title, &runs) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        eprintln!("plot written to {}", path.display());
    }
    let text = if args.json {
        match json(&results, !args.sweeps.is_empty()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot encode JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else if args.csv {
        csv(&results)
    } else if args.sweeps.is_empty() {
        render_one(&results[0].1)
    } else {
        render_sweep(&results)
    };
    // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    ExitCode::SUCCESS
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn json(results: &[(Setting, Outcome)], sweep: bool) -> serde_json::Result<String> {
    let mut text = if sweep {
        serde_json::to_string_pretty(&lab::sweep_rows(results))?
    } else {
        serde_json::to_string_pretty(&results[0].1)?
    };
    text.push('\n');
    Ok(text)
}

fn csv(results: &[(Setting, Outcome)]) -> String {
    let axes: Vec<String> = results
        .first()
        .map(|(s, _)| s.0.iter().map(|(a, _)| format!("sweep_{a},")).collect())
        .unwrap_or_default();
    let mut out = format!("{}{}\n", axes.concat(), Outcome::CSV_HEADER);
    for (setting, o) in results {
        let values: String = setting.0.iter().map(|(_, v)| format!("{v},")).collect();
        out.push_str(&format!("{values}{}\n", o.csv_row()));
    }
    out
}

fn ms(v: Option<f64>) -> String {
    v.map_or("never".into(), |v| format!("{v:.1}"))
}

fn count(v: Option<u32>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

fn render_one(o: &Outcome) -> String {
    let mut t = Table::new();
    t.load_style(presets::UTF8_HORIZONTAL_ONLY);
    t.set_header(["", "value"]);
    let rows: Vec<(&str, String)> = vec![
        ("nodes (live at end)", format!("{} ({})", o.nodes, o.live)),
        ("strategy", o.strategy.clone()),
        ("topology", o.topology.clone()),
        (
            "fanout / ttl",
            format!(
                "{} / {}",
                o.fanout,
                o.ttl.map_or("auto".into(), |t| t.to_string())
            ),
        ),
        ("coverage of live nodes", format!("{:.2}%", o.coverage_pct)),
        (
            "time to 50% / 99% / 100%",
            format!(
                "{} / {} / {} ms",
                ms(o.time_to_50_ms),
                ms(o.time_to_99_ms),
                ms(o.time_to_100_ms)
            ),
        ),
        (
            "rounds to 50% / 99% / 100%",
            format!(
                "{} / {} / {}",
                count(o.rounds_to_50),
                count(o.rounds_to_99),
                count(o.rounds_to_100)
            ),
        ),
        (
            "datagrams (per node)",
            format!("{} ({:.2})", o.datagrams, o.datagrams_per_node),
        ),
        (
            "bytes (per node)",
            format!("{} ({:.0})", o.bytes, o.bytes_per_node),
        ),
        (
            "redundancy",
            o.redundancy.map_or("-".into(), |r| format!("{r:.2}")),
        ),
        (
            "rumor datagrams (RMR)",
            format!(
                "{} ({})",
                o.rumor_datagrams,
                o.rmr.map_or("-".into(), |r| format!("{r:.2}"))
            ),
        ),
        ("lazy announcements (tree)", o.announcements.to_string()),
        ("datagrams lost", o.lost.to_string()),
        (
            "simulated / wall time",
            format!("{:.0} ms / {:.0} ms", o.simulated_ms, o.wall_ms),
        ),
        (
            "peak memory",
            o.peak_rss_bytes
                .map_or("-".into(), crate::ui::format::bytes),
        ),
    ];
    for (k, v) in rows {
        t.add_row([k.to_string(), v]);
    }
    let mut out = format!("{t}\n");
    if o.commits.len() > 1 {
        let mut c = Table::new();
        c.load_style(presets::UTF8_HORIZONTAL_ONLY);
        c.set_header(["version", "held by every live node after"]);
        for v in &o.commits {
            c.add_row([v.version.to_string(), ms(v.commit_ms) + " ms"]);
        }
        out.push_str(&format!("{c}\n"));
    }
    out
}

fn render_sweep(results: &[(Setting, Outcome)]) -> String {
    let mut t = Table::new();
    t.load_style(presets::UTF8_HORIZONTAL_ONLY);
    let axes: Vec<String> = results
        .first()
        .map(|(s, _)| s.0.iter().map(|(a, _)| a.to_string()).collect())
        .unwrap_or_default();
    let mut header = axes.clone();
    header.extend(
        [
            "coverage",
            "t50 ms",
            "t99 ms",
            "t100 ms",
            "rounds 50/99/100",
            "datagrams/node",
            "bytes/node",
            "redundancy",
            "rumors",
            "rmr",
            "ihave",
        ]
        .map(String::from),
    );
    t.set_header(header);
    for (setting, o) in results {
        let mut row: Vec<String> = setting.0.iter().map(|(_, v)| v.clone()).collect();
        row.extend([
            format!("{:.2}%", o.coverage_pct),
            ms(o.time_to_50_ms),
            ms(o.time_to_99_ms),
            ms(o.time_to_100_ms),
            format!(
                "{}/{}/{}",
                count(o.rounds_to_50),
                count(o.rounds_to_99),
                count(o.rounds_to_100)
            ),
            format!("{:.1}", o.datagrams_per_node),
            format!("{:.0}", o.bytes_per_node),
            o.redundancy.map_or("-".into(), |r| format!("{r:.2}")),
            o.rumor_datagrams.to_string(),
            o.rmr.map_or("-".into(), |r| format!("{r:.2}")),
            o.announcements.to_string(),
        ]);
        t.add_row(row);
    }
    format!("{t}\n")
}
