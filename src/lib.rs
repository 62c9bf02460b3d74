//! Session analytics for VideoSDK meetings.
//!
//! The pipeline is visible in the module tree:
//! [`ingest`] (walk, decode, reject) → [`analysis`] (intervals, per-participant, per-session,
//! overlaps, concurrency) → [`report`] (one module per output format), with [`fetch`] beside
//! them (the REST API client); the command line lives in the binary (`src/cli/`), so no
//! library module can depend on it.
pub mod analysis;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod fsutil;
pub mod gen;
pub mod ingest;
pub mod outcome;
pub mod pipeline;
pub mod report;
pub mod text;
pub mod time;
