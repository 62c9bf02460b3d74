//! `fetch` and `run` against hostile or broken servers (issue 10): a tiny programmable HTTP
//! server on 127.0.0.1 per test, answering each request with what the test's handler says.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

/// A token that expired in 2001 (`{"exp":1000000000}`): the SDK replaced such a token with
/// one minted from the key and secret when those were set too.
const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjEwMDAwMDAwMDB9.EXPIRED-TOKEN-SIGNATURE";

#[derive(Debug, Clone)]
struct Req {
    path: String,
    query: HashMap<String, String>,
    authorization: Option<String>,
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send `Content-Length` (else the body ends when the connection closes).
    length: bool,
}

impl Resp {
    fn json(status: u16, body: impl Into<Vec<u8>>) -> Resp {
        Resp {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
            length: true,
        }
    }
}

type Handler = dyn Fn(&Req) -> Resp + Send + Sync;

struct Mock {
    url: String,
    log: Arc<Mutex<Vec<Req>>>,
}

impl Mock {
    fn start(handler: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let shared = Arc::clone(&log);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = Arc::clone(&handler);
                let log = Arc::clone(&shared);
                thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut first = String::new();
                    if reader.read_line(&mut first).is_err() {
                        return;
                    }
                    let target = first.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let mut authorization = None;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':') {
                            if k.eq_ignore_ascii_case("authorization") {
                                authorization = Some(v.trim().to_string());
                            }
                        }
                    }
                    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                    let query = query
                        .split('&')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect();
                    let req = Req {
                        path: path.to_string(),
                        query,
                        authorization,
                    };
                    log.lock().unwrap().push(req.clone());
                    let resp = handler(&req);
                    let mut out = stream;
                    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", resp.status);
                    for (k, v) in &resp.headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    if resp.length {
                        head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
                    }
                    head.push_str("\r\n");
                    let _ = out.write_all(head.as_bytes());
                    for chunk in resp.body.chunks(64 << 10) {
                        if out.write_all(chunk).is_err() {
                            break;
                        }
                    }
                    let _ = out.flush();
                });
            }
        });
        Mock { url, log }
    }

    fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn sessionstats(env: &[(&str, &str)], args: &[&str]) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sessionstats"));
    for var in [
        "VIDEOSDK_TOKEN",
        "VIDEOSDK_API_KEY",
        "VIDEOSDK_SECRET",
        "VIDEOSDK_API_ENDPOINT",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null());
    let out = cmd.output().unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn fetch(mock: &Mock, dir: &Path, extra: &[&str]) -> Ran {
    let out = dir.to_str().unwrap();
    let mut args = vec![
        "fetch",
        "--api-url",
        &mock.url,
        "--out",
        out,
        "--retries",
        "0",
    ];
    args.extend_from_slice(extra);
    sessionstats(&[("VIDEOSDK_TOKEN", TOKEN)], &args)
}

fn failures(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("fetch-failures.csv")).unwrap_or_default()
}

fn session(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","roomId":"r","start":"2024-05-01T10:00:00.000Z","end":"2024-05-01T11:00:00.000Z","participants":[]}}"#
    )
}

fn page(sessions: &[String], last_page: u64, total: u64) -> String {
    format!(
        r#"{{"pageInfo":{{"currentPage":1,"perPage":2,"lastPage":{last_page},"total":{total}}},"data":[{}]}}"#,
        sessions.join(",")
    )
}

#[test]
fn a_listing_that_ignores_page_stops_as_a_failure() {
    let mock = Mock::start(|_| {
        Resp::json(
            200,
            page(
                &[session("a"), session("b")],
                1_000_000_000_000,
                2_000_000_000_000,
            ),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let ran = fetch(&mock, dir.path(), &[]);
    assert_eq!(ran.code, Some(2), "{}{}", ran.stdout, ran.stderr);
    assert!(
        failures(dir.path()).contains("makes no progress"),
        "{}",
        failures(dir.path())
    );
    let n = mock.requests().len();
    assert!(n < 100, "{n} requests");
    assert!(dir.path().join("2024-05-01/a.json").exists());
}

#[test]
fn a_listing_whose_pages_keep_failing_is_given_up() {
    let mock = Mock::start(|req| match req.query.get("page").map(String::as_str) {
        Some("1") => Resp::json(
            200,
            page(&[session("a")], 1_000_000_000_000, 2_000_000_000_000),
        ),
        _ => Resp::json(500, "{}"),
    });
    let dir = tempfile::tempdir().unwrap();
    let ran = fetch(&mock, dir.path(), &[]);
    assert_eq!(ran.code, Some(2), "{}{}", ran.stdout, ran.stderr);
    assert!(
        failures(dir.path()).contains("pages in a row failed"),
        "{}",
        failures(dir.path())
    );
    let n = mock.requests().len();
    assert!(n < 200, "{n} requests");
    assert!(dir.path().join("2024-05-01/a.json").exists());
}

#[test]
fn an_answer_above_the_size_limit_is_a_failed_request() {
    let big = format!(r#"{{"id":"big","pad":"{}"}}"#, "x".repeat(4 << 20));
    let big = Arc::new(big);
    let body = Arc::clone(&big);
    let mock = Mock::start(move |req| {
        let mut resp = Resp::json(200, body.as_bytes().to_vec());
        // One answer with a length, one without: both are cut off at the limit.
        resp.length = req.path.ends_with("big");
        resp
    });
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("ids.txt");
    std::fs::write(&ids, "big\nbig2\n").unwrap();
    let ran = fetch(
        &mock,
        &dir.path().join("store"),
        &["--ids", ids.to_str().unwrap(), "--max-body-size", "1M"],
    );
    assert_eq!(ran.code, Some(1), "{}{}", ran.stdout, ran.stderr);
    let failed = failures(&dir.path().join("store"));
    assert_eq!(
        failed.matches("larger than 1048576 bytes").count(),
        2,
        "{failed}"
    );
    let ran = fetch(
        &mock,
        &dir.path().join("store"),
        &["--ids", ids.to_str().unwrap()],
    );
    // The default is 64M: `big` is stored; `big2` answers about `big`, a failure.
    assert_eq!(ran.code, Some(2), "{}{}", ran.stdout, ran.stderr);
    let bad = sessionstats(
        &[],
        &["fetch", "--out", "x", "--ids", "-", "--max-body-size", "0"],
    );
    assert_eq!(bad.code, Some(1));
}

#[test]
fn server_text_is_escaped_on_the_terminal_and_in_the_failures_file() {
    let message = "gone\nfailed          0\u{1b}]0;owned\u{7}\u{1b}[2J";
    let body = serde_json::json!({ "message": message }).to_string();
    let mock = Mock::start(move |_| Resp::json(404, body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("ids.txt");
    std::fs::write(&ids, "x\u{1b}[2Jy\n").unwrap();
    let store = dir.path().join("store");
    let ran = fetch(&mock, &store, &["--ids", ids.to_str().unwrap()]);
    assert_eq!(ran.code, Some(1));
    let failed = failures(&store);
    for text in [&ran.stdout, &ran.stderr, &failed] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(
            !text.contains("\nfailed          0"),
            "a forged line: {text:?}"
        );
    }
    assert!(failed.contains("gone\\nfailed"), "{failed}");
    assert_eq!(failed.lines().count(), 2, "{failed}");
}

#[test]
fn the_given_token_is_sent_even_with_a_key_and_secret_set() {
    let mock = Mock::start(|_| Resp::json(401, r#"{"message":"token expired"}"#));
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("ids.txt");
    std::fs::write(&ids, "a\n").unwrap();
    let out = dir.path().join("store");
    let ran = sessionstats(
        &[
            ("VIDEOSDK_TOKEN", TOKEN),
            ("VIDEOSDK_API_KEY", "key"),
            ("VIDEOSDK_SECRET", "secret"),
        ],
        &[
            "fetch",
            "--api-url",
            &mock.url,
            "--out",
            out.to_str().unwrap(),
            "--ids",
            ids.to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stderr.contains("refused the credentials"),
        "{}",
        ran.stderr
    );
    let sent: Vec<_> = mock
        .requests()
        .into_iter()
        .map(|r| r.authorization)
        .collect();
    assert_eq!(sent, [Some(TOKEN.to_string())]);
}

#[test]
fn bytes_that_are_not_utf8_are_stored_as_sent() {
    let mut doc = session("s1").into_bytes();
    let at = doc.len() - 1;
    doc.splice(at..at, b",\"name\":\"Zo\xEB \xFF\"".iter().copied());
    let listed = {
        let mut p = br#"{"pageInfo":{"currentPage":1,"perPage":2,"lastPage":1,"total":1},"data":["#
            .to_vec();
        p.extend_from_slice(&doc);
        p.extend_from_slice(b"]}");
        p
    };
    let by_id = doc.clone();
    let mock = Mock::start(move |req| {
        if req.path == "/v2/sessions/" {
            Resp::json(200, listed.clone())
        } else {
            Resp::json(200, by_id.clone())
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let ran = fetch(&mock, &dir.path().join("list"), &[]);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    assert_eq!(
        std::fs::read(dir.path().join("list/2024-05-01/s1.json")).unwrap(),
        doc
    );
    let ids = dir.path().join("ids.txt");
    std::fs::write(&ids, "s1\n").unwrap();
    let ran = fetch(
        &mock,
        &dir.path().join("ids"),
        &["--ids", ids.to_str().unwrap()],
    );
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    assert_eq!(
        std::fs::read(dir.path().join("ids/2024-05-01/s1.json")).unwrap(),
        doc
    );
}

#[test]
fn rates_out_of_range_are_refused_at_the_command_line() {
    for rate in ["1e-19", "1e-30", "0", "inf"] {
        let ran = sessionstats(
            &[("VIDEOSDK_TOKEN", TOKEN)],
            &["fetch", "--out", "never", "--ids", "-", "--rate", rate],
        );
        assert_eq!(ran.code, Some(1), "{rate}: {}", ran.stderr);
        assert!(ran.stderr.contains("--rate"), "{rate}: {}", ran.stderr);
        assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    }
}

#[test]
fn concurrency_out_of_range_is_refused_at_the_command_line() {
    // The largest makes tokio's semaphore panic when it is not refused first.
    for n in ["0", "1025", "2305843009213693952"] {
        let ran = sessionstats(
            &[("VIDEOSDK_TOKEN", TOKEN)],
            &["fetch", "--out", "never", "--ids", "-", "--concurrency", n],
        );
        assert_eq!(ran.code, Some(1), "{n}: {}", ran.stderr);
        assert!(
            ran.stderr.contains("--concurrency must be 1 to 1024"),
            "{n}: {}",
            ran.stderr
        );
        assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    }
}

#[test]
fn a_list_that_keeps_changing_is_a_failure_and_an_id_less_session_is_recorded_once() {
    let calls = Arc::new(Mutex::new(0u64));
    let counter = Arc::clone(&calls);
    let mock = Mock::start(move |req| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        let page_no: u64 = req
            .query
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let no_id = r#"{"roomId":"r","start":"2024-05-01T10:00:00.000Z"}"#.to_string();
        let sessions = match page_no {
            1 => vec![session("a"), no_id],
            _ => vec![session("b")],
        };
        // The total changes with every answer: the list moves under every walk.
        Resp::json(200, page(&sessions, 2, 3 + *n))
    });
    let dir = tempfile::tempdir().unwrap();
    let ran = fetch(&mock, dir.path(), &[]);
    assert_eq!(ran.code, Some(2), "{}{}", ran.stdout, ran.stderr);
    let failed = failures(dir.path());
    assert!(failed.contains("kept changing"), "{failed}");
    assert_eq!(failed.matches("has no id").count(), 1, "{failed}");
}

#[test]
fn a_redirect_to_another_origin_is_refused_and_hops_are_counted() {
    let elsewhere = Mock::start(|_| Resp::json(200, session("stolen")));
    let target = elsewhere.url.clone();
    let mock = Mock::start(move |req| {
        let mut resp = Resp::json(302, "");
        let location = match req.path.as_str() {
            "/v2/sessions/away" => format!("{target}/v2/sessions/away"),
            "/v2/sessions/here" => "/v2/sessions/here2".to_string(),
            _ => return Resp::json(200, session("here")),
        };
        resp.headers.push(("Location".into(), location));
        resp
    });
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("ids.txt");
    std::fs::write(&ids, "away\nhere\n").unwrap();
    let store = dir.path().join("store");
    let ran = fetch(&mock, &store, &["--ids", ids.to_str().unwrap()]);
    assert_eq!(ran.code, Some(2), "{}{}", ran.stdout, ran.stderr);
    assert!(
        elsewhere.requests().is_empty(),
        "nothing is sent to another origin"
    );
    assert!(
        failures(&store).contains("another origin"),
        "{}",
        failures(&store)
    );
    assert!(store.join("2024-05-01/here.json").exists());
    // away (1) + here and its same-origin hop (2).
    assert!(ran.stdout.contains("requests        3 "), "{}", ran.stdout);
}

#[test]
fn run_refuses_a_future_since_without_until_and_config_errors_hide_values() {
    let ran = sessionstats(
        &[("VIDEOSDK_TOKEN", TOKEN)],
        &["run", "--out", "never", "--since", "2099-01-01"],
    );
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains("future"), "{}", ran.stderr);
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("credentials.env");
    std::fs::write(
        &env,
        "export VIDEOSDK_API_KEY=k\nexport VIDEOSDK_SECRET=hunter2-secret\n",
    )
    .unwrap();
    let ran = sessionstats(&[], &["run", "--config", env.to_str().unwrap()]);
    assert_eq!(ran.code, Some(1));
    assert!(
        !ran.stderr.contains("hunter2") && !ran.stderr.contains("export"),
        "{}",
        ran.stderr
    );
    let toml = dir.path().join("run.toml");
    std::fs::write(&toml, "out = \"x\"\nrate = \"hunter2-secret\"\n").unwrap();
    let ran = sessionstats(&[], &["run", "--config", toml.to_str().unwrap()]);
    assert_eq!(ran.code, Some(1));
    assert!(!ran.stderr.contains("hunter2"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("`rate` must be a number"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_long_listing_keeps_few_tasks_and_threads() {
    // 3,000 sessions on 30 pages, stored while the server is slow to answer the next page:
    // the run ends with every session, and never more than a few dozen threads.
    let mock = Mock::start(|req| {
        let page_no: u64 = req
            .query
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let sessions: Vec<String> = (0..100)
            .map(|i| session(&format!("s{page_no:02}-{i:03}")))
            .collect();
        Resp::json(200, page(&sessions, 30, 3000))
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sessionstats"))
        .env("VIDEOSDK_TOKEN", TOKEN)
        .args([
            "fetch",
            "--api-url",
            &mock.url,
            "--out",
            &out,
            "--per-page",
            "100",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut most = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let Ok(entries) = std::fs::read_dir(format!("/proc/{}/task", child.id())) {
            most = most.max(entries.count());
        }
        thread::sleep(std::time::Duration::from_millis(2));
    };
    assert_eq!(status.code(), Some(0));
    let stored = std::fs::read_dir(dir.path().join("2024-05-01"))
        .unwrap()
        .count();
    assert_eq!(stored, 3000);
    assert!(most <= 16, "{most} threads");
}
