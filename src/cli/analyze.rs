//! `sessionstats analyze`: read session documents, compute the metrics, write the reports.
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sessionstats::analysis::period::{parse_zone, PeriodKind};
use sessionstats::analysis::presence::Threshold;
use sessionstats::analysis::rollups::Headline;
use sessionstats::analysis::{Config, DEFAULT_MAX_PAIR_PARTICIPANTS};
use sessionstats::ingest::walk::{discover, InputFile, Layout};
use sessionstats::ingest::{Limits, ReadProgress};
use sessionstats::outcome::Outcome;
use sessionstats::pipeline::{analyze_files, latest_instant, Analysis};
use sessionstats::report::tables::ReportSet;
use sessionstats::report::{
    self, folder, Formats, ParquetCompression, ParquetIntegers, ParquetOptions,
};
use sessionstats::text::{escape_for_terminal, path_for_terminal, shorten_for_terminal as shown};
use sessionstats::time::{describe_duration, to_rfc3339, Millis};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Read a folder of session documents and write attendance, co-presence and concurrency reports.
///
/// Example: sessionstats analyze exports/ --out report --format csv,parquet --as-of 2024-05-02T00:00:00Z
#[derive(Debug, Clone, clap::Args)]
pub struct AnalyzeArgs {
    /// Files and folders to read. Folders are walked recursively (hidden entries skipped) for
    /// .json, .ndjson, .jsonl and their .gz; a file named here is read whatever its suffix;
    /// `-` reads NDJSON (or a gzip of it) from standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Folder the reports are written to (created if missing; existing reports are replaced).
    #[arg(long, default_value = "report", value_name = "DIR")]
    pub out: PathBuf,
    /// Report formats: csv, parquet, html (report.html: one page with charts), or several,
    /// comma-separated, such as csv,html.
    #[arg(long, default_value = report::DEFAULT_FORMATS, value_name = "FORMATS")]
    pub format: String,
    #[arg(long, value_name = "CODEC", help = parquet_compression_help())]
    #[cfg_attr(not(feature = "parquet"), arg(hide = true))]
    pub parquet_compression: Option<ParquetCompression>,
    #[arg(long, value_enum, ignore_case = true, value_name = "ENCODING", help = PARQUET_INTEGERS_HELP)]
    #[cfg_attr(not(feature = "parquet"), arg(hide = true))]
    pub parquet_integers: Option<ParquetIntegers>,
    /// The instant that closes open connections and ongoing sessions: an RFC 3339 instant
    /// (2024-05-02T00:00:00Z), a date (local midnight in --tz), or `latest`, the latest
    /// instant found in the input (right for an old export) [default: now]
    #[arg(long, value_name = "WHEN")]
    pub as_of: Option<String>,
    /// Sessions with more participants than this get no pair rows in the overlaps report
    /// (pairs grow with the square of the participants).
    #[arg(long, default_value_t = DEFAULT_MAX_PAIR_PARTICIPANTS, value_name = "N")]
    pub max_pair_participants: usize,
    #[command(flatten)]
    pub answers: AnswerOptions,
    /// Keep only sessions that started at or after WHEN: an RFC 3339 instant, or a date
    /// (2024-05-31) meaning local midnight in --tz.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Keep only sessions that started before WHEN (as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Reports to compute and write, comma-separated (sessions, participants, overlaps,
    /// concurrency, rooms, people, account_concurrency, usage); the work of the others is
    /// skipped. rejects is always written [default: all]
    #[arg(long, value_name = "LIST")]
    pub reports: Option<String>,
    /// Worker threads; default: all cores.
    #[arg(long, value_name = "N", help = format!("Worker threads, 1 to {MAX_THREADS} [default: all cores]"))]
    pub threads: Option<usize>,
    #[arg(long, value_name = "SIZE", help = format!(
        "Largest JSON document read (one NDJSON line, one item of a .json array or of a big \
         page's data, or any other .json file after gunzip); larger ones are rejected. Bytes, or \
         with K, M or G (powers of 1024) [default: {}M]",
        sessionstats::ingest::DEFAULT_MAX_DOCUMENT_BYTES >> 20
    ))]
    pub max_document_size: Option<String>,
    /// Sessions the step before (`run`'s fetch) failed to bring: the run is then not complete.
    #[arg(skip)]
    pub upstream_failures: u64,
}

/// The help of `--parquet-compression` (`analyze` and `run`).
pub fn parquet_compression_help() -> String {
    format!(
        "How Parquet reports are compressed: {} (1 fastest, 22 smallest); each codec holds the \
         same values, in files of different sizes [default: {}]",
        ParquetCompression::CHOICES,
        ParquetCompression::default()
    )
}

/// The help of `--parquet-integers` (`analyze` and `run`); `--help` lists the choices.
pub const PARQUET_INTEGERS_HELP: &str = "How Parquet reports store whole numbers, instants and \
     dates: delta or plain; both hold the same values [default: delta]";

/// What the answers are about: who counts as present, the periods of the rollups, the
/// plan's quota (shared by `analyze` and `run`, whose config file uses the same keys).
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct AnswerOptions {
    /// Who counts as present: a duration (0, 90s, 10m, 1h30m; units ms, s, m, h) or a share
    /// of the session (75%, 62.5%) [default: 0, any attendance]
    #[arg(long, value_name = "THRESHOLD")]
    pub present: Option<String>,
    /// Time zone of the periods and of dates given to --since/--until: an IANA name such as
    /// Europe/Berlin or Asia/Kolkata [default: UTC]
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Length of the rollups' periods: day, week (ISO, Monday to Sunday) or month
    /// [default: day]
    #[arg(long, value_name = "PERIOD", value_parser = ["day", "week", "month"])]
    pub period: Option<String>,
    /// The plan's limit of concurrent participants across the account; usage then reports
    /// the time over it (over_quota_ms)
    #[arg(long, value_name = "N")]
    pub quota: Option<i64>,
}

impl AnswerOptions {
    /// Values from `other` (`run`'s config file) where this one has none.
    #[cfg(feature = "fetch")]
    pub fn or(self, other: AnswerOptions) -> AnswerOptions {
        AnswerOptions {
            present: self.present.or(other.present),
            tz: self.tz.or(other.tz),
            period: self.period.or(other.period),
            quota: self.quota.or(other.quota),
        }
    }

    /// Sets the threshold, calendar and quota of `config`.
    pub fn apply(&self, config: &mut Config) -> Result<()> {
        if let Some(present) = &self.present {
            config.present = present
                .parse::<Threshold>()
                .map_err(|e| anyhow!("--present: {e}"))?;
        }
        if let Some(tz) = &self.tz {
            config.calendar.zone = parse_zone(tz).map_err(|e| anyhow!(e))?;
        }
        if let Some(period) = &self.period {
            config.calendar.kind = period.parse::<PeriodKind>().map_err(|e| anyhow!(e))?;
        }
        if let Some(quota) = self.quota {
            if quota < 0 {
                bail!("--quota must be a number of participants, 0 or more, not {quota}");
            }
            config.quota = Some(quota);
        }
        Ok(())
    }
}

pub fn execute(args: &AnalyzeArgs) -> Result<Outcome> {
    analyze(args).map(|(outcome, _)| outcome)
}

/// Runs `analyze`; also returns the headline figures (for `run`'s last lines).
pub fn analyze(args: &AnalyzeArgs) -> Result<(Outcome, Headline)> {
    let started = Instant::now();
    let parquet = ParquetOptions {
        compression: args.parquet_compression.unwrap_or_default(),
        integers: args.parquet_integers.unwrap_or_default(),
    };
    let formats = report::parse_formats(&args.format, parquet)?;
    let mut config = Config::new(0);
    config.max_pair_participants = args.max_pair_participants;
    if let Some(list) = &args.reports {
        config.reports = ReportSet::parse(list).map_err(|e| anyhow!(e))?;
    }
    config.reports = config.reports.with_html(formats.html);
    args.answers.apply(&mut config)?;
    let when = |text: &Option<String>, option: &str| {
        text.as_deref()
            .map(|t| config.calendar.parse_when(t))
            .transpose()
            .map_err(|e| anyhow!("--{option}: {e}"))
    };
    config.since = when(&args.since, "since")?;
    config.until = when(&args.until, "until")?;
    if let (Some(since), Some(until)) = (config.since, config.until) {
        if until <= since {
            bail!("--until must be after --since (the window is [since, until))");
        }
    }
    let as_of = AsOf::parse(args.as_of.as_deref(), &config)?;
    let pool = thread_pool(args.threads)?;
    let limits = Limits {
        max_document_bytes: match &args.max_document_size {
            Some(text) => super::parse_size(text, "--max-document-size")?,
            None => sessionstats::ingest::DEFAULT_MAX_DOCUMENT_BYTES,
        },
    };
    if args.out.exists() && !args.out.is_dir() {
        bail!(
            "--out {} is a file, not a folder: name a folder for the reports",
            path_for_terminal(&args.out)
        );
    }

    // The folder holds the temporary files while the run reads; one this run created is
    // removed again when nothing usable comes of it.
    let created_out = !args.out.exists();
    std::fs::create_dir_all(&args.out).with_context(|| {
        format!(
            "cannot create the report folder {}",
            path_for_terminal(&args.out)
        )
    })?;
    let from_stdin = Path::new(STDIN);
    let stdin_copy = match args.paths.iter().any(|p| p == from_stdin) {
        true => match copy_stdin(&args.out) {
            Ok(copy) => Some(copy),
            Err(err) => {
                remove_if_created(&args.out, created_out);
                return Err(err);
            }
        },
        false => None,
    };
    let named: Vec<PathBuf> = args
        .paths
        .iter()
        .filter(|p| p.as_path() != from_stdin)
        .cloned()
        .collect();
    // `analyze . --out report` must not read its last run's manifest as a session document.
    let manifest = args.out.join(sessionstats::report::folder::MANIFEST);
    let mut found = discover(&named, Some(&manifest));
    if let Some((copy, gzip)) = &stdin_copy {
        // Read in path order, as every input: `-` before any path that sorts after it.
        let at = found
            .files
            .partition_point(|f| f.path.as_os_str().as_encoded_bytes() < STDIN.as_bytes());
        let mut file = InputFile::new(
            copy.path().to_path_buf(),
            Layout {
                lines: true,
                gzip: *gzip,
            },
        );
        file.label = Some(STDIN.to_owned());
        found.files.insert(at, file);
    }
    let files_read = found.files.len();
    config.as_of = match as_of {
        AsOf::Given(ms) => ms,
        AsOf::Now => chrono::Utc::now().timestamp_millis(),
        AsOf::Latest => {
            let progress = progress_bar(&found.files, "looking for the latest instant in");
            let latest =
                pool.install(|| latest_instant(&found.files, &limits, &BytesRead(&progress)));
            progress.finish_and_clear();
            latest.unwrap_or_else(|| chrono::Utc::now().timestamp_millis())
        }
    };
    let progress = progress_bar(&found.files, "reading");
    let analysis = pool.install(|| {
        analyze_files(
            &found.files,
            &config,
            &limits,
            found.rejects,
            &args.out,
            &BytesRead(&progress),
        )
    });
    progress.finish_and_clear();
    drop(stdin_copy);
    let mut analysis = match analysis {
        Ok(analysis) => analysis,
        Err(err) => {
            remove_if_created(&args.out, created_out);
            return Err(err);
        }
    };

    let outcome = match (analysis.sessions.is_empty(), analysis.rejects.is_empty()) {
        (false, true) => Outcome::Complete,
        (false, false) => Outcome::Partial,
        // Nothing analyzed: a failure if input was rejected or none was found; input that was
        // read whole and simply held no session (an empty page) was all used.
        (true, false) => Outcome::Failed,
        (true, true) if files_read == 0 => Outcome::Failed,
        (true, true) => Outcome::Complete,
    };
    let mut written = Vec::new();
    if outcome != Outcome::Failed {
        let writing = writing_bar(&formats);
        // The files are synced while the next are written; all are waited for here, so
        // that no worker of the pool waits for the disk.
        let committing = pool.install(|| {
            analysis.roll_up_while_writing(&config, |tables| {
                let rows: usize = tables.iter().map(|t| t.row_count()).sum();
                writing.inc_length((rows * formats.tables.len()) as u64);
                report::write_all(&args.out, tables, &formats.tables, &|rows| {
                    writing.inc(rows)
                })
            })
        })?;
        let html = if formats.html {
            let context = report::html::Context {
                inputs: args.paths.iter().map(|p| p.display().to_string()).collect(),
                generated_at: chrono::Utc::now().timestamp_millis(),
                files_read,
                files_skipped: found.skipped,
            };
            let staged = report::html::stage(&args.out, &analysis, &config, &context)
                .context("cannot write the HTML report")?;
            Some(staged)
        } else {
            None
        };
        written = sessionstats::fsutil::wait_all(committing)?;
        if let Some(staged) = html {
            let path = staged.path().to_path_buf();
            staged.commit().context("cannot write the HTML report")?;
            written.push(path);
        }
        writing.finish_and_clear();
        let manifest = Manifest {
            args,
            parquet,
            config: &config,
            as_of: &as_of,
            analysis: &analysis,
            files_read,
            files_skipped: found.skipped,
            written: &written,
            complete: outcome == Outcome::Complete && args.upstream_failures == 0,
        };
        written.push(folder::write_manifest(&args.out, &manifest.to_json())?);
        folder::remove_stale(&args.out, &written)?;
    } else {
        // Nothing to write; the (empty) rollups still give the summary its figures.
        pool.install(|| analysis.roll_up_while_writing(&config, |_| Ok(Vec::<PathBuf>::new())))?;
        remove_if_created(&args.out, created_out);
    }

    {
        let summary = Summary {
            analysis: &analysis,
            files_read,
            files_skipped: found.skipped,
            config: &config,
            as_of: &as_of,
            elapsed_s: started.elapsed().as_secs_f64(),
            written: &written,
            out: &args.out,
        };
        super::say(&summary);
        for warning in summary.warnings() {
            super::warn(warning);
        }
    }
    if outcome == Outcome::Failed {
        super::warn(format_args!(
            "error: no session could be analyzed from {}: {}; no report was written{}",
            describe_paths(&args.paths),
            if analysis.rejects.is_empty() {
                "no .json, .ndjson or .jsonl file (or .gz of them) was found; check the path"
                    .to_owned()
            } else {
                format!(
                    "{} rejected and nothing else held a session ({})",
                    if analysis.rejects.len() == 1 {
                        "1 input was".to_owned()
                    } else {
                        format!("{} inputs were", analysis.rejects.len())
                    },
                    if super::quiet() {
                        "run it without --quiet to see the reasons"
                    } else {
                        "the reasons are listed above"
                    }
                )
            },
            if created_out {
                String::new()
            } else {
                format!(" and {} is as it was", path_for_terminal(&args.out))
            }
        ));
    }
    Ok((outcome, analysis.rolled.tables.headline()))
}

/// The path that means standard input.
const STDIN: &str = "-";

/// Copies standard input (NDJSON, or a gzip of it) to a hidden temporary file in `dir`, so it
/// is read like any file; says whether it is gzip. The copy is removed when dropped.
fn copy_stdin(dir: &Path) -> Result<(tempfile::NamedTempFile, bool)> {
    let mut copy = tempfile::Builder::new()
        .prefix(".stdin-")
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "cannot create a temporary file in {}",
                path_for_terminal(dir)
            )
        })?;
    std::io::copy(&mut std::io::stdin().lock(), copy.as_file_mut())
        .context("cannot read standard input (is the disk full?)")?;
    let mut magic = [0u8; 2];
    let gzip = {
        use std::io::{Read, Seek};
        let file = copy.as_file_mut();
        file.rewind()?;
        file.read(&mut magic)? == 2 && magic == [0x1f, 0x8b]
    };
    Ok((copy, gzip))
}

/// Removes the report folder if this run created it and left nothing in it.
fn remove_if_created(out: &Path, created: bool) {
    if created {
        let _ = std::fs::remove_dir(out);
    }
}

/// Where as-of comes from (docs/reference.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AsOf {
    /// An RFC 3339 instant, or a date meaning local midnight in --tz.
    Given(Millis),
    /// The latest instant in the input.
    Latest,
    /// The moment the run started.
    Now,
}

impl AsOf {
    fn parse(arg: Option<&str>, config: &Config) -> Result<AsOf> {
        match arg.map(str::trim) {
            None => Ok(AsOf::Now),
            Some("latest") => Ok(AsOf::Latest),
            Some("now") => Ok(AsOf::Now),
            Some(text) => config
                .calendar
                .parse_when(text)
                .map(AsOf::Given)
                .map_err(|e| {
                    anyhow!("--as-of: {e}, or `latest` (the latest instant in the input)")
                }),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            AsOf::Given(_) => "given",
            AsOf::Latest => "latest instant in the input",
            AsOf::Now => "now, when the run started",
        }
    }
}

/// What `manifest.json` records about a run.
struct Manifest<'a> {
    args: &'a AnalyzeArgs,
    /// How Parquet was asked to be written (recorded only when it was).
    parquet: ParquetOptions,
    config: &'a Config,
    as_of: &'a AsOf,
    analysis: &'a Analysis,
    files_read: usize,
    files_skipped: usize,
    written: &'a [PathBuf],
    complete: bool,
}

impl Manifest<'_> {
    fn to_json(&self) -> serde_json::Value {
        let a = self.analysis;
        let headline = a.rolled.tables.headline();
        let wrote_parquet = self
            .written
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "parquet"));
        let name = |p: &PathBuf| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        serde_json::json!({
            "tool": "sessionstats",
            "version": env!("CARGO_PKG_VERSION"),
            "generated_at": to_rfc3339(chrono::Utc::now().timestamp_millis()),
            "inputs": self.args.paths.iter().map(|p| p.to_string_lossy().into_owned()).collect::<Vec<_>>(),
            "options": {
                "format": self.args.format,
                "parquet_compression": wrote_parquet.then(|| self.parquet.compression.to_string()),
                "parquet_integers": wrote_parquet.then(|| self.parquet.integers.to_string()),
                "as_of": self.args.as_of,
                "present": self.config.present.to_string(),
                "tz": self.config.calendar.zone.name(),
                "period": self.config.calendar.kind.name(),
                "since": self.config.since.map(to_rfc3339),
                "until": self.config.until.map(to_rfc3339),
                "quota": self.config.quota,
                "max_pair_participants": self.config.max_pair_participants,
                "reports": self.args.reports,
            },
            "as_of": to_rfc3339(self.config.as_of),
            "as_of_from": self.as_of.describe(),
            "zone": self.config.calendar.zone.name(),
            "counts": {
                "files_read": self.files_read,
                "files_skipped": self.files_skipped,
                "sessions": a.sessions.len(),
                "ongoing_sessions": headline.ongoing,
                "duplicates_dropped": a.duplicates_dropped,
                "outside_window": a.outside_window,
                "rejects": a.rejects.len(),
                "participant_ms": headline.participant_ms,
                "upstream_failures": self.args.upstream_failures,
            },
            "complete": self.complete,
            "files": self.written.iter().map(name).collect::<Vec<_>>(),
        })
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

/// A bar while `files` are read (`doing` them), in bytes as stored, so that one big file moves
/// it too.
fn progress_bar(files: &[InputFile], doing: &str) -> ProgressBar {
    if !super::shows_progress() {
        return ProgressBar::hidden();
    }
    let size = |file: &InputFile| std::fs::metadata(&file.path).map_or(0, |m| m.len());
    let bar = ProgressBar::new(files.iter().map(size).sum());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {msg}: {binary_bytes}/{binary_total_bytes} [{bar:30}] {percent}% eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(match files.len() {
        1 => format!("{doing} 1 file"),
        n => format!("{doing} {n} files"),
    });
    bar
}

/// The reading bar, told what is read (a `.json` array's bytes count twice: checked, then read).
struct BytesRead<'b>(&'b ProgressBar);

impl ReadProgress for BytesRead<'_> {
    fn read(&self, bytes: u64) {
        self.0.inc(bytes);
    }
    fn read_again(&self, bytes: u64) {
        self.0.inc_length(bytes);
    }
}

/// A bar while the reports are written, counting rows (of every file: a table written as CSV
/// and Parquet counts twice).
/// The bar of the rows written; its length grows as each batch of tables is known (the
/// rollup tables' rows only once the rollups are made).
fn writing_bar(formats: &Formats) -> ProgressBar {
    if !super::shows_progress() || formats.tables.is_empty() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} writing the reports {human_pos}/{human_len} rows [{bar:30}] {percent}%",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
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
    as_of: &'a AsOf,
    elapsed_s: f64,
    written: &'a [PathBuf],
    out: &'a Path,
}

/// A share of ongoing sessions' participant time above which the summary warns about as-of.
const LARGE_ONGOING_SHARE: f64 = 0.2;

/// `12.35` participant-hours from milliseconds.
pub fn hours(ms: i64) -> String {
    format!("{:.2}", ms as f64 / 3_600_000.0)
}

/// `7 participants at 2024-05-01T10:00:00.000Z`, or `nobody was present`.
pub fn describe_peak(headline: &Headline) -> String {
    if !headline.account_known {
        return "not computed (--reports without account_concurrency or usage)".to_owned();
    }
    match headline.peak {
        Some(peak) => format!(
            "{} at {}",
            count(
                usize::try_from(peak.concurrency).unwrap_or(usize::MAX),
                "participant"
            ),
            to_rfc3339(peak.changed_at)
        ),
        None => "nobody was present".to_owned(),
    }
}

/// How many rejects and skipped sessions are named one by one before "and N more".
const LISTED: usize = 5;
// The rollup pass keeps the ids of that many sessions whose pairs were skipped.
const _: () = assert!(LISTED <= sessionstats::analysis::overview::SKIPPED_SHOWN);

/// "1 session", "2 sessions".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl Summary<'_> {
    /// The share of the participant time that belongs to sessions closed at as-of.
    fn ongoing_share(&self) -> f64 {
        let headline = self.analysis.rolled.tables.headline();
        if headline.participant_ms > 0 {
            headline.ongoing_participant_ms as f64 / headline.participant_ms as f64
        } else {
            0.0
        }
    }

    /// What may make the figures wrong: an as-of far from the data. For stderr, with or
    /// without `--quiet`.
    fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let ongoing_share = self.ongoing_share();
        if self.analysis.rolled.tables.headline().ongoing > 0
            && ongoing_share >= LARGE_ONGOING_SHARE
        {
            warnings.push(format!(
                "warning: {:.1}% of the participant time belongs to sessions still ongoing, closed \
                 at as-of {}; for an old export give --as-of latest (or the moment it was made)",
                100.0 * ongoing_share,
                to_rfc3339(self.config.as_of)
            ));
        }
        if self.analysis.stale_ongoing > 0 {
            warnings.push(format!(
                "warning: as-of lies more than a day after the last recorded instant of {}; \
                 give --as-of latest (or the moment the export was made)",
                count(self.analysis.stale_ongoing, "ongoing session")
            ));
        }
        warnings
    }
}

impl std::fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.analysis;
        let headline = a.rolled.tables.headline();
        let row = |f: &mut std::fmt::Formatter<'_>, label: &str, value: std::fmt::Arguments<'_>| {
            writeln!(f, "  {:<20}{value}", format!("{label}:"))
        };
        writeln!(
            f,
            "analyzed {} from {} in {:.2} s",
            count(a.sessions.len(), "session"),
            count(self.files_read, "file"),
            self.elapsed_s
        )?;
        row(
            f,
            "as-of",
            format_args!(
                "{} ({})",
                to_rfc3339(self.config.as_of),
                self.as_of.describe()
            ),
        )?;
        let ongoing_share = self.ongoing_share();
        if headline.ongoing > 0 {
            row(
                f,
                "closed at as-of",
                format_args!(
                    "{} still ongoing, {:.1}% of participant time",
                    count(headline.ongoing as usize, "session"),
                    100.0 * ongoing_share
                ),
            )?;
        }
        if self.config.since.is_some() || self.config.until.is_some() {
            row(
                f,
                "outside the window",
                format_args!(
                    "{} left out (started outside [{}, {}))",
                    count(a.outside_window, "session"),
                    self.config.since.map_or("…".to_owned(), to_rfc3339),
                    self.config.until.map_or("…".to_owned(), to_rfc3339),
                ),
            )?;
        }
        row(
            f,
            "participant-hours",
            format_args!("{}", hours(headline.participant_ms)),
        )?;
        row(
            f,
            "present",
            format_args!(
                "{} of {} participants (threshold {})",
                headline.present, headline.participants, self.config.present
            ),
        )?;
        row(
            f,
            "account peak",
            format_args!("{}", describe_peak(&headline)),
        )?;
        if let (Some(over), Some(quota)) = (headline.over_quota_ms, self.config.quota) {
            row(
                f,
                "over the quota",
                format_args!("{} above {quota} participants", describe_duration(over)),
            )?;
        }
        if self.files_skipped > 0 {
            row(
                f,
                "files skipped",
                format_args!(
                    "{} (not .json, .ndjson, .jsonl or .gz of those)",
                    self.files_skipped
                ),
            )?;
        }
        if a.duplicates_dropped > 0 {
            row(
                f,
                "duplicates dropped",
                format_args!("{}", a.duplicates_dropped),
            )?;
        }
        if !a.rejects.is_empty() {
            row(f, "rejected input", format_args!("{}", a.rejects.len()))?;
            for reject in a.rejects.iter().take(LISTED) {
                let line = reject.line.map(|l| format!(":{l}")).unwrap_or_default();
                let reason = reject.reason.to_string();
                // The path whole (its file name is at its end), the reason cut short.
                let path = escape_for_terminal(&reject.path);
                writeln!(f, "    {path}{line}: {}", shown(&reason))?;
            }
            if a.rejects.len() > LISTED {
                writeln!(
                    f,
                    "    … and {} more in {}",
                    a.rejects.len() - LISTED,
                    path_for_terminal(&self.out.join("rejects.*"))
                )?;
            }
        }
        let overview = &a.rolled.overview;
        let skipped = usize::try_from(overview.pairs_skipped).unwrap_or_default();
        if skipped > 0 {
            let named: Vec<_> = overview
                .pairs_skipped_ids
                .iter()
                .take(LISTED)
                .map(|id| shown(id))
                .collect();
            let mut names = named.join(", ");
            if skipped > named.len() {
                names.push_str(&format!(" and {} more", skipped - named.len()));
            }
            row(
                f,
                "pairs skipped",
                format_args!(
                    "{} with more than {} participants: {names}",
                    count(skipped, "session"),
                    self.config.max_pair_participants
                ),
            )?;
        }
        if !self.written.is_empty() {
            writeln!(f, "  wrote:")?;
            for path in self.written {
                writeln!(f, "    {}", path_for_terminal(path))?;
            }
        }
        Ok(())
    }
}
