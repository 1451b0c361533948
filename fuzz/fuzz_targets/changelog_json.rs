//! Arbitrary bytes into the debezium-json, canal-json and maxwell-json decoders (the first byte
//! picks the format, whether metadata columns are read and whether parse errors are ignored): they must never panic, a failed
//! record must leave no partial row behind, and every accepted batch must have one kind per row
//! and encode again.

#![no_main]

use headrace_format_changelog_json::factories;
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::FormatContext;
use headrace_sdk::options::{Options, RawOptions};
use headrace_sdk::schema::TableSchema;
use libfuzzer_sys::fuzz_target;

const COLUMNS: &str = "id BIGINT, s STRING, dec DECIMAL(10, 2), ts TIMESTAMP(3), dt DATE, \
    arr ARRAY<ROW<x INT, y ARRAY<STRING>>>, m MAP<STRING, DOUBLE>, r ROW<x INT, y BOOLEAN>, \
    nn BIGINT NOT NULL";

fuzz_target!(|data: &[u8]| {
    let Some((&pick, record)) = data.split_first() else {
        return;
    };
    let Ok(schema) = TableSchema::parse_columns(COLUMNS) else {
        return;
    };
    let fs = factories();
    let f = &fs[usize::from(pick) % fs.len()];
    let mut raw = RawOptions::new();
    if pick & 0x10 != 0 {
        raw.insert("schema-include".into(), "true".into());
    }
    if f.identifier() != "debezium-json" {
        raw.clear();
    }
    if pick & 0x40 != 0 {
        raw.insert("ignore-parse-errors".into(), "true".into());
    }
    let ctx = FormatContext {
        schema: schema.physical_arrow_schema(),
        options: Options::new("fuzz", raw),
    };
    let keys: Vec<String> = if pick & 0x20 != 0 {
        f.metadata().iter().map(|m| m.key.to_string()).collect()
    } else {
        Vec::new()
    };
    let Ok(mut d) = f.create_decoder_with_metadata(&ctx, &keys) else {
        return;
    };
    if d.decode(record, &RecordOrigin::Unknown).is_err() {
        assert_eq!(d.buffered_rows(), 0);
        return;
    }
    let batch = d.finish().expect("a decoded batch builds");
    assert_eq!(
        batch.kinds.as_ref().map(|k| k.len()).unwrap_or(0),
        batch.num_rows()
    );
    if keys.is_empty() && pick & 0x10 == 0 {
        let mut e = f.create_encoder(&ctx).expect("encoder");
        e.encode(&batch, &mut |_, _| Ok(()))
            .expect("accepted rows encode");
    }
});
