//! Helpers shared by the integration tests: run the built binary, write input files, read
//! reports; [`server`] is a local VideoSDK API for the fetch tests.
#![allow(dead_code)]

pub mod server;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_sessionstats");

pub const SESSIONS_COLS: &[&str] = &[
    "session_id",
    "room_id",
    "status",
    "start",
    "end",
    "ongoing",
    "duration_ms",
    "reported_active_duration",
    "participants",
    "attendees",
    "participant_ms",
    "peak_concurrency",
    "peak_at",
    "peak_ms",
    "avg_concurrency",
    "empty_ms",
    "intervals",
    "invalid_intervals",
    "invalid_participants",
    "clipped_ms",
    "pairs_skipped",
];
pub const PARTICIPANTS_COLS: &[&str] = &[
    "session_id",
    "room_id",
    "participant_id",
    "name",
    "intervals",
    "segments",
    "rejoins",
    "first_join",
    "last_leave",
    "attended_ms",
    "raw_ms",
    "self_overlap_ms",
    "gap_ms",
    "attendance_pct",
    "open",
];
pub const OVERLAPS_COLS: &[&str] = &[
    "session_id",
    "participant_a",
    "participant_b",
    "name_a",
    "name_b",
    "overlap_ms",
    "first_overlap",
];
pub const CONCURRENCY_COLS: &[&str] = &["session_id", "at", "concurrency"];
pub const REJECTS_COLS: &[&str] = &["path", "line", "session_id", "reason"];

pub const REPORTS: &[(&str, &[&str])] = &[
    ("sessions", SESSIONS_COLS),
    ("participants", PARTICIPANTS_COLS),
    ("overlaps", OVERLAPS_COLS),
    ("concurrency", CONCURRENCY_COLS),
    ("rejects", REJECTS_COLS),
];

/// Columns holding ratios: compared as numbers with a tolerance, never as strings.
pub const FLOAT_COLS: &[&str] = &["avg_concurrency", "attendance_pct"];

/// What a run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `sessionstats ARGS` in `cwd`.
pub fn run_in(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .expect("cannot start the sessionstats binary");
    Run {
        code: out.status.code().expect("killed by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `sessionstats analyze INPUTS --out OUT --quiet EXTRA` in `cwd`.
pub fn analyze(cwd: &Path, inputs: &[&str], out: &str, extra: &[&str]) -> Run {
    let mut args = vec!["analyze"];
    args.extend_from_slice(inputs);
    args.extend_from_slice(&["--out", out, "--quiet"]);
    args.extend_from_slice(extra);
    run_in(cwd, &args)
}

/// Writes `bytes` to `path`, creating the parent folders.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, bytes).unwrap();
}

/// Gzip-compresses `bytes`.
pub fn gz(bytes: impl AsRef<[u8]>) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes.as_ref()).unwrap();
    enc.finish().unwrap()
}

/// `"10:05"` → `"2024-03-01T10:05:00.000Z"`; `"10:58:30"` → `"2024-03-01T10:58:30.000Z"`;
/// `"10:00:00.500"` → `"2024-03-01T10:00:00.500Z"`. The day of every hand-made session.
pub fn t(hms: &str) -> String {
    match hms.len() {
        5 => format!("2024-03-01T{hms}:00.000Z"),
        8 => format!("2024-03-01T{hms}.000Z"),
        12 => format!("2024-03-01T{hms}Z"),
        _ => panic!("bad time {hms}"),
    }
}

/// A timelog entry `{start, end}` on the test day.
pub fn iv(start: &str, end: &str) -> serde_json::Value {
    serde_json::json!({"start": t(start), "end": t(end)})
}

/// A session that ran `start`..`end` on the test day with one participant present throughout.
pub fn simple_session(id: &str, start: &str, end: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "roomId": "room-x", "start": t(start), "end": t(end), "status": "ended",
        "participants": [{"participantId": "pp000001", "name": "Solo", "timelog": [iv(start, end)]}]
    })
}

/// A CSV report read back with the csv crate: header and rows of strings.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn read(path: &Path) -> Table {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let headers = rdr.headers().unwrap().iter().map(String::from).collect();
        let rows = rdr
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        Table {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            headers,
            rows,
        }
    }

    /// Reads `DIR/NAME.csv` and checks its header against the SPEC column order.
    pub fn report(dir: &Path, name: &str) -> Table {
        let table = Table::read(&dir.join(format!("{name}.csv")));
        let cols = REPORTS.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!(table.headers, cols, "header of {name}.csv");
        table
    }

    pub fn col(&self, name: &str) -> usize {
        self.headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{}: no column {name}", self.name))
    }

    pub fn column(&self, name: &str) -> Vec<&str> {
        let c = self.col(name);
        self.rows.iter().map(|r| r[c].as_str()).collect()
    }

    /// Indices of the rows whose `col` is `value`.
    pub fn rows_where(&self, col: &str, value: &str) -> Vec<usize> {
        let c = self.col(col);
        (0..self.rows.len())
            .filter(|&i| self.rows[i][c] == value)
            .collect()
    }

    /// The one row matching every `(column, value)` of `key`.
    pub fn find(&self, key: &[(&str, &str)]) -> usize {
        let hits: Vec<usize> = (0..self.rows.len())
            .filter(|&i| key.iter().all(|(c, v)| self.rows[i][self.col(c)] == *v))
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "{}: expected exactly one row with {key:?}, found {}",
            self.name,
            hits.len()
        );
        hits[0]
    }

    pub fn get(&self, row: usize, col: &str) -> &str {
        &self.rows[row][self.col(col)]
    }

    /// Checks the cells of the row matching `key`; float columns are compared as numbers.
    pub fn expect(&self, key: &[(&str, &str)], expected: &[(&str, &str)]) {
        let row = self.find(key);
        for (col, want) in expected {
            let got = self.get(row, col);
            assert_cell(&self.name, key, col, got, want);
        }
    }
}

pub fn assert_cell(table: &str, key: &[(&str, &str)], col: &str, got: &str, want: &str) {
    if FLOAT_COLS.contains(&col) && !want.is_empty() {
        let w: f64 = want.parse().unwrap();
        let g: f64 = got.parse().unwrap_or_else(|_| {
            panic!("{table} {key:?} {col}: expected number {want}, got {got:?}")
        });
        assert!(
            (g - w).abs() <= 1e-5 * w.abs().max(1.0),
            "{table} {key:?} {col}: expected {want}, got {got}"
        );
    } else {
        assert_eq!(got, want, "{table} {key:?} column {col}");
    }
}

/// Names of the entries of `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join("sample")
}
