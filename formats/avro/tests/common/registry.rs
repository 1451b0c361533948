//! A fake Confluent Schema Registry for tests: an HTTP/1.1 server on a local port answering the
//! three calls the client makes, counting requests and keeping the Authorization headers.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};

/// State of the fake registry.
#[derive(Default)]
pub struct State {
    /// Schemas by id (ids start at 1).
    pub schemas: Vec<String>,
    /// (subject, schema) -> id.
    pub subjects: HashMap<(String, String), u32>,
    /// Requests seen, as "METHOD path".
    pub requests: Vec<String>,
    /// Authorization headers seen.
    pub auth: Vec<String>,
    /// The next this many requests are answered with HTTP 500 (a registry under load).
    pub fail_next: u32,
}

/// A running fake registry.
pub struct FakeRegistry {
    /// `http://127.0.0.1:port`
    pub url: String,
    /// Its state.
    pub state: Arc<Mutex<State>>,
}

impl FakeRegistry {
    /// Start one on a free port.
    pub fn start() -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut parts = line.split_whitespace();
                        let method = parts.next().unwrap_or("").to_string();
                        let path = parts.next().unwrap_or("").to_string();
                        let mut len = 0usize;
                        let mut auth = None;
                        loop {
                            let mut h = String::new();
                            reader.read_line(&mut h).unwrap();
                            let h = h.trim_end();
                            if h.is_empty() {
                                break;
                            }
                            let (k, v) = h.split_once(':').unwrap();
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap();
                            }
                            if k.eq_ignore_ascii_case("authorization") {
                                auth = Some(v.trim().to_string());
                            }
                        }
                        let mut body = vec![0; len];
                        reader.read_exact(&mut body).unwrap();
                        let (status, answer) = handle(&st, &method, &path, &body, auth);
                        let text = answer.to_string();
                        let resp = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
                            text.len()
                        );
                        if conn.write_all(resp.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeRegistry { url, state }
    }

    /// Register `schema` under `subject` directly; returns its id.
    pub fn register(&self, subject: &str, schema: &str) -> u32 {
        let body = json!({ "schema": schema }).to_string();
        let (_, j) = handle(
            &self.state,
            "POST",
            &format!("/subjects/{subject}/versions"),
            body.as_bytes(),
            None,
        );
        j["id"].as_u64().unwrap() as u32
    }

    /// Requests seen so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn handle(
    st: &Arc<Mutex<State>>,
    method: &str,
    path: &str,
    body: &[u8],
    auth: Option<String>,
) -> (u16, Json) {
    let mut s = st.lock().unwrap();
    s.requests.push(format!("{method} {path}"));
    if let Some(a) = auth {
        s.auth.push(a);
    }
    if s.fail_next > 0 {
        s.fail_next -= 1;
        return (
            500,
            json!({"error_code": 50001, "message": "store busy (injected by the test)"}),
        );
    }
    if let Some(id) = path.strip_prefix("/schemas/ids/") {
        let id: usize = id.parse().unwrap_or(0);
        return match s.schemas.get(id.wrapping_sub(1)) {
            Some(t) => (200, json!({ "schema": t })),
            None => (
                404,
                json!({"error_code": 40403, "message": "Schema not found"}),
            ),
        };
    }
    if let Some(rest) = path.strip_prefix("/subjects/") {
        let j: Json = serde_json::from_slice(body).unwrap();
        let schema = j["schema"].as_str().unwrap().to_string();
        let (subject, register) = match rest.strip_suffix("/versions") {
            Some(sub) => (sub.to_string(), true),
            None => (rest.to_string(), false),
        };
        let key = (subject, schema.clone());
        if let Some(id) = s.subjects.get(&key) {
            return (200, json!({ "id": id }));
        }
        if !register {
            return (
                404,
                json!({"error_code": 40403, "message": "Schema not found"}),
            );
        }
        let id = match s.schemas.iter().position(|t| *t == schema) {
            Some(i) => i as u32 + 1,
            None => {
                s.schemas.push(schema);
                s.schemas.len() as u32
            }
        };
        s.subjects.insert(key, id);
        return (200, json!({ "id": id }));
    }
    (404, json!({"message": "no such endpoint"}))
}
