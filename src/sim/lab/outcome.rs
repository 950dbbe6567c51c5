//! What a run measured. Field names are a public contract (`gossip sim --json` / `--csv`).

use serde::Serialize;

/// Coverage at one moment after the update.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct CoveragePoint {
    pub ms: f64,
    /// Percent of live nodes holding the news.
    pub pct: f64,
}

/// When one update was held by every live node.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct VersionCommit {
    /// The node that made the update.
    pub origin: String,
    pub version: u64,
    /// Milliseconds from the update to the last live node holding it; None if never.
    pub commit_ms: Option<f64>,
}

/// The measurements of one run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Outcome {
    pub nodes: usize,
    /// Nodes alive at the end (coverage counts only these).
    pub live: usize,
    pub strategy: String,
    pub topology: String,
    pub fanout: String,
    pub ttl: Option<u8>,
    pub loss: f64,
    pub seed: u64,
    /// Where updates start: a node id, or `random` (a random live node per update).
    pub origin: String,
    /// Percent of live nodes holding every update at the end.
    pub coverage_pct: f64,
    pub time_to_50_ms: Option<f64>,
    pub time_to_99_ms: Option<f64>,
    pub time_to_100_ms: Option<f64>,
    /// Rounds of the interval for push, pull and push-pull; for flood and default, the most
    /// relay hops any rumor took to reach the first 50/99/100% (anti-entropy arrivals have none).
    pub rounds_to_50: Option<u32>,
    pub rounds_to_99: Option<u32>,
    pub rounds_to_100: Option<u32>,
    /// Datagrams and bytes sent from the first update to the end of the run.
    pub datagrams: u64,
    pub bytes: u64,
    pub datagrams_per_node: f64,
    pub bytes_per_node: f64,
    /// Datagrams delivered per node that needed the news, minus one: 0 is perfect economy.
    pub redundancy: Option<f64>,
    /// Rumor messages sent (each in a datagram of its own unless batched with others).
    pub rumor_datagrams: u64,
    /// Relative message redundancy: rumor messages per node that needed the news, minus
    /// one (Plumtree's RMR; 0 for a perfect tree, N/A for strategies without rumors).
    pub rmr: Option<f64>,
    /// The broadcast tree's lazy announcements (`IHave` messages) sent; 0 for the others.
    pub announcements: u64,
    pub lost: u64,
    pub commits: Vec<VersionCommit>,
    pub coverage: Vec<CoveragePoint>,
    /// Virtual milliseconds simulated after the first update.
    pub simulated_ms: f64,
    pub wall_ms: f64,
    /// Peak resident memory of this process so far (all runs of a sweep share it).
    pub peak_rss_bytes: Option<u64>,
}

impl Outcome {
    /// Column names of [`Outcome::csv_row`].
    pub const CSV_HEADER: &'static str = "strategy,topology,nodes,live,fanout,ttl,loss,seed,\
coverage_pct,time_to_50_ms,time_to_99_ms,time_to_100_ms,rounds_to_50,rounds_to_99,\
rounds_to_100,datagrams,bytes,datagrams_per_node,bytes_per_node,redundancy,lost,\
simulated_ms,wall_ms,peak_rss_bytes,rumor_datagrams,rmr,announcements";

    /// One CSV line (no quoting needed: no field holds a comma).
    pub fn csv_row(&self) -> String {
        fn opt<T: ToString>(v: Option<T>) -> String {
            v.map(|v| v.to_string()).unwrap_or_default()
        }
        [
            self.strategy.clone(),
            self.topology.replace(',', ";"),
            self.nodes.to_string(),
            self.live.to_string(),
            self.fanout.clone(),
            opt(self.ttl),
            self.loss.to_string(),
            self.seed.to_string(),
            format!("{:.3}", self.coverage_pct),
            opt(self.time_to_50_ms.map(round3)),
            opt(self.time_to_99_ms.map(round3)),
            opt(self.time_to_100_ms.map(round3)),
            opt(self.rounds_to_50),
            opt(self.rounds_to_99),
            opt(self.rounds_to_100),
            self.datagrams.to_string(),
            self.bytes.to_string(),
            format!("{:.2}", self.datagrams_per_node),
            format!("{:.1}", self.bytes_per_node),
            opt(self.redundancy.map(|r| format!("{r:.3}"))),
            self.lost.to_string(),
            format!("{:.1}", self.simulated_ms),
            format!("{:.1}", self.wall_ms),
            opt(self.peak_rss_bytes),
            self.rumor_datagrams.to_string(),
            opt(self.rmr.map(|r| format!("{r:.3}"))),
            self.announcements.to_string(),
        ]
        .join(",")
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
