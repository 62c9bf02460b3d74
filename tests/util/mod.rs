//! Helpers shared by the integration tests: run the built binary ([`Run`]), list the files under
//! a folder ([`walk`]), write input files, and make hand-written sessions. The reports are read
//! back with [`report`]; [`server`] is a local VideoSDK API for the fetch tests.

pub mod report;
#[cfg(feature = "fetch")]
pub mod server;

pub use report::*;

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Variables of the caller's environment that no run sees: credentials a developer has set must
/// not reach the binary, nor a log level change what it prints.
const CLEARED: &[&str] = &[
    "RUST_LOG",
    "VIDEOSDK_TOKEN",
    "VIDEOSDK_API_KEY",
    "VIDEOSDK_SECRET",
    "VIDEOSDK_API_ENDPOINT",
];

/// A run of the built `sessionstats` binary, set up step by step: arguments, environment
/// variables, working folder, standard input (empty unless given). The variables of
/// [`CLEARED`] are removed from the inherited environment.
pub struct Run(Command, Vec<u8>);

/// What a run of the binary gave.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// `sessionstats ARGS`.
    pub fn new(args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sessionstats"));
        command.args(args).stdin(Stdio::null());
        for var in CLEARED {
            command.env_remove(var);
        }
        Run(command, Vec::new())
    }

    /// Bytes for the run's standard input.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Run {
        self.1 = bytes.into();
        self
    }

    /// One more argument after those given so far.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Run {
        self.0.arg(arg);
        self
    }

    /// More arguments after those given so far.
    pub fn args(mut self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Run {
        self.0.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Run {
        self.0.env(key, value);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Run {
        self.0.current_dir(dir);
        self
    }

    /// Runs to the end; stdout and stderr must be UTF-8.
    pub fn output(mut self) -> Ran {
        let out = if self.1.is_empty() {
            self.0.output()
        } else {
            let mut child = self
                .0
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("cannot start the sessionstats binary");
            let mut input = child.stdin.take().expect("a piped stdin");
            let bytes = std::mem::take(&mut self.1);
            let feeder = std::thread::spawn(move || {
                use std::io::Write;
                let _ = input.write_all(&bytes);
            });
            let out = child.wait_with_output();
            let _ = feeder.join();
            out
        }
        .expect("cannot start the sessionstats binary");
        let text = |bytes: Vec<u8>, name: &str| {
            String::from_utf8(bytes).unwrap_or_else(|e| panic!("{name} is not UTF-8: {e}"))
        };
        let stdout = text(out.stdout, "stdout");
        let stderr = text(out.stderr, "stderr");
        let code = out.status.code().unwrap_or_else(|| {
            panic!(
                "sessionstats ended by a signal ({}); stderr:\n{stderr}",
                out.status
            )
        });
        Ran {
            code,
            stdout,
            stderr,
        }
    }

    /// Starts the run and returns at once; what it prints is thrown away.
    #[cfg(feature = "fetch")]
    pub fn spawn(mut self) -> std::process::Child {
        self.0
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start the sessionstats binary")
    }
}

impl Ran {
    /// Stdout and stderr, for assertion messages.
    #[cfg(feature = "fetch")]
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs `sessionstats analyze INPUTS --out OUT --quiet EXTRA` in `cwd`.
pub fn analyze(cwd: &Path, inputs: &[&str], out: &str, extra: &[&str]) -> Ran {
    Run::new(["analyze"])
        .args(inputs)
        .args(["--out", out, "--quiet"])
        .args(extra)
        .current_dir(cwd)
        .output()
}

/// The files under `dir` (hidden ones too) by path relative to it, sorted. A folder that does
/// not exist has no files, and entries that vanish while it looks (a running fetch renames its
/// temporary files) are left out.
pub fn walk(dir: &Path) -> Vec<String> {
    fn visit(root: &Path, dir: &Path, files: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                visit(root, &path, files);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                files.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    let mut files = Vec::new();
    visit(dir, dir, &mut files);
    files.sort();
    files
}

/// Names of the entries of `dir` (files and folders, not what the folders hold), sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Writes `bytes` to `path`, creating the parent folders.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, bytes).unwrap();
}

/// Gzip-compresses `bytes`.
pub fn gz(bytes: impl AsRef<[u8]>) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes.as_ref()).unwrap();
    enc.finish().unwrap()
}

/// `"10:05"` → `"2024-03-01T10:05:00.000Z"`; `"10:58:30"` → `"2024-03-01T10:58:30.000Z"`;
/// `"10:00:00.500"` → `"2024-03-01T10:00:00.500Z"`. The day of every hand-made session.
pub fn t(hms: &str) -> String {
    match hms.len() {
        5 => format!("2024-03-01T{hms}:00.000Z"),
        8 => format!("2024-03-01T{hms}.000Z"),
        12 => format!("2024-03-01T{hms}Z"),
        _ => panic!("bad time {hms}"),
    }
}

/// A timelog entry `{start, end}` on the test day.
pub fn iv(start: &str, end: &str) -> serde_json::Value {
    serde_json::json!({"start": t(start), "end": t(end)})
}

/// A session that ran `start`..`end` on the test day with one participant present throughout.
pub fn simple_session(id: &str, start: &str, end: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "roomId": "room-x", "start": t(start), "end": t(end), "status": "ended",
        "participants": [{"participantId": "pp000001", "name": "Solo", "timelog": [iv(start, end)]}]
    })
}

pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join("sample")
}
