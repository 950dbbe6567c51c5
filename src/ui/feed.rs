//! The event feed of the live view. In TUI mode log lines must not scribble over the screen,
//! so a tracing layer turns every log event (learned, relayed, suspect, dead, config
//! reloaded …) into a feed line instead.

use std::fmt::Write as _;

use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What kind of news a line is, for its color.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedKind {
    Learned,
    Relayed,
    Own,
    Suspect,
    Dead,
    Left,
    Alive,
    Config,
    Problem,
    Other,
}

/// One line of the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedLine {
    /// Wall-clock `HH:MM:SS` when it happened.
    pub clock: String,
    pub kind: FeedKind,
    pub text: String,
}

impl FeedLine {
    /// Classifies a log message by what it says.
    pub fn new(clock: String, level: Level, text: String) -> Self {
        let has = |s: &str| text.contains(s);
        let kind = if has("config reload") {
            FeedKind::Config
        } else if has(" is dead") {
            FeedKind::Dead
        } else if has("suspect") || has("refuted") {
            FeedKind::Suspect
        } else if has("left the cluster") {
            FeedKind::Left
        } else if has("alive again") || has("new peer") {
            FeedKind::Alive
        } else if has("now reading") || text.starts_with("set ") {
            FeedKind::Own
        } else if text.starts_with("learned") {
            FeedKind::Learned
        } else if text.starts_with("relayed") || text.starts_with("duplicate") {
            FeedKind::Relayed
        } else if level <= Level::WARN {
            FeedKind::Problem
        } else {
            FeedKind::Other
        };
        FeedLine { clock, kind, text }
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }
}

struct FeedLayer {
    tx: mpsc::UnboundedSender<FeedLine>,
}

impl<S: Subscriber> Layer<S> for FeedLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() % 86_400)
            .unwrap_or(0);
        let clock = format!(
            "{:02}:{:02}:{:02}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        );
        let _ = self
            .tx
            .send(FeedLine::new(clock, *event.metadata().level(), message.0));
    }
}

/// Sends log events to the feed instead of the terminal. Relays and duplicates (debug level)
/// are included unless `RUST_LOG` says otherwise.
pub fn init_feed_logging() -> mpsc::UnboundedReceiver<FeedLine> {
    let (tx, rx) = mpsc::unbounded_channel();
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,gossip=debug"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(FeedLayer { tx })
        .try_init();
    rx
}
