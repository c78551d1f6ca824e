//! Tests of `ProcNode` against a fake `/proc` tree, real Unix sockets, a real child process and a
//! tiny HTTP server on loopback.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

const SOCKET: &str = "/ipc/node.socket";

/// One fake `/proc/PID` entry.
struct FakeProc<'a> {
    pid: u32,
    comm: &'a str,
    args: &'a [&'a str],
    exe: Option<&'a str>,
    state: char,
    start: u64,
}

impl<'a> FakeProc<'a> {
    fn new(pid: u32, comm: &'a str, args: &'a [&'a str], start: u64) -> Self {
        FakeProc {
            pid,
            comm,
            args,
            exe: None,
            state: 'S',
            start,
        }
    }

    fn write(&self, root: &Path) {
        let dir = root.join(self.pid.to_string());
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("comm"), format!("{}\n", self.comm)).expect("comm");
        std::fs::write(
            dir.join("stat"),
            stat_line(self.pid, self.comm, self.state, self.start),
        )
        .expect("stat");
        let mut cmdline = self.args.join("\0");
        cmdline.push('\0');
        std::fs::write(dir.join("cmdline"), cmdline).expect("cmdline");
        if let Some(exe) = self.exe {
            std::os::unix::fs::symlink(exe, dir.join("exe")).expect("exe");
        }
    }
}

fn stat_line(pid: u32, comm: &str, state: char, start: u64) -> String {
    // Fields 4..=21 are filler; field 22 is the start time.
    let filler: Vec<String> = (4..=21).map(|i| i.to_string()).collect();
    format!(
        "{pid} ({comm}) {state} {} {start} 23 24 25\n",
        filler.join(" ")
    )
}

fn node_in(root: &Path) -> ProcNode {
    ProcNode::new(DEFAULT_PROCESS_NAME, SOCKET, DEFAULT_METRICS_URL)
        .expect("default url")
        .with_proc_root(root)
}

fn found(pid: u32, start_ticks: u64) -> Option<NodeProcess> {
    Some(NodeProcess { pid, start_ticks })
}

#[test]
fn the_start_time_is_read_after_the_last_parenthesis_even_in_a_weird_comm() {
    let line = stat_line(42, "a) (b c) S (", 'S', 987_654);
    assert_eq!(
        parse_stat(&line),
        Some(Stat {
            state: 'S',
            start_ticks: 987_654
        })
    );
    assert_eq!(parse_stat("42 (truncated"), None);
    assert_eq!(parse_stat("42 (x) S 1 2 3"), None);
}

#[tokio::test]
async fn wrappers_whose_arguments_mention_cardano_node_are_not_the_node() {
    let root = tempfile::tempdir().expect("tempdir");
    FakeProc::new(
        10,
        "sh",
        &[
            "sh",
            "-c",
            "exec cardano-node run --socket-path /ipc/node.socket",
        ],
        100,
    )
    .write(root.path());
    FakeProc::new(11, "tail", &["tail", "-f", "/x/cardano-node.log"], 101).write(root.path());
    FakeProc::new(
        12,
        "bash",
        &["/bin/bash", "/scripts/cardano-node-wrapper.sh"],
        102,
    )
    .write(root.path());
    let node = node_in(root.path());
    assert_eq!(node.find().await, None);

    FakeProc::new(13, "cardano-node", &["cardano-node", "run"], 200).write(root.path());
    assert_eq!(node.find().await, found(13, 200));
}

/// `CARDANO_NODE_PROCESS_NAME` also matches a substring of an argument, as the old sidecar did
/// (a Nix-wrapped node is `cardano-node-wrapped`), but such a process is taken only when its own
/// `--socket-path` is ours; one found by its name wins over it, and the socket path's own value
/// never counts as a mention.
#[tokio::test]
async fn a_process_found_by_an_argument_is_ours_only_when_it_names_our_socket() {
    let root = tempfile::tempdir().expect("tempdir");
    let wrapped = [
        "/nix/store/abc-cardano-node-exe-10.1/bin/cardano-node-wrapped",
        "run",
        "--socket-path",
        SOCKET,
    ];
    FakeProc::new(11, "tail", &["tail", "-f", "/x/cardano-node.log"], 101).write(root.path());
    let node = node_in(root.path());
    assert_eq!(
        scan(root.path(), DEFAULT_PROCESS_NAME, Path::new(SOCKET)),
        Err(NotFound::NoProcess),
        "a log tail naming no socket is not a node"
    );
    FakeProc::new(
        12,
        "cardano-node-wr",
        &[
            "/nix/store/x-cardano-node/bin/node",
            "run",
            "--socket-path=/other.socket",
        ],
        102,
    )
    .write(root.path());
    assert_eq!(
        scan(root.path(), DEFAULT_PROCESS_NAME, Path::new(SOCKET)),
        Err(NotFound::OtherSockets(vec![12]))
    );
    FakeProc::new(20, "cardano-node-wr", &wrapped, 200).write(root.path());
    assert_eq!(node.find().await, found(20, 200));

    // A process answering to the name, on our socket, wins even when younger.
    FakeProc::new(
        21,
        "cardano-node",
        &["cardano-node", "run", "--socket-path", SOCKET],
        300,
    )
    .write(root.path());
    assert_eq!(node.find().await, found(21, 300));

    // A client naming a socket whose path contains the name is not the node.
    let root = tempfile::tempdir().expect("tempdir");
    let socket = "/ipc/cardano-node.socket";
    for (pid, args) in [
        (
            30,
            ["cardano-cli", "query", "tip", "--socket-path", socket].as_slice(),
        ),
        (31, [&format!("--socket-path={socket}")[..], "x"].as_slice()),
    ] {
        FakeProc::new(pid, "cardano-cli", args, 5).write(root.path());
    }
    assert_eq!(
        scan(root.path(), DEFAULT_PROCESS_NAME, Path::new(socket)),
        Err(NotFound::NoProcess)
    );
}

#[tokio::test]
async fn the_node_is_recognised_by_comm_by_executable_or_by_argv0() {
    let root = tempfile::tempdir().expect("tempdir");
    let node = node_in(root.path());
    // comm rewritten, argv[0] a full path.
    FakeProc::new(20, "other", &["/usr/local/bin/cardano-node", "run"], 5).write(root.path());
    assert_eq!(node.find().await, found(20, 5));

    let root = tempfile::tempdir().expect("tempdir");
    let node = node_in(root.path());
    // Only the executable link says it (argv rewritten), and the binary was replaced on disk.
    FakeProc {
        exe: Some("/nix/store/abc-cardano-node/bin/cardano-node (deleted)"),
        ..FakeProc::new(21, "ghc_worker", &["node-main"], 6)
    }
    .write(root.path());
    assert_eq!(node.find().await, found(21, 6));
}

#[tokio::test]
async fn among_several_nodes_the_one_on_our_socket_wins_in_either_argument_form() {
    let root = tempfile::tempdir().expect("tempdir");
    FakeProc::new(
        30,
        "cardano-node",
        &["cardano-node", "run", "--socket-path", "/other/node.socket"],
        1,
    )
    .write(root.path());
    FakeProc::new(
        31,
        "cardano-node",
        &["cardano-node", "run", "--socket-path", SOCKET],
        50,
    )
    .write(root.path());
    assert_eq!(node_in(root.path()).find().await, found(31, 50));

    let root = tempfile::tempdir().expect("tempdir");
    FakeProc::new(40, "cardano-node", &["cardano-node", "run"], 1).write(root.path());
    FakeProc::new(
        41,
        "cardano-node",
        &["cardano-node", "run", "--socket-path=/ipc/node.socket"],
        60,
    )
    .write(root.path());
    assert_eq!(node_in(root.path()).find().await, found(41, 60));
}

#[tokio::test]
async fn zombies_never_count_and_never_make_a_node_ambiguous() {
    let root = tempfile::tempdir().expect("tempdir");
    FakeProc::new(53, "cardano-node", &["cardano-node"], 300).write(root.path());
    FakeProc {
        state: 'Z',
        ..FakeProc::new(51, "cardano-node", &[], 100)
    }
    .write(root.path());
    std::fs::create_dir(root.path().join("self")).expect("non-numeric entry");
    assert_eq!(node_in(root.path()).find().await, found(53, 300));
}

/// Several nodes in one process namespace, ours not started yet: a node serving another socket is
/// never ours, however old it is.
#[tokio::test]
async fn a_node_on_another_socket_is_never_ours() {
    let root = tempfile::tempdir().expect("tempdir");
    FakeProc {
        exe: Some("/opt/bin/cardano-node"),
        ..FakeProc::new(
            30,
            "cardano-node",
            &["cardano-node", "run", "--socket-path", "/other/node.socket"],
            1,
        )
    }
    .write(root.path());
    FakeProc::new(
        31,
        "cardano-node",
        &["cardano-node", "run", "--socket-path=/ipc/other.socket"],
        2,
    )
    .write(root.path());
    let node = node_in(root.path());
    assert_eq!(node.find().await, None);
    // Ours starts: it is found, the older strangers notwithstanding.
    FakeProc::new(
        32,
        "cardano-node",
        &["cardano-node", "run", "--socket-path", SOCKET],
        900,
    )
    .write(root.path());
    assert_eq!(node.find().await, found(32, 900));
}

/// A node whose command line names no socket (its socket set in its config file) is ours only
/// when nothing else could be: the only such node, other nodes proven elsewhere by their own
/// `--socket-path`. Two of them are ambiguous and neither is taken (nor signalled).
#[tokio::test]
async fn a_node_naming_no_socket_is_ours_only_when_it_is_the_only_one() {
    let root = tempfile::tempdir().expect("tempdir");
    FakeProc::new(40, "cardano-node", &["cardano-node", "run"], 10).write(root.path());
    FakeProc::new(
        41,
        "cardano-node",
        &["cardano-node", "run", "--socket-path", "/other/node.socket"],
        5,
    )
    .write(root.path());
    let node = node_in(root.path());
    assert_eq!(node.find().await, found(40, 10));

    FakeProc::new(42, "cardano-node", &["cardano-node", "run"], 20).write(root.path());
    assert_eq!(node.find().await, None);
    assert!(matches!(
        node.sighup(NodeProcess {
            pid: 40,
            start_ticks: 10
        })
        .await,
        Err(NodeError::Signal { message, .. }) if message.contains("NODE_SOCKET")
    ));
}

/// `--socket-path node.socket` is relative to the node's working directory.
#[tokio::test]
async fn a_relative_socket_path_is_read_in_the_nodes_working_directory() {
    let root = tempfile::tempdir().expect("tempdir");
    FakeProc::new(
        50,
        "cardano-node",
        &["cardano-node", "run", "--socket-path", "node.socket"],
        1,
    )
    .write(root.path());
    std::os::unix::fs::symlink("/data", root.path().join("50").join("cwd")).expect("cwd");
    FakeProc::new(
        51,
        "cardano-node",
        &["cardano-node", "run", "--socket-path", "node.socket"],
        2,
    )
    .write(root.path());
    std::os::unix::fs::symlink("/ipc", root.path().join("51").join("cwd")).expect("cwd");
    assert_eq!(node_in(root.path()).find().await, found(51, 2));
}

/// The node's container may mount the socket's directory elsewhere than ours: its
/// `--socket-path` names the same file through its own root (`/proc/PID/root`), which ties it as
/// well as the same text; a different file there is another socket.
#[tokio::test]
async fn a_socket_mounted_at_another_path_in_the_nodes_container_is_ours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ours = dir.path().join("ipc");
    std::fs::create_dir(&ours).expect("mkdir");
    std::fs::write(ours.join("node.socket"), b"").expect("socket stand-in");
    std::fs::write(ours.join("other.socket"), b"").expect("socket stand-in");
    // The node container's file system: the same directory mounted at /opt/cardano/ipc.
    let node_fs = dir.path().join("node-fs");
    std::fs::create_dir_all(node_fs.join("opt/cardano")).expect("mkdir");
    std::os::unix::fs::symlink(&ours, node_fs.join("opt/cardano/ipc")).expect("mount");
    let root = dir.path().join("proc");
    for (pid, socket, start) in [
        (60, "/opt/cardano/ipc/other.socket", 1),
        (61, "/opt/cardano/ipc/node.socket", 2),
    ] {
        FakeProc::new(
            pid,
            "cardano-node",
            &["cardano-node", "run", "--socket-path", socket],
            start,
        )
        .write(&root);
        std::os::unix::fs::symlink(&node_fs, root.join(pid.to_string()).join("root"))
            .expect("root");
    }
    let node = ProcNode::new(
        DEFAULT_PROCESS_NAME,
        ours.join("node.socket"),
        DEFAULT_METRICS_URL,
    )
    .expect("url")
    .with_proc_root(&root);
    assert_eq!(node.find().await, found(61, 2));
}

/// Just before the signal the identity is checked again: the same pid and start time whose
/// command line no longer names our socket (an exec) is not signalled. The pid is a real process
/// of ours, so a signal sent anyway would be delivered (and the test would see `Ok`).
#[tokio::test]
async fn sighup_is_refused_when_the_process_no_longer_names_our_socket() {
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("spawn sleep");
    let pid = child.id();
    let root = tempfile::tempdir().expect("tempdir");
    FakeProc::new(
        pid,
        "cardano-node",
        &["cardano-node", "run", "--socket-path", SOCKET],
        5,
    )
    .write(root.path());
    let node = node_in(root.path());
    let process = node.find().await.expect("found on our socket");
    std::fs::write(
        root.path().join(pid.to_string()).join("cmdline"),
        "cardano-node\0run\0--socket-path\0/other/node.socket\0",
    )
    .expect("cmdline");
    let sent = node.sighup(process).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(matches!(sent, Err(NodeError::NotRunning)), "{sent:?}");
}

/// Why no node was taken is told apart (for the log line): none at all, only nodes on other
/// sockets, or several naming no socket.
#[test]
fn why_no_node_was_taken_is_told() {
    let root = tempfile::tempdir().expect("tempdir");
    let why = || scan(root.path(), DEFAULT_PROCESS_NAME, Path::new(SOCKET));
    assert_eq!(why(), Err(NotFound::NoProcess));
    FakeProc::new(
        30,
        "cardano-node",
        &["cardano-node", "--socket-path", "/other/node.socket"],
        1,
    )
    .write(root.path());
    assert_eq!(why(), Err(NotFound::OtherSockets(vec![30])));
    FakeProc::new(31, "cardano-node", &["cardano-node"], 2).write(root.path());
    FakeProc::new(32, "cardano-node", &["cardano-node"], 3).write(root.path());
    assert_eq!(why(), Err(NotFound::Ambiguous(vec![31, 32])));
    let text = NotFound::Ambiguous(vec![31, 32]).to_string();
    assert!(
        text.contains("31") && text.contains("NODE_SOCKET"),
        "{text}"
    );
}

#[tokio::test]
async fn the_real_binary_beats_a_wrapper_script_named_like_the_node() {
    let root = tempfile::tempdir().expect("tempdir");
    // A `#!/bin/sh` script called cardano-node: comm is the script's name, exe is the shell.
    FakeProc {
        exe: Some("/bin/dash"),
        ..FakeProc::new(
            60,
            "cardano-node",
            &["/bin/sh", "/usr/bin/cardano-node"],
            10,
        )
    }
    .write(root.path());
    FakeProc {
        exe: Some("/opt/bin/cardano-node"),
        ..FakeProc::new(61, "cardano-node", &["/opt/bin/cardano-node", "run"], 20)
    }
    .write(root.path());
    assert_eq!(node_in(root.path()).find().await, found(61, 20));
}

#[tokio::test]
async fn a_long_process_name_matches_the_truncated_comm() {
    let root = tempfile::tempdir().expect("tempdir");
    FakeProc::new(70, "cardano-node-10", &["x"], 1).write(root.path());
    let node = ProcNode::new("cardano-node-10.5.1", SOCKET, DEFAULT_METRICS_URL)
        .expect("url")
        .with_proc_root(root.path());
    assert_eq!(node.find().await, found(70, 1));
}

#[tokio::test]
async fn a_missing_proc_root_finds_nothing() {
    let node = node_in(Path::new("/nonexistent/proc"));
    assert_eq!(node.find().await, None);
}

#[tokio::test]
async fn sighup_is_refused_when_the_pid_now_belongs_to_another_process() {
    let root = tempfile::tempdir().expect("tempdir");
    // Pid 2^22-1 is beyond any real pid here; if the check failed we would signal nothing anyway.
    FakeProc::new(4_194_303, "cardano-node", &["cardano-node"], 777).write(root.path());
    let node = node_in(root.path());
    let reused = NodeProcess {
        pid: 4_194_303,
        start_ticks: 111,
    };
    assert!(matches!(
        node.sighup(reused).await,
        Err(NodeError::NotRunning)
    ));
    let gone = NodeProcess {
        pid: 4_194_302,
        start_ticks: 777,
    };
    assert!(matches!(
        node.sighup(gone).await,
        Err(NodeError::NotRunning)
    ));
}

#[tokio::test]
async fn sighup_reaches_the_exact_real_process_it_was_found_as() {
    use std::os::unix::process::ExitStatusExt;
    // A shell blocked on `read` (no child process) whose command line names our socket, as a
    // node's does. `env --default-signal=HUP` (GNU coreutils) execs it with SIGHUP's default
    // action: a runner started under `nohup` ignores SIGHUP, children inherit that, and the
    // signal would then arrive without a visible effect.
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("node.socket");
    let socket_arg = socket.to_str().expect("utf-8 path");
    let mut child = std::process::Command::new("env")
        .args([
            "--default-signal=HUP",
            "sh",
            "-c",
            "read x",
            "sh",
            "--socket-path",
            socket_arg,
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sh");
    // Held open until the end: `wait` would close it, and EOF ends `read` without a signal.
    let stdin = child.stdin.take();
    let pid = child.id();
    // Signal only once `env` has reset the action and become `sh`.
    let comm = format!("/proc/{pid}/comm");
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::read_to_string(&comm).map_or(true, |c| c.trim() != "sh") {
        assert!(Instant::now() < deadline, "env did not exec sh");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let node = ProcNode::new("sh", &socket, DEFAULT_METRICS_URL).expect("url");
    let start = read_stat(Path::new("/proc"), pid)
        .expect("stat of child")
        .start_ticks;
    assert_eq!(
        node.find().await,
        found(pid, start),
        "the one sh naming our socket"
    );
    let wrong = NodeProcess {
        pid,
        start_ticks: start + 1,
    };
    assert!(matches!(
        node.sighup(wrong).await,
        Err(NodeError::NotRunning)
    ));
    node.sighup(NodeProcess {
        pid,
        start_ticks: start,
    })
    .await
    .expect("sighup");
    let status = child.wait().expect("wait");
    drop(stdin);
    assert_eq!(status.signal(), Some(libc_sighup()));
}

fn libc_sighup() -> i32 {
    Signal::SIGHUP as i32
}

#[tokio::test]
async fn the_socket_counts_only_when_it_accepts_a_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("node.socket");
    let node = ProcNode::new(DEFAULT_PROCESS_NAME, &path, DEFAULT_METRICS_URL).expect("url");
    assert!(!node.socket_accepts().await, "missing socket accepted");

    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    assert!(node.socket_accepts().await, "listening socket refused");

    drop(listener); // the file stays: a stale socket after a crash
    assert!(path.exists());
    assert!(!node.socket_accepts().await, "stale socket file accepted");

    std::fs::remove_file(&path).expect("rm");
    std::fs::write(&path, b"not a socket").expect("plain file");
    assert!(!node.socket_accepts().await, "plain file accepted");
}

/// Serves `response` (raw bytes) to every connection on loopback; `None` accepts and never answers.
async fn serve(response: Option<&'static [u8]>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = listener.accept().await {
            let mut req = [0u8; 1024];
            let _ = s.read(&mut req).await;
            match response {
                Some(r) => {
                    let _ = s.write_all(r).await;
                    let _ = s.shutdown().await;
                }
                None => held.push(s),
            }
        }
    });
    format!("http://{addr}/metrics")
}

fn metrics_node(url: &str) -> ProcNode {
    ProcNode::new(DEFAULT_PROCESS_NAME, SOCKET, url)
        .expect("url")
        .with_timeouts(Duration::from_millis(300), Duration::from_millis(300))
}

#[tokio::test]
async fn metrics_are_read_in_the_legacy_naming_scheme() {
    let url = serve(Some(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 93\r\n\r\n\
cardano_node_metrics_forging_enabled 1\ncardano_node_metrics_Forge_forge_about_to_lead_int 41\n\
\n\n",
    ))
    .await;
    let m = metrics_node(&url).metrics().await.expect("metrics");
    assert_eq!(m.forging_enabled, Some(true));
    assert_eq!(m.leader_checks, Some(41));
}

#[tokio::test]
async fn metrics_are_read_in_the_new_tracing_scheme_with_chunked_encoding() {
    let url = serve(Some(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
2b\r\ncardano_node_metrics_forging_enabled_int 0\n\r\n\
33\r\ncardano_node_metrics_Forge_about_to_lead_counter 9\n\r\n0\r\n\r\n",
    ))
    .await;
    let m = metrics_node(&url).metrics().await.expect("metrics");
    assert_eq!(m.forging_enabled, Some(false));
    assert_eq!(m.leader_checks, Some(9));
}

#[tokio::test]
async fn a_garbage_body_is_a_metrics_error() {
    let url = serve(Some(b"HTTP/1.0 200 OK\r\n\r\n<html>not metrics</html>")).await;
    let err = metrics_node(&url).metrics().await.expect_err("garbage");
    assert!(
        matches!(&err, NodeError::Metrics(MetricsError::Body { reason, .. }) if reason.contains("no Prometheus samples")),
        "{err}"
    );
    let url = serve(Some(b"\x00\x01\x02 binary junk\r\n\r\n")).await;
    let err = metrics_node(&url).metrics().await.expect_err("junk");
    assert!(matches!(err, NodeError::Metrics(_)), "{err}");
}

#[tokio::test]
async fn a_server_error_is_a_metrics_error_naming_the_status() {
    let url = serve(Some(
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops",
    ))
    .await;
    let err = metrics_node(&url).metrics().await.expect_err("500");
    assert!(
        matches!(
            &err,
            NodeError::Metrics(MetricsError::Status { status: 500, .. })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_metrics_body_over_the_size_limit_is_refused_before_it_is_read() {
    let url = serve(Some(
        b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\ncardano_node_metrics_forging_enabled 1\n",
    ))
    .await;
    let err = metrics_node(&url).metrics().await.expect_err("too large");
    assert!(
        matches!(&err, NodeError::Metrics(MetricsError::Transport { .. }))
            && err.to_string().contains("larger than"),
        "{err}"
    );
}

#[tokio::test]
async fn a_hanging_metrics_endpoint_is_given_up_on_after_the_timeout() {
    let url = serve(None).await;
    let started = Instant::now();
    let err = metrics_node(&url).metrics().await.expect_err("hang");
    let took = started.elapsed();
    assert!(
        matches!(&err, NodeError::Metrics(MetricsError::Transport { .. }))
            && err.to_string().contains("no response within"),
        "{err}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test]
async fn an_unreachable_metrics_endpoint_is_a_metrics_error() {
    // Bind then drop: the port is very likely closed now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = metrics_node(&format!("http://{addr}/metrics"))
        .metrics()
        .await
        .expect_err("closed port");
    assert!(matches!(err, NodeError::Metrics(_)), "{err}");
    // The cause is kept, not flattened into text: the chain reaches the connect error.
    let mut chain = std::error::Error::source(&err);
    let mut depth = 0;
    while let Some(e) = chain {
        depth += 1;
        chain = e.source();
    }
    assert!(depth >= 2, "{err}: only {depth} causes");
}

#[test]
fn an_https_or_malformed_metrics_url_is_refused_at_construction() {
    assert!(ProcNode::new("cardano-node", SOCKET, "https://127.0.0.1:12798/metrics").is_err());
    assert!(ProcNode::new("cardano-node", SOCKET, "127.0.0.1:12798").is_err());
}
