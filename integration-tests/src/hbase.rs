//! Apache HBase 2.6 in standalone mode (master, region server and ZooKeeper in one
//! JVM) with its Thrift 1 server: binary protocol, buffered transport, which is what
//! the `hbase-thrift` crate speaks.
//!
//! ```no_run
//! let hbase = headrace_integration_tests::hbase::start()?;
//! let thrift = hbase.thrift_address(); // "127.0.0.1:PORT"
//! hbase.create_table("events", &["cf"])?;
//! hbase.put("events", b"row1", "cf:q", b"value")?;
//! assert_eq!(hbase.get("events", b"row1", "cf:q")?, Some(b"value".to_vec()));
//! # Ok::<(), headrace_integration_tests::Error>(())
//! ```
//!
//! With `HEADRACE_TEST_HBASE=host:port` (a Thrift 1 server) an already running HBase
//! is used instead of a container (faults are then unavailable). The image is
//! `localhost/headrace-hbase:latest` (`HEADRACE_HBASE_IMAGE` overrides).
//!
//! Readiness: the Thrift call `getTableNames` from the host; for a container also the
//! creation (then deletion) of a table `headrace_readiness`, which only an
//! initialised master accepts.

use std::time::Duration;

use crate::container::{self, fault_methods, Container};
use crate::engine::ExecOutput;
use crate::error::{Error, Result};
use crate::thrift::{self, ty, Value, Writer};

/// Variable naming an already running Thrift 1 server (`host:port`).
pub const ENV: &str = "HEADRACE_TEST_HBASE";
/// Variable overriding the image reference.
pub const IMAGE_ENV: &str = "HEADRACE_HBASE_IMAGE";
/// The Thrift port in the container.
pub const PORT: u16 = 9090;

/// Time one Thrift call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Table created and deleted by the readiness check of a container.
const READINESS_TABLE: &str = "headrace_readiness";

/// A running HBase; keeps its container (if any) alive while held.
#[derive(Debug)]
pub struct HBase {
    address: String,
    container: Option<Container>,
}

/// Uses the Thrift server named by `HEADRACE_TEST_HBASE` if set, else starts a
/// container; returns once HBase answers.
pub fn start() -> Result<HBase> {
    container::external_or(ENV, connect, start_container)
}

/// Uses an already running Thrift 1 server (`host:port`) once `getTableNames`
/// answers. The handle has no container: faults are unavailable.
pub fn connect(address: &str) -> Result<HBase> {
    HBase {
        address: address.trim().to_string(),
        container: None,
    }
    .ready()
}

/// Starts a container whatever `HEADRACE_TEST_HBASE` says (for tests that need faults).
pub fn start_container() -> Result<HBase> {
    let (container, port) =
        container::launch_service("hbase", ENV, IMAGE_ENV, PORT, &|_| Vec::new())?;
    HBase {
        address: format!("127.0.0.1:{port}"),
        container: Some(container),
    }
    .ready()
}

impl HBase {
    /// `host:port` of the Thrift 1 server, e.g. `127.0.0.1:41234`.
    pub fn thrift_address(&self) -> &str {
        &self.address
    }

    /// The names of all user tables; fails unless the server answers within `timeout`
    /// (a paused server fails this).
    pub fn table_names_within(&self, timeout: Duration) -> Result<Vec<String>> {
        let result = self.call("getTableNames", &Writer::default(), timeout)?;
        match result.field(0) {
            Some(Value::List(items)) => Ok(items
                .iter()
                .filter_map(Value::bytes)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect()),
            _ => Err(self.failure("getTableNames", &result)),
        }
    }

    /// The names of all user tables.
    pub fn table_names(&self) -> Result<Vec<String>> {
        self.table_names_within(CALL_TIMEOUT)
    }

    /// Creates a table with the given column families unless it exists.
    pub fn create_table(&self, table: &str, families: &[&str]) -> Result<()> {
        let mut args = Writer::default();
        args.field(ty::STRING, 1).binary(table.as_bytes());
        args.field(ty::LIST, 2)
            .list_begin(ty::STRUCT, families.len());
        for family in families {
            let name = if family.ends_with(':') {
                family.to_string()
            } else {
                format!("{family}:")
            };
            args.field(ty::STRING, 1).binary(name.as_bytes()).stop();
        }
        let result = self.call("createTable", &args, CALL_TIMEOUT)?;
        match result.field(3) {
            // AlreadyExists.
            Some(_) => Ok(()),
            None => self.no_exception("createTable", &result),
        }
    }

    /// Disables and deletes a table (no-op when it does not exist).
    pub fn delete_table(&self, table: &str) -> Result<()> {
        if !self.table_names()?.iter().any(|t| t == table) {
            return Ok(());
        }
        let mut args = Writer::default();
        args.field(ty::STRING, 1).binary(table.as_bytes());
        let enabled = self.call("isTableEnabled", &args, CALL_TIMEOUT)?;
        if enabled.field(0) == Some(&Value::Bool(true)) {
            let result = self.call("disableTable", &args, CALL_TIMEOUT)?;
            self.no_exception("disableTable", &result)?;
        }
        let result = self.call("deleteTable", &args, CALL_TIMEOUT)?;
        self.no_exception("deleteTable", &result)
    }

    /// Writes one cell (`column` is `family:qualifier`).
    pub fn put(&self, table: &str, row: &[u8], column: &str, value: &[u8]) -> Result<()> {
        let mut args = Writer::default();
        args.field(ty::STRING, 1).binary(table.as_bytes());
        args.field(ty::STRING, 2).binary(row);
        args.field(ty::LIST, 3).list_begin(ty::STRUCT, 1);
        args.field(ty::BOOL, 1).bool(false);
        args.field(ty::STRING, 2).binary(column.as_bytes());
        args.field(ty::STRING, 3).binary(value);
        args.field(ty::BOOL, 4).bool(true);
        args.stop();
        args.field(ty::MAP, 4).map_begin(ty::STRING, ty::STRING, 0);
        let result = self.call("mutateRow", &args, CALL_TIMEOUT)?;
        self.no_exception("mutateRow", &result)
    }

    /// Reads the newest version of one cell (`column` is `family:qualifier`).
    pub fn get(&self, table: &str, row: &[u8], column: &str) -> Result<Option<Vec<u8>>> {
        let mut args = Writer::default();
        args.field(ty::STRING, 1).binary(table.as_bytes());
        args.field(ty::STRING, 2).binary(row);
        args.field(ty::STRING, 3).binary(column.as_bytes());
        args.field(ty::MAP, 4).map_begin(ty::STRING, ty::STRING, 0);
        let result = self.call("get", &args, CALL_TIMEOUT)?;
        match result.field(0) {
            Some(Value::List(cells)) => Ok(cells
                .first()
                .and_then(|cell| cell.field(1))
                .and_then(Value::bytes)
                .map(<[u8]>::to_vec)),
            _ => Err(self.failure("get", &result)),
        }
    }

    /// Waits until HBase answers (see the module documentation).
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let check = || {
            self.table_names_within(Duration::from_secs(10))?;
            if self.container.is_some() {
                self.create_table(READINESS_TABLE, &["cf"])?;
                self.delete_table(READINESS_TABLE)?;
            }
            Ok(())
        };
        container::wait_until("hbase", self.container.as_ref(), timeout, check)
    }

    fault_methods!("hbase", ENV);

    fn call(&self, method: &str, args: &Writer, timeout: Duration) -> Result<Value> {
        thrift::call(&self.address, method, args, timeout).map_err(|reason| Error::Probe {
            service: "hbase",
            address: self.address.clone(),
            reason,
        })
    }

    fn no_exception(&self, method: &str, result: &Value) -> Result<()> {
        match thrift::declared_exception(result) {
            None => Ok(()),
            Some(_) => Err(self.failure(method, result)),
        }
    }

    fn failure(&self, method: &str, result: &Value) -> Error {
        Error::Probe {
            service: "hbase",
            address: self.address.clone(),
            reason: format!(
                "{method}: {}",
                thrift::declared_exception(result).unwrap_or_else(|| format!("{result:?}"))
            ),
        }
    }
}
