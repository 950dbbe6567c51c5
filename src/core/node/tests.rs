//! Node behaviour with hand-advanced time and fixed seeds: two or three nodes, datagrams moved
//! by hand, so every step is visible.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::core::{Event, Fanout, Route, RumorMode};
use bytes::Bytes;

use crate::wire::{
    decode_datagram, decode_status, Delta, Entry, Message, Origin, OriginDelta, Packer, Payload,
    Rumor, StatusRequest, DEFAULT_MTU,
};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn node(port: u16, peers: &[u16], tune: impl FnOnce(&mut NodeConfig)) -> Node {
    let mut c = NodeConfig::new(NodeId::from(format!("n{port}")), addr(port));
    c.static_peers = peers.iter().map(|&p| addr(p)).collect();
    tune(&mut c);
    let mut n = Node::new(c, Time::ZERO, port as u64);
    n.preload(Time::ZERO, "book", Bytes::from_static(b"Dune"), None)
        .unwrap();
    n
}

/// The text a stored value holds (None for a missing or deleted key).
fn text(v: Option<&crate::core::store::Versioned>) -> Option<&str> {
    std::str::from_utf8(v?.value.as_deref()?).ok()
}

fn drain(n: &mut Node, now: Time) -> Vec<Transmit> {
    std::iter::from_fn(|| n.poll_transmit(now)).collect()
}

fn messages(t: &Transmit) -> Vec<Message> {
    decode_datagram(ClusterId::from_name("gossip"), &t.bytes)
        .expect("our own datagrams decode")
        .messages
}

fn rumor(origin_port: u16, version: u64, ttl: u8) -> Rumor {
    Rumor {
        id: uuid::Uuid::from_u128(origin_port as u128 * 1000 + version as u128),
        origin: Origin {
            id: NodeId::from(format!("n{origin_port}")),
            addr: addr(origin_port),
        },
        since: version - 1,
        version,
        ttl,
        hops: 0,
        entries: vec![Entry {
            key: "book".into(),
            value: Payload::Inline(format!("Book {version}").into_bytes()),
            version,
            expires_ms: None,
            sig: None,
        }],
        signer: None,
    }
}

fn datagram_from(port: u16, messages: &[Message]) -> Vec<Vec<u8>> {
    let sender = Origin {
        id: NodeId::from(format!("n{port}")),
        addr: addr(port),
    };
    Packer::new(ClusterId::from_name("gossip"), Some(sender), DEFAULT_MTU)
        .pack(messages)
        .unwrap()
}

use crate::wire::ClusterId;

/// Teaches `node` one origin per port in `ports`, each reading `book`, as anti-entropy would.
fn learn_origins(node: &mut Node, ports: std::ops::Range<u16>, book: &str) {
    let deltas: Vec<Message> = ports
        .map(|p| {
            Message::Delta(Delta {
                origins: vec![OriginDelta {
                    origin: Origin {
                        id: NodeId::from(format!("n{p}")),
                        addr: addr(p),
                    },
                    since: 0,
                    upto: 1,
                    entries: vec![Entry {
                        key: "book".into(),
                        value: Payload::Inline(book.as_bytes().to_vec()),
                        version: 1,
                        expires_ms: None,
                        sig: None,
                    }],
                    reset: false,
                    signer: None,
                    head: None,
                }],
            })
        })
        .collect();
    for bytes in datagram_from(9, &deltas) {
        node.handle_datagram(Time::ZERO, addr(9), &bytes);
    }
}

#[test]
fn a_rumor_is_relayed_once_with_ttl_minus_one_and_duplicates_are_dropped() {
    let mut a = node(1, &[2, 3], |c| {
        c.fanout = Fanout::All;
        c.dissemination.rumors = RumorMode::Relay;
    });
    drain(&mut a, Time::ZERO);
    let bytes = datagram_from(9, &[Message::Rumor(rumor(9, 1, 3))]).remove(0);
    a.handle_datagram(Time::from_millis(1), addr(9), &bytes);
    let out = drain(&mut a, Time::from_millis(1));
    let relayed: Vec<_> = out
        .iter()
        .flat_map(|t| messages(t).into_iter().map(move |m| (t.to, m)))
        .filter_map(|(to, m)| match m {
            Message::Rumor(r) => Some((to, r.ttl, r.hops)),
            _ => None,
        })
        .collect();
    assert_eq!(
        relayed.len(),
        2,
        "relayed to both other peers, not back to the sender"
    );
    assert!(relayed.iter().all(|&(_, ttl, hops)| ttl == 2 && hops == 1));
    a.handle_datagram(Time::from_millis(2), addr(2), &bytes);
    assert!(drain(&mut a, Time::from_millis(2)).is_empty());
    assert_eq!(a.counters().duplicates, 1);
    let learned: Vec<_> = std::iter::from_fn(|| a.poll_event())
        .filter(|e| {
            matches!(
                e,
                Event::Learned {
                    route: Route::Rumor { hops: 1 },
                    ..
                }
            )
        })
        .collect();
    assert_eq!(learned.len(), 1);
}

#[test]
fn a_rumor_at_ttl_zero_is_applied_but_not_relayed() {
    let mut a = node(1, &[2, 3], |c| c.fanout = Fanout::All);
    drain(&mut a, Time::ZERO);
    let bytes = datagram_from(9, &[Message::Rumor(rumor(9, 1, 0))]).remove(0);
    a.handle_datagram(Time::from_millis(1), addr(9), &bytes);
    assert!(drain(&mut a, Time::from_millis(1)).is_empty());
    assert_eq!(a.store().get(&"n9".into()).unwrap().watermark, 1);
}

#[test]
fn rumors_bound_for_one_peer_ride_together_in_one_datagram() {
    let mut a = node(1, &[2], |c| c.fanout = Fanout::All);
    drain(&mut a, Time::ZERO);
    let rumors: Vec<Message> = (1..=20).map(|v| Message::Rumor(rumor(9, v, 4))).collect();
    for bytes in datagram_from(9, &rumors) {
        a.handle_datagram(Time::from_millis(1), addr(9), &bytes);
    }
    let out = drain(&mut a, Time::from_millis(1));
    assert_eq!(out.len(), 1, "20 relays to one peer should be one datagram");
    // Besides the 20 rumors, the datagram may carry piggybacked membership facts.
    let rumors = messages(&out[0])
        .into_iter()
        .filter(|m| matches!(m, Message::Rumor(_)))
        .count();
    assert_eq!(rumors, 20);
    assert!(out[0].bytes.len() <= DEFAULT_MTU);
}

#[test]
fn a_big_backlog_syncs_in_mtu_sized_steps_and_completes() {
    // `a` holds 300 origins; `b` holds nothing and syncs with `a` only.
    let mut a = node(1, &[2], |c| c.max_sync_datagrams = 4);
    learn_origins(&mut a, 100..400, "Middlemarch");
    assert_eq!(a.store().len(), 301);
    let mut b = node(2, &[1], |c| c.max_sync_datagrams = 4);
    let mut now = Time::ZERO;
    for round in 0..20 {
        now += Duration::from_millis(10);
        b.handle_timeout(now);
        // Ping-pong until both are quiet.
        loop {
            let from_b = drain(&mut b, now);
            let mut from_a = Vec::new();
            for t in &from_b {
                assert!(t.bytes.len() <= DEFAULT_MTU);
                a.handle_datagram(now, addr(2), &t.bytes);
                let replies = drain(&mut a, now);
                assert!(
                    replies.len() <= 4,
                    "one request gets at most max_sync_datagrams back"
                );
                from_a.extend(replies);
            }
            for t in &from_a {
                assert!(t.bytes.len() <= DEFAULT_MTU);
                b.handle_datagram(now, addr(1), &t.bytes);
            }
            if from_a.is_empty() && from_b.is_empty() {
                break;
            }
        }
        if b.store().len() == 302 {
            assert!(round > 0, "300 origins cannot fit one capped exchange");
            return;
        }
        now = b.next_timeout().unwrap().max(now);
    }
    panic!("backlog never completed: b holds {}", b.store().len());
}

#[test]
fn a_status_larger_than_a_datagram_is_paged_and_reassembles() {
    let mut a = node(1, &[], |_| {});
    learn_origins(&mut a, 100..200, "Gravity's Rainbow");
    drain(&mut a, Time::ZERO);
    let admin = Packer::new(ClusterId::from_name("gossip"), None, DEFAULT_MTU);
    let ask = |page| {
        admin
            .single(&Message::StatusRequest(StatusRequest { request: 42, page }))
            .unwrap()
    };
    a.handle_datagram(Time::ZERO, addr(5555), &ask(0));
    let first = drain(&mut a, Time::ZERO);
    let Message::StatusPage(p0) = &messages(&first[0])[0] else {
        panic!("expected a status page");
    };
    assert!(p0.pages > 3, "101 origins should need several pages");
    let mut bytes = p0.chunk.clone();
    for page in 1..p0.pages {
        a.handle_datagram(Time::from_millis(1), addr(5555), &ask(page));
        let out = drain(&mut a, Time::from_millis(1));
        assert!(out[0].bytes.len() <= DEFAULT_MTU);
        let Message::StatusPage(p) = &messages(&out[0])[0] else {
            panic!("expected a status page");
        };
        assert_eq!(p.page, page);
        bytes.extend_from_slice(&p.chunk);
    }
    let report = decode_status(&bytes).unwrap();
    assert_eq!(report.known.len(), 101);
    assert_eq!(report.id, "n1");
}

#[test]
fn set_validates_keys_and_values_and_bumps_the_version() {
    let mut a = node(1, &[2], |_| {});
    assert_eq!(a.set(Time::ZERO, "", b"x"), Err(SetError::Key));
    let limit = a.config().max_value_bytes;
    assert_eq!(a.set(Time::ZERO, "k", &vec![b'x'; limit]).map(|_| ()), Ok(()));
    assert_eq!(
        a.set(Time::ZERO, "k", &vec![b'x'; limit + 1]),
        Err(SetError::Value {
            len: limit + 1,
            max: limit
        })
    );
    // A small MTU announces what a rumor cannot carry whole, instead of refusing it.
    let mut small = node(3, &[2], |c| c.mtu = 512);
    assert!(small.set(Time::ZERO, "k", "x".repeat(500).as_bytes()).is_ok());
    let before = a.store().own().watermark;
    assert_eq!(a.set(Time::ZERO, "color", b"blue"), Ok(before + 1));
    let pushed = drain(&mut a, Time::ZERO);
    assert!(pushed.iter().any(|t| messages(t)
        .iter()
        .any(|m| matches!(m, Message::Rumor(r) if r.version == before + 1))));
}

#[test]
fn hearing_a_newer_version_of_ourselves_moves_our_counter_past_it() {
    let mut a = node(1, &[2], |_| {});
    drain(&mut a, Time::ZERO);
    // A peer remembers us at version 40 (we restarted and forgot).
    let mut stale = rumor(1, 40, 2);
    stale.origin.id = NodeId::from("n1");
    let bytes = datagram_from(2, &[Message::Rumor(stale)]).remove(0);
    a.handle_datagram(Time::from_millis(1), addr(2), &bytes);
    assert!(a.store().own().watermark > 40);
    assert_eq!(text(a.store().own().values.get("book")), Some("Dune"));
}

#[test]
fn a_stranger_using_our_id_is_ignored() {
    let mut a = node(1, &[2], |_| {});
    let imposter = Origin {
        id: NodeId::from("n1"),
        addr: addr(66),
    };
    let bytes = Packer::new(ClusterId::from_name("gossip"), Some(imposter), DEFAULT_MTU)
        .single(&Message::Rumor(rumor(7, 1, 3)))
        .unwrap();
    a.handle_datagram(Time::ZERO, addr(66), &bytes);
    assert!(a.store().get(&"n7".into()).is_none());
    assert!(!a.peers().contains(&addr(66)));
    assert_eq!(
        a.counters().decode_by_reason.get("stranger_claims_our_id"),
        Some(&1)
    );
}

/// Runs datagrams between two nodes until both are quiet.
fn exchange(a: &mut Node, b: &mut Node, now: Time) {
    for _ in 0..50 {
        let from_a = drain(a, now);
        let from_b = drain(b, now);
        if from_a.is_empty() && from_b.is_empty() {
            return;
        }
        let (a_addr, b_addr) = (a.addr(), b.addr());
        for t in from_a.iter().filter(|t| t.to == b_addr) {
            b.handle_datagram(now, a_addr, &t.bytes);
        }
        for t in from_b.iter().filter(|t| t.to == a_addr) {
            a.handle_datagram(now, b_addr, &t.bytes);
        }
    }
}

/// Steps two nodes' timers every 10 ms from `from_ms` to `to_ms`, exchanging all traffic.
fn run_pair(a: &mut Node, b: &mut Node, from_ms: u64, to_ms: u64) {
    for ms in (from_ms..to_ms).step_by(10) {
        let now = Time::from_millis(ms);
        a.handle_timeout(now);
        b.handle_timeout(now);
        exchange(a, b, now);
    }
}

fn restarted_node_learns_back(old_versions: usize) -> (Node, Node) {
    let mut a = node(1, &[], |_| {});
    let mut b = node(2, &[1], |_| {});
    for i in 0..old_versions {
        b.set(Time::ZERO, "book", format!("Old {i}").as_bytes()).unwrap();
    }
    run_pair(&mut a, &mut b, 0, 3000);
    let seen = a.store().get(b.id()).map(|s| s.watermark);
    assert_eq!(
        seen,
        Some(b.store().own().watermark),
        "a holds b's old state"
    );
    // b restarts with nothing saved: a fresh node, same id and address, a new book at v1.
    let mut b2 = Node::new(b.config().clone(), Time::from_millis(3000), 99);
    b2.preload(Time::from_millis(3000), "book", Bytes::from_static(b"Fresh"), None)
        .unwrap();
    run_pair(&mut a, &mut b2, 3000, 6000);
    (a, b2)
}

#[test]
fn a_restart_continues_above_the_versions_the_cluster_saw() {
    let (a, b2) = restarted_node_learns_back(5);
    let held = a.store().get(b2.id()).unwrap();
    assert!(
        b2.store().own().watermark > 6,
        "restart reused old versions"
    );
    assert_eq!(text(held.values.get("book")), Some("Fresh"));
    assert_eq!(held.watermark, b2.store().own().watermark);
}

#[test]
fn a_restart_that_reissued_an_equal_version_with_new_content_republishes() {
    // Before the restart b was at v2 ("Dune"); after it, v2 again but "Fresh".
    let (a, b2) = restarted_node_learns_back(0);
    assert!(b2.store().own().watermark >= 2);
    assert_eq!(
        text(a.store().get(b2.id()).unwrap().values.get("book")),
        Some("Fresh")
    );
}

#[test]
fn a_rumor_ahead_of_a_gap_pulls_the_rest_from_its_sender_at_once() {
    let mut a = node(1, &[2], |_| {});
    let mut b = node(2, &[], |c| c.fanout = Fanout::All);
    drain(&mut a, Time::ZERO);
    drain(&mut b, Time::ZERO);
    let now = Time::from_millis(1);
    a.set(now, "color", b"blue").unwrap();
    // Only the rumor reaches b: it learns `color` but not the book a chose at start.
    let rumor = drain(&mut a, now)
        .into_iter()
        .find(|t| messages(t).iter().any(|m| matches!(m, Message::Rumor(_))))
        .expect("a pushes its change");
    b.handle_datagram(now, addr(1), &rumor.bytes);
    let id_a = NodeId::from("n1".to_string());
    assert_eq!(b.store().watermark(&id_a), 0, "the gap is visible");
    assert_eq!(b.counters().gap_pulls, 1);
    let pulls = drain(&mut b, now);
    assert!(pulls.iter().any(|t| t.to == addr(1)
        && messages(t)
            .iter()
            .any(|m| matches!(m, Message::SyncPull(_)))));
    for t in pulls.iter().filter(|t| t.to == addr(1)) {
        a.handle_datagram(now, addr(2), &t.bytes);
    }
    for t in drain(&mut a, now).iter().filter(|t| t.to == addr(2)) {
        b.handle_datagram(now, addr(1), &t.bytes);
    }
    let held = b.store().get(&id_a).expect("b knows a");
    assert_eq!(
        held.watermark,
        a.store().own().watermark,
        "one round trip closed the gap"
    );
    assert_eq!(text(held.values.get("book")), Some("Dune"));
    assert_eq!(text(held.values.get("color")), Some("blue"));
}

/// An admin client's datagram (no sender origin) from loopback port 9999.
fn admin_datagram(message: Message) -> Vec<u8> {
    Packer::new(ClusterId::from_name("gossip"), None, DEFAULT_MTU)
        .single(&message)
        .unwrap()
}

fn replies(n: &mut Node, now: Time) -> Vec<Message> {
    drain(n, now).iter().flat_map(messages).collect()
}

#[test]
fn a_set_retried_after_a_lost_reply_is_applied_once() {
    let mut a = node(1, &[], |_| {});
    let client = addr(9999);
    let set = admin_datagram(Message::SetRequest(crate::wire::SetRequest {
        request: 42,
        key: "color".into(),
        value: Payload::Inline(b"blue".to_vec()),
        ttl_ms: None,
    }));
    a.handle_datagram(Time::ZERO, client, &set);
    let first = replies(&mut a, Time::ZERO);
    let version = a.store().own().watermark;
    // The reply was lost; the client sends the very same request again.
    a.handle_datagram(Time::from_millis(300), client, &set);
    let again = replies(&mut a, Time::from_millis(300));
    assert_eq!(a.store().own().watermark, version, "applied twice");
    let reply = |m: &[Message]| {
        m.iter()
            .find_map(|m| match m {
                Message::SetReply(r) => Some(r.clone()),
                _ => None,
            })
            .expect("a set reply")
    };
    assert_eq!(reply(&first), reply(&again));
    assert_eq!(reply(&first).version, version);
}

#[test]
fn a_large_set_is_fetched_from_the_client_before_it_is_acknowledged() {
    let mut a = node(1, &[], |c| c.max_value_bytes = 10_000);
    let client = addr(9999);
    let value: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let announce = crate::wire::Announce {
        size: value.len() as u32,
        hash: *blake3::hash(&value).as_bytes(),
        piece: 1024,
    };
    let set = |announce| {
        admin_datagram(Message::SetRequest(crate::wire::SetRequest {
            request: 7,
            key: "blob".into(),
            value: Payload::Announced(announce),
            ttl_ms: None,
        }))
    };
    a.handle_datagram(Time::ZERO, client, &set(announce));
    let asked: Vec<u32> = replies(&mut a, Time::ZERO)
        .into_iter()
        .filter_map(|m| match m {
            Message::Fetch(f) => Some(f.pieces),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(asked, vec![0, 1, 2, 3, 4], "the node asks the client for every piece");
    assert!(a.store().own().values.get("blob").is_none(), "nothing before the last piece");
    for i in asked {
        let s = i as usize * 1024;
        let piece = admin_datagram(Message::Piece(crate::wire::Piece {
            origin: a.id().clone(),
            key: "blob".into(),
            version: 7,
            index: i,
            bytes: value[s..(s + 1024).min(value.len())].to_vec(),
        }));
        a.handle_datagram(Time::from_millis(1), client, &piece);
    }
    let acked = replies(&mut a, Time::from_millis(1));
    assert!(
        acked
            .iter()
            .any(|m| matches!(m, Message::SetReply(r) if r.request == 7 && r.error.is_none())),
        "{acked:?}"
    );
    assert_eq!(
        a.store().own().values.get("blob").unwrap().value.as_deref(),
        Some(&value[..])
    );
    // Over the node's limit: refused at once, with the reason.
    let big = crate::wire::Announce {
        size: 20_000,
        ..announce
    };
    let mut b = node(2, &[], |c| c.max_value_bytes = 10_000);
    b.handle_datagram(Time::ZERO, client, &set(big));
    let refused = replies(&mut b, Time::ZERO);
    let error = refused.iter().find_map(|m| match m {
        Message::SetReply(r) => r.error.clone(),
        _ => None,
    });
    assert_eq!(
        error.as_deref(),
        Some("value is 20000 bytes; this node accepts at most 10000 (max_value_bytes)")
    );
}

#[test]
fn uploads_beyond_what_a_node_fetches_at_once_are_refused_as_busy() {
    let mut a = node(1, &[], |_| {});
    let announce = crate::wire::Announce {
        size: 4096,
        hash: [1; 32],
        piece: 1024,
    };
    let mut errors = Vec::new();
    for request in 1..=40u64 {
        let set = admin_datagram(Message::SetRequest(crate::wire::SetRequest {
            request,
            key: format!("k{request}"),
            value: Payload::Announced(announce),
            ttl_ms: None,
        }));
        a.handle_datagram(Time::ZERO, addr(9999), &set);
        errors.extend(replies(&mut a, Time::ZERO).into_iter().filter_map(|m| match m {
            Message::SetReply(r) => r.error,
            _ => None,
        }));
    }
    // Each upload holds a buffer of its value's size: a client cannot make the node hold
    // more than a bounded number of them.
    assert_eq!(errors.len(), 8, "{errors:?}");
    assert!(errors.iter().all(|e| e.contains("try again")), "{errors:?}");
    assert_eq!(a.fetching().0, 32);
}

#[test]
fn a_strategy_edit_waits_for_a_restart_with_its_fanout_and_ttl() {
    let mut n = node(7000, &[7001], |_| {});
    let before = n.config().clone();
    let mut edited = before.clone();
    crate::core::Strategy::Flood.configure(&mut edited, None, None, None);
    edited.anti_entropy = Duration::from_millis(500);
    let done = n.reconfigure(Time::ZERO, edited);
    assert!(
        done.need_restart
            .iter()
            .any(|r| r.starts_with("strategy tree → flood")),
        "{:?}",
        done.need_restart
    );
    // Nothing of the new strategy runs yet; other edits still apply.
    assert_eq!(n.config().fanout, before.fanout);
    assert_eq!(n.config().ttl, before.ttl);
    assert_eq!(n.config().dissemination.rumors, before.dissemination.rumors);
    assert_eq!(n.config().dissemination.sync, before.dissemination.sync);
    assert_eq!(n.config().anti_entropy, Duration::from_millis(500));
    assert!(!done.changes.iter().any(|c| c.starts_with("fanout")));
}

/// A tree node: pushes along its view, announces to lazy links, answers a graft that asks
/// for a rumor it announced, and grafts a rumor announced to it that never arrives.
#[test]
fn the_tree_answers_grafts_for_announced_rumors_and_grafts_what_it_misses() {
    let tree = |c: &mut NodeConfig| {
        crate::core::Strategy::Tree.configure(c, None, Some(Fanout::Count(1)), None);
    };
    let mut a = node(7000, &[7001, 7002], tree);
    let now = Time::from_millis(1);
    a.set(now, "k", b"v").unwrap();
    let pushed: Vec<Rumor> = drain(&mut a, now)
        .iter()
        .flat_map(messages)
        .filter_map(|m| match m {
            Message::Rumor(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(pushed.len(), 1, "one eager link: one push");
    let id = pushed[0].id;
    // A graft from a member that asks for it gets it.
    for d in datagram_from(7002, &[Message::Graft(crate::wire::Graft { want: Some(id) })]) {
        a.handle_datagram(now, addr(7002), &d);
    }
    let answered: Vec<Message> = drain(&mut a, now).iter().flat_map(messages).collect();
    assert!(
        answered
            .iter()
            .any(|m| matches!(m, Message::Rumor(r) if r.id == id)),
        "{answered:?}"
    );

    // Told of a rumor that then never comes, a node grafts the announcer for it.
    let mut b = node(7003, &[7004], tree);
    let missed = rumor(7005, 1, 10);
    let announce = Message::IHave(crate::wire::IHave {
        rumors: vec![crate::wire::Announced {
            id: missed.id,
            origin: missed.origin.id.clone(),
            version: 1,
        }],
    });
    for d in datagram_from(7004, &[announce]) {
        b.handle_datagram(now, addr(7004), &d);
    }
    drain(&mut b, now);
    let later = now + tree::GRAFT_AFTER;
    b.handle_timeout(later);
    let grafts: Vec<Message> = drain(&mut b, later)
        .iter()
        .flat_map(messages)
        .filter(|m| matches!(m, Message::Graft(g) if g.want == Some(missed.id)))
        .collect();
    assert_eq!(grafts.len(), 1);
}

#[test]
fn digest_pages_that_answer_our_summary_are_pushed_one_datagram_each() {
    // `b` holds 700 origins, too many to open with its whole digest: it sends a summary, and
    // `a`, holding 300 others, answers with several digest pages. Each page shows `a` lacks
    // hundreds of origins, but `a` may be pulling them from others at the same time: `b`
    // pushes one datagram per page and leaves the rest to `a`'s own pulls (pushing all of it
    // to a loaded joiner from every side was most of a 1000-node join's duplicates).
    let mut b = node(2, &[1], |c| c.learn_peers = false);
    learn_origins(&mut b, 1000..1700, "Emma");
    let mut a = node(1, &[2], |c| c.learn_peers = false);
    learn_origins(&mut a, 100..400, "Middlemarch");
    let mut now = Time::ZERO;
    let mut summary = None;
    for _ in 0..1000 {
        now = b.next_timeout().unwrap_or(now).max(now);
        b.handle_timeout(now);
        let out = drain(&mut b, now);
        if out.iter().any(|t| {
            t.to == addr(1)
                && messages(t)
                    .iter()
                    .any(|m| matches!(m, Message::SyncSummary(_)))
        }) {
            summary = Some(out);
            break;
        }
    }
    let summary = summary.expect("b opens an exchange with a summary");
    for t in summary.iter().filter(|t| t.to == addr(1)) {
        a.handle_datagram(now, addr(2), &t.bytes);
    }
    let answer: Vec<Transmit> = drain(&mut a, now)
        .into_iter()
        .filter(|t| t.to == addr(2))
        .collect();
    let digests = answer
        .iter()
        .flat_map(messages)
        .filter(|m| matches!(m, Message::SyncDigest(_)))
        .count();
    assert!(digests >= 2, "300 claims take several digest pages");
    for t in &answer {
        b.handle_datagram(now, addr(1), &t.bytes);
    }
    let out: Vec<Message> = drain(&mut b, now)
        .iter()
        .filter(|t| t.to == addr(1))
        .flat_map(messages)
        .collect();
    let pushed = out
        .iter()
        .filter(|m| matches!(m, Message::Delta(_)))
        .count();
    assert!(
        (1..=digests).contains(&pushed),
        "{pushed} delta datagrams pushed for {digests} digest pages"
    );
    assert!(
        out.iter().any(|m| matches!(m, Message::SyncPull(_))),
        "b pulls what a holds"
    );
}

#[test]
fn under_diffusion_each_relay_waits_its_own_exponential_delay() {
    // 40 peers, relay to all: each copy of each rumor leaves after its own random delay.
    let peers: Vec<u16> = (2..42).collect();
    let mean = Duration::from_millis(10);
    let mut a = node(1, &peers, |c| {
        c.fanout = Fanout::All;
        c.dissemination.rumors = RumorMode::Relay;
        c.diffusion = Some(mean);
        c.origin_rate = crate::core::throttle::OriginRate::UNLIMITED;
    });
    drain(&mut a, Time::ZERO);
    let mut delays = Vec::new();
    for k in 0..25u64 {
        let start = Time::from_millis(1_000 * (k + 1));
        let bytes = datagram_from(99, &[Message::Rumor(rumor(99, k + 1, 3))]).remove(0);
        a.handle_datagram(start, addr(99), &bytes);
        let at_once = drain(&mut a, start)
            .iter()
            .flat_map(messages)
            .filter(|m| matches!(m, Message::Rumor(_)))
            .count();
        assert_eq!(at_once, 0, "nothing is relayed at once");
        // Step through the node's own timers for 500 ms, noting when each copy leaves.
        let mut now = start;
        while let Some(next) = a.next_timeout().filter(|t| *t < start + Duration::from_millis(500)) {
            now = next.max(now);
            a.handle_timeout(now);
            for t in drain(&mut a, now) {
                let copies = messages(&t)
                    .iter()
                    .filter(|m| matches!(m, Message::Rumor(_)))
                    .count();
                delays.extend(std::iter::repeat_n(now.since(start), copies));
            }
        }
    }
    assert_eq!(delays.len(), 25 * 40, "every copy leaves, once");
    let mean_ms = delays.iter().map(|d| d.as_secs_f64() * 1000.0).sum::<f64>() / delays.len() as f64;
    assert!((8.0..12.0).contains(&mean_ms), "mean delay {mean_ms:.2} ms");
    let distinct: std::collections::HashSet<_> = delays.iter().collect();
    assert!(distinct.len() > delays.len() * 9 / 10, "independent delays");
}

#[test]
fn a_node_learning_new_origins_opens_with_a_filter_and_gets_all_it_lacks_in_one_step() {
    // `a` holds 300 origins; `b` has just learned one new origin, so its next exchange opens
    // with a filter of what it holds instead of a summary. `a`, catching up itself, answers
    // with its own filter first, then every origin `b` lacks: no digest, no pull. `b` pushes
    // `a` one datagram back (its own state first): when `a`'s filter came, `a` lacked half of
    // what `b` held.
    let mut a = node(1, &[2], |c| c.learn_peers = false);
    learn_origins(&mut a, 100..400, "Middlemarch");
    let mut b = node(2, &[1], |c| c.learn_peers = false);
    learn_origins(&mut b, 5000..5001, "Emma");
    let mut now = Time::ZERO;
    let opening = loop {
        now = b.next_timeout().unwrap_or(now).max(now);
        b.handle_timeout(now);
        let out: Vec<Message> = drain(&mut b, now)
            .iter()
            .filter(|t| t.to == addr(1))
            .flat_map(messages)
            .collect();
        if let Some(m) = out
            .into_iter()
            .find(|m| matches!(m, Message::SyncFilter(_) | Message::SyncSummary(_)))
        {
            break m;
        }
    };
    let Message::SyncFilter(filter) = &opening else {
        panic!("a node learning new origins opens with a filter, not {opening:?}");
    };
    assert!(!filter.reply && filter.buckets == 64, "three origins fit one filter whole");
    let bytes = datagram_from(2, std::slice::from_ref(&opening));
    a.handle_datagram(now, addr(2), &bytes[0]);
    let answer: Vec<Transmit> = drain(&mut a, now)
        .into_iter()
        .filter(|t| t.to == addr(2))
        .collect();
    let answer_messages: Vec<Message> = answer.iter().flat_map(messages).collect();
    assert!(
        matches!(&answer_messages[0], Message::SyncFilter(f) if f.reply),
        "a, catching up too, answers with its own filter first"
    );
    assert!(answer_messages
        .iter()
        .all(|m| matches!(m, Message::SyncFilter(_) | Message::Delta(_) | Message::Members(_))));
    assert!(answer.len() <= 16, "one request, at most max_sync_datagrams back");
    for t in &answer {
        b.handle_datagram(now, addr(1), &t.bytes);
    }
    assert_eq!(b.store().len(), 2 + 1 + 300, "b holds all a had after one round trip");
    let pushed: Vec<Transmit> = drain(&mut b, now)
        .into_iter()
        .filter(|t| t.to == addr(1))
        .collect();
    let deltas = pushed
        .iter()
        .flat_map(messages)
        .filter(|m| matches!(m, Message::Delta(_)))
        .count();
    assert_eq!(deltas, 1, "b pushes a one datagram of what a lacks");
    for t in &pushed {
        a.handle_datagram(now, addr(2), &t.bytes);
    }
    assert!(a.store().get(b.id()).is_some(), "b's own state goes first");
    assert!(a.store().get(&NodeId::from("n5000")).is_some(), "a lacked half of what b held");
}
