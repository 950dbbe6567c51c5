//! Keyed clusters with real processes: keygen, a node without the key locked out, admin
//! commands that need the key, and a key rotation across a running cluster.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{gossip, start, temp_dir, wait_for, write, NodeProcess};

fn keygen(path: &Path) -> String {
    let out = gossip(&["keygen", "--out", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap()
        .to_string()
}

fn status_with(port: u16, key: &Path) -> Option<serde_json::Value> {
    common::status_at(
        &port.to_string(),
        &["--cluster-key-file", key.to_str().unwrap()],
    )
}

/// Sets color = `value` on the node at `port`, retrying while the node may still be
/// re-reading its key file (a reload lands within a second, later on a loaded machine).
fn set_with(port: u16, key: &Path, value: &str) {
    let mut err = String::new();
    let done = wait_for(Duration::from_secs(10), || {
        let out = gossip(&[
            "set",
            &port.to_string(),
            "color",
            value,
            "--cluster-key-file",
            key.to_str().unwrap(),
        ]);
        err = String::from_utf8_lossy(&out.stderr).into_owned();
        out.status.success()
    });
    assert!(done.is_some(), "set {value} failed: {err}");
}

/// Every node in `ports` (asked with `key`) holds color = `value` from the node at `origin`.
fn everyone_has(ports: &[u16], key: &Path, origin: u16, value: &str) -> bool {
    ports.iter().all(|&p| {
        status_with(p, key).is_some_and(|s| {
            p == origin
                || s["known"].as_array().is_some_and(|k| {
                    k.iter().any(|o| {
                        o["origin"] == format!("n{origin}")
                            && o["values"]["color"].as_str() == Some(value)
                    })
                })
        })
    })
}

fn node(key: &Path, bootstrap: Option<u16>) -> NodeProcess {
    let mut args = vec![
        "--port".to_string(),
        "0".into(),
        "--cluster-key-file".into(),
        key.to_str().unwrap().into(),
        "--resample-secs".into(),
        "0".into(),
        "--anti-entropy-ms".into(),
        "300".into(),
    ];
    if let Some(b) = bootstrap {
        args.extend(["--bootstrap".into(), b.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    start(&args, &[])
}

#[test]
fn keygen_writes_an_owner_only_key_and_never_overwrites_by_accident() {
    let dir = temp_dir("keygen");
    let path = dir.join("cluster.key");
    let key = keygen(&path);
    assert_eq!(key.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = gossip(&["keygen", "--out", path.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    let forced = gossip(&["keygen", "--out", path.to_str().unwrap(), "--force"]);
    assert!(forced.status.success());
    assert_ne!(keygen(&dir.join("other.key")), key);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_keyed_cluster_works_with_the_key_and_shuts_out_everyone_without_it() {
    let dir = temp_dir("keyed");
    let (key_a, key_b) = (dir.join("a.key"), dir.join("b.key"));
    keygen(&key_a);
    keygen(&key_b);
    let a = node(&key_a, None);
    let b = node(&key_a, Some(a.port));
    let c = node(&key_a, Some(a.port));
    let ports = [a.port, b.port, c.port];
    let intruder = node(&key_b, Some(a.port));
    set_with(b.port, &key_a, "teal");
    assert!(
        wait_for(Duration::from_secs(15), || everyone_has(
            &ports, &key_a, b.port, "teal"
        ))
        .is_some(),
        "the keyed cluster converges"
    );
    // Without the key, or with another one, a node answers nothing.
    assert!(common::status(a.port).is_none());
    assert!(status_with(a.port, &key_b).is_none());
    // The intruder (another key) learned nothing and is known to no one.
    let seen = status_with(intruder.port, &key_b).unwrap();
    assert_eq!(seen["known"].as_array().map(Vec::len), Some(1), "{seen}");
    let a_view = status_with(a.port, &key_a).unwrap();
    assert!(
        !a_view["peers"].as_array().unwrap().iter().any(|p| p["addr"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{}", intruder.port))),
        "{a_view}"
    );
    assert!(a_view["counters"]["auth_failed"]
        .as_u64()
        .is_some_and(|n| n > 0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_key_is_rotated_across_a_running_cluster_without_downtime() {
    let dir = temp_dir("rotate");
    let old = keygen(&dir.join("old.key"));
    let new = keygen(&dir.join("new.key"));
    // One key file per node, edited in place the way an operator would, step by step.
    let files: Vec<_> = (0..3).map(|i| dir.join(format!("node{i}.key"))).collect();
    for f in &files {
        write(f, &format!("{old}\n"));
    }
    let a = node(&files[0], None);
    let b = node(&files[1], Some(a.port));
    let c = node(&files[2], Some(a.port));
    let ports = [a.port, b.port, c.port];
    let (old_only, new_only) = (dir.join("old.key"), dir.join("new.key"));
    let converge = |value: &str, key: &Path| {
        set_with(c.port, key, value);
        assert!(
            wait_for(Duration::from_secs(15), || everyone_has(
                &ports, key, c.port, value
            ))
            .is_some(),
            "no convergence on {value}"
        );
    };
    converge("one", &old_only);
    // 1. Every node learns the new key (still sealing with the old one).
    for f in &files {
        write(f, &format!("{old}\n{new}\n"));
    }
    std::thread::sleep(Duration::from_millis(800));
    converge("two", &old_only);
    // 2. One node at a time starts sealing with the new key; the others still read it.
    for f in &files {
        write(f, &format!("{new}\n{old}\n"));
        std::thread::sleep(Duration::from_millis(400));
    }
    std::thread::sleep(Duration::from_millis(800));
    converge("three", &new_only);
    // 3. The old key is retired.
    for f in &files {
        write(f, &format!("{new}\n"));
    }
    std::thread::sleep(Duration::from_millis(800));
    converge("four", &new_only);
    assert!(
        status_with(a.port, &old_only).is_none(),
        "the old key no longer opens anything"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
