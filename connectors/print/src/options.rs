//! Options of the print connector, with Flink's keys and defaults.

use headrace_sdk::options::{ConfigOption, OptionSet};

/// `print-identifier`: a message prefixed to every line.
pub const PRINT_IDENTIFIER: ConfigOption<String> = ConfigOption::new("print-identifier")
    .description("Message that identifies the print and is prefixed to the output of each row.");

/// `standard-error`: print to standard error instead of standard output.
pub const STANDARD_ERROR: ConfigOption<bool> = ConfigOption::new("standard-error")
    .default_value("false")
    .description("True, if the format should print to standard error instead of standard out.");

/// `sink.parallelism`: the number of writers.
pub const SINK_PARALLELISM: ConfigOption<i32> = ConfigOption::new("sink.parallelism").description(
    "Defines the parallelism of the print sink operator. By default, the parallelism is \
         determined by the framework using the same parallelism of the upstream chained operator.",
);

/// Every option the print connector accepts besides `connector`.
pub fn option_set() -> OptionSet {
    OptionSet::new()
        .optional(PRINT_IDENTIFIER)
        .optional(STANDARD_ERROR)
        .optional(SINK_PARALLELISM)
}
