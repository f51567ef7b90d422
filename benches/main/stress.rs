//! `stress/*`: whole-engine throughput on synthetic scenarios (no data needed).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use drydock_sim::Simulation;

/// Whole-engine throughput on the two synthetic stress scenarios in `benches/scenarios/`:
/// * `stress/events/32-nodes-1m-jobs` (`stress-events.yaml`): 32 nodes, 1,000,000 single-GPU
///   jobs of 30 s arriving every 120 ms, random node failures: event-loop bound. Reported in
///   events per second.
/// * `stress/events/1000-nodes-200k-jobs` (`stress.yaml`): 1,000 nodes, 200,000 single-GPU
///   jobs of 5 min every 50 ms: scheduling bound (every pod filters hundreds of nodes).
///
/// Setup (loading, building the world) is not timed.
fn stress_events(c: &mut Criterion) {
    let mut g = c.benchmark_group("stress/events");
    g.sample_size(10);
    for (id, file) in [
        ("32-nodes-1m-jobs", "stress-events.yaml"),
        ("1000-nodes-200k-jobs", "stress.yaml"),
    ] {
        let path = format!("{}/benches/scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
        let sc =
            drydock_scenarios::load(std::path::Path::new(&path)).expect("stress scenario loads");
        // Count events once to report throughput in events.
        let mut probe = Simulation::new(&sc, None, None).expect("builds");
        probe.run(|_| {}).expect("runs");
        g.throughput(Throughput::Elements(probe.summary().events));
        g.bench_function(id, |b| {
            b.iter_batched(
                || Simulation::new(&sc, None, None).expect("builds"),
                |mut sim| {
                    sim.run(|_| {}).expect("runs");
                    black_box(sim.summary().events)
                },
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, stress_events);
