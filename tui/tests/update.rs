//! `update` tests: one per key, without rendering.

use drydock_core::{NodeId, SimTime};
use drydock_sim::model::Phase;
use drydock_tui::app::{App, Command, DEFAULT_SPEED, Message, Pane, SPEEDS, SimCommand};
use drydock_tui::snapshot::{GpuCell, NodeView, PoolView, Snapshot};
use drydock_tui::update::update;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn node(i: usize, pool: usize, up: bool) -> NodeView {
    NodeView {
        id: NodeId(i as u32),
        name: format!("n-{i}"),
        pool,
        gpus: vec![GpuCell::Free; 4],
        pods: 0,
        up,
        not_ready: false,
    }
}

/// A snapshot with `pools` pools of `per_pool` nodes each, at t = 3h of 12h.
fn snap(pools: usize, per_pool: usize) -> Snapshot {
    let mut s = Snapshot {
        scenario: "test".to_string(),
        now: SimTime(3 * 3_600_000_000),
        end: SimTime(12 * 3_600_000_000),
        ..Snapshot::default()
    };
    for p in 0..pools {
        let mut pv = PoolView {
            name: format!("p{p}"),
            model: None,
            nodes: Vec::new(),
        };
        for _ in 0..per_pool {
            pv.nodes.push(s.nodes.len());
            s.nodes.push(node(s.nodes.len(), p, true));
        }
        s.pools.push(pv);
    }
    s
}

fn key(app: &mut App, code: KeyCode) -> Option<Command> {
    update(app, Message::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(app: &mut App, c: char) -> Option<Command> {
    key(app, KeyCode::Char(c))
}

#[test]
fn space_should_toggle_play_and_tell_the_sim() {
    let mut app = App::new(snap(1, 2));
    assert!(!app.playing);
    let cmd = ch(&mut app, ' ');
    assert!(app.playing);
    assert_eq!(
        cmd,
        Some(Command::Sim(SimCommand::Pace {
            playing: true,
            speed: DEFAULT_SPEED
        }))
    );
    ch(&mut app, ' ');
    assert!(!app.playing);
}

#[test]
fn space_should_not_play_a_finished_run() {
    let mut s = snap(1, 2);
    s.finished = true;
    let mut app = App::new(s);
    assert_eq!(ch(&mut app, ' '), None);
    assert!(!app.playing);
}

#[test]
fn plus_and_minus_should_change_speed_within_bounds() {
    let mut app = App::new(snap(1, 2));
    for _ in 0..10 {
        ch(&mut app, '+');
    }
    assert_eq!(app.speed, SPEEDS.len() - 1);
    assert_eq!(app.speed_label(), "max");
    for _ in 0..10 {
        ch(&mut app, '-');
    }
    assert_eq!(app.speed, 0);
    assert_eq!(app.speed_label(), "1x");
    let cmd = ch(&mut app, '+');
    assert_eq!(
        cmd,
        Some(Command::Sim(SimCommand::Pace {
            playing: false,
            speed: 1
        }))
    );
}

#[test]
fn dot_should_step_one_event_and_pause() {
    let mut app = App::new(snap(1, 2));
    ch(&mut app, ' ');
    assert_eq!(ch(&mut app, '.'), Some(Command::Sim(SimCommand::Step)));
    assert!(!app.playing);
}

#[test]
fn g_should_prompt_and_jump_to_the_typed_time() {
    let mut app = App::new(snap(1, 2));
    assert_eq!(ch(&mut app, 'g'), None);
    assert_eq!(app.prompt.as_deref(), Some(""));
    for c in "2h3".chars() {
        ch(&mut app, c);
    }
    key(&mut app, KeyCode::Backspace);
    ch(&mut app, '1');
    ch(&mut app, '0');
    ch(&mut app, 'm');
    // Keys go to the prompt, not to the commands: `q` above would not quit.
    let cmd = key(&mut app, KeyCode::Enter);
    assert_eq!(
        cmd,
        Some(Command::Sim(SimCommand::JumpTo(SimTime(
            130 * 60 * 1_000_000
        ))))
    );
    assert_eq!(app.prompt, None);
}

#[test]
fn g_should_report_a_bad_time_and_escape_should_cancel() {
    let mut app = App::new(snap(1, 2));
    ch(&mut app, 'g');
    ch(&mut app, 'x');
    assert_eq!(key(&mut app, KeyCode::Enter), None);
    assert!(app.status.starts_with("error:"), "{}", app.status);
    ch(&mut app, 'g');
    ch(&mut app, 'q');
    assert_eq!(key(&mut app, KeyCode::Esc), None);
    assert_eq!(app.prompt, None);
    assert!(!app.quit);
}

#[test]
fn g_should_clamp_to_the_end_of_the_run() {
    let mut app = App::new(snap(1, 2));
    ch(&mut app, 'g');
    for c in "100h".chars() {
        ch(&mut app, c);
    }
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        Some(Command::Sim(SimCommand::JumpTo(app.snap.end)))
    );
}

#[test]
fn b_should_go_back_thirty_minutes() {
    let mut app = App::new(snap(1, 2));
    assert_eq!(
        ch(&mut app, 'b'),
        Some(Command::Sim(SimCommand::JumpTo(SimTime(
            150 * 60 * 1_000_000
        ))))
    );
}

#[test]
fn f_should_fail_the_selected_node() {
    let mut app = App::new(snap(2, 2));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(
        ch(&mut app, 'f'),
        Some(Command::Sim(SimCommand::FailNode(NodeId(2))))
    );
}

#[test]
fn f_should_not_fail_a_node_that_is_down() {
    let mut s = snap(1, 2);
    s.nodes[0].up = false;
    let mut app = App::new(s);
    assert_eq!(ch(&mut app, 'f'), None);
    assert!(app.status.contains("already down"));
}

#[test]
fn large_clusters_should_list_pools_and_enter_should_drill_in() {
    let mut app = App::new(snap(3, 400));
    assert!(app.listing_pools());
    assert_eq!(
        ch(&mut app, 'f'),
        None,
        "no node is selected in the pool list"
    );
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.pool_sel, 2);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.drill, Some(2));
    key(&mut app, KeyCode::PageDown);
    assert_eq!(app.selected_node(), Some(810));
    assert_eq!(
        ch(&mut app, 'f'),
        Some(Command::Sim(SimCommand::FailNode(NodeId(810))))
    );
    key(&mut app, KeyCode::Esc);
    assert!(app.listing_pools());
}

#[test]
fn tab_should_cycle_the_panes() {
    let mut app = App::new(snap(1, 2));
    let mut seen = vec![app.focus];
    for _ in 0..4 {
        key(&mut app, KeyCode::Tab);
        seen.push(app.focus);
    }
    assert_eq!(
        seen,
        [
            Pane::Cluster,
            Pane::Queue,
            Pane::Jobs,
            Pane::Events,
            Pane::Cluster
        ]
    );
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Pane::Events);
}

#[test]
fn arrows_should_scroll_the_focused_pane() {
    let mut s = snap(1, 2);
    for i in 0..5 {
        s.jobs.push(drydock_tui::snapshot::JobView {
            name: format!("j{i}"),
            phase: Phase::Running,
            progress: 0,
            restarts: 0,
            preemptions: 0,
            workers: 1,
        });
    }
    let mut app = App::new(s);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    for _ in 0..9 {
        key(&mut app, KeyCode::Down);
    }
    assert_eq!(app.jobs_scroll, 4);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.jobs_scroll, 3);
}

#[test]
fn question_mark_should_open_help_and_any_key_close_it() {
    let mut app = App::new(snap(1, 2));
    ch(&mut app, '?');
    assert!(app.help);
    assert_eq!(ch(&mut app, ' '), None, "the key only closes the help");
    assert!(!app.help);
    assert!(!app.playing);
}

#[test]
fn q_and_ctrl_c_should_quit() {
    let mut app = App::new(snap(1, 2));
    assert_eq!(ch(&mut app, 'q'), Some(Command::Quit));
    let mut app = App::new(snap(1, 2));
    ch(&mut app, 'g');
    let cmd = update(
        &mut app,
        Message::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert_eq!(
        cmd,
        Some(Command::Quit),
        "Ctrl-C quits even from the prompt"
    );
}

#[test]
fn a_finished_snapshot_should_pause() {
    let mut app = App::new(snap(1, 2));
    ch(&mut app, ' ');
    let mut s = snap(1, 2);
    s.finished = true;
    update(&mut app, Message::Snapshot(Box::new(s)));
    assert!(!app.playing);
    assert!(app.status.contains("over"));
}

#[test]
fn a_compared_snapshot_should_be_kept_beside_the_main_one() {
    let mut app = App::new(snap(1, 2));
    assert!(app.snap_b.is_none());
    update(&mut app, Message::SnapshotB(Box::new(snap(1, 3))));
    assert_eq!(app.snap_b.as_ref().map(|s| s.nodes.len()), Some(3));
    assert_eq!(app.snap.nodes.len(), 2);
}

#[test]
fn slash_should_filter_the_event_log_and_an_empty_filter_should_clear_it() {
    let mut app = App::new(snap(1, 2));
    assert_eq!(ch(&mut app, '/'), None);
    assert_eq!(app.filter_prompt.as_deref(), Some(""));
    // Typing goes to the prompt, not to the key bindings ('q' must not quit).
    for c in "a100-1 q".chars() {
        ch(&mut app, c);
    }
    assert!(!app.quit);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.filter.as_deref(), Some("a100-1"));
    assert!(app.filter_prompt.is_none());
    // `/` reopens the prompt with the filter in force; Esc keeps it.
    ch(&mut app, '/');
    assert_eq!(app.filter_prompt.as_deref(), Some("a100-1"));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.filter.as_deref(), Some("a100-1"));
    // An empty filter clears it.
    ch(&mut app, '/');
    for _ in 0..6 {
        key(&mut app, KeyCode::Backspace);
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.filter, None);
}

#[test]
fn a_click_should_focus_the_pane_and_select_the_node_on_that_row() {
    let mut app = App::new(snap(2, 4));
    app.size = (120, 40);
    // Body: rows 1..39; left half: columns 0..60; cluster pane: the top 55 % of the body, its
    // border on row 1, node rows from row 2.
    update(&mut app, Message::Click(10, 5));
    assert_eq!(app.focus, Pane::Cluster);
    assert_eq!(app.node_sel, 3);
    assert_eq!(app.selected_node(), Some(3));
    // A click on the border row selects nothing new.
    update(&mut app, Message::Click(10, 1));
    assert_eq!(app.node_sel, 3);
    // The right half, lower part: the events pane.
    update(&mut app, Message::Click(100, 35));
    assert_eq!(app.focus, Pane::Events);
    // Below the last node nothing changes.
    update(&mut app, Message::Click(10, 15));
    assert_eq!(app.node_sel, 3);
    // Clicks are ignored while the help is open.
    app.help = true;
    update(&mut app, Message::Click(10, 2));
    assert_eq!(app.node_sel, 3);
}
