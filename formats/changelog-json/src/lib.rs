//! # Changelog JSON formats: `debezium-json`, `canal-json`, `maxwell-json`
//!
//! Change events written by CDC tools, read as changelog rows (`+I`, `-U`, `+U`, `-D`) and
//! written back from them, with Flink's option keys, defaults, metadata and behaviour. The values
//! of each row are read and written by the [`json`](headrace_format_json) format, so every type
//! has the same text form as there (and `timestamp-format.standard`, `map-null-key.*` and
//! `encode.*` mean the same). Each factory declares the changelog mode `All`.
//!
//! ## `debezium-json`
//!
//! ```json
//! {"before": {"id": 1, "name": "scooter", "weight": 5.18},
//!  "after":  {"id": 1, "name": "scooter", "weight": 5.15},
//!  "source": {"db": "inventory", "schema": "public", "table": "products", "ts_ms": 1589361987000},
//!  "op": "u", "ts_ms": 1589362330904}
//! ```
//!
//! | `op` | rows |
//! |---|---|
//! | `c` (create), `r` (snapshot read) | `+I` of `after` |
//! | `u` | `-U` of `before`, `+U` of `after` (a null `before` is an error: Postgres tables need `REPLICA IDENTITY FULL`) |
//! | `d` | `-D` of `before` |
//!
//! With `'debezium-json.schema-include' = 'true'` the message is
//! `{"schema": {...}, "payload": {"before": ..., "after": ..., "op": ...}}` (Kafka Connect's
//! `value.converter.schemas.enable`). Empty records (Kafka tombstones, which Debezium sends after a
//! delete) are skipped. Writing gives `{"before":null,"after":{..},"op":"c"}` for `+I` and `+U`,
//! `{"before":{..},"after":null,"op":"d"}` for `-U` and `-D`, as Flink does; writing with
//! `schema-include` is refused, as in Flink.
//!
//! Metadata: `schema`, `ingestion-timestamp` (payload `ts_ms`), `source.timestamp`,
//! `source.database`, `source.schema`, `source.table`, `source.properties`.
//!
//! ## `canal-json`
//!
//! ```json
//! {"data": [{"id": "111", "name": "scooter", "weight": "5.11"}],
//!  "old":  [{"weight": "5.18"}],
//!  "database": "inventory", "table": "products", "type": "UPDATE",
//!  "pkNames": ["id"], "sqlType": {"id": 4, "name": 12, "weight": 7},
//!  "es": 1589373560000, "ts": 1589373560798, "isDdl": false}
//! ```
//!
//! | `type` | rows |
//! |---|---|
//! | `INSERT` | `+I` per element of `data` |
//! | `UPDATE` | per element: `-U` of `old[i]` (fields named nowhere in `old` taken from `data[i]`, as Flink does), `+U` of `data[i]` |
//! | `DELETE` | `-D` per element of `data` |
//! | `CREATE` | nothing (a DDL event) |
//!
//! `canal-json.database.include` / `table.include` are regular expressions that must match the
//! whole `database` / `table` value; other records are dropped without error. Writing gives
//! `{"data":[{..}],"type":"INSERT"}` for `+I`, `+U` and `"type":"DELETE"` for `-U`, `-D`.
//!
//! Metadata: `database`, `table`, `sql-type`, `pk-names`, `ingestion-timestamp` (`ts`),
//! `event-timestamp` (`es`).
//!
//! ## `maxwell-json`
//!
//! ```json
//! {"database": "test", "table": "product", "type": "update", "ts": 1596684904,
//!  "data": {"id": 111, "name": "scooter", "weight": 5.15}, "old": {"weight": 5.18},
//!  "primary_key_columns": ["id"]}
//! ```
//!
//! `insert` gives `+I` of `data`, `update` gives `-U` of `old` (completed from `data`) and `+U`
//! of `data`, `delete` gives `-D` of `data`. Writing gives `{"data":{..},"type":"insert"}` or
//! `"delete"`. Metadata: `database`, `table`, `primary-key-columns`, `ingestion-timestamp`
//! (`ts`, seconds).
//!
//! ## Metadata columns
//!
//! The keys above are offered through [`FormatFactory::metadata`]; a connector passes them on
//! under its prefix (Kafka: `'value.source.table'`, filesystem: `'source.table'`) and asks for a
//! decoder with [`FormatFactory::create_decoder_with_metadata`]; the decoder appends one column
//! per requested key after the physical columns (see [`headrace_sdk::format`]).
//!
//! ## Bad records
//!
//! A record that is not an envelope of the format, or whose row does not fit the table, is an
//! error naming the format, the record's origin, the field (`after.weight`, `data[1].id`) and the
//! reason. With `*.ignore-parse-errors`, as in Flink, a field whose value does not fit its
//! (nullable) column reads as NULL and the row is kept, and a record that cannot be read at all
//! (not JSON, not an envelope, an unknown `op`/`type`, a missing `before`) is skipped and counted
//! ([`Decoder::skipped_records`]).
//!
//! ## Options (each prefixed with the format identifier, e.g. `canal-json.table.include`)
//!
//! | Option | Formats | Default | Description |
//! |---|---|---|---|
//! | `schema-include` | debezium | `false` | Messages carry Kafka Connect's schema/payload wrapper. |
//! | `ignore-parse-errors` | all | `false` | Skip records that cannot be decoded. |
//! | `timestamp-format.standard` | all | `SQL` | `SQL` or `ISO-8601` text of timestamps. |
//! | `map-null-key.mode` | all | `FAIL` | Writing a NULL map key: `FAIL`, `DROP` or `LITERAL`. |
//! | `map-null-key.literal` | all | `null` | The key written in `LITERAL` mode. |
//! | `encode.decimal-as-plain-number` | all | `false` | Write decimals without exponents. |
//! | `encode.ignore-null-fields` | all | `false` | Leave NULL fields out when writing. |
//! | `database.include` | canal | none | Regular expression on `database`. |
//! | `table.include` | canal | none | Regular expression on `table`. |

mod canal;
mod common;
mod debezium;
mod maxwell;

use std::sync::Arc;

use regex::Regex;

use headrace_format_json::{
    JsonFormatFactory, ENCODE_DECIMAL_AS_PLAIN_NUMBER, ENCODE_IGNORE_NULL_FIELDS,
    MAP_NULL_KEY_LITERAL, MAP_NULL_KEY_MODE, TIMESTAMP_FORMAT_STANDARD,
};
use headrace_sdk::changelog::ChangelogMode;
use headrace_sdk::factory::MetadataSpec;
use headrace_sdk::format::{Decoder, Encoder, FormatContext, FormatFactory};
use headrace_sdk::options::{ConfigOption, OptionSet, Options};
use headrace_sdk::Result;

/// `<format>.ignore-parse-errors`, with Flink's semantics for its changelog formats.
pub const IGNORE_PARSE_ERRORS: ConfigOption<bool> = ConfigOption::new("ignore-parse-errors")
    .default_value("false")
    .description(
        "When reading, do not stop the job on bad input: as in Flink, a field whose value does \
         not fit its (nullable) column is read as NULL, and a record that cannot be read at all \
         (not JSON, no envelope, an unknown operation) is dropped and counted in the job's \
         skipped-record metric.",
    );

use common::{specs, ChangelogDecoder, Envelope, EnvelopeEncoder, MetaKey, Rows};

pub use canal::FORMAT as CANAL_JSON;
pub use debezium::FORMAT as DEBEZIUM_JSON;
pub use maxwell::FORMAT as MAXWELL_JSON;

/// `debezium-json.schema-include`.
pub const SCHEMA_INCLUDE: ConfigOption<bool> = ConfigOption::new("schema-include")
    .default_value("false")
    .description(
        "Whether the Debezium messages carry Kafka Connect's schema: \
         {\"schema\": {...}, \"payload\": {...}} (set when Kafka Connect's \
         'value.converter.schemas.enable' is on). Reading only; writing with it is refused.",
    );

/// `canal-json.database.include`.
pub const DATABASE_INCLUDE: ConfigOption<String> = ConfigOption::new("database.include")
    .description(
        "A regular expression; only Canal records whose 'database' field it matches in full are \
         read, the others are dropped.",
    );

/// `canal-json.table.include`.
pub const TABLE_INCLUDE: ConfigOption<String> = ConfigOption::new("table.include").description(
    "A regular expression; only Canal records whose 'table' field it matches in full are read, \
     the others are dropped.",
);

fn common_options() -> OptionSet {
    OptionSet::new()
        .optional(IGNORE_PARSE_ERRORS)
        .optional(TIMESTAMP_FORMAT_STANDARD)
        .optional(MAP_NULL_KEY_MODE)
        .optional(MAP_NULL_KEY_LITERAL)
        .optional(ENCODE_DECIMAL_AS_PLAIN_NUMBER)
        .optional(ENCODE_IGNORE_NULL_FIELDS)
}

/// A decoder of `ctx` reading envelopes `make` builds from the entries of `F::METADATA` asked
/// for as `keys`.
fn decoder<F: ChangelogFormat, E: Envelope + 'static>(
    ctx: &FormatContext,
    keys: &[String],
    make: impl FnOnce(Vec<MetaKey>) -> Result<E>,
) -> Result<Box<dyn Decoder>> {
    let mut config = JsonFormatFactory::decode_config(ctx)?;
    let ignore_parse_errors = config.ignore_parse_errors;
    config.ignore_parse_errors = false;
    config.fail_on_missing_field = false;
    // As Flink: with ignore-parse-errors a value that does not fit its column reads as NULL.
    config.null_on_bad_field = ignore_parse_errors;
    let (rows, slots) = Rows::new(F::FORMAT, ctx.schema.clone(), config, F::METADATA, keys)?;
    Ok(Box::new(ChangelogDecoder {
        envelope: make(slots)?,
        rows,
        ignore_parse_errors,
        skipped: 0,
    }))
}

fn encoder(
    ctx: &FormatContext,
    wrap: impl FnMut(headrace_sdk::changelog::RowKind, &[u8], &mut Vec<u8>) + Send + 'static,
) -> Result<Box<dyn Encoder>> {
    Ok(Box::new(EnvelopeEncoder {
        json: JsonFormatFactory::json_encoder(ctx)?,
        wrap,
        rows: Vec::new(),
        out: Vec::new(),
    }))
}

fn include_regex(o: &Options, opt: &ConfigOption<String>) -> Result<Option<Regex>> {
    let Some(p) = o.get_optional(opt)? else {
        return Ok(None);
    };
    Regex::new(&format!("^(?:{p})$")).map(Some).map_err(|e| {
        o.invalid(
            opt,
            p.clone(),
            format!("not a valid regular expression: {e}"),
        )
    })
}

/// What sets one changelog format apart; `changelog_factory!` makes its [`FormatFactory`] of it
/// (changelog mode `All`, metadata from `METADATA`).
trait ChangelogFormat {
    const FORMAT: &'static str;
    const DESCRIPTION: &'static str;
    const METADATA: &'static [MetaKey];
    fn options() -> OptionSet;
    fn decoder(ctx: &FormatContext, metadata_keys: &[String]) -> Result<Box<dyn Decoder>>;
    fn encoder(ctx: &FormatContext) -> Result<Box<dyn Encoder>>;
}

macro_rules! changelog_factory {
    ($factory:ty) => {
        impl FormatFactory for $factory {
            fn identifier(&self) -> &'static str {
                <$factory as ChangelogFormat>::FORMAT
            }

            fn description(&self) -> &'static str {
                <$factory as ChangelogFormat>::DESCRIPTION
            }

            fn options(&self) -> OptionSet {
                <$factory as ChangelogFormat>::options()
            }

            fn changelog_mode(&self) -> ChangelogMode {
                ChangelogMode::All
            }

            fn metadata(&self) -> Vec<MetadataSpec> {
                specs(<$factory as ChangelogFormat>::METADATA)
            }

            fn create_decoder(&self, ctx: &FormatContext) -> Result<Box<dyn Decoder>> {
                <$factory as ChangelogFormat>::decoder(ctx, &[])
            }

            fn create_decoder_with_metadata(
                &self,
                ctx: &FormatContext,
                metadata_keys: &[String],
            ) -> Result<Box<dyn Decoder>> {
                <$factory as ChangelogFormat>::decoder(ctx, metadata_keys)
            }

            fn create_encoder(&self, ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
                <$factory as ChangelogFormat>::encoder(ctx)
            }
        }
    };
}

/// The `debezium-json` format factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct DebeziumJsonFormatFactory;

impl ChangelogFormat for DebeziumJsonFormatFactory {
    const FORMAT: &'static str = DEBEZIUM_JSON;
    const DESCRIPTION: &'static str = "Debezium change events in JSON, read as +I/-U/+U/-D rows and written back (Flink's 'debezium-json')";
    const METADATA: &'static [MetaKey] = debezium::METADATA;

    fn options() -> OptionSet {
        common_options().optional(SCHEMA_INCLUDE)
    }

    fn decoder(ctx: &FormatContext, metadata_keys: &[String]) -> Result<Box<dyn Decoder>> {
        let schema_include = ctx.options.get(&SCHEMA_INCLUDE)?;
        decoder::<Self, _>(ctx, metadata_keys, |slots| {
            Ok(debezium::Debezium {
                schema_include,
                slots,
            })
        })
    }

    fn encoder(ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
        if ctx.options.get(&SCHEMA_INCLUDE)? {
            return Err(ctx.options.invalid(
                &SCHEMA_INCLUDE,
                "true",
                "Debezium JSON serialization doesn't support 'debezium-json.schema-include' \
                 being true (as in Flink); leave it unset for a sink",
            ));
        }
        let ignore_null = ctx.options.get(&ENCODE_IGNORE_NULL_FIELDS)?;
        encoder(ctx, move |k, row, out| {
            debezium::wrap(k, row, out, ignore_null)
        })
    }
}

/// The `canal-json` format factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct CanalJsonFormatFactory;

impl ChangelogFormat for CanalJsonFormatFactory {
    const FORMAT: &'static str = CANAL_JSON;
    const DESCRIPTION: &'static str = "Canal flat messages in JSON, read as +I/-U/+U/-D rows and written back (Flink's 'canal-json')";
    const METADATA: &'static [MetaKey] = canal::METADATA;

    fn options() -> OptionSet {
        common_options()
            .optional(DATABASE_INCLUDE)
            .optional(TABLE_INCLUDE)
    }

    fn decoder(ctx: &FormatContext, metadata_keys: &[String]) -> Result<Box<dyn Decoder>> {
        let database = include_regex(&ctx.options, &DATABASE_INCLUDE)?;
        let table = include_regex(&ctx.options, &TABLE_INCLUDE)?;
        decoder::<Self, _>(ctx, metadata_keys, |slots| {
            Ok(canal::Canal {
                database,
                table,
                slots,
            })
        })
    }

    fn encoder(ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
        encoder(ctx, canal::wrap)
    }
}

/// The `maxwell-json` format factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaxwellJsonFormatFactory;

impl ChangelogFormat for MaxwellJsonFormatFactory {
    const FORMAT: &'static str = MAXWELL_JSON;
    const DESCRIPTION: &'static str = "Maxwell change events in JSON, read as +I/-U/+U/-D rows and written back (Flink's 'maxwell-json')";
    const METADATA: &'static [MetaKey] = maxwell::METADATA;

    fn options() -> OptionSet {
        common_options()
    }

    fn decoder(ctx: &FormatContext, metadata_keys: &[String]) -> Result<Box<dyn Decoder>> {
        decoder::<Self, _>(ctx, metadata_keys, |slots| {
            Ok(maxwell::Maxwell {
                slots,
                lenient: ctx.options.get(&IGNORE_PARSE_ERRORS)?,
            })
        })
    }

    fn encoder(ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
        encoder(ctx, maxwell::wrap)
    }
}

changelog_factory!(DebeziumJsonFormatFactory);
changelog_factory!(CanalJsonFormatFactory);
changelog_factory!(MaxwellJsonFormatFactory);

headrace_sdk::register_format!(DebeziumJsonFormatFactory);
headrace_sdk::register_format!(CanalJsonFormatFactory);
headrace_sdk::register_format!(MaxwellJsonFormatFactory);

/// The three factories, for runners that register formats explicitly.
pub fn factories() -> Vec<Arc<dyn FormatFactory>> {
    vec![
        Arc::new(DebeziumJsonFormatFactory),
        Arc::new(CanalJsonFormatFactory),
        Arc::new(MaxwellJsonFormatFactory),
    ]
}
