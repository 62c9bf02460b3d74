//! `fetch`: fills a folder with session documents from the VideoSDK REST API (SPEC §1),
//! resumably: every file is complete or absent, a stored ended session is not fetched again,
//! and a killed run started again finishes the job.
//!
//! [`client`] makes the requests (through the official SDK, within the load limits of
//! [`limiter`]), [`store`] owns the folder (and its [`index`]), [`plan`] says what to ask
//! for, [`session`] reads the little of a document that matters here, [`progress`] shows what
//! happens.
pub mod client;
pub mod index;
pub mod limiter;
pub mod plan;
pub mod progress;
pub mod session;
pub mod store;

use crate::cli::Outcome;
use anyhow::{Context, Result};
use client::{Api, Credentials, GetError, Settings};
use plan::{describe, ApiVersion, Listing};
use progress::Progress;
use session::{ListPage, SessionHead};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::{Failure, Put, Store};
use tokio::task::JoinSet;

/// The list endpoint.
const LIST_PATH: &str = "/v2/sessions/";
/// How many times a listing is walked when the list keeps changing while it is paged.
const MAX_PASSES: u32 = 3;
/// Fetch tasks of an `--ids` run waiting at once: plenty to keep every request slot busy,
/// and a file of millions of ids does not become millions of tasks held in memory.
const MAX_QUEUED: usize = 1024;
/// Listing pages asked for at once (the limiter still bounds the requests in flight): a
/// `lastPage` that is not to be believed costs at most this many needless requests.
const MAX_PAGE_TASKS: usize = 32;

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

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub out: PathBuf,
    /// Listing runs: distinct sessions on the pages, and the pages read.
    pub listed: Option<(u64, u64)>,
    /// Ids runs: distinct ids asked for.
    pub requested: Option<u64>,
    pub downloaded: u64,
    pub already_present: u64,
    pub refreshed: u64,
    /// Of `refreshed`: sessions stored as ongoing that the listing did not return, fetched
    /// again by id.
    pub refreshed_ongoing: u64,
    pub failures: Vec<Failure>,
    pub requests: u64,
    pub retries: u64,
    pub elapsed: Duration,
}

impl Summary {
    /// 0 when everything was fetched, 2 when some failed, 1 when nothing at all succeeded.
    pub fn outcome(&self) -> Outcome {
        let stored = self.downloaded + self.already_present + self.refreshed;
        match (self.failures.is_empty(), stored) {
            (true, _) => Outcome::Complete,
            (false, 0) => Outcome::Failed,
            (false, _) => Outcome::Partial,
        }
    }

    /// The end-of-run report, for a person or a cron mail.
    pub fn render(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let per_sec = if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        };
        let mut lines = vec![format!("fetch summary ({})", self.out.display())];
        let mut row = |label: &str, value: String| lines.push(format!("  {label:<16}{value}"));
        if let Some((sessions, pages)) = self.listed {
            let s = |n: u64| if n == 1 { "" } else { "s" };
            row(
                "listed",
                format!(
                    "{sessions} session{} on {pages} page{}",
                    s(sessions),
                    s(pages)
                ),
            );
        }
        if let Some(ids) = self.requested {
            row("requested", format!("{ids} ids"));
        }
        row("downloaded", self.downloaded.to_string());
        row("already present", self.already_present.to_string());
        if self.refreshed_ongoing == 0 {
            row("refreshed", self.refreshed.to_string());
        } else {
            row(
                "refreshed",
                format!(
                    "{} ({} stored as ongoing, not listed: fetched again by id)",
                    self.refreshed, self.refreshed_ongoing
                ),
            );
        }
        let failed = self.failures.len();
        if failed == 0 {
            row("failed", "0".into());
        } else {
            let file = self.out.join(store::FAILURES_FILE);
            row("failed", format!("{failed} (see {})", file.display()));
        }
        row("retries", self.retries.to_string());
        row("requests", format!("{} ({per_sec:.1}/s)", self.requests));
        row("elapsed", format!("{secs:.1}s"));
        lines.join("\n")
    }
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
        .worker_threads(2)
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
                let (seen, pages) = list(&run, listing, config.details).await?;
                summary.listed = Some((seen.len() as u64, pages));
                let before = run.refreshed.load(Ordering::Relaxed);
                refresh_ongoing(&run, &seen).await?;
                summary.refreshed_ongoing = run.refreshed.load(Ordering::Relaxed) - before;
            }
            Target::Ids { ids, api } => {
                summary.requested = Some(ids.len() as u64);
                fetch_ids(&run, ids, *api).await?;
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

    fn fail(&self, session_id: &str, request: String, reason: String) {
        self.progress.failure(&request, &reason);
        self.failures().push(Failure {
            session_id: session_id.to_string(),
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
        document: String,
    ) -> Result<(), Stop> {
        let run = Arc::clone(self);
        let put =
            tokio::task::spawn_blocking(move || run.store.put(&id, &head, document.as_bytes()))
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
        let usable = |body: &str| match SessionHead::parse(body.as_bytes()) {
            Ok(head) if head.id.as_deref() == Some(id.as_str()) => Ok(()),
            Ok(head) => Err(match head.id {
                Some(other) => format!("the document is about session {other:?}"),
                None => "the document has no session id".into(),
            }),
            Err(e) => Err(format!("not a session document: {e}")),
        };
        match self.api.get(&path, &[], usable).await {
            Ok(body) => {
                let head = SessionHead::parse(body.as_bytes())
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

/// Fetches sessions by id, skipping those stored as ended.
async fn fetch_ids(run: &Arc<Run>, ids: &[String], api: ApiVersion) -> Result<(), Stop> {
    let wanted = ids.iter().filter(|id| run.wanted(id)).cloned();
    fetch_each(run, wanted, api).await
}

/// After a listing: fetches again by id every session the store holds as not ended that the
/// listing did not return (`seen`), so a session stored while ongoing on an earlier run is
/// completed even when it started outside this run's window. A 404 is a failure like any.
async fn refresh_ongoing(run: &Arc<Run>, seen: &HashSet<String>) -> Result<(), Stop> {
    let ids: Vec<String> = run
        .store
        .not_ended()
        .into_iter()
        .filter(|id| !seen.contains(id))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let n = ids.len();
    run.progress.note(&format!(
        "fetch: {n} session{} stored as ongoing {} not in this listing; fetching {} again by id",
        if n == 1 { "" } else { "s" },
        if n == 1 { "is" } else { "are" },
        if n == 1 { "it" } else { "them" },
    ));
    fetch_each(run, ids.into_iter(), ApiVersion::V2).await
}

/// `GET`s each session by id, at most [`MAX_QUEUED`] tasks waiting at once.
async fn fetch_each(
    run: &Arc<Run>,
    ids: impl Iterator<Item = String>,
    api: ApiVersion,
) -> Result<(), Stop> {
    let mut work = JoinSet::new();
    for id in ids {
        let request = format!("GET {}", api.session_path(&id));
        if run.schedule(&id, &request) {
            while work.len() >= MAX_QUEUED {
                if let Some(done) = work.join_next().await {
                    settle(done)?; // a stop drops `work`, which aborts the other tasks
                }
            }
            work.spawn(Arc::clone(run).fetch_one(id, api));
        }
    }
    drain(work).await
}

/// What a finished task says: nothing, or why the run stops.
fn settle(done: Result<Result<(), Stop>, tokio::task::JoinError>) -> Result<(), Stop> {
    done.context("a fetch task was interrupted").and_then(|r| r)
}

/// Waits for every task; the first stop aborts the others.
async fn drain(mut work: JoinSet<Result<(), Stop>>) -> Result<(), Stop> {
    while let Some(done) = work.join_next().await {
        if let Err(stop) = settle(done) {
            work.abort_all();
            return Err(stop);
        }
    }
    Ok(())
}

/// One listing walk's bookkeeping.
struct Walk<'a> {
    run: &'a Arc<Run>,
    details: bool,
    /// Sessions met on any page of this run: each is handled once.
    seen: HashSet<String>,
    /// Sessions met in the current pass, and whether one was met twice in it (the list
    /// moved under the pages).
    pass_seen: HashSet<String>,
    moved: bool,
    pages: u64,
    work: JoinSet<Result<(), Stop>>,
}

/// Walks every listing query to its last page and stores what is wanted. Returns the distinct
/// sessions listed and the pages read.
async fn list(
    run: &Arc<Run>,
    listing: &Listing,
    details: bool,
) -> Result<(HashSet<String>, u64), Stop> {
    let mut walk = Walk {
        run,
        details,
        seen: HashSet::new(),
        pass_seen: HashSet::new(),
        moved: false,
        pages: 0,
        work: JoinSet::new(),
    };
    for query in listing.queries() {
        for pass in 1..=MAX_PASSES {
            let moved = walk.pass(&query).await?;
            if !moved {
                break;
            }
            let what = describe(LIST_PATH, &query);
            if pass < MAX_PASSES {
                run.progress.note(&format!(
                    "fetch: the list changed while it was paged ({what}); listing it again"
                ));
            } else {
                run.progress.note(&format!(
                    "fetch: the list kept changing while it was paged ({what}); \
                     sessions that moved between pages may be missing: run fetch again"
                ));
            }
        }
    }
    drain(std::mem::take(&mut walk.work)).await?;
    Ok((walk.seen, walk.pages))
}

impl Walk<'_> {
    /// Reads every page of one query (page 1 first, then the rest in parallel). Says whether
    /// the list changed meanwhile: pages disagreeing on the total or the last page, or a
    /// session on two pages. (An insertion and a deletion between two page reads that leave
    /// no such trace cannot be seen from the pages.)
    async fn pass(&mut self, query: &[(String, String)]) -> Result<bool, Stop> {
        self.pass_seen.clear();
        self.moved = false;
        let run = Arc::clone(self.run);
        let get_page = move |page: u64| {
            let run = Arc::clone(&run);
            let mut query = query.to_vec();
            query.push(("page".into(), page.to_string()));
            async move {
                let usable = |body: &str| {
                    serde_json::from_str::<ListPage>(body)
                        .map(drop)
                        .map_err(|e| format!("not a list page: {e}"))
                };
                let result = run.api.get(LIST_PATH, &query, usable).await;
                (describe(LIST_PATH, &query), result)
            }
        };
        self.run.progress.pages_expected(1);
        let (request, first) = get_page(1).await;
        let Some((info, _)) = self.page(request, first)? else {
            return Ok(false);
        };
        let mut infos = vec![info];
        let mut last = info.last_page.max(1);
        self.run.progress.pages_expected(last - 1);
        let mut pages = JoinSet::new();
        let mut next = 2;
        // A page without sessions: the list shrank (the pages then disagree on the total), or
        // `lastPage` said more than there is. Nothing after it is asked for.
        let mut emptied = false;
        loop {
            while !emptied && next <= last && pages.len() < MAX_PAGE_TASKS {
                pages.spawn(get_page(next));
                next += 1;
            }
            let Some(done) = pages.join_next().await else {
                break;
            };
            let (request, result) = done.context("a listing task was interrupted")?;
            if let Some((info, sessions)) = self.page(request, result)? {
                // A page may report more pages than the first did: follow it.
                if info.last_page > last {
                    self.run.progress.pages_expected(info.last_page - last);
                    last = info.last_page;
                }
                emptied |= sessions == 0;
                infos.push(info);
            }
        }
        let first = infos[0];
        Ok(self.moved
            || infos
                .iter()
                .any(|i| i.total != first.total || i.last_page != first.last_page))
    }

    /// Handles one page's answer: stores (or schedules) its sessions, records a failure.
    /// Returns the page's info and how many sessions it held.
    fn page(
        &mut self,
        request: String,
        result: Result<String, GetError>,
    ) -> Result<Option<(session::PageInfo, usize)>, Stop> {
        self.run.progress.page_done();
        let body = match result {
            Ok(body) => body,
            Err(GetError::Failed(reason)) => {
                self.run.fail("", request, reason);
                return Ok(None);
            }
            Err(GetError::Fatal(reason)) => return Err(anyhow::anyhow!(reason)),
        };
        self.pages += 1;
        let page: ListPage = serde_json::from_str(&body)
            .with_context(|| format!("the answer to {request} changed under us"))?;
        for raw in &page.data {
            let document = raw.get();
            let head = match SessionHead::parse(document.as_bytes()) {
                Ok(head) => head,
                Err(e) => {
                    self.run.fail(
                        "",
                        request.clone(),
                        format!("a listed session is not an object: {e}"),
                    );
                    continue;
                }
            };
            let Some(id) = head.id.clone() else {
                self.run
                    .fail("", request.clone(), "a listed session has no id".into());
                continue;
            };
            if !self.pass_seen.insert(id.clone()) {
                self.moved = true;
                continue;
            }
            if !self.seen.insert(id.clone())
                || !self.run.wanted(&id)
                || !self.run.schedule(&id, &request)
            {
                continue;
            }
            let run = Arc::clone(self.run);
            if self.details {
                self.work.spawn(run.fetch_one(id, ApiVersion::V2));
            } else {
                let document = document.to_string();
                self.work
                    .spawn(async move { run.put(id, head, document).await });
            }
        }
        Ok(Some((page.page_info, page.data.len())))
    }
}
