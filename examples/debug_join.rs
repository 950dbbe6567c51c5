use std::time::Duration;
use gossip::core::Time;
use gossip::sim::{self, NetConfig, sim_addr};
fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let topo: Vec<Vec<usize>> = (0..n).map(|_| vec![]).collect();
    let books: Vec<String> = (0..200).map(|i| format!("Some Book Title Number {i}")).collect();
    let t0 = std::time::Instant::now();
    let mut net = sim::build(&topo, 1, NetConfig::default(), &books, |i, c| {
        c.resample = None;
        if i > 0 { c.bootstrap = vec![sim_addr(0)]; }
    });
    let mut last = 0;
    let at = net.run_until_true(Time::from_millis(30_000), Duration::from_millis(50), |s| {
        let min_known = s.nodes().flatten().map(|x| x.store().len()).min().unwrap_or(0);
        let ms = s.now().as_micros() / 1000;
        if ms >= last + 250 { last = ms; let st = s.stats(); eprintln!("t={ms}ms min_known={min_known} datagrams={} bytes={}", st.sent, st.bytes); }
        min_known == n
    });
    let st = net.stats();
    println!("n={n} all-know-all at {:?} datagrams={} ({} per node) bytes={} wall={:?}", at, st.sent, st.sent / n as u64, st.bytes, t0.elapsed());
    let at = at.unwrap_or(Time::ZERO);
    net.run_until(at + Duration::from_secs(2));
    let before = net.stats();
    let v = net.set(n / 2, "book", "Dune").unwrap();
    let id = sim::sim_id(n / 2);
    let start = net.now();
    let reach = net.run_until_true(start + Duration::from_secs(10), Duration::from_micros(500), |s| s.holders(&id, v) == n);
    let after = net.stats();
    println!("update reached all at {:?} after, datagrams during={} ", reach.map(|t| t - start), after.sent - before.sent);
}
