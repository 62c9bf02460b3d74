//! The floors `analyze` is measured against (see `benches/e2e.sh`):
//!
//! - `floor read DIR…`: read every input file `analyze` would read (gunzipping `.gz`): the I/O floor;
//! - `floor parse DIR…`: the same, and parse every document with serde_json into
//!   `serde::de::IgnoredAny` (NDJSON line by line, an array item by item): the parse floor;
//! - `floor write REPORTS --out DIR`: write, for every file of the report folder `REPORTS`, a
//!   file of the same size into `DIR`, as `analyze` writes a report (under a temporary name on
//!   a worker, then synced to disk and renamed on a thread of its own, with the library's
//!   `fsutil::write_staged` and `Staged::commit_in_background`): the write floor, what
//!   putting the reports' bytes on this disk costs before any of them is computed.
//!
//! The read and parse floors find their files with the library's own walker, so they see exactly
//! the files `analyze` reads, and process them in parallel over files with `--threads N` workers
//! (default: all cores), the lines of an NDJSON file and the items of an array in parallel too (a
//! `.gz` is gunzipped whole first, on one thread; an array is cut into its items on one thread).
//! Prints one line: files, bytes (decompressed, or written), documents, seconds, MB/s.
use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use flate2::read::MultiGzDecoder;
use rayon::prelude::*;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use sessionstats::fsutil::{wait_all, write_staged};
use sessionstats::ingest::walk::{discover, InputFile};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Floor {
    /// Read (and gunzip) every input file.
    Read,
    /// Read, then parse every document into `IgnoredAny`.
    Parse,
    /// Write files as large as those of a report folder, synced and renamed.
    Write,
}

/// The I/O, parse and write floors of `sessionstats analyze`.
#[derive(Debug, Parser)]
struct Args {
    floor: Floor,
    /// Files and folders, walked as `analyze` walks them (for `write`: one report folder).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Where `write` writes its files.
    #[arg(long)]
    out: Option<PathBuf>,
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
    let parse = match (args.floor, &args.out) {
        (Floor::Write, Some(out)) => return write_floor(&args.paths, out, args.threads),
        (Floor::Write, None) => anyhow::bail!("floor write needs --out"),
        (Floor::Read, _) => false,
        (Floor::Parse, _) => true,
    };
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
            .map(|file| measure(file, parse))
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
        if parse { "parse" } else { "read" },
        files.len(),
        total.bytes,
        total.documents,
        total.bytes as f64 / 1e6 / seconds
    );
    Ok(())
}

/// Writes into `out`, with `threads` workers, a file of each size found among the files of the
/// report folders `reports`, each as `analyze` writes a report: written on a worker under a
/// temporary name, then synced and renamed on a thread of its own.
fn write_floor(reports: &[PathBuf], out: &Path, threads: Option<usize>) -> Result<()> {
    let mut sizes = Vec::new();
    for folder in reports {
        let listing = std::fs::read_dir(folder)
            .with_context(|| format!("cannot list {}", folder.display()))?;
        for entry in listing {
            let entry = entry.with_context(|| format!("cannot list {}", folder.display()))?;
            let metadata = entry.metadata()?;
            if metadata.is_file() {
                sizes.push(metadata.len());
            }
        }
    }
    // The largest first, so that the workers end together.
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let block = b"0123456789abcdef,".repeat(1 << 16);
    let started = Instant::now();
    let committing = pool.install(|| {
        sizes
            .par_iter()
            .enumerate()
            .map(|(index, &size)| {
                let staged = write_staged(&out.join(format!("file-{index}")), |file| {
                    let mut left = size;
                    while left > 0 {
                        let n = left.min(block.len() as u64) as usize;
                        file.write_all(&block[..n])?;
                        left -= n as u64;
                    }
                    Ok(())
                })?;
                Ok(staged.commit_in_background())
            })
            .collect::<Result<Vec<_>>>()
    })?;
    wait_all(committing)?;
    let seconds = started.elapsed().as_secs_f64();
    let bytes: u64 = sizes.iter().sum();
    println!(
        "floor write: {} files, {bytes} bytes, 0 documents, {seconds:.3} s, {:.1} MB/s",
        sizes.len(),
        bytes as f64 / 1e6 / seconds
    );
    Ok(())
}

/// Reads `file` (gunzipped), and parses its documents when `parse` says so.
fn measure(file: &InputFile, parse: bool) -> Result<Count> {
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
    let parse_one = |doc: &[u8]| {
        serde_json::from_slice::<IgnoredAny>(doc)
            .with_context(|| format!("cannot parse {}", path.display()))
    };
    let documents = if !parse {
        0
    } else if file.layout.lines {
        // In parallel inside the file too, as `analyze` reads a large NDJSON file.
        let lines = bytes.par_split(|&b| b == b'\n');
        let lines = lines.filter(|l| !l.trim_ascii().is_empty());
        lines
            .map(parse_one)
            .map(|parsed| parsed.map(|_| 1))
            .try_reduce(|| 0, |a, b| Ok(a + b))?
    } else if bytes.trim_ascii_start().starts_with(b"[") {
        // An array's items in parallel, as `analyze` reads a large array.
        let items = serde_json::from_slice::<Vec<&RawValue>>(&bytes)
            .with_context(|| format!("cannot parse {}", path.display()))?;
        items
            .par_iter()
            .map(|item| parse_one(item.get().as_bytes()).map(|_| 1))
            .try_reduce(|| 0, |a, b| Ok(a + b))?
    } else {
        parse_one(&bytes).map(|_| 1)?
    };
    Ok(Count {
        bytes: bytes.len() as u64,
        documents,
    })
}
