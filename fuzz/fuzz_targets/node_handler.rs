//! The protocol core's datagram handler: arbitrary bytes from arbitrary sources at arbitrary
//! times, including near-valid datagrams (see `gossip::sim::chaos`).
//!
//!   cargo fuzz run -s none node_handler
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut node = gossip::sim::chaos::victim();
    gossip::sim::chaos::feed(&mut node, data);
});
