//! Request bodies in Kubernetes' protobuf encoding, for the built-in kinds this server stores.
//!
//! kubectl's typed commands (`kubectl create namespace`) send built-in objects as
//! `application/vnd.kubernetes.protobuf`: the magic `k8s\0`, then a `runtime.Unknown` whose
//! `raw` holds the object's message. A real API server decodes it; client-go falls back to JSON
//! after a 415 only for CBOR, so refusing it would leave kubectl with an error. This module reads
//! the protobuf wire format far enough to turn a Namespace into the JSON the rest of the server
//! handles: its name, generateName, labels and annotations (the fields the create path keeps).
//! Anything else is a clear 415 naming what is understood.
//!
//! Field numbers: `k8s.io/apimachinery/pkg/runtime/generated.proto` (Unknown, TypeMeta),
//! `k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto` (ObjectMeta), `k8s.io/api/core/v1`
//! (Namespace).

use serde_json::{Map, Value, json};

/// The media type of the encoding.
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// The envelope's magic prefix.
const MAGIC: &[u8] = b"k8s\0";

/// One field of a message: its number and its value.
#[derive(Debug, PartialEq)]
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// A fixed 32- or 64-bit value (not used by the messages read here).
    Fixed,
}

/// The fields of a message, in order; `Err` on malformed input.
fn fields(mut buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let (number, wire) = (key >> 3, key & 7);
        let field = match wire {
            0 => Field::Varint(varint(&mut buf)?),
            2 => {
                let len = usize::try_from(varint(&mut buf)?).map_err(|_| "length too large")?;
                if len > buf.len() {
                    return Err(format!(
                        "field {number}: length {len} past the end of the message"
                    ));
                }
                let (value, rest) = buf.split_at(len);
                buf = rest;
                Field::Bytes(value)
            }
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                buf = buf.get(n..).ok_or("a fixed field past the end")?;
                Field::Fixed
            }
            other => return Err(format!("field {number}: unsupported wire type {other}")),
        };
        out.push((number, field));
    }
    Ok(out)
}

/// Reads one base-128 varint.
fn varint(buf: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().ok_or("a varint past the end")?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("a varint longer than 10 bytes".into())
}

/// The bytes of field `number` (the last occurrence, as protobuf merges).
fn bytes<'a>(fields: &[(u64, Field<'a>)], number: u64) -> Option<&'a [u8]> {
    fields.iter().rev().find_map(|(n, f)| match f {
        Field::Bytes(b) if *n == number => Some(*b),
        _ => None,
    })
}

fn text(fields: &[(u64, Field<'_>)], number: u64) -> Result<Option<String>, String> {
    bytes(fields, number)
        .map(|b| String::from_utf8(b.to_vec()).map_err(|_| format!("field {number}: not UTF-8")))
        .transpose()
}

/// A `map<string, string>` field: repeated entries of (1 key, 2 value).
fn string_map(fields: &[(u64, Field<'_>)], number: u64) -> Result<Map<String, Value>, String> {
    let mut map = Map::new();
    for (n, f) in fields {
        if let (true, Field::Bytes(entry)) = (*n == number, f) {
            let entry = self::fields(entry)?;
            let key = text(&entry, 1)?.unwrap_or_default();
            let value = text(&entry, 2)?.unwrap_or_default();
            map.insert(key, Value::String(value));
        }
    }
    Ok(map)
}

/// The JSON of a protobuf-encoded request body, for the kinds this server decodes (Namespace).
pub fn decode_object(body: &[u8]) -> Result<Value, String> {
    let unknown = body
        .strip_prefix(MAGIC)
        .ok_or("not a Kubernetes protobuf envelope (no k8s\\0 prefix)")?;
    let unknown = fields(unknown)?;
    let type_meta = fields(bytes(&unknown, 1).unwrap_or_default())?;
    let api_version = text(&type_meta, 1)?.unwrap_or_default();
    let kind = text(&type_meta, 2)?.unwrap_or_default();
    if let Some(encoding) = text(&unknown, 3)?.filter(|e| !e.is_empty()) {
        return Err(format!("content encoding {encoding:?} is not supported"));
    }
    if (api_version.as_str(), kind.as_str()) != ("v1", "Namespace") {
        return Err(format!(
            "protobuf is decoded for v1 Namespace only, not {api_version} {kind}: send application/json"
        ));
    }
    let object = fields(bytes(&unknown, 2).unwrap_or_default())?;
    let meta = fields(bytes(&object, 1).unwrap_or_default())?;
    let mut metadata = Map::new();
    for (number, key) in [(1, "name"), (2, "generateName")] {
        if let Some(v) = text(&meta, number)?.filter(|v| !v.is_empty()) {
            metadata.insert(key.into(), Value::String(v));
        }
    }
    for (number, key) in [(11, "labels"), (12, "annotations")] {
        let map = string_map(&meta, number)?;
        if !map.is_empty() {
            metadata.insert(key.into(), Value::Object(map));
        }
    }
    Ok(json!({ "apiVersion": api_version, "kind": kind, "metadata": metadata }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What kubectl 1.33 sends for `kubectl create namespace foo` (from `-v=9`).
    const KUBECTL_CREATE_NAMESPACE_FOO: &[u8] = &[
        0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x09, 0x4e, 0x61, 0x6d,
        0x65, 0x73, 0x70, 0x61, 0x63, 0x65, 0x12, 0x1b, 0x0a, 0x13, 0x0a, 0x03, 0x66, 0x6f, 0x6f,
        0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12,
        0x00, 0x1a, 0x02, 0x0a, 0x00, 0x1a, 0x00, 0x22, 0x00,
    ];

    #[test]
    fn kubectls_namespace_decodes_to_its_json() {
        assert_eq!(
            decode_object(KUBECTL_CREATE_NAMESPACE_FOO).expect("decode"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foo"}})
        );
    }

    /// A field as protobuf writes it: key, then (for bytes) a length.
    fn field(number: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2, u8::try_from(value.len()).expect("short")];
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn labels_and_annotations_are_kept() {
        let entry = |k: &str, v: &str| [field(1, k.as_bytes()), field(2, v.as_bytes())].concat();
        let meta = [
            field(1, b"ops"),
            field(11, &entry("team", "pool")),
            field(11, &entry("env", "lab")),
            field(12, &entry("note", "x")),
        ]
        .concat();
        let type_meta = [field(1, b"v1"), field(2, b"Namespace")].concat();
        let body = [
            MAGIC.to_vec(),
            field(1, &type_meta),
            field(2, &field(1, &meta)),
        ]
        .concat();
        assert_eq!(
            decode_object(&body).expect("decode"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {
                "name": "ops",
                "labels": {"team": "pool", "env": "lab"},
                "annotations": {"note": "x"}
            }})
        );
    }

    #[test]
    fn other_kinds_and_malformed_bodies_are_errors_not_guesses() {
        let type_meta = [field(1, b"v1"), field(2, b"Secret")].concat();
        let secret = [MAGIC.to_vec(), field(1, &type_meta)].concat();
        let cases: [(&str, &[u8], &str); 4] = [
            ("json", b"{}", "no k8s\\0 prefix"),
            ("secret", &secret, "v1 Namespace only, not v1 Secret"),
            (
                "cut short",
                &KUBECTL_CREATE_NAMESPACE_FOO[..20],
                "past the end",
            ),
            ("bad wire type", b"k8s\0\x0f", "unsupported wire type 7"),
        ];
        for (name, body, expected) in cases {
            let err = decode_object(body).expect_err(name);
            assert!(err.contains(expected), "{name}: {err}");
        }
    }
}
