//! Turning core events into log lines people read in a terminal pane, e.g.
//! `learned "Dune" from n7003 v12 via 127.0.0.1:7002 (hops 2)`.

use std::time::Duration;

use tracing::{debug, info, warn};
use tracing_subscriber::EnvFilter;

use crate::core::{Event, Node, Route, Time};
use crate::wire::MemberState;

/// Output format of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, colored on a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `HH:MM:SS.mmm` (UTC): enough to order events, short enough for narrow tmux panes.
struct ClockTime;

impl tracing_subscriber::fmt::time::FormatTime for ClockTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = since_epoch.as_secs() % 86_400;
        write!(
            w,
            "{:02}:{:02}:{:02}.{:03}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60,
            since_epoch.subsec_millis()
        )
    }
}

/// Installs the global subscriber; `RUST_LOG` overrides the default `info` level.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        // Pretty lines carry just the sentence; the structured fields are for JSON consumers.
        LogFormat::Pretty => builder
            .with_target(false)
            .with_timer(ClockTime)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .fmt_fields(tracing_subscriber::fmt::format::debug_fn(
                |w, field, value| {
                    if field.name() == "message" {
                        write!(w, "{value:?}")
                    } else {
                        Ok(())
                    }
                },
            ))
            .compact()
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// How a value is shown in log lines: the book in quotes, other keys as `key=value`.
pub fn describe(key: &str, value: &Option<bytes::Bytes>) -> String {
    let Some(value) = value else {
        return format!("{key} deleted");
    };
    let text = crate::core::node::abbreviate(value);
    if key == crate::config::BOOK_KEY {
        format!("{text:?}")
    } else {
        format!("{key}={text}")
    }
}

/// Logs core events, summarising bad datagrams, refused state and throttled changes at most
/// once per interval so a flood cannot flood the log too.
pub struct EventLogger {
    bad: Summary,
    refused: Summary,
    throttled: Summary,
    every: Duration,
}

/// Events of one kind counted between two log lines.
#[derive(Default)]
struct Summary {
    since_report: u64,
    last_report: Option<Time>,
}

impl Summary {
    /// Counts one event; when a line is due (`every` since the last), how many it covers.
    fn due(&mut self, now: Time, every: Duration) -> Option<u64> {
        self.since_report += 1;
        if self.last_report.is_some_and(|at| now.since(at) < every) {
            return None;
        }
        self.last_report = Some(now);
        Some(std::mem::take(&mut self.since_report))
    }
}

impl Default for EventLogger {
    fn default() -> Self {
        EventLogger {
            bad: Summary::default(),
            refused: Summary::default(),
            throttled: Summary::default(),
            every: Duration::from_secs(5),
        }
    }
}

impl EventLogger {
    /// Logs one event.
    pub fn log(&mut self, node: &Node, now: Time, event: Event) {
        match event {
            Event::Learned {
                origin,
                key,
                value,
                version,
                via,
                route,
            } => {
                let how = match route {
                    Route::Rumor { hops } => format!("hops {hops}"),
                    Route::Sync => "anti-entropy".to_string(),
                    Route::Own => "self".to_string(),
                };
                info!(
                    origin = %origin, key = %key, version, via = %via, route = route.name(),
                    "learned {} from {origin} v{version} via {via} ({how})",
                    describe(&key, &value)
                );
            }
            Event::Originated {
                key,
                value,
                version,
                pushed_to,
            } => {
                let what = if key == "book" { "now reading" } else { "set" };
                info!(
                    key = %key, version, pushed_to,
                    "{what} {} (v{version}), pushed to {pushed_to} peers",
                    describe(&key, &value)
                );
            }
            Event::Expired {
                origin,
                key,
                version,
            } => info!(
                origin = %origin, key = %key, version,
                "{key} of {origin} (v{version}) expired"
            ),
            Event::Relayed {
                origin,
                version,
                to,
                ttl,
            } => debug!("relayed {origin} v{version} to {to} peers (ttl {ttl})"),
            Event::Duplicate {
                origin,
                version,
                from,
            } => debug!("duplicate {origin} v{version} from {from} dropped"),
            Event::PeerAdded { addr, id, source } => {
                let id = id.map(|i| i.to_string()).unwrap_or_else(|| "?".into());
                info!(peer = %addr, "new peer {id} at {addr} ({})", source.name());
            }
            Event::MemberChanged {
                id,
                addr,
                state,
                incarnation,
                by,
            } => {
                let what = match state {
                    MemberState::Alive => format!("is alive again (incarnation {incarnation})"),
                    MemberState::Suspect => match by {
                        Some(by) if &by == node.id() => {
                            "is suspect: no answer to our probes".into()
                        }
                        Some(by) => format!("is suspected by {by}"),
                        None => "is suspect".into(),
                    },
                    MemberState::Dead => "is dead: suspicion was not refuted".into(),
                    MemberState::Left => "left the cluster".into(),
                };
                match state {
                    MemberState::Alive | MemberState::Left => {
                        info!(member = %id, peer = %addr, state = state.name(), incarnation, "{id} at {addr} {what}")
                    }
                    _ => {
                        warn!(member = %id, peer = %addr, state = state.name(), incarnation, "{id} at {addr} {what}")
                    }
                }
            }
            Event::Refuted {
                accused,
                incarnation,
            } => warn!(
                incarnation,
                "we were reported {}; refuted with incarnation {incarnation}",
                accused.name()
            ),
            Event::Partitioned { unreachable, known } => warn!(
                unreachable,
                known,
                "partitioned: {unreachable} of the {known} members we knew are unreachable (a \
                 network split, or they failed); still trying them, and the cluster heals when \
                 the network does"
            ),
            Event::Reconnected {
                after,
                reachable,
                known,
            } => info!(
                reachable,
                known,
                after_secs = after.as_secs(),
                "partition over after {}: {reachable} of {known} members reachable",
                humantime::format_duration(Duration::from_secs(after.as_secs()))
            ),
            // Rare by construction (a source is banned once per ban period), so never throttled.
            Event::SourceBanned { from, ban } => warn!(
                from = %from,
                "ignoring {from} for {}s: too many bad datagrams ({} refused in total)",
                ban.as_secs(),
                node.counters().decode_errors
            ),
            // Rare by construction (three forgeries per ban, bans growing), so never throttled.
            Event::PeerIgnored { id, addr, ban } => warn!(
                member = %id, peer = %addr,
                "ignoring {id} at {addr} for {}s: it relayed forged state (proven by its datagram tags)",
                ban.as_secs()
            ),
            Event::Throttled { origin } => {
                if let Some(count) = self.throttled.due(now, self.every) {
                    warn!(
                        origin = %origin,
                        "left {count} change(s) to anti-entropy in the last {}s: their origins \
                         (latest {origin}) change faster than {}/s; {} in total",
                        self.every.as_secs(),
                        node.config().origin_rate.rate,
                        node.counters().rumors_throttled
                    );
                }
            }
            Event::Refused {
                origin,
                from,
                reason,
            } => {
                if let Some(count) = self.refused.due(now, self.every) {
                    let total: u64 = node.counters().refused.values().sum();
                    warn!(
                        from = %from,
                        origin = %origin,
                        "refused {count} piece(s) of state in the last {}s (latest: {origin}'s \
                         state relayed by {from}: {reason}); {total} in total",
                        self.every.as_secs(),
                    );
                }
            }
            Event::BadDatagram { from, error } => {
                if let Some(count) = self.bad.due(now, self.every) {
                    warn!(
                        from = %from,
                        "dropped {count} bad datagram(s) in the last {}s (latest from {from}: {error}); {} in total",
                        self.every.as_secs(),
                        node.counters().decode_errors
                    );
                }
            }
        }
    }
}
