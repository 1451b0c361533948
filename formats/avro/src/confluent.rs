//! The `avro-confluent` format: Avro records in Confluent's wire format (magic byte 0, the
//! schema id as a 4-byte big-endian integer, then the Avro binary datum), with the writer schema
//! kept in a Confluent Schema Registry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use apache_avro::{to_avro_datum, Schema};
use arrow::datatypes::SchemaRef;
use headrace_sdk::changelog::{ChangelogBatch, ChangelogMode};
use headrace_sdk::error::{Error, RecordOrigin};
use headrace_sdk::format::{Decoder, Encoder, FormatContext, FormatFactory};
use headrace_sdk::options::{ConfigOption, OptionSet, Options};
use headrace_sdk::Result;

use crate::avro::{decode_datum, encode_error, table_schema};
use crate::direct::{batch_writers, write_row};
use crate::error::AvroError;
use crate::registry::{Auth, KeyPassword, RegistryClient, RegistryConfig};
use crate::rows::{record_values, Buffer, SharedSchema};
use crate::schema::Node;

/// The format identifier.
pub const FORMAT: &str = "avro-confluent";

/// The magic byte that starts every record of the wire format.
pub const MAGIC_BYTE: u8 = 0;

/// `avro-confluent.url`.
pub const URL: ConfigOption<String> = ConfigOption::new("url")
    .fallback_keys(&["schema-registry.url"])
    .description(
        "The URL of the Confluent Schema Registry to fetch/register schemas. Other registries' \
         Confluent-compatible APIs work too: give the API's base URL, e.g. Apicurio Registry's \
         'http://host:8080/apis/ccompat/v6' (v7 for Apicurio 3.x).",
    );

/// `avro-confluent.subject`.
pub const SUBJECT: ConfigOption<String> = ConfigOption::new("subject")
    .fallback_keys(&["schema-registry.subject"])
    .description(
        "The subject under which the schema is registered when writing. The 'kafka' and \
         'upsert-kafka' connectors default it to '<topic>-value' or '<topic>-key'; other \
         connectors need it set when the table is a sink.",
    );

/// `avro-confluent.schema`.
pub const SCHEMA: ConfigOption<String> = ConfigOption::new("schema")
    .fallback_keys(&["schema-registry.schema"])
    .description(
        "The Avro schema (JSON) registered, or to be registered, in the registry, used instead of \
         the one derived from the table schema. It must have the table's shape: a record with \
         the table's fields in order, nullable columns as unions with null.",
    );

/// `avro-confluent.auto.register.schemas`.
pub const AUTO_REGISTER_SCHEMAS: ConfigOption<bool> = ConfigOption::new("auto.register.schemas")
    .default_value("true")
    .description(
        "Register the schema under the subject when writing if it is not there yet. With \
         'false' the schema must already be registered (it is looked up, not registered).",
    );

/// `avro-confluent.ssl.keystore.location`.
pub const SSL_KEYSTORE_LOCATION: ConfigOption<String> = ConfigOption::new("ssl.keystore.location")
    .description(
        "PEM file with the TLS client certificate (then its CA chain, if any) and its private \
         key, for registries that require client certificates. The key is PKCS#8, PKCS#1 or \
         SEC1 in clear, or encrypted PKCS#8 ('-----BEGIN ENCRYPTED PRIVATE KEY-----', PBES2 with \
         AES-CBC, as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes) decrypted with \
         'ssl.keystore.password'; OpenSSL's legacy encrypted keys ('Proc-Type: 4,ENCRYPTED') \
         are refused with the conversion command. Flink reads a JKS/PKCS#12 keystore: convert \
         it with `openssl pkcs12 -in keystore.p12 -nodes -out client.pem`, after `keytool \
         -importkeystore -deststoretype PKCS12` for JKS. Needs the avro crate's 'tls' cargo \
         feature.",
    );

/// `avro-confluent.ssl.keystore.password`.
pub const SSL_KEYSTORE_PASSWORD: ConfigOption<String> = ConfigOption::new("ssl.keystore.password")
    .description(
        "Password of the TLS client keystore: decrypts its private key when the key is \
         encrypted PKCS#8 ('-----BEGIN ENCRYPTED PRIVATE KEY-----'); not needed for a key in \
         clear. 'properties.schema.registry.ssl.key.password' (Confluent's key password), when \
         set, is used instead.",
    );

/// `avro-confluent.ssl.truststore.location`.
pub const SSL_TRUSTSTORE_LOCATION: ConfigOption<String> =
    ConfigOption::new("ssl.truststore.location").description(
        "PEM file of the certificate authorities trusted for an https registry, on top of the \
         public roots (Flink reads a JKS/PKCS#12 truststore: export it with `openssl pkcs12 -in \
         truststore.p12 -nokeys -out ca.pem`, after `keytool -importkeystore -deststoretype \
         PKCS12` for JKS). Needs the avro crate's 'tls' cargo feature.",
    );

/// `avro-confluent.ssl.truststore.password`.
pub const SSL_TRUSTSTORE_PASSWORD: ConfigOption<String> =
    ConfigOption::new("ssl.truststore.password")
        .description("Password of the truststore (unused: PEM truststores have none).");

/// `avro-confluent.basic-auth.credentials-source`.
pub const BASIC_AUTH_CREDENTIALS_SOURCE: ConfigOption<String> =
    ConfigOption::new("basic-auth.credentials-source").description(
        "Where basic-auth credentials come from: 'USER_INFO' ('basic-auth.user-info') or 'URL' \
         (the user info of the registry URL, http://user:password@host). Defaults to USER_INFO \
         when 'basic-auth.user-info' is set.",
    );

/// `avro-confluent.basic-auth.user-info`.
pub const BASIC_AUTH_USER_INFO: ConfigOption<String> = ConfigOption::new("basic-auth.user-info")
    .description("Basic-auth credentials for the registry, as 'user:password'.");

/// `avro-confluent.bearer-auth.credentials-source`.
pub const BEARER_AUTH_CREDENTIALS_SOURCE: ConfigOption<String> =
    ConfigOption::new("bearer-auth.credentials-source").description(
        "Where the bearer token comes from: 'STATIC_TOKEN' ('bearer-auth.token', the default \
         when a token is set).",
    );

/// `avro-confluent.bearer-auth.token`.
pub const BEARER_AUTH_TOKEN: ConfigOption<String> =
    ConfigOption::new("bearer-auth.token").description("Bearer token for the registry.");

/// The settings of the `avro-confluent` format.
#[derive(Debug, Clone)]
pub struct ConfluentConfig {
    /// How to reach the registry.
    pub registry: RegistryConfig,
    /// `subject`, if set.
    pub subject: Option<String>,
    /// `schema`, if set.
    pub schema: Option<String>,
    /// `auto.register.schemas`.
    pub auto_register: bool,
}

/// The Confluent client property holding the password of the keystore's private key.
const KEY_PASSWORD_PROPERTY: &str = "schema.registry.ssl.key.password";

fn prop(o: &Options, key: &str) -> Option<String> {
    o.raw().get(&format!("properties.{key}")).cloned()
}

impl ConfluentConfig {
    /// The settings in `o` (the format's options, prefix removed).
    pub fn from_options(o: &Options) -> Result<ConfluentConfig> {
        let url = o.get(&URL)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(o.invalid(&URL, &url, "expected an http:// or https:// URL"));
        }
        let user_info = o
            .get_optional(&BASIC_AUTH_USER_INFO)?
            .or_else(|| prop(o, "basic.auth.user.info"));
        let basic_source = o
            .get_optional(&BASIC_AUTH_CREDENTIALS_SOURCE)?
            .or_else(|| prop(o, "basic.auth.credentials.source"));
        let token = o
            .get_optional(&BEARER_AUTH_TOKEN)?
            .or_else(|| prop(o, "bearer.auth.token"));
        let bearer_source = o
            .get_optional(&BEARER_AUTH_CREDENTIALS_SOURCE)?
            .or_else(|| prop(o, "bearer.auth.credentials.source"));
        let mut registry_url = url.clone();
        let auth = match (
            basic_source.as_deref().map(str::to_ascii_uppercase),
            user_info,
        ) {
            (Some(s), _) if s == "URL" => {
                // http://user:password@host:port/...
                let (scheme, rest) = url.split_once("://").unwrap_or(("http", &url));
                match rest.split_once('@') {
                    Some((ui, host)) if !ui.contains('/') => {
                        registry_url = format!("{scheme}://{host}");
                        Auth::Basic(ui.to_string())
                    }
                    _ => {
                        return Err(o.conflict(
                            "'avro-confluent.basic-auth.credentials-source' is 'URL' but the \
                             URL has no 'user:password@' part",
                        ))
                    }
                }
            }
            (Some(s), Some(ui)) if s == "USER_INFO" => Auth::Basic(ui),
            (None, Some(ui)) => Auth::Basic(ui),
            (Some(s), None) if s == "USER_INFO" => {
                return Err(o.conflict(
                    "'avro-confluent.basic-auth.credentials-source' is 'USER_INFO' but \
                     'avro-confluent.basic-auth.user-info' is not set",
                ))
            }
            (Some(s), _) => {
                return Err(o.invalid(
                    &BASIC_AUTH_CREDENTIALS_SOURCE,
                    s,
                    "expected 'USER_INFO' or 'URL'",
                ))
            }
            (None, None) => Auth::None,
        };
        let auth = match (bearer_source.as_deref().map(str::to_ascii_uppercase), token) {
            (None, None) => auth,
            (Some(s), Some(t)) if s == "STATIC_TOKEN" => Auth::Bearer(t),
            (None, Some(t)) => Auth::Bearer(t),
            (Some(s), _) => {
                return Err(o.invalid(
                    &BEARER_AUTH_CREDENTIALS_SOURCE,
                    s,
                    "expected 'STATIC_TOKEN' together with 'avro-confluent.bearer-auth.token'",
                ))
            }
        };
        for k in o.with_prefix("properties.").keys() {
            if !matches!(
                k.as_str(),
                "basic.auth.user.info"
                    | "basic.auth.credentials.source"
                    | "bearer.auth.token"
                    | "bearer.auth.credentials.source"
                    | KEY_PASSWORD_PROPERTY
            ) {
                tracing::warn!(
                    key = %k,
                    "avro-confluent: 'properties.{k}' is not used by Headrace's registry client"
                );
            }
        }
        // Confluent's client decrypts the key with its key password, which Flink's options
        // lack: Flink users give the keystore password.
        let keystore_password = match prop(o, KEY_PASSWORD_PROPERTY) {
            Some(password) => Some(KeyPassword {
                password,
                option: format!("avro-confluent.properties.{KEY_PASSWORD_PROPERTY}"),
            }),
            None => o
                .get_optional(&SSL_KEYSTORE_PASSWORD)?
                .map(|password| KeyPassword {
                    password,
                    option: format!("avro-confluent.{}", SSL_KEYSTORE_PASSWORD.key()),
                }),
        };
        Ok(ConfluentConfig {
            registry: RegistryConfig {
                url: registry_url,
                auth,
                truststore_pem: o.get_optional(&SSL_TRUSTSTORE_LOCATION)?,
                keystore_pem: o.get_optional(&SSL_KEYSTORE_LOCATION)?,
                keystore_password,
                timeout: Duration::from_secs(30),
            },
            subject: o.get_optional(&SUBJECT)?,
            schema: o.get_optional(&SCHEMA)?,
            auto_register: o.get(&AUTO_REGISTER_SCHEMAS)?,
        })
    }
}

/// The derived node, the schema records are read as / written with, and its JSON text.
fn schemas(
    table: &SchemaRef,
    given: Option<&str>,
) -> std::result::Result<(Node, SharedSchema, String), AvroError> {
    let (node, derived) = table_schema(table, true)?;
    match given {
        None => {
            let text = node.to_json().to_string();
            Ok((node, derived, text))
        }
        Some(text) => {
            let s = crate::schema::parse_schema(text).map_err(|e| {
                AvroError::Schema(format!(
                    "'avro-confluent.schema' is not a valid Avro schema: {e}"
                ))
            })?;
            Ok((node, SharedSchema::new(s), text.to_string()))
        }
    }
}

/// Split a record into its schema id and Avro body.
pub fn split_header(record: &[u8]) -> std::result::Result<(u32, &[u8]), String> {
    if record.len() < 5 {
        return Err(format!(
            "truncated: {} bytes, but the Confluent wire format starts with a magic byte and a \
             4-byte schema id",
            record.len()
        ));
    }
    if record[0] != MAGIC_BYTE {
        return Err(format!(
            "unknown magic byte {} (expected {MAGIC_BYTE}): the record was not written by a \
             Confluent Schema Registry serializer",
            record[0]
        ));
    }
    let id = u32::from_be_bytes([record[1], record[2], record[3], record[4]]);
    Ok((id, &record[5..]))
}

/// Decodes Confluent wire-format records, resolving each writer schema to the table's.
pub struct ConfluentDecoder {
    client: RegistryClient,
    reader: SharedSchema,
    /// Whether the reader schema is the user's (`avro-confluent.schema`), not the derived one.
    given: bool,
    /// The table's record node.
    node: Node,
    /// Writer schemas by id, and whether each equals the reader schema (no resolution needed).
    writers: HashMap<u32, (Arc<Schema>, bool)>,
    rows: Buffer,
}

impl std::fmt::Debug for ConfluentDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfluentDecoder")
            .field("registry", &self.client.url())
            .finish()
    }
}

impl ConfluentDecoder {
    /// A decoder of rows of `schema`.
    pub fn new(schema: SchemaRef, config: &ConfluentConfig) -> Result<ConfluentDecoder> {
        let (node, reader, _) = schemas(&schema, config.schema.as_deref())?;
        Ok(ConfluentDecoder {
            client: RegistryClient::new(config.registry.clone())?,
            given: config.schema.is_some(),
            node: node.clone(),
            reader,
            writers: HashMap::new(),
            rows: Buffer::new(FORMAT, schema, node),
        })
    }

    /// Use `writer` as the writer schema of records carrying schema id `id`, without asking the
    /// registry (for tests and fuzzing, or schemas known in advance).
    pub fn with_writer_schema(mut self, id: u32, writer: Schema) -> ConfluentDecoder {
        let same = crate::schema::same_layout(&writer, &self.reader);
        self.writers.insert(id, (Arc::new(writer), same));
        self
    }
}

impl Decoder for ConfluentDecoder {
    fn decode(&mut self, record: &[u8], origin: &RecordOrigin) -> Result<()> {
        let bad = |reason: String| AvroError::Record {
            format: FORMAT,
            origin: origin.clone(),
            reason,
        };
        let (id, body) = split_header(record).map_err(bad)?;
        if !self.writers.contains_key(&id) {
            let w = match self.client.schema_by_id(id) {
                Ok(w) => w,
                Err(AvroError::Registry {
                    transient: false,
                    message,
                    url,
                }) => return Err(bad(format!("schema id {id}: registry {url}: {message}")).into()),
                Err(e) => return Err(e.into()),
            };
            let same = crate::schema::same_layout(&w, &self.reader);
            self.writers.insert(id, (w, same));
        }
        let Some((writer, same)) = self.writers.get(&id) else {
            return Err(Error::internal(
                "avro-confluent: writer schema cache lost an entry",
            ));
        };
        if let (true, false, Buffer::Direct(r, _)) = (*same, self.given, &mut self.rows) {
            return r
                .read(body)
                .map_err(|reason| bad(format!("schema id {id}: {reason}")).into());
        }
        // Another writer schema: decoded as written, then mapped to the table by field name (with
        // Avro's promotions) unless its decimals differ in scale, which apache-avro resolves.
        let by_name = !*same
            && !self.given
            && matches!(self.rows, Buffer::Direct(..))
            && crate::schema::decimals_agree(writer, &self.node);
        let reader = if *same || by_name {
            None
        } else {
            Some(&*self.reader)
        };
        let v = decode_datum(FORMAT, writer, reader, body, origin).map_err(|e| match e {
            AvroError::Record { reason, .. } => bad(format!("schema id {id}: {reason}")),
            other => other,
        })?;
        self.rows.push_value(FORMAT, v, origin)?;
        Ok(())
    }

    fn buffered_rows(&self) -> usize {
        self.rows.len()
    }

    fn finish(&mut self) -> Result<ChangelogBatch> {
        Ok(self.rows.finish(FORMAT)?)
    }
}

/// Encodes rows in the Confluent wire format, registering the schema on first use.
pub struct ConfluentEncoder {
    client: RegistryClient,
    node: Node,
    schema: SharedSchema,
    schema_text: String,
    /// True when the user's schema is used: values are resolved against it before writing.
    given: bool,
    subject: String,
    auto_register: bool,
    id: Option<u32>,
}

impl std::fmt::Debug for ConfluentEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfluentEncoder")
            .field("registry", &self.client.url())
            .field("subject", &self.subject)
            .finish()
    }
}

impl ConfluentEncoder {
    /// An encoder of rows of `schema` registering under `config.subject` (required).
    pub fn new(schema: SchemaRef, config: &ConfluentConfig, o: &Options) -> Result<Self> {
        let subject = config.subject.clone().ok_or_else(|| Error::MissingOption {
            context: o.context().to_string(),
            key: "avro-confluent.subject".into(),
            description: "the registry subject the schema is registered under when writing; \
                          the kafka connectors default it to '<topic>-value' / '<topic>-key'"
                .into(),
        })?;
        let (node, avro, text) = schemas(&schema, config.schema.as_deref())?;
        Ok(ConfluentEncoder {
            client: RegistryClient::new(config.registry.clone())?,
            node,
            schema: avro,
            schema_text: text,
            given: config.schema.is_some(),
            subject,
            auto_register: config.auto_register,
            id: None,
        })
    }

    /// The schema id, registering or looking it up the first time.
    pub fn schema_id(&mut self) -> Result<u32> {
        if let Some(id) = self.id {
            return Ok(id);
        }
        let id = self
            .client
            .id_for(&self.subject, &self.schema_text, self.auto_register)?;
        self.id = Some(id);
        Ok(id)
    }
}

impl Encoder for ConfluentEncoder {
    fn encode(
        &mut self,
        batch: &ChangelogBatch,
        emit: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let id = self.schema_id()?;
        let mut buf = Vec::new();
        if !self.given {
            let cols =
                batch_writers(&self.node, &batch.batch).map_err(|r| encode_error(FORMAT, r))?;
            for i in 0..batch.num_rows() {
                buf.clear();
                buf.push(MAGIC_BYTE);
                buf.extend_from_slice(&id.to_be_bytes());
                write_row(&cols, i, &mut buf)
                    .map_err(|r| encode_error(FORMAT, format!("row {i}: {r}")))?;
                emit(i, &buf)?;
            }
            return Ok(());
        }
        let values =
            record_values(&self.node, &batch.batch).map_err(|r| encode_error(FORMAT, r))?;
        for (i, v) in values.into_iter().enumerate() {
            let v = if self.given {
                v.resolve(&self.schema).map_err(|e| {
                    encode_error(
                        FORMAT,
                        format!("row {i} does not fit the schema in 'avro-confluent.schema': {e}"),
                    )
                })?
            } else {
                v
            };
            let body = to_avro_datum(&self.schema, v)
                .map_err(|e| encode_error(FORMAT, format!("row {i}: {e}")))?;
            buf.clear();
            buf.push(MAGIC_BYTE);
            buf.extend_from_slice(&id.to_be_bytes());
            buf.extend_from_slice(&body);
            emit(i, &buf)?;
        }
        Ok(())
    }
}

/// The `avro-confluent` format factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct AvroConfluentFormatFactory;

impl FormatFactory for AvroConfluentFormatFactory {
    fn identifier(&self) -> &'static str {
        FORMAT
    }

    fn description(&self) -> &'static str {
        "Avro records in Confluent's wire format with schemas kept in a Confluent Schema Registry (Flink's 'avro-confluent')"
    }

    fn options(&self) -> OptionSet {
        OptionSet::new()
            .required(URL)
            .optional(SUBJECT)
            .optional(SCHEMA)
            .optional(AUTO_REGISTER_SCHEMAS)
            .optional(SSL_KEYSTORE_LOCATION)
            .optional(SSL_KEYSTORE_PASSWORD)
            .optional(SSL_TRUSTSTORE_LOCATION)
            .optional(SSL_TRUSTSTORE_PASSWORD)
            .optional(BASIC_AUTH_CREDENTIALS_SOURCE)
            .optional(BASIC_AUTH_USER_INFO)
            .optional(BEARER_AUTH_CREDENTIALS_SOURCE)
            .optional(BEARER_AUTH_TOKEN)
            .prefix(
                "properties.",
                "Properties forwarded to the registry client. Headrace's client reads \
                 'basic.auth.user.info', 'basic.auth.credentials.source', 'bearer.auth.token' \
                 and 'bearer.auth.credentials.source' (the options above take precedence) and \
                 ignores the others with a warning.",
            )
    }

    fn changelog_mode(&self) -> ChangelogMode {
        ChangelogMode::InsertOnly
    }

    fn create_decoder(&self, ctx: &FormatContext) -> Result<Box<dyn Decoder>> {
        let c = ConfluentConfig::from_options(&ctx.options)?;
        Ok(Box::new(ConfluentDecoder::new(ctx.schema.clone(), &c)?))
    }

    fn create_encoder(&self, ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
        let c = ConfluentConfig::from_options(&ctx.options)?;
        Ok(Box::new(ConfluentEncoder::new(
            ctx.schema.clone(),
            &c,
            &ctx.options,
        )?))
    }
}
