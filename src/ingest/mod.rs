//! Ingest: walk the inputs, decode each file, hand out its sessions, reject what cannot be used.
//!
//! Bad input never stops the run (SPEC §2): an unreadable file, an unparsable file or NDJSON line,
//! or a session without an id becomes a [`Reject`] and the rest is still read.
pub mod document;
pub mod walk;

use document::{sessions_of_value, text, Document, IdOnly, NotAnObject, Problem, RawSession, Text};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;
use walk::InputFile;

/// One row of the rejects report: `path, line, session_id, reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub path: String,
    /// 1-based line number, for NDJSON files only.
    pub line: Option<u64>,
    pub session_id: Option<String>,
    pub reason: String,
}

impl Reject {
    pub fn file(path: &Path, reason: String) -> Reject {
        Reject {
            path: path.display().to_string(),
            line: None,
            session_id: None,
            reason,
        }
    }
}

/// Where a session was read: its file's rank in path order and its rank inside the file.
/// Orders documents for the duplicate rule's "first in path order".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    pub file: u32,
    pub position: u32,
}

/// A session handed to the analysis: its id is present and a non-empty string.
pub struct IdentifiedSession<'s, 'a> {
    pub id: &'s str,
    pub raw: &'s RawSession<'a>,
    pub origin: Origin,
}

/// Reads one input file and calls `on_session` for each session with an id, in file order.
/// Everything that cannot be used is appended to `rejects`.
pub fn read_file<F>(file: &InputFile, file_rank: u32, rejects: &mut Vec<Reject>, mut on_session: F)
where
    F: FnMut(IdentifiedSession<'_, '_>),
{
    let mut reader = FileReader {
        file,
        file_rank,
        position: 0,
        rejects,
    };
    let bytes = match reader.load() {
        Ok(bytes) => bytes,
        Err(reason) => return reader.reject(None, None, reason),
    };
    let content = strip_bom(&bytes);
    // An NDJSON file of blank lines holds no document, which is not an error; a JSON file must
    // hold one.
    if !file.layout.lines && content.iter().all(u8::is_ascii_whitespace) {
        return reader.reject(None, None, "empty file".to_owned());
    }
    if file.layout.lines {
        for (index, line) in content.split(|&b| b == b'\n').enumerate() {
            if !line.iter().all(u8::is_ascii_whitespace) {
                reader.read_document(line, Some(index as u64 + 1), &mut on_session);
            }
        }
    } else {
        reader.read_document(content, None, &mut on_session);
    }
}

struct FileReader<'r> {
    file: &'r InputFile,
    file_rank: u32,
    position: u32,
    rejects: &'r mut Vec<Reject>,
}

impl FileReader<'_> {
    fn load(&self) -> Result<Vec<u8>, String> {
        let raw = std::fs::read(&self.file.path).map_err(|e| format!("cannot read: {e}"))?;
        if !self.file.layout.gzip || raw.is_empty() {
            return Ok(raw);
        }
        let mut out = Vec::with_capacity(raw.len() * 4);
        MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| format!("cannot decompress gzip: {e}"))?;
        Ok(out)
    }

    fn reject(&mut self, line: Option<u64>, session_id: Option<String>, reason: String) {
        self.rejects.push(Reject {
            path: self.file.path.display().to_string(),
            line,
            session_id,
            reason,
        });
    }

    fn read_document<F>(&mut self, bytes: &[u8], line: Option<u64>, on_session: &mut F)
    where
        F: FnMut(IdentifiedSession<'_, '_>),
    {
        let json = match std::str::from_utf8(bytes) {
            Ok(json) => json,
            Err(e) => {
                let at = e.valid_up_to();
                let reason = format!("not UTF-8 text: invalid byte at offset {at}");
                return self.reject(line, None, reason);
            }
        };
        // The fast path reads the whole document at once; a well-formed document with a bad
        // session somewhere is read again session by session, so the others are kept.
        let slow_path: serde_json::Value;
        let items = match serde_json::from_str::<Document>(json) {
            Ok(document) => document.into_sessions(),
            Err(e) if e.is_data() => match serde_json::from_str(json) {
                Ok(value) => {
                    slow_path = value;
                    sessions_of_value(&slow_path)
                }
                Err(e) => return self.reject(line, None, describe_parse_error(&e)),
            },
            Err(e) => {
                let id = serde_json::from_str::<IdOnly>(json)
                    .ok()
                    .and_then(|d| text(&d.id).map(str::to_owned));
                return self.reject(line, id, describe_parse_error(&e));
            }
        };
        for (index, item) in items.iter().enumerate() {
            let origin = Origin {
                file: self.file_rank,
                position: self.position,
            };
            self.position += 1;
            let number = index + 1;
            let raw = match item {
                Ok(raw) => raw,
                Err(Problem::NotAnObject(NotAnObject(kind))) => {
                    let reason = format!("not a session document: item {number} of this document is {kind}, not an object");
                    self.reject(line, None, reason);
                    continue;
                }
                Err(Problem::Invalid { id, error }) => {
                    let reason = format!(
                        "not a session document: session {number} of this document: {error}"
                    );
                    self.reject(line, id.clone(), reason);
                    continue;
                }
            };
            match (&raw.id, text(&raw.id)) {
                (_, Some(id)) => on_session(IdentifiedSession { id, raw, origin }),
                (Some(Text::Other), None) => {
                    let reason = format!("session without id: `id` of session {number} in this document is not a string");
                    self.reject(line, None, reason);
                }
                _ => {
                    let reason = format!("session without id (session {number} in this document)");
                    self.reject(line, None, reason);
                }
            }
        }
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Syntax errors (truncated, garbage) are "invalid JSON"; well-formed JSON of the wrong shape
/// (a bare number, a string where the participants belong) is "not a session document".
fn describe_parse_error(e: &serde_json::Error) -> String {
    if e.is_data() {
        format!("not a session document: {e}")
    } else {
        format!("invalid JSON: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn read(name: &str, content: &[u8]) -> (Vec<String>, Vec<Reject>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        fs::write(&path, content).unwrap();
        let layout = walk::layout_of(&path).unwrap();
        let mut ids = Vec::new();
        let mut rejects = Vec::new();
        read_file(&InputFile { path, layout }, 0, &mut rejects, |s| {
            ids.push(s.id.to_owned())
        });
        for r in &mut rejects {
            r.path = name.to_owned();
        }
        (ids, rejects)
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn ndjson_lines_are_read_one_by_one_with_line_numbers() {
        let (ids, rejects) = read(
            "a.ndjson",
            b"{\"id\":\"a\"}\n\n{\"id\":\"b\"\n{\"pageInfo\":{},\"data\":[{\"id\":\"c\"},{}]}\n",
        );
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(rejects.len(), 2);
        assert_eq!(rejects[0].line, Some(3));
        assert!(
            rejects[0].reason.starts_with("invalid JSON"),
            "{}",
            rejects[0].reason
        );
        assert_eq!(rejects[1].line, Some(4));
        assert!(
            rejects[1].reason.starts_with("session without id"),
            "{}",
            rejects[1].reason
        );
    }

    #[test]
    fn each_kind_of_bad_file_has_its_reason() {
        let cases: [(&str, &[u8], &str); 7] = [
            ("a.json", b"", "empty file"),
            ("a.json", b"{\"id\":\"x\",\"start\":", "invalid JSON"),
            ("a.json", b"42", "not a session document"),
            ("a.json", b"{\"id\":\"caf\xE9\"}", "not UTF-8"),
            ("a.json.gz", b"\x1f\x8b\x08\x00garbage", "cannot decompress"),
            ("a.json.gz", &[], "empty file"),
            ("a.json", b" \n ", "empty file"),
        ];
        for (name, content, prefix) in cases {
            let (ids, rejects) = read(name, content);
            assert!(ids.is_empty());
            assert_eq!(rejects.len(), 1, "{name} {content:?}");
            assert!(
                rejects[0].reason.starts_with(prefix),
                "{} vs {prefix}",
                rejects[0].reason
            );
        }
    }

    #[test]
    fn an_ndjson_file_of_blank_lines_is_no_error() {
        assert_eq!(read("a.ndjson", b"\n\n  \n"), (vec![], vec![]));
        assert_eq!(read("a.jsonl", b""), (vec![], vec![]));
    }

    #[test]
    fn one_bad_session_costs_only_itself() {
        let (ids, rejects) = read(
            "a.json",
            br#"[{"id":"a"},{"id":"b","participants":"x"},{"id":"c"}]"#,
        );
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].session_id.as_deref(), Some("b"));
        assert!(
            rejects[0]
                .reason
                .starts_with("not a session document: session 2"),
            "{}",
            rejects[0].reason
        );
        let (ids, rejects) = read("a.ndjson", b"{\"data\":[{\"id\":\"ok\"},{\"id\":\"bad\",\"participants\":[{\"timelog\":\"none\"}]}]}\n");
        assert_eq!(
            (ids, rejects.len(), rejects[0].line),
            (vec!["ok".to_owned()], 1, Some(1))
        );
    }

    #[test]
    fn a_rejected_document_is_named_by_its_id_when_it_has_one() {
        let (_, rejects) = read("a.json", br#"{"id":"s1","participants":"everyone"}"#);
        assert_eq!(rejects[0].session_id.as_deref(), Some("s1"));
        assert!(rejects[0].reason.starts_with("not a session document"));
    }

    #[test]
    fn gzip_of_each_layout_and_a_byte_order_mark_are_read() {
        let (ids, rejects) = read("a.jsonl.gz", &gzip(b"{\"id\":\"a\"}\n{\"id\":\"b\"}"));
        assert_eq!(
            (ids, rejects),
            (vec!["a".to_owned(), "b".to_owned()], vec![])
        );
        let (ids, _) = read(
            "a.json.gz",
            &gzip(b"\xEF\xBB\xBF[{\"id\":\"a\"},{\"id\":\"b\"}]"),
        );
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn a_session_without_id_is_rejected_and_its_neighbours_kept() {
        let (ids, rejects) = read(
            "a.json",
            br#"[{"id":"a"},{"meetingId":"m"},{"id":42},{"id":""}]"#,
        );
        assert_eq!(ids, ["a"]);
        assert_eq!(rejects.len(), 3);
        assert!(rejects
            .iter()
            .all(|r| r.reason.starts_with("session without id") && r.line.is_none()));
    }
}
