//! `headrace-conformance-runner`: `headrace` with the built-in connectors and formats plus the
//! example `lines` connector. The conformance suite's crash checks run jobs with it and kill it.

fn main() -> std::process::ExitCode {
    let mut registry = headrace_cli::builtin_registry();
    registry.register_connector(headrace_example_connector::factory());
    headrace_integration_tests::conformance::runner_main(registry)
}
