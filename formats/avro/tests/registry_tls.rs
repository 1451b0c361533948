//! avro-confluent against a real schema registry serving HTTPS that requires TLS client
//! certificates: Apicurio Registry from the test kit (`registry::start_https`, Quarkus/Vert.x
//! doing the TLS), with a certificate authority, server and client certificates made by the
//! `openssl` CLI and the server's client trust store (PKCS#12) by `keytool`, in a temporary
//! directory. With the client certificate in 'avro-confluent.ssl.keystore.location' and the CA in
//! 'avro-confluent.ssl.truststore.location', registration and lookup work; without the client
//! certificate, with a client certificate of another CA, or with a truststore of another CA, the
//! error names the URL and the option to fix. Encrypted PKCS#8 client keys (EC from `openssl
//! pkcs8 -topk8 -v2 aes-256-cbc`, RSA from `openssl genpkey -aes256`) are decrypted with
//! 'avro-confluent.ssl.keystore.password'; a wrong or missing password fails naming the option and
//! the file; OpenSSL's legacy encrypted keys are refused with commands that, run, fix the file.
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

    /// A fresh directory `name` under the shared one, for a test's own files.
    fn scratch(&self, name: &str) -> std::path::PathBuf {
        let d = self.dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
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
    let d = t.scratch("p12");
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

/// The password the tests encrypt client keys with.
const KEY_PASSWORD: &str = "key s3cret";

/// Makes `<name>-keystore.pem`: the certificate of `ca` and an encrypted PKCS#8 private key,
/// an EC key re-encrypted by `openssl pkcs8 -topk8 -v2 aes-256-cbc` (from `client.key`) or a
/// new RSA key encrypted by `openssl genpkey -aes256` with its own certificate.
fn encrypted_keystore(t: &Tls, name: &str, rsa: bool) -> String {
    let d = t.dir.path();
    let pass = format!("pass:{KEY_PASSWORD}");
    let key = format!("{name}.key");
    let certificate = if rsa {
        run(
            "openssl",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-aes256",
                "-pass",
                &pass,
                "-out",
                &key,
            ],
            d,
        );
        let csr = format!("{name}.csr");
        run(
            "openssl",
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-passin",
                &pass,
                "-out",
                &csr,
                "-subj",
                "/CN=headrace rsa client",
            ],
            d,
        );
        std::fs::write(d.join("rsa-client.ext"), CLIENT_EXT).unwrap();
        let pem = format!("{name}.pem");
        run(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                "rsa-client.ext",
                "-extensions",
                "v3",
            ],
            d,
        );
        pem
    } else {
        run(
            "openssl",
            &[
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-in",
                "client.key",
                "-out",
                &key,
                "-passout",
                &pass,
            ],
            d,
        );
        "client.pem".to_string()
    };
    let key_text = std::fs::read_to_string(d.join(&key)).unwrap();
    assert!(
        key_text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "openssl wrote an encrypted PKCS#8 key: {key_text}"
    );
    let mut pem = std::fs::read(d.join(certificate)).unwrap();
    pem.extend(key_text.as_bytes());
    let keystore = format!("{name}-keystore.pem");
    std::fs::write(d.join(&keystore), pem).unwrap();
    t.path(&keystore)
}

/// An encoder writing `input()` under `subject` over HTTPS with the test CA and `opts`.
fn encoder(
    t: &Tls,
    subject: &str,
    opts: &[(&str, &str)],
) -> headrace_sdk::Result<Box<dyn Encoder>> {
    let url = t.url();
    let truststore = t.path("ca.pem");
    let mut all = vec![
        ("url", url.as_str()),
        ("subject", subject),
        ("ssl.truststore.location", truststore.as_str()),
    ];
    all.extend_from_slice(opts);
    AvroConfluentFormatFactory.create_encoder(&ctx(input().schema(), "avro-confluent", &all))
}

/// Writes `input()` under `subject` with `opts` and checks that the registry holds the subject.
fn registers(t: &Tls, subject: &str, opts: &[(&str, &str)]) {
    let mut e = encoder(t, subject, opts).unwrap();
    let records = encode(&mut *e, &input()).unwrap();
    assert_eq!(records.len(), 2);
    assert!(
        t.registry
            .subjects()
            .unwrap()
            .contains(&subject.to_string()),
        "{subject} registered: {:?}",
        t.registry.subjects()
    );
}

/// The error of creating an encoder with `opts`: a user error, not retried, as a string.
fn refusal(t: &Tls, subject: &str, opts: &[(&str, &str)]) -> String {
    let err = encoder(t, subject, opts)
        .err()
        .unwrap_or_else(|| panic!("an encoder with {opts:?} was created"));
    eprintln!("{subject}: {err}");
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert_eq!(err.retry(), Retry::No, "{err}");
    err.to_string()
}

/// Encrypted PKCS#8 keys, EC and RSA, decrypted with the keystore password: the registry accepts
/// the client certificate. Confluent's key password property, when given, is used instead.
#[test]
fn an_encrypted_pkcs8_key_is_decrypted_with_the_keystore_password() {
    let t = tls();
    let _one_at_a_time = REGISTERING.lock().unwrap_or_else(|e| e.into_inner());
    let ec = encrypted_keystore(t, "ec-encrypted", false);
    registers(
        t,
        "tls-encrypted-ec-value",
        &[
            ("ssl.keystore.location", &ec),
            ("ssl.keystore.password", KEY_PASSWORD),
        ],
    );
    let rsa = encrypted_keystore(t, "rsa-encrypted", true);
    registers(
        t,
        "tls-encrypted-rsa-value",
        &[
            ("ssl.keystore.location", &rsa),
            ("ssl.keystore.password", KEY_PASSWORD),
        ],
    );
    registers(
        t,
        "tls-encrypted-key-password-value",
        &[
            ("ssl.keystore.location", &rsa),
            ("ssl.keystore.password", "the store's, not the key's"),
            ("properties.schema.registry.ssl.key.password", KEY_PASSWORD),
        ],
    );
}

/// A wrong password, or none, for an encrypted key: refused naming the password option and the
/// keystore file.
#[test]
fn a_wrong_or_missing_key_password_is_refused_naming_the_option() {
    let t = tls();
    let keystore = encrypted_keystore(t, "ec-wrong-password", false);
    for wrong in ["not the password", ""] {
        let err = refusal(
            t,
            "tls-wrong-password-value",
            &[
                ("ssl.keystore.location", &keystore),
                ("ssl.keystore.password", wrong),
            ],
        );
        assert!(
            err.contains("'avro-confluent.ssl.keystore.password' does not decrypt")
                && err.contains(&keystore),
            "{err}"
        );
    }
    let err = refusal(
        t,
        "tls-wrong-key-password-value",
        &[
            ("ssl.keystore.location", &keystore),
            ("ssl.keystore.password", KEY_PASSWORD),
            ("properties.schema.registry.ssl.key.password", "wrong"),
        ],
    );
    assert!(
        err.contains("'avro-confluent.properties.schema.registry.ssl.key.password' does not"),
        "{err}"
    );
    let err = refusal(
        t,
        "tls-missing-password-value",
        &[("ssl.keystore.location", &keystore)],
    );
    assert!(
        err.contains("'avro-confluent.ssl.keystore.password' is not set")
            && err.contains(&keystore),
        "{err}"
    );
}

/// A key in OpenSSL's legacy encrypted format ('Proc-Type: 4,ENCRYPTED') is refused with the
/// commands converting it; run (passwords given on the command line), they make a keystore that
/// works with the new password.
#[test]
fn a_legacy_encrypted_key_is_refused_and_the_suggested_commands_work() {
    let t = tls();
    let _one_at_a_time = REGISTERING.lock().unwrap_or_else(|e| e.into_inner());
    let d = t.scratch("legacy");
    run(
        "openssl",
        &[
            "pkey",
            "-in",
            &t.path("client.key"),
            "-traditional",
            "-aes256",
            "-passout",
            "pass:old secret",
            "-out",
            "legacy.key",
        ],
        &d,
    );
    let key = std::fs::read_to_string(d.join("legacy.key")).unwrap();
    assert!(key.contains("Proc-Type: 4,ENCRYPTED"), "{key}");
    let mut pem = std::fs::read(t.path("client.pem")).unwrap();
    pem.extend(key.as_bytes());
    let keystore = d.join("legacy-keystore.pem").to_str().unwrap().to_string();
    std::fs::write(&keystore, pem).unwrap();
    let err = refusal(
        t,
        "tls-legacy-value",
        &[
            ("ssl.keystore.location", &keystore),
            ("ssl.keystore.password", "old secret"),
        ],
    );
    let convert = format!("openssl pkcs8 -topk8 -v2 aes-256-cbc -in {keystore} -out client.key");
    let assemble = format!(
        "sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' {keystore} | cat - \
         client.key > client.pem"
    );
    assert!(
        err.contains("'avro-confluent.ssl.keystore.location'")
            && err.contains("Proc-Type: 4,ENCRYPTED")
            && err.contains(&format!("`{convert}`"))
            && err.contains(&format!("`{assemble}`")),
        "{err}"
    );
    let mut args: Vec<&str> = convert.split(' ').skip(1).collect();
    args.extend(["-passin", "pass:old secret", "-passout", "pass:new secret"]);
    run("openssl", &args, &d);
    run("sh", &["-c", &assemble], &d);
    let converted = d.join("client.pem").to_str().unwrap().to_string();
    registers(
        t,
        "tls-legacy-converted-value",
        &[
            ("ssl.keystore.location", &converted),
            ("ssl.keystore.password", "new secret"),
        ],
    );
}
