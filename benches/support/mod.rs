//! What the criterion benches share.
use criterion::Criterion;
use std::time::Duration;

/// Short runs: these machines are small and shared; ratios inside one run are what count.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}
