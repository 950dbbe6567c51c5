//! The bad-input catalogue: every kind of hostile or broken datagram a node can be sent, each
//! dropped and counted under its own counter, none crashing the node or changing its state.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gossip::core::{Node, NodeConfig, Time};
use gossip::wire::samples::{one_of_each, typical_rumor};
use gossip::wire::*;

const WALL: u64 = 1_800_000_000_000_000; // µs since 1970: November 2026

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn key(b: u8) -> Arc<Keyring> {
    Arc::new(Keyring::new(ClusterKey::from_bytes([b; 32])))
}

/// Node n7000 with one static peer (7001); keyed with key 1 if `keyed`.
fn victim(keyed: bool) -> Node {
    let mut c = NodeConfig::new(NodeId::from("n7000"), addr(7000));
    c.static_peers = vec![addr(7001)];
    c.wall_clock_at_zero_us = WALL;
    if keyed {
        c.keyring = Some(key(1));
    }
    let mut n = Node::new(c, Time::ZERO, 7);
    n.preload(Time::ZERO, "book", bytes::Bytes::from_static(b"Dune"), None)
        .unwrap();
    while n.poll_transmit(Time::ZERO).is_some() {}
    while n.poll_event().is_some() {}
    n
}

/// What a hostile datagram must not change.
fn snapshot(n: &Node) -> String {
    let mut origins: Vec<String> = n
        .store()
        .origins()
        .map(|(id, s)| format!("{id}@{}", s.watermark))
        .collect();
    origins.sort();
    let mut peers: Vec<String> = n
        .peers()
        .iter()
        .map(|p| format!("{}:{:?}:{}", p.addr, p.state, p.incarnation))
        .collect();
    peers.sort();
    format!(
        "{origins:?} {peers:?} inc={} v={}",
        n.incarnation(),
        n.store().own().watermark
    )
}

fn sender(port: u16) -> Origin {
    Origin {
        id: NodeId::from(format!("n{port}")),
        addr: addr(port),
    }
}

fn packet(cluster: &str, messages: &[Message]) -> Vec<u8> {
    let mut out = Packer::new(
        ClusterId::from_name(cluster),
        Some(sender(7001)),
        MAX_DATAGRAM,
    )
    .pack(messages)
    .unwrap();
    assert_eq!(out.len(), 1);
    out.remove(0)
}

fn sealed(plain: &[u8], k: u8, sent_us: u64, nonce: u8) -> Vec<u8> {
    seal(plain, &key(k), [nonce; 24], sent_us)
}

/// Delivers `bytes` and checks it was refused under `counter` and changed nothing.
fn refused(node: &mut Node, bytes: &[u8], counter: &str) {
    let before = snapshot(node);
    let count = |n: &Node| {
        n.counters()
            .decode_by_reason
            .get(counter)
            .copied()
            .unwrap_or(0)
    };
    let was = count(node);
    let t = Time::ZERO + Duration::from_millis(10);
    node.handle_datagram(t, addr(7001), bytes);
    let sent: Vec<_> = std::iter::from_fn(|| node.poll_transmit(t)).collect();
    assert_eq!(
        count(node),
        was + 1,
        "not counted as {counter}: {:?}",
        node.counters().decode_by_reason
    );
    assert_eq!(snapshot(node), before, "{counter} changed the node's state");
    assert!(sent.is_empty(), "{counter} got an answer");
}

#[test]
fn malformed_frames_are_refused_each_under_its_own_counter() {
    let mut n = victim(false);
    let good = packet("gossip", &[Message::Rumor(typical_rumor())]);
    refused(&mut n, &[], "decode_empty");
    refused(&mut n, &[0x47], "decode_too_short");
    refused(&mut n, &vec![0; MAX_DATAGRAM + 1], "decode_too_long");
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0, 0, 0]);
    refused(&mut n, &trailing, "decode_trailing_bytes");
    let mut bad = good.clone();
    bad[0] = b'X';
    refused(&mut n, &bad, "decode_bad_magic");
    let mut bad = good.clone();
    bad[4] = PROTOCOL_VERSION + 1;
    refused(&mut n, &bad, "decode_bad_version");
    refused(
        &mut n,
        &packet("other", &[Message::Rumor(typical_rumor())]),
        "decode_wrong_cluster",
    );
    let mut bad = good.clone();
    bad[5] = 0x80;
    refused(&mut n, &bad, "decode_invalid_field");
    // A membership fact from another cluster (a node we never heard of) is just as foreign.
    let foreign = Message::Members(Members {
        updates: vec![MemberUpdate {
            member: sender(9999),
            incarnation: 1,
            state: MemberState::Dead,
            by: None,
        }],
    });
    refused(&mut n, &packet("other", &[foreign]), "decode_wrong_cluster");
}

#[test]
fn every_truncation_of_every_message_type_is_refused() {
    let mut n = victim(false);
    for message in one_of_each() {
        let good = packet("gossip", &[message]);
        for cut in 0..good.len() {
            let before = snapshot(&n);
            let refusals = n.counters().decode_errors;
            // A fresh source each time: one source sending this much junk would be banned.
            let from = SocketAddr::from(([10, 0, (cut >> 8) as u8, cut as u8], 7000));
            n.handle_datagram(Time::ZERO, from, &good[..cut]);
            assert_eq!(n.counters().decode_errors, refusals + 1, "cut at {cut}");
            assert_eq!(snapshot(&n), before);
        }
    }
    let by = &n.counters().decode_by_reason;
    assert!(
        by.get("decode_truncated").is_some_and(|&c| c > 100),
        "{by:?}"
    );
    assert!(by.contains_key("decode_too_short"));
}

#[test]
fn random_bytes_never_crash_or_change_a_node() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
    let mut n = victim(false);
    let before = snapshot(&n);
    let header = &packet("gossip", &[Message::Ping(Ping { seq: 1 })])[..Header::LEN];
    for i in 0..20_000u32 {
        let len = rng.random_range(0..2000);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        // Half of them get a valid header, so the body decoder is attacked too.
        if i % 2 == 0 && bytes.len() > Header::LEN {
            bytes[..Header::LEN].copy_from_slice(header);
        }
        // Many sources, so the flood guard does not hide the decoder from the test.
        let from = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 7000));
        n.handle_datagram(Time::ZERO, from, &bytes);
    }
    assert_eq!(snapshot(&n), before);
    assert!(n.counters().decode_errors >= 19_000);
}

#[test]
fn absurd_values_are_refused() {
    let mut n = victim(false);
    let mut r = typical_rumor();
    r.ttl = 255;
    refused(
        &mut n,
        &packet("gossip", &[Message::Rumor(r)]),
        "absurd_ttl",
    );
    let mut r = typical_rumor();
    r.version = u64::MAX;
    r.entries[0].version = u64::MAX;
    refused(
        &mut n,
        &packet("gossip", &[Message::Rumor(r)]),
        "absurd_version",
    );
    let peers = (0..300).map(|i| sender(10_000 + i)).collect();
    let list = Message::PeerList(PeerList {
        peers,
        your_version: 0,
        your_fingerprint: 0,
        your_incarnation: 0,
    });
    refused(&mut n, &packet("gossip", &[list]), "absurd_peer_list");
    let forever = Message::Members(Members {
        updates: vec![MemberUpdate {
            member: sender(7001),
            incarnation: u64::MAX,
            state: MemberState::Alive,
            by: None,
        }],
    });
    refused(&mut n, &packet("gossip", &[forever]), "absurd_incarnation");
}

#[test]
fn a_stranger_claiming_our_id_is_ignored() {
    let mut n = victim(false);
    let imposter = Origin {
        id: NodeId::from("n7000"),
        addr: addr(7666),
    };
    let bytes = Packer::new(ClusterId::from_name("gossip"), Some(imposter), DEFAULT_MTU)
        .single(&Message::Rumor(typical_rumor()))
        .unwrap();
    refused(&mut n, &bytes, "stranger_claims_our_id");
}

#[test]
fn a_keyed_node_refuses_plain_foreign_keyed_tampered_and_replayed_datagrams() {
    let ping = packet("gossip", &[Message::Ping(Ping { seq: 1 })]);
    let mut n = victim(true);
    refused(&mut n, &ping, "auth_unsealed");
    refused(&mut n, &sealed(&ping, 2, WALL, 1), "auth_failed");
    let mut tampered = sealed(&ping, 1, WALL, 2);
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    refused(&mut n, &tampered, "auth_failed");
    // The right key works once…
    let good = sealed(&ping, 1, WALL, 3);
    n.handle_datagram(Time::ZERO, addr(7001), &good);
    assert!(
        n.poll_transmit(Time::ZERO).is_some(),
        "an authentic ping is answered"
    );
    // …and never again.
    refused(&mut n, &good, "replay_duplicate");
    refused(
        &mut n,
        &sealed(&ping, 1, WALL - 60_000_000, 4),
        "replay_outside_window",
    );
    refused(
        &mut n,
        &sealed(&ping, 1, WALL + 60_000_000, 5),
        "replay_outside_window",
    );
    // A node without the key cannot read a keyed cluster's datagrams either.
    let mut open = victim(false);
    refused(&mut open, &good, "auth_sealed_without_key");
}

#[test]
fn unkeyed_admin_requests_are_accepted_from_loopback_only() {
    let mut n = victim(false);
    let admin = Packer::new(ClusterId::from_name("gossip"), None, DEFAULT_MTU)
        .single(&Message::StatusRequest(StatusRequest {
            request: 1,
            page: 0,
        }))
        .unwrap();
    let t = Time::ZERO;
    n.handle_datagram(t, SocketAddr::from(([10, 1, 2, 3], 5555)), &admin);
    // Refused, with the reason (so the client can say why instead of "no answer").
    let reply = n.poll_transmit(t).expect("a refusal is answered");
    let reasons: Vec<String> = decode_datagram(ClusterId::from_name("gossip"), &reply.bytes)
        .unwrap()
        .messages
        .into_iter()
        .filter_map(|m| match m {
            Message::Refused(r) => Some(r.reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 1);
    assert!(reasons[0].contains("only from loopback"), "{reasons:?}");
    assert!(n.poll_transmit(t).is_none(), "and nothing else");
    assert_eq!(n.counters().decode_by_reason.get("admin_refused"), Some(&1));
    n.handle_datagram(t, addr(5555), &admin);
    assert!(n.poll_transmit(t).is_some(), "loopback is answered");
}

#[test]
fn a_source_spraying_junk_is_banned_and_others_still_get_through() {
    let mut n = victim(false);
    let sprayer = SocketAddr::from(([10, 9, 9, 9], 4444));
    for _ in 0..10_000 {
        n.handle_datagram(Time::ZERO, sprayer, b"GSP\x01junkjunkjunkjunk");
    }
    let by = n.counters().decode_by_reason.clone();
    assert_eq!(n.counters().sources_banned, 1);
    assert!(by.get("flood_banned").is_some_and(|&c| c > 9_000), "{by:?}");
    // A real peer is unaffected.
    let ping = packet("gossip", &[Message::Ping(Ping { seq: 7 })]);
    n.handle_datagram(Time::ZERO, addr(7001), &ping);
    assert!(n.poll_transmit(Time::ZERO).is_some());
}

mod fuzz_shaped {
    use gossip::sim::chaos;
    use proptest::prelude::*;

    /// Records in the cargo-fuzz `node_handler` input format.
    fn records() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            (
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                proptest::collection::vec(any::<u8>(), 0..300),
            ),
            0..40,
        )
        .prop_map(|recs| {
            let mut out = Vec::new();
            for (source, dt, kind, payload) in recs {
                out.extend([source, dt, kind]);
                out.extend((payload.len() as u16).to_le_bytes());
                out.extend(payload);
            }
            out
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The same shape as the `node_handler` fuzz target: any sequence of deliveries from
        /// any sources at any times leaves a working node.
        #[test]
        fn arbitrary_deliveries_never_crash_a_node(input in records()) {
            let mut node = chaos::victim();
            let delivered = chaos::feed(&mut node, &input);
            prop_assert!(node.counters().datagrams_in as usize == delivered);
            // Still answers a real peer afterwards.
            let peer = super::Origin {
                id: super::NodeId::from("n9000"),
                addr: "127.0.0.2:9000".parse().unwrap(),
            };
            let ping = super::Packer::new(super::ClusterId::from_name("gossip"), Some(peer.clone()), 1400)
                .single(&super::Message::Ping(super::Ping { seq: 99 }))
                .unwrap();
            let later = super::Time::ZERO + std::time::Duration::from_secs(3600);
            node.handle_datagram(later, peer.addr, &ping);
            let answered = std::iter::from_fn(|| node.poll_transmit(later)).any(|t| t.to == peer.addr);
            prop_assert!(answered, "the node stopped answering pings");
        }
    }
}
