//! `--metrics ADDR`: Prometheus text at `http://ADDR/metrics`, every name prefixed `gossip_`.
//! The node's own counters are copied into the exporter once a second (they are the source
//! of truth; the exporter only publishes them).

use std::net::SocketAddr;
use std::time::Duration;

use metrics::{counter, gauge};
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

/// Copies the node's counters and member counts into the metrics registry.
pub fn publish(node: &Node) {
    let c = node.counters();
    counter!("gossip_datagrams_in_total").absolute(c.datagrams_in);
    counter!("gossip_datagrams_out_total").absolute(c.datagrams_out);
    counter!("gossip_bytes_in_total").absolute(c.bytes_in);
    counter!("gossip_bytes_out_total").absolute(c.bytes_out);
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
        counter!("gossip_message_bytes_out_total", "type" => kind.name()).absolute(*n);
    }
    for (kind, n) in &c.message_bytes_in {
        counter!("gossip_message_bytes_in_total", "type" => kind.name()).absolute(*n);
    }
    let counts = node.peers().counts();
    for state in MemberState::ALL {
        gauge!("gossip_members", "state" => state.name()).set(counts[state as usize] as f64);
    }
    gauge!("gossip_version").set(node.store().own().watermark as f64);
    gauge!("gossip_known_origins").set(node.store().len() as f64);
    gauge!("gossip_local_health").set(f64::from(node.health()));
}
