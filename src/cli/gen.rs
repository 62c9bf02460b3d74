//! `sessionstats gen`: write a deterministic corpus of realistic session documents.
use sessionstats::gen::{generate_corpus, Config, Shape};
use sessionstats::outcome::Outcome;
use std::path::PathBuf;
use std::time::Instant;

/// Generate a corpus of realistic VideoSDK session documents, to try the tool or benchmark it.
/// The same seed, size and shape always give the same bytes.
#[derive(Debug, Clone, clap::Args)]
pub struct GenArgs {
    /// Number of distinct sessions.
    #[arg(long, default_value_t = 1000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub sessions: u64,
    /// Seed of the random streams.
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub seed: u64,
    /// Folder to write into (created; must be new or empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How sessions are packed into files.
    #[arg(long, value_enum, default_value_t = Shape::Mixed)]
    pub shape: Shape,
    /// Gzip every file (`.gz` suffix).
    #[arg(long)]
    pub gzip: bool,
}

pub fn execute(args: &GenArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let config = Config {
        sessions: args.sessions,
        seed: args.seed,
        shape: args.shape,
        gzip: args.gzip,
    };
    let summary = generate_corpus(&config, &args.out)?;
    super::say(format_args!(
        "gen: {summary} in {}, {:.1} s\n",
        sessionstats::text::path_for_terminal(&args.out),
        started.elapsed().as_secs_f64()
    ));
    Ok(Outcome::Complete)
}
