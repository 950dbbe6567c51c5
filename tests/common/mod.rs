//! Helpers for tests that run the real `gossip` binary as separate processes.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_gossip");

/// A node process, killed when dropped (even when a test panics).
pub struct NodeProcess {
    pub child: Child,
    pub port: u16,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeProcess {
    /// SIGKILL: no goodbye, as when a machine dies.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log lines of a node process, as they come.
type LogLines = std::io::Lines<BufReader<std::process::ChildStderr>>;

/// Spawns `gossip node ARGS…` and reads its log until the "listening on" line, which names
/// the real port; the rest of the log is the caller's.
fn spawn_listening(args: &[&str], env: &[(&str, &str)]) -> (NodeProcess, LogLines) {
    let mut all = vec!["--log", "json"];
    all.extend_from_slice(args);
    spawn_node(&all, env)
}

/// As [`spawn_listening`], with no log format forced: the node's file or defaults choose it.
fn spawn_node(args: &[&str], env: &[(&str, &str)]) -> (NodeProcess, LogLines) {
    let mut child = Command::new(BIN)
        .arg("node")
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gossip node");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let port = loop {
        let line = lines
            .next()
            .expect("node exited before listening")
            .expect("read");
        // "listening on 127.0.0.1:7000", "listening on [::1]:7000", "listening on 0.0.0.0:7000"
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
            if let Ok(addr) = addr
                .trim_end_matches([',', '"'])
                .parse::<std::net::SocketAddr>()
            {
                break addr.port();
            }
        }
        assert!(Instant::now() < deadline, "no listening line");
    };
    (NodeProcess { child, port }, lines)
}

/// Starts `gossip node ARGS…` (add `--port 0` for a kernel-chosen port) and waits for its
/// "listening on" line, which names the real port.
pub fn start(args: &[&str], env: &[(&str, &str)]) -> NodeProcess {
    let (node, lines) = spawn_listening(args, env);
    // Keep draining the log so the node never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    node
}

/// As [`start`], and every later log line arrives on the returned channel.
pub fn start_logged(args: &[&str]) -> (NodeProcess, std::sync::mpsc::Receiver<String>) {
    forward_log(spawn_listening(args, &[]))
}

/// As [`start_logged`], in the log format the node's own file (or the default) sets.
pub fn start_logged_as_configured(
    args: &[&str],
) -> (NodeProcess, std::sync::mpsc::Receiver<String>) {
    forward_log(spawn_node(args, &[]))
}

fn forward_log(
    (node, lines): (NodeProcess, LogLines),
) -> (NodeProcess, std::sync::mpsc::Receiver<String>) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (node, rx)
}

/// Waits up to `limit` for a line on `log` containing every one of `parts`; returns it.
pub fn await_line(
    log: &std::sync::mpsc::Receiver<String>,
    limit: Duration,
    parts: &[&str],
) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = log.recv_timeout(left).ok()?;
        if parts.iter().all(|p| line.contains(p)) {
            return Some(line);
        }
    }
}

/// Runs `gossip ARGS…` to completion.
pub fn gossip(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().expect("run gossip")
}

/// `gossip status PORT --json`, parsed; None if the node did not answer.
pub fn status(port: u16) -> Option<serde_json::Value> {
    status_at(&port.to_string(), &[])
}

/// `gossip status ADDR --json EXTRA…` (an IPv6 address, a `--cluster-key-file`), parsed;
/// None if the node did not answer.
pub fn status_at(addr: &str, extra: &[&str]) -> Option<serde_json::Value> {
    let mut args = vec!["status", addr, "--json", "--timeout-ms", "200"];
    args.extend_from_slice(extra);
    let out = gossip(&args);
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Polls `check` every 100 ms until it holds or `limit` passes; returns the time it took.
pub fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if check() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A port that was free a moment ago (for nodes that must come back on the same port).
pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gossip-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Writes a node file.
pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write config");
}
