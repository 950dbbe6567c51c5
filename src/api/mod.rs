//! The embedding API: [`Gossip::builder`] configures and starts a node on a tokio runtime,
//! [`GossipHandle`] reads and writes its state. Everything here is built from the layers
//! below (the runtime, the sans-io core); nothing below knows this module exists.

mod builder;
mod error;
mod handle;
mod types;

pub use builder::{Gossip, GossipBuilder};
pub use error::Error;
pub use handle::{GossipHandle, Subscription};
pub use types::{Event, Member, MemberState, OriginState, Snapshot, Value};

pub use crate::core::{AdminAccess, Fanout, Strategy, TrustMode};

#[cfg(feature = "cli")]
pub(crate) use builder::load_keyring;
#[cfg(feature = "cli")]
pub(crate) use handle::launch;
