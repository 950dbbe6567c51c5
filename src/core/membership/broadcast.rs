//! The piggyback queue: membership facts waiting to ride on outgoing datagrams, each sent a
//! bounded number of times (memberlist's transmit-limited queue). A newer fact about a member
//! replaces the older one; the least-sent facts go first.

use crate::wire::{encoded_len, MemberState, MemberUpdate};

#[derive(Debug)]
struct Item {
    update: MemberUpdate,
    sent: u32,
}

/// Facts still to be piggybacked.
#[derive(Debug, Default)]
pub struct Broadcasts {
    items: Vec<Item>,
}

impl Broadcasts {
    /// Queues `update`, replacing any queued fact about the same member it supersedes.
    /// Suspicions of one member by different nodes at one incarnation are independent
    /// confirmations and travel side by side.
    pub fn push(&mut self, update: MemberUpdate) {
        let confirmation = |old: &MemberUpdate| {
            old.state == MemberState::Suspect
                && update.state == MemberState::Suspect
                && old.incarnation == update.incarnation
                && old.by != update.by
        };
        self.items
            .retain(|i| i.update.member.id != update.member.id || confirmation(&i.update));
        self.items.push(Item { update, sent: 0 });
    }

    /// Whether anything is waiting.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of queued facts.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Up to `budget` bytes of the least-sent facts, skipping those `skip` rejects (facts
    /// about the receiver itself, facts already on their way to it). Each taken fact counts one
    /// transmission and is dropped after `limit`.
    pub fn take(
        &mut self,
        budget: usize,
        limit: u32,
        skip: impl Fn(&MemberUpdate) -> bool,
    ) -> Vec<MemberUpdate> {
        self.items.sort_by_key(|i| i.sent);
        let mut used = 0;
        let mut out = Vec::new();
        for item in &mut self.items {
            if skip(&item.update) {
                continue;
            }
            let len = encoded_len(&item.update);
            if used + len > budget {
                break;
            }
            used += len;
            item.sent += 1;
            out.push(item.update.clone());
        }
        self.items.retain(|i| i.sent < limit);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{NodeId, Origin};

    fn update(id: &str, inc: u64) -> MemberUpdate {
        MemberUpdate {
            member: Origin {
                id: NodeId::from(id),
                addr: "127.0.0.1:7000".parse().unwrap(),
            },
            incarnation: inc,
            state: MemberState::Dead,
            by: None,
        }
    }

    #[test]
    fn facts_are_sent_a_bounded_number_of_times_and_newer_ones_replace_older() {
        let mut b = Broadcasts::default();
        b.push(update("a", 1));
        b.push(update("a", 2));
        assert_eq!(b.len(), 1);
        b.push(update("b", 1));
        for _ in 0..3 {
            assert_eq!(b.take(1000, 3, |_| false).len(), 2);
        }
        assert!(b.is_empty());
    }

    #[test]
    fn confirmations_by_different_nodes_travel_together() {
        let mut b = Broadcasts::default();
        let mut s1 = update("a", 1);
        s1.state = MemberState::Suspect;
        s1.by = Some(NodeId::from("x"));
        let mut s2 = s1.clone();
        s2.by = Some(NodeId::from("y"));
        b.push(s1);
        b.push(s2);
        assert_eq!(b.len(), 2);
        b.push(update("a", 1));
        assert_eq!(b.len(), 1, "death replaces the suspicions");
    }

    #[test]
    fn the_budget_is_respected_and_least_sent_go_first() {
        let mut b = Broadcasts::default();
        b.push(update("a", 1));
        let one = encoded_len(&update("a", 1));
        assert_eq!(b.take(one, 10, |_| false).len(), 1);
        b.push(update("b", 1));
        let next = b.take(one, 10, |_| false);
        assert_eq!(next[0].member.id.as_str(), "b");
        let skipped = b.take(1000, 10, |u| u.member.id.as_str() == "a");
        assert!(skipped.iter().all(|u| u.member.id.as_str() != "a"));
    }
}
