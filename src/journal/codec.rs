//! How one record is stored: `[head length: u32 LE][head JSON][body JSON]`.
//!
//! The head holds every scalar field (seq, times, who, kind, role, forging, reason, message); the
//! body holds the nested `inputs` and `actions`. Filters (`--pod`, `--kind`, …), listings and
//! retention parse only the small flat head, so scanning a million records does not build a
//! million `inputs` trees. Concatenating the head (without its closing brace) and the body
//! (without its opening brace) gives the record's JSON exactly as `serde_json` writes a
//! [`JournalRecord`], so `export` streams stored bytes without decoding them.

use std::borrow::Cow;

use serde::de::Error as _;
use serde::{Deserialize, Serialize};

use super::record::{ActionRecord, JournalRecord, RecordKind};
use crate::core::reason::Reason;

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

/// Encodes a record for storage.
pub(crate) fn encode(r: &JournalRecord) -> Result<Vec<u8>, serde_json::Error> {
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
    let head_len = u32::try_from(head.len())
        .map_err(|_| serde_json::Error::custom("record head longer than 4 GiB"))?;
    let mut out = Vec::with_capacity(4 + head.len() + body.len());
    out.extend_from_slice(&head_len.to_le_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&body);
    Ok(out)
}

fn split(bytes: &[u8]) -> Result<(&[u8], &[u8]), serde_json::Error> {
    let bad = || serde_json::Error::custom("stored record shorter than its head length");
    let len_bytes: [u8; 4] = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let head_len = u32::from_le_bytes(len_bytes) as usize;
    let head = bytes.get(4..4 + head_len).ok_or_else(bad)?;
    let body = bytes.get(4 + head_len..).ok_or_else(bad)?;
    Ok((head, body))
}

/// Parses only the head.
pub(crate) fn head(bytes: &[u8]) -> Result<RecordHead<'_>, serde_json::Error> {
    serde_json::from_slice(split(bytes)?.0)
}

/// Decodes the whole record.
pub(crate) fn decode(bytes: &[u8]) -> Result<JournalRecord, serde_json::Error> {
    let (head, body) = split(bytes)?;
    let h: HeadIn = serde_json::from_slice(head)?;
    let b: BodyIn = serde_json::from_slice(body)?;
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
pub(crate) fn write_json(bytes: &[u8], out: &mut impl std::io::Write) -> std::io::Result<()> {
    let (head, body) = split(bytes).map_err(std::io::Error::other)?;
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
        let bytes = encode(&r).expect("encode");
        assert_eq!(decode(&bytes).expect("decode"), r);
        let mut raw = Vec::new();
        write_json(&bytes, &mut raw).expect("raw");
        assert_eq!(raw, serde_json::to_vec(&r).expect("serde_json"));
        let h = head(&bytes).expect("head");
        assert_eq!((h.pod.as_ref(), h.kind), ("bp-1", RecordKind::Action));
    }

    #[test]
    fn a_damaged_stored_value_is_a_decode_error_not_a_panic() {
        for bad in [&b""[..], &[9, 0, 0, 0, b'{'][..], &[0, 0, 0, 0][..]] {
            assert!(decode(bad).is_err());
            assert!(head(bad).is_err());
            assert!(write_json(bad, &mut Vec::new()).is_err());
        }
    }
}
