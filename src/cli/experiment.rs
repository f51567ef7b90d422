//! `drydock experiment fgd`: the FGD study (Weng et al., USENIX ATC'23) reproduced on the
//! Alibaba openb traces, by the method of kubernetes-semantics.md §10.4: every openb pod list,
//! each of the six placement policies, ten seeds; arrivals only, shuffled with the seed,
//! inflated to 130 % of the cluster's GPU capacity, one scheduling attempt per pod, on the
//! 1,213 GPU nodes of the openb node list. Each run yields the GPU allocation ratio and the
//! fragmentation ratio at each whole percent (0–130) of arrived GPU requests.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use drydock_scenarios::{Override, Scenario};
use rayon::prelude::*;

use super::InputError;
use super::sweep::{plan::parse_seeds, progress_bar, run_one};
use crate::output;
use crate::stats::Estimate;

/// The highest arrived percentage recorded.
pub const MAX_PCT: u32 = 130;
/// The study's six policies, in the paper's order.
pub const POLICIES: &str = "random,dot-prod,gpu-clustering,gpu-packing,best-fit,fgd";
/// The node list, relative to the data directory.
pub const NODE_LIST: &str = "alibaba-openb/openb_node_list_gpu_node.csv";
/// The folder of the openb pod lists, relative to the data directory.
pub const OPENB_DIR: &str = "alibaba-openb";

/// Arguments of `drydock experiment`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The experiment.
    #[command(subcommand)]
    pub experiment: Experiment,
}

/// The experiments.
#[derive(clap::Subcommand, Debug)]
pub enum Experiment {
    /// The FGD study reproduced: allocation and fragmentation against arrived GPU requests
    /// for each policy on each openb pod list.
    Fgd(FgdArgs),
}

/// Arguments of `drydock experiment fgd`.
#[derive(clap::Args, Debug)]
pub struct FgdArgs {
    /// Data directory holding alibaba-openb/ (the node list and the openb_pod_list_*.csv).
    #[arg(long, value_name = "DIR", env = "DRYDOCK_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Output directory (must not exist or be empty, unless --force).
    #[arg(long, value_name = "DIR", default_value = "experiment-fgd")]
    pub out: PathBuf,
    /// Allow --out to write into a non-empty directory, replacing drydock's own files there.
    #[arg(long)]
    pub force: bool,
    /// Seeds: a range (inclusive), a list, or a mix; the study's are 42..51.
    #[arg(long, value_name = "SEEDS", default_value = "42..51")]
    pub seeds: String,
    /// Pod lists by name (`default` for openb_pod_list_default.csv), comma-separated.
    /// Default: every openb_pod_list_*.csv in DIR/alibaba-openb.
    #[arg(long, value_name = "NAMES")]
    pub traces: Option<String>,
    /// Placement policies, comma-separated.
    #[arg(long, value_name = "NAMES", default_value = POLICIES)]
    pub policies: String,
    /// Runs in parallel (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

/// Runs the experiment.
pub fn cmd(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.experiment {
        Experiment::Fgd(a) => fgd(a),
    }
}

/// The outcome of one run.
#[derive(Debug, Clone)]
struct RunOut {
    trace: usize,
    policy: usize,
    seed: u64,
    /// Allocation ratio at each percent 0..=130.
    alloc: Vec<f64>,
    /// Fragmentation ratio at each percent 0..=130.
    frag: Vec<f64>,
    /// Pods that could not be placed.
    failed: u64,
    /// Pods that arrived.
    pods: u64,
    /// GPU capacity.
    capacity: f64,
}

/// The pod lists in `dir/alibaba-openb`, by name (`default` for `openb_pod_list_default.csv`),
/// sorted.
fn find_traces(data_dir: &Path) -> anyhow::Result<Vec<String>> {
    let dir = data_dir.join(OPENB_DIR);
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        InputError::new(
            format!("cannot read {}: {e}", dir.display()),
            "pass --data-dir DIR with the openb traces in DIR/alibaba-openb (see the README)",
        )
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_prefix("openb_pod_list_")
                .and_then(|r| r.strip_suffix(".csv"))
                .map(str::to_string)
        })
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    Ok(names)
}

fn fgd(args: &FgdArgs) -> anyhow::Result<ExitCode> {
    let seeds = parse_seeds(&args.seeds)?;
    if !args.data_dir.is_dir() {
        return Err(InputError::new(
            format!("data directory {} does not exist", args.data_dir.display()),
            "pass the folder that holds alibaba-openb/",
        )
        .into());
    }
    let found = find_traces(&args.data_dir)?;
    let traces: Vec<String> = match &args.traces {
        None => found.clone(),
        Some(list) => {
            let wanted: Vec<String> = list
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if let Some(missing) = wanted.iter().find(|w| !found.contains(w)) {
                return Err(InputError::new(
                    format!(
                        "no pod list `{missing}` (openb_pod_list_{missing}.csv) in {}",
                        args.data_dir.join(OPENB_DIR).display()
                    ),
                    format!(
                        "pod lists found: {}",
                        if found.is_empty() {
                            "none".into()
                        } else {
                            found.join(", ")
                        }
                    ),
                )
                .into());
            }
            wanted
        }
    };
    if traces.is_empty() {
        return Err(InputError::new(
            format!("no openb_pod_list_*.csv in {}", args.data_dir.join(OPENB_DIR).display()),
            "put the openb pod lists of alibaba/clusterdata's cluster-trace-gpu-v2023 there (see the README)",
        )
        .into());
    }
    let node_list = args.data_dir.join(NODE_LIST);
    if !node_list.is_file() {
        return Err(InputError::new(
            format!("node list {} not found", node_list.display()),
            "the experiment runs on openb_node_list_gpu_node.csv of alibaba/clusterdata's cluster-trace-gpu-v2023",
        )
        .into());
    }
    let policies: Vec<String> = args
        .policies
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if policies.is_empty() {
        return Err(InputError::new(
            "--policies is empty",
            format!("for example --policies {POLICIES}"),
        )
        .into());
    }
    for (flag, list) in [("--traces", &traces), ("--policies", &policies)] {
        if let Some((i, dup)) = list
            .iter()
            .enumerate()
            .find(|(i, x)| list[..*i].contains(x))
        {
            let _ = i;
            return Err(InputError::new(
                format!("{flag}: `{dup}` appears twice"),
                "name each one once",
            )
            .into());
        }
    }
    for p in &policies {
        if drydock_core::PolicyKind::from_name(p).is_none() {
            return Err(InputError::new(
                format!("--policies: unknown policy `{p}`"),
                format!("the study's policies are {POLICIES}"),
            )
            .into());
        }
    }
    // One scenario per (trace, policy): the built-in `openb-fgd` with two overrides.
    let mut scenarios: Vec<Vec<Scenario>> = Vec::new();
    for t in &traces {
        let mut row = Vec::new();
        for p in &policies {
            let ov = [
                Override::new(
                    "traces[0].path",
                    format!("{OPENB_DIR}/openb_pod_list_{t}.csv"),
                ),
                Override::new("scheduler.policy", p.clone()),
            ];
            row.push(
                drydock_scenarios::load_with_overrides("openb-fgd", &ov)
                    .with_context(|| format!("invalid policy `{p}`"))?,
            );
        }
        scenarios.push(row);
    }
    super::check_out_dir(&args.out, args.force)?;

    let mut runs: Vec<(usize, usize, u64)> = Vec::new();
    for t in 0..traces.len() {
        for p in 0..policies.len() {
            for &s in &seeds {
                runs.push((t, p, s));
            }
        }
    }
    let jobs = args.jobs.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("cannot start the worker threads")?;
    let wall = Instant::now();
    let bar = progress_bar(runs.len(), "runs");
    let data_dir = args.data_dir.as_path();
    let results: Vec<anyhow::Result<RunOut>> = pool.install(|| {
        runs.par_iter()
            .map(|&(t, p, seed)| {
                let s = run_one(&scenarios[t][p], Some(data_dir), seed)?;
                bar.inc(1);
                Ok(RunOut {
                    trace: t,
                    policy: p,
                    seed,
                    alloc: s.allocation_by_percent(MAX_PCT),
                    frag: s.fragmentation_by_percent(MAX_PCT),
                    failed: s.jobs.failed_unschedulable,
                    pods: s.jobs.submitted,
                    capacity: s.gpu.capacity,
                })
            })
            .collect()
    });
    bar.finish_and_clear();
    let results: Vec<RunOut> = results.into_iter().collect::<anyhow::Result<_>>()?;
    let elapsed = wall.elapsed();

    write_outputs(&args.out, &traces, &policies, &results)
        .with_context(|| format!("cannot write results to {}", args.out.display()))?;
    print!(
        "{}",
        table(&traces, &policies, &args.seeds, seeds.len(), &results)
    );
    println!("results written to {}", args.out.display());
    eprintln!(
        "{} runs in {:.1} s wall on {jobs} thread{}",
        results.len(),
        elapsed.as_secs_f64(),
        if jobs == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

fn pct_cell(e: &Estimate) -> String {
    match e.half_width {
        Some(h) => format!("{:.1}% ± {:.1}%", e.mean * 100.0, h * 100.0),
        None => format!("{:.1}%", e.mean * 100.0),
    }
}

fn num_cell(e: &Estimate) -> String {
    match e.half_width {
        Some(h) => format!("{:.1} ± {:.1}", e.mean, h),
        None => format!("{:.1}", e.mean),
    }
}

/// The console report: one table per pod list.
fn table(
    traces: &[String],
    policies: &[String],
    seeds_text: &str,
    seeds: usize,
    results: &[RunOut],
) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "drydock experiment fgd: {} pod list{} x {} polic{} x {} seed{} ({})",
        traces.len(),
        if traces.len() == 1 { "" } else { "s" },
        policies.len(),
        if policies.len() == 1 { "y" } else { "ies" },
        seeds,
        if seeds == 1 { "" } else { "s" },
        seeds_text.trim()
    );
    let _ = writeln!(
        o,
        "arrivals only, shuffled by seed, inflated to 130% of GPU capacity, one attempt per pod; \
         mean ± half-width of the 95% confidence interval over seeds"
    );
    let head = [
        "policy",
        "allocated at 100%",
        "allocated at 130%",
        "unallocated GPUs at 130%",
        "failed pods",
    ];
    for (t, trace) in traces.iter().enumerate() {
        let runs: Vec<&RunOut> = results.iter().filter(|r| r.trace == t).collect();
        let capacity = runs.first().map_or(0.0, |r| r.capacity);
        let pods = Estimate::of(&runs.iter().map(|r| r.pods as f64).collect::<Vec<_>>());
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "{trace} (openb_pod_list_{trace}.csv): {capacity:.0} GPUs, {:.0} pods arrived per run on average",
            pods.mean
        );
        let mut rows: Vec<[String; 5]> = Vec::new();
        let mut unalloc: Vec<(String, f64)> = Vec::new();
        for (p, policy) in policies.iter().enumerate() {
            let rs: Vec<&&RunOut> = runs.iter().filter(|r| r.policy == p).collect();
            let at =
                |pct: usize| Estimate::of(&rs.iter().map(|r| r.alloc[pct]).collect::<Vec<_>>());
            let a100 = at(100);
            let a130 = at(MAX_PCT as usize);
            let free = Estimate::of(
                &rs.iter()
                    .map(|r| (1.0 - r.alloc[MAX_PCT as usize]) * r.capacity)
                    .collect::<Vec<_>>(),
            );
            let failed = Estimate::of(&rs.iter().map(|r| r.failed as f64).collect::<Vec<_>>());
            unalloc.push((policy.clone(), free.mean));
            rows.push([
                policy.clone(),
                pct_cell(&a100),
                pct_cell(&a130),
                num_cell(&free),
                num_cell(&failed),
            ]);
        }
        let mut w = [0usize; 5];
        for r in rows
            .iter()
            .map(|r| r.each_ref().map(|s| s.as_str()))
            .chain([head])
        {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |r: [&str; 5]| {
            let mut s = String::from(" ");
            for (i, c) in r.iter().enumerate() {
                s.push(' ');
                s.push_str(c);
                s.push_str(&" ".repeat(w[i] - c.chars().count() + 1));
            }
            s.trim_end().to_string()
        };
        let _ = writeln!(o, "{}", line(head));
        for r in &rows {
            let _ = writeln!(o, "{}", line(r.each_ref().map(|s| s.as_str())));
        }
        if let Some(&(_, fgd)) = unalloc.iter().find(|(p, _)| p == "fgd") {
            let others: Vec<&(String, f64)> = unalloc.iter().filter(|(p, _)| p != "fgd").collect();
            if let Some(best) = others
                .iter()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|b| b.1 > 0.0)
            {
                let change = (1.0 - fgd / best.1) * 100.0;
                let verdict = if change > 0.05 {
                    format!("{change:.1}% fewer GPUs unallocated")
                } else if change < -0.05 {
                    format!("{:.1}% more GPUs unallocated", -change)
                } else {
                    "as many GPUs unallocated".to_string()
                };
                let _ = writeln!(
                    o,
                    "  at 130% fgd leaves {verdict} than the best other policy ({}, {:.1} GPUs)",
                    best.0, best.1
                );
            }
        }
    }
    o
}

fn write_outputs(
    out: &Path,
    traces: &[String],
    policies: &[String],
    results: &[RunOut],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (file, prefix, pick) in [
        ("allocation.csv", "a", 0usize),
        ("fragmentation.csv", "f", 1usize),
    ] {
        let p = out.join(file);
        let mut w =
            csv::Writer::from_path(&p).with_context(|| format!("cannot write {}", p.display()))?;
        let mut header: Vec<String> = vec!["trace".into(), "policy".into(), "seed".into()];
        header.extend((0..=MAX_PCT).map(|i| format!("{prefix}{i}")));
        w.write_record(&header)?;
        for r in results {
            let mut rec = vec![
                traces[r.trace].clone(),
                policies[r.policy].clone(),
                r.seed.to_string(),
            ];
            let values = if pick == 0 { &r.alloc } else { &r.frag };
            rec.extend(values.iter().map(|v| format!("{v:.6}")));
            w.write_record(&rec)?;
        }
        w.flush()
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    for (t, trace) in traces.iter().enumerate() {
        for (kind, title, y) in [
            (
                "allocation",
                "GPU allocation",
                "allocated GPU (% of capacity)",
            ),
            (
                "fragmentation",
                "GPU fragmentation",
                "fragmentation ratio (% of free GPU)",
            ),
        ] {
            let series: Vec<(String, Vec<(f64, f64)>)> = policies
                .iter()
                .enumerate()
                .map(|(p, name)| {
                    let rs: Vec<&RunOut> = results
                        .iter()
                        .filter(|r| r.trace == t && r.policy == p)
                        .collect();
                    let pts = (0..=MAX_PCT as usize)
                        .map(|i| {
                            let v: Vec<f64> = rs
                                .iter()
                                .map(|r| {
                                    if kind == "allocation" {
                                        r.alloc[i]
                                    } else {
                                        r.frag[i]
                                    }
                                })
                                .collect();
                            (i as f64, Estimate::of(&v).mean * 100.0)
                        })
                        .collect();
                    (name.clone(), pts)
                })
                .collect();
            output::line_chart(
                &out.join(format!("{kind}-{trace}.svg")),
                &format!("{title} on openb_pod_list_{trace} (mean over seeds)"),
                ("arrived GPU requests (% of capacity)", y),
                (f64::from(MAX_PCT), 100.0),
                &series,
            )?;
        }
    }
    Ok(())
}
