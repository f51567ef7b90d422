//! Pure render functions of `&App`.

mod cluster;

use drydock_core::SimDuration;
use drydock_sim::model::Phase;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::app::{App, Pane};
use crate::snapshot::Snapshot;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, app, header);
    draw_footer(frame, app, footer);
    if let Some(b) = &app.snap_b {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(body);
        for (snap, label, area) in [
            (&app.snap, format!("A {}: ", app.label_a), left),
            (&**b, format!("B {}: ", app.label_b), right),
        ] {
            let [c, j] = Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(area);
            cluster::draw(frame, app, snap, &label, c);
            draw_jobs(frame, app, snap, &label, j);
        }
        if app.help {
            draw_help(frame, frame.area());
        }
        return;
    }
    let PaneAreas {
        cluster: cluster_area,
        queue: queue_area,
        jobs: jobs_area,
        events: events_area,
    } = pane_areas(body);
    cluster::draw(frame, app, &app.snap, "", cluster_area);
    draw_queue(frame, app, queue_area);
    draw_jobs(frame, app, &app.snap, "", jobs_area);
    draw_events(frame, app, events_area);
    if app.help {
        draw_help(frame, frame.area());
    }
}

/// Where the four panes of the single-run view are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaneAreas {
    /// Cluster pane.
    pub cluster: Rect,
    /// Queue pane.
    pub queue: Rect,
    /// Jobs pane.
    pub jobs: Rect,
    /// Events pane.
    pub events: Rect,
}

/// The single-run view's pane layout inside `body` (the screen less header and footer); the
/// same function places the panes for drawing and for mouse clicks.
pub fn pane_areas(body: Rect) -> PaneAreas {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
    let [cluster, queue] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(left);
    let [jobs, events] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(right);
    PaneAreas {
        cluster,
        queue,
        jobs,
        events,
    }
}

/// The body of a `width` × `height` screen: everything but the header and footer rows.
pub fn body_area(width: u16, height: u16) -> Rect {
    Rect::new(0, 1, width, height.saturating_sub(2))
}

/// A pane's block, highlighted when focused.
pub(crate) fn pane_block(app: &App, pane: Pane, title: String) -> Block<'static> {
    let style = if app.focus == pane {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    Block::bordered().border_style(style).title(Span::styled(
        format!(" {title} "),
        Style::new().add_modifier(Modifier::BOLD),
    ))
}

/// `d` as `2h10m`.
pub(crate) fn dur(t: u64) -> String {
    SimDuration(t).to_string()
}

fn draw_header(frame: &mut Frame, app: &App, area: Rect) {
    let s = &app.snap;
    let (state, color) = if s.finished {
        ("FINISHED", Color::Blue)
    } else if app.playing {
        ("RUNNING", Color::Green)
    } else {
        ("PAUSED", Color::Yellow)
    };
    let line = Line::from(vec![
        Span::styled(" drydock ", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!("{} ", s.scenario)),
        Span::styled(
            format!("t={}", dur(s.now.0)),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "/{}  speed {}  seed {}  ",
            dur(s.end.0),
            app.speed_label(),
            s.seed
        )),
        Span::styled(state, Style::new().fg(color).add_modifier(Modifier::BOLD)),
        Span::raw(format!("  events {}", s.events)),
    ]);
    frame.render_widget(
        Paragraph::new(line).style(Style::new().bg(Color::Black)),
        area,
    );
}

fn draw_footer(frame: &mut Frame, app: &App, area: Rect) {
    let line = match (&app.prompt, &app.filter_prompt) {
        (Some(text), _) => Line::from(vec![
            Span::styled(" jump to time: ", Style::new().fg(Color::Yellow)),
            Span::raw(format!("{text}_")),
            Span::styled(
                "  (like 2h30m; Enter go, Esc cancel)",
                Style::new().fg(Color::DarkGray),
            ),
        ]),
        (None, Some(text)) => Line::from(vec![
            Span::styled(" filter events: ", Style::new().fg(Color::Yellow)),
            Span::raw(format!("{text}_")),
            Span::styled(
                "  (text to match; empty clears; Enter apply, Esc cancel)",
                Style::new().fg(Color::DarkGray),
            ),
        ]),
        (None, None) => Line::from(vec![
            Span::raw(format!(" {}", app.status)),
            Span::styled("   ? help  q quit", Style::new().fg(Color::DarkGray)),
        ]),
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// Rows `[first, first + height)` of `len`, moved so that `sel` is visible.
pub(crate) fn window(len: usize, sel: usize, height: usize) -> std::ops::Range<usize> {
    let first = sel.saturating_sub(height.saturating_sub(1));
    first..(first + height).min(len)
}

fn draw_queue(frame: &mut Frame, app: &App, area: Rect) {
    let s = &app.snap;
    let block = pane_block(
        app,
        Pane::Queue,
        format!("Queue ({} waiting)", s.queue.len()),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;
    let mut lines = Vec::new();
    if s.queue.is_empty() {
        lines.push(Line::styled(
            "nothing waiting",
            Style::new().fg(Color::DarkGray),
        ));
    }
    let first = app.queue_scroll.min(s.queue.len().saturating_sub(height));
    for q in s.queue.iter().skip(first).take(height) {
        lines.push(Line::from(vec![
            Span::raw(format!("{:<13.13} ", q.name)),
            Span::styled(
                format!("{:>6} ", dur(q.waiting.0 / 1_000_000 * 1_000_000)),
                Style::new().fg(Color::Yellow),
            ),
            Span::styled(q.reason.clone(), Style::new().fg(Color::DarkGray)),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A short label of a phase.
pub(crate) fn phase_label(p: Phase) -> (&'static str, Color) {
    match p {
        Phase::NotArrived => ("-", Color::DarkGray),
        Phase::Pending => ("pending", Color::Yellow),
        Phase::Holding => ("holding", Color::Yellow),
        Phase::Running => ("running", Color::Green),
        Phase::Stalled => ("stalled", Color::Red),
        Phase::Terminating => ("stopping", Color::Magenta),
        Phase::Backoff => ("backoff", Color::Magenta),
        Phase::Completed => ("completed", Color::Blue),
        Phase::Failed => ("failed", Color::Red),
    }
}

fn draw_jobs(frame: &mut Frame, app: &App, s: &Snapshot, label: &str, area: Rect) {
    let done = s
        .jobs
        .iter()
        .filter(|j| j.phase == Phase::Completed)
        .count();
    let block = pane_block(
        app,
        Pane::Jobs,
        format!(
            "{label}Jobs ({} arrived, {done} done, {} waiting)",
            s.jobs.len(),
            s.queue.len()
        ),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;
    let mut lines = Vec::new();
    if s.jobs.is_empty() {
        lines.push(Line::styled("no job yet", Style::new().fg(Color::DarkGray)));
    }
    let first = app.jobs_scroll.min(s.jobs.len().saturating_sub(height));
    for j in s.jobs.iter().skip(first).take(height) {
        let (label, color) = phase_label(j.phase);
        let bar_w = 8usize;
        let filled = j.progress as usize * bar_w / 100;
        lines.push(Line::from(vec![
            Span::raw(format!("{:<12.12} ", j.name)),
            Span::styled(format!("{label:<9} "), Style::new().fg(color)),
            Span::styled("█".repeat(filled), Style::new().fg(Color::Green)),
            Span::styled("░".repeat(bar_w - filled), Style::new().fg(Color::DarkGray)),
            Span::raw(format!(" {:>3}%", j.progress)),
            Span::styled(
                if j.restarts + j.preemptions > 0 {
                    format!(" r{}p{}", j.restarts, j.preemptions)
                } else {
                    String::new()
                },
                Style::new().fg(Color::Red),
            ),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_events(frame: &mut Frame, app: &App, area: Rect) {
    let s = &app.snap;
    let title = match &app.filter {
        Some(f) => format!("Events matching `{f}`"),
        None => "Events".to_string(),
    };
    let block = pane_block(app, Pane::Events, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;
    let needle = app.filter.as_ref().map(|f| f.to_lowercase());
    let shown: Vec<&crate::snapshot::LogLine> = s
        .log
        .iter()
        .filter(|l| {
            needle
                .as_ref()
                .is_none_or(|n| l.text.to_lowercase().contains(n))
        })
        .collect();
    let end = shown.len().saturating_sub(app.log_scroll);
    let start = end.saturating_sub(height);
    let mut lines = Vec::new();
    if shown.is_empty() {
        lines.push(Line::styled(
            if s.log.is_empty() {
                "no events yet"
            } else {
                "no event matches the filter"
            },
            Style::new().fg(Color::DarkGray),
        ));
    }
    for l in &shown[start..end] {
        let color = if l.text.contains("failed")
            || l.text.contains("NotReady")
            || l.text.contains("evicted")
            || l.text.contains("stalled")
        {
            Color::Red
        } else if l.text.contains("restarted") || l.text.contains("preempted") {
            Color::Magenta
        } else {
            Color::Reset
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:>7} ", dur(l.at.0)),
                Style::new().fg(Color::DarkGray),
            ),
            Span::styled(l.text.clone(), Style::new().fg(color)),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The keys, for the help overlay and the README.
pub const KEYS: [(&str, &str); 15] = [
    ("Space", "play / pause"),
    ("+ / -", "speed: 1x real time .. 100kx, max"),
    (".", "step one event"),
    ("g", "jump to a time (like 2h30m)"),
    ("b", "back 30 minutes (replays from the start)"),
    ("/", "filter the event log (empty clears)"),
    ("f", "fail the selected node (repaired after 1h)"),
    ("Tab, click", "next pane / focus the clicked pane"),
    ("Up/Down", "select a node (or click it) / scroll"),
    ("Enter", "list a pool's nodes (large clusters)"),
    ("Esc", "back to the pools"),
    ("?", "this help"),
    ("q, Ctrl-C", "quit"),
    ("cells", "█ busy  ▒ shared  · free  x down"),
    ("", "any key closes this help"),
];

fn draw_help(frame: &mut Frame, area: Rect) {
    let w = 60.min(area.width);
    let h = (KEYS.len() as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(format!("{k:>10}  "), Style::new().fg(Color::Cyan)),
                Span::raw(*d),
            ])
        })
        .collect();
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Help ")),
        rect,
    );
}
