//! Validation cases: one test per way a set can be wrong, plus the no-key-bytes-in-messages rule.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::credentials::envelope::{decode_envelope, encode_bytestring, encode_envelope};
use crate::credentials::{Network, generate_set};

fn generated(kes_period: u64, counter: u64, seed: u8) -> CredentialSet {
    let mut rng = StdRng::from_seed([seed; 32]);
    generate_set(&Genesis::MAINNET, kes_period, counter, &mut rng).set
}

fn at_period(set: &CredentialSet, current: u64) -> CredentialReport {
    check(
        set,
        PeriodCheck {
            current_kes_period: current,
            max_kes_evolutions: 62,
            previous_counter: None,
        },
    )
}

fn codes(report: &CredentialReport) -> Vec<ProblemCode> {
    report.problems.iter().map(|p| p.code).collect()
}

/// Rewrites a file's cborHex payload with `f`, keeping its type.
fn with_payload(file: &[u8], kind: &'static str, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut cbor = decode_envelope(file, kind).expect("a valid envelope");
    f(&mut cbor);
    encode_envelope(kind, "", &cbor)
}

#[test]
fn a_generated_set_is_valid_and_reports_its_periods() {
    let set = generated(1008, 3, 1);
    assert_eq!(validate(&set), Ok(()));
    let r = at_period(&set, 1010);
    assert!(r.is_valid(), "{:?}", r.problems);
    assert_eq!(r.counter, Some(3));
    assert_eq!(r.kes_period_start, Some(1008));
    assert_eq!(r.kes_period_expiry, Some(1070));
    assert_eq!(r.current_kes_period, 1010);
    assert_eq!(r.periods_left, Some(60));
    assert_eq!(r.fingerprints.opcert, set.fingerprint());
    assert_eq!(r.pool_id.as_deref().map(str::len), Some(56));
}

#[test]
fn validate_at_judges_the_period_from_the_network_genesis() {
    // Mainnet epoch 500 starts in KES period 1008.
    let now: Timestamp = "2024-07-28T21:44:51Z".parse().expect("timestamp");
    let g = Network::Mainnet.genesis();
    assert!(validate_at(&generated(1008, 0, 2), &g, now).is_valid());
    assert_eq!(
        codes(&validate_at(&generated(1009, 0, 2), &g, now)),
        [ProblemCode::KesPeriodInFuture]
    );
    assert_eq!(
        codes(&validate_at(&generated(1008 - 62, 0, 2), &g, now)),
        [ProblemCode::KesPeriodExpired]
    );
}

#[test]
fn the_period_window_is_start_inclusive_and_expiry_exclusive() {
    let set = generated(100, 0, 3);
    assert_eq!(
        codes(&at_period(&set, 99)),
        [ProblemCode::KesPeriodInFuture]
    );
    assert_eq!(at_period(&set, 99).periods_left, Some(63));
    assert!(at_period(&set, 100).is_valid());
    assert_eq!(at_period(&set, 100).periods_left, Some(62));
    assert_eq!(at_period(&set, 161).periods_left, Some(1));
    assert!(at_period(&set, 161).is_valid());
    assert_eq!(
        codes(&at_period(&set, 162)),
        [ProblemCode::KesPeriodExpired]
    );
    assert_eq!(at_period(&set, 162).periods_left, Some(0));
    assert_eq!(at_period(&set, 5000).periods_left, Some(0));
}

#[test]
fn a_kes_key_that_is_not_the_certificates_is_a_mismatch() {
    let mut set = generated(0, 0, 4);
    set.kes = generated(0, 0, 5).kes;
    let r = at_period(&set, 0);
    assert_eq!(codes(&r), [ProblemCode::KesKeyMismatch]);
    assert!(validate(&set).is_err_and(|e| e.contains("opcert: the certificate delegates")));
}

#[test]
fn a_flipped_byte_in_the_cold_signature_fails_verification() {
    let mut set = generated(0, 0, 6);
    set.opcert = with_payload(&set.opcert, envelope::OPCERT_TYPE, |cbor| {
        // The signature is the 64 bytes before the 2-byte header of the final 32-byte cold key.
        let at = cbor.len() - 34 - 10;
        cbor[at] ^= 0x01;
    });
    assert_eq!(
        codes(&at_period(&set, 0)),
        [ProblemCode::ColdSignatureInvalid]
    );
}

#[test]
fn a_certificate_whose_counter_was_changed_after_signing_fails_verification() {
    let set = generated(0, 0, 7);
    let mut cert =
        OpCert::from_cbor(&decode_envelope(&set.opcert, envelope::OPCERT_TYPE).expect("envelope"))
            .expect("cert");
    cert.counter = 1;
    let forged = CredentialSet {
        opcert: encode_envelope(envelope::OPCERT_TYPE, "", &cert.to_cbor()),
        ..set
    };
    assert_eq!(
        codes(&at_period(&forged, 0)),
        [ProblemCode::ColdSignatureInvalid]
    );
}

#[test]
fn a_half_written_file_is_unusable_input() {
    let mut set = generated(0, 0, 8);
    set.kes.truncate(set.kes.len() / 2);
    let r = at_period(&set, 0);
    assert_eq!(codes(&r), [ProblemCode::NotTextEnvelope]);
    assert!(r.problems[0].is_unusable_input());
    assert_eq!(r.problems[0].file, Some(CredentialFile::Kes));
}

#[test]
fn an_empty_file_is_reported_as_such() {
    let mut set = generated(0, 0, 8);
    set.opcert.clear();
    let r = at_period(&set, 0);
    assert_eq!(codes(&r), [ProblemCode::EmptyFile]);
    assert_eq!(r.counter, None);
}

#[test]
fn a_file_of_the_wrong_envelope_type_is_rejected() {
    let mut set = generated(0, 0, 9);
    set.vrf = set.kes.clone();
    assert_eq!(codes(&at_period(&set, 0)), [ProblemCode::WrongEnvelopeType]);
}

#[test]
fn a_vrf_key_of_the_wrong_length_is_rejected() {
    let mut set = generated(0, 0, 10);
    set.vrf = encode_envelope(envelope::VRF_SKEY_TYPE, "", &encode_bytestring(&[1; 32]));
    let r = at_period(&set, 0);
    assert_eq!(codes(&r), [ProblemCode::WrongLength]);
    assert!(
        r.problems[0].message.contains("32 bytes, expected 64"),
        "{}",
        r.problems[0]
    );
}

#[test]
fn a_vrf_key_whose_public_half_does_not_match_its_seed_is_rejected() {
    let mut set = generated(0, 0, 11);
    set.vrf = with_payload(&set.vrf, envelope::VRF_SKEY_TYPE, |cbor| {
        let last = cbor.len() - 1;
        cbor[last] ^= 0x80;
    });
    assert_eq!(
        codes(&at_period(&set, 0)),
        [ProblemCode::VrfKeyInconsistent]
    );
}

#[test]
fn a_corrupt_kes_key_fails_its_self_check() {
    let mut set = generated(0, 0, 12);
    set.kes = with_payload(&set.kes, envelope::KES_SKEY_TYPE, |cbor| {
        // First byte of the leaf Ed25519 seed (after the 3-byte bytestring header).
        cbor[3] ^= 0x01;
    });
    assert_eq!(
        codes(&at_period(&set, 0)),
        [ProblemCode::KesKeyInconsistent]
    );
}

#[test]
fn a_kes_key_of_the_wrong_length_is_rejected() {
    let mut set = generated(0, 0, 12);
    set.kes = encode_envelope(envelope::KES_SKEY_TYPE, "", &encode_bytestring(&[0; 612]));
    assert_eq!(codes(&at_period(&set, 0)), [ProblemCode::WrongLength]);
}

#[test]
fn the_counter_may_stay_or_grow_by_one_but_not_go_back_or_skip() {
    let set = generated(0, 4, 13);
    let with_previous = |previous| {
        check(
            &set,
            PeriodCheck {
                current_kes_period: 0,
                max_kes_evolutions: 62,
                previous_counter: Some(previous),
            },
        )
    };
    assert!(with_previous(4).is_valid());
    assert!(with_previous(3).is_valid());
    assert_eq!(
        codes(&with_previous(5)),
        [ProblemCode::CounterWentBackwards]
    );
    assert_eq!(codes(&with_previous(2)), [ProblemCode::CounterSkipped]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut set = generated(500, 0, 14);
    set.kes.truncate(10);
    set.vrf = encode_envelope(envelope::VRF_SKEY_TYPE, "", &encode_bytestring(&[1; 63]));
    let r = at_period(&set, 0);
    assert_eq!(
        codes(&r),
        [
            ProblemCode::NotTextEnvelope,
            ProblemCode::WrongLength,
            ProblemCode::KesPeriodInFuture
        ]
    );
    let err = validate(&set).err().unwrap_or_default();
    assert!(err.starts_with("kes: ") && err.contains("; vrf: "), "{err}");
}

/// The Sum6KES key cardano-base (Haskell) generates from the seed "test string of 32 byte of
/// lenght", as shipped in pallas-crypto's interoperability test data: our KES handling reads the
/// exact layout cardano-cli writes, and our generator produces it byte for byte.
#[test]
fn a_cardano_base_generated_kes_key_is_read_and_reproduced() {
    let haskell: &[u8; 608] = include_bytes!("fixtures/cardano-base-sum6kes-key6.bin");
    let mut buffer = [0u8; KES_SKEY_LEN + 4];
    let mut seed = *b"test string of 32 byte of lenght";
    let (sk, pk) = Sum6Kes::keygen(&mut buffer, &mut seed);
    assert_eq!(&sk.as_bytes()[..KES_SKEY_LEN], &haskell[..]);
    let root = kes_root_key(haskell).expect("consistent key");
    assert_eq!(&root[..], pk.as_bytes());

    // A cardano-cli KES file holding it: 0x59 0x02 0x60 is the bytestring header for 608 bytes.
    let file = encode_envelope(
        KES_SKEY_TYPE,
        "KES Signing Key",
        &encode_bytestring(haskell),
    );
    let cbor = envelope::decode_envelope(&file, KES_SKEY_TYPE).expect("envelope");
    assert_eq!(cbor[..3], [0x59, 0x02, 0x60]);
}

#[test]
fn no_message_or_report_contains_key_bytes() {
    let good = generated(10, 0, 15);
    let payloads: Vec<String> = [
        (&good.kes, envelope::KES_SKEY_TYPE),
        (&good.vrf, envelope::VRF_SKEY_TYPE),
    ]
    .into_iter()
    .map(|(f, t)| hex::encode(decode_envelope(f, t).expect("envelope")))
    .collect();

    let mut broken = Vec::new();
    let mut s = good.clone();
    s.kes.truncate(s.kes.len() - 40); // half-written
    broken.push(s);
    let mut s = good.clone();
    s.vrf = good.kes.clone(); // KES key where the VRF key should be
    s.kes = good.vrf.clone();
    broken.push(s);
    let mut s = good.clone();
    s.kes = with_payload(&good.kes, envelope::KES_SKEY_TYPE, |c| c[3] ^= 1);
    s.vrf = with_payload(&good.vrf, envelope::VRF_SKEY_TYPE, |c| c[40] ^= 1);
    broken.push(s);
    let mut s = good.clone();
    // Key hex pasted into the type field.
    s.vrf = format!(
        "{{\"type\":\"{}\",\"description\":\"\",\"cborHex\":\"00\"}}",
        payloads[1]
    )
    .into_bytes();
    broken.push(s);
    let mut s = good.clone();
    // A bare JSON string holding the key: serde_json would quote it in its own message.
    s.kes = format!("\"{}\"", payloads[0]).into_bytes();
    broken.push(s);

    for set in broken.iter().chain([&good]) {
        let report = at_period(set, 1000);
        let text = format!(
            "{} {} {:?} {:?}",
            validate(set).err().unwrap_or_default(),
            serde_json::to_string(&report).unwrap_or_default(),
            report,
            set
        );
        for payload in &payloads {
            // Any 8-byte window of a key would be too much.
            for window in payload.as_bytes().chunks(16) {
                let window = std::str::from_utf8(window).unwrap_or_default();
                assert!(
                    window.len() < 16 || !text.contains(window),
                    "key bytes leaked: {text}"
                );
            }
        }
    }
}
