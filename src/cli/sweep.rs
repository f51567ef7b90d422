//! `drydock sweep`: many runs of one scenario (the cross product of `--set` values and seeds)
//! in parallel, summarised per variant with 95 % confidence intervals, or as an Indexed Job on
//! a Kubernetes cluster (`--on-kubernetes`); `drydock sweep collect` for the results of a
//! sweep run on a cluster (from the Job's pod logs, or from saved logs in a directory), and
//! the hidden `drydock sweep-worker` those runs execute.

pub mod client;
pub mod kube;
pub mod plan;
pub mod report;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use drydock_scenarios::Scenario;
use drydock_sim::{Simulation, Summary};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::plan::{PLAN_VERSION, Plan};
use super::InputError;

/// Output format of a sweep's results on stdout.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A table per block of variants: mean ± half-width of the 95% interval per metric.
    Table,
    /// Per variant and metric: n, mean, standard deviation and the 95% interval, as JSON.
    Json,
}

/// Arguments of `drydock sweep`.
#[derive(clap::Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  drydock sweep default --seeds 1..5 --set scheduler.policy=kube-default,binpack,fgd\n  drydock sweep my.yaml --seeds 1,2,3 --set 'training[0].work=2h,4h' --set scheduler.preemption=true,false --out results/\n  drydock sweep default --seeds 1..10 --on-kubernetes --namespace sims --image registry.example.com/drydock:0.1.0\n  drydock sweep default --seeds 1..10 --on-kubernetes --namespace sims --wait --out results/\n  drydock sweep default --seeds 1..10 --on-kubernetes --dry-run | kubectl apply -f -\n  drydock sweep collect drydock-sweep-default-1a2b3c4d --namespace sims"
)]
pub struct Args {
    /// `collect`: gather the results of a sweep run on Kubernetes.
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// A built-in scenario name (see `drydock list`) or a scenario file.
    #[arg(value_name = "SCENARIO", required = true)]
    pub scenario: Option<String>,
    /// Seeds: a range `1..10` (inclusive), a list `1,2,5`, a single seed, or a mix `1..3,7`.
    #[arg(long, value_name = "SEEDS", required = true)]
    pub seeds: Option<String>,
    /// A scenario field and its values, `PATH=V1,V2,...`, with PATH relative to `spec`
    /// (`scheduler.policy`, `training[0].work`). Repeatable: the sweep runs the cross product.
    /// Values are YAML, checked like the file (`2h`, `[A100, L4]`).
    #[arg(long = "set", value_name = "PATH=VALUES")]
    pub set: Vec<String>,
    /// Runs in parallel (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Directory that trace paths in the scenario are relative to.
    #[arg(long, value_name = "DIR", env = "DRYDOCK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Write sweep.csv, summary.csv and sweep.svg to this directory (must not exist or be
    /// empty, unless --force). With --on-kubernetes, only with --wait.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Allow --out to write into a non-empty directory, replacing drydock's own files there.
    #[arg(long)]
    pub force: bool,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the scenario's expectations (`spec.expect`), checked on every run and on each
    /// variant's mean, as a JUnit XML report: one suite per variant, one test case per check
    /// and seed, plus one per check of the mean.
    #[arg(long, value_name = "FILE", conflicts_with = "on_kubernetes")]
    pub junit: Option<PathBuf>,
    /// Run the sweep on a Kubernetes cluster as an Indexed Job (one index per run) and a
    /// ConfigMap holding the scenario: submitted to the kubeconfig's cluster (then collect the
    /// results with `drydock sweep collect JOB`), or printed with --dry-run.
    #[arg(long)]
    pub on_kubernetes: bool,
    /// With --on-kubernetes: the container image holding the `drydock` binary.
    #[arg(long, value_name = "IMAGE", requires = "on_kubernetes", default_value = concat!("drydock:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// With --on-kubernetes: the namespace. It must exist: drydock does not create it.
    #[arg(
        long,
        value_name = "NS",
        requires = "on_kubernetes",
        default_value = "default"
    )]
    pub namespace: String,
    /// With --on-kubernetes: a PersistentVolumeClaim holding the trace data directory,
    /// mounted read-only at /data in each pod.
    #[arg(long, value_name = "CLAIM", requires = "on_kubernetes")]
    pub data_pvc: Option<String>,
    /// With --on-kubernetes: print the manifests instead of submitting them.
    #[arg(long, requires = "on_kubernetes")]
    pub dry_run: bool,
    /// With --on-kubernetes: the cluster's kubeconfig (default: `KUBECONFIG`, then
    /// `~/.kube/config`, then the in-cluster configuration).
    #[arg(
        long,
        value_name = "PATH",
        requires = "on_kubernetes",
        conflicts_with = "dry_run"
    )]
    pub kubeconfig: Option<PathBuf>,
    /// With --on-kubernetes: the kubeconfig context (default: its current context).
    #[arg(
        long,
        value_name = "NAME",
        requires = "on_kubernetes",
        conflicts_with = "dry_run"
    )]
    pub context: Option<String>,
    /// With --on-kubernetes: wait for the Job to finish (progress on stderr), then collect and
    /// report its results as `drydock sweep collect` does. Ctrl-C stops waiting; the Job goes
    /// on.
    #[arg(long, requires = "on_kubernetes", conflicts_with = "dry_run")]
    pub wait: bool,
    /// With --wait: report even if some runs failed (their variants get fewer seeds).
    #[arg(long, requires = "wait")]
    pub allow_missing: bool,
}

/// Subcommands of `drydock sweep`.
#[derive(clap::Subcommand, Debug)]
pub enum SweepCommand {
    /// Gather the per-run results of a sweep run on Kubernetes into the sweep's table.
    ///
    /// JOB is the sweep's Job (the name `drydock sweep --on-kubernetes` printed): drydock
    /// reads the log of each index's succeeded pod through the API server. It needs, in the
    /// namespace: get on jobs, list on pods, get on pods/log.
    ///
    /// DIR (used when a directory of that name exists) holds saved worker outputs instead:
    /// one file per index, or log files with one result per line. Save them with, for each
    /// index i:
    ///   kubectl logs -n NS -l job-name=JOB,batch.kubernetes.io/job-completion-index=$i --tail=-1 > DIR/$i.json
    #[command(
        verbatim_doc_comment,
        after_help = "Examples:\n  drydock sweep collect drydock-sweep-default-1a2b3c4d --namespace sims\n  drydock sweep collect drydock-sweep-default-1a2b3c4d --namespace sims --allow-missing --out results/\n  drydock sweep collect saved-logs/"
    )]
    Collect(CollectArgs),
}

/// Arguments of `drydock sweep collect`.
#[derive(clap::Args, Debug)]
pub struct CollectArgs {
    /// The sweep's Job name, or a directory of saved worker outputs (any file names; one JSON
    /// result per line). A directory of that name wins.
    #[arg(value_name = "JOB|DIR")]
    pub source: String,
    /// With a Job: its namespace (default `default`, as for submitting).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// With a Job: the cluster's kubeconfig (default: `KUBECONFIG`, then `~/.kube/config`,
    /// then the in-cluster configuration).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// With a Job: the kubeconfig context (default: its current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Report even if some runs are missing (their variants get fewer seeds).
    #[arg(long)]
    pub allow_missing: bool,
    /// Write sweep.csv, summary.csv and sweep.svg to this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Allow --out to write into a non-empty directory.
    #[arg(long)]
    pub force: bool,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Arguments of `drydock sweep-worker` (run inside the Indexed Job's pods).
#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// Directory holding the ConfigMap's `plan.json` and `scenario.yaml`.
    #[arg(long, value_name = "DIR", default_value = kube::CONFIG_MOUNT)]
    pub config: PathBuf,
    /// Run index (the Job's completion index).
    #[arg(long, value_name = "N", env = "JOB_COMPLETION_INDEX")]
    pub index: usize,
    /// Directory that trace paths in the scenario are relative to.
    #[arg(long, value_name = "DIR", env = "DRYDOCK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The `kind` of a worker's result line.
pub const RESULT_KIND: &str = "DrydockSweepResult";

/// One run's result as a worker prints it (one line of JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// Always [`RESULT_KIND`].
    pub kind: String,
    /// The sweep's id ([`kube::sweep_id`]).
    pub sweep: String,
    /// Run index.
    pub index: usize,
    /// 1-based variant.
    pub variant: usize,
    /// Seed.
    pub seed: u64,
    /// The whole plan, so that results alone rebuild the table.
    pub plan: Plan,
    /// The run's summary.
    pub summary: Summary,
    /// The variant's expectations as written (`spec.expect`), so that `collect` can check them.
    #[serde(default)]
    pub expect: Vec<String>,
}

/// Runs `drydock sweep` (or `drydock sweep collect`).
pub fn cmd(args: &Args) -> anyhow::Result<ExitCode> {
    if let Some(SweepCommand::Collect(c)) = &args.command {
        return collect(c);
    }
    let (Some(arg), Some(seeds_text)) = (&args.scenario, &args.seeds) else {
        return Err(InputError::new(
            "drydock sweep needs a SCENARIO and --seeds",
            "for example: drydock sweep default --seeds 1..5 --set scheduler.policy=binpack,fgd",
        )
        .into());
    };
    let seeds = plan::parse_seeds(seeds_text)?;
    let sets = args
        .set
        .iter()
        .map(|s| plan::parse_set(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    plan::check_sets(&sets, seeds.len())?;
    let (text, origin) = drydock_scenarios::source_text(arg)?;
    let mut plan = Plan {
        version: PLAN_VERSION,
        name: String::new(),
        origin: origin.clone(),
        sets,
        seeds,
        seeds_text: seeds_text.trim().to_string(),
    };
    let scenarios = load_variants(&plan, &text)?;
    plan.name = scenarios
        .first()
        .map(|s| s.name.clone())
        .unwrap_or_default();

    if args.on_kubernetes {
        return render_kubernetes(args, &plan, &text, &scenarios);
    }
    for s in &scenarios {
        super::check_data_dir(s, args.data_dir.as_deref())?;
    }
    if let Some(out) = &args.out {
        super::check_out_dir(out, args.force)?;
    }
    let jobs = args.jobs.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let wall = Instant::now();
    if let Some(p) = &args.junit {
        if let Some(out) = &args.out {
            super::run::check_not_in_out(p, out, &["sweep.csv", "summary.csv", "sweep.svg"])?;
        }
        super::run::check_report_file(p, "--junit", crate::junit::is_drydock_report, args.force)?;
    }
    let summaries = run_all(&plan, &scenarios, args.data_dir.as_deref(), jobs)?;
    let results: Vec<Option<Summary>> = summaries.into_iter().map(Some).collect();
    report_results(&plan, &results, args.format, args.out.as_deref())?;
    eprintln!(
        "{} runs in {:.2} s wall on {jobs} thread{}",
        results.len(),
        wall.elapsed().as_secs_f64(),
        if jobs == 1 { "" } else { "s" }
    );
    let expects: Vec<_> = scenarios.iter().map(|s| s.expect.clone()).collect();
    let suites = sweep_checks(&plan, &expects, &results);
    finish_checks(&plan, &suites, args.format, args.junit.as_deref())
}

/// Prints the checks of a sweep, writes `--junit`, and fails with exit code 3 when a check
/// failed.
fn finish_checks(
    plan: &Plan,
    suites: &[crate::junit::Suite],
    format: Format,
    junit: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    if suites.iter().all(|s| s.cases.is_empty()) {
        if junit.is_some() {
            eprintln!(
                "warning: the scenario has no expectations (spec.expect); the JUnit report has no test cases"
            );
        }
    } else if format == Format::Table {
        print!("{}", checks_table(suites));
    }
    if let Some(p) = junit {
        let xml = crate::junit::render_suites(&plan.name, suites)
            .context("cannot render the JUnit report")?;
        super::run::write_file(p, |w| std::io::Write::write_all(w, xml.as_bytes()))?;
        if format == Format::Table {
            println!("JUnit report written to {}", p.display());
        }
    }
    let total: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failed: Vec<String> = suites
        .iter()
        .flat_map(|s| {
            s.cases
                .iter()
                .filter(|c| !c.1.passed)
                .map(move |c| format!("{}: {}: measured {}", s.name, c.0, c.1.measured_text))
        })
        .collect();
    if !failed.is_empty() {
        return Err(super::ChecksFailed { failed, total }.into());
    }
    Ok(ExitCode::SUCCESS)
}

/// The scenario's expectations checked on every run and on each variant's mean (the mean of
/// every metric over the variant's seeds): one JUnit suite per variant.
fn sweep_checks(
    plan: &Plan,
    expects: &[Vec<drydock_scenarios::expect::Expectation>],
    results: &[Option<Summary>],
) -> Vec<crate::junit::Suite> {
    let variants = plan.variants();
    let seeds = plan.seeds.len().max(1);
    variants
        .iter()
        .enumerate()
        .map(|(v, overrides)| {
            let expect = &expects[v];
            let runs: Vec<&Summary> = results[v * seeds..(v + 1) * seeds]
                .iter()
                .flatten()
                .collect();
            let mut cases = Vec::new();
            for (k, s) in runs.iter().enumerate() {
                for c in drydock_sim::check::evaluate(expect, s) {
                    cases.push((format!("{} [seed {}]", c.check, plan.seeds[k % seeds]), c));
                }
            }
            if let Some(first) = runs.first() {
                let mean: Vec<drydock_sim::report::Metric> = first
                    .metrics()
                    .into_iter()
                    .map(|mut m| {
                        m.value = runs
                            .iter()
                            .map(|s| s.metric_value(m.name).unwrap_or(f64::NAN))
                            .sum::<f64>()
                            / runs.len() as f64;
                        m
                    })
                    .collect();
                for c in drydock_sim::check::evaluate_metrics(expect, &mean) {
                    cases.push((format!("{} [mean of {} seeds]", c.check, runs.len()), c));
                }
            }
            crate::junit::Suite {
                name: if overrides.is_empty() {
                    format!("{} v{} (as written)", plan.name, v + 1)
                } else {
                    format!("{} v{} ({})", plan.name, v + 1, plan.label(overrides))
                },
                properties: vec![
                    ("seeds".into(), plan.seeds_text.clone()),
                    ("settings".into(), plan.label(overrides)),
                ],
                cases,
            }
        })
        .collect()
}

/// The checks of a sweep for the terminal: per variant, passes over total, then each failure.
fn checks_table(suites: &[crate::junit::Suite]) -> String {
    let mut o = String::from("\nchecks (spec.expect) on every run and on each variant's mean\n");
    for s in suites {
        let failed: Vec<&(String, drydock_sim::check::CheckResult)> =
            s.cases.iter().filter(|c| !c.1.passed).collect();
        o.push_str(&format!(
            "  {:<40} {} of {} passed\n",
            s.name,
            s.cases.len() - failed.len(),
            s.cases.len()
        ));
        for (name, c) in failed {
            o.push_str(&format!("    FAIL  {name}  measured {}\n", c.measured_text));
        }
    }
    o
}

/// Loads and validates every variant, so that every input error shows before any run.
fn load_variants(plan: &Plan, text: &str) -> anyhow::Result<Vec<Scenario>> {
    plan.variants()
        .iter()
        .enumerate()
        .map(|(i, v)| {
            drydock_scenarios::load_str_with_overrides(text, &plan.origin, v).with_context(|| {
                if v.is_empty() {
                    format!("invalid scenario {}", plan.origin)
                } else {
                    format!(
                        "invalid variant v{} ({})",
                        i + 1,
                        v.iter()
                            .map(|o| o.to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                }
            })
        })
        .collect()
}

/// Runs one simulation to the end and returns its summary.
///
/// # Errors
/// Trace and scenario errors (input errors), or an internal simulation error.
pub fn run_one(scenario: &Scenario, data_dir: Option<&Path>, seed: u64) -> anyhow::Result<Summary> {
    let mut sim = Simulation::new(scenario, data_dir, Some(seed))
        .with_context(|| format!("cannot set up scenario `{}` (seed {seed})", scenario.name))?;
    sim.run(|_| {})
        .with_context(|| format!("simulation of `{}` (seed {seed}) failed", scenario.name))?;
    Ok(sim.summary())
}

/// A progress bar over `n` items on stderr, hidden unless stderr is a terminal.
pub fn progress_bar(n: usize, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(n as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{{bar:40}} {{pos}}/{{len}} {what} ({{elapsed}}, eta {{eta}})"
    )) {
        bar.set_style(style);
    }
    bar
}

/// Runs every run of the plan on a pool of `jobs` threads. Results come back in run order,
/// whatever the threads' timing; the first failing run (in run order) is the error.
fn run_all(
    plan: &Plan,
    scenarios: &[Scenario],
    data_dir: Option<&Path>,
    jobs: usize,
) -> anyhow::Result<Vec<Summary>> {
    let runs = plan.runs();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("cannot start the worker threads")?;
    let bar = progress_bar(runs.len(), "runs");
    let results: Vec<anyhow::Result<Summary>> = pool.install(|| {
        runs.par_iter()
            .map(|r| {
                let out = run_one(&scenarios[r.variant], data_dir, r.seed);
                bar.inc(1);
                out
            })
            .collect()
    });
    bar.finish_and_clear();
    results.into_iter().collect()
}

/// Prints the table (or JSON) and writes the files of `--out`.
fn report_results(
    plan: &Plan,
    results: &[Option<Summary>],
    format: Format,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let stats = report::stats(plan, results);
    match format {
        Format::Table => print!("{}", report::table(plan, &stats)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report::json(plan, &stats))?
        ),
    }
    if let Some(out) = out {
        report::write_out(out, plan, results, &stats)
            .with_context(|| format!("cannot write results to {}", out.display()))?;
        if format == Format::Table {
            println!("\nresults written to {}", out.display());
        }
    }
    Ok(())
}

/// Checks `ns` is a valid namespace name (an RFC 1123 label, as Kubernetes requires).
fn check_namespace(ns: &str) -> Result<(), InputError> {
    let label_ok = !ns.is_empty()
        && ns.len() <= 63
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !ns.starts_with('-')
        && !ns.ends_with('-');
    if label_ok {
        Ok(())
    } else {
        Err(InputError::new(
            format!("--namespace `{ns}` is not a valid Kubernetes namespace name"),
            "use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
        ))
    }
}

/// Checks `claim` is a valid PersistentVolumeClaim name (an RFC 1123 subdomain: at most 253
/// lowercase letters, digits, '-' and '.', starting and ending with a letter or digit).
fn check_claim(claim: &str) -> Result<(), InputError> {
    let ok = !claim.is_empty()
        && claim.len() <= 253
        && claim.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(InputError::new(
            format!("--data-pvc `{claim}` is not a valid PersistentVolumeClaim name"),
            "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (kubectl get pvc -n NS lists the claims)",
        ))
    }
}

/// `drydock sweep --on-kubernetes`: prints the manifests (`--dry-run`) or submits them, and
/// with `--wait` waits for the Job and collects its results.
fn render_kubernetes(
    args: &Args,
    plan: &Plan,
    text: &str,
    scenarios: &[Scenario],
) -> anyhow::Result<ExitCode> {
    check_namespace(&args.namespace)?;
    if args.image.trim().is_empty() || args.image.chars().any(char::is_whitespace) {
        return Err(InputError::new(
            format!(
                "--image `{}` is not a container image reference",
                args.image
            ),
            "for example --image registry.example.com/drydock:0.1.0",
        )
        .into());
    }
    if let Some(out) = &args.out {
        if !args.wait {
            return Err(InputError::new(
                "--out with --on-kubernetes needs --wait: the results exist once the Job has run",
                "pass --wait, or give --out to `drydock sweep collect JOB` later",
            )
            .into());
        }
        super::check_out_dir(out, args.force)?;
    }
    if let Some(claim) = &args.data_pvc {
        check_claim(claim)?;
    }
    let runs = plan.runs().len();
    if runs > kube::MAX_INDEXED_COMPLETIONS {
        return Err(InputError::new(
            format!(
                "the sweep has {runs} runs; an Indexed Job takes at most {} completions",
                kube::MAX_INDEXED_COMPLETIONS
            ),
            "split the sweep: fewer seeds or values per --set, one submission each",
        )
        .into());
    }
    let needs_data = scenarios
        .iter()
        .any(|s| !s.traces.is_empty() || s.cluster.node_trace.is_some());
    if needs_data && args.data_pvc.is_none() {
        return Err(InputError::new(
            format!("scenario `{}` reads trace files, which the pods cannot see", plan.name),
            "put the data directory on a PersistentVolumeClaim and pass --data-pvc CLAIM (mounted at /data)",
        )
        .into());
    }
    let opts = kube::KubeOptions {
        image: args.image.clone(),
        namespace: args.namespace.clone(),
        parallelism: args.jobs.map(usize::from),
        data_pvc: args.data_pvc.clone(),
    };
    let objs = kube::objects(plan, text, &opts)?;
    if args.dry_run {
        print!("{}", objs.yaml()?);
        return Ok(ExitCode::SUCCESS);
    }
    let report = ReportOptions {
        allow_missing: args.allow_missing,
        out: args.out.as_deref(),
        force: args.force,
        format: args.format,
    };
    runtime()?.block_on(async {
        let target = client::connect(
            args.kubeconfig.as_deref(),
            args.context.as_deref(),
            &args.namespace,
        )
        .await?;
        let outcome = client::submit(&target, &objs).await?;
        let ns = &objs.namespace;
        let mut msg = match outcome {
            client::Submitted::AlreadySubmitted => format!(
                "sweep `{}` is already submitted: Job {} in namespace {ns} (nothing changed)\n",
                plan.name, objs.name
            ),
            client::Submitted::Created { configmap, .. } => format!(
                "submitted sweep `{}` to {}: Job {} in namespace {ns}, {} runs ({} variants x {} seeds), {} at a time{}\n",
                plan.name,
                target.server,
                objs.name,
                objs.runs,
                plan.variant_count(),
                plan.seeds.len(),
                objs.parallelism,
                if configmap { "" } else { " (its ConfigMap was already there)" }
            ),
        };
        msg.push_str(&format!(
            "collect the results once the Job has completed:\n  {}\n",
            target.collect_command(&objs.name)
        ));
        if outcome == client::Submitted::AlreadySubmitted {
            msg.push_str(&format!(
                "to run it again, delete it first: kubectl delete job,configmap -n {ns} -l {}={}\n",
                kube::LABEL_SWEEP,
                objs.id
            ));
        }
        if !args.wait {
            print!("{msg}");
            return Ok(ExitCode::SUCCESS);
        }
        eprint!("{msg}");
        let job = &objs.name;
        let progress = |line: &str| eprintln!("Job {ns}/{job}: {line}");
        let completed = client::wait_job(&target, job, WAIT_POLL, &progress).await?;
        if !completed {
            eprintln!("warning: Job {ns}/{job} failed");
        }
        collect_job(&target, job, &report).await
    })
}

/// How often `--wait` polls the Job.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// A single-threaded tokio runtime for the cluster calls.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs `drydock sweep-worker`: run `--index` of the plan in `--config`, printed as one line
/// of JSON on stdout.
pub fn worker(args: &WorkerArgs) -> anyhow::Result<ExitCode> {
    let plan_path = args.config.join(kube::PLAN_KEY);
    let text = std::fs::read_to_string(&plan_path)
        .with_context(|| format!("cannot read the sweep plan {}", plan_path.display()))?;
    let shipped: kube::Shipped = serde_json::from_str(&text).map_err(|e| {
        InputError::new(
            format!("{} is not a drydock sweep plan: {e}", plan_path.display()),
            "mount the ConfigMap of `drydock sweep --on-kubernetes` (see --dry-run)",
        )
    })?;
    let scenario_path = args.config.join(kube::SCENARIO_KEY);
    let scenario_text = std::fs::read_to_string(&scenario_path)
        .with_context(|| format!("cannot read the scenario {}", scenario_path.display()))?;
    let plan = &shipped.plan;
    let runs = plan.runs();
    let Some(run) = runs.get(args.index).copied() else {
        return Err(InputError::new(
            format!(
                "run index {} is out of range: the sweep has {} runs",
                args.index,
                runs.len()
            ),
            "the Job's completions must equal the number of runs",
        )
        .into());
    };
    let variants = plan.variants();
    let scenario = drydock_scenarios::load_str_with_overrides(
        &scenario_text,
        &plan.origin,
        &variants[run.variant],
    )?;
    let summary = run_one(&scenario, args.data_dir.as_deref(), run.seed)?;
    let result = RunResult {
        kind: RESULT_KIND.into(),
        sweep: shipped.id.clone(),
        index: run.index,
        variant: run.variant + 1,
        seed: run.seed,
        plan: plan.clone(),
        summary,
        expect: scenario
            .expect
            .iter()
            .map(|e| e.source_text.clone())
            .collect(),
    };
    println!("{}", serde_json::to_string(&result)?);
    Ok(ExitCode::SUCCESS)
}

/// The text of every file in `dir` (sorted by name), as (path, text) pairs.
fn read_dir_sources(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    if !dir.is_dir() {
        return Err(InputError::new(
            format!("{} is not a directory", dir.display()),
            "pass the directory where the workers' logs were saved",
        )
        .into());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let bytes =
                std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
            Ok((
                f.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ))
        })
        .collect()
}

/// Every worker result in `sources`, (name, text) pairs such as a file and its contents or a
/// pod and its log, in order. A source is either one JSON result or lines among which the
/// results are those that parse (`kubectl logs` may mix in other lines); a source without any
/// is reported on stderr.
fn parse_results(sources: &[(String, String)]) -> Vec<RunResult> {
    let mut out = Vec::new();
    for (name, text) in sources {
        let mut here: Vec<RunResult> = Vec::new();
        if let Ok(r) = serde_json::from_str::<RunResult>(text) {
            here.push(r);
        } else {
            for line in text.lines().map(str::trim).filter(|l| l.starts_with('{')) {
                if let Ok(r) = serde_json::from_str::<RunResult>(line) {
                    here.push(r);
                }
            }
        }
        here.retain(|r| r.kind == RESULT_KIND);
        if here.is_empty() {
            eprintln!("warning: no sweep result in {name}");
        }
        out.extend(here);
    }
    out
}

/// Where collected results came from, for messages.
enum Origin<'a> {
    /// A directory of saved outputs.
    Dir(&'a Path),
    /// A sweep's Job on a cluster.
    Job {
        /// Namespace.
        namespace: &'a str,
        /// Job name.
        name: &'a str,
        /// [`client::state_line`] of the Job.
        state: String,
        /// Runs whose pods failed (the Job gave up on them).
        failed: usize,
        /// Runs neither succeeded nor failed yet.
        unfinished: usize,
    },
}

impl Origin<'_> {
    fn describe(&self) -> String {
        match self {
            Origin::Dir(d) => d.display().to_string(),
            Origin::Job {
                namespace, name, ..
            } => format!("Job {namespace}/{name}"),
        }
    }

    fn no_results_hint(&self) -> String {
        match self {
            Origin::Dir(_) => "save each pod's log there: kubectl logs -n NS -l job-name=JOB,batch.kubernetes.io/job-completion-index=$i --tail=-1 > DIR/$i.json".to_string(),
            Origin::Job {
                namespace,
                name,
                state,
                failed,
                unfinished,
            } => {
                if *unfinished > 0 {
                    format!(
                        "{state}; wait for its runs to succeed (kubectl get job -n {namespace} {name})"
                    )
                } else if *failed > 0 {
                    format!(
                        "{state}; read the failed pods' logs: kubectl logs -n {namespace} -l job-name={name} --tail=50"
                    )
                } else {
                    format!(
                        "{state}, but their logs hold no drydock result line; check the image runs `drydock sweep-worker` (kubectl logs -n {namespace} -l job-name={name} --tail=5)"
                    )
                }
            }
        }
    }

    fn missing_hint(&self) -> String {
        match self {
            Origin::Dir(_) => {
                "save the missing pods' logs, or pass --allow-missing to report the runs at hand"
                    .to_string()
            }
            Origin::Job {
                namespace,
                name,
                unfinished,
                ..
            } => {
                if *unfinished > 0 {
                    format!(
                        "wait for the Job to complete (kubectl get job -n {namespace} {name}), or pass --allow-missing to report the runs at hand"
                    )
                } else {
                    format!(
                        "the missing runs failed or lost their logs (kubectl logs -n {namespace} -l job-name={name} --tail=50); pass --allow-missing to report the runs at hand"
                    )
                }
            }
        }
    }
}

/// What to do with collected results.
struct ReportOptions<'a> {
    /// Report even if runs are missing.
    allow_missing: bool,
    /// `--out`.
    out: Option<&'a Path>,
    /// `--force`.
    force: bool,
    /// `--format`.
    format: Format,
}

/// Runs `drydock sweep collect`.
fn collect(args: &CollectArgs) -> anyhow::Result<ExitCode> {
    let report = ReportOptions {
        allow_missing: args.allow_missing,
        out: args.out.as_deref(),
        force: args.force,
        format: args.format,
    };
    let path = Path::new(&args.source);
    let cluster_flags =
        args.namespace.is_some() || args.kubeconfig.is_some() || args.context.is_some();
    if path.is_dir() {
        if cluster_flags {
            return Err(InputError::new(
                format!(
                    "{} is a directory of saved outputs, but --namespace, --kubeconfig and --context are for reading a Job from a cluster",
                    path.display()
                ),
                "drop those options to read the directory, or run from a directory that holds nothing of the Job's name",
            )
            .into());
        }
        let found = parse_results(&read_dir_sources(path)?);
        return report_collected(found, &Origin::Dir(path), None, &report);
    }
    let name = &args.source;
    let job_name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if path.exists() || !job_name_ok {
        let what = if path.exists() {
            "is not a directory"
        } else {
            "is neither a directory nor a Job name"
        };
        return Err(InputError::new(
            format!("{} {what}", path.display()),
            "pass the sweep's Job name (printed when it was submitted), or the directory where the workers' logs were saved",
        )
        .into());
    }
    let namespace = args.namespace.as_deref().unwrap_or("default");
    check_namespace(namespace)?;
    runtime()?.block_on(async {
        let target = client::connect(
            args.kubeconfig.as_deref(),
            args.context.as_deref(),
            namespace,
        )
        .await?;
        collect_job(&target, name, &report).await
    })
}

/// Collects the results of Job `job` from the logs of its succeeded pods and reports them as
/// [`report_collected`] does; the Job's state goes to stderr when not every run succeeded.
async fn collect_job(
    target: &client::Target,
    job: &str,
    report: &ReportOptions<'_>,
) -> anyhow::Result<ExitCode> {
    let outputs = client::read_job(target, job).await?;
    let state = client::state_line(&outputs.states);
    let all_ok = outputs
        .states
        .iter()
        .all(|s| matches!(s, client::IndexState::Succeeded(_)));
    let ns = &target.namespace;
    if !all_ok {
        eprintln!(
            "Job {ns}/{job}: {state}{}",
            if outputs.finished {
                ""
            } else {
                " (not finished)"
            }
        );
    }
    let gone: Vec<String> = outputs
        .states
        .iter()
        .enumerate()
        .filter(|(_, s)| **s == client::IndexState::SucceededPodGone)
        .map(|(i, _)| i.to_string())
        .collect();
    if !gone.is_empty() {
        eprintln!(
            "warning: runs {} succeeded but their pods are gone, and their logs with them",
            gone.join(", ")
        );
    }
    for (_, why) in &outputs.unreadable {
        eprintln!("warning: {why}");
    }
    let found = parse_results(&outputs.logs);
    let failed = outputs
        .states
        .iter()
        .filter(|s| **s == client::IndexState::Failed)
        .count();
    let unfinished = outputs
        .states
        .iter()
        .filter(|s| matches!(s, client::IndexState::Running | client::IndexState::Waiting))
        .count();
    let origin = Origin::Job {
        namespace: ns,
        name: job,
        state,
        failed,
        unfinished,
    };
    report_collected(found, &origin, Some(&outputs.sweep), report)
}

/// Checks collected results against their plan (the plan every result carries) and reports
/// them as a local sweep does: the table (or JSON), `--out`, the checks. `sweep`, when known,
/// is the id every result must carry.
fn report_collected(
    found: Vec<RunResult>,
    origin: &Origin<'_>,
    sweep: Option<&str>,
    report: &ReportOptions<'_>,
) -> anyhow::Result<ExitCode> {
    let place = origin.describe();
    let Some(first) = found.first() else {
        return Err(InputError::new(
            format!("no sweep results in {place}"),
            origin.no_results_hint(),
        )
        .into());
    };
    let id = first.sweep.clone();
    let plan = first.plan.clone();
    if let Some(other) = found.iter().find(|r| r.sweep != id || r.plan != plan) {
        return Err(InputError::new(
            format!(
                "{place} holds results of two different sweeps ({id} and {})",
                other.sweep
            ),
            "collect each sweep from its own directory",
        )
        .into());
    }
    if let Some(want) = sweep
        && want != id
    {
        return Err(InputError::new(
            format!("{place} is sweep {want}, but its pods printed results of sweep {id}"),
            "the Job's pods do not run the sweep the Job was made for; submit it again",
        )
        .into());
    }
    let runs = plan.runs();
    let mut results: Vec<Option<Summary>> = vec![None; runs.len()];
    let mut expects: Vec<Option<Vec<drydock_scenarios::expect::Expectation>>> =
        vec![None; plan.variant_count()];
    for r in found {
        let Some(run) = runs.get(r.index) else {
            return Err(InputError::new(
                format!(
                    "result index {} is out of range: the sweep has {} runs",
                    r.index,
                    runs.len()
                ),
                format!("{place} holds a result that does not belong to this sweep"),
            )
            .into());
        };
        if run.variant + 1 != r.variant || run.seed != r.seed {
            return Err(InputError::new(
                format!(
                    "result {} does not match the plan (variant {}, seed {})",
                    r.index, r.variant, r.seed
                ),
                format!("{place} holds a result that does not belong to this sweep"),
            )
            .into());
        }
        if let Some(prev) = &results[r.index] {
            if prev != &r.summary {
                return Err(InputError::new(
                    format!("{place} holds two different results for run {}", r.index),
                    "keep one output per completion index",
                )
                .into());
            }
            eprintln!(
                "warning: run {} appears twice in {place} (identical copies)",
                r.index
            );
            continue;
        }
        if expects[run.variant].is_none() {
            let parsed = r
                .expect
                .iter()
                .map(|t| drydock_scenarios::expect::parse_expectation(t))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    InputError::new(
                        format!("result {}: a bad expectation: {e}", r.index),
                        "the result was not written by this version of drydock",
                    )
                })?;
            expects[run.variant] = Some(parsed);
        }
        results[r.index] = Some(r.summary);
    }
    let missing: Vec<usize> = (0..runs.len()).filter(|&i| results[i].is_none()).collect();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().take(20).map(|i| i.to_string()).collect();
        let more = if missing.len() > 20 { ", ..." } else { "" };
        if !report.allow_missing {
            return Err(InputError::new(
                format!(
                    "{} of {} runs have no result (indices {}{more})",
                    missing.len(),
                    runs.len(),
                    list.join(", ")
                ),
                origin.missing_hint(),
            )
            .into());
        }
        eprintln!(
            "warning: {} of {} runs have no result (indices {}{more})",
            missing.len(),
            runs.len(),
            list.join(", ")
        );
    }
    if let Some(out) = report.out {
        super::check_out_dir(out, report.force)?;
    }
    report_results(&plan, &results, report.format, report.out)?;
    let expects: Vec<_> = expects.into_iter().map(Option::unwrap_or_default).collect();
    let suites = sweep_checks(&plan, &expects, &results);
    finish_checks(&plan, &suites, report.format, None)
}
