//! Ingest: walk the inputs, decode each file, hand out its sessions, reject what cannot be used.
//!
//! Bad input never stops the run (docs/reference.md §2): an unreadable file, an unparsable file or NDJSON line,
//! or a session without an id becomes a [`Reject`] and the rest is still read.
//!
//! Files are read as streams in bounded memory: an NDJSON file (plain or gzip) in chunks of
//! whole lines ([`LineChunk`], which other threads may parse while it reads on), and no single
//! JSON document (a `.json` file, or one NDJSON line) beyond [`Limits::max_document_bytes`]. Rejects go to a [`RejectSink`], which the pipeline backs
//! with a file ([`rejects`]), so they cost no memory either.
pub mod document;
pub mod rejects;
pub mod walk;

use document::{
    sessions_one_by_one, text, Document, IdOnly, NotAnObject, Problem, RawSession, Text,
};
use flate2::read::MultiGzDecoder;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use walk::{InputFile, Layout};

/// One row of the rejects report: `path, line, session_id, reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The path as given, with any byte that is not UTF-8 written `\xNN`
    /// ([`crate::text::path_text`]).
    pub path: String,
    /// 1-based line number, for NDJSON files only.
    pub line: Option<u64>,
    pub session_id: Option<String>,
    pub reason: RejectReason,
}

/// Why an input was rejected: one variant per row of the reasons table in docs/reference.md §2.
/// `Display` gives the report's `reason` text, which starts with the documented words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// The file or folder could not be opened or listed.
    CannotRead(String),
    /// A `.gz` file is corrupt or cut short.
    CannotDecompress(String),
    /// Nothing but whitespace.
    EmptyFile,
    /// Bytes that are not UTF-8, at this offset.
    NotUtf8 { offset: usize },
    /// Truncated or malformed JSON.
    InvalidJson(String),
    /// Valid JSON of the wrong shape.
    NotASessionDocument(String),
    /// The `number`th session of a document has no usable `id`.
    SessionWithoutId { number: usize, not_a_string: bool },
    /// A folder entry that is not a regular file (a FIFO, a socket, a device): never opened.
    NotARegularFile(&'static str),
    /// One JSON document (a `.json` file, or one NDJSON line) longer than the limit.
    DocumentTooLarge { limit: u64 },
}

impl RejectReason {
    /// The documented words the reason starts with (docs/reference.md §2), without the
    /// details of the one input.
    pub fn label(&self) -> &'static str {
        match self {
            RejectReason::CannotRead(_) => "cannot read",
            RejectReason::CannotDecompress(_) => "cannot decompress gzip",
            RejectReason::EmptyFile => "empty file",
            RejectReason::NotUtf8 { .. } => "not UTF-8 text",
            RejectReason::InvalidJson(_) => "invalid JSON",
            RejectReason::NotASessionDocument(_) => "not a session document",
            RejectReason::SessionWithoutId { .. } => "session without id",
            RejectReason::NotARegularFile(_) => "not a regular file",
            RejectReason::DocumentTooLarge { .. } => "document too large",
        }
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectReason::CannotRead(detail) => write!(f, "cannot read: {detail}"),
            RejectReason::CannotDecompress(detail) => write!(f, "cannot decompress gzip: {detail}"),
            RejectReason::EmptyFile => f.write_str("empty file"),
            RejectReason::NotUtf8 { offset } => {
                write!(f, "not UTF-8 text: invalid byte at offset {offset}")
            }
            RejectReason::InvalidJson(detail) => write!(f, "invalid JSON: {detail}"),
            RejectReason::NotASessionDocument(detail) => {
                write!(f, "not a session document: {detail}")
            }
            RejectReason::SessionWithoutId {
                number,
                not_a_string: true,
            } => write!(
                f,
                "session without id: `id` of session {number} in this document is not a string"
            ),
            RejectReason::SessionWithoutId { number, .. } => {
                write!(f, "session without id (session {number} in this document)")
            }
            RejectReason::NotARegularFile(kind) => {
                write!(f, "not a regular file: {kind}, not opened")
            }
            RejectReason::DocumentTooLarge { limit } => write!(
                f,
                "document too large: more than {limit} bytes (see --max-document-size)"
            ),
        }
    }
}

impl Reject {
    pub fn file(path: &Path, reason: RejectReason) -> Reject {
        Reject {
            path: crate::text::path_text(path),
            line: None,
            session_id: None,
            reason,
        }
    }
}

/// Where rejects go: a `Vec` in tests, a file in the pipeline ([`rejects::RejectSpill`]).
pub trait RejectSink {
    fn reject(&mut self, reject: Reject);
}

impl RejectSink for Vec<Reject> {
    fn reject(&mut self, reject: Reject) {
        self.push(reject);
    }
}

/// The largest JSON document read unless `--max-document-size` says otherwise: far above any
/// real session or page (a 1,000-participant webinar is about 200 KB), small enough that a
/// gzip bomb or a runaway line cannot take the machine's memory.
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 256 << 20;

/// Bounds on what one document may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one JSON document (a `.json` file after gunzip, or one NDJSON line).
    pub max_document_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
        }
    }
}

/// Where a session was read: its file's rank in path order and its rank inside the file.
/// Orders documents for the duplicate rule's "first in path order".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    pub file: u32,
    /// The chunk of an NDJSON file ([`LineChunk`]); 0 for other files.
    pub chunk: u32,
    /// The rank in the chunk.
    pub position: u32,
}

/// A session handed to the analysis: its id is present and a non-empty string.
pub struct IdentifiedSession<'s, 'a> {
    pub id: &'s str,
    pub raw: &'s RawSession<'a>,
    pub origin: Origin,
}

/// Reads one input file and calls `on_session` for each session with an id, in file order.
/// Everything that cannot be used goes to `rejects`, in file order.
pub fn read_file<F>(
    file: &InputFile,
    file_rank: u32,
    limits: &Limits,
    rejects: &mut dyn RejectSink,
    on_session: F,
) where
    F: FnMut(IdentifiedSession<'_, '_>),
{
    let path = file.name();
    match open_regular(&file.path) {
        Ok(source) => read_source(
            source,
            file.layout,
            &path,
            file_rank,
            limits,
            rejects,
            on_session,
        ),
        Err(reason) => rejects.reject(Reject {
            path,
            line: None,
            session_id: None,
            reason,
        }),
    }
}

/// Reads one NDJSON input file in chunks of whole lines ([`read_line_chunks`]); a file that
/// cannot be opened is one chunk holding that reject.
pub fn read_file_chunks<F>(file: &InputFile, limits: &Limits, mut on_chunk: F)
where
    F: FnMut(LineChunk),
{
    match open_regular(&file.path) {
        Ok(source) => read_line_chunks(source, file.layout, limits, CHUNK_BYTES, on_chunk),
        Err(reason) => on_chunk(LineChunk {
            index: 0,
            bytes: Vec::new(),
            lines: vec![ChunkLine::Failed { line: None, reason }],
        }),
    }
}

/// Opens a file for reading without ever blocking (a FIFO would block `open` until a writer
/// comes), and refuses anything that is not a regular file.
fn open_regular(path: &Path) -> Result<std::fs::File, RejectReason> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| RejectReason::CannotRead(e.to_string()))?;
    let kind = file
        .metadata()
        .map_err(|e| RejectReason::CannotRead(e.to_string()))?
        .file_type();
    if !kind.is_file() {
        return Err(RejectReason::NotARegularFile(walk::kind_of(&kind)));
    }
    // O_NONBLOCK means nothing for a regular file's reads: it can stay.
    Ok(file)
}

/// Reads one input from `source`: `path` names it in rejects, `layout` says how it is laid out.
/// Public for the fuzzers, which feed it any bytes.
pub fn read_source<R: Read, F>(
    source: R,
    layout: Layout,
    path: &str,
    file_rank: u32,
    limits: &Limits,
    rejects: &mut dyn RejectSink,
    mut on_session: F,
) where
    F: FnMut(IdentifiedSession<'_, '_>),
{
    if layout.lines {
        read_line_chunks(source, layout, limits, CHUNK_BYTES, |chunk| {
            read_chunk(&chunk, path, file_rank, rejects, &mut on_session);
        });
        return;
    }
    let mut reader = FileReader {
        path,
        file_rank,
        chunk: 0,
        position: 0,
        rejects,
    };
    let content = match decoded(source, layout) {
        Ok(content) => content,
        Err(reason) => return reader.reject(None, None, reason),
    };
    let max = limits.max_document_bytes;
    let mut bytes = Vec::new();
    if let Err(e) = content.take(max.saturating_add(1)).read_to_end(&mut bytes) {
        return reader.reject(None, None, broken(layout, e));
    }
    if bytes.len() as u64 > max {
        return reader.reject(None, None, RejectReason::DocumentTooLarge { limit: max });
    }
    let content = strip_bom(&bytes);
    if content.iter().all(u8::is_ascii_whitespace) {
        return reader.reject(None, None, RejectReason::EmptyFile);
    }
    reader.read_document(content, None, &mut on_session);
}

/// The content of `source`: gunzipped when `layout` says so (an empty `.gz` file is an empty
/// file, not a corrupt one).
fn decoded<'r, R: Read + 'r>(
    source: R,
    layout: Layout,
) -> Result<Box<dyn BufRead + 'r>, RejectReason> {
    let mut raw = BufReader::with_capacity(READ_BUFFER, source);
    let empty = match raw.fill_buf() {
        Ok(bytes) => bytes.is_empty(),
        Err(e) => return Err(RejectReason::CannotRead(e.to_string())),
    };
    Ok(if layout.gzip && !empty {
        Box::new(BufReader::with_capacity(
            READ_BUFFER,
            MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(raw)
    })
}

/// A read error: the gzip stream is corrupt, or the file could not be read.
fn broken(layout: Layout, e: std::io::Error) -> RejectReason {
    if layout.gzip {
        RejectReason::CannotDecompress(e.to_string())
    } else {
        RejectReason::CannotRead(e.to_string())
    }
}

/// The bytes of whole NDJSON lines that make one chunk: parsing and analysing a large file is
/// cut into chunks of about this size, which threads work on independently.
pub const CHUNK_BYTES: usize = 1 << 20;

/// A stretch of whole lines of an NDJSON file (docs/reference.md §2), read by one thread
/// (which also gunzips) and parsed by any: its lines keep their numbers in the file.
pub struct LineChunk {
    /// Its rank in the file (0, 1, …): orders the sessions of the file for the duplicate rule.
    pub index: u32,
    bytes: Vec<u8>,
    lines: Vec<ChunkLine>,
}

/// What one line of a chunk holds.
enum ChunkLine {
    /// Line `number` is `bytes[start..end]` of the chunk (without its `\n`).
    Text {
        number: u64,
        start: usize,
        end: usize,
    },
    /// Line `number` was longer than `limit`; it was dropped.
    TooLong { number: u64, limit: u64 },
    /// The file could not be opened, read or gunzipped (at line `line`): the last of the file.
    Failed {
        line: Option<u64>,
        reason: RejectReason,
    },
}

/// Lines in one chunk at most (a chunk of a million blank lines would otherwise hold their
/// entries, 40 bytes each, however few bytes they have).
const MAX_CHUNK_LINES: usize = 1 << 16;

/// Reads the NDJSON content of `source` (gunzipped when `layout` says so) and cuts it into
/// chunks of whole lines of about `chunk_bytes` (or [`MAX_CHUNK_LINES`]), handing each to
/// `on_chunk` in file order.
pub fn read_line_chunks<R: Read, F>(
    source: R,
    layout: Layout,
    limits: &Limits,
    chunk_bytes: usize,
    mut on_chunk: F,
) where
    F: FnMut(LineChunk),
{
    let new_chunk = |index| LineChunk {
        index,
        bytes: Vec::with_capacity(chunk_bytes + READ_BUFFER),
        lines: Vec::new(),
    };
    let mut chunk = new_chunk(0);
    let mut content = match decoded(source, layout) {
        Ok(content) => content,
        Err(reason) => {
            chunk.lines.push(ChunkLine::Failed { line: None, reason });
            return on_chunk(chunk);
        }
    };
    let max = limits.max_document_bytes;
    let mut number = 0u64;
    loop {
        number += 1;
        let start = chunk.bytes.len();
        match read_line(&mut content, &mut chunk.bytes, max) {
            Ok(Line::End) => break,
            Ok(Line::TooLong) => {
                chunk.bytes.truncate(start);
                chunk.lines.push(ChunkLine::TooLong { number, limit: max });
            }
            Ok(Line::Read) => {
                let end = chunk.bytes.len();
                chunk.lines.push(ChunkLine::Text { number, start, end });
            }
            Err(e) => {
                chunk.bytes.truncate(start);
                chunk.lines.push(ChunkLine::Failed {
                    line: Some(number),
                    reason: broken(layout, e),
                });
                break;
            }
        }
        // Blank and over-long lines keep no bytes: the count of lines bounds them.
        if chunk.bytes.len() >= chunk_bytes || chunk.lines.len() >= MAX_CHUNK_LINES {
            let next = new_chunk(chunk.index + 1);
            on_chunk(std::mem::replace(&mut chunk, next));
        }
    }
    if !chunk.lines.is_empty() {
        on_chunk(chunk);
    }
}

/// Parses the lines of one chunk of the file `path` (its rank `file_rank` in path order) and
/// calls `on_session` for each session with an id; the rest goes to `rejects`, in line order.
pub fn read_chunk<F>(
    chunk: &LineChunk,
    path: &str,
    file_rank: u32,
    rejects: &mut dyn RejectSink,
    mut on_session: F,
) where
    F: FnMut(IdentifiedSession<'_, '_>),
{
    let mut reader = FileReader {
        path,
        file_rank,
        chunk: chunk.index,
        position: 0,
        rejects,
    };
    for line in &chunk.lines {
        match line {
            ChunkLine::Text { number, start, end } => {
                let line = &chunk.bytes[*start..*end];
                let bytes = if *number == 1 { strip_bom(line) } else { line };
                if !bytes.iter().all(u8::is_ascii_whitespace) {
                    reader.read_document(bytes, Some(*number), &mut on_session);
                }
            }
            ChunkLine::TooLong { number, limit } => reader.reject(
                Some(*number),
                None,
                RejectReason::DocumentTooLarge { limit: *limit },
            ),
            ChunkLine::Failed { line, reason } => reader.reject(*line, None, reason.clone()),
        }
    }
}

/// The buffer of each reading stage.
const READ_BUFFER: usize = 64 << 10;

enum Line {
    /// A line (without its `\n`) is in the buffer.
    Read,
    /// The line was longer than the limit: it was read to its end and dropped.
    TooLong,
    /// Nothing left.
    End,
}

/// Reads one line onto the end of `line`, keeping at most `max` bytes of it in memory.
fn read_line(source: &mut dyn BufRead, line: &mut Vec<u8>, max: u64) -> std::io::Result<Line> {
    let base = line.len();
    let mut seen = 0u64;
    let mut too_long = false;
    loop {
        let available = match source.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(match (seen, too_long) {
                (0, _) => Line::End,
                (_, true) => Line::TooLong,
                (_, false) => Line::Read,
            });
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        seen += chunk.len() as u64;
        if seen > max {
            too_long = true;
            line.truncate(base);
        } else {
            line.extend_from_slice(chunk);
        }
        let used = done.unwrap_or(available.len());
        source.consume(used);
        if done.is_some() {
            return Ok(if too_long { Line::TooLong } else { Line::Read });
        }
    }
}

struct FileReader<'r> {
    path: &'r str,
    file_rank: u32,
    chunk: u32,
    position: u32,
    rejects: &'r mut dyn RejectSink,
}

impl FileReader<'_> {
    fn reject(&mut self, line: Option<u64>, session_id: Option<String>, reason: RejectReason) {
        self.rejects.reject(Reject {
            path: self.path.to_owned(),
            line,
            session_id,
            reason,
        });
    }

    fn read_document<F>(&mut self, bytes: &[u8], line: Option<u64>, on_session: &mut F)
    where
        F: FnMut(IdentifiedSession<'_, '_>),
    {
        let json = match std::str::from_utf8(bytes) {
            Ok(json) => json,
            Err(e) => {
                let reason = RejectReason::NotUtf8 {
                    offset: e.valid_up_to(),
                };
                return self.reject(line, None, reason);
            }
        };
        // The fast path reads the whole document at once; a well-formed document with a bad
        // session somewhere is read again session by session, so the others are kept.
        let items = match serde_json::from_str::<Document>(json) {
            Ok(document) => document.into_sessions(),
            Err(e) => match sessions_one_by_one(json) {
                Some(items) => items,
                None => {
                    let id = serde_json::from_str::<IdOnly>(json)
                        .ok()
                        .and_then(|d| text(&d.id).map(str::to_owned));
                    return self.reject(line, id, describe_parse_error(&e));
                }
            },
        };
        for (index, item) in items.iter().enumerate() {
            let origin = Origin {
                file: self.file_rank,
                chunk: self.chunk,
                position: self.position,
            };
            self.position += 1;
            let number = index + 1;
            let raw = match item {
                Ok(raw) => raw,
                Err(Problem::NotAnObject(NotAnObject(kind))) => {
                    let reason = RejectReason::NotASessionDocument(format!(
                        "item {number} of this document is {kind}, not an object"
                    ));
                    self.reject(line, None, reason);
                    continue;
                }
                Err(Problem::Invalid { id, error }) => {
                    let reason = RejectReason::NotASessionDocument(format!(
                        "session {number} of this document: {error}"
                    ));
                    self.reject(line, id.clone(), reason);
                    continue;
                }
            };
            match (&raw.id, text(&raw.id)) {
                (_, Some(id)) => on_session(IdentifiedSession { id, raw, origin }),
                (id, None) => {
                    let reason = RejectReason::SessionWithoutId {
                        number,
                        not_a_string: matches!(id, Some(Text::Other)),
                    };
                    self.reject(line, None, reason);
                }
            }
        }
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Syntax errors (truncated, garbage) are "invalid JSON"; well-formed JSON of the wrong shape
/// (a bare number, a string where the participants belong) is "not a session document".
fn describe_parse_error(e: &serde_json::Error) -> RejectReason {
    if e.is_data() {
        RejectReason::NotASessionDocument(e.to_string())
    } else {
        RejectReason::InvalidJson(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn read(name: &str, content: &[u8]) -> (Vec<String>, Vec<Reject>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        fs::write(&path, content).unwrap();
        let layout = walk::layout_of(&path).unwrap();
        let mut ids = Vec::new();
        let mut rejects = Vec::new();
        read_file(
            &InputFile::new(path, layout),
            0,
            &Limits::default(),
            &mut rejects,
            |s| ids.push(s.id.to_owned()),
        );
        for r in &mut rejects {
            r.path = name.to_owned();
        }
        (ids, rejects)
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn ndjson_lines_are_read_one_by_one_with_line_numbers() {
        let (ids, rejects) = read(
            "a.ndjson",
            b"{\"id\":\"a\"}\n\n{\"id\":\"b\"\n{\"pageInfo\":{},\"data\":[{\"id\":\"c\"},{}]}\n",
        );
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(rejects.len(), 2);
        assert_eq!(rejects[0].line, Some(3));
        assert!(
            matches!(rejects[0].reason, RejectReason::InvalidJson(_)),
            "{}",
            rejects[0].reason
        );
        assert_eq!(rejects[1].line, Some(4));
        assert_eq!(
            rejects[1].reason,
            RejectReason::SessionWithoutId {
                number: 2,
                not_a_string: false
            }
        );
    }

    #[test]
    fn each_kind_of_bad_file_has_its_reason() {
        use RejectReason as R;
        type IsExpected = fn(&R) -> bool;
        let cases: [(&str, &[u8], IsExpected, &str); 7] = [
            ("a.json", b"", |r| *r == R::EmptyFile, "empty file"),
            (
                "a.json",
                b"{\"id\":\"x\",\"start\":",
                |r| matches!(r, R::InvalidJson(_)),
                "invalid JSON",
            ),
            (
                "a.json",
                b"42",
                |r| matches!(r, R::NotASessionDocument(_)),
                "not a session document",
            ),
            (
                "a.json",
                b"{\"id\":\"caf\xE9\"}",
                |r| *r == R::NotUtf8 { offset: 10 },
                "not UTF-8 text: invalid byte at offset 10",
            ),
            (
                "a.json.gz",
                b"\x1f\x8b\x08\x00garbage",
                |r| matches!(r, R::CannotDecompress(_)),
                "cannot decompress gzip",
            ),
            ("a.json.gz", &[], |r| *r == R::EmptyFile, "empty file"),
            ("a.json", b" \n ", |r| *r == R::EmptyFile, "empty file"),
        ];
        for (name, content, is_expected, text) in cases {
            let (ids, rejects) = read(name, content);
            assert!(ids.is_empty());
            assert_eq!(rejects.len(), 1, "{name} {content:?}");
            assert!(is_expected(&rejects[0].reason), "{:?}", rejects[0].reason);
            assert!(
                rejects[0]
                    .reason
                    .to_string()
                    .starts_with(rejects[0].reason.label())
                    && rejects[0].reason.to_string().starts_with(text),
                "the report's text keeps its documented start: {} vs {text}",
                rejects[0].reason
            );
        }
    }

    #[test]
    fn an_ndjson_file_of_blank_lines_is_no_error() {
        assert_eq!(read("a.ndjson", b"\n\n  \n"), (vec![], vec![]));
        assert_eq!(read("a.jsonl", b""), (vec![], vec![]));
    }

    /// Blank lines hold no bytes, so the count of lines cuts their chunks; the numbers still
    /// run on across the cuts.
    #[test]
    fn blank_lines_are_cut_into_bounded_chunks() {
        let mut content = vec![b'\n'; 150_000];
        content.extend_from_slice(b"{\"id\":\"a\"}\n");
        content.extend(std::iter::repeat_n(b'\n', 10));
        content.extend_from_slice(b"{bad\n");
        let mut chunks = Vec::new();
        let layout = Layout {
            lines: true,
            gzip: false,
        };
        read_line_chunks(&content[..], layout, &Limits::default(), 1 << 20, |c| {
            chunks.push(c.lines.len())
        });
        assert!(chunks.iter().all(|&n| n <= MAX_CHUNK_LINES), "{chunks:?}");
        assert_eq!(chunks.iter().sum::<usize>(), 150_012);
        let (ids, rejects) = read("a.ndjson", &content);
        assert_eq!(ids, ["a"]);
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].line, Some(150_012));
    }

    #[test]
    fn one_bad_session_costs_only_itself() {
        let (ids, rejects) = read(
            "a.json",
            br#"[{"id":"a"},{"id":"b","participants":"x"},{"id":"c"}]"#,
        );
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].session_id.as_deref(), Some("b"));
        assert!(
            matches!(&rejects[0].reason, RejectReason::NotASessionDocument(d) if d.starts_with("session 2")),
            "{}",
            rejects[0].reason
        );
        let (ids, rejects) = read(
            "a.ndjson",
            b"{\"data\":[{\"id\":\"ok\"},{\"id\":\"bad\",\"participants\":\"none\"}]}\n",
        );
        assert_eq!(
            (ids, rejects.len(), rejects[0].line),
            (vec!["ok".to_owned()], 1, Some(1))
        );
        // A page whose `id` is null is a page on the slow path too: its good sessions stay.
        let (ids, rejects) = read(
            "a.json",
            br#"{"id":null,"pageInfo":{},"data":[{"id":"a"},{"id":"b"},{"id":"c","participants":"x"}]}"#,
        );
        assert_eq!(
            (ids, rejects.len()),
            (vec!["a".to_owned(), "b".to_owned()], 1)
        );
        // A number too large for a double fails the whole array on the fast path; it costs
        // only its own session, named, with its place in the file.
        let (ids, rejects) = read(
            "a.json",
            b"[{\"id\":\"a\"},\n{\"id\":\"b\",\"activeDuration\":-1e400},{\"id\":\"c\"}]",
        );
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].session_id.as_deref(), Some("b"));
        assert_eq!(
            rejects[0].reason.to_string(),
            "not a session document: session 2 of this document: number out of range at line 2 column 33"
        );
        // And an object whose `pageInfo` is null is a session, rejected for its missing id.
        let (ids, rejects) = read(
            "a.json",
            br#"[{"pageInfo":null,"start":"2024-05-01T10:00:00Z"},{"id":"b","participants":"x"}]"#,
        );
        assert_eq!((ids.len(), rejects.len()), (0, 2));
    }

    #[test]
    fn a_rejected_document_is_named_by_its_id_when_it_has_one() {
        let (_, rejects) = read("a.json", br#"{"id":"s1","participants":"everyone"}"#);
        assert_eq!(rejects[0].session_id.as_deref(), Some("s1"));
        assert!(matches!(
            rejects[0].reason,
            RejectReason::NotASessionDocument(_)
        ));
    }

    #[test]
    fn gzip_of_each_layout_and_a_byte_order_mark_are_read() {
        let (ids, rejects) = read("a.jsonl.gz", &gzip(b"{\"id\":\"a\"}\n{\"id\":\"b\"}"));
        assert_eq!(
            (ids, rejects),
            (vec!["a".to_owned(), "b".to_owned()], vec![])
        );
        let (ids, _) = read(
            "a.json.gz",
            &gzip(b"\xEF\xBB\xBF[{\"id\":\"a\"},{\"id\":\"b\"}]"),
        );
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn a_session_without_id_is_rejected_and_its_neighbours_kept() {
        let (ids, rejects) = read(
            "a.json",
            br#"[{"id":"a"},{"meetingId":"m"},{"id":42},{"id":""}]"#,
        );
        assert_eq!(ids, ["a"]);
        assert_eq!(rejects.len(), 3);
        let numbers: Vec<_> = rejects
            .iter()
            .map(|r| match r.reason {
                RejectReason::SessionWithoutId {
                    number,
                    not_a_string,
                } if r.line.is_none() => (number, not_a_string),
                _ => panic!("{r:?}"),
            })
            .collect();
        assert_eq!(numbers, [(2, false), (3, true), (4, false)]);
    }
}
