//! A sweep's plan: the scenario, the `--set` settings and the seeds, and their expansion into
//! variants and runs. The plan is what a Kubernetes sweep ships to its workers, so it is
//! serialisable and its expansion is a pure function of it.

use drydock_scenarios::Override;
use serde::{Deserialize, Serialize};

use crate::cli::InputError;

/// Most runs one sweep may have (a guard against a typo like `--seeds 1..1000000000`).
pub const MAX_RUNS: usize = 1_000_000;

/// Version of the plan's layout.
pub const PLAN_VERSION: u32 = 1;

/// One `--set PATH=V1,V2,...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetSpec {
    /// Dotted path relative to `spec`.
    pub path: String,
    /// The values, as YAML text, in the order given.
    pub values: Vec<String>,
}

/// A whole sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Layout version ([`PLAN_VERSION`]).
    pub version: u32,
    /// Scenario name (`metadata.name`).
    pub name: String,
    /// Where the scenario came from (`builtin:NAME` or a path), for diagnostics.
    pub origin: String,
    /// The settings, in the order given; the last varies fastest.
    pub sets: Vec<SetSpec>,
    /// The seeds, in the order given.
    pub seeds: Vec<u64>,
    /// The seeds as written (`1..10`), for headers.
    pub seeds_text: String,
}

/// One run of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunId {
    /// Run index (0-based; the Indexed Job's completion index).
    pub index: usize,
    /// Variant index (0-based).
    pub variant: usize,
    /// Seed.
    pub seed: u64,
}

impl Plan {
    /// The variants: the cross product of the settings' values, the first `--set` varying
    /// slowest and the last fastest (odometer order). No settings: one variant with none.
    pub fn variants(&self) -> Vec<Vec<Override>> {
        let mut out: Vec<Vec<Override>> = vec![Vec::new()];
        for set in &self.sets {
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    set.values.iter().map(move |v| {
                        let mut o = prefix.clone();
                        o.push(Override::new(set.path.clone(), v.clone()));
                        o
                    })
                })
                .collect();
        }
        out
    }

    /// Number of variants.
    pub fn variant_count(&self) -> usize {
        self.sets.iter().map(|s| s.values.len()).product()
    }

    /// Every run, by variant then seed (in the order given): run `i` is variant
    /// `i / seeds`, seed number `i % seeds`.
    pub fn runs(&self) -> Vec<RunId> {
        let seeds = self.seeds.len();
        (0..self.variant_count() * seeds)
            .map(|index| RunId {
                index,
                variant: index / seeds.max(1),
                seed: self.seeds[index % seeds.max(1)],
            })
            .collect()
    }

    /// Short label of variant `v` (0-based): its values joined by `, `, or `(as written)`
    /// without settings.
    pub fn label(&self, variant: &[Override]) -> String {
        if variant.is_empty() {
            return "(as written)".into();
        }
        variant
            .iter()
            .map(|o| o.value.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Parses `--seeds`: `1..10` (inclusive), `1,2,5`, a single number, or a mix (`1..3,7`).
///
/// # Errors
/// [`InputError`] for a malformed list, an empty range, a repeated seed, or more than
/// [`MAX_RUNS`] seeds.
pub fn parse_seeds(text: &str) -> Result<Vec<u64>, InputError> {
    let bad = |what: String| {
        InputError::new(
            format!("--seeds {text}: {what}"),
            "write a range `1..10` (inclusive), a list `1,2,5`, a single seed `7`, or a mix `1..3,7`",
        )
    };
    let num = |s: &str| -> Result<u64, InputError> {
        s.trim()
            .parse::<u64>()
            .map_err(|_| bad(format!("`{}` is not a non-negative integer", s.trim())))
    };
    let mut seeds: Vec<u64> = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(bad("empty item".into()));
        }
        if let Some((a, b)) = part.split_once("..") {
            let b = b.strip_prefix('=').unwrap_or(b);
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                return Err(bad(format!("the range {a}..{b} is empty")));
            }
            if (b - a) as u128 + 1 + seeds.len() as u128 > MAX_RUNS as u128 {
                return Err(bad(format!("more than {MAX_RUNS} seeds")));
            }
            seeds.extend(a..=b);
        } else {
            seeds.push(num(part)?);
        }
    }
    let mut sorted = seeds.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad(format!("seed {} appears twice", w[0])));
    }
    Ok(seeds)
}

/// Parses one `--set PATH=V1,V2`: the path is checked against the scenario schema, the values
/// are split at top-level commas (`[A100, L4]` stays one value).
///
/// # Errors
/// [`drydock_scenarios::ScenarioError::UnknownPath`] (with the nearest valid paths) or
/// `BadOverride`, and [`InputError`] for `seed` (use `--seeds`).
pub fn parse_set(text: &str) -> anyhow::Result<SetSpec> {
    let o = Override::parse(text)?;
    drydock_scenarios::check_path(&o.path)?;
    let path = o.path.trim().to_string();
    if path == "seed" || path == "spec.seed" {
        return Err(InputError::new(
            format!("--set {text}: the seed is swept with --seeds"),
            "remove this --set and pass --seeds, for example --seeds 1..10",
        )
        .into());
    }
    Ok(SetSpec {
        path,
        values: drydock_scenarios::split_values(&o.value),
    })
}

/// Checks that no path is set twice and that the sweep is not too large.
///
/// # Errors
/// [`InputError`].
pub fn check_sets(sets: &[SetSpec], seeds: usize) -> Result<(), InputError> {
    for (i, s) in sets.iter().enumerate() {
        let norm = |p: &str| p.strip_prefix("spec.").unwrap_or(p).to_string();
        if sets[..i].iter().any(|t| norm(&t.path) == norm(&s.path)) {
            return Err(InputError::new(
                format!("--set {} is given twice", s.path),
                "give all values of a path in one --set, separated by commas",
            ));
        }
        if let Some(dup) = s
            .values
            .iter()
            .enumerate()
            .find(|(j, v)| s.values[..*j].contains(v))
        {
            return Err(InputError::new(
                format!("--set {}: the value `{}` is listed twice", s.path, dup.1),
                "list each value once",
            ));
        }
    }
    let runs = sets
        .iter()
        .try_fold(seeds, |acc, s| acc.checked_mul(s.values.len()));
    if runs.is_none_or(|r| r > MAX_RUNS) {
        return Err(InputError::new(
            format!("the sweep would have more than {MAX_RUNS} runs"),
            "use fewer seeds or values",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(sets: &[(&str, &[&str])], seeds: &[u64]) -> Plan {
        Plan {
            version: PLAN_VERSION,
            name: "t".into(),
            origin: "builtin:t".into(),
            sets: sets
                .iter()
                .map(|(p, v)| SetSpec {
                    path: p.to_string(),
                    values: v.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
            seeds: seeds.to_vec(),
            seeds_text: String::new(),
        }
    }

    #[test]
    fn seeds_accept_ranges_lists_and_single_numbers() {
        assert_eq!(parse_seeds("1..5").expect("ok"), [1, 2, 3, 4, 5]);
        assert_eq!(parse_seeds("1..=3").expect("ok"), [1, 2, 3]);
        assert_eq!(parse_seeds("1,2,5").expect("ok"), [1, 2, 5]);
        assert_eq!(parse_seeds("7").expect("ok"), [7]);
        assert_eq!(parse_seeds(" 1..2, 9 ").expect("ok"), [1, 2, 9]);
        assert_eq!(parse_seeds("3..3").expect("ok"), [3]);
    }

    #[test]
    fn seed_syntax_errors_say_what_is_wrong() {
        let msg = |t: &str| parse_seeds(t).expect_err("bad").to_string();
        assert!(msg("10..1").contains("empty"), "{}", msg("10..1"));
        assert!(msg("a..3").contains("`a` is not"));
        assert!(msg("1,,2").contains("empty item"));
        assert!(msg("").contains("empty item"));
        assert!(msg("-1").contains("not a non-negative integer"));
        assert!(msg("1,2,1").contains("seed 1 appears twice"));
        assert!(msg("0..2000000").contains("more than"));
        assert!(msg("1..x").contains("`x` is not"));
    }

    #[test]
    fn cross_product_varies_the_last_setting_fastest() {
        let p = plan(
            &[
                ("scheduler.policy", &["a", "b"]),
                ("seedless", &["x", "y", "z"]),
            ],
            &[1, 2],
        );
        let v: Vec<String> = p.variants().iter().map(|v| p.label(v)).collect();
        assert_eq!(v, ["a, x", "a, y", "a, z", "b, x", "b, y", "b, z"]);
        assert_eq!(p.variant_count(), 6);
        let runs = p.runs();
        assert_eq!(runs.len(), 12);
        assert_eq!((runs[0].variant, runs[0].seed), (0, 1));
        assert_eq!((runs[1].variant, runs[1].seed), (0, 2));
        assert_eq!((runs[2].variant, runs[2].seed), (1, 1));
        assert_eq!(
            (runs[11].index, runs[11].variant, runs[11].seed),
            (11, 5, 2)
        );
    }

    #[test]
    fn no_settings_is_one_variant() {
        let p = plan(&[], &[4, 2]);
        assert_eq!(p.variants(), vec![Vec::<Override>::new()]);
        assert_eq!(p.runs().iter().map(|r| r.seed).collect::<Vec<_>>(), [4, 2]);
    }

    #[test]
    fn sets_are_checked() {
        let s = parse_set("scheduler.policy=binpack,fgd").expect("ok");
        assert_eq!(s.values, ["binpack", "fgd"]);
        assert_eq!(
            parse_set("training[0].gpuModels=[A100, L4],[L4]")
                .expect("ok")
                .values,
            ["[A100, L4]", "[L4]"]
        );
        assert!(parse_set("seed=1,2").is_err());
        assert!(parse_set("nope=1").is_err());
        let a = parse_set("scheduler.policy=fgd").expect("ok");
        let b = parse_set("spec.scheduler.policy=binpack").expect("ok");
        assert!(check_sets(&[a.clone(), b], 3).is_err());
        let dup = parse_set("scheduler.policy=fgd,fgd").expect("ok");
        assert!(check_sets(&[dup], 3).is_err());
        assert!(check_sets(&[a], 3).is_ok());
    }
}
