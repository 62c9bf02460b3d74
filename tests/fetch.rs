//! `sessionstats fetch` and `run` against a real HTTP server on 127.0.0.1 (`util::server`).

use crate::util::server::{Fault, Server, Session};
use crate::util::{listing, walk, Ran, Run};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJ0ZXN0IjoidG9rZW4ifQ.TOKEN-SIGNATURE-4711";
const LOCK: &str = ".sessionstats-fetch.lock";

/// `sessionstats fetch --api-url URL --out DIR`, without credentials: more arguments follow.
fn fetch_run(url: &str, dir: &Path) -> Run {
    Run::new(["fetch", "--api-url", url, "--out"]).arg(dir)
}

/// `sessionstats fetch --api-url URL --out DIR ARGS…` with the test token.
fn fetch(server: &Server, dir: &Path, args: &[&str]) -> Ran {
    fetch_run(&server.url, dir)
        .args(args)
        .env("VIDEOSDK_TOKEN", TOKEN)
        .output()
}

/// Every file under `dir` (hidden ones too), by relative path, with its content. Files that
/// vanish while it looks (a running fetch renames its temporary files) are left out.
fn files(dir: &Path) -> BTreeMap<String, String> {
    walk(dir)
        .into_iter()
        .filter_map(|rel| {
            let text = std::fs::read_to_string(dir.join(&rel)).ok()?;
            Some((rel, text))
        })
        .collect()
}

/// The session files under `dir` (no lock, no failures file).
fn stored(dir: &Path) -> BTreeMap<String, String> {
    let mut all = files(dir);
    all.remove(LOCK);
    all.remove("fetch-failures.csv");
    all
}

/// What the store must hold for these sessions (plain ids, `Z` starts).
fn expected<'a>(sessions: impl IntoIterator<Item = &'a Session>) -> BTreeMap<String, String> {
    sessions
        .into_iter()
        .map(|s| (format!("{}/{}.json", &s.start[..10], s.id), s.doc.clone()))
        .collect()
}

/// `n` sessions `s00…`, in rooms r1/r2, over three days; every fifth one ongoing.
fn sessions(n: usize) -> Vec<Session> {
    (0..n)
        .map(|i| {
            let start = format!("2024-05-0{}T{:02}:00:00.000Z", 1 + i % 3, i % 24);
            let end = format!("2024-05-0{}T{:02}:30:00.000Z", 1 + i % 3, i % 24);
            let end = (i % 5 != 4).then_some(end.as_str());
            let room = if i % 2 == 0 { "r1" } else { "r2" };
            Session::new(&format!("s{i:02}"), room, &start, end)
        })
        .collect()
}

fn ids_file(dir: &Path, ids: &[&str]) -> PathBuf {
    let path = dir.join("ids.txt");
    std::fs::write(&path, ids.join("\n")).unwrap();
    path
}

fn row(stdout: &str, label: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {label:?} in the summary:\n{stdout}"))
}

#[test]
fn listing_follows_every_page_and_stores_each_session_as_sent() {
    let all = sessions(25);
    let server = Server::start(Some(TOKEN), all.clone());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");

    let first = fetch(&server, &dir, &["--per-page", "10"]);
    assert_eq!(first.code, 0, "{}", first.all());
    assert_eq!(stored(&dir), expected(&all));
    let hidden: Vec<_> = files(&dir)
        .into_keys()
        .filter(|k| k.contains("/.") || k.starts_with('.'))
        .collect();
    assert_eq!(
        hidden,
        [LOCK],
        "only the lock is hidden: no temporary file is left"
    );
    let pages: Vec<_> = server
        .hits()
        .iter()
        .map(|h| h.query["page"].clone())
        .collect();
    assert_eq!(pages.len(), 3);
    assert!(server
        .hits()
        .iter()
        .all(|h| h.authorization.as_deref() == Some(TOKEN)));
    assert_eq!(row(&first.stdout, "listed"), "25 sessions on 3 pages");
    assert_eq!(row(&first.stdout, "downloaded"), "25");

    // Again: ended sessions are already present, the 5 ongoing ones are stored anew.
    let again = fetch(&server, &dir, &["--per-page", "10"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(row(&again.stdout, "downloaded"), "0");
    assert_eq!(row(&again.stdout, "already present"), "20");
    assert_eq!(row(&again.stdout, "refreshed"), "5");
    assert_eq!(stored(&dir), expected(&all));

    // A room and a window: the query carries them, and only those sessions are stored.
    let dir2 = tmp.path().join("r1-may2");
    let ran = fetch(
        &server,
        &dir2,
        &[
            "--room",
            "r1",
            "--since",
            "2024-05-02",
            "--until",
            "2024-05-03",
            "--details",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.all());
    let want = all
        .iter()
        .filter(|s| s.room == "r1" && s.start.starts_with("2024-05-02"));
    assert_eq!(stored(&dir2), expected(want.clone()));
    let hits = server.hits();
    let list: Vec<_> = hits
        .iter()
        .filter(|h| h.query.contains_key("roomId"))
        .collect();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].query["startDate"], "1714608000000");
    assert_eq!(list[0].query["endDate"], "1714694399999");
    // --details: one GET per listed session.
    for s in want {
        assert_eq!(
            server.hits_of(&format!("/v2/sessions/{}", s.id)).len(),
            1,
            "{}",
            s.id
        );
    }
}

#[test]
fn requests_stay_within_concurrency_and_rate() {
    let all = sessions(30);
    let server = Server::start(Some(TOKEN), all.clone());
    server.set_delay(Duration::from_millis(60));
    let tmp = tempfile::tempdir().unwrap();
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    let list = ids_file(tmp.path(), &ids);
    let dir = tmp.path().join("store");
    let ran = fetch(
        &server,
        &dir,
        &["--ids", list.to_str().unwrap(), "--concurrency", "3"],
    );
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stored(&dir), expected(&all));
    let max = server.max_in_flight();
    assert!(max <= 3, "{max} requests in flight with --concurrency 3");
    assert!(
        max >= 2,
        "requests were not made in parallel (max in flight {max})"
    );

    // --rate 20 (through the v1 endpoint): starts are spaced by 50 ms, retries included.
    let server = Server::start(Some(TOKEN), all[..20].to_vec());
    server.fault(
        "/v1/meeting-sessions/s03",
        &[Fault::Status(503), Fault::Status(500)],
    );
    server.fault("/v1/meeting-sessions/s04", &[Fault::Status(502)]);
    let dir = tmp.path().join("rated");
    let args = [
        "--ids",
        list.to_str().unwrap(),
        "--rate",
        "20",
        "--api",
        "v1",
        "--retry-delay",
        "0.01",
    ];
    let ran = fetch(&server, &dir, &args);
    assert_eq!(ran.code, 2, "ids 20..29 are unknown here: {}", ran.all());
    assert_eq!(stored(&dir), expected(&all[..20]));
    let hits = server.hits();
    assert_eq!(hits.len(), 33, "30 ids and 3 retries");
    assert_eq!(row(&ran.stdout, "retries"), "3");
    assert!(hits
        .iter()
        .all(|h| h.path.starts_with("/v1/meeting-sessions/")));
    let span = hits.last().unwrap().at - hits[0].at;
    let observed = (hits.len() - 1) as f64 / span.as_secs_f64();
    assert!(
        observed <= 20.0 * 1.1,
        "observed {observed:.1} requests/s with --rate 20"
    );
    // No burst either: any second holds at most 20 starts (+1 for where it is cut).
    for (i, hit) in hits.iter().enumerate() {
        let window = hits[i..]
            .iter()
            .take_while(|h| h.at - hit.at < Duration::from_secs(1))
            .count();
        assert!(
            window <= 21,
            "{window} requests within a second of request {i}"
        );
    }
}

#[test]
fn transient_faults_are_retried_and_the_rest_recorded() {
    let all: Vec<Session> = sessions(8).into_iter().take(6).collect();
    let server = Server::start(Some(TOKEN), all.clone());
    let path = |id: &str| format!("/v2/sessions/{id}");
    server.fault(&path("s00"), &[Fault::TooMany(1)]);
    server.fault(&path("s01"), &[Fault::Status(500), Fault::Status(503)]);
    server.fault(&path("s02"), &[Fault::Slow(Duration::from_secs(3))]);
    server.fault(&path("s03"), &[Fault::CloseMidBody]);
    server.fault(&path("s04"), &[Fault::Truncated]);
    server.always(&path("s05"), Fault::Status(500));
    let tmp = tempfile::tempdir().unwrap();
    let list = ids_file(
        tmp.path(),
        &["s00", "s01", "s02", "s03", "s04", "s05", "gone"],
    );
    let dir = tmp.path().join("store");
    let ran = fetch(
        &server,
        &dir,
        &[
            "--ids",
            list.to_str().unwrap(),
            "--timeout",
            "1",
            "--retries",
            "3",
            "--retry-delay",
            "0.05",
            "--concurrency",
            "4",
        ],
    );
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert_eq!(stored(&dir), expected(&all[..5]));
    // 1 (429) + 2 (500, 503) + 1 (timeout) + 1 (cut connection) + 1 (truncated) + 3 (s05).
    assert_eq!(row(&ran.stdout, "retries"), "9");
    assert_eq!(
        server.hits_of(&path("s05")).len(),
        4,
        "1 attempt + 3 retries"
    );
    assert_eq!(
        server.hits_of(&path("gone")).len(),
        1,
        "a 404 is not retried"
    );
    let s00 = server.hits_of(&path("s00"));
    assert_eq!(s00.len(), 2);
    assert!(
        s00[1].at - s00[0].at >= Duration::from_millis(950),
        "Retry-After: 1 not honoured"
    );

    let failures = std::fs::read_to_string(dir.join("fetch-failures.csv")).unwrap();
    let mut lines: Vec<&str> = failures.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 3, "{failures}");
    assert!(
        lines[0].starts_with("gone,GET /v2/sessions/gone,HTTP 404"),
        "{failures}"
    );
    assert!(
        lines[1].starts_with("s05,GET /v2/sessions/s05,HTTP 500"),
        "{failures}"
    );
    assert!(lines[1].contains("4 attempts"), "{failures}");
    assert_eq!(lines[2], "session_id,request,reason");
    assert!(!ran.all().contains(TOKEN) && !failures.contains(TOKEN));
}

#[test]
fn refused_credentials_stop_the_run_at_once() {
    let all = sessions(20);
    let server = Server::start(Some(TOKEN), all.clone());
    let tmp = tempfile::tempdir().unwrap();
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    let list = ids_file(tmp.path(), &ids);
    let dir = tmp.path().join("store");
    let wrong = "eyJ.wrong-token-0815.sig";
    let args = ["--ids", list.to_str().unwrap(), "--concurrency", "2"];
    let ran = fetch_run(&server.url, &dir)
        .args(args)
        .env("VIDEOSDK_TOKEN", wrong)
        .output();
    assert_eq!(ran.code, 1, "{}", ran.all());
    for name in [
        "VIDEOSDK_TOKEN",
        "VIDEOSDK_API_KEY",
        "VIDEOSDK_SECRET",
        "401",
    ] {
        assert!(
            ran.stderr.contains(name),
            "{name} missing from: {}",
            ran.stderr
        );
    }
    assert!(!ran.all().contains(wrong));
    assert!(
        server.hits().len() <= 2,
        "{} requests after a 401",
        server.hits().len()
    );
    assert!(stored(&dir).is_empty());

    // No credentials at all: said before any request.
    let ran = fetch_run(&server.url, &dir).args(args).output();
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("VIDEOSDK_API_KEY and VIDEOSDK_SECRET"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_list_that_moves_while_paged_is_stored_whole_and_once() {
    let all = sessions(30);
    let server = Server::start(Some(TOKEN), all);
    // A new session appears at the head of the list once page 1 has been read: page 1's last
    // session shows up again on page 2, and the newcomer is only seen by a second pass.
    server.on_page_two(|list| {
        list.insert(
            0,
            Session::new("new", "r1", "2024-05-03T23:00:00.000Z", None),
        );
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let ran = fetch(&server, &dir, &["--per-page", "10", "--concurrency", "1"]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stored(&dir), expected(&server.sessions()));
    assert_eq!(row(&ran.stdout, "listed"), "31 sessions on 8 pages");
    assert!(ran.stderr.contains("listing it again"), "{}", ran.stderr);
}

#[test]
fn a_killed_fetch_resumes_without_fetching_a_finished_session_twice() {
    let all = sessions(60);
    let server = Server::start(Some(TOKEN), all.clone());
    server.set_delay(Duration::from_millis(80));
    let tmp = tempfile::tempdir().unwrap();
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    let list = ids_file(tmp.path(), &ids);
    let dir = tmp.path().join("store");
    let mut child = fetch_run(&server.url, &dir)
        .args(["--ids", list.to_str().unwrap(), "--concurrency", "2"])
        .env("VIDEOSDK_TOKEN", TOKEN)
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored(&dir).len() < 6 {
        assert!(Instant::now() < deadline, "the first fetch stored nothing");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A second fetch on the same folder is refused while the first runs.
    let second = fetch(&server, &dir, &["--ids", list.to_str().unwrap()]);
    assert_eq!(second.code, 1, "{}", second.all());
    assert!(
        second.stderr.contains("already writing"),
        "{}",
        second.stderr
    );

    child.kill().unwrap();
    child.wait().unwrap();
    let before = stored(&dir);
    assert!(
        before.len() < all.len(),
        "the fetch ended before it was killed"
    );

    let ran = fetch(
        &server,
        &dir,
        &["--ids", list.to_str().unwrap(), "--concurrency", "4"],
    );
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stored(&dir), expected(&all), "every session exactly once");
    let leftovers: Vec<_> = files(&dir)
        .into_keys()
        .filter(|k| k.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    for s in &all {
        let key = format!("{}/{}.json", &s.start[..10], s.id);
        if before.contains_key(&key) {
            let gets = server.hits_of(&format!("/v2/sessions/{}", s.id)).len();
            let want = if s.ended { 1 } else { 2 };
            assert_eq!(
                gets, want,
                "{} (ended: {}) fetched {gets} times",
                s.id, s.ended
            );
        }
    }
}

#[test]
fn hostile_session_ids_stay_inside_the_folder() {
    let start = "2024-05-01T10:00:00.000Z";
    let end = Some("2024-05-01T11:00:00.000Z");
    let hostile = ["../../x", "..\\y", ".hidden", "a/b"];
    let all: Vec<Session> = hostile
        .iter()
        .map(|id| Session::new(id, "r1", start, end))
        .collect();
    let server = Server::start(Some(TOKEN), all.clone());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let ran = fetch(&server, &dir, &[]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    // A leading dot is encoded too: no name is hidden, `.` or `..`.
    let names = ["%2E.%2F..%2Fx", "%2E.%5Cy", "%2Ehidden", "a%2Fb"];
    let want: BTreeMap<String, String> = names
        .iter()
        .zip(&all)
        .map(|(name, s)| (format!("2024-05-01/{name}.json"), s.doc.clone()))
        .collect();
    assert_eq!(stored(&dir), want);
    assert_eq!(listing(tmp.path()), ["store"]);

    // By id: the id is one encoded path segment; an id of dots cannot be asked for.
    let list = ids_file(tmp.path(), &["../../x", ".."]);
    let dir = tmp.path().join("by-id");
    let ran = fetch(
        &server,
        &dir,
        &["--ids", list.to_str().unwrap(), "--refresh"],
    );
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert_eq!(server.hits_of("/v2/sessions/..%2F..%2Fx").len(), 1);
    let got = stored(&dir);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        ["2024-05-01/%2E.%2F..%2Fx.json"]
    );
    let failures = std::fs::read_to_string(dir.join("fetch-failures.csv")).unwrap();
    assert!(failures.contains("only dots"), "{failures}");
}

#[test]
fn minted_tokens_and_secrets_appear_nowhere() {
    let all = sessions(6);
    let server = Server::start(None, all.clone());
    server.always("/v2/sessions/s01", Fault::Status(503));
    server.fault("/v2/sessions/s02", &[Fault::TooMany(1)]);
    let tmp = tempfile::tempdir().unwrap();
    let list = ids_file(tmp.path(), &["s00", "s01", "s02", "missing"]);
    let dir = tmp.path().join("store");
    let (key, secret) = ("key-93a1c", "secret-5f0e77d2b1");
    let ran = fetch_run(&server.url, &dir)
        .args(["--ids", list.to_str().unwrap()])
        .args(["--retries", "1", "--retry-delay", "0.05"])
        .env("VIDEOSDK_API_KEY", key)
        .env("VIDEOSDK_SECRET", secret)
        .output();
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert_eq!(stored(&dir).len(), 2);
    let minted = server.hits()[0].authorization.clone().unwrap();
    let mut everything = ran.all();
    everything.extend(files(&dir).into_values());
    for secret in [secret, minted.as_str()] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    // The minted token names the key (the API finds the project by it), not the secret.
    assert_eq!(minted.split('.').count(), 3);
}

/// `YYYY-MM-DD` of the UTC day `days` days from today.
fn utc_day(days: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    sessionstats::time::to_rfc3339(now + days * 86_400_000)[..10].to_string()
}

#[test]
fn run_fetches_the_previous_day_and_writes_its_reports() {
    let (yesterday, before, today) = (utc_day(-1), utc_day(-2), utc_day(0));
    let at = |day: &str, hour: u32| format!("{day}T{hour:02}:00:00.000Z");
    let mut all = Vec::new();
    for (i, day) in [&yesterday, &yesterday, &yesterday, &before, &today]
        .iter()
        .enumerate()
    {
        let (start, end) = (at(day, i as u32), at(day, i as u32 + 1));
        all.push(Session::new(&format!("run{i}"), "r1", &start, Some(&end)));
    }
    let server = Server::start(Some(TOKEN), all.clone());
    let tmp = tempfile::tempdir().unwrap();
    let (store, reports) = (tmp.path().join("store"), tmp.path().join("reports"));
    let config = tmp.path().join("run.toml");
    std::fs::write(
        &config,
        format!(
            "out = {:?}\nreports = {:?}\napi-url = {:?}\nconcurrency = 2\n\
             parquet-compression = \"lz4\"\nformat = {:?}\n",
            store,
            reports,
            server.url,
            if cfg!(feature = "parquet") {
                "csv,parquet"
            } else {
                "csv"
            }
        ),
    )
    .unwrap();
    let ran = Run::new(["run", "--config", config.to_str().unwrap()])
        .env("VIDEOSDK_TOKEN", TOKEN)
        .output();
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(
        stored(&store),
        expected(&all[..3]),
        "only yesterday is fetched"
    );
    let report = reports.join(&yesterday);
    for name in [
        "sessions",
        "participants",
        "overlaps",
        "concurrency",
        "rejects",
    ] {
        assert!(
            report.join(format!("{name}.csv")).is_file(),
            "{name}.csv missing"
        );
    }
    // The config file's codec reaches analyze, whose manifest records it.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("manifest.json")).unwrap()).unwrap();
    let codec = &manifest["options"]["parquet_compression"];
    if cfg!(feature = "parquet") {
        assert_eq!(codec, "lz4");
        assert!(report.join("sessions.parquet").is_file());
    } else {
        assert!(codec.is_null(), "{codec}");
    }
    let sessions_csv = std::fs::read_to_string(report.join("sessions.csv")).unwrap();
    assert_eq!(sessions_csv.lines().count(), 4, "{sessions_csv}");
    for s in &all[..3] {
        assert!(sessions_csv.contains(&s.id), "{sessions_csv}");
    }
    assert!(ran.stdout.contains("fetch summary"), "{}", ran.stdout);
    assert_eq!(row(&ran.stdout, "listed"), "3 sessions on 1 page");
    assert!(!ran.all().contains(TOKEN));
}

#[test]
fn a_listing_killed_part_way_resumes_with_every_session_once() {
    let all = sessions(60);
    let server = Server::start(Some(TOKEN), all.clone());
    server.set_delay(Duration::from_millis(80));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let listing = |concurrency: &str| {
        fetch_run(&server.url, &dir)
            .args(["--per-page", "5", "--concurrency", concurrency])
            .env("VIDEOSDK_TOKEN", TOKEN)
    };
    let mut child = listing("1").spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stored(&dir).keys().any(|k| !k.contains("/.")) {
        assert!(Instant::now() < deadline, "the first fetch stored nothing");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = stored(&dir);
    assert!(
        before.len() < all.len(),
        "the fetch ended before it was killed"
    );

    // What a kill can leave besides: a temporary file written but not renamed (a document
    // and a failures file), and a session whose start moved stored under both days.
    let key = before.keys().find(|k| !k.contains("/.")).unwrap();
    let id = key[11..].strip_suffix(".json").unwrap();
    let s = all.iter().find(|s| s.id == id).unwrap();
    let older = Session::new(&s.id, &s.room, "2024-04-30T23:00:00.000Z", None);
    std::fs::create_dir_all(dir.join("2024-04-30")).unwrap();
    std::fs::write(dir.join(format!("2024-04-30/{id}.json")), &older.doc).unwrap();
    let half = &s.doc[..s.doc.len() / 2];
    std::fs::write(
        dir.join(format!("{}/.{id}.json.4242.tmp", &key[..10])),
        half,
    )
    .unwrap();
    std::fs::write(dir.join(".fetch-failures.csv.4242.tmp"), "session_id,req").unwrap();
    assert!(
        dir.join(LOCK).exists(),
        "the killed run's lock file stays behind"
    );

    let ran = listing("4").output();
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stored(&dir), expected(&all), "every session exactly once");
    let hidden: Vec<_> = files(&dir)
        .into_keys()
        .filter(|k| k.contains("/.") || k.starts_with('.'))
        .collect();
    assert_eq!(hidden, [LOCK], "no temporary file is left");
    assert!(!dir.join("2024-04-30").join(format!("{id}.json")).exists());
}

#[test]
fn a_429_holds_back_every_request_for_its_retry_after() {
    let all = sessions(10);
    let server = Server::start(Some(TOKEN), all.clone());
    server.fault("/v2/sessions/s00", &[Fault::TooMany(1)]);
    let tmp = tempfile::tempdir().unwrap();
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    let list = ids_file(tmp.path(), &ids);
    let dir = tmp.path().join("store");
    let args = ["--ids", list.to_str().unwrap(), "--concurrency", "2"];
    let ran = fetch(&server, &dir, &args);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stored(&dir), expected(&all));
    let refused = server.hits_of("/v2/sessions/s00")[0].at;
    let pause = refused..refused + Duration::from_millis(900);
    let during: Vec<_> = server
        .hits()
        .into_iter()
        .filter(|h| h.at > refused && pause.contains(&h.at))
        .map(|h| h.path)
        .collect();
    // At most the requests already on their way when the 429 came back (one, or two if
    // the other slot was quick).
    assert!(
        during.len() <= 3,
        "{} requests started during the Retry-After pause: {during:?}",
        during.len()
    );
}

#[test]
fn an_answer_that_is_not_a_list_page_is_a_failure_not_an_empty_list() {
    let server = Server::start(Some(TOKEN), sessions(5));
    server.always("/v2/sessions/", Fault::Body(r#"{"message":"maintenance"}"#));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let ran = fetch(&server, &dir, &["--retries", "1", "--retry-delay", "0.05"]);
    assert_eq!(ran.code, 1, "{}", ran.all());
    assert_eq!(server.hits().len(), 2, "one attempt and one retry");
    let failures = std::fs::read_to_string(dir.join("fetch-failures.csv")).unwrap();
    assert!(failures.contains("not a list page"), "{failures}");
    assert!(stored(&dir).is_empty());
}

#[test]
fn an_unusable_api_url_is_said_and_its_password_never_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let list = ids_file(tmp.path(), &["s00", "s01"]);
    let dir = tmp.path().join("store");
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let with_password = format!("http://operator:hunter2@127.0.0.1:{closed}");
    let fetch_from = |url: &str| {
        fetch_run(url, &dir)
            .args(["--ids", list.to_str().unwrap()])
            .args(["--retries", "1", "--retry-delay", "0.05"])
            .env("VIDEOSDK_TOKEN", TOKEN)
            .output()
    };

    // Nobody listens: every request fails after its retry, and no message repeats the URL.
    let ran = fetch_from(&with_password);
    assert_eq!(ran.code, 1, "{}", ran.all());
    let failures = std::fs::read_to_string(dir.join("fetch-failures.csv")).unwrap();
    assert!(
        failures.contains(&format!(
            "cannot connect to 127.0.0.1:{closed}: Connection refused"
        )),
        "one clear line: {failures}"
    );
    let everything = format!("{}\n{failures}", ran.all());
    assert!(!everything.contains("hunter2"), "{everything}");
    assert!(!everything.contains(TOKEN));

    // Not a URL at all, or one no request can be made to: said at once, nothing retried.
    for url in ["api.videosdk.live", "http://", "http://bad host"] {
        let started = Instant::now();
        let ran = fetch_from(url);
        assert_eq!(ran.code, 1, "{url}: {}", ran.all());
        assert!(ran.stderr.contains("--api-url"), "{url}: {}", ran.stderr);
        assert!(started.elapsed() < Duration::from_secs(5), "{url}: retried");
    }
}

#[test]
fn a_last_page_past_the_end_costs_a_few_requests_not_the_run() {
    let all = sessions(5);
    let server = Server::start(Some(TOKEN), all.clone());
    // The first answer claims more pages than a u64 can count past; the pages after it are
    // empty, and the list is then walked again with believable answers.
    let docs: Vec<&str> = all.iter().map(|s| s.doc.as_str()).collect();
    let lying = format!(
        "{{\"pageInfo\":{{\"currentPage\":1,\"perPage\":10,\"lastPage\":{},\"total\":5}},\
         \"data\":[{}]}}",
        u64::MAX,
        docs.join(",")
    );
    server.fault(
        "/v2/sessions/",
        &[Fault::Body(Box::leak(lying.into_boxed_str()))],
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let started = Instant::now();
    let ran = fetch(&server, &dir, &["--per-page", "10"]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stored(&dir), expected(&all));
    let asked = server.hits_of("/v2/sessions/").len();
    assert!(asked <= 40, "{asked} list requests");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_long_ids_file_is_fetched_whole() {
    // More ids than the fetch keeps queued at once (1024).
    let all: Vec<Session> = (0..1100)
        .map(|i| {
            let start = format!("2024-05-01T{:02}:{:02}:00.000Z", i / 60 % 24, i % 60);
            Session::new(&format!("id{i:04}"), "r1", &start, Some(&start))
        })
        .collect();
    let server = Server::start(Some(TOKEN), all.clone());
    let tmp = tempfile::tempdir().unwrap();
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    let list = ids_file(tmp.path(), &ids);
    let dir = tmp.path().join("store");
    let args = ["--ids", list.to_str().unwrap(), "--concurrency", "16"];
    let ran = fetch(&server, &dir, &args);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(row(&ran.stdout, "downloaded"), "1100");
    assert_eq!(stored(&dir), expected(&all));
    assert_eq!(server.hits().len(), 1100);
}

/// A session ongoing at 2024-05-01 `hour`:00, and its ended copy.
fn ongoing_then_ended(id: &str, hour: u32) -> (Session, Session) {
    let start = format!("2024-05-01T{hour:02}:00:00.000Z");
    let end = format!("2024-05-01T{hour:02}:45:00.000Z");
    (
        Session::new(id, "r1", &start, None),
        Session::new(id, "r1", &start, Some(&end)),
    )
}

#[test]
fn stored_ongoing_sessions_outside_the_window_are_fetched_again_by_id() {
    let (late, late_ended) = ongoing_then_ended("late", 22);
    let (vanished, _) = ongoing_then_ended("vanished", 23);
    let next = Session::new(
        "next",
        "r1",
        "2024-05-02T10:00:00.000Z",
        Some("2024-05-02T11:00:00.000Z"),
    );
    let server = Server::start(
        Some(TOKEN),
        vec![late.clone(), vanished.clone(), next.clone()],
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let day = |since: &'static str, until: &'static str| ["--since", since, "--until", until];

    let first = fetch(&server, &dir, &day("2024-05-01", "2024-05-02"));
    assert_eq!(first.code, 0, "{}", first.all());
    assert_eq!(stored(&dir), expected([&late, &vanished]));

    // Overnight `late` ends and the API forgets `vanished`; the next window excludes both.
    server.replace(late_ended.clone());
    server.remove("vanished");
    let second = fetch(&server, &dir, &day("2024-05-02", "2024-05-03"));
    assert_eq!(second.code, 2, "the 404 is a failure: {}", second.all());
    assert_eq!(row(&second.stdout, "listed"), "1 session on 1 page");
    assert_eq!(row(&second.stdout, "downloaded"), "1");
    assert!(
        row(&second.stdout, "refreshed").starts_with("1 (1 stored as ongoing"),
        "{}",
        second.stdout
    );
    assert!(
        second.stderr.contains("fetching them again by id"),
        "{}",
        second.stderr
    );
    assert_eq!(server.hits_of("/v2/sessions/late").len(), 1);
    assert_eq!(server.hits_of("/v2/sessions/vanished").len(), 1);
    // The ended copy replaces the ongoing one; the forgotten session keeps its last copy.
    assert_eq!(stored(&dir), expected([&late_ended, &vanished, &next]));
    let failures = std::fs::read_to_string(dir.join("fetch-failures.csv")).unwrap();
    assert!(
        failures.contains("vanished,GET /v2/sessions/vanished,HTTP 404"),
        "{failures}"
    );

    // `late` is stored as ended now: never asked for again.
    let third = fetch(&server, &dir, &day("2024-05-02", "2024-05-03"));
    assert_eq!(
        server.hits_of("/v2/sessions/late").len(),
        1,
        "{}",
        third.all()
    );
}

#[test]
fn a_stored_ongoing_session_is_requested_once_per_run() {
    let (listed, listed_ended) = ongoing_then_ended("listed", 10);
    let (outside, outside_ended) = ongoing_then_ended("outside", 11);
    let server = Server::start(Some(TOKEN), vec![listed.clone(), outside.clone()]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let first = fetch(&server, &dir, &[]);
    assert_eq!(first.code, 0, "{}", first.all());
    assert_eq!(stored(&dir), expected([&listed, &outside]));

    // Both end; the second listing only returns `listed` (its room), and --details GETs it.
    server.replace(listed_ended.clone());
    server.replace(Session {
        room: "r2".into(),
        ..outside_ended.clone()
    });
    let second = fetch(&server, &dir, &["--room", "r1", "--details"]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(
        server.hits_of("/v2/sessions/listed").len(),
        1,
        "listed: one GET"
    );
    assert_eq!(
        server.hits_of("/v2/sessions/outside").len(),
        1,
        "not listed: one GET"
    );
    assert_eq!(stored(&dir), expected([&listed_ended, &outside_ended]));
    assert!(
        row(&second.stdout, "refreshed").starts_with("2 (1 stored as ongoing"),
        "{}",
        second.stdout
    );
}

#[test]
fn run_completes_a_session_stored_ongoing_the_night_before() {
    let (late, late_ended) = ongoing_then_ended("late", 23);
    let server = Server::start(Some(TOKEN), vec![late.clone()]);
    let tmp = tempfile::tempdir().unwrap();
    let (store, reports) = (tmp.path().join("store"), tmp.path().join("reports"));
    let night = |since: &str, until: &str| {
        let args = [
            "run",
            "--out",
            store.to_str().unwrap(),
            "--reports",
            reports.to_str().unwrap(),
            "--api-url",
            &server.url,
            "--since",
            since,
            "--until",
            until,
        ];
        Run::new(args).env("VIDEOSDK_TOKEN", TOKEN).output()
    };
    let one = night("2024-05-01", "2024-05-02");
    assert_eq!(one.code, 0, "{}", one.all());
    assert_eq!(stored(&store), expected([&late]));

    server.replace(late_ended.clone());
    let two = night("2024-05-02", "2024-05-03");
    assert_eq!(two.code, 0, "{}", two.all());
    assert_eq!(server.hits_of("/v2/sessions/late").len(), 1);
    assert_eq!(stored(&store), expected([&late_ended]), "{}", two.all());
    assert!(
        row(&two.stdout, "refreshed").starts_with("1 (1 stored as ongoing"),
        "{}",
        two.stdout
    );
}

#[test]
fn run_says_a_failed_listing_failed_and_checks_its_report_folder_first() {
    let server = Server::start(Some(TOKEN), Vec::new());
    server.always("/v2/sessions/", Fault::Status(500));
    let tmp = tempfile::tempdir().unwrap();
    let run = |reports: &Path| {
        Run::new(["run", "--out"])
            .arg(tmp.path().join("store"))
            .arg("--reports")
            .arg(reports)
            .args(["--api-url", &server.url, "--retries", "0"])
            .env("VIDEOSDK_TOKEN", TOKEN)
            .output()
    };
    // A --reports that names a file is refused before anything is fetched.
    let file = tmp.path().join("reports.txt");
    std::fs::write(&file, "not a folder").unwrap();
    let ran = run(&file);
    assert_eq!(ran.code, 1, "{}", ran.all());
    assert!(
        ran.stderr.contains("is a file, not a folder"),
        "{}",
        ran.all()
    );
    assert!(server.hits().is_empty(), "nothing is fetched");
    // Every listing request fails: the cron mail says so, not "no sessions stored".
    let ran = run(&tmp.path().join("reports"));
    assert_eq!(ran.code, 1, "{}", ran.all());
    assert!(
        ran.stdout
            .contains("run: failed: 1 session or page failed to download (see "),
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains("no sessions stored"), "{}", ran.stdout);
}
