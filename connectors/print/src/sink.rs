//! The print sink and its writer.

use std::fmt;
use std::io::Write;
use std::sync::Arc;

use async_trait::async_trait;
use headrace_sdk::changelog::{ChangelogBatch, ChangelogMode};
use headrace_sdk::prelude::SchemaRef;
use headrace_sdk::row::rows;
use headrace_sdk::sink::{DeliveryGuarantee, DynamicSink, SinkWriter, WriterContext};
use headrace_sdk::types::DataType;
use headrace_sdk::{Error, Result};

use crate::factory::PrintFactory;
use crate::options::{PRINT_IDENTIFIER, SINK_PARALLELISM, STANDARD_ERROR};
use headrace_sdk::render::{needs_rewrite, to_flink};

headrace_sdk::connector_builder! {
    /// Builds a [`PrintSink`] with the same validation as DDL (`PrintSink::builder()`).
    pub struct PrintSinkBuilder(PrintFactory) {
        print_identifier: PRINT_IDENTIFIER as String,
        standard_error: STANDARD_ERROR as bool,
        sink_parallelism: SINK_PARALLELISM as i32,
    }
}

/// Creates the output of the writer of subtask `n` (used instead of stdout/stderr, e.g. in tests).
pub type OutputFactory = Arc<dyn Fn(usize) -> Box<dyn Write + Send> + Send + Sync>;

/// The line prefix Flink's print sink uses: the identifier; when `parallelism > 1`, `:` (only after
/// a non-empty identifier) and the 1-based subtask number; then `"> "` if the prefix is not empty.
pub fn line_prefix(identifier: &str, subtask: usize, parallelism: usize) -> String {
    let mut prefix = identifier.to_string();
    if parallelism > 1 {
        if !prefix.is_empty() {
            prefix.push(':');
        }
        prefix.push_str(&(subtask + 1).to_string());
    }
    if !prefix.is_empty() {
        prefix.push_str("> ");
    }
    prefix
}

/// A sink that prints every row.
#[derive(Clone)]
pub struct PrintSink {
    schema: SchemaRef,
    identifier: String,
    to_stderr: bool,
    parallelism: Option<usize>,
    types: Option<Vec<DataType>>,
    output: Option<OutputFactory>,
}

impl fmt::Debug for PrintSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrintSink")
            .field("identifier", &self.identifier)
            .field("to_stderr", &self.to_stderr)
            .field("parallelism", &self.parallelism)
            .field("custom_output", &self.output.is_some())
            .finish()
    }
}

impl PrintSink {
    /// A print sink for rows of `schema`.
    pub fn new(
        schema: SchemaRef,
        identifier: impl Into<String>,
        to_stderr: bool,
        parallelism: Option<usize>,
    ) -> Self {
        PrintSink {
            schema,
            identifier: identifier.into(),
            to_stderr,
            parallelism,
            types: None,
            output: None,
        }
    }

    /// The declared types of the consumed columns, so values print as Flink prints them
    /// (without them they are derived from the Arrow schema, where TIMESTAMP_LTZ looks like
    /// TIMESTAMP).
    pub fn with_types(mut self, types: Vec<DataType>) -> Self {
        self.types = Some(types);
        self
    }

    /// A builder: `PrintSink::builder().print_identifier("out").columns("id BIGINT")?.build_sink()`.
    pub fn builder() -> PrintSinkBuilder {
        PrintSinkBuilder::default()
    }

    /// Write to the outputs `output` creates (one per subtask) instead of stdout/stderr.
    pub fn with_output(mut self, output: OutputFactory) -> Self {
        self.output = Some(output);
        self
    }

    /// The `print-identifier`.
    pub fn identifier(&self) -> &str {
        &self.identifier
    }

    /// Whether rows go to standard error.
    pub fn to_stderr(&self) -> bool {
        self.to_stderr
    }
}

impl DynamicSink for PrintSink {
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::AtLeastOnce
    }

    fn consumed_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn changelog_mode(&self) -> ChangelogMode {
        ChangelogMode::All
    }

    fn parallelism(&self) -> Option<usize> {
        self.parallelism
    }

    fn create_writer(&self, ctx: WriterContext) -> Result<Box<dyn SinkWriter>> {
        let target = match &self.output {
            Some(f) => Target::Custom(f(ctx.subtask)),
            None if self.to_stderr => Target::Stderr,
            None => Target::Stdout,
        };
        let types = match &self.types {
            Some(t) => t.clone(),
            None => self
                .schema
                .fields()
                .iter()
                .map(|f| DataType::from_arrow(f.data_type()))
                .collect::<Result<Vec<_>>>()?,
        };
        Ok(Box::new(
            PrintWriter::new(&self.identifier, ctx.subtask, ctx.parallelism, target)
                .with_types(types),
        ))
    }
}

/// Where a [`PrintWriter`] writes.
pub enum Target {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// Any writer (a file, a buffer in tests).
    Custom(Box<dyn Write + Send>),
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Stdout => "Stdout",
            Target::Stderr => "Stderr",
            Target::Custom(_) => "Custom",
        })
    }
}

/// Prints the rows of one subtask, one line per row, writing each batch at once.
#[derive(Debug)]
pub struct PrintWriter {
    prefix: String,
    target: Target,
    buf: Vec<u8>,
    /// Column types when some values must be rendered as Flink renders them.
    rewrite: Option<Vec<DataType>>,
}

impl PrintWriter {
    /// A writer for subtask `subtask` of `parallelism`, with Flink's prefix for `identifier`.
    pub fn new(identifier: &str, subtask: usize, parallelism: usize, target: Target) -> Self {
        PrintWriter {
            prefix: line_prefix(identifier, subtask, parallelism),
            target,
            buf: Vec::new(),
            rewrite: None,
        }
    }

    /// The column types, so DECIMAL, FLOAT/DOUBLE and TIMESTAMP_LTZ values print as in Flink.
    pub fn with_types(mut self, types: Vec<DataType>) -> Self {
        self.rewrite = types.iter().any(needs_rewrite).then_some(types);
        self
    }

    /// A writer into `out` (stdout is the default of the sink; this is for tests and embedding).
    pub fn with_output(
        identifier: &str,
        subtask: usize,
        parallelism: usize,
        out: Box<dyn Write + Send>,
    ) -> Self {
        Self::new(identifier, subtask, parallelism, Target::Custom(out))
    }

    /// Render the lines of `batch` into the internal buffer.
    fn render(&mut self, batch: &ChangelogBatch) -> Result<()> {
        self.buf.clear();
        for mut row in rows(batch)? {
            if let Some(types) = &self.rewrite {
                row.values = std::mem::take(&mut row.values)
                    .into_iter()
                    .zip(types.iter())
                    .map(|(v, t)| to_flink(v, t))
                    .collect();
            }
            // Writing into a Vec cannot fail.
            let _ = writeln!(self.buf, "{}{row}", self.prefix);
        }
        Ok(())
    }

    fn emit(&mut self) -> std::io::Result<()> {
        match &mut self.target {
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&self.buf)?;
                out.flush()
            }
            Target::Stderr => {
                let mut out = std::io::stderr().lock();
                out.write_all(&self.buf)?;
                out.flush()
            }
            Target::Custom(w) => {
                w.write_all(&self.buf)?;
                w.flush()
            }
        }
    }
}

#[async_trait]
impl SinkWriter for PrintWriter {
    async fn write(&mut self, batch: ChangelogBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.render(&batch)?;
        self.emit()
            .map_err(|e| Error::io(format!("print sink: cannot write to {:?}", self.target), e))
    }

    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        // Every batch is flushed when written.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use headrace_sdk::prelude::*;
    use headrace_sdk::registry::Registry;
    use headrace_sdk::row::{Row, RowBatchBuilder, Value};

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn batch(schema: SchemaRef) -> ChangelogBatch {
        let mut b = RowBatchBuilder::new(schema);
        b.push(Row::insert(vec![
            Value::BigInt(1),
            Value::String("foo".into()),
        ]));
        b.push(Row::of(
            RowKind::UpdateBefore,
            vec![Value::BigInt(2), Value::Null],
        ));
        b.push(Row::of(
            RowKind::Delete,
            vec![Value::BigInt(3), Value::String("bar".into())],
        ));
        b.build().unwrap()
    }

    fn schema() -> SchemaRef {
        TableSchema::parse_columns("id BIGINT, name STRING")
            .unwrap()
            .physical_arrow_schema()
    }

    async fn print(identifier: &str, subtask: usize, parallelism: usize) -> String {
        let out = Shared::default();
        let mut w =
            PrintWriter::with_output(identifier, subtask, parallelism, Box::new(out.clone()));
        w.write(batch(schema())).await.unwrap();
        w.flush(true).await.unwrap();
        out.text()
    }

    #[test]
    fn prefixes_as_flink() {
        assert_eq!(line_prefix("", 0, 1), "");
        assert_eq!(line_prefix("", 2, 4), "3> ");
        assert_eq!(line_prefix("out", 0, 1), "out> ");
        assert_eq!(line_prefix("out", 1, 2), "out:2> ");
    }

    #[tokio::test]
    async fn exact_lines() {
        assert_eq!(
            print("", 0, 1).await,
            "+I[1, foo]\n-U[2, null]\n-D[3, bar]\n"
        );
        assert_eq!(
            print("orders", 0, 1).await,
            "orders> +I[1, foo]\norders> -U[2, null]\norders> -D[3, bar]\n"
        );
        assert_eq!(
            print("orders", 2, 3).await,
            "orders:3> +I[1, foo]\norders:3> -U[2, null]\norders:3> -D[3, bar]\n"
        );
        assert_eq!(
            print("", 1, 2).await,
            "2> +I[1, foo]\n2> -U[2, null]\n2> -D[3, bar]\n"
        );
    }

    fn writer_ctx(subtask: usize, parallelism: usize) -> WriterContext {
        WriterContext {
            subtask,
            parallelism,
            restored_state: vec![],
            restored_checkpoint_id: 0,
            metrics: Arc::new(SinkMetrics::default()),
        }
    }

    /// The sink the factory creates for `columns` and `options`, printing into a buffer.
    fn sink_for(columns: &str, options: &[(&str, &str)]) -> (PrintSink, Shared) {
        let registry = Registry::new().with_connector(PrintFactory);
        let schema = TableSchema::parse_columns(columns).unwrap();
        let raw = options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let options = headrace_sdk::factory::validate_table(
            &registry,
            &PrintFactory,
            "t",
            &schema,
            &raw,
            None,
        )
        .unwrap();
        let ctx = headrace_sdk::factory::TableContext {
            table_name: "t".into(),
            schema,
            options,
            registry: &registry,
        };
        let out = Shared::default();
        let shared = out.clone();
        let sink = crate::factory::create(&ctx)
            .unwrap()
            .with_output(Arc::new(move |_| Box::new(shared.clone())));
        (sink, out)
    }

    #[tokio::test]
    async fn built_from_options() {
        let sink = PrintSink::builder()
            .registry(Registry::new().with_connector(PrintFactory))
            .print_identifier("sink")
            .standard_error(true)
            .sink_parallelism(2)
            .columns("id BIGINT, name STRING")
            .unwrap()
            .build_sink()
            .unwrap();
        assert_eq!(sink.parallelism(), Some(2));
        assert_eq!(sink.changelog_mode(), ChangelogMode::All);

        let (sink, out) = sink_for(
            "id BIGINT, name STRING",
            &[
                ("print-identifier", "sink"),
                ("standard-error", "true"),
                ("sink.parallelism", "2"),
            ],
        );
        assert!(sink.to_stderr());
        assert_eq!(sink.identifier(), "sink");
        let mut w = sink.create_writer(writer_ctx(1, 2)).unwrap();
        w.write(batch(sink.consumed_schema())).await.unwrap();
        assert_eq!(
            out.text(),
            "sink:2> +I[1, foo]\nsink:2> -U[2, null]\nsink:2> -D[3, bar]\n"
        );
    }

    #[tokio::test]
    async fn values_print_as_in_flink() {
        let (sink, out) = sink_for(
            "d DECIMAL(5, 2), f DOUBLE, ts TIMESTAMP(3), ltz TIMESTAMP_LTZ(3), \
             a ARRAY<DECIMAL(3, 1)>",
            &[],
        );
        let mut w = sink.create_writer(writer_ctx(0, 1)).unwrap();
        let ts = headrace_sdk::row::Timestamp::from_millis(1_704_067_200_500);
        let mut b = RowBatchBuilder::new(sink.consumed_schema());
        b.push(Row::insert(vec![
            Value::Decimal(150),
            Value::Double(1e7),
            Value::Timestamp(ts),
            Value::Timestamp(ts),
            Value::Array(vec![Value::Decimal(-5), Value::Null]),
        ]));
        w.write(b.build().unwrap()).await.unwrap();
        assert_eq!(
            out.text(),
            "+I[1.50, 1.0E7, 2024-01-01T00:00:00.500, 2024-01-01T00:00:00.500Z, [-0.5, null]]\n"
        );
    }

    #[test]
    fn rejects_bad_options() {
        let r = Registry::new().with_connector(PrintFactory);
        let e = PrintSink::builder()
            .registry(r.clone())
            .option("print-identifer", "x")
            .build_sink()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("Did you mean 'print-identifier'?"), "{e}");
        let e = PrintSink::builder()
            .registry(r.clone())
            .option("standard-error", "maybe")
            .build_sink()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("'standard-error'"), "{e}");
        let e = PrintSink::builder()
            .registry(r)
            .sink_parallelism(0)
            .build_sink()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("at least 1"), "{e}");
        assert_eq!(crate::factory().identifier(), "print");
        assert!(Registry::from_inventory().connector("print").is_ok());
    }
}
