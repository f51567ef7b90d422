//! `update`: the only place the model changes.

use drydock_core::{NodeId, SimTime};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::app::{App, BACK_STEP, Command, Message, Pane, SPEEDS, SimCommand};

/// Applies `msg` to `app`; returns the side effect to perform, if any.
pub fn update(app: &mut App, msg: Message) -> Option<Command> {
    match msg {
        Message::Key(k) => key(app, k),
        Message::Snapshot(s) => {
            if s.finished && !app.snap.finished {
                app.playing = false;
                app.status = "the run is over: g or b to go back, q to quit".to_string();
            }
            app.snap = *s;
            clamp(app);
            None
        }
        Message::SnapshotB(s) => {
            app.snap_b = Some(s);
            None
        }
        Message::SimError(e) => {
            app.playing = false;
            app.status = format!("error: {e}");
            None
        }
        Message::Resize(w, h) => {
            app.size = (w, h);
            None
        }
        Message::Click(col, row) => {
            click(app, col, row);
            None
        }
        Message::Tick => None,
    }
}

/// A left click: focuses the pane under the pointer and, in the cluster pane, selects the
/// pool or node on that row. Ignored while a prompt or the help is open, and in the A/B view.
fn click(app: &mut App, col: u16, row: u16) {
    if app.help || app.prompt.is_some() || app.filter_prompt.is_some() || app.snap_b.is_some() {
        return;
    }
    let areas = crate::view::pane_areas(crate::view::body_area(app.size.0, app.size.1));
    let inside = |r: ratatui::layout::Rect| {
        col >= r.x && col < r.x + r.width && row >= r.y && row < r.y + r.height
    };
    let panes = [
        (Pane::Cluster, areas.cluster),
        (Pane::Queue, areas.queue),
        (Pane::Jobs, areas.jobs),
        (Pane::Events, areas.events),
    ];
    let Some(&(pane, area)) = panes.iter().find(|(_, r)| inside(*r)) else {
        return;
    };
    app.focus = pane;
    if pane != Pane::Cluster || row <= area.y || row + 1 >= area.y + area.height {
        return; // not a list row (border)
    }
    let r = (row - area.y - 1) as usize;
    if app.listing_pools() {
        if r < app.snap.pools.len() {
            app.pool_sel = r;
        }
        return;
    }
    let len = app.listed_nodes().len();
    let height = area.height.saturating_sub(2) as usize;
    let idx = crate::view::window(len, app.node_sel, height).start + r;
    if idx < len {
        app.node_sel = idx;
        if let Some(n) = app.selected_node().and_then(|i| app.snap.nodes.get(i)) {
            app.status = format!("selected {}: f fails it", n.name);
        }
    }
}

fn clamp(app: &mut App) {
    let n = app.listed_nodes().len();
    app.node_sel = app.node_sel.min(n.saturating_sub(1));
    app.pool_sel = app.pool_sel.min(app.snap.pools.len().saturating_sub(1));
    app.queue_scroll = app.queue_scroll.min(app.snap.queue.len().saturating_sub(1));
    app.jobs_scroll = app.jobs_scroll.min(app.snap.jobs.len().saturating_sub(1));
    app.log_scroll = app.log_scroll.min(app.snap.log.len().saturating_sub(1));
}

fn key(app: &mut App, k: KeyEvent) -> Option<Command> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
        app.quit = true;
        return Some(Command::Quit);
    }
    if let Some(text) = app.filter_prompt.as_mut() {
        match k.code {
            KeyCode::Esc => {
                app.filter_prompt = None;
                app.status = "filter unchanged".to_string();
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) if text.chars().count() < 40 => text.push(c),
            KeyCode::Enter => {
                let input = app.filter_prompt.take().unwrap_or_default();
                let input = input.trim().to_string();
                app.log_scroll = 0;
                if input.is_empty() {
                    app.filter = None;
                    app.status = "event filter cleared".to_string();
                } else {
                    app.status = format!("events filtered by `{input}` (/ then Enter clears)");
                    app.filter = Some(input);
                }
            }
            _ => {}
        }
        return None;
    }
    if let Some(text) = app.prompt.as_mut() {
        match k.code {
            KeyCode::Esc => {
                app.prompt = None;
                app.status = "jump cancelled".to_string();
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) if text.len() < 32 => text.push(c),
            KeyCode::Enter => {
                let input = app.prompt.take().unwrap_or_default();
                return match drydock_scenarios::parse_duration(&input) {
                    Ok(d) => {
                        let t = SimTime(d.0).min(app.snap.end);
                        app.status = format!("jumping to {d}");
                        Some(Command::Sim(SimCommand::JumpTo(t)))
                    }
                    Err(e) => {
                        app.status = format!("error: {e}");
                        None
                    }
                };
            }
            _ => {}
        }
        return None;
    }
    if app.help {
        app.help = false;
        if matches!(k.code, KeyCode::Char('q')) {
            app.quit = true;
            return Some(Command::Quit);
        }
        return None;
    }
    match k.code {
        KeyCode::Char('q') => {
            app.quit = true;
            Some(Command::Quit)
        }
        KeyCode::Char('?') => {
            app.help = true;
            None
        }
        KeyCode::Char(' ') => {
            if app.snap.finished {
                app.status = "the run is over: g or b to go back".to_string();
                return None;
            }
            app.playing = !app.playing;
            app.status = if app.playing { "running" } else { "paused" }.to_string();
            Some(app.pace())
        }
        KeyCode::Char('+') | KeyCode::Char('=') => {
            app.speed = (app.speed + 1).min(SPEEDS.len() - 1);
            app.status = format!("speed {}", app.speed_label());
            Some(app.pace())
        }
        KeyCode::Char('-') => {
            app.speed = app.speed.saturating_sub(1);
            app.status = format!("speed {}", app.speed_label());
            Some(app.pace())
        }
        KeyCode::Char('.') => {
            app.playing = false;
            app.status = "paused: stepped one event".to_string();
            Some(Command::Sim(SimCommand::Step))
        }
        KeyCode::Char('g') => {
            app.prompt = Some(String::new());
            None
        }
        KeyCode::Char('/') => {
            app.filter_prompt = Some(app.filter.clone().unwrap_or_default());
            None
        }
        KeyCode::Char('b') => {
            let t = SimTime(app.snap.now.0.saturating_sub(BACK_STEP.0));
            app.playing = false;
            app.status = format!("back to {}", drydock_core::SimDuration(t.0));
            Some(Command::Sim(SimCommand::JumpTo(t)))
        }
        KeyCode::Char('f') => match app.selected_node() {
            Some(i) => {
                let n = &app.snap.nodes[i];
                if !n.up {
                    app.status = format!("node {} is already down", n.name);
                    return None;
                }
                app.status = format!(
                    "failed node {} (repaired after {})",
                    n.name,
                    crate::snapshot::INJECTED_REPAIR
                );
                Some(Command::Sim(SimCommand::FailNode(NodeId(i as u32))))
            }
            None => {
                app.status = "select a node first: Enter on a pool lists its nodes".to_string();
                None
            }
        },
        KeyCode::Tab => {
            app.focus = app.focus.next();
            None
        }
        KeyCode::BackTab => {
            app.focus = app.focus.next().next().next();
            None
        }
        KeyCode::Enter if app.focus == Pane::Cluster && app.listing_pools() => {
            app.drill = Some(app.pool_sel);
            app.node_sel = 0;
            None
        }
        KeyCode::Esc | KeyCode::Backspace if app.drill.is_some() => {
            app.drill = None;
            None
        }
        KeyCode::Up | KeyCode::Char('k') => {
            move_sel(app, -1);
            None
        }
        KeyCode::Down | KeyCode::Char('j') => {
            move_sel(app, 1);
            None
        }
        KeyCode::PageUp => {
            move_sel(app, -10);
            None
        }
        KeyCode::PageDown => {
            move_sel(app, 10);
            None
        }
        _ => None,
    }
}

fn step(v: usize, by: isize, len: usize) -> usize {
    let max = len.saturating_sub(1);
    v.saturating_add_signed(by).min(max)
}

fn move_sel(app: &mut App, by: isize) {
    match app.focus {
        Pane::Cluster if app.listing_pools() => {
            app.pool_sel = step(app.pool_sel, by, app.snap.pools.len());
        }
        Pane::Cluster => {
            app.node_sel = step(app.node_sel, by, app.listed_nodes().len());
        }
        Pane::Queue => app.queue_scroll = step(app.queue_scroll, by, app.snap.queue.len()),
        Pane::Jobs => app.jobs_scroll = step(app.jobs_scroll, by, app.snap.jobs.len()),
        // Up scrolls back in time.
        Pane::Events => app.log_scroll = step(app.log_scroll, -by, app.snap.log.len()),
    }
}
