//! Editing a running node's TOML file: every key either takes effect and is logged, or is
//! named in the log as needing a restart.

mod common;

use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(10);

/// A node running from `dir/node.toml` with `body`; returns it, its log and the file's path.
fn node_with_file(
    name: &str,
    body: &str,
) -> (
    NodeProcess,
    std::sync::mpsc::Receiver<String>,
    std::path::PathBuf,
) {
    let dir = temp_dir(name);
    let path = dir.join("node.toml");
    let port = free_port();
    write(
        &path,
        &format!("bind = {port}\nid = \"r\"\nresample_secs = 0\n{body}"),
    );
    let (node, log) = start_logged(&["--config", path.to_str().unwrap(), "--ui", "plain"]);
    // The file watcher starts just after the node does: edits before it would go unseen.
    assert!(
        await_line(&log, WAIT, &["watching", "for edits"]).is_some(),
        "the node never started watching its file"
    );
    (node, log, path)
}

/// Rewrites the file with `body` after the fixed lines and waits for a log line with `parts`.
fn edit_and_expect(
    path: &std::path::Path,
    log: &std::sync::mpsc::Receiver<String>,
    port: u16,
    body: &str,
    parts: &[&str],
) {
    write(
        path,
        &format!("bind = {port}\nid = \"r\"\nresample_secs = 0\n{body}"),
    );
    let line = await_line(log, WAIT, parts);
    assert!(
        line.is_some(),
        "no log line with {parts:?} after writing {body:?}"
    );
}

/// The log format comes from the file here (a `--log` flag would win over it).
#[test]
fn a_log_format_edit_is_named_as_needing_a_restart() {
    let dir = temp_dir("reload-log");
    let path = dir.join("node.toml");
    let port = free_port();
    let fixed = format!("bind = {port}\nid = \"r\"\nresample_secs = 0\n");
    write(&path, &format!("{fixed}log = \"json\"\n"));
    let (_node, log) =
        start_logged_as_configured(&["--config", path.to_str().unwrap(), "--ui", "plain"]);
    assert!(await_line(&log, WAIT, &["watching", "for edits"]).is_some());
    write(&path, &format!("{fixed}log = \"pretty\"\n"));
    let line = await_line(&log, WAIT, &["log json → pretty", "needs a restart"]);
    let line = line.expect("a log format edit was not named as needing a restart");
    // Still in the format it started with.
    assert!(line.starts_with('{'), "{line}");
}

#[test]
fn probe_settings_take_effect_and_are_logged() {
    let (node, log, path) = node_with_file("reload-probe", "probe_ms = 200\n");
    edit_and_expect(
        &path,
        &log,
        node.port,
        "probe_ms = 300\n",
        &["config reloaded", "probe_ms 200 → 300"],
    );
    edit_and_expect(
        &path,
        &log,
        node.port,
        "probe_ms = 300\nprobe_timeout_ms = 50\n",
        &["config reloaded", "probe_timeout_ms 100 → 50"],
    );
    edit_and_expect(
        &path,
        &log,
        node.port,
        "probe_ms = 300\nprobe_timeout_ms = 50\nsuspicion_mult = 3\n",
        &["config reloaded", "suspicion_mult 2 → 3"],
    );
}

#[test]
fn settings_fixed_at_start_are_named_as_needing_a_restart() {
    let (node, log, path) = node_with_file("reload-restart", "");
    let data = temp_dir("reload-restart-data");
    for (body, parts) in [
        ("seed = 5\n", vec!["seed random → 5", "needs a restart"]),
        (
            "seed = 5\nbooks = \"books.txt\"\n",
            vec!["books none → books.txt", "needs a restart"],
        ),
        (
            "seed = 5\nbooks = \"books.txt\"\nstrategy = \"push-pull\"\n",
            vec!["strategy tree → push-pull", "needs a restart"],
        ),
    ] {
        edit_and_expect(&path, &log, node.port, body, &parts);
    }
    let with_dir = format!(
        "seed = 5\nbooks = \"books.txt\"\nstrategy = \"push-pull\"\ndata_dir = \"{}\"\n",
        data.display()
    );
    edit_and_expect(
        &path,
        &log,
        node.port,
        &with_dir,
        &["data_dir none →", "needs a restart"],
    );
}

#[test]
fn every_other_key_takes_effect_and_is_logged_or_needs_a_restart() {
    let (node, log, path) = node_with_file("reload-every", "");
    let other = free_port();
    let other_peer = format!("127.0.0.1:{other}");
    // One case per key the earlier tests do not cover: the line written after `bind`, `id`
    // and `resample_secs = 0`, and what the log must say.
    let cases: Vec<(String, Vec<String>)> = vec![
        ("fanout = 3".into(), vec!["fanout auto → 3".into()]),
        ("ttl = 5".into(), vec!["ttl auto → 5".into()]),
        (
            "anti_entropy_ms = 500".into(),
            vec!["anti_entropy_ms 1000 → 500".into()],
        ),
        ("drop_rate = 0.1".into(), vec!["drop_rate 0 → 0.1".into()]),
        ("delay_ms = 5".into(), vec!["delay 0..0ms → 5..5ms".into()]),
        ("mtu = 1200".into(), vec!["mtu 1400 → 1200".into()]),
        (
            "max_peers = 100".into(),
            vec!["max_peers 4096 → 100".into()],
        ),
        (
            "admin_from = \"any\"".into(),
            vec!["admin_from loopback → any".into()],
        ),
        (
            format!("peers = [\"{other_peer}\"]"),
            vec![format!("peers +{other_peer}")],
        ),
        (
            format!("bootstrap = [\"{other_peer}\"]"),
            vec![format!("bootstrap [] → [{other_peer}]")],
        ),
        (
            "max_value_bytes = 2000000".into(),
            vec!["max_value_bytes 1048576 → 2000000".into()],
        ),
        (
            "max_state_bytes = 1000000".into(),
            vec!["max_state_bytes 67108864 → 1000000".into()],
        ),
        (
            "tombstone_grace_secs = 60".into(),
            vec!["tombstone_grace_secs 600 → 60".into()],
        ),
        (
            "cluster = \"elsewhere\"".into(),
            vec!["cluster".into(), "needs a restart".into()],
        ),
    ];
    for (line, expect) in cases {
        let parts: Vec<&str> = expect.iter().map(String::as_str).collect();
        edit_and_expect(&path, &log, node.port, &format!("{line}\n"), &parts);
    }
    // resample_secs is in the fixed lines; the id too: both change by rewriting the file.
    write(
        &path,
        &format!("bind = {}\nid = \"r2\"\nresample_secs = 5\n", node.port),
    );
    let line = await_line(&log, WAIT, &["id r → r2", "needs a restart"]);
    assert!(
        line.is_some(),
        "an id edit was not named as needing a restart"
    );
    let line = await_line(&log, WAIT, &["resample never → 5s"]);
    assert!(line.is_some(), "a resample edit was not logged");
    // A new bind address (and so a new advertised one) needs a restart too.
    write(
        &path,
        &format!("bind = {other}\nid = \"r2\"\nresample_secs = 5\n"),
    );
    let line = await_line(&log, WAIT, &["address", "needs a restart"]);
    assert!(
        line.is_some(),
        "a bind edit was not named as needing a restart"
    );
}
