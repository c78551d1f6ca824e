//! Unit tests of the scenario parser and writer (files in `scenarios/` are checked by
//! `sim/tests/scenario_files_parse.rs`).
