//! The `analyze` pipeline: read every input file in parallel, analyse each session while its
//! file's bytes are in memory, park its report rows in the spill, keep one copy of each session
//! id, and put the sessions in report order.
use crate::analysis::{analyze_session, Config, SessionReport};
use crate::ingest::rejects::{RejectLog, RejectSpill};
use crate::ingest::walk::InputFile;
use crate::ingest::{read_file, Limits, Origin, Reject};
use crate::report::spill::{encode_rows, Part, Spill, SpilledTable};
use crate::report::tables::{Rejects, PER_SESSION};
use crate::report::Table;
use crate::time::Millis;
use anyhow::Result;
use rayon::prelude::*;
use std::cmp::{Ordering, Reverse};
use std::path::Path;

/// The analysed input: sessions in report order, their rows in the spill.
pub struct Analysis {
    /// One per session id, ordered by (`start`, `session_id`).
    pub sessions: Vec<Parked>,
    /// Ordered by (`path`, `line`), then position in the file; kept in a temporary file.
    pub rejects: RejectLog,
    /// Copies of a session id that lost to another copy (SPEC §2).
    pub duplicates_dropped: usize,
    spill: Spill,
}

/// A session's place in the reports: what ordering and the duplicate rule need, and where its
/// rows are parked.
#[derive(Debug, Clone)]
pub struct Parked {
    pub session_id: String,
    pub start: Millis,
    pub end: Millis,
    pub ongoing: bool,
    pub pairs_skipped: bool,
    timelog_entries: usize,
    origin: Origin,
    /// Its rows of each table of [`PER_SESSION`], in that order.
    parts: [Part; PER_SESSION.len()],
}

/// Encodes a session's rows of each table of [`PER_SESSION`] onto `buf`.
fn encode_session(report: &SessionReport, buf: &mut Vec<u8>) -> Result<[Part; PER_SESSION.len()]> {
    let mut parts = [Part::default(); PER_SESSION.len()];
    for (part, table) in parts.iter_mut().zip(PER_SESSION) {
        *part = encode_rows(table.spec.columns, |emit| (table.rows)(report, emit), buf)?;
    }
    Ok(parts)
}

impl Analysis {
    /// The report tables, in the order they are written.
    pub fn tables(&self) -> Vec<Box<dyn Table + Sync + '_>> {
        let mut out: Vec<Box<dyn Table + Sync + '_>> = PER_SESSION
            .iter()
            .enumerate()
            .map(|(i, table)| {
                Box::new(SpilledTable {
                    spec: table.spec,
                    spill: &self.spill,
                    parts: self.sessions.iter().map(|s| s.parts[i]).collect(),
                }) as Box<dyn Table + Sync>
            })
            .collect();
        out.push(Box::new(Rejects(&self.rejects)));
        out
    }
}

impl Parked {
    /// SPEC §2: the copy with an `end`; then the latest `end`; then the most timelog entries;
    /// then the first in path order. `Less` means "keep `self` rather than `other`".
    fn preference(&self, other: &Parked) -> Ordering {
        let key = |p: &Parked| {
            (
                Reverse(!p.ongoing),
                Reverse((!p.ongoing).then_some(p.end)),
                Reverse(p.timelog_entries),
                p.origin,
            )
        };
        key(self).cmp(&key(other))
    }
}

/// Encoded rows of one file's sessions, written to the spill in batches.
struct Parker<'s> {
    spill: &'s Spill,
    buf: Vec<u8>,
    /// Sessions whose parts are still relative to `buf`.
    pending: Vec<Parked>,
    parked: Vec<Parked>,
}

/// Encoded rows kept in memory before they go to the spill.
const PARK_BATCH_BYTES: usize = 4 << 20;

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
        for mut session in self.pending.drain(..) {
            for part in &mut session.parts {
                part.offset += base;
            }
            self.parked.push(session);
        }
        self.buf.clear();
        Ok(())
    }
}

/// Reads and analyses `files` (already in path order) on the current rayon pool, parking rows
/// in a temporary file in `spill_dir` and calling `file_done` after each file. `extra_rejects`
/// (from the walk) join the rejects report; `limits` bound what one document may cost.
pub fn analyze_files(
    files: &[InputFile],
    config: &Config,
    limits: &Limits,
    extra_rejects: Vec<Reject>,
    spill_dir: &Path,
    file_done: &(dyn Fn() + Sync),
) -> Result<Analysis> {
    let spill = Spill::create_in(spill_dir)?;
    let reject_spill = RejectSpill::create_in(spill_dir)?;
    let per_file: Vec<(Vec<Parked>, _)> = files
        .par_iter()
        .enumerate()
        .map(|(rank, file)| {
            let mut parker = Parker {
                spill: &spill,
                buf: Vec::new(),
                pending: Vec::new(),
                parked: Vec::new(),
            };
            let mut rejects = reject_spill.for_file();
            let mut failure = Ok(());
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            read_file(file, rank, limits, &mut rejects, |session| {
                if failure.is_err() {
                    return;
                }
                let report = analyze_session(session.id, session.raw, config);
                failure = encode_session(&report, &mut parker.buf).and_then(|parts| {
                    let s = &report.session;
                    parker.park(Parked {
                        session_id: s.session_id.to_owned(),
                        start: s.start,
                        end: s.end,
                        ongoing: s.ongoing,
                        pairs_skipped: s.pairs_skipped,
                        timelog_entries: session.raw.timelog_entries(),
                        origin: session.origin,
                        parts,
                    })
                });
            });
            failure?;
            parker.flush()?;
            file_done();
            Ok((parker.parked, rejects.finish()?))
        })
        .collect::<Result<_>>()?;
    spill.finish_writing()?;

    let mut file_rejects = Vec::new();
    let mut candidates = Vec::new();
    for (file_sessions, file_log) in per_file {
        candidates.extend(file_sessions);
        file_rejects.push(file_log);
    }
    let (sessions, duplicates_dropped) = keep_one_per_id(candidates);
    let rejects = reject_spill.finish(extra_rejects, file_rejects)?;
    Ok(Analysis {
        sessions,
        rejects,
        duplicates_dropped,
        spill,
    })
}

/// Keeps the preferred copy of every session id and orders the result by (`start`, `session_id`).
fn keep_one_per_id(mut candidates: Vec<Parked>) -> (Vec<Parked>, usize) {
    candidates.par_sort_unstable_by(|a, b| {
        a.session_id
            .as_bytes()
            .cmp(b.session_id.as_bytes())
            .then_with(|| a.preference(b))
    });
    let read = candidates.len();
    candidates.dedup_by(|later, kept| later.session_id == kept.session_id);
    let dropped = read - candidates.len();
    candidates.par_sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then_with(|| a.session_id.as_bytes().cmp(b.session_id.as_bytes()))
    });
    (candidates, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::walk::discover;
    use std::fs;

    const CONFIG: Config = Config {
        as_of: 1_700_000_000_000,
        max_pair_participants: 200,
    };

    /// Writes `files` (name, content) into a folder and analyses it.
    fn analyze(files: &[(&str, &str)]) -> Analysis {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            fs::write(dir.path().join(name), content).unwrap();
        }
        let found = discover(&[dir.path().to_path_buf()]);
        let limits = Limits::default();
        analyze_files(
            &found.files,
            &CONFIG,
            &limits,
            found.rejects,
            dir.path(),
            &|| {},
        )
        .unwrap()
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

    const T0: &str = "2024-01-01T10:00:00.000Z";
    const T1: &str = "2024-01-01T11:00:00.000Z";
    const T2: &str = "2024-01-01T12:00:00.000Z";

    #[test]
    fn the_ended_copy_wins_over_the_ongoing_one() {
        let a = analyze(&[
            ("1.json", &session("s", T0, None, 5)),
            ("2.json", &session("s", T0, Some(T1), 1)),
        ]);
        assert_eq!((a.sessions.len(), a.duplicates_dropped), (1, 1));
        assert!(!a.sessions[0].ongoing);
    }

    #[test]
    fn then_the_latest_end_then_the_most_entries_then_the_first_path() {
        let a = analyze(&[
            ("1.json", &session("s", T0, Some(T1), 3)),
            ("2.json", &session("s", T0, Some(T2), 1)),
        ]);
        assert_eq!(a.sessions[0].end, crate::time::parse_rfc3339(T2).unwrap());
        let a = analyze(&[
            ("1.json", &session("s", T0, Some(T1), 1)),
            ("2.json", &session("s", T0, Some(T1), 2)),
        ]);
        assert_eq!(a.sessions[0].timelog_entries, 2);
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
        let ids: Vec<_> = a.sessions.iter().map(|s| s.session_id.as_str()).collect();
        assert_eq!(ids, ["z", "a", "b"]);
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
