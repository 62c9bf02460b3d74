//! The report tables of docs/reference.md §8: each a [`TableSpec`] (its name and
//! columns in the documented order) and a plain function that emits one session's rows.
use super::{Cell, Column, ColumnType, Table, TableSpec};
use crate::analysis::period::days_since_epoch;
use crate::analysis::rollups::{AccountStep, PersonRow, RoomRow, UsageRow};
use crate::analysis::SessionReport;
use crate::ingest::rejects::RejectLog;
use crate::ingest::Reject;
use anyhow::Result;
use std::ops::Range;

/// A column that always has a value.
const fn col(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        nullable: false,
    }
}

/// A column that may be empty.
const fn opt(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        nullable: true,
    }
}

use ColumnType::{Date, Flag, Float, Int, Text, Time};

/// `sessions`.
pub const SESSIONS: TableSpec = TableSpec {
    name: "sessions",
    columns: &[
        col("session_id", Text),
        opt("room_id", Text),
        opt("status", Text),
        col("started_at", Time),
        col("ended_at", Time),
        col("ongoing", Flag),
        col("duration_ms", Int),
        opt("reported_active_duration", Float),
        col("participants", Int),
        col("attendees", Int),
        col("participant_ms", Int),
        col("peak_concurrency", Int),
        opt("peak_at", Time),
        col("peak_ms", Int),
        opt("avg_concurrency", Float),
        col("empty_ms", Int),
        col("intervals", Int),
        col("invalid_intervals", Int),
        col("invalid_participants", Int),
        col("clipped_ms", Int),
        col("pairs_skipped", Flag),
        col("present", Int),
    ],
};

/// `participants`.
pub const PARTICIPANTS: TableSpec = TableSpec {
    name: "participants",
    columns: &[
        col("session_id", Text),
        opt("room_id", Text),
        col("participant_id", Text),
        opt("name", Text),
        col("intervals", Int),
        col("segments", Int),
        col("rejoins", Int),
        opt("first_join", Time),
        opt("last_leave", Time),
        col("attended_ms", Int),
        col("raw_ms", Int),
        col("self_overlap_ms", Int),
        col("gap_ms", Int),
        opt("attendance_pct", Float),
        col("open", Flag),
        opt("late_ms", Int),
        opt("early_leave_ms", Int),
        col("present", Flag),
    ],
};

/// `overlaps`.
pub const OVERLAPS: TableSpec = TableSpec {
    name: "overlaps",
    columns: &[
        col("session_id", Text),
        col("participant_a", Text),
        col("participant_b", Text),
        opt("name_a", Text),
        opt("name_b", Text),
        col("overlap_ms", Int),
        col("first_overlap", Time),
    ],
};

/// `concurrency`.
pub const CONCURRENCY: TableSpec = TableSpec {
    name: "concurrency",
    columns: &[
        col("session_id", Text),
        col("changed_at", Time),
        col("concurrency", Int),
    ],
};

/// `rejects`.
pub const REJECTS: TableSpec = TableSpec {
    name: "rejects",
    columns: &[
        col("path", Text),
        opt("line", Int),
        opt("session_id", Text),
        col("reason", Text),
    ],
};

/// `rooms` (docs/reference.md §10).
pub const ROOMS: TableSpec = TableSpec {
    name: "rooms",
    columns: &[
        col("period", Date),
        opt("room_id", Text),
        col("sessions", Int),
        col("ongoing", Int),
        col("participants", Int),
        col("present", Int),
        col("participant_ms", Int),
        col("duration_ms", Int),
        col("peak_concurrency", Int),
        col("first_start", Time),
        col("last_end", Time),
    ],
};

/// `people` (docs/reference.md §10).
pub const PEOPLE: TableSpec = TableSpec {
    name: "people",
    columns: &[
        col("period", Date),
        col("participant_id", Text),
        opt("name", Text),
        col("sessions", Int),
        col("present_sessions", Int),
        col("rooms", Int),
        col("attended_ms", Int),
        opt("first_join", Time),
        opt("last_leave", Time),
    ],
};

/// `account_concurrency` (docs/reference.md §11).
pub const ACCOUNT_CONCURRENCY: TableSpec = TableSpec {
    name: "account_concurrency",
    columns: &[col("changed_at", Time), col("concurrency", Int)],
};

/// `usage` (docs/reference.md §11).
pub const USAGE: TableSpec = TableSpec {
    name: "usage",
    columns: &[
        col("period", Date),
        col("sessions", Int),
        col("rooms", Int),
        col("participants", Int),
        col("participant_ms", Int),
        col("peak_concurrency", Int),
        opt("peak_at", Time),
        opt("over_quota_ms", Int),
    ],
};

/// Every table, in the order the reports are written.
pub const ALL: [&TableSpec; 9] = [
    &SESSIONS,
    &PARTICIPANTS,
    &OVERLAPS,
    &CONCURRENCY,
    &ROOMS,
    &PEOPLE,
    &ACCOUNT_CONCURRENCY,
    &USAGE,
    &REJECTS,
];

/// The reports a run computes and writes (`--reports`), and whether the HTML report's
/// overview is wanted too. Work that only unselected reports need is skipped: the pairs
/// without `overlaps`, the per-session timelines without `concurrency`, `account_concurrency`,
/// `usage` and the HTML report. `rejects` is always written: it says what was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSet {
    /// Bit `i` for `ALL[i]`.
    bits: u16,
    html: bool,
}

impl ReportSet {
    /// Every report (the default).
    pub const ALL: ReportSet = ReportSet {
        bits: (1 << ALL.len()) - 1,
        html: false,
    };

    /// The reports of a comma-separated list such as `sessions,participants,usage` (`all`
    /// for every report); `rejects` is always among them.
    pub fn parse(list: &str) -> Result<ReportSet, String> {
        let mut bits = 1 << index("rejects");
        for name in list.split(',').map(str::trim) {
            let name = name.to_ascii_lowercase();
            if name == "all" {
                return Ok(ReportSet::ALL);
            }
            match ALL.iter().position(|t| t.name == name) {
                Some(i) => bits |= 1 << i,
                None => {
                    return Err(format!(
                        "unknown report `{name}` in --reports {list:?}: use all, or some of {}",
                        ALL.map(|t| t.name).join(", ")
                    ))
                }
            }
        }
        Ok(ReportSet { bits, html: false })
    }

    /// The same set, also computing what the HTML report shows (every rollup, the timelines).
    pub fn with_html(self, html: bool) -> ReportSet {
        ReportSet { html, ..self }
    }

    /// Whether the HTML report is wanted too.
    pub fn html(&self) -> bool {
        self.html
    }

    /// Whether the report `name` (one of [`ALL`]'s names) is written.
    pub fn has(&self, name: &str) -> bool {
        self.bits & (1 << index(name)) != 0
    }

    /// The per-session tables whose rows go to the spill: the selected ones, and those the
    /// rollups read back (`sessions` always: the summary's figures come from it).
    pub fn spills(&self, spec: &TableSpec) -> bool {
        match spec.name {
            "sessions" => true,
            "participants" => self.has("participants") || self.needs_participants(),
            "concurrency" => self.has("concurrency") || self.needs_timelines(),
            name => self.has(name),
        }
    }

    /// The rollups read the participants rows back (rooms, people, usage, HTML).
    pub fn needs_participants(&self) -> bool {
        self.html || self.has("rooms") || self.has("people") || self.has("usage")
    }

    /// The rollups read the timelines back (account concurrency, usage, HTML).
    pub fn needs_timelines(&self) -> bool {
        self.html || self.has("account_concurrency") || self.has("usage")
    }
}

fn index(name: &str) -> usize {
    ALL.iter()
        .position(|t| t.name == name)
        .unwrap_or(usize::MAX)
        .min(15)
}

/// Receives the cells of one row, in column order.
pub type Emit<'e> = &'e mut dyn FnMut(&[Cell<'_>]) -> Result<()>;

/// Emits `sessions`' row of one session.
pub fn session_rows(report: &SessionReport, emit: Emit<'_>) -> Result<()> {
    let s = &report.session;
    emit(&[
        Cell::Text(Some(s.session_id.as_bytes())),
        Cell::Text(s.room_id.map(str::as_bytes)),
        Cell::Text(s.status.map(str::as_bytes)),
        Cell::Time(Some(s.started_at)),
        Cell::Time(Some(s.ended_at)),
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
        Cell::Int(Some(s.present)),
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
            Cell::Int(p.late_ms),
            Cell::Int(p.early_leave_ms),
            Cell::Flag(p.present),
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

/// A table whose rows are in memory, in report order: one group per row.
pub struct InMemory<'a, T> {
    pub spec: &'static TableSpec,
    pub rows: &'a [T],
    pub emit: fn(&T, Emit<'_>) -> Result<()>,
}

impl<T: Sync> Table for InMemory<'_, T> {
    fn spec(&self) -> &'static TableSpec {
        self.spec
    }
    fn row_count(&self) -> usize {
        self.rows.len()
    }
    fn group_count(&self) -> usize {
        self.rows.len()
    }
    fn group_rows_in(&self, groups: Range<usize>) -> Result<Vec<usize>> {
        Ok(groups
            .map(|group| usize::from(group < self.rows.len()))
            .collect())
    }
    fn for_each_row_in(&self, groups: Range<usize>, emit: Emit<'_>) -> Result<()> {
        for row in self.rows.get(groups).unwrap_or_default() {
            (self.emit)(row, emit)?;
        }
        Ok(())
    }
}

/// `rejects`: by (`path`, `line`), one group per reject of the walk or per stretch of a file's
/// rejects, read back from the temporary file they were kept in.
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
    fn group_rows_in(&self, groups: Range<usize>) -> Result<Vec<usize>> {
        Ok(groups.map(|group| self.0.group_rows(group)).collect())
    }
    fn for_each_row_in(&self, groups: Range<usize>, emit: Emit<'_>) -> Result<()> {
        self.0
            .for_each_in(groups, &mut |reject| reject_row(reject, &mut *emit))
    }
}

fn date(period: chrono::NaiveDate) -> Cell<'static> {
    Cell::Date(Some(days_since_epoch(period)))
}

/// Emits a `rooms` row.
pub fn room_row(r: &RoomRow, emit: Emit<'_>) -> Result<()> {
    emit(&[
        date(r.period),
        Cell::Text(r.room_id.as_deref().map(str::as_bytes)),
        Cell::Int(Some(r.sessions)),
        Cell::Int(Some(r.ongoing)),
        Cell::Int(Some(r.participants)),
        Cell::Int(Some(r.present)),
        Cell::Int(Some(r.participant_ms)),
        Cell::Int(Some(r.duration_ms)),
        Cell::Int(Some(r.peak_concurrency)),
        Cell::Time(Some(r.first_start)),
        Cell::Time(Some(r.last_end)),
    ])
}

/// Emits a `people` row.
pub fn person_row(p: &PersonRow, emit: Emit<'_>) -> Result<()> {
    emit(&[
        date(p.period),
        Cell::Text(Some(p.participant_id.as_bytes())),
        Cell::Text(p.name.as_deref().map(str::as_bytes)),
        Cell::Int(Some(p.sessions)),
        Cell::Int(Some(p.present_sessions)),
        Cell::Int(Some(p.rooms)),
        Cell::Int(Some(p.attended_ms)),
        Cell::Time(p.first_join),
        Cell::Time(p.last_leave),
    ])
}

/// Emits an `account_concurrency` row.
pub fn account_row(step: &AccountStep, emit: Emit<'_>) -> Result<()> {
    emit(&[
        Cell::Time(Some(step.changed_at)),
        Cell::Int(Some(step.concurrency)),
    ])
}

/// Emits a `usage` row.
pub fn usage_row(u: &UsageRow, emit: Emit<'_>) -> Result<()> {
    emit(&[
        date(u.period),
        Cell::Int(Some(u.sessions)),
        Cell::Int(Some(u.rooms)),
        Cell::Int(Some(u.participants)),
        Cell::Int(Some(u.participant_ms)),
        Cell::Int(Some(u.peak_concurrency)),
        Cell::Time(u.peak_at),
        Cell::Int(u.over_quota_ms),
    ])
}

/// Emits a `rejects` row.
pub fn reject_row(reject: &Reject, emit: Emit<'_>) -> Result<()> {
    let reason = reject.reason.to_string();
    emit(&[
        Cell::Text(Some(reject.path.as_bytes())),
        Cell::Int(reject.line.and_then(|l| i64::try_from(l).ok())),
        Cell::Text(reject.session_id.as_deref().map(str::as_bytes)),
        Cell::Text(Some(reason.as_bytes())),
    ])
}
