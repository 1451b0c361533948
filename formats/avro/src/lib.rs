//! # Avro formats
//!
//! Two formats with Flink's identifiers, options and schema derivation:
//!
//! - `'format' = 'avro'`: each record is one Avro datum, without header or schema, encoded with
//!   the schema derived from the table schema (what Flink's `avro` format puts in Kafka
//!   messages). Avro files are object container files: [`file`](mod@file) has the writer and reader, which
//!   the format offers to file connectors through the SDK's bulk hooks
//!   ([`headrace_sdk::format::FormatFactory::create_bulk_writer`],
//!   [`create_bulk_reader`](headrace_sdk::format::FormatFactory::create_bulk_reader)).
//! - `'format' = 'avro-confluent'`: Confluent's wire format (magic byte `0`, the schema id as 4
//!   big-endian bytes, the Avro datum). Writing registers the schema under
//!   `avro-confluent.subject` (once per encoder; ids are cached process-wide); reading fetches
//!   each writer schema by id (cached) and resolves it to the table's schema with Avro's schema
//!   resolution (fields matched by name, missing nullable fields NULL, int to long promotion
//!   and so on).
//!
//! ## Schema derivation (Flink's `AvroSchemaConverter`)
//!
//! The top-level record is `org.apache.flink.avro.generated.record`; a ROW column `x` becomes a
//! record named `..record_x` (nested ones append `_field` again; ARRAY elements and MAP values keep
//! the name of their column). A nullable type `T` is the union `["null", T]`, and a nullable
//! field has `"default": null`.
//!
//! | Flink type | Avro type |
//! |---|---|
//! | BOOLEAN | boolean |
//! | TINYINT, SMALLINT, INT | int |
//! | BIGINT | long |
//! | FLOAT / DOUBLE | float / double |
//! | DECIMAL(p, s) | bytes, logical type decimal(p, s) |
//! | CHAR, VARCHAR, STRING | string |
//! | BINARY, VARBINARY, BYTES | bytes |
//! | DATE | int, date |
//! | TIME(p), p <= 3 | int, time-millis |
//! | TIMESTAMP(p), p <= 3 (legacy mapping, the default) | long, timestamp-millis |
//! | TIMESTAMP(p) (`avro.timestamp_mapping.legacy` = false) | long, local-timestamp-millis / -micros / -nanos |
//! | TIMESTAMP_LTZ(p) (`avro.timestamp_mapping.legacy` = false) | long, timestamp-millis / -micros / -nanos |
//! | `ARRAY<T>` | array |
//! | `MAP<STRING, T>` | map |
//! | `MULTISET<STRING>` | map of nullable int counts |
//! | ROW | record |
//!
//! As in Flink, TIME above precision 3, TIMESTAMP above precision 3 and TIMESTAMP_LTZ under the
//! legacy mapping, maps with non-string keys, and timestamps other than TIMESTAMP(≤3) inside
//! ARRAY/MAP (Flink derives those with the legacy mapping whatever the option says) are errors
//! naming the column and the fix. `avro-confluent` always uses the legacy mapping, like Flink.
//!
//! ## Options of `avro`
//!
//! | Option | Default | Type | Description |
//! |---|---|---|---|
//! | `avro.codec` | `snappy` | Enum | Codec of Avro files: null, deflate, snappy, zstandard (bzip2, xz with cargo features). |
//! | `avro.encoding` | `binary` | Enum | `binary` or `json` (Avro's JSON encoding). |
//! | `avro.timestamp_mapping.legacy` | `true` | Boolean | Flink's legacy timestamp mapping. |
//!
//! ## Options of `avro-confluent`
//!
//! `avro-confluent.url` (required), `.subject`, `.schema`, `.auto.register.schemas` (default
//! true), `.basic-auth.credentials-source` / `.basic-auth.user-info`,
//! `.bearer-auth.credentials-source` / `.bearer-auth.token`, `.ssl.truststore.location` and
//! `.ssl.keystore.location` / `.ssl.keystore.password` (cargo feature `tls`), `.properties.*`.
//! The old `schema-registry.*` keys are read as fallbacks.
//!
//! TLS stores are PEM files where Flink reads JKS or PKCS#12 stores: the truststore holds the CA
//! certificates trusted on top of the public roots, the keystore the client certificate (then its
//! CA chain) and its private key, for registries requiring client certificates. The key is in
//! clear (PKCS#8, PKCS#1 or SEC1) or encrypted PKCS#8 (`-----BEGIN ENCRYPTED PRIVATE KEY-----`,
//! PBES2 with AES-CBC as `openssl pkcs8 -topk8 -v2 aes-256-cbc` or `openssl genpkey -aes256`
//! write it), decrypted with `.ssl.keystore.password` (or Confluent's
//! `.properties.schema.registry.ssl.key.password` when set); a wrong or missing password fails
//! naming the option and the file. OpenSSL's legacy encrypted keys (`Proc-Type: 4,ENCRYPTED`)
//! are refused with the `openssl pkcs8 -topk8` command converting them.
//! `.ssl.truststore.password` is unused (PEM truststores have none). A JKS or PKCS#12 file, or a
//! PEM file without a certificate or key, is refused naming the option and the conversion
//! (`openssl pkcs12 -in keystore.p12 -nodes -out client.pem`, `keytool -importkeystore
//! -deststoretype PKCS12` first for JKS). A TLS
//! handshake the registry refuses, or a registry certificate the truststore does not vouch for,
//! fails naming the registry URL and the option to set.
//! A writer needs the subject: connectors that know their topic set it (Flink's Kafka connectors
//! default it to `<topic>-value` / `<topic>-key`) with
//! [`FormatHandle::with_default_option`](headrace_sdk::factory::FormatHandle::with_default_option).
//!
//! ## Files
//!
//! As Flink's filesystem format does, a file's schema is the union `["null", <record>]` (the
//! rows' type is nullable there), each record starting with branch 1; files whose schema is the
//! bare record (other writers) are read too. Flink 2.3's file format always derives its schema
//! with the legacy timestamp mapping (it ignores `avro.timestamp_mapping.legacy`); Headrace
//! honours the option for files too, so with `'false'` its files hold local-timestamp-* /
//! timestamp-micros types Flink's file reader refuses to derive.
//!
//! ## How records are read and written
//!
//! Rows are written as Avro binary straight from the Arrow columns (map entries in their Arrow
//! order, so equal rows give equal bytes) and read straight into Arrow columns when the writer
//! schema is the table's own. Records written with another schema (`avro-confluent` with an
//! evolved writer schema, other writers' files) are decoded with `apache-avro` as written and
//! mapped to the table by field name with Avro's promotions (int to long, float and double,
//! string and bytes; absent nullable fields NULL), then take the same path. Only when a DECIMAL's
//! scale differs, or with a given `avro-confluent.schema`, does `apache-avro`'s own resolution
//! run (its 0.21 decimal check rejects values Java writes, such as a DECIMAL(10, 3) in 4 bytes). Container files are read block by
//! block the same way: straight into columns when the file's writer schema is the table's (as in
//! the files Headrace and Flink write), through `apache-avro`'s resolution otherwise.
//!
//! ## Errors
//!
//! A record that cannot be decoded (truncated, wrong magic byte, unknown schema id, bytes left
//! over, a value that does not fit the column) is a `BadRecord` error naming the format, the
//! reason and the record's origin; a registry that cannot be reached is an external error the
//! runner retries. A record that fails leaves nothing of itself in the batch being built. A
//! schema the subject's compatibility rule refuses (HTTP 409) fails the write with an error
//! naming the subject, the registry URL and the fix.
//!
//! ## Tests against a real registry
//!
//! `tests/registry.rs` runs `avro-confluent` against Apicurio Registry's Confluent API (the
//! integration-test kit's `registry` module builds and starts it): registration under the
//! subject, ids resolved and cached, older writer schemas read with the table's schema under a
//! BACKWARD rule, the errors above, and Kafka topics exchanged both ways with confluent-kafka's
//! `AvroSerializer` / `AvroDeserializer` and with Flink's own `avro-confluent` format (PyFlink)
//! using the same registry.
//!
//! ## Not supported
//!
//! JKS or PKCS#12 key/truststores (PEM only, see above), encrypted private keys, schema
//! references in the registry, Flink's
//! `avro.open.fastread` (rejected as unknown). In Arrow a MULTISET is a map to INT NOT NULL
//! counts; the SDK records a column's MULTISET type in the `headrace.flink-type` field metadata,
//! so it derives as Flink's `{"type": "map", "values": ["null", "int"]}`. A MULTISET nested
//! in an ARRAY, MAP or ROW is not recorded and derives as a map of `int`.

pub mod avro;
pub mod confluent;
mod convert;
mod direct;
pub mod error;
pub mod file;
pub mod guard;
mod json;
mod read;
pub mod registry;
pub mod rows;
pub mod schema;

use std::sync::Arc;

use headrace_sdk::format::FormatFactory;

pub use avro::{AvroConfig, AvroDecoder, AvroEncoder, AvroFormatFactory};
pub use confluent::{AvroConfluentFormatFactory, ConfluentDecoder, ConfluentEncoder};
pub use error::AvroError;
pub use file::{read_file, read_file_range, AvroFileReader, AvroFileWriter};

headrace_sdk::register_format!(AvroFormatFactory);
headrace_sdk::register_format!(AvroConfluentFormatFactory);

/// The `avro` format factory, for runners that register formats explicitly.
pub fn factory() -> Arc<dyn FormatFactory> {
    Arc::new(AvroFormatFactory)
}

/// The `avro-confluent` format factory, for runners that register formats explicitly.
pub fn confluent_factory() -> Arc<dyn FormatFactory> {
    Arc::new(AvroConfluentFormatFactory)
}
