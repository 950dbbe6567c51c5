//! Partitions on the simulated network: a node cut off from most of the members it knew says
//! so, and a split that outlasts the time after which dead members are forgotten still heals
//! completely once the network does.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use gossip::core::{Event, Time};
use gossip::sim::{self, NetConfig, SimNet};
use gossip::wire::MemberState;

const N: usize = 16;
/// Nodes 0..MAJORITY are one side of the split, the rest the other.
const MAJORITY: usize = 10;

/// Live members node `i` lists as alive (itself excluded).
fn alive_seen_by(net: &SimNet, i: usize) -> usize {
    net.node(i).map_or(0, |n| {
        n.peers()
            .iter()
            .filter(|p| p.state == MemberState::Alive)
            .count()
    })
}

/// Each side joins through a node of its own; one node of the minority first joins through
/// the majority (see `forget_the_bridge`).
fn cluster() -> SimNet {
    let topology = vec![Vec::new(); N];
    sim::build(&topology, 5, NetConfig::default(), &[], |i, c| {
        let seed = if i < MAJORITY { 0 } else { MAJORITY };
        if i != seed {
            c.bootstrap = vec![sim::sim_addr(seed)];
        }
        if i == MAJORITY {
            c.bootstrap = vec![sim::sim_addr(0)];
        }
    })
}

/// The one bootstrap address that crossed the split is edited out of its node's config, so
/// the two sides know each other only from gossip, which they forget: the hardest case to
/// heal (a static or bootstrap peer is never forgotten and keeps being tried).
fn forget_the_bridge(net: &mut SimNet) {
    net.reconfigure(MAJORITY, |c| c.bootstrap.clear());
    let bridge = net.node(MAJORITY).unwrap().peers().get(&sim::sim_addr(0));
    assert_eq!(
        bridge.map(|p| p.source),
        Some(gossip::core::peers::PeerSource::Learned),
        "n0 stays a member, as an ordinary one"
    );
}

#[test]
fn a_five_minute_split_is_reported_on_the_cut_off_side_and_heals_completely() {
    let mut net = cluster();
    let all_know_all = |net: &SimNet| (0..N).all(|i| alive_seen_by(net, i) == N - 1);
    net.run_until_true(
        Time::from_millis(30_000),
        Duration::from_millis(50),
        all_know_all,
    )
    .expect("the cluster forms");
    forget_the_bridge(&mut net);
    let reports: Rc<RefCell<Vec<(usize, Time, bool)>>> = Rc::default();
    let log = reports.clone();
    net.on_event(move |i, now, e| match e {
        Event::Partitioned { .. } => log.borrow_mut().push((i, now, true)),
        Event::Reconnected { .. } => log.borrow_mut().push((i, now, false)),
        _ => {}
    });

    let groups: Vec<u8> = (0..N).map(|i| u8::from(i >= MAJORITY)).collect();
    net.partition(groups);
    let split_at = net.now();
    // Each side changes its state during the split.
    let a = net.set(3, "side", "majority").expect("set on the majority");
    let b = net
        .set(12, "side", "minority")
        .expect("set on the minority");

    // Well past the forget time (60 s): the minority lost 10 of 15 members and says so;
    // the majority lost 6 of 15 and does not.
    net.run_until(split_at + Duration::from_secs(90));
    for i in 0..N {
        let node = net.node(i).unwrap();
        let seen = node.partition();
        if i < MAJORITY {
            assert!(seen.is_none(), "majority node {i} reports {seen:?}");
        } else {
            let p = seen.unwrap_or_else(|| panic!("minority node {i} reports no partition"));
            assert_eq!((p.unreachable, p.known), (MAJORITY, N - 1), "node {i}");
            assert!(
                node.peers().iter().all(|p| p.id.as_ref().is_some_and(|id| {
                    id.as_str()
                        .trim_start_matches('n')
                        .parse::<usize>()
                        .unwrap()
                        >= MAJORITY
                        || p.state != MemberState::Alive
                })),
                "node {i} still lists a majority member as alive"
            );
        }
    }
    assert!(
        (MAJORITY..N).all(|i| reports.borrow().iter().any(|&(j, _, cut)| j == i && cut)),
        "every minority node emitted Partitioned: {:?}",
        reports.borrow()
    );

    net.run_until(split_at + Duration::from_secs(300));
    net.heal();
    let healed_at = net.now();
    let healed = |net: &SimNet| {
        all_know_all(net)
            && net.holders(&sim::sim_id(3), a) == N
            && net.holders(&sim::sim_id(12), b) == N
            && net.converged()
    };
    let done = net
        .run_until_true(
            healed_at + Duration::from_secs(60),
            Duration::from_millis(50),
            healed,
        )
        .unwrap_or_else(|| {
            let seen: Vec<usize> = (0..N).map(|i| alive_seen_by(&net, i)).collect();
            panic!("not healed within 60 s; alive members seen per node: {seen:?}")
        });
    eprintln!("healed {:?} after the network did", done.since(healed_at));
    for i in 0..N {
        assert!(
            net.node(i).unwrap().partition().is_none(),
            "node {i} still reports a partition"
        );
    }
    assert!(
        (MAJORITY..N).all(|i| reports
            .borrow()
            .iter()
            .any(|&(j, t, cut)| j == i && !cut && t >= healed_at)),
        "every minority node emitted Reconnected: {:?}",
        reports.borrow()
    );
}
