//! Files that appear complete or not at all.
use anyhow::{Context, Result};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The temporary name a file is written under before it is renamed to `path`: hidden (a leading
/// dot) and ending in `.tmp`, so `analyze` never reads it and a crash leaves nothing under the
/// final name. The process id keeps two writers of the same file from sharing a temporary file.
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes `path` atomically: `write` fills a buffered temporary file, which is flushed,
/// synced to disk and renamed over `path`. On any error the temporary file is removed and
/// `path` is left as it was.
pub fn write_atomically<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> Result<()>,
{
    write_staged(path, write)?.commit()
}

/// Writes the temporary file of `path` ([`write_atomically`]'s first half): the caller
/// commits it, perhaps on another thread, so that waiting for the disk holds no worker.
pub fn write_staged<F>(path: &Path, write: F) -> Result<Staged>
where
    F: FnOnce(&mut BufWriter<File>) -> Result<()>,
{
    let tmp = temporary_path(path);
    let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    // From here on, dropping `staged` before its commit removes the temporary file.
    let mut staged = Staged {
        file: None,
        tmp,
        path: path.to_path_buf(),
    };
    let mut out = BufWriter::with_capacity(1 << 16, file);
    write(&mut out)?;
    out.flush()
        .with_context(|| format!("cannot write {}", staged.tmp.display()))?;
    let file = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", staged.tmp.display()))?;
    staged.file = Some(file);
    Ok(staged)
}

/// Passes writes on to a file written through a [`BufWriter`] and, every [`WRITEBACK_STEP`]
/// bytes, asks the kernel to start writing the bytes before them to disk. A report is synced
/// before it is renamed ([`Staged::commit`]); without a head start the kernel wrote most of the
/// last reports only then, while the cores had nothing left to do (docs/performance.md,
/// "Whole-program optimization, and the reports' writeback started early").
pub struct StartsWriteback<'a> {
    out: &'a mut BufWriter<File>,
    written: u64,
    started: u64,
}

/// How many bytes are written between two starts of the writeback.
const WRITEBACK_STEP: u64 = 8 << 20;

impl<'a> StartsWriteback<'a> {
    pub fn new(out: &'a mut BufWriter<File>) -> Self {
        StartsWriteback {
            out,
            written: 0,
            started: 0,
        }
    }
}

impl Write for StartsWriteback<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.written += n as u64;
        // Only what reached the file: the buffer's bytes have not.
        let in_file = self.written - self.out.buffer().len() as u64;
        if in_file - self.started >= WRITEBACK_STEP {
            start_writeback(self.out.get_ref(), self.started..in_file);
            self.started = in_file;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Starts writing `range` of `file` to disk without waiting for it: Linux's
/// `posix_fadvise(POSIX_FADV_DONTNEED)` first starts the writeback of the range's dirty pages
/// (mm/fadvise.c), then drops the pages of the range that are already clean, which ours are
/// not yet. Advice only: where it is refused, the sync at the end does all the writing, as
/// without it.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, range: std::ops::Range<u64>) {
    let len = std::num::NonZeroU64::new(range.end - range.start);
    let _ = rustix::fs::fadvise(file, range.start, len, rustix::fs::Advice::DontNeed);
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File, _: std::ops::Range<u64>) {}

/// A file written under its temporary name: [`Staged::commit`] syncs it to disk and renames
/// it to its final name; dropped uncommitted, it is removed.
pub struct Staged {
    file: Option<File>,
    tmp: PathBuf,
    path: PathBuf,
}

impl Staged {
    /// The final path, where the file appears once committed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn commit(mut self) -> Result<()> {
        if let Some(file) = self.file.take() {
            file.sync_all()
                .with_context(|| format!("cannot sync {}", self.tmp.display()))?;
        }
        fs::rename(&self.tmp, &self.path).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.tmp.display(),
                self.path.display()
            )
        })?;
        self.tmp = PathBuf::new();
        Ok(())
    }

    /// Commits on a thread of its own, so that waiting for the disk holds no worker:
    /// [`Committing::wait`] gives the outcome.
    pub fn commit_in_background(self) -> Committing {
        let path = self.path.clone();
        let thread = std::thread::Builder::new()
            .name("commit".to_owned())
            .spawn(move || self.commit())
            .with_context(|| format!("cannot start a thread to sync {}", path.display()));
        Committing {
            path,
            thread: Some(thread),
        }
    }
}

/// A [`Staged`] file being synced and renamed on a thread of its own.
pub struct Committing {
    path: PathBuf,
    thread: Option<Result<std::thread::JoinHandle<Result<()>>>>,
}

impl Committing {
    /// Waits for the sync and the rename; the file's final path.
    pub fn wait(mut self) -> Result<PathBuf> {
        match self.thread.take() {
            Some(Ok(thread)) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("a thread failed while syncing"))
                .and_then(|committed| committed)
                .with_context(|| format!("cannot write {}", self.path.display()))?,
            Some(Err(e)) => return Err(e),
            None => {}
        }
        Ok(std::mem::take(&mut self.path))
    }
}

impl Drop for Committing {
    /// One not waited for (the caller returned early) is waited for here, so that no commit
    /// outlives the run.
    fn drop(&mut self) {
        if let Some(Ok(thread)) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits for every commit, in order; their final paths.
pub fn wait_all(committing: Vec<Committing>) -> Result<Vec<PathBuf>> {
    committing.into_iter().map(Committing::wait).collect()
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_neither_file_nor_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let err = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            anyhow::bail!("disk full")
        });
        assert!(err.is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// Bytes pass through unchanged, in writes of any size, and the writeback is only ever
    /// asked for bytes that have reached the file (not those still in the buffer).
    #[test]
    fn starting_the_writeback_changes_no_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let content: Vec<u8> = (0..21_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let staged = write_staged(&path, |out| {
            let mut writer = StartsWriteback::new(out);
            // Small writes, which the buffer holds, and large ones, which go straight through.
            let (small, large) = content.split_at(9_000_000);
            for piece in small.chunks(999).chain(large.chunks(3_000_001)) {
                writer.write_all(piece)?;
                let in_file = writer.out.get_ref().metadata()?.len();
                assert!(writer.started <= in_file, "{} > {in_file}", writer.started);
            }
            assert!(writer.started >= 2 * WRITEBACK_STEP, "{}", writer.started);
            writer.flush()?;
            Ok(())
        })
        .unwrap();
        staged.commit().unwrap();
        assert!(fs::read(&path).unwrap() == content);
    }

    #[test]
    fn a_staged_file_appears_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let staged = write_staged(&path, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert!(!path.exists());
        drop(staged);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let staged = write_staged(&path, |w| Ok(w.write_all(b"new")?)).unwrap();
        staged.commit().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A commit in the background gives the final path when waited for, is complete when
    /// dropped unwaited (the caller returned early), and reports a failed rename.
    #[test]
    fn a_background_commit_is_waited_for_even_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let staged = |name: &str| {
            write_staged(&dir.path().join(name), |w| Ok(w.write_all(b"new")?)).unwrap()
        };
        let paths = wait_all(vec![
            staged("a.csv").commit_in_background(),
            staged("b.csv").commit_in_background(),
        ])
        .unwrap();
        assert_eq!(paths, [dir.path().join("a.csv"), dir.path().join("b.csv")]);
        drop(staged("c.csv").commit_in_background());
        assert_eq!(fs::read_to_string(dir.path().join("c.csv")).unwrap(), "new");
        // A rename over a folder that holds a file fails, and its temporary file is removed;
        // the commits after it still end before `wait_all` returns.
        fs::create_dir(dir.path().join("d.csv")).unwrap();
        fs::write(dir.path().join("d.csv/x"), "").unwrap();
        let err = wait_all(vec![
            staged("d.csv").commit_in_background(),
            staged("e.csv").commit_in_background(),
        ])
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.starts_with("cannot write ") && err.contains("cannot rename"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(dir.path().join("e.csv")).unwrap(), "new");
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.csv", "b.csv", "c.csv", "d.csv", "e.csv"]);
    }

    #[test]
    fn successful_write_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        fs::write(&path, "old").unwrap();
        write_atomically(&path, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
