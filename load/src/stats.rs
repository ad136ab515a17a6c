//! Statistics: a fixed-size millisecond histogram (bounded memory per call,
//! mergeable across calls) and percentiles of small samples.

/// Histogram of millisecond values in 1 ms bins over `0..=max`; larger
/// values fall into the last bin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    bins: Vec<u32>,
    count: u64,
}

impl Histogram {
    /// Bins for `0..=max_ms`.
    pub fn new(max_ms: usize) -> Self {
        Self {
            bins: vec![0; max_ms + 1],
            count: 0,
        }
    }

    /// Adds one value in ms (negative values count as 0).
    pub fn add(&mut self, ms: f64) {
        let last = self.bins.len() - 1;
        let i = if ms.is_finite() && ms > 0.0 {
            (ms.round() as usize).min(last)
        } else {
            0
        };
        self.bins[i] += 1;
        self.count += 1;
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds `other`'s values shifted down by `shift_ms` bins (values below 0 land in bin 0).
    pub fn merge_shifted(&mut self, other: &Histogram, shift_ms: usize) {
        let last = self.bins.len() - 1;
        for (i, &n) in other.bins.iter().enumerate() {
            if n > 0 {
                self.bins[i.saturating_sub(shift_ms).min(last)] += n;
            }
        }
        self.count += other.count;
    }

    /// Smallest non-empty bin, ms.
    pub fn min(&self) -> Option<usize> {
        self.bins.iter().position(|&n| n > 0)
    }

    /// The `p`-th percentile (0..=100) in ms: the smallest bin at or below
    /// which at least p % of the values lie. `None` when empty.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let want = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, &n) in self.bins.iter().enumerate() {
            seen += u64::from(n);
            if seen >= want {
                return Some(i as f64);
            }
        }
        Some((self.bins.len() - 1) as f64)
    }
}

/// The `p`-th percentile (nearest rank) of `values`; `None` when empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v.get(rank.min(v.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&[3.0], 99.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn histogram_percentiles_clamp_and_merge() {
        let mut h = Histogram::new(100);
        for ms in 1..=100 {
            h.add(f64::from(ms));
        }
        assert_eq!(h.percentile(50.0), Some(50.0));
        assert_eq!(h.percentile(99.0), Some(99.0));
        h.add(5000.0);
        h.add(-3.0);
        assert_eq!(h.count(), 102);
        assert_eq!(h.percentile(100.0), Some(100.0));
        assert_eq!(h.min(), Some(0));

        let mut a = Histogram::new(100);
        a.add(40.0);
        a.add(45.0);
        let mut sum = Histogram::new(100);
        sum.merge_shifted(&a, 40);
        assert_eq!(sum.percentile(50.0), Some(0.0));
        assert_eq!(sum.percentile(100.0), Some(5.0));
        assert_eq!(Histogram::new(10).percentile(50.0), None);
    }
}
