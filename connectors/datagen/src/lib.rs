//! # Datagen source connector
//!
//! `'connector' = 'datagen'`: generates rows in memory, as Flink's DataGen connector does, with
//! Flink's options, defaults and semantics:
//!
//! ```sql
//! CREATE TABLE orders (
//!     order_number BIGINT,
//!     price        DECIMAL(32, 2),
//!     buyer        ROW<first_name STRING, last_name STRING>,
//!     order_time   TIMESTAMP(3)
//! ) WITH (
//!     'connector' = 'datagen',
//!     'fields.order_number.kind' = 'sequence',
//!     'fields.order_number.start' = '1',
//!     'fields.order_number.end' = '1000000',
//!     'fields.order_time.max-past' = '1 h'
//! );
//! ```
//!
//! | Option | Default | Type | Description |
//! |---|---|---|---|
//! | `rows-per-second` | 10000 | Long | Emit rate over all subtasks. |
//! | `number-of-rows` | (none) | Long | Total rows; unbounded when absent. |
//! | `scan.parallelism` | (none) | Integer | Number of readers. |
//! | `fields.#.kind` | random | String | `random` or `sequence`. |
//! | `fields.#.min` / `fields.#.max` | type's range | (field type) | Bounds of random numbers. |
//! | `fields.#.max-past` | 0 | Duration | Random timestamps up to this far before now. |
//! | `fields.#.length` | 100 / 3 | Integer | String/bytes length (100), collection size (3). |
//! | `fields.#.var-len` | false | Boolean | Variable-length strings/bytes (1..=length). |
//! | `fields.#.start` / `fields.#.end` | (none) | (field type) | Sequence bounds (inclusive, required). |
//! | `fields.#.null-rate` | 0 | Double | Proportion of NULLs. |
//! | `headrace.seed` | (none) | Long | **Headrace extension**: deterministic output. |
//!
//! Semantics:
//! - Every Flink type can be generated. Random strings are hexadecimal (Flink's `nextHexString`),
//!   DATE and TIME are the current date and time, TIMESTAMP/TIMESTAMP_LTZ are now minus a random
//!   duration up to `max-past`. Collections have `length` elements (MAP and MULTISET drop
//!   duplicate keys; multiset counts are 1..=10). Nested fields are configured by path:
//!   `fields.buyer.first_name.length`, `fields.tags.element.max`, `fields.m.key.length`.
//! - A sequence produces `start, start+1, ..., end` (a string sequence is the number as text) and
//!   makes the source bounded; with several sequences the shortest ends it; `number-of-rows`
//!   bounds it too.
//! - The row-index range is split into one split per reader; a split's state is its next row
//!   index, so a restored checkpoint continues without gap or duplicate. Values are a function of
//!   the seed and the row index (counter-based SplitMix64), so output does not depend on batch
//!   boundaries.
//! - The rate limiter works per batch and is exact on average; at low rates batches are small
//!   (about ten per second per reader).

pub mod error;
pub mod factory;
pub mod fields;
pub mod generator;
pub mod options;
pub mod source;

use std::sync::Arc;

use headrace_sdk::factory::ConnectorFactory;

pub use error::DatagenError;
pub use factory::DatagenFactory;
pub use source::{DatagenSource, DatagenSourceBuilder};

headrace_sdk::register_connector!(factory::DatagenFactory);

/// The datagen factory, for runners that register connectors explicitly.
pub fn factory() -> Arc<dyn ConnectorFactory> {
    Arc::new(DatagenFactory)
}
