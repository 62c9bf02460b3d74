//! The reports of a generated corpus stay byte for byte what they were recorded as.
//!
//! `tests/fixtures/corpus` was made with `sessionstats gen --sessions 400 --seed 11 --gzip`, and
//! `corpus-reports.sha256` holds the SHA-256 of each CSV report that `analyze` wrote for it
//! (with `--as-of 2026-01-01T00:00:00Z`). Every later version of `analyze` must write the same
//! bytes, with one thread or several.
//!
//! Recorded first before the speed work (five reports), and once again when the reports gained
//! `present`, `late_ms`, `early_leave_ms`, the renamed `started_at`/`ended_at`/`changed_at` and
//! four rollups, and the generator its recurring people (which changed the corpus). Before that
//! re-recording, the new reports of the old corpus, with the appended columns dropped and the
//! old names put back, hashed to exactly the old values.
use crate::util::Run;
use sha2::{Digest, Sha256};
use std::path::Path;

fn expected() -> Vec<(String, String)> {
    let listing = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus-reports.sha256"),
    )
    .unwrap();
    listing
        .lines()
        .map(|line| {
            let (hash, name) = line.split_once("  ").unwrap();
            (name.to_owned(), hash.to_owned())
        })
        .collect()
}

#[test]
fn reports_of_the_generated_corpus_are_unchanged() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    for threads in ["1", "2"] {
        let out = tempfile::tempdir().unwrap();
        let ran = Run::new(["analyze", "--quiet", "--as-of", "2026-01-01T00:00:00Z"])
            .args(["--threads", threads, "--out"])
            .arg(out.path())
            .arg(&corpus)
            .output();
        assert_eq!(
            ran.code, 0,
            "analyze failed on the fixture corpus: {}",
            ran.stderr
        );
        for (name, hash) in expected() {
            let bytes = std::fs::read(out.path().join(&name)).unwrap();
            let actual = format!("{:x}", Sha256::digest(&bytes));
            assert_eq!(
                actual, hash,
                "{name} differs from the recorded reports (threads {threads})"
            );
        }
    }
}
