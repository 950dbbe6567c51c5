//! What only the operating system knows and the sans-io core must be told: the wall clock
//! (sealed datagrams carry wall-clock send times) and fresh randomness for nonces.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand::RngExt;

use crate::core::NodeConfig;

/// Microseconds since the UNIX epoch now (0 if the clock is before 1970).
pub fn wall_clock_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Fills in `config`'s wall clock at `epoch` (the driver's `Time::ZERO`) and its nonce
/// entropy from the OS CSPRNG (never from `--seed`, which only makes the protocol repeatable).
pub fn ground(config: &mut NodeConfig, epoch: Instant) {
    let since_epoch = u64::try_from(epoch.elapsed().as_micros()).unwrap_or(0);
    config.wall_clock_at_zero_us = wall_clock_us().saturating_sub(since_epoch);
    config.entropy = rand::rng().random();
}
