//! `drydock experiment fgd` on a tiny openb-format fixture whose curves are computed by hand,
//! and (with `DRYDOCK_DATA_DIR`) a reduced run on the real traces.
//!
//! The fixture (`tests/fixtures/fgd/alibaba-openb/`): three nodes `node-a`..`node-c`, each
//! one V100M32 GPU and 32 CPUs: capacity 3,000 milli-GPU, so the inflation target is
//! 130 % = 3,900 milli-GPU.
//!
//! Pod list `share`: six identical pods asking 600 milli-GPU of one GPU (4 CPUs). They request
//! 3,600 ≤ 3,900; one more copy would make 4,200 > 3,900, so nothing is added. Pods are
//! identical, so the shuffle, the seed and the policy cannot matter. One pod arrives per
//! second, each followed by one scheduling attempt:
//!
//! | arrival | arrived % | placed on        | allocated | F (milli) | free (milli) | frag ratio |
//! |---------|-----------|------------------|-----------|-----------|--------------|------------|
//! | 1       | 20        | a GPU (1000→400) | 600 = 20% | 400       | 2400         | 1/6        |
//! | 2       | 40        | another GPU      | 1200 = 40%| 800       | 1800         | 4/9        |
//! | 3       | 60        | the third GPU    | 1800 = 60%| 1200      | 1200         | 1          |
//! | 4, 5, 6 | 80,100,120| fails (400 < 600)| 60%       | 1200      | 1200         | 1          |
//!
//! (The target workload is the one spec, popularity 1: a GPU with 400 free cannot host it,
//! so all 400 count as fragmented; a GPU with 1,000 free can, and has no sliver below 600.)
//!
//! Empty buckets take the mean of the buckets one below and one above, else the previous
//! value (0 before the first): allocation a0..a18 = 0, a19..a38 = 0.2, a39..a58 = 0.4,
//! a59..a130 = 0.6; fragmentation f0..f18 = 0, f19..f38 = 1/6, f39..f58 = 4/9,
//! f59..f130 = 1. Failed pods: 3.
//!
//! Pod list `whole`: two pods of one whole GPU (8 CPUs): 2,000 requested; one copy makes
//! 3,000 ≤ 3,900, a second 4,000 > 3,900: three pods. Arrived 33.3 % → bucket 33, 66.7 % → 67,
//! 100 % → 100, allocation 1/3, 2/3, 1: a0..a31 = 0, a32..a65 = 1/3, a66..a98 = 2/3,
//! a99..a130 = 1. Free GPUs are whole and the spec takes a whole GPU, so fragmentation is 0
//! throughout. Failed pods: 0.

use std::path::Path;
use std::process::{Command, Output};

fn drydock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DRYDOCK_DATA_DIR")
        .env("NO_COLOR", "1")
        .output()
        .expect("drydock runs")
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const POLICIES: [&str; 6] = [
    "random",
    "dot-prod",
    "gpu-clustering",
    "gpu-packing",
    "best-fit",
    "fgd",
];

/// The expected curve: `steps` are (first percent, value), each holding until the next.
fn curve(steps: &[(usize, f64)]) -> Vec<f64> {
    (0..=130)
        .map(|i| {
            steps
                .iter()
                .rev()
                .find(|(from, _)| i >= *from)
                .map_or(0.0, |s| s.1)
        })
        .collect()
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("csv");
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

#[test]
fn fgd_experiment_on_the_fixture_matches_the_hand_computation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("fgd");
    let o = drydock(&[
        "experiment",
        "fgd",
        "--data-dir",
        "tests/fixtures/fgd",
        "--seeds",
        "1..2",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));

    let expected = [
        (
            "share",
            curve(&[(19, 0.2), (39, 0.4), (59, 0.6)]),
            curve(&[(19, 1.0 / 6.0), (39, 4.0 / 9.0), (59, 1.0)]),
        ),
        (
            "whole",
            curve(&[(32, 1.0 / 3.0), (66, 2.0 / 3.0), (99, 1.0)]),
            curve(&[]),
        ),
    ];
    let (header, alloc) = read_csv(&out.join("allocation.csv"));
    assert_eq!(header[..4], ["trace", "policy", "seed", "a0"]);
    assert_eq!(header.len(), 3 + 131);
    assert_eq!(header.last().map(String::as_str), Some("a130"));
    let (fheader, frag) = read_csv(&out.join("fragmentation.csv"));
    assert_eq!(fheader[3], "f0");
    assert_eq!(fheader.len(), 3 + 131);
    // One row per (trace, policy, seed), in that order.
    assert_eq!(alloc.len(), 2 * 6 * 2);
    let mut i = 0;
    for (trace, a, f) in &expected {
        for policy in POLICIES {
            for seed in ["1", "2"] {
                for (rows, want, what) in [(&alloc, a, "allocation"), (&frag, f, "fragmentation")] {
                    let row = &rows[i];
                    assert_eq!(row[..3], [*trace, policy, seed], "{what} row {i}");
                    let got: Vec<f64> = row[3..]
                        .iter()
                        .map(|v| v.parse().expect("number"))
                        .collect();
                    for (pct, (g, w)) in got.iter().zip(want).enumerate() {
                        assert!(
                            (g - w).abs() < 1e-6,
                            "{what} {trace}/{policy}/{seed} at {pct}%: {g} != {w}"
                        );
                    }
                }
                i += 1;
            }
        }
    }
    for f in [
        "allocation-share.svg",
        "allocation-whole.svg",
        "fragmentation-share.svg",
    ] {
        let svg = std::fs::read_to_string(out.join(f)).expect("svg");
        assert!(svg.contains("<svg") && svg.contains("fgd"), "{f}");
    }
    // The console table: 60% allocated at 100% and 130% on `share`, 3 failed pods.
    let fgd_share = text
        .lines()
        .skip_while(|l| !l.starts_with("share "))
        .find(|l| l.trim_start().starts_with("fgd "))
        .unwrap_or_default();
    assert!(fgd_share.contains("60.0% ± 0.0%"), "{text}");
    assert!(fgd_share.contains("3.0 ± 0.0"), "{text}");
    assert!(text.contains("as many GPUs unallocated"), "{text}");
}

#[test]
fn the_experiment_is_deterministic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |name: &str| {
        let out = dir.path().join(name);
        let o = drydock(&[
            "experiment",
            "fgd",
            "--data-dir",
            "tests/fixtures/fgd",
            "--seeds",
            "3",
            "--traces",
            "share",
            "--policies",
            "fgd,random",
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let stdout = String::from_utf8_lossy(&o.stdout).replace(out.to_str().unwrap_or(""), "OUT");
        (
            stdout,
            std::fs::read(out.join("allocation.csv")).expect("csv"),
            std::fs::read(out.join("allocation-share.svg")).expect("svg"),
        )
    };
    assert_eq!(run("a"), run("b"));
}

#[test]
fn experiment_input_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("x");
    let out = out.to_str().expect("utf-8");
    let o = drydock(&[
        "experiment",
        "fgd",
        "--data-dir",
        "tests/fixtures/fgd",
        "--traces",
        "nope",
        "--out",
        out,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("share, whole"), "{}", err(&o));
    let o = drydock(&[
        "experiment",
        "fgd",
        "--data-dir",
        "no/such/dir",
        "--out",
        out,
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = drydock(&[
        "experiment",
        "fgd",
        "--data-dir",
        "tests/fixtures/fgd",
        "--policies",
        "fgd,bestfit",
        "--out",
        out,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("best-fit"), "{}", err(&o));
    let o = drydock(&["experiment", "fgd", "--out", out]);
    assert_eq!(o.status.code(), Some(2), "--data-dir is required");
}

/// With the real traces: FGD leaves fewer GPUs unallocated than BestFit on the default pod
/// list at 130 % arrived (the paper's headline, on one seed).
#[test]
fn fgd_beats_best_fit_on_the_real_default_trace() {
    let Some(data) = std::env::var_os("DRYDOCK_DATA_DIR") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("fgd");
    let o = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["experiment", "fgd", "--seeds", "42", "--traces", "default"])
        .args(["--policies", "best-fit,fgd", "--out"])
        .arg(&out)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let (_, rows) = read_csv(&out.join("allocation.csv"));
    let at130 = |policy: &str| -> f64 {
        rows.iter()
            .find(|r| r[1] == policy)
            .and_then(|r| r.last())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(at130("fgd") > at130("best-fit"), "{rows:?}");
}
