//! The object store: every object in memory, keyed deterministically (BTreeMap), one global
//! resourceVersion counter, deterministic uids, a bounded history of watch events, and optional
//! persistence to a JSON file written atomically after each change.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Key of one object: group, plural, namespace (empty when cluster-scoped), name.
pub type ObjectKey = (String, String, String, String);

/// Watch event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// Object created.
    Added,
    /// Object changed.
    Modified,
    /// Object removed.
    Deleted,
}

/// One change, as kept in the history and sent to watchers.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// resourceVersion of the change.
    pub resource_version: u64,
    /// Group of the object.
    pub group: String,
    /// Plural of the object.
    pub plural: String,
    /// Namespace of the object (empty when cluster-scoped).
    pub namespace: String,
    /// What happened.
    pub type_: EventType,
    /// The object after the change (before it, for DELETED, with the new resourceVersion).
    pub object: Value,
    /// The object as stored before the change (none for ADDED): what a list at an older
    /// resourceVersion needs to undo the change, as etcd keeps every revision until compaction.
    pub previous: Option<bytes::Bytes>,
}

/// Errors of the store's persistence.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state file exists but cannot be read.
    #[error("reading state file {path} failed")]
    ReadStateFile {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The state file is not valid JSON of the expected shape.
    #[error("parsing state file {path} failed")]
    ParseStateFile {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// Writing the state file (temporary file, then rename) failed.
    #[error("writing state file {path} failed")]
    WriteStateFile {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// What the state file holds.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Persisted {
    resource_version: u64,
    uid_counter: u64,
    objects: Vec<PersistedObject>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PersistedObject {
    group: String,
    plural: String,
    object: Value,
}

/// The in-memory object store.
#[derive(Debug)]
pub struct Store {
    /// Every object, by key.
    objects: BTreeMap<ObjectKey, Stored>,
    /// Last resourceVersion handed out (global, monotonic).
    resource_version: u64,
    /// Last uid counter handed out.
    uid_counter: u64,
    /// Recent events, oldest first.
    history: VecDeque<Event>,
    /// Every event with a resourceVersion above this is in `history`.
    history_floor: u64,
    /// Most events kept in `history`.
    history_limit: usize,
    /// Where to persist, if anywhere.
    state_file: Option<PathBuf>,
    /// Bumped on every change to a CustomResourceDefinition: the served types are cached on it.
    crd_generation: u64,
}

impl Store {
    /// An empty store, or the one saved in `state_file` when that file exists.
    pub fn open(state_file: Option<PathBuf>, history_limit: usize) -> Result<Self, StoreError> {
        let mut store = Self {
            objects: BTreeMap::new(),
            resource_version: 0,
            uid_counter: 0,
            history: VecDeque::new(),
            history_floor: 0,
            history_limit: history_limit.max(1),
            state_file,
            crd_generation: 0,
        };
        if let Some(path) = store.state_file.clone()
            && path.exists()
        {
            let text =
                std::fs::read_to_string(&path).map_err(|source| StoreError::ReadStateFile {
                    path: path.clone(),
                    source,
                })?;
            let persisted: Persisted =
                serde_json::from_str(&text).map_err(|source| StoreError::ParseStateFile {
                    path: path.clone(),
                    source,
                })?;
            store.resource_version = persisted.resource_version;
            store.uid_counter = persisted.uid_counter;
            // No history survives a restart: watches from before it get 410.
            store.history_floor = persisted.resource_version;
            for po in persisted.objects {
                let key = key_of(&po.group, &po.plural, &po.object);
                store.objects.insert(key, Stored::new(po.object));
            }
        }
        Ok(store)
    }

    /// Current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Next resourceVersion (consumed).
    pub fn next_resource_version(&mut self) -> u64 {
        self.resource_version += 1;
        self.resource_version
    }

    /// Next deterministic uid.
    pub fn next_uid(&mut self) -> String {
        self.uid_counter += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.uid_counter)
    }

    /// Next deterministic suffix for `metadata.generateName`.
    pub fn next_name_suffix(&mut self) -> String {
        self.uid_counter += 1;
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut n = self.uid_counter;
        let mut s = String::new();
        for _ in 0..5 {
            // `n % len` < 27, a valid index.
            s.push(char::from(ALPHABET[(n % ALPHABET.len() as u64) as usize]));
            n /= ALPHABET.len() as u64;
        }
        s
    }

    /// One object.
    pub fn get(&self, key: &ObjectKey) -> Option<&Value> {
        self.objects.get(key).map(|s| &s.value)
    }

    /// One object's JSON.
    pub fn get_rendered(&self, key: &ObjectKey) -> Option<bytes::Bytes> {
        self.objects.get(key).map(|s| s.json.clone())
    }

    /// Objects of one resource, optionally limited to a namespace, in key order.
    pub fn list(&self, group: &str, plural: &str, namespace: Option<&str>) -> Vec<Value> {
        self.of(group, plural, namespace)
            .map(|s| s.value.clone())
            .collect()
    }

    /// The JSON of the objects of one resource (optionally in one namespace) that `keep` accepts,
    /// in key order.
    pub fn list_rendered(
        &self,
        group: &str,
        plural: &str,
        namespace: Option<&str>,
        keep: impl Fn(&Value) -> bool,
    ) -> Vec<bytes::Bytes> {
        self.of(group, plural, namespace)
            .filter(|s| keep(&s.value))
            .map(|s| s.json.clone())
            .collect()
    }

    /// One resource's objects as they were at `resource_version` (at most the current one),
    /// keyed and ordered as etcd orders them (`NAMESPACE/NAME`, or `NAME` when cluster-scoped),
    /// or `Err(floor)` when that version is compacted: the changes since are no longer all kept.
    /// The current objects with every later change of the resource undone, newest first.
    pub fn list_at(
        &self,
        resource_version: u64,
        group: &str,
        plural: &str,
        namespace: Option<&str>,
    ) -> Result<BTreeMap<String, bytes::Bytes>, u64> {
        if resource_version < self.history_floor {
            return Err(self.history_floor);
        }
        let mut objects: BTreeMap<String, bytes::Bytes> = self
            .objects
            .iter()
            .filter(|((g, p, ns, _), _)| {
                g == group && p == plural && namespace.is_none_or(|n| n == ns)
            })
            .map(|((_, _, ns, name), s)| (etcd_key(ns, name), s.json.clone()))
            .collect();
        for e in self.history.iter().rev() {
            if e.resource_version <= resource_version {
                break;
            }
            if e.group != group || e.plural != plural || namespace.is_some_and(|n| n != e.namespace)
            {
                continue;
            }
            let name = e.object["metadata"]["name"].as_str().unwrap_or_default();
            let key = etcd_key(&e.namespace, name);
            match &e.previous {
                Some(before) => objects.insert(key, before.clone()),
                None => objects.remove(&key),
            };
        }
        Ok(objects)
    }

    fn of<'a>(
        &'a self,
        group: &'a str,
        plural: &'a str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Stored> + 'a {
        self.objects
            .iter()
            .filter(move |((g, p, ns, _), _)| {
                g == group && p == plural && namespace.is_none_or(|n| n == ns)
            })
            .map(|(_, s)| s)
    }

    /// Stores `object` (its metadata already stamped with `resource_version`) and records the event.
    pub fn put(
        &mut self,
        key: ObjectKey,
        object: Value,
        type_: EventType,
    ) -> Result<Event, StoreError> {
        self.note_crd_change(&key);
        let previous = self
            .objects
            .insert(key.clone(), Stored::new(object.clone()))
            .map(|s| s.json);
        self.record(key, object, type_, previous)
    }

    /// Changes with every CustomResourceDefinition write or delete (never otherwise).
    pub fn crd_generation(&self) -> u64 {
        self.crd_generation
    }

    fn note_crd_change(&mut self, key: &ObjectKey) {
        if key.0 == super::resources::CRD_GROUP && key.1 == super::resources::CRD_PLURAL {
            self.crd_generation += 1;
        }
    }

    /// Removes an object; `tombstone` is the object as last seen with a fresh resourceVersion.
    pub fn remove(&mut self, key: &ObjectKey, tombstone: Value) -> Result<Event, StoreError> {
        self.note_crd_change(key);
        let previous = self.objects.remove(key).map(|s| s.json);
        self.record(key.clone(), tombstone, EventType::Deleted, previous)
    }

    /// Keys of every object of one resource (to delete custom resources with their CRD).
    pub fn keys_of(&self, group: &str, plural: &str) -> Vec<ObjectKey> {
        self.objects
            .keys()
            .filter(|(g, p, _, _)| g == group && p == plural)
            .cloned()
            .collect()
    }

    fn record(
        &mut self,
        key: ObjectKey,
        object: Value,
        type_: EventType,
        previous: Option<bytes::Bytes>,
    ) -> Result<Event, StoreError> {
        let (group, plural, namespace, _) = key;
        let event = Event {
            resource_version: self.resource_version,
            group,
            plural,
            namespace,
            type_,
            object,
            previous,
        };
        self.history.push_back(event.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.history_floor = old.resource_version;
            }
        }
        self.save()?;
        Ok(event)
    }

    /// Events after `resource_version` for one resource (and namespace, if given), or `Err(floor)`
    /// when some of them are no longer kept.
    pub fn events_since(
        &self,
        resource_version: u64,
        group: &str,
        plural: &str,
        namespace: Option<&str>,
    ) -> Result<Vec<Event>, u64> {
        if resource_version < self.history_floor {
            return Err(self.history_floor);
        }
        Ok(self
            .history
            .iter()
            .filter(|e| {
                e.resource_version > resource_version
                    && e.group == group
                    && e.plural == plural
                    && namespace.is_none_or(|n| n == e.namespace)
            })
            .cloned()
            .collect())
    }

    fn save(&self) -> Result<(), StoreError> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let persisted = Persisted {
            resource_version: self.resource_version,
            uid_counter: self.uid_counter,
            objects: self
                .objects
                .iter()
                .map(|((g, p, _, _), v)| PersistedObject {
                    group: g.clone(),
                    plural: p.clone(),
                    object: v.value.clone(),
                })
                .collect(),
        };
        write_atomically(path, &persisted).map_err(|source| StoreError::WriteStateFile {
            path: path.clone(),
            source,
        })
    }
}

/// An object's key below its resource's prefix, as etcd orders a list: `NAMESPACE/NAME`, or
/// `NAME` for a cluster-scoped object.
pub fn etcd_key(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}

/// A stored object and its JSON, rendered once per write: reads answer with it as it is.
#[derive(Debug)]
struct Stored {
    value: Value,
    json: bytes::Bytes,
}

impl Stored {
    fn new(value: Value) -> Self {
        let json = bytes::Bytes::from(value.to_string());
        Stored { value, json }
    }
}

fn write_atomically(path: &Path, persisted: &Persisted) -> std::io::Result<()> {
    use std::io::Write;
    let text = serde_json::to_vec_pretty(persisted).map_err(std::io::Error::other)?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&text)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// The key of `object` within a resource.
pub fn key_of(group: &str, plural: &str, object: &Value) -> ObjectKey {
    let meta = &object["metadata"];
    (
        group.to_owned(),
        plural.to_owned(),
        meta["namespace"].as_str().unwrap_or_default().to_owned(),
        meta["name"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A parsed label or field selector: comma-separated `k=v`, `k==v`, `k!=v`, `k`, `!k`,
/// `k in (a,b)`, `k notin (a,b)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl Selector {
    /// Parses a selector; `Err` names the part not understood.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let req = if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once(" notin ") {
                Requirement::NotIn(k.trim().into(), set_values(v)?)
            } else if let Some((k, v)) = part.split_once(" in ") {
                Requirement::In(k.trim().into(), set_values(v)?)
            } else if let Some(k) = part.strip_prefix('!') {
                Requirement::NotExists(k.trim().into())
            } else if part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            {
                Requirement::Exists(part.into())
            } else {
                return Err(format!("unable to parse requirement: {part:?}"));
            };
            requirements.push(req);
        }
        Ok(Self { requirements })
    }

    /// Whether the labels (label selector) match.
    pub fn matches_labels(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        self.matches(|k| labels.get(k).and_then(Value::as_str).map(str::to_owned))
    }

    /// Whether the fields (field selector: dotted paths like `metadata.name`) match.
    pub fn matches_fields(&self, object: &Value) -> bool {
        self.matches(|k| {
            super::table::eval_path(object, k).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        })
    }

    fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => lookup(k).as_deref() == Some(v.as_str()),
            Requirement::NotEquals(k, v) => lookup(k).as_deref() != Some(v.as_str()),
            Requirement::Exists(k) => lookup(k).is_some(),
            Requirement::NotExists(k) => lookup(k).is_none(),
            Requirement::In(k, vs) => lookup(k).is_some_and(|x| vs.contains(&x)),
            Requirement::NotIn(k, vs) => lookup(k).is_none_or(|x| !vs.contains(&x)),
        })
    }
}

fn set_values(text: &str) -> Result<Vec<String>, String> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("expected (values): {text:?}"))?;
    Ok(inner
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_match_labels_and_fields() {
        let o = json!({"metadata": {"name": "a", "labels": {"app": "x", "tier": "db"}}});
        assert!(Selector::parse("app=x").unwrap().matches_labels(&o));
        assert!(
            Selector::parse("app=x,tier in (db, web)")
                .unwrap()
                .matches_labels(&o)
        );
        assert!(!Selector::parse("app!=x").unwrap().matches_labels(&o));
        assert!(Selector::parse("!missing,app").unwrap().matches_labels(&o));
        assert!(
            Selector::parse("metadata.name=a")
                .unwrap()
                .matches_fields(&o)
        );
        assert!(
            !Selector::parse("metadata.name=b")
                .unwrap()
                .matches_fields(&o)
        );
    }

    #[test]
    fn history_floor_moves_when_events_are_dropped() {
        let mut store = Store::open(None, 2).unwrap();
        for name in ["a", "b", "c"] {
            let rv = store.next_resource_version();
            let obj = json!({"metadata": {"name": name, "resourceVersion": rv.to_string()}});
            store
                .put(key_of("g", "p", &obj), obj, EventType::Added)
                .unwrap();
        }
        assert_eq!(store.events_since(0, "g", "p", None), Err(1));
        assert_eq!(store.events_since(1, "g", "p", None).unwrap().len(), 2);
    }

    /// A list at an older resourceVersion undoes every later change: an addition goes, a change
    /// and a deletion bring the object back as it was; other resources are untouched; a version
    /// whose changes are no longer all kept is compacted.
    #[test]
    fn a_list_at_an_older_version_undoes_the_later_changes() {
        let mut store = Store::open(None, 4).unwrap();
        let write = |store: &mut Store, plural: &str, name: &str, v: u32, type_| {
            let rv = store.next_resource_version();
            let obj = json!({"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv.to_string()}, "v": v});
            let key = key_of("g", plural, &obj);
            if type_ == EventType::Deleted {
                store.remove(&key, obj).unwrap();
            } else {
                store.put(key, obj, type_).unwrap();
            }
            rv
        };
        write(&mut store, "p", "a", 1, EventType::Added);
        let before = write(&mut store, "p", "b", 1, EventType::Added);
        write(&mut store, "p", "a", 2, EventType::Modified);
        write(&mut store, "p", "b", 1, EventType::Deleted);
        write(&mut store, "p", "c", 1, EventType::Added);
        write(&mut store, "q", "z", 1, EventType::Added);
        let versions = |objects: BTreeMap<String, bytes::Bytes>| -> Vec<(String, u64)> {
            objects
                .into_iter()
                .map(|(k, b)| {
                    let v: Value = serde_json::from_slice(&b).unwrap();
                    (k, v["v"].as_u64().unwrap())
                })
                .collect()
        };
        let now = store.resource_version();
        assert_eq!(
            versions(store.list_at(now, "g", "p", None).unwrap()),
            [("ns/a".to_owned(), 2), ("ns/c".to_owned(), 1)]
        );
        assert_eq!(
            versions(store.list_at(before, "g", "p", Some("ns")).unwrap()),
            [("ns/a".to_owned(), 1), ("ns/b".to_owned(), 1)]
        );
        // Four events kept: the first two are compacted.
        assert_eq!(store.list_at(before - 1, "g", "p", None), Err(before));
    }
}
