//! What the PostgreSQL and MariaDB handles share: a server given by its URL or started in a
//! container with the kit's credentials, and the accessors of its connection settings.

use std::net::TcpStream;
use std::time::Duration;

use crate::container::{self, Container};
use crate::error::{Error, Result};
use crate::net;
use crate::url::{self, DbUrl};

/// User, password and database (and every other secret) of a database container.
pub(crate) const CREDENTIALS: &str = "headrace";

/// How to reach or start one kind of database server.
pub(crate) struct DbServer {
    /// Service name (`postgres`, `mariadb`): container names, errors, image directory.
    service: &'static str,
    /// Variable naming an already running server.
    env: &'static str,
    /// Variable overriding the image reference.
    image_env: &'static str,
    /// The server's port in the container, and the default port of a URL.
    port: u16,
    /// URL schemes accepted; the first one is used for the URLs of containers.
    schemes: &'static [&'static str],
    /// Environment variables of the image set to [`CREDENTIALS`].
    credential_vars: &'static [&'static str],
}

/// Connection settings of a server: its URL as given or built, and the URL's parts.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) url: String,
    pub(crate) parts: DbUrl,
}

impl DbServer {
    /// A server of `service` with no URL scheme and no credential variable yet.
    pub(crate) const fn new(
        service: &'static str,
        env: &'static str,
        image_env: &'static str,
        port: u16,
    ) -> Self {
        DbServer {
            service,
            env,
            image_env,
            port,
            schemes: &[],
            credential_vars: &[],
        }
    }

    /// Accepts URLs of `schemes` (the first one for the URLs of containers).
    pub(crate) const fn schemes(self, schemes: &'static [&'static str]) -> Self {
        DbServer { schemes, ..self }
    }

    /// Sets the image's variables `vars` to [`CREDENTIALS`].
    pub(crate) const fn credentials(self, vars: &'static [&'static str]) -> Self {
        DbServer {
            credential_vars: vars,
            ..self
        }
    }

    /// Parses the URL of an already running server.
    pub(crate) fn parse(&self, url: &str) -> Result<Connection> {
        let url = url.trim().to_string();
        let parts = url::parse(&url, self.schemes, self.port)
            .map_err(|reason| Error::InvalidArgument(format!("{url:?}: {reason}")))?;
        Ok(Connection { url, parts })
    }

    /// Connects to the server of `db` within `timeout` and runs `exchange` (a protocol
    /// handshake) on the connection; a failure names the service and the address.
    pub(crate) fn probe<T>(
        &self,
        db: &DbUrl,
        timeout: Duration,
        exchange: impl FnOnce(&mut TcpStream) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let address = url::host_port(&db.host, db.port);
        net::connect(&address, timeout)
            .and_then(|mut stream| exchange(&mut stream))
            .map_err(|reason| Error::Probe {
                service: self.service,
                address,
                reason,
            })
    }

    /// Starts a container with the kit's credentials; returns its connection settings and the
    /// container (not yet ready).
    pub(crate) fn launch(&self) -> Result<(Connection, Container)> {
        let env = |_: &std::collections::BTreeMap<u16, u16>| {
            self.credential_vars
                .iter()
                .map(|k| (k.to_string(), CREDENTIALS.to_string()))
                .collect()
        };
        let (container, port) =
            container::launch_service(self.service, self.env, self.image_env, self.port, &env)?;
        let parts = DbUrl {
            user: CREDENTIALS.into(),
            password: CREDENTIALS.into(),
            host: "127.0.0.1".into(),
            port,
            database: CREDENTIALS.into(),
        };
        let scheme = self.schemes.first().copied().unwrap_or(self.service);
        let url = format!("{scheme}://{CREDENTIALS}:{CREDENTIALS}@127.0.0.1:{port}/{CREDENTIALS}");
        Ok((Connection { url, parts }, container))
    }
}

/// Generates the connection accessors of a database handle with a `conn: Connection` field; `$example` is an example URL for the documentation.
macro_rules! db_accessors {
    ($example:literal) => {
        #[doc = concat!("Connection URL, e.g. `", $example, "`.")]
        pub fn url(&self) -> &str {
            &self.conn.url
        }

        /// Host to connect to.
        pub fn host(&self) -> &str {
            &self.conn.parts.host
        }

        /// Port to connect to.
        pub fn port(&self) -> u16 {
            self.conn.parts.port
        }

        /// User name.
        pub fn user(&self) -> &str {
            &self.conn.parts.user
        }

        /// Password.
        pub fn password(&self) -> &str {
            &self.conn.parts.password
        }

        /// Database name.
        pub fn database(&self) -> &str {
            &self.conn.parts.database
        }
    };
}
pub(crate) use db_accessors;
