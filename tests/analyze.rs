//! Integration tests of `sessionstats analyze`: they run the built binary on files written into a
//! temporary folder and read the reports back. Every expected value is derived by hand from
//! docs/reference.md (the derivations are in the comments), never pasted from a run of the code.

use crate::util::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

const AS_OF: &str = "2024-03-01T10:30:00Z";

// ---------------------------------------------------------------------------------------------
// The hand-made sessions of the metric tests. Times are on 2024-03-01 (UTC); "10:05" below means
// 2024-03-01T10:05:00.000Z. All runs use --as-of 10:30.
// ---------------------------------------------------------------------------------------------

/// m1: a v2 session 10:00–11:00 (3 600 000 ms) with six participants and every interval rule.
///
/// Presence (U, minutes after 10:00):
///   Bob   [5,35)          two overlapping connections [5,25) + [15,35), and [-60,-30) cut away
///   alice [0,20) ∪ [30,40) from two participant entries with the same id; [0,10)+[10,20) touch
///   carol [0,10) ∪ [50,60) clipped from [-10,10) and [50,70); four invalid entries
///   dave  ∅               one zero-length entry at 45
///   erin  [40,45) ∪ [55,60) [55, null) is open → closed at the session end 11:00 (not at as-of);
///                          [90, absent) closes at 60 < 90 → invalid
///   frank [57,58.5)
/// A participant entry without participantId ("ghost") counts in invalid_participants.
fn m1() -> Value {
    json!({
        "id": "m1", "roomId": "room-m", "meetingId": "meeting-m", "customRoomId": "custom-m",
        "start": t("10:00"), "end": t("11:00"), "status": "ended",
        "links": {"get_room": "https://api.videosdk.live/v2/rooms/room-m"},
        "participants": [
            {"participantId": "alice", "name": "", "timelog": [iv("10:00", "10:10")]},
            {"participantId": "Bob", "name": "Bob B",
             "timelog": [iv("09:00", "09:30"), iv("10:05", "10:25"), iv("10:15", "10:35")]},
            {"participantId": "carol", "name": "Carol C", "timelog": [
                iv("09:50", "10:10"),
                {"start": t("10:20"), "end": t("10:15")},
                {"start": "garbage", "end": t("10:30")},
                {"start": t("10:30"), "end": "not a date"},
                {"end": t("10:30")},
                iv("10:50", "11:10")
            ]},
            {"participantId": "alice", "name": "Alice A",
             "timelog": [iv("10:10", "10:20"), iv("10:30", "10:40")]},
            {"participantId": "dave", "name": "Dave D", "timelog": [iv("10:45", "10:45")]},
            {"participantId": "erin", "name": "Erin E", "timelog": [
                iv("10:40", "10:45"),
                {"start": t("10:55"), "end": null},
                {"start": t("11:30")}
            ]},
            {"name": "ghost", "timelog": []},
            {"participantId": "frank", "name": "Frank F", "timelog": [iv("10:57", "10:58:30")]}
        ]
    })
}

/// m2: a v1 session still going on (no end) → ends at as-of 10:30; duration 1 800 000.
///   x1 [10:10, null) → [10,30); x2 [0,5) ∪ [20, absent end) → [20,30); x3 [25,40) → [25,30),
///   10 minutes clipped.
fn m2() -> Value {
    json!({
        "id": "m2", "meetingId": "room-o", "start": t("10:00"), "activeDuration": 7,
        "chatLink": "https://api.videosdk.live/v1/meeting-sessions/m2/chat",
        "participants": [
            {"participantId": "x3", "name": "X Three", "timelog": [iv("10:25", "10:40")]},
            {"participantId": "x1", "name": "X One", "timelog": [{"start": t("10:10"), "end": null}]},
            {"participantId": "x2", "name": "X Two",
             "timelog": [iv("10:00", "10:05"), {"start": t("10:20")}]}
        ]
    })
}

/// m3: start absent → the earliest parseable timelog start (10:05); end 10:20 (900 000 ms).
/// meetingId beats customRoomId. q's only entry has an unparsable start → invalid.
fn m3() -> Value {
    json!({
        "id": "m3", "meetingId": "room-c3", "customRoomId": "custom-3", "end": t("10:20"),
        "participants": [
            {"participantId": "q", "name": "Q", "timelog": [{"start": "bad", "end": t("10:10")}]},
            {"participantId": "p", "name": "P", "timelog": [iv("10:05", "10:15")]}
        ]
    })
}

/// m4: zero duration (start = end = 12:00), one zero-length entry; only customRoomId.
fn m4() -> Value {
    json!({
        "id": "m4", "customRoomId": "custom-4", "start": t("12:00"), "end": t("12:00"),
        "status": "completed",
        "participants": [{"participantId": "z", "name": "Z", "timelog": [iv("12:00", "12:00")]}]
    })
}

/// m5: nobody came (no participants field, no room field) 14:00–14:10.
fn m5() -> Value {
    json!({"id": "m5", "start": t("14:00"), "end": t("14:10"), "status": "ended"})
}

/// m6: unparsable start and no timelog at all → start = the end bound 13:00.
fn m6() -> Value {
    json!({"id": "m6", "roomId": "room-6", "start": "garbage", "end": t("13:00"), "participants": []})
}

/// m7: offsets and 0/1/6/9 fraction digits, truncated (not rounded) to milliseconds.
///   start 15:30:00+05:30 = 10:00:00.000Z; end 10:10:00.123456789Z → .123 (duration 600 123);
///   w from 10:00:00.5Z = .500 to 04:35:00.999999-05:30 = 10:05:00.999Z (300 499 ms).
fn m7() -> Value {
    json!({
        "id": "m7", "roomId": "room-t", "status": "completed",
        "start": "2024-03-01T15:30:00+05:30", "end": "2024-03-01T10:10:00.123456789Z",
        "participants": [{"participantId": "w", "name": "W",
            "timelog": [{"start": "2024-03-01T10:00:00.5Z", "end": "2024-03-01T04:35:00.999999-05:30"}]}]
    })
}

/// m8: status "ended" but the end is unparsable → ongoing, ends at as-of 10:30.
fn m8() -> Value {
    json!({
        "id": "m8", "roomId": "room-u", "status": "ended", "start": t("10:00"), "end": "soon",
        "participants": [{"participantId": "y", "name": "Y", "timelog": [{"start": t("10:00"), "end": null}]}]
    })
}

/// Writes the eight metric sessions as one JSON array in an order unrelated to the report order.
fn write_metric_sessions(dir: &Path) {
    let all = json!([m5(), m6(), m4(), m3(), m8(), m7(), m2(), m1()]);
    write(
        &dir.join("in/export.json"),
        serde_json::to_vec_pretty(&all).unwrap(),
    );
}

/// Runs analyze on the metric sessions; returns the report folder.
fn run_metrics(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    write_metric_sessions(dir);
    let mut args = vec!["--as-of", AS_OF];
    args.extend_from_slice(extra);
    let r = analyze(dir, &["in"], "out", &args);
    assert_eq!(r.code, 0, "exit status; stderr: {}", r.stderr);
    dir.join("out")
}

#[test]
fn help_explains_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let top = Run::new(["--help"]).current_dir(dir.path()).output();
    assert_eq!(top.code, 0, "{}", top.stderr);
    assert!(top.stdout.contains("analyze"), "{}", top.stdout);
    let sub = Run::new(["analyze", "--help"])
        .current_dir(dir.path())
        .output();
    assert_eq!(sub.code, 0, "{}", sub.stderr);
    for opt in [
        "--out",
        "--format",
        "--as-of",
        "--max-pair-participants",
        "--threads",
        "--quiet",
    ] {
        assert!(sub.stdout.contains(opt), "analyze --help lacks {opt}");
    }
}

#[test]
fn session_metrics_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_metrics(dir.path(), &[]);
    let s = Table::report(&out, "sessions");

    // Order: (start, session_id); m1, m2, m7, m8 all start at 10:00:00.000 (m7 via +05:30).
    assert_eq!(
        s.column("session_id"),
        ["m1", "m2", "m7", "m8", "m3", "m4", "m6", "m5"]
    );

    // m1. participant_ms = 30+30+20+0+10+1.5 min = 91.5 min; intervals 3+3+2+1+2+1 = 12;
    // invalid: carol 4 + erin 1; clipped: Bob 30 min + carol 10 + 10 min.
    // Concurrency 3 on [10:05,10:10) and [10:57,10:58:30) → 390 000 ms; 0 on [10:45,10:50).
    s.expect(
        &[("session_id", "m1")],
        &[
            ("room_id", "room-m"),
            ("status", "ended"),
            ("started_at", &t("10:00")),
            ("ended_at", &t("11:00")),
            ("ongoing", "false"),
            ("duration_ms", "3600000"),
            ("reported_active_duration", ""),
            ("participants", "6"),
            ("attendees", "5"),
            ("participant_ms", "5490000"),
            ("peak_concurrency", "3"),
            ("peak_at", &t("10:05")),
            ("peak_ms", "390000"),
            ("avg_concurrency", "1.525"),
            ("empty_ms", "300000"),
            ("intervals", "12"),
            ("invalid_intervals", "5"),
            ("invalid_participants", "1"),
            ("clipped_ms", "3000000"),
            ("pairs_skipped", "false"),
        ],
    );
    // m2: ongoing v1, end = as-of. participant_ms 20+15+5 min; peak 3 on [10:25,10:30).
    s.expect(
        &[("session_id", "m2")],
        &[
            ("room_id", "room-o"),
            ("status", ""),
            ("started_at", &t("10:00")),
            ("ended_at", &t("10:30")),
            ("ongoing", "true"),
            ("duration_ms", "1800000"),
            ("reported_active_duration", "7"),
            ("participants", "3"),
            ("attendees", "3"),
            ("participant_ms", "2400000"),
            ("peak_concurrency", "3"),
            ("peak_at", &t("10:25")),
            ("peak_ms", "300000"),
            ("avg_concurrency", "1.3333333"),
            ("empty_ms", "300000"),
            ("intervals", "4"),
            ("invalid_intervals", "0"),
            ("invalid_participants", "0"),
            ("clipped_ms", "600000"),
            ("pairs_skipped", "false"),
        ],
    );
    // m3: start from the timelog. peak 1 on [10:05,10:15); empty [10:15,10:20).
    s.expect(
        &[("session_id", "m3")],
        &[
            ("room_id", "room-c3"),
            ("started_at", &t("10:05")),
            ("ended_at", &t("10:20")),
            ("ongoing", "false"),
            ("duration_ms", "900000"),
            ("participants", "2"),
            ("attendees", "1"),
            ("participant_ms", "600000"),
            ("peak_concurrency", "1"),
            ("peak_at", &t("10:05")),
            ("peak_ms", "600000"),
            ("avg_concurrency", "0.6666667"),
            ("empty_ms", "300000"),
            ("intervals", "1"),
            ("invalid_intervals", "1"),
            ("clipped_ms", "0"),
        ],
    );
    // m4: zero duration → ratios empty; a zero-length entry is valid but nobody attended.
    s.expect(
        &[("session_id", "m4")],
        &[
            ("room_id", "custom-4"),
            ("status", "completed"),
            ("started_at", &t("12:00")),
            ("ended_at", &t("12:00")),
            ("duration_ms", "0"),
            ("participants", "1"),
            ("attendees", "0"),
            ("participant_ms", "0"),
            ("peak_concurrency", "0"),
            ("peak_at", ""),
            ("peak_ms", "0"),
            ("avg_concurrency", ""),
            ("empty_ms", "0"),
            ("intervals", "1"),
            ("invalid_intervals", "0"),
        ],
    );
    // m5: nobody: avg 0 (duration > 0), all of it empty.
    s.expect(
        &[("session_id", "m5")],
        &[
            ("room_id", ""),
            ("duration_ms", "600000"),
            ("participants", "0"),
            ("attendees", "0"),
            ("participant_ms", "0"),
            ("peak_concurrency", "0"),
            ("peak_at", ""),
            ("peak_ms", "0"),
            ("avg_concurrency", "0"),
            ("empty_ms", "600000"),
            ("intervals", "0"),
        ],
    );
    // m6: no parseable start anywhere → start = end bound.
    s.expect(
        &[("session_id", "m6")],
        &[
            ("started_at", &t("13:00")),
            ("ended_at", &t("13:00")),
            ("ongoing", "false"),
            ("duration_ms", "0"),
            ("participants", "0"),
            ("avg_concurrency", ""),
        ],
    );
    // m7: offsets and fractions.
    s.expect(
        &[("session_id", "m7")],
        &[
            ("started_at", "2024-03-01T10:00:00.000Z"),
            ("ended_at", "2024-03-01T10:10:00.123Z"),
            ("duration_ms", "600123"),
            ("participant_ms", "300499"),
            ("peak_at", "2024-03-01T10:00:00.500Z"),
            ("peak_ms", "300499"),
            ("empty_ms", "299624"),
        ],
    );
    // m8: unparsable end → ongoing until as-of; the status is passed through.
    s.expect(
        &[("session_id", "m8")],
        &[
            ("status", "ended"),
            ("ended_at", &t("10:30")),
            ("ongoing", "true"),
            ("duration_ms", "1800000"),
            ("participant_ms", "1800000"),
        ],
    );
}

#[test]
fn participant_metrics_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_metrics(dir.path(), &[]);
    let p = Table::report(&out, "participants");

    // Order: session order (m1, m2, m7, m8, m3, m4, m6, m5), then participant_id in byte order
    // ("Bob" < "alice": uppercase first). The ghost entry without participantId has no row.
    let keys: Vec<(String, String)> = p
        .rows
        .iter()
        .map(|r| (r[0].clone(), r[2].clone()))
        .collect();
    let want: Vec<(String, String)> = [
        ("m1", "Bob"),
        ("m1", "alice"),
        ("m1", "carol"),
        ("m1", "dave"),
        ("m1", "erin"),
        ("m1", "frank"),
        ("m2", "x1"),
        ("m2", "x2"),
        ("m2", "x3"),
        ("m7", "w"),
        ("m8", "y"),
        ("m3", "p"),
        ("m3", "q"),
        ("m4", "z"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(keys, want);

    // The participants columns after session_id, room_id and participant_id.
    let cols = &PARTICIPANTS_COLS[3..];
    #[rustfmt::skip]
    let rows: &[(&str, &str, [&str; 12])] = &[
        // Bob: U = [10:05,10:35) = 30 min; raw 20+20 min (the 09:00 entry is clipped to nothing);
        // self overlap [10:15,10:25) = 10 min.
        ("m1", "Bob", ["Bob B", "3", "1", "0", &t("10:05"), &t("10:35"), "1800000", "2400000", "600000", "0", "50", "false"]),
        // alice: first non-empty name; touching 10:10 → one segment; gap [10:20,10:30).
        ("m1", "alice", ["Alice A", "3", "2", "1", &t("10:00"), &t("10:40"), "1800000", "1800000", "0", "600000", "50", "false"]),
        // carol: two clipped intervals of 10 min; gap 60 - 20 min.
        ("m1", "carol", ["Carol C", "2", "2", "1", &t("10:00"), &t("11:00"), "1200000", "1200000", "0", "2400000", "33.3333333", "false"]),
        // dave: zero-length entry: valid (counted), but U is empty.
        ("m1", "dave", ["Dave D", "1", "0", "0", "", "", "0", "0", "0", "0", "0", "false"]),
        // erin: open entry closed at 11:00; gap [10:45,10:55).
        ("m1", "erin", ["Erin E", "2", "2", "1", &t("10:40"), &t("11:00"), "600000", "600000", "0", "600000", "16.6666667", "true"]),
        ("m1", "frank", ["Frank F", "1", "1", "0", &t("10:57"), &t("10:58:30"), "90000", "90000", "0", "0", "2.5", "false"]),
        // m2 (duration 30 min, end = as-of 10:30)
        ("m2", "x1", ["X One", "1", "1", "0", &t("10:10"), &t("10:30"), "1200000", "1200000", "0", "0", "66.6666667", "true"]),
        ("m2", "x2", ["X Two", "2", "2", "1", &t("10:00"), &t("10:30"), "900000", "900000", "0", "900000", "50", "true"]),
        ("m2", "x3", ["X Three", "1", "1", "0", &t("10:25"), &t("10:30"), "300000", "300000", "0", "0", "16.6666667", "false"]),
        ("m7", "w", ["W", "1", "1", "0", "2024-03-01T10:00:00.500Z", "2024-03-01T10:05:00.999Z", "300499", "300499", "0", "0", "50.0729017", "false"]),
        ("m8", "y", ["Y", "1", "1", "0", &t("10:00"), &t("10:30"), "1800000", "1800000", "0", "0", "100", "true"]),
        // m3 (15 min): q has no valid entry but is a participant.
        ("m3", "p", ["P", "1", "1", "0", &t("10:05"), &t("10:15"), "600000", "600000", "0", "0", "66.6666667", "false"]),
        ("m3", "q", ["Q", "0", "0", "0", "", "", "0", "0", "0", "0", "0", "false"]),
        // m4: duration 0 → attendance_pct empty.
        ("m4", "z", ["Z", "1", "0", "0", "", "", "0", "0", "0", "0", "", "false"]),
    ];
    for (sid, pid, vals) in rows {
        let expected: Vec<(&str, &str)> = cols.iter().copied().zip(vals.iter().copied()).collect();
        p.expect(&[("session_id", sid), ("participant_id", pid)], &expected);
    }
    // room_id is repeated on every participant row.
    p.expect(
        &[("session_id", "m1"), ("participant_id", "alice")],
        &[("room_id", "room-m")],
    );
    p.expect(
        &[("session_id", "m2"), ("participant_id", "x1")],
        &[("room_id", "room-o")],
    );
}

#[test]
fn overlap_rows_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_metrics(dir.path(), &[]);
    let o = Table::report(&out, "overlaps");
    // m1 pairs with common presence (a < b in byte order):
    //   Bob·alice [10:05,10:20)+[10:30,10:35) = 20 min; Bob·carol [10:05,10:10); alice·carol
    //   [10:00,10:10); carol·erin [10:55,11:00); carol·frank, erin·frank [10:57,10:58:30).
    //   alice·erin only touch at 10:40 → no row; dave (nothing) and Bob·erin → no row.
    // m2: x1·x2 [10:20,10:30); x1·x3 and x2·x3 [10:25,10:30). m3: p·q no row.
    #[rustfmt::skip]
    let want: &[[&str; 7]] = &[
        ["m1", "Bob", "alice", "Bob B", "Alice A", "1200000", "2024-03-01T10:05:00.000Z"],
        ["m1", "Bob", "carol", "Bob B", "Carol C", "300000", "2024-03-01T10:05:00.000Z"],
        ["m1", "alice", "carol", "Alice A", "Carol C", "600000", "2024-03-01T10:00:00.000Z"],
        ["m1", "carol", "erin", "Carol C", "Erin E", "300000", "2024-03-01T10:55:00.000Z"],
        ["m1", "carol", "frank", "Carol C", "Frank F", "90000", "2024-03-01T10:57:00.000Z"],
        ["m1", "erin", "frank", "Erin E", "Frank F", "90000", "2024-03-01T10:57:00.000Z"],
        ["m2", "x1", "x2", "X One", "X Two", "600000", "2024-03-01T10:20:00.000Z"],
        ["m2", "x1", "x3", "X One", "X Three", "300000", "2024-03-01T10:25:00.000Z"],
        ["m2", "x2", "x3", "X Two", "X Three", "300000", "2024-03-01T10:25:00.000Z"],
    ];
    let want: Vec<Vec<String>> = want
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect();
    assert_eq!(o.rows, want);
}

#[test]
fn concurrency_timeline_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_metrics(dir.path(), &[]);
    let c = Table::report(&out, "concurrency");
    let timeline = |sid: &str| -> Vec<(String, String)> {
        c.rows_where("session_id", sid)
            .into_iter()
            .map(|i| {
                (
                    c.get(i, "changed_at").to_string(),
                    c.get(i, "concurrency").to_string(),
                )
            })
            .collect()
    };
    let steps = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, n)| {
                let at = if a.len() > 12 { a.to_string() } else { t(a) };
                (at, n.to_string())
            })
            .collect()
    };
    // m1: at 10:10 alice's touching entries do not move the count, carol leaves (3 → 2);
    // at 10:40 alice leaves and erin joins at the same instant: no row; dave's zero-length
    // entry at 10:45 never makes anyone present; last row (11:00, 0).
    assert_eq!(
        timeline("m1"),
        steps(&[
            ("10:00", "2"),
            ("10:05", "3"),
            ("10:10", "2"),
            ("10:20", "1"),
            ("10:30", "2"),
            ("10:35", "1"),
            ("10:45", "0"),
            ("10:50", "1"),
            ("10:55", "2"),
            ("10:57", "3"),
            ("10:58:30", "2"),
            ("11:00", "0"),
        ])
    );
    assert_eq!(
        timeline("m2"),
        steps(&[
            ("10:00", "1"),
            ("10:05", "0"),
            ("10:10", "1"),
            ("10:20", "2"),
            ("10:25", "3"),
            ("10:30", "0"),
        ])
    );
    // m7: a row at start even though nobody is there yet.
    assert_eq!(
        timeline("m7"),
        steps(&[
            ("2024-03-01T10:00:00.000Z", "0"),
            ("2024-03-01T10:00:00.500Z", "1"),
            ("2024-03-01T10:05:00.999Z", "0"),
        ])
    );
    assert_eq!(timeline("m8"), steps(&[("10:00", "1"), ("10:30", "0")]));
    // m3: already 0 at 10:15, so no extra (end, 0) row at 10:20.
    assert_eq!(timeline("m3"), steps(&[("10:05", "1"), ("10:15", "0")]));
    assert_eq!(timeline("m4"), steps(&[("12:00", "0")]));
    assert_eq!(timeline("m6"), steps(&[("13:00", "0")]));
    assert_eq!(timeline("m5"), steps(&[("14:00", "0")]));
    // Session order, then time: no other rows.
    let order: Vec<&str> = c.column("session_id");
    let mut dedup = order.clone();
    dedup.dedup();
    assert_eq!(dedup, ["m1", "m2", "m7", "m8", "m3", "m4", "m6", "m5"]);
    assert_eq!(c.rows.len(), 12 + 6 + 3 + 2 + 2 + 1 + 1 + 1);
}

#[test]
fn max_pair_participants_limit() {
    // m1 has 6 participants (dave and the others; the ghost is not one), m2 has 3.
    let dir = tempfile::tempdir().unwrap();
    let out = run_metrics(dir.path(), &["--max-pair-participants", "6"]);
    let o = Table::report(&out, "overlaps");
    assert_eq!(
        o.rows_where("session_id", "m1").len(),
        6,
        "6 is not more than 6"
    );
    let s = Table::report(&out, "sessions");
    s.expect(&[("session_id", "m1")], &[("pairs_skipped", "false")]);

    let out = dir.path().join("out5");
    let r = analyze(
        dir.path(),
        &["in"],
        "out5",
        &["--as-of", AS_OF, "--max-pair-participants", "5"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let o = Table::report(&out, "overlaps");
    assert_eq!(
        o.rows_where("session_id", "m1").len(),
        0,
        "m1 has 6 > 5 participants"
    );
    assert_eq!(o.rows_where("session_id", "m2").len(), 3);
    let s = Table::report(&out, "sessions");
    s.expect(&[("session_id", "m1")], &[("pairs_skipped", "true")]);
    s.expect(&[("session_id", "m2")], &[("pairs_skipped", "false")]);
    // The other metrics of m1 do not depend on the limit.
    s.expect(
        &[("session_id", "m1")],
        &[("participant_ms", "5490000"), ("peak_ms", "390000")],
    );
}

#[test]
fn every_input_shape_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    // Each session s01..s17 lasts (its number) minutes from 10:00, so a mix-up shows in duration.
    let ses = |n: u32| -> Value {
        let end = format!("10:{n:02}");
        let mut v = simple_session(&format!("s{n:02}"), "10:00", &end);
        v["roomId"] = json!(format!("room-{n:02}"));
        v
    };
    let line = |v: Value| serde_json::to_string(&v).unwrap();
    // v1 object: meetingId and activeDuration, no status.
    let mut v1 = ses(1);
    v1.as_object_mut().unwrap().remove("roomId");
    v1.as_object_mut().unwrap().remove("status");
    v1["meetingId"] = json!("room-01");
    v1["activeDuration"] = json!(61);
    write(
        &d.join("a_v1.json"),
        serde_json::to_vec_pretty(&v1).unwrap(),
    );
    // v2 object: roomId wins over meetingId and customRoomId.
    let mut v2 = ses(2);
    v2["meetingId"] = json!("not-this");
    v2["customRoomId"] = json!("nor-this");
    v2["status"] = json!("completed");
    write(&d.join("b_v2.json"), line(v2));
    // page envelope with a data array
    let page = json!({"pageInfo": {"currentPage": 1, "perPage": 20, "lastPage": 1, "total": 2},
                      "data": [ses(3), ses(4)]});
    write(&d.join("c_page.json"), line(page));
    // envelope with "data": session
    write(
        &d.join("d_env.json"),
        line(json!({"pageInfo": {"currentPage": 1}, "data": ses(5)})),
    );
    // JSON array
    write(&d.join("e_array.json"), line(json!([ses(6), ses(7)])));
    // NDJSON with blank lines, a whitespace-only line, an envelope line, no final newline
    let nd = format!(
        "{}\n\n{}\n   \n{}",
        line(ses(8)),
        line(ses(9)),
        line(json!({"pageInfo": {"currentPage": 2}, "data": [ses(10)]}))
    );
    write(&d.join("f.ndjson"), nd);
    // JSON Lines, CRLF line ends
    write(
        &d.join("g.jsonl"),
        format!("{}\r\n{}\r\n", line(ses(11)), line(ses(12))),
    );
    // gzip of a single object, of NDJSON, of JSON Lines and of a page envelope
    write(&d.join("h.json.gz"), gz(line(ses(13))));
    write(
        &d.join("i.ndjson.gz"),
        gz(format!("{}\n\n{}\n", line(ses(14)), line(ses(15)))),
    );
    write(&d.join("j.jsonl.gz"), gz(format!("{}\n", line(ses(16)))));
    // a nested folder
    write(
        &d.join("sub/deeper.json/k.json.gz"),
        gz(line(json!({"pageInfo": {}, "data": [ses(17)]}))),
    );
    // Skipped without a reject: other suffixes, hidden files and folders, temporary files.
    write(&d.join("notes.txt"), "not json at all {");
    write(&d.join("README.md"), "# exported");
    write(&d.join(".hidden.json"), "{broken");
    write(&d.join(".cache/x.json"), "{broken");
    write(&d.join(".git/objects/y.ndjson"), "{broken\n");
    write(&d.join("sub/.sessions.json.1234.tmp"), "{broken");
    write(&d.join("sub/export.json.tmp"), "{broken");
    write(&d.join("archive.tar.gz"), gz("not json"));
    write(&d.join("x.gz"), "not even gzip");

    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 0, "exit status; stderr: {}", r.stderr);
    let out = dir.path().join("out");
    let rejects = Table::report(&out, "rejects");
    assert!(rejects.rows.is_empty(), "rejects: {:?}", rejects.rows);
    let s = Table::report(&out, "sessions");
    // All start at 10:00, so the order is by id.
    let ids: Vec<String> = (1..=17).map(|n| format!("s{n:02}")).collect();
    assert_eq!(s.column("session_id"), ids);
    for n in 1..=17u32 {
        let id = format!("s{n:02}");
        let ms = (n as u64 * 60_000).to_string();
        s.expect(
            &[("session_id", &id)],
            &[
                ("room_id", &format!("room-{n:02}")),
                ("duration_ms", &ms),
                ("participants", "1"),
                ("participant_ms", &ms),
                ("ongoing", "false"),
            ],
        );
    }
    s.expect(
        &[("session_id", "s01")],
        &[("status", ""), ("reported_active_duration", "61")],
    );
    s.expect(
        &[("session_id", "s02")],
        &[("status", "completed"), ("reported_active_duration", "")],
    );
    let p = Table::report(&out, "participants");
    assert_eq!(p.rows.len(), 17);
    // The summary counts the 5 files skipped for their suffix (notes.txt, README.md,
    // export.json.tmp, archive.tar.gz, x.gz); hidden entries are not even looked at.
    let r = Run::new(["analyze", "in", "--out", "out2", "--as-of", AS_OF])
        .current_dir(dir.path())
        .output();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary = format!("{}{}", r.stdout, r.stderr);
    assert!(
        summary.lines().any(|l| {
            let l = l.to_lowercase();
            l.contains("skipped") && l.contains("file") && l.contains('5')
        }),
        "summary counts 5 skipped files: {summary}"
    );
}

#[test]
fn bad_input_is_rejected_and_the_rest_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    let line = |v: Value| serde_json::to_string(&v).unwrap();
    write(
        &d.join("good.json"),
        line(simple_session("g1", "10:00", "10:10")),
    );
    write(
        &d.join("trunc, 1.json"),
        r#"{"id": "t1", "start": "2024-03-01T1"#,
    );
    write(&d.join("empty.json"), "");
    write(
        &d.join("latin1.json"),
        b"{\"id\": \"u1\", \"roomId\": \"r\", \"participants\": [{\"participantId\": \"p\", \"name\": \"Jos\xe9\"}]}",
    );
    write(
        &d.join("corrupt.json.gz"),
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03this is not deflate data at all",
    );
    let whole = gz(line(simple_session("c1", "10:00", "10:10")));
    write(&d.join("cut.json.gz"), &whole[..whole.len() / 2]);
    write(
        &d.join("plain.json.gz"),
        line(simple_session("pg", "10:00", "10:10")),
    );
    write(&d.join("number.json"), "42\n");
    write(&d.join("string.json"), "\"hello\"");
    let no_id =
        json!({"roomId": "no-id-room", "start": t("10:00"), "end": t("10:05"), "participants": []});
    write(
        &d.join("mixed.json"),
        line(json!([
            simple_session("a1", "10:01", "10:11"),
            no_id.clone()
        ])),
    );
    // lines 1 good, 2 broken, 3 blank, 4 good, 5-9 blank, 10 no id, 11 a number, 12 good
    let nd = [
        line(simple_session("n1", "10:02", "10:12")),
        r#"{"id": "n2", "start": "#.to_string(),
        String::new(),
        line(simple_session("n3", "10:03", "10:13")),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        line(no_id),
        "17".to_string(),
        line(simple_session("n4", "10:04", "10:14")),
    ]
    .join("\n");
    write(&d.join("lines.ndjson"), nd + "\n");
    write(&d.join("sub/deep.json"), r#"{"id": "#);
    write(&d.join("notes.txt"), "\u{0}\u{1}");
    write(&d.join(".hidden.json"), "{");
    // a download cut off in the middle of the second session of an array
    write(
        &dir.path().join("extra/bad1.json"),
        format!(
            "[{}, {{\"id\": \"x2\", \"start\": \"2024-",
            line(simple_session("x1", "10:00", "10:10"))
        ),
    );

    let r = analyze(
        dir.path(),
        &["in", "extra/bad1.json"],
        "out",
        &["--as-of", AS_OF],
    );
    assert_eq!(r.code, 2, "exit status; stderr: {}", r.stderr);
    let out = dir.path().join("out");
    let s = Table::report(&out, "sessions");
    assert_eq!(s.column("session_id"), ["g1", "a1", "n1", "n3", "n4"]);

    let rej = Table::report(&out, "rejects");
    // (path, line, session_id, reason prefix), ordered by (path, line) in byte order;
    // line numbers compare as numbers (2 < 10 < 11).
    let want: &[(&str, &str, &str, &str)] = &[
        ("extra/bad1.json", "", "", "invalid JSON"),
        ("in/corrupt.json.gz", "", "", "cannot decompress"),
        ("in/cut.json.gz", "", "", "cannot decompress"),
        ("in/empty.json", "", "", "empty file"),
        ("in/latin1.json", "", "*", "not UTF-8"),
        ("in/lines.ndjson", "2", "", "invalid JSON"),
        ("in/lines.ndjson", "10", "", "session without id"),
        ("in/lines.ndjson", "11", "", "not a session document"),
        ("in/mixed.json", "", "", "session without id"),
        ("in/number.json", "", "", "not a session document"),
        ("in/plain.json.gz", "", "", "cannot decompress"),
        ("in/string.json", "", "", "not a session document"),
        ("in/sub/deep.json", "", "", "invalid JSON"),
        ("in/trunc, 1.json", "", "", "invalid JSON"),
    ];
    let got: Vec<(&str, &str)> = rej
        .rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    let expected: Vec<(&str, &str)> = want.iter().map(|w| (w.0, w.1)).collect();
    assert_eq!(got, expected, "rejects (path, line)");
    for (row, (path, _, sid, reason)) in rej.rows.iter().zip(want) {
        if *sid != "*" {
            assert_eq!(row[2], *sid, "session_id of the reject of {path}");
        }
        assert!(
            row[3].starts_with(reason),
            "reason for {path} line {}: expected {reason:?}..., got {:?}",
            row[1],
            row[3]
        );
    }
}

#[test]
fn rejected_document_keeps_its_session_id() {
    // A document that parses as JSON and has an id, but whose participants are not an array:
    // it cannot be read as a session, so it is rejected with its id (not analyzed as empty).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    write(
        &d.join("a.json"),
        serde_json::to_string(&simple_session("g1", "10:00", "10:10")).unwrap(),
    );
    write(
        &d.join("b.json"),
        r#"{"id": "w1", "start": "2024-03-01T10:00:00Z", "end": "2024-03-01T10:10:00Z", "participants": {"p": 1}}"#,
    );
    write(
        &d.join("c.ndjson"),
        "\n\n{\"id\": \"w2\", \"start\": \"2024-03-01T10:00:00Z\", \"participants\": 5}\n",
    );
    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let out = dir.path().join("out");
    let rej = Table::report(&out, "rejects");
    let got: Vec<Vec<&str>> = rej
        .rows
        .iter()
        .map(|r| vec![r[0].as_str(), r[1].as_str(), r[2].as_str()])
        .collect();
    assert_eq!(got, [["in/b.json", "", "w1"], ["in/c.ndjson", "3", "w2"]]);
    let s = Table::report(&out, "sessions");
    assert_eq!(s.column("session_id"), ["g1"]);
}

#[test]
fn missing_input_path_is_a_cannot_read_reject() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("in/a.json"),
        serde_json::to_string(&simple_session("g1", "10:00", "10:10")).unwrap(),
    );
    let r = analyze(
        dir.path(),
        &["in", "no/such/file.json"],
        "out",
        &["--as-of", AS_OF],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let rej = Table::report(&dir.path().join("out"), "rejects");
    assert_eq!(rej.rows.len(), 1, "{:?}", rej.rows);
    assert_eq!(rej.rows[0][0], "no/such/file.json");
    assert_eq!(rej.rows[0][1], "");
    assert!(
        rej.rows[0][3].starts_with("cannot read"),
        "{:?}",
        rej.rows[0]
    );
}

#[test]
fn nothing_usable_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    // every input rejected
    write(&dir.path().join("bad/a.json"), "{\"id\": ");
    write(&dir.path().join("bad/b.json"), "");
    write(&dir.path().join("bad/c.ndjson"), "{\n[\n");
    let r = analyze(dir.path(), &["bad"], "out1", &["--as-of", AS_OF]);
    assert_eq!(r.code, 1, "all rejected; stderr: {}", r.stderr);
    // no session found: only skipped files
    write(&dir.path().join("none/notes.txt"), "hello");
    write(&dir.path().join("none/.h.json"), "{}");
    let r = analyze(dir.path(), &["none"], "out2", &["--as-of", AS_OF]);
    assert_eq!(r.code, 1, "no session; stderr: {}", r.stderr);
    // an empty folder
    fs::create_dir_all(dir.path().join("empty")).unwrap();
    let r = analyze(dir.path(), &["empty"], "out3", &["--as-of", AS_OF]);
    assert_eq!(r.code, 1, "empty folder; stderr: {}", r.stderr);
}

#[test]
fn duplicate_session_ids_keep_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    let copy = |id: &str, status: &str, end: Option<&str>, timelog: Vec<Value>| -> Value {
        let mut v = json!({
            "id": id, "roomId": "room-d", "status": status, "start": t("10:00"),
            "participants": [{"participantId": "P", "name": status, "timelog": timelog}]
        });
        if let Some(e) = end {
            v["end"] = json!(t(e));
        }
        v
    };
    let line = |v: Value| serde_json::to_string(&v).unwrap();
    // "dup": a. ongoing (most entries; would end at as-of 12:00, later than all) loses to any
    // copy with an end; b. end 10:20 with 3 entries loses to the later end 10:30; among c, d, e
    // (end 10:30) d and e have the most entries (2); d comes first in path order.
    write(
        &d.join("a.json"),
        line(copy(
            "dup",
            "ongoing",
            None,
            vec![
                iv("10:00", "10:01"),
                iv("10:02", "10:03"),
                iv("10:04", "10:05"),
                iv("10:06", "10:07"),
                json!({"start": t("10:08"), "end": null}),
            ],
        )),
    );
    write(
        &d.join("b.json"),
        line(copy(
            "dup",
            "ended-b",
            Some("10:20"),
            vec![
                iv("10:00", "10:05"),
                iv("10:06", "10:10"),
                iv("10:11", "10:20"),
            ],
        )),
    );
    write(
        &d.join("c.json"),
        line(copy(
            "dup",
            "ended-c",
            Some("10:30"),
            vec![iv("10:00", "10:30")],
        )),
    );
    write(
        &d.join("d.json"),
        line(copy(
            "dup",
            "ended-d",
            Some("10:30"),
            vec![iv("10:00", "10:10"), iv("10:15", "10:30")],
        )),
    );
    write(
        &d.join("e.json"),
        line(copy(
            "dup",
            "ended-e",
            Some("10:30"),
            vec![iv("10:00", "10:01"), iv("10:29", "10:30")],
        )),
    );
    // "dup2": a tie inside one file → the first element wins.
    write(
        &d.join("f.json"),
        line(json!([
            copy("dup2", "first", Some("11:00"), vec![iv("10:00", "11:00")]),
            copy("dup2", "second", Some("11:00"), vec![iv("10:30", "11:00")]),
        ])),
    );
    // "dup3": a tie across folders: "in/k-b.json" < "in/k/x.json" in byte order ('-' < '/'),
    // although a walk that sorts names per folder would visit "k" before "k-b.json".
    write(
        &d.join("k/x.json"),
        line(copy(
            "dup3",
            "k-slash",
            Some("11:00"),
            vec![iv("10:00", "11:00")],
        )),
    );
    write(
        &d.join("k-b.json"),
        line(copy(
            "dup3",
            "k-dash",
            Some("11:00"),
            vec![iv("10:00", "10:30")],
        )),
    );
    // "dup4": NDJSON lines, the later end (second line) wins; then an ongoing copy on line 3.
    write(
        &d.join("g.ndjson"),
        format!(
            "{}\n{}\n{}\n",
            line(copy(
                "dup4",
                "early-end",
                Some("10:40"),
                vec![iv("10:00", "10:40")]
            )),
            line(copy(
                "dup4",
                "late-end",
                Some("10:50"),
                vec![iv("10:00", "10:45")]
            )),
            line(copy(
                "dup4",
                "still-on",
                None,
                vec![json!({"start": t("10:00"), "end": null})]
            )),
        ),
    );
    let r = analyze(
        dir.path(),
        &["in"],
        "out",
        &["--as-of", "2024-03-01T12:00:00Z"],
    );
    assert_eq!(
        r.code, 0,
        "duplicates are not rejects; stderr: {}",
        r.stderr
    );
    let out = dir.path().join("out");
    let s = Table::report(&out, "sessions");
    assert_eq!(s.column("session_id"), ["dup", "dup2", "dup3", "dup4"]);
    // The summary counts the dropped copies: 4 (dup) + 1 (dup2) + 1 (dup3) + 2 (dup4) = 8.
    let r = Run::new([
        "analyze",
        "in",
        "--out",
        "out2",
        "--as-of",
        "2024-03-01T12:00:00Z",
    ])
    .current_dir(dir.path())
    .output();
    let summary = format!("{}{}", r.stdout, r.stderr);
    assert!(
        summary
            .lines()
            .any(|l| l.to_lowercase().contains("duplicate") && l.contains('8')),
        "the summary gives the 8 dropped copies: {summary}"
    );
    // The winner's figures: d has P on [10:00,10:10) ∪ [10:15,10:30) = 25 min.
    s.expect(
        &[("session_id", "dup")],
        &[
            ("status", "ended-d"),
            ("ended_at", &t("10:30")),
            ("ongoing", "false"),
            ("duration_ms", "1800000"),
            ("participant_ms", "1500000"),
            ("intervals", "2"),
        ],
    );
    s.expect(
        &[("session_id", "dup2")],
        &[("status", "first"), ("participant_ms", "3600000")],
    );
    s.expect(
        &[("session_id", "dup3")],
        &[("status", "k-dash"), ("participant_ms", "1800000")],
    );
    s.expect(
        &[("session_id", "dup4")],
        &[
            ("status", "late-end"),
            ("ended_at", &t("10:50")),
            ("participant_ms", "2700000"),
        ],
    );
    let p = Table::report(&out, "participants");
    assert_eq!(p.rows.len(), 4, "one participant row per session");
    p.expect(
        &[("session_id", "dup")],
        &[
            ("name", "ended-d"),
            ("segments", "2"),
            ("gap_ms", "300000"),
            ("attended_ms", "1500000"),
        ],
    );
    let c = Table::report(&out, "concurrency");
    assert_eq!(
        c.rows_where("session_id", "dup").len(),
        4,
        "(10:00,1) (10:10,0) (10:15,1) (10:30,0)"
    );
}

#[test]
fn names_survive_the_csv_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let names: &[(&str, Option<&str>)] = &[
        ("p1", Some("Smith, John")),
        ("p2", Some("Dwayne \"The Rock\" Johnson")),
        ("p3", Some("first line\nsecond line")),
        ("p4", Some("José Zoë 山田 太郎 🎉")),
        ("p5", None),
        ("p6", Some("  padded  ")),
        ("p7", Some("crlf\r\nline; 'single' \"\"")),
    ];
    let sid = "n\"1,x";
    let participants: Vec<Value> = names
        .iter()
        .map(|(pid, name)| {
            let mut v = json!({"participantId": pid, "timelog": [iv("10:00", "10:10")]});
            if let Some(n) = name {
                v["name"] = json!(n);
            }
            v
        })
        .collect();
    let doc = json!({"id": sid, "roomId": "sala-ñ, 2", "start": t("10:00"), "end": t("10:10"),
                     "status": "ended", "participants": participants});
    write(
        &dir.path().join("in/ünïcode dir/a.json"),
        serde_json::to_vec(&doc).unwrap(),
    );
    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("out");
    let s = Table::report(&out, "sessions");
    s.expect(&[("session_id", sid)], &[("room_id", "sala-ñ, 2")]);
    let p = Table::report(&out, "participants");
    assert_eq!(p.rows.len(), names.len());
    for (pid, name) in names {
        p.expect(
            &[("session_id", sid), ("participant_id", pid)],
            &[("name", name.unwrap_or("")), ("room_id", "sala-ñ, 2")],
        );
    }
    let o = Table::report(&out, "overlaps");
    assert_eq!(o.rows.len(), 21, "7 participants all together: 7·6/2 pairs");
    let name_of = |pid: &str| {
        names
            .iter()
            .find(|(p, _)| *p == pid)
            .unwrap()
            .1
            .unwrap_or("")
    };
    for row in &o.rows {
        assert_eq!(row[0], sid);
        assert!(row[1] < row[2], "a < b: {row:?}");
        assert_eq!(row[3], name_of(&row[1]), "name_a of {row:?}");
        assert_eq!(row[4], name_of(&row[2]), "name_b of {row:?}");
        assert_eq!(row[5], "600000");
    }
    let c = Table::report(&out, "concurrency");
    assert_eq!(c.column("session_id"), [sid, sid]);
}

#[test]
fn rejects_report_quotes_odd_paths() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("in/good.json"),
        serde_json::to_vec(&simple_session("g1", "10:00", "10:10")).unwrap(),
    );
    write(&dir.path().join("in/bad, \"quoted\" é.json"), "{");
    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let rej = Table::report(&dir.path().join("out"), "rejects");
    assert_eq!(rej.column("path"), ["in/bad, \"quoted\" é.json"]);
}

#[test]
fn absolute_input_path_is_kept_in_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    write(
        &input.join("a.json"),
        serde_json::to_vec(&simple_session("g1", "10:00", "10:10")).unwrap(),
    );
    write(&input.join("sub/b.ndjson"), "\n{oops\n");
    let arg = input.to_str().unwrap();
    let r = analyze(dir.path(), &[arg], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let rej = Table::report(&dir.path().join("out"), "rejects");
    assert_eq!(rej.rows.len(), 1);
    assert_eq!(rej.rows[0][0], format!("{arg}/sub/b.ndjson"));
    assert_eq!(rej.rows[0][1], "2");
    assert!(rej.rows[0][3].starts_with("invalid JSON"));
}

// ------------------------------------------------------------------------------------------
// Parquet
// ------------------------------------------------------------------------------------------

#[cfg(feature = "parquet")]
mod parquet {
    use super::*;
    use polars::prelude::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Kind {
        Str,
        Int,
        Float,
        Bool,
        Time,
        Date,
        /// reported_active_duration: a number passed through as given (Int64 or Float64).
        Number,
    }
    use Kind::*;

    fn kind(table: &str, col: &str) -> Kind {
        match col {
            // Counts in `sessions` and `rooms`, flags in `participants`.
            "present" if matches!(table, "sessions" | "rooms") => Int,
            "ongoing" if table == "rooms" => Int,
            "session_id" | "room_id" | "status" | "participant_id" | "name" | "participant_a"
            | "participant_b" | "name_a" | "name_b" | "path" | "reason" => Str,
            "started_at" | "ended_at" | "peak_at" | "first_join" | "last_leave"
            | "first_overlap" | "changed_at" | "first_start" | "last_end" => Time,
            "period" => Date,
            "ongoing" | "pairs_skipped" | "open" | "present" => Bool,
            "avg_concurrency" | "attendance_pct" => Float,
            "reported_active_duration" => Number,
            _ => Int,
        }
    }

    fn fmt_ms(ms: i64) -> String {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }

    /// The CSV text a Parquet cell should have been written as.
    fn as_csv(v: &AnyValue) -> String {
        match v {
            AnyValue::Null => String::new(),
            AnyValue::Boolean(b) => b.to_string(),
            AnyValue::String(s) => s.to_string(),
            AnyValue::StringOwned(s) => s.to_string(),
            AnyValue::Int64(i) => i.to_string(),
            AnyValue::Float64(f) => f.to_string(),
            AnyValue::Datetime(ms, TimeUnit::Milliseconds, _)
            | AnyValue::DatetimeOwned(ms, TimeUnit::Milliseconds, _) => fmt_ms(*ms),
            AnyValue::Date(days) => chrono::NaiveDate::from_epoch_days(*days)
                .unwrap()
                .to_string(),
            other => panic!("unexpected Parquet value {other:?}"),
        }
    }

    /// docs/reference.md §8: timestamps Datetime(ms, UTC), durations and counts Int64, ratios Float64,
    /// flags Boolean; the rest are strings.
    fn check_dtypes(name: &str, df: &DataFrame) {
        for col in df.columns() {
            let cname = col.name().to_string();
            let dtype = col.dtype();
            let ok = match kind(name, &cname) {
                Str => *dtype == DataType::String,
                Int => *dtype == DataType::Int64,
                Float => *dtype == DataType::Float64,
                Bool => *dtype == DataType::Boolean,
                Number => *dtype == DataType::Int64 || *dtype == DataType::Float64,
                Date => *dtype == DataType::Date,
                Time => matches!(dtype,
                    DataType::Datetime(TimeUnit::Milliseconds, Some(tz)) if tz.to_string() == "UTC"),
            };
            assert!(ok, "{name}.parquet column {cname}: dtype {dtype:?}");
        }
    }

    #[test]
    fn parquet_equals_csv_with_spec_dtypes() {
        let dir = tempfile::tempdir().unwrap();
        write_metric_sessions(dir.path());
        // one reject, so the rejects report has a row (with a line number)
        write(&dir.path().join("in/bad.ndjson"), "\n{broken\n");
        let r = analyze(
            dir.path(),
            &["in"],
            "out",
            &["--as-of", AS_OF, "--format", "csv,parquet"],
        );
        assert_eq!(r.code, 2, "{}", r.stderr);
        let out = dir.path().join("out");
        for (name, cols) in REPORTS {
            let csv = Table::report(&out, name);
            let path = out.join(format!("{name}.parquet"));
            let file =
                std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let df = ParquetReader::new(file).finish().unwrap();
            let names: Vec<String> = df
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect();
            assert_eq!(names, *cols, "columns of {name}.parquet");
            assert_eq!(df.height(), csv.rows.len(), "rows of {name}.parquet");
            check_dtypes(name, &df);
            for col in df.columns() {
                let cname = col.name().to_string();
                for i in 0..df.height() {
                    let v = col.get(i).unwrap();
                    let want = &csv.rows[i][csv.col(&cname)];
                    let got = as_csv(&v);
                    let key = [("row", i.to_string())];
                    let key: Vec<(&str, &str)> =
                        key.iter().map(|(a, b)| (*a, b.as_str())).collect();
                    assert_cell(&format!("{name}.parquet"), &key, &cname, &got, want);
                }
            }
        }
        // spot checks that the comparison saw real content
        let df = ParquetReader::new(std::fs::File::open(out.join("rejects.parquet")).unwrap())
            .finish()
            .unwrap();
        assert_eq!(df.height(), 1);
        assert_eq!(
            df.column("line").unwrap().get(0).unwrap(),
            AnyValue::Int64(2)
        );
    }

    #[test]
    fn all_null_columns_keep_their_parquet_types() {
        // Only zero-duration sessions: avg_concurrency, attendance_pct, peak_at, first_join,
        // last_leave, status and reported_active_duration are empty on every row.
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("in/a.json"),
            serde_json::to_vec(&json!([m4(), m6()])).unwrap(),
        );
        let r = analyze(
            dir.path(),
            &["in"],
            "out",
            &["--as-of", AS_OF, "--format", "parquet"],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        for (name, _) in REPORTS {
            let path = dir.path().join(format!("out/{name}.parquet"));
            let df = ParquetReader::new(std::fs::File::open(&path).unwrap())
                .finish()
                .unwrap();
            check_dtypes(name, &df);
        }
    }

    /// pyarrow and pandas cannot join or sort `string_view` columns, which they read wherever the
    /// footer's Arrow schema says so: the files carry no Arrow schema, every text column is a
    /// plain UTF-8 byte array, and the columns that are never empty are `required`.
    #[test]
    fn text_is_plain_utf8_and_never_empty_columns_are_required() {
        use polars_parquet::parquet::schema::types::{
            ParquetType, PhysicalType, PrimitiveLogicalType,
        };
        use polars_parquet::parquet::schema::Repetition;
        let dir = tempfile::tempdir().unwrap();
        write_metric_sessions(dir.path());
        let r = analyze(
            dir.path(),
            &["in"],
            "out",
            &["--as-of", AS_OF, "--format", "parquet"],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        for (name, _) in REPORTS {
            let mut file =
                std::fs::File::open(dir.path().join(format!("out/{name}.parquet"))).unwrap();
            let meta = polars_parquet::read::read_metadata(&mut file).unwrap();
            let keys: Vec<&str> = meta
                .key_value_metadata
                .iter()
                .flatten()
                .map(|kv| kv.key.as_str())
                .collect();
            assert!(
                !keys.contains(&"ARROW:schema"),
                "{name}.parquet declares an Arrow schema"
            );
            for field in meta.schema().fields() {
                let ParquetType::PrimitiveType(p) = field else {
                    panic!("{name}.parquet: nested column {field:?}");
                };
                let column = p.field_info.name.as_str();
                if kind(name, column) == Str {
                    assert_eq!(
                        (p.physical_type, p.logical_type),
                        (PhysicalType::ByteArray, Some(PrimitiveLogicalType::String)),
                        "{name}.{column}"
                    );
                }
                let nullable = matches!(
                    (*name, column),
                    (
                        "sessions",
                        "room_id"
                            | "status"
                            | "reported_active_duration"
                            | "peak_at"
                            | "avg_concurrency"
                    ) | (
                        "participants",
                        "room_id"
                            | "name"
                            | "first_join"
                            | "last_leave"
                            | "attendance_pct"
                            | "late_ms"
                            | "early_leave_ms"
                    ) | ("overlaps", "name_a" | "name_b")
                        | ("rooms", "room_id")
                        | ("people", "name" | "first_join" | "last_leave")
                        | ("usage", "peak_at" | "over_quota_ms")
                        | ("rejects", "line" | "session_id")
                );
                let expected = if nullable {
                    Repetition::Optional
                } else {
                    Repetition::Required
                };
                assert_eq!(p.field_info.repetition, expected, "{name}.{column}");
            }
        }
    }

    /// Runs `analyze --format parquet` on the metric sessions in `dir` with `options`, into
    /// `out`: the manifest's options, and each report of [`REPORTS`] read back.
    fn parquet_reports(dir: &Path, out: &str, options: &[&str]) -> (Value, Vec<DataFrame>) {
        let mut args = vec!["--as-of", AS_OF, "--format", "parquet"];
        args.extend(options);
        let r = analyze(dir, &["in"], out, &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let manifest: Value =
            serde_json::from_slice(&fs::read(dir.join(out).join("manifest.json")).unwrap())
                .unwrap();
        let frames = REPORTS
            .iter()
            .map(|(name, _)| {
                let path = dir.join(out).join(format!("{name}.parquet"));
                ParquetReader::new(fs::File::open(&path).unwrap())
                    .finish()
                    .unwrap()
            })
            .collect();
        (manifest["options"].clone(), frames)
    }

    /// `--parquet-compression` sets the codec of every column chunk of every report, and the
    /// manifest says which; each codec holds the same rows as the default one.
    #[test]
    fn each_parquet_compression_holds_the_same_rows() {
        use polars_parquet::parquet::compression::Compression;
        let dir = tempfile::tempdir().unwrap();
        write_metric_sessions(dir.path());
        let frames = |out: &str, option: &[&str], codec: Compression, shown: &str| {
            let (options, frames) = parquet_reports(dir.path(), out, option);
            assert_eq!(options["parquet_compression"], shown);
            for (name, _) in REPORTS {
                let path = dir.path().join(out).join(format!("{name}.parquet"));
                let meta = polars_parquet::read::read_metadata(&mut fs::File::open(&path).unwrap())
                    .unwrap();
                for group in &meta.row_groups {
                    for chunk in group.parquet_columns() {
                        assert_eq!(chunk.compression(), codec, "{name} {option:?}");
                    }
                }
            }
            frames
        };
        let default = frames("default", &[], Compression::Zstd, "zstd:1");
        let options = csv_run_options(dir.path(), &["--parquet-compression", "snappy"]);
        assert!(options["parquet_compression"].is_null());
        let refused = refused_parquet_option(dir.path(), "--parquet-compression", "gzip");
        assert!(
            refused.contains("use zstd, zstd:LEVEL (1 to 22), snappy, lz4 or none"),
            "{refused}"
        );
        for (option, codec, shown) in [
            ("zstd:19", Compression::Zstd, "zstd:19"),
            ("snappy", Compression::Snappy, "snappy"),
            ("lz4", Compression::Lz4Raw, "lz4"),
            ("none", Compression::Uncompressed, "none"),
        ] {
            let got = frames(option, &["--parquet-compression", option], codec, shown);
            assert_same_reports(&default, &got, option);
        }
    }

    /// Each report of `got` holds the rows of the same report in `want`; none is empty but
    /// `rejects`.
    fn assert_same_reports(want: &[DataFrame], got: &[DataFrame], label: &str) {
        for ((name, _), (want, got)) in REPORTS.iter().zip(want.iter().zip(got)) {
            assert!(want.height() > 0 || *name == "rejects", "{name} is empty");
            assert!(want.equals_missing(got), "{name}.parquet with {label}");
        }
    }

    /// Runs `analyze --format parquet OPTION VALUE` into a folder named VALUE, which must be
    /// refused before anything is written: its message.
    fn refused_parquet_option(dir: &Path, option: &str, value: &str) -> String {
        let r = analyze(dir, &["in"], value, &["--format", "parquet", option, value]);
        assert_ne!(r.code, 0);
        assert!(!dir.join(value).exists());
        r.stderr
    }

    /// The manifest's options of a CSV-only run with `options`.
    fn csv_run_options(dir: &Path, options: &[&str]) -> Value {
        let mut args = vec!["--as-of", AS_OF];
        args.extend(options);
        let r = analyze(dir, &["in"], "csv", &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let manifest: Value =
            serde_json::from_slice(&fs::read(dir.join("csv/manifest.json")).unwrap()).unwrap();
        manifest["options"].clone()
    }

    /// `--parquet-integers plain` writes other files than the default `delta` (the unit tests
    /// check each column's encoding), holding the same rows; the manifest says which, and a
    /// name not on the list is refused before anything is written.
    #[test]
    fn each_parquet_integer_encoding_holds_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        write_metric_sessions(dir.path());
        let (options, delta) = parquet_reports(dir.path(), "delta", &[]);
        assert_eq!(options["parquet_integers"], "delta");
        let (options, plain) =
            parquet_reports(dir.path(), "plain", &["--parquet-integers", "PLAIN"]);
        assert_eq!(options["parquet_integers"], "plain");
        assert_same_reports(&delta, &plain, "plain");
        let bytes =
            |out: &str| fs::read(dir.path().join(out).join("participants.parquet")).unwrap();
        assert_ne!(bytes("delta"), bytes("plain"));
        let refused = refused_parquet_option(dir.path(), "--parquet-integers", "dictionary");
        assert!(
            refused.contains("[possible values: delta, plain]"),
            "{refused}"
        );
        let options = csv_run_options(dir.path(), &["--parquet-integers", "plain"]);
        assert!(options["parquet_integers"].is_null());
    }

    /// Rows of account_concurrency for the metric sessions (each a change of the summed
    /// timelines; the rollups' property test checks the sweep against a brute-force model).
    const ACCOUNT_CONCURRENCY_ROWS: usize = 14;

    #[test]
    fn format_parquet_writes_only_parquet() {
        let dir = tempfile::tempdir().unwrap();
        write_metric_sessions(dir.path());
        let r = analyze(
            dir.path(),
            &["in"],
            "out",
            &["--as-of", AS_OF, "--format", "parquet"],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(
            listing(&dir.path().join("out")),
            [
                "account_concurrency.parquet",
                "concurrency.parquet",
                "manifest.json",
                "overlaps.parquet",
                "participants.parquet",
                "people.parquet",
                "rejects.parquet",
                "rooms.parquet",
                "sessions.parquet",
                "usage.parquet"
            ]
        );
        for (name, cols) in REPORTS {
            let path = dir.path().join(format!("out/{name}.parquet"));
            let df = ParquetReader::new(std::fs::File::open(&path).unwrap())
                .finish()
                .unwrap();
            let names: Vec<String> = df
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect();
            assert_eq!(names, *cols, "columns of {name}.parquet");
            // rejects.parquet has no rows here: its columns still have their types.
            check_dtypes(name, &df);
            let rows = match *name {
                "sessions" => 8,
                "participants" => 14,
                "overlaps" => 9,
                "concurrency" => 28,
                // Eight rooms (one without a room id) and 14 distinct people on one UTC day.
                "rooms" => 8,
                "people" => 14,
                "usage" => 1,
                "account_concurrency" => ACCOUNT_CONCURRENCY_ROWS,
                _ => 0,
            };
            assert_eq!(df.height(), rows, "rows of {name}.parquet");
        }
    }
}

// ------------------------------------------------------------------------------------------
// The sample folder, threads, output folder
// ------------------------------------------------------------------------------------------

/// What data/make_sample.py writes (known from the generator, not from a run of analyze).
const SAMPLE_AS_OF: &str = "2021-10-29T10:00:00Z";

/// Every report format this build writes.
const EVERY_FORMAT: &str = if cfg!(feature = "parquet") {
    "csv,parquet"
} else {
    "csv"
};
const SAMPLE_ONGOING: &str = "3006a5d3ae0d63d686f9f3c2";
const SAMPLE_DUPLICATE: &str = "ed6ba87d8460b3a82a8e2a1f";
const SAMPLE_WEBINAR: &str = "c1d116e14552fde3a36fe38f";

#[test]
fn sample_analyses_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample_dir();
    let r = analyze(
        dir.path(),
        &[sample.to_str().unwrap()],
        "out",
        &["--as-of", SAMPLE_AS_OF],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("out");
    assert!(Table::report(&out, "rejects").rows.is_empty());
    let s = Table::report(&out, "sessions");
    // 12 one-to-one calls, 14 team meetings, 1 webinar, 1 ongoing standup; one duplicate copy.
    assert_eq!(s.rows.len(), 28);
    assert_eq!(s.rows_where("session_id", SAMPLE_DUPLICATE).len(), 1);
    assert_eq!(s.rows_where("ongoing", "true").len(), 1);
    s.expect(
        &[("session_id", SAMPLE_ONGOING)],
        &[
            ("ongoing", "true"),
            ("status", "ongoing"),
            ("ended_at", "2021-10-29T10:00:00.000Z"),
            ("room_id", "dfrt-k2mq-8xzp"),
        ],
    );
    s.expect(
        &[("session_id", SAMPLE_DUPLICATE)],
        &[("ongoing", "false"), ("status", "ended")],
    );
    s.expect(
        &[("session_id", SAMPLE_WEBINAR)],
        &[("participants", "320"), ("pairs_skipped", "true")],
    );
    assert_eq!(s.rows_where("pairs_skipped", "true").len(), 1);
    let p = Table::report(&out, "participants");
    assert_eq!(p.rows.len(), 458);
    let o = Table::report(&out, "overlaps");
    assert!(o.rows_where("session_id", SAMPLE_WEBINAR).is_empty());
    assert!(!o.rows.is_empty());
    // sessions by start (the UTC text sorts like the instant)
    let starts = s.column("started_at");
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
}

#[test]
fn same_bytes_with_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample_dir();
    let sample = sample.to_str().unwrap();
    for (threads, out) in [("1", "t1"), ("2", "t2")] {
        let r = analyze(
            dir.path(),
            &[sample],
            out,
            &[
                "--as-of",
                SAMPLE_AS_OF,
                "--threads",
                threads,
                "--format",
                EVERY_FORMAT,
            ],
        );
        assert_eq!(r.code, 0, "--threads {threads}: {}", r.stderr);
    }
    let (a, b) = (dir.path().join("t1"), dir.path().join("t2"));
    let mut files = listing(&a);
    assert_eq!(files, listing(&b));
    // The reports, not the manifest (which records when it was made).
    files.retain(|f| f != "manifest.json");
    assert_eq!(
        files.len(),
        9 * EVERY_FORMAT.split(',').count(),
        "{files:?}"
    );
    for f in &files {
        let (x, y) = (fs::read(a.join(f)).unwrap(), fs::read(b.join(f)).unwrap());
        assert!(x == y, "{f} differs between --threads 1 and --threads 2");
    }
}

#[test]
fn same_bytes_and_same_winner_with_one_two_and_four_threads_on_ties_and_rejects() {
    // 24 copies of one session that tie on every rule but path order (same end, same number of
    // entries), spread over files and folders, plus rejects: the first in path order wins
    // whatever the number of threads, and every report has the same bytes.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    for i in 0..24 {
        let mut v = simple_session("tie", "10:00", "10:10");
        v["status"] = json!(format!("copy-{i:02}"));
        let rel = format!("{}/f{i:02}.json", ["b", "a", "c"][i % 3]);
        write(&d.join(rel), serde_json::to_vec(&v).unwrap());
        write(&d.join(format!("bad{i:02}.json")), "{");
        write(
            &d.join(format!("n{i:02}.ndjson")),
            format!(
                "{}\n{{\n",
                serde_json::to_string(&simple_session(&format!("s{i:02}"), "10:00", "10:09"))
                    .unwrap()
            ),
        );
    }
    for (threads, out) in [("1", "t1"), ("2", "t2"), ("4", "t4")] {
        let r = analyze(
            dir.path(),
            &["in"],
            out,
            &[
                "--as-of",
                AS_OF,
                "--threads",
                threads,
                "--format",
                EVERY_FORMAT,
            ],
        );
        assert_eq!(r.code, 2, "--threads {threads}: {}", r.stderr);
        let s = Table::report(&dir.path().join(out), "sessions");
        // "in/a/f01.json" is the first path holding "tie".
        s.expect(&[("session_id", "tie")], &[("status", "copy-01")]);
        assert_eq!(s.rows.len(), 25);
        assert_eq!(
            Table::report(&dir.path().join(out), "rejects").rows.len(),
            48
        );
    }
    for other in ["t2", "t4"] {
        let (a, b) = (dir.path().join("t1"), dir.path().join(other));
        assert_eq!(listing(&a), listing(&b));
        // The reports, not the manifest (which records when it was made).
        for f in listing(&a).into_iter().filter(|f| f != "manifest.json") {
            assert!(
                fs::read(a.join(&f)).unwrap() == fs::read(b.join(&f)).unwrap(),
                "{f} differs between --threads 1 and {other}"
            );
        }
    }
}

#[test]
fn reported_active_duration_is_passed_through_as_given() {
    // docs/reference.md §1/§5: activeDuration "passed through as reported", "as given": 12.5 stays 12.5.
    let dir = tempfile::tempdir().unwrap();
    let mk = |id: &str, ad: Value| json!({"id": id, "meetingId": "r", "start": t("10:00"), "end": t("10:10"), "activeDuration": ad});
    write(
        &dir.path().join("in/a.json"),
        serde_json::to_vec(&json!([
            mk("a1", json!(12.5)),
            mk("a2", json!(0)),
            mk("a3", json!(3601))
        ]))
        .unwrap(),
    );
    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = Table::report(&dir.path().join("out"), "sessions");
    s.expect(
        &[("session_id", "a2")],
        &[("reported_active_duration", "0")],
    );
    s.expect(
        &[("session_id", "a3")],
        &[("reported_active_duration", "3601")],
    );
    let got: f64 = s
        .get(s.find(&[("session_id", "a1")]), "reported_active_duration")
        .parse()
        .unwrap();
    assert_eq!(got, 12.5, "activeDuration 12.5");
}

#[test]
fn old_reports_are_overwritten_and_no_temporary_file_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (name, _) in REPORTS {
        write(
            &out.join(format!("{name}.csv")),
            "stale,old,content\n1,2,3\n4,5,6\n7,8,9\n",
        );
    }
    write(
        &dir.path().join("in/a.json"),
        serde_json::to_vec(&simple_session("g1", "10:00", "10:10")).unwrap(),
    );
    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (name, _) in REPORTS {
        // Table::report checks the new header
        let t = Table::report(&out, name);
        if *name == "rejects" || *name == "overlaps" {
            assert!(t.rows.is_empty(), "{name}: {:?}", t.rows);
        }
    }
    assert_eq!(Table::report(&out, "sessions").column("session_id"), ["g1"]);
    let hidden: Vec<String> = listing(&out)
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "left behind: {hidden:?}");
}

#[test]
fn missing_output_folder_is_created() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("in/a.json"),
        serde_json::to_vec(&simple_session("g1", "10:00", "10:10")).unwrap(),
    );
    let r = analyze(dir.path(), &["in"], "deep/er/out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    Table::report(&dir.path().join("deep/er/out"), "sessions");
    // without --out: ./report
    let r = Run::new(["analyze", "in", "--as-of", AS_OF, "--quiet"])
        .current_dir(dir.path())
        .output();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = Table::report(&dir.path().join("report"), "sessions");
    assert_eq!(s.column("session_id"), ["g1"]);
}

#[test]
fn quiet_prints_nothing_and_the_summary_shows_as_of() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("in/a.json"),
        serde_json::to_vec(&simple_session("g1", "10:00", "10:10")).unwrap(),
    );
    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "", "--quiet");
    assert_eq!(r.stderr, "", "--quiet");
    let r = Run::new(["analyze", "in", "--out", "out2", "--as-of", AS_OF])
        .current_dir(dir.path())
        .output();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("2024-03-01T10:30:00"),
        "the summary prints the as-of used: {all}"
    );
}

// ------------------------------------------------------------------------------------------
// More input edge cases
// ------------------------------------------------------------------------------------------

#[test]
fn more_gzip_and_ndjson_cases() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    let line = |v: Value| serde_json::to_string(&v).unwrap();
    // `cat a.ndjson.gz b.ndjson.gz > all.ndjson.gz`: a multi-member gzip file is one gzip file.
    let mut multi = gz(format!(
        "{}\n",
        line(simple_session("g1", "10:00", "10:10"))
    ));
    multi.extend(gz(format!(
        "{}\n",
        line(simple_session("g2", "10:01", "10:11"))
    )));
    write(&d.join("all.ndjson.gz"), multi);
    // Line numbers inside a compressed NDJSON file: line 3 is broken.
    write(
        &d.join("lines.ndjson.gz"),
        gz(format!(
            "{}\n\n{{\"id\": \"g4\", \n{}\n",
            line(simple_session("g3", "10:02", "10:12")),
            line(simple_session("g5", "10:03", "10:13"))
        )),
    );
    // A gzip file that decompresses to nothing is an empty file.
    write(&d.join("nothing.json.gz"), gz(""));
    // Invalid UTF-8 on one NDJSON line: that line is rejected, its neighbours are read.
    let mut bytes = format!("{}\n", line(simple_session("g6", "10:04", "10:14"))).into_bytes();
    bytes.extend_from_slice(b"{\"id\": \"bad\", \"roomId\": \"Jos\xe9\"}\n");
    bytes.extend_from_slice(
        format!("{}\n", line(simple_session("g7", "10:05", "10:15"))).as_bytes(),
    );
    write(&d.join("utf.ndjson"), bytes);
    // JSON Lines are NDJSON: rejects carry the line number.
    write(&d.join("x.jsonl"), "\r\n{bad\r\n");
    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let out = dir.path().join("out");
    let s = Table::report(&out, "sessions");
    assert_eq!(s.column("session_id"), ["g1", "g2", "g3", "g5", "g6", "g7"]);
    let rej = Table::report(&out, "rejects");
    let got: Vec<(&str, &str)> = rej
        .rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("in/lines.ndjson.gz", "3"),
            ("in/nothing.json.gz", ""),
            ("in/utf.ndjson", "2"),
            ("in/x.jsonl", "2")
        ]
    );
    assert!(
        rej.rows[0][3].starts_with("invalid JSON"),
        "{:?}",
        rej.rows[0]
    );
    assert!(
        rej.rows[1][3].starts_with("empty file"),
        "{:?}",
        rej.rows[1]
    );
    assert!(rej.rows[2][3].starts_with("not UTF-8"), "{:?}", rej.rows[2]);
}

#[test]
fn non_session_element_in_an_array_does_not_sink_its_neighbours() {
    // docs/reference.md §2: bad input goes to rejects, "everything else is still analyzed". A JSON array
    // holding a good session and a bare number: the number is not a session document, the
    // session next to it is still analyzed (as with a session without id in the same place).
    // A truncated array ("[1,") is invalid JSON, whatever its first element is.
    let dir = tempfile::tempdir().unwrap();
    let good = simple_session("g1", "10:00", "10:10");
    write(
        &dir.path().join("in/a.json"),
        serde_json::to_string(&json!([good, 5])).unwrap(),
    );
    write(&dir.path().join("in/b.json"), "[1,");
    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    let out = dir.path().join("out");
    assert_eq!(
        Table::report(&out, "sessions").column("session_id"),
        ["g1"],
        "the good session next to the number"
    );
    let rej = Table::report(&out, "rejects");
    assert_eq!(rej.column("path"), ["in/a.json", "in/b.json"]);
    assert!(
        rej.rows[0][3].starts_with("not a session document"),
        "{:?}",
        rej.rows[0]
    );
    assert!(
        rej.rows[1][3].starts_with("invalid JSON"),
        "truncated file: {:?}",
        rej.rows[1]
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn dot_and_parent_arguments_are_walked() {
    // The argument itself is not a hidden entry, even when it is "." or "..".
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    write(
        &d.join("a.json"),
        serde_json::to_string(&simple_session("g1", "10:00", "10:10")).unwrap(),
    );
    write(&d.join("b.json"), "{");
    fs::create_dir_all(d.join("sub")).unwrap();
    let r = analyze(&d, &["."], "../out1", &["--as-of", AS_OF]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let out = dir.path().join("out1");
    assert_eq!(Table::report(&out, "sessions").column("session_id"), ["g1"]);
    assert_eq!(Table::report(&out, "rejects").column("path"), ["./b.json"]);
    let r = analyze(&d.join("sub"), &[".."], "../../out2", &["--as-of", AS_OF]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let out = dir.path().join("out2");
    assert_eq!(Table::report(&out, "sessions").column("session_id"), ["g1"]);
    assert_eq!(Table::report(&out, "rejects").column("path"), ["../b.json"]);
}

#[test]
fn timestamps_without_offset_are_unparsable() {
    // RFC 3339 requires "Z" or an offset. "2024-03-01T10:00:00" is unparsable: as a session
    // start it falls back to the earliest parseable timelog start (10:02); as a timelog start
    // it makes the entry invalid. Lower-case "z" and "t" are RFC 3339 too (§5.6 note).
    let dir = tempfile::tempdir().unwrap();
    let doc = json!({
        "id": "tz", "roomId": "r", "start": "2024-03-01T10:00:00", "end": t("10:10"),
        "participants": [
            {"participantId": "a", "timelog": [{"start": "2024-03-01T10:01:00", "end": t("10:05")}]},
            {"participantId": "b", "timelog": [iv("10:02", "10:06")]},
            {"participantId": "c", "timelog": [{"start": "2024-03-01t10:03:00z", "end": t("10:04")}]}
        ]
    });
    write(
        &dir.path().join("in/a.json"),
        serde_json::to_vec(&doc).unwrap(),
    );
    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("out");
    let s = Table::report(&out, "sessions");
    // start = min(10:02 of b, 10:03 of c) = 10:02; duration 8 min; a's entry is invalid.
    s.expect(
        &[("session_id", "tz")],
        &[
            ("started_at", &t("10:02")),
            ("duration_ms", "480000"),
            ("intervals", "2"),
            ("invalid_intervals", "1"),
            ("participant_ms", "300000"),
        ],
    );
}

#[test]
fn duplicate_end_compared_as_instants() {
    // "the latest end" is about instants: 15:45+05:30 is 10:15Z, earlier than 10:40Z, although
    // its text sorts later.
    let dir = tempfile::tempdir().unwrap();
    let mk = |status: &str, end: &str| {
        json!({"id": "dup5", "roomId": "r", "status": status, "start": t("10:00"), "end": end,
               "participants": [{"participantId": "p", "timelog": [iv("10:00", "10:10")]}]})
    };
    write(
        &dir.path().join("in/a.json"),
        serde_json::to_vec(&mk("utc", "2024-03-01T10:40:00Z")).unwrap(),
    );
    write(
        &dir.path().join("in/b.json"),
        serde_json::to_vec(&mk("ist", "2024-03-01T15:45:00+05:30")).unwrap(),
    );
    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = Table::report(&dir.path().join("out"), "sessions");
    assert_eq!(s.rows.len(), 1);
    s.expect(
        &[("session_id", "dup5")],
        &[
            ("status", "utc"),
            ("ended_at", &t("10:40")),
            ("duration_ms", "2400000"),
        ],
    );
}

#[test]
fn ongoing_follows_the_end_not_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let docs = json!([
        // status says ongoing, but the document has an end: not ongoing.
        {"id": "o1", "roomId": "r", "status": "ongoing", "start": t("10:00"), "end": t("10:05"),
         "participants": [{"participantId": "p", "timelog": [iv("10:00", "10:05")]}]},
        // started after as-of (10:30) and still going: end = as-of < start → duration 0;
        // its open entry closes at 10:30 < 11:00 → invalid.
        {"id": "o2", "roomId": "r", "status": "ongoing", "start": t("11:00"), "end": null,
         "participants": [{"participantId": "p", "timelog": [{"start": t("11:00"), "end": null}]}]}
    ]);
    write(
        &dir.path().join("in/a.json"),
        serde_json::to_vec(&docs).unwrap(),
    );
    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = Table::report(&dir.path().join("out"), "sessions");
    s.expect(
        &[("session_id", "o1")],
        &[
            ("status", "ongoing"),
            ("ongoing", "false"),
            ("duration_ms", "300000"),
        ],
    );
    s.expect(
        &[("session_id", "o2")],
        &[
            ("ongoing", "true"),
            ("ended_at", &t("10:30")),
            ("duration_ms", "0"),
            ("intervals", "0"),
            ("invalid_intervals", "1"),
            ("participant_ms", "0"),
            ("avg_concurrency", ""),
        ],
    );
}

#[test]
fn usage_errors_exit_1_and_write_nothing() {
    // docs/reference.md §8: 1 = nothing usable was done; 2 would tell a cron job that reports were written.
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("in/a.json"),
        serde_json::to_vec(&simple_session("g1", "10:00", "10:10")).unwrap(),
    );
    for (what, args) in [
        (
            "bad --format",
            vec!["analyze", "in", "--out", "o1", "--format", "xml"],
        ),
        (
            "bad --as-of",
            vec!["analyze", "in", "--out", "o2", "--as-of", "yesterday"],
        ),
        (
            "unknown option",
            vec!["analyze", "in", "--out", "o3", "--bogus"],
        ),
        ("no PATH", vec!["analyze", "--out", "o4"]),
    ] {
        let r = Run::new(&args).current_dir(dir.path()).output();
        assert_eq!(r.code, 1, "{what}: exit status; stderr: {}", r.stderr);
        assert!(!r.stderr.is_empty(), "{what}: says what is wrong");
        let out_arg = args[args.iter().position(|a| *a == "--out").unwrap() + 1];
        let out = dir.path().join(out_arg);
        assert!(
            !out.join("sessions.csv").exists(),
            "{what}: no report written"
        );
    }
}

#[test]
fn double_connections_count_once() {
    // dc 10:00–10:20. A: three identical connections [10:00,10:10) plus, in a second entry with
    // the same id, [10:05,10:15): U = [0,15) min, raw 40 min, self overlap 25 min.
    // B: [10:05,10:15) and [10:08,10:12): U = [5,15), raw 14 min, self overlap 4 min.
    // Presence counts people, not connections: 1 on [0,5), 2 on [5,15), 0 on [15,20).
    let dir = tempfile::tempdir().unwrap();
    let doc = json!({
        "id": "dc", "roomId": "r", "start": t("10:00"), "end": t("10:20"),
        "participants": [
            {"participantId": "A", "name": "A",
             "timelog": [iv("10:00", "10:10"), iv("10:00", "10:10"), iv("10:00", "10:10")]},
            {"participantId": "B", "name": "B", "timelog": [iv("10:05", "10:15"), iv("10:08", "10:12")]},
            {"participantId": "A", "name": "A (phone)", "timelog": [iv("10:05", "10:15")]}
        ]
    });
    write(
        &dir.path().join("in/a.json"),
        serde_json::to_vec(&doc).unwrap(),
    );
    let r = analyze(dir.path(), &["in"], "out", &["--as-of", AS_OF]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("out");
    let p = Table::report(&out, "participants");
    p.expect(
        &[("participant_id", "A")],
        &[
            ("name", "A"),
            ("intervals", "4"),
            ("segments", "1"),
            ("attended_ms", "900000"),
            ("raw_ms", "2400000"),
            ("self_overlap_ms", "1500000"),
            ("gap_ms", "0"),
            ("attendance_pct", "75"),
        ],
    );
    p.expect(
        &[("participant_id", "B")],
        &[
            ("intervals", "2"),
            ("segments", "1"),
            ("attended_ms", "600000"),
            ("raw_ms", "840000"),
            ("self_overlap_ms", "240000"),
        ],
    );
    let s = Table::report(&out, "sessions");
    s.expect(
        &[("session_id", "dc")],
        &[
            ("participants", "2"),
            ("participant_ms", "1500000"),
            ("peak_concurrency", "2"),
            ("peak_at", &t("10:05")),
            ("peak_ms", "600000"),
            ("avg_concurrency", "1.25"),
            ("empty_ms", "300000"),
            ("intervals", "6"),
        ],
    );
    let o = Table::report(&out, "overlaps");
    assert_eq!(
        o.rows,
        [[
            "dc",
            "A",
            "B",
            "A",
            "B",
            "600000",
            "2024-03-01T10:05:00.000Z"
        ]]
    );
    let c = Table::report(&out, "concurrency");
    let steps: Vec<(&str, &str)> = c
        .rows
        .iter()
        .map(|r| (r[1].as_str(), r[2].as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("2024-03-01T10:00:00.000Z", "1"),
            ("2024-03-01T10:05:00.000Z", "2"),
            ("2024-03-01T10:15:00.000Z", "0")
        ]
    );
}

#[test]
fn exit_status_tells_empty_input_from_missing_or_rejected_input() {
    // An empty page is input used whole: exit 0 with empty reports. No file at all, or nothing
    // but rejected input, is "nothing usable was done": exit 1.
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("empty/page.json"),
        r#"{"pageInfo":{"currentPage":1,"perPage":10,"lastPage":1,"total":0},"data":[]}"#,
    );
    write(&dir.path().join("blank/lines.ndjson"), "\n\n");
    write(&dir.path().join("bad/a.json"), "{");
    write(&dir.path().join("none/notes.txt"), "hello");
    let as_of = ["--as-of", "2024-01-01T00:00:00Z"];
    let r = analyze(dir.path(), &["empty", "blank"], "o1", &as_of);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        Table::report(&dir.path().join("o1"), "sessions").rows.len(),
        0
    );
    assert_eq!(
        Table::report(&dir.path().join("o1"), "rejects").rows.len(),
        0
    );
    let r = analyze(dir.path(), &["empty", "bad"], "o2", &as_of);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("rejected"), "{}", r.stderr);
    let r = analyze(dir.path(), &["none"], "o3", &as_of);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no .json"), "{}", r.stderr);
}

// ------------------------------------------------------------------------------------------
// Presence, periods and rollups (docs/reference.md §9–§11), worked out by hand: weeks in
// Asia/Kolkata (UTC+05:30, so a week starts on Sunday 18:30Z), presence at 75 %, quota 3.

/// A: room r1, Sun 2024-03-03 23:30–Mon 00:30 IST, so in the week of 2024-02-26 (by its start)
/// though it runs into the next. B: room r1, starts exactly at the week's local midnight. C: no
/// room, two days later.
fn write_week_sessions(dir: &Path) {
    let at = |hms: &str| format!("2024-03-03T{hms}Z");
    let span = |a: &str, b: &str| json!({"start": at(a), "end": at(b)});
    let sessions = [
        json!({"id": "A", "roomId": "r1", "start": at("18:00:00"), "end": at("19:00:00"),
            "participants": [
                {"participantId": "a1", "name": "Ann", "timelog": [span("18:00:00", "19:00:00")]},
                {"participantId": "a2", "name": "Al", "timelog": [span("18:20:00", "18:40:00")]}]}),
        json!({"id": "B", "roomId": "r1", "start": at("18:30:00"), "end": at("18:50:00"),
            "participants": [
                {"participantId": "a1", "name": "Ann", "timelog": [span("18:30:00", "18:45:00")]},
                {"participantId": "b1", "name": "Bea", "timelog": [span("18:31:00", "18:50:00")]},
                {"participantId": "b2", "name": "Bo",
                 "timelog": [span("18:40:00", "18:50:00"), span("18:45:00", "18:50:00")]}]}),
        json!({"id": "C", "start": "2024-03-05T10:00:00Z", "end": "2024-03-05T10:10:00Z",
            "participants": [{"participantId": "c1",
                "timelog": [{"start": "2024-03-05T10:00:00Z", "end": "2024-03-05T10:10:00Z"}]}]}),
    ];
    let lines: Vec<String> = sessions.iter().map(|s| s.to_string()).collect();
    write(&dir.join("in/week.ndjson"), lines.join("\n"));
}

const WEEK_ARGS: &[&str] = &[
    "--as-of",
    "2024-03-10T00:00:00Z",
    "--tz",
    "Asia/Kolkata",
    "--period",
    "week",
    "--present",
    "75%",
    "--quota",
    "3",
];

#[test]
fn presence_periods_and_rollups_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    write_week_sessions(dir.path());
    // Not --quiet: the summary's figures are checked too.
    let r = Run::new(["analyze", "in", "--out", "out"])
        .args(WEEK_ARGS)
        .current_dir(dir.path())
        .output();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("out");

    // §9: a1 in B attended 15 of 20 minutes, exactly 75 %: present. b2's two connections make
    // 10 minutes (50 %): not present. a2 attended 20 of 60 minutes.
    let p = Table::report(&out, "participants");
    for (session, id, late, early, present) in [
        ("A", "a1", "0", "0", "true"),
        ("A", "a2", "1200000", "1200000", "false"),
        ("B", "a1", "0", "300000", "true"),
        ("B", "b1", "60000", "0", "true"),
        ("B", "b2", "600000", "0", "false"),
        ("C", "c1", "0", "0", "true"),
    ] {
        p.expect(
            &[("session_id", session), ("participant_id", id)],
            &[
                ("late_ms", late),
                ("early_leave_ms", early),
                ("present", present),
            ],
        );
    }
    let s = Table::report(&out, "sessions");
    assert_eq!(s.column("present"), ["1", "2", "1"]);

    // §10 rooms: A is in the week of 2024-02-26 by its start; B and C in the week of 03-04;
    // C's missing room is a group of its own, first in its period.
    let rooms = Table::report(&out, "rooms");
    assert_eq!(rooms.rows.len(), 3);
    let room_rows: Vec<Vec<&str>> = rooms
        .rows
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        room_rows,
        [
            vec![
                "2024-02-26",
                "r1",
                "1",
                "0",
                "2",
                "1",
                "4800000",
                "3600000",
                "2",
                "2024-03-03T18:00:00.000Z",
                "2024-03-03T19:00:00.000Z"
            ],
            vec![
                "2024-03-04",
                "",
                "1",
                "0",
                "1",
                "1",
                "600000",
                "600000",
                "1",
                "2024-03-05T10:00:00.000Z",
                "2024-03-05T10:10:00.000Z"
            ],
            vec![
                "2024-03-04",
                "r1",
                "1",
                "0",
                "3",
                "2",
                "2640000",
                "1200000",
                "3",
                "2024-03-03T18:30:00.000Z",
                "2024-03-03T18:50:00.000Z"
            ],
        ]
    );

    // §10 people: a1 appears in both weeks, c1 has no name and no room.
    let people = Table::report(&out, "people");
    let people_rows: Vec<Vec<&str>> = people
        .rows
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        people_rows,
        [
            vec![
                "2024-02-26",
                "a1",
                "Ann",
                "1",
                "1",
                "1",
                "3600000",
                "2024-03-03T18:00:00.000Z",
                "2024-03-03T19:00:00.000Z"
            ],
            vec![
                "2024-02-26",
                "a2",
                "Al",
                "1",
                "0",
                "1",
                "1200000",
                "2024-03-03T18:20:00.000Z",
                "2024-03-03T18:40:00.000Z"
            ],
            vec![
                "2024-03-04",
                "a1",
                "Ann",
                "1",
                "1",
                "1",
                "900000",
                "2024-03-03T18:30:00.000Z",
                "2024-03-03T18:45:00.000Z"
            ],
            vec![
                "2024-03-04",
                "b1",
                "Bea",
                "1",
                "1",
                "1",
                "1140000",
                "2024-03-03T18:31:00.000Z",
                "2024-03-03T18:50:00.000Z"
            ],
            vec![
                "2024-03-04",
                "b2",
                "Bo",
                "1",
                "0",
                "1",
                "600000",
                "2024-03-03T18:40:00.000Z",
                "2024-03-03T18:50:00.000Z"
            ],
            vec![
                "2024-03-04",
                "c1",
                "",
                "1",
                "1",
                "0",
                "600000",
                "2024-03-05T10:00:00.000Z",
                "2024-03-05T10:10:00.000Z"
            ],
        ]
    );

    // §11: at 18:40 a2 leaves A as b2 joins B, so A does not change there.
    let account = Table::report(&out, "account_concurrency");
    let steps: Vec<(&str, &str)> = account
        .rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("2024-03-03T18:00:00.000Z", "1"),
            ("2024-03-03T18:20:00.000Z", "2"),
            ("2024-03-03T18:30:00.000Z", "3"),
            ("2024-03-03T18:31:00.000Z", "4"),
            ("2024-03-03T18:45:00.000Z", "3"),
            ("2024-03-03T18:50:00.000Z", "1"),
            ("2024-03-03T19:00:00.000Z", "0"),
            ("2024-03-05T10:00:00.000Z", "1"),
            ("2024-03-05T10:10:00.000Z", "0"),
        ]
    );
    // Week of 02-26 ends at 18:30Z: A's first half hour, 20 min at 1 and 10 at 2. Week of
    // 03-04: the rest of A and B (3 + 56 + 15 + 10 minutes of presence) and C's 10 minutes;
    // over the quota of 3 from 18:31 to 18:45.
    let usage = Table::report(&out, "usage");
    let usage_rows: Vec<Vec<&str>> = usage
        .rows
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        usage_rows,
        [
            vec![
                "2024-02-26",
                "1",
                "1",
                "2",
                "2400000",
                "2",
                "2024-03-03T18:20:00.000Z",
                "0"
            ],
            vec![
                "2024-03-04",
                "2",
                "1",
                "4",
                "5640000",
                "4",
                "2024-03-03T18:31:00.000Z",
                "840000"
            ],
        ]
    );
    assert!(
        r.stdout
            .contains("account peak:       4 participants at 2024-03-03T18:31:00.000Z"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("participant-hours:  2.23"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("present:            4 of 6 participants (threshold 75%)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("over the quota:     14m 0.000s above 3 participants"),
        "{}",
        r.stdout
    );

    // §10 window: a date is local midnight in --tz (2024-03-03T18:30Z), applied to the start;
    // A is left out and every report covers B and C only.
    let mut args = WEEK_ARGS.to_vec();
    args.extend(["--since", "2024-03-04"]);
    let r = Run::new(["analyze", "in", "--out", "window"])
        .args(args)
        .current_dir(dir.path())
        .output();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("window");
    assert_eq!(
        Table::report(&out, "sessions").column("session_id"),
        ["B", "C"]
    );
    assert_eq!(
        Table::report(&out, "usage").column("period"),
        ["2024-03-04"]
    );
    assert_eq!(
        Table::report(&out, "account_concurrency").column("changed_at")[0],
        "2024-03-03T18:30:00.000Z"
    );
    assert!(r.stdout.contains("1 session left out"), "{}", r.stdout);
}

#[test]
fn the_sample_in_kolkata_weeks_adds_up() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample_dir();
    let r = analyze(
        dir.path(),
        &[sample.to_str().unwrap()],
        "out",
        &[
            "--as-of",
            SAMPLE_AS_OF,
            "--tz",
            "Asia/Kolkata",
            "--period",
            "week",
            "--present",
            "75%",
            "--quota",
            "3",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("out");
    let sum = |t: &Table, col: &str| {
        t.column(col)
            .iter()
            .map(|v| v.parse::<i64>().unwrap())
            .sum::<i64>()
    };
    let (s, p) = (
        Table::report(&out, "sessions"),
        Table::report(&out, "participants"),
    );
    let (rooms, people, usage) = (
        Table::report(&out, "rooms"),
        Table::report(&out, "people"),
        Table::report(&out, "usage"),
    );
    // The sample's 28 sessions start between 18 and 29 October 2021: the IST weeks of
    // Monday 18 and Monday 25 October.
    assert_eq!(usage.column("period"), ["2021-10-18", "2021-10-25"]);
    assert_eq!(sum(&usage, "sessions"), 28);
    assert_eq!(sum(&usage, "participant_ms"), sum(&s, "participant_ms"));
    assert_eq!(sum(&rooms, "participant_ms"), sum(&s, "participant_ms"));
    assert_eq!(sum(&rooms, "sessions"), 28);
    assert_eq!(sum(&people, "sessions"), p.rows.len() as i64);
    assert_eq!(sum(&people, "attended_ms"), sum(&p, "attended_ms"));
    assert_eq!(
        sum(&people, "present_sessions"),
        p.column("present").iter().filter(|v| **v == "true").count() as i64
    );
    assert_eq!(sum(&s, "present"), sum(&people, "present_sessions"));
    let account = Table::report(&out, "account_concurrency");
    let peak = account
        .column("concurrency")
        .iter()
        .map(|v| v.parse::<i64>().unwrap())
        .max();
    assert_eq!(
        usage
            .column("peak_concurrency")
            .iter()
            .map(|v| v.parse::<i64>().unwrap())
            .max(),
        peak
    );
}

/// One line of the big NDJSON file: session `i`, about 600 bytes, three participants whose
/// presence depends on `i`.
fn big_file_session(i: usize, id: &str, who: &str, end: &str) -> String {
    let (h, m) = (10 + (i / 60) % 10, i % 60);
    let at = |dm: usize| {
        format!(
            "2024-03-01T{h:02}:{:02}:{:02}.{:03}Z",
            (m + dm / 60) % 60,
            dm % 60,
            i % 1000
        )
    };
    let participants: Vec<String> = (0..3)
        .map(|p| {
            format!(
                r#"{{"participantId":"{who}{p}","name":"Participant number {p} of session {i}","timelog":[{{"start":"{}","end":"{}"}},{{"start":"{}","end":null}}]}}"#,
                at(p * 7),
                at(20 + p * 5),
                at(30 + (i + p) % 20),
            )
        })
        .collect();
    format!(
        r#"{{"id":"{id}","roomId":"room-{}","start":"{}","end":{end},"participants":[{}]}}"#,
        i % 13,
        at(0),
        participants.join(",")
    )
}

/// A large NDJSON file is cut into chunks that threads read independently (issue 9): the
/// rejects keep their line numbers, the duplicate rule still sees file order across chunks,
/// the bytes do not depend on the threads, and they equal those of the same lines cut into
/// several files.
#[test]
fn a_big_ndjson_file_is_read_in_chunks_with_exact_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let end = |i: usize| format!(r#""2024-03-01T{:02}:59:59.999Z""#, 10 + (i / 60) % 10);
    // 6,000 lines of about 600 bytes: more than three chunks of 1 MiB.
    let mut lines: Vec<String> = (0..6000)
        .map(|i| big_file_session(i, &format!("s{i:05}"), "p", &end(i)))
        .collect();
    // Line 101 and line 5001: the same session, the same end and entries: the first wins.
    lines[100] = big_file_session(100, "tie", "first", &end(100));
    lines[5000] = big_file_session(100, "tie", "second", &end(100));
    // Line 201 is an ongoing copy of the session on line 4801, which wins.
    lines[200] = big_file_session(200, "twice", "ongoing", "null");
    lines[4800] = big_file_session(200, "twice", "ended", &end(200));
    lines[1500] = "not json".to_owned();
    lines[2600] = "   ".to_owned();
    lines[3000] = r#"{"start":"2024-03-01T10:00:00.000Z"}"#.to_owned();
    lines[3999] = format!(r#"{{"id":"long","padding":"{}"}}"#, "x".repeat(3000));
    let text = lines.join("\n") + "\n";
    assert!(text.len() > 3 << 20);
    write(&dir.path().join("one/export.ndjson"), &text);
    write(&dir.path().join("gz/export.ndjson.gz"), gz(&text));
    for (part, chunk) in lines.chunks(700).enumerate() {
        write(
            &dir.path().join(format!("split/part-{part}.ndjson")),
            chunk.join("\n") + "\n",
        );
    }
    let limit = [
        "--as-of",
        "2024-03-02T00:00:00Z",
        "--max-document-size",
        "2K",
    ];
    let run = |input: &str, threads: &str| {
        let out = format!("out-{input}-{threads}");
        let r = analyze(
            dir.path(),
            &[input],
            &out,
            &[&limit[..], &["--threads", threads]].concat(),
        );
        assert_eq!(r.code, 2, "{input} --threads {threads}: {}", r.stderr);
        dir.path().join(out)
    };
    let reference = run("one", "1");
    let rejects = Table::report(&reference, "rejects");
    let lines_and_reasons: Vec<(&str, &str)> = (0..rejects.rows.len())
        .map(|r| (rejects.get(r, "line"), rejects.get(r, "reason")))
        .map(|(line, reason)| (line, reason.split(':').next().unwrap_or_default()))
        .collect();
    assert_eq!(
        lines_and_reasons,
        [
            ("1501", "invalid JSON"),
            ("3001", "session without id (session 1 in this document)"),
            ("4000", "document too large")
        ]
    );
    let sessions = Table::report(&reference, "sessions");
    // 6,000 lines, 4 not sessions, 2 duplicates.
    assert_eq!(sessions.rows.len(), 5994);
    let participants = Table::report(&reference, "participants");
    let tie = participants.rows_where("session_id", "tie");
    assert_eq!(participants.get(tie[0], "participant_id"), "first0");
    let twice = participants.rows_where("session_id", "twice");
    assert_eq!(participants.get(twice[0], "participant_id"), "ended0");

    for (input, threads) in [("one", "2"), ("gz", "1"), ("gz", "2"), ("split", "2")] {
        let out = run(input, threads);
        // The reports, not the manifest (which records when it was made).
        for name in listing(&reference) {
            if name == "manifest.json" || (input == "split" && name == "rejects.csv") {
                continue;
            }
            let (a, b) = (
                fs::read(reference.join(&name)).unwrap(),
                fs::read(out.join(&name)).unwrap(),
            );
            if name == "rejects.csv" {
                let path = if input == "gz" {
                    "gz/export.ndjson.gz"
                } else {
                    "one/export.ndjson"
                };
                let b = String::from_utf8(b)
                    .unwrap()
                    .replace(path, "one/export.ndjson");
                assert_eq!(
                    String::from_utf8(a).unwrap(),
                    b,
                    "{input} --threads {threads}"
                );
            } else {
                assert!(a == b, "{name} of {input} --threads {threads} differs");
            }
        }
    }
}

/// A big JSON array (the other usual shape of an export) is read item by item, in chunks that
/// threads share: its reports are those of the same sessions as NDJSON lines, with 1 and 2
/// threads, plain and gzip, and as a big page; `--max-document-size` bounds one item, not the
/// file.
#[test]
fn a_big_json_array_reads_as_its_items_would_as_ndjson_lines() {
    let dir = tempfile::tempdir().unwrap();
    let end = |i: usize| format!(r#""2024-03-01T{:02}:59:59.999Z""#, 10 + (i / 60) % 10);
    let items: Vec<String> = (0..6000)
        .map(|i| big_file_session(i, &format!("s{i:05}"), "p", &end(i)))
        .collect();
    let array = format!("[\n  {}\n]\n", items.join(",\n  "));
    assert!(array.len() > 3 << 20);
    write(
        &dir.path().join("lines/export.ndjson"),
        items.join("\n") + "\n",
    );
    write(&dir.path().join("array/export.json"), &array);
    write(&dir.path().join("gz/export.json.gz"), gz(&array));
    let page =
        format!("{{\"pageInfo\":{{\"currentPage\":1,\"perPage\":6000}},\n\"data\":{array}}}");
    write(&dir.path().join("page/export.json"), &page);
    let run = |input: &str, threads: &str| {
        let out = format!("out-{input}-{threads}");
        let options = [
            "--as-of",
            "2024-03-02T00:00:00Z",
            "--max-document-size",
            "1M",
            "--threads",
            threads,
        ];
        let r = analyze(dir.path(), &[input], &out, &options);
        assert_eq!(r.code, 0, "{input} --threads {threads}: {}", r.stderr);
        dir.path().join(out)
    };
    let reference = run("lines", "2");
    assert_eq!(Table::report(&reference, "sessions").rows.len(), 6000);
    for (input, threads) in [("array", "1"), ("array", "2"), ("gz", "2"), ("page", "2")] {
        let out = run(input, threads);
        for name in listing(&reference) {
            if name != "manifest.json" {
                let same =
                    fs::read(reference.join(&name)).unwrap() == fs::read(out.join(&name)).unwrap();
                assert!(same, "{name} of {input} --threads {threads} differs");
            }
        }
    }
}
