//! What the rollups read of each parked session (its *facts*, `rollups::SessionFacts`): a few
//! columns of its `sessions`, `participants` and `concurrency` rows. Where a table is parked as
//! cells for the writers, the rollups read those; else only the columns they read are parked,
//! beside the report rows ([`spill::encode_projection`]): 23 cells where the reports' rows hold
//! 43. So a run that writes those reports as CSV lines parks no cell the rollups do not read.
use super::{SessionParts, PER_SESSION};
use crate::analysis::rollups::{ParticipantFacts, SessionFacts};
use crate::analysis::SessionReport;
use crate::report::spill::{self, decode_rows, Part, Spill};
use crate::report::tables::{self, Emit, ReportSet};
use crate::report::{Cell, Column, TableSpec};
use anyhow::{Context, Result};
use std::borrow::Cow;

/// A per-session table the rollups read, and the columns they read of it, in parked order.
pub struct FactTable {
    spec: &'static TableSpec,
    rows: fn(&SessionReport, Emit<'_>) -> Result<()>,
    /// The fact columns' positions in the table's rows, in parked order.
    keep: &'static [usize],
    /// Those columns: the projection's own.
    columns: &'static [Column],
}

const SESSION_FACTS: [&str; 14] = [
    "session_id",
    "room_id",
    "started_at",
    "ended_at",
    "ongoing",
    "duration_ms",
    "participant_ms",
    "peak_concurrency",
    "invalid_intervals",
    "invalid_participants",
    "clipped_ms",
    "pairs_skipped",
    "participants",
    "present",
];
const PARTICIPANT_FACTS: [&str; 7] = [
    "participant_id",
    "name",
    "present",
    "attended_ms",
    "first_join",
    "last_leave",
    "attendance_pct",
];
const TIMELINE_FACTS: [&str; 2] = ["changed_at", "concurrency"];

const SESSION_KEEP: [usize; 14] = keep(&tables::SESSIONS, SESSION_FACTS);
const PARTICIPANT_KEEP: [usize; 7] = keep(&tables::PARTICIPANTS, PARTICIPANT_FACTS);
const TIMELINE_KEEP: [usize; 2] = keep(&tables::CONCURRENCY, TIMELINE_FACTS);

/// The facts' tables, in the order their parts follow one another. The projections are
/// constants, so that each decoding loop is compiled for its columns (as for a table's own).
pub const FACT_TABLES: [FactTable; 3] = [
    FactTable {
        spec: &tables::SESSIONS,
        rows: tables::session_rows,
        keep: &SESSION_KEEP,
        columns: &project(&tables::SESSIONS, SESSION_KEEP),
    },
    FactTable {
        spec: &tables::PARTICIPANTS,
        rows: tables::participant_rows,
        keep: &PARTICIPANT_KEEP,
        columns: &project(&tables::PARTICIPANTS, PARTICIPANT_KEEP),
    },
    FactTable {
        spec: &tables::CONCURRENCY,
        rows: tables::concurrency_rows,
        keep: &TIMELINE_KEEP,
        columns: &project(&tables::CONCURRENCY, TIMELINE_KEEP),
    },
];

/// The positions of `names` among `spec`'s columns; a name it lacks fails the build.
const fn keep<const N: usize>(spec: &TableSpec, names: [&str; N]) -> [usize; N] {
    let mut positions = [0; N];
    let mut i = 0;
    while i < N {
        let mut at = 0;
        while !same(spec.columns[at].name, names[i]) {
            at += 1;
        }
        positions[i] = at;
        i += 1;
    }
    positions
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `spec`'s columns at `keep`.
const fn project<const N: usize>(spec: &TableSpec, keep: [usize; N]) -> [Column; N] {
    let mut columns = [spec.columns[0]; N];
    let mut i = 0;
    while i < N {
        columns[i] = spec.columns[keep[i]];
        i += 1;
    }
    columns
}

/// Whether the rollups read fact table `index` of a run with `reports`: `sessions` always (the
/// summary's figures come from it), the others when a selected rollup needs them.
fn wanted(index: usize, reports: &ReportSet) -> bool {
    match index {
        0 => true,
        1 => reports.needs_participants(),
        _ => reports.needs_timelines(),
    }
}

/// Whether fact table `index` is parked as a projection of its own: wanted, and not parked as
/// cells for the writers already.
fn projected(index: usize, reports: &ReportSet) -> bool {
    wanted(index, reports) && !reports.parks_cells(FACT_TABLES[index].spec)
}

/// Appends the projected facts of `report` ([`projected`]) to `out`, a part per fact table
/// (empty when not projected) in `sizes`: the bytes and rows of each.
pub fn encode(
    report: &SessionReport,
    reports: &ReportSet,
    sizes: &mut [(u32, u32)],
    out: &mut Vec<u8>,
) -> Result<()> {
    for (index, (size, table)) in sizes.iter_mut().zip(&FACT_TABLES).enumerate() {
        if projected(index, reports) {
            let part =
                spill::encode_projection(table.keep, |emit| (table.rows)(report, emit), out)?;
            *size = (part.len, part.rows);
        }
    }
    Ok(())
}

/// Where a run's rollups find the rows of one fact table: which part of a session (none when
/// no selected rollup reads the table), whether it is the projection or the table's cells, and
/// where each of the table's fact columns stands in those rows.
struct Source {
    part: Option<usize>,
    projected: bool,
    positions: &'static [usize],
}

/// The positions `0..N` (a projection's columns stand in their own order).
const IN_ORDER: [usize; SESSION_FACTS.len()] = {
    let mut positions = [0; SESSION_FACTS.len()];
    let mut i = 0;
    while i < positions.len() {
        positions[i] = i;
        i += 1;
    }
    positions
};

/// Where a run's rollups find their facts: one [`Source`] per fact table.
pub struct Layout {
    sources: Vec<Source>,
}

impl Layout {
    pub fn new(reports: &ReportSet) -> Layout {
        let sources = FACT_TABLES
            .iter()
            .enumerate()
            .map(|(index, table)| {
                if projected(index, reports) {
                    return Source {
                        part: Some(PER_SESSION.len() * 2 + index),
                        projected: true,
                        positions: &IN_ORDER,
                    };
                }
                // Parked as the table's cells, or not read.
                let cells = PER_SESSION
                    .iter()
                    .position(|t| t.spec.name == table.spec.name);
                Source {
                    part: cells.filter(|_| wanted(index, reports)),
                    projected: false,
                    positions: table.keep,
                }
            })
            .collect();
        Layout { sources }
    }

    /// Where column `name` of fact table `index` stands in the rows the rollups read.
    fn position(&self, index: usize, name: &str) -> usize {
        let fact_columns = FACT_TABLES[index].columns;
        let at = fact_columns.iter().position(|column| column.name == name);
        at.and_then(|at| self.sources.get(index)?.positions.get(at).copied())
            .unwrap_or(usize::MAX)
    }

    /// Where the facts of one parked session lie (none for the tables not read).
    fn parts(&self, session: &SessionParts) -> [Option<Part>; 3] {
        std::array::from_fn(|index| {
            let source = self.sources.get(index)?;
            source.part.map(|part| session.part(part))
        })
    }

    /// Reads the bytes of a session's facts with one read, from the first part to the end of
    /// the last (a session's parts lie one after the other).
    pub fn read_bytes(&self, spill: &Spill, session: &SessionParts) -> Result<Vec<u8>> {
        let parts = self.parts(session);
        let start = parts.iter().flatten().map(|part| part.offset).min();
        let start = start.unwrap_or(session.offset);
        let end = parts
            .iter()
            .flatten()
            .map(|part| part.offset + u64::from(part.len))
            .max()
            .unwrap_or(start);
        let region = Part {
            offset: start,
            len: u32::try_from(end - start).context("one session's rows exceed 4 GiB")?,
            rows: 0,
        };
        let mut bytes = Vec::new();
        spill.read(region, &mut bytes)?;
        Ok(bytes)
    }
}

/// Where the figures the rollups need stand in the facts' rows.
pub struct FactColumns {
    session_id: usize,
    room_id: usize,
    started_at: usize,
    ended_at: usize,
    ongoing: usize,
    duration_ms: usize,
    participant_ms: usize,
    peak_concurrency: usize,
    invalid_intervals: usize,
    invalid_participants: usize,
    clipped_ms: usize,
    pairs_skipped: usize,
    participants: usize,
    present_count: usize,
    participant_id: usize,
    name: usize,
    present: usize,
    attended_ms: usize,
    first_join: usize,
    last_leave: usize,
    attendance_pct: usize,
    changed_at: usize,
    concurrency: usize,
}

impl FactColumns {
    pub fn new(layout: &Layout) -> FactColumns {
        let position = |index, name| layout.position(index, name);
        let (s, p, c) = (0, 1, 2);
        FactColumns {
            session_id: position(s, "session_id"),
            room_id: position(s, "room_id"),
            started_at: position(s, "started_at"),
            ended_at: position(s, "ended_at"),
            ongoing: position(s, "ongoing"),
            duration_ms: position(s, "duration_ms"),
            participant_ms: position(s, "participant_ms"),
            peak_concurrency: position(s, "peak_concurrency"),
            invalid_intervals: position(s, "invalid_intervals"),
            invalid_participants: position(s, "invalid_participants"),
            clipped_ms: position(s, "clipped_ms"),
            pairs_skipped: position(s, "pairs_skipped"),
            participants: position(s, "participants"),
            present_count: position(s, "present"),
            participant_id: position(p, "participant_id"),
            name: position(p, "name"),
            present: position(p, "present"),
            attended_ms: position(p, "attended_ms"),
            first_join: position(p, "first_join"),
            last_leave: position(p, "last_leave"),
            attendance_pct: position(p, "attendance_pct"),
            changed_at: position(c, "changed_at"),
            concurrency: position(c, "concurrency"),
        }
    }
}

/// A text cell, borrowed from the rows read back (they were valid UTF-8 when written).
fn text_cell<'b>(cells: &[Cell<'b>], at: usize) -> Option<Cow<'b, str>> {
    match cells.get(at) {
        // The spill's texts came from `&str`s: checked with SIMD, never replaced in fact.
        Some(Cell::Text(Some(bytes))) => Some(
            simdutf8::basic::from_utf8(bytes)
                .map_or_else(|_| String::from_utf8_lossy(bytes), Cow::Borrowed),
        ),
        _ => None,
    }
}

fn int_cell(cells: &[Cell<'_>], at: usize) -> Option<i64> {
    match cells.get(at) {
        Some(Cell::Int(value) | Cell::Time(value)) => *value,
        _ => None,
    }
}

fn float_cell(cells: &[Cell<'_>], at: usize) -> Option<f64> {
    match cells.get(at) {
        Some(Cell::Float(value)) => *value,
        _ => None,
    }
}

fn flag_cell(cells: &[Cell<'_>], at: usize) -> bool {
    matches!(cells.get(at), Some(Cell::Flag(true)))
}

/// What the rollups need of one parked session, decoded from the bytes
/// [`Layout::read_bytes`] read (its texts borrowed from them).
pub fn decode<'b>(
    session: &SessionParts,
    layout: &Layout,
    at: &FactColumns,
    bytes: &'b [u8],
) -> Result<SessionFacts<'b>> {
    let parts = layout.parts(session);
    let first = parts.iter().flatten().map(|part| part.offset).min();
    let first = first.unwrap_or(session.offset);
    let slice = |part: Option<Part>| -> Result<&'b [u8]> {
        let Some(part) = part else {
            return Ok(&[]);
        };
        part.offset
            .checked_sub(first)
            .and_then(|start| usize::try_from(start).ok())
            .and_then(|start| bytes.get(start..start.checked_add(part.len as usize)?))
            .context("internal error: a part out of place in the temporary file")
    };
    let [session_row, participant_rows, timeline_rows] = parts;
    let [sessions, participants, timeline] = &layout.sources[..] else {
        anyhow::bail!("internal error: the facts' tables are not three");
    };
    let mut facts = SessionFacts::default();
    decode_fact_rows(
        &FACT_TABLES[0],
        sessions.projected,
        slice(session_row)?,
        |cells: &[Cell<'b>]| {
            session_row_facts(&mut facts, at, cells);
            Ok(())
        },
    )?;
    facts
        .participants
        .reserve_exact(participant_rows.map_or(0, |part| part.rows as usize));
    decode_fact_rows(
        &FACT_TABLES[1],
        participants.projected,
        slice(participant_rows)?,
        |cells: &[Cell<'b>]| {
            facts.participants.push(participant_facts(at, cells));
            Ok(())
        },
    )?;
    facts
        .timeline
        .reserve_exact(timeline_rows.map_or(0, |part| part.rows as usize));
    decode_fact_rows(
        &FACT_TABLES[2],
        timeline.projected,
        slice(timeline_rows)?,
        |cells: &[Cell<'b>]| {
            facts.timeline.push((
                int_cell(cells, at.changed_at).unwrap_or_default(),
                int_cell(cells, at.concurrency).unwrap_or_default(),
            ));
            Ok(())
        },
    )?;
    Ok(facts)
}

/// Decodes the rows of fact table `table` from its projection or from its table's cells. Inlined
/// with a constant `table`, each loop is compiled for constant columns, as a table's own is
/// (with the columns known only at run time, the rollup pass took 1.5 % more instructions).
#[inline(always)]
fn decode_fact_rows<'b>(
    table: &FactTable,
    projected: bool,
    bytes: &'b [u8],
    emit: impl FnMut(&[Cell<'b>]) -> Result<()>,
) -> Result<()> {
    if projected {
        decode_rows(table.columns, bytes, emit)
    } else {
        decode_rows(table.spec.columns, bytes, emit)
    }
}

/// The figures of a session's `sessions` row. Its own function, inlined into both loops of
/// [`decode_fact_rows`]: a closure used in both was left a call per row.
#[inline(always)]
fn session_row_facts<'b>(facts: &mut SessionFacts<'b>, at: &FactColumns, cells: &[Cell<'b>]) {
    facts.session_id = text_cell(cells, at.session_id).unwrap_or_default();
    facts.room_id = text_cell(cells, at.room_id);
    facts.started_at = int_cell(cells, at.started_at).unwrap_or_default();
    facts.ended_at = int_cell(cells, at.ended_at).unwrap_or_default();
    facts.ongoing = flag_cell(cells, at.ongoing);
    facts.duration_ms = int_cell(cells, at.duration_ms).unwrap_or_default();
    facts.participant_ms = int_cell(cells, at.participant_ms).unwrap_or_default();
    facts.peak_concurrency = int_cell(cells, at.peak_concurrency).unwrap_or_default();
    facts.invalid_intervals = int_cell(cells, at.invalid_intervals).unwrap_or_default();
    facts.invalid_participants = int_cell(cells, at.invalid_participants).unwrap_or_default();
    facts.clipped_ms = int_cell(cells, at.clipped_ms).unwrap_or_default();
    facts.pairs_skipped = flag_cell(cells, at.pairs_skipped);
    facts.participant_count = int_cell(cells, at.participants).unwrap_or_default();
    facts.present_count = int_cell(cells, at.present_count).unwrap_or_default();
}

/// The figures of one `participants` row (inlined as [`session_row_facts`] is).
#[inline(always)]
fn participant_facts<'b>(at: &FactColumns, cells: &[Cell<'b>]) -> ParticipantFacts<'b> {
    ParticipantFacts {
        participant_id: text_cell(cells, at.participant_id).unwrap_or_default(),
        name: text_cell(cells, at.name),
        present: flag_cell(cells, at.present),
        attended_ms: int_cell(cells, at.attended_ms).unwrap_or_default(),
        first_join: int_cell(cells, at.first_join),
        last_leave: int_cell(cells, at.last_leave),
        attendance_pct: float_cell(cells, at.attendance_pct),
    }
}
