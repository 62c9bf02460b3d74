//! The reports read back: their columns in the order of docs/reference.md §8, and a CSV report as a table of strings
//! whose cells are checked by column name.

use std::path::Path;

pub const SESSIONS_COLS: &[&str] = &[
    "session_id",
    "room_id",
    "status",
    "started_at",
    "ended_at",
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
    "present",
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
    "late_ms",
    "early_leave_ms",
    "present",
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
pub const CONCURRENCY_COLS: &[&str] = &["session_id", "changed_at", "concurrency"];
pub const ROOMS_COLS: &[&str] = &[
    "period",
    "room_id",
    "sessions",
    "ongoing",
    "participants",
    "present",
    "participant_ms",
    "duration_ms",
    "peak_concurrency",
    "first_start",
    "last_end",
];
pub const PEOPLE_COLS: &[&str] = &[
    "period",
    "participant_id",
    "name",
    "sessions",
    "present_sessions",
    "rooms",
    "attended_ms",
    "first_join",
    "last_leave",
];
pub const ACCOUNT_CONCURRENCY_COLS: &[&str] = &["changed_at", "concurrency"];
pub const USAGE_COLS: &[&str] = &[
    "period",
    "sessions",
    "rooms",
    "participants",
    "participant_ms",
    "peak_concurrency",
    "peak_at",
    "over_quota_ms",
];
pub const REJECTS_COLS: &[&str] = &["path", "line", "session_id", "reason"];

pub const REPORTS: &[(&str, &[&str])] = &[
    ("sessions", SESSIONS_COLS),
    ("participants", PARTICIPANTS_COLS),
    ("overlaps", OVERLAPS_COLS),
    ("concurrency", CONCURRENCY_COLS),
    ("rooms", ROOMS_COLS),
    ("people", PEOPLE_COLS),
    ("account_concurrency", ACCOUNT_CONCURRENCY_COLS),
    ("usage", USAGE_COLS),
    ("rejects", REJECTS_COLS),
];

/// Columns holding ratios: compared as numbers with a tolerance, never as strings.
pub const FLOAT_COLS: &[&str] = &["avg_concurrency", "attendance_pct"];

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

    /// Reads `DIR/NAME.csv` and checks its header against the column order of docs/reference.md §8.
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
