//! Arbitrary bytes as an Avro object container file, read with the format's bulk reader (what
//! the filesystem connector uses), legacy timestamp mapping or not and a small or large batch
//! size (picked by the first byte): it must never panic; errors are fine.

#![no_main]

use headrace_format_avro::AvroFormatFactory;
use headrace_fuzz::{avro_columns, context};
use headrace_sdk::format::FormatFactory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let legacy = pick & 1 == 0;
    let batch_rows = if pick & 2 != 0 { 1 } else { 1024 };
    let columns = avro_columns(legacy);
    let ctx = context(
        &columns,
        &[(
            "timestamp_mapping.legacy",
            if legacy { "true" } else { "false" },
        )],
    );
    let mut reader = match AvroFormatFactory.create_bulk_reader(&ctx) {
        Some(Ok(r)) => r,
        _ => panic!("avro bulk reader for every common type"),
    };
    let input = Box::new(std::io::Cursor::new(file.to_vec()));
    let mut rows = 0usize;
    let read = reader.read(input, "fuzz.avro", batch_rows, &mut |b| {
        assert!(b.num_rows() <= batch_rows, "batch larger than asked");
        rows += b.num_rows();
        Ok(())
    });
    if let Ok(n) = read {
        assert_eq!(n as usize, rows, "row count differs from the rows emitted");
    }
});
