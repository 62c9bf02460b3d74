//! `fetch`: fills a folder with session documents from the VideoSDK REST API (docs/reference.md §1),
//! resumably: every file is complete or absent, a stored ended session is not fetched again,
//! and a killed run started again finishes the job.
//!
//! [`client`] makes the requests (reqwest; tokens signed by the official SDK) within the load
//! limits of [`limiter`], [`store`] owns the folder (and its [`index`]), [`plan`] says what to ask for, [`head`] reads
//! the little of a document that matters here, [`progress`] shows what happens.
//! A run walks a [`listing`] or fetches [`by_id`], and ends with a [`summary`].
mod by_id;
pub mod client;
pub mod head;
pub mod index;
pub mod limiter;
mod listing;
pub mod plan;
pub mod progress;
pub mod store;
pub mod summary;

use crate::text::escape_for_terminal;
use anyhow::{Context, Result};
use client::{Api, Credentials, GetError, Settings};
use head::SessionHead;
use plan::{ApiVersion, Listing};
use progress::Progress;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use store::{Failure, Put, Store};
pub use summary::Summary;

/// Threads of the async runtime: the work is waiting on the network and on fsync, and the
/// blocking store writes run on tokio's own blocking pool.
const RUNTIME_THREADS: usize = 2;
/// Threads of that blocking pool at most: store writes wait on fsync, and more threads than
/// this only queue on the same disk (tokio's own bound is 512).
const MAX_BLOCKING_THREADS: usize = 8;

/// What to fetch.
#[derive(Debug, Clone)]
pub enum Target {
    List(Listing),
    Ids { ids: Vec<String>, api: ApiVersion },
}

/// A fully resolved `fetch`.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub out: PathBuf,
    pub target: Target,
    /// `GET` every listed session instead of storing the copy on the list page.
    pub details: bool,
    /// Fetch again sessions stored as ended.
    pub refresh: bool,
    pub settings: Settings,
}

/// Runs a fetch with the credentials of the environment (`VIDEOSDK_TOKEN`, or
/// `VIDEOSDK_API_KEY` and `VIDEOSDK_SECRET`), showing its progress on stderr as `display` says.
pub fn fetch_with_env_credentials(
    config: &FetchConfig,
    display: progress::Display,
) -> Result<Summary> {
    let credentials = Credentials::from_env()?;
    fetch(config, &credentials, Progress::new(display))
}

/// Runs a fetch. An error means the run stopped (credentials refused, folder locked or not
/// writable); request failures are in the summary and the failures file instead.
pub fn fetch(
    config: &FetchConfig,
    credentials: &Credentials,
    progress: Progress,
) -> Result<Summary> {
    let started = Instant::now();
    let progress = Arc::new(progress);
    let notes = Arc::clone(&progress);
    let store = Store::open_with(&config.out, Box::new(move |line| notes.note(line)))?;
    let api = Api::new(credentials, &config.settings)?;
    let run = Arc::new(Run {
        api,
        store,
        progress,
        refresh: config.refresh,
        downloaded: AtomicU64::new(0),
        refreshed: AtomicU64::new(0),
        already_present: AtomicU64::new(0),
        failures: Mutex::new(Vec::new()),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_THREADS)
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut summary = Summary {
        out: config.out.clone(),
        ..Summary::default()
    };
    let result = runtime.block_on(async {
        match &config.target {
            Target::List(listing) => {
                let (seen, pages) = listing::list(&run, listing, config.details).await?;
                summary.listed = Some((seen.len() as u64, pages));
                let before = run.refreshed.load(Ordering::Relaxed);
                by_id::refresh_ongoing(&run, &seen).await?;
                summary.refreshed_ongoing = run.refreshed.load(Ordering::Relaxed) - before;
            }
            Target::Ids { ids, api } => {
                summary.requested = Some(ids.len() as u64);
                by_id::fetch_ids(&run, ids, *api).await?;
            }
        }
        anyhow::Ok(())
    });
    run.progress.finish();
    // Even a stopped run leaves its failures and synced folders behind (but a run stopped
    // with nothing to record keeps the last failures file); the reason it stopped is the
    // error to report first.
    let failures = std::mem::take(&mut *run.failures());
    let saved = if result.is_ok() || !failures.is_empty() {
        run.store.write_failures(&failures)
    } else {
        Ok(())
    };
    let saved = saved
        .and_then(|()| run.store.sync_folders())
        .and_then(|()| run.store.save_index());
    result?;
    saved?;
    summary.downloaded = run.downloaded.load(Ordering::Relaxed);
    summary.refreshed = run.refreshed.load(Ordering::Relaxed);
    summary.already_present = run.already_present.load(Ordering::Relaxed);
    summary.failures = failures;
    summary.requests = run.api.requests();
    summary.retries = run.api.retries();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The state of a run, shared by its tasks.
struct Run {
    api: Api,
    store: Store,
    progress: Arc<Progress>,
    refresh: bool,
    downloaded: AtomicU64,
    refreshed: AtomicU64,
    already_present: AtomicU64,
    failures: Mutex<Vec<Failure>>,
}

/// The error that stops a run: refused credentials or a store that cannot be written.
type Stop = anyhow::Error;

impl Run {
    fn failures(&self) -> std::sync::MutexGuard<'_, Vec<Failure>> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a failure. Its text came from outside (ids, API messages): it is escaped here,
    /// once, for the terminal and the failures file alike, so neither receives a control
    /// character (a newline in a message would forge a line of either).
    fn fail(&self, session_id: &str, request: String, reason: String) {
        let request = escape_for_terminal(&request).into_owned();
        let reason = escape_for_terminal(&reason).into_owned();
        self.progress.failure(&request, &reason);
        self.failures().push(Failure {
            session_id: escape_for_terminal(session_id).into_owned(),
            request,
            reason,
        });
    }

    /// Whether a session must be fetched (or its listed copy stored); counts it as already
    /// present when not.
    fn wanted(&self, id: &str) -> bool {
        match self.store.get(id) {
            Some(stored) if stored.ended && !self.refresh => {
                self.already_present.fetch_add(1, Ordering::Relaxed);
                false
            }
            _ => true,
        }
    }

    /// Stores a document off the async workers (the write ends with an fsync).
    async fn put(
        self: &Arc<Self>,
        id: String,
        head: SessionHead,
        document: Vec<u8>,
    ) -> Result<(), Stop> {
        let run = Arc::clone(self);
        let put = tokio::task::spawn_blocking(move || run.store.put(&id, &head, &document))
            .await
            .context("a store write was interrupted")??;
        let counter = match put {
            Put::New => &self.downloaded,
            Put::Replaced => &self.refreshed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.progress.session_done();
        Ok(())
    }

    /// `GET` one session by id and stores it; a failure is recorded, a stop returned.
    async fn fetch_one(self: Arc<Self>, id: String, api: ApiVersion) -> Result<(), Stop> {
        let path = api.session_path(&id);
        let usable = |body: &[u8]| match SessionHead::parse(body) {
            Ok(head) if head.id.as_deref() == Some(id.as_str()) => Ok(()),
            Ok(head) => Err(match head.id {
                Some(other) => format!("the document is about session {other:?}"),
                None => "the document has no session id".into(),
            }),
            Err(e) => Err(format!("not a session document: {e}")),
        };
        match self.api.get(&path, &[], usable).await {
            Ok(body) => {
                let head = SessionHead::parse(&body)
                    .with_context(|| format!("the answer to GET {path} changed under us"))?;
                self.put(id, head, body).await
            }
            Err(GetError::Failed(reason)) => {
                self.fail(&id, format!("GET {path}"), reason);
                self.progress.session_done();
                Ok(())
            }
            Err(GetError::Fatal(reason)) => Err(anyhow::anyhow!(reason)),
        }
    }

    /// Counts a session to fetch or store, or records why it cannot be.
    fn schedule(&self, id: &str, request: &str) -> bool {
        self.progress.sessions_expected(1);
        match plan::unusable_id(id) {
            None => true,
            Some(reason) => {
                self.fail(id, request.to_string(), reason.to_string());
                self.progress.session_done();
                false
            }
        }
    }
}
