//! What a list answers, given its `limit`, `continue`, `resourceVersion` and
//! `resourceVersionMatch`, as kube-apiserver over etcd answers it:
//!
//! - no `resourceVersion`, `"0"`, or `NotOlderThan` N: the current objects (`"0"`, served from
//!   the watch cache in Kubernetes, ignores `limit`); N newer than the store: 504
//!   `ResourceVersionTooLarge` (Kubernetes first waits up to 3 s for it; this server answers at
//!   once, since nothing else writes to it);
//! - `Exact` N: the objects as they were at N, or 410 `Expired` ("The resourceVersion for the
//!   provided list is too old.") once N is compacted;
//! - `limit`: one page in etcd's key order (`NAMESPACE/NAME`), with a `continue` token naming the
//!   page's resourceVersion and the next key (`base64url({"v","rv","start"})`, Kubernetes'
//!   encoding), and `remainingItemCount` when no selector filters the list;
//! - `continue`: the next page *of the same snapshot*, so a paged list is consistent; once that
//!   resourceVersion is compacted, 410 `Expired` with Kubernetes' message and, in the Status's
//!   `metadata.continue`, a token (`rv: -1`) that continues at the current state, knowingly
//!   inconsistent, as client-go's pager and kubectl use it.
//!
//! Compaction here is the store's bounded history (`history_limit` events), where etcd compacts
//! every 5 minutes: the same 410s, on the count of writes instead of the clock.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::request::Params;
use super::status::ApiError;

/// Kubernetes' continue token, as `storage.EncodeContinue` writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinueToken {
    /// Always `meta.k8s.io/v1`.
    #[serde(rename = "v")]
    pub api_version: String,
    /// The snapshot's resourceVersion; -1 continues at the current state.
    #[serde(rename = "rv")]
    pub resource_version: i64,
    /// The first key of the next page.
    #[serde(rename = "start")]
    pub start_key: String,
}

impl ContinueToken {
    fn new(resource_version: i64, start_key: String) -> Self {
        ContinueToken {
            api_version: "meta.k8s.io/v1".into(),
            resource_version,
            start_key,
        }
    }

    /// The token's text, as a list answer carries it.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a token; a bad one is a 400, as Kubernetes answers it.
    pub fn decode(text: &str) -> Result<Self, ApiError> {
        let invalid =
            |why: String| ApiError::bad_request(format!("continue key is not valid: {why}"));
        let raw = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|e| invalid(e.to_string()))?;
        let token: ContinueToken =
            serde_json::from_slice(&raw).map_err(|e| invalid(e.to_string()))?;
        if token.api_version != "meta.k8s.io/v1" {
            return Err(invalid(format!(
                "incorrect encoded start resourceVersion (version {})",
                token.api_version
            )));
        }
        if token.resource_version == 0 || token.resource_version < -1 {
            return Err(invalid("incorrect encoded start resourceVersion".into()));
        }
        Ok(token)
    }
}

/// A list's paging and versioning options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOptions {
    /// Page size (`None`: everything).
    pub limit: Option<usize>,
    /// Where a previous page left off.
    pub continue_from: Option<ContinueToken>,
    /// The version the list is judged against.
    pub version: Version,
}

/// `resourceVersion` with `resourceVersionMatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// Unset: the most recent state.
    Latest,
    /// `"0"`: any state (the most recent here); `limit` is ignored.
    Any,
    /// At least this new.
    NotOlderThan(u64),
    /// Exactly this one.
    Exact(u64),
}

impl ListOptions {
    /// Whether the list is the plain current one, which the handler serves without a snapshot.
    pub fn is_plain(&self) -> bool {
        self.continue_from.is_none()
            && matches!(
                self.version,
                Version::Latest | Version::Any | Version::NotOlderThan(_)
            )
            && (self.limit.is_none() || self.version == Version::Any)
    }

    /// Reads the options from a query, refusing what Kubernetes refuses (400).
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        let limit = match params.get("limit").map(String::as_str) {
            None | Some("") => None,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n < 0 => {
                    return Err(ApiError::bad_request("limit must not be negative"));
                }
                Ok(0) => None,
                Ok(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                Err(_) => {
                    return Err(ApiError::bad_request(format!(
                        "limit: invalid value {text:?}: not an integer"
                    )));
                }
            },
        };
        let rv = params
            .get("resourceVersion")
            .map(String::as_str)
            .filter(|s| !s.is_empty());
        let continue_from = match params.get("continue").map(String::as_str) {
            None | Some("") => None,
            Some(text) => {
                if rv.is_some_and(|v| v != "0") {
                    return Err(ApiError::bad_request(
                        "specifying resource version is not allowed when using continue",
                    ));
                }
                Some(ContinueToken::decode(text)?)
            }
        };
        let parse_rv = |text: &str| {
            text.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {text:?}")))
        };
        let matching = params
            .get("resourceVersionMatch")
            .map(String::as_str)
            .filter(|s| !s.is_empty());
        let version = match (rv, matching) {
            (None, None) => Version::Latest,
            (None, Some(_)) => {
                return Err(ApiError::bad_request(
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            (Some(_), Some(_)) if continue_from.is_some() => {
                return Err(ApiError::bad_request(
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
            (Some("0"), None) => Version::Any,
            (Some(text), None | Some("NotOlderThan")) => match parse_rv(text)? {
                0 => Version::Any,
                n => Version::NotOlderThan(n),
            },
            (Some("0"), Some("Exact")) => {
                return Err(ApiError::bad_request(
                    "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
            (Some(text), Some("Exact")) => Version::Exact(parse_rv(text)?),
            (Some(_), Some(other)) => {
                return Err(ApiError::bad_request(format!(
                    "resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
                )));
            }
        };
        Ok(ListOptions {
            limit,
            continue_from,
            version,
        })
    }
}

/// One answer: the items, the list's resourceVersion and, when more remain, the token and count.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The page's items, in key order.
    pub items: Vec<Bytes>,
    /// `metadata.resourceVersion`: the snapshot's.
    pub resource_version: u64,
    /// `metadata.continue`.
    pub continue_token: Option<String>,
    /// `metadata.remainingItemCount` (only when nothing filtered the list).
    pub remaining: Option<usize>,
}

/// The versions a page can be taken at: the store's current one, and its compaction floor.
pub trait Snapshots {
    /// The store's resourceVersion now.
    fn current(&self) -> u64;
    /// The objects at `resource_version` (≤ current), keyed in etcd's order, or `Err(floor)`.
    fn at(&self, resource_version: u64) -> Result<BTreeMap<String, Bytes>, u64>;
}

/// The page `options` ask for, of the objects `keep` accepts; `filtered` says whether a selector
/// may drop objects (then no `remainingItemCount`, as in Kubernetes).
pub fn page(
    store: &impl Snapshots,
    options: &ListOptions,
    keep: impl Fn(&Bytes) -> bool,
    filtered: bool,
) -> Result<Page, ApiError> {
    let current = store.current();
    let too_large = |n: u64| {
        if n > current {
            Err(ApiError::too_large_resource_version(n, current))
        } else {
            Ok(())
        }
    };
    let (at, start) = match (&options.continue_from, options.version) {
        (Some(token), _) if token.resource_version == -1 => (current, token.start_key.clone()),
        (Some(token), _) => {
            let rv = u64::try_from(token.resource_version).unwrap_or(current);
            too_large(rv)?;
            (rv, token.start_key.clone())
        }
        (None, Version::Exact(n)) => {
            too_large(n)?;
            (n, String::new())
        }
        (None, Version::NotOlderThan(n)) => {
            too_large(n)?;
            (current, String::new())
        }
        (None, Version::Latest | Version::Any) => (current, String::new()),
    };
    let objects = match store.at(at) {
        Ok(objects) => objects,
        Err(_) if options.continue_from.is_some() => {
            let token = ContinueToken::new(-1, start);
            return Err(ApiError::continue_expired(token.encode()));
        }
        Err(_) => return Err(ApiError::list_expired()),
    };
    let limit = match options.version {
        Version::Any => None,
        _ => options.limit,
    };
    let mut selected = objects
        .range(start..)
        .filter(|(_, json)| keep(json))
        .map(|(k, v)| (k.clone(), v.clone()));
    let mut items = Vec::new();
    let mut last_key = None;
    for (key, json) in selected.by_ref() {
        items.push(json);
        last_key = Some(key);
        if limit.is_some_and(|l| items.len() >= l) {
            break;
        }
    }
    let rest = selected.count();
    let (continue_token, remaining) = match (rest, last_key) {
        (0, _) | (_, None) => (None, None),
        (n, Some(key)) => {
            // A continued inconsistent list goes on at the current state.
            let rv = if options
                .continue_from
                .as_ref()
                .is_some_and(|t| t.resource_version == -1)
            {
                -1
            } else {
                i64::try_from(at).unwrap_or(-1)
            };
            let token = ContinueToken::new(rv, format!("{key}\u{0}"));
            (Some(token.encode()), (!filtered).then_some(n))
        }
    };
    Ok(Page {
        items,
        resource_version: at,
        continue_token,
        remaining,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resource with a history: objects per version, compacted below `floor`.
    struct History {
        versions: BTreeMap<u64, BTreeMap<String, Bytes>>,
        floor: u64,
    }

    impl Snapshots for History {
        fn current(&self) -> u64 {
            self.versions.keys().last().copied().unwrap_or(0)
        }
        fn at(&self, rv: u64) -> Result<BTreeMap<String, Bytes>, u64> {
            if rv < self.floor {
                return Err(self.floor);
            }
            Ok(self
                .versions
                .range(..=rv)
                .next_back()
                .map(|(_, o)| o.clone())
                .unwrap_or_default())
        }
    }

    fn objects(names: &[&str]) -> BTreeMap<String, Bytes> {
        names
            .iter()
            .map(|n| ((*n).to_owned(), Bytes::from(n.to_string())))
            .collect()
    }

    fn names(p: &Page) -> Vec<String> {
        p.items
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    fn options(query: &[(&str, &str)]) -> Result<ListOptions, ApiError> {
        let params: Params = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ListOptions::parse(&params)
    }

    fn history() -> History {
        History {
            versions: BTreeMap::from([
                (10, objects(&["ns/a", "ns/b", "ns/c"])),
                (11, objects(&["ns/a", "ns/b", "ns/c", "ns/d"])),
                (12, objects(&["ns/b", "ns/c", "ns/d"])),
            ]),
            floor: 10,
        }
    }

    #[test]
    fn pages_of_one_snapshot_are_consistent_across_later_writes() {
        let mut h = History {
            versions: BTreeMap::from([(10, objects(&["ns/a", "ns/b", "ns/c"]))]),
            floor: 10,
        };
        let first = page(&h, &options(&[("limit", "2")]).unwrap(), |_| true, false).unwrap();
        assert_eq!(names(&first), ["ns/a", "ns/b"]);
        assert_eq!((first.resource_version, first.remaining), (10, Some(1)));
        // Writes after the first page: "ns/c" goes, "ns/d" comes.
        h.versions.insert(11, objects(&["ns/a", "ns/b", "ns/d"]));
        let token = first.continue_token.clone().unwrap();
        let next = page(
            &h,
            &options(&[("continue", &token)]).unwrap(),
            |_| true,
            false,
        )
        .unwrap();
        assert_eq!(
            names(&next),
            ["ns/c"],
            "the snapshot the first page was taken at"
        );
        assert_eq!((next.resource_version, next.continue_token), (10, None));
    }

    #[test]
    fn a_compacted_continue_is_410_with_a_token_that_goes_on_at_the_current_state() {
        let mut h = history();
        let first = page(&h, &options(&[("limit", "1")]).unwrap(), |_| true, false).unwrap();
        assert_eq!(names(&first), ["ns/b"]);
        let token = first.continue_token.unwrap();
        h.versions
            .insert(13, objects(&["ns/b", "ns/c", "ns/d", "ns/e"]));
        h.floor = 13;
        let e = page(
            &h,
            &options(&[("continue", &token)]).unwrap(),
            |_| true,
            false,
        )
        .unwrap_err();
        assert_eq!((e.code.as_u16(), e.reason), (410, "Expired"));
        assert!(
            e.message
                .starts_with("The provided continue parameter is too old")
        );
        let inconsistent = e.continue_token.clone().unwrap();
        let decoded = ContinueToken::decode(&inconsistent).unwrap();
        assert_eq!(
            (decoded.resource_version, decoded.start_key.as_str()),
            (-1, "ns/b\u{0}")
        );
        let rest = page(
            &h,
            &options(&[("continue", &inconsistent), ("limit", "2")]).unwrap(),
            |_| true,
            false,
        )
        .unwrap();
        assert_eq!(names(&rest), ["ns/c", "ns/d"]);
        let tail = ContinueToken::decode(rest.continue_token.as_deref().unwrap()).unwrap();
        assert_eq!(
            tail.resource_version, -1,
            "an inconsistent list stays at the current state"
        );
    }

    #[test]
    fn exact_lists_answer_the_old_state_until_it_is_compacted() {
        let h = history();
        let at = |rv: &str| {
            page(
                &h,
                &options(&[("resourceVersion", rv), ("resourceVersionMatch", "Exact")]).unwrap(),
                |_| true,
                false,
            )
        };
        assert_eq!(names(&at("10").unwrap()), ["ns/a", "ns/b", "ns/c"]);
        assert_eq!(names(&at("11").unwrap()), ["ns/a", "ns/b", "ns/c", "ns/d"]);
        let e = at("9").unwrap_err();
        assert_eq!(
            (e.code.as_u16(), e.message.as_str()),
            (410, "The resourceVersion for the provided list is too old.")
        );
        let e = at("13").unwrap_err();
        assert_eq!((e.code.as_u16(), e.reason), (504, "Timeout"));
        // Not older than 11: the current state, at its own version.
        let p = page(
            &h,
            &options(&[("resourceVersion", "11")]).unwrap(),
            |_| true,
            false,
        )
        .unwrap();
        assert_eq!((names(&p).len(), p.resource_version), (3, 12));
    }

    #[test]
    fn a_selector_hides_the_remaining_count_and_any_version_ignores_the_limit() {
        let h = history();
        let p = page(
            &h,
            &options(&[("limit", "1")]).unwrap(),
            |b| b.as_ref() != b"ns/c",
            true,
        )
        .unwrap();
        assert_eq!((names(&p), p.remaining), (vec!["ns/b".to_owned()], None));
        assert!(p.continue_token.is_some());
        let all = page(
            &h,
            &options(&[("limit", "1"), ("resourceVersion", "0")]).unwrap(),
            |_| true,
            false,
        )
        .unwrap();
        assert_eq!((names(&all).len(), all.continue_token), (3, None));
    }

    #[test]
    fn what_kubernetes_refuses_is_a_400_naming_it() {
        let token = ContinueToken::new(10, "ns/a\u{0}".into()).encode();
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("limit", "-1")], "limit must not be negative"),
            (&[("limit", "ten")], "not an integer"),
            (&[("continue", "%%%")], "continue key is not valid"),
            (&[("continue", "e30")], "continue key is not valid"),
            (
                &[("continue", &token), ("resourceVersion", "10")],
                "not allowed when using continue",
            ),
            (
                &[("resourceVersionMatch", "Exact")],
                "unless resourceVersion is provided",
            ),
            (
                &[("resourceVersion", "0"), ("resourceVersionMatch", "Exact")],
                "forbidden for resourceVersion \"0\"",
            ),
            (
                &[("resourceVersion", "5"), ("resourceVersionMatch", "Newest")],
                "Unsupported value",
            ),
            (&[("resourceVersion", "x")], "invalid resource version"),
        ];
        for (query, message) in cases {
            match options(query) {
                Err(e) => {
                    assert_eq!(e.code.as_u16(), 400, "{query:?}");
                    assert!(e.message.contains(message), "{query:?}: {}", e.message);
                }
                Ok(o) => panic!("{query:?} accepted: {o:?}"),
            }
        }
        assert!(options(&[("continue", &token)]).is_ok());
    }
}
