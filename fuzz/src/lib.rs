//! Helpers shared by the fuzz targets: the table schemas every decoder is built for and the
//! format context.

use headrace_sdk::format::FormatContext;
use headrace_sdk::options::{Options, RawOptions};
use headrace_sdk::prelude::SchemaRef;
use headrace_sdk::schema::TableSchema;

/// Every common type, nested types included (JSON, the changelog JSON formats, Avro).
pub const ALL_TYPES: &str = "b BOOLEAN, ti TINYINT, si SMALLINT, i INT, l BIGINT, f FLOAT, \
    d DOUBLE, dec DECIMAL(10, 2), bigdec DECIMAL(38, 18), s STRING, vc VARCHAR(10), c CHAR(3), \
    bin BYTES, vb VARBINARY(4), dt DATE, t TIME(3), ts TIMESTAMP(3), \
    arr ARRAY<ROW<x INT, y ARRAY<STRING>>>, m MAP<STRING, DOUBLE>, ms MULTISET<STRING>, \
    r ROW<x INT, y BOOLEAN, z ROW<w DECIMAL(5, 1)>>, nn BIGINT NOT NULL";

/// The physical Arrow schema of `columns` (panics on a bad spec: a bug in the target).
pub fn schema(columns: &str) -> SchemaRef {
    match TableSchema::parse_columns(columns) {
        Ok(s) => s.physical_arrow_schema(),
        Err(e) => panic!("fuzz target column spec {columns:?}: {e}"),
    }
}

/// A format context for `columns` with the given options (keys without the format prefix).
pub fn context(columns: &str, options: &[(&str, &str)]) -> FormatContext {
    let mut raw = RawOptions::new();
    for (k, v) in options {
        raw.insert((*k).into(), (*v).into());
    }
    FormatContext {
        schema: schema(columns),
        options: Options::new("fuzz", raw),
    }
}

/// Every type the CSV format reads (no MAP/MULTISET, no nesting inside ARRAY/ROW).
pub const CSV_TYPES: &str = "b BOOLEAN, ti TINYINT, si SMALLINT, i INT, l BIGINT, f FLOAT, \
    d DOUBLE, dec DECIMAL(10, 2), bigdec DECIMAL(38, 18), s STRING, vc VARCHAR(10), c CHAR(3), \
    bin BYTES, dt DATE, t TIME(3), ts TIMESTAMP(3), arr ARRAY<INT>, sarr ARRAY<STRING>, \
    r ROW<x INT, y BOOLEAN>, nn BIGINT NOT NULL";

/// The single-column schemas the raw format reads.
pub const RAW_TYPES: [&str; 11] = [
    "v BYTES",
    "v VARBINARY(3)",
    "v STRING",
    "v CHAR(2)",
    "v BOOLEAN",
    "v TINYINT",
    "v SMALLINT",
    "v INT",
    "v BIGINT",
    "v FLOAT",
    "v DOUBLE",
];

/// Columns the Avro format derives only with `avro.timestamp_mapping.legacy` = false.
pub const AVRO_NON_LEGACY_EXTRA: &str =
    ", ts6 TIMESTAMP(6), ts9 TIMESTAMP(9), ltz TIMESTAMP_LTZ(3), ltz6 TIMESTAMP_LTZ(6)";

/// The Avro table columns for the legacy timestamp mapping or not.
pub fn avro_columns(legacy: bool) -> String {
    if legacy {
        ALL_TYPES.to_string()
    } else {
        format!("{ALL_TYPES}{AVRO_NON_LEGACY_EXTRA}")
    }
}
