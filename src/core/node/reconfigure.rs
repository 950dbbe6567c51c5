//! Live rewiring: a new config applied to a running node. Peers, bootstrap, fanout, TTL,
//! intervals, drop rate, delay, MTU and peer bound change at once; identity, address and
//! cluster cannot change without a restart.

use std::net::SocketAddr;

use crate::core::config::NodeConfig;
use crate::core::peers::PeerSource;
use crate::core::time::Time;

use super::Node;

/// What a reload changed, for the log line `config reloaded: …`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconfigured {
    /// Human-readable changes, e.g. `fanout 2 → 3`, `peers +127.0.0.1:7003 −127.0.0.1:7001`.
    pub changes: Vec<String>,
    /// Settings that differ but only take effect after a restart.
    pub need_restart: Vec<String>,
}

fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Node {
    /// Applies `new` to the running node and says what changed.
    pub fn reconfigure(&mut self, now: Time, mut new: NodeConfig) -> Reconfigured {
        let mut out = Reconfigured::default();
        let old = self.config.clone();
        if new.id != old.id {
            out.need_restart.push(format!("id {} → {}", old.id, new.id));
        }
        if new.addr != old.addr {
            out.need_restart
                .push(format!("address {} → {}", old.addr, new.addr));
        }
        if new.cluster != old.cluster {
            out.need_restart.push("cluster".into());
        }
        let public = |c: &NodeConfig| c.identity.as_ref().map(|i| i.public());
        if public(&new) != public(&old) {
            let show = |k: Option<crate::wire::PublicKey>| k.map_or("none".into(), |k| k.to_string());
            out.need_restart.push(format!(
                "identity {} → {}",
                show(public(&old)),
                show(public(&new))
            ));
        }
        let modes = |d: &crate::core::Dissemination| (d.rumors, d.sync, d.sync_peers);
        if modes(&new.dissemination) != modes(&old.dissemination) {
            let name = |d: &crate::core::Dissemination| {
                crate::core::Strategy::of(d).map_or("custom".to_string(), |s| s.to_string())
            };
            out.need_restart.push(format!(
                "strategy {} → {} (with the fanout and TTL it implies)",
                name(&old.dissemination),
                name(&new.dissemination)
            ));
            // A strategy comes with its own fanout and TTL: none of it changes until the
            // restart, so the node never runs half of one strategy and half of another.
            new.fanout = self.config.fanout;
            new.ttl = self.config.ttl;
        }
        let mut change = |name: &str, a: String, b: String| {
            if a != b {
                out.changes.push(format!("{name} {a} → {b}"));
            }
        };
        change("fanout", old.fanout.to_string(), new.fanout.to_string());
        let ttl = |t: Option<u8>| t.map_or("auto".into(), |t| t.to_string());
        change("ttl", ttl(old.ttl), ttl(new.ttl));
        change(
            "anti_entropy_ms",
            old.anti_entropy.as_millis().to_string(),
            new.anti_entropy.as_millis().to_string(),
        );
        change(
            "drop_rate",
            old.fault.drop_rate.to_string(),
            new.fault.drop_rate.to_string(),
        );
        let delay = |(a, b): (std::time::Duration, std::time::Duration)| {
            format!("{}..{}ms", a.as_millis(), b.as_millis())
        };
        change("delay", delay(old.fault.delay), delay(new.fault.delay));
        change("mtu", old.mtu.to_string(), new.mtu.to_string());
        change(
            "admin_from",
            old.admin_from.to_string(),
            new.admin_from.to_string(),
        );
        // Key rotation: which keys, by fingerprint (never the keys themselves).
        let keys = |k: &Option<std::sync::Arc<crate::wire::Keyring>>| {
            k.as_ref().map_or("none".into(), |ring| {
                let prints: Vec<String> = ring.keys().iter().map(|k| k.fingerprint()).collect();
                format!("[{}]", prints.join(" "))
            })
        };
        change("cluster keys", keys(&old.keyring), keys(&new.keyring));
        change(
            "max_peers",
            old.max_peers.to_string(),
            new.max_peers.to_string(),
        );
        change(
            "probe_ms",
            old.probe_interval.as_millis().to_string(),
            new.probe_interval.as_millis().to_string(),
        );
        change(
            "probe_timeout_ms",
            old.probe_timeout.as_millis().to_string(),
            new.probe_timeout.as_millis().to_string(),
        );
        change(
            "suspicion_mult",
            old.suspicion_mult.to_string(),
            new.suspicion_mult.to_string(),
        );
        change(
            "max_value_bytes",
            old.max_value_bytes.to_string(),
            new.max_value_bytes.to_string(),
        );
        change(
            "max_state_bytes",
            old.max_state_bytes.to_string(),
            new.max_state_bytes.to_string(),
        );
        change(
            "tombstone_grace_secs",
            old.tombstone_grace.as_secs_f64().to_string(),
            new.tombstone_grace.as_secs_f64().to_string(),
        );

        change("trust", old.trust.mode.name().into(), new.trust.mode.name().into());
        let diffusion = |d: Option<std::time::Duration>| {
            d.map_or("off".to_string(), |d| format!("{}ms", d.as_secs_f64() * 1000.0))
        };
        change("diffusion", diffusion(old.diffusion), diffusion(new.diffusion));
        change(
            "max_origin_rate",
            old.origin_rate.rate.to_string(),
            new.origin_rate.rate.to_string(),
        );
        if new.trust.mode == crate::core::TrustMode::Allowlist
            && old.trust.mode == crate::core::TrustMode::Allowlist
            && new.trust.allowed != old.trust.allowed
        {
            out.changes.push(format!(
                "trusted keys {} → {} (pins stay)",
                old.trust.allowed.len(),
                new.trust.allowed.len()
            ));
        }

        let added = missing_from(&new.static_peers, &old.static_peers);
        let removed = missing_from(&old.static_peers, &new.static_peers);
        if !added.is_empty() || !removed.is_empty() {
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("+{}", list(&added)));
            }
            if !removed.is_empty() {
                parts.push(format!("-{}", list(&removed)));
            }
            out.changes.push(format!("peers {}", parts.join(" ")));
        }
        let new_bootstrap = missing_from(&new.bootstrap, &old.bootstrap);
        let dropped_bootstrap: Vec<SocketAddr> = missing_from(&old.bootstrap, &new.bootstrap)
            .into_iter()
            .filter(|a| !new.static_peers.contains(a))
            .collect();
        if new.bootstrap != old.bootstrap {
            out.changes.push(format!(
                "bootstrap [{}] → [{}]",
                list(&old.bootstrap),
                list(&new.bootstrap)
            ));
        }

        // Apply. Identity, address and cluster stay as they were.
        let keep = (old.id.clone(), old.addr, old.cluster);
        self.config = NodeConfig {
            id: keep.0,
            addr: keep.1,
            cluster: keep.2,
            initial_version: old.initial_version,
            initial_incarnation: old.initial_incarnation,
            wall_clock_at_zero_us: old.wall_clock_at_zero_us,
            entropy: old.entropy,
            identity: old.identity.clone(),
            // The strategy stays (a restart changes it); its round follows the interval.
            dissemination: crate::core::Dissemination {
                push_interval: new.dissemination.push_interval,
                ..old.dissemination
            },
            ..new
        };
        self.transport.reconfigure(&self.config, &old);
        self.trust.set_policy(self.config.trust.clone());
        self.peers.set_max_learned(self.config.max_peers);
        for addr in removed.into_iter().chain(dropped_bootstrap) {
            // A peer we were told to stop naming: keep it as an ordinary member if there is
            // room for learned peers (it is still part of the cluster), otherwise drop it.
            if !self.peers.demote(&addr) {
                self.peers.remove(&addr);
            }
        }
        for addr in added {
            self.peers.add(addr, None, PeerSource::Static, now);
        }
        for addr in &new_bootstrap {
            self.peers.add(*addr, None, PeerSource::Bootstrap, now);
        }
        if !new_bootstrap.is_empty() {
            self.discovery.ask_now(now);
        }
        if self.config.anti_entropy != old.anti_entropy {
            self.sync
                .interval_changed(now, old.anti_entropy, self.config.anti_entropy);
        }
        out
    }
}

/// The addresses of `these` that `those` lacks, in `these`' order.
fn missing_from(these: &[SocketAddr], those: &[SocketAddr]) -> Vec<SocketAddr> {
    these
        .iter()
        .filter(|a| !those.contains(a))
        .copied()
        .collect()
}
