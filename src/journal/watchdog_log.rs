//! The watchdog's own small log: one JSON line per firing, so `journal timeline` knows when a
//! stalled or killed sidecar's node was demoted.
//!
//! The watchdog cannot write the journal: the sidecar's writer holds its lock, and a killed
//! sidecar's journal may need recovery. So it keeps this file, next to the heartbeat it watches
//! ([`log_path_for_heartbeat`]: the volume both processes share). A copy of it taken with a
//! journal is found by name: `FILE.watchdog` next to `FILE` ([`log_path_for_journal`]).
//!
//! Bounded: at most [`MAX_EVENTS`] lines are kept (the oldest go first), and a file larger than
//! [`MAX_FILE_BYTES`] is not read. Written atomically (temporary file, fsync, rename), so a reader
//! sees the file before or after a firing, never half of one. Never key material: the events hold
//! counts and flags only.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::{JournalRecord, RecordKind, wall_ms};
use crate::core::reason::Reason;

/// Lines kept in the file.
pub const MAX_EVENTS: usize = 256;

/// A file larger than this is refused (a firing's line is about 150 bytes).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// One firing of the watchdog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchdogEvent {
    /// The pod's wall clock at the firing, RFC 3339.
    pub wall: String,
    /// The pod's monotonic clock at the firing (ms; the sidecar's clock).
    pub mono_ms: u64,
    /// The pod (as in its journal records).
    pub pod: String,
    /// Credential files removed.
    pub removed: usize,
    /// Whether the SIGHUP was delivered.
    pub sighup: bool,
    /// Whether the node then reported forging disabled (or was gone).
    pub confirmed: bool,
    /// The sidecar came back while the watchdog acted: the heartbeat was left to it (and the
    /// standby set, unless it had gone in first). Absent in older logs.
    #[serde(default)]
    pub superseded: bool,
}

impl WatchdogEvent {
    /// The event as a journal record (kind `watchdog`, seq 0, not forging), for listings and
    /// the timeline.
    pub fn to_record(&self, region: &str) -> JournalRecord {
        JournalRecord {
            seq: 0,
            mono_ms: self.mono_ms,
            wall: self.wall.clone(),
            pool: String::new(),
            network: String::new(),
            region: region.to_owned(),
            pod: self.pod.clone(),
            node_pid: None,
            kind: RecordKind::Watchdog,
            role: "fenced".into(),
            forging: false,
            reason: Reason::RenewDeadlineExceeded,
            message: format!(
                "watchdog: the sidecar's heartbeat passed its fencing deadline: {} credential files removed, SIGHUP {}, node {}",
                self.removed,
                if self.sighup { "sent" } else { "not sent" },
                if self.confirmed {
                    "confirmed not forging"
                } else {
                    "did not confirm"
                }
            ) + if self.superseded {
                "; the sidecar came back meanwhile, so its heartbeat was left to it"
            } else {
                ""
            },
            inputs: serde_json::json!({
                "removed": self.removed,
                "sighup": self.sighup,
                "confirmed": self.confirmed,
                "superseded": self.superseded,
            }),
            actions: Vec::new(),
        }
    }

    /// The firing's wall time in ms since the epoch.
    pub fn wall_ms(&self) -> Option<i64> {
        wall_ms(&self.wall)
    }
}

/// Where the watchdog logs, given the heartbeat file it watches: `HEARTBEAT.log`.
pub fn log_path_for_heartbeat(heartbeat: &Path) -> PathBuf {
    let mut s = heartbeat.as_os_str().to_owned();
    s.push(".log");
    PathBuf::from(s)
}

/// Where a copy of the watchdog's log sits next to a journal file: `FILE.watchdog`.
pub fn log_path_for_journal(journal: &Path) -> PathBuf {
    let mut s = journal.as_os_str().to_owned();
    s.push(".watchdog");
    PathBuf::from(s)
}

/// Why the log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WatchdogLogError {
    /// Reading the file failed.
    #[error("{path}: reading the watchdog log failed: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`]: not a watchdog log.
    #[error("{path}: {bytes} bytes is too large for a watchdog log (at most {MAX_FILE_BYTES})")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// A line is not a watchdog event.
    #[error("{path}: line {line} is not a watchdog event: {source}")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// Writing the file failed.
    #[error("{path}: writing the watchdog log failed: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn read_text(path: &Path) -> Result<Option<String>, WatchdogLogError> {
    let read = |source| WatchdogLogError::Read {
        path: path.into(),
        source,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read(e)),
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(WatchdogLogError::TooLarge {
            path: path.into(),
            bytes: meta.len(),
        });
    }
    std::fs::read_to_string(path).map(Some).map_err(read)
}

/// The events in `path`, oldest first; a missing file has none.
pub fn read(path: &Path) -> Result<Vec<WatchdogEvent>, WatchdogLogError> {
    let Some(text) = read_text(path)? else {
        return Ok(Vec::new());
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|source| WatchdogLogError::BadLine {
                path: path.into(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

/// Appends `event`, keeping the newest [`MAX_EVENTS`] lines; atomic (temporary file, fsync,
/// rename). A damaged old line is dropped rather than blocking the record of a firing.
pub fn append(path: &Path, event: &WatchdogEvent) -> Result<(), WatchdogLogError> {
    let old = read_text(path).unwrap_or_default().unwrap_or_default();
    let mut lines: Vec<&str> = old
        .lines()
        .filter(|l| serde_json::from_str::<WatchdogEvent>(l).is_ok())
        .collect();
    let skip = (lines.len() + 1).saturating_sub(MAX_EVENTS);
    lines.drain(..skip);
    let new = serde_json::to_string(event).map_err(|e| WatchdogLogError::Write {
        path: path.into(),
        source: std::io::Error::other(e),
    })?;
    let write = |source| WatchdogLogError::Write {
        path: path.into(),
        source,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    {
        let mut f = std::fs::File::create(&tmp).map_err(write)?;
        for l in lines.iter().copied().chain(std::iter::once(new.as_str())) {
            f.write_all(l.as_bytes()).map_err(write)?;
            f.write_all(b"\n").map_err(write)?;
        }
        f.sync_all().map_err(write)?;
    }
    std::fs::rename(&tmp, path).map_err(write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: u64) -> WatchdogEvent {
        WatchdogEvent {
            wall: format!("2026-11-25T10:00:{:02}Z", i % 60),
            mono_ms: i * 1000,
            pod: "bp-0".into(),
            removed: 3,
            sighup: true,
            confirmed: true,
            superseded: false,
        }
    }

    #[test]
    fn firings_append_in_order_and_the_oldest_go_beyond_the_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hb.log");
        assert_eq!(read(&path).expect("missing is empty"), Vec::new());
        for i in 0..(MAX_EVENTS as u64 + 5) {
            append(&path, &event(i)).expect("append");
        }
        let events = read(&path).expect("read");
        assert_eq!(events.len(), MAX_EVENTS);
        assert_eq!(events[0], event(5));
        assert_eq!(events.last(), Some(&event(MAX_EVENTS as u64 + 4)));
    }

    #[test]
    fn a_file_that_is_not_a_watchdog_log_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hb.log");
        std::fs::write(&path, "{\"wall\":1}\n").expect("write");
        let err = read(&path).expect_err("bad line");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn a_firing_reads_as_a_non_forging_watchdog_record() {
        let r = event(3).to_record("eu");
        assert_eq!((r.kind, r.forging), (RecordKind::Watchdog, false));
        assert!(r.message.contains("confirmed not forging"), "{}", r.message);
        assert_eq!(
            log_path_for_journal(Path::new("/x/bp-0.redb")),
            PathBuf::from("/x/bp-0.redb.watchdog")
        );
    }
}
