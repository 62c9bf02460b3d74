//! `sessionstats analyze`: read session documents, compute the metrics, write the reports.
use super::Outcome;
use std::path::PathBuf;

/// Read a folder of session documents and write attendance, co-presence and concurrency reports.
#[derive(Debug, Clone, clap::Args)]
pub struct AnalyzeArgs {
    /// Files and folders to read (folders are walked recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Folder the reports are written to (created if missing).
    #[arg(long, default_value = "report", value_name = "DIR")]
    pub out: PathBuf,
    /// Report formats: csv, parquet, or both as csv,parquet.
    #[arg(long, default_value = "csv", value_name = "FORMATS")]
    pub format: String,
    /// The instant that closes open intervals and ongoing sessions (RFC 3339); default: now.
    #[arg(long, value_name = "RFC3339")]
    pub as_of: Option<String>,
    /// Sessions with more participants than this get no pair rows in the overlaps report.
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub max_pair_participants: usize,
    /// Worker threads; default: all cores.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn execute(_args: &AnalyzeArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("analyze is being built")
}
