//! Ingest: walk the inputs, decode each file, hand out its sessions, reject what cannot be used.
//!
//! Bad input never stops the run (docs/reference.md §2): an unreadable file, an unparsable file or NDJSON line,
//! or a session without an id becomes a [`Reject`] and the rest is still read.
//!
//! Files are read as streams in bounded memory: an NDJSON file (plain or gzip) in chunks of
//! whole lines, a `.json` array (or a big page's `data`) in chunks of its items
//! ([`array`](mod@array); [`Chunk`], which other threads may parse while it reads on), and no
//! single JSON document (an NDJSON line, an array's item, any other `.json` file) beyond
//! [`Limits::max_document_bytes`]. Rejects go to a [`RejectSink`], which the pipeline backs
//! with a file ([`rejects`]), so they cost no memory either.
mod array;
pub mod document;
pub mod rejects;
pub mod walk;

use document::{
    placed, sessions_one_by_one, text, Document, IdOnly, NotAnObject, Problem, RawSession, Text,
    TextPosition,
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
    NotUtf8 { offset: u64 },
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
    /// Item `number` of a document (an array, or a page's `data`) is `kind` ("a number", …).
    fn not_an_object(number: usize, kind: &str) -> RejectReason {
        RejectReason::NotASessionDocument(format!(
            "item {number} of this document is {kind}, not an object"
        ))
    }

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

/// What reading tells a progress display, in bytes of the files as stored (compressed, for a
/// `.gz`).
pub trait ReadProgress: Sync {
    /// `bytes` more of a file were read.
    fn read(&self, bytes: u64);
    /// A file of `bytes` is to be read a second time (a `.json` array or big page, once
    /// checked).
    fn read_again(&self, bytes: u64);
}

/// No display.
pub struct NoProgress;

impl ReadProgress for NoProgress {
    fn read(&self, _: u64) {}
    fn read_again(&self, _: u64) {}
}

/// A file that tells `progress` what is read of it.
struct Counted<'p, R> {
    inner: R,
    progress: &'p dyn ReadProgress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.progress.read(read as u64);
        Ok(read)
    }
}

/// The largest JSON document read unless `--max-document-size` says otherwise: far above any
/// real session or page (a 1,000-participant webinar is about 200 KB), small enough that a
/// gzip bomb or a runaway line cannot take the machine's memory.
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 256 << 20;

/// Bounds on what one document may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one JSON document (an NDJSON line, an array's item, or any other `.json` file
    /// after gunzip).
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
    /// The chunk of the file ([`Chunk`]): NDJSON lines or the items of an array or a big page;
    /// 0 for other files.
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
    progress: &dyn ReadProgress,
    rejects: &mut dyn RejectSink,
    mut on_session: F,
) where
    F: FnMut(IdentifiedSession<'_, '_>),
{
    let path = file.name();
    read_file_chunks(file, limits, progress, |chunk| {
        read_chunk(&chunk, &path, file_rank, rejects, &mut on_session);
    });
}

/// Reads one input file in chunks of whole documents ([`read_chunks`]), telling `progress` what
/// it reads; a file that cannot be opened is one chunk holding that reject.
pub fn read_file_chunks<F>(
    file: &InputFile,
    limits: &Limits,
    progress: &dyn ReadProgress,
    mut on_chunk: F,
) where
    F: FnMut(Chunk),
{
    let open = || {
        let inner = open_regular(&file.path)?;
        Ok(Counted { inner, progress })
    };
    let size = std::fs::metadata(&file.path).map_or(0, |m| m.len());
    let again = || progress.read_again(size);
    read_chunks(
        &open,
        &again,
        size,
        file.layout,
        limits,
        CHUNK_BYTES,
        &mut on_chunk,
    );
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

/// Reads one input's `bytes`: `path` names it in rejects, `layout` says how it is laid out.
/// Public for the fuzzers, which feed it any bytes.
pub fn read_source<F>(
    bytes: &[u8],
    layout: Layout,
    path: &str,
    file_rank: u32,
    limits: &Limits,
    rejects: &mut dyn RejectSink,
    mut on_session: F,
) where
    F: FnMut(IdentifiedSession<'_, '_>),
{
    let open = || Ok(bytes);
    let size = bytes.len() as u64;
    read_chunks(
        &open,
        &|| {},
        size,
        layout,
        limits,
        CHUNK_BYTES,
        &mut |chunk| {
            read_chunk(&chunk, path, file_rank, rejects, &mut on_session);
        },
    );
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

/// The bytes of whole documents that make one chunk: parsing and analysing a large file is
/// cut into chunks of about this size, which threads work on independently.
pub const CHUNK_BYTES: usize = 1 << 20;

/// A stretch of whole documents of one file (docs/reference.md §2): NDJSON lines, the items
/// of a JSON array or of a big page's `data`, or the file's one document. One thread reads it
/// (and gunzips), any thread parses it; its documents keep their places in the file.
pub struct Chunk {
    /// Its rank in the file (0, 1, …): orders the sessions of the file for the duplicate rule.
    pub index: u32,
    bytes: Vec<u8>,
    entries: Vec<ChunkEntry>,
}

impl Chunk {
    fn rejected(line: Option<u64>, reason: RejectReason) -> Chunk {
        Chunk {
            index: 0,
            bytes: Vec::new(),
            entries: vec![ChunkEntry::Rejected { line, reason }],
        }
    }
}

/// What a chunk holds, in file order.
enum ChunkEntry {
    /// A JSON document, `bytes[start..end]` of the chunk: an NDJSON line (without its `\n`),
    /// an array's item, or a whole file.
    Document {
        start: usize,
        end: usize,
        place: Place,
    },
    /// What could not be read: a line over the limit (skipped), or the rest of the file.
    Rejected {
        line: Option<u64>,
        reason: RejectReason,
    },
}

/// Where a document lies in its file, for its rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    /// Its line number: NDJSON only (the rejects' `line` column).
    line: Option<u64>,
    /// The number of an array's item, by its place in the array (or in a big page's `data`):
    /// its sessions' number in the reasons ("session 2 of this document"), and where a list
    /// is not read as a document of sessions. `None` for a whole document.
    item: Option<usize>,
    /// The pages it is in: 1 for an item of a big page's `data`, else 0.
    pages_above: usize,
    /// Where its text starts in the file, for the positions of parse errors (an NDJSON line's
    /// are counted from the line).
    at: TextPosition,
}

impl Place {
    fn line(number: u64) -> Place {
        Place {
            line: Some(number),
            item: None,
            pages_above: 0,
            at: TextPosition::START,
        }
    }
}

/// Entries in one chunk at most (a chunk of a million blank lines, or of an array of a
/// million `0`s, would otherwise hold their entries, 56 bytes each, however few bytes they
/// have).
const MAX_CHUNK_ENTRIES: usize = 1 << 16;

/// Cuts a file's documents into [`Chunk`]s of about `chunk_bytes` (or [`MAX_CHUNK_ENTRIES`]),
/// handing each on as it fills.
struct Chunks<'f> {
    current: Chunk,
    chunk_bytes: usize,
    on_chunk: &'f mut dyn FnMut(Chunk),
}

impl<'f> Chunks<'f> {
    fn new(chunk_bytes: usize, on_chunk: &'f mut dyn FnMut(Chunk)) -> Chunks<'f> {
        Chunks {
            current: Chunks::chunk(0, chunk_bytes),
            chunk_bytes,
            on_chunk,
        }
    }

    fn chunk(index: u32, chunk_bytes: usize) -> Chunk {
        Chunk {
            index,
            bytes: Vec::with_capacity(chunk_bytes + READ_BUFFER),
            entries: Vec::new(),
        }
    }

    fn push(&mut self, entry: ChunkEntry) {
        self.current.entries.push(entry);
        if self.current.bytes.len() >= self.chunk_bytes
            || self.current.entries.len() >= MAX_CHUNK_ENTRIES
        {
            let next = Chunks::chunk(self.current.index + 1, self.chunk_bytes);
            (self.on_chunk)(std::mem::replace(&mut self.current, next));
        }
    }

    fn push_document(&mut self, text: &[u8], place: Place) {
        let start = self.current.bytes.len();
        self.current.bytes.extend_from_slice(text);
        let end = self.current.bytes.len();
        self.push(ChunkEntry::Document { start, end, place });
    }

    fn finish(self) {
        if !self.current.entries.is_empty() {
            (self.on_chunk)(self.current);
        }
    }
}

/// Reads the content of the file that `open` opens (gunzipped when `layout` says so; `size`
/// bytes as stored) and hands it to `on_chunk` in chunks of whole documents, in file order:
/// NDJSON in chunks of lines, a JSON array or a big page in chunks of its items
/// ([`array`](mod@array): the file is checked, then `again` is called and it is opened a second
/// time), any other JSON file as one document.
pub fn read_chunks<R: Read>(
    open: &dyn Fn() -> Result<R, RejectReason>,
    again: &dyn Fn(),
    size: u64,
    layout: Layout,
    limits: &Limits,
    chunk_bytes: usize,
    on_chunk: &mut dyn FnMut(Chunk),
) {
    let max = limits.max_document_bytes;
    if let Err(reason) = read_opened(open, again, size, layout, max, chunk_bytes, on_chunk) {
        on_chunk(Chunk::rejected(None, reason));
    }
}

/// [`read_chunks`], but for the reject that ends the file before anything is handed on.
#[allow(clippy::too_many_arguments)]
fn read_opened<R: Read>(
    open: &dyn Fn() -> Result<R, RejectReason>,
    again: &dyn Fn(),
    size: u64,
    layout: Layout,
    max: u64,
    chunk_bytes: usize,
    on_chunk: &mut dyn FnMut(Chunk),
) -> Result<(), RejectReason> {
    let opened = || -> Result<Opened<'_>, RejectReason> {
        let mut content = decoded(open()?, layout)?;
        let leading = if layout.lines {
            Leading {
                first: None,
                at: TextPosition::START,
                unfinished_mark: &[],
            }
        } else {
            skip_leading(&mut *content).map_err(|e| broken(layout, e))?
        };
        Ok(Opened { content, leading })
    };
    let Opened {
        mut content,
        leading,
    } = opened()?;
    if layout.lines {
        let mut chunks = Chunks::new(chunk_bytes, on_chunk);
        read_lines(&mut *content, layout, max, &mut chunks);
        chunks.finish();
        return Ok(());
    }
    // What the first pass found: a list to read item by item, or a document to read whole.
    let top = match leading.first {
        None => return Err(RejectReason::EmptyFile),
        Some(b'[') => {
            array::check_array(&mut *content, leading.at, layout, max)?;
            Some(array::Top::Array)
        }
        // A big page is checked for a list of sessions to read one by one (a smaller one is
        // read whole, once, which costs little).
        Some(b'{') if size > PAGES_READ_AS_LISTS_ABOVE_CHUNKS * chunk_bytes as u64 => {
            array::is_page_of_many(&mut *content, leading.at, max).then_some(array::Top::Page)
        }
        Some(_) => {
            on_chunk(read_whole(&mut *content, &leading, layout, max));
            return Ok(());
        }
    };
    again();
    let Opened {
        mut content,
        leading,
    } = opened()?;
    let Some(top) = top else {
        on_chunk(read_whole(&mut *content, &leading, layout, max));
        return Ok(());
    };
    let mut chunks = Chunks::new(chunk_bytes, on_chunk);
    let (at, read_size) = (leading.at, array::READ_SIZE);
    array::read_list_items(top, &mut *content, at, layout, max, read_size, &mut chunks);
    chunks.finish();
    Ok(())
}

/// A `.json` file that is an object and larger than this many chunks (as stored: 2 MiB) is
/// read as a stream when it is a page. A session, or a page of the API's (100 sessions), is far
/// smaller, and read once.
const PAGES_READ_AS_LISTS_ABOVE_CHUNKS: u64 = 2;

/// A file opened for reading: its content, past what comes before the document (unless it is
/// NDJSON).
struct Opened<'r> {
    content: Box<dyn BufRead + 'r>,
    leading: Leading,
}

/// The NDJSON lines of `content`, numbered from 1, into `chunks`.
fn read_lines(content: &mut dyn BufRead, layout: Layout, max: u64, chunks: &mut Chunks<'_>) {
    let mut number = 0u64;
    loop {
        number += 1;
        let start = chunks.current.bytes.len();
        match read_line(content, &mut chunks.current.bytes, max) {
            Ok(Line::End) => break,
            Ok(Line::TooLong) => {
                chunks.current.bytes.truncate(start);
                chunks.push(ChunkEntry::Rejected {
                    line: Some(number),
                    reason: RejectReason::DocumentTooLarge { limit: max },
                });
            }
            Ok(Line::Read) => {
                let end = chunks.current.bytes.len();
                let place = Place::line(number);
                chunks.push(ChunkEntry::Document { start, end, place });
            }
            Err(e) => {
                chunks.current.bytes.truncate(start);
                chunks.push(ChunkEntry::Rejected {
                    line: Some(number),
                    reason: broken(layout, e),
                });
                break;
            }
        }
    }
}

/// JSON's whitespace (not Rust's, which has the form feed too).
fn is_json_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\n' | b'\t' | b'\r')
}

/// What comes before a `.json` file's document: the first byte of the document (not consumed;
/// `None` if there is nothing else) and where that is in the file.
struct Leading {
    first: Option<u8>,
    at: TextPosition,
    /// The bytes of a byte order mark begun but not finished: consumed, yet the document's.
    unfinished_mark: &'static [u8],
}

/// Steps over a byte order mark (even one cut between two reads) and the whitespace before the
/// document.
fn skip_leading(content: &mut dyn BufRead) -> std::io::Result<Leading> {
    let mut matched = 0;
    while matched < BYTE_ORDER_MARK.len() {
        match content.fill_buf()?.first() {
            Some(&byte) if byte == BYTE_ORDER_MARK[matched] => {
                content.consume(1);
                matched += 1;
            }
            _ => break,
        }
    }
    if (1..BYTE_ORDER_MARK.len()).contains(&matched) {
        return Ok(Leading {
            first: Some(BYTE_ORDER_MARK[0]),
            at: TextPosition::START,
            unfinished_mark: &BYTE_ORDER_MARK[..matched],
        });
    }
    let mut at = TextPosition::START;
    loop {
        let available = content.fill_buf()?;
        let Some(skip) = available.iter().position(|&b| !is_json_whitespace(b)) else {
            if available.is_empty() {
                return Ok(Leading {
                    first: None,
                    at,
                    unfinished_mark: &[],
                });
            }
            let skip = available.len();
            at = at.after(available);
            content.consume(skip);
            continue;
        };
        let first = Some(available[skip]);
        at = at.after(&available[..skip]);
        content.consume(skip);
        return Ok(Leading {
            first,
            at,
            unfinished_mark: &[],
        });
    }
}

/// The rest of `content`, after what `leading` found, as one document, if it is within `max`
/// bytes.
fn read_whole(content: &mut dyn BufRead, leading: &Leading, layout: Layout, max: u64) -> Chunk {
    let mut bytes = leading.unfinished_mark.to_vec();
    let room = max.saturating_add(1).saturating_sub(bytes.len() as u64);
    if let Err(e) = content.take(room).read_to_end(&mut bytes) {
        return Chunk::rejected(None, broken(layout, e));
    }
    if bytes.len() as u64 > max {
        return Chunk::rejected(None, RejectReason::DocumentTooLarge { limit: max });
    }
    let at = leading.at;
    let place = Place {
        line: None,
        item: None,
        pages_above: 0,
        at,
    };
    Chunk {
        index: 0,
        entries: vec![ChunkEntry::Document {
            start: 0,
            end: bytes.len(),
            place,
        }],
        bytes,
    }
}

/// Parses the documents of one chunk of the file `path` (its rank `file_rank` in path order)
/// and calls `on_session` for each session with an id; the rest goes to `rejects`, in file
/// order.
pub fn read_chunk<F>(
    chunk: &Chunk,
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
    for entry in &chunk.entries {
        match entry {
            ChunkEntry::Document { start, end, place } => {
                let text = &chunk.bytes[*start..*end];
                let text = if place.line == Some(1) {
                    strip_bom(text)
                } else {
                    text
                };
                if let Some(number) = place.item.filter(|_| text.starts_with(b"[")) {
                    let reason = RejectReason::not_an_object(number, "an array");
                    reader.reject(None, None, reason);
                } else if !text.iter().all(u8::is_ascii_whitespace) {
                    reader.read_document(text, place, &mut on_session);
                }
            }
            ChunkEntry::Rejected { line, reason } => reader.reject(*line, None, reason.clone()),
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
        let (chunk, done) = match memchr::memchr(b'\n', available) {
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

    fn read_document<F>(&mut self, bytes: &[u8], place: &Place, on_session: &mut F)
    where
        F: FnMut(IdentifiedSession<'_, '_>),
    {
        let line = place.line;
        let json = match utf8(bytes) {
            Ok(json) => json,
            Err(e) => {
                let reason = RejectReason::NotUtf8 {
                    offset: place.at.offset + e.valid_up_to() as u64,
                };
                return self.reject(line, None, reason);
            }
        };
        // The fast path reads the whole document at once; a well-formed document with a bad
        // session somewhere is read again session by session, so the others are kept.
        let items = match serde_json::from_str::<Document>(json) {
            Ok(document) => document.into_sessions(place.pages_above),
            Err(e) => match sessions_one_by_one(json, place.at, place.pages_above) {
                Some(items) => items,
                None => {
                    let id = serde_json::from_str::<IdOnly>(json)
                        .ok()
                        .and_then(|d| text(&d.id).map(str::to_owned));
                    return self.reject(line, id, describe_parse_error(&e, place.at));
                }
            },
        };
        for (number, item) in &items {
            let origin = Origin {
                file: self.file_rank,
                chunk: self.chunk,
                position: self.position,
            };
            self.position += 1;
            // An array's item is numbered by its place in the array (its sessions share it).
            let number = place.item.unwrap_or(*number);
            let raw = match item {
                Ok(raw) => raw,
                Err(Problem::NotAnObject(NotAnObject(kind))) => {
                    self.reject(line, None, RejectReason::not_an_object(number, kind));
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

/// `bytes` as text, or where they stop being UTF-8: simdutf8's check (several times faster than
/// the standard library's on the mostly ASCII text of documents), and the standard library's
/// when it fails, for its position.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes))
}

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BYTE_ORDER_MARK).unwrap_or(bytes)
}

/// Syntax errors (truncated, garbage) are "invalid JSON"; well-formed JSON of the wrong shape
/// (a bare number, a string where the participants belong) is "not a session document". `at`
/// is where the document starts in its file.
fn describe_parse_error(e: &serde_json::Error, at: TextPosition) -> RejectReason {
    if e.is_data() {
        RejectReason::NotASessionDocument(placed(e, at))
    } else {
        RejectReason::InvalidJson(placed(e, at))
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
            &NoProgress,
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
        let open = || Ok(&content[..]);
        read_chunks(
            &open,
            &|| {},
            content.len() as u64,
            layout,
            &Limits::default(),
            1 << 20,
            &mut |c| chunks.push(c.entries.len()),
        );
        assert!(chunks.iter().all(|&n| n <= MAX_CHUNK_ENTRIES), "{chunks:?}");
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

    /// A JSON array is read item by item, in chunks: the same sessions and rejects as its
    /// items as NDJSON lines (but for the line numbers), and the limit bounds an item, not
    /// the file.
    #[test]
    fn an_array_reads_as_its_items_would_as_lines() {
        let items: Vec<String> = (0..7000)
            .map(|i| match i {
                7 => r#"{"start":"2024-05-01T10:00:00Z"}"#.to_owned(),
                1500 => r#"{"id":"bad","participants":"x"}"#.to_owned(),
                _ => format!(r#"{{"id":"s{i}","padding":"{}"}}"#, "x".repeat(i % 700)),
            })
            .collect();
        let array = format!("[\n{}\n]", items.join(",\n"));
        let lines = items.join("\n");
        assert!(array.len() > 2 * CHUNK_BYTES);
        let limit = Limits {
            max_document_bytes: 1024,
        };
        let read_with = |name: &str, content: &str| {
            let mut rejects = Vec::new();
            let mut ids = Vec::new();
            let layout = walk::layout_of(Path::new(name)).unwrap();
            read_source(
                content.as_bytes(),
                layout,
                name,
                0,
                &limit,
                &mut rejects,
                |s| ids.push((s.id.to_owned(), s.origin)),
            );
            (ids, rejects)
        };
        let (from_array, array_rejects) = read_with("a.json", &array);
        let (from_lines, line_rejects) = read_with("a.ndjson", &lines);
        let ids =
            |found: &[(String, Origin)]| found.iter().map(|s| s.0.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&from_array), ids(&from_lines));
        assert_eq!(from_array.len(), 6998);
        // Several chunks, and the sessions in file order across them.
        assert!(from_array.last().unwrap().1.chunk >= 2);
        assert!(from_array.windows(2).all(|w| w[0].1 < w[1].1));
        let reasons = |rejects: &[Reject]| {
            rejects
                .iter()
                .map(|r| (r.session_id.clone(), r.reason.label()))
                .collect::<Vec<_>>()
        };
        assert_eq!(reasons(&array_rejects), reasons(&line_rejects));
        // The items keep their number in the array, and their line and column in the file.
        assert_eq!(
            array_rejects[0].reason,
            RejectReason::SessionWithoutId {
                number: 8,
                not_a_string: false
            }
        );
        assert_eq!(
            array_rejects[1].reason.to_string(),
            "not a session document: session 1501 of this document: invalid type: string \"x\", \
             expected a sequence at line 1502 column 30"
        );
    }

    /// A big page is read as a stream, its `data` item by item: the same sessions and rejects,
    /// to the byte of their reasons, as when it is read whole; an object that is not such a
    /// page is read whole after the check.
    #[test]
    fn a_big_page_reads_as_it_does_whole() {
        let items: Vec<String> = (0..400)
            .map(|i| match i {
                3 => r#"{"id":"bad","participants":"x"}"#.to_owned(),
                5 => "[1,2]".to_owned(),
                8 => "7".to_owned(),
                13 => r#"{"start":"2024-05-01T10:00:00Z"}"#.to_owned(),
                21 => r#"{"id":"big","activeDuration":1e400}"#.to_owned(),
                34 => r#"{"data":[{"id":"n1"},{},{"id":"n2"}]}"#.to_owned(),
                50 => r#"{"start":"2024-05-01T10:00:00Z"}"#.to_owned(),
                // Pages in pages, 15 and 16 deep in the file: the limit is the same read
                // whole and read item by item.
                60 | 61 => {
                    let depth = i - 45;
                    let id = format!(r#"{{"id":"deep{depth}"}}"#);
                    format!("{}{id}{}", r#"{"data":"#.repeat(depth), "}".repeat(depth))
                }
                _ => format!(r#"{{"id":"s{i}","padding":"{}"}}"#, "x".repeat(i % 90)),
            })
            .collect();
        let read_with = |content: &str, chunk_bytes: usize| {
            let layout = Layout {
                lines: false,
                gzip: false,
            };
            let (mut ids, mut rejects, mut chunks) = (Vec::new(), Vec::new(), 0);
            let open = || Ok(content.as_bytes());
            let size = content.len() as u64;
            read_chunks(
                &open,
                &|| {},
                size,
                layout,
                &Limits::default(),
                chunk_bytes,
                &mut |chunk| {
                    chunks += 1;
                    read_chunk(&chunk, "a.json", 0, &mut rejects, |s| {
                        ids.push(s.id.to_owned())
                    });
                },
            );
            (ids, rejects, chunks)
        };
        let data = format!("[\n{}\n]", items.join(",\n"));
        let pages = [
            format!("{{\"pageInfo\":{{\"currentPage\":1}},\n\"data\":{data}}}"),
            format!("{{\"id\":null,\"d\\u0061ta\":{data},\"total\":1e400}}"),
            // Not pages of many: a session with a `data` field, a key twice, `data` not a list.
            format!("{{\"data\":{data},\"id\":\"p\"}}"),
            format!("{{\"data\":{data},\"pageInfo\":1,\"pageInfo\":2}}"),
            format!(
                "{{\"pageInfo\":{{}},\"data\":{{\"id\":\"one\",\"padding\":\"{}\"}}}}",
                "x".repeat(20_000)
            ),
        ];
        for (index, page) in pages.iter().enumerate() {
            assert!(page.len() > 2 * 1024, "{index}");
            // Chunks of 1 KiB: over the threshold, so read as a stream when it is a page.
            let (ids, rejects, chunks) = read_with(page, 1024);
            let (whole_ids, whole_rejects, one) = read_with(page, 1 << 20);
            assert_eq!((ids, rejects), (whole_ids, whole_rejects), "page {index}");
            assert_eq!(one, 1);
            assert_eq!(chunks > 1, index < 2, "page {index}: {chunks} chunks");
        }
        let (ids, rejects, _) = read_with(&pages[0], 1024);
        assert_eq!(ids.len(), 394);
        let reasons: Vec<String> = rejects.iter().map(|r| r.reason.to_string()).collect();
        assert!(ids.contains(&"deep15".to_owned()) && !ids.contains(&"deep16".to_owned()));
        assert_eq!(reasons.len(), 8, "{reasons:?}");
        assert_eq!(
            reasons[7],
            "not a session document: session 62 of this document: page envelopes nested more \
             than 16 deep"
        );
        // The sessions of the page that is item 35 share its number; item 51 keeps its own.
        assert_eq!(
            reasons[5..7],
            [
                "session without id (session 35 in this document)",
                "session without id (session 51 in this document)"
            ]
        );
        assert!(reasons[4].starts_with("not a session document: session 22 of this document: number out of range at line 24 column 34"), "{}", reasons[4]);
    }

    /// What makes the whole file unreadable still rejects it whole: no session of a file cut
    /// short, or with a byte that is not UTF-8, is analyzed.
    #[test]
    fn an_array_that_cannot_be_read_whole_is_rejected_whole() {
        for (content, reason) in [
            (
                &br#"[{"id":"a"},{"id":"b""#[..],
                "invalid JSON: EOF while parsing an object at line 1 column 21",
            ),
            (
                b"[{\"id\":\"a\"},\n{\"id\":\"\xE9\"}]",
                "not UTF-8 text: invalid byte at offset 20",
            ),
            (
                br#"[{"id":"a"},{"id":"b"}] 7"#,
                "invalid JSON: trailing characters at line 1 column 25",
            ),
        ] {
            let (ids, rejects) = read("a.json", content);
            assert!(ids.is_empty(), "{ids:?}");
            assert_eq!(rejects.len(), 1);
            assert_eq!(rejects[0].reason.to_string(), reason);
            assert_eq!(rejects[0].line, None);
        }
    }

    /// Items that are lists are rejected alone, as when the array was parsed at once; the
    /// sessions of an item that is a page carry the item's number.
    #[test]
    fn the_items_of_an_array_that_are_not_sessions_are_named_by_their_number() {
        let (ids, rejects) = read(
            "a.json",
            br#"[[{"id":"x"}],{"id":"y"},[],[1,[2]],0,{"data":[{"id":"z"},{}]},{}]"#,
        );
        assert_eq!(ids, ["y", "z"]);
        let reasons: Vec<String> = rejects.iter().map(|r| r.reason.to_string()).collect();
        assert_eq!(
            reasons,
            [
                "not a session document: item 1 of this document is an array, not an object",
                "not a session document: item 3 of this document is an array, not an object",
                "not a session document: item 4 of this document is an array, not an object",
                "not a session document: item 5 of this document is a number, not an object",
                "session without id (session 6 in this document)",
                "session without id (session 7 in this document)",
            ]
        );
    }

    /// Each bad session of a page names its own line: the walk counts the lines once, from
    /// one bad session to the next.
    #[test]
    fn each_bad_session_of_a_page_names_its_line() {
        let (_, rejects) = read(
            "a.json",
            b"{\"data\":[\n{\"id\":\"a\",\"participants\":1},\n{\"id\":\"b\"},\n{\"id\":\"c\",\"participants\":2},\n{\"id\":\"d\",\n\"participants\":3}]}",
        );
        let lines: Vec<&str> = rejects
            .iter()
            .map(|r| match &r.reason {
                RejectReason::NotASessionDocument(detail) => {
                    detail.rsplit(" at ").next().unwrap_or_default()
                }
                other => panic!("{other}"),
            })
            .collect();
        assert_eq!(
            lines,
            ["line 2 column 26", "line 4 column 26", "line 6 column 16"]
        );
    }

    /// A byte order mark is one however the reads cut it; the start of one, unfinished, is the
    /// document's (and not UTF-8).
    #[test]
    fn a_byte_order_mark_cut_between_reads_is_still_one() {
        struct OneByteAtATime<'a>(&'a [u8]);
        impl Read for OneByteAtATime<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let read_slowly = |bytes: &'static [u8]| {
            let layout = Layout {
                lines: false,
                gzip: false,
            };
            let (mut ids, mut rejects) = (Vec::new(), Vec::new());
            let open = || Ok(OneByteAtATime(bytes));
            read_chunks(
                &open,
                &|| {},
                bytes.len() as u64,
                layout,
                &Limits::default(),
                64,
                &mut |chunk| {
                    read_chunk(&chunk, "a.json", 0, &mut rejects, |s| {
                        ids.push(s.id.to_owned())
                    });
                },
            );
            (ids, rejects)
        };
        assert_eq!(
            read_slowly(b"\xEF\xBB\xBF[{\"id\":\"a\"}]"),
            (vec!["a".to_owned()], vec![])
        );
        assert_eq!(read_slowly(b"\xEF\xBB\xBF {\"id\":\"b\"}").0, ["b"]);
        let (ids, rejects) = read_slowly(b"\xEF\xBB{\"id\":\"c\"}");
        assert!(ids.is_empty());
        assert_eq!(rejects[0].reason, RejectReason::NotUtf8 { offset: 0 });
    }

    /// The fast check and the standard library's agree on what is text, and the error says
    /// where the text stops being UTF-8, past the first of simdutf8's 64-byte blocks too.
    #[test]
    fn utf8_is_checked_as_the_standard_library_does() {
        let mut text = "é, a session's text ".repeat(20).into_bytes();
        assert_eq!(utf8(&text).ok(), std::str::from_utf8(&text).ok());
        for (at, bad) in [
            (0, &b"\xff"[..]),
            (131, b"\xc3"),
            (200, b"\xe2\x82"),
            (399, b"\xc3("),
        ] {
            let mut broken = text.clone();
            broken.splice(at..at, bad.iter().copied());
            let fast = utf8(&broken).unwrap_err();
            let slow = std::str::from_utf8(&broken).unwrap_err();
            assert_eq!(
                (fast.valid_up_to(), fast.error_len()),
                (slow.valid_up_to(), slow.error_len())
            );
            assert!(fast.valid_up_to() <= at);
        }
        text.truncate(0);
        assert_eq!(utf8(&text), Ok(""));
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
