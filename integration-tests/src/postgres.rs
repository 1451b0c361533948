//! PostgreSQL (Debian's package, version 15): superuser `headrace`, password
//! `headrace`, database `headrace`, password authentication from any host,
//! `wal_level=logical`.
//!
//! ```no_run
//! let pg = headrace_integration_tests::postgres::start()?;
//! let url = pg.url(); // postgres://headrace:headrace@127.0.0.1:PORT/headrace
//! pg.psql("CREATE TABLE t (id int)")?;
//! assert_eq!(pg.psql("SELECT count(*) FROM t")?, "0");
//! # Ok::<(), headrace_integration_tests::Error>(())
//! ```
//!
//! With `HEADRACE_TEST_POSTGRES=postgres://user:password@host:port/database` an
//! already running server is used instead of a container (faults and
//! [`Postgres::psql`] are then unavailable). The image is
//! `localhost/headrace-postgres:latest` (`HEADRACE_POSTGRES_IMAGE` overrides).
//!
//! Readiness: a startup message from the host that the server answers with an
//! authentication request (what `pg_isready` checks), then, in a container,
//! `pg_isready` itself.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::container::{self, fault_methods, io_reason, Container, Launch};
use crate::engine::ExecOutput;
use crate::error::{Error, Result};
use crate::url::{self, DbUrl};

/// Variable naming an already running server (`postgres://user:password@host:port/db`).
pub const ENV: &str = "HEADRACE_TEST_POSTGRES";
/// Variable overriding the image reference.
pub const IMAGE_ENV: &str = "HEADRACE_POSTGRES_IMAGE";
/// The server's port in the container.
pub const PORT: u16 = 5432;
/// User, password and database of the container.
pub const CREDENTIALS: &str = "headrace";

/// A running PostgreSQL; keeps its container (if any) alive while held.
#[derive(Debug)]
pub struct Postgres {
    url: String,
    parts: DbUrl,
    container: Option<Container>,
}

/// Uses the server named by `HEADRACE_TEST_POSTGRES` if set, else starts a container; returns
/// once the server accepts connections.
pub fn start() -> Result<Postgres> {
    container::external_or(ENV, connect, start_container)
}

/// Uses an already running server given by its URL once it accepts connections. The handle has
/// no container: faults and the SQL helper are unavailable.
pub fn connect(url: &str) -> Result<Postgres> {
    let url = url.trim().to_string();
    let parts = url::parse(&url, &["postgres", "postgresql"], PORT)
        .map_err(|reason| Error::InvalidArgument(format!("{url:?}: {reason}")))?;
    let pg = Postgres {
        url,
        parts,
        container: None,
    };
    pg.wait_ready(container::start_timeout()?)?;
    Ok(pg)
}

/// Starts a container whatever `HEADRACE_TEST_POSTGRES` says (for tests that need faults).
pub fn start_container() -> Result<Postgres> {
    let timeout = container::start_timeout()?;
    let env = |_: &std::collections::BTreeMap<u16, u16>| {
        ["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"]
            .iter()
            .map(|k| (k.to_string(), CREDENTIALS.to_string()))
            .collect()
    };
    let container = container::launch(&Launch {
        service: "postgres",
        image_dir: "postgres",
        service_env: ENV,
        image: container::image("postgres", IMAGE_ENV),
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
    let pg = Postgres {
        url: format!("postgres://{CREDENTIALS}:{CREDENTIALS}@127.0.0.1:{port}/{CREDENTIALS}"),
        parts,
        container: Some(container),
    };
    pg.wait_ready(timeout)?;
    Ok(pg)
}

impl Postgres {
    /// Connection URL, e.g. `postgres://headrace:headrace@127.0.0.1:41234/headrace`.
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

    /// Sends a startup message and fails unless the server asks for authentication
    /// within `timeout` (a paused or starting server fails this).
    pub fn probe(&self, timeout: Duration) -> Result<()> {
        probe(&self.parts, timeout)
    }

    /// Waits until the server accepts connections.
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let check = || {
            self.probe(Duration::from_secs(5))?;
            if let Some(c) = &self.container {
                c.exec_ok(&[
                    "pg_isready",
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    &self.parts.user,
                    "-d",
                    &self.parts.database,
                ])?;
            }
            Ok(())
        };
        match &self.container {
            Some(c) => c.wait_until(timeout, check),
            None => container::wait_until("postgres", None, timeout, check),
        }
    }

    fault_methods!("postgres", ENV);

    /// Runs SQL with `psql` inside the container (over TCP, as the test user, stopping
    /// at the first error) and returns its unaligned, tuples-only output, trimmed:
    /// one line per row, columns separated by `|`.
    pub fn psql(&self, sql: &str) -> Result<String> {
        let cmd = [
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            &self.parts.user,
            "-d",
            &self.parts.database,
            "-c",
            sql,
        ];
        let out = self.container()?.exec_with(
            &cmd,
            &[("PGPASSWORD", &self.parts.password)],
            Duration::from_secs(120),
        )?;
        let out = container::check_exit(&cmd, out)?;
        Ok(out.stdout.trim().to_string())
    }
}

fn probe(db: &DbUrl, timeout: Duration) -> Result<()> {
    let address = url::host_port(&db.host, db.port);
    let fail = |reason: String| Error::Probe {
        service: "postgres",
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
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| fail(e.to_string()))?;

    // StartupMessage: length, protocol 3.0, then name/value pairs and a final NUL.
    let mut body = 196_608i32.to_be_bytes().to_vec();
    for (k, v) in [
        ("user", db.user.as_str()),
        ("database", db.database.as_str()),
    ] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    stream
        .write_all(&msg)
        .map_err(|e| fail(io_reason("send startup message", &e, timeout)))?;

    let mut head = [0u8; 5];
    stream
        .read_exact(&mut head)
        .map_err(|e| fail(io_reason("read answer", &e, timeout)))?;
    match head[0] {
        b'R' => Ok(()),
        b'E' => {
            let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]).clamp(4, 65_536);
            let mut rest = vec![0u8; (len - 4) as usize];
            let _ = stream.read_exact(&mut rest);
            // Fields: a type byte then a NUL-terminated string; keep severity, code, message.
            let fields: Vec<String> = rest
                .split(|b| *b == 0)
                .filter(|f| matches!(f.first(), Some(b'S' | b'C' | b'M')))
                .map(|f| String::from_utf8_lossy(&f[1..]).into_owned())
                .collect();
            Err(fail(format!("server refused: {}", fields.join(" "))))
        }
        other => Err(fail(format!(
            "unexpected message type {:?}",
            char::from(other)
        ))),
    }
}
