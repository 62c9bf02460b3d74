//! Per participant (docs/reference.md §4): one row per distinct `participantId` of a session.
use super::intervals::{union, Interval};
use crate::ingest::document::{text, Item, RawInterval, Text};
use crate::time::{parse_rfc3339, Millis};

/// The participants report row; its text borrows from the session document.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantRow<'s> {
    pub participant_id: &'s str,
    pub name: Option<&'s str>,
    /// Valid timelog entries.
    pub intervals: i64,
    pub segments: i64,
    pub rejoins: i64,
    pub first_join: Option<Millis>,
    pub last_leave: Option<Millis>,
    pub attended_ms: i64,
    pub raw_ms: i64,
    pub self_overlap_ms: i64,
    pub gap_ms: i64,
    pub attendance_pct: Option<f64>,
    /// Any valid interval had no `end` and was closed at the session's end bound.
    pub open: bool,
    /// `first_join - start` of the session (docs/reference.md §9).
    pub late_ms: Option<i64>,
    /// `end - last_leave` of the session.
    pub early_leave_ms: Option<i64>,
    /// Present under the run's threshold (set by the session, which knows it).
    pub present: bool,
}

/// A timelog entry after parsing, before the session bounds are known.
#[derive(Debug, Clone, Copy)]
pub enum Entry {
    /// `start` parsed; `end` parsed, or `None` while still connected.
    Parsed { start: Millis, end: Option<Millis> },
    /// Absent or unparsable `start`, or present but unparsable `end`.
    Invalid,
}

impl Entry {
    /// Parses a timelog entry; one that is not an object (`null`, …) is invalid.
    pub fn parse(item: &Item<RawInterval<'_>>) -> Entry {
        let Some(raw) = item.object() else {
            return Entry::Invalid;
        };
        let Some(start) = text(&raw.start).and_then(parse_rfc3339) else {
            return Entry::Invalid;
        };
        match &raw.end {
            None => Entry::Parsed { start, end: None },
            Some(Text::Str(s)) => match parse_rfc3339(s) {
                Some(end) => Entry::Parsed {
                    start,
                    end: Some(end),
                },
                None => Entry::Invalid,
            },
            Some(Text::Other) => Entry::Invalid,
        }
    }
}

/// A participant's figures; its union (for the session-level metrics) is left at the end of
/// the caller's `spans`.
pub struct Participant<'s> {
    pub row: ParticipantRow<'s>,
    pub invalid_intervals: i64,
    pub clipped_ms: i64,
}

/// Summarises one participant's entries inside the session `bounds`. Open entries end at
/// `end_bound` (the session's end, which may lie before its start in a broken document: then
/// `bounds` is empty and everything is clipped away). The participant's union is appended to
/// `spans`, which holds the unions of a whole session one after another (one buffer, not one
/// allocation per participant).
pub fn summarize<'s>(
    participant_id: &'s str,
    name: Option<&'s str>,
    entries: &[Entry],
    bounds: Interval,
    end_bound: Millis,
    spans: &mut Vec<Interval>,
) -> Participant<'s> {
    let from = spans.len();
    let mut invalid_intervals = 0;
    let mut clipped_ms: i64 = 0;
    let mut open = false;
    for entry in entries {
        let Entry::Parsed { start, end } = *entry else {
            invalid_intervals += 1;
            continue;
        };
        let interval = Interval {
            start,
            end: end.unwrap_or(end_bound),
        };
        if interval.end < interval.start {
            invalid_intervals += 1;
            continue;
        }
        open |= end.is_none();
        let inside = interval.clip(bounds);
        // Saturating: thousands of connections spanning the whole calendar could otherwise
        // overflow, and a report must not wrap to a negative figure.
        clipped_ms = clipped_ms.saturating_add(interval.len() - inside.len());
        spans.push(inside);
    }
    let raw_ms = spans[from..]
        .iter()
        .map(|iv| iv.len())
        .fold(0, i64::saturating_add);
    let intervals = (spans.len() - from) as i64;
    let kept = union(&mut spans[from..]).len();
    spans.truncate(from + kept);
    let union = &spans[from..];
    let attended_ms: i64 = union.iter().map(|iv| iv.len()).sum();
    let first_join = union.first().map(|iv| iv.start);
    let last_leave = union.last().map(|iv| iv.end);
    let segments = union.len() as i64;
    let duration = bounds.len();
    let row = ParticipantRow {
        participant_id,
        name,
        intervals,
        segments,
        rejoins: (segments - 1).max(0),
        first_join,
        last_leave,
        attended_ms,
        raw_ms,
        self_overlap_ms: raw_ms - attended_ms,
        gap_ms: match (first_join, last_leave) {
            (Some(first), Some(last)) => last - first - attended_ms,
            _ => 0,
        },
        attendance_pct: (duration > 0).then(|| 100.0 * attended_ms as f64 / duration as f64),
        open,
        late_ms: first_join.map(|first| first - bounds.start),
        early_leave_ms: last_leave.map(|last| bounds.end - last),
        present: false,
    };
    Participant {
        row,
        invalid_intervals,
        clipped_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Interval = Interval { start: 0, end: 100 };

    fn closed(start: Millis, end: Millis) -> Entry {
        Entry::Parsed {
            start,
            end: Some(end),
        }
    }

    fn row(entries: &[Entry]) -> Participant<'static> {
        summarize("p", Some("P"), entries, BOUNDS, BOUNDS.end, &mut Vec::new())
    }

    #[test]
    fn reconnects_make_segments_rejoins_and_gaps() {
        let p = row(&[closed(10, 20), closed(30, 40), closed(40, 50)]).row;
        assert_eq!(
            (p.segments, p.rejoins, p.attended_ms, p.raw_ms),
            (2, 1, 30, 30)
        );
        assert_eq!(
            (p.first_join, p.last_leave, p.gap_ms),
            (Some(10), Some(50), 10)
        );
        assert_eq!(p.attendance_pct, Some(30.0));
    }

    #[test]
    fn double_connections_are_self_overlap() {
        let p = row(&[closed(10, 50), closed(20, 60)]).row;
        assert_eq!(
            (p.intervals, p.attended_ms, p.raw_ms, p.self_overlap_ms),
            (2, 50, 80, 30)
        );
    }

    #[test]
    fn open_entries_close_at_the_end_bound() {
        let p = row(&[Entry::Parsed {
            start: 90,
            end: None,
        }])
        .row;
        assert_eq!((p.attended_ms, p.last_leave, p.open), (10, Some(100), true));
    }

    #[test]
    fn invalid_entries_are_counted_not_used() {
        let p = row(&[Entry::Invalid, closed(50, 40), closed(10, 20)]);
        assert_eq!(
            (p.invalid_intervals, p.row.intervals, p.row.attended_ms),
            (2, 1, 10)
        );
        let open_after_end = row(&[Entry::Parsed {
            start: 150,
            end: None,
        }]);
        assert_eq!(open_after_end.invalid_intervals, 1);
    }

    #[test]
    fn clipping_counts_the_time_cut_away() {
        let p = row(&[closed(-20, 10), closed(95, 130), closed(200, 210)]);
        assert_eq!(
            (p.clipped_ms, p.row.attended_ms, p.row.intervals),
            (20 + 30 + 10, 15, 3)
        );
    }

    #[test]
    fn zero_length_entries_are_valid_but_no_segment() {
        let p = row(&[closed(10, 10)]).row;
        assert_eq!(
            (p.intervals, p.segments, p.rejoins, p.first_join, p.gap_ms),
            (1, 0, 0, None, 0)
        );
    }

    #[test]
    fn sums_saturate_instead_of_wrapping() {
        use crate::time::{EARLIEST, LATEST};
        let whole = Interval {
            start: EARLIEST,
            end: LATEST,
        };
        let entries = vec![closed(EARLIEST, LATEST); 30_000];
        let p = summarize("p", None, &entries, whole, LATEST, &mut Vec::new());
        assert_eq!((p.row.raw_ms, p.row.attended_ms), (i64::MAX, whole.len()));
        assert!(p.row.self_overlap_ms > 0);
        let outside = summarize(
            "p",
            None,
            &entries,
            Interval { start: 0, end: 1 },
            1,
            &mut Vec::new(),
        );
        assert_eq!(outside.clipped_ms, i64::MAX);
    }

    #[test]
    fn zero_duration_session_has_no_percentage() {
        let p = summarize(
            "p",
            None,
            &[closed(0, 0)],
            Interval { start: 0, end: 0 },
            0,
            &mut Vec::new(),
        )
        .row;
        assert_eq!(p.attendance_pct, None);
    }

    #[test]
    fn entry_parsing_distinguishes_open_from_unparsable() {
        let raw =
            |json: &str| Entry::parse(&serde_json::from_str::<Item<RawInterval>>(json).unwrap());
        assert!(matches!(
            raw(r#"{"start":"2021-10-19T07:55:35.807Z","end":null}"#),
            Entry::Parsed { end: None, .. }
        ));
        assert!(matches!(
            raw(r#"{"start":"2021-10-19T07:55:35.807Z"}"#),
            Entry::Parsed { end: None, .. }
        ));
        assert!(matches!(
            raw(r#"{"start":"2021-10-19T07:55:35.807Z","end":"soon"}"#),
            Entry::Invalid
        ));
        assert!(matches!(
            raw(r#"{"start":"2021-10-19T07:55:35.807Z","end":5}"#),
            Entry::Invalid
        ));
        assert!(matches!(
            raw(r#"{"end":"2021-10-19T07:55:35.807Z"}"#),
            Entry::Invalid
        ));
    }
}
