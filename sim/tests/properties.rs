//! Invariants of the simulator on random scenarios (proptest).

use std::collections::BTreeMap;

use drydock_core::{
    MILLI_PER_GPU, PolicyKind, ResourceWeights, SchedulerConfig, SimDuration, SimTime,
};
use drydock_scenarios::{
    ClusterSpec, FailureSpec, FailureTarget, GangMode, NodeLifecycleSpec, PoolSpec, RandomFailures,
    Scenario, ScheduledFailure, SchedulerSpec, TrainingJobSpec,
};
use drydock_sim::Simulation;
use drydock_sim::engine::job_of;
use drydock_sim::model::{JobStatus, Phase};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct JobGen {
    arrival_min: u64,
    workers: u32,
    gpus: u32,
    work_min: u64,
    ckpt_min: Option<u64>,
    priority: i32,
}

fn job_strategy() -> impl Strategy<Value = JobGen> {
    (
        0u64..300,
        1u32..4,
        prop_oneof![Just(1u32), Just(2), Just(4), Just(8)],
        5u64..240,
        proptest::option::of(10u64..90),
        prop_oneof![Just(0), Just(0), Just(100)],
    )
        .prop_map(
            |(arrival_min, workers, gpus, work_min, ckpt_min, priority)| JobGen {
                arrival_min,
                workers,
                gpus,
                work_min,
                ckpt_min,
                priority,
            },
        )
}

fn policy_strategy() -> impl Strategy<Value = PolicyKind> {
    proptest::sample::select(PolicyKind::ALL.to_vec())
}

fn scenario(
    nodes: u32,
    jobs: &[JobGen],
    policy: PolicyKind,
    failures: &[(u64, u32, Option<u64>)],
    random: bool,
    permit_wait: bool,
) -> Scenario {
    let cfg = SchedulerConfig::for_policy(policy);
    Scenario {
        name: "prop".into(),
        description: String::new(),
        source: "test".into(),
        seed: 7,
        duration: None,
        sample_interval: SimDuration::from_mins(10),
        cluster: ClusterSpec {
            pools: vec![PoolSpec {
                name: "gpu".into(),
                nodes,
                gpu_model: Some("A100".into()),
                gpus_per_node: 8,
                gpu_memory_mib: 81920,
                cpu_milli: 96_000,
                memory_mib: 1 << 20,
                labels: BTreeMap::new(),
                taints: vec![],
                zones: vec!["a".into(), "b".into()],
                price_per_node_hour: 10.0,
                autoscaling: None,
                spot: None,
            }],
            node_trace: None,
            autoscaler: Default::default(),
        },
        scheduler: SchedulerSpec {
            policy,
            tie_break: cfg.tie_break,
            percentage_of_nodes_to_score: cfg.percentage_of_nodes_to_score,
            weights: ResourceWeights {
                cpu: 1,
                memory: 1,
                gpu: cfg.weights.gpu,
            },
            cycle: SimDuration::from_secs(1),
            preemption: true,
            termination_grace_period: SimDuration::from_secs(30),
            gang_schedule_timeout: SimDuration::from_secs(60),
            gang_mode: if permit_wait {
                GangMode::PermitWait
            } else {
                GangMode::AllOrNothing
            },
            popularity_threshold: 0.95,
        },
        node_lifecycle: NodeLifecycleSpec {
            node_monitor_grace_period: SimDuration::from_secs(50),
            node_monitor_period: SimDuration::from_secs(5),
            toleration_seconds: SimDuration::from_secs(300),
        },
        training: jobs
            .iter()
            .enumerate()
            .map(|(i, j)| TrainingJobSpec {
                name: format!("job-{i}"),
                arrival: SimTime(SimDuration::from_mins(j.arrival_min).0),
                count: 1,
                interval: SimDuration::ZERO,
                workers: j.workers,
                gpus_per_worker: j.gpus,
                cpu_milli: 8000,
                memory_mib: 65536,
                gpu_models: vec![],
                node_selector: BTreeMap::new(),
                tolerations: vec![],
                work: SimDuration::from_mins(j.work_min),
                checkpoint_interval: j.ckpt_min.map(SimDuration::from_mins),
                checkpoint_cost: SimDuration::from_secs(30),
                restart_overhead: SimDuration::from_mins(2),
                backoff_limit: 3,
                priority: j.priority,
            })
            .collect(),
        traces: vec![],
        services: vec![],
        failures: FailureSpec {
            scheduled: failures
                .iter()
                .map(|&(at, node, repair)| ScheduledFailure {
                    at: SimTime(SimDuration::from_mins(at).0),
                    target: FailureTarget::Node {
                        name: drydock_scenarios::node_name("gpu", node % nodes, nodes),
                    },
                    repair_after: repair.map(SimDuration::from_mins),
                })
                .collect(),
            random: random.then(|| RandomFailures {
                node_mtbf: Some(SimDuration::from_hours(48)),
                gpu_mtbf: None,
                repair_time: drydock_scenarios::DurationDist::Exponential {
                    mean: SimDuration::from_hours(1),
                },
                start: SimTime::ZERO,
            }),
        },
        expect: Vec::new(),
    }
}

/// Checks the invariants that must hold after every event.
fn check_invariants(sim: &Simulation) -> Result<(), TestCaseError> {
    let world = sim.world();
    let st = drydock_sim::engine::state(world).expect("state");
    for (i, n) in st.cluster.nodes.iter().enumerate() {
        // No node is ever over-allocated in any resource.
        prop_assert!(
            n.cpu_free <= n.cpu_allocatable,
            "node {i} cpu over-allocated"
        );
        prop_assert!(
            n.memory_free <= n.memory_allocatable,
            "node {i} memory over-allocated"
        );
        let used_cpu: u64 = n.pods.iter().map(|p| p.request.cpu_milli).sum();
        prop_assert_eq!(used_cpu + n.cpu_free, n.cpu_allocatable);
        // A GPU's shares never exceed 1000 milli.
        for (d, &free) in n.gpu_free.iter().enumerate() {
            let used: u64 = n
                .pods
                .iter()
                .filter(|p| p.devices.contains(d as u32))
                .map(|p| p.request.gpu.milli as u64)
                .sum();
            prop_assert!(free <= MILLI_PER_GPU);
            prop_assert_eq!(
                used + free as u64,
                MILLI_PER_GPU as u64,
                "node {} gpu {}",
                i,
                d
            );
        }
    }
    for &e in &st.jobs {
        let s = world.get::<JobStatus>(e).expect("status");
        let job = world.get::<drydock_sim::model::Job>(e).expect("job");
        let bound = s.bound.iter().flatten().count() as u32;
        match s.phase {
            // Gangs are all-or-nothing: a running job has every worker bound...
            Phase::Running => {
                prop_assert_eq!(
                    bound,
                    job.workers,
                    "running job {} partially bound",
                    job.index
                );
                // ...and nothing runs on a failed node.
                for (n, _) in s.bound.iter().flatten() {
                    prop_assert!(
                        st.health[n.0 as usize].up,
                        "job {} running on a failed node",
                        job.index
                    );
                }
            }
            Phase::Pending
            | Phase::Backoff
            | Phase::Completed
            | Phase::Failed
            | Phase::NotArrived => {
                prop_assert_eq!(bound, 0, "job {} in {:?} holds pods", job.index, s.phase);
            }
            _ => {}
        }
    }
    // The scheduling queue holds exactly the Pending and Holding jobs, each once.
    let mut queued = vec![0u32; st.jobs.len()];
    for &(_, since, j) in &st.pending {
        queued[j as usize] += 1;
        let s = world.get::<JobStatus>(st.jobs[j as usize]).expect("status");
        prop_assert!(
            matches!(s.phase, Phase::Pending | Phase::Holding),
            "job {} queued in {:?}",
            j,
            s.phase
        );
        prop_assert_eq!(since, s.queued_since);
    }
    for (j, &e) in st.jobs.iter().enumerate() {
        let s = world.get::<JobStatus>(e).expect("status");
        let expected = u32::from(matches!(s.phase, Phase::Pending | Phase::Holding));
        prop_assert_eq!(
            queued[j],
            expected,
            "job {} in {:?} queued {} times",
            j,
            s.phase,
            queued[j]
        );
    }
    // Every pod the cluster holds belongs to a job that records it.
    for n in &st.cluster.nodes {
        for p in &n.pods {
            let j = job_of(p.pod);
            let s = world.get::<JobStatus>(st.jobs[j as usize]).expect("status");
            prop_assert!(s.bound.iter().flatten().count() > 0);
        }
    }
    Ok(())
}

fn run_checked(sc: &Scenario) -> Result<drydock_sim::Summary, TestCaseError> {
    let mut sim =
        Simulation::new(sc, None, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut steps = 0u64;
    while sim
        .step()
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .is_some()
    {
        steps += 1;
        if steps.is_multiple_of(7) {
            check_invariants(&sim)?;
        }
        prop_assert!(steps < 2_000_000, "run did not terminate");
    }
    check_invariants(&sim)?;
    // No completed job finished faster than its work plus its checkpoints allow.
    let world = sim.world();
    for &e in &drydock_sim::engine::state(world).expect("state").jobs {
        let s = world.get::<JobStatus>(e).expect("status");
        let j = world.get::<drydock_sim::model::Job>(e).expect("job");
        if s.phase == Phase::Completed {
            let min = drydock_sim::progress::wall_time_for(j.work.expect("work"), j.checkpoint);
            let took = s.finished.expect("finished").since(j.arrival);
            prop_assert!(took >= min, "job {} took {:?} < {:?}", j.index, took, min);
        }
    }
    Ok(sim.summary())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Invariants hold after every event, for every policy, with scheduled and random
    /// failures: no over-allocation, GPU shares ≤ 1000 milli, gangs all-or-nothing, nothing
    /// running on a failed node; and no job is lost (submitted = completed + failed + pending
    /// + running at the end).
    #[test]
    fn invariants_hold_and_no_job_is_lost(
        nodes in 1u32..8,
        jobs in proptest::collection::vec(job_strategy(), 1..30),
        policy in policy_strategy(),
        failures in proptest::collection::vec((0u64..400, 0u32..5, proptest::option::of(5u64..200)), 0..3),
        random in any::<bool>(),
        permit_wait in any::<bool>(),
    ) {
        let sc = scenario(nodes, &jobs, policy, &failures, random, permit_wait);
        let s = run_checked(&sc)?;
        let j = &s.jobs;
        prop_assert_eq!(j.submitted, j.completed + j.failed + j.pending + j.running);
        prop_assert_eq!(j.submitted, jobs.len() as u64);
    }

    /// The same scenario and seed give an identical summary (and so an identical event-log
    /// hash).
    #[test]
    fn same_seed_gives_identical_summary(
        nodes in 1u32..4,
        jobs in proptest::collection::vec(job_strategy(), 1..8),
        policy in policy_strategy(),
        failures in proptest::collection::vec((0u64..400, 0u32..4, proptest::option::of(5u64..200)), 0..2),
    ) {
        let sc = scenario(nodes, &jobs, policy, &failures, true, false);
        let a = run_checked(&sc)?;
        let b = run_checked(&sc)?;
        prop_assert_eq!(
            serde_json::to_string(&a).expect("json"),
            serde_json::to_string(&b).expect("json")
        );
    }
}
