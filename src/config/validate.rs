//! [`Config::problems`]: every check of a configuration, each reported as a [`ConfigProblem`]
//! naming the variable to change. Nothing here touches the file system or the network: a
//! configuration is checked the same on a laptop as in the pod.

use std::path::Path;

use super::{Config, ConfigProblem, known_network, naming};

impl Config {
    /// Every problem with this configuration, in a stable order; empty means it is usable
    /// ([`Config::validate`] turns it into a [`super::ValidConfig`]).
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        self.parse_problems(&mut out);
        self.timing_problems(&mut out);
        self.path_problems(&mut out);
        self.name_problems(&mut out);
        self.url_problems(&mut out);
        self.pool_problems(&mut out);
        if self.cluster_management() {
            self.cluster_problems(&mut out);
        }
        out
    }

    /// Values that do not parse as their type.
    fn parse_problems(&self, out: &mut Vec<ConfigProblem>) {
        let results = [
            self.sleep_interval().err(),
            self.socket_wait_timeout().err(),
            self.lease_duration().err(),
            self.metrics_port().err(),
            self.log_level().err(),
            self.network_magic().err(),
            self.cluster_priority().err(),
            self.health_check_interval().err(),
            self.renew_deadline().err(),
            self.retry_period().err(),
            self.failback_delay().err(),
            self.health_check_timeout().err(),
            self.health_failure_threshold().err(),
            self.health_success_threshold().err(),
            self.credential_mode().err(),
            self.sighup_verify_timeout().err(),
            self.slot_clock().err(),
            self.journal_retention().err(),
            self.log_format().err(),
            self.api_timeout().err(),
        ];
        out.extend(results.into_iter().flatten());
    }

    /// The timing budget. A relation is judged only when every value it reads parsed (`out` holds
    /// the parse problems at this point: an unparsable value is reported there, and judging it on
    /// a stand-in default would invent or hide problems); every other relation is still judged,
    /// so one run reports every problem.
    fn timing_problems(&self, out: &mut Vec<ConfigProblem>) {
        let unparsed: Vec<&str> = out.iter().map(|p| p.variable).collect();
        for p in self.timing_params().problems() {
            if p.involves.iter().any(|v| unparsed.contains(v)) {
                continue;
            }
            out.push(ConfigProblem::new(
                p.variable,
                self.raw(p.variable),
                format!("a value that fits the timing budget: {}", p.message),
            ));
        }
    }

    /// Paths must be absolute: the sidecar's working directory is not part of its contract.
    fn path_problems(&self, out: &mut Vec<ConfigProblem>) {
        let required = [
            ("NODE_SOCKET", &self.node_socket),
            ("SOURCE_KES_KEY", &self.source_kes_key),
            ("SOURCE_VRF_KEY", &self.source_vrf_key),
            ("SOURCE_OP_CERT", &self.source_op_cert),
            ("TARGET_KES_KEY", &self.target_kes_key),
            ("TARGET_VRF_KEY", &self.target_vrf_key),
            ("TARGET_OP_CERT", &self.target_op_cert),
            ("SOURCE_DECOY_DIR", &self.source_decoy_dir),
            ("JOURNAL_PATH", &self.journal_path),
            ("HEARTBEAT_PATH", &self.heartbeat_path),
        ];
        let optional = [("COORDINATION_KUBECONFIG", &self.coordination_kubeconfig)]
            .into_iter()
            .filter(|(_, raw)| !raw.is_empty());
        for (variable, raw) in required.into_iter().chain(optional) {
            if !Path::new(raw.as_str()).is_absolute() {
                out.push(ConfigProblem::new(variable, raw, "an absolute path"));
            }
        }
    }

    /// Names the API server would reject, and a process name that would match every process.
    fn name_problems(&self, out: &mut Vec<ConfigProblem>) {
        if let Some(why) = naming::rfc1123_label_problem(&self.namespace) {
            out.push(ConfigProblem::new("NAMESPACE", &self.namespace, why));
        }
        if self.pod_name.is_empty() {
            out.push(ConfigProblem::new(
                "POD_NAME",
                "",
                "a non-empty pod name (set it from metadata.name with the downward API)",
            ));
        } else if let Some(why) = naming::rfc1123_subdomain_problem(&self.pod_name) {
            out.push(ConfigProblem::new("POD_NAME", &self.pod_name, why));
        }
        for (variable, raw) in [
            ("LEASE_NAME", &self.lease_name),
            ("CRD_NAME", &self.crd_name),
        ] {
            if let Some(why) = naming::rfc1123_subdomain_problem(raw) {
                out.push(ConfigProblem::new(variable, raw, why));
            }
        }
        if !self.global_lease_name.is_empty()
            && let Some(why) = naming::rfc1123_subdomain_problem(&self.global_lease_name)
        {
            out.push(ConfigProblem::new(
                "GLOBAL_LEASE_NAME",
                &self.global_lease_name,
                why,
            ));
        }
        if self.cardano_node_process_name.trim().is_empty() {
            out.push(ConfigProblem::new(
                "CARDANO_NODE_PROCESS_NAME",
                &self.cardano_node_process_name,
                "a non-empty process name (an empty one matches every process's arguments)",
            ));
        }
    }

    /// URLs the sidecar fetches.
    fn url_problems(&self, out: &mut Vec<ConfigProblem>) {
        if let Some(url) = self.health_check_endpoint()
            && !is_http_url(url)
        {
            out.push(ConfigProblem::new(
                "HEALTH_CHECK_ENDPOINT",
                url,
                "an http:// or https:// URL with a host, or empty for no health checks",
            ));
        }
        if !is_http_url(&self.node_metrics_url) {
            out.push(ConfigProblem::new(
                "NODE_METRICS_URL",
                &self.node_metrics_url,
                "an http:// or https:// URL with a host",
            ));
        }
    }

    /// Pool identification, checked whenever given.
    fn pool_problems(&self, out: &mut Vec<ConfigProblem>) {
        if let Some(pool) = self.pool_id()
            && pool.trim().is_empty()
        {
            out.push(ConfigProblem::new(
                "POOL_ID",
                pool,
                "a non-blank pool id, or empty for single-pool naming",
            ));
        }
        if let Some(hex) = self.pool_id_hex()
            && !hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            out.push(ConfigProblem::new(
                "POOL_ID_HEX",
                hex,
                "hexadecimal digits only (0-9, a-f), or empty",
            ));
        }
    }

    /// What cross-region coordination needs (the old sidecar refused to start without it).
    fn cluster_problems(&self, out: &mut Vec<ConfigProblem>) {
        let region = self.cluster_region.as_str();
        let region_ok = if region.is_empty() || region == "unknown" {
            out.push(ConfigProblem::new(
                "CLUSTER_REGION",
                region,
                "this region's name (e.g. us-east-1) when ENABLE_CLUSTER_MANAGEMENT is on",
            ));
            false
        } else if let Some(why) = naming::rfc1123_label_problem(region) {
            out.push(ConfigProblem::new("CLUSTER_REGION", region, why));
            false
        } else {
            true
        };
        if self.cardano_network.trim().is_empty() {
            out.push(ConfigProblem::new(
                "CARDANO_NETWORK",
                &self.cardano_network,
                "a network name when ENABLE_CLUSTER_MANAGEMENT is on",
            ));
            return;
        }
        if let (Some(_), Ok(magic)) = (self.pool_id(), self.network_magic())
            && let Some(known) = known_network(&self.cardano_network)
            && magic != known.magic
        {
            out.push(ConfigProblem::new(
                "NETWORK_MAGIC",
                &self.network_magic,
                format!("{}, the magic of {}", known.magic, known.name),
            ));
        }
        // An empty legacy name means POD_NAME is empty too, which is reported already.
        let name = self.forge_cluster_name();
        if region_ok
            && !name.is_empty()
            && let Some(why) = naming::rfc1123_subdomain_problem(&name)
        {
            let variable = if self.pool_id().is_some() {
                "POOL_ID"
            } else {
                "CLUSTER_IDENTIFIER"
            };
            out.push(ConfigProblem::new(
                variable,
                self.raw(variable),
                format!("a value that makes the CardanoForgeCluster name {name:?} {why}"),
            ));
        }
        if self.global_lease_name.is_empty() {
            let name = self.global_lease_name();
            if let Some(why) = naming::rfc1123_subdomain_problem(&name) {
                out.push(ConfigProblem::new(
                    "GLOBAL_LEASE_NAME",
                    "",
                    format!(
                        "a name, because the derived global lease name {name:?} is not {why} \
                         (or fix CARDANO_NETWORK / POOL_ID)"
                    ),
                ));
            }
        }
    }
}

/// Whether `text` is an absolute `http`/`https` URL with a host.
fn is_http_url(text: &str) -> bool {
    match text.parse::<http::Uri>() {
        Ok(uri) => {
            matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.host().is_some_and(|h| !h.is_empty())
        }
        Err(_) => false,
    }
}
