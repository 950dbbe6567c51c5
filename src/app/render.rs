//! Human-readable status tables.

use std::fmt::Write;

use comfy_table::{presets, Table};

use crate::config::{book_in, own_book};
use crate::ui::format::age;
use crate::ui::format::bytes;
use crate::wire::{MemberState, StatusReport};

/// Recent messages listed by `gossip status` (the JSON has all the node keeps).
const RECENT_SHOWN: usize = 10;

/// The whole `gossip status` screen.
pub fn render_status(r: &StatusReport) -> String {
    let mut out = String::new();
    let book = own_book(r).map_or("no book".to_string(), |b| format!("reading {b:?}"));
    let health = if r.health > 0 {
        format!(", local health {} (probing slower)", r.health)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{} at {} — {} (v{}), up {}, fanout {}, ttl {}, incarnation {}{health}",
        r.id,
        r.addr,
        book,
        r.version,
        age(r.uptime_ms),
        r.fanout,
        r.ttl,
        r.incarnation,
    );
    if let Some(p) = &r.partition {
        let _ = writeln!(out, "{}", crate::ui::format::partition(p));
    }
    if r.identity.is_some() || r.trust != "open" {
        let refused: u64 = crate::core::Refusal::ALL
            .iter()
            .filter_map(|why| r.counters.get(why.counter()))
            .sum();
        let _ = writeln!(
            out,
            "signs as {}; trust {} ({} key(s) pinned, {} signature(s) checked, {refused} refusal(s))",
            r.identity.as_deref().unwrap_or("nobody (no identity: changes go unsigned)"),
            r.trust,
            r.pinned_keys,
            r.counters.get("signatures_verified").copied().unwrap_or(0),
        );
    }

    let mut peers = Table::new();
    peers.load_style(presets::UTF8_HORIZONTAL_ONLY);
    peers.set_header(["peer", "id", "state", "incarnation", "source", "last heard"]);
    for p in &r.peers {
        peers.add_row([
            p.addr.to_string(),
            p.id.clone().unwrap_or_else(|| "?".into()),
            p.state.name().to_string(),
            p.incarnation.to_string(),
            p.source.clone(),
            p.last_heard_ms
                .map_or("never".into(), |ms| format!("{} ago", age(ms))),
        ]);
    }
    let _ = writeln!(
        out,
        "\nPEERS ({}: {} alive, {} suspect, {} dead, {} left)\n{peers}",
        r.peers.len(),
        r.members_in(MemberState::Alive),
        r.members_in(MemberState::Suspect),
        r.members_in(MemberState::Dead),
        r.members_in(MemberState::Left)
    );

    let mut known = Table::new();
    known.load_style(presets::UTF8_HORIZONTAL_ONLY);
    known.set_header([
        "origin",
        "book",
        "version",
        "state",
        "changed",
        "how",
        "via",
        "other keys",
    ]);
    for k in &r.known {
        let how = match k.route.as_str() {
            "rumor" => format!(
                "rumor, {} hop{}",
                k.hops,
                if k.hops == 1 { "" } else { "s" }
            ),
            other => other.to_string(),
        };
        let others: Vec<String> = k
            .values
            .iter()
            .filter(|(key, _)| key.as_str() != "book")
            .map(|(key, v)| format!("{key}={v}"))
            .collect();
        known.add_row([
            k.origin.clone(),
            book_in(&k.values).unwrap_or_default().to_string(),
            format!("v{}", k.version),
            bytes(k.state_bytes),
            format!("{} ago", age(k.age_ms)),
            how,
            k.via
                .map(|v| v.to_string())
                .unwrap_or_else(|| "direct".into()),
            others.join(" "),
        ]);
    }
    let fetching = if r.fetching > 0 {
        format!(
            "; fetching {} value{} ({} so far)",
            r.fetching,
            if r.fetching == 1 { "" } else { "s" },
            bytes(r.fetching_bytes)
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "\nKNOWN ({} origin{}, {} of state{fetching})\n{known}",
        r.known.len(),
        if r.known.len() == 1 { "" } else { "s" },
        bytes(r.state_bytes)
    );

    if !r.recent.is_empty() {
        let mut recent = Table::new();
        recent.load_style(presets::UTF8_HORIZONTAL_ONLY);
        recent.set_header(["when", "message", "origin", "version", "from", "hops", "id"]);
        for m in r.recent.iter().rev().take(RECENT_SHOWN) {
            recent.add_row([
                format!("{} ago", age(m.age_ms)),
                m.kind.clone(),
                m.origin.clone(),
                format!("v{}", m.version),
                m.from.to_string(),
                m.hops.to_string(),
                m.id.as_deref().map_or("-".into(), |id| id.chars().take(8).collect()),
            ]);
        }
        let _ = writeln!(
            out,
            "\nRECENT MESSAGES (newest first, {} of the last {})\n{recent}",
            r.recent.len().min(RECENT_SHOWN),
            r.recent.len()
        );
    }

    let c = |name: &str| r.counters.get(name).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "\nTRAFFIC  in {} datagrams ({}), out {} datagrams ({})\n\
         RUMORS   originated {}, received {}, relayed {}, duplicates dropped {}\n\
         SYNC     anti-entropy exchanges {} started / {} served, deltas applied {}\n\
         MEMBERS  probes failed {}, refutations {}\n\
         VALUES   fetched {} ({} pieces served), refused {}, abandoned {}; keys expired {}, tombstones collected {}\n\
         ERRORS   decode {}, fault-dropped {}",
        c("datagrams_in"),
        bytes(c("bytes_in")),
        c("datagrams_out"),
        bytes(c("bytes_out")),
        c("rumors_originated"),
        c("rumors_received"),
        c("rumors_relayed"),
        c("duplicates"),
        c("anti_entropy_exchanges"),
        c("anti_entropy_served"),
        c("deltas_applied"),
        c("probes_failed"),
        c("refutations"),
        c("fetches_completed"),
        c("pieces_served"),
        c("fetches_refused"),
        c("fetches_abandoned"),
        c("keys_expired"),
        c("tombstones_collected"),
        c("decode_errors"),
        c("fault_dropped"),
    );
    out
}

/// `gossip status --json`: the report's own fields, plus `book` (the value of the `book` key)
/// at the top and in each known origin, as the JSON contract has always had them.
pub fn status_json(r: &StatusReport) -> serde_json::Value {
    let mut json = serde_json::to_value(r).unwrap_or(serde_json::Value::Null);
    if let Some(top) = json.as_object_mut() {
        top.insert("book".into(), own_book(r).into());
        if let Some(known) = top.get_mut("known").and_then(|k| k.as_array_mut()) {
            for (entry, origin) in known.iter_mut().zip(&r.known) {
                if let Some(entry) = entry.as_object_mut() {
                    entry.insert("book".into(), book_in(&origin.values).into());
                }
            }
        }
    }
    json
}
