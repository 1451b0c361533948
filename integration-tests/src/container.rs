//! Containers started by the kit, and the faults they can be put through.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::engine::{Engine, ExecOutput};
use crate::error::{Error, Result};

/// Label put on every container the kit starts (its value is the service name).
pub const LABEL: &str = "dev.headrace.integration-test";
const LABEL_PID: &str = "dev.headrace.owner-pid";
const LABEL_HOST: &str = "dev.headrace.owner-host";

/// Default time an `exec` may take.
const EXEC_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `stop()` lets the main process shut down before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A container started by the kit. Dropping it removes the container (unless
/// `HEADRACE_KEEP_CONTAINERS=1`, which keeps it for a look after the test).
///
/// Its host ports stay the same across [`stop`](Container::stop) and
/// [`start`](Container::start).
#[derive(Debug)]
pub struct Container {
    engine: Engine,
    id: String,
    name: String,
    ports: BTreeMap<u16, u16>,
    keep: bool,
}

/// What the engine says about a container's main process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// Engine status word: `created`, `running`, `paused`, `exited`, ...
    pub status: String,
    /// Whether the container runs (a paused container also counts as running).
    pub running: bool,
    /// Whether the container is paused.
    pub paused: bool,
    /// Exit code of the main process, when it has exited.
    pub exit_code: i64,
}

impl Container {
    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The container's name (`headrace-SERVICE-PID-N`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host port (on 127.0.0.1) that `container_port` is published on.
    pub fn host_port(&self, container_port: u16) -> Option<u16> {
        self.ports.get(&container_port).copied()
    }

    /// Runs a command in the container (which must be running and not paused) and
    /// returns its output, whatever its exit code.
    pub fn exec(&self, cmd: &[&str]) -> Result<ExecOutput> {
        self.engine.exec(&self.id, cmd, &[], EXEC_TIMEOUT)
    }

    /// Like [`exec`](Container::exec) with extra environment variables and a time limit
    /// on reading the output.
    pub fn exec_with(
        &self,
        cmd: &[&str],
        env: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<ExecOutput> {
        self.engine.exec(&self.id, cmd, env, timeout)
    }

    /// Runs a command in the container and fails with [`Error::ExecFailed`] unless it
    /// exits with code 0.
    pub fn exec_ok(&self, cmd: &[&str]) -> Result<ExecOutput> {
        check_exit(cmd, self.exec(cmd)?)
    }

    /// Runs a command (with extra environment variables, for up to 120 s) and returns its
    /// standard output trimmed; fails with [`Error::ExecFailed`] unless it exits with code 0.
    pub(crate) fn exec_output(&self, cmd: &[&str], env: &[(&str, &str)]) -> Result<String> {
        let out = check_exit(cmd, self.exec_with(cmd, env, EXEC_TIMEOUT)?)?;
        Ok(out.stdout.trim().to_string())
    }

    /// Stops the container: SIGTERM to its main process, SIGKILL after 10 s.
    /// Connections to its ports are refused until [`start`](Container::start).
    pub fn stop(&self) -> Result<()> {
        self.engine.stop(&self.id, STOP_GRACE)
    }

    /// Kills the container's main process at once (SIGKILL through a zero-grace stop).
    pub fn kill(&self) -> Result<()> {
        self.engine.stop(&self.id, Duration::ZERO)
    }

    /// Starts the stopped container again, with the same host ports. Does not wait
    /// for the service: the service handles' `start()` does.
    pub fn start(&self) -> Result<()> {
        self.engine.start(&self.id)
    }

    /// Freezes every process in the container: connections are accepted by the
    /// kernel but nothing answers until [`unpause`](Container::unpause).
    pub fn pause(&self) -> Result<()> {
        self.engine.pause(&self.id)
    }

    /// Thaws a paused container.
    pub fn unpause(&self) -> Result<()> {
        self.engine.unpause(&self.id)
    }

    /// The state of the container's main process.
    pub fn state(&self) -> Result<ContainerState> {
        let info = self.engine.inspect(&self.id)?;
        let state = info.get("State").cloned().unwrap_or(Value::Null);
        Ok(ContainerState {
            status: state
                .get("Status")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            running: state
                .get("Running")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            paused: state
                .get("Paused")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            exit_code: state.get("ExitCode").and_then(Value::as_i64).unwrap_or(0),
        })
    }

    /// The last `tail` lines of the container's output.
    pub fn logs(&self, tail: usize) -> Result<String> {
        self.engine.logs(&self.id, tail)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.keep {
            eprintln!(
                "[headrace-integration-tests] keeping container {} ({}) as HEADRACE_KEEP_CONTAINERS is set",
                self.name, self.id
            );
        } else if let Err(e) = self.engine.remove(&self.id) {
            eprintln!(
                "[headrace-integration-tests] could not remove container {}: {e}",
                self.name
            );
        }
    }
}

/// Turns a non-zero exit code into [`Error::ExecFailed`].
pub(crate) fn check_exit(cmd: &[&str], out: ExecOutput) -> Result<ExecOutput> {
    if out.success() {
        Ok(out)
    } else {
        Err(Error::ExecFailed {
            command: cmd.iter().map(|s| s.to_string()).collect(),
            exit_code: out.exit_code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// Computes a container's environment from its port map (container port -> host port).
pub(crate) type EnvFn<'a> = dyn Fn(&BTreeMap<u16, u16>) -> Vec<(String, String)> + 'a;

/// What the kit needs to start one service container.
pub(crate) struct Launch<'a> {
    /// Service name, used in container names, labels and errors.
    pub(crate) service: &'static str,
    /// Directory name under `integration-tests/containers/`, named in errors.
    pub(crate) image_dir: &'static str,
    /// Variable that selects an external service instead, named in errors.
    pub(crate) service_env: &'static str,
    /// Image reference.
    pub(crate) image: String,
    /// Container ports to publish on free host ports of 127.0.0.1.
    pub(crate) ports: &'a [u16],
    /// Environment of the container, given the chosen host ports (container -> host).
    pub(crate) env: &'a EnvFn<'a>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);
static REAP: Once = Once::new();

/// Creates and starts the container; retries with other host ports when one was
/// taken between choosing it and publishing it.
pub(crate) fn launch(spec: &Launch<'_>) -> Result<Container> {
    let engine = Engine::from_env(spec.service_env)?;
    REAP.call_once(|| reap_leftovers(&engine));
    if !engine.image_exists(&spec.image)? {
        return Err(Error::ImageMissing {
            image: spec.image.clone(),
            name: spec.image_dir,
            service_env: spec.service_env,
        });
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let ports = free_ports(spec.ports)?;
        let container = create(&engine, spec, ports)?;
        match engine.start(&container.id) {
            Ok(()) => return Ok(container),
            Err(e) if attempt < 4 && is_port_conflict(&e) => {
                drop(container);
                continue;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Starts the container of a service with one published port: the image is
/// `localhost/headrace-SERVICE:latest` unless `image_env` names another, built from
/// `integration-tests/containers/SERVICE/`. Returns the container and the host port of `port`.
pub(crate) fn launch_service(
    service: &'static str,
    service_env: &'static str,
    image_env: &str,
    port: u16,
    env: &EnvFn<'_>,
) -> Result<(Container, u16)> {
    let container = launch(&Launch {
        service,
        image_dir: service,
        service_env,
        image: image(service, image_env),
        ports: &[port],
        env,
    })?;
    let host_port = container.host_port(port).unwrap_or(port);
    Ok((container, host_port))
}

fn create(engine: &Engine, spec: &Launch<'_>, ports: BTreeMap<u16, u16>) -> Result<Container> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() % 1_000_000)
        .unwrap_or_default();
    let pid = std::process::id();
    let name = format!("headrace-{}-{pid}-{stamp}-{n}", spec.service);
    let env: Vec<String> = (spec.env)(&ports)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut exposed = serde_json::Map::new();
    let mut bindings = serde_json::Map::new();
    for (container_port, host_port) in &ports {
        let key = format!("{container_port}/tcp");
        exposed.insert(key.clone(), json!({}));
        bindings.insert(
            key,
            json!([{ "HostIp": "127.0.0.1", "HostPort": host_port.to_string() }]),
        );
    }
    let config = json!({
        "Image": spec.image,
        "Env": env,
        "Labels": {
            LABEL: spec.service,
            LABEL_PID: pid.to_string(),
            LABEL_HOST: hostname(),
        },
        "ExposedPorts": exposed,
        "HostConfig": { "PortBindings": bindings },
    });
    let id = engine.create_container(&name, &config)?;
    Ok(Container {
        engine: engine.clone(),
        id,
        name,
        ports,
        keep: std::env::var("HEADRACE_KEEP_CONTAINERS").is_ok_and(|v| v == "1" || v == "true"),
    })
}

fn is_port_conflict(e: &Error) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("address already in use") || text.contains("port is already allocated")
}

/// Picks one free port of 127.0.0.1 per container port (bind to port 0, read, release).
fn free_ports(container_ports: &[u16]) -> Result<BTreeMap<u16, u16>> {
    let mut listeners = Vec::new();
    let mut ports = BTreeMap::new();
    for &container_port in container_ports {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| Error::Io {
            context: "cannot find a free port on 127.0.0.1".into(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| Error::Io {
                context: "cannot read a bound port".into(),
                source,
            })?
            .port();
        ports.insert(container_port, port);
        listeners.push(listener);
    }
    Ok(ports)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Removes containers that test processes of this host left behind when they died
/// without unwinding (killed, aborted). Best effort: errors are ignored.
fn reap_leftovers(engine: &Engine) {
    let Ok(containers) = engine.list_with_label(LABEL_PID) else {
        return;
    };
    let host = hostname();
    for c in containers {
        let labels = c.get("Labels").cloned().unwrap_or(Value::Null);
        let label = |key: &str| labels.get(key).and_then(Value::as_str).map(str::to_string);
        let (Some(pid), Some(owner_host), Some(id)) = (
            label(LABEL_PID),
            label(LABEL_HOST),
            c.get("Id").and_then(Value::as_str),
        ) else {
            continue;
        };
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        if owner_host == host && !alive {
            let _ = engine.remove(id);
        }
    }
}

/// Polls `check` until it succeeds or `timeout` passes; with a container, fails
/// early when it exits and attaches its last log lines to the error.
pub(crate) fn wait_until<T>(
    service: &'static str,
    container: Option<&Container>,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(100);
    loop {
        let last_error = match check() {
            Ok(value) => return Ok(value),
            Err(e) => e.to_string(),
        };
        let logs = || container.and_then(|c| c.logs(40).ok()).unwrap_or_default();
        if let Some(c) = container {
            if let Ok(state) = c.state() {
                if !state.running && state.status != "created" {
                    return Err(Error::ContainerExited {
                        service,
                        exit_code: state.exit_code,
                        logs: logs(),
                    });
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::NotReady {
                service,
                timeout,
                last_error,
                logs: logs(),
            });
        }
        std::thread::sleep(delay.min(deadline - now));
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// The time a service may take to become ready: `HEADRACE_TEST_START_TIMEOUT_SECS`
/// or 180 s.
pub(crate) fn start_timeout() -> Result<Duration> {
    const VAR: &str = "HEADRACE_TEST_START_TIMEOUT_SECS";
    match std::env::var(VAR) {
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| Error::InvalidEnv {
                var: VAR,
                value: v.clone(),
                reason: e.to_string(),
            }),
        Err(_) => Ok(Duration::from_secs(180)),
    }
}

/// The image of a service: `$override_var` if set, else `localhost/headrace-NAME:latest`.
pub(crate) fn image(name: &str, override_var: &str) -> String {
    match std::env::var(override_var) {
        Ok(image) if !image.trim().is_empty() => image.trim().to_string(),
        _ => format!("localhost/headrace-{name}:latest"),
    }
}

/// Reads a variable that selects an external service; unset or empty means "start a container".
pub(crate) fn external(var: &str) -> Option<String> {
    std::env::var(var)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The service named by the variable `var` when it is set (connected with `connect`; a malformed
/// value is reported as an error of the variable), else a fresh container from `start`.
pub(crate) fn external_or<T>(
    var: &'static str,
    connect: impl FnOnce(&str) -> Result<T>,
    start: impl FnOnce() -> Result<T>,
) -> Result<T> {
    match external(var) {
        Some(value) => connect(&value).map_err(|e| match e {
            Error::InvalidArgument(reason) => Error::InvalidEnv {
                var,
                value: value.clone(),
                reason,
            },
            other => other,
        }),
        None => start(),
    }
}

/// Quotes a string for `sh -c`.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Generates the fault methods of a service handle with a `container: Option<Container>`
/// field and a `wait_ready(&self, Duration) -> Result<()>` method.
macro_rules! fault_methods {
    ($service:literal, $env:expr) => {
        /// The container that runs the service, or [`Error::External`] when the service
        /// was given by its environment variable.
        pub fn container(&self) -> Result<&Container> {
            self.container.as_ref().ok_or(Error::External {
                service: $service,
                service_env: $env,
            })
        }

        /// Whether the service is an already running one given by its environment
        /// variable (no container, so no faults).
        pub fn is_external(&self) -> bool {
            self.container.is_none()
        }

        /// Stops the service's container (SIGTERM, SIGKILL after 10 s): connections are
        /// refused until [`start`](Self::start). The data stays.
        pub fn stop(&self) -> Result<()> {
            self.container()?.stop()
        }

        /// Kills the service's container at once (SIGKILL), like a crash.
        pub fn kill(&self) -> Result<()> {
            self.container()?.kill()
        }

        /// Starts the stopped container again on the same host port and waits until the
        /// service passes its readiness check.
        pub fn start(&self) -> Result<()> {
            self.container()?.start()?;
            self.wait_ready(crate::container::start_timeout()?)
        }

        /// Freezes the service: connections are accepted but nothing answers until
        /// [`unpause`](Self::unpause).
        pub fn pause(&self) -> Result<()> {
            self.container()?.pause()
        }

        /// Thaws the paused service (it answers again at once).
        pub fn unpause(&self) -> Result<()> {
            self.container()?.unpause()
        }

        /// Waits until the service passes its readiness check (within the start timeout) and
        /// hands the handle back.
        fn ready(self) -> Result<Self> {
            self.wait_ready(crate::container::start_timeout()?)?;
            Ok(self)
        }

        /// Runs a command in the service's container, failing unless it exits with 0.
        pub fn exec(&self, cmd: &[&str]) -> Result<ExecOutput> {
            self.container()?.exec_ok(cmd)
        }
    };
}
pub(crate) use fault_methods;

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever this machine has, asking for an image that was never built fails with
    /// a message naming the script that fixes it (setup.sh when the engine is not
    /// there, build-images.sh when it is).
    #[test]
    fn missing_image_names_the_script_to_run() {
        let env = |_: &BTreeMap<u16, u16>| Vec::new();
        let err = launch(&Launch {
            service: "kafka",
            image_dir: "kafka",
            service_env: "HEADRACE_TEST_KAFKA",
            image: "localhost/headrace-never-built:latest".into(),
            ports: &[9092],
            env: &env,
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("build-images.sh kafka") || err.contains("setup.sh"),
            "{err}"
        );
    }

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
