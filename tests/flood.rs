//! A junk flood against a real UDP node: one local sender sprays 50,000 datagrams a second
//! at a node of a 10-node cluster while a legitimate update must still reach every node.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gossip::runtime::local::{start_local_node, wait_until};
use gossip::runtime::NodeHandle;

const RATE: u64 = 50_000;

/// Sends junk at `RATE` datagrams a second to `target` until `stop`; returns how many.
fn spray(target: SocketAddr, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind sprayer");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let start = Instant::now();
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        // Pace in 1 ms slices: as many as the rate allows so far.
        let due = start.elapsed().as_micros() as u64 * RATE / 1_000_000;
        while n < due {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 1 + (x % 600) as usize;
            let mut junk: Vec<u8> = (0..len).map(|i| (x >> (i % 56)) as u8).collect();
            if n.is_multiple_of(3) && len > 4 {
                junk[..4].copy_from_slice(b"GSP\x01"); // gets past the magic check
            }
            let _ = socket.send_to(&junk, target);
            n += 1;
        }
        sent.store(n, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(1));
    }
}

async fn holds(node: &NodeHandle, origin: String, version: u64) -> bool {
    node.inspect(move |n, _| {
        n.id().as_str() == origin
            || n.store()
                .get(&origin.as_str().into())
                .is_some_and(|s| s.watermark >= version)
    })
    .await
    .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_reaches_all_ten_nodes_while_one_is_sprayed_with_50k_junk_datagrams_a_second() {
    let epoch = Instant::now();
    let mut nodes: Vec<NodeHandle> = Vec::new();
    for i in 0..10 {
        let bootstrap: Vec<SocketAddr> = nodes.first().map(|n| n.addr).into_iter().collect();
        let h = start_local_node(epoch, Vec::new(), 500 + i, |c| {
            c.bootstrap = bootstrap;
        })
        .expect("bind");
        nodes.push(h);
    }
    // Everyone knows everyone first.
    let ids: Vec<String> = nodes
        .iter()
        .map(|n| format!("n{}", n.addr.port()))
        .collect();
    let all_known = wait_until(Duration::from_secs(20), Duration::from_millis(50), || {
        let nodes = &nodes;
        let ids = ids.clone();
        async move {
            for n in nodes {
                for id in &ids {
                    if !holds(n, id.clone(), 1).await {
                        return false;
                    }
                }
            }
            true
        }
    })
    .await;
    assert!(all_known.is_some(), "cluster did not form");

    let victim = nodes[0].addr;
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let sprayer = {
        let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
        std::thread::spawn(move || spray(victim, stop, sent))
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let flood_start = Instant::now();
    let sent_before = sent.load(Ordering::Relaxed);

    // The update starts at node 5; the sprayed node must get it too.
    let version = nodes[5].set("news", "still here").await.unwrap().unwrap();
    let origin = format!("n{}", nodes[5].addr.port());
    let reached = wait_until(Duration::from_secs(15), Duration::from_millis(20), || {
        let nodes = &nodes;
        let origin = origin.clone();
        async move {
            for n in nodes {
                if !holds(n, origin.clone(), version).await {
                    return false;
                }
            }
            true
        }
    })
    .await;
    // Keep spraying a little longer so the rate below covers a real interval.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rate =
        (sent.load(Ordering::Relaxed) - sent_before) as f64 / flood_start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = sprayer.join();
    let counters = nodes[0]
        .inspect(|n, _| n.counters().clone())
        .await
        .expect("victim alive");
    println!(
        "spray rate {rate:.0}/s; update everywhere after {reached:?}; victim refused {} ({:?})",
        counters.decode_errors, counters.decode_by_reason
    );
    assert!(
        reached.is_some(),
        "the update did not reach every node under the flood"
    );
    assert!(
        rate > 0.6 * RATE as f64,
        "the sprayer only managed {rate:.0}/s"
    );
    assert_eq!(counters.sources_banned, 1, "the sprayer is banned once");
    assert!(counters
        .decode_by_reason
        .get("flood_banned")
        .is_some_and(|&n| n > 1000));
    for n in nodes {
        n.shutdown().await;
    }
}
