//! The production bindings of the ports: the real Kubernetes API, file system, clock and
//! cardano-node. Thin on purpose: every decision is made in the core.

pub mod kube;
