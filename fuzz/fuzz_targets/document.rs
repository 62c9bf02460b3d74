//! Document decoding with the reject rules, on any bytes: read as a `.json` file and as the
//! lines of an `.ndjson` file. Never a panic; every session handed out has a non-empty id;
//! every reject has a documented reason and names the file; NDJSON rejects carry the line. A
//! `.json` array, though read item by item, is judged whole: one that is not UTF-8 or not
//! well-formed JSON is one reject and no session, as serde_json reading it at once would say.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sessionstats::ingest::walk::Layout;
use serde_json::value::RawValue;
use sessionstats::ingest::{read_source, Limits, Reject};

const STARTS: [&str; 9] = [
    "cannot read",
    "cannot decompress gzip",
    "empty file",
    "not UTF-8 text",
    "invalid JSON",
    "not a session document",
    "session without id",
    "not a regular file",
    "document too large",
];

fn check(data: &[u8], lines: bool) {
    let limits = Limits {
        max_document_bytes: 4096,
    };
    let mut rejects: Vec<Reject> = Vec::new();
    let mut sessions = 0usize;
    let layout = Layout { lines, gzip: false };
    read_source(data, layout, "f", 0, &limits, &mut rejects, |s| {
        assert!(!s.id.is_empty());
        sessions += 1;
    });
    let line_count = data.split(|&b| b == b'\n').count() as u64;
    for r in &rejects {
        assert_eq!(r.path, "f");
        let reason = r.reason.to_string();
        assert!(STARTS.iter().any(|s| reason.starts_with(s)), "{reason}");
        match r.line {
            Some(line) => assert!(lines && line >= 1 && line <= line_count),
            None => assert!(!lines),
        }
    }
    // Rejects come in file order.
    assert!(rejects.windows(2).all(|w| w[0].line <= w[1].line));
    if !lines {
        let text = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
        let first = text.iter().find(|b| !matches!(b, b' ' | b'\n' | b'\t' | b'\r'));
        let well_formed = std::str::from_utf8(text)
            .is_ok_and(|text| serde_json::from_str::<&RawValue>(text).is_ok());
        if first == Some(&b'[') && !well_formed {
            assert_eq!((sessions, rejects.len()), (0, 1), "{rejects:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data, false);
    check(data, true);
});
