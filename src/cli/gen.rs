//! `sessionstats gen` (placeholder: being built).
use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct GenArgs {}

pub fn execute(_args: &GenArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("gen is not built yet")
}
