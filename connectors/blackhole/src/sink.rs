//! The blackhole sink and its writer.

use async_trait::async_trait;
use headrace_sdk::changelog::{ChangelogBatch, ChangelogMode};
use headrace_sdk::prelude::SchemaRef;
use headrace_sdk::sink::{DeliveryGuarantee, DynamicSink, SinkWriter, WriterContext};
use headrace_sdk::Result;

use crate::factory::BlackholeFactory;

headrace_sdk::connector_builder! {
    /// Builds a [`BlackholeSink`] with the same validation as DDL (`BlackholeSink::builder()`).
    pub struct BlackholeSinkBuilder(BlackholeFactory) {}
}

/// A sink that drops every row.
#[derive(Debug, Clone)]
pub struct BlackholeSink {
    schema: SchemaRef,
}

impl BlackholeSink {
    /// A blackhole sink consuming rows of `schema`.
    pub fn new(schema: SchemaRef) -> Self {
        BlackholeSink { schema }
    }

    /// A builder: `BlackholeSink::builder().columns("id BIGINT")?.build_sink()`.
    pub fn builder() -> BlackholeSinkBuilder {
        BlackholeSinkBuilder::default()
    }
}

impl DynamicSink for BlackholeSink {
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        // Nothing is ever observable, so replays cannot duplicate anything.
        DeliveryGuarantee::ExactlyOnce
    }

    fn consumed_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn changelog_mode(&self) -> ChangelogMode {
        ChangelogMode::All
    }

    fn create_writer(&self, ctx: WriterContext) -> Result<Box<dyn SinkWriter>> {
        tracing::debug!(subtask = ctx.subtask, "opening blackhole writer");
        Ok(Box::new(BlackholeWriter))
    }
}

/// A writer that drops every batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlackholeWriter;

#[async_trait]
impl SinkWriter for BlackholeWriter {
    async fn write(&mut self, batch: ChangelogBatch) -> Result<()> {
        drop(batch);
        Ok(())
    }

    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use headrace_sdk::prelude::*;
    use headrace_sdk::registry::Registry;
    use headrace_sdk::row::{Row, RowBatchBuilder, Value};

    use super::*;

    fn registry() -> Registry {
        Registry::new().with_connector(BlackholeFactory)
    }

    #[tokio::test]
    async fn swallows_batches_of_every_kind() {
        let sink = BlackholeSink::builder()
            .registry(registry())
            .columns("id BIGINT, name STRING")
            .unwrap()
            .build_sink()
            .unwrap();
        assert_eq!(sink.consumed_schema().fields().len(), 2);
        assert_eq!(sink.changelog_mode(), ChangelogMode::All);
        let mut w = sink
            .create_writer(WriterContext {
                subtask: 0,
                parallelism: 1,
                restored_state: vec![],
                restored_checkpoint_id: 0,
                metrics: Arc::new(SinkMetrics::default()),
            })
            .unwrap();
        let mut b = RowBatchBuilder::new(sink.consumed_schema());
        b.push(Row::insert(vec![
            Value::BigInt(1),
            Value::String("a".into()),
        ]));
        b.push(Row::of(
            RowKind::Delete,
            vec![Value::BigInt(1), Value::String("a".into())],
        ));
        w.write(b.build().unwrap()).await.unwrap();
        w.flush(true).await.unwrap();
        assert!(w.prepare_commit(1).await.unwrap().is_empty());
        w.close().await.unwrap();
    }

    #[test]
    fn rejects_options_and_source_use() {
        let e = BlackholeSink::builder()
            .registry(registry())
            .option("sink.parallelism", "2")
            .build_sink()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("unsupported option 'sink.parallelism'"), "{e}");
        let e = BlackholeSink::builder()
            .registry(registry())
            .build_source()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("cannot be used as a source"), "{e}");
        assert_eq!(crate::factory().identifier(), "blackhole");
        assert!(Registry::from_inventory().connector("blackhole").is_ok());
    }
}
