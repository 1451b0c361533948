//! Plain TCP and HTTP/1.1 for the kit's readiness probes and REST calls: blocking sockets, no
//! client library. Errors are reasons (strings) that each service wraps in its own
//! [`Error::Probe`](crate::Error::Probe).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;

use crate::engine;

/// An HTTP answer of a REST API (OpenSearch, the schema registry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Body, lossily decoded as UTF-8.
    pub body: String,
}

impl HttpResponse {
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Describes an I/O error of a probe, spelling out timeouts.
pub(crate) fn io_reason(what: &str, e: &std::io::Error, timeout: Duration) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            format!("{what}: no answer within {timeout:?}")
        }
        _ => format!("{what}: {e}"),
    }
}

/// Connects to `address` (`host:port`) within `timeout`; every read and write on the stream
/// then fails after `timeout` without progress.
pub(crate) fn connect(address: &str, timeout: Duration) -> Result<TcpStream, String> {
    let addr = address
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve: {e}"))?
        .next()
        .ok_or("resolves to no address")?;
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| io_reason("connect", &e, timeout))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// Writes one HTTP/1.1 request (`Connection: close`, so the answer ends with the connection):
/// the head with `headers` after the standard ones, then `body`.
pub(crate) fn write_request(
    stream: &mut impl Write,
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: headrace-integration-tests\r\n\
         Connection: close\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// Sends one HTTP/1.1 request to `address` (`host:port`) over a fresh connection and reads the
/// whole answer, whatever its status; `timeout` applies to connecting and to each read and write.
pub(crate) fn http_request(
    address: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> Result<HttpResponse, String> {
    let mut stream = connect(address, timeout)?;
    write_request(
        &mut stream,
        method,
        target,
        address,
        headers,
        body.as_bytes(),
    )
    .map_err(|e| io_reason("send", &e, timeout))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| io_reason("read answer", &e, timeout))?;
    let resp = engine::parse_response(&raw)?;
    Ok(HttpResponse {
        status: resp.status,
        body: String::from_utf8_lossy(&resp.body).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_request_head_then_the_body() {
        let mut out = Vec::new();
        write_request(
            &mut out,
            "PUT",
            "/x?y=1",
            "127.0.0.1:9",
            &[("Content-Type", "application/json")],
            b"{}",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PUT /x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUser-Agent: headrace-integration-tests\r\n\
             Connection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
    }
}
