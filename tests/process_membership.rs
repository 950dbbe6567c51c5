//! Membership with real node processes on 127.0.0.1: a SIGKILLed node is marked dead by
//! everyone, comes back alive with a higher version after a restart, and a config edit
//! rewires a running cluster.

mod common;

use std::time::Duration;

use common::{start, status, temp_dir, wait_for, write, NodeProcess};
use serde_json::Value;

fn peer_state(view: &Value, id: &str) -> Option<(String, u64)> {
    view["peers"]
        .as_array()?
        .iter()
        .find(|p| p["id"] == id)
        .map(|p| {
            (
                p["state"].as_str().unwrap_or("").to_string(),
                p["incarnation"].as_u64().unwrap_or(0),
            )
        })
}

fn known(view: &Value, origin: &str) -> Option<Value> {
    view["known"]
        .as_array()?
        .iter()
        .find(|k| k["origin"] == origin)
        .cloned()
}

#[test]
fn a_sigkilled_node_is_marked_dead_and_comes_back_alive_with_a_higher_version() {
    let p0 = common::free_port();
    let p0s = p0.to_string();
    let mut nodes: Vec<(String, NodeProcess)> = Vec::new();
    nodes.push((
        "k0".into(),
        start(&["--port", &p0s, "--id", "k0", "--resample-secs", "0"], &[]),
    ));
    let victim_port = common::free_port();
    for i in 1..5 {
        let id = format!("k{i}");
        let port = if i == 3 {
            victim_port.to_string()
        } else {
            "0".to_string()
        };
        let node = start(
            &[
                "--port",
                &port,
                "--id",
                &id,
                "--bootstrap",
                &p0s,
                "--resample-secs",
                "0",
            ],
            &[],
        );
        nodes.push((id, node));
    }
    let ports: Vec<u16> = nodes.iter().map(|(_, n)| n.port).collect();
    let all_alive = wait_for(Duration::from_secs(30), || {
        ports.iter().all(|&p| {
            status(p).is_some_and(|v| {
                v["peers"].as_array().is_some_and(|peers| {
                    peers.len() == 4 && peers.iter().all(|x| x["state"] == "alive")
                })
            })
        })
    });
    assert!(
        all_alive.is_some(),
        "the 5 nodes never all saw each other alive"
    );
    // Membership can complete before k3's state reaches k0 (anti-entropy carries it).
    let mut before = None;
    wait_for(Duration::from_secs(20), || {
        before = status(p0)
            .and_then(|v| known(&v, "k3"))
            .and_then(|k| k["version"].as_u64());
        before.is_some()
    });
    let before = before.expect("k0 never held k3's state");

    let (_, victim) = nodes.remove(3);
    victim.kill();
    let survivors: Vec<u16> = nodes.iter().map(|(_, n)| n.port).collect();
    let detected = wait_for(Duration::from_secs(20), || {
        survivors.iter().all(|&p| {
            status(p)
                .and_then(|v| peer_state(&v, "k3"))
                .is_some_and(|(s, _)| s == "dead")
        })
    });
    let took = detected.expect("survivors did not all mark the killed node dead");
    println!("every survivor marked the SIGKILLed node dead within {took:?}");

    // Restart it on the same port with the same id and no saved state.
    let back = start(
        &[
            "--port",
            &victim_port.to_string(),
            "--id",
            "k3",
            "--bootstrap",
            &p0s,
            "--resample-secs",
            "0",
        ],
        &[],
    );
    let rejoined = wait_for(Duration::from_secs(20), || {
        survivors.iter().all(|&p| {
            status(p).is_some_and(|v| {
                let alive = peer_state(&v, "k3").is_some_and(|(s, inc)| s == "alive" && inc >= 1);
                let newer = known(&v, "k3")
                    .and_then(|k| k["version"].as_u64())
                    .is_some_and(|version| version > before);
                alive && newer
            })
        })
    });
    assert!(
        rejoined.is_some(),
        "restarted node not alive everywhere with a version above {before}"
    );
    drop(back);
}

fn ring_or_star(dir: &std::path::Path, ports: &[u16], star: bool) {
    for (i, port) in ports.iter().enumerate() {
        let peers: Vec<u16> = if star {
            if i == 1 {
                ports.iter().copied().filter(|p| p != port).collect()
            } else {
                vec![ports[1]]
            }
        } else {
            vec![ports[(i + 1) % ports.len()]]
        };
        let list: Vec<String> = peers.iter().map(|p| format!("\"127.0.0.1:{p}\"")).collect();
        write(
            &dir.join(format!("node-{i}.toml")),
            &format!(
                "id = \"w{i}\"\nbind = \"127.0.0.1:{port}\"\npeers = [{}]\nfanout = \"all\"\nmax_peers = 0\nresample_secs = 0\nanti_entropy_ms = 5000\n",
                list.join(", ")
            ),
        );
    }
}

/// Waits (up to 20 s) until the node at `port` holds w0's `color`, told by `via` after `hops`
/// hops: the relay path the topology should give.
fn learns_w0_color(port: u16, color: &str, via: &str, hops: u64) -> bool {
    wait_for(Duration::from_secs(20), || {
        status(port)
            .and_then(|v| known(&v, "w0"))
            .is_some_and(|k| k["values"]["color"] == color && k["via"] == via && k["hops"] == hops)
    })
    .is_some()
}

#[test]
fn editing_the_config_rewires_a_running_cluster() {
    let dir = temp_dir("rewire");
    let ports: Vec<u16> = (0..4).map(|_| common::free_port()).collect();
    ring_or_star(&dir, &ports, false);
    let nodes: Vec<NodeProcess> = (0..4)
        .map(|i| {
            let path = dir.join(format!("node-{i}.toml"));
            start(&["--config", path.to_str().unwrap()], &[])
        })
        .collect();
    let addr = |i: usize| format!("127.0.0.1:{}", ports[i]);
    // Anti-entropy is slowed down (5 s) so the relay path, not a repair, delivers the news;
    // wait until everyone holds everyone's first version, so no catch-up exchange is pending.
    let settled = wait_for(Duration::from_secs(30), || {
        nodes.iter().all(|n| {
            status(n.port).is_some_and(|v| v["known"].as_array().is_some_and(|k| k.len() == 4))
        })
    });
    assert!(settled.is_some(), "the ring never converged");
    std::thread::sleep(Duration::from_millis(600));
    // Ring w0 → w1 → w2 → w3: a change on w0 reaches w3 through w2, three hops.
    let out = common::gossip(&["set", &nodes[0].port.to_string(), "color", "red"]);
    assert!(out.status.success());
    assert!(
        learns_w0_color(nodes[3].port, "red", &addr(2), 3),
        "ring relay path w0 → w1 → w2 → w3 not seen; w3 holds {:?}",
        status(nodes[3].port).and_then(|v| known(&v, "w0"))
    );

    // Rewire to a star around w1, by editing the files of the running nodes.
    ring_or_star(&dir, &ports, true);
    std::thread::sleep(Duration::from_millis(1500));
    let out = common::gossip(&["set", &nodes[0].port.to_string(), "color", "blue"]);
    assert!(out.status.success());
    assert!(
        learns_w0_color(nodes[3].port, "blue", &addr(1), 2),
        "star relay path w0 → w1 → w3 not seen after the edit"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_node_restarted_with_its_data_dir_is_alive_again_above_its_reservation() {
    let dir = temp_dir("restart-data");
    let data = dir.to_str().unwrap();
    let p0 = common::free_port();
    let p0s = p0.to_string();
    let _a = start(&["--port", &p0s, "--id", "d0", "--resample-secs", "0"], &[]);
    let _b = start(
        &[
            "--port",
            "0",
            "--id",
            "d1",
            "--bootstrap",
            &p0s,
            "--resample-secs",
            "0",
        ],
        &[],
    );
    let victim_port = common::free_port().to_string();
    let victim_args = [
        "--port",
        &victim_port,
        "--id",
        "d2",
        "--bootstrap",
        &p0s,
        "--resample-secs",
        "0",
        "--data-dir",
        data,
    ];
    let victim = start(&victim_args, &[]);
    let known_alive = wait_for(Duration::from_secs(20), || {
        status(p0)
            .and_then(|v| peer_state(&v, "d2"))
            .is_some_and(|(s, _)| s == "alive")
    });
    assert!(known_alive.is_some());
    victim.kill();
    let dead = wait_for(Duration::from_secs(20), || {
        status(p0)
            .and_then(|v| peer_state(&v, "d2"))
            .is_some_and(|(s, _)| s == "dead")
    });
    assert!(dead.is_some(), "d2 never marked dead");
    // Same data dir: it restarts above its reservation and with a higher incarnation, and must
    // still be taken back as alive (the cluster's "dead at incarnation 0" is older than it).
    let _back = start(&victim_args, &[]);
    let back = wait_for(Duration::from_secs(20), || {
        status(p0).is_some_and(|v| {
            let alive = peer_state(&v, "d2").is_some_and(|(s, _)| s == "alive");
            let above = known(&v, "d2")
                .and_then(|k| k["version"].as_u64())
                .is_some_and(|version| version > 100);
            alive && above
        })
    });
    assert!(
        back.is_some(),
        "restarted d2 not alive with a version above its reservation"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A node that loses most of the members it knew says so in its log and its status (text and
/// JSON), and says so again when they are back.
#[test]
fn a_node_cut_off_from_most_members_says_so_and_says_when_they_are_back() {
    let (lone, log) =
        common::start_logged(&["--port", "0", "--id", "lone", "--resample-secs", "0"]);
    let at = lone.port.to_string();
    let ports: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
    let spawn = |i: usize| {
        start(
            &[
                "--port",
                &ports[i].to_string(),
                "--id",
                &format!("other{i}"),
                "--bootstrap",
                &at,
                "--resample-secs",
                "0",
            ],
            &[],
        )
    };
    let others: Vec<NodeProcess> = (0..3).map(spawn).collect();
    let alive = |n: usize| {
        move || {
            status(lone.port).is_some_and(|v| {
                v["peers"]
                    .as_array()
                    .is_some_and(|p| p.iter().filter(|x| x["state"] == "alive").count() == n)
            })
        }
    };
    assert!(wait_for(Duration::from_secs(30), alive(3)).is_some());
    assert!(status(lone.port).is_some_and(|v| v["partition"].is_null()));

    for node in others {
        node.kill();
    }
    // Alone, the node trusts its own verdicts less (Lifeguard), so deaths take a while here.
    let line = common::await_line(&log, Duration::from_secs(60), &["partitioned"]);
    let line = line.expect("no partition warning in the log");
    assert!(
        line.contains("of the 3 members we knew are unreachable") && line.contains("WARN"),
        "{line}"
    );
    let all_three = wait_for(Duration::from_secs(30), || {
        status(lone.port).is_some_and(|v| v["partition"]["unreachable"] == 3)
    });
    assert!(all_three.is_some(), "status never counted all three");
    let view = status(lone.port).expect("status");
    assert_eq!(view["partition"]["known"], 3, "{view}");
    let text = common::gossip(&["status", &at]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("PARTITIONED for") && text.contains("3 of the 3 members"),
        "{text}"
    );

    let _back: Vec<NodeProcess> = (0..3).map(spawn).collect();
    let line = common::await_line(&log, Duration::from_secs(30), &["partition over"]);
    let line = line.expect("no word in the log that the partition is over");
    assert!(line.contains("3 of 3 members reachable"), "{line}");
    assert!(status(lone.port).is_some_and(|v| v["partition"].is_null()));
}
