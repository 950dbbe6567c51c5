//! The protocol core's datagram-handling throughput on one core: `handle_datagram` plus
//! draining what it answers (packing and encoding included), no sockets.
//!
//!   cargo bench --bench core
//!
//! Cases: a fresh rumor (applied, relayed to the fanout), a duplicate rumor (dropped by the
//! seen-cache), a ping (answered with an ack), the same in a keyed cluster, an anti-entropy
//! summary against a store of 1000 origins (answered with digests), and fresh and duplicate
//! rumors signed by their origins at a node that checks signatures (trust tofu). The `verify`
//! group measures signature checks alone: one at a time, and 16 of one origin in one batch.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use gossip::core::trust::{Claim, Trust};
use gossip::core::{Identity, Node, NodeConfig, Time, TrustMode, TrustPolicy};
use gossip::wire::{
    entry_statement, head_statement, seal, ClusterId, ClusterKey, Entry, Keyring, Message, NodeId,
    Origin, Packer, Ping, Rumor, SyncSummary, DEFAULT_MTU, SYNC_BUCKETS,
};
use uuid::Uuid;

const BATCH: usize = 1000;
const PEERS: usize = 50;

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, (i >> 8) as u8, i as u8], 7000))
}

fn origin(i: usize) -> Origin {
    Origin {
        id: NodeId::from(format!("n{i}")),
        addr: addr(i),
    }
}

/// A node at 127.0.0.1:7000 knowing `PEERS` static peers.
fn node() -> Node {
    node_with(|_| {})
}

fn node_with(tune: impl FnOnce(&mut NodeConfig)) -> Node {
    let mut config = NodeConfig::new(NodeId::from("bench"), addr(0));
    config.static_peers = (1..=PEERS).map(addr).collect();
    // A benchmark source sends far beyond a peer's rate limit on purpose.
    config.guard.rate = f64::MAX;
    config.guard.burst = f64::MAX;
    tune(&mut config);
    Node::new(config, Time::ZERO, 7)
}

fn drain(node: &mut Node, now: Time) -> usize {
    let mut n = 0;
    while node.poll_transmit(now).is_some() {
        n += 1;
    }
    while node.poll_event().is_some() {}
    n
}

fn rumor(from: usize, version: u64) -> Rumor {
    Rumor {
        id: Uuid::from_u128(((from as u128) << 64) | u128::from(version)),
        origin: origin(from),
        since: version - 1,
        version,
        ttl: 6,
        hops: 1,
        entries: vec![Entry {
            key: "book".into(),
            value: gossip::wire::Payload::Inline(b"The Left Hand of Darkness".to_vec()),
            version,
            expires_ms: None,
            sig: None,
        }],
        signer: None,
    }
}

fn handling(c: &mut Criterion) {
    let cluster = ClusterId::from_name("gossip");
    let now = Time::ZERO + Duration::from_secs(1);
    let packet = |sender: usize, m: Message| {
        Packer::new(cluster, Some(origin(sender)), DEFAULT_MTU)
            .single(&m)
            .expect("fits")
    };
    let mut group = c.benchmark_group("handle_datagram");
    group.throughput(Throughput::Elements(BATCH as u64));

    let fresh: Vec<(SocketAddr, Vec<u8>)> = (0..BATCH)
        .map(|i| {
            let from = 1 + i % PEERS;
            let o = 100 + i;
            (addr(from), packet(from, Message::Rumor(rumor(o, 1))))
        })
        .collect();
    group.bench_function("fresh_rumor", |b| {
        b.iter_batched(
            node,
            |mut n| {
                for (from, bytes) in &fresh {
                    n.handle_datagram(now, *from, bytes);
                    drain(&mut n, now);
                }
                n
            },
            BatchSize::LargeInput,
        )
    });

    let dup = packet(1, Message::Rumor(rumor(100, 1)));
    group.bench_function("duplicate_rumor", |b| {
        let mut n = node();
        n.handle_datagram(now, addr(1), &dup);
        drain(&mut n, now);
        b.iter(|| {
            for _ in 0..BATCH {
                n.handle_datagram(now, addr(1), &dup);
                drain(&mut n, now);
            }
        })
    });

    let ping = packet(2, Message::Ping(Ping { seq: 1 }));
    group.bench_function("ping_ack", |b| {
        let mut n = node();
        b.iter(|| {
            for _ in 0..BATCH {
                n.handle_datagram(now, addr(2), &ping);
                drain(&mut n, now);
            }
        })
    });

    // The same ping in a keyed cluster: open, replay check, answer, seal. Each iteration
    // sends fresh datagrams (a replayed one would be refused).
    group.bench_function("ping_ack_keyed", |b| {
        let keys = Keyring::new(ClusterKey::from_bytes([7; 32]));
        let wall = 1_800_000_000_000_000;
        let mut n = node_with(|c| {
            c.keyring = Some(std::sync::Arc::new(keys.clone()));
            c.wall_clock_at_zero_us = wall;
        });
        let mut nonce: u128 = 0;
        b.iter_batched(
            || {
                (0..BATCH)
                    .map(|_| {
                        nonce += 1;
                        let mut bytes = [0u8; 24];
                        bytes[..16].copy_from_slice(&nonce.to_le_bytes());
                        seal(&ping, &keys, bytes, wall + 1_000_000)
                    })
                    .collect::<Vec<_>>()
            },
            |sealed| {
                for bytes in &sealed {
                    n.handle_datagram(now, addr(2), bytes);
                    drain(&mut n, now);
                }
            },
            BatchSize::LargeInput,
        )
    });

    let summary = packet(
        3,
        Message::SyncSummary(SyncSummary {
            buckets: vec![1; SYNC_BUCKETS],
        }),
    );
    group.bench_function("sync_summary_1000_origins", |b| {
        let mut n = node();
        for (from, bytes) in &fresh {
            n.handle_datagram(now, *from, bytes);
        }
        drain(&mut n, now);
        b.iter(|| {
            for _ in 0..BATCH {
                n.handle_datagram(now, addr(3), &summary);
                drain(&mut n, now);
            }
        })
    });
    // Signed: each fresh rumor comes from a different origin, signed by it, to a node that
    // checks signatures; a duplicate changes nothing and is not checked again.
    let identities: Vec<Identity> = (0..BATCH).map(identity).collect();
    let signed: Vec<(SocketAddr, Vec<u8>)> = (0..BATCH)
        .map(|i| {
            let from = 1 + i % PEERS;
            let o = 100 + i;
            let mut r = rumor(o, 1);
            sign(&mut r, &identities[i]);
            (addr(from), packet(from, Message::Rumor(r)))
        })
        .collect();
    let checking = || node_with(|c| c.trust.mode = TrustMode::Tofu);
    group.bench_function("fresh_rumor_signed", |b| {
        b.iter_batched(
            checking,
            |mut n| {
                for (from, bytes) in &signed {
                    n.handle_datagram(now, *from, bytes);
                    drain(&mut n, now);
                }
                assert_eq!(n.counters().signatures_verified, BATCH as u64);
                n
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("duplicate_rumor_signed", |b| {
        let mut n = checking();
        let (from, dup) = &signed[0];
        n.handle_datagram(now, *from, dup);
        drain(&mut n, now);
        b.iter(|| {
            for _ in 0..BATCH {
                n.handle_datagram(now, *from, dup);
                drain(&mut n, now);
            }
        })
    });
    group.finish();
}

fn identity(i: usize) -> Identity {
    Identity::from_secret(*blake3::hash(&i.to_le_bytes()).as_bytes())
}

/// Signs a rumor's entries as its origin does.
fn sign(r: &mut Rumor, who: &Identity) {
    for e in &mut r.entries {
        e.sig = Some(who.sign(&entry_statement(&r.origin.id, e)));
    }
    r.signer = Some(who.public());
}

/// Signature checks alone, per signature.
fn verifying(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    let who = identity(1);
    let id = NodeId::from("n1");
    let statements: Vec<Vec<u8>> = (1..=16u64).map(|v| head_statement(&id, v)).collect();
    let sigs: Vec<_> = statements.iter().map(|s| who.sign(s)).collect();
    let policy = TrustPolicy {
        mode: TrustMode::Tofu,
        ..TrustPolicy::default()
    };
    group.throughput(Throughput::Elements(1));
    group.bench_function("one", |b| {
        let mut trust = Trust::new(policy.clone(), None, Default::default());
        b.iter(|| {
            trust
                .admit_one(&id, who.public(), statements[0].clone(), &sigs[0])
                .expect("valid")
        })
    });
    group.throughput(Throughput::Elements(16));
    group.bench_function("batch_of_16", |b| {
        let mut trust = Trust::new(policy.clone(), None, Default::default());
        b.iter(|| {
            let claims: Vec<Claim> = statements
                .iter()
                .zip(&sigs)
                .map(|(statement, sig)| Claim {
                    statement: statement.clone(),
                    sig,
                })
                .collect();
            trust
                .admit(&id, Some(who.public()), &claims)
                .expect("valid")
        })
    });
    group.finish();
}

// No HTML plots: our plotters build renders text with a bundled font only the lab registers.
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = handling, verifying
}
criterion_main!(benches);
