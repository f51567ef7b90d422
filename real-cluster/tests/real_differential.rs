//! Differential property test against the real control plane (issue 5): proptest generates
//! small training scenarios (1–2 pools, at most 8 nodes of 1–8 GPUs, 1–6 gang jobs, perhaps one
//! node failure), and each runs in the simulator and, through the driver, on the live cluster
//! (`$DRYDOCK_TEST_KUBECONFIG`, or the local control plane, started if needed: see
//! `drydock_real_cluster::testing`). Run with
//! `cargo test --release -p drydock-real-cluster --test real_differential`.
//!
//! ## What is checked
//! On the real cluster, through the API only ([`ApiMonitor`] watches the run's pods and
//! nodes): no node's `nvidia.com/gpu` over-committed at any state the API server reported;
//! each pod bound at most once; each gang bound all or nothing (every gang ends with all or
//! none of its pods ever bound, and none is seen partly bound for longer than the few
//! concurrent bind requests take); the live pods of a failed node evicted and their jobs
//! given a new attempt. Between the two runs: the same jobs complete, fail and stay pending,
//! and the same pods are bound per pool (for each pool, the multiset of (job, worker) binds,
//! one per attempt, so restarts and preemptions count).
//!
//! ## Why the generators are shaped so (timing, not rules)
//! The real run follows the wall clock at 60× (`SCALE`): the driver notices an arrival, a
//! completion or a victim's termination a few tens of milliseconds after its scenario time,
//! which is seconds of scenario time. Two events closer than that may happen in the other order
//! on the cluster, and then the outcome may differ without any rule differing. So:
//! * Kubernetes counts `terminationGracePeriodSeconds` and `tolerationSeconds` in whole wall
//!   seconds: the scenarios use 60 s (one wall second at 60×), so rounding separates nothing.
//! * The controller-manager detects a dead node on the wall clock (its
//!   `--node-monitor-grace-period`, 10 s in CI, 50 s upstream, plus its monitor period, its
//!   eviction rate limit and load), whatever the time scale. The simulator gets the same delay
//!   as `nodeMonitorGracePeriod`, as a user of `drydock real` would set it: measured once on
//!   the cluster, in the background ([`detection_delay`]), to screen cases, then in each run
//!   (from the failure's scenario time to the `unreachable` taint the monitor saw) for the
//!   comparison.
//! * Ties between equal scores go to the node name. A random tie-break draws from the
//!   scheduler's stream at each attempt, and the driver makes as many attempts as wall-clock
//!   cycles pass, so its draws cannot follow the simulator's.
//! * Arrivals fall on distinct whole minutes; failures half a minute off them.
//! * Before a case goes to the cluster, the simulator runs it again with every event moved
//!   by up to the timing slack (`SLACK_WALL` of wall time: arrivals and completions later,
//!   victims terminating later, the failure detected earlier or later). A case whose outcome
//!   changes under such a shift hinges on a near-tie the cluster cannot reproduce: it is
//!   discarded (`prop_assume!`), not compared; so is, after its run, a case that is such a
//!   near-tie at the detection delay measured in the run. A case that is compared must agree
//!   exactly.
//! * Cases run one at a time (parallel runs would share two cores and the controller-manager's
//!   eviction rate limit of one node per 10 s).
//!
//! Cases are few (5, or `$DRYDOCK_REAL_CASES`; each takes 10–60 s of wall time) and not shrunk (each shrinking step would
//! be another run on the cluster); a failure prints the scenario YAML and both outcomes, and
//! proptest records its seed in `proptest-regressions/real_differential.txt`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use drydock_core::rng::SplitMix64;
use drydock_core::{SimDuration, SimTime};
use drydock_real_cluster::clock::{ScaledClock, TimeScale};
use drydock_real_cluster::driver::node_ready;
use drydock_real_cluster::kubelet::{FakeKubelet, KubeletConfig};
use drydock_real_cluster::names::{new_run_id, node_object_name, run_selector};
use drydock_real_cluster::objects::FakeNodeSpec;
use drydock_real_cluster::session::{self, RealOptions, RealReport};
use drydock_real_cluster::testing::monitor::{ApiMonitor, Observed};
use drydock_scenarios::Scenario;
use drydock_sim::JobRow;
use drydock_sim::model::Phase;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::ListParams;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::FileFailurePersistence;

const SERVER: &str = "test cluster";
/// Time scale of the real runs.
const SCALE: f64 = 60.0;
/// How late (wall time) the real cluster may act on an event, at most, in a case that is
/// compared: the robustness check shifts events by up to this much.
const SLACK_WALL: Duration = Duration::from_secs(1);
/// Longest scenario time a case may take in the simulator (30 s of wall time at 60×), beside
/// a failure's detection delay.
const MAX_SCENARIO: SimDuration = SimDuration(30 * 60 * 1_000_000);
/// Longest a gang may be seen partly bound: its binds are concurrent requests.
const MAX_PARTIAL_BIND: Duration = Duration::from_secs(5);
/// Simulator runs with shifted events per case.
const SHIFTED_RUNS: usize = 12;

// ---------------------------------------------------------------------------------------------
// Generated scenarios

#[derive(Debug, Clone)]
struct PoolGen {
    nodes: u32,
    gpus: u32,
    model: &'static str,
}

#[derive(Debug, Clone)]
struct JobGen {
    workers: u32,
    gpus_per_worker: u32,
    work_min: u32,
    priority: i32,
    checkpoint: bool,
}

#[derive(Debug, Clone)]
struct Case {
    policy: &'static str,
    pools: Vec<PoolGen>,
    /// Jobs, each with its arrival minute (distinct).
    jobs: Vec<(u32, JobGen)>,
    /// (node index over all pools, minute): the node dies at that minute and a half.
    failure: Option<(u32, u32)>,
}

impl Case {
    fn node_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (p, pool) in self.pools.iter().enumerate() {
            for i in 0..pool.nodes {
                out.push(format!("{}-{i}", pool_name(p)));
            }
        }
        out
    }

    /// The scenario as YAML, as the real cluster runs it.
    fn yaml(&self) -> String {
        let mut y = String::from(
            "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {name: prop}\nspec:\n  seed: 7\n  cluster:\n    pools:\n",
        );
        for (p, pool) in self.pools.iter().enumerate() {
            let _ = writeln!(
                y,
                "      - {{name: {}, nodes: {}, gpuModel: {}, gpusPerNode: {}, cpu: \"64\", memory: 256Gi}}",
                pool_name(p),
                pool.nodes,
                pool.model,
                pool.gpus
            );
        }
        let _ = writeln!(
            y,
            "  scheduler: {{policy: {}, tieBreak: node-name, percentageOfNodesToScore: 100, terminationGracePeriod: 60s}}",
            self.policy
        );
        y.push_str(
            "  nodeLifecycle: {nodeMonitorGracePeriod: 60s, nodeMonitorPeriod: 1s, tolerationSeconds: 60s}\n  training:\n",
        );
        for (i, (arrival, j)) in self.jobs.iter().enumerate() {
            let ckpt = if j.checkpoint {
                ", checkpointInterval: 2m"
            } else {
                ""
            };
            let _ = writeln!(
                y,
                "    - {{name: j{i}, arrival: {arrival}m, workers: {}, gpusPerWorker: {}, cpu: \"1\", memory: 1Gi, work: {}m, priority: {}{ckpt}}}",
                j.workers, j.gpus_per_worker, j.work_min, j.priority
            );
        }
        if let Some((node, minute)) = self.failure {
            let names = self.node_names();
            let _ = writeln!(
                y,
                "  failures:\n    scheduled:\n      - {{at: {}s, node: {}}}",
                minute * 60 + 30,
                names[node as usize]
            );
        }
        y
    }
}

fn pool_name(p: usize) -> &'static str {
    ["a", "b"][p]
}

fn pool_gen() -> impl Strategy<Value = PoolGen> {
    (
        1u32..=4,
        select(vec![1u32, 2, 4, 8]),
        select(vec!["A100", "L4"]),
    )
        .prop_map(|(nodes, gpus, model)| PoolGen { nodes, gpus, model })
}

fn job_gen(max_gpus: u32) -> impl Strategy<Value = JobGen> {
    (
        1u32..=3,
        1u32..=max_gpus,
        2u32..=8,
        prop_oneof![4 => Just(0), 1 => Just(10), 1 => Just(100)],
        any::<bool>(),
    )
        .prop_map(
            |(workers, gpus_per_worker, work_min, priority, checkpoint)| JobGen {
                workers,
                gpus_per_worker,
                work_min,
                priority,
                checkpoint,
            },
        )
}

/// 1–2 pools of 1–4 nodes (so at most 8) with 1, 2, 4 or 8 GPUs; 1–6 jobs of 1–3 workers with
/// up to the largest node's GPUs each, arriving on distinct minutes of the first 12, working
/// 2–8 minutes at priority 0 (mostly), 10 or 100; a node failure in 40% of the clusters of two
/// nodes or more (never on a lone node: the controller-manager stops evicting when no node of
/// a zone is Ready).
fn case_gen() -> impl Strategy<Value = Case> {
    (
        select(vec![
            "binpack",
            "kube-default",
            "best-fit",
            "gpu-packing",
            "fgd",
        ]),
        prop::collection::vec(pool_gen(), 1..=2),
    )
        .prop_flat_map(|(policy, pools)| {
            let max_gpus = pools.iter().map(|p| p.gpus).max().unwrap_or(1);
            let nodes: u32 = pools.iter().map(|p| p.nodes).sum();
            (
                Just(policy),
                Just(pools),
                prop::collection::vec(job_gen(max_gpus), 1..=6),
                prop::sample::subsequence((0u32..12).collect::<Vec<_>>(), 6),
                prop::option::weighted(0.4, (0..nodes, 1u32..=10))
                    .prop_map(move |f| f.filter(|_| nodes >= 2)),
                any::<u64>(),
            )
        })
        .prop_map(|(policy, pools, jobs, minutes, failure, shuffle)| {
            // Distinct arrival minutes, in a shuffled order so job index and arrival differ.
            let mut minutes = minutes;
            let mut r = SplitMix64::new(shuffle);
            for i in (1..minutes.len()).rev() {
                minutes.swap(i, (r.next() % (i as u64 + 1)) as usize);
            }
            Case {
                policy,
                pools,
                jobs: minutes.into_iter().zip(jobs).collect(),
                failure,
            }
        })
}

// ---------------------------------------------------------------------------------------------
// Outcomes

/// What the two runs must agree on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Outcome {
    completed: BTreeSet<String>,
    failed: BTreeSet<String>,
    pending: BTreeSet<String>,
    /// Per pool, binds per `job/wN` (one per attempt).
    binds: BTreeMap<String, BTreeMap<String, u32>>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "    completed {:?}", self.completed)?;
        writeln!(f, "    failed    {:?}", self.failed)?;
        writeln!(f, "    pending   {:?}", self.pending)?;
        for (pool, b) in &self.binds {
            writeln!(f, "    binds in pool {pool}: {b:?}")?;
        }
        Ok(())
    }
}

fn jobs_table(rows: &[JobRow]) -> String {
    let mut s = String::from(
        "    job  workers gpus prio arrival  start    end      phase       restarts preemptions\n",
    );
    let t = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.0}s"));
    for r in rows {
        let _ = writeln!(
            s,
            "    {:<4} {:>7} {:>4} {:>4} {:>7} {:>8} {:>8} {:<11} {:>8} {:>11}",
            r.name,
            r.workers,
            r.gpus,
            r.priority,
            t(Some(r.arrival_s)),
            t(r.start_s),
            t(r.end_s),
            format!("{:?}", r.phase),
            r.restarts,
            r.preemptions
        );
    }
    s
}

fn phase_sets(rows: &[JobRow], o: &mut Outcome) {
    for r in rows {
        match r.phase {
            Phase::Completed => o.completed.insert(r.name.clone()),
            Phase::Failed => o.failed.insert(r.name.clone()),
            _ => o.pending.insert(r.name.clone()),
        };
    }
}

/// A simulator run: the outcome, the job table and the time of the last event.
struct SimRun {
    outcome: Outcome,
    rows: Vec<JobRow>,
    end: SimTime,
}

/// Runs `s` in the simulator, watching binds by stepping: after each event, every pod found on
/// a node it was not on after the previous event is one bind.
fn simulate(s: &Scenario) -> SimRun {
    let mut sim = drydock_sim::Simulation::new(s, None, None).expect("valid scenario");
    let plan = drydock_sim::build::plan(s, None, s.seed).expect("plan");
    let mut prev: BTreeMap<u64, usize> = BTreeMap::new();
    let mut binds: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    while sim.step().expect("simulates").is_some() {
        let Some(st) = sim.state() else { break };
        let mut cur = BTreeMap::new();
        for (i, n) in st.cluster.nodes.iter().enumerate() {
            for p in &n.pods {
                cur.insert(p.pod.0, i);
            }
        }
        for (&pod, &node) in &cur {
            if prev.get(&pod) != Some(&node) {
                let n = &st.cluster.nodes[node];
                let pool = st.cluster.pools[n.pool.0 as usize].name.clone();
                let job = &plan.jobs[(pod >> 16) as usize].name;
                *binds
                    .entry(pool)
                    .or_default()
                    .entry(format!("{job}/w{}", pod & 0xFFFF))
                    .or_default() += 1;
            }
        }
        prev = cur;
    }
    let rows = sim.jobs();
    let mut outcome = Outcome {
        binds,
        ..Default::default()
    };
    phase_sets(&rows, &mut outcome);
    let end = rows.iter().filter_map(|r| r.end_s).fold(0.0f64, f64::max);
    SimRun {
        outcome,
        rows,
        end: SimTime(SimDuration::from_secs_f64(end).0),
    }
}

/// The scenario the simulator runs for `case`: the case's, with the cluster's failure
/// detection delay (`detection`, wall time) as `nodeMonitorGracePeriod`.
fn sim_scenario(case: &Case, detection: Duration) -> Scenario {
    let mut s = drydock_scenarios::load_str(&case.yaml(), "prop.yaml").expect("valid scenario");
    s.node_lifecycle.node_monitor_grace_period =
        SimDuration::from_secs_f64(detection.as_secs_f64() * SCALE);
    s
}

/// The outcome of `s`, if moving its events by up to the timing slack never changes it; else
/// why not (the shifted run that differs).
fn robust_outcome(s: &Scenario, detection: Duration, seed: u64) -> Result<SimRun, String> {
    let nominal = simulate(s);
    let slack = (SLACK_WALL.as_secs_f64() * SCALE * 1e6) as u64;
    // The detection delay varies by the controller-manager's monitor period and the Lease
    // renewals: a fifth of it, at least two seconds, either way.
    let jitter = (detection.as_secs_f64() * 0.2).max(2.0) * SCALE * 1e6;
    let mut r = SplitMix64::new(seed);
    let mut pick = |max: u64| r.next() % (max + 1);
    for k in 0..SHIFTED_RUNS {
        let mut v = s.clone();
        // Shift by the whole slack in the first runs (the extremes), at random after.
        let amount = |pick: &mut dyn FnMut(u64) -> u64| {
            if k < 2 { slack * k as u64 } else { pick(slack) }
        };
        for t in &mut v.training {
            t.arrival = SimTime(t.arrival.0 + amount(&mut pick));
            t.work = SimDuration(t.work.0 + amount(&mut pick));
        }
        v.scheduler.termination_grace_period =
            SimDuration(v.scheduler.termination_grace_period.0 + amount(&mut pick));
        let g = v.node_lifecycle.node_monitor_grace_period.0 as f64;
        let shift = match k {
            0 => -jitter,
            1 => jitter,
            _ => (pick(2_000_000) as f64 / 1_000_000.0 - 1.0) * jitter,
        };
        v.node_lifecycle.node_monitor_grace_period = SimDuration((g + shift).max(1e6) as u64);
        let shifted = simulate(&v);
        if shifted.outcome != nominal.outcome {
            return Err(format!(
                "shifted run {k} differs:\n{}\n  nominal:\n{}",
                shifted.outcome, nominal.outcome
            ));
        }
    }
    Ok(nominal)
}

// ---------------------------------------------------------------------------------------------
// The cluster

async fn client() -> kube::Client {
    drydock_real_cluster::testing::test_client()
        .await
        .expect("a test cluster (see drydock_real_cluster::testing)")
}

/// The cluster's failure detection delay: from a fake node's kubelet stopping (Leases no
/// longer renewed, as the driver's node failures do) to the controller-manager tainting it
/// `unreachable:NoExecute`, measured once per test binary on a node beside a healthy one (a
/// zone with no Ready node is not evicted from), in the background from the first case on
/// ([`start_calibration`]). Once a run has measured it, the latest run's delay is used
/// instead (the first detection on a fresh set of nodes can take longer).
fn detection_delay() -> Duration {
    if let Some(d) = *LAST_DETECTION.lock().unwrap_or_else(|p| p.into_inner()) {
        return d;
    }
    start_calibration();
    let mut v = CALIBRATION.value.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        match &*v {
            Some(Ok(d)) => return *d,
            Some(Err(e)) => panic!("measuring the cluster's failure detection delay: {e}"),
            None => v = CALIBRATION.ready.wait(v).unwrap_or_else(|p| p.into_inner()),
        }
    }
}

/// The measured detection delay (or why it could not be measured), once known.
struct Calibration {
    value: std::sync::Mutex<Option<Result<Duration, String>>>,
    ready: std::sync::Condvar,
}

static CALIBRATION: Calibration = Calibration {
    value: std::sync::Mutex::new(None),
    ready: std::sync::Condvar::new(),
};

/// Starts measuring the detection delay on its own thread, once: it runs while the first
/// cases without a failure do, instead of before them.
fn start_calibration() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(|| {
            let r =
                std::panic::catch_unwind(|| runtime().block_on(measure_detection())).map_err(|e| {
                    e.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                });
            *CALIBRATION.value.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            CALIBRATION.ready.notify_all();
        });
    });
}

/// The detection delay measured in the latest run with a failure.
static LAST_DETECTION: std::sync::Mutex<Option<Duration>> = std::sync::Mutex::new(None);

async fn measure_detection() -> Duration {
    let client = client().await;
    let run = new_run_id();
    let scale = TimeScale::new(SCALE).expect("scale");
    // Lease timing as in the runs: the scenarios' 60 s grace period at 60x.
    let kubelet = Arc::new(FakeKubelet::new(
        client.clone(),
        SERVER,
        run.clone(),
        KubeletConfig::for_grace_period(scale.wall(SimDuration::from_secs(60))),
        Arc::new(ScaledClock::start(scale)),
    ));
    let names: Vec<String> = (0..2).map(|i| format!("dd-{run}-cal{i}")).collect();
    let specs: Vec<FakeNodeSpec> = names
        .iter()
        .map(|n| FakeNodeSpec {
            name: n.clone(),
            scenario_name: n.clone(),
            gpus: 1,
            cpu_milli: 1000,
            memory_mib: 1024,
            max_pods: 10,
            labels: BTreeMap::new(),
            taints: vec![drydock_real_cluster::objects::fake_node_taint()],
        })
        .collect();
    kubelet
        .register_all(&specs)
        .await
        .expect("nodes registered");
    let leases = tokio::spawn(Arc::clone(&kubelet).lease_loop());
    let nodes: Api<Node> = Api::all(client.clone());
    let lp = ListParams::default().labels(&run_selector(&run));
    let poll = |want_down: bool| {
        let nodes = nodes.clone();
        let lp = lp.clone();
        let name = names[0].clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(180);
            loop {
                let list = nodes.list(&lp).await.expect("list nodes");
                let done = if want_down {
                    list.items.iter().any(|n| {
                        n.metadata.name.as_deref() == Some(name.as_str())
                            && n.spec
                                .as_ref()
                                .and_then(|s| s.taints.as_ref())
                                .is_some_and(|t| {
                                    t.iter().any(|t| {
                                        t.effect == "NoExecute"
                                            && t.key == drydock_core::cluster::TAINT_UNREACHABLE
                                    })
                                })
                    })
                } else {
                    list.items.len() == 2 && list.items.iter().all(node_ready)
                };
                if done {
                    return;
                }
                assert!(Instant::now() < deadline, "calibration nodes stuck");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    poll(false).await;
    // A little more than a renewal period, so the stop falls at a random point of it.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stopped = Instant::now();
    kubelet.stop_node(&names[0]);
    poll(true).await;
    let delay = stopped.elapsed();
    leases.abort();
    let errors = session::cleanup_run(&client, SERVER, "default", &run, false).await;
    assert!(errors.is_empty(), "{errors:?}");
    eprintln!("real_differential: the cluster detects a dead node after {delay:?} (wall)");
    delay
}

/// What the real run produced: completions and binds from the API, failed and pending jobs
/// from the driver's report (when the run ended).
fn real_outcome(
    case_scenario: &Scenario,
    report: Option<&RealReport>,
    seen: &Observed,
    node_pool: &BTreeMap<String, String>,
) -> Outcome {
    let plan = drydock_sim::build::plan(case_scenario, None, case_scenario.seed).expect("plan");
    let mut o = Outcome::default();
    if let Some(report) = report {
        phase_sets(&report.jobs, &mut o);
    }
    // Completed as the API saw it: every pod of some attempt Succeeded.
    let mut attempts: BTreeMap<(u32, u32), (u32, u32)> = BTreeMap::new();
    for p in seen.pods.values() {
        if let (Some(job), Some(attempt)) = (p.job, p.attempt) {
            let a = attempts.entry((job, attempt)).or_default();
            a.0 += 1;
            a.1 += u32::from(p.succeeded);
        }
        let (Some(job), Some(worker)) = (p.job, p.worker) else {
            continue;
        };
        for (_, node) in &p.binds {
            let pool = node_pool
                .get(node)
                .cloned()
                .unwrap_or_else(|| format!("? {node}"));
            let name = &plan.jobs[job as usize].name;
            *o.binds
                .entry(pool)
                .or_default()
                .entry(format!("{name}/w{worker}"))
                .or_default() += 1;
        }
    }
    let api_completed: BTreeSet<String> = attempts
        .iter()
        .filter(|&(&(job, _), &(n, ok))| n == plan.jobs[job as usize].workers && ok == n)
        .map(|(&(job, _), _)| plan.jobs[job as usize].name.clone())
        .collect();
    // The API's view; the caller compares it with the driver's report.
    o.completed = api_completed;
    o
}

/// The real-cluster invariants, checked on what the monitor saw; each broken one as a line.
fn invariant_problems(
    case: &Case,
    report: Option<&RealReport>,
    seen: &Observed,
    prefix: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    for o in &seen.overcommits {
        problems.push(format!(
            "over-commit seen through the API: {} had {} GPUs requested by live pods, {} allocatable ({:?})",
            o.node, o.used, o.allocatable, o.pods
        ));
    }
    for (node, n) in &seen.nodes {
        if let Some(g) = n.gpus
            && n.max_gpus_used > g
        {
            problems.push(format!("{node}: {} GPUs used of {g}", n.max_gpus_used));
        }
    }
    for (pod, binds) in seen.bound_twice() {
        problems.push(format!("{pod} bound more than once: {binds:?}"));
    }
    for (gang, bound, size) in seen.partial_gangs() {
        problems.push(format!(
            "gang {gang} ended with {bound} of its {size} pods ever bound"
        ));
    }
    if let Some((gang, span)) = seen.gang_bind_spans().first()
        && *span > MAX_PARTIAL_BIND
    {
        problems.push(format!("gang {gang} was partly bound for {span:?}"));
    }
    if let Some(report) = report {
        let o = &report.observations;
        if !o.overcommitted.is_empty() || !o.rebound.is_empty() {
            problems.push(format!(
                "the driver saw over-committed pods {:?} or pods bound twice {:?}",
                o.overcommitted, o.rebound
            ));
        }
        if !report.cleanup_errors.is_empty() {
            problems.push(format!("cleanup errors: {:?}", report.cleanup_errors));
        }
    } else {
        for (pod, p) in &seen.pods {
            if p.deleting_since.is_some() && p.gone_at.is_none() {
                problems.push(format!(
                    "{pod} (on {:?}) was still Terminating when the run was stopped",
                    p.node()
                ));
            }
        }
    }
    // Failed nodes' pods: each pod live on the node when it was tainted unreachable must be
    // evicted, and its job given a later attempt (unless the job failed for good).
    if let Some((node, _)) = case.failure {
        let name = node_object_name(prefix, &case.node_names()[node as usize]);
        let down = seen.nodes.get(&name).and_then(|n| n.unreachable_since);
        let failed_jobs: BTreeSet<u32> = report
            .iter()
            .flat_map(|r| r.jobs.iter().enumerate())
            .filter(|(_, r)| r.phase == Phase::Failed)
            .map(|(i, _)| i as u32)
            .collect();
        for (pod, p) in &seen.pods {
            if p.node() != Some(name.as_str()) {
                continue;
            }
            let live_at_detection = match down {
                Some(t) => p.bound_at.is_some_and(|b| b < t) && p.terminal_at.is_none_or(|e| e > t),
                // Never detected: the run must not have left a pod on it.
                None => p.terminal_at.is_none() && p.gone_at.is_none() && !p.succeeded,
            };
            if !live_at_detection {
                continue;
            }
            if p.succeeded {
                problems.push(format!("{pod} on the failed node {name} Succeeded"));
            }
            if p.deleting_since.is_none() && p.gone_at.is_none() && !p.failed {
                problems.push(format!("{pod} on the failed node {name} was never evicted"));
            }
            let (Some(job), Some(attempt)) = (p.job, p.attempt) else {
                continue;
            };
            let replaced = seen
                .pods
                .values()
                .any(|q| q.job == Some(job) && q.attempt.is_some_and(|a| a > attempt));
            if !replaced && !failed_jobs.contains(&job) {
                problems.push(format!(
                    "{pod} on the failed node {name} was not replaced (no later attempt of its job)"
                ));
            }
        }
    }
    problems
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The latest a case may end in the simulator: `MAX_SCENARIO`, plus the detection delay
/// when a node fails (the controller-manager takes it whatever the time scale).
fn max_end(case: &Case, detection: Duration) -> SimTime {
    let extra = if case.failure.is_some() {
        SimDuration::from_secs_f64(detection.as_secs_f64() * SCALE).0
    } else {
        0
    };
    SimTime(MAX_SCENARIO.0 + extra)
}

/// Runs `case` in the simulator and on the cluster and compares; `seed` drives the shifted
/// simulator runs. Rejects the case when the simulator finds it ambiguous or too long.
fn check_case(case: &Case, seed: u64) -> Result<(), TestCaseError> {
    // One case at a time: parallel runs would load the two cores and share the
    // controller-manager's eviction rate limit (one node tainted per 10 s).
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    start_calibration();
    let rt = runtime();
    let detection = if case.failure.is_some() {
        detection_delay()
    } else {
        Duration::from_secs(10)
    };
    let robust = robust_outcome(&sim_scenario(case, detection), detection, seed);
    prop_assume!(robust.is_ok(), "ambiguous: {:?}", robust.as_ref().err());
    let sim = robust.expect("checked");
    prop_assume!(sim.end <= max_end(case, detection), "too long: {}", sim.end);

    let yaml = case.yaml();
    let real_scenario = drydock_scenarios::load_str(&yaml, "prop.yaml").expect("valid");
    let run = new_run_id();
    let ns = format!("drydock-{run}");
    let prefix = format!("dd-{run}-");
    let plan = drydock_sim::build::plan(&real_scenario, None, real_scenario.seed).expect("plan");
    let node_pool: BTreeMap<String, String> = plan
        .cluster
        .nodes
        .iter()
        .map(|n| {
            (
                node_object_name(&prefix, &n.name),
                plan.cluster.pools[n.pool.0 as usize].name.clone(),
            )
        })
        .collect();
    let budget = Duration::from_secs_f64(sim.end.0 as f64 / 1e6 / SCALE)
        + detection
        + Duration::from_secs(90);
    let started = Instant::now();
    let (report, seen) = rt.block_on(async {
        let client = client().await;
        let monitor = ApiMonitor::start(client.clone(), &ns, &run);
        let mut opts = RealOptions::new(TimeScale::new(SCALE).expect("scale"));
        opts.run = Some(run.clone());
        opts.namespace = Some(ns.clone());
        let report = tokio::time::timeout(
            budget,
            session::run(
                client.clone(),
                SERVER,
                &real_scenario,
                &opts,
                std::future::pending(),
            ),
        )
        .await;
        // The last pod events of the teardown.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let seen = monitor.stop();
        if !matches!(report, Ok(Ok(_))) {
            let _ = session::cleanup_run(&client, SERVER, &ns, &run, true).await;
        }
        (report, seen)
    });
    let wall = started.elapsed();
    let (report, mut problems) = match report {
        Ok(Ok(r)) => (Some(r), Vec::new()),
        Ok(Err(e)) => (None, vec![format!("the real run failed: {e}")]),
        Err(_) => (
            None,
            vec![format!(
                "the real run did not end within {budget:?} of wall time"
            )],
        ),
    };
    // The failure's detection delay in this very run, as the API showed it (the
    // controller-manager's timing varies with load and its eviction rate limit): the simulator
    // is compared at that delay, if the outcome there is not itself a near-tie.
    let measured = case.failure.and_then(|(node, minute)| {
        let name = node_object_name(&prefix, &case.node_names()[node as usize]);
        let down = seen.nodes.get(&name)?.unreachable_since?;
        let failed = report.as_ref()?.scenario_start?
            + Duration::from_secs_f64(f64::from(minute * 60 + 30) / SCALE);
        down.checked_duration_since(failed)
    });
    let (sim, detection) = match measured {
        Some(d) => {
            *LAST_DETECTION.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
            let again = robust_outcome(&sim_scenario(case, d), d, seed);
            prop_assume!(
                again.is_ok(),
                "{}",
                format!(
                    "ambiguous at the measured detection delay {d:?}: {:?}",
                    again.as_ref().err()
                )
            );
            (again.expect("checked"), d)
        }
        None => (sim, detection),
    };
    let real = real_outcome(&real_scenario, report.as_ref(), &seen, &node_pool);
    problems.extend(invariant_problems(case, report.as_ref(), &seen, &prefix));
    if let Some(report) = &report {
        let report_completed: BTreeSet<String> = report
            .jobs
            .iter()
            .filter(|r| r.phase == Phase::Completed)
            .map(|r| r.name.clone())
            .collect();
        if report_completed != real.completed {
            problems.push(format!(
                "the driver's report says {report_completed:?} completed, the API shows {:?}",
                real.completed
            ));
        }
        if real != sim.outcome {
            problems.push("the real cluster and the simulator end differently".to_string());
        }
    }
    let detection_note = if case.failure.is_some() {
        format!(
            " (the simulator ran it with nodeMonitorGracePeriod: {:.0}s, the failure detection delay measured on this cluster, {detection:?} of wall time at {SCALE}x{})",
            detection.as_secs_f64() * SCALE,
            if measured.is_some() {
                ", in this run"
            } else {
                ""
            }
        )
    } else {
        String::new()
    };
    let real_text = match &report {
        Some(r) => format!(
            "{} binds, {} scheduling cycles):\n{}{}",
            r.observations.binds,
            r.observations.cycles,
            jobs_table(&r.jobs),
            real
        ),
        None => format!("no report; as the API showed it):\n{real}"),
    };
    prop_assert!(
        problems.is_empty(),
        "{}\n\nscenario{detection_note}:\n{yaml}\nsimulator:\n{}{}\nreal cluster (run {run}, namespace {ns}, {wall:?} of wall time, {real_text}",
        problems
            .iter()
            .map(|p| format!("- {p}"))
            .collect::<Vec<_>>()
            .join("\n"),
        jobs_table(&sim.rows),
        sim.outcome,
    );
    eprintln!(
        "real_differential: case of {} jobs on {} nodes{} agreed ({wall:?} of wall time)",
        case.jobs.len(),
        case.node_names().len(),
        match (case.failure, measured) {
            (None, _) => String::new(),
            (Some(_), Some(d)) => format!(" with a node failure detected after {d:?}"),
            (Some(_), None) => " with a node failure never detected".to_string(),
        },
    );
    Ok(())
}

/// Cases per run: 5, or `$DRYDOCK_REAL_CASES` (each takes 10–60 s of wall time).
fn cases() -> u32 {
    std::env::var("DRYDOCK_REAL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/real_differential.txt",
        ))),
        // Each shrinking step would be another run of up to a minute on the cluster.
        max_shrink_iters: 0,
        // Cases the simulator finds ambiguous (near-ties, too long) are discarded before
        // reaching the cluster; they cost milliseconds.
        max_global_rejects: 20_000,
        ..ProptestConfig::default()
    })]

    /// On generated scenarios the real cluster keeps drydock's invariants at every state the
    /// API reports (no GPU over-commit, pods bound once, gangs all or nothing, a failed node's
    /// pods evicted and replaced) and ends like the simulator: the same jobs complete, fail and
    /// stay pending, and the same pods are bound in each pool.
    #[test]
    fn real_cluster_agrees_with_the_simulator_on_generated_scenarios(case in case_gen(), seed in any::<u64>()) {
        check_case(&case, seed)?;
    }
}

/// A gang stalled on a dead node is not evicted for a preemption, on the cluster as in the
/// simulator: it keeps its pods until the controller-manager evicts them (no kubelet would
/// confirm a deletion), then restarts. Two 8-GPU nodes; j0 and j1 fill them, a-1 (j1's) dies
/// at 2m30s, and j2 of priority 100 arrives at 4m. Preemption picks a-1 (its victim started
/// last), but j1 is stalled: j2 waits for j0 to complete at 8m. The driver used to evict j1's
/// pods, which then stayed Terminating forever and the run never ended.
#[test]
fn real_a_gang_stalled_on_a_dead_node_is_left_to_kubernetes_not_preempted() {
    let job = |work_min, priority| JobGen {
        workers: 1,
        gpus_per_worker: 8,
        work_min,
        priority,
        checkpoint: false,
    };
    let case = Case {
        policy: "best-fit",
        pools: vec![PoolGen {
            nodes: 2,
            gpus: 8,
            model: "A100",
        }],
        jobs: vec![(0, job(8, 0)), (1, job(8, 0)), (4, job(3, 100))],
        failure: Some((1, 2)),
    };
    if let Err(e) = check_case(&case, 1) {
        panic!("{e}");
    }
}

/// Without a cluster: the generated cases are mostly unambiguous in the simulator and short
/// enough, so the property above spends its reject budget on few of them, and the check for
/// ambiguity does discard some (it is not vacuous).
#[test]
fn generated_cases_are_mostly_compared_and_some_are_discarded() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = case_gen();
    let (mut kept, mut ambiguous, mut long) = (0, 0, 0);
    let mut failures = 0;
    for i in 0..300u64 {
        let case = strategy.new_tree(&mut runner).expect("generates").current();
        // Detection as in CI (10 s of grace) and as upstream's default (50 s).
        let detection = Duration::from_secs(if i % 2 == 0 { 11 } else { 52 });
        failures += u32::from(case.failure.is_some());
        match robust_outcome(&sim_scenario(&case, detection), detection, i) {
            Err(_) => ambiguous += 1,
            Ok(r) if r.end > max_end(&case, detection) => long += 1,
            Ok(_) => kept += 1,
        }
    }
    eprintln!("kept {kept}, ambiguous {ambiguous}, too long {long}, with failures {failures}");
    assert!(
        kept >= 150,
        "kept {kept}, ambiguous {ambiguous}, too long {long}"
    );
    assert!(ambiguous > 0, "the ambiguity check discards nothing");
    assert!(failures >= 60, "{failures} cases with a failure");
}
