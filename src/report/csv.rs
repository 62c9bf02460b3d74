//! CSV: a header row, then one line per row; empty cell for null, `true`/`false`, timestamps
//! as `2021-10-19T07:55:35.807Z`, numbers in the shortest form that reads back exactly (`12.5`, `1`).
use super::{Cell, Format, Table};
use crate::time::format_millis;
use anyhow::Result;
use std::fmt::Write as _;
use std::io::Write;

pub struct Csv;

impl Format for Csv {
    fn extension(&self) -> &'static str {
        "csv"
    }

    fn write(&self, table: &dyn Table, out: &mut dyn Write) -> Result<()> {
        let mut writer = ::csv::WriterBuilder::new().from_writer(out);
        writer.write_record(table.columns().iter().map(|c| c.name))?;
        // One scratch buffer for every formatted cell: no allocation per row.
        let mut scratch = String::with_capacity(64);
        table.for_each_row(&mut |cells| {
            for cell in cells {
                scratch.clear();
                let field: &str = match *cell {
                    Cell::Text(text) => text.unwrap_or(""),
                    Cell::Time(Some(ms)) => {
                        format_millis(ms, &mut scratch);
                        &scratch
                    }
                    Cell::Int(Some(n)) => {
                        write!(scratch, "{n}")?;
                        &scratch
                    }
                    Cell::Float(Some(x)) => {
                        write!(scratch, "{x}")?;
                        &scratch
                    }
                    Cell::Flag(flag) => {
                        if flag {
                            "true"
                        } else {
                            "false"
                        }
                    }
                    Cell::Time(None) | Cell::Int(None) | Cell::Float(None) => "",
                };
                writer.write_field(field)?;
            }
            writer.write_record(None::<&[u8]>)?;
            Ok(())
        })?;
        writer.flush()?;
        Ok(())
    }
}
