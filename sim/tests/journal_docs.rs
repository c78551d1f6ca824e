//! docs/journal.md is true: every `$ forge-manager journal …` command it shows runs, as written,
//! on the journals it names (`DIR/`: the simulator's journals of partition-leader-from-api;
//! `CANARY/` and `HANDOFF/`: two broken cores' journals, see [`JOURNALS`]), and exits as the
//! guide says (`(exit N)` under it, else 0). The lines the guide quotes after `!!`, `??` or
//! `no overlap` must appear in the real output.
//!
//! Regenerate the guide's examples from the real output:
//! `cargo test -p forge-sim --test journal_docs -- --nocapture`.

use std::path::Path;

use clap::Parser;
use forge_manager::cli::{Cli, Command};
use forge_sim::runner::{RunOptions, run};
use forge_sim::scenario::Scenario;

const GUIDE: &str = include_str!("../../docs/journal.md");

/// A documented command: its words after `forge-manager`, its exit code, and the summary lines
/// the guide shows for it.
struct Documented {
    line: String,
    exit: i32,
    quoted: Vec<String>,
}

fn documented() -> Vec<Documented> {
    let mut out: Vec<Documented> = Vec::new();
    let mut in_fence = false;
    for line in GUIDE.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ forge-manager ") {
            out.push(Documented {
                line: cmd.trim().to_owned(),
                exit: 0,
                quoted: Vec::new(),
            });
        } else if line.starts_with("$ ") {
            // Another program (forge-sim, echo): not ours to run here.
            continue;
        } else if let Some(last) = out.last_mut() {
            if let Some(code) = line
                .strip_prefix("(exit ")
                .and_then(|r| r.strip_suffix(')'))
            {
                last.exit = code.parse().expect("exit code");
            } else if line.starts_with("!! ")
                || line.starts_with("?? ")
                || line.starts_with("no overlap")
                || line.contains("decisions replayed")
                || line.contains("replayed, all identical")
                || line.contains(" diverges after ")
                || line.contains("cross-region round")
                || is_divergence_row(line)
            {
                // Quoted up to a cut (`…`), if any.
                let kept = line.split('…').next().unwrap_or(line).trim_end();
                last.quoted.push(kept.to_owned());
            }
        }
    }
    out
}

/// A row of `replay`'s side-by-side table of a divergence (`  actions  recorded  replayed`).
fn is_divergence_row(line: &str) -> bool {
    const FIELDS: [&str; 11] = [
        "role",
        "reason",
        "entitled",
        "actions",
        "wake_by_ms",
        "shutdown_complete",
        "next_state",
        "message",
        "gate",
        "cluster_actions",
        "preferred",
    ];
    line.starts_with("  ")
        && line
            .split_whitespace()
            .next()
            .is_some_and(|w| FIELDS.contains(&w))
}

fn scenario(file: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(file);
    Scenario::from_file(&path).expect("scenario")
}

/// The guide's journal directories: its placeholder, the scenario file, and the broken core that
/// wrote them (none: the correct one).
const JOURNALS: [(&str, &str, Option<forge_sim::canary::Broken>); 3] = [
    ("DIR/", "partition-leader-from-api.toml", None),
    (
        "CANARY/",
        "canary-release-before-verified-freeze.toml",
        Some(forge_sim::canary::Broken::ReleaseBeforeDemotionVerified),
    ),
    (
        "HANDOFF/",
        "node-slow-disabled-region-handover.toml",
        Some(forge_sim::canary::Broken::HandoffBeforeDemotionVerified),
    ),
];

/// The words of `line` with each placeholder of `dirs` made real, `*.redb` expanded (sorted).
fn words(line: &str, dirs: &[(&str, std::path::PathBuf)]) -> Vec<String> {
    let mut out = Vec::new();
    for w in line.split_whitespace() {
        let mut real = w.to_owned();
        for (placeholder, dir) in dirs {
            real = real.replace(placeholder, &format!("{}/", dir.display()));
        }
        if let Some(base) = real.strip_suffix("*.redb") {
            let mut files: Vec<String> = std::fs::read_dir(base)
                .expect("journal dir")
                .map(|e| e.expect("entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "redb"))
                .map(|p| p.display().to_string())
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(real);
        }
    }
    out
}

#[test]
fn every_command_of_the_journal_guide_runs_as_documented() {
    let commands = documented();
    assert!(
        commands.len() >= 10,
        "the guide shows {} commands",
        commands.len()
    );
    let root = tempfile::tempdir().expect("tempdir");
    let mut dirs = Vec::new();
    for (placeholder, file, broken) in JOURNALS {
        let dir = root.path().join(placeholder.trim_end_matches('/'));
        std::fs::create_dir_all(&dir).expect("mkdir");
        run(
            &scenario(file),
            &RunOptions {
                journal_dir: Some(dir.clone()),
                broken,
                ..RunOptions::default()
            },
        )
        .expect("run");
        dirs.push((placeholder, dir));
    }

    let mut problems = Vec::new();
    for c in &commands {
        let mut argv = vec!["forge-manager".to_owned()];
        argv.extend(words(&c.line, &dirs));
        let Command::Journal(args) = Cli::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("$ forge-manager {}: {e}", c.line))
            .command
        else {
            panic!("not a journal command: {}", c.line);
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = forge_manager::cli::journal::run_to(args, &mut out, &mut err);
        // Paths as the guide writes them.
        let as_guide = |b: &[u8]| {
            let mut text = String::from_utf8_lossy(b).into_owned();
            for (placeholder, dir) in &dirs {
                text = text.replace(&format!("{}/", dir.display()), placeholder);
            }
            text
        };
        let (out, err) = (as_guide(&out), as_guide(&err));
        eprintln!("$ forge-manager {}\n{out}{err}(exit {code})\n", c.line);
        if code != c.exit {
            problems.push(format!(
                "$ forge-manager {}: exit {code}, the guide says {}",
                c.line, c.exit
            ));
        }
        for q in &c.quoted {
            if !out.lines().any(|l| l.starts_with(q.as_str())) {
                problems.push(format!(
                    "$ forge-manager {}: the guide quotes {q:?}, not in the output",
                    c.line
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
