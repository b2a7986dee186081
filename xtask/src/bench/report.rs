//! The benchmark results as a terminal table and as `docs/BENCHMARKS.md`.

use std::fmt::Write as _;

use super::criterion::{Estimate, format_ns};
use super::join_latency::JoinResults;
use super::machine::Environment;
use super::startup::StartupResults;
use super::stats::{Summary, ratio};

/// The product's aims, checked against the medians.
const STARTUP_TARGET: f64 = 10.0;

/// Everything one bench run found out.
#[derive(Debug)]
pub struct Report<'a> {
    /// Machine, versions, date, commit.
    pub env: &'a Environment,
    /// The command line that produced it (`cargo xtask bench ...`).
    pub command: &'a str,
    /// Whether it was a `--quick` smoke run.
    pub quick: bool,
    /// (a) start to member list.
    pub startup: &'a StartupResults,
    /// (b) join to added event.
    pub joins: &'a JoinResults,
    /// The criterion estimates, if that step ran.
    pub criterion: Option<&'a [Estimate]>,
}

/// One labelled row of min / median / max.
struct Row {
    label: &'static str,
    summary: Option<Summary>,
}

impl Row {
    fn new(label: &'static str, samples: &[f64]) -> Self {
        Row {
            label,
            summary: Summary::of(samples),
        }
    }
}

/// The medians the ratios and verdicts are made of.
struct Derived {
    startup_members: Option<f64>,
    startup_exit: Option<f64>,
    join: Option<f64>,
    join_from_spawn: Option<f64>,
    rust_first: usize,
    js_first: usize,
    ties: usize,
}

impl Report<'_> {
    fn startup_rows(&self) -> [Row; 5] {
        let s = self.startup;
        [
            Row::new(
                "Rust `audience members --json`: start to member list",
                &s.rust_members,
            ),
            Row::new(
                "JS `fluid-client.mjs bench-members`: start to member list",
                &s.js_members,
            ),
            Row::new("Rust: start to process exit", &s.rust_exit),
            Row::new("JS: start to process exit", &s.js_exit),
            Row::new(
                "JS: of which `import()` of the Fluid packages (JS's own measure)",
                &s.js_module_load,
            ),
        ]
    }

    fn join_rows(&self) -> [Row; 6] {
        let j = self.joins;
        [
            Row::new(
                "Rust watcher `audience watch --json` (read mode): from the joiner's connected line",
                &j.rust,
            ),
            Row::new(
                "JS watcher `fluid-client.mjs watch`: from the joiner's connected line",
                &j.js,
            ),
            Row::new("Rust watcher: from the joiner's spawn", &j.rust_from_spawn),
            Row::new("JS watcher: from the joiner's spawn", &j.js_from_spawn),
            Row::new(
                "JS line minus Rust line, same join (> 0: Rust first)",
                &j.js_minus_rust,
            ),
            Row::new(
                "context: joiner spawn to its own connected line",
                &j.joiner_connect,
            ),
        ]
    }

    fn derived(&self) -> Derived {
        let median = |samples: &[f64]| Summary::of(samples).map(|s| s.median);
        let over = |a: &[f64], b: &[f64]| ratio(median(a)?, median(b)?);
        let j = self.joins;
        Derived {
            startup_members: over(&self.startup.js_members, &self.startup.rust_members),
            startup_exit: over(&self.startup.js_exit, &self.startup.rust_exit),
            join: over(&j.rust, &j.js),
            join_from_spawn: over(&j.rust_from_spawn, &j.js_from_spawn),
            rust_first: j.js_minus_rust.iter().filter(|d| **d > 0.0).count(),
            js_first: j.js_minus_rust.iter().filter(|d| **d < 0.0).count(),
            ties: j.js_minus_rust.iter().filter(|d| **d == 0.0).count(),
        }
    }

    fn join_verdict(&self) -> &'static str {
        let median = |samples: &[f64]| Summary::of(samples).map(|s| s.median);
        match (median(&self.joins.rust), median(&self.joins.js)) {
            (Some(rust), Some(js)) if rust <= js => "met (the Rust median is not above the JS one)",
            (Some(_), Some(_)) => "NOT met (the Rust median is above the JS one)",
            _ => "no data",
        }
    }

    /// The tables for the terminal.
    pub fn terminal(&self) -> String {
        let d = self.derived();
        let mut out = String::new();
        let runs = self.startup.rust_members.len();
        out.push_str(&text_table(
            &format!("(a) process start to first complete member list, runs per tool: {runs} (ms)"),
            &self.startup_rows(),
            1,
        ));
        let _ = writeln!(
            out,
            "  ratio JS/Rust of the medians: member list {}, process exit {}",
            times(d.startup_members),
            times(d.startup_exit)
        );
        let joins = self.joins.rust.len();
        out.push_str(&text_table(
            &format!("(b) join to the watcher's added line, joins: {joins} (ms)"),
            &self.join_rows(),
            2,
        ));
        let _ = writeln!(
            out,
            "  ratio Rust/JS of the medians: {} from the joiner's connected line, {} from its spawn; Rust first in {} of {joins} joins, JS first in {}, ties {}",
            plain_ratio(d.join),
            plain_ratio(d.join_from_spawn),
            d.rust_first,
            d.js_first,
            d.ties
        );
        out
    }

    /// The whole of `docs/BENCHMARKS.md`.
    pub fn markdown(&self) -> String {
        let d = self.derived();
        let env = self.env;
        let runs = self.startup.rust_members.len();
        let joins = self.joins.rust.len();
        let mut md = String::new();
        let _ = writeln!(
            md,
            "# Benchmarks: Rust `audience` versus the Fluid JS client\n"
        );
        let _ = writeln!(
            md,
            "> Generated by `{}` on {}. Do not edit by hand: run `cargo xtask bench` again to \
             regenerate this file (a few minutes; needs Node.js 20+ and the npm packages of \
             `interop/`, installed by the command itself). `cargo xtask bench --quick` is a smoke \
             test that writes to `target/bench/BENCHMARKS-quick.md` instead.\n",
            self.command, env.date
        );
        if self.quick {
            let _ = writeln!(
                md,
                "**Quick smoke run: too few samples to be read as results.**\n"
            );
        }

        let _ = writeln!(md, "## Setup\n");
        let _ = writeln!(md, "- Command: `{}`", self.command);
        let _ = writeln!(md, "- Date: {}", env.date);
        let _ = writeln!(
            md,
            "- Machine: {} ({} CPUs by `nproc`, {}); load average {} when the measurements started",
            env.uname, env.nproc, env.cpu, env.load
        );
        let packages: Vec<String> = env
            .packages
            .iter()
            .map(|(name, version)| format!("{name} {version}"))
            .collect();
        let _ = writeln!(
            md,
            "- Versions: {} (release build of {}), Node.js {}, {}",
            env.cli,
            env.rustc,
            env.node,
            packages.join(", ")
        );
        let _ = writeln!(md, "- Commit: {}", env.commit);
        let _ = writeln!(
            md,
            "- Server: one Tinylicious started by the command on a free 127.0.0.1 port (in-memory \
             database, fresh storage), shared by every measurement below and stopped at the end. \
             One container, created by a JS client; two JS users (`bench-a`, `bench-b`) stay \
             connected to it throughout.\n"
        );

        let _ = writeln!(
            md,
            "## (a) Process start to the first complete member list\n"
        );
        let _ = writeln!(
            md,
            "Each run starts one process that connects to the container, prints its member list \
             once and exits: `target/release/audience members <id> --json` (Rust) or \
             `node interop/fluid-client.mjs bench-members <id>` (JS: loads the container, waits \
             until connected, prints `getMembers()`). Both connect as user `bench`. The clock \
             starts just before the spawn; \"member list\" is when xtask reads the member line on \
             the process's stdout (the CLI's only line; JS's `{{\"event\":\"members\",\"why\":\"bench\"}}` \
             line), \"exit\" is when both of its pipes have closed. Both tools must print the same \
             user ids ({}) in every run, or the benchmark fails. {runs} runs of each tool, \
             alternating (the order swaps every round), after one untimed warm-up run each.\n",
            self.startup
                .users
                .iter()
                .map(|u| format!("`{u}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        md.push_str(&markdown_table(&self.startup_rows(), 1));
        let _ = writeln!(
            md,
            "\nRatio JS/Rust of the medians: **{}** to the member list, **{}** to process exit. \
             Aim (Rust at least {STARTUP_TARGET:.0}x faster to the member list): **{}**.\n",
            times(d.startup_members),
            times(d.startup_exit),
            match d.startup_members {
                Some(r) if r >= STARTUP_TARGET => "met",
                Some(_) => "NOT met",
                None => "no data",
            }
        );

        let _ = writeln!(
            md,
            "## (b) From a client's join to the watcher's added event\n"
        );
        let _ = writeln!(
            md,
            "A Rust watcher (`audience watch <id> --json`, read mode) and a JS watcher \
             (`fluid-client.mjs watch <id>`) stay connected and observe the same joins. A joiner \
             (`audience join <id> --user bench-join-<k> --for 500ms`) joins {joins} times, one at a \
             time, after one untimed warm-up join; the next join starts once both watchers have \
             also seen it leave. The join instant is when xtask reads the joiner's own status \
             line (`joined ... on connection <client id>`, printed once the joiner has seen its \
             own join come back from the service); each watcher's time is when xtask reads its \
             added line for that client id (`member_added` / `memberAdded`). All lines are \
             time-stamped the same way, by xtask on one clock. A negative latency means the \
             watcher's line was read before the joiner's: the service can tell the other clients \
             about a join before the joiner itself counts as connected. As that anchor can be \
             negative (and a ratio of such medians means nothing), the table also measures from \
             the joiner's spawn, which adds the same joiner start-up time to both watchers.\n"
        );
        md.push_str(&markdown_table(&self.join_rows(), 2));
        let _ = writeln!(
            md,
            "\nRatio Rust/JS of the median latencies: **{}** from the joiner's connected line, \
             **{}** from the joiner's spawn. Rust's line came first in {} of {joins} joins, JS's \
             in {}, ties {}. Aim (Rust not slower): **{}**.\n",
            plain_ratio(d.join),
            plain_ratio(d.join_from_spawn),
            d.rust_first,
            d.js_first,
            d.ties,
            self.join_verdict()
        );

        let _ = writeln!(md, "## Core micro-benchmarks (criterion)\n");
        match self.criterion {
            Some(estimates) if !estimates.is_empty() => {
                let _ = writeln!(
                    md,
                    "`cargo bench -p audience-core{}`, median time per iteration (full \
                     reports in `target/criterion/`).\n",
                    if self.quick {
                        " --bench '*' -- --quick"
                    } else {
                        ""
                    }
                );
                let _ = writeln!(md, "| benchmark | median per iteration | throughput |");
                let _ = writeln!(md, "|---|---:|---:|");
                for estimate in estimates {
                    let throughput = estimate.elements_per_second().map_or_else(
                        || "".to_owned(),
                        |rate| format!("{:.2} M elements/s", rate / 1e6),
                    );
                    let _ = writeln!(
                        md,
                        "| `{}` | {} | {throughput} |",
                        estimate.id,
                        format_ns(estimate.median_ns)
                    );
                }
                md.push('\n');
            }
            Some(_) => {
                let _ = writeln!(
                    md,
                    "The criterion step ran but no fresh estimates were found.\n"
                );
            }
            None => {
                let _ = writeln!(md, "Not run this time (`--no-criterion`).\n");
            }
        }

        let _ = writeln!(md, "## Reading these numbers\n");
        let _ = writeln!(
            md,
            "- (a) measures what a user of each tool waits for: process start, runtime and \
             library loading, REST and socket connection, the own join coming back. The JS \
             process spends most of it loading modules (row \"of which `import()`\"), before any \
             network traffic.\n\
             - The exit times differ by design, not speed: `audience members` leaves the \
             container *before* printing (its line comes after the leave), while \
             `bench-members` prints first, then leaves and waits 300 ms (its leave grace) before \
             exiting.\n\
             - Every process shares the same CPUs with Tinylicious, the two staying JS users \
             and, in (b), the other watcher and the joiner. Times include the pipe to xtask and \
             the scheduling of its reader threads, the same for both tools.\n\
             - In (b) both watchers are told of the join by the same server at the same time; \
             what differs is the client-side work between the socket and the printed line, and \
             its scheduling. The row \"JS line minus Rust line\" compares the two on each join \
             directly, without any anchor.\n\
             - Raw samples (ms, in run order) follow, to recompute anything above.\n"
        );
        let _ = writeln!(md, "## Raw samples (ms)\n");
        let raw: [(&str, &[f64]); 11] = [
            ("(a) Rust, start to member list", &self.startup.rust_members),
            ("(a) JS, start to member list", &self.startup.js_members),
            ("(a) Rust, start to exit", &self.startup.rust_exit),
            ("(a) JS, start to exit", &self.startup.js_exit),
            ("(a) JS, module loading", &self.startup.js_module_load),
            ("(b) Rust watcher", &self.joins.rust),
            ("(b) JS watcher", &self.joins.js),
            ("(b) Rust watcher from spawn", &self.joins.rust_from_spawn),
            ("(b) JS watcher from spawn", &self.joins.js_from_spawn),
            ("(b) JS minus Rust", &self.joins.js_minus_rust),
            ("(b) joiner connect", &self.joins.joiner_connect),
        ];
        for (label, samples) in raw {
            let values: Vec<String> = samples.iter().map(|v| format!("{v:.2}")).collect();
            let _ = writeln!(md, "- {label}: {}", values.join(", "));
        }
        md
    }
}

fn text_table(title: &str, rows: &[Row], decimals: usize) -> String {
    let width = rows.iter().map(|r| r.label.len()).max().unwrap_or(0);
    let mut out = format!("{title}\n");
    let _ = writeln!(
        out,
        "  {:width$}  {:>9}  {:>9}  {:>9}",
        "", "min", "median", "max"
    );
    for row in rows {
        match row.summary {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "  {:width$}  {:>9.decimals$}  {:>9.decimals$}  {:>9.decimals$}",
                    row.label, s.min, s.median, s.max
                );
            }
            None => {
                let _ = writeln!(out, "  {:width$}  {:>9}", row.label, "no data");
            }
        }
    }
    out
}

fn markdown_table(rows: &[Row], decimals: usize) -> String {
    let mut out = String::from("| ms | min | median | max | n |\n|---|---:|---:|---:|---:|\n");
    for row in rows {
        match row.summary {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "| {} | {:.decimals$} | {:.decimals$} | {:.decimals$} | {} |",
                    row.label, s.min, s.median, s.max, s.count
                );
            }
            None => {
                let _ = writeln!(out, "| {} | | | | 0 |", row.label);
            }
        }
    }
    out
}

/// `142.3x` (or "n/a").
fn times(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.1}x"))
}

/// `0.62` (or "n/a, a median is not positive").
fn plain_ratio(ratio: Option<f64>) -> String {
    ratio.map_or_else(
        || "n/a (a median is not positive)".to_owned(),
        |r| format!("{r:.2}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment {
        Environment {
            date: "2026-12-03 18:30 UTC".into(),
            nproc: "2".into(),
            uname: "Linux 6.1".into(),
            cpu: "Test CPU".into(),
            load: "0.10 0.20 0.30".into(),
            node: "v20.20.2".into(),
            rustc: "rustc 1.90.0".into(),
            cli: "audience 0.1.0".into(),
            packages: vec![("tinylicious", "7.0.1".into())],
            commit: "abc1234".into(),
        }
    }

    fn startup() -> StartupResults {
        StartupResults {
            rust_members: vec![10.0, 12.0, 11.0],
            rust_exit: vec![11.0, 13.0, 12.0],
            js_members: vec![1500.0, 1700.0, 1600.0],
            js_exit: vec![1800.0, 2000.0, 1900.0],
            js_module_load: vec![1200.0, 1300.0, 1250.0],
            users: ["bench", "bench-a"].map(String::from).into(),
        }
    }

    fn joins() -> JoinResults {
        JoinResults {
            rust: vec![0.5, 1.0, 1.5],
            js: vec![2.0, 4.0, 3.0],
            rust_from_spawn: vec![12.5, 15.0, 14.5],
            js_from_spawn: vec![14.0, 18.0, 16.0],
            js_minus_rust: vec![1.5, 3.0, -0.5],
            joiner_connect: vec![12.0, 14.0, 13.0],
        }
    }

    #[test]
    fn ratios_and_verdicts_come_from_the_medians() {
        let (env, startup, joins) = (env(), startup(), joins());
        let report = Report {
            env: &env,
            command: "cargo xtask bench",
            quick: false,
            startup: &startup,
            joins: &joins,
            criterion: None,
        };
        let md = report.markdown();
        // 1600 / 11 and 1900 / 12.
        assert!(
            md.contains("**145.5x** to the member list, **158.3x** to process exit"),
            "{md}"
        );
        assert!(md.contains("Aim (Rust at least 10x faster to the member list): **met**"));
        // 1.0 / 3.0, and 14.5 / 16.0.
        assert!(
            md.contains("Ratio Rust/JS of the median latencies: **0.33** from the joiner's connected line, **0.91** from the joiner's spawn"),
            "{md}"
        );
        assert!(md.contains("Rust's line came first in 2 of 3 joins, JS's in 1, ties 0"));
        assert!(md.contains("Aim (Rust not slower): **met"));
        assert!(md.contains(
            "| Rust `audience members --json`: start to member list | 10.0 | 11.0 | 12.0 | 3 |"
        ));
        assert!(md.contains("Both connect as user `bench`"));
        assert!(md.contains("user ids (`bench`, `bench-a`)"));
        assert!(md.contains("Not run this time (`--no-criterion`)."));
        assert!(md.contains("- (b) JS minus Rust: 1.50, 3.00, -0.50"));
        assert!(md.starts_with("# Benchmarks"));
        assert!(md.contains("run `cargo xtask bench` again to regenerate this file"));
        assert!(!md.contains("Quick smoke run"));

        let text = report.terminal();
        assert!(
            text.contains("member list 145.5x, process exit 158.3x"),
            "{text}"
        );
        assert!(text.contains("Rust first in 2 of 3 joins"), "{text}");
    }

    #[test]
    fn a_slower_or_unmeasurable_side_is_reported_as_such() {
        let (env, mut startup, mut joins) = (env(), startup(), joins());
        startup.js_members = vec![50.0];
        joins.rust = vec![-1.0, -2.0, -0.5];
        joins.js = vec![0.1, 0.2, 0.3];
        let criterion = vec![Estimate {
            id: "snapshot/get_members/100".into(),
            median_ns: 34_305.0,
            elements: None,
        }];
        let report = Report {
            env: &env,
            command: "cargo xtask bench --quick",
            quick: true,
            startup: &startup,
            joins: &joins,
            criterion: Some(&criterion),
        };
        let md = report.markdown();
        assert!(
            md.contains("Aim (Rust at least 10x faster to the member list): **NOT met**"),
            "{md}"
        );
        assert!(md.contains("n/a (a median is not positive)"), "{md}");
        // A negative Rust latency is still "not slower".
        assert!(md.contains("Aim (Rust not slower): **met"), "{md}");
        assert!(
            md.contains("| `snapshot/get_members/100` | 34.3 µs |  |"),
            "{md}"
        );
        assert!(md.contains("Quick smoke run"));

        let slower = JoinResults {
            rust: vec![5.0],
            js: vec![1.0],
            ..joins.clone()
        };
        let report = Report {
            joins: &slower,
            ..report
        };
        assert!(
            report
                .markdown()
                .contains("Aim (Rust not slower): **NOT met")
        );
    }
}
