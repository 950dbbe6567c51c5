//! Signed origins with real processes: identities from `gossip keygen --identity` and from the
//! data dir, an allowlist cluster that shuts out an unlisted key, and a tofu cluster that
//! refuses a second process claiming a pinned node id.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{gossip, start, status, temp_dir, wait_for, write, NodeProcess};

/// `gossip keygen --identity PATH`: the public key it prints.
fn identity(path: &Path) -> String {
    let out = gossip(&["keygen", "--identity", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn node(extra: &[&str]) -> NodeProcess {
    let mut args = vec![
        "--port",
        "0",
        "--resample-secs",
        "0",
        "--anti-entropy-ms",
        "300",
    ];
    args.extend_from_slice(extra);
    start(&args, &[])
}

fn set(port: u16, key: &str, value: &str) {
    let out = gossip(&["set", &port.to_string(), key, value]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the node at `at` holds of `origin`'s `key`.
fn held(at: u16, origin: &str, key: &str) -> Option<String> {
    let s = status(at)?;
    s["known"]
        .as_array()?
        .iter()
        .find(|o| o["origin"] == origin)
        .and_then(|o| o["values"][key].as_str().map(str::to_string))
}

fn counter(at: u16, name: &str) -> u64 {
    status(at).map_or(0, |s| s["counters"][name].as_u64().unwrap_or(0))
}

#[test]
fn an_allowlist_cluster_shuts_out_an_unlisted_key_and_its_state_appears_nowhere() {
    let dir = temp_dir("allowlist");
    let ids: Vec<_> = ["a", "b", "c", "m"]
        .iter()
        .map(|n| dir.join(format!("{n}.id")))
        .collect();
    let keys: Vec<String> = ids.iter().map(|p| identity(p)).collect();
    assert!(keys.iter().all(|k| k.len() == 64));
    let list = dir.join("trusted.keys");
    write(
        &list,
        &format!("# the cluster\n{}\n{}\n{}\n", keys[0], keys[1], keys[2]),
    );
    let member = |i: usize, bootstrap: Option<u16>| {
        let id = ids[i].to_str().unwrap().to_string();
        let list = list.to_str().unwrap().to_string();
        let mut args = vec![
            "--identity-file".to_string(),
            id,
            "--trusted-keys".into(),
            list,
        ];
        if let Some(b) = bootstrap {
            args.extend(["--bootstrap".into(), b.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        node(&args)
    };
    let a = member(0, None);
    let b = member(1, Some(a.port));
    let c = member(2, Some(a.port));
    // Mallory runs the same software with its own key, trusting everyone.
    let m = node(&[
        "--identity-file",
        ids[3].to_str().unwrap(),
        "--bootstrap",
        &a.port.to_string(),
    ]);
    let honest = [a.port, b.port, c.port];
    set(b.port, "color", "teal");
    set(m.port, "color", "evil");
    let b_id = format!("n{}", b.port);
    assert!(
        wait_for(Duration::from_secs(20), || honest.iter().all(|&p| p
            == b.port
            || held(p, &b_id, "color").as_deref() == Some("teal")))
        .is_some(),
        "the listed nodes converge"
    );
    // Give Mallory's state every chance to spread.
    std::thread::sleep(Duration::from_secs(2));
    let m_id = format!("n{}", m.port);
    for &p in &honest {
        assert_eq!(
            held(p, &m_id, "color"),
            None,
            "n{p} holds the unlisted node's state"
        );
    }
    let s = status(a.port).unwrap();
    assert_eq!(s["trust"], "allowlist");
    assert_eq!(s["identity"], keys[0].as_str());
    assert!(
        honest
            .iter()
            .map(|&p| counter(p, "refused_untrusted"))
            .sum::<u64>()
            > 0,
        "the refusals are counted"
    );
    // Nor is it a member anywhere.
    for &p in &honest {
        let s = status(p).unwrap();
        let peers = s["peers"].as_array().unwrap();
        assert!(
            !peers.iter().any(|q| q["id"] == m_id.as_str()),
            "n{p} counts the unlisted node as a member: {peers:?}"
        );
    }
    assert!(counter(a.port, "signatures_verified") > 0);
    drop(m);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn under_tofu_a_second_process_claiming_a_pinned_id_is_refused() {
    let dir = temp_dir("tofu");
    let data = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let a = node(&["--trust", "tofu", "--data-dir", &data("a")]);
    let b = node(&[
        "--trust",
        "tofu",
        "--data-dir",
        &data("b"),
        "--bootstrap",
        &a.port.to_string(),
    ]);
    let b_id = format!("n{}", b.port);
    // The data dir made b's identity on first start.
    let made = dir.join("b").join(format!("{b_id}.identity"));
    assert!(made.exists(), "identity made under the data dir");
    set(b.port, "color", "blue");
    assert!(
        wait_for(Duration::from_secs(15), || held(a.port, &b_id, "color")
            .as_deref()
            == Some("blue"))
        .is_some(),
        "a learns b's signed state and pins b's key"
    );
    // Another process, with its own key, claims to be b.
    let impostor = node(&[
        "--trust",
        "tofu",
        "--id",
        &b_id,
        "--data-dir",
        &data("impostor"),
        "--bootstrap",
        &a.port.to_string(),
    ]);
    set(impostor.port, "color", "stolen");
    // Refused either way: its datagrams lack the tag b's always carry (b tags what it sends
    // to a), or its signed state or join is under another key than the one pinned for b.
    let refusals = || {
        [
            "refused_key_mismatch",
            "sender_untagged",
            "sender_tag_mismatch",
        ]
        .iter()
        .map(|c| counter(a.port, c))
        .sum::<u64>()
    };
    assert!(
        wait_for(Duration::from_secs(10), || refusals() > 0).is_some(),
        "a refuses the impostor"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(held(a.port, &b_id, "color").as_deref(), Some("blue"));
    // b itself was never fooled about its own state either.
    set(b.port, "color", "green");
    assert!(
        wait_for(Duration::from_secs(10), || held(a.port, &b_id, "color")
            .as_deref()
            == Some("green"))
        .is_some(),
        "b's next change still reaches a"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_identity_and_trust_settings_get_a_clear_answer_and_exit_2() {
    let dir = temp_dir("trust-flags");
    let missing = dir.join("nope.id");
    let run = |args: &[&str]| {
        let mut all = vec!["node", "--port", "0", "--ui", "plain"];
        all.extend_from_slice(args);
        gossip(&all)
    };
    let out = run(&["--identity-file", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gossip keygen --identity"));
    let out = run(&["--trust", "allowlist"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trusted-keys"));
    let list = dir.join("keys");
    write(&list, "not-a-key\n");
    let out = run(&["--trusted-keys", list.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
    let out = run(&["--trust", "sometimes"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--diffusion=-5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("diffusion"));
    let out = run(&["--max-origin-rate=-1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("origin rate"));
    let id = dir.join("n.id");
    identity(&id);
    let again = gossip(&["keygen", "--identity", id.to_str().unwrap()]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "never overwritten by accident"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
