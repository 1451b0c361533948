//! # Filesystem connector
//!
//! `'connector' = 'filesystem'`: reads files line by line (or Parquet files by row group, Avro
//! files by ranges of blocks) and
//! writes partitioned part files exactly once, with the keys, defaults and semantics of Flink's
//! filesystem connector:
//!
//! ```sql
//! CREATE TABLE events (
//!     id    BIGINT,
//!     msg   STRING,
//!     dt    STRING,
//!     hour  INT,
//!     file  STRING METADATA FROM 'file.path' VIRTUAL
//! ) PARTITIONED BY (dt, hour) WITH (
//!     'connector' = 'filesystem',
//!     'path' = '/data/events',
//!     'format' = 'csv'
//! );
//! ```
//!
//! | Option | Default | Type | Description |
//! |---|---|---|---|
//! | `path` | (required) | String | File or directory. |
//! | `format` | (required) | String | Format of each line, or `parquet`, `avro`. |
//! | `source.monitor-interval` | (none: bounded) | Duration | Re-list the path this often. |
//! | `source.path.regex-pattern` | (none) | String | Absolute paths must match. |
//! | `partition.default-name` | `__DEFAULT_PARTITION__` | String | Directory of NULL values. |
//! | `sink.rolling-policy.file-size` | 128 mb | MemorySize | Roll part files at this size. |
//! | `sink.rolling-policy.rollover-interval` | 30 min | Duration | Roll part files this old. |
//! | `sink.rolling-policy.inactivity-interval` | 30 min | Duration | Roll idle part files. |
//! | `sink.rolling-policy.check-interval` | 1 min | Duration | How often time rules are checked. |
//! | `sink.parallelism` | (none) | Integer | Number of writers. |
//! | `sink.partition-commit.policy.kind` | (none: no commit) | String | `success-file`. |
//! | `sink.partition-commit.trigger` | `process-time` | Enum | Or `partition-time`. |
//! | `sink.partition-commit.delay` | 0 s | Duration | Commit this long after. |
//! | `sink.partition-commit.success-file.name` | `_SUCCESS` | String | Success file. |
//! | `sink.partition-commit.watermark-time-zone` | `UTC` | String | Zone of watermarks. |
//! | `auto-compaction` | false | Boolean | Merge each checkpoint's files. |
//! | `compaction.file-size` | (rolling size) | MemorySize | Target of merged files. |
//! | `sink.shuffle-by-partition.enable` | false | Boolean | One writer per partition. |
//! | `partition.time-extractor.kind` | `default` | String | `custom` is rejected. |
//! | `partition.time-extractor.timestamp-pattern` | (first value) | String | `$dt $hour:00:00`. |
//! | `partition.time-extractor.timestamp-formatter` | `yyyy-MM-dd[ HH:mm:ss]` | String | Java pattern. |
//!
//! Metadata (read-only): `file.path` (STRING), `file.name` (STRING), `file.size` (BIGINT),
//! `file.modification-time` (TIMESTAMP_LTZ(3)).
//!
//! Semantics:
//! - Source: `path` is a file or a directory read recursively; names starting with `.` or `_`
//!   (files and directories) are skipped. One split per file, or per 64 MB block of a larger
//!   file (a block reads the lines that start in it, so parallel readers share a large file);
//!   a split's state is the byte offset and line number reached, so a checkpoint restores
//!   mid-file. Each line is one record for the
//!   format, reported as `file '<path>' line <n>` in errors. `k=v` directories fill the
//!   `PARTITIONED BY` columns (cast from text to the column type; `partition.default-name` and
//!   a missing directory give NULL). With `source.monitor-interval` the enumerator lists the path
//!   again when it has no pending file and the interval has passed; every path is handed out
//!   once, and the set of paths seen is part of the checkpointed state. Files are assumed
//!   immutable once they appear.
//! - Sink: insert-only. Rows are encoded one per line into hidden in-progress files
//!   `.part-<uuid>-<subtask>-<n>.inprogress.<uuid>` below `col=value/` directories (partition
//!   columns are not written into the files) and renamed to `part-<uuid>-<subtask>-<n>` when the
//!   checkpoint that covers them completes. Part files roll at `file-size`, after the rollover
//!   or inactivity interval (checked every `check-interval`, when rows arrive or at flushes),
//!   and **at every checkpoint** (Flink keeps row-format part files open across checkpoints
//!   through its recoverable writers; rolling at checkpoints gives the same exactly-once
//!   result with more, smaller files).
//! - Parquet (`'format' = 'parquet'`, cargo feature `parquet`, on by default): a bulk format,
//!   read and written by the connector with the `parquet` crate's Arrow reader and writer (see
//!   the `parquet` module for types and options). The source lists each file's footer and
//!   hands out **one split per row group**, whose state is the row group and the rows of it
//!   already emitted; only the table's stored columns are decoded (projection by name; a missing
//!   column or a type that cannot be read as the column's is an error naming it). Partition and
//!   metadata columns are filled as for line formats. The sink writes one Parquet file per part
//!   file with the same in-progress → committed life cycle; a Parquet file is only valid once
//!   its footer is written, so part files are finished at every checkpoint (Flink's
//!   `OnCheckpointRollingPolicy` for bulk formats) and at `sink.rolling-policy.file-size`
//!   (measured as bytes written plus the open row group's buffered size). Options:
//!   `parquet.compression` (`SNAPPY` by default, `ZSTD`, `UNCOMPRESSED`),
//!   `parquet.compression.codec.zstd.level`, `parquet.block.size` (row group size),
//!   `parquet.page.size`, `parquet.enable.dictionary`, `parquet.writer.version`. Not
//!   implemented (rejected as unknown options): `parquet.utc-timezone` (it concerns INT96
//!   timestamps, which are never written: timestamps are INT64 Parquet timestamps of the
//!   column's precision) and Parquet-MR's other `parquet.*` keys. Reading handles files
//!   compressed with SNAPPY, ZSTD or none (the other codecs are not compiled in).
//! - Avro (`'format' = 'avro'`, the `headrace-format-avro` crate registered): object container
//!   files read and written whole through the format's bulk hooks
//!   ([`BulkReader`](headrace_sdk::format::BulkReader),
//!   [`BulkWriter`](headrace_sdk::format::BulkWriter)), as Flink's `avro` format does for this
//!   connector. The sink writes one container file per part file with the schema Flink derives
//!   (the union of null and the record of the stored columns) and `avro.codec` (`snappy` by
//!   default), with the same in-progress → committed life cycle; like Parquet, part files are
//!   finished at every checkpoint and at `sink.rolling-policy.file-size` (bytes written plus the
//!   open block's uncompressed size; blocks close every 64 KiB). A file larger than 64 MiB is
//!   **split in 64 MiB byte ranges**, as Hadoop's and Flink's Avro readers do: each range reads
//!   the header, seeks to its start, skips to the first sync marker and reads the blocks whose
//!   preceding sync marker starts in the range (the first block belongs to the range holding the
//!   header's marker), so parallel readers share a file and every block is read once
//!   ([`BulkReader::read_range`](headrace_sdk::format::BulkReader::read_range)). A split is read
//!   on a thread of its own; its state is the rows of the range already emitted, which are
//!   decoded and skipped after a restore. Record numbers in errors of a range after the first
//!   count from the range's start (the message says so). Files
//!   written by other tools are read by resolving their writer schema to the table's columns by
//!   name (any codec this build has: null, deflate, snappy, zstandard). `auto-compaction`
//!   re-encodes the rows of a unit into one file. Partition and metadata columns are filled as
//!   for line formats.
//! - Partition commit (`sink.partition-commit.policy.kind` = `success-file`, partitioned tables
//!   only, as in Flink): an empty success file is written into a partition's directory once the
//!   part files of the checkpoints that wrote to it are visible and the trigger says the
//!   partition is finished; when a bounded job ends every partition written is committed. See
//!   the [`commit`] module for the triggers; `partition-time` follows the watermark of the
//!   source table's `WATERMARK` declaration (without one, partitions are committed only when
//!   the input ends). `metastore` and
//!   `custom` policies and the `custom` time extractor are rejected with an error.
//! - `auto-compaction` (with `compaction.file-size`, the rolling size by default): the part
//!   files each checkpoint wrote to a partition stay hidden until the checkpoint completes and
//!   are then merged into files of at most that size named `compacted-part-...` (lines are
//!   concatenated, Parquet and Avro rows re-encoded); see the [`compact`] module.
//! - `sink.shuffle-by-partition.enable`: rows are routed to writers by the hash of their
//!   partition values, so each partition is written by one writer; without it rows go to writers
//!   one to one or round-robin and each writer writes its own files of a partition
//!   (`auto-compaction` merges them per checkpoint).
//! - Not implemented (rejected as unknown options): `compaction.parallelism` (Flink's batch-mode
//!   compaction operator), `source.report-statistics`.

pub mod commit;
pub mod compact;
pub mod factory;
pub mod options;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod partition;
pub mod sink;
pub mod source;

use std::sync::Arc;

use headrace_sdk::factory::ConnectorFactory;

pub use factory::FileSystemFactory;
#[cfg(feature = "parquet")]
pub use parquet::ParquetFormat;
pub use sink::{FileSink, FileSinkBuilder};
pub use source::{FileSource, FileSourceBuilder, FileSplit};

headrace_sdk::register_connector!(factory::FileSystemFactory);

/// The filesystem factory, for runners that register connectors explicitly.
pub fn factory() -> Arc<dyn ConnectorFactory> {
    Arc::new(FileSystemFactory)
}

/// The `parquet` format, for runners that register formats explicitly (it is also registered
/// with `register_format!`, so [`Registry::from_inventory`](headrace_sdk::registry::Registry::from_inventory)
/// finds it).
#[cfg(feature = "parquet")]
pub fn parquet_format() -> Arc<dyn headrace_sdk::format::FormatFactory> {
    Arc::new(ParquetFormat)
}
