//! Parsers for the human notations used in scenario files: durations (`90s`, `1h30m`) and
//! Kubernetes quantities (`500m`, `2.5` CPUs; `16Gi`, `1G` memory). All arithmetic is exact
//! integer arithmetic on the decimal text; no floating point is involved.

use drydock_core::SimDuration;
use drydock_core::time::MICROS_PER_SEC;

/// The hint shown with every duration error.
pub(crate) const DURATION_HINT: &str = "expected a duration like 90s, 5m or 2h: a number and a \
     unit (us, ms, s, m, h, d), combinable as 1h30m; a plain integer means seconds";
/// The hint shown with every CPU quantity error.
pub(crate) const CPU_HINT: &str =
    "expected CPU in cores (\"2\", \"2.5\") or millicores (\"500m\"), as Kubernetes writes it";
/// The hint shown with every memory quantity error.
pub(crate) const MEMORY_HINT: &str = "expected memory like 512Mi, 16Gi or 1Ti (binary: Ki, Mi, \
     Gi, Ti, Pi, Ei) or 1G (decimal: k, M, G, T, P, E); a plain integer means bytes";

/// A non-negative decimal number split into its integer and fractional digits.
#[derive(Debug, Clone, Copy)]
struct Decimal {
    int: u128,
    frac: u128,
    frac_len: u32,
}

impl Decimal {
    /// Parses `digits[.digits]` (or `.digits`); `None` for anything else or more than 30
    /// significant digits on either side.
    fn parse(s: &str) -> Option<Decimal> {
        let (int_s, frac_s) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if int_s.is_empty() && frac_s.is_empty() {
            return None;
        }
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int_s) || !all_digits(frac_s) {
            return None;
        }
        let int_s = int_s.trim_start_matches('0');
        let frac_s = frac_s.trim_end_matches('0');
        if int_s.len() > 30 || frac_s.len() > 30 {
            return None;
        }
        let int = if int_s.is_empty() {
            0
        } else {
            int_s.parse().ok()?
        };
        let frac = if frac_s.is_empty() {
            0
        } else {
            frac_s.parse().ok()?
        };
        Some(Decimal {
            int,
            frac,
            frac_len: frac_s.len() as u32,
        })
    }

    /// `self × mult`, rounding a fractional result up (`ceil`) or down.
    fn scale(self, mult: u128, round_up: bool) -> Option<u128> {
        let whole = self.int.checked_mul(mult)?;
        let denom = 10u128.checked_pow(self.frac_len)?;
        let num = self.frac.checked_mul(mult)?;
        let part = if round_up {
            num.div_ceil(denom)
        } else {
            num / denom
        };
        whole.checked_add(part)
    }
}

/// Splits `s` at the first character that is not part of a decimal number.
fn split_number(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s.split_at(end)
}

/// Parses a duration: a sequence of `<number><unit>` parts with units `us` (or `µs`), `ms`, `s`,
/// `m`, `h` and `d` (`90s`, `5m`, `1h30m`, `1.5h`, `250ms`), or a plain number of seconds
/// (`90`). Results finer than a microsecond are truncated.
///
/// ```
/// use drydock_core::SimDuration;
/// use drydock_scenarios::parse_duration;
/// assert_eq!(parse_duration("1h30m"), Ok(SimDuration::from_mins(90)));
/// assert_eq!(parse_duration("90"), Ok(SimDuration::from_secs(90)));
/// assert!(parse_duration("-5m").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let s = text.trim();
    let bad = || format!("`{text}` is not a duration; expected a duration like 90s, 5m or 2h");
    if s.is_empty() {
        return Err("empty duration; expected a duration like 90s, 5m or 2h".to_string());
    }
    if s.starts_with('-') {
        return Err(format!(
            "`{text}` is negative; durations must be zero or more"
        ));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    // Spaces between parts are allowed (`1h 30m`).
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let s = compact.as_str();
    // A plain number means seconds.
    if let Some(d) = Decimal::parse(s) {
        let us = d
            .scale(u128::from(MICROS_PER_SEC), false)
            .ok_or_else(|| too_long(text))?;
        return u64::try_from(us)
            .map(SimDuration)
            .map_err(|_| too_long(text));
    }
    let mut rest = s;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (num, after) = split_number(rest);
        let value = Decimal::parse(num).ok_or_else(bad)?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let mult: u128 = match unit {
            "us" | "µs" | "μs" => 1,
            "ms" => 1_000,
            "s" => 1_000_000,
            "m" => 60_000_000,
            "h" => 3_600_000_000,
            "d" => 86_400_000_000,
            "" => {
                return Err(format!(
                    "`{text}`: missing unit after `{num}`; {}",
                    unit_list()
                ));
            }
            other => {
                return Err(format!(
                    "`{text}`: unknown duration unit `{other}`; {}",
                    unit_list()
                ));
            }
        };
        let part = value.scale(mult, false).ok_or_else(|| too_long(text))?;
        total = total.checked_add(part).ok_or_else(|| too_long(text))?;
        rest = next;
    }
    u64::try_from(total)
        .map(SimDuration)
        .map_err(|_| too_long(text))
}

fn unit_list() -> &'static str {
    "units are us, ms, s, m, h and d (for example 90s, 5m, 2h, 1h30m)"
}

fn too_long(text: &str) -> String {
    format!("`{text}` is too long (durations are limited to about 584,000 years)")
}

/// Parses a Kubernetes CPU quantity into millicores: cores (`"96"`, `"2.5"`, `"0.1"`) or
/// millicores (`"500m"`). Fractions of a millicore round up, as the API server does.
///
/// ```
/// use drydock_scenarios::parse_cpu;
/// assert_eq!(parse_cpu("2.5"), Ok(2500));
/// assert_eq!(parse_cpu("500m"), Ok(500));
/// assert!(parse_cpu("2 cores").is_err());
/// ```
pub fn parse_cpu(text: &str) -> Result<u64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err(
            "empty CPU quantity; expected cores like \"2\" or millicores like \"500m\"".into(),
        );
    }
    if s.starts_with('-') {
        return Err(format!("`{text}` is negative; CPU must be zero or more"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let (num, suffix) = split_number(s);
    let suffix = suffix.trim();
    let mult: u128 = match suffix {
        "" => 1000,
        "m" => 1,
        "k" => 1_000_000,
        _ => {
            return Err(format!(
                "`{text}` is not a CPU quantity: unknown suffix `{suffix}`; expected cores like \
                 \"2\" or millicores like \"500m\""
            ));
        }
    };
    let value = Decimal::parse(num).ok_or_else(|| {
        format!(
            "`{text}` is not a CPU quantity; expected cores like \"2\" or millicores like \"500m\""
        )
    })?;
    let milli = value
        .scale(mult, true)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    u64::try_from(milli).map_err(|_| format!("`{text}` is too large"))
}

/// Parses a Kubernetes memory quantity into MiB, rounding up to a whole MiB: binary suffixes
/// `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`, decimal suffixes `k`, `M`, `G`, `T`, `P`, `E`, or plain
/// bytes. Decimal fractions are allowed (`1.5Gi`).
///
/// ```
/// use drydock_scenarios::parse_memory_mib;
/// assert_eq!(parse_memory_mib("16Gi"), Ok(16 * 1024));
/// assert_eq!(parse_memory_mib("1G"), Ok(954)); // 10^9 bytes, rounded up
/// assert!(parse_memory_mib("512MB").is_err());
/// ```
pub fn parse_memory_mib(text: &str) -> Result<u64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty memory quantity; expected something like 512Mi or 16Gi".into());
    }
    if s.starts_with('-') {
        return Err(format!("`{text}` is negative; memory must be zero or more"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let (num, suffix) = split_number(s);
    let suffix = suffix.trim();
    const KI: u128 = 1 << 10;
    let mult: u128 = match suffix {
        "" => 1,
        "Ki" => KI,
        "Mi" => KI.pow(2),
        "Gi" => KI.pow(3),
        "Ti" => KI.pow(4),
        "Pi" => KI.pow(5),
        "Ei" => KI.pow(6),
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        "m" => {
            return Err(format!(
                "`{text}`: suffix `m` means milli (thousandths of a byte); did you mean `{num}Mi`?"
            ));
        }
        _ => {
            let guess = match suffix {
                "K" | "KB" | "KiB" => Some("Ki"),
                "MB" | "MiB" => Some("Mi"),
                "GB" | "GiB" | "g" | "gi" => Some("Gi"),
                "TB" | "TiB" => Some("Ti"),
                _ => None,
            };
            let mut msg = format!("`{text}` is not a memory quantity: unknown suffix `{suffix}`");
            if let Some(g) = guess {
                msg.push_str(&format!("; did you mean `{num}{g}`?"));
            }
            return Err(msg);
        }
    };
    let value = Decimal::parse(num).ok_or_else(|| {
        format!("`{text}` is not a memory quantity; expected something like 512Mi or 16Gi")
    })?;
    let bytes = value
        .scale(mult, true)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    let mib = bytes.div_ceil(KI.pow(2));
    u64::try_from(mib).map_err(|_| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_units_and_combinations() {
        let cases = [
            ("90s", 90_000_000),
            ("5m", 300_000_000),
            ("2h", 7_200_000_000),
            ("1d", 86_400_000_000),
            ("250ms", 250_000),
            ("1h30m", 5_400_000_000),
            ("1.5h", 5_400_000_000),
            ("90", 90_000_000),
            ("0", 0),
            ("0s", 0),
            ("10us", 10),
            ("1m30s", 90_000_000),
            (" 30d ", 2_592_000_000_000),
            ("2.5", 2_500_000),
            ("1h 30m", 5_400_000_000),
            ("1h 30m", 5_400_000_000),
        ];
        for (text, us) in cases {
            assert_eq!(parse_duration(text), Ok(SimDuration(us)), "{text}");
        }
    }

    #[test]
    fn durations_reject_garbage_with_hint() {
        for text in [
            "",
            "-5m",
            "abc",
            "5x",
            "1h30",
            "h",
            "1..5s",
            "5 hours",
            "1e3s",
            "99999999999999d",
        ] {
            let e = parse_duration(text);
            assert!(e.is_err(), "{text} parsed as {e:?}");
        }
        assert!(
            parse_duration("-5m")
                .expect_err("must fail")
                .contains("negative")
        );
        assert!(
            parse_duration("5x")
                .expect_err("must fail")
                .contains("unknown duration unit `x`")
        );
    }

    #[test]
    fn cpu_parses_cores_and_millicores() {
        assert_eq!(parse_cpu("96"), Ok(96_000));
        assert_eq!(parse_cpu("500m"), Ok(500));
        assert_eq!(parse_cpu("2.5"), Ok(2_500));
        assert_eq!(parse_cpu("0.0001"), Ok(1));
        assert_eq!(parse_cpu("0"), Ok(0));
        for bad in [
            "",
            "-1",
            "2 cores",
            "1Gi",
            "m",
            "1.2.3",
            "99999999999999999999999999",
        ] {
            assert!(parse_cpu(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn memory_parses_binary_decimal_and_bytes() {
        assert_eq!(parse_memory_mib("16Gi"), Ok(16_384));
        assert_eq!(parse_memory_mib("512Mi"), Ok(512));
        assert_eq!(parse_memory_mib("1Ti"), Ok(1_048_576));
        assert_eq!(parse_memory_mib("1G"), Ok(954));
        assert_eq!(parse_memory_mib("1048576"), Ok(1));
        assert_eq!(parse_memory_mib("1"), Ok(1));
        assert_eq!(parse_memory_mib("0"), Ok(0));
        assert_eq!(parse_memory_mib("1.5Gi"), Ok(1_536));
        assert_eq!(parse_memory_mib("1024Ki"), Ok(1));
        assert!(
            parse_memory_mib("512m")
                .expect_err("must fail")
                .contains("512Mi")
        );
        assert!(
            parse_memory_mib("16GB")
                .expect_err("must fail")
                .contains("16Gi")
        );
        for bad in ["", "-1Gi", "lots", "1Zi", "Gi"] {
            assert!(parse_memory_mib(bad).is_err(), "{bad}");
        }
    }
}
