//! Local calendar periods (docs/reference.md §10): a day, an ISO week
//! (Monday to Sunday) or a month in the zone of `--tz`.
//!
//! A period runs from the local midnight that starts its first day to the local midnight that
//! starts the next period, so a DST day lasts 23 or 25 hours. Where a zone skips midnight, the
//! day starts when the clock jumps; where midnight happens twice, at the first. A period is
//! named by the local date of its first day.
use crate::time::Millis;
use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// How long a period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeriodKind {
    #[default]
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    Month,
}

impl std::str::FromStr for PeriodKind {
    type Err = String;
    fn from_str(text: &str) -> Result<PeriodKind, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "day" => Ok(PeriodKind::Day),
            "week" => Ok(PeriodKind::Week),
            "month" => Ok(PeriodKind::Month),
            _ => Err(format!("--period {text:?}: use day, week or month")),
        }
    }
}

impl PeriodKind {
    pub fn name(self) -> &'static str {
        match self {
            PeriodKind::Day => "day",
            PeriodKind::Week => "week",
            PeriodKind::Month => "month",
        }
    }
}

/// Periods of one kind in one zone.
#[derive(Debug, Clone, Copy)]
pub struct Calendar {
    pub zone: Tz,
    pub kind: PeriodKind,
}

impl Calendar {
    /// the default: days in UTC.
    pub const UTC_DAYS: Calendar = Calendar {
        zone: Tz::UTC,
        kind: PeriodKind::Day,
    };
}

/// Reads an IANA zone name (`Asia/Kolkata`, `UTC`); the zone database is compiled in.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        format!(
            "--tz {name:?} is not a time zone: use an IANA name such as UTC, Europe/Berlin, \
             America/New_York or Asia/Kolkata"
        )
    })
}

impl Calendar {
    /// The instant at which the local day `date` starts: its local midnight; the moment the
    /// clock jumps when midnight is skipped; the first of two midnights.
    pub fn day_start(&self, date: NaiveDate) -> Millis {
        let midnight = date.and_time(NaiveTime::MIN);
        match self.zone.from_local_datetime(&midnight) {
            LocalResult::Single(t) => t.timestamp_millis(),
            LocalResult::Ambiguous(first, _) => first.timestamp_millis(),
            LocalResult::None => self.first_instant_after(midnight),
        }
    }

    /// The earliest instant whose local time is at or after `local` (inside a gap: the end of
    /// the gap, which is when the clock jumped). Gaps last at most a few hours and end on a
    /// whole second.
    fn first_instant_after(&self, local: NaiveDateTime) -> Millis {
        let exists = |at: NaiveDateTime| self.zone.from_local_datetime(&at).earliest();
        // Whole minutes first, then back second by second within the last minute.
        for minute in 1..=24 * 60 {
            let at = local + Duration::minutes(minute);
            if exists(at).is_some() {
                let mut first = at;
                for second in 1..60 {
                    let earlier = at - Duration::seconds(second);
                    if exists(earlier).is_none() {
                        break;
                    }
                    first = earlier;
                }
                if let Some(t) = exists(first) {
                    return t.timestamp_millis();
                }
            }
        }
        // No zone skips a whole day at midnight; read the wall time as UTC rather than fail.
        local.and_utc().timestamp_millis()
    }

    /// The first day of the period that holds the local date `date`.
    pub fn first_day(&self, date: NaiveDate) -> NaiveDate {
        match self.kind {
            PeriodKind::Day => date,
            PeriodKind::Week => {
                date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
            }
            PeriodKind::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The first day of the period after the one starting on `first`.
    pub fn next(&self, first: NaiveDate) -> NaiveDate {
        match self.kind {
            PeriodKind::Day => first + Duration::days(1),
            PeriodKind::Week => first + Duration::days(7),
            PeriodKind::Month => {
                let (year, month) = match first.month() {
                    12 => (first.year() + 1, 1),
                    m => (first.year(), m + 1),
                };
                NaiveDate::from_ymd_opt(year, month, 1)
                    .unwrap_or_else(|| first + Duration::days(31))
            }
        }
    }

    /// The first day of the period before the one starting on `first`.
    fn previous(&self, first: NaiveDate) -> NaiveDate {
        self.first_day(first - Duration::days(1))
    }

    /// The instants `[start, end)` of the period starting on `first`.
    pub fn bounds(&self, first: NaiveDate) -> (Millis, Millis) {
        (self.day_start(first), self.day_start(self.next(first)))
    }

    /// The period (its first day) that contains the instant `at`.
    pub fn period_of(&self, at: Millis) -> NaiveDate {
        let local = match self.zone.timestamp_millis_opt(at) {
            LocalResult::Single(t) => t.date_naive(),
            _ => chrono::DateTime::from_timestamp_millis(at)
                .map(|t| t.date_naive())
                .unwrap_or_default(),
        };
        // The local date is the period's, except around a midnight that happens twice or is
        // skipped: there the bounds decide.
        let first = self.first_day(local);
        if at < self.day_start(first) {
            self.previous(first)
        } else if at >= self.day_start(self.next(first)) {
            self.next(first)
        } else {
            first
        }
    }

    /// `--since`/`--until`: an RFC 3339 instant, or a date meaning its local midnight here.
    pub fn parse_when(&self, text: &str) -> Result<Millis, String> {
        let text = text.trim();
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            // The years of the instants (0 to 9999), which chrono's `%Y` does not bound.
            let at = self.day_start(date);
            return if (crate::time::EARLIEST..=crate::time::LATEST).contains(&at) {
                Ok(at)
            } else {
                Err(format!(
                    "{text:?} starts outside the years 0 to 9999 (their instants, in UTC)"
                ))
            };
        }
        crate::time::parse_rfc3339(text).ok_or_else(|| {
            format!(
                "{text:?} is neither a date (2024-05-31, local midnight in --tz) nor an RFC 3339 \
                 instant (2024-05-31T18:00:00Z)"
            )
        })
    }
}

/// Days since 1970-01-01 (Parquet's `Date`).
pub fn days_since_epoch(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((date - epoch).num_days()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{parse_rfc3339, to_rfc3339};

    const HOUR: Millis = 3_600_000;

    fn calendar(zone: &str, kind: PeriodKind) -> Calendar {
        Calendar {
            zone: parse_zone(zone).unwrap(),
            kind,
        }
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn at(text: &str) -> Millis {
        parse_rfc3339(text).unwrap()
    }

    proptest::proptest! {
        /// The rollups keep the last period's bounds and take any instant inside them as that
        /// period's: so an instant's period must be the one whose bounds hold it, in every zone
        /// (skipped and repeated midnights, odd offsets) and kind.
        #[test]
        fn every_instant_lies_in_the_bounds_of_its_period(
            at in -2_000_000_000_000i64..4_000_000_000_000,
            zone in proptest::sample::select(&[
                "UTC", "America/Havana", "America/New_York", "Europe/Berlin", "Asia/Kathmandu",
                "Pacific/Chatham", "Australia/Lord_Howe", "America/Santiago", "Asia/Tokyo",
            ][..]),
            kind in proptest::sample::select(&[PeriodKind::Day, PeriodKind::Week, PeriodKind::Month][..]),
        ) {
            let calendar = calendar(zone, kind);
            let period = calendar.period_of(at);
            let (start, end) = calendar.bounds(period);
            proptest::prop_assert!(start <= at && at < end, "{zone} {at} in {period}: [{start}, {end})");
            proptest::prop_assert_eq!(calendar.bounds(calendar.next(period)).0, end);
        }
    }

    /// The period's bounds as RFC 3339 UTC, and its length in hours.
    fn day(zone: &str, first: &str) -> (String, String, f64) {
        let (start, end) = calendar(zone, PeriodKind::Day).bounds(date(first));
        (
            to_rfc3339(start),
            to_rfc3339(end),
            (end - start) as f64 / HOUR as f64,
        )
    }

    #[test]
    fn dst_days_last_23_and_25_hours() {
        // New York: clocks go 02:00 -> 03:00 on 2024-03-10 and 02:00 -> 01:00 on 2024-11-03.
        assert_eq!(
            day("America/New_York", "2024-03-10"),
            (
                "2024-03-10T05:00:00.000Z".into(),
                "2024-03-11T04:00:00.000Z".into(),
                23.0
            )
        );
        assert_eq!(
            day("America/New_York", "2024-11-03"),
            (
                "2024-11-03T04:00:00.000Z".into(),
                "2024-11-04T05:00:00.000Z".into(),
                25.0
            )
        );
        // Berlin: 2024-03-31 02:00 -> 03:00 and 2024-10-27 03:00 -> 02:00.
        assert_eq!(day("Europe/Berlin", "2024-03-31").2, 23.0);
        assert_eq!(day("Europe/Berlin", "2024-10-27").2, 25.0);
        assert_eq!(
            day("Europe/Berlin", "2024-10-27").0,
            "2024-10-26T22:00:00.000Z"
        );
        assert_eq!(day("Europe/Berlin", "2024-10-28").2, 24.0);
    }

    #[test]
    fn a_skipped_midnight_starts_the_day_when_the_clock_jumps_and_a_repeated_one_at_the_first() {
        // Havana, 2024-03-10: at 00:00 (UTC-5) clocks jumped to 01:00 (UTC-4): the day starts
        // at 05:00Z, local 01:00, and lasts 23 hours.
        assert_eq!(
            day("America/Havana", "2024-03-10"),
            (
                "2024-03-10T05:00:00.000Z".into(),
                "2024-03-11T04:00:00.000Z".into(),
                23.0
            )
        );
        // 2024-11-03: at 01:00 (UTC-4) clocks went back to 00:00 (UTC-5): midnight happened
        // twice, at 04:00Z and 05:00Z; the day starts at the first and lasts 25 hours.
        assert_eq!(
            day("America/Havana", "2024-11-03"),
            (
                "2024-11-03T04:00:00.000Z".into(),
                "2024-11-04T05:00:00.000Z".into(),
                25.0
            )
        );
        let havana = calendar("America/Havana", PeriodKind::Day);
        // Both local 00:30s of 2024-11-03 belong to that day, and 00:59 of the day before
        // (UTC-4) to the day before.
        assert_eq!(
            havana.period_of(at("2024-11-03T04:30:00Z")),
            date("2024-11-03")
        );
        assert_eq!(
            havana.period_of(at("2024-11-03T05:30:00Z")),
            date("2024-11-03")
        );
        assert_eq!(
            havana.period_of(at("2024-11-03T03:59:59.999Z")),
            date("2024-11-02")
        );
        // The instant of the jump is the first of 2024-03-10, the one before it the last of
        // the 9th.
        assert_eq!(
            havana.period_of(at("2024-03-10T05:00:00Z")),
            date("2024-03-10")
        );
        assert_eq!(
            havana.period_of(at("2024-03-10T04:59:59.999Z")),
            date("2024-03-09")
        );
    }

    #[test]
    fn half_hour_shifts_and_odd_offsets() {
        // Lord Howe moves by 30 minutes: +11 in summer, +10:30 in winter. 2024-04-07 02:00
        // -> 01:30: a 24.5-hour day; 2024-10-06 02:00 -> 02:30: a 23.5-hour day.
        assert_eq!(
            day("Australia/Lord_Howe", "2024-04-07"),
            (
                "2024-04-06T13:00:00.000Z".into(),
                "2024-04-07T13:30:00.000Z".into(),
                24.5
            )
        );
        assert_eq!(day("Australia/Lord_Howe", "2024-10-06").2, 23.5);
        // Kathmandu +05:45 and Chatham +12:45 (summer +13:45).
        assert_eq!(
            day("Asia/Kathmandu", "2024-05-01").0,
            "2024-04-30T18:15:00.000Z"
        );
        assert_eq!(
            day("Pacific/Chatham", "2024-07-01").0,
            "2024-06-30T11:15:00.000Z"
        );
        let kolkata = calendar("Asia/Kolkata", PeriodKind::Day);
        assert_eq!(
            kolkata.period_of(at("2024-05-01T18:29:59.999Z")),
            date("2024-05-01")
        );
        assert_eq!(
            kolkata.period_of(at("2024-05-01T18:30:00Z")),
            date("2024-05-02")
        );
    }

    #[test]
    fn iso_weeks_run_monday_to_sunday_across_a_year_end() {
        let week = calendar("UTC", PeriodKind::Week);
        // 2025-01-01 is a Wednesday: its week starts on Monday 2024-12-30.
        assert_eq!(week.first_day(date("2025-01-01")), date("2024-12-30"));
        assert_eq!(week.first_day(date("2024-12-29")), date("2024-12-23"));
        assert_eq!(week.next(date("2024-12-30")), date("2025-01-06"));
        assert_eq!(
            week.period_of(at("2025-01-05T23:59:59.999Z")),
            date("2024-12-30")
        );
        assert_eq!(
            week.period_of(at("2025-01-06T00:00:00Z")),
            date("2025-01-06")
        );
        // A week holding a DST change is 167 hours long in Berlin.
        let berlin = calendar("Europe/Berlin", PeriodKind::Week);
        let (start, end) = berlin.bounds(date("2024-03-25"));
        assert_eq!((end - start) / HOUR, 167);
    }

    #[test]
    fn months_of_28_to_31_days() {
        let month = calendar("UTC", PeriodKind::Month);
        let hours = |first: &str| {
            let (start, end) = month.bounds(date(first));
            (end - start) / HOUR
        };
        assert_eq!(hours("2023-02-01"), 28 * 24);
        assert_eq!(hours("2024-02-01"), 29 * 24);
        assert_eq!(hours("2024-04-01"), 30 * 24);
        assert_eq!(hours("2024-12-01"), 31 * 24);
        assert_eq!(month.next(date("2024-12-01")), date("2025-01-01"));
        assert_eq!(
            month.period_of(at("2024-02-29T12:00:00Z")),
            date("2024-02-01")
        );
        // In New York March 2024 loses an hour to DST.
        let ny = calendar("America/New_York", PeriodKind::Month);
        let (start, end) = ny.bounds(date("2024-03-01"));
        assert_eq!((end - start) / HOUR, 31 * 24 - 1);
    }

    #[test]
    fn since_and_until_read_dates_as_local_midnight() {
        let kolkata = calendar("Asia/Kolkata", PeriodKind::Day);
        assert_eq!(
            kolkata.parse_when("2024-05-31").map(to_rfc3339),
            Ok("2024-05-30T18:30:00.000Z".to_owned())
        );
        assert_eq!(
            kolkata.parse_when("2024-05-31T18:00:00Z").map(to_rfc3339),
            Ok("2024-05-31T18:00:00.000Z".to_owned())
        );
        assert!(kolkata.parse_when("yesterday").is_err());
        // chrono reads signed years of five and six digits; the periods after them could
        // overflow.
        let utc = calendar("UTC", PeriodKind::Month);
        assert!(utc.parse_when("+10000-01-01").is_err());
        assert!(utc.parse_when("-0001-12-31").is_err());
        assert!(utc.parse_when("9999-12-31").is_ok());
        assert!(parse_zone("Mars/Olympus").is_err());
        assert_eq!(parse_zone("UTC"), Ok(Tz::UTC));
        assert_eq!(days_since_epoch(date("1970-01-02")), 1);
    }
}
