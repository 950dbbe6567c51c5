//! The receive path's decoder on arbitrary bytes: header checks, authentication (with and
//! without a keyring), limited decode, validation. Must never panic or over-allocate.
//!
//!   cargo fuzz run -s none decode_datagram
#![no_main]

use libfuzzer_sys::fuzz_target;

use gossip::wire::{open_datagram, ClusterId, ClusterKey, Keyring};

fuzz_target!(|data: &[u8]| {
    let cluster = ClusterId::from_name("gossip");
    let _ = open_datagram(cluster, None, data);
    let keys = Keyring::new(ClusterKey::from_bytes([7; 32]));
    let _ = open_datagram(cluster, Some(&keys), data);
});
