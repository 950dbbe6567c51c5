//! # gossip
//!
//! A peer-to-peer gossip library and node. Every node holds versioned key/value state; a
//! change anywhere reaches every live node in milliseconds by rumor-mongering, push-pull
//! anti-entropy repairs whatever was lost, and SWIM-style membership (with Lifeguard's
//! refinements) finds dead peers. Nodes talk only in UDP datagrams, optionally sealed with a
//! shared cluster key (XChaCha20-Poly1305).
//!
//! Start a node with [`Gossip::builder`], then read and write state through the
//! [`GossipHandle`] it returns:
//!
//! ```no_run
//! # async fn demo() -> Result<(), gossip::Error> {
//! let node = gossip::Gossip::builder("127.0.0.1:7100".parse().unwrap())
//!     .cluster("demo")
//!     .bootstrap(["127.0.0.1:7000".parse().unwrap()])
//!     .spawn()
//!     .await?;
//! node.set("role", "cache").await?;
//! let mut changes = node.subscribe();
//! while let Some(change) = changes.recv().await {
//!     println!("{change:?}");
//! }
//! node.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## Features
//! - `cli` (default): the `gossip` binary with its terminal UI, TOML configs, simulator lab
//!   and metrics exporter. Embedders turn it off (`default-features = false`) and get the
//!   protocol core, the wire and the tokio runtime alone.
//!
//! ## Layers
//! Each layer uses only those below it:
//! - the binary (`cli` feature): command line, terminal UI, TOML configs, favorite books,
//!   simulator and lab;
//! - the API: [`Gossip`] → [`GossipHandle`], what embedders use;
//! - the runtime: the tokio driver, socket, state file;
//! - the core: a sans-io state machine (store, rumors, anti-entropy, membership, admin),
//!   which the runtime and the simulator drive alike;
//! - the wire: every message, the framing, sealing and size limits.

#![deny(missing_docs)]

/// Declares internal layers: private in a normal build, public (hidden, undocumented, no
/// stability promise) under the `testing` feature that this crate's own tests, benches and
/// fuzz targets turn on.
macro_rules! internal {
    ($($(#[$attr:meta])* mod $name:ident;)*) => {$(
        $(#[$attr])*
        #[cfg(feature = "testing")]
        #[doc(hidden)]
        #[allow(missing_docs)]
        pub mod $name;
        $(#[$attr])*
        #[cfg(not(feature = "testing"))]
        // Items and re-exports that only the tests, benches and fuzz targets use.
        #[allow(unused_imports, dead_code)]
        mod $name;
    )*};
}

internal! {
    mod wire;
    mod core;
    mod runtime;
    #[cfg(feature = "cli")]
    mod config;
    #[cfg(feature = "cli")]
    mod sim;
    #[cfg(feature = "cli")]
    mod ui;
    #[cfg(feature = "cli")]
    mod app;
}

mod api;

pub use api::*;

/// The `gossip` command line: parses the arguments and runs the subcommand (feature `cli`).
/// This is the binary's whole `main`.
#[cfg(feature = "cli")]
pub fn run_cli() -> std::process::ExitCode {
    app::main()
}
