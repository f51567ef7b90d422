//! A small scenario whose job completion times are computed by hand.
//!
//! Nodes gpu-0 and gpu-1 (8 GPUs each); binpack with name tie-break; 1 s cycles.
//! * t=0: `a` (1×8 GPUs, 3 h of work, checkpoint every 1 h costing 1 min, restart overhead
//!   5 min) binds to gpu-0 (equal scores, smallest name); `b` (1×8, 1 h) to gpu-1.
//! * t=10m: `c` (2×8, 1 h) arrives; no room.
//! * t=1h: `b` completes (JCT 3600 s). `c` still cannot fit (gpu-0 busy).
//! * t=1h30m = 5400 s: gpu-0 crashes. `a` ran 60 min of work, a 1 min checkpoint, then 29 min
//!   of work: 60 min are saved, 29 min × 8 GPUs are lost.
//! * NotReady at the first 5 s monitor tick after 5400 + 50 = 5450 s; pods evicted 300 s later,
//!   at 5750 s. `a` held 8 GPUs idle for 350 s, then restarts (first restart: no backoff).
//! * t=5750: queue order is `c` (queued at 600 s) then `a`: `c` cannot fit (gpu-0 tainted);
//!   `a` binds to gpu-1. It has 120 min of work left: 120 min + one checkpoint = 121 min, after
//!   5 min of restart overhead: it completes at 5750 + 300 + 7260 = 13310 s.
//! * t=3h30m = 12600 s: gpu-0 repaired; `c` still cannot fit (gpu-1 busy).
//! * t=13310: `c` binds to both nodes and completes at 16910 s (JCT 16910 − 600 = 16310 s).

use drydock_sim::Simulation;

fn run() -> (drydock_sim::Summary, Vec<drydock_sim::JobRow>) {
    let sc = drydock_scenarios::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/golden.yaml"
    )))
    .expect("golden scenario loads");
    let mut sim = Simulation::new(&sc, None, None).expect("builds");
    sim.run(|_| {}).expect("runs");
    (sim.summary(), sim.jobs())
}

#[test]
fn golden_job_completion_times_match_hand_computation() {
    let (s, jobs) = run();
    let end = |name: &str| jobs.iter().find(|j| j.name == name).and_then(|j| j.end_s);
    let start = |name: &str| jobs.iter().find(|j| j.name == name).and_then(|j| j.start_s);
    assert_eq!(end("b"), Some(3600.0));
    assert_eq!(end("a"), Some(13310.0));
    assert_eq!(end("c"), Some(16910.0));
    assert_eq!(start("c"), Some(13310.0));
    assert_eq!(s.jobs.completed, 3);
    assert_eq!(s.jobs.failed, 0);
    assert_eq!(s.failures.node_failures, 1);
    assert_eq!(s.failures.restarts, 1);
    assert_eq!(s.virtual_time_s, 16910.0);
    // JCTs 3600, 13310, 16310 s: nearest-rank p50 is the second.
    assert_eq!(s.jct.p50, 13310.0);
    assert_eq!(s.jct.max, 16310.0);
    // Queueing delay of c: 13310 − 600.
    assert_eq!(s.queueing_delay.max, 12710.0);
}

#[test]
fn golden_failure_cost_matches_hand_computation() {
    let (s, _) = run();
    let f = &s.failures;
    // 29 min × 8 GPUs of lost work.
    assert!(
        (f.lost_work_gpu_hours - 29.0 * 8.0 / 60.0).abs() < 1e-9,
        "{}",
        f.lost_work_gpu_hours
    );
    // 350 s × 8 GPUs held while stalled.
    assert!(
        (f.idle_held_gpu_hours - 350.0 * 8.0 / 3600.0).abs() < 1e-9,
        "{}",
        f.idle_held_gpu_hours
    );
    // 5 min × 8 GPUs of restart overhead.
    assert!((f.restart_overhead_gpu_hours - 300.0 * 8.0 / 3600.0).abs() < 1e-9);
    // Cost: 2 nodes × 16910 s × $10/node-hour.
    assert!(
        (s.cost.total - 2.0 * 16910.0 / 3600.0 * 10.0).abs() < 1e-6,
        "{}",
        s.cost.total
    );
}

/// One node; `low` (8 GPUs, 2 h of work, checkpoint every 30 min costing 1 min, restart
/// overhead 5 min) starts at 0. `high` (priority 1000, 8 GPUs, 1 h) arrives at 45 min = 2700 s:
/// * `low` ran 30 min + 1 min checkpoint + 14 min: 30 min saved, 14 min × 8 GPUs lost.
/// * `low` is evicted with a 30 s grace period: its pods are gone at 2730 s, when `high`
///   binds (it is first in the queue, and the node is nominated for it) and runs to 6330 s.
/// * `low` binds at 6330 s, pays its 5 min restart overhead, then has 90 min of work and two
///   checkpoints left: 6330 + 300 + 5520 = 12150 s.
#[test]
fn golden_preemption_matches_hand_computation() {
    let sc = drydock_scenarios::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/preemption.yaml"
    )))
    .expect("loads");
    let mut sim = Simulation::new(&sc, None, None).expect("builds");
    sim.run(|_| {}).expect("runs");
    let jobs = sim.jobs();
    let row = |n: &str| jobs.iter().find(|j| j.name == n).cloned().expect("job");
    assert_eq!(row("high").start_s, Some(2730.0));
    assert_eq!(row("high").end_s, Some(6330.0));
    assert_eq!(row("low").end_s, Some(12150.0));
    assert_eq!(row("low").preemptions, 1);
    assert_eq!(row("low").restarts, 0);
    let s = sim.summary();
    assert_eq!(s.failures.preemptions, 1);
    assert!((s.failures.preemption_lost_gpu_hours - 14.0 * 8.0 / 60.0).abs() < 1e-9);
    // The 5 min restart overhead after the preemption is booked to preemption, not failures.
    assert!((s.failures.preemption_restart_overhead_gpu_hours - 300.0 * 8.0 / 3600.0).abs() < 1e-9);
    assert_eq!(s.failures.restart_overhead_gpu_hours, 0.0);
    assert_eq!(s.failures.gpu_hours_lost, 0.0);
    // Queueing delay of `high`: 2730 − 2700 = 30 s (the victim's grace period).
    assert_eq!(s.queueing_delay.p50, 0.0);
    assert_eq!(s.queueing_delay.max, 30.0);
}
