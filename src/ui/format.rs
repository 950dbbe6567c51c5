//! Short human formats shared by the status tables, the live view and `gossip top`.

/// `1.2s`, `3m04s`, `2h05m`: short enough for narrow tmux panes.
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{}.{}s", s, (ms % 1000) / 100),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `812 B`, `90.2 KB`, `3.1 MB`.
pub fn bytes(n: u64) -> String {
    match n {
        0..=9_999 => format!("{n} B"),
        10_000..=9_999_999 => format!("{:.1} KB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}

/// `12.0 dg/s (1.3 KB/s)`.
pub fn rate(datagrams: f64, bytes_per_s: f64) -> String {
    format!("{datagrams:.1} dg/s ({}/s)", bytes(bytes_per_s as u64))
}

/// The partition warning the status screen and the live view print.
pub fn partition(p: &crate::wire::PartitionStatus) -> String {
    format!(
        "PARTITIONED for {}: {} of the {} members this node knew are unreachable (a network \
         split, or they failed); still trying them",
        age(p.for_ms),
        p.unreachable,
        p.known
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_stay_short() {
        assert_eq!(age(1_250), "1.2s");
        assert_eq!(age(184_000), "3m04s");
        assert_eq!(age(7_500_000), "2h05m");
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(90_211), "90.2 KB");
        assert_eq!(rate(12.0, 1300.0), "12.0 dg/s (1300 B/s)");
    }
}
