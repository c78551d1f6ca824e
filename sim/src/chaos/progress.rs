//! The batch's progress line: seeds done, failures so far, and the time left, refreshed in place on
//! a terminal and as a plain line at each tenth of the batch otherwise (CI logs stay short).

use std::time::Duration;

/// Where a batch stands.
#[derive(Debug)]
pub struct Progress {
    total: u64,
    done: u64,
    failed: u64,
    /// The last tenth a plain line was printed for.
    printed_tenth: u64,
}

impl Progress {
    /// A batch of `total` seeds, none done.
    pub fn new(total: u64) -> Progress {
        Progress {
            total,
            done: 0,
            failed: 0,
            printed_tenth: 0,
        }
    }

    /// One more seed done (skipped seeds count: they are done too).
    pub fn seed_done(&mut self, failed: bool) {
        self.done = (self.done + 1).min(self.total);
        self.failed += u64::from(failed);
    }

    /// `chaos: 37/200 seeds, 1 failed, about 2m10s left`, after `elapsed` of wall time.
    pub fn line(&self, elapsed: Duration) -> String {
        let left = if self.done == 0 {
            "time left unknown".to_string()
        } else {
            let per_seed = elapsed.as_secs_f64() / self.done as f64;
            let secs = (per_seed * (self.total - self.done) as f64).round() as u64;
            format!("about {} left", human(secs))
        };
        format!(
            "chaos: {}/{} seeds, {} failed, {left}",
            self.done, self.total, self.failed
        )
    }

    /// Whether a plain (non-terminal) line is due: once per tenth of the batch, not at its end
    /// (the summary follows).
    pub fn plain_due(&mut self) -> bool {
        if self.total == 0 || self.done >= self.total {
            return false;
        }
        let tenth = self.done * 10 / self.total;
        let due = tenth > self.printed_tenth;
        if due {
            self.printed_tenth = tenth;
        }
        due
    }
}

fn human(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_failures_and_estimates_the_rest_from_the_pace_so_far() {
        let mut p = Progress::new(200);
        assert_eq!(
            p.line(Duration::ZERO),
            "chaos: 0/200 seeds, 0 failed, time left unknown"
        );
        for i in 0..37 {
            p.seed_done(i == 5);
        }
        // 37 seeds in 37 s: 163 more take 163 s.
        assert_eq!(
            p.line(Duration::from_secs(37)),
            "chaos: 37/200 seeds, 1 failed, about 2m43s left"
        );
        for _ in 37..199 {
            p.seed_done(false);
        }
        assert_eq!(
            p.line(Duration::from_secs(7_960)),
            "chaos: 199/200 seeds, 1 failed, about 40s left"
        );
        assert_eq!(human(7_300), "2h01m");
    }

    #[test]
    fn plain_lines_come_once_per_tenth_and_not_at_the_end() {
        let mut p = Progress::new(20);
        let mut printed = Vec::new();
        for _ in 0..20 {
            p.seed_done(false);
            if p.plain_due() {
                printed.push(p.done);
            }
        }
        assert_eq!(printed, vec![2, 4, 6, 8, 10, 12, 14, 16, 18]);
        // A batch smaller than ten: a line per seed but the last.
        let mut p = Progress::new(3);
        let due: Vec<bool> = (0..3)
            .map(|_| {
                p.seed_done(false);
                p.plain_due()
            })
            .collect();
        assert_eq!(due, vec![true, true, false]);
    }
}
