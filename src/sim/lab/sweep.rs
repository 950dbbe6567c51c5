//! Parameter sweeps: `--sweep fanout=1..8 --sweep strategy=push,push-pull` is the grid of every
//! combination, run in parallel on every core (each run is single-threaded and deterministic,
//! so the results do not depend on the number of cores).

use std::fmt;
use std::str::FromStr;

use rayon::prelude::*;

use crate::core::Fanout;

use super::outcome::Outcome;
use super::scenario::{Scenario, Topology};
use crate::core::Strategy;

/// A parameter a sweep can vary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    Fanout,
    Ttl,
    Loss,
    Strategy,
    Nodes,
    Peers,
    Seed,
}

impl Axis {
    const NAMES: [(&'static str, Axis); 7] = [
        ("fanout", Axis::Fanout),
        ("ttl", Axis::Ttl),
        ("loss", Axis::Loss),
        ("strategy", Axis::Strategy),
        ("nodes", Axis::Nodes),
        ("peers", Axis::Peers),
        ("seed", Axis::Seed),
    ];

    /// Checks `value` and writes it into `scenario`.
    pub fn apply(self, value: &str, scenario: &mut Scenario) -> Result<(), String> {
        let bad = |e: String| format!("{self}={value}: {e}");
        match self {
            Axis::Fanout => scenario.fanout = Some(value.parse::<Fanout>().map_err(bad)?),
            Axis::Ttl => {
                let ttl: u8 = value.parse().map_err(|_| bad("not a TTL (1-64)".into()))?;
                if ttl == 0 || ttl > crate::wire::MAX_TTL {
                    return Err(bad("TTL must be 1-64".into()));
                }
                scenario.ttl = Some(ttl);
            }
            Axis::Loss => {
                let loss: f64 = value.parse().map_err(|_| bad("not a number".into()))?;
                if !(0.0..1.0).contains(&loss) {
                    return Err(bad("loss must be in [0, 1)".into()));
                }
                scenario.loss = loss;
            }
            Axis::Strategy => scenario.strategy = value.parse::<Strategy>().map_err(bad)?,
            Axis::Nodes => {
                scenario.nodes = value
                    .parse()
                    .ok()
                    .filter(|&n| n >= 2)
                    .ok_or_else(|| bad("nodes must be a number ≥ 2".into()))?
            }
            Axis::Peers => {
                let k: usize = value.parse().map_err(|_| bad("not a number".into()))?;
                scenario.topology = Topology::RandomOut(k);
            }
            Axis::Seed => scenario.seed = value.parse().map_err(|_| bad("not a seed".into()))?,
        }
        Ok(())
    }
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Axis::NAMES
            .iter()
            .find(|(_, a)| a == self)
            .map_or("?", |(n, _)| n);
        f.write_str(name)
    }
}

/// One swept parameter and the values it takes.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    pub axis: Axis,
    pub values: Vec<String>,
}

impl FromStr for Sweep {
    type Err = String;
    /// `NAME=A..B` (integers, inclusive), `NAME=A..B:STEP` (numbers) or `NAME=V1,V2,…`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, values) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` is not a sweep: use NAME=A..B or NAME=V1,V2"))?;
        let axis = Axis::NAMES
            .iter()
            .find(|(n, _)| *n == name.trim())
            .map(|(_, a)| *a)
            .ok_or_else(|| {
                format!(
                    "cannot sweep `{name}`: use fanout, ttl, loss, strategy, nodes, peers or seed"
                )
            })?;
        let values = expand(values.trim()).map_err(|e| format!("{s}: {e}"))?;
        // Check every value now, so a typo fails before hours of runs.
        let mut probe = Scenario::default();
        for v in &values {
            axis.apply(v, &mut probe)?;
        }
        Ok(Sweep { axis, values })
    }
}

fn expand(values: &str) -> Result<Vec<String>, String> {
    let Some((lo, rest)) = values.split_once("..") else {
        let list: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        return if list.is_empty() {
            Err("no values".into())
        } else {
            Ok(list)
        };
    };
    let (hi, step) = match rest.split_once(':') {
        Some((hi, step)) => (hi, Some(step)),
        None => (rest, None),
    };
    match step {
        None => {
            let (lo, hi): (u64, u64) = (
                lo.trim()
                    .parse()
                    .map_err(|_| "range bounds must be integers")?,
                hi.trim()
                    .parse()
                    .map_err(|_| "range bounds must be integers")?,
            );
            if hi < lo || hi - lo > 1000 {
                return Err("range must be ascending and at most 1000 long".into());
            }
            Ok((lo..=hi).map(|v| v.to_string()).collect())
        }
        Some(step) => {
            let num = |t: &str| {
                t.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("`{t}` is not a number"))
            };
            let (lo, hi, step) = (num(lo)?, num(hi)?, num(step)?);
            if step <= 0.0 || hi < lo || (hi - lo) / step > 1000.0 {
                return Err("need lo ≤ hi and a positive step giving at most 1000 values".into());
            }
            let count = ((hi - lo) / step + 1e-9).floor() as usize + 1;
            Ok((0..count)
                .map(|i| format!("{}", ((lo + step * i as f64) * 1e9).round() / 1e9))
                .collect())
        }
    }
}

/// The values of every swept axis in one grid cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting(pub Vec<(Axis, String)>);

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(a, v)| format!("{a}={v}")).collect();
        f.write_str(&parts.join(" "))
    }
}

impl Setting {
    /// How a run is labelled in a plot's legend: its settings, or `otherwise` outside a sweep.
    pub fn label_or(&self, otherwise: &str) -> String {
        if self.0.is_empty() {
            otherwise.to_string()
        } else {
            self.to_string()
        }
    }
}

/// One row of a sweep's JSON: the cell's settings (`setting`), then what it measured.
#[derive(serde::Serialize)]
pub struct SweepRow<'a, T: serde::Serialize> {
    pub setting: serde_json::Map<String, serde_json::Value>,
    #[serde(flatten)]
    pub measured: &'a T,
}

/// The JSON rows of a sweep's results, in grid order.
pub fn sweep_rows<T: serde::Serialize>(results: &[(Setting, T)]) -> Vec<SweepRow<'_, T>> {
    results
        .iter()
        .map(|(s, measured)| SweepRow {
            setting: s
                .0
                .iter()
                .map(|(a, v)| (a.to_string(), serde_json::Value::String(v.clone())))
                .collect(),
            measured,
        })
        .collect()
}

/// Every combination of the sweeps' values, first sweep outermost.
pub fn grid(sweeps: &[Sweep]) -> Vec<Setting> {
    sweeps
        .iter()
        .fold(vec![Setting(Vec::new())], |cells, sweep| {
            cells
                .into_iter()
                .flat_map(|cell| {
                    sweep.values.iter().map(move |v| {
                        let mut next = cell.0.clone();
                        next.push((sweep.axis, v.clone()));
                        Setting(next)
                    })
                })
                .collect()
        })
}

/// Runs `base` once per grid cell, in parallel; results come back in grid order. `done` is
/// called once per finished run (from worker threads).
pub fn run_grid(
    base: &Scenario,
    sweeps: &[Sweep],
    done: &(dyn Fn() + Sync),
) -> Result<Vec<(Setting, Outcome)>, String> {
    let cells = grid(sweeps);
    let scenarios = cells
        .iter()
        .map(|cell| {
            let mut s = base.clone();
            for (axis, value) in &cell.0 {
                axis.apply(value, &mut s)?;
            }
            Ok(s)
        })
        .collect::<Result<Vec<_>, String>>()?;
    let outcomes: Vec<Outcome> = scenarios
        .par_iter()
        .map(|s| {
            let o = super::run(s, &|_| {});
            done();
            o
        })
        .collect();
    Ok(cells.into_iter().zip(outcomes).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_parse_ranges_steps_and_lists() {
        let s: Sweep = "fanout=1..4".parse().unwrap();
        assert_eq!(s.values, ["1", "2", "3", "4"]);
        let s: Sweep = "loss=0..0.3:0.1".parse().unwrap();
        assert_eq!(s.values, ["0", "0.1", "0.2", "0.3"]);
        let s: Sweep = "strategy=push,push-pull".parse().unwrap();
        assert_eq!(s.axis, Axis::Strategy);
        assert!("strategy=push,shout".parse::<Sweep>().is_err());
        assert!("colour=1..3".parse::<Sweep>().is_err());
        assert!("ttl=0..3".parse::<Sweep>().is_err());
    }

    #[test]
    fn grid_is_the_cartesian_product_in_order() {
        let a: Sweep = "fanout=1..2".parse().unwrap();
        let b: Sweep = "strategy=push,pull".parse().unwrap();
        let cells: Vec<String> = grid(&[a, b]).iter().map(|c| c.to_string()).collect();
        assert_eq!(
            cells,
            [
                "fanout=1 strategy=push",
                "fanout=1 strategy=pull",
                "fanout=2 strategy=push",
                "fanout=2 strategy=pull"
            ]
        );
    }
}
