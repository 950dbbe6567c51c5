//! Partition watch: a node that can no longer reach more than half of the members it knew
//! says so once, and says so again when contact is back. Members that left are not counted;
//! members declared dead count until the rejoin window ends, also after they are forgotten.

use crate::core::event::Event;
use crate::core::time::Time;
use crate::wire::MemberState;

use super::state::{Membership, Partitioned};
use crate::core::node::shared::Shared;

/// Fewer known members than this and "more than half" means nothing.
const MIN_KNOWN: usize = 2;

impl Membership {
    /// The partition we are in, if any.
    pub(in crate::core::node) fn partition(&self) -> Option<Partitioned> {
        self.cut_off
    }

    /// Recounts reachable and unreachable members; reports crossing the half-way line.
    pub(super) fn watch_partition(&mut self, cx: &mut Shared, now: Time) {
        let (mut reachable, mut unreachable) = (0, 0);
        for peer in cx.peers.iter().filter(|p| p.id.is_some()) {
            match peer.state {
                MemberState::Alive | MemberState::Suspect => reachable += 1,
                MemberState::Dead => unreachable += 1,
                MemberState::Left => {}
            }
        }
        unreachable += self.tombstones.values().filter(|t| t.lost).count();
        let known = reachable + unreachable;
        let cut = known >= MIN_KNOWN && unreachable * 2 > known;
        match (self.cut_off, cut) {
            (None, true) => {
                self.cut_off = Some(Partitioned {
                    since: now,
                    unreachable,
                    known,
                });
                cx.emit(Event::Partitioned { unreachable, known });
            }
            (Some(p), false) => {
                self.cut_off = None;
                cx.emit(Event::Reconnected {
                    after: now.since(p.since),
                    reachable,
                    known,
                });
            }
            (Some(p), true) => {
                self.cut_off = Some(Partitioned {
                    unreachable,
                    known,
                    ..p
                })
            }
            (None, false) => {}
        }
    }
}
