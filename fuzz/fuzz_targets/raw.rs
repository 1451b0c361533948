//! Arbitrary bytes into the raw decoder for each column type it reads (the first byte picks the
//! type, the charset and the byte order): it must never panic; errors are fine.

#![no_main]

use headrace_format_raw::RawFormat;
use headrace_fuzz::{context, RAW_TYPES};
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::FormatFactory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, record)) = data.split_first() else {
        return;
    };
    let columns = RAW_TYPES[usize::from(pick & 0x0f) % RAW_TYPES.len()];
    let charset = ["UTF-8", "ISO-8859-1", "US-ASCII", "UTF-8"][usize::from((pick >> 4) & 3)];
    let endianness = if pick & 0x40 != 0 {
        "little-endian"
    } else {
        "big-endian"
    };
    let ctx = context(columns, &[("charset", charset), ("endianness", endianness)]);
    let mut d = RawFormat
        .create_decoder(&ctx)
        .expect("raw decoder for a type it reads");
    if d.decode(record, &RecordOrigin::Unknown).is_err() {
        assert_eq!(d.buffered_rows(), 0, "a failed record left a row behind");
    }
    let _ = d.finish();
});
