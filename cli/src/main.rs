//! `headrace`: run Flink SQL jobs on one machine with Headrace's built-in connectors.

fn main() -> std::process::ExitCode {
    headrace_cli::main_with(headrace_cli::builtin_registry())
}
