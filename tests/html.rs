//! Integration tests of `--format html` (docs/html.md): the headline figures of
//! `report.html` against the CSV reports of the same run, a page that loads nothing from
//! anywhere, untrusted names shown as text, and the page opened in headless Chromium.

use crate::util::report::Table;
use crate::util::*;
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const SAMPLE_AS_OF: &str = "2021-10-29T10:00:00Z";

/// Every `data-metric="NAME" data-value="VALUE"` of the page, in order.
fn metrics(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("data-metric=\"") {
        rest = &rest[at + "data-metric=\"".len()..];
        let name = &rest[..rest.find('"').unwrap()];
        let value_at = rest.find("data-value=\"").unwrap() + "data-value=\"".len();
        let value = &rest[value_at..value_at + rest[value_at..].find('"').unwrap()];
        out.push((name.to_owned(), value.to_owned()));
    }
    out
}

/// The value of metric `name`, which must appear exactly once.
fn metric(html: &str, name: &str) -> String {
    let found: Vec<String> = metrics(html)
        .into_iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(found.len(), 1, "data-metric={name} appears {found:?}");
    found[0].clone()
}

fn sum(table: &Table, column: &str) -> i64 {
    table
        .column(column)
        .iter()
        .map(|v| v.parse::<i64>().unwrap_or(0))
        .sum()
}

/// Analyses `inputs` with `--format csv,html` and `extra`; returns the report folder.
fn report(cwd: &Path, inputs: &[&str], extra: &[&str]) -> PathBuf {
    let mut args = vec!["--format", "csv,html"];
    args.extend_from_slice(extra);
    let r = analyze(cwd, inputs, "out", &args);
    assert!(r.code == 0 || r.code == 2, "{}", r.stderr);
    cwd.join("out")
}

/// The sample's report in `cwd`, periods of a week in Asia/Kolkata, no quota.
fn sample_in_kolkata_weeks(cwd: &Path) -> PathBuf {
    let sample = sample_dir();
    report(
        cwd,
        &[sample.to_str().unwrap()],
        &[
            "--as-of",
            SAMPLE_AS_OF,
            "--tz",
            "Asia/Kolkata",
            "--period",
            "week",
        ],
    )
}

/// The sample's report in `cwd`, days in UTC, a quota of 3.
fn sample_with_quota(cwd: &Path) -> PathBuf {
    let sample = sample_dir();
    report(
        cwd,
        &[sample.to_str().unwrap()],
        &["--as-of", SAMPLE_AS_OF, "--quota", "3"],
    )
}

/// A folder holding `in/a.json`: one session, from 10:00 to 10:30.
fn one_session_input() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("in/a.json"),
        simple_session("s1", "10:00", "10:30").to_string(),
    );
    dir
}

/// Checks every headline metric against the CSV reports in `out`.
fn assert_metrics_equal_the_tables(out: &Path, quota: bool) {
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    let sessions = Table::report(out, "sessions");
    let participants = Table::report(out, "participants");
    let account = Table::report(out, "account_concurrency");
    let usage = Table::report(out, "usage");
    let rejects = Table::report(out, "rejects");

    assert_eq!(metric(&html, "sessions"), sessions.rows.len().to_string());
    assert_eq!(
        metric(&html, "participants"),
        participants.rows.len().to_string()
    );
    assert_eq!(
        metric(&html, "participant_ms"),
        sum(&sessions, "participant_ms").to_string()
    );
    let levels: Vec<i64> = account
        .column("concurrency")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    let peak = levels.iter().copied().max().unwrap_or(0);
    assert_eq!(metric(&html, "peak_concurrency"), peak.to_string());
    let peak_at = levels.iter().position(|&l| l == peak).unwrap();
    assert_eq!(
        metric(&html, "peak_at"),
        account.column("changed_at")[peak_at]
    );
    let over = if quota {
        sum(&usage, "over_quota_ms").to_string()
    } else {
        assert!(usage.column("over_quota_ms").iter().all(|v| v.is_empty()));
        String::new()
    };
    assert_eq!(metric(&html, "over_quota_ms"), over);
    assert_eq!(metric(&html, "rejects"), rejects.rows.len().to_string());
    // The data-quality counts are the sessions report's sums.
    for column in ["invalid_intervals", "invalid_participants", "clipped_ms"] {
        assert_eq!(metric(&html, column), sum(&sessions, column).to_string());
    }
    assert_eq!(
        metric(&html, "pairs_skipped"),
        sessions
            .rows_where("pairs_skipped", "true")
            .len()
            .to_string()
    );
}

/// The tags of `html` (what lies between `<` and `>`). Text from the input is escaped, so
/// every `<` left opens a real tag.
fn tags(html: &str) -> Vec<&str> {
    html.split('<')
        .skip(1)
        .map(|t| t.split('>').next().unwrap_or_default())
        .collect()
}

/// Fails when the page refers to anything a browser would load: a URL in an attribute or in
/// the style sheet, an external script, style sheet, frame, image or object.
fn assert_loads_nothing(html: &str) {
    for tag in tags(html) {
        let tag = tag.to_ascii_lowercase();
        let name = tag.split_whitespace().next().unwrap_or_default();
        assert!(
            ![
                "script",
                "link",
                "iframe",
                "frame",
                "object",
                "embed",
                "img",
                "image",
                "audio",
                "video",
                "source",
                "base",
                "use",
                "foreignobject",
            ]
            .contains(&name),
            "report.html has a <{name}> element: <{tag}>"
        );
        // The SVG namespace names a URL without loading it; nothing else may.
        let attributes = tag.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        for needle in ["src=", "href=", "srcset=", "url(", "http:", "https:", "//"] {
            assert!(
                !attributes.contains(needle),
                "report.html refers to something to load ({needle}): <{tag}>"
            );
        }
    }
    let lower = html.to_ascii_lowercase();
    let style = &lower[lower.find("<style>").unwrap()..lower.find("</style>").unwrap()];
    for needle in ["url(", "@import", "@font-face", "http:", "https:"] {
        assert!(!style.contains(needle), "the style sheet has {needle}");
    }
    assert!(
        lower.contains("content-security-policy") && lower.contains("default-src 'none'"),
        "no Content-Security-Policy forbidding loads"
    );
}

#[test]
fn the_sample_report_shows_the_tables_figures_and_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = sample_with_quota(dir.path());
    assert_metrics_equal_the_tables(&out, true);
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert_loads_nothing(&html);
    // Every chart is there, with the 12 largest sessions as small multiples.
    for chart in [
        "account-concurrency",
        "usage",
        "attendance",
        "session-sizes",
    ] {
        assert_eq!(
            html.matches(&format!("data-chart=\"{chart}\"")).count(),
            1,
            "{chart}"
        );
    }
    assert_eq!(html.matches("data-chart=\"session\"").count(), 12);
    assert_eq!(html.matches("<svg").count(), 16);
    // The sample's webinar is its largest session: drawn first.
    let first = html.find("data-chart=\"session\"").unwrap();
    assert!(html[first..first + 400].contains("c1d116e14552fde3a36fe38f"));
    // The quota line is drawn and named.
    assert!(html.contains("quota 3"));
    assert!(html.len() < 3 << 20);
}

/// The `data-value`s of the `column`-th numeric cell of each row of the page's table
/// `data-table="NAME"`, with the row's first cell as text (tags removed).
fn table_rows(html: &str, name: &str) -> Vec<(String, Vec<i64>)> {
    let start = html
        .find(&format!("data-table=\"{name}\""))
        .unwrap_or_else(|| panic!("no table {name}"));
    let body = &html[start..start + html[start..].find("</tbody>").unwrap()];
    body.split("<tr>")
        .skip(2) // before the header row, the header row
        .map(|row| {
            let first = &row[row.find("<td>").unwrap() + 4..row.find("</td>").unwrap()];
            let label: String = first
                .split('<')
                .map(|part| part.split_once('>').map_or(part, |(_, text)| text))
                .collect();
            let values = row
                .split("data-value=\"")
                .skip(1)
                .map(|v| v[..v.find('"').unwrap()].parse().unwrap())
                .collect();
            (label, values)
        })
        .collect()
}

/// The sum of `value` per distinct `key` over the rows of `table`.
fn sums_by(table: &Table, key: &str, value: &str) -> std::collections::BTreeMap<String, i64> {
    let mut sums = std::collections::BTreeMap::<String, i64>::new();
    for row in 0..table.rows.len() {
        let n: i64 = table.get(row, value).parse().unwrap();
        *sums.entry(table.get(row, key).to_owned()).or_default() += n;
    }
    sums
}

#[test]
fn the_rooms_and_people_lists_sum_the_rollup_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = sample_in_kolkata_weeks(dir.path());
    let html = fs::read_to_string(out.join("report.html")).unwrap();

    // Rooms: participant time summed over the periods of rooms.csv, largest first.
    let per_room = sums_by(&Table::report(&out, "rooms"), "room_id", "participant_ms");
    let shown = table_rows(&html, "rooms");
    assert_eq!(shown.len(), per_room.len().min(20));
    for (label, values) in &shown {
        let room = if label == "no room" {
            ""
        } else {
            label.as_str()
        };
        // participant_ms, then duration_ms.
        assert_eq!(values[0], per_room[room], "{room}");
    }
    let largest = per_room.values().max().copied().unwrap();
    assert_eq!(shown[0].1[0], largest);
    assert!(shown.windows(2).all(|w| w[0].1[0] >= w[1].1[0]));

    // People: attended time summed over the periods of people.csv, for each one listed.
    let attended = sums_by(
        &Table::report(&out, "people"),
        "participant_id",
        "attended_ms",
    );
    let shown = table_rows(&html, "people");
    assert_eq!(shown.len(), attended.len().min(20));
    for (participant, values) in &shown {
        assert_eq!(values[0], attended[participant], "{participant}");
    }
}

#[test]
fn without_a_quota_the_page_says_so_and_the_value_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let out = sample_in_kolkata_weeks(dir.path());
    assert_metrics_equal_the_tables(&out, false);
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("no quota given"));
    assert!(html.contains("Asia/Kolkata"));
}

#[test]
fn hostile_names_are_shown_as_text_and_rejects_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "<script>alert(1)</script>";
    let room = "\"><img src=x onerror=alert(2)>";
    let session = json!({
        "id": "<b>s1</b>", "roomId": room, "start": t("10:00"), "end": t("11:00"),
        "participants": [
            {"participantId": "<i>p1</i>", "name": hostile, "timelog": [iv("10:00", "10:30")]},
            {"participantId": "p2", "name": "B & B", "timelog": [iv("10:10", "11:00")]}
        ]
    });
    write(&dir.path().join("in/a.json"), session.to_string());
    write(&dir.path().join("in/broken.json"), "{\"id\": ");
    write(&dir.path().join("in/lines.ndjson"), "{}\nnot json\n");
    let out = report(dir.path(), &["in"], &["--as-of", "2024-03-02T00:00:00Z"]);
    assert_metrics_equal_the_tables(&out, false);
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(metric(&html, "rejects"), "3");
    assert_loads_nothing(&html);
    assert!(!html.contains(hostile) && !html.contains("<img") && !html.contains("<b>s1"));
    assert!(tags(&html).iter().all(|t| !t.contains("onerror")));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    assert!(html.contains("&lt;i&gt;p1&lt;/i&gt;") && html.contains("B &amp; B"));
    // Rejects by reason: the documented words, counted.
    assert!(html.contains("invalid JSON"), "{html}");
}

/// A table report that cannot be renamed into place (its name is taken by a folder) fails
/// the run: the error names the report, `report.html` and the manifest are not written,
/// and no temporary file is left.
#[test]
fn a_report_that_cannot_be_committed_fails_the_run_before_the_page() {
    let dir = one_session_input();
    write(&dir.path().join("out/sessions.csv/keep"), "");
    let r = analyze(
        dir.path(),
        &["in"],
        "out",
        &["--format", "csv,html", "--as-of", "2024-03-02T00:00:00Z"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("sessions.csv") && r.stderr.contains("cannot rename"),
        "{}",
        r.stderr
    );
    let left = listing(&dir.path().join("out"));
    assert!(
        !left
            .iter()
            .any(|name| name == "report.html" || name == "manifest.json"),
        "{left:?}"
    );
    assert!(!left.iter().any(|name| name.ends_with(".tmp")), "{left:?}");
    assert!(
        left.iter().any(|name| name == "participants.csv"),
        "{left:?}"
    );
}

#[test]
fn html_alone_writes_only_the_page_and_bad_formats_are_named() {
    let dir = one_session_input();
    let r = analyze(
        dir.path(),
        &["in"],
        "out",
        &["--format", "html", "--as-of", "2024-03-02T00:00:00Z"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        listing(&dir.path().join("out")),
        ["manifest.json", "report.html"]
    );
    let r = analyze(dir.path(), &["in"], "out2", &["--format", "csv,pdf"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("pdf") && r.stderr.contains("html"),
        "{}",
        r.stderr
    );
}

/// The Chromium of the machine, or a failure that says how to install it.
fn chromium() -> &'static str {
    for name in ["chromium", "chromium-browser"] {
        if Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return name;
        }
    }
    panic!(
        "the browser test needs Chromium: apt-get install -y chromium \
         (.ci/run installs it when it is missing)"
    );
}

/// Runs headless Chromium with a fresh profile and `args`; returns its stdout.
fn headless(profile: &Path, args: &[&str]) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("cannot start chromium");
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Pixels of a PNG as RGBA.
fn pixels(path: &Path) -> (u32, u32, Vec<[u8; 4]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let data = &buf[..info.buffer_size()];
    let px = data
        .chunks(channels)
        .map(|c| match c.len() {
            4 => [c[0], c[1], c[2], c[3]],
            3 => [c[0], c[1], c[2], 255],
            _ => [c[0], c[0], c[0], 255],
        })
        .collect();
    (info.width, info.height, px)
}

#[test]
fn the_sample_report_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let out = sample_with_quota(dir.path());
    let page = out.join("report.html");
    let url = format!("file://{}", page.display());

    // The DOM after the page has loaded: every chart is an SVG with drawn shapes.
    let dom = headless(&dir.path().join("profile-dom"), &["--dump-dom", &url]);
    for chart in [
        "account-concurrency",
        "usage",
        "attendance",
        "session-sizes",
    ] {
        let at = dom
            .find(&format!("data-chart=\"{chart}\""))
            .unwrap_or_else(|| panic!("the DOM has no {chart} chart"));
        let figure = &dom[at..at + dom[at..].find("</figure>").unwrap()];
        assert!(figure.contains("<svg"), "{chart}: no SVG in the DOM");
        assert!(
            figure.contains("<polyline") || figure.contains("<rect") || figure.contains("<path"),
            "{chart}: nothing drawn"
        );
    }
    assert_eq!(dom.matches("data-chart=\"session\"").count(), 12);
    assert!(dom.contains("data-metric=\"peak_concurrency\""));

    // The screenshot: not blank, with the colours of the charts.
    let shot = dir.path().join("shot.png");
    headless(
        &dir.path().join("profile-shot"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
            &url,
        ],
    );
    let (width, height, px) = pixels(&shot);
    assert_eq!((width, height), (1280, 2400));
    let background = px[0];
    let inked = px.iter().filter(|p| **p != background).count();
    let mut colours: Vec<[u8; 4]> = px.clone();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        inked > px.len() / 50,
        "the screenshot is blank: {inked} of {} pixels differ from the background",
        px.len()
    );
    assert!(colours.len() > 50, "only {} colours", colours.len());
    // The chart colours are on screen: the concurrency line (blue) and the usage bars (teal).
    let near = |p: &[u8; 4], c: [u8; 3]| (0..3).all(|i| p[i].abs_diff(c[i]) < 40);
    assert!(
        px.iter().any(|p| near(p, [0x25, 0x63, 0xeb])),
        "no blue line"
    );
    assert!(
        px.iter().any(|p| near(p, [0x0d, 0x94, 0x88])),
        "no teal bars"
    );

    // SESSIONSTATS_SCREENSHOT=PATH keeps the picture (docs/report-sample.png is made so).
    if let Some(keep) = std::env::var_os("SESSIONSTATS_SCREENSHOT") {
        fs::copy(&shot, keep).unwrap();
    }
}
