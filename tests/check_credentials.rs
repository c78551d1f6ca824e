//! The `check-credentials` and `decoy-credentials` subcommands, run as the real binary: exit codes
//! 0 (valid), 1 (invalid), 2 (unusable input), and a decoy set that passes the check.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use forge_manager::credentials::{CredentialPaths, Genesis, generate_set};
use rand::SeedableRng;

fn forge_manager(args: &[&str]) -> Output {
    forge_manager_on(None, args)
}

/// The binary with `CARDANO_NETWORK` set to `network` (`None`: unset).
fn forge_manager_on(network: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forge-manager"));
    cmd.args(args).env_remove("CARDANO_NETWORK");
    if let Some(n) = network {
        cmd.env("CARDANO_NETWORK", n);
    }
    cmd.output().expect("the binary runs")
}

fn check(dir: &Path, extra: &[&str]) -> Output {
    check_on(None, dir, extra)
}

fn check_on(network: Option<&str>, dir: &Path, extra: &[&str]) -> Output {
    let p = CredentialPaths::in_dir(dir);
    let mut args = vec![
        "check-credentials",
        "--kes",
        p.kes.to_str().unwrap_or_default(),
        "--vrf",
        p.vrf.to_str().unwrap_or_default(),
        "--opcert",
        p.opcert.to_str().unwrap_or_default(),
    ];
    args.extend_from_slice(extra);
    forge_manager_on(network, &args)
}

fn write_generated(dir: &Path, kes_period: u64) {
    let mut rng = rand::rngs::StdRng::from_seed([42; 32]);
    let g = generate_set(&Genesis::MAINNET, kes_period, 0, &mut rng);
    let p = CredentialPaths::in_dir(dir);
    std::fs::write(&p.kes, &g.set.kes).expect("write");
    std::fs::write(&p.vrf, &g.set.vrf).expect("write");
    std::fs::write(&p.opcert, &g.set.opcert).expect("write");
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_valid_set_exits_0_and_shows_counter_periods_and_fingerprints() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_generated(dir.path(), 1000);
    let out = check(dir.path(), &["--kes-period", "1010"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    for needle in [
        "issue counter:      0",
        "KES period start:   1000",
        "KES period expiry:  1062",
        "current KES period: 1010 (given)",
        "periods left:       52",
        "result:             valid",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in\n{text}");
    }
    let kes_file =
        std::fs::read_to_string(CredentialPaths::in_dir(dir.path()).kes).unwrap_or_default();
    let cbor_hex: serde_json::Value = serde_json::from_str(&kes_file).expect("json");
    let cbor_hex = cbor_hex["cborHex"].as_str().unwrap_or_default();
    assert!(!text.contains(&cbor_hex[6..40]), "key bytes printed");
}

#[test]
fn json_output_is_one_object_with_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_generated(dir.path(), 1000);
    let out = check(dir.path(), &["--kes-period", "2000", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["valid"], false);
    assert_eq!(v["counter"], 0);
    assert_eq!(v["periods_left"], 0);
    assert_eq!(v["problems"][0]["code"], "kes_period_expired");
}

#[test]
fn an_invalid_set_exits_1_and_lists_every_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_generated(dir.path(), 1000);
    // A KES key from another set, and a period before the certificate starts.
    let mut rng = rand::rngs::StdRng::from_seed([7; 32]);
    let g = generate_set(&Genesis::MAINNET, 1000, 0, &mut rng);
    std::fs::write(CredentialPaths::in_dir(dir.path()).kes, &g.set.kes).expect("write");
    let out = check(dir.path(), &["--kes-period", "999"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("[kes_key_mismatch]"), "{text}");
    assert!(text.contains("[kes_period_in_future]"), "{text}");
}

#[test]
fn missing_or_non_json_input_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = check(dir.path(), &["--kes-period", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));

    write_generated(dir.path(), 0);
    let p = CredentialPaths::in_dir(dir.path());
    let half = std::fs::read(&p.opcert).expect("read");
    std::fs::write(&p.opcert, &half[..half.len() / 2]).expect("write");
    let out = check(dir.path(), &["--kes-period", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stdout(&out).contains("[not_text_envelope]"));
}

#[test]
fn a_decoy_set_is_written_0600_passes_the_check_and_is_not_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("decoy");
    let out_str = out_dir.to_str().unwrap_or_default();
    let decoy = |extra: &[&str]| {
        let mut args = vec![
            "decoy-credentials",
            "--out",
            out_str,
            "--network",
            "preview",
        ];
        args.extend_from_slice(extra);
        forge_manager(&args)
    };
    let out = decoy(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["kes.skey", "vrf.skey", "node.cert", "cold.vkey"] {
        let meta = std::fs::metadata(out_dir.join(name)).expect(name);
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
    let cold = std::fs::read_to_string(out_dir.join("cold.vkey")).unwrap_or_default();
    assert!(cold.contains("StakePoolVerificationKey"), "{cold}");

    let check_out = check(&out_dir, &["--network", "preview"]);
    assert_eq!(check_out.status.code(), Some(0), "{}", stdout(&check_out));

    let before = std::fs::read(out_dir.join("node.cert")).expect("read");
    assert_eq!(
        decoy(&[]).status.code(),
        Some(1),
        "overwrote without --force"
    );
    assert_eq!(
        std::fs::read(out_dir.join("node.cert")).expect("read"),
        before
    );
    assert_eq!(
        decoy(&["--force", "--kes-period", "7"]).status.code(),
        Some(0)
    );
    assert_ne!(
        std::fs::read(out_dir.join("node.cert")).expect("read"),
        before
    );
    let at_7 = check(&out_dir, &["--kes-period", "7"]);
    assert_eq!(at_7.status.code(), Some(0), "{}", stdout(&at_7));
}

/// Without `--network`, both commands take the sidecar's `CARDANO_NETWORK`: a decoy set made in a
/// preprod pod's environment is a preprod set (a mainnet one would start in preprod's future and
/// be refused by the check), and an unknown network is an error naming the variable.
#[test]
fn the_network_comes_from_cardano_network_when_not_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("decoy");
    let run = |args: &[&str], network: &str| forge_manager_on(Some(network), args);
    let out_str = out_dir.to_str().unwrap_or_default();
    let made = run(&["decoy-credentials", "--out", out_str], "preprod");
    assert_eq!(
        made.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(
        stdout(&made).contains("network:            preprod"),
        "{}",
        stdout(&made)
    );
    let on_preprod = check_on(Some("preprod"), &out_dir, &[]);
    assert_eq!(on_preprod.status.code(), Some(0), "{}", stdout(&on_preprod));
    // The same preprod set judged as mainnet's: its KES period is far behind mainnet's window.
    let on_mainnet = check_on(Some("mainnet"), &out_dir, &[]);
    assert_eq!(on_mainnet.status.code(), Some(1), "{}", stdout(&on_mainnet));
    let unknown = run(
        &["decoy-credentials", "--out", out_str, "--force"],
        "sanchonet",
    );
    assert_eq!(unknown.status.code(), Some(2));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("CARDANO_NETWORK") && err.contains("sanchonet"),
        "{err}"
    );
}

/// The sidecar refuses to start with a decoy set made for another network (a mainnet decoy on
/// preprod starts hundreds of KES periods in preprod's future), naming the variable, both
/// periods and the command that makes the right one; before it binds a port or calls the API.
#[test]
fn the_sidecar_refuses_a_decoy_set_made_for_another_network() {
    let dir = tempfile::tempdir().expect("tempdir");
    let decoy = dir.path().join("decoy");
    let made = forge_manager_on(
        Some("mainnet"),
        &[
            "decoy-credentials",
            "--out",
            decoy.to_str().unwrap_or_default(),
        ],
    );
    assert!(made.status.success(), "{made:?}");
    let run = Command::new(env!("CARGO_BIN_EXE_forge-manager"))
        .arg("run")
        .env_clear()
        .env("POD_NAME", "bp-0")
        .env("CARDANO_NETWORK", "preprod")
        .env("CREDENTIAL_MODE", "decoy")
        .env("SOURCE_DECOY_DIR", &decoy)
        .env("JOURNAL_PATH", dir.path().join("journal.redb"))
        .env("KUBECONFIG", dir.path().join("no-such-kubeconfig"))
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    for want in [
        "SOURCE_DECOY_DIR",
        "made for another network",
        "after preprod's current period",
        "decoy-credentials --network preprod",
    ] {
        assert!(err.contains(want), "{want:?} missing from {err}");
    }
}
