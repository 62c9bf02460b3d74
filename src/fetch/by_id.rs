//! Fetching sessions one by one (`GET` by id): an `--ids` run, and the refresh of stored
//! ongoing sessions after a listing.
use super::plan::ApiVersion;
use super::{Run, Stop};
use anyhow::Context;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::task::JoinSet;

/// Fetch tasks of an `--ids` run waiting at once: plenty to keep every request slot busy,
/// and a file of millions of ids does not become millions of tasks held in memory.
pub(super) const MAX_QUEUED: usize = 1024;

/// Fetches sessions by id, skipping those stored as ended.
pub(super) async fn fetch_ids(run: &Arc<Run>, ids: &[String], api: ApiVersion) -> Result<(), Stop> {
    let wanted = ids.iter().filter(|id| run.wanted(id)).cloned();
    fetch_each(run, wanted, api).await
}

/// After a listing: fetches again by id every session the store holds as not ended that the
/// listing did not return (`seen`), so a session stored while ongoing on an earlier run is
/// completed even when it started outside this run's window. A 404 is a failure like any.
pub(super) async fn refresh_ongoing(run: &Arc<Run>, seen: &HashSet<String>) -> Result<(), Stop> {
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
    run.progress.totals_known();
    drain(work).await
}

/// What a finished task says: nothing, or why the run stops.
pub(super) fn settle(done: Result<Result<(), Stop>, tokio::task::JoinError>) -> Result<(), Stop> {
    done.context("a fetch task was interrupted").and_then(|r| r)
}

/// Waits for every task; the first stop aborts the others.
pub(super) async fn drain(mut work: JoinSet<Result<(), Stop>>) -> Result<(), Stop> {
    while let Some(done) = work.join_next().await {
        if let Err(stop) = settle(done) {
            work.abort_all();
            return Err(stop);
        }
    }
    Ok(())
}
