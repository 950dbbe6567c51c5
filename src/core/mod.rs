//! The sans-io protocol core. Nothing in here awaits, reads a clock, reads the OS RNG or opens a
//! file: the tokio runtime and the simulator drive the very same [`Node`].

pub mod assembly;
pub mod config;
pub mod counters;
pub mod event;
pub mod fault;
pub mod guard;
pub mod hash;
pub mod membership;
pub mod node;
pub mod peers;
pub mod recent;
pub mod replay;
pub mod seen;
pub mod store;
pub mod strategy;
pub mod throttle;
pub mod time;
pub mod trust;

pub use config::{AdminAccess, Dissemination, Fanout, NodeConfig, RumorMode, SyncMode};
pub use event::{Event, Route};
pub use fault::{FaultConfig, Transmit};
pub use node::{Node, Partitioned, Reconfigured, SetError};
pub use strategy::Strategy;
pub use time::Time;
pub use trust::{Identity, Refusal, TrustMode, TrustPolicy};
