//! `sessionstats analyze`: read session documents, compute the metrics, write the reports.
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sessionstats::analysis::period::{parse_zone, PeriodKind};
use sessionstats::analysis::presence::Threshold;
use sessionstats::analysis::rollups::Headline;
use sessionstats::analysis::{Config, DEFAULT_MAX_PAIR_PARTICIPANTS};
use sessionstats::ingest::walk::discover;
use sessionstats::ingest::Limits;
use sessionstats::outcome::Outcome;
use sessionstats::pipeline::{analyze_files, Analysis};
use sessionstats::report::{self, Table};
use sessionstats::text::{escape_for_terminal as shown, path_for_terminal};
use sessionstats::time::{describe_duration, parse_rfc3339, to_rfc3339, Millis};
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
    /// Report formats: csv, parquet, html (report.html: one page with charts), or several,
    /// comma-separated, such as csv,html.
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
    #[command(flatten)]
    pub answers: AnswerOptions,
    /// Keep only sessions that started at or after WHEN: an RFC 3339 instant, or a date
    /// (2024-05-31) meaning local midnight in --tz.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Keep only sessions that started before WHEN (as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
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
    let formats = report::parse_formats(&args.format)?;
    let mut config = Config::new(as_of(args.as_of.as_deref())?);
    config.max_pair_participants = args.max_pair_participants;
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
    let mut written = pool.install(|| report::write_all(&args.out, &tables, &formats.tables))?;
    if formats.html {
        let context = report::html::Context {
            inputs: args.paths.iter().map(|p| p.display().to_string()).collect(),
            generated_at: chrono::Utc::now().timestamp_millis(),
            files_read,
            files_skipped: found.skipped,
        };
        written.push(
            report::html::write(&args.out, &analysis, &config, &context)
                .context("cannot write the HTML report")?,
        );
    }
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
    Ok((outcome, analysis.rollups.headline()))
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

/// `12.35` participant-hours from milliseconds.
pub fn hours(ms: i64) -> String {
    format!("{:.2}", ms as f64 / 3_600_000.0)
}

/// `7 participants at 2024-05-01T10:00:00.000Z`, or `nobody was present`.
pub fn describe_peak(headline: &Headline) -> String {
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
        if a.outside_window > 0 || self.config.since.is_some() || self.config.until.is_some() {
            writeln!(
                f,
                "  outside the window: {} left out (started outside [{}, {}))",
                count(a.outside_window, "session"),
                self.config.since.map_or("…".to_owned(), to_rfc3339),
                self.config.until.map_or("…".to_owned(), to_rfc3339),
            )?;
        }
        let headline = a.rollups.headline();
        writeln!(
            f,
            "  participant-hours:  {}",
            hours(headline.participant_ms)
        )?;
        writeln!(
            f,
            "  present:            {} of {} participants (threshold {})",
            headline.present, headline.participants, self.config.present
        )?;
        writeln!(f, "  account peak:       {}", describe_peak(&headline))?;
        if let Some(over) = headline.over_quota_ms {
            writeln!(
                f,
                "  over quota ({}):    {}",
                self.config.quota.unwrap_or_default(),
                describe_duration(over)
            )?;
        }
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
