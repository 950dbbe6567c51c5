//! Real state through the real binary: large values from a file, get, del, TTL, watch, clear
//! refusals, and keys that survive SIGKILL with `--data-dir`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use gossip::wire::samples::blob;

fn node(id: &str, extra: &[&str]) -> NodeProcess {
    let mut args = vec!["--port", "0", "--id", id, "--resample-secs", "0"];
    args.extend_from_slice(extra);
    start(&args, &[])
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `gossip get PORT ORIGIN KEY`.
fn get(port: u16, origin: &str, key: &str) -> std::process::Output {
    gossip(&["get", &port.to_string(), origin, key])
}

#[test]
fn a_one_mebibyte_file_set_on_one_of_ten_nodes_reads_back_identically_on_every_node() {
    let first = node("s0", &[]);
    let seed = first.port.to_string();
    let mut nodes = vec![first];
    for i in 1..10 {
        nodes.push(node(&format!("s{i}"), &["--bootstrap", &seed]));
    }
    let dir = temp_dir("large-file");
    let path = dir.join("blob.bin");
    let value = blob(1 << 20, 7);
    std::fs::write(&path, &value).unwrap();
    let out = gossip(&[
        "set",
        &nodes[3].port.to_string(),
        "blob",
        "--file",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1.0 MiB"),
        "the set names the value's size: {text}"
    );
    for n in &nodes {
        let ok = wait_for(Duration::from_secs(30), || {
            let out = get(n.port, "s3", "blob");
            out.status.success() && out.stdout == value
        });
        assert!(
            ok.is_some(),
            "node {} never returned the same 1 MiB",
            n.port
        );
    }
    // Status shows sizes and abbreviates the value instead of printing a mebibyte.
    let json = status(nodes[0].port).expect("status");
    let s3 = json["known"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["origin"] == "s3")
        .expect("s3 known")
        .clone();
    assert!(s3["state_bytes"].as_u64().unwrap() > 1 << 20, "{s3}");
    let shown = s3["values"]["blob"].as_str().unwrap();
    assert!(shown.len() < 100 && shown.contains("1.0 MiB"), "{shown}");
    assert!(json["state_bytes"].as_u64().unwrap() > 1 << 20);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_gets_a_clear_answer_and_exit_2() {
    // Refused before anything is sent: no node needs to be running.
    let nobody = free_port().to_string();
    let long_key = "k".repeat(200);
    let out = gossip(&["set", &nobody, &long_key, "v"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("key must be 1 to 128 bytes"),
        "{}",
        stderr(&out)
    );
    let out = gossip(&["set", &nobody, "k", "--file", "/no/such/file"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/no/such/file"), "{}", stderr(&out));
    let out = gossip(&["set", &nobody, "k", "v", "--ttl", "soon"]);
    assert_eq!(out.status.code(), Some(2));

    // Refused by the node, which says why (never "no answer").
    let n = node("small", &["--max-value-bytes", "1000"]);
    let port = n.port.to_string();
    let out = gossip(&["set", &port, "k", &"x".repeat(1000)]);
    assert!(
        out.status.success(),
        "a value at the limit is taken: {}",
        stderr(&out)
    );
    let out = gossip(&["set", &port, "k", &"x".repeat(1001)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("1001 bytes") && err.contains("max_value_bytes"),
        "{err}"
    );
    assert!(!err.contains("no answer"), "{err}");
    let out = get(n.port, "nobody", "k");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no origin named `nobody`"),
        "{}",
        stderr(&out)
    );
    let out = get(n.port, "small", "absent");
    assert_eq!(out.status.code(), Some(1), "an absent key exits 1");
}

#[test]
fn del_removes_a_key_and_a_ttl_expires_it() {
    let n = node("t", &[]);
    let port = n.port.to_string();
    let out = gossip(&["set", &port, "color", "blue"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(get(n.port, "t", "color").stdout, b"blue");
    let out = gossip(&["del", &port, "color"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(get(n.port, "t", "color").status.code(), Some(1));

    let out = gossip(&["set", &port, "lease", "mine", "--ttl", "1s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("expires in 1s"));
    assert_eq!(get(n.port, "t", "lease").stdout, b"mine");
    let gone = wait_for(Duration::from_secs(5), || {
        get(n.port, "t", "lease").status.code() == Some(1)
    });
    let gone = gone.expect("the key never expired");
    assert!(
        gone >= Duration::from_millis(500),
        "expired early: {gone:?}"
    );
}

#[test]
fn sigkill_and_restart_with_a_data_dir_keeps_every_acknowledged_key() {
    let dir = temp_dir("keys-survive");
    let data = dir.to_str().unwrap().to_string();
    let port = free_port().to_string();
    let args = [
        "--port",
        &port,
        "--id",
        "keeper",
        "--resample-secs",
        "0",
        "--data-dir",
        &data,
    ];
    let n = start(&args, &[]);
    let big = blob(200_000, 3);
    let file = dir.join("big.bin");
    std::fs::write(&file, &big).unwrap();
    for set in [
        vec!["set", &port, "color", "blue"],
        vec!["set", &port, "big", "--file", file.to_str().unwrap()],
        vec!["set", &port, "gone", "soon"],
        vec!["del", &port, "gone"],
    ] {
        let out = gossip(&set);
        assert!(out.status.success(), "{set:?}: {}", stderr(&out));
    }
    let before = status(n.port).expect("status")["version"].as_u64().unwrap();
    n.kill();
    let n = start(&args, &[]);
    assert_eq!(get(n.port, "keeper", "color").stdout, b"blue");
    assert_eq!(get(n.port, "keeper", "big").stdout, big);
    assert_eq!(get(n.port, "keeper", "gone").status.code(), Some(1));
    let after = status(n.port).expect("status")["version"].as_u64().unwrap();
    assert!(
        after > before,
        "restart reissued versions: {after} <= {before}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn watch_streams_each_change_as_it_happens() {
    let n = node("w", &[]);
    let port = n.port.to_string();
    let mut watch = Command::new(BIN)
        .args(["watch", &port, "--json", "--prefix", "svc/"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn watch");
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    // The watch starts with its first request; give it a moment, then change things.
    std::thread::sleep(Duration::from_millis(500));
    for args in [
        vec!["set", &port, "svc/web", "10.0.0.1:80"],
        vec!["set", &port, "other", "ignored"],
        vec!["del", &port, "svc/web"],
    ] {
        assert!(gossip(&args).status.success());
    }
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let line = lines.next().expect("watch ended").expect("read");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json line");
        seen.push((
            v["key"].as_str().unwrap().to_string(),
            v["kind"].as_str().unwrap().to_string(),
            v["size"].as_u64().unwrap(),
            v["origin"].as_str().unwrap().to_string(),
        ));
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(
        seen,
        vec![
            ("svc/web".into(), "set".into(), 11, "w".into()),
            ("svc/web".into(), "deleted".into(), 0, "w".into()),
        ]
    );
    let _ = std::io::stdout().flush();
}
