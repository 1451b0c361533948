//! Conformance of the `filesystem` connector with the `parquet` bulk format.
//!
//! The context writes Parquet files itself with the `parquet` crate's Arrow writer (rows turned
//! into a batch with the SDK's `RowBatchBuilder`) and reads the sink's committed part files with
//! the `parquet` crate's Arrow reader (batches turned into rows with the SDK's row view).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/file_tables.rs"]
mod file_tables;

use file_tables::FileTables;
use headrace_integration_tests::conformance::{
    ExternalContext, Failure, PoisonRecord, SourceSupport, Suite,
};
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::factory::Usage;
use headrace_sdk::options::RawOptions;
use headrace_sdk::row::{rows, Row, RowBatchBuilder};
use headrace_sdk::sink::DeliveryGuarantee;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

struct FileSystemParquet {
    tables: FileTables,
}

impl FileSystemParquet {
    fn new() -> Self {
        FileSystemParquet {
            tables: FileTables::new("parquet"),
        }
    }
}

fn err(e: impl std::fmt::Display) -> Failure {
    Failure::new(e.to_string())
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
        self.tables.options(table, usage, bounded)
    }

    fn write_test_data(&self, table: &str, split: usize, data: &[Row]) -> Result<(), Failure> {
        let schema = self.schema().physical_arrow_schema();
        let mut b = RowBatchBuilder::new(schema.clone());
        for r in data {
            b.push(r.clone());
        }
        let batch = b.build()?.batch;
        self.tables.add_file(table, split, |tmp| {
            let file = std::fs::File::create(tmp)?;
            let mut w = ArrowWriter::try_new(file, schema, None).map_err(err)?;
            w.write(&batch).map_err(err)?;
            w.close().map_err(err)?;
            Ok(())
        })?;
        Ok(())
    }

    fn read_written(&self, table: &str) -> Result<Vec<Row>, Failure> {
        let mut out = Vec::new();
        for f in self.tables.visible_files(table) {
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
        let dir = self.tables.table_dir(table);
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
    let skipped = report.skipped();
    assert!(skipped.is_empty(), "{skipped:?}");
}
