//! The simulation lab against the theory of epidemic dissemination (means over seeds, loose
//! bounds), and the lab's own promises: determinism, faults on schedule, repair.

use std::time::Duration;

use gossip::core::Fanout;
use gossip::sim::lab::{self, Amount, Kill, Outcome, Partition, Scenario, Strategy, Topology};

const N: usize = 1000;
const SEEDS: [u64; 4] = [1, 2, 3, 4];

fn scenario(strategy: Strategy, topology: Topology) -> Scenario {
    Scenario {
        nodes: N,
        topology,
        strategy,
        interval: Duration::from_millis(100),
        ..Scenario::default()
    }
}

fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.into_iter().collect();
    v.iter().sum::<f64>() / v.len() as f64
}

fn runs(base: &Scenario) -> Vec<Outcome> {
    SEEDS
        .iter()
        .map(|&seed| {
            lab::run(
                &Scenario {
                    seed,
                    ..base.clone()
                },
                &|_| {},
            )
        })
        .collect()
}

fn mean_rounds_to_all(outcomes: &[Outcome]) -> f64 {
    mean(outcomes.iter().map(|o| {
        o.rounds_to_100
            .unwrap_or_else(|| panic!("seed {} never reached everyone", o.seed)) as f64
    }))
}

#[test]
fn push_with_fanout_one_on_a_complete_graph_takes_log2_n_plus_ln_n_rounds() {
    let base = Scenario {
        fanout: Some(Fanout::Count(1)),
        ttl: Some(60), // keep pushing: Pittel's model has no counter
        ..scenario(Strategy::Push, Topology::FullMesh)
    };
    let rounds = mean_rounds_to_all(&runs(&base));
    let n = N as f64;
    let theory = n.log2() + n.ln();
    assert!(
        (rounds - theory).abs() <= 3.0,
        "push took {rounds:.1} rounds on average, theory says {theory:.1} ± 3"
    );
}

#[test]
fn push_pull_takes_about_log3_n_rounds() {
    let base = Scenario {
        fanout: Some(Fanout::Count(1)),
        ..scenario(Strategy::PushPull, Topology::FullMesh)
    };
    let rounds = mean_rounds_to_all(&runs(&base));
    let n = N as f64;
    let log3 = n.ln() / 3f64.ln();
    // log3 N + O(log log N): allow up to 2·ln ln N + 2 above log3 N, and nothing below it.
    let upper = log3 + 2.0 * n.ln().ln() + 2.0;
    assert!(
        rounds >= log3 - 0.5 && rounds <= upper,
        "push-pull took {rounds:.1} rounds on average, theory says {log3:.1}..{upper:.1}"
    );
    // And it beats push, which needs log2 N + ln N.
    assert!(rounds < n.log2() + n.ln() - 3.0);
}

#[test]
fn flooding_a_random_4_out_graph_misses_about_e_to_the_minus_4_and_anti_entropy_finds_them() {
    let flood = runs(&scenario(Strategy::Flood, Topology::RandomOut(4)));
    let missed = mean(flood.iter().map(|o| 100.0 - o.coverage_pct));
    let theory = 100.0 * (-4f64).exp(); // the nodes nobody lists as a peer
    assert!(
        (missed - theory).abs() <= 1.0,
        "flooding missed {missed:.2}% of nodes, theory says about {theory:.2}%"
    );
    assert!(flood.iter().all(|o| o.time_to_100_ms.is_none()));
    // The node's default: the same flood, then anti-entropy pulls to the unlisted nodes.
    let repaired = runs(&Scenario {
        fanout: Some(Fanout::All),
        ..scenario(Strategy::Default, Topology::RandomOut(4))
    });
    for o in &repaired {
        assert_eq!(o.coverage_pct, 100.0, "seed {}", o.seed);
        assert!(o.time_to_100_ms.is_some());
    }
}

#[test]
fn same_seed_same_result() {
    let base = Scenario {
        nodes: 300,
        loss: 0.1,
        kills: vec![Kill {
            at: Duration::from_millis(3),
            amount: Amount::Fraction(0.1),
        }],
        ..scenario(Strategy::Default, Topology::RandomOut(4))
    };
    let strip = |mut o: Outcome| {
        o.wall_ms = 0.0;
        o.peak_rss_bytes = None;
        o
    };
    let a = strip(lab::run(&base, &|_| {}));
    let b = strip(lab::run(&base, &|_| {}));
    assert_eq!(a, b);
    let c = strip(lab::run(&Scenario { seed: 9, ..base }, &|_| {}));
    assert_ne!(a.datagrams, c.datagrams, "another seed is another run");
}

#[test]
fn killed_nodes_leave_coverage_of_the_live_ones_whole() {
    let o = lab::run(
        &Scenario {
            nodes: 500,
            kills: vec![Kill {
                at: Duration::ZERO,
                amount: Amount::Fraction(0.2),
            }],
            ..scenario(Strategy::Default, Topology::RandomOut(6))
        },
        &|_| {},
    );
    assert_eq!(o.live, 400);
    assert_eq!(o.coverage_pct, 100.0);
}

#[test]
fn a_partition_holds_the_news_back_until_it_heals() {
    let o = lab::run(
        &Scenario {
            nodes: 200,
            partition: Some(Partition {
                split: Duration::ZERO,
                heal: Some(Duration::from_millis(1500)),
                fraction: 0.5,
            }),
            ..scenario(Strategy::Default, Topology::RandomOut(4))
        },
        &|_| {},
    );
    assert_eq!(o.coverage_pct, 100.0);
    let all = o.time_to_100_ms.expect("heals, then everyone has it");
    assert!(
        all >= 1500.0,
        "the far side cannot hear before the heal ({all} ms)"
    );
    // The near half (100 nodes, the origin's side) had it long before.
    assert!(o.time_to_50_ms.is_some_and(|t| t < 1500.0));
}

#[test]
fn push_pull_survives_heavy_loss_and_several_updates_all_commit() {
    let o = lab::run(
        &Scenario {
            nodes: 300,
            loss: 0.3,
            updates: 3,
            update_every: Duration::from_millis(300),
            ..scenario(Strategy::PushPull, Topology::RandomOut(4))
        },
        &|_| {},
    );
    assert_eq!(o.coverage_pct, 100.0);
    assert_eq!(o.commits.len(), 3);
    assert!(o.commits.iter().all(|c| c.commit_ms.is_some()));
    assert!(o.lost > 0);
}

/// The 100,000-node run of BENCHMARKS.md (a minute in the test profile; seconds in release):
///   cargo test --release --test sim_lab -- --ignored --nocapture
#[test]
#[ignore]
fn one_dissemination_over_100_000_nodes() {
    let o = lab::run(
        &Scenario {
            nodes: 100_000,
            ..Scenario::default()
        },
        &|_| {},
    );
    println!(
        "100k nodes: coverage {}%, t100 {:?} ms, {} datagrams, wall {:.1} s, peak RSS {:?} B",
        o.coverage_pct,
        o.time_to_100_ms,
        o.datagrams,
        o.wall_ms / 1000.0,
        o.peak_rss_bytes
    );
    assert_eq!(o.coverage_pct, 100.0);
}

/// The broadcast tree: after the first update has pruned the random graph, an update costs
/// about one rumor per node, from any origin, and every live node still gets every update
/// under loss and after kills (anti-entropy repairs and grafts).
#[test]
fn the_broadcast_tree_reaches_everyone_with_about_one_rumor_per_node() {
    let base = Scenario {
        nodes: 300,
        updates: 10,
        random_origin: true,
        update_every: Duration::from_millis(1000),
        ..scenario(Strategy::Tree, Topology::FullMesh)
    };
    let calm = lab::run(&base, &|_| {});
    assert_eq!(calm.coverage_pct, 100.0);
    let rmr = calm.rmr.expect("rumors were sent");
    // The first update floods the sparse random graph (3 links per node); the other nine
    // go along the tree. Relaying to ⌈ln N⌉ + 3 random peers instead is an RMR of about 8.
    assert!(rmr < 0.6, "RMR {rmr:.2} ({} rumors)", calm.rumor_datagrams);
    let relay = lab::run(
        &Scenario {
            strategy: Strategy::Relay,
            ..base.clone()
        },
        &|_| {},
    );
    assert!(
        calm.rumor_datagrams * 4 < relay.rumor_datagrams,
        "tree {} vs relay {}",
        calm.rumor_datagrams,
        relay.rumor_datagrams
    );
    // A lost push is repaired by a graft on a lazy announcement a few round trips later
    // (the timers follow the measured round trip: about 1 ms here), so 99% hold each update
    // within tens of milliseconds, long before the next anti-entropy round (a second here).
    // With a fixed 80 ms graft timer this took about 170 ms.
    let lossy = lab::run(
        &Scenario {
            loss: 0.1,
            interval: Duration::from_millis(1000),
            ..base.clone()
        },
        &|_| {},
    );
    assert_eq!(lossy.coverage_pct, 100.0);
    let t99 = lossy.time_to_99_ms.expect("99% reached");
    assert!(t99 < 60.0, "99% after {t99:.1} ms at 10% loss");
    assert!(lossy.announcements > 0);
    for faulty in [
        Scenario {
            loss: 0.1,
            ..base.clone()
        },
        Scenario {
            kills: vec![Kill {
                at: Duration::from_millis(2500),
                amount: Amount::Fraction(0.1),
            }],
            ..base.clone()
        },
    ] {
        let o = lab::run(&faulty, &|_| {});
        assert_eq!(
            o.coverage_pct, 100.0,
            "loss {} kills {:?}",
            faulty.loss, faulty.kills
        );
        assert!(o.commits.iter().all(|c| c.commit_ms.is_some()));
    }
}
