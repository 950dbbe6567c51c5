//! The dissemination strategies a user can compare, and how each one sets up the real core.

use std::fmt;
use std::str::FromStr;

use crate::core::{Dissemination, Fanout, NodeConfig, RumorMode, SyncMode};

/// How news spreads in a simulated run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// Every node relays to every peer once, on first receipt; nothing repairs losses.
    Flood,
    /// Each informed node pushes to `fanout` random peers every round, for TTL rounds.
    Push,
    /// Each node asks `fanout` random peers every round for what it lacks.
    Pull,
    /// Each node exchanges both ways with `fanout` random peers every round.
    PushPull,
    /// What `gossip node` runs: relay at once with fanout and TTL, push-pull anti-entropy
    /// repairing losses, SWIM membership, jittered timers.
    Default,
}

impl Strategy {
    /// Every strategy, in the order tables list them.
    pub const ALL: [Strategy; 5] = [
        Strategy::Flood,
        Strategy::Push,
        Strategy::Pull,
        Strategy::PushPull,
        Strategy::Default,
    ];

    /// True when nodes keep talking after the news is everywhere (anti-entropy, probes): such
    /// a run stops at full coverage; the others stop when the network falls quiet.
    pub fn has_background(self) -> bool {
        matches!(
            self,
            Strategy::Pull | Strategy::PushPull | Strategy::Default
        )
    }

    /// True when the strategy works in synchronous rounds (so "rounds" means rounds of the
    /// interval, not relay hops).
    pub fn in_rounds(self) -> bool {
        matches!(self, Strategy::Push | Strategy::Pull | Strategy::PushPull)
    }

    /// Sets `config` up for this strategy. `fanout` and `ttl` are the user's (None: the
    /// strategy's own default for a cluster of `nodes`).
    pub fn configure(
        self,
        config: &mut NodeConfig,
        nodes: usize,
        fanout: Option<Fanout>,
        ttl: Option<u8>,
    ) {
        let auto_ttl = crate::core::config::auto_ttl(nodes);
        let count = |f: Option<Fanout>| match f {
            Some(Fanout::Count(n)) => n,
            Some(Fanout::All) => usize::MAX,
            _ => 1,
        };
        let classic = Dissemination {
            lockstep: true,
            membership: false,
            announce: false,
            ..Dissemination::default()
        };
        config.dissemination = match self {
            Strategy::Flood => {
                config.fanout = fanout.unwrap_or(Fanout::All);
                config.ttl = Some(ttl.unwrap_or(auto_ttl));
                Dissemination {
                    rumors: RumorMode::Relay,
                    sync: SyncMode::Off,
                    ..classic
                }
            }
            Strategy::Push => {
                config.fanout = fanout.unwrap_or(Fanout::Count(1));
                // Hops never exceed rounds, so the hop limit only needs to exceed the rounds.
                let per_round = config.fanout.resolve(nodes).min(nodes);
                let rounds = ttl.unwrap_or_else(|| default_push_rounds(nodes, per_round));
                config.ttl = Some(rounds.saturating_add(1).min(crate::wire::MAX_TTL));
                Dissemination {
                    rumors: RumorMode::Rounds(rounds),
                    sync: SyncMode::Off,
                    ..classic
                }
            }
            Strategy::Pull | Strategy::PushPull => Dissemination {
                rumors: RumorMode::Off,
                sync: if self == Strategy::Pull {
                    SyncMode::Pull
                } else {
                    SyncMode::PushPull
                },
                sync_peers: count(fanout),
                ..classic
            },
            Strategy::Default => {
                if let Some(f) = fanout {
                    config.fanout = f;
                }
                // The node sizes TTL from the peers it knows; in a fixed sparse topology that
                // undercounts the cluster, so size it from the real N.
                config.ttl = Some(ttl.unwrap_or(auto_ttl));
                Dissemination {
                    announce: false,
                    ..Dissemination::default()
                }
            }
        };
        config.dissemination.push_interval = config.anti_entropy;
    }
}

/// Rounds an informed node keeps pushing by default: with fanout f, push informs everyone in
/// about log_(1+f) N + ln N / f rounds (Pittel's log2 N + ln N for f = 1); plus a margin for
/// the tail. Every extra round costs f datagrams per node, so the margin stays small.
fn default_push_rounds(nodes: usize, fanout: usize) -> u8 {
    let n = nodes.max(2) as f64;
    let f = fanout.max(1) as f64;
    let rounds = n.ln() / (1.0 + f).ln() + n.ln() / f;
    (rounds.ceil() as usize + 3).min(crate::wire::MAX_TTL as usize) as u8
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Flood => "flood",
            Strategy::Push => "push",
            Strategy::Pull => "pull",
            Strategy::PushPull => "push-pull",
            Strategy::Default => "default",
        })
    }
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|k| k.to_string() == s.trim())
            .ok_or_else(|| {
                format!("unknown strategy `{s}`: use flood, push, pull, push-pull or default")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Strategy::ALL {
            assert_eq!(s.to_string().parse::<Strategy>(), Ok(s));
        }
        assert!("gossip".parse::<Strategy>().is_err());
    }
}
