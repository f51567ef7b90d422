//! Checks of the cluster autoscaling sections: `spec.cluster.autoscaler`,
//! `spec.cluster.pools[].autoscaling` and `spec.cluster.pools[].spot`.

use drydock_core::SimDuration;
use drydock_core::autoscale::ca::{CaConfig, Expander, PriorityRule};

use super::{Checker, check_dist};
use crate::model::{DurationDist, PoolAutoscaling, SpotSpec};
use crate::raw::{Pos, RawClusterAutoscaler, RawPoolAutoscaling, RawSpot, Sp};

/// Most nodes a pool may grow to (the same guard as a fixed pool's size).
const MAX_NODES: i64 = 1_000_000;

/// `spec.cluster.pools[i].autoscaling`, given the pool's initial `nodes`.
pub(super) fn check_pool_autoscaling(
    c: &mut Checker<'_>,
    a: &Sp<RawPoolAutoscaling>,
    path: &str,
    initial: Option<(u32, Pos)>,
) -> Option<PoolAutoscaling> {
    let raw = &a.value;
    let min = c
        .int_in(
            &raw.min_nodes,
            &format!("{path}.minNodes"),
            "pool-bounds",
            (0, MAX_NODES),
            "the fewest nodes the autoscaler keeps, 0 or more",
        )
        .unwrap_or(0) as u32;
    let max = c
        .require(
            &raw.max_nodes,
            a.pos,
            path,
            "maxNodes",
            "give the most nodes the autoscaler may add up to, for example `maxNodes: 16`",
        )
        .and_then(|_| {
            c.int_in(
                &raw.max_nodes,
                &format!("{path}.maxNodes"),
                "pool-bounds",
                (0, MAX_NODES),
                "the most nodes of the pool",
            )
        })
        .map(|m| m as u32);
    let max_pos = raw.max_nodes.as_ref().map_or(a.pos, |m| m.pos);
    if let Some(max) = max {
        if min > max {
            c.report(
                max_pos,
                "pool-bounds",
                format!("`{path}`: minNodes ({min}) is above maxNodes ({max})"),
                Some("make `minNodes` at most `maxNodes`".into()),
            );
        }
        if let Some((n, pos)) = initial
            && (n < min || n > max)
        {
            c.report(
                pos,
                "pool-bounds",
                format!(
                    "the pool starts with {n} nodes, outside its autoscaling bounds [{min}, {max}]"
                ),
                Some("set `nodes` (the initial size) between `minNodes` and `maxNodes`".into()),
            );
        }
    }
    let provisioning_time = match &raw.provisioning_time {
        Some(d) => check_dist(c, d, &format!("{path}.provisioningTime")),
        None => Some(DurationDist::LogNormal {
            median: SimDuration::from_mins(5),
            p95: SimDuration::from_mins(10),
        }),
    };
    let stockout = c
        .number(
            &raw.stockout_probability,
            &format!("{path}.stockoutProbability"),
            "probability",
            |x| (0.0..=1.0).contains(&x),
            "between 0 and 1",
            "the chance that a requested node never arrives, for example 0.2",
        )
        .unwrap_or(0.0);
    let cloud_capacity = c
        .int_in(
            &raw.cloud_capacity,
            &format!("{path}.cloudCapacity"),
            "pool-bounds",
            (0, MAX_NODES),
            "the most nodes of this pool the cloud can supply",
        )
        .map(|n| n as u32);
    let priority = c
        .int_in(
            &raw.priority,
            &format!("{path}.priority"),
            "priority",
            (i64::from(i32::MIN), i64::from(i32::MAX)),
            "an integer; the `priority` expander prefers higher",
        )
        .map(|p| p as i32);
    Some(PoolAutoscaling {
        min_nodes: min,
        max_nodes: max?,
        provisioning_time: provisioning_time?,
        stockout_probability: stockout,
        cloud_capacity,
        priority,
    })
}

/// `spec.cluster.pools[i].spot`.
pub(super) fn check_spot(c: &mut Checker<'_>, s: &Sp<RawSpot>, path: &str) -> Option<SpotSpec> {
    let mtti = c
        .require(
            &s.value.mean_time_to_interruption,
            s.pos,
            path,
            "meanTimeToInterruption",
            "give the mean time between interruptions of one node, for example `6h`",
        )
        .and_then(|_| {
            c.positive_duration(
                &s.value.mean_time_to_interruption,
                &format!("{path}.meanTimeToInterruption"),
                "positive-duration",
                "for example `meanTimeToInterruption: 6h`",
            )
        });
    let notice = c.duration_or(
        &s.value.notice,
        &format!("{path}.notice"),
        SimDuration::from_mins(2),
    );
    Some(SpotSpec {
        mean_time_to_interruption: mtti?,
        notice,
    })
}

/// `spec.cluster.autoscaler`: the flags, upstream defaults for what is absent.
pub(super) fn check_autoscaler(
    c: &mut Checker<'_>,
    a: Option<&Sp<RawClusterAutoscaler>>,
    any_group: bool,
) -> CaConfig {
    let mut cfg = CaConfig::default();
    let Some(a) = a else { return cfg };
    let path = "spec.cluster.autoscaler";
    if !any_group {
        c.report(
            a.pos,
            "autoscaler-unused",
            "`spec.cluster.autoscaler` is set but no pool has an `autoscaling` section",
            Some(
                "add `autoscaling: {minNodes: 0, maxNodes: 8}` to the pools the Cluster \
                 Autoscaler manages"
                    .into(),
            ),
        );
    }
    let raw = &a.value;
    let dur = |c: &mut Checker<'_>, v, field: &str, default: SimDuration| {
        c.duration_or(v, &format!("{path}.{field}"), default)
    };
    if let Some(d) = c.positive_duration(
        &raw.scan_interval,
        &format!("{path}.scanInterval"),
        "positive-duration",
        "for example `scanInterval: 10s`",
    ) {
        cfg.scan_interval = d;
    }
    let kinds: [(&str, u8); 5] = [
        ("least-waste", 0),
        ("most-pods", 1),
        ("least-nodes", 2),
        ("random", 3),
        ("priority", 4),
    ];
    let kind = c.choice(
        &raw.expander,
        &format!("{path}.expander"),
        "expander",
        &kinds,
    );
    let mut rules = Vec::new();
    for (i, r) in raw.priorities.as_deref().unwrap_or(&[]).iter().enumerate() {
        let rpath = format!("{path}.priorities[{i}]");
        let pattern = c.required_str(
            &r.value.pattern,
            r.pos,
            &rpath,
            "pattern",
            "a regular expression matched against pool names, for example `^spot-.*`",
        );
        let prio = c
            .require(&r.value.priority, r.pos, &rpath, "priority", "an integer")
            .and_then(|_| {
                c.int_in(
                    &r.value.priority,
                    &format!("{rpath}.priority"),
                    "priority",
                    (i64::from(i32::MIN), i64::from(i32::MAX)),
                    "an integer; higher wins",
                )
            });
        if let Some(p) = &pattern
            && let Err(e) = regex_check(&p.value)
        {
            c.report(
                p.pos,
                "pattern",
                format!("`{rpath}.pattern` is not a valid regular expression: {e}"),
                Some("for example `^a100-.*`".into()),
            );
            continue;
        }
        if let (Some(p), Some(prio)) = (pattern, prio) {
            rules.push(PriorityRule {
                pattern: p.value,
                priority: prio as i32,
            });
        }
    }
    cfg.expander = match kind {
        Some(1) => Expander::MostPods,
        Some(2) => Expander::LeastNodes,
        Some(3) => Expander::Random,
        Some(4) => Expander::Priority(rules),
        _ => {
            if let Some(p) = &raw.priorities
                && !p.is_empty()
                && let Some(first) = p.first()
            {
                c.report(
                    first.pos,
                    "expander",
                    "`priorities` apply only to the `priority` expander",
                    Some("set `expander: priority`, or remove `priorities`".into()),
                );
            }
            Expander::LeastWaste
        }
    };
    cfg.max_node_provision_time = dur(
        c,
        &raw.max_node_provision_time,
        "maxNodeProvisionTime",
        cfg.max_node_provision_time,
    );
    if let Some(n) = c.int_in(
        &raw.max_nodes_total,
        &format!("{path}.maxNodesTotal"),
        "node-count",
        (0, MAX_NODES),
        "0 means unlimited",
    ) {
        cfg.max_nodes_total = n as u32;
    }
    if let Some(n) = c.int_in(
        &raw.max_nodes_per_scale_up,
        &format!("{path}.maxNodesPerScaleUp"),
        "node-count",
        (1, MAX_NODES),
        "1 or more",
    ) {
        cfg.max_nodes_per_scaleup = n as u32;
    }
    if let Some(n) = c.int_in(
        &raw.expendable_pods_priority_cutoff,
        &format!("{path}.expendablePodsPriorityCutoff"),
        "priority",
        (i64::from(i32::MIN), i64::from(i32::MAX)),
        "a pod priority",
    ) {
        cfg.expendable_pods_priority_cutoff = n as i32;
    }
    cfg.new_pod_scale_up_delay = dur(
        c,
        &raw.new_pod_scale_up_delay,
        "newPodScaleUpDelay",
        cfg.new_pod_scale_up_delay,
    );
    if let Some(b) = &raw.backoff {
        let bpath = format!("{path}.backoff");
        cfg.initial_backoff = c.duration_or(
            &b.value.initial,
            &format!("{bpath}.initial"),
            cfg.initial_backoff,
        );
        cfg.max_backoff = c.duration_or(&b.value.max, &format!("{bpath}.max"), cfg.max_backoff);
        cfg.backoff_reset_timeout = c.duration_or(
            &b.value.reset_after,
            &format!("{bpath}.resetAfter"),
            cfg.backoff_reset_timeout,
        );
        if cfg.initial_backoff > cfg.max_backoff {
            c.report(
                b.pos,
                "backoff",
                format!(
                    "`{bpath}`: initial backoff ({}) is longer than the max ({})",
                    cfg.initial_backoff, cfg.max_backoff
                ),
                Some("make `initial` at most `max`".into()),
            );
        }
    }
    if let Some(sd) = &raw.scale_down {
        let spath = format!("{path}.scaleDown");
        let s = &sd.value;
        if let Some(e) = &s.enabled {
            cfg.scale_down_enabled = e.value;
        }
        let threshold = |c: &mut Checker<'_>, v, field: &str, default: f64| {
            c.number(
                v,
                &format!("{spath}.{field}"),
                "threshold",
                |x| (0.0..=1.0).contains(&x),
                "between 0 and 1",
                "a utilization fraction, for example 0.5",
            )
            .unwrap_or(default)
        };
        cfg.scale_down_utilization_threshold = threshold(
            c,
            &s.utilization_threshold,
            "utilizationThreshold",
            cfg.scale_down_utilization_threshold,
        );
        cfg.scale_down_gpu_utilization_threshold = threshold(
            c,
            &s.gpu_utilization_threshold,
            "gpuUtilizationThreshold",
            cfg.scale_down_gpu_utilization_threshold,
        );
        cfg.scale_down_unneeded_time = c.duration_or(
            &s.unneeded_time,
            &format!("{spath}.unneededTime"),
            cfg.scale_down_unneeded_time,
        );
        cfg.scale_down_unready_time = c.duration_or(
            &s.unready_time,
            &format!("{spath}.unreadyTime"),
            cfg.scale_down_unready_time,
        );
        cfg.scale_down_delay_after_add = c.duration_or(
            &s.delay_after_add,
            &format!("{spath}.delayAfterAdd"),
            cfg.scale_down_delay_after_add,
        );
        cfg.scale_down_delay_after_delete = c.duration_or(
            &s.delay_after_delete,
            &format!("{spath}.delayAfterDelete"),
            cfg.scale_down_delay_after_delete,
        );
        cfg.scale_down_delay_after_failure = c.duration_or(
            &s.delay_after_failure,
            &format!("{spath}.delayAfterFailure"),
            cfg.scale_down_delay_after_failure,
        );
        if let Some(n) = c.int_in(
            &s.max_parallelism,
            &format!("{spath}.maxParallelism"),
            "node-count",
            (1, MAX_NODES),
            "1 or more",
        ) {
            cfg.max_scale_down_parallelism = n as u32;
        }
        if let Some(n) = c.int_in(
            &s.max_drain_parallelism,
            &format!("{spath}.maxDrainParallelism"),
            "node-count",
            (1, MAX_NODES),
            "1 or more",
        ) {
            cfg.max_drain_parallelism = n as u32;
        }
    }
    cfg
}

/// Whether `pattern` is a regular expression the priority expander accepts.
fn regex_check(pattern: &str) -> Result<(), String> {
    let probe = CaConfig {
        expander: Expander::Priority(vec![PriorityRule {
            pattern: pattern.to_string(),
            priority: 0,
        }]),
        ..CaConfig::default()
    };
    probe.validate().map_err(|e| match e {
        drydock_core::autoscale::ca::CaConfigError::Pattern { message, .. } => message,
        other => other.to_string(),
    })
}
