//! Apache Kafka: one KRaft node (broker and controller), transactions enabled.
//!
//! ```no_run
//! let kafka = headrace_integration_tests::kafka::start()?;
//! let bootstrap = kafka.bootstrap_servers(); // "127.0.0.1:PORT"
//! kafka.create_topic("orders", 3)?;
//! kafka.produce("orders", &["a", "b"])?;
//! assert_eq!(kafka.consume("orders", 2, std::time::Duration::from_secs(30))?, ["a", "b"]);
//! kafka.pause()?;   // the broker answers nothing
//! kafka.unpause()?;
//! kafka.stop()?;    // connections refused
//! kafka.start()?;   // same port, data kept, waits until ready
//! # Ok::<(), headrace_integration_tests::Error>(())
//! ```
//!
//! With `HEADRACE_TEST_KAFKA=host:port[,host:port...]` an already running cluster is
//! used instead of a container (faults and the tool helpers are then unavailable).
//! The image is `localhost/headrace-kafka:latest` (`HEADRACE_KAFKA_IMAGE` overrides),
//! built by `integration-tests/containers/build-images.sh kafka`.
//!
//! Readiness is a real Kafka request from the host: ApiVersions, then Metadata, which
//! must list a broker at the advertised address (so the host port mapping and the
//! advertised listener are right).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::container::{self, fault_methods, shell_quote, Container, Launch};
use crate::engine::ExecOutput;
use crate::error::{Error, Result};
use crate::net::{self, io_reason};

/// Variable naming an already running Kafka (`host:port[,host:port...]`).
pub const ENV: &str = "HEADRACE_TEST_KAFKA";
/// Variable overriding the image reference.
pub const IMAGE_ENV: &str = "HEADRACE_KAFKA_IMAGE";
/// Listener port for clients on the host (published on a free port of 127.0.0.1).
pub const PORT: u16 = 9092;
/// Bootstrap address for tools run inside the container with `exec`.
pub const INTERNAL_BOOTSTRAP: &str = "localhost:19092";

/// Container port of the SASL_PLAINTEXT (mechanism PLAIN) listener of
/// [`start_container_with_sasl_plain`].
pub const SASL_PORT: u16 = 9094;

/// A running Kafka; keeps its container (if any) alive while held.
#[derive(Debug)]
pub struct Kafka {
    bootstrap: String,
    container: Option<Container>,
    sasl_bootstrap: Option<String>,
}

/// Uses the cluster named by `HEADRACE_TEST_KAFKA` if set, else starts a container;
/// returns once the cluster answers metadata requests.
pub fn start() -> Result<Kafka> {
    start_with(&[])
}

/// Like [`start`], with extra broker properties for a container, e.g.
/// `[("transaction.max.timeout.ms", "60000")]` (they override the image's defaults).
/// Property names are lower-case words joined by dots. An external cluster
/// (`HEADRACE_TEST_KAFKA`) is used as it is: the properties are ignored then.
pub fn start_with(broker_properties: &[(&str, &str)]) -> Result<Kafka> {
    container::external_or(ENV, connect, || start_container_with(broker_properties))
}

/// Uses an already running cluster (`host:port[,host:port...]`) once it answers
/// metadata requests. The handle has no container: faults and tools are unavailable.
pub fn connect(bootstrap_servers: &str) -> Result<Kafka> {
    Kafka {
        bootstrap: bootstrap_servers.trim().to_string(),
        container: None,
        sasl_bootstrap: None,
    }
    .ready()
}

/// Starts a container whatever `HEADRACE_TEST_KAFKA` says (for tests that need faults).
pub fn start_container() -> Result<Kafka> {
    start_container_with(&[])
}

/// Like [`start_container`], with extra broker properties (see [`start_with`]).
pub fn start_container_with(broker_properties: &[(&str, &str)]) -> Result<Kafka> {
    launch_container(broker_properties, None)
}

/// Starts a container with, besides the usual PLAINTEXT listener, a `SASL_PLAINTEXT` listener
/// (mechanism PLAIN) that knows one user, published on its own host port
/// ([`Kafka::sasl_bootstrap_servers`]). For tests of authentication and its failures.
pub fn start_container_with_sasl_plain(user: &str, password: &str) -> Result<Kafka> {
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid(user) || !valid(password) {
        return Err(Error::InvalidArgument(
            "SASL user and password: letters, digits and '-' only".into(),
        ));
    }
    launch_container(&[], Some((user, password)))
}

fn launch_container(
    broker_properties: &[(&str, &str)],
    sasl: Option<(&str, &str)>,
) -> Result<Kafka> {
    let mut extra = Vec::new();
    for (key, value) in broker_properties {
        let valid = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.');
        if !valid {
            return Err(Error::InvalidArgument(format!(
                "broker property name {key:?}: expected lower-case words joined by dots"
            )));
        }
        let var = format!("KAFKA_CFG_{}", key.to_ascii_uppercase().replace('.', "_"));
        extra.push((var, value.to_string()));
    }
    let env = |ports: &std::collections::BTreeMap<u16, u16>| {
        let host_port = ports.get(&PORT).copied().unwrap_or(PORT);
        let mut env = vec![
            ("KAFKA_ADVERTISED_HOST".to_string(), "127.0.0.1".to_string()),
            ("KAFKA_ADVERTISED_PORT".to_string(), host_port.to_string()),
        ];
        if let Some((user, password)) = sasl {
            let sasl_port = ports.get(&SASL_PORT).copied().unwrap_or(SASL_PORT);
            env.extend([
                (
                    "KAFKA_ADVERTISED_LISTENERS".to_string(),
                    format!(
                        "EXTERNAL://127.0.0.1:{host_port},INTERNAL://localhost:19092,SASL://127.0.0.1:{sasl_port}"
                    ),
                ),
                (
                    "KAFKA_CFG_LISTENERS".to_string(),
                    format!(
                        "EXTERNAL://0.0.0.0:{PORT},INTERNAL://0.0.0.0:19092,CONTROLLER://localhost:9093,SASL://0.0.0.0:{SASL_PORT}"
                    ),
                ),
                (
                    "KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP".to_string(),
                    "EXTERNAL:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL:SASL_PLAINTEXT"
                        .to_string(),
                ),
                ("KAFKA_CFG_SASL_ENABLED_MECHANISMS".to_string(), "PLAIN".to_string()),
                (
                    "KAFKA_CFG_LISTENER_NAME_SASL_PLAIN_SASL_JAAS_CONFIG".to_string(),
                    format!(
                        "org.apache.kafka.common.security.plain.PlainLoginModule required user_{user}=\"{password}\";"
                    ),
                ),
            ]);
        }
        env.extend(extra.iter().cloned());
        env
    };
    let ports: &[u16] = if sasl.is_some() {
        &[PORT, SASL_PORT]
    } else {
        &[PORT]
    };
    let container = container::launch(&Launch {
        service: "kafka",
        image_dir: "kafka",
        service_env: ENV,
        image: container::image("kafka", IMAGE_ENV),
        ports,
        env: &env,
    })?;
    let host_port = container.host_port(PORT).unwrap_or(PORT);
    let sasl_bootstrap = sasl.map(|_| {
        format!(
            "127.0.0.1:{}",
            container.host_port(SASL_PORT).unwrap_or(SASL_PORT)
        )
    });
    Kafka {
        bootstrap: format!("127.0.0.1:{host_port}"),
        container: Some(container),
        sasl_bootstrap,
    }
    .ready()
}

impl Kafka {
    /// The `bootstrap.servers` value for clients on the host, e.g. `127.0.0.1:41234`.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// The SASL_PLAINTEXT listener's address, for a container from
    /// [`start_container_with_sasl_plain`].
    pub fn sasl_bootstrap_servers(&self) -> Option<&str> {
        self.sasl_bootstrap.as_deref()
    }

    /// Sends ApiVersions and Metadata requests to the first bootstrap server and
    /// returns the brokers the cluster lists; fails when a request cannot be sent or
    /// answered within `timeout`.
    pub fn metadata(&self, timeout: Duration) -> Result<Metadata> {
        let first = self.bootstrap.split(',').next().unwrap_or_default().trim();
        probe(first, timeout)
    }

    /// Waits until the cluster answers metadata requests listing at least one broker
    /// (and, for a container, a broker at the advertised host address).
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let check = || {
            let meta = self.metadata(Duration::from_secs(5))?;
            if meta.brokers.is_empty() {
                return Err(probe_error(&self.bootstrap, "metadata lists no broker yet"));
            }
            if self.container.is_some()
                && !meta
                    .brokers
                    .iter()
                    .any(|b| format!("{}:{}", b.host, b.port) == self.bootstrap)
            {
                return Err(probe_error(
                    &self.bootstrap,
                    &format!(
                        "no broker advertises {} in {:?}",
                        self.bootstrap, meta.brokers
                    ),
                ));
            }
            Ok(())
        };
        container::wait_until("kafka", self.container.as_ref(), timeout, check)
    }

    fault_methods!("kafka", ENV);

    /// Runs a Kafka command-line tool inside the container (`kafka-topics.sh`,
    /// `kafka-console-producer.sh`, `kafka-transactions.sh`, ... as in the Kafka
    /// distribution); use [`INTERNAL_BOOTSTRAP`] as its bootstrap server.
    pub fn tool(&self, tool: &str, args: &[&str]) -> Result<ExecOutput> {
        let mut cmd = vec![tool];
        cmd.extend_from_slice(args);
        self.exec(&cmd)
    }

    /// Creates a topic (replication factor 1) unless it exists.
    pub fn create_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        let partitions = partitions.to_string();
        self.tool(
            "kafka-topics.sh",
            &[
                "--bootstrap-server",
                INTERNAL_BOOTSTRAP,
                "--create",
                "--if-not-exists",
                "--topic",
                topic,
                "--partitions",
                &partitions,
                "--replication-factor",
                "1",
            ],
        )
        .map(drop)
    }

    /// Writes one record per value (no key, no newlines in values) with the console
    /// producer (acks=all); creates the topic if needed.
    pub fn produce(&self, topic: &str, values: &[&str]) -> Result<()> {
        let lines: Vec<String> = values.iter().map(|v| shell_quote(v)).collect();
        let script = format!(
            "printf '%s\\n' {} | kafka-console-producer.sh --bootstrap-server {INTERNAL_BOOTSTRAP} \
             --topic {} --command-property acks=all",
            lines.join(" "),
            shell_quote(topic)
        );
        self.exec(&["sh", "-c", &script]).map(drop)
    }

    /// Reads up to `max` record values from the beginning of a topic with the console
    /// consumer (`isolation.level=read_committed`), giving up after `timeout` without a
    /// new record. Returns the values read, in order per partition.
    ///
    /// The console consumer's first poll also joins its group, and the timeout covers it: on a
    /// loaded machine that poll can use it all. So a read that timed out with nothing is made
    /// once more before it counts as empty (an empty answer takes twice `timeout`).
    pub fn consume(&self, topic: &str, max: usize, timeout: Duration) -> Result<Vec<String>> {
        let (values, timed_out) = self.consume_once(topic, max, timeout)?;
        if values.is_empty() && timed_out {
            eprintln!(
                "kafka test kit: the console consumer read nothing from '{topic}' in {timeout:?}; \
                 reading once more"
            );
            return self.consume_once(topic, max, timeout).map(|(v, _)| v);
        }
        Ok(values)
    }

    /// One console-consumer read; also says whether it ended by its timeout.
    fn consume_once(
        &self,
        topic: &str,
        max: usize,
        timeout: Duration,
    ) -> Result<(Vec<String>, bool)> {
        let max = max.to_string();
        let timeout_ms = timeout.as_millis().to_string();
        let cmd = [
            "kafka-console-consumer.sh",
            "--bootstrap-server",
            INTERNAL_BOOTSTRAP,
            "--topic",
            topic,
            "--from-beginning",
            "--max-messages",
            &max,
            "--timeout-ms",
            &timeout_ms,
            "--command-property",
            "isolation.level=read_committed",
        ];
        // The consumer exits with 1 when its timeout passes; what it read is still valid.
        let out = self.container()?.exec(&cmd)?;
        let timed_out = out.stderr.contains("TimeoutException");
        if !out.success() && !timed_out {
            return Err(Error::ExecFailed {
                command: cmd.iter().map(|s| s.to_string()).collect(),
                exit_code: out.exit_code,
                stdout: out.stdout,
                stderr: out.stderr,
            });
        }
        Ok((out.stdout.lines().map(str::to_string).collect(), timed_out))
    }
}

/// A broker as listed in a Metadata answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    /// The broker's `node.id`.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
}

/// What a Metadata request returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Live brokers.
    pub brokers: Vec<Broker>,
    /// The cluster id, if the broker sent one.
    pub cluster_id: Option<String>,
    /// The active controller's id (-1 when unknown).
    pub controller_id: i32,
}

const API_METADATA: i16 = 3;
const API_VERSIONS: i16 = 18;
const METADATA_VERSION: i16 = 4;

fn probe_error(address: &str, reason: &str) -> Error {
    Error::Probe {
        service: "kafka",
        address: address.to_string(),
        reason: reason.to_string(),
    }
}

/// ApiVersions v0 (any broker answers it), then Metadata v4 for no topics.
fn probe(address: &str, timeout: Duration) -> Result<Metadata> {
    let fail = |reason: String| probe_error(address, &reason);
    let mut stream = net::connect(address, timeout).map_err(fail)?;

    let versions = round_trip(&mut stream, API_VERSIONS, 0, 1, &[], timeout).map_err(fail)?;
    let mut r = Reader::new(&versions);
    let error_code = r.i16().map_err(fail)?;
    if error_code != 0 {
        return Err(fail(format!("ApiVersions error code {error_code}")));
    }
    let count = r.i32().map_err(fail)?;
    let mut metadata_range = None;
    for _ in 0..count.max(0) {
        let (key, min, max) = (
            r.i16().map_err(fail)?,
            r.i16().map_err(fail)?,
            r.i16().map_err(fail)?,
        );
        if key == API_METADATA {
            metadata_range = Some((min, max));
        }
    }
    match metadata_range {
        Some((min, max)) if (min..=max).contains(&METADATA_VERSION) => {}
        other => {
            return Err(fail(format!(
                "broker does not support Metadata v{METADATA_VERSION} (supports {other:?})"
            )))
        }
    }

    // Metadata v4: topics = [] (none), allow_auto_topic_creation = false.
    let body = [0, 0, 0, 0, 0];
    let answer = round_trip(
        &mut stream,
        API_METADATA,
        METADATA_VERSION,
        2,
        &body,
        timeout,
    )
    .map_err(fail)?;
    let mut r = Reader::new(&answer);
    let parse = |r: &mut Reader<'_>| -> std::result::Result<Metadata, String> {
        let _throttle = r.i32()?;
        let n = r.i32()?;
        let mut brokers = Vec::new();
        for _ in 0..n.max(0) {
            let node_id = r.i32()?;
            let host = r.string()?.unwrap_or_default();
            let port = r.i32()?;
            let _rack = r.string()?;
            brokers.push(Broker {
                node_id,
                host,
                port,
            });
        }
        let cluster_id = r.string()?;
        let controller_id = r.i32()?;
        Ok(Metadata {
            brokers,
            cluster_id,
            controller_id,
        })
    };
    parse(&mut r).map_err(fail)
}

/// Sends one request (header v1) and returns the answer's body (after header v0).
fn round_trip(
    stream: &mut TcpStream,
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    body: &[u8],
    timeout: Duration,
) -> std::result::Result<Vec<u8>, String> {
    let client_id = b"headrace-probe";
    let mut msg = Vec::new();
    msg.extend_from_slice(&api_key.to_be_bytes());
    msg.extend_from_slice(&api_version.to_be_bytes());
    msg.extend_from_slice(&correlation_id.to_be_bytes());
    msg.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    msg.extend_from_slice(client_id);
    msg.extend_from_slice(body);
    let mut framed = (msg.len() as i32).to_be_bytes().to_vec();
    framed.extend_from_slice(&msg);
    stream
        .write_all(&framed)
        .map_err(|e| io_reason(&format!("send request {api_key}"), &e, timeout))?;
    let mut size = [0u8; 4];
    stream
        .read_exact(&mut size)
        .map_err(|e| io_reason(&format!("read answer to request {api_key}"), &e, timeout))?;
    let size = i32::from_be_bytes(size);
    if !(4..=64 * 1024 * 1024).contains(&size) {
        return Err(format!("implausible answer size {size}"));
    }
    let mut answer = vec![0u8; size as usize];
    stream
        .read_exact(&mut answer)
        .map_err(|e| io_reason(&format!("read answer to request {api_key}"), &e, timeout))?;
    let got = i32::from_be_bytes([answer[0], answer[1], answer[2], answer[3]]);
    if got != correlation_id {
        return Err(format!("correlation id {got}, expected {correlation_id}"));
    }
    Ok(answer.split_off(4))
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        if self.data.len() < n {
            return Err("answer ends early".into());
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn i16(&mut self) -> std::result::Result<i16, String> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> std::result::Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> std::result::Result<Option<String>, String> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let b = self.take(len as usize)?;
        Ok(Some(String::from_utf8_lossy(b).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_metadata_fields() {
        let mut data = Vec::new();
        data.extend_from_slice(&7i16.to_be_bytes());
        data.extend_from_slice(b"broker1");
        data.extend_from_slice(&(-1i16).to_be_bytes());
        let mut r = Reader::new(&data);
        assert_eq!(r.string().unwrap().as_deref(), Some("broker1"));
        assert_eq!(r.string().unwrap(), None);
        assert!(r.i32().is_err());
    }

    #[test]
    fn probe_of_a_closed_port_fails_clearly() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = probe(&addr, Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("connect"), "{err}");
    }
}
