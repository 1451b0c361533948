//! # Kafka connectors
//!
//! `'connector' = 'kafka'` and `'connector' = 'upsert-kafka'` on librdkafka (built from source by
//! the `rdkafka` crate, so no system library is needed), with the option keys, defaults and
//! meanings of Flink's Kafka SQL connectors:
//!
//! ```sql
//! CREATE TABLE orders (
//!     id     BIGINT,
//!     amount DECIMAL(10, 2),
//!     ts     TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
//!     part   INT METADATA FROM 'partition' VIRTUAL
//! ) WITH (
//!     'connector' = 'kafka',
//!     'topic' = 'orders',
//!     'properties.bootstrap.servers' = 'localhost:9092',
//!     'properties.group.id' = 'reporting',
//!     'scan.startup.mode' = 'earliest-offset',
//!     'format' = 'json'
//! );
//! ```
//!
//! The generated option reference is `docs/connectors/kafka.md`.
//!
//! ## Source
//! One split per topic partition. The enumerator lists partitions (again every
//! `scan.topic-partition-discovery.interval` for unbounded reads; new topics matching
//! `topic-pattern` too) and hands each to reader `(hash(topic) * 31 + partition) % readers`, as
//! Flink does. It resolves the start offset of each split once, when the split is created
//! (`scan.startup.mode`; partitions found later start at their earliest offset), and the stop
//! offset of bounded reads (`scan.bounded.mode`); the split's state is the next offset to read,
//! checkpointed with the job. Offsets are committed to `properties.group.id` when a checkpoint
//! completes, for monitoring and for `group-offsets` starts; the job itself never relies on them.
//! Readers poll a `BaseConsumer` in a blocking task and decode whole batches; a stopped split is
//! done when a record at or past its stop offset arrives, or when the consumer's position passes
//! it (transaction markers take offsets no record is delivered for). Each batch holds records of
//! one partition (a record of another partition starts the next batch) and names its split, so
//! a table's `WATERMARK` is tracked per partition as in Flink: a partition without records holds
//! the watermark back until `scan.watermark.idle-timeout` marks it idle.
//!
//! Key and value: the value format (`value.format` or `format`) decodes the value columns (all
//! physical columns, or those not in the key with `value.fields-include` = `EXCEPT_KEY`); the key
//! format decodes `key.fields` (named without `key.fields-prefix`). Records without a value
//! (tombstones) are skipped by `kafka` and are deletions for `upsert-kafka`. Errors name the
//! topic, partition and offset of the record.
//!
//! ## upsert-kafka
//! The primary key is the message key (`key.format`), the other columns the value. The sink
//! writes `+I`/`+U` rows as values and `-D` rows as tombstones (key, no value); `-U` rows are
//! dropped. With `sink.buffer-flush.max-rows` and `.interval` (both > 0) rows are buffered per key
//! and only the last one is sent. The source normalizes the topic as Flink's planner does with
//! its ChangelogNormalize step: the first value of a key is `+I`, a changed value `-U` (the
//! previous row) then `+U`, a value equal to the previous one nothing, a tombstone `-D` with the
//! last row (nothing for a key never seen). The latest value of every key is kept per partition
//! and checkpointed with the partition's split, so state grows with the number of distinct keys
//! (Flink keeps the same in its normalization state); a key must always land in the same
//! partition, as the default partitioner guarantees.
//!
//! ## Sink and delivery guarantees
//! - `none`: records are handed to librdkafka; a checkpoint does not wait for them.
//! - `at-least-once` (default): each checkpoint flushes the producer and fails if any record was
//!   not acknowledged, so a completed checkpoint means everything before it is in Kafka.
//! - `exactly-once`: Kafka transactions, with the protocol below.
//!
//! `sink.partitioner` `default` uses librdkafka's `murmur2_random` partitioner, the Java client's
//! hash, so a key lands in the partition a Java producer (or Flink) would choose.
//!
//! ## The exactly-once protocol
//! Flink's Kafka sink resumes a pre-committed transaction after a crash by reaching into the Java
//! producer's internals (restoring its producer id and epoch). librdkafka offers no such thing:
//! `init_transactions` with the same `transactional.id` aborts whatever a previous incarnation
//! left open. Headrace therefore makes the Kafka commit itself the point of no return, and tells
//! after a crash whether it happened:
//!
//! 1. All writers of a sink share one transactional producer per checkpoint *epoch* (the records
//!    between two checkpoints), taken from a fixed pool of `headrace.sink.transactional-id-pool-size`
//!    ids `<prefix>-0 .. <prefix>-(n-1)` (epoch `e` uses id `e mod n`). A transaction begins only
//!    when the first record of an epoch is written, so idle checkpoints commit nothing.
//! 2. At checkpoint `N`, writers flush (every record acknowledged inside the open transaction)
//!    and hand over a committable naming the epoch and a random nonce; the writers move on to epoch
//!    `N + 1` on the next id of the pool.
//! 3. The runner writes checkpoint `N` (source offsets and committables) to disk.
//! 4. The committer adds a **commit marker** to the transaction, an offset commit of consumer
//!    group `<prefix>-headrace-commits` for partition 0 of the first topic with offset `N` and the
//!    nonce as metadata (`send_offsets_to_transaction`), and commits. The records and the marker
//!    become visible atomically.
//! 5. After a crash, the runner asks the committer to recover the newest checkpoint `N`: it
//!    initialises every id of the pool (fencing the dead producer: an open transaction is aborted,
//!    one whose commit had begun is completed by the broker), then reads the marker. If the marker
//!    is `N` with the checkpoint's nonce (or later), the transaction committed and the job resumes
//!    from `N`. Otherwise it was lost, and the runner restores checkpoint `N - 1` instead (whose
//!    transaction committed before `N` was taken), so the lost records are read and written again.
//!
//! A crash before step 3 restores `N - 1` and aborts the open transaction; between 3 and 4, or
//! during 4, the marker says whether the commit happened. Records are never lost and never
//! written twice, as seen by `read_committed` consumers.
//!
//! A job may have several exactly-once Kafka sinks (one per INSERT), each with its own
//! `sink.transactional-id-prefix` (the runner refuses two sinks with one prefix when it plans the
//! job). A crash between their commits of checkpoint `N` leaves one committed and the other lost:
//! the runner then restores each INSERT from its own checkpoint (the first from `N`, the second
//! from `N - 1`), so each topic still gets every record once. INSERTs that share a dead-letter
//! table fall back together. Exactly-once Kafka sinks say their commits can be lost
//! (`DynamicSink::commits_may_be_lost`), so the runner commits them before the other sinks and
//! asks them first after a crash: a filesystem sink of the same group never has a checkpoint
//! committed that its group then writes again. Two exactly-once Kafka sinks in one group (or an
//! exactly-once Kafka dead-letter table behind an exactly-once Kafka sink) keep the old limit: a
//! crash between their commits can write one checkpoint's records twice to the one that
//! committed.
//!
//! Other limits: the transaction must not time out between two checkpoints
//! (`properties.transaction.timeout.ms`, 15 minutes by default here, at most the broker's
//! `transaction.max.timeout.ms`); the prefix must be unique among the jobs writing to the
//! cluster. The pool of ids is fixed, so the broker keeps a bounded number of transactional ids.
//!
//! Inside Apache Flink (the JNI bridge) a different protocol applies, with one transaction per
//! writer subtask, producers that outlive a failed task, and a replay of a lost transaction's
//! records kept in its committable: see [`subtask_txn`].

pub mod client;
pub mod factory;
pub mod layout;
pub mod options;
pub mod sink;
pub mod source;
pub mod subtask_txn;

use std::sync::Arc;

use headrace_sdk::factory::ConnectorFactory;

pub use factory::{KafkaFactory, UpsertKafkaFactory};
pub use sink::KafkaSink;
pub use source::{KafkaSource, KafkaSplit};

headrace_sdk::register_connector!(factory::KafkaFactory);
headrace_sdk::register_connector!(factory::UpsertKafkaFactory);

/// The `kafka` factory, for runners that register connectors explicitly.
pub fn factory() -> Arc<dyn ConnectorFactory> {
    Arc::new(KafkaFactory)
}

/// The `upsert-kafka` factory.
pub fn upsert_factory() -> Arc<dyn ConnectorFactory> {
    Arc::new(UpsertKafkaFactory)
}

headrace_sdk::connector_builder! {
    /// Builds a Kafka source, like PyFlink's `KafkaSource.builder()`:
    ///
    /// ```no_run
    /// use headrace_connector_kafka::KafkaSource;
    /// use headrace_connector_kafka::options::StartupMode;
    /// let source = KafkaSource::builder()
    ///     .bootstrap_servers("localhost:9092")
    ///     .topics(vec!["orders".to_string()])
    ///     .group_id("reporting")
    ///     .starting_offsets(StartupMode::EarliestOffset)
    ///     .value_format("json")
    ///     .columns("id BIGINT, amount DOUBLE")?
    ///     .build()?;
    /// # Ok::<(), headrace_sdk::Error>(())
    /// ```
    pub struct KafkaSourceBuilder(KafkaFactory) {
        bootstrap_servers: options::BOOTSTRAP_SERVERS as String,
        topics: options::TOPIC as Vec<String>,
        topic_pattern: options::TOPIC_PATTERN as String,
        group_id: options::GROUP_ID as String,
        starting_offsets: options::SCAN_STARTUP_MODE as options::StartupMode,
        starting_specific_offsets: options::SCAN_STARTUP_SPECIFIC_OFFSETS as String,
        starting_timestamp_millis: options::SCAN_STARTUP_TIMESTAMP_MILLIS as i64,
        bounded: options::SCAN_BOUNDED_MODE as options::BoundedMode,
        bounded_specific_offsets: options::SCAN_BOUNDED_SPECIFIC_OFFSETS as String,
        bounded_timestamp_millis: options::SCAN_BOUNDED_TIMESTAMP_MILLIS as i64,
        partition_discovery_interval: options::SCAN_TOPIC_PARTITION_DISCOVERY_INTERVAL as std::time::Duration,
        value_format: options::VALUE_FORMAT as String,
        key_format: options::KEY_FORMAT as String,
        key_fields: options::KEY_FIELDS as Vec<String>,
        parallelism: options::SCAN_PARALLELISM as usize,
    }
}

headrace_sdk::connector_builder! {
    /// Builds a Kafka sink, like PyFlink's `KafkaSink.builder()`.
    pub struct KafkaSinkBuilder(KafkaFactory) {
        bootstrap_servers: options::BOOTSTRAP_SERVERS as String,
        topics: options::TOPIC as Vec<String>,
        value_format: options::VALUE_FORMAT as String,
        key_format: options::KEY_FORMAT as String,
        key_fields: options::KEY_FIELDS as Vec<String>,
        partitioner: options::SINK_PARTITIONER as options::SinkPartitioner,
        delivery_guarantee: options::SINK_DELIVERY_GUARANTEE as headrace_sdk::sink::DeliveryGuaranteeOption,
        transactional_id_prefix: options::SINK_TRANSACTIONAL_ID_PREFIX as String,
        parallelism: options::SINK_PARALLELISM as usize,
    }
}

impl KafkaSource {
    /// A builder with PyFlink's setters in Rust naming.
    pub fn builder() -> KafkaSourceBuilder {
        KafkaSourceBuilder::default()
    }
}

impl KafkaSourceBuilder {
    /// A librdkafka / Kafka client property (`properties.<key>`).
    pub fn property(self, key: &str, value: impl Into<String>) -> Self {
        self.option(format!("properties.{key}"), value)
    }

    /// Validate and create the source.
    pub fn build(&self) -> headrace_sdk::Result<Arc<dyn headrace_sdk::source::DynamicSource>> {
        self.build_source()
    }
}

impl KafkaSink {
    /// A builder with PyFlink's setters in Rust naming.
    pub fn builder() -> KafkaSinkBuilder {
        KafkaSinkBuilder::default()
    }
}

impl KafkaSinkBuilder {
    /// A librdkafka / Kafka client property (`properties.<key>`).
    pub fn property(self, key: &str, value: impl Into<String>) -> Self {
        self.option(format!("properties.{key}"), value)
    }

    /// Validate and create the sink.
    pub fn build(&self) -> headrace_sdk::Result<Arc<dyn headrace_sdk::sink::DynamicSink>> {
        self.build_sink()
    }
}
