//! The gate in front of the store: received state about an origin is applied only when every
//! change in it that would alter what we hold, and the version it would move us to, are signed
//! by the key we trust for that origin. Rumors, anti-entropy deltas and news about ourselves
//! all pass through here; a fetched value is covered by the signature of its announcement
//! (the signature commits to the value's hash, and fetched bytes must match it).

use std::net::SocketAddr;

use crate::core::trust::{Claim, Refusal};
use crate::wire::{
    entry_statement, head_statement, Entry, NodeId, OriginDelta, PublicKey, Rumor, Signature,
};

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

impl<'a> Offer<'a> {
    /// What a rumor offers.
    pub fn rumor(rumor: &'a Rumor) -> Self {
        Offer {
            origin: &rumor.origin.id,
            signer: rumor.signer,
            since: rumor.since,
            upto: rumor.version,
            entries: &rumor.entries,
            head: None,
        }
    }

    /// What one origin's part of a delta offers.
    pub fn delta(od: &'a OriginDelta) -> Self {
        Offer {
            origin: &od.origin.id,
            signer: od.signer,
            since: od.since,
            upto: od.upto,
            entries: &od.entries,
            head: od.head.as_ref(),
        }
    }
}

/// Whether the offer may be applied (see [`admit_all`]).
pub(super) fn admit(cx: &mut Shared, from: SocketAddr, offer: &Offer<'_>) -> bool {
    !cx.trust.checks()
        || admit_all(cx, from, std::slice::from_ref(offer))
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
        if let Err(reason) = verdict {
            cx.refuse(offer.origin.clone(), from, reason);
        }
        admitted.push(verdict.is_ok());
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
