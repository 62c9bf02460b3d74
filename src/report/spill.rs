//! Report rows parked on disk until their order is known.
//!
//! The reports are ordered by session start, which is known only once every file has been read,
//! and they are often larger than the input. So each session's rows are encoded as they are
//! computed and appended to an anonymous temporary file (the *spill*); where each session's
//! rows lie (`pipeline::SessionParts`) goes, once the order is known, to a temporary file of
//! its own (`pipeline/parts.rs`). The report writers then read the rows back in report order.
//!
//! A row is encoded cell by cell after its table's column kinds (see [`Encoder`]).
use super::csv::{LineCell, LineWriter};
use super::tables::Emit;
use super::{Cell, Column, ColumnType, Table, TableSpec, TextCell, TypedCells};
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

/// Where one table's rows of one session lie in the spill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Part {
    pub offset: u64,
    pub len: u32,
    pub rows: u32,
}

/// Appends encoded rows to an anonymous temporary file and reads them back.
pub struct Spill {
    file: File,
    writer: Mutex<(BufWriter<File>, u64)>,
}

impl Spill {
    /// Creates the spill in `dir` (it vanishes when dropped, or when the process dies).
    pub fn create_in(dir: &Path) -> Result<Spill> {
        let file = tempfile::tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        let appender = file
            .try_clone()
            .context("cannot open the temporary file twice")?;
        Ok(Spill {
            file,
            writer: Mutex::new((BufWriter::with_capacity(1 << 20, appender), 0)),
        })
    }

    /// Appends `bytes` and returns the offset they start at.
    pub fn append(&self, bytes: &[u8]) -> Result<u64> {
        let mut guard = self.writer.lock().map_err(|_| {
            anyhow::anyhow!("a worker thread failed while writing the temporary file")
        })?;
        let (out, end) = &mut *guard;
        let offset = *end;
        out.write_all(bytes)
            .context("cannot write the temporary file (is the disk full?)")?;
        *end += bytes.len() as u64;
        Ok(offset)
    }

    /// Makes everything appended readable.
    pub fn finish_writing(&self) -> Result<()> {
        let mut guard = self.writer.lock().map_err(|_| {
            anyhow::anyhow!("a worker thread failed while writing the temporary file")
        })?;
        guard
            .0
            .flush()
            .context("cannot write the temporary file (is the disk full?)")
    }

    /// Reads `part` into `buf` (replacing its content). The bytes `buf` already holds are read
    /// over, not zeroed first: zeroing them cost 0.5 % of a CSV run.
    pub fn read(&self, part: Part, buf: &mut Vec<u8>) -> Result<()> {
        buf.resize(part.len as usize, 0);
        self.read_at(part.offset, buf)
    }

    /// Fills `out` with the bytes from `offset` on.
    pub fn read_at(&self, offset: u64, out: &mut [u8]) -> Result<()> {
        self.file
            .read_exact_at(out, offset)
            .context("cannot read back the temporary file")
    }
}

/// Encodes the rows that `rows` emits (cells of `columns`) onto `out`; returns the part
/// (relative to the start of `out`'s new bytes, offset to be fixed by the caller).
pub fn encode_rows(
    columns: &[Column],
    rows: impl FnOnce(Emit<'_>) -> Result<()>,
    out: &mut Vec<u8>,
) -> Result<Part> {
    let start = out.len();
    let mut state = Encoder {
        out,
        last_text: vec![None; columns.len()],
        last_time: 0,
    };
    let mut count = 0u32;
    rows(&mut |cells| {
        for (column, cell) in cells.iter().enumerate() {
            state.cell(column, cell);
        }
        count += 1;
        Ok(())
    })?;
    let len = u32::try_from(out.len() - start).context("one session's rows exceed 4 GiB")?;
    Ok(Part {
        offset: start as u64,
        len,
        rows: count,
    })
}

/// The cell encoding, kept compact because the spill is often larger than the input:
/// - text: varint 0 (null), 1 (the same as this column in the row before), or `2 + len` and
///   the bytes — session ids and names repeat down a session's rows;
/// - time: the number `delta` from the previous time of the part; int and date: the number;
///   a number is `zigzag(value)` in one byte when below [`SMALL`], else a byte `SMALL + n` and
///   its `n` little-endian bytes; null is the byte [`NULL_NUMBER`] (no loop over bits either way:
///   this encoding is written and read for most cells of every report);
/// - float: 0 (null) or 1 and 8 little-endian bytes; flag: 0 or 1.
struct Encoder<'o> {
    out: &'o mut Vec<u8>,
    /// Where the last literal text of each column lies in `out`.
    last_text: Vec<Option<(usize, usize)>>,
    last_time: i64,
}

impl Encoder<'_> {
    /// Inlined into the loop over a row's cells: left a call, it cost a run 2.5 % more
    /// instructions, most of them in the call itself.
    #[inline(always)]
    fn cell(&mut self, column: usize, cell: &Cell<'_>) {
        match *cell {
            Cell::Text(None) | Cell::Float(None) | Cell::Flag(false) => self.out.push(0),
            Cell::Time(None) | Cell::Date(None) | Cell::Int(None) => self.out.push(NULL_NUMBER),
            Cell::Flag(true) => self.out.push(1),
            Cell::Text(Some(text)) => {
                let repeat =
                    self.last_text[column].is_some_and(|(at, len)| &self.out[at..at + len] == text);
                if repeat {
                    put_varint(self.out, 1);
                } else {
                    put_varint(self.out, text.len() as u128 + 2);
                    self.last_text[column] = Some((self.out.len(), text.len()));
                    self.out.extend_from_slice(text);
                }
            }
            Cell::Time(Some(v)) => {
                put_number(self.out, v.wrapping_sub(self.last_time));
                self.last_time = v;
            }
            Cell::Int(Some(v)) => put_number(self.out, v),
            Cell::Date(Some(days)) => put_number(self.out, i64::from(days)),
            Cell::Float(Some(v)) => {
                self.out.push(1);
                self.out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// Numbers below it are one byte (see [`Encoder`]).
const SMALL: u8 = 240;
/// The byte of a null number.
const NULL_NUMBER: u8 = 250;

/// Inlined into [`Encoder::cell`]: left a call, a register save and restore cost a third of
/// its instructions.
#[inline(always)]
fn put_number(out: &mut Vec<u8>, value: i64) {
    let z = zigzag(value);
    if z < u64::from(SMALL) {
        out.push(z as u8);
        return;
    }
    // The bytes that hold `z`: 1 to 8.
    let n = (71 - z.leading_zeros() as usize) / 8;
    out.push(SMALL + n as u8);
    out.extend_from_slice(&z.to_le_bytes());
    out.truncate(out.len() - (8 - n));
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes the rows in `bytes` (written by [`encode_rows`] for `columns`) and emits each.
pub fn decode_rows<'b>(
    columns: &[Column],
    bytes: &'b [u8],
    mut emit: impl FnMut(&[Cell<'b>]) -> Result<()>,
) -> Result<()> {
    let mut reader = Reader::new(bytes, columns.len());
    let mut row = Vec::with_capacity(columns.len());
    while reader.at < bytes.len() {
        row.clear();
        for (index, column) in columns.iter().enumerate() {
            row.push(reader.cell(index, column.ty)?);
        }
        emit(&row)?;
    }
    Ok(())
}

/// Decodes the rows in `bytes` as [`decode_rows`] does, but only the cells of the columns that
/// `wanted` marks: the others are stepped over and stay `Cell::Text(None)` in the row emitted.
/// The rollups read 23 of the 43 columns of the tables they add up.
pub fn decode_wanted_rows<'b>(
    columns: &[Column],
    wanted: &[bool],
    bytes: &'b [u8],
    mut emit: impl FnMut(&[Cell<'b>]) -> Result<()>,
) -> Result<()> {
    if wanted.len() != columns.len() {
        bail!("internal error: columns wanted of a table that has others");
    }
    let mut reader = Reader::new(bytes, columns.len());
    let mut row = vec![Cell::Text(None); columns.len()];
    while reader.at < bytes.len() {
        for (index, (column, &wanted)) in columns.iter().zip(wanted).enumerate() {
            if wanted {
                row[index] = reader.cell(index, column.ty)?;
            } else {
                reader.skip(column.ty)?;
            }
        }
        emit(&row)?;
    }
    Ok(())
}

/// Appends the CSV lines of the rows in `bytes` (written by [`encode_rows`] for `columns`) to
/// `out`: each cell is decoded straight into its text, with no row of cells in between.
pub fn decode_csv_lines(
    columns: &[Column],
    bytes: &[u8],
    lines: &mut LineWriter,
    out: &mut Vec<u8>,
) -> Result<()> {
    let mut reader = Reader::new(bytes, columns.len());
    // A part's repeats refer to its own rows only.
    lines.forget_texts();
    while reader.at < bytes.len() {
        let cells = columns
            .iter()
            .enumerate()
            .map(|(index, column)| match column.ty {
                ColumnType::Text => reader.line_text(index),
                ty => reader.cell(index, ty).map(LineCell::Value),
            });
        lines.line(cells, out)?;
    }
    Ok(())
}

/// Appends the rows in `bytes` (written by [`encode_rows`] for `columns`) to `batch` until it is
/// full, past the first `skip` of them (counted down as they are passed): each cell is decoded
/// straight into its column, with no row of cells in between.
#[cfg(feature = "parquet")]
pub fn decode_into_batch(
    columns: &[Column],
    bytes: &[u8],
    skip: &mut usize,
    batch: &mut super::parquet::Batch,
) -> Result<()> {
    let mut reader = Reader::new(bytes, columns.len());
    // The part's repeats refer to its own rows only, and its first rows may be skipped (into a
    // batch that holds other rows, as this function allows even though the writer skips
    // rows only at a row group's start).
    batch.forget_repeats();
    while reader.at < bytes.len() && !batch.is_full() {
        if *skip > 0 {
            // Decoded all the same: a row's texts and times are told against the row before.
            for (index, column) in columns.iter().enumerate() {
                reader.cell(index, column.ty)?;
            }
            *skip -= 1;
        } else {
            batch.push_typed(&mut reader)?;
        }
    }
    Ok(())
}

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
    last_text: Vec<Option<&'b [u8]>>,
    last_time: i64,
}

/// Its methods are inlined into each decoding loop (one per caller of [`decode_rows`]): left to
/// the compiler, they became calls, and a run took 8 % more instructions.
impl<'b> Reader<'b> {
    fn new(bytes: &'b [u8], columns: usize) -> Reader<'b> {
        Reader {
            bytes,
            at: 0,
            last_text: vec![None; columns],
            last_time: 0,
        }
    }

    #[inline(always)]
    fn take(&mut self, n: usize) -> Result<&'b [u8]> {
        let Some(slice) = self.bytes.get(self.at..self.at + n) else {
            bail!("internal error: the temporary file holds a cut row");
        };
        self.at += n;
        Ok(slice)
    }

    #[inline(always)]
    fn varint(&mut self) -> Result<u128> {
        let mut value = 0u128;
        for shift in (0..128).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u128::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        bail!("internal error: the temporary file holds a bad number")
    }

    /// A number written by `put_number`, or `None` for null.
    #[inline(always)]
    fn signed(&mut self) -> Result<Option<i64>> {
        let tag = self.take(1)?[0];
        if tag < SMALL {
            return Ok(Some(unzigzag(u64::from(tag))));
        }
        if tag == NULL_NUMBER {
            return Ok(None);
        }
        let n = usize::from(tag - SMALL);
        if !(1..=8).contains(&n) {
            bail!("internal error: the temporary file holds a bad number");
        }
        // One eight-byte load when the part has eight bytes left, else byte by byte.
        let z = match self.bytes.get(self.at..self.at + 8) {
            Some(word) => {
                let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
                self.at += n;
                word & (u64::MAX >> (64 - 8 * n))
            }
            None => self
                .take(n)?
                .iter()
                .rev()
                .fold(0, |z, &byte| (z << 8) | u64::from(byte)),
        };
        Ok(Some(unzigzag(z)))
    }

    /// A text cell for [`LineWriter::line`]: a repeat stays one, to be copied from the line
    /// before.
    #[inline(always)]
    fn line_text(&mut self, column: usize) -> Result<LineCell<'b>> {
        Ok(match self.text(column)? {
            TextCell::Repeat(_) => LineCell::SameText,
            TextCell::Value(text) => LineCell::Value(Cell::Text(text)),
        })
    }

    /// Steps over a cell. A time is added up all the same (the next is told against it); a
    /// text is not remembered, so a repeat in its column must be stepped over too.
    #[inline(always)]
    fn skip(&mut self, ty: ColumnType) -> Result<()> {
        match ty {
            ColumnType::Flag => {
                self.take(1)?;
            }
            ColumnType::Float => {
                if self.take(1)?[0] != 0 {
                    self.take(8)?;
                }
            }
            ColumnType::Int | ColumnType::Date => {
                self.signed()?;
            }
            ColumnType::Time => {
                self.time()?;
            }
            ColumnType::Text => {
                if let Some(len) = self.varint()?.checked_sub(2) {
                    self.take(
                        usize::try_from(len).context("internal error: a text out of range")?,
                    )?;
                }
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn cell(&mut self, column: usize, ty: ColumnType) -> Result<Cell<'b>> {
        Ok(match ty {
            ColumnType::Flag => Cell::Flag(self.flag()?),
            ColumnType::Float => Cell::Float(self.float()?),
            ColumnType::Int => Cell::Int(self.int()?),
            ColumnType::Date => Cell::Date(self.date()?),
            ColumnType::Time => Cell::Time(self.time()?),
            ColumnType::Text => Cell::Text(self.text(column)?.text()),
        })
    }
}

/// Each cell read as the type its column has, which the caller knows (see [`encode_rows`]).
impl<'b> TypedCells<'b> for Reader<'b> {
    #[inline(always)]
    fn flag(&mut self) -> Result<bool> {
        Ok(self.take(1)?[0] == 1)
    }

    #[inline(always)]
    fn float(&mut self) -> Result<Option<f64>> {
        Ok(match self.take(1)?[0] {
            0 => None,
            _ => {
                let mut word = [0; 8];
                word.copy_from_slice(self.take(8)?);
                Some(f64::from_le_bytes(word))
            }
        })
    }

    #[inline(always)]
    fn int(&mut self) -> Result<Option<i64>> {
        self.signed()
    }

    #[inline(always)]
    fn date(&mut self) -> Result<Option<i32>> {
        Ok(self
            .signed()?
            .map(|days| i32::try_from(days).unwrap_or(i32::MAX)))
    }

    #[inline(always)]
    fn time(&mut self) -> Result<Option<i64>> {
        Ok(self.signed()?.map(|delta| {
            self.last_time = self.last_time.wrapping_add(delta);
            self.last_time
        }))
    }

    #[inline(always)]
    fn text(&mut self, column: usize) -> Result<TextCell<'b>> {
        Ok(match self.varint()? {
            0 => TextCell::Value(None),
            1 => TextCell::Repeat(
                self.last_text
                    .get(column)
                    .copied()
                    .flatten()
                    .context("internal error: a repeat without a value")?,
            ),
            code => {
                let len =
                    usize::try_from(code - 2).context("internal error: a text out of range")?;
                let text = self.take(len)?;
                self.last_text[column] = Some(text);
                TextCell::Value(Some(text))
            }
        })
    }
}

/// One report table whose rows are in the spill: `groups` parts in report order, `rows` rows in
/// all, the parts of a range of groups given by `parts` (looked up, not held: a table of a
/// million sessions would otherwise hold a million parts more while it is written).
pub struct SpilledTable<'s> {
    pub spec: &'static TableSpec,
    pub spill: &'s Spill,
    pub groups: usize,
    pub rows: usize,
    pub parts: Box<dyn Fn(Range<usize>) -> Result<Vec<Part>> + Sync + 's>,
}

impl SpilledTable<'_> {
    /// The parts of `groups`, an empty part for each group past the end.
    fn parts_of(&self, groups: Range<usize>) -> Result<Vec<Part>> {
        let mut parts = (self.parts)(groups.start.min(self.groups)..groups.end.min(self.groups))?;
        parts.resize(groups.len(), Part::default());
        Ok(parts)
    }
}

impl Table for SpilledTable<'_> {
    fn spec(&self) -> &'static TableSpec {
        self.spec
    }
    fn row_count(&self) -> usize {
        self.rows
    }
    fn group_count(&self) -> usize {
        self.groups
    }
    fn group_rows_in(&self, groups: Range<usize>) -> Result<Vec<usize>> {
        Ok(self
            .parts_of(groups)?
            .iter()
            .map(|part| part.rows as usize)
            .collect())
    }
    fn for_each_row_in(
        &self,
        groups: Range<usize>,
        emit: &mut dyn FnMut(&[Cell<'_>]) -> Result<()>,
    ) -> Result<()> {
        let mut buf = Vec::new();
        for part in self.parts_of(groups)? {
            self.spill.read(part, &mut buf)?;
            decode_rows(self.spec.columns, &buf, &mut *emit)?;
        }
        Ok(())
    }
    /// Decodes straight into the lines: one call per row fewer than through
    /// [`Table::for_each_row_in`], and the two loops over the cells become one.
    fn csv_lines(&self, groups: Range<usize>, out: &mut Vec<u8>) -> Result<bool> {
        let parts = self.parts_of(groups)?;
        // The lines are about three times the cells: sized once rather than grown by copies.
        let encoded: usize = parts.iter().map(|part| part.len as usize).sum();
        let room = out.len().saturating_add(encoded.saturating_mul(3));
        if out.is_empty() && out.capacity() < room {
            // A reused buffer too small is replaced: growing it would copy all its old room,
            // with nothing in it (0.7 % of a CSV run's instructions).
            *out = Vec::with_capacity(room);
        } else {
            out.reserve(room - out.len());
        }
        let mut lines = LineWriter::default();
        let mut buf = Vec::new();
        for part in parts {
            self.spill.read(part, &mut buf)?;
            decode_csv_lines(self.spec.columns, &buf, &mut lines, out)?;
        }
        Ok(true)
    }
    /// Decodes straight into the columns, as [`Table::csv_lines`] does into lines; the parts
    /// wholly skipped are not read, and none is read once `batch` is full.
    #[cfg(feature = "parquet")]
    fn parquet_rows(
        &self,
        groups: Range<usize>,
        mut skip: usize,
        batch: &mut super::parquet::Batch,
    ) -> Result<bool> {
        let mut buf = Vec::new();
        for part in self.parts_of(groups)? {
            if batch.is_full() {
                break;
            }
            if skip >= part.rows as usize {
                skip -= part.rows as usize;
                continue;
            }
            self.spill.read(part, &mut buf)?;
            decode_into_batch(self.spec.columns, &buf, &mut skip, batch)?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Any number, and mostly ones near the one-byte limit and the byte boundaries.
    fn number() -> impl Strategy<Value = Option<i64>> {
        let boundary = (0u32..64, -2i64..3)
            .prop_map(|(bits, step)| unzigzag((1u64 << bits).wrapping_add_signed(step)));
        proptest::option::weighted(
            0.9,
            prop_oneof![
                any::<i64>(),
                boundary,
                (-300i64..300),
                Just(i64::MIN),
                Just(i64::MAX)
            ],
        )
    }

    proptest! {
        /// Times (as deltas) and integers come back as they went in, at the end of a part too
        /// (where fewer than eight bytes follow a number).
        #[test]
        fn numbers_come_back_as_they_went_in(rows in prop::collection::vec((number(), number()), 0..40)) {
            // A time and an integer.
            let columns = &COLUMNS[1..3];
            let mut bytes = Vec::new();
            encode_rows(
                columns,
                |emit| rows.iter().try_for_each(|&(at, n)| emit(&[Cell::Time(at), Cell::Int(n)])),
                &mut bytes,
            )
            .unwrap();
            let mut back = Vec::new();
            decode_rows(columns, &bytes, |cells| {
                match cells {
                    [Cell::Time(at), Cell::Int(n)] => back.push((*at, *n)),
                    other => panic!("{other:?}"),
                }
                Ok(())
            })
            .unwrap();
            prop_assert_eq!(back, rows);
        }
    }

    struct Fixed(Vec<Vec<Cell<'static>>>);

    const COLUMNS: &[Column] = &[
        Column {
            name: "t",
            ty: ColumnType::Text,
            nullable: true,
        },
        Column {
            name: "at",
            ty: ColumnType::Time,
            nullable: true,
        },
        Column {
            name: "n",
            ty: ColumnType::Int,
            nullable: true,
        },
        Column {
            name: "x",
            ty: ColumnType::Float,
            nullable: true,
        },
        Column {
            name: "f",
            ty: ColumnType::Flag,
            nullable: true,
        },
    ];

    const FIXED: TableSpec = TableSpec {
        name: "fixed",
        columns: COLUMNS,
    };

    impl Table for Fixed {
        fn spec(&self) -> &'static TableSpec {
            &FIXED
        }
        fn row_count(&self) -> usize {
            self.0.len()
        }
        fn group_count(&self) -> usize {
            self.0.len()
        }
        fn for_each_row_in(
            &self,
            groups: Range<usize>,
            emit: &mut dyn FnMut(&[Cell<'_>]) -> Result<()>,
        ) -> Result<()> {
            self.0[groups].iter().try_for_each(|row| emit(row))
        }
    }

    #[test]
    fn rows_come_back_from_the_spill_as_they_went_in() {
        let rows = vec![
            vec![
                Cell::Text(Some(b"same")),
                Cell::Time(Some(crate::time::LATEST)),
                Cell::Int(Some(i64::MIN)),
                Cell::Float(Some(f64::MAX)),
                Cell::Flag(true),
            ],
            vec![
                Cell::Text(Some(b"same")),
                Cell::Time(Some(crate::time::EARLIEST)),
                Cell::Int(Some(i64::MAX)),
                Cell::Float(Some(-0.5)),
                Cell::Flag(false),
            ],
            vec![
                Cell::Text(Some("José, \"x\"\n".as_bytes())),
                Cell::Time(Some(-1)),
                Cell::Int(Some(i64::MAX)),
                Cell::Float(Some(12.5)),
                Cell::Flag(true),
            ],
            vec![
                Cell::Text(None),
                Cell::Time(None),
                Cell::Int(None),
                Cell::Float(None),
                Cell::Flag(false),
            ],
            vec![
                Cell::Text(Some(b"")),
                Cell::Time(Some(0)),
                Cell::Int(Some(0)),
                Cell::Float(Some(0.0)),
                Cell::Flag(false),
            ],
        ];
        let table = Fixed(rows.clone());
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create_in(dir.path()).unwrap();
        spill.append(b"something before").unwrap();
        let mut bytes = Vec::new();
        let mut part = encode_rows(COLUMNS, |emit| table.for_each_row(emit), &mut bytes).unwrap();
        part.offset = spill.append(&bytes).unwrap();
        spill.finish_writing().unwrap();

        let spilled = SpilledTable {
            spec: &FIXED,
            spill: &spill,
            groups: 2,
            rows: 10,
            parts: Box::new(move |groups| Ok(vec![part; groups.len()])),
        };
        assert_eq!(spilled.group_rows_in(0..4).unwrap(), [5, 5, 0, 0]);
        let mut back = Vec::new();
        spilled
            .for_each_row(&mut |cells| {
                back.push(format!("{cells:?}"));
                Ok(())
            })
            .unwrap();
        let expected: Vec<String> = rows.iter().chain(&rows).map(|r| format!("{r:?}")).collect();
        assert_eq!(back, expected);

        // The CSV lines decoded straight from the spill are the lines of the cells read back.
        let mut through_cells = Vec::new();
        let mut lines = LineWriter::default();
        spilled
            .for_each_row(&mut |cells| lines.row(cells, &mut through_cells))
            .unwrap();
        let mut straight = Vec::new();
        assert!(spilled.csv_lines(0..2, &mut straight).unwrap());
        assert_eq!(
            String::from_utf8_lossy(&straight),
            String::from_utf8_lossy(&through_cells)
        );
        // Ten lines, two of them with a line break inside a quoted text.
        assert_eq!(straight.iter().filter(|&&b| b == b'\n').count(), 12);
        // Appended after what the buffer holds, whether it has room for them or not; an empty
        // buffer (as the writer reuses them) is made larger or used as it is.
        let mut roomy = Vec::with_capacity(1 << 16);
        roomy.extend_from_slice(b"before\n");
        for mut out in [b"before\n".to_vec(), roomy] {
            assert!(spilled.csv_lines(0..2, &mut out).unwrap());
            assert_eq!(out[..7], *b"before\n");
            assert_eq!(out[7..], straight[..]);
        }
        for mut out in [Vec::with_capacity(4), Vec::with_capacity(1 << 16)] {
            assert!(spilled.csv_lines(0..2, &mut out).unwrap());
            assert_eq!(out, straight);
        }
    }

    /// Of the columns wanted, the same cells as all decoded (repeats, and times told against
    /// the time before, wanted or not); the others are nulls.
    #[test]
    fn wanted_columns_come_back_as_all_of_them_do() {
        let row = |text: Option<&'static str>, at: i64, x: Option<f64>, flag: bool| {
            vec![
                Cell::Text(text.map(str::as_bytes)),
                Cell::Time(Some(at)),
                Cell::Int(Some(at / 7)),
                Cell::Float(x),
                Cell::Flag(flag),
            ]
        };
        let five = vec![
            row(Some("José"), 1_000, Some(0.5), true),
            row(Some("José"), -5, None, false),
            row(None, 1 << 40, Some(-2.0), true),
            row(Some("José"), i64::MIN / 2, Some(1e300), false),
            row(Some(""), 0, None, true),
        ];
        const TWO_TIMES: &[Column] = &[COLUMNS[1], COLUMNS[0], COLUMNS[2], COLUMNS[1]];
        let times = |a: i64, text: &'static str, b: Option<i64>| {
            vec![
                Cell::Time(Some(a)),
                Cell::Text(Some(text.as_bytes())),
                Cell::Int(None),
                Cell::Time(b),
            ]
        };
        let two_times = vec![
            times(5_000, "a", Some(9_000)),
            times(1_000, "a", None),
            times(7_000, "b", Some(3_000)),
        ];
        for (columns, rows) in [(COLUMNS, five), (TWO_TIMES, two_times)] {
            let mut bytes = Vec::new();
            encode_rows(
                columns,
                |emit| rows.iter().try_for_each(|row| emit(row)),
                &mut bytes,
            )
            .unwrap();
            for mask in 0..1u32 << columns.len() {
                let wanted: Vec<bool> = (0..columns.len()).map(|c| mask >> c & 1 == 1).collect();
                let mut picked = Vec::new();
                decode_wanted_rows(columns, &wanted, &bytes, |cells| {
                    picked.push(cells.to_vec());
                    Ok(())
                })
                .unwrap();
                let expected: Vec<Vec<Cell<'_>>> = rows
                    .iter()
                    .map(|cells| {
                        cells
                            .iter()
                            .zip(&wanted)
                            .map(|(&cell, &wanted)| if wanted { cell } else { Cell::Text(None) })
                            .collect()
                    })
                    .collect();
                assert_eq!(format!("{picked:?}"), format!("{expected:?}"), "{wanted:?}");
            }
            assert!(decode_wanted_rows(columns, &[true], &bytes, |_| Ok(())).is_err());
        }
    }

    /// A text the spill marks as a repeat is copied from where the CSV line before put it,
    /// quoted as it was, across a null between them; a part read after a longer one (into the
    /// same buffer) repeats only its own texts.
    #[test]
    fn repeated_texts_come_back_as_first_written() {
        let row = |text: Option<&'static str>| {
            vec![
                Cell::Text(text.map(str::as_bytes)),
                Cell::Time(Some(0)),
                Cell::Int(Some(1)),
                Cell::Float(None),
                Cell::Flag(false),
            ]
        };
        let quoted = "José, \"x\"\n";
        let first = Fixed(vec![
            row(Some(quoted)),
            row(None),
            row(Some(quoted)),
            row(Some("b")),
        ]);
        let second = Fixed(vec![row(Some("c")), row(Some("c"))]);
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create_in(dir.path()).unwrap();
        let parts: Vec<Part> = [&first, &second]
            .iter()
            .map(|table| {
                let mut bytes = Vec::new();
                let mut part =
                    encode_rows(COLUMNS, |emit| table.for_each_row(emit), &mut bytes).unwrap();
                part.offset = spill.append(&bytes).unwrap();
                part
            })
            .collect();
        spill.finish_writing().unwrap();
        // Encoded as repeats: the third row's text and the second part's second (no other
        // cell of these rows is encoded as a byte 1).
        let mut buf = Vec::new();
        for part in &parts {
            spill.read(*part, &mut buf).unwrap();
            assert_eq!(buf.iter().filter(|&&b| b == 1).count(), 1);
        }
        let spilled = SpilledTable {
            spec: &FIXED,
            spill: &spill,
            groups: 2,
            rows: 6,
            parts: Box::new(move |groups| Ok(parts[groups].to_vec())),
        };
        let mut straight = Vec::new();
        assert!(spilled.csv_lines(0..2, &mut straight).unwrap());
        let texts: Vec<&str> = std::str::from_utf8(&straight)
            .unwrap()
            .split(",1970-01-01T00:00:00.000Z,1,,false\n")
            .collect();
        let quoted_field = "\"José, \"\"x\"\"\n\"";
        assert_eq!(texts, [quoted_field, "", quoted_field, "b", "c", "c", ""]);

        // A repeat with no text before it in the same lines is an error, not a copy.
        let mut lines = LineWriter::default();
        let mut out = Vec::new();
        lines.row(&row(Some("d")), &mut out).unwrap();
        lines.forget_texts();
        let repeat = [Ok(LineCell::SameText)];
        assert!(lines.line(repeat.into_iter(), &mut out).is_err());
    }
}
