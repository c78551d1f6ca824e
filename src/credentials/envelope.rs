//! The cardano-cli "text envelope" files and the CBOR inside them, for the three forging credentials
//! (and the cold verification key written next to a decoy set).
//!
//! Formats, as cardano-cli writes them (cardano-api `TextEnvelope`, cardano-ledger `OCert`):
//!
//! | file | `type` | `cborHex` payload |
//! |---|---|---|
//! | KES signing key | `KesSigningKey_ed25519_kes_2^6` | bytestring, 608 bytes (raw Sum6KES key at evolution 0) |
//! | VRF signing key | `VrfSigningKey_PraosVRF` | bytestring, 64 bytes (32-byte seed then 32-byte public key) |
//! | operational certificate | `NodeOperationalCertificate` | `[[kes_vkey(32), counter, kes_period, sigma(64)], cold_vkey(32)]` |
//! | cold verification key | `StakePoolVerificationKey` | bytestring, 32 bytes |
//!
//! Errors here never carry file contents: a truncated key file must not end up in a log line.

use minicbor::data::Type;
use minicbor::{Decoder, Encoder};

/// Raw size of a Sum6KES signing key (Ed25519 seed + 6 levels of seed and two verification keys).
pub const KES_SKEY_LEN: usize = 608;
/// Size of a KES verification key (Blake2b-256 root of the KES tree).
pub const KES_VKEY_LEN: usize = 32;
/// Size of a PraosVRF signing key (seed followed by public key).
pub const VRF_SKEY_LEN: usize = 64;
/// Size of an Ed25519 (cold) verification key.
pub const COLD_VKEY_LEN: usize = 32;
/// Size of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Text-envelope types, exactly as cardano-cli spells them.
pub const KES_SKEY_TYPE: &str = "KesSigningKey_ed25519_kes_2^6";
/// See [`KES_SKEY_TYPE`].
pub const VRF_SKEY_TYPE: &str = "VrfSigningKey_PraosVRF";
/// See [`KES_SKEY_TYPE`].
pub const OPCERT_TYPE: &str = "NodeOperationalCertificate";
/// See [`KES_SKEY_TYPE`].
pub const COLD_VKEY_TYPE: &str = "StakePoolVerificationKey";

/// Why a file could not be decoded. Messages describe the shape, never the contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Zero bytes: typically a file caught between truncate and write.
    #[error("the file is empty")]
    Empty,
    /// Not JSON, or JSON without string `type` and `cborHex` fields (a half-written file lands here).
    #[error("not a cardano text envelope (JSON with \"type\" and \"cborHex\"): {0}")]
    NotEnvelope(String),
    /// Parsed, but the `type` is not the expected one.
    #[error("text envelope type is {found:?}, expected {expected:?}")]
    WrongType {
        /// The type the file declares (a public label, safe to show).
        found: String,
        /// The type this file must have.
        expected: &'static str,
    },
    /// `cborHex` is empty, of odd length or has a non-hex digit.
    #[error("cborHex is not valid hex")]
    BadHex,
    /// The CBOR payload does not have the expected structure.
    #[error("the CBOR payload is malformed: {0}")]
    BadCbor(&'static str),
    /// A key or field has the wrong number of bytes.
    #[error("{what} is {found} bytes, expected {expected}")]
    WrongLength {
        /// Which field.
        what: &'static str,
        /// Bytes found.
        found: usize,
        /// Bytes required.
        expected: usize,
    },
    /// The opcert counter or KES period is not an unsigned integer that fits 64 bits.
    #[error("{0} is not an unsigned 64-bit integer")]
    OutOfRange(&'static str),
}

/// Parses a text envelope of type `expected` and returns its decoded `cborHex`.
pub fn decode_envelope(bytes: &[u8], expected: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: String,
        #[serde(rename = "cborHex")]
        cbor_hex: String,
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(EnvelopeError::Empty);
    }
    let env: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| EnvelopeError::NotEnvelope(describe_json_error(&e)))?;
    if env.kind != expected {
        // Only echo a plausible type label; anything else could be pasted key material.
        let found = if env.kind.len() <= 64 && !env.kind.chars().all(|c| c.is_ascii_hexdigit()) {
            env.kind
        } else {
            "(unrecognised)".to_string()
        };
        return Err(EnvelopeError::WrongType { found, expected });
    }
    if env.cbor_hex.is_empty() {
        return Err(EnvelopeError::BadHex);
    }
    hex::decode(env.cbor_hex.trim()).map_err(|_| EnvelopeError::BadHex)
}

/// The category and position of a JSON error, without serde_json's own message: that can quote a
/// string value ("invalid type: string \"5820…\"") and so a key pasted in the wrong place.
fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Eof => "ends early (truncated or half-written)",
        Category::Syntax => "JSON syntax error",
        Category::Data => "JSON without string \"type\" and \"cborHex\" fields",
        Category::Io => "read error",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// Renders a text envelope the way cardano-cli does (4-space indented JSON, trailing newline).
pub fn encode_envelope(kind: &str, description: &str, cbor: &[u8]) -> Vec<u8> {
    // A struct, not a json! map: cardano-cli's field order is type, description, cborHex.
    #[derive(serde::Serialize)]
    struct Envelope<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        description: &'a str,
        #[serde(rename = "cborHex")]
        cbor_hex: String,
    }
    let value = Envelope {
        kind,
        description,
        cbor_hex: hex::encode(cbor),
    };
    let mut out = Vec::with_capacity(cbor.len() * 2 + 128);
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Serialising strings into a Vec cannot fail (no I/O, no maps with non-string keys).
    if serde::Serialize::serialize(&value, &mut ser).is_err() {
        debug_assert!(false, "serialising a JSON object into memory failed");
    }
    out.push(b'\n');
    out
}

/// A CBOR bytestring of exactly `len` bytes, and nothing after it.
pub fn decode_bytestring(
    cbor: &[u8],
    what: &'static str,
    len: usize,
) -> Result<Vec<u8>, EnvelopeError> {
    let mut d = Decoder::new(cbor);
    let bytes = read_bytes(&mut d, what, len)?;
    expect_end(&d)?;
    Ok(bytes)
}

/// Encodes `bytes` as a CBOR bytestring.
pub fn encode_bytestring(bytes: &[u8]) -> Vec<u8> {
    let mut e = Encoder::new(Vec::with_capacity(bytes.len() + 3));
    // Writing into a Vec is infallible.
    let _ = e.bytes(bytes);
    e.into_writer()
}

/// The content of an operational certificate file.
#[derive(Clone, PartialEq, Eq)]
pub struct OpCert {
    /// The hot KES verification key this certificate delegates to.
    pub kes_vkey: [u8; KES_VKEY_LEN],
    /// Issue counter: must grow with every new certificate of the pool.
    pub counter: u64,
    /// First KES period in which the certificate is valid.
    pub kes_period: u64,
    /// The cold key's Ed25519 signature over [`OpCert::signable`].
    pub sigma: [u8; SIGNATURE_LEN],
    /// The pool's cold verification key.
    pub cold_vkey: [u8; COLD_VKEY_LEN],
}

impl std::fmt::Debug for OpCert {
    // Public data, but keep dumps short and uniform with the rest of the module.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpCert")
            .field("counter", &self.counter)
            .field("kes_period", &self.kes_period)
            .finish_non_exhaustive()
    }
}

impl OpCert {
    /// The bytes the cold key signs (cardano-ledger `OCertSignable`): the raw KES verification key,
    /// then the counter and the start period, each as an 8-byte big-endian word. 48 bytes.
    pub fn signable(kes_vkey: &[u8; KES_VKEY_LEN], counter: u64, kes_period: u64) -> [u8; 48] {
        let mut out = [0u8; 48];
        out[..32].copy_from_slice(kes_vkey);
        out[32..40].copy_from_slice(&counter.to_be_bytes());
        out[40..].copy_from_slice(&kes_period.to_be_bytes());
        out
    }

    /// Decodes the `cborHex` payload of a `NodeOperationalCertificate`.
    pub fn from_cbor(cbor: &[u8]) -> Result<Self, EnvelopeError> {
        let mut d = Decoder::new(cbor);
        expect_array(&mut d, 2, "the certificate is not a 2-element array")?;
        expect_array(&mut d, 4, "the certificate body is not a 4-element array")?;
        let kes_vkey = read_array::<KES_VKEY_LEN>(&mut d, "KES verification key")?;
        let counter = read_u64(&mut d, "issue counter")?;
        let kes_period = read_u64(&mut d, "KES period")?;
        let sigma = read_array::<SIGNATURE_LEN>(&mut d, "cold key signature")?;
        let cold_vkey = read_array::<COLD_VKEY_LEN>(&mut d, "cold verification key")?;
        expect_end(&d)?;
        Ok(OpCert {
            kes_vkey,
            counter,
            kes_period,
            sigma,
            cold_vkey,
        })
    }

    /// Encodes the certificate as cardano-cli does (definite-length arrays, shortest integers).
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut e = Encoder::new(Vec::with_capacity(160));
        // Writing into a Vec is infallible; the chain only fails on writer errors.
        let _ = e
            .array(2)
            .and_then(|e| e.array(4))
            .and_then(|e| e.bytes(&self.kes_vkey))
            .and_then(|e| e.u64(self.counter))
            .and_then(|e| e.u64(self.kes_period))
            .and_then(|e| e.bytes(&self.sigma))
            .and_then(|e| e.bytes(&self.cold_vkey));
        e.into_writer()
    }
}

fn read_array<const N: usize>(
    d: &mut Decoder<'_>,
    what: &'static str,
) -> Result<[u8; N], EnvelopeError> {
    let bytes = read_bytes(d, what, N)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| EnvelopeError::WrongLength {
        what,
        found: bytes.len(),
        expected: N,
    })
}

fn expect_array(d: &mut Decoder<'_>, len: u64, what: &'static str) -> Result<(), EnvelopeError> {
    match d.array() {
        Ok(Some(n)) if n == len => Ok(()),
        _ => Err(EnvelopeError::BadCbor(what)),
    }
}

fn read_bytes(
    d: &mut Decoder<'_>,
    what: &'static str,
    len: usize,
) -> Result<Vec<u8>, EnvelopeError> {
    let bytes = d
        .bytes()
        .map_err(|_| EnvelopeError::BadCbor("expected a definite-length bytestring"))?;
    if bytes.len() != len {
        return Err(EnvelopeError::WrongLength {
            what,
            found: bytes.len(),
            expected: len,
        });
    }
    Ok(bytes.to_vec())
}

fn read_u64(d: &mut Decoder<'_>, what: &'static str) -> Result<u64, EnvelopeError> {
    match d.datatype() {
        Ok(Type::U8 | Type::U16 | Type::U32 | Type::U64) => {
            d.u64().map_err(|_| EnvelopeError::OutOfRange(what))
        }
        // Bignums (tag 2) and negative integers: not a counter or period a node accepts.
        Ok(Type::Tag | Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int) => {
            Err(EnvelopeError::OutOfRange(what))
        }
        _ => Err(EnvelopeError::BadCbor("expected an unsigned integer")),
    }
}

fn expect_end(d: &Decoder<'_>) -> Result<(), EnvelopeError> {
    if d.position() == d.input().len() {
        Ok(())
    } else {
        Err(EnvelopeError::BadCbor("trailing bytes after the payload"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the opcert wire format with hand-written CBOR, independent of the encoder.
    #[test]
    fn a_hand_written_opcert_decodes_and_re_encodes_byte_for_byte() {
        let mut cbor = vec![0x82, 0x84, 0x58, 0x20];
        cbor.extend([0x11; 32]); // KES vkey
        cbor.push(0x05); // counter 5
        cbor.extend([0x19, 0x01, 0x2c]); // KES period 300
        cbor.extend([0x58, 0x40]);
        cbor.extend([0x22; 64]); // sigma
        cbor.extend([0x58, 0x20]);
        cbor.extend([0x33; 32]); // cold vkey
        let cert = OpCert::from_cbor(&cbor).expect("decodes");
        assert_eq!(cert.kes_vkey, [0x11; 32]);
        assert_eq!(cert.counter, 5);
        assert_eq!(cert.kes_period, 300);
        assert_eq!(cert.sigma, [0x22; 64]);
        assert_eq!(cert.cold_vkey, [0x33; 32]);
        assert_eq!(cert.to_cbor(), cbor);
    }

    #[test]
    fn the_signed_bytes_are_the_kes_vkey_then_counter_and_period_as_big_endian_u64() {
        let s = OpCert::signable(&[0xab; 32], 5, 300);
        assert_eq!(&s[..32], &[0xab; 32]);
        assert_eq!(&s[32..40], &[0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&s[40..], &[0, 0, 0, 0, 0, 0, 0x01, 0x2c]);
    }

    #[test]
    fn malformed_opcerts_are_rejected_with_a_reason() {
        assert!(matches!(
            OpCert::from_cbor(&[0x80]),
            Err(EnvelopeError::BadCbor(_))
        ));
        let mut short = vec![0x82, 0x84, 0x58, 0x1f];
        short.extend([0; 31]);
        assert!(matches!(
            OpCert::from_cbor(&short),
            Err(EnvelopeError::WrongLength { found: 31, .. })
        ));
        // Counter as a bignum (tag 2): out of range, not silently truncated.
        let mut big = vec![0x82, 0x84, 0x58, 0x20];
        big.extend([0; 32]);
        big.extend([0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            OpCert::from_cbor(&big),
            Err(EnvelopeError::OutOfRange("issue counter"))
        );
    }

    #[test]
    fn envelopes_round_trip_and_check_their_type() {
        let file = encode_envelope(
            VRF_SKEY_TYPE,
            "VRF Signing Key",
            &encode_bytestring(&[7; 64]),
        );
        let text = String::from_utf8(file.clone()).unwrap_or_default();
        assert!(
            text.starts_with("{\n    \"type\": \"VrfSigningKey_PraosVRF\""),
            "{text}"
        );
        let cbor = decode_envelope(&file, VRF_SKEY_TYPE).expect("parses");
        assert_eq!(cbor[..2], [0x58, 0x40]);
        assert_eq!(decode_bytestring(&cbor, "VRF key", 64), Ok(vec![7; 64]));
        assert!(matches!(
            decode_envelope(&file, KES_SKEY_TYPE),
            Err(EnvelopeError::WrongType { .. })
        ));
        assert_eq!(
            decode_envelope(b"", KES_SKEY_TYPE),
            Err(EnvelopeError::Empty)
        );
        assert!(matches!(
            decode_envelope(&file[..file.len() / 2], VRF_SKEY_TYPE),
            Err(EnvelopeError::NotEnvelope(_))
        ));
    }
}
