//! Codec cost per message type: encoding one message into a datagram (header, bincode, MTU
//! check) and decoding it back (length and header checks, limited decode, validation).
//!
//!   cargo bench --bench wire

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gossip::wire::samples::{one_of_each, origin};
use gossip::wire::{decode_datagram, ClusterId, Packer, DEFAULT_MTU};

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
}

// No HTML plots: our plotters build renders text with a bundled font only the lab registers.
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = codec
}
criterion_main!(benches);
