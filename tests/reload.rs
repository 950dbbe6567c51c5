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
    ] {
        edit_and_expect(&path, &log, node.port, body, &parts);
    }
    let with_dir = format!(
        "seed = 5\nbooks = \"books.txt\"\ndata_dir = \"{}\"\n",
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
