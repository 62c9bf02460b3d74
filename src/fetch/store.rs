//! The folder `fetch` fills: `DIR/<YYYY-MM-DD of session start, UTC>/<safe session id>.json`.
//!
//! Every file is written atomically ([`crate::fsutil::write_atomically`]), so the folder only
//! ever holds complete documents plus, after a kill, hidden `.NAME.PID.tmp` leftovers that
//! [`Store::open`] removes. What is stored is learnt from the store index ([`super::index`],
//! `DIR/.sessionstats-index`), which is checked against the day folders' stamps at the start
//! of a run: a folder that changed since the index was written is read again, and an index
//! that is missing or unusable is rebuilt from the documents, which stay the truth
//! (docs/store.md).
use super::head::SessionHead;
use super::index::{
    self, is_corrupt, merge, Day, DayState, Index, Keep, OpenError, OwnedRec, Rec, Sorter, Stamp,
    Time, Writer, INDEX_FILE,
};
use anyhow::{bail, Context, Result};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File, TryLockError};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

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
    // The common case, a plain id that is its own name, without decoding and encoding again.
    if is_plain_stem(stem) {
        return Some(stem.to_string());
    }
    let id = percent_decode_str(stem).decode_utf8().ok()?.into_owned();
    (file_stem(&id).as_deref() == Some(stem)).then_some(id)
}

/// Whether a stem is a plain id that [`file_stem`] keeps as it is.
fn is_plain_stem(stem: &str) -> bool {
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    !stem.is_empty() && stem.len() <= MAX_STEM && !stem.starts_with('.') && stem.bytes().all(plain)
}

/// The date folder of a session: its start day in UTC, or [`UNDATED`].
pub fn date_folder(start: Option<&str>) -> String {
    start
        .and_then(crate::time::parse_rfc3339)
        .and_then(crate::time::utc_date)
        .map(|day| day.to_string())
        .unwrap_or_else(|| UNDATED.to_string())
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

/// Where lines for the person running `fetch` go (the index being rebuilt, and why).
pub type Notes = Box<dyn Fn(&str) + Send + Sync>;

/// Environment variable of the test hook: an index write waits this many milliseconds (at
/// most 10 minutes) after its records are on disk and before its meta and its rename, so a
/// test can kill the run in the middle of the write. Unset in normal use; it only delays.
pub const PAUSE_HOOK: &str = "SESSIONSTATS_TEST_INDEX_PAUSE_MS";

/// Attempts, and the pause between them, to see the folders' last change before a moment
/// the file system's clock has passed (see [`settle`]).
const SETTLE_ATTEMPTS: u32 = 200;
const SETTLE_PAUSE: Duration = Duration::from_millis(1);

/// Day folders named in a message before "…".
const NAMED_DAYS: usize = 5;

/// The store folder, locked for the lifetime of this value. Shared by the tasks of a run:
/// files are written in parallel, only what the run knows of the store is behind a mutex.
pub struct Store {
    dir: PathBuf,
    state: Mutex<State>,
    notes: Notes,
    /// Kept open: the lock is released when the file is closed.
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

/// What a run knows of the store: the index as last written, plus what the run stored since.
#[derive(Default)]
struct State {
    /// `None` for a store without index and without day folders (a new one).
    base: Option<Index>,
    /// The day folders whose records in `base` match them.
    days: BTreeMap<Day, DayState>,
    /// Sessions stored by this run: their day folder, and whether they ended.
    overlay: HashMap<String, (Day, bool)>,
    /// Day folders this run wrote to or removed from.
    touched: BTreeSet<Day>,
    /// The index failed in the middle of the run and could not be rebuilt: why.
    broken: Option<String>,
}

impl Store {
    /// [`Store::open_with`], with the notes on stderr.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with(dir, Box::new(|line| eprintln!("{line}")))
    }

    /// Creates the folder if needed, takes its lock, removes temporary files a killed run left
    /// behind and learns what is stored: from the index, after checking it against the day
    /// folders (only the folders that changed since it was written are read again), or from
    /// the documents when the index is missing or unusable. Says so in `notes` when it reads
    /// documents.
    pub fn open_with(dir: &Path, notes: Notes) -> Result<Store> {
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
            state: Mutex::new(State::default()),
            notes,
            _lock: lock,
        };
        let present = store.day_folders()?;
        let state = store.load(&present)?;
        *store.state.get_mut().unwrap_or_else(|p| p.into_inner()) = state;
        Ok(store)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join(INDEX_FILE)
    }

    /// The day folders of the store, after removing the temporary files a killed run left
    /// in the store folder itself.
    /// The day folders of the store with their stamps, after removing the temporary files a
    /// killed run left in the store folder itself.
    fn day_folders(&self) -> Result<BTreeMap<Day, (PathBuf, Stamp)>> {
        let mut named = Vec::new();
        for path in read_dir(&self.dir)? {
            // Only the folders we write: a session file anywhere else (a backup, a copy) is
            // not ours to count, replace or remove.
            match path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(Day::from_folder)
            {
                Some(day) => named.push((day, path)),
                None => {
                    if !path.is_dir() {
                        remove_if_leftover(&path)?;
                    }
                }
            }
        }
        let paths: Vec<&Path> = named.iter().map(|(_, p)| p.as_path()).collect();
        let stamps = stat_all(&paths);
        Ok(named
            .into_iter()
            .zip(stamps)
            .filter_map(|((day, path), meta)| {
                let meta = meta.filter(|m| m.is_dir())?;
                Some((day, (path, Stamp::of(&meta))))
            })
            .collect())
    }

    /// What the store holds: the index where it matches the day folders, the documents
    /// where it does not.
    fn load(&self, present: &BTreeMap<Day, (PathBuf, Stamp)>) -> Result<State> {
        let path = self.index_path();
        let base = match Index::open(&path) {
            Ok(base) => base,
            Err(OpenError::Missing) if present.is_empty() => return Ok(State::default()),
            Err(why) => {
                let why = match why {
                    OpenError::Missing => "is missing".to_string(),
                    OpenError::Unusable(why) => why,
                };
                (self.notes)(&format!(
                    "fetch: the store index {} {why}; rebuilding it from the stored documents \
                     (this reads every document once)",
                    path.display()
                ));
                return self.rebuild(present);
            }
        };
        let known: BTreeMap<Day, DayState> = base.days().iter().map(|d| (d.day, *d)).collect();
        let mut trusted = BTreeMap::new();
        let mut stale = Vec::new();
        for (&day, (folder, now)) in present {
            match known.get(&day) {
                Some(state) if state.stamp == Some(*now) => {
                    trusted.insert(day, *state);
                }
                _ => stale.push((day, folder.clone())),
            }
        }
        let gone: Vec<Day> = known
            .keys()
            .filter(|d| !present.contains_key(d))
            .copied()
            .collect();
        if stale.is_empty() && gone.is_empty() {
            return Ok(State {
                base: Some(base),
                days: trusted,
                ..State::default()
            });
        }
        let changed: Vec<Day> = stale.iter().map(|(d, _)| *d).chain(gone).collect();
        let mut named: Vec<String> = changed
            .iter()
            .take(NAMED_DAYS)
            .map(|d| d.folder())
            .collect();
        if changed.len() > NAMED_DAYS {
            named.push("…".into());
        }
        (self.notes)(&format!(
            "fetch: {} day folder{} changed since the store index was written ({}); \
             reading {} documents again",
            changed.len(),
            if changed.len() == 1 { "" } else { "s" },
            named.join(", "),
            if changed.len() == 1 { "its" } else { "their" },
        ));
        match self.rewrite(Some(&base), &stale, trusted) {
            Err(e) if is_corrupt(&e) => {
                (self.notes)(&format!(
                    "fetch: {e:#}; rebuilding it from the stored documents \
                     (this reads every document once)"
                ));
                self.rebuild(present)
            }
            done => done,
        }
    }

    /// Writes the index anew from every document.
    fn rebuild(&self, present: &BTreeMap<Day, (PathBuf, Stamp)>) -> Result<State> {
        let all: Vec<(Day, PathBuf)> = present.iter().map(|(d, (p, _))| (*d, p.clone())).collect();
        self.rewrite(None, &all, BTreeMap::new())
    }

    /// Reads the documents of the `rescan` folders and writes the index: their records, plus
    /// those of `base` whose folder is in `trusted` (the folders not read again).
    fn rewrite(
        &self,
        base: Option<&Index>,
        rescan: &[(Day, PathBuf)],
        mut days: BTreeMap<Day, DayState>,
    ) -> Result<State> {
        let trusted: BTreeSet<Day> = days.keys().copied().collect();
        let folders: Vec<&Path> = rescan.iter().map(|(_, p)| p.as_path()).collect();
        let (moment, stamps) = settle(&self.dir, &folders)?;
        let mut sorter = Sorter::new(&self.dir);
        for ((day, folder), stamp) in rescan.iter().zip(stamps) {
            let unusable = scan_folder(*day, folder, &mut sorter)?;
            days.insert(
                *day,
                DayState {
                    day: *day,
                    stamp: stamp.filter(|s| s.ctime < moment),
                    records: 0,
                    unusable,
                },
            );
        }
        let mut sorted = sorter.finish()?;
        let index = self.write_index(|writer| {
            let keep = &mut |rec: &Rec<'_>| trusted.contains(&rec.day);
            let per_day = merge(base, Keep::Filtered(keep), &mut sorted, writer)?;
            Ok(with_records(days.into_values(), &per_day))
        })?;
        Ok(State {
            days: index.days().iter().map(|d| (d.day, *d)).collect(),
            base: Some(index),
            ..State::default()
        })
    }

    /// Writes the index file atomically: `fill` pushes the records and says what the day
    /// folders are; then it is read back.
    fn write_index<F>(&self, fill: F) -> Result<Index>
    where
        F: FnOnce(&mut Writer<&mut BufWriter<File>>) -> Result<Vec<DayState>>,
    {
        let path = self.index_path();
        crate::fsutil::write_atomically(&path, |out| {
            let mut writer = Writer::new(out)?;
            let days = fill(&mut writer)?;
            pause_hook(&mut writer)?;
            writer.finish(&days)?;
            Ok(())
        })
        .with_context(|| format!("cannot write the store index {}", path.display()))?;
        sync_dir(&self.dir)?;
        Index::open(&path).map_err(|e| {
            let why = match e {
                OpenError::Missing => "is missing".to_string(),
                OpenError::Unusable(why) => why,
            };
            anyhow::anyhow!(
                "the store index {} was just written but {why}: is something else writing to \
                 the store?",
                path.display()
            )
        })
    }

    /// The records of `id` in the index; an index found damaged on the way is rebuilt.
    fn lookup(&self, state: &mut State, id: &str) -> Vec<(Day, bool)> {
        if let Some(&(day, ended)) = state.overlay.get(id) {
            return vec![(day, ended)];
        }
        let Some(base) = &state.base else {
            return Vec::new();
        };
        match base.lookup(id) {
            Ok(records) => records,
            Err(e) => {
                self.recover(state, &e);
                state
                    .base
                    .as_ref()
                    .and_then(|b| b.lookup(id).ok())
                    .unwrap_or_default()
            }
        }
    }

    /// After the index failed in the middle of a run: rebuilds it from the documents (those
    /// this run stored included). When even that fails, the run stops at its next write.
    fn recover(&self, state: &mut State, error: &anyhow::Error) {
        (self.notes)(&format!(
            "fetch: {error:#}; rebuilding the store index from the stored documents \
             (this reads every document once)"
        ));
        match self
            .day_folders()
            .and_then(|present| self.rebuild(&present))
        {
            Ok(rebuilt) => {
                state.base = rebuilt.base;
                state.days = rebuilt.days;
            }
            Err(e) => {
                state.base = None;
                state.broken = Some(format!("{e:#}"));
            }
        }
    }

    fn stored(&self, id: &str, records: &[(Day, bool)]) -> Option<Stored> {
        let stem = file_stem(id)?;
        let path = |day: Day| self.dir.join(day.folder()).join(format!("{stem}.json"));
        let (&(first, ended), rest) = records.split_first()?;
        Some(Stored {
            path: path(first),
            ended: ended && rest.is_empty(),
            others: rest.iter().map(|&(day, _)| path(day)).collect(),
        })
    }

    pub fn get(&self, id: &str) -> Option<Stored> {
        let records = self.lookup(&mut self.state(), id);
        self.stored(id, &records)
    }

    /// The sessions held but not as ended (stored while ongoing, or stored twice), sorted.
    pub fn not_ended(&self) -> Vec<String> {
        let state = self.state();
        let mut ids: Vec<String> = state
            .base
            .iter()
            .flat_map(|b| b.ongoing())
            .filter(|id| !state.overlay.contains_key(*id))
            .cloned()
            .collect();
        ids.extend(
            state
                .overlay
                .iter()
                .filter(|(_, &(_, ended))| !ended)
                .map(|(id, _)| id.clone()),
        );
        ids.sort();
        ids.dedup();
        ids
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
        let day = Day::from_folder(&date_folder(head.start.as_deref()))
            .context("internal error: a day folder that is not a day")?;
        {
            let mut state = self.state();
            if let Some(why) = &state.broken {
                bail!(
                    "the store index is damaged and could not be rebuilt ({why}); \
                     fix the cause, then run fetch again"
                );
            }
            state.touched.insert(day);
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        crate::fsutil::write_atomically(&path, |w| {
            w.write_all(document)
                .with_context(|| format!("cannot write {}", path.display()))
        })?;
        let old = {
            let mut state = self.state();
            let old = self.lookup(&mut state, id);
            state.overlay.insert(id.to_string(), (day, head.ended()));
            for &(day, _) in &old {
                state.touched.insert(day);
            }
            old
        };
        let Some(old) = self.stored(id, &old) else {
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

    /// Syncs the day folders this run wrote to, so the renames of this run survive a power
    /// cut. (The store folder, where a run may have made a day folder, is synced after the
    /// index is written: [`Store::save_index`].)
    pub fn sync_folders(&self) -> Result<()> {
        let touched: Vec<Day> = self.state().touched.iter().copied().collect();
        for day in touched {
            let folder = self.dir.join(day.folder());
            match File::open(&folder) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                opened => opened
                    .and_then(|f| f.sync_all())
                    .with_context(|| format!("cannot sync the folder {}", folder.display()))?,
            }
        }
        Ok(())
    }

    /// Writes the index with what this run stored (nothing to do when it stored nothing).
    /// The day folders it wrote to are stamped anew, after checking that they hold as many
    /// session files as the index has records for them (a file added or removed by hand
    /// during the run makes the next run read that folder again).
    pub fn save_index(&self) -> Result<()> {
        let mut state = self.state();
        if let Some(why) = &state.broken {
            bail!(
                "the store index is damaged and could not be rebuilt ({why}); \
                 fix the cause, then run fetch again"
            );
        }
        if state.overlay.is_empty() && state.touched.is_empty() {
            return Ok(());
        }
        // The folders written to that are still there (one removed by hand since loses its
        // records; the index is then read through instead of copied).
        let written: BTreeMap<Day, PathBuf> = state
            .touched
            .iter()
            .map(|&d| (d, self.dir.join(d.folder())))
            .filter(|(_, folder)| folder.is_dir())
            .collect();
        let result = {
            let state = &*state;
            let mut overlay: Vec<OwnedRec> = state
                .overlay
                .iter()
                .filter(|(_, (day, _))| written.contains_key(day))
                .map(|(id, &(day, ended))| OwnedRec {
                    id: id.as_str().into(),
                    day,
                    ended,
                })
                .collect();
            overlay.sort_unstable();
            let vanished = state.touched.len() != written.len();
            let keep = &mut |rec: &Rec<'_>| {
                !state.overlay.contains_key(rec.id)
                    && (written.contains_key(&rec.day)
                        || (state.days.contains_key(&rec.day) && !state.touched.contains(&rec.day)))
            };
            let keep = if vanished {
                Keep::Filtered(keep)
            } else {
                Keep::ReplacingIds
            };
            self.write_index(|writer| {
                let per_day = merge(state.base.as_ref(), keep, &mut overlay.into_iter(), writer)?;
                let mut days: BTreeMap<Day, DayState> = state
                    .days
                    .iter()
                    .filter(|(day, _)| !state.touched.contains(day))
                    .map(|(day, s)| (*day, *s))
                    .collect();
                // Stamped after the copy, which usually outlasts the clock's tick: no wait.
                let folders: Vec<&Path> = written.values().map(PathBuf::as_path).collect();
                let (moment, stamps) = settle(&self.dir, &folders)?;
                for ((&day, folder), stamp) in written.iter().zip(stamps) {
                    let unusable = state.days.get(&day).map_or(0, |s| s.unusable);
                    let records = per_day.get(&day).copied().unwrap_or(0);
                    let stamp = match stamp.filter(|s| s.ctime < moment) {
                        Some(stamp) if count_names(folder)? == records + unusable => Some(stamp),
                        _ => None,
                    };
                    days.insert(
                        day,
                        DayState {
                            day,
                            stamp,
                            records,
                            unusable,
                        },
                    );
                }
                Ok(with_records(days.into_values(), &per_day))
            })
        };
        match result {
            Ok(index) => {
                state.days = index.days().iter().map(|d| (d.day, *d)).collect();
                state.base = Some(index);
            }
            Err(e) if is_corrupt(&e) => {
                self.recover(&mut state, &e);
                if let Some(why) = &state.broken {
                    bail!(
                        "the store index is damaged and could not be rebuilt ({why}); \
                         fix the cause, then run fetch again"
                    );
                }
            }
            Err(e) => return Err(e),
        }
        state.overlay.clear();
        state.touched.clear();
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

/// The day states with their record counts as written; a day with records but no state
/// (which should not happen) gets one that makes the next run read it again.
fn with_records(
    days: impl Iterator<Item = DayState>,
    per_day: &BTreeMap<Day, u64>,
) -> Vec<DayState> {
    let mut days: BTreeMap<Day, DayState> = days.map(|d| (d.day, d)).collect();
    for (&day, &records) in per_day {
        days.entry(day).or_insert(DayState {
            day,
            stamp: None,
            records,
            unusable: 0,
        });
    }
    for state in days.values_mut() {
        state.records = per_day.get(&state.day).copied().unwrap_or(0);
    }
    days.into_values().collect()
}

/// Learns the file system's clock (the ctime of a new invisible file) and then stamps
/// `folders`. A folder changed at or after that moment could change again without its
/// ctime moving (timestamps are coarse), so it waits a little while one is that recent;
/// stamps still that recent are the caller's to distrust. Returns the moment and the stamps
/// (`None` for a folder that is not there).
fn settle(dir: &Path, folders: &[&Path]) -> Result<(Time, Vec<Option<Stamp>>)> {
    let mut attempt = 1;
    loop {
        let probe = tempfile::tempfile_in(dir)
            .and_then(|f| f.metadata())
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        let moment = index::ctime(&probe);
        let stamps: Vec<Option<Stamp>> = stat_all(folders)
            .into_iter()
            .map(|m| m.map(|m| Stamp::of(&m)))
            .collect();
        if attempt >= SETTLE_ATTEMPTS || stamps.iter().flatten().all(|s| s.ctime < moment) {
            return Ok((moment, stamps));
        }
        attempt += 1;
        std::thread::sleep(SETTLE_PAUSE);
    }
}

/// The metadata of each path (`None` where there is none). With a cold page cache each is a
/// read from the disk, and day folders lie far apart on it: a year's 365 are asked for by
/// several threads at once, which a disk serves in the time of a few.
fn stat_all(paths: &[&Path]) -> Vec<Option<fs::Metadata>> {
    const THREADS: usize = 16;
    const ALONE: usize = 8;
    if paths.len() <= ALONE {
        return paths.iter().map(|p| fs::metadata(p).ok()).collect();
    }
    let chunk = paths.len().div_ceil(THREADS);
    std::thread::scope(|scope| {
        let parts: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                let stat = move || part.iter().map(|p| fs::metadata(p).ok()).collect();
                (part.len(), scope.spawn(stat))
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|(len, part)| part.join().unwrap_or_else(|_| vec![None; len]))
            .collect()
    })
}

/// Reads the documents of one day folder into `sorter` (in parallel: a rebuild reads every
/// document of the store) and removes our temporary files there. A file counts as stored when
/// its name decodes to a session id and its content is a session document; returns how many
/// such names hold no usable document (they are simply fetched again).
fn scan_folder(day: Day, folder: &Path, sorter: &mut Sorter) -> Result<u64> {
    let name = day.folder();
    let mut docs = Vec::new();
    for path in read_dir(folder)? {
        if remove_if_leftover(&path)? {
            continue;
        }
        if let Some(id) = session_name(&path) {
            docs.push((id, path));
        }
    }
    let heads: Vec<Option<bool>> = docs
        .par_iter()
        .map(|(_, path)| {
            let bytes = fs::read(path).ok()?;
            let head = SessionHead::parse(&bytes).ok()?;
            // A copy under another day than its start's (the start moved) is fetched
            // again, and so moves to its folder.
            Some(head.ended() && date_folder(head.start.as_deref()) == name)
        })
        .collect();
    let mut unusable = 0;
    for ((id, _), head) in docs.into_iter().zip(heads) {
        match head {
            Some(ended) => sorter.push(OwnedRec {
                id: id.into(),
                day,
                ended,
            })?,
            None => unusable += 1,
        }
    }
    Ok(unusable)
}

/// The session id a file name stands for (`<stem>.json`).
fn session_name(path: &Path) -> Option<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".json"))
        .and_then(id_from_stem)
}

/// How many files of a folder are named like session documents.
fn count_names(folder: &Path) -> Result<u64> {
    let mut n = 0;
    for entry in
        fs::read_dir(folder).with_context(|| format!("cannot read {}", folder.display()))?
    {
        let entry = entry.with_context(|| format!("cannot read {}", folder.display()))?;
        let name = entry.file_name();
        let stem = name.to_str().and_then(|n| n.strip_suffix(".json"));
        if stem.is_some_and(|stem| is_plain_stem(stem) || id_from_stem(stem).is_some()) {
            n += 1;
        }
    }
    Ok(n)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync the folder {}", dir.display()))
}

/// The test hook [`PAUSE_HOOK`].
fn pause_hook<W: Write>(writer: &mut Writer<W>) -> Result<()> {
    let Some(ms) = std::env::var(PAUSE_HOOK)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&ms| ms > 0)
    else {
        return Ok(());
    };
    writer.flush_records()?;
    std::thread::sleep(Duration::from_millis(ms.min(600_000)));
    Ok(())
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
/// [`crate::fsutil::temporary_path`]) for a session document, the failures file or the
/// index. Other
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
        && (target.ends_with(".json") || target == FAILURES_FILE || target == INDEX_FILE)
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
        assert_eq!(store.state().base.as_ref().map(Index::records), Some(2));
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

    /// Opens the store, collecting what it says.
    fn open_noting(dir: &Path) -> (Store, std::sync::Arc<Mutex<Vec<String>>>) {
        let notes = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&notes);
        let store = Store::open_with(
            dir,
            Box::new(move |line| sink.lock().unwrap().push(line.to_string())),
        )
        .unwrap();
        (store, notes)
    }

    #[test]
    fn a_run_learns_from_the_index_not_the_documents() {
        let dir = tempfile::tempdir().unwrap();
        let ended = r#"{"id":"e","start":"2024-01-02T00:00:00Z","end":"2024-01-02T01:00:00Z"}"#;
        let ongoing = r#"{"id":"o","start":"2024-01-03T00:00:00Z"}"#;
        {
            let (store, notes) = open_noting(dir.path());
            store.put("e", &head(ended), ended.as_bytes()).unwrap();
            store.put("o", &head(ongoing), ongoing.as_bytes()).unwrap();
            store.sync_folders().unwrap();
            store.save_index().unwrap();
            assert!(notes.lock().unwrap().is_empty(), "a new store is quiet");
        }
        assert!(dir.path().join(INDEX_FILE).exists());
        // Rewritten in place, the folder does not change: only the index can say it ended.
        fs::write(dir.path().join("2024-01-02/e.json"), "garbage").unwrap();
        let (store, notes) = open_noting(dir.path());
        assert!(notes.lock().unwrap().is_empty(), "{:?}", notes.lock());
        assert!(store.get("e").unwrap().ended);
        assert_eq!(store.not_ended(), ["o"]);
        // Nothing stored, nothing written.
        let before = fs::metadata(dir.path().join(INDEX_FILE))
            .unwrap()
            .modified()
            .unwrap();
        store.save_index().unwrap();
        let after = fs::metadata(dir.path().join(INDEX_FILE))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn a_folder_changed_by_hand_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let a = r#"{"id":"a","start":"2024-01-02T00:00:00Z","end":"2024-01-02T01:00:00Z"}"#;
        let b = r#"{"id":"b","start":"2024-01-02T02:00:00Z","end":"2024-01-02T03:00:00Z"}"#;
        let c = r#"{"id":"c","start":"2024-01-03T02:00:00Z"}"#;
        {
            let store = Store::open(dir.path()).unwrap();
            store.put("a", &head(a), a.as_bytes()).unwrap();
            store.put("c", &head(c), c.as_bytes()).unwrap();
            store.save_index().unwrap();
        }
        fs::write(dir.path().join("2024-01-02/b.json"), b).unwrap();
        fs::remove_file(dir.path().join("2024-01-03/c.json")).unwrap();
        let (store, notes) = open_noting(dir.path());
        let said = notes.lock().unwrap().join("\n");
        assert!(
            said.contains("2 day folders changed") && said.contains("2024-01-02, 2024-01-03"),
            "{said}"
        );
        assert!(store.get("a").unwrap().ended);
        assert!(
            store.get("b").unwrap().ended,
            "a document added by hand is taken in"
        );
        assert_eq!(
            store.get("c"),
            None,
            "a document removed by hand is fetched again"
        );
        assert!(store.not_ended().is_empty());
        drop(store);
        let (_store, notes) = open_noting(dir.path());
        assert!(notes.lock().unwrap().is_empty(), "{:?}", notes.lock());
    }

    #[test]
    fn a_damaged_block_found_mid_run_is_rebuilt_from_the_documents() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            for i in 0..300 {
                let doc = format!(
                    r#"{{"id":"s{i:03}","start":"2024-01-02T00:00:00Z","end":"2024-01-02T01:00:00Z"}}"#
                );
                store
                    .put(&format!("s{i:03}"), &head(&doc), doc.as_bytes())
                    .unwrap();
            }
            store.save_index().unwrap();
        }
        let path = dir.path().join(INDEX_FILE);
        let mut bytes = fs::read(&path).unwrap();
        bytes[20] ^= 1; // inside the first block: the header, meta and trailer are fine
        fs::write(&path, &bytes).unwrap();
        let (store, notes) = open_noting(dir.path());
        assert!(notes.lock().unwrap().is_empty());
        assert!(store.get("s000").unwrap().ended);
        let said = notes.lock().unwrap().join("\n");
        assert!(
            said.contains("fails its checksum") && said.contains("rebuilding"),
            "{said}"
        );
        assert!(store.get("s299").unwrap().ended);
        assert!(Index::open(&path).unwrap().for_each(|_| Ok(())).is_ok());
    }
}
