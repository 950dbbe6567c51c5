//! Live config reload: the node's TOML file is watched (its directory, so editors that save by
//! writing a new file and renaming it over the old one are seen too), and every valid edit is
//! applied to the running node within the debounce delay. An invalid edit is logged with its
//! line and the running config stays in force.

use std::path::PathBuf;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use crate::core::NodeConfig;

use crate::runtime::Command;

/// How long edits must settle before a reload (editors write files in several steps).
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// Keeps the watch alive; dropping it stops watching.
pub struct ConfigWatcher {
    _debouncer: Debouncer<RecommendedWatcher>,
    _task: tokio::task::JoinHandle<()>,
}

/// Watches `paths` (the config file and the cluster key file); on every change calls `load`
/// (which re-reads the files and re-applies the command-line flags over them) and hands the
/// result to `node`.
/// `load` also returns the book re-draw interval, which goes to `resample` (the book loop
/// is the binary's, not the node's).
/// A re-read config: the protocol settings, the book re-draw interval, and the changed
/// settings that only a restart applies (named, for the log).
pub struct Reloaded {
    pub config: NodeConfig,
    pub resample: Option<Duration>,
    pub need_restart: Vec<String>,
}

pub fn watch_config(
    paths: &[PathBuf],
    node: mpsc::UnboundedSender<Command>,
    resample: watch::Sender<Option<Duration>>,
    load: impl Fn() -> Result<Reloaded, String> + Send + 'static,
) -> Result<ConfigWatcher, String> {
    let mut names = Vec::new();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_os_string())
            .ok_or_else(|| format!("{} is not a file", path.display()))?;
        names.push(name);
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut debouncer = new_debouncer(DEBOUNCE, move |result: DebounceEventResult| {
        if let Ok(events) = result {
            if events.iter().any(|e| {
                e.path
                    .file_name()
                    .is_some_and(|n| names.iter().any(|m| m == n))
            }) {
                let _ = tx.send(());
            }
        }
    })
    .map_err(|e| format!("cannot watch {}: {e}", dirs[0].display()))?;
    for dir in &dirs {
        debouncer
            .watcher()
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    }
    let shown = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" and ");
    let watched: Vec<PathBuf> = paths.to_vec();
    let read_all =
        move || -> Vec<Option<Vec<u8>>> { watched.iter().map(|p| std::fs::read(p).ok()).collect() };
    // Reading the files raises events of their own (and editors touch files without changing
    // them): act only when the bytes differ from the last ones we acted on.
    let mut last = read_all();
    let task = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            let now = read_all();
            if now.iter().any(Option::is_none) || now == last {
                continue;
            }
            last = now;
            match load() {
                Err(e) => error!("config reload rejected, keeping the running config: {e}"),
                Ok(Reloaded {
                    config,
                    resample: every,
                    need_restart,
                }) => {
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    let command = Command::Reconfigure {
                        config: Box::new(config),
                        reply,
                    };
                    if node.send(command).is_err() {
                        return;
                    }
                    let Ok(mut done) = answer.await else { return };
                    done.need_restart.extend(need_restart);
                    let before = *resample.borrow();
                    if before != every {
                        let secs = |d: Option<Duration>| {
                            d.map_or("never".into(), |d| format!("{}s", d.as_secs_f64()))
                        };
                        done.changes
                            .push(format!("resample {} → {}", secs(before), secs(every)));
                        resample.send_replace(every);
                    }
                    {
                        for warning in &done.need_restart {
                            warn!("config reload: {warning} needs a restart to take effect");
                        }
                        if done.changes.is_empty() {
                            info!("config reloaded from {shown}: nothing changed");
                        } else {
                            info!("config reloaded: {}", done.changes.join("; "));
                        }
                    }
                }
            }
        }
    });
    Ok(ConfigWatcher {
        _debouncer: debouncer,
        _task: task,
    })
}
