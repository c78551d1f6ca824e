//! One pod's file system in memory: the credential directory shared by sidecar and node (an
//! emptyDir: emptied when the pod is replaced), the mounted secret and the decoy set.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use forge_manager::ports::{FileMeta, Fs, FsError};

use super::clock::SimClock;

/// Files: path → (bytes, mode).
pub type Files = BTreeMap<PathBuf, (Vec<u8>, u32)>;

/// Shared handle to a pod's files, with a counter of changes (so per-tick observers can skip an
/// unchanged file system).
#[derive(Clone, Debug, Default)]
pub struct PodFiles(Rc<RefCell<Files>>, Rc<std::cell::Cell<u64>>);

impl PodFiles {
    /// Puts a file in place.
    pub fn put(&self, path: &Path, bytes: &[u8], mode: u32) {
        self.changed();
        self.0
            .borrow_mut()
            .insert(path.to_owned(), (bytes.to_vec(), mode));
    }

    /// Changes with every put and removal.
    pub fn generation(&self) -> u64 {
        self.1.get()
    }

    fn changed(&self) {
        self.1.set(self.1.get() + 1);
    }

    /// A file's bytes and mode.
    pub fn get(&self, path: &Path) -> Option<(Vec<u8>, u32)> {
        self.0.borrow().get(path).cloned()
    }

    /// Whether a file exists (without copying it).
    pub fn contains(&self, path: &Path) -> bool {
        self.0.borrow().contains_key(path)
    }

    /// Removes one file.
    pub fn remove(&self, path: &Path) -> bool {
        self.changed();
        self.0.borrow_mut().remove(path).is_some()
    }

    /// Removes every file under `dir` (an emptyDir of a replaced pod).
    pub fn clear_dir(&self, dir: &Path) {
        self.changed();
        self.0.borrow_mut().retain(|p, _| !p.starts_with(dir));
    }
}

/// The `Fs` port of a pod's sidecar (or watchdog): held while the process is paused.
#[derive(Clone, Debug)]
pub struct SimFs {
    files: PodFiles,
    clock: SimClock,
}

impl SimFs {
    /// The port over `files`, gated by `clock`'s pauses.
    pub fn new(files: PodFiles, clock: SimClock) -> Self {
        SimFs { files, clock }
    }
}

fn not_found(path: &Path) -> FsError {
    FsError::NotFound(path.display().to_string())
}

impl Fs for SimFs {
    async fn write_atomic(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError> {
        self.clock.gate().await;
        self.files.put(path, bytes, mode);
        Ok(())
    }

    async fn remove(&self, path: &Path) -> Result<bool, FsError> {
        self.clock.gate().await;
        Ok(self.files.remove(path))
    }

    async fn read(&self, path: &Path) -> Result<Vec<u8>, FsError> {
        self.clock.gate().await;
        self.files
            .get(path)
            .map(|(b, _)| b)
            .ok_or_else(|| not_found(path))
    }

    async fn metadata(&self, path: &Path) -> Result<FileMeta, FsError> {
        self.clock.gate().await;
        self.files
            .get(path)
            .map(|(b, mode)| FileMeta {
                len: b.len() as u64,
                mode,
            })
            .ok_or_else(|| not_found(path))
    }
}
