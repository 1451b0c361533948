//! Arbitrary bytes into the avro (single datum) decoder, binary or JSON encoding, legacy timestamp
//! mapping or not (picked by the first byte): it must never panic, and a failed record must leave
//! no partial row behind.

#![no_main]

use headrace_format_avro::AvroFormatFactory;
use headrace_fuzz::{avro_columns, context};
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::FormatFactory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, record)) = data.split_first() else {
        return;
    };
    let legacy = pick & 1 == 0;
    let encoding = if pick & 2 != 0 { "json" } else { "binary" };
    let columns = avro_columns(legacy);
    let ctx = context(
        &columns,
        &[
            ("encoding", encoding),
            (
                "timestamp_mapping.legacy",
                if legacy { "true" } else { "false" },
            ),
        ],
    );
    let mut d = AvroFormatFactory
        .create_decoder(&ctx)
        .expect("avro decoder for every common type");
    // Several records into one decoder, as a Kafka reader does: the input split at 0xff bytes.
    for part in record.split(|b| *b == 0xff) {
        if d.decode(part, &RecordOrigin::Unknown).is_err() {
            let _ = d.buffered_rows();
        }
    }
    let _ = d.finish();
});
