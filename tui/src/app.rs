//! The model: everything the UI knows, and the messages and commands that change it.

use drydock_core::{NodeId, SimTime};
use ratatui::crossterm::event::KeyEvent;

use crate::snapshot::Snapshot;

/// Speeds, in virtual seconds per wall second; `None` is as fast as possible.
pub const SPEEDS: [Option<u32>; 7] = [
    Some(1),
    Some(10),
    Some(100),
    Some(1_000),
    Some(10_000),
    Some(100_000),
    None,
];

/// Index into [`SPEEDS`] at start-up (1,000x).
pub const DEFAULT_SPEED: usize = 3;

/// Above this many nodes the cluster pane shows one row per pool.
pub const AGGREGATE_ABOVE: usize = 32;

/// Back step of `b`.
pub const BACK_STEP: drydock_core::SimDuration = drydock_core::SimDuration::from_mins(30);

/// The panes, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// Nodes and GPUs.
    Cluster,
    /// Waiting jobs.
    Queue,
    /// All arrived jobs.
    Jobs,
    /// Notable events.
    Events,
}

impl Pane {
    /// The next pane in Tab order.
    pub fn next(self) -> Pane {
        match self {
            Pane::Cluster => Pane::Queue,
            Pane::Queue => Pane::Jobs,
            Pane::Jobs => Pane::Events,
            Pane::Events => Pane::Cluster,
        }
    }
}

/// One message: input, a snapshot from the simulation, or a tick.
#[derive(Debug, Clone)]
pub enum Message {
    /// A key was pressed.
    Key(KeyEvent),
    /// A new snapshot from the simulation.
    Snapshot(Box<Snapshot>),
    /// A new snapshot of the compared run (`--compare`), at the same virtual time.
    SnapshotB(Box<Snapshot>),
    /// The simulation reported an error.
    SimError(String),
    /// The left mouse button was pressed at (column, row) of the screen.
    Click(u16, u16),
    /// The terminal was resized.
    Resize(u16, u16),
    /// Time to redraw.
    Tick,
}

/// What the simulation thread is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimCommand {
    /// Run (or pause) paced at `speed` (an index into [`SPEEDS`]).
    Pace {
        /// Running or paused.
        playing: bool,
        /// Speed index.
        speed: usize,
    },
    /// Process one event.
    Step,
    /// Crash a node now.
    FailNode(NodeId),
    /// Go to a virtual time (earlier times replay from the start).
    JumpTo(SimTime),
    /// Stop the thread.
    Quit,
}

/// A side effect `update` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send to the simulation thread.
    Sim(SimCommand),
    /// Leave the UI.
    Quit,
}

/// The UI's state.
#[derive(Debug, Clone)]
pub struct App {
    /// The latest snapshot.
    pub snap: Snapshot,
    /// The latest snapshot of the compared run (`--compare`), if any.
    pub snap_b: Option<Box<Snapshot>>,
    /// Label of run A in the A/B view.
    pub label_a: String,
    /// Label of run B in the A/B view (the changed setting).
    pub label_b: String,
    /// Running (not paused).
    pub playing: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    /// The focused pane.
    pub focus: Pane,
    /// Selected node (node list) .
    pub node_sel: usize,
    /// Selected pool (pool list, when aggregated).
    pub pool_sel: usize,
    /// The pool drilled into, when aggregated.
    pub drill: Option<usize>,
    /// First row shown in the queue pane.
    pub queue_scroll: usize,
    /// First row shown in the jobs pane.
    pub jobs_scroll: usize,
    /// Rows scrolled back from the newest event.
    pub log_scroll: usize,
    /// The help overlay is shown.
    pub help: bool,
    /// The `g` prompt and its text, while open.
    pub prompt: Option<String>,
    /// The `/` prompt and its text, while open.
    pub filter_prompt: Option<String>,
    /// The event-log filter in force: only lines containing it (ignoring case) are shown.
    pub filter: Option<String>,
    /// A one-line status message.
    pub status: String,
    /// Terminal size.
    pub size: (u16, u16),
    /// The user asked to quit.
    pub quit: bool,
}

impl App {
    /// A paused app showing `snap`.
    pub fn new(snap: Snapshot) -> Self {
        App {
            snap,
            snap_b: None,
            label_a: String::new(),
            label_b: String::new(),
            playing: false,
            speed: DEFAULT_SPEED,
            focus: Pane::Cluster,
            node_sel: 0,
            pool_sel: 0,
            drill: None,
            queue_scroll: 0,
            jobs_scroll: 0,
            log_scroll: 0,
            help: false,
            prompt: None,
            filter_prompt: None,
            filter: None,
            status: "paused: Space to play, ? for help".to_string(),
            size: (80, 24),
            quit: false,
        }
    }

    /// True when the cluster pane lists pools rather than nodes.
    pub fn aggregated(&self) -> bool {
        self.snap.nodes.len() > AGGREGATE_ABOVE
    }

    /// The nodes listed in the cluster pane (all, or the drilled pool's), as indexes.
    pub fn listed_nodes(&self) -> Vec<usize> {
        if !self.aggregated() {
            return (0..self.snap.nodes.len()).collect();
        }
        match self.drill.and_then(|p| self.snap.pools.get(p)) {
            Some(p) => p.nodes.clone(),
            None => Vec::new(),
        }
    }

    /// True when the cluster pane lists pools (aggregated and not drilled in).
    pub fn listing_pools(&self) -> bool {
        self.aggregated() && self.drill.is_none()
    }

    /// The selected node, if nodes are listed.
    pub fn selected_node(&self) -> Option<usize> {
        if self.listing_pools() {
            return None;
        }
        self.listed_nodes().get(self.node_sel).copied()
    }

    /// The speed label (`1000x`, `max`).
    pub fn speed_label(&self) -> String {
        match SPEEDS[self.speed] {
            Some(s) if s >= 1000 => format!("{}kx", s / 1000),
            Some(s) => format!("{s}x"),
            None => "max".to_string(),
        }
    }

    /// The pace command for the current state.
    pub fn pace(&self) -> Command {
        Command::Sim(SimCommand::Pace {
            playing: self.playing,
            speed: self.speed,
        })
    }
}
