//! Golden tests of the HPA (`drydock_core::autoscale::hpa`): every expected value is computed by
//! hand in the comment next to it from kubernetes-semantics.md §1 and the Kubernetes HPA
//! documentation (kubernetes/website `horizontal-pod-autoscale.md`).

use drydock_core::autoscale::hpa::{
    Behavior, Hpa, HpaDecision, HpaInput, HpaPod, HpaReason, HpaSpec, MetricError, MetricSample,
    MetricSpec, MetricTarget, PodPhase, ScalingPolicy, ScalingRules, SelectPolicy,
};
use drydock_core::{SimDuration, SimTime};

fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000)
}

fn rps(target: f64) -> MetricSpec {
    MetricSpec::Pods {
        name: "requests_per_second".into(),
        target: MetricTarget::AverageValue(target),
    }
}

/// A running, ready pod started long ago, with one sample of metric 0 (or none).
fn pod(value: Option<f64>) -> HpaPod {
    HpaPod {
        phase: PodPhase::Running,
        deleting: false,
        ready: Some(true),
        start_time: Some(SimTime(0)),
        last_ready_transition: secs(20),
        samples: vec![value.map(|v| MetricSample {
            value: v,
            timestamp: secs(0),
            window: SimDuration::from_secs(30),
        })],
        requests: vec![("cpu".into(), 1.0)],
    }
}

fn pending() -> HpaPod {
    HpaPod {
        phase: PodPhase::Pending,
        ready: Some(false),
        start_time: None,
        samples: vec![None],
        ..pod(None)
    }
}

/// `n` pods each at `value`.
fn pods(n: usize, value: f64) -> Vec<HpaPod> {
    (0..n).map(|_| pod(Some(value))).collect()
}

fn run(hpa: &mut Hpa, spec: &HpaSpec, t: u64, current: u32, pods: &[HpaPod]) -> HpaDecision {
    hpa.reconcile(
        spec,
        &HpaInput {
            now: secs(t),
            spec_replicas: current,
            status_replicas: current,
            pods,
            object_values: &[],
        },
    )
}

fn once(spec: &HpaSpec, current: u32, pods: &[HpaPod]) -> HpaDecision {
    run(&mut Hpa::new(), spec, 1000, current, pods)
}

#[test]
fn replica_formula_respects_tolerance() {
    let spec = HpaSpec::new(1, 100, vec![rps(100.0)]);
    // 10 pods at 105 rps, target 100: r = 1.05, |1 − r| = 0.05 ≤ 0.1 → stay at 10.
    let d = once(&spec, 10, &pods(10, 105.0));
    assert_eq!(d.desired_replicas, 10);
    assert!(!d.write);
    assert_eq!(d.proposals[0].replicas, Ok(10));
    // r = 1.1 exactly is still within the tolerance (≤): stay.
    assert_eq!(once(&spec, 10, &pods(10, 110.0)).desired_replicas, 10);
    // r = 1.5: ⌈1.5 × 10⌉ = 15; path B allows up to max(2 × 10, 4) = 20 → 15.
    let d = once(&spec, 10, &pods(10, 150.0));
    assert_eq!(d.desired_replicas, 15);
    assert!(d.write);
    assert_eq!(d.reason, HpaReason::DesiredWithinRange);
    assert_eq!(d.proposals[0].current, Some(150.0));
    // r = 0.85 is outside the tolerance: ⌈0.85 × 10⌉ = 9 proposed, but path B's 300 s
    // stabilization holds the first sync's recommendation of 10.
    let d = once(&spec, 10, &pods(10, 85.0));
    assert_eq!(d.proposals[0].replicas, Ok(9));
    assert_eq!(d.desired_replicas, 10);
    assert_eq!(d.reason, HpaReason::ScaleDownStabilized);
}

#[test]
fn tolerance_is_applied_before_the_bounds() {
    // 50 pods at 108 rps: r = 1.08 is within 10 %, so a large HPA sits 4 pods away from target
    // (§1.7): ⌈1.08 × 50⌉ = 54 would be needed, the HPA keeps 50.
    let spec = HpaSpec::new(1, 100, vec![rps(100.0)]);
    assert_eq!(once(&spec, 50, &pods(50, 108.0)).desired_replicas, 50);
}

#[test]
fn average_is_truncated_in_milli_units() {
    // Three pods at 0.1001, 0.1001 and 0.1 rps (100.1, 100.1, 100 milli → 100, 100, 100 after
    // rounding to milli): Σ = 300 milli, ⌊300/3⌋ = 100 milli, target 0.05 (50 milli): r = 2 →
    // ⌈2 × 3⌉ = 6.
    let spec = HpaSpec::new(1, 100, vec![rps(0.05)]);
    let p = vec![pod(Some(0.1001)), pod(Some(0.1001)), pod(Some(0.1))];
    assert_eq!(once(&spec, 3, &p).proposals[0].replicas, Ok(6));
}

#[test]
fn missing_pods_count_as_target_on_scale_down() {
    let spec = HpaSpec::new(1, 100, vec![rps(100.0)]);
    // 4 pods at 50 and 2 without a sample. First pass: r = 0.5 (scale-down) over 4 pods.
    // Second pass: the 2 missing count as the target: (4×50 + 2×100)/6 = 66.666 → r = 0.66666,
    // same direction, outside tolerance → ⌈0.66666 × 6⌉ = ⌈3.99996⌉ = 4 (not ⌈0.5 × 4⌉ = 2).
    let mut p = pods(4, 50.0);
    p.push(pod(None));
    p.push(pod(None));
    let d = once(&spec, 6, &p);
    assert_eq!(d.proposals[0].replicas, Ok(4));
    // The status reports the first-pass average (50), not the adjusted one.
    assert_eq!(d.proposals[0].current, Some(50.0));
}

#[test]
fn missing_pods_count_as_zero_on_scale_up_and_may_cancel_it() {
    let spec = HpaSpec::new(1, 100, vec![rps(100.0)]);
    // 4 pods at 150 and 4 missing: first pass r = 1.5 (scale-up); missing count 0:
    // 600/8 = 75 → r = 0.75 points the other way → no change (8).
    let mut p = pods(4, 150.0);
    p.extend((0..4).map(|_| pod(None)));
    assert_eq!(once(&spec, 8, &p).proposals[0].replicas, Ok(8));
    // 4 pods at 300 and 2 missing: 1200/6 = 200 → r = 2 → ⌈2 × 6⌉ = 12.
    let mut p = pods(4, 300.0);
    p.extend((0..2).map(|_| pod(None)));
    assert_eq!(once(&spec, 6, &p).proposals[0].replicas, Ok(12));
}

#[test]
fn pending_pods_are_set_aside_and_damp_scale_up() {
    let spec = HpaSpec::new(1, 100, vec![rps(100.0)]);
    // 4 running at 200 and 4 pending (waiting for nodes): first pass r = 2 over 4 pods; the 4
    // pending count as 0 on a scale-up: 800/8 = 100 → r = 1.0, within tolerance → stay at 8.
    let mut p = pods(4, 200.0);
    p.extend((0..4).map(|_| pending()));
    let d = once(&spec, 8, &p);
    assert_eq!(d.proposals[0].replicas, Ok(8));
    assert_eq!(d.proposals[0].current, Some(200.0));
    // On a scale-down the pending pods stay out: 4 at 50 and 2 pending → ⌈0.5 × 4⌉ = 2.
    let mut p = pods(4, 50.0);
    p.extend((0..2).map(|_| pending()));
    assert_eq!(once(&spec, 6, &p).proposals[0].replicas, Ok(2));
}

#[test]
fn deleting_and_failed_pods_are_dropped() {
    let spec = HpaSpec::new(1, 100, vec![rps(100.0)]);
    // 2 pods at 200, one deleting at 0, one failed at 0: only the 2 count → ⌈2 × 2⌉ = 4.
    let mut p = pods(2, 200.0);
    p.push(HpaPod {
        deleting: true,
        ..pod(Some(0.0))
    });
    p.push(HpaPod {
        phase: PodPhase::Failed,
        ..pod(Some(0.0))
    });
    assert_eq!(once(&spec, 4, &p).proposals[0].replicas, Ok(4));
}

/// Pods for the CPU readiness rules at t = 1000 s, requests 1 cpu each:
/// A ready since 20 s (started 0), sample 0.8;
/// B started at 900 s (inside the 300 s initialization period) and not ready, sample 0.0;
/// C not ready, its last transition at 10 s is within 30 s of its start at 0 (never ready),
///   sample 0.0;
/// D started at 0, ready until 500 s then not ready (was ready once), sample 0.6.
fn readiness_pods() -> Vec<HpaPod> {
    let sample = |v: f64| {
        vec![Some(MetricSample {
            value: v,
            timestamp: secs(995),
            window: SimDuration::from_secs(30),
        })]
    };
    vec![
        HpaPod {
            samples: sample(0.8),
            ..pod(None)
        },
        HpaPod {
            ready: Some(false),
            start_time: Some(secs(900)),
            last_ready_transition: secs(900),
            samples: sample(0.0),
            ..pod(None)
        },
        HpaPod {
            ready: Some(false),
            last_ready_transition: secs(10),
            samples: sample(0.0),
            ..pod(None)
        },
        HpaPod {
            ready: Some(false),
            last_ready_transition: secs(500),
            samples: sample(0.6),
            ..pod(None)
        },
    ]
}

#[test]
fn cpu_readiness_rules_apply_to_cpu_only() {
    let utilization = |name: &str| MetricSpec::Resource {
        name: name.into(),
        target: MetricTarget::Utilization(50),
    };
    let mut p = readiness_pods();
    for x in &mut p {
        x.requests = vec![("cpu".into(), 1.0), ("nvidia.com/gpu".into(), 1.0)];
    }
    // cpu: B and C are set aside, A and D count: ⌊(800 + 600) × 100 / 2000⌋ = 70 % → r = 1.4
    // (scale-up). Second pass: B and C count as 0 % of their requests:
    // ⌊1400 × 100 / 4000⌋ = 35 % → r = 0.7 points the other way → no change (4).
    let spec = HpaSpec::new(1, 100, vec![utilization("cpu")]);
    let d = once(&spec, 4, &p);
    assert_eq!(d.proposals[0].replicas, Ok(4));
    assert_eq!(d.proposals[0].current, Some(70.0));
    // Any other resource (a GPU busy fraction): unready running pods are not set aside.
    // ⌊1400 × 100 / 4000⌋ = 35 % → r = 0.7 → ⌈0.7 × 4⌉ = ⌈2.8⌉ = 3.
    let spec = HpaSpec::new(1, 100, vec![utilization("nvidia.com/gpu")]);
    let d = once(&spec, 4, &p);
    assert_eq!(d.proposals[0].replicas, Ok(3));
    assert_eq!(d.proposals[0].current, Some(35.0));
}

#[test]
fn cpu_sample_from_before_readiness_is_set_aside() {
    // Inside the initialization period, a ready pod whose sample (at 990 s, window 30 s) was
    // taken before lastReadyTransition (970 s) + window (30 s) = 1000 s is set aside.
    let spec = HpaSpec::new(
        1,
        100,
        vec![MetricSpec::Resource {
            name: "cpu".into(),
            target: MetricTarget::Utilization(50),
        }],
    );
    let fresh = HpaPod {
        start_time: Some(secs(900)),
        last_ready_transition: secs(970),
        samples: vec![Some(MetricSample {
            value: 1.0,
            timestamp: secs(990),
            window: SimDuration::from_secs(30),
        })],
        ..pod(None)
    };
    // Alone with A (0.8 of 1 cpu → 80 %, r = 1.6): first pass over A only; the fresh pod counts
    // 0 in the second pass: 800 × 100 / 2000 = 40 % → r = 0.8 points the other way → stay at 2.
    let p = vec![readiness_pods().remove(0), fresh.clone()];
    assert_eq!(once(&spec, 2, &p).proposals[0].replicas, Ok(2));
    // One window later (sample at 1000 s ≥ 1000 s) it counts: (800 + 1000) / 2000 = 90 % →
    // r = 1.8 → ⌈1.8 × 2⌉ = 4.
    let mut later = fresh;
    if let Some(Some(s)) = later.samples.get_mut(0) {
        s.timestamp = secs(1000);
    }
    let p = vec![readiness_pods().remove(0), later];
    assert_eq!(once(&spec, 2, &p).proposals[0].replicas, Ok(4));
}

#[test]
fn utilization_needs_every_request() {
    let spec = HpaSpec::new(
        1,
        100,
        vec![MetricSpec::Resource {
            name: "memory".into(),
            target: MetricTarget::Utilization(50),
        }],
    );
    // The pods request cpu only: the metric fails; it is the only one → no change.
    let d = once(&spec, 3, &pods(3, 1.0));
    assert_eq!(d.proposals[0].replicas, Err(MetricError::MissingRequest));
    assert_eq!(d.reason, HpaReason::FailedGetMetrics);
    assert_eq!(d.desired_replicas, 3);
    assert!(!d.write);
}

#[test]
fn object_and_external_metrics() {
    // Object Value: 250 total, target 100 → r = 2.5; Ready pods = 2 of 3 (one unready) →
    // ⌈2.5 × 2⌉ = 5 (divides by ready pods, not spec.replicas).
    let spec = HpaSpec::new(
        1,
        100,
        vec![MetricSpec::Object {
            name: "ingress_rps".into(),
            target: MetricTarget::Value(100.0),
        }],
    );
    let mut p = pods(2, 0.0);
    p.push(HpaPod {
        ready: Some(false),
        ..pod(None)
    });
    let d = Hpa::new().reconcile(
        &spec,
        &HpaInput {
            now: secs(0),
            spec_replicas: 3,
            status_replicas: 3,
            pods: &p,
            object_values: &[Some(250.0)],
        },
    );
    assert_eq!(d.proposals[0].replicas, Ok(5));
    assert_eq!(d.desired_replicas, 5);
    // External AverageValue: total 1000, 100 per pod, status.replicas 4: tolerance test
    // 1000 / (100 × 4) = 2.5 → ⌈1000 / 100⌉ = 10; reported per pod ⌈1000/4⌉ = 250.
    let spec = HpaSpec::new(
        1,
        100,
        vec![MetricSpec::External {
            name: "queue_rps".into(),
            target: MetricTarget::AverageValue(100.0),
        }],
    );
    let d = Hpa::new().reconcile(
        &spec,
        &HpaInput {
            now: secs(0),
            spec_replicas: 4,
            status_replicas: 4,
            pods: &pods(4, 0.0),
            object_values: &[Some(1000.0)],
        },
    );
    assert_eq!(d.proposals[0].replicas, Ok(10));
    assert_eq!(d.proposals[0].current, Some(250.0));
    assert_eq!(d.desired_replicas, 8, "path B: at most max(2 × 4, 4) = 8");
    assert_eq!(d.reason, HpaReason::ScaleUpLimit);
}

#[test]
fn max_over_metrics_with_failures() {
    let object = MetricSpec::Object {
        name: "ingress_rps".into(),
        target: MetricTarget::Value(100.0),
    };
    let spec = HpaSpec::new(1, 100, vec![rps(100.0), object]);
    let decide = |value: f64, object: Option<f64>| {
        Hpa::new().reconcile(
            &spec,
            &HpaInput {
                now: secs(0),
                spec_replicas: 4,
                status_replicas: 4,
                pods: &pods(4, value),
                object_values: &[None, object],
            },
        )
    };
    // Both valid: rps says ⌈2 × 4⌉ = 8, the object ⌈3 × 4⌉ = 12 → max 12 (path B limit 8).
    let d = decide(200.0, Some(300.0));
    assert_eq!(d.recommendation, Some(12));
    // Object unavailable, rps says scale up to 8: scale up.
    let d = decide(200.0, None);
    assert_eq!(d.recommendation, Some(8));
    assert_eq!(d.desired_replicas, 8);
    // Object unavailable, rps says scale down to 2: skip scaling.
    let d = decide(50.0, None);
    assert_eq!(d.reason, HpaReason::FailedGetMetrics);
    assert_eq!(d.desired_replicas, 4);
    // rps has no pod samples and the object is unavailable: all failed, no change.
    let p: Vec<HpaPod> = (0..4).map(|_| pod(None)).collect();
    let d = Hpa::new().reconcile(
        &spec,
        &HpaInput {
            now: secs(0),
            spec_replicas: 4,
            status_replicas: 4,
            pods: &p,
            object_values: &[],
        },
    );
    assert_eq!(d.proposals[0].replicas, Err(MetricError::NoMetrics));
    assert_eq!(d.reason, HpaReason::FailedGetMetrics);
    assert!(!d.write);
}

#[test]
fn bounds_and_disabled_scaling() {
    let spec = HpaSpec::new(2, 10, vec![rps(100.0)]);
    // spec.replicas 0 with minReplicas 2: autoscaling disabled, no write.
    let d = once(&spec, 0, &[]);
    assert_eq!((d.desired_replicas, d.write), (0, false));
    assert_eq!(d.reason, HpaReason::ScalingDisabled);
    assert_eq!(d.reason.to_string(), "ScalingDisabled");
    // Above max: set to max without metrics.
    let d = once(&spec, 12, &[]);
    assert_eq!((d.desired_replicas, d.write), (10, true));
    assert_eq!(d.reason, HpaReason::AboveMaxReplicas);
    assert!(d.proposals.is_empty());
    // Below min: set to min.
    let d = once(&spec, 1, &[]);
    assert_eq!(
        (d.desired_replicas, d.reason),
        (2, HpaReason::BelowMinReplicas)
    );
    // Metrics propose 30 from 8: path B limit max(16, 4) = 16 < max 10? No: max 10 < 16 →
    // TooManyReplicas at 10.
    let d = once(&spec, 8, &pods(8, 375.0));
    assert_eq!(
        (d.desired_replicas, d.reason),
        (10, HpaReason::TooManyReplicas)
    );
    // Metrics propose 0 from 2 (all idle). Path B: the first sync's recommendation (2) is in
    // the window, stabilized at 2.
    let d = once(&spec, 2, &pods(2, 0.0));
    assert_eq!(d.proposals[0].replicas, Ok(0));
    assert_eq!(
        (d.desired_replicas, d.reason),
        (2, HpaReason::ScaleDownStabilized)
    );
    // Path A with a 0 s scale-down window: stabilized 0, the percent policy allows
    // ⌊2 × 0⌋ = 0, so the min (2) binds.
    let no_window = HpaSpec {
        behavior: Some(Behavior {
            scale_up: None,
            scale_down: Some(ScalingRules {
                stabilization_window: Some(SimDuration::ZERO),
                ..Default::default()
            }),
        }),
        ..spec.clone()
    };
    let d = once(&no_window, 3, &pods(3, 0.0));
    assert_eq!(d.stabilized, Some(0));
    assert_eq!(
        (d.desired_replicas, d.reason),
        (2, HpaReason::TooFewReplicas)
    );
}

#[test]
fn path_a_and_path_b_differ_below_four_replicas() {
    let legacy = HpaSpec::new(1, 100, vec![rps(100.0)]);
    let with_behavior = HpaSpec {
        behavior: Some(Behavior::default()),
        ..legacy.clone()
    };
    // From 1 pod at 10000 rps (raw 100): A allows max(1 + 4, ⌈1 × 2⌉) = 5, B max(2 × 1, 4) = 4.
    assert_eq!(
        once(&with_behavior, 1, &pods(1, 10000.0)).desired_replicas,
        5
    );
    assert_eq!(once(&legacy, 1, &pods(1, 10000.0)).desired_replicas, 4);
    // From 3: A max(3 + 4, ⌈3 × 2⌉) = 7, B max(6, 4) = 6.
    let d = once(&with_behavior, 3, &pods(3, 10000.0));
    assert_eq!((d.desired_replicas, d.reason), (7, HpaReason::ScaleUpLimit));
    assert_eq!(once(&legacy, 3, &pods(3, 10000.0)).desired_replicas, 6);
}

#[test]
fn worked_example_of_the_semantics_note() {
    // §1.5: defaults, current 10, raw 40. Syncs every 15 s; the caller applies each decision.
    let spec = HpaSpec {
        behavior: Some(Behavior::default()),
        ..HpaSpec::new(1, 100, vec![rps(100.0)])
    };
    let mut hpa = Hpa::new();
    let mut current = 10;
    let mut history = Vec::new();
    for t in (0..=360).step_by(15) {
        // Load: 4000 rps in total until 30 s (raw 40), then 1000 rps (raw 10).
        let total = if t <= 30 { 4000.0 } else { 1000.0 };
        let p = pods(current as usize, total / current as f64);
        let d = run(&mut hpa, &spec, t, current, &p);
        history.push((t, d.recommendation, d.desired_replicas, d.reason));
        current = d.desired_replicas;
    }
    let at = |t: u64| history.iter().find(|h| h.0 == t).map(|h| (h.2, h.3));
    // t = 0: limit max(10 + 4, ⌈10 × 2⌉) = 20.
    assert_eq!(at(0), Some((20, HpaReason::ScaleUpLimit)));
    // t = 15: the event at 0 is not after 15 − 15 = 0, so start = 20, limit 40 → 40.
    assert_eq!(at(15), Some((40, HpaReason::DesiredWithinRange)));
    // t = 30: 40 pods at 100 → within tolerance, raw 40.
    assert_eq!(at(30), Some((40, HpaReason::DesiredWithinRange)));
    // t = 45 .. 315: raw 10, but a recommendation of 40 (at 30 s) is in the last 300 s.
    for t in (45..=315).step_by(15) {
        assert_eq!(at(t), Some((40, HpaReason::ScaleDownStabilized)), "t = {t}");
    }
    // t = 330: the record at 30 s is no longer after 330 − 300 = 30 s; ⌊40 × 0⌋ = 0 does not
    // bind (min 1), so the count drops straight to 10.
    assert_eq!(at(330), Some((10, HpaReason::DesiredWithinRange)));
    assert_eq!(at(345), Some((10, HpaReason::DesiredWithinRange)));
}

/// The documentation's scale-down policies: Pods 4 per 60 s and Percent 10 % per 60 s, with the
/// stabilization window set to 0 so that the rate limit alone shows.
fn doc_scale_down(select: Option<SelectPolicy>) -> HpaSpec {
    HpaSpec {
        behavior: Some(Behavior {
            scale_up: None,
            scale_down: Some(ScalingRules {
                stabilization_window: Some(SimDuration::ZERO),
                select_policy: select,
                policies: vec![
                    ScalingPolicy::pods(4, SimDuration::from_secs(60)),
                    ScalingPolicy::percent(10, SimDuration::from_secs(60)),
                ],
                tolerance: None,
            }),
        }),
        ..HpaSpec::new(1, 100, vec![rps(100.0)])
    }
}

#[test]
fn documented_scale_down_policies_select_max() {
    // 80 replicas, load for 10: Pods → 80 − 4 = 76, Percent → ⌊80 × 0.9⌋ = 72; Max picks the
    // largest change → 72 (8 removed, as the docs say).
    let spec = doc_scale_down(None);
    let mut hpa = Hpa::new();
    let mut current = 80;
    let mut seen = Vec::new();
    for t in (0..=120).step_by(15) {
        let d = run(
            &mut hpa,
            &spec,
            t,
            current,
            &pods(current as usize, 1000.0 / current as f64),
        );
        current = d.desired_replicas;
        seen.push(current);
    }
    // t = 0: 72. t = 15, 30, 45: 8 removed in the last 60 s → start 80 → limit 72, no change.
    // t = 60: the event at 0 left the window: start 72 → ⌊72 × 0.9⌋ = ⌊64.8⌋ = 64 (8 removed,
    // "7.2 rounded up to 8" in the docs), Pods 68 → 64. t = 75..105: held. t = 120: start 64 →
    // ⌊57.6⌋ = 57, Pods 60 → 57.
    assert_eq!(seen, vec![72, 72, 72, 72, 64, 64, 64, 64, 57]);
}

#[test]
fn documented_scale_down_policies_select_min_and_disabled() {
    // selectPolicy Min: the smallest change, max(76, 72) = 76.
    let d = once(
        &doc_scale_down(Some(SelectPolicy::Min)),
        80,
        &pods(80, 12.5),
    );
    assert_eq!(
        (d.desired_replicas, d.reason),
        (76, HpaReason::ScaleDownLimit)
    );
    // selectPolicy Disabled: no scale-down at all.
    let d = once(
        &doc_scale_down(Some(SelectPolicy::Disabled)),
        80,
        &pods(80, 12.5),
    );
    assert_eq!((d.desired_replicas, d.write), (80, false));
    assert_eq!(d.reason, HpaReason::ScaleDownLimit);
    // Scale-up still follows the defaults (scaleUp unset): from 80 at 2× load, raw 160 →
    // max(80 + 4, 160) = 160, capped by max 100.
    let d = once(
        &doc_scale_down(Some(SelectPolicy::Disabled)),
        80,
        &pods(80, 200.0),
    );
    assert_eq!(
        (d.desired_replicas, d.reason),
        (100, HpaReason::TooManyReplicas)
    );
}

#[test]
fn documented_four_pods_per_minute() {
    // scaleDown: Pods 4 per 60 s (window 0): from 10 with raw 1, 10 → 6 at 0 s, held until the
    // event leaves the window at 60 s → 2, then at 120 s → 1 (min).
    let spec = HpaSpec {
        behavior: Some(Behavior {
            scale_up: None,
            scale_down: Some(ScalingRules {
                stabilization_window: Some(SimDuration::ZERO),
                policies: vec![ScalingPolicy::pods(4, SimDuration::from_secs(60))],
                ..Default::default()
            }),
        }),
        ..HpaSpec::new(1, 100, vec![rps(100.0)])
    };
    let mut hpa = Hpa::new();
    let mut current = 10;
    let mut seen = Vec::new();
    for t in (0..=120).step_by(15) {
        let d = run(
            &mut hpa,
            &spec,
            t,
            current,
            &pods(current as usize, 50.0 / current as f64),
        );
        current = d.desired_replicas;
        seen.push(current);
    }
    assert_eq!(seen, vec![6, 6, 6, 6, 2, 2, 2, 2, 1]);
}

#[test]
fn documented_scale_up_percent_900() {
    // scaleUp: Percent 900 per 15 s: from 1, ⌈1 × (1 + 9)⌉ = 10 at once.
    let spec = HpaSpec {
        behavior: Some(Behavior {
            scale_up: Some(ScalingRules {
                policies: vec![ScalingPolicy::percent(900, SimDuration::from_secs(15))],
                ..Default::default()
            }),
            scale_down: None,
        }),
        ..HpaSpec::new(1, 100, vec![rps(100.0)])
    };
    assert_eq!(once(&spec, 1, &pods(1, 5000.0)).desired_replicas, 10);
}

#[test]
fn scale_up_stabilization_window_holds_the_lowest_recommendation() {
    // scaleUp window 60 s. Records: the first sync's current 3 and raw 3 at 0 s; raw 10 from
    // 15 s on (3 pods at 333 → ⌈3.33 × 3⌉ = 10). up = min(raw, records after now − 60 s):
    // 3 while the records at 0 s are inside, so the count stays at 3 (ScaleUpStabilized); at
    // 60 s they sit exactly at the cutoff and drop out (After is strict): up = 10, and the
    // default rate limit gives max(3 + 4, ⌈3 × 2⌉) = 7.
    let spec = HpaSpec {
        behavior: Some(Behavior {
            scale_up: Some(ScalingRules {
                stabilization_window: Some(SimDuration::from_secs(60)),
                ..Default::default()
            }),
            scale_down: None,
        }),
        ..HpaSpec::new(1, 100, vec![rps(100.0)])
    };
    let mut hpa = Hpa::new();
    let d = run(&mut hpa, &spec, 0, 3, &pods(3, 100.0));
    assert_eq!(d.desired_replicas, 3);
    for t in [15, 30, 45] {
        let d = run(&mut hpa, &spec, t, 3, &pods(3, 333.0));
        assert_eq!(d.recommendation, Some(10));
        assert_eq!(
            (d.desired_replicas, d.reason),
            (3, HpaReason::ScaleUpStabilized),
            "t = {t}"
        );
    }
    let d = run(&mut hpa, &spec, 60, 3, &pods(3, 333.0));
    assert_eq!((d.desired_replicas, d.reason), (7, HpaReason::ScaleUpLimit));
}

#[test]
fn validation_rejects_what_the_api_server_rejects() {
    use drydock_core::autoscale::hpa::HpaSpecError;
    assert_eq!(
        HpaSpec::new(1, 5, vec![]).validate(),
        Err(HpaSpecError::NoMetrics)
    );
    assert!(matches!(
        HpaSpec::new(6, 5, vec![rps(1.0)]).validate(),
        Err(HpaSpecError::Bounds { .. })
    ));
    assert_eq!(
        HpaSpec::new(0, 5, vec![rps(1.0)]).validate(),
        Err(HpaSpecError::ScaleToZeroNeedsObjectMetric)
    );
    let pods_value = MetricSpec::Pods {
        name: "x".into(),
        target: MetricTarget::Value(1.0),
    };
    assert_eq!(
        HpaSpec::new(1, 5, vec![pods_value]).validate(),
        Err(HpaSpecError::TargetKind { metric: 0 })
    );
    assert_eq!(
        HpaSpec::new(1, 5, vec![rps(0.0)]).validate(),
        Err(HpaSpecError::Target { metric: 0 })
    );
    assert_eq!(HpaSpec::new(1, 5, vec![rps(1.0)]).validate(), Ok(()));
}
