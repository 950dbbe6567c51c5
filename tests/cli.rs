//! The `gossip` binary as a user runs it: exit codes, error messages, status output.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{gossip, NodeProcess};

/// Starts `gossip node --port 0 ARGS…`.
fn start_node(args: &[&str]) -> NodeProcess {
    start_node_with_env(args, &[])
}

fn start_node_with_env(args: &[&str], env: &[(&str, &str)]) -> NodeProcess {
    let mut all = vec!["--port", "0"];
    all.extend_from_slice(args);
    common::start(&all, env)
}

#[test]
fn a_bad_config_file_names_file_line_and_key_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("gossip-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("node-bad.toml");
    std::fs::write(&path, "id = \"n1\"\nbind = 7000\nfanoutt = 3\n").unwrap();
    let out = gossip(&["node", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("node-bad.toml"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("fanoutt"), "{err}");
    std::fs::write(&path, "bind = 7000\ndrop_rate = 7\n").unwrap();
    let out = gossip(&["node", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_flags_exit_2_and_a_taken_port_is_a_clear_error() {
    let out = gossip(&["node", "--port", "0", "--drop-rate", "3"]);
    assert_eq!(out.status.code(), Some(2));
    let node = start_node(&[]);
    let out = gossip(&["node", "--port", &node.port.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already in use"));
}

#[test]
fn status_json_has_the_documented_fields_and_set_spreads() {
    let a = start_node(&["--id", "alpha", "--resample-secs", "0"]);
    let b = start_node(&[
        "--id",
        "beta",
        "--bootstrap",
        &a.port.to_string(),
        "--resample-secs",
        "0",
    ]);
    let out = gossip(&["set", &b.port.to_string(), "color", "blue"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let json = loop {
        let out = gossip(&["status", &a.port.to_string(), "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let beta_blue = v["known"].as_array().unwrap().iter().any(|k| {
            // A rumor can outrun beta's join: alpha then holds `color` before the rest of
            // beta's state, and pulls the rest at once. Wait for the whole view.
            k["origin"] == "beta" && k["values"]["color"] == "blue" && k["book"].is_string()
        });
        if beta_blue {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "set on beta never reached alpha: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(json["id"], "alpha");
    assert_eq!(json["addr"], format!("127.0.0.1:{}", a.port));
    assert!(json["version"].as_u64().unwrap() >= 1);
    assert!(json["book"].is_string());
    assert_eq!(json["peers"][0]["addr"], format!("127.0.0.1:{}", b.port));
    let beta = json["known"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["origin"] == "beta")
        .unwrap();
    for field in ["origin", "addr", "version", "book", "age_ms"] {
        assert!(!beta[field].is_null(), "known[].{field} missing: {beta}");
    }
    for counter in [
        "datagrams_in",
        "bytes_out",
        "rumors_originated",
        "duplicates",
        "anti_entropy_exchanges",
        "decode_errors",
    ] {
        assert!(
            json["counters"][counter].is_u64(),
            "counter {counter} missing"
        );
    }
    // The human table names both nodes and their books.
    let out = gossip(&["status", &a.port.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("alpha") && text.contains("beta") && text.contains("color=blue"),
        "{text}"
    );
}

#[test]
fn status_of_nothing_fails_with_a_hint() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let out = gossip(&["status", &port.to_string(), "--timeout-ms", "50"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no answer"));
}

#[test]
fn environment_variables_configure_a_node_and_flags_win_over_them() {
    let node = start_node_with_env(
        &["--fanout", "2"],
        &[
            ("GOSSIP_ID", "from-env"),
            ("GOSSIP_FANOUT", "7"),
            ("GOSSIP_RESAMPLE_SECS", "0"),
        ],
    );
    let out = gossip(&["status", &node.port.to_string(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["id"], "from-env");
    assert!(
        v["fanout"].as_str().unwrap().starts_with("2 "),
        "{}",
        v["fanout"]
    );
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_a_node_down_cleanly() {
    let mut node = start_node(&[]);
    let pid = node.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = node.child.try_wait().expect("wait") {
            assert!(status.success(), "exit status after SIGTERM: {status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "node ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_short_flags_from_the_tutorial_work() {
    // `gossip node -p 7001 -b 7000`, with kernel-chosen ports.
    let a = common::start(&["-p", "0", "--id", "first"], &[]);
    let b = common::start(
        &["-p", "0", "--id", "second", "-b", &a.port.to_string()],
        &[],
    );
    let joined = common::wait_for(Duration::from_secs(20), || {
        common::status(a.port).is_some_and(|s| {
            s["known"]
                .as_array()
                .is_some_and(|k| k.iter().any(|o| o["origin"] == "second"))
        })
    });
    assert!(joined.is_some(), "a node started with -b never joined");
    drop(b);
}

/// `gossip status PORT --json`'s state for the peer named `id`, if listed.
fn peer_state(port: u16, id: &str) -> Option<String> {
    let s = common::status(port)?;
    s["peers"]
        .as_array()?
        .iter()
        .find(|p| p["id"] == id)
        .and_then(|p| p["state"].as_str())
        .map(str::to_string)
}

#[test]
fn sigterm_leaves_gracefully_and_peers_show_the_node_as_left_at_once() {
    let a = start_node(&["--id", "stays"]);
    let b = start_node(&["--id", "goes", "--bootstrap", &a.port.to_string()]);
    let alive = common::wait_for(Duration::from_secs(20), || {
        peer_state(a.port, "goes").as_deref() == Some("alive")
    });
    assert!(alive.is_some(), "the second node never showed as alive");
    let pid = b.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    // Left at once: well before suspicion could time out (about a second here).
    let left = common::wait_for(Duration::from_secs(5), || {
        peer_state(a.port, "goes").as_deref() == Some("left")
    });
    let left = left.expect("the peer never showed the node as left");
    assert!(
        left < Duration::from_millis(900),
        "took {left:?}: that is suspicion, not a leave"
    );
}

#[test]
fn delay_ms_holds_back_a_nodes_datagrams() {
    let fast = start_node(&["--id", "fast"]);
    let slow = start_node(&["--id", "slow", "--delay-ms", "400"]);
    // A status reply is a datagram the node sends: with --delay-ms 400 it cannot come back in
    // under 400 ms, while the undelayed node answers at once.
    let time = |port: u16| {
        let started = Instant::now();
        let out = gossip(&[
            "status",
            &port.to_string(),
            "--json",
            "--timeout-ms",
            "2000",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        started.elapsed()
    };
    let (quick, held) = (time(fast.port), time(slow.port));
    assert!(
        held >= Duration::from_millis(400),
        "delayed reply took only {held:?}"
    );
    assert!(quick < held, "undelayed {quick:?} vs delayed {held:?}");
}

#[test]
fn status_lists_the_recent_messages_a_node_received() {
    let a = start_node(&["--id", "hears", "--resample-secs", "0"]);
    let b = start_node(&[
        "--id",
        "speaks",
        "--bootstrap",
        &a.port.to_string(),
        "--resample-secs",
        "0",
    ]);
    let joined = common::wait_for(Duration::from_secs(20), || {
        peer_state(a.port, "speaks").as_deref() == Some("alive")
    });
    assert!(joined.is_some());
    let out = gossip(&["set", &b.port.to_string(), "color", "blue"]);
    assert!(out.status.success());
    let mut entry = serde_json::Value::Null;
    let heard = common::wait_for(Duration::from_secs(10), || {
        let Some(s) = common::status(a.port) else {
            return false;
        };
        let found = s["recent"].as_array().and_then(|r| {
            r.iter()
                .find(|m| m["kind"] == "rumor" && m["origin"] == "speaks")
                .cloned()
        });
        entry = found.unwrap_or_default();
        !entry.is_null()
    });
    assert!(heard.is_some(), "no rumor from speaks in recent");
    assert_eq!(entry["from"], format!("127.0.0.1:{}", b.port));
    assert_eq!(entry["hops"], 1);
    assert!(entry["version"].as_u64().unwrap() >= 2, "{entry}");
    assert_eq!(
        entry["id"].as_str().map(str::len),
        Some(36),
        "a UUID: {entry}"
    );
    assert!(entry["age_ms"].is_u64());
    let text =
        String::from_utf8_lossy(&gossip(&["status", &a.port.to_string()]).stdout).into_owned();
    assert!(
        text.contains("RECENT MESSAGES") && text.contains("speaks"),
        "{text}"
    );
}
