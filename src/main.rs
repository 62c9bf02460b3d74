//! The `sessionstats` binary: everything lives in the library; see `sessionstats::cli`.
fn main() -> std::process::ExitCode {
    sessionstats::cli::main()
}
