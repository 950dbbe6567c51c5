//! Runs one scenario: builds the cluster, lets it settle, makes the updates at node 0, injects
//! the faults on schedule, and follows every node's `Learned` events to time the spread.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::core::{Event, Route, RumorMode, Strategy, SyncMode, Time};
use crate::sim::{build, sim_id, NetConfig, SimNet};
use crate::wire::{MessageKind, NodeId};

use super::outcome::{CoveragePoint, Outcome, VersionCommit};
use super::scenario::{Amount, Scenario};

/// Virtual time the cluster runs before the first update (startup traffic is not counted).
const WARMUP: Duration = Duration::from_millis(50);
/// Warm-up for the broadcast tree: long enough for every node's view to be drawn.
const TREE_WARMUP: Duration = Duration::from_millis(1000);

/// Points in the coverage curve.
const CURVE_POINTS: usize = 200;

/// The origin of every update.
const ORIGIN: usize = 0;

/// Key the updates set.
const KEY: &str = "news";

/// When a node first held an update (time since the update) and by how many relay hops
/// (None when anti-entropy brought it).
type Arrival = (Duration, Option<u8>);

/// First arrival of each update at each node.
struct Tracker {
    /// Origin and version of update k, and when it was made.
    updates: Vec<(NodeId, u64, Time)>,
    /// arrivals[k][i]
    arrivals: Vec<Vec<Option<Arrival>>>,
}

impl Tracker {
    fn on_event(&mut self, node: usize, now: Time, event: &Event) {
        let Event::Learned {
            origin,
            version,
            route,
            ..
        } = event
        else {
            return;
        };
        let hops = match route {
            Route::Rumor { hops } => Some(*hops),
            _ => None,
        };
        for (k, (by, v, at)) in self.updates.iter().enumerate() {
            let (v, at) = (*v, *at);
            if origin == by && *version >= v {
                let slot = &mut self.arrivals[k][node];
                if slot.is_none() {
                    *slot = Some((now.since(at), hops));
                }
            }
        }
    }
}

/// Something scheduled after the first update.
enum Action {
    Update,
    Kill(Amount),
    Split(f64),
    Heal,
}

impl Action {
    fn order(&self) -> u8 {
        match self {
            Action::Kill(_) | Action::Split(_) | Action::Heal => 0,
            Action::Update => 1,
        }
    }
}

/// Runs `scenario` on the virtual clock. `progress` gets the fraction done (0..=1) now and
/// then, for a progress bar.
pub fn run(scenario: &Scenario, progress: &dyn Fn(f64)) -> Outcome {
    let wall = Instant::now();
    let graph = scenario.topology.build(scenario.nodes, scenario.seed);
    let n = graph.len();
    let net = NetConfig {
        loss: scenario.loss,
        delay: scenario.delay,
        uplink: None,
    };
    let mut sim = build(&graph, scenario.seed, net, &[], |_, c| {
        c.learn_peers = false;
        c.anti_entropy = scenario.interval;
        c.dissemination.announce = false;
        if !matches!(scenario.strategy.resolve(), Strategy::Relay | Strategy::Tree) {
            // The textbook models: synchronous rounds, no failure detector.
            c.dissemination.lockstep = true;
            c.dissemination.membership = false;
        }
        scenario
            .strategy
            .configure(c, Some(n), scenario.fanout, scenario.ttl);
    });
    let tracker = Rc::new(RefCell::new(Tracker {
        updates: Vec::new(),
        arrivals: Vec::new(),
    }));
    {
        let tracker = Rc::clone(&tracker);
        sim.on_event(move |node, now, event| tracker.borrow_mut().on_event(node, now, event));
    }
    let (ttl, fanout) = sim.node(ORIGIN).map(knobs).unwrap_or_default();

    // Round-based strategies update right after a round tick, so rounds count cleanly.
    let t0 = if scenario.strategy.in_rounds() {
        let round = scenario.interval.as_micros().max(1) as u64;
        Time::ZERO + Duration::from_micros((WARMUP.as_micros() as u64).div_ceil(round) * round + 1)
    } else if scenario.strategy.resolve() == Strategy::Tree {
        // The tree's views are drawn and grafted on the first timer ticks; the first update
        // then prunes the sparse random graph into a tree (as a real cluster's start-up
        // announcements do before any update of a user's).
        Time::ZERO + TREE_WARMUP
    } else {
        Time::ZERO + WARMUP
    };
    sim.run_until(t0);
    let start = sim.stats();
    let rumors_before = sim.messages_sent(MessageKind::Rumor);
    let announcements_before = sim.messages_sent(MessageKind::IHave);

    let mut actions: Vec<(Time, Action)> = Vec::new();
    for k in 0..scenario.updates.max(1) {
        actions.push((t0 + scenario.update_every * k as u32, Action::Update));
    }
    for kill in &scenario.kills {
        actions.push((t0 + kill.at, Action::Kill(kill.amount)));
    }
    if let Some(p) = scenario.partition {
        actions.push((t0 + p.split, Action::Split(p.fraction)));
        if let Some(heal) = p.heal {
            actions.push((t0 + heal, Action::Heal));
        }
    }
    // At equal times faults come first: `--kill 0:10%` and `--partition 0..` are in place when
    // the update is made, and a heal at the update's time lets it through.
    actions.sort_by_key(|(at, action)| (*at, action.order()));
    let last_action = actions.last().map_or(t0, |(at, _)| *at);
    let deadline = t0 + scenario.max_time;
    let mut rng = SmallRng::seed_from_u64(scenario.seed ^ 0x6b11_1ab5);
    let check = (scenario.interval / 4)
        .max(Duration::from_millis(1))
        .min(Duration::from_millis(50));

    // With background traffic, a run ends this long after full coverage (in-flight relays
    // land and count; the endless probes and exchanges after that would not be the news').
    let grace = scenario.interval.min(Duration::from_millis(100));
    let mut pending = actions.into_iter().peekable();
    let mut done_at: Option<Time> = None;
    loop {
        while let Some((at, _)) = pending.peek() {
            if *at > sim.now() {
                break;
            }
            let Some((_, action)) = pending.next() else {
                break;
            };
            apply(&mut sim, action, &tracker, &mut rng, scenario.random_origin);
        }
        let now = sim.now();
        let scheduled = pending.peek().is_some();
        // One pass over the nodes per check serves both the stop rule and the progress bar.
        let missing = uncovered(&sim, &tracker.borrow());
        if scenario.strategy.has_background() {
            let all_covered = !scheduled && missing == 0;
            match done_at {
                None if all_covered => done_at = Some(now),
                Some(at) if sim.in_flight() == 0 || now.since(at) >= grace => break,
                _ => {}
            }
        } else if !scheduled && quiet(&sim) {
            // Flood and push: all traffic is the news itself; count all of it, to the end.
            break;
        }
        if now >= deadline && now >= last_action {
            break;
        }
        let frac = if done_at.is_some() {
            1.0
        } else {
            let live = sim.live().max(1);
            (live - missing.min(live)) as f64 / live as f64
        };
        progress(frac);
        let mut next = now + check;
        if let Some((at, _)) = pending.peek() {
            next = next.min(*at);
        }
        sim.run_until(next.max(now));
        if sim.now() == now {
            // Guard against a zero-length step (an action due exactly now was just applied).
            sim.run_until(now + Duration::from_micros(1));
        }
    }
    progress(1.0);
    let end = sim.now();
    let stats = sim.stats();
    let tracker = tracker.borrow();
    let sent = Sent {
        rumors: sim.messages_sent(MessageKind::Rumor) - rumors_before,
        announcements: sim.messages_sent(MessageKind::IHave) - announcements_before,
    };
    summarize(scenario, &sim, &tracker, n, ttl, fanout, end.since(t0), sent, {
        let mut s = stats;
        s.sent -= start.sent;
        s.bytes -= start.bytes;
        s.delivered -= start.delivered;
        s.lost -= start.lost;
        s
    })
    .with_wall(wall.elapsed())
}

/// The TTL and fanout as the user means them for this strategy: rounds for push, peers per
/// round for pull and push-pull.
fn knobs(node: &crate::core::Node) -> (Option<u8>, String) {
    let c = node.config();
    let d = &c.dissemination;
    match (d.rumors, d.sync) {
        (RumorMode::Rounds(n), _) => (Some(n), c.fanout.to_string()),
        (RumorMode::Off, _) => (None, d.sync_peers.to_string()),
        (_, SyncMode::Off) | (RumorMode::Relay | RumorMode::Tree, _) => {
            (c.ttl, c.fanout.to_string())
        }
    }
}

fn apply(
    sim: &mut SimNet,
    action: Action,
    tracker: &Rc<RefCell<Tracker>>,
    rng: &mut SmallRng,
    random_origin: bool,
) {
    match action {
        Action::Update => {
            let k = tracker.borrow().updates.len();
            let value = format!("update {}", k + 1);
            let now = sim.now();
            let origin = if random_origin {
                let live: Vec<usize> = (0..sim.len()).filter(|&i| sim.node(i).is_some()).collect();
                rand::seq::IndexedRandom::choose(live.as_slice(), rng)
                    .copied()
                    .unwrap_or(ORIGIN)
            } else {
                ORIGIN
            };
            // Register first: the origin's own Originated event is not a Learned one.
            let version = sim
                .node(origin)
                .map_or(0, |o| o.store().own().watermark + 1);
            {
                let mut t = tracker.borrow_mut();
                t.updates.push((sim_id(origin), version, now));
                let mut row = vec![None; sim.len()];
                row[origin] = Some((Duration::ZERO, Some(0)));
                t.arrivals.push(row);
            }
            sim.set(origin, KEY, &value);
        }
        Action::Kill(amount) => {
            // Never an update's origin (its news must have a source).
            let origins: Vec<NodeId> = tracker
                .borrow()
                .updates
                .iter()
                .map(|(o, ..)| o.clone())
                .collect();
            let mut live: Vec<usize> = (0..sim.len())
                .filter(|&i| i != ORIGIN && !origins.contains(&sim_id(i)) && sim.node(i).is_some())
                .collect();
            let count = match amount {
                Amount::Count(c) => c,
                Amount::Fraction(f) => (f * (live.len() + 1) as f64).round() as usize,
            }
            .min(live.len());
            live.shuffle(rng);
            for &i in &live[..count] {
                sim.kill(i);
            }
        }
        Action::Split(fraction) => {
            let cut = ((sim.len() as f64) * fraction).round() as usize;
            sim.partition((0..sim.len()).map(|i| u8::from(i >= cut)).collect());
        }
        Action::Heal => sim.heal(),
    }
}

/// Nothing in flight and no node with a rumor left to push.
fn quiet(sim: &SimNet) -> bool {
    sim.in_flight() == 0 && sim.nodes().flatten().all(|n| n.pushing() == 0)
}

/// Live nodes still missing some update.
fn uncovered(sim: &SimNet, tracker: &Tracker) -> usize {
    (0..sim.len())
        .filter(|&i| sim.node(i).is_some())
        .filter(|&i| tracker.arrivals.iter().any(|row| row[i].is_none()))
        .count()
}

/// Messages of the news itself the nodes sent during the run.
struct Sent {
    rumors: u64,
    /// Lazy announcements of the broadcast tree (`IHave`).
    announcements: u64,
}

#[allow(clippy::too_many_arguments)]
fn summarize(
    scenario: &Scenario,
    sim: &SimNet,
    tracker: &Tracker,
    n: usize,
    ttl: Option<u8>,
    fanout: String,
    simulated: Duration,
    sent: Sent,
    stats: crate::sim::NetStats,
) -> Outcome {
    let rumors = sent.rumors;
    let live: Vec<usize> = (0..sim.len()).filter(|&i| sim.node(i).is_some()).collect();
    let updates = tracker.updates.len().max(1);
    // Every (live node, update) arrival, ordered by time since its update.
    let mut arrivals: Vec<Arrival> = tracker
        .arrivals
        .iter()
        .flat_map(|row| live.iter().filter_map(|&i| row[i]))
        .collect();
    arrivals.sort_by_key(|(d, _)| *d);
    let total = live.len() * updates;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mark = |pct: f64| -> Option<Arrival> {
        let need = ((pct / 100.0) * total as f64).ceil().max(1.0) as usize;
        arrivals.get(need - 1).copied()
    };
    let rounds = |pct: f64| -> Option<u32> {
        let (d, _) = mark(pct)?;
        if scenario.strategy.in_rounds() {
            return Some(d.as_micros().div_ceil(scenario.interval.as_micros().max(1)) as u32);
        }
        // Relay hops: the farthest a rumor travelled to reach the first pct% (arrivals by
        // anti-entropy carry no hop count and are left out).
        let need = ((pct / 100.0) * total as f64).ceil().max(1.0) as usize;
        arrivals[..need.min(arrivals.len())]
            .iter()
            .filter_map(|(_, h)| h.map(u32::from))
            .max()
    };
    let coverage = curve(&arrivals, total);
    let needed = total.saturating_sub(updates); // the origin never needed the news
    let commits = tracker
        .updates
        .iter()
        .zip(&tracker.arrivals)
        .map(|((origin, version, _), row)| VersionCommit {
            origin: origin.to_string(),
            version: *version,
            commit_ms: live
                .iter()
                .map(|&i| row[i].map(|(d, _)| d))
                .try_fold(Duration::ZERO, |m, d| d.map(|d| m.max(d)))
                .map(ms),
        })
        .collect();
    Outcome {
        nodes: n,
        live: live.len(),
        strategy: scenario.strategy.to_string(),
        topology: scenario.topology.label(),
        fanout,
        ttl,
        loss: scenario.loss,
        seed: scenario.seed,
        origin: if scenario.random_origin {
            "random".into()
        } else {
            sim_id(ORIGIN).to_string()
        },
        coverage_pct: 100.0 * arrivals.len() as f64 / total.max(1) as f64,
        time_to_50_ms: mark(50.0).map(|(d, _)| ms(d)),
        time_to_99_ms: mark(99.0).map(|(d, _)| ms(d)),
        time_to_100_ms: mark(100.0).map(|(d, _)| ms(d)),
        rounds_to_50: rounds(50.0),
        rounds_to_99: rounds(99.0),
        rounds_to_100: rounds(100.0),
        datagrams: stats.sent,
        bytes: stats.bytes,
        datagrams_per_node: stats.sent as f64 / n.max(1) as f64,
        bytes_per_node: stats.bytes as f64 / n.max(1) as f64,
        redundancy: (needed > 0).then(|| stats.delivered as f64 / needed as f64 - 1.0),
        rumor_datagrams: rumors,
        rmr: (needed > 0 && rumors > 0).then(|| rumors as f64 / needed as f64 - 1.0),
        announcements: sent.announcements,
        lost: stats.lost,
        commits,
        coverage,
        simulated_ms: ms(simulated),
        wall_ms: 0.0,
        peak_rss_bytes: peak_rss_bytes(),
    }
}

/// At most [`CURVE_POINTS`] points of (time, % covered), always including the last arrival.
fn curve(arrivals: &[Arrival], total: usize) -> Vec<CoveragePoint> {
    if arrivals.is_empty() || total == 0 {
        return Vec::new();
    }
    let step = arrivals.len().div_ceil(CURVE_POINTS).max(1);
    let mut points: Vec<CoveragePoint> = arrivals
        .iter()
        .enumerate()
        .filter(|(i, _)| (i + 1) % step == 0 || i + 1 == arrivals.len())
        .map(|(i, (d, _))| CoveragePoint {
            ms: d.as_secs_f64() * 1000.0,
            pct: 100.0 * (i + 1) as f64 / total as f64,
        })
        .collect();
    points.insert(0, CoveragePoint { ms: 0.0, pct: 0.0 });
    points
}

impl Outcome {
    fn with_wall(mut self, wall: Duration) -> Self {
        self.wall_ms = wall.as_secs_f64() * 1000.0;
        self
    }
}

/// Peak resident set size of this process (Linux `VmHWM`); None elsewhere.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
