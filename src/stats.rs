//! copylab's statistics, in one place: one median rule, one percentile rule.
//!
//! The median of an even number of values is the mean of the two middle ones (for integers,
//! rounded down without overflow), so a method's median wall time and median throughput come
//! from the same pair of runs; an odd number gives the middle value itself. Percentiles (serve's
//! p5 and p95) are nearest-rank: always one of the values.

/// Median of a non-empty list (the mean of the middle pair for an even length); 0 for none.
pub fn median_u64(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        0
    } else if !n.is_multiple_of(2) {
        v[n / 2]
    } else {
        v[n / 2 - 1] / 2 + v[n / 2] / 2 + (v[n / 2 - 1] % 2 + v[n / 2] % 2) / 2
    }
}

/// Median of a list, or None when it is empty.
pub fn median_of(mut v: Vec<u64>) -> Option<u64> {
    (!v.is_empty()).then(|| median_u64(&mut v))
}

/// Median of floats by the same rule (the mean of the middle pair for an even length).
pub fn median_f64(v: Vec<f64>) -> Option<f64> {
    (!v.is_empty()).then(|| pick_f64(v, median_u64))
}

/// Apply a u64 `pick` (median, min or max) to floats through their ranks, so the result is one
/// of the values, or the mean of the two middle ones, never rounded.
pub fn pick_f64(mut v: Vec<f64>, pick: fn(&mut [u64]) -> u64) -> f64 {
    v.sort_by(f64::total_cmp);
    // Ranks doubled (0, 2, 4, …): an odd pick is the mean of two neighbours.
    let mut ranks: Vec<u64> = (0..v.len() as u64).map(|i| 2 * i).collect();
    let r = pick(&mut ranks) as usize;
    if r.is_multiple_of(2) {
        v[r / 2]
    } else {
        (v[r / 2] + v[r / 2 + 1]) / 2.0
    }
}

/// Nearest-rank percentile of a sorted list; 0 for an empty one.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_lists() {
        assert_eq!(median_u64(&mut [5, 1, 3]), 3);
        assert_eq!(median_u64(&mut [4, 1, 3, 2]), 2);
        assert_eq!(median_u64(&mut [4, 1, 3, 1]), 2);
        assert_eq!(median_u64(&mut [u64::MAX, u64::MAX]), u64::MAX);
        assert_eq!(median_of(vec![]), None);
        assert_eq!(median_f64(vec![1.0, 2.0, 4.0, 8.0]), Some(3.0));
    }

    #[test]
    fn float_picks_are_exact_values() {
        let v = vec![66.735189, 1.5, 3.25];
        assert_eq!(pick_f64(v.clone(), median_u64), 3.25);
        assert_eq!(pick_f64(vec![66.735189], median_u64), 66.735189);
        assert_eq!(pick_f64(vec![1.0, 2.0, 4.0, 8.0], median_u64), 3.0);
        assert_eq!(pick_f64(v.clone(), |r| *r.iter().min().unwrap()), 1.5);
        assert_eq!(pick_f64(v, |r| *r.iter().max().unwrap()), 66.735189);
        assert_eq!(median_u64(&mut [7]), 7);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(percentile(&v, 50.0), 5.0);
        assert_eq!(percentile(&v, 95.0), 10.0);
        assert_eq!(percentile(&v, 5.0), 1.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
