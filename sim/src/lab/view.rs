//! The lab's one-screen view: who forges, the global and local leases with their ages, and every
//! pod's state. Rendering is a pure function of a [`Snapshot`], so it is tested on its own.

use std::fmt::Write as _;
use std::time::Duration;

/// A lease as the view shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseView {
    /// `None`: released (or never taken).
    pub holder: Option<String>,
    /// Since its last renewal, by the API server's clock.
    pub age: Option<Duration>,
}

/// One region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionView {
    pub name: String,
    pub priority: u32,
    /// Cut off from the API server (`cut REGION`).
    pub cut: bool,
    /// Its local lease; `None` when it does not exist.
    pub lease: Option<LeaseView>,
}

/// What a pod's node does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeView {
    /// No answer from the node.
    Down,
    /// Up; forging with the pool's real keys or not.
    Up { forging: bool },
}

/// One pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodView {
    pub name: String,
    pub region: String,
    /// Its processes run (the supervisor is alive).
    pub running: bool,
    pub node: NodeView,
    /// The sidecar's `/metrics` port.
    pub http_port: u16,
}

/// Everything on one screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub elapsed: Duration,
    pub api: String,
    pub kubeconfig: String,
    pub global: Option<LeaseView>,
    pub regions: Vec<RegionView>,
    pub pods: Vec<PodView>,
    /// The last few things that happened (command results), oldest first.
    pub events: Vec<String>,
}

impl Snapshot {
    /// The pods whose node forges with the real keys.
    pub fn forgers(&self) -> Vec<&str> {
        self.pods
            .iter()
            .filter(|p| p.node == NodeView::Up { forging: true })
            .map(|p| p.name.as_str())
            .collect()
    }

    /// One line saying who forges: `forging: NAME`, `forging: nobody`, or a warning.
    pub fn forging_line(&self) -> String {
        match self.forgers().as_slice() {
            [] => "forging: nobody".to_owned(),
            [one] => format!("forging: {one}"),
            many => format!("forging: MORE THAN ONE: {}", many.join(", ")),
        }
    }
}

fn age(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| format!("{:.1}s", d.as_secs_f64()))
}

fn lease_cells(l: Option<&LeaseView>) -> (String, String) {
    match l {
        None => ("(none)".to_owned(), "-".to_owned()),
        Some(l) => (
            l.holder.clone().unwrap_or_else(|| "(released)".to_owned()),
            age(l.age),
        ),
    }
}

/// The screen.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "forge-sim lab, up {}s: API {}  KUBECONFIG={}",
        s.elapsed.as_secs(),
        s.api,
        s.kubeconfig
    );
    let _ = writeln!(out, "{}", s.forging_line().to_uppercase());
    let (holder, held_for) = lease_cells(s.global.as_ref());
    let _ = writeln!(out, "global lease: {holder}, renewed {held_for} ago");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<16} {:>4}  {:<5} {:<20} {:>7}",
        "REGION", "PRIO", "API", "LOCAL LEASE", "AGE"
    );
    for r in &s.regions {
        let (holder, held_for) = lease_cells(r.lease.as_ref());
        let _ = writeln!(
            out,
            "{:<16} {:>4}  {:<5} {:<20} {:>7}",
            r.name,
            r.priority,
            if r.cut { "CUT" } else { "ok" },
            holder,
            held_for
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<20} {:<16} {:<8} {:<8} METRICS",
        "POD", "REGION", "STATE", "NODE"
    );
    for p in &s.pods {
        let node = match p.node {
            NodeView::Down => "down",
            NodeView::Up { forging: true } => "FORGING",
            NodeView::Up { forging: false } => "standby",
        };
        let _ = writeln!(
            out,
            "{:<20} {:<16} {:<8} {:<8} http://127.0.0.1:{}/metrics",
            p.name,
            p.region,
            if p.running { "running" } else { "stopped" },
            node,
            p.http_port
        );
    }
    if !s.events.is_empty() {
        let _ = writeln!(out);
        for e in &s.events {
            let _ = writeln!(out, "{e}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            elapsed: Duration::from_secs(42),
            api: "http://127.0.0.1:6443".into(),
            kubeconfig: "/tmp/lab/kubeconfig".into(),
            global: Some(LeaseView {
                holder: Some("us-east-1".into()),
                age: Some(Duration::from_millis(400)),
            }),
            regions: vec![
                RegionView {
                    name: "us-east-1".into(),
                    priority: 1,
                    cut: false,
                    lease: Some(LeaseView {
                        holder: Some("bp-us-east-1-0".into()),
                        age: Some(Duration::from_millis(1_250)),
                    }),
                },
                RegionView {
                    name: "eu-west-1".into(),
                    priority: 2,
                    cut: true,
                    lease: None,
                },
            ],
            pods: vec![
                PodView {
                    name: "bp-us-east-1-0".into(),
                    region: "us-east-1".into(),
                    running: true,
                    node: NodeView::Up { forging: true },
                    http_port: 9001,
                },
                PodView {
                    name: "bp-eu-west-1-0".into(),
                    region: "eu-west-1".into(),
                    running: false,
                    node: NodeView::Down,
                    http_port: 9002,
                },
            ],
            events: vec!["> cut eu-west-1: done".into()],
        }
    }

    #[test]
    fn the_screen_names_the_forger_the_leases_and_every_pod() {
        let screen = render(&snapshot());
        for want in [
            "FORGING: BP-US-EAST-1-0",
            "global lease: us-east-1, renewed 0.4s ago",
            "us-east-1           1  ok    bp-us-east-1-0          1.2s",
            "eu-west-1           2  CUT   (none)                     -",
            "bp-us-east-1-0       us-east-1        running  FORGING  http://127.0.0.1:9001/metrics",
            "bp-eu-west-1-0       eu-west-1        stopped  down",
            "> cut eu-west-1: done",
        ] {
            assert!(screen.contains(want), "{want:?} missing from\n{screen}");
        }
    }

    #[test]
    fn the_forging_line_says_nobody_one_or_more_than_one() {
        let mut s = snapshot();
        assert_eq!(s.forging_line(), "forging: bp-us-east-1-0");
        s.pods[1].node = NodeView::Up { forging: true };
        assert_eq!(
            s.forging_line(),
            "forging: MORE THAN ONE: bp-us-east-1-0, bp-eu-west-1-0"
        );
        for p in &mut s.pods {
            p.node = NodeView::Up { forging: false };
        }
        assert_eq!(s.forging_line(), "forging: nobody");
    }
}
