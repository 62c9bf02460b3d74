//! Session analytics for VideoSDK meetings.
//!
//! The pipeline is visible in the module tree:
//! [`ingest`] (walk, decode, reject) → [`analysis`] (intervals, per-participant, per-session,
//! overlaps, concurrency) → [`report`] (one module per output format), with [`fetch`] beside
//! them (the REST API client) and [`cli`] on top.
pub mod analysis;
pub mod cli;
pub mod fetch;
pub mod fsutil;
pub mod gen;
pub mod ingest;
pub mod pipeline;
pub mod report;
pub mod time;
