//! Arbitrary bytes into the json decoder (the first byte picks ignore-parse-errors and
//! fail-on-missing-field): it must never panic, a failed record must leave no partial row behind,
//! and every accepted row must write out and read back unchanged.

#![no_main]

use headrace_format_json::JsonFormatFactory;
use headrace_fuzz::{context, ALL_TYPES};
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::FormatFactory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, record)) = data.split_first() else {
        return;
    };
    let ignore = if pick & 1 != 0 { "true" } else { "false" };
    let missing = if pick & 2 != 0 && pick & 1 == 0 {
        "true"
    } else {
        "false"
    };
    let ctx = context(
        ALL_TYPES,
        &[
            ("ignore-parse-errors", ignore),
            ("fail-on-missing-field", missing),
        ],
    );
    let mut d = JsonFormatFactory
        .create_decoder(&ctx)
        .expect("json decoder for every common type");
    if d.decode(record, &RecordOrigin::Unknown).is_err() {
        assert_eq!(d.buffered_rows(), 0, "a failed record left rows behind");
        return;
    }
    let batch = d.finish().expect("a decoded batch builds");
    let plain = context(ALL_TYPES, &[]);
    let mut e = JsonFormatFactory.create_encoder(&plain).expect("encoder");
    let mut again = JsonFormatFactory.create_decoder(&plain).expect("decoder");
    e.encode(&batch, &mut |_, bytes| {
        again.decode(bytes, &RecordOrigin::Unknown)
    })
    .expect("accepted rows encode and decode again");
    assert_eq!(again.finish().expect("batch").batch, batch.batch);
});
