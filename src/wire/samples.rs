//! Typical messages of every type, shared by the wire tests, the codec benchmarks and the
//! fuzz seeds, so all three exercise the same shapes.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::*;

/// A typical origin (a node on loopback).
pub fn origin() -> Origin {
    Origin {
        id: NodeId::from("n7003"),
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 7003)),
    }
}

/// `len` reproducible, incompressible bytes (a large value for tests and benchmarks); each
/// seed gives different ones.
pub fn blob(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A typical entry: a favorite book at version `v`.
pub fn entry(v: u64) -> Entry {
    Entry {
        key: "book".into(),
        value: Payload::Inline(b"Dune".to_vec()),
        version: v,
        expires_ms: None,
        sig: None,
    }
}

/// An entry as a node with an identity sends it (the signature is not a valid one).
pub fn signed_entry(v: u64) -> Entry {
    Entry {
        sig: Some(Signature([7; 64])),
        ..entry(v)
    }
}

/// The rumor a book change makes (its encoded size is pinned by a test).
pub fn typical_rumor() -> Rumor {
    Rumor {
        id: Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef),
        origin: origin(),
        since: 11,
        version: 12,
        ttl: 8,
        hops: 2,
        entries: vec![entry(12)],
        signer: None,
    }
}

/// One message of every type, in `Message` order.
pub fn one_of_each() -> Vec<Message> {
    let report = StatusReport {
        id: "n1".into(),
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
        version: 3,
        uptime_ms: 5,
        incarnation: 2,
        health: 0,
        fanout: "auto (3)".into(),
        ttl: 4,
        peers: vec![],
        known: vec![],
        counters: BTreeMap::new(),
        state_bytes: 8,
        fetching: 0,
        fetching_bytes: 0,
        recent: vec![],
        partition: Some(crate::wire::PartitionStatus {
            for_ms: 1200,
            unreachable: 6,
            known: 9,
        }),
        identity: Some("ab".repeat(32)),
        trust: "tofu".into(),
        pinned_keys: 3,
    };
    vec![
        Message::Rumor(typical_rumor()),
        Message::SyncSummary(SyncSummary {
            buckets: (0..SYNC_BUCKETS as u64).collect(),
        }),
        Message::SyncDigest(SyncDigest {
            buckets: vec![1, 7],
            versions: vec![VersionClaim {
                origin: "n1".into(),
                version: 9,
            }],
        }),
        Message::SyncPull(SyncPull {
            wants: vec![VersionClaim {
                origin: "n2".into(),
                version: 0,
            }],
        }),
        Message::SyncFilter({
            let mut f = SyncFilter::new(9, 3, 64, 2, 1300);
            f.insert(origin_hash(&"n1".into()));
            f.insert(origin_hash(&"n2".into()));
            f
        }),
        Message::Delta(Delta {
            origins: vec![OriginDelta {
                origin: origin(),
                since: 3,
                upto: 12,
                entries: vec![signed_entry(12)],
                reset: false,
                signer: Some(PublicKey([3; 32])),
                head: Some(Signature([5; 64])),
            }],
        }),
        Message::JoinRequest(JoinRequest {
            want_peers: true,
            proof: Some(JoinProof {
                key: PublicKey([3; 32]),
                sig: Signature([5; 64]),
            }),
        }),
        Message::PeerList(PeerList {
            peers: vec![origin()],
            your_version: 4,
            your_fingerprint: 77,
            your_incarnation: 1,
        }),
        Message::StatusRequest(StatusRequest {
            request: 77,
            page: 1,
        }),
        Message::StatusPage(StatusPage {
            request: 77,
            page: 0,
            pages: 1,
            chunk: encode_status(&report).unwrap_or_default(),
        }),
        Message::SetRequest(SetRequest {
            request: 5,
            key: "color".into(),
            value: Payload::Inline(b"blue".to_vec()),
            ttl_ms: Some(30_000),
        }),
        Message::SetReply(SetReply {
            request: 5,
            version: 13,
            error: None,
        }),
        Message::Ping(Ping { seq: 9 }),
        Message::Ack(Ack { seq: 9 }),
        Message::PingReq(PingReq {
            seq: 10,
            target: origin(),
        }),
        Message::Members(Members {
            updates: vec![MemberUpdate {
                member: origin(),
                incarnation: 3,
                state: MemberState::Suspect,
                by: Some("n1".into()),
            }],
        }),
        Message::Fetch(Fetch {
            origin: "n7003".into(),
            key: "blob".into(),
            version: 12,
            piece: 1024,
            pieces: vec![0, 1, 2, 7],
        }),
        Message::Piece(Piece {
            origin: "n7003".into(),
            key: "blob".into(),
            version: 12,
            index: 7,
            bytes: vec![0xab; 1024],
        }),
        Message::FetchMiss(FetchMiss {
            origin: "n7003".into(),
            key: "blob".into(),
            version: 12,
        }),
        Message::GetRequest(GetRequest {
            request: 6,
            origin: "n7003".into(),
            key: "blob".into(),
        }),
        Message::GetReply(GetReply {
            request: 6,
            found: Found::Value {
                version: 12,
                value: Payload::Announced(Announce {
                    size: 1 << 20,
                    hash: [7; 32],
                    piece: 1024,
                }),
            },
        }),
        Message::WatchRequest(WatchRequest {
            request: 8,
            prefix: "svc/".into(),
        }),
        Message::WatchEvents(WatchEvents {
            request: 8,
            seq: 41,
            changes: vec![Change {
                origin: "n7003".into(),
                key: "svc/web".into(),
                version: 12,
                size: 24,
                kind: ChangeKind::Set,
            }],
        }),
        Message::Refused(Refused {
            request: 9,
            reason: "this node's admin endpoint is off".into(),
        }),
        Message::Graft(crate::wire::Graft {
            want: Some(uuid::Uuid::from_u128(7)),
        }),
        Message::Prune(crate::wire::Prune {}),
        Message::IHave(crate::wire::IHave {
            rumors: vec![crate::wire::Announced {
                id: uuid::Uuid::from_u128(8),
                origin: "n7004".into(),
                version: 41,
            }],
        }),
    ]
}
