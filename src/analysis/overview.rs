//! What the HTML report (docs/html.md) shows beyond the tables' sums: the
//! distributions of attendance and of session sizes, the largest sessions' timelines and the
//! data-quality counts of the sessions report.
//!
//! Gathered in the rollup pass, from the same [`SessionFacts`] (one session at a time, in report
//! order), in bounded memory: fixed-size histograms, and the [`LARGEST`] sessions kept in a
//! bounded heap with their timelines.
use super::rollups::SessionFacts;
use crate::time::Millis;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// How many of the largest sessions the report draws.
pub const LARGEST: usize = 12;

/// Bins of the attendance histogram: `[0, 5)`, `[5, 10)`, … `[95, 100]` percent.
pub const ATTENDANCE_BINS: usize = 20;

/// Bins of the session-size histogram, by distinct participants: the lowest size of each bin
/// (a bin runs to the next one's lowest size, the last one has no end).
pub const SIZE_BINS: [i64; 11] = [0, 1, 2, 3, 6, 11, 21, 51, 101, 201, 501];

/// The label of size bin `index`: `0`, `3–5`, `501+`.
pub fn size_bin_label(index: usize) -> String {
    let low = SIZE_BINS[index];
    match SIZE_BINS.get(index + 1) {
        Some(&next) if next == low + 1 => low.to_string(),
        Some(&next) => format!("{low}–{}", next - 1),
        None => format!("{low}+"),
    }
}

/// One of the largest sessions, with its concurrency timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct LargeSession {
    /// Its place in report order (ties in size go to the earlier one).
    pub order: usize,
    pub session_id: String,
    pub room_id: Option<String>,
    pub started_at: Millis,
    pub ended_at: Millis,
    pub participants: i64,
    pub peak_concurrency: i64,
    /// `(changed_at, concurrency)`, as in the concurrency report.
    pub timeline: Vec<(Millis, i64)>,
}

impl LargeSession {
    /// Larger first: by peak, then participants, then report order.
    fn rank(&self) -> (Reverse<i64>, Reverse<i64>, usize) {
        (
            Reverse(self.peak_concurrency),
            Reverse(self.participants),
            self.order,
        )
    }
}

/// Heap entries ordered so that the heap's top is the smallest of the kept sessions.
struct ByRank(LargeSession);

impl PartialEq for ByRank {
    fn eq(&self, other: &Self) -> bool {
        self.0.rank() == other.0.rank()
    }
}
impl Eq for ByRank {}
impl PartialOrd for ByRank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByRank {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.rank().cmp(&other.0.rank())
    }
}

/// Ids of sessions with `pairs_skipped` the report names.
pub const SKIPPED_SHOWN: usize = 5;

/// The figures of the HTML report gathered session by session.
#[derive(Default)]
pub struct Overview {
    /// Participant rows per attendance bin (rows with an `attendance_pct`).
    pub attendance: [i64; ATTENDANCE_BINS],
    /// Participant rows without an `attendance_pct` (sessions of zero duration).
    pub attendance_undefined: i64,
    /// Sessions per size bin ([`SIZE_BINS`]).
    pub sizes: [i64; SIZE_BINS.len()],
    /// Sums of the sessions report's columns.
    pub invalid_intervals: i64,
    pub invalid_participants: i64,
    pub clipped_ms: i64,
    /// Sessions with `pairs_skipped`, and the ids of the first [`SKIPPED_SHOWN`] in report order.
    pub pairs_skipped: i64,
    pub pairs_skipped_ids: Vec<String>,
    largest: BinaryHeap<ByRank>,
    added: usize,
}

impl Overview {
    /// Adds the next session in report order.
    pub fn add(&mut self, session: &SessionFacts) {
        let order = self.added;
        self.added += 1;
        for p in &session.participants {
            match p.attendance_pct {
                Some(pct) => self.attendance[attendance_bin(pct)] += 1,
                None => self.attendance_undefined += 1,
            }
        }
        let size = session.participants.len() as i64;
        let bin = SIZE_BINS
            .partition_point(|&low| low <= size)
            .saturating_sub(1);
        self.sizes[bin] += 1;
        self.invalid_intervals += session.invalid_intervals;
        self.invalid_participants += session.invalid_participants;
        self.clipped_ms = self.clipped_ms.saturating_add(session.clipped_ms);
        if session.pairs_skipped {
            self.pairs_skipped += 1;
            if self.pairs_skipped_ids.len() < SKIPPED_SHOWN {
                self.pairs_skipped_ids.push(session.session_id.to_string());
            }
        }

        let rank = (Reverse(session.peak_concurrency), Reverse(size), order);
        let enters = self.largest.len() < LARGEST
            || self
                .largest
                .peek()
                .is_some_and(|worst| rank < worst.0.rank());
        if enters {
            self.largest.push(ByRank(LargeSession {
                order,
                session_id: session.session_id.to_string(),
                room_id: session.room_id.as_deref().map(str::to_owned),
                started_at: session.started_at,
                ended_at: session.ended_at,
                participants: size,
                peak_concurrency: session.peak_concurrency,
                timeline: session.timeline.clone(),
            }));
            if self.largest.len() > LARGEST {
                self.largest.pop();
            }
        }
    }

    /// Sessions added.
    pub fn sessions(&self) -> usize {
        self.added
    }

    /// The largest sessions, largest first.
    pub fn largest(&self) -> Vec<&LargeSession> {
        let mut out: Vec<&LargeSession> = self.largest.iter().map(|e| &e.0).collect();
        out.sort_by_key(|s| s.rank());
        out
    }
}

/// The bin of an attendance percentage (100 % goes into the last bin).
fn attendance_bin(pct: f64) -> usize {
    let bin = (pct / (100.0 / ATTENDANCE_BINS as f64)).floor();
    if bin.is_nan() || bin < 0.0 {
        0
    } else {
        (bin as usize).min(ATTENDANCE_BINS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::rollups::ParticipantFacts;

    fn session(id: &str, peak: i64, participants: usize) -> SessionFacts<'static> {
        SessionFacts {
            session_id: id.to_owned().into(),
            peak_concurrency: peak,
            participants: (0..participants)
                .map(|i| ParticipantFacts {
                    participant_id: format!("p{i}").into(),
                    attendance_pct: Some(i as f64 * 10.0),
                    ..ParticipantFacts::default()
                })
                .collect(),
            timeline: vec![(0, peak), (10, 0)],
            ..SessionFacts::default()
        }
    }

    #[test]
    fn keeps_the_largest_sessions_by_peak_then_participants_then_report_order() {
        let mut overview = Overview::default();
        for i in 0..40 {
            // Peaks 0..9 four times over; participants decide between equal peaks.
            overview.add(&session(&format!("s{i:02}"), i % 10, (i % 4) as usize));
        }
        let ids: Vec<&str> = overview
            .largest()
            .iter()
            .map(|s| s.session_id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["s19", "s39", "s09", "s29", "s18", "s38", "s08", "s28", "s07", "s27", "s17", "s37"]
        );
        assert_eq!(overview.largest()[0].timeline, vec![(0, 9), (10, 0)]);
        assert_eq!(overview.sessions(), 40);
    }

    #[test]
    fn histograms_count_every_row_and_session_once() {
        let mut overview = Overview::default();
        overview.add(&session("a", 1, 11));
        overview.add(&session("b", 1, 0));
        let mut zero = session("c", 0, 1);
        zero.participants[0].attendance_pct = None;
        overview.add(&zero);
        // 0, 10, …, 100 %: bins 0, 2, 4, …, 18, and 100 % in the last bin.
        let mut expected = [0; ATTENDANCE_BINS];
        for pct in (0..=100).step_by(10) {
            expected[(pct / 5).min(19)] += 1;
        }
        assert_eq!(overview.attendance, expected);
        assert_eq!(overview.attendance_undefined, 1);
        assert_eq!(overview.sizes[0], 1); // b: nobody
        assert_eq!(overview.sizes[1], 1); // c: one
        assert_eq!(overview.sizes[5], 1); // a: 11 → 11–20
        assert_eq!(size_bin_label(3), "3–5");
        assert_eq!(size_bin_label(0), "0");
        assert_eq!(size_bin_label(SIZE_BINS.len() - 1), "501+");
    }
}
