//! Jobs in a separate process, so that they can be killed with SIGKILL: a runner binary built on
//! [`headrace_cli::main_with`] with a registry of the author's choice, SQL job files, and reading the
//! `commit-files` sink's output.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use headrace_sdk::options::RawOptions;
use headrace_sdk::registry::Registry;
use headrace_sdk::schema::TableSchema;

use super::Failure;

/// The `main` of a runner binary: `headrace` with `registry`. An author whose connector is not built
/// into Headrace adds a small binary to their crate:
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     let mut registry = headrace_cli::builtin_registry(); // datagen and commit-files are needed
///     registry.register_connector(headrace_example_connector::factory());
///     headrace_integration_tests::conformance::runner_main(registry)
/// }
/// ```
///
/// and hands its path (`env!("CARGO_BIN_EXE_<name>")` in the crate's tests) to
/// [`Suite::with_runner`](super::Suite::with_runner). The registry must contain `datagen` and
/// `commit-files` (the crash checks' trusted source and sink), as the built-in registry does.
pub fn runner_main(registry: Registry) -> ExitCode {
    headrace_cli::main_with(registry)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `CREATE TABLE name (...) WITH (...)` for `schema` and `options`.
pub(crate) fn create_table(name: &str, schema: &TableSchema, options: &RawOptions) -> String {
    let cols: Vec<String> = schema
        .physical_columns()
        .map(|c| format!("`{}` {}", c.name.replace('`', "``"), c.data_type))
        .collect();
    let opts: Vec<String> = options
        .iter()
        .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
        .collect();
    format!(
        "CREATE TABLE `{name}` (\n  {}\n) WITH (\n  {}\n);\n",
        cols.join(",\n  "),
        opts.join(",\n  ")
    )
}

/// A runner process.
pub(crate) struct RunnerProcess {
    child: Child,
    stderr: PathBuf,
}

/// Start `runner run <job> --state-dir <state> --quiet`, with stderr going to a file.
pub(crate) fn spawn(
    runner: &Path,
    job: &Path,
    state: &Path,
    stderr: PathBuf,
) -> Result<RunnerProcess, Failure> {
    let err = std::fs::File::create(&stderr)?;
    let child = Command::new(runner)
        .arg("run")
        .arg(job)
        .arg("--state-dir")
        .arg(state)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::from(err))
        .spawn()
        .map_err(|e| Failure::new(format!("cannot start {}: {e}", runner.display())))?;
    Ok(RunnerProcess { child, stderr })
}

impl RunnerProcess {
    /// Whether the process has ended.
    pub fn exited(&mut self) -> Result<Option<std::process::ExitStatus>, Failure> {
        Ok(self.child.try_wait()?)
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGKILL, unless it already ended; true when it was killed.
    pub fn kill(&mut self) -> Result<bool, Failure> {
        if self.child.try_wait()?.is_some() {
            return Ok(false);
        }
        self.child.kill()?;
        let _ = self.child.wait();
        Ok(true)
    }

    /// Wait for the end, failing (and killing it) after `limit`.
    pub fn wait(&mut self, limit: Duration) -> Result<std::process::ExitStatus, Failure> {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait()? {
                return Ok(s);
            }
            if start.elapsed() > limit {
                let _ = self.kill();
                return Err(Failure::new(format!(
                    "the job process did not finish within {limit:?}; stderr: {}",
                    self.stderr()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// The keys (first fields) of every committed line the `commit-files` sink wrote into `dir`
/// (`+I[key, ...]`; in-progress files are hidden and not read).
pub(crate) fn commit_files_keys(dir: &Path) -> Result<Vec<String>, Failure> {
    let mut keys = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(keys);
    };
    for e in rd.flatten() {
        let p = e.path();
        let hidden = e.file_name().to_string_lossy().starts_with('.');
        if !p.is_file() || hidden {
            continue;
        }
        for line in std::fs::read_to_string(&p)?.lines() {
            let inner = line
                .strip_prefix("+I[")
                .and_then(|l| l.strip_suffix(']'))
                .ok_or_else(|| {
                    Failure::new(format!("unexpected line in {}: {line:?}", p.display()))
                })?;
            keys.push(inner.split(", ").next().unwrap_or_default().to_string());
        }
    }
    Ok(keys)
}
