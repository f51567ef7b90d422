//! # drydock-sim: the discrete-event simulator
//!
//! Runs a [`Scenario`] in virtual time, deterministically from a seed, far faster than real
//! time. Every scheduling decision comes from `drydock-core`; this crate supplies time,
//! workloads, failures and metrics.
//!
//! ## Concepts
//! * **Virtual time** is an integer number of microseconds ([`SimTime`], [`SimDuration`]).
//! * **The event queue** ([`queue::EventQueue`]) orders events by `(time, insertion sequence)`.
//! * **State** lives in a bevy_ecs `World`: each job is an entity with [`model::Job`],
//!   [`model::JobName`] and [`model::JobStatus`]; the cluster model, the scheduler, the queue,
//!   the random streams and the metrics are the [`engine::SimState`] resource.
//! * **Jobs** are gangs of pods (a PodGroup with `minMember` = all workers) with work measured
//!   as run time at full gang, blocking checkpoints and a restart overhead
//!   ([`progress`]); single pods are gangs of one.
//! * **Failures** follow Kubernetes' timeline: the node dies at `t`; the node lifecycle
//!   controller marks it NotReady and taints it `node.kubernetes.io/unreachable` at the first
//!   `nodeMonitorPeriod` tick after `t + nodeMonitorGracePeriod`; `tolerationSeconds` later its
//!   pods are evicted, and only then does the gang's controller tear the gang down and requeue
//!   it, to resume from its last checkpoint plus the restart overhead
//!   (kubernetes-semantics.md §6.1 \[src\], §6.3 \[src\]).
//!
//! * **Expectations** (`spec.expect`) are checked against the summary after a run
//!   ([`check::evaluate`]): one [`check::CheckResult`] per expectation, with the measured value.
//!
//! ## Event-ordering contract
//! 1. Events pop in increasing virtual time; events at the same time pop in the order they
//!    were scheduled (FIFO). Scheduling an event in the past is an error ([`queue::BackInTime`]).
//! 2. Scheduling cycles run at multiples of the cycle period (`spec.scheduler.cycle`), only
//!    when something changed since the last cycle (an arrival, freed resources, a repaired
//!    node). A cycle due at the same instant as an arrival runs after it.
//! 3. Within a cycle, queued jobs are tried in order of priority (highest first), then time
//!    queued, then job index.
//! 4. Events about a job or a node carry a generation or epoch; an event whose generation is
//!    stale (the job was restarted or the node repaired since) is ignored.
//!
//! ## Determinism
//! One master seed per run. Each component draws from its own PCG64 stream named after it
//! ([`rng::stream`]): `scheduler`, `failures`, `repair`, `trace-sample/N`,
//! `trace-shuffle/N`, `trace-inflate/N`. No wall clock, no hash-map iteration. The same
//! scenario and seed give a byte-identical `summary.json` and event-log hash.
//!
//! ## Example
//! ```no_run
//! let scenario = drydock_scenarios::load_named_or_path("default").expect("built-in");
//! let mut sim = drydock_sim::Simulation::new(&scenario, None, None).expect("valid");
//! sim.run(|_| {}).expect("runs");
//! let summary = sim.summary();
//! println!("{} jobs completed", summary.jobs.completed);
//! for check in drydock_sim::check::evaluate(&scenario.expect, &summary) {
//!     println!("{} {}", check.verdict(), check.describe());
//! }
//! ```
#![deny(missing_docs)]

pub mod build;
pub mod check;
pub mod dist;
pub mod engine;
pub mod metrics;
pub mod model;
pub mod progress;
pub mod queue;
pub mod report;
pub mod rng;
pub mod service_autoscaling;
pub mod serving;

use std::path::Path;

use bevy_ecs::prelude::World;
pub use drydock_core::{SimDuration, SimTime};
use drydock_scenarios::Scenario;

pub use report::{JobRow, Summary};

/// Why a run could not be built or could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A trace file is missing or malformed. Input error; fatal.
    #[error(transparent)]
    Trace(#[from] drydock_scenarios::trace::TraceError),
    /// The scenario cannot be realised (for example a failure naming no node). Input error;
    /// fatal.
    #[error("{0}")]
    Input(String),
    /// The engine scheduled an event in the past: a bug in drydock. Fatal.
    #[error("internal error: {0}")]
    BackInTime(#[from] queue::BackInTime),
}

impl SimError {
    /// True for errors caused by the user's input (exit code 2).
    pub fn is_input_error(&self) -> bool {
        matches!(self, SimError::Trace(_) | SimError::Input(_))
    }
}

/// A simulation run.
pub struct Simulation {
    world: World,
    scenario: String,
    seed: u64,
    finished: bool,
    injected: Vec<InjectedFailure>,
}

/// A node failure injected by a front end ([`Simulation::fail_node`]), recorded so that a run
/// can be rebuilt deterministically ([`Simulation::replay`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectedFailure {
    /// Events processed before the injection.
    pub after_events: u64,
    /// Virtual time of the injection.
    pub at: SimTime,
    /// The node.
    pub node: drydock_core::NodeId,
    /// Repair time, if it gets repaired.
    pub repair: Option<SimDuration>,
}

impl Simulation {
    /// Builds a run of `scenario`. Trace paths are resolved against `data_dir` (or the working
    /// directory when `None`); `seed` overrides the scenario's seed.
    ///
    /// # Errors
    /// [`SimError::Trace`] for missing or malformed trace files, [`SimError::Input`] when the
    /// scenario cannot be realised.
    pub fn new(
        scenario: &Scenario,
        data_dir: Option<&Path>,
        seed: Option<u64>,
    ) -> Result<Self, SimError> {
        let seed = seed.unwrap_or(scenario.seed);
        let world = engine::build_world(scenario, data_dir, seed)?;
        Ok(Simulation {
            world,
            scenario: scenario.name.clone(),
            seed,
            finished: false,
            injected: Vec::new(),
        })
    }

    /// Rebuilds a run of `scenario` and replays `injected` failures at exactly the points of
    /// the original run (after the same number of events), then runs up to `until` (events at
    /// `until` included). Injections later than `until` are dropped.
    ///
    /// # Errors
    /// As [`Simulation::new`] and [`Simulation::fail_node`].
    pub fn replay(
        scenario: &Scenario,
        data_dir: Option<&Path>,
        seed: Option<u64>,
        injected: &[InjectedFailure],
        until: SimTime,
    ) -> Result<Self, SimError> {
        let mut sim = Simulation::new(scenario, data_dir, seed)?;
        for inj in injected.iter().filter(|i| i.at <= until) {
            while !sim.finished && sim.events() < inj.after_events {
                sim.run_batch(inj.after_events - sim.events(), SimTime::MAX)?;
            }
            sim.fail_node(inj.node, inj.repair)?;
        }
        sim.run_batch(u64::MAX, until)?;
        Ok(sim)
    }

    /// Events processed so far.
    pub fn events(&self) -> u64 {
        engine::state(&self.world).map(|s| s.events).unwrap_or(0)
    }

    /// Crashes `node` now (as a `NodeFailed` event at the current virtual time, after the
    /// events already queued for this instant), repaired after `repair` if given. The
    /// injection is recorded ([`Simulation::injected`]) so the run can be replayed.
    ///
    /// # Errors
    /// [`SimError::Input`] when the node does not exist or the run is over.
    pub fn fail_node(
        &mut self,
        node: drydock_core::NodeId,
        repair: Option<SimDuration>,
    ) -> Result<(), SimError> {
        if self.finished {
            return Err(SimError::Input("the run is over".to_string()));
        }
        let after_events = self.events();
        let Some(mut b) = self.world.get_resource_mut::<engine::SimBox>() else {
            return Err(SimError::Input("no simulation state".to_string()));
        };
        let st = &mut *b.0;
        if node.0 as usize >= st.cluster.nodes.len() {
            return Err(SimError::Input(format!("no node with id {}", node.0)));
        }
        let at = st.queue.now();
        st.queue.push(
            at,
            engine::Event::NodeFailed {
                node,
                cause: model::FailureCause::Node,
                repair,
            },
        )?;
        self.injected.push(InjectedFailure {
            after_events,
            at,
            node,
            repair,
        });
        Ok(())
    }

    /// The failures injected so far, in order.
    pub fn injected(&self) -> &[InjectedFailure] {
        &self.injected
    }

    /// The seed in use.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Current virtual time.
    pub fn now(&self) -> SimTime {
        engine::state(&self.world)
            .map(|s| s.queue.now())
            .unwrap_or_default()
    }

    /// The stop time (the scenario's duration, or the 10-year cap).
    pub fn end(&self) -> SimTime {
        engine::state(&self.world)
            .map(|s| s.config.end)
            .unwrap_or(engine::MAX_VIRTUAL_TIME)
    }

    /// Processes one event. Returns its time, or `None` when the run is over (then the books
    /// are closed).
    ///
    /// # Errors
    /// [`SimError::BackInTime`] on an internal ordering bug.
    pub fn step(&mut self) -> Result<Option<SimTime>, SimError> {
        if self.finished {
            return Ok(None);
        }
        let r = engine::step(&mut self.world)?;
        if r.is_none() {
            engine::finish(&mut self.world);
            self.finished = true;
        }
        Ok(r)
    }

    /// Runs to the end, calling `progress` with the virtual time every 4,096 events.
    ///
    /// # Errors
    /// As [`Simulation::step`].
    pub fn run(&mut self, mut progress: impl FnMut(SimTime)) -> Result<(), SimError> {
        while !self.finished {
            let (_, t) = self.run_batch(4096, SimTime::MAX)?;
            if let Some(t) = t {
                progress(t);
            }
        }
        Ok(())
    }

    /// Processes up to `max_events` events, none later than `until` (for front ends that pace
    /// a run against the wall clock). Returns how many were processed and the virtual time
    /// reached, or `None` once the run is over (then the books are closed).
    ///
    /// # Errors
    /// As [`Simulation::step`].
    pub fn run_batch(
        &mut self,
        max_events: u64,
        until: SimTime,
    ) -> Result<(u64, Option<SimTime>), SimError> {
        if self.finished {
            return Ok((0, None));
        }
        let (n, t) = engine::step_until(&mut self.world, max_events, until)?;
        if t.is_none() {
            engine::finish(&mut self.world);
            self.finished = true;
        }
        Ok((n, t))
    }

    /// Problems found while building the run that do not stop it, such as jobs that no node
    /// can ever hold. Empty when all is well.
    pub fn warnings(&self) -> Vec<String> {
        engine::state(&self.world)
            .map(|s| s.warnings.clone())
            .unwrap_or_default()
    }

    /// True once the run is over.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The summary (meaningful once finished; a snapshot before).
    pub fn summary(&self) -> Summary {
        report::summary(&self.world, &self.scenario, self.seed)
    }

    /// The time series.
    pub fn timeseries(&self) -> Vec<metrics::Sample> {
        report::timeseries(&self.world)
    }

    /// The per-job table.
    pub fn jobs(&self) -> Vec<JobRow> {
        report::job_rows(&self.world)
    }

    /// The simulation state (cluster, queue, metrics), for front ends and tests.
    ///
    /// # Panics
    /// Never: a `Simulation` always holds its state.
    pub fn state(&self) -> Option<&engine::SimState> {
        engine::state(&self.world)
    }

    /// The ECS world (read-only), for front ends and tests.
    pub fn world(&self) -> &World {
        &self.world
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary_json(sim: &Simulation) -> String {
        serde_json::to_string(&sim.summary()).expect("serialises")
    }

    #[test]
    fn replay_should_reproduce_a_run_with_injected_failures() {
        let scenario = drydock_scenarios::load_named_or_path("default").expect("built-in");
        let mut a = Simulation::new(&scenario, None, None).expect("valid");
        a.run_batch(u64::MAX, SimTime(SimDuration::from_secs(3600).0))
            .expect("runs");
        a.step().expect("steps");
        a.fail_node(drydock_core::NodeId(0), Some(SimDuration::from_mins(30)))
            .expect("injects");
        a.run_batch(u64::MAX, SimTime(SimDuration::from_secs(5 * 3600).0))
            .expect("runs");
        let injected = a.injected().to_vec();
        assert_eq!(injected.len(), 1);
        let mut b = Simulation::replay(
            &scenario,
            None,
            None,
            &injected,
            SimTime(SimDuration::from_secs(7200).0),
        )
        .expect("replays");
        assert_eq!(b.injected(), &injected[..]);
        a.run(|_| {}).expect("runs");
        b.run(|_| {}).expect("runs");
        assert_eq!(summary_json(&a), summary_json(&b));
        let plain = {
            let mut p = Simulation::new(&scenario, None, None).expect("valid");
            p.run(|_| {}).expect("runs");
            summary_json(&p)
        };
        assert_ne!(
            plain,
            summary_json(&a),
            "the injected failure changes the run"
        );
    }

    #[test]
    fn fail_node_should_reject_an_unknown_node() {
        let scenario = drydock_scenarios::load_named_or_path("default").expect("built-in");
        let mut sim = Simulation::new(&scenario, None, None).expect("valid");
        assert!(sim.fail_node(drydock_core::NodeId(999), None).is_err());
    }
}
