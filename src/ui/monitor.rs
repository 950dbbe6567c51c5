//! The logic of `gossip top`: from one round of status reports, which node holds what, and
//! when each origin's newest version became *committed* — held by every live node.
//!
//! Latency needs no synchronised clocks: each report says how long ago the node learned an
//! origin's newest version (`age_ms`), so with the moment we polled it we know when it learned
//! it on our own clock. Birth is when the origin itself made the change (its own `age_ms`);
//! commit is when the last live node learned it.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use serde::Serialize;

use crate::config::{book_in, own_book};
use crate::wire::{MemberState, StatusReport};

/// One node as `top` sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    pub addr: SocketAddr,
    pub id: Option<String>,
    pub reachable: bool,
    pub book: Option<String>,
    pub version: u64,
    pub alive: usize,
    pub suspect: usize,
    pub dead: usize,
    pub left: usize,
    pub origins: usize,
    /// Origins for which this node does not hold the newest version seen anywhere.
    pub behind: usize,
    /// Bytes of keys and values the node holds, every origin's together.
    pub state_bytes: u64,
    /// Large values it is fetching right now.
    pub fetching: u64,
}

/// One origin across the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OriginRow {
    pub origin: String,
    pub version: u64,
    pub book: Option<String>,
    /// Live nodes holding `version` or newer.
    pub holders: usize,
    pub live: usize,
    pub committed: bool,
    /// Birth-to-commit time of the last version we saw committed, if measured.
    pub commit_ms: Option<u64>,
    /// How long the newest version has existed without being committed yet.
    pub unconverged_ms: Option<u64>,
}

/// A version that became committed in this round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Commit {
    pub origin: String,
    pub version: u64,
    pub latency_ms: Option<u64>,
}

/// One round's view: what `top --json` prints per line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub time_ms: u64,
    pub nodes: Vec<NodeRow>,
    pub origins: Vec<OriginRow>,
    pub commits: Vec<Commit>,
}

/// A status report, or none, and when (ms on the monitor's clock) it was taken.
pub struct Polled {
    pub addr: SocketAddr,
    pub at_ms: u64,
    pub report: Option<StatusReport>,
}

/// Remembers what was committed, to report each commit once.
#[derive(Debug, Default)]
pub struct Monitor {
    committed: HashMap<String, (u64, Option<u64>)>,
    primed: bool,
}

impl Monitor {
    /// Folds one polling round into a snapshot.
    pub fn observe(&mut self, now_ms: u64, polled: &[Polled]) -> Snapshot {
        let live: Vec<(&Polled, &StatusReport)> = polled
            .iter()
            .filter_map(|p| p.report.as_ref().map(|r| (p, r)))
            .collect();
        // Newest version of every origin anywhere, and the origin's own report of it.
        let mut newest: BTreeMap<&str, (u64, Option<String>)> = BTreeMap::new();
        for (_, r) in &live {
            for k in &r.known {
                let e = newest.entry(k.origin.as_str()).or_insert((0, None));
                if k.version > e.0 || e.1.is_none() {
                    e.0 = e.0.max(k.version);
                    e.1 = book_in(&k.values).map(str::to_string);
                }
            }
        }
        let held = |r: &StatusReport, origin: &str| {
            r.known
                .iter()
                .find(|k| k.origin == origin)
                .map(|k| (k.version, k.age_ms))
        };
        let mut origins = Vec::new();
        let mut commits = Vec::new();
        for (origin, (version, book)) in &newest {
            let holders = live
                .iter()
                .filter(|(_, r)| held(r, origin).is_some_and(|(v, _)| v >= *version))
                .count();
            let birth = live
                .iter()
                .find(|(_, r)| r.id == *origin)
                .and_then(|(p, r)| held(r, origin).map(|(_, age)| p.at_ms.saturating_sub(age)));
            let committed = holders == live.len() && !live.is_empty();
            let learned_last = live
                .iter()
                .filter_map(|(p, r)| held(r, origin).map(|(_, age)| p.at_ms.saturating_sub(age)))
                .max();
            let latency = match (birth, learned_last) {
                (Some(b), Some(l)) => Some(l.saturating_sub(b)),
                _ => None,
            };
            let previous = self.committed.get(*origin).copied();
            if committed && previous.is_none_or(|(v, _)| v < *version) {
                self.committed
                    .insert(origin.to_string(), (*version, latency));
                if self.primed {
                    commits.push(Commit {
                        origin: origin.to_string(),
                        version: *version,
                        latency_ms: latency,
                    });
                }
            }
            origins.push(OriginRow {
                origin: origin.to_string(),
                version: *version,
                book: book.clone(),
                holders,
                live: live.len(),
                committed,
                commit_ms: self.committed.get(*origin).and_then(|(_, l)| *l),
                unconverged_ms: (!committed)
                    .then(|| birth.map(|b| now_ms.saturating_sub(b)))
                    .flatten(),
            });
        }
        self.primed = true;
        let nodes = polled
            .iter()
            .map(|p| match &p.report {
                None => NodeRow {
                    addr: p.addr,
                    id: None,
                    reachable: false,
                    book: None,
                    version: 0,
                    alive: 0,
                    suspect: 0,
                    dead: 0,
                    left: 0,
                    origins: 0,
                    behind: 0,
                    state_bytes: 0,
                    fetching: 0,
                },
                Some(r) => NodeRow {
                    addr: p.addr,
                    id: Some(r.id.clone()),
                    reachable: true,
                    book: own_book(r).map(str::to_string),
                    version: r.version,
                    alive: r.members_in(MemberState::Alive),
                    suspect: r.members_in(MemberState::Suspect),
                    dead: r.members_in(MemberState::Dead),
                    left: r.members_in(MemberState::Left),
                    origins: r.known.len(),
                    behind: newest
                        .iter()
                        .filter(|(o, (v, _))| held(r, o).is_none_or(|(h, _)| h < *v))
                        .count(),
                    state_bytes: r.state_bytes,
                    fetching: r.fetching,
                },
            })
            .collect();
        Snapshot {
            time_ms: now_ms,
            nodes,
            origins,
            commits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::KnownOrigin;
    use std::collections::BTreeMap as Map;

    fn report(id: &str, known: &[(&str, u64, u64)]) -> StatusReport {
        StatusReport {
            id: id.into(),
            addr: "127.0.0.1:1".parse().unwrap(),
            version: 1,
            uptime_ms: 0,
            incarnation: 0,
            health: 0,
            fanout: "auto".into(),
            ttl: 3,
            peers: vec![],
            known: known
                .iter()
                .map(|(o, v, age)| KnownOrigin {
                    origin: o.to_string(),
                    addr: "127.0.0.1:1".parse().unwrap(),
                    version: *v,
                    age_ms: *age,
                    learned_unix_us: 0,
                    hops: 1,
                    route: "rumor".into(),
                    via: None,
                    values: Map::new(),
                    state_bytes: 0,
                })
                .collect(),
            counters: Map::new(),
            state_bytes: 0,
            fetching: 0,
            fetching_bytes: 0,
            recent: vec![],
            partition: None,
            identity: None,
            trust: "open".into(),
            pinned_keys: 0,
        }
    }

    fn polled(at_ms: u64, r: StatusReport) -> Polled {
        Polled {
            addr: "127.0.0.1:1".parse().unwrap(),
            at_ms,
            report: Some(r),
        }
    }

    #[test]
    fn a_version_commits_when_every_live_node_holds_it_and_latency_is_birth_to_last_learner() {
        let mut m = Monitor::default();
        // Round 1: a is at v1 everywhere (baseline, not reported as a new commit).
        let round1 = vec![
            polled(1000, report("a", &[("a", 1, 500)])),
            polled(1000, report("b", &[("a", 1, 400)])),
        ];
        let s = m.observe(1000, &round1);
        assert!(s.commits.is_empty());
        assert!(s.origins[0].committed);
        // Round 2: a made v2 300 ms ago; b does not have it yet.
        let round2 = vec![
            polled(2000, report("a", &[("a", 2, 300)])),
            polled(2000, report("b", &[("a", 1, 1400)])),
        ];
        let s = m.observe(2000, &round2);
        assert!(!s.origins[0].committed);
        assert_eq!(s.origins[0].holders, 1);
        assert_eq!(s.origins[0].unconverged_ms, Some(300));
        assert_eq!(s.nodes[1].behind, 1);
        // Round 3: b learned v2 at 1743 ms on our clock (polled at 2500, 757 ms ago); a made
        // it at 1700 → committed in 43 ms.
        let round3 = vec![
            polled(2500, report("a", &[("a", 2, 800)])),
            polled(2500, report("b", &[("a", 2, 757)])),
        ];
        let s = m.observe(2500, &round3);
        assert_eq!(
            s.commits,
            vec![Commit {
                origin: "a".into(),
                version: 2,
                latency_ms: Some(43)
            }]
        );
        // Reported once.
        assert!(m.observe(2600, &round3).commits.is_empty());
    }
}
