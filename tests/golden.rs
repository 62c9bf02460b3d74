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

/// `--reports LIST` writes the selected reports with the bytes of a full run (the recorded
/// ones), and no other report; the summary's figures do not depend on the selection.
#[test]
fn selected_reports_have_the_bytes_of_a_full_run() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let summary_of = |ran: &crate::util::Ran| -> Vec<String> {
        ran.stdout
            .lines()
            .filter(|l| l.contains("participant-hours") || l.contains("present:"))
            .map(str::to_owned)
            .collect()
    };
    let full = Run::new(["analyze", "--as-of", "2026-01-01T00:00:00Z", "--out"])
        .arg(tempfile::tempdir().unwrap().path())
        .arg(&corpus)
        .output();
    for list in [
        "sessions,participants,usage",
        "sessions",
        "overlaps",
        "concurrency,rooms",
        "people,account_concurrency",
        "Usage, rejects",
    ] {
        let out = tempfile::tempdir().unwrap();
        let ran = Run::new(["analyze", "--as-of", "2026-01-01T00:00:00Z"])
            .args(["--reports", list, "--out"])
            .arg(out.path())
            .arg(&corpus)
            .output();
        assert_eq!(ran.code, 0, "--reports {list}: {}", ran.stderr);
        let selected: Vec<String> = list
            .split(',')
            .map(|n| format!("{}.csv", n.trim().to_ascii_lowercase()))
            .chain(["rejects.csv".to_owned()])
            .collect();
        for (name, hash) in expected() {
            let path = out.path().join(&name);
            if selected.contains(&name) {
                let actual = format!("{:x}", Sha256::digest(std::fs::read(&path).unwrap()));
                assert_eq!(actual, hash, "{name} differs with --reports {list}");
            } else {
                assert!(!path.exists(), "{name} written with --reports {list}");
            }
        }
        assert_eq!(summary_of(&ran), summary_of(&full), "--reports {list}");
    }
    let ran = Run::new(["analyze", "--reports", "sessions,pairs", "--out"])
        .arg(tempfile::tempdir().unwrap().path())
        .arg(&corpus)
        .output();
    assert!(ran.code != 0 && ran.stderr.contains("unknown report `pairs`"));
}
