//! The store index: one hidden file, `STORE/.sessionstats-index`, that says for every stored
//! session its id, its day folder and whether it counts as ended, so that a run learns what the
//! store holds without reading the documents. It is a cache, never the truth: [`super::store`]
//! checks it against the day folders and rebuilds what disagrees (docs/store.md).
//!
//! The file (integers little-endian; *varint* is LEB128):
//!
//! ```text
//! header   8 bytes magic 89 53 53 49 44 58 0D 0A ("\x89SSIDX\r\n"), u32 format version, u32 0
//! blocks   the records, sorted by id (bytes) then day; a block ends after the first whole id
//!          that takes it to 4 KiB or more, so all records of one id share a block
//!          record, coded against the one before it in its block: varint bytes shared with
//!          its stored id, varint (length of the rest << 1 | packed), the rest, varint
//!          (zigzag(day code − its day code) << 1 | ended); an id of lower-case hex digits of
//!          even length is packed, two digits a byte (VideoSDK's 24-digit ids take 12 bytes),
//!          any other is its UTF-8 bytes; the first record of a block shares nothing and
//!          counts its day from 0
//! meta     varint block count, then per block: varint length, u32 CRC-32, varint records,
//!          varint length and bytes of its first id (blocks follow each other from byte 16);
//!          varint count, then each id that does not count as ended (length, bytes);
//!          varint count, then per day folder: varint day code, u8 1 and the folder's stamp
//!          (varint inode, zigzag varint ctime seconds, varint nanoseconds) or u8 0 for "read
//!          it again", varint records, varint unusable session files
//! trailer  u64 meta offset, u64 meta length, u64 records, u32 CRC-32 of meta, u32 CRC-32 of
//!          the 28 bytes before it
//! ```
//!
//! A day code is 0 for `undated`, else 1 + zigzag(days since 1970-01-01). A run reads the
//! header, the trailer and the meta (about 1 % of the file), and then one 4 KiB block per id it
//! looks up, checking that block's CRC; memory holds the block list (one first id per ~340
//! sessions of 24-digit ids), the not-ended ids and the day folders, never one entry per
//! stored session.
use super::store::UNDATED;
use anyhow::{bail, Context, Result};
use chrono::{Datelike, NaiveDate};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::fs::{File, Metadata};
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The index file, hidden like the lock so `analyze` never reads it.
pub const INDEX_FILE: &str = ".sessionstats-index";
/// The format this version writes and reads; an index of another version is rebuilt.
pub const FORMAT_VERSION: u32 = 1;
const MAGIC: [u8; 8] = *b"\x89SSIDX\r\n";
const HEADER_LEN: u64 = 16;
const TRAILER_LEN: u64 = 32;
/// A block is closed once it holds this many bytes (at a change of id).
const BLOCK_TARGET: usize = 4096;
/// Larger blocks or meta sections are taken for damage rather than allocated.
const MAX_SECTION: u64 = 1 << 30;
/// Blocks read at once when the whole index is walked.
const READ_BATCH: usize = 1 << 20;

/// 1970-01-01 in days from 0001-01-01 (chrono's count): day codes count from 1970, so the
/// days of this century take three bytes in a record.
const EPOCH_FROM_CE: i32 = 719_163;

/// A day folder: `undated` or a `YYYY-MM-DD` date, as a number (which orders like the dates
/// from 1970 on; the index only needs some fixed order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(u32);

impl Day {
    pub const UNDATED: Day = Day(0);

    /// The day of a folder name `date_folder` produces; `None` for any other name.
    pub fn from_folder(name: &str) -> Option<Day> {
        if name == UNDATED {
            return Some(Day::UNDATED);
        }
        let date = NaiveDate::parse_from_str(name, "%Y-%m-%d").ok()?;
        if date.format("%Y-%m-%d").to_string() != name {
            return None;
        }
        let n = date.num_days_from_ce() - EPOCH_FROM_CE;
        Some(Day((((n << 1) ^ (n >> 31)) as u32).checked_add(1)?))
    }

    /// A day code read from a file, if it names a date.
    fn from_code(code: u64) -> Option<Day> {
        let day = Day(u32::try_from(code).ok()?);
        let Some(n) = day.days_since_1970() else {
            return Some(day);
        };
        let valid = |date: NaiveDate| date.num_days_from_ce() - EPOCH_FROM_CE;
        (valid(NaiveDate::MIN)..=valid(NaiveDate::MAX))
            .contains(&n)
            .then_some(day)
    }

    /// `None` for `undated`.
    fn days_since_1970(self) -> Option<i32> {
        let z = self.0.checked_sub(1)?;
        Some(((z >> 1) as i32) ^ -((z & 1) as i32))
    }

    fn date(self) -> Option<NaiveDate> {
        NaiveDate::from_num_days_from_ce_opt(self.days_since_1970()?.checked_add(EPOCH_FROM_CE)?)
    }

    /// The folder name.
    pub fn folder(self) -> String {
        match self.date() {
            Some(date) => date.format("%Y-%m-%d").to_string(),
            None => UNDATED.to_string(),
        }
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.folder())
    }
}

/// What a folder's metadata says about its entries: any file added, removed or renamed in it
/// changes its ctime (which, unlike the mtime, no tool can set back), and a folder replaced by
/// another (restored from a backup) has another inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub ino: u64,
    pub ctime: Time,
}

/// A file system time: seconds and nanoseconds since 1970.
pub type Time = (i64, u32);

impl Stamp {
    pub fn of(meta: &Metadata) -> Stamp {
        Stamp {
            ino: meta.ino(),
            ctime: ctime(meta),
        }
    }
}

/// A file's ctime as (seconds, nanoseconds).
pub fn ctime(meta: &Metadata) -> Time {
    (meta.ctime(), meta.ctime_nsec().clamp(0, 999_999_999) as u32)
}

/// What the index knows of one day folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayState {
    pub day: Day,
    /// The folder's stamp when its records were known to match it; `None`: read it again.
    pub stamp: Option<Stamp>,
    /// Records of this day in the index.
    pub records: u64,
    /// Files named like a session document that are not one (unreadable, not an object).
    pub unusable: u64,
}

/// One record, borrowed from a block or a sorted source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rec<'a> {
    pub id: &'a str,
    pub day: Day,
    /// Stored after it ended, and under the day its start says.
    pub ended: bool,
}

impl Rec<'_> {
    fn key(&self) -> (&[u8], Day) {
        (self.id.as_bytes(), self.day)
    }
}

/// An owned record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OwnedRec {
    pub id: Box<str>,
    pub day: Day,
    pub ended: bool,
}

impl OwnedRec {
    pub fn rec(&self) -> Rec<'_> {
        Rec {
            id: &self.id,
            day: self.day,
            ended: self.ended,
        }
    }
}

/// The index file is damaged: a checksum or a length does not add up. The caller rebuilds.
#[derive(Debug)]
pub struct Corrupt(pub String);

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the store index is damaged: {}", self.0)
    }
}

impl std::error::Error for Corrupt {}

/// Whether an error (or one of its causes) is a damaged index.
pub fn is_corrupt(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<Corrupt>())
}

/// Why an index cannot be used.
#[derive(Debug)]
pub enum OpenError {
    Missing,
    /// Unreadable, damaged or of another version: the words say which.
    Unusable(String),
}

fn crc(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Reads what the writer wrote; any inconsistency is a [`Corrupt`] with what was expected.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The previous record of the block: its id as stored, whether packed, its day.
    prev: Vec<u8>,
    prev_packed: bool,
    prev_day: u32,
    /// The last id, spelt out.
    scratch: String,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`: of a section, or of one block (records are coded
    /// against the record before them in their block).
    fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor {
            buf,
            pos: 0,
            prev: Vec::new(),
            prev_packed: false,
            prev_day: 0,
            scratch: String::new(),
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, Corrupt> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(Corrupt("a number runs past its section".into()));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Corrupt("a number is too long".into()))
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], Corrupt> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| Corrupt("a field runs past its section".into()))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn u32(&mut self) -> Result<u32, Corrupt> {
        let bytes = self.take(4)?;
        let mut le = [0; 4];
        le.copy_from_slice(bytes);
        Ok(u32::from_le_bytes(le))
    }

    fn u64(&mut self) -> Result<u64, Corrupt> {
        let bytes = self.take(8)?;
        let mut le = [0; 8];
        le.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(le))
    }

    fn text(&mut self) -> Result<&'a str, Corrupt> {
        let len = self.varint()?;
        std::str::from_utf8(self.take(len)?).map_err(|_| Corrupt("an id is not UTF-8".into()))
    }

    /// A record of a block (see [`RecEncoder`]).
    fn rec(&mut self) -> Result<Rec<'_>, Corrupt> {
        let shared = self.varint()?;
        let head = self.varint()?;
        let suffix = self.take(head >> 1)?;
        let packed = head & 1 == 1;
        let tag = self.varint()?;
        let shared = usize::try_from(shared)
            .ok()
            .filter(|&n| n <= self.prev.len() && (n == 0 || packed == self.prev_packed))
            .ok_or_else(|| Corrupt("an id shares more than the one before it".into()))?;
        self.prev.truncate(shared);
        self.prev.extend_from_slice(suffix);
        self.prev_packed = packed;
        let code = i64::from(self.prev_day) + unzigzag(tag >> 1);
        let day = u64::try_from(code)
            .ok()
            .and_then(Day::from_code)
            .ok_or_else(|| Corrupt("a day is not a date".into()))?;
        self.prev_day = day.0;
        self.scratch.clear();
        if packed {
            if self.prev.is_empty() {
                return Err(Corrupt("an empty packed id".into()));
            }
            const HEX: &[u8; 16] = b"0123456789abcdef";
            for &b in &self.prev {
                self.scratch.push(char::from(HEX[usize::from(b >> 4)]));
                self.scratch.push(char::from(HEX[usize::from(b & 15)]));
            }
        } else {
            let id = std::str::from_utf8(&self.prev)
                .map_err(|_| Corrupt("an id is not UTF-8".into()))?;
            self.scratch.push_str(id);
        }
        Ok(Rec {
            id: &self.scratch,
            day,
            ended: tag & 1 == 1,
        })
    }
}

/// Whether an id is lower-case hex digits of even length (as VideoSDK's 24-digit ids are),
/// stored in half the bytes.
fn packable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len().is_multiple_of(2)
        && id.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Writes the records of one block, each against the one before it: varint bytes shared
/// with the previous id as stored (0 for the first of a block, or when one is packed and the
/// other not), varint (length of the rest << 1 | packed), the rest, varint (zigzag(day code
/// − the previous record's, 0 for the first) << 1 | ended). A packed id is lower-case hex
/// digits, two a byte; any other id is its UTF-8 bytes. Ids sort by time (VideoSDK's start
/// with a timestamp), so neighbours share their first bytes and usually their day.
#[derive(Default)]
struct RecEncoder {
    prev: Vec<u8>,
    prev_packed: bool,
    prev_day: u32,
    stored: Vec<u8>,
}

impl RecEncoder {
    /// Starts a block.
    fn reset(&mut self) {
        self.prev.clear();
        self.prev_packed = false;
        self.prev_day = 0;
    }

    fn put(&mut self, out: &mut Vec<u8>, rec: Rec<'_>) {
        let id = rec.id.as_bytes();
        let packed = packable(id);
        self.stored.clear();
        if packed {
            let digit = |b: u8| if b <= b'9' { b - b'0' } else { b - b'a' + 10 };
            self.stored
                .extend(id.chunks_exact(2).map(|p| digit(p[0]) << 4 | digit(p[1])));
        } else {
            self.stored.extend_from_slice(id);
        }
        let shared = if packed == self.prev_packed {
            self.prev
                .iter()
                .zip(&self.stored)
                .take_while(|(a, b)| a == b)
                .count()
        } else {
            0
        };
        put_varint(out, shared as u64);
        put_varint(
            out,
            ((self.stored.len() - shared) as u64) << 1 | u64::from(packed),
        );
        out.extend_from_slice(&self.stored[shared..]);
        let delta = i64::from(rec.day.0) - i64::from(self.prev_day);
        put_varint(out, zigzag(delta) << 1 | u64::from(rec.ended));
        std::mem::swap(&mut self.prev, &mut self.stored);
        self.prev_packed = packed;
        self.prev_day = rec.day.0;
    }
}

/// A record in a sort run: varint length, UTF-8 id, varint (day code << 1 | ended).
fn put_run_rec(out: &mut Vec<u8>, rec: Rec<'_>) {
    put_varint(out, rec.id.len() as u64);
    out.extend_from_slice(rec.id.as_bytes());
    put_varint(out, (u64::from(rec.day.0) << 1) | u64::from(rec.ended));
}

#[derive(Debug)]
struct BlockRef {
    offset: u64,
    len: u32,
    crc: u32,
    records: u64,
    first: Box<str>,
}

/// An index file opened for reading: its meta in memory, its blocks read on demand.
#[derive(Debug)]
pub struct Index {
    file: File,
    blocks: Vec<BlockRef>,
    ongoing: Vec<String>,
    days: Vec<DayState>,
    records: u64,
}

impl Index {
    /// Opens the index at `path` and checks its header, trailer and meta (not the blocks:
    /// each is checked when it is read).
    pub fn open(path: &Path) -> Result<Index, OpenError> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OpenError::Missing),
            Err(e) => return Err(OpenError::Unusable(format!("cannot be opened ({e})"))),
        };
        let unusable = |why: String| OpenError::Unusable(why);
        let len = file
            .metadata()
            .map_err(|e| unusable(format!("cannot be read ({e})")))?
            .len();
        if len < HEADER_LEN + TRAILER_LEN {
            return Err(unusable(format!("is cut short ({len} bytes)")));
        }
        let read = |offset: u64, n: u64| -> Result<Vec<u8>, OpenError> {
            let mut buf = vec![0; n as usize];
            file.read_exact_at(&mut buf, offset)
                .map_err(|e| unusable(format!("cannot be read ({e})")))?;
            Ok(buf)
        };
        let header = read(0, HEADER_LEN)?;
        if header[..8] != MAGIC {
            return Err(unusable("is not a sessionstats store index".into()));
        }
        let mut cursor = Cursor::new(&header[8..]);
        let version = cursor.u32().map_err(|e| unusable(e.0))?;
        if version != FORMAT_VERSION {
            return Err(unusable(format!(
                "has format version {version}, and this sessionstats reads version \
                 {FORMAT_VERSION}"
            )));
        }
        let damaged = |what: &str| unusable(format!("is damaged or cut short ({what})"));
        if cursor.u32().map_err(|e| unusable(e.0))? != 0 {
            return Err(damaged("header"));
        }
        let trailer = read(len - TRAILER_LEN, TRAILER_LEN)?;
        let mut t = Cursor::new(&trailer);
        let fields = (|| Ok::<_, Corrupt>((t.u64()?, t.u64()?, t.u64()?, t.u32()?, t.u32()?)))();
        let Ok((meta_offset, meta_len, records, meta_crc, trailer_crc)) = fields else {
            return Err(damaged("trailer"));
        };
        if crc(&trailer[..28]) != trailer_crc {
            return Err(damaged("trailer checksum"));
        }
        if meta_offset < HEADER_LEN
            || meta_len > MAX_SECTION
            || meta_offset.checked_add(meta_len) != Some(len - TRAILER_LEN)
        {
            return Err(damaged("section lengths"));
        }
        let meta = read(meta_offset, meta_len)?;
        if crc(&meta) != meta_crc {
            return Err(damaged("meta checksum"));
        }
        let Meta {
            blocks,
            ongoing,
            days,
        } = parse_meta(&meta, meta_offset).map_err(|e| damaged(&e.0))?;
        if blocks.iter().map(|b| b.records).sum::<u64>() != records {
            return Err(damaged("record count"));
        }
        Ok(Index {
            file,
            blocks,
            ongoing,
            days,
            records,
        })
    }

    /// Sessions (ids) whose records do not count as ended, sorted.
    pub fn ongoing(&self) -> &[String] {
        &self.ongoing
    }

    /// The day folders the index describes, in day order.
    pub fn days(&self) -> &[DayState] {
        &self.days
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    fn read_blocks(&self, range: std::ops::Range<usize>, buf: &mut Vec<u8>) -> Result<()> {
        let (Some(first), Some(last)) =
            (self.blocks.get(range.start), self.blocks.get(range.end - 1))
        else {
            bail!(Corrupt("a block is missing".into()));
        };
        let len = (last.offset + u64::from(last.len) - first.offset) as usize;
        buf.clear();
        buf.resize(len, 0);
        self.file
            .read_exact_at(buf, first.offset)
            .context("cannot read the store index")?;
        for block in &self.blocks[range] {
            let start = (block.offset - first.offset) as usize;
            if crc(&buf[start..start + block.len as usize]) != block.crc {
                bail!(Corrupt(format!(
                    "the block at byte {} fails its checksum",
                    block.offset
                )));
            }
        }
        Ok(())
    }

    /// The records of `id` (several when copies lie in several day folders).
    pub fn lookup(&self, id: &str) -> Result<Vec<(Day, bool)>> {
        let i = self
            .blocks
            .partition_point(|b| b.first.as_bytes() <= id.as_bytes());
        if i == 0 {
            return Ok(Vec::new());
        }
        let mut buf = Vec::new();
        self.read_blocks(i - 1..i, &mut buf)?;
        let mut cursor = Cursor::new(&buf);
        let mut found = Vec::new();
        while !cursor.at_end() {
            let rec = cursor.rec()?;
            match rec.id.as_bytes().cmp(id.as_bytes()) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => found.push((rec.day, rec.ended)),
                std::cmp::Ordering::Greater => break,
            }
        }
        Ok(found)
    }

    /// Calls `f` with every record in order, checking every block.
    pub fn for_each(&self, mut f: impl FnMut(Rec<'_>) -> Result<()>) -> Result<()> {
        let mut buf = Vec::new();
        let mut start = 0;
        while start < self.blocks.len() {
            let mut end = start + 1;
            let mut bytes = self.blocks[start].len as usize;
            while end < self.blocks.len() && bytes + (self.blocks[end].len as usize) <= READ_BATCH {
                bytes += self.blocks[end].len as usize;
                end += 1;
            }
            self.read_blocks(start..end, &mut buf)?;
            let base = self.blocks[start].offset;
            for block in &self.blocks[start..end] {
                let at = (block.offset - base) as usize;
                let mut cursor = Cursor::new(&buf[at..at + block.len as usize]);
                while !cursor.at_end() {
                    f(cursor.rec()?)?;
                }
            }
            start = end;
        }
        Ok(())
    }
}

/// The meta section, parsed.
struct Meta {
    blocks: Vec<BlockRef>,
    ongoing: Vec<String>,
    days: Vec<DayState>,
}

fn parse_meta(meta: &[u8], meta_offset: u64) -> Result<Meta, Corrupt> {
    let mut c = Cursor::new(meta);
    let count = c.varint()?;
    // Every entry takes at least 6 bytes: a count beyond that is damage, not a size to
    // allocate.
    let bounded = |n: u64| usize::try_from(n.min(meta.len() as u64)).unwrap_or(0);
    let mut blocks = Vec::with_capacity(bounded(count / 6));
    let mut offset = HEADER_LEN;
    for _ in 0..count {
        let len = c.varint()?;
        let crc = c.u32()?;
        let records = c.varint()?;
        let first = c.text()?;
        if len == 0 || len > MAX_SECTION {
            return Err(Corrupt("a block length".into()));
        }
        // A record takes at least a byte: so the counts, and their sums, stay small.
        if records > len {
            return Err(Corrupt("a block's record count".into()));
        }
        if let Some(prev) = blocks.last() {
            let prev: &BlockRef = prev;
            if prev.first.as_bytes() >= first.as_bytes() {
                return Err(Corrupt("the blocks are out of order".into()));
            }
        }
        blocks.push(BlockRef {
            offset,
            len: len as u32,
            crc,
            records,
            first: first.into(),
        });
        offset += len;
    }
    if offset != meta_offset {
        return Err(Corrupt("the blocks do not fill the file".into()));
    }
    let total_records: u64 = blocks.iter().map(|b| b.records).sum();
    let count = c.varint()?;
    let mut ongoing = Vec::with_capacity(bounded(count));
    for _ in 0..count {
        ongoing.push(c.text()?.to_string());
    }
    let count = c.varint()?;
    let mut days = Vec::with_capacity(bounded(count));
    for _ in 0..count {
        let day = Day::from_code(c.varint()?).ok_or_else(|| Corrupt("a day folder".into()))?;
        let stamp = match c.take(1)?[0] {
            0 => None,
            1 => {
                let ino = c.varint()?;
                let secs = unzigzag(c.varint()?);
                let nanos = u32::try_from(c.varint()?)
                    .ok()
                    .filter(|&n| n < 1_000_000_000)
                    .ok_or_else(|| Corrupt("a folder time".into()))?;
                Some(Stamp {
                    ino,
                    ctime: (secs, nanos),
                })
            }
            _ => return Err(Corrupt("a folder stamp".into())),
        };
        let records = c.varint()?;
        let unusable = c.varint()?;
        if records > total_records {
            return Err(Corrupt("a day folder's record count".into()));
        }
        if days.last().is_some_and(|d: &DayState| d.day >= day) {
            return Err(Corrupt("the day folders are out of order".into()));
        }
        days.push(DayState {
            day,
            stamp,
            records,
            unusable,
        });
    }
    if !c.at_end() {
        return Err(Corrupt("bytes after the meta".into()));
    }
    Ok(Meta {
        blocks,
        ongoing,
        days,
    })
}

/// Writes an index: records in (id, day) order, then the day folders.
pub struct Writer<W: Write> {
    out: W,
    offset: u64,
    block: Vec<u8>,
    block_records: u64,
    encoder: RecEncoder,
    first: String,
    meta: Vec<u8>,
    blocks: u64,
    /// The id of the records last pushed, their count and whether all counted as ended.
    last: Option<(String, Day)>,
    group: (u32, bool),
    ongoing: Vec<String>,
    records: u64,
    per_day: BTreeMap<Day, u64>,
}

impl<W: Write> Writer<W> {
    pub fn new(mut out: W) -> Result<Writer<W>> {
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        out.write_all(&header)
            .context("cannot write the store index")?;
        Ok(Writer {
            out,
            offset: HEADER_LEN,
            block: Vec::with_capacity(2 * BLOCK_TARGET),
            block_records: 0,
            encoder: RecEncoder::default(),
            first: String::new(),
            meta: Vec::new(),
            blocks: 0,
            last: None,
            group: (0, true),
            ongoing: Vec::new(),
            records: 0,
            per_day: BTreeMap::new(),
        })
    }

    /// Adds a record; records come in (id, day) order, each once.
    pub fn push(&mut self, rec: Rec<'_>) -> Result<()> {
        let same_id = match &self.last {
            Some((id, day)) => {
                if (id.as_bytes(), *day) >= rec.key() {
                    bail!(
                        "internal error: store index records out of order ({id:?} before {:?})",
                        rec.id
                    );
                }
                id == rec.id
            }
            None => false,
        };
        if !same_id {
            self.end_group();
            if self.block.len() >= BLOCK_TARGET {
                self.flush_block()?;
            }
            if self.block.is_empty() {
                self.first.clear();
                self.first.push_str(rec.id);
            }
            match &mut self.last {
                Some((id, _)) => {
                    id.clear();
                    id.push_str(rec.id);
                }
                None => self.last = Some((rec.id.to_string(), rec.day)),
            }
            self.group = (0, true);
        }
        if let Some((_, day)) = &mut self.last {
            *day = rec.day;
        }
        if self.block.is_empty() {
            self.encoder.reset();
        }
        self.encoder.put(&mut self.block, rec);
        self.block_records += 1;
        self.group.0 += 1;
        self.group.1 &= rec.ended;
        self.records += 1;
        *self.per_day.entry(rec.day).or_default() += 1;
        Ok(())
    }

    /// Records pushed so far, per day folder.
    pub fn per_day(&self) -> &BTreeMap<Day, u64> {
        &self.per_day
    }

    /// Copies blocks of `base` as they are (not decoded, not checked: a damaged block stays
    /// damaged and is found when it is read). The next record pushed must come after them.
    fn copy_blocks(&mut self, base: &Index, range: std::ops::Range<usize>) -> Result<()> {
        self.end_group();
        self.flush_block()?;
        self.last = None;
        let blocks = &base.blocks[range.clone()];
        let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
            return Ok(());
        };
        let len = last.offset + u64::from(last.len) - first.offset;
        // `io::copy` from a file to a (buffered) file copies inside the kernel.
        let mut source = &base.file;
        source
            .seek(std::io::SeekFrom::Start(first.offset))
            .context("cannot read the store index")?;
        let copied = std::io::copy(&mut source.take(len), &mut self.out)
            .context("cannot copy the store index")?;
        if copied != len {
            bail!(Corrupt("the index is shorter than its blocks".into()));
        }
        for block in blocks {
            self.meta_entry(block.len as usize, block.crc, block.records, &block.first);
            self.offset += u64::from(block.len);
            self.records += block.records;
        }
        // The not-ended ids among the copied records.
        let from = base
            .ongoing
            .partition_point(|id| id.as_bytes() < first.first.as_bytes());
        let to = match base.blocks.get(range.end) {
            Some(next) => base
                .ongoing
                .partition_point(|id| id.as_bytes() < next.first.as_bytes()),
            None => base.ongoing.len(),
        };
        self.ongoing.extend_from_slice(&base.ongoing[from..to]);
        Ok(())
    }

    fn meta_entry(&mut self, len: usize, crc: u32, records: u64, first: &str) {
        put_varint(&mut self.meta, len as u64);
        self.meta.extend_from_slice(&crc.to_le_bytes());
        put_varint(&mut self.meta, records);
        put_varint(&mut self.meta, first.len() as u64);
        self.meta.extend_from_slice(first.as_bytes());
        self.blocks += 1;
    }

    fn end_group(&mut self) {
        if let Some((id, _)) = &self.last {
            let (count, ended) = self.group;
            if count > 1 || (count == 1 && !ended) {
                self.ongoing.push(id.clone());
            }
        }
        self.group = (0, true);
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        self.out
            .write_all(&self.block)
            .context("cannot write the store index")?;
        let first = std::mem::take(&mut self.first);
        self.meta_entry(
            self.block.len(),
            crc(&self.block),
            self.block_records,
            &first,
        );
        self.first = first;
        self.offset += self.block.len() as u64;
        self.block.clear();
        self.block_records = 0;
        Ok(())
    }

    /// Writes every record pushed so far, so what is on disk is a file cut short (for the
    /// test hook that pauses an index write).
    pub fn flush_records(&mut self) -> Result<()> {
        self.flush_block()?;
        self.out.flush().context("cannot write the store index")
    }

    /// Writes the meta and the trailer; `days` in day order.
    pub fn finish(mut self, days: &[DayState]) -> Result<W> {
        self.end_group();
        self.flush_block()?;
        let mut meta = Vec::with_capacity(self.meta.len() + 64);
        put_varint(&mut meta, self.blocks);
        meta.extend_from_slice(&self.meta);
        put_varint(&mut meta, self.ongoing.len() as u64);
        for id in &self.ongoing {
            put_varint(&mut meta, id.len() as u64);
            meta.extend_from_slice(id.as_bytes());
        }
        put_varint(&mut meta, days.len() as u64);
        for state in days {
            put_varint(&mut meta, u64::from(state.day.0));
            match state.stamp {
                None => meta.push(0),
                Some(stamp) => {
                    meta.push(1);
                    put_varint(&mut meta, stamp.ino);
                    put_varint(&mut meta, zigzag(stamp.ctime.0));
                    put_varint(&mut meta, u64::from(stamp.ctime.1));
                }
            }
            put_varint(&mut meta, state.records);
            put_varint(&mut meta, state.unusable);
        }
        let mut trailer = Vec::with_capacity(TRAILER_LEN as usize);
        trailer.extend_from_slice(&self.offset.to_le_bytes());
        trailer.extend_from_slice(&(meta.len() as u64).to_le_bytes());
        trailer.extend_from_slice(&self.records.to_le_bytes());
        trailer.extend_from_slice(&crc(&meta).to_le_bytes());
        let trailer_crc = crc(&trailer);
        trailer.extend_from_slice(&trailer_crc.to_le_bytes());
        self.out
            .write_all(&meta)
            .and_then(|()| self.out.write_all(&trailer))
            .context("cannot write the store index")?;
        Ok(self.out)
    }
}

/// A source of records in (id, day) order.
pub trait Source {
    fn next_rec(&mut self) -> Result<Option<OwnedRec>>;
}

impl<I: Iterator<Item = OwnedRec>> Source for I {
    fn next_rec(&mut self) -> Result<Option<OwnedRec>> {
        Ok(self.next())
    }
}

/// Which records of the old index go into the new one, besides the new records.
pub enum Keep<'k> {
    /// Every one, except those of the ids that have new records (those replace all of an
    /// id's old records). Blocks with no new id in their range are copied as they are.
    ReplacingIds,
    /// Those `keep` accepts (every block is read); a new record replaces a kept one of the
    /// same id and day.
    Filtered(&'k mut dyn FnMut(&Rec<'_>) -> bool),
}

/// Writes into `out` the records of `base` that `keep` says, merged with those of `new`.
/// Returns how many records each day folder has in the result.
pub fn merge<W: Write>(
    base: Option<&Index>,
    mut keep: Keep<'_>,
    new: &mut dyn Source,
    out: &mut Writer<W>,
) -> Result<BTreeMap<Day, u64>> {
    let mut pending = new.next_rec()?;
    // Records per day of the old index, and of the blocks read back (not copied).
    let mut old_per_day = BTreeMap::new();
    let mut read_back: BTreeMap<Day, u64> = BTreeMap::new();
    let mut copied_any = false;
    if let Some(base) = base {
        old_per_day = base.days.iter().map(|d| (d.day, d.records)).collect();
        let blocks = &base.blocks;
        // Whether `id` lies before the ids of block j + 1 (so in block j or before it).
        let before_next = |id: &str, j: usize| {
            blocks
                .get(j + 1)
                .is_none_or(|next| id.as_bytes() < next.first.as_bytes())
        };
        let mut buf = Vec::new();
        let mut i = 0;
        while i < blocks.len() {
            let untouched = |j: usize, pending: &Option<OwnedRec>| {
                pending.as_ref().is_none_or(|p| !before_next(&p.id, j))
            };
            if matches!(keep, Keep::ReplacingIds) && untouched(i, &pending) {
                let mut j = i + 1;
                while j < blocks.len() && untouched(j, &pending) {
                    j += 1;
                }
                out.copy_blocks(base, i..j)?;
                copied_any = true;
                i = j;
                continue;
            }
            base.read_blocks(i..i + 1, &mut buf)?;
            let mut cursor = Cursor::new(&buf);
            while !cursor.at_end() {
                let rec = cursor.rec()?;
                *read_back.entry(rec.day).or_default() += 1;
                match &mut keep {
                    Keep::ReplacingIds => {
                        while let Some(p) = pending
                            .as_ref()
                            .filter(|p| p.id.as_bytes() < rec.id.as_bytes())
                        {
                            out.push(p.rec())?;
                            pending = new.next_rec()?;
                        }
                        if pending.as_ref().is_none_or(|p| *p.id != *rec.id) {
                            out.push(rec)?;
                        }
                    }
                    Keep::Filtered(keep) => {
                        if !keep(&rec) {
                            continue;
                        }
                        let mut replaced = false;
                        while let Some(p) = pending.as_ref().filter(|p| p.rec().key() <= rec.key())
                        {
                            replaced = p.rec().key() == rec.key();
                            out.push(p.rec())?;
                            pending = new.next_rec()?;
                            if replaced {
                                break;
                            }
                        }
                        if !replaced {
                            out.push(rec)?;
                        }
                    }
                }
            }
            // New records that sort after this block's last and before the next block.
            while let Some(p) = pending.as_ref().filter(|p| before_next(&p.id, i)) {
                out.push(p.rec())?;
                pending = new.next_rec()?;
            }
            i += 1;
        }
    }
    while let Some(p) = pending {
        out.push(p.rec())?;
        pending = new.next_rec()?;
    }
    if !copied_any {
        return Ok(out.per_day().clone());
    }
    // Copied blocks were not decoded: their records are the old counts less those read back.
    let mut per_day = old_per_day;
    for (day, n) in read_back {
        let count = per_day.entry(day).or_default();
        *count = count.saturating_sub(n);
    }
    for (&day, &n) in out.per_day() {
        *per_day.entry(day).or_default() += n;
    }
    per_day.retain(|_, n| *n > 0);
    Ok(per_day)
}

/// Sorts records of any number: in memory up to a limit, beyond it in sorted runs on
/// anonymous temporary files that are merged at the end. A rebuild of 10 million sessions
/// holds one run (about 64 MiB) at a time.
pub struct Sorter {
    dir: PathBuf,
    recs: Vec<OwnedRec>,
    bytes: usize,
    limit: usize,
    runs: Vec<File>,
}

/// Memory a sorted run may take before it goes to disk.
const SORT_LIMIT: usize = 64 << 20;

impl Sorter {
    /// A sorter whose runs go into `dir` (as anonymous files, gone when the process is).
    pub fn new(dir: &Path) -> Sorter {
        Sorter::with_limit(dir, SORT_LIMIT)
    }

    pub fn with_limit(dir: &Path, limit: usize) -> Sorter {
        Sorter {
            dir: dir.to_path_buf(),
            recs: Vec::new(),
            bytes: 0,
            limit,
            runs: Vec::new(),
        }
    }

    pub fn push(&mut self, rec: OwnedRec) -> Result<()> {
        self.bytes += rec.id.len() + std::mem::size_of::<OwnedRec>() + 16;
        self.recs.push(rec);
        if self.bytes >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        self.recs.sort_unstable();
        let file = tempfile::tempfile_in(&self.dir).with_context(|| {
            format!(
                "cannot create a temporary file in {} to sort the store index",
                self.dir.display()
            )
        })?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        let mut buf = Vec::new();
        for rec in self.recs.drain(..) {
            buf.clear();
            put_run_rec(&mut buf, rec.rec());
            out.write_all(&buf)
                .context("cannot write a temporary file (is the disk full?)")?;
        }
        let mut file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .context("cannot write a temporary file (is the disk full?)")?;
        file.rewind().context("cannot read back a temporary file")?;
        self.runs.push(file);
        self.bytes = 0;
        Ok(())
    }

    /// The records, sorted.
    pub fn finish(mut self) -> Result<Sorted> {
        if self.runs.is_empty() {
            self.recs.sort_unstable();
            return Ok(Sorted::Memory(self.recs.into_iter()));
        }
        if !self.recs.is_empty() {
            self.spill()?;
        }
        let mut runs: Vec<BufReader<File>> = self
            .runs
            .into_iter()
            .map(|f| BufReader::with_capacity(1 << 16, f))
            .collect();
        let mut heap = BinaryHeap::new();
        for (i, run) in runs.iter_mut().enumerate() {
            if let Some(rec) = read_run_rec(run)? {
                heap.push(Reverse((rec, i)));
            }
        }
        Ok(Sorted::Runs { runs, heap })
    }
}

/// The next record of a sorted run, `None` at its end.
fn read_run_rec(run: &mut BufReader<File>) -> Result<Option<OwnedRec>> {
    let cut = || anyhow::anyhow!("a temporary file of the index sort is cut short");
    let varint = |run: &mut BufReader<File>| -> Result<Option<u64>> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let mut b = [0u8];
            if run
                .read(&mut b)
                .context("cannot read back a temporary file")?
                == 0
            {
                return if shift == 0 { Ok(None) } else { Err(cut()) };
            }
            v |= u64::from(b[0] & 0x7f) << shift;
            if b[0] < 0x80 {
                return Ok(Some(v));
            }
        }
        bail!("a temporary file of the index sort is damaged")
    };
    let Some(len) = varint(run)? else {
        return Ok(None);
    };
    let mut id = vec![0; usize::try_from(len).map_err(|_| cut())?];
    run.read_exact(&mut id).map_err(|_| cut())?;
    let id = String::from_utf8(id).map_err(|_| cut())?;
    let tag = varint(run)?.ok_or_else(cut)?;
    let day = Day::from_code(tag >> 1).ok_or_else(cut)?;
    Ok(Some(OwnedRec {
        id: id.into_boxed_str(),
        day,
        ended: tag & 1 == 1,
    }))
}

/// Sorted records from a [`Sorter`].
pub enum Sorted {
    Memory(std::vec::IntoIter<OwnedRec>),
    Runs {
        runs: Vec<BufReader<File>>,
        heap: BinaryHeap<Reverse<(OwnedRec, usize)>>,
    },
}

impl Source for Sorted {
    fn next_rec(&mut self) -> Result<Option<OwnedRec>> {
        match self {
            Sorted::Memory(recs) => Ok(recs.next()),
            Sorted::Runs { runs, heap } => {
                let Some(Reverse((rec, i))) = heap.pop() else {
                    return Ok(None);
                };
                if let Some(next) = read_run_rec(&mut runs[i])? {
                    heap.push(Reverse((next, i)));
                }
                Ok(Some(rec))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(name: &str) -> Day {
        Day::from_folder(name).unwrap()
    }

    fn owned(id: &str, d: &str, ended: bool) -> OwnedRec {
        OwnedRec {
            id: id.into(),
            day: day(d),
            ended,
        }
    }

    /// Writes `recs` (sorted here) and `days` as an index file and opens it.
    fn write(dir: &Path, mut recs: Vec<OwnedRec>, days: &[DayState]) -> Index {
        recs.sort();
        let path = dir.join(INDEX_FILE);
        let mut writer = Writer::new(File::create(&path).unwrap()).unwrap();
        for rec in &recs {
            writer.push(rec.rec()).unwrap();
        }
        writer.finish(days).unwrap();
        Index::open(&path).unwrap()
    }

    fn all(index: &Index) -> Vec<OwnedRec> {
        let mut out = Vec::new();
        index
            .for_each(|r| {
                out.push(OwnedRec {
                    id: r.id.into(),
                    day: r.day,
                    ended: r.ended,
                });
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn day_codes_are_the_folder_names_in_order() {
        for name in [
            "undated",
            "0000-01-01",
            "1969-12-31",
            "2024-02-29",
            "9999-12-31",
        ] {
            assert_eq!(day(name).folder(), name);
            assert_eq!(Day::from_code(u64::from(day(name).0)), Some(day(name)));
        }
        assert!(day("2024-01-02") < day("2024-01-03"));
        // With the ended flag, the days of the next centuries fit a 3-byte varint.
        assert!(u64::from(day("2400-12-31").0) << 1 < 1 << 21);
        assert!(day("1969-12-31") != day("1970-01-01"));
        for name in ["2024-1-2", "2024-02-30", "backup", ""] {
            assert_eq!(Day::from_folder(name), None, "{name}");
        }
        assert_eq!(Day::from_code(u64::MAX), None);
    }

    #[test]
    fn records_come_back_in_order_and_each_id_is_found() {
        let dir = tempfile::tempdir().unwrap();
        // Enough records for many blocks, a session stored twice and odd ids.
        let mut recs: Vec<OwnedRec> = (0..5000)
            .map(|i| owned(&format!("{:024x}", i * 7919), "2024-01-02", i % 10 != 3))
            .collect();
        recs.push(owned("twice", "2024-01-02", true));
        recs.push(owned("twice", "2024-01-03", true));
        recs.push(owned("../ü x", "undated", true));
        // Hex ids are packed, except those a packed form would not spell back.
        for id in ["abc", "ABCDEF", "00", "0a0b0c0d0e0f", "61a"] {
            recs.push(owned(id, "2024-01-03", true));
        }
        let days = [DayState {
            day: day("2024-01-02"),
            stamp: Some(Stamp {
                ino: 42,
                ctime: (-5, 999_999_999),
            }),
            records: 5001,
            unusable: 1,
        }];
        let index = write(dir.path(), recs.clone(), &days);
        assert!(index.blocks.len() > 5, "{} blocks", index.blocks.len());
        recs.sort();
        assert_eq!(all(&index), recs);
        assert_eq!(index.records(), recs.len() as u64);
        assert_eq!(index.days(), &days);
        for rec in &recs {
            let found = index.lookup(&rec.id).unwrap();
            assert!(found.contains(&(rec.day, rec.ended)), "{rec:?}");
        }
        assert_eq!(
            index.lookup("twice").unwrap(),
            [(day("2024-01-02"), true), (day("2024-01-03"), true)]
        );
        assert!(index.lookup("").unwrap().is_empty());
        assert!(index.lookup("zzz").unwrap().is_empty());
        assert!(index.lookup("0000").unwrap().is_empty());
        // Not ended: stored while ongoing, or stored twice.
        let mut ongoing: Vec<String> = recs
            .iter()
            .filter(|r| !r.ended)
            .map(|r| r.id.to_string())
            .collect();
        ongoing.push("twice".into());
        ongoing.sort();
        assert_eq!(index.ongoing(), ongoing.as_slice());
    }

    #[test]
    fn an_empty_index_is_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let index = write(dir.path(), Vec::new(), &[]);
        assert!(all(&index).is_empty());
        assert!(index.lookup("a").unwrap().is_empty());
    }

    #[test]
    fn records_out_of_order_are_refused() {
        let mut writer = Writer::new(Vec::new()).unwrap();
        writer.push(owned("b", "undated", true).rec()).unwrap();
        assert!(writer.push(owned("a", "undated", true).rec()).is_err());
        assert!(writer.push(owned("b", "undated", true).rec()).is_err());
    }

    /// Counts a tampered file could make huge (with its checksums redone) are refused before
    /// any sum: a block holds at most a record per byte, a day folder at most every record.
    #[test]
    fn counts_beyond_the_bytes_are_refused() {
        let meta = |block_records: u64, day_records: u64| {
            let mut meta = Vec::new();
            put_varint(&mut meta, 1);
            put_varint(&mut meta, 10);
            meta.extend_from_slice(&0u32.to_le_bytes());
            put_varint(&mut meta, block_records);
            put_varint(&mut meta, 1);
            meta.push(b'a');
            put_varint(&mut meta, 0);
            put_varint(&mut meta, 1);
            put_varint(&mut meta, u64::from(day("2024-01-02").0));
            meta.push(0);
            put_varint(&mut meta, day_records);
            put_varint(&mut meta, 0);
            meta
        };
        let parse = |bytes: Vec<u8>| parse_meta(&bytes, HEADER_LEN + 10).map(|m| m.days.len());
        assert_eq!(parse(meta(10, 10)).ok(), Some(1));
        assert!(parse(meta(11, 10)).is_err());
        assert!(parse(meta(u64::MAX, 10)).is_err());
        assert!(parse(meta(10, 11)).is_err());
        assert!(parse(meta(10, u64::MAX)).is_err());
    }

    /// A damaged byte is noticed: at open (header, meta, trailer) or when the block holding
    /// it is read (a lookup, or a walk of the whole index).
    #[test]
    fn any_damaged_byte_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let recs: Vec<OwnedRec> = (0..600u64)
            .map(|i| {
                let id = format!("{:024x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                owned(&id, "2024-01-02", i % 3 == 0)
            })
            .collect();
        let days = [DayState {
            day: day("2024-01-02"),
            stamp: Some(Stamp {
                ino: 7,
                ctime: (1_700_000_000, 5),
            }),
            records: 600,
            unusable: 0,
        }];
        write(dir.path(), recs, &days);
        let path = dir.path().join(INDEX_FILE);
        let good = std::fs::read(&path).unwrap();
        // A new file each time: rewriting one in place makes ext4 write it to the disk.
        let put = |bytes: &[u8]| {
            std::fs::remove_file(&path).unwrap();
            std::fs::write(&path, bytes).unwrap();
        };
        let index = Index::open(&path).unwrap();
        assert!(index.blocks.len() >= 2);
        let blocks_end = index
            .blocks
            .last()
            .map_or(0, |b| b.offset + u64::from(b.len)) as usize;
        drop(index);
        // Every byte of the header, meta and trailer; every fourth of the blocks (a block's
        // checksum covers its bytes alike), to keep the test quick.
        let positions = (0..good.len()).filter(|&at| at < 16 || at >= blocks_end || at % 4 == 0);
        for at in positions {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            put(&bad);
            let noticed = match Index::open(&path) {
                Err(OpenError::Unusable(_)) => true,
                Err(OpenError::Missing) => unreachable!(),
                Ok(index) => index.for_each(|_| Ok(())).is_err_and(|e| is_corrupt(&e)),
            };
            assert!(noticed, "byte {at} of {}", good.len());
        }
        for len in [0, 10, good.len() / 2, good.len() - 1] {
            put(&good[..len]);
            assert!(matches!(Index::open(&path), Err(OpenError::Unusable(_))));
        }
        let mut other = good.clone();
        other[8] = 2;
        put(&other);
        match Index::open(&path) {
            Err(OpenError::Unusable(why)) => assert!(why.contains("version 2"), "{why}"),
            _ => panic!("another version was read"),
        }
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(Index::open(&path), Err(OpenError::Missing)));
    }

    #[test]
    fn merge_keeps_what_it_is_told_and_new_records_win() {
        let dir = tempfile::tempdir().unwrap();
        let base = write(
            dir.path(),
            vec![
                owned("a", "2024-01-02", true),
                owned("b", "2024-01-02", false),
                owned("c", "2024-01-03", true),
                owned("d", "2024-01-02", true),
            ],
            &[],
        );
        let mut new = vec![
            owned("b", "2024-01-02", true),
            owned("bb", "2024-01-04", true),
            owned("e", "2024-01-04", false),
        ]
        .into_iter();
        let mut writer = Writer::new(Vec::new()).unwrap();
        merge(
            Some(&base),
            Keep::Filtered(&mut |r| r.id != "c"),
            &mut new,
            &mut writer,
        )
        .unwrap();
        let bytes = writer.finish(&[]).unwrap();
        let path = dir.path().join("merged");
        std::fs::write(&path, bytes).unwrap();
        let merged = Index::open(&path).unwrap();
        assert_eq!(
            all(&merged),
            [
                owned("a", "2024-01-02", true),
                owned("b", "2024-01-02", true),
                owned("bb", "2024-01-04", true),
                owned("d", "2024-01-02", true),
                owned("e", "2024-01-04", false),
            ]
        );
        assert_eq!(merged.ongoing(), ["e"]);
    }

    /// Blocks without a new id are copied without being decoded; the result is the same as
    /// a merge that decodes everything, counts and not-ended list included.
    #[test]
    fn replacing_ids_copies_untouched_blocks_and_replaces_every_old_record_of_an_id() {
        let dir = tempfile::tempdir().unwrap();
        let days = ["2024-01-01", "2024-01-02", "2024-01-03"];
        let mut old: Vec<OwnedRec> = (0..3000)
            .map(|i| owned(&format!("{i:06}"), days[i % 3], i % 7 != 0))
            .collect();
        old.push(owned("001500", "2024-01-03", true)); // stored twice
        old.sort();
        let mut per_day = BTreeMap::new();
        for rec in &old {
            *per_day.entry(rec.day).or_insert(0u64) += 1;
        }
        let states: Vec<DayState> = per_day
            .iter()
            .map(|(&day, &records)| DayState {
                day,
                stamp: None,
                records,
                unusable: 0,
            })
            .collect();
        let base = write(dir.path(), old.clone(), &states);
        // Refreshed where it was, moved to another day, the one stored twice, new ones
        // before, between and after everything.
        let new = vec![
            owned("000007", "2024-01-02", true),
            owned("000100", "2024-01-01", false),
            owned("001500", "2024-01-01", true),
            owned("001500x", "2024-01-04", true),
            owned("!first", "undated", false),
            owned("zzz", "2024-01-04", true),
        ];
        let mut sorted_new = new.clone();
        sorted_new.sort();
        let mut writer = Writer::new(Vec::new()).unwrap();
        let counted = merge(
            Some(&base),
            Keep::ReplacingIds,
            &mut sorted_new.clone().into_iter(),
            &mut writer,
        )
        .unwrap();
        let path = dir.path().join("merged");
        std::fs::write(&path, writer.finish(&[]).unwrap()).unwrap();
        let merged = Index::open(&path).unwrap();

        let mut want: Vec<OwnedRec> = old
            .into_iter()
            .filter(|r| !new.iter().any(|n| n.id == r.id))
            .chain(new.iter().cloned())
            .collect();
        want.sort();
        assert_eq!(all(&merged), want);
        let mut want_per_day = BTreeMap::new();
        for rec in &want {
            *want_per_day.entry(rec.day).or_insert(0u64) += 1;
        }
        assert_eq!(counted, want_per_day);
        assert_eq!(merged.records(), want.len() as u64);
        let want_ongoing: Vec<String> = want
            .iter()
            .filter(|r| !r.ended)
            .map(|r| r.id.to_string())
            .collect();
        assert_eq!(merged.ongoing(), want_ongoing.as_slice());
        for rec in &want {
            assert!(merged
                .lookup(&rec.id)
                .unwrap()
                .contains(&(rec.day, rec.ended)));
        }
    }

    #[test]
    fn the_sorter_spills_to_disk_and_merges_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::with_limit(dir.path(), 2000);
        let mut expected = Vec::new();
        for i in 0..3000u64 {
            let rec = owned(
                &format!("{}", (i * 2_654_435_761) % 100_003),
                if i % 2 == 0 { "2024-01-02" } else { "undated" },
                i % 5 == 0,
            );
            expected.push(rec.clone());
            sorter.push(rec).unwrap();
        }
        assert!(sorter.runs.len() > 10, "{} runs", sorter.runs.len());
        expected.sort();
        let mut sorted = sorter.finish().unwrap();
        let mut got = Vec::new();
        while let Some(rec) = sorted.next_rec().unwrap() {
            got.push(rec);
        }
        assert_eq!(got, expected);
        // The runs are anonymous files: nothing is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
