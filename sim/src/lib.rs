//! forge-sim: the simulator of forge-manager, and the stand-ins it needs.
//!
//! # Layout
//!
//! - [`fake_node`]: `forge-sim fake-node`, a stand-in cardano-node process for end-to-end tests.

pub mod fake_node;
