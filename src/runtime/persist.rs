//! `--data-dir`: a small state file so a restarted node never reissues a version or an
//! incarnation the cluster already saw, even when no peer remembers it.
//!
//! The file holds a *reserved* version ceiling, not the current version: on start the node
//! continues above the ceiling and immediately reserves a new block. The driver checks before
//! every send, so no datagram can carry a version beyond what the file covers, and the file
//! is written about once per [`BLOCK`] versions rather than on every change.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::Node;

/// Versions reserved per write.
pub const BLOCK: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Saved {
    reserved_version: u64,
    incarnation: u64,
}

/// The node's state file and what it currently promises.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    saved: Saved,
}

impl StateFile {
    /// Opens (or creates) `dir/<id>.state.json`, returning it with the version and incarnation
    /// the node must start above. A corrupt file is an error, not a silent reset: starting
    /// from zero is exactly what the file exists to prevent.
    pub fn open(dir: &Path, id: &str) -> Result<(StateFile, u64, u64), String> {
        fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create data dir {}: {e}", dir.display()))?;
        let path = dir.join(format!("{id}.state.json"));
        let saved = match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str::<Saved>(&text).map_err(|e| {
                format!(
                    "{}: unreadable state file ({e}); move it away to start afresh",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved {
                reserved_version: 0,
                incarnation: 0,
            },
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let mut file = StateFile { path, saved };
        let start_version = saved.reserved_version;
        // The previous run may have used anything up to its reservation, and may have refuted
        // at its incarnation: start above both.
        let start_incarnation = saved.incarnation + u64::from(saved.reserved_version > 0);
        file.write(Saved {
            reserved_version: start_version + BLOCK,
            incarnation: start_incarnation,
        })?;
        Ok((file, start_version, start_incarnation))
    }

    /// Extends the reservation or records a new incarnation if the node needs it. Call before
    /// sending anything.
    pub fn checkpoint(&mut self, node: &Node) -> Result<(), String> {
        let version = node.store().own().watermark;
        let incarnation = node.incarnation();
        if version < self.saved.reserved_version && incarnation <= self.saved.incarnation {
            return Ok(());
        }
        let reserved_version = if version >= self.saved.reserved_version {
            version + BLOCK
        } else {
            self.saved.reserved_version
        };
        self.write(Saved {
            reserved_version,
            incarnation: incarnation.max(self.saved.incarnation),
        })
    }

    fn write(&mut self, saved: Saved) -> Result<(), String> {
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string(&saved).map_err(|e| e.to_string())?;
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", self.path.display());
        let mut f = fs::File::create(&tmp).map_err(fail)?;
        f.write_all(text.as_bytes()).map_err(fail)?;
        f.sync_all().map_err(fail)?;
        fs::rename(&tmp, &self.path).map_err(fail)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.saved = saved;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{NodeConfig, Time};
    use crate::wire::NodeId;

    #[test]
    fn a_restart_starts_above_everything_the_last_run_could_have_sent() {
        let dir = std::env::temp_dir().join(format!("gossip-persist-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (mut file, v0, i0) = StateFile::open(&dir, "n1").unwrap();
        assert_eq!((v0, i0), (0, 0));
        let mut config = NodeConfig::new(NodeId::from("n1"), "127.0.0.1:1".parse().unwrap());
        config.initial_version = v0;
        let mut node = Node::new(config.clone(), Time::ZERO, 1);
        for i in 0..250 {
            node.set(Time::ZERO, "k", i.to_string().as_bytes()).unwrap();
            file.checkpoint(&node).unwrap();
        }
        let last = node.store().own().watermark;
        drop(file);
        // "Crash" and restart: the new run must start above `last`.
        let (_file, v1, i1) = StateFile::open(&dir, "n1").unwrap();
        assert!(v1 >= last, "restart would reuse versions: {v1} < {last}");
        assert!(i1 >= 1);
        config.initial_version = v1;
        let node = Node::new(config, Time::ZERO, 2);
        assert!(node.store().own().watermark > last);
        // A corrupt file stops the node instead of silently resetting it.
        fs::write(dir.join("n1.state.json"), "garbage").unwrap();
        assert!(StateFile::open(&dir, "n1").is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
