//! Guards the layering of docs/architecture.md ("Code layout"): dependencies point down, never up.
//! A module may use modules of its own layer or below; a lower layer that names a higher one (the
//! core or the ports reaching for the runtime, adapters or the CLI) fails here, with the line.
//!
//! The core is a crate of its own (`crates/forge-core`): it cannot name anything of this crate at
//! all, which the compiler enforces. This test covers the modules of `src/`. Test code (`tests.rs`,
//! `*_tests.rs`, and everything after a file's `#[cfg(test)]`) may use the in-memory fakes of
//! `testing` and anything else, and comments are not code.

use std::path::Path;

#[path = "support/source_files.rs"]
mod source_files;

/// The layers of `src/`, lowest first (docs/architecture.md). `core` is the re-exported crate.
const LAYERS: &[&[&str]] = &[
    &["core"],
    &["crd"],
    &[
        "ports",
        "config",
        "journal",
        "credentials",
        "report",
        "metrics",
    ],
    &["runtime", "watchdog", "adapters", "events"],
    &["http", "logging", "cli", "plugin"],
];

/// The layer of a top-level module, if it is one the table knows.
fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a file of `src/` belongs to (`src/runtime/cluster/mod.rs` → `runtime`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_owned())
}

/// `crate::x` references in the production code of a file's text, with their line numbers.
fn references(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push((n + 1, name));
        }
    }
    out
}

/// Every upward reference in production code under `src`, as `file:line: a -> b` lines.
fn upward_references(src: &Path) -> (usize, Vec<String>) {
    let files = source_files::rust_files(src);
    let mut checked = 0;
    let mut offences = Vec::new();
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "tests.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let Some(from) = module_of(src, &file) else {
            continue;
        };
        // lib.rs and main.rs sit above every layer; `testing` is test-only code.
        let Some(from_layer) = layer_of(&from) else {
            continue;
        };
        checked += 1;
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (line, to) in references(&text) {
            if to == from {
                continue;
            }
            let allowed = layer_of(&to).is_some_and(|l| l <= from_layer);
            if !allowed {
                offences.push(format!("{}:{line}: {from} -> {to}", file.display()));
            }
        }
    }
    (checked, offences)
}

#[test]
fn no_module_of_src_names_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (checked, offences) = upward_references(&src);
    assert!(checked >= 20, "expected the modules of {}", src.display());
    assert!(
        offences.is_empty(),
        "dependencies must point down (docs/architecture.md, \"Code layout\"):\n{}",
        offences.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
    let unplaced: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';'))
        .filter(|m| *m != "testing" && layer_of(m).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from LAYERS: {unplaced:?}"
    );
}

#[test]
fn the_check_reads_references_and_skips_comments_and_tests() {
    let sample = "use crate::runtime::Status;\n// crate::cli in a comment\nlet x = crate::ports::Kube;\n#[cfg(test)]\nuse crate::cli;\n";
    let refs = references(sample);
    assert_eq!(
        refs,
        vec![(1, "runtime".to_owned()), (3, "ports".to_owned())]
    );
    assert!(layer_of("runtime") > layer_of("ports"));
    assert_eq!(layer_of("nowhere"), None);
}
