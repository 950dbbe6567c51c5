//! What people see: the live node view (ratatui) and the `gossip top` cluster monitor.

pub mod feed;
pub mod format;
pub mod monitor;
pub mod node_view;
pub mod tui;

/// Whether the node shows the live view or plain log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum UiMode {
    /// Live table and event feed (the default on a terminal).
    Tui,
    /// Plain log lines (the default when output is not a terminal).
    Plain,
}
