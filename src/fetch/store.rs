//! The folder `fetch` fills: `DIR/<YYYY-MM-DD of session start, UTC>/<safe session id>.json`.
//!
//! Every file is written atomically ([`crate::fsutil::write_atomically`]), so the folder only
//! ever holds complete documents plus, after a kill, hidden `.NAME.PID.tmp` leftovers that
//! [`Store::open`] removes. What is stored is learnt from the folder itself at the start of a
//! run: no index file that could disagree with it.
use super::head::SessionHead;
use anyhow::{bail, Context, Result};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::collections::hash_map::{Entry, HashMap};
use std::fs::{self, File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Folder for sessions without a parseable `start`.
pub const UNDATED: &str = "undated";
/// Lock file, hidden so `analyze` never looks at it.
pub const LOCK_FILE: &str = ".sessionstats-fetch.lock";
/// One row per session (or listing page) that could not be fetched in the last run.
pub const FAILURES_FILE: &str = "fetch-failures.csv";

/// Longest file name stem we produce; most file systems allow 255 bytes per name.
const MAX_STEM: usize = 200;

/// Bytes kept as they are in a file name: letters, digits, `-`, `_` and `.`; everything else,
/// including `%` itself, is written as `%XX`, so the encoding is reversible.
const NAME_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// The file name stem for a session id: the id itself when it is a safe file name, otherwise
/// its percent-encoding (a leading `.` is encoded too, so no name is hidden, `.` or `..`).
/// `None` when even the encoded name would be too long for a file system.
pub fn file_stem(id: &str) -> Option<String> {
    let mut stem: String = utf8_percent_encode(id, NAME_ESCAPES).collect();
    if stem.starts_with('.') {
        stem.replace_range(..1, "%2E");
    }
    (!stem.is_empty() && stem.len() <= MAX_STEM).then_some(stem)
}

/// The session id a file name stem stands for, if the stem is one [`file_stem`] produces.
pub fn id_from_stem(stem: &str) -> Option<String> {
    let id = percent_decode_str(stem).decode_utf8().ok()?.into_owned();
    (file_stem(&id).as_deref() == Some(stem)).then_some(id)
}

/// The date folder of a session: its start day in UTC, or [`UNDATED`].
pub fn date_folder(start: Option<&str>) -> String {
    start
        .and_then(crate::time::parse_rfc3339)
        .and_then(crate::time::utc_date)
        .map(|day| day.to_string())
        .unwrap_or_else(|| UNDATED.to_string())
}

/// Whether a folder name is one [`date_folder`] produces.
fn is_date_folder(name: &str) -> bool {
    name == UNDATED
        || chrono::NaiveDate::parse_from_str(name, "%Y-%m-%d")
            .is_ok_and(|d| d.format("%Y-%m-%d").to_string() == name)
}

/// What the folder holds for one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub path: PathBuf,
    /// Stored after the session ended; an ongoing copy is fetched again on the next run.
    pub ended: bool,
    /// Other copies under other date folders: a run killed between storing a session whose
    /// start moved and removing its older copy leaves two. Such a session counts as not ended,
    /// so it is fetched again and [`Store::put`] removes every copy but the new one.
    pub others: Vec<PathBuf>,
}

/// What happened to one document handed to [`Store::put`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// A session the folder did not hold.
    New,
    /// A session the folder held, replaced by this copy.
    Replaced,
}

/// The store folder, locked for the lifetime of this value. Shared by the tasks of a run:
/// files are written in parallel, only the index is behind a mutex.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    held: Mutex<HashMap<String, Stored>>,
    /// Kept open: the lock is released when the file is closed.
    _lock: File,
}

impl Store {
    /// Creates the folder if needed, takes its lock, removes temporary files a killed run left
    /// behind and reads what is stored.
    pub fn open(dir: &Path) -> Result<Store> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the store folder {}", dir.display()))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open the lock file {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => bail!(
                "another sessionstats fetch is already writing to {} (it holds {}); \
                 wait for it to finish, or use another --out folder",
                dir.display(),
                LOCK_FILE
            ),
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()))
            }
        }
        let mut store = Store {
            dir: dir.to_path_buf(),
            held: Mutex::new(HashMap::new()),
            _lock: lock,
        };
        store.scan()?;
        Ok(store)
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, Stored>> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, id: &str) -> Option<Stored> {
        self.held().get(id).cloned()
    }

    /// The sessions held but not as ended (stored while ongoing, or stored twice), sorted.
    pub fn not_ended(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .held()
            .iter()
            .filter(|(_, stored)| !stored.ended)
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Reads `DIR/*/*.json`: a file counts as stored when its name decodes to a session id and
    /// its content is a session document (an unreadable one is simply fetched again).
    fn scan(&mut self) -> Result<()> {
        let held = self.held.get_mut().unwrap_or_else(|p| p.into_inner());
        for folder in read_dir(&self.dir)? {
            if !folder.is_dir() {
                remove_if_leftover(&folder)?;
                continue;
            }
            // Only the folders we write: a session file anywhere else (a backup, a copy) is
            // not ours to count, replace or remove.
            let Some(day) = folder
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| is_date_folder(n))
                .map(str::to_string)
            else {
                continue;
            };
            for path in read_dir(&folder)? {
                if remove_if_leftover(&path)? {
                    continue;
                }
                let Some(id) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".json"))
                    .and_then(id_from_stem)
                else {
                    continue;
                };
                let Ok(bytes) = fs::read(&path) else { continue };
                let Ok(head) = SessionHead::parse(&bytes) else {
                    continue;
                };
                // A copy under another day than its start's (the start moved) is fetched
                // again, and so moves to its folder.
                let in_place = date_folder(head.start.as_deref()) == day;
                match held.entry(id) {
                    Entry::Vacant(slot) => {
                        slot.insert(Stored {
                            path,
                            ended: head.ended() && in_place,
                            others: Vec::new(),
                        });
                    }
                    Entry::Occupied(mut slot) => {
                        let stored = slot.get_mut();
                        stored.ended = false;
                        stored.others.push(path);
                    }
                }
            }
        }
        Ok(())
    }

    /// Where a session document goes.
    pub fn path_for(&self, id: &str, start: Option<&str>) -> Result<PathBuf> {
        let Some(stem) = file_stem(id) else {
            bail!("the session id is too long to be stored as a file name");
        };
        Ok(self
            .dir
            .join(date_folder(start))
            .join(format!("{stem}.json")))
    }

    /// Writes one session document (the bytes as received) atomically and records it. A copy
    /// stored under another date folder (its start changed) is removed once the new one is in
    /// place, so a session is never stored twice.
    pub fn put(&self, id: &str, head: &SessionHead, document: &[u8]) -> Result<Put> {
        let path = self.path_for(id, head.start.as_deref())?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        crate::fsutil::write_atomically(&path, |w| {
            w.write_all(document)
                .with_context(|| format!("cannot write {}", path.display()))
        })?;
        let stored = Stored {
            path: path.clone(),
            ended: head.ended(),
            others: Vec::new(),
        };
        let old = self.held().insert(id.to_string(), stored);
        let Some(old) = old else {
            return Ok(Put::New);
        };
        for copy in std::iter::once(&old.path).chain(&old.others) {
            if *copy != path {
                match fs::remove_file(copy) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(e).with_context(|| {
                            format!(
                                "session {id:?} is stored anew in {}, but its older copy {} \
                                 cannot be removed: remove it by hand, or analyze counts it twice",
                                path.display(),
                                copy.display()
                            )
                        })
                    }
                    _ => {}
                }
            }
        }
        Ok(Put::Replaced)
    }

    /// Syncs the date folders, so the renames of this run survive a power cut.
    pub fn sync_folders(&self) -> Result<()> {
        for folder in read_dir(&self.dir)? {
            if folder.is_dir() {
                File::open(&folder)
                    .and_then(|f| f.sync_all())
                    .with_context(|| format!("cannot sync the folder {}", folder.display()))?;
            }
        }
        Ok(())
    }

    /// Writes the failures of this run to [`FAILURES_FILE`], or removes an older one when
    /// there were none (the file always describes the last run).
    pub fn write_failures(&self, failures: &[Failure]) -> Result<()> {
        let path = self.dir.join(FAILURES_FILE);
        if failures.is_empty() {
            return match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("cannot remove {}", path.display()))
                }
                _ => Ok(()),
            };
        }
        crate::fsutil::write_atomically(&path, |w| {
            let mut out = csv::Writer::from_writer(w);
            out.write_record(["session_id", "request", "reason"])?;
            for f in failures {
                out.write_record([&f.session_id, &f.request, &f.reason])?;
            }
            out.flush()?;
            Ok(())
        })
        .with_context(|| format!("cannot write the failures file {}", path.display()))
    }
}

/// A session (or a listing page, with an empty `session_id`) that could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub session_id: String,
    /// The request, e.g. `GET /v2/sessions/abc`.
    pub request: String,
    pub reason: String,
}

/// Whether a file name is one of our temporary files (`.NAME.PID.tmp`, see
/// [`crate::fsutil::temporary_path`]) for a session document or the failures file. Other
/// hidden files are someone else's: never removed.
fn is_leftover(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let Some((target, pid)) = inner.rsplit_once('.') else {
        return false;
    };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && (target.ends_with(".json") || target == FAILURES_FILE)
}

/// Removes a temporary file a killed run left behind: never a complete document, and nobody
/// else writes here while we hold the lock. Says whether it was one.
fn remove_if_leftover(path: &Path) -> Result<bool> {
    let leftover = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(is_leftover);
    if leftover {
        fs::remove_file(path).with_context(|| {
            format!(
                "cannot remove the leftover temporary file {}",
                path.display()
            )
        })?;
    }
    Ok(leftover)
}

/// The entries of a folder that are not hidden, plus our temporary files, sorted.
fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        paths.push(entry.path());
    }
    paths.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('.') || is_leftover(n))
    });
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_their_own_file_names() {
        for id in ["616e79f7ba68c7768bfd18bf", "a-b_c.d", "x..y"] {
            assert_eq!(file_stem(id).as_deref(), Some(id));
            assert_eq!(id_from_stem(id).as_deref(), Some(id));
        }
    }

    #[test]
    fn unsafe_ids_are_encoded_reversibly_and_stay_one_name() {
        for id in [
            "../../x",
            "..",
            ".",
            ".hidden",
            "a/b",
            "a\\b",
            "50%",
            "tab\there",
            "nul\0",
            "ünï",
            "a b",
            "%2E",
        ] {
            let stem = file_stem(id).unwrap();
            assert!(!stem.contains(['/', '\\', '\0', '\t', ' ']), "{stem}");
            assert!(!stem.starts_with('.'), "{stem}");
            assert_ne!(stem, "..");
            assert_eq!(id_from_stem(&stem).as_deref(), Some(id), "{stem}");
        }
        // `%2E` (an id) and `.` (an id) must not share a file name.
        assert_ne!(file_stem("%2E"), file_stem("."));
    }

    #[test]
    fn names_we_did_not_produce_are_not_sessions() {
        assert_eq!(id_from_stem("a%2fb"), None); // lower-case hex is not our spelling
        assert_eq!(id_from_stem(".x"), None);
        assert_eq!(id_from_stem("a b"), None);
        assert_eq!(id_from_stem("%FF"), None); // not UTF-8
    }

    #[test]
    fn overlong_ids_are_refused() {
        assert!(file_stem(&"a".repeat(MAX_STEM)).is_some());
        assert!(file_stem(&"a".repeat(MAX_STEM + 1)).is_none());
        assert!(file_stem(&"/".repeat(70)).is_none());
        assert!(file_stem("").is_none());
    }

    #[test]
    fn date_folder_is_the_utc_start_day() {
        assert_eq!(date_folder(Some("2021-10-19T07:55:35.807Z")), "2021-10-19");
        assert_eq!(date_folder(Some("2021-10-19T23:30:00-02:00")), "2021-10-20");
        assert_eq!(date_folder(Some("yesterday")), UNDATED);
        assert_eq!(date_folder(None), UNDATED);
    }

    fn head(doc: &str) -> SessionHead {
        SessionHead::parse(doc.as_bytes()).unwrap()
    }

    #[test]
    fn store_learns_what_it_holds_from_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let ended = r#"{"id":"../e","start":"2024-01-02T00:00:00Z","end":"2024-01-02T01:00:00Z"}"#;
        let ongoing = r#"{"id":"o","start":"2024-01-02T00:00:00Z","end":null}"#;
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(
                store.put("../e", &head(ended), ended.as_bytes()).unwrap(),
                Put::New
            );
            assert_eq!(
                store.put("o", &head(ongoing), ongoing.as_bytes()).unwrap(),
                Put::New
            );
        }
        fs::write(dir.path().join("2024-01-02/.o.json.99.tmp"), "{").unwrap();
        fs::write(dir.path().join("2024-01-02/notes.txt"), "x").unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.held().len(), 2);
        let e = store.get("../e").unwrap();
        assert!(e.ended);
        assert_eq!(e.path, dir.path().join("2024-01-02/%2E.%2Fe.json"));
        assert_eq!(fs::read_to_string(&e.path).unwrap(), ended);
        assert!(!store.get("o").unwrap().ended);
        assert!(!dir.path().join("2024-01-02/.o.json.99.tmp").exists());
    }

    #[test]
    fn a_moved_session_leaves_no_older_copy() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = r#"{"id":"s","start":"2024-01-02T10:00:00Z"}"#;
        let b = r#"{"id":"s","start":"2024-01-03T10:00:00Z","end":"2024-01-03T11:00:00Z"}"#;
        store.put("s", &head(a), a.as_bytes()).unwrap();
        assert_eq!(
            store.put("s", &head(b), b.as_bytes()).unwrap(),
            Put::Replaced
        );
        assert!(!dir.path().join("2024-01-02/s.json").exists());
        assert!(dir.path().join("2024-01-03/s.json").exists());
    }

    #[test]
    fn only_our_temporary_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let day = dir.path().join("2024-01-02");
        fs::create_dir(&day).unwrap();
        let ours = [
            "2024-01-02/.s1.json.4242.tmp",
            "2024-01-02/.%2E.%2Fx.json.7.tmp",
            ".fetch-failures.csv.31337.tmp",
        ];
        let theirs = [
            "2024-01-02/.notes.tmp",
            "2024-01-02/.s1.json.tmp",
            "2024-01-02/.s1.json.12ab.tmp",
            ".editor-swap.tmp",
        ];
        for name in ours.iter().chain(&theirs) {
            fs::write(dir.path().join(name), "{").unwrap();
        }
        let _store = Store::open(dir.path()).unwrap();
        for name in ours {
            assert!(!dir.path().join(name).exists(), "{name} left behind");
        }
        for name in theirs {
            assert!(dir.path().join(name).exists(), "{name} removed");
        }
    }

    #[test]
    fn a_session_stored_twice_is_fetched_again_and_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = r#"{"id":"s","start":"2024-01-02T10:00:00Z","end":"2024-01-02T11:00:00Z"}"#;
        let b = r#"{"id":"s","start":"2024-01-03T10:00:00Z","end":"2024-01-03T11:00:00Z"}"#;
        // What a run killed between storing the moved copy and removing the old one leaves.
        for (day, doc) in [("2024-01-02", a), ("2024-01-03", b)] {
            fs::create_dir(dir.path().join(day)).unwrap();
            fs::write(dir.path().join(day).join("s.json"), doc).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert!(!store.get("s").unwrap().ended, "two copies: fetch it again");
        assert_eq!(
            store.put("s", &head(b), b.as_bytes()).unwrap(),
            Put::Replaced
        );
        assert!(!dir.path().join("2024-01-02/s.json").exists());
        assert_eq!(
            fs::read_to_string(dir.path().join("2024-01-03/s.json")).unwrap(),
            b
        );
        drop(store);
        assert!(Store::open(dir.path()).unwrap().get("s").unwrap().ended);
    }

    #[test]
    fn only_date_folders_are_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let doc = r#"{"id":"s","start":"2024-01-02T10:00:00Z","end":"2024-01-02T11:00:00Z"}"#;
        for folder in ["backup", "2024-1-2", "undated"] {
            fs::create_dir(dir.path().join(folder)).unwrap();
        }
        fs::write(dir.path().join("backup/s.json"), doc).unwrap();
        fs::write(dir.path().join("2024-1-2/s.json"), doc).unwrap();
        fs::write(dir.path().join("undated/u.json"), r#"{"id":"u","end":"x"}"#).unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.get("s"), None);
        assert!(store.get("u").unwrap().ended);
        store.put("s", &head(doc), doc.as_bytes()).unwrap();
        assert!(dir.path().join("backup/s.json").exists());
        assert!(dir.path().join("2024-01-02/s.json").exists());
    }

    #[test]
    fn a_copy_under_the_wrong_day_is_fetched_again() {
        let dir = tempfile::tempdir().unwrap();
        let doc = r#"{"id":"s","start":"2024-01-03T10:00:00Z","end":"2024-01-03T11:00:00Z"}"#;
        fs::create_dir(dir.path().join("2024-01-02")).unwrap();
        fs::write(dir.path().join("2024-01-02/s.json"), doc).unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(!store.get("s").unwrap().ended);
        store.put("s", &head(doc), doc.as_bytes()).unwrap();
        assert!(!dir.path().join("2024-01-02/s.json").exists());
        assert!(dir.path().join("2024-01-03/s.json").exists());
    }

    #[test]
    fn a_second_store_on_the_same_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("already writing"), "{err}");
        // The lock goes with the store; the file it leaves behind blocks nobody.
        drop(first);
        assert!(dir.path().join(LOCK_FILE).exists());
        Store::open(dir.path()).unwrap();
    }

    #[test]
    fn failures_file_describes_the_last_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let failure = Failure {
            session_id: "a,b".into(),
            request: "GET /v2/sessions/a%2Cb".into(),
            reason: "HTTP 404".into(),
        };
        store.write_failures(&[failure]).unwrap();
        let text = fs::read_to_string(dir.path().join(FAILURES_FILE)).unwrap();
        assert_eq!(
            text,
            "session_id,request,reason\n\"a,b\",GET /v2/sessions/a%2Cb,HTTP 404\n"
        );
        store.write_failures(&[]).unwrap();
        assert!(!dir.path().join(FAILURES_FILE).exists());
    }
}
