//! Min / median / max of a set of timings, and ratios between two such sets.

use std::time::Duration;

/// Summary of samples in milliseconds (signed: a latency measured between two processes can
/// come out slightly negative when the watcher's line is read before the joiner's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Smallest sample.
    pub min: f64,
    /// Median (mean of the two middle samples for an even count).
    pub median: f64,
    /// Largest sample.
    pub max: f64,
    /// Number of samples.
    pub count: usize,
}

impl Summary {
    /// `None` for no samples (or a NaN among them).
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.iter().any(|s| s.is_nan()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let count = sorted.len();
        let min = *sorted.first()?;
        let max = *sorted.last()?;
        let middle = count / 2;
        let median = if count % 2 == 1 {
            *sorted.get(middle)?
        } else {
            (sorted.get(middle - 1)? + sorted.get(middle)?) / 2.0
        };
        Some(Summary {
            min,
            median,
            max,
            count,
        })
    }
}

/// Milliseconds of a duration, as a float.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Signed milliseconds from `from` to `to`.
pub fn signed_ms(from: std::time::Instant, to: std::time::Instant) -> f64 {
    match to.checked_duration_since(from) {
        Some(forward) => ms(forward),
        None => -ms(from.duration_since(to)),
    }
}

/// `a / b`, or `None` unless both are positive (a ratio of a negative latency means nothing).
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (a > 0.0 && b > 0.0).then(|| a / b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn odd_and_even_counts() {
        assert_eq!(
            Summary::of(&[30.0, 10.0, 20.0]),
            Some(Summary {
                min: 10.0,
                median: 20.0,
                max: 30.0,
                count: 3
            })
        );
        assert_eq!(
            Summary::of(&[4.0, -1.0, 3.0, 1.0]),
            Some(Summary {
                min: -1.0,
                median: 2.0,
                max: 4.0,
                count: 4
            })
        );
        assert_eq!(Summary::of(&[7.5]).map(|s| s.median), Some(7.5));
    }

    #[test]
    fn nothing_to_summarise() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn signed_milliseconds_both_ways() {
        let earlier = Instant::now();
        let later = earlier + Duration::from_micros(2500);
        assert_eq!(signed_ms(earlier, later), 2.5);
        assert_eq!(signed_ms(later, earlier), -2.5);
    }

    #[test]
    fn ratios_need_positive_operands() {
        assert_eq!(ratio(10.0, 4.0), Some(2.5));
        assert_eq!(ratio(-1.0, 4.0), None);
        assert_eq!(ratio(1.0, 0.0), None);
    }
}
