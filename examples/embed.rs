//! A service registry in 60 lines, on the public API alone.
//!
//! Each process announces the address it serves on and its role, and prints the live registry
//! whenever it changes. Start a few in separate terminals:
//!
//! ```text
//! cargo run --example embed -- 127.0.0.1:7200 api
//! cargo run --example embed -- 127.0.0.1:7201 cache 127.0.0.1:7200
//! cargo run --example embed -- 127.0.0.1:7202 worker 127.0.0.1:7200
//! ```
//!
//! Press Ctrl-C in one (it leaves: the others drop it at once) or kill it with `kill -9` (the
//! others declare it dead within about a second) and watch the registry follow.

use std::net::SocketAddr;

use gossip::{Event, Gossip, GossipHandle};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: embed BIND_ADDR ROLE [BOOTSTRAP_ADDR...]";
    let bind: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let role = args.next().ok_or(usage)?;
    let bootstrap = args
        .map(|a| a.parse())
        .collect::<Result<Vec<SocketAddr>, _>>()?;

    let node = Gossip::builder(bind)
        .cluster("registry")
        .bootstrap(bootstrap)
        .spawn()
        .await?;
    let mut events = node.subscribe();
    node.set("service", format!("{role} at {}", node.addr()))
        .await?;
    print_registry(&node).await?;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(Event::Changed { key, .. }) if key != "service" => {}
                Some(_) => print_registry(&node).await?,
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    node.shutdown().await; // peers see us as "left" at once
    Ok(())
}

/// One line per live member that announced a service.
async fn print_registry(node: &GossipHandle) -> Result<(), gossip::Error> {
    let state = node.snapshot().await?;
    println!("registry seen by {}:", node.id());
    for member in node.members().await? {
        if !member.state.is_live() {
            continue;
        }
        if let Some(service) = state.get(&member.id, "service") {
            let service = String::from_utf8_lossy(service);
            println!("  {:<8} {:<7} {service}", member.id, member.state.name());
        }
    }
    Ok(())
}
