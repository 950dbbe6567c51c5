//! The `gossip` command line. Flag names and JSON fields here are a public contract.

mod admin;
mod books;
mod keygen;
pub mod log;
pub mod metrics;
mod node;
pub mod reload;
mod render;
mod shutdown;
mod sim;
mod swarm;
mod top;
mod topology;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{parse_addr, NodeArgs};
use crate::runtime::client::ClusterAccess;
use crate::wire::ClusterId;

/// A peer-to-peer gossip node: rumor-mongering, push-pull anti-entropy and discovery over UDP.
#[derive(Parser, Debug)]
#[command(name = "gossip", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by commands that talk to a running node.
#[derive(clap::Args, Debug, Clone)]
pub struct AdminArgs {
    /// The node's address (bare port = 127.0.0.1).
    #[arg(value_parser = parse_addr)]
    pub addr: SocketAddr,
    /// Cluster name the node runs in.
    #[arg(long, env = "GOSSIP_CLUSTER", default_value = "gossip")]
    pub cluster: String,
    /// Milliseconds to wait for each answer before retrying (5 tries).
    #[arg(long, default_value_t = 300)]
    pub timeout_ms: u64,
    #[command(flatten)]
    pub key: KeyArg,
}

/// The key of a keyed cluster, for commands that talk to its nodes.
#[derive(clap::Args, Debug, Clone)]
pub struct KeyArg {
    /// Key file of a keyed cluster (its nodes answer nothing unsealed).
    #[arg(long, env = "GOSSIP_CLUSTER_KEY_FILE")]
    pub cluster_key_file: Option<std::path::PathBuf>,
}

impl KeyArg {
    /// The cluster name, key and per-try wait as one access descriptor; the error says
    /// what is wrong with the key file.
    fn access(&self, cluster: &str, per_try: Duration) -> Result<ClusterAccess, String> {
        let keyring = match &self.cluster_key_file {
            Some(path) => Some(std::sync::Arc::new(crate::config::load_keyring(path)?)),
            None => None,
        };
        Ok(ClusterAccess {
            cluster: ClusterId::from_name(cluster),
            keyring,
            per_try: per_try.max(Duration::from_millis(1)),
        })
    }
}

impl AdminArgs {
    fn access(&self) -> Result<ClusterAccess, String> {
        self.key
            .access(&self.cluster, Duration::from_millis(self.timeout_ms))
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a node.
    Node(Box<NodeArgs>),
    /// Show a running node's view of the cluster.
    Status {
        #[command(flatten)]
        admin: AdminArgs,
        /// Print JSON (fields documented in the README) instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Put a key/value into a running node's own state; it spreads from there.
    Set {
        #[command(flatten)]
        admin: AdminArgs,
        /// Key (`book` replaces the favorite book until the next re-draw).
        key: String,
        /// Value (or use --file).
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        value: Option<String>,
        /// Take the value from a file (`-` for stdin); up to the node's max_value_bytes.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        /// Expire the key on every node after this long (`30s`, `5m`, `2h`).
        #[arg(long, value_parser = parse_ttl)]
        ttl: Option<Duration>,
    },
    /// Print the value a running node holds under ORIGIN's KEY, raw, to stdout (exit 1 if it
    /// holds none).
    Get {
        #[command(flatten)]
        admin: AdminArgs,
        /// The node id whose key it is (see `gossip status`).
        origin: String,
        /// Key.
        key: String,
    },
    /// Delete a key of a running node's own state on every node.
    Del {
        #[command(flatten)]
        admin: AdminArgs,
        /// Key.
        key: String,
    },
    /// Stream each change a running node applies (origin, key, version, size; set, deleted
    /// or expired) as it happens.
    Watch {
        #[command(flatten)]
        admin: AdminArgs,
        /// Only keys starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Watch a whole cluster: one row per node, who holds each origin's newest version, and
    /// how long each version took to reach every live node.
    Top {
        /// Nodes to watch (bare port = 127.0.0.1); default: every node file in --config-dir.
        #[arg(value_parser = parse_addr)]
        addrs: Vec<SocketAddr>,
        /// Directory of node TOML files whose `bind` addresses to watch.
        #[arg(long, default_value = "config")]
        config_dir: std::path::PathBuf,
        /// Print one JSON snapshot per line instead of tables.
        #[arg(long)]
        json: bool,
        /// Milliseconds between polls.
        #[arg(long, default_value_t = 500)]
        interval_ms: u64,
        /// Stop after this many polls (default: run until Ctrl-C).
        #[arg(long)]
        count: Option<usize>,
        /// Cluster name the nodes run in.
        #[arg(long, env = "GOSSIP_CLUSTER", default_value = "gossip")]
        cluster: String,
        /// Milliseconds to wait for each node's answer.
        #[arg(long, default_value_t = 300)]
        timeout_ms: u64,
        /// Serve cluster-wide Prometheus metrics (commit latency, oldest unconverged version)
        /// at http://ADDR/metrics.
        #[arg(long, value_parser = parse_addr)]
        metrics: Option<SocketAddr>,
        #[command(flatten)]
        key: KeyArg,
    },
    /// Write a new cluster key file (`--out`, for `--cluster-key-file`) or a node identity
    /// (`--identity`, for `--identity-file`; its public key is printed), owner-only.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["out", "identity"])))]
    Keygen {
        /// Where to write a cluster key; an existing file is kept unless --force.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Where to write a node's ed25519 identity; prints its public key (for
        /// --trusted-keys). An existing file is kept unless --force.
        #[arg(long)]
        identity: Option<std::path::PathBuf>,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Simulate N nodes running the real protocol core on a virtual clock: compare fanout, TTL
    /// and strategies (flood, push, pull, push-pull), under loss, kills and partitions.
    Sim(Box<sim::SimArgs>),
    /// Start N real node processes on loopback, measure one update's propagation and the
    /// datagrams it took, then stop them all.
    Swarm(swarm::SwarmArgs),
    /// Write one TOML file per node for a ring, star, random or mesh topology.
    Topology {
        /// Shape of the graph.
        #[arg(value_enum)]
        shape: topology::Shape,
        /// Number of nodes.
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        /// Peers each node names (ring and random).
        #[arg(long, default_value_t = 2)]
        peers: usize,
        /// Directory to write node-<port>.toml files into.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Port of the first node; the rest follow.
        #[arg(long, default_value_t = 7000)]
        base_port: u16,
        /// Seed for the random shape.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// A TTL such as `30s`, `5m` or `1h30m`: at least a millisecond.
fn parse_ttl(s: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (e.g. 30s, 5m, 2h)"))?;
    if ttl < Duration::from_millis(1) || ttl.as_millis() > u128::from(crate::wire::MAX_TTL_MS) {
        return Err(format!("`{s}`: a TTL must be between 1ms and 10 years"));
    }
    Ok(ttl)
}

/// Parses the process's arguments and runs the command.
pub fn main() -> ExitCode {
    run(Cli::parse())
}

/// Runs the parsed command; the exit code follows the README (2 = bad configuration).
pub fn run(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Node(args) => node::run(*args).await,
            Command::Status { admin, json } => admin::status(&admin, json).await,
            Command::Set {
                admin,
                key,
                value,
                file,
                ttl,
            } => {
                let source = match (&value, &file) {
                    (_, Some(path)) => admin::Source::File(path),
                    (Some(text), None) => admin::Source::Text(text),
                    (None, None) => admin::Source::Text(""),
                };
                admin::set(&admin, &key, source, ttl).await
            }
            Command::Get { admin, origin, key } => admin::get(&admin, &origin, &key).await,
            Command::Del { admin, key } => admin::del(&admin, &key).await,
            Command::Watch {
                admin,
                prefix,
                json,
            } => admin::watch(&admin, &prefix, json).await,
            Command::Top {
                addrs,
                config_dir,
                json,
                interval_ms,
                count,
                cluster,
                timeout_ms,
                metrics,
                key,
            } => match top::targets(&addrs, Some(&config_dir))
                .and_then(|t| Ok((t, key.access(&cluster, Duration::from_millis(timeout_ms))?)))
            {
                Ok((targets, access)) => {
                    top::run(
                        targets,
                        access,
                        Duration::from_millis(interval_ms.max(10)),
                        json,
                        count,
                        metrics,
                    )
                    .await
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            },
            Command::Keygen {
                out,
                identity,
                force,
            } => match (out, identity) {
                (Some(out), _) => keygen::run(&out, force),
                (None, Some(path)) => keygen::identity(&path, force),
                (None, None) => ExitCode::from(2),
            },
            // CPU-bound and synchronous: the virtual clock needs no runtime (sweeps use rayon).
            Command::Sim(args) => sim::run(&args),
            Command::Swarm(args) => swarm::run(&args).await,
            Command::Topology {
                shape,
                nodes,
                peers,
                out,
                base_port,
                seed,
            } => topology::run(shape, nodes, peers, &out, base_port, seed),
        }
    })
}
