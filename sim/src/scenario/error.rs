//! Why a scenario file is invalid (exit code 2): every variant names the file, and all but the
//! I/O and syntax ones name the key path (`fault[2].target`) and what was expected there.

/// An invalid scenario file.
#[derive(Debug, thiserror::Error)]
pub enum InvalidScenario {
    /// The file could not be read.
    #[error("{file}: cannot read the scenario file: {source}")]
    Unreadable {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than the limit.
    #[error("{file}: the scenario file has {bytes} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The file.
        file: String,
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// Not TOML at all; the message gives the line and column.
    #[error("{file}: not valid TOML: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The TOML parser's message (line, column, snippet).
        message: String,
    },
    /// A key the contract does not define.
    #[error("{file}: unknown key `{path}` (expected one of: {allowed})")]
    UnknownKey {
        /// The file.
        file: String,
        /// The full key path.
        path: String,
        /// The keys allowed at that place.
        allowed: String,
    },
    /// A required key is absent.
    #[error("{file}: missing key `{path}`: expected {expected}")]
    MissingKey {
        /// The file.
        file: String,
        /// The full key path.
        path: String,
        /// What it should hold.
        expected: String,
    },
    /// A key holds a value of the wrong type or out of range, or names something undeclared.
    #[error("{file}: `{path}`: expected {expected}, found {found}")]
    BadValue {
        /// The file.
        file: String,
        /// The full key path.
        path: String,
        /// What it should hold.
        expected: String,
        /// What it holds.
        found: String,
    },
}

impl InvalidScenario {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            InvalidScenario::Unreadable { file, .. }
            | InvalidScenario::TooLarge { file, .. }
            | InvalidScenario::Syntax { file, .. }
            | InvalidScenario::UnknownKey { file, .. }
            | InvalidScenario::MissingKey { file, .. }
            | InvalidScenario::BadValue { file, .. } => file,
        }
    }

    /// The key path the error is about, when there is one.
    pub fn path(&self) -> Option<&str> {
        match self {
            InvalidScenario::UnknownKey { path, .. }
            | InvalidScenario::MissingKey { path, .. }
            | InvalidScenario::BadValue { path, .. } => Some(path),
            _ => None,
        }
    }
}
