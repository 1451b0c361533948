//! Arbitrary bytes into the csv decoder (the first byte picks ignore-parse-errors, a null literal,
//! comments and the quote handling): it must never panic; errors are fine.

#![no_main]

use headrace_format_csv::CsvFormat;
use headrace_fuzz::{context, CSV_TYPES};
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::FormatFactory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, record)) = data.split_first() else {
        return;
    };
    let mut options = Vec::new();
    if pick & 1 != 0 {
        options.push(("ignore-parse-errors", "true"));
    }
    if pick & 2 != 0 {
        options.push(("null-literal", "n/a"));
    }
    if pick & 4 != 0 {
        options.push(("allow-comments", "true"));
    }
    if pick & 8 != 0 {
        options.push(("disable-quote-character", "true"));
    } else if pick & 16 != 0 {
        options.push(("escape-character", "\\"));
    }
    if pick & 32 != 0 {
        options.push(("field-delimiter", "|"));
    }
    let ctx = context(CSV_TYPES, &options);
    let mut d = CsvFormat
        .create_decoder(&ctx)
        .expect("csv decoder for every type it reads");
    let _ = d.decode(record, &RecordOrigin::Unknown);
    let _ = d.finish();
});
