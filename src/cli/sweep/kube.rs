//! A sweep as Kubernetes objects: one ConfigMap holding the scenario and the plan, and one
//! Indexed Job whose completion index `i` runs run `i` of the plan (`drydock sweep-worker`,
//! which prints the run's result as one JSON line on stdout).
//!
//! [`objects`] builds both once, as one ordered tree each; `--dry-run` prints them as YAML
//! ([`SweepObjects::yaml`]) and submitting sends the same trees as k8s-openapi objects
//! ([`SweepObjects::config_map`], [`SweepObjects::job`]), so the two cannot drift. Submitting
//! and collecting through kube-rs live in [`super::client`].

use anyhow::Context;
use drydock_real_cluster::names::{LABEL_MANAGED_BY, LABEL_RUN, MANAGED_BY};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize as SerializeDerive};
use sha2::Digest;

use super::plan::Plan;
use crate::cli::InputError;

/// Where the ConfigMap is mounted in the worker's container.
pub const CONFIG_MOUNT: &str = "/etc/drydock-sweep";
/// Where the data volume is mounted, if any.
pub const DATA_MOUNT: &str = "/data";
/// ConfigMap key of the plan.
pub const PLAN_KEY: &str = "plan.json";
/// ConfigMap key of the scenario text.
pub const SCENARIO_KEY: &str = "scenario.yaml";
/// Kubernetes' limit on a ConfigMap's data.
const CONFIGMAP_LIMIT: usize = 1024 * 1024;
/// Name of the worker's container in the Job's pods (whose log holds the run's result).
pub const CONTAINER: &str = "drydock";
/// Label carrying the sweep's id ([`sweep_id`]) on the ConfigMap, the Job and its pods.
pub const LABEL_SWEEP: &str = "drydock.io/sweep";
/// Label marking drydock's sweep objects (value [`COMPONENT`]).
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
/// Value of [`LABEL_COMPONENT`] on sweep objects.
pub const COMPONENT: &str = "sweep";
/// The label selector matching every drydock sweep's objects (for `kubectl get jobs -l`).
pub const SWEEP_SELECTOR: &str =
    "app.kubernetes.io/managed-by=drydock,app.kubernetes.io/component=sweep";

/// Options of `--on-kubernetes`.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// Container image with the `drydock` binary on its `PATH`.
    pub image: String,
    /// Namespace of the ConfigMap and the Job.
    pub namespace: String,
    /// Pods running at once (`None`: all runs at once).
    pub parallelism: Option<usize>,
    /// A PersistentVolumeClaim with the trace data, mounted read-only at [`DATA_MOUNT`].
    pub data_pvc: Option<String>,
}

/// What the ConfigMap's `plan.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, SerializeDerive, Deserialize)]
pub struct Shipped {
    /// Short hash of the plan and the scenario text; names the Job and tags every result.
    pub id: String,
    /// Name of the Job and the ConfigMap.
    pub job: String,
    /// The plan.
    pub plan: Plan,
}

/// The most completions an Indexed Job takes without `maxFailedIndexes`
/// (`pkg/apis/batch/validation/validation.go`, `completionsHardLimit`).
pub const MAX_INDEXED_COMPLETIONS: usize = 100_000;

/// The sweep's id: the first 8 hex digits of the SHA-256 of the plan (as JSON), the scenario
/// text and the options that shape the Job (image, parallelism, data claim), so that a sweep
/// submitted again with other options is a different sweep, not "already submitted".
/// The namespace is not part of it.
pub fn sweep_id(plan: &Plan, scenario_text: &str, opts: &KubeOptions) -> String {
    let mut h = sha2::Sha256::new();
    h.update(serde_json::to_string(plan).unwrap_or_default().as_bytes());
    h.update(b"\n");
    h.update(scenario_text.as_bytes());
    h.update(b"\n");
    h.update(
        format!(
            "image={}\nparallelism={:?}\ndata-pvc={:?}",
            opts.image, opts.parallelism, opts.data_pvc
        )
        .as_bytes(),
    );
    h.finalize()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `drydock-sweep-<name>-<id>`, a valid DNS label short enough for the pods' host names
/// (`<job>-<index>`).
pub fn job_name(plan: &Plan, id: &str) -> String {
    let mut name: String = plan
        .name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name = name.trim_matches('-').to_string();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let name: String = name.chars().take(24).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        format!("drydock-sweep-{id}")
    } else {
        format!("drydock-sweep-{name}-{id}")
    }
}

/// A YAML value whose mappings keep their insertion order.
#[derive(Debug)]
enum Y {
    S(String),
    N(u64),
    B(bool),
    M(Vec<(String, Y)>),
    L(Vec<Y>),
}

impl Serialize for Y {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Y::S(v) => s.serialize_str(v),
            Y::N(v) => s.serialize_u64(*v),
            Y::B(v) => s.serialize_bool(*v),
            Y::M(entries) => {
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Y::L(items) => {
                let mut l = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    l.serialize_element(i)?;
                }
                l.end()
            }
        }
    }
}

fn m(entries: Vec<(&str, Y)>) -> Y {
    Y::M(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn s(v: impl Into<String>) -> Y {
    Y::S(v.into())
}

/// A sweep's ConfigMap and Indexed Job, built once: the YAML of `--dry-run` and the objects
/// submitted both come from here.
#[derive(Debug)]
pub struct SweepObjects {
    /// The sweep's id ([`sweep_id`]).
    pub id: String,
    /// Name of the ConfigMap and of the Job ([`job_name`]).
    pub name: String,
    /// Their namespace.
    pub namespace: String,
    /// Number of runs (the Job's completions).
    pub runs: usize,
    /// Pods running at once (the Job's parallelism).
    pub parallelism: usize,
    header: String,
    configmap: Y,
    job: Y,
}

impl SweepObjects {
    /// The ConfigMap and the Indexed Job as a two-document YAML stream, after a comment header
    /// (what `--dry-run` prints).
    ///
    /// # Errors
    /// When YAML serialisation fails (not expected).
    pub fn yaml(&self) -> anyhow::Result<String> {
        let cm = serde_saphyr::to_string(&self.configmap)?;
        let jb = serde_saphyr::to_string(&self.job)?;
        Ok(format!("{}---\n{cm}---\n{jb}", self.header))
    }

    /// The ConfigMap as submitted (the same tree as [`Self::yaml`]'s first document).
    ///
    /// # Errors
    /// When the tree is not a valid ConfigMap (a bug).
    pub fn config_map(&self) -> anyhow::Result<ConfigMap> {
        serde_json::from_value(serde_json::to_value(&self.configmap)?)
            .context("the sweep's ConfigMap does not deserialise (a drydock bug)")
    }

    /// The Job as submitted (the same tree as [`Self::yaml`]'s second document).
    ///
    /// # Errors
    /// When the tree is not a valid Job (a bug).
    pub fn job(&self) -> anyhow::Result<Job> {
        serde_json::from_value(serde_json::to_value(&self.job)?)
            .context("the sweep's Job does not deserialise (a drydock bug)")
    }
}

/// Builds the sweep's ConfigMap and Indexed Job. Both carry drydock's ownership labels
/// (`app.kubernetes.io/managed-by=drydock`, `drydock.io/run=<sweep id>`) and
/// `drydock.io/sweep=<sweep id>`, as do the Job's pods.
///
/// # Errors
/// [`InputError`] if the scenario and plan exceed a ConfigMap's 1 MiB.
pub fn objects(
    plan: &Plan,
    scenario_text: &str,
    opts: &KubeOptions,
) -> anyhow::Result<SweepObjects> {
    let id = sweep_id(plan, scenario_text, opts);
    let job = job_name(plan, &id);
    let shipped = Shipped {
        id: id.clone(),
        job: job.clone(),
        plan: plan.clone(),
    };
    let plan_json = serde_json::to_string_pretty(&shipped)? + "\n";
    if plan_json.len() + scenario_text.len() > CONFIGMAP_LIMIT {
        return Err(InputError::new(
            "the scenario and the sweep plan exceed a ConfigMap's 1 MiB",
            "shorten the scenario file (trace data belongs on a volume: see --data-pvc)",
        )
        .into());
    }
    let runs = plan.runs().len() as u64;
    let labels = || {
        m(vec![
            ("app.kubernetes.io/name", s("drydock")),
            (LABEL_COMPONENT, s(COMPONENT)),
            (LABEL_MANAGED_BY, s(MANAGED_BY)),
            (LABEL_SWEEP, s(id.clone())),
            (LABEL_RUN, s(id.clone())),
        ])
    };
    let configmap = m(vec![
        ("apiVersion", s("v1")),
        ("kind", s("ConfigMap")),
        (
            "metadata",
            m(vec![
                ("name", s(job.clone())),
                ("namespace", s(opts.namespace.clone())),
                ("labels", labels()),
            ]),
        ),
        (
            "data",
            m(vec![
                (PLAN_KEY, s(plan_json)),
                (SCENARIO_KEY, s(scenario_text.to_string())),
            ]),
        ),
    ]);
    let mut env = vec![m(vec![("name", s("NO_COLOR")), ("value", s("1"))])];
    let mut mounts = vec![m(vec![
        ("name", s("sweep")),
        ("mountPath", s(CONFIG_MOUNT)),
        ("readOnly", Y::B(true)),
    ])];
    let mut volumes = vec![m(vec![
        ("name", s("sweep")),
        ("configMap", m(vec![("name", s(job.clone()))])),
    ])];
    if let Some(pvc) = &opts.data_pvc {
        env.push(m(vec![
            ("name", s("DRYDOCK_DATA_DIR")),
            ("value", s(DATA_MOUNT)),
        ]));
        mounts.push(m(vec![
            ("name", s("data")),
            ("mountPath", s(DATA_MOUNT)),
            ("readOnly", Y::B(true)),
        ]));
        volumes.push(m(vec![
            ("name", s("data")),
            (
                "persistentVolumeClaim",
                m(vec![
                    ("claimName", s(pvc.clone())),
                    ("readOnly", Y::B(true)),
                ]),
            ),
        ]));
    }
    let container = m(vec![
        ("name", s(CONTAINER)),
        ("image", s(opts.image.clone())),
        ("command", Y::L(vec![s("drydock")])),
        (
            "args",
            Y::L(vec![s("sweep-worker"), s("--config"), s(CONFIG_MOUNT)]),
        ),
        ("env", Y::L(env)),
        (
            "resources",
            m(vec![(
                "requests",
                m(vec![("cpu", s("1")), ("memory", s("1Gi"))]),
            )]),
        ),
        ("volumeMounts", Y::L(mounts)),
    ]);
    let parallelism = opts
        .parallelism
        .map_or(runs, |p| (p as u64).clamp(1, runs.max(1)));
    let job_doc = m(vec![
        ("apiVersion", s("batch/v1")),
        ("kind", s("Job")),
        (
            "metadata",
            m(vec![
                ("name", s(job.clone())),
                ("namespace", s(opts.namespace.clone())),
                ("labels", labels()),
            ]),
        ),
        (
            "spec",
            m(vec![
                ("completionMode", s("Indexed")),
                ("completions", Y::N(runs)),
                ("parallelism", Y::N(parallelism)),
                ("backoffLimitPerIndex", Y::N(2)),
                (
                    "template",
                    m(vec![
                        ("metadata", m(vec![("labels", labels())])),
                        (
                            "spec",
                            m(vec![
                                ("restartPolicy", s("Never")),
                                ("containers", Y::L(vec![container])),
                                ("volumes", Y::L(volumes)),
                            ]),
                        ),
                    ]),
                ),
            ]),
        ),
    ]);
    let header = format!(
        "# drydock sweep `{}`: {} runs ({} variants x {} seeds) as one Indexed Job.\n\
         # Submit: drydock sweep ... --on-kubernetes (or pipe this output to kubectl apply -f -)\n\
         # Collect: drydock sweep collect {job} --namespace {}\n",
        plan.name,
        runs,
        plan.variant_count(),
        plan.seeds.len(),
        opts.namespace
    );
    Ok(SweepObjects {
        id,
        name: job,
        namespace: opts.namespace.clone(),
        runs: runs as usize,
        parallelism: parallelism as usize,
        header,
        configmap,
        job: job_doc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::sweep::plan::{PLAN_VERSION, SetSpec};

    fn plan() -> Plan {
        Plan {
            version: PLAN_VERSION,
            name: "Default_Scenario!".into(),
            origin: "builtin:default".into(),
            sets: vec![SetSpec {
                path: "scheduler.policy".into(),
                values: vec!["binpack".into(), "fgd".into()],
            }],
            seeds: vec![1, 2, 3],
            seeds_text: "1..3".into(),
        }
    }

    #[test]
    fn job_names_are_dns_labels() {
        let p = plan();
        let id = sweep_id(&p, "x", &opts());
        assert_eq!(id.len(), 8);
        let name = job_name(&p, &id);
        assert_eq!(name, format!("drydock-sweep-default-scenario-{id}"));
        assert!(name.len() <= 63 - 7);
        let mut long = p.clone();
        long.name = "a".repeat(100);
        assert!(job_name(&long, &id).len() <= 47);
        long.name = "!!!".into();
        assert_eq!(job_name(&long, &id), format!("drydock-sweep-{id}"));
    }

    /// The objects submitted are the trees `--dry-run` prints: nothing is lost or renamed on
    /// the way through k8s-openapi's types (which ignore unknown fields).
    #[test]
    fn submitted_objects_are_the_printed_trees() {
        let opts = KubeOptions {
            image: "img:1".into(),
            namespace: "sims".into(),
            parallelism: Some(4),
            data_pvc: Some("traces".into()),
        };
        let objs = objects(&plan(), "kind: Scenario\n", &opts).expect("objects");
        let cm = serde_json::to_value(objs.config_map().expect("configmap")).expect("json");
        let job = serde_json::to_value(objs.job().expect("job")).expect("json");
        assert_eq!(cm, serde_json::to_value(&objs.configmap).expect("json"));
        assert_eq!(job, serde_json::to_value(&objs.job).expect("json"));
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&objs.yaml().expect("yaml")).expect("parse");
        assert_eq!(docs, vec![cm, job.clone()]);
        assert_eq!(job["spec"]["parallelism"], 4);
        let labels = &job["spec"]["template"]["metadata"]["labels"];
        assert_eq!(labels[LABEL_MANAGED_BY], MANAGED_BY);
        assert_eq!(labels[LABEL_SWEEP], objs.id.as_str());
        assert_eq!(labels[LABEL_RUN], objs.id.as_str());
    }

    fn opts() -> KubeOptions {
        KubeOptions {
            image: "img:1".into(),
            namespace: "sims".into(),
            parallelism: None,
            data_pvc: None,
        }
    }

    /// A sweep submitted again with another image, parallelism or data claim is another sweep
    /// (a fresh-user test found the Job kept its old image while drydock said "already
    /// submitted"); the namespace does not change the id.
    #[test]
    fn the_id_changes_with_the_plan_the_scenario_and_the_job_options() {
        let p = plan();
        let o = opts();
        let mut q = p.clone();
        q.seeds.push(4);
        assert_ne!(sweep_id(&p, "x", &o), sweep_id(&q, "x", &o));
        assert_ne!(sweep_id(&p, "x", &o), sweep_id(&p, "y", &o));
        assert_eq!(sweep_id(&p, "x", &o), sweep_id(&p, "x", &o));
        let id = sweep_id(&p, "x", &o);
        for changed in [
            KubeOptions {
                image: "img:2".into(),
                ..o.clone()
            },
            KubeOptions {
                parallelism: Some(1),
                ..o.clone()
            },
            KubeOptions {
                data_pvc: Some("traces".into()),
                ..o.clone()
            },
        ] {
            assert_ne!(sweep_id(&p, "x", &changed), id, "{changed:?}");
        }
        let other_ns = KubeOptions {
            namespace: "other".into(),
            ..o.clone()
        };
        assert_eq!(sweep_id(&p, "x", &other_ns), id);
    }
}
