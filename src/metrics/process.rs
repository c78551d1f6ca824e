//! The standard `process_*` series (Prometheus's client conventions, as client_golang and the
//! Python client export them), read from `/proc` at scrape time: dashboards and restart alerts
//! rely on them (`process_start_time_seconds`, `process_resident_memory_bytes`, …).
//!
//! Linux only (the sidecar runs in a Linux pod); elsewhere, and for any file that cannot be read
//! or parsed, the affected series are left out of the scrape rather than reported as zero.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// `/proc` reports CPU times and start times in clock ticks of `USER_HZ`, fixed at 100 on Linux
/// (the same assumption client_golang's procfs makes).
const USER_HZ: f64 = 100.0;

/// What one scrape read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessStats {
    /// User + system CPU seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident set size, bytes.
    pub resident_bytes: Option<u64>,
    /// Virtual memory size, bytes.
    pub virtual_bytes: Option<u64>,
    /// Start time, seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// The soft limit on open file descriptors.
    pub max_fds: Option<u64>,
    /// OS threads.
    pub threads: Option<u64>,
}

impl ProcessStats {
    /// Reads this process's figures from `/proc`.
    pub fn read() -> ProcessStats {
        let text = |path: &str| std::fs::read_to_string(path).ok();
        let stat = text("/proc/self/stat");
        let status = text("/proc/self/status");
        let boot = text("/proc/stat").as_deref().and_then(boot_time);
        let (cpu_seconds, start_ticks) = stat.as_deref().map(parse_stat).unwrap_or_default();
        let kb = |key| {
            status
                .as_deref()
                .and_then(|s| status_field(s, key))
                .map(|v| v * 1024)
        };
        ProcessStats {
            cpu_seconds,
            resident_bytes: kb("VmRSS:"),
            virtual_bytes: kb("VmSize:"),
            start_time_seconds: boot
                .zip(start_ticks)
                .map(|(b, t)| b as f64 + t as f64 / USER_HZ),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as u64),
            max_fds: text("/proc/self/limits")
                .as_deref()
                .and_then(max_open_files),
            threads: status.as_deref().and_then(|s| status_field(s, "Threads:")),
        }
    }
}

/// `(utime + stime in seconds, starttime in ticks)` from `/proc/self/stat`. The command name
/// (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
fn parse_stat(stat: &str) -> (Option<f64>, Option<u64>) {
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return (None, None);
    };
    // `rest` starts at field 3 (state): field N is at index N - 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let cpu = field(14)
        .zip(field(15))
        .map(|(u, s)| (u + s) as f64 / USER_HZ);
    (cpu, field(22))
}

/// A `Key:   value [kB]` line of `/proc/self/status`, as a number.
fn status_field(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// `btime` of `/proc/stat`: boot time, seconds since the epoch.
fn boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit of `Max open files` in `/proc/self/limits` (`unlimited` has no number).
fn max_open_files(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The collector the registry calls on every scrape.
#[derive(Debug, Default)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = ProcessStats::read();
        if let Some(v) = s.cpu_seconds {
            let c = ConstCounter::new(v);
            c.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                c.metric_type(),
            )?)?;
        }
        let gauges: [(&str, &str, Option<f64>); 6] = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                s.resident_bytes.map(|v| v as f64),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                s.virtual_bytes.map(|v| v as f64),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                s.start_time_seconds,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                s.open_fds.map(|v| v as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                s.max_fds.map(|v| v as f64),
            ),
            (
                "process_threads",
                "Number of OS threads in the process.",
                s.threads.map(|v| v as f64),
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                let g = ConstGauge::new(v);
                g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name_whatever_it_holds() {
        // utime 250, stime 50 ticks; starttime 12345 ticks. Command names with spaces and
        // parentheses must not shift the fields.
        let rest = "S 1 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 12345 9000000 300";
        for comm in ["forge-manager", "a b", "x) (y"] {
            let stat = format!("4242 ({comm}) {rest}");
            assert_eq!(
                parse_stat(&stat),
                (Some(3.0), Some(12345)),
                "command {comm:?}"
            );
        }
        assert_eq!(parse_stat("garbage"), (None, None));
        assert_eq!(parse_stat("1 (x) S 1"), (None, None), "too few fields");
    }

    #[test]
    fn status_limits_and_boot_time_are_read_by_key() {
        let status =
            "Name:\tforge-manager\nVmSize:\t  123456 kB\nVmRSS:\t    9876 kB\nThreads:\t3\n";
        assert_eq!(status_field(status, "VmRSS:"), Some(9876));
        assert_eq!(status_field(status, "VmSize:"), Some(123_456));
        assert_eq!(status_field(status, "Threads:"), Some(3));
        assert_eq!(status_field(status, "VmSwap:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1048576              1048576              files\n";
        assert_eq!(max_open_files(limits), Some(1_048_576));
        assert_eq!(
            max_open_files(
                "Max open files            unlimited            unlimited            files"
            ),
            None
        );
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1795600800\nprocesses 9\n"),
            Some(1_795_600_800)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reads_as_a_running_process_would() {
        let s = ProcessStats::read();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let rss = s.resident_bytes.expect("rss");
        assert!(rss > 100_000 && rss < 10_000_000_000, "rss {rss}");
        assert!(s.virtual_bytes.expect("vsize") >= rss);
        let start = s.start_time_seconds.expect("start time");
        assert!(
            start <= now + 1.0 && start > now - 86_400.0 * 30.0,
            "start {start} now {now}"
        );
        assert!(s.cpu_seconds.expect("cpu") >= 0.0);
        assert!(s.open_fds.expect("fds") >= 3);
        assert!(s.max_fds.expect("max fds") >= s.open_fds.expect("fds"));
        assert!(s.threads.expect("threads") >= 1);
    }
}
