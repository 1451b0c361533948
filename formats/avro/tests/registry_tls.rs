//! avro-confluent against a real schema registry serving HTTPS that requires TLS client
//! certificates: Apicurio Registry from the test kit (`registry::start_https`, Quarkus/Vert.x
//! doing the TLS), with a certificate authority, server and client certificates made by the
//! `openssl` CLI and the server's client trust store (PKCS#12) by `keytool`, in a temporary
//! directory. With the client certificate in 'avro-confluent.ssl.keystore.location' and the CA in
//! 'avro-confluent.ssl.truststore.location', registration and lookup work; without the client
//! certificate, with a client certificate of another CA, or with a truststore of another CA, the
//! error names the URL and the option to fix.
//!
//! Needs `openssl`, `keytool` and `java` (17+) on PATH, and the registry application (built by
//! `integration-tests/registry/setup.sh`, or named by `HEADRACE_REGISTRY_APP`);
//! `scripts/test-all.sh` sets them up. The `tls` cargo feature is on in tests (dev-dependency).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use arrow::array::RecordBatch;
use headrace_format_avro::AvroConfluentFormatFactory;
use headrace_integration_tests::registry::{self, Https, SchemaRegistry};
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::{ErrorDomain, Retry};
use headrace_sdk::format::{Encoder, FormatFactory};
use serde_json::json;

use common::*;

/// Runs a certificate tool; a missing tool fails the test with how to install it.
fn run(tool: &str, args: &[&str], dir: &Path) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{tool}` ({e}): these tests make their certificates with the openssl \
                 CLI and a JDK's keytool (apt-get install -y openssl openjdk-17-jdk-headless)"
            )
        });
    assert!(
        out.status.success(),
        "`{tool} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes `<name>.key` and a certificate `<name>.pem` signed by `ca` (self-signed CA when `None`).
fn certificate(dir: &Path, name: &str, subject: &str, ca: Option<&str>, extensions: &str) {
    let key = format!("{name}.key");
    let pem = format!("{name}.pem");
    run(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &key,
        ],
        dir,
    );
    let ext = format!("{name}.ext");
    std::fs::write(dir.join(&ext), extensions).unwrap();
    match ca {
        None => run(
            "openssl",
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                &key,
                "-out",
                &pem,
                "-days",
                "2",
                "-subj",
                subject,
                "-extensions",
                "v3",
                "-config",
                &ext,
            ],
            dir,
        ),
        Some(ca) => {
            let csr = format!("{name}.csr");
            run(
                "openssl",
                &["req", "-new", "-key", &key, "-out", &csr, "-subj", subject],
                dir,
            );
            run(
                "openssl",
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &format!("{ca}.pem"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-CAcreateserial",
                    "-out",
                    &pem,
                    "-days",
                    "2",
                    "-extfile",
                    &ext,
                    "-extensions",
                    "v3",
                ],
                dir,
            );
        }
    }
}

const CA_EXT: &str = "[req]\ndistinguished_name=dn\n[dn]\n[v3]\n\
    basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
const SERVER_EXT: &str = "[v3]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n\
    subjectAltName=IP:127.0.0.1,DNS:localhost\n";
const CLIENT_EXT: &str = "[v3]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n";

/// The certificates of the tests and the registry serving HTTPS with them.
struct Tls {
    dir: tempfile::TempDir,
    registry: SchemaRegistry,
}

impl Tls {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn url(&self) -> String {
        self.registry.https_url().unwrap().to_string()
    }
}

/// CA `ca` signs the server's certificate and the client's (`client.pem` + `client.key`,
/// concatenated in `client-keystore.pem`); CA `other-ca` signs `stranger` (a client the
/// registry does not trust). The registry trusts client certificates of `ca` only.
fn tls() -> &'static Tls {
    static T: OnceLock<Tls> = OnceLock::new();
    T.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("headrace-registry-tls-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        certificate(d, "ca", "/CN=headrace test CA", None, CA_EXT);
        certificate(d, "other-ca", "/CN=headrace other CA", None, CA_EXT);
        certificate(d, "server", "/CN=127.0.0.1", Some("ca"), SERVER_EXT);
        certificate(d, "client", "/CN=headrace client", Some("ca"), CLIENT_EXT);
        certificate(
            d,
            "stranger",
            "/CN=headrace stranger",
            Some("other-ca"),
            CLIENT_EXT,
        );
        for name in ["client", "stranger"] {
            let mut pem = std::fs::read(d.join(format!("{name}.pem"))).unwrap();
            pem.extend(std::fs::read(d.join(format!("{name}.key"))).unwrap());
            std::fs::write(d.join(format!("{name}-keystore.pem")), pem).unwrap();
        }
        run(
            "keytool",
            &[
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                "ca.pem",
                "-keystore",
                "clients.p12",
                "-storetype",
                "PKCS12",
                "-storepass",
                "changeit",
            ],
            d,
        );
        let registry = registry::start_https(&Https {
            certificate_pem: d.join("server.pem"),
            key_pem: d.join("server.key"),
            client_trust_store: d.join("clients.p12"),
            client_trust_store_password: "changeit".into(),
        })
        .unwrap_or_else(|e| panic!("cannot start the https test schema registry: {e}"));
        Tls { dir, registry }
    })
}

/// Held by the tests that register schemas: two first registrations at once in the test
/// registry's in-memory H2 database can fail with a lock timeout (HTTP 500).
static REGISTERING: Mutex<()> = Mutex::new(());

fn encode(e: &mut dyn Encoder, batch: &RecordBatch) -> headrace_sdk::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    e.encode(&ChangelogBatch::inserts(batch.clone()), &mut |_, b| {
        out.push(b.to_vec());
        Ok(())
    })?;
    Ok(out)
}

const COLS: &str = "id BIGINT NOT NULL, name STRING";

fn input() -> RecordBatch {
    rows(
        COLS,
        &[
            json!({"id": 1, "name": "over https"}),
            json!({"id": 2, "name": null}),
        ],
    )
}

/// The error of writing `input()` under `subject` with `opts` (on top of the https URL).
fn write_error(t: &Tls, subject: &str, opts: &[(&str, String)]) -> String {
    write_failure(t, subject, opts).to_string()
}

/// The error of writing `input()` under `subject` with `opts`, which names the registry URL.
fn write_failure(t: &Tls, subject: &str, opts: &[(&str, String)]) -> headrace_sdk::error::Error {
    let url = t.url();
    let mut all = vec![("url", url.as_str()), ("subject", subject)];
    all.extend(opts.iter().map(|(k, v)| (*k, v.as_str())));
    let c = ctx(input().schema(), "avro-confluent", &all);
    let mut e = AvroConfluentFormatFactory.create_encoder(&c).unwrap();
    let err = encode(&mut *e, &input())
        .err()
        .unwrap_or_else(|| panic!("writing under {subject} with {opts:?} succeeded"));
    eprintln!("{subject}: {err}");
    assert!(
        err.to_string().contains(&url),
        "the error names the registry URL: {err}"
    );
    err
}

/// With the client certificate and the CA: the encoder registers the schema over HTTPS, the
/// decoder fetches it by id, and a lookup without registration finds it.
#[test]
fn registers_and_looks_up_with_a_client_certificate() {
    let t = tls();
    let _one_at_a_time = REGISTERING.lock().unwrap_or_else(|e| e.into_inner());
    let url = t.url();
    let keystore = t.path("client-keystore.pem");
    let truststore = t.path("ca.pem");
    let subject = "tls-orders-value";
    let opts = |register: &'static str| {
        vec![
            ("url", url.clone()),
            ("subject", subject.to_string()),
            ("ssl.keystore.location", keystore.clone()),
            ("ssl.truststore.location", truststore.clone()),
            ("auto.register.schemas", register.to_string()),
        ]
    };
    let to_ctx = |o: &[(&str, String)]| {
        let o: Vec<(&str, &str)> = o.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ctx(input().schema(), "avro-confluent", &o)
    };
    let c = to_ctx(&opts("true"));
    let mut e = AvroConfluentFormatFactory.create_encoder(&c).unwrap();
    let records = encode(&mut *e, &input()).unwrap();
    assert_eq!(records.len(), 2);
    // The registry (read over its plain HTTP port) holds what was registered over HTTPS.
    assert!(
        t.registry
            .subjects()
            .unwrap()
            .contains(&subject.to_string()),
        "{:?}",
        t.registry.subjects()
    );
    let id = u32::from_be_bytes([records[0][1], records[0][2], records[0][3], records[0][4]]);
    assert!(t.registry.schema(id).unwrap().contains("\"id\""));
    let mut d = AvroConfluentFormatFactory.create_decoder(&c).unwrap();
    for (i, r) in records.iter().enumerate() {
        d.decode(r, &origin(i as i64)).unwrap();
    }
    assert_eq!(d.finish().unwrap().batch, input());
    // A lookup (no registration) under another client: a new request, same id.
    let looked_up = to_ctx(&opts("false"));
    let mut e = AvroConfluentFormatFactory
        .create_encoder(&looked_up)
        .unwrap();
    assert_eq!(encode(&mut *e, &input()).unwrap(), records);
}

/// Without a client certificate the registry refuses the handshake: the error says to set the
/// keystore option.
#[test]
fn without_a_client_certificate_the_error_names_the_keystore_option() {
    let t = tls();
    let err = write_error(
        t,
        "tls-no-client-cert-value",
        &[("ssl.truststore.location", t.path("ca.pem"))],
    );
    assert!(
        err.contains("'avro-confluent.ssl.keystore.location'")
            && err.contains("client certificate"),
        "{err}"
    );
}

/// A client certificate of a CA the registry does not trust: refused, naming the keystore file.
#[test]
fn a_client_certificate_of_another_ca_is_refused_naming_the_keystore() {
    let t = tls();
    let keystore = t.path("stranger-keystore.pem");
    let err = write_error(
        t,
        "tls-stranger-value",
        &[
            ("ssl.truststore.location", t.path("ca.pem")),
            ("ssl.keystore.location", keystore.clone()),
        ],
    );
    assert!(
        err.contains("'avro-confluent.ssl.keystore.location'") && err.contains(&keystore),
        "{err}"
    );
}

/// A truststore of another CA (or none: the test CA is not public) cannot vouch for the
/// registry's certificate: the error names the truststore option.
#[test]
fn a_truststore_of_another_ca_is_refused_naming_the_truststore() {
    let t = tls();
    let truststore = t.path("other-ca.pem");
    let err = write_failure(
        t,
        "tls-wrong-ca-value",
        &[
            ("ssl.truststore.location", truststore.clone()),
            ("ssl.keystore.location", t.path("client-keystore.pem")),
        ],
    );
    // A configuration mistake, not retried.
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert_eq!(err.retry(), Retry::No, "{err}");
    let err = err.to_string();
    assert!(
        err.contains("'avro-confluent.ssl.truststore.location'") && err.contains(&truststore),
        "{err}"
    );
    let err = write_error(
        t,
        "tls-no-truststore-value",
        &[("ssl.keystore.location", t.path("client-keystore.pem"))],
    );
    assert!(
        err.contains("set 'avro-confluent.ssl.truststore.location'"),
        "{err}"
    );
}

/// A PKCS#12 keystore (what Flink reads) is refused with the openssl command converting it; the
/// converted file then works against the registry.
#[test]
fn a_pkcs12_keystore_is_refused_and_the_suggested_conversion_works() {
    let t = tls();
    let _one_at_a_time = REGISTERING.lock().unwrap_or_else(|e| e.into_inner());
    let d = t.dir.path().join("p12");
    std::fs::create_dir_all(&d).unwrap();
    run(
        "openssl",
        &[
            "pkcs12",
            "-export",
            "-in",
            &t.path("client.pem"),
            "-inkey",
            &t.path("client.key"),
            "-out",
            "keystore.p12",
            "-passout",
            "pass:secret",
        ],
        &d,
    );
    let p12 = d.join("keystore.p12").to_str().unwrap().to_string();
    let url = t.url();
    let opts = |keystore: &str| {
        let c = ctx(
            input().schema(),
            "avro-confluent",
            &[
                ("url", url.as_str()),
                ("subject", "tls-converted-value"),
                ("ssl.keystore.location", keystore),
                ("ssl.keystore.password", "secret"),
                ("ssl.truststore.location", &t.path("ca.pem")),
            ],
        );
        AvroConfluentFormatFactory.create_encoder(&c)
    };
    let err = opts(&p12).err().unwrap().to_string();
    let command = format!("openssl pkcs12 -in {p12} -nodes -out client.pem");
    assert!(
        err.contains("'avro-confluent.ssl.keystore.location'") && err.contains(&command),
        "{err}"
    );
    // The suggested command (non-interactive: the password given on the command line).
    let mut args: Vec<&str> = command.split(' ').skip(1).collect();
    args.extend(["-passin", "pass:secret"]);
    run("openssl", &args, &d);
    let converted = d.join("client.pem").to_str().unwrap().to_string();
    let mut e = opts(&converted).unwrap();
    let records = encode(&mut *e, &input()).unwrap();
    assert_eq!(records.len(), 2);
    assert!(t
        .registry
        .subjects()
        .unwrap()
        .contains(&"tls-converted-value".to_string()));
}
