//! `tui_render/*`: the terminal UI's cost per frame on a 1,000-node cluster (the `default`
//! scenario with its A100 pool grown to 994 nodes, at 2 h 10 min, after its node failure).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group};
use drydock_core::{SimDuration, SimTime};
use drydock_tui::app::App;
use drydock_tui::snapshot::Driver;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn driver() -> Driver {
    let overrides: Vec<_> = [
        "cluster.pools[0].nodes=994",
        "failures.scheduled[0].node=a100-001",
    ]
    .iter()
    .map(|o| drydock_scenarios::Override::parse(o).expect("valid override"))
    .collect();
    let scenario = drydock_scenarios::load_with_overrides("default", &overrides).expect("built-in");
    let mut d = Driver::new(scenario, None, None).expect("builds");
    d.jump_to(SimTime(SimDuration::from_mins(130).0))
        .expect("runs");
    d
}

/// Drawing one whole frame into an in-memory backend (what a 30 frames-per-second redraw
/// costs), at 80×24 and 200×60, with the pool list and drilled into the 994-node pool; and
/// building the snapshot the simulation thread sends to the UI.
fn render(c: &mut Criterion) {
    let d = driver();
    let mut g = c.benchmark_group("tui_render");
    for (w, h) in [(80u16, 24u16), (200, 60)] {
        for drilled in [false, true] {
            let mut app = App::new(d.snapshot());
            app.drill = drilled.then_some(0);
            let id = format!("{}-{w}x{h}", if drilled { "pool" } else { "pools" });
            let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("backend");
            g.bench_function(BenchmarkId::new("frame/1000-nodes", id), |b| {
                b.iter(|| {
                    terminal
                        .draw(|f| drydock_tui::view::draw(f, black_box(&app)))
                        .expect("draws");
                });
            });
        }
    }
    g.bench_function("snapshot/1000-nodes", |b| {
        b.iter(|| black_box(d.snapshot()))
    });
    g.finish();
}

criterion_group!(benches, render);
