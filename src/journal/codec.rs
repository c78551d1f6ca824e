//! How one record is stored: a flat **head** (JSON object of every scalar field: seq, times, who,
//! kind, role, forging, reason, message) in table `record_heads`, and a **body** (JSON object of
//! the nested `inputs` and `actions`) in table `record_bodies`, both keyed by seq.
//!
//! Filters (`--pod`, `--kind`, …), listings, `explain` and retention read and parse only heads
//! (about a third of the bytes), so scanning a million records neither reads every `inputs` from
//! disk nor builds a million `inputs` trees; bodies are fetched for matches only. Concatenating the
//! head (without its closing brace) and the body (without its opening brace) gives the record's
//! JSON exactly as `serde_json` writes a [`JournalRecord`], so `export` streams stored bytes.

use std::borrow::Cow;

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
    Ok((head, body))
}

/// Parses only the head.
pub(crate) fn head(head: &[u8]) -> Result<RecordHead<'_>, serde_json::Error> {
    serde_json::from_slice(head)
}

/// Decodes the whole record.
pub(crate) fn decode(head: &[u8], body: &[u8]) -> Result<JournalRecord, serde_json::Error> {
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
pub(crate) fn write_json(
    head: &[u8],
    body: &[u8],
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
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
        let h = head(&h).expect("head");
        assert_eq!((h.pod.as_ref(), h.kind), ("bp-1", RecordKind::Action));
    }

    #[test]
    fn a_damaged_stored_value_is_a_decode_error_not_a_panic() {
        for bad in [&b""[..], &b"{"[..], &[0, 0, 0, 0][..]] {
            assert!(decode(bad, b"{}").is_err());
            assert!(head(bad).is_err());
            assert!(write_json(bad, b"{}", &mut Vec::new()).is_err());
        }
    }
}
