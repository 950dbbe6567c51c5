//! `gossip status`, `set`, `get`, `del` and `watch`: requests to one running node.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;

use crate::core::node::{abbreviate, size_text};
use crate::runtime::client::{AdminClient, ClientError};
use crate::wire::{ChangeKind, MAX_ID_LEN, MAX_KEY_LEN, MAX_PREFIX_LEN, MAX_VALUE_LEN};

use super::render::{render_status, status_json};
use super::AdminArgs;

async fn client(args: &AdminArgs) -> Result<AdminClient, ExitCode> {
    let access = args.access().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    access.client(args.addr).await.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

pub async fn status(args: &AdminArgs, json: bool) -> ExitCode {
    let client = match client(args).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.status().await {
        Err(e @ ClientError::Refused(_)) => failed(&e),
        Ok(report) => {
            if json {
                match serde_json::to_string_pretty(&status_json(&report)) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", render_status(&report));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The exit code for a failed request: the node refused it (bad input: 2) or did not answer.
fn failed(e: &ClientError) -> ExitCode {
    eprintln!("error: {e}");
    match e {
        ClientError::Refused(_) | ClientError::UnknownOrigin(_) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

/// Refuses what no node would take, before anything is sent.
fn check_key(key: &str) -> Result<(), ExitCode> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        eprintln!(
            "error: key must be 1 to {MAX_KEY_LEN} bytes; `{}` is {}",
            key.chars().take(40).collect::<String>(),
            key.len()
        );
        return Err(ExitCode::from(2));
    }
    Ok(())
}

/// Where a `set` takes its value from.
pub enum Source<'a> {
    Text(&'a str),
    /// A file, or stdin for `-`.
    File(&'a Path),
}

/// Reads the value, refusing a missing file or one over the protocol's limit.
fn read_value(source: Source) -> Result<Bytes, ExitCode> {
    let (bytes, what) = match source {
        Source::Text(text) => (text.as_bytes().to_vec(), "value".to_string()),
        Source::File(path) if path.as_os_str() == "-" => {
            let mut buf = Vec::new();
            // Read one byte past the limit, so a huge stream is refused without being held.
            let read = std::io::stdin()
                .lock()
                .take(MAX_VALUE_LEN as u64 + 1)
                .read_to_end(&mut buf);
            if let Err(e) = read {
                eprintln!("error: cannot read stdin: {e}");
                return Err(ExitCode::from(2));
            }
            (buf, "stdin".to_string())
        }
        Source::File(path) => {
            let limited = std::fs::File::open(path).and_then(|f| {
                let mut buf = Vec::new();
                f.take(MAX_VALUE_LEN as u64 + 1).read_to_end(&mut buf)?;
                Ok(buf)
            });
            match limited {
                Ok(buf) => (buf, path.display().to_string()),
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", path.display());
                    return Err(ExitCode::from(2));
                }
            }
        }
    };
    if bytes.len() > MAX_VALUE_LEN {
        eprintln!(
            "error: {what} is larger than {}, the most any node accepts",
            size_text(MAX_VALUE_LEN as u64)
        );
        return Err(ExitCode::from(2));
    }
    Ok(Bytes::from(bytes))
}

pub async fn set(args: &AdminArgs, key: &str, source: Source<'_>, ttl: Option<Duration>) -> ExitCode {
    if let Err(code) = check_key(key) {
        return code;
    }
    let value = match read_value(source) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let client = match client(args).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let shown = abbreviate(&value);
    match client.write(key, Some(value), ttl).await {
        Ok(version) => {
            let ttl = ttl.map_or(String::new(), |t| {
                format!(", expires in {}", humantime::format_duration(t))
            });
            println!("{} set {key}={shown:?} at version {version}{ttl}", args.addr);
            ExitCode::SUCCESS
        }
        Err(e) => failed(&e),
    }
}

pub async fn del(args: &AdminArgs, key: &str) -> ExitCode {
    if let Err(code) = check_key(key) {
        return code;
    }
    let client = match client(args).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.write(key, None, None).await {
        Ok(version) => {
            println!("{} deleted {key} at version {version}", args.addr);
            ExitCode::SUCCESS
        }
        Err(e) => failed(&e),
    }
}

pub async fn get(args: &AdminArgs, origin: &str, key: &str) -> ExitCode {
    if let Err(code) = check_key(key) {
        return code;
    }
    if origin.is_empty() || origin.len() > MAX_ID_LEN {
        eprintln!("error: an origin is a node id of 1 to {MAX_ID_LEN} bytes");
        return ExitCode::from(2);
    }
    let client = match client(args).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.get(origin, key).await {
        Ok(Some((_, bytes))) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(&bytes).and_then(|_| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write the value: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Ok(None) => {
            eprintln!("{origin} holds no key `{key}` (as far as {} knows)", args.addr);
            ExitCode::FAILURE
        }
        Err(e) => failed(&e),
    }
}

pub async fn watch(args: &AdminArgs, prefix: &str, json: bool) -> ExitCode {
    if prefix.len() > MAX_PREFIX_LEN {
        eprintln!("error: a prefix is at most {MAX_PREFIX_LEN} bytes");
        return ExitCode::from(2);
    }
    let client = match client(args).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let result = client
        .watch(prefix, |change, missed| {
            let mut out = std::io::stdout().lock();
            let line = if json {
                serde_json::json!({
                    "origin": change.origin.as_str(),
                    "key": change.key,
                    "version": change.version,
                    "size": change.size,
                    "kind": change.kind,
                    "missed": missed,
                })
                .to_string()
            } else {
                let what = match change.kind {
                    ChangeKind::Set => format!("set ({})", size_text(change.size)),
                    ChangeKind::Deleted => "deleted".to_string(),
                    ChangeKind::Expired => "expired".to_string(),
                };
                let lost = if missed > 0 {
                    format!("  [{missed} earlier changes lost in transit]")
                } else {
                    String::new()
                };
                format!("{} {} v{} {what}{lost}", change.origin, change.key, change.version)
            };
            // A closed pipe (`gossip watch | head`) ends the watch.
            writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
        })
        .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(&e),
    }
}
