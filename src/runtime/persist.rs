//! `--data-dir`: a small state file so a restarted node never reissues a version or an
//! incarnation the cluster already saw, even when no peer remembers it, and a keys file with
//! the node's own keys, so a restarted node still holds everything it acknowledged.
//!
//! Under trust tofu or allowlist, a pins file (`<id>.pins`) keeps the keys pinned to node ids,
//! so a restart does not reopen "first use" for every peer; it is rewritten when pins were added,
//! at most every [`PINS_EVERY`] (pins learned in the last moments before a crash are learned
//! again on first use).
//!
//! The keys file is rewritten whole (to a temporary file, synced, then renamed over the old
//! one) whenever the node's own keys change, before the change is acknowledged or sent.
//!
//! The file holds a *reserved* version ceiling, not the current version: on start the node
//! continues above the ceiling and immediately reserves a new block. The driver checks before
//! every send, so no datagram can carry a version beyond what the file covers, and the file
//! is written about once per [`BLOCK`] versions rather than on every change.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use bytes::Bytes;

use crate::core::{Node, Time};
use crate::wire::{decode_saved, encode_saved, NodeId, PublicKey, SavedKey, SavedKeys};

/// Versions reserved per write.
pub const BLOCK: u64 = 100;

/// Least time between two rewrites of the pins file.
pub const PINS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The pins file: (node id, public key in hex) pairs.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SavedPins {
    pins: Vec<(String, String)>,
}

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
    keys_path: PathBuf,
    /// Our own version the keys file is current at.
    keys_version: u64,
    pins_path: PathBuf,
    /// Pins read at start, for [`StateFile::restore`].
    pins: Vec<(NodeId, PublicKey)>,
    /// How many pins the pins file holds, and when it was written.
    pins_written: usize,
    pins_at: Option<std::time::Instant>,
}

/// A data dir, opened: the file, where the node's counters must start, and its saved keys.
#[derive(Debug)]
pub struct Opened {
    pub file: StateFile,
    pub version: u64,
    pub incarnation: u64,
    pub keys: Vec<SavedKey>,
}

impl StateFile {
    /// Opens (or creates) `dir/<id>.state.json`, returning it with the version and incarnation
    /// the node must start above. A corrupt file is an error, not a silent reset: starting
    /// from zero is exactly what the file exists to prevent.
    pub fn open(dir: &Path, id: &str) -> Result<Opened, String> {
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
        let keys_path = dir.join(format!("{id}.keys"));
        let keys = match fs::read(&keys_path) {
            Ok(bytes) => decode_saved(&bytes)
                .map_err(|e| {
                    format!(
                        "{}: unreadable keys file ({e}); move it away to start afresh",
                        keys_path.display()
                    )
                })?
                .keys,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", keys_path.display())),
        };
        let pins_path = dir.join(format!("{id}.pins"));
        let pins = read_pins(&pins_path)?;
        let mut file = StateFile {
            path,
            saved,
            keys_path,
            keys_version: 0,
            pins_path,
            pins_written: pins.len(),
            pins,
            pins_at: None,
        };
        let start_version = saved.reserved_version;
        // The previous run may have used anything up to its reservation, and may have refuted
        // at its incarnation: start above both.
        let start_incarnation = saved.incarnation + u64::from(saved.reserved_version > 0);
        file.write(Saved {
            reserved_version: start_version + BLOCK,
            incarnation: start_incarnation,
        })?;
        Ok(Opened {
            file,
            version: start_version,
            incarnation: start_incarnation,
            keys,
        })
    }

    /// Gives a freshly made node (counters already above the last run's) its saved keys
    /// back, at new versions; none has spread yet, so peers learn them in the first
    /// exchanges. Keys the node's limits refuse now are skipped with the reason.
    pub fn restore(&mut self, node: &mut Node, keys: Vec<SavedKey>) -> Vec<String> {
        let mut refused = Vec::new();
        for saved in keys {
            let value = Bytes::from(saved.value);
            if let Err(e) = node.preload(Time::ZERO, &saved.key, value, saved.expires_ms) {
                refused.push(format!("saved key {}: {e}", saved.key));
            }
        }
        // Already on disk: no need to write them again.
        self.keys_version = node.store().own().watermark;
        node.restore_pins(std::mem::take(&mut self.pins));
        refused
    }

    /// Extends the reservation or records a new incarnation if the node needs it. Call before
    /// sending anything.
    pub fn checkpoint(&mut self, node: &Node) -> Result<(), String> {
        self.save_keys(node)?;
        self.save_pins(node)?;
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

    /// Rewrites the keys file if our own keys changed since it was written.
    fn save_keys(&mut self, node: &Node) -> Result<(), String> {
        let own = node.store().own();
        if own.watermark == self.keys_version {
            return Ok(());
        }
        let keys = own
            .values
            .iter()
            .filter_map(|(key, v)| {
                Some(SavedKey {
                    key: key.clone(),
                    value: v.value.as_ref()?.to_vec(),
                    expires_ms: v.expires_ms,
                })
            })
            .collect();
        let saved = SavedKeys {
            version: own.watermark,
            keys,
        };
        let bytes = encode_saved(&saved).map_err(|e| e.to_string())?;
        write_atomically(&self.keys_path, &bytes)?;
        self.keys_version = own.watermark;
        Ok(())
    }

    /// Rewrites the pins file if pins were added, at most every [`PINS_EVERY`].
    fn save_pins(&mut self, node: &Node) -> Result<(), String> {
        if node.config().trust.mode == crate::core::TrustMode::Open {
            return Ok(());
        }
        let count = node.pinned_count();
        let recent = self.pins_at.is_some_and(|at| at.elapsed() < PINS_EVERY);
        if count <= self.pins_written || recent {
            return Ok(());
        }
        let mut pins: Vec<(String, String)> = node
            .pinned_keys()
            .into_iter()
            .map(|(id, key)| (id.to_string(), key.to_string()))
            .collect();
        pins.sort();
        let text = serde_json::to_string(&SavedPins { pins }).map_err(|e| e.to_string())?;
        write_atomically(&self.pins_path, text.as_bytes())?;
        self.pins_written = count;
        self.pins_at = Some(std::time::Instant::now());
        Ok(())
    }

    fn write(&mut self, saved: Saved) -> Result<(), String> {
        let text = serde_json::to_string(&saved).map_err(|e| e.to_string())?;
        write_atomically(&self.path, text.as_bytes())?;
        self.saved = saved;
        Ok(())
    }
}

/// The pins kept by an earlier run (none if there is no file).
fn read_pins(path: &Path) -> Result<Vec<(NodeId, PublicKey)>, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let unreadable = |why: String| {
        format!(
            "{}: unreadable pins file ({why}); move it away to pin keys afresh on first use",
            path.display()
        )
    };
    let saved: SavedPins = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
    saved
        .pins
        .into_iter()
        .map(|(id, key)| {
            let id = NodeId::from(id);
            if !id.is_valid() {
                return Err(unreadable(format!("node id `{id}`")));
            }
            Ok((id, key.parse::<PublicKey>().map_err(unreadable)?))
        })
        .collect()
}

/// Replaces `path` with `bytes` so a crash leaves either the old file or the new one: write a
/// temporary file, sync it, rename it over, sync the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut f = fs::File::create(&tmp).map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    fs::rename(&tmp, path).map_err(fail)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{NodeConfig, Time};
    use crate::wire::NodeId;

    #[test]
    fn pinned_keys_survive_a_restart_under_tofu() {
        let dir = std::env::temp_dir().join(format!("gossip-pins-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let identity = |b: u8| std::sync::Arc::new(crate::core::Identity::from_secret([b; 32]));
        let mut config = NodeConfig::new(NodeId::from("n1"), "127.0.0.1:1".parse().unwrap());
        config.identity = Some(identity(1));
        config.trust.mode = crate::core::TrustMode::Tofu;
        let peer = identity(2).public();
        let Opened { mut file, keys, .. } = StateFile::open(&dir, "n1").unwrap();
        let mut node = Node::new(config.clone(), Time::ZERO, 1);
        file.restore(&mut node, keys);
        node.restore_pins([(NodeId::from("n2"), peer)]);
        file.checkpoint(&node).unwrap();
        drop(file);
        let Opened { mut file, keys, .. } = StateFile::open(&dir, "n1").unwrap();
        let mut again = Node::new(config, Time::ZERO, 2);
        assert!(!again.pinned_keys().contains(&(NodeId::from("n2"), peer)));
        file.restore(&mut again, keys);
        assert!(again.pinned_keys().contains(&(NodeId::from("n2"), peer)));
        // A damaged pins file stops the node rather than reopening first use silently.
        fs::write(dir.join("n1.pins"), "{").unwrap();
        assert!(StateFile::open(&dir, "n1")
            .err()
            .is_some_and(|e| e.contains("pins file")));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_restart_starts_above_everything_the_last_run_could_have_sent() {
        let dir = std::env::temp_dir().join(format!("gossip-persist-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let Opened {
            mut file,
            version: v0,
            incarnation: i0,
            ..
        } = StateFile::open(&dir, "n1").unwrap();
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
        let Opened {
            version: v1,
            incarnation: i1,
            keys,
            ..
        } = StateFile::open(&dir, "n1").unwrap();
        assert_eq!(keys.len(), 1, "the last value of k is kept");
        assert_eq!(keys[0].value, b"249");
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
