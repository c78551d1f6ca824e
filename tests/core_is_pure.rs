//! Guards the layering of docs/architecture.md ("Code layout"): the safety core does no I/O and
//! names no runtime, client or system crate. A regression here would let a clock read or a network
//! call slip into a decision that must be a pure function of its observations.

use std::path::Path;

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
    "crate::ports",
    "crate::runtime",
    "crate::adapters",
    "crate::config",
    "crate::journal",
];

fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter(|(_, l)| {
        let t = l.trim_start();
        !(t.starts_with("//") || t.starts_with("///") || t.starts_with("//!"))
    })
}

#[test]
fn the_core_names_no_io_runtime_or_client_crate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let mut offences = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.map(|e| e.path()).unwrap_or_default();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
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
