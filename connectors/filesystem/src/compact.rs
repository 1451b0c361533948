//! `auto-compaction`: the part files one checkpoint wrote to a partition are merged into files of
//! about `compaction.file-size` before they become visible, as Flink's streaming file sink does.
//!
//! The committer compacts when the checkpoint completes: for each partition directory it sorts
//! the checkpoint's part files by name and packs them, in that order, into units of at most
//! `compaction.file-size` bytes (a file larger than that is a unit alone), as Flink's bin
//! packing does. A unit becomes one visible file named `compacted-<first part file's name>`: a
//! unit of one file is renamed, a larger unit is merged into a hidden
//! `.compacted-<name>.compacting` file (lines are concatenated; Parquet and Avro rows are
//! re-encoded into one file), synced, and renamed. The inputs are deleted afterwards. The plan depends only on the committables (file sizes are recorded when
//! part files close), so committing again after a crash redoes the same units: a unit whose
//! visible file exists only has its leftover inputs deleted. Only the files of one checkpoint are
//! compacted together, so a partition gets at least one file per checkpoint that wrote to it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use headrace_sdk::{Error, Result};

use crate::sink::PendingFile;

/// The prefix of compacted files' names (Flink's).
pub const COMPACTED_PREFIX: &str = "compacted-";
/// The suffix of a compaction's hidden output before it is renamed.
pub const COMPACTING_SUFFIX: &str = ".compacting";

/// How part files of one format are merged.
#[derive(Debug, Clone)]
pub enum Merge {
    /// Line formats: the files' bytes are concatenated.
    Lines,
    /// Parquet: the rows are read and written into one file.
    #[cfg(feature = "parquet")]
    Parquet {
        /// Writer settings.
        config: std::sync::Arc<crate::parquet::ParquetConfig>,
        /// The files' columns.
        stored: arrow::datatypes::SchemaRef,
    },
    /// Formats written whole through the SDK's bulk hooks (Avro): the rows are read and written
    /// into one file.
    Container(crate::factory::FormatHandle),
}

/// `auto-compaction` settings.
#[derive(Debug, Clone)]
pub struct Compaction {
    /// `compaction.file-size` (the rolling file size by default).
    pub target_size: u64,
    /// How files are merged.
    pub merge: Merge,
}

/// The units of a checkpoint's files: per partition directory, in name order, a new unit
/// started whenever the next file would take the current one over `target` bytes.
pub fn plan(files: &[PendingFile], target: u64) -> Vec<Vec<&PendingFile>> {
    let mut by_dir: BTreeMap<Option<&Path>, Vec<&PendingFile>> = BTreeMap::new();
    for f in files {
        by_dir.entry(f.target.parent()).or_default().push(f);
    }
    let mut units = Vec::new();
    for (_, mut fs) in by_dir {
        fs.sort_by(|a, b| a.target.cmp(&b.target));
        let mut unit: Vec<&PendingFile> = Vec::new();
        let mut size = 0u64;
        for f in fs {
            if !unit.is_empty() && size.saturating_add(f.size) > target {
                units.push(std::mem::take(&mut unit));
                size = 0;
            }
            unit.push(f);
            size = size.saturating_add(f.size);
        }
        if !unit.is_empty() {
            units.push(unit);
        }
    }
    units
}

/// The visible file of a unit whose first part file is `first`.
pub fn compacted_target(first: &PendingFile) -> PathBuf {
    let name = first
        .target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    first
        .target
        .with_file_name(format!("{COMPACTED_PREFIX}{name}"))
}

fn io(ctx: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(ctx, e)
}

fn remove_if_exists(p: &Path) -> Result<()> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("cannot remove {}", p.display()), e)),
    }
}

/// Make one unit visible as one compacted file; idempotent.
pub fn compact_unit(unit: &[&PendingFile], merge: &Merge) -> Result<()> {
    let Some(first) = unit.first() else {
        return Ok(());
    };
    let target = compacted_target(first);
    if target.exists() {
        for f in unit {
            remove_if_exists(&f.in_progress)?;
        }
        return Ok(());
    }
    for f in unit {
        if !f.in_progress.exists() {
            return Err(Error::internal(format!(
                "filesystem sink: neither {} nor the compacted file {} exists; the part file's \
                 rows are lost",
                f.in_progress.display(),
                target.display()
            )));
        }
    }
    if unit.len() == 1 {
        return std::fs::rename(&first.in_progress, &target).map_err(io(format!(
            "cannot rename {} to {}",
            first.in_progress.display(),
            target.display()
        )));
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = target.with_file_name(format!(".{name}{COMPACTING_SUFFIX}"));
    let out =
        std::fs::File::create(&tmp).map_err(io(format!("cannot create {}", tmp.display())))?;
    let inputs: Vec<&Path> = unit.iter().map(|f| f.in_progress.as_path()).collect();
    let out = match merge {
        Merge::Lines => {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
            for p in &inputs {
                let mut f =
                    std::fs::File::open(p).map_err(io(format!("cannot open {}", p.display())))?;
                std::io::copy(&mut f, &mut w).map_err(io(format!(
                    "cannot compact {} into {}",
                    p.display(),
                    tmp.display()
                )))?;
            }
            w.flush()
                .map_err(io(format!("cannot write {}", tmp.display())))?;
            w.into_inner()
                .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e.into_error()))?
        }
        #[cfg(feature = "parquet")]
        Merge::Parquet { config, stored } => {
            crate::parquet::merge_files(&inputs, out, &tmp, stored.clone(), config)?
        }
        Merge::Container(format) => merge_container(format, &inputs, out, &tmp)?,
    };
    out.sync_all()
        .map_err(io(format!("cannot sync {}", tmp.display())))?;
    std::fs::rename(&tmp, &target).map_err(io(format!(
        "cannot rename {} to {}",
        tmp.display(),
        target.display()
    )))?;
    for p in inputs {
        remove_if_exists(p)?;
    }
    tracing::debug!(file = %target.display(), files = unit.len(), "filesystem sink: part files compacted");
    Ok(())
}

/// Re-encode the rows of `inputs` (files of a bulk format written through the SDK's hooks) into
/// one file `out`.
fn merge_container(
    format: &crate::factory::FormatHandle,
    inputs: &[&Path],
    out: std::fs::File,
    out_path: &Path,
) -> Result<std::fs::File> {
    let shown = out_path.display().to_string();
    let w = out
        .try_clone()
        .map_err(io(format!("cannot open {shown} twice")))?;
    let mut writer = format.bulk_writer(
        Box::new(std::io::BufWriter::with_capacity(1 << 16, w)),
        &shown,
    )?;
    let mut reader = format.bulk_reader()?;
    for p in inputs {
        let f = std::fs::File::open(p).map_err(io(format!("cannot open {}", p.display())))?;
        reader.read(
            Box::new(std::io::BufReader::with_capacity(1 << 16, f)),
            &p.display().to_string(),
            8192,
            &mut |b| writer.write(&b.batch),
        )?;
    }
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pf(dir: &str, name: &str, size: u64) -> PendingFile {
        PendingFile {
            in_progress: PathBuf::from(format!("/o/{dir}/.{name}.inprogress.x")),
            target: PathBuf::from(format!("/o/{dir}/{name}")),
            size,
        }
    }

    #[test]
    fn units_are_per_directory_in_name_order_up_to_the_target() {
        let files = vec![
            pf("d=1", "part-b", 40),
            pf("d=2", "part-a", 10),
            pf("d=1", "part-a", 70),
            pf("d=1", "part-c", 30),
            pf("d=1", "part-d", 5),
        ];
        let units = plan(&files, 100);
        let names: Vec<Vec<String>> = units
            .iter()
            .map(|u| u.iter().map(|f| f.target.display().to_string()).collect())
            .collect();
        assert_eq!(
            names,
            vec![
                vec!["/o/d=1/part-a"],
                vec!["/o/d=1/part-b", "/o/d=1/part-c", "/o/d=1/part-d"],
                vec!["/o/d=2/part-a"],
            ]
        );
        assert_eq!(
            compacted_target(units[0][0]),
            PathBuf::from("/o/d=1/compacted-part-a")
        );
    }
}
