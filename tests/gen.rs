//! `sessionstats gen` end to end: determinism, every shape readable, the session count.
use crate::util::{listing, walk, Ran, Run};
use flate2::read::GzDecoder;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

/// `sessionstats gen --sessions N --seed SEED --out OUT EXTRA`.
fn gen_run(out: &Path, sessions: u64, seed: u64, extra: &[&str]) -> Run {
    Run::new(["gen", "--sessions", &sessions.to_string()])
        .args(["--seed", &seed.to_string(), "--out"])
        .arg(out)
        .args(extra)
}

fn gen(out: &Path, sessions: u64, seed: u64, extra: &[&str]) -> Ran {
    gen_run(out, sessions, seed, extra).output()
}

/// Every file under the folder `dir`, by path relative to it, with its (decompressed) bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    assert!(dir.is_dir(), "{} is not a folder", dir.display());
    walk(dir)
        .into_iter()
        .map(|rel| {
            let raw = std::fs::read(dir.join(&rel)).unwrap();
            let bytes = if Path::new(&rel).extension().is_some_and(|e| e == "gz") {
                let mut text = Vec::new();
                GzDecoder::new(&raw[..]).read_to_end(&mut text).unwrap();
                text
            } else {
                raw
            };
            (rel, bytes)
        })
        .collect()
}

/// Every file under `dir` with its bytes as stored (compressed or not).
fn raw(dir: &Path) -> Vec<(String, Vec<u8>)> {
    tree(dir)
        .into_keys()
        .map(|p| {
            let bytes = std::fs::read(dir.join(&p)).unwrap();
            (p, bytes)
        })
        .collect()
}

/// The sessions of one document (a session, an envelope, or an array).
fn sessions_of(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Object(mut object) => match object.remove("data") {
            Some(Value::Array(items)) => items,
            Some(session) => vec![session],
            None => vec![Value::Object(object)],
        },
        other => panic!("not a document: {other}"),
    }
}

/// All session documents of a generated folder, parsed.
fn documents(dir: &Path) -> Vec<Value> {
    let mut all = Vec::new();
    for (path, bytes) in tree(dir) {
        let text = String::from_utf8(bytes).unwrap();
        let name = path.trim_end_matches(".gz");
        if name.ends_with(".ndjson") || name.ends_with(".jsonl") {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                all.extend(sessions_of(serde_json::from_str(line).unwrap()));
            }
        } else {
            assert!(name.ends_with(".json"), "{name}");
            all.extend(sessions_of(serde_json::from_str(&text).unwrap()));
        }
    }
    all
}

#[test]
fn same_seed_same_bytes_whatever_the_threads_other_seed_other_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    for (out, seed, threads) in [(&a, 5, "2"), (&b, 5, "1"), (&c, 6, "2")] {
        let run = gen_run(out, 400, seed, &["--gzip"])
            .env("RAYON_NUM_THREADS", threads)
            .output();
        assert_eq!(run.code, 0, "{run:?}");
    }
    assert_eq!(tree(&a), tree(&b));
    assert!(raw(&a) == raw(&b), "the compressed bytes are the same too");
    assert_ne!(tree(&a), tree(&c));
}

#[test]
fn every_shape_parses_and_holds_n_distinct_sessions() {
    let dir = tempfile::tempdir().unwrap();
    for shape in ["single", "pages", "ndjson", "mixed"] {
        for gzip in [false, true] {
            let out = dir.path().join(format!("{shape}-{gzip}"));
            let flags: &[&str] = if gzip { &["--gzip"] } else { &[] };
            let run = gen(&out, 250, 1, &[&["--shape", shape], flags].concat());
            assert_eq!(run.code, 0, "{run:?}");
            assert!(run.stdout.contains("250 sessions"), "{}", run.stdout);
            let docs = documents(&out);
            let ids: HashSet<_> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
            assert_eq!(ids.len(), 250, "{shape} gzip={gzip}");
            assert!(docs.len() >= 250);
            let gz = tree(&out)
                .keys()
                .all(|p| Path::new(p).extension().unwrap() == "gz");
            assert_eq!(gz, gzip);
        }
    }
}

#[test]
fn the_mix_has_both_api_shapes_ongoing_sessions_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus");
    assert_eq!(gen(&out, 1500, 2, &["--shape", "single"]).code, 0);
    let docs = documents(&out);
    let count = |f: &dyn Fn(&Value) -> bool| docs.iter().filter(|d| f(d)).count();
    assert!(count(&|d| d.get("meetingId").is_some()) > 300);
    assert!(count(&|d| d.get("roomId").is_some()) > 600);
    assert!(count(&|d| d["end"].is_null()) > 10);
    assert!(count(&|d| d["start"].as_str().unwrap().ends_with("+05:30")) > 0);
    let webinar = |d: &Value| d["participants"].as_array().unwrap().len() >= 250;
    assert!(count(&webinar) > 20);
}

#[test]
fn a_folder_that_is_not_empty_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.json"), "{}").unwrap();
    let run = gen(dir.path(), 10, 1, &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is not empty"), "{}", run.stderr);
    assert_eq!(listing(dir.path()), ["keep.json"]);
}

#[test]
fn analyze_uses_every_generated_document() {
    let dir = tempfile::tempdir().unwrap();
    let (corpus, reports) = (dir.path().join("corpus"), dir.path().join("reports"));
    assert_eq!(gen(&corpus, 600, 3, &["--gzip"]).code, 0);
    let run = Run::new(["analyze"])
        .arg(&corpus)
        .arg("--out")
        .arg(&reports)
        .args(["--as-of", "2024-04-01T00:00:00Z", "--quiet"])
        .output();
    assert_eq!(run.code, 0, "{run:?}");
    let lines = |name: &str| {
        let text = std::fs::read_to_string(reports.join(name)).unwrap();
        text.lines().count()
    };
    assert_eq!(
        lines("sessions.csv"),
        1 + 600,
        "one row per distinct session id"
    );
    assert_eq!(lines("rejects.csv"), 1, "nothing rejected");
}

/// `tests/fixtures/corpus` (the golden test's input) was made with this command: the generator
/// must keep reproducing it, so that "same seed, same bytes" holds across versions too. A
/// deliberate change of the generator's output regenerates that folder and its report hashes.
#[test]
fn the_golden_fixture_corpus_is_reproduced_byte_for_byte() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus");
    assert_eq!(gen(&out, 400, 11, &["--gzip"]).code, 0);
    assert!(
        raw(&out) == raw(&fixture),
        "gen no longer reproduces tests/fixtures/corpus"
    );
}
