//! The `analyze` pipeline: read every input file in parallel, analyse each session while its
//! file's bytes are in memory, keep one copy of each session id, put everything in report order.
use crate::analysis::{analyze_session, Config, SessionReport};
use crate::ingest::walk::InputFile;
use crate::ingest::{read_file, Origin, Reject};
use rayon::prelude::*;
use std::cmp::{Ordering, Reverse};

/// The analysed input, in report order.
#[derive(Debug, Default)]
pub struct Analysis {
    /// One per session id, ordered by (`start`, `session_id`).
    pub sessions: Vec<SessionReport>,
    /// Ordered by (`path`, `line`), then position in the file.
    pub rejects: Vec<Reject>,
    /// Copies of a session id that lost to another copy (SPEC §2).
    pub duplicates_dropped: usize,
}

/// A session as read, with what the duplicate rule needs to choose between copies.
struct Candidate {
    report: SessionReport,
    timelog_entries: usize,
    origin: Origin,
}

impl Candidate {
    /// SPEC §2: the copy with an `end`; then the latest `end`; then the most timelog entries;
    /// then the first in path order. `Less` means "keep `self` rather than `other`".
    fn preference(&self, other: &Candidate) -> Ordering {
        let key = |c: &Candidate| {
            let ended = !c.report.session.ongoing;
            (
                Reverse(ended),
                Reverse(ended.then_some(c.report.session.end)),
                Reverse(c.timelog_entries),
                c.origin,
            )
        };
        key(self).cmp(&key(other))
    }
}

/// Reads and analyses `files` (already in path order) on the current rayon pool, calling
/// `file_done` after each file. `extra_rejects` (from the walk) join the rejects report.
pub fn analyze_files(
    files: &[InputFile],
    config: &Config,
    extra_rejects: Vec<Reject>,
    file_done: &(dyn Fn() + Sync),
) -> Analysis {
    let per_file: Vec<(Vec<Candidate>, Vec<Reject>)> = files
        .par_iter()
        .enumerate()
        .map(|(rank, file)| {
            let mut candidates = Vec::new();
            let mut rejects = Vec::new();
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            read_file(file, rank, &mut rejects, |session| {
                candidates.push(Candidate {
                    report: analyze_session(session.id, session.raw, config),
                    timelog_entries: session.raw.timelog_entries(),
                    origin: session.origin,
                });
            });
            file_done();
            (candidates, rejects)
        })
        .collect();

    let mut rejects = extra_rejects;
    let mut candidates = Vec::new();
    for (file_candidates, file_rejects) in per_file {
        candidates.extend(file_candidates);
        rejects.extend(file_rejects);
    }
    let (sessions, duplicates_dropped) = keep_one_per_id(candidates);
    // Stable: rejects of one (path, line) stay in the order they were found in the file.
    rejects.sort_by(|a, b| {
        a.path
            .as_bytes()
            .cmp(b.path.as_bytes())
            .then(a.line.cmp(&b.line))
    });
    Analysis {
        sessions,
        rejects,
        duplicates_dropped,
    }
}

/// Keeps the preferred copy of every session id and orders the result by (`start`, `session_id`).
fn keep_one_per_id(mut candidates: Vec<Candidate>) -> (Vec<SessionReport>, usize) {
    candidates.par_sort_unstable_by(|a, b| {
        a.report
            .session
            .session_id
            .as_bytes()
            .cmp(b.report.session.session_id.as_bytes())
            .then_with(|| a.preference(b))
    });
    let read = candidates.len();
    candidates
        .dedup_by(|later, kept| later.report.session.session_id == kept.report.session.session_id);
    let dropped = read - candidates.len();
    let mut sessions: Vec<SessionReport> = candidates.into_iter().map(|c| c.report).collect();
    sessions.par_sort_unstable_by(|a, b| {
        (a.session.start.cmp(&b.session.start)).then_with(|| {
            a.session
                .session_id
                .as_bytes()
                .cmp(b.session.session_id.as_bytes())
        })
    });
    (sessions, dropped)
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
        analyze_files(&found.files, &CONFIG, found.rejects, &|| {})
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
        assert!(!a.sessions[0].session.ongoing);
    }

    #[test]
    fn then_the_latest_end_then_the_most_entries_then_the_first_path() {
        let a = analyze(&[
            ("1.json", &session("s", T0, Some(T1), 3)),
            ("2.json", &session("s", T0, Some(T2), 1)),
        ]);
        assert_eq!(
            a.sessions[0].session.end,
            crate::time::parse_rfc3339(T2).unwrap()
        );
        let a = analyze(&[
            ("1.json", &session("s", T0, Some(T1), 1)),
            ("2.json", &session("s", T0, Some(T1), 2)),
        ]);
        assert_eq!(a.sessions[0].session.intervals, 2);
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
        assert_eq!(a.sessions[0].participants[0].participant_id, "first");
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
        let ids: Vec<_> = a
            .sessions
            .iter()
            .map(|s| s.session.session_id.as_str())
            .collect();
        assert_eq!(ids, ["z", "a", "b"]);
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
