//! Presence (docs/reference.md §9): who counts as present in a session.
//!
//! `--present THRESHOLD` is a duration (`0`, `90s`, `10m`, `1h30m`; units `ms`, `s`, `m`,
//! `h`) or a percentage of the session's `duration_ms` (`75%`, `62.5%`, at most 3 decimals).
//! A participant is present when `attended_ms > 0` and `attended_ms >= threshold`; a
//! percentage is compared exactly, in integers: `attended_ms * 100 >= pct * duration_ms`.
use std::fmt;

/// The presence threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Threshold {
    /// At least this many milliseconds.
    Duration(i64),
    /// At least this share of the session's duration, in thousandths of a percent
    /// (`62.5%` is 62,500), so that the comparison needs no floating point.
    Percent(u32),
    /// Any presence at all (`0`, the default).
    #[default]
    Any,
}

/// Thousandths of a percent in 100 %.
const WHOLE: u32 = 100_000;

impl Threshold {
    /// Whether a participant who attended `attended_ms` of a session lasting `duration_ms`
    /// is present.
    pub fn admits(self, attended_ms: i64, duration_ms: i64) -> bool {
        if attended_ms <= 0 {
            return false;
        }
        match self {
            Threshold::Any => true,
            Threshold::Duration(ms) => attended_ms >= ms,
            // attended * 100 >= (thousandths / 1000) * duration, scaled by 1000.
            Threshold::Percent(thousandths) => {
                i128::from(attended_ms) * i128::from(WHOLE)
                    >= i128::from(thousandths) * i128::from(duration_ms)
            }
        }
    }
}

impl std::str::FromStr for Threshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Threshold, String> {
        let text = text.trim();
        let threshold = match text.strip_suffix('%') {
            Some(number) => parse_percent(number).map(Threshold::Percent),
            None => parse_duration(text).map(|ms| match ms {
                0 => Threshold::Any,
                ms => Threshold::Duration(ms),
            }),
        };
        threshold.ok_or_else(|| {
            format!(
                "{text:?} is not a presence threshold: write a duration such as 0, 90s, 10m or \
                 1h30m (units ms, s, m, h), or a percentage of the session such as 75% or 62.5% \
                 (0 to 100, at most 3 decimals)"
            )
        })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Threshold::Any => f.write_str("0"),
            Threshold::Duration(ms) => write!(f, "{ms}ms"),
            Threshold::Percent(thousandths) => {
                let (whole, fraction) = (thousandths / 1000, thousandths % 1000);
                if fraction == 0 {
                    write!(f, "{whole}%")
                } else {
                    let digits = format!("{fraction:03}");
                    write!(f, "{whole}.{}%", digits.trim_end_matches('0'))
                }
            }
        }
    }
}

/// `75`, `62.5`, `0.125` as thousandths of a percent, at most 100 %.
fn parse_percent(text: &str) -> Option<u32> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 3 || fraction.len() > 3 {
        return None;
    }
    if !all_digits(whole) || !all_digits(fraction) || (text.contains('.') && fraction.is_empty()) {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let fraction: u32 = format!("{fraction:0<3}").parse().ok()?;
    let value = whole * 1000 + fraction;
    (value <= WHOLE).then_some(value)
}

/// `0`, `500ms`, `90s`, `10m`, `1h30m` as milliseconds: one or more `NUMBER UNIT` parts, the
/// units in decreasing order; a lone `0` needs no unit.
fn parse_duration(text: &str) -> Option<i64> {
    if text == "0" {
        return Some(0);
    }
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total: i64 = 0;
    let mut last_unit = u8::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return None;
        }
        let number: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit_ms, rank, len) = if rest.starts_with("ms") {
            (1, 0, 2)
        } else if rest.starts_with('s') {
            (1000, 1, 1)
        } else if rest.starts_with('m') {
            (60_000, 2, 1)
        } else if rest.starts_with('h') {
            (3_600_000, 3, 1)
        } else {
            return None;
        };
        if rank >= last_unit {
            return None;
        }
        last_unit = rank;
        rest = &rest[len..];
        total = total.checked_add(number.checked_mul(unit_ms)?)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Threshold, String> {
        text.parse()
    }

    #[test]
    fn durations_and_percentages_are_read_exactly() {
        assert_eq!(parse("0"), Ok(Threshold::Any));
        assert_eq!(parse("0s"), Ok(Threshold::Any));
        assert_eq!(parse("500ms"), Ok(Threshold::Duration(500)));
        assert_eq!(parse("90s"), Ok(Threshold::Duration(90_000)));
        assert_eq!(parse("10m"), Ok(Threshold::Duration(600_000)));
        assert_eq!(parse("1h30m"), Ok(Threshold::Duration(5_400_000)));
        assert_eq!(parse("75%"), Ok(Threshold::Percent(75_000)));
        assert_eq!(parse("62.5%"), Ok(Threshold::Percent(62_500)));
        assert_eq!(parse("0.125%"), Ok(Threshold::Percent(125)));
        assert_eq!(parse("100%"), Ok(Threshold::Percent(100_000)));
        for bad in [
            "",
            "10",
            "m",
            "1.5m",
            "30m1h",
            "10m10m",
            "101%",
            "62.5555%",
            "-5%",
            "5.%",
            "%",
            "1e3%",
            "10 m",
            "99999999999999h",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(Threshold::Percent(62_500).to_string(), "62.5%");
        assert_eq!(Threshold::Percent(75_000).to_string(), "75%");
    }

    #[test]
    fn presence_needs_some_attendance_and_the_threshold() {
        assert!(!Threshold::Any.admits(0, 100));
        assert!(Threshold::Any.admits(1, 100));
        assert!(Threshold::Duration(600_000).admits(600_000, 1));
        assert!(!Threshold::Duration(600_000).admits(599_999, 1));
        // 75 % of 3 ms is 2.25 ms: 2 is not enough, 3 is.
        assert!(!Threshold::Percent(75_000).admits(2, 3));
        assert!(Threshold::Percent(75_000).admits(3, 3));
        // Exactly at the threshold counts, one millisecond under does not: no rounding.
        assert!(Threshold::Percent(62_500).admits(625, 1000));
        assert!(!Threshold::Percent(62_500).admits(624, 1000));
        // 0 % still needs attendance; a session of no duration admits nobody with a share.
        assert!(Threshold::Percent(0).admits(1, 0));
        assert!(!Threshold::Percent(1).admits(0, 0));
        assert!(Threshold::Percent(100_000).admits(i64::MAX, i64::MAX));
    }
}
