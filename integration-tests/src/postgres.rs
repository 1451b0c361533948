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
use std::net::TcpStream;
use std::time::Duration;

use crate::container::{self, fault_methods, Container};
use crate::db::{self, db_accessors, Connection, DbServer};
use crate::engine::ExecOutput;
use crate::error::{Error, Result};
use crate::net::io_reason;
use crate::url::DbUrl;

/// Variable naming an already running server (`postgres://user:password@host:port/db`).
pub const ENV: &str = "HEADRACE_TEST_POSTGRES";
/// Variable overriding the image reference.
pub const IMAGE_ENV: &str = "HEADRACE_POSTGRES_IMAGE";
/// The server's port in the container.
pub const PORT: u16 = 5432;
/// User, password and database of the container.
pub const CREDENTIALS: &str = db::CREDENTIALS;

const SERVER: DbServer = DbServer::new("postgres", ENV, IMAGE_ENV, PORT)
    .schemes(&["postgres", "postgresql"])
    .credentials(&["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"]);

/// A running PostgreSQL; keeps its container (if any) alive while held.
#[derive(Debug)]
pub struct Postgres {
    conn: Connection,
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
    Postgres {
        conn: SERVER.parse(url)?,
        container: None,
    }
    .ready()
}

/// Starts a container whatever `HEADRACE_TEST_POSTGRES` says (for tests that need faults).
pub fn start_container() -> Result<Postgres> {
    let (conn, container) = SERVER.launch()?;
    Postgres {
        conn,
        container: Some(container),
    }
    .ready()
}

impl Postgres {
    db_accessors!("postgres://headrace:headrace@127.0.0.1:41234/headrace");

    /// Sends a startup message and fails unless the server asks for authentication
    /// within `timeout` (a paused or starting server fails this).
    pub fn probe(&self, timeout: Duration) -> Result<()> {
        let db = &self.conn.parts;
        SERVER.probe(db, timeout, |stream| startup(stream, db, timeout))
    }

    /// Waits until the server accepts connections.
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let check = || {
            self.probe(Duration::from_secs(5))?;
            if let Some(c) = &self.container {
                c.exec_ok(&[&["pg_isready", "-q"][..], &self.client_target()].concat())?;
            }
            Ok(())
        };
        container::wait_until("postgres", self.container.as_ref(), timeout, check)
    }

    fault_methods!("postgres", ENV);

    /// Runs SQL with `psql` inside the container (over TCP, as the test user, stopping
    /// at the first error) and returns its unaligned, tuples-only output, trimmed:
    /// one line per row, columns separated by `|`.
    pub fn psql(&self, sql: &str) -> Result<String> {
        let cmd = [
            &["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"][..],
            &self.client_target(),
            &["-c", sql],
        ]
        .concat();
        self.container()?
            .exec_output(&cmd, &[("PGPASSWORD", &self.conn.parts.password)])
    }

    /// The arguments of `psql` and `pg_isready` that connect over TCP to the test database
    /// as the test user.
    fn client_target(&self) -> [&str; 6] {
        let parts = &self.conn.parts;
        ["-h", "127.0.0.1", "-U", &parts.user, "-d", &parts.database]
    }
}

/// Sends a StartupMessage and reads the answer's first message: an authentication request, or
/// an error.
fn startup(
    stream: &mut TcpStream,
    db: &DbUrl,
    timeout: Duration,
) -> std::result::Result<(), String> {
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
        .map_err(|e| io_reason("send startup message", &e, timeout))?;

    let mut head = [0u8; 5];
    stream
        .read_exact(&mut head)
        .map_err(|e| io_reason("read answer", &e, timeout))?;
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
            Err(format!("server refused: {}", fields.join(" ")))
        }
        other => Err(format!("unexpected message type {:?}", char::from(other))),
    }
}
