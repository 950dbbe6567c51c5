//! `--metrics ADDR`: Prometheus text at `http://ADDR/metrics`, every name prefixed `gossip_`.
//! The node's own counters are copied into the exporter once a second (they are the source
//! of truth; the exporter only publishes them).

use std::net::SocketAddr;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, gauge, Unit};
use metrics_exporter_prometheus::PrometheusBuilder;

use crate::core::Node;
use crate::wire::MemberState;

use crate::runtime::NodeHandle;

/// How often the exporter's values are refreshed from the node.
pub const REFRESH: Duration = Duration::from_secs(1);

/// Starts the HTTP listener and a task that keeps the values current.
pub fn serve(addr: SocketAddr, node: &NodeHandle) -> Result<tokio::task::JoinHandle<()>, String> {
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?;
    describe();
    let commands = node.commands();
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(REFRESH);
        loop {
            tick.tick().await;
            let (tx, rx) = tokio::sync::oneshot::channel();
            let sent = commands.send(crate::runtime::Command::Inspect(Box::new(move |n, _| {
                publish(n);
                let _ = tx.send(());
            })));
            if sent.is_err() || rx.await.is_err() {
                return;
            }
        }
    }))
}

/// Help text (and units) for every metric a node serves, so `promtool check metrics` and
/// dashboards know what each one is.
const COUNTERS: [(&str, Unit, &str); 28] = [
    ("gossip_datagrams_in_total", Unit::Count, "Datagrams received (before any check)."),
    ("gossip_datagrams_out_total", Unit::Count, "Datagrams sent."),
    ("gossip_received_bytes_total", Unit::Bytes, "Bytes of datagrams received."),
    ("gossip_sent_bytes_total", Unit::Bytes, "Bytes of datagrams sent."),
    ("gossip_rumors_originated_total", Unit::Count, "Rumors this node started (its own changes)."),
    ("gossip_rumors_relayed_total", Unit::Count, "Rumors passed on to other peers."),
    ("gossip_duplicates_total", Unit::Count, "Rumors received again and dropped."),
    ("gossip_anti_entropy_exchanges_total", Unit::Count, "Push-pull exchanges this node started."),
    ("gossip_anti_entropy_served_total", Unit::Count, "Push-pull exchanges other nodes started with this one."),
    ("gossip_gap_pulls_total", Unit::Count, "Rumors that arrived ahead of a missing change, answered by an immediate pull."),
    ("gossip_probes_failed_total", Unit::Count, "SWIM probes that got no answer, directly or indirectly."),
    ("gossip_refutations_total", Unit::Count, "Suspicions of this node it refuted."),
    ("gossip_fault_dropped_total", Unit::Count, "Datagrams dropped by this node's fault injection (drop_rate)."),
    ("gossip_decode_errors_total", Unit::Count, "Datagrams refused, all reasons together."),
    ("gossip_peers_ignored_total", Unit::Count, "Peers ignored for a while after relaying forged state (proven by their datagram tags)."),
    ("gossip_rumors_throttled_total", Unit::Count, "Rumors applied but not relayed: their origin changes faster than max_origin_rate."),
    ("gossip_signatures_verified_total", Unit::Count, "Signatures checked on received state (trust tofu and allowlist)."),
    ("gossip_refused_state_total", Unit::Count, "Received state refused by the trust checks, by reason (unsigned, forged, key_mismatch, untrusted)."),
    ("gossip_sources_banned_total", Unit::Count, "Sources ignored for a while after sending bad datagrams."),
    ("gossip_rejected_datagrams_total", Unit::Count, "Datagrams refused, by reason."),
    ("gossip_messages_in_total", Unit::Count, "Messages received, by type."),
    ("gossip_messages_out_total", Unit::Count, "Messages sent, by type."),
    ("gossip_message_received_bytes_total", Unit::Bytes, "Encoded bytes of the messages received, by type."),
    ("gossip_message_sent_bytes_total", Unit::Bytes, "Encoded bytes of the messages sent, by type."),
    ("gossip_fetches_total", Unit::Count, "Fetches of announced values, by outcome (completed, refused, abandoned, corrupt)."),
    ("gossip_pieces_served_total", Unit::Count, "Pieces of values served to fetching peers."),
    ("gossip_keys_expired_total", Unit::Count, "Keys whose TTL ran out."),
    ("gossip_tombstones_collected_total", Unit::Count, "Deleted and expired keys forgotten after the grace period."),
];

const GAUGES: [(&str, Unit, &str); 6] = [
    ("gossip_members", Unit::Count, "Members this node knows, by state (alive, suspect, dead, left)."),
    ("gossip_version", Unit::Count, "This node's own version counter."),
    ("gossip_known_origins", Unit::Count, "Origins whose state this node holds, itself included."),
    ("gossip_local_health", Unit::Count, "Lifeguard local health score (0 = healthy; higher = probing more slowly)."),
    ("gossip_state_bytes", Unit::Bytes, "Bytes of keys and values this node holds, every origin's together."),
    ("gossip_partitioned", Unit::Count, "1 while this node cannot reach more than half of the members it knew (see the log and status for how many), else 0."),
];

fn describe() {
    for (name, unit, help) in COUNTERS {
        describe_counter!(name, unit, help);
    }
    for (name, unit, help) in GAUGES {
        describe_gauge!(name, unit, help);
    }
}

/// Copies the node's counters and member counts into the metrics registry.
pub fn publish(node: &Node) {
    let c = node.counters();
    counter!("gossip_datagrams_in_total").absolute(c.datagrams_in);
    counter!("gossip_datagrams_out_total").absolute(c.datagrams_out);
    counter!("gossip_received_bytes_total").absolute(c.bytes_in);
    counter!("gossip_sent_bytes_total").absolute(c.bytes_out);
    counter!("gossip_rumors_originated_total").absolute(c.rumors_originated);
    counter!("gossip_rumors_relayed_total").absolute(c.rumors_relayed);
    counter!("gossip_duplicates_total").absolute(c.duplicates);
    counter!("gossip_anti_entropy_exchanges_total").absolute(c.anti_entropy_exchanges);
    counter!("gossip_anti_entropy_served_total").absolute(c.anti_entropy_served);
    counter!("gossip_gap_pulls_total").absolute(c.gap_pulls);
    counter!("gossip_probes_failed_total").absolute(c.probes_failed);
    counter!("gossip_refutations_total").absolute(c.refutations);
    counter!("gossip_fault_dropped_total").absolute(c.fault_dropped);
    counter!("gossip_decode_errors_total").absolute(c.decode_errors);
    counter!("gossip_sources_banned_total").absolute(c.sources_banned);
    counter!("gossip_signatures_verified_total").absolute(c.signatures_verified);
    counter!("gossip_rumors_throttled_total").absolute(c.rumors_throttled);
    counter!("gossip_peers_ignored_total").absolute(c.peers_ignored);
    for reason in crate::core::Refusal::ALL {
        let n = c.refused.get(&reason).copied().unwrap_or(0);
        let label = reason.counter().trim_start_matches("refused_");
        counter!("gossip_refused_state_total", "reason" => label).absolute(n);
    }
    for (reason, n) in &c.decode_by_reason {
        counter!("gossip_rejected_datagrams_total", "reason" => *reason).absolute(*n);
    }
    for (kind, n) in &c.messages_in {
        counter!("gossip_messages_in_total", "type" => kind.name()).absolute(*n);
    }
    for (kind, n) in &c.messages_out {
        counter!("gossip_messages_out_total", "type" => kind.name()).absolute(*n);
    }
    for (kind, n) in &c.message_bytes_out {
        counter!("gossip_message_sent_bytes_total", "type" => kind.name()).absolute(*n);
    }
    for (kind, n) in &c.message_bytes_in {
        counter!("gossip_message_received_bytes_total", "type" => kind.name()).absolute(*n);
    }
    let counts = node.peers().counts();
    for state in MemberState::ALL {
        gauge!("gossip_members", "state" => state.name()).set(counts[state as usize] as f64);
    }
    gauge!("gossip_version").set(node.store().own().watermark as f64);
    gauge!("gossip_known_origins").set(node.store().len() as f64);
    gauge!("gossip_local_health").set(f64::from(node.health()));
    gauge!("gossip_state_bytes").set(node.store().bytes() as f64);
    gauge!("gossip_partitioned").set(if node.partition().is_some() { 1.0 } else { 0.0 });
    for (outcome, n) in [
        ("completed", c.fetches_completed),
        ("refused", c.fetches_refused),
        ("abandoned", c.fetches_abandoned),
        ("corrupt", c.fetches_corrupt),
    ] {
        counter!("gossip_fetches_total", "outcome" => outcome).absolute(n);
    }
    counter!("gossip_pieces_served_total").absolute(c.pieces_served);
    counter!("gossip_keys_expired_total").absolute(c.keys_expired);
    counter!("gossip_tombstones_collected_total").absolute(c.tombstones_collected);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prometheus' naming guide: a counter ends in `_total`, and a unit comes right before it
    /// (`_bytes_total`), or last for a gauge (`_bytes`).
    #[test]
    fn names_carry_their_unit_where_prometheus_expects_it() {
        for (name, unit, _) in COUNTERS {
            assert!(name.starts_with("gossip_") && name.ends_with("_total"), "{name}");
            if unit == Unit::Bytes {
                assert!(name.ends_with("_bytes_total"), "{name}");
            }
        }
        for (name, unit, _) in GAUGES {
            assert!(!name.ends_with("_total"), "{name}");
            if unit == Unit::Bytes {
                assert!(name.ends_with("_bytes"), "{name}");
            }
        }
    }
}
