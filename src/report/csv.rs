//! CSV: a header row, then one line per row; empty cell for null, `true`/`false`, timestamps
//! as `2021-10-19T07:55:35.807Z`, numbers in the shortest form that reads back exactly (`12.5`, `1`).
//!
//! Rows are formatted straight into the output buffer, which is a third of the cost of the
//! `csv` crate's writer here: only text can need quotes, and it gets them by the crate's own
//! rule (`QuoteStyle::Necessary`; a test holds the two to the same bytes).
use super::{group_blocks, Cell, Format, Table};
use crate::time::{format_millis, TimeFormatter};
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::io::Write;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

pub struct Csv;

/// A chunk (rendered by one task) ends after this many groups (sessions), or
/// [`ROWS_PER_CHUNK`], whichever comes first. The chunks are fixed by the table, so the bytes
/// do not depend on the threads (nor would they on the chunks).
const GROUPS_PER_CHUNK: usize = 64;
/// Rows after which a chunk ends: a rollup table's groups hold thousands of rows each.
const ROWS_PER_CHUNK: usize = 2048;
/// Chunks rendered at once before they are written: bounds the text held in memory.
const CHUNKS_PER_WINDOW: usize = 8;
/// The largest buffer the CSV writer renders into again: most chunks' lines fit (2,048
/// `participants` rows are about 400 KB).
const REUSED_BUFFER: usize = 1 << 19;

impl Format for Csv {
    fn extension(&self) -> &'static str {
        "csv"
    }

    /// Renders chunks of rows on the rayon pool and writes them in order, a window of chunks
    /// while the next window is rendered.
    fn write(&self, table: &(dyn Table + Sync), out: &mut (dyn Write + Send)) -> Result<()> {
        let mut header = Vec::new();
        for (index, column) in table.spec().columns.iter().enumerate() {
            if index > 0 {
                header.push(b',');
            }
            put_text(&mut header, column.name.as_bytes());
        }
        header.push(b'\n');
        out.write_all(&header)?;
        let chunks = chunks_of(table)?;
        // The buffers of the chunks written, rendered into again: after the first windows a
        // chunk's lines need no allocation, nor any copy of a buffer grown. A buffer larger
        // than [`REUSED_BUFFER`] (a chunk of large sessions) is freed instead, so the pool
        // does not hold the largest chunks' room for the rest of the table.
        let written = Mutex::new(Vec::new());
        let reuse = || -> Vec<u8> {
            let mut spare = written.lock().unwrap_or_else(PoisonError::into_inner);
            spare.pop().unwrap_or_default()
        };
        let render_window = |window: &[Range<usize>]| -> Vec<Result<Vec<u8>>> {
            window
                .par_iter()
                .map(|groups| render(table, groups.clone(), reuse()))
                .collect()
        };
        let write_window = |out: &mut (dyn Write + Send), texts: Vec<Result<Vec<u8>>>| {
            texts.into_iter().try_for_each(|text| {
                let mut text = text?;
                out.write_all(&text)?;
                if text.capacity() <= REUSED_BUFFER {
                    text.clear();
                    written
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(text);
                }
                Ok::<_, anyhow::Error>(())
            })
        };
        let mut rendered = Vec::new();
        for window in chunks.chunks(CHUNKS_PER_WINDOW) {
            let (written, next) = rayon::join(
                || write_window(&mut *out, std::mem::take(&mut rendered)),
                || render_window(window),
            );
            written?;
            rendered = next;
        }
        write_window(out, rendered)
    }
}

/// `table`'s groups cut into chunks of [`GROUPS_PER_CHUNK`] groups or [`ROWS_PER_CHUNK`] rows,
/// whichever comes first.
fn chunks_of(table: &dyn Table) -> Result<Vec<Range<usize>>> {
    let mut chunks = Vec::new();
    let (mut start, mut rows) = (0, 0);
    for block in group_blocks(table.group_count()) {
        for (group, count) in block.clone().zip(table.group_rows_in(block)?) {
            rows += count;
            if group + 1 - start == GROUPS_PER_CHUNK || rows >= ROWS_PER_CHUNK {
                chunks.push(start..group + 1);
                (start, rows) = (group + 1, 0);
            }
        }
    }
    if start < table.group_count() {
        chunks.push(start..table.group_count());
    }
    Ok(chunks)
}

/// The CSV lines of the rows of `groups`, in `out` (empty): from the table itself when it makes
/// them faster than through its cells (a spilled table decodes straight into them), else from
/// the cells.
fn render(table: &dyn Table, groups: Range<usize>, mut out: Vec<u8>) -> Result<Vec<u8>> {
    if table.csv_lines(groups.clone(), &mut out)? {
        return Ok(out);
    }
    let mut lines = LineWriter::default();
    table.for_each_row_in(groups, &mut |cells| lines.row(cells, &mut out))?;
    Ok(out)
}

/// Writes rows as CSV lines; it keeps what makes the next row cheaper (the day last formatted,
/// scratch space), so one is used for many rows.
#[derive(Default)]
pub struct LineWriter {
    integer: itoa::Buffer,
    float: zmij::Buffer,
    times: TimeFormatter,
    /// For out-of-range times: no allocation per row.
    scratch: String,
    /// Per column, where the last text written lies in `out` (as written: quoted if it had to
    /// be), for [`LineCell::SameText`].
    texts: Vec<Option<Range<usize>>>,
}

/// A cell as [`LineWriter::line`] takes it: a value, or `SameText`, the text this writer last
/// wrote in the column, into the same `out`. The spill marks such repeats (a session's id on
/// each of its rows), and they are copied as written, with no second look for quotes.
#[derive(Debug, Clone, Copy)]
pub enum LineCell<'c> {
    Value(Cell<'c>),
    SameText,
}

impl LineWriter {
    /// Appends the line of the row `cells` to `out`.
    pub fn row(&mut self, cells: &[Cell<'_>], out: &mut Vec<u8>) -> Result<()> {
        self.line(cells.iter().map(|&cell| Ok(LineCell::Value(cell))), out)
    }

    /// Forgets where the texts written lie, before lines go to another `out` or follow rows
    /// whose repeats are told apart (each part of the spill): a [`LineCell::SameText`] then
    /// fails instead of copying something else.
    pub fn forget_texts(&mut self) {
        self.texts.clear();
    }

    /// Appends the line of the row whose cells `cells` yields (or its first error) to `out`.
    /// Inlined, a spilled table decodes each cell straight into its text
    /// ([`super::spill::decode_csv_lines`]), with no row of cells in between.
    #[inline(always)]
    pub fn line<'c>(
        &mut self,
        cells: impl Iterator<Item = Result<LineCell<'c>>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        for (index, cell) in cells.enumerate() {
            if index > 0 {
                out.push(b',');
            }
            let cell = match cell? {
                LineCell::Value(cell) => cell,
                LineCell::SameText => {
                    let written = self
                        .texts
                        .get(index)
                        .cloned()
                        .flatten()
                        .filter(|written| written.end <= out.len())
                        .context("internal error: a repeated text with no text before it")?;
                    out.extend_from_within(written);
                    continue;
                }
            };
            match cell {
                Cell::Text(None) => {}
                Cell::Text(Some(text)) => {
                    let start = out.len();
                    put_text(out, text);
                    if self.texts.len() <= index {
                        self.texts.resize(index + 1, None);
                    }
                    self.texts[index] = Some(start..out.len());
                }
                Cell::Time(Some(ms)) => match self.times.format(ms) {
                    Some(bytes) => out.extend_from_slice(&bytes),
                    None => {
                        self.scratch.clear();
                        format_millis(ms, &mut self.scratch);
                        out.extend_from_slice(self.scratch.as_bytes());
                    }
                },
                Cell::Int(Some(n)) => out.extend_from_slice(self.integer.format(n).as_bytes()),
                Cell::Date(Some(days)) => match self.times.date(i64::from(days)) {
                    Some(bytes) => out.extend_from_slice(&bytes),
                    None => {
                        let date = chrono::NaiveDate::from_epoch_days(days).unwrap_or_default();
                        write!(out, "{date}")?;
                    }
                },
                Cell::Float(Some(x)) => put_float(out, x, &mut self.float)?,
                Cell::Flag(flag) => out.extend_from_slice(if flag { b"true" } else { b"false" }),
                Cell::Time(None) | Cell::Date(None) | Cell::Int(None) | Cell::Float(None) => {}
            }
        }
        out.push(b'\n');
        Ok(())
    }
}

/// Appends `x` as Rust's `{}` writes it: the shortest digits that read back exactly, never an
/// exponent (`12.5`, `1`, `-0`, `0.0001`). zmij finds the same shortest digits, faster, and
/// writes them the same way but for a trailing `.0` (`1.0`), which is cut. Where the two could
/// differ, `{}` writes the number instead:
/// - outside about 1e-5 to 1e16, where zmij writes an exponent (`1e16`), and for NaN and inf;
/// - at a tie, when `x` lies exactly halfway between the two nearest shortest numbers
///   (`64.000030517578125`): zmij takes the even one (`…812`), `{}` not always (`…813`).
///   `x` then has exactly one fraction digit more than zmij shows.
fn put_float(out: &mut Vec<u8>, x: f64, buffer: &mut zmij::Buffer) -> std::io::Result<()> {
    let printed = buffer.format(x).as_bytes();
    let digits = printed.strip_suffix(b".0").unwrap_or(printed);
    let shown = digits
        .iter()
        .position(|&b| b == b'.')
        .map_or(0, |dot| digits.len() - dot - 1);
    // Bytes, not chars: a search for a set of chars decodes every char of the number.
    if !x.is_finite() || printed.contains(&b'e') || exact_fraction_digits(x) == shown + 1 {
        return write!(out, "{x}");
    }
    out.extend_from_slice(digits);
    Ok(())
}

/// How many digits `x`'s exact decimal value has after the point: `m * 2^e` has `-e` of them
/// once `m` is odd.
fn exact_fraction_digits(x: f64) -> usize {
    let bits = x.to_bits();
    let biased = (bits >> 52) & 0x7ff;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exponent) = match biased {
        0 => (fraction, -1074),
        _ => (fraction | 1 << 52, biased as i64 - 1075),
    };
    if mantissa == 0 {
        return 0;
    }
    let exponent = exponent + i64::from(mantissa.trailing_zeros());
    usize::try_from(-exponent).unwrap_or(0)
}

/// Appends `text` as one CSV field: as it is, or in double quotes (inner quotes doubled)
/// when it holds a comma, a quote or a line break.
fn put_text(out: &mut Vec<u8>, text: &[u8]) {
    if !needs_quotes(text) {
        out.extend_from_slice(text);
        return;
    }
    out.push(b'"');
    for part in text.split_inclusive(|&b| b == b'"') {
        out.extend_from_slice(part);
        if part.last() == Some(&b'"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

/// Whether `text` holds a comma, a quote, CR or LF. Eight bytes at a time, the last eight
/// overlapping the words before them, and a text shorter than that as one word padded with
/// zeros (which match none of them): this check runs on every text cell of every report.
fn needs_quotes(text: &[u8]) -> bool {
    let Some(last) = text.last_chunk::<8>() else {
        let word = text
            .iter()
            .rev()
            .fold(0, |word, &b| word << 8 | u64::from(b));
        return has_special_byte(word);
    };
    let (words, _) = text.as_chunks::<8>();
    words
        .iter()
        .chain([last])
        .any(|word| has_special_byte(u64::from_le_bytes(*word)))
}

/// Whether some byte of `word` is a comma, a quote, CR or LF: a byte of `word ^ special` is
/// zero where `word` has `special`, and `(x - 1) & !x` sets a byte's high bit when it is zero
/// (exact as a yes/no answer).
fn has_special_byte(word: u64) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    let found = zero_byte(word ^ (ONES * u64::from(b',')))
        | zero_byte(word ^ (ONES * u64::from(b'"')))
        | zero_byte(word ^ (ONES * u64::from(b'\n')))
        | zero_byte(word ^ (ONES * u64::from(b'\r')));
    found & HIGHS != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The row as the `csv` crate writes it with its default settings.
    fn by_the_csv_crate(fields: &[Vec<u8>]) -> Vec<u8> {
        let mut writer = ::csv::Writer::from_writer(Vec::new());
        writer.write_record(fields).unwrap();
        writer.into_inner().unwrap()
    }

    fn by_put_text(fields: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (index, field) in fields.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            put_text(&mut out, field);
        }
        out.push(b'\n');
        out
    }

    /// Chunks end at 64 groups or once they hold 2,048 rows, and the file holds every row once,
    /// in order, however the groups are sized and over several windows of chunks.
    #[test]
    fn chunks_are_cut_by_groups_or_rows_and_the_lines_stay_in_order() {
        use crate::report::testing::Numbered;
        let chunks = |sizes: &[usize]| chunks_of(&Numbered(sizes.to_vec())).unwrap();
        assert_eq!(chunks(&[5_000, 1, 1, 3_000, 0, 0]), [0..1, 1..4, 4..6]);
        assert_eq!(chunks(&[2_047, 1, 1]), [0..2, 2..3]);
        assert_eq!(chunks(&[1; 130]), [0..64, 64..128, 128..130]);
        assert!(chunks(&[]).is_empty());
        // Across the blocks whose rows are asked at once (65,536 groups): the running counts
        // carry over, so the chunks are those of one long loop.
        let many: Vec<usize> = (0..70_000).map(|g| usize::from(g % 3 == 0) * 100).collect();
        let mut expected = Vec::new();
        let (mut start, mut rows) = (0, 0);
        for (group, size) in many.iter().enumerate() {
            rows += size;
            if group + 1 - start == GROUPS_PER_CHUNK || rows >= ROWS_PER_CHUNK {
                expected.push(start..group + 1);
                (start, rows) = (group + 1, 0);
            }
        }
        if start < many.len() {
            expected.push(start..many.len());
        }
        assert_eq!(chunks(&many), expected);
        for sizes in [vec![1; 1_000], vec![3_000; 20], vec![0; 70], vec![]] {
            let table = Numbered(sizes.clone());
            assert!(chunks_of(&table).unwrap().len() > CHUNKS_PER_WINDOW || sizes.len() < 100);
            let mut out = Vec::new();
            Csv.write(&table, &mut out).unwrap();
            let total: usize = sizes.iter().sum();
            let expected: String = std::iter::once("row\n".to_owned())
                .chain((0..total).map(|row| format!("{row}\n")))
                .collect();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    fn by_put_float(x: f64) -> String {
        let mut out = Vec::new();
        put_float(&mut out, x, &mut zmij::Buffer::new()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_are_written_as_rust_writes_them() {
        let awkward = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            12.5,
            100.0,
            0.1 + 0.2,
            1e-5,
            1e-7,
            123_456.789e-12,
            1e15,
            1e16,
            1e16 + 2.0,
            9_007_199_254_740_993.0,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::EPSILON,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for x in awkward {
            assert_eq!(by_put_float(x), format!("{x}"), "{x:e}");
        }
        // Ties, where zmij's digits are not `{}`'s: the exact value is a 5 past them.
        for x in [
            64.0 + 1.0 / 32_768.0,
            -225_272_255_901_548.0 - 0.625,
            1_016_376_908_170_190.0 + 0.25,
            100.0 * 2_097_153.0 / 3_276_800.0,
        ] {
            assert_ne!(zmij::Buffer::new().format(x), format!("{x}"));
            assert_eq!(by_put_float(x), format!("{x}"), "{x:e}");
        }
        // What the reports hold: attendance percentages (100 * a / b) and average
        // concurrencies (a / b) of every small fraction.
        for b in 1..=600_u32 {
            for a in 0..=2 * b {
                for x in [
                    100.0 * f64::from(a) / f64::from(b),
                    f64::from(a) / f64::from(b),
                ] {
                    assert_eq!(by_put_float(x), format!("{x}"));
                }
            }
        }
    }

    #[test]
    fn text_is_quoted_only_when_it_must_be() {
        let row = |fields: &[&str]| {
            let fields: Vec<Vec<u8>> = fields.iter().map(|f| f.as_bytes().to_vec()).collect();
            String::from_utf8(by_put_text(&fields)).unwrap()
        };
        assert_eq!(row(&["a", "", "b c"]), "a,,b c\n");
        assert_eq!(
            row(&["x,y", "say \"hi\"", "two\nlines", "cr\r"]),
            "\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\"\n"
        );
        assert_eq!(row(&["\"", "\"\""]), "\"\"\"\",\"\"\"\"\"\"\n");
    }

    proptest! {
        /// Any row of two or more text fields (one empty field alone is a special case of the
        /// crate that no report has) gets the crate's exact bytes. Fields run to 20 bytes, so a
        /// special byte lands in every place of the eight-byte words and of the rest.
        #[test]
        fn text_fields_match_the_csv_crate(
            fields in prop::collection::vec(
                // Mostly plain bytes, so that many fields need no quotes at all.
                prop::collection::vec(prop_oneof![
                    12 => Just(b'a'),
                    1 => prop::sample::select(
                        vec![b' ', b',', b'"', b'\n', b'\r', b'#', b'\'', 0xc3, 0xa9]),
                ], 0..20),
                2..5)
        ) {
            prop_assert_eq!(by_put_text(&fields), by_the_csv_crate(&fields));
        }

        /// Any double, from any bit pattern: every exponent, subnormals, NaNs.
        #[test]
        fn any_float_is_written_as_rust_writes_it(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assert_eq!(by_put_float(x), format!("{x}"));
        }

        /// Doubles in the range a report holds, where zmij's own form is used, and the same
        /// with their low bits cleared: short exact values, among them the ties.
        #[test]
        fn floats_of_reports_are_written_as_rust_writes_them(
            x in 0.0..1e7_f64,
            cleared in 0..52_u32,
        ) {
            let short = f64::from_bits(x.to_bits() & !((1_u64 << cleared) - 1));
            prop_assert_eq!(by_put_float(x), format!("{x}"));
            prop_assert_eq!(by_put_float(short), format!("{short}"));
        }
    }
}
