//! The `sessionstats` binary: the command line (flags, subcommands, terminal output) on top of
//! the library. Flags stay out of the library: it only sees resolved configurations.
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
