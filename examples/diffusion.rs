//! Diffusion against spies, in the simulator. N nodes (default 1000) on a random 4-out graph
//! run the default strategy (the broadcast tree) over links of 0.2–0.8 ms; a fraction of them
//! are spies that note, for each update, when and from whom they first heard it. The
//! adversary pools the spies' notes and guesses that the update started at the node that
//! told the earliest spy (the "first spy" estimator). Each setting of `--diffusion` is one
//! run with the same cluster and the same updates; 5% and 10% spies are scored on the same
//! run (the 5% are the first half of the 10%).
//!
//!   cargo run --release --example diffusion                # N = 1000, 100 updates a setting
//!   cargo run --release --example diffusion -- 300 40      # N, updates
//!
//! Prints a table (adversary accuracy, update → all median and 90th percentile) and writes
//! docs/diffusion.png.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use gossip::core::{Event, Time};
use gossip::sim::{self, sim_addr, sim_id, topology, Delay, NetConfig};
use gossip::wire::NodeId;
use plotters::prelude::*;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

const KEY: &str = "news";
const SPY_FRACTIONS: [f64; 2] = [0.05, 0.10];
const MEANS_MS: [f64; 5] = [0.0, 2.0, 5.0, 20.0, 50.0];

/// What the spies saw of one update, and when the last node got it.
#[derive(Default)]
struct Seen {
    /// Per node: when it first learned the update and from whom.
    first: HashMap<usize, (Time, SocketAddr)>,
}

struct Row {
    mean_ms: f64,
    accuracy: [f64; 2],
    median_ms: f64,
    p90_ms: f64,
    covered: usize,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let updates: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    let seed = 7;
    // The same spies and the same origins in every run.
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    let spies_max = (n as f64 * SPY_FRACTIONS[1]).round() as usize;
    let spies: Vec<usize> = order[..spies_max].to_vec();
    let honest: Vec<usize> = order[spies_max..].to_vec();
    let origins: Vec<usize> = (0..updates)
        .map(|_| honest[rng.random_range(0..honest.len())])
        .collect();
    println!(
        "N = {n}, {updates} updates from random honest nodes; a blind guess is right {:.2}% of the time",
        100.0 / honest.len() as f64
    );
    println!("| diffusion mean | 5% spies right | 10% spies right | update → all, median | 90th percentile |");
    println!("|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for mean_ms in MEANS_MS {
        let row = run(n, seed, mean_ms, &spies, &origins);
        println!(
            "| {} | {:.1}% | {:.1}% | {:.1} ms | {:.1} ms |{}",
            if mean_ms == 0.0 {
                "off".to_string()
            } else {
                format!("{mean_ms} ms")
            },
            row.accuracy[0] * 100.0,
            row.accuracy[1] * 100.0,
            row.median_ms,
            row.p90_ms,
            if row.covered < updates {
                format!(" ({} of {updates} reached everyone)", row.covered)
            } else {
                String::new()
            }
        );
        rows.push(row);
    }
    match plot(std::path::Path::new("docs/diffusion.png"), n, &rows) {
        Ok(()) => println!("wrote docs/diffusion.png"),
        Err(e) => eprintln!("no plot: {e}"),
    }
}

fn run(n: usize, seed: u64, mean_ms: f64, spies: &[usize], origins: &[usize]) -> Row {
    let graph = topology::random_k_out(n, 4, seed);
    let net = NetConfig {
        loss: 0.0,
        delay: Delay::Uniform(Duration::from_micros(200), Duration::from_micros(800)),
        uplink: None,
    };
    let strategy: Option<gossip::core::Strategy> =
        std::env::var("STRATEGY").ok().and_then(|s| s.parse().ok());
    let mut sim = sim::build(&graph, seed, net, &[], |_, c| {
        c.learn_peers = false;
        if let Some(strategy) = strategy {
            strategy.configure(c, Some(n), None, None);
        }
        c.diffusion = (mean_ms > 0.0).then(|| Duration::from_secs_f64(mean_ms / 1000.0));
    });
    let by_addr: HashMap<SocketAddr, usize> = (0..n).map(|i| (sim_addr(i), i)).collect();
    let current: Rc<RefCell<Option<(NodeId, u64)>>> = Rc::default();
    let seen: Rc<RefCell<Seen>> = Rc::default();
    {
        let (current, seen) = (current.clone(), seen.clone());
        sim.on_event(move |node, now, event| {
            if let Event::Learned {
                origin,
                key,
                version,
                via,
                ..
            } = event
            {
                let wanted = current.borrow();
                if key == KEY && wanted.as_ref() == Some(&(origin.clone(), *version)) {
                    seen.borrow_mut().first.entry(node).or_insert((now, *via));
                }
            }
        });
    }
    // Warm-up: the tree's links are drawn and settle.
    sim.run_until(Time::from_millis(3_000));
    let mut right = [0usize; 2];
    let mut latencies = Vec::new();
    for (k, &origin) in origins.iter().enumerate() {
        let version = sim
            .node(origin)
            .map_or(0, |o| o.store().own().watermark + 1);
        *current.borrow_mut() = Some((sim_id(origin), version));
        seen.borrow_mut().first.clear();
        let start = sim.now();
        sim.set(origin, KEY, &format!("update {k}"));
        let deadline = start + Duration::from_secs(5);
        let done = sim.run_until_true(deadline, Duration::from_millis(1), |_| {
            seen.borrow().first.len() >= n - 1
        });
        if done.is_some() {
            let last = seen.borrow().first.values().map(|(t, _)| *t).max();
            if let Some(last) = last {
                latencies.push(last.since(start).as_secs_f64() * 1000.0);
            }
        }
        for (f, fraction) in SPY_FRACTIONS.iter().enumerate() {
            let count = (n as f64 * fraction).round() as usize;
            let guess = spies[..count]
                .iter()
                .filter_map(|s| seen.borrow().first.get(s).copied())
                .min_by_key(|(t, _)| *t)
                .and_then(|(_, via)| by_addr.get(&via).copied());
            if guess == Some(origin) {
                right[f] += 1;
            }
        }
        // Let the tree settle before the next update.
        sim.run_until(sim.now() + Duration::from_millis(200));
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Row {
        mean_ms,
        accuracy: [
            right[0] as f64 / origins.len() as f64,
            right[1] as f64 / origins.len() as f64,
        ],
        median_ms: pct(0.5),
        p90_ms: pct(0.9),
        covered: latencies.len(),
    }
}

/// A labelled line of (diffusion mean, value) points.
type Line = (String, RGBColor, Vec<(f64, f64)>);

/// Accuracy (left) and latency (right) against the diffusion mean.
fn plot(path: &std::path::Path, n: usize, rows: &[Row]) -> Result<(), String> {
    static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    let area = BitMapBackend::new(path, (1240, 560)).into_drawing_area();
    area.fill(&WHITE).map_err(drawing)?;
    let area = area
        .titled(
            &format!("Diffusion at N = {n}: who told the spies first, and what it costs"),
            ("sans-serif", 22),
        )
        .map_err(drawing)?;
    let (left, right) = area.split_horizontally(620);
    let points = |value: &dyn Fn(&Row) -> f64| -> Vec<(f64, f64)> {
        rows.iter().map(|r| (r.mean_ms, value(r))).collect()
    };
    let spies: Vec<Line> = SPY_FRACTIONS
        .iter()
        .enumerate()
        .map(|(f, fraction)| {
            let colour = [RGBColor(230, 97, 1), RGBColor(94, 60, 153)][f];
            let label = format!("{:.0}% spies", fraction * 100.0);
            (label, colour, points(&|r: &Row| r.accuracy[f] * 100.0))
        })
        .collect();
    panel(&left, "adversary guesses the origin (%)", 100.0, &spies)?;
    let latency: Vec<Line> = vec![
        (
            "median".into(),
            RGBColor(33, 102, 172),
            points(&|r: &Row| r.median_ms),
        ),
        (
            "90th percentile".into(),
            RGBColor(178, 24, 43),
            points(&|r: &Row| r.p90_ms),
        ),
    ];
    let max_ms = rows.iter().map(|r| r.p90_ms).fold(1.0, f64::max) * 1.1;
    panel(&right, "update → all nodes (ms)", max_ms, &latency)?;
    area.present().map_err(drawing)
}

fn drawing<E: std::fmt::Debug>(e: E) -> String {
    format!("cannot draw: {e:?}")
}

/// One chart: `lines` against the diffusion mean, `y` from 0 to `y_max`, legend top left.
fn panel(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    y_desc: &str,
    y_max: f64,
    lines: &[Line],
) -> Result<(), String> {
    let max_x = lines
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|&(x, _)| x))
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x * 1.05, 0.0..y_max)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .x_desc("diffusion mean (ms)")
        .y_desc(y_desc)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(drawing)?;
    for (label, colour, points) in lines {
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(3)))
            .map_err(drawing)?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], colour.stroke_width(3)));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, colour.filled())))
            .map_err(drawing)?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(drawing)
}
