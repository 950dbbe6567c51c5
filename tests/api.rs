//! The library as an embedder uses it: only the public API, three nodes in one process.

use std::future::Future;
use std::time::Duration;

use gossip::{Event, Gossip, GossipHandle, MemberState};

const WAIT: Duration = Duration::from_secs(20);

async fn start(id: &str, bootstrap: &[&GossipHandle]) -> GossipHandle {
    Gossip::builder("127.0.0.1:0".parse().unwrap())
        .id(id)
        .cluster("api-test")
        .bootstrap(bootstrap.iter().map(|h| h.addr()))
        .spawn()
        .await
        .expect("node starts")
}

/// Waits for the first event `pick` accepts.
async fn next_matching(
    events: &mut gossip::Subscription,
    mut pick: impl FnMut(&Event) -> bool,
) -> Event {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(e) if pick(&e) => return e,
                Some(_) => {}
                None => panic!("the stream ended early"),
            }
        }
    })
    .await
    .expect("the event arrives in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_and_delete_spread_subscribers_see_both_and_a_shut_down_node_shows_as_left() {
    let a = start("a", &[]).await;
    let b = start("b", &[&a]).await;
    let c = start("c", &[&a]).await;
    let mut at_b = b.subscribe();

    c.set("addr", "10.0.0.7:80").await.expect("set");
    let set = next_matching(
        &mut at_b,
        |e| matches!(e, Event::Changed { origin, key, .. } if origin == "c" && key == "addr"),
    )
    .await;
    let Event::Changed { value, version, .. } = set else {
        unreachable!()
    };
    assert_eq!(value.as_deref(), Some(&b"10.0.0.7:80"[..]));
    // Every node, not only the subscriber, holds it.
    for node in [&a, &b] {
        let got = tokio::time::timeout(WAIT, async {
            loop {
                if let Some(v) = node.get("c", "addr").await.unwrap() {
                    return v;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("c's key reaches every node");
        assert_eq!(&got[..], b"10.0.0.7:80");
    }

    let deleted_at = c.delete("addr").await.expect("delete");
    assert!(deleted_at > version);
    let del = next_matching(&mut at_b, |e| {
        matches!(e, Event::Changed { origin, key, value: None, .. } if origin == "c" && key == "addr")
    })
    .await;
    assert!(matches!(del, Event::Changed { version, .. } if version == deleted_at));
    assert_eq!(b.get("c", "addr").await.unwrap(), None);
    let snapshot = b.snapshot().await.unwrap();
    assert!(!snapshot.origins["c"].values.contains_key("addr"));

    // Everyone knows everyone before c leaves.
    tokio::time::timeout(WAIT, async {
        loop {
            let members = b.members().await.unwrap();
            if ["a", "b", "c"].iter().all(|id| {
                members
                    .iter()
                    .any(|m| m.id == *id && m.state == MemberState::Alive)
            }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("membership converges");
    c.shutdown().await;
    let left = next_matching(
        &mut at_b,
        |e| matches!(e, Event::Member(m) if m.id == "c" && m.state == MemberState::Left),
    )
    .await;
    assert!(matches!(left, Event::Member(_)));
    let members = a.members().await.unwrap();
    let seen_by_a = tokio::time::timeout(WAIT, async {
        loop {
            let members = a.members().await.unwrap();
            if members
                .iter()
                .any(|m| m.id == "c" && m.state == MemberState::Left)
            {
                return members;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or(members);
    assert!(
        seen_by_a
            .iter()
            .any(|m| m.id == "c" && m.state == MemberState::Left),
        "a sees c as left: {seen_by_a:?}"
    );
    b.shutdown().await;
    a.shutdown().await;
    // A stopped node's stream ends.
    assert_eq!(
        tokio::time::timeout(WAIT, async { while at_b.recv().await.is_some() {} }).await,
        Ok(())
    );
}

#[tokio::test]
async fn bad_input_gets_a_typed_error() {
    let a = Gossip::builder("127.0.0.1:0".parse().unwrap())
        .spawn()
        .await
        .unwrap();
    assert!(a.id().starts_with('n'), "default id is n<port>: {}", a.id());
    assert!(matches!(
        a.set("", "x").await,
        Err(gossip::Error::InvalidKey { .. })
    ));
    let big = vec![b'x'; GossipHandle::MAX_VALUE_LEN + 1];
    assert!(matches!(
        a.set("k", big).await,
        Err(gossip::Error::ValueTooLarge { .. })
    ));
    // Keys and values from anything borrowed: owned strings, slices that do not live long.
    let key = String::from("owned");
    let value = format!("{}-{}", a.id(), 7);
    a.set(&key, value.as_bytes()).await.unwrap();
    assert_eq!(
        a.get(a.id(), key).await.unwrap().as_deref(),
        Some(value.as_bytes())
    );
    let taken = a.addr();
    let again = Gossip::builder(taken).spawn().await;
    assert!(matches!(again, Err(gossip::Error::AddrInUse(_))));
    let wildcard = Gossip::builder("0.0.0.0:0".parse().unwrap()).spawn().await;
    assert!(matches!(wildcard, Err(gossip::Error::Config(_))));
    let keyless = Gossip::builder("127.0.0.1:0".parse().unwrap())
        .cluster_key_file("/nonexistent/cluster.key")
        .spawn()
        .await;
    assert!(matches!(keyless, Err(gossip::Error::ClusterKey { .. })));
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_handle_leaves_the_cluster_gracefully() {
    let a = start("a", &[]).await;
    // Subscribed before b starts, so b's arrival is seen whenever its join lands.
    let mut at_a = a.subscribe();
    let b = start("b", &[&a]).await;
    next_matching(&mut at_a, |e| matches!(e, Event::Member(m) if m.id == "b")).await;
    drop(b);
    next_matching(
        &mut at_a,
        |e| matches!(e, Event::Member(m) if m.id == "b" && m.state == MemberState::Left),
    )
    .await;
    a.shutdown().await;
}

#[tokio::test]
async fn a_subscription_is_a_stream_that_ends_when_the_node_stops() {
    use futures_core::Stream;
    use std::pin::Pin;
    let a = start("a", &[]).await;
    let mut events = a.subscribe();
    assert_eq!(events.try_recv(), None, "nothing happened yet");
    a.set("k", "v").await.unwrap();
    let first = std::future::poll_fn(|cx| Pin::new(&mut events).poll_next(cx)).await;
    assert!(
        matches!(&first, Some(Event::Changed { origin, key, .. }) if origin == "a" && key == "k"),
        "{first:?}"
    );
    a.shutdown().await;
    let rest = tokio::time::timeout(WAIT, async {
        let mut n = 0;
        while std::future::poll_fn(|cx| Pin::new(&mut events).poll_next(cx))
            .await
            .is_some()
        {
            n += 1;
        }
        n
    })
    .await;
    assert!(rest.is_ok(), "the stream ends once the node has stopped");
}

#[test]
fn spawning_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    let spawned = std::thread::spawn(|| {
        let future = Gossip::builder("127.0.0.1:0".parse().unwrap()).spawn();
        // A minimal executor that is not tokio: poll once with a no-op waker.
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(result) => matches!(result, Err(gossip::Error::NoRuntime)),
            std::task::Poll::Pending => false,
        }
    })
    .join()
    .expect("no panic");
    assert!(spawned);
}
