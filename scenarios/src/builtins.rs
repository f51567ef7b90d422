//! The built-in scenario library (`scenarios/library/*.yaml`), embedded in the binary.

/// A scenario shipped with drydock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    /// Name, as given to `drydock run NAME` and [`crate::load_named_or_path`].
    pub name: &'static str,
    /// One line saying what it shows.
    pub description: &'static str,
    /// The YAML text.
    pub source: &'static str,
    /// True if it reads trace files, so running it needs `--data-dir`.
    pub needs_data: bool,
}

static BUILTINS: [Builtin; 7] = [
    Builtin {
        name: "default",
        description: "small mixed A100/L4 cluster, 14 training jobs, a node failure and preemption (binpack)",
        source: include_str!("../library/default.yaml"),
        needs_data: false,
    },
    Builtin {
        name: "training-failures",
        description: "256 H100s for a week with random GPU and node failures and a zone outage",
        source: include_str!("../library/training-failures.yaml"),
        needs_data: false,
    },
    Builtin {
        name: "openb-fgd",
        description: "Alibaba openb nodes and pods, FGD study method (arrivals only, 130% load)",
        source: include_str!("../library/openb-fgd.yaml"),
        needs_data: true,
    },
    Builtin {
        name: "philly",
        description: "Philly trace replayed on 1,000 8-GPU V100 nodes with random failures",
        source: include_str!("../library/philly.yaml"),
        needs_data: true,
    },
    Builtin {
        name: "llm-spike",
        description: "Azure LLM trace replayed for 24h with a 5x spike; HPA and Cluster Autoscaler on A100s",
        source: include_str!("../library/llm-spike.yaml"),
        needs_data: true,
    },
    Builtin {
        name: "diurnal-inference",
        description: "an LLM service under a day of diurnal traffic; HPA and Cluster Autoscaler on L4s",
        source: include_str!("../library/diurnal-inference.yaml"),
        needs_data: false,
    },
    Builtin {
        name: "mixed-cluster",
        description: "training and inference share 8 A100 nodes; a 5x spike preempts training",
        source: include_str!("../library/mixed-cluster.yaml"),
        needs_data: false,
    },
];

/// Every built-in scenario, `default` first.
pub fn builtins() -> &'static [Builtin] {
    &BUILTINS
}

/// The built-in scenario called `name`, if any.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}
