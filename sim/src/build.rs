//! Turning a validated [`Scenario`] into the simulation's initial state: the cluster's nodes and
//! the list of jobs (from inline training jobs and trace files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use drydock_core::{
    Cluster, GpuRequest, MILLI_PER_GPU, Node, PodRequest, PodSpec, Pool, PoolId, SimDuration,
    SimTime, Taint, Toleration,
};
use drydock_scenarios::trace::{self, OpenbPod};
use drydock_scenarios::{
    Scenario, TaintSpec, TolerationSpec, TraceFormat, TraceMode, TraceSpec, node_name,
};
use rand_core::Rng;

use crate::SimError;
use crate::model::SpecId;
use crate::progress::Checkpointing;
use crate::rng::stream;

/// Label carrying the node's pool name.
pub const LABEL_POOL: &str = "drydock.io/pool";
/// Label carrying the GPU model, as NVIDIA's GPU feature discovery names it.
pub const LABEL_GPU_PRODUCT: &str = "nvidia.com/gpu.product";
/// Well-known zone label.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";

/// A job before it enters the world.
#[derive(Debug, Clone)]
pub struct JobPlan {
    /// Name.
    pub name: String,
    /// Arrival.
    pub arrival: SimTime,
    /// Worker pod specs (one per worker).
    pub workers: u32,
    /// Spec of all but the last worker.
    pub spec: SpecId,
    /// Spec of the last worker.
    pub last_spec: SpecId,
    /// Work at full gang.
    pub work: Option<SimDuration>,
    /// Checkpointing.
    pub checkpoint: Option<Checkpointing>,
    /// Restart overhead.
    pub restart_overhead: SimDuration,
    /// Backoff limit.
    pub backoff_limit: u32,
    /// Priority.
    pub priority: i32,
    /// One scheduling attempt only.
    pub one_attempt: bool,
}

/// Everything the engine starts from.
#[derive(Debug, Default)]
pub struct Plan {
    /// The cluster with empty nodes.
    pub cluster: Cluster,
    /// Zone of each node (index = node id), if any.
    pub zones: Vec<Option<String>>,
    /// Distinct pod specs.
    pub specs: Vec<PodSpec>,
    /// Jobs in creation order.
    pub jobs: Vec<JobPlan>,
    /// Pod spec of each service's replicas (index = service).
    pub service_specs: Vec<SpecId>,
}

/// Interns pod specs so pods of equal shape share one.
#[derive(Default)]
struct SpecTable {
    specs: Vec<PodSpec>,
    index: BTreeMap<String, u32>,
}

impl SpecTable {
    fn intern(&mut self, spec: PodSpec) -> SpecId {
        // A stable textual key: PodSpec has no total order of its own.
        let key = format!("{spec:?}");
        if let Some(&i) = self.index.get(&key) {
            return SpecId(i);
        }
        let i = self.specs.len() as u32;
        self.specs.push(spec);
        self.index.insert(key, i);
        SpecId(i)
    }
}

fn taint(t: &TaintSpec) -> Taint {
    Taint {
        key: t.key.clone(),
        value: t.value.clone(),
        effect: t.effect,
    }
}

fn toleration(t: &TolerationSpec) -> Toleration {
    Toleration {
        key: t.key.clone(),
        exists: t.exists,
        value: t.value.clone(),
        effect: t.effect,
    }
}

fn data_path(data_dir: Option<&Path>, rel: &Path) -> PathBuf {
    match data_dir {
        Some(d) => d.join(rel),
        None => rel.to_path_buf(),
    }
}

/// Builds the initial state.
///
/// # Errors
/// [`SimError::Trace`] when a trace file is missing or malformed (the message names the path
/// tried, or the CSV row); [`SimError::Input`] when the scenario cannot be realised (for
/// example a GPU model constraint no node has, or more than 65,535 workers in a gang).
pub fn plan(scenario: &Scenario, data_dir: Option<&Path>, seed: u64) -> Result<Plan, SimError> {
    let mut plan = Plan::default();
    let mut specs = SpecTable::default();
    build_cluster(scenario, data_dir, &mut plan)?;

    for t in &scenario.training {
        if t.workers == 0 || t.workers > 65_535 {
            return Err(SimError::Input(format!(
                "training job `{}`: workers must be between 1 and 65535 (got {})",
                t.name, t.workers
            )));
        }
        let mut spec = PodSpec::new(PodRequest {
            cpu_milli: t.cpu_milli,
            memory_mib: t.memory_mib,
            gpu: GpuRequest::whole(t.gpus_per_worker),
        });
        spec.priority = t.priority;
        spec.gpu_models = models(&mut plan.cluster, &t.gpu_models);
        spec.node_selector = t.node_selector.clone();
        spec.tolerations = t.tolerations.iter().map(toleration).collect();
        let id = specs.intern(spec);
        let ckpt = t.checkpoint_interval.map(|i| Checkpointing {
            interval: i,
            cost: t.checkpoint_cost,
        });
        for k in 0..t.count.max(1) {
            let name = if t.count > 1 {
                format!("{}-{k}", t.name)
            } else {
                t.name.clone()
            };
            plan.jobs.push(JobPlan {
                name,
                arrival: SimTime(
                    t.arrival
                        .0
                        .saturating_add(t.interval.0.saturating_mul(k as u64)),
                ),
                workers: t.workers,
                spec: id,
                last_spec: id,
                work: Some(t.work),
                checkpoint: ckpt,
                restart_overhead: t.restart_overhead,
                backoff_limit: t.backoff_limit,
                priority: t.priority,
                one_attempt: false,
            });
        }
    }

    for svc in &scenario.services {
        let mut spec = PodSpec::new(PodRequest {
            cpu_milli: svc.cpu_milli,
            memory_mib: svc.memory_mib,
            gpu: GpuRequest::whole(svc.gpus_per_replica),
        });
        spec.priority = svc.priority;
        spec.gpu_models = models(&mut plan.cluster, &svc.gpu_models);
        spec.node_selector = svc.node_selector.clone();
        spec.tolerations = svc.tolerations.iter().map(toleration).collect();
        plan.service_specs.push(specs.intern(spec));
    }

    for (ti, t) in scenario.traces.iter().enumerate() {
        let path = data_path(data_dir, &t.path);
        match t.format {
            TraceFormat::AlibabaOpenb => openb_jobs(t, ti, &path, seed, &mut plan, &mut specs)?,
            TraceFormat::Philly => philly_jobs(t, ti, &path, seed, &mut plan, &mut specs)?,
        }
    }
    plan.specs = specs.specs;
    Ok(plan)
}

fn models(cluster: &mut Cluster, names: &[String]) -> Vec<drydock_core::GpuModel> {
    names.iter().map(|m| cluster.intern_model(m)).collect()
}

fn build_cluster(
    scenario: &Scenario,
    data_dir: Option<&Path>,
    plan: &mut Plan,
) -> Result<(), SimError> {
    let cluster = &mut plan.cluster;
    for p in &scenario.cluster.pools {
        let pool = PoolId(cluster.pools.len() as u16);
        cluster.pools.push(Pool {
            name: p.name.clone(),
            price_per_node_hour: p.price_per_node_hour,
        });
        let model = p.gpu_model.as_deref().map(|m| cluster.intern_model(m));
        for i in 0..p.nodes {
            let mut labels = p.labels.clone();
            labels.insert(LABEL_POOL.to_string(), p.name.clone());
            if let Some(m) = &p.gpu_model {
                labels.insert(LABEL_GPU_PRODUCT.to_string(), m.clone());
            }
            let zone = (!p.zones.is_empty()).then(|| p.zones[i as usize % p.zones.len()].clone());
            if let Some(z) = &zone {
                labels.insert(LABEL_ZONE.to_string(), z.clone());
            }
            cluster.nodes.push(Node {
                name: node_name(&p.name, i, p.nodes),
                pool,
                gpu_model: if p.gpus_per_node > 0 { model } else { None },
                cpu_allocatable: p.cpu_milli,
                memory_allocatable: p.memory_mib,
                cpu_free: p.cpu_milli,
                memory_free: p.memory_mib,
                gpu_free: vec![MILLI_PER_GPU; p.gpus_per_node as usize],
                labels,
                taints: p.taints.iter().map(taint).collect(),
                unschedulable: false,
                pods: Vec::new(),
            });
            plan.zones.push(zone);
        }
    }
    if let Some(nt) = &scenario.cluster.node_trace {
        let path = data_path(data_dir, &nt.path);
        let rows = trace::read_openb_nodes(&path)?;
        let mut pool_of: BTreeMap<String, PoolId> = BTreeMap::new();
        for r in rows {
            let pool_name = match &r.model {
                Some(m) if r.gpus > 0 => format!("openb-{m}-{}g", r.gpus),
                _ => "openb-cpu".to_string(),
            };
            let price = if r.gpus > 0 {
                nt.price_per_gpu_hour * r.gpus as f64
            } else {
                nt.cpu_node_price_per_hour
            };
            let pool = *pool_of.entry(pool_name.clone()).or_insert_with(|| {
                cluster.pools.push(Pool {
                    name: pool_name.clone(),
                    price_per_node_hour: price,
                });
                PoolId((cluster.pools.len() - 1) as u16)
            });
            let model = match &r.model {
                Some(m) if r.gpus > 0 => Some(cluster.intern_model(m)),
                _ => None,
            };
            let mut labels = BTreeMap::new();
            labels.insert(LABEL_POOL.to_string(), pool_name);
            if let (Some(m), true) = (&r.model, r.gpus > 0) {
                labels.insert(LABEL_GPU_PRODUCT.to_string(), m.clone());
            }
            cluster.nodes.push(Node {
                name: r.name,
                pool,
                gpu_model: model,
                cpu_allocatable: r.cpu_milli,
                memory_allocatable: r.memory_mib,
                cpu_free: r.cpu_milli,
                memory_free: r.memory_mib,
                gpu_free: vec![MILLI_PER_GPU; r.gpus as usize],
                labels,
                taints: Vec::new(),
                unschedulable: false,
                pods: Vec::new(),
            });
            plan.zones.push(None);
        }
    }
    Ok(())
}

/// Records of a trace kept after windowing (`start`, `end` relative to the first submission),
/// sampling and `limit`, as indices into `times` (seconds, any origin), in time order (ties in
/// file order).
fn window(times: &[f64], t: &TraceSpec, rng: &mut dyn Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[a].total_cmp(&times[b]).then(a.cmp(&b)));
    let Some(&first) = order.first() else {
        return order;
    };
    let t0 = times[first];
    let start = t.start.as_secs_f64();
    let end = t.end.map(|e| e.as_secs_f64());
    let mut kept = Vec::new();
    for i in order {
        let rel = times[i] - t0;
        if rel < start || end.is_some_and(|e| rel >= e) {
            continue;
        }
        if t.sample < 1.0 && drydock_core::rng::unit_f64(rng) >= t.sample {
            continue;
        }
        kept.push(i);
        if t.limit.is_some_and(|l| kept.len() as u64 >= l) {
            break;
        }
    }
    kept
}

fn openb_spec(cluster: &mut Cluster, p: &OpenbPod, priority: i32) -> PodSpec {
    let gpu = if p.num_gpu == 0 || p.gpu_milli == 0 {
        GpuRequest::NONE
    } else if p.num_gpu == 1 {
        GpuRequest::shared(p.gpu_milli)
    } else {
        GpuRequest {
            count: p.num_gpu,
            milli: p.gpu_milli,
        }
    };
    let mut spec = PodSpec::new(PodRequest {
        cpu_milli: p.cpu_milli,
        memory_mib: p.memory_mib,
        gpu,
    });
    spec.priority = priority;
    spec.gpu_models = models(cluster, &p.gpu_spec);
    spec
}

fn openb_jobs(
    t: &TraceSpec,
    ti: usize,
    path: &Path,
    seed: u64,
    plan: &mut Plan,
    specs: &mut SpecTable,
) -> Result<(), SimError> {
    let mut pods = trace::read_openb_pods(path)?;
    let mut sample_rng = stream(seed, &format!("trace-sample/{ti}"));
    let one = |p: &OpenbPod| p.creation_time.unwrap_or(0) as f64;
    match t.mode {
        TraceMode::Replay => {
            let times: Vec<f64> = pods.iter().map(one).collect();
            let kept = window(&times, t, &mut sample_rng);
            let t0 = kept.first().map(|&i| times[i]).unwrap_or(0.0);
            for i in kept {
                let p = &pods[i];
                let spec = specs.intern(openb_spec(&mut plan.cluster, p, t.priority));
                let work = match (p.creation_time, p.deletion_time) {
                    (Some(c), Some(d)) if d > c => {
                        Some(SimDuration::from_secs_f64((d - c) as f64 * t.time_scale))
                    }
                    _ => None,
                };
                plan.jobs.push(JobPlan {
                    name: p.name.clone(),
                    arrival: SimTime(SimDuration::from_secs_f64((times[i] - t0) * t.time_scale).0),
                    workers: 1,
                    spec,
                    last_spec: spec,
                    work,
                    checkpoint: None,
                    restart_overhead: t.restart_overhead,
                    backoff_limit: t.backoff_limit,
                    priority: t.priority,
                    one_attempt: false,
                });
            }
        }
        TraceMode::ArrivalsOnly => {
            // The study sorts pods by name, then shuffles with the seed (§10.4 [src]).
            if t.limit.is_some() || t.sample < 1.0 || t.start.0 > 0 || t.end.is_some() {
                let times: Vec<f64> = pods.iter().map(one).collect();
                let kept = window(&times, t, &mut sample_rng);
                let mut keep = vec![false; pods.len()];
                for i in kept {
                    keep[i] = true;
                }
                let mut i = 0;
                pods.retain(|_| {
                    i += 1;
                    keep[i - 1]
                });
            }
            pods.sort_by(|a, b| a.name.cmp(&b.name));
            let capacity = plan.cluster.gpu_capacity_milli();
            let original = pods.len();
            let mut names: Vec<String> = pods.iter().map(|p| p.name.clone()).collect();
            if let Some(target) = t.inflate_to {
                // The study's workload tuning (§10.4 [src]): draw pods uniformly with
                // replacement and append copies until the next copy would push the requested
                // GPU above target × capacity; if the trace already exceeds the target, remove
                // random pods instead.
                let mut rng = stream(seed, &format!("trace-inflate/{ti}"));
                let total = |p: &OpenbPod| p.num_gpu as u64 * p.gpu_milli as u64;
                let mut requested: u64 = pods.iter().map(total).sum();
                let limit = (target * capacity as f64) as u64;
                if requested == 0 {
                    return Err(SimError::Input(format!(
                        "{}: inflateTo needs pods that request GPUs, and none of the {original} pods does",
                        path.display()
                    )));
                }
                if requested > limit {
                    while requested > limit && !pods.is_empty() {
                        let k =
                            drydock_core::rng::uniform_below(&mut rng, pods.len() as u64) as usize;
                        requested -= total(&pods[k]);
                        pods.swap_remove(k);
                        names.swap_remove(k);
                    }
                } else {
                    // At most this many copies: far beyond any sensible inflation.
                    let max_copies = (original as u64).saturating_mul(1000).max(1000);
                    let mut copies = 0u64;
                    loop {
                        let k =
                            drydock_core::rng::uniform_below(&mut rng, original as u64) as usize;
                        let add = total(&pods[k]);
                        if requested + add > limit {
                            break;
                        }
                        requested += add;
                        copies += 1;
                        if copies > max_copies {
                            return Err(SimError::Input(format!(
                                "{}: inflateTo {target} needs more than {max_copies} copies of the trace's pods; lower it or use GPU pods",
                                path.display()
                            )));
                        }
                        names.push(format!("{}-copy{copies}", pods[k].name));
                        let copy = pods[k].clone();
                        pods.push(copy);
                    }
                }
            }
            let mut order: Vec<usize> = (0..pods.len()).collect();
            if t.shuffle {
                let mut rng = stream(seed, &format!("trace-shuffle/{ti}"));
                // Fisher–Yates.
                for i in (1..order.len()).rev() {
                    let j = drydock_core::rng::uniform_below(&mut rng, i as u64 + 1) as usize;
                    order.swap(i, j);
                }
            }
            for (k, &i) in order.iter().enumerate() {
                let p = &pods[i];
                let spec = specs.intern(openb_spec(&mut plan.cluster, p, t.priority));
                plan.jobs.push(JobPlan {
                    name: names[i].clone(),
                    arrival: SimTime(t.inter_arrival.0.saturating_mul(k as u64)),
                    workers: 1,
                    spec,
                    last_spec: spec,
                    work: None,
                    checkpoint: None,
                    restart_overhead: SimDuration::ZERO,
                    backoff_limit: t.backoff_limit,
                    priority: t.priority,
                    one_attempt: true,
                });
            }
        }
    }
    Ok(())
}

fn philly_jobs(
    t: &TraceSpec,
    ti: usize,
    path: &Path,
    seed: u64,
    plan: &mut Plan,
    specs: &mut SpecTable,
) -> Result<(), SimError> {
    let rows = trace::read_philly(path)?;
    let times: Vec<f64> = rows.iter().map(|r| r.submit_unix_s as f64).collect();
    let mut rng = stream(seed, &format!("trace-sample/{ti}"));
    let kept = window(&times, t, &mut rng);
    let t0 = kept.first().map(|&i| times[i]).unwrap_or(0.0);
    let g = t.gpus_per_worker.max(1);
    let ckpt = t.checkpoint_interval.map(|i| Checkpointing {
        interval: i,
        cost: t.checkpoint_cost,
    });
    let mut spec_of = |cluster: &mut Cluster, gpus: u32| {
        let _ = cluster;
        let mut s = PodSpec::new(PodRequest {
            cpu_milli: t.cpu_per_gpu_milli * gpus.max(1) as u64,
            memory_mib: t.memory_per_gpu_mib * gpus.max(1) as u64,
            gpu: GpuRequest::whole(gpus),
        });
        s.priority = t.priority;
        specs.intern(s)
    };
    let width = (rows.len().max(1) as f64).log10().floor() as usize + 1;
    for i in kept {
        let r = &rows[i];
        let workers = r.num_gpus.div_ceil(g).max(1);
        let per = r.num_gpus.min(g);
        let last = r.num_gpus.saturating_sub(g * (workers - 1));
        let spec = spec_of(&mut plan.cluster, per);
        let last_spec = spec_of(&mut plan.cluster, last);
        plan.jobs.push(JobPlan {
            name: format!("philly-{i:0width$}"),
            arrival: SimTime(SimDuration::from_secs_f64((times[i] - t0) * t.time_scale).0),
            workers,
            spec,
            last_spec,
            work: Some(SimDuration::from_secs_f64(r.duration_s * t.time_scale).max(SimDuration(1))),
            checkpoint: ckpt,
            restart_overhead: t.restart_overhead,
            backoff_limit: t.backoff_limit,
            priority: t.priority,
            one_attempt: false,
        });
    }
    Ok(())
}
