//! The live view of one node, drawn from a status snapshot and the event feed. A pure
//! function of its data, so it is tested with ratatui's `TestBackend`.

use std::collections::VecDeque;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::format::{age, bytes, rate};
use crate::config::{book_in, own_book};
use crate::wire::{MemberState, StatusReport};

use super::feed::{FeedKind, FeedLine};

/// Feed lines kept for display.
pub const FEED_LINES: usize = 200;

/// Traffic per second, from two counter snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    pub datagrams_in: f64,
    pub datagrams_out: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
}

/// Everything the view shows.
#[derive(Clone, Debug)]
pub struct View {
    pub report: StatusReport,
    pub feed: VecDeque<FeedLine>,
    pub rates: Rates,
}

/// The color of a member state.
pub fn state_color(state: MemberState) -> Color {
    match state {
        MemberState::Alive => Color::Green,
        MemberState::Suspect => Color::Yellow,
        MemberState::Dead => Color::Red,
        MemberState::Left => Color::Magenta,
    }
}

fn feed_color(kind: FeedKind) -> Style {
    let color = match kind {
        FeedKind::Learned => Color::Cyan,
        FeedKind::Relayed => Color::DarkGray,
        FeedKind::Own => Color::White,
        FeedKind::Suspect => Color::Yellow,
        FeedKind::Dead | FeedKind::Problem => Color::Red,
        FeedKind::Left => Color::Magenta,
        FeedKind::Alive => Color::Green,
        FeedKind::Config => Color::Blue,
        FeedKind::Other => Color::Gray,
    };
    Style::default().fg(color)
}

/// "members 3 alive · 1 suspect · 0 dead · 0 left", each count in its state's color.
fn members_line(report: &StatusReport) -> Vec<Span<'static>> {
    let mut spans = vec![Span::raw("members ")];
    for (i, state) in MemberState::ALL.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" · "));
        }
        spans.push(Span::styled(
            format!("{} {}", report.members_in(state), state.name()),
            Style::default().fg(state_color(state)),
        ));
    }
    spans
}

/// Recent messages the view lists when the pane is tall enough.
const RECENT_LINES: u16 = 5;

/// Draws the whole view into `area`.
pub fn render(frame: &mut Frame, area: Rect, view: &View) {
    let r = &view.report;
    let feed_height = (area.height / 3).clamp(3, 12);
    // Recent messages get a few lines when the pane is tall enough to spare them.
    let recent_height = if area.height >= 30 && !r.recent.is_empty() {
        (r.recent.len() as u16).min(RECENT_LINES) + 1
    } else {
        0
    };
    let warning = r.partition.as_ref().map(crate::ui::format::partition);
    let [header, table, recent, feed] = Layout::vertical([
        Constraint::Length(4 + u16::from(warning.is_some())),
        Constraint::Min(3),
        Constraint::Length(recent_height),
        Constraint::Length(feed_height),
    ])
    .areas(area);

    let book = own_book(r).unwrap_or("no book");
    let header_lines = vec![
        Line::from(vec![
            Span::styled(r.id.clone(), Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(format!(" {} · reading ", r.addr)),
            Span::styled(format!("{book:?}"), Style::default().fg(Color::Cyan)),
            Span::raw(format!(" v{} · up {}", r.version, age(r.uptime_ms))),
        ]),
        Line::from(members_line(r)),
        Line::from(format!(
            "in {} · out {}",
            rate(view.rates.datagrams_in, view.rates.bytes_in),
            rate(view.rates.datagrams_out, view.rates.bytes_out)
        )),
    ];
    let mut header_lines = header_lines;
    if let Some(w) = warning {
        header_lines.push(Line::from(Span::styled(
            w,
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        )));
    }
    frame.render_widget(
        Paragraph::new(header_lines).block(
            Block::default()
                .borders(Borders::TOP)
                .title(format!(" gossip · {} · q leaves the cluster ", r.id)),
        ),
        header,
    );

    // Columns fall away as the pane narrows: via, then hops and age.
    let wide = area.width >= 90;
    let medium = area.width >= 60;
    let mut titles = vec!["origin", "book", "ver", "state"];
    if medium {
        titles.extend(["held", "age", "hops"]);
    }
    if wide {
        titles.push("via");
    }
    let rows: Vec<Row> = r
        .known
        .iter()
        .map(|k| {
            let peer = r
                .peers
                .iter()
                .find(|p| p.id.as_deref() == Some(k.origin.as_str()));
            let (state_text, color) = match (k.origin == r.id, peer) {
                (true, _) => ("self".to_string(), Color::Cyan),
                (false, Some(p)) => (p.state.name().to_string(), state_color(p.state)),
                (false, None) => ("-".to_string(), Color::Gray),
            };
            let mut cells = vec![
                Cell::from(k.origin.clone()),
                Cell::from(book_in(&k.values).unwrap_or_default().to_string()),
                Cell::from(format!("v{}", k.version)),
                Cell::from(state_text).style(Style::default().fg(color)),
            ];
            if medium {
                cells.push(Cell::from(bytes(k.state_bytes)));
                cells.push(Cell::from(age(k.age_ms)));
                cells.push(Cell::from(match k.route.as_str() {
                    "rumor" => k.hops.to_string(),
                    other => other.to_string(),
                }));
            }
            if wide {
                cells.push(Cell::from(
                    k.via
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "direct".into()),
                ));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(10),
        Constraint::Min(12),
        Constraint::Length(6),
        Constraint::Length(8),
    ];
    if medium {
        widths.extend([
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(6),
        ]);
    }
    if wide {
        widths.push(Constraint::Length(22));
    }
    frame.render_widget(
        Table::new(rows, widths)
            .header(Row::new(titles).style(Style::default().add_modifier(Modifier::BOLD)))
            .block(
                Block::default()
                    .borders(Borders::TOP)
                    .title(format!(
                        " known origins ({}, {} held) ",
                        r.known.len(),
                        bytes(r.state_bytes)
                    )),
            ),
        table,
    );

    if recent_height > 0 {
        let lines: Vec<Line> = r
            .recent
            .iter()
            .rev()
            .take(RECENT_LINES as usize)
            .map(|m| {
                let id = m
                    .id
                    .as_deref()
                    .map_or(String::new(), |id| format!(" {}", &id[..id.len().min(8)]));
                Line::from(vec![
                    Span::styled(
                        format!("{:>6} ", age(m.age_ms)),
                        Style::default().fg(Color::DarkGray),
                    ),
                    Span::raw(format!(
                        "{} {} v{} from {} ({} hop{}){id}",
                        m.kind,
                        m.origin,
                        m.version,
                        m.from,
                        m.hops,
                        if m.hops == 1 { "" } else { "s" }
                    )),
                ])
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines)
                .block(Block::default().borders(Borders::TOP).title(" recent messages ")),
            recent,
        );
    }

    let shown = feed.height.saturating_sub(1) as usize;
    let lines: Vec<Line> = view
        .feed
        .iter()
        .skip(view.feed.len().saturating_sub(shown))
        .map(|l| {
            Line::from(vec![
                Span::styled(
                    format!("{} ", l.clock),
                    Style::default().fg(Color::DarkGray),
                ),
                Span::styled(l.text.clone(), feed_color(l.kind)),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::TOP).title(" events ")),
        feed,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::feed::FeedLine;
    use crate::wire::{KnownOrigin, PeerStatus};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::collections::BTreeMap;
    use tracing::Level;

    fn origin(id: &str, book: &str, version: u64, hops: u8, via: Option<&str>) -> KnownOrigin {
        KnownOrigin {
            origin: id.into(),
            addr: "127.0.0.1:7000".parse().unwrap(),
            version,
            age_ms: 2300,
            learned_unix_us: 0,
            hops,
            route: if hops == 0 {
                "self".into()
            } else {
                "rumor".into()
            },
            via: via.map(|v| v.parse().unwrap()),
            values: BTreeMap::from([("book".to_string(), book.to_string())]),
            state_bytes: 4 + book.len() as u64,
        }
    }

    fn peer(id: &str, port: u16, state: MemberState) -> PeerStatus {
        PeerStatus {
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            id: Some(id.into()),
            source: "learned".into(),
            last_heard_ms: Some(100),
            state,
            incarnation: 0,
        }
    }

    fn view() -> View {
        let report = StatusReport {
            id: "n7002".into(),
            addr: "127.0.0.1:7002".parse().unwrap(),
            version: 12,
            uptime_ms: 184_000,
            incarnation: 0,
            health: 0,
            fanout: "2".into(),
            ttl: 5,
            peers: vec![
                peer("n7000", 7000, MemberState::Alive),
                peer("n7001", 7001, MemberState::Suspect),
                peer("n7003", 7003, MemberState::Dead),
            ],
            known: vec![
                origin("n7000", "Emma", 4, 2, Some("127.0.0.1:7001")),
                origin("n7001", "Ulysses", 9, 1, None),
                origin("n7002", "Dune", 12, 0, None),
                origin("n7003", "Beloved", 3, 1, None),
            ],
            counters: BTreeMap::new(),
            state_bytes: 4 * 4 + 22,
            fetching: 0,
            fetching_bytes: 0,
            recent: vec![crate::wire::RecentMessage {
                kind: "rumor".into(),
                id: Some("3f2a9c1e-0000-4000-8000-000000000000".into()),
                origin: "n7000".into(),
                version: 4,
                from: "127.0.0.1:7001".parse().unwrap(),
                hops: 2,
                age_ms: 1200,
            }],
            partition: None,
            identity: None,
            trust: "open".into(),
            pinned_keys: 0,
        };
        let feed = [
            "learned \"Emma\" from n7000 v4 via 127.0.0.1:7001 (hops 2)",
            "n7003 at 127.0.0.1:7003 is dead: suspicion was not refuted",
        ]
        .iter()
        .map(|t| FeedLine::new("07:40:36".into(), Level::INFO, t.to_string()))
        .collect();
        View {
            report,
            feed,
            rates: Rates {
                datagrams_in: 12.0,
                datagrams_out: 11.0,
                bytes_in: 1300.0,
                bytes_out: 1200.0,
            },
        }
    }

    fn screen(width: u16, height: u16) -> (String, ratatui::buffer::Buffer) {
        screen_of(&view(), width, height)
    }

    fn screen_of(view: &View, width: u16, height: u16) -> (String, ratatui::buffer::Buffer) {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| render(f, f.area(), view)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        let text = buffer
            .content
            .chunks(width as usize)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n");
        (text, buffer)
    }

    #[test]
    fn a_wide_pane_shows_every_column_the_feed_and_the_rates() {
        let (text, _) = screen(110, 24);
        for needle in [
            "n7002 127.0.0.1:7002",
            "\"Dune\" v12",
            "up 3m04s",
            "1 alive",
            "1 suspect",
            "1 dead",
            "12.0 dg/s",
            "origin",
            "via",
            "Ulysses",
            "v9",
            "127.0.0.1:7001",
            "self",
            "suspect",
            "is dead: suspicion",
            "q leaves the cluster",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn a_tall_pane_lists_the_recent_messages() {
        let (text, _) = screen(110, 40);
        assert!(text.contains("recent messages"), "{text}");
        assert!(
            text.contains("rumor n7000 v4 from 127.0.0.1:7001 (2 hops) 3f2a9c1e"),
            "{text}"
        );
        let (short, _) = screen(110, 24);
        assert!(!short.contains("recent messages"), "{short}");
    }

    #[test]
    fn a_small_pane_drops_columns_but_keeps_books_and_states() {
        let (text, _) = screen(50, 16);
        let header = text
            .lines()
            .find(|l| l.starts_with("origin"))
            .expect("table header");
        assert!(
            !header.contains("via"),
            "via should be dropped at 50 columns:\n{text}"
        );
        assert!(
            !header.contains("hops"),
            "hops should be dropped at 50 columns:\n{text}"
        );
        assert!(header.contains("state"), "{text}");
        for needle in ["n7000", "Emma", "v4", "alive", "dead"] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn member_states_have_distinct_colors() {
        let (text, buffer) = screen(110, 24);
        let colors: Vec<Color> = ["alive", "suspect", "dead  "]
            .iter()
            .map(|word| {
                let row = text
                    .lines()
                    .position(|l| l.contains(&format!(" {word}")))
                    .unwrap();
                let col = text
                    .lines()
                    .nth(row)
                    .unwrap()
                    .find(&format!(" {word}"))
                    .unwrap()
                    + 1;
                buffer[(col as u16, row as u16)].fg
            })
            .collect();
        assert_eq!(colors, vec![Color::Green, Color::Yellow, Color::Red]);
    }

    #[test]
    fn a_partition_is_shown_in_red_above_the_table() {
        let (calm, _) = screen(110, 24);
        assert!(!calm.contains("PARTITIONED"), "{calm}");
        let mut cut = view();
        cut.report.partition = Some(crate::wire::PartitionStatus {
            for_ms: 252_000,
            unreachable: 10,
            known: 15,
        });
        let (text, buffer) = screen_of(&cut, 110, 24);
        let row = text
            .lines()
            .position(|l| l.contains("PARTITIONED for 4m12s: 10 of the 15 members"))
            .unwrap_or_else(|| panic!("no warning in\n{text}"));
        let table = text.lines().position(|l| l.starts_with("origin")).unwrap();
        assert!(row < table, "{text}");
        assert_eq!(buffer[(0, row as u16)].fg, Color::Red);
    }
}
