//! What an operator runs: `gossip top` against a real cluster, and the tmux cluster scripts.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{gossip, start, wait_for, BIN};

#[test]
fn top_json_reports_a_version_committed_on_a_five_node_cluster() {
    let first = start(&["--port", "0", "--resample-secs", "0", "--id", "t0"], &[]);
    let p0 = first.port.to_string();
    let mut nodes = vec![first];
    for i in 1..5 {
        let id = format!("t{i}");
        nodes.push(start(
            &[
                "--port",
                "0",
                "--resample-secs",
                "0",
                "--id",
                &id,
                "--bootstrap",
                &p0,
            ],
            &[],
        ));
    }
    let ports: Vec<String> = nodes.iter().map(|n| n.port.to_string()).collect();
    let settled = wait_for(Duration::from_secs(20), || {
        ports.iter().all(|p| {
            common::status(p.parse().unwrap())
                .is_some_and(|v| v["known"].as_array().is_some_and(|k| k.len() == 5))
        })
    });
    assert!(settled.is_some(), "cluster did not converge");
    // Piped without --json, a counted run ends with the table.
    let mut args = vec!["top", "--interval-ms", "100", "--count", "1"];
    args.extend(ports.iter().map(String::as_str));
    let table = String::from_utf8_lossy(&gossip(&args).stdout).into_owned();
    assert!(table.contains("5/5 nodes answering"), "{table}");
    let mut args = vec!["top", "--json", "--interval-ms", "100", "--count", "60"];
    args.extend(ports.iter().map(String::as_str));
    let mut top = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn top");
    let mut lines = BufReader::new(top.stdout.take().expect("stdout")).lines();
    let first_line = lines.next().expect("a snapshot").expect("read");
    let snapshot: serde_json::Value = serde_json::from_str(&first_line).expect("json");
    assert_eq!(snapshot["nodes"].as_array().unwrap().len(), 5);
    let out = gossip(&["set", &ports[2], "color", "green"]);
    assert!(out.status.success());
    let mut commit = None;
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(&line.expect("read")).expect("json");
        if let Some(c) = v["commits"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["origin"] == "t2"))
        {
            let origin = v["origins"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["origin"] == "t2")
                .cloned();
            commit = Some((c.clone(), origin.unwrap()));
            break;
        }
    }
    let _ = top.kill();
    let _ = top.wait();
    let (commit, origin) = commit.expect("top never reported t2's new version as committed");
    assert!(commit["version"].as_u64().unwrap() >= 2);
    assert!(commit["latency_ms"].as_u64().is_some(), "{commit}");
    assert_eq!(origin["holders"], 5);
    assert_eq!(origin["live"], 5);
    assert_eq!(origin["committed"], true);
}

fn tmux(args: &[&str]) -> Option<String> {
    let out = Command::new("tmux").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn cluster_script_runs_a_tmux_cluster_that_sees_a_killed_node_die() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("SKIPPED: tmux is not installed (apt-get install tmux)");
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let session = format!("gossip-test-{}", std::process::id());
    let base = 30_000 + (std::process::id() % 500) as u16 * 8;
    let script = |args: &[&str]| {
        Command::new(format!("{root}/scripts/cluster.sh"))
            .args(args)
            .env("GOSSIP_BIN", BIN)
            .env("GOSSIP_SESSION", &session)
            .output()
            .expect("run cluster.sh")
    };
    let out = script(&["--detach", "--nodes", "4", "--base-port", &base.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every pane shows its node's live view.
    let pane0 = format!("{session}:cluster.0");
    let shown = wait_for(Duration::from_secs(20), || {
        tmux(&["capture-pane", "-p", "-t", &pane0]).is_some_and(|s| s_has_all(&s, base))
    });
    assert!(
        shown.is_some(),
        "pane 0 never showed the live view:\n{:?}",
        tmux(&["capture-pane", "-p", "-t", &pane0])
    );
    // Kill the third node; pane 0 marks it dead.
    let victim = base + 2;
    let killed = Command::new(format!("{root}/scripts/kill-node.sh"))
        .arg(victim.to_string())
        .output()
        .expect("kill-node.sh");
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let start = Instant::now();
    let dead = wait_for(Duration::from_secs(20), || {
        tmux(&["capture-pane", "-p", "-t", &pane0]).is_some_and(|s| {
            s.lines()
                .any(|l| l.starts_with(&format!("n{victim}")) && l.contains("dead"))
        })
    });
    let stop = script(&["--stop"]);
    assert!(dead.is_some(), "pane 0 never showed n{victim} as dead");
    println!(
        "pane 0 showed the killed node dead after {:?}",
        start.elapsed()
    );
    assert!(stop.status.success());
    assert!(
        tmux(&["has-session", "-t", &session]).is_none(),
        "session still running after --stop"
    );
}

/// True when the live view lists all four nodes of the test cluster.
fn s_has_all(screen: &str, base: u16) -> bool {
    (0..4).all(|i| screen.contains(&format!("n{}", base + i)))
}

#[test]
fn metrics_are_served_in_prometheus_text_with_the_gossip_prefix() {
    let metrics_port = common::free_port();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let a = start(
        &["--port", "0", "--resample-secs", "1", "--metrics", &metrics],
        &[],
    );
    let _b = start(&["--port", "0", "--bootstrap", &a.port.to_string()], &[]);
    let names = [
        "gossip_members{state=\"alive\"} 1",
        "gossip_datagrams_in_total",
        "gossip_sent_bytes_total",
        "gossip_messages_in_total{type=\"ping\"}",
        "gossip_message_sent_bytes_total{type=\"ping\"}",
        "gossip_message_received_bytes_total{type=\"ack\"}",
        "gossip_anti_entropy_exchanges_total",
        "gossip_decode_errors_total",
        "gossip_partitioned 0",
    ];
    let mut body = String::new();
    // Every series appears once its first event happened (the first ack can trail the first
    // sign of membership), so wait for all of them.
    let got = wait_for(Duration::from_secs(20), || {
        body.clear();
        let Ok(mut conn) = std::net::TcpStream::connect(&metrics) else {
            return false;
        };
        let _ = conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
        let _ = conn.read_to_string(&mut body);
        names.iter().all(|n| body.contains(n))
    });
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !body.contains(*n))
        .copied()
        .collect();
    assert!(got.is_some(), "{missing:?} missing from\n{body}");
    assert!(
        body.contains("# HELP gossip_sent_bytes_total "),
        "no help text:\n{body}"
    );
    promtool_accepts(&body);
}

/// `promtool check metrics` (Debian package `prometheus`) finds nothing to complain about in
/// `body` (the HTTP response); where promtool is not installed, says so and checks nothing.
fn promtool_accepts(response: &str) {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or(response);
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("skipped the promtool check: promtool is not installed (apt install prometheus)");
        return;
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool");
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && complaints.trim().is_empty(),
        "promtool check metrics: {complaints}"
    );
}

#[test]
fn a_node_redraws_its_book_and_the_new_one_reaches_every_node() {
    let a = start(&["--port", "0", "--resample-secs", "0"], &[]);
    let seed = format!("127.0.0.1:{}", a.port);
    let b = start(
        &[
            "--port",
            "0",
            "--bootstrap",
            &seed,
            "--resample-secs",
            "0.2",
        ],
        &[],
    );
    let c = start(
        &["--port", "0", "--bootstrap", &seed, "--resample-secs", "0"],
        &[],
    );
    let b_id = format!("n{}", b.port);
    // Version 2 holds the first book; every re-draw is a new version. Wait for a re-drawn
    // book on b itself, then for exactly that version and title on every other node.
    let mut drawn = None;
    let redrawn = wait_for(Duration::from_secs(20), || {
        drawn = common::status(b.port).and_then(|s| {
            let v = s["version"].as_u64()?;
            let book = s["book"].as_str()?.to_string();
            (v >= 4).then_some((v, book))
        });
        drawn.is_some()
    });
    assert!(redrawn.is_some(), "b never re-drew its book");
    let (version, book) = drawn.expect("drawn");
    for node in [&a, &c] {
        let reached = wait_for(Duration::from_secs(20), || {
            common::status(node.port).is_some_and(|s| {
                s["known"].as_array().is_some_and(|known| {
                    known.iter().any(|k| {
                        k["origin"] == b_id.as_str()
                            && k["version"].as_u64() >= Some(version)
                            && (k["version"].as_u64() > Some(version) || k["book"] == book.as_str())
                    })
                })
            })
        });
        assert!(
            reached.is_some(),
            "b's re-drawn book v{version} never reached {}",
            node.port
        );
    }
}

/// `GET /metrics` from `addr`: the whole HTTP response, empty if nothing answers.
fn scrape(addr: &str) -> String {
    let mut body = String::new();
    if let Ok(mut conn) = std::net::TcpStream::connect(addr) {
        let _ = conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
        let _ = conn.read_to_string(&mut body);
    }
    body
}

#[test]
fn top_metrics_serves_the_cluster_wide_gauges() {
    let a = start(&["--port", "0", "--resample-secs", "0"], &[]);
    let metrics = format!("127.0.0.1:{}", common::free_port());
    let mut top = std::process::Command::new(common::BIN)
        .args(["top", &a.port.to_string(), "--json", "--interval-ms", "100"])
        .args(["--metrics", &metrics])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn top");
    let mut body = String::new();
    let got = wait_for(Duration::from_secs(20), || {
        body = scrape(&metrics);
        body.contains("gossip_cluster_nodes{answering=\"yes\"} 1")
            && body.contains("gossip_cluster_unconverged_origins")
            && body.contains("gossip_oldest_unconverged_age_seconds")
    });
    let _ = top.kill();
    let _ = top.wait();
    assert!(got.is_some(), "cluster gauges missing from\n{body}");
    promtool_accepts(&body);
}
