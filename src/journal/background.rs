//! A journal writer on its own thread, so the control loop never waits for an fsync.
//!
//! [`JournalWriter::record`] checks the record (key material, wall time) and puts it on a bounded
//! queue without blocking: microseconds, whatever the disk does. The thread takes whatever is
//! queued (up to [`MAX_BATCH`]) and appends it in one durable transaction, so under load many
//! records share one fsync. If the disk stalls long enough to fill the queue, new records are
//! dropped and counted ([`JournalWriter::dropped`]) rather than delaying a demotion: the journal
//! is evidence, the demotion is safety.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::error::AppendError;
use super::record::{JournalRecord, find_key_material, wall_ms};
use super::renewals::Renewal;
use super::writer::{Journal, MAX_BATCH};

/// Why [`JournalWriter::record`] did not queue a record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record itself is refused (key material, bad wall time): a caller bug.
    #[error(transparent)]
    Refused(AppendError),
    /// The queue is full (the disk is slow or stalled): the record is dropped and counted.
    #[error("journal queue full: record dropped")]
    QueueFull,
    /// The writer thread has stopped (after a write error, see [`JournalWriter::last_error`]).
    #[error("journal writer stopped")]
    Stopped,
}

#[derive(Default)]
struct Shared {
    /// `mono_ms` of the last record queued, plus one (0: none yet).
    last_mono_plus_one: AtomicU64,
    dropped: AtomicU64,
    committed_seq: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// What the queue carries: records, and lease renewals' outcomes.
enum Entry {
    // Boxed: a record is ten times the size of a renewal.
    Record(Box<JournalRecord>),
    Renewal(Renewal),
}

/// Owns a [`Journal`] on a background thread; see the module documentation.
pub struct JournalWriter {
    tx: Option<SyncSender<Entry>>,
    shared: Arc<Shared>,
    view: super::JournalView,
    thread: Option<JoinHandle<Journal>>,
}

impl std::fmt::Debug for JournalWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalWriter")
            .field("committed_seq", &self.committed_seq())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl JournalWriter {
    /// Moves `journal` to a new thread with a queue of `capacity` records (at least 1).
    pub fn spawn(journal: Journal, capacity: usize) -> std::io::Result<JournalWriter> {
        let (tx, rx) = sync_channel(capacity.max(1));
        let shared = Arc::new(Shared::default());
        shared
            .committed_seq
            .store(journal.last_seq(), Ordering::Release);
        let view = journal.view();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer_loop(journal, rx, &thread_shared))?;
        Ok(JournalWriter {
            tx: Some(tx),
            shared,
            view,
            thread: Some(thread),
        })
    }

    /// Queues a record without blocking. Checks it first, so a refused record never reaches the
    /// thread (where it would fail a whole batch).
    pub fn record(&self, record: JournalRecord) -> Result<(), RecordError> {
        if let Some(path) = find_key_material(&record) {
            return Err(RecordError::Refused(AppendError::KeyMaterial { path }));
        }
        if wall_ms(&record.wall).is_none() {
            return Err(RecordError::Refused(AppendError::BadWallTime {
                wall: record.wall,
            }));
        }
        let Some(tx) = &self.tx else {
            return Err(RecordError::Stopped);
        };
        let mono = record.mono_ms;
        match tx.try_send(Entry::Record(Box::new(record))) {
            Ok(()) => {
                self.shared
                    .last_mono_plus_one
                    .store(mono.saturating_add(1), Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                Err(RecordError::QueueFull)
            }
            Err(TrySendError::Disconnected(_)) => Err(RecordError::Stopped),
        }
    }

    /// Queues a lease renewal's outcome without blocking (dropped and counted when the queue is
    /// full, like a record).
    pub fn renewal(&self, renewal: Renewal) -> Result<(), RecordError> {
        let Some(tx) = &self.tx else {
            return Err(RecordError::Stopped);
        };
        match tx.try_send(Entry::Renewal(renewal)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                Err(RecordError::QueueFull)
            }
            Err(TrySendError::Disconnected(_)) => Err(RecordError::Stopped),
        }
    }

    /// Whether a heartbeat is due: no record was queued for `every` on the pod's monotonic clock.
    pub fn heartbeat_due(&self, now_mono_ms: u64, every: std::time::Duration) -> bool {
        match self.shared.last_mono_plus_one.load(Ordering::Relaxed) {
            0 => true,
            last => now_mono_ms.saturating_sub(last - 1) >= crate::core::time::duration_ms(every),
        }
    }

    /// A read handle for queries and snapshots while the thread writes (for `/journal`).
    pub fn view(&self) -> super::JournalView {
        self.view.clone()
    }

    /// Records dropped because the queue was full or their batch failed to commit.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// The last seq durably committed by the thread.
    pub fn committed_seq(&self) -> u64 {
        self.shared.committed_seq.load(Ordering::Acquire)
    }

    /// The error that stopped the thread, if any.
    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Writes everything queued, stops the thread and returns the journal (for a graceful
    /// shutdown: the caller appends its `Shutdown` record after this, or before via `record`).
    pub fn close(mut self) -> Option<Journal> {
        self.tx = None;
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn writer_loop(mut journal: Journal, rx: Receiver<Entry>, shared: &Shared) -> Journal {
    // Ends when every sender is gone and the queue is drained.
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let mut records = Vec::with_capacity(batch.len());
        let mut renewals = Vec::new();
        for entry in batch {
            match entry {
                Entry::Record(r) => records.push(*r),
                Entry::Renewal(r) => renewals.push(r),
            }
        }
        let n = records.len() as u64;
        if n > 0 {
            match journal.append_many(records) {
                Ok(seq) => shared.committed_seq.store(seq, Ordering::Release),
                Err(e) => failed(shared, &e, n),
            }
        }
        if !renewals.is_empty()
            && let Err(e) = journal.append_renewals(&renewals)
        {
            failed(shared, &e, renewals.len() as u64);
        }
    }
    journal
}

/// A failed commit (disk full, I/O error) loses its batch, counted as dropped; the next batch
/// tries again.
fn failed(shared: &Shared, e: &AppendError, n: u64) {
    if let Ok(mut slot) = shared.last_error.lock() {
        *slot = Some(e.to_string());
    }
    shared.dropped.fetch_add(n, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::reason::Reason;
    use crate::journal::ReadJournal;
    use crate::journal::demo::record;
    use crate::journal::{JournalConfig, Query, RecordKind, SyncMode};

    fn rec(i: i64) -> JournalRecord {
        record(
            "bp-0",
            "eu",
            1_795_600_800_000 + i,
            RecordKind::Decision,
            "leader",
            true,
            Reason::Forging,
            "x",
        )
    }

    #[test]
    fn queued_records_are_all_written_in_order_when_the_writer_closes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::open(
            dir.path().join("j"),
            JournalConfig {
                sync: SyncMode::Durable,
                ..JournalConfig::default()
            },
        )
        .expect("open");
        let w = JournalWriter::spawn(j, 1024).expect("spawn");
        for i in 0..500 {
            w.record(rec(i)).expect("queued");
        }
        let j = w.close().expect("journal back");
        let seqs: Vec<_> = j
            .query(&Query::default())
            .expect("query")
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, (1..=500).collect::<Vec<_>>());
    }

    #[test]
    fn a_refused_record_is_reported_to_the_caller_and_never_queued() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::open(dir.path().join("j"), JournalConfig::default()).expect("open");
        let w = JournalWriter::spawn(j, 4).expect("spawn");
        let mut bad = rec(0);
        bad.inputs = serde_json::json!({"cborHex": "00"});
        assert!(matches!(w.record(bad), Err(RecordError::Refused(_))));
        w.record(rec(1)).expect("queued");
        let j = w.close().expect("journal back");
        assert_eq!(j.last_seq(), 1);
    }

    #[test]
    fn a_full_queue_drops_and_counts_records_instead_of_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::open(
            dir.path().join("j"),
            JournalConfig {
                sync: SyncMode::Durable,
                ..JournalConfig::default()
            },
        )
        .expect("open");
        let w = JournalWriter::spawn(j, 1).expect("spawn");
        let mut full = 0u64;
        for i in 0..2_000 {
            match w.record(rec(i)) {
                Ok(()) => {}
                Err(RecordError::QueueFull) => full += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(w.dropped(), full);
        let j = w.close().expect("journal back");
        assert_eq!(
            j.last_seq() + full,
            2_000,
            "every record is either written or counted"
        );
    }

    #[test]
    fn a_view_reads_and_snapshots_while_the_thread_writes_and_heartbeats_follow_queued_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::open(dir.path().join("j"), JournalConfig::default()).expect("open");
        let w = JournalWriter::spawn(j, 64).expect("spawn");
        assert!(w.heartbeat_due(0, std::time::Duration::from_secs(30)));
        let mut r = rec(0);
        r.mono_ms = 5_000;
        w.record(r).expect("queued");
        assert!(!w.heartbeat_due(34_999, std::time::Duration::from_secs(30)));
        assert!(w.heartbeat_due(35_000, std::time::Duration::from_secs(30)));
        let view = w.view();
        for i in 1..20 {
            w.record(rec(i)).expect("queued");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while w.committed_seq() < 20 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(view.stats().expect("stats").records, 20);
        assert_eq!(
            view.snapshot_to(dir.path().join("snap")).expect("snapshot"),
            20
        );
        drop(w);
    }
}
