//! Behaviour tests of the json format through the SDK's format traits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayData, AsArray, Int32Array, MapArray, RecordBatch, StringArray, StructArray,
};
use arrow::buffer::{Buffer, NullBuffer};
use arrow::datatypes::{
    DataType as ArrowType, Field, Fields, Int32Type, Int64Type, Schema, SchemaRef,
};
use headrace_format_json::{JsonDecoder, JsonFormatFactory, FLINK_TYPE_METADATA_KEY};
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::{Decoder, FormatContext, FormatFactory};
use headrace_sdk::options::{Options, RawOptions};
use headrace_sdk::registry::Registry;
use headrace_sdk::schema::TableSchema;

const ALL: &str = "b BOOLEAN, ti TINYINT, si SMALLINT, i INT, bi BIGINT, f FLOAT, d DOUBLE, \
    dec DECIMAL(10, 3), c CHAR(3), vc VARCHAR(10), s STRING, bin BINARY(4), vb BYTES, dt DATE, \
    t0 TIME, t3 TIME(3), t6 TIME(6), t9 TIME(9), ts0 TIMESTAMP(0), ts3 TIMESTAMP(3), \
    ts6 TIMESTAMP(6), ts9 TIMESTAMP(9), ltz TIMESTAMP_LTZ(3), arr ARRAY<INT>, \
    m MAP<STRING, BIGINT>, ms MULTISET<STRING>, r ROW<x INT, y STRING>, \
    nested ARRAY<ROW<a INT, b ARRAY<STRING>, c MAP<STRING, DOUBLE>>>";

fn schema(cols: &str) -> SchemaRef {
    TableSchema::parse_columns(cols)
        .unwrap()
        .physical_arrow_schema()
}

/// Mark a column as TIMESTAMP_LTZ through the field metadata the format understands.
fn with_ltz(s: SchemaRef, name: &str, ty: &str) -> SchemaRef {
    let fields: Vec<Field> = s
        .fields()
        .iter()
        .map(|f| {
            if f.name() == name {
                f.as_ref().clone().with_metadata(HashMap::from([(
                    FLINK_TYPE_METADATA_KEY.to_string(),
                    ty.to_string(),
                )]))
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn ctx(schema: SchemaRef, opts: &[(&str, &str)]) -> FormatContext {
    let raw: RawOptions = opts
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    FormatContext {
        schema,
        options: Options::new("table 't' (format 'json')", raw),
    }
}

fn origin(offset: i64) -> RecordOrigin {
    RecordOrigin::Log {
        topic: "orders".into(),
        partition: 2,
        offset,
    }
}

fn decode(c: &FormatContext, records: &[&str]) -> ChangelogBatch {
    let mut d = JsonFormatFactory.create_decoder(c).unwrap();
    for (i, r) in records.iter().enumerate() {
        d.decode(r.as_bytes(), &origin(i as i64)).unwrap();
    }
    d.finish().unwrap()
}

fn decode_err(c: &FormatContext, record: &[u8]) -> String {
    let mut d = JsonFormatFactory.create_decoder(c).unwrap();
    let e = d.decode(record, &origin(42)).unwrap_err().to_string();
    assert_eq!(d.buffered_rows(), 0);
    e
}

fn encode(c: &FormatContext, batch: &ChangelogBatch) -> Vec<String> {
    let mut e = JsonFormatFactory.create_encoder(c).unwrap();
    let mut out = Vec::new();
    e.encode(batch, &mut |i, b| {
        assert_eq!(i, out.len());
        out.push(String::from_utf8(b.to_vec()).unwrap());
        Ok(())
    })
    .unwrap();
    out
}

const FULL: &str = r#"{"b":true,"ti":-8,"si":300,"i":-70000,"bi":9007199254740993,"f":1.5,"d":1234.5678,"dec":12.345,"c":"abc","vc":"h\u00e9 \"q\"","s":"line\nbreak","bin":"AQID/w==","vb":"","dt":"2026-11-25","t0":"12:34:56","t3":"12:34:56.123","t6":"12:34:56.123456","t9":"12:34:56.123456789","ts0":"2026-11-25 12:34:56","ts3":"2026-11-25 12:34:56.123","ts6":"2026-11-25 12:34:56.123456","ts9":"2026-11-25 12:34:56.123456789","ltz":"2026-11-25 12:34:56.123Z","arr":[1,null,3],"m":{"a":1,"b":null},"ms":{"x":2},"r":{"x":7,"y":"why"},"nested":[{"a":1,"b":["p",null],"c":{"k":0.5}},null,{"a":null,"b":null,"c":{}}]}"#;

fn all_null() -> String {
    let names = [
        "b", "ti", "si", "i", "bi", "f", "d", "dec", "c", "vc", "s", "bin", "vb", "dt", "t0", "t3",
        "t6", "t9", "ts0", "ts3", "ts6", "ts9", "ltz", "arr", "m", "ms", "r", "nested",
    ];
    let body: Vec<String> = names.iter().map(|n| format!("\"{n}\":null")).collect();
    format!("{{{}}}", body.join(","))
}

#[test]
fn round_trip_every_type_with_nulls() {
    let s = with_ltz(schema(ALL), "ltz", "TIMESTAMP_LTZ(3)");
    let c = ctx(s, &[]);
    let nulls = all_null();
    let batch = decode(&c, &[FULL, &nulls, "{}"]);
    assert_eq!(batch.num_rows(), 3);
    let b = &batch.batch;
    // spot checks on the Arrow side
    let bi = b.column(4).as_primitive::<Int64Type>();
    assert_eq!(bi.value(0), 9_007_199_254_740_993);
    assert!(bi.is_null(1) && bi.is_null(2));
    let dec = b
        .column(7)
        .as_primitive::<arrow::datatypes::Decimal128Type>();
    assert_eq!(dec.value(0), 12_345);
    let vc = b.column(9).as_string::<i32>();
    assert_eq!(vc.value(0), "hé \"q\"");
    let bin = b.column(11).as_binary::<i32>();
    assert_eq!(bin.value(0), &[1, 2, 3, 255]);
    let out = encode(&c, &batch);
    let full_out = FULL.replace("h\\u00e9", "hé");
    assert_eq!(out[0], full_out);
    assert_eq!(out[1], nulls);
    assert_eq!(out[2], nulls);
    // and the output reads back to the same batch
    let again = decode(&c, &[&out[0], &out[1], &out[2]]);
    assert_eq!(again.batch, batch.batch);
}

#[test]
fn nested_array_of_rows() {
    let c = ctx(
        schema("items ARRAY<ROW<id BIGINT, tags ARRAY<STRING>, attrs ROW<k STRING>>>"),
        &[],
    );
    let batch = decode(
        &c,
        &[
            r#"{"items":[{"id":1,"tags":["a","b"],"attrs":{"k":"v"}},{"id":2,"tags":[]}]}"#,
            r#"{"items":[]}"#,
        ],
    );
    let items = batch.batch.column(0).as_list::<i32>();
    assert_eq!(items.value_length(0), 2);
    assert_eq!(items.value_length(1), 0);
    let rows = items.values().as_struct();
    assert_eq!(
        rows.column(0).as_primitive::<Int64Type>().values().as_ref(),
        &[1, 2]
    );
    let tags = rows.column(1).as_list::<i32>();
    assert_eq!(tags.value_length(0), 2);
    assert!(rows.column(2).is_null(1));
    let out = encode(&c, &batch);
    assert_eq!(
        out[0],
        r#"{"items":[{"id":1,"tags":["a","b"],"attrs":{"k":"v"}},{"id":2,"tags":[],"attrs":null}]}"#
    );
    assert_eq!(out[1], r#"{"items":[]}"#);
}

#[test]
fn timestamp_standards() {
    let s = with_ltz(
        schema("ts TIMESTAMP(3), ltz TIMESTAMP(3)"),
        "ltz",
        "TIMESTAMP_LTZ(3)",
    );
    let sql = ctx(s.clone(), &[]);
    let iso = ctx(s, &[("timestamp-format.standard", "ISO-8601")]);
    let b = decode(
        &sql,
        &[r#"{"ts":"2026-11-25 12:34:56.123","ltz":"2026-11-25 12:34:56Z"}"#],
    );
    assert_eq!(
        encode(&iso, &b)[0],
        r#"{"ts":"2026-11-25T12:34:56.123","ltz":"2026-11-25T12:34:56Z"}"#
    );
    assert_eq!(
        encode(&sql, &b)[0],
        r#"{"ts":"2026-11-25 12:34:56.123","ltz":"2026-11-25 12:34:56Z"}"#
    );
    let b2 = decode(
        &iso,
        &[r#"{"ts":"2026-11-25T12:34:56.123","ltz":"2026-11-25T12:34:56Z"}"#],
    );
    assert_eq!(b2.batch, b.batch);
    // each standard rejects the other's form, naming the option
    let e = decode_err(&sql, br#"{"ts":"2026-11-25T12:34:56.123"}"#);
    assert!(e.contains("field 'ts'"), "{e}");
    assert!(
        e.contains("'json.timestamp-format.standard' is 'SQL'"),
        "{e}"
    );
    let e = decode_err(&iso, br#"{"ts":"2026-11-25 12:34:56.123"}"#);
    assert!(e.contains("'ISO-8601'"), "{e}");
    // TIMESTAMP_LTZ needs the Z
    let e = decode_err(&sql, br#"{"ltz":"2026-11-25 12:34:56"}"#);
    assert!(e.contains("field 'ltz'"), "{e}");
    // an Arrow timestamp with a time zone is TIMESTAMP_LTZ too
    let tz = Arc::new(Schema::new(vec![Field::new(
        "t",
        ArrowType::Timestamp(arrow::datatypes::TimeUnit::Second, Some("UTC".into())),
        true,
    )]));
    let c = ctx(tz, &[]);
    let b = decode(&c, &[r#"{"t":"1970-01-01 00:01:00Z"}"#]);
    assert_eq!(encode(&c, &b)[0], r#"{"t":"1970-01-01 00:01:00Z"}"#);
}

/// A MAP<STRING, INT> column whose second entry has a NULL key. Arrow's validated constructors
/// refuse NULL map keys, so this builds the array without validation, as a foreign producer might.
#[allow(unsafe_code)]
fn map_with_null_key() -> ChangelogBatch {
    let keys = StringArray::from(vec![Some("a"), None, Some("c")]);
    let values = Int32Array::from(vec![1, 2, 3]);
    let kv = Fields::from(vec![
        Field::new("key", ArrowType::Utf8, true),
        Field::new("value", ArrowType::Int32, true),
    ]);
    let entries = StructArray::new(kv.clone(), vec![Arc::new(keys), Arc::new(values)], None);
    let entries_field = Arc::new(Field::new("entries", ArrowType::Struct(kv), false));
    let map_type = ArrowType::Map(entries_field, false);
    // SAFETY: offsets, lengths and child types are consistent; only the key nulls break the spec.
    let data = unsafe {
        ArrayData::builder(map_type.clone())
            .len(1)
            .add_buffer(Buffer::from_slice_ref([0i32, 3]))
            .child_data(vec![entries.into_data()])
            .build_unchecked()
    };
    let map = MapArray::from(data);
    let schema = Arc::new(Schema::new(vec![Field::new("m", map_type, true)]));
    ChangelogBatch::inserts(RecordBatch::try_new(schema, vec![Arc::new(map)]).unwrap())
}

#[test]
fn map_null_key_modes() {
    let batch = map_with_null_key();
    let s = batch.schema();
    let mut e = JsonFormatFactory
        .create_encoder(&ctx(s.clone(), &[]))
        .unwrap();
    let err = e
        .encode(&batch, &mut |_, _| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("field 'm'"), "{err}");
    assert!(err.contains("map-null-key.mode"), "{err}");
    let drop = encode(&ctx(s.clone(), &[("map-null-key.mode", "DROP")]), &batch);
    assert_eq!(drop[0], r#"{"m":{"a":1,"c":3}}"#);
    let lit = encode(
        &ctx(
            s.clone(),
            &[
                ("map-null-key.mode", "LITERAL"),
                ("map-null-key.literal", "N/A"),
            ],
        ),
        &batch,
    );
    assert_eq!(lit[0], r#"{"m":{"a":1,"N/A":2,"c":3}}"#);
    let lit_default = encode(&ctx(s, &[("map-null-key.mode", "literal")]), &batch);
    assert_eq!(lit_default[0], r#"{"m":{"a":1,"null":2,"c":3}}"#);
}

#[test]
fn maps_with_non_string_keys_and_multisets() {
    let c = ctx(schema("m MAP<INT, STRING>, ms MULTISET<DATE>"), &[]);
    let b = decode(&c, &[r#"{"m":{"1":"x","-2":null},"ms":{"2026-11-25":3}}"#]);
    assert_eq!(
        encode(&c, &b)[0],
        r#"{"m":{"1":"x","-2":null},"ms":{"2026-11-25":3}}"#
    );
    let e = decode_err(&c, br#"{"m":{"one":"x"}}"#);
    assert!(e.contains("field 'm'") && e.contains("\"one\""), "{e}");
}

#[test]
fn fail_on_missing_field() {
    let s = schema("a INT, b STRING");
    let lenient = decode(&ctx(s.clone(), &[]), &[r#"{"a":1}"#]);
    assert!(lenient.batch.column(1).is_null(0));
    let strict = ctx(s, &[("fail-on-missing-field", "true")]);
    let e = decode_err(&strict, br#"{"a":1}"#);
    assert!(e.contains("field 'b'"), "{e}");
    assert!(e.contains("missing"), "{e}");
    assert!(e.contains("topic 'orders' partition 2 offset 42"), "{e}");
    // nested fields too
    let nested = ctx(
        schema("r ROW<x INT, y INT>"),
        &[("fail-on-missing-field", "true")],
    );
    let e = decode_err(&nested, br#"{"r":{"x":1}}"#);
    assert!(e.contains("field 'r.y'"), "{e}");
}

#[test]
fn ignore_parse_errors_skips_and_counts() {
    let c = ctx(
        schema("a INT, b ARRAY<INT>"),
        &[("ignore-parse-errors", "true")],
    );
    let mut d: JsonDecoder = JsonFormatFactory::json_decoder(&c).unwrap();
    for (i, r) in [
        r#"{"a":1,"b":[1,2]}"#,
        r#"{"a":"x","b":[1]}"#,
        r#"{"a":2,"b":[3,"y"]}"#,
        r#"{"a":3,"b":[4"#,
        r#"{"a":4,"b":[5]}"#,
    ]
    .iter()
    .enumerate()
    {
        d.decode(r.as_bytes(), &origin(i as i64)).unwrap();
    }
    assert_eq!(d.skipped(), 3);
    assert_eq!(d.buffered_rows(), 2);
    let b = d.finish().unwrap();
    assert_eq!(
        b.batch
            .column(0)
            .as_primitive::<Int32Type>()
            .values()
            .as_ref(),
        &[1, 4]
    );
    let l = b.batch.column(1).as_list::<i32>();
    assert_eq!(
        l.values().as_primitive::<Int32Type>().values().as_ref(),
        &[1, 2, 5]
    );
    // without the option the same record fails
    let e = decode_err(&ctx(schema("a INT, b ARRAY<INT>"), &[]), br#"{"a":"x"}"#);
    assert!(e.contains("field 'a'"), "{e}");
}

#[test]
fn conflicting_and_invalid_options() {
    let s = schema("a INT");
    let e = JsonFormatFactory
        .create_decoder(&ctx(
            s.clone(),
            &[
                ("fail-on-missing-field", "true"),
                ("ignore-parse-errors", "true"),
            ],
        ))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("conflicting options"), "{e}");
    let e = JsonFormatFactory
        .create_encoder(&ctx(s, &[("timestamp-format.standard", "RFC")]))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("SQL, ISO-8601"), "{e}");
}

#[test]
fn decimal_plain_and_scientific() {
    let s = schema("d DECIMAL(20, 9), e DECIMAL(5, 2)");
    let rec = [r#"{"d":0.0000001,"e":"1.005"}"#, r#"{"d":1E+3,"e":-0.001}"#];
    let c = ctx(s.clone(), &[]);
    let b = decode(&c, &rec);
    let out = encode(&c, &b);
    assert_eq!(out[0], r#"{"d":1.00E-7,"e":1.01}"#);
    assert_eq!(out[1], r#"{"d":1000.000000000,"e":0.00}"#);
    let plain = encode(&ctx(s, &[("encode.decimal-as-plain-number", "true")]), &b);
    assert_eq!(plain[0], r#"{"d":0.000000100,"e":1.01}"#);
    let e = decode_err(&c, br#"{"e":1000}"#);
    assert!(
        e.contains("field 'e'") && e.contains("DECIMAL(5, 2)"),
        "{e}"
    );
}

#[test]
fn ignore_null_fields() {
    let s = schema("a INT, b STRING, r ROW<x INT, y INT>");
    let b = decode(&ctx(s.clone(), &[]), &[r#"{"a":1,"r":{"x":2}}"#]);
    assert_eq!(
        encode(&ctx(s.clone(), &[]), &b)[0],
        r#"{"a":1,"b":null,"r":{"x":2,"y":null}}"#
    );
    assert_eq!(
        encode(&ctx(s, &[("encode.ignore-null-fields", "true")]), &b)[0],
        r#"{"a":1,"r":{"x":2}}"#
    );
}

#[test]
fn errors_name_field_and_origin() {
    let c = ctx(
        schema("id BIGINT, items ARRAY<ROW<a INT, b BOOLEAN>>, n INT NOT NULL"),
        &[],
    );
    let e = decode_err(&c, br#"{"n":1,"items":[{"a":1},{"a":"seven"}]}"#);
    assert!(
        e.starts_with("json: cannot process record from topic 'orders' partition 2 offset 42"),
        "{e}"
    );
    assert!(e.contains("field 'items[1].a'"), "{e}");
    assert!(e.contains("\"seven\"") && e.contains("INT"), "{e}");
    let e = decode_err(&c, br#"{"n":1,"id":true}"#);
    assert!(e.contains("field 'id'") && e.contains("BIGINT"), "{e}");
    let e = decode_err(&c, br#"{"n":null}"#);
    assert!(e.contains("field 'n'") && e.contains("NOT NULL"), "{e}");
    let e = decode_err(&c, br#"{"id":1}"#);
    assert!(e.contains("field 'n'") && e.contains("NOT NULL"), "{e}");
    let e = decode_err(&c, br#"{"n":1,"id":99999999999999999999}"#);
    assert!(e.contains("field 'id'"), "{e}");
    let e = decode_err(&c, br#"{"n":1,"id":1.5}"#);
    assert!(e.contains("field 'id'"), "{e}");
    let e = decode_err(&c, br#"[1]"#);
    assert!(e.contains("object"), "{e}");
}

#[test]
fn lenient_forms_flink_accepts() {
    let c = ctx(schema("a INT, b BOOLEAN, d DOUBLE, s STRING, f FLOAT"), &[]);
    let b = decode(
        &c,
        &[
            r#"{"a":" 12 ","b":"TRUE","d":"NaN","s":{"k":[1,true,null,"x"]},"f":2e0,"extra":{"deep":[1]}}"#,
        ],
    );
    assert_eq!(
        encode(&c, &b)[0],
        r#"{"a":12,"b":true,"d":"NaN","s":"{\"k\":[1,true,null,\"x\"]}","f":2.0}"#
    );
}

#[test]
fn records_with_several_or_no_rows_and_duplicates() {
    let c = ctx(schema("a INT, b STRING"), &[]);
    let b = decode(
        &c,
        &[
            r#"[{"a":1},{"a":2,"b":"x"}]"#,
            "null",
            r#"{"a":3,"a":4,"b":"y","b":"z"}"#,
        ],
    );
    assert_eq!(b.num_rows(), 3);
    assert_eq!(
        encode(&c, &b),
        vec![
            r#"{"a":1,"b":null}"#,
            r#"{"a":2,"b":"x"}"#,
            r#"{"a":4,"b":"z"}"#
        ]
    );
}

fn malformed() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"   ".to_vec(),
        b"{".to_vec(),
        br#"{"a":1"#.to_vec(),
        br#"{"a":1,"b":[1,2"#.to_vec(),
        br#"{"a":1} trailing"#.to_vec(),
        br#"{"a":[1,2]}"#.to_vec(),
        br#"{"a":{"x":1}}"#.to_vec(),
        br#"{"r":[1]}"#.to_vec(),
        br#"{"r":"row"}"#.to_vec(),
        br#"{"m":[1]}"#.to_vec(),
        br#"{"dec":"1e99999999999999999999"}"#.to_vec(),
        br#"{"dec":123456789012345678901234567890123456789012345678901234567890}"#.to_vec(),
        br#"{"a":1e400}"#.to_vec(),
        br#"{"a":-1e400}"#.to_vec(),
        br#"{"ts":"9999-99-99 99:99:99"}"#.to_vec(),
        br#"{"ts":"+999999999-12-31 23:59:59.999999999"}"#.to_vec(),
        br#"{"dt":"-999999999-01-01"}"#.to_vec(),
        br#"{"t":"23:59:60"}"#.to_vec(),
        br#"{"bin":"***"}"#.to_vec(),
        b"{\"s\":\"\xff\xfe\"}".to_vec(),
        b"{\"\xc3\x28\":1}".to_vec(),
        b"\xef\xbb\xbf{}".to_vec(),
        br#"{"s":"\ud800"}"#.to_vec(),
        br#"{"a":NaN}"#.to_vec(),
        br#"{"a":01}"#.to_vec(),
        b"\0".to_vec(),
    ];
    v.push(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes());
    v.push(format!("{{\"r\":{}", "{\"x\":".repeat(50_000)).into_bytes());
    v.push(format!("{{\"s\":{}1{}}}", "[".repeat(5_000), "]".repeat(5_000)).into_bytes());
    v.push(
        format!(
            "{{\"zz\":{}1{}}}",
            "{\"a\":".repeat(5_000),
            "}".repeat(5_000)
        )
        .into_bytes(),
    );
    v
}

const FUZZ_SCHEMA: &str = "a INT, s STRING, dec DECIMAL(10, 2), ts TIMESTAMP(3), dt DATE, \
    t TIME, bin BYTES, arr ARRAY<ROW<x INT, y ARRAY<STRING>>>, m MAP<STRING, DOUBLE>, \
    r ROW<x INT, y BOOLEAN>, nn BIGINT NOT NULL";

#[test]
fn malformed_inputs_fail_cleanly() {
    let c = ctx(schema(FUZZ_SCHEMA), &[]);
    let mut d = JsonFormatFactory.create_decoder(&c).unwrap();
    for (i, bad) in malformed().iter().enumerate() {
        let r = d.decode(bad, &origin(i as i64));
        assert!(r.is_err(), "record {i} should fail");
        assert_eq!(d.buffered_rows(), 0, "record {i}");
    }
    // the decoder is still usable and consistent
    d.decode(br#"{"nn":1,"arr":[{"x":1,"y":["a"]}]}"#, &origin(99))
        .unwrap();
    let b = d.finish().unwrap();
    assert_eq!(b.num_rows(), 1);
}

/// xorshift64*, so the test is deterministic without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_bytes_and_mutations_never_panic() {
    let seeds: Vec<&[u8]> = vec![
        br#"{"a":1,"s":"x","dec":"12.34","ts":"2026-11-25 12:34:56.123","dt":"2026-11-25","t":"12:34:56","bin":"AQI=","arr":[{"x":1,"y":["a",null]},null],"m":{"k":1.5},"r":{"x":2,"y":true},"nn":7}"#,
        br#"[{"nn":1},{"nn":2,"m":{}}]"#,
    ];
    let alphabet = b"{}[]\":,0123456789.eE+-truefalsnl \\u\xff\x00abcxyznm";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for ignore in [false, true] {
        let opts: &[(&str, &str)] = if ignore {
            &[("ignore-parse-errors", "true")]
        } else {
            &[]
        };
        let c = ctx(schema(FUZZ_SCHEMA), opts);
        let mut d = JsonFormatFactory.create_decoder(&c).unwrap();
        let mut ok_rows = 0usize;
        let (mut total_ok, mut total_err) = (0usize, 0usize);
        for i in 0..4000 {
            let input: Vec<u8> = match i % 3 {
                0 => (0..rng.below(64))
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect(),
                1 => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
                _ => {
                    let mut v = seeds[rng.below(seeds.len())].to_vec();
                    for _ in 0..=rng.below(4) {
                        let p = rng.below(v.len().max(1));
                        match rng.below(3) {
                            0 if !v.is_empty() => {
                                v.remove(p.min(v.len() - 1));
                            }
                            1 => v.insert(p.min(v.len()), alphabet[rng.below(alphabet.len())]),
                            _ => v.truncate(p),
                        }
                    }
                    v
                }
            };
            let before = d.buffered_rows();
            let r = d.decode(&input, &origin(i));
            if ignore {
                assert!(r.is_ok());
            }
            if r.is_err() {
                assert_eq!(d.buffered_rows(), before);
                total_err += 1;
            } else if d.buffered_rows() > before {
                total_ok += 1;
            }
            ok_rows = d.buffered_rows();
            if i % 500 == 499 {
                let b = d.finish().unwrap();
                assert_eq!(b.num_rows(), ok_rows);
                ok_rows = 0;
                // whatever was accepted writes out and reads back to the same rows
                let out = encode(&c, &b);
                let refs: Vec<&str> = out.iter().map(String::as_str).collect();
                assert_eq!(decode(&c, &refs).batch, b.batch, "{out:?}");
            }
        }
        let b = d.finish().unwrap();
        assert_eq!(b.num_rows(), ok_rows);
        // the mutations leave some records valid and break others
        assert!(total_ok > 10, "{total_ok}");
        if !ignore {
            assert!(total_err > 2000, "{total_err}");
        }
    }
}

#[test]
fn null_struct_with_not_null_children() {
    let c = ctx(schema("r ROW<x INT NOT NULL>, l ARRAY<INT NOT NULL>"), &[]);
    let b = decode(&c, &[r#"{"r":null,"l":null}"#, r#"{"r":{"x":1},"l":[1]}"#]);
    assert_eq!(b.batch.column(0).null_count(), 1);
    assert_eq!(
        encode(&c, &b),
        vec![r#"{"r":null,"l":null}"#, r#"{"r":{"x":1},"l":[1]}"#]
    );
    let e = decode_err(&c, br#"{"l":[1,null]}"#);
    assert!(e.contains("field 'l[1]'"), "{e}");
}

#[test]
fn sliced_batches_encode_their_rows() {
    let c = ctx(schema("a INT, l ARRAY<STRING>"), &[]);
    let b = decode(
        &c,
        &[
            r#"{"a":1,"l":["x"]}"#,
            r#"{"a":2,"l":["y","z"]}"#,
            r#"{"a":3}"#,
        ],
    );
    assert_eq!(
        encode(&c, &b.slice(1, 2)),
        vec![r#"{"a":2,"l":["y","z"]}"#, r#"{"a":3,"l":null}"#]
    );
}

#[test]
fn registered_and_declared() {
    let r = Registry::from_inventory();
    let f = r.format("json").unwrap();
    assert_eq!(f.identifier(), "json");
    let keys: Vec<&str> = f.options().all().map(|o| o.key).collect();
    for k in [
        "fail-on-missing-field",
        "ignore-parse-errors",
        "timestamp-format.standard",
        "map-null-key.mode",
        "map-null-key.literal",
        "encode.decimal-as-plain-number",
        "encode.ignore-null-fields",
    ] {
        assert!(keys.contains(&k), "{k}");
    }
    assert_eq!(headrace_format_json::factory().identifier(), "json");
    let _ = NullBuffer::new_null(1);
}

#[test]
fn extreme_values_encode_without_panic() {
    use arrow::array::{
        Date32Array, Decimal128Array, Float64Array, Time32SecondArray, Time64NanosecondArray,
        TimestampNanosecondArray, TimestampSecondArray,
    };
    let s = schema("d DATE, t TIME(0), tn TIME(9), ts TIMESTAMP(0), tsn TIMESTAMP(9), dec DECIMAL(38, 10), f DOUBLE");
    let batch = RecordBatch::try_new(
        s.clone(),
        vec![
            Arc::new(Date32Array::from(vec![i32::MIN, i32::MAX, 0])),
            Arc::new(Time32SecondArray::from(vec![-1, i32::MAX, 0])),
            Arc::new(Time64NanosecondArray::from(vec![i64::MIN, i64::MAX, 0])),
            Arc::new(TimestampSecondArray::from(vec![i64::MIN, i64::MAX, 0])),
            Arc::new(TimestampNanosecondArray::from(vec![i64::MIN, i64::MAX, 0])),
            Arc::new(
                Decimal128Array::from(vec![i128::MIN + 1, i128::MAX, 0])
                    .with_precision_and_scale(38, 10)
                    .unwrap(),
            ),
            Arc::new(Float64Array::from(vec![f64::NEG_INFINITY, f64::NAN, -0.0])),
        ],
    )
    .unwrap();
    let c = ctx(s, &[]);
    let out = encode(&c, &ChangelogBatch::inserts(batch));
    assert_eq!(out.len(), 3);
    assert!(out[0].contains(r#""f":"-Infinity""#), "{}", out[0]);
    assert!(out[1].contains(r#""f":"NaN""#), "{}", out[1]);
    assert_eq!(
        out[2],
        r#"{"d":"1970-01-01","t":"00:00:00","tn":"00:00:00","ts":"1970-01-01 00:00:00","tsn":"1970-01-01 00:00:00","dec":0E-10,"f":-0.0}"#
    );
    // the last row reads back
    let b = decode(&c, &[&out[2]]);
    assert_eq!(encode(&c, &b)[0], out[2]);
}
