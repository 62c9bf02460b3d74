//! The floors `analyze` is measured against (see `benches/e2e.sh`):
//!
//! - `floor read DIR…`: read every input file `analyze` would read (gunzipping `.gz`): the I/O floor;
//! - `floor parse DIR…`: the same, and parse every document with serde_json into
//!   `serde::de::IgnoredAny` (NDJSON line by line, an array item by item): the parse floor.
//!
//! Files are found by the library's own walker, so both floors see exactly the files `analyze`
//! reads, and are processed in parallel over files with `--threads N` workers (default: all cores),
//! the lines of an NDJSON file and the items of an array in parallel too (a `.gz` is gunzipped
//! whole first, on one thread; an array is cut into its items on one thread).
//! Prints one line: files, bytes (decompressed), documents, seconds, MB/s.
use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use flate2::read::MultiGzDecoder;
use rayon::prelude::*;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use sessionstats::ingest::walk::{discover, InputFile};
use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Floor {
    /// Read (and gunzip) every input file.
    Read,
    /// Read, then parse every document into `IgnoredAny`.
    Parse,
}

/// The I/O and parse floors of `sessionstats analyze`.
#[derive(Debug, Parser)]
struct Args {
    floor: Floor,
    /// Files and folders, walked as `analyze` walks them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Worker threads; default: all cores.
    #[arg(long)]
    threads: Option<usize>,
}

/// Decompressed bytes and documents of one file.
#[derive(Default, Clone, Copy)]
struct Count {
    bytes: u64,
    documents: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let found = discover(&args.paths, None);
    if let Some(reject) = found.rejects.first() {
        anyhow::bail!("cannot walk {}: {}", reject.path, reject.reason);
    }
    let files = found.files;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let total = pool.install(|| {
        files
            .par_iter()
            .map(|file| measure(file, args.floor))
            .try_reduce(Count::default, |a, b| {
                Ok(Count {
                    bytes: a.bytes + b.bytes,
                    documents: a.documents + b.documents,
                })
            })
    })?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "floor {}: {} files, {} bytes, {} documents, {seconds:.3} s, {:.1} MB/s",
        match args.floor {
            Floor::Read => "read",
            Floor::Parse => "parse",
        },
        files.len(),
        total.bytes,
        total.documents,
        total.bytes as f64 / 1e6 / seconds
    );
    Ok(())
}

fn measure(file: &InputFile, floor: Floor) -> Result<Count> {
    let path = &file.path;
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bytes = if file.layout.gzip {
        let mut text = Vec::with_capacity(raw.len() * 8);
        MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut text)
            .with_context(|| format!("cannot gunzip {}", path.display()))?;
        text
    } else {
        raw
    };
    let parse = |doc: &[u8]| {
        serde_json::from_slice::<IgnoredAny>(doc)
            .with_context(|| format!("cannot parse {}", path.display()))
    };
    let documents = match floor {
        Floor::Read => 0,
        Floor::Parse if file.layout.lines => {
            // In parallel inside the file too, as `analyze` reads a large NDJSON file.
            let lines = bytes.par_split(|&b| b == b'\n');
            let lines = lines.filter(|l| !l.trim_ascii().is_empty());
            lines
                .map(parse)
                .map(|parsed| parsed.map(|_| 1))
                .try_reduce(|| 0, |a, b| Ok(a + b))?
        }
        Floor::Parse if bytes.trim_ascii_start().starts_with(b"[") => {
            // An array's items in parallel, as `analyze` reads a large array.
            let items = serde_json::from_slice::<Vec<&RawValue>>(&bytes)
                .with_context(|| format!("cannot parse {}", path.display()))?;
            items
                .par_iter()
                .map(|item| parse(item.get().as_bytes()).map(|_| 1))
                .try_reduce(|| 0, |a, b| Ok(a + b))?
        }
        Floor::Parse => parse(&bytes).map(|_| 1)?,
    };
    Ok(Count {
        bytes: bytes.len() as u64,
        documents,
    })
}
