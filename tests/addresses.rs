//! Addresses beyond 127.0.0.1: IPv6 for bind and peers, and `--advertise` for a node whose
//! bind address is not the one peers should use.

mod common;

use std::time::Duration;

use common::{gossip, start, wait_for};

fn status_at(addr: &str) -> Option<serde_json::Value> {
    common::status_at(addr, &[])
}

fn known(status: &serde_json::Value) -> Vec<(String, String)> {
    status["known"]
        .as_array()
        .map(|k| {
            k.iter()
                .map(|o| {
                    (
                        o["origin"].as_str().unwrap_or_default().to_string(),
                        o["addr"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_ipv6_cluster_forms_and_spreads_over_loopback() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let a = start(&["--bind", "[::1]:0", "--resample-secs", "0"], &[]);
    let seed = format!("[::1]:{}", a.port);
    let b = start(
        &[
            "--bind",
            "[::1]:0",
            "--bootstrap",
            &seed,
            "--resample-secs",
            "0",
        ],
        &[],
    );
    let c = start(
        &["--bind", "[::1]:0", "--peer", &seed, "--resample-secs", "0"],
        &[],
    );
    let addrs: Vec<String> = [&a, &b, &c]
        .iter()
        .map(|n| format!("[::1]:{}", n.port))
        .collect();
    let out = gossip(&["set", &addrs[2], "color", "violet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spread = wait_for(Duration::from_secs(15), || {
        addrs.iter().all(|addr| {
            status_at(addr).is_some_and(|s| {
                s["known"].as_array().is_some_and(|k| {
                    k.len() == 3
                        && k.iter()
                            .any(|o| o["values"]["color"].as_str() == Some("violet"))
                })
            })
        })
    });
    assert!(spread.is_some(), "the IPv6 cluster did not converge");
    let s = status_at(&addrs[0]).unwrap();
    assert!(
        known(&s).iter().all(|(_, addr)| addr.starts_with("[::1]:")),
        "{s}"
    );
}

#[test]
fn advertise_sets_the_address_peers_use() {
    // Bound to every interface, reachable (and announced) as 127.0.0.2.
    let a = start(
        &[
            "--bind",
            "0.0.0.0:0",
            "--advertise",
            "127.0.0.2",
            "--resample-secs",
            "0",
        ],
        &[],
    );
    let advertised = format!("127.0.0.2:{}", a.port);
    let b = start(
        &[
            "--port",
            "0",
            "--bootstrap",
            &format!("127.0.0.1:{}", a.port),
            "--resample-secs",
            "0",
        ],
        &[],
    );
    let a_id = format!("n{}", a.port);
    let seen = wait_for(Duration::from_secs(15), || {
        status_at(&b.port.to_string()).is_some_and(|s| {
            known(&s)
                .iter()
                .any(|(id, addr)| *id == a_id && *addr == advertised)
        })
    });
    assert!(
        seen.is_some(),
        "b never learned a at its advertised address"
    );
    let s = status_at(&advertised).expect("a answers at its advertised address");
    assert_eq!(s["addr"], advertised.as_str());
    let bad = gossip(&["node", "--port", "0", "--advertise", "0.0.0.0:7000"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unspecified advertise address is refused"
    );
}
