//! The command line: one module per subcommand, on top of the library.
use clap::{Parser, Subcommand};
use sessionstats::outcome::Outcome;
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
    /// Print nothing but errors (and warnings), with any command.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// `--quiet`, set once from the command line before the command runs.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Progress is drawn on stderr only for a person at a terminal, never into a cron log, and
/// not with `--quiet`.
pub fn shows_progress() -> bool {
    use std::io::IsTerminal;
    !quiet() && std::io::stderr().is_terminal()
}

const EXAMPLES: &str = "\
Examples:
  sessionstats analyze data/sample --out report            analyze a folder into CSV reports
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
    Completions(Completions),
    Man(Man),
}

/// Print a shell completion script: sessionstats completions bash > /etc/bash_completion.d/sessionstats
#[derive(Debug, Clone, clap::Args)]
pub struct Completions {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Print the manual page (roff): sessionstats man > /usr/local/share/man/man1/sessionstats.1
#[derive(Debug, Clone, clap::Args)]
pub struct Man {}

/// Writes the completion script for `shell` to stdout.
fn print_completions(shell: clap_complete::Shell) -> anyhow::Result<Outcome> {
    use clap::CommandFactory;
    // Rendered first: clap_complete panics when its writer fails (a reader that went away).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "sessionstats", &mut script);
    print_document(&script)
}

/// Writes the manual page to stdout.
fn print_man() -> anyhow::Result<Outcome> {
    use clap::CommandFactory;
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    print_document(&page)
}

/// Writes a generated document to stdout. A reader that stops early (`| head`) is no error:
/// as with `cat`, the rest is simply not wanted.
fn print_document(bytes: &[u8]) -> anyhow::Result<Outcome> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to standard output"))
        }
        _ => Ok(Outcome::Complete),
    }
}

/// Writes `text` and a line end to stderr. A closed or broken stderr (a cron wrapper that went
/// away) loses the message but never panics: the exit status still says what happened.
pub fn warn(text: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// `--max-document-size`, `--max-body-size`: bytes, or a number with `K`, `M` or `G` (powers of
/// 1024, an optional `iB`/`B` after it), at least 1 byte.
pub fn parse_size(text: &str, option: &str) -> anyhow::Result<u64> {
    let trimmed = text.trim();
    let upper = trimmed.to_ascii_uppercase();
    let number = upper
        .trim_end_matches("IB")
        .trim_end_matches('B')
        .trim_end();
    let (digits, shift) = match number.char_indices().last() {
        Some((i, 'K')) => (&number[..i], 10),
        Some((i, 'M')) => (&number[..i], 20),
        Some((i, 'G')) => (&number[..i], 30),
        _ => (number, 0),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{option} must be a size such as 64M, 1G or 1048576 (bytes), not {:?}",
                sessionstats::text::escape_for_terminal(trimmed)
            )
        })
}

/// Writes `text` to stdout. A closed stdout (`sessionstats … | head`) only ends the printing:
/// the work is done by then, and a broken pipe is no reason to fail or panic.
pub fn say(text: impl std::fmt::Display) {
    use std::io::Write;
    if quiet() {
        return;
    }
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
            // clap's own message (usage, help): printed as clap renders it, errors to a stderr
            // that may be closed without a panic.
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    let result = match &cli.command {
        Command::Analyze(args) => analyze::execute(args),
        #[cfg(feature = "fetch")]
        Command::Fetch(args) => fetch::execute(args),
        #[cfg(feature = "fetch")]
        Command::Run(args) => run::execute(args),
        Command::Gen(args) => gen::execute(args),
        Command::Completions(c) => print_completions(c.shell),
        Command::Man(_) => print_man(),
    };
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            // Errors quote paths, ids and API messages: escaped, never acted on by a terminal.
            let message = format!("{err:#}");
            warn(format_args!(
                "error: {}",
                sessionstats::text::escape_for_terminal(&message)
            ));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_take_binary_units_and_refuse_nonsense() {
        let size = |t: &str| super::parse_size(t, "--x").ok();
        assert_eq!(size("1048576"), Some(1 << 20));
        assert_eq!(size("64M"), Some(64 << 20));
        assert_eq!(size("64MiB"), Some(64 << 20));
        assert_eq!(size("2g"), Some(2 << 30));
        assert_eq!(size("512K"), Some(512 << 10));
        for bad in ["", "0", "-1", "1.5M", "M", "99999999999G", "ten"] {
            assert_eq!(size(bad), None, "{bad}");
        }
    }
}
