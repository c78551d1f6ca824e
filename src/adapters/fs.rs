//! [`LocalFs`]: the `Fs` port on the local file system (the credential directory shared with
//! cardano-node, and the mounted secrets).
//!
//! The one subtle operation is the atomic write: cardano-node may read a credential file at any
//! moment (at startup, on SIGHUP), so it must only ever see the old contents or the new ones, and
//! never a file that others can read. Hence: a temporary file in the same directory, created
//! exclusively with the target mode, written, fsynced, renamed over the target, and the directory
//! fsynced so the rename survives a crash.
//!
//! Blocking calls run on tokio's blocking pool (`spawn_blocking`): the files are tiny, but `fsync`
//! on a busy or network-backed volume can take long, and the sidecar's loop, its probes and its
//! lease watch share one current-thread runtime that must not stall meanwhile.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::unistd::{Gid, Uid};

use crate::ports::{FileMeta, Fs, FsError};

/// How many temporary names are tried before giving up (a name collides only if another writer
/// picked the same pid, counter and time: practically never).
const TEMP_NAME_ATTEMPTS: u32 = 8;

/// Distinguishes temporary files created by this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The local file system.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalFs {
    /// Owner (uid, gid) given to every written file; `None` keeps the sidecar's own user.
    owner: Option<(Uid, Gid)>,
}

impl LocalFs {
    /// Files are written as the sidecar's own user.
    pub fn new() -> Self {
        LocalFs { owner: None }
    }

    /// Files are written owned by `uid:gid` (e.g. cardano-node's user when the sidecar runs as
    /// root). Needs CAP_CHOWN; a failing chown fails the write.
    pub fn with_owner(uid: u32, gid: u32) -> Self {
        LocalFs {
            owner: Some((Uid::from_raw(uid), Gid::from_raw(gid))),
        }
    }

    /// The configured owner, if any.
    pub fn owner(&self) -> Option<(u32, u32)> {
        self.owner.map(|(u, g)| (u.as_raw(), g.as_raw()))
    }
}

impl Fs for LocalFs {
    async fn write_atomic(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError> {
        let (p, bytes, owner) = (path.to_path_buf(), bytes.to_vec(), self.owner);
        blocking(path, move || write_atomic_blocking(&p, &bytes, mode, owner)).await
    }

    async fn remove(&self, path: &Path) -> Result<bool, FsError> {
        let p = path.to_path_buf();
        blocking(path, move || match std::fs::remove_file(&p) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(&p, e)),
        })
        .await
    }

    async fn read(&self, path: &Path) -> Result<Vec<u8>, FsError> {
        let p = path.to_path_buf();
        blocking(path, move || {
            std::fs::read(&p).map_err(|e| io_or_not_found(&p, e))
        })
        .await
    }

    async fn metadata(&self, path: &Path) -> Result<FileMeta, FsError> {
        let p = path.to_path_buf();
        blocking(path, move || {
            // Follows symlinks: mounted secrets are symlinks into `..data/`.
            let m = std::fs::metadata(&p).map_err(|e| io_or_not_found(&p, e))?;
            Ok(FileMeta {
                len: m.len(),
                mode: m.permissions().mode() & 0o7777,
            })
        })
        .await
    }
}

/// Runs `f` on the blocking pool; a panicked or cancelled task becomes an I/O error on `path`.
async fn blocking<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> Result<T, FsError> + Send + 'static,
) -> Result<T, FsError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(join) => Err(io_error(
            path,
            std::io::Error::other(format!("file task failed: {join}")),
        )),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> FsError {
    FsError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn io_or_not_found(path: &Path, e: std::io::Error) -> FsError {
    if e.kind() == ErrorKind::NotFound {
        FsError::NotFound(path.display().to_string())
    } else {
        io_error(path, e)
    }
}

/// The atomic write, synchronously. On any failure the temporary file is removed.
fn write_atomic_blocking(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<(Uid, Gid)>,
) -> Result<(), FsError> {
    let (dir, name) = split(path)?;
    let (tmp, file) = create_temp(path, &dir, &name, mode)?;
    let result = fill_and_rename(&tmp, file, path, bytes, mode, owner);
    if result.is_err() {
        // Best effort: the write failed already; a leftover temp file would only waste space.
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    // The rename is done: the new contents are what readers see. Syncing the directory makes the
    // rename itself durable. If that sync fails the write is reported as failed although the new
    // contents are in place: the caller retries or re-verifies, which is the safe reading.
    sync_dir(&dir).map_err(|e| io_error(&dir, e))
}

/// The directory and file name of `path`, or a clear error.
fn split(path: &Path) -> Result<(PathBuf, String), FsError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            io_error(
                path,
                std::io::Error::new(ErrorKind::InvalidInput, "not a file path"),
            )
        })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

/// Creates `.NAME.tmp-PID-N-NANOS` next to the target, exclusively, with `mode` from the start.
fn create_temp(path: &Path, dir: &Path, name: &str, mode: u32) -> Result<(PathBuf, File), FsError> {
    let mut last = None;
    for _ in 0..TEMP_NAME_ATTEMPTS {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = dir.join(format!(".{name}.tmp-{}-{n}-{nanos}", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true) // O_CREAT | O_EXCL: never reuse or follow an existing file
            .mode(mode & 0o777) // the umask can only remove bits: never more open than `mode`
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some(e),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(io_error(
                    path,
                    std::io::Error::new(
                        ErrorKind::NotFound,
                        format!("directory {} does not exist", dir.display()),
                    ),
                ));
            }
            Err(e) => return Err(io_error(&tmp, e)),
        }
    }
    Err(io_error(
        path,
        last.unwrap_or_else(|| std::io::Error::other("no free temporary name")),
    ))
}

/// Sets mode and owner, writes, fsyncs and renames the temporary file over `path`.
fn fill_and_rename(
    tmp: &Path,
    mut file: File,
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<(Uid, Gid)>,
) -> Result<(), FsError> {
    // Exact bits, whatever the umask removed at creation (still before any byte is written).
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| io_error(tmp, e))?;
    if let Some((uid, gid)) = owner {
        nix::unistd::fchown(&file, Some(uid), Some(gid))
            .map_err(|e| io_error(tmp, std::io::Error::from(e)))?;
    }
    file.write_all(bytes).map_err(|e| io_error(tmp, e))?;
    file.sync_all().map_err(|e| io_error(tmp, e))?;
    drop(file);
    std::fs::rename(tmp, path).map_err(|e| io_error(path, e))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_written_file_has_the_bytes_and_mode_0600_and_no_temp_file_remains() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kes.skey");
        let fs = LocalFs::new();
        fs.write_atomic(&path, b"new contents", 0o600)
            .await
            .expect("write");
        assert_eq!(fs.read(&path).await.expect("read"), b"new contents");
        let meta = fs.metadata(&path).await.expect("metadata");
        assert_eq!(
            meta,
            FileMeta {
                len: 12,
                mode: 0o600
            }
        );
        assert_eq!(entries(dir.path()), vec!["kes.skey".to_string()]);
    }

    #[tokio::test]
    async fn an_existing_file_is_replaced_and_gets_the_new_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node.cert");
        std::fs::write(&path, b"old old old old").expect("seed");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let fs = LocalFs::new();
        fs.write_atomic(&path, b"new", 0o600).await.expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        assert_eq!(fs.metadata(&path).await.expect("meta").mode, 0o600);
    }

    #[test]
    fn the_temporary_file_is_created_with_the_target_mode_before_any_byte_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vrf.skey");
        let (tmp, file) = create_temp(&path, dir.path(), "vrf.skey", 0o600).expect("temp");
        let mode = file.metadata().expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "readable by others at creation: {mode:o}");
        assert_eq!(file.metadata().expect("meta").len(), 0);
        assert!(
            tmp.starts_with(dir.path()),
            "temp not in the same directory"
        );
        assert!(
            create_temp(&path, dir.path(), "vrf.skey", 0o600).is_ok(),
            "second temp name collides"
        );
    }

    #[tokio::test]
    async fn a_concurrent_reader_only_ever_sees_the_old_or_the_new_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node.cert");
        let old = vec![b'o'; 64 * 1024];
        let new = vec![b'n'; 96 * 1024];
        std::fs::write(&path, &old).expect("seed");
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, old, new, stop) = (path.clone(), old.clone(), new.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let seen = std::fs::read(&path).expect("the target always exists");
                    assert!(
                        seen == old || seen == new,
                        "torn read of {} bytes",
                        seen.len()
                    );
                    reads += 1;
                }
                reads
            })
        };
        let fs = LocalFs::new();
        for i in 0..40 {
            let bytes = if i % 2 == 0 { &new } else { &old };
            fs.write_atomic(&path, bytes, 0o600).await.expect("write");
        }
        stop.store(true, Ordering::Relaxed);
        let reads = reader.join().expect("reader panicked");
        assert!(reads > 0);
        assert_eq!(entries(dir.path()), vec!["node.cert".to_string()]);
    }

    #[tokio::test]
    async fn writing_into_a_missing_directory_names_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("missing").join("kes.skey");
        let err = LocalFs::new()
            .write_atomic(&path, b"x", 0o600)
            .await
            .expect_err("must fail");
        let msg = err.to_string();
        assert!(
            msg.contains("missing") && msg.contains("does not exist"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn a_failed_write_leaves_no_temporary_file_and_keeps_the_old_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The target is a non-empty directory: the rename over it fails after the temp file is
        // fully written.
        let path = dir.path().join("node.cert");
        std::fs::create_dir(&path).expect("mkdir");
        std::fs::write(path.join("inside"), b"x").expect("seed");
        let err = LocalFs::new()
            .write_atomic(&path, b"new", 0o600)
            .await
            .expect_err("rename over a directory must fail");
        assert!(err.to_string().contains("node.cert"), "{err}");
        assert_eq!(entries(dir.path()), vec!["node.cert".to_string()]);
        assert_eq!(entries(&path), vec!["inside".to_string()]);
    }

    #[tokio::test]
    async fn a_chown_that_is_not_permitted_fails_the_write_and_cleans_up() {
        if nix::unistd::geteuid().is_root() {
            // Root may chown to anyone: write as a configured owner and check it.
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("kes.skey");
            LocalFs::with_owner(4242, 4343)
                .write_atomic(&path, b"k", 0o600)
                .await
                .expect("write as root");
            let m = std::fs::metadata(&path).expect("meta");
            use std::os::unix::fs::MetadataExt;
            assert_eq!((m.uid(), m.gid()), (4242, 4343));
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kes.skey");
        let err = LocalFs::with_owner(0, 0)
            .write_atomic(&path, b"k", 0o600)
            .await
            .expect_err("chown to root must fail for a normal user");
        assert!(matches!(err, FsError::Io { .. }), "{err}");
        assert!(entries(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn removing_a_missing_file_says_false_and_an_existing_one_true() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kes.skey");
        let fs = LocalFs::new();
        assert!(!fs.remove(&path).await.expect("remove missing"));
        std::fs::write(&path, b"k").expect("seed");
        assert!(fs.remove(&path).await.expect("remove existing"));
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn reading_or_statting_a_missing_file_is_not_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nope");
        let fs = LocalFs::new();
        assert!(matches!(fs.read(&path).await, Err(FsError::NotFound(_))));
        assert!(matches!(
            fs.metadata(&path).await,
            Err(FsError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn metadata_reports_the_permission_bits_of_a_world_readable_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vrf.skey");
        std::fs::write(&path, b"vrf").expect("seed");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let meta = LocalFs::new().metadata(&path).await.expect("meta");
        assert_eq!(
            meta,
            FileMeta {
                len: 3,
                mode: 0o644
            }
        );
    }
}
