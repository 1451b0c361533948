//! The `lines` example connector, exported to Flink: build with
//! `cargo build -p headrace-example-lines-bridge`, then generate its PyFlink package with
//! `python -m headrace_pyflink_gen --native-lib .../libheadrace_example_lines_bridge.so ...`.

use headrace_sdk::registry::Registry;

/// The connectors this library serves: only `lines`.
pub fn registry() -> Registry {
    Registry::new().with_connector(headrace_example_connector::LinesFactory)
}

headrace_bridge::export_bridge!(registry);
