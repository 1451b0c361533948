//! What the Java side can ask for, in plain Rust (the JNI glue in [`crate::glue`] only converts).
//!
//! Objects live in a handle table: Java holds `long` handles, never pointers, so a stale or
//! repeated handle is an error, not a crash.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use arrow::datatypes::SchemaRef;
use headrace_sdk::bad_records::{self, BadRecordConfig, BadRecordPolicy};
use headrace_sdk::changelog::ChangelogMode;
use headrace_sdk::factory::{
    validate_table, ConnectorFactory, MetadataSpec, TableContext, Usage, CONNECTOR,
};
use headrace_sdk::options::{OptionDescriptor, OptionSet};
use headrace_sdk::registry::Registry;
use headrace_sdk::schema::TableSchema;
use headrace_sdk::sink::{Committer, DynamicSink, SinkMetrics, SinkWriter, WriterContext};
use headrace_sdk::source::{
    Boundedness, DynamicSource, EnumeratorContext, ReadEvent, ReaderContext, SourceMetrics,
    SourceReader, SplitAssignment, SplitEnumerator,
};
use headrace_sdk::state::VersionedBytes;
use headrace_sdk::types::DataType;
use headrace_sdk::{Error, Result};

use crate::codec::{self, Writer};

/// A table as Flink describes it to the bridge.
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// The Headrace connector identifier (without the Flink-side prefix).
    pub connector: String,
    /// The table's name, for error messages.
    pub table: String,
    /// The physical columns as a Flink column list (`` `id` BIGINT NOT NULL, `name` STRING ``).
    pub columns: String,
    /// The table's options (`connector` is replaced by the Headrace identifier).
    pub options: BTreeMap<String, String>,
}

/// Answer tags of [`Bridge::enumerator_request`].
pub mod assignment_tag {
    /// Splits follow.
    pub const SPLITS: u8 = 0;
    /// Nothing yet: ask again later.
    pub const NOT_YET: u8 = 1;
    /// No more splits for this reader.
    pub const NO_MORE: u8 = 2;
}

/// Answer tags of [`Bridge::reader_poll`].
pub mod poll_tag {
    /// A row batch follows.
    pub const BATCH: u8 = 0;
    /// No data now.
    pub const IDLE: u8 = 1;
    /// The reader wants splits.
    pub const NEED_SPLITS: u8 = 2;
    /// The reader is done.
    pub const END: u8 = 3;
    /// A row batch from one split follows: the split's id (length-prefixed UTF-8), then the rows
    /// as for `BATCH`. Sent for readers that name the split of each batch
    /// ([`SourceReader::batch_split`](headrace_sdk::source::SourceReader::batch_split)), so Java
    /// emits it to that split's output and Flink keeps a watermark per split.
    pub const SPLIT_BATCH: u8 = 4;
}

/// An opened table: its source or sink, with what its readers or writers need.
struct TableSlot<T: ?Sized> {
    table: Arc<T>,
    types: Arc<Vec<DataType>>,
    /// The table's bad-record policy, given to every reader's or writer's metrics.
    bad_records: BadRecordConfig,
}

type SourceSlot = TableSlot<dyn DynamicSource>;
type SinkSlot = TableSlot<dyn DynamicSink>;

struct ReaderSlot {
    reader: Box<dyn SourceReader>,
    types: Arc<Vec<DataType>>,
    /// The answer of the last poll, kept so its memory is reused by the next one.
    answer: Writer,
}

struct WriterSlot {
    writer: Box<dyn SinkWriter>,
    types: Arc<Vec<DataType>>,
    schema: SchemaRef,
}

#[derive(Clone)]
enum Handle {
    Source(Arc<SourceSlot>),
    Sink(Arc<SinkSlot>),
    Enumerator(Arc<Mutex<Box<dyn SplitEnumerator>>>),
    Reader(Arc<Mutex<ReaderSlot>>),
    Writer(Arc<Mutex<WriterSlot>>),
    Committer(Arc<Mutex<Box<dyn Committer>>>),
}

/// The bridge's state in one loaded copy of the native library: the registry, the open handles and
/// the async runtime that drives connector futures.
pub struct Bridge {
    registry: Registry,
    handles: Mutex<HashMap<i64, Handle>>,
    next: AtomicI64,
    runtime: OnceLock<std::result::Result<tokio::runtime::Runtime, String>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock was already reported as an exception; the object may be
    // half-updated, but refusing every later call would hide the first error behind new ones.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The typed getters of the handle table: `name: Variant -> type, "what it is not"`.
macro_rules! handle_getters {
    ($($name:ident: $variant:ident -> $t:ty, $what:literal;)*) => {$(
        fn $name(&self, id: i64) -> Result<$t> {
            match self.get(id)? {
                Handle::$variant(h) => Ok(h),
                _ => Err(Error::internal(format!(
                    concat!("bridge handle {} is not ", $what),
                    id
                ))),
            }
        }
    )*};
}

impl Bridge {
    /// A bridge serving the connectors and formats of `registry`.
    pub fn new(registry: Registry) -> Self {
        Bridge {
            registry,
            handles: Mutex::new(HashMap::new()),
            next: AtomicI64::new(1),
            runtime: OnceLock::new(),
        }
    }

    /// The registry served.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> Result<F::Output> {
        let rt = self.runtime.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("headrace-bridge")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        });
        match rt {
            Ok(rt) => Ok(rt.block_on(f)),
            Err(e) => Err(Error::internal(format!(
                "could not start the bridge's async runtime: {e}"
            ))),
        }
    }

    fn insert(&self, h: Handle) -> i64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.handles).insert(id, h);
        id
    }

    fn get(&self, id: i64) -> Result<Handle> {
        lock(&self.handles).get(&id).cloned().ok_or_else(|| {
            Error::internal(format!(
                "bridge handle {id} is not open (closed already, or from another class loader)"
            ))
        })
    }

    /// Close a handle, releasing the object (readers and writers are closed first).
    pub fn close(&self, id: i64) -> Result<()> {
        let h = lock(&self.handles).remove(&id);
        match h {
            Some(Handle::Reader(r)) => {
                let mut g = lock(&r);
                self.block_on(g.reader.close())?
            }
            Some(Handle::Writer(w)) => {
                let mut g = lock(&w);
                self.block_on(g.writer.close())?
            }
            _ => Ok(()),
        }
    }

    /// Number of open handles (for leak checks in tests).
    pub fn open_handles(&self) -> usize {
        lock(&self.handles).len()
    }

    /// Validate a table's options for `usage` and create its source or sink with `make` (no I/O).
    fn open_table<T: ?Sized>(
        &self,
        spec: &TableSpec,
        usage: Usage,
        make: impl FnOnce(&dyn ConnectorFactory, &TableContext<'_>) -> Result<Arc<T>>,
    ) -> Result<TableSlot<T>> {
        let factory = self.registry.connector(&spec.connector)?;
        let schema = if spec.columns.trim().is_empty() {
            TableSchema::default()
        } else {
            TableSchema::parse_columns(&spec.columns).map_err(|e| {
                Error::Schema(format!(
                    "table '{}': the columns Flink declared ({}) are not understood by Headrace: {e}",
                    spec.table, spec.columns
                ))
            })?
        };
        let mut raw = spec.options.clone();
        raw.insert(CONNECTOR.key().to_string(), spec.connector.clone());
        let options = validate_table(
            &self.registry,
            factory.as_ref(),
            &spec.table,
            &schema,
            &raw,
            Some(usage),
        )?;
        let (supported, refusal) = match usage {
            Usage::Source => (factory.supports_source(), "read (it is sink-only)"),
            Usage::Sink => (factory.supports_sink(), "written (it is source-only)"),
        };
        if !supported {
            return Err(Error::Unsupported(format!(
                "table '{}': connector '{}' cannot be {refusal}",
                spec.table, spec.connector
            )));
        }
        let types = schema.columns.iter().map(|c| c.data_type.clone()).collect();
        let bad_records = bad_record_config(spec, &options)?;
        let table = make(
            factory.as_ref(),
            &TableContext {
                table_name: spec.table.clone(),
                schema,
                options,
                registry: &self.registry,
            },
        )?;
        Ok(TableSlot {
            table,
            types: Arc::new(types),
            bad_records,
        })
    }

    /// Validate a table's options and create its source (no I/O).
    pub fn create_source(&self, spec: &TableSpec) -> Result<i64> {
        let slot = self.open_table(spec, Usage::Source, |f, ctx| f.create_source(ctx))?;
        Ok(self.insert(Handle::Source(Arc::new(slot))))
    }

    /// Validate a table's options and create its sink (no I/O).
    pub fn create_sink(&self, spec: &TableSpec) -> Result<i64> {
        let slot = self.open_table(spec, Usage::Sink, |f, ctx| f.create_sink(ctx))?;
        Ok(self.insert(Handle::Sink(Arc::new(slot))))
    }

    handle_getters! {
        source: Source -> Arc<SourceSlot>, "a source";
        sink: Sink -> Arc<SinkSlot>, "a sink";
        enumerator: Enumerator -> Arc<Mutex<Box<dyn SplitEnumerator>>>, "an enumerator";
        reader: Reader -> Arc<Mutex<ReaderSlot>>, "a reader";
        writer: Writer -> Arc<Mutex<WriterSlot>>, "a writer";
        committer: Committer -> Arc<Mutex<Box<dyn Committer>>>, "a committer";
    }

    /// The row kinds a source produces or a sink accepts: 0 insert-only, 1 upsert (+I, +U, -D),
    /// 2 every kind.
    pub fn changelog_mode(&self, id: i64) -> Result<i32> {
        let mode = match self.get(id)? {
            Handle::Source(s) => s.table.changelog_mode(),
            Handle::Sink(s) => s.table.changelog_mode(),
            _ => {
                return Err(Error::internal(format!(
                    "bridge handle {id} is neither a source nor a sink"
                )))
            }
        };
        Ok(match mode {
            ChangelogMode::InsertOnly => 0,
            ChangelogMode::Upsert => 1,
            ChangelogMode::All => 2,
        })
    }

    /// Whether the source ends.
    pub fn source_bounded(&self, id: i64) -> Result<bool> {
        Ok(self.source(id)?.table.boundedness() == Boundedness::Bounded)
    }

    /// Create the split enumerator, fresh or from state (a versioned list holding one item).
    pub fn enumerator_create(
        &self,
        source: i64,
        parallelism: usize,
        restored: Option<&[u8]>,
    ) -> Result<i64> {
        let s = self.source(source)?;
        let restored = match restored {
            Some(b) => codec::read_versioned(b)?.into_iter().next(),
            None => None,
        };
        let e = s
            .table
            .create_enumerator(EnumeratorContext { parallelism }, restored)?;
        Ok(self.insert(Handle::Enumerator(Arc::new(Mutex::new(e)))))
    }

    /// A reader asks for work: an [`assignment_tag`] byte, then splits for `SPLITS`.
    pub fn enumerator_request(&self, id: i64, subtask: usize) -> Result<Vec<u8>> {
        let e = self.enumerator(id)?;
        let mut g = lock(&e);
        let a = self.block_on(g.handle_split_request(subtask))??;
        drop(g);
        let mut w = Writer::new();
        match a {
            SplitAssignment::Splits(s) => {
                w.u8(assignment_tag::SPLITS);
                codec::write_splits(&mut w, &s)?;
            }
            SplitAssignment::NotYet => w.u8(assignment_tag::NOT_YET),
            SplitAssignment::NoMoreSplits => w.u8(assignment_tag::NO_MORE),
        }
        Ok(w.buf)
    }

    /// Splits come back from a failed reader.
    pub fn enumerator_add_splits_back(&self, id: i64, splits: &[u8]) -> Result<()> {
        let splits = codec::read_splits(splits)?;
        lock(&*self.enumerator(id)?).add_splits_back(splits);
        Ok(())
    }

    /// The enumerator's state, as a versioned list with one item.
    pub fn enumerator_snapshot(&self, id: i64, checkpoint: u64) -> Result<Vec<u8>> {
        let v = lock(&*self.enumerator(id)?).snapshot_state(checkpoint)?;
        let mut w = Writer::new();
        codec::write_versioned(&mut w, &[v])?;
        Ok(w.buf)
    }

    /// A checkpoint completed.
    pub fn enumerator_checkpoint_complete(&self, id: i64, checkpoint: u64) -> Result<()> {
        let e = self.enumerator(id)?;
        let mut g = lock(&e);
        self.block_on(g.notify_checkpoint_complete(checkpoint))?
    }

    /// Create the reader of one subtask.
    pub fn reader_create(
        &self,
        source: i64,
        subtask: usize,
        parallelism: usize,
        batch_size: usize,
    ) -> Result<i64> {
        let s = self.source(source)?;
        let metrics = Arc::new(SourceMetrics::default());
        metrics.bad_records.configure(s.bad_records.clone());
        let reader = s.table.create_reader(ReaderContext {
            subtask,
            parallelism,
            batch_size: batch_size.max(1),
            metrics,
        })?;
        Ok(self.insert(Handle::Reader(Arc::new(Mutex::new(ReaderSlot {
            reader,
            types: s.types.clone(),
            answer: Writer::new(),
        })))))
    }

    /// Hand splits to a reader.
    pub fn reader_add_splits(&self, id: i64, splits: &[u8]) -> Result<()> {
        let splits = codec::read_splits(splits)?;
        lock(&*self.reader(id)?).reader.add_splits(splits)
    }

    /// No more splits will come.
    pub fn reader_no_more_splits(&self, id: i64) -> Result<()> {
        lock(&*self.reader(id)?).reader.no_more_splits();
        Ok(())
    }

    /// Poll: a [`poll_tag`] byte, then rows for `BATCH` in the compact row encoding.
    pub fn reader_poll(&self, id: i64) -> Result<Vec<u8>> {
        self.reader_poll_with(id, codec::encoding::COMPACT, |b| Ok(b.to_vec()))
    }

    /// Poll: a [`poll_tag`] byte, then rows for `BATCH` in `encoding` (a [`codec::encoding`]
    /// value), handed to `f` (which copies them out; the buffer is reused by the next poll).
    pub fn reader_poll_with<R>(
        &self,
        id: i64,
        encoding: i32,
        f: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R> {
        let r = self.reader(id)?;
        let mut slot = lock(&r);
        let ev = self.block_on(slot.reader.poll_next())??;
        let ReaderSlot {
            reader,
            types,
            answer,
        } = &mut *slot;
        answer.buf.clear();
        match ev {
            ReadEvent::Batch(b) => {
                answer.buf.reserve(b.byte_size() + 64);
                match reader.batch_split() {
                    Some(split) => {
                        answer.u8(poll_tag::SPLIT_BATCH);
                        answer.bytes(split.as_bytes())?;
                    }
                    None => answer.u8(poll_tag::BATCH),
                }
                match encoding {
                    codec::encoding::COMPACT => codec::write_rows(answer, &b, types)?,
                    codec::encoding::BINARY_ROW => codec::write_binary_rows(answer, &b, types)?,
                    e => {
                        return Err(Error::internal(format!(
                            "unknown row encoding {e} from Java"
                        )))
                    }
                }
            }
            ReadEvent::Idle => answer.u8(poll_tag::IDLE),
            ReadEvent::NeedSplits => answer.u8(poll_tag::NEED_SPLITS),
            ReadEvent::End => answer.u8(poll_tag::END),
        }
        f(&answer.buf)
    }

    /// The state of the reader's unfinished splits.
    pub fn reader_snapshot(&self, id: i64, checkpoint: u64) -> Result<Vec<u8>> {
        let s = lock(&*self.reader(id)?).reader.snapshot_state(checkpoint)?;
        let mut w = Writer::new();
        codec::write_splits(&mut w, &s)?;
        Ok(w.buf)
    }

    /// A checkpoint completed.
    pub fn reader_checkpoint_complete(&self, id: i64, checkpoint: u64) -> Result<()> {
        let r = self.reader(id)?;
        let mut slot = lock(&r);
        self.block_on(slot.reader.notify_checkpoint_complete(checkpoint))?
    }

    /// Create the writer of one subtask, with its restored state (a versioned list).
    pub fn writer_create(
        &self,
        sink: i64,
        subtask: usize,
        parallelism: usize,
        restored_checkpoint_id: u64,
        restored_state: &[u8],
    ) -> Result<i64> {
        let s = self.sink(sink)?;
        let restored_state = if restored_state.is_empty() {
            Vec::new()
        } else {
            codec::read_versioned(restored_state)?
        };
        let metrics = Arc::new(SinkMetrics::default());
        metrics.bad_records.configure(s.bad_records.clone());
        let writer = s.table.create_writer(WriterContext {
            subtask,
            parallelism,
            restored_state,
            restored_checkpoint_id,
            metrics,
        })?;
        Ok(self.insert(Handle::Writer(Arc::new(Mutex::new(WriterSlot {
            writer,
            types: s.types.clone(),
            schema: s.table.consumed_schema(),
        })))))
    }

    /// Write a batch of rows encoded by Java in the compact row encoding.
    pub fn writer_write(&self, id: i64, rows: &[u8]) -> Result<()> {
        self.writer_write_encoded(id, rows, codec::encoding::COMPACT)
    }

    /// Write a batch of rows encoded by Java in `encoding` (a [`codec::encoding`] value).
    pub fn writer_write_encoded(&self, id: i64, rows: &[u8], encoding: i32) -> Result<()> {
        let w = self.writer(id)?;
        let mut slot = lock(&w);
        let batch = match encoding {
            codec::encoding::COMPACT => codec::read_rows(rows, &slot.types, &slot.schema)?,
            codec::encoding::BINARY_ROW => {
                codec::read_binary_rows(rows, &slot.types, &slot.schema)?
            }
            e => {
                return Err(Error::internal(format!(
                    "unknown row encoding {e} from Java"
                )))
            }
        };
        self.block_on(slot.writer.write(batch))?
    }

    /// Flush (at a checkpoint, or at the end of a bounded input).
    pub fn writer_flush(&self, id: i64, end_of_input: bool) -> Result<()> {
        let w = self.writer(id)?;
        let mut slot = lock(&w);
        self.block_on(slot.writer.flush(end_of_input))?
    }

    /// Close the current transaction: the committables, as a versioned list.
    pub fn writer_prepare_commit(&self, id: i64, checkpoint: u64) -> Result<Vec<u8>> {
        let w = self.writer(id)?;
        let mut slot = lock(&w);
        let c = self.block_on(slot.writer.prepare_commit(checkpoint))??;
        let mut out = Writer::new();
        codec::write_versioned(&mut out, &c)?;
        Ok(out.buf)
    }

    /// The writer's state, as a versioned list.
    pub fn writer_snapshot(&self, id: i64, checkpoint: u64) -> Result<Vec<u8>> {
        let s = lock(&*self.writer(id)?).writer.snapshot_state(checkpoint)?;
        let mut out = Writer::new();
        codec::write_versioned(&mut out, &s)?;
        Ok(out.buf)
    }

    /// The sink's committer, or 0 when it has none.
    pub fn committer_create(&self, sink: i64) -> Result<i64> {
        match self.sink(sink)?.table.create_committer()? {
            Some(c) => Ok(self.insert(Handle::Committer(Arc::new(Mutex::new(c))))),
            None => Ok(0),
        }
    }

    /// Commit the committables (a versioned list) of one checkpoint; idempotent.
    pub fn committer_commit(&self, id: i64, checkpoint: u64, committables: &[u8]) -> Result<()> {
        let c = self.committer(id)?;
        let items: Vec<VersionedBytes> = codec::read_versioned(committables)?;
        let mut g = lock(&c);
        self.block_on(g.commit(checkpoint, items))?
    }

    /// The metadata keys a table can read (`source`) or write, two strings per key: the key and
    /// its Flink type string. The connector's own keys come first, then those of the format chosen
    /// in the table's options that the connector passes on under a prefix (`value.` for Kafka), as
    /// Flink's `listReadableMetadata` / `listWritableMetadata` list them. A format the registry
    /// does not know is left out here (creating the table reports it).
    pub fn table_metadata(&self, spec: &TableSpec, source: bool) -> Result<Vec<String>> {
        let f = self.registry.connector(&spec.connector)?;
        let wanted = |m: &MetadataSpec| if source { m.readable } else { m.writable };
        let mut keys: Vec<(String, String)> = f
            .metadata()
            .iter()
            .filter(|m| wanted(m))
            .map(|m| (m.key.to_string(), m.data_type.to_string()))
            .collect();
        for slot in f.format_slots() {
            let Some(prefix) = f.format_metadata_prefix(&slot) else {
                continue;
            };
            let d = slot.option.descriptor();
            let Some(id) = d.all_keys().find_map(|k| spec.options.get(k)) else {
                continue;
            };
            let Ok(fmt) = self.registry.format(id) else {
                continue;
            };
            for m in fmt.metadata().iter().filter(|m| wanted(m)) {
                let key = format!("{prefix}{}", m.key);
                if !keys.iter().any(|(k, _)| *k == key) {
                    keys.push((key, m.data_type.to_string()));
                }
            }
        }
        Ok(keys.into_iter().flat_map(|(k, t)| [k, t]).collect())
    }

    /// A connector's option declarations for Java, eight strings per option: kind (`required`,
    /// `optional`, `template`, `prefix`), key, type, has-default (`1`/`0`), default, description,
    /// fallback keys and deprecated keys (each joined by newlines). Format option families
    /// (`json.*` for slot `format`, `value.json.*` for `value.format`) come as `prefix` entries.
    pub fn connector_options(&self, connector: &str, source: bool) -> Result<Vec<String>> {
        let f = self.registry.connector(connector)?;
        let set = f.options_for(if source { Usage::Source } else { Usage::Sink });
        let mut out = Vec::new();
        let mut one = |kind: &str, o: &OptionDescriptor| {
            out.extend([
                kind.to_string(),
                o.key.to_string(),
                o.type_name.to_string(),
                if o.default.is_some() { "1" } else { "0" }.to_string(),
                o.default.unwrap_or("").to_string(),
                o.description.to_string(),
                o.fallback_keys.join("\n"),
                o.deprecated_keys.join("\n"),
            ]);
        };
        set.required.iter().for_each(|o| one("required", o));
        set.optional.iter().for_each(|o| one("optional", o));
        set.templates
            .iter()
            .for_each(|t| one("template", &t.option));
        for p in &set.prefixes {
            out.extend(prefix_entry(p.prefix, p.description));
        }
        for slot in f.format_slots() {
            let d = slot.option.descriptor();
            for key in d.all_keys() {
                let pre = key.strip_suffix("format").unwrap_or("");
                for fmt in self.registry.formats() {
                    out.extend(prefix_entry(
                        &format!("{pre}{}.", fmt.identifier()),
                        &format!("options of the '{}' format", fmt.identifier()),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Every connector and format with its options, in the shape `headrace connectors --format json`
    /// prints, plus `source_options` / `sink_options` where they differ by use.
    pub fn registry_json(&self) -> String {
        use serde_json::{json, Value};
        fn options_json(set: &OptionSet) -> Value {
            let one = |o: &OptionDescriptor, required: bool| {
                json!({
                    "key": o.key, "required": required, "type": o.type_name, "default": o.default,
                    "description": o.description, "fallback_keys": o.fallback_keys,
                    "deprecated_keys": o.deprecated_keys, "allowed_values": o.allowed_values,
                })
            };
            let mut v: Vec<Value> = set.required.iter().map(|o| one(o, true)).collect();
            v.extend(set.optional.iter().map(|o| one(o, false)));
            v.extend(set.templates.iter().map(|t| {
                let mut j = one(&t.option, false);
                j["template"] = json!(true);
                j
            }));
            v.extend(set.prefixes.iter().map(|p| {
                json!({"key": format!("{}*", p.prefix), "prefix": p.prefix, "required": false,
                       "type": "String", "default": null, "description": p.description})
            }));
            Value::Array(v)
        }
        let r = &self.registry;
        json!({
            "connectors": r.connectors().map(|c| json!({
                "identifier": c.identifier(),
                "description": c.description(),
                "source": c.supports_source(),
                "sink": c.supports_sink(),
                "options": options_json(&c.options()),
                "source_options": options_json(&c.options_for(Usage::Source)),
                "sink_options": options_json(&c.options_for(Usage::Sink)),
                "format_slots": c.format_slots().iter().map(|s| s.option.key()).collect::<Vec<_>>(),
                "metadata": c.metadata().iter().map(|m| json!({
                    "key": m.key, "type": m.data_type, "description": m.description,
                    "readable": m.readable, "writable": m.writable,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "formats": r.formats().map(|f| json!({
                "identifier": f.identifier(),
                "description": f.description(),
                "options": options_json(&f.options()),
            })).collect::<Vec<_>>(),
        })
        .to_string()
    }
}

fn prefix_entry(prefix: &str, description: &str) -> [String; 8] {
    [
        "prefix".into(),
        prefix.into(),
        "String".into(),
        "0".into(),
        String::new(),
        description.into(),
        String::new(),
        String::new(),
    ]
}

/// The table's `headrace.bad-records.*` policy under Flink: `fail` and `skip` apply as on the
/// Headrace runner; `dead-letter` needs a second sink in the same job, which the bridge cannot
/// wire into a Flink job yet, so it is refused here rather than dropping records.
fn bad_record_config(
    spec: &TableSpec,
    options: &headrace_sdk::options::Options,
) -> Result<BadRecordConfig> {
    let policy = options.get(&bad_records::POLICY)?;
    if policy == BadRecordPolicy::DeadLetter {
        return Err(Error::Unsupported(format!(
            "table '{}': '{}' = 'dead-letter' is not supported inside Flink yet (the dead-letter \
             table would be a second sink of the job); use 'fail' or 'skip', or run the job with \
             the headrace runner",
            spec.table,
            bad_records::POLICY.key()
        )));
    }
    Ok(BadRecordConfig {
        policy,
        table: spec.table.clone(),
        connector: spec.connector.clone(),
    })
}
