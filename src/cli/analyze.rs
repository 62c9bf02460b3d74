//! `sessionstats analyze`: read session documents, compute the metrics, write the reports.
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sessionstats::analysis::{Config, DEFAULT_MAX_PAIR_PARTICIPANTS};
use sessionstats::ingest::walk::discover;
use sessionstats::ingest::Limits;
use sessionstats::outcome::Outcome;
use sessionstats::pipeline::{analyze_files, Analysis};
use sessionstats::report::{self, Table};
use sessionstats::text::{escape_for_terminal as shown, path_for_terminal};
use sessionstats::time::{parse_rfc3339, to_rfc3339, Millis};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Read a folder of session documents and write attendance, co-presence and concurrency reports.
///
/// Example: sessionstats analyze exports/ --out report --format csv,parquet --as-of 2024-05-02T00:00:00Z
#[derive(Debug, Clone, clap::Args)]
pub struct AnalyzeArgs {
    /// Files and folders to read. Folders are walked recursively (hidden entries skipped) for
    /// .json, .ndjson, .jsonl and their .gz; a file named here is read whatever its suffix.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Folder the reports are written to (created if missing; existing reports are replaced).
    #[arg(long, default_value = "report", value_name = "DIR")]
    pub out: PathBuf,
    /// Report formats: csv, parquet, or both as csv,parquet.
    #[arg(long, default_value = report::DEFAULT_FORMATS, value_name = "FORMATS")]
    pub format: String,
    /// The instant that closes open connections and ongoing sessions, RFC 3339
    /// (e.g. 2024-05-02T00:00:00Z); default: the moment the run starts.
    #[arg(long, value_name = "RFC3339")]
    pub as_of: Option<String>,
    /// Sessions with more participants than this get no pair rows in the overlaps report
    /// (pairs grow with the square of the participants).
    #[arg(long, default_value_t = DEFAULT_MAX_PAIR_PARTICIPANTS, value_name = "N")]
    pub max_pair_participants: usize,
    /// Worker threads; default: all cores.
    #[arg(long, value_name = "N", help = format!("Worker threads, 1 to {MAX_THREADS} [default: all cores]"))]
    pub threads: Option<usize>,
    #[arg(long, value_name = "SIZE", help = format!(
        "Largest JSON document read (a .json file after gunzip, or one NDJSON line); larger ones          are rejected. Bytes, or with K, M or G (powers of 1024) [default: {}M]",
        sessionstats::ingest::DEFAULT_MAX_DOCUMENT_BYTES >> 20
    ))]
    pub max_document_size: Option<String>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn execute(args: &AnalyzeArgs) -> Result<Outcome> {
    let started = Instant::now();
    let formats = report::parse_formats(&args.format)?;
    let config = Config {
        as_of: as_of(args.as_of.as_deref())?,
        max_pair_participants: args.max_pair_participants,
    };
    let pool = thread_pool(args.threads)?;
    let limits = Limits {
        max_document_bytes: match &args.max_document_size {
            Some(text) => super::parse_size(text, "--max-document-size")?,
            None => sessionstats::ingest::DEFAULT_MAX_DOCUMENT_BYTES,
        },
    };

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the report folder {}", args.out.display()))?;
    let found = discover(&args.paths);
    let files_read = found.files.len();
    let progress = progress_bar(files_read as u64, args.quiet);
    let analysis = pool.install(|| {
        analyze_files(
            &found.files,
            &config,
            &limits,
            found.rejects,
            &args.out,
            &|| progress.inc(1),
        )
    })?;
    progress.finish_and_clear();

    let tables = analysis.tables();
    let tables: Vec<&(dyn Table + Sync)> = tables.iter().map(|t| t.as_ref()).collect();
    let writing = writing_spinner(&analysis, args.quiet);
    let written = pool.install(|| report::write_all(&args.out, &tables, &formats))?;
    writing.finish_and_clear();

    let outcome = match (analysis.sessions.is_empty(), analysis.rejects.is_empty()) {
        (false, true) => Outcome::Complete,
        (false, false) => Outcome::Partial,
        // Nothing analysed: a failure if input was rejected or none was found; input that was
        // read whole and simply held no session (an empty page) was all used.
        (true, false) => Outcome::Failed,
        (true, true) if files_read == 0 => Outcome::Failed,
        (true, true) => Outcome::Complete,
    };
    if !args.quiet {
        let summary = Summary {
            analysis: &analysis,
            files_read,
            files_skipped: found.skipped,
            config: &config,
            elapsed_s: started.elapsed().as_secs_f64(),
            written: &written,
            out: &args.out,
        };
        super::say(summary);
    }
    if outcome == Outcome::Failed {
        super::warn(format_args!(
            "error: no session could be analysed from {}: {}",
            describe_paths(&args.paths),
            if analysis.rejects.is_empty() {
                "no .json, .ndjson or .jsonl file (or .gz of them) was found; check the path"
                    .to_owned()
            } else {
                format!(
                    "{} inputs were rejected and nothing else held a session; see the rejects report in {}",
                    analysis.rejects.len(),
                    path_for_terminal(&args.out)
                )
            }
        ));
    }
    Ok(outcome)
}

fn as_of(arg: Option<&str>) -> Result<Millis> {
    match arg {
        Some(text) => parse_rfc3339(text).ok_or_else(|| {
            anyhow!(
                "--as-of {text:?} is not an RFC 3339 timestamp; write it like 2024-05-02T00:00:00Z"
            )
        }),
        None => Ok(chrono::Utc::now().timestamp_millis()),
    }
}

/// The most worker threads `--threads` may ask for: far more than any machine this runs on
/// has cores, few enough to start in an instant.
pub const MAX_THREADS: usize = 1024;

/// The rayon pool for `--threads`; polars (Parquet writing) is held to the same count, unless
/// POLARS_MAX_THREADS says otherwise.
fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    if let Some(n) = threads {
        if n == 0 || n > MAX_THREADS {
            bail!("--threads must be from 1 to {MAX_THREADS}, not {n}");
        }
    }
    if let Some(n) = threads {
        if std::env::var_os("POLARS_MAX_THREADS").is_none() {
            // Before polars starts its pool, while this is the only thread.
            std::env::set_var("POLARS_MAX_THREADS", n.to_string());
        }
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")
}

/// Progress is drawn on stderr only for a person at a terminal, never into a cron log.
fn shows_progress(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A bar while files are read.
fn progress_bar(files: u64, quiet: bool) -> ProgressBar {
    if !shows_progress(quiet) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(files);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} reading files {pos}/{len} [{bar:30}] {percent}% eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A spinner while the reports are written (for a large folder, the longer part of the run).
fn writing_spinner(analysis: &Analysis, quiet: bool) -> ProgressBar {
    if !shows_progress(quiet) {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!(
        "writing the reports of {} sessions",
        analysis.sessions.len()
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner
}

fn describe_paths(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| path_for_terminal(p)).collect();
    names.join(", ")
}

/// The few lines a person (or a cron mail) reads after the run.
struct Summary<'a> {
    analysis: &'a Analysis,
    files_read: usize,
    files_skipped: usize,
    config: &'a Config,
    elapsed_s: f64,
    written: &'a [PathBuf],
    out: &'a Path,
}

/// How many rejects and skipped sessions are named one by one before "and N more".
const LISTED: usize = 5;

/// "1 session", "2 sessions".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl std::fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.analysis;
        writeln!(
            f,
            "analyzed {} from {} in {:.2} s",
            count(a.sessions.len(), "session"),
            count(self.files_read, "file"),
            self.elapsed_s
        )?;
        writeln!(f, "  as-of:              {}", to_rfc3339(self.config.as_of))?;
        writeln!(
            f,
            "  files skipped:      {} (not .json, .ndjson, .jsonl or .gz of them)",
            self.files_skipped
        )?;
        writeln!(f, "  duplicates dropped: {}", a.duplicates_dropped)?;
        writeln!(f, "  rejected input:     {}", a.rejects.len())?;
        for reject in a.rejects.iter().take(LISTED) {
            let line = reject.line.map(|l| format!(":{l}")).unwrap_or_default();
            let reason = reject.reason.to_string();
            writeln!(f, "    {}{line}: {}", shown(&reject.path), shown(&reason))?;
        }
        if a.rejects.len() > LISTED {
            writeln!(
                f,
                "    … and {} more in {}",
                a.rejects.len() - LISTED,
                self.out.join("rejects.*").display()
            )?;
        }
        let skipped: Vec<std::borrow::Cow<'_, str>> = a
            .sessions
            .iter()
            .filter(|s| s.pairs_skipped)
            .map(|s| shown(&s.session_id))
            .collect();
        write!(
            f,
            "  pairs skipped:      {} with more than {} participants",
            count(skipped.len(), "session"),
            self.config.max_pair_participants
        )?;
        if !skipped.is_empty() {
            write!(f, ": {}", skipped[..skipped.len().min(LISTED)].join(", "))?;
            if skipped.len() > LISTED {
                write!(f, " and {} more", skipped.len() - LISTED)?;
            }
        }
        writeln!(f)?;
        writeln!(f, "  wrote:")?;
        for path in self.written {
            writeln!(f, "    {}", path.display())?;
        }
        Ok(())
    }
}
