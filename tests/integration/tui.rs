//! `drydock tui`: refuses a non-terminal, reports scenario errors like `drydock run`, and works
//! end to end in tmux (skipped when tmux is missing, unless `DRYDOCK_REQUIRE_TMUX=1`).

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn drydock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(args)
        .env_remove("DRYDOCK_DATA_DIR")
        .output()
        .expect("runs")
}

#[test]
fn tui_should_refuse_a_non_terminal() {
    let o = drydock(&["tui"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("needs an interactive terminal"), "{err}");
}

#[test]
fn tui_should_report_scenario_errors_like_run() {
    for args in [
        &["nosuch"][..],
        &["default", "--set", "seed=3"],
        &["default", "--set", "scheduler.policy=nosuch"],
        &["philly"],
    ] {
        let run = drydock(&[&["run"][..], args].concat());
        let tui = drydock(&[&["tui"][..], args].concat());
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        assert_eq!(tui.status.code(), run.status.code(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&tui.stderr),
            String::from_utf8_lossy(&run.stderr),
            "{args:?}"
        );
    }
}

/// A private tmux server, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env("TERM", "xterm-256color")
            .output()
            .expect("tmux runs")
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "dd"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success());
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-t", "dd", "-p"]).stdout).into_owned()
    }

    /// Waits up to 15 s for `text` on the screen; returns the screen.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "`{text}` never appeared; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// Starts `drydock tui ARGS` in a private tmux server, or `None` when tmux is missing.
fn start(name: &str, args: &str) -> Option<Tmux> {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("DRYDOCK_REQUIRE_TMUX").is_none(),
            "tmux is required (DRYDOCK_REQUIRE_TMUX is set) but not installed"
        );
        eprintln!("skipped: tmux is not installed");
        return None;
    }
    let tmux = Tmux {
        socket: format!("drydock-test-{name}-{}", std::process::id()),
    };
    let cmd = format!(
        "{} tui {args}; echo EXITED rc=$?; sleep 10",
        env!("CARGO_BIN_EXE_drydock")
    );
    let o = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "dd",
        "-x",
        "100",
        "-y",
        "30",
        &cmd,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some(tmux)
}

#[test]
fn tui_in_tmux_should_jump_fail_a_node_go_back_and_quit() {
    let Some(tmux) = start("main", "") else {
        return;
    };
    tmux.wait_for("PAUSED");
    tmux.keys(&["g", "2h10m", "Enter"]);
    let s = tmux.wait_for("t=2h10m");
    assert!(s.contains("a100-1 xxxxxxxx NotReady"), "{s}");
    // Select l4-0 (the fifth node) and fail it.
    tmux.keys(&["Down", "Down", "Down", "Down", "f"]);
    tmux.wait_for("failed node l4-0");
    let s = tmux.wait_for("l4-0   xxxx DOWN");
    assert!(s.contains("node l4-0 failed"), "{s}");
    tmux.keys(&["b"]);
    tmux.wait_for("t=1h40m");
    tmux.keys(&["?"]);
    tmux.wait_for("Help");
    tmux.keys(&["Escape", "q"]);
    tmux.wait_for("EXITED rc=0");
}

#[test]
fn tui_in_tmux_should_compare_two_policies_in_step() {
    let Some(tmux) = start("ab", "--compare scheduler.policy=fgd") else {
        return;
    };
    tmux.wait_for("B scheduler.policy=fgd");
    tmux.keys(&["g", "3h", "Enter"]);
    let s = tmux.wait_for("t=3h/");
    assert_eq!(s.matches("a100-1 ").count(), 2, "{s}");
    tmux.keys(&["q"]);
    tmux.wait_for("EXITED rc=0");
}
