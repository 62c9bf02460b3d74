//! `sessionstats run` (placeholder: being built).
use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct RunArgs {}

pub fn execute(_args: &RunArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("run is not built yet")
}
