//! The error type of the integration-test kit.

use std::time::Duration;

/// Script that installs podman, starts its API service and builds the base image.
pub const SETUP_SCRIPT: &str = "integration-tests/containers/setup.sh";
/// Script that builds the service images.
pub const BUILD_SCRIPT: &str = "integration-tests/containers/build-images.sh";

/// Everything that can go wrong while starting, checking or breaking a test service.
///
/// The messages say what to do: which script to run, which variable to set.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The container engine (podman's or Docker's API socket) does not answer.
    #[error(
        "cannot reach the container engine at {endpoint}: {reason}. Run `{SETUP_SCRIPT}` (as root) \
         and `export DOCKER_HOST=unix:///run/podman/podman.sock`, or point DOCKER_HOST at a Docker \
         engine, or set {service_env} to use an already running service"
    )]
    EngineUnreachable {
        /// The endpoint that was tried, e.g. `unix:///run/podman/podman.sock`.
        endpoint: String,
        /// Why it failed.
        reason: String,
        /// The variable that selects an external service instead of a container.
        service_env: &'static str,
    },

    /// The service image has not been built.
    #[error(
        "image {image} is missing: build it with `{BUILD_SCRIPT} {name}` (after `{SETUP_SCRIPT}`), \
         or set {service_env} to use an already running service"
    )]
    ImageMissing {
        /// The image reference that was looked up.
        image: String,
        /// The image's directory name under `integration-tests/containers/`.
        name: &'static str,
        /// The variable that selects an external service instead of a container.
        service_env: &'static str,
    },

    /// The engine answered a request with an error status.
    #[error("container engine request {request} failed with HTTP {status}: {message}")]
    Api {
        /// Method and path of the request.
        request: String,
        /// HTTP status code.
        status: u16,
        /// The engine's message.
        message: String,
    },

    /// The engine's answer could not be understood.
    #[error("malformed answer from the container engine to {request}: {reason}")]
    Protocol {
        /// Method and path of the request.
        request: String,
        /// What was wrong.
        reason: String,
    },

    /// An I/O error while talking to the engine or to a service.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The service did not pass its readiness check in time.
    #[error(
        "{service} did not become ready within {timeout:?}: {last_error}{}",
        format_logs(logs)
    )]
    NotReady {
        /// The service (`kafka`, `postgres`, ...).
        service: &'static str,
        /// How long was waited.
        timeout: Duration,
        /// The last failure of the readiness check.
        last_error: String,
        /// The last lines of the container's log, if there is a container.
        logs: String,
    },

    /// The container stopped while it was expected to run.
    #[error(
        "{service} container exited with code {exit_code} before it was ready{}",
        format_logs(logs)
    )]
    ContainerExited {
        /// The service (`kafka`, `postgres`, ...).
        service: &'static str,
        /// The exit code of its main process.
        exit_code: i64,
        /// The last lines of the container's log.
        logs: String,
    },

    /// A fault or an `exec` was asked of a service that runs outside any container.
    #[error(
        "{service} is an external service (selected by {service_env}); it has no container, so \
         stop/start/pause/unpause/exec are not available"
    )]
    External {
        /// The service (`kafka`, `postgres`, ...).
        service: &'static str,
        /// The variable that selected the external service.
        service_env: &'static str,
    },

    /// An environment variable has a value that cannot be used.
    #[error("invalid {var}={value:?}: {reason}")]
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A command run in a container exited with a non-zero code.
    #[error(
        "command {command:?} exited with code {exit_code}\nstdout: {stdout}\nstderr: {stderr}"
    )]
    ExecFailed {
        /// The command line.
        command: Vec<String>,
        /// Its exit code.
        exit_code: i64,
        /// What it wrote to stdout.
        stdout: String,
        /// What it wrote to stderr.
        stderr: String,
    },

    /// An argument to the kit is not valid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A service answered a readiness probe with something unexpected.
    #[error("{service} probe of {address}: {reason}")]
    Probe {
        /// The service (`kafka`, `postgres`, ...).
        service: &'static str,
        /// The address that was probed.
        address: String,
        /// What went wrong.
        reason: String,
    },
}

fn format_logs(logs: &str) -> String {
    if logs.trim().is_empty() {
        String::new()
    } else {
        format!(
            "\n--- last lines of the container log ---\n{}",
            logs.trim_end()
        )
    }
}

/// The result type of the integration-test kit.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_script_to_run() {
        let missing = Error::ImageMissing {
            image: "localhost/headrace-kafka:latest".into(),
            name: "kafka",
            service_env: "HEADRACE_TEST_KAFKA",
        }
        .to_string();
        assert!(
            missing.contains("integration-tests/containers/build-images.sh kafka"),
            "{missing}"
        );
        let unreachable = Error::EngineUnreachable {
            endpoint: "unix:///run/podman/podman.sock".into(),
            reason: "No such file or directory".into(),
            service_env: "HEADRACE_TEST_KAFKA",
        }
        .to_string();
        assert!(
            unreachable.contains("integration-tests/containers/setup.sh"),
            "{unreachable}"
        );
        assert!(unreachable.contains("DOCKER_HOST"), "{unreachable}");
    }
}
