//! Just enough URL parsing for `postgres://` and `mysql://` connection strings.

/// The parts of `scheme://[user[:password]@]host[:port][/database][?params]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DbUrl {
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) database: String,
}

/// Parses a database URL whose scheme is one of `schemes`; `default_port` applies
/// when the URL has none. User and password are percent-decoded.
pub(crate) fn parse(url: &str, schemes: &[&str], default_port: u16) -> Result<DbUrl, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("expected {}://user:password@host:port/database", schemes[0]))?;
    if !schemes.contains(&scheme) {
        return Err(format!("scheme {scheme:?} is not one of {schemes:?}"));
    }
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, database) = match rest.split_once('/') {
        Some((a, d)) => (a, d),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (u, h),
        None => ("", authority),
    };
    let (user, password) = match userinfo.split_once(':') {
        Some((u, p)) => (decode(u)?, decode(p)?),
        None => (decode(userinfo)?, String::new()),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, p) = v6.split_once(']').ok_or("unclosed [ in host")?;
        (h.to_string(), p.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|e| format!("bad port {p:?}: {e}"))?,
        None => default_port,
    };
    Ok(DbUrl {
        user,
        password,
        host,
        port,
        database: decode(database)?,
    })
}

fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .ok_or_else(|| format!("bad percent escape in {s:?}"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|e| format!("bad escape %{hex}: {e}"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// The `host:port` form for connecting, with brackets around IPv6 hosts.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_and_partial_urls() {
        let u = parse(
            "postgres://me:p%40ss@db.local:6543/app?sslmode=disable",
            &["postgres"],
            5432,
        )
        .unwrap();
        assert_eq!(
            u,
            DbUrl {
                user: "me".into(),
                password: "p@ss".into(),
                host: "db.local".into(),
                port: 6543,
                database: "app".into()
            }
        );
        let u = parse("mysql://root@[::1]/x", &["mysql", "mariadb"], 3306).unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.password.as_str()),
            ("::1", 3306, "")
        );
        assert_eq!(host_port(&u.host, u.port), "[::1]:3306");
        assert!(parse("http://x", &["postgres"], 1).is_err());
        assert!(parse("postgres://u@:1/db", &["postgres"], 1).is_err());
    }
}
