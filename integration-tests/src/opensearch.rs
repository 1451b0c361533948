//! OpenSearch 2.19 (one node, single-node discovery, no security plugin): the
//! Elasticsearch-compatible REST API over plain HTTP.
//!
//! ```no_run
//! let os = headrace_integration_tests::opensearch::start()?;
//! let url = os.url(); // http://127.0.0.1:PORT
//! let put = os.request("PUT", "/orders/_doc/1?refresh=true", Some(r#"{"id":1}"#))?;
//! assert_eq!(put.status, 201);
//! let count = os.request("GET", "/orders/_count", None)?;
//! assert!(count.body.contains(r#""count":1"#));
//! # Ok::<(), headrace_integration_tests::Error>(())
//! ```
//!
//! With `HEADRACE_TEST_OPENSEARCH=http://host:port` an already running OpenSearch or
//! Elasticsearch is used instead of a container (faults are then unavailable). The
//! image is `localhost/headrace-opensearch:latest` (`HEADRACE_OPENSEARCH_IMAGE`
//! overrides). In a container, new indices get no replica (the persistent cluster
//! setting `cluster.default_number_of_replicas=0`), so they turn green.
//!
//! Readiness: `GET /_cluster/health?wait_for_status=yellow` from the host answers 200.

use std::time::Duration;

use crate::container::{self, fault_methods, Container};
use crate::engine::ExecOutput;
use crate::error::{Error, Result};
use crate::net;

pub use crate::net::HttpResponse;

/// Variable naming an already running server (`http://host:port`).
pub const ENV: &str = "HEADRACE_TEST_OPENSEARCH";
/// Variable overriding the image reference.
pub const IMAGE_ENV: &str = "HEADRACE_OPENSEARCH_IMAGE";
/// The HTTP port in the container.
pub const PORT: u16 = 9200;

/// Time one REST request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A running OpenSearch; keeps its container (if any) alive while held.
#[derive(Debug)]
pub struct OpenSearch {
    url: String,
    address: String,
    container: Option<Container>,
}

/// Uses the server named by `HEADRACE_TEST_OPENSEARCH` if set, else starts a
/// container; returns once the cluster health is at least yellow.
pub fn start() -> Result<OpenSearch> {
    container::external_or(ENV, connect, start_container)
}

/// Uses an already running server (`http://host:port`) once its cluster health is at
/// least yellow. The handle has no container: faults are unavailable.
pub fn connect(url: &str) -> Result<OpenSearch> {
    let url = url.trim().trim_end_matches('/').to_string();
    let address = url
        .strip_prefix("http://")
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{url:?}: expected http://host:port (https is not supported)"
            ))
        })?
        .to_string();
    let address = if address.contains(':') && !address.ends_with(']') {
        address
    } else {
        format!("{address}:{PORT}")
    };
    OpenSearch {
        url,
        address,
        container: None,
    }
    .ready()
}

/// Starts a container whatever `HEADRACE_TEST_OPENSEARCH` says (for tests that need
/// faults).
pub fn start_container() -> Result<OpenSearch> {
    let (container, port) =
        container::launch_service("opensearch", ENV, IMAGE_ENV, PORT, &|_| Vec::new())?;
    let os = OpenSearch {
        url: format!("http://127.0.0.1:{port}"),
        address: format!("127.0.0.1:{port}"),
        container: Some(container),
    }
    .ready()?;
    let settings = os.request(
        "PUT",
        "/_cluster/settings",
        Some(r#"{"persistent":{"cluster.default_number_of_replicas":0}}"#),
    )?;
    if settings.status != 200 {
        return Err(os.probe_error(format!(
            "setting cluster.default_number_of_replicas: HTTP {}: {}",
            settings.status, settings.body
        )));
    }
    Ok(os)
}

impl OpenSearch {
    /// Base URL of the REST API, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends one REST request (JSON body if any) and returns the answer, whatever its
    /// status. `path` starts with `/` and may carry a query string.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Result<HttpResponse> {
        self.request_with_timeout(method, path, body, REQUEST_TIMEOUT)
    }

    /// Like [`request`](Self::request) with a time limit (a paused server fails it).
    pub fn request_with_timeout(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        timeout: Duration,
    ) -> Result<HttpResponse> {
        net::http_request(
            &self.address,
            method,
            path,
            &[("Content-Type", "application/json")],
            body.unwrap_or_default(),
            timeout,
        )
        .map_err(|reason| self.probe_error(format!("{method} {path}: {reason}")))
    }

    /// Sends `GET /` and returns the server's version number; fails unless it answers
    /// 200 within `timeout`.
    pub fn probe(&self, timeout: Duration) -> Result<String> {
        let resp = self.request_with_timeout("GET", "/", None, timeout)?;
        if resp.status != 200 {
            return Err(self.probe_error(format!(
                "GET / answered HTTP {}: {}",
                resp.status, resp.body
            )));
        }
        serde_json::from_str::<serde_json::Value>(&resp.body)
            .ok()
            .and_then(|v| {
                v.pointer("/version/number")
                    .and_then(|n| n.as_str())
                    .map(str::to_string)
            })
            .ok_or_else(|| self.probe_error(format!("GET / without version: {}", resp.body)))
    }

    /// Waits until the cluster health is at least yellow.
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let check = || {
            let resp = self.request_with_timeout(
                "GET",
                "/_cluster/health?wait_for_status=yellow&timeout=2s",
                None,
                Duration::from_secs(10),
            )?;
            if resp.status == 200 {
                Ok(())
            } else {
                Err(self.probe_error(format!(
                    "cluster health answered HTTP {}: {}",
                    resp.status, resp.body
                )))
            }
        };
        container::wait_until("opensearch", self.container.as_ref(), timeout, check)
    }

    fault_methods!("opensearch", ENV);

    fn probe_error(&self, reason: String) -> Error {
        Error::Probe {
            service: "opensearch",
            address: self.address.clone(),
            reason,
        }
    }
}
