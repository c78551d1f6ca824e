//! Names of the Kubernetes objects and metric labels, formed exactly as the old sidecar and its Helm
//! chart form them (docs/compatibility.md §5.7), so several pools and networks share a cluster
//! without colliding and an operator can swap the image. Pure functions, plus the RFC 1123 checks
//! the API server would apply to those names.

/// Longest Kubernetes object name Helm produces (`trunc 63`), also the longest DNS label.
pub const MAX_NAME_LEN: usize = 63;

/// Lease name when `LEASE_NAME` is not set (the old sidecar's code default).
pub const DEFAULT_LEASE_NAME: &str = "cardano-node-leader";

/// CardanoLeader name when `CRD_NAME` is not set (the old sidecar's code default).
pub const DEFAULT_CARDANO_LEADER_NAME: &str = "cardano-leader";

/// The first `n` characters of `s` (characters, not bytes, so it never splits one).
fn first_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

/// The short pool id used in names: `POOL_ID[:10]` for a bech32 `pool1…` id, else `POOL_ID[:8]` when
/// it is at least 8 long, else the whole id (CM:79-87, Helm `poolShort`).
pub fn pool_short(pool_id: &str) -> &str {
    if pool_id.starts_with("pool1") {
        first_chars(pool_id, 10)
    } else {
        first_chars(pool_id, 8)
    }
}

/// `s` cut to 63 characters, as Helm's `trunc 63` does for derived object names.
pub fn truncate_name(s: &str) -> String {
    first_chars(s, MAX_NAME_LEN).to_string()
}

/// The CardanoForgeCluster of this region: `{network}-{pool_short}-{region}` when a pool id is set
/// (multi-tenant), else the legacy `CLUSTER_IDENTIFIER` as is.
pub fn forge_cluster_name(
    network: &str,
    pool_id: Option<&str>,
    region: &str,
    cluster_identifier: &str,
) -> String {
    match pool_id {
        Some(pool) => truncate_name(&format!("{network}-{}-{region}", pool_short(pool))),
        None => cluster_identifier.to_string(),
    }
}

/// The Lease and CardanoLeader name the Helm chart passes in multi-tenant mode
/// (`cardano-leader-{network}-{poolShort}`); the sidecar itself reads `LEASE_NAME` / `CRD_NAME`.
pub fn multi_tenant_leader_name(network: &str, pool_id: &str) -> String {
    truncate_name(&format!("cardano-leader-{network}-{}", pool_short(pool_id)))
}

/// The global (cross-region) lease: `cardano-forge-global-{network}-{poolShort}`, or
/// `cardano-forge-global-{network}` without a pool id (legacy single-pool clusters).
pub fn global_lease_name(network: &str, pool_id: Option<&str>) -> String {
    match pool_id {
        Some(pool) => truncate_name(&format!(
            "cardano-forge-global-{network}-{}",
            pool_short(pool)
        )),
        None => truncate_name(&format!("cardano-forge-global-{network}")),
    }
}

/// The `pool_id` metric label: the first 10 characters of the pool id, or `unknown` without one.
pub fn metric_pool_id(pool_id: Option<&str>) -> &str {
    match pool_id {
        Some(pool) if !pool.is_empty() => first_chars(pool, 10),
        _ => "unknown",
    }
}

/// Lowercase letters, digits and '-', starting and ending with a letter or digit (any length).
fn is_label_shaped(part: &str) -> bool {
    let lower_alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    part.starts_with(lower_alnum)
        && part.ends_with(lower_alnum)
        && part.chars().all(|c| lower_alnum(c) || c == '-')
}

/// Why `name` is not an RFC 1123 label (namespaces, label-like names), or `None` if it is one.
pub fn rfc1123_label_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a non-empty name".to_string());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "at most {MAX_NAME_LEN} characters (RFC 1123 label), got {}",
            name.len()
        ));
    }
    if !is_label_shaped(name) {
        return Some(
            "an RFC 1123 label: lowercase letters, digits and '-', starting and ending with a \
             letter or digit"
                .to_string(),
        );
    }
    None
}

/// Why `name` is not an RFC 1123 subdomain (the rule for most object names), or `None`.
pub fn rfc1123_subdomain_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a non-empty name".to_string());
    }
    if name.len() > 253 {
        return Some(format!(
            "at most 253 characters (RFC 1123 subdomain), got {}",
            name.len()
        ));
    }
    // Kubernetes limits only the whole subdomain to 253, not each dot-separated part to 63.
    if name.split('.').any(|part| !is_label_shaped(part)) {
        return Some(
            "an RFC 1123 subdomain: lowercase letters, digits, '-' and '.', each dot-separated \
             part starting and ending with a letter or digit"
                .to_string(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_short_follows_the_old_sidecar() {
        let cases: &[(&str, &str)] = &[
            ("pool1abcdefghijklmnop", "pool1abcde"),
            ("pool1abc", "pool1abc"),
            ("MYPOOL", "MYPOOL"),
            ("STAKE-POOL-ONE", "STAKE-PO"),
            ("ABCDEFGH", "ABCDEFGH"),
            ("ABCDEFGHI", "ABCDEFGH"),
            ("", ""),
        ];
        for (id, want) in cases {
            assert_eq!(pool_short(id), *want, "{id}");
        }
    }

    #[test]
    fn forge_cluster_names_match_the_compatibility_examples() {
        assert_eq!(
            forge_cluster_name("mainnet", Some("MYPOOL"), "us-east-1", "pod-0"),
            "mainnet-MYPOOL-us-east-1"
        );
        assert_eq!(
            forge_cluster_name("preprod", Some("STAKE-POOL-ONE"), "eu-west-1", "pod-0"),
            "preprod-STAKE-PO-eu-west-1"
        );
        assert_eq!(
            forge_cluster_name("mainnet", None, "us-east-1", "cardano-bp-0"),
            "cardano-bp-0"
        );
        let long = forge_cluster_name("mainnet", Some("pool1xyz0123456"), &"r".repeat(80), "x");
        assert_eq!(long.len(), 63);
        assert!(long.starts_with("mainnet-pool1xyz01-rrr"));
    }

    #[test]
    fn leader_and_global_lease_names_include_network_and_pool() {
        assert_eq!(
            multi_tenant_leader_name("mainnet", "pool1abcdefghijk"),
            "cardano-leader-mainnet-pool1abcde"
        );
        assert_eq!(
            global_lease_name("preview", Some("pool1abcdefghijk")),
            "cardano-forge-global-preview-pool1abcde"
        );
        assert_eq!(
            global_lease_name("mainnet", None),
            "cardano-forge-global-mainnet"
        );
        assert_eq!(
            global_lease_name(&"n".repeat(100), Some("pool1")).len(),
            MAX_NAME_LEN
        );
    }

    #[test]
    fn metric_pool_label_is_ten_characters_or_unknown() {
        assert_eq!(metric_pool_id(Some("pool1abcdefghijk")), "pool1abcde");
        assert_eq!(metric_pool_id(Some("MYPOOL")), "MYPOOL");
        assert_eq!(metric_pool_id(Some("")), "unknown");
        assert_eq!(metric_pool_id(None), "unknown");
    }

    #[test]
    fn rfc1123_names_are_checked_like_the_api_server() {
        let labels: &[(&str, bool)] = &[
            ("default", true),
            ("cardano-mainnet", true),
            ("a", true),
            ("0abc", true),
            ("", false),
            ("Default", false),
            ("-abc", false),
            ("abc-", false),
            ("a.b", false),
            ("a_b", false),
        ];
        for (name, ok) in labels {
            assert_eq!(rfc1123_label_problem(name).is_none(), *ok, "label {name:?}");
        }
        assert!(rfc1123_label_problem(&"a".repeat(63)).is_none());
        assert!(rfc1123_label_problem(&"a".repeat(64)).is_some());
        let subdomains: &[(&str, bool)] = &[
            ("cardano-node-leader", true),
            ("a.b-c.d", true),
            ("a..b", false),
            (".a", false),
            ("a.", false),
            ("mainnet-MYPOOL-us-east-1", false),
            ("", false),
        ];
        for (name, ok) in subdomains {
            assert_eq!(
                rfc1123_subdomain_problem(name).is_none(),
                *ok,
                "subdomain {name:?}"
            );
        }
        assert!(rfc1123_subdomain_problem(&"a".repeat(253)).is_none());
        assert!(rfc1123_subdomain_problem(&"a".repeat(254)).is_some());
    }
}
