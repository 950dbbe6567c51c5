//! SWIM membership: who is alive, suspect, dead or gone. The pure rules live here; the node
//! wires them to probes, timers and datagrams in `node/membership.rs`.

pub mod broadcast;
pub mod health;
pub mod rules;
pub mod suspicion;

pub use broadcast::Broadcasts;
pub use health::LocalHealth;
pub use rules::supersedes;
pub use suspicion::suspicion_timeout;
