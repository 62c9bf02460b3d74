//! CSV: a header row, then one line per row; empty cell for null, `true`/`false`, timestamps
//! as `2021-10-19T07:55:35.807Z`, numbers in the shortest form that reads back exactly (`12.5`, `1`).
use super::{Cell, Format, Table};
use crate::time::{format_millis, TimeFormatter};
use anyhow::Result;
use rayon::prelude::*;
use std::io::Write;
use std::ops::Range;

pub struct Csv;

/// Groups (sessions) rendered by one task. Fixed, so the bytes do not depend on the threads.
const GROUPS_PER_CHUNK: usize = 64;
/// Chunks rendered at once before they are written: bounds the text held in memory.
const CHUNKS_PER_WINDOW: usize = 8;

impl Format for Csv {
    fn extension(&self) -> &'static str {
        "csv"
    }

    /// Renders chunks of rows on the rayon pool and writes them in order.
    fn write(&self, table: &(dyn Table + Sync), out: &mut dyn Write) -> Result<()> {
        let mut header = ::csv::Writer::from_writer(&mut *out);
        header.write_record(table.spec().columns.iter().map(|c| c.name))?;
        header.flush()?;
        drop(header);
        let groups = table.group_count();
        let chunks: Vec<Range<usize>> = (0..groups)
            .step_by(GROUPS_PER_CHUNK)
            .map(|start| start..groups.min(start + GROUPS_PER_CHUNK))
            .collect();
        for window in chunks.chunks(CHUNKS_PER_WINDOW) {
            let rendered: Vec<Result<Vec<u8>>> = window
                .par_iter()
                .map(|groups| render(table, groups.clone()))
                .collect();
            for text in rendered {
                out.write_all(&text?)?;
            }
        }
        Ok(())
    }
}

/// The CSV lines of the rows of `groups`.
fn render(table: &dyn Table, groups: Range<usize>) -> Result<Vec<u8>> {
    let mut writer = ::csv::Writer::from_writer(Vec::with_capacity(1 << 16));
    let mut integer = itoa::Buffer::new();
    let mut times = TimeFormatter::default();
    // Scratch space for floats and out-of-range times: no allocation per row.
    let mut scratch = String::with_capacity(32);
    table.for_each_row_in(groups, &mut |cells| {
        for cell in cells {
            match *cell {
                Cell::Text(text) => writer.write_field(text.unwrap_or_default())?,
                Cell::Time(Some(ms)) => match times.format(ms) {
                    Some(bytes) => writer.write_field(bytes)?,
                    None => {
                        scratch.clear();
                        format_millis(ms, &mut scratch);
                        writer.write_field(&scratch)?;
                    }
                },
                Cell::Int(Some(n)) => writer.write_field(integer.format(n))?,
                Cell::Date(Some(days)) => {
                    scratch.clear();
                    let date = chrono::NaiveDate::from_epoch_days(days).unwrap_or_default();
                    std::fmt::Write::write_fmt(&mut scratch, format_args!("{date}"))?;
                    writer.write_field(&scratch)?;
                }
                Cell::Float(Some(x)) => {
                    scratch.clear();
                    std::fmt::Write::write_fmt(&mut scratch, format_args!("{x}"))?;
                    writer.write_field(&scratch)?;
                }
                Cell::Flag(flag) => writer.write_field(if flag { "true" } else { "false" })?,
                Cell::Time(None) | Cell::Date(None) | Cell::Int(None) | Cell::Float(None) => {
                    writer.write_field("")?
                }
            }
        }
        writer.write_record(None::<&[u8]>)?;
        Ok(())
    })?;
    Ok(writer.into_inner().map_err(|e| e.into_error())?)
}
