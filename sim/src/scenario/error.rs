//! Why a scenario file is invalid (exit code 2): every variant names the file, and all but the
//! I/O and syntax ones name the key path (`fault[2].target`), its line when it can be found, and
//! what was expected there: `scenarios/x.toml:12: `fault[2].target`: expected ..., found ...`.

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
    #[error("{}: unknown key `{path}` (expected one of: {allowed})", location(file, *line))]
    UnknownKey {
        /// The file.
        file: String,
        /// The 1-based line of the key, when found.
        line: Option<usize>,
        /// The full key path.
        path: String,
        /// The keys allowed at that place.
        allowed: String,
    },
    /// A required key is absent.
    #[error("{}: missing key `{path}`: expected {expected}", location(file, *line))]
    MissingKey {
        /// The file.
        file: String,
        /// The 1-based line of the table that lacks it, when there is one.
        line: Option<usize>,
        /// The full key path.
        path: String,
        /// What it should hold.
        expected: String,
    },
    /// A key holds a value of the wrong type or out of range, or names something undeclared.
    #[error("{}: `{path}`: expected {expected}, found {found}", location(file, *line))]
    BadValue {
        /// The file.
        file: String,
        /// The 1-based line of the key, when found.
        line: Option<usize>,
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

    /// The 1-based line the error is about, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            InvalidScenario::UnknownKey { line, .. }
            | InvalidScenario::MissingKey { line, .. }
            | InvalidScenario::BadValue { line, .. } => *line,
            _ => None,
        }
    }

    /// Fills in the line of the key path from the file's text.
    pub(super) fn with_line_from(mut self, text: &str) -> Self {
        if let InvalidScenario::UnknownKey { path, line, .. }
        | InvalidScenario::MissingKey { path, line, .. }
        | InvalidScenario::BadValue { path, line, .. } = &mut self
        {
            *line = super::locate::line_of(text, path);
        }
        self
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

/// `file:line` or `file`.
fn location(file: &str, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{file}:{line}"),
        None => file.to_owned(),
    }
}
