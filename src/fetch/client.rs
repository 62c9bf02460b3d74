//! Requests to the VideoSDK REST API.
//!
//! The official SDK (`videosdk-server-sdk`) does what it does well: it mints and refreshes the
//! JWT from `VIDEOSDK_API_KEY`/`VIDEOSDK_SECRET` (or carries a ready token), sends it as a raw
//! `Authorization` header, applies the base URL and the per-request timeout, and turns answers
//! into typed errors (status, parsed `Retry-After`). We call its raw escape hatch
//! (`client.api().get` with `Expect::Text`) because the store keeps documents byte for byte,
//! which its typed `sessions()` resource (decoded and normalised) cannot give.
//!
//! Its own retry loop is switched off (`max_retries(0)`) and replaced by [`Api::get`], because
//! that loop cannot: put each attempt through our concurrency and rate limits, count retries,
//! retry an unusable (truncated) body, or release the in-flight slot while backing off.
use super::limiter::Limiter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use videosdk::{Expect, RawRequest, Value};

/// The production API.
pub const DEFAULT_API_URL: &str = "https://api.videosdk.live";
/// Requests in flight at most, unless `--concurrency` says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// One request's time limit, unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Retries of one request, unless `--retries` says otherwise.
pub const DEFAULT_RETRIES: u32 = 5;
/// The first backoff step, unless `--retry-delay` says otherwise.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Characters of a server's error message kept in a failure reason.
const MAX_MESSAGE_CHARS: usize = 200;
/// The longest `Retry-After` honoured as given; longer ones are cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// The longest exponential backoff step.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How requests are authorised. Never printed: `Debug` shows only which kind it is.
pub enum Credentials {
    /// A ready JWT from `VIDEOSDK_TOKEN`.
    Token(String),
    /// Key and secret from `VIDEOSDK_API_KEY` and `VIDEOSDK_SECRET`: the SDK mints the token.
    KeyAndSecret { key: String, secret: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::Token(_) => "Credentials::Token(..)",
            Credentials::KeyAndSecret { .. } => "Credentials::KeyAndSecret(..)",
        })
    }
}

/// What to do about missing or refused credentials, for every message that needs it.
pub const CREDENTIALS_HINT: &str =
    "set VIDEOSDK_TOKEN to an API token, or VIDEOSDK_API_KEY and VIDEOSDK_SECRET to your project's \
     API key and secret";

impl Credentials {
    /// `VIDEOSDK_TOKEN` wins; otherwise both `VIDEOSDK_API_KEY` and `VIDEOSDK_SECRET`.
    pub fn from_env() -> anyhow::Result<Credentials> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(token) = var("VIDEOSDK_TOKEN") {
            return Ok(Credentials::Token(token.trim().to_string()));
        }
        match (var("VIDEOSDK_API_KEY"), var("VIDEOSDK_SECRET")) {
            (Some(key), Some(secret)) => Ok(Credentials::KeyAndSecret { key, secret }),
            _ => anyhow::bail!("no API credentials: {CREDENTIALS_HINT}"),
        }
    }
}

/// How requests are made and retried.
#[derive(Debug, Clone)]
pub struct Settings {
    pub api_url: String,
    pub concurrency: usize,
    /// Requests started per second at most; `None`: no limit.
    pub rate: Option<f64>,
    /// Per attempt, connecting to reading the last byte.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first backoff step; it doubles with each retry.
    pub retry_delay: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            api_url: DEFAULT_API_URL.to_owned(),
            concurrency: DEFAULT_CONCURRENCY,
            rate: None,
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            retry_delay: DEFAULT_RETRY_DELAY,
        }
    }
}

/// Why a request gave nothing usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    /// Refused credentials (401/403) or a client that cannot authorise: the run stops.
    Fatal(String),
    /// This request failed for good (after retries where they help): recorded, the run goes on.
    Failed(String),
}

/// One attempt's result.
enum Attempt {
    Done(String),
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    GiveUp(String),
    Fatal(String),
}

/// The API client of one run, shared by all its tasks.
pub struct Api {
    sdk: videosdk::Client,
    limiter: Limiter,
    retries: u32,
    retry_delay: Duration,
    requests: AtomicU64,
    retried: AtomicU64,
    /// Set by the first fatal answer: every later request stops at once with it.
    fatal: OnceLock<String>,
}

impl Api {
    pub fn new(credentials: &Credentials, settings: &Settings) -> anyhow::Result<Api> {
        let builder = videosdk::Client::builder()
            .base_url(settings.api_url.trim_end_matches('/'))
            .request_timeout(settings.timeout)
            .max_retries(0);
        let builder = match credentials {
            Credentials::Token(token) => builder.token(token),
            Credentials::KeyAndSecret { key, secret } => builder.api_key(key).secret(secret),
        };
        // The SDK's configuration errors name what is wrong, never the secret's value.
        let sdk = builder
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the API client: {e}"))?;
        Ok(Api {
            sdk,
            limiter: Limiter::new(settings.concurrency, settings.rate),
            retries: settings.retries,
            retry_delay: settings.retry_delay,
            requests: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            fatal: OnceLock::new(),
        })
    }

    /// Requests sent so far (every attempt counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Attempts that were retries.
    pub fn retries(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    /// `GET path?query` with retries. `usable` checks the body (a reason when it is not), and
    /// an unusable body is retried like a broken connection: it is usually a truncated answer.
    pub async fn get(
        &self,
        path: &str,
        query: &[(String, String)],
        usable: impl Fn(&str) -> Result<(), String>,
    ) -> Result<String, GetError> {
        let mut attempt = 0;
        loop {
            if let Some(reason) = self.fatal.get() {
                return Err(GetError::Fatal(reason.clone()));
            }
            let result = {
                let _slot = self.limiter.acquire().await;
                // Waiting for the slot may have outlasted the run.
                if let Some(reason) = self.fatal.get() {
                    return Err(GetError::Fatal(reason.clone()));
                }
                self.requests.fetch_add(1, Ordering::Relaxed);
                let result = self.attempt(path, query).await;
                // `Retry-After` is about the client, not this request: no other request
                // starts before it has passed (set before this slot is given up).
                if let Attempt::Retry {
                    after: Some(after), ..
                } = &result
                {
                    let pause = (*after).min(MAX_RETRY_AFTER);
                    self.limiter
                        .pause_until(tokio::time::Instant::now() + pause);
                }
                result
            };
            let (reason, after) = match result {
                Attempt::Done(body) => match usable(&body) {
                    Ok(()) => return Ok(body),
                    Err(reason) => (format!("unusable answer: {reason}"), None),
                },
                Attempt::Retry { reason, after } => (reason, after),
                Attempt::GiveUp(reason) => return Err(GetError::Failed(reason)),
                Attempt::Fatal(reason) => {
                    let reason = self.fatal.get_or_init(|| reason).clone();
                    return Err(GetError::Fatal(reason));
                }
            };
            if attempt >= self.retries {
                let tries = attempt + 1;
                let s = if tries == 1 { "" } else { "s" };
                return Err(GetError::Failed(format!("{reason} ({tries} attempt{s})")));
            }
            let delay = match after {
                Some(after) => retry_after_delay(after),
                None => backoff(self.retry_delay, attempt),
            };
            self.retried.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(&self, path: &str, query: &[(String, String)]) -> Attempt {
        let request = RawRequest {
            query: query.to_vec(),
            expect: Expect::Text,
            ..RawRequest::default()
        };
        match self.sdk.api().get(path, request).await {
            Ok(Value::String(body)) => Attempt::Done(body),
            // `Expect::Text` always answers with a string; anything else is a body we cannot use.
            Ok(_) => Attempt::Done(String::new()),
            Err(err) => classify(&err, path),
        }
    }
}

/// Sorts an SDK error into what the run does about it.
fn classify(err: &videosdk::Error, path: &str) -> Attempt {
    match err {
        videosdk::Error::Api(api) => {
            let message = api.message.trim();
            let message: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
            let reason = if message.is_empty() {
                format!("HTTP {}", api.status)
            } else {
                format!("HTTP {}: {message}", api.status)
            };
            match api.status {
                401 | 403 => Attempt::Fatal(format!(
                    "the API refused the credentials (HTTP {} on GET {path}): {CREDENTIALS_HINT}",
                    api.status
                )),
                429 => Attempt::Retry {
                    reason,
                    after: api.retry_after,
                },
                s if s >= 500 => Attempt::Retry {
                    reason,
                    after: None,
                },
                _ => Attempt::GiveUp(reason),
            }
        }
        videosdk::Error::Timeout { elapsed, .. } => Attempt::Retry {
            reason: format!("no complete answer within {:.1?}", elapsed),
            after: None,
        },
        videosdk::Error::Network { source, .. } => {
            // reqwest names the URL without its user and password (it moves them to a header).
            let text = error_chain(source);
            if source.is_builder() {
                // A request that could not even be built (an unusable base URL) never will be.
                Attempt::Fatal(format!(
                    "cannot make a request to the API (GET {path}): {text}; check --api-url \
                     or VIDEOSDK_API_ENDPOINT"
                ))
            } else {
                Attempt::Retry {
                    reason: format!("network error: {text}"),
                    after: None,
                }
            }
        }
        // Configuration errors (a token that cannot be a header, a failed token mint): no
        // request of this run can succeed.
        other => Attempt::Fatal(format!("{other}; {CREDENTIALS_HINT}")),
    }
}

/// An error and its causes, `a: b: c` (reqwest's own message names only the outermost).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The wait before retry number `attempt + 1`: `first * 2^attempt`, at most [`MAX_BACKOFF`],
/// with "equal jitter" (a uniform pick in its upper half) so clients that failed together
/// do not come back together.
pub fn backoff(first: Duration, attempt: u32) -> Duration {
    let step = first
        .saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF);
    step / 2 + step.mul_f64(fastrand::f64() / 2.0)
}

/// The wait a `Retry-After` asks for (capped at [`MAX_RETRY_AFTER`]), plus up to 10% jitter.
fn retry_after_delay(after: Duration) -> Duration {
    let after = after.min(MAX_RETRY_AFTER);
    after + after.mul_f64(fastrand::f64() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let first = Duration::from_millis(200);
        for attempt in 0..6 {
            let step = first * 2u32.pow(attempt);
            for _ in 0..50 {
                let d = backoff(first, attempt);
                assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d:?}");
            }
        }
        assert!(backoff(first, 40) <= MAX_BACKOFF);
        assert!(backoff(first, 40) >= MAX_BACKOFF / 2);
    }

    #[test]
    fn backoff_is_jittered() {
        let picks: std::collections::HashSet<_> = (0..20)
            .map(|_| backoff(Duration::from_secs(1), 3))
            .collect();
        assert!(picks.len() > 1);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let d = retry_after_delay(Duration::from_secs(2));
        assert!(d >= Duration::from_secs(2) && d <= Duration::from_millis(2200));
        assert!(retry_after_delay(Duration::from_secs(86_400)) <= MAX_RETRY_AFTER * 11 / 10);
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let token = Credentials::Token("eyJsecret".into());
        let pair = Credentials::KeyAndSecret {
            key: "key123".into(),
            secret: "shh456".into(),
        };
        let shown = format!("{token:?} {pair:?}");
        assert!(!shown.contains("eyJsecret") && !shown.contains("key123"));
        assert!(!shown.contains("shh456"));
    }
}
