use std::time::Duration;
use gossip::core::{Fanout, Time};
use gossip::sim::{self, topology, NetConfig};
fn main() {
    let n = 30;
    let resample: bool = std::env::args().nth(1).is_some();
    let topo = topology::random_k_out(n, 3, 3);
    let books: Vec<String> = ["Dune", "Emma", "Ulysses"].iter().map(|s| s.to_string()).collect();
    let mut net = sim::build(&topo, 3, NetConfig::default(), &books, |_, c| {
        c.fault.drop_rate = 0.3;
        c.fanout = Fanout::Count(3);
        if !resample { c.resample = None; }
    });
    for s in 0..30 {
        net.run_until(Time::from_millis(s * 2000));
        let behind: usize = net.nodes().flatten().map(|node| {
            net.nodes().flatten().filter(|o| o.id() != node.id() && node.store().get(o.id()).map_or(true, |st| st.watermark < o.store().own().watermark)).count()
        }).sum();
        let c = net.node(0).unwrap().counters();
        println!("t={}s behind={} converged={} ae={} served={} deltas={} peers0={}", s*2, behind, net.converged(), c.anti_entropy_exchanges, c.anti_entropy_served, c.deltas_applied, net.node(0).unwrap().peers().len());
    }
}
