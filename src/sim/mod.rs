//! The in-process simulator: many real [`crate::core::Node`]s on a virtual clock, joined by a
//! simulated network with seeded loss, delay (and so reordering) and partitions. Same seed,
//! same run, to the datagram.

#[cfg(any(test, feature = "testing"))]
pub mod chaos;
pub mod cluster;
pub mod lab;
mod network;
pub mod topology;

pub use cluster::{build, sim_config, sim_id};
pub use network::{sim_addr, Delay, NetConfig, NetStats, SimNet};
