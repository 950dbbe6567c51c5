//! Lifeguard's local health: a node that misses its own deadlines (starved of CPU, overloaded)
//! is a poor judge of others, so it probes more slowly and waits longer before accusing.

use std::time::Duration;

/// A score from 0 (healthy) to `max`; timings are stretched by a factor of score + 1.
#[derive(Clone, Copy, Debug)]
pub struct LocalHealth {
    score: u8,
    max: u8,
}

impl LocalHealth {
    /// A healthy node whose score can grow to `max`.
    pub fn new(max: u8) -> Self {
        LocalHealth { score: 0, max }
    }

    /// Evidence of our own trouble: a late timer, having to refute a suspicion of ourselves.
    pub fn worse(&mut self) {
        self.score = (self.score + 1).min(self.max);
    }

    /// Evidence things work: a probe answered in time.
    pub fn better(&mut self) {
        self.score = self.score.saturating_sub(1);
    }

    /// The current score.
    pub fn score(&self) -> u8 {
        self.score
    }

    /// `d` stretched by the current score.
    pub fn scale(&self, d: Duration) -> Duration {
        d * (u32::from(self.score) + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_deadlines_stretch_timings_and_good_probes_heal() {
        let mut h = LocalHealth::new(3);
        let d = Duration::from_millis(100);
        assert_eq!(h.scale(d), d);
        for _ in 0..10 {
            h.worse();
        }
        assert_eq!(h.score(), 3);
        assert_eq!(h.scale(d), Duration::from_millis(400));
        h.better();
        assert_eq!(h.scale(d), Duration::from_millis(300));
    }
}
