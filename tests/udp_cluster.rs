//! Real UDP on 127.0.0.1 with kernel-chosen ports: nodes in one process, each on its own socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gossip::core::{Fanout, NodeConfig};
use gossip::runtime::client::AdminClient;
use gossip::runtime::local::{start_local_node, wait_until};
use gossip::runtime::NodeHandle;
use gossip::wire::{encode_status, ClusterId, DEFAULT_MTU};

fn books() -> Vec<String> {
    gossip::config::load_books(None).expect("books")
}

/// What every node currently reads: id → book, as each node sees the whole cluster.
async fn views(nodes: &[NodeHandle]) -> Vec<HashMap<String, Option<bytes::Bytes>>> {
    let mut out = Vec::new();
    for n in nodes {
        let view = n
            .inspect(|node, _| {
                node.store()
                    .origins()
                    .filter_map(|(id, s)| {
                        s.values
                            .get("book")
                            .map(|b| (id.to_string(), b.value.clone()))
                    })
                    .collect::<HashMap<_, _>>()
            })
            .await
            .unwrap_or_default();
        out.push(view);
    }
    out
}

/// True when every node sees every node's current book.
async fn all_books_everywhere(nodes: &[NodeHandle]) -> bool {
    let views = views(nodes).await;
    let mut truth = HashMap::new();
    for (n, v) in nodes.iter().zip(&views) {
        let id = format!("n{}", n.addr.port());
        match v.get(&id) {
            Some(book) => truth.insert(id, book.clone()),
            None => return false,
        };
    }
    views.iter().all(|v| *v == truth)
}

async fn start(
    epoch: Instant,
    n: usize,
    mut tune: impl FnMut(usize, &[SocketAddr], &mut NodeConfig),
) -> Vec<NodeHandle> {
    let mut nodes: Vec<NodeHandle> = Vec::new();
    for i in 0..n {
        let addrs: Vec<SocketAddr> = nodes.iter().map(|h| h.addr).collect();
        let h = start_local_node(epoch, books(), 1000 + i as u64, |c| tune(i, &addrs, c))
            .expect("bind 127.0.0.1:0");
        nodes.push(h);
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_over_udp() {
    let epoch = Instant::now();
    let nodes = start(epoch, 3, |i, prev, c| {
        if i > 0 {
            c.static_peers = vec![prev[i - 1]];
        }
    })
    .await;
    let took = wait_until(Duration::from_secs(20), Duration::from_millis(20), || {
        all_books_everywhere(&nodes)
    })
    .await;
    assert!(took.is_some(), "3 nodes did not converge");
    // A set on the last node reaches the first, two hops away.
    let version = nodes[2].set("color", "blue").await.unwrap().unwrap();
    let id = format!("n{}", nodes[2].addr.port());
    let reached = wait_until(Duration::from_secs(10), Duration::from_millis(10), || {
        let id = id.clone();
        let first = &nodes[0];
        async move {
            first
                .inspect(move |n, _| {
                    n.store()
                        .get(&id.as_str().into())
                        .and_then(|s| s.values.get("color").cloned())
                })
                .await
                .flatten()
                .is_some_and(|v| v.value.as_deref() == Some(&b"blue"[..]) && v.version == version)
        }
    })
    .await;
    assert!(reached.is_some(), "set did not reach node 0");
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_nodes_from_one_bootstrap_learn_all_thirty_books() {
    let epoch = Instant::now();
    let nodes = start(epoch, 30, |i, prev, c| {
        if i > 0 {
            c.bootstrap = vec![prev[0]];
        }
    })
    .await;
    let took = wait_until(Duration::from_secs(30), Duration::from_millis(50), || {
        all_books_everywhere(&nodes)
    })
    .await;
    assert!(took.is_some(), "30 nodes did not all learn all 30 books");
    for n in &nodes {
        let peers = n.inspect(|node, _| node.peers().len()).await.unwrap();
        assert_eq!(peers, 29, "every node should know every other as a peer");
    }
    // The status of a 30-node view does not fit one datagram: it must arrive paged, complete.
    let client = AdminClient::new(
        nodes[0].addr,
        ClusterId::from_name("gossip"),
        Duration::from_millis(300),
    )
    .await
    .unwrap();
    let report = client.status().await.expect("status");
    assert_eq!(report.known.len(), 30);
    assert_eq!(report.peers.len(), 29);
    assert!(encode_status(&report).unwrap().len() > 2 * DEFAULT_MTU);
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_percent_drop_on_every_node_still_converges() {
    let epoch = Instant::now();
    let nodes = start(epoch, 10, |i, prev, c| {
        c.fault.drop_rate = 0.3;
        c.anti_entropy = Duration::from_millis(200);
        if i > 0 {
            c.bootstrap = vec![prev[0]];
        }
    })
    .await;
    let took = wait_until(Duration::from_secs(60), Duration::from_millis(50), || {
        all_books_everywhere(&nodes)
    })
    .await;
    assert!(took.is_some(), "no convergence with 30% drop");
    let dropped: u64 = {
        let mut sum = 0;
        for n in &nodes {
            sum += n
                .inspect(|node, _| node.counters().fault_dropped)
                .await
                .unwrap();
        }
        sum
    };
    assert!(dropped > 0, "the fault layer dropped nothing");
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_run_does_not_stop_the_others() {
    let epoch = Instant::now();
    let mut nodes = start(epoch, 6, |i, prev, c| {
        c.fanout = Fanout::Count(2);
        if i > 0 {
            c.bootstrap = vec![prev[0]];
        }
    })
    .await;
    assert!(
        wait_until(Duration::from_secs(20), Duration::from_millis(20), || {
            all_books_everywhere(&nodes)
        })
        .await
        .is_some()
    );
    // Kill the bootstrap node itself, as SIGKILL would: no goodbye.
    nodes.remove(0).abort();
    for (i, n) in nodes.iter().enumerate() {
        n.set("book", &format!("After the Fall {i}"))
            .await
            .unwrap()
            .unwrap();
    }
    let took = wait_until(
        Duration::from_secs(30),
        Duration::from_millis(20),
        || async {
            let views = views(&nodes).await;
            views.iter().all(|v| {
                (0..nodes.len()).all(|i| {
                    let id = format!("n{}", nodes[i].addr.port());
                    v.get(&id) == Some(&Some(format!("After the Fall {i}").into()))
                })
            })
        },
    )
    .await;
    assert!(
        took.is_some(),
        "survivors stopped spreading news after a kill"
    );
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn a_library_node_answers_admin_requests_only_when_asked_to() {
    let ask = |addr| async move {
        let client = AdminClient::new(
            addr,
            ClusterId::from_name("gossip"),
            Duration::from_millis(50),
        )
        .await
        .unwrap();
        client.status().await
    };
    let quiet = gossip::Gossip::builder("127.0.0.1:0".parse().unwrap())
        .spawn()
        .await
        .unwrap();
    assert!(
        ask(quiet.addr()).await.is_err(),
        "the admin endpoint is off by default"
    );
    let open = gossip::Gossip::builder("127.0.0.1:0".parse().unwrap())
        .admin(gossip::AdminAccess::Loopback)
        .spawn()
        .await
        .unwrap();
    let report = ask(open.addr()).await.expect("status when enabled");
    assert_eq!(report.id, open.id());
    quiet.shutdown().await;
    open.shutdown().await;
}
