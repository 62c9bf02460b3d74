//! The report folder a run leaves behind (docs/reference.md §8): exactly this run's reports
//! and a `manifest.json` that says what they are. Report files of an earlier run that this run
//! did not write are removed, and nothing else is ever touched.
use super::html::FILE_NAME as HTML;
use super::tables::ALL;
use crate::fsutil::write_atomically;
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// Every suffix a table report may have had, whatever formats this build writes.
const TABLE_SUFFIXES: [&str; 2] = ["csv", "parquet"];

/// The names of every file a run of this tool may write into a report folder.
fn our_names() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = ALL
        .iter()
        .flat_map(|spec| TABLE_SUFFIXES.map(|suffix| format!("{}.{suffix}", spec.name)))
        .collect();
    names.insert(HTML.to_owned());
    names.insert(MANIFEST.to_owned());
    names
}

/// Removes our report files in `dir` that are not in `written` (an earlier run's, in a format
/// or of a table this run did not write). Returns the names removed.
pub fn remove_stale(dir: &Path, written: &[PathBuf]) -> Result<Vec<String>> {
    let kept: BTreeSet<&std::ffi::OsStr> = written.iter().filter_map(|p| p.file_name()).collect();
    let mut removed = Vec::new();
    for name in our_names() {
        let path = dir.join(&name);
        if kept.contains(path.file_name().unwrap_or_default()) || !path.is_file() {
            continue;
        }
        std::fs::remove_file(&path)
            .with_context(|| format!("cannot remove the stale report {}", path.display()))?;
        removed.push(name);
    }
    Ok(removed)
}

/// Writes `manifest` as `dir/manifest.json` (under a temporary name, then renamed).
pub fn write_manifest(dir: &Path, manifest: &serde_json::Value) -> Result<PathBuf> {
    let path = dir.join(MANIFEST);
    write_atomically(&path, |out| {
        serde_json::to_writer_pretty(&mut *out, manifest)?;
        std::io::Write::write_all(out, b"\n")?;
        Ok(())
    })
    .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_reports_that_this_run_did_not_write_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "sessions.csv",
            "sessions.parquet",
            "usage.csv",
            "notes.txt",
            "sessions.csv.bak",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("rooms.csv")).unwrap();
        let written = [dir.path().join("sessions.parquet")];
        let removed = remove_stale(dir.path(), &written).unwrap();
        assert_eq!(removed, ["sessions.csv", "usage.csv"]);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "notes.txt",
                "rooms.csv",
                "sessions.csv.bak",
                "sessions.parquet"
            ]
        );
    }
}
