//! `gossip keygen`: a new random cluster key or node identity, written where only its owner
//! can read it.

use std::path::Path;
use std::process::ExitCode;

use rand::RngExt;

use crate::runtime::identity;
use crate::wire::ClusterKey;

/// Writes a fresh node identity to `path` and prints its public key on stdout (so it can go
/// straight into a trusted-keys file); refuses to replace a file unless `force`.
pub fn identity(path: &Path, force: bool) -> ExitCode {
    let made = identity::generate();
    let written = identity::write(path, &made, force);
    let replacing = "peers that pinned or listed its key then refuse the node";
    outcome(written, path, replacing, || {
        eprintln!("wrote identity to {} (owner-only); its public key:", path.display());
        println!("{}", made.public());
    })
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
    let written = identity::write_secret(out, &text, force);
    outcome(written, out, "nodes using it lose the cluster", || {
        eprintln!(
            "wrote cluster key {} to {} (owner-only)",
            key.fingerprint(),
            out.display()
        );
    })
}

/// What a write of a key file means for the user: `done` on success, exit 2 for a file that
/// exists (replacing it would do what `replacing` says), 1 for anything else.
fn outcome(
    written: std::io::Result<()>,
    path: &Path,
    replacing: &str,
    done: impl FnOnce(),
) -> ExitCode {
    match written {
        Ok(()) => {
            done();
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "error: {} exists; use --force to replace it ({replacing})",
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
