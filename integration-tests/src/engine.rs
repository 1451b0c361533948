//! A minimal client of the Docker Engine API, which podman's API service also speaks.
//!
//! Only what the kit needs: ping, image lookup, create/start/stop/pause/unpause/remove
//! of containers, inspect, logs and exec. One HTTP/1.1 request per connection
//! (`Connection: close`), over a Unix socket or plain TCP, with JSON bodies.
//! Paths carry no API version, so both podman 4.x (API 1.41) and recent Docker
//! engines (which refuse old versions) accept them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};

/// podman's API socket as `setup.sh` starts it.
pub const PODMAN_SOCKET: &str = "/run/podman/podman.sock";
/// Docker's default API socket.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// Timeout of an ordinary API request.
const API_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the engine listens.
#[derive(Debug, Clone)]
enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

/// A parsed HTTP answer.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Response {
    fn json(&self, request: &str) -> Result<Value> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Protocol {
            request: request.to_string(),
            reason: format!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            ),
        })
    }
}

/// Output of a command run in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The command's exit code.
    pub exit_code: i64,
    /// What it wrote to stdout (lossily decoded as UTF-8).
    pub stdout: String,
    /// What it wrote to stderr (lossily decoded as UTF-8).
    pub stderr: String,
}

impl ExecOutput {
    /// Whether the command exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

/// A handle on the container engine (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    endpoint: Endpoint,
}

impl Engine {
    /// The engine named by `DOCKER_HOST` (`unix://PATH` or `tcp://HOST:PORT`); without it,
    /// podman's socket if it exists, else Docker's.
    ///
    /// `service_env` is named in errors as the way to do without containers.
    pub(crate) fn from_env(service_env: &'static str) -> Result<Engine> {
        let endpoint = match std::env::var("DOCKER_HOST") {
            Ok(host) if !host.trim().is_empty() => {
                let host = host.trim();
                if let Some(path) = host.strip_prefix("unix://") {
                    Endpoint::Unix(PathBuf::from(path))
                } else if let Some(addr) = host.strip_prefix("tcp://") {
                    Endpoint::Tcp(addr.trim_end_matches('/').to_string())
                } else {
                    return Err(Error::InvalidEnv {
                        var: "DOCKER_HOST",
                        value: host.to_string(),
                        reason: "expected unix:///path/to/socket or tcp://host:port (no TLS)"
                            .into(),
                    });
                }
            }
            _ => {
                let podman = PathBuf::from(PODMAN_SOCKET);
                if podman.exists() || !std::path::Path::new(DOCKER_SOCKET).exists() {
                    Endpoint::Unix(podman)
                } else {
                    Endpoint::Unix(PathBuf::from(DOCKER_SOCKET))
                }
            }
        };
        let engine = Engine { endpoint };
        engine.ping(service_env)?;
        Ok(engine)
    }

    fn ping(&self, service_env: &'static str) -> Result<()> {
        let unreachable = |reason: String| Error::EngineUnreachable {
            endpoint: self.endpoint.to_string(),
            reason,
            service_env,
        };
        match self.request("GET", "/_ping", None, Duration::from_secs(10)) {
            Ok(resp) if resp.status == 200 => Ok(()),
            Ok(resp) => Err(unreachable(format!(
                "GET /_ping answered HTTP {}: {}",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            ))),
            Err(e) => Err(unreachable(e.to_string())),
        }
    }

    fn connect(&self, timeout: Duration) -> Result<Box<dyn Stream>> {
        let io_err = |source| Error::Io {
            context: format!(
                "cannot connect to the container engine at {}",
                self.endpoint
            ),
            source,
        };
        let set = |r: std::io::Result<()>| r.map_err(io_err);
        Ok(match &self.endpoint {
            Endpoint::Unix(path) => {
                let s = UnixStream::connect(path).map_err(io_err)?;
                set(s.set_read_timeout(Some(timeout)))?;
                set(s.set_write_timeout(Some(API_TIMEOUT)))?;
                Box::new(s)
            }
            Endpoint::Tcp(addr) => {
                let s = TcpStream::connect(addr).map_err(io_err)?;
                set(s.set_read_timeout(Some(timeout)))?;
                set(s.set_write_timeout(Some(API_TIMEOUT)))?;
                Box::new(s)
            }
        })
    }

    /// Sends one request and reads the whole answer (the engine closes the connection).
    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Response> {
        let what = format!("{method} {path}");
        let io_err = |source| Error::Io {
            context: format!("container engine request {what} at {}", self.endpoint),
            source,
        };
        let mut stream = self.connect(timeout)?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        crate::net::write_request(
            &mut stream,
            method,
            path,
            "docker",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .map_err(io_err)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(io_err)?;
        parse_response(&raw).map_err(|reason| Error::Protocol {
            request: what.clone(),
            reason,
        })
    }

    /// Sends a request and fails unless the status is one of `ok`.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        ok: &[u16],
        timeout: Duration,
    ) -> Result<Response> {
        let resp = self.request(method, path, body, timeout)?;
        if ok.contains(&resp.status) {
            Ok(resp)
        } else {
            Err(api_error(method, path, &resp))
        }
    }

    /// Whether an image exists locally.
    pub(crate) fn image_exists(&self, image: &str) -> Result<bool> {
        let path = format!("/images/{image}/json");
        let resp = self.request("GET", &path, None, API_TIMEOUT)?;
        match resp.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(api_error("GET", &path, &resp)),
        }
    }

    /// Creates a container and returns its id.
    pub(crate) fn create_container(&self, name: &str, config: &Value) -> Result<String> {
        let path = format!("/containers/create?name={}", encode(name));
        let resp = self.call("POST", &path, Some(config), &[201, 200], API_TIMEOUT)?;
        let json = resp.json(&path)?;
        json.get("Id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::Protocol {
                request: format!("POST {path}"),
                reason: format!("no Id in {json}"),
            })
    }

    /// Starts a container (no-op when it runs).
    pub(crate) fn start(&self, id: &str) -> Result<()> {
        let path = format!("/containers/{id}/start");
        self.call("POST", &path, None, &[204, 304, 200], API_TIMEOUT)
            .map(drop)
    }

    /// Stops a container: SIGTERM, then SIGKILL after `grace`.
    pub(crate) fn stop(&self, id: &str, grace: Duration) -> Result<()> {
        let path = format!("/containers/{id}/stop?t={}", grace.as_secs());
        self.call("POST", &path, None, &[204, 304, 200], API_TIMEOUT + grace)
            .map(drop)
    }

    /// Freezes every process of a container.
    pub(crate) fn pause(&self, id: &str) -> Result<()> {
        let path = format!("/containers/{id}/pause");
        self.call("POST", &path, None, &[204, 200], API_TIMEOUT)
            .map(drop)
    }

    /// Thaws a paused container.
    pub(crate) fn unpause(&self, id: &str) -> Result<()> {
        let path = format!("/containers/{id}/unpause");
        self.call("POST", &path, None, &[204, 200], API_TIMEOUT)
            .map(drop)
    }

    /// Removes a container, killing it if it runs (no-op when it is gone).
    pub(crate) fn remove(&self, id: &str) -> Result<()> {
        let path = format!("/containers/{id}?force=true&v=true");
        self.call("DELETE", &path, None, &[204, 200, 404], API_TIMEOUT)
            .map(drop)
    }

    /// The container's inspect document.
    pub(crate) fn inspect(&self, id: &str) -> Result<Value> {
        let path = format!("/containers/{id}/json");
        self.call("GET", &path, None, &[200], API_TIMEOUT)?
            .json(&path)
    }

    /// Ids and labels of all containers (running or not) that carry `label`.
    pub(crate) fn list_with_label(&self, label: &str) -> Result<Vec<Value>> {
        let filters = serde_json::json!({ "label": [label] }).to_string();
        let path = format!("/containers/json?all=true&filters={}", encode(&filters));
        match self
            .call("GET", &path, None, &[200], API_TIMEOUT)?
            .json(&path)?
        {
            Value::Array(items) => Ok(items),
            other => Err(Error::Protocol {
                request: format!("GET {path}"),
                reason: format!("expected an array, got {other}"),
            }),
        }
    }

    /// The last `tail` lines of the container's stdout and stderr, interleaved.
    pub(crate) fn logs(&self, id: &str, tail: usize) -> Result<String> {
        let path = format!("/containers/{id}/logs?stdout=true&stderr=true&tail={tail}");
        let resp = self.call("GET", &path, None, &[200], API_TIMEOUT)?;
        let (out, err) = demux(&resp.body);
        let mut text = String::from_utf8_lossy(&out).into_owned();
        text.push_str(&String::from_utf8_lossy(&err));
        Ok(text)
    }

    /// Runs a command in a running container and collects its output and exit code.
    pub(crate) fn exec(
        &self,
        id: &str,
        cmd: &[&str],
        env: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<ExecOutput> {
        let create = format!("/containers/{id}/exec");
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let config = serde_json::json!({
            "AttachStdin": false,
            "AttachStdout": true,
            "AttachStderr": true,
            "Tty": false,
            "Cmd": cmd,
            "Env": env,
        });
        let exec_id = self
            .call("POST", &create, Some(&config), &[201, 200], API_TIMEOUT)?
            .json(&create)?
            .get("Id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::Protocol {
                request: format!("POST {create}"),
                reason: "no Id in the answer".into(),
            })?;
        let start = format!("/exec/{exec_id}/start");
        let body = serde_json::json!({ "Detach": false, "Tty": false });
        let resp = self.call("POST", &start, Some(&body), &[200, 101], timeout)?;
        let (stdout, stderr) = demux(&resp.body);
        // The stream ends when the process does; its exit code may lag a moment.
        let inspect = format!("/exec/{exec_id}/json");
        let mut exit_code = None;
        for _ in 0..50 {
            let info = self
                .call("GET", &inspect, None, &[200], API_TIMEOUT)?
                .json(&inspect)?;
            let running = info
                .get("Running")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !running {
                exit_code = info.get("ExitCode").and_then(Value::as_i64);
                if exit_code.is_some() {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let exit_code = exit_code.ok_or_else(|| Error::Protocol {
            request: format!("GET {inspect}"),
            reason: "the command's exit code did not show up within 5 s".into(),
        })?;
        Ok(ExecOutput {
            exit_code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }
}

fn api_error(method: &str, path: &str, resp: &Response) -> Error {
    let text = String::from_utf8_lossy(&resp.body).into_owned();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or(text);
    Error::Api {
        request: format!("{method} {path}"),
        status: resp.status,
        message,
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses a complete HTTP/1.1 answer read until the connection closed.
pub(crate) fn parse_response(raw: &[u8]) -> std::result::Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {} bytes", raw.len()))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            } else if name == "content-length" {
                length = value.parse::<usize>().ok();
            }
        }
    }
    let rest = &raw[split + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n)
            .ok_or_else(|| format!("body shorter ({}) than Content-Length {n}", rest.len()))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response { status, body })
}

fn dechunk(mut data: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line without end")?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|e| format!("bad chunk size {size_text:?}: {e}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).ok_or("chunk shorter than its size")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

/// Splits Docker's multiplexed stream (8-byte frame headers) into stdout and stderr.
/// Data that does not look multiplexed is taken as stdout.
fn demux(mut data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while !data.is_empty() {
        let framed = data.len() >= 8 && data[0] <= 2 && data[1..4] == [0, 0, 0];
        if !framed {
            out.extend_from_slice(data);
            break;
        }
        let size = u32::from_be_bytes([data[4], data[5], data[6], data[7]]) as usize;
        let end = (8 + size).min(data.len());
        let payload = &data[8..end];
        if data[0] == 2 {
            err.extend_from_slice(payload);
        } else {
            out.extend_from_slice(payload);
        }
        data = &data[end..];
    }
    (out, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_answers() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK";
        let resp = parse_response(plain).unwrap();
        assert_eq!((resp.status, resp.body.as_slice()), (200, &b"OK"[..]));

        let chunked =
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let resp = parse_response(chunked).unwrap();
        assert_eq!((resp.status, resp.body.as_slice()), (201, &b"abcde"[..]));

        let raw = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap().status, 204);
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn demultiplexes_exec_streams() {
        let data = b"\x01\0\0\0\0\0\0\x04out\n\x02\0\0\0\0\0\0\x04err\n";
        let (out, err) = demux(data);
        assert_eq!(out, b"out\n");
        assert_eq!(err, b"err\n");
        let (out, err) = demux(b"plain text");
        assert_eq!((out.as_slice(), err.len()), (&b"plain text"[..], 0));
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(
            encode(r#"{"label":["a=b"]}"#),
            "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D"
        );
    }
}
