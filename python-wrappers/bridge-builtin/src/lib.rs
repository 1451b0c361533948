//! The native library that the Flink bridge loads for Headrace's own connectors (`datagen`,
//! `print`, `blackhole`, `filesystem`, and with the `kafka` feature `kafka` and `upsert-kafka`)
//! and formats (`json`, `csv`, `raw`, `debezium-json`, `canal-json`, `maxwell-json`, and with the
//! `avro` feature `avro` and `avro-confluent`). Built as `libheadrace_bridge_builtin.so`; a user's
//! connector crate makes its own the same way.
//!
//! With `kafka`, exactly-once Kafka sinks use per-subtask transactions, the protocol that fits
//! Flink's Sink V2 committer (see `headrace_connector_kafka::subtask_txn`).

use headrace_sdk::registry::Registry;

/// The connectors and formats this library serves to Flink.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register_connector(headrace_connector_datagen::factory());
    r.register_connector(headrace_connector_print::factory());
    r.register_connector(headrace_connector_blackhole::factory());
    r.register_connector(headrace_connector_filesystem::factory());
    #[cfg(feature = "kafka")]
    {
        // Flink commits each writer subtask's committables separately and cannot fall back to
        // an older checkpoint: the sink's transactions must be per subtask.
        headrace_connector_kafka::sink::use_per_subtask_transactions();
        r.register_connector(headrace_connector_kafka::factory());
        r.register_connector(headrace_connector_kafka::upsert_factory());
    }
    #[cfg(feature = "avro")]
    {
        r.register_format(headrace_format_avro::factory());
        r.register_format(headrace_format_avro::confluent_factory());
    }
    r.register_format(headrace_format_json::factory());
    r.register_format(headrace_format_csv::factory());
    r.register_format(headrace_format_raw::factory());
    for f in headrace_format_changelog_json::factories() {
        r.register_format(f);
    }
    r
}

headrace_bridge::export_bridge!(registry);
