//! A deterministic generator of realistic session documents (`sessionstats gen`): same seed,
//! same corpus size and shape give the same bytes, whatever the number of threads.
//!
//! What the sessions look like is in [`mix`] (the default mix: [`mix::MIX`]); how they
//! are written, in [`json`]; how they are spread over files, here. Sessions `0..N` start in
//! index order over 28 days from 2024-03-04, and each file goes in a folder named after the
//! start date of its first session (`DIR/2024-03-04/000001-array.json`).
//!
//! File kinds per shape:
//! - `single`: one session object per file;
//! - `pages`: v2 page envelopes of 50 sessions, one query over the whole corpus;
//! - `ndjson`: `.ndjson` files of 500 sessions, one per line;
//! - `mixed` (default), drawn per file: 40 % one session (1 in 10 of those wrapped as
//!   `{"data": session}`), 25 % a query of 1–8 page envelopes of 20, 50 or 100 sessions,
//!   15 % a JSON array of 2–200 sessions, 20 % NDJSON of 100–1000 lines (`.ndjson` or
//!   `.jsonl`, some blank lines; 1 in 5 of those holds page envelopes of 20 sessions per line).
//!
//! Sessions inside page envelopes or `{"data": …}` are always in the v2 shape. Besides the N
//! sessions, 1 % of the ended ones are also written as an earlier, ongoing copy (the same
//! `id`, no `end`, cut 20–90 % into the session), right after the final one, as a folder
//! fetched twice holds them.
pub mod json;
pub mod mix;

use crate::fsutil::write_atomically;
use crate::time::Millis;
use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use json::{write_session, Form};
use mix::{generate, rng_for, Plan};
use rand::RngExt;
use rayon::prelude::*;
use std::fmt;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How the sessions are packed into files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Shape {
    /// One session object per file.
    Single,
    /// v2 page envelopes `{"pageInfo": …, "data": […]}`.
    Pages,
    /// NDJSON files, one session per line.
    Ndjson,
    /// All of the above plus JSON arrays and `{"data": session}`.
    #[default]
    Mixed,
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub sessions: u64,
    pub seed: u64,
    pub shape: Shape,
    /// Gzip every file (`.gz` suffix).
    pub gzip: bool,
}

/// What was generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Distinct sessions (distinct `id`s).
    pub sessions: u64,
    /// Earlier ongoing copies written besides the sessions.
    pub copies: u64,
    pub files: usize,
    pub bytes: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sessions (+{} earlier ongoing copies) in {} files, {} bytes ({:.1} MB)",
            self.sessions,
            self.copies,
            self.files,
            self.bytes,
            self.bytes as f64 / 1e6
        )
    }
}

/// One document: session `index`, in full or as an earlier ongoing copy cut at `copy_cut`.
#[derive(Debug, Clone, Copy)]
struct Doc {
    index: u64,
    start: Millis,
    copy_cut: Option<Millis>,
}

/// What one file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Single,
    Data,
    Page {
        current: usize,
        per_page: usize,
        last: usize,
        total: usize,
    },
    Array,
    Lines {
        blank_lines: bool,
    },
    PageLines {
        per_page: usize,
    },
}

/// One file: where it goes, what it holds, which documents.
#[derive(Debug, Clone)]
struct FilePlan {
    path: PathBuf,
    content: Content,
    docs: Range<usize>,
}

/// Generates a corpus into `out`, which must be missing or empty.
pub fn generate_corpus(config: &Config, out: &Path) -> Result<Summary> {
    if let Ok(mut entries) = std::fs::read_dir(out) {
        if entries.next().is_some() {
            bail!(
                "{} is not empty: gen writes a corpus into a new or empty folder only; \
                 remove it or choose another --out",
                out.display()
            );
        }
    }
    let docs = documents(config);
    let files = layout(config, &docs);
    let mut folders: Vec<_> = files.iter().filter_map(|f| f.path.parent()).collect();
    folders.dedup();
    for folder in folders {
        let dir = out.join(folder);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create folder {}", dir.display()))?;
    }
    let bytes = files
        .par_iter()
        .map(|file| {
            let text = render(config, &docs, file);
            let path = out.join(&file.path);
            let bytes = if config.gzip {
                let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
                encoder
                    .write_all(text.as_bytes())
                    .and_then(|()| encoder.finish())
                    .with_context(|| format!("cannot compress {}", path.display()))?
            } else {
                text.into_bytes()
            };
            write_atomically(&path, |w| {
                w.write_all(&bytes)
                    .with_context(|| format!("cannot write {}", path.display()))
            })?;
            Ok(bytes.len() as u64)
        })
        .collect::<Result<Vec<u64>>>()?;
    Ok(Summary {
        sessions: config.sessions,
        copies: docs.len() as u64 - config.sessions,
        files: files.len(),
        bytes: bytes.iter().sum(),
    })
}

/// The documents in path order: every session, and after some of them an earlier copy.
fn documents(config: &Config) -> Vec<Doc> {
    let mut docs = Vec::with_capacity(config.sessions as usize + config.sessions as usize / 50);
    for index in 0..config.sessions {
        let plan = Plan::draw(&mut rng_for(config.seed, index), index, config.sessions);
        docs.push(Doc {
            index,
            start: plan.start,
            copy_cut: None,
        });
        if let Some(cut) = plan.snapshot_cut {
            docs.push(Doc {
                index,
                start: plan.start,
                copy_cut: Some(cut),
            });
        }
    }
    docs
}

/// Splits the documents into files (drawn from a stream of its own, so it is deterministic).
fn layout(config: &Config, docs: &[Doc]) -> Vec<FilePlan> {
    let mut rng = rng_for(config.seed, u64::MAX);
    let mut files = Files {
        plans: Vec::new(),
        docs,
        at: 0,
        gz: if config.gzip { ".gz" } else { "" },
    };
    if config.shape == Shape::Pages {
        files.pages(50, docs.len());
        return files.plans;
    }
    while files.at < docs.len() {
        match config.shape {
            Shape::Single => files.push(Content::Single, 1, "session", "json"),
            Shape::Ndjson => {
                let content = Content::Lines { blank_lines: false };
                files.push(content, 500, "export", "ndjson");
            }
            Shape::Pages | Shape::Mixed => match rng.random_range(0..100) {
                0..36 => files.push(Content::Single, 1, "session", "json"),
                36..40 => files.push(Content::Data, 1, "session", "json"),
                40..65 => {
                    let per_page = [20, 50, 100][rng.random_range(0..3)];
                    files.pages(per_page, per_page * rng.random_range(1..=8));
                }
                65..80 => files.push(Content::Array, rng.random_range(2..=200), "array", "json"),
                80..96 => {
                    let count = rng.random_range(100..=1000);
                    let ext = if rng.random_bool(0.3) {
                        "jsonl"
                    } else {
                        "ndjson"
                    };
                    let content = Content::Lines {
                        blank_lines: rng.random_bool(0.5),
                    };
                    files.push(content, count, "export", ext);
                }
                _ => {
                    let content = Content::PageLines { per_page: 20 };
                    files.push(content, rng.random_range(100..=1000), "pages", "ndjson");
                }
            },
        }
    }
    files.plans
}

/// The files planned so far and the next document to place.
struct Files<'a> {
    plans: Vec<FilePlan>,
    docs: &'a [Doc],
    at: usize,
    gz: &'static str,
}

impl Files<'_> {
    /// A file of the next `count` documents (fewer at the end), in the folder of the first.
    fn push(&mut self, content: Content, count: usize, stem: &str, ext: &str) {
        let docs = self.at..(self.at + count).min(self.docs.len());
        let date = day_folder(self.docs[docs.start].start);
        let number = self.plans.len() + 1;
        self.plans.push(FilePlan {
            path: PathBuf::from(format!("{date}/{number:06}-{stem}.{ext}{}", self.gz)),
            content,
            docs: docs.clone(),
        });
        self.at = docs.end;
    }

    /// One query's page envelopes over the next `count` documents (fewer at the end).
    fn pages(&mut self, per_page: usize, count: usize) {
        let total = count.min(self.docs.len() - self.at);
        let last = total.div_ceil(per_page);
        for current in 1..=last {
            let content = Content::Page {
                current,
                per_page,
                last,
                total,
            };
            self.push(content, per_page, &format!("page-{current}"), "json");
        }
    }
}

/// `2024-03-04` for an instant on that day (UTC), as the store names its day folders.
fn day_folder(ms: Millis) -> String {
    crate::time::utc_date(ms).map_or_else(|| "undated".to_owned(), |day| day.to_string())
}

/// Session `index` of the corpus `config` describes, as the JSON object `--shape single` writes
/// (for benchmarks and tests that want documents in memory).
pub fn session_json(config: &Config, index: u64) -> String {
    let mut out = String::with_capacity(8 << 10);
    let doc = Doc {
        index,
        start: 0,
        copy_cut: None,
    };
    write_doc(&mut out, config, &doc, false);
    out
}

/// Appends one document: the session in its own shape (v2 when `force_v2`), or its earlier copy.
fn write_doc(out: &mut String, config: &Config, doc: &Doc, force_v2: bool) {
    let session = generate(config.seed, doc.index, config.sessions);
    let mut form = Form::of(&session, force_v2);
    if doc.copy_cut.is_some() {
        form.cut = doc.copy_cut;
    }
    write_session(out, &session, form);
}

/// The text of one file.
fn render(config: &Config, docs: &[Doc], file: &FilePlan) -> String {
    let docs = &docs[file.docs.clone()];
    let mut out = String::with_capacity(docs.len() * 6000);
    let doc = |out: &mut String, doc: &Doc, force_v2: bool| write_doc(out, config, doc, force_v2);
    let envelope = |out: &mut String, current, per_page, last, total, docs: &[Doc]| {
        out.push_str(&format!(
            "{{\"pageInfo\":{{\"currentPage\":{current},\"perPage\":{per_page},\
             \"lastPage\":{last},\"total\":{total}}},\"data\":["
        ));
        for (i, d) in docs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            doc(out, d, true);
        }
        out.push_str("]}");
    };
    match file.content {
        Content::Single => docs.iter().for_each(|d| doc(&mut out, d, false)),
        Content::Data => {
            out.push_str("{\"data\":");
            docs.iter().for_each(|d| doc(&mut out, d, true));
            out.push('}');
        }
        Content::Page {
            current,
            per_page,
            last,
            total,
        } => envelope(&mut out, current, per_page, last, total, docs),
        Content::Array => {
            out.push('[');
            for (i, d) in docs.iter().enumerate() {
                out.push_str(if i > 0 { ",\n" } else { "\n" });
                doc(&mut out, d, false);
            }
            out.push_str("\n]");
        }
        Content::Lines { blank_lines } => {
            for (i, d) in docs.iter().enumerate() {
                doc(&mut out, d, false);
                out.push('\n');
                if blank_lines && i % 100 == 99 {
                    out.push('\n');
                }
            }
        }
        Content::PageLines { per_page } => {
            let last = docs.len().div_ceil(per_page);
            for (i, chunk) in docs.chunks(per_page).enumerate() {
                envelope(&mut out, i + 1, per_page, last, docs.len(), chunk);
                out.push('\n');
            }
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sessions: u64, shape: Shape) -> Config {
        Config {
            sessions,
            seed: 11,
            shape,
            gzip: false,
        }
    }

    #[test]
    fn every_document_lands_in_exactly_one_file() {
        for shape in [Shape::Single, Shape::Pages, Shape::Ndjson, Shape::Mixed] {
            let config = config(3000, shape);
            let docs = documents(&config);
            let files = layout(&config, &docs);
            let mut next = 0;
            for file in &files {
                assert_eq!(file.docs.start, next, "{shape:?}");
                assert!(!file.docs.is_empty(), "{shape:?}");
                next = file.docs.end;
            }
            assert_eq!(next, docs.len(), "{shape:?}");
        }
    }

    #[test]
    fn about_one_percent_of_sessions_get_an_earlier_copy() {
        let docs = documents(&config(20_000, Shape::Mixed));
        let copies = docs.iter().filter(|d| d.copy_cut.is_some()).count();
        assert!((100..=300).contains(&copies), "{copies}");
    }

    #[test]
    fn pages_describe_one_query() {
        let config = config(120, Shape::Pages);
        let docs = documents(&config);
        let files = layout(&config, &docs);
        assert_eq!(files.len(), docs.len().div_ceil(50));
        let Content::Page { last, total, .. } = files[2].content else {
            panic!("{:?}", files[2].content);
        };
        assert_eq!((last, total), (3, docs.len()));
        let text = render(&config, &docs, &files[2]);
        let page: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(page["pageInfo"]["currentPage"], 3);
        assert_eq!(page["data"].as_array().unwrap().len(), docs.len() - 100);
    }
}
