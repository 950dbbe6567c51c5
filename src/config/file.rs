//! The TOML file model. Unknown keys are errors; values are checked while parsing so a bad one
//! is reported with its line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::core::{AdminAccess, Fanout};
use crate::app::log::LogFormat;
use crate::wire::{MAX_DATAGRAM, MIN_MTU};

use super::addr::{parse_addr, parse_delay};

/// A TOML value users may write as a number or as text (`bind = 7001` or `"127.0.0.1:7001"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText<N> {
    Num(N),
    Text(String),
}

/// An address as written in TOML: `"127.0.0.1:7001"`, `"7001"` or `7001`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "NumOrText<u16>")]
pub struct Addr(pub SocketAddr);

impl TryFrom<NumOrText<u16>> for Addr {
    type Error = String;
    fn try_from(r: NumOrText<u16>) -> Result<Self, String> {
        match r {
            NumOrText::Num(p) => Ok(Addr(SocketAddr::from(([127, 0, 0, 1], p)))),
            NumOrText::Text(s) => parse_addr(&s).map(Addr),
        }
    }
}

/// Fanout as written in TOML: `3`, `"auto"` or `"all"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "NumOrText<usize>")]
pub struct FanoutValue(pub Fanout);

impl TryFrom<NumOrText<usize>> for FanoutValue {
    type Error = String;
    fn try_from(r: NumOrText<usize>) -> Result<Self, String> {
        match r {
            NumOrText::Num(n) => n.to_string().parse().map(FanoutValue),
            NumOrText::Text(s) => s.parse().map(FanoutValue),
        }
    }
}

/// A dissemination strategy as written in TOML: `"default"` (the tree), `"tree"`, `"relay"`,
/// `"flood"`, `"push"`, `"pull"` or `"push-pull"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct StrategyValue(pub crate::core::Strategy);

impl TryFrom<String> for StrategyValue {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse().map(StrategyValue)
    }
}

/// A trust mode as written in TOML: `"open"`, `"tofu"` or `"allowlist"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct TrustValue(pub crate::core::TrustMode);

impl TryFrom<String> for TrustValue {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse().map(TrustValue)
    }
}

/// An advertised address as written in TOML: `"10.0.0.5"` or `"10.0.0.5:7000"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Advertise(pub SocketAddr);

impl TryFrom<String> for Advertise {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        super::addr::parse_advertise(&s).map(Advertise)
    }
}

/// Who may send admin requests: `"loopback"` or `"any"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct AdminFrom(pub AdminAccess);

impl TryFrom<String> for AdminFrom {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse().map(AdminFrom)
    }
}

/// A probability in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct Probability(pub f64);

impl TryFrom<f64> for Probability {
    type Error = String;
    fn try_from(p: f64) -> Result<Self, String> {
        if (0.0..=1.0).contains(&p) {
            Ok(Probability(p))
        } else {
            Err(format!("{p} is not a probability between 0 and 1"))
        }
    }
}

/// A delay range as written in TOML: `20` or `"10..50"` (milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "NumOrText<u64>")]
pub struct Delay(pub Duration, pub Duration);

impl TryFrom<NumOrText<u64>> for Delay {
    type Error = String;
    fn try_from(r: NumOrText<u64>) -> Result<Self, String> {
        match r {
            NumOrText::Num(ms) => Ok(Delay(Duration::from_millis(ms), Duration::from_millis(ms))),
            NumOrText::Text(s) => parse_delay(&s).map(|(a, b)| Delay(a, b)),
        }
    }
}

/// An MTU within what we can honour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "usize")]
pub struct Mtu(pub usize);

impl TryFrom<usize> for Mtu {
    type Error = String;
    fn try_from(m: usize) -> Result<Self, String> {
        if (MIN_MTU..=MAX_DATAGRAM).contains(&m) {
            Ok(Mtu(m))
        } else {
            Err(format!("mtu {m} is outside {MIN_MTU}..={MAX_DATAGRAM}"))
        }
    }
}

/// One node's TOML file. Every field is optional; flags and environment override it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Node id shown everywhere (default `n<port>`).
    pub id: Option<String>,
    /// Address to bind (a bare port means 127.0.0.1).
    pub bind: Option<Addr>,
    /// Cluster name; nodes only talk within one cluster.
    pub cluster: Option<String>,
    /// Static peers, always kept.
    #[serde(default)]
    pub peers: Vec<Addr>,
    /// Bootstrap peers to ask for their peer lists at start.
    #[serde(default)]
    pub bootstrap: Vec<Addr>,
    pub fanout: Option<FanoutValue>,
    pub ttl: Option<u8>,
    pub anti_entropy_ms: Option<u64>,
    pub resample_secs: Option<f64>,
    pub books: Option<PathBuf>,
    pub drop_rate: Option<Probability>,
    pub delay_ms: Option<Delay>,
    pub mtu: Option<Mtu>,
    pub max_peers: Option<usize>,
    pub log: Option<LogFormat>,
    pub seed: Option<u64>,
    pub probe_ms: Option<u64>,
    pub probe_timeout_ms: Option<u64>,
    pub suspicion_mult: Option<f64>,
    /// Directory for the node's state file (restarts continue above their old versions).
    pub data_dir: Option<PathBuf>,
    /// Key file of a keyed cluster (`gossip keygen`): every datagram is encrypted and
    /// authenticated; re-read when it changes (key rotation).
    pub cluster_key_file: Option<PathBuf>,
    /// Who may send admin requests to an unkeyed node: "loopback" (default) or "any".
    pub admin_from: Option<AdminFrom>,
    /// The address peers should use to reach this node, when it differs from `bind`: an IP
    /// (keeping the bound port) or IP:PORT.
    pub advertise: Option<Advertise>,
    /// Largest value this node sets or fetches (default 1 MiB, at most 16 MiB).
    pub max_value_bytes: Option<usize>,
    /// Most bytes one origin's keys and values may hold (default 64 MiB).
    pub max_state_bytes: Option<usize>,
    /// Seconds deleted and expired keys are kept before they are forgotten (default 600).
    pub tombstone_grace_secs: Option<f64>,
    /// How rumors and anti-entropy spread news (default: `default`, see `gossip node --help`).
    pub strategy: Option<StrategyValue>,
    /// The node's ed25519 identity file (`gossip keygen --identity FILE`).
    pub identity_file: Option<PathBuf>,
    /// Whose signatures the node accepts: "open" (default), "tofu" or "allowlist".
    pub trust: Option<TrustValue>,
    /// Public keys an allowlist node accepts, one per line (optionally with the node id).
    pub trusted_keys: Option<PathBuf>,
    /// Changes per second of one origin relayed by rumor (default 20; 0 = no limit).
    pub max_origin_rate: Option<f64>,
    /// Diffusion: mean random delay (ms) of every rumor this node sends (default off).
    pub diffusion_ms: Option<f64>,
}

impl FileConfig {
    /// Reads and parses `path`; the error names the file, line and key.
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<FileConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }
}

/// Every `*.toml` node file in `dir`, parsed, in name order: the cluster a config directory
/// describes (`gossip top` watches it, `gossip sim --config-dir` simulates it).
pub fn node_files(dir: &Path) -> Result<Vec<(PathBuf, FileConfig)>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("no node files in {}", dir.display()));
    }
    paths
        .into_iter()
        .map(|p| FileConfig::load(&p).map(|f| (p, f)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses() {
        let cfg = FileConfig::parse(
            r#"
            id = "n7000"
            bind = 7000
            peers = ["127.0.0.1:7001", 7002]
            fanout = "all"
            drop_rate = 0.3
            delay_ms = "5..20"
            "#,
        )
        .unwrap();
        assert_eq!(cfg.bind, Some(Addr("127.0.0.1:7000".parse().unwrap())));
        assert_eq!(cfg.peers.len(), 2);
        assert_eq!(cfg.fanout, Some(FanoutValue(Fanout::All)));
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_line_and_key() {
        let err = FileConfig::parse("id = \"a\"\nfanoutt = 3\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("fanoutt"), "{err}");
        let err = FileConfig::parse("\n\ndrop_rate = 1.5\n").unwrap_err();
        assert!(
            err.contains("line 3") && err.contains("probability"),
            "{err}"
        );
        let err = FileConfig::parse("peers = [\"nowhere\"]\n").unwrap_err();
        assert!(
            err.contains("line 1") && err.contains("not an address"),
            "{err}"
        );
    }
}
