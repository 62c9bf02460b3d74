//! Walking the list endpoint page by page, storing (or fetching) what each page names.
use super::by_id::{drain, settle, MAX_QUEUED};
use super::client::GetError;
use super::head::{utf8_placeholders, ListPage, PageInfo, SessionHead};
use super::plan::{describe, ApiVersion, Listing};
use super::{Run, Stop};
use anyhow::Context;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::task::JoinSet;

/// The list endpoint.
const LIST_PATH: &str = "/v2/sessions/";
/// How many times a listing is walked when the list keeps changing while it is paged.
const MAX_PASSES: u32 = 3;
/// Listing pages asked for at once (the limiter still bounds the requests in flight): a
/// `lastPage` that is not to be believed costs at most this many needless requests.
const MAX_PAGE_TASKS: usize = 32;
/// Pages of one walk that may bring no new session (all of theirs already met on this walk)
/// before the listing is given up as making no progress: a server that ignores `page` and
/// claims a huge `lastPage` would otherwise be paged forever.
const MAX_IDLE_PAGES: u32 = 8;
/// Listing pages in a row that may fail (each after its retries) before the listing is given
/// up: a `lastPage` of a billion with every page after the first failing would otherwise be
/// asked for page by page.
const MAX_FAILED_PAGES_IN_A_ROW: u32 = 2 * MAX_PAGE_TASKS as u32;

/// How one walk of a query ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PassEnd {
    /// Every page was read and agreed with the others.
    Done,
    /// The list changed while it was paged: walk it again.
    Moved,
    /// Pages kept bringing nothing new, or kept failing: given up and recorded as a failure.
    Stuck,
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
    /// Pages of the current pass that brought no new session.
    idle_pages: u32,
    /// Listed items without a usable id already recorded as failures (their text): recorded
    /// once, not once per walk.
    unusable: HashSet<String>,
    pages: u64,
    work: JoinSet<Result<(), Stop>>,
}

/// Walks every listing query to its last page and stores what is wanted. Returns the distinct
/// sessions listed and the pages read.
pub(super) async fn list(
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
        idle_pages: 0,
        unusable: HashSet::new(),
        pages: 0,
        work: JoinSet::new(),
    };
    for query in listing.queries() {
        for pass in 1..=MAX_PASSES {
            if walk.pass(&query).await? != PassEnd::Moved {
                break;
            }
            let what = describe(LIST_PATH, &query);
            if pass < MAX_PASSES {
                run.progress.note(&format!(
                    "fetch: the list changed while it was paged ({what}); listing it again"
                ));
            } else {
                // Not a note only: a session may be missing, so the run is not complete.
                run.fail(
                    "",
                    what,
                    format!(
                        "the list kept changing while it was paged ({MAX_PASSES} walks); \
                         sessions that moved between pages may be missing: run fetch again"
                    ),
                );
            }
        }
    }
    run.progress.totals_known();
    drain(std::mem::take(&mut walk.work)).await?;
    Ok((walk.seen, walk.pages))
}

impl Walk<'_> {
    /// Reads every page of one query (page 1 first, then the rest in parallel). Says whether
    /// the list changed meanwhile: pages disagreeing on the total or the last page, or a
    /// session on two pages. (An insertion and a deletion between two page reads that leave
    /// no such trace cannot be seen from the pages.)
    async fn pass(&mut self, query: &[(String, String)]) -> Result<PassEnd, Stop> {
        self.pass_seen.clear();
        self.moved = false;
        self.idle_pages = 0;
        let run = Arc::clone(self.run);
        let get_page = move |page: u64| {
            let run = Arc::clone(&run);
            let mut query = query.to_vec();
            query.push(("page".into(), page.to_string()));
            async move {
                let usable = |body: &[u8]| {
                    serde_json::from_slice::<ListPage>(&utf8_placeholders(body))
                        .map(drop)
                        .map_err(|e| format!("not a list page: {e}"))
                };
                let result = run.api.get(LIST_PATH, &query, usable).await;
                (describe(LIST_PATH, &query), result)
            }
        };
        self.run.progress.pages_expected(1);
        let (request, first) = get_page(1).await;
        let Some((info, _)) = self.page(request, first).await? else {
            return Ok(PassEnd::Done);
        };
        let mut infos = vec![info];
        let mut last = info.last_page.max(1);
        self.run.progress.pages_expected(last - 1);
        let mut pages = JoinSet::new();
        let mut next = 2;
        // A page without sessions: the list shrank (the pages then disagree on the total), or
        // `lastPage` said more than there is. Nothing after it is asked for.
        let mut emptied = false;
        let mut stuck = false;
        let mut failed_in_a_row = 0;
        loop {
            while !emptied && next <= last && pages.len() < MAX_PAGE_TASKS {
                pages.spawn(get_page(next));
                next += 1;
            }
            let Some(done) = pages.join_next().await else {
                break;
            };
            let (request, result) = done.context("a listing task was interrupted")?;
            let failed = result.is_err();
            if let Some((info, sessions)) = self.page(request.clone(), result).await? {
                // A page may report more pages than the first did: follow it.
                if info.last_page > last {
                    self.run.progress.pages_expected(info.last_page - last);
                    last = info.last_page;
                }
                emptied |= sessions == 0;
                infos.push(info);
            }
            failed_in_a_row = if failed { failed_in_a_row + 1 } else { 0 };
            let given_up = if failed_in_a_row >= MAX_FAILED_PAGES_IN_A_ROW {
                Some(format!(
                    "{failed_in_a_row} listing pages in a row failed (lastPage {last}); the rest \
                     of the list is given up"
                ))
            } else if !failed && self.idle_pages >= MAX_IDLE_PAGES {
                Some(format!(
                    "the listing makes no progress: {MAX_IDLE_PAGES} pages brought no new \
                     session (the API may ignore `page`; lastPage {last}); given up"
                ))
            } else {
                None
            };
            if let Some(reason) = given_up {
                stuck = true;
                self.run.fail("", describe(LIST_PATH, query), reason);
                // Pages still in flight are dropped (aborted) with `pages`.
                break;
            }
        }
        if stuck {
            return Ok(PassEnd::Stuck);
        }
        let first = infos[0];
        let moved = self.moved
            || infos
                .iter()
                .any(|i| i.total != first.total || i.last_page != first.last_page);
        Ok(if moved { PassEnd::Moved } else { PassEnd::Done })
    }

    /// Handles one page's answer: stores (or schedules) its sessions, records a failure.
    /// Returns the page's info and how many sessions it held.
    async fn page(
        &mut self,
        request: String,
        result: Result<Vec<u8>, GetError>,
    ) -> Result<Option<(PageInfo, usize)>, Stop> {
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
        // Parsed from a copy whose bytes that are not UTF-8 became `?` (same length), so each
        // session's place in it is its place in the answer, whose bytes are stored as sent.
        let copy = utf8_placeholders(&body);
        let page: ListPage = serde_json::from_slice(&copy)
            .with_context(|| format!("the answer to {request} changed under us"))?;
        let mut new_sessions = 0;
        let mut listed = Vec::with_capacity(page.data.len());
        for raw in &page.data {
            let text = raw.get();
            let start = text.as_ptr() as usize - copy.as_ptr() as usize;
            let document = &body[start..start + text.len()];
            let head = match SessionHead::parse(document) {
                Ok(head) => head,
                Err(e) => {
                    if self.unusable.insert(text.to_owned()) {
                        self.run.fail(
                            "",
                            request.clone(),
                            format!("a listed session is not an object: {e}"),
                        );
                    }
                    continue;
                }
            };
            let Some(id) = head.id.clone() else {
                if self.unusable.insert(text.to_owned()) {
                    self.run
                        .fail("", request.clone(), "a listed session has no id".into());
                }
                continue;
            };
            if !self.pass_seen.insert(id.clone()) {
                self.moved = true;
                continue;
            }
            new_sessions += 1;
            if !self.seen.insert(id.clone())
                || !self.run.wanted(&id)
                || !self.run.schedule(&id, &request)
            {
                continue;
            }
            listed.push((id, head, document.to_vec()));
        }
        if new_sessions == 0 && !page.data.is_empty() {
            self.idle_pages += 1;
        }
        let info = (page.page_info, page.data.len());
        drop(page);
        for (id, head, document) in listed {
            // At most MAX_QUEUED tasks wait, as in an `--ids` run: a listing of 200,000
            // sessions does not become 200,000 tasks in memory.
            while self.work.len() >= MAX_QUEUED {
                if let Some(done) = self.work.join_next().await {
                    settle(done)?;
                }
            }
            let run = Arc::clone(self.run);
            if self.details {
                self.work.spawn(run.fetch_one(id, ApiVersion::V2));
            } else {
                self.work
                    .spawn(async move { run.put(id, head, document).await });
            }
        }
        Ok(Some(info))
    }
}
