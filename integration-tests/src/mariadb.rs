//! MariaDB (Debian's `mariadb-server`, version 10.11): user `headrace` (all
//! privileges, from any host), password `headrace`, database `headrace`, root's
//! password `headrace`, row-based binary log.
//!
//! ```no_run
//! let db = headrace_integration_tests::mariadb::start()?;
//! let url = db.url(); // mysql://headrace:headrace@127.0.0.1:PORT/headrace
//! db.sql("CREATE TABLE t (id INT)")?;
//! assert_eq!(db.sql("SELECT COUNT(*) FROM t")?, "0");
//! # Ok::<(), headrace_integration_tests::Error>(())
//! ```
//!
//! With `HEADRACE_TEST_MARIADB=mysql://user:password@host:port/database` an already
//! running server is used instead of a container (faults and [`MariaDb::sql`] are
//! then unavailable). The image is `localhost/headrace-mariadb:latest`
//! (`HEADRACE_MARIADB_IMAGE` overrides).
//!
//! Readiness: the server's handshake packet read from the host, then, in a
//! container, a `SELECT 1` as the test user with the `mariadb` client (stricter than
//! `mysqladmin ping`, which also succeeds when the user does not exist yet).

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use crate::container::{self, fault_methods, Container};
use crate::db::{self, db_accessors, Connection, DbServer};
use crate::engine::ExecOutput;
use crate::error::{Error, Result};
use crate::net::io_reason;

/// Variable naming an already running server (`mysql://user:password@host:port/db`).
pub const ENV: &str = "HEADRACE_TEST_MARIADB";
/// Variable overriding the image reference.
pub const IMAGE_ENV: &str = "HEADRACE_MARIADB_IMAGE";
/// The server's port in the container.
pub const PORT: u16 = 3306;
/// User, password, database and root password of the container.
pub const CREDENTIALS: &str = db::CREDENTIALS;

const SERVER: DbServer = DbServer::new("mariadb", ENV, IMAGE_ENV, PORT)
    .schemes(&["mysql", "mariadb"])
    .credentials(&[
        "MARIADB_USER",
        "MARIADB_PASSWORD",
        "MARIADB_DATABASE",
        "MARIADB_ROOT_PASSWORD",
    ]);

/// A running MariaDB; keeps its container (if any) alive while held.
#[derive(Debug)]
pub struct MariaDb {
    conn: Connection,
    container: Option<Container>,
}

/// Uses the server named by `HEADRACE_TEST_MARIADB` if set, else starts a container; returns
/// once the server answers queries.
pub fn start() -> Result<MariaDb> {
    container::external_or(ENV, connect, start_container)
}

/// Uses an already running server given by its URL once it answers queries. The handle has
/// no container: faults and the SQL helper are unavailable.
pub fn connect(url: &str) -> Result<MariaDb> {
    MariaDb {
        conn: SERVER.parse(url)?,
        container: None,
    }
    .ready()
}

/// Starts a container whatever `HEADRACE_TEST_MARIADB` says (for tests that need faults).
pub fn start_container() -> Result<MariaDb> {
    let (conn, container) = SERVER.launch()?;
    MariaDb {
        conn,
        container: Some(container),
    }
    .ready()
}

impl MariaDb {
    db_accessors!("mysql://headrace:headrace@127.0.0.1:41234/headrace");

    /// Connects and reads the server's handshake; returns the server version. Fails
    /// when nothing valid arrives within `timeout` (a paused server fails this).
    pub fn probe(&self, timeout: Duration) -> Result<String> {
        SERVER.probe(&self.conn.parts, timeout, |stream| {
            read_handshake(stream, timeout)
        })
    }

    /// Waits until the server answers queries.
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let check = || {
            self.probe(Duration::from_secs(5))?;
            if self.container.is_some() {
                self.sql("SELECT 1")?;
            }
            Ok(())
        };
        container::wait_until("mariadb", self.container.as_ref(), timeout, check)
    }

    fault_methods!("mariadb", ENV);

    /// Runs SQL with the `mariadb` client inside the container (over TCP, as the test
    /// user, in the test database) and returns its batch output without column names,
    /// trimmed: one line per row, columns separated by tabs.
    pub fn sql(&self, sql: &str) -> Result<String> {
        let cmd = [
            "mariadb",
            "--protocol=tcp",
            "-h",
            "127.0.0.1",
            "-u",
            &self.conn.parts.user,
            "--batch",
            "--skip-column-names",
            "-e",
            sql,
            &self.conn.parts.database,
        ];
        self.container()?
            .exec_output(&cmd, &[("MYSQL_PWD", &self.conn.parts.password)])
    }
}

/// Reads the server's first packet: the handshake with its version, or an error.
fn read_handshake(
    stream: &mut TcpStream,
    timeout: Duration,
) -> std::result::Result<String, String> {
    let mut header = [0u8; 4];
    stream
        .read_exact(&mut header)
        .map_err(|e| io_reason("read handshake", &e, timeout))?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let mut payload = vec![0u8; len.min(65_536)];
    stream
        .read_exact(&mut payload)
        .map_err(|e| io_reason("read handshake", &e, timeout))?;
    match payload.first() {
        Some(10) => {
            let version = payload[1..].split(|b| *b == 0).next().unwrap_or_default();
            Ok(String::from_utf8_lossy(version).into_owned())
        }
        Some(0xff) => {
            let message = payload.get(3..).unwrap_or_default();
            Err(format!(
                "server refused: {}",
                String::from_utf8_lossy(message)
            ))
        }
        other => Err(format!("unexpected handshake packet start {other:?}")),
    }
}
