//! `gossip keygen`: a new random cluster key or node identity, written where only its owner
//! can read it.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use rand::RngExt;

use crate::wire::ClusterKey;

/// Writes a fresh node identity to `path` and prints its public key on stdout (so it can go
/// straight into a trusted-keys file); refuses to replace a file unless `force`.
pub fn identity(path: &Path, force: bool) -> ExitCode {
    let identity = crate::runtime::identity::generate();
    match crate::runtime::identity::write(path, &identity, force) {
        Ok(()) => {
            eprintln!(
                "wrote identity to {} (owner-only); its public key:",
                path.display()
            );
            println!("{}", identity.public());
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "error: {} exists; use --force to replace it (peers that pinned or listed its key \
                 then refuse the node)",
                path.display()
            );
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// Writes a key file with one fresh key; refuses to replace a file unless `force`.
pub fn run(out: &Path, force: bool) -> ExitCode {
    let key = ClusterKey::from_bytes(rand::rng().random());
    let text = format!(
        "# gossip cluster key (fingerprint {}), made by `gossip keygen`.\n\
         # The first key seals what a node sends; further lines are older keys still accepted.\n\
         # Rotate: add the new key as a second line everywhere, then move it first everywhere,\n\
         # then delete the old line. Keep this file secret (mode 600).\n{}\n",
        key.fingerprint(),
        key.to_hex()
    );
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
    let written = options.open(out).and_then(|mut f| {
        // An existing file opened with --force keeps its mode: tighten it too.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(text.as_bytes())
    });
    match written {
        Ok(()) => {
            eprintln!(
                "wrote cluster key {} to {} (owner-only)",
                key.fingerprint(),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "error: {} exists; use --force to replace it (nodes using it lose the cluster)",
                out.display()
            );
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
