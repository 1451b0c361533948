//! Options of the blackhole connector.
//!
//! Flink's BlackHole connector has no options besides `connector`; neither has this one.

use headrace_sdk::options::OptionSet;

/// The (empty) set of options the blackhole connector accepts besides `connector`.
pub fn option_set() -> OptionSet {
    OptionSet::new()
}
