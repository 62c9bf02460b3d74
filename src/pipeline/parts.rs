//! Where the kept sessions' rows lie, in report order: one [`SessionParts`] a session, kept in
//! an anonymous temporary file rather than in memory (40 MB at a million sessions), and read
//! back in ranges by the writers and the rollup pass.
use super::{SessionParts, PER_SESSION};
use crate::report::spill::Spill;
use anyhow::{Context, Result};
use std::ops::Range;
use std::path::Path;

/// Bytes encoded before they are appended to the file.
const WRITE_BATCH: usize = 1 << 16;

/// The sessions' parts, written in report order.
pub struct PartsFile {
    file: Spill,
    len: usize,
    /// Per table of [`PER_SESSION`], its rows over all sessions.
    rows: [u64; PER_SESSION.len()],
}

/// A [`PartsFile`] being written.
pub struct PartsWriter {
    file: Spill,
    buf: Vec<u8>,
    len: usize,
    rows: [u64; PER_SESSION.len()],
}

impl PartsWriter {
    pub fn new(dir: &Path) -> Result<PartsWriter> {
        Ok(PartsWriter {
            file: Spill::create_in(dir)?,
            buf: Vec::with_capacity(WRITE_BATCH + SessionParts::BYTES),
            len: 0,
            rows: [0; PER_SESSION.len()],
        })
    }

    /// Adds the next session in report order.
    pub fn push(&mut self, parts: &SessionParts) -> Result<()> {
        parts.encode(&mut self.buf);
        self.len += 1;
        for (total, (_, rows)) in self.rows.iter_mut().zip(parts.sizes) {
            *total += u64::from(rows);
        }
        if self.buf.len() >= WRITE_BATCH {
            self.file.append(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    pub fn finish(self) -> Result<PartsFile> {
        self.file.append(&self.buf)?;
        self.file.finish_writing()?;
        Ok(PartsFile {
            file: self.file,
            len: self.len,
            rows: self.rows,
        })
    }
}

impl PartsFile {
    /// The number of sessions.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rows of table `index` of [`PER_SESSION`] over all sessions.
    pub fn rows(&self, index: usize) -> usize {
        self.rows
            .get(index)
            .map_or(0, |&rows| usize::try_from(rows).unwrap_or(usize::MAX))
    }

    /// The parts of the sessions in `range` (cut to the sessions there are).
    pub fn read(&self, range: Range<usize>) -> Result<Vec<SessionParts>> {
        let range = range.start.min(self.len)..range.end.min(self.len);
        let mut bytes = vec![0; range.len() * SessionParts::BYTES];
        let offset = u64::try_from(range.start * SessionParts::BYTES)
            .context("the sessions' parts are out of range")?;
        self.file.read_at(offset, &mut bytes)?;
        Ok(bytes
            .chunks_exact(SessionParts::BYTES)
            .map(SessionParts::decode)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts come back as they went in, in any range, across the write batches; the rows are
    /// summed per table.
    #[test]
    fn parts_come_back_in_any_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = PartsWriter::new(dir.path()).unwrap();
        let n = 2 * WRITE_BATCH / SessionParts::BYTES + 7;
        let parts = |i: usize| SessionParts {
            offset: ((i as u64) << 33) | 0x8000_0001 | i as u64,
            sizes: [(i as u32, 1), (7, i as u32), (0, 0), (u32::MAX, 2)],
        };
        for i in 0..n {
            writer.push(&parts(i)).unwrap();
        }
        let file = writer.finish().unwrap();
        assert_eq!(file.len(), n);
        assert_eq!(file.rows(0), n);
        assert_eq!(file.rows(1), n * (n - 1) / 2);
        assert_eq!(file.rows(2), 0);
        assert_eq!(file.rows(3), 2 * n);
        let debug = |p: &[SessionParts]| format!("{p:?}");
        for range in [0..0, 0..1, 5..n, n - 1..n, 3..n + 10, n..n + 1] {
            let expected: Vec<SessionParts> =
                (range.start.min(n)..range.end.min(n)).map(parts).collect();
            assert_eq!(
                debug(&file.read(range.clone()).unwrap()),
                debug(&expected),
                "{range:?}"
            );
        }
    }
}
