//! The `analyze` pipeline: read every input file in parallel (a large NDJSON file or `.json`
//! array in chunks of lines or items that threads share), analyze each session while its bytes are in memory, park its
//! report rows in the spill, keep one copy of each session id, keep the sessions of the
//! `--since`/`--until` window, put them in report order, and roll them up (rooms, people,
//! account concurrency, usage; and the HTML report's overview, in the same pass).
use crate::analysis::overview::Overview;
use crate::analysis::rollups::{
    AccountStep, KeptRows, ParticipantFacts, PersonRow, RollupSink, RollupTables, Rollups, RoomRow,
    SessionFacts,
};
use crate::analysis::{analyze_session, Config, SessionReport};
use crate::ingest::rejects::{FileLog, FileRejects, RejectLog, RejectSpill};
use crate::ingest::walk::InputFile;
use crate::ingest::{
    read_chunk, read_file, read_file_chunks, Chunk, IdentifiedSession, Limits, Origin,
    ReadProgress, Reject,
};
use crate::report::spill::{decode_wanted_rows, encode_rows, Part, Spill, SpilledTable};
use crate::report::tables::{self, InMemory, ReportSet, PER_SESSION};
use crate::report::{Cell, Table, TableSpec};
use crate::time::Millis;
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::borrow::Cow;
use std::cmp::{Ordering, Reverse};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Mutex;

mod order;
mod parts;
use order::Runs;
pub use parts::PartsFile;
use parts::PartsWriter;

/// The analyzed input: sessions in report order, their rows in the spill.
pub struct Analysis {
    /// Where the rows of each session lie: one per session id, ordered by (`start`,
    /// `session_id`).
    pub sessions: PartsFile,
    /// Ordered by (`path`, `line`), then position in the file; kept in a temporary file.
    pub rejects: RejectLog,
    /// Copies of a session id that lost to another copy (docs/reference.md §2).
    pub duplicates_dropped: usize,
    /// Sessions whose start lies outside `--since`/`--until` (docs/reference.md §10).
    pub outside_window: usize,
    /// Ongoing sessions whose latest recorded instant lies more than a day before as-of: an
    /// as-of that makes them last far longer than the data shows.
    pub stale_ongoing: usize,
    /// The rollups: empty until [`Analysis::roll_up_while_writing`].
    pub rolled: RolledUp,
    /// The reports computed (`--reports`).
    pub reports: ReportSet,
    spill: Spill,
}

/// A session's place in the reports: what ordering and the duplicate rule need, and where its
/// rows are parked. They are sorted in bounded runs ([`order`]).
#[derive(Debug, Clone)]
pub struct Parked {
    session_id: Box<str>,
    start: Millis,
    end: Millis,
    ongoing: bool,
    /// Ongoing, with data that stops more than a day before as-of.
    stale: bool,
    timelog_entries: u32,
    origin: Origin,
    /// Its rows of each table of [`PER_SESSION`].
    parts: SessionParts,
}

/// Where a session's rows of each table of [`PER_SESSION`] lie: one after the other from
/// `offset`, as [`encode_session`] wrote them. Once the sessions are ordered, they wait in a
/// temporary file ([`parts`]) until the reports are written.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionParts {
    offset: u64,
    /// Per table, the bytes and the rows.
    sizes: [(u32, u32); PER_SESSION.len()],
}

impl SessionParts {
    /// Its encoded size: the offset, then each table's bytes and rows, little-endian.
    pub const BYTES: usize = 8 + 8 * PER_SESSION.len();

    /// Appends its [`SessionParts::BYTES`] bytes to `out`.
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offset.to_le_bytes());
        for (len, rows) in self.sizes {
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&rows.to_le_bytes());
        }
    }

    /// Decodes what [`SessionParts::encode`] wrote (0 for bytes missing: callers read whole
    /// records).
    fn decode(bytes: &[u8]) -> SessionParts {
        let mut sizes = [(0, 0); PER_SESSION.len()];
        for (i, size) in sizes.iter_mut().enumerate() {
            *size = (read_u32(bytes, 8 + 8 * i), read_u32(bytes, 12 + 8 * i));
        }
        SessionParts {
            offset: read_u64(bytes, 0),
            sizes,
        }
    }

    /// The part of table `index` of [`PER_SESSION`].
    fn part(&self, index: usize) -> Part {
        let before: u64 = self.sizes[..index.min(self.sizes.len())]
            .iter()
            .map(|&(len, _)| u64::from(len))
            .sum();
        let (len, rows) = self.sizes.get(index).copied().unwrap_or_default();
        Part {
            offset: self.offset + before,
            len,
            rows,
        }
    }

    /// Where its rows of the per-session table `spec` lie.
    fn of(&self, spec: &TableSpec) -> Part {
        PER_SESSION
            .iter()
            .position(|table| table.spec.name == spec.name)
            .map(|i| self.part(i))
            .unwrap_or_default()
    }
}

/// The little-endian number at `at` (0 past the end: callers check lengths first).
fn read_u32(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// Encodes a session's rows of each table of [`PER_SESSION`] that `reports` spills onto `buf`,
/// one table after the other (the others get an empty part); the offset is relative to `buf`.
fn encode_session(
    report: &SessionReport,
    reports: &ReportSet,
    buf: &mut Vec<u8>,
) -> Result<SessionParts> {
    let mut parts = SessionParts {
        offset: buf.len() as u64,
        ..SessionParts::default()
    };
    for (size, table) in parts.sizes.iter_mut().zip(PER_SESSION) {
        if reports.spills(table.spec) {
            let part = encode_rows(table.spec.columns, |emit| (table.rows)(report, emit), buf)?;
            *size = (part.len, part.rows);
        }
    }
    Ok(parts)
}

/// A report table that borrows the analysis.
pub type TableRef<'a> = Box<dyn Table + Sync + 'a>;

impl Analysis {
    /// The report tables selected by `--reports`, in the order they are written.
    pub fn tables(&self) -> Vec<TableRef<'_>> {
        let mut tables = self.per_session_tables();
        tables.extend(self.rollup_tables(&self.rolled));
        tables
    }

    /// The selected tables of [`PER_SESSION`]: they need no rollup.
    fn per_session_tables(&self) -> Vec<TableRef<'_>> {
        PER_SESSION
            .iter()
            .enumerate()
            .filter(|(_, table)| self.reports.has(table.spec.name))
            .map(|(i, table)| {
                let sessions = &self.sessions;
                Box::new(SpilledTable {
                    spec: table.spec,
                    spill: &self.spill,
                    groups: sessions.len(),
                    rows: sessions.rows(i),
                    parts: Box::new(move |groups| {
                        Ok(sessions.read(groups)?.iter().map(|s| s.part(i)).collect())
                    }),
                }) as TableRef<'_>
            })
            .collect()
    }

    /// The selected rollup tables of `rolled`, then `rejects`.
    fn rollup_tables<'a>(&'a self, rolled: &'a RolledUp) -> Vec<TableRef<'a>> {
        let mut out: Vec<TableRef<'a>> = Vec::new();
        let spilled = &rolled.parts;
        for (spec, parts) in [
            (&tables::ROOMS, &spilled.rooms),
            (&tables::PEOPLE, &spilled.people),
            (&tables::ACCOUNT_CONCURRENCY, &spilled.account),
        ] {
            out.push(Box::new(SpilledTable {
                spec,
                spill: &self.spill,
                groups: parts.len(),
                rows: parts.iter().map(|part| part.rows as usize).sum(),
                parts: Box::new(move |groups| Ok(parts.get(groups).unwrap_or_default().to_vec())),
            }));
        }
        out.push(Box::new(InMemory {
            spec: &tables::USAGE,
            rows: &rolled.tables.usage,
            emit: tables::usage_row,
        }));
        out.push(Box::new(tables::Rejects(&self.rejects)));
        out.retain(|table| self.reports.has(table.spec().name));
        out
    }

    /// Makes the rollups (one pass over the sessions in report order) while `write` writes
    /// the per-session tables, then has `write` write the rollup tables and `rejects` (while
    /// the per-session tables may still be written). Returns what `write` returned, in table
    /// order. Both halves share the current rayon pool.
    pub fn roll_up_while_writing<T: Send>(
        &mut self,
        config: &Config,
        write: impl Fn(&[&(dyn Table + Sync)]) -> Result<Vec<T>> + Sync,
    ) -> Result<Vec<T>> {
        let write_tables = |tables: Vec<TableRef<'_>>| {
            let tables: Vec<&(dyn Table + Sync)> = tables.iter().map(|t| t.as_ref()).collect();
            write(&tables)
        };
        let (rolled, per_session) = rayon::join(
            || -> Result<(RolledUp, Vec<T>)> {
                let rolled = roll_up(&self.spill, &self.sessions, config)?;
                let written = write_tables(self.rollup_tables(&rolled))?;
                Ok((rolled, written))
            },
            || write_tables(self.per_session_tables()),
        );
        let (rolled, rollup_written) = rolled?;
        self.rolled = rolled;
        let mut written = per_session?;
        written.extend(rollup_written);
        Ok(written)
    }
}

/// Where the figures the rollups need stand in the spilled rows.
struct FactColumns {
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
    /// The columns above, marked in `sessions`, `participants` and `concurrency`.
    wanted: [Vec<bool>; 3],
}

/// The position of column `name` in `spec` (the tables are fixed, so a miss is a bug caught by
/// every test that computes a rollup).
fn position(spec: &TableSpec, name: &str) -> usize {
    spec.columns
        .iter()
        .position(|c| c.name == name)
        .unwrap_or(usize::MAX)
}

impl FactColumns {
    fn new() -> FactColumns {
        let specs = [
            &tables::SESSIONS,
            &tables::PARTICIPANTS,
            &tables::CONCURRENCY,
        ];
        // Each column named here is marked as wanted in its table (0 `sessions`, 1
        // `participants`, 2 `concurrency`), so that the rollups' decoder reads it and no other.
        let mut wanted = specs.map(|spec| vec![false; spec.columns.len()]);
        let mut pick = |table: usize, name: &str| -> usize {
            let at = position(specs[table], name);
            if let Some(mark) = wanted[table].get_mut(at) {
                *mark = true;
            }
            at
        };
        FactColumns {
            session_id: pick(0, "session_id"),
            room_id: pick(0, "room_id"),
            started_at: pick(0, "started_at"),
            ended_at: pick(0, "ended_at"),
            ongoing: pick(0, "ongoing"),
            duration_ms: pick(0, "duration_ms"),
            participant_ms: pick(0, "participant_ms"),
            peak_concurrency: pick(0, "peak_concurrency"),
            invalid_intervals: pick(0, "invalid_intervals"),
            invalid_participants: pick(0, "invalid_participants"),
            clipped_ms: pick(0, "clipped_ms"),
            pairs_skipped: pick(0, "pairs_skipped"),
            participants: pick(0, "participants"),
            present_count: pick(0, "present"),
            participant_id: pick(1, "participant_id"),
            name: pick(1, "name"),
            present: pick(1, "present"),
            attended_ms: pick(1, "attended_ms"),
            first_join: pick(1, "first_join"),
            last_leave: pick(1, "last_leave"),
            attendance_pct: pick(1, "attendance_pct"),
            changed_at: pick(2, "changed_at"),
            concurrency: pick(2, "concurrency"),
            wanted,
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

/// A text cell's bytes, borrowed from the rows read back, for a text the rollups seldom read.
fn bytes_cell<'b>(cells: &[Cell<'b>], at: usize) -> Option<Cow<'b, [u8]>> {
    match cells.get(at) {
        Some(Cell::Text(Some(bytes))) => Some(Cow::Borrowed(bytes)),
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

/// The parts of one parked session the rollups read (`sessions`, and `participants` and
/// `concurrency` when a selected rollup needs them), as they lie in the spill.
fn fact_parts(session: &SessionParts, reports: &ReportSet) -> [Option<Part>; 3] {
    [
        Some(session.of(&tables::SESSIONS)),
        reports
            .needs_participants()
            .then(|| session.of(&tables::PARTICIPANTS)),
        reports
            .needs_timelines()
            .then(|| session.of(&tables::CONCURRENCY)),
    ]
}

/// Reads the bytes of a session's fact parts with one read: a session's parts lie one after
/// the other, from its `sessions` row on.
fn read_fact_bytes(spill: &Spill, session: &SessionParts, reports: &ReportSet) -> Result<Vec<u8>> {
    let parts = fact_parts(session, reports);
    let first = session.of(&tables::SESSIONS);
    let end = parts
        .iter()
        .flatten()
        .map(|part| part.offset + u64::from(part.len))
        .max()
        .unwrap_or(first.offset);
    let region = Part {
        offset: first.offset,
        len: u32::try_from(end - first.offset).context("one session's rows exceed 4 GiB")?,
        rows: 0,
    };
    let mut bytes = Vec::new();
    spill.read(region, &mut bytes)?;
    Ok(bytes)
}

/// What the rollups need of one parked session, decoded from the bytes [`read_fact_bytes`]
/// read (its texts borrowed from them).
fn session_facts<'b>(
    session: &SessionParts,
    at: &FactColumns,
    reports: &ReportSet,
    bytes: &'b [u8],
) -> Result<SessionFacts<'b>> {
    let first = session.of(&tables::SESSIONS).offset;
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
    let [session_row, participant_rows, timeline_rows] = fact_parts(session, reports);
    let participant_count = participant_rows.map_or(0, |part| part.rows as usize);
    let step_count = timeline_rows.map_or(0, |part| part.rows as usize);
    let (session_row, participant_rows, timeline_rows) = (
        slice(session_row)?,
        slice(participant_rows)?,
        slice(timeline_rows)?,
    );
    let mut facts = SessionFacts::default();
    decode_wanted_rows(
        tables::SESSIONS.columns,
        &at.wanted[0],
        session_row,
        |cells: &[Cell<'b>]| {
            facts.session_id = text_cell(cells, at.session_id).unwrap_or_default();
            facts.room_id = text_cell(cells, at.room_id);
            facts.started_at = int_cell(cells, at.started_at).unwrap_or_default();
            facts.ended_at = int_cell(cells, at.ended_at).unwrap_or_default();
            facts.ongoing = flag_cell(cells, at.ongoing);
            facts.duration_ms = int_cell(cells, at.duration_ms).unwrap_or_default();
            facts.participant_ms = int_cell(cells, at.participant_ms).unwrap_or_default();
            facts.peak_concurrency = int_cell(cells, at.peak_concurrency).unwrap_or_default();
            facts.invalid_intervals = int_cell(cells, at.invalid_intervals).unwrap_or_default();
            facts.invalid_participants =
                int_cell(cells, at.invalid_participants).unwrap_or_default();
            facts.clipped_ms = int_cell(cells, at.clipped_ms).unwrap_or_default();
            facts.pairs_skipped = flag_cell(cells, at.pairs_skipped);
            facts.participant_count = int_cell(cells, at.participants).unwrap_or_default();
            facts.present_count = int_cell(cells, at.present_count).unwrap_or_default();
            Ok(())
        },
    )?;
    facts.participants.reserve_exact(participant_count);
    decode_wanted_rows(
        tables::PARTICIPANTS.columns,
        &at.wanted[1],
        participant_rows,
        |cells: &[Cell<'b>]| {
            facts.participants.push(ParticipantFacts {
                participant_id: text_cell(cells, at.participant_id).unwrap_or_default(),
                name: bytes_cell(cells, at.name),
                present: flag_cell(cells, at.present),
                attended_ms: int_cell(cells, at.attended_ms).unwrap_or_default(),
                first_join: int_cell(cells, at.first_join),
                last_leave: int_cell(cells, at.last_leave),
                attendance_pct: float_cell(cells, at.attendance_pct),
            });
            Ok(())
        },
    )?;
    facts.timeline.reserve_exact(step_count);
    decode_wanted_rows(
        tables::CONCURRENCY.columns,
        &at.wanted[2],
        timeline_rows,
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

/// Rows of a rollup table per group in the spill: a group is the unit a CSV task renders,
/// so it stays small whatever a period holds.
const ROLLUP_GROUP_ROWS: usize = 256;

/// Where the rollup rows handed out by [`Rollups`] lie in the spill.
#[derive(Default)]
struct RollupParts {
    rooms: Vec<Part>,
    people: Vec<Part>,
    account: Vec<Part>,
}

/// A [`RollupSink`] that encodes the rows into the spill, and keeps a copy in memory when
/// the HTML report is wanted.
struct SpillSink<'s> {
    spill: &'s Spill,
    buf: Vec<u8>,
    parts: RollupParts,
    kept: Option<KeptRows>,
}

impl SpillSink<'_> {
    /// Appends `rows` to the spill in groups of [`ROLLUP_GROUP_ROWS`]; returns their parts.
    fn append<T>(
        &mut self,
        spec: &TableSpec,
        rows: &[T],
        emit: fn(&T, tables::Emit<'_>) -> Result<()>,
    ) -> Result<Vec<Part>> {
        self.buf.clear();
        let mut parts = Vec::new();
        for group in rows.chunks(ROLLUP_GROUP_ROWS) {
            let part = encode_rows(
                spec.columns,
                |out| group.iter().try_for_each(|row| emit(row, &mut *out)),
                &mut self.buf,
            )?;
            parts.push(part);
        }
        let base = self.spill.append(&self.buf)?;
        for part in &mut parts {
            part.offset += base;
        }
        Ok(parts)
    }
}

impl RollupSink for SpillSink<'_> {
    fn rooms(&mut self, rows: &[RoomRow]) -> Result<()> {
        let parts = self.append(&tables::ROOMS, rows, tables::room_row)?;
        self.parts.rooms.extend(parts);
        self.kept.as_mut().map_or(Ok(()), |kept| kept.rooms(rows))
    }
    fn people(&mut self, rows: &[PersonRow<'_>]) -> Result<()> {
        let parts = self.append(&tables::PEOPLE, rows, tables::person_row)?;
        self.parts.people.extend(parts);
        self.kept.as_mut().map_or(Ok(()), |kept| kept.people(rows))
    }
    fn account(&mut self, steps: &[AccountStep]) -> Result<()> {
        let parts = self.append(&tables::ACCOUNT_CONCURRENCY, steps, tables::account_row)?;
        self.parts.account.extend(parts);
        self.kept
            .as_mut()
            .map_or(Ok(()), |kept| kept.account(steps))
    }
}

/// What one pass over the kept sessions (in report order) makes.
#[derive(Default)]
pub struct RolledUp {
    /// `usage` and the headline's figures.
    pub tables: RollupTables,
    /// Where the rows of `rooms`, `people` and `account_concurrency` lie in the spill.
    parts: RollupParts,
    /// The rows of `rooms`, `people` and `account_concurrency`, held in memory only for the
    /// HTML report (empty without it); the tables read them from the spill.
    pub kept: KeptRows,
    /// What the HTML report shows beyond the tables (docs/html.md).
    pub overview: Overview,
}

/// Sessions whose facts are read back at once for the rollup pass.
const FACTS_BATCH: usize = 512;

/// The rollup tables (their rows appended to the spill) and the overview of the kept
/// sessions, in one pass.
fn roll_up(spill: &Spill, sessions: &PartsFile, config: &Config) -> Result<RolledUp> {
    let columns = FactColumns::new();
    let sink = SpillSink {
        spill,
        buf: Vec::new(),
        parts: RollupParts::default(),
        kept: config.reports.html().then(KeptRows::default),
    };
    let mut rollups = Rollups::new(config.calendar, config.quota, sink);
    rollups.account_known = config.reports.needs_timelines();
    let mut overview = Overview::default();
    // The adding is sequential (report order); reading the facts back is not: the pool
    // decodes a batch, then reads the next one while this one is added.
    let reports = &config.reports;
    let read_batch = |range: std::ops::Range<usize>| -> Result<(Vec<SessionParts>, Vec<Vec<u8>>)> {
        let batch = sessions.read(range)?;
        let bytes = batch
            .par_iter()
            .map(|session| read_fact_bytes(spill, session, reports))
            .collect::<Result<_>>()?;
        Ok((batch, bytes))
    };
    let mut batches = (0..sessions.len())
        .step_by(FACTS_BATCH)
        .map(|start| start..sessions.len().min(start + FACTS_BATCH));
    let mut current = batches.next().map(read_batch).transpose()?;
    while let Some((batch, bytes)) = current {
        let facts: Vec<SessionFacts<'_>> = batch
            .par_iter()
            .zip(&bytes)
            .map(|(session, bytes)| session_facts(session, &columns, reports, bytes))
            .collect::<Result<_>>()?;
        let (next, added) = rayon::join(
            || batches.next().map(read_batch).transpose(),
            || {
                facts.iter().try_for_each(|f| {
                    overview.add(f);
                    rollups.add(f)
                })
            },
        );
        added?;
        current = next?;
    }
    let (tables, sink) = rollups.finish()?;
    spill.finish_writing()?;
    Ok(RolledUp {
        tables,
        parts: sink.parts,
        kept: sink.kept.unwrap_or_default(),
        overview,
    })
}

impl Parked {
    fn preference(&self, other: &Parked) -> Ordering {
        let key =
            |p: &Parked| preference_key(p.ongoing, p.end, p.timelog_entries as usize, p.origin);
        key(self).cmp(&key(other))
    }
}

/// docs/reference.md §2: the copy with an `end`; then the latest `end`; then the most timelog
/// entries; then the first in path order. The smaller key is the copy kept.
fn preference_key(ongoing: bool, end: Millis, timelog_entries: usize, origin: Origin) -> impl Ord {
    (
        Reverse(!ongoing),
        Reverse((!ongoing).then_some(end)),
        Reverse(timelog_entries),
        origin,
    )
}

/// `--as-of latest` (docs/reference.md §3): the latest parseable instant of the sessions kept
/// after the duplicate rule, found by a first, lighter pass over the input (nothing is
/// analyzed; rejects are left to the real pass), telling `progress` what it reads. `None` when
/// no session has one.
pub fn latest_instant(
    files: &[InputFile],
    limits: &Limits,
    progress: &dyn ReadProgress,
) -> Option<Millis> {
    struct Discard;
    impl crate::ingest::RejectSink for Discard {
        fn reject(&mut self, _: Reject) {}
    }
    /// A copy of a session: its id, what the duplicate rule compares, its latest instant.
    type Copy = (String, bool, Millis, usize, Origin, Option<Millis>);
    let mut copies: Vec<Copy> = files
        .par_iter()
        .enumerate()
        .flat_map_iter(|(rank, file)| {
            let mut found = Vec::new();
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            read_file(file, rank, limits, progress, &mut Discard, |session| {
                let end = crate::ingest::document::text(&session.raw.end)
                    .and_then(crate::time::parse_rfc3339);
                found.push((
                    session.id.to_owned(),
                    end.is_none(),
                    end.unwrap_or_default(),
                    session.raw.timelog_entries(),
                    session.origin,
                    session.raw.latest_instant(),
                ));
            });
            found
        })
        .collect();
    copies.par_sort_unstable_by(|a, b| {
        a.0.as_bytes().cmp(b.0.as_bytes()).then_with(|| {
            preference_key(a.1, a.2, a.3, a.4).cmp(&preference_key(b.1, b.2, b.3, b.4))
        })
    });
    copies.dedup_by(|later, kept| later.0 == kept.0);
    copies.iter().filter_map(|copy| copy.5).max()
}

/// Encoded rows of one file's sessions, written to the spill in batches; the sessions then go
/// to the runs that order them.
struct Parker<'s> {
    spill: &'s Spill,
    runs: &'s Runs,
    buf: Vec<u8>,
    /// Sessions whose parts are still relative to `buf`.
    pending: Vec<Parked>,
}

/// An ongoing session whose data stops more than this long before as-of is worth a warning.
const STALE_AFTER_MS: Millis = 24 * 3_600_000;

/// Encoded rows kept in memory before they go to the spill.
const PARK_BATCH_BYTES: usize = 4 << 20;
/// The room a [`Parker`]'s buffer is made with: a batch and a session's rows past it, so that
/// it is not grown by copies (0.5 % of a CSV run's instructions); the pages never written to
/// (a small file's) are never touched.
const PARK_BUFFER_BYTES: usize = PARK_BATCH_BYTES + PARK_BATCH_BYTES / 4;

impl Parker<'_> {
    fn park(&mut self, session: Parked) -> Result<()> {
        self.pending.push(session);
        if self.buf.len() >= PARK_BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let base = self.spill.append(&self.buf)?;
        self.buf.clear();
        self.runs.add(self.pending.drain(..).map(|mut session| {
            session.parts.offset += base;
            session
        }))
    }
}

/// The rejects of one chunk of a file (of the whole file, for most).
type Unit = FileLog;

/// Where the reading threads put what they make: the rows, the sessions to order, the
/// rejects.
struct Parking<'a> {
    spill: &'a Spill,
    runs: &'a Runs,
    rejects: &'a RejectSpill,
}

/// Analyses the sessions `read` hands out (it reads a file or a chunk), parking their rows
/// in the spill, the sessions in the runs, and the rejects.
fn analyze_unit(
    parking: &Parking<'_>,
    config: &Config,
    read: impl FnOnce(&mut FileRejects<'_>, &mut dyn FnMut(IdentifiedSession<'_, '_>)),
) -> Result<Unit> {
    let mut parker = Parker {
        spill: parking.spill,
        runs: parking.runs,
        buf: Vec::with_capacity(PARK_BUFFER_BYTES),
        pending: Vec::new(),
    };
    let mut rejects = parking.rejects.for_file();
    let mut failure = Ok(());
    read(&mut rejects, &mut |session| {
        if failure.is_err() {
            return;
        }
        let report = analyze_session(session.id, session.raw, config);
        failure = encode_session(&report, &config.reports, &mut parker.buf).and_then(|parts| {
            let s = &report.session;
            parker.park(Parked {
                session_id: s.session_id.into(),
                start: s.started_at,
                end: s.ended_at,
                ongoing: s.ongoing,
                stale: s.ongoing
                    && session
                        .raw
                        .latest_instant()
                        .is_none_or(|latest| config.as_of.saturating_sub(latest) > STALE_AFTER_MS),
                // A document is at most --max-document-size (< 4 GiB): the count fits.
                timelog_entries: u32::try_from(session.raw.timelog_entries()).unwrap_or(u32::MAX),
                origin: session.origin,
                parts,
            })
        });
    });
    failure?;
    parker.flush()?;
    rejects.finish()
}

/// Reads a file on this thread, in chunks of whole documents (NDJSON lines, a JSON array's
/// items) that the other threads of the pool parse and analyze while it reads on. At most two
/// chunks per thread wait; beyond that, this thread works on the chunk it just read. The
/// file's last chunk (its only one, for most files) is worked on here too. The units come back
/// in file order.
fn read_in_chunks(
    file: &InputFile,
    rank: u32,
    limits: &Limits,
    progress: &dyn ReadProgress,
    parking: &Parking<'_>,
    config: &Config,
) -> Result<Vec<Unit>> {
    let path = file.name();
    let done = Mutex::new(Vec::new());
    let work = |chunk: Chunk| {
        let unit = analyze_unit(parking, config, |rejects, on_session| {
            read_chunk(&chunk, &path, rank, rejects, on_session)
        });
        done.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((chunk.index, unit));
    };
    let waiting = AtomicUsize::new(0);
    let most_waiting = 2 * rayon::current_num_threads();
    rayon::scope(|scope| {
        let mut held = None;
        read_file_chunks(file, limits, progress, |chunk| {
            let Some(chunk) = held.replace(chunk) else {
                return;
            };
            if waiting.load(AtomicOrdering::Acquire) < most_waiting {
                waiting.fetch_add(1, AtomicOrdering::AcqRel);
                let (work, waiting) = (&work, &waiting);
                scope.spawn(move |_| {
                    work(chunk);
                    waiting.fetch_sub(1, AtomicOrdering::AcqRel);
                });
            } else {
                work(chunk);
            }
        });
        if let Some(last) = held {
            work(last);
        }
    });
    let mut done = done
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, unit)| unit).collect()
}

/// Reads and analyzes `files` (already in path order) on the current rayon pool, parking rows
/// in a temporary file in `spill_dir` and telling `progress` what is read. `extra_rejects`
/// (from the walk) join the rejects report; `limits` bound what one document may cost.
/// Files are the unit of parallel work, and so are the chunks of a file's lines or items.
pub fn analyze_files(
    files: &[InputFile],
    config: &Config,
    limits: &Limits,
    extra_rejects: Vec<Reject>,
    spill_dir: &Path,
    progress: &dyn ReadProgress,
) -> Result<Analysis> {
    let inputs = Inputs {
        files,
        limits,
        extra_rejects,
        spill_dir,
    };
    analyze_in_runs(inputs, config, progress, order::RUN_SESSIONS)
}

/// What [`analyze_files`] reads, and where it may write its temporary files.
struct Inputs<'a> {
    files: &'a [InputFile],
    limits: &'a Limits,
    extra_rejects: Vec<Reject>,
    spill_dir: &'a Path,
}

/// [`analyze_files`], ordering the sessions in runs of `run_sessions` (tests make them small).
fn analyze_in_runs(
    inputs: Inputs<'_>,
    config: &Config,
    progress: &dyn ReadProgress,
    run_sessions: usize,
) -> Result<Analysis> {
    let spill = Spill::create_in(inputs.spill_dir)?;
    let by_id = Runs::new(inputs.spill_dir, order::by_id_then_preference, run_sessions)?;
    let reject_spill = RejectSpill::create_in(inputs.spill_dir)?;
    let parking = Parking {
        spill: &spill,
        runs: &by_id,
        rejects: &reject_spill,
    };
    let per_file: Vec<Vec<Unit>> = inputs
        .files
        .par_iter()
        .enumerate()
        .map(|(rank, file)| {
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            read_in_chunks(file, rank, inputs.limits, progress, &parking, config)
        })
        .collect::<Result<_>>()?;
    spill.finish_writing()?;
    // In file order: a file's chunks keep their rejects' order (the sort by path is stable).
    let file_rejects = per_file.into_iter().flatten().collect();
    let rejects = reject_spill.finish(inputs.extra_rejects, file_rejects)?;
    let kept = keep_one_per_id(by_id, config, inputs.spill_dir, run_sessions)?;
    Ok(Analysis {
        sessions: kept.sessions,
        rejects,
        duplicates_dropped: kept.duplicates_dropped,
        outside_window: kept.outside_window,
        stale_ongoing: kept.stale_ongoing,
        rolled: RolledUp::default(),
        reports: config.reports,
        spill,
    })
}

/// The sessions kept, in report order, and what was left out.
struct Kept {
    sessions: PartsFile,
    duplicates_dropped: usize,
    outside_window: usize,
    stale_ongoing: usize,
}

/// Keeps the preferred copy of every session id (`by_id` hands them out first), then the
/// sessions in the window, and orders them by (`start`, `session_id`).
fn keep_one_per_id(
    by_id: Runs,
    config: &Config,
    spill_dir: &Path,
    run_sessions: usize,
) -> Result<Kept> {
    let by_start = Runs::new(spill_dir, order::by_start_then_id, run_sessions)?;
    let mut previous_id = String::new();
    let mut first = true;
    let (mut duplicates_dropped, mut outside_window, mut stale_ongoing) = (0, 0, 0);
    by_id.merge(|session| {
        if !first && *previous_id == *session.session_id {
            duplicates_dropped += 1;
            return Ok(());
        }
        first = false;
        previous_id.clear();
        previous_id.push_str(&session.session_id);
        if !config.in_window(session.start) {
            outside_window += 1;
            return Ok(());
        }
        stale_ongoing += usize::from(session.stale);
        by_start.add([session])
    })?;
    let mut sessions = PartsWriter::new(spill_dir)?;
    by_start.merge(|session| sessions.push(&session.parts))?;
    Ok(Kept {
        sessions: sessions.finish()?,
        duplicates_dropped,
        outside_window,
        stale_ongoing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::walk::discover;
    use crate::ingest::NoProgress;
    use std::fs;

    const CONFIG: Config = Config::new(1_700_000_000_000);

    #[test]
    fn a_sessions_parts_follow_one_another() {
        let parts = SessionParts {
            offset: 100,
            sizes: [(10, 1), (0, 0), (5, 2), (7, 3)],
        };
        let at = |i| {
            let p = parts.part(i);
            (p.offset, p.len, p.rows)
        };
        assert_eq!(
            [at(0), at(1), at(2), at(3)],
            [(100, 10, 1), (110, 0, 0), (110, 5, 2), (115, 7, 3)]
        );
    }

    /// Writes `files` (name, content) into a folder and analyzes it.
    fn analyze(files: &[(&str, &str)]) -> Analysis {
        analyze_in_runs_of(files, order::RUN_SESSIONS)
    }

    /// [`analyze`], ordering the sessions in runs of `run_sessions`.
    fn analyze_in_runs_of(files: &[(&str, &str)], run_sessions: usize) -> Analysis {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            fs::write(dir.path().join(name), content).unwrap();
        }
        let found = discover(&[dir.path().to_path_buf()], None);
        let inputs = Inputs {
            files: &found.files,
            limits: &Limits::default(),
            extra_rejects: found.rejects,
            spill_dir: dir.path(),
        };
        let mut analysis = analyze_in_runs(inputs, &CONFIG, &NoProgress, run_sessions).unwrap();
        analysis
            .roll_up_while_writing(&CONFIG, |_| Ok(Vec::<()>::new()))
            .unwrap();
        analysis
    }

    /// The text cells of one column of one of `analysis`'s tables, read back from the spill.
    fn text_column(analysis: &Analysis, table: usize, column: usize) -> Vec<String> {
        let mut values = Vec::new();
        analysis.tables()[table]
            .for_each_row(&mut |cells| {
                values.push(match cells[column] {
                    crate::report::Cell::Text(text) => {
                        String::from_utf8_lossy(text.unwrap_or_default()).into_owned()
                    }
                    other => format!("{other:?}"),
                });
                Ok(())
            })
            .unwrap();
        values
    }

    fn session(id: &str, start: &str, end: Option<&str>, entries: usize) -> String {
        let timelog: Vec<String> = (0..entries)
            .map(|_| {
                format!(
                    r#"{{"start":"{start}","end":{}}}"#,
                    end.map_or("null".into(), |e| format!("\"{e}\""))
                )
            })
            .collect();
        format!(
            r#"{{"id":"{id}","start":"{start}","end":{},"participants":[{{"participantId":"p","timelog":[{}]}}]}}"#,
            end.map_or("null".into(), |e| format!("\"{e}\"")),
            timelog.join(",")
        )
    }

    /// Columns of `sessions`.
    const ENDED_AT: usize = 4;
    const ONGOING: usize = 5;
    const INTERVALS: usize = 16;

    const T0: &str = "2024-01-01T10:00:00.000Z";
    const T1: &str = "2024-01-01T11:00:00.000Z";
    const T2: &str = "2024-01-01T12:00:00.000Z";

    /// The progress counts every byte of every file once as stored (gzip's compressed bytes),
    /// and an array's twice: it is checked, then read.
    #[test]
    fn progress_counts_each_file_once_and_an_array_twice() {
        use std::sync::atomic::{AtomicU64, Ordering};
        #[derive(Default)]
        struct Sums {
            read: AtomicU64,
            again: AtomicU64,
        }
        impl ReadProgress for Sums {
            fn read(&self, bytes: u64) {
                self.read.fetch_add(bytes, Ordering::Relaxed);
            }
            fn read_again(&self, bytes: u64) {
                self.again.fetch_add(bytes, Ordering::Relaxed);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let one = session("a", "2024-05-01T10:00:00Z", None, 1);
        let lines: String = (0..2000)
            .map(|i| session(&format!("n{i}"), "2024-05-01T10:00:00Z", None, 2) + "\n")
            .collect();
        let array = format!("[{}]", vec![one.clone(); 3000].join(","));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, lines.as_bytes()).unwrap();
        let files: [(&str, Vec<u8>); 5] = [
            ("one.json", one.into_bytes()),
            ("lines.ndjson", lines.into_bytes()),
            ("lines.ndjson.gz", gz.finish().unwrap()),
            ("array.json", array.into_bytes()),
            ("broken.json", b"[{\"id\":\"x\"},".to_vec()),
        ];
        for (name, bytes) in &files {
            fs::write(dir.path().join(name), bytes).unwrap();
        }
        let found = discover(&[dir.path().to_path_buf()], None);
        let sums = Sums::default();
        let inputs = Inputs {
            files: &found.files,
            limits: &Limits::default(),
            extra_rejects: found.rejects,
            spill_dir: dir.path(),
        };
        analyze_in_runs(inputs, &CONFIG, &sums, order::RUN_SESSIONS).unwrap();
        let size = |name: &str| files.iter().find(|f| f.0 == name).unwrap().1.len() as u64;
        let all: u64 = files.iter().map(|f| f.1.len() as u64).sum();
        assert_eq!(sums.again.into_inner(), size("array.json"));
        assert_eq!(sums.read.into_inner(), all + size("array.json"));
    }

    #[test]
    fn the_ended_copy_wins_over_the_ongoing_one() {
        let a = analyze(&[
            ("1.json", &session("s", T0, None, 5)),
            ("2.json", &session("s", T0, Some(T1), 1)),
        ]);
        assert_eq!((a.sessions.len(), a.duplicates_dropped), (1, 1));
        assert_eq!(text_column(&a, 0, ONGOING), ["Flag(false)"]);
    }

    #[test]
    fn then_the_latest_end_then_the_most_entries_then_the_first_path() {
        let a = analyze(&[
            ("1.json", &session("s", T0, Some(T1), 3)),
            ("2.json", &session("s", T0, Some(T2), 1)),
        ]);
        let t2 = crate::time::parse_rfc3339(T2).unwrap();
        assert_eq!(text_column(&a, 0, ENDED_AT), [format!("Time(Some({t2}))")]);
        let a = analyze(&[
            ("1.json", &session("s", T0, Some(T1), 1)),
            ("2.json", &session("s", T0, Some(T1), 2)),
        ]);
        assert_eq!(text_column(&a, 0, INTERVALS), ["Int(Some(2))"]);
        let a = analyze(&[
            (
                "b.json",
                &session("s", T0, Some(T1), 1).replace("\"p\"", "\"second\""),
            ),
            (
                "a.json",
                &session("s", T0, Some(T1), 1).replace("\"p\"", "\"first\""),
            ),
        ]);
        assert_eq!(text_column(&a, 1, 2), ["first"]);
        assert_eq!(a.duplicates_dropped, 1);
    }

    /// Every row of every table of `analysis`, cells as `Debug` prints them.
    fn all_rows(analysis: &Analysis) -> Vec<String> {
        let mut rows = Vec::new();
        for table in analysis.tables() {
            table
                .for_each_row(&mut |cells| {
                    rows.push(format!("{}: {cells:?}", table.spec().name));
                    Ok(())
                })
                .unwrap();
        }
        rows
    }

    #[test]
    fn the_reports_do_not_depend_on_how_the_sessions_are_cut_into_runs() {
        // Copies of ids across files and inside one, starts that tie, an ongoing copy.
        let hour = |h: u32| format!("2024-01-01T{h:02}:00:00.000Z");
        let mut files: Vec<(String, String)> = Vec::new();
        for file in 0..4u32 {
            let docs: Vec<String> = (0..9u32)
                .map(|i| {
                    let id = format!("s{}", (i * 7 + file * 3) % 13);
                    let end = (i % 4 != 0).then(|| hour(3 + (i + file) % 5));
                    session(&id, &hour(i % 3), end.as_deref(), 1 + (i as usize % 3))
                })
                .collect();
            files.push((format!("{file}.ndjson"), docs.join("\n")));
        }
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(name, content)| (name.as_str(), content.as_str()))
            .collect();
        let whole = analyze(&files);
        assert_eq!(whole.sessions.len(), 13);
        assert_eq!(whole.duplicates_dropped, 36 - 13);
        for run_sessions in [1, 2, 5] {
            let cut = analyze_in_runs_of(&files, run_sessions);
            assert_eq!(cut.duplicates_dropped, whole.duplicates_dropped);
            assert_eq!(all_rows(&cut), all_rows(&whole), "runs of {run_sessions}");
        }
    }

    #[test]
    fn sessions_are_ordered_by_start_then_id_and_rejects_by_path_then_line() {
        let a = analyze(&[
            (
                "a.json",
                &format!(
                    "[{},{}]",
                    session("z", T0, Some(T1), 1),
                    session("b", T1, Some(T2), 1)
                ),
            ),
            ("b.json", &session("a", T1, Some(T2), 1)),
            ("c.ndjson", "{}\nnot json\n"),
            ("B.json", "{"),
        ]);
        assert_eq!(text_column(&a, 0, 0), ["z", "a", "b"]);
        let rejects: Vec<_> = a
            .rejects
            .iter()
            .map(|r| {
                (
                    r.path.rsplit('/').next().unwrap_or_default().to_owned(),
                    r.line,
                )
            })
            .collect();
        assert_eq!(
            rejects,
            [
                ("B.json".to_owned(), None),
                ("c.ndjson".to_owned(), Some(1)),
                ("c.ndjson".to_owned(), Some(2))
            ]
        );
    }
}
