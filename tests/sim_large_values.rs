//! Large values on the simulated network: announced, fetched in pieces under loss and
//! reordering, never visible half-received; deletes and TTLs spread and are collected.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use gossip::core::{Event, Time};
use gossip::sim::{self, topology, Delay, NetConfig, SimNet};

/// `len` bytes that differ from any other seed's.
fn blob(len: usize, seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

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
    let new = blob(len, seed);
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
    let value = blob(len, 5);
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
