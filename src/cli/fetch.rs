//! `sessionstats fetch` (placeholder: being built).
use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct FetchArgs {}

pub fn execute(_args: &FetchArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("fetch is not built yet")
}
