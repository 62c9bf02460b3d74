//! The end of a fetch run: what it did, its exit status, and the lines a person reads.
use super::store::{self, Failure};
use crate::outcome::Outcome;
use std::path::PathBuf;
use std::time::Duration;

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
        let mut lines = vec![format!(
            "fetch summary ({})",
            crate::text::path_for_terminal(&self.out)
        )];
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
            row(
                "failed",
                format!("{failed} (see {})", crate::text::path_for_terminal(&file)),
            );
        }
        row("retries", self.retries.to_string());
        row("requests", format!("{} ({per_sec:.1}/s)", self.requests));
        row("elapsed", format!("{secs:.1}s"));
        lines.join("\n")
    }
}
