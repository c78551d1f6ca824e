//! Unit tests of the oracle on hand-written traces.
