//! The command line: one module per subcommand, on top of the library.
use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod analyze;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod gen;
#[cfg(feature = "fetch")]
mod options;
#[cfg(feature = "fetch")]
pub mod run;

/// Session analytics for VideoSDK meetings: attendance, co-presence and peak concurrency.
#[derive(Debug, Parser)]
#[command(name = "sessionstats", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  sessionstats analyze data/sample --out report            analyse a folder into CSV reports
  sessionstats analyze exports/ --format csv,parquet --as-of 2024-05-02T00:00:00Z
  sessionstats fetch --since 2024-05-01 --until 2024-05-02 --out store
  sessionstats run --config sessionstats.toml              the nightly job: fetch, then analyze
  sessionstats gen --sessions 1000 --seed 7 --out corpus   a synthetic corpus to try it on

Exit status: 0 everything used, 2 done but some input rejected or failed, 1 nothing usable done.
Run `sessionstats help <COMMAND>` for every option of a command.";

#[derive(Debug, Subcommand)]
pub enum Command {
    Analyze(Box<analyze::AnalyzeArgs>),
    #[cfg(feature = "fetch")]
    Fetch(fetch::FetchArgs),
    #[cfg(feature = "fetch")]
    Run(run::RunArgs),
    Gen(gen::GenArgs),
}

/// Writes `text` to stdout. A closed stdout (`sessionstats … | head`) only ends the printing:
/// the work is done by then, and a broken pipe is no reason to fail or panic.
pub fn say(text: impl std::fmt::Display) {
    use std::io::Write;
    let _ = write!(std::io::stdout().lock(), "{text}");
}

/// Parses the arguments, runs the subcommand and turns its result into an exit status.
/// Errors are printed as `error: <what failed>` with their causes, never as a panic.
pub fn main() -> ExitCode {
    // Usage errors exit 1 ("nothing usable was done"), not clap's default 2, which would read
    // as "reports written but some input rejected".
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match &cli.command {
        Command::Analyze(args) => analyze::execute(args),
        #[cfg(feature = "fetch")]
        Command::Fetch(args) => fetch::execute(args),
        #[cfg(feature = "fetch")]
        Command::Run(args) => run::execute(args),
        Command::Gen(args) => gen::execute(args),
    };
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
