//! A minimal Confluent Schema Registry client (REST API v1) on `ureq`, with process-wide caches
//! of schemas by id and of ids by (subject, schema).
//!
//! Calls used: `GET /schemas/ids/{id}` (read a writer schema), `POST /subjects/{subject}/versions`
//! (register, returns the id of an equal schema when there is one) and `POST /subjects/{subject}`
//! (look a schema up without registering, when `auto.register.schemas` is false).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use apache_avro::Schema;
use base64::Engine;
use serde_json::{json, Value as Json};

use crate::error::AvroError;

/// How many times a request answered with 5xx or 429 is asked again (100, 200, 400 ms apart).
const REQUEST_RETRIES: u32 = 3;

/// How requests authenticate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// HTTP basic authentication with `user:password`.
    Basic(String),
    /// A bearer token.
    Bearer(String),
}

/// Connection settings of a registry client (its `Debug` form leaves out credentials).
#[derive(Clone, Default)]
pub struct RegistryConfig {
    /// Base URL (`http://host:8081`); a trailing `/` is ignored.
    pub url: String,
    /// Credentials.
    pub auth: Auth,
    /// PEM file of the certificate authorities to trust for `https` URLs (in addition to the
    /// public roots); needs the `tls` cargo feature.
    pub truststore_pem: Option<String>,
    /// PEM file with the TLS client certificate chain (leaf first) and its private key, for
    /// registries that require client certificates; needs the `tls` cargo feature.
    pub keystore_pem: Option<String>,
    /// Password of the keystore's private key when it is an encrypted PKCS#8 PEM key
    /// (`-----BEGIN ENCRYPTED PRIVATE KEY-----`), with the option it came from (named in errors).
    pub keystore_password: Option<KeyPassword>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match self.auth {
            Auth::None => "none",
            Auth::Basic(_) => "basic (redacted)",
            Auth::Bearer(_) => "bearer (redacted)",
        };
        f.debug_struct("RegistryConfig")
            .field("url", &self.url)
            .field("auth", &auth)
            .field("truststore_pem", &self.truststore_pem)
            .field("keystore_pem", &self.keystore_pem)
            .field("keystore_password", &self.keystore_password)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The password decrypting the keystore's private key, and the option that gave it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPassword {
    /// The password.
    pub password: String,
    /// The full option key it was read from (`avro-confluent.ssl.keystore.password`), named in
    /// errors.
    pub option: String,
}

impl std::fmt::Debug for KeyPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(password from '{}', redacted)", self.option)
    }
}

/// A schema registry client; cheap to clone, caches shared by every client of the process.
#[derive(Clone)]
pub struct RegistryClient {
    config: Arc<RegistryConfig>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("url", &self.config.url)
            .finish()
    }
}

type SchemaCache = HashMap<(String, u32), Arc<Schema>>;
type IdCache = HashMap<(String, String, String), u32>;

fn schema_cache() -> &'static Mutex<SchemaCache> {
    static C: OnceLock<Mutex<SchemaCache>> = OnceLock::new();
    C.get_or_init(Default::default)
}

fn id_cache() -> &'static Mutex<IdCache> {
    static C: OnceLock<Mutex<IdCache>> = OnceLock::new();
    C.get_or_init(Default::default)
}

/// Characters a subject may contain unescaped in a URL path.
fn escape_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl RegistryClient {
    /// A client for `config`.
    pub fn new(config: RegistryConfig) -> Result<RegistryClient, AvroError> {
        let builder = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false);
        #[cfg(feature = "tls")]
        let builder = if config.truststore_pem.is_some() || config.keystore_pem.is_some() {
            let mut tls = ureq::tls::TlsConfig::builder();
            if let Some(path) = &config.truststore_pem {
                let certs = tls_files::truststore(&config.url, path)?;
                tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
            }
            if let Some(path) = &config.keystore_pem {
                let (chain, key) =
                    tls_files::keystore(&config.url, path, config.keystore_password.as_ref())?;
                tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, key)));
            }
            builder.tls_config(tls.build())
        } else {
            builder
        };
        #[cfg(not(feature = "tls"))]
        if config.truststore_pem.is_some()
            || config.keystore_pem.is_some()
            || config.url.starts_with("https:")
        {
            return Err(AvroError::Schema(format!(
                "avro-confluent: '{}' needs TLS, which this build of headrace-format-avro lacks; \
                 rebuild it with the cargo feature 'tls'",
                config.url
            )));
        }
        let agent: ureq::Agent = builder.build().into();
        Ok(RegistryClient {
            config: Arc::new(config),
            agent,
        })
    }

    /// The registry's base URL.
    pub fn url(&self) -> &str {
        &self.config.url
    }

    fn err(&self, message: String, transient: bool) -> AvroError {
        AvroError::Registry {
            url: self.config.url.clone(),
            message,
            transient,
        }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Json>,
    ) -> Result<(u16, Json), AvroError> {
        // A registry under load answers 5xx or 429 for a moment (Apicurio's in-memory store
        // refuses simultaneous first registrations with HTTP 500); every call the client makes
        // is idempotent (registering a schema again returns its id), so ask again a few times
        // before the error reaches the job, as Confluent's client does (`max.retries`).
        let mut attempt = 0u32;
        loop {
            let (status, j) = self.request_once(method, path, body.clone())?;
            if (status >= 500 || status == 429) && attempt < REQUEST_RETRIES {
                attempt += 1;
                tracing::debug!(
                    url = %self.config.url,
                    method,
                    path,
                    status,
                    attempt,
                    "schema registry answered with a transient error; asking again"
                );
                std::thread::sleep(Duration::from_millis(50 << attempt));
                continue;
            }
            return Ok((status, j));
        }
    }

    fn request_once(
        &self,
        method: &str,
        path: &str,
        body: Option<Json>,
    ) -> Result<(u16, Json), AvroError> {
        let url = format!("{}{path}", self.config.url.trim_end_matches('/'));
        let auth = match &self.config.auth {
            Auth::None => None,
            Auth::Basic(ui) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(ui.as_bytes())
            )),
            Auth::Bearer(t) => Some(format!("Bearer {t}")),
        };
        let accept = "application/vnd.schemaregistry.v1+json";
        let result = match body {
            None => {
                let mut r = self.agent.get(&url).header("Accept", accept);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            Some(b) => {
                let mut r = self
                    .agent
                    .post(&url)
                    .header("Accept", accept)
                    .header("Content-Type", accept);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.send(b.to_string().as_bytes())
            }
        };
        let mut resp = result.map_err(|e| self.transport_error(method, path, &e))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().map_err(|e| {
            self.err(
                format!("{method} {path}: cannot read the answer: {e}"),
                true,
            )
        })?;
        let j: Json = serde_json::from_str(&text).unwrap_or(Json::String(text));
        Ok((status, j))
    }

    /// The error of a request that got no answer, with the fix when TLS refused it: a server
    /// certificate the truststore does not vouch for, or a registry asking for a client
    /// certificate (both permanent, unlike network errors).
    fn transport_error(&self, method: &str, path: &str, e: &ureq::Error) -> AvroError {
        let text = e.to_string();
        let untrusted = [
            "UnknownIssuer",
            "invalid peer certificate",
            "NotValidForName",
        ];
        let refused = [
            "CertificateRequired",
            "CertificateUnknown",
            "HandshakeFailure",
            "BadCertificate",
            "UnknownCA",
            "AccessDenied",
        ];
        let hint = if text.contains("invalid peer certificate: Expired") {
            " (the registry's certificate has expired: renew it on the registry)".to_string()
        } else if untrusted.iter().any(|m| text.contains(m)) {
            match &self.config.truststore_pem {
                Some(p) => format!(
                    " (the registry's certificate is not signed by a certificate authority of \
                     'avro-confluent.ssl.truststore.location' ('{p}'), or does not name this \
                     host: add the CA that signed it to that PEM file)"
                ),
                None => " (the registry's certificate is not signed by a public certificate \
                         authority: set 'avro-confluent.ssl.truststore.location' to a PEM file \
                         of the CA that signed it)"
                    .to_string(),
            }
        } else if refused.iter().any(|m| text.contains(m)) {
            match &self.config.keystore_pem {
                None => " (the registry refused the TLS handshake, as registries requiring a \
                         client certificate do: set 'avro-confluent.ssl.keystore.location' to a \
                         PEM file with the client certificate chain and its private key)"
                    .to_string(),
                Some(p) => format!(
                    " (the registry refused the TLS handshake with the client certificate of \
                     'avro-confluent.ssl.keystore.location' ('{p}'): is it signed by a \
                     certificate authority the registry trusts, and not expired?)"
                ),
            }
        } else if self.config.url.starts_with("https:")
            && [
                "Broken pipe",
                "Connection reset",
                "UnexpectedEof",
                "close_notify",
            ]
            .iter()
            .any(|m| text.contains(m))
        {
            // With TLS 1.3 a registry refusing the client's certificate (or its absence) may
            // close the connection while the request is still being sent, before its alert is
            // read: perhaps a network error, so still transient.
            let hint = match &self.config.keystore_pem {
                None => " (if the registry requires TLS client certificates, set \
                         'avro-confluent.ssl.keystore.location' to a PEM file with the client \
                         certificate chain and its private key)"
                    .to_string(),
                Some(p) => format!(
                    " (if the registry refuses the client certificate of \
                     'avro-confluent.ssl.keystore.location' ('{p}'): is it signed by a \
                     certificate authority the registry trusts, and not expired?)"
                ),
            };
            return self.err(format!("{method} {path} failed: {text}{hint}"), true);
        } else {
            return self.err(format!("{method} {path} failed: {text}"), true);
        };
        self.err(format!("{method} {path} failed: {text}{hint}"), false)
    }

    fn failure(&self, what: &str, status: u16, j: &Json) -> AvroError {
        let msg = j
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| j.to_string());
        let hint = match status {
            401 | 403 => " (check 'avro-confluent.basic-auth.*' / 'avro-confluent.bearer-auth.*')",
            409 => {
                " (the subject's compatibility rule refuses this schema: make the change \
                 compatible with the versions already registered, e.g. add columns as nullable, \
                 or write under another subject with 'avro-confluent.subject')"
            }
            _ => "",
        };
        self.err(
            format!("{what}: HTTP {status}: {msg}{hint}"),
            status >= 500 || status == 429,
        )
    }

    /// The schema registered under `id` (cached).
    pub fn schema_by_id(&self, id: u32) -> Result<Arc<Schema>, AvroError> {
        let key = (self.config.url.clone(), id);
        if let Some(s) = schema_cache()
            .lock()
            .ok()
            .and_then(|c| c.get(&key).cloned())
        {
            return Ok(s);
        }
        let (status, j) = self.request("GET", &format!("/schemas/ids/{id}"), None)?;
        if status == 404 {
            return Err(self.err(
                format!("schema id {id} is unknown to the registry (was the record written against another registry?)"),
                false,
            ));
        }
        if status != 200 {
            return Err(self.failure(&format!("reading schema id {id}"), status, &j));
        }
        if let Some(t) = j.get("schemaType").and_then(|t| t.as_str()) {
            if t != "AVRO" {
                return Err(self.err(
                    format!("schema id {id} is a {t} schema, not an Avro one"),
                    false,
                ));
            }
        }
        let text = j.get("schema").and_then(|s| s.as_str()).ok_or_else(|| {
            self.err(
                format!("schema id {id}: answer without 'schema': {j}"),
                false,
            )
        })?;
        let schema = crate::schema::parse_schema(text).map_err(|e| {
            self.err(
                format!("schema id {id} is not a valid Avro schema: {e}"),
                false,
            )
        })?;
        let schema = Arc::new(schema);
        if let Ok(mut c) = schema_cache().lock() {
            c.insert(key, schema.clone());
        }
        Ok(schema)
    }

    /// The id of `schema_json` under `subject`: registered if `register`, else looked up (cached).
    pub fn id_for(
        &self,
        subject: &str,
        schema_json: &str,
        register: bool,
    ) -> Result<u32, AvroError> {
        let key = (
            self.config.url.clone(),
            subject.to_string(),
            schema_json.to_string(),
        );
        if let Some(id) = id_cache().lock().ok().and_then(|c| c.get(&key).copied()) {
            return Ok(id);
        }
        let body = json!({ "schema": schema_json });
        let path = if register {
            format!("/subjects/{}/versions", escape_path(subject))
        } else {
            format!("/subjects/{}", escape_path(subject))
        };
        let (status, j) = self.request("POST", &path, Some(body))?;
        if status == 404 && !register {
            return Err(self.err(
                format!(
                    "the table's schema is not registered under subject '{subject}' and \
                     'avro-confluent.auto.register.schemas' is false: register it first or \
                     allow registration"
                ),
                false,
            ));
        }
        if status != 200 {
            let what = if register {
                format!("registering the schema under subject '{subject}'")
            } else {
                format!("looking the schema up under subject '{subject}'")
            };
            return Err(self.failure(&what, status, &j));
        }
        let id = j
            .get("id")
            .and_then(|i| i.as_u64())
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| self.err(format!("answer without an 'id': {j}"), false))?;
        tracing::debug!(url = %self.config.url, subject, id, "avro-confluent: schema id");
        if let Ok(mut c) = id_cache().lock() {
            c.insert(key, id);
        }
        Ok(id)
    }
}

/// Reading the PEM truststore and keystore.
#[cfg(feature = "tls")]
mod tls_files {
    use pkcs8::der::pem;
    use pkcs8::{EncryptedPrivateKeyInfo, PrivateKeyInfo};
    use ureq::tls::{Certificate, PemItem, PrivateKey};

    use super::KeyPassword;
    use crate::error::AvroError;

    const TRUSTSTORE: &str = "avro-confluent.ssl.truststore.location";
    const KEYSTORE: &str = "avro-confluent.ssl.keystore.location";
    const KEYSTORE_PASSWORD: &str = "avro-confluent.ssl.keystore.password";
    const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

    fn refuse(url: &str, message: String) -> AvroError {
        AvroError::Registry {
            url: url.to_string(),
            message,
            transient: false,
        }
    }

    /// The commands turning a binary Java store into the PEM file Headrace reads.
    fn conversion(option: &str, path: &str, jks: bool) -> String {
        let p12 = if jks {
            format!(
                "`keytool -importkeystore -srckeystore {path} -destkeystore store.p12 \
                 -deststoretype PKCS12`, then "
            )
        } else {
            String::new()
        };
        let source = if jks { "store.p12" } else { path };
        if option == KEYSTORE {
            format!(
                "{p12}`openssl pkcs12 -in {source} -nodes -out client.pem` (the client \
                 certificate chain and its unencrypted private key; encrypt the key with \
                 `openssl pkcs8 -topk8 -v2 aes-256-cbc` and set '{KEYSTORE_PASSWORD}' if it must \
                 not lie in clear), and set '{option}' to client.pem"
            )
        } else {
            format!(
                "{p12}`openssl pkcs12 -in {source} -nokeys -out ca.pem` (the CA certificates), \
                 and set '{option}' to ca.pem"
            )
        }
    }

    /// The bytes of the file `option` names; a binary JKS/PKCS#12 store is refused with the
    /// commands converting it.
    fn read_pem(url: &str, option: &str, path: &str) -> Result<Vec<u8>, AvroError> {
        let bytes = std::fs::read(path).map_err(|source| AvroError::Io {
            context: format!("avro-confluent: cannot read '{option}' = '{path}'"),
            source,
        })?;
        let pem = std::str::from_utf8(&bytes)
            .ok()
            .filter(|t| t.contains("-----BEGIN "));
        if pem.is_none() {
            let kind = if bytes.starts_with(&[0xFE, 0xED, 0xFE, 0xED]) {
                Some(true)
            } else if bytes.first() == Some(&0x30) {
                Some(false)
            } else {
                None
            };
            let message = match kind {
                Some(jks) => format!(
                    "'{option}' = '{path}' is a {} store; Headrace reads PEM files only: convert \
                     it with {}",
                    if jks { "JKS" } else { "PKCS#12 (or DER)" },
                    conversion(option, path, jks)
                ),
                None => format!(
                    "'{option}' = '{path}' is not a PEM file (no '-----BEGIN' line); JKS and \
                     PKCS#12 stores convert to PEM with {}",
                    conversion(option, path, true)
                ),
            };
            return Err(refuse(url, message));
        }
        Ok(bytes)
    }

    /// The certificates and unencrypted keys of a PEM file (other blocks are skipped).
    fn pem_items(
        url: &str,
        option: &str,
        path: &str,
        bytes: &[u8],
    ) -> Result<Vec<PemItem<'static>>, AvroError> {
        ureq::tls::parse_pem(bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| refuse(url, format!("'{option}' = '{path}': invalid PEM: {e}")))
    }

    /// The certificate authorities of the PEM truststore at `path`.
    pub(super) fn truststore(
        url: &str,
        path: &str,
    ) -> Result<Vec<Certificate<'static>>, AvroError> {
        let bytes = read_pem(url, TRUSTSTORE, path)?;
        let certs: Vec<Certificate<'static>> = pem_items(url, TRUSTSTORE, path, &bytes)?
            .into_iter()
            .filter_map(|i| match i {
                PemItem::Certificate(c) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(refuse(
                url,
                format!(
                    "'{TRUSTSTORE}' = '{path}' holds no PEM certificate ('-----BEGIN \
                     CERTIFICATE-----'): put the certificate authorities to trust in it"
                ),
            ));
        }
        Ok(certs)
    }

    /// The `-----BEGIN ENCRYPTED PRIVATE KEY-----` blocks of `text`, markers included.
    fn encrypted_blocks(text: &str) -> Vec<&str> {
        let mut blocks = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find(ENCRYPTED_BEGIN) {
            let from = &rest[start..];
            let Some(end) = from.find(ENCRYPTED_END) else {
                // Unterminated: handed over whole, the PEM decoder names what is missing.
                blocks.push(from);
                break;
            };
            let end = end + ENCRYPTED_END.len();
            blocks.push(&from[..end]);
            rest = &from[end..];
        }
        blocks
    }

    /// The refusal of a private key in OpenSSL's legacy encrypted PEM format, with the commands
    /// converting it to an encrypted PKCS#8 key.
    fn legacy_encrypted(url: &str, path: &str) -> AvroError {
        refuse(
            url,
            format!(
                "'{KEYSTORE}' = '{path}' holds a private key in OpenSSL's legacy encrypted \
                 format ('Proc-Type: 4,ENCRYPTED'), which Headrace does not read: convert it to \
                 an encrypted PKCS#8 key with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in {path} \
                 -out client.key` (it asks for the key's passphrase, then for the new one, which \
                 goes in '{KEYSTORE_PASSWORD}'), put the certificates and the new key in one \
                 file with `sed -n '/-----BEGIN CERTIFICATE-----/,/-----END \
                 CERTIFICATE-----/p' {path} | cat - client.key > client.pem`, and set \
                 '{KEYSTORE}' to client.pem"
            ),
        )
    }

    /// The PKCS#8 key of an `ENCRYPTED PRIVATE KEY` block, decrypted with `password`.
    fn decrypt(
        url: &str,
        path: &str,
        block: &str,
        password: Option<&KeyPassword>,
    ) -> Result<PrivateKey<'static>, AvroError> {
        let Some(password) = password else {
            return Err(refuse(
                url,
                format!(
                    "'{KEYSTORE}' = '{path}' holds an encrypted private key ('{ENCRYPTED_BEGIN}') \
                     but '{KEYSTORE_PASSWORD}' is not set: set it to the key's password (or \
                     write the key in clear with `openssl pkey -in {path} -out client.key`, put \
                     it in the file instead and keep the file readable only by its owner)"
                ),
            ));
        };
        let option = &password.option;
        let (_, der) = pem::decode_vec(block.as_bytes()).map_err(|e| {
            refuse(
                url,
                format!("'{KEYSTORE}' = '{path}': invalid encrypted private key PEM block: {e}"),
            )
        })?;
        let info = EncryptedPrivateKeyInfo::try_from(der.as_slice()).map_err(|e| {
            refuse(
                url,
                format!(
                    "'{KEYSTORE}' = '{path}': the encrypted private key is not a PKCS#8 \
                     EncryptedPrivateKeyInfo ({e})"
                ),
            )
        })?;
        let wrong = || {
            refuse(
                url,
                format!(
                    "the password in '{option}' does not decrypt the private key of '{KEYSTORE}' \
                     = '{path}': set '{option}' to the password the key was encrypted with"
                ),
            )
        };
        let key = info
            .decrypt(password.password.as_bytes())
            .map_err(|e| match e {
                // A wrong password fails the padding check (pkcs5 0.7 reports it as
                // `EncryptFailed`), or (rarely) yields bytes that are no DER document.
                pkcs8::Error::EncryptedPrivateKey(
                    pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
                )
                | pkcs8::Error::Asn1(_) => wrong(),
                other => refuse(
                    url,
                    format!(
                        "'{KEYSTORE}' = '{path}': the private key's encryption is not supported \
                         ({other}; Headrace decrypts PBES2 keys with PBKDF2-HMAC-SHA-2 or scrypt \
                         and AES-CBC): re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc \
                         -in {path} -out client.key` and put client.key in the file instead"
                    ),
                ),
            })?;
        // A wrong password can pass the padding check by chance: the plain text must be a key.
        PrivateKeyInfo::try_from(key.as_bytes()).map_err(|_| wrong())?;
        // ureq takes PKCS#8 keys as PEM (its key kinds are private): re-encoded in memory.
        let pem = key
            .to_pem("PRIVATE KEY", pkcs8::LineEnding::LF)
            .map_err(|e| refuse(url, format!("'{KEYSTORE}' = '{path}': {e}")))?;
        PrivateKey::from_pem(pem.as_bytes()).map_err(|e| {
            refuse(
                url,
                format!("'{KEYSTORE}' = '{path}': the decrypted private key is unusable: {e}"),
            )
        })
    }

    /// The client certificate chain (in file order, leaf first) and private key of the PEM
    /// keystore at `path`; an encrypted PKCS#8 key is decrypted with `password`.
    pub(super) fn keystore(
        url: &str,
        path: &str,
        password: Option<&KeyPassword>,
    ) -> Result<(Vec<Certificate<'static>>, PrivateKey<'static>), AvroError> {
        let bytes = read_pem(url, KEYSTORE, path)?;
        let text = String::from_utf8_lossy(&bytes);
        if text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(legacy_encrypted(url, path));
        }
        let mut chain = Vec::new();
        let mut keys = Vec::new();
        for item in pem_items(url, KEYSTORE, path, &bytes)? {
            match item {
                PemItem::Certificate(c) => chain.push(c),
                PemItem::PrivateKey(k) => keys.push(k),
                _ => {}
            }
        }
        if chain.is_empty() {
            return Err(refuse(
                url,
                format!(
                    "'{KEYSTORE}' = '{path}' holds no PEM certificate: it must hold the client \
                     certificate ('-----BEGIN CERTIFICATE-----', then its CA chain if any) and \
                     its private key, e.g. `cat client.crt client.key > client.pem`"
                ),
            ));
        }
        let encrypted = encrypted_blocks(&text);
        match (keys.len(), encrypted.as_slice()) {
            (1, []) => {
                if let Some(p) = password {
                    tracing::debug!(
                        keystore = path,
                        "avro-confluent: the keystore's private key is not encrypted; '{}' is \
                         not needed",
                        p.option
                    );
                }
                let key = keys.remove(0);
                Ok((chain, key))
            }
            (0, [block]) => Ok((chain, decrypt(url, path, block, password)?)),
            (0, []) => Err(refuse(
                url,
                format!(
                    "'{KEYSTORE}' = '{path}' holds no private key ('-----BEGIN PRIVATE \
                     KEY-----' or '{ENCRYPTED_BEGIN}', RSA or EC): append the client \
                     certificate's key, e.g. `cat client.crt client.key > client.pem`"
                ),
            )),
            _ => Err(refuse(
                url,
                format!(
                    "'{KEYSTORE}' = '{path}' holds several private keys: keep only the \
                     client certificate's"
                ),
            )),
        }
    }
}
