//! The cluster pane: a row of GPU cells per node, or per pool on large clusters.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{pane_block, window};
use crate::app::{App, Pane};
use crate::snapshot::{GpuCell, Snapshot};

/// The character and colour of a GPU cell.
pub(crate) fn cell(g: GpuCell) -> (&'static str, Color) {
    match g {
        GpuCell::Busy => ("█", Color::Green),
        GpuCell::Shared => ("▒", Color::Yellow),
        GpuCell::Free => ("·", Color::Gray),
        GpuCell::Failed => ("x", Color::Red),
    }
}

pub(super) fn draw(frame: &mut Frame, app: &App, s: &Snapshot, label: &str, area: Rect) {
    let title = match app.drill.and_then(|p| s.pools.get(p)) {
        Some(p) if app.aggregated() => format!("{label}Cluster > {} (Esc: pools)", p.name),
        _ => format!("{label}Cluster ({} nodes)", s.nodes.len()),
    };
    let block = pane_block(app, Pane::Cluster, title).title_bottom(Line::styled(
        " █busy ▒shared ·free xdown ",
        Style::new().fg(Color::DarkGray),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;
    let focused = app.focus == Pane::Cluster;
    let sel_style = |sel: bool| {
        if sel && focused {
            Style::new().add_modifier(Modifier::REVERSED)
        } else if sel {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        }
    };
    let mut lines = Vec::new();
    if app.listing_pools() {
        for (i, p) in s.pools.iter().enumerate() {
            let c = p.counts(&s.nodes);
            let sel = i == app.pool_sel;
            let mut spans = vec![
                Span::raw(if sel { ">" } else { " " }),
                Span::styled(format!("{:<8.8}", p.name), sel_style(sel)),
                Span::raw(format!(" {:>4}n ", p.nodes.len())),
            ];
            for (g, n) in [
                (GpuCell::Busy, c.busy),
                (GpuCell::Shared, c.shared),
                (GpuCell::Free, c.free),
                (GpuCell::Failed, c.failed),
            ] {
                let (ch, color) = cell(g);
                spans.push(Span::styled(format!("{ch}{n} "), Style::new().fg(color)));
            }
            if c.down > 0 {
                spans.push(Span::styled(
                    format!("{} down", c.down),
                    Style::new().fg(Color::Red),
                ));
            }
            lines.push(Line::from(spans));
        }
        lines.push(Line::styled(
            "Enter: list the pool's nodes",
            Style::new().fg(Color::DarkGray),
        ));
    } else {
        let listed = app.listed_nodes();
        let width = listed
            .iter()
            .filter_map(|&i| s.nodes.get(i).map(|n| n.name.len()))
            .max()
            .unwrap_or(0)
            .min(16);
        for row in window(listed.len(), app.node_sel, height) {
            let Some(n) = s.nodes.get(listed[row]) else {
                continue;
            };
            let sel = row == app.node_sel;
            let mut spans = vec![
                Span::raw(if sel { ">" } else { " " }),
                Span::styled(format!("{:<width$.width$} ", n.name), sel_style(sel)),
            ];
            if n.gpus.is_empty() {
                spans.push(Span::styled(
                    format!("cpu, {} pods", n.pods),
                    Style::new().fg(Color::DarkGray),
                ));
            }
            for &g in &n.gpus {
                let (ch, color) = cell(g);
                spans.push(Span::styled(ch, Style::new().fg(color)));
            }
            if !n.up {
                let what = if n.not_ready { " NotReady" } else { " DOWN" };
                spans.push(Span::styled(
                    what,
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                ));
            }
            lines.push(Line::from(spans));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
