//! The shell blocks of README.md and docs/ are true. Every ```sh or ```bash block carries, on the
//! line above it, how it is checked:
//! - `<!-- doc-test: lab -->`: run as written (`bash -euo pipefail`), in order with the other lab
//!   blocks of its file, against a running `forge-sim lab` (two regions of one pod), with kubectl
//!   and a fresh HOME whose `~/.local/bin` and `~/.cargo/bin` are on PATH and `forge-manager` on
//!   PATH. The lab's placeholders `/tmp/forge-lab-<pid>/kubeconfig` and `<port>` become the lab's
//!   kubeconfig and the first pod's metrics port;
//!   `<!-- doc-test: lab, fresh -->` starts a new procedure: every region's policy is first put
//!   back as the lab made it (forgeState Priority-based, no override, priority by position);
//! - `<!-- doc-test: repo -->`: run as written in the repository root, `forge-manager` on PATH;
//! - `<!-- doc-test: skip: REASON -->`: not run, for the reason given.
//!
//! A block without a mark fails the test, so a new block is classified when it is written.
//!
//! kubectl must be on PATH (CI runs `.ci/install-tools.sh`).

mod processes;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use processes::*;

/// How a block is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Check {
    /// Against the lab; `true`: with every region's policy reset first.
    Lab(bool),
    Repo,
    Skip(String),
}

#[derive(Debug)]
struct Block {
    file: String,
    line: usize,
    check: Option<Check>,
    text: String,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md and every docs/*.md, in that order (docs by name).
fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    std::iter::once(root().join("README.md"))
        .chain(docs)
        .collect()
}

fn parse_mark(line: &str) -> Option<Check> {
    let inner = line
        .trim()
        .strip_prefix("<!-- doc-test:")?
        .strip_suffix("-->")?
        .trim();
    match inner {
        "lab" => Some(Check::Lab(false)),
        "lab, fresh" => Some(Check::Lab(true)),
        "repo" => Some(Check::Repo),
        _ => inner
            .strip_prefix("skip:")
            .map(|r| Check::Skip(r.trim().to_owned())),
    }
}

fn blocks() -> Vec<Block> {
    let mut out = Vec::new();
    for path in documents() {
        let text = std::fs::read_to_string(&path).expect("read a document");
        let file = path
            .strip_prefix(root())
            .unwrap_or(&path)
            .display()
            .to_string();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let fence = lines[i].trim_end();
            if !fence.starts_with("```") {
                i += 1;
                continue;
            }
            let shell = matches!(fence, "```sh" | "```bash");
            let start = i;
            i += 1;
            let mut body = Vec::new();
            while i < lines.len() && !lines[i].starts_with("```") {
                body.push(lines[i]);
                i += 1;
            }
            i += 1;
            if shell {
                out.push(Block {
                    file: file.clone(),
                    line: start + 1,
                    check: start
                        .checked_sub(1)
                        .and_then(|above| parse_mark(lines[above])),
                    text: body.join("\n"),
                });
            }
        }
    }
    out
}

#[test]
fn every_shell_block_says_how_it_is_checked() {
    let blocks = blocks();
    assert!(
        blocks.len() > 20,
        "only {} shell blocks found",
        blocks.len()
    );
    let unmarked: Vec<String> = blocks
        .iter()
        .filter(|b| match &b.check {
            None => true,
            Some(Check::Skip(reason)) => reason.is_empty(),
            Some(_) => false,
        })
        .map(|b| format!("{}:{}", b.file, b.line))
        .collect();
    assert!(
        unmarked.is_empty(),
        "shell blocks without a `<!-- doc-test: lab|repo|skip: REASON -->` line above them: {unmarked:?}"
    );
    let run = blocks
        .iter()
        .filter(|b| matches!(b.check, Some(Check::Lab(_) | Check::Repo)))
        .count();
    eprintln!("{} shell blocks, {run} run by doc_commands", blocks.len());
}

/// A bin directory holding `forge-manager` (the binary under test), and kubectl's.
fn tool_path(dir: &Path, bin: &Path) -> String {
    let tools = dir.join("tools");
    std::fs::create_dir_all(&tools).expect("mkdir tools");
    let link = tools.join("forge-manager");
    if !link.exists() {
        std::os::unix::fs::symlink(bin, &link).expect("link forge-manager");
    }
    format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs `script` with bash; panics with its output on failure.
fn bash(script: &str, cwd: &Path, env: &[(&str, String)], what: &str) {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("CARDANO_NETWORK")
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- {what}\n{stdout}{stderr}");
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}

#[test]
fn repo_blocks_run_as_written() {
    let bin = forge_manager_bin();
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tool_path(tmp.path(), &bin);
    for b in blocks().iter().filter(|b| b.check == Some(Check::Repo)) {
        bash(
            &b.text,
            &root(),
            &[("PATH", path.clone())],
            &format!("{}:{}", b.file, b.line),
        );
    }
}

/// The lab's policy as it made it (`lab, fresh`).
const RESET: &str = r#"for r in us-east-1:1 eu-west-1:2; do
  kubectl -n cardano patch cardanoforgecluster "mainnet-pool1gys8l-${r%:*}" --type=merge \
    -p "{\"spec\":{\"forgeState\":\"Priority-based\",\"override\":null,\"priority\":${r#*:}}}" >/dev/null
done
"#;

#[test]
fn lab_blocks_run_as_written_against_the_lab() {
    let bin = forge_manager_bin();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("lab");
    let mut children = Children::default();
    let lab = start_lab(&mut children, &bin, &dir, 2, 1);
    let find = |what: &str| lab.line_after(0, what, Duration::from_secs(60));
    find("forging: bp-us-east-1-0");
    let kubeconfig = dir.join("kubeconfig");
    let port = find("pod bp-us-east-1-0: metrics ")
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("a metrics port")
        .to_owned();

    // Each file is one operator's session: a fresh HOME with the usual bin directories on PATH,
    // and a working directory where `$PWD/target/release/forge-manager` is the binary under test.
    let session = |n: usize| {
        let home = tmp.path().join(format!("home-{n}"));
        let work = tmp.path().join(format!("work-{n}"));
        for d in [
            home.join(".local/bin"),
            home.join(".cargo/bin"),
            work.join("target/release"),
        ] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::os::unix::fs::symlink(&bin, work.join("target/release/forge-manager"))
            .expect("link the build");
        let path = format!(
            "{}:{}:{}",
            home.join(".local/bin").display(),
            home.join(".cargo/bin").display(),
            tool_path(tmp.path(), &bin)
        );
        let env = [
            ("HOME", home.display().to_string()),
            ("KUBECONFIG", kubeconfig.display().to_string()),
            ("PATH", path),
        ];
        (work, env)
    };
    let lab_blocks: Vec<Block> = blocks()
        .into_iter()
        .filter(|b| matches!(b.check, Some(Check::Lab(_))))
        .collect();
    assert!(!lab_blocks.is_empty());
    // Each file's blocks run in order in one shell, as an operator follows a guide.
    let mut files: Vec<&str> = lab_blocks.iter().map(|b| b.file.as_str()).collect();
    files.dedup();
    for (n, file) in files.into_iter().enumerate() {
        let (work, env) = session(n);
        let mut script = String::from("shopt -s expand_aliases\n");
        for b in lab_blocks.iter().filter(|b| b.file == file) {
            let text = b
                .text
                .replace(
                    "/tmp/forge-lab-<pid>/kubeconfig",
                    &kubeconfig.display().to_string(),
                )
                .replace("<port>", &port);
            if b.check == Some(Check::Lab(true)) {
                script.push_str(RESET);
            }
            script.push_str(&format!("echo '### {}:{}'\n{text}\n", b.file, b.line));
        }
        bash(&script, &work, &env, file);
    }
    let all = lab.lines.lock().expect("lines").join("\n");
    assert!(
        !all.contains("MORE THAN ONE"),
        "two forgers at once:\n{all}"
    );
}
