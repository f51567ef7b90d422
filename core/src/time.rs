//! Virtual time: integer microseconds, never floating point (a clock needs a total order).

use serde::{Deserialize, Serialize};

/// Microseconds in one second.
pub const MICROS_PER_SEC: u64 = 1_000_000;

/// A point in virtual time, in microseconds since the start of the run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct SimTime(pub u64);

/// A span of virtual time in microseconds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of the run.
    pub const ZERO: SimTime = SimTime(0);
    /// The end of time (used as "never").
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Seconds since the start, as a float (for reports only).
    pub fn as_secs_f64(&self) -> f64 {
        self.0 as f64 / MICROS_PER_SEC as f64
    }

    /// `self + d`, saturating at [`SimTime::MAX`].
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }

    /// Time elapsed since `earlier` (0 if `earlier` is later).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// Zero length.
    pub const ZERO: SimDuration = SimDuration(0);

    /// `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * MICROS_PER_SEC)
    }

    /// `m` minutes.
    pub const fn from_mins(m: u64) -> Self {
        SimDuration(m * 60 * MICROS_PER_SEC)
    }

    /// `h` hours.
    pub const fn from_hours(h: u64) -> Self {
        SimDuration(h * 3600 * MICROS_PER_SEC)
    }

    /// From a float number of seconds, rounded to the nearest microsecond; negative and NaN
    /// give zero, huge values saturate.
    pub fn from_secs_f64(s: f64) -> Self {
        if s.is_nan() || s <= 0.0 {
            return SimDuration::ZERO;
        }
        let us = (s * MICROS_PER_SEC as f64).round();
        if us >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(us as u64)
        }
    }

    /// Length in seconds, as a float (for reports and distributions).
    pub fn as_secs_f64(&self) -> f64 {
        self.0 as f64 / MICROS_PER_SEC as f64
    }

    /// Length in hours, as a float.
    pub fn as_hours_f64(&self) -> f64 {
        self.as_secs_f64() / 3600.0
    }
}

impl std::ops::Add<SimDuration> for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

impl std::fmt::Display for SimDuration {
    /// Formats as `1h2m3s`, `3h0m30s`, `5m`, `90s`, `250ms` or `0s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = self.0;
        if us == 0 {
            return write!(f, "0s");
        }
        if us < MICROS_PER_SEC {
            return if us.is_multiple_of(1000) {
                write!(f, "{}ms", us / 1000)
            } else {
                write!(f, "{us}us")
            };
        }
        let secs = us / MICROS_PER_SEC;
        let parts = [
            (secs / 86400, "d"),
            (secs / 3600 % 24, "h"),
            (secs / 60 % 60, "m"),
            (secs % 60, "s"),
        ];
        // From the largest non-zero unit down to the smallest non-zero one, zeros in between
        // included, so `3h0m30s` cannot be read as `3h30m`.
        let first = parts.iter().position(|p| p.0 > 0).unwrap_or(3);
        let last = parts.iter().rposition(|p| p.0 > 0).unwrap_or(3);
        let mut out = String::new();
        for (v, unit) in &parts[first..=last] {
            out.push_str(&format!("{v}{unit}"));
        }
        write!(f, "{out}")
    }
}

impl std::fmt::Display for SimTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "t+{}", SimDuration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_keeps_zero_units_between_non_zero_ones() {
        assert_eq!(SimDuration::from_secs(3 * 3600 + 30).to_string(), "3h0m30s");
        assert_eq!(
            SimDuration::from_secs(3 * 3600 + 30 * 60).to_string(),
            "3h30m"
        );
        assert_eq!(SimDuration::from_secs(90).to_string(), "1m30s");
        assert_eq!(SimDuration::from_secs(86_400 + 5).to_string(), "1d0h0m5s");
        assert_eq!(SimDuration(250_000).to_string(), "250ms");
        assert_eq!(SimDuration::ZERO.to_string(), "0s");
    }
}
