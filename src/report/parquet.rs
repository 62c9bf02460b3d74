//! Parquet through polars: timestamps `Datetime(ms, UTC)`, dates `Date`, counts and durations
//! `Int64`, ratios `Float64`, flags `Boolean`, text `String`; the first three delta-encoded
//! unless `--parquet-integers plain` (docs/reference.md "Parquet integers"). Columns are built
//! straight from the rows: numbers pushed inline (`Numbers`), flags with polars' builder, text
//! columns as polars would encode them ([`text`]), in row groups of 16,384 rows (the last one
//! shorter); a few row groups per thread (the memory a Parquet report holds) are built, encoded
//! and compressed in parallel, then written in order.
//!
//! Every reader must be able to join on our text columns, so the file carries no Arrow schema
//! of polars' newest flavour (which makes pyarrow and pandas read text as `string_view`, which
//! they cannot join or sort): readers take the types from the Parquet schema itself (UTF-8
//! strings, `TIMESTAMP(MILLIS, UTC)`, `DATE`), where columns that are never empty are
//! `required`.
use super::{
    group_blocks, Cell, Column as ReportColumn, ColumnType, Format, ParquetCompression,
    ParquetIntegers, ParquetOptions, Table, TypedCells,
};
use anyhow::{anyhow, Result};
use polars::io::parquet::write::{get_encodings, StatisticsOptions};
use polars::prelude::*;
use polars_arrow::array::Array;
use polars_arrow::bitmap::MutableBitmap;
use polars_parquet::write::{
    array_to_columns, compress, to_parquet_schema, CompressedPage, CompressionOptions, DynIter,
    DynStreamingIterator, Encoding, FallibleStreamingIterator, FileWriter, ParquetType, Version,
    WriteOptions, ZstdLevel,
};
use rayon::prelude::*;
use std::io::Write;
use text::TextColumn;

mod text;

/// The Parquet format, written with its options (codec, integer encoding).
#[derive(Default)]
pub struct Parquet(pub ParquetOptions);

impl ParquetCompression {
    fn options(self) -> Result<CompressionOptions> {
        Ok(match self {
            ParquetCompression::Zstd(level) => {
                CompressionOptions::Zstd(Some(ZstdLevel::try_new(i32::from(level.get()))?))
            }
            ParquetCompression::Snappy => CompressionOptions::Snappy,
            ParquetCompression::Lz4 => CompressionOptions::Lz4Raw,
            ParquetCompression::Uncompressed => CompressionOptions::Uncompressed,
        })
    }
}

/// One column under construction.
enum Builder {
    Text(TextColumn),
    Time(Numbers<Int64Type>),
    Date(Numbers<Int32Type>),
    Int(Numbers<Int64Type>),
    Float(Numbers<Float64Type>),
    Flag(BooleanChunkedBuilder),
}

/// A column of numbers (whole numbers, instants, dates, floats) under construction: what
/// polars' `PrimitiveChunkedBuilder` holds, a value per row and a validity bitmap made at the
/// first null, but pushed inline; polars' builder takes a call per value (73 M instructions
/// for 5,000 sessions). It gives polars the same array.
struct Numbers<T: PolarsNumericType> {
    name: &'static str,
    values: Vec<T::Native>,
    /// Which rows hold a value; `None` while none is null.
    valid: Option<MutableBitmap>,
}

impl<T: PolarsNumericType> Numbers<T> {
    fn new(name: &'static str, rows: usize) -> Numbers<T> {
        Numbers {
            name,
            values: Vec::with_capacity(rows),
            valid: None,
        }
    }

    #[inline(always)]
    fn push(&mut self, value: Option<T::Native>) {
        match value {
            Some(value) => {
                self.values.push(value);
                if let Some(valid) = &mut self.valid {
                    valid.push(true);
                }
            }
            None => self.push_null(),
        }
    }

    /// Left a call: nulls are rare.
    #[inline(never)]
    fn push_null(&mut self) {
        let rows = self.values.len();
        let valid = self.valid.get_or_insert_with(|| {
            let mut valid = MutableBitmap::with_capacity(self.values.capacity());
            valid.extend_constant(rows, true);
            valid
        });
        valid.push(false);
        self.values.push(T::Native::default());
    }

    fn finish(self) -> ChunkedArray<T> {
        let name = PlSmallStr::from_static(self.name);
        ChunkedArray::from_vec_validity(name, self.values, self.valid.map(Into::into))
    }
}

impl Builder {
    fn new(column: &ReportColumn, rows: usize) -> Builder {
        let name = column.name;
        match column.ty {
            ColumnType::Text => Builder::Text(TextColumn::with_capacity(rows, !column.nullable)),
            ColumnType::Time => Builder::Time(Numbers::new(name, rows)),
            ColumnType::Date => Builder::Date(Numbers::new(name, rows)),
            ColumnType::Int => Builder::Int(Numbers::new(name, rows)),
            ColumnType::Float => Builder::Float(Numbers::new(name, rows)),
            ColumnType::Flag => Builder::Flag(BooleanChunkedBuilder::new(
                PlSmallStr::from_static(name),
                rows,
            )),
        }
    }

    fn push(&mut self, cell: &Cell<'_>) -> Result<()> {
        match (self, *cell) {
            (Builder::Text(b), Cell::Text(v)) => b.push(v)?,
            (Builder::Time(b), Cell::Time(v)) | (Builder::Int(b), Cell::Int(v)) => b.push(v),
            (Builder::Float(b), Cell::Float(v)) => b.push(v),
            (Builder::Date(b), Cell::Date(v)) => b.push(v),
            (Builder::Flag(b), Cell::Flag(v)) => b.append_value(v),
            (_, cell) => {
                return Err(anyhow!(
                    "internal error: cell {cell:?} does not fit its column"
                ))
            }
        }
        Ok(())
    }

    /// The column as the one Arrow array of its row group.
    fn finish(self) -> Result<Box<dyn Array>> {
        let series = match self {
            Builder::Text(b) => return b.finish(),
            Builder::Time(b) => b
                .finish()
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                .into_series(),
            Builder::Date(b) => b.finish().into_date().into_series(),
            Builder::Int(b) => b.finish().into_series(),
            Builder::Float(b) => b.finish().into_series(),
            Builder::Flag(b) => b.finish().into_series(),
        };
        Ok(series.to_arrow(0, CompatLevel::newest()))
    }
}

fn data_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Text => DataType::String,
        ColumnType::Time => DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)),
        ColumnType::Date => DataType::Date,
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Flag => DataType::Boolean,
    }
}

/// Writes encoded row groups, in order, under a Parquet schema that marks the columns that are
/// never empty as `required`, and ends with a footer that holds no Arrow schema (see the module
/// doc). The [`Encoder`] encodes and compresses them, in parallel: the bytes are those of
/// encoding them one after the other.
struct Sink<W: Write> {
    writer: FileWriter<W>,
}

/// What encoding a row group needs: the Parquet fields, polars' encodings for them, which
/// columns are delta-encoded instead, and the options.
struct Encoder {
    fields: Vec<ParquetType>,
    encodings: Vec<Vec<Encoding>>,
    delta: Vec<bool>,
    options: WriteOptions,
}

/// One row group, encoded and compressed: its rows, and per column its pages.
struct EncodedGroup {
    rows: u64,
    columns: Vec<Vec<CompressedPage>>,
}

/// The pages of one column of an [`EncodedGroup`], handed to the file writer.
struct Pages {
    pages: std::vec::IntoIter<CompressedPage>,
    current: Option<CompressedPage>,
}

impl FallibleStreamingIterator for Pages {
    type Item = CompressedPage;
    type Error = PolarsError;

    fn advance(&mut self) -> Result<(), PolarsError> {
        self.current = self.pages.next();
        Ok(())
    }

    fn get(&self) -> Option<&CompressedPage> {
        self.current.as_ref()
    }
}

impl<W: Write> Sink<W> {
    /// The sink, and the encoder of its row groups.
    fn new(
        columns: &[ReportColumn],
        parquet: ParquetOptions,
        out: W,
    ) -> Result<(Sink<W>, Encoder)> {
        let schema: ArrowSchema = columns
            .iter()
            .map(|c| {
                let name = PlSmallStr::from_static(c.name);
                let dtype = data_type(c.ty).to_arrow(CompatLevel::newest());
                (name.clone(), ArrowField::new(name, dtype, c.nullable))
            })
            .collect();
        let options = WriteOptions {
            statistics: StatisticsOptions::default(),
            compression: parquet.compression.options()?,
            version: Version::V1,
            data_page_size: None,
        };
        let encoder = Encoder {
            fields: to_parquet_schema(&schema)?.fields().to_vec(),
            encodings: get_encodings(&schema).to_vec(),
            delta: columns
                .iter()
                .map(|c| {
                    parquet.integers == ParquetIntegers::Delta
                        && matches!(c.ty, ColumnType::Time | ColumnType::Int | ColumnType::Date)
                })
                .collect(),
            options,
        };
        let sink = Sink {
            writer: FileWriter::try_new(out, schema, options)?,
        };
        Ok((sink, encoder))
    }

    /// Writes the `encoded` row groups in order.
    fn write(&mut self, encoded: Vec<Result<EncodedGroup>>) -> Result<()> {
        for group in encoded {
            let group = group?;
            let columns = DynIter::new(group.columns.into_iter().map(|pages| {
                Ok(DynStreamingIterator::new(Pages {
                    pages: pages.into_iter(),
                    current: None,
                }))
            }));
            self.writer.write(group.rows, columns)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.writer.end(Some(Vec::new()))?;
        Ok(())
    }
}

impl Encoder {
    /// Encodes and compresses `group`, as polars' `RowGroupIterator` does, but into pages held
    /// in memory. A text column is dictionary-encoded when it comes as a dictionary, else plain
    /// (see [`text`]). Whole numbers, instants and dates are delta-encoded with
    /// [`ParquetIntegers::Delta`]; with `Plain`, polars decides, as for any column of its own:
    /// a dictionary when few values repeat, else plain.
    fn encode(&self, group: RowGroup) -> Result<EncodedGroup> {
        let mut columns = Vec::new();
        for (((array, field), encoding), &delta) in group
            .arrays
            .into_iter()
            .zip(&self.fields)
            .zip(&self.encodings)
            .zip(&self.delta)
        {
            let encoding = match array.dtype() {
                // A text column's encoding is `RleDictionary`, which makes polars encode a
                // plain column as a dictionary again: [`TextColumn`] gave it plain because it
                // is not one.
                ArrowDataType::BinaryView => &[Encoding::Plain][..],
                // An empty column gets a page only through polars' dictionary: a column chunk
                // without one declares no codec and no encoding.
                _ if delta && group.rows > 0 => &[Encoding::DeltaBinaryPacked][..],
                _ => encoding,
            };
            for pages in array_to_columns(array, field.clone(), self.options, encoding)? {
                let mut compressed = Vec::new();
                for page in pages {
                    compressed.push(compress(page?, Vec::new(), self.options.compression)?);
                }
                columns.push(compressed);
            }
        }
        Ok(EncodedGroup {
            rows: group.rows as u64,
            columns,
        })
    }
}

/// Rows per row group: the columns of one batch are all the memory the writer holds.
const BATCH_ROWS: usize = 1 << 14;

/// The rows of one row group under construction: `wanted` rows at most.
pub struct Batch {
    builders: Vec<Builder>,
    rows: usize,
    wanted: usize,
}

impl Batch {
    fn new(columns: &[ReportColumn], wanted: usize) -> Batch {
        let builders = columns.iter().map(|c| Builder::new(c, wanted)).collect();
        Batch {
            builders,
            rows: 0,
            wanted,
        }
    }

    pub fn is_full(&self) -> bool {
        self.rows >= self.wanted
    }

    /// Before the rows of another part of the spill: the texts pushed so far are not those its
    /// repeats refer to ([`TextColumn::push_cell`]).
    pub fn forget_repeats(&mut self) {
        for builder in &mut self.builders {
            if let Builder::Text(column) = builder {
                column.forget_repeats();
            }
        }
    }

    /// Appends one row, its cells in column order.
    fn push<'c>(&mut self, cells: impl IntoIterator<Item = Result<Cell<'c>>>) -> Result<()> {
        for (builder, cell) in self.builders.iter_mut().zip(cells) {
            builder.push(&cell?)?;
        }
        self.rows += 1;
        Ok(())
    }

    /// Appends one row, each cell read as its column's builder needs it. Inlined into the loop
    /// that decodes them ([`super::spill::decode_into_batch`]): no cell is made in between, and
    /// one match per cell picks both how it is read and where it goes.
    #[inline(always)]
    pub fn push_typed<'c>(&mut self, cells: &mut impl TypedCells<'c>) -> Result<()> {
        for (column, builder) in self.builders.iter_mut().enumerate() {
            match builder {
                Builder::Text(b) => b.push_cell(cells.text(column)?)?,
                Builder::Time(b) => b.push(cells.time()?),
                Builder::Int(b) => b.push(cells.int()?),
                Builder::Date(b) => b.push(cells.date()?),
                Builder::Float(b) => b.push(cells.float()?),
                Builder::Flag(b) => b.append_value(cells.flag()?),
            }
        }
        self.rows += 1;
        Ok(())
    }

    fn finish(self) -> Result<RowGroup> {
        let arrays = self.builders.into_iter().map(Builder::finish);
        Ok(RowGroup {
            rows: self.rows,
            arrays: arrays.collect::<Result<_>>()?,
        })
    }
}

/// The columns of one row group, an Arrow array each.
struct RowGroup {
    rows: usize,
    arrays: Vec<Box<dyn Array>>,
}

impl Format for Parquet {
    fn extension(&self) -> &'static str {
        "parquet"
    }

    /// Builds, encodes and compresses the row groups on the pool, a few per thread at a time,
    /// and writes them in order while the next few are built. The row groups are those of
    /// reading the rows one by one: every [`BATCH_ROWS`] rows, whatever the threads.
    fn write(&self, table: &(dyn Table + Sync), out: &mut (dyn Write + Send)) -> Result<()> {
        let (mut sink, encoder) = Sink::new(table.spec().columns, self.0, out)?;
        let starts = row_group_starts(table)?;
        let frames = starts.frames.len();
        let window = 2 * rayon::current_num_threads();
        let encode_window = |first: usize| -> Vec<Result<EncodedGroup>> {
            (first..frames.min(first + window))
                .into_par_iter()
                .map(|frame| encoder.encode(build_row_group(table, &starts, frame)?))
                .collect()
        };
        let mut encoded = Vec::new();
        for first in (0..frames).step_by(window) {
            let (written, next) = rayon::join(
                || sink.write(std::mem::take(&mut encoded)),
                || encode_window(first),
            );
            written?;
            encoded = next;
        }
        sink.write(encoded)?;
        sink.finish()
    }
}

/// Where each row group of a table starts: the group (of the table's groups) holding its first
/// row, and the rows of that group before it. There is always one (empty when the table is).
struct RowGroupStarts {
    frames: Vec<(usize, usize)>,
    rows: usize,
    groups: usize,
}

fn row_group_starts(table: &dyn Table) -> Result<RowGroupStarts> {
    let mut frames = Vec::new();
    let mut rows = 0;
    for block in group_blocks(table.group_count()) {
        for (group, count) in block.clone().zip(table.group_rows_in(block)?) {
            // The row groups that start within this group's rows.
            while frames.len() * BATCH_ROWS < rows + count {
                frames.push((group, frames.len() * BATCH_ROWS - rows));
            }
            rows += count;
        }
    }
    if frames.is_empty() {
        frames.push((0, 0));
    }
    Ok(RowGroupStarts {
        frames,
        rows,
        groups: table.group_count(),
    })
}

/// The rows of row group `frame`.
fn build_row_group(table: &dyn Table, starts: &RowGroupStarts, frame: usize) -> Result<RowGroup> {
    let (first_group, mut skip) = starts.frames[frame];
    let wanted = BATCH_ROWS.min(starts.rows - frame * BATCH_ROWS);
    // Up to the group where the next row group starts, included when it starts inside it.
    let end_group = match starts.frames.get(frame + 1) {
        Some(&(group, 0)) => group,
        Some(&(group, _)) => group + 1,
        None => starts.groups,
    };
    let mut batch = Batch::new(table.spec().columns, wanted);
    if !table.parquet_rows(first_group..end_group, skip, &mut batch)? {
        table.for_each_row_in(first_group..end_group, &mut |cells| {
            if skip > 0 {
                skip -= 1;
            } else if !batch.is_full() {
                batch.push(cells.iter().copied().map(Ok))?;
            }
            Ok(())
        })?;
    }
    batch.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::Numbered;

    #[test]
    fn numbers_make_the_array_polars_builder_makes() {
        let cases: [&[Option<i64>]; 5] = [
            &[],
            &[Some(1), Some(-2), Some(i64::MAX)],
            &[None, Some(3)],
            &[Some(4), Some(5), None, Some(6), None],
            &[None, None],
        ];
        for case in cases {
            let mut ours = Numbers::<Int64Type>::new("n", 0);
            let mut polars = PrimitiveChunkedBuilder::<Int64Type>::new("n".into(), 0);
            for &value in case {
                ours.push(value);
                polars.append_option(value);
            }
            let (ours, polars) = (ours.finish(), polars.finish());
            assert_eq!(ours.name(), polars.name());
            assert_eq!(ours.dtype(), polars.dtype());
            let (ours, polars) = (
                ours.into_series().to_arrow(0, CompatLevel::newest()),
                polars.into_series().to_arrow(0, CompatLevel::newest()),
            );
            assert_eq!(ours, polars, "{case:?}");
            assert_eq!(ours.validity(), polars.validity(), "{case:?}");
            assert_eq!(ours.dtype(), polars.dtype(), "{case:?}");
        }
    }

    /// The rows of each frame, as built in parallel.
    fn frames_of(sizes: &[usize]) -> Vec<Vec<i64>> {
        let table = Numbered(sizes.to_vec());
        let starts = row_group_starts(&table).unwrap();
        (0..starts.frames.len())
            .map(|frame| {
                let group = build_row_group(&table, &starts, frame).unwrap();
                let column = group.arrays[0]
                    .as_any()
                    .downcast_ref::<polars_arrow::array::PrimitiveArray<i64>>()
                    .unwrap();
                column.values().iter().copied().collect()
            })
            .collect()
    }

    /// Ten row groups, written in windows of 2 (1 thread) and of 8 (4 threads): the same
    /// bytes, and every row read back once, in order.
    #[test]
    fn the_file_is_the_same_whatever_the_windows() {
        let total = 10 * BATCH_ROWS - 3;
        let table = Numbered(vec![total / 3, total - total / 3]);
        let written = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut out = Vec::new();
            let parquet = Parquet::default();
            pool.install(|| parquet.write(&table, &mut out)).unwrap();
            out
        };
        let bytes = written(1);
        assert_eq!(bytes, written(4));
        let frame = ParquetReader::new(std::io::Cursor::new(bytes))
            .finish()
            .unwrap();
        let rows: Vec<i64> = frame
            .column("row")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(rows, (0..total as i64).collect::<Vec<_>>());
    }

    /// The vendored writer encodes each column chunk's indexes as its row group is written
    /// (vendor/README.md): each must still describe its own row group.
    #[test]
    fn the_page_index_locates_each_row_groups_pages_and_values() {
        use polars_parquet_format::thrift::protocol::TCompactInputProtocol;
        use polars_parquet_format::{ColumnIndex, OffsetIndex};
        let table = Numbered(vec![3 * BATCH_ROWS + 11]);
        let mut bytes = Vec::new();
        Parquet(ParquetOptions {
            compression: ParquetCompression::Uncompressed,
            ..Default::default()
        })
        .write(&table, &mut bytes)
        .unwrap();
        let meta = polars_parquet::read::read_metadata(&mut std::io::Cursor::new(&bytes)).unwrap();
        assert_eq!(meta.row_groups.len(), 4);
        let at = |offset: Option<i64>, length: Option<i32>| {
            let start = offset.unwrap() as usize;
            &bytes[start..start + length.unwrap() as usize]
        };
        let mut first_row = 0i64;
        for group in &meta.row_groups {
            let chunk = group.parquet_columns().first().unwrap();
            let mut slice = at(chunk.offset_index_offset(), chunk.offset_index_length());
            let offsets = OffsetIndex::read_from_in_protocol(&mut TCompactInputProtocol::new(
                &mut slice,
                1 << 20,
            ))
            .unwrap();
            let first_page = offsets.page_locations.first().unwrap();
            assert_eq!(first_page.offset, chunk.data_page_offset());
            assert_eq!(first_page.first_row_index, 0);
            let mut slice = at(chunk.column_index_offset(), chunk.column_index_length());
            let values = ColumnIndex::read_from_in_protocol(&mut TCompactInputProtocol::new(
                &mut slice,
                1 << 20,
            ))
            .unwrap();
            let last_row = first_row + group.num_rows() as i64 - 1;
            assert_eq!(values.min_values.first().unwrap(), &first_row.to_le_bytes());
            assert_eq!(values.max_values.last().unwrap(), &last_row.to_le_bytes());
            first_row = last_row + 1;
        }
        assert_eq!(first_row, (3 * BATCH_ROWS + 11) as i64);
    }

    /// Each codec is the one every column chunk declares, a zstd level is the one used (a
    /// higher one writes fewer bytes here), and every codec reads back the same rows.
    #[test]
    fn each_compression_is_written_as_asked() {
        use polars_parquet::parquet::compression::Compression;
        let table = Numbered(vec![3 * BATCH_ROWS + 11]);
        // Plain integers: delta-encoded, rising numbers leave no codec anything to do.
        let write = |compression| {
            let mut out = Vec::new();
            Parquet(ParquetOptions {
                compression,
                integers: ParquetIntegers::Plain,
            })
            .write(&table, &mut out)
            .unwrap();
            out
        };
        let zstd = |level| ParquetCompression::Zstd(crate::report::ZstdLevel::new(level).unwrap());
        let mut sizes = Vec::new();
        for (compression, codec) in [
            (zstd(1), Compression::Zstd),
            (zstd(19), Compression::Zstd),
            (ParquetCompression::Snappy, Compression::Snappy),
            (ParquetCompression::Lz4, Compression::Lz4Raw),
            (ParquetCompression::Uncompressed, Compression::Uncompressed),
        ] {
            let bytes = write(compression);
            let meta =
                polars_parquet::read::read_metadata(&mut std::io::Cursor::new(&bytes)).unwrap();
            assert_eq!(meta.row_groups.len(), 4);
            for group in &meta.row_groups {
                for chunk in group.parquet_columns() {
                    assert_eq!(chunk.compression(), codec, "{compression}");
                }
            }
            let frame = ParquetReader::new(std::io::Cursor::new(&bytes))
                .finish()
                .unwrap();
            let rows = frame.column("row").unwrap().i64().unwrap();
            assert!(rows.into_no_null_iter().eq(0..(3 * BATCH_ROWS + 11) as i64));
            sizes.push(bytes.len());
        }
        assert!(
            sizes[1] < sizes[0],
            "zstd:19 {} zstd:1 {}",
            sizes[1],
            sizes[0]
        );
        assert!(sizes[0] < sizes[4], "zstd:1 {} none {}", sizes[0], sizes[4]);
    }

    /// `zstd:3` compresses as polars' default does (zstd without a level: zstd's own default,
    /// 3), so it writes the files written before `--parquet-compression` came, as
    /// docs/reference.md says.
    #[test]
    fn zstd_level_3_is_the_writers_old_default() {
        use polars_parquet::parquet::compression::compress;
        let page: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 977).to_le_bytes())
            .collect();
        let compressed = |options| {
            let mut out = Vec::new();
            compress(options, &page, &mut out).unwrap();
            out
        };
        let level = |level| ParquetCompression::Zstd(crate::report::ZstdLevel::new(level).unwrap());
        let old_default = compressed(CompressionOptions::Zstd(None));
        assert_eq!(compressed(level(3).options().unwrap()), old_default);
        assert_ne!(compressed(level(1).options().unwrap()), old_default);
    }

    /// The vendored `compress` keeps one zstd compressor per thread (vendor/README.md): what it
    /// writes is what a new compressor writes (one on a thread of its own), whatever came
    /// before on the thread and at whatever level, and it appends to what the buffer holds.
    #[test]
    fn a_reused_zstd_compressor_writes_what_a_new_one_writes() {
        use polars_parquet::parquet::compression::compress;
        let pages: [Vec<u8>; 2] = [
            (0..200_000u32)
                .flat_map(|i| (i % 977).to_le_bytes())
                .collect(),
            (0..50_000u32)
                .flat_map(|i| (i * 7919).to_le_bytes())
                .collect(),
        ];
        let compressed = |level: i32, page: &[u8], held: &[u8]| {
            let mut out = held.to_vec();
            let level = ZstdLevel::try_new(level).unwrap();
            compress(CompressionOptions::Zstd(Some(level)), page, &mut out).unwrap();
            out
        };
        let on_a_new_thread = |level: i32, page: usize| {
            let page = pages[page].clone();
            std::thread::spawn(move || compressed(level, &page, &[]))
                .join()
                .unwrap()
        };
        for (level, page, held) in [(1, 0, &b""[..]), (1, 1, b""), (3, 0, b""), (1, 1, b"held")] {
            let mut expected = held.to_vec();
            expected.extend(on_a_new_thread(level, page));
            let reused = compressed(level, &pages[page], held);
            assert_eq!(reused, expected, "level {level}, page {page}");
        }
    }

    /// A text column built by [`TextColumn`] is written to the byte as polars writes the same
    /// texts handed to it plain (it then estimates their distinct count and builds the
    /// dictionary itself), and reads back as they were. Each case says whether it makes a
    /// dictionary.
    #[test]
    fn text_columns_are_written_as_polars_writes_them() {
        use polars_arrow::array::Utf8ViewArray;
        const TEXT: &[ReportColumn] = &[ReportColumn {
            name: "t",
            ty: ColumnType::Text,
            nullable: true,
        }];
        let file = |array: Box<dyn Array>| {
            let mut out = Vec::new();
            let (mut sink, encoder) = Sink::new(
                TEXT,
                ParquetOptions {
                    compression: ParquetCompression::Uncompressed,
                    ..Default::default()
                },
                &mut out,
            )
            .unwrap();
            let rows = array.len();
            let group = encoder.encode(RowGroup {
                rows,
                arrays: vec![array],
            });
            sink.write(vec![group]).unwrap();
            sink.finish().unwrap();
            out
        };
        let pool = [
            "s-0001",
            "",
            "a room with a name longer than twelve bytes",
            "José",
            "s-0002",
        ];
        let texts = |rows: usize, text: &dyn Fn(usize) -> Option<String>| -> Vec<Option<String>> {
            (0..rows).map(text).collect()
        };
        let cases: [(&str, Vec<Option<String>>, bool); 11] = [
            (
                "runs of 50 repeats, recurring apart, every 7th row null",
                texts(5000, &|i| {
                    (i % 7 != 3).then(|| pool[(i / 50 + i / 1000) % pool.len()].to_string())
                }),
                true,
            ),
            (
                "all distinct, every 10th row null",
                texts(1000, &|i| (i % 10 != 0).then(|| format!("person-{i}"))),
                false,
            ),
            (
                "128 rows, all distinct",
                texts(128, &|i| Some(format!("p{i}"))),
                true,
            ),
            (
                "129 rows, all distinct",
                texts(129, &|i| Some(format!("p{i}"))),
                false,
            ),
            (
                "60 % distinct",
                texts(1000, &|i| Some(format!("p{}", i % 600))),
                true,
            ),
            (
                "748 distinct of 1,000 rows, estimated 749",
                texts(1000, &|i| Some(format!("p{}", i % 748))),
                true,
            ),
            (
                "750 distinct of 1,000 rows, exactly three quarters, but estimated 751",
                texts(1000, &|i| Some(format!("p{}", i % 750))),
                false,
            ),
            (
                "749 distinct and a null, which polars counts as one more: estimated 751",
                texts(1000, &|i| (i != 999).then(|| format!("p{}", i % 749))),
                false,
            ),
            (
                "16,384 distinct texts of 100 bytes: several pages",
                texts(BATCH_ROWS, &|i| Some(format!("{i:0>100}"))),
                false,
            ),
            ("all null", vec![None; 300], true),
            ("no rows", Vec::new(), true),
        ];
        for (case, texts, dictionary) in cases {
            let mut ours = TextColumn::with_capacity(texts.len(), false);
            for text in &texts {
                ours.push(text.as_deref().map(str::as_bytes)).unwrap();
            }
            let ours = ours.finish().unwrap();
            let is_dictionary = matches!(ours.dtype(), ArrowDataType::Dictionary(..));
            assert_eq!(is_dictionary, dictionary, "{case}");
            let polars_own = Utf8ViewArray::from_slice(&texts);
            let bytes = file(ours);
            assert!(bytes == file(polars_own.boxed()), "{case}");
            let back = ParquetReader::new(std::io::Cursor::new(bytes))
                .finish()
                .unwrap();
            let back: Vec<Option<String>> = back
                .column("t")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|text| text.map(str::to_string))
                .collect();
            assert_eq!(back, texts, "{case}");
        }
    }

    /// Each column chunk's encodings, as the file's footer declares them, by column name.
    fn chunk_encodings(bytes: &[u8]) -> Vec<(String, Vec<polars_parquet_format::Encoding>)> {
        use polars_parquet_format::thrift::protocol::TCompactInputProtocol;
        let end = bytes.len() - 8;
        let footer_len = u32::from_le_bytes(bytes[end..end + 4].try_into().unwrap()) as usize;
        let mut footer = &bytes[end - footer_len..end];
        let meta = polars_parquet_format::FileMetaData::read_from_in_protocol(
            &mut TCompactInputProtocol::new(&mut footer, 1 << 20),
        )
        .unwrap();
        meta.row_groups
            .iter()
            .flat_map(|group| &group.columns)
            .map(|chunk| {
                let meta = chunk.meta_data.as_ref().unwrap();
                (meta.path_in_schema.join("."), meta.encodings.clone())
            })
            .collect()
    }

    /// A table of one column of each kind but flags, in one group: rising instants, whole
    /// numbers of both signs with the extremes of `i64` among them, few distinct dates, and
    /// nulls in each.
    struct Kinds(usize);

    static KINDS: crate::report::TableSpec = crate::report::TableSpec {
        name: "kinds",
        columns: &[
            ReportColumn {
                name: "at",
                ty: ColumnType::Time,
                nullable: true,
            },
            ReportColumn {
                name: "ms",
                ty: ColumnType::Int,
                nullable: true,
            },
            ReportColumn {
                name: "day",
                ty: ColumnType::Date,
                nullable: true,
            },
            ReportColumn {
                name: "share",
                ty: ColumnType::Float,
                nullable: false,
            },
            ReportColumn {
                name: "who",
                ty: ColumnType::Text,
                nullable: false,
            },
        ],
    };

    impl Kinds {
        fn at(i: usize) -> Option<i64> {
            (i % 9 != 4).then(|| 1_700_000_000_000 + 1000 * i as i64 + (i % 13) as i64 * 7)
        }
        fn ms(i: usize) -> Option<i64> {
            match i {
                17 => Some(i64::MAX),
                18 => Some(i64::MIN),
                19 => Some(i64::MAX),
                _ => (!i.is_multiple_of(11)).then(|| (i * 7919 % 100_003) as i64 - 50_000),
            }
        }
        fn day(i: usize) -> Option<i32> {
            (!i.is_multiple_of(13)).then(|| {
                if i == 3 {
                    -719_162
                } else {
                    19_000 + (i / 500) as i32
                }
            })
        }
    }

    impl Table for Kinds {
        fn spec(&self) -> &'static crate::report::TableSpec {
            &KINDS
        }
        fn row_count(&self) -> usize {
            self.0
        }
        fn group_count(&self) -> usize {
            1
        }
        fn group_rows_in(&self, groups: std::ops::Range<usize>) -> Result<Vec<usize>> {
            Ok(groups.map(|g| if g == 0 { self.0 } else { 0 }).collect())
        }
        fn for_each_row_in(
            &self,
            groups: std::ops::Range<usize>,
            emit: &mut dyn FnMut(&[Cell<'_>]) -> Result<()>,
        ) -> Result<()> {
            if !groups.contains(&0) {
                return Ok(());
            }
            (0..self.0).try_for_each(|i| Kinds::emit_row(i, emit))
        }
    }

    impl Kinds {
        fn emit_row(i: usize, emit: &mut dyn FnMut(&[Cell<'_>]) -> Result<()>) -> Result<()> {
            let who = format!("p{}", i % 50);
            emit(&[
                Cell::Time(Kinds::at(i)),
                Cell::Int(Kinds::ms(i)),
                Cell::Date(Kinds::day(i)),
                Cell::Float(Some(i as f64 / 3.0)),
                Cell::Text(Some(who.as_bytes())),
            ])
        }
    }

    /// A table in the spill is decoded straight into the columns ([`Table::parquet_rows`]):
    /// its file is the one its rows write through [`Table::for_each_row_in`], with row groups
    /// that start and end inside a session's part, and an empty part among them.
    #[test]
    fn a_spilled_table_writes_the_file_its_rows_write() {
        use crate::report::spill::{encode_rows, Spill, SpilledTable};
        let rows = 2 * BATCH_ROWS + 1000;
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create_in(dir.path()).unwrap();
        let mut parts = Vec::new();
        let mut first = 0;
        for size in [7000, 0, 9000, 5000, 5000, rows - 26_000] {
            let mut bytes = Vec::new();
            let rows_of_part = first..first + size;
            let mut part = encode_rows(
                KINDS.columns,
                |emit| {
                    rows_of_part
                        .into_iter()
                        .try_for_each(|i| Kinds::emit_row(i, emit))
                },
                &mut bytes,
            )
            .unwrap();
            part.offset = spill.append(&bytes).unwrap();
            parts.push(part);
            first += size;
        }
        spill.finish_writing().unwrap();
        let spilled = SpilledTable {
            spec: &KINDS,
            spill: &spill,
            groups: parts.len(),
            rows,
            parts: Box::new(move |groups| Ok(parts[groups].to_vec())),
        };
        let mut batch = Batch::new(KINDS.columns, 1);
        assert!(spilled.parquet_rows(0..1, 0, &mut batch).unwrap());
        assert!(batch.is_full());
        for integers in [ParquetIntegers::Delta, ParquetIntegers::Plain] {
            let file = |table: &(dyn Table + Sync)| {
                let mut out = Vec::new();
                Parquet(ParquetOptions {
                    integers,
                    ..Default::default()
                })
                .write(table, &mut out)
                .unwrap();
                out
            };
            assert!(file(&spilled) == file(&Kinds(rows)), "{integers}");
        }
    }

    /// A text the spill marks as a repeat of the row above comes back as that text, also
    /// into a batch that already holds another part's rows, from a part whose first row is
    /// skipped: its repeat then refers to a text the batch never saw.
    #[test]
    fn a_repeated_text_comes_back_as_itself_after_a_skipped_row() {
        use crate::report::spill::{decode_into_batch, encode_rows};
        use polars_arrow::array::{BinaryViewArray, DictionaryArray};
        const TEXT: &[ReportColumn] = &[ReportColumn {
            name: "t",
            ty: ColumnType::Text,
            nullable: false,
        }];
        let part = |texts: [&str; 2]| {
            let mut bytes = Vec::new();
            encode_rows(
                TEXT,
                |emit| {
                    texts
                        .iter()
                        .try_for_each(|text| emit(&[Cell::Text(Some(text.as_bytes()))]))
                },
                &mut bytes,
            )
            .unwrap();
            bytes
        };
        let mut batch = Batch::new(TEXT, 3);
        decode_into_batch(TEXT, &part(["a", "a"]), &mut 0, &mut batch).unwrap();
        decode_into_batch(TEXT, &part(["b", "b"]), &mut 1, &mut batch).unwrap();
        assert!(batch.is_full());
        let group = batch.finish().unwrap();
        let column = group.arrays[0]
            .as_any()
            .downcast_ref::<DictionaryArray<u32>>()
            .unwrap();
        let values = column
            .values()
            .as_any()
            .downcast_ref::<BinaryViewArray>()
            .unwrap();
        let texts: Vec<&[u8]> = column
            .keys()
            .values_iter()
            .map(|&key| values.value(key as usize))
            .collect();
        assert_eq!(texts, [b"a", b"a", b"b"]);
    }

    /// `--parquet-integers`: instants, whole numbers and dates are delta-encoded, or left to
    /// polars' choice (a dictionary for the few dates, plain for the rest); floats and text
    /// are written the same either way; and both files read back every value, nulls and the
    /// extremes of `i64` included, across three row groups.
    #[test]
    fn integers_are_encoded_as_asked_and_read_back_the_same() {
        use polars_parquet_format::Encoding as E;
        // The last row group is larger than 128 rows, which polars always gives a dictionary.
        let rows = 2 * BATCH_ROWS + 1000;
        let table = Kinds(rows);
        for integers in [ParquetIntegers::Delta, ParquetIntegers::Plain] {
            let mut bytes = Vec::new();
            Parquet(ParquetOptions {
                integers,
                ..Default::default()
            })
            .write(&table, &mut bytes)
            .unwrap();
            let chunks = chunk_encodings(&bytes);
            assert_eq!(chunks.len(), 3 * KINDS.columns.len());
            for (column, encodings) in &chunks {
                let delta = encodings.contains(&E::DELTA_BINARY_PACKED);
                let dictionary = encodings.contains(&E::RLE_DICTIONARY);
                match column.as_str() {
                    "at" | "ms" | "day" if integers == ParquetIntegers::Delta => {
                        assert!(delta && !dictionary, "{column}: {encodings:?}")
                    }
                    "day" => assert!(dictionary && !delta, "{column}: {encodings:?}"),
                    "at" | "ms" => assert!(!delta && !dictionary, "{column}: {encodings:?}"),
                    "share" => assert!(!delta && !dictionary, "{column}: {encodings:?}"),
                    _ => assert!(dictionary && !delta, "{column}: {encodings:?}"),
                }
            }
            let frame = ParquetReader::new(std::io::Cursor::new(bytes))
                .finish()
                .unwrap();
            let column = |name: &str, ty: DataType| frame.column(name).unwrap().cast(&ty).unwrap();
            let at: Vec<_> = column("at", DataType::Int64)
                .i64()
                .unwrap()
                .iter()
                .collect();
            let ms: Vec<_> = column("ms", DataType::Int64)
                .i64()
                .unwrap()
                .iter()
                .collect();
            let day: Vec<_> = column("day", DataType::Int32)
                .i32()
                .unwrap()
                .iter()
                .collect();
            assert_eq!(
                at,
                (0..rows).map(Kinds::at).collect::<Vec<_>>(),
                "{integers}"
            );
            assert_eq!(
                ms,
                (0..rows).map(Kinds::ms).collect::<Vec<_>>(),
                "{integers}"
            );
            assert_eq!(
                day,
                (0..rows).map(Kinds::day).collect::<Vec<_>>(),
                "{integers}"
            );
            let shares = frame.column("share").unwrap().f64().unwrap();
            assert!(shares
                .into_no_null_iter()
                .eq((0..rows).map(|i| i as f64 / 3.0)));
        }
    }

    /// A required text column refuses a null rather than writing a file that lies about it.
    #[test]
    fn a_required_text_column_refuses_a_null() {
        let mut column = TextColumn::with_capacity(2, true);
        column.push(Some(b"s-1")).unwrap();
        let error = column.push(None).unwrap_err();
        assert!(error.to_string().contains("internal error"), "{error}");
    }

    /// Across the blocks whose rows are asked at once (65,536 groups), the row groups start
    /// where one long loop over the groups would start them.
    #[test]
    fn row_groups_are_cut_across_blocks_of_groups() {
        let sizes: Vec<usize> = (0..70_000).map(|g| g % 7).collect();
        let starts = row_group_starts(&Numbered(sizes.clone())).unwrap();
        let mut expected = Vec::new();
        let mut rows = 0;
        for (group, &count) in sizes.iter().enumerate() {
            while expected.len() * BATCH_ROWS < rows + count {
                expected.push((group, expected.len() * BATCH_ROWS - rows));
            }
            rows += count;
        }
        assert_eq!(starts.frames, expected);
        assert_eq!(starts.rows, rows);
    }

    #[test]
    fn row_groups_are_cut_every_batch_of_rows_whatever_the_groups() {
        let b = BATCH_ROWS;
        for sizes in [
            vec![],
            vec![0, 0],
            vec![3],
            vec![b],
            vec![b, b],
            vec![b - 1, 2, 0, b + 5],
            vec![10_000, 10_000, 0, 20_000, 5],
            vec![3 * b + 7],
        ] {
            let total: usize = sizes.iter().sum();
            let frames = frames_of(&sizes);
            let expected: Vec<Vec<i64>> = if total == 0 {
                vec![Vec::new()]
            } else {
                (0..total as i64)
                    .collect::<Vec<_>>()
                    .chunks(b)
                    .map(<[i64]>::to_vec)
                    .collect()
            };
            assert_eq!(frames, expected, "groups of {sizes:?}");
        }
    }
}
