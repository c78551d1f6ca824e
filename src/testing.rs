//! In-memory fakes of the four ports.
