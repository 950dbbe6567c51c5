//! The `gossip` binary: see `gossip --help`.

/// mimalloc instead of the system allocator: a node allocates and frees many small strings per
/// datagram from several runtime threads, where glibc's arenas contend. Measured: 1000 nodes
/// joining at once converge in 1.8 s instead of 3.0 s (BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gossip::run_cli()
}
