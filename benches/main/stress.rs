//! `stress/*`: whole-engine throughput on synthetic scenarios (no data needed).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use drydock_sim::Simulation;

/// The synthetic stress scenario (`benches/scenarios/stress.yaml`): 1,000 nodes, 200,000
/// single-GPU jobs arriving every 50 ms, random node failures. Measures events per second of
/// the whole engine (arrivals, scheduling cycles, completions, failures, samples); the setup
/// (loading, building the world) is not timed.
fn stress_events(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/scenarios/stress.yaml");
    let sc = drydock_scenarios::load(std::path::Path::new(path)).expect("stress scenario loads");
    // Count events once to report throughput in events.
    let mut probe = Simulation::new(&sc, None, None).expect("builds");
    probe.run(|_| {}).expect("runs");
    let events = probe.summary().events;
    let mut g = c.benchmark_group("stress");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    g.bench_function("events/1000-nodes-200k-jobs", |b| {
        b.iter_batched(
            || Simulation::new(&sc, None, None).expect("builds"),
            |mut sim| {
                sim.run(|_| {}).expect("runs");
                black_box(sim.summary().events)
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

criterion_group!(benches, stress_events);
