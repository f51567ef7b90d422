//! The kube-rs side of sweeps on Kubernetes: submitting the ConfigMap and Indexed Job that
//! [`super::kube::objects`] builds, watching the Job, and reading the runs' results from the
//! logs of its pods (`drydock sweep collect JOB`).
//!
//! What a sweep needs from RBAC, in its namespace: `get` and `create` on `configmaps` and
//! `jobs` (group `batch`), `list` on `pods`, `get` on `pods/log`.
//!
//! drydock writes only objects labelled as drydock's (`app.kubernetes.io/managed-by=drydock`,
//! see [`drydock_real_cluster::names::is_ours`]): an object of the sweep's name that is not is
//! reported and left untouched.

use std::collections::BTreeSet;
use std::time::Duration;

use drydock_real_cluster::RealError;
use drydock_real_cluster::error::status_code;
use drydock_real_cluster::names::{FIELD_MANAGER, is_ours};
use futures::StreamExt;
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ListParams, LogParams, PostParams};
use kube::{Api, Client};

use super::kube::{CONTAINER, LABEL_SWEEP, SWEEP_SELECTOR, SweepObjects};
use crate::cli::InputError;
use crate::cli::real::real_error;

/// Annotation (and, since Kubernetes 1.28, label) the Job controller puts on each pod of an
/// Indexed Job: its completion index, decimal.
pub const ANN_COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// Label the Job controller puts on each of a Job's pods: the Job's name.
pub const LABEL_JOB_NAME: &str = "job-name";
/// Pod logs read at once while collecting.
const LOG_CONCURRENCY: usize = 8;

/// Where a sweep's objects live on a cluster, and how to name that cluster again on the
/// command line.
#[derive(Clone)]
pub struct Target {
    /// The client.
    pub client: Client,
    /// The API server's URL, for messages.
    pub server: String,
    /// The namespace.
    pub namespace: String,
    /// `--kubeconfig` and `--context` as given, for the commands drydock prints (empty when
    /// neither was given).
    pub cli_flags: String,
}

impl Target {
    /// The exact command that collects Job `job` from this target.
    pub fn collect_command(&self, job: &str) -> String {
        format!(
            "drydock sweep collect {job} --namespace {}{}",
            self.namespace, self.cli_flags
        )
    }
}

/// `--kubeconfig PATH` and `--context NAME` as a suffix of a printed command (each word
/// quoted for a POSIX shell when needed).
pub fn cli_flags(kubeconfig: Option<&std::path::Path>, context: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(p) = kubeconfig {
        out.push_str(" --kubeconfig ");
        out.push_str(&shell_word(&p.display().to_string()));
    }
    if let Some(c) = context {
        out.push_str(" --context ");
        out.push_str(&shell_word(c));
    }
    out
}

/// `w` as one word for a POSIX shell: as is when it holds only safe characters, else in
/// single quotes.
fn shell_word(w: &str) -> String {
    let safe = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if safe {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// Connects through `kubeconfig` (else `KUBECONFIG`, `~/.kube/config`, the in-cluster
/// configuration) with `context` (else the current one). Any server is allowed: a sweep is
/// ordinary batch work, unlike `drydock real`'s fake nodes.
///
/// # Errors
/// An input error (exit code 2) for a missing or invalid kubeconfig or an unknown context.
pub async fn connect(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
    namespace: &str,
) -> anyhow::Result<Target> {
    let (client, server) = drydock_real_cluster::session::connect_to(kubeconfig, context, true)
        .await
        .map_err(real_error)?;
    Ok(Target {
        client,
        server,
        namespace: namespace.to_string(),
        cli_flags: cli_flags(kubeconfig, context),
    })
}

/// The RBAC a sweep needs, for hints.
const RBAC_HINT: &str = "a sweep needs, in its namespace: get and create on configmaps and jobs (group batch), list on pods, get on pods/log; the README's section \"Sweeps on a Kubernetes cluster\" has a Role granting exactly that";

/// A client error of `verb resource` in the target's namespace, classified: unreachable server
/// and 401 as `drydock real` reports them, 403 naming the verb, the resource and the RBAC a
/// sweep needs.
fn api_error(t: &Target, e: kube::Error, verb: &str, resource: &str) -> anyhow::Error {
    match RealError::from_kube(e, &t.server, verb, resource, Some(&t.namespace)) {
        RealError::Forbidden {
            verb,
            resource,
            namespace,
            message,
        } => anyhow::anyhow!(
            "the cluster does not let drydock {verb} {resource} in namespace {}: {message}\n  hint: {RBAC_HINT}",
            namespace.unwrap_or_default()
        ),
        other => real_error(other),
    }
}

/// What [`submit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Created what was missing: the ConfigMap, the Job, or both.
    Created {
        /// The ConfigMap was created (false: it was there, drydock's, of this sweep).
        configmap: bool,
        /// The Job was created (false: it was there, drydock's, of this sweep).
        job: bool,
    },
    /// Both were there, drydock's and of this sweep: nothing was changed.
    AlreadySubmitted,
}

/// Refuses an existing object of the sweep's name that is not drydock's, or is another
/// sweep's.
fn check_existing(kind: &str, meta: &ObjectMeta, objs: &SweepObjects) -> Result<(), InputError> {
    let ns = &objs.namespace;
    let name = &objs.name;
    if !is_ours(meta, None) {
        return Err(InputError::new(
            format!(
                "{kind} {ns}/{name} exists and is not drydock's (no label {}={}); drydock left it untouched and submitted nothing",
                drydock_real_cluster::names::LABEL_MANAGED_BY,
                drydock_real_cluster::names::MANAGED_BY
            ),
            format!("remove or rename that {kind} yourself, or submit to another --namespace"),
        ));
    }
    let theirs = meta
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_SWEEP))
        .cloned()
        .unwrap_or_default();
    if theirs != objs.id {
        return Err(InputError::new(
            format!(
                "{kind} {ns}/{name} belongs to drydock sweep `{theirs}`, not to this sweep ({}); drydock left it untouched and submitted nothing",
                objs.id
            ),
            format!(
                "delete that sweep first: kubectl delete job,configmap -n {ns} -l {LABEL_SWEEP}={theirs}"
            ),
        ));
    }
    Ok(())
}

/// Submits the sweep: creates its ConfigMap, then its Job, in the target's namespace, unless
/// they exist. Both are checked before anything is written: an object of the same name that
/// is not drydock's, or is another sweep's, is refused and nothing is written. When both
/// exist and are this sweep's, nothing changes ([`Submitted::AlreadySubmitted`]). drydock does
/// not create namespaces.
///
/// # Errors
/// Input errors (exit code 2): the namespace does not exist, an object in the way. Cluster
/// errors: unreachable server, 401, 403 (naming the verb, resource and the RBAC needed), a
/// conflicting concurrent write.
pub async fn submit(t: &Target, objs: &SweepObjects) -> anyhow::Result<Submitted> {
    let cm_api: Api<ConfigMap> = Api::namespaced(t.client.clone(), &t.namespace);
    let job_api: Api<Job> = Api::namespaced(t.client.clone(), &t.namespace);
    let config_map = objs.config_map()?;
    let job = objs.job()?;
    let existing_cm = cm_api
        .get_opt(&objs.name)
        .await
        .map_err(|e| api_error(t, e, "get", "configmaps"))?;
    let existing_job = job_api
        .get_opt(&objs.name)
        .await
        .map_err(|e| api_error(t, e, "get", "jobs"))?;
    if let Some(c) = &existing_cm {
        check_existing("ConfigMap", &c.metadata, objs)?;
    }
    if let Some(j) = &existing_job {
        check_existing("Job", &j.metadata, objs)?;
    }
    if existing_cm.is_some() && existing_job.is_some() {
        return Ok(Submitted::AlreadySubmitted);
    }
    let pp = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..Default::default()
    };
    let created_error = |e: kube::Error, kind: &str, resource: &str| -> anyhow::Error {
        match status_code(&e) {
            Some(404) => InputError::new(
                format!("namespace {} does not exist", t.namespace),
                format!(
                    "create it first (drydock does not create namespaces for sweeps): kubectl create namespace {}",
                    t.namespace
                ),
            )
            .into(),
            Some(409) => anyhow::anyhow!(
                "{kind} {}/{} appeared while drydock was submitting (another submission at the same time?); run the command again to see whose it is",
                t.namespace,
                objs.name
            ),
            _ => api_error(t, e, "create", resource),
        }
    };
    if existing_cm.is_none() {
        cm_api
            .create(&pp, &config_map)
            .await
            .map_err(|e| created_error(e, "ConfigMap", "configmaps"))?;
    }
    if existing_job.is_none()
        && let Err(e) = job_api.create(&pp, &job).await
    {
        // Leave nothing half-submitted: the ConfigMap this call created goes too.
        if existing_cm.is_none()
            && let Err(d) = cm_api.delete(&objs.name, &Default::default()).await
        {
            eprintln!(
                "warning: the sweep's ConfigMap could not be removed after the Job was refused: {d}; remove it with: kubectl delete configmap -n {} {}",
                t.namespace, objs.name
            );
        }
        if let kube::Error::Api(status) = &e
            && status.code == 422
        {
            return Err(InputError::new(
                format!(
                    "the API server rejected the sweep's Job: {}; nothing was submitted",
                    status.message
                ),
                "check --image, --data-pvc and --jobs; `--dry-run` prints the Job as it would be sent",
            )
            .into());
        }
        return Err(created_error(e, "Job", "jobs"));
    }
    Ok(Submitted::Created {
        configmap: existing_cm.is_none(),
        job: existing_job.is_none(),
    })
}

/// Where one completion index of a sweep's Job stands, as its pods and the Job's status tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    /// A pod of this index succeeded (the named one, the first by name if several did).
    Succeeded(String),
    /// The Job counts the index as completed but none of its pods is left (deleted, or garbage
    /// collected): its log is gone.
    SucceededPodGone,
    /// A pod of this index is pending or running.
    Running,
    /// The Job gave up on this index (its `failedIndexes`, or the whole Job failed).
    Failed,
    /// No pod of this index is pending or running yet (not created yet, or waiting for a
    /// retry after a failure).
    Waiting,
}

/// What one pod says about its index, for [`index_states`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodView {
    /// Pod name.
    pub name: String,
    /// Its completion index, if it carries a valid one.
    pub index: Option<usize>,
    /// `status.phase` (`Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`; empty if unset).
    pub phase: String,
}

impl PodView {
    /// The view of `pod`.
    pub fn of(pod: &Pod) -> Self {
        let index = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANN_COMPLETION_INDEX))
            .or_else(|| {
                pod.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(ANN_COMPLETION_INDEX))
            })
            .and_then(|v| v.parse().ok());
        PodView {
            name: pod.metadata.name.clone().unwrap_or_default(),
            index,
            phase: pod
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default(),
        }
    }
}

/// The indexes in a Job status' interval list (`"1,3-5"`), ignoring malformed parts.
pub fn parse_indexes(text: &str) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                    out.extend(a..=b.min(a.saturating_add(10_000_000)));
                }
            }
            None => {
                if let Ok(i) = part.parse() {
                    out.insert(i);
                }
            }
        }
    }
    out
}

/// True when the Job has condition `kind` (`Complete`, `Failed`) with status `True`.
pub fn job_condition(status: Option<&JobStatus>, kind: &str) -> bool {
    status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == kind && c.status == "True"))
}

/// The state of each of `completions` indexes from the Job's pods and status. Pods without a
/// valid index, or with an index out of range, are ignored. Pure: no I/O.
pub fn index_states(
    completions: usize,
    pods: &[PodView],
    status: Option<&JobStatus>,
) -> Vec<IndexState> {
    let completed = parse_indexes(
        status
            .and_then(|s| s.completed_indexes.as_deref())
            .unwrap_or_default(),
    );
    let failed = parse_indexes(
        status
            .and_then(|s| s.failed_indexes.as_deref())
            .unwrap_or_default(),
    );
    let job_failed = job_condition(status, "Failed");
    let mut sorted: Vec<&PodView> = pods.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    (0..completions)
        .map(|i| {
            let here = || sorted.iter().filter(move |p| p.index == Some(i));
            if let Some(p) = here().find(|p| p.phase == "Succeeded") {
                IndexState::Succeeded(p.name.clone())
            } else if completed.contains(&i) {
                IndexState::SucceededPodGone
            } else if failed.contains(&i) || job_failed {
                IndexState::Failed
            } else if here().any(|p| p.phase != "Failed") {
                IndexState::Running
            } else {
                IndexState::Waiting
            }
        })
        .collect()
}

/// "N of M runs succeeded, K running, F failed" (and ", W waiting" when some are).
pub fn state_line(states: &[IndexState]) -> String {
    let count = |f: fn(&IndexState) -> bool| states.iter().filter(|s| f(s)).count();
    let ok = count(|s| matches!(s, IndexState::Succeeded(_) | IndexState::SucceededPodGone));
    let running = count(|s| *s == IndexState::Running);
    let failed = count(|s| *s == IndexState::Failed);
    let waiting = count(|s| *s == IndexState::Waiting);
    let mut line = format!(
        "{ok} of {} runs succeeded, {running} running, {failed} failed",
        states.len()
    );
    if waiting > 0 {
        line.push_str(&format!(", {waiting} waiting"));
    }
    line
}

/// A sweep's Job on the cluster and what its pods printed.
#[derive(Debug)]
pub struct JobOutputs {
    /// The sweep's id (the Job's `drydock.io/sweep` label).
    pub sweep: String,
    /// Each index's state.
    pub states: Vec<IndexState>,
    /// The logs of the succeeded pods, by index: (`pod NS/NAME`, the log's text).
    pub logs: Vec<(String, String)>,
    /// Indexes whose pod succeeded but whose log could not be read, with the reason.
    pub unreadable: Vec<(usize, String)>,
    /// The Job has finished (condition `Complete` or `Failed`).
    pub finished: bool,
}

/// Gets the sweep's Job `name`, checking it is a drydock sweep.
async fn get_job(t: &Target, name: &str) -> anyhow::Result<(Job, String)> {
    let api: Api<Job> = Api::namespaced(t.client.clone(), &t.namespace);
    let Some(job) = api
        .get_opt(name)
        .await
        .map_err(|e| api_error(t, e, "get", "jobs"))?
    else {
        return Err(InputError::new(
            format!("no Job {name} in namespace {}", t.namespace),
            format!(
                "drydock's sweeps there: kubectl get jobs -n {} -l {SWEEP_SELECTOR}",
                t.namespace
            ),
        )
        .into());
    };
    let sweep = job
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_SWEEP))
        .cloned();
    match sweep {
        Some(id) if is_ours(&job.metadata, None) => Ok((job, id)),
        _ => Err(InputError::new(
            format!(
                "Job {}/{name} is not a drydock sweep (no labels {}={} and {LABEL_SWEEP})",
                t.namespace,
                drydock_real_cluster::names::LABEL_MANAGED_BY,
                drydock_real_cluster::names::MANAGED_BY
            ),
            format!(
                "drydock's sweeps there: kubectl get jobs -n {} -l {SWEEP_SELECTOR}",
                t.namespace
            ),
        )
        .into()),
    }
}

/// The state of each index of Job `job` from its pods (listed by the `job-name` label and
/// kept when the Job owns them), and those pods.
async fn job_pods(t: &Target, job: &Job) -> anyhow::Result<Vec<IndexState>> {
    let name = job.metadata.name.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(t.client.clone(), &t.namespace);
    let pods = api
        .list(&ListParams::default().labels(&format!("{LABEL_JOB_NAME}={name}")))
        .await
        .map_err(|e| api_error(t, e, "list", "pods"))?;
    let views: Vec<PodView> = pods
        .items
        .iter()
        .filter(|p| {
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == "Job" && (uid.is_empty() || o.uid == uid))
        })
        .map(PodView::of)
        .collect();
    let completions = job
        .spec
        .as_ref()
        .and_then(|s| s.completions)
        .unwrap_or(1)
        .max(0) as usize;
    Ok(index_states(completions, &views, job.status.as_ref()))
}

/// Reads Job `name` of the target: its state per index and the logs of its succeeded pods
/// (container [`CONTAINER`], read [`LOG_CONCURRENCY`] at a time, in index order).
///
/// # Errors
/// Input errors: no such Job, or not a drydock sweep. Cluster errors as [`submit`]'s; a log
/// that cannot be read for another reason than RBAC is reported in
/// [`JobOutputs::unreadable`], not as an error.
pub async fn read_job(t: &Target, name: &str) -> anyhow::Result<JobOutputs> {
    let (job, sweep) = get_job(t, name).await?;
    let states = job_pods(t, &job).await?;
    let api: Api<Pod> = Api::namespaced(t.client.clone(), &t.namespace);
    let lp = LogParams {
        container: Some(CONTAINER.to_string()),
        ..Default::default()
    };
    let wanted: Vec<(usize, String)> = states
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            IndexState::Succeeded(pod) => Some((i, pod.clone())),
            _ => None,
        })
        .collect();
    let read: Vec<(usize, String, Result<String, kube::Error>)> =
        futures::stream::iter(wanted.into_iter().map(|(i, pod)| {
            let api = api.clone();
            let lp = lp.clone();
            async move {
                let r = api.logs(&pod, &lp).await;
                (i, pod, r)
            }
        }))
        .buffered(LOG_CONCURRENCY)
        .collect()
        .await;
    let mut logs = Vec::new();
    let mut unreadable = Vec::new();
    for (i, pod, r) in read {
        match r {
            Ok(text) => logs.push((format!("pod {}/{pod}", t.namespace), text)),
            Err(e) if status_code(&e) == Some(403) || status_code(&e) == Some(401) => {
                return Err(api_error(t, e, "get", "pods/log"));
            }
            Err(e) => unreadable.push((i, format!("cannot read the log of pod {pod}: {e}"))),
        }
    }
    let finished = job_condition(job.status.as_ref(), "Complete")
        || job_condition(job.status.as_ref(), "Failed");
    Ok(JobOutputs {
        sweep,
        states,
        logs,
        unreadable,
        finished,
    })
}

/// Polls Job `name` every `every` until it has finished (condition `Complete` or `Failed`),
/// calling `progress` with [`state_line`] whenever it changes. Returns whether it completed.
///
/// # Errors
/// As [`read_job`] (without the logs).
pub async fn wait_job(
    t: &Target,
    name: &str,
    every: Duration,
    progress: &dyn Fn(&str),
) -> anyhow::Result<bool> {
    let mut last = String::new();
    loop {
        let (job, _) = get_job(t, name).await?;
        let states = job_pods(t, &job).await?;
        let line = state_line(&states);
        if line != last {
            progress(&line);
            last = line;
        }
        if job_condition(job.status.as_ref(), "Complete") {
            return Ok(true);
        }
        if job_condition(job.status.as_ref(), "Failed") {
            return Ok(false);
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, index: usize, phase: &str) -> PodView {
        PodView {
            name: name.into(),
            index: Some(index),
            phase: phase.into(),
        }
    }

    #[test]
    fn index_intervals_parse_as_the_job_controller_writes_them() {
        assert_eq!(parse_indexes("0,2-4, 7"), BTreeSet::from([0, 2, 3, 4, 7]));
        assert!(parse_indexes("").is_empty());
        assert_eq!(parse_indexes("x,1,2-y"), BTreeSet::from([1]));
    }

    #[test]
    fn each_index_takes_its_succeeded_pod_else_the_jobs_word_else_its_live_pods() {
        let pods = vec![
            pod("j-0-b", 0, "Failed"),
            pod("j-0-c", 0, "Succeeded"),
            pod("j-0-a", 0, "Succeeded"),
            pod("j-1-a", 1, "Running"),
            pod("j-2-a", 2, "Failed"),
            pod("j-3-a", 3, "Failed"),
            PodView {
                name: "stray".into(),
                index: None,
                phase: "Succeeded".into(),
            },
            pod("j-9-a", 9, "Succeeded"),
        ];
        let status = JobStatus {
            completed_indexes: Some("0,5".into()),
            failed_indexes: Some("3".into()),
            ..Default::default()
        };
        let states = index_states(6, &pods, Some(&status));
        assert_eq!(
            states,
            vec![
                IndexState::Succeeded("j-0-a".into()),
                IndexState::Running,
                IndexState::Waiting,
                IndexState::Failed,
                IndexState::Waiting,
                IndexState::SucceededPodGone,
            ]
        );
        assert_eq!(
            state_line(&states),
            "2 of 6 runs succeeded, 1 running, 1 failed, 2 waiting"
        );
    }

    #[test]
    fn a_failed_job_fails_every_unfinished_index() {
        let status = JobStatus {
            conditions: Some(vec![k8s_openapi::api::batch::v1::JobCondition {
                type_: "Failed".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let states = index_states(2, &[pod("a", 0, "Succeeded")], Some(&status));
        assert_eq!(states[1], IndexState::Failed);
        assert_eq!(
            state_line(&states),
            "1 of 2 runs succeeded, 0 running, 1 failed"
        );
    }

    #[test]
    fn printed_commands_quote_what_a_shell_would_split() {
        assert_eq!(
            cli_flags(Some(std::path::Path::new("/tmp/kc")), None),
            " --kubeconfig /tmp/kc"
        );
        assert_eq!(
            cli_flags(Some(std::path::Path::new("/tmp/my kc")), Some("it's")),
            r" --kubeconfig '/tmp/my kc' --context 'it'\''s'"
        );
    }
}
