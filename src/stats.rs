//! Means and confidence intervals over seeds.

use serde::Serialize;

/// Two-sided 95 % quantiles of Student's t distribution, t(0.975, df), for df = 1..=30.
const T_975: [f64; 30] = [
    12.706_205, 4.302_653, 3.182_446, 2.776_445, 2.570_582, 2.446_912, 2.364_624, 2.306_004,
    2.262_157, 2.228_139, 2.200_985, 2.178_813, 2.160_369, 2.144_787, 2.131_450, 2.119_905,
    2.109_816, 2.100_922, 2.093_024, 2.085_963, 2.079_614, 2.073_873, 2.068_658, 2.063_899,
    2.059_539, 2.055_529, 2.051_831, 2.048_407, 2.045_230, 2.042_272,
];

/// The normal quantile z(0.975), used for more than 30 degrees of freedom.
const Z_975: f64 = 1.959_964;

/// t(0.975, df): exact (to six decimals) for df 1..=30, the normal 1.96 above. `None` for
/// df = 0.
pub fn t_975(df: usize) -> Option<f64> {
    match df {
        0 => None,
        1..=30 => Some(T_975[df - 1]),
        _ => Some(Z_975),
    }
}

/// Mean and two-sided 95 % confidence interval of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator); 0 for n = 1.
    pub std_dev: f64,
    /// Half-width of the interval, t(0.975, n − 1) · s / √n; `None` for n < 2.
    pub half_width: Option<f64>,
}

impl Estimate {
    /// The estimate of `values` (which must not be empty; an empty slice gives n = 0 and a
    /// mean of 0).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        if n == 0 {
            return Estimate {
                n,
                mean: 0.0,
                std_dev: 0.0,
                half_width: None,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std_dev = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let half_width = t_975(n - 1).map(|t| t * std_dev / (n as f64).sqrt());
        Estimate {
            n,
            mean,
            std_dev,
            half_width,
        }
    }

    /// Lower end of the interval (`None` for n < 2).
    pub fn low(&self) -> Option<f64> {
        self.half_width.map(|h| self.mean - h)
    }

    /// Upper end of the interval (`None` for n < 2).
    pub fn high(&self) -> Option<f64> {
        self.half_width.map(|h| self.mean + h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_interval_of_one_to_five_matches_the_textbook() {
        // mean 3, s = sqrt(2.5) = 1.5811, t(0.975, 4) = 2.7764, half-width 1.9632.
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(e.n, 5);
        assert!((e.mean - 3.0).abs() < 1e-12);
        assert!((e.std_dev - 1.581_139).abs() < 1e-6);
        let h = e.half_width.expect("n > 1");
        assert!((h - 1.963_243).abs() < 1e-5, "{h}");
        assert!((e.low().expect("n > 1") - 1.036_757).abs() < 1e-5);
        assert!((e.high().expect("n > 1") - 4.963_243).abs() < 1e-5);
    }

    #[test]
    fn two_values_use_the_wide_t_quantile() {
        // s = 0.7071, t(0.975, 1) = 12.7062, half-width = 12.7062 * 0.7071 / 1.4142 = 6.3531.
        let e = Estimate::of(&[1.0, 2.0]);
        assert!((e.half_width.expect("n > 1") - 6.353_103).abs() < 1e-5);
    }

    #[test]
    fn one_value_has_no_interval_and_constant_values_a_zero_one() {
        let e = Estimate::of(&[7.0]);
        assert_eq!((e.mean, e.half_width), (7.0, None));
        assert_eq!(e.low(), None);
        let e = Estimate::of(&[2.0; 4]);
        assert_eq!(e.half_width, Some(0.0));
    }

    #[test]
    fn large_samples_use_the_normal_quantile() {
        assert_eq!(t_975(30), Some(2.042_272));
        assert_eq!(t_975(31), Some(1.959_964));
        assert_eq!(t_975(0), None);
        // 100 values 0, 1, 0, 1...: mean 0.5, s = 0.502519, half-width 1.96 * s / 10.
        let v: Vec<f64> = (0..100).map(|i| f64::from(i % 2)).collect();
        let e = Estimate::of(&v);
        assert!((e.half_width.expect("n > 1") - 0.098_492).abs() < 1e-5);
    }
}
