//! How a command ended, as the process exit status (docs/reference.md, "Exit status").
//!
//! The variants are ordered from best to worst, so the outcome of several steps is their
//! [`Ord::max`]: a run is only as complete as its weakest step (as fd's `exit_codes.rs`).
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Everything was used / fetched: exit 0.
    Complete,
    /// Reports written (or documents stored), but some input was rejected or failed: exit 2.
    Partial,
    /// Nothing usable was done: exit 1.
    Failed,
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Complete => ExitCode::SUCCESS,
            Outcome::Partial => ExitCode::from(2),
            Outcome::Failed => ExitCode::from(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome::*;

    #[test]
    fn combining_outcomes_keeps_the_worst() {
        assert_eq!(Complete.max(Partial), Partial);
        assert_eq!(Failed.max(Partial), Failed);
        assert_eq!([Complete, Complete].into_iter().max(), Some(Complete));
    }
}
