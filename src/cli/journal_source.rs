//! Where `forge-manager journal` reads a journal from: the file itself, or, when the running
//! sidecar holds the file's lock, a consistent snapshot fetched from the sidecar's `/journal`
//! endpoint (`crate::http::journal`) on `127.0.0.1:METRICS_PORT`.
//!
//! Without a FILE argument the verbs read `JOURNAL_PATH` (the sidecar's default path when unset),
//! so `kubectl exec POD -c cardano-forge-manager -- /forge-manager journal timeline` works as
//! the operations guide writes it. The watchdog's log is read alongside: `FILE.watchdog` next to
//! a journal (how a copy keeps it), and for the sidecar's own journal `HEARTBEAT_PATH.log` (where
//! the watchdog writes it), or `/journal/watchdog` with a snapshot.
//!
//! Bounded: the snapshot is refused beyond [`MAX_SNAPSHOT_BYTES`], the response head beyond
//! 64 KiB, and every read waits at most [`HTTP_TIMEOUT`]. The snapshot goes to a temporary file
//! (in `TMPDIR`, or next to the journal when the root file system is read-only, as in the pod),
//! removed when the command ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::http::journal::MAX_SNAPSHOT_BYTES;
use crate::journal::watchdog_log;
use crate::journal::{JournalReader, OpenError};

/// The sidecar's journal when `JOURNAL_PATH` is unset (as `Config`'s default).
pub const DEFAULT_JOURNAL_PATH: &str = "/var/lib/forge-manager/journal.redb";

/// The sidecar's heartbeat when `HEARTBEAT_PATH` is unset (as `Config`'s default).
pub const DEFAULT_HEARTBEAT_PATH: &str = "/opt/cardano/secrets/.forge-manager-heartbeat";

/// Longest wait for the sidecar's answer, per read.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a journal could not be read through the sidecar.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// No connection to the sidecar's port.
    #[error(
        "{path} is in use by the running sidecar, and its /journal endpoint on {addr} did not answer: {source}"
    )]
    Connect {
        /// The journal.
        path: PathBuf,
        /// Where we asked.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The sidecar answered with an error.
    #[error("{path} is in use by the running sidecar, and {url} answered {status}: {body}")]
    Status {
        /// The journal.
        path: PathBuf,
        /// What we asked for.
        url: String,
        /// The HTTP status line's code.
        status: u16,
        /// The answer's first bytes.
        body: String,
    },
    /// The answer broke off, was malformed or too large.
    #[error("reading {url}: {detail}")]
    Transfer {
        /// What we asked for.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// No place to keep the snapshot.
    #[error("no writable place for the journal's snapshot (tried {tried}): {source}")]
    Temp {
        /// The directories tried.
        tried: String,
        /// The last error.
        #[source]
        source: std::io::Error,
    },
}

/// An opened journal and where its watchdog log may be.
pub struct Source {
    /// The journal.
    pub reader: JournalReader,
    /// Watchdog logs that belong to it (missing ones are simply empty).
    pub watchdog_logs: Vec<PathBuf>,
    /// The temporary snapshot (and its watchdog log), removed on drop.
    temp: Vec<PathBuf>,
}

impl Source {
    /// A journal opened from its file, with the watchdog log next to it.
    pub fn file(reader: JournalReader, path: &Path) -> Source {
        Source {
            reader,
            watchdog_logs: vec![watchdog_log::log_path_for_journal(path)],
            temp: Vec::new(),
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        for p in &self.temp {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `JOURNAL_PATH`, or the sidecar's default.
pub fn default_journal() -> PathBuf {
    std::env::var_os("JOURNAL_PATH")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_JOURNAL_PATH), PathBuf::from)
}

fn sidecar_port() -> u16 {
    std::env::var("METRICS_PORT")
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(8000)
}

fn is_own_journal(path: &Path) -> bool {
    path == default_journal()
}

/// Where the watchdog writes its log in this pod.
fn own_watchdog_log() -> PathBuf {
    let heartbeat = std::env::var_os("HEARTBEAT_PATH")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_HEARTBEAT_PATH), PathBuf::from);
    watchdog_log::log_path_for_heartbeat(&heartbeat)
}

/// Why opening failed: the file's own error, or the sidecar route's.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file could not be opened (and was not in use).
    #[error(transparent)]
    Open(Box<OpenError>),
    /// It was in use, and the sidecar route failed.
    #[error(transparent)]
    Remote(Box<RemoteError>),
}

/// Opens `path`; when a running sidecar holds it, reads a snapshot through the sidecar instead
/// and says so on stderr.
pub fn open(path: &Path) -> Result<Source, SourceError> {
    let mut watchdog_logs = vec![watchdog_log::log_path_for_journal(path)];
    if is_own_journal(path) {
        watchdog_logs.push(own_watchdog_log());
    }
    match JournalReader::open(path) {
        Ok(reader) => Ok(Source {
            reader,
            watchdog_logs,
            temp: Vec::new(),
        }),
        Err(OpenError::InUse { .. }) => via_sidecar(path, watchdog_logs).map_err(|e| match e {
            Via::Open(e) => SourceError::Open(Box::new(e)),
            Via::Remote(e) => SourceError::Remote(Box::new(e)),
        }),
        Err(e) => Err(SourceError::Open(Box::new(e))),
    }
}

enum Via {
    Open(OpenError),
    Remote(RemoteError),
}

fn via_sidecar(path: &Path, mut watchdog_logs: Vec<PathBuf>) -> Result<Source, Via> {
    let addr = format!("127.0.0.1:{}", sidecar_port());
    eprintln!(
        "forge-manager journal: {} is in use by the running sidecar: reading a consistent snapshot from http://{addr}/journal",
        path.display()
    );
    let snapshot = temp_path(path, "redb").map_err(Via::Remote)?;
    let mut temp = vec![snapshot.clone()];
    let fetched = get_to_file(&addr, "/journal", path, &snapshot, MAX_SNAPSHOT_BYTES);
    if let Err(e) = fetched {
        let _ = std::fs::remove_file(&snapshot);
        return Err(Via::Remote(e));
    }
    // The watchdog's log as the sidecar sees it (best effort: the snapshot is what matters).
    let log = watchdog_log::log_path_for_journal(&snapshot);
    if get_to_file(
        &addr,
        "/journal/watchdog",
        path,
        &log,
        watchdog_log::MAX_FILE_BYTES,
    )
    .is_ok()
    {
        temp.push(log.clone());
        watchdog_logs.push(log);
    }
    match JournalReader::open(&snapshot) {
        Ok(reader) => Ok(Source {
            reader,
            watchdog_logs,
            temp,
        }),
        Err(e) => {
            for p in &temp {
                let _ = std::fs::remove_file(p);
            }
            Err(Via::Open(e))
        }
    }
}

/// A new file name in `TMPDIR`, or next to the journal when that is not writable.
fn temp_path(journal: &Path, ext: &str) -> Result<PathBuf, RemoteError> {
    let name = format!(
        ".forge-manager-journal-{}-{}.{ext}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond()
    );
    let dirs = [
        std::env::temp_dir(),
        journal
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    ];
    let mut last = None;
    for dir in &dirs {
        let candidate = dir.join(&name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(_) => {
                // redb creates its own file: leave the name free, we only proved the place works.
                let _ = std::fs::remove_file(&candidate);
                return Ok(candidate);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(RemoteError::Temp {
        tried: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        source: last.unwrap_or_else(|| std::io::Error::other("no directory")),
    })
}

/// `GET path` from `addr` (plain HTTP/1.0, read to close) into `dest`, at most `max` bytes.
fn get_to_file(
    addr: &str,
    target: &str,
    journal: &Path,
    dest: &Path,
    max: u64,
) -> Result<(), RemoteError> {
    let url = format!("http://{addr}{target}");
    let transfer = |detail: String| RemoteError::Transfer {
        url: url.clone(),
        detail,
    };
    let mut stream = TcpStream::connect(addr).map_err(|source| RemoteError::Connect {
        path: journal.into(),
        addr: addr.into(),
        source,
    })?;
    stream
        .set_read_timeout(Some(HTTP_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(HTTP_TIMEOUT)))
        .map_err(|e| transfer(e.to_string()))?;
    write!(
        stream,
        "GET {target} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| transfer(e.to_string()))?;
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(64 << 10)
            .read_line(&mut line)
            .map_err(|e| transfer(e.to_string()))?;
        if n == 0 {
            return Err(transfer("the answer ended inside its head".into()));
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push(line.trim_end().to_owned());
        if head.len() > 100 {
            return Err(transfer("the answer's head is too long".into()));
        }
    }
    let status: u16 = head
        .first()
        .and_then(|s| s.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| transfer(format!("not an HTTP answer: {:?}", head.first())))?;
    if status != 200 {
        let mut body = String::new();
        let _ = reader.take(4096).read_to_string(&mut body);
        return Err(RemoteError::Status {
            path: journal.into(),
            url: url.clone(),
            status,
            body: body.trim().to_owned(),
        });
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(|e| transfer(format!("{}: {e}", dest.display())))?;
    let copied =
        std::io::copy(&mut reader.take(max + 1), &mut file).map_err(|e| transfer(e.to_string()))?;
    if copied > max {
        let _ = std::fs::remove_file(dest);
        return Err(transfer(format!("more than {max} bytes")));
    }
    file.sync_all().map_err(|e| transfer(e.to_string()))?;
    Ok(())
}
