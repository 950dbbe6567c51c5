//! The gate in front of the store: received state about an origin is applied only when every
//! change in it that would alter what we hold, and the version it would move us to, are signed
//! by the key we trust for that origin. Rumors, anti-entropy deltas and news about ourselves
//! all pass through here; a fetched value is covered by the signature of its announcement
//! (the signature commits to the value's hash, and fetched bytes must match it).

use std::net::SocketAddr;

use crate::core::event::Event;
use crate::core::trust::Claim;
use crate::wire::{entry_statement, head_statement, Entry, NodeId, PublicKey, Signature};

use super::shared::Shared;

/// What arrived about one origin, as the gate needs it.
pub(super) struct Offer<'a> {
    pub origin: &'a NodeId,
    pub signer: Option<PublicKey>,
    pub since: u64,
    pub upto: u64,
    pub entries: &'a [Entry],
    pub head: Option<&'a Signature>,
}

/// Whether the offer may be applied. Nothing is checked in open mode, nor when the offer
/// would change nothing (a duplicate costs no verification). A refusal is counted and
/// reported.
pub(super) fn admit(cx: &mut Shared, from: SocketAddr, offer: &Offer<'_>) -> bool {
    if !cx.trust.checks() {
        return true;
    }
    let held = cx.store.watermark(offer.origin);
    let advances = offer.since <= held && offer.upto > held;
    let mut claims = Vec::new();
    for entry in offer.entries {
        if !cx.store.would_change(offer.origin, &entry.key, entry.version) {
            continue;
        }
        let Some(sig) = &entry.sig else {
            return refuse(cx, from, offer.origin, crate::core::Refusal::Unsigned);
        };
        claims.push(Claim {
            statement: entry_statement(offer.origin, entry),
            sig,
        });
    }
    // The version we would move to must be vouched for: by its change (checked above, or held
    // already), or by the origin's signed head.
    if advances && !offer.entries.iter().any(|e| e.version == offer.upto) {
        let Some(sig) = offer.head else {
            return refuse(cx, from, offer.origin, crate::core::Refusal::Unsigned);
        };
        claims.push(Claim {
            statement: head_statement(offer.origin, offer.upto),
            sig,
        });
    }
    if claims.is_empty() {
        return true;
    }
    cx.counters.signatures_verified += claims.len() as u64;
    match cx.trust.admit(offer.origin, offer.signer, &claims) {
        Ok(()) => true,
        Err(reason) => refuse(cx, from, offer.origin, reason),
    }
}

fn refuse(
    cx: &mut Shared,
    from: SocketAddr,
    origin: &NodeId,
    reason: crate::core::Refusal,
) -> bool {
    cx.counters.refuse(reason);
    cx.emit(Event::Refused {
        origin: origin.clone(),
        from,
        reason,
    });
    false
}
