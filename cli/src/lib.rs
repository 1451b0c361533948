//! Library side of the `headrace` command: the built-in registry and the generated option reference.

mod app;
pub mod docs;

pub use app::main_with;

use std::sync::Arc;

use headrace_sdk::registry::Registry;

/// Every connector and format built into the `headrace` command, plus any registered globally with
/// `register_connector!` / `register_format!` by linked crates.
pub fn builtin_registry() -> Registry {
    let mut r = Registry::from_inventory();
    r.register_connector(headrace_connector_datagen::factory());
    r.register_connector(headrace_connector_print::factory());
    r.register_connector(headrace_connector_blackhole::factory());
    r.register_connector(headrace_connector_filesystem::factory());
    #[cfg(feature = "kafka")]
    {
        r.register_connector(headrace_connector_kafka::factory());
        r.register_connector(headrace_connector_kafka::upsert_factory());
    }
    r.register_format(headrace_format_json::factory());
    r.register_format(headrace_format_csv::factory());
    r.register_format(headrace_format_raw::factory());
    r.register_format(headrace_format_avro::factory());
    r.register_format(headrace_format_avro::confluent_factory());
    for f in headrace_format_changelog_json::factories() {
        r.register_format(f);
    }
    r.register_connector(Arc::new(headrace_runtime::testing::CommitFilesFactory));
    r
}
