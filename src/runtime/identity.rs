//! Identity files (a node's ed25519 secret key) and trusted-key lists, on disk.
//!
//! An identity file is text: comment lines, then the 32-byte secret key in hex. It is written
//! owner-only, like a cluster key. A trusted-keys file lists one public key (hex) per line,
//! optionally followed by the one node id that key may speak for; `#` starts a comment.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngExt;

use crate::core::trust::{Allowlist, Identity, TrustMode};
use crate::wire::{NodeId, PublicKey};

/// A new identity from the operating system's randomness.
pub fn generate() -> Identity {
    Identity::from_secret(rand::rng().random())
}

/// Writes `identity` to `path`, readable by its owner only; an existing file is an error
/// (`AlreadyExists`) unless `force`.
pub fn write(path: &Path, identity: &Identity, force: bool) -> std::io::Result<()> {
    let text = format!(
        "# gossip node identity, public key {}.\n\
         # The secret key below signs every change this node makes: keep this file secret\n\
         # (mode 600) and keep it across restarts, or peers that pinned the key refuse the node.\n{}\n",
        identity.public(),
        hex::encode(identity.secret())
    );
    write_secret(path, &text, force)
}

/// Writes a secret (a key file) to `path`, readable by its owner only, and syncs it; an
/// existing file is an error (`AlreadyExists`) unless `force`, which also tightens its mode.
pub fn write_secret(path: &Path, text: &str, force: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // An existing file opened with `force` keeps its mode: tighten it too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Reads an identity file.
pub fn read(path: &Path) -> Result<Identity, String> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "identity file {} does not exist (make one with `gossip keygen --identity {}`)",
            path.display(),
            path.display()
        ),
        _ => format!("cannot read identity file {}: {e}", path.display()),
    })?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let bad = || {
        format!(
            "identity file {}: expected one line of 64 hex digits (as `gossip keygen --identity` writes)",
            path.display()
        )
    };
    let line = lines.next().ok_or_else(bad)?;
    if lines.next().is_some() {
        return Err(bad());
    }
    let mut secret = [0u8; 32];
    hex::decode_to_slice(line, &mut secret).map_err(|_| bad())?;
    Ok(Identity::from_secret(secret))
}

/// Where a node keeps its identity in its data dir.
pub fn path_in(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.identity"))
}

/// The identity kept in data dir `dir` for node `id`, made and saved on first use; true
/// when it was just made.
pub fn open_or_create(dir: &Path, id: &str) -> Result<(Identity, bool), String> {
    let path = path_in(dir, id);
    if path.exists() {
        return read(&path).map(|identity| (identity, false));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", dir.display()))?;
    let identity = generate();
    write(&path, &identity, false)
        .map_err(|e| format!("cannot write identity file {}: {e}", path.display()))?;
    Ok((identity, true))
}

/// A node's identity once settled, and how it came about.
#[derive(Debug)]
pub struct Settled {
    pub identity: Option<Identity>,
    /// The identity file just made in the data dir.
    pub created: Option<PathBuf>,
    /// Made for this run only: a restart brings a new key.
    pub ephemeral: bool,
}

/// Settles a node's identity: the file given (which must exist), else the one in its data dir
/// (made on first use), else, when `mode` checks signatures, a fresh one for this run only;
/// an open node without either signs nothing, as before identities. An allowlist node needs
/// a lasting key (the other nodes must list it).
pub fn settle(
    file: Option<&Path>,
    data_dir: Option<&Path>,
    id: &str,
    mode: TrustMode,
) -> Result<Settled, String> {
    let settled = |identity, created, ephemeral| Settled {
        identity: Some(identity),
        created,
        ephemeral,
    };
    if let Some(path) = file {
        return read(path).map(|identity| settled(identity, None, false));
    }
    if let Some(dir) = data_dir {
        let (identity, fresh) = open_or_create(dir, id)?;
        return Ok(settled(identity, fresh.then(|| path_in(dir, id)), false));
    }
    match mode {
        TrustMode::Open => Ok(Settled {
            identity: None,
            created: None,
            ephemeral: false,
        }),
        TrustMode::Tofu => Ok(settled(generate(), None, true)),
        TrustMode::Allowlist => Err(
            "--trust allowlist needs a lasting identity whose public key the other nodes list: \
             give --identity-file FILE (`gossip keygen --identity FILE`) or --data-dir DIR"
                .into(),
        ),
    }
}

/// Parses a trusted-keys list: `KEY` or `KEY ID` per line, `#` comments, blank lines.
pub fn parse_trusted_keys(text: &str) -> Result<Allowlist, String> {
    let mut keys = Allowlist::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let key: PublicKey = words
            .next()
            .unwrap_or_default()
            .parse()
            .map_err(|e| format!("line {}: {e}", n + 1))?;
        let id = words.next().map(NodeId::from);
        if let Some(id) = &id {
            if !id.is_valid() {
                return Err(format!("line {}: node id `{id}` must be 1..=64 bytes", n + 1));
            }
        }
        if words.next().is_some() {
            return Err(format!(
                "line {}: expected `KEY` or `KEY NODE-ID`, found more",
                n + 1
            ));
        }
        if keys.insert(key, id).is_some() {
            return Err(format!("line {}: key {key} is listed twice", n + 1));
        }
    }
    Ok(keys)
}

/// Reads a trusted-keys file.
pub fn read_trusted_keys(path: &Path) -> Result<Allowlist, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read trusted keys {}: {e}", path.display()))?;
    parse_trusted_keys(&text).map_err(|e| format!("trusted keys {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_survives_its_file_and_a_data_dir_makes_one_once() {
        let dir = std::env::temp_dir().join(format!("gossip-identity-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (made, fresh) = open_or_create(&dir, "n1").expect("made");
        assert!(fresh);
        let (again, fresh) = open_or_create(&dir, "n1").expect("read");
        assert!(!fresh);
        assert_eq!(made.public(), again.public());
        let path = path_in(&dir, "n1");
        assert!(write(&path, &generate(), false).is_err(), "never overwritten by accident");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o077, 0, "owner-only");
        }
        std::fs::write(&path, "not hex\n").expect("write");
        assert!(read(&path).expect_err("refused").contains("64 hex digits"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn trusted_keys_take_an_optional_id_and_refuse_junk_by_line() {
        let (a, b) = (generate().public(), generate().public());
        let text = format!("# cluster keys\n{a}\n\n{b} n2   # bound\n");
        let keys = parse_trusted_keys(&text).expect("parsed");
        assert_eq!(keys.get(&a), Some(&None));
        assert_eq!(keys.get(&b), Some(&Some(NodeId::from("n2"))));
        let err = parse_trusted_keys(&format!("{a}\nnot-a-key\n")).expect_err("junk");
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(parse_trusted_keys(&format!("{a}\n{a}\n")).is_err());
        assert!(parse_trusted_keys(&format!("{a} n1 extra\n")).is_err());
    }
}
