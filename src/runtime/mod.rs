//! The tokio runtime: owns the UDP socket, the clock and the timers, and drives the sans-io
//! [`crate::core::Node`]. Also the admin client used by `gossip status` and `gossip set`.

pub mod client;
mod driver;
pub mod local;
pub mod log;
pub mod metrics;
pub mod os;
pub mod persist;
pub mod reload;
mod socket;

pub use driver::{spawn, Command, NodeHandle};
pub use socket::{bind_udp, BindError};
