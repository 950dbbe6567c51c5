//! SWIM's precedence between two facts about one member: higher incarnations win; at equal
//! incarnation, "down" beats "suspect" beats "alive", because only the member itself can raise
//! its incarnation to contradict an accusation.

use crate::wire::MemberState;

fn rank(state: MemberState) -> u8 {
    match state {
        MemberState::Alive => 0,
        MemberState::Suspect => 1,
        MemberState::Dead => 2,
        MemberState::Left => 3,
    }
}

/// Whether `(new, new_inc)` replaces what we hold, `(old, old_inc)`.
pub fn supersedes(new: MemberState, new_inc: u64, old: MemberState, old_inc: u64) -> bool {
    match new_inc.cmp(&old_inc) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => rank(new) > rank(old),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MemberState::*;

    #[test]
    fn swim_precedence() {
        assert!(
            supersedes(Suspect, 3, Alive, 3),
            "suspicion overrides alive at equal incarnation"
        );
        assert!(
            !supersedes(Alive, 3, Suspect, 3),
            "only a higher incarnation refutes"
        );
        assert!(supersedes(Alive, 4, Suspect, 3));
        assert!(supersedes(Dead, 3, Suspect, 3));
        assert!(
            !supersedes(Alive, 3, Dead, 3),
            "stale alive cannot resurrect the dead"
        );
        assert!(supersedes(Alive, 4, Dead, 3), "a refutation can");
        assert!(supersedes(Left, 3, Dead, 3));
        assert!(!supersedes(Suspect, 2, Alive, 3));
        assert!(!supersedes(Suspect, 3, Suspect, 3), "a repeat is not news");
    }
}
