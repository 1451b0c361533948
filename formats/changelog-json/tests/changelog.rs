//! Behaviour of the three changelog formats through the SDK's format traits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, TimestampMillisecondType};
use common::ctx;
use headrace_format_changelog_json::{
    CanalJsonFormatFactory, DebeziumJsonFormatFactory, MaxwellJsonFormatFactory,
};
use headrace_sdk::changelog::{ChangelogBatch, RowKind};
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::{Decoder, FormatContext, FormatFactory};
use headrace_sdk::row::Value;

const COLS: &str = "id BIGINT, name STRING, weight DECIMAL(10, 2)";

fn origin(offset: i64) -> RecordOrigin {
    RecordOrigin::Log {
        topic: "cdc".into(),
        partition: 0,
        offset,
    }
}

fn decode_with(d: &mut Box<dyn Decoder>, records: &[&str]) -> ChangelogBatch {
    for (i, r) in records.iter().enumerate() {
        d.decode(r.as_bytes(), &origin(i as i64)).unwrap();
    }
    d.finish().unwrap()
}

/// The error of a record that must not decode; nothing of it may be left behind.
fn decode_err(d: &mut Box<dyn Decoder>, rec: &[u8], origin: &RecordOrigin) -> String {
    let before = d.buffered_rows();
    let e = d.decode(rec, origin).unwrap_err().to_string();
    assert_eq!(d.buffered_rows(), before, "{e}");
    e
}

/// The error of a decoder or encoder that must not be made.
fn refusal<T>(made: headrace_sdk::Result<T>) -> String {
    match made {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

/// A decoder with the metadata columns `keys`.
fn with_metadata(f: &dyn FormatFactory, c: &FormatContext, keys: &[&str]) -> Box<dyn Decoder> {
    f.create_decoder_with_metadata(c, &strings(keys)).unwrap()
}

/// Rows as `+I[1, scooter, 5.18]` strings, the way Flink prints a changelog.
fn show(b: &ChangelogBatch) -> Vec<String> {
    (0..b.num_rows())
        .map(|i| {
            let vals: Vec<String> = b
                .batch
                .columns()
                .iter()
                .map(|c| cell(c.as_ref(), i))
                .collect();
            format!("{}[{}]", b.kind(i), vals.join(", "))
        })
        .collect()
}

fn cell(c: &dyn Array, i: usize) -> String {
    if c.is_null(i) {
        return "null".into();
    }
    arrow::util::display::ArrayFormatter::try_new(c, &Default::default())
        .unwrap()
        .value(i)
        .to_string()
}

fn encode(f: &dyn FormatFactory, c: &FormatContext, b: &ChangelogBatch) -> Vec<String> {
    let mut e = f.create_encoder(c).unwrap();
    let mut out = Vec::new();
    e.encode(b, &mut |_, bytes| {
        out.push(String::from_utf8(bytes.to_vec()).unwrap());
        Ok(())
    })
    .unwrap();
    out
}

const DBZ: &[&str] = &[
    r#"{"before":null,"after":{"id":1,"name":"scooter","weight":5.18},"source":{"db":"inventory","schema":"public","table":"products","ts_ms":1589361987000,"snapshot":"true"},"op":"r","ts_ms":1589362330904}"#,
    r#"{"before":null,"after":{"id":2,"name":"car battery","weight":8.1},"source":{"db":"inventory","table":"products","ts_ms":1589361987001},"op":"c","ts_ms":1589362330905}"#,
    r#"{"before":{"id":1,"name":"scooter","weight":5.18},"after":{"id":1,"name":"scooter","weight":5.15},"source":{"db":"inventory","table":"products"},"op":"u","ts_ms":1589362330906}"#,
    "",
    r#"{"before":{"id":2,"name":"car battery","weight":8.1},"after":null,"source":{"db":"inventory","table":"products"},"op":"d","ts_ms":1589362330907}"#,
];

const DBZ_ROWS: &[&str] = &[
    "+I[1, scooter, 5.18]",
    "+I[2, car battery, 8.10]",
    "-U[1, scooter, 5.18]",
    "+U[1, scooter, 5.15]",
    "-D[2, car battery, 8.10]",
];

#[test]
fn debezium_ops_and_tombstones() {
    let c = ctx("debezium-json", COLS, &[]);
    let mut d = DebeziumJsonFormatFactory.create_decoder(&c).unwrap();
    let b = decode_with(&mut d, DBZ);
    assert_eq!(show(&b), DBZ_ROWS);
    assert_eq!(d.skipped_records(), 0);
    assert_eq!(
        DebeziumJsonFormatFactory.changelog_mode(),
        headrace_sdk::changelog::ChangelogMode::All
    );
}

#[test]
fn debezium_schema_include() {
    let with_schema: Vec<String> = DBZ
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| format!(r#"{{"schema":{{"type":"struct","optional":false,"name":"dbserver1.inventory.products.Envelope"}},"payload":{r}}}"#))
        .collect();
    let recs: Vec<&str> = with_schema.iter().map(String::as_str).collect();
    let c = ctx("debezium-json", COLS, &[("schema-include", "true")]);
    let mut d = with_metadata(&DebeziumJsonFormatFactory, &c, &["schema", "source.table"]);
    let b = decode_with(&mut d, &recs);
    assert_eq!(b.num_rows(), 5);
    let schema_col = b.batch.column(3).as_string::<i32>();
    assert!(schema_col
        .value(0)
        .contains("\"name\":\"dbserver1.inventory.products.Envelope\""));
    assert_eq!(b.batch.column(4).as_string::<i32>().value(4), "products");

    // The wrong setting in either direction names the option.
    let c_off = ctx("debezium-json", COLS, &[]);
    let mut d = DebeziumJsonFormatFactory.create_decoder(&c_off).unwrap();
    let e = decode_err(&mut d, recs[0].as_bytes(), &origin(7));
    assert!(e.contains("'debezium-json.schema-include' = 'true'"), "{e}");
    assert!(e.contains("debezium-json") && e.contains("offset 7"), "{e}");
    let mut d = DebeziumJsonFormatFactory.create_decoder(&c).unwrap();
    let e = decode_err(&mut d, DBZ[0].as_bytes(), &origin(8));
    assert!(e.contains("field 'payload'"), "{e}");
}

#[test]
fn debezium_metadata_columns() {
    let c = ctx("debezium-json", COLS, &[]);
    let keys = [
        "source.table",
        "ingestion-timestamp",
        "source.timestamp",
        "source.database",
        "source.schema",
        "source.properties",
        "schema",
    ];
    let mut d = with_metadata(&DebeziumJsonFormatFactory, &c, &keys);
    let b = decode_with(&mut d, DBZ);
    let schema = b.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    // The physical columns, then one column per key, named after it.
    assert_eq!(names[..3], ["id", "name", "weight"]);
    assert_eq!(names[3..], keys);
    let table = b.batch.column(3).as_string::<i32>();
    assert!((0..5).all(|i| table.value(i) == "products"));
    let ingest = b.batch.column(4).as_primitive::<TimestampMillisecondType>();
    // -U and +U of one update share the message's metadata.
    assert_eq!(ingest.value(0), 1589362330904);
    assert_eq!(ingest.value(2), 1589362330906);
    assert_eq!(ingest.value(3), 1589362330906);
    let src_ts = b.batch.column(5).as_primitive::<TimestampMillisecondType>();
    assert_eq!(src_ts.value(0), 1589361987000);
    assert!(src_ts.is_null(2));
    assert_eq!(b.batch.column(6).as_string::<i32>().value(0), "inventory");
    assert_eq!(b.batch.column(7).as_string::<i32>().value(0), "public");
    assert!(b.batch.column(7).is_null(1));
    let props = b.batch.column(8).as_map();
    let entries = props.value(0);
    let keys = entries.column(0).as_string::<i32>();
    let vals = entries.column(1).as_string::<i32>();
    let snapshot = (0..keys.len())
        .find(|i| keys.value(*i) == "snapshot")
        .unwrap();
    assert_eq!(vals.value(snapshot), "true");
    let ts = (0..keys.len()).find(|i| keys.value(*i) == "ts_ms").unwrap();
    assert_eq!(vals.value(ts), "1589361987000");
    assert!(b.batch.column(9).is_null(0));

    // Unknown and repeated keys are refused.
    let e = refusal(
        DebeziumJsonFormatFactory.create_decoder_with_metadata(&c, &["source.tabel".into()]),
    );
    assert!(e.contains("Did you mean 'source.table'?"), "{e}");
    let e = refusal(
        DebeziumJsonFormatFactory
            .create_decoder_with_metadata(&c, &["schema".into(), "schema".into()]),
    );
    assert!(e.contains("twice"), "{e}");
}

#[test]
fn debezium_bad_records_name_field_origin_and_option() {
    let c = ctx("debezium-json", COLS, &[]);
    let bad = [
        (
            r#"{"before":null,"after":{"id":"x1"},"op":"c"}"#,
            "after.id",
        ),
        (
            r#"{"before":null,"after":{"id":1},"op":"t"}"#,
            "unknown value \"t\"",
        ),
        (
            r#"{"before":null,"after":{"id":1,"name":"a","weight":1},"op":"u"}"#,
            "REPLICA IDENTITY",
        ),
        (r#"{"before":null,"after":null,"op":"c"}"#, "field 'after'"),
        (r#"{"after":[{"id":1}],"op":"c"}"#, "expected a JSON object"),
        (r#"[1,2]"#, "not a Debezium JSON object"),
        ("{\"op\":", "not a Debezium JSON object"),
        (r#"{"before":null,"after":{"id":1},"op":42}"#, "field 'op'"),
        (
            r#"{"before":{"id":1},"after":{"weight":"heavy"},"op":"u"}"#,
            "after.weight",
        ),
    ];
    for (rec, want) in bad {
        let mut d = DebeziumJsonFormatFactory.create_decoder(&c).unwrap();
        let e = decode_err(&mut d, rec.as_bytes(), &origin(41));
        assert!(e.contains(want), "{rec}: {e}");
        assert!(
            e.contains("debezium-json") && e.contains("topic 'cdc' partition 0 offset 41"),
            "{e}"
        );
        assert!(e.contains("ignore-parse-errors"), "{e}");
        // Nothing half-decoded is left behind.
        assert_eq!(d.buffered_rows(), 0, "{rec}");
    }

    // With ignore-parse-errors, as in Flink: values that do not fit read as NULL (rows kept),
    // records that cannot be read are skipped and counted.
    let c = ctx("debezium-json", COLS, &[("ignore-parse-errors", "true")]);
    let mut d = with_metadata(&DebeziumJsonFormatFactory, &c, &["source.table"]);
    let mut recs: Vec<&str> = bad.iter().map(|(r, _)| *r).collect();
    recs.insert(3, DBZ[2]);
    let b = decode_with(&mut d, &recs);
    assert_eq!(
        show(&b),
        [
            "+I[null, null, null, null]",
            "-U[1, scooter, 5.18, products]",
            "+U[1, scooter, 5.15, products]",
            "-U[1, null, null, null]",
            "+U[null, null, null, null]",
        ]
    );
    assert_eq!(d.skipped_records(), bad.len() as u64 - 2);

    // A NOT NULL column cannot take the NULL: the record is skipped.
    let c = ctx(
        "debezium-json",
        "id BIGINT NOT NULL, name STRING",
        &[("ignore-parse-errors", "true")],
    );
    let mut d = DebeziumJsonFormatFactory.create_decoder(&c).unwrap();
    let b = decode_with(
        &mut d,
        &[
            r#"{"after":{"id":"x","name":"a"},"op":"c"}"#,
            r#"{"after":{"id":2,"name":{"nested":[1,2]}},"op":"c"}"#,
        ],
    );
    assert_eq!(show(&b), [r#"+I[2, {"nested":[1,2]}]"#]);
    assert_eq!(d.skipped_records(), 1);
}

#[test]
fn debezium_round_trip_and_encoder_envelope() {
    let c = ctx("debezium-json", COLS, &[]);
    let mut d = DebeziumJsonFormatFactory.create_decoder(&c).unwrap();
    let b = decode_with(&mut d, DBZ);
    let out = encode(&DebeziumJsonFormatFactory, &c, &b);
    assert_eq!(
        out,
        [
            r#"{"before":null,"after":{"id":1,"name":"scooter","weight":5.18},"op":"c"}"#,
            r#"{"before":null,"after":{"id":2,"name":"car battery","weight":8.10},"op":"c"}"#,
            r#"{"before":{"id":1,"name":"scooter","weight":5.18},"after":null,"op":"d"}"#,
            r#"{"before":null,"after":{"id":1,"name":"scooter","weight":5.15},"op":"c"}"#,
            r#"{"before":{"id":2,"name":"car battery","weight":8.10},"after":null,"op":"d"}"#,
        ]
    );
    // Reading the encoded records gives the rows back, with update pairs as -D/+I (as in Flink).
    let recs: Vec<&str> = out.iter().map(String::as_str).collect();
    let mut d = DebeziumJsonFormatFactory.create_decoder(&c).unwrap();
    let back = decode_with(&mut d, &recs);
    assert_eq!(
        show(&back),
        [
            "+I[1, scooter, 5.18]",
            "+I[2, car battery, 8.10]",
            "-D[1, scooter, 5.18]",
            "+I[1, scooter, 5.15]",
            "-D[2, car battery, 8.10]",
        ]
    );

    let c = ctx(
        "debezium-json",
        COLS,
        &[("encode.ignore-null-fields", "true")],
    );
    let out = encode(&DebeziumJsonFormatFactory, &c, &b.slice(0, 1));
    assert_eq!(
        out,
        [r#"{"after":{"id":1,"name":"scooter","weight":5.18},"op":"c"}"#]
    );

    let c = ctx("debezium-json", COLS, &[("schema-include", "true")]);
    let e = refusal(DebeziumJsonFormatFactory.create_encoder(&c));
    assert!(e.contains("schema-include"), "{e}");
}

const CANAL: &[&str] = &[
    r#"{"data":[{"id":"101","name":"scooter","weight":"3.14"},{"id":"102","name":"car battery","weight":"8.1"}],"database":"inventory","es":1589373515000,"id":3,"isDdl":false,"mysqlType":{"id":"int(11)","name":"varchar(255)","weight":"decimal(10,2)"},"old":null,"pkNames":["id"],"sql":"","sqlType":{"id":4,"name":12,"weight":3},"table":"products","ts":1589373515477,"type":"INSERT"}"#,
    r#"{"data":[{"id":"101","name":"scooter","weight":"5.15"},{"id":"102","name":"car battery","weight":"8.2"}],"database":"inventory","es":1589373560000,"isDdl":false,"old":[{"weight":"3.14"},{"weight":null,"name":"battery"}],"pkNames":["id"],"table":"products","ts":1589373560798,"type":"UPDATE"}"#,
    r#"{"data":null,"database":"inventory","es":1589373560000,"isDdl":true,"sql":"CREATE TABLE products2 (id INT)","table":"products2","ts":1589373560799,"type":"CREATE"}"#,
    r#"{"data":[{"id":"111","name":"scooter","weight":"5.17"}],"database":"inventory","es":1589373560000,"old":null,"pkNames":["id"],"table":"products","ts":1589373560800,"type":"DELETE"}"#,
    r#"{"data":[{"id":"1","name":"other","weight":"1"}],"database":"shop","table":"orders","type":"INSERT"}"#,
];

#[test]
fn canal_batches_old_values_and_ddl() {
    let c = ctx("canal-json", COLS, &[]);
    let mut d = CanalJsonFormatFactory.create_decoder(&c).unwrap();
    let b = decode_with(&mut d, CANAL);
    assert_eq!(
        show(&b),
        [
            "+I[101, scooter, 3.14]",
            "+I[102, car battery, 8.10]",
            // As in Flink, a field named anywhere in 'old' (here 'name', in old[1]) counts as
            // changed: where an entry lacks it, it is null rather than copied from 'data'.
            "-U[101, null, 3.14]",
            "+U[101, scooter, 5.15]",
            // 'weight' explicitly null in 'old' stays null.
            "-U[102, battery, null]",
            "+U[102, car battery, 8.20]",
            "-D[111, scooter, 5.17]",
            "+I[1, other, 1.00]",
        ]
    );
}

#[test]
fn canal_filters_and_metadata() {
    let c = ctx(
        "canal-json",
        COLS,
        &[
            ("database.include", "inv.*"),
            ("table.include", "products|customers"),
        ],
    );
    let mut d = with_metadata(
        &CanalJsonFormatFactory,
        &c,
        &[
            "database",
            "table",
            "sql-type",
            "pk-names",
            "ingestion-timestamp",
            "event-timestamp",
        ],
    );
    let b = decode_with(&mut d, CANAL);
    assert_eq!(b.num_rows(), 7, "{:?}", show(&b));
    assert!(show(&b).iter().all(|r| !r.contains("other")));
    assert_eq!(b.batch.column(3).as_string::<i32>().value(0), "inventory");
    assert_eq!(b.batch.column(4).as_string::<i32>().value(6), "products");
    let sql_type = b.batch.column(5).as_map();
    assert_eq!(sql_type.value(0).len(), 3);
    assert!(b.batch.column(5).is_null(2));
    let pk = b.batch.column(6).as_list::<i32>();
    assert_eq!(pk.value(0).as_string::<i32>().value(0), "id");
    let ts = b.batch.column(7).as_primitive::<TimestampMillisecondType>();
    assert_eq!(ts.value(0), 1589373515477);
    assert_eq!(ts.value(1), 1589373515477);
    let es = b.batch.column(8).as_primitive::<TimestampMillisecondType>();
    assert_eq!(es.value(6), 1589373560000);

    // A filter that is not a regular expression names the option.
    let bad = ctx("canal-json", COLS, &[("table.include", "(")]);
    let e = refusal(CanalJsonFormatFactory.create_decoder(&bad));
    assert!(
        e.contains("table.include") && e.contains("regular expression"),
        "{e}"
    );
}

#[test]
fn canal_bad_records_and_round_trip() {
    let c = ctx("canal-json", COLS, &[]);
    let bad = [
        (
            r#"{"data":[{"id":"1"},{"id":"x"}],"type":"INSERT"}"#,
            "data[1].id",
        ),
        (r#"{"data":[{"id":"1"}],"type":"UPDATE"}"#, "field 'old'"),
        (
            r#"{"data":[{"id":"1"},{"id":"2"}],"old":[{}],"type":"UPDATE"}"#,
            "'old' has 1 entries",
        ),
        (r#"{"data":{"id":"1"},"type":"INSERT"}"#, "field 'data'"),
        (
            r#"{"data":[{"id":"1"}],"type":"TRUNCATE"}"#,
            "unknown value \"TRUNCATE\"",
        ),
        (r#"{"data":[{"id":"1"}]}"#, "field 'type'"),
        ("\u{0}\u{1}", "not a Canal JSON object"),
    ];
    for (rec, want) in bad {
        let mut d = CanalJsonFormatFactory.create_decoder(&c).unwrap();
        let e = decode_err(
            &mut d,
            rec.as_bytes(),
            &RecordOrigin::File {
                path: "/x/cdc.json".into(),
                line: 3,
            },
        );
        assert!(
            e.contains(want) && e.contains("canal-json") && e.contains("file '/x/cdc.json' line 3"),
            "{rec}: {e}"
        );
        assert_eq!(d.buffered_rows(), 0);
    }

    let mut d = CanalJsonFormatFactory.create_decoder(&c).unwrap();
    let b = decode_with(&mut d, &CANAL[..2]);
    let out = encode(&CanalJsonFormatFactory, &c, &b);
    assert_eq!(
        out[0],
        r#"{"data":[{"id":101,"name":"scooter","weight":3.14}],"type":"INSERT"}"#
    );
    assert_eq!(
        out[2],
        r#"{"data":[{"id":101,"name":null,"weight":3.14}],"type":"DELETE"}"#
    );
    let recs: Vec<&str> = out.iter().map(String::as_str).collect();
    let mut d = CanalJsonFormatFactory.create_decoder(&c).unwrap();
    let back = decode_with(&mut d, &recs);
    let kinds: Vec<RowKind> = (0..back.num_rows()).map(|i| back.kind(i)).collect();
    assert_eq!(
        kinds,
        [
            RowKind::Insert,
            RowKind::Insert,
            RowKind::Delete,
            RowKind::Insert,
            RowKind::Delete,
            RowKind::Insert
        ]
    );
    assert_eq!(value_rows(&back.batch), value_rows(&b.batch));
}

fn value_rows(b: &RecordBatch) -> Vec<Vec<Value>> {
    headrace_sdk::row::rows(&ChangelogBatch::inserts(b.clone()))
        .unwrap()
        .into_iter()
        .map(|r| r.values)
        .collect()
}

const MAXWELL: &[&str] = &[
    r#"{"database":"test","table":"product","type":"insert","ts":1596684883,"xid":7125,"xoffset":0,"data":{"id":111,"name":"scooter","weight":5.18},"primary_key_columns":["id"]}"#,
    r#"{"database":"test","table":"product","type":"update","ts":1596684904,"xid":7152,"commit":true,"data":{"id":111,"name":"scooter","weight":5.15},"old":{"weight":5.18},"primary_key_columns":["id"]}"#,
    r#"{"database":"test","table":"product","type":"delete","ts":1596684914,"xid":7171,"commit":true,"data":{"id":111,"name":"scooter","weight":5.15},"primary_key_columns":["id"]}"#,
];

#[test]
fn maxwell_types_metadata_errors_and_round_trip() {
    let c = ctx("maxwell-json", COLS, &[]);
    let keys = [
        "ingestion-timestamp",
        "database",
        "table",
        "primary-key-columns",
    ];
    let mut d = with_metadata(&MaxwellJsonFormatFactory, &c, &keys);
    let b = decode_with(&mut d, MAXWELL);
    let shown: Vec<String> = show(&b);
    assert_eq!(
        shown[0],
        "+I[111, scooter, 5.18, 2020-08-06T03:34:43, test, product, [id]]"
    );
    assert_eq!(
        &shown[1..],
        [
            "-U[111, scooter, 5.18, 2020-08-06T03:35:04, test, product, [id]]",
            "+U[111, scooter, 5.15, 2020-08-06T03:35:04, test, product, [id]]",
            "-D[111, scooter, 5.15, 2020-08-06T03:35:14, test, product, [id]]",
        ]
    );
    // 'ts' is seconds: the column holds milliseconds.
    assert_eq!(
        b.batch
            .column(3)
            .as_primitive::<TimestampMillisecondType>()
            .value(0),
        1596684883000
    );

    let bad = [
        (r#"{"type":"update","data":{"id":1}}"#, "field 'old'"),
        (
            r#"{"type":"bootstrap-insert","data":{"id":1}}"#,
            "unknown value \"bootstrap-insert\"",
        ),
        (r#"{"type":"insert","data":{"id":1.5}}"#, "data.id"),
        (
            r#"{"type":"insert","data":{"id":1},"ts":"soon"}"#,
            "field 'ts'",
        ),
    ];
    for (rec, want) in bad {
        let mut d = with_metadata(&MaxwellJsonFormatFactory, &c, &keys);
        let e = decode_err(&mut d, rec.as_bytes(), &origin(5));
        assert!(e.contains(want) && e.contains("maxwell-json"), "{rec}: {e}");
        assert_eq!(d.buffered_rows(), 0);
    }

    let mut d = MaxwellJsonFormatFactory.create_decoder(&c).unwrap();
    let b = decode_with(&mut d, MAXWELL);
    let out = encode(&MaxwellJsonFormatFactory, &c, &b);
    assert_eq!(
        out,
        [
            r#"{"data":{"id":111,"name":"scooter","weight":5.18},"type":"insert"}"#,
            r#"{"data":{"id":111,"name":"scooter","weight":5.18},"type":"delete"}"#,
            r#"{"data":{"id":111,"name":"scooter","weight":5.15},"type":"insert"}"#,
            r#"{"data":{"id":111,"name":"scooter","weight":5.15},"type":"delete"}"#,
        ]
    );
    let recs: Vec<&str> = out.iter().map(String::as_str).collect();
    let mut d = MaxwellJsonFormatFactory.create_decoder(&c).unwrap();
    let back = decode_with(&mut d, &recs);
    assert_eq!(value_rows(&back.batch), value_rows(&b.batch));
}

#[test]
fn timestamps_follow_the_standard_option() {
    let cols = "id BIGINT, ts TIMESTAMP(3)";
    let rec = r#"{"before":null,"after":{"id":1,"ts":"2026-11-25T12:34:56.789"},"op":"c"}"#;
    let c = ctx(
        "debezium-json",
        cols,
        &[("timestamp-format.standard", "ISO-8601")],
    );
    let mut d = DebeziumJsonFormatFactory.create_decoder(&c).unwrap();
    let b = decode_with(&mut d, &[rec]);
    assert_eq!(show(&b), ["+I[1, 2026-11-25T12:34:56.789]"]);
    assert_eq!(encode(&DebeziumJsonFormatFactory, &c, &b), [rec]);
    // The SQL standard (the default) refuses the ISO text and says where.
    let c = ctx("debezium-json", cols, &[]);
    let mut d = DebeziumJsonFormatFactory.create_decoder(&c).unwrap();
    let e = decode_err(&mut d, rec.as_bytes(), &origin(0));
    assert!(e.contains("after.ts"), "{e}");
}

/// Arbitrary bytes never panic, whatever the format and metadata.
#[test]
fn garbage_never_panics() {
    let formats: [(&dyn FormatFactory, &str, Vec<String>); 3] = [
        (
            &DebeziumJsonFormatFactory,
            "debezium-json",
            vec![
                "source.properties".into(),
                "schema".into(),
                "source.timestamp".into(),
            ],
        ),
        (
            &CanalJsonFormatFactory,
            "canal-json",
            vec![
                "sql-type".into(),
                "pk-names".into(),
                "event-timestamp".into(),
            ],
        ),
        (
            &MaxwellJsonFormatFactory,
            "maxwell-json",
            vec!["ingestion-timestamp".into(), "primary-key-columns".into()],
        ),
    ];
    let seeds: Vec<Vec<u8>> = DBZ
        .iter()
        .chain(CANAL)
        .chain(MAXWELL)
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (f, name, keys) in formats {
        let c = ctx(
            name,
            "id BIGINT, name STRING, weight DECIMAL(10, 2), m MAP<STRING, INT>",
            &[("ignore-parse-errors", "true")],
        );
        let mut d = f.create_decoder_with_metadata(&c, &keys).unwrap();
        for round in 0..3000 {
            let mut rec = seeds[(next() as usize) % seeds.len()].clone();
            for _ in 0..(next() % 4) {
                if rec.is_empty() {
                    break;
                }
                let at = (next() as usize) % rec.len();
                match next() % 3 {
                    0 => rec[at] = next() as u8,
                    1 => {
                        rec.remove(at);
                    }
                    _ => rec.truncate(at),
                }
            }
            d.decode(&rec, &origin(round)).unwrap();
        }
        let b = d.finish().unwrap();
        assert_eq!(b.num_rows(), b.kinds.as_ref().map(|k| k.len()).unwrap_or(0));
        assert!(
            d.skipped_records() > 0,
            "{name}: mutations should break some records"
        );
        let _ = b.batch.column(0).as_primitive::<Int64Type>();
    }
}

/// Schema-change events carry no rows: Debezium's (on the schema-change topic, no 'op') is an
/// error as in Flink, skipped and counted with ignore-parse-errors; Canal's CREATE gives nothing,
/// its other DDL types are unknown to Flink's format and so errors too.
#[test]
fn schema_change_events() {
    let dbz_ddl = r#"{"source":{"version":"2.5.0.Final","connector":"mysql","name":"dbserver1","ts_ms":1700000000000,"db":"inventory","table":"products"},"databaseName":"inventory","schemaName":null,"ddl":"ALTER TABLE products ADD COLUMN color VARCHAR(10)","tableChanges":[{"type":"ALTER","id":"\"inventory\".\"products\""}]}"#;
    let c = ctx("debezium-json", COLS, &[]);
    let mut d = DebeziumJsonFormatFactory.create_decoder(&c).unwrap();
    let e = decode_err(&mut d, dbz_ddl.as_bytes(), &origin(3));
    assert!(e.contains("field 'op' is missing"), "{e}");
    let c = ctx("debezium-json", COLS, &[("ignore-parse-errors", "true")]);
    let mut d = DebeziumJsonFormatFactory.create_decoder(&c).unwrap();
    let b = decode_with(&mut d, &[dbz_ddl, DBZ[1]]);
    assert_eq!(show(&b), ["+I[2, car battery, 8.10]"]);
    assert_eq!(d.skipped_records(), 1);

    let c = ctx("canal-json", COLS, &[]);
    let mut d = CanalJsonFormatFactory.create_decoder(&c).unwrap();
    let b = decode_with(&mut d, &[CANAL[2]]);
    assert_eq!(b.num_rows(), 0);
    let alter = r#"{"data":null,"database":"inventory","es":1589373560000,"isDdl":true,"sql":"ALTER TABLE products ADD COLUMN c INT","table":"products","ts":1589373560799,"type":"ALTER"}"#;
    let e = decode_err(&mut d, alter.as_bytes(), &origin(9));
    assert!(e.contains("unknown value \"ALTER\""), "{e}");
}

/// With ignore-parse-errors a bad value inside a ROW nulls just that nested field (Flink's
/// converters are nullable at every level).
#[test]
fn ignore_parse_errors_nulls_nested_fields() {
    let c = ctx(
        "maxwell-json",
        "id BIGINT, r ROW<x INT, y STRING>",
        &[("ignore-parse-errors", "true")],
    );
    let mut d = MaxwellJsonFormatFactory.create_decoder(&c).unwrap();
    let b = decode_with(
        &mut d,
        &[r#"{"type":"insert","data":{"id":1,"r":{"x":"bad","y":"ok"}},"ts":"soon"}"#],
    );
    assert_eq!(show(&b), ["+I[1, {x: , y: ok}]"]);
    let r = b.batch.column(1).as_struct();
    assert!(r.column(0).is_null(0) && !r.is_null(0));
    assert_eq!(d.skipped_records(), 0);
}

/// Records are read in one pass (rows decoded while the envelope is read) when they look as
/// usual, and envelope first otherwise; both must give the same rows. These layouts take the
/// second path: the sides in another order, a row object where the operation has none,
/// escaped keys and values, a type only known at the end.
#[test]
fn unusual_layouts_decode_like_usual_ones() {
    let c = ctx("debezium-json", COLS, &[]);
    let mut d = DebeziumJsonFormatFactory.create_decoder(&c).unwrap();
    let b = decode_with(
        &mut d,
        &[
            r#"{"before":null,"after":{"id":1,"name":"a","weight":1.5},"op":"c"}"#,
            // 'after' first in an update: the row before still comes first.
            r#"{"op":"u","after":{"id":2,"name":"new","weight":2},"before":{"id":2,"name":"old","weight":1}}"#,
            // A create with a row in 'before' (ignored) and a delete with one in 'after'.
            r#"{"before":{"id":9,"name":"x","weight":9},"after":{"id":3,"name":"c","weight":3},"op":"r"}"#,
            r#"{"before":{"id":4,"name":"d","weight":4},"after":{"id":9,"name":"x","weight":9},"op":"d"}"#,
            // Escapes in a key and in 'op'.
            "{\"befor\\u0065\":{\"id\":5,\"name\":\"e\",\"weight\":5},\"after\":null,\"op\":\"\\u0064\"}",
        ],
    );
    assert_eq!(
        show(&b),
        [
            "+I[1, a, 1.50]",
            "-U[2, old, 1.00]",
            "+U[2, new, 2.00]",
            "+I[3, c, 3.00]",
            "-D[4, d, 4.00]",
            "-D[5, e, 5.00]",
        ]
    );
    // A bad row in the middle of a batch leaves nothing of its record behind.
    let bad = d.decode(
        br#"{"before":{"id":6,"name":"f","weight":6},"after":{"id":"x"},"op":"u"}"#,
        &origin(7),
    );
    let e = bad.unwrap_err().to_string();
    assert!(e.contains("field 'after.id'"), "{e}");
    assert_eq!(d.buffered_rows(), 0);

    let c = ctx("canal-json", COLS, &[("table.include", "orders")]);
    let mut d = CanalJsonFormatFactory.create_decoder(&c).unwrap();
    let b = decode_with(
        &mut d,
        &[
            r#"{"data":[{"id":"1","name":"a","weight":"1"},{"id":"2","name":"b","weight":"2"}],"table":"orders","type":"INSERT"}"#,
            // Filtered out after its rows were read.
            r#"{"data":[{"id":"8","name":"z","weight":"8"}],"table":"other","type":"INSERT"}"#,
            // An escaped type, and a DDL event with rows.
            "{\"data\":[{\"id\":\"3\",\"name\":\"c\",\"weight\":\"3\"}],\"table\":\"orders\",\"type\":\"\\u0044ELETE\"}",
            r#"{"data":[{"id":"9","name":"z","weight":"9"}],"table":"orders","type":"CREATE"}"#,
            r#"{"type":"DELETE","table":"orders","data":[]}"#,
        ],
    );
    assert_eq!(
        show(&b),
        ["+I[1, a, 1.00]", "+I[2, b, 2.00]", "-D[3, c, 3.00]"]
    );
    let e = decode_err(
        &mut d,
        br#"{"data":[{"id":"4"},null],"table":"orders","type":"INSERT"}"#,
        &origin(3),
    );
    assert!(e.contains("data[1]"), "{e}");
    assert_eq!(d.buffered_rows(), 0);
}
