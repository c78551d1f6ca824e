//! Generation of a complete, valid credential set from a throw-away cold key: the decoys that keep
//! standby nodes bootable, and fixtures for tests and the simulator.
//!
//! The cold signing key lives only inside [`generate_set`] and is dropped (and zeroised by
//! ed25519-dalek) before it returns: a decoy's certificate can never be re-issued, which is the point.

use ed25519_dalek::{Signer, SigningKey};
use pallas_crypto::kes::summed_kes::Sum6Kes;
use pallas_crypto::kes::traits::KesSk;
use rand::CryptoRng;

use super::CredentialSet;
use super::envelope::{
    COLD_VKEY_TYPE, KES_SKEY_LEN, KES_SKEY_TYPE, OPCERT_TYPE, OpCert, VRF_SKEY_LEN, VRF_SKEY_TYPE,
    encode_bytestring, encode_envelope,
};
use super::genesis::Genesis;
use super::validate::vrf_public_key;

/// A freshly generated set and what goes with it.
#[derive(Clone, Debug)]
pub struct GeneratedSet {
    /// The three files (KES key, VRF key, operational certificate), as cardano-cli text envelopes.
    pub set: CredentialSet,
    /// The throw-away cold verification key as a `StakePoolVerificationKey` envelope, for reference.
    pub cold_vkey: Vec<u8>,
    /// Pool id (hex Blake2b-224 of the cold verification key) of this unregistered pool.
    pub pool_id: String,
    /// First KES period in which the certificate is no longer valid.
    pub kes_period_expiry: u64,
}

/// Generates a valid set whose certificate starts at `kes_period` with issue counter `counter`,
/// signed by a new cold key that is then discarded. All randomness comes from `rng` (the OS RNG in
/// production; a seeded one gives reproducible fixtures).
pub fn generate_set<R: CryptoRng + ?Sized>(
    genesis: &Genesis,
    kes_period: u64,
    counter: u64,
    rng: &mut R,
) -> GeneratedSet {
    let mut seed = [0u8; 32];

    rng.fill_bytes(&mut seed);
    let cold = SigningKey::from_bytes(&seed);
    let cold_vkey = cold.verifying_key().to_bytes();

    rng.fill_bytes(&mut seed);
    let mut kes_buffer = [0u8; KES_SKEY_LEN + 4];
    // keygen zeroises the seed it is given.
    let (kes_sk, kes_pk) = Sum6Kes::keygen(&mut kes_buffer, &mut seed);
    let mut kes_vkey = [0u8; 32];
    kes_vkey.copy_from_slice(kes_pk.as_bytes());
    // The file holds the raw key without pallas's trailing period word.
    let kes_file = encode_envelope(
        KES_SKEY_TYPE,
        "KES Signing Key",
        &encode_bytestring(&kes_sk.as_bytes()[..KES_SKEY_LEN]),
    );
    drop(kes_sk);

    rng.fill_bytes(&mut seed);
    let mut vrf_raw = [0u8; VRF_SKEY_LEN];
    vrf_raw[..32].copy_from_slice(&seed);
    vrf_raw[32..].copy_from_slice(&vrf_public_key(&seed));
    seed.fill(0);
    let vrf_file = encode_envelope(
        VRF_SKEY_TYPE,
        "VRF Signing Key",
        &encode_bytestring(&vrf_raw),
    );
    vrf_raw.fill(0);

    let sigma = cold
        .sign(&OpCert::signable(&kes_vkey, counter, kes_period))
        .to_bytes();
    drop(cold);
    let cert = OpCert {
        kes_vkey,
        counter,
        kes_period,
        sigma,
        cold_vkey,
    };
    GeneratedSet {
        set: CredentialSet {
            kes: kes_file,
            vrf: vrf_file,
            opcert: encode_envelope(OPCERT_TYPE, "", &cert.to_cbor()),
        },
        cold_vkey: encode_envelope(
            COLD_VKEY_TYPE,
            "Stake Pool Operator Verification Key",
            &encode_bytestring(&cold_vkey),
        ),
        pool_id: hex::encode(pallas_crypto::hash::Hasher::<224>::hash(&cold_vkey).as_ref()),
        kes_period_expiry: kes_period.saturating_add(genesis.max_kes_evolutions),
    }
}
