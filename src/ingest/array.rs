//! A file whose top level is a JSON array, or a big page (`{"pageInfo": …, "data": […]}`),
//! read item by item as it streams in (docs/reference.md §2): an export of any size is read in
//! bounded memory, and its items are cut into chunks that threads parse and analyze, as the
//! lines of an NDJSON file are.
//!
//! The file is read twice. The first pass keeps nothing: it finds whether the file is UTF-8
//! and well-formed JSON ([`check_array`]), for an array that is not is rejected whole, as when
//! it was read at once; or whether an object is a page of many ([`is_page_of_many`]), for
//! anything else is read whole. The second ([`read_list_items`]) hands the items on.
//!
//! serde_json finds each item's end (as a borrowed [`RawValue`]); this module only steps over
//! the `,` between items, and keeps enough of the file in its buffer for the item being read.
//! Its errors are serde_json's, in its words and at the line and column of the file.
use super::document::{placed, TextPosition};
use super::{broken, ChunkEntry, Chunks, Layout, Place, RejectReason};
use serde_json::value::RawValue;
use std::io::BufRead;

/// Whether the rest of `source`, an array whose `[` is its next byte (`at` in the file), can
/// be read item by item: `Err` is the reason to reject the whole file. A byte that is not UTF-8
/// anywhere, or a read error, is named before a syntax error, as when the file was read at once.
pub(super) fn check_array(
    source: &mut dyn BufRead,
    at: TextPosition,
    layout: Layout,
    max_item_bytes: u64,
) -> Result<(), RejectReason> {
    let mut reader = ArrayReader::new(source, at, READ_SIZE, true);
    let first = match reader.read_items(max_item_bytes, &mut |_, _| {}) {
        Ok(()) => return Ok(()),
        Err(failure @ (Failure::Read(_) | Failure::NotUtf8(_))) => failure,
        Err(failure) => match reader.read_to_end() {
            Ok(()) => failure,
            Err(named_first) => named_first,
        },
    };
    Err(first.reason(layout, max_item_bytes))
}

/// Whether the rest of `source`, an object whose `{` is its next byte (`at` in the file), is a
/// page whose sessions can be read one by one: UTF-8, well-formed, with no `id` (or a `null`
/// one) and one `data`, a list (docs/reference.md §1–2). `false` for anything else, which is
/// then read whole, as before, to be accepted or rejected as a whole.
pub(super) fn is_page_of_many(
    source: &mut dyn BufRead,
    at: TextPosition,
    max_item_bytes: u64,
) -> bool {
    let mut reader = ArrayReader::new(source, at, READ_SIZE, true);
    match reader.read_object(max_item_bytes, &mut |_, _| {}) {
        Ok(members) => members.page_of_many(),
        Err(_) => false,
    }
}

/// What a file read here holds at its top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Top {
    Array,
    /// A page that [`is_page_of_many`] passed: its `data` is read.
    Page,
}

/// Reads the array or page whose first byte (`[` or `{`) is the next of `source` (`at` in the
/// file), handing each item of the list to `chunks` with its number (1, 2, …) and place in the
/// file. It reads `read_size` bytes ahead at a time ([`READ_SIZE`]; tests make it small). A
/// file that the first pass passed fails here only if it changed in between: the items before
/// that point are kept then.
pub(super) fn read_list_items(
    top: Top,
    source: &mut dyn BufRead,
    at: TextPosition,
    layout: Layout,
    max_item_bytes: u64,
    read_size: usize,
    chunks: &mut Chunks<'_>,
) {
    let mut reader = ArrayReader::new(source, at, read_size, false);
    let mut hand_on = |text: &[u8], place| chunks.push_document(text, place);
    let read = match top {
        Top::Array => reader.read_items(max_item_bytes, &mut hand_on),
        Top::Page => reader.read_object(max_item_bytes, &mut hand_on).map(drop),
    };
    if let Err(failure) = read {
        let reason = failure.reason(layout, max_item_bytes);
        chunks.push(ChunkEntry::Rejected { line: None, reason });
    }
}

/// The members of a file's object that tell a page from a session, counted.
#[derive(Debug, Default)]
struct Members {
    /// A key serde_json reads as a string only in the raw (a lone surrogate's escape).
    unreadable_key: bool,
    id: usize,
    id_is_null: bool,
    data: usize,
    data_is_list: bool,
    page_info: usize,
}

impl Members {
    /// A page with a list of sessions, as the slow path's walk reads it: a key twice makes it a
    /// session that does not read, and a session that carries `data` is still a session.
    fn page_of_many(&self) -> bool {
        let no_id = self.id == 0 || (self.id == 1 && self.id_is_null);
        let one_data = self.data == 1 && self.data_is_list;
        !self.unreadable_key && no_id && one_data && self.page_info <= 1
    }
}

/// Why the rest of the file is not read.
enum Failure {
    Read(std::io::Error),
    /// The offset in the file of a byte that is not UTF-8.
    NotUtf8(u64),
    /// serde_json's message, positioned in the file.
    Syntax(String),
    /// One item is longer than the limit.
    TooLarge,
}

impl Failure {
    fn reason(self, layout: Layout, max_item_bytes: u64) -> RejectReason {
        match self {
            Failure::Read(e) => broken(layout, e),
            Failure::NotUtf8(offset) => RejectReason::NotUtf8 { offset },
            Failure::Syntax(detail) => RejectReason::InvalidJson(detail),
            Failure::TooLarge => RejectReason::DocumentTooLarge {
                limit: max_item_bytes,
            },
        }
    }
}

struct ArrayReader<'s> {
    source: &'s mut dyn BufRead,
    /// The bytes read and not yet handed on; `buffer[next]` is the next one.
    buffer: Vec<u8>,
    next: usize,
    /// Where `buffer[next]` is in the file.
    at: TextPosition,
    end_of_file: bool,
    read_size: usize,
    /// Checks each byte read, in the first pass: serde_json does not, in the strings it steps
    /// over. (The second hands on items that are checked as they are parsed.)
    utf8: Option<Utf8Stream>,
}

/// What one attempt to read an item from the buffer found.
enum Attempt {
    /// The item is `buffer[next..next + len]`.
    Item(usize),
    /// The buffer may end inside the item: read more and try again.
    NeedMore,
    Syntax(String),
}

/// Whether serde_json's error `e`, reading `text`, lies at its very end, where more bytes could
/// make it go away.
fn at_the_end(text: &[u8], e: &serde_json::Error) -> bool {
    let line_start = match e.line() {
        0 | 1 => Some(0),
        line => memchr::memchr_iter(b'\n', text)
            .nth(line - 2)
            .map(|i| i + 1),
    };
    line_start.is_none_or(|start| start + e.column() + 1 >= text.len())
}

impl<'s> ArrayReader<'s> {
    fn new(
        source: &'s mut dyn BufRead,
        at: TextPosition,
        read_size: usize,
        check_utf8: bool,
    ) -> ArrayReader<'s> {
        ArrayReader {
            source,
            buffer: Vec::new(),
            next: 0,
            at,
            end_of_file: false,
            read_size,
            utf8: check_utf8.then(|| Utf8Stream::new(at.offset)),
        }
    }

    /// Reads the array that is the file, handing each item to `on_item` with its place.
    fn read_items(
        &mut self,
        max_item_bytes: u64,
        on_item: &mut dyn FnMut(&[u8], Place),
    ) -> Result<(), Failure> {
        self.read_list(max_item_bytes, 0, on_item)?;
        self.only_whitespace_left()
    }

    /// Reads a list, from its `[` (the next byte but whitespace) to its `]`, handing each item
    /// to `on_item` with its place (`pages_above` it). serde_json's words for what goes wrong.
    fn read_list(
        &mut self,
        max_item_bytes: u64,
        pages_above: usize,
        on_item: &mut dyn FnMut(&[u8], Place),
    ) -> Result<(), Failure> {
        match self.next_byte()? {
            Some(b'[') => self.step(1),
            _ => return Err(self.syntax_error("expected `[`")),
        }
        match self.next_byte()? {
            Some(b']') => {
                self.step(1);
                return Ok(());
            }
            None => return Err(self.syntax_error("EOF while parsing a list")),
            Some(_) => {}
        }
        let mut number = 0;
        loop {
            number += 1;
            let len = self.item(max_item_bytes)?;
            let place = Place {
                line: None,
                item: Some(number),
                pages_above,
                at: self.at,
            };
            on_item(&self.buffer[self.next..self.next + len], place);
            self.step(len);
            match self.next_byte()? {
                Some(b',') => self.step(1),
                Some(b']') => {
                    self.step(1);
                    return Ok(());
                }
                Some(_) => return Err(self.syntax_error("expected `,` or `]`")),
                None => return Err(self.syntax_error("EOF while parsing a list")),
            }
            match self.next_byte()? {
                Some(b']') => return Err(self.syntax_error("trailing comma")),
                None => return Err(self.syntax_error("EOF while parsing a value")),
                Some(_) => {}
            }
        }
    }

    /// Reads the object that is the file, member by member: a `data` list item by item (handed
    /// to `on_item`), any other value whole (and dropped). What it found tells a page from a
    /// session.
    fn read_object(
        &mut self,
        max_item_bytes: u64,
        on_item: &mut dyn FnMut(&[u8], Place),
    ) -> Result<Members, Failure> {
        let mut members = Members::default();
        match self.next_byte()? {
            Some(b'{') => self.step(1),
            _ => return Err(self.syntax_error("expected `{`")),
        }
        if self.next_byte()? == Some(b'}') {
            self.step(1);
            self.only_whitespace_left()?;
            return Ok(members);
        }
        loop {
            if self.next_byte()? != Some(b'"') {
                return Err(self.syntax_error("key must be a string"));
            }
            let len = self.item(max_item_bytes)?;
            let key = serde_json::from_slice::<String>(&self.buffer[self.next..self.next + len]);
            members.unreadable_key |= key.is_err();
            self.step(len);
            if self.next_byte()? != Some(b':') {
                return Err(self.syntax_error("expected `:`"));
            }
            self.step(1);
            if self.next_byte()?.is_none() {
                return Err(self.syntax_error("EOF while parsing a value"));
            }
            match key.as_deref() {
                Ok("data") if self.buffer[self.next] == b'[' => {
                    members.data += 1;
                    members.data_is_list = true;
                    self.read_list(max_item_bytes, 1, on_item)?;
                }
                key => {
                    let len = self.item(max_item_bytes)?;
                    let null = &self.buffer[self.next..self.next + len] == b"null";
                    match key {
                        Ok("id") => (members.id, members.id_is_null) = (members.id + 1, null),
                        Ok("data") => {
                            (members.data, members.data_is_list) = (members.data + 1, false)
                        }
                        Ok("pageInfo") => members.page_info += 1,
                        _ => {}
                    }
                    self.step(len);
                }
            }
            match self.next_byte()? {
                Some(b',') => self.step(1),
                Some(b'}') => {
                    self.step(1);
                    self.only_whitespace_left()?;
                    return Ok(members);
                }
                _ => return Err(self.syntax_error("expected `,` or `}`")),
            }
        }
    }

    /// The length of the item that starts at `buffer[next]`, reading more of the file as it
    /// needs. Each retry at least doubles what the buffer holds of the item, so an item is
    /// parsed at most about twice over, whatever its length; the buffer holds at most one byte
    /// more than the limit.
    fn item(&mut self, max_item_bytes: u64) -> Result<usize, Failure> {
        loop {
            match self.attempt() {
                Attempt::Item(len) if len as u64 > max_item_bytes => return Err(Failure::TooLarge),
                Attempt::Item(len) => return Ok(len),
                Attempt::Syntax(detail) => return Err(Failure::Syntax(detail)),
                Attempt::NeedMore => {}
            }
            let held = self.buffer.len() - self.next;
            if held as u64 > max_item_bytes {
                return Err(Failure::TooLarge);
            }
            // Never more than one byte past the limit: enough to know the item is over it.
            let room = max_item_bytes.saturating_add(1) - held as u64;
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            self.read_more(held.max(self.read_size).min(room))?;
        }
    }

    fn attempt(&self) -> Attempt {
        let rest = &self.buffer[self.next..];
        let mut reader = serde_json::Deserializer::from_slice(rest);
        match <&RawValue as serde::Deserialize>::deserialize(&mut reader) {
            Ok(item) => {
                // It starts at `rest[0]` (the caller stepped over the whitespace).
                let len = item.get().len();
                // A number (or `true`…) that ends where the buffer does may go on in the file.
                if len < rest.len() || self.end_of_file {
                    Attempt::Item(len)
                } else {
                    Attempt::NeedMore
                }
            }
            Err(e) if self.end_of_file || !(e.is_eof() || at_the_end(rest, &e)) => {
                Attempt::Syntax(placed(&e, self.at))
            }
            // `1.` or `1e` cut by the end of the buffer reads as a bad number, not as an end.
            Err(_) => Attempt::NeedMore,
        }
    }

    /// The next byte that is not whitespace (stepping over the whitespace), reading more of
    /// the file as it needs; `None` at its end.
    fn next_byte(&mut self) -> Result<Option<u8>, Failure> {
        loop {
            let rest = &self.buffer[self.next..];
            match rest.iter().position(|&b| !super::is_json_whitespace(b)) {
                Some(skip) => {
                    self.step(skip);
                    return Ok(Some(self.buffer[self.next]));
                }
                None if self.end_of_file => {
                    self.step(rest.len());
                    return Ok(None);
                }
                None => {
                    self.step(rest.len());
                    self.read_more(self.read_size)?;
                }
            }
        }
    }

    fn only_whitespace_left(&mut self) -> Result<(), Failure> {
        match self.next_byte()? {
            None => Ok(()),
            Some(_) => Err(self.syntax_error("trailing characters")),
        }
    }

    /// Hands on `len` bytes: they are behind the reader now.
    fn step(&mut self, len: usize) {
        self.at = self.at.after(&self.buffer[self.next..self.next + len]);
        self.next += len;
    }

    /// Reads at least `wanted` more bytes into the buffer, or up to the end of the file,
    /// first dropping what was handed on.
    fn read_more(&mut self, wanted: usize) -> Result<(), Failure> {
        self.buffer.drain(..self.next);
        self.next = 0;
        let goal = self.buffer.len() + wanted;
        while self.buffer.len() < goal {
            let available = match self.source.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::Read(e)),
            };
            if available.is_empty() {
                self.end_of_file = true;
                if let Some(utf8) = &self.utf8 {
                    utf8.finish().map_err(Failure::NotUtf8)?;
                }
                break;
            }
            let used = available.len().min(goal - self.buffer.len());
            if let Some(utf8) = &mut self.utf8 {
                utf8.check(&available[..used]).map_err(Failure::NotUtf8)?;
            }
            self.buffer.extend_from_slice(&available[..used]);
            self.source.consume(used);
        }
        Ok(())
    }

    /// Reads the rest of the file for a byte that is not UTF-8 or a read error, keeping none
    /// of it.
    fn read_to_end(&mut self) -> Result<(), Failure> {
        while !self.end_of_file {
            self.next = self.buffer.len();
            self.read_more(self.read_size)?;
        }
        Ok(())
    }

    /// serde_json's message for an error at the next byte (`Some`) or at the end of the file.
    fn syntax_error(&self, what: &str) -> Failure {
        Failure::Syntax(match self.buffer.get(self.next) {
            // serde_json names the byte it stopped at by the column just after it.
            Some(_) => format!(
                "{what} at line {} column {}",
                self.at.line,
                self.at.column + 1
            ),
            None => self.message_at_end(what),
        })
    }

    fn message_at_end(&self, what: &str) -> String {
        format!("{what} at line {} column {}", self.at.line, self.at.column)
    }
}

/// Checks that a stream is UTF-8 as it comes, piece by piece: a character may be cut between
/// two pieces.
struct Utf8Stream {
    /// The start of a character cut at the end of the last piece (at most 3 bytes).
    cut: Vec<u8>,
    /// The offset in the file of the first byte not yet known to be good.
    offset: u64,
}

impl Utf8Stream {
    fn new(offset: u64) -> Utf8Stream {
        Utf8Stream {
            cut: Vec::new(),
            offset,
        }
    }

    /// `Err`: the offset of the first byte that is not UTF-8.
    fn check(&mut self, mut piece: &[u8]) -> Result<(), u64> {
        if !self.cut.is_empty() {
            // The cut character needs at most 3 more bytes.
            let cut = self.cut.len();
            let taken = piece.len().min(4 - cut);
            self.cut.extend_from_slice(&piece[..taken]);
            match std::str::from_utf8(&self.cut) {
                Ok(_) => {}
                Err(e) if e.valid_up_to() >= cut => {
                    // The cut character is whole; what follows it is checked below.
                    piece = &piece[e.valid_up_to() - cut..];
                    self.offset += e.valid_up_to() as u64;
                    self.cut.clear();
                    return self.check_whole(piece);
                }
                Err(e) if e.error_len().is_none() => return Ok(()),
                Err(_) => return Err(self.offset),
            }
            piece = &piece[taken..];
            self.offset += self.cut.len() as u64;
            self.cut.clear();
        }
        self.check_whole(piece)
    }

    fn check_whole(&mut self, piece: &[u8]) -> Result<(), u64> {
        match super::utf8(piece) {
            Ok(_) => self.offset += piece.len() as u64,
            Err(e) if e.error_len().is_none() => {
                self.offset += e.valid_up_to() as u64;
                self.cut.extend_from_slice(&piece[e.valid_up_to()..]);
            }
            Err(e) => return Err(self.offset + e.valid_up_to() as u64),
        }
        Ok(())
    }

    /// At the end of the stream: a character cut there is not UTF-8.
    fn finish(&self) -> Result<(), u64> {
        if self.cut.is_empty() {
            Ok(())
        } else {
            Err(self.offset)
        }
    }
}

/// How much more of the file is read at a time.
pub(super) const READ_SIZE: usize = 64 << 10;

#[cfg(test)]
mod tests {
    use super::super::{skip_leading, Chunk};
    use super::*;
    use proptest::prelude::*;
    use std::io::Read;

    /// A source that hands out at most `step` bytes a read, so that every boundary between
    /// items, and inside them, falls at the end of a buffer somewhere.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    /// The documents read from the array `json` (their text and place), `step` bytes ahead at
    /// a time, and the reject that ended it.
    fn read(json: &str, step: usize, max: u64) -> (Vec<(String, Place)>, Option<RejectReason>) {
        let mut source = std::io::BufReader::with_capacity(
            step,
            Trickle {
                bytes: json.as_bytes(),
                step,
            },
        );
        let layout = Layout {
            lines: false,
            gzip: false,
        };
        let leading = skip_leading(&mut source).unwrap();
        assert_eq!(leading.first, Some(b'['), "{json:?} is not an array");
        let at = leading.at;
        let (mut documents, mut rejected) = (Vec::new(), None);
        let mut on_chunk = |chunk: Chunk| {
            for entry in &chunk.entries {
                match entry {
                    ChunkEntry::Document { start, end, place } => {
                        let text = String::from_utf8(chunk.bytes[*start..*end].to_vec()).unwrap();
                        assert!(rejected.is_none(), "a document after the reject");
                        documents.push((text, *place));
                    }
                    ChunkEntry::Rejected { reason, .. } => rejected = Some(reason.clone()),
                }
            }
        };
        let mut chunks = Chunks::new(64, &mut on_chunk);
        read_list_items(Top::Array, &mut source, at, layout, max, step, &mut chunks);
        chunks.finish();
        (documents, rejected)
    }

    /// What serde_json makes of `json` read whole: its items, each with its place in the text.
    fn items_read_whole(json: &str) -> Result<Vec<(String, Place)>, String> {
        let items: Vec<&RawValue> = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let offset = item.get().as_ptr() as usize - json.as_ptr() as usize;
                let place = Place {
                    line: None,
                    item: Some(index + 1),
                    pages_above: 0,
                    at: TextPosition::START.after(&json.as_bytes()[..offset]),
                };
                (item.get().to_owned(), place)
            })
            .collect())
    }

    const TRICKY: &str = "\r\n [ {\"id\":\"a\",\"name\":\"],[\\\"{\",\"n\":[1,[2,{}]]} ,\n\t12.5e-3,\"\\u00e9\\\\\" ,\nnull, true,[] ,{\"x\":{\"y\":[\"]\"]}}, -0 ]\n";

    #[test]
    fn the_items_and_their_places_are_serde_jsons() {
        let whole = items_read_whole(TRICKY).unwrap();
        assert_eq!(whole.len(), 8);
        for step in [1, 2, 3, 7, 64, 1 << 16] {
            assert_eq!(
                read(TRICKY, step, 1 << 20),
                (whole.clone(), None),
                "step {step}"
            );
        }
    }

    /// Cut short anywhere, the file keeps the items before the cut, and the reject says what
    /// serde_json says of the whole file, at the same line and column.
    #[test]
    fn a_file_cut_anywhere_keeps_what_came_before_and_says_where() {
        let whole = items_read_whole(TRICKY).unwrap();
        let first = TRICKY.find('[').unwrap();
        for cut in first + 1..TRICKY.trim_end().len() {
            let text = &TRICKY[..cut];
            let Err(expected) = items_read_whole(text) else {
                panic!("{text:?} reads whole");
            };
            for step in [1, 5, 1 << 16] {
                let (documents, rejected) = read(text, step, 1 << 20);
                assert_eq!(
                    rejected,
                    Some(RejectReason::InvalidJson(expected.clone())),
                    "cut at {cut}, step {step}"
                );
                // A number cut short is still a number: the last item may be shorter.
                let (last, before) = match documents.split_last() {
                    Some((last, before)) => (Some(last), before),
                    None => (None, &documents[..]),
                };
                assert_eq!(before, &whole[..before.len()], "cut at {cut}");
                if let Some((text, place)) = last {
                    let (full, full_place) = &whole[before.len()];
                    assert!(full.starts_with(text.as_str()) && place == full_place);
                }
            }
        }
    }

    #[test]
    fn what_is_wrong_between_items_is_said_in_serde_jsons_words() {
        for json in [
            "[1 2]",
            "[1,]",
            "[,1]",
            "[1]x",
            "[1]\n ]",
            "[{\"a\":1},\n {\"b\" 2}]",
            "[[1,2]3]",
            "[1,\n\n",
            "[ ",
            "[1x]",
            "[truex]",
            "[1.5e3x]",
            "[1\u{c}]",
            "[\"a\"\"b\"]",
        ] {
            let Err(expected) = items_read_whole(json) else {
                panic!("{json:?} reads whole");
            };
            for step in [1, 1 << 16] {
                let (_, rejected) = read(json, step, 1 << 20);
                assert_eq!(
                    rejected,
                    Some(RejectReason::InvalidJson(expected.clone())),
                    "{json:?}"
                );
            }
        }
        assert_eq!(read("[]", 1, 10), (vec![], None));
        assert_eq!(read(" [ \n ] \n", 1, 10), (vec![], None));
    }

    /// An item over the limit ends the file, with the items before it kept; each item is held
    /// at most twice over.
    #[test]
    fn an_item_over_the_limit_ends_the_file() {
        let big = format!("\"{}\"", "x".repeat(300));
        let json = format!("[1,{big},2]");
        for step in [1, 1 << 16] {
            let (documents, rejected) = read(&json, step, 200);
            assert_eq!(documents.len(), 1);
            assert_eq!(
                rejected,
                Some(RejectReason::DocumentTooLarge { limit: 200 })
            );
            let (documents, rejected) = read(&json, step, 400);
            assert_eq!((documents.len(), rejected), (3, None));
        }
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[\\[\\]{},:\"\\\\a-zé\n\t ]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-z\\]\",]{0,4}", inner), 0..4)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    /// What the first pass says of `json`, read `step` bytes ahead at a time.
    fn check(json: &[u8], max: u64) -> Result<(), RejectReason> {
        let mut source = std::io::BufReader::with_capacity(64, json);
        let leading = skip_leading(&mut source).unwrap();
        assert_eq!(leading.first, Some(b'['), "{json:?} is not an array");
        let at = leading.at;
        let layout = Layout {
            lines: false,
            gzip: false,
        };
        check_array(&mut source, at, layout, max)
    }

    /// The first pass names what reading the file at once named: a byte that is not UTF-8
    /// anywhere (at its offset in the file) before a syntax error, else the syntax error.
    #[test]
    fn the_first_pass_names_what_reading_at_once_named() {
        assert_eq!(check(TRICKY.as_bytes(), 1 << 20), Ok(()));
        let bad_byte = b"\xEF\xBB\xBF [{\"id\":\"a\"},\n{\"id\":\"caf\xE9\"}]";
        let offset = bad_byte.iter().position(|&b| b == 0xE9).unwrap() as u64 - 3;
        assert_eq!(
            check(bad_byte, 1 << 20),
            Err(RejectReason::NotUtf8 { offset })
        );
        // Far after a syntax error (the missing `,`), so found by reading on past it.
        let mut late_bad_byte = b"[{\"id\":\"a\"} ".to_vec();
        late_bad_byte.extend("\"padding\",".repeat(READ_SIZE).bytes());
        let offset = late_bad_byte.len() as u64 + 1;
        late_bad_byte.extend(b"\"\xE9\"]");
        assert_eq!(
            check(&late_bad_byte, 1 << 20),
            Err(RejectReason::NotUtf8 { offset })
        );
        let syntax = b"[{\"id\":\"a\"} {\"id\":\"b\"}]";
        let expected = items_read_whole(std::str::from_utf8(syntax).unwrap()).unwrap_err();
        assert_eq!(
            check(syntax, 1 << 20),
            Err(RejectReason::InvalidJson(expected))
        );
        assert_eq!(
            check(b"[1,[2,[3]]]", 5),
            Err(RejectReason::DocumentTooLarge { limit: 5 })
        );
        // A syntax error in a short item is one, whatever the limit and the read-ahead.
        let mut short_item = b"[{\"id\":\"a\" \"b\":1}".to_vec();
        short_item.extend(",{\"id\":\"p\"}".repeat(READ_SIZE / 8).bytes());
        short_item.push(b']');
        let text = std::str::from_utf8(&short_item).unwrap();
        let expected = items_read_whole(text).unwrap_err();
        for max in [100, 1 << 20] {
            assert_eq!(
                check(&short_item, max),
                Err(RejectReason::InvalidJson(expected.clone()))
            );
        }
        // No limit at all: the room left under it does not overflow.
        let long_item = format!("[\"{}\"]", "x".repeat(3 * READ_SIZE));
        assert_eq!(check(long_item.as_bytes(), u64::MAX), Ok(()));
    }

    /// A page of many is what the slow path's walk takes for a page whose `data` is a list.
    #[test]
    fn a_page_of_many_is_told_from_a_session() {
        let is_page = |json: &str| {
            let mut source = std::io::BufReader::with_capacity(8, json.as_bytes());
            let leading = skip_leading(&mut source).unwrap();
            assert_eq!(leading.first, Some(b'{'), "{json:?}");
            is_page_of_many(&mut source, leading.at, 1 << 20)
        };
        for page in [
            r#"{"pageInfo":{"total":2},"data":[{"id":"a"},7]}"#,
            r#"{"data":[],"id":null}"#,
            r#" {"d\u0061ta":[[]], "start":1e400, "start":2}"#,
        ] {
            assert!(is_page(page), "{page}");
        }
        for other in [
            r#"{}"#,
            r#"{"id":"s","data":[]}"#,
            r#"{"data":[],"id":"s"}"#,
            r#"{"id":null,"id":null,"data":[]}"#,
            r#"{"data":[],"data":[]}"#,
            r#"{"pageInfo":1,"pageInfo":1,"data":[]}"#,
            r#"{"data":{"id":"a"}}"#,
            r#"{"data":null}"#,
            r#"{"\ud800":1,"data":[]}"#,
            r#"{"data":[1,]}"#,
            r#"{"data":[1]} x"#,
        ] {
            assert!(!is_page(other), "{other}");
        }
    }

    proptest! {
        /// Bytes cut into pieces anywhere are UTF-8 when they are whole, and the first bad
        /// byte is found at the same offset.
        #[test]
        fn utf8_checked_piece_by_piece_is_utf8_checked_whole(
            text in "[a\u{e9}\u{20ac}\u{1f600}]{0,12}",
            noise in prop::collection::vec((0usize..40, any::<u8>()), 0..2),
            cuts in prop::collection::vec(0usize..40, 0..6),
        ) {
            let mut bytes = text.into_bytes();
            for (at, byte) in noise {
                let at = at.min(bytes.len());
                bytes.insert(at, byte);
            }
            let expected = std::str::from_utf8(&bytes)
                .map(|_| ())
                .map_err(|e| 7 + e.valid_up_to() as u64);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut stream = Utf8Stream::new(7);
            let mut from = 0;
            let mut result = Ok(());
            for cut in cuts.into_iter().chain([bytes.len()]) {
                result = result.and_then(|()| stream.check(&bytes[from..cut]));
                from = cut;
            }
            prop_assert_eq!(result.and_then(|()| stream.finish()), expected);
        }

        /// Any array, laid out any way, read through buffers of any size: the same items at
        /// the same places as serde_json finds reading it whole.
        #[test]
        fn any_array_splits_as_serde_json_reads_it(
            items in prop::collection::vec((json_value(), any::<bool>(), "[ \n\t\r]{0,3}"), 0..12),
            step in 1usize..40,
        ) {
            let mut json = String::from("[");
            for (index, (value, pretty, space)) in items.iter().enumerate() {
                if index > 0 {
                    json.push(',');
                }
                json.push_str(space);
                let text = if *pretty {
                    serde_json::to_string_pretty(value).unwrap()
                } else {
                    value.to_string()
                };
                json.push_str(&text);
                json.push_str(space);
            }
            json.push(']');
            let whole = items_read_whole(&json).unwrap();
            prop_assert_eq!(read(&json, step, 1 << 20), (whole, None));
        }
    }
}
