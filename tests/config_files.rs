//! The shipped 5-node topology: every file parses, ports are distinct, and following the
//! configured peers from any node reaches every other (so relay is possible before discovery).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;

use gossip::config::{resolve, FileConfig, NodeArgs};

#[test]
fn the_shipped_topology_is_valid_and_connected() {
    let mut nodes: HashMap<SocketAddr, Vec<SocketAddr>> = HashMap::new();
    for port in 7000..=7004 {
        let path = format!("{}/config/node-{port}.toml", env!("CARGO_MANIFEST_DIR"));
        let file = FileConfig::load(path.as_ref()).unwrap_or_else(|e| panic!("{e}"));
        let settings = resolve(&NodeArgs::default(), &file).expect("resolves");
        assert_eq!(settings.bind.port(), port);
        assert_eq!(settings.node.id.as_str(), format!("n{port}"));
        let peers = settings.node.static_peers.clone();
        assert!(
            (1..=2).contains(&peers.len()),
            "each node names one or two peers"
        );
        nodes.insert(settings.bind, peers);
    }
    for start in nodes.keys() {
        let mut seen = HashSet::from([*start]);
        let mut queue = VecDeque::from([*start]);
        while let Some(n) = queue.pop_front() {
            for p in &nodes[&n] {
                if seen.insert(*p) {
                    queue.push_back(*p);
                }
            }
        }
        assert_eq!(seen.len(), 5, "not every node is reachable from {start}");
    }
}
