//! Timestamps (docs/reference.md §3): RFC 3339 in, integer milliseconds since the Unix epoch inside,
//! `YYYY-MM-DDTHH:MM:SS.mmmZ` out.
//!
//! The common layout (`2021-10-19T07:55:35.807Z`, any fraction length, `Z` or `±HH:MM`) is parsed
//! by hand without allocating; everything else RFC 3339 allows (lower-case `t`/`z`, a space as
//! separator, leap seconds) goes through chrono, so both paths accept the same language.

use std::cell::Cell;

/// A length of time for people: `1h 02m 3.004s`, `4m 0.000s`, `45.000s`.
pub fn describe_duration(ms: i64) -> String {
    let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms % 60_000);
    let seconds = format!("{}.{:03}s", s / 1000, s % 1000);
    match (h, m) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m {seconds}"),
        (h, m) => format!("{h}h {m:02}m {seconds}"),
    }
}

/// The UTC calendar day of an instant (the store's day folders and the generator's are named
/// after it, `2024-03-04`); `None` outside chrono's range.
pub fn utc_date(ms: Millis) -> Option<chrono::NaiveDate> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.date_naive())
}

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// Parses an RFC 3339 timestamp, truncating fractional digits beyond milliseconds.
/// Returns `None` for anything that is not a valid RFC 3339 date-time.
///
/// ```
/// use sessionstats::time::{parse_rfc3339, to_rfc3339};
/// let ms = parse_rfc3339("2021-10-19T13:25:35.807999+05:30").unwrap();
/// assert_eq!(to_rfc3339(ms), "2021-10-19T07:55:35.807Z");
/// assert_eq!(parse_rfc3339("2021-10-19 07:55"), None);
/// ```
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    parse_common_layout(text.as_bytes())
        .or_else(|| parse_with_chrono(text))
        .filter(|ms| (EARLIEST..=LATEST).contains(ms))
}

/// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the instants the report format can
/// write. An offset can push a valid RFC 3339 text outside them; such a text is unparsable.
pub const EARLIEST: Millis = -62_167_219_200_000;
pub const LATEST: Millis = 253_402_300_799_999;

fn parse_with_chrono(text: &str) -> Option<Millis> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    // Truncate (not round) to milliseconds, as the fixed-layout parser does.
    let seconds = parsed.timestamp();
    let millis = i64::from(parsed.timestamp_subsec_millis().min(999));
    seconds.checked_mul(1000)?.checked_add(millis)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with upper-case `T`/`Z` and seconds below 60.
fn parse_common_layout(b: &[u8]) -> Option<Millis> {
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let days = days_of_date(b[..10].try_into().ok()?)?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0;
    if let Some((b'.', fraction)) = rest.split_first() {
        let count = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        for (i, &c) in fraction[..3.min(count)].iter().enumerate() {
            millis += i64::from(c - b'0') * [100, 10, 1][i];
        }
        rest = &fraction[count..];
    }
    let offset_minutes = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = hours * 60 + minutes;
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

thread_local! {
    /// The date (`YYYY-MM-DD`) of the last timestamp this thread parsed and its day number: a
    /// session's timestamps mostly share their day, and checking and converting the date was
    /// about half the cost of a parse.
    static LAST_DATE: Cell<Option<([u8; 10], i64)>> = const { Cell::new(None) };
}

/// Days since 1970-01-01 of `YYYY-MM-DD` (its dashes already checked); `None` for a date that
/// does not exist. Only a valid date is remembered, so a hit needs no check.
fn days_of_date(date: &[u8; 10]) -> Option<i64> {
    if let Some((last, days)) = LAST_DATE.get() {
        if last == *date {
            return Some(days);
        }
    }
    let year = digits(&date[0..4])?;
    let month = digits(&date[5..7])?;
    let day = digits(&date[8..10])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    LAST_DATE.set(Some((*date, days)));
    Some(days)
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Length of a formatted timestamp: `2021-10-19T07:55:35.807Z`.
pub const FORMATTED_LEN: usize = 24;

/// `2021-10-19T07:55:35.807Z` as bytes, for years 0 to 9999 (`None` outside them).
pub fn millis_to_bytes(ms: Millis) -> Option<[u8; FORMATTED_LEN]> {
    TimeFormatter::default().format(ms)
}

/// Formats many timestamps, remembering the date part of the last day seen (report rows come
/// session by session, so most timestamps share their day with the previous one).
#[derive(Debug, Default)]
pub struct TimeFormatter {
    /// The last day formatted (days since the epoch) and its `YYYY-MM-DD`.
    last_day: Option<(i64, [u8; 10])>,
}

impl TimeFormatter {
    pub fn format(&mut self, ms: Millis) -> Option<[u8; FORMATTED_LEN]> {
        let date = self.date(ms.div_euclid(86_400_000))?;
        let in_day = ms.rem_euclid(86_400_000);
        let mut buf = *b"0000-00-00T00:00:00.000Z";
        buf[..10].copy_from_slice(&date);
        put_digits(&mut buf[11..13], in_day / 3_600_000);
        put_digits(&mut buf[14..16], in_day / 60_000 % 60);
        put_digits(&mut buf[17..19], in_day / 1000 % 60);
        put_digits(&mut buf[20..23], in_day % 1000);
        Some(buf)
    }

    /// `YYYY-MM-DD` of the day `days` after 1970-01-01; `None` outside the years 0 to 9999.
    pub fn date(&mut self, days: i64) -> Option<[u8; 10]> {
        match self.last_day {
            Some((day, date)) if day == days => Some(date),
            _ => {
                let (year, month, day) = civil_from_days(days);
                if !(0..=9999).contains(&year) {
                    return None;
                }
                let mut date = *b"0000-00-00";
                put_digits(&mut date[0..4], year);
                put_digits(&mut date[5..7], month);
                put_digits(&mut date[8..10], day);
                self.last_day = Some((days, date));
                Some(date)
            }
        }
    }
}

/// Writes `value` as decimal digits filling `out` (zero-padded on the left).
fn put_digits(out: &mut [u8], mut value: i64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Writes `2021-10-19T07:55:35.807Z` into `out`; years outside 0 to 9999 (which no session
/// has) are written in chrono's wider form.
pub fn format_millis(ms: Millis, out: &mut String) {
    match millis_to_bytes(ms) {
        Some(bytes) => out.push_str(std::str::from_utf8(&bytes).unwrap_or_default()),
        None => match chrono::DateTime::from_timestamp_millis(ms) {
            Some(t) => out.push_str(&t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
            None => out.push_str(&ms.to_string()),
        },
    }
}

/// [`format_millis`] into a new string.
pub fn to_rfc3339(ms: Millis) -> String {
    let mut s = String::with_capacity(FORMATTED_LEN);
    format_millis(ms, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_documented_example() {
        assert_eq!(
            parse_rfc3339("2021-10-19T07:55:35.807Z"),
            Some(1_634_630_135_807)
        );
    }

    #[test]
    fn fraction_lengths_from_zero_to_nine_truncate_to_millis() {
        let base = 1_634_630_135_000;
        assert_eq!(parse_rfc3339("2021-10-19T07:55:35Z"), Some(base));
        assert_eq!(parse_rfc3339("2021-10-19T07:55:35.8Z"), Some(base + 800));
        assert_eq!(parse_rfc3339("2021-10-19T07:55:35.80Z"), Some(base + 800));
        assert_eq!(
            parse_rfc3339("2021-10-19T07:55:35.807999999Z"),
            Some(base + 807)
        );
        assert_eq!(
            parse_rfc3339("2021-10-19T07:55:35.8079999999Z"),
            Some(base + 807)
        );
        assert_eq!(parse_rfc3339("2021-10-19T07:55:35.Z"), None);
    }

    #[test]
    fn offsets_shift_to_utc() {
        let utc = parse_rfc3339("2021-10-19T07:55:35.807Z");
        assert_eq!(parse_rfc3339("2021-10-19T13:25:35.807+05:30"), utc);
        assert_eq!(parse_rfc3339("2021-10-19T02:55:35.807-05:00"), utc);
        assert_eq!(parse_rfc3339("2021-10-19T07:55:35.807+00:00"), utc);
    }

    #[test]
    fn other_rfc3339_forms_go_through_chrono() {
        let utc = parse_rfc3339("2021-10-19T07:55:35.807Z");
        assert_eq!(parse_rfc3339("2021-10-19t07:55:35.807z"), utc);
        assert_eq!(parse_rfc3339("2021-10-19 07:55:35.807Z"), utc);
    }

    #[test]
    fn rejects_what_is_not_a_date_time() {
        for bad in [
            "",
            "yesterday",
            "2021-10-19",
            "2021-10-19T07:55:35",
            "2021-13-19T07:55:35Z",
            "2021-02-29T07:55:35Z",
            "2021-10-19T24:00:00Z",
            "2021-10-19T07:55:35+5:30",
            "2021-10-19T07:55:35.807Zjunk",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn the_remembered_day_is_only_used_for_the_same_day() {
        let mut formatter = TimeFormatter::default();
        let bytes =
            |b: Option<[u8; FORMATTED_LEN]>| String::from_utf8(b.unwrap().to_vec()).unwrap();
        assert_eq!(
            bytes(formatter.format(1_634_630_135_807)),
            "2021-10-19T07:55:35.807Z"
        );
        assert_eq!(
            bytes(formatter.format(1_634_630_135_807 + 86_400_000)),
            "2021-10-20T07:55:35.807Z"
        );
        assert_eq!(bytes(formatter.format(-1)), "1969-12-31T23:59:59.999Z");
        assert_eq!(formatter.format(300_000_000_000_000), None);
    }

    #[test]
    fn a_remembered_date_is_only_used_for_the_same_date() {
        let feb_28 = parse_rfc3339("2021-02-28T10:00:00Z").unwrap();
        assert_eq!(parse_rfc3339("2021-02-28T10:00:01Z"), Some(feb_28 + 1000));
        assert_eq!(parse_rfc3339("2021-02-29T10:00:00Z"), None);
        assert_eq!(parse_rfc3339("2021-02-29T10:00:00Z"), None);
        assert_eq!(parse_rfc3339("2021-02-28T24:00:00Z"), None);
        assert_eq!(
            parse_rfc3339("2020-02-29T10:00:00Z"),
            Some(feb_28 - 365 * 86_400_000)
        );
        assert_eq!(parse_rfc3339("2021-02-28T10:00:00Z"), Some(feb_28));
    }

    #[test]
    fn only_instants_the_reports_can_write_are_parsed() {
        assert_eq!(parse_rfc3339("0000-01-01T00:00:00Z"), Some(EARLIEST));
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59.999Z"), Some(LATEST));
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59.999-23:59"), None);
        assert_eq!(parse_rfc3339("0000-01-01T00:00:00+23:59"), None);
        assert_eq!(to_rfc3339(EARLIEST), "0000-01-01T00:00:00.000Z");
        assert_eq!(to_rfc3339(LATEST), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn formats_with_three_fraction_digits() {
        assert_eq!(to_rfc3339(1_634_630_135_807), "2021-10-19T07:55:35.807Z");
        assert_eq!(to_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(to_rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    proptest! {
        /// One formatter for instants near one another (the same day or not), as report rows
        /// come: each written as chrono writes it.
        #[test]
        fn a_formatter_writes_each_instant_as_chrono_does(
            start in -62_000_000_000_000i64..253_000_000_000_000i64,
            steps in prop::collection::vec(
                prop_oneof![-1_000i64..1_000, -120_000i64..120_000, -200_000_000i64..200_000_000],
                1..40,
            ),
        ) {
            let mut formatter = TimeFormatter::default();
            let mut ms = start;
            for step in steps {
                ms = (ms + step).clamp(EARLIEST, LATEST);
                let chrono = chrono::DateTime::from_timestamp_millis(ms).unwrap();
                let written = formatter.format(ms).unwrap();
                prop_assert_eq!(
                    std::str::from_utf8(&written).unwrap(),
                    chrono.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
                );
            }
        }

        #[test]
        fn format_then_parse_is_identity(ms in -62_000_000_000_000i64..253_000_000_000_000i64) {
            prop_assert_eq!(parse_rfc3339(&to_rfc3339(ms)), Some(ms));
        }

        /// Timestamps parsed one after another, the second of the same day or of a date
        /// one digit away (which may not exist): the remembered date is never taken for
        /// another one.
        #[test]
        fn timestamps_parsed_in_turn_agree_with_chrono(
            ms in 0i64..4_102_444_800_000i64,
            step in -200_000_000i64..200_000_000,
            at in 0usize..10,
            digit in b'0'..=b'9',
        ) {
            let first = to_rfc3339(ms);
            let mut second = to_rfc3339(ms + step).into_bytes();
            if at != 4 && at != 7 {
                second[at] = digit;
            }
            let second = String::from_utf8(second).unwrap();
            for text in [&first, &second, &first, &second] {
                prop_assert_eq!(parse_common_layout(text.as_bytes()), parse_with_chrono(text));
            }
        }

        #[test]
        fn fast_path_agrees_with_chrono(
            ms in 0i64..4_102_444_800_000i64,
            nanos in 0u32..1_000_000_000,
            digits in 0usize..=9,
            offset in -1439i32..=1439,
        ) {
            let zone = chrono::FixedOffset::east_opt(offset * 60).unwrap();
            let t = chrono::DateTime::from_timestamp_millis(ms).unwrap().with_timezone(&zone);
            let mut text = t.format("%Y-%m-%dT%H:%M:%S").to_string();
            if digits > 0 {
                let fraction = format!("{nanos:09}");
                text.push('.');
                text.push_str(&fraction[..digits]);
            }
            text.push_str(&t.format("%:z").to_string());
            prop_assert_eq!(parse_common_layout(text.as_bytes()), parse_with_chrono(&text));
        }
    }
}
