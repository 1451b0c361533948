//! Options of the datagen connector, with Flink's keys, defaults and meanings.
//!
//! Per-field options are templates: `#` stands for a column name (`fields.id.kind`) or, for the
//! random generator, for a nested field path: `fields.buyer.first_name.length` (a `ROW` field),
//! `fields.tags.element.max` (the elements of an `ARRAY` or `MULTISET`), `fields.m.key.length` and
//! `fields.m.value.null-rate` (the keys and values of a `MAP`).
//!
//! `headrace.seed` is a Headrace extension (Flink has no equivalent): it makes the random output
//! deterministic.

use std::time::Duration;

use headrace_sdk::options::{ConfigOption, OptionSet};

headrace_sdk::option_enum! {
    /// `fields.#.kind`: how a field's values are produced.
    pub enum FieldKind {
        /// Random values (the default).
        Random = "random",
        /// A sequence from `fields.#.start` to `fields.#.end`, which makes the source bounded.
        Sequence = "sequence",
    }
}

/// `rows-per-second`: the emit rate over all subtasks.
pub const ROWS_PER_SECOND: ConfigOption<i64> = ConfigOption::new("rows-per-second")
    .default_value("10000")
    .description(
        "Upper bound on the rows emitted each second by the whole source; each reader \
         takes an equal share.",
    );

/// `number-of-rows`: the total number of rows; unbounded when absent.
pub const NUMBER_OF_ROWS: ConfigOption<i64> = ConfigOption::new("number-of-rows").description(
    "How many rows the source emits before it ends. Without it the source runs forever, \
     unless a sequence field runs out first.",
);

/// `scan.parallelism`: the number of readers.
pub const SCAN_PARALLELISM: ConfigOption<i32> = ConfigOption::new("scan.parallelism").description(
    "Number of parallel readers for this source; 'parallelism.default' applies when unset.",
);

/// `headrace.seed` (Headrace extension): seed of the random generators.
pub const SEED: ConfigOption<i64> = ConfigOption::new("headrace.seed").description(
    "Headrace extension, not in Flink: seed of the random generators. With a seed the output is \
     deterministic: the same seed, schema and options give the same rows for the same row index, \
     whatever the batch size, and DATE/TIME/TIMESTAMP values are computed from the fixed \
     reference instant 2024-01-01T00:00:00Z instead of the wall clock. Without it a random seed \
     is chosen when the source is created.",
);

/// `fields.#.kind`: `random` (default) or `sequence`.
pub const FIELD_KIND: ConfigOption<FieldKind> = ConfigOption::new("fields.#.kind")
    .default_value("random")
    .description("How column '#' is filled: 'random' values or a 'sequence' from start to end.");

/// `fields.#.min`: the smallest random value (numeric types).
pub const FIELD_MIN: ConfigOption<String> = ConfigOption::new("fields.#.min").description(
    "Lower bound (inclusive) of random values of a numeric column, written as a value of its \
     type; the type's smallest value when unset.",
);

/// `fields.#.max`: the largest random value (numeric types).
pub const FIELD_MAX: ConfigOption<String> = ConfigOption::new("fields.#.max").description(
    "Upper bound (inclusive) of random values of a numeric column, written as a value of its \
     type; the type's largest value when unset.",
);

/// `fields.#.max-past`: how far in the past random timestamps may lie.
pub const FIELD_MAX_PAST: ConfigOption<Duration> = ConfigOption::new("fields.#.max-past")
    .default_value("0 ms")
    .description(
        "For random TIMESTAMP and TIMESTAMP_LTZ columns: values fall between this long before \
         the machine's current time and the current time.",
    );

/// `fields.#.length`: string/bytes length, or collection size.
pub const FIELD_LENGTH: ConfigOption<i32> = ConfigOption::new("fields.#.length")
    .default_value("100")
    .description(
        "Length of generated VARCHAR/STRING/VARBINARY/BYTES values (100 when unset, capped by \
         the declared length), or number of elements of ARRAY/MAP/MULTISET values (3 when \
         unset). CHAR(n) and BINARY(n) values always have n characters or bytes.",
    );

/// `fields.#.var-len`: variable-length strings and bytes.
pub const FIELD_VAR_LEN: ConfigOption<bool> = ConfigOption::new("fields.#.var-len")
    .default_value("false")
    .description(
        "Draw each value's length uniformly between 1 and 'fields.#.length' instead of always \
         using that length (VARCHAR, STRING, VARBINARY, BYTES only).",
    );

/// `fields.#.start`: first value of a sequence.
pub const FIELD_START: ConfigOption<String> = ConfigOption::new("fields.#.start")
    .description("First value (inclusive) of a sequence column, written as a value of its type.");

/// `fields.#.end`: last value of a sequence.
pub const FIELD_END: ConfigOption<String> = ConfigOption::new("fields.#.end")
    .description("Last value (inclusive) of a sequence column, written as a value of its type.");

/// `fields.#.null-rate`: the share of NULL values.
pub const FIELD_NULL_RATE: ConfigOption<f64> = ConfigOption::new("fields.#.null-rate")
    .default_value("0")
    .description("Share of NULL values in the column, from 0 (none) to 1 (all).");

/// Every option the datagen connector accepts besides `connector`.
pub fn option_set() -> OptionSet {
    OptionSet::new()
        .optional(ROWS_PER_SECOND)
        .optional(NUMBER_OF_ROWS)
        .optional(SCAN_PARALLELISM)
        .optional(SEED)
        .template(FIELD_KIND)
        .template(FIELD_MIN)
        .template(FIELD_MAX)
        .template(FIELD_MAX_PAST)
        .template(FIELD_LENGTH)
        .template(FIELD_VAR_LEN)
        .template(FIELD_START)
        .template(FIELD_END)
        .template(FIELD_NULL_RATE)
}

/// The key of a per-field template for `field` (e.g. `fields.id.kind`).
pub fn field_key<T>(template: &ConfigOption<T>, field: &str) -> String
where
    T: headrace_sdk::options::OptionValue,
{
    template.key().replacen('#', field, 1)
}
