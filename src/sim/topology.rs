//! Who starts out knowing whom. Returned as each node's list of static peers (indices).

use rand::rngs::SmallRng;
use rand::seq::index;
use rand::{RngExt, SeedableRng};

/// Each node knows `k` distinct random others (the classic 1000-node / 4-peer tutorial graph).
/// Edges are directed: being known by someone does not mean knowing them.
pub fn random_k_out(n: usize, k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            if n <= 1 {
                return Vec::new();
            }
            let k = k.min(n - 1);
            // Sample from the n-1 other nodes and skip over ourselves.
            index::sample(&mut rng, n - 1, k)
                .into_iter()
                .map(|j| if j >= i { j + 1 } else { j })
                .collect()
        })
        .collect()
}

/// Each node knows between `min` and `max` random others (directed), its count drawn
/// uniformly: the tutorial's "random 3–5 peers". With `min == max` this is
/// [`random_k_out`], graph for graph.
pub fn random_range_out(n: usize, min: usize, max: usize, seed: u64) -> Vec<Vec<usize>> {
    if min >= max {
        return random_k_out(n, min, seed);
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            if n <= 1 {
                return Vec::new();
            }
            let k = rng.random_range(min..=max).min(n - 1);
            index::sample(&mut rng, n - 1, k)
                .into_iter()
                .map(|j| if j >= i { j + 1 } else { j })
                .collect()
        })
        .collect()
}

/// Each node knows the next one (and the previous, so the ring survives one dead node).
pub fn ring(n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| {
            let mut peers = vec![(i + 1) % n, (i + n - 1) % n];
            peers.retain(|&p| p != i);
            peers.dedup();
            peers
        })
        .collect()
}

/// Every node knows node 0; node 0 knows everyone.
pub fn star(n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| if i == 0 { (1..n).collect() } else { vec![0] })
        .collect()
}

/// Everyone knows everyone.
pub fn full_mesh(n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| (0..n).filter(|&j| j != i).collect())
        .collect()
}

/// The graph a directory of node files describes: node i (files in name order) knows the
/// nodes its `peers` and `bootstrap` name. Addresses outside the directory are left out.
pub fn from_config_dir(dir: &std::path::Path) -> Result<Vec<Vec<usize>>, String> {
    let files = crate::config::node_files(dir)?;
    let mut index = std::collections::HashMap::new();
    for (i, (path, file)) in files.iter().enumerate() {
        let bind = file
            .bind
            .as_ref()
            .ok_or_else(|| format!("{}: no `bind` address", path.display()))?;
        if index.insert(bind.0, i).is_some() {
            return Err(format!(
                "{}: `bind` {} appears twice",
                path.display(),
                bind.0
            ));
        }
    }
    Ok(files
        .iter()
        .enumerate()
        .map(|(i, (_, file))| {
            let mut peers: Vec<usize> = file
                .peers
                .iter()
                .chain(&file.bootstrap)
                .filter_map(|a| index.get(&a.0).copied())
                .filter(|&p| p != i)
                .collect();
            peers.sort_unstable();
            peers.dedup();
            peers
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_degree_range_draws_each_nodes_peers_from_it() {
        let g = random_range_out(1000, 3, 5, 7);
        assert!(g.iter().all(|p| (3..=5).contains(&p.len())));
        for k in 3..=5 {
            let with = g.iter().filter(|p| p.len() == k).count();
            assert!(with > 250, "{with} nodes with {k} peers: not uniform");
        }
        assert!(g.iter().enumerate().all(|(i, p)| !p.contains(&i)));
        assert_eq!(random_range_out(50, 4, 4, 3), random_k_out(50, 4, 3));
    }

    #[test]
    fn random_k_out_has_k_distinct_others() {
        for (i, peers) in random_k_out(200, 4, 1).iter().enumerate() {
            let mut p = peers.clone();
            p.sort();
            p.dedup();
            assert_eq!(p.len(), 4);
            assert!(!p.contains(&i));
        }
    }

    #[test]
    fn small_topologies_never_list_self() {
        for n in 1..5 {
            for (i, peers) in ring(n).iter().chain(star(n).iter()).enumerate() {
                assert!(!peers.contains(&(i % n)) || n == 1);
            }
        }
    }
}
