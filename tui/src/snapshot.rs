//! What the UI shows of a simulation, and the [`Driver`] that owns the simulation and makes
//! those snapshots. The driver is plain synchronous code: the sim thread wraps it, and tests
//! call it directly for deterministic screens.

use std::path::PathBuf;

use drydock_core::{NodeId, SimDuration, SimTime};
use drydock_scenarios::Scenario;
use drydock_sim::model::{Job, JobName, JobStatus, Phase};
use drydock_sim::{SimError, Simulation};

/// Repair time of a node failed from the UI.
pub const INJECTED_REPAIR: SimDuration = SimDuration::from_hours(1);

/// Lines kept in the event log.
const LOG_CAP: usize = 500;

/// The state of one GPU device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuCell {
    /// Fully free.
    Free,
    /// Fully allocated.
    Busy,
    /// Partly allocated (shared between pods).
    Shared,
    /// On a node that is down.
    Failed,
}

/// One node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    /// Node id.
    pub id: NodeId,
    /// Node name.
    pub name: String,
    /// Pool index.
    pub pool: usize,
    /// Each GPU device.
    pub gpus: Vec<GpuCell>,
    /// Pods bound.
    pub pods: usize,
    /// Up (not crashed).
    pub up: bool,
    /// Marked NotReady by the node lifecycle controller.
    pub not_ready: bool,
}

/// One node pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolView {
    /// Pool name.
    pub name: String,
    /// GPU model, if any.
    pub model: Option<String>,
    /// Node indexes (into [`Snapshot::nodes`]).
    pub nodes: Vec<usize>,
}

impl PoolView {
    /// Counts of (busy, shared, free, failed) GPUs and nodes down in this pool.
    pub fn counts(&self, nodes: &[NodeView]) -> PoolCounts {
        let mut c = PoolCounts::default();
        for &i in &self.nodes {
            let n = &nodes[i];
            if !n.up {
                c.down += 1;
            }
            for g in &n.gpus {
                match g {
                    GpuCell::Busy => c.busy += 1,
                    GpuCell::Shared => c.shared += 1,
                    GpuCell::Free => c.free += 1,
                    GpuCell::Failed => c.failed += 1,
                }
            }
        }
        c
    }
}

/// GPU and node counts of a pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolCounts {
    /// Fully allocated GPUs.
    pub busy: usize,
    /// Partly allocated GPUs.
    pub shared: usize,
    /// Free GPUs.
    pub free: usize,
    /// GPUs on nodes that are down.
    pub failed: usize,
    /// Nodes down.
    pub down: usize,
}

/// A job waiting to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRow {
    /// Job name.
    pub name: String,
    /// Time waited so far.
    pub waiting: SimDuration,
    /// Why it waits.
    pub reason: String,
}

/// A job that has arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView {
    /// Job name.
    pub name: String,
    /// Phase.
    pub phase: Phase,
    /// Progress in percent (0..=100).
    pub progress: u8,
    /// Restarts after failures.
    pub restarts: u32,
    /// Preemptions.
    pub preemptions: u32,
    /// Workers and GPUs per gang (display only).
    pub workers: u32,
}

/// A notable event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When.
    pub at: SimTime,
    /// What happened.
    pub text: String,
}

/// Everything the UI draws of a simulation at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Scenario name.
    pub scenario: String,
    /// Seed in use.
    pub seed: u64,
    /// Virtual time shown.
    pub now: SimTime,
    /// The scenario's end.
    pub end: SimTime,
    /// Events processed.
    pub events: u64,
    /// The run is over.
    pub finished: bool,
    /// Node pools.
    pub pools: Vec<PoolView>,
    /// Nodes, by id.
    pub nodes: Vec<NodeView>,
    /// Waiting jobs, in queue order.
    pub queue: Vec<QueueRow>,
    /// Arrived jobs, by index.
    pub jobs: Vec<JobView>,
    /// The most recent notable events, oldest first.
    pub log: Vec<LogLine>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct JobMark {
    phase: Phase,
    restarts: u32,
    preemptions: u32,
}

/// Owns a simulation and its inputs; advances it and makes snapshots.
pub struct Driver {
    scenario: Scenario,
    data_dir: Option<PathBuf>,
    seed: Option<u64>,
    sim: Simulation,
    clock: SimTime,
    log: Vec<LogLine>,
    nodes_seen: Vec<(bool, bool)>,
    jobs_seen: Vec<JobMark>,
}

impl Driver {
    /// Builds the simulation of `scenario`.
    ///
    /// # Errors
    /// As [`Simulation::new`].
    pub fn new(
        scenario: Scenario,
        data_dir: Option<PathBuf>,
        seed: Option<u64>,
    ) -> Result<Self, SimError> {
        let sim = Simulation::new(&scenario, data_dir.as_deref(), seed)?;
        let mut d = Driver {
            scenario,
            data_dir,
            seed,
            sim,
            clock: SimTime::ZERO,
            log: Vec::new(),
            nodes_seen: Vec::new(),
            jobs_seen: Vec::new(),
        };
        d.observe();
        Ok(d)
    }

    /// The simulation.
    pub fn sim(&self) -> &Simulation {
        &self.sim
    }

    /// The virtual time shown (the paced clock, at or after the last event).
    pub fn clock(&self) -> SimTime {
        self.clock
    }

    /// True once the run is over.
    pub fn is_finished(&self) -> bool {
        self.sim.is_finished()
    }

    /// Processes at most `max_events` events up to `until` and moves the clock there.
    ///
    /// # Errors
    /// As [`Simulation::run_batch`].
    pub fn advance(&mut self, max_events: u64, until: SimTime) -> Result<u64, SimError> {
        let until = until.min(self.sim.end());
        let (n, t) = self.sim.run_batch(max_events, until)?;
        match t {
            // Stopped early on the event budget: the clock is the last event's time.
            Some(t) if n == max_events => self.clock = self.clock.max(t),
            Some(_) => self.clock = self.clock.max(until),
            None => self.clock = self.clock.max(self.sim.now()),
        }
        self.observe();
        Ok(n)
    }

    /// Processes exactly one event; the clock moves to its time.
    ///
    /// # Errors
    /// As [`Simulation::step`].
    pub fn step(&mut self) -> Result<(), SimError> {
        if let Some(t) = self.sim.step()? {
            self.clock = self.clock.max(t);
        }
        self.observe();
        Ok(())
    }

    /// Goes to virtual time `t`: forwards by running, backwards by replaying the run from
    /// the start (with the failures injected so far before `t`).
    ///
    /// # Errors
    /// As [`Simulation::replay`].
    pub fn jump_to(&mut self, t: SimTime) -> Result<(), SimError> {
        if t >= self.clock {
            // In slices, so that the event log's times stay close to the truth.
            let slice = SimDuration::from_mins(1).0.max((t.0 - self.clock.0) / 2000);
            while self.clock < t && !self.is_finished() {
                let next = SimTime(self.clock.0.saturating_add(slice)).min(t);
                self.advance(u64::MAX, next)?;
            }
            return Ok(());
        }
        let injected = self.sim.injected().to_vec();
        self.sim = Simulation::replay(
            &self.scenario,
            self.data_dir.as_deref(),
            self.seed,
            &injected,
            t,
        )?;
        self.clock = t;
        self.log.retain(|l| l.at <= t);
        self.nodes_seen.clear();
        self.jobs_seen.clear();
        self.observe_quietly();
        Ok(())
    }

    /// Crashes node `node` now; it is repaired after [`INJECTED_REPAIR`].
    ///
    /// # Errors
    /// As [`Simulation::fail_node`].
    pub fn fail_node(&mut self, node: NodeId) -> Result<(), SimError> {
        self.sim.fail_node(node, Some(INJECTED_REPAIR))?;
        // The failure takes effect at once: process it (it is the last event at this time).
        let now = self.sim.now();
        self.advance(u64::MAX, now.max(self.clock))?;
        Ok(())
    }

    fn observe_quietly(&mut self) {
        let log = std::mem::take(&mut self.log);
        self.observe();
        self.log = log;
    }

    /// Compares the state with the last one seen and logs what changed.
    fn observe(&mut self) {
        let Some(st) = self.sim.state() else {
            return;
        };
        let now = self.sim.now();
        let world = self.sim.world();
        let mut new = Vec::new();
        self.nodes_seen.resize(st.health.len(), (true, false));
        for (i, h) in st.health.iter().enumerate() {
            let (up, nr) = self.nodes_seen[i];
            let name = &st.cluster.nodes[i].name;
            if up && !h.up {
                let at = h.down_since.unwrap_or(now);
                new.push(LogLine {
                    at,
                    text: format!("node {name} failed"),
                });
            }
            if !nr && h.not_ready {
                // The node lifecycle controller's first tick after the grace period.
                let p = st.config.monitor_period.0.max(1);
                let at = h.down_since.map_or(now, |d| {
                    SimTime(
                        d.saturating_add(st.config.grace)
                            .0
                            .div_ceil(p)
                            .saturating_mul(p),
                    )
                });
                new.push(LogLine {
                    at,
                    text: format!("node {name} NotReady, tainted unreachable"),
                });
            }
            if !up && h.up {
                new.push(LogLine {
                    at: now,
                    text: format!("node {name} repaired, Ready"),
                });
            }
            self.nodes_seen[i] = (h.up, h.not_ready);
        }
        let default = JobMark {
            phase: Phase::NotArrived,
            restarts: 0,
            preemptions: 0,
        };
        self.jobs_seen.resize(st.jobs.len(), default);
        for (i, &e) in st.jobs.iter().enumerate() {
            let (Some(s), Some(name)) = (world.get::<JobStatus>(e), world.get::<JobName>(e)) else {
                continue;
            };
            let old = self.jobs_seen[i];
            let name = &name.0;
            let at = |t: Option<SimTime>| t.unwrap_or(now);
            if old.phase == s.phase
                && old.restarts == s.restarts
                && old.preemptions == s.preemptions
            {
                continue;
            }
            if old.phase == Phase::Stalled && s.phase != Phase::Stalled {
                new.push(LogLine {
                    at: now,
                    text: format!("pods of {name} evicted"),
                });
            } else if s.phase == Phase::Stalled && old.phase != Phase::Stalled {
                new.push(LogLine {
                    at: at(s.stalled_at),
                    text: format!("{name} stalled (node down)"),
                });
            }
            if s.restarts > old.restarts {
                new.push(LogLine {
                    at: now,
                    text: format!("{name} restarted ({} so far)", s.restarts),
                });
            }
            if s.preemptions > old.preemptions {
                new.push(LogLine {
                    at: now,
                    text: format!("{name} preempted"),
                });
            }
            if s.phase == Phase::Running && old.phase != Phase::Running {
                new.push(LogLine {
                    at: at(Some(s.bound_at)),
                    text: format!("{name} running"),
                });
            }
            if s.phase == Phase::Completed && old.phase != Phase::Completed {
                new.push(LogLine {
                    at: at(s.finished),
                    text: format!("{name} completed"),
                });
            }
            if s.phase == Phase::Failed && old.phase != Phase::Failed {
                new.push(LogLine {
                    at: at(s.finished),
                    text: format!("{name} failed"),
                });
            }
            self.jobs_seen[i] = JobMark {
                phase: s.phase,
                restarts: s.restarts,
                preemptions: s.preemptions,
            };
        }
        new.sort_by_key(|l| l.at);
        self.log.extend(new);
        if self.log.len() > LOG_CAP {
            let cut = self.log.len() - LOG_CAP;
            self.log.drain(..cut);
        }
    }

    /// A snapshot of the current state.
    pub fn snapshot(&self) -> Snapshot {
        let mut snap = Snapshot {
            scenario: self.scenario.name.clone(),
            seed: self.sim.seed(),
            now: self.clock,
            end: self.sim.end(),
            events: self.sim.events(),
            finished: self.sim.is_finished(),
            log: self.log.clone(),
            ..Snapshot::default()
        };
        let Some(st) = self.sim.state() else {
            return snap;
        };
        let now = self.sim.now().max(self.clock);
        let c = &st.cluster;
        snap.pools = c
            .pools
            .iter()
            .map(|p| PoolView {
                name: p.name.clone(),
                model: None,
                nodes: Vec::new(),
            })
            .collect();
        for (i, n) in c.nodes.iter().enumerate() {
            let h = st.health[i];
            let gpus = n
                .gpu_free
                .iter()
                .map(|&free| {
                    if !h.up {
                        GpuCell::Failed
                    } else if free >= 1000 {
                        GpuCell::Free
                    } else if free == 0 {
                        GpuCell::Busy
                    } else {
                        GpuCell::Shared
                    }
                })
                .collect();
            let pool = n.pool.0 as usize;
            if let Some(p) = snap.pools.get_mut(pool) {
                p.nodes.push(i);
                if p.model.is_none() {
                    p.model = n
                        .gpu_model
                        .and_then(|m| c.gpu_models.get(m.0 as usize).cloned());
                }
            }
            snap.nodes.push(NodeView {
                id: NodeId(i as u32),
                name: n.name.clone(),
                pool,
                gpus,
                pods: n.pods.len(),
                up: h.up,
                not_ready: h.not_ready,
            });
        }
        let world = self.sim.world();
        let mut queue: Vec<(i32, SimTime, u32, QueueRow)> = Vec::new();
        for (i, &e) in st.jobs.iter().enumerate() {
            let (Some(s), Some(job), Some(name)) = (
                world.get::<JobStatus>(e),
                world.get::<Job>(e),
                world.get::<JobName>(e),
            ) else {
                continue;
            };
            if s.phase == Phase::NotArrived {
                continue;
            }
            let reason = match s.phase {
                Phase::Pending => Some(match s.last_unschedulable {
                    Some(u) if job.workers > 1 => {
                        format!("gang of {}: {}", job.workers, u.message())
                    }
                    Some(u) => u.message().to_string(),
                    None if s.parked_at.is_some() => {
                        "gang timed out; parked until the cluster changes".to_string()
                    }
                    None if !s.nominated.is_empty() => "waiting for preempted pods".to_string(),
                    None => "not tried yet".to_string(),
                }),
                Phase::Holding => {
                    let bound = s.bound.iter().filter(|b| b.is_some()).count();
                    Some(format!(
                        "gang incomplete ({bound}/{} pods bound)",
                        job.workers
                    ))
                }
                Phase::Backoff => Some("restart backoff".to_string()),
                _ => None,
            };
            if let Some(reason) = reason {
                queue.push((
                    -job.priority,
                    s.queued_since,
                    i as u32,
                    QueueRow {
                        name: name.0.to_string(),
                        waiting: now.since(s.queued_since),
                        reason,
                    },
                ));
            }
            snap.jobs.push(JobView {
                name: name.0.to_string(),
                phase: s.phase,
                progress: progress(job, s, now),
                restarts: s.restarts,
                preemptions: s.preemptions,
                workers: job.workers,
            });
        }
        queue.sort_by_key(|q| (q.0, q.1, q.2));
        snap.queue = queue.into_iter().map(|q| q.3).collect();
        snap
    }
}

/// Progress of a job in percent: saved work, plus the time computed in the current attempt.
fn progress(job: &Job, s: &JobStatus, now: SimTime) -> u8 {
    if s.phase == Phase::Completed {
        return 100;
    }
    let Some(work) = job.work.filter(|w| w.0 > 0) else {
        return 0;
    };
    let mut done = s.done.0;
    if s.phase == Phase::Running && now > s.compute_start {
        done = done.saturating_add(now.since(s.compute_start).0);
    }
    (done.min(work.0) as u128 * 100 / work.0 as u128) as u8
}
