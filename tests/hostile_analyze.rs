//! `analyze` on hostile input (issue 10): FIFOs, names that are not UTF-8, floods of rejects,
//! gzip bombs, oversized documents, a closed stderr, absurd options.

use crate::util::report::Table;
use crate::util::{gz, write};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const AS_OF: &str = "2024-05-02T00:00:00Z";

fn session(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","start":"2024-05-01T10:00:00.000Z","end":"2024-05-01T11:00:00.000Z","participants":[{{"participantId":"p","timelog":[{{"start":"2024-05-01T10:00:00.000Z","end":"2024-05-01T10:30:00.000Z"}}]}}]}}"#
    )
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The largest resident set of this run, in MB: its `VmHWM`, read while it runs. (Not
    /// rusage: a spawned child's high-water mark includes the test process it was spawned
    /// from, which other tests in this binary make large.)
    peak_rss_mb: i64,
}

/// Runs `sessionstats analyze ARGS… --as-of AS_OF`, killed after `limit`.
fn analyze(args: &[&std::ffi::OsStr], limit: Duration) -> Ran {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sessionstats"))
        .arg("analyze")
        .args(args)
        .args(["--as-of", AS_OF])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    let mut status = 0;
    let mut peak_kb = 0;
    // SAFETY: waitpid only writes into the status it is given.
    while unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } != pid {
        peak_kb = peak_kb.max(high_water_kb(pid).unwrap_or(0));
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("analyze did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Already reaped by waitpid: this returns at once (with an error nobody needs).
    let _ = child.wait();
    Ran {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        peak_rss_mb: peak_kb / 1024,
    }
}

/// `VmHWM` of a running process, in kB.
fn high_water_kb(pid: libc::pid_t) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn os(path: &Path) -> &std::ffi::OsStr {
    path.as_os_str()
}

#[test]
fn a_fifo_in_a_folder_is_skipped_rejected_and_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    write(&input.join("good.json"), session("s1"));
    let fifo = input.join("x.json");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let out = dir.path().join("out");
    let ran = analyze(
        &[os(&input), "--out".as_ref(), os(&out)],
        Duration::from_secs(60),
    );
    assert_eq!(ran.code, Some(2), "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains("files skipped:      1"),
        "{}",
        ran.stdout
    );
    let rejects = Table::report(&out, "rejects");
    assert_eq!(rejects.rows.len(), 1);
    assert!(rejects
        .get(0, "reason")
        .starts_with("not a regular file: a FIFO"));
    assert_eq!(Table::report(&out, "sessions").rows.len(), 1);
    // Named on the command line, it is refused when opened, without blocking either.
    let ran = analyze(
        &[os(&fifo), "--out".as_ref(), os(&out)],
        Duration::from_secs(60),
    );
    assert_eq!(ran.code, Some(1), "{}{}", ran.stdout, ran.stderr);
}

#[test]
fn a_name_that_is_not_utf8_is_read_and_printed_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let name = |bytes: &[u8]| input.join(std::ffi::OsStr::from_bytes(bytes));
    write(&name(b"good\xff.json"), session("s1"));
    write(&name(b"bad\xfe\x1b[2J.json"), "{");
    let out = dir.path().join("out");
    let ran = analyze(
        &[os(&input), "--out".as_ref(), os(&out)],
        Duration::from_secs(60),
    );
    assert_eq!(ran.code, Some(2), "{}{}", ran.stdout, ran.stderr);
    assert_eq!(Table::report(&out, "sessions").rows.len(), 1);
    assert!(!ran.stdout.contains("files skipped"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("bad\\xFE\\u{1b}[2J.json"),
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains('\u{1b}'));
}

/// A reject's reason quotes the file (serde repeats the string it did not expect): the summary
/// shows it cut short, the rejects report keeps it whole.
#[test]
fn a_long_quoted_reason_is_cut_short_on_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let long = "y".repeat(100_000);
    write(
        &input.join("bad.json"),
        format!(r#"{{"id":"s1","participants":"{long}"}}"#),
    );
    write(&input.join("good.json"), session("s2"));
    let out = dir.path().join("out");
    let ran = analyze(
        &[os(&input), "--out".as_ref(), os(&out)],
        Duration::from_secs(60),
    );
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stdout.len() < 3_000,
        "{} bytes printed",
        ran.stdout.len()
    );
    assert!(ran.stdout.contains("more characters)"), "{}", ran.stdout);
    let rejects = Table::report(&out, "rejects");
    assert!(rejects.rows[0].iter().any(|cell| cell.contains(&long)));
}

#[test]
fn a_timelog_that_is_not_a_list_is_one_invalid_connection() {
    let dir = tempfile::tempdir().unwrap();
    let doc = r#"{"id":"s","start":"2024-05-01T10:00:00.000Z","end":"2024-05-01T11:00:00.000Z",
        "participants":[{"participantId":"a","timelog":"x"},
        {"participantId":"b","timelog":[{"start":"2024-05-01T10:00:00.000Z","end":"2024-05-01T10:10:00.000Z"}]}]}"#;
    write(&dir.path().join("in/s.json"), doc);
    let out = dir.path().join("out");
    let ran = analyze(
        &[os(&dir.path().join("in")), "--out".as_ref(), os(&out)],
        Duration::from_secs(60),
    );
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let sessions = Table::report(&out, "sessions");
    assert_eq!(sessions.get(0, "invalid_intervals"), "1");
    assert_eq!(sessions.get(0, "participants"), "2");
    let participants = Table::report(&out, "participants");
    let a = participants.find(&[("participant_id", "a")]);
    assert_eq!(participants.get(a, "intervals"), "0");
}

#[test]
fn documents_above_the_limit_are_rejected_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let padded = format!(r#"{{"id":"big","pad":"{}"}}"#, "x".repeat(4000));
    write(&input.join("a.json"), &padded);
    write(
        &input.join("b.ndjson.gz"),
        gz(format!("{}\n{padded}\n{}\n", session("s1"), session("s2"))),
    );
    let out = dir.path().join("out");
    let ran = analyze(
        &[
            os(&input),
            "--out".as_ref(),
            os(&out),
            "--max-document-size".as_ref(),
            "2K".as_ref(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(ran.code, Some(2), "{}{}", ran.stdout, ran.stderr);
    let rejects = Table::report(&out, "rejects");
    assert_eq!(rejects.rows.len(), 2);
    assert_eq!(rejects.get(1, "line"), "2");
    for row in 0..2 {
        assert!(rejects.get(row, "reason").starts_with("document too large"));
    }
    assert_eq!(Table::report(&out, "sessions").rows.len(), 2);
}

#[test]
fn absurd_thread_counts_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("s.json"), session("s"));
    let out = dir.path().join("out");
    let started = Instant::now();
    let ran = analyze(
        &[
            os(dir.path()),
            "--out".as_ref(),
            os(&out),
            "--threads".as_ref(),
            "100000".as_ref(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains("--threads"), "{}", ran.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_closed_stderr_is_exit_1_not_a_panic() {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `pipe` fills the two descriptors it is given.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // The read end is closed before the child starts: every write to its stderr fails with a
    // broken pipe.
    // SAFETY: both descriptors were just created and are owned here.
    unsafe { libc::close(fds[0]) };
    let write_end = unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[1]) };
    let out = tempfile::tempdir().unwrap();
    for args in [
        vec!["analyze", "/nonexistent/sessionstats-input"],
        vec!["analyze", "/nonexistent", "--threads", "0"],
    ] {
        let status = Command::new(env!("CARGO_BIN_EXE_sessionstats"))
            .args(&args)
            .arg("--out")
            .arg(out.path().join("out"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(write_end.try_clone().unwrap()))
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(1), "{args:?}");
    }
}

#[test]
fn memory_stays_bounded_with_floods_of_rejects_and_big_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");

    // 1,000,000 junk NDJSON lines: the rejects go to disk.
    let junk = dir.path().join("junk");
    {
        let file = std::fs::File::create(
            std::fs::create_dir_all(&junk)
                .map(|()| junk.join("j.ndjson"))
                .unwrap(),
        )
        .unwrap();
        let mut w = std::io::BufWriter::new(file);
        w.write_all(format!("{}\n", session("keep")).as_bytes())
            .unwrap();
        for _ in 0..1_000_000 {
            w.write_all(b"x\n").unwrap();
        }
    }
    let ran = analyze(
        &[os(&junk), "--out".as_ref(), os(&out)],
        Duration::from_secs(300),
    );
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("rejected input:     1000000"),
        "{}",
        ran.stdout
    );
    let report = std::fs::read_to_string(out.join("rejects.csv")).unwrap();
    assert_eq!(report.lines().count(), 1_000_001);
    assert!(report.lines().nth(1_000_000).unwrap().contains(",1000001,"));
    let after_rejects = ran.peak_rss_mb;
    assert!(after_rejects < 150, "1M rejects: peak {after_rejects} MB");

    // 160 MB of NDJSON (16,000 sessions of 10 KB) in one gzip member: read as a stream.
    let big = dir.path().join("big");
    {
        std::fs::create_dir_all(&big).unwrap();
        let file = std::fs::File::create(big.join("b.ndjson.gz")).unwrap();
        let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let pad = "x".repeat(10_000);
        for i in 0..16_000 {
            let line =
                session(&format!("s{i}")).replacen('{', &format!("{{\"chatLink\":\"{pad}\","), 1);
            enc.write_all(line.as_bytes()).unwrap();
            enc.write_all(b"\n").unwrap();
        }
        enc.finish().unwrap();
    }
    let ran = analyze(
        &[os(&big), "--out".as_ref(), os(&out)],
        Duration::from_secs(600),
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let after_gzip = ran.peak_rss_mb;
    assert!(after_gzip < 120, "160 MB gzip NDJSON: peak {after_gzip} MB");

    // A gzip bomb: 256 MiB of `[` in a .json.gz, refused at the document limit.
    let bomb = dir.path().join("bomb");
    {
        std::fs::create_dir_all(&bomb).unwrap();
        let file = std::fs::File::create(bomb.join("b.json.gz")).unwrap();
        let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let block = vec![b'['; 1 << 20];
        for _ in 0..256 {
            enc.write_all(&block).unwrap();
        }
        enc.finish().unwrap();
    }
    let ran = analyze(
        &[
            os(&bomb),
            "--out".as_ref(),
            os(&out),
            "--max-document-size".as_ref(),
            "64M".as_ref(),
        ],
        Duration::from_secs(600),
    );
    // Nothing usable: no report is written, and the summary names the reason.
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("b.json.gz: document too large"),
        "{}",
        ran.stdout
    );
    // A `.json` file that is an array is read item by item: the reader holds at most the
    // limit's bytes of one item, and serde_json's stack of the brackets it is inside (a byte
    // each), so at most twice the limit (167 MB measured).
    let after_bomb = ran.peak_rss_mb;
    assert!(after_bomb < 200, "gzip bomb: peak {after_bomb} MB");
}
