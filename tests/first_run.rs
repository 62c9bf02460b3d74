//! The report folder and the first-run experience (issue 13): a run with nothing usable leaves
//! the folder as it was, a good run leaves exactly its own reports and a manifest, `--as-of
//! latest`, standard input, completions and a man page, `--quiet` everywhere.
use crate::util::report::Table;
use crate::util::*;
use std::fs;
use std::path::Path;

const SAMPLE_AS_OF: &str = "2021-10-29T10:00:00Z";

/// Runs `analyze` on the sample into `out` with `extra` options (not quiet).
fn analyze_sample(out: &Path, extra: &[&str]) -> Ran {
    Run::new(["analyze"])
        .arg(sample_dir())
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
}

/// Every file of a folder with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    walk(dir)
        .into_iter()
        .map(|name| {
            let bytes = fs::read(dir.join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

#[test]
fn a_mistyped_path_leaves_the_last_good_reports_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    assert_eq!(analyze_sample(&out, &["--as-of", SAMPLE_AS_OF]).code, 0);
    let before = snapshot(&out);
    let r = Run::new(["analyze", "exports/typo", "--out"])
        .arg(&out)
        .current_dir(dir.path())
        .output();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no report was written"), "{}", r.stderr);
    assert!(!r.stdout.contains("wrote:"), "{}", r.stdout);
    assert_eq!(snapshot(&out), before, "the folder changed");
    // A folder that did not exist is not left behind either.
    let fresh = dir.path().join("fresh");
    let r = Run::new(["analyze", "exports/typo", "--out"])
        .arg(&fresh)
        .current_dir(dir.path())
        .output();
    assert_eq!(r.code, 1);
    assert!(!fresh.exists());
}

#[test]
fn a_run_leaves_exactly_its_own_reports_and_never_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    assert_eq!(analyze_sample(&out, &["--as-of", SAMPLE_AS_OF]).code, 0);
    write(&out.join("notes.txt"), "mine");
    write(&out.join("sessions.csv.bak"), "mine too");
    let r = analyze_sample(&out, &["--as-of", SAMPLE_AS_OF, "--format", "html"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        listing(&out),
        [
            "manifest.json",
            "notes.txt",
            "report.html",
            "sessions.csv.bak"
        ]
    );
}

#[test]
fn the_manifest_says_what_the_run_was() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let r = analyze_sample(
        &out,
        &[
            "--as-of",
            SAMPLE_AS_OF,
            "--tz",
            "Asia/Kolkata",
            "--quota",
            "3",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["tool"], "sessionstats");
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["as_of"], "2021-10-29T10:00:00.000Z");
    assert_eq!(manifest["as_of_from"], "given");
    assert_eq!(manifest["zone"], "Asia/Kolkata");
    assert_eq!(manifest["options"]["quota"], 3);
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["counts"]["sessions"], 28);
    assert_eq!(manifest["counts"]["duplicates_dropped"], 1);
    assert_eq!(manifest["counts"]["rejects"], 0);
    assert_eq!(
        manifest["inputs"][0]
            .as_str()
            .map(|p| p.ends_with("data/sample")),
        Some(true)
    );
    let mut files: Vec<String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    files.sort();
    let mut reports = listing(&out);
    reports.retain(|f| f != "manifest.json");
    assert_eq!(files, reports, "the manifest lists every report written");
    // Rejected input: the run is not complete.
    write(&dir.path().join("in/bad.json"), "{");
    write(
        &dir.path().join("in/good.json"),
        simple_session("s", "10:00", "10:30").to_string(),
    );
    let r = Run::new(["analyze", "in", "--out", "r2", "--as-of", SAMPLE_AS_OF])
        .current_dir(dir.path())
        .output();
    assert_eq!(r.code, 2);
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("r2/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], false);
    assert_eq!(manifest["counts"]["rejects"], 1);
}

#[test]
fn as_of_latest_closes_open_work_at_the_latest_instant_of_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let r = analyze_sample(&out, &["--as-of", "latest"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The latest instant of the kept sessions (worked out from the documents with a script
    // that reads them independently): the ongoing session's last connection start.
    assert!(
        r.stdout
            .contains("as-of:              2021-10-29T09:13:43.904Z (latest instant in the input)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("closed at as-of:    1 session still ongoing"),
        "{}",
        r.stdout
    );
    let s = Table::report(&out, "sessions");
    let ongoing = s.rows_where("ongoing", "true");
    assert_eq!(ongoing.len(), 1);
    assert_eq!(s.get(ongoing[0], "ended_at"), "2021-10-29T09:13:43.904Z");
    // A date is local midnight in --tz.
    let r = analyze_sample(&out, &["--as-of", "2021-10-30", "--tz", "Asia/Kolkata"]);
    assert!(
        r.stdout
            .contains("as-of:              2021-10-29T18:30:00.000Z (given)"),
        "{}",
        r.stdout
    );
    // An as-of long after the data is warned about on stderr, naming --as-of.
    let r = analyze_sample(&out, &["--as-of", "2024-01-01T00:00:00Z"]);
    assert!(
        r.stderr.contains("warning:") && r.stderr.contains("--as-of latest"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("more than a day after the last recorded instant of 1 ongoing session"),
        "{}",
        r.stderr
    );
}

#[test]
fn standard_input_is_read_as_ndjson_plain_or_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let lines = format!(
        "{}\nnot json\n{}\n",
        simple_session("a", "10:00", "10:30"),
        simple_session("b", "11:00", "11:30")
    );
    for (name, bytes) in [("plain", lines.clone().into_bytes()), ("gzip", gz(&lines))] {
        let r = Run::new(["analyze", "-", "--out", name, "--as-of", SAMPLE_AS_OF])
            .current_dir(dir.path())
            .stdin(bytes)
            .output();
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        let out = dir.path().join(name);
        assert_eq!(
            Table::report(&out, "sessions").column("session_id"),
            ["a", "b"]
        );
        let rejects = Table::report(&out, "rejects");
        assert_eq!((rejects.get(0, "path"), rejects.get(0, "line")), ("-", "2"));
        // The temporary copy of the input is gone.
        assert!(
            listing(&out).iter().all(|f| !f.starts_with('.')),
            "{:?}",
            listing(&out)
        );
    }
}

#[test]
fn out_naming_a_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("report"), "a file");
    let r = Run::new(["analyze", "x", "--out", "report"])
        .current_dir(dir.path())
        .output();
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is a file, not a folder"), "{}", r.stderr);
    assert_eq!(
        fs::read_to_string(dir.path().join("report")).unwrap(),
        "a file"
    );
}

#[test]
fn completions_and_a_man_page_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let r = Run::new(["completions", shell]).output();
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        for word in ["sessionstats", "analyze", "as-of", "present"] {
            assert!(r.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    let r = Run::new(["man"]).output();
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains(".TH sessionstats 1"), "{}", r.stdout);
    assert!(Run::new(["completions", "tcsh"]).output().code == 1);
}

#[test]
fn a_reader_that_stops_early_is_no_error() {
    // `sessionstats man | head -1`: the pipe closes before the page is written.
    for args in [&["completions", "bash"][..], &["man"]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sessionstats"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn quiet_prints_nothing_for_any_command() {
    let dir = tempfile::tempdir().unwrap();
    let r = Run::new(["gen", "--sessions", "5", "--out", "corpus", "-q"])
        .current_dir(dir.path())
        .output();
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    let r = Run::new([
        "-q",
        "analyze",
        "corpus",
        "--out",
        "report",
        "--as-of",
        SAMPLE_AS_OF,
    ])
    .current_dir(dir.path())
    .output();
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
}

#[test]
fn quiet_keeps_the_as_of_warnings_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let r = analyze_sample(&out, &["-q", "--as-of", "2030-01-01T00:00:00Z"]);
    assert_ne!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .contains("warning: as-of lies more than a day after"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_report_folder_inside_the_input_is_not_read_back() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("session.json"),
        r#"{"id":"s1","start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z",
            "participants":[{"participantId":"p","name":"P",
            "timelog":[{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:30:00Z"}]}]}"#,
    )
    .unwrap();
    for run in 0..2 {
        let r = Run::new(["analyze", ".", "--out", "report", "--as-of", "latest"])
            .current_dir(dir.path())
            .output();
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains("analyzed 1 session from 1 file"),
            "{}",
            r.stdout
        );
        // The second run passes over the nine CSV reports (not input by their suffix); the
        // manifest is neither read nor counted.
        let skipped = if run == 0 {
            ""
        } else {
            "files skipped:      9 ("
        };
        assert!(r.stdout.contains(skipped), "{}", r.stdout);
        let rejects = Table::read(&dir.path().join("report/rejects.csv"));
        assert_eq!(rejects.rows.len(), 0, "{:?}", rejects.rows);
    }
}
