//! The datagen connector factory.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use headrace_sdk::factory::{ConnectorFactory, TableContext};
use headrace_sdk::options::OptionSet;
use headrace_sdk::source::DynamicSource;
use headrace_sdk::Result;

use crate::fields::resolve_plan;
use crate::generator::Generator;
use crate::options::{NUMBER_OF_ROWS, ROWS_PER_SECOND, SCAN_PARALLELISM, SEED};
use crate::source::DatagenSource;

/// The identifier used in `'connector' = 'datagen'`.
pub const IDENTIFIER: &str = "datagen";

/// Creates [`DatagenSource`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct DatagenFactory;

impl ConnectorFactory for DatagenFactory {
    fn identifier(&self) -> &'static str {
        IDENTIFIER
    }

    fn description(&self) -> &'static str {
        "Generates random or sequence rows in memory, bounded or unbounded, like Flink's DataGen."
    }

    fn options(&self) -> OptionSet {
        crate::options::option_set()
    }

    fn supports_source(&self) -> bool {
        true
    }

    fn supports_sink(&self) -> bool {
        false
    }

    fn create_source(&self, ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSource>> {
        Ok(Arc::new(create(ctx)?))
    }
}

/// Create the source described by `ctx` (what [`DatagenFactory::create_source`] does, typed).
pub fn create(ctx: &TableContext<'_>) -> Result<DatagenSource> {
    let o = &ctx.options;
    let rows_per_second = o.get(&ROWS_PER_SECOND)?;
    if rows_per_second <= 0 {
        return Err(o.invalid(
            &ROWS_PER_SECOND,
            rows_per_second.to_string(),
            "the rate must be at least 1 row per second; use a large value such as \
             '1000000000' to generate as fast as possible",
        ));
    }
    let number_of_rows =
        match o.get_optional(&NUMBER_OF_ROWS)? {
            Some(n) if n < 0 => return Err(o.invalid(
                &NUMBER_OF_ROWS,
                n.to_string(),
                "the number of rows must be 0 or more; remove the option for an unbounded source",
            )),
            other => other.map(|n| n as u64),
        };
    let parallelism = match o.get_optional(&SCAN_PARALLELISM)? {
        Some(p) if p < 1 => {
            return Err(o.invalid(
                &SCAN_PARALLELISM,
                p.to_string(),
                "the parallelism must be at least 1; remove the option to use the default",
            ))
        }
        other => other.map(|p| p as usize),
    };
    let seed = o.get_optional(&SEED)?;
    let plan = resolve_plan(o, &ctx.schema)?;
    let total_rows = match (number_of_rows, plan.sequence_rows) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let schema = ctx.schema.physical_arrow_schema();
    let seed_bits = match seed {
        Some(s) => s as u64,
        None => RandomState::new().hash_one(std::time::SystemTime::now()),
    };
    let generator = Generator::new(&plan, schema, seed_bits)?;
    tracing::debug!(
        table = %ctx.table_name,
        rows_per_second,
        ?total_rows,
        seeded = seed.is_some(),
        "creating datagen source"
    );
    Ok(DatagenSource::new(
        generator,
        rows_per_second,
        total_rows,
        parallelism,
        seed.is_some(),
    ))
}
