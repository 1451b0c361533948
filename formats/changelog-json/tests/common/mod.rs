//! What the test files share.

use headrace_sdk::format::FormatContext;
use headrace_sdk::options::{Options, RawOptions};
use headrace_sdk::schema::TableSchema;

/// A format context for a table of `cols` with the format options `opts` (without the format
/// prefix).
pub fn ctx(format: &str, cols: &str, opts: &[(&str, &str)]) -> FormatContext {
    let raw: RawOptions = opts
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    FormatContext {
        schema: TableSchema::parse_columns(cols)
            .unwrap()
            .physical_arrow_schema(),
        options: Options::new(format!("table 't' (format '{format}')"), raw),
    }
}
