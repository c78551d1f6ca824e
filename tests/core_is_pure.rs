//! Guards the purity of the safety core (docs/architecture.md, "Code layout"), which is its own
//! crate, `crates/forge-core`. Two checks: the crate graph (the compiler's view: `cargo tree` shows
//! no kube, k8s-openapi, tokio, nix or other I/O crate below forge-core), and its source (what a
//! crate graph cannot see: `std::fs`, `std::net`, clock reads). A regression here would let a clock
//! read or a network call slip into a decision that must be a pure function of its observations.

use std::path::Path;

#[path = "support/source_files.rs"]
mod source_files;

/// Words that must not appear in the core's code (comments are skipped).
const FORBIDDEN: &[&str] = &[
    "tokio",
    "kube",
    "k8s_openapi",
    "nix::",
    "std::fs",
    "std::net",
    "std::process",
    "std::thread",
    "Instant::now",
    "SystemTime",
    "async ",
    ".await",
    "rand::",
    "forge_manager",
];

/// Crates that must not appear anywhere in forge-core's dependency graph.
const FORBIDDEN_CRATES: &[&str] = &[
    "kube",
    "kube-client",
    "kube-core",
    "k8s-openapi",
    "tokio",
    "nix",
    "hyper",
    "redb",
    "axum",
    "rand",
    "jiff",
    "libc",
    "forge-manager",
];

/// The crate names of `cargo tree` output lines (`name vX.Y.Z ...`).
fn crate_names(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[test]
fn the_core_crate_depends_on_no_io_runtime_or_client_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(&cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--offline",
            "-p",
            "forge-core",
            "-e",
            "normal,build",
        ])
        .args(["--prefix", "none", "--all-features"])
        .output()
        .unwrap_or_else(|e| panic!("{cargo} tree: {e}"));
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && tree.starts_with("forge-core "),
        "cargo tree -p forge-core failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = crate_names(&tree);
    let bad: Vec<_> = names
        .iter()
        .filter(|n| FORBIDDEN_CRATES.contains(n))
        .collect();
    assert!(
        bad.is_empty(),
        "forge-core must stay pure, but depends on {bad:?}:\n{tree}"
    );
}

#[test]
fn the_crate_check_reads_crate_names() {
    let sample = "forge-core v0.1.0 (/x)\nserde v1.0.0\ntokio v1.48.0 (*)\n";
    assert_eq!(crate_names(sample), vec!["forge-core", "serde", "tokio"]);
}

fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter(|(_, l)| {
        let t = l.trim_start();
        !(t.starts_with("//") || t.starts_with("///") || t.starts_with("//!"))
    })
}

#[test]
fn the_core_names_no_io_runtime_or_client_crate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/forge-core/src");
    let mut offences = Vec::new();
    let mut files = 0;
    // Every module, sub-folders (`election/`) included.
    for path in source_files::rust_files(&dir) {
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for (n, line) in code_lines(&text) {
            for word in FORBIDDEN {
                if line.contains(word) {
                    offences.push(format!(
                        "{}:{}: `{word}` in: {}",
                        path.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        files >= 6,
        "expected the core's modules under {}",
        dir.display()
    );
    assert!(
        offences.is_empty(),
        "the core must stay pure:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_purity_check_itself_catches_an_offence() {
    let sample = "use std::fs::read;\n// tokio in a comment is fine\nlet x = y.await;\n";
    let hits: Vec<_> = code_lines(sample)
        .filter(|(_, l)| FORBIDDEN.iter().any(|w| l.contains(w)))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(hits, vec![0, 2]);
}

/// Names of the canary's broken variants (sim/src/canary.rs), in code and command-line spelling.
const CANARY_WORDS: &[&str] = &[
    "broken-core",
    "broken::",
    "Broken::",
    "broken!",
    "WallClockExpiry",
    "PromoteBeforeAcquire",
    "NoSelfFencing",
    "ReleaseBeforeDemotionVerified",
    "PromoteOnNewLease",
    "HandoffBeforeDemotionVerified",
    "WorseRegionTakesAtOnce",
    "WatchdogFromPromotion",
    "wall-clock-expiry",
    "no-self-fencing",
];

/// The canary lives in the simulator only: neither the core nor the sidecar's library names a
/// broken variant in code, and `forge-manager` offers no way to run one.
#[test]
fn the_production_code_has_no_broken_variant_and_no_switch() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut offences = Vec::new();
    let mut files = source_files::rust_files(&root.join("src"));
    files.extend(source_files::rust_files(
        &root.join("crates/forge-core/src"),
    ));
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for (n, line) in code_lines(&text) {
            if let Some(w) = CANARY_WORDS.iter().find(|w| line.contains(*w)) {
                offences.push(format!("{}:{}: `{w}`", path.display(), n + 1));
            }
        }
    }
    assert!(
        files.len() > 50,
        "expected the sources, found {}",
        files.len()
    );
    assert!(offences.is_empty(), "{}", offences.join("\n"));
    for args in [&["--help"][..], &["run", "--help"], &["watchdog", "--help"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_forge-manager"))
            .args(args)
            .output()
            .expect("run forge-manager");
        let help = String::from_utf8_lossy(&out.stdout).to_lowercase();
        assert!(out.status.success(), "{args:?}");
        assert!(
            !help.contains("broken") && !help.contains("canary"),
            "{args:?} offers a broken core:\n{help}"
        );
    }
}
