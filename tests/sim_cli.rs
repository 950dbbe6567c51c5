//! `gossip sim` as scripts use it: the JSON and CSV contract, sweeps, plots, config
//! directories, and exit code 2 for a bad request.

mod common;

use common::gossip;

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn json_has_the_documented_fields() {
    let out = gossip(&["sim", "--nodes", "200", "--strategy", "push-pull", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["nodes"], 200);
    assert_eq!(v["coverage_pct"], 100.0);
    assert!(v["time_to_100_ms"].as_f64().is_some_and(|t| t > 0.0));
    assert!(v["datagrams"].as_u64().is_some_and(|d| d > 0));
    assert!(v["bytes"].as_u64().is_some_and(|b| b > 0));
    assert!(v["coverage"].as_array().is_some_and(|c| c.len() > 2));
}

#[test]
fn flooding_a_sparse_graph_reports_never_as_null() {
    let out = gossip(&["sim", "--nodes", "300", "--strategy", "flood", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(v["coverage_pct"].as_f64().is_some_and(|c| c < 100.0));
    assert!(v["time_to_100_ms"].is_null());
}

#[test]
fn a_sweep_prints_one_row_per_cell_and_draws_the_curves() {
    let dir = std::env::temp_dir().join(format!("gossip-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("curves.svg");
    let out = gossip(&[
        "sim",
        "--nodes",
        "200",
        "--topology",
        "mesh",
        "--sweep",
        "fanout=1..3",
        "--sweep",
        "strategy=push,push-pull",
        "--csv",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert!(lines[0].starts_with("sweep_fanout,sweep_strategy,strategy,"));
    assert!(lines[1].starts_with("1,push,push,full-mesh,200,"));
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.contains("<svg"));
    // One panel per strategy, fanout in the legend beside them.
    assert!(plot.contains("strategy=push-pull"), "panel title");
    assert!(plot.contains("fanout=3"), "legend");
    assert!(plot.contains("time since the update"), "x axis label");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_config_directory_is_a_topology() {
    let out = gossip(&["sim", "--config-dir", "config", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let files = std::fs::read_dir("config")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .count();
    assert_eq!(v["nodes"], files);
    assert_eq!(v["coverage_pct"], 100.0);
}

#[test]
fn bad_requests_exit_2() {
    for args in [
        &["sim", "--sweep", "colour=1..3"][..],
        &["sim", "--strategy", "shout"],
        &["sim", "--kill", "10%"],
        &["sim", "--loss", "1.5"],
        &["sim", "--ttl", "200"],
        &["sim", "--nodes", "1"],
    ] {
        let out = gossip(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn a_swarm_measures_real_processes_and_leaves_none_behind() {
    let out = gossip(&["swarm", "--nodes", "8", "--kill", "0.25", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["nodes"], 8);
    assert_eq!(v["killed"], 2);
    assert!(v["propagation_ms"].as_f64().is_some());
    assert!(v["datagrams"].as_u64().is_some_and(|d| d > 0));
    let ports: Vec<String> = v["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            format!("--port\0{}\0", &a[a.rfind(':').unwrap() + 1..])
        })
        .collect();
    assert_eq!(ports.len(), 8);
    // No process started by the swarm is still running.
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).into_owned())
        .filter(|c| c.contains("swarm-") && ports.iter().any(|p| c.contains(p.as_str())))
        .collect();
    assert!(left.is_empty(), "still running: {left:?}");
}

/// The seed's 100-process simulator, small: flags go to every node, each setting of a sweep
/// gets a fresh swarm, and every update is timed.
#[test]
fn a_swarm_sweeps_settings_over_real_processes() {
    let dir = common::temp_dir("swarm-sweep");
    let plot = dir.join("swarm.svg");
    let out = gossip(&[
        "swarm",
        "--nodes",
        "6",
        "--updates",
        "3",
        "--strategy",
        "push-pull",
        "--interval-ms",
        "100",
        "--loss",
        "0.1",
        "--delay-ms",
        "1..2",
        "--sweep",
        "fanout=1,2",
        "--json",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = rows.as_array().expect("one row per setting");
    assert_eq!(rows.len(), 2);
    for (row, fanout) in rows.iter().zip(["1", "2"]) {
        assert_eq!(row["setting"]["fanout"], fanout, "{row}");
        assert_eq!(row["strategy"], "push-pull");
        assert_eq!(row["updates"], 3);
        assert_eq!(row["per_update"].as_array().unwrap().len(), 3, "{row}");
        let worst = row["propagation_ms"].as_f64().unwrap();
        let median = row["update_median_ms"].as_f64().unwrap();
        assert!(0.0 < median && median <= worst, "{row}");
        // Push-pull sends no rumors: the nodes really ran the strategy given.
        assert_eq!(row["rumor_messages"], 0, "{row}");
        // And their own fault layer dropped some of what they sent.
        assert!(row["dropped"].as_u64().unwrap() > 0, "{row}");
        let coverage = row["coverage"].as_array().unwrap();
        assert_eq!(coverage.len(), 3 * 5, "five arrivals per update: {row}");
        assert_eq!(coverage.last().unwrap()["pct"], 100.0);
    }
    let svg = std::fs::read_to_string(&plot).expect("plot written");
    assert!(svg.contains("fanout=2"), "legend names the settings");
    let _ = std::fs::remove_dir_all(&dir);

    let bad = gossip(&["swarm", "--sweep", "peers=2,3"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot sweep peers"));
    let bad = gossip(&["swarm", "--delay-ms", "soon"]);
    assert_eq!(bad.status.code(), Some(2));
    // What a node would refuse is refused before any process starts, not found out as a
    // membership timeout.
    for args in [["--ttl", "70"], ["--interval-ms", "5"]] {
        let bad = gossip(&[
            "swarm",
            "--nodes",
            "3",
            "--timeout-secs",
            "30",
            args[0],
            args[1],
        ]);
        assert_eq!(bad.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&bad.stderr).contains("the nodes would refuse"),
            "{args:?}"
        );
    }
}

#[test]
fn peers_can_be_a_range_as_in_the_thousand_node_tutorial() {
    let v = sim_json(&["--nodes", "1000", "--peers", "3..5", "--strategy", "flood"]);
    assert_eq!(v["topology"], "random-3..5-out");
    assert!(
        v["coverage_pct"].as_f64().unwrap() > 90.0,
        "{}",
        v["coverage_pct"]
    );
    let bad = gossip(&["sim", "--peers", "5..3"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn origin_random_starts_each_update_at_a_random_node() {
    let v = sim_json(&[
        "--nodes",
        "300",
        "--peers",
        "3..5",
        "--strategy",
        "flood",
        "--origin",
        "random",
        "--updates",
        "4",
    ]);
    assert_eq!(v["origin"], "random");
    let origins: std::collections::BTreeSet<&str> = v["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["origin"].as_str().unwrap())
        .collect();
    assert!(
        origins.len() >= 3,
        "updates did not start at different nodes: {origins:?}"
    );
    // The default is node 0, as before.
    assert_eq!(sim_json(&["--nodes", "100"])["origin"], "n0");
}

/// `gossip sim ARGS… --json`, which must succeed, parsed.
fn sim_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["sim"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = gossip(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}
