//! Scenario time on the wall clock: [`Clock`] maps the scenario's virtual time (integer
//! microseconds, [`SimTime`]) to wall time running `N` times faster (`--time-scale N`).
//!
//! [`ScaledClock`] reads `tokio::time`, so tests pause and advance it
//! (`tokio::time::pause()`), as kube-runtime's scheduler tests do.

use std::time::Duration;

use drydock_core::{SimDuration, SimTime};

/// Scenario time for the real-cluster driver and the fake kubelet.
pub trait Clock: Send + Sync + 'static {
    /// Scenario time now, in microseconds since the run started.
    fn now(&self) -> SimTime;
    /// The wall-clock length of scenario duration `d` (`d / N`).
    fn wall(&self, d: SimDuration) -> Duration;
    /// Sleeps until scenario time `t` (returns at once when it has passed).
    fn sleep_until(&self, t: SimTime) -> impl std::future::Future<Output = ()> + Send;
}

/// Error of [`TimeScale::new`]: the factor is not a finite number above zero.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--time-scale must be a number between 0.001 and 1000000 (got {0})")]
pub struct BadTimeScale(pub f64);

/// How many times faster than scenario time the wall clock runs (`--time-scale N`): scenario
/// time `t` happens `t / N` after the start. At least 1e-3, at most 1e6.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeScale(f64);

impl TimeScale {
    /// Real time (N = 1).
    pub const REAL_TIME: TimeScale = TimeScale(1.0);

    /// A time scale of `n`.
    ///
    /// # Errors
    /// [`BadTimeScale`] unless `n` is finite and within `[1e-3, 1e6]`.
    pub fn new(n: f64) -> Result<Self, BadTimeScale> {
        if n.is_finite() && (1e-3..=1e6).contains(&n) {
            Ok(TimeScale(n))
        } else {
            Err(BadTimeScale(n))
        }
    }

    /// The factor N.
    pub fn factor(&self) -> f64 {
        self.0
    }

    /// Wall duration of scenario duration `d`: `d / N`.
    pub fn wall(&self, d: SimDuration) -> Duration {
        Duration::from_secs_f64(d.as_secs_f64() / self.0)
    }

    /// Scenario duration of wall duration `w`: `w × N`, in whole microseconds.
    pub fn scenario(&self, w: Duration) -> SimDuration {
        SimDuration((w.as_secs_f64() * self.0 * 1e6) as u64)
    }

    /// `d / N` in whole seconds, rounded up, at least `min` (for Kubernetes fields counted in
    /// seconds: `tolerationSeconds`, `terminationGracePeriodSeconds`).
    pub fn wall_secs_ceil(&self, d: SimDuration, min: i64) -> i64 {
        (self.wall(d).as_secs_f64().ceil() as i64).max(min)
    }
}

/// The wall clock (tokio's, so pausable in tests) running `N` times faster than scenario time,
/// from the instant it is created.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    start: tokio::time::Instant,
    scale: TimeScale,
}

impl ScaledClock {
    /// A clock at scenario time 0 now.
    pub fn start(scale: TimeScale) -> Self {
        ScaledClock {
            start: tokio::time::Instant::now(),
            scale,
        }
    }

    /// The time scale.
    pub fn scale(&self) -> TimeScale {
        self.scale
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> SimTime {
        SimTime(self.scale.scenario(self.start.elapsed()).0)
    }

    fn wall(&self, d: SimDuration) -> Duration {
        self.scale.wall(d)
    }

    fn sleep_until(&self, t: SimTime) -> impl std::future::Future<Output = ()> + Send {
        let at = self.start + self.scale.wall(SimDuration(t.0));
        tokio::time::sleep_until(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_scale_rejects_nonsense() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-9, 1e9] {
            assert!(TimeScale::new(bad).is_err(), "{bad}");
        }
        assert_eq!(TimeScale::new(60.0).map(|s| s.factor()), Ok(60.0));
    }

    #[test]
    fn wall_and_scenario_durations_are_inverse() {
        let s = TimeScale::new(60.0).expect("valid");
        assert_eq!(s.wall(SimDuration::from_mins(5)), Duration::from_secs(5));
        assert_eq!(
            s.scenario(Duration::from_secs(2)),
            SimDuration::from_mins(2)
        );
        // 300 s of toleration at 60x is 5 s; 30 s of grace is 0.5 s, rounded up to 1.
        assert_eq!(s.wall_secs_ceil(SimDuration::from_secs(300), 0), 5);
        assert_eq!(s.wall_secs_ceil(SimDuration::from_secs(30), 0), 1);
        assert_eq!(s.wall_secs_ceil(SimDuration::ZERO, 1), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn scaled_clock_follows_paused_tokio_time() {
        let c = ScaledClock::start(TimeScale::new(60.0).expect("valid"));
        assert_eq!(c.now(), SimTime::ZERO);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(c.now(), SimTime(SimDuration::from_secs(60).0));
        c.sleep_until(SimTime(SimDuration::from_mins(3).0)).await;
        assert_eq!(c.now(), SimTime(SimDuration::from_mins(3).0));
        // In the past: returns at once.
        c.sleep_until(SimTime::ZERO).await;
        assert_eq!(c.now(), SimTime(SimDuration::from_mins(3).0));
    }
}
