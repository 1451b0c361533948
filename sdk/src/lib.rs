//! # Headrace SDK
//!
//! What a connector author implements, and nothing they should not have to:
//!
//! - a [`ConnectorFactory`](factory::ConnectorFactory) with an identifier and typed
//!   [options](options), which creates
//! - a [`DynamicSource`](source::DynamicSource) (split enumerator + readers, Flink's FLIP-27 model,
//!   with split state as [`VersionedBytes`](state::VersionedBytes)) and/or
//! - a [`DynamicSink`](sink::DynamicSink) (writer + optional two-phase [`Committer`](sink::Committer)).
//!
//! Data flows as Arrow record batches with a changelog kind per row
//! ([`ChangelogBatch`](changelog::ChangelogBatch)); [`row`] offers a row view. Types follow Flink's
//! logical types ([`types`]), mapped to Arrow as Flink's Python bridge maps them.
//!
//! Everything else derives from the declarations: option validation with suggestions, the DDL
//! identifier, the builder API ([`connector_builder!`]), the docs that `headrace connectors` prints
//! and the Python wrappers.

pub mod bad_records;
pub mod builder;
pub mod changelog;
pub mod error;
pub mod factory;
pub mod format;
pub mod options;
pub mod registry;
pub mod render;
pub mod row;
pub mod schema;
pub mod sink;
pub mod source;
pub mod state;
pub mod testing;
pub mod types;

pub use error::{Error, Result};

#[doc(hidden)]
pub use inventory;

/// The items most connectors use.
pub mod prelude {
    pub use crate::changelog::{ChangelogBatch, ChangelogMode, RowKind};
    pub use crate::error::{Error, RecordOrigin, Result};
    pub use crate::factory::{ConnectorFactory, FormatSlot, MetadataSpec, TableContext, CONNECTOR};
    pub use crate::format::{Decoder, Encoder, FormatContext, FormatFactory};
    pub use crate::options::{ConfigOption, MemorySize, OptionSet, OptionValue, Options};
    pub use crate::registry::Registry;
    pub use crate::row::{Row, RowBatchBuilder, Value};
    pub use crate::schema::{Column, TableSchema};
    pub use crate::sink::{
        CommitRecovery, Committer, DeliveryGuarantee, DynamicSink, SinkMetrics, SinkWriter,
        WriterContext,
    };
    pub use crate::source::{
        Boundedness, DynamicSource, EnumeratorContext, ReadEvent, ReaderContext, SourceMetrics,
        SourceReader, SourceSplit, SplitAssignment, SplitEnumerator,
    };
    pub use crate::state::VersionedBytes;
    pub use crate::types::{DataType, LogicalType};
    pub use arrow::array::RecordBatch;
    pub use arrow::datatypes::SchemaRef;
    pub use async_trait::async_trait;
}
