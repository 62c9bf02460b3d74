//! The five report tables of SPEC §8, with their columns in SPEC order.
use super::{Cell, Column, Kind, Table};
use crate::analysis::SessionReport;
use crate::ingest::Reject;
use anyhow::Result;
use std::ops::Range;

const fn col(name: &'static str, kind: Kind) -> Column {
    Column { name, kind }
}

use Kind::{Flag, Float, Int, Text, Time};

/// `sessions`: one row per session, sessions already in report order.
pub struct Sessions<'a>(pub &'a [SessionReport<'a>]);
/// `participants`: one row per participant, by (session order, `participant_id`).
pub struct Participants<'a>(pub &'a [SessionReport<'a>]);
/// `overlaps`: one row per co-present pair, by (session order, `participant_a`, `participant_b`).
pub struct Overlaps<'a>(pub &'a [SessionReport<'a>]);
/// `concurrency`: the timeline, by (session order, `at`).
pub struct Concurrency<'a>(pub &'a [SessionReport<'a>]);
/// `rejects`: by (`path`, `line`).
pub struct Rejects<'a>(pub &'a [Reject]);

const SESSIONS: &[Column] = &[
    col("session_id", Text),
    col("room_id", Text),
    col("status", Text),
    col("start", Time),
    col("end", Time),
    col("ongoing", Flag),
    col("duration_ms", Int),
    col("reported_active_duration", Float),
    col("participants", Int),
    col("attendees", Int),
    col("participant_ms", Int),
    col("peak_concurrency", Int),
    col("peak_at", Time),
    col("peak_ms", Int),
    col("avg_concurrency", Float),
    col("empty_ms", Int),
    col("intervals", Int),
    col("invalid_intervals", Int),
    col("invalid_participants", Int),
    col("clipped_ms", Int),
    col("pairs_skipped", Flag),
];

const PARTICIPANTS: &[Column] = &[
    col("session_id", Text),
    col("room_id", Text),
    col("participant_id", Text),
    col("name", Text),
    col("intervals", Int),
    col("segments", Int),
    col("rejoins", Int),
    col("first_join", Time),
    col("last_leave", Time),
    col("attended_ms", Int),
    col("raw_ms", Int),
    col("self_overlap_ms", Int),
    col("gap_ms", Int),
    col("attendance_pct", Float),
    col("open", Flag),
];

const OVERLAPS: &[Column] = &[
    col("session_id", Text),
    col("participant_a", Text),
    col("participant_b", Text),
    col("name_a", Text),
    col("name_b", Text),
    col("overlap_ms", Int),
    col("first_overlap", Time),
];

const CONCURRENCY: &[Column] = &[
    col("session_id", Text),
    col("at", Time),
    col("concurrency", Int),
];

const REJECTS: &[Column] = &[
    col("path", Text),
    col("line", Int),
    col("session_id", Text),
    col("reason", Text),
];

type Emit<'e> = &'e mut dyn FnMut(&[Cell<'_>]) -> Result<()>;

/// The items of `groups`, or none when the range is out of bounds.
fn slice<T>(items: &[T], groups: Range<usize>) -> &[T] {
    items.get(groups).unwrap_or_default()
}

impl Table for Sessions<'_> {
    fn name(&self) -> &'static str {
        "sessions"
    }
    fn columns(&self) -> &'static [Column] {
        SESSIONS
    }
    fn row_count(&self) -> usize {
        self.0.len()
    }
    fn group_count(&self) -> usize {
        self.0.len()
    }
    fn for_each_row_in(&self, groups: Range<usize>, emit: Emit<'_>) -> Result<()> {
        for report in slice(self.0, groups) {
            let s = &report.session;
            emit(&[
                Cell::Text(Some(s.session_id.as_bytes())),
                Cell::Text(s.room_id.map(str::as_bytes)),
                Cell::Text(s.status.map(str::as_bytes)),
                Cell::Time(Some(s.start)),
                Cell::Time(Some(s.end)),
                Cell::Flag(s.ongoing),
                Cell::Int(Some(s.duration_ms)),
                Cell::Float(s.reported_active_duration),
                Cell::Int(Some(s.participants)),
                Cell::Int(Some(s.attendees)),
                Cell::Int(Some(s.participant_ms)),
                Cell::Int(Some(s.peak_concurrency)),
                Cell::Time(s.peak_at),
                Cell::Int(Some(s.peak_ms)),
                Cell::Float(s.avg_concurrency),
                Cell::Int(Some(s.empty_ms)),
                Cell::Int(Some(s.intervals)),
                Cell::Int(Some(s.invalid_intervals)),
                Cell::Int(Some(s.invalid_participants)),
                Cell::Int(Some(s.clipped_ms)),
                Cell::Flag(s.pairs_skipped),
            ])?;
        }
        Ok(())
    }
}

impl Table for Participants<'_> {
    fn name(&self) -> &'static str {
        "participants"
    }
    fn columns(&self) -> &'static [Column] {
        PARTICIPANTS
    }
    fn row_count(&self) -> usize {
        self.0.iter().map(|r| r.participants.len()).sum()
    }
    fn group_count(&self) -> usize {
        self.0.len()
    }
    fn for_each_row_in(&self, groups: Range<usize>, emit: Emit<'_>) -> Result<()> {
        for report in slice(self.0, groups) {
            let s = &report.session;
            for p in &report.participants {
                emit(&[
                    Cell::Text(Some(s.session_id.as_bytes())),
                    Cell::Text(s.room_id.map(str::as_bytes)),
                    Cell::Text(Some(p.participant_id.as_bytes())),
                    Cell::Text(p.name.map(str::as_bytes)),
                    Cell::Int(Some(p.intervals)),
                    Cell::Int(Some(p.segments)),
                    Cell::Int(Some(p.rejoins)),
                    Cell::Time(p.first_join),
                    Cell::Time(p.last_leave),
                    Cell::Int(Some(p.attended_ms)),
                    Cell::Int(Some(p.raw_ms)),
                    Cell::Int(Some(p.self_overlap_ms)),
                    Cell::Int(Some(p.gap_ms)),
                    Cell::Float(p.attendance_pct),
                    Cell::Flag(p.open),
                ])?;
            }
        }
        Ok(())
    }
}

impl Table for Overlaps<'_> {
    fn name(&self) -> &'static str {
        "overlaps"
    }
    fn columns(&self) -> &'static [Column] {
        OVERLAPS
    }
    fn row_count(&self) -> usize {
        self.0.iter().map(|r| r.overlaps.len()).sum()
    }
    fn group_count(&self) -> usize {
        self.0.len()
    }
    fn for_each_row_in(&self, groups: Range<usize>, emit: Emit<'_>) -> Result<()> {
        for report in slice(self.0, groups) {
            for pair in &report.overlaps {
                let a = &report.participants[pair.a as usize];
                let b = &report.participants[pair.b as usize];
                emit(&[
                    Cell::Text(Some(report.session.session_id.as_bytes())),
                    Cell::Text(Some(a.participant_id.as_bytes())),
                    Cell::Text(Some(b.participant_id.as_bytes())),
                    Cell::Text(a.name.map(str::as_bytes)),
                    Cell::Text(b.name.map(str::as_bytes)),
                    Cell::Int(Some(pair.overlap_ms)),
                    Cell::Time(Some(pair.first_overlap)),
                ])?;
            }
        }
        Ok(())
    }
}

impl Table for Concurrency<'_> {
    fn name(&self) -> &'static str {
        "concurrency"
    }
    fn columns(&self) -> &'static [Column] {
        CONCURRENCY
    }
    fn row_count(&self) -> usize {
        self.0.iter().map(|r| r.timeline.len()).sum()
    }
    fn group_count(&self) -> usize {
        self.0.len()
    }
    fn for_each_row_in(&self, groups: Range<usize>, emit: Emit<'_>) -> Result<()> {
        for report in slice(self.0, groups) {
            for step in &report.timeline {
                emit(&[
                    Cell::Text(Some(report.session.session_id.as_bytes())),
                    Cell::Time(Some(step.at)),
                    Cell::Int(Some(i64::from(step.concurrency))),
                ])?;
            }
        }
        Ok(())
    }
}

impl Table for Rejects<'_> {
    fn name(&self) -> &'static str {
        "rejects"
    }
    fn columns(&self) -> &'static [Column] {
        REJECTS
    }
    fn row_count(&self) -> usize {
        self.0.len()
    }
    fn group_count(&self) -> usize {
        self.0.len()
    }
    fn for_each_row_in(&self, groups: Range<usize>, emit: Emit<'_>) -> Result<()> {
        for reject in slice(self.0, groups) {
            emit(&[
                Cell::Text(Some(reject.path.as_bytes())),
                Cell::Int(reject.line.and_then(|l| i64::try_from(l).ok())),
                Cell::Text(reject.session_id.as_deref().map(str::as_bytes)),
                Cell::Text(Some(reject.reason.as_bytes())),
            ])?;
        }
        Ok(())
    }
}
