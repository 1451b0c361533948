//! Test helpers: a tiny comma-separated line format and drivers for the SDK traits.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::compute::{cast, cast_with_options, CastOptions};
use arrow::datatypes::DataType as ArrowType;
use headrace_connector_filesystem::{FileSink, FileSinkBuilder, FileSource, FileSourceBuilder};
use headrace_sdk::prelude::*;

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
        let cols: Vec<StringArray> = batch
            .batch
            .columns()
            .iter()
            .map(|c| {
                cast(c, &ArrowType::Utf8)
                    .unwrap()
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .unwrap()
                    .clone()
            })
            .collect();
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
        let cols: Vec<StringArray> = b
            .columns()
            .iter()
            .map(|c| {
                cast(c, &ArrowType::Utf8)
                    .unwrap()
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .unwrap()
                    .clone()
            })
            .collect();
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

/// Visible (committed) files below `dir`, relative paths, sorted.
pub fn visible_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Hidden in-progress files below `dir`.
pub fn in_progress_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name().to_string_lossy().contains(".inprogress.") {
                out.push(p);
            }
        }
    }
    out
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
