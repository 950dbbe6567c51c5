//! The `gossip` binary: see `gossip --help`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    gossip::cli::run(gossip::cli::Cli::parse())
}
