//! `sessionstats run`: the nightly job. Fetch a window of sessions into the store, then
//! analyze the store's day folders of that window into a dated report folder.
use super::analyze::{self, AnalyzeArgs, AnswerOptions};
use super::fetch::fetch_and_summarize;
use super::options::{LoadOptions, SelectOptions};
use anyhow::{bail, Context, Result};
use chrono::{Duration as Days, Utc};
use serde::Deserialize;
use sessionstats::analysis::period::{parse_zone, Calendar, PeriodKind};
use sessionstats::analysis::DEFAULT_MAX_PAIR_PARTICIPANTS;
use sessionstats::fetch::store::FAILURES_FILE;
use sessionstats::fetch::{FetchConfig, Target};
use sessionstats::outcome::Outcome;
use sessionstats::report::{ParquetCompression, ParquetIntegers, DEFAULT_FORMATS};
use sessionstats::text::path_for_terminal;
use sessionstats::time::{describe_duration, to_rfc3339, utc_date, Millis};
use std::path::{Path, PathBuf};

/// Fetch a window of sessions (default: the previous local day in --tz), then analyze
/// exactly the sessions that started in it.
///
/// Every option can also come from a TOML file (--config) whose keys are the long option
/// names (out = "/data/sessions", concurrency = 4, room = ["a", "b"], …); the command line wins.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct RunArgs {
    /// TOML file with options (keys: the long option names, without --).
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Store folder (the --out of fetch) [required here or in the config file]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Folder under which each run writes its reports, in a folder named after the window
    /// [default: reports]
    #[arg(long, value_name = "DIR")]
    pub reports: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    pub select: SelectOptions,
    #[command(flatten)]
    #[serde(flatten)]
    pub load: LoadOptions,
    #[arg(long, value_name = "FORMATS", help = format!(
        "Report formats: csv, parquet, html, or several, such as csv,html [default: {DEFAULT_FORMATS}]"
    ))]
    pub format: Option<String>,
    #[arg(long, value_name = "CODEC", help = analyze::parquet_compression_help())]
    #[cfg_attr(not(feature = "parquet"), arg(hide = true))]
    pub parquet_compression: Option<ParquetCompression>,
    #[arg(long, value_enum, ignore_case = true, value_name = "ENCODING", help = analyze::PARQUET_INTEGERS_HELP)]
    #[cfg_attr(not(feature = "parquet"), arg(hide = true))]
    pub parquet_integers: Option<ParquetIntegers>,
    #[arg(long, value_name = "N", help = format!(
        "Sessions with more participants get no pair rows in the overlaps report \
         [default: {DEFAULT_MAX_PAIR_PARTICIPANTS}]"
    ))]
    pub max_pair_participants: Option<usize>,
    #[command(flatten)]
    #[serde(flatten)]
    pub answers: AnswerOptions,
    /// Analysis worker threads [default: all cores]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

impl RunArgs {
    /// The options of the command line, completed by the config file if there is one.
    fn resolved(&self) -> Result<RunArgs> {
        let Some(path) = &self.config else {
            return Ok(self.clone());
        };
        let file = read_config(path)?;
        Ok(RunArgs {
            config: self.config.clone(),
            out: self.out.clone().or(file.out),
            reports: self.reports.clone().or(file.reports),
            select: self.select.clone().or(file.select),
            load: self.load.clone().or(file.load),
            format: self.format.clone().or(file.format),
            parquet_compression: self.parquet_compression.or(file.parquet_compression),
            parquet_integers: self.parquet_integers.or(file.parquet_integers),
            max_pair_participants: self.max_pair_participants.or(file.max_pair_participants),
            answers: self.answers.clone().or(file.answers),
            threads: self.threads.or(file.threads),
        })
    }
}

/// Reads a config file, refusing keys that are not long options of `run` (a typo must not
/// be ignored silently in a nightly job).
fn read_config(path: &Path) -> Result<RunArgs> {
    let shown = sessionstats::text::path_for_terminal(path);
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {shown}"))?;
    // toml's own message quotes the offending line, which may be a secret (`--config
    // credentials.env`, a slip the crontab line invites): only the place is said.
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|span| {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!(" at line {line}")
            })
            .unwrap_or_default();
        anyhow::anyhow!(
            "{shown} is not a TOML config file{at} (its lines are `key = value`, the keys the \
             long options of run; credentials belong in the environment, not here)"
        )
    })?;
    let command = <RunArgs as clap::Args>::augment_args(clap::Command::new("run"));
    let known: Vec<&str> = command
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|&long| long != "config")
        .collect();
    if let Some(key) = table.keys().find(|k| !known.contains(&k.as_str())) {
        bail!(
            "{shown}: unknown key {:?}; the keys are the long options of run: {}",
            sessionstats::text::escape_for_terminal(key),
            known.join(", ")
        );
    }
    // Each key on its own, so the error names the key; serde's message would quote the value.
    for (key, value) in &table {
        let mut one = toml::Table::new();
        one.insert(key.clone(), value.clone());
        if toml::Value::Table(one).try_into::<RunArgs>().is_err() {
            bail!("{shown}: `{key}` must be {}", expected_type(key));
        }
    }
    toml::Value::Table(table)
        .try_into()
        .map_err(|_| anyhow::anyhow!("{shown}: a value has the wrong type"))
}

/// What a config key holds, for the message about a value of the wrong type.
fn expected_type(key: &str) -> &'static str {
    match key {
        "room" => "a list of strings, such as [\"abcd-efgh-ijkl\"]",
        "concurrency" | "retries" | "per-page" | "max-pair-participants" | "threads" | "quota" => {
            "a whole number"
        }
        "rate" | "timeout" | "retry-delay" => "a number",
        "details" | "refresh" => "true or false",
        "status" => "\"ended\" or \"ongoing\"",
        "parquet-compression" => ParquetCompression::CHOICES,
        "parquet-integers" => ParquetIntegers::CHOICES,
        _ => "a string",
    }
}

/// The window `[since, until)` in epoch ms, parsed once: the options (dates are local
/// midnights in `days`' zone; `--since` alone runs until now), or the previous local day.
fn window(select: &SelectOptions, days: &Calendar, now: Millis) -> Result<(Millis, Millis)> {
    let parse = |text: &Option<String>, option: &str| {
        text.as_deref()
            .map(|t| days.parse_when(t))
            .transpose()
            .map_err(|e| anyhow::anyhow!("--{option}: {e}"))
    };
    let (since, until) = match (
        parse(&select.since, "since")?,
        parse(&select.until, "until")?,
    ) {
        (Some(since), Some(until)) => (since, until),
        (Some(since), None) if since < now => (since, now),
        (Some(_), None) => {
            bail!("--since lies in the future and no --until was given: the window would be empty")
        }
        (None, None) => {
            let today = days.period_of(now);
            (days.day_start(today - Days::days(1)), days.day_start(today))
        }
        (None, Some(_)) => bail!("--until needs --since in run (a report covers a bounded window)"),
    };
    if until <= since {
        bail!("--until must be after --since (the window is [since, until))");
    }
    Ok((since, until))
}

/// The report folder name: the local day for a one-day window, else `FIRST_LAST` (local
/// days, inclusive).
fn report_name(since: Millis, until: Millis, days: &Calendar) -> String {
    let (first, last) = (days.period_of(since), days.period_of(until - 1));
    if first == last {
        first.to_string()
    } else {
        format!("{first}_{last}")
    }
}

/// The store's day folders the window touches (those that exist).
fn day_folders(store: &Path, since: i64, until: i64) -> Vec<PathBuf> {
    let (Some(mut d), Some(last)) = (utc_date(since), utc_date(until - 1)) else {
        return Vec::new();
    };
    let mut folders = Vec::new();
    while d <= last {
        let folder = store.join(d.to_string());
        if folder.is_dir() {
            folders.push(folder);
        }
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    folders
}

pub fn execute(args: &RunArgs) -> Result<Outcome> {
    let args = args.resolved()?;
    let Some(out) = args.out.clone() else {
        bail!("run needs the store folder: --out DIR, or out = \"DIR\" in the config file");
    };
    let zone = match &args.answers.tz {
        Some(name) => parse_zone(name).map_err(|e| anyhow::anyhow!(e))?,
        None => chrono_tz::Tz::UTC,
    };
    let days = Calendar {
        zone,
        kind: PeriodKind::Day,
    };
    let (since, until) = window(&args.select, &days, Utc::now().timestamp_millis())?;
    let listing = args
        .select
        .listing_in(&args.load, Some(since), Some(until))?;
    super::say(format_args!(
        "run: sessions started in [{}, {}) ({}), store {}\n",
        to_rfc3339(since),
        to_rfc3339(until),
        zone.name(),
        path_for_terminal(&out)
    ));
    // The report folder is checked before anything is fetched: a typo in --reports must not
    // cost a night's downloads.
    let reports_root = args
        .reports
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports"));
    let report = reports_root.join(report_name(since, until, &days));
    for folder in [&reports_root, &report] {
        if folder.exists() && !folder.is_dir() {
            bail!(
                "{} is a file, not a folder: --reports must name a folder",
                path_for_terminal(folder)
            );
        }
    }
    std::fs::create_dir_all(&reports_root).with_context(|| {
        format!(
            "cannot create the reports folder {}",
            path_for_terminal(&reports_root)
        )
    })?;
    let settings = args.load.settings()?;
    let summary = fetch_and_summarize(&FetchConfig {
        out: out.clone(),
        target: Target::List(listing),
        details: args.select.details,
        refresh: args.select.refresh,
        settings,
    })?;
    let fetched = summary.outcome();
    let failed = summary.failures.len();
    let failures_file = path_for_terminal(&out.join(FAILURES_FILE));

    let paths = day_folders(&out, since, until);
    if paths.is_empty() {
        if fetched == Outcome::Complete {
            super::say("run: no sessions stored for this window; no report written\n");
        } else {
            super::say(format_args!(
                "run: failed: {} (see {failures_file}); no report written\n",
                count_failures(failed)
            ));
        }
        return Ok(fetched);
    }
    let (analyzed, headline) = analyze::analyze(&AnalyzeArgs {
        paths,
        out: report.clone(),
        format: args
            .format
            .clone()
            .unwrap_or_else(|| DEFAULT_FORMATS.to_owned()),
        parquet_compression: args.parquet_compression,
        parquet_integers: args.parquet_integers,
        as_of: None,
        max_pair_participants: args
            .max_pair_participants
            .unwrap_or(DEFAULT_MAX_PAIR_PARTICIPANTS),
        answers: args.answers.clone(),
        since: Some(to_rfc3339(since)),
        until: Some(to_rfc3339(until)),
        threads: args.threads,
        max_document_size: None,
        upstream_failures: failed as u64,
        reports: None,
    })?;
    let outcome = fetched.max(analyzed);
    let verdict = match (outcome, failed) {
        (Outcome::Complete, _) => "complete".to_owned(),
        (Outcome::Partial, 0) => {
            "partial: some input was rejected (see the rejects report)".to_owned()
        }
        (Outcome::Partial, n) => format!(
            "partial: {} (see {failures_file}); the reports cover what was stored",
            count_failures(n)
        ),
        (Outcome::Failed, _) => "failed: see the messages above".to_owned(),
    };
    super::say(format_args!(
        "run: {} sessions, {} participant-hours, account peak {}{}\nrun: reports in {}; {verdict}\n",
        headline.sessions,
        analyze::hours(headline.participant_ms),
        analyze::describe_peak(&headline),
        headline
            .over_quota_ms
            .map(|ms| format!(", {} over quota", describe_duration(ms)))
            .unwrap_or_default(),
        path_for_terminal(&report)
    ));
    Ok(outcome)
}

/// "1 session or page failed to download", "3 sessions or pages failed to download".
fn count_failures(n: usize) -> String {
    if n == 1 {
        "1 session or page failed to download".to_owned()
    } else {
        format!("{n} sessions or pages failed to download")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionstats::time::parse_rfc3339;

    fn at(text: &str) -> Millis {
        parse_rfc3339(text).unwrap()
    }

    fn days(zone: &str) -> Calendar {
        Calendar {
            zone: parse_zone(zone).unwrap(),
            kind: PeriodKind::Day,
        }
    }

    #[test]
    fn default_window_is_the_previous_local_day() {
        let utc = days("UTC");
        let (since, until) =
            window(&SelectOptions::default(), &utc, at("2024-03-01T00:30:00Z")).unwrap();
        assert_eq!(to_rfc3339(since), "2024-02-29T00:00:00.000Z");
        assert_eq!(to_rfc3339(until), "2024-03-01T00:00:00.000Z");
        assert_eq!(report_name(since, until, &utc), "2024-02-29");
        // At 00:30 UTC it is already 09:30 in Tokyo: yesterday there is 2024-02-29 local,
        // which began at 15:00 UTC the day before.
        let tokyo = days("Asia/Tokyo");
        let (since, until) = window(
            &SelectOptions::default(),
            &tokyo,
            at("2024-03-01T00:30:00Z"),
        )
        .unwrap();
        assert_eq!(to_rfc3339(since), "2024-02-28T15:00:00.000Z");
        assert_eq!(to_rfc3339(until), "2024-02-29T15:00:00.000Z");
        assert_eq!(report_name(since, until, &tokyo), "2024-02-29");
        // A 23-hour local day in New York.
        let ny = days("America/New_York");
        let (since, until) =
            window(&SelectOptions::default(), &ny, at("2024-03-11T12:00:00Z")).unwrap();
        assert_eq!((until - since) / 3_600_000, 23);
    }

    #[test]
    fn explicit_windows_name_their_first_and_last_day() {
        let utc = days("UTC");
        let now = at("2024-06-01T00:00:00Z");
        let select = SelectOptions {
            since: Some("2024-01-01".into()),
            until: Some("2024-01-08".into()),
            ..SelectOptions::default()
        };
        let (since, until) = window(&select, &utc, now).unwrap();
        assert_eq!(report_name(since, until, &utc), "2024-01-01_2024-01-07");
        let only_until = SelectOptions {
            until: Some("2024-01-08".into()),
            ..SelectOptions::default()
        };
        assert!(window(&only_until, &utc, now).is_err());
        let future = SelectOptions {
            since: Some("2099-01-01".into()),
            ..SelectOptions::default()
        };
        let err = window(&future, &utc, now).unwrap_err().to_string();
        assert!(err.contains("future"), "{err}");
        let backwards = SelectOptions {
            since: Some("2024-01-08".into()),
            until: Some("2024-01-01".into()),
            ..SelectOptions::default()
        };
        assert!(window(&backwards, &utc, now).is_err());
    }

    #[test]
    fn day_folders_are_those_of_the_window_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["2024-01-01", "2024-01-02", "2024-01-04", "undated"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let names: Vec<_> = day_folders(
            dir.path(),
            at("2024-01-02T00:00:00Z"),
            at("2024-01-05T00:00:00Z"),
        )
        .into_iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
        assert_eq!(names, ["2024-01-02", "2024-01-04"]);
    }

    #[test]
    fn config_keys_are_the_long_options() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.toml");
        std::fs::write(
            &path,
            "out = \"/data/s\"\nroom = [\"a\", \"b\"]\nconcurrency = 4\nrate = 2.5\n\
             api-url = \"http://x\"\nrefresh = true\nformat = \"csv,parquet\"\n\
             parquet-compression = \"ZSTD:5\"\nparquet-integers = \"Plain\"\n",
        )
        .unwrap();
        let cli = RunArgs {
            config: Some(path.clone()),
            format: Some("parquet".into()),
            ..RunArgs::default()
        };
        let args = cli.resolved().unwrap();
        assert_eq!(args.out, Some(PathBuf::from("/data/s")));
        assert_eq!(args.select.room, ["a", "b"]);
        assert_eq!(args.load.concurrency, Some(4));
        assert_eq!(args.load.rate, Some(2.5));
        assert_eq!(args.load.api_url.as_deref(), Some("http://x"));
        assert!(args.select.refresh);
        assert_eq!(args.parquet_compression, Some("zstd:5".parse().unwrap()));
        assert_eq!(args.parquet_integers, Some(ParquetIntegers::Plain));
        assert_eq!(
            args.format.as_deref(),
            Some("parquet"),
            "the command line wins"
        );

        std::fs::write(&path, "concurency = 4\n").unwrap();
        let err = format!("{:#}", cli.resolved().unwrap_err());
        assert!(err.contains("unknown key \"concurency\""), "{err}");
    }

    #[test]
    fn config_errors_name_the_key_and_type_never_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.env");
        let cli = RunArgs {
            config: Some(path.clone()),
            ..RunArgs::default()
        };
        std::fs::write(&path, "export VIDEOSDK_SECRET=s3cr3t-value\n").unwrap();
        let err = format!("{:#}", cli.resolved().unwrap_err());
        assert!(!err.contains("s3cr3t") && !err.contains("export"), "{err}");
        assert!(err.contains("line 1"), "{err}");
        for (key, expected) in [
            ("concurrency", "`concurrency` must be a whole number"),
            (
                "parquet-compression",
                "`parquet-compression` must be zstd, zstd:LEVEL (1 to 22), snappy",
            ),
            (
                "parquet-integers",
                "`parquet-integers` must be delta or plain",
            ),
        ] {
            std::fs::write(&path, format!("{key} = \"s3cr3t-value\"\n")).unwrap();
            let err = format!("{:#}", cli.resolved().unwrap_err());
            assert!(!err.contains("s3cr3t"), "{err}");
            assert!(err.contains(expected), "{err}");
        }
    }
}
