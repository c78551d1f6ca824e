//! Targets of faults and expectations, in their file forms (`pod:REGION/N`, `region:REGION`,
//! `api:global`, `api:REGION`, `health:REGION`, `forger`, `leader:REGION`), parsed into types the
//! world can match on without re-parsing strings.
//!
//! Parsing here is syntactic only; `super::parse` checks them against the declared regions and pod
//! counts and against what each fault kind accepts.

use std::fmt;

use crate::trace::PodId;

/// One API server of the world.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiServer {
    /// `api:global`: the coordination API server (CardanoForgeCluster objects, global lease). With
    /// `shared_api = true` it is the only API server and also holds every local lease.
    Global,
    /// `api:REGION`: a region's own API server (local lease, CardanoLeader).
    Region(String),
}

impl ApiServer {
    /// The server's name as the trace records it (`ApiRequest { server }`): `global` or the region.
    pub fn server_name(&self) -> &str {
        match self {
            ApiServer::Global => "global",
            ApiServer::Region(region) => region,
        }
    }
}

impl fmt::Display for ApiServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "api:{}", self.server_name())
    }
}

/// A target that names one pod, possibly only at the instant a fault applies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PodRef {
    /// `pod:REGION/N`.
    Pod(PodId),
    /// `forger`: the pod that forges at that instant (none: the fault is a no-op).
    Forger,
    /// `leader:REGION`: the pod holding the region's local lease at that instant (none: a no-op).
    Leader(String),
}

impl fmt::Display for PodRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PodRef::Pod(pod) => write!(f, "pod:{pod}"),
            PodRef::Forger => f.write_str("forger"),
            PodRef::Leader(region) => write!(f, "leader:{region}"),
        }
    }
}

/// Any target form of docs/scenarios.md, "Targets".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `pod:REGION/N`, `forger` or `leader:REGION`.
    Pod(PodRef),
    /// `region:REGION`: every pod of the region.
    Region(String),
    /// `api:global` or `api:REGION`.
    Api(ApiServer),
    /// `health:REGION`: the region's health endpoint.
    Health(String),
}

impl Target {
    /// The region this target names, if any (`forger` and `api:global` name none).
    pub fn region(&self) -> Option<&str> {
        match self {
            Target::Pod(PodRef::Pod(pod)) => Some(&pod.region),
            Target::Pod(PodRef::Leader(region))
            | Target::Region(region)
            | Target::Api(ApiServer::Region(region))
            | Target::Health(region) => Some(region),
            Target::Pod(PodRef::Forger) | Target::Api(ApiServer::Global) => None,
        }
    }

    /// Parses the syntax of a target; regions and pod indexes are not checked here.
    pub fn parse(text: &str) -> Result<Target, TargetSyntaxError> {
        if text == "forger" {
            return Ok(Target::Pod(PodRef::Forger));
        }
        let Some((form, rest)) = text.split_once(':') else {
            return Err(TargetSyntaxError::UnknownForm);
        };
        match form {
            "pod" => parse_pod_id(rest).map(|pod| Target::Pod(PodRef::Pod(pod))),
            "region" => region_name(rest).map(Target::Region),
            "api" if rest == "global" => Ok(Target::Api(ApiServer::Global)),
            "api" => region_name(rest).map(|r| Target::Api(ApiServer::Region(r))),
            "health" => region_name(rest).map(Target::Health),
            "leader" => region_name(rest).map(|r| Target::Pod(PodRef::Leader(r))),
            _ => Err(TargetSyntaxError::UnknownForm),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Pod(pod) => pod.fmt(f),
            Target::Region(region) => write!(f, "region:{region}"),
            Target::Api(api) => api.fmt(f),
            Target::Health(region) => write!(f, "health:{region}"),
        }
    }
}

/// Why a string is not a target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetSyntaxError {
    /// Not one of the seven forms.
    #[error(
        "one of pod:REGION/N, region:REGION, api:global, api:REGION, health:REGION, forger, leader:REGION"
    )]
    UnknownForm,
    /// An empty or malformed region name.
    #[error("a region name (letters, digits, '-', '_', '.')")]
    BadRegion,
    /// `pod:` without `/N`, or N not a non-negative integer.
    #[error("a pod as REGION/N with N a 0-based integer, e.g. pod:us-east-1/0")]
    BadPod,
}

/// Parses `REGION/N` (the part after `pod:`, also the form of an expectation's `pod` key).
pub fn parse_pod_id(text: &str) -> Result<PodId, TargetSyntaxError> {
    let (region, index) = text.split_once('/').ok_or(TargetSyntaxError::BadPod)?;
    let region = region_name(region)?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TargetSyntaxError::BadPod);
    }
    let index: usize = index.parse().map_err(|_| TargetSyntaxError::BadPod)?;
    Ok(PodId { region, index })
}

/// Whether `name` can be a region name: non-empty, letters, digits, `-`, `_`, `.` only (so it
/// cannot be confused with the `:` and `/` of target forms).
pub fn is_region_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn region_name(text: &str) -> Result<String, TargetSyntaxError> {
    if is_region_name(text) {
        Ok(text.to_owned())
    } else {
        Err(TargetSyntaxError::BadRegion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_form_parses_and_prints_back_the_same() {
        for text in [
            "pod:us-east-1/0",
            "pod:eu/12",
            "region:us-east-1",
            "api:global",
            "api:us-east-1",
            "health:eu-west-1",
            "forger",
            "leader:us-east-1",
        ] {
            let target = Target::parse(text).expect(text);
            assert_eq!(target.to_string(), text);
        }
    }

    #[test]
    fn malformed_targets_say_what_is_expected() {
        use TargetSyntaxError::*;
        for (text, want) in [
            ("pdo:x/0", UnknownForm),
            ("us-east-1", UnknownForm),
            ("pod:us-east-1", BadPod),
            ("pod:us-east-1/", BadPod),
            ("pod:us-east-1/-1", BadPod),
            ("pod:/0", BadRegion),
            ("region:", BadRegion),
            ("region:a b", BadRegion),
            ("leader:", BadRegion),
        ] {
            assert_eq!(Target::parse(text), Err(want), "{text}");
        }
    }
}
