//! Merging flags, environment and file into the settings a node runs with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::core::{Fanout, FaultConfig, NodeConfig, TrustMode};
use crate::app::log::LogFormat;
use crate::wire::{ClusterId, NodeId, DEFAULT_MTU, MAX_DATAGRAM, MIN_MTU};

use super::addr::{parse_addr, parse_delay};
use super::file::FileConfig;

/// `gossip node` options. Each has a `GOSSIP_*` environment variable; flags win over it and
/// both win over the TOML file.
#[derive(Args, Clone, Debug, Default)]
pub struct NodeArgs {
    /// Node TOML file (see config/).
    #[arg(long, short, env = "GOSSIP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Node id (default: n<port>).
    #[arg(long, env = "GOSSIP_ID")]
    pub id: Option<String>,
    /// Port to listen on at 127.0.0.1 (shorthand for --bind 127.0.0.1:PORT).
    #[arg(long, short, env = "GOSSIP_PORT")]
    pub port: Option<u16>,
    /// Address to listen on.
    #[arg(long, env = "GOSSIP_BIND", value_parser = parse_addr)]
    pub bind: Option<SocketAddr>,
    /// Cluster name: nodes only talk within one cluster.
    #[arg(long, env = "GOSSIP_CLUSTER")]
    pub cluster: Option<String>,
    /// Static peer (repeatable; bare port = 127.0.0.1).
    #[arg(long = "peer", env = "GOSSIP_PEERS", value_delimiter = ',', value_parser = parse_addr)]
    pub peers: Vec<SocketAddr>,
    /// Peer to ask for its peer list at start (repeatable; bare port = 127.0.0.1).
    #[arg(long, short, env = "GOSSIP_BOOTSTRAP", value_delimiter = ',', value_parser = parse_addr)]
    pub bootstrap: Vec<SocketAddr>,
    /// Peers each rumor is pushed to: a number, `auto` (ln N + 3) or `all` (flood).
    #[arg(long, env = "GOSSIP_FANOUT")]
    pub fanout: Option<Fanout>,
    /// Rumor hop limit (default: sized for the cluster, log2 N + 2).
    #[arg(long, env = "GOSSIP_TTL")]
    pub ttl: Option<u8>,
    /// Anti-entropy interval in milliseconds (jittered ±25%).
    #[arg(long, env = "GOSSIP_ANTI_ENTROPY_MS")]
    pub anti_entropy_ms: Option<u64>,
    /// Seconds between favorite-book re-draws (jittered ±25%; 0 = never).
    #[arg(long, env = "GOSSIP_RESAMPLE_SECS")]
    pub resample_secs: Option<f64>,
    /// Book titles, one per line (default: ./books.txt, else the built-in list).
    #[arg(long, env = "GOSSIP_BOOKS")]
    pub books: Option<PathBuf>,
    /// Probability of dropping each outgoing datagram (fault injection).
    #[arg(long, env = "GOSSIP_DROP_RATE")]
    pub drop_rate: Option<f64>,
    /// Delay each outgoing datagram by MS or MIN..MAX milliseconds (fault injection).
    #[arg(long, env = "GOSSIP_DELAY_MS", value_parser = parse_delay)]
    pub delay_ms: Option<(Duration, Duration)>,
    /// Largest datagram to send, in bytes.
    #[arg(long, env = "GOSSIP_MTU")]
    pub mtu: Option<usize>,
    /// Bound on peers learned through gossip.
    #[arg(long, env = "GOSSIP_MAX_PEERS")]
    pub max_peers: Option<usize>,
    /// Log format.
    #[arg(long, env = "GOSSIP_LOG", value_enum)]
    pub log: Option<LogFormat>,
    /// RNG seed, for reproducible runs (default: random).
    #[arg(long, env = "GOSSIP_SEED")]
    pub seed: Option<u64>,
    /// SWIM probe interval in milliseconds (the next member on the probe ring is probed once
    /// per interval).
    #[arg(long, env = "GOSSIP_PROBE_MS")]
    pub probe_ms: Option<u64>,
    /// Milliseconds a probe waits for its ack before asking others to probe.
    #[arg(long, env = "GOSSIP_PROBE_TIMEOUT_MS")]
    pub probe_timeout_ms: Option<u64>,
    /// Suspicion timeout multiplier: minimum = mult × log10(N) × probe timeout.
    #[arg(long, env = "GOSSIP_SUSPICION_MULT")]
    pub suspicion_mult: Option<f64>,
    /// Directory for the node's state file, so a restart never reissues an old version.
    #[arg(long, env = "GOSSIP_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Live view or plain log lines (default: live view when stdout is a terminal).
    #[arg(long, env = "GOSSIP_UI", value_enum)]
    pub ui: Option<crate::ui::UiMode>,
    /// Serve Prometheus metrics at http://ADDR/metrics (bare port = 127.0.0.1).
    #[arg(long, env = "GOSSIP_METRICS", value_parser = parse_addr)]
    pub metrics: Option<SocketAddr>,
    /// Key file of a keyed cluster (make one with `gossip keygen`); re-read on change.
    #[arg(long, env = "GOSSIP_CLUSTER_KEY_FILE")]
    pub cluster_key_file: Option<PathBuf>,
    /// Who may send admin requests to an unkeyed node: loopback (default) or any.
    #[arg(long, env = "GOSSIP_ADMIN_FROM")]
    pub admin_from: Option<crate::core::AdminAccess>,
    /// The address peers should use to reach this node, when it differs from the bind
    /// address (bind 0.0.0.0 or [::], NAT): IP or IP:PORT (a bare IP keeps the bound port).
    #[arg(long, env = "GOSSIP_ADVERTISE", value_parser = super::addr::parse_advertise)]
    pub advertise: Option<SocketAddr>,
    /// Largest value this node sets or fetches, in bytes (default 1 MiB, at most 16 MiB).
    #[arg(long, env = "GOSSIP_MAX_VALUE_BYTES")]
    pub max_value_bytes: Option<usize>,
    /// Most bytes one origin's keys and values may hold (default 64 MiB).
    #[arg(long, env = "GOSSIP_MAX_STATE_BYTES")]
    pub max_state_bytes: Option<usize>,
    /// Seconds deleted and expired keys are kept before they are forgotten (default 600).
    #[arg(long, env = "GOSSIP_TOMBSTONE_GRACE_SECS")]
    pub tombstone_grace_secs: Option<f64>,
    /// The node's ed25519 identity file (make one with `gossip keygen --identity FILE`); it
    /// signs every change this node makes. Default: `<data-dir>/<id>.identity`, made on first
    /// start.
    #[arg(long, env = "GOSSIP_IDENTITY_FILE")]
    pub identity_file: Option<PathBuf>,
    /// Whose signatures to accept: `open` (default: nothing checked, any member may speak for
    /// any node), `tofu` (the first key seen signing a node's state is pinned; another key for
    /// that node is refused), `allowlist` (only the keys in --trusted-keys).
    #[arg(long, env = "GOSSIP_TRUST")]
    pub trust: Option<crate::core::TrustMode>,
    /// Public keys an allowlist node accepts, one per line, each optionally followed by the
    /// one node id it may speak for (implies --trust allowlist).
    #[arg(long, env = "GOSSIP_TRUSTED_KEYS")]
    pub trusted_keys: Option<PathBuf>,
    /// Changes per second of any one origin this node relays by rumor (bursts of twice
    /// that); faster changes are applied but left to anti-entropy, coalesced to the newest
    /// (default 20; 0 = no limit).
    #[arg(long, env = "GOSSIP_MAX_ORIGIN_RATE")]
    pub max_origin_rate: Option<f64>,
    /// Diffusion, for the privacy of whoever starts a rumor: every rumor and announcement this
    /// node sends waits an independent random delay of this mean (exponential), so who told a
    /// node first says little about who started it. Off by default; costs latency.
    #[arg(long, env = "GOSSIP_DIFFUSION_MS", value_name = "MEAN_MS")]
    pub diffusion: Option<f64>,
    /// How news spreads, for experiments: `default` (relay at once to --fanout peers, push-pull
    /// anti-entropy), `flood` (relay to every peer, no anti-entropy), `push` (push to
    /// --fanout peers every anti-entropy interval for --ttl rounds), `pull` or `push-pull`
    /// (anti-entropy with --fanout peers per round, no rumors). Membership runs in all of them.
    #[arg(long, env = "GOSSIP_STRATEGY")]
    pub strategy: Option<crate::core::Strategy>,
}

/// Everything needed to start a node.
#[derive(Clone, Debug)]
pub struct NodeSettings {
    pub bind: SocketAddr,
    pub node: NodeConfig,
    pub books: Option<PathBuf>,
    /// How often the favorite book is re-drawn; None never re-draws.
    pub resample: Option<Duration>,
    pub log: LogFormat,
    pub seed: Option<u64>,
    pub config_path: Option<PathBuf>,
    pub cluster_name: String,
    pub data_dir: Option<PathBuf>,
    /// False when the id was derived from the port (and must follow it if the port was 0).
    pub explicit_id: bool,
    /// The cluster key file, if keyed (watched for rotation).
    pub key_file: Option<PathBuf>,
    /// The identity file, if given (else the data dir's, else none or one for this run).
    pub identity_file: Option<PathBuf>,
    /// The trusted-keys file, if any (watched: edits apply without a restart).
    pub trusted_keys: Option<PathBuf>,
}

impl NodeSettings {
    /// Fills in what only the bound socket knows: with `--port 0` the kernel picks the port,
    /// and the advertised address and default id must use the real one.
    pub fn bound_to(&mut self, local: SocketAddr) {
        if self.node.addr.port() == 0 {
            self.node.addr.set_port(local.port());
            if !self.explicit_id {
                self.node.id = NodeId::from(format!("n{}", local.port()));
            }
        }
    }
}

/// A configuration problem: the message says where (file and line, or which flag).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Merges `args` over `file` over defaults and checks the result.
pub fn resolve(args: &NodeArgs, file: &FileConfig) -> Result<NodeSettings, ConfigError> {
    let err = |m: String| ConfigError(m);
    let bind = match (args.bind, args.port) {
        (Some(b), _) => b,
        (None, Some(p)) => SocketAddr::from(([127, 0, 0, 1], p)),
        (None, None) => file.bind.map(|a| a.0).ok_or_else(|| {
            err("no address to listen on: give --port PORT, --bind ADDR or `bind` in the config file".into())
        })?,
    };
    let explicit_id = args.id.is_some() || file.id.is_some();
    let id = args
        .id
        .clone()
        .or_else(|| file.id.clone())
        .unwrap_or_else(|| format!("n{}", bind.port()));
    let id = NodeId::from(id);
    if !id.is_valid() {
        return Err(err(format!("node id `{id}` must be 1..=64 bytes")));
    }
    let advertise = if let Some(a) = args.advertise.or(file.advertise.map(|a| a.0)) {
        if a.ip().is_unspecified() || a.ip().is_multicast() {
            return Err(err(format!(
                "advertise address {a} must be one peers can send to"
            )));
        }
        if a.port() == 0 {
            SocketAddr::new(a.ip(), bind.port())
        } else {
            a
        }
    } else if bind.ip().is_unspecified() {
        let ip = if bind.is_ipv6() {
            std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
        } else {
            std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST)
        };
        SocketAddr::new(ip, bind.port())
    } else {
        bind
    };
    let cluster_name = args
        .cluster
        .clone()
        .or_else(|| file.cluster.clone())
        .unwrap_or_else(|| "gossip".into());
    let mut node = NodeConfig::new(id, advertise);
    node.cluster = ClusterId::from_name(&cluster_name);
    node.static_peers = pick_list(&args.peers, file.peers.iter().map(|a| a.0).collect());
    node.bootstrap = pick_list(
        &args.bootstrap,
        file.bootstrap.iter().map(|a| a.0).collect(),
    );
    if let Some(f) = args.fanout.or(file.fanout.map(|f| f.0)) {
        node.fanout = f;
    }
    node.ttl = args.ttl.or(file.ttl);
    if let Some(ttl) = node.ttl.filter(|t| *t > crate::wire::MAX_TTL) {
        return Err(err(format!(
            "ttl {ttl} is above the {} maximum (peers drop such rumors)",
            crate::wire::MAX_TTL
        )));
    }
    if let Some(ms) = args.anti_entropy_ms.or(file.anti_entropy_ms) {
        if ms < 10 {
            return Err(err(format!(
                "anti-entropy interval {ms} ms is below the 10 ms minimum"
            )));
        }
        node.anti_entropy = Duration::from_millis(ms);
    }
    if let Some(strategy) = args.strategy.or(file.strategy.map(|s| s.0)) {
        let fanout = args.fanout.or(file.fanout.map(|f| f.0));
        let ttl = node.ttl;
        strategy.configure(&mut node, None, fanout, ttl);
    }
    let mut resample = Some(Duration::from_secs(10));
    if let Some(secs) = args.resample_secs.or(file.resample_secs) {
        if !secs.is_finite() || secs < 0.0 {
            return Err(err(format!(
                "resample interval {secs} s must be 0 (never) or positive"
            )));
        }
        resample = (secs > 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let drop_rate = args
        .drop_rate
        .or(file.drop_rate.map(|p| p.0))
        .unwrap_or(0.0);
    if !(0.0..=1.0).contains(&drop_rate) {
        return Err(err(format!(
            "--drop-rate {drop_rate} is not a probability between 0 and 1"
        )));
    }
    let delay = args
        .delay_ms
        .or(file.delay_ms.map(|d| (d.0, d.1)))
        .unwrap_or((Duration::ZERO, Duration::ZERO));
    node.fault = FaultConfig { drop_rate, delay };
    let mtu = args.mtu.or(file.mtu.map(|m| m.0)).unwrap_or(DEFAULT_MTU);
    if !(MIN_MTU..=MAX_DATAGRAM).contains(&mtu) {
        return Err(err(format!(
            "--mtu {mtu} is outside {MIN_MTU}..={MAX_DATAGRAM}"
        )));
    }
    node.mtu = mtu;
    if let Some(max) = args.max_peers.or(file.max_peers) {
        node.max_peers = max;
    }
    if let Some(ms) = args.probe_ms.or(file.probe_ms) {
        if ms < 10 {
            return Err(err(format!(
                "probe interval {ms} ms is below the 10 ms minimum"
            )));
        }
        node.probe_interval = Duration::from_millis(ms);
    }
    if let Some(ms) = args.probe_timeout_ms.or(file.probe_timeout_ms) {
        node.probe_timeout = Duration::from_millis(ms.max(1));
    }
    if node.probe_timeout >= node.probe_interval {
        return Err(err(format!(
            "probe timeout {} ms must be shorter than the probe interval {} ms",
            node.probe_timeout.as_millis(),
            node.probe_interval.as_millis()
        )));
    }
    if let Some(mult) = args.suspicion_mult.or(file.suspicion_mult) {
        if !(mult.is_finite() && mult > 0.0) {
            return Err(err(format!("suspicion multiplier {mult} must be positive")));
        }
        node.suspicion_mult = mult;
    }
    if let Some(access) = args.admin_from.or(file.admin_from.map(|a| a.0)) {
        node.admin_from = access;
    }
    if let Some(bytes) = args.max_value_bytes.or(file.max_value_bytes) {
        node.max_value_bytes = bytes;
    }
    if let Some(bytes) = args.max_state_bytes.or(file.max_state_bytes) {
        node.max_state_bytes = bytes;
    }
    if let Some(secs) = args.tombstone_grace_secs.or(file.tombstone_grace_secs) {
        if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
            return Err(err(format!("tombstone grace {secs} s must be positive")));
        }
        node.tombstone_grace = Duration::from_secs_f64(secs);
    }
    if let Some(rate) = args.max_origin_rate.or(file.max_origin_rate) {
        if !(rate.is_finite() && rate >= 0.0) {
            return Err(err(format!(
                "max origin rate {rate} must be 0 (no limit) or a positive number of changes a second"
            )));
        }
        node.origin_rate = crate::core::throttle::OriginRate::per_second(rate);
    }
    if let Some(ms) = args.diffusion.or(file.diffusion_ms) {
        if !(ms.is_finite() && (0.0..=60_000.0).contains(&ms)) {
            return Err(err(format!(
                "diffusion mean {ms} ms must be between 0 (off) and 60000"
            )));
        }
        node.diffusion = (ms > 0.0).then(|| Duration::from_secs_f64(ms / 1000.0));
    }
    node.check_state_limits().map_err(err)?;
    let key_file = args
        .cluster_key_file
        .clone()
        .or_else(|| file.cluster_key_file.clone());
    if let Some(path) = &key_file {
        node.keyring = Some(std::sync::Arc::new(load_keyring(path).map_err(err)?));
    }
    let trusted_keys = args.trusted_keys.clone().or_else(|| file.trusted_keys.clone());
    let trust = args.trust.or(file.trust.map(|t| t.0));
    node.trust.mode = match (trust, &trusted_keys) {
        (Some(mode), None) => mode,
        (None | Some(TrustMode::Allowlist), Some(_)) => TrustMode::Allowlist,
        (Some(mode), Some(_)) => {
            return Err(err(format!(
                "--trusted-keys lists the keys of --trust allowlist; with --trust {mode} it would be ignored"
            )))
        }
        (None, None) => TrustMode::Open,
    };
    match &trusted_keys {
        Some(path) => {
            let allowed = crate::runtime::identity::read_trusted_keys(path).map_err(err)?;
            node.trust.allowed = std::sync::Arc::new(allowed);
        }
        None if node.trust.mode == TrustMode::Allowlist => {
            return Err(err(
                "--trust allowlist needs --trusted-keys FILE: the public keys it accepts, one per line".into(),
            ))
        }
        None => {}
    }
    Ok(NodeSettings {
        resample,
        key_file,
        bind,
        node,
        books: args.books.clone().or_else(|| file.books.clone()),
        log: args.log.or(file.log).unwrap_or(LogFormat::Pretty),
        seed: args.seed.or(file.seed),
        config_path: args.config.clone(),
        cluster_name,
        data_dir: args.data_dir.clone().or_else(|| file.data_dir.clone()),
        explicit_id,
        identity_file: args.identity_file.clone().or_else(|| file.identity_file.clone()),
        trusted_keys,
    })
}

/// Reads a cluster key file (see `wire::Keyring::parse` for the format).
pub fn load_keyring(path: &std::path::Path) -> Result<crate::wire::Keyring, String> {
    crate::api::load_keyring(path).map_err(|e| e.to_string())
}

/// Flags replace the file's list rather than adding to it, like every other option.
fn pick_list(flags: &[SocketAddr], file: Vec<SocketAddr>) -> Vec<SocketAddr> {
    if flags.is_empty() {
        file
    } else {
        flags.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> NodeArgs {
        NodeArgs::default()
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let file = FileConfig::parse("bind = 7000\nfanout = 2\nttl = 5\npeers = [7001]\n").unwrap();
        let mut a = args();
        a.ttl = Some(9);
        let s = resolve(&a, &file).unwrap();
        assert_eq!(s.node.id.as_str(), "n7000");
        assert_eq!(s.node.fanout, Fanout::Count(2));
        assert_eq!(s.node.ttl, Some(9));
        assert_eq!(s.node.static_peers, vec!["127.0.0.1:7001".parse().unwrap()]);
        assert_eq!(s.node.anti_entropy, Duration::from_millis(1000));
    }

    #[test]
    fn a_node_needs_an_address_and_sane_values() {
        assert!(resolve(&args(), &FileConfig::default()).is_err());
        let mut a = args();
        a.port = Some(7000);
        a.drop_rate = Some(2.0);
        assert!(resolve(&a, &FileConfig::default()).is_err());
    }

    #[test]
    fn wildcard_binds_advertise_loopback() {
        let mut a = args();
        a.bind = Some("0.0.0.0:7005".parse().unwrap());
        let s = resolve(&a, &FileConfig::default()).unwrap();
        assert_eq!(s.node.addr, "127.0.0.1:7005".parse().unwrap());
    }
}
