//! Integration-test kit of Headrace: real Kafka, PostgreSQL, MariaDB, OpenSearch and
//! HBase (Thrift 1) servers in containers, with faults on demand.
//!
//! Each service module has a `start()` that returns a handle with ready-to-use
//! connection settings; the handle keeps its container alive while held and removes
//! it when dropped. `start()` returns only after a real readiness check passed (a
//! Kafka metadata request, a PostgreSQL startup handshake plus `pg_isready`, a
//! MariaDB handshake plus a query, OpenSearch cluster health, HBase Thrift calls),
//! never after a fixed sleep.
//!
//! ```no_run
//! use headrace_integration_tests::{kafka, postgres, mariadb};
//!
//! let kafka = kafka::start()?;
//! println!("bootstrap.servers={}", kafka.bootstrap_servers());
//! let pg = postgres::start()?;
//! println!("{}", pg.url());
//! let db = mariadb::start()?;
//! println!("{}", db.url());
//!
//! // Faults: the same host port comes back after a restart.
//! kafka.pause()?;
//! kafka.unpause()?;
//! kafka.stop()?;
//! kafka.start()?;
//! # Ok::<(), headrace_integration_tests::Error>(())
//! ```
//!
//! # Setup
//!
//! Containers run on podman (or Docker) through the Docker Engine API at
//! `DOCKER_HOST` (default: `/run/podman/podman.sock`, else `/var/run/docker.sock`).
//! On a fresh machine, as root:
//!
//! ```text
//! integration-tests/containers/setup.sh          # podman, its API service, the base image
//! integration-tests/containers/build-images.sh   # localhost/headrace-{kafka,postgres,mariadb,opensearch,hbase}
//! export DOCKER_HOST=unix:///run/podman/podman.sock
//! ```
//!
//! Errors say which script to run when the engine does not answer or an image is
//! missing.
//!
//! # Environment
//!
//! - `HEADRACE_TEST_KAFKA=host:port`, `HEADRACE_TEST_POSTGRES=postgres://...`,
//!   `HEADRACE_TEST_MARIADB=mysql://...`, `HEADRACE_TEST_OPENSEARCH=http://...`,
//!   `HEADRACE_TEST_HBASE=host:port`: use an already running server instead of a
//!   container (no faults then). `start_container()` ignores them.
//! - `HEADRACE_KAFKA_IMAGE`, `HEADRACE_POSTGRES_IMAGE`, `HEADRACE_MARIADB_IMAGE`,
//!   `HEADRACE_OPENSEARCH_IMAGE`, `HEADRACE_HBASE_IMAGE`: other image references.
//! - `HEADRACE_TEST_START_TIMEOUT_SECS`: how long a service may take to get ready
//!   (default 180).
//! - `HEADRACE_KEEP_CONTAINERS=1`: leave containers behind for a look after the test.
//!
//! # From async code
//!
//! The API is blocking (plain threads and sockets, no runtime). In a Tokio test, call
//! it directly when nothing else must run meanwhile, or through
//! `tokio::task::spawn_blocking` when tasks must keep running during a fault.
//!
//! # Schema registry
//!
//! [`registry`] runs a real Confluent-compatible schema registry (Apicurio Registry, built from
//! Maven Central by `integration-tests/registry/setup.sh`) as a JVM process on a free port, for
//! the `avro-confluent` format's tests.
//!
//! # Connector conformance
//!
//! [`conformance`] is a suite of checks any connector gets by implementing one trait,
//! [`conformance::ExternalContext`]; see `integration-tests/CONFORMANCE.md`.

pub mod conformance;
mod container;
mod db;
mod engine;
mod error;
pub mod hbase;
pub mod kafka;
pub mod mariadb;
mod net;
pub mod opensearch;
pub mod postgres;
pub mod registry;
mod thrift;
mod url;

pub use container::{Container, ContainerState, LABEL};
pub use engine::{ExecOutput, DOCKER_SOCKET, PODMAN_SOCKET};
pub use error::{Error, Result, BUILD_SCRIPT, SETUP_SCRIPT};
