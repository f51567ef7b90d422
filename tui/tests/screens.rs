//! Whole-screen snapshots of the `default` scenario at fixed virtual times and sizes.

use drydock_core::{SimDuration, SimTime};
use drydock_tui::app::{App, Message, Pane};
use drydock_tui::snapshot::Driver;
use drydock_tui::update::update;
use drydock_tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn driver(overrides: &[&str]) -> Driver {
    let overrides: Vec<_> = overrides
        .iter()
        .map(|o| drydock_scenarios::Override::parse(o).expect("valid override"))
        .collect();
    let scenario = drydock_scenarios::load_with_overrides("default", &overrides).expect("built-in");
    Driver::new(scenario, None, None).expect("builds")
}

fn at(d: &mut Driver, t: SimDuration) -> App {
    d.jump_to(SimTime(t.0)).expect("runs");
    App::new(d.snapshot())
}

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    t.draw(|f| view::draw(f, app)).expect("draws");
    t
}

fn key(app: &mut App, code: KeyCode) {
    update(app, Message::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

#[test]
fn default_at_start() {
    let app = at(&mut driver(&[]), SimDuration::ZERO);
    insta::assert_snapshot!("default_t0_80x24", render(&app, 80, 24).backend());
    insta::assert_snapshot!("default_t0_120x40", render(&app, 120, 40).backend());
}

#[test]
fn default_after_the_node_failure() {
    let app = at(&mut driver(&[]), SimDuration::from_mins(130));
    insta::assert_snapshot!("default_t2h10m_80x24", render(&app, 80, 24).backend());
    insta::assert_snapshot!("default_t2h10m_120x40", render(&app, 120, 40).backend());
}

#[test]
fn default_with_the_help_open() {
    let mut app = at(&mut driver(&[]), SimDuration::ZERO);
    key(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!("default_help_80x24", render(&app, 80, 24).backend());
}

#[test]
fn a_thousand_nodes_aggregate_per_pool_and_drill_in() {
    let mut d = driver(&[
        "cluster.pools[0].nodes=994",
        "failures.scheduled[0].node=a100-001",
    ]);
    let mut app = at(&mut d, SimDuration::from_mins(130));
    assert_eq!(app.snap.nodes.len(), 1000);
    insta::assert_snapshot!("nodes1000_pools_80x24", render(&app, 80, 24).backend());
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.focus, Pane::Cluster);
    insta::assert_snapshot!("nodes1000_a100_80x24", render(&app, 80, 24).backend());
}

#[test]
fn going_back_should_replay_an_injected_failure_identically() {
    let mut d = driver(&[]);
    d.jump_to(SimTime(SimDuration::from_mins(30).0))
        .expect("runs");
    d.fail_node(drydock_core::NodeId(4)).expect("fails l4-0");
    d.jump_to(SimTime(SimDuration::from_hours(4).0))
        .expect("runs");
    let forward = d.snapshot();
    d.jump_to(SimTime(SimDuration::from_hours(1).0))
        .expect("replays");
    d.jump_to(SimTime(SimDuration::from_hours(4).0))
        .expect("runs");
    let again = d.snapshot();
    assert_eq!(forward.nodes, again.nodes);
    assert_eq!(forward.jobs, again.jobs);
    assert_eq!(forward.queue, again.queue);
    assert!(
        again.log.iter().any(|l| l.text == "node l4-0 failed"),
        "{:?}",
        again.log
    );
}

#[test]
fn ab_view_shows_both_runs_side_by_side() {
    let mut a = driver(&[]);
    let mut b = driver(&["scheduler.policy=fgd"]);
    let t = SimTime(SimDuration::from_mins(130).0);
    a.jump_to(t).expect("runs");
    b.jump_to(t).expect("runs");
    let mut app = App::new(a.snapshot());
    app.snap_b = Some(Box::new(b.snapshot()));
    app.label_a = "base".to_string();
    app.label_b = "scheduler.policy=fgd".to_string();
    insta::assert_snapshot!("ab_t2h10m_120x40", render(&app, 120, 40).backend());
}

/// The event log shows only the lines matching the `/` filter, and says so in its title.
#[test]
fn events_pane_shows_only_lines_matching_the_filter() {
    let mut app = drydock_tui::app::App::new(drydock_tui::snapshot::Snapshot {
        scenario: "f".into(),
        log: vec![
            drydock_tui::snapshot::LogLine {
                at: drydock_core::SimTime(1_000_000),
                text: "node a100-1 failed".into(),
            },
            drydock_tui::snapshot::LogLine {
                at: drydock_core::SimTime(2_000_000),
                text: "job x completed".into(),
            },
        ],
        ..Default::default()
    });
    app.filter = Some("FAILED".into());
    let backend = ratatui::backend::TestBackend::new(120, 40);
    let mut terminal = ratatui::Terminal::new(backend).expect("terminal");
    terminal
        .draw(|f| drydock_tui::view::draw(f, &app))
        .expect("draw");
    let screen = format!("{:?}", terminal.backend().buffer());
    assert!(screen.contains("Events matching `FAILED`"), "{screen}");
    assert!(screen.contains("a100-1 failed"));
    assert!(!screen.contains("job x completed"));
}
