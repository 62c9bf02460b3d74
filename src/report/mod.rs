//! Reports (docs/reference.md §8): tables, each written in every requested format.
//!
//! A table ([`tables`]) has a [`TableSpec`] and hands out rows of typed [`Cell`]s; a format
//! ([`csv`], [`parquet`]) turns any table into bytes. Each file is written under a temporary
//! name and renamed, so a report is complete or absent. The HTML report ([`html`], docs/html.md)
//! is not a table format: it is one page over the whole analysis, asked for with the others
//! in `--format`.
pub mod csv;
pub mod folder;
pub mod html;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod spill;
pub mod tables;

use crate::fsutil::{write_staged, Committing, StartsWriteback};
use crate::time::Millis;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::ops::Range;
use std::path::Path;

/// The type of a column, shared by every format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    /// Milliseconds since the epoch, UTC.
    Time,
    /// A calendar date, as days since 1970-01-01 (`YYYY-MM-DD` in CSV, `Date` in Parquet).
    Date,
    /// Counts and durations.
    Int,
    /// Ratios.
    Float,
    Flag,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// The column may hold empty cells (CSV) / nulls (Parquet); the others are `required`
    /// in the Parquet schema.
    pub nullable: bool,
}

/// A report table's name (its file name without suffix) and columns, in report order.
#[derive(Debug)]
pub struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [Column],
}

/// One value of a row; `None` is an empty cell (CSV) or a null (Parquet).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// UTF-8 text, as bytes: CSV writes them as they are, so rows read back from the spill
    /// need no second validation on that path.
    Text(Option<&'a [u8]>),
    Time(Option<Millis>),
    /// Days since 1970-01-01.
    Date(Option<i32>),
    Int(Option<i64>),
    Float(Option<f64>),
    Flag(bool),
}

/// A row's cells read one by one, each as the type of its column, which the caller knows:
/// a writer that keeps a builder per column needs no [`Cell`] in between.
pub trait TypedCells<'c> {
    fn flag(&mut self) -> Result<bool>;
    fn float(&mut self) -> Result<Option<f64>>;
    fn int(&mut self) -> Result<Option<i64>>;
    fn date(&mut self) -> Result<Option<i32>>;
    fn time(&mut self) -> Result<Option<Millis>>;
    /// The text of column `column` (its index in the row).
    fn text(&mut self, column: usize) -> Result<TextCell<'c>>;
}

/// A text cell as [`TypedCells::text`] reads it back from the spill, which marks a text equal
/// to the last one of its column in the same part (a session's id down its rows): a writer can
/// reuse what it made of that one instead of looking at the text again.
#[derive(Debug, Clone, Copy)]
pub enum TextCell<'c> {
    Value(Option<&'c [u8]>),
    /// The same text as the last one read in the column since the part began.
    Repeat(&'c [u8]),
}

impl<'c> TextCell<'c> {
    #[inline(always)]
    pub fn text(self) -> Option<&'c [u8]> {
        match self {
            TextCell::Value(text) => text,
            TextCell::Repeat(text) => Some(text),
        }
    }
}

/// A report table: its spec and its rows in report order.
///
/// Rows come in groups (one session's rows, or one reject): a format may work on several
/// ranges of groups at once and join the results in order.
pub trait Table {
    fn spec(&self) -> &'static TableSpec;
    fn row_count(&self) -> usize;
    fn group_count(&self) -> usize;
    /// The rows of each group of `groups`, one count per group asked (0 past the end); by
    /// default counted by reading them, tables that know them say so.
    fn group_rows_in(&self, groups: Range<usize>) -> Result<Vec<usize>> {
        groups
            .map(|group| {
                let mut rows = 0;
                self.for_each_row_in(group..group + 1, &mut |_| {
                    rows += 1;
                    Ok(())
                })?;
                Ok(rows)
            })
            .collect()
    }
    /// Calls `emit` with the cells of each row of `groups`, in column order.
    fn for_each_row_in(
        &self,
        groups: Range<usize>,
        emit: &mut dyn FnMut(&[Cell<'_>]) -> Result<()>,
    ) -> Result<()>;
    /// Appends the CSV lines of the rows of `groups` (as [`csv::LineWriter`] writes them) when
    /// the table makes them faster than [`Table::for_each_row_in`] would; `false` when it does
    /// not.
    fn csv_lines(&self, _groups: Range<usize>, _out: &mut Vec<u8>) -> Result<bool> {
        Ok(false)
    }
    /// Appends the rows of `groups`, past the first `skip`, to `batch` until it is full, when
    /// the table makes them faster than [`Table::for_each_row_in`] would; `false` when it does
    /// not.
    #[cfg(feature = "parquet")]
    fn parquet_rows(
        &self,
        _groups: Range<usize>,
        _skip: usize,
        _batch: &mut parquet::Batch,
    ) -> Result<bool> {
        Ok(false)
    }
    /// Calls `emit` with the cells of every row, in column order.
    fn for_each_row(&self, emit: &mut dyn FnMut(&[Cell<'_>]) -> Result<()>) -> Result<()> {
        self.for_each_row_in(0..self.group_count(), emit)
    }
}

/// `0..groups` in blocks whose rows a writer asks for at once ([`Table::group_rows_in`]).
fn group_blocks(groups: usize) -> impl Iterator<Item = Range<usize>> {
    const BLOCK: usize = 1 << 16;
    (0..groups)
        .step_by(BLOCK)
        .map(move |start| start..groups.min(start + BLOCK))
}

/// An output format (one module each, as hyperfine's `export/` does).
pub trait Format: Sync {
    /// The file suffix, without the dot.
    fn extension(&self) -> &'static str;
    fn write(&self, table: &(dyn Table + Sync), out: &mut (dyn Write + Send)) -> Result<()>;
}

/// The report formats written unless `--format` says otherwise.
pub const DEFAULT_FORMATS: &str = "csv";

/// How the pages of a Parquet report are compressed (`--parquet-compression`,
/// docs/reference.md "Parquet compression"). Every codec holds the same values; they differ in
/// size and in the time they take to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum ParquetCompression {
    Zstd(ZstdLevel),
    Snappy,
    /// LZ4 in Parquet's `LZ4_RAW` flavour.
    Lz4,
    Uncompressed,
}

/// A zstd level, 1 (fastest) to 22 (smallest): made only by [`ZstdLevel::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZstdLevel(u8);

impl ZstdLevel {
    pub const MAX: u8 = 22;
    /// The level `zstd` alone means. On the reports measured, level 1 writes files about as
    /// large as level 3 (zstd's own default), in less time (docs/performance.md).
    pub const DEFAULT: ZstdLevel = ZstdLevel(1);

    pub fn new(level: u8) -> Option<ZstdLevel> {
        (1..=ZstdLevel::MAX)
            .contains(&level)
            .then_some(ZstdLevel(level))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl ParquetCompression {
    /// What `--parquet-compression` accepts, for the help and the error messages.
    pub const CHOICES: &'static str = "zstd, zstd:LEVEL (1 to 22), snappy, lz4 or none";
}

impl Default for ParquetCompression {
    fn default() -> ParquetCompression {
        ParquetCompression::Zstd(ZstdLevel::DEFAULT)
    }
}

impl std::str::FromStr for ParquetCompression {
    type Err = String;

    /// One of [`ParquetCompression::CHOICES`], in any case. The message of an error does not
    /// repeat the text (clap shows it, escaped; a config file's value is never shown).
    fn from_str(text: &str) -> Result<ParquetCompression, String> {
        let invalid = || format!("use {}", ParquetCompression::CHOICES);
        let lower = text.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "zstd" => ParquetCompression::default(),
            "snappy" => ParquetCompression::Snappy,
            "lz4" => ParquetCompression::Lz4,
            "none" => ParquetCompression::Uncompressed,
            _ => {
                let digits = lower.strip_prefix("zstd:").ok_or_else(invalid)?;
                // Only the canonical digits: no sign, no leading zero, no space.
                let level = digits
                    .parse::<u8>()
                    .ok()
                    .filter(|level| level.to_string() == digits)
                    .and_then(ZstdLevel::new)
                    .ok_or_else(invalid)?;
                ParquetCompression::Zstd(level)
            }
        })
    }
}

/// For `run`'s config file (`parquet-compression = "zstd:3"`).
impl TryFrom<String> for ParquetCompression {
    type Error = String;
    fn try_from(text: String) -> Result<ParquetCompression, String> {
        text.parse()
    }
}

impl std::fmt::Display for ParquetCompression {
    /// The form [`std::str::FromStr`] reads back: `zstd:1`, `snappy`, `lz4`, `none`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParquetCompression::Zstd(level) => write!(f, "zstd:{}", level.get()),
            ParquetCompression::Snappy => f.write_str("snappy"),
            ParquetCompression::Lz4 => f.write_str("lz4"),
            ParquetCompression::Uncompressed => f.write_str("none"),
        }
    }
}

/// How a Parquet report stores its whole numbers, instants and dates (`--parquet-integers`,
/// docs/reference.md "Parquet integers"). Both hold the same values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum ParquetIntegers {
    /// DELTA_BINARY_PACKED: smaller files, written in less time; read by DuckDB, polars,
    /// pyarrow and Spark 3.3 or later.
    #[default]
    Delta,
    /// PLAIN, or a dictionary where few values repeat: what polars and pyarrow write by
    /// default, for readers that predate delta encoding.
    Plain,
}

impl ParquetIntegers {
    /// What `--parquet-integers` accepts, for the config file's error message.
    pub const CHOICES: &'static str = "delta or plain";
}

/// For `run`'s config file (`parquet-integers = "plain"`): in any case, as on the command line.
impl TryFrom<String> for ParquetIntegers {
    type Error = String;
    fn try_from(text: String) -> Result<ParquetIntegers, String> {
        <ParquetIntegers as clap::ValueEnum>::from_str(text.trim(), true)
            .map_err(|_| format!("use {}", ParquetIntegers::CHOICES))
    }
}

impl std::fmt::Display for ParquetIntegers {
    /// The name the option takes: `delta`, `plain`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ParquetIntegers::Delta => "delta",
            ParquetIntegers::Plain => "plain",
        })
    }
}

/// How Parquet reports are written: the options that say so, and their defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParquetOptions {
    pub compression: ParquetCompression,
    pub integers: ParquetIntegers,
}

/// What `--format` asks for: the table formats, and whether to write `report.html`.
pub struct Formats {
    pub tables: Vec<Box<dyn Format>>,
    pub html: bool,
}

/// The formats named by `--format`: `csv`, `parquet` and `html`, comma-separated, in any mix;
/// Parquet reports are written with `parquet`.
pub fn parse_formats(spec: &str, parquet: ParquetOptions) -> Result<Formats> {
    let mut formats = Formats {
        tables: Vec::new(),
        html: false,
    };
    for name in spec.split(',').map(str::trim) {
        let format: Box<dyn Format> = match name.to_ascii_lowercase().as_str() {
            "csv" => Box::new(csv::Csv),
            "html" => {
                formats.html = true;
                continue;
            }
            #[cfg(feature = "parquet")]
            "parquet" => Box::new(parquet::Parquet(parquet)),
            #[cfg(not(feature = "parquet"))]
            "parquet" => bail!(
                "--format parquet needs a build with the `parquet` feature \
                 (cargo install --path . --features parquet)"
            ),
            _ => bail!(
                "unknown report format `{name}` in --format {spec:?}: use csv, parquet, html \
                 or several of them, such as csv,html"
            ),
        };
        if !formats
            .tables
            .iter()
            .any(|f| f.extension() == format.extension())
        {
            formats.tables.push(format);
        }
    }
    #[cfg(not(feature = "parquet"))]
    let _ = parquet;
    Ok(formats)
}

/// Writes every table in every format into `dir` (created if missing). Each file is synced
/// and renamed on a thread of its own as soon as it is written, so waiting for the disk (most
/// of a second on a large run) holds no worker of the pool, and this returns once the files are
/// written: [`crate::fsutil::wait_all`] waits for the commits and gives the paths, in order.
/// `rows_done` is told the rows of each file as it is written.
pub fn write_all(
    dir: &Path,
    tables: &[&(dyn Table + Sync)],
    formats: &[Box<dyn Format>],
    rows_done: &(dyn Fn(u64) + Sync),
) -> Result<Vec<Committing>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the report folder {}", dir.display()))?;
    let jobs: Vec<(&(dyn Table + Sync), &dyn Format)> = tables
        .iter()
        .flat_map(|&t| formats.iter().map(move |f| (t, f.as_ref())))
        .collect();
    use rayon::prelude::*;
    jobs.par_iter()
        .map(|&(table, format)| {
            let name = table.spec().name;
            let path = dir.join(format!("{name}.{}", format.extension()));
            let staged = write_staged(&path, |out| {
                format.write(table, &mut StartsWriteback::new(out))
            })
            .with_context(|| format!("cannot write the {name} report {}", path.display()))?;
            rows_done(table.row_count() as u64);
            Ok(staged.commit_in_background())
        })
        .collect()
}

/// A table for the writers' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Cell, Column, ColumnType, Table, TableSpec};
    use anyhow::Result;
    use std::ops::Range;

    static NUMBERED: TableSpec = TableSpec {
        name: "numbered",
        columns: &[Column {
            name: "row",
            ty: ColumnType::Int,
            nullable: false,
        }],
    };

    /// Groups of the given sizes; each row holds its index in the whole table.
    pub struct Numbered(pub Vec<usize>);

    impl Table for Numbered {
        fn spec(&self) -> &'static TableSpec {
            &NUMBERED
        }
        fn row_count(&self) -> usize {
            self.0.iter().sum()
        }
        fn group_count(&self) -> usize {
            self.0.len()
        }
        fn group_rows_in(&self, groups: Range<usize>) -> Result<Vec<usize>> {
            Ok(groups
                .map(|g| self.0.get(g).copied().unwrap_or(0))
                .collect())
        }
        fn for_each_row_in(
            &self,
            groups: Range<usize>,
            emit: &mut dyn FnMut(&[Cell<'_>]) -> Result<()>,
        ) -> Result<()> {
            let mut row: usize = self.0[..groups.start].iter().sum();
            for &size in &self.0[groups] {
                for _ in 0..size {
                    emit(&[Cell::Int(Some(row as i64))])?;
                    row += 1;
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_parsed_once_each() {
        let names = |spec| {
            parse_formats(spec, ParquetOptions::default())
                .unwrap()
                .tables
                .iter()
                .map(|f| f.extension())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("csv"), ["csv"]);
        assert_eq!(names("csv,CSV"), ["csv"]);
        if cfg!(feature = "parquet") {
            assert_eq!(names("csv,parquet"), ["csv", "parquet"]);
            assert_eq!(names("Parquet, csv,parquet"), ["parquet", "csv"]);
        } else {
            let err = parse_formats("csv,parquet", ParquetOptions::default())
                .err()
                .map(|e| e.to_string());
            assert!(err.is_some_and(|e| e.contains("`parquet` feature")));
        }
        let err = parse_formats("xlsx", ParquetOptions::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("xlsx") && err.contains("html"), "{err}");
    }

    #[test]
    fn html_is_a_flag_beside_the_table_formats() {
        let parse = |spec| parse_formats(spec, ParquetOptions::default()).unwrap();
        let formats = parse("csv, HTML,html");
        assert!(formats.html);
        assert_eq!(formats.tables.len(), 1);
        let formats = parse("html");
        assert!(formats.html && formats.tables.is_empty());
        assert!(!parse("csv").html);
    }

    #[test]
    fn parquet_compressions_are_read_and_shown_back() {
        use ParquetCompression::*;
        let zstd = |level| Zstd(ZstdLevel::new(level).unwrap());
        for (text, expected) in [
            ("zstd", zstd(1)),
            ("ZSTD:3", zstd(3)),
            ("zstd:1", zstd(1)),
            ("zstd:22", zstd(22)),
            (" snappy", Snappy),
            ("lz4", Lz4),
            ("None", Uncompressed),
        ] {
            let parsed: ParquetCompression = text.parse().unwrap();
            assert_eq!(parsed, expected, "{text:?}");
            assert_eq!(parsed.to_string().parse::<ParquetCompression>(), Ok(parsed));
        }
        assert_eq!(ParquetCompression::default().to_string(), "zstd:1");
        for bad in [
            "",
            "zstd:",
            "zstd:0",
            "zstd:23",
            "zstd:300",
            "zstd:-1",
            "zstd:+3",
            "zstd:03",
            "zstd: 3",
            "zstd:1x",
            "gzip",
            "zstd3",
            "lz4_raw",
            "uncompressed",
        ] {
            let err = bad.parse::<ParquetCompression>().unwrap_err();
            assert_eq!(
                err,
                format!("use {}", ParquetCompression::CHOICES),
                "{bad:?}"
            );
        }
        assert_eq!(ZstdLevel::new(0), None);
        assert_eq!(ZstdLevel::new(23), None);
    }

    #[test]
    fn parquet_integers_are_read_and_shown_back() {
        for (text, expected) in [
            ("delta", ParquetIntegers::Delta),
            (" PLAIN", ParquetIntegers::Plain),
            ("Delta", ParquetIntegers::Delta),
        ] {
            let parsed = ParquetIntegers::try_from(text.to_owned());
            assert_eq!(parsed, Ok(expected), "{text:?}");
            assert_eq!(ParquetIntegers::try_from(expected.to_string()), parsed);
        }
        assert_eq!(ParquetIntegers::default().to_string(), "delta");
        for bad in ["", "dictionary", "delta_binary_packed", "plain,delta"] {
            let err = ParquetIntegers::try_from(bad.to_owned()).unwrap_err();
            assert_eq!(err, "use delta or plain", "{bad:?}");
        }
    }
}
