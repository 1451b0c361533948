//! Test helpers: a tiny comma-separated line format and drivers for the SDK traits.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::compute::{cast, cast_with_options, CastOptions};
use arrow::datatypes::DataType as ArrowType;
use headrace_connector_filesystem::{FileSink, FileSinkBuilder, FileSource, FileSourceBuilder};
use headrace_sdk::prelude::*;

/// A column's values cast to strings.
fn as_strings(c: &ArrayRef) -> StringArray {
    cast(c, &ArrowType::Utf8)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .clone()
}

/// `'format' = 'testline'`: fields separated by ',', empty means NULL.
pub struct TestLineFormat;

struct TestDecoder {
    schema: SchemaRef,
    rows: Vec<Vec<Option<String>>>,
}

impl Decoder for TestDecoder {
    fn decode(&mut self, record: &[u8], origin: &RecordOrigin) -> Result<()> {
        let s = std::str::from_utf8(record).unwrap();
        let parts: Vec<Option<String>> = s
            .split(',')
            .map(|p| (!p.is_empty()).then(|| p.to_string()))
            .collect();
        if parts.len() != self.schema.fields().len() {
            return Err(Error::BadRecord {
                format: "testline".into(),
                origin: origin.clone(),
                reason: format!("expected {} fields", self.schema.fields().len()),
            });
        }
        self.rows.push(parts);
        Ok(())
    }
    fn buffered_rows(&self) -> usize {
        self.rows.len()
    }
    fn finish(&mut self) -> Result<ChangelogBatch> {
        let rows = std::mem::take(&mut self.rows);
        let mut cols: Vec<ArrayRef> = Vec::new();
        for (i, f) in self.schema.fields().iter().enumerate() {
            let s = StringArray::from(rows.iter().map(|r| r[i].clone()).collect::<Vec<_>>());
            cols.push(cast_with_options(
                &s,
                f.data_type(),
                &CastOptions {
                    safe: false,
                    ..Default::default()
                },
            )?);
        }
        Ok(ChangelogBatch::inserts(RecordBatch::try_new(
            self.schema.clone(),
            cols,
        )?))
    }
}

struct TestEncoder;

impl Encoder for TestEncoder {
    fn encode(
        &mut self,
        batch: &ChangelogBatch,
        emit: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let cols: Vec<StringArray> = batch.batch.columns().iter().map(as_strings).collect();
        for r in 0..batch.num_rows() {
            let line: Vec<&str> = cols
                .iter()
                .map(|c| if c.is_valid(r) { c.value(r) } else { "" })
                .collect();
            emit(r, line.join(",").as_bytes())?;
        }
        Ok(())
    }
}

impl FormatFactory for TestLineFormat {
    fn identifier(&self) -> &'static str {
        "testline"
    }
    fn description(&self) -> &'static str {
        "comma-separated test lines"
    }
    fn options(&self) -> OptionSet {
        OptionSet::new()
    }
    fn create_decoder(&self, ctx: &FormatContext) -> Result<Box<dyn Decoder>> {
        Ok(Box::new(TestDecoder {
            schema: ctx.schema.clone(),
            rows: Vec::new(),
        }))
    }
    fn create_encoder(&self, _ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
        Ok(Box::new(TestEncoder))
    }
}

/// A registry with the filesystem connector and the test format.
pub fn registry() -> Registry {
    Registry::new()
        .with_connector(headrace_connector_filesystem::FileSystemFactory)
        .with_format(TestLineFormat)
}

/// A source builder with the test registry and format.
pub fn source_builder(path: &Path) -> FileSourceBuilder {
    FileSource::builder()
        .registry(registry())
        .path(path.display().to_string())
        .format("testline")
}

/// A sink builder with the test registry and format.
pub fn sink_builder(path: &Path) -> FileSinkBuilder {
    FileSink::builder()
        .registry(registry())
        .path(path.display().to_string())
        .format("testline")
}

/// Write a file, creating its directories.
pub fn write(path: &Path, content: &str) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
    path.to_path_buf()
}

/// A reader context.
pub fn reader_ctx(subtask: usize, parallelism: usize, batch_size: usize) -> ReaderContext {
    headrace_sdk::testing::reader_context(subtask, parallelism, batch_size)
}

/// Run `parallelism` readers to the end, round-robin; batches per reader (insert-only).
pub async fn run(
    source: &Arc<dyn DynamicSource>,
    parallelism: usize,
    batch_size: usize,
) -> Vec<Vec<RecordBatch>> {
    headrace_sdk::testing::read_all(source, parallelism, batch_size, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|bs| {
            bs.into_iter()
                .map(|b| {
                    assert!(b.is_insert_only());
                    b.batch
                })
                .collect()
        })
        .collect()
}

/// Every row of the batches as strings (NULL as "NULL"), one Vec per row.
pub fn rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in batches {
        let cols: Vec<StringArray> = b.columns().iter().map(as_strings).collect();
        for r in 0..b.num_rows() {
            out.push(
                cols.iter()
                    .map(|c| {
                        if c.is_valid(r) {
                            c.value(r).to_string()
                        } else {
                            "NULL".to_string()
                        }
                    })
                    .collect(),
            );
        }
    }
    out
}

/// The files below `dir` (in directories `enter` accepts by name) that `keep` accepts by name.
pub fn files_below(
    dir: &Path,
    enter: &dyn Fn(&str) -> bool,
    keep: &dyn Fn(&str) -> bool,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if enter(&name) {
                    stack.push(p);
                }
            } else if keep(&name) {
                out.push(p);
            }
        }
    }
    out
}

/// Visible (committed) files below `dir`, relative paths, sorted.
pub fn visible_files(dir: &Path) -> Vec<PathBuf> {
    let visible = |name: &str| !name.starts_with('.') && !name.starts_with('_');
    let mut out: Vec<PathBuf> = files_below(dir, &visible, &visible)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_path_buf())
        .collect();
    out.sort();
    out
}

/// Hidden in-progress files below `dir`.
pub fn in_progress_files(dir: &Path) -> Vec<PathBuf> {
    files_below(dir, &|_| true, &|name| name.contains(".inprogress."))
}

/// The lines of every visible file below `dir`, each prefixed with its relative directory.
pub fn committed_lines(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for f in visible_files(dir) {
        let parent = f.parent().unwrap().display().to_string();
        for l in std::fs::read_to_string(dir.join(&f)).unwrap().lines() {
            out.push(format!("{parent}|{l}"));
        }
    }
    out.sort();
    out
}

/// Tables of one format's files, with one registry.
pub struct Files {
    /// The registry (with the format).
    pub registry: fn() -> Registry,
    /// The format's identifier.
    pub format: &'static str,
}

/// A method of [`Files`] building a table of the files below `dir` with a builder: the columns,
/// the partition keys and further options.
macro_rules! build_table {
    ($(#[$doc:meta])* $name:ident, $builder:expr, $build:ident, $out:ty) => {
        $(#[$doc])*
        pub fn $name(
            &self,
            dir: &Path,
            columns: &str,
            partitions: &[&str],
            options: &[(&str, &str)],
        ) -> Result<$out> {
            let mut b = $builder
                .registry((self.registry)())
                .path(dir.display().to_string())
                .format(self.format)
                .columns(columns)?
                .partitioned_by(partitions.iter().copied());
            for (k, v) in options {
                b = b.option(*k, *v);
            }
            b.$build()
        }
    };
}

impl Files {
    build_table!(
        /// A source of the files below `dir`, as `FileSource::builder()` builds it.
        try_source,
        FileSource::builder(),
        build_source,
        Arc<dyn DynamicSource>
    );
    build_table!(
        /// A sink writing files below `dir`, as `FileSink::builder()` builds it.
        try_sink,
        FileSink::builder(),
        build_sink,
        Arc<dyn DynamicSink>
    );
}

/// Tables of the test line format.
pub const TESTLINE: Files = Files {
    registry,
    format: "testline",
};

/// The context of writer `subtask` of one, without restored state.
pub fn writer_ctx(subtask: usize) -> WriterContext {
    WriterContext {
        subtask,
        parallelism: 1,
        restored_state: vec![],
        restored_checkpoint_id: 0,
        metrics: Arc::new(SinkMetrics::default()),
    }
}

/// JSON `lines` decoded by the json format (into the columns' fields as `field` changes them)
/// as a batch of the table's physical columns.
pub fn json_batch(
    columns: &str,
    lines: &[impl AsRef<str>],
    field: impl Fn(arrow::datatypes::Field) -> arrow::datatypes::Field,
) -> RecordBatch {
    let schema = TableSchema::parse_columns(columns)
        .unwrap()
        .physical_arrow_schema();
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| field(f.as_ref().clone()))
        .collect();
    let ctx = FormatContext {
        schema: Arc::new(arrow::datatypes::Schema::new(fields)),
        options: Options::new("test json", Default::default()),
    };
    let mut d = headrace_format_json::JsonFormatFactory
        .create_decoder(&ctx)
        .unwrap();
    for (i, l) in lines.iter().enumerate() {
        let origin = RecordOrigin::File {
            path: "test".into(),
            line: i as u64 + 1,
        };
        d.decode(l.as_ref().as_bytes(), &origin).unwrap();
    }
    let b = d.finish().unwrap().batch;
    RecordBatch::try_new(schema, b.columns().to_vec()).unwrap()
}

/// Write the batches of each checkpoint with the sink (writer 0 of one), committing each
/// checkpoint; checks that nothing new is visible below `dir` before a commit, and that no
/// in-progress file is left at the end. Returns the number of committables.
pub async fn write_checkpoints(
    sink: &Arc<dyn DynamicSink>,
    dir: &Path,
    checkpoints: Vec<Vec<RecordBatch>>,
) -> usize {
    let mut w = sink.create_writer(writer_ctx(0)).unwrap();
    let mut c = sink.create_committer().unwrap().unwrap();
    let mut files = 0;
    for (i, batches) in checkpoints.into_iter().enumerate() {
        let before = visible_files(dir);
        for b in batches {
            let b = RecordBatch::try_new(sink.consumed_schema(), b.columns().to_vec()).unwrap();
            w.write(ChangelogBatch::inserts(b)).await.unwrap();
        }
        w.flush(false).await.unwrap();
        let cp = i as u64 + 1;
        let committables = w.prepare_commit(cp).await.unwrap();
        assert_eq!(
            visible_files(dir),
            before,
            "part files stay hidden until checkpoint {cp} is committed"
        );
        files += committables.len();
        c.commit(cp, committables).await.unwrap();
    }
    w.flush(true).await.unwrap();
    w.close().await.unwrap();
    assert!(in_progress_files(dir).is_empty());
    files
}

/// The input, output and state directories of a SQL job below `tmp`.
pub fn job_dirs(tmp: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (tmp.join("in"), tmp.join("out"), tmp.join("state"))
}

/// Write `files` input files `f<k>.txt` of `per_file` lines below `inp`; line `i` (counted over
/// all files) is `line(i)`.
pub fn write_inputs(inp: &Path, files: i64, per_file: i64, mut line: impl FnMut(i64) -> String) {
    for f in 0..files {
        let mut content = String::new();
        for l in 0..per_file {
            content.push_str(&line(f * per_file + l));
            content.push('\n');
        }
        write(&inp.join(format!("f{f}.txt")), &content);
    }
}

/// Run a SQL job with `registry` to its end (at most two minutes), or until `stop_when` says so
/// (given the rows read), keeping its state in `state`.
pub async fn run_job(
    registry: &Registry,
    sql: &str,
    state: &Path,
    stop_when: Option<Box<dyn Fn(u64) -> bool + Send>>,
) -> headrace_runtime::exec::JobSummary {
    headrace_runtime::harness::run_sql(
        sql,
        registry,
        Some(state),
        stop_when,
        std::time::Duration::from_secs(120),
    )
    .await
    .unwrap()
}

/// The next batch of `reader`, asking `en` for splits; None at the end (of a bounded source).
pub async fn poll_batch(
    en: &mut Box<dyn SplitEnumerator>,
    reader: &mut Box<dyn SourceReader>,
) -> Option<RecordBatch> {
    loop {
        match reader.poll_next().await.unwrap() {
            ReadEvent::Batch(b) => return Some(b.batch),
            ReadEvent::NeedSplits => match en.handle_split_request(0).await.unwrap() {
                SplitAssignment::Splits(s) => reader.add_splits(s).unwrap(),
                SplitAssignment::NoMoreSplits => reader.no_more_splits(),
                SplitAssignment::NotYet => panic!("bounded source said NotYet"),
            },
            ReadEvent::Idle => {}
            ReadEvent::End => return None,
        }
    }
}

/// A crash after a checkpoint: a reader of `src` (batches of `batch_size` rows) reads `before`
/// batches and checkpoints (one split, which `check` looks at), reads one more batch (lost with
/// the crash); then an enumerator and a reader restored from the checkpoint read to the end.
/// The batches read before the checkpoint and after the restore.
pub async fn read_across_a_crash(
    src: &Arc<dyn DynamicSource>,
    batch_size: usize,
    before: usize,
    check: impl FnOnce(&SourceSplit),
) -> (Vec<RecordBatch>, Vec<RecordBatch>) {
    let mut en = src
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let mut reader = src.create_reader(reader_ctx(0, 1, batch_size)).unwrap();
    let mut first = Vec::new();
    for _ in 0..before {
        first.push(poll_batch(&mut en, &mut reader).await.unwrap());
    }
    let splits = reader.snapshot_state(1).unwrap();
    let en_state = en.snapshot_state(1).unwrap();
    assert_eq!(splits.len(), 1);
    check(&splits[0]);
    // Rows read after the checkpoint are lost with the crash.
    let _lost = poll_batch(&mut en, &mut reader).await.unwrap();
    drop(reader);
    drop(en);
    let mut en = src
        .create_enumerator(EnumeratorContext { parallelism: 1 }, Some(en_state))
        .unwrap();
    let mut reader = src.create_reader(reader_ctx(0, 1, batch_size)).unwrap();
    reader.add_splits(splits).unwrap();
    let mut rest = Vec::new();
    while let Some(b) = poll_batch(&mut en, &mut reader).await {
        rest.push(b);
    }
    (first, rest)
}

/// Every row as Arrow displays its values (nested types too), NULL as "NULL".
pub fn display_rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let opts = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let fmts: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            out.push(fmts.iter().map(|f| f.value(r).to_string()).collect());
        }
    }
    out
}

/// A SQL job copying the `(id BIGINT, day STRING)` rows of the testline files below `inp` into a
/// table partitioned by `day` below `out`: the `settings` (SET statements) first, and `options`
/// (more WITH options, each followed by a comma) for the partitioned table.
pub fn day_job(settings: &str, inp: &Path, out: &Path, options: &str) -> String {
    format!(
        "{settings}
         CREATE TABLE src (id BIGINT, day STRING)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'testline');
         CREATE TABLE dst (id BIGINT, day STRING) PARTITIONED BY (day)
           WITH ({options} 'connector' = 'filesystem', 'path' = '{}', 'format' = 'testline');
         INSERT INTO dst SELECT id, day FROM src;",
        inp.display(),
        out.display()
    )
}

/// A source of the `format` files at `path` with `columns`, created by the connector's factory
/// from validated options as for DDL; split every `split_bytes` bytes when given.
pub fn factory_source(
    registry: &Registry,
    path: &Path,
    format: &str,
    columns: &str,
    split_bytes: Option<u64>,
) -> Arc<dyn DynamicSource> {
    use headrace_sdk::factory::{validate_table, TableContext, Usage};
    let schema = TableSchema::parse_columns(columns).unwrap();
    let raw = [
        ("connector", "filesystem"),
        ("path", path.to_str().unwrap()),
        ("format", format),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let options = validate_table(
        registry,
        &headrace_connector_filesystem::FileSystemFactory,
        "t",
        &schema,
        &raw,
        Some(Usage::Source),
    )
    .unwrap();
    let ctx = TableContext {
        table_name: "t".into(),
        schema,
        options,
        registry,
    };
    let s: FileSource = headrace_connector_filesystem::factory::create_source(&ctx).unwrap();
    Arc::new(match split_bytes {
        Some(b) => s.with_split_bytes(b),
        None => s,
    })
}
