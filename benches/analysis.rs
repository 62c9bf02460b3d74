//! Analysis benches on generated sessions: interval union, pairwise overlaps, the concurrency
//! sweep, one session end to end, and an in-memory corpus (parse + analyze, one thread).
//! Run with `cargo bench --bench analysis`.
mod support;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sessionstats::analysis::concurrency::sweep;
use sessionstats::analysis::intervals::{union, Interval};
use sessionstats::analysis::overlaps::pairs;
use sessionstats::analysis::{analyze_session, Config};
use sessionstats::gen::mix::{generate, Kind, Moment, Session};
use sessionstats::gen::{session_json, Config as GenConfig, Shape};
use sessionstats::ingest::document::{text, Document};
use std::hint::black_box;

const CORPUS: u64 = 10_000;
// 2024-04-01T00:00:00Z, after every generated session.
const ANALYSIS: Config = Config::new(1_711_929_600_000);
const GEN: GenConfig = GenConfig {
    sessions: CORPUS,
    seed: 1,
    shape: Shape::Single,
    gzip: false,
};

/// The first ended session of `kind` in the generated corpus, and its index.
fn session_of(kind: Kind) -> (u64, Session) {
    (0..CORPUS)
        .map(|i| (i, generate(GEN.seed, i, CORPUS)))
        .find(|(_, s)| s.plan.spec.kind == kind && s.plan.ongoing_cut.is_none())
        .expect("the mix has every kind")
}

/// Each participant entry's valid timelog entries as intervals.
fn timelogs(session: &Session) -> Vec<Vec<Interval>> {
    let interval = |start, end| match (start, end) {
        (Moment::At(start), Moment::At(end)) if start <= end => Some(Interval { start, end }),
        _ => None,
    };
    let entries = |p: &sessionstats::gen::mix::Participant| {
        p.timelog
            .iter()
            .filter_map(|e| interval(e.start, e.end))
            .collect()
    };
    session.participants.iter().map(entries).collect()
}

fn unions(session: &Session) -> Vec<Vec<Interval>> {
    timelogs(session)
        .into_iter()
        .map(|mut t| union(&mut t).to_vec())
        .collect()
}

const KINDS: [(&str, Kind); 3] = [
    ("small", Kind::Small),
    ("large", Kind::Large),
    ("webinar", Kind::Webinar),
];

fn interval_union(c: &mut Criterion) {
    let (_, webinar) = session_of(Kind::Webinar);
    let per_participant = timelogs(&webinar);
    let pooled: Vec<Interval> = per_participant.concat();
    let mut group = c.benchmark_group("union");
    group.bench_function("webinar_each_participant", |b| {
        b.iter_batched(
            || per_participant.clone(),
            |mut lists| lists.iter_mut().map(|l| union(l).len()).sum::<usize>(),
            BatchSize::SmallInput,
        )
    });
    let name = format!("{}_pooled_intervals", pooled.len());
    group.bench_function(name, |b| {
        b.iter_batched(
            || pooled.clone(),
            |mut all| union(&mut all).len(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn overlaps(c: &mut Criterion) {
    let mut group = c.benchmark_group("overlaps");
    for (name, kind) in KINDS {
        let unions = unions(&session_of(kind).1);
        let slices: Vec<&[Interval]> = unions.iter().map(Vec::as_slice).collect();
        let name = format!("{name}_{}_participants", slices.len());
        group.bench_function(name, |b| b.iter(|| pairs(black_box(&slices))));
    }
    group.finish();
}

fn concurrency(c: &mut Criterion) {
    let mut group = c.benchmark_group("sweep");
    for (name, kind) in KINDS {
        let session = session_of(kind).1;
        let bounds = Interval {
            start: session.plan.start,
            end: session.end,
        };
        let unions = unions(&session);
        let name = format!("{name}_{}_participants", unions.len());
        let spans = unions.concat();
        group.bench_function(name, |b| b.iter(|| sweep(bounds, black_box(&spans))));
    }
    group.finish();
}

fn one_session(c: &mut Criterion) {
    let mut group = c.benchmark_group("analyze_session");
    for (name, kind) in KINDS {
        let json = session_json(&GEN, session_of(kind).0);
        let sessions = serde_json::from_str::<Document>(&json)
            .expect("generated JSON parses")
            .into_sessions(0);
        let raw = sessions[0].1.as_ref().expect("a session object");
        let id = text(&raw.id).unwrap_or_default();
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| analyze_session(id, black_box(raw), &ANALYSIS))
        });
    }
    group.finish();
}

/// Parse and analyze 2,000 generated sessions held in memory, on one thread.
fn corpus(c: &mut Criterion) {
    let lines: Vec<String> = (0..2000).map(|i| session_json(&GEN, i)).collect();
    let bytes: usize = lines.iter().map(String::len).sum();
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("parse_and_analyze_2000_sessions", |b| {
        b.iter(|| {
            let mut rows = 0;
            for line in &lines {
                let Ok(doc) = serde_json::from_str::<Document>(line) else {
                    continue;
                };
                for (_, raw) in doc.into_sessions(0) {
                    let Ok(raw) = raw else { continue };
                    let id = text(&raw.id).unwrap_or_default();
                    rows += analyze_session(id, &raw, &ANALYSIS).overlaps.len();
                }
            }
            rows
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = interval_union, overlaps, concurrency, one_session, corpus
}
criterion_main!(benches);
