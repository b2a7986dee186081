//! The results of the criterion micro-benchmarks (`cargo bench -p audience-core`), read back from
//! `target/criterion/<id>/new/{benchmark,estimates}.json` for the report.

use std::path::Path;
use std::time::SystemTime;

use serde_json::Value;

/// One benchmark's estimate per iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Full id, e.g. `snapshot/get_members/2000`.
    pub id: String,
    /// Median time per iteration, nanoseconds.
    pub median_ns: f64,
    /// Elements per iteration, when the benchmark declared a throughput.
    pub elements: Option<u64>,
}

impl Estimate {
    /// Elements per second at the median, if the benchmark has a throughput.
    pub fn elements_per_second(&self) -> Option<f64> {
        let elements = self.elements?;
        (self.median_ns > 0.0).then(|| elements as f64 / (self.median_ns / 1e9))
    }
}

/// The estimates written since `since` under `criterion_dir`, sorted by id (older results of
/// benchmarks that no longer exist are left out).
pub fn collect(criterion_dir: &Path, since: SystemTime) -> Vec<Estimate> {
    let mut found = Vec::new();
    let mut pending = vec![criterion_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|name| name == "new") {
                if let Some(estimate) = read(&path, since) {
                    found.push(estimate);
                }
            } else {
                pending.push(path);
            }
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found
}

fn read(new_dir: &Path, since: SystemTime) -> Option<Estimate> {
    let estimates_path = new_dir.join("estimates.json");
    let modified = std::fs::metadata(&estimates_path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let benchmark = std::fs::read_to_string(new_dir.join("benchmark.json")).ok()?;
    let estimates = std::fs::read_to_string(estimates_path).ok()?;
    parse(&benchmark, &estimates)
}

/// One estimate from the text of `benchmark.json` and `estimates.json`.
fn parse(benchmark: &str, estimates: &str) -> Option<Estimate> {
    let benchmark: Value = serde_json::from_str(benchmark).ok()?;
    let estimates: Value = serde_json::from_str(estimates).ok()?;
    Some(Estimate {
        id: benchmark.get("full_id")?.as_str()?.to_owned(),
        median_ns: estimates.get("median")?.get("point_estimate")?.as_f64()?,
        elements: benchmark
            .get("throughput")
            .and_then(|throughput| throughput.get("Elements"))
            .and_then(Value::as_u64),
    })
}

/// `812 ns`, `34.3 µs`, `7.25 ms`, `1.20 s`.
pub fn format_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BENCHMARK: &str = r#"{"group_id":"core","function_id":"100k changes, snapshot after each","value_str":null,"throughput":{"Elements":100000},"full_id":"core/100k changes, snapshot after each"}"#;
    const ESTIMATES: &str = r#"{"mean":{"point_estimate":34.3},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":32.1,"upper_bound":33.3},"point_estimate":20000000.0}}"#;

    #[test]
    fn reads_the_median_and_the_throughput() {
        let estimate = parse(BENCHMARK, ESTIMATES).unwrap();
        assert_eq!(estimate.id, "core/100k changes, snapshot after each");
        assert_eq!(estimate.median_ns, 20_000_000.0);
        assert_eq!(estimate.elements, Some(100_000));
        // 100k elements in 20 ms.
        assert_eq!(estimate.elements_per_second(), Some(5_000_000.0));
        let plain = parse(
            r#"{"full_id":"snapshot/get_members/100","throughput":null}"#,
            ESTIMATES,
        )
        .unwrap();
        assert_eq!(plain.elements, None);
        assert_eq!(plain.elements_per_second(), None);
        assert_eq!(parse("{}", ESTIMATES), None);
    }

    #[test]
    fn finds_fresh_results_only() {
        let root = std::env::temp_dir().join(format!("xtask-criterion-{}", std::process::id()));
        let new_dir = root.join("core").join("x").join("new");
        std::fs::create_dir_all(&new_dir).unwrap();
        std::fs::create_dir_all(root.join("core").join("x").join("base")).unwrap();
        std::fs::write(new_dir.join("benchmark.json"), BENCHMARK).unwrap();
        std::fs::write(new_dir.join("estimates.json"), ESTIMATES).unwrap();
        let before = SystemTime::UNIX_EPOCH;
        let ids: Vec<String> = collect(&root, before).into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["core/100k changes, snapshot after each"]);
        let later = SystemTime::now() + std::time::Duration::from_secs(3600);
        assert!(collect(&root, later).is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_ns(812.4), "812 ns");
        assert_eq!(format_ns(34_305.7), "34.3 µs");
        assert_eq!(format_ns(7_250_000.0), "7.25 ms");
        assert_eq!(format_ns(1_200_000_000.0), "1.20 s");
    }
}
