//! How the fake node judges its three credential files, at startup and on SIGHUP.

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;

use forge_manager::credentials::{CredentialFile, CredentialPaths, CredentialSet, validate};

/// Most bytes read from one credential file (real ones are well under 1 KiB).
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// What the node concludes from the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// All three present and valid; the fingerprint of the operational certificate.
    Valid {
        /// `forge_manager::credentials::fingerprint` of the opcert file.
        fingerprint: String,
    },
    /// These files are absent.
    Missing(Vec<&'static str>),
    /// All present, but something is wrong (unreadable, not an envelope, wrong type, VRF mode).
    Invalid(String),
}

/// Reads and judges the three files. Absence wins over invalidity, as for the real node: a
/// missing file means "do not forge".
pub fn check(paths: &CredentialPaths) -> Check {
    let mut missing = Vec::new();
    let mut problems = Vec::new();
    let mut parts: Vec<Vec<u8>> = Vec::with_capacity(3);
    for f in CredentialFile::ALL {
        let path = paths.get(f);
        match read(path) {
            Ok(bytes) => parts.push(bytes),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                missing.push(f.label());
                parts.push(Vec::new());
            }
            Err(e) => {
                problems.push(format!("{}: {}: {e}", f.label(), path.display()));
                parts.push(Vec::new());
            }
        }
    }
    if !missing.is_empty() {
        return Check::Missing(missing);
    }
    if let Ok(meta) = std::fs::metadata(&paths.vrf)
        && meta.permissions().mode() & 0o004 != 0
    {
        problems.push(format!(
            "vrf: {} is readable by others (mode {:o})",
            paths.vrf.display(),
            meta.permissions().mode() & 0o777
        ));
    }
    let mut it = parts.into_iter();
    let set = CredentialSet {
        kes: it.next().unwrap_or_default(),
        vrf: it.next().unwrap_or_default(),
        opcert: it.next().unwrap_or_default(),
    };
    if problems.is_empty()
        && let Err(p) = validate(&set)
    {
        problems.push(p);
    }
    if problems.is_empty() {
        Check::Valid {
            fingerprint: set.fingerprint(),
        }
    } else {
        Check::Invalid(problems.join("; "))
    }
}

fn read(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use forge_manager::credentials::{fingerprint, sample_set};

    use super::*;

    fn write_set(dir: &std::path::Path, set: &CredentialSet) -> CredentialPaths {
        let paths = CredentialPaths::in_dir(dir);
        for f in CredentialFile::ALL {
            std::fs::write(paths.get(f), set.get(f)).expect("write");
            std::fs::set_permissions(paths.get(f), std::fs::Permissions::from_mode(0o600))
                .expect("chmod");
        }
        paths
    }

    #[test]
    fn a_valid_set_is_identified_by_its_opcert_fingerprint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let set = sample_set("a");
        let paths = write_set(dir.path(), &set);
        assert_eq!(
            check(&paths),
            Check::Valid {
                fingerprint: fingerprint(&set.opcert)
            }
        );
    }

    #[test]
    fn a_missing_file_wins_over_an_invalid_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = write_set(dir.path(), &sample_set("a"));
        std::fs::write(&paths.kes, b"{half").expect("garbage");
        std::fs::remove_file(&paths.opcert).expect("rm");
        assert_eq!(check(&paths), Check::Missing(vec!["opcert"]));
    }

    #[test]
    fn a_world_readable_vrf_key_or_a_wrong_type_is_invalid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = write_set(dir.path(), &sample_set("a"));
        std::fs::set_permissions(&paths.vrf, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        assert!(matches!(check(&paths), Check::Invalid(p) if p.contains("readable by others")));
        std::fs::set_permissions(&paths.vrf, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
        std::fs::write(&paths.kes, sample_set("a").vrf).expect("wrong type");
        assert!(
            matches!(check(&paths), Check::Invalid(p) if p.contains("kes: text envelope type"))
        );
    }
}
