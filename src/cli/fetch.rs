//! `sessionstats fetch`: download session documents from the VideoSDK REST API into a folder.
use super::options::{LoadOptions, SelectOptions};
use anyhow::Result;
use sessionstats::fetch::plan::{self, ApiVersion};
use sessionstats::fetch::{FetchConfig, Summary, Target};
use sessionstats::outcome::Outcome;
use std::path::PathBuf;

/// Download session documents into DIR/<start day, UTC>/<session id>.json, resumably.
///
/// Credentials come from the environment: VIDEOSDK_TOKEN (a ready token), or VIDEOSDK_API_KEY
/// and VIDEOSDK_SECRET (a token is minted from them).
#[derive(Debug, Clone, clap::Args)]
pub struct FetchArgs {
    /// Store folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub select: SelectOptions,
    /// Fetch the session ids in FILE (one a line; - reads standard input) instead of listing.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["room", "custom_room_id", "since", "until", "status", "details"])]
    pub ids: Option<String>,
    /// Endpoint for --ids: v2 (GET /v2/sessions/:id) or v1 (GET /v1/meeting-sessions/:id).
    #[arg(long, value_enum, default_value = "v2", requires = "ids")]
    pub api: ApiVersion,
    #[command(flatten)]
    pub load: LoadOptions,
}

/// Runs a fetch with the credentials of the environment and progress on stderr (bars on a
/// terminal, a line every few seconds in a log, only failures with `--quiet`), and prints the
/// summary.
pub fn fetch_and_summarize(config: &FetchConfig) -> Result<Summary> {
    use sessionstats::fetch::progress::Display;
    use std::io::IsTerminal;
    let display = Display::choose(super::quiet(), std::io::stderr().is_terminal());
    let summary = sessionstats::fetch::fetch_with_env_credentials(config, display)?;
    super::say(format_args!("{}\n", summary.render()));
    Ok(summary)
}

pub fn execute(args: &FetchArgs) -> Result<Outcome> {
    let target = match &args.ids {
        Some(source) => Target::Ids {
            ids: plan::read_ids(source)?,
            api: args.api,
        },
        None => Target::List(args.select.listing(&args.load)?),
    };
    let config = FetchConfig {
        out: args.out.clone(),
        target,
        details: args.select.details,
        refresh: args.select.refresh,
        settings: args.load.settings()?,
    };
    fetch_and_summarize(&config).map(|summary| summary.outcome())
}
