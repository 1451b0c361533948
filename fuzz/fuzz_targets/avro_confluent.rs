//! Arbitrary bytes into the avro-confluent decoder with writer schemas seeded by id (no registry
//! is ever called): id 1 is the table's derived schema (the direct path), id 2 an evolved writer
//! (fields missing, added and promoted: the by-name path), and with the first byte's bit 0 set
//! the table schema is also given as `avro-confluent.schema` (apache-avro's resolution path).
//! Bit 1 frames the rest with magic byte and id 1 or 2 (bit 2); otherwise the rest is the whole
//! record, framing included. It must never panic; errors are fine.

#![no_main]

use apache_avro::Schema;
use headrace_format_avro::confluent::{split_header, ConfluentConfig};
use headrace_format_avro::{AvroConfig, AvroDecoder, ConfluentDecoder};
use headrace_fuzz::{context, ALL_TYPES};
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::Decoder;
use libfuzzer_sys::fuzz_target;

/// A writer schema the table's can be resolved from: some columns missing, `i` as a long
/// (demotion is an error) and `l` as an int (promotion), an extra field.
const EVOLVED: &str = r#"{"type": "record", "name": "org.apache.flink.avro.generated.record",
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
  ]}"#;

const URL: &str = "http://127.0.0.1:9";

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let plain = context(ALL_TYPES, &[]);
    let derived = AvroDecoder::new(
        plain.schema.clone(),
        &AvroConfig::from_context(&plain).expect("avro options"),
    )
    .expect("avro schema for every common type")
    .avro_schema()
    .clone();
    let text = serde_json::to_string(&derived).expect("schema as JSON");
    let mut options = vec![("url", URL)];
    if pick & 1 != 0 {
        options.push(("schema", text.as_str()));
    }
    let ctx = context(ALL_TYPES, &options);
    let config = ConfluentConfig::from_options(&ctx.options).expect("avro-confluent options");
    let evolved = Schema::parse_str(EVOLVED).expect("evolved writer schema");
    let mut d = ConfluentDecoder::new(ctx.schema.clone(), &config)
        .expect("avro-confluent decoder for every common type")
        .with_writer_schema(1, derived)
        .with_writer_schema(2, evolved);
    let record = if pick & 2 != 0 {
        let id: u32 = if pick & 4 != 0 { 2 } else { 1 };
        let mut r = vec![0u8];
        r.extend_from_slice(&id.to_be_bytes());
        r.extend_from_slice(rest);
        r
    } else {
        match split_header(rest) {
            // Another id would be fetched from the (absent) registry.
            Ok((id, _)) if id != 1 && id != 2 => return,
            _ => rest.to_vec(),
        }
    };
    if d.decode(&record, &RecordOrigin::Unknown).is_err() {
        assert_eq!(d.buffered_rows(), 0, "a failed record left a row behind");
    }
    let _ = d.finish();
});
