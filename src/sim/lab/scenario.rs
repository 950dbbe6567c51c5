//! What one simulated run is: the graph, the strategy and its knobs, and the faults to inject.
//! Times of faults count from the first update, so "kill 10% at 50 ms" means 50 ms into the
//! news spreading.

use std::str::FromStr;
use std::time::Duration;

use crate::core::Fanout;
use crate::sim::topology;
use crate::sim::Delay;

use crate::core::Strategy;

/// Who starts out knowing whom.
#[derive(Clone, Debug, PartialEq)]
pub enum Topology {
    /// Each node knows K random others (directed).
    RandomOut(usize),
    /// Each node knows between MIN and MAX random others (directed), drawn per node.
    RandomRange(usize, usize),
    /// Everyone knows everyone.
    FullMesh,
    /// Each node knows its two neighbours.
    Ring,
    /// A given graph (from a config directory): node i's static peers.
    Given(Vec<Vec<usize>>),
}

impl Topology {
    /// Node i's peers, for `nodes` nodes.
    pub fn build(&self, nodes: usize, seed: u64) -> Vec<Vec<usize>> {
        match self {
            Topology::RandomOut(k) => topology::random_k_out(nodes, *k, seed),
            Topology::RandomRange(min, max) => {
                topology::random_range_out(nodes, *min, *max, seed)
            }
            Topology::FullMesh => topology::full_mesh(nodes),
            Topology::Ring => topology::ring(nodes),
            Topology::Given(g) => g.clone(),
        }
    }

    /// A short name for tables.
    pub fn label(&self) -> String {
        match self {
            Topology::RandomOut(k) => format!("random-{k}-out"),
            Topology::RandomRange(min, max) => format!("random-{min}..{max}-out"),
            Topology::FullMesh => "full-mesh".into(),
            Topology::Ring => "ring".into(),
            Topology::Given(g) => format!("config ({} nodes)", g.len()),
        }
    }
}

/// How many nodes a kill takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Amount {
    Count(usize),
    /// A fraction of the nodes alive at that moment.
    Fraction(f64),
}

/// Kill some random nodes (never the origin) at a time after the first update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Kill {
    pub at: Duration,
    pub amount: Amount,
}

impl FromStr for Kill {
    type Err = String;
    /// `MS:COUNT` or `MS:PERCENT%`, e.g. `0:10%` or `250:30`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a kill: use MS:COUNT or MS:PERCENT% (e.g. 100:10%)");
        let (at, amount) = s.split_once(':').ok_or_else(bad)?;
        let at = parse_ms(at).ok_or_else(bad)?;
        let amount = match amount.trim().strip_suffix('%') {
            Some(p) => {
                let p: f64 = p.trim().parse().map_err(|_| bad())?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(bad());
                }
                Amount::Fraction(p / 100.0)
            }
            None => Amount::Count(amount.trim().parse().map_err(|_| bad())?),
        };
        Ok(Kill { at, amount })
    }
}

/// Split the network in two at `split` and heal it at `heal` (times after the first update).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Partition {
    pub split: Duration,
    pub heal: Option<Duration>,
    /// Share of the nodes on the origin's side.
    pub fraction: f64,
}

impl FromStr for Partition {
    type Err = String;
    /// `SPLIT..HEAL` or `SPLIT..` (never heals), in milliseconds.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a partition: use SPLIT_MS..HEAL_MS (e.g. 0..2000)");
        let (split, heal) = s.split_once("..").ok_or_else(bad)?;
        let split = parse_ms(split).ok_or_else(bad)?;
        let heal = if heal.trim().is_empty() {
            None
        } else {
            Some(parse_ms(heal).ok_or_else(bad)?)
        };
        if heal.is_some_and(|h| h < split) {
            return Err(format!("partition `{s}` heals before it splits"));
        }
        Ok(Partition {
            split,
            heal,
            fraction: 0.5,
        })
    }
}

fn parse_ms(s: &str) -> Option<Duration> {
    let v: f64 = s.trim().trim_end_matches("ms").parse().ok()?;
    (0.0..=86_400_000.0)
        .contains(&v)
        .then(|| Duration::from_secs_f64(v / 1000.0))
}

/// One run of the lab.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub nodes: usize,
    pub topology: Topology,
    pub strategy: Strategy,
    /// None: the strategy's default (all for flood, 1 for the round-based models, auto for
    /// the node's default).
    pub fanout: Option<Fanout>,
    /// Hops for flood and default; rounds of pushing for push. None: sized for N.
    pub ttl: Option<u8>,
    /// Round length: anti-entropy interval and push round.
    pub interval: Duration,
    pub loss: f64,
    pub delay: Delay,
    pub kills: Vec<Kill>,
    pub partition: Option<Partition>,
    pub seed: u64,
    /// Updates made at the origin (node 0, or a random live node each when `random_origin`),
    /// `update_every` apart.
    pub updates: usize,
    pub random_origin: bool,
    pub update_every: Duration,
    /// Give up this long after the first update.
    pub max_time: Duration,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            nodes: 1000,
            topology: Topology::RandomOut(4),
            strategy: Strategy::Default,
            fanout: None,
            ttl: None,
            interval: Duration::from_millis(200),
            loss: 0.0,
            delay: Delay::Uniform(Duration::from_micros(200), Duration::from_micros(800)),
            kills: Vec::new(),
            partition: None,
            seed: 1,
            updates: 1,
            random_origin: false,
            update_every: Duration::from_millis(1000),
            max_time: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kills_and_partitions_parse() {
        assert_eq!(
            "100:10%".parse::<Kill>(),
            Ok(Kill {
                at: Duration::from_millis(100),
                amount: Amount::Fraction(0.1)
            })
        );
        assert_eq!(
            "0:3".parse::<Kill>().map(|k| k.amount),
            Ok(Amount::Count(3))
        );
        assert!("10%".parse::<Kill>().is_err());
        assert!("5:150%".parse::<Kill>().is_err());
        let p: Partition = "50..2000".parse().unwrap();
        assert_eq!(p.heal, Some(Duration::from_secs(2)));
        assert_eq!("0..".parse::<Partition>().map(|p| p.heal), Ok(None));
        assert!("2000..50".parse::<Partition>().is_err());
    }
}
