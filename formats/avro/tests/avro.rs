//! Behaviour tests of the avro and avro-confluent formats through the SDK's format traits:
//! schema derivation (compared with the schemas Flink's `AvroSchemaConverter` produces), round
//! trips of every type, files, options and bad records. Rows are built with the json format.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use arrow::array::RecordBatch;

use headrace_format_avro::avro::AvroConfig;
use headrace_format_avro::confluent::split_header;
use headrace_format_avro::schema::table_schema_json;
use headrace_format_avro::{
    read_file, AvroConfluentFormatFactory, AvroFileWriter, AvroFormatFactory,
};
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::Error;
use headrace_sdk::format::{FormatContext, FormatFactory};
use headrace_sdk::schema::TableSchema;
use serde_json::{json, Value as Json};

use common::*;
use headrace_format_json::JsonFormatFactory;

fn roundtrip(cols: &str, opts: &[(&str, &str)], data: &[Json]) -> (RecordBatch, RecordBatch) {
    let input = rows(cols, data);
    let c = ctx(input.schema(), "avro", opts);
    let mut e = AvroFormatFactory.create_encoder(&c).unwrap();
    let mut records = Vec::new();
    e.encode(&ChangelogBatch::inserts(input.clone()), &mut |i, b| {
        assert_eq!(i, records.len());
        records.push(b.to_vec());
        Ok(())
    })
    .unwrap();
    assert_eq!(records.len(), input.num_rows());
    let mut d = AvroFormatFactory.create_decoder(&c).unwrap();
    for (i, r) in records.iter().enumerate() {
        d.decode(r, &origin(i as i64)).unwrap();
    }
    assert_eq!(d.buffered_rows(), input.num_rows());
    (input, d.finish().unwrap().batch)
}

#[test]
fn derived_schema_matches_flink() {
    let nul = |t: Json| json!(["null", t]);
    let f = |n: &str, t: Json| json!({"name": n, "type": t, "default": null});
    let nn = |n: &str, t: Json| json!({"name": n, "type": t});
    let lt = |b: &str, l: &str| json!({"type": b, "logicalType": l});
    let expected = json!({
        "type": "record", "name": "record", "namespace": "org.apache.flink.avro.generated",
        "fields": [
            nn("b", json!("boolean")),
            f("ti", nul(json!("int"))), f("si", nul(json!("int"))), f("i", nul(json!("int"))),
            f("bi", nul(json!("long"))), f("f", nul(json!("float"))), f("d", nul(json!("double"))),
            f("dec", nul(json!({"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 3}))),
            f("big", nul(json!({"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 0}))),
            f("c", nul(json!("string"))), f("vc", nul(json!("string"))), nn("s", json!("string")),
            f("bin", nul(json!("bytes"))), f("vb", nul(json!("bytes"))),
            f("dt", nul(lt("int", "date"))),
            f("t0", nul(lt("int", "time-millis"))), f("t3", nul(lt("int", "time-millis"))),
            f("ts0", nul(lt("long", "timestamp-millis"))), f("ts3", nul(lt("long", "timestamp-millis"))),
            f("arr", nul(json!({"type": "array", "items": nul(json!("int"))}))),
            f("m", nul(json!({"type": "map", "values": nul(json!("long"))}))),
            f("ms", nul(json!({"type": "map", "values": nul(json!("int"))}))),
            f("r", nul(json!({"type": "record", "name": "record_r", "fields": [
                f("x", nul(json!("int"))), nn("y", json!("string"))]}))),
            f("nested", nul(json!({"type": "array", "items": nul(json!({
                "type": "record", "name": "record_nested", "fields": [
                    f("a", nul(json!("int"))),
                    f("b", nul(json!({"type": "array", "items": nul(json!("string"))}))),
                    f("c", nul(json!({"type": "map", "values": nul(json!("double"))}))),
                    f("inner", nul(json!({"type": "record", "name": "record_nested_inner",
                        "fields": [f("z", nul(json!("boolean")))]}))),
                ]}))}))),
        ]
    });
    let got: Json =
        serde_json::from_str(&table_schema_json(&schema(LEGACY), true).unwrap()).unwrap();
    assert_eq!(got, expected, "{got:#}");
    // The SDK's Arrow schema records MULTISET in the field metadata (in Arrow it is a map to INT
    // NOT NULL counts), so a table's column derives Flink's nullable counts; a MAP to INT NOT
    // NULL stays a map of int.
    let sdk = TableSchema::parse_columns("ms MULTISET<STRING>, m MAP<STRING, INT NOT NULL>")
        .unwrap()
        .physical_arrow_schema();
    let derived: Json = serde_json::from_str(&table_schema_json(&sdk, true).unwrap()).unwrap();
    assert_eq!(
        derived["fields"][0]["type"][1]["values"],
        json!(["null", "int"])
    );
    assert_eq!(derived["fields"][1]["type"][1]["values"], json!("int"));
}

#[test]
fn modern_timestamp_mapping() {
    let got: Json =
        serde_json::from_str(&table_schema_json(&schema(MODERN), false).unwrap()).unwrap();
    let types: Vec<Json> = got["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["type"].clone())
        .collect();
    let lt = |l: &str| json!(["null", {"type": "long", "logicalType": l}]);
    assert_eq!(
        types,
        vec![
            json!("int"),
            lt("local-timestamp-millis"),
            lt("local-timestamp-micros"),
            lt("local-timestamp-nanos"),
            lt("timestamp-millis"),
            lt("timestamp-micros"),
            lt("timestamp-nanos"),
        ]
    );
}

#[test]
fn underivable_types_are_errors_naming_the_column_and_fix() {
    for (cols, legacy, needle) in [
        (
            "ts TIMESTAMP(6)",
            true,
            "'avro.timestamp_mapping.legacy' = 'false'",
        ),
        (
            "ltz TIMESTAMP_LTZ(3)",
            true,
            "'avro.timestamp_mapping.legacy' = 'false'",
        ),
        ("t TIME(6)", true, "TIME(3)"),
        ("m MAP<INT, STRING>", true, "key type"),
        ("ms MULTISET<INT>", true, "element type"),
        // Flink derives array elements with the legacy mapping whatever the option says.
        ("a ARRAY<TIMESTAMP(6)>", false, "legacy"),
    ] {
        let e = table_schema_json(&schema(cols), legacy)
            .unwrap_err()
            .to_string();
        let col = cols.split(' ').next().unwrap();
        assert!(e.contains(&format!("column '{col}'")), "{e}");
        assert!(e.contains(needle), "{cols}: {e}");
        let c = ctx(
            schema(cols),
            "avro",
            &[("timestamp_mapping.legacy", &legacy.to_string())],
        );
        assert!(AvroFormatFactory.create_encoder(&c).is_err());
        assert!(AvroFormatFactory.create_decoder(&c).is_err());
    }
}

#[test]
fn every_legacy_type_round_trips_in_binary_and_json() {
    for enc in ["binary", "json"] {
        let (input, output) = roundtrip(LEGACY, &[("encoding", enc)], &legacy_rows());
        assert_eq!(input, output, "encoding {enc}");
    }
}

#[test]
fn modern_timestamps_round_trip() {
    let data = vec![
        json!({"id": 1, "ts3": "2026-11-25 12:34:56.123", "ts6": "2026-11-25 12:34:56.123456",
            "ts9": "2026-11-25 12:34:56.123456789", "ltz3": "2026-11-25 12:34:56.123Z",
            "ltz6": "1960-01-01 00:00:00.000001Z", "ltz9": "2200-01-01 00:00:00.999999999Z"}),
        json!({"id": 2}),
    ];
    for enc in ["binary", "json"] {
        let (input, output) = roundtrip(
            MODERN,
            &[("timestamp_mapping.legacy", "false"), ("encoding", enc)],
            &data,
        );
        assert_eq!(input, output);
    }
}

#[test]
fn binary_records_have_the_avro_layout() {
    // INT NOT NULL 1 -> zigzag 0x02; nullable STRING "hi" -> branch 1 (0x02), length 2 (0x04), "hi".
    let input = rows(
        "a INT NOT NULL, s STRING",
        &[json!({"a": 1, "s": "hi"}), json!({"a": -1})],
    );
    let c = ctx(input.schema(), "avro", &[]);
    let mut e = AvroFormatFactory.create_encoder(&c).unwrap();
    let mut out = Vec::new();
    e.encode(&ChangelogBatch::inserts(input), &mut |_, b| {
        out.push(b.to_vec());
        Ok(())
    })
    .unwrap();
    assert_eq!(out, vec![vec![2, 2, 4, b'h', b'i'], vec![1, 0]]);
}

#[test]
fn bad_records_name_format_reason_and_origin() {
    let c = ctx(schema("a INT NOT NULL, s STRING NOT NULL"), "avro", &[]);
    let cases: [(&[u8], &str); 4] = [
        (&[], "not an Avro datum"),
        (&[2, 10, b'a'], "not an Avro datum"),
        (&[2, 0, 7, 7], "left over"),
        (
            &[
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
            "not an Avro datum",
        ),
    ];
    for (bytes, reason) in cases {
        let mut d = AvroFormatFactory.create_decoder(&c).unwrap();
        let e = d
            .decode(bytes, &origin(42))
            .map(|_| format!("{bytes:?}"))
            .unwrap_err();
        assert!(matches!(e, Error::BadRecord { .. }), "{e:?}");
        let m = e.to_string();
        assert!(m.starts_with("avro: "), "{m}");
        assert!(m.contains("topic 'orders' partition 1 offset 42"), "{m}");
        assert!(m.contains(reason), "{m}");
        assert_eq!(d.buffered_rows(), 0);
    }
    // JSON encoding: a missing NOT NULL field and invalid JSON.
    let c = ctx(
        schema("a INT NOT NULL, s STRING NOT NULL"),
        "avro",
        &[("encoding", "json")],
    );
    let mut d = AvroFormatFactory.create_decoder(&c).unwrap();
    let e = d
        .decode(br#"{"a": 1}"#, &origin(3))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("field 's' is missing") && e.contains("offset 3"),
        "{e}"
    );
    let e = d.decode(b"{", &origin(4)).unwrap_err().to_string();
    assert!(e.contains("not valid JSON"), "{e}");
}

#[test]
fn values_that_do_not_fit_are_errors() {
    // A NULL in a NOT NULL column cannot be written.
    let input = rows("a INT, s STRING", &[json!({"a": null, "s": "x"})]);
    let strict = schema("a INT NOT NULL, s STRING");
    let batch = RecordBatch::try_new(strict.clone(), input.columns().to_vec());
    // Arrow itself refuses the batch; the encoder reports such rows when given one anyway.
    assert!(batch.is_err());
    let c = ctx(strict, "avro", &[]);
    let mut e = AvroFormatFactory.create_encoder(&c).unwrap();
    let loose = ChangelogBatch::inserts(input);
    let err = e
        .encode(&loose, &mut |_, _| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("column 'a' is NULL"), "{err}");
}

/// The error creating a decoder (with `encoder`, an encoder) of format `fmt` for `opts` gives.
fn create_error(
    f: &dyn FormatFactory,
    encoder: bool,
    s: &arrow::datatypes::SchemaRef,
    fmt: &str,
    opts: &[(&str, &str)],
) -> String {
    let c = ctx(s.clone(), fmt, opts);
    let e = if encoder {
        f.create_encoder(&c).err()
    } else {
        f.create_decoder(&c).err()
    };
    e.unwrap_or_else(|| panic!("{fmt} with {opts:?} accepted"))
        .to_string()
}

/// Options that a factory refuses: the factory, whether for an encoder, the format, the
/// options, and what the error must say.
type OptionCase<'a> = (
    &'a dyn FormatFactory,
    bool,
    &'a str,
    Vec<(&'a str, &'a str)>,
    Vec<&'a str>,
);

#[test]
fn options_are_checked() {
    let s = schema("a INT");
    let (avro, confluent): (&dyn FormatFactory, &dyn FormatFactory) =
        (&AvroFormatFactory, &AvroConfluentFormatFactory);
    let mut cases: Vec<OptionCase> = vec![
        (
            avro,
            true,
            "avro",
            vec![("codec", "lz4")],
            vec!["'codec'", "snappy"],
        ),
        (
            avro,
            false,
            "avro",
            vec![("encoding", "xml")],
            vec!["binary, json"],
        ),
        (confluent, false, "avro-confluent", vec![], vec!["'url'"]),
        (
            confluent,
            true,
            "avro-confluent",
            vec![("url", "http://localhost:1")],
            vec!["avro-confluent.subject"],
        ),
        (
            confluent,
            false,
            "avro-confluent",
            vec![("url", "localhost:8081")],
            vec!["http://"],
        ),
        (
            confluent,
            false,
            "avro-confluent",
            vec![
                ("url", "http://r:1"),
                ("basic-auth.credentials-source", "USER_INFO"),
            ],
            vec!["basic-auth.user-info"],
        ),
    ];
    if !cfg!(feature = "bzip2") {
        cases.push((
            avro,
            true,
            "avro",
            vec![("codec", "bzip2")],
            vec!["cargo", "bzip2"],
        ));
    }
    for (f, encoder, fmt, opts, needles) in cases {
        let e = create_error(f, encoder, &s, fmt, &opts);
        for n in needles {
            assert!(e.contains(n), "{fmt} with {opts:?}: no {n:?} in: {e}");
        }
    }
    // Keystores and truststores are PEM files: Java's binary stores, and PEM files lacking the
    // certificate or the key, are refused naming the option and the conversion.
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };
    let jks = file("k.jks", &[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]);
    let p12 = file("k.p12", &[0x30, 0x82, 0x0A, 0x01, 2, 1, 3]);
    let cert_only = file(
        "cert.pem",
        b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
    );
    let key_only = file(
        "key.pem",
        b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
    );
    let encrypted = file(
        "enc.pem",
        b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n\
          -----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let cases: [(&str, &str, &[&str]); 7] = [
        (
            "ssl.keystore.location",
            &jks,
            &["JKS", "keytool -importkeystore", "openssl pkcs12"],
        ),
        (
            "ssl.keystore.location",
            &p12,
            &["PKCS#12", "openssl pkcs12 -in", "-nodes"],
        ),
        ("ssl.keystore.location", &cert_only, &["no private key"]),
        ("ssl.keystore.location", &key_only, &["no PEM certificate"]),
        (
            "ssl.keystore.location",
            &encrypted,
            &["encrypted private key", "openssl pkey"],
        ),
        ("ssl.truststore.location", &jks, &["JKS", "-nokeys"]),
        (
            "ssl.truststore.location",
            &key_only,
            &["no PEM certificate"],
        ),
    ];
    let https = |key, path| {
        let opts = [("url", "https://r:1"), (key, path)];
        create_error(confluent, false, &s, "avro-confluent", &opts)
    };
    for (key, path, needles) in cases {
        let e = https(key, path);
        assert!(e.contains(&format!("avro-confluent.{key}")), "{e}");
        assert!(e.contains(path), "{e}");
        for n in needles {
            assert!(e.contains(n), "{key} = {path}: no {n:?} in: {e}");
        }
    }
    let e = https("ssl.keystore.location", "/nonexistent/k.pem");
    assert!(
        e.contains("ssl.keystore.location") && e.contains("/nonexistent/k.pem"),
        "{e}"
    );
    // The old key is a fallback.
    assert!(AvroConfluentFormatFactory
        .create_decoder(&ctx(
            schema("a INT"),
            "avro-confluent",
            &[("schema-registry.url", "http://r:1")]
        ))
        .is_ok());
}

#[test]
fn confluent_header_errors() {
    assert_eq!(
        split_header(&[0, 0, 0, 1, 2, 9]).unwrap(),
        (258, &[9u8][..])
    );
    assert!(split_header(&[0, 0, 0])
        .unwrap_err()
        .contains("truncated: 3 bytes"));
    assert!(split_header(&[1, 0, 0, 0, 1, 2])
        .unwrap_err()
        .contains("magic byte 1"));
    // Through the decoder: the header is checked before the registry is asked.
    let c = ctx(
        schema("a INT"),
        "avro-confluent",
        &[("url", "http://127.0.0.1:9")],
    );
    let mut d = AvroConfluentFormatFactory.create_decoder(&c).unwrap();
    let e = d.decode(&[7, 0, 0, 0, 1, 2], &origin(5)).unwrap_err();
    assert!(matches!(e, Error::BadRecord { .. }));
    let m = e.to_string();
    assert!(
        m.starts_with("avro-confluent: ") && m.contains("offset 5") && m.contains("magic byte 7"),
        "{m}"
    );
    // An unreachable registry is an external error the runner may retry.
    let e = d.decode(&[0, 0, 0, 0, 1, 2], &origin(6)).unwrap_err();
    assert_eq!(e.retry(), headrace_sdk::error::Retry::Backoff, "{e}");
    assert!(e.to_string().contains("http://127.0.0.1:9"), "{e}");
}

/// The batches (of at most `batch_rows` rows) `read_file` reads from the container file `bytes`
/// as rows of `schema`, and the record count it returns; `path` names the file.
fn read_bytes(
    bytes: &[u8],
    schema: &arrow::datatypes::SchemaRef,
    config: &AvroConfig,
    path: &str,
    batch_rows: usize,
) -> Result<(Vec<RecordBatch>, u64), headrace_format_avro::AvroError> {
    let mut got = Vec::new();
    let n = read_file(bytes, schema, config, path, batch_rows, &mut |b| {
        got.push(b.batch);
        Ok(())
    })?;
    Ok((got, n))
}

#[test]
fn files_round_trip_with_every_codec() {
    let input = rows(LEGACY, &legacy_rows());
    let mut codecs = vec!["null", "deflate"];
    if cfg!(feature = "snappy") {
        codecs.push("snappy");
    }
    if cfg!(feature = "zstandard") {
        codecs.push("zstandard");
    }
    if cfg!(feature = "bzip2") {
        codecs.push("bzip2");
    }
    if cfg!(feature = "xz") {
        codecs.push("xz");
    }
    for codec in codecs {
        let c = ctx(input.schema(), "avro", &[("codec", codec)]);
        let config = AvroConfig::from_context(&c).unwrap();
        let mut w = AvroFileWriter::new(Vec::new(), &input.schema(), &config, "mem").unwrap();
        w.write(&input).unwrap();
        w.write(&input).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(&bytes[..4], b"Obj\x01");
        let (got, n) = read_bytes(&bytes, &input.schema(), &config, "mem.avro", 4).unwrap();
        assert_eq!(n, 6, "{codec}");
        assert_eq!(got.len(), 2, "batches of at most 4 rows");
        let all = arrow::compute::concat_batches(&input.schema(), &got).unwrap();
        let twice =
            arrow::compute::concat_batches(&input.schema(), &[input.clone(), input.clone()])
                .unwrap();
        assert_eq!(all, twice, "{codec}");
    }
    // A corrupt file names the file.
    let config = AvroConfig::from_context(&ctx(input.schema(), "avro", &[])).unwrap();
    let e = read_bytes(b"Obj\x01garbage", &input.schema(), &config, "bad.avro", 10)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("file 'bad.avro'"), "{e}");
}

#[test]
fn registered_in_inventory() {
    let r = headrace_sdk::registry::Registry::from_inventory();
    assert!(r.format("avro").is_ok());
    assert!(r.format("avro-confluent").is_ok());
}

#[test]
fn bulk_hooks_write_and_read_container_files() {
    let input = rows(LEGACY, &legacy_rows());
    let c = ctx(input.schema(), "avro", &[("codec", "deflate")]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("part-0.avro");
    let f = std::fs::File::create(&path).unwrap();
    let mut w = AvroFormatFactory
        .create_bulk_writer(&c, Box::new(f), "part-0.avro")
        .unwrap()
        .unwrap();
    w.write(&input).unwrap();
    assert!(w.bytes_written() > 0);
    w.finish().unwrap();
    let mut r = AvroFormatFactory.create_bulk_reader(&c).unwrap().unwrap();
    let mut got = Vec::new();
    let n = r
        .read(
            Box::new(std::fs::File::open(&path).unwrap()),
            "part-0.avro",
            2,
            &mut |b| {
                got.push(b.batch);
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        arrow::compute::concat_batches(&input.schema(), &got).unwrap(),
        input
    );
    // An error from the consumer comes back unchanged.
    let e = r
        .read(
            Box::new(std::fs::File::open(&path).unwrap()),
            "part-0.avro",
            2,
            &mut |_| Err(Error::user("stop here")),
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "stop here");
    // Record formats offer no bulk hooks.
    assert!(JsonFormatFactory.create_bulk_reader(&c).is_none());
}

fn encode_all(f: &dyn FormatFactory, c: &FormatContext, batch: &RecordBatch) -> Vec<Vec<u8>> {
    let mut e = f.create_encoder(c).unwrap();
    let mut out = Vec::new();
    e.encode(&ChangelogBatch::inserts(batch.clone()), &mut |_, b| {
        out.push(b.to_vec());
        Ok(())
    })
    .unwrap();
    out
}

/// The rows of `records` as decoded by a decoder of `f` (origins at offsets 0, 1, ...).
fn decode_all(f: &dyn FormatFactory, c: &FormatContext, records: &[Vec<u8>]) -> RecordBatch {
    let mut d = f.create_decoder(c).unwrap();
    for (i, r) in records.iter().enumerate() {
        d.decode(r, &origin(i as i64)).unwrap();
    }
    d.finish().unwrap().batch
}

#[test]
fn confluent_round_trip_registers_once_and_caches_ids() {
    let reg = common::registry::FakeRegistry::start();
    let input = rows(LEGACY, &legacy_rows());
    let c = ctx(
        input.schema(),
        "avro-confluent",
        &[
            ("url", reg.url.as_str()),
            ("subject", "orders-value"),
            ("basic-auth.user-info", "user:secret"),
        ],
    );
    let records = encode_all(&AvroConfluentFormatFactory, &c, &input);
    let again = encode_all(&AvroConfluentFormatFactory, &c, &input);
    // Map entries are written in their Arrow order: equal rows give equal bytes.
    assert_eq!(records, again);
    for r in &records {
        assert_eq!(&r[..5], &[0, 0, 0, 0, 1], "magic byte and schema id 1");
    }
    // The body is the plain Avro datum of the derived schema.
    let plain = encode_all(
        &AvroFormatFactory,
        &ctx(input.schema(), "avro", &[]),
        &input,
    );
    for (r, p) in records.iter().zip(&plain) {
        assert_eq!(&r[5..], &p[..]);
    }
    assert_eq!(decode_all(&AvroConfluentFormatFactory, &c, &records), input);
    let mut d2 = AvroConfluentFormatFactory.create_decoder(&c).unwrap();
    d2.decode(&records[0], &origin(0)).unwrap();
    assert_eq!(
        reg.requests(),
        vec![
            "POST /subjects/orders-value/versions".to_string(),
            "GET /schemas/ids/1".to_string()
        ],
        "one registration and one schema fetch for two encoders and two decoders"
    );
    let st = reg.state.lock().unwrap();
    assert!(
        st.auth.iter().all(|a| a == "Basic dXNlcjpzZWNyZXQ="),
        "{:?}",
        st.auth
    );
    // What was registered is Flink's derived schema.
    let registered: Json = serde_json::from_str(&st.schemas[0]).unwrap();
    let derived: Json =
        serde_json::from_str(&table_schema_json(&input.schema(), true).unwrap()).unwrap();
    assert_eq!(registered, derived);
}

/// The rows of `writer`, written with avro-confluent under `subject` of the registry at `url`,
/// as a table of `reader_cols` reads them.
fn through_registry(
    url: &str,
    writer: &RecordBatch,
    subject: &str,
    reader_cols: &str,
) -> RecordBatch {
    let f = AvroConfluentFormatFactory;
    let wc = ctx(
        writer.schema(),
        "avro-confluent",
        &[("url", url), ("subject", subject)],
    );
    let records = encode_all(&f, &wc, writer);
    assert_eq!(records.len(), writer.num_rows());
    let rc = ctx(schema(reader_cols), "avro-confluent", &[("url", url)]);
    decode_all(&f, &rc, &records)
}

#[test]
fn confluent_resolves_writer_schemas_to_the_table() {
    let reg = common::registry::FakeRegistry::start();
    let writer = rows(
        "a INT NOT NULL, extra STRING NOT NULL, m MAP<STRING, INT>",
        &[json!({"a": 7, "extra": "dropped", "m": {"k": 1}})],
    );
    // The table reads a as BIGINT (int -> long promotion), lacks 'extra', has a new nullable 's'.
    let reader_cols = "a BIGINT NOT NULL, s STRING, m MAP<STRING, BIGINT>";
    let got = through_registry(&reg.url, &writer, "evolving-value", reader_cols);
    assert_eq!(got, rows(reader_cols, &[json!({"a": 7, "m": {"k": 1}})]));
}

#[test]
fn confluent_bad_records_and_registry_errors() {
    let reg = common::registry::FakeRegistry::start();
    let c = ctx(
        schema("a INT NOT NULL"),
        "avro-confluent",
        &[("url", reg.url.as_str()), ("subject", "s-value")],
    );
    let mut d = AvroConfluentFormatFactory.create_decoder(&c).unwrap();
    let e = d.decode(&[0, 0, 0, 0, 99, 2], &origin(8)).unwrap_err();
    assert!(matches!(e, Error::BadRecord { .. }), "{e:?}");
    let m = e.to_string();
    assert!(
        m.starts_with("avro-confluent: ") && m.contains("schema id 99") && m.contains("offset 8"),
        "{m}"
    );
    // A body that does not match its writer schema.
    let id = reg.register(
        "s-value",
        &table_schema_json(&schema("a INT NOT NULL"), true).unwrap(),
    );
    let mut rec = vec![0];
    rec.extend_from_slice(&id.to_be_bytes());
    let e = d.decode(&rec, &origin(9)).unwrap_err().to_string();
    assert!(
        e.contains(&format!("schema id {id}")) && e.contains("offset 9"),
        "{e}"
    );
    rec.extend_from_slice(&[2, 2]);
    let e = d.decode(&rec, &origin(10)).unwrap_err().to_string();
    assert!(e.contains("left over"), "{e}");
    // auto.register.schemas = false: the schema must already be there.
    let other = schema("b STRING NOT NULL");
    let oc = ctx(
        other.clone(),
        "avro-confluent",
        &[
            ("url", reg.url.as_str()),
            ("subject", "manual-value"),
            ("auto.register.schemas", "false"),
        ],
    );
    let batch = rows("b STRING NOT NULL", &[json!({"b": "x"})]);
    let mut e = AvroConfluentFormatFactory.create_encoder(&oc).unwrap();
    let err = e
        .encode(&ChangelogBatch::inserts(batch.clone()), &mut |_, _| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not registered under subject 'manual-value'"),
        "{err}"
    );
    let id = reg.register("manual-value", &table_schema_json(&other, true).unwrap());
    let out = encode_all(&AvroConfluentFormatFactory, &oc, &batch);
    assert_eq!(&out[0][1..5], &id.to_be_bytes());
    assert!(reg
        .requests()
        .contains(&"POST /subjects/manual-value".to_string()));
}

#[test]
fn confluent_with_a_given_schema() {
    let reg = common::registry::FakeRegistry::start();
    let cols = "id INT NOT NULL, name STRING";
    // The user's schema: another record name and the union written the other way round.
    let given = r#"{"type":"record","name":"Order","namespace":"com.example","fields":[
        {"name":"id","type":"int"},{"name":"name","type":["string","null"]}]}"#;
    let c = ctx(
        schema(cols),
        "avro-confluent",
        &[
            ("url", reg.url.as_str()),
            ("subject", "o-value"),
            ("schema", given),
        ],
    );
    let input = rows(cols, &[json!({"id": 1, "name": "a"}), json!({"id": 2})]);
    let records = encode_all(&AvroConfluentFormatFactory, &c, &input);
    // "a": branch 0 (string) first in the given union.
    assert_eq!(&records[0][5..], &[2, 0, 2, b'a']);
    assert_eq!(decode_all(&AvroConfluentFormatFactory, &c, &records), input);
    let st = reg.state.lock().unwrap();
    assert_eq!(st.schemas, vec![given.to_string()]);
}

#[test]
fn a_bad_record_leaves_no_partial_row_behind() {
    let input = rows(LEGACY, &legacy_rows());
    let c = ctx(input.schema(), "avro", &[]);
    let records = encode_all(&AvroFormatFactory, &c, &input);
    let mut d = AvroFormatFactory.create_decoder(&c).unwrap();
    d.decode(&records[0], &origin(0)).unwrap();
    // Cut row 0 at every length: each fails (or leaves bytes over) without keeping anything.
    for cut in 1..records[0].len() {
        let e = d.decode(&records[0][..cut], &origin(1)).unwrap_err();
        assert!(matches!(e, Error::BadRecord { .. }), "cut {cut}: {e}");
        assert_eq!(d.buffered_rows(), 1, "cut {cut}");
    }
    d.decode(&records[1], &origin(2)).unwrap();
    d.decode(&records[2], &origin(3)).unwrap();
    assert_eq!(d.finish().unwrap().batch, input);
}

#[test]
fn a_null_multiset_count_is_a_record_error() {
    let w = rows(
        "ms MAP<STRING, INT>",
        &[json!({"ms": {"a": null}}), json!({"ms": {"a": 2}})],
    );
    let records = encode_all(&AvroFormatFactory, &ctx(w.schema(), "avro", &[]), &w);
    let c = ctx(schema("ms MULTISET<STRING>"), "avro", &[]);
    let mut d = AvroFormatFactory.create_decoder(&c).unwrap();
    let e = d.decode(&records[0], &origin(0)).unwrap_err().to_string();
    assert!(e.contains("field 'ms{}'") && e.contains("NOT NULL"), "{e}");
    d.decode(&records[1], &origin(1)).unwrap();
    assert_eq!(d.finish().unwrap().num_rows(), 1);
}

#[test]
fn confluent_writer_schemas_differing_only_in_logical_types_are_not_misread() {
    let reg = common::registry::FakeRegistry::start();
    // Written as timestamp-micros (TIMESTAMP_LTZ(6), modern mapping) and DECIMAL(10, 4).
    let wcols = "ts TIMESTAMP_LTZ(6) NOT NULL, d DECIMAL(10, 4) NOT NULL";
    let w = rows(
        wcols,
        &[json!({"ts": "2026-11-25 12:34:56.123456Z", "d": 1.5})],
    );
    let body = encode_all(
        &AvroFormatFactory,
        &ctx(w.schema(), "avro", &[("timestamp_mapping.legacy", "false")]),
        &w,
    );
    let id = reg.register("t-value", &table_schema_json(&w.schema(), false).unwrap());
    let mut rec = vec![0];
    rec.extend_from_slice(&id.to_be_bytes());
    rec.extend_from_slice(&body[0]);
    // Read as timestamp-millis and DECIMAL(10, 2): same Parsing Canonical Form, other meaning.
    let rcols = "ts TIMESTAMP(3) NOT NULL, d DECIMAL(10, 2) NOT NULL";
    let c = ctx(
        schema(rcols),
        "avro-confluent",
        &[("url", reg.url.as_str())],
    );
    let mut d = AvroConfluentFormatFactory.create_decoder(&c).unwrap();
    match d.decode(&rec, &origin(0)) {
        Ok(()) => {
            let got = d.finish().unwrap().batch;
            assert_eq!(
                got,
                rows(rcols, &[json!({"ts": "2026-11-25 12:34:56.123", "d": 1.5})]),
                "converted, not misread"
            );
        }
        Err(e) => {
            println!("logical-type mismatch refused: {e}");
            assert!(matches!(e, Error::BadRecord { .. }), "{e}")
        }
    }
}

#[test]
fn files_with_another_writer_schema_are_resolved_and_corruption_is_named() {
    let wcols = "a INT NOT NULL, extra STRING, m MAP<STRING, INT>";
    let w = rows(
        wcols,
        &[
            json!({"a": 1, "extra": "x", "m": {"k": 2}}),
            json!({"a": 2}),
        ],
    );
    let wc = ctx(w.schema(), "avro", &[("codec", "deflate")]);
    let mut fw = AvroFileWriter::new(
        Vec::new(),
        &w.schema(),
        &AvroConfig::from_context(&wc).unwrap(),
        "w",
    )
    .unwrap();
    fw.write(&w).unwrap();
    let bytes = fw.finish().unwrap();
    let rcols = "a BIGINT NOT NULL, s STRING, m MAP<STRING, BIGINT>";
    let rs = schema(rcols);
    let config = AvroConfig::from_context(&ctx(rs.clone(), "avro", &[])).unwrap();
    let (got, _) = read_bytes(&bytes, &rs, &config, "w.avro", 100).unwrap();
    assert_eq!(
        got,
        vec![rows(
            rcols,
            &[json!({"a": 1, "m": {"k": 2}}), json!({"a": 2})]
        )]
    );
    // A damaged sync marker and a file cut short name the file.
    let wconfig = AvroConfig::from_context(&wc).unwrap();
    let mut damaged = bytes.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    let e = read_bytes(&damaged, &w.schema(), &wconfig, "w.avro", 100)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("file 'w.avro'") && e.contains("sync marker"),
        "{e}"
    );
    let e = read_bytes(
        &bytes[..bytes.len() - 20],
        &w.schema(),
        &wconfig,
        "w.avro",
        100,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("file 'w.avro'"), "{e}");
}

#[test]
fn a_block_declaring_an_absurd_size_is_an_error_naming_it() {
    let input = rows("a INT NOT NULL", &[json!({"a": 1}), json!({"a": 2})]);
    let config = AvroConfig::from_context(&ctx(input.schema(), "avro", &[])).unwrap();
    let mut w = AvroFileWriter::new(Vec::new(), &input.schema(), &config, "w").unwrap();
    w.write(&input).unwrap();
    let bytes = w.finish().unwrap();
    // The only block starts after the header's sync marker (the file's last 16 bytes): its
    // record count (2, one byte) and its size (one byte), replaced by 2^31 (five bytes).
    let sync = &bytes[bytes.len() - 16..];
    let block = (0..bytes.len())
        .find(|i| &bytes[*i..*i + 16] == sync)
        .unwrap()
        + 16;
    let mut damaged = bytes[..block + 1].to_vec();
    damaged.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x10]);
    damaged.extend_from_slice(&bytes[block + 2..]);
    let e = read_bytes(&damaged, &input.schema(), &config, "big.avro", 10)
        .unwrap_err()
        .to_string();
    for needle in [
        "file 'big.avro'",
        "declares 2147483648 bytes, more than the 2147483647 Avro readers accept",
        &format!("in the block at byte {block}"),
    ] {
        assert!(e.contains(needle), "no {needle:?} in: {e}");
    }
}

#[test]
fn files_whose_schema_is_the_bare_record_are_read_too() {
    // Headrace and Flink write ["null", record]; other writers (apache-avro here) the record.
    let input = rows(LEGACY, &legacy_rows());
    let text = table_schema_json(&input.schema(), true).unwrap();
    let record = apache_avro::Schema::parse_str(&text).unwrap();
    let datums = encode_all(
        &AvroFormatFactory,
        &ctx(input.schema(), "avro", &[]),
        &input,
    );
    let mut w = apache_avro::Writer::new(&record, Vec::new());
    for d in &datums {
        w.append(apache_avro::from_avro_datum(&record, &mut &d[..], None).unwrap())
            .unwrap();
    }
    let bytes = w.into_inner().unwrap();
    let config = AvroConfig::from_context(&ctx(input.schema(), "avro", &[])).unwrap();
    let (got, _) = read_bytes(&bytes, &input.schema(), &config, "bare.avro", 100).unwrap();
    assert_eq!(got.len(), 1);
    // apache-avro writes map entries in hash order: compare the columns without multi-entry maps.
    let keep: Vec<usize> = (0..input.num_columns())
        .filter(|i| !matches!(input.schema().field(*i).name().as_str(), "m" | "ms"))
        .collect();
    assert_eq!(
        got[0].project(&keep).unwrap(),
        input.project(&keep).unwrap()
    );
}

#[test]
fn random_and_mutated_records_never_panic() {
    let input = rows(LEGACY, &legacy_rows());
    let c = ctx(input.schema(), "avro", &[]);
    let records = encode_all(&AvroFormatFactory, &c, &input);
    let mut d = AvroFormatFactory.create_decoder(&c).unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut ok = 0;
    for i in 0..20_000 {
        let mut r = records[i % records.len()].clone();
        match i % 3 {
            // Flip a few bytes.
            0 => {
                for _ in 0..1 + next() % 3 {
                    let j = (next() as usize) % r.len();
                    r[j] ^= (next() % 255 + 1) as u8;
                }
            }
            // Random bytes.
            1 => {
                let n = (next() % 64) as usize;
                r = (0..n).map(|_| next() as u8).collect();
            }
            // Insert or drop a byte.
            _ => {
                let j = (next() as usize) % r.len();
                if next() % 2 == 0 {
                    r.remove(j);
                } else {
                    r.insert(j, next() as u8);
                }
            }
        }
        match d.decode(&r, &origin(i as i64)) {
            Ok(()) => ok += 1,
            Err(e) => assert!(matches!(e, Error::BadRecord { .. }), "{e:?}"),
        }
        if d.buffered_rows() >= 1000 {
            // Whatever was accepted must still build a valid batch.
            d.finish().unwrap();
        }
    }
    let last = d.finish().unwrap();
    assert!(last.num_rows() <= ok);
}

#[test]
fn confluent_resolution_with_decimals() {
    let reg = common::registry::FakeRegistry::start();
    let wcols = "d DECIMAL(10, 3), extra INT";
    let w = rows(
        wcols,
        &[json!({"d": 1234567.891, "extra": 1}), json!({"d": -0.001})],
    );
    let rcols = "d DECIMAL(10, 3)";
    assert_eq!(
        through_registry(&reg.url, &w, "dec-value", rcols),
        rows(rcols, &[json!({"d": 1234567.891}), json!({"d": -0.001})])
    );
}

#[test]
fn confluent_credentials_from_every_option_form() {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("bearer-auth.token", "tok")], "Bearer tok"),
        (
            &[
                ("bearer-auth.credentials-source", "STATIC_TOKEN"),
                ("bearer-auth.token", "t2"),
            ],
            "Bearer t2",
        ),
        (&[("properties.basic.auth.user.info", "a:b")], "Basic YTpi"),
        (&[("basic-auth.credentials-source", "URL")], "Basic dTpw"),
    ];
    for (opts, header) in cases {
        let reg = common::registry::FakeRegistry::start();
        let id = reg.register(
            "x-value",
            &table_schema_json(&schema("a INT NOT NULL"), true).unwrap(),
        );
        let url = if opts.iter().any(|(_, v)| *v == "URL") {
            reg.url.replace("http://", "http://u:p@")
        } else {
            reg.url.clone()
        };
        let mut all = vec![("url", url.as_str())];
        all.extend_from_slice(opts);
        let c = ctx(schema("a INT NOT NULL"), "avro-confluent", &all);
        let mut d = AvroConfluentFormatFactory.create_decoder(&c).unwrap();
        let mut rec = vec![0];
        rec.extend_from_slice(&id.to_be_bytes());
        rec.push(2);
        d.decode(&rec, &origin(0)).unwrap();
        assert_eq!(
            reg.state.lock().unwrap().auth,
            vec![header.to_string()],
            "{opts:?}"
        );
    }
}

#[test]
fn confluent_decoder_uses_a_seeded_writer_schema_without_the_registry() {
    use headrace_format_avro::confluent::ConfluentConfig;
    use headrace_format_avro::ConfluentDecoder;
    use headrace_sdk::error::RecordOrigin;
    use headrace_sdk::format::Decoder;
    use headrace_sdk::options::{Options, RawOptions};

    let schema = TableSchema::parse_columns("id BIGINT, s STRING")
        .unwrap()
        .physical_arrow_schema();
    let mut raw = RawOptions::new();
    // Nothing listens there: a record with another id fails to fetch its schema.
    raw.insert("url".into(), "http://127.0.0.1:9".into());
    let config = ConfluentConfig::from_options(&Options::new("t", raw)).unwrap();
    let writer = apache_avro::Schema::parse_str(
        r#"{"type": "record", "name": "w", "fields": [{"name": "id", "type": "int"}]}"#,
    )
    .unwrap();
    let mut d = ConfluentDecoder::new(schema, &config)
        .unwrap()
        .with_writer_schema(7, writer);
    // Magic byte, id 7, then the int 5 (zigzag 0x0a): promoted to BIGINT, s missing is NULL.
    d.decode(&[0, 0, 0, 0, 7, 0x0a], &RecordOrigin::Unknown)
        .unwrap();
    assert!(d
        .decode(&[0, 0, 0, 0, 8, 0x0a], &RecordOrigin::Unknown)
        .is_err());
    let batch = d.finish().unwrap().batch;
    assert_eq!(batch.num_rows(), 1);
    let id = batch
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap();
    assert_eq!(id.value(0), 5);
    assert!(batch.column(1).is_null(0));
}

#[test]
fn a_schema_with_an_invalid_name_is_an_error_not_a_panic() {
    use headrace_format_avro::schema::parse_schema;
    // apache-avro 0.21 panics on such a name (found by fuzz/ target avro_file).
    let bad = r#"{"type": "record", "name": "a.rec\u00e9rd", "fields": [
        {"name": "x", "type": {"type": "record", "name": "1x", "fields": []}}]}"#;
    let err = parse_schema(bad).unwrap_err();
    assert!(err.contains("invalid schema name"), "{err}");
    let nested = r#"{"type": "record", "name": "ok", "fields": [
        {"name": "x", "type": {"type": "fixed", "name": "bad-name", "size": 2}}]}"#;
    assert!(parse_schema(nested).unwrap_err().contains("bad-name"));
    let good =
        r#"{"type": "record", "name": "org.x._R1", "fields": [{"name": "a", "type": "int"}]}"#;
    assert!(parse_schema(good).is_ok());
}

/// Found by fuzz target avro_confluent (reproducer in fuzz/corpus/avro_confluent/regression-*):
/// a record of an evolved writer schema whose `extra` array announces 67,108,864 items in a few
/// bytes. apache-avro 0.21 reserved room for them before reading any (gigabytes, and an abort
/// when the allocation failed); counts are now checked against the bytes left first.
#[test]
fn an_array_block_count_beyond_the_record_is_an_error_not_an_abort() {
    use headrace_format_avro::confluent::ConfluentConfig;
    use headrace_format_avro::ConfluentDecoder;
    use headrace_sdk::error::RecordOrigin;
    use headrace_sdk::format::Decoder;
    use headrace_sdk::options::{Options, RawOptions};

    // The fuzz target's writer schema 2 and table (fuzz/fuzz_targets/avro_confluent.rs).
    let evolved = apache_avro::Schema::parse_str(
        r#"{"type": "record", "name": "org.apache.flink.avro.generated.record",
          "fields": [
            {"name": "l", "type": ["null", "int"], "default": null},
            {"name": "i", "type": ["null", "long"], "default": null},
            {"name": "s", "type": ["null", "string"], "default": null},
            {"name": "extra", "type": {"type": "array", "items": "string"}},
            {"name": "f", "type": ["null", "int"], "default": null},
            {"name": "d", "type": ["null", "float"], "default": null},
            {"name": "bin", "type": ["null", "string"], "default": null},
            {"name": "dec", "type": ["null", {"type": "bytes", "logicalType": "decimal",
              "precision": 10, "scale": 3}], "default": null},
            {"name": "m", "type": ["null", {"type": "map", "values": "float"}], "default": null},
            {"name": "nn", "type": "int"}
          ]}"#,
    )
    .unwrap();
    let columns = "b BOOLEAN, ti TINYINT, si SMALLINT, i INT, l BIGINT, f FLOAT, \
        d DOUBLE, dec DECIMAL(10, 2), bigdec DECIMAL(38, 18), s STRING, vc VARCHAR(10), \
        c CHAR(3), bin BYTES, vb VARBINARY(4), dt DATE, t TIME(3), ts TIMESTAMP(3), \
        arr ARRAY<ROW<x INT, y ARRAY<STRING>>>, m MAP<STRING, DOUBLE>, ms MULTISET<STRING>, \
        r ROW<x INT, y BOOLEAN, z ROW<w DECIMAL(5, 1)>>, nn BIGINT NOT NULL";
    let schema = TableSchema::parse_columns(columns)
        .unwrap()
        .physical_arrow_schema();
    let mut raw = RawOptions::new();
    raw.insert("url".into(), "http://127.0.0.1:9".into());
    let config = ConfluentConfig::from_options(&Options::new("t", raw)).unwrap();
    let mut d = ConfluentDecoder::new(schema, &config)
        .unwrap()
        .with_writer_schema(2, evolved);
    // The reproducer's first byte (6) makes the target frame the rest with magic byte and id 2.
    let input: &[u8] = &[
        0x06, 0x02, 0x07, 0x02, 0x06, 0x02, 0x08, 0x61, 0x6c, 0x69, 0x61, 0xff, 0xff, 0xff, 0x3f,
        0x02, 0xff, 0x73, 0xff,
    ];
    let mut record = vec![0u8, 0, 0, 0, 2];
    record.extend_from_slice(&input[1..]);
    let origin = RecordOrigin::Log {
        topic: "t".into(),
        partition: 0,
        offset: 9,
    };
    let err = d.decode(&record, &origin).unwrap_err().to_string();
    assert!(
        err.contains("announces 67108864 items") && err.contains("offset 9"),
        "{err}"
    );
    assert_eq!(d.buffered_rows(), 0);
}

#[test]
fn confluent_asks_again_when_the_registry_answers_5xx() {
    use headrace_sdk::error::Retry;
    let reg = common::registry::FakeRegistry::start();
    let input = rows("a INT NOT NULL", &[json!({"a": 1})]);
    let c = ctx(
        input.schema(),
        "avro-confluent",
        &[("url", reg.url.as_str()), ("subject", "busy-value")],
    );
    // Two transient refusals: the third registration attempt gets the id.
    reg.state.lock().unwrap().fail_next = 2;
    let records = encode_all(&AvroConfluentFormatFactory, &c, &input);
    assert_eq!(&records[0][..5], &[0, 0, 0, 0, 1]);
    assert_eq!(
        reg.requests(),
        vec!["POST /subjects/busy-value/versions".to_string(); 3],
        "asked again after each HTTP 500"
    );
    // A registry that keeps failing: the error names the status and may be retried later.
    reg.state.lock().unwrap().fail_next = 100;
    let other = rows("b INT NOT NULL", &[json!({"b": 1})]);
    let oc = ctx(
        other.schema(),
        "avro-confluent",
        &[("url", reg.url.as_str()), ("subject", "down-value")],
    );
    let mut e = AvroConfluentFormatFactory.create_encoder(&oc).unwrap();
    let err = e
        .encode(&ChangelogBatch::inserts(other), &mut |_, _| Ok(()))
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    assert_eq!(err.retry(), Retry::Backoff, "{err:?}");
    assert_eq!(
        reg.state.lock().unwrap().fail_next,
        96,
        "one request and three retries"
    );
}
