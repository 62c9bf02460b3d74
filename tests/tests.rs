//! The integration tests, as one binary so the crate is linked once: one module per theme, and
//! the helpers they share in `util`.

mod analyze;
#[cfg(feature = "fetch")]
mod fetch;
mod first_run;
mod gen;
mod golden;
mod hostile_analyze;
#[cfg(feature = "fetch")]
mod hostile_fetch;
mod html;
#[cfg(feature = "fetch")]
mod store_index;
mod util;
