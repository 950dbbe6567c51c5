//! State on the simulated network: large values announced and fetched in pieces under loss and
//! reordering, never visible half-received; deletes and TTLs spread, expire and are collected.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use gossip::core::{Event, Time};
use gossip::sim::{self, topology, Delay, NetConfig, SimNet};
use gossip::wire::samples::blob;

/// How many live nodes hold exactly `value` under `origin`'s `key`.
fn holding(net: &SimNet, origin: &gossip::wire::NodeId, key: &str, value: &[u8]) -> usize {
    net.nodes()
        .flatten()
        .filter(|n| {
            n.store()
                .get(origin)
                .and_then(|s| s.values.get(key))
                .and_then(|v| v.value.as_deref())
                == Some(value)
        })
        .count()
}

/// Every value a node reported for the key: (node, value).
type Shown = Vec<(usize, Option<Bytes>)>;

fn lossy(loss: f64) -> NetConfig {
    NetConfig {
        loss,
        // Latencies spread over 0.2–4 ms: datagrams overtake each other all the time.
        delay: Delay::Uniform(Duration::from_micros(200), Duration::from_millis(4)),
        uplink: None,
    }
}

/// Sets a small value, then a large one over it, on node 0 of `n`; checks every node ends with
/// the large one byte for byte and that no node ever showed anything but the old or the new
/// value whole.
fn large_value_reaches_everyone(n: usize, len: usize, loss: f64, seed: u64) {
    let topo = topology::random_k_out(n, 3, seed);
    let mut net = sim::build(&topo, seed, lossy(loss), &[], |_, _| {});
    net.run_until(Time::from_millis(3_000));
    let old = Bytes::from_static(b"small and old");
    let new = Bytes::from(blob(len, seed));
    let seen: Rc<RefCell<Shown>> = Rc::default();
    let log = seen.clone();
    net.on_event(move |i, _, e| {
        if let Event::Learned { key, value, .. } = e {
            if key == "blob" {
                log.borrow_mut().push((i, value.clone()));
            }
        }
    });
    net.set_bytes(0, "blob", old.clone(), None)
        .expect("set old");
    let origin = sim::sim_id(0);
    let deadline = net.now() + Duration::from_secs(30);
    net.run_until_true(deadline, Duration::from_millis(20), |s| {
        holding(s, &origin, "blob", &old) == n
    })
    .expect("the small value reaches everyone");
    net.set_bytes(0, "blob", new.clone(), None)
        .expect("set new");
    let deadline = net.now() + Duration::from_secs(60);
    let reached = net.run_until_true(deadline, Duration::from_millis(20), |s| {
        holding(s, &origin, "blob", &new) == n
    });
    assert!(
        reached.is_some(),
        "{len} bytes at {:.0}% loss: {} of {n} nodes hold it after 60 s",
        loss * 100.0,
        holding(&net, &origin, "blob", &new)
    );
    for (node, value) in seen.borrow().iter() {
        let value = value.as_deref();
        assert!(
            value == Some(&old[..]) || value == Some(&new[..]),
            "node {node} showed a value that is neither the old nor the new one whole"
        );
    }
}

#[test]
fn a_large_value_arrives_byte_exact_without_loss() {
    large_value_reaches_everyone(20, 300_000, 0.0, 1);
}

#[test]
fn a_large_value_arrives_byte_exact_at_ten_percent_loss() {
    large_value_reaches_everyone(20, 300_000, 0.1, 2);
}

#[test]
fn a_large_value_arrives_byte_exact_at_thirty_percent_loss() {
    large_value_reaches_everyone(20, 200_000, 0.3, 3);
}

#[test]
fn each_node_receives_a_large_value_about_once() {
    let n = 30;
    let len = 200_000;
    let topo = topology::random_k_out(n, 3, 5);
    let mut net = sim::build(&topo, 5, NetConfig::default(), &[], |_, _| {});
    net.run_until(Time::from_millis(3_000));
    let before = net.stats().bytes;
    let value = Bytes::from(blob(len, 5));
    net.set_bytes(0, "blob", value.clone(), None).expect("set");
    let origin = sim::sim_id(0);
    let deadline = net.now() + Duration::from_secs(30);
    net.run_until_true(deadline, Duration::from_millis(10), |s| {
        holding(s, &origin, "blob", &value) == n
    })
    .expect("everyone holds it");
    let sent = net.stats().bytes - before;
    let floor = (n as u64 - 1) * len as u64;
    // Pieces carry headers and background traffic goes on meanwhile; a second copy to every
    // node would be 2x.
    assert!(
        sent < floor * 3 / 2,
        "sent {sent} bytes against a floor of {floor}"
    );
}

/// Whether node `node` shows a live value under `origin`'s `key` right now.
fn shows(net: &SimNet, node: usize, origin: &gossip::wire::NodeId, key: &str) -> bool {
    let Some(n) = net.node(node) else {
        return false;
    };
    let wall = n.wall_ms(net.now());
    n.store()
        .get(origin)
        .and_then(|s| s.values.get(key))
        .is_some_and(|v| v.live(wall).is_some())
}

#[test]
fn a_delete_spreads_is_collected_and_reaches_a_node_that_was_away_longer_than_the_grace() {
    let n = 10;
    let topo = topology::random_k_out(n, 3, 11);
    let mut net = sim::build(&topo, 11, NetConfig::default(), &[], |_, c| {
        c.tombstone_grace = Duration::from_secs(2);
    });
    net.run_until(Time::from_millis(2_000));
    net.set(0, "k", "doomed").expect("set");
    let origin = sim::sim_id(0);
    let everyone = |net: &SimNet| (0..n).all(|i| shows(net, i, &origin, "k"));
    net.run_until_true(
        net.now() + Duration::from_secs(10),
        Duration::from_millis(10),
        everyone,
    )
    .expect("the key reaches everyone");
    // Node 9 is cut off while the key is deleted and the tombstone is collected.
    let mut groups = vec![0u8; n];
    groups[9] = 1;
    net.partition(groups);
    net.delete(0, "k").expect("delete");
    let gone = |net: &SimNet| (0..9).all(|i| !shows(net, i, &origin, "k"));
    net.run_until_true(
        net.now() + Duration::from_secs(10),
        Duration::from_millis(10),
        gone,
    )
    .expect("the delete reaches every connected node");
    assert!(
        shows(&net, 9, &origin, "k"),
        "node 9 is cut off and still shows it"
    );
    net.run_until(net.now() + Duration::from_secs(5));
    for i in 0..9 {
        let node = net.node(i).unwrap();
        let held = node.store().get(&origin).and_then(|s| s.values.get("k"));
        assert!(
            held.is_none(),
            "node {i} still holds the tombstone after the grace period"
        );
        assert!(node.counters().tombstones_collected >= 1);
    }
    // Back after the tombstone is gone everywhere: the origin's state reaches it as a reset.
    net.heal();
    let healed = |net: &SimNet| (0..n).all(|i| !shows(net, i, &origin, "k"));
    net.run_until_true(
        net.now() + Duration::from_secs(20),
        Duration::from_millis(10),
        healed,
    )
    .expect("node 9 learns of the delete it missed, and nobody resurrects the key");
    net.run_until(net.now() + Duration::from_secs(3));
    assert!(
        (0..n).all(|i| !shows(&net, i, &origin, "k")),
        "the key came back"
    );
}

#[test]
fn a_ttl_expires_the_key_on_every_node_at_once() {
    let n = 12;
    let topo = topology::random_k_out(n, 3, 12);
    let mut net = sim::build(&topo, 12, NetConfig::default(), &[], |_, _| {});
    net.run_until(Time::from_millis(2_000));
    let expired: Rc<RefCell<Vec<(usize, Time)>>> = Rc::default();
    let log = expired.clone();
    net.on_event(move |i, at, e| {
        if let Event::Expired { key, .. } = e {
            if key == "lease" {
                log.borrow_mut().push((i, at));
            }
        }
    });
    let set_at = net.now();
    net.set_bytes(5, "lease", Bytes::from_static(b"held by 5"), Some(2_000))
        .expect("set");
    let origin = sim::sim_id(5);
    net.run_until_true(
        set_at + Duration::from_millis(1_500),
        Duration::from_millis(10),
        |s| (0..n).all(|i| shows(s, i, &origin, "lease")),
    )
    .expect("the lease reaches everyone before it expires");
    net.run_until(set_at + Duration::from_millis(2_500));
    assert!(
        (0..n).all(|i| !shows(&net, i, &origin, "lease")),
        "still shown after its TTL"
    );
    let expired = expired.borrow();
    assert_eq!(expired.len(), n, "one expiry event per node: {expired:?}");
    for (node, at) in expired.iter() {
        let after = *at - set_at;
        assert!(
            after >= Duration::from_millis(2_000) && after < Duration::from_millis(2_100),
            "node {node} expired it {after:?} after the set"
        );
    }
}
