//! The store index (issue 12): `sessionstats fetch` against the loopback API of
//! tests/util/server.rs learns what the store holds from `STORE/.sessionstats-index`, and
//! rebuilds it from the documents whenever it is missing, damaged, of another version or
//! disagrees with the day folders; a run killed while it writes the index leaves a usable store.
use crate::util::server::{Server, Session};
use sessionstats::fetch::index::{Index, INDEX_FILE};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJ0ZXN0IjoidG9rZW4ifQ.TOKEN-SIGNATURE-4711";
const LOCK: &str = ".sessionstats-fetch.lock";
const PAUSE_HOOK: &str = "SESSIONSTATS_TEST_INDEX_PAUSE_MS";

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Whether the run said it read documents to learn what the store holds.
    fn read_documents(&self) -> bool {
        self.stderr.contains("store index") || self.stderr.contains("changed since")
    }
}

fn command(server: &Server, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sessionstats"));
    for var in [
        "VIDEOSDK_TOKEN",
        "VIDEOSDK_API_KEY",
        "VIDEOSDK_SECRET",
        "VIDEOSDK_API_ENDPOINT",
        PAUSE_HOOK,
    ] {
        cmd.env_remove(var);
    }
    cmd.env("VIDEOSDK_TOKEN", TOKEN)
        .args(["fetch", "--api-url", &server.url, "--out"])
        .arg(dir)
        .args(args)
        .stdin(Stdio::null());
    cmd
}

fn fetch(server: &Server, dir: &Path, args: &[&str]) -> Ran {
    let out = command(server, dir, args).output().unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn row(stdout: &str, label: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {label:?} in the summary:\n{stdout}"))
}

/// Every file under `dir` by relative path (hidden ones and binary ones too), with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                out.insert(rel.into_owned(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The session documents under `dir`, as text.
fn stored(dir: &Path) -> BTreeMap<String, String> {
    files(dir)
        .into_iter()
        .filter(|(k, _)| k.ends_with(".json") && !k.contains("/."))
        .map(|(k, v)| (k, String::from_utf8(v).unwrap()))
        .collect()
}

fn expected<'a>(sessions: impl IntoIterator<Item = &'a Session>) -> BTreeMap<String, String> {
    sessions
        .into_iter()
        .map(|s| (format!("{}/{}.json", &s.start[..10], s.id), s.doc.clone()))
        .collect()
}

/// `n` sessions `s000…` over days 2024-05-01…03; every fifth one ongoing.
fn sessions(n: usize) -> Vec<Session> {
    (0..n)
        .map(|i| {
            let start = format!("2024-05-0{}T{:02}:00:00.000Z", 1 + i % 3, i % 24);
            let end = format!("2024-05-0{}T{:02}:30:00.000Z", 1 + i % 3, i % 24);
            let end = (i % 5 != 4).then_some(end.as_str());
            Session::new(&format!("s{i:03}"), "r1", &start, end)
        })
        .collect()
}

fn ids_file(dir: &Path, ids: &[&str]) -> PathBuf {
    let path = dir.join("ids.txt");
    std::fs::write(&path, ids.join("\n")).unwrap();
    path
}

fn index_path(dir: &Path) -> PathBuf {
    dir.join(INDEX_FILE)
}

/// Opens the index as the library does and checks every block.
fn index_is_whole(dir: &Path) -> Index {
    let index = Index::open(&index_path(dir))
        .unwrap_or_else(|e| panic!("the index cannot be opened: {e:?}"));
    index.for_each(|_| Ok(())).expect("every block reads");
    index
}

/// The hidden names in the store folder and its day folders.
fn hidden(dir: &Path) -> Vec<String> {
    files(dir)
        .into_keys()
        .filter(|k| k.starts_with('.') || k.contains("/."))
        .collect()
}

/// A store filled by a listing of `all`, the index written.
fn filled(all: &[Session]) -> (Server, tempfile::TempDir, PathBuf) {
    let server = Server::start(Some(TOKEN), all.to_vec());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let first = fetch(&server, &dir, &["--per-page", "50"]);
    assert_eq!(first.code, Some(0), "{}", first.all());
    assert_eq!(stored(&dir), expected(all));
    (server, tmp, dir)
}

#[test]
fn the_index_is_written_and_a_run_reads_it_instead_of_the_documents() {
    let all = sessions(30);
    let (server, tmp, dir) = filled(&all);
    assert_eq!(
        hidden(&dir),
        [LOCK, INDEX_FILE],
        "no temporary file is left"
    );
    assert_eq!(
        &std::fs::read(index_path(&dir)).unwrap()[..8],
        b"\x89SSIDX\r\n"
    );
    let index = index_is_whole(&dir);
    assert_eq!(index.records(), 30);
    let ongoing: Vec<&str> = all
        .iter()
        .filter(|s| !s.ended)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(index.ongoing(), ongoing);

    // Rewritten in place (the day folder does not change), a document says nothing useful
    // any more: a run that read it would fetch the session again.
    let ended = &all[0];
    assert!(ended.ended);
    let garbled = dir.join(format!("{}/{}.json", &ended.start[..10], ended.id));
    std::fs::write(&garbled, "not a session").unwrap();
    let list = ids_file(tmp.path(), &[&ended.id]);
    let again = fetch(&server, &dir, &["--ids", list.to_str().unwrap()]);
    assert_eq!(again.code, Some(0), "{}", again.all());
    assert_eq!(
        row(&again.stdout, "already present"),
        "1",
        "{}",
        again.all()
    );
    assert_eq!(row(&again.stdout, "downloaded"), "0");
    assert!(!again.read_documents(), "{}", again.stderr);
    assert_eq!(
        server.hits_of(&format!("/v2/sessions/{}", ended.id)).len(),
        0
    );

    // The stored ongoing sessions come from the index too: garbled in place, each is still
    // asked for again after a listing of another day.
    for s in all.iter().filter(|s| !s.ended) {
        let path = dir.join(format!("{}/{}.json", &s.start[..10], s.id));
        std::fs::write(path, "not a session").unwrap();
    }
    let listing = fetch(&server, &dir, &["--since", "2024-06-01"]);
    assert_eq!(listing.code, Some(0), "{}", listing.all());
    assert!(
        row(&listing.stdout, "refreshed").starts_with(&format!("{} (", ongoing.len())),
        "{}",
        listing.stdout
    );
    for id in &ongoing {
        assert_eq!(
            server.hits_of(&format!("/v2/sessions/{id}")).len(),
            1,
            "{id}"
        );
    }
    std::fs::write(&garbled, &ended.doc).unwrap();
    assert_eq!(stored(&dir), expected(&all));
}

/// Damage done to the index file, and a word the run must say about it.
type Damage = (&'static str, fn(&mut Vec<u8>), &'static str);

#[test]
fn a_missing_truncated_corrupted_or_foreign_index_is_rebuilt_and_the_store_stays_right() {
    let all = sessions(400);
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    let damages: [Damage; 6] = [
        ("removed", |_| {}, "is missing"),
        ("cut in half", |b| b.truncate(b.len() / 2), "cut short"),
        ("a block byte flipped", |b| b[100] ^= 0x20, "checksum"),
        (
            "a meta byte flipped",
            |b| {
                let at = b.len() - 40;
                b[at] ^= 1
            },
            "damaged",
        ),
        ("another format version", |b| b[8] = 9, "format version 9"),
        ("emptied", |b| b.clear(), "cut short"),
    ];
    for (what, damage, says) in damages {
        let (server, tmp, dir) = filled(&all);
        let list = ids_file(tmp.path(), &ids);
        let path = index_path(&dir);
        if what == "removed" {
            std::fs::remove_file(&path).unwrap();
        } else {
            let mut bytes = std::fs::read(&path).unwrap();
            damage(&mut bytes);
            std::fs::write(&path, bytes).unwrap();
        }
        let ran = fetch(&server, &dir, &["--ids", list.to_str().unwrap()]);
        assert_eq!(ran.code, Some(0), "{what}: {}", ran.all());
        assert!(
            ran.stderr.contains(says) && ran.stderr.contains("rebuilding"),
            "{what}: {}",
            ran.stderr
        );
        // Nothing stored as ended is fetched again, the ongoing ones are.
        let ongoing = all.iter().filter(|s| !s.ended).count();
        assert_eq!(
            row(&ran.stdout, "already present"),
            (400 - ongoing).to_string()
        );
        assert_eq!(row(&ran.stdout, "refreshed"), ongoing.to_string(), "{what}");
        assert_eq!(stored(&dir), expected(&all), "{what}");
        assert_eq!(index_is_whole(&dir).records(), 400, "{what}");
        // The next run is back to the index alone.
        let next = fetch(&server, &dir, &["--ids", list.to_str().unwrap()]);
        assert!(!next.read_documents(), "{what}: {}", next.stderr);
        assert_eq!(
            row(&next.stdout, "already present"),
            (400 - ongoing).to_string()
        );
    }
}

#[test]
fn a_document_deleted_by_hand_is_fetched_again() {
    let all = sessions(30);
    let (server, tmp, dir) = filled(&all);
    let gone = &all[3];
    assert!(gone.ended);
    std::fs::remove_file(dir.join(format!("{}/{}.json", &gone.start[..10], gone.id))).unwrap();
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    let list = ids_file(tmp.path(), &ids);
    let ran = fetch(&server, &dir, &["--ids", list.to_str().unwrap()]);
    assert_eq!(ran.code, Some(0), "{}", ran.all());
    assert!(
        ran.stderr.contains(&format!(
            "1 day folder changed since the store index was written ({})",
            &gone.start[..10]
        )),
        "{}",
        ran.stderr
    );
    assert_eq!(row(&ran.stdout, "downloaded"), "1");
    assert_eq!(
        server.hits_of(&format!("/v2/sessions/{}", gone.id)).len(),
        1
    );
    assert_eq!(stored(&dir), expected(&all));
    let next = fetch(&server, &dir, &["--ids", list.to_str().unwrap()]);
    assert!(!next.read_documents(), "{}", next.stderr);
    assert_eq!(row(&next.stdout, "downloaded"), "0");
}

#[test]
fn a_document_added_by_hand_is_taken_in() {
    let all = sessions(30);
    let (server, tmp, dir) = filled(&all);
    // Sessions the store has not seen: one ended on a new day, one ongoing on a known day.
    let ended = Session::new(
        "by-hand",
        "r1",
        "2024-04-20T10:00:00.000Z",
        Some("2024-04-20T11:00:00.000Z"),
    );
    let ongoing = Session::new("by-hand-ongoing", "r1", "2024-05-02T10:00:00.000Z", None);
    let ongoing_ended = Session::new(
        "by-hand-ongoing",
        "r1",
        "2024-05-02T10:00:00.000Z",
        Some("2024-05-02T12:00:00.000Z"),
    );
    server.replace(ended.clone());
    server.replace(ongoing_ended.clone());
    std::fs::create_dir(dir.join("2024-04-20")).unwrap();
    for s in [&ended, &ongoing] {
        let path = dir.join(format!("{}/{}.json", &s.start[..10], s.id));
        std::fs::write(path, &s.doc).unwrap();
    }
    let list = ids_file(tmp.path(), &["by-hand"]);
    let ran = fetch(&server, &dir, &["--ids", list.to_str().unwrap()]);
    assert_eq!(ran.code, Some(0), "{}", ran.all());
    assert!(
        ran.stderr.contains("2 day folders changed") && ran.stderr.contains("2024-04-20"),
        "{}",
        ran.stderr
    );
    assert_eq!(row(&ran.stdout, "already present"), "1");
    assert_eq!(server.hits_of("/v2/sessions/by-hand").len(), 0);
    assert_eq!(index_is_whole(&dir).records(), 32);

    // The ongoing one is completed by the next listing, though it lies outside its window.
    let listing = fetch(&server, &dir, &["--since", "2024-06-01"]);
    assert_eq!(listing.code, Some(0), "{}", listing.all());
    assert!(!listing.read_documents(), "{}", listing.stderr);
    assert_eq!(server.hits_of("/v2/sessions/by-hand-ongoing").len(), 1);
    let mut want = expected(&all);
    want.extend(expected([&ended, &ongoing_ended]));
    assert_eq!(stored(&dir), want);
}

/// A day folder put back from a backup keeps its old modification time (`cp -a`, `rsync -a`),
/// so the index does not trust modification times: the folder is another one, read again.
#[test]
fn a_day_folder_restored_with_its_old_times_is_read_again() {
    let all = sessions(30);
    let (server, tmp, dir) = filled(&all);
    let day = dir.join("2024-05-01");
    let mtime = std::fs::metadata(&day).unwrap().modified().unwrap();
    let backup = tmp.path().join("backup");
    std::fs::rename(&day, &backup).unwrap();
    std::fs::create_dir(&day).unwrap();
    let lost = &all[0];
    for entry in std::fs::read_dir(&backup).unwrap() {
        let path = entry.unwrap().path();
        if !path.ends_with(format!("{}.json", lost.id)) {
            std::fs::copy(&path, day.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::File::open(&day)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(std::fs::metadata(&day).unwrap().modified().unwrap(), mtime);
    let list = ids_file(tmp.path(), &[&lost.id]);
    let ran = fetch(&server, &dir, &["--ids", list.to_str().unwrap()]);
    assert_eq!(ran.code, Some(0), "{}", ran.all());
    assert!(ran.stderr.contains("(2024-05-01)"), "{}", ran.stderr);
    assert_eq!(row(&ran.stdout, "downloaded"), "1");
    assert_eq!(stored(&dir), expected(&all));
}

/// Starts a fetch that pauses in its index write (the test hook), waits until the partly
/// written temporary index is on disk, and kills it (SIGKILL).
fn kill_during_index_write(server: &Server, dir: &Path, args: &[&str]) {
    let mut child = command(server, dir, args)
        .env(PAUSE_HOOK, "60000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let temporary = dir.join(format!("..sessionstats-index.{}.tmp", child.id()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&temporary).map_or(0, |m| m.len()) < 100 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the fetch ended without pausing in its index write"
        );
        assert!(Instant::now() < deadline, "no index write began");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        temporary.exists(),
        "the killed write leaves its temporary file"
    );
}

#[test]
fn a_sigkill_during_the_index_write_leaves_a_usable_store() {
    let all = sessions(300);
    let (first, more) = all.split_at(200);
    let server = Server::start(Some(TOKEN), first.to_vec());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let ran = fetch(&server, &dir, &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.all());
    let old_index = std::fs::read(index_path(&dir)).unwrap();

    // The API has 100 more sessions; the run that stores them is killed writing the index.
    for s in more {
        server.replace(s.clone());
    }
    kill_during_index_write(&server, &dir, &[]);
    assert_eq!(
        std::fs::read(index_path(&dir)).unwrap(),
        old_index,
        "a kill leaves the old index"
    );
    assert_eq!(
        stored(&dir),
        expected(&all),
        "the documents were all stored"
    );

    // The next run sees the day folders changed, reads them and finds everything stored.
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    let list = ids_file(tmp.path(), &ids);
    let ran = fetch(&server, &dir, &["--ids", list.to_str().unwrap()]);
    assert_eq!(ran.code, Some(0), "{}", ran.all());
    assert!(ran.stderr.contains("changed since"), "{}", ran.stderr);
    assert_eq!(row(&ran.stdout, "downloaded"), "0");
    assert_eq!(stored(&dir), expected(&all));
    assert_eq!(index_is_whole(&dir).records(), 300);
    assert_eq!(hidden(&dir), [LOCK, INDEX_FILE], "the leftover is removed");

    // Killed while rebuilding a removed index: no index at all, and the next run rebuilds it.
    std::fs::remove_file(index_path(&dir)).unwrap();
    kill_during_index_write(&server, &dir, &["--ids", list.to_str().unwrap()]);
    assert!(!index_path(&dir).exists());
    let ran = fetch(&server, &dir, &["--ids", list.to_str().unwrap()]);
    assert_eq!(ran.code, Some(0), "{}", ran.all());
    assert!(
        ran.stderr.contains("is missing; rebuilding"),
        "{}",
        ran.stderr
    );
    assert_eq!(row(&ran.stdout, "downloaded"), "0");
    assert_eq!(stored(&dir), expected(&all));
    assert_eq!(index_is_whole(&dir).records(), 300);
    assert_eq!(hidden(&dir), [LOCK, INDEX_FILE]);
}
