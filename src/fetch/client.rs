//! Requests to the VideoSDK REST API.
//!
//! The transport is reqwest, driven here rather than through the official SDK's request path,
//! because the SDK cannot: keep the bytes of an answer as sent (it decodes them as text),
//! bound the size of an answer while it streams in (it buffers every body whole), refuse a
//! redirect to another origin (it follows any), or send the token it was given when a key and
//! secret are in the environment too (it mints one instead). The SDK still signs the tokens
//! minted from `VIDEOSDK_API_KEY`/`VIDEOSDK_SECRET` ([`videosdk::AccessTokenBuilder`]).
//!
//! [`Api::get`] puts every attempt, and every redirect hop, through our concurrency and rate
//! limits, counts retries, retries an unusable (truncated) body, and releases the in-flight
//! slot while backing off.
use super::limiter::Limiter;
use crate::text::escape_for_terminal;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, LOCATION, RETRY_AFTER, USER_AGENT};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

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
/// The largest answer read, unless `--max-body-size` says otherwise: a page of 100 sessions
/// of 1,000-participant webinars is about 20 MB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 64 << 20;
/// `--rate` bounds, in requests per second: one an hour at the least (a smaller rate would
/// space requests beyond what a clock can add), and a million at the most (no limit, really).
pub const MIN_RATE: f64 = 1.0 / 3600.0;
pub const MAX_RATE: f64 = 1_000_000.0;
/// Characters of a server's error message kept in a failure reason.
const MAX_MESSAGE_CHARS: usize = 200;
/// Bytes of an error answer read for its message.
const MAX_ERROR_BODY: u64 = 64 << 10;
/// The longest `Retry-After` honoured as given; longer ones are cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// The longest exponential backoff step.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Redirects (to the same origin) followed for one request.
const MAX_REDIRECTS: u32 = 5;
/// A minted token's lifetime: a run's needs, not a day's.
pub const MINTED_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// A minted token is replaced when less than this is left of it.
const TOKEN_RENEW_BEFORE: Duration = Duration::from_secs(2 * 60);
const USER_AGENT_VALUE: &str = concat!("sessionstats/", env!("CARGO_PKG_VERSION"));

/// How requests are authorised. Never printed: `Debug` shows only which kind it is.
pub enum Credentials {
    /// A ready JWT from `VIDEOSDK_TOKEN`: sent as it is, and only it.
    Token(String),
    /// Key and secret from `VIDEOSDK_API_KEY` and `VIDEOSDK_SECRET`: short-lived tokens are
    /// minted from them on this machine.
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

/// Mints an API token (`roles: ["crawler"]`) that lives [`MINTED_TOKEN_LIFETIME`] and
/// carries only `allow_join`: reading sessions needs no moderator permission.
pub fn mint_token(key: &str, secret: &str) -> Result<String, String> {
    videosdk::AccessTokenBuilder::new(key, secret)
        .for_api()
        .grant(videosdk::Grant::AllowJoin)
        .expires_in(MINTED_TOKEN_LIFETIME)
        .to_jwt()
        // The SDK's messages name what is wrong, never the secret's value.
        .map_err(|e| format!("cannot make an API token from the key and secret: {e}"))
}

/// The token of each request: the given one, or a minted one renewed before it expires.
enum Tokens {
    Given(String),
    Minted {
        key: String,
        secret: String,
        current: Mutex<Option<(String, Instant)>>,
    },
}

impl Tokens {
    fn current(&self) -> Result<String, String> {
        match self {
            Tokens::Given(token) => Ok(token.clone()),
            Tokens::Minted {
                key,
                secret,
                current,
            } => {
                let mut current = current
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some((token, minted)) = &*current {
                    if minted.elapsed() + TOKEN_RENEW_BEFORE < MINTED_TOKEN_LIFETIME {
                        return Ok(token.clone());
                    }
                }
                let token = mint_token(key, secret)?;
                *current = Some((token.clone(), Instant::now()));
                Ok(token)
            }
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
    /// The largest answer read; a larger one is a failed request.
    pub max_body_bytes: u64,
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
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
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
    Done(Vec<u8>),
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    GiveUp(String),
    Fatal(String),
}

/// The API client of one run, shared by all its tasks.
pub struct Api {
    http: reqwest::Client,
    base: reqwest::Url,
    tokens: Tokens,
    limiter: Limiter,
    timeout: Duration,
    retries: u32,
    retry_delay: Duration,
    max_body_bytes: u64,
    requests: AtomicU64,
    retried: AtomicU64,
    /// Set by the first fatal answer: every later request stops at once with it.
    fatal: OnceLock<String>,
}

impl Api {
    pub fn new(credentials: &Credentials, settings: &Settings) -> anyhow::Result<Api> {
        let base = reqwest::Url::parse(settings.api_url.trim_end_matches('/')).map_err(|e| {
            anyhow::anyhow!(
                "--api-url (or VIDEOSDK_API_ENDPOINT) is not a usable URL ({e}); \
                 use one such as {DEFAULT_API_URL}"
            )
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            anyhow::bail!(
                "--api-url (or VIDEOSDK_API_ENDPOINT) must be an http:// or https:// URL with a \
                 host, such as {DEFAULT_API_URL}"
            );
        }
        let http = reqwest::Client::builder()
            // Redirects are followed here, one hop at a time, so each is checked and counted.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?;
        let tokens = match credentials {
            Credentials::Token(token) => Tokens::Given(token.clone()),
            Credentials::KeyAndSecret { key, secret } => {
                // Minted once now, so a key that cannot sign stops the run before any request.
                let token = mint_token(key, secret).map_err(anyhow::Error::msg)?;
                Tokens::Minted {
                    key: key.clone(),
                    secret: secret.clone(),
                    current: Mutex::new(Some((token, Instant::now()))),
                }
            }
        };
        Ok(Api {
            http,
            base,
            tokens,
            limiter: Limiter::new(settings.concurrency, settings.rate),
            timeout: settings.timeout,
            retries: settings.retries,
            retry_delay: settings.retry_delay,
            max_body_bytes: settings.max_body_bytes,
            requests: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            fatal: OnceLock::new(),
        })
    }

    /// Requests sent so far (every attempt and every redirect hop counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Attempts that were retries.
    pub fn retries(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    /// `GET path?query` with retries; the answer's bytes exactly as sent. `usable` checks the
    /// body (a reason when it is not), and an unusable body is retried like a broken
    /// connection: it is usually a truncated answer.
    pub async fn get(
        &self,
        path: &str,
        query: &[(String, String)],
        usable: impl Fn(&[u8]) -> Result<(), String>,
    ) -> Result<Vec<u8>, GetError> {
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

    /// One attempt: the request and the redirects it leads to (same origin only), each hop
    /// within the time limit and spaced by the rate, the answer read up to the size limit.
    async fn attempt(&self, path: &str, query: &[(String, String)]) -> Attempt {
        let token = match self.tokens.current() {
            Ok(token) => token,
            Err(reason) => return Attempt::Fatal(format!("{reason}; {CREDENTIALS_HINT}")),
        };
        let Ok(mut authorization) = HeaderValue::from_str(&token) else {
            return Attempt::Fatal(format!(
                "the API token holds characters a header cannot carry; {CREDENTIALS_HINT}"
            ));
        };
        authorization.set_sensitive(true);
        let mut url = self.base.clone();
        {
            let joined = format!("{}{path}", self.base.path().trim_end_matches('/'));
            url.set_path(&joined);
            url.set_query(None);
            if !query.is_empty() {
                url.query_pairs_mut().extend_pairs(query);
            }
        }
        let mut hops = 0;
        loop {
            let request = self
                .http
                .get(url.clone())
                .header(AUTHORIZATION, authorization.clone())
                .header(ACCEPT, "application/json")
                .header(USER_AGENT, USER_AGENT_VALUE);
            let hop = tokio::time::timeout(self.timeout, self.exchange(request, path)).await;
            let answer = match hop {
                Ok(answer) => answer,
                Err(_) => {
                    return Attempt::Retry {
                        reason: format!("no complete answer within {:.1?}", self.timeout),
                        after: None,
                    }
                }
            };
            match answer {
                Exchange::Redirect(location) => {
                    let Some(next) = location.and_then(|l| url.join(&l).ok()) else {
                        return Attempt::GiveUp("a redirect without a usable Location".to_string());
                    };
                    if next.origin() != self.base.origin() {
                        return Attempt::GiveUp(format!(
                            "refused a redirect to another origin ({}); only {} is asked",
                            escape_for_terminal(&next.origin().ascii_serialization()),
                            self.base.origin().ascii_serialization()
                        ));
                    }
                    hops += 1;
                    if hops > MAX_REDIRECTS {
                        return Attempt::GiveUp(format!("more than {MAX_REDIRECTS} redirects"));
                    }
                    // Each hop is a request: counted, and spaced by the rate (the in-flight
                    // slot of this attempt is still held).
                    self.limiter.pace().await;
                    self.requests.fetch_add(1, Ordering::Relaxed);
                    url = next;
                }
                Exchange::Done(attempt) => return attempt,
            }
        }
    }

    /// Sends one request and reads its answer.
    async fn exchange(&self, request: reqwest::RequestBuilder, path: &str) -> Exchange {
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Exchange::Done(network_error(&e, path)),
        };
        let status = response.status();
        if status.is_redirection() && status != reqwest::StatusCode::NOT_MODIFIED {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            return Exchange::Redirect(location);
        }
        let retry_after = parse_retry_after(response.headers());
        let limit = if status.is_success() {
            self.max_body_bytes
        } else {
            MAX_ERROR_BODY
        };
        if status.is_success() {
            if let Some(length) = response.content_length() {
                if length > limit {
                    return Exchange::Done(Attempt::GiveUp(too_large(limit)));
                }
            }
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = usize::try_from(limit).unwrap_or(usize::MAX) - body.len();
                    if chunk.len() > room {
                        if status.is_success() {
                            return Exchange::Done(Attempt::GiveUp(too_large(limit)));
                        }
                        // An error's message is in its first bytes.
                        body.extend_from_slice(&chunk[..room]);
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Exchange::Done(network_error(&e, path)),
            }
        }
        if status.is_success() {
            return Exchange::Done(Attempt::Done(body));
        }
        Exchange::Done(classify(status.as_u16(), &body, retry_after, path))
    }
}

/// What one HTTP exchange gave.
enum Exchange {
    Redirect(Option<String>),
    Done(Attempt),
}

fn too_large(limit: u64) -> String {
    format!("the answer is larger than {limit} bytes (see --max-body-size); not read")
}

/// `Retry-After`: seconds or an HTTP date.
fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return (seconds > 0).then(|| Duration::from_secs(seconds));
    }
    let deadline = httpdate::parse_http_date(value).ok()?;
    deadline.duration_since(SystemTime::now()).ok()
}

/// The server's own message in an error answer (`message` or `error`), escaped and cut short.
fn message_of(body: &[u8]) -> String {
    let text = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["message", "error", "msg"]
                .iter()
                .find_map(|k| v.get(k).and_then(|m| m.as_str()).map(str::to_owned))
        })
        .unwrap_or_default();
    let cut: String = text.trim().chars().take(MAX_MESSAGE_CHARS).collect();
    escape_for_terminal(&cut).into_owned()
}

/// Sorts an error answer into what the run does about it.
fn classify(status: u16, body: &[u8], retry_after: Option<Duration>, path: &str) -> Attempt {
    let message = message_of(body);
    let reason = if message.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {message}")
    };
    match status {
        401 | 403 => Attempt::Fatal(format!(
            "the API refused the credentials (HTTP {status} on GET {path}): {CREDENTIALS_HINT}"
        )),
        429 => Attempt::Retry {
            reason,
            after: retry_after,
        },
        s if s >= 500 => Attempt::Retry {
            reason,
            after: None,
        },
        _ => Attempt::GiveUp(reason),
    }
}

/// A request that got no answer: retried, unless it could not even be built.
fn network_error(e: &reqwest::Error, path: &str) -> Attempt {
    // reqwest names the URL without its user and password.
    let text = escape_for_terminal(&error_chain(e)).into_owned();
    if e.is_builder() {
        Attempt::Fatal(format!(
            "cannot make a request to the API (GET {path}): {text}; check --api-url \
             or VIDEOSDK_API_ENDPOINT"
        ))
    } else if e.is_timeout() {
        Attempt::Retry {
            reason: "no complete answer in time".to_string(),
            after: None,
        }
    } else if e.is_connect() {
        // One clear line, not reqwest's chain of wrappers: where, and the cause at the bottom.
        let host = e
            .url()
            .map(|url| {
                let host = url.host_str().unwrap_or_default();
                url.port()
                    .map_or(host.to_owned(), |port| format!("{host}:{port}"))
            })
            .unwrap_or_default();
        Attempt::Retry {
            reason: format!(
                "cannot connect to {}: {}",
                escape_for_terminal(&host),
                escape_for_terminal(&root_cause(e))
            ),
            after: None,
        }
    } else {
        Attempt::Retry {
            reason: format!("network error: {text}"),
            after: None,
        }
    }
}

/// The innermost cause of an error (`Connection refused (os error 111)`), without the
/// wrappers' own words.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
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
    fn minted_tokens_are_short_lived_and_carry_no_moderator_permission() {
        let token = mint_token("key123", "shh456").unwrap();
        let claims = videosdk::decode_token(&token).unwrap();
        let json = format!("{claims:?}");
        assert!(!json.contains("allow_mod"), "{json}");
        assert!(
            json.contains("allow_join") && json.contains("crawler"),
            "{json}"
        );
        let lifetime = claims.expires_at.unwrap() - claims.issued_at.unwrap();
        assert!(
            lifetime <= MINTED_TOKEN_LIFETIME.as_secs() as i64,
            "{lifetime}"
        );
        assert!(lifetime < 3600);
    }

    #[test]
    fn error_messages_are_escaped() {
        let body = br#"{"message":"gone\nfailed          0\u001b]0;x\u0007\u001b[2J"}"#;
        let Attempt::GiveUp(reason) = classify(404, body, None, "/v2/sessions/x") else {
            panic!("a 404 is given up");
        };
        assert_eq!(
            reason,
            "HTTP 404: gone\\nfailed          0\\u{1b}]0;x\\u{7}\\u{1b}[2J"
        );
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
