//! `sessionstats fetch`: download session documents from the VideoSDK REST API into a folder.
use super::Outcome;
use crate::fetch::client::{Credentials, Settings, DEFAULT_API_URL};
use crate::fetch::plan::{self, ApiVersion, Listing};
use crate::fetch::progress::Progress;
use crate::fetch::{FetchConfig, Target};
use anyhow::{bail, Result};
use serde::Deserialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// Download session documents into DIR/<start day, UTC>/<session id>.json, resumably.
///
/// Credentials come from the environment: VIDEOSDK_TOKEN (a ready token), or VIDEOSDK_API_KEY
/// and VIDEOSDK_SECRET (a token is minted from them).
#[derive(Debug, Clone, clap::Args)]
pub struct FetchArgs {
    /// Store folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub select: SelectOptions,
    /// Fetch the session ids in FILE (one a line; - reads standard input) instead of listing.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["room", "custom_room_id", "since", "until", "status", "details"])]
    pub ids: Option<String>,
    /// Endpoint for --ids: v2 (GET /v2/sessions/:id) or v1 (GET /v1/meeting-sessions/:id).
    #[arg(long, value_enum, default_value = "v2", requires = "ids")]
    pub api: ApiVersion,
    #[command(flatten)]
    pub load: LoadOptions,
}

/// Which sessions to list (shared by `fetch` and `run`; `run`'s config file uses the same keys).
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct SelectOptions {
    /// Only sessions of this room (repeat for several rooms); default: every room.
    #[arg(long, value_name = "ID")]
    pub room: Vec<String>,
    /// Only sessions of the room with this custom room id.
    #[arg(long, value_name = "ID")]
    pub custom_room_id: Option<String>,
    /// Sessions that started at or after this date (YYYY-MM-DD, UTC) or RFC 3339 instant.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Sessions that started before this date (YYYY-MM-DD, UTC) or RFC 3339 instant.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only ended or only ongoing sessions.
    #[arg(long, value_parser = ["ended", "ongoing"])]
    pub status: Option<String>,
    /// GET each listed session instead of storing the copy on the list page.
    #[arg(long)]
    pub details: bool,
    /// Fetch again sessions already stored as ended.
    #[arg(long)]
    pub refresh: bool,
}

/// How hard to use the API (shared by `fetch` and `run`).
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct LoadOptions {
    /// API base URL [default: https://api.videosdk.live]
    #[arg(long, env = "VIDEOSDK_API_ENDPOINT", value_name = "URL")]
    pub api_url: Option<String>,
    /// Requests in flight at most [default: 8]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Requests started per second at most [default: no limit]
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<f64>,
    /// Seconds one request may take, from connecting to the last byte [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Retries of a request that timed out, lost its connection, got a 5xx or 429 or an
    /// unusable answer [default: 5]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Seconds before the first retry; doubled for each further one, with jitter [default: 1]
    #[arg(long, value_name = "SECONDS")]
    pub retry_delay: Option<f64>,
    /// Sessions per list page [default: 100]
    #[arg(long, value_name = "N")]
    pub per_page: Option<u32>,
}

/// A number of seconds as a duration, or a message naming the option.
fn seconds(value: f64, option: &str) -> Result<Duration> {
    match Duration::try_from_secs_f64(value) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => bail!("--{option} must be a positive number of seconds, not {value}"),
    }
}

impl LoadOptions {
    /// Values from `other` (a config file) where this one has none.
    pub fn or(self, other: LoadOptions) -> LoadOptions {
        LoadOptions {
            api_url: self.api_url.or(other.api_url),
            concurrency: self.concurrency.or(other.concurrency),
            rate: self.rate.or(other.rate),
            timeout: self.timeout.or(other.timeout),
            retries: self.retries.or(other.retries),
            retry_delay: self.retry_delay.or(other.retry_delay),
            per_page: self.per_page.or(other.per_page),
        }
    }

    pub fn settings(&self) -> Result<Settings> {
        let concurrency = self.concurrency.unwrap_or(8);
        if concurrency == 0 {
            bail!("--concurrency must be at least 1");
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                bail!("--rate must be a positive number of requests per second, not {rate}");
            }
        }
        let api_url = self
            .api_url
            .clone()
            .unwrap_or_else(|| DEFAULT_API_URL.to_string());
        let host = ["https://", "http://"]
            .iter()
            .find_map(|scheme| api_url.strip_prefix(scheme))
            .and_then(|rest| rest.split(['/', '?', '#']).next())
            .unwrap_or_default();
        if host.is_empty() {
            // Shown as given: a URL that is not one is no credential.
            bail!(
                "--api-url (or VIDEOSDK_API_ENDPOINT) must be an http:// or https:// URL, \
                 such as {DEFAULT_API_URL}; got {api_url:?}"
            );
        }
        Ok(Settings {
            api_url,
            concurrency,
            rate: self.rate,
            timeout: seconds(self.timeout.unwrap_or(30.0), "timeout")?,
            retries: self.retries.unwrap_or(5),
            retry_delay: seconds(self.retry_delay.unwrap_or(1.0), "retry-delay")?,
        })
    }

    fn per_page(&self) -> Result<u32> {
        match self.per_page.unwrap_or(100) {
            0 => bail!("--per-page must be at least 1"),
            n => Ok(n),
        }
    }
}

impl SelectOptions {
    /// Values from `other` (a config file) where this one has none.
    pub fn or(self, other: SelectOptions) -> SelectOptions {
        SelectOptions {
            room: if self.room.is_empty() {
                other.room
            } else {
                self.room
            },
            custom_room_id: self.custom_room_id.or(other.custom_room_id),
            since: self.since.or(other.since),
            until: self.until.or(other.until),
            status: self.status.or(other.status),
            details: self.details || other.details,
            refresh: self.refresh || other.refresh,
        }
    }

    /// The listing these options ask for.
    pub fn listing(&self, load: &LoadOptions) -> Result<Listing> {
        if let Some(status) = &self.status {
            if status != "ended" && status != "ongoing" {
                bail!("status must be ended or ongoing, not {status:?}");
            }
        }
        let (since, until) = plan::window(self.since.as_deref(), self.until.as_deref())?;
        Ok(Listing {
            rooms: self.room.clone(),
            custom_room_id: self.custom_room_id.clone(),
            since,
            until,
            status: self.status.clone(),
            per_page: load.per_page()?,
        })
    }
}

/// Runs a fetch with progress on stderr (bars on a terminal) and prints the summary.
pub fn run_fetch(config: &FetchConfig) -> Result<Outcome> {
    let credentials = Credentials::from_env()?;
    let progress = Progress::new(std::io::stderr().is_terminal());
    let summary = crate::fetch::fetch(config, &credentials, progress)?;
    super::say(format_args!("{}\n", summary.render()));
    Ok(summary.outcome())
}

pub fn execute(args: &FetchArgs) -> Result<Outcome> {
    let target = match &args.ids {
        Some(source) => Target::Ids {
            ids: plan::read_ids(source)?,
            api: args.api,
        },
        None => Target::List(args.select.listing(&args.load)?),
    };
    let config = FetchConfig {
        out: args.out.clone(),
        target,
        details: args.select.details,
        refresh: args.select.refresh,
        settings: args.load.settings()?,
    };
    run_fetch(&config)
}
