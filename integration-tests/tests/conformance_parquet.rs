//! Conformance of the `filesystem` connector with the `parquet` bulk format.
//!
//! The context writes Parquet files itself with the `parquet` crate's Arrow writer (rows turned
//! into a batch with the SDK's `RowBatchBuilder`) and reads the sink's committed part files with
//! the `parquet` crate's Arrow reader (batches turned into rows with the SDK's row view).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use headrace_integration_tests::conformance::{
    ExternalContext, Failure, Outcome, PoisonRecord, SourceSupport, Suite,
};
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::factory::Usage;
use headrace_sdk::options::RawOptions;
use headrace_sdk::row::{rows, Row, RowBatchBuilder};
use headrace_sdk::sink::DeliveryGuarantee;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

struct FileSystemParquet {
    dir: tempfile::TempDir,
    seq: AtomicU64,
}

impl FileSystemParquet {
    fn new() -> Self {
        FileSystemParquet {
            dir: tempfile::tempdir().unwrap(),
            seq: AtomicU64::new(0),
        }
    }

    fn table_dir(&self, table: &str) -> PathBuf {
        self.dir.path().join(table)
    }
}

fn err(e: impl std::fmt::Display) -> Failure {
    Failure::new(e.to_string())
}

fn visible_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            visible_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

impl ExternalContext for FileSystemParquet {
    fn name(&self) -> String {
        "filesystem+parquet".into()
    }

    fn table_options(
        &self,
        table: &str,
        usage: Usage,
        bounded: bool,
    ) -> Result<RawOptions, Failure> {
        let dir = self.table_dir(table);
        std::fs::create_dir_all(&dir)?;
        let mut o: RawOptions = [
            ("connector", "filesystem".to_string()),
            ("path", dir.display().to_string()),
            ("format", "parquet".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if usage == Usage::Source && !bounded {
            o.insert("source.monitor-interval".into(), "100 ms".into());
        }
        Ok(o)
    }

    fn write_test_data(&self, table: &str, split: usize, data: &[Row]) -> Result<(), Failure> {
        let schema = self.schema().physical_arrow_schema();
        let mut b = RowBatchBuilder::new(schema.clone());
        for r in data {
            b.push(r.clone());
        }
        let batch = b.build()?.batch;
        let dir = self.table_dir(table);
        std::fs::create_dir_all(&dir)?;
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".tmp-{n}"));
        let file = std::fs::File::create(&tmp)?;
        let mut w = ArrowWriter::try_new(file, schema, None).map_err(err)?;
        w.write(&batch).map_err(err)?;
        w.close().map_err(err)?;
        std::fs::rename(&tmp, dir.join(format!("split-{split}-{n}.parquet")))?;
        Ok(())
    }

    fn read_written(&self, table: &str) -> Result<Vec<Row>, Failure> {
        let mut files = Vec::new();
        visible_files(&self.table_dir(table), &mut files);
        let mut out = Vec::new();
        for f in files {
            let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&f)?)
                .map_err(err)?
                .build()
                .map_err(err)?;
            for batch in reader {
                let batch = batch.map_err(err)?;
                out.extend(rows(&ChangelogBatch::inserts(batch))?);
            }
        }
        Ok(out)
    }

    fn source(&self) -> Option<SourceSupport> {
        Some(SourceSupport {
            bounded: true,
            unbounded: true,
            guarantee: DeliveryGuarantee::ExactlyOnce,
        })
    }

    fn sink(&self) -> Option<DeliveryGuarantee> {
        Some(DeliveryGuarantee::ExactlyOnce)
    }

    /// A file that is not Parquet at all; the job's error must name it.
    fn write_poison_record(
        &self,
        table: &str,
        split: usize,
    ) -> Result<Option<PoisonRecord>, Failure> {
        let dir = self.table_dir(table);
        std::fs::create_dir_all(&dir)?;
        let name = format!("split-{split}-poison.parquet");
        std::fs::write(dir.join(&name), b"PAR1 this is not a parquet file PAR1")?;
        Ok(Some(PoisonRecord { origin: name }))
    }
}

fn suite() -> Suite {
    Suite::new(headrace_cli::builtin_registry())
        .with_runner(env!("CARGO_BIN_EXE_headrace-conformance-runner"))
}

/// The whole suite (a corrupt file is the poison record; Parquet has no ignore-parse-errors).
#[test]
fn parquet_conforms() {
    let report = suite().run_all(&FileSystemParquet::new());
    eprintln!("{report}");
    assert!(report.failures().is_empty(), "{report}");
    let skipped: Vec<&str> = report
        .results
        .iter()
        .filter(|(_, r, _)| matches!(r, Ok(Outcome::Skipped(_))))
        .map(|(n, _, _)| *n)
        .collect();
    assert!(skipped.is_empty(), "{skipped:?}");
}
