//! What the `headrace` binary's integration tests share: writing a job, running the binary (to
//! the end within a time limit, killed with SIGKILL, crashed at a `HEADRACE_FAULT` point, or
//! stopped with Ctrl-C), and reading what its sinks committed.
//!
//! Each test file includes it with `#[allow(dead_code)] mod common;` (no file uses all of it).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The `headrace` binary cargo built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_headrace"))
}

/// Writes `sql` to `dir/name` and returns that path.
pub fn write_job(dir: &Path, name: &str, sql: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, sql).unwrap();
    p
}

/// `headrace run <job> [--state-dir <state>] --quiet`, to be run or spawned.
pub fn run_job(job: &Path, state: Option<&Path>) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(["run", job.to_str().unwrap(), "--quiet"]);
    if let Some(s) = state {
        cmd.args(["--state-dir", s.to_str().unwrap()]);
    }
    cmd
}

/// `headrace <args>` run to completion within 120 s.
pub fn run(args: &[&str]) -> Output {
    output_within(Command::new(bin()).args(args), Duration::from_secs(120))
}

/// Run to completion, failing the test (instead of hanging CI) after `limit`. Output is read
/// while the process runs (a child writing more than a pipe holds would otherwise block forever).
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let stderr = rx
                .recv_timeout(Duration::from_secs(10))
                .ok()
                .and_then(|o| o.ok())
                .map(|o| String::from_utf8_lossy(&o.stderr).to_string())
                .unwrap_or_default();
            panic!("headrace did not finish within {limit:?}; stderr: {stderr}");
        }
    }
}

/// Runs `job` (with the state directory `state`) to the end within `limit`, failing the test
/// with its stderr unless it succeeds; returns its stderr (the warnings it logged).
pub fn run_to_end(job: &Path, state: Option<&Path>, limit: Duration) -> String {
    let o = output_within(&mut run_job(job, state), limit);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{} failed: {err}", job.display());
    err
}

/// Runs `headrace run <job> --summary-json <file>` within 120 s, failing the test unless it
/// succeeds; returns its stderr and the summary it wrote.
pub fn run_with_summary(job: &Path) -> (String, serde_json::Value) {
    let summary = job.with_extension("summary.json");
    let o = run(&[
        "run",
        job.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    let v = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    (err, v)
}

/// Runs `job` with `HEADRACE_FAULT=<fault>`, which must crash it there (within 120 s); returns
/// its stderr (the warnings it logged before).
pub fn crash_at(job: &Path, state: &Path, fault: &str) -> String {
    let o = output_within(
        run_job(job, Some(state)).env("HEADRACE_FAULT", fault),
        Duration::from_secs(120),
    );
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !o.status.success() && err.contains("HEADRACE_FAULT: aborting"),
        "{fault}: the fault must crash the job: {err}"
    );
    err
}

/// Runs `job` with the state directory `state` once per delay, killing it with SIGKILL that long
/// after its start when it still runs; after each run calls `after` with `None` when it was
/// killed, or with its stderr when it had ended by itself. Returns how many runs were killed.
pub fn sigkill_runs(
    job: &Path,
    state: &Path,
    delays_ms: &[u64],
    mut after: impl FnMut(Option<&str>),
) -> usize {
    let mut kills = 0;
    for delay in delays_ms {
        let mut job = Running::start(&mut run_job(job, Some(state)));
        std::thread::sleep(Duration::from_millis(*delay));
        let killed = job.sigkill();
        let (_, err) = job.wait_within(Duration::from_secs(60));
        if killed {
            kills += 1;
            after(None);
        } else {
            after(Some(&err));
        }
    }
    kills
}

/// Runs the continuous `job` (state directory `state`) until `progress` returns `Ok` (see
/// [`Running::wait_for`], which fails the test after `limit`), lets a few more checkpoints pass
/// (600 ms, in which nothing more may appear) and stops it with Ctrl-C, which must end it
/// successfully within 60 s.
pub fn run_until_then_ctrl_c(
    job: &Path,
    state: &Path,
    limit: Duration,
    progress: impl FnMut() -> Result<(), String>,
) {
    let mut last = Running::start(&mut run_job(job, Some(state)));
    last.wait_for(limit, progress);
    std::thread::sleep(Duration::from_millis(600));
    let (status, err) = last.ctrl_c(Duration::from_secs(60));
    assert!(status.success(), "Ctrl-C: {err}");
}

/// A `headrace` process a test started (stdout discarded), its stderr collected as it comes (so
/// a job logging much never blocks on a full pipe). Killed with SIGKILL when dropped while it
/// still runs (a failing test leaves no job behind).
pub struct Running {
    child: Child,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Running {
    /// Spawns `cmd`.
    pub fn start(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let reader = std::thread::spawn({
            let log = log.clone();
            move || {
                for line in std::io::BufReader::new(stderr)
                    .lines()
                    .map_while(Result::ok)
                {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        Running {
            child,
            log,
            reader: Some(reader),
        }
    }

    /// What the job has written to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Kills the process with SIGKILL if it still runs; returns whether it did.
    pub fn sigkill(&mut self) -> bool {
        if self.is_running() {
            self.child.kill().unwrap();
            true
        } else {
            false
        }
    }

    /// Waits for the process to end; fails the test with its stderr when it still runs after
    /// `limit`. Returns its exit status and all of its stderr.
    pub fn wait_within(&mut self, limit: Duration) -> (ExitStatus, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the job did not exit within {limit:?}; stderr: {}",
                    self.finished_log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, self.finished_log())
    }

    /// Calls `progress` every 50 ms until it returns `Ok`. When the job ends first or `limit`
    /// passes, kills it and fails the test with `progress`'s last `Err` and the job's stderr.
    pub fn wait_for(&mut self, limit: Duration, mut progress: impl FnMut() -> Result<(), String>) {
        let start = Instant::now();
        loop {
            let Err(short) = progress() else {
                return;
            };
            if start.elapsed() > limit || !self.is_running() {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{short}; stderr: {}", self.finished_log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the job as Ctrl-C does (SIGINT) and waits up to `limit` for it to end; returns its
    /// exit status and stderr.
    pub fn ctrl_c(&mut self, limit: Duration) -> (ExitStatus, String) {
        let st = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "kill -INT failed");
        self.wait_within(limit)
    }

    /// The whole stderr, once the process has ended (its pipe closes then).
    fn finished_log(&mut self) -> String {
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        self.log()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Creates `dir/in` and writes `dir/job.sql`: a continuous job (checkpoints every 200 ms,
/// parallelism 2, batches of `batch_size` rows) whose table `src (<columns>)` reads the CSV files
/// that appear in `dir/in` (watched every 50 ms; `src_options` adds options), followed by `rest`
/// (the sinks and the INSERT). Returns the job's path.
pub fn continuous_csv_job(
    dir: &Path,
    batch_size: usize,
    columns: &str,
    src_options: &str,
    rest: &str,
) -> PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    write_job(
        dir,
        "job.sql",
        &format!(
            "SET 'execution.checkpointing.interval' = '200 ms';
             SET 'parallelism.default' = '2';
             SET 'headrace.batch-size' = '{batch_size}';
             CREATE TABLE src ({columns}) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv',
                'source.monitor-interval' = '50 ms'{src_options});
             {rest}",
            input.display()
        ),
    )
}

/// Adds the CSV files `f000.csv`, `f001.csv`, ... (`files` of them, file `f` holding `text(f)`)
/// to `dir`, one every 40 ms, from a thread of their own. Each is written as a hidden file and
/// renamed into place: the filesystem source skips hidden files and takes visible ones as whole.
pub fn produce_csv_files(dir: &Path, files: usize, text: fn(usize) -> String) -> JoinHandle<()> {
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        for f in 0..files {
            let tmp = dir.join(format!(".f{f:03}.csv.tmp"));
            std::fs::write(&tmp, text(f)).unwrap();
            std::fs::rename(&tmp, dir.join(format!("f{f:03}.csv"))).unwrap();
            std::thread::sleep(Duration::from_millis(40));
        }
    })
}

/// The visible files below `dir` and its visible subdirectories (names not starting with '.' or
/// '_', as Flink and Hive list them), sorted; none when `dir` does not exist.
pub fn visible_files(dir: &Path) -> Vec<PathBuf> {
    headrace_integration_tests::conformance::visible_files(dir)
}

/// Every line of the visible files below `dir` (what a sink committed; not its hidden
/// in-progress files and markers).
pub fn committed_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for p in visible_files(dir) {
        let text = std::fs::read_to_string(&p).unwrap();
        lines.extend(text.lines().map(String::from));
    }
    lines
}

/// How often each item occurs.
pub fn counted<T: Ord>(items: impl IntoIterator<Item = T>) -> BTreeMap<T, usize> {
    let mut counts = BTreeMap::new();
    for i in items {
        *counts.entry(i).or_default() += 1;
    }
    counts
}

/// Asserts that `counts` (see [`counted`]) holds each of `want` exactly once and nothing else;
/// `what` names the output in the failure message.
pub fn assert_exactly_once<T: Ord + Debug>(
    counts: &BTreeMap<T, usize>,
    want: impl IntoIterator<Item = T>,
    what: &str,
) {
    let dups: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).take(5).collect();
    assert!(dups.is_empty(), "{what}: duplicated {dups:?}");
    let want: BTreeSet<T> = want.into_iter().collect();
    let missing: Vec<_> = want
        .iter()
        .filter(|k| !counts.contains_key(*k))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "{what}: missing {missing:?} ({} of {} there)",
        counts.len(),
        want.len()
    );
    let unexpected: Vec<_> = counts
        .keys()
        .filter(|k| !want.contains(*k))
        .take(5)
        .collect();
    assert!(unexpected.is_empty(), "{what}: unexpected {unexpected:?}");
}
