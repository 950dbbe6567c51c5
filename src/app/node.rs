//! `gossip node`: load settings, bind, run until Ctrl-C or SIGTERM (which leave the cluster
//! gracefully); reload the TOML file when it changes.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rand::RngExt;
use tracing::{error, info, warn};

use crate::config::{load_books, resolve, FileConfig, NodeArgs, NodeSettings, BOOK_KEY};
use crate::core::{Node, Time};
use crate::runtime::persist::StateFile;

use crate::runtime;
use super::{log::EventLogger, reload};
use crate::ui::{feed, tui, UiMode};

use super::books::Books;
use super::shutdown::Shutdown;
use tokio::sync::watch;

/// Exit code for configuration mistakes, so scripts can tell them from crashes.
const EXIT_CONFIG: u8 = 2;

/// Reads the TOML file (if any) and applies flags and environment over it. The error names
/// the file, line and key.
fn load_settings(args: &NodeArgs) -> Result<NodeSettings, String> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    resolve(args, &file).map_err(|e| match &args.config {
        Some(p) => format!("{}: {e}", p.display()),
        None => e.to_string(),
    })
}

pub async fn run(args: NodeArgs) -> ExitCode {
    let mut shutdown = Shutdown::install();
    let mut settings = match load_settings(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
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
    let tui = match args.ui {
        Some(mode) => mode == UiMode::Tui,
        None => std::io::stdout().is_terminal() && std::io::stdin().is_terminal(),
    };
    let feed = if tui {
        Some(feed::init_feed_logging())
    } else {
        super::log::init(settings.log);
        None
    };
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
    let opened = match &settings.data_dir {
        None => None,
        Some(dir) => match StateFile::open(dir, settings.node.id.as_str()) {
            Ok(opened) => {
                settings.node.initial_version = opened.version;
                settings.node.initial_incarnation = opened.incarnation;
                Some(opened)
            }
            Err(e) => {
                error!("{e}");
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
    };
    let settled = runtime::identity::settle(
        settings.identity_file.as_deref(),
        settings.data_dir.as_deref(),
        settings.node.id.as_str(),
        settings.node.trust.mode,
    );
    match settled {
        Ok(settled) => {
            if let Some(identity) = &settled.identity {
                match &settled.created {
                    Some(path) => info!(
                        "made identity {} in {}",
                        identity.public(),
                        path.display()
                    ),
                    None if settled.ephemeral => warn!(
                        "identity {} is for this run only: peers that pin it (trust tofu) \
                         refuse this node after a restart; give --data-dir or --identity-file",
                        identity.public()
                    ),
                    None => info!("identity {}", identity.public()),
                }
            }
            if let Some(path) = &settings.identity_file {
                warn_if_readable_by_others(path, "identity");
            }
            settings.node.identity = settled.identity.map(std::sync::Arc::new);
        }
        Err(e) => {
            error!("{e}");
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    if settings.node.trust.mode != crate::core::TrustMode::Open {
        info!(
            "trust {}: state is applied only when signed by the key trusted for its node{}",
            settings.node.trust.mode,
            match settings.node.trust.mode {
                crate::core::TrustMode::Allowlist =>
                    format!(" ({} key(s) listed)", settings.node.trust.allowed.len()),
                _ => String::new(),
            }
        );
    }
    if let Some(path) = &settings.key_file {
        warn_if_readable_by_others(path, "cluster key");
        if let Some(ring) = &settings.node.keyring {
            info!(
                "keyed cluster: sealing with key {} ({} key(s) accepted)",
                ring.primary().fingerprint(),
                ring.keys().len()
            );
        }
    }
    if settings.bind.ip().is_unspecified() && args.advertise.is_none() {
        warn!(
            "bound to {} but advertising {}: give --advertise ADDR so peers on other hosts can reach this node",
            settings.bind, settings.node.addr
        );
    }
    let seed = settings.seed.unwrap_or_else(|| rand::rng().random());
    let epoch = Instant::now();
    runtime::os::ground(&mut settings.node, epoch);
    let mut node = Node::new(settings.node.clone(), Time::ZERO, seed);
    let state = opened.map(|opened| {
        let (mut file, keys) = (opened.file, opened.keys);
        let held = keys.len();
        for refused in file.restore(&mut node, keys) {
            warn!("{refused}");
        }
        if held > 0 {
            info!("restored {held} key(s) from the data dir");
        }
        file
    });
    let mut books = Books::new(books, seed);
    // The first book is held from the start: the join and first exchanges carry it.
    let first = books.draw();
    if let Some(book) = &first {
        if let Err(e) = node.preload(Time::ZERO, BOOK_KEY, bytes::Bytes::from(book.clone()), None) {
            warn!("cannot hold the book {book:?}: {e}");
        }
    }
    info!(
        id = %node.id(), addr = %local, cluster = %settings.cluster_name,
        "node {} listening on {} (cluster {:?}), reading {:?} (v{}); peers: {}",
        node.id(),
        local,
        settings.cluster_name,
        first.as_deref().unwrap_or("-"),
        node.store().own().watermark,
        peer_list(&node),
    );
    let mut logger = EventLogger::default();
    let node = crate::api::launch(node, socket, epoch, state, 1024, move |node, now, event| {
        logger.log(node, now, event)
    });
    let handle = node.runtime();
    let (resample, every) = watch::channel(settings.resample);
    let watched: Vec<PathBuf> = args
        .config
        .iter()
        .chain(settings.key_file.iter())
        .chain(settings.trusted_keys.iter())
        .cloned()
        .collect();
    let _watcher = (!watched.is_empty()).then_some(()).and_then(|()| {
        let reload_args = args.clone();
        let running = settings.clone();
        let load = move || reload_config(&reload_args, local, &running);
        match reload::watch_config(&watched, handle.commands(), resample, load) {
            Ok(w) => {
                let files: Vec<String> = watched.iter().map(|p| p.display().to_string()).collect();
                info!("watching {} for edits", files.join(" and "));
                Some(w)
            }
            Err(e) => {
                warn!("{e}; edits to the config and key files will need a restart");
                None
            }
        }
    });
    let _metrics = match args.metrics {
        None => None,
        Some(addr) => match super::metrics::serve(addr, handle) {
            Ok(task) => {
                info!("metrics at http://{addr}/metrics");
                Some(task)
            }
            Err(e) => {
                error!("{e}");
                None
            }
        },
    };
    let redraw = books.run(&node, every);
    match feed {
        Some(feed) => {
            let view = tui::run(handle, feed, shutdown.wait());
            tokio::select! {
                result = view => if let Err(e) = result {
                    eprintln!("error: the live view failed ({e}); use --ui plain");
                },
                () = redraw => {}
            }
        }
        None => tokio::select! {
            () = shutdown.wait() => {}
            () = redraw => {}
        },
    }
    info!("leaving the cluster");
    node.shutdown().await;
    ExitCode::SUCCESS
}

/// The config a reload applies: the file re-read, flags re-applied, the real bound address.
/// Re-reads the config. Settings the running process fixed at start (the books file, the
/// log format, the seed, the data dir) are compared with `running` and named if they changed:
/// they need a restart.
fn reload_config(
    args: &NodeArgs,
    local: SocketAddr,
    running: &NodeSettings,
) -> Result<reload::Reloaded, String> {
    let mut settings = load_settings(args)?;
    settings.bound_to(local);
    // The identity was settled at start; only naming another file needs a restart.
    settings.node.identity = running.node.identity.clone();
    let mut need_restart = Vec::new();
    let shown = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or("none".to_string(), |p| p.display().to_string())
    };
    if settings.books != running.books {
        need_restart.push(format!(
            "books {} → {}",
            shown(&running.books),
            shown(&settings.books)
        ));
    }
    if settings.log != running.log {
        let name = |f: super::log::LogFormat| format!("{f:?}").to_lowercase();
        need_restart.push(format!("log {} → {}", name(running.log), name(settings.log)));
    }
    if settings.seed != running.seed {
        let seed = |s: Option<u64>| s.map_or("random".to_string(), |s| s.to_string());
        need_restart.push(format!(
            "seed {} → {}",
            seed(running.seed),
            seed(settings.seed)
        ));
    }
    if settings.identity_file != running.identity_file {
        need_restart.push(format!(
            "identity_file {} → {}",
            shown(&running.identity_file),
            shown(&settings.identity_file)
        ));
    }
    if settings.data_dir != running.data_dir {
        need_restart.push(format!(
            "data_dir {} → {}",
            shown(&running.data_dir),
            shown(&settings.data_dir)
        ));
    }
    Ok(reload::Reloaded {
        config: settings.node,
        resample: settings.resample,
        need_restart,
    })
}

/// A key file others can read is a key others may have: say so (like ssh, but without
/// refusing, so a test fixture or a container secret mount still works).
fn warn_if_readable_by_others(path: &std::path::Path, what: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                warn!(
                    "{what} file {} is readable by other users: chmod 600 it",
                    path.display()
                );
            }
        }
    }
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
