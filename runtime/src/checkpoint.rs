//! Checkpoints written atomically to a state directory.
//!
//! A checkpoint is one JSON file `chk-<id>.json`, written to a temporary name, synced, renamed into
//! place and the directory synced: a file with that name is a completed checkpoint. After a crash the
//! newest readable checkpoint is restored and its committables are committed again (committers are
//! idempotent), so exactly-once sinks lose and duplicate nothing; a group of pipelines whose sink
//! lost its transaction restores from the checkpoint before (see [`crate::exec`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use headrace_sdk::source::SourceSplit;
use headrace_sdk::state::VersionedBytes;
use serde::{Deserialize, Serialize};

use crate::error::{RuntimeError, RuntimeResult};

/// Version of the checkpoint file layout.
pub const CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// State of one source operator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceState {
    /// The enumerator's state.
    pub enumerator: Option<VersionedBytes>,
    /// Unfinished splits held by readers, with their progress.
    pub splits: Vec<SourceSplit>,
}

/// State of one sink operator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SinkState {
    /// Committables prepared for this checkpoint (to commit after it completes, or after a crash).
    pub committables: Vec<VersionedBytes>,
    /// Writer state per subtask.
    pub writer_states: Vec<Vec<VersionedBytes>>,
}

/// One completed checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CheckpointData {
    /// File layout version.
    pub format_version: u32,
    /// Checkpoint id (increasing).
    pub checkpoint_id: u64,
    /// When it completed (epoch ms).
    pub timestamp_ms: i64,
    /// Whether the job had finished (bounded input fully written and committed).
    pub finished: bool,
    /// Source states by operator id.
    pub sources: BTreeMap<String, SourceState>,
    /// Sink states by operator id.
    pub sinks: BTreeMap<String, SinkState>,
    /// Sinks (by operator id) of pipelines that had already finished in the run that took this
    /// checkpoint (restored from a checkpoint that finished them while other pipelines fell back
    /// to an older one): they have no source state here and must not run again.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub finished_sinks: std::collections::BTreeSet<String>,
}

/// A directory of checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
    retain: usize,
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> RuntimeError {
    move |e| RuntimeError::Checkpoint(format!("{what}: {e}"))
}

impl CheckpointStore {
    /// Open (creating) `dir`, keeping the newest `retain` checkpoints (at least 2: a checkpoint
    /// whose transactions turn out lost after a crash falls back to the one before it).
    pub fn open(dir: &Path, retain: usize) -> RuntimeResult<Self> {
        let cdir = dir.join("checkpoints");
        std::fs::create_dir_all(&cdir).map_err(io_err(format!(
            "cannot create state directory {}",
            cdir.display()
        )))?;
        Ok(CheckpointStore {
            dir: cdir,
            retain: retain.max(2),
        })
    }

    fn ids(&self) -> RuntimeResult<Vec<u64>> {
        let mut ids = Vec::new();
        let rd = std::fs::read_dir(&self.dir)
            .map_err(io_err(format!("cannot list {}", self.dir.display())))?;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(id) = name
                .strip_prefix("chk-")
                .and_then(|s| s.strip_suffix(".json"))
                .and_then(|s| s.parse::<u64>().ok())
            {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("chk-{id:012}.json"))
    }

    /// The newest readable checkpoint, if any.
    pub fn latest(&self) -> RuntimeResult<Option<CheckpointData>> {
        Ok(self.all_newest_first()?.into_iter().next())
    }

    /// Every readable checkpoint, newest first (unreadable files are skipped with a warning).
    pub fn all_newest_first(&self) -> RuntimeResult<Vec<CheckpointData>> {
        let mut out = Vec::new();
        for id in self.ids()?.into_iter().rev() {
            let p = self.path(id);
            match std::fs::read(&p) {
                Ok(bytes) => match serde_json::from_slice::<CheckpointData>(&bytes) {
                    Ok(d) if d.format_version <= CHECKPOINT_FORMAT_VERSION => out.push(d),
                    Ok(d) => {
                        return Err(RuntimeError::Checkpoint(format!(
                            "{} has format version {}, newer than this build reads ({CHECKPOINT_FORMAT_VERSION})",
                            p.display(),
                            d.format_version
                        )))
                    }
                    Err(e) => tracing::warn!("skipping unreadable checkpoint {}: {e}", p.display()),
                },
                Err(e) => tracing::warn!("skipping unreadable checkpoint {}: {e}", p.display()),
            }
        }
        Ok(out)
    }

    /// Write a checkpoint atomically, then drop old ones.
    pub fn write(&self, data: &CheckpointData) -> RuntimeResult<PathBuf> {
        let final_path = self.path(data.checkpoint_id);
        let tmp = self
            .dir
            .join(format!(".chk-{:012}.json.inprogress", data.checkpoint_id));
        let bytes = serde_json::to_vec(data)
            .map_err(|e| RuntimeError::Checkpoint(format!("cannot serialize: {e}")))?;
        {
            let mut f = std::fs::File::create(&tmp)
                .map_err(io_err(format!("cannot create {}", tmp.display())))?;
            f.write_all(&bytes)
                .map_err(io_err(format!("cannot write {}", tmp.display())))?;
            f.sync_all()
                .map_err(io_err(format!("cannot sync {}", tmp.display())))?;
        }
        std::fs::rename(&tmp, &final_path)
            .map_err(io_err(format!("cannot rename to {}", final_path.display())))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        let ids = self.ids()?;
        if ids.len() > self.retain {
            for id in &ids[..ids.len() - self.retain] {
                let _ = std::fs::remove_file(self.path(*id));
            }
        }
        Ok(final_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_latest_retain() {
        let d = tempfile::tempdir().unwrap();
        let s = CheckpointStore::open(d.path(), 1).unwrap();
        assert!(s.latest().unwrap().is_none());
        for id in 1..=4 {
            s.write(&CheckpointData {
                format_version: 1,
                checkpoint_id: id,
                ..Default::default()
            })
            .unwrap();
        }
        assert_eq!(s.latest().unwrap().unwrap().checkpoint_id, 4);
        assert_eq!(s.ids().unwrap(), vec![3, 4]);
        // a torn newest file is skipped
        std::fs::write(s.path(5), b"{not json").unwrap();
        assert_eq!(s.latest().unwrap().unwrap().checkpoint_id, 4);
    }
}
