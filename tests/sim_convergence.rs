//! Convergence on the in-process network: deterministic, virtual time, no sockets.

use std::time::Duration;

use gossip::core::{Fanout, Time};
use gossip::sim::{self, topology, NetConfig};

fn books() -> Vec<String> {
    [
        "Dune",
        "Emma",
        "Ulysses",
        "Beloved",
        "Middlemarch",
        "Persuasion",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn three_nodes_on_a_line_converge() {
    let topo = vec![vec![1], vec![0, 2], vec![1]];
    let mut net = sim::build(&topo, 1, NetConfig::default(), &books(), |_, _| {});
    let at = net.run_until_true(Time::from_millis(10_000), Duration::from_millis(10), |n| {
        n.converged()
    });
    assert!(
        at.is_some(),
        "3 nodes did not converge in 10 s of virtual time"
    );
}

#[test]
fn a_thousand_nodes_on_a_random_4_peer_graph_reach_everyone() {
    let n = 1000;
    let topo = topology::random_k_out(n, 4, 7);
    let mut net = sim::build(&topo, 7, NetConfig::default(), &[], |_, _| {});
    net.run_until(Time::from_millis(5_000));
    let version = net.set(0, "book", "Dune").expect("set");
    let origin = sim::sim_id(0);
    let at = net.run_until_true(Time::from_millis(30_000), Duration::from_millis(5), |s| {
        s.holders(&origin, version) == n
    });
    let at = at.expect("update did not reach all 1000 nodes");
    println!(
        "update reached 1000/1000 at {:?}",
        at - Time::from_millis(5_000)
    );
}

#[test]
fn thirty_percent_drop_on_every_node_still_converges() {
    let n = 30;
    let topo = topology::random_k_out(n, 3, 3);
    let mut net = sim::build(&topo, 3, NetConfig::default(), &books(), |_, c| {
        c.fault.drop_rate = 0.3;
        c.fanout = Fanout::Count(3);
    });
    let at = net.run_until_true(Time::from_millis(60_000), Duration::from_millis(50), |n| {
        n.converged()
    });
    assert!(
        at.is_some(),
        "30% drop on every node: no convergence in 60 s"
    );
    // And a later change still reaches every node despite the losses.
    let version = net.set(17, "color", "blue").expect("set");
    let origin = sim::sim_id(17);
    let deadline = net.now() + Duration::from_secs(30);
    let reached = net.run_until_true(deadline, Duration::from_millis(50), |s| {
        s.holders(&origin, version) == n
    });
    assert!(reached.is_some(), "update lost under 30% drop");
    for node in net.nodes().flatten() {
        let held = node
            .store()
            .get(&origin)
            .and_then(|s| s.values.get("color").cloned());
        assert_eq!(held.and_then(|v| v.value).as_deref(), Some(&b"blue"[..]));
    }
}

#[test]
fn same_seed_gives_an_identical_run() {
    let run = |seed| {
        let topo = topology::random_k_out(50, 3, seed);
        let cfg = NetConfig {
            loss: 0.1,
            ..NetConfig::default()
        };
        let mut net = sim::build(&topo, seed, cfg, &books(), |_, _| {});
        net.run_until(Time::from_millis(20_000));
        let stats = net.stats();
        let books: Vec<Option<Option<bytes::Bytes>>> = net
            .nodes()
            .flatten()
            .map(|n| n.store().own().values.get("book").map(|v| v.value.clone()))
            .collect();
        (stats, books)
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11).0, run(12).0);
}
