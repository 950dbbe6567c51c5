//! A real multi-host partition: six network namespaces on a private bridge (via
//! scripts/netns-cluster.sh), split into halves, changed on both sides, healed; every node must
//! hold both changes within three anti-entropy intervals of the heal. Runs only as root with
//! `ip netns`; otherwise it says why it was skipped.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const HOSTS: usize = 6;
const ANTI_ENTROPY: Duration = Duration::from_millis(1000);

struct Cluster {
    prefix: String,
    subnet: String,
}

impl Cluster {
    fn script(&self, args: &[&str]) -> std::process::Output {
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/netns-cluster.sh"))
            .args(args)
            .env("GOSSIP_BIN", env!("CARGO_BIN_EXE_gossip"))
            .env("GOSSIP_NETNS_PREFIX", &self.prefix)
            .env("GOSSIP_NETNS_SUBNET", &self.subnet)
            .env(
                "GOSSIP_NETNS_ARGS",
                format!(
                    "--anti-entropy-ms {} --resample-secs 0",
                    ANTI_ENTROPY.as_millis()
                ),
            )
            .output()
            .expect("run scripts/netns-cluster.sh")
    }

    fn ok(&self, args: &[&str]) {
        let out = self.script(args);
        assert!(
            out.status.success(),
            "netns-cluster.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Host `i`'s status, asked from inside its namespace, with when it was asked.
    fn status(&self, i: usize) -> Option<(Instant, serde_json::Value)> {
        let asked = Instant::now();
        let out = self.script(&["status", &i.to_string(), "--json", "--timeout-ms", "300"]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok().map(|v| (asked, v)))
            .flatten()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.script(&["down"]);
    }
}

fn value(status: &serde_json::Value, origin: &str, key: &str) -> Option<(String, u64)> {
    status["known"].as_array()?.iter().find_map(|o| {
        (o["origin"] == origin).then(|| {
            Some((
                o["values"][key].as_str()?.to_string(),
                o["age_ms"].as_u64().unwrap_or(0),
            ))
        })?
    })
}

fn skip_reason() -> Option<String> {
    if Command::new("id").arg("-u").output().ok()?.stdout != b"0\n" {
        return Some("not root".into());
    }
    // Root in a container may still lack the rights: try what the script will do.
    let probe = format!("gp{}", std::process::id() % 100_000);
    let ip = |args: &[&str]| {
        Command::new("ip")
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let netns = ip(&["netns", "add", &probe]);
    let _ = ip(&["netns", "del", &probe]);
    let bridge = ip(&["link", "add", &probe, "type", "bridge"]);
    let _ = ip(&["link", "del", &probe]);
    match (netns, bridge) {
        (true, true) => None,
        (false, _) => Some("cannot create network namespaces (`ip netns add` failed)".into()),
        (_, false) => Some("cannot create a bridge (`ip link add … type bridge` failed)".into()),
    }
}

#[test]
fn a_six_host_cluster_split_in_halves_converges_within_three_intervals_of_the_heal() {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why} (this test creates network namespaces)");
        return;
    }
    let pid = std::process::id();
    let cluster = Cluster {
        prefix: format!("t{}", pid % 100_000),
        subnet: format!("10.{}", 100 + pid % 100),
    };
    cluster.ok(&["up", &HOSTS.to_string()]);
    let all = 1..=HOSTS;
    assert!(
        common::wait_for(Duration::from_secs(30), || all.clone().all(|i| {
            cluster
                .status(i)
                .is_some_and(|(_, s)| s["known"].as_array().map(Vec::len) == Some(HOSTS))
        }))
        .is_some(),
        "the six hosts never all knew each other"
    );

    cluster.ok(&["cut", "4", "5", "6"]);
    // Long enough for each half to declare the other dead.
    std::thread::sleep(Duration::from_secs(3));
    cluster.ok(&["set", "1", "side", "left"]);
    cluster.ok(&["set", "4", "side", "right"]);
    assert!(
        common::wait_for(Duration::from_secs(10), || {
            cluster
                .status(3)
                .is_some_and(|(_, s)| value(&s, "host1", "side").is_some())
                && cluster
                    .status(6)
                    .is_some_and(|(_, s)| value(&s, "host4", "side").is_some())
        })
        .is_some(),
        "each half spreads its own change"
    );
    let (_, across) = cluster.status(2).expect("host 2 answers");
    assert!(
        value(&across, "host4", "side").is_none(),
        "the partition leaked"
    );

    cluster.ok(&["heal"]);
    let healed = Instant::now();
    let mut learned_after = Vec::new();
    assert!(
        common::wait_for(Duration::from_secs(20), || {
            learned_after.clear();
            all.clone().all(|i| {
                let Some((asked, s)) = cluster.status(i) else {
                    return false;
                };
                for (origin, side) in [("host1", "left"), ("host4", "right")] {
                    match value(&s, origin, "side") {
                        Some((v, age)) if v == side => {
                            // When this node learned it, by its own account.
                            let at = asked - Duration::from_millis(age);
                            learned_after.push(at.saturating_duration_since(healed));
                        }
                        _ => return false,
                    }
                }
                true
            })
        })
        .is_some(),
        "not every host holds both sides' changes after the heal"
    );
    let slowest = learned_after.iter().max().copied().unwrap_or_default();
    println!("every host held both changes {slowest:?} after the heal");
    assert!(
        slowest <= 3 * ANTI_ENTROPY,
        "convergence took {slowest:?}, more than three anti-entropy intervals"
    );
}
