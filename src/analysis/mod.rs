//! Analysis: from one session document to its report rows.
//!
//! | docs/reference.md | module |
//! |---|---|
//! | §3 intervals, clipping | [`intervals`] |
//! | §4 per participant | [`participant`] |
//! | §3 bounds, §5 per session | [`session`] |
//! | §5 peak, empty time; §7 timeline | [`concurrency`] |
//! | §6 overlaps | [`overlaps`] |
//! | §9 presence, lateness, early leaving | [`presence`] (and [`participant`]) |
//! | §10 periods, `--tz`, `--since`/`--until` | [`period`] |
//! | §10 `rooms`, `people`; §11 `account_concurrency`, `usage`, `--quota` | [`rollups`] |
//! | §12 (docs/html.md) the HTML report's distributions, largest sessions, data quality | [`overview`] |
pub mod concurrency;
pub mod intervals;
pub mod overlaps;
pub mod overview;
pub mod participant;
pub mod period;
pub mod presence;
pub mod rollups;
pub mod session;

pub use session::{analyze_session, SessionReport};

use crate::time::Millis;

/// A text's first eight bytes (zeros after a shorter text) as a big-endian number. Two texts
/// whose numbers differ are in the same order as the texts (byte order), so a sort by ids
/// compares these numbers first and reads the whole ids only on a tie. Equal numbers do not
/// make equal texts (`"p"` and `"p\0"`, or two ids that differ after their eighth byte).
pub(crate) fn byte_order_prefix(text: &str) -> u64 {
    let mut prefix = [0; 8];
    let cut = text.len().min(8);
    prefix[..cut].copy_from_slice(&text.as_bytes()[..cut]);
    u64::from_be_bytes(prefix)
}

/// Sessions with more participants get no overlaps rows, unless `--max-pair-participants`
/// says otherwise (pairs grow with the square of the participants).
pub const DEFAULT_MAX_PAIR_PARTICIPANTS: usize = 200;

/// What the run decides for every session alike.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Closes open intervals and ongoing sessions.
    pub as_of: Millis,
    /// Sessions with more participants get no overlaps rows.
    pub max_pair_participants: usize,
    /// Who counts as present (docs/reference.md §9).
    pub present: presence::Threshold,
    /// The zone and length of the rollups' periods (docs/reference.md §10).
    pub calendar: period::Calendar,
    /// Keep only sessions whose start lies in `[since, until)` (docs/reference.md §10).
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    /// The plan's limit of concurrent participants (docs/reference.md §11).
    pub quota: Option<i64>,
    /// The reports computed and written (`--reports`).
    pub reports: crate::report::tables::ReportSet,
}

impl Config {
    /// The run's settings with the defaults (present at any attendance, UTC days, no
    /// window, no quota), closing open work at `as_of`.
    pub const fn new(as_of: Millis) -> Config {
        Config {
            as_of,
            max_pair_participants: DEFAULT_MAX_PAIR_PARTICIPANTS,
            present: presence::Threshold::Any,
            calendar: period::Calendar::UTC_DAYS,
            since: None,
            until: None,
            quota: None,
            reports: crate::report::tables::ReportSet::ALL,
        }
    }

    /// Whether a session starting at `start` is in the `--since`/`--until` window.
    pub fn in_window(&self, start: Millis) -> bool {
        self.since.is_none_or(|since| start >= since)
            && self.until.is_none_or(|until| start < until)
    }
}

#[cfg(test)]
mod tests {
    //! Session-level checks: hand-computed cases, then a brute-force model that counts
    //! presence millisecond by millisecond.
    use super::*;
    use crate::ingest::document::{Document, RawSession};
    use crate::time::to_rfc3339;
    use concurrency::Step;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    const BASE: Millis = 1_634_630_135_000;
    const CONFIG: Config = Config::new(BASE + 1000);

    fn at(offset: Millis) -> Value {
        Value::String(to_rfc3339(BASE + offset))
    }

    /// Analyses `doc`; the document is leaked so that the report can borrow from it.
    fn analyze(doc: &Value, config: &Config) -> SessionReport<'static> {
        let text: &'static str = Box::leak(doc.to_string().into_boxed_str());
        let mut sessions = serde_json::from_str::<Document>(text)
            .unwrap()
            .into_sessions(0);
        let raw: &'static RawSession = Box::leak(Box::new(sessions.remove(0).1.unwrap()));
        analyze_session("s", raw, config)
    }

    #[test]
    fn documented_example_figures() {
        let doc = json!({"id": "s", "meetingId": "m", "start": at(0), "end": at(100), "activeDuration": 4,
            "participants": [
                {"participantId": "b", "name": "Bo", "timelog": [{"start": at(10), "end": at(60)}]},
                {"participantId": "a", "name": "", "timelog": [{"start": at(40), "end": at(80)}]},
                {"participantId": "a", "name": "Al", "timelog": [{"start": at(70), "end": at(90)}]},
                {"name": "ghost", "timelog": [{"start": at(0), "end": at(100)}]}]});
        let r = analyze(&doc, &CONFIG);
        let s = &r.session;
        assert_eq!(
            (s.room_id, s.duration_ms, s.reported_active_duration),
            (Some("m"), 100, Some(4.0))
        );
        assert_eq!(
            (
                s.participants,
                s.attendees,
                s.participant_ms,
                s.invalid_participants
            ),
            (2, 2, 100, 1)
        );
        assert_eq!(
            (s.peak_concurrency, s.peak_at, s.peak_ms, s.empty_ms),
            (2, Some(BASE + 40), 20, 20)
        );
        assert_eq!(s.avg_concurrency, Some(1.0));
        assert!(!s.ongoing);
        let ids: Vec<_> = r
            .participants
            .iter()
            .map(|p| (p.participant_id, p.name))
            .collect();
        assert_eq!(ids, [("a", Some("Al")), ("b", Some("Bo"))]);
        assert_eq!(r.overlaps.len(), 1);
        assert_eq!(
            (r.overlaps[0].overlap_ms, r.overlaps[0].first_overlap),
            (20, BASE + 40)
        );
    }

    #[test]
    fn an_ongoing_session_ends_at_as_of_and_so_do_open_entries() {
        let doc = json!({"id": "s", "roomId": "r", "status": "ongoing", "start": at(0), "end": null,
            "participants": [{"participantId": "a", "timelog": [{"start": at(500), "end": null}]}]});
        let r = analyze(&doc, &CONFIG);
        assert_eq!(
            (r.session.ongoing, r.session.ended_at, r.session.duration_ms),
            (true, BASE + 1000, 1000)
        );
        assert_eq!(r.session.status, Some("ongoing"));
        assert_eq!(
            (r.participants[0].attended_ms, r.participants[0].open),
            (500, true)
        );
    }

    #[test]
    fn a_missing_start_falls_back_to_the_earliest_timelog_start_then_to_the_end() {
        let doc = json!({"id": "s", "end": at(100), "participants": [
            {"participantId": "a", "timelog": [{"start": at(30), "end": "garbled"}, {"start": at(50), "end": at(60)}]}]});
        let r = analyze(&doc, &CONFIG);
        assert_eq!(
            (
                r.session.started_at,
                r.session.duration_ms,
                r.session.invalid_intervals
            ),
            (BASE + 30, 70, 1)
        );
        let bare = analyze(&json!({"id": "s", "end": at(100)}), &CONFIG);
        assert_eq!(
            (bare.session.started_at, bare.session.duration_ms),
            (BASE + 100, 0)
        );
        assert_eq!(
            (bare.session.avg_concurrency, bare.timeline.len()),
            (None, 1)
        );
    }

    #[test]
    fn participants_are_in_byte_order_of_their_ids() {
        // Ids alike in their first eight bytes, shorter than eight, with a NUL, and non-ASCII.
        let ids = [
            "participant-b",
            "participant-a",
            "p\u{0}",
            "p",
            "participant",
            "é",
            "participant-a\u{0}",
            "z",
            "\u{0}",
        ];
        let participants: Vec<Value> = ids
            .iter()
            .map(|id| json!({"participantId": id, "timelog": [{"start": at(0), "end": at(1)}]}))
            .collect();
        let doc = json!({"id": "s", "start": at(0), "end": at(10), "participants": participants});
        let got: Vec<&str> = analyze(&doc, &CONFIG)
            .participants
            .iter()
            .map(|p| p.participant_id)
            .collect();
        let mut expected = ids.to_vec();
        expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(got, expected);
    }

    #[test]
    fn one_id_in_several_objects_is_one_row_with_its_first_name() {
        // `b` comes first, last and between the others; its second object has the first name.
        let doc = json!({"id": "s", "start": at(0), "end": at(100), "participants": [
            {"participantId": "b", "timelog": [{"start": at(70), "end": at(80)}]},
            {"participantId": "a", "name": "A", "timelog": [{"start": at(0), "end": at(10)}]},
            {"participantId": "b", "name": "B1", "timelog": [{"start": at(10), "end": at(20)}, {"start": at(15), "end": "x"}]},
            {"participantId": "c", "name": "C", "timelog": []},
            {"participantId": "b", "name": "B2", "timelog": [{"start": at(40), "end": at(50)}]}]});
        let r = analyze(&doc, &CONFIG);
        let rows: Vec<_> = r
            .participants
            .iter()
            .map(|p| {
                (
                    p.participant_id,
                    p.name,
                    p.intervals,
                    p.segments,
                    p.attended_ms,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("a", Some("A"), 1, 1, 10),
                ("b", Some("B1"), 3, 3, 30),
                ("c", Some("C"), 0, 0, 0)
            ]
        );
        assert_eq!(r.session.invalid_intervals, 1);
        // Each participant's union is its own: a and b never meet.
        assert_eq!(r.session.peak_concurrency, 1);
    }

    #[test]
    fn many_objects_of_few_ids_keep_document_order() {
        // Over twenty objects (a sort that is not stable keeps small inputs in order by chance):
        // three ids in turn, named only from their fourth object on, each object one
        // millisecond that the next of its id does not touch.
        let participants: Vec<Value> = (0..45)
            .map(|i| {
                let mut object = json!({"participantId": format!("p{}", i % 3),
                    "timelog": [{"start": at(2 * i), "end": at(2 * i + 1)}]});
                if i >= 9 {
                    object["name"] = json!(format!("n{i}"));
                }
                object
            })
            .collect();
        let doc = json!({"id": "s", "start": at(0), "end": at(100), "participants": participants});
        let r = analyze(&doc, &CONFIG);
        let rows: Vec<_> = r
            .participants
            .iter()
            .map(|p| (p.participant_id, p.name, p.segments, p.first_join))
            .collect();
        assert_eq!(
            rows,
            [
                ("p0", Some("n9"), 15, Some(BASE)),
                ("p1", Some("n10"), 15, Some(BASE + 2)),
                ("p2", Some("n11"), 15, Some(BASE + 4))
            ]
        );
    }
    #[test]
    fn too_many_participants_skip_pairs_only() {
        let doc = json!({"id": "s", "start": at(0), "end": at(10), "participants": [
            {"participantId": "a", "timelog": [{"start": at(0), "end": at(10)}]},
            {"participantId": "b", "timelog": [{"start": at(0), "end": at(10)}]}]});
        let r = analyze(
            &doc,
            &Config {
                max_pair_participants: 1,
                ..CONFIG
            },
        );
        assert!(r.session.pairs_skipped && r.overlaps.is_empty());
        assert_eq!(r.session.peak_concurrency, 2);
    }

    /// A timelog entry of the model: start and optional end, as offsets from `BASE`.
    type ModelEntry = (Millis, Option<Millis>);
    /// Session start, optional end, and (participant number, entries) in document order.
    type ModelSession = (Millis, Option<Millis>, Vec<(usize, Vec<ModelEntry>)>);

    fn model_session() -> impl Strategy<Value = ModelSession> {
        let entry = (-5i64..45, prop::option::weighted(0.8, -5i64..45));
        let participant = (0usize..4, prop::collection::vec(entry, 0..4));
        (
            0i64..10,
            prop::option::weighted(0.8, 0i64..45),
            prop::collection::vec(participant, 0..6),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn figures_match_a_millisecond_by_millisecond_model((start, end, people) in model_session()) {
            let as_of = 40;
            let participants: Vec<Value> = people.iter().map(|(who, entries)| json!({
                "participantId": format!("p{who}"),
                "timelog": entries.iter().map(|(s, e)| json!({"start": at(*s), "end": e.map(at)})).collect::<Vec<_>>(),
            })).collect();
            let doc = json!({"id": "s", "start": at(start), "end": end.map(at), "participants": participants});
            let r = analyze(&doc, &Config { as_of: BASE + as_of, ..CONFIG });

            // The model: presence of each participant id at each millisecond of [start, end).
            let end_bound = end.unwrap_or(as_of);
            let stop = end_bound.max(start);
            let mut ids: Vec<usize> = people.iter().map(|(who, _)| *who).collect();
            ids.sort_unstable();
            ids.dedup();
            let present = |who: usize, t: Millis| people.iter().filter(|(w, _)| *w == who).flat_map(|(_, es)| es)
                .any(|&(s, e)| { let e = e.unwrap_or(end_bound); e >= s && s <= t && t < e });
            let ticks: Vec<Millis> = (start..stop).collect();
            prop_assert_eq!(r.participants.len(), ids.len());
            for (row, &who) in r.participants.iter().zip(&ids) {
                let here: Vec<Millis> = ticks.iter().copied().filter(|&t| present(who, t)).collect();
                let segments = here.iter().filter(|&&t| t == start || !present(who, t - 1)).count() as i64;
                prop_assert_eq!(row.attended_ms, here.len() as i64);
                prop_assert_eq!(row.segments, segments);
                prop_assert_eq!(row.first_join, here.first().map(|t| BASE + t));
                prop_assert_eq!(row.last_leave, here.last().map(|t| BASE + t + 1));
                let raw: i64 = people.iter().filter(|(w, _)| *w == who).flat_map(|(_, es)| es)
                    .map(|&(s, e)| { let e = e.unwrap_or(end_bound); if e < s { 0 } else { (e.min(stop) - s.max(start)).max(0) } })
                    .sum();
                prop_assert_eq!(row.raw_ms, raw);
            }
            let count = |t: Millis| ids.iter().filter(|&&who| present(who, t)).count() as u32;
            let peak = ticks.iter().map(|&t| count(t)).max().unwrap_or(0);
            let s = &r.session;
            prop_assert_eq!(s.peak_concurrency, i64::from(peak));
            if peak > 0 {
                prop_assert_eq!(s.peak_at, ticks.iter().find(|&&t| count(t) == peak).map(|t| BASE + t));
                prop_assert_eq!(s.peak_ms, ticks.iter().filter(|&&t| count(t) == peak).count() as i64);
            } else {
                prop_assert_eq!((s.peak_at, s.peak_ms), (None, 0));
            }
            prop_assert_eq!(s.empty_ms, ticks.iter().filter(|&&t| count(t) == 0).count() as i64);

            let mut timeline = vec![Step { at: BASE + start, concurrency: if ticks.is_empty() { 0 } else { count(start) } }];
            for t in (start + 1)..=stop {
                let now = if t < stop { count(t) } else { 0 };
                if now != count(t - 1) {
                    timeline.push(Step { at: BASE + t, concurrency: now });
                }
            }
            prop_assert_eq!(&r.timeline, &timeline);

            let mut expected_pairs = Vec::new();
            for (ia, &a) in ids.iter().enumerate() {
                for (ib, &b) in ids.iter().enumerate().skip(ia + 1) {
                    let both: Vec<Millis> = ticks.iter().copied().filter(|&t| present(a, t) && present(b, t)).collect();
                    if let Some(first) = both.first() {
                        expected_pairs.push((ia as u32, ib as u32, both.len() as i64, BASE + first));
                    }
                }
            }
            let pairs: Vec<_> = r.overlaps.iter().map(|o| (o.a, o.b, o.overlap_ms, o.first_overlap)).collect();
            prop_assert_eq!(pairs, expected_pairs);
        }
    }
}
