//! Arbitrary bytes from arbitrary sources at arbitrary times, fed to a real node: the shared
//! harness of the cargo-fuzz target `node_handler` and its property-test twin in `cargo test`.
//!
//! The input is read as records `[source][ms to advance][kind][len: u16 LE][payload]`; `kind`
//! picks raw bytes, bytes behind a valid header (to reach the body decoder), or a valid sample
//! datagram with payload-chosen bytes flipped (to reach the handlers with near-valid input).

use std::net::SocketAddr;
use std::time::Duration;

use crate::core::{Node, NodeConfig, Time};
use crate::wire::samples::one_of_each;
use crate::wire::{ClusterId, NodeId, Origin, Packer, MAX_DATAGRAM};

/// The node under attack: n7000 with two static peers, no book re-draws.
pub fn victim() -> Node {
    let addr = SocketAddr::from(([127, 0, 0, 1], 7000));
    let mut c = NodeConfig::new(NodeId::from("n7000"), addr);
    c.static_peers = vec![
        SocketAddr::from(([127, 0, 0, 1], 7001)),
        SocketAddr::from(([127, 0, 0, 1], 7003)),
    ];
    let mut node = Node::new(c, Time::ZERO, 1);
    let _ = node.preload(Time::ZERO, "book", bytes::Bytes::from_static(b"Dune"), None);
    node
}

/// Feeds `input` to `node` as described above; returns how many datagrams were delivered.
/// Never panics unless the node does.
pub fn feed(node: &mut Node, input: &[u8]) -> usize {
    let cluster = ClusterId::from_name("gossip");
    let samples: Vec<Vec<u8>> = one_of_each()
        .into_iter()
        .filter_map(|m| {
            let sender = Origin {
                id: NodeId::from("n7001"),
                addr: SocketAddr::from(([127, 0, 0, 1], 7001)),
            };
            Packer::new(cluster, Some(sender), MAX_DATAGRAM)
                .single(&m)
                .ok()
        })
        .collect();
    let mut now = Time::ZERO;
    let mut rest = input;
    let mut delivered = 0;
    while rest.len() >= 5 {
        let (source, dt, kind) = (rest[0], rest[1], rest[2]);
        let len = usize::from(u16::from_le_bytes([rest[3], rest[4]]));
        rest = &rest[5..];
        let payload = &rest[..len.min(rest.len())];
        rest = &rest[payload.len()..];
        now += Duration::from_millis(u64::from(dt));
        while node.next_timeout().is_some_and(|t| t <= now) {
            node.handle_timeout(now);
            drain(node, now);
        }
        let bytes = match kind % 3 {
            0 => payload.to_vec(),
            1 => {
                let mut b = samples[0][..crate::wire::Header::LEN].to_vec();
                b.extend_from_slice(payload);
                b
            }
            _ => {
                let which = payload.first().map_or(0, |&p| usize::from(p)) % samples.len();
                let mut b = samples[which].clone();
                for pair in payload.get(1..).unwrap_or(&[]).chunks(2) {
                    if let [at, value] = *pair {
                        let i = usize::from(at) % b.len();
                        b[i] ^= value;
                    }
                }
                b
            }
        };
        // A handful of sources, peers among them, so learned state can matter.
        let from = SocketAddr::from(([127, 0, 0, 1], 7000 + u16::from(source % 8)));
        node.handle_datagram(now, from, &bytes);
        drain(node, now);
        delivered += 1;
    }
    delivered
}

fn drain(node: &mut Node, now: Time) {
    while node.poll_transmit(now).is_some() {}
    while node.poll_event().is_some() {}
}
