//! The local Kubernetes control plane: build, start, stop and inspect `drydock-cp`
//! (real-cluster.md §2 and §6 in the design notes).
//!
//! `drydock-cp` is a small Go program in `real-cluster/controlplane/` that runs **unmodified
//! upstream** `kube-apiserver` and `kube-controller-manager` of Kubernetes
//! [`kubernetes_version()`] (v1.36.x) and an embedded etcd, each component in its own process.
//! This module:
//!
//! - **builds** it once with the local Go toolchain into a cache keyed on the SHA-256 of its
//!   sources (`go.mod`, `go.sum`, `main.go`, embedded in this crate so any drydock binary can
//!   build it) and of `go version` ([`ensure_binary`]);
//! - **starts** `drydock-cp up` as a detached background process with a state directory,
//!   records its PID, and waits until it writes `kubeconfig` and `/readyz` answers through
//!   kube-rs ([`up`]);
//! - **stops** exactly the process it started: by the recorded PID, after checking through
//!   `/proc/PID/cmdline` that the PID is still our `drydock-cp up --dir DIR`; never by name
//!   ([`down`]);
//! - **reports** ([`status`]), including the PIDs of its components ([`components`]).
//!
//! `drydock-cp up` supervises kube-apiserver and kube-controller-manager as a kubelet does
//! static pods: a component that exits is restarted with the same arguments (the API server on
//! the same port, against the same etcd, which runs inside `drydock-cp up`, so the cluster's
//! objects survive) after a backoff of 0.5 s, 1 s, 2 s, 4 s, then 8 s; a component that exits
//! more than 5 times within 2 minutes is crash-looping and `drydock-cp up` stops the whole
//! control plane. Every restart is logged in `logs/drydock-cp.log`.
//!
//! State directory layout (default [`default_state_dir`]):
//!
//! | Path | Written by | What |
//! |---|---|---|
//! | `drydock-cp.pid` | drydock | PID of `drydock-cp up` |
//! | `cluster.json` | drydock | PID, port, binary, start time (seconds since the Unix epoch) |
//! | `kubeconfig` | drydock-cp | admin kubeconfig, written atomically once the API server is ready |
//! | `components.json` | drydock-cp | PIDs and restart counts of kube-apiserver and kube-controller-manager ([`components`]) |
//! | `logs/drydock-cp.log` | drydock | output of `drydock-cp up` |
//! | `logs/{etcd,kube-apiserver,kube-controller-manager}.log` | drydock-cp | component logs |
//! | `pki/`, `etcd/`, `kcm.kubeconfig` | drydock-cp | certificates, etcd data, controller-manager credentials |
//!
//! Linux only: the process checks read `/proc`. Elsewhere a recorded PID is never recognised,
//! so [`down`] never signals anything.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// `real-cluster/controlplane/go.mod`, embedded: part of the build cache key, and written to the
/// build directory when the binary is built.
pub const GO_MOD: &str = include_str!("../controlplane/go.mod");
/// `real-cluster/controlplane/go.sum`, embedded (see [`GO_MOD`]).
pub const GO_SUM: &str = include_str!("../controlplane/go.sum");
/// `real-cluster/controlplane/main.go`, embedded (see [`GO_MOD`]).
pub const MAIN_GO: &str = include_str!("../controlplane/main.go");

/// Environment variable: a directory to use as the binary cache instead of
/// `$XDG_CACHE_HOME/drydock` or `~/.cache/drydock`.
pub const CACHE_ENV: &str = "DRYDOCK_CP_CACHE";
/// Environment variable: a ready-built `drydock-cp` to use instead of building one.
pub const BIN_ENV: &str = "DRYDOCK_CP_BIN";

/// File names inside the state directory. The marker says drydock made the directory: `up`
/// refuses a non-empty directory without it, and `down` removes nothing where it is missing.
const MARKER: &str = ".drydock-cluster";
const PID_FILE: &str = "drydock-cp.pid";
const STATE_FILE: &str = "cluster.json";
const KUBECONFIG: &str = "kubeconfig";
const LOG_DIR: &str = "logs";
const LOG_FILE: &str = "drydock-cp.log";
/// Written by `drydock-cp up` (see `main.go`): the running components.
const COMPONENTS_FILE: &str = "components.json";
/// Everything `drydock-cp` and this module create in a state directory; [`down`] removes these
/// and nothing else.
const OWNED_ENTRIES: &[&str] = &[
    PID_FILE,
    "drydock-cp.pid.tmp",
    STATE_FILE,
    "cluster.json.tmp",
    KUBECONFIG,
    "kubeconfig.tmp",
    "kcm.kubeconfig",
    "kcm.kubeconfig.tmp",
    COMPONENTS_FILE,
    "components.json.tmp",
    LOG_DIR,
    "pki",
    "etcd",
    "flexvolume",
];

/// What a cold build took on the reference machine (2 cores), quoted in progress messages.
const COLD_BUILD_NOTE: &str = "a cold build takes about 15 minutes on 2 cores and 2 GiB of memory (module download, then compiling \
     kube-apiserver, kube-controller-manager and etcd); later builds reuse Go's caches";

/// Exit code of `drydock-cp up` when the API server port is taken (see `main.go`).
const CP_EXIT_PORT_IN_USE: i32 = 3;
/// Exit code of `drydock-cp up` for bad flags.
const CP_EXIT_USAGE: i32 = 2;

/// Errors of the control-plane commands. Each message says what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    /// Bad options (a zero duration, a negative rate, a state directory that is a file).
    #[error("{0}")]
    Input(String),
    /// The API server port on 127.0.0.1 is taken.
    #[error(
        "port {port} on 127.0.0.1 is in use\n  hint: stop whatever listens there (`ss -ltnp 'sport = :{port}'` shows it), or pass another --port (--port 0 picks a free one)"
    )]
    PortInUse {
        /// The port asked for.
        port: u16,
    },
    /// Neither `$HOME` nor the XDG variable needed to place a directory is set.
    #[error(
        "cannot place the {what} directory: neither ${xdg} nor $HOME is set\n  hint: set HOME, or pass the directory explicitly"
    )]
    NoHome {
        /// `state` or `cache`.
        what: &'static str,
        /// The XDG variable consulted first.
        xdg: &'static str,
    },
    /// No usable Go toolchain to build `drydock-cp`.
    #[error("{0}")]
    NoGo(String),
    /// `go build` failed.
    #[error(
        "building drydock-cp failed ({status}); the full log is {log}\n{tail}\n  hint: check network access to the Go module proxy and free disk space under $HOME (the Go caches), then retry"
    )]
    Build {
        /// Exit status of `go build`.
        status: String,
        /// Full build log.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// `drydock-cp up` exited during startup.
    #[error(
        "the control plane exited during startup ({status}); read {log} (and the component logs beside it)\n{tail}"
    )]
    StartFailed {
        /// Exit status of `drydock-cp up`.
        status: String,
        /// Its log.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// The API server did not become ready in time.
    #[error(
        "the API server was not ready after {}s ({detail}); read {log} and {}\n  hint: on a loaded machine pass a longer --ready-timeout",
        waited.as_secs(),
        log.with_file_name("kube-apiserver.log").display()
    )]
    Timeout {
        /// How long drydock waited.
        waited: Duration,
        /// The `drydock-cp up` log.
        log: PathBuf,
        /// The last thing seen (missing kubeconfig, a /readyz error).
        detail: String,
    },
    /// The state directory records a process that is not ours or is gone; nothing was signalled.
    #[error("no control plane is running in {dir}")]
    NotRunning {
        /// The state directory.
        dir: PathBuf,
    },
    /// A file-system operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What drydock was doing, with the path.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A kube-rs call failed.
    #[error("{what}: {source}")]
    Kube {
        /// What drydock was doing.
        what: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ControlPlaneError {
    /// Whether the user can fix this by changing the command line (the CLI exits with code 2).
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            ControlPlaneError::Input(_) | ControlPlaneError::PortInUse { .. }
        )
    }
}

/// Result of this module's functions.
pub type Result<T, E = ControlPlaneError> = std::result::Result<T, E>;

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ControlPlaneError {
    let what = what.into();
    move |source| ControlPlaneError::Io { what, source }
}

fn kube_err<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> ControlPlaneError {
    let what = what.into();
    move |source| ControlPlaneError::Kube {
        what,
        source: Box::new(source),
    }
}

// ---------------------------------------------------------------------------------------------
// Versions, directories and the build cache
// ---------------------------------------------------------------------------------------------

/// The Kubernetes release `drydock-cp` is built from: the `k8s.io/kubernetes` version that
/// [`GO_MOD`] requires, such as `"v1.36.3"`; `"unknown"` if go.mod has no such line.
pub fn kubernetes_version() -> &'static str {
    GO_MOD
        .lines()
        .map(|l| l.trim().trim_start_matches("require").trim())
        .filter(|l| !l.contains("=>"))
        .find_map(|l| l.strip_prefix("k8s.io/kubernetes "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("unknown")
}

/// The Go version [`GO_MOD`]'s `go` directive asks for, such as `"1.26.0"`.
fn required_go() -> &'static str {
    GO_MOD
        .lines()
        .find_map(|l| l.strip_prefix("go "))
        .map(str::trim)
        .unwrap_or("0")
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The root of drydock's state: `$XDG_STATE_HOME/drydock`, else `~/.local/state/drydock`.
///
/// # Errors
/// [`ControlPlaneError::NoHome`] when neither variable is set.
pub fn state_root() -> Result<PathBuf> {
    env_path("XDG_STATE_HOME")
        .map(|p| p.join("drydock"))
        .or_else(|| env_path("HOME").map(|h| h.join(".local/state/drydock")))
        .ok_or(ControlPlaneError::NoHome {
            what: "state",
            xdg: "XDG_STATE_HOME",
        })
}

/// The state directory `drydock cluster up` uses without `--dir`: [`state_root`]`/cluster`.
///
/// # Errors
/// As [`state_root`].
pub fn default_state_dir() -> Result<PathBuf> {
    Ok(state_root()?.join("cluster"))
}

/// The binary cache: `$DRYDOCK_CP_CACHE`, else `$XDG_CACHE_HOME/drydock`, else
/// `~/.cache/drydock`.
///
/// # Errors
/// [`ControlPlaneError::NoHome`] when none of the three is set.
pub fn cache_dir() -> Result<PathBuf> {
    env_path(CACHE_ENV)
        .or_else(|| env_path("XDG_CACHE_HOME").map(|p| p.join("drydock")))
        .or_else(|| env_path("HOME").map(|h| h.join(".cache/drydock")))
        .ok_or(ControlPlaneError::NoHome {
            what: "cache",
            xdg: "XDG_CACHE_HOME",
        })
}

/// The cache key of a `drydock-cp` binary: the first 16 hex digits of the SHA-256 of
/// [`GO_MOD`], [`GO_SUM`], [`MAIN_GO`] and `go_version` (the output of `go version`, which
/// names the toolchain release, OS and architecture), each followed by a NUL byte.
pub fn cache_key(go_version: &str) -> String {
    let mut h = Sha256::new();
    for part in [GO_MOD, GO_SUM, MAIN_GO, go_version.trim()] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let mut key = String::with_capacity(16);
    for b in &h.finalize()[..8] {
        let _ = write!(key, "{b:02x}");
    }
    key
}

/// A Go toolchain found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoToolchain {
    /// The `go` executable.
    pub go: PathBuf,
    /// Output of `go version`, such as `go version go1.26.8 linux/amd64`.
    pub version: String,
}

/// Parses `major.minor[.patch]` (a leading `go` is ignored) into numbers for comparison.
fn go_release(text: &str) -> Option<(u64, u64, u64)> {
    let t = text.trim().trim_start_matches("go");
    // Drop pre-release suffixes such as 1.27rc1.
    let t: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = t.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// Finds `go` on `PATH`, else `/usr/local/go/bin/go`, and checks it is at least the release
/// [`GO_MOD`]'s `go` directive names (`GOTOOLCHAIN=local`: never downloads a toolchain).
///
/// # Errors
/// [`ControlPlaneError::NoGo`] when there is none or it is too old, with what to install.
pub fn find_go() -> Result<GoToolchain> {
    let need = required_go();
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("go")).collect())
        .unwrap_or_default();
    candidates.push(PathBuf::from("/usr/local/go/bin/go"));
    let Some(go) = candidates.into_iter().find(|p| p.is_file()) else {
        return Err(ControlPlaneError::NoGo(format!(
            "no Go toolchain found (looked for `go` on PATH and /usr/local/go/bin/go); building the local control plane needs Go >= {need}\n  hint: install Go from https://go.dev/dl/ (or your distribution), or set {BIN_ENV} to a built drydock-cp, or use your own cluster with --kubeconfig"
        )));
    };
    let out = Command::new(&go)
        .arg("version")
        .env("GOTOOLCHAIN", "local")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            ControlPlaneError::NoGo(format!(
                "cannot run {}: {e}\n  hint: install Go >= {need}, or set {BIN_ENV} to a built drydock-cp",
                go.display()
            ))
        })?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let found = version
        .split_whitespace()
        .find(|w| w.starts_with("go1"))
        .and_then(go_release);
    match (found, go_release(need)) {
        (Some(f), Some(n)) if out.status.success() && f >= n => Ok(GoToolchain { go, version }),
        _ => Err(ControlPlaneError::NoGo(format!(
            "{} reports `{version}`; building the local control plane needs Go >= {need} (the go directive of Kubernetes {})\n  hint: install a newer Go from https://go.dev/dl/, or set {BIN_ENV} to a built drydock-cp",
            go.display(),
            kubernetes_version()
        ))),
    }
}

/// An exclusive lock on a file, released on drop. If the file was replaced or removed while
/// waiting, locks the new one instead, so two holders never lock different inodes of one path.
struct FileLock {
    _file: File,
}

impl FileLock {
    async fn acquire(path: PathBuf) -> Result<FileLock> {
        tokio::task::spawn_blocking(move || {
            loop {
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)
                        .map_err(io_err(format!("create {}", parent.display())))?;
                }
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(io_err(format!("open lock file {}", path.display())))?;
                file.lock()
                    .map_err(io_err(format!("lock {}", path.display())))?;
                let held = file
                    .metadata()
                    .map_err(io_err(format!("stat {}", path.display())))?;
                match fs::metadata(&path) {
                    Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                        return Ok(FileLock { _file: file });
                    }
                    _ => continue,
                }
            }
        })
        .await
        .map_err(|e| ControlPlaneError::Io {
            what: "wait for a file lock".into(),
            source: io::Error::other(e),
        })?
    }
}

/// The last `n` lines of a file, indented, for error messages; empty if unreadable.
fn tail(path: &Path, n: usize) -> String {
    let Ok(text) = fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Returns a `drydock-cp` binary: `$DRYDOCK_CP_BIN` if set, else the cached build for the
/// current sources and Go toolchain, building it first if missing (under a lock, so concurrent
/// callers build once).
///
/// The build mirrors upstream `hack/lib/golang.sh` (real-cluster.md §2.3): `CGO_ENABLED=0`,
/// `GOTOOLCHAIN=local`, `GOFLAGS=-mod=readonly`, `-trimpath`, tags `selinux,notest,grpcnotrace`,
/// and `-ldflags "-s -w -X …version.gitVersion=…"` for both `k8s.io/component-base/version`
/// and `k8s.io/client-go/pkg/version`, so the server reports its real version. Go's module and
/// build caches stay where Go puts them (under `$HOME`). `progress` receives one line now and
/// then while building; the full log goes to `<cache>/drydock-cp-<key>.build.log`.
///
/// # Errors
/// [`ControlPlaneError::NoGo`] without a suitable toolchain, [`ControlPlaneError::Build`] when
/// `go build` fails, [`ControlPlaneError::Input`] when `$DRYDOCK_CP_BIN` is not a file,
/// [`ControlPlaneError::Io`] for cache directory problems.
pub async fn ensure_binary(progress: &(dyn Fn(&str) + Sync)) -> Result<PathBuf> {
    if let Some(bin) = env_path(BIN_ENV) {
        if !bin.is_file() {
            return Err(ControlPlaneError::Input(format!(
                "{BIN_ENV}={} is not a file\n  hint: unset it to build drydock-cp from source",
                bin.display()
            )));
        }
        return Ok(bin);
    }
    let go = find_go()?;
    let cache = cache_dir()?;
    let key = cache_key(&go.version);
    let bin = cache.join(format!("drydock-cp-{key}"));
    if bin.is_file() {
        return Ok(bin);
    }
    let _lock = FileLock::acquire(cache.join("build.lock")).await?;
    if bin.is_file() {
        return Ok(bin); // another process built it while we waited
    }
    let src = cache.join(format!("src-{key}"));
    fs::create_dir_all(&src).map_err(io_err(format!("create {}", src.display())))?;
    for (name, text) in [("go.mod", GO_MOD), ("go.sum", GO_SUM), ("main.go", MAIN_GO)] {
        let p = src.join(name);
        fs::write(&p, text).map_err(io_err(format!("write {}", p.display())))?;
    }
    let log_path = cache.join(format!("drydock-cp-{key}.build.log"));
    let tmp = cache.join(format!("drydock-cp-{key}.tmp{}", std::process::id()));
    let version = kubernetes_version();
    let minor = version.split('.').nth(1).unwrap_or("0");
    let mut ldflags = String::from("-s -w");
    for pkg in [
        "k8s.io/component-base/version",
        "k8s.io/client-go/pkg/version",
    ] {
        let _ = write!(
            ldflags,
            " -X {pkg}.gitVersion={version} -X {pkg}.gitMajor=1 -X {pkg}.gitMinor={minor} -X {pkg}.gitTreeState=clean"
        );
    }
    progress(&format!(
        "building drydock-cp (Kubernetes {version}) with {} into {}; {COLD_BUILD_NOTE}; log: {}",
        go.version,
        cache.display(),
        log_path.display()
    ));
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&go.go)
        .args([
            "build",
            "-v",
            "-trimpath",
            "-tags",
            "selinux,notest,grpcnotrace",
        ])
        .arg("-ldflags")
        .arg(&ldflags)
        .arg("-o")
        .arg(&tmp)
        .arg(".")
        .current_dir(&src)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=readonly -buildvcs=false")
        .env("CGO_ENABLED", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(io_err(format!("run {} build", go.go.display())))?;
    let mut log =
        File::create(&log_path).map_err(io_err(format!("create {}", log_path.display())))?;
    if let Some(stderr) = child.stderr.take() {
        use tokio::io::AsyncBufReadExt as _;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let (mut packages, mut downloads) = (0usize, 0usize);
        let mut last_note = Instant::now();
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = writeln!(log, "{line}");
            if line.starts_with("go: downloading") {
                downloads += 1;
            } else if !line.starts_with('#') && !line.contains(' ') {
                packages += 1;
            }
            if last_note.elapsed() >= Duration::from_secs(30) {
                last_note = Instant::now();
                progress(&format!(
                    "  still building ({}m{:02}s): {downloads} modules downloaded, {packages} packages compiled",
                    started.elapsed().as_secs() / 60,
                    started.elapsed().as_secs() % 60
                ));
            }
        }
    }
    let status = child
        .wait()
        .await
        .map_err(io_err(format!("wait for {} build", go.go.display())))?;
    if !status.success() {
        let _ = fs::remove_file(&tmp);
        return Err(ControlPlaneError::Build {
            status: status.to_string(),
            tail: tail(&log_path, 20),
            log: log_path,
        });
    }
    fs::rename(&tmp, &bin).map_err(io_err(format!("move the build to {}", bin.display())))?;
    progress(&format!(
        "built {} in {}m{:02}s",
        bin.display(),
        started.elapsed().as_secs() / 60,
        started.elapsed().as_secs() % 60
    ));
    Ok(bin)
}

// ---------------------------------------------------------------------------------------------
// up
// ---------------------------------------------------------------------------------------------

/// Options of [`up`]. Durations are passed to the components in whole milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct UpOptions {
    /// State directory (created if missing).
    pub dir: PathBuf,
    /// kube-apiserver secure port on 127.0.0.1; 0 picks a free port.
    pub port: u16,
    /// How long to wait for the API server to become ready (default 120 s).
    pub ready_timeout: Duration,
    /// kube-controller-manager `--node-monitor-grace-period`: a node whose Lease is older is
    /// marked NotReady/Unknown and tainted. Default 50 s, upstream's since 1.32
    /// (`pkg/controller/nodelifecycle/config/v1alpha1/defaults.go`, kubernetes/kubernetes PR
    /// #126287; kubernetes-semantics.md §6.1, \[src\]).
    pub node_monitor_grace_period: Duration,
    /// kube-controller-manager `--node-monitor-period`: how often node health is checked.
    /// Default 5 s (kubernetes-semantics.md §6.1, \[src\]).
    pub node_monitor_period: Duration,
    /// kube-controller-manager `--node-startup-grace-period` for new nodes. Default 60 s
    /// (kubernetes-semantics.md §6.1, \[src\]).
    pub node_startup_grace_period: Duration,
    /// kube-controller-manager `--node-eviction-rate`, in nodes per second while the zone is
    /// healthy. Default 0.1 (`cmd/kube-controller-manager/app/options/nodelifecyclecontroller.go`;
    /// kubernetes-semantics.md §6.1, \[src\]).
    pub node_eviction_rate: f64,
    /// How long pods stay bound to a NotReady or unreachable node before taint-based eviction:
    /// kube-apiserver `--default-not-ready-toleration-seconds` and
    /// `--default-unreachable-toleration-seconds` (the `DefaultTolerationSeconds` admission
    /// plugin, `plugin/pkg/admission/defaulttolerationseconds/admission.go`). Whole seconds;
    /// default 300 s (kubernetes-semantics.md §6.1, \[src\]).
    pub pod_eviction_timeout: Duration,
    /// How long `drydock-cp up` waits before restarting a component that exited (a crashed
    /// API server): this, doubling with each restart within 2 minutes, up to 16 times this
    /// (`--restart-backoff`). Default 500 ms. A kubelet restarting a static pod waits 10 s,
    /// doubling up to 5 minutes (`CrashLoopBackOff`); tests use a few seconds to make an
    /// outage long enough to meet.
    pub restart_backoff: Duration,
    /// Extra kube-apiserver flags, such as `--v=2`.
    pub extra_apiserver_args: Vec<String>,
    /// Extra kube-controller-manager flags.
    pub extra_controller_manager_args: Vec<String>,
}

impl UpOptions {
    /// Upstream defaults, port 6443, in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        UpOptions {
            dir: dir.into(),
            port: 6443,
            ready_timeout: Duration::from_secs(120),
            node_monitor_grace_period: Duration::from_secs(50),
            node_monitor_period: Duration::from_secs(5),
            node_startup_grace_period: Duration::from_secs(60),
            node_eviction_rate: 0.1,
            pod_eviction_timeout: Duration::from_secs(300),
            restart_backoff: Duration::from_millis(500),
            extra_apiserver_args: Vec::new(),
            extra_controller_manager_args: Vec::new(),
        }
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`ControlPlaneError::Input`] naming the first bad option.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ControlPlaneError::Input(m));
        for (name, d) in [
            ("--ready-timeout", self.ready_timeout),
            (
                "--node-monitor-grace-period",
                self.node_monitor_grace_period,
            ),
            ("--node-monitor-period", self.node_monitor_period),
            (
                "--node-startup-grace-period",
                self.node_startup_grace_period,
            ),
        ] {
            if d.as_millis() == 0 {
                return bad(format!("{name} must be at least 1ms"));
            }
        }
        if self.node_monitor_grace_period < self.node_monitor_period {
            return bad(format!(
                "--node-monitor-grace-period ({}ms) must not be shorter than --node-monitor-period ({}ms)",
                self.node_monitor_grace_period.as_millis(),
                self.node_monitor_period.as_millis()
            ));
        }
        if !(self.node_eviction_rate.is_finite() && self.node_eviction_rate > 0.0) {
            return bad(format!(
                "--node-eviction-rate must be a positive number of nodes per second, got {}",
                self.node_eviction_rate
            ));
        }
        if self.pod_eviction_timeout.subsec_nanos() != 0 {
            return bad(format!(
                "--pod-eviction-timeout must be whole seconds (the API server takes seconds), got {}ms",
                self.pod_eviction_timeout.as_millis()
            ));
        }
        if self.dir.exists() && !self.dir.is_dir() {
            return bad(format!(
                "--dir {} exists and is not a directory",
                self.dir.display()
            ));
        }
        Ok(())
    }

    /// The arguments of `drydock-cp up` for these options, with the resolved `dir` and `port`.
    fn cp_args(&self, dir: &Path, port: u16) -> Vec<String> {
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        let mut args = vec![
            "up".to_string(),
            "--dir".to_string(),
            dir.display().to_string(),
            "--port".to_string(),
            port.to_string(),
            format!("--ready-timeout={}", ms(self.ready_timeout)),
            format!(
                "--node-monitor-grace-period={}",
                ms(self.node_monitor_grace_period)
            ),
            format!("--node-monitor-period={}", ms(self.node_monitor_period)),
            format!(
                "--node-startup-grace-period={}",
                ms(self.node_startup_grace_period)
            ),
            format!("--node-eviction-rate={}", self.node_eviction_rate),
            format!(
                "--pod-eviction-timeout={}s",
                self.pod_eviction_timeout.as_secs()
            ),
            format!("--restart-backoff={}", ms(self.restart_backoff)),
        ];
        args.extend(
            self.extra_apiserver_args
                .iter()
                .map(|a| format!("--apiserver-arg={a}")),
        );
        args.extend(
            self.extra_controller_manager_args
                .iter()
                .map(|a| format!("--controller-manager-arg={a}")),
        );
        args
    }

    /// The settings of these options other than the defaults (controller-manager timers,
    /// restart backoff, extra arguments) that the control plane running as `info` was not
    /// started with, as
    /// `--flag=value` strings: `up` on a running control plane changes nothing, so a caller
    /// can say which requested settings do not apply. Read from the running `drydock-cp`
    /// process's command line (`/proc/PID/cmdline`); empty when it cannot be read.
    pub fn not_applied(&self, info: &ClusterInfo) -> Vec<String> {
        let Ok(raw) = std::fs::read(format!("/proc/{}/cmdline", info.pid)) else {
            return Vec::new();
        };
        let running: Vec<String> = raw
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        // Settings left at their defaults were not asked for.
        let defaults = UpOptions::new(self.dir.clone()).cp_args(&info.dir, info.port);
        self.cp_args(&info.dir, info.port)
            .into_iter()
            .filter(|a| {
                a.starts_with("--")
                    && a.contains('=')
                    && !a.starts_with("--ready-timeout=")
                    && !running.contains(a)
                    && !defaults.contains(a)
            })
            .collect()
    }
}

/// A running control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// State directory (absolute).
    pub dir: PathBuf,
    /// PID of `drydock-cp up`.
    pub pid: u32,
    /// API server port on 127.0.0.1.
    pub port: u16,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// The `drydock-cp up` log; component logs are beside it.
    pub log: PathBuf,
}

/// What [`up`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpOutcome {
    /// Started a new control plane.
    Started(ClusterInfo),
    /// One was already running in that state directory; nothing was started.
    AlreadyRunning(ClusterInfo),
}

impl UpOutcome {
    /// The running cluster either way.
    pub fn info(&self) -> &ClusterInfo {
        match self {
            UpOutcome::Started(i) | UpOutcome::AlreadyRunning(i) => i,
        }
    }
}

/// Contents of `cluster.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct StateFile {
    pid: u32,
    port: u16,
    binary: PathBuf,
    /// Seconds since the Unix epoch.
    started_unix: u64,
    kubernetes_version: String,
}

fn lock_path(dir: &Path) -> PathBuf {
    dir.join(".lock")
}

fn read_state(dir: &Path) -> Option<StateFile> {
    let text = fs::read_to_string(dir.join(STATE_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    fs::write(&tmp, data).map_err(io_err(format!("write {}", tmp.display())))?;
    fs::rename(&tmp, path).map_err(io_err(format!("rename {}", tmp.display())))
}

/// Whether `pid` is a live `drydock-cp up --dir DIR` process for this state directory, judged
/// from `/proc/PID/cmdline` (empty for zombies and for processes that are gone). This guards
/// every signal [`down`] sends against PID reuse.
pub fn is_our_process(pid: u32, dir: &Path) -> bool {
    let Ok(raw) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).collect();
    let [argv0, role, rest @ ..] = args.as_slice() else {
        return false;
    };
    let is_cp = Path::new(&*String::from_utf8_lossy(argv0))
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("drydock-cp"));
    let dir_arg = rest
        .windows(2)
        .find(|w| w[0] == b"--dir")
        .map(|w| PathBuf::from(&*String::from_utf8_lossy(w[1])));
    is_cp && *role == b"up" && dir_arg.as_deref() == Some(dir)
}

/// The state directory as an absolute path, without requiring it to exist.
fn absolute(dir: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(dir).map_err(io_err(format!("resolve {}", dir.display())))?;
    // Canonicalize when it exists so that `--dir` compares equal however it was spelled.
    Ok(fs::canonicalize(&abs).unwrap_or(abs))
}

fn info_from(dir: &Path, state: &StateFile) -> ClusterInfo {
    ClusterInfo {
        dir: dir.to_path_buf(),
        pid: state.pid,
        port: state.port,
        kubeconfig: dir.join(KUBECONFIG),
        log: dir.join(LOG_DIR).join(LOG_FILE),
    }
}

/// The running cluster recorded in `dir`, if its process is alive and ours.
fn running(dir: &Path) -> Option<(StateFile, ClusterInfo)> {
    let state = read_state(dir)?;
    is_our_process(state.pid, dir).then(|| {
        let info = info_from(dir, &state);
        (state, info)
    })
}

/// Builds a kube-rs client from a kubeconfig file (its current context).
///
/// # Errors
/// [`ControlPlaneError::Kube`] when the file cannot be read or parsed or names no usable
/// cluster.
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client> {
    let what = || format!("load kubeconfig {}", path.display());
    let kc = Kubeconfig::read_from(path).map_err(kube_err(what()))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(kube_err(what()))?;
    kube::Client::try_from(config).map_err(kube_err(what()))
}

/// `GET /readyz` through kube-rs; `Ok(())` when the server answers `ok`.
async fn readyz(client: &kube::Client) -> Result<(), String> {
    let req = http::Request::get("/readyz")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    match client.request_text(req).await {
        Ok(body) if body.trim() == "ok" => Ok(()),
        Ok(body) => Err(readyz_summary(&body)),
        Err(e) => Err(readyz_summary(&e.to_string())),
    }
}

/// One line for a `/readyz` that did not answer `ok`: the failing checks (the `[-]` lines of
/// the server's verbose answer, which an error may carry several times over), else the text
/// cut to 200 characters.
fn readyz_summary(text: &str) -> String {
    let mut failing: Vec<&str> = Vec::new();
    for part in text.split("[-]").skip(1) {
        let name = part
            .split(|c: char| c.is_whitespace() || c == '\\')
            .next()
            .unwrap_or_default();
        if !name.is_empty() && !failing.contains(&name) {
            failing.push(name);
        }
    }
    if failing.is_empty() {
        let cut: String = text.chars().take(200).collect();
        let more = if text.chars().count() > 200 {
            "..."
        } else {
            ""
        };
        return format!("/readyz: {}{more}", cut.trim());
    }
    let n = failing.len();
    let shown: Vec<&str> = failing.into_iter().take(3).collect();
    format!(
        "/readyz: not ready, {n} check{} failing ({}{})",
        if n == 1 { "" } else { "s" },
        shown.join(", "),
        if n > 3 { ", ..." } else { "" }
    )
}

/// Waits until `/readyz` answers `ok` through a kube-rs client built from `kubeconfig`.
async fn wait_readyz(kubeconfig: &Path, deadline: Instant, log: &Path) -> Result<()> {
    let client = client_from_kubeconfig(kubeconfig).await?;
    let started = Instant::now();
    loop {
        let err = match tokio::time::timeout(Duration::from_secs(5), readyz(&client)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e,
            Err(_) => "/readyz did not answer within 5s".to_string(),
        };
        if Instant::now() >= deadline {
            return Err(ControlPlaneError::Timeout {
                waited: started.elapsed(),
                log: log.to_path_buf(),
                detail: err,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(io_err("find a free port on 127.0.0.1"))?;
    let port = l
        .local_addr()
        .map_err(io_err("find a free port on 127.0.0.1"))?
        .port();
    Ok(port)
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Starts the local control plane in `opts.dir`, or reports the one already running there.
///
/// Refuses a non-empty `DIR` that `up` did not make (no `.drydock-cluster` marker). Under an
/// exclusive lock on `DIR/.lock` (so concurrent callers, such as parallel test
/// binaries, start only one): if the recorded PID is a live `drydock-cp up` for this directory,
/// waits for `/readyz` and returns [`UpOutcome::AlreadyRunning`]. Otherwise checks the port is
/// free, locates or builds the binary ([`ensure_binary`], which may take many minutes the first
/// time), starts `drydock-cp up` detached (its own process group, output in
/// `DIR/logs/drydock-cp.log`), records its PID in `DIR/drydock-cp.pid` and `DIR/cluster.json`,
/// waits for `DIR/kubeconfig` to appear and `/readyz` to answer `ok` through kube-rs, and
/// returns [`UpOutcome::Started`]. On failure it stops the process it started.
///
/// # Errors
/// [`ControlPlaneError::Input`] or [`ControlPlaneError::PortInUse`] for bad options; as
/// [`ensure_binary`]; [`ControlPlaneError::StartFailed`] when `drydock-cp` exits during
/// startup; [`ControlPlaneError::Timeout`] when the API server is not ready within
/// `opts.ready_timeout` (plus a margin), naming the log to read.
pub async fn up(opts: &UpOptions, progress: &(dyn Fn(&str) + Sync)) -> Result<UpOutcome> {
    opts.validate()?;
    let foreign = fs::read_dir(&opts.dir)
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false)
        && !opts.dir.join(MARKER).exists();
    if foreign {
        return Err(ControlPlaneError::Input(format!(
            "--dir {} is not empty and was not made by `drydock cluster up`\n  hint: choose a new or empty directory; drydock writes pki/, etcd/, logs/ and a kubeconfig there and removes them on `down`",
            opts.dir.display()
        )));
    }
    fs::create_dir_all(&opts.dir).map_err(io_err(format!("create {}", opts.dir.display())))?;
    let marker = opts.dir.join(MARKER);
    if !marker.exists() {
        fs::write(&marker, "state directory of `drydock cluster up`\n")
            .map_err(io_err(format!("write {}", marker.display())))?;
    }
    let dir = absolute(&opts.dir)?;
    let _lock = FileLock::acquire(lock_path(&dir)).await?;

    if let Some((_, info)) = running(&dir) {
        let deadline = Instant::now() + opts.ready_timeout;
        while !info.kubeconfig.is_file() {
            if Instant::now() >= deadline || !is_our_process(info.pid, &dir) {
                return Err(ControlPlaneError::Timeout {
                    waited: opts.ready_timeout,
                    log: info.log.clone(),
                    detail: format!(
                        "a control plane (pid {}) runs in {} but wrote no kubeconfig",
                        info.pid,
                        dir.display()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        wait_readyz(&info.kubeconfig, deadline, &info.log).await?;
        return Ok(UpOutcome::AlreadyRunning(info));
    }
    // Leftovers of a control plane that is gone: its kubeconfig must not be mistaken for a
    // live one.
    for stale in [PID_FILE, STATE_FILE, KUBECONFIG, COMPONENTS_FILE] {
        let _ = fs::remove_file(dir.join(stale));
    }

    let port = match opts.port {
        0 => free_port()?,
        p => {
            if TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_err() {
                return Err(ControlPlaneError::PortInUse { port: p });
            }
            p
        }
    };
    let binary = ensure_binary(progress).await?;

    let logs = dir.join(LOG_DIR);
    fs::create_dir_all(&logs).map_err(io_err(format!("create {}", logs.display())))?;
    let log = logs.join(LOG_FILE);
    let out = File::create(&log).map_err(io_err(format!("create {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(io_err(format!("open {}", log.display())))?;
    let mut child = Command::new(&binary)
        .args(opts.cp_args(&dir, port))
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own process group: a Ctrl-C in the terminal that ran `drydock cluster up` (or
        // cargo test) does not reach it.
        .process_group(0)
        .spawn()
        .map_err(io_err(format!("start {}", binary.display())))?;
    let pid = child.id();
    let state = StateFile {
        pid,
        port,
        binary: binary.clone(),
        started_unix: now_unix(),
        kubernetes_version: kubernetes_version().to_string(),
    };
    let recorded = serde_json::to_vec_pretty(&state)
        .map_err(|e| io_err("encode cluster.json")(io::Error::other(e)))
        .and_then(|json| write_atomic(&dir.join(STATE_FILE), &json))
        .and_then(|()| write_atomic(&dir.join(PID_FILE), format!("{pid}\n").as_bytes()));
    let info = info_from(&dir, &state);
    progress(&format!(
        "started drydock-cp (pid {pid}) on https://127.0.0.1:{port}; waiting for the API server (log: {})",
        log.display()
    ));

    let result = async {
        recorded?;
        // drydock-cp gives up after its own --ready-timeout; allow a margin for etcd and PKI.
        let deadline = Instant::now() + opts.ready_timeout + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let tail = tail(&log, 15);
                return Err(match status.code() {
                    Some(CP_EXIT_PORT_IN_USE) => ControlPlaneError::PortInUse { port },
                    Some(CP_EXIT_USAGE) => ControlPlaneError::Input(format!(
                        "drydock-cp rejected its arguments:\n{tail}"
                    )),
                    _ => ControlPlaneError::StartFailed {
                        status: status.to_string(),
                        log: log.clone(),
                        tail,
                    },
                });
            }
            if info.kubeconfig.is_file() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(ControlPlaneError::Timeout {
                    waited: opts.ready_timeout + Duration::from_secs(30),
                    log: log.clone(),
                    detail: format!("{} did not appear", info.kubeconfig.display()),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        wait_readyz(&info.kubeconfig, deadline, &log).await
    }
    .await;
    match result {
        Ok(()) => Ok(UpOutcome::Started(info)),
        Err(e) => {
            // Stop what we started; the PID is our child, so it cannot have been reused.
            if matches!(child.try_wait(), Ok(None)) {
                let _ = signal(pid, Signal::Term);
                let deadline = Instant::now() + Duration::from_secs(30);
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                if matches!(child.try_wait(), Ok(None)) {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            for stale in [PID_FILE, STATE_FILE, KUBECONFIG] {
                let _ = fs::remove_file(dir.join(stale));
            }
            Err(e)
        }
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

fn signal(pid: u32, sig: Signal) -> Result<()> {
    let raw = i32::try_from(pid).map_err(|_| ControlPlaneError::Input(format!("bad pid {pid}")))?;
    let sig = match sig {
        Signal::Term => nix::sys::signal::Signal::SIGTERM,
        Signal::Kill => nix::sys::signal::Signal::SIGKILL,
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), sig).map_err(|e| {
        ControlPlaneError::Io {
            what: format!("signal pid {pid}"),
            source: io::Error::from_raw_os_error(e as i32),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// down
// ---------------------------------------------------------------------------------------------

/// What [`down`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownOutcome {
    /// Stopped `drydock-cp up` with this PID and removed the state.
    Stopped {
        /// The PID that was stopped.
        pid: u32,
    },
    /// Nothing was running there; leftover state (if any) was removed and nothing signalled.
    NotRunning,
}

/// Stops the control plane recorded in `dir` and removes its state.
///
/// Signals only the recorded PID, and only after [`is_our_process`] confirms it is still
/// `drydock-cp up --dir DIR`: SIGTERM (drydock-cp then stops kube-controller-manager and
/// kube-apiserver, waits for them and closes etcd), wait up to 60 s, then SIGKILL (its children
/// get SIGTERM from the kernel through their parent-death signal). Then removes the entries
/// drydock created in `dir` (PID and state files, kubeconfigs, `pki/`, `etcd/`, and `logs/`
/// unless `keep_logs`) and `dir` itself if that leaves it empty. A directory without the
/// marker file `up` writes (`.drydock-cluster`) is left alone. Never kills by name.
///
/// # Errors
/// [`ControlPlaneError::Io`] when a signal cannot be sent or the state cannot be removed.
pub async fn down(dir: &Path, keep_logs: bool) -> Result<DownOutcome> {
    let dir = absolute(dir)?;
    if !dir.join(MARKER).is_file() {
        // Not a directory `up` made: touch nothing.
        return Ok(DownOutcome::NotRunning);
    }
    let lock = FileLock::acquire(lock_path(&dir)).await?;
    let outcome = match running(&dir) {
        None => DownOutcome::NotRunning,
        Some((state, _)) => {
            let pid = state.pid;
            signal(pid, Signal::Term)?;
            let mut deadline = Instant::now() + Duration::from_secs(60);
            let mut killed = false;
            while is_our_process(pid, &dir) {
                if Instant::now() >= deadline {
                    if killed {
                        return Err(ControlPlaneError::Io {
                            what: format!("stop drydock-cp (pid {pid})"),
                            source: io::Error::other("still running 10s after SIGKILL"),
                        });
                    }
                    // Re-checked just above: still ours.
                    signal(pid, Signal::Kill)?;
                    killed = true;
                    deadline = Instant::now() + Duration::from_secs(10);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            DownOutcome::Stopped { pid }
        }
    };
    for entry in OWNED_ENTRIES {
        if keep_logs && *entry == LOG_DIR {
            continue;
        }
        let p = dir.join(entry);
        let removed = if p.is_dir() {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(format!("remove {}", p.display()))(e)),
        }
    }
    let _ = fs::remove_file(dir.join(MARKER));
    let _ = fs::remove_file(lock_path(&dir));
    drop(lock);
    let _ = fs::remove_dir(&dir); // only if empty
    Ok(outcome)
}

// ---------------------------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------------------------

/// What [`status`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStatus {
    /// The state directory (absolute).
    pub dir: PathBuf,
    /// Where the kubeconfig is (or would be).
    pub kubeconfig: PathBuf,
    /// The running process, if any.
    pub process: Option<ProcessInfo>,
    /// Server version reported by the API server (`/version` `gitVersion`, such as `v1.36.3`).
    pub server_version: Option<String>,
    /// Whether `/readyz` answered `ok`.
    pub ready: bool,
    /// Number of Node objects.
    pub nodes: Option<usize>,
    /// Why the server is not ready or could not be asked, if so.
    pub problem: Option<String>,
    /// The components `drydock-cp up` runs and supervises (empty while it starts, or when it
    /// is not running).
    pub components: Vec<Component>,
}

/// A component process (kube-apiserver or kube-controller-manager) of a running control plane,
/// as `drydock-cp up` recorded it in `components.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// `kube-apiserver` or `kube-controller-manager`.
    pub name: String,
    /// PID of its current process (a child of `drydock-cp up`).
    pub pid: u32,
    /// How many times `drydock-cp up` restarted it after it exited.
    pub restarts: u32,
    /// When its current process started, in seconds since the Unix epoch.
    pub started_unix: u64,
    /// Its log file (appended to across restarts).
    pub log: PathBuf,
}

/// The components of the control plane running in `dir`, as `drydock-cp up` last recorded
/// them (it rewrites the list at every start and restart). Empty when no control plane of ours
/// runs there, or it has not started its components yet.
///
/// Only entries whose PID is alive and a child of the recorded `drydock-cp up` process are
/// returned, so a PID read here is safe to signal (a test that kills the API server to see it
/// restarted does exactly that).
pub fn components(dir: &Path) -> Vec<Component> {
    let dir = absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let Some((state, _)) = running(&dir) else {
        return Vec::new();
    };
    let Ok(text) = fs::read_to_string(dir.join(COMPONENTS_FILE)) else {
        return Vec::new();
    };
    let list: Vec<Component> = serde_json::from_str(&text).unwrap_or_default();
    list.into_iter()
        .filter(|c| parent_pid(c.pid) == Some(state.pid))
        .collect()
}

/// The parent PID of `pid`, from `/proc/PID/stat` (`None` when it is gone or unreadable).
fn parent_pid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may contain spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.next()?.parse().ok()
}

/// The `drydock-cp up` process of a running control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Its PID.
    pub pid: u32,
    /// API server port on 127.0.0.1.
    pub port: u16,
    /// Time since it was started (wall clock, whole seconds).
    pub uptime: Duration,
}

impl ClusterStatus {
    /// Running and ready: the process is ours and alive, and `/readyz` answered `ok`.
    pub fn is_ready(&self) -> bool {
        self.process.is_some() && self.ready
    }
}

/// Reports on the control plane recorded in `dir`: process, server version
/// (`Client::apiserver_version`), readiness (`/readyz`), node count. Never fails: what cannot be
/// asked is reported in [`ClusterStatus::problem`].
pub async fn status(dir: &Path) -> ClusterStatus {
    let dir = absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let kubeconfig = dir.join(KUBECONFIG);
    let mut st = ClusterStatus {
        dir: dir.clone(),
        kubeconfig: kubeconfig.clone(),
        process: None,
        server_version: None,
        ready: false,
        nodes: None,
        problem: None,
        components: Vec::new(),
    };
    let Some((state, _)) = running(&dir) else {
        return st;
    };
    st.components = components(&dir);
    st.process = Some(ProcessInfo {
        pid: state.pid,
        port: state.port,
        uptime: Duration::from_secs(now_unix().saturating_sub(state.started_unix)),
    });
    if !kubeconfig.is_file() {
        st.problem = Some("starting: no kubeconfig yet".into());
        return st;
    }
    let client = match client_from_kubeconfig(&kubeconfig).await {
        Ok(c) => c,
        Err(e) => {
            st.problem = Some(e.to_string());
            return st;
        }
    };
    let ask = async {
        match readyz(&client).await {
            Ok(()) => st.ready = true,
            Err(e) => st.problem = Some(e),
        }
        match client.apiserver_version().await {
            Ok(v) => st.server_version = Some(v.git_version),
            Err(e) => {
                st.problem.get_or_insert(format!("/version: {e}"));
            }
        }
        match Api::<Node>::all(client.clone())
            .list_metadata(&ListParams::default())
            .await
        {
            Ok(list) => st.nodes = Some(list.items.len()),
            Err(e) => {
                st.problem.get_or_insert(format!("list nodes: {e}"));
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(15), ask)
        .await
        .is_err()
    {
        st.ready = false;
        st.problem = Some("the API server did not answer within 15s".into());
    }
    st
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_readyz_failure_is_summarised_as_its_failing_checks() {
        let body = "[+]ping ok\n[+]etcd ok\n[-]poststarthook/rbac/bootstrap-roles failed: reason withheld\n[-]etcd-readiness failed: reason withheld\nreadyz check failed";
        // An error carrying the body twice names each check once.
        let text = format!("ApiError: {body} (ErrorResponse {{ message: {body:?} }})");
        assert_eq!(
            super::readyz_summary(&text),
            "/readyz: not ready, 2 checks failing (poststarthook/rbac/bootstrap-roles, etcd-readiness)"
        );
        assert_eq!(
            super::readyz_summary("connection refused"),
            "/readyz: connection refused"
        );
    }
    use super::*;

    #[test]
    fn kubernetes_version_is_read_from_go_mod() {
        let v = kubernetes_version();
        assert!(v.starts_with("v1.36."), "{v}");
        assert_eq!(required_go(), "1.26.0");
    }

    #[test]
    fn go_release_parses_and_orders() {
        assert_eq!(go_release("go1.26.8"), Some((1, 26, 8)));
        assert_eq!(go_release("1.26.0"), Some((1, 26, 0)));
        assert_eq!(go_release("go1.27rc1"), Some((1, 27, 0)));
        assert_eq!(go_release("1.26"), Some((1, 26, 0)));
        assert_eq!(go_release("devel"), None);
        assert!(go_release("go1.25.9") < go_release("1.26.0"));
    }

    #[test]
    fn cache_key_depends_on_go_version() {
        let a = cache_key("go version go1.26.8 linux/amd64");
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, cache_key("go version go1.26.8 linux/amd64\n"));
        assert_ne!(a, cache_key("go version go1.26.9 linux/amd64"));
    }

    #[test]
    fn options_are_checked() {
        let ok = UpOptions::new("/nonexistent/drydock-test");
        assert!(ok.validate().is_ok());
        let mut o = ok.clone();
        o.node_monitor_grace_period = Duration::ZERO;
        assert!(
            matches!(o.validate(), Err(ControlPlaneError::Input(m)) if m.contains("--node-monitor-grace-period"))
        );
        let mut o = ok.clone();
        o.node_eviction_rate = f64::NAN;
        assert!(o.validate().is_err());
        let mut o = ok.clone();
        o.pod_eviction_timeout = Duration::from_millis(1500);
        assert!(o.validate().is_err());
        let mut o = ok.clone();
        o.node_monitor_period = Duration::from_secs(60);
        assert!(o.validate().is_err(), "grace shorter than the period");
        assert!(ControlPlaneError::PortInUse { port: 1 }.is_input_error());
    }

    #[test]
    fn cp_args_carry_every_option() {
        let mut o = UpOptions::new("/d");
        o.node_monitor_grace_period = Duration::from_millis(2500);
        o.extra_apiserver_args = vec!["--v=2".into()];
        let args = o.cp_args(Path::new("/abs/d"), 7443);
        assert_eq!(&args[..5], ["up", "--dir", "/abs/d", "--port", "7443"]);
        assert!(args.contains(&"--node-monitor-grace-period=2500ms".to_string()));
        assert!(args.contains(&"--pod-eviction-timeout=300s".to_string()));
        assert!(args.contains(&"--node-eviction-rate=0.1".to_string()));
        assert!(args.contains(&"--restart-backoff=500ms".to_string()));
        assert!(args.contains(&"--apiserver-arg=--v=2".to_string()));
    }

    #[test]
    fn other_processes_are_never_ours() {
        let dir = Path::new("/tmp/drydock-not-a-cluster");
        // This test process is not drydock-cp.
        assert!(!is_our_process(std::process::id(), dir));
        // PID 0 has no /proc entry; a huge PID does not exist.
        assert!(!is_our_process(0, dir));
        assert!(!is_our_process(u32::MAX, dir));
    }

    #[tokio::test]
    async fn down_removes_only_drydock_state_and_never_signals_a_stranger() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("cluster");
        fs::create_dir_all(dir.join("logs")).expect("mkdir");
        fs::write(dir.join("mine.txt"), "user data").expect("write");
        // A state file naming a PID that is not drydock-cp (this very process).
        let state = StateFile {
            pid: std::process::id(),
            port: 1,
            binary: PathBuf::from("/bin/true"),
            started_unix: 0,
            kubernetes_version: "v1.36.3".into(),
        };
        fs::write(
            dir.join(STATE_FILE),
            serde_json::to_vec(&state).expect("json"),
        )
        .expect("write");

        // Without the marker, down touches nothing at all.
        assert_eq!(
            down(&dir, false).await.expect("down"),
            DownOutcome::NotRunning
        );
        assert!(dir.join("logs").is_dir() && dir.join(STATE_FILE).is_file());
        // up refuses to move into that directory.
        let err = up(&UpOptions::new(&dir), &|_| {})
            .await
            .expect_err("foreign dir");
        assert!(err.is_input_error(), "{err}");
        assert!(err.to_string().contains("is not empty"), "{err}");

        // With it, down removes drydock's entries (the PID is not ours: nothing is signalled,
        // this test process survives) and keeps the rest.
        fs::write(dir.join(MARKER), "").expect("write");
        assert_eq!(
            down(&dir, false).await.expect("down"),
            DownOutcome::NotRunning
        );
        assert!(dir.join("mine.txt").is_file(), "user files stay");
        for gone in [STATE_FILE, LOG_DIR, MARKER, ".lock"] {
            assert!(!dir.join(gone).exists(), "{gone} left behind");
        }
        let st = status(&dir).await;
        assert!(!st.is_ready());
        assert_eq!(st.process, None);
    }
}
