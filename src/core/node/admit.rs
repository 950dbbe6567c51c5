//! The gate in front of the store: received state about an origin is applied only when every
//! change in it that would alter what we hold, and the version it would move us to, are signed
//! by the key we trust for that origin. Rumors, anti-entropy deltas and news about ourselves
//! all pass through here; a fetched value is covered by the signature of its announcement
//! (the signature commits to the value's hash, and fetched bytes must match it).

use std::net::SocketAddr;

use crate::core::event::Event;
use crate::core::trust::{Claim, Refusal};
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

/// Whether the offer may be applied (see [`admit_all`]).
pub(super) fn admit(cx: &mut Shared, from: SocketAddr, offer: &Offer<'_>) -> bool {
    admit_all(cx, from, std::slice::from_ref(offer))
        .pop()
        .unwrap_or(false)
}

/// Whether each offer may be applied. Nothing is checked in open mode, nor when an offer would
/// change nothing (a duplicate costs no verification). The signatures of all offers are
/// checked in one batch. A refusal is counted and reported.
pub(super) fn admit_all(cx: &mut Shared, from: SocketAddr, offers: &[Offer<'_>]) -> Vec<bool> {
    if !cx.trust.checks() {
        return vec![true; offers.len()];
    }
    let planned: Vec<Result<Vec<Claim>, Refusal>> = offers.iter().map(|o| claims(cx, o)).collect();
    let checking: Vec<(&NodeId, Option<PublicKey>, &[Claim])> = offers
        .iter()
        .zip(&planned)
        .filter_map(|(o, p)| {
            let claims = p.as_ref().ok().filter(|c| !c.is_empty())?;
            Some((o.origin, o.signer, claims.as_slice()))
        })
        .collect();
    cx.counters.signatures_verified += checking.iter().map(|c| c.2.len() as u64).sum::<u64>();
    let mut verdicts = cx.trust.admit_many(&checking).into_iter();
    let mut admitted = Vec::with_capacity(offers.len());
    for (offer, plan) in offers.iter().zip(planned) {
        let verdict = match plan {
            Err(reason) => Err(reason),
            Ok(c) if c.is_empty() => Ok(()),
            Ok(_) => verdicts.next().unwrap_or(Err(Refusal::Forged)),
        };
        admitted.push(match verdict {
            Ok(()) => true,
            Err(reason) => refuse(cx, from, offer.origin, reason),
        });
    }
    admitted
}

/// The statements to check before `offer` may be applied: each change that would alter what
/// we hold, and the origin's head when the version we would move to has no change listed.
fn claims<'a>(cx: &Shared, offer: &Offer<'a>) -> Result<Vec<Claim<'a>>, Refusal> {
    let held = cx.store.watermark(offer.origin);
    let advances = offer.since <= held && offer.upto > held;
    let mut claims = Vec::new();
    for entry in offer.entries {
        if !cx.store.would_change(offer.origin, &entry.key, entry.version) {
            continue;
        }
        let sig = entry.sig.as_ref().ok_or(Refusal::Unsigned)?;
        claims.push(Claim {
            statement: entry_statement(offer.origin, entry),
            sig,
        });
    }
    // The version we would move to must be vouched for: by its change (checked above, or held
    // already), or by the origin's signed head.
    if advances && !offer.entries.iter().any(|e| e.version == offer.upto) {
        let sig = offer.head.ok_or(Refusal::Unsigned)?;
        claims.push(Claim {
            statement: head_statement(offer.origin, offer.upto),
            sig,
        });
    }
    // Something to apply needs a key to check it against, even with nothing to verify.
    if !claims.is_empty() || advances {
        cx.trust.may_speak(offer.origin, offer.signer)?;
    }
    Ok(claims)
}

fn refuse(cx: &mut Shared, from: SocketAddr, origin: &NodeId, reason: Refusal) -> bool {
    cx.counters.refuse(reason);
    cx.emit(Event::Refused {
        origin: origin.clone(),
        from,
        reason,
    });
    false
}
