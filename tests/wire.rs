//! The wire contract: round-trips, MTU limits, and hostile bytes never panic.

use std::net::SocketAddr;

use gossip::wire::samples::{one_of_each, origin, typical_rumor};
use gossip::wire::*;
use proptest::prelude::*;

fn cluster() -> ClusterId {
    ClusterId::from_name("gossip")
}

#[test]
fn every_message_type_round_trips() {
    let packer = Packer::new(cluster(), Some(origin()), DEFAULT_MTU);
    for message in one_of_each() {
        let bytes = packer.single(&message).unwrap();
        assert!(bytes.len() <= DEFAULT_MTU);
        let decoded = decode_datagram(cluster(), &bytes).unwrap();
        assert_eq!(decoded.sender, Some(origin()));
        assert_eq!(
            decoded.messages,
            vec![message.clone()],
            "{:?}",
            message.kind()
        );
        // The packer's fast path produces exactly what the plain encoder does.
        let plain = encode_datagram(
            cluster(),
            &Datagram {
                sender: Some(origin()),
                messages: vec![message],
            },
            DEFAULT_MTU,
        )
        .unwrap();
        assert_eq!(plain, bytes);
    }
}

#[test]
fn a_typical_rumor_has_a_pinned_size() {
    // Rumor 52 = tag 1 + uuid 17 + origin 14 (id 6, IPv4 address 8) + since, version, ttl,
    // hops 4 + one entry 15 (key 5, payload tag 1 + 5, version 1, no expiry 1, no signature
    // 1 + list length 1) + no signer 1. Datagram 82 = header 14 + sender 15 + count 1 +
    // rumor 52. Signed by a node with an identity: 64 bytes of signature and 32 of key more.
    // A change here is a wire-format change: bump PROTOCOL_VERSION and update the README.
    let packer = Packer::new(cluster(), Some(origin()), DEFAULT_MTU);
    let bytes = packer.single(&Message::Rumor(typical_rumor())).unwrap();
    assert_eq!(encoded_len(&Message::Rumor(typical_rumor())), 52);
    assert_eq!(bytes.len(), 82);
    let mut signed = typical_rumor();
    signed.entries[0].sig = Some(gossip::wire::Signature([1; 64]));
    signed.signer = Some(gossip::wire::PublicKey([2; 32]));
    assert_eq!(encoded_len(&Message::Rumor(signed)), 52 + 64 + 32);
}

#[test]
fn many_messages_pack_into_mtu_sized_datagrams_in_order() {
    let packer = Packer::new(cluster(), Some(origin()), DEFAULT_MTU);
    let rumors: Vec<Message> = (0..200).map(|_| Message::Rumor(typical_rumor())).collect();
    let datagrams = packer.pack(&rumors).unwrap();
    assert!(
        datagrams.len() > 1 && datagrams.len() <= 200 / 10,
        "batching should pack ~25 per datagram"
    );
    let mut back = Vec::new();
    for d in &datagrams {
        assert!(d.len() <= DEFAULT_MTU);
        back.extend(decode_datagram(cluster(), d).unwrap().messages);
    }
    assert_eq!(back, rumors);
}

#[test]
fn encoding_refuses_to_exceed_the_mtu() {
    let packer = Packer::new(cluster(), Some(origin()), 600);
    let huge = Message::PeerList(PeerList {
        peers: vec![origin(); 100],
        your_version: 0,
        your_fingerprint: 0,
        your_incarnation: 0,
    });
    assert!(matches!(
        packer.pack(std::slice::from_ref(&huge)),
        Err(EncodeError::TooLarge { .. })
    ));
    let plain = Datagram {
        sender: None,
        messages: vec![huge],
    };
    assert!(matches!(
        encode_datagram(cluster(), &plain, 600),
        Err(EncodeError::TooLarge { .. })
    ));
}

#[test]
fn foreign_and_malformed_datagrams_get_typed_errors() {
    let packer = Packer::new(cluster(), Some(origin()), DEFAULT_MTU);
    let good = packer.single(&Message::Rumor(typical_rumor())).unwrap();
    assert_eq!(decode_datagram(cluster(), &[]), Err(DecodeError::Empty));
    assert_eq!(
        decode_datagram(cluster(), &good[..1]),
        Err(DecodeError::TooShort(1))
    );
    let mut bad = good.clone();
    bad[0] ^= 0xff;
    assert_eq!(decode_datagram(cluster(), &bad), Err(DecodeError::BadMagic));
    let mut bad = good.clone();
    bad[4] = 99;
    assert_eq!(
        decode_datagram(cluster(), &bad),
        Err(DecodeError::BadVersion(99))
    );
    assert_eq!(
        decode_datagram(ClusterId::from_name("other"), &good),
        Err(DecodeError::WrongCluster)
    );
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        decode_datagram(cluster(), &trailing),
        Err(DecodeError::TrailingBytes(1))
    );
    assert!(matches!(
        decode_datagram(cluster(), &good[..good.len() - 1]),
        Err(DecodeError::Truncated(_))
    ));
    let big = vec![0u8; MAX_DATAGRAM + 1];
    assert_eq!(
        decode_datagram(cluster(), &big),
        Err(DecodeError::TooLong(MAX_DATAGRAM + 1))
    );
}

#[test]
fn a_forged_length_prefix_fails_fast_instead_of_allocating() {
    // Header, no sender, then a message count claiming 2^42 messages.
    let packer = Packer::new(cluster(), None, DEFAULT_MTU);
    let mut bytes = packer
        .single(&Message::JoinRequest(JoinRequest {
            want_peers: true,
            proof: None,
        }))
        .unwrap();
    bytes.truncate(Header::LEN + 1);
    bytes.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0x04, 0, 0]);
    assert!(matches!(
        decode_datagram(cluster(), &bytes),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn well_formed_but_absurd_fields_are_refused() {
    let packer = Packer::new(cluster(), Some(origin()), DEFAULT_MTU);
    let mut r = typical_rumor();
    r.entries[0].version = 99; // outside (since, version]
    let bytes = packer.single(&Message::Rumor(r)).unwrap();
    assert!(matches!(
        decode_datagram(cluster(), &bytes),
        Err(DecodeError::Invalid(_))
    ));
    let summary = Message::SyncSummary(SyncSummary {
        buckets: vec![1, 2, 3],
    });
    let bytes = packer.single(&summary).unwrap();
    assert!(matches!(
        decode_datagram(cluster(), &bytes),
        Err(DecodeError::Invalid(_))
    ));
    let mut o = origin();
    o.addr = SocketAddr::from(([0, 0, 0, 0], 7000));
    let bytes = packer
        .single(&Message::PeerList(PeerList {
            peers: vec![o],
            your_version: 0,
            your_fingerprint: 0,
            your_incarnation: 0,
        }))
        .unwrap();
    assert!(matches!(
        decode_datagram(cluster(), &bytes),
        Err(DecodeError::Invalid(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1600)) {
        let _ = decode_datagram(cluster(), &bytes);
    }

    #[test]
    fn arbitrary_bodies_behind_a_valid_header_never_panic(body in proptest::collection::vec(any::<u8>(), 0..1400)) {
        let mut bytes = Packer::new(cluster(), None, DEFAULT_MTU)
            .single(&Message::JoinRequest(JoinRequest {
            want_peers: true,
            proof: None,
        }))
            .unwrap();
        bytes.truncate(Header::LEN);
        bytes.extend_from_slice(&body);
        let _ = decode_datagram(cluster(), &bytes);
    }

    #[test]
    fn every_truncation_and_bit_flip_of_a_valid_datagram_is_handled(
        index in 0usize..15, cut in 0usize..2000, flip in 0usize..2000, bit in 0u8..8
    ) {
        let all = one_of_each();
        let message = all[index % all.len()].clone();
        let bytes = Packer::new(cluster(), Some(origin()), DEFAULT_MTU).single(&message).unwrap();
        let cut = cut % bytes.len();
        prop_assert!(decode_datagram(cluster(), &bytes[..cut]).is_err());
        let mut flipped = bytes.clone();
        let i = flip % flipped.len();
        flipped[i] ^= 1 << bit;
        let _ = decode_datagram(cluster(), &flipped);
    }
}
