//! Validation of a credential set the way cardano-node will judge it, before we hand it to the node.
//!
//! A node that reads an invalid set at startup exits (a crash loop), and on SIGHUP it logs an error
//! and keeps its previous keys: so every promotion and every decoy is checked here first. All
//! problems are reported at once, each with a machine code and a sentence; the sentences carry
//! fingerprints, never key bytes.
//!
//! Checks:
//! 1. each file is a text envelope of the right type holding CBOR of the right shape and length;
//! 2. the KES signing key is self-consistent (a period-0 signature verifies under its own root key),
//!    and the operational certificate delegates to exactly that key;
//! 3. the cold key's Ed25519 signature over the certificate body verifies;
//! 4. the VRF signing key's public half is the one its seed derives;
//! 5. with a current KES period ([`check`], [`validate_at`]): the certificate is neither in the
//!    future nor expired; with a previous counter: the counter neither goes back nor skips.

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use jiff::Timestamp;
use pallas_crypto::kes::summed_kes::Sum6Kes;
use pallas_crypto::kes::traits::{KesSig, KesSk};

use super::envelope::{
    self, EnvelopeError, KES_SKEY_LEN, KES_SKEY_TYPE, KES_VKEY_LEN, OPCERT_TYPE, OpCert,
    VRF_SKEY_LEN, VRF_SKEY_TYPE,
};
use super::genesis::{Genesis, current_kes_period};
use super::{CredentialFile, CredentialSet, fingerprint};

/// What is wrong, as a stable machine-readable code (serialised in snake_case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// The file is empty.
    EmptyFile,
    /// The file is not a JSON text envelope (often: half-written).
    NotTextEnvelope,
    /// The envelope's `type` is not the one this file needs.
    WrongEnvelopeType,
    /// `cborHex` is not hex.
    BadCborHex,
    /// The CBOR payload has the wrong structure.
    BadCbor,
    /// A key or field has the wrong number of bytes.
    WrongLength,
    /// The opcert counter or period does not fit an unsigned 64-bit integer.
    OutOfRange,
    /// The KES signing key does not verify its own signature (corrupt, or already evolved).
    KesKeyInconsistent,
    /// The VRF signing key's public half is not derived from its seed.
    VrfKeyInconsistent,
    /// The operational certificate delegates to a different KES key than the one in the set.
    KesKeyMismatch,
    /// The cold verification key in the certificate is not a valid Ed25519 point.
    ColdKeyInvalid,
    /// The cold key's signature over the certificate body does not verify.
    ColdSignatureInvalid,
    /// The certificate's first KES period is after the current one.
    KesPeriodInFuture,
    /// The certificate's last valid KES period has passed.
    KesPeriodExpired,
    /// The issue counter is lower than one already seen.
    CounterWentBackwards,
    /// The issue counter is more than one above one already seen (the ledger rejects that too).
    CounterSkipped,
}

/// One thing wrong with a set.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// The file at fault, when it is one file's fault.
    pub file: Option<CredentialFile>,
    /// Machine-readable code.
    pub code: ProblemCode,
    /// A sentence for the operator; fingerprints only, never key bytes.
    pub message: String,
}

impl Problem {
    /// Whether the input could not be read as credentials at all (empty or not a text envelope),
    /// as opposed to readable credentials that are wrong.
    pub fn is_unusable_input(&self) -> bool {
        matches!(
            self.code,
            ProblemCode::EmptyFile | ProblemCode::NotTextEnvelope
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.file {
            Some(file) => write!(f, "{}: {}", file.label(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Fingerprints (16-hex SHA-256 prefixes of the file contents) of the three files.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprints {
    /// Of the KES signing key file.
    pub kes: String,
    /// Of the VRF signing key file.
    pub vrf: String,
    /// Of the operational certificate file (the set's identity, [`CredentialSet::fingerprint`]).
    pub opcert: String,
}

/// Everything known about a set after [`check`]: what the operator needs to see, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CredentialReport {
    /// The certificate's issue counter (when it could be read).
    pub counter: Option<u64>,
    /// First KES period in which the certificate is valid.
    pub kes_period_start: Option<u64>,
    /// First KES period in which it is no longer valid (`start + max_kes_evolutions`).
    pub kes_period_expiry: Option<u64>,
    /// The KES period the set was judged at.
    pub current_kes_period: u64,
    /// Periods from the current one until expiry (0 when expired).
    pub periods_left: Option<u64>,
    /// Pool id (hex Blake2b-224 of the cold verification key): public, tells a decoy from the pool.
    pub pool_id: Option<String>,
    /// Fingerprints of the three files.
    pub fingerprints: Fingerprints,
    /// Everything wrong, in file order; empty when valid.
    pub problems: Vec<Problem>,
}

impl CredentialReport {
    /// Whether the set passed every check.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The time-dependent part of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodCheck {
    /// The current KES period.
    pub current_kes_period: u64,
    /// The network's `maxKESEvolutions`.
    pub max_kes_evolutions: u64,
    /// The highest issue counter already seen for this pool, if known.
    pub previous_counter: Option<u64>,
}

/// Cheap, time-free validation for every tick of the sidecar: shape, KES key ↔ certificate, cold
/// signature, VRF key. Errors are the problems' sentences joined by `"; "`.
pub fn validate(set: &CredentialSet) -> Result<(), String> {
    let problems = inspect(set).problems;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "))
    }
}

/// Full validation at wall time `now` on a network described by `genesis`.
pub fn validate_at(set: &CredentialSet, genesis: &Genesis, now: Timestamp) -> CredentialReport {
    check(
        set,
        PeriodCheck {
            current_kes_period: current_kes_period(genesis, now),
            max_kes_evolutions: genesis.max_kes_evolutions,
            previous_counter: None,
        },
    )
}

/// Full validation with an explicit period (and optionally a previous counter).
pub fn check(set: &CredentialSet, period: PeriodCheck) -> CredentialReport {
    let Inspection {
        opcert,
        mut problems,
    } = inspect(set);
    let current = period.current_kes_period;
    let mut report = CredentialReport {
        counter: None,
        kes_period_start: None,
        kes_period_expiry: None,
        current_kes_period: current,
        periods_left: None,
        pool_id: None,
        fingerprints: Fingerprints {
            kes: fingerprint(&set.kes),
            vrf: fingerprint(&set.vrf),
            opcert: fingerprint(&set.opcert),
        },
        problems: Vec::new(),
    };
    if let Some(cert) = opcert {
        let start = cert.kes_period;
        let expiry = start.saturating_add(period.max_kes_evolutions);
        report.counter = Some(cert.counter);
        report.kes_period_start = Some(start);
        report.kes_period_expiry = Some(expiry);
        report.periods_left = Some(expiry.saturating_sub(current));
        report.pool_id = Some(hex::encode(
            pallas_crypto::hash::Hasher::<224>::hash(&cert.cold_vkey).as_ref(),
        ));
        problems.extend(period_problems(start, expiry, current));
        problems.extend(counter_problems(cert.counter, period.previous_counter));
    }
    report.problems = problems;
    report
}

fn period_problems(start: u64, expiry: u64, current: u64) -> Option<Problem> {
    let opcert = Some(CredentialFile::Opcert);
    if current < start {
        Some(Problem {
            file: opcert,
            code: ProblemCode::KesPeriodInFuture,
            message: format!(
                "the certificate starts at KES period {start}, after the current period {current}"
            ),
        })
    } else if current >= expiry {
        Some(Problem {
            file: opcert,
            code: ProblemCode::KesPeriodExpired,
            message: format!(
                "the certificate expired: valid for KES periods {start}..{expiry}, current period is {current}"
            ),
        })
    } else {
        None
    }
}

fn counter_problems(counter: u64, previous: Option<u64>) -> Option<Problem> {
    let previous = previous?;
    let opcert = Some(CredentialFile::Opcert);
    if counter < previous {
        Some(Problem {
            file: opcert,
            code: ProblemCode::CounterWentBackwards,
            message: format!(
                "issue counter {counter} is below the counter already seen ({previous})"
            ),
        })
    } else if counter - previous > 1 {
        Some(Problem {
            file: opcert,
            code: ProblemCode::CounterSkipped,
            message: format!(
                "issue counter {counter} skips ahead of the counter already seen ({previous}); the ledger accepts at most one more"
            ),
        })
    } else {
        None
    }
}

/// What the time-free checks found.
struct Inspection {
    opcert: Option<OpCert>,
    problems: Vec<Problem>,
}

fn inspect(set: &CredentialSet) -> Inspection {
    let mut problems = Vec::new();
    let kes_vkey = match decode_key(&set.kes, KES_SKEY_TYPE, "KES signing key", KES_SKEY_LEN) {
        Ok(raw) => kes_root_key(&raw).map_err(|p| problems.push(p)).ok(),
        Err(e) => {
            problems.push(envelope_problem(CredentialFile::Kes, e));
            None
        }
    };
    match decode_key(&set.vrf, VRF_SKEY_TYPE, "VRF signing key", VRF_SKEY_LEN) {
        Ok(raw) => problems.extend(vrf_problem(&raw)),
        Err(e) => problems.push(envelope_problem(CredentialFile::Vrf, e)),
    }
    let opcert = match envelope::decode_envelope(&set.opcert, OPCERT_TYPE)
        .and_then(|cbor| OpCert::from_cbor(&cbor))
    {
        Ok(cert) => Some(cert),
        Err(e) => {
            problems.push(envelope_problem(CredentialFile::Opcert, e));
            None
        }
    };
    if let Some(cert) = &opcert {
        problems.extend(cold_signature_problem(cert));
        if let Some(vkey) = kes_vkey
            && vkey != cert.kes_vkey
        {
            problems.push(Problem {
                file: Some(CredentialFile::Opcert),
                code: ProblemCode::KesKeyMismatch,
                message: format!(
                    "the certificate delegates to KES key {} but the KES signing key's verification key is {}",
                    fingerprint(&cert.kes_vkey),
                    fingerprint(&vkey)
                ),
            });
        }
    }
    Inspection { opcert, problems }
}

fn decode_key(
    file: &[u8],
    kind: &'static str,
    what: &'static str,
    len: usize,
) -> Result<Vec<u8>, EnvelopeError> {
    let cbor = envelope::decode_envelope(file, kind)?;
    envelope::decode_bytestring(&cbor, what, len)
}

fn envelope_problem(file: CredentialFile, e: EnvelopeError) -> Problem {
    let code = match &e {
        EnvelopeError::Empty => ProblemCode::EmptyFile,
        EnvelopeError::NotEnvelope(_) => ProblemCode::NotTextEnvelope,
        EnvelopeError::WrongType { .. } => ProblemCode::WrongEnvelopeType,
        EnvelopeError::BadHex => ProblemCode::BadCborHex,
        EnvelopeError::BadCbor(_) => ProblemCode::BadCbor,
        EnvelopeError::WrongLength { .. } => ProblemCode::WrongLength,
        EnvelopeError::OutOfRange(_) => ProblemCode::OutOfRange,
    };
    Problem {
        file: Some(file),
        code,
        message: e.to_string(),
    }
}

/// Message the KES self-check signs; any fixed message works.
const KES_SELF_CHECK_MESSAGE: &[u8] = b"forge-manager KES self-check";

/// The KES root verification key of a raw 608-byte Sum6KES key, after checking that the key
/// signs at period 0 and that signature verifies under that root (catches corrupt or evolved keys).
pub(crate) fn kes_root_key(raw: &[u8]) -> Result<[u8; KES_VKEY_LEN], Problem> {
    let inconsistent = || {
        Problem {
        file: Some(CredentialFile::Kes),
        code: ProblemCode::KesKeyInconsistent,
        message: "the KES signing key is corrupt or not a fresh (period 0) key: its own signature does not verify".into(),
    }
    };
    // pallas keeps the current period as 4 big-endian bytes after the key; a key file is period 0.
    // The buffer is zeroised when `sk` is dropped.
    let mut buffer = Vec::with_capacity(KES_SKEY_LEN + 4);
    buffer.extend_from_slice(raw);
    buffer.extend_from_slice(&[0; 4]);
    let sk = Sum6Kes::from_bytes(&mut buffer).map_err(|_| inconsistent())?;
    let pk = sk.to_pk();
    let sig = sk.sign(KES_SELF_CHECK_MESSAGE);
    sig.verify(0, &pk, KES_SELF_CHECK_MESSAGE)
        .map_err(|_| inconsistent())?;
    let mut out = [0u8; KES_VKEY_LEN];
    out.copy_from_slice(pk.as_bytes());
    Ok(out)
}

/// The public key a PraosVRF seed derives. libsodium's IETF draft-03 VRF (the one cardano-node
/// links) derives it exactly as Ed25519 does: SHA-512 of the seed, clamp, multiply the base point.
pub(crate) fn vrf_public_key(seed: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(seed).verifying_key().to_bytes()
}

fn vrf_problem(raw: &[u8]) -> Option<Problem> {
    let inconsistent = || Problem {
        file: Some(CredentialFile::Vrf),
        code: ProblemCode::VrfKeyInconsistent,
        message: "the VRF signing key's public half does not match its seed (corrupt key)".into(),
    };
    // `raw` is VRF_SKEY_LEN (64) bytes, checked by the decoder: seed, then public key.
    let Some((seed, public)) = raw.split_first_chunk::<32>() else {
        return Some(inconsistent());
    };
    (vrf_public_key(seed)[..] != public[..]).then(inconsistent)
}

fn cold_signature_problem(cert: &OpCert) -> Option<Problem> {
    let file = Some(CredentialFile::Opcert);
    let Ok(cold) = VerifyingKey::from_bytes(&cert.cold_vkey) else {
        return Some(Problem {
            file,
            code: ProblemCode::ColdKeyInvalid,
            message: format!(
                "the cold verification key {} is not a valid Ed25519 key",
                fingerprint(&cert.cold_vkey)
            ),
        });
    };
    let signable = OpCert::signable(&cert.kes_vkey, cert.counter, cert.kes_period);
    // Strict verification: like libsodium, reject small-order keys and non-canonical signatures.
    match cold.verify_strict(&signable, &Signature::from_bytes(&cert.sigma)) {
        Ok(()) => None,
        Err(_) => Some(Problem {
            file,
            code: ProblemCode::ColdSignatureInvalid,
            message: format!(
                "the cold key {} signature over the certificate (counter {}, KES period {}) does not verify",
                fingerprint(&cert.cold_vkey),
                cert.counter,
                cert.kes_period
            ),
        }),
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
