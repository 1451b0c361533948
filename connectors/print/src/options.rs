//! Options of the print connector, with Flink's keys and defaults.

use headrace_sdk::options::{ConfigOption, OptionSet};

/// `print-identifier`: a message prefixed to every line.
pub const PRINT_IDENTIFIER: ConfigOption<String> = ConfigOption::new("print-identifier")
    .description("Text put in front of every printed row, to tell several print sinks apart.");

/// `standard-error`: print to standard error instead of standard output.
pub const STANDARD_ERROR: ConfigOption<bool> = ConfigOption::new("standard-error")
    .default_value("false")
    .description("Print to standard error instead of standard output.");

/// `sink.parallelism`: the number of writers.
pub const SINK_PARALLELISM: ConfigOption<i32> = ConfigOption::new("sink.parallelism")
    .description("Number of parallel print writers; 'parallelism.default' applies when unset.");

/// Every option the print connector accepts besides `connector`.
pub fn option_set() -> OptionSet {
    OptionSet::new()
        .optional(PRINT_IDENTIFIER)
        .optional(STANDARD_ERROR)
        .optional(SINK_PARALLELISM)
}
