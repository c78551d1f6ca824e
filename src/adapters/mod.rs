//! The production bindings of the ports: the Kubernetes API (kube client), the real clock, the local
//! file system and the cardano-node process next to us (`/proc`, signals, its Unix socket and its
//! Prometheus endpoint).
//!
//! Nothing here decides anything: each adapter does one kind of I/O, bounds it (timeouts, sizes)
//! and maps failures onto the port's error kinds. The simulator uses only the kube adapter (over
//! turmoil's network); it has its own clock, file system and node.

pub mod clock;
pub mod fs;
pub mod health;
pub mod kube;
pub mod node;
pub mod watch_cache;

mod http_get;
mod prom;

pub use clock::SystemClock;
pub use fs::LocalFs;
pub use health::HttpHealthProbe;
pub use kube::KubeAdapter;
pub use node::{InvalidMetricsUrl, ProcNode};
