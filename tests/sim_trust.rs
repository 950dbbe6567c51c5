//! Signed origins on the simulated network: a member of the cluster (it holds every key the
//! others hold) forges, alters and replays another origin's state, and tries to inflate
//! versions. Honest nodes that check signatures never apply any of it, keep converging to the
//! honest state, and count every refusal.

use std::sync::Arc;
use std::time::Duration;

use gossip::core::{Identity, Node, Refusal, Time, TrustMode};
use gossip::sim::{self, sim_addr, sim_id, topology, Delay, NetConfig, SimNet};
use gossip::wire::{
    entry_statement, Delta, Entry, Message, NodeId, Origin, OriginDelta, Packer, Payload, Rumor,
};

const N: usize = 16;
/// Node N-1 is the attacker: a member like any other, with its own identity.
const MALLORY: usize = N - 1;
const VICTIM: usize = 3;

fn identity(i: usize) -> Identity {
    Identity::from_secret(*blake3::hash(format!("identity {i}").as_bytes()).as_bytes())
}

fn cluster(mode: TrustMode, seed: u64) -> SimNet {
    let topo = topology::random_k_out(N, 3, seed);
    let net = NetConfig {
        loss: 0.0,
        delay: Delay::Uniform(Duration::from_micros(200), Duration::from_millis(2)),
        uplink: None,
    };
    let books = vec!["Dune".to_string(), "Emma".to_string()];
    let mut sim = sim::build(&topo, seed, net, &books, |i, c| {
        c.identity = Some(Arc::new(identity(i)));
        c.trust.mode = mode;
    });
    let deadline = Time::from_millis(10_000);
    sim.run_until_true(deadline, Duration::from_millis(20), |s| s.converged())
        .expect("the signed cluster converges");
    sim
}

fn node(sim: &SimNet, i: usize) -> &Node {
    sim.node(i).expect("live")
}

/// What `at` holds of the victim's book: (version, value).
fn book_at(sim: &SimNet, at: usize) -> (u64, Vec<u8>) {
    let held = node(sim, at)
        .store()
        .get(&sim_id(VICTIM))
        .and_then(|s| s.values.get("book"))
        .expect("the victim's book is known");
    (
        held.version,
        held.value.as_deref().unwrap_or_default().to_vec(),
    )
}

fn refused(sim: &SimNet, at: usize, reason: Refusal) -> u64 {
    node(sim, at)
        .counters()
        .refused
        .get(&reason)
        .copied()
        .unwrap_or(0)
}

/// Sends `message` from the attacker to every honest node, tagged as a real node tags what
/// it sends (so each refusal counts against the attacker).
fn from_mallory(sim: &mut SimNet, message: Message) {
    for to in 0..MALLORY {
        let bytes = tagged(sim, MALLORY, to, message.clone());
        sim.inject(to, sim_addr(MALLORY), bytes);
    }
}

fn victim_origin() -> Origin {
    Origin {
        id: sim_id(VICTIM),
        addr: sim_addr(VICTIM),
    }
}

fn rumor(seq: u128, since: u64, entry: Entry, signer: Option<gossip::wire::PublicKey>) -> Message {
    Message::Rumor(Rumor {
        id: uuid::Uuid::from_u128(0xbad0_0000 + seq),
        origin: victim_origin(),
        since,
        version: entry.version,
        ttl: 6,
        hops: 0,
        entries: vec![entry],
        signer,
    })
}

fn book(version: u64, value: &str) -> Entry {
    Entry {
        key: "book".into(),
        value: Payload::Inline(value.as_bytes().to_vec()),
        version,
        expires_ms: None,
        sig: None,
    }
}

/// Counts the nodes that reported learning a value the attacker made up.
fn forgeries_shown(sim: &mut SimNet) -> std::rc::Rc<std::cell::RefCell<usize>> {
    let shown = std::rc::Rc::new(std::cell::RefCell::new(0));
    let count = shown.clone();
    sim.on_event(move |_, _, e| {
        if let gossip::core::Event::Learned { value: Some(v), .. } = e {
            if v.starts_with(b"forged") || v.starts_with(b"altered") || v.starts_with(b"bump") {
                *count.borrow_mut() += 1;
            }
        }
    });
    shown
}

#[test]
fn forged_altered_and_replayed_state_is_never_applied_under_tofu() {
    let mut sim = cluster(TrustMode::Tofu, 11);
    let shown = forgeries_shown(&mut sim);
    // An old, genuinely signed change, kept by the attacker for a replay later.
    let old = {
        let (version, value) = book_at(&sim, 0);
        let mut e = book(version, std::str::from_utf8(&value).expect("utf8"));
        e.sig = Some(identity(VICTIM).sign(&entry_statement(&sim_id(VICTIM), &e)));
        e
    };
    sim.set(VICTIM, "book", "Middlemarch").expect("set");
    sim.run_until(sim.now() + Duration::from_secs(2));
    let (honest_version, honest) = book_at(&sim, 0);
    assert_eq!(honest, b"Middlemarch");
    let next = honest_version + 1;
    let mallory = identity(MALLORY);
    let victim_key = identity(VICTIM).public();

    // 1. The attacker signs a change of the victim's state with its own key.
    let mut forged = book(next, "forged by mallory");
    forged.sig = Some(mallory.sign(&entry_statement(&sim_id(VICTIM), &forged)));
    from_mallory(
        &mut sim,
        rumor(1, next - 1, forged.clone(), Some(mallory.public())),
    );
    // 2. The same, claiming the victim's key.
    from_mallory(&mut sim, rumor(2, next - 1, forged, Some(victim_key)));
    // 3. A genuine signature over the honest change, with the value altered on the way.
    let mut altered = book(honest_version, "altered on the way");
    altered.sig = Some(identity(VICTIM).sign(&entry_statement(
        &sim_id(VICTIM),
        &book(honest_version, "Middlemarch"),
    )));
    altered.version = next;
    from_mallory(
        &mut sim,
        rumor(3, next - 1, altered.clone(), Some(victim_key)),
    );
    // ... and as an anti-entropy delta.
    from_mallory(
        &mut sim,
        Message::Delta(Delta {
            origins: vec![OriginDelta {
                origin: victim_origin(),
                since: 0,
                upto: next,
                entries: vec![altered],
                reset: true,
                signer: Some(victim_key),
                head: None,
            }],
        }),
    );
    // 4. A version far ahead with no change to show for it: would freeze the victim's state.
    from_mallory(
        &mut sim,
        Message::Delta(Delta {
            origins: vec![OriginDelta {
                origin: victim_origin(),
                since: honest_version,
                upto: honest_version + 1_000_000,
                entries: vec![],
                reset: false,
                signer: Some(victim_key),
                head: None,
            }],
        }),
    );
    // 5. A replay of the old, validly signed change.
    from_mallory(&mut sim, rumor(5, old.version - 1, old, Some(victim_key)));
    // 6. News about the victim, sent to the victim: "you are at version 10^6" (it would
    //    jump its counter and republish).
    let mut bump = book(1_000_000, "bump");
    bump.sig = Some(mallory.sign(&entry_statement(&sim_id(VICTIM), &bump)));
    from_mallory(&mut sim, rumor(6, 999_999, bump, Some(mallory.public())));
    sim.run_until(sim.now() + Duration::from_secs(3));

    for i in (0..MALLORY).filter(|&i| i != VICTIM) {
        assert_eq!(
            book_at(&sim, i),
            (honest_version, b"Middlemarch".to_vec()),
            "node {i} holds the honest book"
        );
        let wm = node(&sim, i).store().watermark(&sim_id(VICTIM));
        assert_eq!(
            wm, honest_version,
            "node {i}: the victim's version was not inflated"
        );
        let c = node(&sim, i).counters();
        let seen = format!("node {i}: {:?} {:?}", c.refused, c.decode_by_reason);
        assert!(refused(&sim, i, Refusal::KeyMismatch) >= 1, "{seen}");
        assert!(refused(&sim, i, Refusal::Forged) >= 2, "{seen}");
        // Three forgeries proven to come from the attacker: it is ignored, so what it sends
        // next is dropped before anything is checked.
        assert_eq!(c.peers_ignored, 1, "{seen}");
        assert!(
            c.decode_by_reason.get("peer_ignored").copied().unwrap_or(0) >= 1,
            "{seen}"
        );
    }
    assert_eq!(*shown.borrow(), 0, "no node ever showed a forged value");
    let victim = node(&sim, VICTIM);
    assert_eq!(
        victim.store().own().watermark,
        honest_version,
        "the victim's counter did not jump"
    );
    assert!(refused(&sim, VICTIM, Refusal::KeyMismatch) >= 1);

    // The honest state still spreads after all this (to the honest nodes: the attacker is
    // ignored, and gets nothing from them while it is).
    sim.set(VICTIM, "book", "Persuasion").expect("set");
    let deadline = sim.now() + Duration::from_secs(5);
    sim.run_until_true(deadline, Duration::from_millis(20), |s| {
        (0..MALLORY).all(|i| i == VICTIM || book_at(s, i).1 == b"Persuasion")
    })
    .expect("the next honest change reaches everyone");
}

#[test]
fn open_mode_applies_what_a_member_forges_which_is_why_the_modes_exist() {
    let mut sim = cluster(TrustMode::Open, 12);
    let shown = forgeries_shown(&mut sim);
    let (version, _) = book_at(&sim, 0);
    let mallory = identity(MALLORY);
    let mut forged = book(version + 1, "forged by mallory");
    forged.sig = Some(mallory.sign(&entry_statement(&sim_id(VICTIM), &forged)));
    from_mallory(&mut sim, rumor(1, version, forged, Some(mallory.public())));
    sim.run_until(sim.now() + Duration::from_secs(1));
    // Every honest node but the victim applied and showed it; the victim, told of a version
    // of itself it never made, republished its own book above it, which undid the forgery
    // (an attacker that keeps forging keeps it visible).
    assert_eq!(*shown.borrow(), N - 2);
    let own = node(&sim, VICTIM).store().own().values.get("book").cloned();
    let own = own.and_then(|v| v.value).expect("the victim's book");
    assert_eq!(book_at(&sim, 0).1, own.to_vec());
    assert_eq!(node(&sim, 0).counters().signatures_verified, 0);
}

#[test]
fn a_node_without_identity_is_not_heard_by_nodes_that_check() {
    // Node 0 has no identity: its state is unsigned, and tofu nodes refuse it.
    let topo = topology::random_k_out(8, 3, 5);
    let net = NetConfig {
        loss: 0.0,
        delay: Delay::Uniform(Duration::from_micros(200), Duration::from_millis(2)),
        uplink: None,
    };
    let mut sim = sim::build(&topo, 5, net, &["Dune".to_string()], |i, c| {
        if i > 0 {
            c.identity = Some(Arc::new(identity(i)));
        }
        c.trust.mode = TrustMode::Tofu;
    });
    sim.run_until(Time::from_millis(5_000));
    let unsigned = NodeId::from("n0");
    for i in 1..8 {
        let n = node(&sim, i);
        assert!(
            n.store().get(&unsigned).is_none_or(|s| s.values.is_empty()),
            "node {i} holds unsigned state"
        );
        for j in 1..8 {
            assert!(
                n.store().get(&sim_id(j)).is_some(),
                "node {i} knows signed n{j}"
            );
        }
    }
    assert!((1..8).any(|i| refused(&sim, i, Refusal::Unsigned) > 0));
}

#[test]
fn a_signed_cluster_keeps_every_state_feature_keyless_nodes_deletes_and_restarts() {
    // No books: every node's only version is its signed head. Deleted keys are forgotten
    // after 2 s, so a node that comes back later is caught up with a reset whose last
    // version is a tombstone the relays must still be able to vouch for.
    let n = 10;
    let topo = topology::random_k_out(n, 3, 21);
    let net = NetConfig {
        loss: 0.05,
        delay: Delay::Uniform(Duration::from_micros(200), Duration::from_millis(3)),
        uplink: None,
    };
    let tune = |i: usize, c: &mut gossip::core::NodeConfig| {
        c.identity = Some(Arc::new(identity(i)));
        c.trust.mode = TrustMode::Tofu;
        c.tombstone_grace = Duration::from_secs(2);
    };
    let mut sim = sim::build(&topo, 21, net, &[], tune);
    sim.run_until_true(Time::from_millis(10_000), Duration::from_millis(20), |s| {
        s.converged()
    })
    .expect("keyless signed nodes converge on their heads");
    sim.set(1, "color", "blue").expect("set");
    sim.set(1, "shape", "round").expect("set");
    sim.delete(1, "shape").expect("delete");
    // Node 7 is away while the tombstone is collected everywhere.
    sim.kill(7);
    sim.run_until(sim.now() + Duration::from_secs(6));
    let mut config = gossip::sim::sim_config(7, &topo[7]);
    tune(7, &mut config);
    sim.restart(7, Node::new(config, sim.now(), 99));
    let deadline = sim.now() + Duration::from_secs(20);
    sim.run_until_true(deadline, Duration::from_millis(20), |s| s.converged())
        .expect("the restarted node catches up and everyone holds its new version");
    for i in 0..n {
        let held = node(&sim, i).store().get(&sim_id(1)).map(|s| {
            let color = s.values.get("color").and_then(|v| v.value.clone());
            (color, s.values.get("shape").and_then(|v| v.value.clone()))
        });
        assert_eq!(
            held,
            Some((Some(bytes::Bytes::from_static(b"blue")), None)),
            "node {i}"
        );
        let refused: u64 = node(&sim, i).counters().refused.values().sum();
        assert_eq!(refused, 0, "node {i} refused honest state");
    }
}

/// Rumor messages the honest nodes have sent (the spammer's own pushes cannot be prevented;
/// what its neighbours relay can).
fn relayed_by_honest(sim: &SimNet) -> u64 {
    (0..MALLORY)
        .map(|i| {
            let sent = &node(sim, i).counters().messages_out;
            sent.get(&gossip::wire::MessageKind::Rumor)
                .copied()
                .unwrap_or(0)
        })
        .sum()
}

/// A member writes its own (validly signed) state a thousand times a second for two seconds;
/// returns the cluster, the rumor messages honest nodes sent during the flood, and how long
/// after the flood every node held its newest value.
fn spam(rate: f64) -> (SimNet, u64, Duration) {
    let topo = topology::random_k_out(N, 3, 31);
    let net = NetConfig {
        loss: 0.0,
        delay: Delay::Uniform(Duration::from_micros(200), Duration::from_millis(2)),
        uplink: None,
    };
    let mut sim = sim::build(&topo, 31, net, &["Dune".to_string()], |i, c| {
        c.identity = Some(Arc::new(identity(i)));
        c.trust.mode = TrustMode::Tofu;
        c.origin_rate = gossip::core::throttle::OriginRate::per_second(rate);
    });
    sim.run_until_true(Time::from_millis(10_000), Duration::from_millis(20), |s| {
        s.converged()
    })
    .expect("converges");
    let before = relayed_by_honest(&sim);
    let mut last = String::new();
    for t in 0..2000 {
        sim.run_until(sim.now() + Duration::from_millis(1));
        last = format!("spam {t}");
        sim.set(MALLORY, "spam", &last).expect("set");
        if t == 1000 {
            // An honest change in the middle of the flood.
            sim.set(VICTIM, "book", "Middlemarch").expect("set");
        }
    }
    let sent = relayed_by_honest(&sim) - before;
    let flood_end = sim.now();
    let spammer = sim_id(MALLORY);
    let holds = |s: &SimNet, i: usize, origin: &NodeId, key: &str, value: &str| {
        node(s, i)
            .store()
            .get(origin)
            .and_then(|o| o.values.get(key))
            .and_then(|v| v.value.as_deref())
            == Some(value.as_bytes())
    };
    let deadline = sim.now() + Duration::from_secs(20);
    sim.run_until_true(deadline, Duration::from_millis(10), |s| {
        (0..MALLORY).all(|i| holds(s, i, &spammer, "spam", &last))
    })
    .expect("every node ends with the spammer's newest value");
    let took = sim.now().since(flood_end);
    for i in (0..MALLORY).filter(|&i| i != VICTIM) {
        assert!(
            holds(&sim, i, &sim_id(VICTIM), "book", "Middlemarch"),
            "node {i}"
        );
    }
    (sim, sent, took)
}

#[test]
fn a_member_flooding_valid_changes_is_throttled_by_its_neighbours_and_still_converges() {
    let (limited, limited_sent, took) = spam(20.0);
    let (_, unlimited_sent, _) = spam(0.0);
    let throttled: u64 = (0..MALLORY)
        .map(|i| node(&limited, i).counters().rumors_throttled)
        .sum();
    assert!(throttled > 0);
    eprintln!(
        "flood of 2000 changes: honest nodes relayed {limited_sent} rumors with the limit, \
         {unlimited_sent} without; {throttled} left to anti-entropy; newest value everywhere \
         {took:?} after the flood"
    );
    // Without the limit every change is relayed to everyone; with it each node relays about
    // 20 a second (plus the burst) and anti-entropy carries the newest value.
    assert!(
        limited_sent * 10 < unlimited_sent,
        "rumors during the flood: {limited_sent} limited, {unlimited_sent} unlimited"
    );
    assert!(
        took < Duration::from_secs(5),
        "converged {took:?} after the flood"
    );
}

/// `from`'s datagram to `to`, tagged with the key the two share (as a real node tags it).
fn tagged(sim: &SimNet, from: usize, to: usize, message: Message) -> Vec<u8> {
    let sender = Origin {
        id: sim_id(from),
        addr: sim_addr(from),
    };
    let cluster = node(sim, to).config().cluster;
    let mut bytes = Packer::new(cluster, Some(sender), 1400)
        .single(&message)
        .expect("fits");
    let me = identity(from);
    let policy = gossip::core::TrustPolicy {
        mode: TrustMode::Tofu,
        ..Default::default()
    };
    let mut trust =
        gossip::core::trust::Trust::new(policy, Some((&sim_id(from), &me)), Default::default());
    let statement = gossip::wire::head_statement(&sim_id(to), 1);
    let sig = identity(to).sign(&statement);
    trust
        .admit_one(&sim_id(to), identity(to).public(), statement, &sig)
        .expect("their key");
    let key = trust.pair_key(&me, &sim_id(to)).expect("pair key");
    gossip::wire::tag_datagram(&mut bytes, &key);
    bytes
}

#[test]
fn a_relay_proven_to_forge_is_ignored_and_a_forged_source_address_gets_nobody_ignored() {
    let mut sim = cluster(TrustMode::Tofu, 41);
    let (version, _) = book_at(&sim, 0);
    let victim_key = identity(VICTIM).public();
    // Mallory relays three altered copies of the victim's book to node 0, in datagrams tagged
    // as its own.
    for k in 0..3u64 {
        let mut altered = book(version + 1 + k, "altered on the way");
        altered.sig = Some(identity(VICTIM).sign(&entry_statement(
            &sim_id(VICTIM),
            &book(version + 1 + k, "what the victim signed"),
        )));
        let message = rumor(100 + u128::from(k), version + k, altered, Some(victim_key));
        let bytes = tagged(&sim, MALLORY, 0, message);
        sim.inject(0, sim_addr(MALLORY), bytes);
    }
    sim.run_until(sim.now() + Duration::from_millis(50));
    let n0 = node(&sim, 0);
    assert_eq!(n0.counters().peers_ignored, 1, "mallory is ignored");
    assert_eq!(refused(&sim, 0, Refusal::Forged), 3);
    // From now on even its valid datagrams are dropped, for 30 s.
    let ping = tagged(
        &sim,
        MALLORY,
        0,
        Message::Ping(gossip::wire::Ping { seq: 7 }),
    );
    sim.inject(0, sim_addr(MALLORY), ping);
    sim.run_until(sim.now() + Duration::from_millis(10));
    let reasons = &node(&sim, 0).counters().decode_by_reason;
    assert_eq!(reasons.get("peer_ignored").copied(), Some(1), "{reasons:?}");
    // Leaving the tag off does not get its state in either: state in an untagged datagram
    // from a peer that tags is dropped unchecked (its requests would still be answered: a
    // restarted peer may not know our key yet).
    let forged_before = refused(&sim, 0, Refusal::Forged);
    let untagged_state = Packer::new(
        node(&sim, 0).config().cluster,
        Some(Origin {
            id: sim_id(MALLORY),
            addr: sim_addr(MALLORY),
        }),
        1400,
    )
    .single(&rumor(
        300,
        version + 9,
        book(version + 10, "untagged"),
        Some(victim_key),
    ))
    .expect("fits");
    sim.inject(0, sim_addr(MALLORY), untagged_state);
    sim.run_until(sim.now() + Duration::from_millis(10));
    let untagged = node(&sim, 0)
        .counters()
        .decode_by_reason
        .get("sender_untagged")
        .copied();
    assert_eq!(untagged, Some(1));
    assert_eq!(
        refused(&sim, 0, Refusal::Forged),
        forged_before,
        "not even checked"
    );

    // Someone floods node 2 with junk under node 1's address: the address is banned for bad
    // datagrams, yet node 1's own (tagged) datagrams still get through, so node 2 never
    // suspects it.
    for _ in 0..64 {
        sim.inject(2, sim_addr(1), vec![0xde, 0xad, 0xbe, 0xef]);
    }
    sim.run_until(sim.now() + Duration::from_millis(10));
    let pings = |s: &SimNet| {
        let c = node(s, 2).counters();
        c.messages_in
            .get(&gossip::wire::MessageKind::Ping)
            .copied()
            .unwrap_or(0)
    };
    let banned = |s: &SimNet| {
        let c = node(s, 2).counters();
        c.decode_by_reason.get("flood_banned").copied().unwrap_or(0)
    };
    assert!(
        node(&sim, 2).counters().sources_banned >= 1,
        "the junk got the address banned"
    );
    let (pings_before, banned_before) = (pings(&sim), banned(&sim));
    // Node 1's own ping, tagged, gets through the ban...
    let ping = tagged(&sim, 1, 2, Message::Ping(gossip::wire::Ping { seq: 9 }));
    sim.inject(2, sim_addr(1), ping);
    sim.run_until(sim.now() + Duration::from_millis(10));
    assert_eq!(pings(&sim), pings_before + 1);
    assert_eq!(banned(&sim), banned_before);
    // ... an untagged one from that address does not.
    let untagged = Packer::new(node(&sim, 2).config().cluster, None, 1400)
        .single(&Message::Ping(gossip::wire::Ping { seq: 10 }))
        .expect("fits");
    sim.inject(2, sim_addr(1), untagged);
    sim.run_until(sim.now() + Duration::from_millis(10));
    assert_eq!(banned(&sim), banned_before + 1);
    // And node 2 never stops hearing node 1.
    sim.run_until(sim.now() + Duration::from_secs(25));
    let peer = node(&sim, 2).peers().get(&sim_addr(1)).map(|p| p.state);
    assert_eq!(peer, Some(gossip::wire::MemberState::Alive));
}

#[test]
fn a_relay_replaying_old_signed_changes_loses_standing() {
    let mut sim = cluster(TrustMode::Tofu, 51);
    // Node 5 goes away (so it cannot answer for itself); Mallory then hands node 0 a newer,
    // genuinely signed change of node 5's book, which node 0 takes from Mallory.
    let origin = 5;
    let held = node(&sim, 0).store().get(&sim_id(origin)).expect("known");
    let (old_version, old) = {
        let v = held.values.get("book").expect("book");
        (v.version, v.value.clone().expect("value"))
    };
    sim.kill(origin);
    let signed = |version: u64, value: &str| {
        let mut e = book(version, value);
        e.sig = Some(identity(origin).sign(&entry_statement(&sim_id(origin), &e)));
        e
    };
    let source = Origin {
        id: sim_id(origin),
        addr: sim_addr(origin),
    };
    let push = |seq: u128, since: u64, entry: Entry| {
        Message::Rumor(Rumor {
            id: uuid::Uuid::from_u128(0x7e91_0000 + seq),
            origin: source.clone(),
            since,
            version: entry.version,
            ttl: 6,
            hops: 0,
            entries: vec![entry],
            signer: Some(identity(origin).public()),
        })
    };
    let newer = signed(old_version + 1, "Emma, the newer book");
    let bytes = tagged(&sim, MALLORY, 0, push(1, old_version, newer));
    sim.inject(0, sim_addr(MALLORY), bytes);
    sim.run_until(sim.now() + Duration::from_millis(10));
    assert_eq!(book_at_of(&sim, 0, origin), b"Emma, the newer book");
    // Soon after, an older change from it could be reordering: not held against it.
    let old_text = std::str::from_utf8(&old).expect("utf8").to_string();
    let replay = |sim: &mut SimNet, seq: u128| {
        let bytes = tagged(
            sim,
            MALLORY,
            0,
            push(seq, old_version - 1, signed(old_version, &old_text)),
        );
        sim.inject(0, sim_addr(MALLORY), bytes);
        sim.run_until(sim.now() + Duration::from_millis(10));
    };
    replay(&mut sim, 2);
    assert_eq!(refused(&sim, 0, Refusal::Replayed), 0);
    // A minute on, the same old change from the peer that gave us the newer one is a replay.
    sim.run_until(sim.now() + Duration::from_secs(61));
    for seq in 3..6 {
        replay(&mut sim, seq);
    }
    assert_eq!(refused(&sim, 0, Refusal::Replayed), 3);
    assert_eq!(
        node(&sim, 0).counters().peers_ignored,
        1,
        "mallory is ignored"
    );
    assert_eq!(book_at_of(&sim, 0, origin), b"Emma, the newer book");
}

fn book_at_of(sim: &SimNet, at: usize, origin: usize) -> Vec<u8> {
    node(sim, at)
        .store()
        .get(&sim_id(origin))
        .and_then(|s| s.values.get("book"))
        .and_then(|v| v.value.as_deref())
        .unwrap_or_default()
        .to_vec()
}
