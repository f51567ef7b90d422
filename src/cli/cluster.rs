//! `drydock cluster up | down | status | build`: the local Kubernetes control plane
//! (unmodified upstream kube-apiserver and kube-controller-manager with an embedded etcd, built
//! from Go modules; no Docker). See `drydock_real_cluster::controlplane`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use drydock_real_cluster::controlplane::{
    self, ClusterStatus, ControlPlaneError, DownOutcome, UpOptions, UpOutcome,
};

use super::InputError;

/// Arguments of `drydock cluster`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ClusterCommand {
    /// Start the local control plane (building it the first time) and print its kubeconfig.
    ///
    /// The first run builds kube-apiserver, kube-controller-manager and etcd from Go modules
    /// with the local Go toolchain (Go >= 1.26): about 15 minutes on 2 cores; later runs reuse
    /// the cached binary and start in seconds. Does nothing (exit 0) if one already runs in
    /// the state directory.
    Up(UpArgs),
    /// Stop the control plane started by `up` (by its recorded PID) and remove its state.
    Down(DownArgs),
    /// Report whether the control plane runs and is ready (exit 0) or not (exit 1).
    Status(DirArg),
    /// Build (or find in the cache) the drydock-cp binary and print its path.
    Build,
}

#[derive(clap::Args, Debug)]
struct DirArg {
    /// State directory: PKI, etcd data, logs, PID file, kubeconfig [default:
    /// $XDG_STATE_HOME/drydock/cluster or ~/.local/state/drydock/cluster].
    #[arg(long, value_name = "DIR", env = "DRYDOCK_CLUSTER_DIR")]
    dir: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct UpArgs {
    #[command(flatten)]
    dir: DirArg,
    /// kube-apiserver port on 127.0.0.1 (0 picks a free port).
    #[arg(long, value_name = "PORT", default_value_t = 6443)]
    port: u16,
    /// How long to wait for the API server to become ready.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    ready_timeout: Duration,
    /// kube-controller-manager --node-monitor-grace-period: a node whose Lease is older is
    /// marked NotReady and tainted (upstream default 50s since 1.32).
    #[arg(long, value_name = "DURATION", default_value = "50s", value_parser = parse_duration)]
    node_monitor_grace_period: Duration,
    /// kube-controller-manager --node-monitor-period: how often node health is checked.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    node_monitor_period: Duration,
    /// kube-controller-manager --node-startup-grace-period for new nodes.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    node_startup_grace_period: Duration,
    /// kube-controller-manager --node-eviction-rate, nodes per second.
    #[arg(long, value_name = "RATE", default_value_t = 0.1)]
    node_eviction_rate: f64,
    /// How long pods stay on a NotReady node before taint-based eviction (kube-apiserver
    /// --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds;
    /// whole seconds).
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = parse_duration)]
    pod_eviction_timeout: Duration,
    /// Wait before restarting kube-apiserver or kube-controller-manager after it exits;
    /// doubles with each restart within 2 minutes (up to 16 times this); more than 5
    /// restarts within 2 minutes stop the control plane.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    restart_backoff: Duration,
    /// Extra kube-apiserver flag, such as --apiserver-arg=--v=2 (repeatable).
    #[arg(long, value_name = "FLAG", allow_hyphen_values = true)]
    apiserver_arg: Vec<String>,
    /// Extra kube-controller-manager flag (repeatable).
    #[arg(long, value_name = "FLAG", allow_hyphen_values = true)]
    controller_manager_arg: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct DownArgs {
    #[command(flatten)]
    dir: DirArg,
    /// Keep DIR/logs (component logs) after stopping.
    #[arg(long)]
    keep_logs: bool,
}

/// A duration such as `50s`, `1m30s`, `250ms` or `90` (seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    drydock_scenarios::parse_duration(text).map(|d| Duration::from_micros(d.0))
}

impl DirArg {
    fn resolve(&self) -> anyhow::Result<PathBuf> {
        match &self.dir {
            Some(d) => Ok(d.clone()),
            None => Ok(controlplane::default_state_dir().map_err(to_cli_error)?),
        }
    }
}

/// Input errors become [`InputError`] (exit code 2); the rest stay as they are (exit code 1).
fn to_cli_error(e: ControlPlaneError) -> anyhow::Error {
    if e.is_input_error() {
        InputError {
            message: e.to_string(),
            hint: None,
        }
        .into()
    } else {
        e.into()
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// `'path'` for a POSIX shell when it needs quoting.
fn shell_quote(p: &Path) -> String {
    let s = p.display().to_string();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@%,".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn progress(line: &str) {
    eprintln!("{line}");
}

/// Runs `drydock cluster ...`.
///
/// # Errors
/// [`InputError`] (exit code 2) for bad options and a port in use; other failures (no Go
/// toolchain, build failure, startup failure or timeout, each naming what to do or the log to
/// read) exit with code 1.
pub fn cmd(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.command {
        ClusterCommand::Up(a) => up(a),
        ClusterCommand::Down(a) => down(a),
        ClusterCommand::Status(a) => status(a),
        ClusterCommand::Build => {
            let bin = runtime()?
                .block_on(controlplane::ensure_binary(&progress))
                .map_err(to_cli_error)?;
            println!("{}", bin.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn up(a: &UpArgs) -> anyhow::Result<ExitCode> {
    let mut opts = UpOptions::new(a.dir.resolve()?);
    opts.port = a.port;
    opts.ready_timeout = a.ready_timeout;
    opts.node_monitor_grace_period = a.node_monitor_grace_period;
    opts.node_monitor_period = a.node_monitor_period;
    opts.node_startup_grace_period = a.node_startup_grace_period;
    opts.node_eviction_rate = a.node_eviction_rate;
    opts.pod_eviction_timeout = a.pod_eviction_timeout;
    opts.restart_backoff = a.restart_backoff;
    opts.extra_apiserver_args = a.apiserver_arg.clone();
    opts.extra_controller_manager_args = a.controller_manager_arg.clone();
    let started = Instant::now();
    let rt = runtime()?;
    let outcome = rt
        .block_on(controlplane::up(&opts, &progress))
        .map_err(to_cli_error)?;
    let info = outcome.info();
    let st = rt.block_on(controlplane::status(&info.dir));
    let version = st.server_version.as_deref().unwrap_or("unknown version");
    match &outcome {
        UpOutcome::Started(_) => println!(
            "control plane ready: Kubernetes {version} on https://127.0.0.1:{} (pid {}, {:.1}s)",
            info.port,
            info.pid,
            started.elapsed().as_secs_f64()
        ),
        UpOutcome::AlreadyRunning(_) => {
            println!(
                "a control plane is already running in {}: Kubernetes {version} on https://127.0.0.1:{} (pid {})",
                info.dir.display(),
                info.port,
                info.pid
            );
            if a.port != info.port && a.port != 6443 && a.port != 0 {
                eprintln!(
                    "warning: --port {} not applied: it runs on port {}",
                    a.port, info.port
                );
            }
            let differ = opts.not_applied(info);
            if !differ.is_empty() {
                eprintln!(
                    "warning: it was started with other settings, so {} {} not applied; `drydock cluster down` first to change them",
                    differ.join(" "),
                    if differ.len() == 1 { "is" } else { "are" }
                );
            }
        }
    }
    println!("kubeconfig: {}", info.kubeconfig.display());
    println!("logs: {}", info.log.parent().unwrap_or(&info.dir).display());
    println!("export KUBECONFIG={}", shell_quote(&info.kubeconfig));
    Ok(ExitCode::SUCCESS)
}

fn down(a: &DownArgs) -> anyhow::Result<ExitCode> {
    let dir = a.dir.resolve()?;
    let outcome = runtime()?
        .block_on(controlplane::down(&dir, a.keep_logs))
        .map_err(to_cli_error)?;
    match outcome {
        DownOutcome::Stopped { pid } => {
            println!("stopped the control plane (pid {pid}) in {}", dir.display());
        }
        DownOutcome::NotRunning => {
            println!("no control plane running in {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn status(a: &DirArg) -> anyhow::Result<ExitCode> {
    let dir = a.resolve()?;
    let st = runtime()?.block_on(controlplane::status(&dir));
    print!("{}", render_status(&st));
    Ok(if st.is_ready() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn fmt_uptime(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The text of `drydock cluster status`.
fn render_status(st: &ClusterStatus) -> String {
    let mut out = String::new();
    let Some(p) = &st.process else {
        out.push_str(&format!(
            "cluster: stopped (no control plane running in {})\n",
            st.dir.display()
        ));
        return out;
    };
    let state = if st.ready { "running" } else { "not ready" };
    out.push_str(&format!(
        "cluster: {state} (pid {}, up {}, https://127.0.0.1:{})\n",
        p.pid,
        fmt_uptime(p.uptime),
        p.port
    ));
    out.push_str(&format!(
        "server: {}\n",
        st.server_version.as_deref().unwrap_or("unknown")
    ));
    if let Some(n) = st.nodes {
        out.push_str(&format!("nodes: {n}\n"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for c in &st.components {
        let restarts = match c.restarts {
            0 => String::new(),
            1 => ", restarted once".to_string(),
            n => format!(", restarted {n} times"),
        };
        out.push_str(&format!(
            "{}: pid {}, up {}{restarts}\n",
            c.name,
            c.pid,
            fmt_uptime(Duration::from_secs(now.saturating_sub(c.started_unix)))
        ));
    }
    if let Some(problem) = &st.problem {
        out.push_str(&format!("problem: {problem}\n"));
    }
    out.push_str(&format!("kubeconfig: {}\n", st.kubeconfig.display()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use drydock_real_cluster::controlplane::{Component, ProcessInfo};

    #[test]
    fn durations_parse_like_scenarios() {
        assert_eq!(parse_duration("50s"), Ok(Duration::from_secs(50)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn paths_are_quoted_for_the_shell() {
        assert_eq!(shell_quote(Path::new("/a/b-c.d")), "/a/b-c.d");
        assert_eq!(shell_quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }

    #[test]
    fn status_text() {
        let mut st = ClusterStatus {
            dir: PathBuf::from("/s"),
            kubeconfig: PathBuf::from("/s/kubeconfig"),
            process: None,
            server_version: None,
            ready: false,
            nodes: None,
            problem: None,
            components: Vec::new(),
        };
        assert_eq!(
            render_status(&st),
            "cluster: stopped (no control plane running in /s)\n"
        );
        st.process = Some(ProcessInfo {
            pid: 42,
            port: 6443,
            uptime: Duration::from_secs(192),
        });
        st.server_version = Some("v1.36.3".into());
        st.ready = true;
        st.nodes = Some(0);
        assert_eq!(
            render_status(&st),
            "cluster: running (pid 42, up 3m12s, https://127.0.0.1:6443)\nserver: v1.36.3\nnodes: 0\nkubeconfig: /s/kubeconfig\n"
        );
        st.components = vec![Component {
            name: "kube-apiserver".into(),
            pid: 43,
            restarts: 2,
            started_unix: 0,
            log: PathBuf::from("/s/logs/kube-apiserver.log"),
        }];
        let text = render_status(&st);
        assert!(
            text.contains("\nkube-apiserver: pid 43, up ")
                && text.contains(", restarted 2 times\n"),
            "{text}"
        );
    }
}
