//! `openb/*`, `philly/*` and `llm_spike/*`: full runs on the real traces. Needs the data directory
//! (`DRYDOCK_DATA_DIR`, or `../shared/data` beside the repository); skipped when absent.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BatchSize, Criterion, criterion_group};
use drydock_core::PolicyKind;
use drydock_sim::Simulation;

fn data_dir() -> Option<PathBuf> {
    let d = std::env::var_os("DRYDOCK_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")));
    d.join("alibaba-openb").is_dir().then_some(d)
}

/// One full run of the openb default pod list (8,152 pods inflated to 130 % of GPU capacity,
/// arrivals only, one attempt each) on the 1,213-node openb GPU cluster, for each of the six
/// FGD-study policies. Setup (reading the CSVs, building the world) is not timed.
fn openb(c: &mut Criterion) {
    let Some(dir) = data_dir() else {
        eprintln!("openb benches skipped: no data directory (set DRYDOCK_DATA_DIR)");
        return;
    };
    let base = drydock_scenarios::load_named_or_path("openb-fgd").expect("builtin");
    let mut g = c.benchmark_group("openb");
    g.sample_size(10);
    for policy in [
        PolicyKind::Random,
        PolicyKind::DotProd,
        PolicyKind::GpuClustering,
        PolicyKind::GpuPacking,
        PolicyKind::BestFit,
        PolicyKind::Fgd,
    ] {
        let mut sc = base.clone();
        sc.scheduler.policy = policy;
        g.bench_function(format!("run/{}", policy.name()), |b| {
            b.iter_batched(
                || Simulation::new(&sc, Some(&dir), None).expect("builds"),
                |mut sim| {
                    sim.run(|_| {}).expect("runs");
                    black_box(sim.summary().gpu.allocation_mean)
                },
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

/// One full replay of the Philly trace (82,247 jobs) on 1,000 nodes of 8 GPUs with random
/// node and GPU failures (the `philly` built-in). Setup is not timed.
fn philly(c: &mut Criterion) {
    let Some(dir) = data_dir() else {
        eprintln!("philly bench skipped: no data directory (set DRYDOCK_DATA_DIR)");
        return;
    };
    let sc = drydock_scenarios::load_named_or_path("philly").expect("builtin");
    let mut g = c.benchmark_group("philly");
    g.sample_size(10);
    g.bench_function("run/1000-nodes", |b| {
        b.iter_batched(
            || Simulation::new(&sc, Some(&dir), None).expect("builds"),
            |mut sim| {
                sim.run(|_| {}).expect("runs");
                black_box(sim.summary().jobs.completed)
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

/// One full 24-hour run of `llm-spike`: the Azure LLM conversation trace replayed in a loop
/// (about 530,000 requests) with a 5x spike, an LLM service with an HPA, and an autoscaled A100
/// pool. Setup (reading the trace) is not timed.
fn llm_spike(c: &mut Criterion) {
    let Some(dir) = data_dir().filter(|d| d.join("azure-llm").is_dir()) else {
        eprintln!("llm-spike bench skipped: no data directory (set DRYDOCK_DATA_DIR)");
        return;
    };
    let sc = drydock_scenarios::load_named_or_path("llm-spike").expect("builtin");
    let mut g = c.benchmark_group("llm_spike");
    g.sample_size(10);
    g.bench_function("run/24h", |b| {
        b.iter_batched(
            || Simulation::new(&sc, Some(&dir), None).expect("builds"),
            |mut sim| {
                sim.run(|_| {}).expect("runs");
                black_box(sim.summary().services.len())
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

criterion_group!(benches, openb, philly, llm_spike);
