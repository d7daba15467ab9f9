//! What the run ran on, and which code it measured, so that figures are read with their
//! context.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// The repository's commit (`git describe --always --dirty`) and the run's start (UTC).
    pub commit: String,
    pub date: String,
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    /// 1-minute load average when the run started and when it ended: other work on the
    /// machine shows here.
    pub load_start: f64,
    pub load_end: f64,
    /// How long the run took, builds included, in seconds.
    pub run_s: f64,
    #[serde(skip)]
    started: std::time::Instant,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|r| r.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        Machine {
            commit: command_line("git", &["-C", root, "describe", "--always", "--dirty"]),
            date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            cpu,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            memory_gib: mem_kib / (1024.0 * 1024.0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            load_start: load_average(),
            load_end: 0.0,
            run_s: 0.0,
            started: std::time::Instant::now(),
        }
    }

    pub fn finish(&mut self) {
        self.load_end = load_average();
        self.run_s = self.started.elapsed().as_secs_f64();
    }

    pub fn describe(&self) -> String {
        let mut text = format!(
            "commit {}, {}; {}, {} cores, {:.0} GiB, Linux {}; load average {:.2} at start",
            self.commit,
            self.date,
            self.cpu,
            self.cores,
            self.memory_gib,
            self.kernel,
            self.load_start
        );
        if self.run_s > 0.0 {
            text += &format!(", {:.2} at end; the run took {:.0} s", self.load_end, self.run_s);
        }
        text
    }
}

/// The first line a command prints, or `unknown`.
fn command_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}
