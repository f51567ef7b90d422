//! Differential property test of inference services against the real control plane (issue 5),
//! the sibling of `real_differential.rs` for services: proptest generates small scenarios of
//! one autoscaled service (1–3 initial replicas of 1–2 GPUs on 2 nodes of 8 GPUs, a traffic
//! step up then down, an HPA on requests per second per pod), and each runs in the simulator
//! and, through the driver, on the live cluster (`$DRYDOCK_TEST_KUBECONFIG`, or the local
//! control plane, started if needed: see `drydock_real_cluster::testing`). Run with
//! `cargo test --release -p drydock-real-cluster --test real_services_differential`.
//!
//! ## What is checked
//! On the real cluster, through the API only ([`ApiMonitor`]): the Deployment's
//! `spec.replicas` within `[minReplicas, maxReplicas]` at every state the API server reported,
//! and its pods bound at most once, without over-committing a node's GPUs. Between the two
//! runs: at each HPA sync of the real run, the replica count it left agrees with the
//! simulator's at that scenario time within one replica.
//!
//! ## Timing discipline
//! The real run follows the wall clock at 60× (`SCALE`), as in `real_differential.rs`: an HPA
//! sync runs at the first driver tick at or after its time (a few seconds of scenario time
//! late), on metrics scraped at ticks, and a replica joins the load balancer when the watch
//! shows it Ready. The generators keep that slack harmless: the rate per replica is either
//! well above or well below the target, and the scale-down stabilization window (70 s) is not a
//! multiple of the sync period (15 s), so an old recommendation leaves the window 5 s before a
//! sync rather than at one. (With a 60 s window the simulator drops the recommendation made
//! 60 s before exactly at a sync, while the real run, a second late, keeps it or not depending
//! on its jitter: a generated case found this, 4 replicas against 2 for one sync.) Likewise the
//! cold start is 31 s (10 s image pull, 21 s model load): a replica added at a sync is Ready in
//! the simulator 1 s after the next 15 s grid point, and on the cluster later in the same
//! scrape window, as the Deployment and ReplicaSet controllers, the bind and the watch add a
//! few seconds of scenario time (tenths of a wall second at 60×). (With 30 s the simulator's new
//! replicas were Ready exactly at a scrape and the real run's after it, and the scale-up that
//! followed came one sync later: 3 replicas against 5; with 37 s the real run's lag sometimes
//! carried them past the next grid point.) A saturated replica serves about 20 req/s (4 at a
//! time, 200 ms each), ± 1.5 from run to run; the target is 9 req/s, so that the HPA's
//! `ceil(k × 20 / target)` for k saturated replicas is not near a whole number (with a target
//! of 10, 19.5 against 20.1 req/s made 2 replicas against 3), and from three replicas on it is
//! above any generated maximum. The comparison allows one replica. Cases are few (2, or
//! `$DRYDOCK_REAL_CASES`; each takes about 15 s of wall time) and not shrunk.

use std::time::Duration;

use drydock_real_cluster::clock::TimeScale;
use drydock_real_cluster::names::new_run_id;
use drydock_real_cluster::session::{self, RealOptions};
use drydock_real_cluster::testing::monitor::ApiMonitor;
use drydock_sim::engine::fleet::ScaleDecision;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const SERVER: &str = "test cluster";
/// Time scale of the real runs.
const SCALE: f64 = 60.0;

#[derive(Debug, Clone)]
struct Case {
    replicas: u32,
    gpus: u32,
    min: u32,
    max: u32,
    base_rate: u32,
    high_rate: u32,
    up_at_min: u32,
    hold_min: u32,
    seed: u64,
}

impl Case {
    fn yaml(&self) -> String {
        let down = self.up_at_min + self.hold_min;
        format!(
            "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {{name: svcprop}}\nspec:\n  seed: {seed}\n  duration: 12m\n  cluster:\n    pools:\n      - {{name: a, nodes: 2, gpuModel: A100, gpusPerNode: 8, cpu: \"96\", memory: 512Gi}}\n  services:\n    - name: web\n      replicas: {replicas}\n      gpusPerReplica: {gpus}\n      cpu: \"2\"\n      memory: 4Gi\n      startup: {{imagePull: {{kind: fixed, value: 10s}}, modelLoad: {{kind: fixed, value: 21s}}}}\n      generic: {{serviceTime: {{kind: exponential, mean: 200ms}}, concurrency: 4}}\n      queue: {{capacity: 64, timeout: 10s}}\n      traffic:\n        steps: [{{at: 0s, rate: {base}}}, {{at: {up}m, rate: {high}}}, {{at: {down}m, rate: {base}}}]\n      autoscaling:\n        minReplicas: {min}\n        maxReplicas: {max}\n        metrics: [{{type: requests-per-second, averageValue: 9}}]\n        behavior: {{scaleDown: {{stabilizationWindow: 70s}}}}\n",
            seed = self.seed,
            replicas = self.replicas,
            gpus = self.gpus,
            base = self.base_rate,
            high = self.high_rate,
            up = self.up_at_min,
            min = self.min,
            max = self.max,
        )
    }
}

fn case_gen() -> impl Strategy<Value = Case> {
    (
        1u32..=2,
        1u32..=2,
        2u32..=3,
        1u32..=2,
        2u32..=3,
        any::<u64>(),
    )
        .prop_flat_map(|(min, gpus, hold_min, base, up_at_min, seed)| {
            // At most 8 replicas' worth of GPUs on the 16 of the cluster.
            let top = (16 / gpus).min(6);
            (
                Just((min, gpus, hold_min, base, up_at_min, seed)),
                (min + 1)..=top,
            )
        })
        .prop_flat_map(|((min, gpus, hold_min, base, up_at_min, seed), max)| {
            (
                Just((min, gpus, hold_min, base, up_at_min, seed, max)),
                min..=max.min(3),
                // Above the target of 9 req/s per replica even at max replicas.
                (max * 10 + 10)..=(max * 20),
            )
        })
        .prop_map(
            |((min, gpus, hold_min, base, up_at_min, seed, max), replicas, high)| Case {
                replicas,
                gpus,
                min,
                max,
                base_rate: base * 3,
                high_rate: high,
                up_at_min,
                hold_min,
                seed,
            },
        )
}

/// `spec.replicas` at scenario time `t` (seconds) from the decisions, starting at `initial`.
fn desired_at(decisions: &[ScaleDecision], initial: u32, t: f64) -> u32 {
    decisions
        .iter()
        .rfind(|d| d.actor == "hpa" && d.time_s <= t)
        .map_or(initial, |d| d.to)
}

fn check_case(case: &Case) -> Result<(), TestCaseError> {
    let yaml = case.yaml();
    let s = drydock_scenarios::load_str(&yaml, "svcprop.yaml")
        .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
    let mut sim = drydock_sim::Simulation::new(&s, None, None)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    sim.run(|_| {})
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let want = sim.summary();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (report, seen) = rt.block_on(async {
        let client = drydock_real_cluster::testing::test_client()
            .await
            .map_err(|e| TestCaseError::fail(format!("a test cluster: {e}")))?;
        let run = new_run_id();
        let ns = format!("drydock-{run}");
        let watch = ApiMonitor::start(client.clone(), &ns, &run);
        let mut opts = RealOptions::new(
            TimeScale::new(SCALE).map_err(|e| TestCaseError::fail(e.to_string()))?,
        );
        opts.run = Some(run.clone());
        opts.namespace = Some(ns.clone());
        let report = tokio::time::timeout(
            Duration::from_secs(240),
            session::run(client.clone(), SERVER, &s, &opts, std::future::pending()),
        )
        .await
        .map_err(|_| TestCaseError::fail("the run took more than 4 min"))?
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
        Ok::<_, TestCaseError>((report, watch.stop()))
    })?;
    let context = format!(
        "{yaml}\nsim decisions: {:?}\nreal decisions: {:?}\nreal syncs: {:?}",
        want.autoscaling.decisions,
        report.summary.autoscaling.decisions,
        report.observations.hpa_syncs
    );
    let dep = seen
        .deployments
        .get("svc0-web")
        .ok_or_else(|| TestCaseError::fail(format!("no Deployment seen\n{context}")))?;
    let (lo, hi) = (case.min as i32, case.max as i32);
    prop_assert!(
        dep.spec_replicas.iter().all(|r| (lo..=hi).contains(r)),
        "replicas out of [{lo}, {hi}]: {dep:?}\n{context}"
    );
    prop_assert!(seen.bound_twice().is_empty(), "{:?}", seen.bound_twice());
    prop_assert!(seen.overcommits.is_empty(), "{:?}", seen.overcommits);
    prop_assert!(
        !report.observations.hpa_syncs.is_empty(),
        "no HPA sync ran\n{context}"
    );
    for (_, sync) in &report.observations.hpa_syncs {
        let sim_r = desired_at(&want.autoscaling.decisions, case.replicas, sync.time_s);
        prop_assert!(
            sync.to.abs_diff(sim_r) <= 1,
            "at {} s: real {} replicas, simulator {sim_r}\n{context}",
            sync.time_s,
            sync.to
        );
    }
    prop_assert!(
        report.cleanup_errors.is_empty(),
        "{:?}",
        report.cleanup_errors
    );
    Ok(())
}

fn cases() -> u32 {
    std::env::var("DRYDOCK_REAL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 0,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/real_services_differential.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn real_service_replicas_agree_with_the_simulator_at_each_hpa_sync(case in case_gen()) {
        check_case(&case)?;
    }
}
