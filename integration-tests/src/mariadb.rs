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
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::container::{self, fault_methods, io_reason, Container, Launch};
use crate::engine::ExecOutput;
use crate::error::{Error, Result};
use crate::url::{self, DbUrl};

/// Variable naming an already running server (`mysql://user:password@host:port/db`).
pub const ENV: &str = "HEADRACE_TEST_MARIADB";
/// Variable overriding the image reference.
pub const IMAGE_ENV: &str = "HEADRACE_MARIADB_IMAGE";
/// The server's port in the container.
pub const PORT: u16 = 3306;
/// User, password, database and root password of the container.
pub const CREDENTIALS: &str = "headrace";

/// A running MariaDB; keeps its container (if any) alive while held.
#[derive(Debug)]
pub struct MariaDb {
    url: String,
    parts: DbUrl,
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
    let url = url.trim().to_string();
    let parts = url::parse(&url, &["mysql", "mariadb"], PORT)
        .map_err(|reason| Error::InvalidArgument(format!("{url:?}: {reason}")))?;
    let db = MariaDb {
        url,
        parts,
        container: None,
    };
    db.wait_ready(container::start_timeout()?)?;
    Ok(db)
}

/// Starts a container whatever `HEADRACE_TEST_MARIADB` says (for tests that need faults).
pub fn start_container() -> Result<MariaDb> {
    let timeout = container::start_timeout()?;
    let env = |_: &std::collections::BTreeMap<u16, u16>| {
        [
            "MARIADB_USER",
            "MARIADB_PASSWORD",
            "MARIADB_DATABASE",
            "MARIADB_ROOT_PASSWORD",
        ]
        .iter()
        .map(|k| (k.to_string(), CREDENTIALS.to_string()))
        .collect()
    };
    let container = container::launch(&Launch {
        service: "mariadb",
        image_dir: "mariadb",
        service_env: ENV,
        image: container::image("mariadb", IMAGE_ENV),
        ports: &[PORT],
        env: &env,
    })?;
    let port = container.host_port(PORT).unwrap_or(PORT);
    let parts = DbUrl {
        user: CREDENTIALS.into(),
        password: CREDENTIALS.into(),
        host: "127.0.0.1".into(),
        port,
        database: CREDENTIALS.into(),
    };
    let db = MariaDb {
        url: format!("mysql://{CREDENTIALS}:{CREDENTIALS}@127.0.0.1:{port}/{CREDENTIALS}"),
        parts,
        container: Some(container),
    };
    db.wait_ready(timeout)?;
    Ok(db)
}

impl MariaDb {
    /// Connection URL, e.g. `mysql://headrace:headrace@127.0.0.1:41234/headrace`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Host to connect to.
    pub fn host(&self) -> &str {
        &self.parts.host
    }

    /// Port to connect to.
    pub fn port(&self) -> u16 {
        self.parts.port
    }

    /// User name.
    pub fn user(&self) -> &str {
        &self.parts.user
    }

    /// Password.
    pub fn password(&self) -> &str {
        &self.parts.password
    }

    /// Database name.
    pub fn database(&self) -> &str {
        &self.parts.database
    }

    /// Connects and reads the server's handshake; returns the server version. Fails
    /// when nothing valid arrives within `timeout` (a paused server fails this).
    pub fn probe(&self, timeout: Duration) -> Result<String> {
        probe(&self.parts, timeout)
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
        match &self.container {
            Some(c) => c.wait_until(timeout, check),
            None => container::wait_until("mariadb", None, timeout, check),
        }
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
            &self.parts.user,
            "--batch",
            "--skip-column-names",
            "-e",
            sql,
            &self.parts.database,
        ];
        let out = self.container()?.exec_with(
            &cmd,
            &[("MYSQL_PWD", &self.parts.password)],
            Duration::from_secs(120),
        )?;
        let out = container::check_exit(&cmd, out)?;
        Ok(out.stdout.trim().to_string())
    }
}

fn probe(db: &DbUrl, timeout: Duration) -> Result<String> {
    let address = url::host_port(&db.host, db.port);
    let fail = |reason: String| Error::Probe {
        service: "mariadb",
        address: address.clone(),
        reason,
    };
    let addr = address
        .to_socket_addrs()
        .map_err(|e| fail(format!("cannot resolve: {e}")))?
        .next()
        .ok_or_else(|| fail("resolves to no address".into()))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| fail(io_reason("connect", &e, timeout)))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| fail(e.to_string()))?;
    let mut header = [0u8; 4];
    stream
        .read_exact(&mut header)
        .map_err(|e| fail(io_reason("read handshake", &e, timeout)))?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let mut payload = vec![0u8; len.min(65_536)];
    stream
        .read_exact(&mut payload)
        .map_err(|e| fail(io_reason("read handshake", &e, timeout)))?;
    match payload.first() {
        Some(10) => {
            let version = payload[1..].split(|b| *b == 0).next().unwrap_or_default();
            Ok(String::from_utf8_lossy(version).into_owned())
        }
        Some(0xff) => {
            let message = payload.get(3..).unwrap_or_default();
            Err(fail(format!(
                "server refused: {}",
                String::from_utf8_lossy(message)
            )))
        }
        other => Err(fail(format!("unexpected handshake packet start {other:?}"))),
    }
}
