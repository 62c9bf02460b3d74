//! Flags shared by `fetch` and `run` (and the keys of `run`'s config file): which sessions
//! to list and how hard to use the API. They become the library's `Listing` and `Settings`.
use anyhow::{bail, Result};
use serde::Deserialize;
use sessionstats::fetch::client::{
    Settings, DEFAULT_API_URL, DEFAULT_CONCURRENCY, DEFAULT_MAX_BODY_BYTES, DEFAULT_RETRIES,
    DEFAULT_RETRY_DELAY, DEFAULT_TIMEOUT, MAX_RATE, MIN_RATE,
};
use sessionstats::fetch::plan::{self, Listing, DEFAULT_PER_PAGE};
use std::time::Duration;

/// `--concurrency` at most: more requests in flight than this only meet the rate limit sooner.
const MAX_CONCURRENCY: usize = 1024;

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
    #[arg(long, env = "VIDEOSDK_API_ENDPOINT", value_name = "URL", help = format!("API base URL [default: {DEFAULT_API_URL}]"))]
    pub api_url: Option<String>,
    #[arg(long, value_name = "N", help = format!("Requests in flight at most, 1 to {MAX_CONCURRENCY} [default: {DEFAULT_CONCURRENCY}]"))]
    pub concurrency: Option<usize>,
    #[arg(long, value_name = "PER_SECOND", help = format!(
        "Requests started per second at most, from {MIN_RATE:.6} (one an hour) to {MAX_RATE} \
         [default: no limit]"
    ))]
    pub rate: Option<f64>,
    #[arg(long, value_name = "SECONDS", help = format!(
        "Seconds one request may take, from connecting to the last byte [default: {}]",
        DEFAULT_TIMEOUT.as_secs()
    ))]
    pub timeout: Option<f64>,
    #[arg(long, value_name = "N", help = format!(
        "Retries of a request that timed out, lost its connection, got a 5xx or 429 or an \
         unusable answer [default: {DEFAULT_RETRIES}]"
    ))]
    pub retries: Option<u32>,
    #[arg(long, value_name = "SECONDS", help = format!(
        "Seconds before the first retry; doubled for each further one, with jitter [default: {}]",
        DEFAULT_RETRY_DELAY.as_secs()
    ))]
    pub retry_delay: Option<f64>,
    #[arg(long, value_name = "N", help = format!("Sessions per list page [default: {DEFAULT_PER_PAGE}]"))]
    pub per_page: Option<u32>,
    #[arg(long, value_name = "SIZE", help = format!(
        "Largest API answer read; a larger one is a failed request. Bytes, or with K, M or G \
         [default: {}M]",
        DEFAULT_MAX_BODY_BYTES >> 20
    ))]
    pub max_body_size: Option<String>,
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
            max_body_size: self.max_body_size.or(other.max_body_size),
        }
    }

    pub fn settings(&self) -> Result<Settings> {
        let defaults = Settings::default();
        let concurrency = self.concurrency.unwrap_or(defaults.concurrency);
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            bail!("--concurrency must be 1 to {MAX_CONCURRENCY}, not {concurrency}");
        }
        if let Some(rate) = self.rate {
            if !(MIN_RATE..=MAX_RATE).contains(&rate) {
                bail!(
                    "--rate must be from {MIN_RATE:.6} (one request an hour) to {MAX_RATE} \
                     requests per second, not {rate}"
                );
            }
        }
        let api_url = self.api_url.clone().unwrap_or(defaults.api_url);
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
            timeout: match self.timeout {
                Some(value) => seconds(value, "timeout")?,
                None => defaults.timeout,
            },
            retries: self.retries.unwrap_or(defaults.retries),
            retry_delay: match self.retry_delay {
                Some(value) => seconds(value, "retry-delay")?,
                None => defaults.retry_delay,
            },
            max_body_bytes: match &self.max_body_size {
                Some(text) => super::parse_size(text, "--max-body-size")?,
                None => defaults.max_body_bytes,
            },
        })
    }

    fn per_page(&self) -> Result<u32> {
        match self.per_page.unwrap_or(DEFAULT_PER_PAGE) {
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
        let (since, until) = plan::window(self.since.as_deref(), self.until.as_deref())?;
        self.listing_in(load, since, until)
    }

    /// The listing these options ask for, in the window `[since, until)` (epoch ms) resolved
    /// by the caller.
    pub fn listing_in(
        &self,
        load: &LoadOptions,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Listing> {
        if let Some(status) = &self.status {
            if status != "ended" && status != "ongoing" {
                bail!("status must be ended or ongoing, not {status:?}");
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_outside_the_range_are_refused() {
        for rate in [1e-19, 1e-30, 0.0, -1.0, f64::NAN, f64::INFINITY, 1e7] {
            let load = LoadOptions {
                rate: Some(rate),
                ..LoadOptions::default()
            };
            let err = load.settings().unwrap_err().to_string();
            assert!(err.contains("--rate"), "{rate}: {err}");
        }
        for rate in [MIN_RATE, 0.5, 10.0, MAX_RATE] {
            let load = LoadOptions {
                rate: Some(rate),
                ..LoadOptions::default()
            };
            assert!(load.settings().is_ok(), "{rate}");
        }
    }
}
