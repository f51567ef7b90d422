//! Sampling of duration distributions from a seeded stream.

use drydock_core::SimDuration;
use drydock_core::rng::unit_f64;
use drydock_scenarios::DurationDist;
use rand_core::Rng;

/// z-score of the 95th percentile of the standard normal distribution.
const Z95: f64 = 1.644_853_626_951_472_2;

/// An exponential variate with mean `mean_s` seconds (inverse transform).
pub fn exponential_secs(rng: &mut dyn Rng, mean_s: f64) -> f64 {
    // 1 - u is in (0, 1], so ln is finite.
    -mean_s * (1.0 - unit_f64(rng)).ln()
}

/// A standard normal variate (Box–Muller, one of the pair).
pub fn standard_normal(rng: &mut dyn Rng) -> f64 {
    let u1 = 1.0 - unit_f64(rng);
    let u2 = unit_f64(rng);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Draws one duration from `dist`.
pub fn sample(dist: &DurationDist, rng: &mut dyn Rng) -> SimDuration {
    match dist {
        DurationDist::Fixed { value } => *value,
        DurationDist::Exponential { mean } => {
            SimDuration::from_secs_f64(exponential_secs(rng, mean.as_secs_f64()))
        }
        DurationDist::Uniform { min, max } => {
            let span = max.0.saturating_sub(min.0);
            SimDuration(min.0 + (unit_f64(rng) * span as f64) as u64)
        }
        DurationDist::LogNormal { median, p95 } => {
            let mu = median.as_secs_f64().max(1e-6).ln();
            let sigma = ((p95.as_secs_f64().max(1e-6)).ln() - mu).max(0.0) / Z95;
            SimDuration::from_secs_f64((mu + sigma * standard_normal(rng)).exp())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    #[test]
    fn lognormal_median_and_p95_are_reproduced() {
        let d = DurationDist::LogNormal {
            median: SimDuration::from_hours(2),
            p95: SimDuration::from_hours(8),
        };
        let mut rng = stream(7, "test");
        let mut v: Vec<u64> = (0..20_000).map(|_| sample(&d, &mut rng).0).collect();
        v.sort_unstable();
        let med = SimDuration(v[v.len() / 2]).as_hours_f64();
        let p95 = SimDuration(v[v.len() * 95 / 100]).as_hours_f64();
        assert!((med - 2.0).abs() < 0.1, "median {med}");
        assert!((p95 - 8.0).abs() < 0.5, "p95 {p95}");
    }

    #[test]
    fn exponential_mean_is_reproduced() {
        let mut rng = stream(7, "exp");
        let n = 50_000;
        let mean: f64 = (0..n)
            .map(|_| exponential_secs(&mut rng, 100.0))
            .sum::<f64>()
            / n as f64;
        assert!((mean - 100.0).abs() < 2.0, "mean {mean}");
    }
}
