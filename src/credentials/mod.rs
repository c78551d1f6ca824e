//! The three forging credential files (KES key, VRF key, operational certificate): where they live,
//! how they are written (atomically, 0600) and removed, and their fingerprints.
//!
//! Submodules: [`envelope`] (the cardano-cli file formats), [`genesis`] (wall time → KES period),
//! [`validate`] (is a set one the node will accept?), [`generate`] (throw-away decoy sets).
//!
//! Key bytes never leave this module except into the target files: everything that is logged,
//! journaled or shown carries a [`fingerprint`] (a SHA-256 prefix) instead.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::ports::{Fs, FsError};

pub mod envelope;
pub mod generate;
pub mod genesis;
pub mod validate;

pub use generate::{GeneratedSet, generate_set};
pub use genesis::{Genesis, GenesisError, Network, current_kes_period};
pub use validate::{
    CredentialReport, Fingerprints, PeriodCheck, Problem, ProblemCode, check, validate, validate_at,
};

/// Permission bits of every credential file we write: cardano-node refuses a VRF key that "other"
/// can read, and no one but the node's user needs any of them.
pub const CREDENTIAL_MODE: u32 = 0o600;

/// Which of the three files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialFile {
    /// KES signing key.
    Kes,
    /// VRF signing key.
    Vrf,
    /// Operational certificate.
    Opcert,
}

impl CredentialFile {
    /// The three, in the order they are written.
    pub const ALL: [CredentialFile; 3] = [
        CredentialFile::Kes,
        CredentialFile::Vrf,
        CredentialFile::Opcert,
    ];

    /// The `file` label value of the old sidecar's metrics.
    pub fn label(self) -> &'static str {
        match self {
            CredentialFile::Kes => "kes",
            CredentialFile::Vrf => "vrf",
            CredentialFile::Opcert => "opcert",
        }
    }
}

/// Paths of one set of the three files.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CredentialPaths {
    /// KES signing key.
    pub kes: PathBuf,
    /// VRF signing key.
    pub vrf: PathBuf,
    /// Operational certificate.
    pub opcert: PathBuf,
}

impl CredentialPaths {
    /// The path of one file.
    pub fn get(&self, f: CredentialFile) -> &Path {
        match f {
            CredentialFile::Kes => &self.kes,
            CredentialFile::Vrf => &self.vrf,
            CredentialFile::Opcert => &self.opcert,
        }
    }

    /// The conventional names (`kes.skey`, `vrf.skey`, `node.cert`) inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        CredentialPaths {
            kes: dir.join("kes.skey"),
            vrf: dir.join("vrf.skey"),
            opcert: dir.join("node.cert"),
        }
    }
}

/// The contents of one credential set.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialSet {
    /// KES signing key file contents.
    pub kes: Vec<u8>,
    /// VRF signing key file contents.
    pub vrf: Vec<u8>,
    /// Operational certificate file contents.
    pub opcert: Vec<u8>,
}

impl std::fmt::Debug for CredentialSet {
    // Never print key bytes, not even in a debug dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSet")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl CredentialSet {
    /// The contents of one file.
    pub fn get(&self, f: CredentialFile) -> &[u8] {
        match f {
            CredentialFile::Kes => &self.kes,
            CredentialFile::Vrf => &self.vrf,
            CredentialFile::Opcert => &self.opcert,
        }
    }

    /// The set's fingerprint: that of its operational certificate (what identifies a set in use,
    /// and what the fake node reports as loaded).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.opcert)
    }
}

/// First 16 hex digits of the SHA-256 of `bytes`: identifies a file without revealing it.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    hex::encode(&digest[..8])
}

/// Why a credential set could not be read, written or removed.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// A file of the set could not be read.
    #[error("reading {file:?}: {source}")]
    Read {
        /// Which file.
        file: CredentialFile,
        /// Why.
        #[source]
        source: FsError,
    },
    /// A file of the set could not be written.
    #[error("writing {file:?}: {source}")]
    Write {
        /// Which file.
        file: CredentialFile,
        /// Why.
        #[source]
        source: FsError,
    },
    /// A file of the set could not be removed.
    #[error("removing {file:?}: {source}")]
    Remove {
        /// Which file.
        file: CredentialFile,
        /// Why.
        #[source]
        source: FsError,
    },
}

/// Reads a whole set.
pub async fn read_set(
    fs: &impl Fs,
    paths: &CredentialPaths,
) -> Result<CredentialSet, CredentialError> {
    let mut parts = Vec::with_capacity(3);
    for f in CredentialFile::ALL {
        let bytes = fs
            .read(paths.get(f))
            .await
            .map_err(|source| CredentialError::Read { file: f, source })?;
        parts.push(bytes);
    }
    let opcert = parts.pop().unwrap_or_default();
    let vrf = parts.pop().unwrap_or_default();
    let kes = parts.pop().unwrap_or_default();
    Ok(CredentialSet { kes, vrf, opcert })
}

/// Writes a whole set, each file atomically with mode 0600. Writes the operational certificate last,
/// so a set is only ever completed by the file that identifies it.
pub async fn write_set(
    fs: &impl Fs,
    paths: &CredentialPaths,
    set: &CredentialSet,
) -> Result<(), CredentialError> {
    for f in CredentialFile::ALL {
        fs.write_atomic(paths.get(f), set.get(f), CREDENTIAL_MODE)
            .await
            .map_err(|source| CredentialError::Write { file: f, source })?;
    }
    Ok(())
}

/// Removes a whole set; returns how many files existed. Tries every file even if one fails.
pub async fn remove_set(fs: &impl Fs, paths: &CredentialPaths) -> Result<usize, CredentialError> {
    let mut removed = 0;
    let mut first_error = None;
    for f in CredentialFile::ALL {
        match fs.remove(paths.get(f)).await {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(source) => {
                first_error.get_or_insert(CredentialError::Remove { file: f, source });
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

/// The text-envelope `type` each file must carry, as cardano-cli writes them.
pub fn expected_types(f: CredentialFile) -> &'static [&'static str] {
    match f {
        CredentialFile::Kes => &["KesSigningKey_ed25519_kes_2^6"],
        CredentialFile::Vrf => &["VrfSigningKey_PraosVRF"],
        CredentialFile::Opcert => &["NodeOperationalCertificate"],
    }
}

/// A valid set for tests (real keys from a throw-away cold key, counter 0, KES period 0), the
/// same for the same `tag` and different for different tags. Always compiled (the simulator and
/// the integration tests use it; the binary does not, so the linker drops it): a feature for it
/// made `cargo run` after `cargo test` rebuild the library.
#[doc(hidden)]
pub fn sample_set(tag: &str) -> CredentialSet {
    use rand::SeedableRng;
    let seed: [u8; 32] = Sha256::digest(tag.as_bytes()).into();
    let mut rng = rand::rngs::StdRng::from_seed(seed);
    generate_set(&Genesis::PREVIEW, 0, 0, &mut rng).set
}

#[cfg(test)]
mod tests {
    #[test]
    fn envelopes_are_checked_file_by_file() {
        assert_eq!(validate(&sample_set("a")), Ok(()));
        let mut bad = sample_set("a");
        bad.vrf = b"{\"type\":\"NodeOperationalCertificate\",\"cborHex\":\"00\"}".to_vec();
        bad.opcert = b"half-writ".to_vec();
        let err = validate(&bad).err().unwrap_or_default();
        assert!(
            err.contains("vrf: text envelope type")
                && err.contains("opcert: not a cardano text envelope"),
            "{err}"
        );
        let mut empty = sample_set("a");
        empty.kes.clear();
        assert!(validate(&empty).is_err());
    }

    #[test]
    fn sample_sets_are_deterministic_per_tag() {
        assert_eq!(sample_set("a"), sample_set("a"));
        assert_ne!(sample_set("a").kes, sample_set("b").kes);
    }

    use super::*;

    #[test]
    fn fingerprints_are_sixteen_hex_digits_and_never_the_bytes() {
        let fp = fingerprint(b"secret key material");
        assert_eq!(fp.len(), 16);
        assert!(fp.chars().all(|c| c.is_ascii_hexdigit()));
        let set = CredentialSet {
            kes: b"kes-bytes".to_vec(),
            vrf: b"vrf-bytes".to_vec(),
            opcert: b"opcert-bytes".to_vec(),
        };
        let dbg = format!("{set:?}");
        assert!(
            !dbg.contains("kes-bytes") && !dbg.contains("opcert-bytes"),
            "{dbg}"
        );
        assert!(dbg.contains(&fingerprint(b"opcert-bytes")));
    }
}
