//! The native library that the Flink bridge loads for Headrace's own connectors (`datagen`,
//! `print`, `blackhole`, `filesystem`) and formats (`json`, `csv`, `raw`, `debezium-json`,
//! `canal-json`, `maxwell-json`). Built as `libheadrace_bridge_builtin.so`; a user's connector
//! crate makes its own the same way.

use headrace_sdk::registry::Registry;

/// The connectors and formats this library serves to Flink.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register_connector(headrace_connector_datagen::factory());
    r.register_connector(headrace_connector_print::factory());
    r.register_connector(headrace_connector_blackhole::factory());
    r.register_connector(headrace_connector_filesystem::factory());
    r.register_format(headrace_format_json::factory());
    r.register_format(headrace_format_csv::factory());
    r.register_format(headrace_format_raw::factory());
    for f in headrace_format_changelog_json::factories() {
        r.register_format(f);
    }
    r
}

headrace_bridge::export_bridge!(registry);
