//! gossip: a peer-to-peer gossip node. Rumor-mongering spreads news fast, push-pull
//! anti-entropy repairs what was lost, all over connectionless UDP on a sans-io core that the
//! tokio runtime and the in-process simulator drive alike.

pub mod cli;
pub mod config;
pub mod core;
pub mod runtime;
pub mod sim;
pub mod ui;
pub mod wire;
