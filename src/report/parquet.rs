//! Parquet through polars: timestamps `Datetime(ms, UTC)`, counts and durations `Int64`,
//! ratios `Float64`, flags `Boolean`, text `String`. Columns are built straight from the
//! rows with polars' typed builders.
use super::{Cell, Column as ReportColumn, Format, Kind, Table};
use anyhow::{anyhow, Result};
use polars::prelude::*;
use std::io::Write;

pub struct Parquet;

/// One column under construction.
enum Builder {
    Text(StringChunkedBuilder),
    Time(PrimitiveChunkedBuilder<Int64Type>),
    Int(PrimitiveChunkedBuilder<Int64Type>),
    Float(PrimitiveChunkedBuilder<Float64Type>),
    Flag(BooleanChunkedBuilder),
}

impl Builder {
    fn new(column: &ReportColumn, rows: usize) -> Builder {
        let name = PlSmallStr::from_static(column.name);
        match column.kind {
            Kind::Text => Builder::Text(StringChunkedBuilder::new(name, rows)),
            Kind::Time => Builder::Time(PrimitiveChunkedBuilder::new(name, rows)),
            Kind::Int => Builder::Int(PrimitiveChunkedBuilder::new(name, rows)),
            Kind::Float => Builder::Float(PrimitiveChunkedBuilder::new(name, rows)),
            Kind::Flag => Builder::Flag(BooleanChunkedBuilder::new(name, rows)),
        }
    }

    fn push(&mut self, cell: &Cell<'_>) -> Result<()> {
        match (self, *cell) {
            (Builder::Text(b), Cell::Text(v)) => b.append_option(v),
            (Builder::Time(b), Cell::Time(v)) | (Builder::Int(b), Cell::Int(v)) => {
                b.append_option(v)
            }
            (Builder::Float(b), Cell::Float(v)) => b.append_option(v),
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
            Builder::Int(b) => b.finish().into_column(),
            Builder::Float(b) => b.finish().into_column(),
            Builder::Flag(b) => b.finish().into_column(),
        }
    }
}

impl Format for Parquet {
    fn extension(&self) -> &'static str {
        "parquet"
    }

    fn write(&self, table: &dyn Table, out: &mut dyn Write) -> Result<()> {
        let rows = table.row_count();
        let mut builders: Vec<Builder> = table
            .columns()
            .iter()
            .map(|c| Builder::new(c, rows))
            .collect();
        table.for_each_row(&mut |cells| {
            builders
                .iter_mut()
                .zip(cells)
                .try_for_each(|(builder, cell)| builder.push(cell))
        })?;
        let columns = builders.into_iter().map(Builder::finish).collect();
        let mut frame = DataFrame::new(rows, columns)?;
        ParquetWriter::new(out).finish(&mut frame)?;
        Ok(())
    }
}
