//! Training progress with blocking checkpoints, computed in closed form (no event per
//! checkpoint).
//!
//! A job with `R` of remaining work and checkpoint interval `I`, cost `C` runs `I` of work,
//! then blocks `C` to write a checkpoint, and so on; no checkpoint is written after the last
//! piece of work. Work done since the last completed checkpoint is lost on a failure.

use drydock_core::SimDuration;

/// Checkpointing parameters: interval of work between checkpoints and the blocking cost of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpointing {
    /// Work between checkpoints (> 0).
    pub interval: SimDuration,
    /// Blocking time of one checkpoint.
    pub cost: SimDuration,
}

/// Wall time to finish `remaining` work: `R + C · (⌈R / I⌉ − 1)`.
pub fn wall_time_for(remaining: SimDuration, ckpt: Option<Checkpointing>) -> SimDuration {
    match ckpt {
        Some(c) if c.interval.0 > 0 && remaining.0 > 0 => {
            let n = remaining.0.div_ceil(c.interval.0) - 1;
            SimDuration(remaining.0.saturating_add(n.saturating_mul(c.cost.0)))
        }
        _ => remaining,
    }
}

/// Progress after `elapsed` wall time of computing on `remaining` work: `(worked,
/// checkpointed)`, both capped at `remaining`. Without checkpointing nothing is ever
/// checkpointed (a failure loses everything done in this attempt).
pub fn progress_after(
    elapsed: SimDuration,
    remaining: SimDuration,
    ckpt: Option<Checkpointing>,
) -> (SimDuration, SimDuration) {
    match ckpt {
        Some(c) if c.interval.0 > 0 => {
            let period = c.interval.0.saturating_add(c.cost.0);
            let n = elapsed.0 / period;
            let within = elapsed.0 - n * period;
            let worked = n
                .saturating_mul(c.interval.0)
                .saturating_add(within.min(c.interval.0));
            let saved = n.saturating_mul(c.interval.0);
            (
                SimDuration(worked.min(remaining.0)),
                SimDuration(saved.min(remaining.0)),
            )
        }
        _ => (SimDuration(elapsed.0.min(remaining.0)), SimDuration::ZERO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = 60_000_000;

    fn ck(i: u64, c: u64) -> Option<Checkpointing> {
        Some(Checkpointing {
            interval: SimDuration(i * M),
            cost: SimDuration(c * M),
        })
    }

    #[test]
    fn wall_time_adds_one_cost_per_intermediate_checkpoint() {
        // 100 min of work, checkpoint every 30 min costing 1 min: checkpoints at 30, 60, 90.
        assert_eq!(
            wall_time_for(SimDuration(100 * M), ck(30, 1)),
            SimDuration(103 * M)
        );
        // Exactly 90 min: checkpoints at 30 and 60 only.
        assert_eq!(
            wall_time_for(SimDuration(90 * M), ck(30, 1)),
            SimDuration(92 * M)
        );
        assert_eq!(
            wall_time_for(SimDuration(90 * M), None),
            SimDuration(90 * M)
        );
    }

    #[test]
    fn progress_counts_only_completed_checkpoints_as_saved() {
        // 75 min in: 2 periods of 31 min (62), then 13 min of work.
        let (worked, saved) = progress_after(SimDuration(75 * M), SimDuration(1000 * M), ck(30, 1));
        assert_eq!(worked, SimDuration(73 * M));
        assert_eq!(saved, SimDuration(60 * M));
        // During a checkpoint write (at 30.5 min) the checkpoint is not yet saved.
        let (worked, saved) = progress_after(
            SimDuration(30 * M + M / 2),
            SimDuration(1000 * M),
            ck(30, 1),
        );
        assert_eq!(worked, SimDuration(30 * M));
        assert_eq!(saved, SimDuration::ZERO);
    }
}
