//! Arbitrary bytes into the json decoder: it must never panic, a failed record must leave no
//! partial row behind, and every accepted row must write out and read back unchanged.

#![no_main]

use headrace_format_json::JsonFormatFactory;
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::{FormatContext, FormatFactory};
use headrace_sdk::options::{Options, RawOptions};
use headrace_sdk::schema::TableSchema;
use libfuzzer_sys::fuzz_target;

const COLUMNS: &str = "a INT, s STRING, dec DECIMAL(10, 2), ts TIMESTAMP(3), dt DATE, t TIME(3), \
    bin BYTES, f FLOAT, arr ARRAY<ROW<x INT, y ARRAY<STRING>>>, m MAP<STRING, DOUBLE>, \
    ms MULTISET<INT>, r ROW<x INT, y BOOLEAN>, nn BIGINT NOT NULL";

fuzz_target!(|data: &[u8]| {
    let Ok(schema) = TableSchema::parse_columns(COLUMNS) else {
        return;
    };
    let ctx = FormatContext {
        schema: schema.physical_arrow_schema(),
        options: Options::new("fuzz", RawOptions::new()),
    };
    let (Ok(mut d), Ok(mut e)) = (
        JsonFormatFactory.create_decoder(&ctx),
        JsonFormatFactory.create_encoder(&ctx),
    ) else {
        return;
    };
    if d.decode(data, &RecordOrigin::Unknown).is_err() {
        assert_eq!(d.buffered_rows(), 0);
        return;
    }
    let batch = d.finish().expect("a decoded batch builds");
    let mut again = JsonFormatFactory.create_decoder(&ctx).expect("decoder");
    e.encode(&batch, &mut |_, bytes| {
        again.decode(bytes, &RecordOrigin::Unknown)
    })
    .expect("accepted rows encode and decode again");
    assert_eq!(again.finish().expect("batch").batch, batch.batch);
});
