//! The report tables of SPEC §8 (docs/reference.md): each a [`TableSpec`] (its name and
//! columns in the documented order) and a plain function that emits one session's rows.
use super::{Cell, Column, ColumnType, Table, TableSpec};
use crate::analysis::SessionReport;
use crate::ingest::rejects::RejectLog;
use anyhow::Result;
use std::ops::Range;

const fn col(name: &'static str, ty: ColumnType) -> Column {
    Column { name, ty }
}

use ColumnType::{Flag, Float, Int, Text, Time};

/// `sessions`.
pub const SESSIONS: TableSpec = TableSpec {
    name: "sessions",
    columns: &[
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
    ],
};

/// `participants`.
pub const PARTICIPANTS: TableSpec = TableSpec {
    name: "participants",
    columns: &[
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
    ],
};

/// `overlaps`.
pub const OVERLAPS: TableSpec = TableSpec {
    name: "overlaps",
    columns: &[
        col("session_id", Text),
        col("participant_a", Text),
        col("participant_b", Text),
        col("name_a", Text),
        col("name_b", Text),
        col("overlap_ms", Int),
        col("first_overlap", Time),
    ],
};

/// `concurrency`.
pub const CONCURRENCY: TableSpec = TableSpec {
    name: "concurrency",
    columns: &[
        col("session_id", Text),
        col("at", Time),
        col("concurrency", Int),
    ],
};

/// `rejects`.
pub const REJECTS: TableSpec = TableSpec {
    name: "rejects",
    columns: &[
        col("path", Text),
        col("line", Int),
        col("session_id", Text),
        col("reason", Text),
    ],
};

/// Receives the cells of one row, in column order.
pub type Emit<'e> = &'e mut dyn FnMut(&[Cell<'_>]) -> Result<()>;

/// Emits `sessions`' row of one session.
pub fn session_rows(report: &SessionReport, emit: Emit<'_>) -> Result<()> {
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
    ])
}

/// Emits `participants`' rows of one session, by `participant_id`.
pub fn participant_rows(report: &SessionReport, emit: Emit<'_>) -> Result<()> {
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
    Ok(())
}

/// Emits `overlaps`' rows of one session, by (`participant_a`, `participant_b`).
pub fn overlap_rows(report: &SessionReport, emit: Emit<'_>) -> Result<()> {
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
    Ok(())
}

/// Emits `concurrency`'s rows of one session: its timeline.
pub fn concurrency_rows(report: &SessionReport, emit: Emit<'_>) -> Result<()> {
    for step in &report.timeline {
        emit(&[
            Cell::Text(Some(report.session.session_id.as_bytes())),
            Cell::Time(Some(step.at)),
            Cell::Int(Some(i64::from(step.concurrency))),
        ])?;
    }
    Ok(())
}

/// A table with rows per session, and the function that emits one session's rows.
#[derive(Clone, Copy)]
pub struct PerSession {
    pub spec: &'static TableSpec,
    pub rows: fn(&SessionReport, Emit<'_>) -> Result<()>,
}

/// The tables with rows per session, in the order they are written.
pub const PER_SESSION: [PerSession; 4] = [
    PerSession {
        spec: &SESSIONS,
        rows: session_rows,
    },
    PerSession {
        spec: &PARTICIPANTS,
        rows: participant_rows,
    },
    PerSession {
        spec: &OVERLAPS,
        rows: overlap_rows,
    },
    PerSession {
        spec: &CONCURRENCY,
        rows: concurrency_rows,
    },
];

/// `rejects`: by (`path`, `line`), one group per reject of the walk or per file's rejects,
/// read back from the temporary file they were kept in.
pub struct Rejects<'a>(pub &'a RejectLog);

impl Table for Rejects<'_> {
    fn spec(&self) -> &'static TableSpec {
        &REJECTS
    }
    fn row_count(&self) -> usize {
        self.0.len()
    }
    fn group_count(&self) -> usize {
        self.0.group_count()
    }
    fn for_each_row_in(&self, groups: Range<usize>, emit: Emit<'_>) -> Result<()> {
        self.0.for_each_in(groups, &mut |reject| {
            let reason = reject.reason.to_string();
            emit(&[
                Cell::Text(Some(reject.path.as_bytes())),
                Cell::Int(reject.line.and_then(|l| i64::try_from(l).ok())),
                Cell::Text(reject.session_id.as_deref().map(str::as_bytes)),
                Cell::Text(Some(reason.as_bytes())),
            ])
        })
    }
}
