//! Where and with what the benchmark ran: machine, versions, date, commit.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::paths::Paths;

/// The npm packages whose versions the report names, in `interop/node_modules`.
const PACKAGES: [&str; 3] = [
    "tinylicious",
    "@fluidframework/tinylicious-client",
    "fluid-framework",
];
const UNKNOWN: &str = "unknown";

/// Facts about the run, each "unknown" when it cannot be found out.
#[derive(Debug, Clone)]
pub struct Environment {
    /// `2026-12-03 18:30 UTC`.
    pub date: String,
    /// `nproc`.
    pub nproc: String,
    /// `uname -sr`.
    pub uname: String,
    /// CPU model from /proc/cpuinfo.
    pub cpu: String,
    /// The 1/5/15-minute load averages when the measurements started.
    pub load: String,
    /// `node --version`.
    pub node: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `audience --version` of the release build.
    pub cli: String,
    /// Installed versions of [`PACKAGES`].
    pub packages: Vec<(&'static str, String)>,
    /// `git rev-parse --short HEAD`, marked when the working tree has uncommitted changes.
    pub commit: String,
}

impl Environment {
    /// Looks everything up now.
    pub fn collect(paths: &Paths, cli: &Path) -> Self {
        let dirty = output(
            "git",
            &["status", "--porcelain", "--untracked-files=no"],
            &paths.root,
        )
        .is_some_and(|changes| !changes.is_empty());
        let commit = output("git", &["rev-parse", "--short", "HEAD"], &paths.root)
            .map(|hash| {
                if dirty {
                    format!("{hash} (with uncommitted changes)")
                } else {
                    hash
                }
            })
            .unwrap_or_else(|| UNKNOWN.to_owned());
        let nproc = output("nproc", &[], &paths.root).or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .map(|n| n.to_string())
        });
        Environment {
            date: utc_minutes(SystemTime::now()),
            nproc: known(nproc),
            uname: known(output("uname", &["-sr"], &paths.root)),
            cpu: known(
                std::fs::read_to_string("/proc/cpuinfo")
                    .ok()
                    .and_then(|info| cpu_model(&info)),
            ),
            load: known(std::fs::read_to_string("/proc/loadavg").ok().map(|load| {
                load.split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            })),
            node: known(output("node", &["--version"], &paths.root)),
            rustc: known(output("rustc", &["--version"], &paths.root)),
            cli: known(
                cli.to_str()
                    .and_then(|cli| output(cli, &["--version"], &paths.root)),
            ),
            packages: PACKAGES
                .iter()
                .map(|name| (*name, known(package_version(&paths.interop, name))))
                .collect(),
            commit,
        }
    }
}

fn known(value: Option<String>) -> String {
    value
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| UNKNOWN.to_owned())
}

/// Trimmed stdout of a successful command.
fn output(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `version` of `interop/node_modules/<name>/package.json`.
fn package_version(interop: &Path, name: &str) -> Option<String> {
    let manifest = interop.join("node_modules").join(name).join("package.json");
    let text = std::fs::read_to_string(manifest).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value.get("version")?.as_str().map(str::to_owned)
}

/// The first `model name` of /proc/cpuinfo.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// `YYYY-MM-DD HH:MM UTC`.
pub fn utc_minutes(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();
    let days = i64::try_from(seconds / 86_400).unwrap_or_default();
    let (year, month, day) = civil_from_days(days);
    let minute_of_day = (seconds % 86_400) / 60;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minute_of_day / 60,
        minute_of_day % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or_default(),
        u32::try_from(day).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_in_utc() {
        assert_eq!(utc_minutes(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        // 2000-02-29 12:34:56 UTC (a leap day in a century leap year).
        let leap = UNIX_EPOCH + Duration::from_secs(951_827_696);
        assert_eq!(utc_minutes(leap), "2000-02-29 12:34 UTC");
        // 2026-12-31 23:59:59 UTC.
        let new_year_eve = UNIX_EPOCH + Duration::from_secs(1_798_761_599);
        assert_eq!(utc_minutes(new_year_eve), "2026-12-31 23:59 UTC");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn cpu_model_is_the_first_model_name() {
        let info = "processor\t: 0\nvendor_id\t: X\nmodel name\t: Some CPU @ 2.0GHz\n\nprocessor\t: 1\nmodel name\t: Other\n";
        assert_eq!(cpu_model(info), Some("Some CPU @ 2.0GHz".to_owned()));
        assert_eq!(cpu_model("processor: 0\n"), None);
    }

    #[test]
    fn package_versions_come_from_node_modules() {
        let dir = std::env::temp_dir().join(format!("xtask-pkg-test-{}", std::process::id()));
        let package = dir.join("node_modules").join("@scope").join("pkg");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(
            package.join("package.json"),
            r#"{"name":"@scope/pkg","version":"2.112.0"}"#,
        )
        .unwrap();
        assert_eq!(
            package_version(&dir, "@scope/pkg"),
            Some("2.112.0".to_owned())
        );
        assert_eq!(package_version(&dir, "missing"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
