//! Parsing benches: RFC 3339 timestamps, and session documents (the parse floor against the
//! borrowed session model `analyze` reads). Run with `cargo bench --bench parse`.
mod support;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::de::IgnoredAny;
use sessionstats::gen::{session_json, Config, Shape};
use sessionstats::ingest::document::Document;
use sessionstats::time::parse_rfc3339;
use std::hint::black_box;

fn timestamps(c: &mut Criterion) {
    let mut group = c.benchmark_group("timestamp");
    let forms = [
        ("z_millis", "2021-10-19T07:55:35.807Z"),
        ("offset_nanos", "2021-10-19T13:25:35.807123456+05:30"),
        ("no_fraction", "2021-10-19T07:55:35Z"),
        // Not the fixed layout: goes through chrono.
        ("lower_case_fallback", "2021-10-19t07:55:35.807z"),
    ];
    for (name, text) in forms {
        group.bench_function(name, |b| b.iter(|| parse_rfc3339(black_box(text))));
    }
    group.bench_function("chrono_z_millis", |b| {
        b.iter(|| chrono::DateTime::parse_from_rfc3339(black_box(forms[0].1)))
    });
    group.finish();
}

/// Generated sessions as NDJSON lines: the default mix, so webinars weigh in by their size.
fn lines(sessions: u64) -> Vec<String> {
    let config = Config {
        sessions,
        seed: 1,
        shape: Shape::Single,
        gzip: false,
    };
    (0..sessions).map(|i| session_json(&config, i)).collect()
}

fn documents(c: &mut Criterion) {
    let lines = lines(500);
    let bytes: usize = lines.iter().map(String::len).sum();
    let mut group = c.benchmark_group("document");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("ignored_any_floor", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(serde_json::from_str::<IgnoredAny>(line).ok());
            }
        })
    });
    group.bench_function("borrowed_sessions", |b| {
        b.iter(|| {
            for line in &lines {
                let doc = serde_json::from_str::<Document>(line).ok();
                black_box(doc.map(|doc| doc.into_sessions(0)));
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = timestamps, documents
}
criterion_main!(benches);
