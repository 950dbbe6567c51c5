//! The live node view's terminal loop: redraws from a fresh status snapshot a few times a
//! second, follows resizes, and leaves the cluster on `q`, Esc or Ctrl-C.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use tokio::sync::mpsc;

use crate::runtime::NodeHandle;

use super::feed::FeedLine;
use super::node_view::{render, Rates, View, FEED_LINES};

/// Redraw interval.
const TICK: Duration = Duration::from_millis(250);

/// Runs the view until the user quits or `stop` resolves (a signal). The caller then makes
/// the node leave the cluster.
pub async fn run(
    node: &NodeHandle,
    mut feed: mpsc::UnboundedReceiver<FeedLine>,
    stop: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let (keys_tx, mut keys) = mpsc::unbounded_channel();
    let done = Arc::new(AtomicBool::new(false));
    let reader_done = done.clone();
    // crossterm's blocking reader lives on its own thread.
    let reader = std::thread::spawn(move || {
        while !reader_done.load(Ordering::Relaxed) {
            if event::poll(Duration::from_millis(100)).unwrap_or(false) {
                if let Ok(ev) = event::read() {
                    if keys_tx.send(ev).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut lines: VecDeque<FeedLine> = VecDeque::with_capacity(FEED_LINES);
    let mut last: Option<(Instant, [u64; 4])> = None;
    let mut rates = Rates::default();
    let mut tick = tokio::time::interval(TICK);
    tokio::pin!(stop);
    let result = loop {
        tokio::select! {
            _ = &mut stop => break Ok(()),
            Some(line) = feed.recv() => {
                if lines.len() == FEED_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
                continue;
            }
            Some(ev) = keys.recv() => match ev {
                Event::Key(k) if k.kind == KeyEventKind::Press => {
                    let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                    if ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                        break Ok(());
                    }
                }
                Event::Resize(_, _) => {}
                _ => continue,
            },
            _ = tick.tick() => {}
        }
        let Some(report) = node.inspect(|n, now| n.status(now)).await else {
            break Ok(());
        };
        let c = |name: &str| report.counters.get(name).copied().unwrap_or(0);
        let now_counts = [
            c("datagrams_in"),
            c("datagrams_out"),
            c("bytes_in"),
            c("bytes_out"),
        ];
        let now = Instant::now();
        if let Some((then, before)) = last {
            let dt = now.duration_since(then).as_secs_f64();
            if dt >= 0.2 {
                let per = |i: usize| now_counts[i].saturating_sub(before[i]) as f64 / dt;
                rates = Rates {
                    datagrams_in: per(0),
                    datagrams_out: per(1),
                    bytes_in: per(2),
                    bytes_out: per(3),
                };
                last = Some((now, now_counts));
            }
        } else {
            last = Some((now, now_counts));
        }
        let view = View {
            report,
            feed: lines.clone(),
            rates,
        };
        if let Err(e) = terminal.draw(|frame| render(frame, frame.area(), &view)) {
            break Err(e);
        }
    };
    done.store(true, Ordering::Relaxed);
    let _ = reader.join();
    ratatui::restore();
    result
}
