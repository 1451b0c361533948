//! The tables of the `filesystem` conformance contexts (`conformance_filesystem.rs`,
//! `conformance_parquet.rs`), included with `#[path]`: one directory per table below a temporary
//! directory, test data written atomically (a hidden file renamed into place), and the sink's
//! committed files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use headrace_integration_tests::conformance::{visible_files, Failure};
use headrace_sdk::factory::Usage;
use headrace_sdk::options::RawOptions;

/// The directories of the tables, for files of one format.
pub struct FileTables {
    dir: tempfile::TempDir,
    seq: AtomicU64,
    /// The value of the `format` option, also the extension of the files written.
    format: &'static str,
}

impl FileTables {
    /// Tables below a fresh temporary directory, read and written with `format`.
    pub fn new(format: &'static str) -> Self {
        FileTables {
            dir: tempfile::tempdir().unwrap(),
            seq: AtomicU64::new(0),
            format,
        }
    }

    /// The directory of `table`.
    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.dir.path().join(table)
    }

    /// The `filesystem` connector's options for `table` (created if needed); an unbounded source
    /// looks for new files every 100 ms.
    pub fn options(&self, table: &str, usage: Usage, bounded: bool) -> Result<RawOptions, Failure> {
        let dir = self.table_dir(table);
        std::fs::create_dir_all(&dir)?;
        let mut o: RawOptions = [
            ("connector", "filesystem".to_string()),
            ("path", dir.display().to_string()),
            ("format", self.format.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if usage == Usage::Source && !bounded {
            o.insert("source.monitor-interval".into(), "100 ms".into());
        }
        Ok(o)
    }

    /// Adds a visible file `split-SPLIT-N.FORMAT` to `table` at once: `write` fills a hidden file,
    /// which is then renamed. Returns the file's path.
    pub fn add_file(
        &self,
        table: &str,
        split: usize,
        write: impl FnOnce(&Path) -> Result<(), Failure>,
    ) -> Result<PathBuf, Failure> {
        let dir = self.table_dir(table);
        std::fs::create_dir_all(&dir)?;
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".tmp-{n}"));
        let path = dir.join(format!("split-{split}-{n}.{}", self.format));
        write(&tmp)?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    /// The visible files of `table` (see [`visible_files`]).
    pub fn visible_files(&self, table: &str) -> Vec<PathBuf> {
        visible_files(&self.table_dir(table))
    }
}
