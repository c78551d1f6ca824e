//! A read-only view of a journal that is being written: what the sidecar's `/journal` endpoint
//! and `/status` use while the control loop (or [`super::JournalWriter`]'s thread) appends.

use std::sync::Arc;

use redb::Database;

/// A cheap, cloneable, thread-safe read handle on an open [`super::Journal`]. Every call runs in
/// its own redb read transaction: a consistent snapshot of the committed records.
#[derive(Clone)]
pub struct JournalView {
    db: Arc<Database>,
}

impl std::fmt::Debug for JournalView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalView").finish_non_exhaustive()
    }
}

impl JournalView {
    pub(crate) fn new(db: Arc<Database>) -> Self {
        JournalView { db }
    }
}

impl super::ReadJournal for JournalView {
    fn database(&self) -> &Database {
        &self.db
    }
}
