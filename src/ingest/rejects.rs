//! The rejects of a run, kept in a temporary file rather than in memory: five million junk
//! lines must not cost gigabytes, nor, under a memory cap, the good sessions.
//!
//! Each file's rejects come out of the reader already in report order (by line, then position
//! in the file), and every reject of a file has that file's path; so the report order, by
//! (`path`, `line`), then position, is the files ordered by path, each file's rejects in the
//! order they were found. The spill records, per file, where its rejects lie in the temporary
//! file; memory grows with the number of files that had rejects, which the run holds anyway,
//! not with the number of rejects.
use super::{Reject, RejectReason, RejectSink};
use anyhow::{Context, Result};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

/// Encoded rejects a file keeps in memory before they go to the temporary file.
const FLUSH_BYTES: usize = 1 << 20;

/// The temporary file rejects are written to while files are read (by several threads).
pub struct RejectSpill {
    file: Mutex<(File, u64)>,
}

/// A stretch of the temporary file: `len` bytes from `offset`, `count` rejects.
#[derive(Debug, Clone, Copy)]
struct Segment {
    offset: u64,
    len: u64,
    count: u64,
}

/// One file's rejects, as the reader hands them out: a [`RejectSink`].
pub struct FileRejects<'s> {
    spill: &'s RejectSpill,
    path: Option<String>,
    buf: Vec<u8>,
    pending: u64,
    segments: Vec<Segment>,
    /// The first write error: the rest is dropped and the run fails with it at the end.
    error: Option<anyhow::Error>,
}

/// One file's rejects once it is read.
#[derive(Debug, Default)]
pub struct FileLog {
    path: String,
    segments: Vec<Segment>,
}

/// All the rejects of a run, in report order: the rejects report reads them from here.
pub struct RejectLog {
    file: Option<File>,
    /// The paths of the files that had rejects.
    paths: Vec<String>,
    groups: Vec<Group>,
    count: usize,
}

/// A group of rows of the rejects report: one reject of the walk, or one stretch of a file's
/// rejects (at most about [`FLUSH_BYTES`] of them, so a writer that renders a group in memory
/// holds little).
enum Group {
    Walk(Reject),
    Segment { path: usize, segment: Segment },
}

/// Before the groups are cut into segments: one per walk reject or per file.
enum Entry {
    Walk(Reject),
    File(FileLog),
}

impl RejectSpill {
    /// A spill in an unnamed temporary file in `dir` (removed when the run ends, however).
    pub fn create_in(dir: &Path) -> Result<RejectSpill> {
        let file = tempfile::tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        Ok(RejectSpill {
            file: Mutex::new((file, 0)),
        })
    }

    /// A sink for the rejects of one file.
    pub fn for_file(&self) -> FileRejects<'_> {
        FileRejects {
            spill: self,
            path: None,
            buf: Vec::new(),
            pending: 0,
            segments: Vec::new(),
            error: None,
        }
    }

    fn append(&self, bytes: &[u8]) -> Result<u64> {
        let mut guard = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (file, len) = &mut *guard;
        let offset = *len;
        file.write_all(bytes)
            .context("cannot write the rejects to a temporary file")?;
        *len += bytes.len() as u64;
        Ok(offset)
    }

    /// Puts the rejects in report order: `walk` (rejects of the walk) and every file's log,
    /// ordered by path (a walk reject before a file's rejects of the same path).
    pub fn finish(self, walk: Vec<Reject>, files: Vec<FileLog>) -> Result<RejectLog> {
        let (mut file, _) = self
            .file
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        file.flush()
            .context("cannot write the rejects to a temporary file")?;
        let mut entries: Vec<Entry> = walk.into_iter().map(Entry::Walk).collect();
        entries.extend(
            files
                .into_iter()
                .filter(|f| !f.segments.is_empty())
                .map(Entry::File),
        );
        // Stable: the walk's rejects of one path keep their order and come first.
        entries.sort_by(|a, b| a.path().as_bytes().cmp(b.path().as_bytes()));
        let mut count = 0u64;
        let mut paths = Vec::new();
        let mut groups = Vec::new();
        for entry in entries {
            match entry {
                Entry::Walk(reject) => {
                    count += 1;
                    groups.push(Group::Walk(reject));
                }
                Entry::File(log) => {
                    for segment in log.segments {
                        count += segment.count;
                        groups.push(Group::Segment {
                            path: paths.len(),
                            segment,
                        });
                    }
                    paths.push(log.path);
                }
            }
        }
        Ok(RejectLog {
            file: Some(file),
            paths,
            groups,
            count: usize::try_from(count).unwrap_or(usize::MAX),
        })
    }
}

impl RejectSink for FileRejects<'_> {
    fn reject(&mut self, reject: Reject) {
        if self.error.is_some() {
            return;
        }
        let Reject {
            path,
            line,
            session_id,
            reason,
        } = reject;
        if self.path.is_none() {
            self.path = Some(path);
        }
        encode(line, session_id.as_deref(), &reason, &mut self.buf);
        self.pending += 1;
        if self.buf.len() >= FLUSH_BYTES {
            self.flush();
        }
    }
}

impl FileRejects<'_> {
    fn flush(&mut self) {
        if self.pending == 0 {
            return;
        }
        match self.spill.append(&self.buf) {
            Ok(offset) => self.segments.push(Segment {
                offset,
                len: self.buf.len() as u64,
                count: self.pending,
            }),
            Err(e) => self.error = Some(e),
        }
        self.buf.clear();
        self.pending = 0;
    }

    /// The file is read: its rejects are all in the temporary file.
    pub fn finish(mut self) -> Result<FileLog> {
        self.flush();
        if let Some(error) = self.error {
            return Err(error);
        }
        Ok(FileLog {
            path: self.path.unwrap_or_default(),
            segments: self.segments,
        })
    }
}

impl Entry {
    fn path(&self) -> &str {
        match self {
            Entry::Walk(reject) => &reject.path,
            Entry::File(log) => &log.path,
        }
    }
}

impl RejectLog {
    /// Rejects held in memory only (tests, and runs that read no file).
    pub fn from_walk(walk: Vec<Reject>) -> RejectLog {
        let mut walk = walk;
        walk.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        RejectLog {
            file: None,
            paths: Vec::new(),
            count: walk.len(),
            groups: walk.into_iter().map(Group::Walk).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Groups of rows (one reject of the walk, or a stretch of a file's), for the writers.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The rejects of group `group` (0 past the end).
    pub fn group_rows(&self, group: usize) -> usize {
        match self.groups.get(group) {
            Some(Group::Walk(_)) => 1,
            Some(Group::Segment { segment, .. }) => {
                usize::try_from(segment.count).unwrap_or(usize::MAX)
            }
            None => 0,
        }
    }

    /// Calls `each` with every reject of `groups`, in report order.
    pub fn for_each_in(
        &self,
        groups: std::ops::Range<usize>,
        each: &mut dyn FnMut(&Reject) -> Result<()>,
    ) -> Result<()> {
        for group in self.groups.get(groups).unwrap_or_default() {
            match group {
                Group::Walk(reject) => each(reject)?,
                Group::Segment { path, segment } => {
                    for reject in self.read_segment(*path, segment)? {
                        each(&reject)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Every reject, in report order (a read error ends the iteration: this is for the
    /// summary; the report itself goes through [`RejectLog::for_each_in`], which says it).
    pub fn iter(&self) -> impl Iterator<Item = Reject> + '_ {
        self.groups.iter().flat_map(move |group| -> Vec<Reject> {
            match group {
                Group::Walk(reject) => vec![reject.clone()],
                Group::Segment { path, segment } => {
                    self.read_segment(*path, segment).unwrap_or_default()
                }
            }
        })
    }

    fn read_segment(&self, path: usize, segment: &Segment) -> Result<Vec<Reject>> {
        let path = self.paths.get(path).map_or("", String::as_str);
        let file = self.file.as_ref().context("the rejects file is missing")?;
        let len = usize::try_from(segment.len).context("a rejects segment is too large")?;
        let mut bytes = vec![0; len];
        file.read_exact_at(&mut bytes, segment.offset)
            .context("cannot read the rejects back from their temporary file")?;
        let mut input = bytes.as_slice();
        let mut out = Vec::new();
        for _ in 0..segment.count {
            let (line, session_id, reason) =
                decode(&mut input).context("the rejects temporary file is damaged")?;
            out.push(Reject {
                path: path.to_owned(),
                line,
                session_id,
                reason,
            });
        }
        Ok(out)
    }
}

/// The kinds of [`RejectReason::NotARegularFile`], by index.
const FILE_KINDS: [&str; 5] = ["a FIFO", "a socket", "a device", "a folder", "not a file"];

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    put_u64(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn encode(line: Option<u64>, session_id: Option<&str>, reason: &RejectReason, out: &mut Vec<u8>) {
    match line {
        Some(line) => {
            out.push(1);
            put_u64(out, line);
        }
        None => out.push(0),
    }
    match session_id {
        Some(id) => {
            out.push(1);
            put_text(out, id);
        }
        None => out.push(0),
    }
    match reason {
        RejectReason::CannotRead(detail) => {
            out.push(0);
            put_text(out, detail);
        }
        RejectReason::CannotDecompress(detail) => {
            out.push(1);
            put_text(out, detail);
        }
        RejectReason::EmptyFile => out.push(2),
        RejectReason::NotUtf8 { offset } => {
            out.push(3);
            put_u64(out, *offset);
        }
        RejectReason::InvalidJson(detail) => {
            out.push(4);
            put_text(out, detail);
        }
        RejectReason::NotASessionDocument(detail) => {
            out.push(5);
            put_text(out, detail);
        }
        RejectReason::SessionWithoutId {
            number,
            not_a_string,
        } => {
            out.push(6);
            put_u64(out, *number as u64);
            out.push(u8::from(*not_a_string));
        }
        RejectReason::NotARegularFile(kind) => {
            out.push(7);
            let index = FILE_KINDS.iter().position(|k| k == kind).unwrap_or(4);
            out.push(index as u8);
        }
        RejectReason::DocumentTooLarge { limit } => {
            out.push(8);
            put_u64(out, *limit);
        }
    }
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

fn get_u8(input: &mut &[u8]) -> Option<u8> {
    take(input, 1).map(|b| b[0])
}

fn get_u64(input: &mut &[u8]) -> Option<u64> {
    take(input, 8)?.try_into().ok().map(u64::from_le_bytes)
}

fn get_text(input: &mut &[u8]) -> Option<String> {
    let len = usize::try_from(get_u64(input)?).ok()?;
    String::from_utf8(take(input, len)?.to_vec()).ok()
}

type Decoded = (Option<u64>, Option<String>, RejectReason);

fn decode(input: &mut &[u8]) -> Option<Decoded> {
    let line = match get_u8(input)? {
        0 => None,
        _ => Some(get_u64(input)?),
    };
    let session_id = match get_u8(input)? {
        0 => None,
        _ => Some(get_text(input)?),
    };
    let reason = match get_u8(input)? {
        0 => RejectReason::CannotRead(get_text(input)?),
        1 => RejectReason::CannotDecompress(get_text(input)?),
        2 => RejectReason::EmptyFile,
        3 => RejectReason::NotUtf8 {
            offset: get_u64(input)?,
        },
        4 => RejectReason::InvalidJson(get_text(input)?),
        5 => RejectReason::NotASessionDocument(get_text(input)?),
        6 => RejectReason::SessionWithoutId {
            number: usize::try_from(get_u64(input)?).ok()?,
            not_a_string: get_u8(input)? != 0,
        },
        7 => RejectReason::NotARegularFile(FILE_KINDS.get(usize::from(get_u8(input)?))?),
        8 => RejectReason::DocumentTooLarge {
            limit: get_u64(input)?,
        },
        _ => return None,
    };
    Some((line, session_id, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(path: &str, line: Option<u64>, reason: RejectReason) -> Reject {
        Reject {
            path: path.into(),
            line,
            session_id: line.map(|l| format!("s{l}")),
            reason,
        }
    }

    #[test]
    fn every_reason_reads_back_as_written() {
        let reasons = [
            RejectReason::CannotRead("denied".into()),
            RejectReason::CannotDecompress("eof".into()),
            RejectReason::EmptyFile,
            RejectReason::NotUtf8 { offset: 7 },
            RejectReason::InvalidJson("eof at 1:2".into()),
            RejectReason::NotASessionDocument("a number".into()),
            RejectReason::SessionWithoutId {
                number: 3,
                not_a_string: true,
            },
            RejectReason::NotARegularFile("a socket"),
            RejectReason::DocumentTooLarge { limit: 42 },
        ];
        for reason in reasons {
            let mut buf = Vec::new();
            encode(Some(9), Some("id\n"), &reason, &mut buf);
            let mut input = buf.as_slice();
            assert_eq!(
                decode(&mut input),
                Some((Some(9), Some("id\n".to_owned()), reason))
            );
            assert!(input.is_empty());
        }
    }

    #[test]
    fn rejects_come_back_by_path_then_in_file_order_with_the_walk_first() {
        let dir = tempfile::tempdir().unwrap();
        let spill = RejectSpill::create_in(dir.path()).unwrap();
        let mut logs = Vec::new();
        for (path, lines) in [("b.ndjson", 3u64), ("a.ndjson", 2), ("c.json", 0)] {
            let mut sink = spill.for_file();
            for line in 1..=lines {
                sink.reject(reject(path, Some(line), RejectReason::EmptyFile));
            }
            logs.push(sink.finish().unwrap());
        }
        let walk = vec![reject(
            "b.ndjson",
            None,
            RejectReason::NotARegularFile("a FIFO"),
        )];
        let log = spill.finish(walk, logs).unwrap();
        assert_eq!(log.len(), 6);
        let order: Vec<_> = log.iter().map(|r| (r.path, r.line)).collect();
        assert_eq!(
            order,
            [
                ("a.ndjson".to_owned(), Some(1)),
                ("a.ndjson".to_owned(), Some(2)),
                ("b.ndjson".to_owned(), None),
                ("b.ndjson".to_owned(), Some(1)),
                ("b.ndjson".to_owned(), Some(2)),
                ("b.ndjson".to_owned(), Some(3)),
            ]
        );
        let mut again = Vec::new();
        log.for_each_in(0..log.group_count(), &mut |r| {
            again.push(r.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(again, log.iter().collect::<Vec<_>>());
    }

    #[test]
    fn many_rejects_of_one_file_span_several_segments() {
        let dir = tempfile::tempdir().unwrap();
        let spill = RejectSpill::create_in(dir.path()).unwrap();
        let mut sink = spill.for_file();
        let n = 100_000u64;
        for line in 1..=n {
            sink.reject(reject(
                "x.ndjson",
                Some(line),
                RejectReason::InvalidJson("x".repeat(20)),
            ));
        }
        let file = sink.finish().unwrap();
        assert!(file.segments.len() > 1);
        assert!(spill_memory_is_small(&file));
        let log = spill.finish(Vec::new(), vec![file]).unwrap();
        assert_eq!(log.len() as u64, n);
        assert!(log.iter().map(|r| r.line).eq((1..=n).map(Some)));
    }

    fn spill_memory_is_small(file: &FileLog) -> bool {
        file.segments.len() < 100
    }
}
