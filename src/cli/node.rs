//! `gossip node`: load settings, bind, run until Ctrl-C or SIGTERM.

use std::process::ExitCode;
use std::time::Instant;

use rand::RngExt;
use tracing::{error, info};

use crate::config::{load_books, resolve, FileConfig, NodeArgs};
use crate::core::{Node, Time};
use crate::runtime::{self, log::EventLogger};

/// Exit code for configuration mistakes, so scripts can tell them from crashes.
const EXIT_CONFIG: u8 = 2;

pub async fn run(args: NodeArgs) -> ExitCode {
    let file = match &args.config {
        Some(path) => match FileConfig::load(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        None => FileConfig::default(),
    };
    let mut settings = match resolve(&args, &file) {
        Ok(s) => s,
        Err(e) => {
            let place = args
                .config
                .as_ref()
                .map(|p| format!("{}: ", p.display()))
                .unwrap_or_default();
            eprintln!("error: {place}{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let books = match load_books(settings.books.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    runtime::log::init(settings.log);
    let socket = match runtime::bind_udp(settings.bind) {
        Ok(s) => s,
        Err(e) => {
            error!("{e}");
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = socket.local_addr().unwrap_or(settings.bind);
    settings.bound_to(local);
    let seed = settings.seed.unwrap_or_else(|| rand::rng().random());
    let epoch = Instant::now();
    let node = Node::new(settings.node.clone(), books, Time::ZERO, seed);
    info!(
        id = %node.id(), addr = %settings.bind, cluster = %settings.cluster_name,
        "node {} listening on {} (cluster {:?}), reading {:?} (v{}); peers: {}",
        node.id(),
        local,
        settings.cluster_name,
        node.store().own().values.get("book").map(|v| v.value.as_str()).unwrap_or("-"),
        node.store().own().watermark,
        peer_list(&node),
    );
    let mut logger = EventLogger::default();
    let handle = runtime::spawn(node, socket, epoch, move |node, now, event| {
        logger.log(node, now, event)
    });
    shutdown_signal().await;
    info!("shutting down");
    handle.shutdown().await;
    ExitCode::SUCCESS
}

fn peer_list(node: &Node) -> String {
    if node.peers().is_empty() {
        return "none yet (waiting to be found)".into();
    }
    node.peers()
        .iter()
        .map(|p| p.addr.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
