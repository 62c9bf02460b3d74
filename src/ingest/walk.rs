//! Finding the input files (docs/reference.md §2): folders walked recursively, hidden entries skipped, only
//! known suffixes read, every file once, in byte order of its path.
use super::{Reject, RejectReason};
use std::path::{Path, PathBuf};

/// How a file's content is laid out, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// One JSON document per line (`.ndjson`, `.jsonl`).
    pub lines: bool,
    /// gzip-compressed (`.gz` after the suffix).
    pub gzip: bool,
}

/// The layout of a file name, or `None` when it is not a suffix `analyze` reads. The name is
/// looked at as bytes: a name that is not UTF-8 is read like any other.
pub fn layout_of(path: &Path) -> Option<Layout> {
    let name = path.file_name()?.as_encoded_bytes();
    let (name, gzip) = match name.strip_suffix(b".gz") {
        Some(inner) => (inner, true),
        None => (name, false),
    };
    let lines = if name.ends_with(b".ndjson") || name.ends_with(b".jsonl") {
        true
    } else if name.ends_with(b".json") {
        false
    } else {
        return None;
    };
    Some(Layout { lines, gzip })
}

/// What a file that is not a regular one is, for its reject reason.
pub fn kind_of(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

/// An input file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    pub layout: Layout,
    /// How reports and messages name it, when not by its path (`-` for standard input,
    /// which is read from a temporary copy).
    pub label: Option<String>,
}

impl InputFile {
    pub fn new(path: PathBuf, layout: Layout) -> InputFile {
        InputFile {
            path,
            layout,
            label: None,
        }
    }

    /// How reports and messages name it: its label, or its path as text.
    pub fn name(&self) -> String {
        match &self.label {
            Some(label) => label.clone(),
            None => crate::text::path_text(&self.path),
        }
    }
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Files to read, sorted by the bytes of their path, each file once however it was named.
    pub files: Vec<InputFile>,
    /// Files passed over because of their suffix, and entries that are not regular files
    /// (those are rejected too).
    pub skipped: usize,
    /// Paths that could not be listed or opened: reported, never silently lost.
    pub rejects: Vec<Reject>,
}

fn fs_canonical(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

fn is_hidden(entry: &walkdir::DirEntry) -> bool {
    entry.depth() > 0 && entry.file_name().as_encoded_bytes().starts_with(b".")
}

/// Walks `inputs`. A file named on the command line is read whatever its suffix (as NDJSON when
/// it ends in `.ndjson`/`.jsonl`, as JSON otherwise, gunzipped when it ends in `.gz`); inside
/// folders only the known suffixes are read and the rest is counted as skipped. `not_input`
/// (the report folder's manifest) is passed over when a walk meets it: it is this tool's own
/// output, not input. Named on the command line, it is read like any file.
pub fn discover(inputs: &[PathBuf], not_input: Option<&Path>) -> Discovery {
    let mut found = Discovery::default();
    let not_input = not_input.and_then(|path| Some((path.file_name()?, fs_canonical(path)?)));
    let is_not_input = |path: &Path| {
        not_input.as_ref().is_some_and(|(name, canonical)| {
            path.file_name() == Some(*name) && fs_canonical(path).as_ref() == Some(canonical)
        })
    };
    for input in inputs {
        let walker = walkdir::WalkDir::new(input)
            .follow_links(true)
            .into_iter()
            .filter_entry(|e| !is_hidden(e));
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    let path = err.path().unwrap_or(input).to_path_buf();
                    found.rejects.push(Reject::file(
                        &path,
                        RejectReason::CannotRead(err.to_string()),
                    ));
                    continue;
                }
            };
            if entry.file_type().is_dir() {
                continue;
            }
            // A FIFO, socket or device inside a folder is never opened (opening a FIFO blocks
            // until a writer comes): counted and rejected. One named on the command line is
            // refused when it is opened.
            if !entry.file_type().is_file() && entry.depth() > 0 {
                found.skipped += 1;
                found.rejects.push(Reject::file(
                    entry.path(),
                    RejectReason::NotARegularFile(kind_of(&entry.file_type())),
                ));
                continue;
            }
            if entry.depth() > 0 && is_not_input(entry.path()) {
                continue;
            }
            let path = entry.into_path();
            let layout = match layout_of(&path) {
                Some(layout) => layout,
                None if path == *input => Layout {
                    lines: false,
                    gzip: path.extension().is_some_and(|e| e == "gz"),
                },
                None => {
                    found.skipped += 1;
                    continue;
                }
            };
            found.files.push(InputFile::new(path, layout));
        }
    }
    found.files.sort_by(|a, b| {
        a.path
            .as_os_str()
            .as_encoded_bytes()
            .cmp(b.path.as_os_str().as_encoded_bytes())
    });
    // The same file reached twice (`data` and `./data/x.json`) is read once, under the first name.
    let mut seen = std::collections::HashSet::new();
    found
        .files
        .retain(|f| seen.insert(std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone())));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn suffixes_decide_the_layout() {
        let layout = |name: &str| layout_of(Path::new(name));
        assert_eq!(
            layout("a.json"),
            Some(Layout {
                lines: false,
                gzip: false
            })
        );
        assert_eq!(
            layout("a.json.gz"),
            Some(Layout {
                lines: false,
                gzip: true
            })
        );
        assert_eq!(
            layout("a.ndjson"),
            Some(Layout {
                lines: true,
                gzip: false
            })
        );
        assert_eq!(
            layout("a.jsonl.gz"),
            Some(Layout {
                lines: true,
                gzip: true
            })
        );
        assert_eq!(layout("a.txt"), None);
        assert_eq!(layout("a.gz"), None);
        assert_eq!(layout("a.json.tmp"), None);
    }

    #[test]
    fn walks_sorted_skipping_hidden_and_counting_other_suffixes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("b/.hidden")).unwrap();
        fs::create_dir_all(root.join("a")).unwrap();
        for name in [
            "b/2.json",
            "a/1.ndjson",
            "a/0.json.gz",
            "b/.x.json.1.tmp",
            "b/.hidden/h.json",
            "notes.txt",
            "B.json",
        ] {
            fs::write(root.join(name), "{}").unwrap();
        }
        // A link back into the tree: its files are the same files, read once.
        std::os::unix::fs::symlink(root.join("b"), root.join("z-link")).unwrap();
        let found = discover(&[root.to_path_buf(), root.join("a/1.ndjson")], None);
        let names: Vec<_> = found
            .files
            .iter()
            .map(|f| {
                f.path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["B.json", "a/0.json.gz", "a/1.ndjson", "b/2.json"]);
        assert_eq!(found.skipped, 1);
        assert!(found.rejects.is_empty());
    }

    #[test]
    fn a_named_file_is_read_whatever_its_suffix_and_a_missing_one_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path().join("export.txt");
        fs::write(&export, "{}").unwrap();
        let found = discover(&[export.clone(), dir.path().join("missing.json")], None);
        assert_eq!(
            found.files,
            [InputFile::new(
                export,
                Layout {
                    lines: false,
                    gzip: false
                }
            )]
        );
        assert_eq!(found.rejects.len(), 1);
        assert!(
            matches!(found.rejects[0].reason, RejectReason::CannotRead(_)),
            "{:?}",
            found.rejects
        );
    }
}
