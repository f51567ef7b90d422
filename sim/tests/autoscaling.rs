//! Properties of runs with inference services, the HorizontalPodAutoscaler and the Cluster
//! Autoscaler, over random scenarios: an autoscaled GPU pool (some nodes spot), a service with
//! an HPA under Poisson traffic with a spike, and optional training gangs that may be preempted.

use drydock_sim::Simulation;
use drydock_sim::report::Summary;
use proptest::prelude::*;

/// A random scenario and the bounds it sets.
#[derive(Debug, Clone)]
struct Case {
    yaml: String,
    pool_min: u32,
    pool_max: u32,
    hpa_min: u32,
    hpa_max: u32,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (0u32..3, 1u32..5, prop_oneof![Just(1u32), Just(2), Just(4), Just(8)]),
        (1u32..3, 1u32..8, 1u32..3),
        (1u32..40, 2u32..8, any::<bool>(), 0u32..4, any::<bool>()),
        (1u64..1000, any::<bool>()),
    )
        .prop_map(
            |(
                (pool_min, extra, gpus),
                (hpa_min, hpa_extra, gpus_per_replica),
                (rate, multiplier, behavior, training, spot),
                (seed, stockout),
            )| {
                let pool_max = pool_min + extra;
                let hpa_max = hpa_min + hpa_extra;
                let gpus_per_replica = gpus_per_replica.min(gpus);
                let behavior = if behavior {
                    "\n        behavior: {scaleDown: {stabilizationWindow: 1m, policies: [{type: Pods, value: 1, period: 30s}]}}"
                } else {
                    ""
                };
                let spot = if spot {
                    "\n        spot: {meanTimeToInterruption: 1h, notice: 1m}"
                } else {
                    ""
                };
                let stockout = if stockout { 0.3 } else { 0.0 };
                let mut yaml = format!(
                    "apiVersion: drydock/v1alpha1
kind: Scenario
metadata: {{name: prop}}
spec:
  seed: {seed}
  duration: 3h
  sampleInterval: 2m
  cluster:
    pools:
      - name: gpu
        nodes: {pool_min}
        gpuModel: A100
        gpusPerNode: {gpus}
        cpu: \"96\"
        memory: 1Ti
        pricePerNodeHour: 7.5
        autoscaling: {{minNodes: {pool_min}, maxNodes: {pool_max}, provisioningTime: {{kind: uniform, min: 1m, max: 6m}}, stockoutProbability: {stockout}}}{spot}
    autoscaler:
      scaleDown: {{unneededTime: 5m, delayAfterAdd: 5m}}
  services:
    - name: web
      replicas: {hpa_min}
      priority: 100
      gpusPerReplica: {gpus_per_replica}
      cpu: \"4\"
      memory: 16Gi
      startup:
        imagePull: {{kind: uniform, min: 5s, max: 30s}}
        modelLoad: {{kind: fixed, value: 20s}}
      generic: {{serviceTime: {{kind: exponential, mean: 400ms}}, concurrency: 4}}
      queue: {{capacity: 32, timeout: 10s}}
      slo: {{latency: 2s}}
      traffic:
        spike: {{at: 1h, rampUp: 5m, hold: 20m, rampDown: 5m, multiplier: {multiplier}, of: {{poisson: {{rate: {rate}}}}}}}
      autoscaling:
        minReplicas: {hpa_min}
        maxReplicas: {hpa_max}
        metrics: [{{type: requests-per-second, averageValue: 5}}]{behavior}
"
                );
                if training > 0 {
                    yaml.push_str(&format!(
                        "  training:\n    - {{name: t, arrival: 10m, count: {training}, interval: 20m, workers: 1, gpusPerWorker: {gpus}, work: 40m, checkpointInterval: 10m}}\n"
                    ));
                }
                Case {
                    yaml,
                    pool_min,
                    pool_max,
                    hpa_min,
                    hpa_max,
                }
            },
        )
}

fn run(c: &Case) -> Result<(Summary, Vec<drydock_sim::metrics::Sample>), TestCaseError> {
    let sc = drydock_scenarios::load_str(&c.yaml, "prop.yaml")
        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", c.yaml)))?;
    let mut sim =
        Simulation::new(&sc, None, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
    sim.run(|_| {})
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok((sim.summary(), sim.timeseries()))
}

fn col(s: &drydock_sim::metrics::Sample, name: &str) -> f64 {
    s.extra
        .iter()
        .find(|(k, _)| k == name)
        .map_or(f64::NAN, |(_, v)| *v)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Every HPA decision stays within [minReplicas, maxReplicas]; every Cluster Autoscaler
    /// decision keeps the pool within [minNodes, maxNodes]; replicas stay within the HPA's
    /// bounds and ready replicas never exceed them at any sample; no request is lost (arrived = completed + dropped + in flight); cost is the sum
    /// of node-hours times price; no training job is lost.
    #[test]
    fn autoscaling_invariants(c in case()) {
        let (s, samples) = run(&c)?;
        for d in &s.autoscaling.decisions {
            match d.actor.as_str() {
                "hpa" => prop_assert!(
                    (c.hpa_min..=c.hpa_max).contains(&d.to),
                    "HPA decision {:?} outside [{}, {}]", d, c.hpa_min, c.hpa_max
                ),
                "cluster-autoscaler" if d.to > d.from => prop_assert!(
                    d.to <= c.pool_max,
                    "scale-up {:?} above maxNodes {}", d, c.pool_max
                ),
                "cluster-autoscaler" if d.to < d.from && d.reason.contains("unneeded") => prop_assert!(
                    d.to >= c.pool_min,
                    "scale-down {:?} below minNodes {}", d, c.pool_min
                ),
                _ => {}
            }
        }
        for r in &samples {
            let (ready, replicas) = (col(r, "web_ready_replicas"), col(r, "web_replicas"));
            prop_assert!(ready <= replicas, "ready {} > replicas {} at {}", ready, replicas, r.time_s);
            prop_assert!(replicas <= f64::from(c.hpa_max) && replicas >= f64::from(c.hpa_min));
        }
        let v = &s.services[0];
        prop_assert_eq!(v.requests, v.completed + v.dropped.total + v.in_flight);
        let priced: f64 = s.cost.pools.iter().map(|p| p.node_hours * p.price_per_node_hour).sum();
        prop_assert!((s.cost.total - priced).abs() <= 1e-6 * s.cost.total.max(1.0));
        prop_assert!(s.jobs.submitted == s.jobs.completed + s.jobs.failed + s.jobs.pending + s.jobs.running);
    }

    /// The same scenario and seed give the same report, byte for byte.
    #[test]
    fn autoscaling_runs_are_deterministic(c in case()) {
        let (a, ta) = run(&c)?;
        let (b, tb) = run(&c)?;
        prop_assert_eq!(serde_json::to_string(&a).expect("json"), serde_json::to_string(&b).expect("json"));
        prop_assert_eq!(ta, tb);
    }
}
