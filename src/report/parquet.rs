//! Parquet through polars: timestamps `Datetime(ms, UTC)`, dates `Date`, counts and durations
//! `Int64`, ratios `Float64`, flags `Boolean`, text `String`. Columns are built straight from
//! the rows with polars' typed builders, one row group of at most 16,384 rows at a time (the
//! memory a Parquet report holds).
//!
//! Every reader must be able to join on our text columns, so the file carries no Arrow schema
//! of polars' newest flavour (which makes pyarrow and pandas read text as `string_view`, which
//! they cannot join or sort): readers take the types from the Parquet schema itself (UTF-8
//! strings, `TIMESTAMP(MILLIS, UTC)`, `DATE`), where columns that are never empty are
//! `required`.
use super::{Cell, Column as ReportColumn, ColumnType, Format, Table};
use anyhow::{anyhow, Result};
use polars::io::parquet::write::{get_encodings, ParquetCompression, StatisticsOptions};
use polars::prelude::*;
use polars_parquet::write::{FileWriter, RowGroupIterator, Version, WriteOptions};
use std::io::Write;

pub struct Parquet;

/// One column under construction.
enum Builder {
    Text(StringChunkedBuilder),
    Time(PrimitiveChunkedBuilder<Int64Type>),
    Date(PrimitiveChunkedBuilder<Int32Type>),
    Int(PrimitiveChunkedBuilder<Int64Type>),
    Float(PrimitiveChunkedBuilder<Float64Type>),
    Flag(BooleanChunkedBuilder),
}

impl Builder {
    fn new(column: &ReportColumn, rows: usize) -> Builder {
        let name = PlSmallStr::from_static(column.name);
        match column.ty {
            ColumnType::Text => Builder::Text(StringChunkedBuilder::new(name, rows)),
            ColumnType::Time => Builder::Time(PrimitiveChunkedBuilder::new(name, rows)),
            ColumnType::Date => Builder::Date(PrimitiveChunkedBuilder::new(name, rows)),
            ColumnType::Int => Builder::Int(PrimitiveChunkedBuilder::new(name, rows)),
            ColumnType::Float => Builder::Float(PrimitiveChunkedBuilder::new(name, rows)),
            ColumnType::Flag => Builder::Flag(BooleanChunkedBuilder::new(name, rows)),
        }
    }

    fn push(&mut self, cell: &Cell<'_>) -> Result<()> {
        match (self, *cell) {
            (Builder::Text(b), Cell::Text(v)) => {
                let text = v.map(std::str::from_utf8).transpose();
                b.append_option(
                    text.map_err(|_| anyhow!("internal error: report text is not UTF-8"))?,
                )
            }
            (Builder::Time(b), Cell::Time(v)) | (Builder::Int(b), Cell::Int(v)) => {
                b.append_option(v)
            }
            (Builder::Float(b), Cell::Float(v)) => b.append_option(v),
            (Builder::Date(b), Cell::Date(v)) => b.append_option(v),
            (Builder::Flag(b), Cell::Flag(v)) => b.append_value(v),
            (_, cell) => {
                return Err(anyhow!(
                    "internal error: cell {cell:?} does not fit its column"
                ))
            }
        }
        Ok(())
    }

    fn finish(self) -> polars::prelude::Column {
        match self {
            Builder::Text(b) => b.finish().into_column(),
            Builder::Time(b) => b
                .finish()
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                .into_column(),
            Builder::Date(b) => b.finish().into_date().into_column(),
            Builder::Int(b) => b.finish().into_column(),
            Builder::Float(b) => b.finish().into_column(),
            Builder::Flag(b) => b.finish().into_column(),
        }
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

/// Writes frames as row groups under a Parquet schema that marks the columns that are never
/// empty as `required`, and ends with a footer that holds no Arrow schema (see the module doc).
struct Sink<W: Write> {
    writer: FileWriter<W>,
    schema: ArrowSchema,
    options: WriteOptions,
}

impl<W: Write> Sink<W> {
    fn new(columns: &[ReportColumn], out: W) -> Result<Sink<W>> {
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
            compression: ParquetCompression::default().into(),
            version: Version::V1,
            data_page_size: None,
        };
        Ok(Sink {
            writer: FileWriter::try_new(out, schema.clone(), options)?,
            schema,
            options,
        })
    }

    /// Writes `frame` as one row group per chunk.
    fn write(&mut self, frame: &DataFrame) -> Result<()> {
        for batch in frame.iter_chunks(CompatLevel::newest(), false) {
            let rows = batch.len() as u64;
            let mut groups = RowGroupIterator::try_new(
                std::iter::once(Ok(batch)),
                &self.schema,
                self.options,
                get_encodings(&self.schema),
            )?;
            if let Some(group) = groups.next() {
                self.writer.write(rows, group?)?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.writer.end(Some(Vec::new()))?;
        Ok(())
    }
}

/// Rows per row group: the columns of one batch are all the memory the writer holds.
const BATCH_ROWS: usize = 1 << 14;

/// The rows of one row group under construction.
struct Batch {
    columns: &'static [ReportColumn],
    builders: Vec<Builder>,
    rows: usize,
}

impl Batch {
    fn new(columns: &'static [ReportColumn], capacity: usize) -> Batch {
        let builders = columns.iter().map(|c| Builder::new(c, capacity)).collect();
        Batch {
            columns,
            builders,
            rows: 0,
        }
    }

    fn push(&mut self, cells: &[Cell<'_>]) -> Result<()> {
        self.builders
            .iter_mut()
            .zip(cells)
            .try_for_each(|(builder, cell)| builder.push(cell))?;
        self.rows += 1;
        Ok(())
    }

    /// The batch as a frame; `self` starts over empty.
    fn take_frame(&mut self, capacity: usize) -> Result<DataFrame> {
        let full = std::mem::replace(self, Batch::new(self.columns, capacity));
        let columns = full.builders.into_iter().map(Builder::finish).collect();
        Ok(DataFrame::new(full.rows, columns)?)
    }
}

impl Format for Parquet {
    fn extension(&self) -> &'static str {
        "parquet"
    }

    fn write(&self, table: &(dyn Table + Sync), out: &mut dyn Write) -> Result<()> {
        let columns = table.spec().columns;
        let mut writer = Sink::new(columns, out)?;
        let capacity = table.row_count().min(BATCH_ROWS);
        let mut batch = Batch::new(columns, capacity);
        let mut written = 0;
        table.for_each_row(&mut |cells| {
            batch.push(cells)?;
            if batch.rows == BATCH_ROWS {
                writer.write(&batch.take_frame(capacity)?)?;
                written += BATCH_ROWS;
            }
            Ok(())
        })?;
        if batch.rows > 0 || written == 0 {
            writer.write(&batch.take_frame(0)?)?;
        }
        writer.finish()?;
        Ok(())
    }
}
