//! From statements to a runnable plan: the catalog, job settings and one pipeline per INSERT.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Schema, SchemaRef};
use headrace_sdk::bad_records::{self, BadRecordConfig, BadRecordPolicy};
use headrace_sdk::changelog::{ChangelogBatch, ChangelogMode};
use headrace_sdk::factory::{validate_table, TableContext, Usage, CONNECTOR};
use headrace_sdk::options::{OptionValue, RawOptions};
use headrace_sdk::registry::Registry;
use headrace_sdk::schema::{ColumnKind, TableSchema};
use headrace_sdk::sink::DynamicSink;
use headrace_sdk::source::DynamicSource;
use headrace_sdk::types::DataType;
use sqlparser::ast::{Expr, GroupByExpr, SelectItem, SetExpr, TableFactor};

use crate::dead_letter::DeadLetterTarget;
use crate::error::{RuntimeError, RuntimeResult};
use crate::expr::{cast_column, compile, evaluate, max_timestamp_ms, PhysExpr, Scope};
use crate::shuffle::KeyedShuffle;
use crate::sql::{last_name, parse_statements, CreateTable, FlinkStatement, InsertInto};

/// Job settings Headrace reads (all other `SET` keys are kept and ignored with a warning).
pub const KNOWN_SETTINGS: &[(&str, &str)] = &[
    ("parallelism.default", "Default parallelism of sources and sinks (default 1)."),
    (
        "execution.checkpointing.interval",
        "Checkpoint interval, e.g. '10 s'; unset means no periodic checkpoints (a final commit still happens at the end of a bounded job).",
    ),
    ("pipeline.name", "A name for the job, shown in the progress display."),
    (
        "headrace.batch-size",
        "Headrace extension: preferred rows per batch for sources (default 8192).",
    ),
    (
        "execution.checkpointing.max-retained-checkpoints",
        "Number of completed checkpoints kept in the state directory (default 3).",
    ),
    ("execution.runtime-mode", "streaming or batch; accepted for compatibility."),
    ("table.exec.resource.default-parallelism", "Alias of parallelism.default for table jobs."),
    (
        "pipeline.auto-watermark-interval",
        "How often a changed watermark reaches the sinks (default 200 ms); 0 hands it over whenever it advances.",
    ),
    (
        "table.exec.sink.keyed-shuffle",
        "AUTO (default): rows go to the writers of a PRIMARY KEY sink by the key when the sink's parallelism differs from the source's and is above 1; FORCE: by the key whenever the sink's parallelism is above 1; NONE: never by the key.",
    ),
    (
        "table.exec.source.idle-timeout",
        "For sources with a WATERMARK: a split (e.g. a Kafka partition) without rows for this long is idle and no longer holds the watermark back (default 0: never idle). A table's 'scan.watermark.idle-timeout' overrides it.",
    ),
];

/// Settings from `SET` statements.
#[derive(Debug, Clone, Default)]
pub struct JobSettings {
    /// Every key set, as written.
    pub raw: BTreeMap<String, String>,
}

impl JobSettings {
    fn get<T: OptionValue>(&self, key: &str) -> RuntimeResult<Option<T>> {
        match self.raw.get(key) {
            None => Ok(None),
            Some(v) => T::parse_option(v)
                .map(Some)
                .map_err(|reason| RuntimeError::Plan(format!("SET '{key}' = '{v}': {reason}"))),
        }
    }

    /// `parallelism.default`.
    pub fn parallelism(&self) -> RuntimeResult<usize> {
        let p = match self.get::<usize>("parallelism.default")? {
            Some(p) => p,
            None => self
                .get::<usize>("table.exec.resource.default-parallelism")?
                .unwrap_or(1),
        };
        if p == 0 {
            return Err(RuntimeError::Plan(
                "SET 'parallelism.default': must be at least 1".into(),
            ));
        }
        Ok(p)
    }

    /// `execution.checkpointing.interval`.
    pub fn checkpoint_interval(&self) -> RuntimeResult<Option<Duration>> {
        self.get::<Duration>("execution.checkpointing.interval")
    }

    /// `headrace.batch-size`.
    pub fn batch_size(&self) -> RuntimeResult<usize> {
        Ok(self
            .get::<usize>("headrace.batch-size")?
            .unwrap_or(8192)
            .max(1))
    }

    /// `table.exec.source.idle-timeout`; None when unset or 0 (never idle).
    pub fn source_idle_timeout(&self) -> RuntimeResult<Option<Duration>> {
        Ok(self
            .get::<Duration>("table.exec.source.idle-timeout")?
            .filter(|d| !d.is_zero()))
    }

    /// `execution.checkpointing.max-retained-checkpoints`.
    pub fn retained_checkpoints(&self) -> RuntimeResult<usize> {
        Ok(self
            .get::<usize>("execution.checkpointing.max-retained-checkpoints")?
            .unwrap_or(3)
            .max(1))
    }

    /// `pipeline.auto-watermark-interval` (default 200 ms; zero: every advance).
    pub fn auto_watermark_interval(&self) -> RuntimeResult<Duration> {
        Ok(self
            .get::<Duration>("pipeline.auto-watermark-interval")?
            .unwrap_or(DEFAULT_WATERMARK_INTERVAL))
    }

    /// `table.exec.sink.keyed-shuffle` (default `AUTO`).
    pub fn keyed_shuffle(&self) -> RuntimeResult<KeyedShuffle> {
        match self.raw.get("table.exec.sink.keyed-shuffle") {
            None => Ok(KeyedShuffle::Auto),
            Some(v) => v.parse().map_err(|e| {
                RuntimeError::Plan(format!("SET 'table.exec.sink.keyed-shuffle' = '{v}': {e}"))
            }),
        }
    }
}

/// Flink's default `pipeline.auto-watermark-interval`.
pub const DEFAULT_WATERMARK_INTERVAL: Duration = Duration::from_millis(200);

/// A declared table.
#[derive(Debug, Clone)]
pub struct TableDef {
    /// Name.
    pub name: String,
    /// Schema, with computed-column types resolved.
    pub schema: TableSchema,
    /// Computed-column expressions.
    pub computed: Vec<(String, Expr)>,
    /// Options.
    pub options: RawOptions,
}

/// How rows of one source become rows of one sink.
#[derive(Debug, Clone)]
pub struct Transform {
    /// Declared columns of the source table, as expressions over the produced batch.
    full: Vec<PhysExpr>,
    /// Whether `full` is the produced batch as it is.
    full_identity: bool,
    /// Schema of the declared columns.
    full_schema: SchemaRef,
    /// WHERE.
    filter: Option<PhysExpr>,
    /// SELECT list over the declared columns.
    projection: Vec<PhysExpr>,
    /// The sink's consumed schema.
    output_schema: SchemaRef,
    /// The WATERMARK expression over the declared columns, if the source table has one.
    watermark: Option<PhysExpr>,
}

impl Transform {
    /// A transform over batches of `input`: an optional SQL filter and SQL select list (empty keeps
    /// every column), producing rows of `output` (cast by position).
    pub fn over(
        input: SchemaRef,
        filter: Option<&str>,
        select: &[String],
        output: SchemaRef,
    ) -> RuntimeResult<Transform> {
        let scope = Scope {
            columns: input
                .fields()
                .iter()
                .map(|f| {
                    Ok((
                        f.name().clone(),
                        DataType::from_arrow(f.data_type())?.with_nullable(f.is_nullable()),
                    ))
                })
                .collect::<RuntimeResult<Vec<_>>>()?,
        };
        let parse = |s: &str| -> RuntimeResult<Expr> {
            sqlparser::parser::Parser::new(&sqlparser::dialect::GenericDialect {})
                .try_with_sql(s)
                .and_then(|mut p| p.parse_expr())
                .map_err(|e| RuntimeError::Plan(format!("expression '{s}': {e}")))
        };
        let filter = match filter {
            Some(f) => {
                let t = compile(&parse(f)?, &scope)?;
                if t.data_type.logical != headrace_sdk::types::LogicalType::Boolean {
                    return Err(RuntimeError::Plan(format!(
                        "filter '{f}' must be BOOLEAN, it is {}",
                        t.data_type
                    )));
                }
                Some(t.expr)
            }
            None => None,
        };
        let projection: Vec<PhysExpr> = if select.is_empty() {
            (0..scope.columns.len()).map(PhysExpr::Column).collect()
        } else {
            select
                .iter()
                .map(|s| Ok(compile(&parse(s)?, &scope)?.expr))
                .collect::<RuntimeResult<_>>()?
        };
        if projection.len() != output.fields().len() {
            return Err(RuntimeError::Plan(format!(
                "the selection has {} columns but the sink takes {}",
                projection.len(),
                output.fields().len()
            )));
        }
        let n = scope.columns.len();
        Ok(Transform {
            full: (0..n).map(PhysExpr::Column).collect(),
            full_identity: true,
            full_schema: input,
            filter,
            projection,
            output_schema: output,
            watermark: None,
        })
    }

    /// The same transform with a watermark: `expr` (SQL over the input's columns, e.g.
    /// `ts - INTERVAL '5' SECOND`) is evaluated on each source batch, as a table's
    /// `WATERMARK FOR ts AS expr`.
    pub fn with_watermark(mut self, expr: &str) -> RuntimeResult<Transform> {
        let scope = Scope {
            columns: self
                .full_schema
                .fields()
                .iter()
                .map(|f| {
                    Ok((
                        f.name().clone(),
                        DataType::from_arrow(f.data_type())?.with_nullable(f.is_nullable()),
                    ))
                })
                .collect::<RuntimeResult<Vec<_>>>()?,
        };
        let parsed = sqlparser::parser::Parser::new(&sqlparser::dialect::GenericDialect {})
            .try_with_sql(expr)
            .and_then(|mut p| p.parse_expr())
            .map_err(|e| RuntimeError::Plan(format!("watermark expression '{expr}': {e}")))?;
        self.watermark = Some(compile_watermark(&parsed, &scope)?);
        Ok(self)
    }

    /// Whether a watermark is computed.
    pub fn has_watermark(&self) -> bool {
        self.watermark.is_some()
    }

    /// Apply to one source batch; None when every row was filtered out.
    pub fn apply(&self, input: ChangelogBatch) -> RuntimeResult<Option<ChangelogBatch>> {
        Ok(self.apply_with_watermark(input)?.0)
    }

    /// Apply to one source batch, and compute the greatest watermark value of its rows (epoch
    /// ms; None without a WATERMARK or when every value is NULL). The watermark is computed
    /// before the WHERE filter, as Flink assigns watermarks in the scan.
    pub fn apply_with_watermark(
        &self,
        input: ChangelogBatch,
    ) -> RuntimeResult<(Option<ChangelogBatch>, Option<i64>)> {
        let full = if self.full_identity {
            input
        } else {
            let cols = self
                .full
                .iter()
                .map(|e| evaluate(e, &input.batch))
                .collect::<RuntimeResult<Vec<ArrayRef>>>()?;
            input.with_batch(RecordBatch::try_new(self.full_schema.clone(), cols)?)
        };
        let watermark = match &self.watermark {
            Some(w) => max_timestamp_ms(&evaluate(w, &full.batch)?)?,
            None => None,
        };
        let full = match &self.filter {
            Some(f) => {
                let mask = evaluate(f, &full.batch)?;
                let mask = arrow::array::AsArray::as_boolean_opt(mask.as_ref())
                    .ok_or_else(|| RuntimeError::Plan("WHERE must be BOOLEAN".into()))?
                    .clone();
                if mask.true_count() == mask.len() && arrow::array::Array::null_count(&mask) == 0 {
                    full
                } else {
                    full.filter(&mask)?
                }
            }
            None => full,
        };
        if full.num_rows() == 0 {
            return Ok((None, watermark));
        }
        let cols = self
            .projection
            .iter()
            .zip(self.output_schema.fields())
            .map(|(e, f)| cast_column(&evaluate(e, &full.batch)?, f.data_type()))
            .collect::<RuntimeResult<Vec<ArrayRef>>>()?;
        let out = RecordBatch::try_new(self.output_schema.clone(), cols).map_err(|e| {
            RuntimeError::Plan(format!("result does not fit the sink's schema: {e}"))
        })?;
        Ok((Some(full.with_batch(out)), watermark))
    }
}

/// Compile a WATERMARK expression; it must give a TIMESTAMP or TIMESTAMP_LTZ.
fn compile_watermark(e: &Expr, scope: &Scope) -> RuntimeResult<PhysExpr> {
    let t = compile(e, scope)?;
    if !matches!(
        t.data_type.logical,
        headrace_sdk::types::LogicalType::Timestamp(_)
            | headrace_sdk::types::LogicalType::TimestampLtz(_)
    ) {
        return Err(RuntimeError::Plan(format!(
            "the WATERMARK expression '{e}' must give a TIMESTAMP(3) or TIMESTAMP_LTZ(3), it \
             gives {}",
            t.data_type
        )));
    }
    Ok(t.expr)
}

/// One `INSERT INTO sink SELECT ... FROM source`.
pub struct Pipeline {
    /// Position in the job (0-based), part of operator ids.
    pub index: usize,
    /// Source table name.
    pub source_table: String,
    /// The source.
    pub source: Arc<dyn DynamicSource>,
    /// Readers.
    pub source_parallelism: usize,
    /// Row transformation.
    pub transform: Arc<Transform>,
    /// Sink table name.
    pub sink_table: String,
    /// The sink.
    pub sink: Arc<dyn DynamicSink>,
    /// Writers.
    pub sink_parallelism: usize,
    /// How long a split may go without rows before it is idle (`scan.watermark.idle-timeout`,
    /// else `table.exec.source.idle-timeout`); None: never.
    pub idle_timeout: Option<std::time::Duration>,
    /// `pipeline.auto-watermark-interval`: a changed watermark reaches the writers at most once
    /// per interval (zero: whenever it advances).
    pub watermark_interval: Duration,
    /// `table.exec.sink.keyed-shuffle`: when rows go to writers by [`Pipeline::sink_key`].
    pub keyed_shuffle: KeyedShuffle,
    /// The sink table's PRIMARY KEY columns, as positions in the sink's consumed schema (rows
    /// are routed to writers by them when the parallelism changes, see
    /// [`DynamicSink::shuffle_columns`]).
    pub sink_key: Vec<usize>,
    /// The source table's bad-record policy (`headrace.bad-records.*`); None means fail.
    pub source_bad_records: Option<TableBadRecords>,
    /// The sink table's bad-record policy; None means fail.
    pub sink_bad_records: Option<TableBadRecords>,
}

/// A table's bad-record policy as planned: the policy and, for `dead-letter`, the dead-letter
/// table (shared by every table that routes to it).
#[derive(Debug, Clone)]
pub struct TableBadRecords {
    /// The policy, with the table and connector it belongs to.
    pub config: BadRecordConfig,
    /// The dead-letter table, with policy `dead-letter`.
    pub dead_letters: Option<Arc<DeadLetterTarget>>,
}

impl Pipeline {
    /// Stable id of the source operator in checkpoints.
    pub fn source_id(&self) -> String {
        format!("{}:source:{}", self.index, self.source_table)
    }
    /// Stable id of the sink operator in checkpoints.
    pub fn sink_id(&self) -> String {
        format!("{}:sink:{}", self.index, self.sink_table)
    }
}

/// A planned job.
pub struct JobPlan {
    /// Settings.
    pub settings: JobSettings,
    /// Tables declared.
    pub tables: BTreeMap<String, TableDef>,
    /// Pipelines, one per INSERT.
    pub pipelines: Vec<Pipeline>,
}

/// Plan a job file against a registry.
pub fn plan_job(sql: &str, registry: &Registry) -> RuntimeResult<JobPlan> {
    let stmts = parse_statements(sql)?;
    let mut settings = JobSettings::default();
    let mut tables: BTreeMap<String, TableDef> = BTreeMap::new();
    let mut inserts: Vec<InsertInto> = Vec::new();
    for s in stmts {
        match s {
            FlinkStatement::Set(k, v) => {
                if !KNOWN_SETTINGS.iter().any(|(key, _)| *key == k) {
                    tracing::warn!("SET '{k}': not a setting the local runner uses; ignored");
                }
                settings.raw.insert(k, v);
            }
            FlinkStatement::Reset(k) => {
                settings.raw.remove(&k);
            }
            FlinkStatement::CreateTable(ct) => {
                if tables.contains_key(&ct.name) {
                    if ct.if_not_exists {
                        continue;
                    }
                    return Err(RuntimeError::Plan(format!(
                        "line {}: table '{}' is already declared",
                        ct.location.line, ct.name
                    )));
                }
                let def = declare_table(*ct, &tables)?;
                tables.insert(def.name.clone(), def);
            }
            FlinkStatement::Insert(i) => inserts.push(*i),
            FlinkStatement::StatementSet(v) => inserts.extend(v),
            FlinkStatement::Other(stmt, loc) => {
                return Err(RuntimeError::Unsupported(format!(
                    "line {}: '{}' is not a statement the local runner executes \
                     (it runs SET, CREATE TABLE, INSERT INTO ... SELECT and statement sets)",
                    loc.line,
                    first_words(&stmt.to_string())
                )))
            }
        }
    }
    if inserts.is_empty() {
        return Err(RuntimeError::Plan(
            "the job has no INSERT INTO statement, so nothing would run".into(),
        ));
    }
    let default_p = settings.parallelism()?;
    let mut pipelines = Vec::new();
    let mut targets = BTreeMap::new();
    for (index, ins) in inserts.iter().enumerate() {
        let mut p = plan_insert(index, ins, &tables, registry, &settings)?;
        for (name, slot) in [
            (p.source_table.clone(), &mut p.source_bad_records),
            (p.sink_table.clone(), &mut p.sink_bad_records),
        ] {
            let t = lookup_table(&tables, &name)?;
            *slot = Some(plan_bad_records(
                t,
                &tables,
                registry,
                default_p,
                &mut targets,
            )?);
        }
        pipelines.push(p);
    }
    check_exclusive_options(&pipelines)?;
    Ok(JobPlan {
        settings,
        tables,
        pipelines,
    })
}

/// Refuse a job in which two sinks claim the same exclusive option value
/// ([`DynamicSink::exclusive_options`]), such
/// as two exactly-once Kafka sinks with one `sink.transactional-id-prefix`. Each INSERT is a sink
/// of its own (even into the same table); a dead-letter table is one sink however many tables
/// route to it.
pub fn check_exclusive_options(pipelines: &[Pipeline]) -> RuntimeResult<()> {
    let mut sinks: Vec<(String, Arc<dyn DynamicSink>)> = Vec::new();
    for (i, p) in pipelines.iter().enumerate() {
        sinks.push((
            format!("INSERT #{} into '{}'", i + 1, p.sink_table),
            p.sink.clone(),
        ));
    }
    let mut dead_letter_tables: Vec<&str> = Vec::new();
    for p in pipelines {
        for b in [&p.source_bad_records, &p.sink_bad_records]
            .into_iter()
            .flatten()
        {
            if let Some(t) = &b.dead_letters {
                if !dead_letter_tables.contains(&t.table.as_str()) {
                    dead_letter_tables.push(&t.table);
                    sinks.push((format!("dead-letter table '{}'", t.table), t.sink.clone()));
                }
            }
        }
    }
    let mut claimed: BTreeMap<(String, String), String> = BTreeMap::new();
    for (who, sink) in &sinks {
        for claim in sink.exclusive_options() {
            if let Some(first) = claimed.get(&claim) {
                return Err(RuntimeError::Plan(format!(
                    "{first} and {who} both use '{}' = '{}': two sinks of one job cannot share it \
                     (they would fence each other's transactions); give each sink table its own \
                     '{}', and write to a table from one INSERT only",
                    claim.0, claim.1, claim.0
                )));
            }
            claimed.insert(claim, who.clone());
        }
    }
    Ok(())
}

fn first_words(s: &str) -> String {
    let w: Vec<&str> = s.split_whitespace().take(4).collect();
    format!("{} ...", w.join(" "))
}

fn declare_table(ct: CreateTable, tables: &BTreeMap<String, TableDef>) -> RuntimeResult<TableDef> {
    let mut schema = ct.schema;
    let mut options = ct.options;
    let mut computed = ct.computed;
    if let Some(like) = &ct.like {
        let base = tables.get(like).ok_or_else(|| {
            RuntimeError::Plan(format!("table '{}': LIKE '{like}': no such table", ct.name))
        })?;
        let mut cols = base.schema.columns.clone();
        cols.extend(schema.columns);
        schema.columns = cols;
        if schema.primary_key.is_empty() {
            schema.primary_key = base.schema.primary_key.clone();
        }
        if schema.watermarks.is_empty() {
            schema.watermarks = base.schema.watermarks.clone();
        }
        if schema.partition_keys.is_empty() {
            schema.partition_keys = base.schema.partition_keys.clone();
        }
        let mut merged = base.options.clone();
        merged.extend(options);
        options = merged;
        let mut c = base.computed.clone();
        c.extend(computed);
        computed = c;
    }
    schema
        .validate()
        .map_err(|e| RuntimeError::Plan(format!("table '{}': {e}", ct.name)))?;
    // Type computed columns against the produced (physical + metadata) columns.
    let produced = produced_scope(&schema);
    for (name, expr) in &computed {
        let t = compile(expr, &produced).map_err(|e| match e {
            RuntimeError::Unsupported(m) => {
                RuntimeError::Unsupported(format!("table '{}', column '{name}': {m}", ct.name))
            }
            other => RuntimeError::Plan(format!(
                "table '{}', computed column '{name}': {other}",
                ct.name
            )),
        })?;
        if let Some(c) = schema.columns.iter_mut().find(|c| &c.name == name) {
            c.data_type = t.data_type;
        }
    }
    for w in &schema.watermarks {
        let c = schema
            .column(&w.column)
            .ok_or_else(|| RuntimeError::Plan(format!("watermark column '{}'", w.column)))?;
        if !matches!(
            c.data_type.logical,
            headrace_sdk::types::LogicalType::Timestamp(_)
                | headrace_sdk::types::LogicalType::TimestampLtz(_)
        ) {
            return Err(RuntimeError::Plan(format!(
                "table '{}': WATERMARK FOR '{}' needs a TIMESTAMP(3) or TIMESTAMP_LTZ(3) column, it is {}",
                ct.name, w.column, c.data_type
            )));
        }
    }
    if !options.contains_key(CONNECTOR.key()) {
        return Err(RuntimeError::Plan(format!(
            "table '{}' has no 'connector' option: add WITH ('connector' = '...') \
             (run `headrace connectors` for the list)",
            ct.name
        )));
    }
    Ok(TableDef {
        name: ct.name,
        schema,
        computed,
        options,
    })
}

fn produced_scope(schema: &TableSchema) -> Scope {
    Scope {
        columns: schema
            .physical_columns()
            .chain(schema.metadata_columns())
            .map(|c| (c.name.clone(), c.data_type.clone()))
            .collect(),
    }
}

fn lookup_table<'a>(
    tables: &'a BTreeMap<String, TableDef>,
    name: &str,
) -> RuntimeResult<&'a TableDef> {
    tables.get(name).ok_or_else(|| {
        RuntimeError::Plan(format!(
            "unknown table '{name}'.{} Declared tables: {}",
            headrace_sdk::error::did_you_mean(name, tables.keys().map(String::as_str)),
            if tables.is_empty() {
                "none".to_string()
            } else {
                tables.keys().cloned().collect::<Vec<_>>().join(", ")
            }
        ))
    })
}

fn unsupported(what: &str) -> RuntimeError {
    RuntimeError::Unsupported(format!(
        "{what} is valid Flink SQL but needs more than the local runner offers \
         (it runs INSERT INTO ... SELECT <expressions> FROM <one table> [WHERE ...]); \
         run this job in Apache Flink"
    ))
}

fn plan_insert(
    index: usize,
    ins: &InsertInto,
    tables: &BTreeMap<String, TableDef>,
    registry: &Registry,
    settings: &JobSettings,
) -> RuntimeResult<Pipeline> {
    let default_p = settings.parallelism()?;
    let q = &ins.query;
    if q.with.is_some() {
        return Err(unsupported("WITH (common table expressions)"));
    }
    if q.order_by.is_some() {
        return Err(unsupported("ORDER BY"));
    }
    if q.limit_clause.is_some() || q.fetch.is_some() {
        return Err(unsupported("LIMIT/FETCH"));
    }
    let select = match q.body.as_ref() {
        SetExpr::Select(s) => s,
        SetExpr::Values(_) => return Err(unsupported("INSERT ... VALUES")),
        SetExpr::SetOperation { .. } => return Err(unsupported("UNION/INTERSECT/EXCEPT")),
        _ => return Err(unsupported("this query shape")),
    };
    if select.distinct.is_some() {
        return Err(unsupported("SELECT DISTINCT"));
    }
    let has_group = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(e, _) => !e.is_empty(),
    };
    if has_group || select.having.is_some() {
        return Err(unsupported("GROUP BY (aggregation)"));
    }
    if !select.named_window.is_empty() || select.qualify.is_some() {
        return Err(unsupported("windows"));
    }
    if select.from.len() != 1 {
        return Err(if select.from.is_empty() {
            unsupported("SELECT without FROM")
        } else {
            unsupported("a join (several tables in FROM)")
        });
    }
    let from = &select.from[0];
    if !from.joins.is_empty() {
        return Err(unsupported("JOIN"));
    }
    let src_name = match &from.relation {
        TableFactor::Table { name, args, .. } => {
            if args.is_some() {
                return Err(unsupported("table functions (e.g. TUMBLE/HOP windows)"));
            }
            last_name(name)
        }
        TableFactor::Derived { .. } => return Err(unsupported("a subquery in FROM")),
        _ => return Err(unsupported("this FROM clause (window TVFs, UNNEST, ...)")),
    };
    let src = lookup_table(tables, &src_name)?;
    let dst = lookup_table(tables, &ins.table)?;
    let ctx_err = |e: RuntimeError| -> RuntimeError {
        match e {
            RuntimeError::Plan(m) => RuntimeError::Plan(format!(
                "line {}: INSERT INTO {}: {m}",
                ins.location.line, ins.table
            )),
            RuntimeError::Unsupported(m) => RuntimeError::Unsupported(format!(
                "line {}: INSERT INTO {}: {m}",
                ins.location.line, ins.table
            )),
            other => other,
        }
    };

    // Source columns in declaration order.
    let produced = produced_scope(&src.schema);
    let mut full = Vec::new();
    for c in &src.schema.columns {
        let e = match &c.kind {
            ColumnKind::Computed { .. } => {
                let (_, expr) = src
                    .computed
                    .iter()
                    .find(|(n, _)| n == &c.name)
                    .ok_or_else(|| RuntimeError::Plan(format!("computed column '{}'", c.name)))?;
                compile(expr, &produced)?.expr
            }
            _ => PhysExpr::Column(
                produced
                    .columns
                    .iter()
                    .position(|(n, _)| n == &c.name)
                    .ok_or_else(|| RuntimeError::Plan(format!("column '{}'", c.name)))?,
            ),
        };
        full.push(e);
    }
    let full_identity = full
        .iter()
        .enumerate()
        .all(|(i, e)| matches!(e, PhysExpr::Column(j) if *j == i))
        && full.len() == produced.columns.len();
    let scope = Scope {
        columns: src
            .schema
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.data_type.clone()))
            .collect(),
    };
    let full_schema = Arc::new(Schema::new(
        scope
            .columns
            .iter()
            .map(|(n, t)| t.to_arrow_field(n))
            .collect::<Vec<_>>(),
    ));

    let filter = match &select.selection {
        Some(w) => {
            let t = compile(w, &scope).map_err(ctx_err)?;
            if t.data_type.logical != headrace_sdk::types::LogicalType::Boolean {
                return Err(ctx_err(RuntimeError::Plan(format!(
                    "WHERE must be a BOOLEAN condition, '{w}' is {}",
                    t.data_type
                ))));
            }
            Some(t.expr)
        }
        None => None,
    };
    let mut projected: Vec<(String, DataType, PhysExpr)> = Vec::new();
    for item in &select.projection {
        match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                for (i, (n, t)) in scope.columns.iter().enumerate() {
                    projected.push((n.clone(), t.clone(), PhysExpr::Column(i)));
                }
            }
            SelectItem::UnnamedExpr(e) => {
                let t = compile(e, &scope).map_err(ctx_err)?;
                projected.push((e.to_string(), t.data_type, t.expr));
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let t = compile(expr, &scope).map_err(ctx_err)?;
                projected.push((alias.value.clone(), t.data_type, t.expr));
            }
            other => return Err(ctx_err(unsupported(&format!("select item {other}")))),
        }
    }

    // Sink columns: physical then persisted metadata, or the INSERT's column list.
    let consumed: Vec<(String, DataType)> = dst
        .schema
        .physical_columns()
        .chain(dst.schema.metadata_columns().filter(|c| {
            matches!(
                c.kind,
                ColumnKind::Metadata {
                    is_virtual: false,
                    ..
                }
            )
        }))
        .map(|c| (c.name.clone(), c.data_type.clone()))
        .collect();
    let mut projection: Vec<PhysExpr> = Vec::new();
    if ins.columns.is_empty() {
        if projected.len() != consumed.len() {
            return Err(ctx_err(RuntimeError::Plan(format!(
                "the query produces {} columns ({}) but table '{}' takes {} ({})",
                projected.len(),
                projected
                    .iter()
                    .map(|(n, t, _)| format!("{n} {t}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                dst.name,
                consumed.len(),
                consumed
                    .iter()
                    .map(|(n, t)| format!("{n} {t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))));
        }
        for ((qn, qt, e), (sn, st)) in projected.into_iter().zip(consumed.iter()) {
            check_assignable(&qn, &qt, sn, st).map_err(ctx_err)?;
            projection.push(e);
        }
    } else {
        if ins.columns.len() != projected.len() {
            return Err(ctx_err(RuntimeError::Plan(format!(
                "INSERT lists {} columns but the query produces {}",
                ins.columns.len(),
                projected.len()
            ))));
        }
        for (sn, st) in &consumed {
            match ins.columns.iter().position(|c| c == sn) {
                Some(i) => {
                    let (qn, qt, e) = &projected[i];
                    check_assignable(qn, qt, sn, st).map_err(ctx_err)?;
                    projection.push(e.clone());
                }
                None if st.nullable => projection.push(PhysExpr::Literal(
                    arrow::array::new_null_array(&st.to_arrow(), 1),
                )),
                None => {
                    return Err(ctx_err(RuntimeError::Plan(format!(
                        "column '{sn}' of '{}' is NOT NULL and not in the INSERT column list",
                        dst.name
                    ))))
                }
            }
        }
        for c in &ins.columns {
            if !consumed.iter().any(|(n, _)| n == c) {
                return Err(ctx_err(RuntimeError::Plan(format!(
                    "table '{}' has no writable column '{c}'",
                    dst.name
                ))));
            }
        }
    }

    let source = create_source(src, registry)?;
    let sink = create_sink(dst, registry)?;
    if source.changelog_mode() != ChangelogMode::InsertOnly
        && sink.changelog_mode() == ChangelogMode::InsertOnly
    {
        return Err(ctx_err(RuntimeError::Plan(format!(
            "table '{}' produces updates and deletes, which sink '{}' (connector '{}') cannot consume; \
             use an upsert or changelog sink",
            src.name,
            dst.name,
            dst.options.get("connector").cloned().unwrap_or_default()
        ))));
    }
    let output_schema = sink.consumed_schema();
    let watermark = match src.schema.watermarks.first() {
        Some(w) => {
            let parsed = sqlparser::parser::Parser::new(&sqlparser::dialect::GenericDialect {})
                .try_with_sql(&w.expr)
                .and_then(|mut p| p.parse_expr())
                .map_err(|e| {
                    RuntimeError::Plan(format!(
                        "table '{}': WATERMARK FOR {} AS {}: {e}",
                        src.name, w.column, w.expr
                    ))
                })?;
            Some(compile_watermark(&parsed, &scope).map_err(|e| match e {
                RuntimeError::Plan(m) => RuntimeError::Plan(format!(
                    "table '{}': WATERMARK FOR {}: {m}",
                    src.name, w.column
                )),
                RuntimeError::Unsupported(m) => RuntimeError::Unsupported(format!(
                    "table '{}': WATERMARK FOR {}: {m}",
                    src.name, w.column
                )),
                other => other,
            })?)
        }
        None => None,
    };
    let idle_timeout = if watermark.is_some() {
        match src
            .options
            .get(headrace_sdk::source::SCAN_WATERMARK_IDLE_TIMEOUT.key())
        {
            Some(v) => {
                let d = headrace_sdk::source::SCAN_WATERMARK_IDLE_TIMEOUT
                    .parse(&format!("table '{}'", src.name), v)?;
                Some(d).filter(|d| !d.is_zero())
            }
            None => settings.source_idle_timeout()?,
        }
    } else {
        None
    };
    let sink_key = dst
        .schema
        .primary_key
        .iter()
        .filter_map(|k| consumed.iter().position(|(n, _)| n == k))
        .collect();
    let transform = Transform {
        full,
        full_identity,
        full_schema,
        filter,
        projection,
        output_schema,
        watermark,
    };
    Ok(Pipeline {
        index,
        source_table: src.name.clone(),
        source_parallelism: source.parallelism().unwrap_or(default_p).max(1),
        source,
        transform: Arc::new(transform),
        sink_table: dst.name.clone(),
        sink_parallelism: sink.parallelism().unwrap_or(default_p).max(1),
        sink,
        idle_timeout,
        watermark_interval: settings.auto_watermark_interval()?,
        keyed_shuffle: settings.keyed_shuffle()?,
        sink_key,
        source_bad_records: None,
        sink_bad_records: None,
    })
}

/// The bad-record policy of table `t`, creating its dead-letter table's sink the first time a
/// table routes to it (`targets` keeps them by name).
fn plan_bad_records(
    t: &TableDef,
    tables: &BTreeMap<String, TableDef>,
    registry: &Registry,
    default_p: usize,
    targets: &mut BTreeMap<String, Arc<DeadLetterTarget>>,
) -> RuntimeResult<TableBadRecords> {
    let connector = t.options.get(CONNECTOR.key()).cloned().unwrap_or_default();
    let options = headrace_sdk::options::Options::new(
        format!("table '{}' (connector '{connector}')", t.name),
        t.options.clone(),
    );
    headrace_sdk::bad_records::check(&options)?;
    let policy = options.get(&bad_records::POLICY)?;
    let config = BadRecordConfig {
        policy,
        table: t.name.clone(),
        connector,
    };
    if policy != BadRecordPolicy::DeadLetter {
        return Ok(TableBadRecords {
            config,
            dead_letters: None,
        });
    }
    let name = options.get(&bad_records::DEAD_LETTER_TABLE)?;
    let key = bad_records::DEAD_LETTER_TABLE.key();
    if let Some(target) = targets.get(&name) {
        return Ok(TableBadRecords {
            config,
            dead_letters: Some(target.clone()),
        });
    }
    let dlq = lookup_table(tables, &name)
        .map_err(|e| RuntimeError::Plan(format!("table '{}': option '{key}': {e}", t.name)))?;
    if dlq.name == t.name {
        return Err(RuntimeError::Plan(format!(
            "table '{}': option '{key}' names the table itself; declare a separate dead-letter table",
            t.name
        )));
    }
    let dlq_policy = headrace_sdk::options::Options::new(dlq.name.clone(), dlq.options.clone())
        .get(&bad_records::POLICY)?;
    if dlq_policy == BadRecordPolicy::DeadLetter {
        return Err(RuntimeError::Plan(format!(
            "table '{}': its dead-letter table '{}' has policy 'dead-letter' itself; a dead-letter \
             table must 'fail' or 'skip' on bad records",
            t.name, dlq.name
        )));
    }
    let sink = create_sink(dlq, registry)?;
    let parallelism = sink.parallelism().unwrap_or(default_p).max(1);
    let mut target = DeadLetterTarget::new(&dlq.name, &dlq.schema, sink, parallelism)?;
    target.own_policy = Some(BadRecordConfig {
        policy: dlq_policy,
        table: dlq.name.clone(),
        connector: dlq
            .options
            .get(CONNECTOR.key())
            .cloned()
            .unwrap_or_default(),
    });
    let target = Arc::new(target);
    targets.insert(name, target.clone());
    Ok(TableBadRecords {
        config,
        dead_letters: Some(target),
    })
}

fn check_assignable(qn: &str, qt: &DataType, sn: &str, st: &DataType) -> RuntimeResult<()> {
    let ok = qt.to_arrow() == st.to_arrow()
        || (qt.is_numeric() && st.is_numeric())
        || st.is_string()
        || (qt.is_string()
            && !matches!(
                st.logical,
                headrace_sdk::types::LogicalType::Array(_)
                    | headrace_sdk::types::LogicalType::Map(..)
                    | headrace_sdk::types::LogicalType::Row(_)
            ))
        || arrow::compute::can_cast_types(&qt.to_arrow(), &st.to_arrow())
            && !matches!(
                st.logical,
                headrace_sdk::types::LogicalType::Array(_)
                    | headrace_sdk::types::LogicalType::Map(..)
                    | headrace_sdk::types::LogicalType::Row(_)
            );
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::Plan(format!(
            "query column '{qn}' ({qt}) cannot be written to sink column '{sn}' ({st})"
        )))
    }
}

fn table_context<'a>(
    t: &TableDef,
    registry: &'a Registry,
    usage: Usage,
) -> RuntimeResult<(
    Arc<dyn headrace_sdk::factory::ConnectorFactory>,
    TableContext<'a>,
)> {
    let id = t.options.get(CONNECTOR.key()).cloned().unwrap_or_default();
    let factory = registry
        .connector(&id)
        .map_err(|e| RuntimeError::Plan(format!("table '{}': option 'connector': {e}", t.name)))?;
    let options = validate_table(
        registry,
        factory.as_ref(),
        &t.name,
        &t.schema,
        &t.options,
        Some(usage),
    )?;
    Ok((
        factory,
        TableContext {
            table_name: t.name.clone(),
            schema: t.schema.clone(),
            options,
            registry,
        },
    ))
}

fn create_source(t: &TableDef, registry: &Registry) -> RuntimeResult<Arc<dyn DynamicSource>> {
    let (f, ctx) = table_context(t, registry, Usage::Source)?;
    if !f.supports_source() {
        return Err(RuntimeError::Plan(format!(
            "table '{}': connector '{}' cannot be read (it is a sink-only connector)",
            t.name,
            f.identifier()
        )));
    }
    Ok(f.create_source(&ctx)?)
}

fn create_sink(t: &TableDef, registry: &Registry) -> RuntimeResult<Arc<dyn DynamicSink>> {
    let (f, ctx) = table_context(t, registry, Usage::Sink)?;
    if !f.supports_sink() {
        return Err(RuntimeError::Plan(format!(
            "table '{}': connector '{}' cannot be written (it is a source-only connector)",
            t.name,
            f.identifier()
        )));
    }
    Ok(f.create_sink(&ctx)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_interval_and_keyed_shuffle_settings() {
        let mut s = JobSettings::default();
        assert_eq!(
            s.auto_watermark_interval().unwrap(),
            Duration::from_millis(200)
        );
        assert_eq!(s.keyed_shuffle().unwrap(), KeyedShuffle::Auto);
        s.raw
            .insert("pipeline.auto-watermark-interval".into(), "0 ms".into());
        assert_eq!(s.auto_watermark_interval().unwrap(), Duration::ZERO);
        s.raw
            .insert("pipeline.auto-watermark-interval".into(), "1 s".into());
        assert_eq!(s.auto_watermark_interval().unwrap(), Duration::from_secs(1));
        s.raw
            .insert("table.exec.sink.keyed-shuffle".into(), "FORCE".into());
        assert_eq!(s.keyed_shuffle().unwrap(), KeyedShuffle::Force);
        s.raw
            .insert("table.exec.sink.keyed-shuffle".into(), "sometimes".into());
        let e = s.keyed_shuffle().unwrap_err().to_string();
        assert!(
            e.contains("'table.exec.sink.keyed-shuffle' = 'sometimes'")
                && e.contains("NONE, AUTO or FORCE"),
            "{e}"
        );
    }
}
