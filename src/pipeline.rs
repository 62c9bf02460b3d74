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
