//! The dissemination strategies a user can compare (`gossip sim --strategy`, `gossip swarm
//! --strategy`, `gossip node --strategy`), and how each one sets up the core.

use std::fmt;
use std::str::FromStr;

use super::config::{auto_ttl, Dissemination, Fanout, NodeConfig, RumorMode, SyncMode};

/// How news spreads.
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
    /// Relay at once to `fanout` random peers (⌈ln N⌉ + 3) with a TTL, push-pull
    /// anti-entropy repairing losses, SWIM membership, jittered timers: what `gossip node`
    /// ran before the tree became the default; the fastest under heavy loss.
    Relay,
    /// An epidemic broadcast tree (Plumtree): push along self-pruning eager links (`fanout`
    /// random ones to start, 3 with `auto`), lazy announcements and grafts, push-pull
    /// anti-entropy repairing the rest, SWIM membership, jittered timers.
    Tree,
    /// What `gossip node` runs: the tree ([`Strategy::NODE_DEFAULT`]).
    Default,
}

impl Strategy {
    /// Every strategy, in the order tables list them.
    pub const ALL: [Strategy; 7] = [
        Strategy::Flood,
        Strategy::Push,
        Strategy::Pull,
        Strategy::PushPull,
        Strategy::Relay,
        Strategy::Tree,
        Strategy::Default,
    ];

    /// The strategy `default` stands for.
    pub const NODE_DEFAULT: Strategy = Strategy::Tree;

    /// The strategy itself, with `default` resolved to what it stands for.
    pub fn resolve(self) -> Strategy {
        match self {
            Strategy::Default => Strategy::NODE_DEFAULT,
            s => s,
        }
    }

    /// True when nodes keep talking after the news is everywhere (anti-entropy, probes): such
    /// a run stops at full coverage; the others stop when the network falls quiet.
    pub fn has_background(self) -> bool {
        matches!(
            self.resolve(),
            Strategy::Pull | Strategy::PushPull | Strategy::Relay | Strategy::Tree
        )
    }

    /// True when the strategy works in synchronous rounds (so "rounds" means rounds of the
    /// interval, not relay hops).
    pub fn in_rounds(self) -> bool {
        matches!(
            self.resolve(),
            Strategy::Push | Strategy::Pull | Strategy::PushPull
        )
    }

    /// Sets `config` up for this strategy: how rumors go out and how anti-entropy runs, with
    /// the round length set to the anti-entropy interval. `fanout` and `ttl` are the user's
    /// (None: the strategy's own default). `nodes` is the cluster size when known (the
    /// simulator): TTL and push rounds are sized for it; a real node (None) sizes its TTL from
    /// the members it knows, and pushes for rounds enough for a thousand nodes.
    ///
    /// Failure detection, jittered timers and start-up announcements stay as they are: the
    /// simulator turns them off for the textbook models, a real node keeps them.
    pub fn configure(
        self,
        config: &mut NodeConfig,
        nodes: Option<usize>,
        fanout: Option<Fanout>,
        ttl: Option<u8>,
    ) {
        let sized_ttl = |ttl: Option<u8>| ttl.or(nodes.map(auto_ttl));
        let count = |f: Option<Fanout>| match f {
            Some(Fanout::Count(n)) => n,
            Some(Fanout::All) => usize::MAX,
            _ => 1,
        };
        let base = config.dissemination;
        config.dissemination = match self.resolve() {
            Strategy::Flood => {
                config.fanout = fanout.unwrap_or(Fanout::All);
                config.ttl = sized_ttl(ttl);
                Dissemination {
                    rumors: RumorMode::Relay,
                    sync: SyncMode::Off,
                    ..base
                }
            }
            Strategy::Push => {
                config.fanout = fanout.unwrap_or(Fanout::Count(1));
                // Hops never exceed rounds, so the hop limit only needs to exceed the rounds.
                let n = nodes.unwrap_or(1000);
                let per_round = config.fanout.resolve(n).min(n);
                let rounds = ttl.unwrap_or_else(|| default_push_rounds(n, per_round));
                config.ttl = Some(rounds.saturating_add(1).min(crate::wire::MAX_TTL));
                Dissemination {
                    rumors: RumorMode::Rounds(rounds),
                    sync: SyncMode::Off,
                    ..base
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
                ..base
            },
            Strategy::Tree | Strategy::Default => {
                // `auto` is the tree's view of three links; TTL `auto` allows any depth (a
                // tree's depth is not bounded by log2 N).
                config.fanout = fanout.unwrap_or(Fanout::Auto);
                config.ttl = ttl;
                Dissemination {
                    rumors: RumorMode::Tree,
                    sync: SyncMode::PushPull,
                    sync_peers: 1,
                    ..base
                }
            }
            Strategy::Relay => {
                config.fanout = fanout.unwrap_or(Fanout::Auto);
                // The node sizes TTL from the peers it knows; in a fixed sparse topology that
                // undercounts the cluster, so the simulator sizes it from the real N.
                config.ttl = sized_ttl(ttl);
                Dissemination {
                    rumors: RumorMode::Relay,
                    sync: SyncMode::PushPull,
                    sync_peers: 1,
                    ..base
                }
            }
        };
        config.dissemination.push_interval = config.anti_entropy;
    }

    /// The strategy `dissemination` runs, if it is one of these.
    pub fn of(dissemination: &Dissemination) -> Option<Strategy> {
        match (dissemination.rumors, dissemination.sync) {
            (RumorMode::Relay, SyncMode::Off) => Some(Strategy::Flood),
            (RumorMode::Rounds(_), SyncMode::Off) => Some(Strategy::Push),
            (RumorMode::Off, SyncMode::Pull) => Some(Strategy::Pull),
            (RumorMode::Off, SyncMode::PushPull) => Some(Strategy::PushPull),
            (RumorMode::Relay, SyncMode::PushPull) => Some(Strategy::Relay),
            (RumorMode::Tree, SyncMode::PushPull) => Some(Strategy::Tree),
            _ => None,
        }
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
            Strategy::Relay => "relay",
            Strategy::Tree => "tree",
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
                format!(
                    "unknown strategy `{s}`: use flood, push, pull, push-pull, relay, tree or default"
                )
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
