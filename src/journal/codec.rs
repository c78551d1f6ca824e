//! How one record is stored: a flat **head** (JSON object of every scalar field: seq, times, who,
//! kind, role, forging, reason, message) in table `record_heads`, and a **body** (JSON object of
//! the nested `inputs` and `actions`) in table `record_bodies`, both keyed by seq.
//!
//! Filters (`--pod`, `--kind`, …), listings, `explain` and retention read and parse only heads
//! (about a third of the bytes), so scanning a million records neither reads every `inputs` from
//! disk nor builds a million `inputs` trees; bodies are fetched for matches only. Concatenating the
//! head (without its closing brace) and the body (without its opening brace) gives the record's
//! JSON exactly as `serde_json` writes a [`JournalRecord`], so `export` streams stored bytes.
//!
//! Since format v3 heads and bodies are stored compressed when that makes them smaller (see
//! [`Packing`]): an LZ4 block against a fixed dictionary of typical sidecar heads or bodies.
//! Records repeat the same keys and values record after record, so on the simulator's journals
//! a body shrinks 4-7× and a head 2-6× on its own, and the journal keeps that much more history
//! within `max_bytes` and reads that many fewer pages. A stored value that starts with `{` is
//! plain JSON (every v1/v2 value, and any the dictionary does not shrink), so old files need no
//! rewrite. Callers unpack a head with [`head_json`] before [`head`]; [`decode`] and
//! [`write_json`] take stored bytes or JSON alike.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::record::{ActionRecord, JournalRecord, RecordKind};
use crate::core::reason::Reason;

/// How a stored value is packed when compression makes it smaller: a tag byte, the JSON's
/// length (u32, little end), and an LZ4 block compressed against the tag's dictionary. A stored
/// value that starts with `{` is plain JSON.
struct Packing {
    /// Stored: never reuse a tag for another dictionary.
    tag: u8,
    /// Stored format: never edit (a test pins the digests); a better dictionary gets a new tag.
    dict: &'static [u8],
}

/// Heads: tag 1, a dictionary of the sidecar's common heads (kinds, roles, reasons, messages).
const HEADS_1: Packing = Packing {
    tag: 1,
    dict: include_bytes!("head_dict_1.json"),
};

/// Bodies: tag 1, a dictionary of the sidecar's common bodies (inputs and actions), as the
/// simulator's scenario suite wrote them on 2026-11-26.
const BODIES_1: Packing = Packing {
    tag: 1,
    dict: include_bytes!("body_dict_1.json"),
};

/// A stored value longer than this is refused as damaged (the sidecar writes about 1 KiB)
/// rather than allocated.
const MAX_STORED: usize = 16 << 20;

/// Packs `json`: compressed when that is smaller, else as it is.
fn pack(json: Vec<u8>, p: &Packing) -> Vec<u8> {
    let Ok(len) = u32::try_from(json.len()) else {
        return json;
    };
    let block = lz4_flex::block::compress_with_dict(&json, p.dict);
    if block.len() + 5 >= json.len() {
        return json;
    }
    let mut out = Vec::with_capacity(block.len() + 5);
    out.push(p.tag);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&block);
    out
}

/// The JSON of a stored value (see [`Packing`]).
fn unpack<'a>(stored: &'a [u8], p: &Packing) -> Result<Cow<'a, [u8]>, StoredError> {
    match stored.first() {
        Some(b'{') => Ok(Cow::Borrowed(stored)),
        Some(&t) if t == p.tag => {
            let len: [u8; 4] = stored
                .get(1..5)
                .and_then(|b| b.try_into().ok())
                .ok_or(StoredError("compressed value shorter than its header"))?;
            let len = u32::from_le_bytes(len) as usize;
            if len > MAX_STORED {
                return Err(StoredError("compressed value claims an implausible length"));
            }
            let json = lz4_flex::block::decompress_with_dict(&stored[5..], len, p.dict)
                .map_err(|_| StoredError("compressed value does not decompress"))?;
            if json.len() != len {
                return Err(StoredError("compressed value has the wrong length"));
            }
            Ok(Cow::Owned(json))
        }
        _ => Err(StoredError(
            "stored value is neither JSON nor a known encoding",
        )),
    }
}

/// The JSON of a stored head.
pub(crate) fn head_json(stored: &[u8]) -> Result<Cow<'_, [u8]>, StoredError> {
    unpack(stored, &HEADS_1)
}

/// The JSON of a stored body.
pub(crate) fn body_json(stored: &[u8]) -> Result<Cow<'_, [u8]>, StoredError> {
    unpack(stored, &BODIES_1)
}

/// A stored head or body that cannot be turned back into JSON (a damaged file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredError(&'static str);

impl std::fmt::Display for StoredError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for StoredError {}

#[derive(Serialize)]
struct HeadOut<'a> {
    seq: u64,
    mono_ms: u64,
    wall: &'a str,
    pool: &'a str,
    network: &'a str,
    region: &'a str,
    pod: &'a str,
    node_pid: Option<u32>,
    kind: RecordKind,
    role: &'a str,
    forging: bool,
    reason: Reason,
    message: &'a str,
}

#[derive(Serialize)]
struct BodyOut<'a> {
    inputs: &'a serde_json::Value,
    actions: &'a [ActionRecord],
}

#[derive(Deserialize)]
struct HeadIn {
    seq: u64,
    mono_ms: u64,
    wall: String,
    pool: String,
    network: String,
    region: String,
    pod: String,
    node_pid: Option<u32>,
    kind: RecordKind,
    role: String,
    forging: bool,
    reason: Reason,
    message: String,
}

#[derive(Deserialize)]
struct BodyIn {
    #[serde(default)]
    inputs: serde_json::Value,
    #[serde(default)]
    actions: Vec<ActionRecord>,
}

/// A body read without its `inputs` (skipped by the parser, never built as a tree).
#[derive(Deserialize)]
struct ActionsIn {
    #[serde(default)]
    actions: Vec<ActionRecord>,
}

/// The fields filters, listings, `explain` and retention need, borrowed from the stored head.
#[derive(Debug, Deserialize)]
pub(crate) struct RecordHead<'a> {
    #[serde(borrow)]
    pub wall: Cow<'a, str>,
    #[serde(borrow)]
    pub pod: Cow<'a, str>,
    #[serde(borrow)]
    pub region: Cow<'a, str>,
    #[serde(borrow)]
    pub role: Cow<'a, str>,
    pub kind: RecordKind,
    pub reason: Reason,
}

/// Encodes a record for storage: (head, body).
pub(crate) fn encode(r: &JournalRecord) -> Result<(Vec<u8>, Vec<u8>), serde_json::Error> {
    let head = serde_json::to_vec(&HeadOut {
        seq: r.seq,
        mono_ms: r.mono_ms,
        wall: &r.wall,
        pool: &r.pool,
        network: &r.network,
        region: &r.region,
        pod: &r.pod,
        node_pid: r.node_pid,
        kind: r.kind,
        role: &r.role,
        forging: r.forging,
        reason: r.reason,
        message: &r.message,
    })?;
    let body = serde_json::to_vec(&BodyOut {
        inputs: &r.inputs,
        actions: &r.actions,
    })?;
    Ok((pack(head, &HEADS_1), pack(body, &BODIES_1)))
}

/// Parses only the head, from its JSON (see [`head_json`]).
pub(crate) fn head(json: &[u8]) -> Result<RecordHead<'_>, serde_json::Error> {
    serde_json::from_slice(json)
}

/// Decodes the whole record.
pub(crate) fn decode(head: &[u8], body: &[u8]) -> Result<JournalRecord, serde_json::Error> {
    decode_with(head, body, true)
}

/// Decodes the record, with `inputs` left null unless `with_inputs`: building the inputs tree
/// is most of the cost of a record (the core's inputs are about 2 KB of nested JSON).
pub(crate) fn decode_with(
    head: &[u8],
    body: &[u8],
    with_inputs: bool,
) -> Result<JournalRecord, serde_json::Error> {
    let bad = <serde_json::Error as serde::de::Error>::custom;
    let h: HeadIn = serde_json::from_slice(&head_json(head).map_err(bad)?)?;
    let body = body_json(body).map_err(bad)?;
    let b = if with_inputs {
        serde_json::from_slice::<BodyIn>(&body)?
    } else {
        let a: ActionsIn = serde_json::from_slice(&body)?;
        BodyIn {
            inputs: serde_json::Value::Null,
            actions: a.actions,
        }
    };
    Ok(JournalRecord {
        seq: h.seq,
        mono_ms: h.mono_ms,
        wall: h.wall,
        pool: h.pool,
        network: h.network,
        region: h.region,
        pod: h.pod,
        node_pid: h.node_pid,
        kind: h.kind,
        role: h.role,
        forging: h.forging,
        reason: h.reason,
        message: h.message,
        inputs: b.inputs,
        actions: b.actions,
    })
}

/// Writes the record's JSON (as `serde_json` writes a [`JournalRecord`]) without decoding it.
pub(crate) fn write_json(
    head: &[u8],
    body: &[u8],
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let head = head_json(head).map_err(std::io::Error::other)?;
    let body = body_json(body).map_err(std::io::Error::other)?;
    let ok = head.len() >= 2 && head.ends_with(b"}") && body.len() >= 2 && body.starts_with(b"{");
    if !ok {
        return Err(std::io::Error::other(
            "stored record is not two JSON objects",
        ));
    }
    out.write_all(&head[..head.len() - 1])?;
    out.write_all(b",")?;
    out.write_all(&body[1..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::demo::stress_record;

    #[test]
    fn a_record_round_trips_and_its_raw_json_equals_serde_json_output() {
        let mut r = stress_record(1, 1_795_600_800_000);
        r.seq = 2;
        let (h, b) = encode(&r).expect("encode");
        assert_eq!(decode(&h, &b).expect("decode"), r);
        let mut raw = Vec::new();
        write_json(&h, &b, &mut raw).expect("raw");
        assert_eq!(raw, serde_json::to_vec(&r).expect("serde_json"));
        let json = head_json(&h).expect("head json");
        let h = head(&json).expect("head");
        assert_eq!((h.pod.as_ref(), h.kind), ("bp-1", RecordKind::Action));
    }

    /// The dictionaries are part of the stored format: files written with it must stay readable.
    #[test]
    fn the_dictionaries_never_change() {
        use sha2::Digest;
        let digest = |p: &Packing| hex::encode(sha2::Sha256::digest(p.dict));
        assert_eq!(
            digest(&BODIES_1),
            "60fa84c9f5f4fb98f03634f66c50ca36c36f6df87df9b8df11c6d2e211f64c25"
        );
        assert_eq!(
            digest(&HEADS_1),
            "1c234a36f1a13b5c8d384cdf9e8b24dd88133022d092bf0678668df27682484d"
        );
    }

    #[test]
    fn a_typical_body_is_stored_compressed_and_a_plain_json_body_still_reads() {
        let mut r = stress_record(7, 1_795_600_800_000);
        r.seq = 8;
        let (h, stored) = encode(&r).expect("encode");
        let json = serde_json::to_vec(&BodyOut {
            inputs: &r.inputs,
            actions: &r.actions,
        })
        .expect("json");
        assert_eq!(stored[0], BODIES_1.tag);
        assert_eq!(h[0], HEADS_1.tag, "the head is compressed too");
        // 2.8x on a record with `inputs.core` (the dictionaries predate it; 4-7x without it).
        assert!(
            stored.len() * 5 < json.len() * 2,
            "{} stored bytes for {} of JSON",
            stored.len(),
            json.len()
        );
        assert_eq!(body_json(&stored).expect("body").as_ref(), json.as_slice());
        // A v1/v2 record (plain JSON) decodes and streams the same.
        let plain_head = head_json(&h).expect("head").into_owned();
        assert_eq!(plain_head[0], b'{');
        assert_eq!(decode(&plain_head, &json).expect("plain"), r);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write_json(&plain_head, &json, &mut a).expect("plain raw");
        write_json(&h, &stored, &mut b).expect("compressed raw");
        assert_eq!(a, b);
        // A body the dictionary cannot shrink is stored as it is.
        let tiny = pack(b"{}".to_vec(), &BODIES_1);
        assert_eq!(tiny, b"{}");
    }

    #[test]
    fn a_damaged_compressed_body_is_an_error_not_a_panic() {
        let r = stress_record(3, 1_795_600_800_000);
        let (h, stored) = encode(&r).expect("encode");
        let mut bad: Vec<Vec<u8>> = vec![
            vec![BODIES_1.tag],
            vec![BODIES_1.tag, 1, 0],
            vec![BODIES_1.tag, 0xff, 0xff, 0xff, 0xff, 0],
            vec![9, 1, 2, 3],
            stored[..stored.len() / 2].to_vec(),
        ];
        // A wrong length, and flipped bits in the block.
        let mut wrong_len = stored.clone();
        wrong_len[1] = wrong_len[1].wrapping_add(1);
        bad.push(wrong_len);
        for i in (5..stored.len()).step_by(7) {
            let mut flipped = stored.clone();
            flipped[i] ^= 0x5a;
            bad.push(flipped);
        }
        let mut errors = 0;
        for b in &bad {
            // Some flips land in a literal and still decompress: then the JSON may parse or not,
            // but nothing panics and a failure is an error.
            if body_json(b).is_err() {
                errors += 1;
                assert!(decode(&h, b).is_err());
                assert!(write_json(&h, b, &mut Vec::new()).is_err());
            }
        }
        assert!(
            errors >= 6,
            "only {errors} of {} damaged bodies refused",
            bad.len()
        );
    }

    #[test]
    fn a_damaged_stored_value_is_a_decode_error_not_a_panic() {
        for bad in [&b""[..], &b"{"[..], &[0, 0, 0, 0][..]] {
            assert!(decode(bad, b"{}").is_err());
            assert!(head_json(bad).is_err() || head(bad).is_err());
            assert!(write_json(bad, b"{}", &mut Vec::new()).is_err());
        }
    }
}
