//! Lifeguard's suspicion timeout: long while a suspicion is one node's opinion, shrinking
//! toward the minimum as independent members confirm it.

use std::time::Duration;

/// Timeout for a suspicion of a member in a cluster of `n`, confirmed by `confirmations`
/// members besides the first suspecter, when `expected` confirmations (the number of indirect
/// probes) would be full agreement.
///
/// min = `mult` × max(1, log10 n) × `probe_timeout`; max = `max_mult` × min;
///
/// The base is the probe timeout (the round trip a node is allowed), not the probe
/// interval: a suspicion is pushed to the suspect at once and its refutation is pushed back,
/// so the time a live member needs to refute is a few round trips times the hops of the
/// push, whatever the probe rate.
/// timeout = max − (max − min) × log(c + 1) / log(expected + 1), never below min.
pub fn suspicion_timeout(
    n: usize,
    confirmations: usize,
    expected: usize,
    probe_timeout: Duration,
    mult: f64,
    max_mult: f64,
) -> Duration {
    let scale = (n.max(1) as f64).log10().max(1.0);
    let min = probe_timeout.mul_f64(mult * scale);
    let max = min.mul_f64(max_mult.max(1.0));
    if expected == 0 {
        return min;
    }
    let frac = ((confirmations as f64) + 1.0).ln() / ((expected as f64) + 1.0).ln();
    let timeout = max.as_secs_f64() - (max - min).as_secs_f64() * frac.min(1.0);
    Duration::from_secs_f64(timeout.max(min.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmations_shrink_the_timeout_to_the_minimum() {
        let p = Duration::from_millis(200);
        let alone = suspicion_timeout(100, 0, 3, p, 2.0, 6.0);
        let one = suspicion_timeout(100, 1, 3, p, 2.0, 6.0);
        let all = suspicion_timeout(100, 3, 3, p, 2.0, 6.0);
        let more = suspicion_timeout(100, 9, 3, p, 2.0, 6.0);
        assert_eq!(all, Duration::from_millis(800), "2 × log10(100) × 200 ms");
        assert_eq!(alone, Duration::from_millis(4800));
        assert!(alone > one && one > all);
        assert_eq!(more, all);
        // Larger clusters wait longer: news of a suspicion takes longer to be refuted.
        assert!(suspicion_timeout(10_000, 3, 3, p, 2.0, 6.0) > all);
    }
}
