//! The tokio runtime: owns the UDP socket, the clock and the timers, and drives the sans-io
//! [`crate::core::Node`]. Also the admin client used by `gossip status` and `gossip set`.

pub mod client;
mod driver;
pub mod identity;
#[cfg(any(test, feature = "testing"))]
pub mod local;
pub mod os;
pub mod persist;
mod socket;

pub use driver::{spawn, Command, NodeHandle};
pub use socket::{bind_udp, BindError};
