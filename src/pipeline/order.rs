//! The report order of the parked sessions, found within a memory bound
//! (docs/performance.md, "Memory").
//!
//! Which copy of a session id is kept (docs/reference.md §2) and the order of the reports
//! (start, then id) are known only once every file has been read. Holding every copy until then
//! would make memory grow with the corpus, about 130 bytes a copy. So the copies are sorted in
//! runs of [`RUN_SESSIONS`] (or [`RUN_ID_BYTES`] of ids): a full run is sorted and encoded into
//! an anonymous temporary file, and the runs are merged (an external merge sort). The first
//! merge, by id, keeps one copy per id; the second, by start and id, gives the report order, of
//! which only where each session's rows lie is kept ([`SessionParts`], 40 bytes a session, in a
//! temporary file of their own).
//!
//! Both orders are total (two copies never share an [`Origin`], two kept sessions never share
//! an id), so the result does not depend on how the runs were cut or on the thread count.
use super::{read_u32, read_u64, Parked, SessionParts};
use crate::ingest::Origin;
use crate::report::spill::Spill;
use anyhow::{bail, Context, Result};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Sessions sorted in memory at once, before their run goes to the temporary file: about
/// 8 MB of parked sessions, and 6 MB encoded.
pub const RUN_SESSIONS: usize = 1 << 16;

/// Bytes of session ids in memory at once, before their run goes to the temporary file: a run
/// of very long ids (a hostile file) is cut before it holds [`RUN_SESSIONS`] of them.
const RUN_ID_BYTES: usize = 16 << 20;

/// Bytes read from the temporary file at once per run while merging.
const READ_BLOCK: usize = 64 << 10;

/// How two parked sessions are ordered.
pub type Order = fn(&Parked, &Parked) -> Ordering;

/// By id, then the preferred copy first (docs/reference.md §2).
pub fn by_id_then_preference(a: &Parked, b: &Parked) -> Ordering {
    a.session_id
        .as_bytes()
        .cmp(b.session_id.as_bytes())
        .then_with(|| a.preference(b))
}

/// The report order: by start, then id.
pub fn by_start_then_id(a: &Parked, b: &Parked) -> Ordering {
    a.start
        .cmp(&b.start)
        .then_with(|| a.session_id.as_bytes().cmp(b.session_id.as_bytes()))
}

/// Parked sessions in sorted runs: the full ones encoded in a temporary file, the last one in
/// memory. Sessions may be added from many threads.
pub struct Runs {
    order: Order,
    run_sessions: usize,
    file: Spill,
    /// The run being filled, and the bytes of its ids.
    filling: Mutex<(Vec<Parked>, usize)>,
    /// Where each run written lies in `file`: offset and length.
    written: Mutex<Vec<(u64, u64)>>,
}

impl Runs {
    /// Runs of `run_sessions` sessions in `order`, written to a temporary file in `dir`.
    pub fn new(dir: &Path, order: Order, run_sessions: usize) -> Result<Runs> {
        Ok(Runs {
            order,
            run_sessions: run_sessions.max(1),
            file: Spill::create_in(dir)?,
            filling: Mutex::new((Vec::new(), 0)),
            written: Mutex::new(Vec::new()),
        })
    }

    /// Adds `sessions`; when a run is full (of sessions, or of [`RUN_ID_BYTES`]), sorts it and
    /// writes it on this thread.
    pub fn add(&self, sessions: impl IntoIterator<Item = Parked>) -> Result<()> {
        let full = {
            let mut filling = lock(&self.filling)?;
            let (run, id_bytes) = &mut *filling;
            for session in sessions {
                *id_bytes += session.session_id.len();
                run.push(session);
            }
            if run.len() < self.run_sessions && *id_bytes < RUN_ID_BYTES {
                return Ok(());
            }
            std::mem::take(&mut *filling).0
        };
        self.write_run(full)
    }

    fn write_run(&self, mut run: Vec<Parked>) -> Result<()> {
        run.sort_unstable_by(self.order);
        let mut bytes = Vec::with_capacity(run.len() * (FIXED_BYTES + 24));
        for session in &run {
            encode(session, &mut bytes);
        }
        drop(run);
        let offset = self.file.append(&bytes)?;
        lock(&self.written)?.push((offset, bytes.len() as u64));
        Ok(())
    }

    /// Hands every session added to `each`, in the runs' order.
    pub fn merge(self, mut each: impl FnMut(Parked) -> Result<()>) -> Result<()> {
        self.file.finish_writing()?;
        let (mut last, _) = into_inner(self.filling)?;
        last.sort_unstable_by(self.order);
        let mut cursors: Vec<Cursor> = into_inner(self.written)?
            .into_iter()
            .map(|(offset, len)| {
                Cursor::Written(WrittenRun {
                    next: offset,
                    end: offset + len,
                    buf: Vec::new(),
                    at: 0,
                })
            })
            .collect();
        cursors.push(Cursor::Memory(last.into_iter()));
        let mut heads = BinaryHeap::with_capacity(cursors.len());
        for (run, cursor) in cursors.iter_mut().enumerate() {
            if let Some(session) = cursor.next(&self.file)? {
                heads.push(Head::new(session, run, self.order));
            }
        }
        while let Some(head) = heads.pop() {
            if let Some(next) = cursors
                .get_mut(head.run)
                .map(|cursor| cursor.next(&self.file))
                .transpose()?
                .flatten()
            {
                heads.push(Head::new(next, head.run, self.order));
            }
            each(head.session)?;
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    mutex
        .lock()
        .map_err(|_| anyhow::anyhow!("a worker thread failed while ordering the sessions"))
}

fn into_inner<T>(mutex: Mutex<T>) -> Result<T> {
    mutex
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker thread failed while ordering the sessions"))
}

/// The next session of one run while merging; the heap's top is the smallest in `order`.
struct Head {
    session: Parked,
    run: usize,
    order: Order,
}

impl Head {
    fn new(session: Parked, run: usize, order: Order) -> Head {
        Head {
            session,
            run,
            order,
        }
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Head) -> Ordering {
        // Reversed: `BinaryHeap` pops its greatest.
        (self.order)(&other.session, &self.session).then_with(|| other.run.cmp(&self.run))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

enum Cursor {
    Written(WrittenRun),
    Memory(std::vec::IntoIter<Parked>),
}

impl Cursor {
    fn next(&mut self, file: &Spill) -> Result<Option<Parked>> {
        match self {
            Cursor::Written(run) => run.next(file),
            Cursor::Memory(sessions) => Ok(sessions.next()),
        }
    }
}

/// A run in the temporary file, read a block at a time.
struct WrittenRun {
    /// Where the bytes not yet read start, and where the run ends.
    next: u64,
    end: u64,
    buf: Vec<u8>,
    /// The first byte of `buf` not yet decoded.
    at: usize,
}

impl WrittenRun {
    fn next(&mut self, file: &Spill) -> Result<Option<Parked>> {
        if self.at == self.buf.len() && self.next == self.end {
            return Ok(None);
        }
        self.fill(file, FIXED_BYTES)?;
        let id_len = read_u32(&self.buf[self.at..], 0) as usize;
        let len = FIXED_BYTES + id_len;
        self.fill(file, len)?;
        let session = decode(&self.buf[self.at..self.at + len])?;
        self.at += len;
        Ok(Some(session))
    }

    /// Makes at least `want` bytes available from `at`.
    fn fill(&mut self, file: &Spill, want: usize) -> Result<()> {
        if self.buf.len() - self.at >= want {
            return Ok(());
        }
        self.buf.drain(..self.at);
        self.at = 0;
        let more = (self.end - self.next).min(READ_BLOCK.max(want) as u64) as usize;
        if self.buf.len() + more < want {
            bail!("the temporary file of the session order ends inside a session");
        }
        let old = self.buf.len();
        self.buf.resize(old + more, 0);
        file.read_at(self.next, &mut self.buf[old..])?;
        self.next += more as u64;
        Ok(())
    }
}

/// An encoded session: the id's length, the fixed fields, then the id.
const FIXED_BYTES: usize = 4 + 8 + 8 + 4 + 12 + 1 + SessionParts::BYTES;

fn encode(session: &Parked, out: &mut Vec<u8>) {
    let id = session.session_id.as_bytes();
    // The id is in the session's `sessions` row, which the spill already refused above 4 GiB.
    out.extend_from_slice(&(id.len() as u32).to_le_bytes());
    out.extend_from_slice(&session.start.to_le_bytes());
    out.extend_from_slice(&session.end.to_le_bytes());
    out.extend_from_slice(&session.timelog_entries.to_le_bytes());
    let origin = session.origin;
    for n in [origin.file, origin.chunk, origin.position] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    let flags = u8::from(session.ongoing) | u8::from(session.stale) << 1;
    out.push(flags);
    session.parts.encode(out);
    out.extend_from_slice(id);
}

/// Decodes what [`encode`] wrote; `bytes` holds exactly one session.
fn decode(bytes: &[u8]) -> Result<Parked> {
    let u64_at = |at: usize| read_u64(bytes, at);
    let flags = bytes.get(36).copied().unwrap_or_default();
    let id = bytes
        .get(FIXED_BYTES..)
        .and_then(|id| std::str::from_utf8(id).ok())
        .context("the temporary file of the session order is damaged")?;
    Ok(Parked {
        session_id: id.into(),
        start: u64_at(4) as i64,
        end: u64_at(12) as i64,
        timelog_entries: read_u32(bytes, 20),
        origin: Origin {
            file: read_u32(bytes, 24),
            chunk: read_u32(bytes, 28),
            position: read_u32(bytes, 32),
        },
        ongoing: flags & 1 != 0,
        stale: flags & 2 != 0,
        parts: SessionParts::decode(bytes.get(37..).unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A parked session with every field drawn, the extremes included; `position` keeps the
    /// copies apart as an origin does.
    fn parked() -> impl Strategy<Value = Parked> {
        let id = prop::sample::select(vec!["a", "b", "ab", "é", "b\u{0}", ""]);
        let instant = prop_oneof![Just(i64::MIN), Just(i64::MAX), -3i64..3];
        (
            (id, instant.clone(), instant, any::<bool>()),
            (any::<bool>(), 0u32..3, any::<u32>(), any::<u64>()),
            prop::array::uniform4((any::<u32>(), any::<u32>())),
        )
            .prop_map(
                |((id, start, end, ongoing), (stale, entries, file, offset), sizes)| Parked {
                    session_id: id.into(),
                    start,
                    end,
                    ongoing,
                    stale,
                    timelog_entries: entries,
                    origin: Origin {
                        file,
                        chunk: 0,
                        position: 0,
                    },
                    parts: SessionParts { offset, sizes },
                },
            )
    }

    /// Sessions with ids of 1 MiB: a run is cut at 16 MiB of ids, long before its count, and
    /// the ids come back whole from the file.
    #[test]
    fn long_ids_cut_runs_by_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let runs = Runs::new(dir.path(), by_id_then_preference, RUN_SESSIONS).unwrap();
        for n in 0..40u32 {
            let mut id = format!("{n:02}");
            id.push_str(&"x".repeat(1 << 20));
            let session = Parked {
                session_id: id.into(),
                start: 0,
                end: 0,
                ongoing: false,
                stale: false,
                timelog_entries: 0,
                origin: Origin {
                    file: 0,
                    chunk: 0,
                    position: n,
                },
                parts: SessionParts::default(),
            };
            runs.add([session]).unwrap();
        }
        assert_eq!(lock(&runs.written).unwrap().len(), 2);
        assert_eq!(lock(&runs.filling).unwrap().0.len(), 40 - 2 * 16);
        let mut ids = Vec::new();
        runs.merge(|s| {
            ids.push(s.session_id);
            Ok(())
        })
        .unwrap();
        assert_eq!(ids.len(), 40);
        assert!(ids
            .iter()
            .enumerate()
            .all(|(n, id)| id.starts_with(&format!("{n:02}")) && id.len() == (1 << 20) + 2));
    }

    /// Every field, as `Debug` prints it.
    fn fields(sessions: &[Parked]) -> Vec<String> {
        sessions.iter().map(|s| format!("{s:?}")).collect()
    }

    proptest! {
        /// Merging the runs gives what sorting everything at once gives, whatever the runs'
        /// size and the batches the sessions came in; every field comes back from the file.
        #[test]
        fn merging_runs_gives_what_one_sort_gives(
            mut sessions in prop::collection::vec(parked(), 0..60),
            run_sessions in 1usize..9,
            batch in 1usize..7,
            by_start in any::<bool>(),
        ) {
            for (position, s) in sessions.iter_mut().enumerate() {
                s.origin.position = position as u32;
            }
            let order: Order = if by_start { by_start_then_id } else { by_id_then_preference };
            let dir = tempfile::tempdir().unwrap();
            let runs = Runs::new(dir.path(), order, run_sessions).unwrap();
            for chunk in sessions.chunks(batch) {
                runs.add(chunk.iter().cloned()).unwrap();
            }
            let mut merged = Vec::new();
            runs.merge(|s| {
                merged.push(s);
                Ok(())
            })
            .unwrap();
            prop_assert!(merged.windows(2).all(|w| order(&w[0], &w[1]) != Ordering::Greater));
            // Ties (only `by_start_then_id` has them here) come in any order.
            let mut expected = sessions;
            expected.sort_by(|a, b| order(a, b).then(a.origin.cmp(&b.origin)));
            merged.sort_by(|a, b| order(a, b).then(a.origin.cmp(&b.origin)));
            prop_assert_eq!(fields(&merged), fields(&expected));
        }
    }
}
