//! A real Confluent-compatible schema registry: Apicurio Registry 2.4.2.Final (in-memory H2
//! storage), whose Confluent API lives at `/apis/ccompat/v6`.
//!
//! ```no_run
//! let reg = headrace_integration_tests::registry::start()?;
//! let url = reg.url(); // "http://127.0.0.1:PORT/apis/ccompat/v6", for 'avro-confluent.url'
//! let id = reg.register("orders-value", r#"{"type":"record","name":"R","fields":[]}"#)?;
//! reg.set_compatibility(Some("orders-value"), "BACKWARD")?;
//! assert_eq!(reg.versions("orders-value")?, vec![1]);
//! # let _ = (url, id);
//! # Ok::<(), headrace_integration_tests::Error>(())
//! ```
//!
//! Neither Confluent's registry nor Karapace can be installed from the package registries this
//! project reaches; Apicurio can, from Maven Central, as a library that
//! `integration-tests/registry/setup.sh` turns into a runnable Quarkus application, cached under
//! `~/.cache/headrace/registry/` (see `integration-tests/registry/README.md`). It runs as a plain
//! JVM process on a free port of 127.0.0.1, one per [`start`], and is killed when the handle is
//! dropped (or when the test process dies: a watchdog shell follows the test's pid).
//! [`start_https`] also opens an HTTPS port requiring TLS client certificates.
//!
//! Environment:
//! - `HEADRACE_TEST_SCHEMA_REGISTRY=http://host:port/apis/ccompat/v6`: use an already running
//!   Confluent-compatible registry (Confluent, Karapace, Apicurio) instead.
//! - `HEADRACE_REGISTRY_APP=/path/quarkus-run.jar`: the built application (`scripts/test-all.sh`
//!   sets it); without it `start` runs the setup script itself (idempotent; a first build takes
//!   about two minutes and needs `mvn`).
//! - `JAVA_HOME`: the JDK to run it with (else `java` on `PATH`; Java 17 or newer).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::container;
use crate::error::{Error, Result};
use crate::net;

/// Variable naming an already running Confluent-compatible registry (its API base URL).
pub const ENV: &str = "HEADRACE_TEST_SCHEMA_REGISTRY";
/// Variable naming the built registry application (`quarkus-run.jar`).
pub const APP_ENV: &str = "HEADRACE_REGISTRY_APP";
/// The script that builds the registry application and prints its path.
pub const SETUP_SCRIPT: &str = "integration-tests/registry/setup.sh";
/// Where Apicurio 2.x serves the Confluent Schema Registry API.
pub const CCOMPAT_PATH: &str = "/apis/ccompat/v6";

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer of the registry: HTTP status and body ([`Response::json`] parses it).
pub type Response = net::HttpResponse;

/// HTTPS with TLS client authentication for a registry started by [`start_https`].
///
/// The test application requires a client certificate on its HTTPS port (a build-time setting of
/// Quarkus, see `integration-tests/registry/README.md`), signed by a certificate of
/// `client_trust_store`; its plain HTTP port stays open for the kit's own requests.
#[derive(Debug, Clone)]
pub struct Https {
    /// PEM file of the server's certificate chain (leaf first); name `127.0.0.1` in its subject
    /// alternative names, the address [`SchemaRegistry::https_url`] uses.
    pub certificate_pem: PathBuf,
    /// PEM file of the server certificate's private key (PKCS#8 or PKCS#1).
    pub key_pem: PathBuf,
    /// PKCS#12 store of the certificate authorities whose client certificates are accepted
    /// (`keytool -importcert -storetype PKCS12 ...`).
    pub client_trust_store: PathBuf,
    /// Password of `client_trust_store`.
    pub client_trust_store_password: String,
}

/// Starts an Apicurio process serving HTTPS with client authentication as `https` says (and
/// plain HTTP); `HEADRACE_TEST_SCHEMA_REGISTRY` is not used. The HTTPS base URL is
/// [`SchemaRegistry::https_url`].
pub fn start_https(https: &Https) -> Result<SchemaRegistry> {
    for (what, path) in [
        ("certificate_pem", &https.certificate_pem),
        ("key_pem", &https.key_pem),
        ("client_trust_store", &https.client_trust_store),
    ] {
        if !path.is_file() {
            return Err(Error::InvalidArgument(format!(
                "registry::Https::{what}: no such file {}",
                path.display()
            )));
        }
    }
    launch_retrying(Some(https))
}

/// A running registry; the process (if this handle started one) lives while the handle is held.
#[derive(Debug)]
pub struct SchemaRegistry {
    url: String,
    https_url: Option<String>,
    address: String,
    /// Path prefix of the API on the server (`/apis/ccompat/v6`).
    prefix: String,
    process: Option<Child>,
    watchdog: Option<Child>,
    log: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

/// Uses the registry named by `HEADRACE_TEST_SCHEMA_REGISTRY` if set, else starts Apicurio on a
/// free port; returns once the Confluent API answers.
pub fn start() -> Result<SchemaRegistry> {
    container::external_or(ENV, connect, start_process)
}

/// Uses an already running registry at `url` (the Confluent API's base URL) once it answers.
pub fn connect(url: &str) -> Result<SchemaRegistry> {
    let url = url.trim().trim_end_matches('/').to_string();
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| Error::InvalidArgument(format!("expected an http:// URL, got {url:?}")))?;
    let (address, prefix) = match rest.split_once('/') {
        Some((a, p)) => (a.to_string(), format!("/{p}")),
        None => (rest.to_string(), String::new()),
    };
    let reg = SchemaRegistry {
        url,
        https_url: None,
        address,
        prefix,
        process: None,
        watchdog: None,
        log: None,
        _dir: None,
    };
    reg.wait_ready(container::start_timeout()?)?;
    Ok(reg)
}

/// Starts an Apicurio process whatever `HEADRACE_TEST_SCHEMA_REGISTRY` says.
pub fn start_process() -> Result<SchemaRegistry> {
    launch_retrying(None)
}

fn launch_retrying(https: Option<&Https>) -> Result<SchemaRegistry> {
    let jar = app_jar()?;
    let timeout = container::start_timeout()?;
    // A port picked free may be taken before the JVM binds it: try a few.
    let mut last = None;
    for _ in 0..3 {
        match launch(&jar, timeout, https) {
            Ok(reg) => return Ok(reg),
            Err(e) => {
                let retry = e.to_string().contains("Address already in use");
                last = Some(e);
                if !retry {
                    break;
                }
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::InvalidArgument("no attempt to start the registry".into())))
}

/// The application jar: `$HEADRACE_REGISTRY_APP`, else what the setup script prints (building it
/// on first use).
fn app_jar() -> Result<PathBuf> {
    if let Some(path) = container::external(APP_ENV) {
        let p = PathBuf::from(&path);
        if !p.is_file() {
            return Err(Error::InvalidEnv {
                var: APP_ENV,
                value: path,
                reason: format!("no such file; build it with `bash {SETUP_SCRIPT}`"),
            });
        }
        return Ok(p);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("registry/setup.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Io {
            context: format!("cannot run `bash {}`", script.display()),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || stdout.is_empty() {
        return Err(Error::Probe {
            service: "schema-registry",
            address: script.display().to_string(),
            reason: format!(
                "the setup script failed ({}): {}; it needs mvn and a JDK 17+ \
                 (apt-get install -y maven openjdk-17-jdk-headless), or set {APP_ENV} to a built \
                 quarkus-run.jar or {ENV} to a running registry",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(PathBuf::from(stdout.lines().last().unwrap_or_default()))
}

fn java() -> PathBuf {
    match std::env::var_os("JAVA_HOME") {
        Some(home) if Path::new(&home).join("bin/java").is_file() => {
            Path::new(&home).join("bin/java")
        }
        _ => PathBuf::from("java"),
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| Error::Io {
        context: "cannot find a free port on 127.0.0.1".into(),
        source,
    })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| Error::Io {
            context: "cannot read a bound port".into(),
            source,
        })
}

fn launch(jar: &Path, timeout: Duration, https: Option<&Https>) -> Result<SchemaRegistry> {
    let port = free_port()?;
    let ssl_port = match https {
        Some(_) => Some(free_port()?),
        None => None,
    };
    let mut tls_properties = Vec::new();
    if let (Some(h), Some(ssl_port)) = (https, ssl_port) {
        tls_properties = vec![
            format!("-Dquarkus.http.ssl-port={ssl_port}"),
            format!(
                "-Dquarkus.http.ssl.certificate.files={}",
                h.certificate_pem.display()
            ),
            format!(
                "-Dquarkus.http.ssl.certificate.key-files={}",
                h.key_pem.display()
            ),
            format!(
                "-Dquarkus.http.ssl.certificate.trust-store-file={}",
                h.client_trust_store.display()
            ),
            "-Dquarkus.http.ssl.certificate.trust-store-file-type=PKCS12".to_string(),
            format!(
                "-Dquarkus.http.ssl.certificate.trust-store-password={}",
                h.client_trust_store_password
            ),
        ];
    }
    let dir = tempfile::Builder::new()
        .prefix("headrace-registry-")
        .tempdir()
        .map_err(|source| Error::Io {
            context: "cannot create a directory for the registry's log".into(),
            source,
        })?;
    let log = dir.path().join("registry.log");
    let log_file = std::fs::File::create(&log).map_err(|source| Error::Io {
        context: format!("cannot create {}", log.display()),
        source,
    })?;
    let log_err = log_file.try_clone().map_err(|source| Error::Io {
        context: format!("cannot reopen {}", log.display()),
        source,
    })?;
    let java = java();
    let process = Command::new(&java)
        .args([
            "-Xmx512m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Dquarkus.http.host=127.0.0.1",
            &format!("-Dquarkus.http.port={port}"),
            "-Dquarkus.datasource.jdbc.initial-size=2",
            "-Dquarkus.datasource.jdbc.min-size=2",
            "-Djava.io.tmpdir=/tmp",
        ])
        .args(&tls_properties)
        .arg("-jar")
        .arg(jar)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .spawn()
        .map_err(|source| Error::Io {
            context: format!(
                "cannot run {} (a JDK 17+ is needed: apt-get install -y openjdk-17-jre-headless, \
                 or set JAVA_HOME)",
                java.display()
            ),
            source,
        })?;
    // Kills the JVM when the test process dies without dropping the handle (SIGKILL, abort).
    let watchdog = Command::new("sh")
        .args([
            "-c",
            &format!(
                "while kill -0 {owner} 2>/dev/null && kill -0 {jvm} 2>/dev/null; do sleep 1; done; \
                 kill {jvm} 2>/dev/null",
                owner = std::process::id(),
                jvm = process.id()
            ),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok();
    let address = format!("127.0.0.1:{port}");
    let mut reg = SchemaRegistry {
        url: format!("http://{address}{CCOMPAT_PATH}"),
        https_url: ssl_port.map(|p| format!("https://127.0.0.1:{p}{CCOMPAT_PATH}")),
        address,
        prefix: CCOMPAT_PATH.to_string(),
        process: Some(process),
        watchdog,
        log: Some(log),
        _dir: Some(dir),
    };
    let deadline = std::time::Instant::now() + timeout;
    let mut delay = Duration::from_millis(200);
    loop {
        let last_error = match reg.probe() {
            Ok(()) => return Ok(reg),
            Err(e) => e.to_string(),
        };
        if let Some(p) = reg.process.as_mut() {
            if let Ok(Some(status)) = p.try_wait() {
                return Err(Error::NotReady {
                    service: "schema-registry",
                    timeout,
                    last_error: format!("the registry process exited ({status})"),
                    logs: reg.log_tail(40),
                });
            }
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return Err(Error::NotReady {
                service: "schema-registry",
                timeout,
                last_error,
                logs: reg.log_tail(40),
            });
        }
        std::thread::sleep(delay.min(deadline - now));
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

impl SchemaRegistry {
    /// Base URL of the Confluent API, e.g. `http://127.0.0.1:41234/apis/ccompat/v6`: the value of
    /// `avro-confluent.url` and of confluent-kafka's `SchemaRegistryClient({"url": ...})`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Base URL of the Confluent API over HTTPS with client authentication, e.g.
    /// `https://127.0.0.1:41235/apis/ccompat/v6`, for a registry from [`start_https`].
    pub fn https_url(&self) -> Option<&str> {
        self.https_url.as_deref()
    }

    /// The last `n` lines of the registry's log (empty for an external registry).
    pub fn log_tail(&self, n: usize) -> String {
        let Some(text) = self
            .log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            return String::new();
        };
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn probe_error(&self, reason: String) -> Error {
        Error::Probe {
            service: "schema-registry",
            address: self.url.clone(),
            reason,
        }
    }

    /// Sends one request to `path` under the API base (`/subjects`, `/schemas/ids/1`, ...) with
    /// an optional JSON body; returns the answer whatever its status.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Response> {
        let full = format!("{}{path}", self.prefix);
        let body = body.map(Value::to_string).unwrap_or_default();
        net::http_request(
            &self.address,
            method,
            &full,
            &[
                ("Accept", "application/vnd.schemaregistry.v1+json"),
                ("Content-Type", "application/vnd.schemaregistry.v1+json"),
            ],
            &body,
            REQUEST_TIMEOUT,
        )
        .map_err(|reason| self.probe_error(format!("{method} {full}: {reason}")))
    }

    fn expect(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let r = self.request(method, path, body)?;
        if r.status != 200 {
            return Err(self.probe_error(format!(
                "{method} {path} answered HTTP {}: {}",
                r.status, r.body
            )));
        }
        Ok(r.json())
    }

    fn probe(&self) -> Result<()> {
        self.expect("GET", "/subjects", None).map(|_| ())
    }

    /// Waits until `GET /subjects` answers 200.
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        container::wait_until("schema-registry", None, timeout, || self.probe())
    }

    /// Registers the Avro schema `schema` (JSON text) under `subject`; returns its id.
    pub fn register(&self, subject: &str, schema: &str) -> Result<u32> {
        let j = self.expect(
            "POST",
            &format!("/subjects/{subject}/versions"),
            Some(&json!({ "schema": schema })),
        )?;
        j.get("id")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| self.probe_error(format!("registration answer without an id: {j}")))
    }

    /// Sets the compatibility level (`BACKWARD`, `FORWARD`, `FULL`, `NONE`, ...) of `subject`, or
    /// the global one with `None`.
    pub fn set_compatibility(&self, subject: Option<&str>, level: &str) -> Result<()> {
        let path = match subject {
            Some(s) => format!("/config/{s}"),
            None => "/config".to_string(),
        };
        self.expect("PUT", &path, Some(&json!({ "compatibility": level })))
            .map(|_| ())
    }

    /// The subjects registered.
    pub fn subjects(&self) -> Result<Vec<String>> {
        let j = self.expect("GET", "/subjects", None)?;
        Ok(j.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The version numbers under `subject`.
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>> {
        let j = self.expect("GET", &format!("/subjects/{subject}/versions"), None)?;
        Ok(j.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_u64().and_then(|v| u32::try_from(v).ok()))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The schema text registered under `id`.
    pub fn schema(&self, id: u32) -> Result<String> {
        let j = self.expect("GET", &format!("/schemas/ids/{id}"), None)?;
        j.get("schema")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| self.probe_error(format!("schema {id} answer without a schema: {j}")))
    }
}

impl Drop for SchemaRegistry {
    fn drop(&mut self) {
        for child in [self.process.as_mut(), self.watchdog.as_mut()]
            .into_iter()
            .flatten()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
