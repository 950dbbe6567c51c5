//! Counters shown by `gossip status` and exported as metrics. Plain integers: the core is
//! single-threaded and the driver reads them between calls.

use std::collections::BTreeMap;

use crate::wire::MessageKind;

/// Running totals since the node started.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub datagrams_in: u64,
    pub bytes_in: u64,
    pub datagrams_out: u64,
    pub bytes_out: u64,
    pub rumors_originated: u64,
    pub rumors_received: u64,
    pub rumors_relayed: u64,
    pub duplicates: u64,
    pub anti_entropy_exchanges: u64,
    pub anti_entropy_served: u64,
    pub deltas_applied: u64,
    /// Origin deltas received that taught nothing (another exchange delivered them first).
    pub deltas_redundant: u64,
    /// Rumors that arrived ahead of a change we lack, answered by an immediate pull.
    pub gap_pulls: u64,
    /// Broadcast tree: eager links dropped on a duplicate, and asked for after a repair.
    pub tree_prunes: u64,
    pub tree_grafts: u64,
    pub joins_sent: u64,
    pub joins_served: u64,
    pub fault_dropped: u64,
    pub encode_errors: u64,
    pub events_dropped: u64,
    pub probes_failed: u64,
    pub refutations: u64,
    pub member_corrections: u64,
    pub decode_errors: u64,
    /// Sources put on the ignore list for sending bad datagrams.
    pub sources_banned: u64,
    /// Announced values fetched whole (hash checked).
    pub fetches_completed: u64,
    /// Fetches given up (every holder failed; anti-entropy offers the value again).
    pub fetches_abandoned: u64,
    /// Fetched values whose bytes did not match the announced hash.
    pub fetches_corrupt: u64,
    /// Announced values not fetched: larger than `max_value_bytes`, an origin over
    /// `max_state_bytes`, or too many fetches at once.
    pub fetches_refused: u64,
    /// Pieces served to fetching peers.
    pub pieces_served: u64,
    /// Keys whose TTL ran out.
    pub keys_expired: u64,
    /// Deleted or expired keys forgotten after the grace period.
    pub tombstones_collected: u64,
    /// Rumors applied but not relayed: their origin changes faster than `origin_rate`.
    pub rumors_throttled: u64,
    /// Peers put on ignore for delivering forged state (proven by their datagram tags).
    pub peers_ignored: u64,
    /// Signatures checked (trust modes other than open).
    pub signatures_verified: u64,
    /// State refused by the trust checks, by reason (see `Refusal::counter`).
    pub refused: BTreeMap<crate::core::trust::Refusal, u64>,
    /// Refused datagrams by reason (see `DecodeError::counter`).
    pub decode_by_reason: BTreeMap<&'static str, u64>,
    pub messages_in: BTreeMap<MessageKind, u64>,
    pub messages_out: BTreeMap<MessageKind, u64>,
    /// Encoded bytes of the messages sent, by type (datagram headers not included).
    pub message_bytes_out: BTreeMap<MessageKind, u64>,
    /// Encoded bytes of the messages received, by type.
    pub message_bytes_in: BTreeMap<MessageKind, u64>,
}

impl Counters {
    /// A refused datagram, by reason.
    pub fn decode_error(&mut self, reason: &'static str) {
        self.decode_errors += 1;
        *self.decode_by_reason.entry(reason).or_default() += 1;
    }

    /// Refusals a relay is to blame for (forged, altered, or signed by a key not trusted for
    /// the origin; unsigned state may be an honest node without an identity).
    pub fn blamable_refusals(&self) -> u64 {
        use crate::core::trust::Refusal;
        [
            Refusal::Forged,
            Refusal::KeyMismatch,
            Refusal::Untrusted,
            Refusal::Replayed,
        ]
            .iter()
            .map(|r| self.refused.get(r).copied().unwrap_or(0))
            .sum()
    }

    /// State refused by the trust checks.
    pub fn refuse(&mut self, reason: crate::core::trust::Refusal) {
        *self.refused.entry(reason).or_default() += 1;
    }

    /// Flat name → value map: the `counters` object of `gossip status --json`.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        let mut map: BTreeMap<String, u64> = [
            ("datagrams_in", self.datagrams_in),
            ("bytes_in", self.bytes_in),
            ("datagrams_out", self.datagrams_out),
            ("bytes_out", self.bytes_out),
            ("rumors_originated", self.rumors_originated),
            ("rumors_received", self.rumors_received),
            ("rumors_relayed", self.rumors_relayed),
            ("rumors_throttled", self.rumors_throttled),
            ("duplicates", self.duplicates),
            ("anti_entropy_exchanges", self.anti_entropy_exchanges),
            ("anti_entropy_served", self.anti_entropy_served),
            ("deltas_applied", self.deltas_applied),
            ("deltas_redundant", self.deltas_redundant),
            ("gap_pulls", self.gap_pulls),
            ("tree_prunes", self.tree_prunes),
            ("tree_grafts", self.tree_grafts),
            ("joins_sent", self.joins_sent),
            ("joins_served", self.joins_served),
            ("fault_dropped", self.fault_dropped),
            ("encode_errors", self.encode_errors),
            ("events_dropped", self.events_dropped),
            ("probes_failed", self.probes_failed),
            ("refutations", self.refutations),
            ("member_corrections", self.member_corrections),
            ("decode_errors", self.decode_errors),
            ("flood_bans", self.sources_banned),
            ("fetches_completed", self.fetches_completed),
            ("fetches_abandoned", self.fetches_abandoned),
            ("fetches_corrupt", self.fetches_corrupt),
            ("fetches_refused", self.fetches_refused),
            ("pieces_served", self.pieces_served),
            ("keys_expired", self.keys_expired),
            ("tombstones_collected", self.tombstones_collected),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        map.insert("signatures_verified".to_string(), self.signatures_verified);
        map.insert("peers_ignored".to_string(), self.peers_ignored);
        for reason in crate::core::trust::Refusal::ALL {
            let n = self.refused.get(&reason).copied().unwrap_or(0);
            map.insert(reason.counter().to_string(), n);
        }
        for (reason, n) in &self.decode_by_reason {
            map.insert((*reason).to_string(), *n);
        }
        for (kind, n) in &self.messages_in {
            map.insert(format!("msgs_in_{}", kind.name()), *n);
        }
        for (kind, n) in &self.messages_out {
            map.insert(format!("msgs_out_{}", kind.name()), *n);
        }
        for (kind, n) in &self.message_bytes_out {
            map.insert(format!("msg_bytes_out_{}", kind.name()), *n);
        }
        for (kind, n) in &self.message_bytes_in {
            map.insert(format!("msg_bytes_in_{}", kind.name()), *n);
        }
        map
    }
}
