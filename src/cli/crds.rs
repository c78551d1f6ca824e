//! `forge-manager crds`: prints both CustomResourceDefinitions as one multi-document YAML stream
//! (the source of `deploy/crds/cardano-forge-crds.yaml`).

use std::io::Write;

/// Prints the CRDs to stdout; returns the exit code.
pub fn run() -> i32 {
    match crate::crd::crds_yaml() {
        Ok(yaml) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(yaml.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => 0,
                Err(err) => {
                    eprintln!("forge-manager crds: writing to stdout failed: {err}");
                    1
                }
            }
        }
        Err(err) => {
            eprintln!("forge-manager crds: {err}");
            1
        }
    }
}
