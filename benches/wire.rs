//! Codec cost per message type: encoding one message into a datagram (header, bincode, MTU
//! check) and decoding it back (length and header checks, limited decode, validation).
//!
//!   cargo bench --bench wire

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gossip::wire::samples::{self, one_of_each, origin};
use gossip::wire::{
    decode_datagram, open_datagram, seal, ClusterId, ClusterKey, Keyring, Message, Packer,
    DEFAULT_MTU,
};

fn codec(c: &mut Criterion) {
    let cluster = ClusterId::from_name("gossip");
    let packer = Packer::new(cluster, Some(origin()), DEFAULT_MTU);
    let mut encode = c.benchmark_group("encode");
    for message in one_of_each() {
        let name = format!("{:?}", message.kind());
        let bytes = packer.single(&message).expect("samples fit the MTU");
        encode.throughput(Throughput::Bytes(bytes.len() as u64));
        encode.bench_with_input(BenchmarkId::from_parameter(&name), &message, |b, m| {
            b.iter(|| packer.single(std::hint::black_box(m)))
        });
    }
    encode.finish();
    let mut decode = c.benchmark_group("decode");
    for message in one_of_each() {
        let name = format!("{:?}", message.kind());
        let bytes = packer.single(&message).expect("samples fit the MTU");
        decode.throughput(Throughput::Bytes(bytes.len() as u64));
        decode.bench_with_input(BenchmarkId::from_parameter(&name), &bytes, |b, bytes| {
            b.iter(|| decode_datagram(cluster, std::hint::black_box(bytes)))
        });
    }
    decode.finish();

    // A keyed cluster adds one seal per datagram sent and one open per datagram received.
    let keys = Keyring::new(ClusterKey::from_bytes([7; 32]));
    let rumor = packer
        .single(&Message::Rumor(samples::typical_rumor()))
        .expect("fits");
    let sealed = seal(&rumor, &keys, [1; 24], 1);
    let mut keyed = c.benchmark_group("keyed");
    keyed.throughput(Throughput::Bytes(sealed.len() as u64));
    keyed.bench_function("seal_rumor", |b| {
        b.iter(|| seal(std::hint::black_box(&rumor), &keys, [1; 24], 1))
    });
    keyed.bench_function("open_and_decode_rumor", |b| {
        b.iter(|| open_datagram(cluster, Some(&keys), std::hint::black_box(&sealed)))
    });
    keyed.finish();
}

// No HTML plots: our plotters build renders text with a bundled font only the lab registers.
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = codec
}
criterion_main!(benches);
