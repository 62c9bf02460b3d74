//! The gzip + NDJSON reader on any bytes, and on the gzip of any bytes: never a panic, never
//! more than the document limit in one piece, and a valid gzip reads exactly as its plain text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sessionstats::ingest::walk::Layout;
use sessionstats::ingest::{read_source, Limits, Reject};
use std::io::Write;

fn read(bytes: &[u8], gzip: bool) -> (Vec<String>, Vec<(Option<u64>, String)>) {
    let limits = Limits {
        max_document_bytes: 1024,
    };
    let mut rejects: Vec<Reject> = Vec::new();
    let mut ids = Vec::new();
    let layout = Layout { lines: true, gzip };
    read_source(bytes, layout, "f.ndjson.gz", 0, &limits, &mut rejects, |s| {
        ids.push(s.id.to_owned())
    });
    let rejects = rejects
        .into_iter()
        .map(|r| (r.line, r.reason.to_string()))
        .collect();
    (ids, rejects)
}

fuzz_target!(|data: &[u8]| {
    // Any bytes as a .ndjson.gz: corrupt gzip is a reject, never a panic.
    let _ = read(data, true);
    // The gzip of any bytes reads as the bytes themselves.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    let gz = encoder.finish().unwrap();
    assert_eq!(read(&gz, true), read(data, false));
});
