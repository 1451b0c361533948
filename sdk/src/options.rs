//! Typed option declarations and their validation.
//!
//! An option is declared once, as a constant:
//!
//! ```
//! use headrace_sdk::options::ConfigOption;
//! use std::time::Duration;
//!
//! pub const ROWS_PER_SECOND: ConfigOption<i64> = ConfigOption::new("rows-per-second")
//!     .default_value("10000")
//!     .description("Rows per second to emit.");
//! pub const INTERVAL: ConfigOption<Duration> = ConfigOption::new("sink.buffer-flush.interval")
//!     .default_value("1 s")
//!     .description("Flush interval.");
//! ```
//!
//! Validation, error messages, `headrace connectors`, the generated docs and the Python wrappers all
//! read these declarations through [`OptionDescriptor`]. Values are written as Flink writes them:
//! durations as `'10 s'`, `'1 min'`, `'500ms'`; memory sizes as `'5 mb'`; lists separated by `;`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::error::{did_you_mean, Error, Result};

/// A value type an option can have.
pub trait OptionValue: Sized + Clone + Send + Sync + 'static {
    /// The type's name in docs and errors ("Duration", "Integer", "Enum", ...).
    fn type_name() -> &'static str;
    /// Parse the string form. The error says what is allowed.
    fn parse_option(s: &str) -> std::result::Result<Self, String>;
    /// The string form, such that `parse_option(to_option_string(v)) == v`.
    fn to_option_string(&self) -> String;
    /// For enumerations, the allowed values.
    fn allowed_values() -> Vec<&'static str> {
        Vec::new()
    }
}

impl OptionValue for String {
    fn type_name() -> &'static str {
        "String"
    }
    fn parse_option(s: &str) -> std::result::Result<Self, String> {
        Ok(s.to_string())
    }
    fn to_option_string(&self) -> String {
        self.clone()
    }
}

impl OptionValue for bool {
    fn type_name() -> &'static str {
        "Boolean"
    }
    fn parse_option(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("expected 'true' or 'false'".into()),
        }
    }
    fn to_option_string(&self) -> String {
        self.to_string()
    }
}

macro_rules! int_option {
    ($t:ty, $name:literal) => {
        impl OptionValue for $t {
            fn type_name() -> &'static str {
                $name
            }
            fn parse_option(s: &str) -> std::result::Result<Self, String> {
                s.trim().parse::<$t>().map_err(|_| {
                    format!(
                        "expected a whole number between {} and {}",
                        <$t>::MIN,
                        <$t>::MAX
                    )
                })
            }
            fn to_option_string(&self) -> String {
                self.to_string()
            }
        }
    };
}
int_option!(i32, "Integer");
int_option!(i64, "Long");
int_option!(u32, "Integer");
int_option!(u64, "Long");

impl OptionValue for usize {
    fn type_name() -> &'static str {
        "Integer"
    }
    fn parse_option(s: &str) -> std::result::Result<Self, String> {
        s.trim()
            .parse::<usize>()
            .map_err(|_| "expected a whole number of 0 or more".to_string())
    }
    fn to_option_string(&self) -> String {
        self.to_string()
    }
}

impl OptionValue for f64 {
    fn type_name() -> &'static str {
        "Double"
    }
    fn parse_option(s: &str) -> std::result::Result<Self, String> {
        s.trim()
            .parse::<f64>()
            .map_err(|_| "expected a number such as 0.5".to_string())
    }
    fn to_option_string(&self) -> String {
        self.to_string()
    }
}

impl OptionValue for Duration {
    fn type_name() -> &'static str {
        "Duration"
    }
    fn parse_option(s: &str) -> std::result::Result<Self, String> {
        parse_duration(s)
    }
    fn to_option_string(&self) -> String {
        format_duration(*self)
    }
}

/// A number of bytes, written as Flink writes memory sizes (`'5 mb'`, `'64kb'`, `'1 gb'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemorySize(pub u64);

impl MemorySize {
    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl OptionValue for MemorySize {
    fn type_name() -> &'static str {
        "MemorySize"
    }
    fn parse_option(s: &str) -> std::result::Result<Self, String> {
        parse_memory_size(s).map(MemorySize)
    }
    fn to_option_string(&self) -> String {
        let b = self.0;
        for (unit, size) in [
            ("tb", 1u64 << 40),
            ("gb", 1 << 30),
            ("mb", 1 << 20),
            ("kb", 1 << 10),
        ] {
            if b >= size && b % size == 0 {
                return format!("{} {unit}", b / size);
            }
        }
        format!("{b} bytes")
    }
}

impl OptionValue for Vec<String> {
    fn type_name() -> &'static str {
        "List<String>"
    }
    fn parse_option(s: &str) -> std::result::Result<Self, String> {
        Ok(s.split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect())
    }
    fn to_option_string(&self) -> String {
        self.join(";")
    }
}

/// Parse a Flink duration: a number with an optional unit (default milliseconds).
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let hint = "expected a duration such as '10 s', '1 min', '500 ms' or '2 h' \
                (units: d, h, min, s, ms, us, ns; no unit means ms)";
    if num.is_empty() {
        return Err(hint.to_string());
    }
    let n: f64 = num.parse().map_err(|_| hint.to_string())?;
    let nanos_per: f64 = match unit.as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1e6,
        "d" | "day" | "days" => 86_400e9,
        "h" | "hour" | "hours" => 3_600e9,
        "m" | "min" | "mins" | "minute" | "minutes" => 60e9,
        "s" | "sec" | "secs" | "second" | "seconds" => 1e9,
        "us" | "µs" | "micro" | "micros" | "microsecond" | "microseconds" => 1e3,
        "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => 1.0,
        _ => return Err(format!("unknown time unit '{unit}'; {hint}")),
    };
    let nanos = n * nanos_per;
    if !nanos.is_finite() || nanos > u64::MAX as f64 {
        return Err("duration is too large".into());
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Format a duration the way Flink prints it (largest exact unit).
pub fn format_duration(d: Duration) -> String {
    let n = d.as_nanos();
    if n == 0 {
        return "0 ms".into();
    }
    for (unit, size) in [
        ("d", 86_400_000_000_000u128),
        ("h", 3_600_000_000_000),
        ("min", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if n % size == 0 {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} ns")
}

/// Parse a Flink memory size: a number with an optional unit (default bytes).
pub fn parse_memory_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let hint = "expected a memory size such as '128 mb', '64kb' or '1 gb' \
                (units: b, kb, mb, gb, tb; no unit means bytes)";
    let n: u64 = num.parse().map_err(|_| hint.to_string())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kibibytes" => 1 << 10,
        "m" | "mb" | "mebibytes" => 1 << 20,
        "g" | "gb" | "gibibytes" => 1 << 30,
        "t" | "tb" | "tebibytes" => 1 << 40,
        other => return Err(format!("unknown memory unit '{other}'; {hint}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| "memory size is too large".to_string())
}

/// Declare an enumeration usable as an option value, with Flink's string forms.
///
/// ```
/// headrace_sdk::option_enum! {
///     /// How a reader starts.
///     pub enum StartupMode {
///         /// From the beginning.
///         Earliest = "earliest-offset",
///         /// From the end.
///         Latest = "latest-offset",
///     }
/// }
/// ```
#[macro_export]
macro_rules! option_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $($(#[$vm])* $variant),+ }
        impl $crate::options::OptionValue for $name {
            fn type_name() -> &'static str { "Enum" }
            fn parse_option(s: &str) -> ::std::result::Result<Self, String> {
                let t = s.trim();
                $(if t.eq_ignore_ascii_case($s) { return Ok($name::$variant); })+
                Err(format!("expected one of: {}", [$($s),+].join(", ")))
            }
            fn to_option_string(&self) -> String {
                match self { $($name::$variant => $s.to_string()),+ }
            }
            fn allowed_values() -> Vec<&'static str> { vec![$($s),+] }
        }
    };
}

/// A typed option declaration: key, type, default and description.
pub struct ConfigOption<T> {
    key: &'static str,
    default: Option<&'static str>,
    description: &'static str,
    fallback_keys: &'static [&'static str],
    deprecated_keys: &'static [&'static str],
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for ConfigOption<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ConfigOption<T> {}

impl<T> fmt::Debug for ConfigOption<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigOption")
            .field("key", &self.key)
            .field("default", &self.default)
            .finish()
    }
}

impl<T: OptionValue> ConfigOption<T> {
    /// Declare an option with this key and no default.
    pub const fn new(key: &'static str) -> Self {
        ConfigOption {
            key,
            default: None,
            description: "",
            fallback_keys: &[],
            deprecated_keys: &[],
            _type: PhantomData,
        }
    }

    /// The default, written as a user would write it (parsed with the option's type).
    pub const fn default_value(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }

    /// The description shown in errors, docs and Python docstrings.
    pub const fn description(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// Keys read when this key is absent (current alternatives, e.g. `format` for `value.format`).
    pub const fn fallback_keys(mut self, keys: &'static [&'static str]) -> Self {
        self.fallback_keys = keys;
        self
    }

    /// Old keys still accepted, with a warning.
    pub const fn deprecated_keys(mut self, keys: &'static [&'static str]) -> Self {
        self.deprecated_keys = keys;
        self
    }

    /// The option's key.
    pub const fn key(&self) -> &'static str {
        self.key
    }

    /// The declared default, as written.
    pub const fn default_str(&self) -> Option<&'static str> {
        self.default
    }

    /// The type-erased description used by validation, docs and generators.
    pub fn descriptor(&self) -> OptionDescriptor {
        OptionDescriptor {
            key: self.key,
            type_name: T::type_name(),
            default: self.default,
            description: self.description,
            fallback_keys: self.fallback_keys,
            deprecated_keys: self.deprecated_keys,
            allowed_values: T::allowed_values(),
            check: |s| T::parse_option(s).map(|_| ()),
        }
    }

    /// Parse a value for this option, with an error naming the key.
    pub fn parse(&self, context: &str, value: &str) -> Result<T> {
        T::parse_option(value).map_err(|reason| Error::InvalidOption {
            context: context.to_string(),
            key: self.key.to_string(),
            value: value.to_string(),
            reason,
        })
    }
}

/// A type-erased option declaration.
#[derive(Clone)]
pub struct OptionDescriptor {
    /// The key.
    pub key: &'static str,
    /// The value type's name.
    pub type_name: &'static str,
    /// The default as written, if any.
    pub default: Option<&'static str>,
    /// The description.
    pub description: &'static str,
    /// Alternative keys read when the key is absent.
    pub fallback_keys: &'static [&'static str],
    /// Deprecated keys still accepted.
    pub deprecated_keys: &'static [&'static str],
    /// For enumerations, the allowed values.
    pub allowed_values: Vec<&'static str>,
    /// Checks that a value parses.
    pub check: fn(&str) -> std::result::Result<(), String>,
}

impl fmt::Debug for OptionDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OptionDescriptor")
            .field("key", &self.key)
            .field("type", &self.type_name)
            .field("default", &self.default)
            .finish()
    }
}

impl OptionDescriptor {
    /// Every key under which this option may be given.
    pub fn all_keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.key)
            .chain(self.fallback_keys.iter().copied())
            .chain(self.deprecated_keys.iter().copied())
    }
}

/// A family of keys forwarded as they are, e.g. `properties.*` to the Kafka client.
#[derive(Debug, Clone)]
pub struct PrefixOption {
    /// The prefix, ending with a dot (`"properties."`).
    pub prefix: &'static str,
    /// What the forwarded keys configure.
    pub description: &'static str,
}

/// A template of keys with a placeholder, e.g. datagen's `fields.#.kind` (`#` is a column name).
#[derive(Debug, Clone)]
pub struct TemplateOption {
    /// The key with `#` where a name goes.
    pub template: &'static str,
    /// The declaration used to check values and for docs (its key is the template).
    pub option: OptionDescriptor,
}

impl TemplateOption {
    /// Whether `key` matches the template; returns the placeholder's value.
    pub fn matches<'k>(&self, key: &'k str) -> Option<&'k str> {
        let (pre, post) = self.template.split_once('#')?;
        let mid = key.strip_prefix(pre)?.strip_suffix(post)?;
        (!mid.is_empty()).then_some(mid)
    }
}

/// The set of options a factory accepts.
#[derive(Debug, Clone, Default)]
pub struct OptionSet {
    /// Options that must be present.
    pub required: Vec<OptionDescriptor>,
    /// Options that may be present.
    pub optional: Vec<OptionDescriptor>,
    /// Forwarded key families.
    pub prefixes: Vec<PrefixOption>,
    /// Key templates (with `#`).
    pub templates: Vec<TemplateOption>,
}

impl OptionSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Add a required option.
    pub fn required<T: OptionValue>(mut self, o: ConfigOption<T>) -> Self {
        self.required.push(o.descriptor());
        self
    }
    /// Add an optional option.
    pub fn optional<T: OptionValue>(mut self, o: ConfigOption<T>) -> Self {
        self.optional.push(o.descriptor());
        self
    }
    /// Add a forwarded prefix.
    pub fn prefix(mut self, prefix: &'static str, description: &'static str) -> Self {
        self.prefixes.push(PrefixOption {
            prefix,
            description,
        });
        self
    }
    /// Add a key template such as `fields.#.kind`.
    pub fn template<T: OptionValue>(mut self, o: ConfigOption<T>) -> Self {
        self.templates.push(TemplateOption {
            template: o.key(),
            option: o.descriptor(),
        });
        self
    }
    /// Every declared option, required first.
    pub fn all(&self) -> impl Iterator<Item = &OptionDescriptor> {
        self.required.iter().chain(self.optional.iter())
    }
}

/// Raw key/value options as written in a `WITH (...)` clause or set through a builder.
pub type RawOptions = BTreeMap<String, String>;

/// Options that passed validation, read with typed getters.
#[derive(Debug, Clone)]
pub struct Options {
    context: String,
    map: RawOptions,
}

impl Options {
    /// Wrap raw options; `context` names where they come from in error messages.
    pub fn new(context: impl Into<String>, map: RawOptions) -> Self {
        Options {
            context: context.into(),
            map,
        }
    }

    /// The context used in error messages.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The raw map.
    pub fn raw(&self) -> &RawOptions {
        &self.map
    }

    /// These options with `key` set to `value` unless it is already set.
    pub fn with_default(mut self, key: &str, value: impl Into<String>) -> Self {
        self.map
            .entry(key.to_string())
            .or_insert_with(|| value.into());
        self
    }

    fn find<T: OptionValue>(&self, o: &ConfigOption<T>) -> Option<(&'static str, &str)> {
        std::iter::once(o.key)
            .chain(o.fallback_keys.iter().copied())
            .chain(o.deprecated_keys.iter().copied())
            .find_map(|k| self.map.get(k).map(|v| (k, v.as_str())))
    }

    /// The value if set (under its key, a fallback or a deprecated key), else None.
    pub fn get_optional<T: OptionValue>(&self, o: &ConfigOption<T>) -> Result<Option<T>> {
        match self.find(o) {
            Some((k, v)) => T::parse_option(v)
                .map(Some)
                .map_err(|reason| Error::InvalidOption {
                    context: self.context.clone(),
                    key: k.to_string(),
                    value: v.to_string(),
                    reason,
                }),
            None => Ok(None),
        }
    }

    /// The value if set, else the declared default; an error if neither exists.
    pub fn get<T: OptionValue>(&self, o: &ConfigOption<T>) -> Result<T> {
        if let Some(v) = self.get_optional(o)? {
            return Ok(v);
        }
        match o.default {
            Some(d) => o.parse(&self.context, d),
            None => Err(Error::MissingOption {
                context: self.context.clone(),
                key: o.key.to_string(),
                description: o.description.to_string(),
            }),
        }
    }

    /// Whether the option is set explicitly.
    pub fn contains<T: OptionValue>(&self, o: &ConfigOption<T>) -> bool {
        self.find(o).is_some()
    }

    /// All keys under `prefix`, with the prefix removed (e.g. `properties.` for the Kafka client).
    pub fn with_prefix(&self, prefix: &str) -> BTreeMap<String, String> {
        self.map
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|s| (s.to_string(), v.clone())))
            .collect()
    }

    /// Options for a format: keys `{prefix}{format}.x` become `x`.
    pub fn format_options(&self, prefix: &str, format: &str) -> Options {
        let p = format!("{prefix}{format}.");
        Options {
            context: format!("{} (format '{format}')", self.context),
            map: self.with_prefix(&p),
        }
    }

    /// An error for conflicting options, with this context.
    pub fn conflict(&self, message: impl Into<String>) -> Error {
        Error::ConflictingOptions {
            context: self.context.clone(),
            message: message.into(),
        }
    }

    /// An error for an invalid value of an option, with this context.
    pub fn invalid<T: OptionValue>(
        &self,
        o: &ConfigOption<T>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Error {
        Error::InvalidOption {
            context: self.context.clone(),
            key: o.key.to_string(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// A set of accepted keys for one validation, built from option sets under prefixes.
#[derive(Default)]
pub struct Validator<'a> {
    entries: Vec<(String, &'a OptionSet)>,
    extra_keys: Vec<String>,
}

impl<'a> Validator<'a> {
    /// An empty validator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept the options of `set`, with `prefix` in front of each key (`""` for the connector's own).
    pub fn add(&mut self, prefix: impl Into<String>, set: &'a OptionSet) -> &mut Self {
        self.entries.push((prefix.into(), set));
        self
    }

    /// Accept one more key as it is (e.g. `connector`).
    pub fn accept_key(&mut self, key: impl Into<String>) -> &mut Self {
        self.extra_keys.push(key.into());
        self
    }

    /// Check `options` as Flink's `FactoryUtil` does: unknown keys, missing required keys, and values
    /// that do not parse are errors. Deprecated keys log a warning.
    pub fn validate(&self, context: &str, options: &RawOptions) -> Result<()> {
        let mut known: BTreeSet<String> = self.extra_keys.iter().cloned().collect();
        for (prefix, set) in &self.entries {
            for o in set.all() {
                for k in o.all_keys() {
                    known.insert(format!("{prefix}{k}"));
                }
            }
        }
        for (key, value) in options {
            if known.contains(key) {
                continue;
            }
            if self.entries.iter().any(|(prefix, set)| {
                set.prefixes
                    .iter()
                    .any(|p| key.starts_with(&format!("{prefix}{}", p.prefix)))
            }) {
                continue;
            }
            let templated = self.entries.iter().find_map(|(prefix, set)| {
                let rest = key.strip_prefix(prefix.as_str())?;
                set.templates.iter().find(|t| t.matches(rest).is_some())
            });
            if let Some(t) = templated {
                (t.option.check)(value).map_err(|reason| Error::InvalidOption {
                    context: context.to_string(),
                    key: key.clone(),
                    value: value.clone(),
                    reason,
                })?;
                continue;
            }
            let mut display: Vec<String> = known.iter().cloned().collect();
            for (prefix, set) in &self.entries {
                display.extend(
                    set.prefixes
                        .iter()
                        .map(|p| format!("{prefix}{}*", p.prefix)),
                );
                display.extend(
                    set.templates
                        .iter()
                        .map(|t| format!("{prefix}{}", t.template)),
                );
            }
            display.sort();
            return Err(Error::UnknownOption {
                context: context.to_string(),
                key: key.clone(),
                suggestion: did_you_mean(key, known.iter().map(String::as_str)),
                supported: display.join(", "),
            });
        }
        for (prefix, set) in &self.entries {
            for o in set.all() {
                let found = o.all_keys().find_map(|k| {
                    let full = format!("{prefix}{k}");
                    options.get(&full).map(|v| (full, v))
                });
                match found {
                    Some((k, v)) => {
                        (o.check)(v).map_err(|reason| Error::InvalidOption {
                            context: context.to_string(),
                            key: k.clone(),
                            value: v.clone(),
                            reason,
                        })?;
                        if o.deprecated_keys
                            .iter()
                            .any(|d| format!("{prefix}{d}") == k)
                        {
                            tracing::warn!(
                                "{context}: option '{k}' is deprecated; use '{prefix}{}'",
                                o.key
                            );
                        }
                    }
                    None if set.required.iter().any(|r| r.key == o.key) => {
                        return Err(Error::MissingOption {
                            context: context.to_string(),
                            key: format!("{prefix}{}", o.key),
                            description: o.description.to_string(),
                        })
                    }
                    None => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: ConfigOption<String> = ConfigOption::new("topic").description("The topic.");
    const ROWS: ConfigOption<i64> = ConfigOption::new("rows-per-second").default_value("10000");
    const INTERVAL: ConfigOption<Duration> = ConfigOption::new("interval")
        .default_value("1 s")
        .deprecated_keys(&["old-interval"]);
    const VALUE_FORMAT: ConfigOption<String> =
        ConfigOption::new("value.format").fallback_keys(&["format"]);
    const KIND: ConfigOption<String> = ConfigOption::new("fields.#.kind");

    crate::option_enum! {
        /// Modes.
        pub enum Mode {
            /// a
            Earliest = "earliest-offset",
            /// b
            Latest = "latest-offset",
        }
    }
    const MODE: ConfigOption<Mode> = ConfigOption::new("mode").default_value("earliest-offset");

    fn set() -> OptionSet {
        OptionSet::new()
            .required(TOPIC)
            .optional(ROWS)
            .optional(INTERVAL)
            .optional(MODE)
            .optional(VALUE_FORMAT)
            .prefix("properties.", "forwarded")
            .template(KIND)
    }

    fn raw(pairs: &[(&str, &str)]) -> RawOptions {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn check(pairs: &[(&str, &str)]) -> Result<()> {
        let s = set();
        let mut v = Validator::new();
        v.add("", &s).accept_key("connector");
        v.validate("table 't'", &raw(pairs))
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10 s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1 min").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("500").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1 d").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration("3 us").unwrap(), Duration::from_micros(3));
        assert!(parse_duration("ten s").is_err());
        assert!(parse_duration("10 parsecs")
            .unwrap_err()
            .contains("parsecs"));
        assert_eq!(format_duration(Duration::from_secs(60)), "1 min");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500 ms");
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory_size("5 mb").unwrap(), 5 << 20);
        assert_eq!(parse_memory_size("64kb").unwrap(), 64 << 10);
        assert_eq!(parse_memory_size("100").unwrap(), 100);
        assert!(parse_memory_size("5 zb").is_err());
        assert_eq!(MemorySize(128 << 20).to_option_string(), "128 mb");
    }

    #[test]
    fn valid_options() {
        check(&[
            ("connector", "x"),
            ("topic", "t"),
            ("rows-per-second", "5"),
            ("properties.bootstrap.servers", "h:1"),
            ("fields.id.kind", "sequence"),
            ("mode", "LATEST-OFFSET"),
            ("format", "json"),
        ])
        .unwrap();
    }

    #[test]
    fn unknown_key_suggests() {
        let e = check(&[("topic", "t"), ("rows-per-secnd", "5")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unsupported option 'rows-per-secnd'"), "{e}");
        assert!(e.contains("Did you mean 'rows-per-second'?"), "{e}");
        assert!(e.contains("properties.*"), "{e}");
        assert!(e.contains("table 't'"), "{e}");
    }

    #[test]
    fn missing_required() {
        let e = check(&[("rows-per-second", "5")]).unwrap_err().to_string();
        assert!(
            e.contains("missing required option 'topic' (The topic.)"),
            "{e}"
        );
    }

    #[test]
    fn bad_values() {
        let e = check(&[("topic", "t"), ("rows-per-second", "fast")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("invalid value 'fast' for option 'rows-per-second'"),
            "{e}"
        );
        let e = check(&[("topic", "t"), ("mode", "middle")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("earliest-offset, latest-offset"), "{e}");
        let e = check(&[("topic", "t"), ("old-interval", "5 parsecs")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'old-interval'"), "{e}");
    }

    #[test]
    fn typed_getters() {
        let o = Options::new(
            "t",
            raw(&[("topic", "x"), ("old-interval", "2 s"), ("format", "csv")]),
        );
        assert_eq!(o.get(&TOPIC).unwrap(), "x");
        assert_eq!(o.get(&ROWS).unwrap(), 10000);
        assert_eq!(o.get(&INTERVAL).unwrap(), Duration::from_secs(2));
        assert_eq!(o.get(&MODE).unwrap(), Mode::Earliest);
        assert_eq!(o.get(&VALUE_FORMAT).unwrap(), "csv");
        let empty = Options::new("t", RawOptions::new());
        assert!(empty
            .get(&TOPIC)
            .unwrap_err()
            .to_string()
            .contains("'topic'"));
    }

    #[test]
    fn templates() {
        let t = TemplateOption {
            template: "fields.#.kind",
            option: KIND.descriptor(),
        };
        assert_eq!(t.matches("fields.a.b.kind"), Some("a.b"));
        assert_eq!(t.matches("fields..kind"), None);
        assert_eq!(t.matches("fields.a.min"), None);
    }

    #[test]
    fn defaults_added_by_connectors_never_override_the_user() {
        let mut raw = RawOptions::new();
        raw.insert("topic".into(), "mine".into());
        let o = Options::new("t", raw)
            .with_default("topic", "theirs")
            .with_default("subject", "orders-value");
        assert_eq!(o.get(&TOPIC).unwrap(), "mine");
        assert_eq!(
            o.raw().get("subject").map(String::as_str),
            Some("orders-value")
        );
    }
}
