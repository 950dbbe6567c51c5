//! Helpers shared by the benchmarks.

use gossip::core::Node;
use gossip::runtime::NodeHandle;

/// Asks every live node the same question.
pub async fn gather<T: Send + 'static>(
    nodes: &[NodeHandle],
    ask: impl Fn(&Node) -> T + Clone + Send + 'static,
) -> Vec<T> {
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        let ask = ask.clone();
        if let Some(answer) = node.inspect(move |x, _| ask(x)).await {
            out.push(answer);
        }
    }
    out
}

/// The benchmark setting `name` from the environment, or `default` if unset or unreadable.
pub fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
