//! The file's shape as serde reads it: one struct per table with `deny_unknown_fields`, and leaf
//! types that check their own grammar and range (a duration string, an integer in a range, a forge
//! state), so that a type or range error is reported by serde at its key path.
//!
//! Every key is optional here: what is required, and what depends on other keys (targets against
//! the declared regions, instants within the run), is checked by the caller, which knows what to
//! say about a missing key. serde's errors are turned into the contract's error variants by
//! [`from_serde`], which reads serde's stable message forms (`unknown field`, `invalid type`,
//! `invalid value`, `invalid length`).

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use forge_manager::config::duration::{parse_duration, parse_signed_duration};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, SeqAccess, Unexpected, Visitor};
use toml::{Table, Value};

use super::super::{ForgeState, InvalidScenario, MAX_EXPECTS, MAX_FAULTS, MAX_REGIONS};

pub(super) const DURATION_EXPECTED: &str = "a duration string like \"15s\"";
pub(super) const SIGNED_DURATION_EXPECTED: &str =
    "a signed duration string like \"-30s\" or \"2h\"";
const FORGE_STATE_EXPECTED: &str = "\"Enabled\", \"Disabled\" or \"Priority-based\"";

/// The top level of a file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub name: Option<String>,
    pub description: Option<String>,
    pub seed: Option<Int<0, { i64::MAX }>>,
    pub duration: Option<Dur>,
    pub network: Option<String>,
    pub pool: Option<String>,
    pub cluster_management: Option<Flag>,
    pub shared_api: Option<Flag>,
    pub slot_length: Option<Dur>,
    pub tick: Option<Dur>,
    pub timing: Option<RawTiming>,
    pub node: Option<RawNode>,
    pub region: Option<Tables<RawRegion>>,
    pub fault: Option<Tables<KindTable<FaultKind>>>,
    pub expect: Option<Tables<KindTable<ExpectKind>>>,
}

/// `[timing]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table [timing]")]
pub(super) struct RawTiming {
    pub lease_duration: Option<Dur>,
    pub renew_deadline: Option<Dur>,
    pub retry_period: Option<Dur>,
    pub health_interval: Option<Dur>,
    pub health_failure_threshold: Option<Int<1, 1_000>>,
    pub health_success_threshold: Option<Int<1, 1_000>>,
    pub failback_delay: Option<Dur>,
    pub api_latency: Option<Dur>,
}

/// `[node]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table [node]")]
pub(super) struct RawNode {
    pub startup: Option<Dur>,
    pub sighup_delay: Option<Dur>,
}

/// One `[[region]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawRegion {
    pub name: Option<String>,
    pub priority: Option<Int<1, 999>>,
    pub pods: Option<Int<1, 64>>,
    pub forge_state: Option<ForgeStateText>,
    pub healthy: Option<Flag>,
}

/// One `[[fault]]`, after its `kind` has chosen which of these keys it may hold
/// ([`super::events::fault_keys`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFault {
    pub at: Option<Dur>,
    #[serde(rename = "kind")]
    pub _kind: Option<String>,
    pub target: Option<String>,
    /// Read by hand: each item is a target with its own path (`between[1]`).
    pub between: Option<Value>,
    pub latency: Option<Dur>,
    #[serde(rename = "for")]
    pub for_: Option<Dur>,
    pub offset: Option<SignedMs>,
    pub ppm: Option<Int<-1_000_000, 1_000_000>>,
    pub healthy: Option<Flag>,
    pub period: Option<Dur>,
    pub until: Option<Dur>,
    /// Kept as TOML: it becomes the JSON merge patch, after [`RawSpec`] has checked it.
    pub spec: Option<Value>,
    pub lease: Option<String>,
    pub force: Option<Flag>,
    pub sighup_delay: Option<Dur>,
    pub answer: Option<String>,
    pub count: Option<Int<1, 1_000_000>>,
    pub retry_after: Option<Dur>,
}

/// One `[[expect]]`, after its `kind` has chosen its keys ([`super::events::expect_keys`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpect {
    #[serde(rename = "kind")]
    pub _kind: Option<String>,
    pub at: Option<Dur>,
    pub by: Option<Dur>,
    pub from: Option<Dur>,
    pub to: Option<Dur>,
    pub region: Option<String>,
    pub pod: Option<String>,
    pub none: Option<Flag>,
    /// A duration for `max-gap`, a count for the others: read once the kind is known.
    pub value: Option<Value>,
    pub min: Option<Fraction>,
    pub target: Option<String>,
    pub present: Option<Flag>,
}

/// A `patch` fault's `spec`: the CardanoForgeCluster spec keys a merge patch may set.
#[expect(
    dead_code,
    reason = "read only to check the spec; the patch itself is sent as JSON"
)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawSpec {
    pub forge_state: Option<ForgeStateText>,
    pub priority: Option<Int<1, 999>>,
    #[serde(rename = "override")]
    pub override_: Option<RawOverride>,
    pub health_check: Option<RawHealthCheck>,
}

/// `spec.override`.
#[expect(
    dead_code,
    reason = "read only to check the spec; the patch itself is sent as JSON"
)]
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a table [override]"
)]
pub(super) struct RawOverride {
    pub enabled: Option<Flag>,
    pub reason: Option<String>,
    pub expires_at: Option<Dur>,
    pub force_priority: Option<Int<1, 999>>,
    pub force_state: Option<ForceStateText>,
}

/// `spec.healthCheck`.
#[expect(
    dead_code,
    reason = "read only to check the spec; the patch itself is sent as JSON"
)]
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a table [healthCheck]"
)]
pub(super) struct RawHealthCheck {
    pub enabled: Option<Flag>,
    pub endpoint: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub failure_threshold: Option<Int<1, 10>>,
    pub headers: Option<std::collections::BTreeMap<String, String>>,
}

/// A leaf written as a string and parsed as it is read; `Err` says what was expected.
trait FromText: Sized {
    /// What the file should hold here, for serde's "expected …".
    const EXPECTED: &'static str;
    fn from_text(text: &str) -> Result<Self, String>;
}

/// The one visitor of every [`FromText`] leaf.
struct TextVisitor<T>(PhantomData<T>);

impl<T: FromText> Visitor<'_> for TextVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::EXPECTED)
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        T::from_text(text).map_err(|expected| invalid(text, &expected))
    }
}

/// `Deserialize` for [`FromText`] leaves (a blanket impl would overlap serde's own).
macro_rules! from_text {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(TextVisitor::<$t>(PhantomData))
            }
        }
    )*};
}

from_text!(Dur, SignedMs, ForgeStateText, ForceStateText);

/// A duration string (`"1m30s"`), parsed as it is read.
pub(super) struct Dur(pub Duration);

impl FromText for Dur {
    const EXPECTED: &'static str = DURATION_EXPECTED;
    fn from_text(text: &str) -> Result<Self, String> {
        parse_duration(text)
            .map(Dur)
            .map_err(|e| format!("{DURATION_EXPECTED}: {e}"))
    }
}

/// A signed duration string in milliseconds (`"-30s"` → -30000).
pub(super) struct SignedMs(pub i64);

impl FromText for SignedMs {
    const EXPECTED: &'static str = SIGNED_DURATION_EXPECTED;
    fn from_text(text: &str) -> Result<Self, String> {
        let (negative, magnitude) =
            parse_signed_duration(text).map_err(|e| format!("{SIGNED_DURATION_EXPECTED}: {e}"))?;
        let ms = i64::try_from(magnitude.as_millis())
            .map_err(|_| "a duration that fits in 64 bits".to_owned())?;
        Ok(SignedMs(if negative { -ms } else { ms }))
    }
}

/// An integer from `MIN` to `MAX`.
pub(super) struct Int<const MIN: i64, const MAX: i64>(pub i64);

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Int<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const MIN: i64, const MAX: i64>;
        impl<const MIN: i64, const MAX: i64> Visitor<'_> for V<MIN, MAX> {
            type Value = Int<MIN, MAX>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an integer from {MIN} to {MAX}")
            }
            fn visit_i64<E: de::Error>(self, i: i64) -> Result<Self::Value, E> {
                if (MIN..=MAX).contains(&i) {
                    Ok(Int(i))
                } else {
                    Err(E::invalid_value(Unexpected::Signed(i), &self))
                }
            }
            fn visit_u64<E: de::Error>(self, u: u64) -> Result<Self::Value, E> {
                match i64::try_from(u) {
                    Ok(i) => self.visit_i64(i),
                    Err(_) => Err(E::invalid_value(Unexpected::Unsigned(u), &self)),
                }
            }
        }
        d.deserialize_i64(V::<MIN, MAX>)
    }
}

impl<const MIN: i64, const MAX: i64> Int<MIN, MAX> {
    /// The value, known to be in `MIN..=MAX`, as a smaller or unsigned type.
    pub fn get<T: TryFrom<i64>>(&self, fallback: T) -> T {
        T::try_from(self.0).unwrap_or(fallback)
    }
}

/// `true` or `false`.
pub(super) struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true or false")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Flag, E> {
                Ok(Flag(b))
            }
        }
        d.deserialize_bool(V)
    }
}

/// A fraction from 0 to 1 (`0.99`, or the integers 0 and 1).
pub(super) struct Fraction(pub f64);

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Fraction;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a fraction from 0 to 1, e.g. 0.99")
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> Result<Fraction, E> {
                if (0.0..=1.0).contains(&f) {
                    Ok(Fraction(f))
                } else {
                    Err(E::invalid_value(Unexpected::Float(f), &self))
                }
            }
            fn visit_i64<E: de::Error>(self, i: i64) -> Result<Fraction, E> {
                match i {
                    0 => Ok(Fraction(0.0)),
                    1 => Ok(Fraction(1.0)),
                    _ => Err(E::invalid_value(Unexpected::Signed(i), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A forge state as files and the CRD spell it.
pub(super) struct ForgeStateText(pub ForgeState);

impl FromText for ForgeStateText {
    const EXPECTED: &'static str = FORGE_STATE_EXPECTED;
    fn from_text(text: &str) -> Result<Self, String> {
        ForgeState::parse(text)
            .map(ForgeStateText)
            .ok_or_else(|| FORGE_STATE_EXPECTED.to_owned())
    }
}

/// An override's `forceState`: only the two definite states.
pub(super) struct ForceStateText;

impl FromText for ForceStateText {
    const EXPECTED: &'static str = "\"Enabled\" or \"Disabled\"";
    fn from_text(text: &str) -> Result<Self, String> {
        match text {
            "Enabled" | "Disabled" => Ok(ForceStateText),
            _ => Err(Self::EXPECTED.to_owned()),
        }
    }
}

/// An array of tables (`[[region]]`) of at most `T::LIMIT` items.
pub(super) struct Tables<T>(pub Vec<T>);

/// What an array of tables is called in the file, and how many it may hold.
pub(super) trait TableArray {
    const KEY: &'static str;
    const LIMIT: usize;
}

impl TableArray for RawRegion {
    const KEY: &'static str = "region";
    const LIMIT: usize = MAX_REGIONS;
}

impl<'de, T: Deserialize<'de> + TableArray> Deserialize<'de> for Tables<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + TableArray> Visitor<'de> for V<T> {
            type Value = Tables<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an array of tables [[{}]]", T::KEY)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tables<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    if items.len() == T::LIMIT {
                        let limit = format!("at most {} [[{}]] tables", T::LIMIT, T::KEY);
                        return Err(de::Error::invalid_length(items.len() + 1, &limit.as_str()));
                    }
                    items.push(item);
                }
                Ok(Tables(items))
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

/// Which array a [`KindTable`] belongs to.
pub(super) struct FaultKind;
/// Which array a [`KindTable`] belongs to.
pub(super) struct ExpectKind;

/// One `[[fault]]` or `[[expect]]` table, kept whole: its `kind` decides which keys it may hold,
/// and serde's internally tagged enums would buffer it and lose the key paths of its errors.
pub(super) struct KindTable<K>(pub Table, PhantomData<K>);

impl TableArray for KindTable<FaultKind> {
    const KEY: &'static str = "fault";
    const LIMIT: usize = MAX_FAULTS;
}

impl TableArray for KindTable<ExpectKind> {
    const KEY: &'static str = "expect";
    const LIMIT: usize = MAX_EXPECTS;
}

impl<'de, K> Deserialize<'de> for KindTable<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Table(table) => Ok(KindTable(table, PhantomData)),
            other => Err(de::Error::invalid_type(unexpected(&other), &"a table")),
        }
    }
}

/// How serde names a TOML value it did not expect.
fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::String(s) => Unexpected::Str(s),
        Value::Integer(i) => Unexpected::Signed(*i),
        Value::Float(f) => Unexpected::Float(*f),
        Value::Boolean(b) => Unexpected::Bool(*b),
        Value::Datetime(_) => Unexpected::Other("datetime"),
        Value::Array(_) => Unexpected::Seq,
        Value::Table(_) => Unexpected::Map,
    }
}

fn invalid<E: de::Error>(text: &str, expected: &str) -> E {
    E::invalid_value(Unexpected::Str(text), &expected)
}

/// Reads `value` as `T` with serde; errors carry `prefix` and the path below it.
pub(super) fn read<T: DeserializeOwned>(
    file: &str,
    prefix: &str,
    value: Value,
) -> Result<T, InvalidScenario> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let below = e.path().to_string();
        let path = match (prefix.is_empty(), below.as_str()) {
            (_, ".") => prefix.to_owned(),
            (true, _) => below,
            (false, _) if below.starts_with('[') => format!("{prefix}{below}"),
            (false, _) => format!("{prefix}.{below}"),
        };
        from_serde(file, path, e.into_inner().message())
    })
}

/// serde's message at `path` as the contract's error: an unknown key with the keys allowed there,
/// or a bad value with what was expected and what was found.
pub(super) fn from_serde(file: &str, path: String, message: &str) -> InvalidScenario {
    let file = file.to_owned();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let allowed = rest
            .split_once(", expected ")
            .map_or("", |(_, list)| list)
            .trim_start_matches("one of ")
            .replace(" or ", ", ")
            .replace('`', "");
        return InvalidScenario::UnknownKey {
            file,
            line: None,
            path,
            allowed,
        };
    }
    let found_expected = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split_once(", expected "))
        .map(|(found, expected)| (found_text(found), expected.to_owned()))
        .or_else(|| {
            let rest = message.strip_prefix("invalid length ")?;
            let (n, expected) = rest.split_once(", expected ")?;
            Some((n.to_owned(), expected.to_owned()))
        });
    let (found, expected) =
        found_expected.unwrap_or_else(|| ("something else".to_owned(), message.to_owned()));
    InvalidScenario::BadValue {
        file,
        line: None,
        path,
        expected,
        found,
    }
}

/// serde's `Unexpected` wording in the contract's: `integer 15`, `"text"`, `a table`.
fn found_text(serde: &str) -> String {
    if let Some(s) = serde.strip_prefix("string ") {
        return s.to_owned();
    }
    let plain = serde.replace('`', "");
    if let Some(f) = plain.strip_prefix("floating point ") {
        return format!("float {f}");
    }
    match plain.as_str() {
        "map" => "a table".to_owned(),
        "sequence" => "an array".to_owned(),
        _ => plain,
    }
}
